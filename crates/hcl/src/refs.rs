//! Reference extraction: which variables (`var.x`, `local.y`, `aws_x.y[0].id`, `count.index`, …)
//! an expression or a block reads.

use std::collections::BTreeSet;
use std::fmt;
use std::ops::Range;

use hcl_edit::expr::{Expression, ObjectKey, TraversalOperator};
use hcl_edit::template::{Directive, Element, Template};

use crate::parse::Block;

/// One static step after a reference's root name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// `.name`
    Attr { name: String, span: Range<usize> },
    /// `[0]` or `.0`
    Index { index: u64, span: Range<usize> },
    /// `["key"]`
    Key { key: String, span: Range<usize> },
}

impl Step {
    pub fn span(&self) -> &Range<usize> {
        match self {
            Step::Attr { span, .. } | Step::Index { span, .. } | Step::Key { span, .. } => span,
        }
    }
}

/// A reference to a named value: a root name followed by the static steps that follow it
/// (attribute names and literal indices). A non-literal index such as `[count.index]` or a splat
/// ends the static part; the references inside the index are reported separately.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The root name: `var`, `local`, `data`, `count`, `each`, `path`, `self`, `terraform`,
    /// a resource type, or any other variable name.
    pub root: String,
    pub root_span: Range<usize>,
    pub steps: Vec<Step>,
    /// From the root's start to the end of the last static step.
    pub span: Range<usize>,
}

impl Reference {
    /// The attribute name of the step at `i` (0 is the first step after the root).
    pub fn attr(&self, i: usize) -> Option<&str> {
        match self.steps.get(i) {
            Some(Step::Attr { name, .. }) => Some(name),
            _ => None,
        }
    }

    /// The span from the root to the end of step `i`, or to the end of the root when there is no
    /// such step (say, the span of `var.x` in `var.x.y[0]` is `span_through(0)`).
    pub fn span_through(&self, i: usize) -> Range<usize> {
        match self.steps.get(i) {
            Some(s) => self.root_span.start..s.span().end,
            None => self.steps.last().map_or(self.root_span.clone(), |s| {
                self.root_span.start..s.span().end
            }),
        }
    }
}

impl fmt::Display for Reference {
    /// `vkcs_compute_instance.vm[0].id`, `var.x["k"]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.root)?;
        for s in &self.steps {
            match s {
                Step::Attr { name, .. } => write!(f, ".{name}")?,
                Step::Index { index, .. } => write!(f, "[{index}]")?,
                Step::Key { key, .. } => write!(f, "[{key:?}]")?,
            }
        }
        Ok(())
    }
}

/// Every reference in `expr`, in source order. Names bound by `for` expressions and template
/// `%{for}` directives are not references inside their bodies.
pub fn references(expr: &Expression) -> Vec<Reference> {
    let mut w = Walker::default();
    w.expr(expr);
    w.out
}

/// Every reference in a block's attributes and nested blocks, in source order. Inside
/// `dynamic "name"` blocks the iterator (`name`, or the `iterator` attribute's name) is not a
/// reference within its `content` block and the `labels` attribute.
pub fn block_references(block: &Block) -> Vec<Reference> {
    let mut w = Walker::default();
    w.block(block);
    w.out
}

/// Every reference in a template (as `templatefile` reads it).
pub fn template_references(template: &Template) -> Vec<Reference> {
    let mut w = Walker::default();
    w.template(template);
    w.out
}

#[derive(Default)]
struct Walker {
    /// Locally bound names with a count (names may be shadowed).
    bound: Vec<String>,
    out: Vec<Reference>,
}

fn span_of(e: &impl hcl_edit::Span) -> Range<usize> {
    e.span().unwrap_or(0..0)
}

impl Walker {
    fn is_bound(&self, name: &str) -> bool {
        self.bound.iter().any(|b| b == name)
    }

    fn with_bound<F: FnOnce(&mut Self)>(&mut self, names: &[String], f: F) {
        let before = self.bound.len();
        self.bound.extend(names.iter().cloned());
        f(self);
        self.bound.truncate(before);
    }

