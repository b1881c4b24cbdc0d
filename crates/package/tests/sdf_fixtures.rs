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
        .map(|d| format!("{} {} {}:{}", d["severity"].as_str().unwrap_or_default(), d["code"].as_str().unwrap_or_default(), d["line"], d["column"]))
        .collect()
}

fn check(file: &str, want: &[&str]) {
    let v = validate_path(&dir().join(file)).expect("fixture readable");
    assert_eq!(found(&v), want, "{file}:\n{}", v.sources.render_text(&v.diagnostics, ""));
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
        ["deployment-info-1.yml", "lnmp.yml", "mysql-ms.yml", "seed-lnmp-10.yml", "seed-mysql-sections.yml"]
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
    check("seed-lnmp-10.yml", &["warning sdf/legacy-key 83:7", "warning sdf/legacy-key 84:7"]);
}

#[test]
fn seed_mysql_sections_validate_clean() {
    check("seed-mysql-sections.yml", &[]);
}

#[test]
fn probe_lnmp_repaired() {
    println!("{:#?}", found(&repaired("lnmp.yml")));
    println!("{:#?}", found(&repaired("mysql-ms.yml")));
}
