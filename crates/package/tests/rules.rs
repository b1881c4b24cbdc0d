//! Rules beyond one-code-per-case: YAML 1.1/1.2 booleans, many errors in one run, entity
//! constants, patches, generator versions.

mod common;

use common::{build, put, sub, validate_json};
use serde_json::Value;

fn codes(edits: &[common::Edit]) -> Vec<(String, String)> {
    let json = validate_json(&build(edits).files);
    json["diagnostics"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap_or_default().to_owned(),
                d["file"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn catalog(edits: &[common::Edit]) -> Value {
    let v = vitrina_package::validate(&build(edits).files);
    assert!(!v.diagnostics.has_errors(), "{:?}", v.diagnostics);
    vitrina_package::build_catalog(&v).unwrap()
}

#[test]
fn retry_accepts_yaml_11_and_12_spellings() {
    for (text, want) in [
        ("no", false),
        ("yes", true),
        ("\"no\"", false),
        ("'yes'", true),
        ("false", false),
        ("true", true),
    ] {
        let edits = [put(
            "plans/pro/deployment/settings.yaml",
            format!("preset: base_v2\nretry: {text}\n"),
        )];
        let c = catalog(&edits);
        let pro = c["services"][0]["plans"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "pro")
            .unwrap()
            .clone();
        assert_eq!(pro["x-deployment"]["settings"]["retry"], want, "{text}");
        assert_eq!(pro["x-deployment"]["settings"]["preset"], "base_v2");
    }
    let bad = codes(&[put("plans/pro/deployment/settings.yaml", "retry: maybe\n")]);
    assert_eq!(
        bad,
        vec![(
            "settings/bad-value".to_owned(),
            "plans/pro/deployment/settings.yaml".to_owned()
        )]
    );
}

#[test]
fn every_error_is_reported_in_one_run() {
    let found = codes(&[
        sub("service.yaml", "bindable: true", "bindable: false"),
        sub("parameters/nodes.yaml", "default: 1", "default: 2"),
        sub("plans/pro/plan.yaml", "name: pro", "name: pr"),
        sub("plans/basic/display.yaml", "- name: title", "- name: titl"),
        sub(
            "plans/basic/deployment/deploy.tf",
            "type    = \"bash\"",
            "type    = \"perl\"",
        ),
    ]);
    for want in [
        "service/bindable-false",
        "option/default-not-in-enum",
        "plan/name-mismatch",
        "display/unknown-option",
        "manifest/bad-agent-step",
    ] {
        assert!(found.iter().any(|(c, _)| c == want), "{want} in {found:?}");
    }
}

#[test]
fn entity_constants_are_checked() {
    let found = codes(&[sub(
        "plans/basic/display.yaml",
        "        size:\n          param: disk_size\n",
        "        size:\n          param: disk_size\n      - type:\n          const: nvme\n        size:\n          const: -5\n",
    )]);
    let bad: Vec<_> = found
        .iter()
        .filter(|(c, _)| c == "display/bad-entity")
        .collect();
    assert_eq!(bad.len(), 2, "{found:?}");
}

#[test]
fn patch_that_breaks_the_option_is_reported_on_the_patch() {
    let found = codes(&[sub(
        "plans/pro/plan.yaml",
        "    schema.default: 20\n",
        "    schema.default: 500\n",
    )]);
    assert_eq!(
        found,
        vec![(
            "plan/bad-patch".to_owned(),
            "plans/pro/plan.yaml".to_owned()
        )]
    );
}

#[test]
fn section_and_key_inside_it_both_patched_is_reported() {
    let found = codes(&[sub(
        "plans/pro/plan.yaml",
        "    schema.minimum: 20\n",
        "    schema.minimum: 20\n    schema:\n      description: Size\n",
    )]);
    assert!(
        found.iter().any(|(c, _)| c == "plan/bad-patch"),
        "{found:?}"
    );
}

#[test]
fn both_generator_versions_are_accepted() {
    for v in ["0.0.1", "1.0.0", "\"1.0.0\""] {
        let found = codes(&[put("version.yaml", format!("version: {v}\n"))]);
        assert!(found.is_empty(), "{v}: {found:?}");
    }
}

#[test]
fn empty_hint_and_help_are_allowed() {
    let found = codes(&[
        sub(
            "parameters/title.yaml",
            "hint: Shown in the browser tab",
            "hint:",
        ),
        sub("service.yaml", "help: https://example.com/help", "help:"),
    ]);
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn quoted_number_where_an_integer_is_required_says_how_to_fix() {
    let json = validate_json(
        &build(&[sub(
            "parameters/disk_size.yaml",
            "maximum: 100",
            "maximum: \"100\"",
        )])
        .files,
    );
    let d = &json["diagnostics"][0];
    assert_eq!(d["code"], "yaml/type");
    assert_eq!(d["message"], "expected an integer, found a quoted string");
    assert_eq!(d["help"], "write `100` without quotes");
}

#[test]
fn empty_files_report_their_required_fields() {
    let found = codes(&[put("service.yaml", "# nothing yet\n")]);
    assert!(
        found
            .iter()
            .any(|(c, f)| c == "service/required" && f == "service.yaml"),
        "{found:?}"
    );
    let found = codes(&[
        put("parameters/title.yaml", ""),
        put("plans/pro/plan.yaml", "\n"),
    ]);
    for (code, file) in [
        ("option/required", "parameters/title.yaml"),
        ("plan/required", "plans/pro/plan.yaml"),
    ] {
        assert!(
            found.iter().any(|(c, f)| c == code && f == file),
            "{code} in {file}: {found:?}"
        );
    }
}

#[test]
fn string_default_must_fit_its_own_rules() {
    let found = codes(&[sub(
        "parameters/title.yaml",
        "default: Hello",
        "default: Hello42",
    )]);
    assert_eq!(
        found,
        vec![(
            "option/bad-pattern".to_owned(),
            "parameters/title.yaml".to_owned()
        )]
    );
    let found = codes(&[sub(
        "parameters/title.yaml",
        "maxLength: 64",
        "maxLength: 3",
    )]);
    assert_eq!(
        found,
        vec![(
            "option/range".to_owned(),
            "parameters/title.yaml".to_owned()
        )]
    );
}

/// Agent step durations are read by the project's one Go-duration parser (the one `timeadd`
/// and the engine's `timeouts` use): `2.5s` is a duration, `5 minutes` is not.
#[test]
fn agent_step_durations_follow_go() {
    let ok = codes(&[sub(
        "plans/basic/deployment/deploy.tf",
        "timeout = \"5m\"",
        "timeout = \"2.5s\"",
    )]);
    assert_eq!(ok, vec![]);
    let bad = codes(&[sub(
        "plans/basic/deployment/deploy.tf",
        "timeout = \"5m\"",
        "timeout = \"5 minutes\"",
    )]);
    assert_eq!(
        bad,
        vec![(
            "manifest/bad-agent-step".to_owned(),
            "plans/basic/deployment/deploy.tf".to_owned()
        )]
    );
    let d = vitrina_hcl::duration::parse_go_duration("2.5s").expect("a duration");
    assert_eq!(d.nanos, 2_500_000_000);
}
