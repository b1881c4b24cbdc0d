//! One case per diagnostic code: the base package with one change, reporting that code at the
//! expected file:line:col and no other error. The JSON of each case is a golden snapshot
//! (`tests/snapshots/`).

mod common;

use std::collections::BTreeSet;

use common::{build, png, put, sub, validate_json, Edit};
use vitrina_package::codes;

struct Case {
    code: &'static str,
    edits: Vec<Edit>,
    /// For diagnostics about a whole file (no marker): the file, at 1:1.
    file: Option<&'static str>,
    /// Validate with provider schemas ([`common::test_schemas`]).
    schemas: bool,
}

fn case(code: &'static str, edits: Vec<Edit>) -> Case {
    Case {
        code,
        edits,
        file: None,
        schemas: false,
    }
}

/// A case of the checks made against provider schemas.
fn schema_case(code: &'static str, edits: Vec<Edit>) -> Case {
    Case {
        code,
        edits,
        file: None,
        schemas: true,
    }
}

fn file_case(code: &'static str, file: &'static str, edits: Vec<Edit>) -> Case {
    Case {
        code,
        edits,
        file: Some(file),
        schemas: false,
    }
}

const DEPLOY: &str = "plans/basic/deployment/deploy.tf";
const DISPLAY: &str = "plans/basic/display.yaml";

