//! The public VM-SDF examples (`fixtures/vm-sdf/`, copied from `shared/fixtures/vm-sdf/`) and
//! the seed's own examples: each validates, or fails with exactly the defects that folder's
//! `DEFECTS.md` lists (code and position), no more and no fewer.

use std::path::{Path, PathBuf};

use vitrina_package::sdf::{validate_path, validate_text, SdfValidated};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/vm-sdf")
}

/// Every diagnostic as `severity code line:col`.
fn found(v: &SdfValidated) -> Vec<String> {
    v.sources
        .to_json(&v.diagnostics)
        .iter()
        .map(|d| {
            format!(
                "{} {} {}:{}",
                d["severity"].as_str().unwrap_or_default(),
                d["code"].as_str().unwrap_or_default(),
                d["line"],
                d["column"]
            )
        })
        .collect()
}

fn check(file: &str, want: &[&str]) {
    let v = validate_path(&dir().join(file)).expect("fixture readable");
    assert_eq!(
        found(&v),
        want,
        "{file}:\n{}",
        v.sources.render_text(&v.diagnostics, "")
    );
}

/// The draft's placeholders (`[shared-key-value-store-key: ...]`, a trailing `...`) removed,
/// as `DEFECTS.md` describes, so that the rest of the draft is checked.
fn repaired(file: &str) -> SdfValidated {
    let text = std::fs::read_to_string(dir().join(file)).expect("fixture");
    let text: String = text
        .lines()
        .map(|l| {
            if l.contains("[shared-key-value-store-key") || l.trim() == "..." {
                "\n".to_owned()
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    validate_text(file, &text)
}

#[test]
fn every_fixture_has_its_expectation() {
    let mut files: Vec<String> = std::fs::read_dir(dir())
        .expect("fixtures")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yml") || n.ends_with(".yaml"))
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "deployment-info-1.yml",
            "lnmp.yml",
            "mysql-ms.yml",
            "seed-lnmp-10.yml",
            "seed-mysql-sections.yml"
        ]
    );
}

#[test]
fn lnmp_draft_placeholder_is_a_syntax_error() {
    check("lnmp.yml", &["error yaml/syntax 24:3"]);
}

#[test]
fn mysql_ms_draft_placeholder_is_a_syntax_error() {
    check("mysql-ms.yml", &["error yaml/syntax 28:3"]);
}

#[test]
fn deployment_info_example_is_mis_indented() {
    check("deployment-info-1.yml", &["error yaml/syntax 11:16"]);
}

#[test]
fn seed_lnmp_validates_with_its_draft_bounds_flagged() {
    check(
        "seed-lnmp-10.yml",
        &["warning sdf/legacy-key 83:7", "warning sdf/legacy-key 84:7"],
    );
}

#[test]
fn seed_mysql_sections_validate_clean() {
    check("seed-mysql-sections.yml", &[]);
}

#[test]
fn lnmp_draft_defects_once_the_placeholder_is_removed() {
    assert_eq!(
        found(&repaired("lnmp.yml")),
        [
            "error sdf/bad-value 8:11",
            "warning yaml/unknown-key 13:3",
            "error sdf/unknown-feature 15:5",
            "error sdf/unknown-feature 16:5",
            "error sdf/unknown-feature 17:5",
            "error sdf/unknown-feature 18:5",
            "warning yaml/unknown-key 20:3",
            "warning yaml/unknown-key 22:5",
            "error sdf/unknown-type 29:13",
            "error sdf/unknown-type 36:13",
            "error sdf/unknown-type 41:13",
            "error sdf/unknown-type 48:13",
            "error sdf/unknown-type 55:13",
            "error sdf/unknown-type 60:13",
            "error sdf/unknown-type 65:13",
            "error sdf/unknown-type 72:13",
        ]
    );
}

#[test]
fn mysql_ms_draft_defects_once_the_placeholder_is_removed() {
    assert_eq!(
        found(&repaired("mysql-ms.yml")),
        [
            "warning yaml/unknown-key 12:3",
            "warning yaml/unknown-key 16:3",
            "error sdf/unknown-feature 18:5",
            "error sdf/unknown-feature 19:5",
            "error sdf/unknown-feature 20:5",
            "error sdf/unknown-feature 21:5",
            "error sdf/unknown-feature 23:5",
            "warning yaml/unknown-key 24:3",
            "warning yaml/unknown-key 26:5",
            "error sdf/unknown-type 33:13",
            "error sdf/unknown-type 38:13",
            "error sdf/unknown-type 45:13",
            "error sdf/unknown-type 52:13",
            "error sdf/unknown-type 57:13",
            "error sdf/unknown-type 62:13",
            "error sdf/unknown-type 69:13",
            "error sdf/unknown-type 75:13",
            "error sdf/unknown-type 85:13",
            "error sdf/not-an-app 91:1",
            "error sdf/not-an-app 102:1",
            "error sdf/not-an-app 111:1",
            "error sdf/not-an-app 119:1",
            "error sdf/not-an-app 128:1",
            "error sdf/required 137:1",
            "error sdf/required 137:1",
            "error yaml/type 138:9",
            "error yaml/type 141:7",
        ]
    );
}

#[test]
fn draft_names_get_the_seeds_names_as_fixes() {
    let v = repaired("lnmp.yml");
    let json = v.sources.to_json(&v.diagnostics);
    let fix_of = |line: u64| {
        json.iter()
            .find(|d| d["line"] == line && d["severity"] == "error")
            .and_then(|d| {
                d["fix"]["edits"][0]["replacement"]
                    .as_str()
                    .map(str::to_owned)
            })
    };
    assert_eq!(fix_of(17).as_deref(), Some("vm-key-value-storage"));
    assert_eq!(fix_of(29).as_deref(), Some("DomainName"));
    assert_eq!(fix_of(65).as_deref(), Some("Number"));
    // BOOLEAN has no one-word equivalent: help only.
    assert_eq!(fix_of(60), None);
}
