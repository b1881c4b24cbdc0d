//! Dedenting of indented heredocs (`<<-EOT`) by HCL's rule.
//!
//! hcl-edit 0.10 computes the common indent of an indented heredoc per literal and treats a
//! literal that starts at column 0 as "no information", so a heredoc with a column-0 line and a
//! later mid-line `${…}` loses characters from every line (`#!/bin/bash` became `/bin/bash`).
//! After parsing we rebuild each literal of an indented heredoc from its source span and dedent
//! it the way HCL does:
//!
//! - every line start counts, including lines inside `%{for}`/`%{if}` bodies;
//! - a line that begins with an interpolation or a directive has indent 0;
//! - a line made only of whitespace and a newline is blank and does not count (and is kept as is);
//! - the minimum indent (in characters) over the counted lines is removed from each of them.

use hcl_edit::expr::Expression;
use hcl_edit::structure::Body;
use hcl_edit::template::{Directive, Element, HeredocTemplate, Template};
use hcl_edit::visit_mut::{visit_heredoc_template_mut, VisitMut};
use hcl_edit::{Span as _, Spanned};

/// Fixes every indented heredoc in a parsed body; `text` is the source it was parsed from.
pub(crate) fn fix_body(body: &mut Body, text: &str) {
    let mut fixer = Fixer { text };
    fixer.visit_body_mut(body);
}

/// Fixes every indented heredoc in a parsed expression; `text` is its source.
pub(crate) fn fix_expr(expr: &mut Expression, text: &str) {
    let mut fixer = Fixer { text };
    fixer.visit_expr_mut(expr);
}

struct Fixer<'t> {
    text: &'t str,
}

impl VisitMut for Fixer<'_> {
    fn visit_heredoc_template_mut(&mut self, node: &mut HeredocTemplate) {
        let indented = node
            .span()
            .and_then(|r| self.text.get(r.start..))
            .is_some_and(|rest| rest.starts_with("<<-"));
        if indented {
            if let Some(indent) = dedent(&mut node.template, self.text) {
                node.set_indent(indent);
            }
        }
        visit_heredoc_template_mut(self, node);
    }
}

enum Token<'a> {
    Lit(&'a mut Spanned<String>),
    Other,
}

fn flatten<'a>(template: &'a mut Template, out: &mut Vec<Token<'a>>) {
    for element in template.iter_mut() {
        match element {
            Element::Literal(lit) => out.push(Token::Lit(lit)),
            Element::Interpolation(_) => out.push(Token::Other),
            Element::Directive(d) => match d.as_mut() {
                Directive::If(d) => {
                    out.push(Token::Other);
                    flatten(&mut d.if_expr.template, out);
                    if let Some(e) = d.else_expr.as_mut() {
                        out.push(Token::Other);
                        flatten(&mut e.template, out);
                    }
                    out.push(Token::Other);
                }
                Directive::For(d) => {
                    out.push(Token::Other);
                    flatten(&mut d.for_expr.template, out);
                    out.push(Token::Other);
                }
            },
        }
    }
}

fn unescape_heredoc(raw: &str) -> String {
    raw.replace("$${", "${").replace("%%{", "%{")
}

fn is_blank_line(line: &str) -> bool {
    line.ends_with('\n') && line.chars().all(char::is_whitespace)
}

fn leading_ws_chars(line: &str) -> usize {
    line.chars()
        .take_while(|c| c.is_whitespace() && *c != '\n')
        .count()
}