fn cases() -> Vec<Case> {
    let long = "x".repeat(300);
    vec![
        file_case(codes::PACKAGE_MISSING_FILE, "full_description.md", vec![Edit::Remove("full_description.md")]),
        file_case(
            codes::PACKAGE_BAD_NAME,
            "images/my icon.png",
            vec![Edit::PutBytes("images/my icon.png", png(64, 64))],
        ),
        case(codes::YAML_SYNTAX, vec![sub("parameters/title.yaml", "description: Page title", "description: Page title⟦: x")]),
        case(codes::YAML_TYPE, vec![sub("service.yaml", "bindable: true", "bindable: ⟦\"true\"")]),
        case(codes::YAML_UNKNOWN_KEY, vec![sub("service.yaml", "name: Demo\n", "name: Demo\n⟦nmae: Demo\n")]),
        case(codes::YAML_DUPLICATE_KEY, vec![sub("service.yaml", "name: Demo\n", "name: Demo\n⟦name: Demo\n")]),
        case(codes::VERSION_UNSUPPORTED, vec![put("version.yaml", "version: ⟦2.0.0\n")]),
        file_case(codes::SERVICE_REQUIRED, "service.yaml", vec![sub("service.yaml", "deactivatable: false\n", "")]),
        case(
            codes::SERVICE_ID_NOT_UUID4,
            vec![sub("service.yaml", "id: 0f8d8f3e-2c4b-4a7e", "id: ⟦0f8d8f3e-2c4b-1a7e")],
        ),
        case(
            codes::SERVICE_TOO_LONG,
            vec![sub("service.yaml", "short_description: A demo service", format!("short_description: ⟦{}", "a".repeat(256)))],
        ),
        case(codes::SERVICE_BINDABLE_FALSE, vec![sub("service.yaml", "bindable: true", "bindable: ⟦false")]),
        case(codes::SERVICE_PLAN_UPDATEABLE, vec![sub("service.yaml", "plan_updateable: false", "plan_updateable: ⟦true")]),
        case(codes::SERVICE_UNKNOWN_PLAN, vec![sub("service.yaml", "  - name: pro\n", "  - name: pro\n  - name: ⟦gold\n")]),
        case(
            codes::SERVICE_UNKNOWN_PREVIEW_OPTION,
            vec![sub("service.yaml", "    - name: nodes\n", "    - name: nodes\n    - name: ⟦ghost\n")],
        ),
        case(codes::ICON_MISSING, vec![sub("service.yaml", "icon: icon.png", "icon: ⟦logo.png")]),
        case(codes::ICON_TOO_LARGE, vec![
            sub("service.yaml", "icon: icon.png", "icon: ⟦icon.png"),
            Edit::PutBytes("images/icon.png", {
                let mut v = png(64, 64);
                v.resize(1024 * 1024 + 1, 0);
                v
            }),
        ]),
        case(codes::ICON_TOO_SMALL, vec![
            sub("service.yaml", "icon: icon.png", "icon: ⟦icon.png"),
            Edit::PutBytes("images/icon.png", png(32, 32)),
        ]),
        case(codes::OPTION_REQUIRED, vec![
            sub("parameters/title.yaml", "schema:\n  description: Page title\n", "⟦schema:\n"),
        ]),
        case(codes::OPTION_BAD_ACTION, vec![sub("parameters/backups.yaml", "  - update\n", "  - ⟦delete\n")]),
        case(codes::OPTION_BAD_TYPE, vec![sub("parameters/backups.yaml", "type: boolean", "type: ⟦bool")]),
        case(codes::OPTION_CONFLICTING_KEYS, vec![sub("parameters/nodes.yaml", "  default: 1\n", "  default: 1\n  ⟦minimum: 1\n")]),
        case(codes::OPTION_DEFAULT_NOT_IN_ENUM, vec![sub("parameters/nodes.yaml", "default: 1", "default: ⟦2")]),
        case(codes::OPTION_RANGE, vec![sub("parameters/disk_size.yaml", "default: 10", "default: ⟦500")]),
        case(codes::OPTION_BAD_PATTERN, vec![sub("parameters/title.yaml", "pattern: \"^[A-Za-z ]+$\"", "pattern: ⟦\"^[A-Za-z \"")]),
        case(codes::OPTION_BAD_DATASOURCE, vec![sub("parameters/flavor.yaml", "  type: string\n", "  type: string\n  ⟦default: m1\n")]),
        case(codes::OPTION_BILLING, vec![sub("parameters/title.yaml", "actions:", "⟦billing:\n  cost: 1\nactions:")]),
        case(codes::OPTION_UNPAIRED_TAG, vec![
            sub("parameters/disk_size.yaml", "  tag: data\n", ""),
            sub("parameters/disk_type.yaml", "tag: data", "tag: ⟦data"),
        ]),
        case(codes::OPTION_TOO_LONG, vec![sub("parameters/title.yaml", "hint: Shown in the browser tab", format!("hint: ⟦{long}"))]),
        file_case(codes::PLAN_REQUIRED, "plans/pro/plan.yaml", vec![sub("plans/pro/plan.yaml", "free: false\n", "")]),
        case(codes::PLAN_ID_NOT_UUID4, vec![sub("plans/pro/plan.yaml", "id: 9e8d7c6b", "id: ⟦9e8d7c6")]),
        case(codes::PLAN_DUPLICATE_ID, vec![
            sub("plans/pro/plan.yaml", "id: 9e8d7c6b-5a4f-4e3d-a2c1-b0a9f8e7d6c5", "id: ⟦1a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d"),
        ]),
        case(codes::PLAN_NAME_MISMATCH, vec![sub("plans/pro/plan.yaml", "name: pro", "name: ⟦professional")]),
        case(codes::PLAN_FREE_WITH_COST, vec![sub("plans/basic/plan.yaml", "cost: 0", "cost: ⟦10")]),
        case(codes::PLAN_BAD_BILLING_CYCLE, vec![
            sub("plans/pro/plan.yaml", "billing_cycle_flat: 1 mons 0 days", "billing_cycle_flat: ⟦1 month"),
        ]),
        case(codes::PLAN_BAD_PATCH, vec![
            sub("plans/pro/plan.yaml", "parameters_patch:\n", "parameters_patch:\n  ⟦ghost:\n    schema.default: 1\n"),
        ]),
        case(codes::PLAN_MIXED_BILLING, vec![
            put(
                "parameters/storage.yaml",
                "actions:\n  - resource_usages\nbilling:\n  cost: 7\n  unit:\n    size: 1\n    measurement: GB\nschema:\n  description: Storage\n  type: number\n",
            ),
            sub("plans/basic/plan.yaml", "billing:", "⟦resource_usages:\n  - storage\nbilling:"),
        ]),
        case(codes::PLAN_TOO_LONG, vec![sub("plans/pro/plan.yaml", "description: Professional", format!("description: ⟦{long}"))]),
        case(codes::DISPLAY_TOO_MANY_PAGES, vec![sub(
            DISPLAY,
            "entities:",
            "  - name: P3\n    groups: []\n  - name: P4\n    groups: []\n  - name: P5\n    groups: []\n  - ⟦name: P6\n    groups: []\nentities:",
        )]),
        case(codes::DISPLAY_TOO_LONG, vec![sub(DISPLAY, "  - name: Site", format!("  - name: ⟦{}", "S".repeat(33)))]),
        case(codes::DISPLAY_UNKNOWN_OPTION, vec![sub(DISPLAY, "          - name: title\n", "          - name: title\n          - name: ⟦ghost\n")]),
        case(codes::DISPLAY_DUPLICATE_OPTION, vec![sub(DISPLAY, "          - name: title\n", "          - name: title\n          - name: ⟦nodes\n")]),
        case(codes::DISPLAY_BAD_WHEN, vec![sub(
            DISPLAY,
            "      - name: Page\n",
            "      - name: Page\n        when:\n          ⟦in:\n            key:\n              param: nodes\n",
        )]),
        case(codes::DISPLAY_MISSING_ENTITIES, vec![put(
            DISPLAY,
            common::DISPLAY
                .split("entities:")
                .next()
                .unwrap_or_default()
                .replacen("- name: flavor", "- name: ⟦flavor", 1),
        )]),
        case(codes::DISPLAY_BAD_ENTITY, vec![sub(DISPLAY, "    count:\n      param: nodes\n", "    ⟦count:\n      param: nodes\n      const: 1\n")]),
        case(codes::MANIFEST_SYNTAX, vec![sub(DEPLOY, "locals {\n", "locals {\n  x = ⟦}\n")]),
        case(codes::MANIFEST_MISSING_TYPE, vec![sub(DEPLOY, "variable \"title\" {\n  type = string\n}", "variable ⟦\"title\" {\n}")]),
        case(codes::MANIFEST_UNBOUND_VARIABLE, vec![sub(DEPLOY, "locals {", "variable ⟦\"region\" {\n  type = string\n}\n\nlocals {")]),
        case(codes::MANIFEST_TYPE_MISMATCH, vec![sub(DEPLOY, "variable \"nodes\" {\n  type = number", "variable \"nodes\" {\n  type = ⟦string")]),
        case(codes::MANIFEST_UNUSED_OPTION, vec![
            sub(DEPLOY, "variable \"backups\" {\n  type = bool\n}\n", ""),
            sub(DEPLOY, " ${var.backups}", ""),
            sub(DISPLAY, "          - name: backups", "          - name: ⟦backups"),
        ]),
        case(codes::MANIFEST_UNKNOWN_REFERENCE, vec![sub(DEPLOY, "echo ${var.title}", "echo ${⟦var.titel}")]),
        case(codes::MANIFEST_UNKNOWN_RESOURCE_TYPE, vec![sub(DEPLOY, "locals {", "resource ⟦\"aws_instance\" \"x\" {\n}\n\nlocals {")]),
        schema_case(codes::MANIFEST_UNKNOWN_ARGUMENT, vec![sub(DEPLOY, "  flavor_id         = var.flavor", "  ⟦flavour_id        = var.flavor")]),
        schema_case(codes::MANIFEST_MISSING_ARGUMENT, vec![sub(
            DEPLOY,
            "resource \"random_password\" \"admin\" {\n  length = 16\n}",
            "resource ⟦\"random_password\" \"admin\" {\n}",
        )]),
        schema_case(codes::MANIFEST_ARGUMENT_TYPE, vec![sub(DEPLOY, "  length = 16", "  length = ⟦\"sixteen\"")]),
        schema_case(codes::MANIFEST_UNKNOWN_ATTRIBUTE, vec![sub(DEPLOY, "value     = random_password.admin.result", "value     = random_password.admin.⟦reslt")]),
        case(codes::MANIFEST_DEPRECATED_RESOURCE, vec![sub(DEPLOY, "locals {", "resource ⟦\"ivkcs_agent_init\" \"init\" {\n}\n\nlocals {")]),
        case(codes::MANIFEST_BAD_AGENT_STEP, vec![sub(DEPLOY, "type    = \"bash\"", "type    = ⟦\"perl\"")]),
        case(codes::MANIFEST_SENSITIVE_OUTPUT, vec![
            sub(DEPLOY, "output \"password\" {", "output ⟦\"password\" {"),
            sub(DEPLOY, "  sensitive = true\n", ""),
        ]),
        case(codes::SETTINGS_BAD_VALUE, vec![sub("plans/basic/deployment/settings.yaml", "preset: base_v3", "preset: ⟦base_v9")]),
    ]
}

