//! `vitrina package validate --fix [--unsafe-fixes]` (issue 7, point 4): fixable mistakes
//! planted in a copy of each example package are fixed back to a package that validates clean;
//! unsafe fixes are applied only with `--unsafe-fixes`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn validate(pkg: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["package", "validate", "--format", "json"];
    args.extend_from_slice(extra);
    let out = Command::new(env!("CARGO_BIN_EXE_vitrina"))
        .args(&args)
        .arg(pkg)
        .output()
        .expect("run vitrina");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

fn edit(path: &Path, f: impl FnOnce(&str) -> String) {
    let text = std::fs::read_to_string(path).expect("read");
    let new = f(&text);
    assert_ne!(new, text, "{}: the plant changed nothing", path.display());
    std::fs::write(path, new).expect("write");
}

fn sub(find: &str, with: &str) -> impl FnOnce(&str) -> String {
    let (find, with) = (find.to_owned(), with.to_owned());
    move |t: &str| {
        assert!(t.contains(&find), "`{find}` not found");
        t.replacen(&find, &with, 1)
    }
}

fn codes(json: &Value, severity: &str) -> BTreeSet<String> {
    json["diagnostics"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| d["severity"] == severity)
        .map(|d| d["code"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").path())
        .collect();
    v.sort();
    v
}

/// Plants fixable mistakes: safe ones in service.yaml, an option, a plan and its manifest;
/// unsafe ones (a non-UUID4 service id, an option without `actions`). Returns the planted
/// non-UUID4 service id.
fn plant(pkg: &Path) -> String {
    let service = pkg.join("service.yaml");
    let text = std::fs::read_to_string(&service).expect("service.yaml");
    let id = text
        .lines()
        .find_map(|l| l.strip_prefix("id: "))
        .expect("an id")
        .trim()
        .to_owned();
    // Safe: a quoted bool, a key typo.
    edit(&service, sub("bindable: true", "bindable: \"true\""));
    edit(&service, sub("deactivatable:", "deactivatble:"));
    // Unsafe: a version-1 id (the 15th character is the version).
    let mut bad_id = id.clone();
    bad_id.replace_range(14..15, "1");
    edit(
        &service,
        sub(&format!("id: {id}"), &format!("id: {bad_id}")),
    );
    let id = bad_id;

    let options = sorted_entries(&pkg.join("parameters"));
    // Safe: a type typo in the first option.
    edit(&options[0], |t| {
        for (good, bad) in [
            ("type: string", "type: strng"),
            ("type: integer", "type: integr"),
        ] {
            if t.contains(good) {
                return t.replacen(good, bad, 1);
            }
        }
        panic!("no type to break")
    });
    // Unsafe: the second option loses its `actions`.
    edit(&options[1], |t| {
        let start = t.find("actions:").expect("actions");
        let rest = &t[start..];
        let mut end = start + rest.find('\n').map_or(rest.len(), |i| i + 1);
        while t[end..].starts_with("  - ") {
            end += t[end..].find('\n').map_or(t.len() - end, |i| i + 1);
        }
        format!("{}{}", &t[..start], &t[end..])
    });

    let plan = sorted_entries(&pkg.join("plans")).remove(0);
    let folder = plan
        .file_name()
        .and_then(|n| n.to_str())
        .expect("plan folder")
        .to_owned();
    // Safe: the plan's name differs from its folder.
    edit(
        &plan.join("plan.yaml"),
        sub(&format!("name: {folder}"), &format!("name: {folder}x")),
    );
    // Safe: a resource type typo and an argument typo in the manifest (real schemas).
    let deploy = plan.join("deployment/deploy.tf");
    edit(
        &deploy,
        sub(
            "resource \"vkcs_networking_secgroup\"",
            "resource \"vkcs_networking_secgrop\"",
        ),
    );
    edit(&deploy, |t| {
        let at = t.find("flavor_id").expect("flavor_id");
        format!("{}flavour_id{}", &t[..at], &t[at + "flavor_id".len()..])
    });
    id
}

#[test]
fn fix_restores_each_example_and_unsafe_fixes_wait_for_their_flag() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/packages");
    let mut seen = 0;
    for example in sorted_entries(&examples) {
        let name = example
            .file_name()
            .and_then(|n| n.to_str())
            .expect("name")
            .to_owned();
        let clean = validate(&example, &[]);
        assert_eq!(clean["ok"], true, "{name}: {clean}");
        let warnings = codes(&clean, "warning");

        let tmp = tempfile::tempdir().expect("tempdir");
        let pkg = tmp.path().join(&name);
        copy_dir(&example, &pkg);
        let id = plant(&pkg);
        let broken = validate(&pkg, &[]);
        assert_eq!(broken["ok"], false);
        let planted = codes(&broken, "error");
        for code in [
            "yaml/type",
            "service/required",
            "service/id-not-uuid4",
            "option/bad-type",
            "option/required",
            "plan/name-mismatch",
            "manifest/unknown-resource-type",
            "manifest/unknown-argument",
        ] {
            assert!(
                planted.contains(code),
                "{name}: {code} not planted: {planted:?}"
            );
        }
        // Every diagnostic of the plants carries its fix in the JSON.
        let with_fix = broken["diagnostics"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| d["severity"] == "error")
            .all(|d| d["fix"]["edits"].as_array().is_some_and(|e| !e.is_empty()));
        assert!(with_fix, "{name}: an error without a fix: {broken:#}");

        // Safe fixes only: the unsafe mistakes remain, the service id is untouched.
        let safe = validate(&pkg, &["--fix"]);
        assert_eq!(
            codes(&safe, "error"),
            BTreeSet::from([
                "option/required".to_owned(),
                "service/id-not-uuid4".to_owned()
            ]),
            "{name}: {safe:#}"
        );
        assert!(safe["fixed"].as_u64().is_some_and(|n| n >= 6), "{safe}");
        let service = std::fs::read_to_string(pkg.join("service.yaml")).expect("read");
        assert!(
            service.contains(&format!("id: {id}")),
            "{name}: the unsafe id fix was applied without its flag"
        );

        // With the unsafe ones: clean, with the example's own warnings only.
        let all = validate(&pkg, &["--fix", "--unsafe-fixes"]);
        assert_eq!(all["ok"], true, "{name}: {all:#}");
        assert_eq!(codes(&all, "error"), BTreeSet::new());
        assert_eq!(codes(&all, "warning"), warnings, "{name}: {all:#}");
        let service = std::fs::read_to_string(pkg.join("service.yaml")).expect("read");
        assert!(!service.contains(&format!("id: {id}")), "{service}");
        assert!(service.contains("bindable: true\n"), "{service}");
        assert!(service.contains("deactivatable:"), "{service}");
        seen += 1;
    }
    assert_eq!(seen, 3, "the three example packages");
}

#[test]
fn fix_refuses_a_zip() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let zip = tmp.path().join("p.zip");
    std::fs::write(&zip, b"PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_vitrina"))
        .args(["package", "validate", "--fix"])
        .arg(&zip)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a package folder"));
}
