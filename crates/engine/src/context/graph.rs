//! The configuration graph: locals, resources, outputs and provider configurations, joined by
//! the references in their expressions (and `depends_on`). Undeclared references and cycles are
//! reported here, before anything is evaluated.

use std::collections::{BTreeMap, BTreeSet};

use vitrina_diagnostics::{Diagnostic, Diagnostics, Span};
use vitrina_hcl as hcl;

use crate::addr::ResourceAddr;
use crate::config::{codes, reference_to_resource, Config, DependsOn};
use crate::graph::{Graph, NodeId};

/// What a graph node stands for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum NodeKind {
    Provider(String),
    Local(String),
    Resource(ResourceAddr),
    Output(String),
    /// A `check` block, evaluated once everything it reads is.
    Check(String),
}

impl std::fmt::Display for NodeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NodeKind::Provider(p) => write!(f, "provider.{p}"),
            NodeKind::Local(l) => write!(f, "local.{l}"),
            NodeKind::Resource(r) => write!(f, "{r}"),
            NodeKind::Output(o) => write!(f, "output.{o}"),
            NodeKind::Check(c) => write!(f, "check.{c}"),
        }
    }
}

/// The configuration's dependency graph.
#[derive(Debug, Clone)]
pub(crate) struct ConfigGraph {
    pub nodes: Vec<NodeKind>,
    pub index: BTreeMap<NodeKind, NodeId>,
    pub graph: Graph,
    /// For each resource, the resources it depends on directly (references and `depends_on`).
    pub resource_deps: BTreeMap<ResourceAddr, BTreeSet<ResourceAddr>>,
}

/// What a reference's root names.
pub(crate) enum Target {
    Var(String),
    Local(String),
    Resource(ResourceAddr),
    /// `count`, `each`, `path`, `terraform`, `self`: supplied per evaluation.
    Builtin,
    /// `module.NAME`: the outputs of a module call's instances (its path in the caller).
    Module(String),
    Undeclared,
}

/// The key of a local value in the flattened configuration: `name` in the root module,
/// `SCOPE.local.name` in module instance `SCOPE`.
pub(crate) fn local_key(scope: &str, name: &str) -> String {
    if scope.is_empty() {
        name.to_owned()
    } else {
        format!("{scope}.local.{name}")
    }
}

/// What a reference made in module instance `scope` names. In a module, `var.x` is the local
/// `SCOPE.var.x` (the module input), and resources are the module instance's.
pub(crate) fn classify_in(scope: &str, r: &hcl::Reference) -> Target {
    match r.root.as_str() {
        "var" if !scope.is_empty() => r.attr(0).map_or(Target::Undeclared, |n| {
            Target::Local(format!("{scope}.var.{n}"))
        }),
        "local" => r
            .attr(0)
            .map_or(Target::Undeclared, |n| Target::Local(local_key(scope, n))),
        "module" => r.attr(0).map_or(Target::Undeclared, |n| {
            Target::Module(if scope.is_empty() {
                format!("module.{n}")
            } else {
                format!("{scope}.module.{n}")
            })
        }),
        _ => match classify(r) {
            Target::Resource(a) if !scope.is_empty() => Target::Resource(a.in_module(scope)),
            t => t,
        },
    }
}

pub(crate) fn classify(r: &hcl::Reference) -> Target {
    match r.root.as_str() {
        "var" => r
            .attr(0)
            .map_or(Target::Undeclared, |n| Target::Var(n.to_owned())),
        "local" => r
            .attr(0)
            .map_or(Target::Undeclared, |n| Target::Local(n.to_owned())),
        "count" | "each" | "path" | "terraform" | "self" => Target::Builtin,
        _ => reference_to_resource(r).map_or(Target::Undeclared, Target::Resource),
    }
}

