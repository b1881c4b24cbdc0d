//! `moved` blocks: before planning, objects recorded in the state at a `from` address are moved
//! to the `to` address, so a rename plans no change
//! (<https://developer.hashicorp.com/terraform/language/modules/develop/refactoring>). Blocks are
//! applied in source order, so chains (`a` → `b`, `b` → `c`) work. A `from` that the state does
//! not hold is ignored, as in Terraform; a `to` that already holds an object is left alone with a
//! warning.

use vitrina_diagnostics::{Diagnostic, Diagnostics};

use super::run_codes;
use crate::addr::InstanceKey;
use crate::config::{Config, MovedConfig};
use crate::state::{InstanceState, ResourceState, State};

/// One move carried out, for the plan's notes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    pub from: String,
    pub to: String,
}

/// Applies the configuration's `moved` blocks to `state`, then Terraform's implied moves: a
/// resource that gains `count` moves its single object to index `[0]`, and one that loses
/// `count` moves `[0]` back to no key ("Enabling count or for_each for a resource" on the
/// refactoring page; `for_each` keys need a `moved` block).
pub(crate) fn apply_moves(
    config: &Config,
    state: &mut State,
    warnings: &mut Diagnostics,
) -> Vec<Moved> {
    let mut done = Vec::new();
    for m in &config.moved {
        if m.from.is_module() {
            move_module(m, state, warnings, &mut done);
            continue;
        }
        match (&m.from.key, &m.to.key) {
            (None, None) => move_resource(m, state, warnings, &mut done),
            _ => move_instance(m, state, warnings, &mut done),
        }
    }
    for (addr, rc) in &config.resources {
        let Some(rs) = state.resources.get_mut(addr) else {
            continue;
        };
        let (from, to) = match (&rc.count, &rc.for_each) {
            (Some(_), None) => (InstanceKey::None, InstanceKey::Int(0)),
            (None, None) => (InstanceKey::Int(0), InstanceKey::None),
            _ => continue,
        };
        let live = |k: &InstanceKey| rs.instances.get(k).is_some_and(|i| !i.is_empty());
        if !live(&from) || live(&to) {
            continue;
        }
        if let Some(inst) = rs.instances.remove(&from) {
            rs.instances.insert(to.clone(), inst);
            done.push(Moved {
                from: addr.instance(from).to_string(),
                to: addr.instance(to).to_string(),
            });
        }
    }
    done
}

/// The module path `module` after moving module instance `from` to `to`, if it is inside
/// `from` (`module.a` holds `module.a`, `module.a["x"]` and `module.a.module.b`).
fn moved_module_path(module: &str, from: &str, to: &str) -> Option<String> {
    let rest = module.strip_prefix(from)?;
    let inside =
        rest.is_empty() || rest.starts_with('.') || (rest.starts_with('[') && !to.ends_with(']'));
    inside.then(|| format!("{to}{rest}"))
}

/// A whole module instance (or call) moves: every resource in it, and in its children.
fn move_module(
    m: &MovedConfig,
    state: &mut State,
    warnings: &mut Diagnostics,
    done: &mut Vec<Moved>,
) {
    let (from, to) = (&m.from.resource.module, &m.to.resource.module);
    let moving: Vec<(crate::addr::ResourceAddr, crate::addr::ResourceAddr)> = state
        .resources
        .keys()
        .filter_map(|a| {
            let module = moved_module_path(&a.module, from, to)?;
            Some((a.clone(), a.clone().in_module(module)))
        })
        .collect();
    if moving.is_empty() {
        return;
    }
    let taken = moving.iter().any(|(_, new)| {
        state
            .resources
            .get(new)
            .is_some_and(|r| !r.instances.values().all(InstanceState::is_empty))
    });
    if taken {
        occupied(m, warnings);
        return;
    }
    for (old, new) in &moving {
        if let Some(rs) = state.resources.remove(old) {
            for key in rs.instances.keys() {
                done.push(Moved {
                    from: old.instance(key.clone()).to_string(),
                    to: new.instance(key.clone()).to_string(),
                });
            }
            state.resources.insert(new.clone(), rs);
        }
    }
    for r in state.resources.values_mut() {
        for inst in r.instances.values_mut() {
            for o in inst.current.iter_mut().chain(inst.deposed.iter_mut()) {
                for d in &mut o.dependencies {
                    if let Some((_, new)) = moving.iter().find(|(old, _)| old == d) {
                        *d = new.clone();
                    }
                }
            }
        }
    }
}

fn occupied(m: &MovedConfig, warnings: &mut Diagnostics) {
    warnings.push(
        Diagnostic::warning(
            run_codes::MOVED,
            m.span.clone(),
            format!(
                "`moved` from `{}` to `{}` is not applied: `{}` already has an object in the state",
                m.from, m.to, m.to
            ),
        )
        .with_help("remove the `moved` block once the move is done"),
    );
}

fn move_resource(
    m: &MovedConfig,
    state: &mut State,
    warnings: &mut Diagnostics,
    done: &mut Vec<Moved>,
) {
    let Some(rs) = state.resources.get(&m.from.resource) else {
        return;
    };
    if rs.instances.values().all(InstanceState::is_empty) {
        return;
    }
    if state
        .resources
        .get(&m.to.resource)
        .is_some_and(|r| !r.instances.values().all(InstanceState::is_empty))
    {
        occupied(m, warnings);
        return;
    }
    if let Some(rs) = state.resources.remove(&m.from.resource) {
        for key in rs.instances.keys() {
            done.push(Moved {
                from: m.from.resource.instance(key.clone()).to_string(),
                to: m.to.resource.instance(key.clone()).to_string(),
            });
        }
        state.resources.insert(m.to.resource.clone(), rs);
        // Recorded dependencies follow the new address.
        for r in state.resources.values_mut() {
            for inst in r.instances.values_mut() {
                for o in inst.current.iter_mut().chain(inst.deposed.iter_mut()) {
                    for d in &mut o.dependencies {
                        if *d == m.from.resource {
                            *d = m.to.resource.clone();
                        }
                    }
                }
            }
        }
    }
}

fn move_instance(
    m: &MovedConfig,
    state: &mut State,
    warnings: &mut Diagnostics,
    done: &mut Vec<Moved>,
) {
    let (Some(from_key), Some(to_key)) = (&m.from.key, &m.to.key) else {
        return;
    };
    let has_from = state
        .resources
        .get(&m.from.resource)
        .and_then(|r| r.instances.get(from_key))
        .is_some_and(|i| !i.is_empty());
    if !has_from {
        return;
    }
    let to_taken = state
        .resources
        .get(&m.to.resource)
        .and_then(|r| r.instances.get(to_key))
        .is_some_and(|i| !i.is_empty());
    if to_taken {
        occupied(m, warnings);
        return;
    }
    let Some(from_rs) = state.resources.get_mut(&m.from.resource) else {
        return;
    };
    let provider = from_rs.provider.clone();
    let Some(inst) = from_rs.instances.remove(from_key) else {
        return;
    };
    if from_rs.instances.is_empty() {
        state.resources.remove(&m.from.resource);
    }
    state
        .resources
        .entry(m.to.resource.clone())
        .or_insert_with(|| ResourceState {
            provider,
            instances: Default::default(),
        })
        .instances
        .insert(to_key.clone(), inst);
    done.push(Moved {
        from: m.from.to_string(),
        to: m.to.to_string(),
    });
}
