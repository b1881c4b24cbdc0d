//! The rooms of `docs/ARCHITECTURE.md`: a room depends only on rooms above it in the table, never
//! back. Checked on the real dependency graph from `cargo metadata`.

use std::process::Command;

/// The rooms in order: each may depend only on rooms listed before it.
const ROOMS: &[&str] = &[
    "vitrina-diagnostics",
    "vitrina-forms",
    "vitrina-pricing",
    "vitrina-hcl",
    "vitrina-package",
    "vitrina-engine",
    "vitrina-openstack",
    "vitrina-providers",
    "vitrina-localcloud",
    "vitrina-agent",
    "vitrina-server",
    "vitrina-cli",
];

#[test]
fn no_room_depends_on_a_room_to_its_right() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");
    let packages = meta["packages"].as_array().expect("packages array");
    let mut checked = 0;
    for pkg in packages {
        let name = pkg["name"].as_str().unwrap_or_default();
        let Some(pos) = ROOMS.iter().position(|r| *r == name) else {
            assert!(
                !name.starts_with("vitrina-"),
                "crate `{name}` is not a room of docs/ARCHITECTURE.md; add it to ROOMS in this test and to the map"
            );
            continue;
        };
        for dep in pkg["dependencies"].as_array().into_iter().flatten() {
            let dep_name = dep["name"].as_str().unwrap_or_default();
            if dep["kind"].as_str() == Some("dev") {
                continue;
            }
            if let Some(dep_pos) = ROOMS.iter().position(|r| *r == dep_name) {
                assert!(
                    dep_pos < pos,
                    "room `{name}` depends on `{dep_name}`, which is to its right in docs/ARCHITECTURE.md"
                );
            }
        }
        checked += 1;
    }
    assert!(
        checked >= 10,
        "expected every room in the metadata, saw {checked}"
    );
}