/// Codes tested elsewhere: archives (`zip.rs`), packing (`pack.rs`), and the panic boundary
/// (a bug in vitrina, which a package cannot trigger on purpose).
const ELSEWHERE: &[&str] = &[
    codes::PACKAGE_UNSAFE_ARCHIVE,
    codes::PACKAGE_TOO_LARGE,
    codes::PACKAGE_INTERNAL_ERROR,
];

#[test]
fn base_package_has_no_diagnostics() {
    let b = build(&[]);
    let json = validate_json(&b.files);
    assert_eq!(json, serde_json::json!({"ok": true, "diagnostics": []}));
    let json = common::validate_json_with(&b.files, &common::test_schemas());
    assert_eq!(json, serde_json::json!({"ok": true, "diagnostics": []}));
}

#[test]
fn every_code_has_a_case() {
    let tested: BTreeSet<&str> = cases()
        .iter()
        .map(|c| c.code)
        .chain(ELSEWHERE.iter().copied())
        .collect();
    // The package room's codes, and the parser's `manifest/syntax` it reports on manifests.
    // VM-SDF codes (`sdf/*`) have their cases in `tests/sdf_codes.rs`.
    let all: BTreeSet<&str> = codes::of_room("package")
        .map(|c| c.code)
        .filter(|c| !c.starts_with("sdf/"))
        .chain([codes::MANIFEST_SYNTAX])
        .collect();
    assert_eq!(all, tested);
}

