//! VK's public documentation examples (`tests/fixtures/vk-docs/`, copied from
//! `shared/fixtures/vk-docs/`) placed in the base package: the defective ones are reported with
//! the right codes (see that folder's `DEFECTS.md`), the correct ones are accepted.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{build, put, Edit};

fn fixture(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/vk-docs")
        .join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Errors as (code, file, line) plus all codes, warnings included.
fn run(edits: &[Edit]) -> (Vec<(String, String, u64)>, BTreeSet<String>) {
    let b = build(edits);
    let json = common::validate_json(&b.files);
    let diags = json["diagnostics"].as_array().cloned().unwrap_or_default();
    let errors = diags
        .iter()
        .filter(|d| d["severity"] == "error")
        .map(|d| {
            (
                d["code"].as_str().unwrap_or_default().to_owned(),
                d["file"].as_str().unwrap_or_default().to_owned(),
                d["line"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    let codes = diags
        .iter()
        .map(|d| d["code"].as_str().unwrap_or_default().to_owned())
        .collect();
    (errors, codes)
}

#[test]
fn unquoted_hint_with_colon_is_a_yaml_syntax_error() {
    let (errors, _) = run(&[put(
        "parameters/assemblies.yaml",
        fixture("parameters/free_integer_user_step.yaml"),
    )]);
    assert_eq!(
        errors,
        vec![(
            "yaml/syntax".to_owned(),
            "parameters/assemblies.yaml".to_owned(),
            13
        )]
    );
}

#[test]
fn disk_type_filter_at_wrong_indentation_is_a_bad_datasource() {
    let (errors, _) = run(&[put(
        "parameters/disk_type.yaml",
        fixture("parameters/ds_disk_type.yaml"),
    )]);
    // `disk_class:` is empty (line 13) and `enum:` sits beside it as an unknown filter (line 14).
    // The tag `disk1` no longer pairs with the size option's `data`.
    let bad_ds: Vec<u64> = errors
        .iter()
        .filter(|(c, f, _)| c == "option/bad-datasource" && f == "parameters/disk_type.yaml")
        .map(|(_, _, l)| *l)
        .collect();
    assert_eq!(bad_ds, vec![13, 14], "{errors:?}");
    assert!(
        errors
            .iter()
            .all(|(c, _, _)| c == "option/bad-datasource" || c == "option/unpaired-tag"),
        "{errors:?}"
    );
}

#[test]
fn private_network_kind_is_a_bad_datasource() {
    let (errors, _) = run(&[put(
        "parameters/network.yaml",
        fixture("parameters/ds_network.yaml"),
    )]);
    assert_eq!(
        errors,
        vec![(
            "option/bad-datasource".to_owned(),
            "parameters/network.yaml".to_owned(),
            13
        )]
    );
}

#[test]
fn when_template_with_placeholders_is_a_yaml_syntax_error() {
    let (errors, _) = run(&[put(
        "plans/basic/display.yaml",
        fixture("display/when-template.yaml"),
    )]);
    assert!(
        errors
            .iter()
            .any(|(c, f, _)| c == "yaml/syntax" && f == "plans/basic/display.yaml"),
        "{errors:?}"
    );
}

#[test]
fn correct_option_examples_are_accepted() {
    let mut edits = Vec::new();
    for name in [
        "ds_az",
        "ds_flavor",
        "ds_subnet",
        "free_boolean_const",
        "free_boolean_switch",
        "free_integer_const",
        "free_integer_enum",
        "free_integer_step1",
        "free_string_const",
        "free_string_enum",
        "free_string_input",
        "postpaid_storage_number",
        "prepaid_boolean",
    ] {
        let file: &'static str = Box::leak(format!("parameters/{name}.yaml").into_boxed_str());
        edits.push(put(file, fixture(&format!("parameters/{name}.yaml"))));
    }
    // The disk pair: the size example with the type example's indentation corrected.
    edits.push(put(
        "parameters/ds_disk_size.yaml",
        fixture("parameters/ds_disk_size.yaml"),
    ));
    edits.push(put(
        "parameters/ds_disk_type.yaml",
        fixture("parameters/ds_disk_type.yaml").replace(
            "      disk_class:\n      enum:",
            "      disk_class:\n        enum:",
        ),
    ));
    let (errors, codes) = run(&edits);
    assert!(errors.is_empty(), "{errors:?}");
    assert!(codes.is_empty(), "{codes:?}");
}

#[test]
fn reference_manifest_with_its_settings_is_accepted() {
    // Grafana's reference manifest declares these external variables; give the plan those
    // options (as the grafana example package does) and check only the manifest's own rules.
    let (errors, _) = run(&[
        put(
            "plans/basic/deployment/deploy.tf",
            fixture("deployment/grafana.deploy.tf"),
        ),
        put(
            "plans/basic/deployment/settings.yaml",
            fixture("deployment/settings.yaml"),
        ),
    ]);
    let manifest_errors: Vec<_> = errors
        .iter()
        .filter(|(c, _, _)| c.starts_with("manifest/") && c != "manifest/type-mismatch")
        .collect();
    // The manifest's variables without defaults are the grafana options this base plan lacks.
    assert!(
        manifest_errors
            .iter()
            .all(|(c, _, _)| c == "manifest/unbound-variable"),
        "{manifest_errors:?}"
    );
    assert!(
        !errors.iter().any(|(c, _, _)| c == "settings/bad-value"),
        "{errors:?}"
    );
}

#[test]
fn legacy_manifest_reports_deprecated_resources() {
    let (_, codes) = run(&[put(
        "plans/basic/deployment/deploy.tf",
        fixture("deployment/legacy-redis.deploy.tf"),
    )]);
    assert!(codes.contains("manifest/deprecated-resource"), "{codes:?}");
}

#[test]
fn vk_testers_service_yaml_names_missing_plans_and_options() {
    let (errors, _) = run(&[put("service.yaml", fixture("service/service.yaml"))]);
    let codes: BTreeSet<&str> = errors.iter().map(|(c, _, _)| c.as_str()).collect();
    assert_eq!(
        codes,
        BTreeSet::from(["service/unknown-plan", "service/unknown-preview-option"]),
        "{errors:?}"
    );
}

#[test]
fn example_plans_with_placeholder_ids_are_rejected() {
    let (errors, _) = run(&[put("plans/pro/plan.yaml", fixture("plans/basic.plan.yaml"))]);
    let codes: BTreeSet<&str> = errors.iter().map(|(c, _, _)| c.as_str()).collect();
    assert!(codes.contains("plan/id-not-uuid4"), "{errors:?}");
    assert!(codes.contains("plan/name-mismatch"), "{errors:?}");
    assert!(codes.contains("plan/bad-patch"), "{errors:?}");
}