    fn block(&mut self, block: &Block) {
        if block.kind == "dynamic" {
            let iterator = block
                .attribute("iterator")
                .and_then(|a| match &a.expr {
                    Expression::Variable(v) => Some(v.value().to_string()),
                    _ => None,
                })
                .or_else(|| block.labels.first().map(|l| l.value.clone()));
            for a in &block.attributes {
                match a.name.as_str() {
                    "iterator" => {}
                    "labels" => match &iterator {
                        Some(it) => self.with_bound(std::slice::from_ref(it), |w| w.expr(&a.expr)),
                        None => self.expr(&a.expr),
                    },
                    _ => self.expr(&a.expr),
                }
            }
            for b in &block.blocks {
                match (&iterator, b.kind.as_str()) {
                    (Some(it), "content") => {
                        self.with_bound(std::slice::from_ref(it), |w| w.block(b));
                    }
                    _ => self.block(b),
                }
            }
            return;
        }
        for a in &block.attributes {
            self.expr(&a.expr);
        }
        for b in &block.blocks {
            self.block(b);
        }
    }

    fn expr(&mut self, expr: &Expression) {
        match expr {
            Expression::Null(_)
            | Expression::Bool(_)
            | Expression::Number(_)
            | Expression::String(_) => {}
            Expression::Array(items) => {
                for e in items.iter() {
                    self.expr(e);
                }
            }
            Expression::Object(obj) => {
                for (k, v) in obj.iter() {
                    if let ObjectKey::Expression(k) = k {
                        // A bare identifier key (`{ a = 1 }`) is a name, not a reference.
                        if !matches!(k, Expression::Variable(_)) {
                            self.expr(k);
                        }
                    }
                    self.expr(v.expr());
                }
            }
            Expression::StringTemplate(t) => {
                for e in t.iter() {
                    self.element(e);
                }
            }
            Expression::HeredocTemplate(h) => self.template(&h.template),
            Expression::Parenthesis(p) => self.expr(p.inner()),
            Expression::Variable(v) => {
                let name = v.value().as_str();
                if !self.is_bound(name) {
                    let span = span_of(v);
                    self.out.push(Reference {
                        root: name.to_string(),
                        root_span: span.clone(),
                        steps: Vec::new(),
                        span,
                    });
                }
            }
            Expression::Conditional(c) => {
                self.expr(&c.cond_expr);
                self.expr(&c.true_expr);
                self.expr(&c.false_expr);
            }
            Expression::FuncCall(call) => {
                for a in call.args.iter() {
                    self.expr(a);
                }
            }
            Expression::Traversal(t) => self.traversal(&t.expr, &t.operators),
            Expression::UnaryOp(op) => self.expr(&op.expr),
            Expression::BinaryOp(op) => {
                self.expr(&op.lhs_expr);
                self.expr(&op.rhs_expr);
            }
            Expression::ForExpr(f) => {
                self.expr(&f.intro.collection_expr);
                let mut names = vec![f.intro.value_var.value().to_string()];
                if let Some(k) = &f.intro.key_var {
                    names.push(k.value().to_string());
                }
                self.with_bound(&names, |w| {
                    if let Some(k) = &f.key_expr {
                        w.expr(k);
                    }
                    w.expr(&f.value_expr);
                    if let Some(c) = &f.cond {
                        w.expr(&c.expr);
                    }
                });
            }
        }
    }

