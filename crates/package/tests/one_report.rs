//! One report per mistake (issue 7, point 2): a broken option, plan or display entry is reported
//! in its own file, and the files that use it get no errors because of it.

mod common;

use common::{base_texts, build, put, sub, validate_json, Edit};

/// Errors as (code, file, line).
fn errors(edits: &[Edit]) -> Vec<(String, String, u64)> {
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

/// The edits give at least one error, all of them in `file`.
fn only_in(file: &str, edits: &[Edit], what: &str) {
    let found = errors(edits);
    assert!(!found.is_empty(), "{what}: no error at all");
    let elsewhere: Vec<_> = found.iter().filter(|(_, f, _)| f != file).collect();
    assert!(
        elsewhere.is_empty(),
        "{what}: errors outside {file}: {elsewhere:?} (all: {found:?})"
    );
}

const OPTIONS: &[&str] = &[
    "flavor",
    "az",
    "disk_type",
    "disk_size",
    "nodes",
    "title",
    "backups",
    "extra_space",
];

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

#[test]
fn base_package_is_clean() {
    assert_eq!(errors(&[]), vec![]);
}

/// Every option of the base package, broken in several ways: its own file has the errors,
/// the plans, displays and manifests that use it have none.
#[test]
fn a_broken_option_is_reported_in_its_file_only() {
    let base = base_texts();
    for name in OPTIONS {
        let file = leak(format!("parameters/{name}.yaml"));
        let text = base[file].clone();
        // The first `type:` is the schema's.
        let ty_line = text
            .lines()
            .find(|l| l.trim_start().starts_with("type: "))
            .expect("a type line")
            .to_owned();
        let indent = &ty_line[..ty_line.len() - ty_line.trim_start().len()];
        let cases: Vec<(&str, String)> = vec![
            (
                "unknown type",
                text.replacen(&ty_line, &format!("{indent}type: integr"), 1),
            ),
            (
                "a type of another shape",
                text.replacen(&ty_line, &format!("{indent}type: [integer]"), 1),
            ),
            ("syntax error", format!("{text}  : [unclosed\n")),
            (
                "schema not a mapping",
                "actions: [create]\nschema: 5\n".to_owned(),
            ),
            (
                "actions not a list",
                text.replacen("actions:", "actions: create\nold_actions:", 1),
            ),
            ("empty file", String::new()),
        ];
        for (what, broken) in cases {
            only_in(file, &[put(file, broken)], &format!("{name}: {what}"));
        }
    }
}

/// A broken plan.yaml has its errors and nothing else: its patch is not applied, no option or
/// manifest is blamed.
#[test]
fn a_broken_plan_is_reported_in_its_file_only() {
    let file = "plans/pro/plan.yaml";
    let cases = vec![
        ("syntax error", put(file, "id: [\n")),
        ("not a mapping", put(file, "- id\n")),
        ("free quoted", sub(file, "free: false", "free: \"false\"")),
        (
            "billing not a mapping",
            sub(
                file,
                "billing:\n  cost: 990\n  refundable: true\n  billing_cycle_flat: 1 mons 0 days\n",
                "billing: 990\n",
            ),
        ),
        (
            "patch not a mapping",
            sub(
                file,
                "parameters_patch:\n  disk_size:\n    schema.default: 20\n    schema.minimum: 20\n",
                "parameters_patch: 3\n",
            ),
        ),
        ("bad id", sub(file, "id: 9e8d7c6b", "id: 9e8d7c6")),
        ("missing name", sub(file, "name: pro\n", "")),
    ];
    for (what, edit) in cases {
        only_in(file, &[edit], what);
    }
}

/// A broken display.yaml or entry: the manifest's variables for the options it would list are
/// not called unbound, the plan's patches are not called foreign.
#[test]
fn a_broken_display_entry_is_reported_in_its_file_only() {
    for plan in ["basic", "pro"] {
        let file = leak(format!("plans/{plan}/display.yaml"));
        let cases = vec![
            ("syntax error", put(file, "pages: [\n")),
            ("not a mapping", put(file, "- pages\n")),
            ("pages not a list", put(file, "pages: 5\n")),
            (
                "entry without name",
                sub(file, "- name: disk_size", "- nme: disk_size"),
            ),
            (
                "entry naming no file",
                sub(file, "- name: disk_size", "- name: disk_sise"),
            ),
            (
                "entry not a mapping",
                sub(file, "- name: disk_size", "- disk_size"),
            ),
            (
                "parameters not a list",
                sub(
                    file,
                    "        parameters:\n          - name: disk_type\n          - name: disk_size\n",
                    "        parameters: disk_type\n",
                ),
            ),
            (
                "group not a mapping",
                sub(
                    file,
                    "      - name: Disk\n        parameters:\n          - name: disk_type\n          - name: disk_size\n",
                    "      - Disk\n",
                ),
            ),
        ];
        for (what, edit) in cases {
            only_in(file, &[edit], &format!("{plan}: {what}"));
        }
    }
    // A missing display.yaml is reported once, at that path.
    only_in(
        "plans/pro/display.yaml",
        &[Edit::Remove("plans/pro/display.yaml")],
        "missing display",
    );
}
