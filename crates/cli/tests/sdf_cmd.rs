//! `vitrina sdf validate | build`, run as the real binary: diagnostics as text and JSON, exit
//! codes 0/1/2 of the contract, and a deterministic catalog.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn vitrina(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vitrina"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .output()
        .expect("run vitrina")
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/vm-sdf")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A folder with the seed's two examples.
fn apps(dir: &Path) -> PathBuf {
    let apps = dir.join("apps");
    std::fs::create_dir_all(&apps).expect("mkdir");
    for f in ["seed-lnmp-10.yml", "seed-mysql-sections.yml"] {
        std::fs::copy(fixtures().join(f), apps.join(f)).expect("copy");
    }
    apps
}

#[test]
fn validate_text_and_json_with_exit_codes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = apps(tmp.path());
    let o = vitrina(&["sdf", "validate", "apps"], tmp.path());
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    // Warnings are shown with file:line:col, the source line and a caret.
    let text = stdout(&o);
    assert!(
        text.contains("apps/seed-lnmp-10.yml:83:7: warning[sdf/legacy-key]"),
        "{text}"
    );
    assert!(text.contains("^^^^^^^^^^^"), "{text}");

    std::fs::write(dir.join("bad.yml"), "bad-1:\n  name: B\n  version: 1\n  source: https://r.example.com/b.tgz\n  variables:\n    x:\n      type: Strnig\n").expect("write");
    let o = vitrina(&["sdf", "validate", "apps", "--format", "json"], tmp.path());
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let json: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("one JSON object");
    assert_eq!(json["ok"], false);
    let err = json["diagnostics"]
        .as_array()
        .expect("list")
        .iter()
        .find(|d| d["severity"] == "error")
        .expect("an error");
    assert_eq!(err["code"], "sdf/unknown-type");
    assert_eq!(err["file"], "bad.yml");
    assert_eq!(
        (err["line"].as_u64(), err["column"].as_u64()),
        (Some(7), Some(13))
    );
    assert_eq!(err["help"], "did you mean `String`?");
    assert_eq!(err["fix"]["edits"][0]["replacement"], "String");

    // One file alone; a missing path is an I/O problem (2).
    let o = vitrina(
        &["sdf", "validate", "apps/seed-mysql-sections.yml", "--json"],
        tmp.path(),
    );
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert_eq!(stdout(&o).trim(), r#"{"ok":true,"diagnostics":[]}"#);
    let o = vitrina(&["sdf", "validate", "nope"], tmp.path());
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let o = vitrina(&["sdf", "validate"], tmp.path());
    assert_eq!(o.status.code(), Some(2), "{o:?}");
}

#[test]
fn build_writes_the_same_catalog_every_time() {
    let tmp = tempfile::tempdir().expect("tempdir");
    apps(tmp.path());
    let o = vitrina(&["sdf", "build", "apps", "-o", "catalog.yaml"], tmp.path());
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let first = std::fs::read_to_string(tmp.path().join("catalog.yaml")).expect("written");
    let o = vitrina(&["sdf", "build", "apps"], tmp.path());
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert_eq!(stdout(&o), first);
    let doc: serde_json::Value = serde_yaml::from_str(&first).expect("YAML");
    let ids: Vec<&String> = doc["applications"]
        .as_object()
        .expect("apps")
        .keys()
        .collect();
    assert_eq!(ids, ["lnmp-10", "mysql-sections"]);
    assert_eq!(
        doc["applications"]["lnmp-10"]["variables"]["domain-name"]["type"],
        "DomainName"
    );

    // An error: nothing written, exit 1. Not a folder: exit 2.
    std::fs::write(tmp.path().join("apps/bad.yml"), "bad-1:\n  name: B\n").expect("write");
    let o = vitrina(&["sdf", "build", "apps", "-o", "other.yaml"], tmp.path());
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(!tmp.path().join("other.yaml").exists());
    assert!(String::from_utf8_lossy(&o.stderr).contains("bad.yml:1:1: error[sdf/required]"));
    let o = vitrina(&["sdf", "build", "apps/bad.yml"], tmp.path());
    assert_eq!(o.status.code(), Some(2), "{o:?}");
}