    fn traversal(
        &mut self,
        base: &Expression,
        operators: &[hcl_edit::Decorated<TraversalOperator>],
    ) {
        let mut rest = operators;
        if let Expression::Variable(v) = base {
            let name = v.value().as_str();
            if !self.is_bound(name) {
                let root_span = span_of(v);
                let mut steps = Vec::new();
                let mut consumed = 0;
                for op in operators {
                    let span = span_of(op);
                    let step = match op.value() {
                        TraversalOperator::GetAttr(id) => Step::Attr {
                            name: id.value().to_string(),
                            span,
                        },
                        TraversalOperator::LegacyIndex(i) => Step::Index {
                            index: *i.value(),
                            span,
                        },
                        TraversalOperator::Index(Expression::Number(n)) => {
                            match n.value().as_u64() {
                                Some(index) => Step::Index { index, span },
                                None => break,
                            }
                        }
                        TraversalOperator::Index(Expression::String(s)) => Step::Key {
                            key: s.value().to_string(),
                            span,
                        },
                        _ => break,
                    };
                    steps.push(step);
                    consumed += 1;
                }
                let end = steps.last().map_or(root_span.end, |s| s.span().end);
                self.out.push(Reference {
                    root: name.to_string(),
                    root_span: root_span.clone(),
                    steps,
                    span: root_span.start..end,
                });
                rest = operators.get(consumed..).unwrap_or(&[]);
            }
        } else {
            self.expr(base);
        }
        for op in rest {
            if let TraversalOperator::Index(e) = op.value() {
                self.expr(e);
            }
        }
    }

    fn template(&mut self, t: &Template) {
        for e in t.iter() {
            self.element(e);
        }
    }

    fn element(&mut self, e: &Element) {
        match e {
            Element::Literal(_) => {}
            Element::Interpolation(i) => self.expr(&i.expr),
            Element::Directive(d) => match d.as_ref() {
                Directive::If(d) => {
                    self.expr(&d.if_expr.cond_expr);
                    self.template(&d.if_expr.template);
                    if let Some(e) = &d.else_expr {
                        self.template(&e.template);
                    }
                }
                Directive::For(d) => {
                    let f = &d.for_expr;
                    self.expr(&f.collection_expr);
                    let mut names = vec![f.value_var.value().to_string()];
                    if let Some(k) = &f.key_var {
                        names.push(k.value().to_string());
                    }
                    self.with_bound(&names, |w| w.template(&f.template));
                }
            },
        }
    }
}

/// A function call found in an expression: the function's name (with its `provider::…::`
/// namespace, if any, joined by `::`), the span of the name and whether vitrina knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionCall {
    pub name: String,
    pub name_span: Range<usize>,
    pub known: bool,
}

/// Every function call in `expr`, in source order, so a validator can report unknown functions
/// (`known == false`) before anything is evaluated.
pub fn function_calls(expr: &Expression) -> Vec<FunctionCall> {
    struct Collector(Vec<FunctionCall>);
    impl hcl_edit::visit::Visit for Collector {
        fn visit_func_call(&mut self, node: &hcl_edit::expr::FuncCall) {
            let mut parts: Vec<&str> = node
                .name
                .namespace
                .iter()
                .map(|n| n.value().as_str())
                .collect();
            parts.push(node.name.name.value().as_str());
            let name = parts.join("::");
            let known = !node.name.is_namespaced()
                && crate::funcs::is_builtin(node.name.name.value().as_str());
            self.0.push(FunctionCall {
                name,
                name_span: span_of(&node.name.name),
                known,
            });
            hcl_edit::visit::visit_func_call(self, node);
        }
    }
    let mut c = Collector(Vec::new());
    hcl_edit::visit::Visit::visit_expr(&mut c, expr);
    c.0
}

