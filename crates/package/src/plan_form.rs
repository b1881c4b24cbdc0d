//! A plan's form: its options as typed [`vitrina_forms::Field`]s after the plan's
//! `parameters_patch`, read with the same code that validates the option files. The broker and
//! the web UI check answers with it.

use vitrina_diagnostics::Diagnostics;

use crate::check::Ctx;
use crate::option::{check_option, OptionDef};
use crate::validate::{Model, PlanModel};

/// The plan's options in display order (postpaid ones after), each as this plan sees it.
/// Options too broken to read are left out (a validated package has none).
pub fn plan_options(model: &Model, plan: &PlanModel) -> Vec<OptionDef> {
    let mut out = Vec::new();
    for name in plan.options.iter().chain(&plan.resource_usages) {
        if let Some(patched) = plan.patched.get(name) {
            let file = format!("parameters/{name}.yaml");
            let mut diags = Diagnostics::new();
            let mut ctx = Ctx::new(&file, &mut diags);
            if let Some(def) = check_option(&mut ctx, name, patched) {
                out.push(def);
            }
        } else if let Some((_, Some(def))) = model.options.get(name) {
            out.push(def.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pro_plan_sees_its_patch() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/packages/hello_web");
        let v = crate::validate_path(&dir).expect("reads");
        assert!(!v.diagnostics.has_errors());
        let pro = v
            .model
            .plans
            .iter()
            .find(|p| p.folder == "pro")
            .expect("pro plan");
        let opts = plan_options(&v.model, pro);
        let size = opts
            .iter()
            .find(|o| o.field.name == "data_size")
            .expect("data_size");
        assert_eq!(
            size.field.default_value(),
            Some(vitrina_forms::Value::Integer(20))
        );
        assert!(opts.iter().any(|o| o.field.name == "log_retention_days"));
    }
}
