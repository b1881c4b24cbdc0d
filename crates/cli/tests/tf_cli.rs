//! `vitrina tf` as the contract fixes it: exit codes 0/1/2, `plan --json`, `output --json`,
//! diagnostics as `file:line:col`.

use std::process::Command;

fn vitrina() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vitrina"))
}

const GOOD: &str = r#"
variable "n" {
  type    = number
  default = 1
}
resource "random_string" "s" {
  count   = var.n
  length  = 6
  special = false
}
output "names" {
  value = random_string.s[*].result
}
output "secret" {
  value     = random_string.s[0].result
  sensitive = true
}
"#;

#[test]
fn validate_plan_apply_output_destroy() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("main.tf"), GOOD).expect("write");

    let v = vitrina()
        .args(["tf", "validate"])
        .arg(dir.path())
        .output()
        .expect("run");
    assert_eq!(
        v.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&v.stderr)
    );

    let p = vitrina()
        .args(["tf", "plan"])
        .arg(dir.path())
        .args(["--var", "n=2", "--json"])
        .output()
        .expect("run");
    assert_eq!(
        p.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&p.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&p.stdout).expect("plan JSON");
    let addrs: Vec<&str> = plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| c["address"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(addrs, vec!["random_string.s[0]", "random_string.s[1]"]);
    assert_eq!(plan["changes"][0]["action"], "create");
    assert!(plan["changes"][0]["reasons"].is_array());
    assert!(plan["outputs"].is_object());

    let a = vitrina()
        .args(["tf", "apply"])
        .arg(dir.path())
        .arg("--auto-approve")
        .output()
        .expect("run");
    assert_eq!(
        a.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&a.stderr)
    );
    assert!(String::from_utf8_lossy(&a.stderr).contains("Apply complete! Resources: 1 added"));

    let o = vitrina()
        .args(["tf", "output"])
        .arg(dir.path())
        .arg("--json")
        .output()
        .expect("run");
    let out: serde_json::Value = serde_json::from_slice(&o.stdout).expect("output JSON");
    assert_eq!(out["secret"]["sensitive"], true);
    assert_eq!(
        out["secret"]["value"].as_str().map(str::len),
        Some(6),
        "sensitive values are shown to the state's owner"
    );
    assert_eq!(out["names"]["value"][0], out["secret"]["value"]);
    let text = vitrina()
        .args(["tf", "output"])
        .arg(dir.path())
        .output()
        .expect("run");
    assert!(String::from_utf8_lossy(&text.stdout).contains("secret = <sensitive>"));

    let d = vitrina()
        .args(["tf", "destroy"])
        .arg(dir.path())
        .arg("--auto-approve")
        .output()
        .expect("run");
    assert_eq!(
        d.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&d.stderr)
    );
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("vitrina.tfstate")).expect("state"))
            .expect("state JSON");
    assert_eq!(state["resources"].as_array().map(Vec::len), Some(0));
}

#[test]
fn exit_codes_and_diagnostics() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("main.tf"),
        "resource \"null_resource\" \"x\" {\n  trigger = {}\n}\n",
    )
    .expect("write");
    let v = vitrina()
        .args(["tf", "validate"])
        .arg(dir.path())
        .output()
        .expect("run");
    assert_eq!(v.status.code(), Some(1));
    let err = String::from_utf8_lossy(&v.stderr);
    assert!(
        err.contains("main.tf:2:3: error[tf/unsupported-argument]"),
        "{err}"
    );
    let j = vitrina()
        .args(["tf", "validate"])
        .arg(dir.path())
        .arg("--json")
        .output()
        .expect("run");
    let json: serde_json::Value = serde_json::from_slice(&j.stdout).expect("JSON");
    assert_eq!(json["ok"], false);
    assert_eq!(json["diagnostics"][0]["line"], 2);

    let missing = vitrina()
        .args(["tf", "plan", "/nonexistent/vitrina-dir"])
        .output()
        .expect("run");
    assert_eq!(missing.status.code(), Some(2));
    let usage = vitrina().args(["tf", "apply"]).output().expect("run");
    assert_eq!(usage.status.code(), Some(2));
}

/// Local modules through the CLI: `plan --json`, the state and `output --json` use Terraform's
/// addresses (`module.app["a"].module.db.null_resource.x`), and destroy removes everything.
#[test]
fn local_modules_addresses_in_plan_state_and_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path();
    std::fs::create_dir_all(p.join("modules/app")).expect("dir");
    std::fs::create_dir_all(p.join("modules/db")).expect("dir");
    std::fs::write(
        p.join("main.tf"),
        "module \"app\" {\n  source   = \"./modules/app\"\n  for_each = toset([\"a\", \"b\"])\n  name     = each.key\n}\noutput \"names\" {\n  value = [for k, m in module.app : m.name]\n}\n",
    )
    .expect("root");
    std::fs::write(
        p.join("modules/app/main.tf"),
        "variable \"name\" {\n  type = string\n}\nmodule \"db\" {\n  source = \"../db\"\n  name   = \"${var.name}-db\"\n}\noutput \"name\" {\n  value = module.db.name\n}\n",
    )
    .expect("app");
    std::fs::write(
        p.join("modules/db/main.tf"),
        "variable \"name\" {\n  type = string\n}\nresource \"null_resource\" \"x\" {\n  triggers = { name = var.name }\n}\noutput \"name\" {\n  value = null_resource.x.triggers.name\n}\n",
    )
    .expect("db");
    let plan = vitrina()
        .args(["tf", "plan"])
        .arg(p)
        .arg("--json")
        .output()
        .expect("run");
    assert_eq!(
        plan.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&plan.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&plan.stdout).expect("plan JSON");
    let addrs: Vec<&str> = json["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| c["address"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        addrs,
        vec![
            "module.app[\"a\"].module.db.null_resource.x",
            "module.app[\"b\"].module.db.null_resource.x"
        ]
    );
    let apply = vitrina()
        .args(["tf", "apply"])
        .arg(p)
        .arg("--auto-approve")
        .output()
        .expect("run");
    assert_eq!(
        apply.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&apply.stderr)
    );
    let out = vitrina()
        .args(["tf", "output"])
        .arg(p)
        .arg("--json")
        .output()
        .expect("run");
    let out: serde_json::Value = serde_json::from_slice(&out.stdout).expect("output JSON");
    assert_eq!(out["names"]["value"], serde_json::json!(["a-db", "b-db"]));
    let state = std::fs::read_to_string(p.join("vitrina.tfstate")).expect("state");
    assert!(
        state.contains(r#""module": "module.app[\"b\"].module.db""#),
        "{state}"
    );
    let destroy = vitrina()
        .args(["tf", "destroy"])
        .arg(p)
        .arg("--auto-approve")
        .output()
        .expect("run");
    assert_eq!(
        destroy.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&destroy.stderr)
    );
    assert!(
        String::from_utf8_lossy(&destroy.stderr).contains("2 destroyed"),
        "{}",
        String::from_utf8_lossy(&destroy.stderr)
    );
}