/// The distinct root-and-first-attribute names (`var.x`, `local.y`, `count.index`) read by an
/// expression, sorted. Handy for validators that only need names.
pub fn referenced_names(expr: &Expression) -> BTreeSet<String> {
    references(expr)
        .into_iter()
        .map(|r| match r.attr(0) {
            Some(a) => format!("{}.{a}", r.root),
            None => r.root,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{parse, parse_expression};

    fn refs(src: &str) -> Vec<String> {
        let e = parse_expression("t", src).expect("parses");
        references(&e).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn simple_traversals() {
        assert_eq!(refs("var.x"), ["var.x"]);
        assert_eq!(
            refs("vkcs_compute_instance.vm[0].id"),
            ["vkcs_compute_instance.vm[0].id"]
        );
        assert_eq!(refs("data.x.y.attr"), ["data.x.y.attr"]);
        assert_eq!(refs("var.m[\"k\"].v"), ["var.m[\"k\"].v"]);
        assert_eq!(refs("a.b.0.c"), ["a.b[0].c"]);
        assert_eq!(
            refs("count.index + each.key + path.module + terraform.workspace"),
            [
                "count.index",
                "each.key",
                "path.module",
                "terraform.workspace"
            ]
        );
        assert_eq!(refs("self"), ["self"]);
    }

    #[test]
    fn dynamic_index_and_splat() {
        assert_eq!(
            refs("vkcs_networking_floatingip.fips[count.index].address"),
            ["vkcs_networking_floatingip.fips", "count.index"]
        );
        assert_eq!(refs("aws_instance.a[*].id"), ["aws_instance.a"]);
        assert_eq!(refs("aws_instance.a.*.id"), ["aws_instance.a"]);
    }

    #[test]
    fn descends_everywhere() {
        assert_eq!(
            refs("\"${local.a}-%{ if var.b }${var.c}%{ else }x%{ endif }\""),
            ["local.a", "var.b", "var.c"]
        );
        assert_eq!(
            refs("try(local.x[0], f(var.y)) ? cond.a : [for z in var.l : z.n if z.ok]"),
            ["local.x[0]", "var.y", "cond.a", "var.l"]
        );
        assert_eq!(
            refs("{ for k, v in var.m : k => v.x if var.keep }"),
            ["var.m", "var.keep"]
        );
        assert_eq!(refs("{ a = var.x, (local.k) = 1 }"), ["var.x", "local.k"]);
        assert_eq!(refs("-var.n"), ["var.n"]);
        assert_eq!(
            refs("[for v in var.l : [for w in v : w + local.z]]"),
            ["var.l", "local.z"]
        );
    }

    #[test]
    fn heredoc_and_template_for() {
        let src = "<<-EOT\n  %{ for h in var.hosts ~}\n  ${h}:${local.port}\n  %{ endfor ~}\nEOT";
        assert_eq!(refs(src), ["var.hosts", "local.port"]);
    }

    #[test]
    fn spans_are_byte_ranges_in_the_text() {
        let text = "locals {\n  a = \"x-${vkcs_compute_instance.vm[0].id}\"\n}\n";
        let m = parse("m.tf", text).expect("parses");
        let r = references(&m.locals[0].expr);
        assert_eq!(r.len(), 1);
        assert_eq!(&text[r[0].span.clone()], "vkcs_compute_instance.vm[0].id");
        assert_eq!(&text[r[0].root_span.clone()], "vkcs_compute_instance");
        assert_eq!(&text[r[0].span_through(0)], "vkcs_compute_instance.vm");
    }

    #[test]
    fn dynamic_block_iterator_is_not_a_reference() {
        let text = r#"
resource "x" "y" {
  dynamic "rule" {
    for_each = var.rules
    content {
      port = rule.value.port
      name = var.prefix
    }
  }
  dynamic "ingress" {
    for_each = local.ing
    iterator = it
    content {
      from = it.key
    }
  }
}
"#;
        let m = parse("m.tf", text).expect("parses");
        let names: Vec<String> = block_references(&m.resources[0].block)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(names, ["var.rules", "var.prefix", "local.ing"]);
    }

    #[test]
    fn function_calls_are_listed_with_spans() {
        let src = "upper(lenght(var.x)) + try(provider::p::f(1), can(2))";
        let e = parse_expression("t", src).expect("parses");
        let calls = function_calls(&e);
        let summary: Vec<(&str, bool)> = calls.iter().map(|c| (c.name.as_str(), c.known)).collect();
        assert_eq!(
            summary,
            [
                ("upper", true),
                ("lenght", false),
                ("try", true),
                ("provider::p::f", false),
                ("can", true)
            ]
        );
        assert_eq!(&src[calls[1].name_span.clone()], "lenght");
    }

    #[test]
    fn names_helper() {
        let e = parse_expression("t", "var.a.b + var.a.c + local.z[0]").expect("parses");
        assert_eq!(
            referenced_names(&e).into_iter().collect::<Vec<_>>(),
            ["local.z", "var.a"]
        );
    }
}
