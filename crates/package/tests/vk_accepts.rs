//! What VK's documents accept, the validator accepts (issue 7, point 1). Each test names the
//! document and table it follows; `shared/seeds/003_…txt` is VK's vendor guide.

mod common;

use common::{build, put, sub, validate_json};
use serde_json::Value;

fn errors(edits: &[common::Edit]) -> Vec<(String, String, u64)> {
    let json = validate_json(&build(edits).files);
    json["diagnostics"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter(|d| d["severity"] == "error")
        .map(|d| {
            (
                d["code"].as_str().unwrap_or_default().to_owned(),
                d["file"].as_str().unwrap_or_default().to_owned(),
                d["line"].as_u64().unwrap_or_default(),
            )
        })
        .collect()
}

fn catalog(edits: &[common::Edit]) -> Value {
    let v = vitrina_package::validate(&build(edits).files);
    assert!(!v.diagnostics.has_errors(), "{:?}", v.diagnostics);
    vitrina_package::build_catalog(&v).expect("a catalog for a package without errors")
}

const MOTD: &str = "\
actions: []
schema:
  description: Message of the day
  type: string
  const: Welcome
";

/// The base package with the option `motd` (`actions: []`) shown on the `Page` group of both
/// plans and declared in both manifests.
fn with_motd() -> Vec<common::Edit> {
    let mut edits = vec![put("parameters/motd.yaml", MOTD)];
    for plan in ["basic", "pro"] {
        let display: &'static str = if plan == "basic" {
            "plans/basic/display.yaml"
        } else {
            "plans/pro/display.yaml"
        };
        let deploy: &'static str = if plan == "basic" {
            "plans/basic/deployment/deploy.tf"
        } else {
            "plans/pro/deployment/deploy.tf"
        };
        edits.push(sub(
            display,
            "          - name: backups\n",
            "          - name: backups\n          - name: motd\n",
        ));
        edits.push(sub(
            deploy,
            "locals {",
            "variable \"motd\" {\n  type = string\n}\n\nlocals {",
        ));
    }
    edits
}

/// Seed 003 table 5 (`actions`): "if no action is given, the option is shown inactive; the user
/// cannot change its value". `actions: []` is valid; only a missing `actions` is an error.
#[test]
fn empty_actions_is_valid_shown_read_only_and_not_settable() {
    let edits = with_motd();
    assert_eq!(errors(&edits), vec![]);
    let c = catalog(&edits);
    let plans = c["services"][0]["plans"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(plans.len(), 2);
    for plan in plans {
        let instance = &plan["schemas"]["service_instance"];
        for section in ["create", "update", "resource_usages"] {
            let props = &instance[section]["parameters"]["properties"];
            assert!(
                props.get("motd").is_none(),
                "motd is settable on {section}: {props}"
            );
        }
        // It is shown: listed in its group, marked read-only; the others are not marked.
        let params: Vec<Value> = plan["display"]["pages"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|p| p["groups"].as_array().cloned().unwrap_or_default())
            .flat_map(|g| g["parameters"].as_array().cloned().unwrap_or_default())
            .collect();
        let motd: Vec<&Value> = params.iter().filter(|p| p["name"] == "motd").collect();
        assert_eq!(motd.len(), 1, "{params:?}");
        assert_eq!(motd[0]["read_only"], true);
        assert!(params
            .iter()
            .filter(|p| p["name"] != "motd")
            .all(|p| p.get("read_only").is_none()));
        // Options with actions are still settable.
        assert!(instance["create"]["parameters"]["properties"]
            .get("title")
            .is_some());
    }
}

/// Seed 003 table 5 marks `actions` as required: a missing key is still an error.
#[test]
fn missing_actions_is_still_an_error() {
    let found = errors(&[sub(
        "parameters/title.yaml",
        "actions:\n  - create\n  - update\n",
        "",
    )]);
    assert_eq!(
        found,
        vec![(
            "option/required".to_owned(),
            "parameters/title.yaml".to_owned(),
            1
        )]
    );
}

/// Seed 003 table 9 names the flavor CPU filter `datasource.filter.vcpu`; VK's examples write
/// `vcpus`. Both are accepted and mean the same.
#[test]
fn flavor_filter_vcpu_spelling_of_seed_table_9_is_accepted() {
    let edits = [sub(
        "parameters/flavor.yaml",
        "      vcpus:\n",
        "      vcpu:\n",
    )];
    assert_eq!(errors(&edits), vec![]);
    let v = vitrina_package::validate(&build(&edits).files);
    let def = v.model.options["flavor"]
        .1
        .clone()
        .expect("the flavor option reads");
    let ds = def.field.datasource().expect("a datasource").clone();
    assert_eq!(ds.filter.vcpus.and_then(|b| b.minimum), Some(1));
}

/// Seed 003 table 4: `short_description` is a "string, up to 255 characters" (it was refused
/// above 120).
#[test]
fn short_description_up_to_255_characters_as_seed_table_4() {
    let text = "x".repeat(255);
    let edits = [sub(
        "service.yaml",
        "short_description: A demo service",
        format!("short_description: {text}"),
    )];
    assert_eq!(errors(&edits), vec![]);
    let longer = [sub(
        "service.yaml",
        "short_description: A demo service",
        format!("short_description: {text}x"),
    )];
    assert_eq!(
        errors(&longer),
        vec![("service/too-long".to_owned(), "service.yaml".to_owned(), 4)]
    );
}