/// Rebuilds the literals of `template` from `text` and removes the common indent. Returns the
/// removed indent, or `None` (leaving the template as hcl-edit made it) when a literal has no
/// usable span.
pub(crate) fn dedent(template: &mut Template, text: &str) -> Option<usize> {
    let mut tokens = Vec::new();
    flatten(template, &mut tokens);

    // Restore the literal text as written.
    let mut raws = Vec::with_capacity(tokens.len());
    for t in &tokens {
        if let Token::Lit(lit) = t {
            let raw = lit.span().and_then(|r| text.get(r))?;
            raws.push(unescape_heredoc(raw));
        }
    }

    let mut min = usize::MAX;
    let mut at_line_start = true;
    let mut raw_iter = raws.iter();
    for t in &tokens {
        match t {
            Token::Lit(_) => {
                let Some(raw) = raw_iter.next() else { break };
                for line in raw.split_inclusive('\n') {
                    if at_line_start && !is_blank_line(line) {
                        min = min.min(leading_ws_chars(line));
                    }
                    at_line_start = line.ends_with('\n');
                }
            }
            Token::Other => {
                if at_line_start {
                    min = 0;
                }
                at_line_start = false;
            }
        }
    }
    if min == usize::MAX {
        min = 0;
    }

    let mut at_line_start = true;
    let mut raw_iter = raws.into_iter();
    for t in tokens {
        match t {
            Token::Lit(lit) => {
                let Some(raw) = raw_iter.next() else { break };
                let mut out = String::with_capacity(raw.len());
                for line in raw.split_inclusive('\n') {
                    if at_line_start && !is_blank_line(line) {
                        let cut: usize = line.chars().take(min).map(char::len_utf8).sum();
                        out.push_str(line.get(cut..).unwrap_or(line));
                    } else {
                        out.push_str(line);
                    }
                    at_line_start = line.ends_with('\n');
                }
                *lit.value_mut() = out;
            }
            Token::Other => at_line_start = false,
        }
    }
    Some(min)
}

#[cfg(test)]
mod tests {
    use crate::parse::parse_body;

    fn literal_text(src: &str) -> String {
        let body = parse_body("t.tf", src).expect("parses");
        let attr = body.get_attribute("a").expect("attr a");
        let hcl_edit::expr::Expression::HeredocTemplate(h) = &attr.value else {
            panic!("not a heredoc")
        };
        let mut out = String::new();
        for e in h.template.iter() {
            match e.as_literal() {
                Some(l) => out.push_str(l.value()),
                None => out.push_str("<X>"),
            }
        }
        out
    }

    #[test]
    fn column_zero_line_with_later_interpolation_keeps_its_text() {
        // The shape of VK's Grafana `start` script that hcl-edit 0.10 mangles.
        let src = "a = <<-EOT\n#!/bin/bash\nansible-playbook -e \"x=${y}\" \\\n  run\nEOT\n";
        assert_eq!(
            literal_text(src),
            "#!/bin/bash\nansible-playbook -e \"x=<X>\" \\\n  run\n"
        );
    }

    #[test]
    fn hcl_spec_cases() {
        assert_eq!(
            literal_text("a = <<-EOT\n    Foo\n    Bar\n    Baz\n  EOT\n"),
            "Foo\nBar\nBaz\n"
        );
        assert_eq!(
            literal_text("a = <<-EOT\n    Foo\n  Bar\n    Baz\n  EOT\n"),
            "  Foo\nBar\n  Baz\n"
        );
        assert_eq!(
            literal_text("a = <<-EOT\n    Foo\n      ${bar}\n    Baz\n  EOT\n"),
            "Foo\n  <X>\nBaz\n"
        );
        assert_eq!(
            literal_text("a = <<-EOT\n    Foo\n  ${bar}\n    Baz\n  EOT\n"),
            "  Foo\n<X>\n  Baz\n"
        );
        assert_eq!(
            literal_text("a = <<-EOT\n    Foo\n\n    Bar\n  EOT\n"),
            "Foo\n\nBar\n"
        );
        assert_eq!(
            literal_text("a = <<-EOT\n\tFoo\n  Bar\n  Baz\n  EOT\n"),
            "Foo\n Bar\n Baz\n"
        );
        assert_eq!(
            literal_text("a = <<-EOT\n  $${x} %%{y}\n  EOT\n"),
            "${x} %{y}\n"
        );
    }

    #[test]
    fn crlf_line_endings() {
        assert_eq!(
            literal_text("a = <<-EOT\r\n    Foo\r\n      Bar\r\n    EOT\r\n"),
            "Foo\r\n  Bar\r\n"
        );
    }

    #[test]
    fn plain_heredoc_is_untouched() {
        assert_eq!(
            literal_text("a = <<EOT\n    Foo\n  Bar\nEOT\n"),
            "    Foo\n  Bar\n"
        );
    }
}
