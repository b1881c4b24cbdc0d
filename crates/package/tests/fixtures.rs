//! VK's public documentation examples (`fixtures/vk-docs/` at the workspace root, copied from
//! `shared/fixtures/vk-docs/`) placed in the base package: the defective ones are reported with
//! the right codes (see that folder's `DEFECTS.md`), the correct ones are accepted.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{build, put, Edit};

fn fixture(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/vk-docs")
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

/// A manifest declaring `vars` (name, type) plus the special variables.
fn manifest(vars: &[(&str, &str)]) -> String {
    let mut tf = String::from(
        "variable \"instance_uuid\" {\n  type = string\n}\n\nvariable \"email\" {\n  type = string\n}\n",
    );
    for (name, ty) in vars {
        tf.push_str(&format!("\nvariable \"{name}\" {{\n  type = {ty}\n}}\n"));
    }
    tf
}

const INT: &str =
    "actions: [create]\nschema:\n  description: N\n  type: integer\n  default: 1\n  minimum: 0\n";
const BOOL: &str = "actions: [create]\nschema:\n  description: B\n  type: boolean\n";
const FLAVOR: &str = "actions: [create]\nschema:\n  description: F\n  type: string\n  datasource:\n    type: flavor\n";

fn disk_type(tag: &str) -> String {
    format!("actions: [create]\nschema:\n  description: T\n  type: string\n  tag: {tag}\n  datasource:\n    type: volume_type\n")
}

fn disk_size(tag: &str) -> String {
    format!("actions: [create]\nschema:\n  description: S\n  type: integer\n  default: 10\n  minimum: 10\n  tag: {tag}\n")
}

fn assert_clean(edits: Vec<Edit>) {
    let b = build(&edits);
    let v = vitrina_package::validate(&b.files);
    assert!(
        v.diagnostics.is_empty(),
        "{}",
        v.sources.render_text(&v.diagnostics, "")
    );
}

#[test]
fn display_example_with_a_condition_is_accepted() {
    assert_clean(vec![
        put("parameters/frequency_per_day.yaml", INT),
        put(
            "parameters/backup_method.yaml",
            "actions: [create]\nschema:\n  description: Method\n  type: string\n  enum: [daily, high-frequency]\n  default: daily\n",
        ),
        put("plans/basic/display.yaml", fixture("display/when-in-pages.display.yaml")),
        put("plans/basic/deployment/deploy.tf", manifest(&[("frequency_per_day", "number")])),
    ]);
}

#[test]
fn display_example_with_pages_is_accepted_with_entities() {
    let display = format!(
        "{}\nentities:\n  - entity: vm\n    count:\n      const: 1\n    flavor:\n      param: vm\n    disks:\n      - type:\n          param: volume_type\n        size:\n          param: volume_size\n",
        fixture("display/pages.display.yaml")
    );
    assert_clean(vec![
        put(
            "parameters/network.yaml",
            fixture("parameters/ds_network.yaml").replace("kind: private", "kind: internal"),
        ),
        put("parameters/vm.yaml", FLAVOR),
        put("parameters/volume_type.yaml", disk_type("root")),
        put("parameters/volume_size.yaml", disk_size("root")),
        put("plans/basic/display.yaml", display),
        put(
            "plans/basic/deployment/deploy.tf",
            manifest(&[
                ("network", "string"),
                ("vm", "string"),
                ("az", "string"),
                ("volume_size", "number"),
                ("volume_type", "string"),
            ]),
        ),
    ]);
}

#[test]
fn entity_examples_are_accepted() {
    // The VM example's options, listed on one page.
    let page = "pages:\n  - name: Server\n    groups:\n      - name: VM\n        parameters:\n          - name: ds-flavor\n          - name: root_type\n          - name: root_size\n          - name: data_type\n          - name: data_size\n";
    assert_clean(vec![
        put("parameters/ds-flavor.yaml", FLAVOR),
        put("parameters/root_type.yaml", disk_type("root")),
        put("parameters/root_size.yaml", disk_size("root")),
        put("parameters/data_type.yaml", disk_type("data")),
        put("parameters/data_size.yaml", disk_size("data")),
        put(
            "plans/basic/display.yaml",
            format!("{page}{}", fixture("display/entities-vm.display.yaml")),
        ),
        put(
            "plans/basic/deployment/deploy.tf",
            manifest(&[
                ("ds-flavor", "string"),
                ("root_type", "string"),
                ("root_size", "number"),
                ("data_type", "string"),
                ("data_size", "number"),
            ]),
        ),
    ]);
    let lb_page = "pages:\n  - name: Balancers\n    groups:\n      - name: LB\n        parameters:\n          - name: number_balancing\n";
    assert_clean(vec![
        put("parameters/number_balancing.yaml", INT),
        put(
            "plans/basic/display.yaml",
            format!(
                "{lb_page}{}",
                fixture("display/entities-load_balancing.display.yaml")
            ),
        ),
        put(
            "plans/basic/deployment/deploy.tf",
            manifest(&[("number_balancing", "number")]),
        ),
    ]);
    assert_clean(vec![
        put(
            "plans/basic/display.yaml",
            fixture("display/entities-floating_ip.display.yaml"),
        ),
        put("plans/basic/deployment/deploy.tf", manifest(&[])),
    ]);
    assert_clean(vec![
        put("parameters/need_install_alkair_software.yaml", BOOL),
        put(
            "plans/basic/display.yaml",
            fixture("display/when-in-entities.display.yaml"),
        ),
        put("plans/basic/deployment/deploy.tf", manifest(&[])),
    ]);
}
