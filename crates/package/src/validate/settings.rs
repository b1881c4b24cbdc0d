//! `settings.yaml` of a plan.

use super::*;

impl Validator<'_> {
    pub(super) fn settings(&mut self, path: &str, model: &mut PlanModel) {
        let Some(root) = self.yaml(path, None) else {
            return;
        };
        let mut ctx = Ctx::new(path, &mut self.diags);
        if !ctx.check_keys(&root, &["preset", "retry"]) {
            return;
        }
        if let Some(n) = root.get("preset") {
            match n.as_str_lenient() {
                Some(s @ ("base_v2" | "base_v3" | "base_alpha")) => {
                    model.preset = Some(s.to_owned())
                }
                _ => {
                    let text = n.scalar_text().unwrap_or_default();
                    let msg = format!("unknown preset `{text}`");
                    match did_you_mean(text, &["base_v2", "base_v3", "base_alpha"]) {
                        Some(m) => {
                            // Unsafe: presets differ by one character and by a lot of meaning.
                            let fix = ctx.fix(
                                Applicability::Unsafe,
                                format!("write `{m}`"),
                                n.span.clone(),
                                m,
                            );
                            ctx.error_fix(
                                codes::SETTINGS_BAD_VALUE,
                                n.span.clone(),
                                msg,
                                format!("did you mean `{m}`?"),
                                fix,
                            );
                        }
                        None => ctx.error(
                            codes::SETTINGS_BAD_VALUE,
                            n.span.clone(),
                            msg,
                            "use `base_v2`, `base_v3` or `base_alpha`",
                        ),
                    }
                }
            }
        }
        if let Some(n) = root.get("retry") {
            // YAML 1.1 reads `yes`/`no` as booleans, YAML 1.2 as strings: accept both.
            let b = n.as_bool_yaml11().or_else(|| match n.scalar_text() {
                Some("yes") => Some(true),
                Some("no") => Some(false),
                _ => None,
            });
            match b {
                Some(b) => model.retry = Some(b),
                None => ctx.error(
                    codes::SETTINGS_BAD_VALUE,
                    n.span.clone(),
                    format!(
                        "unknown retry value `{}`",
                        n.scalar_text().unwrap_or_default()
                    ),
                    "use `yes` or `no`",
                ),
            }
        }
    }
}