impl ConfigGraph {
    /// Builds the graph; undeclared references and cycles go to `diags`.
    pub fn build(config: &Config, diags: &mut Diagnostics) -> ConfigGraph {
        let mut nodes = Vec::new();
        for p in config.providers.keys() {
            nodes.push(NodeKind::Provider(p.clone()));
        }
        for l in config.locals.keys() {
            nodes.push(NodeKind::Local(l.clone()));
        }
        for r in config.resources.keys() {
            nodes.push(NodeKind::Resource(r.clone()));
        }
        for o in config.outputs.keys() {
            nodes.push(NodeKind::Output(o.clone()));
        }
        for c in config.checks.keys() {
            nodes.push(NodeKind::Check(c.clone()));
        }
        let index: BTreeMap<NodeKind, NodeId> = nodes
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, n)| (n, i))
            .collect();
        let mut graph = Graph::with_nodes(nodes.len());
        let mut resource_deps: BTreeMap<ResourceAddr, BTreeSet<ResourceAddr>> = BTreeMap::new();
        // Undeclared names: the one reference check shared with the `package` room.
        let decls = crate::static_check::declarations(config);

        let link = |from: NodeId,
                    scope: &str,
                    file: &str,
                    refs: &[hcl::Reference],
                    graph: &mut Graph,
                    diags: &mut Diagnostics|
         -> BTreeSet<ResourceAddr> {
            let mut deps = BTreeSet::new();
            // In the root module, undeclared names are found by the one reference check shared
            // with the `package` room; inside module instances, by the scoped lookups below.
            let in_module = !scope.is_empty();
            for r in refs {
                if !in_module {
                    if let Some(f) = decls.check(r, None) {
                        diags.push(crate::static_check::diagnostic(file, f));
                        continue;
                    }
                }
                let target = match classify_in(scope, r) {
                    Target::Var(name) => {
                        if in_module && !config.variables.contains_key(&name) {
                            diags.push(undeclared(
                                file,
                                r,
                                &format!("variable `{name}` is not declared"),
                                "declare it with a `variable` block",
                            ));
                        }
                        continue;
                    }
                    Target::Local(name) => {
                        let k = NodeKind::Local(name.clone());
                        match index.get(&k) {
                            Some(&n) => n,
                            None if !in_module => continue,
                            None => {
                                diags.push(undeclared(
                                    file,
                                    r,
                                    &format!("local value `{name}` is not declared"),
                                    "add it to a `locals` block",
                                ));
                                continue;
                            }
                        }
                    }
                    Target::Resource(addr) => match index.get(&NodeKind::Resource(addr.clone())) {
                        Some(&n) => {
                            deps.insert(addr);
                            n
                        }
                        None if !in_module => continue,
                        None => {
                            diags.push(undeclared(
                                file,
                                r,
                                &format!("`{addr}` is not declared"),
                                "declare the resource, or check the name",
                            ));
                            continue;
                        }
                    },
                    Target::Builtin => continue,
                    Target::Module(path) => {
                        match config.module_instances.get(&path) {
                            Some(mi) => {
                                for (_, prefix) in &mi.instances {
                                    for o in &mi.outputs {
                                        let k = NodeKind::Local(format!("{prefix}.output.{o}"));
                                        if let Some(&n) = index.get(&k) {
                                            graph.add_edge(from, n);
                                        }
                                    }
                                }
                            }
                            None if !in_module => {}
                            None => diags.push(undeclared(
                                file,
                                r,
                                &format!("`{path}` is not declared"),
                                "declare the module with a `module` block",
                            )),
                        }
                        continue;
                    }
                    Target::Undeclared if !in_module => continue,
                    Target::Undeclared => {
                        diags.push(undeclared(
                            file,
                            r,
                            &format!("unknown name `{}`", r.root),
                            "references start with `var.`, `local.`, `data.`, a resource type, `count.`, `each.` or `path.`",
                        ));
                        continue;
                    }
                };
                graph.add_edge(from, target);
            }
            deps
        };

        for (name, l) in &config.locals {
            let from = index[&NodeKind::Local(name.clone())];
            link(
                from,
                &l.scope,
                &l.span.file,
                &l.references,
                &mut graph,
                diags,
            );
        }
        for (addr, rc) in &config.resources {
            let from = index[&NodeKind::Resource(addr.clone())];
            let mut deps = link(
                from,
                &rc.addr.module,
                &rc.file,
                &rc.references,
                &mut graph,
                diags,
            );
            for d in &rc.depends_on {
                if let DependsOn::Resource(a) = d {
                    if let Some(&n) = index.get(&NodeKind::Resource(a.clone())) {
                        graph.add_edge(from, n);
                        deps.insert(a.clone());
                    }
                }
            }
            if let Some(&p) = index.get(&NodeKind::Provider(rc.provider.clone())) {
                graph.add_edge(from, p);
            }
            deps.remove(addr);
            resource_deps.insert(addr.clone(), deps);
        }
        for (name, o) in &config.outputs {
            let from = index[&NodeKind::Output(name.clone())];
            link(from, "", &o.span.file, &o.references, &mut graph, diags);
            for d in &o.depends_on {
                if let DependsOn::Resource(a) = d {
                    if let Some(&n) = index.get(&NodeKind::Resource(a.clone())) {
                        graph.add_edge(from, n);
                    }
                }
            }
        }
        for (name, c) in &config.checks {
            let from = index[&NodeKind::Check(name.clone())];
            link(from, "", &c.span.file, &c.references, &mut graph, diags);
        }
        for (addr, p) in &config.providers {
            let from = index[&NodeKind::Provider(addr.clone())];
            link(from, "", &p.span.file, &p.references, &mut graph, diags);
        }
        for cycle in graph.cycles() {
            let names: Vec<String> = cycle.iter().map(|&n| nodes[n].to_string()).collect();
            let first = cycle
                .first()
                .map(|&n| node_span(config, &nodes[n]))
                .unwrap_or_else(|| Span::file_start(""));
            let mut d = Diagnostic::error(
                codes::CYCLE,
                first,
                format!(
                    "cycle: {} → {}",
                    names.join(" → "),
                    names.first().cloned().unwrap_or_default()
                ),
            )
            .with_help("break the cycle: one of these must not refer to the next");
            for &n in cycle.iter().skip(1) {
                d = d.with_label(
                    node_span(config, &nodes[n]),
                    format!("`{}` is part of the cycle", nodes[n]),
                );
            }
            diags.push(d);
        }
        ConfigGraph {
            nodes,
            index,
            graph,
            resource_deps,
        }
    }
}

fn node_span(config: &Config, n: &NodeKind) -> Span {
    let span = match n {
        NodeKind::Provider(p) => config.providers.get(p).map(|x| x.span.clone()),
        NodeKind::Local(l) => config.locals.get(l).map(|x| x.span.clone()),
        NodeKind::Resource(r) => config.resources.get(r).map(|x| x.span.clone()),
        NodeKind::Output(o) => config.outputs.get(o).map(|x| x.span.clone()),
        NodeKind::Check(c) => config.checks.get(c).map(|x| x.span.clone()),
    };
    span.unwrap_or_else(|| Span::file_start(""))
}

fn undeclared(file: &str, r: &hcl::Reference, message: &str, help: &str) -> Diagnostic {
    Diagnostic::error(codes::UNDECLARED, Span::new(file, r.span.clone()), message).with_help(help)
}
