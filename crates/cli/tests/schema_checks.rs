//! Manifests checked against the real provider schemas (issue 7, point 3), through the
//! `vitrina` binary: `package validate` finds a type typo, an unknown argument, a missing
//! required argument and a wrong argument type, one error each at its line with a
//! did-you-mean; `tf validate` answers the same for the same manifest.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const EXAMPLE: &str = "hello_web";
const DEPLOY: &str = "plans/free/deployment/deploy.tf";

fn vitrina(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_vitrina"))
        .args(args)
        .output()
        .expect("run vitrina");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{args:?}: not JSON ({e}): {}\n{}",
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

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/packages")
        .join(EXAMPLE)
}

/// A copy of the example with `find` replaced by `with` in the free plan's manifest.
fn planted(tmp: &Path, find: &str, with: &str) -> PathBuf {
    let pkg = tmp.join(EXAMPLE);
    copy_dir(&example(), &pkg);
    let path = pkg.join(DEPLOY);
    let text = std::fs::read_to_string(&path).expect("read deploy.tf");
    assert!(text.contains(find), "`{find}` not in {DEPLOY}");
    std::fs::write(&path, text.replacen(find, with, 1)).expect("write");
    pkg
}

/// The line (1-based) of the first occurrence of `needle` in the planted manifest.
fn line_of(pkg: &Path, needle: &str) -> u64 {
    let text = std::fs::read_to_string(pkg.join(DEPLOY)).expect("read");
    let at = text.find(needle).expect("needle");
    u64::try_from(text[..at].matches('\n').count() + 1).expect("line")
}

fn errors(json: &Value) -> Vec<Value> {
    json["diagnostics"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|d| d["severity"] == "error")
        .collect()
}

struct Plant {
    find: &'static str,
    with: &'static str,
    /// Where the error is: the first line containing this text after planting.
    at: &'static str,
    code: &'static str,
    tf_code: &'static str,
    help: Option<&'static str>,
}

const PLANTS: &[Plant] = &[
    Plant {
        find: "resource \"vkcs_compute_instance\" \"web\"",
        with: "resource \"vkcs_compute_instanse\" \"web\"",
        at: "vkcs_compute_instanse",
        code: "manifest/unknown-resource-type",
        tf_code: "tf/unknown-resource-type",
        help: Some("did you mean `vkcs_compute_instance`?"),
    },
    Plant {
        find: "  flavor_id         = var.flavor",
        with: "  flavour_id        = var.flavor",
        at: "flavour_id",
        code: "manifest/unknown-argument",
        tf_code: "tf/unsupported-argument",
        help: Some("did you mean `flavor_id`?"),
    },
    Plant {
        find: "  size              = var.data_size\n",
        with: "",
        at: "resource \"vkcs_blockstorage_volume\" \"data\"",
        code: "manifest/missing-argument",
        tf_code: "tf/missing-argument",
        help: None,
    },
    Plant {
        find: "  size              = var.data_size\n",
        with: "  size              = \"ten\"\n",
        at: "\"ten\"",
        code: "manifest/argument-type",
        tf_code: "tf/argument-type",
        help: None,
    },
];

#[test]
fn each_planted_mistake_is_one_error_at_its_line_in_package_and_tf_validate() {
    // The example itself is clean with the real schemas (vkcs, ivkcs, null, random, time).
    let clean = vitrina(
        &["package", "validate", "--format", "json"]
            .into_iter()
            .chain([example().to_str().expect("utf-8 path")])
            .collect::<Vec<_>>(),
    );
    assert_eq!(clean["ok"], true, "{clean}");
    assert_eq!(errors(&clean), Vec::<Value>::new());

    for p in PLANTS {
        let tmp = tempfile::tempdir().expect("tempdir");
        let pkg = planted(tmp.path(), p.find, p.with);
        let line = line_of(&pkg, p.at);
        let pkg_json = vitrina(&[
            "package",
            "validate",
            "--format",
            "json",
            pkg.to_str().expect("utf-8"),
        ]);
        let errs = errors(&pkg_json);
        assert_eq!(errs.len(), 1, "{}: {errs:#?}", p.code);
        let e = &errs[0];
        assert_eq!(e["code"], p.code, "{e}");
        assert_eq!(e["file"], DEPLOY, "{e}");
        assert_eq!(e["line"], line, "{e}");
        if let Some(help) = p.help {
            assert_eq!(e["help"], help, "{e}");
        }

        // The same manifest through `tf validate`: the same finding at the same place.
        let dir = tmp.path().join("tf");
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::copy(pkg.join(DEPLOY), dir.join("deploy.tf")).expect("copy");
        let tf_json = vitrina(&[
            "tf",
            "validate",
            dir.to_str().expect("utf-8"),
            "--format",
            "json",
        ]);
        let tf_errs = errors(&tf_json);
        assert_eq!(tf_errs.len(), 1, "{}: {tf_errs:#?}", p.tf_code);
        let t = &tf_errs[0];
        assert_eq!(t["code"], p.tf_code, "{t}");
        for key in ["line", "column", "message", "help"] {
            assert_eq!(t[key], e[key], "{key}: tf {t} vs package {e}");
        }
    }
}

/// References: an undeclared name and an attribute the type does not have, the same in both.
#[test]
fn references_answer_the_same_in_package_and_tf_validate() {
    let plants = [
        (
            "access_ip_v4",
            "access_ip_v5",
            "manifest/unknown-attribute",
            "tf/unknown-attribute",
        ),
        (
            "var.flavor",
            "var.flavr",
            "manifest/unknown-reference",
            "tf/undeclared",
        ),
    ];
    for (find, with, code, tf_code) in plants {
        let tmp = tempfile::tempdir().expect("tempdir");
        let pkg = planted(tmp.path(), find, with);
        let pkg_json = vitrina(&[
            "package",
            "validate",
            "--format",
            "json",
            pkg.to_str().expect("utf-8"),
        ]);
        let errs: Vec<Value> = errors(&pkg_json)
            .into_iter()
            .filter(|d| d["code"] == code)
            .collect();
        assert_eq!(errs.len(), 1, "{code}: {pkg_json:#}");
        let dir = tmp.path().join("tf");
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::copy(pkg.join(DEPLOY), dir.join("deploy.tf")).expect("copy");
        let tf_json = vitrina(&[
            "tf",
            "validate",
            dir.to_str().expect("utf-8"),
            "--format",
            "json",
        ]);
        let tf_errs: Vec<Value> = errors(&tf_json)
            .into_iter()
            .filter(|d| d["code"] == tf_code)
            .collect();
        assert_eq!(tf_errs.len(), 1, "{tf_code}: {tf_json:#}");
        for key in ["line", "column", "message", "help"] {
            assert_eq!(tf_errs[0][key], errs[0][key], "{key}");
        }
    }
}

/// VK's own manifests (`fixtures/vk-docs/deployment/`) pass the schema checks: no false error
/// from a schema that lacks what VK documents.
#[test]
fn vk_reference_manifests_pass_the_schema_checks() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/vk-docs/deployment");
    for name in ["grafana.deploy.tf", "legacy-redis.deploy.tf"] {
        let tmp = tempfile::tempdir().expect("tempdir");
        std::fs::copy(fixtures.join(name), tmp.path().join("main.tf")).expect("copy");
        let json = vitrina(&[
            "tf",
            "validate",
            tmp.path().to_str().expect("utf-8"),
            "--format",
            "json",
        ]);
        assert_eq!(errors(&json), Vec::<Value>::new(), "{name}: {json:#}");
    }
}