#[test]
fn each_code_at_its_position_and_no_other_error() {
    let mut failures = Vec::new();
    for c in cases() {
        let b = build(&c.edits);
        let json = if c.schemas {
            common::validate_json_with(&b.files, &common::test_schemas())
        } else {
            validate_json(&b.files)
        };
        let diags = json["diagnostics"].as_array().cloned().unwrap_or_default();
        let (file, line, col) = match (&b.marker, c.file) {
            (Some(m), _) => m.clone(),
            (None, Some(f)) => (f.to_owned(), 1, 1),
            (None, None) => panic!("case {} has no expected position", c.code),
        };
        let severity = codes::REGISTRY
            .iter()
            .find(|r| r.code == c.code)
            .map(|r| r.severity.as_str())
            .unwrap_or_default();
        let hit = diags.iter().any(|d| {
            d["code"] == c.code
                && d["severity"] == severity
                && d["file"] == file.as_str()
                && d["line"] == line
                && d["column"] == col
        });
        let other_errors: Vec<&serde_json::Value> = diags
            .iter()
            .filter(|d| d["severity"] == "error" && d["code"] != c.code)
            .collect();
        if !hit || !other_errors.is_empty() {
            failures.push(format!(
                "{}: expected at {file}:{line}:{col}; got {}",
                c.code,
                serde_json::to_string_pretty(&diags).unwrap_or_default()
            ));
        }
        let name = c.code.replace('/', "__");
        insta::assert_json_snapshot!(name, redact_fresh_ids(json));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A fix that writes a fresh UUID4 differs on every run: the snapshot shows a placeholder.
fn redact_fresh_ids(mut json: serde_json::Value) -> serde_json::Value {
    if let Some(diags) = json["diagnostics"].as_array_mut() {
        for d in diags {
            let edits = d
                .get_mut("fix")
                .and_then(|f| f.get_mut("edits"))
                .and_then(serde_json::Value::as_array_mut);
            if let Some(edits) = edits {
                for e in edits {
                    let fresh = e["replacement"]
                        .as_str()
                        .and_then(|s| uuid::Uuid::try_parse(s).ok())
                        .is_some_and(|u| u.get_version_num() == 4);
                    if fresh {
                        e["replacement"] = "<fresh UUID4>".into();
                    }
                }
            }
        }
    }
    json
}
