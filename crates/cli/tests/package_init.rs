//! `vitrina package init`: the package it writes validates with no diagnostic at all, for both
//! generator versions and several plans; an existing folder is never overwritten (exit 2).

use std::path::Path;
use std::process::{Command, Output};

fn vitrina(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vitrina"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("vitrina runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `validate PATH --format json` and asserts exit 0 and an empty diagnostics list.
fn assert_validates_clean(cwd: &Path, path: &str) {
    let out = vitrina(cwd, &["package", "validate", path, "--format", "json"]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "validate {path} failed:\n{stdout}\n{}",
        text(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    assert_eq!(report["ok"], serde_json::Value::Bool(true), "{stdout}");
    assert_eq!(
        report["diagnostics"],
        serde_json::json!([]),
        "init must write a package with no diagnostic at all: {stdout}"
    );
}

#[test]
fn init_then_validate_has_no_diagnostics() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = vitrina(dir.path(), &["package", "init", "my_app"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let version =
        std::fs::read_to_string(dir.path().join("my_app/version.yaml")).expect("version.yaml");
    assert_eq!(version, "version: 1.0.0\n");
    assert!(dir
        .path()
        .join("my_app/plans/basic/deployment/deploy.tf")
        .is_file());
    assert_validates_clean(dir.path(), "my_app");
}

#[test]
fn init_generator_0_0_1_validates() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = vitrina(
        dir.path(),
        &["package", "init", "old_app", "--generator", "0.0.1"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let version =
        std::fs::read_to_string(dir.path().join("old_app/version.yaml")).expect("version.yaml");
    assert_eq!(version, "version: 0.0.1\n");
    assert_validates_clean(dir.path(), "old_app");
}

#[test]
fn init_with_plans_and_dir_validates() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = vitrina(
        dir.path(),
        &[
            "package",
            "init",
            "my_app",
            "--dir",
            "parent/sub",
            "--plans",
            "a,b",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let root = dir.path().join("parent/sub/my_app");
    for plan in ["a", "b"] {
        assert!(
            root.join(format!("plans/{plan}/plan.yaml")).is_file(),
            "plan {plan}"
        );
    }
    let service = std::fs::read_to_string(root.join("service.yaml")).expect("service.yaml");
    assert!(service.contains("  - name: a\n  - name: b\n"), "{service}");
    assert_validates_clean(dir.path(), "parent/sub/my_app");

    // The zip `pack` makes validates just as cleanly.
    let out = vitrina(
        dir.path(),
        &["package", "pack", "parent/sub/my_app", "-o", "my_app.zip"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_validates_clean(dir.path(), "my_app.zip");
}

#[test]
fn init_refuses_an_existing_folder() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("taken")).expect("mkdir");
    std::fs::write(dir.path().join("taken/keep.txt"), "mine").expect("write");
    let out = vitrina(dir.path(), &["package", "init", "taken"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("already exists"),
        "{}",
        text(&out.stderr)
    );
    let entries = std::fs::read_dir(dir.path().join("taken"))
        .expect("read_dir")
        .count();
    assert_eq!(entries, 1, "nothing may be written into an existing folder");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("taken/keep.txt")).expect("kept"),
        "mine"
    );
}

#[test]
fn init_rejects_bad_names_with_usage_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    for args in [
        &["package", "init", "my app"][..],
        &["package", "init", "ok", "--plans", "a-b"][..],
        &["package", "init", "ok", "--generator", "2.0.0"][..],
    ] {
        let out = vitrina(dir.path(), args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains("error"),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("read_dir").count(),
        0,
        "a refused init writes nothing"
    );
}
