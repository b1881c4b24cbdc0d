//! The rooms of `docs/ARCHITECTURE.md`: a room depends only on rooms above it in the table, never
//! back, and only on the rooms its allow-list names. Checked on the real dependency graph from
//! `cargo metadata`.

use std::process::Command;

/// The rooms in order: each may depend only on rooms listed before it.
const ROOMS: &[&str] = &[
    "vitrina-diagnostics",
    "vitrina-common",
    "vitrina-forms",
    "vitrina-pricing",
    "vitrina-hcl",
    "vitrina-package",
    "vitrina-engine",
    "vitrina-openstack",
    "vitrina-agent-api",
    "vitrina-providers",
    "vitrina-localcloud",
    "vitrina-agent",
    "vitrina-server",
    "vitrina-cli",
];

/// Leaf rooms: shared vocabulary any room may use.
const LEAVES: &[&str] = &["vitrina-diagnostics", "vitrina-common"];

/// Besides the leaves, the rooms each room may depend on (normal and build dependencies).
/// A room missing here may depend on leaves only.
const ALLOWED: &[(&str, &[&str])] = &[
    ("vitrina-hcl", &[]),
    (
        "vitrina-package",
        &["vitrina-forms", "vitrina-pricing", "vitrina-hcl"],
    ),
    ("vitrina-engine", &["vitrina-hcl"]),
    ("vitrina-openstack", &[]),
    // The config service's contract: no server, no cloud, no engine.
    ("vitrina-agent-api", &[]),
    (
        "vitrina-providers",
        &[
            "vitrina-engine",
            "vitrina-hcl",
            "vitrina-openstack",
            "vitrina-agent-api",
        ],
    ),
    ("vitrina-localcloud", &["vitrina-openstack"]),
    // The in-VM agent talks HTTP through the API room only.
    ("vitrina-agent", &["vitrina-agent-api"]),
    (
        "vitrina-server",
        &[
            "vitrina-forms",
            "vitrina-package",
            // the deployment system runs the engine with the providers
            "vitrina-engine",
            "vitrina-providers",
            "vitrina-agent-api",
            "vitrina-localcloud",
            "vitrina-openstack",
            // the product API checks uploaded packages
            "vitrina-package",
        ],
    ),
    (
        "vitrina-cli",
        &[
            "vitrina-package",
            "vitrina-localcloud",
            "vitrina-engine",
            "vitrina-providers",
            "vitrina-server",
            "vitrina-agent-api",
            "vitrina-openstack",
        ],
    ),
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
                let allowed = ALLOWED
                    .iter()
                    .find(|(room, _)| *room == name)
                    .map(|(_, deps)| *deps)
                    .unwrap_or(&[]);
                assert!(
                    LEAVES.contains(&dep_name) || allowed.contains(&dep_name),
                    "room `{name}` depends on `{dep_name}`, which its allow-list in crates/cli/tests/rooms.rs does not name; \
                     change docs/ARCHITECTURE.md and the list together if the design changed"
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
