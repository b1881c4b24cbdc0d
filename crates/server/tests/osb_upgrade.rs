//! Upgrades through the broker: an instance moves to a newer revision of its service through
//! `maintenance_info` (OSB 2.17) and to another plan; answers carry over by option name, new
//! options take their defaults, only the changed resources change, and a revision that drops an
//! option in use is refused with the reason.

mod osb_common;

use std::path::Path;
use std::time::Duration;

use osb_common::*;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(120);

/// Revision `revision` of the probe: `add_color` adds the option `color` (default `blue`) and
/// a resource and an output that use it; `drop_size` removes the option `size`.
fn probe_revision(
    dir: &Path,
    revision: &str,
    add_color: bool,
    drop_size: bool,
) -> std::path::PathBuf {
    let pkg = dir.join(format!("probe-{revision}")).join("osb_probe");
    copy_dir(&probe_dir(), &pkg);
    edit(
        &pkg.join("service.yaml"),
        "revision: \"1.0\"",
        &format!("revision: \"{revision}\""),
    );
    for plan in ["small", "large"] {
        let deploy = pkg.join(format!("plans/{plan}/deployment/deploy.tf"));
        let display = pkg.join(format!("plans/{plan}/display.yaml"));
        if add_color {
            edit(
                &display,
                "          - name: zone\n",
                "          - name: zone\n          - name: color\n",
            );
            let mut text = std::fs::read_to_string(&deploy).expect("read");
            text.push_str(
                r#"
variable "color" {
  type = string
}

resource "null_resource" "color" {
  triggers = {
    color = var.color
  }
}

output "color" {
  description = "The color"
  value       = var.color
}
"#,
            );
            std::fs::write(&deploy, text).expect("write");
        }
        if drop_size {
            edit(&display, "          - name: size\n", "");
            edit(&deploy, "variable \"size\" {\n  type = number\n}\n", "");
            edit(&deploy, "    size     = tostring(var.size)\n", "");
            edit(
                &deploy,
                "output \"size\" {\n  description = \"The size\"\n  value       = var.size\n}\n",
                "",
            );
        }
    }
    if add_color {
        std::fs::write(
            pkg.join("parameters/color.yaml"),
            "actions:\n  - create\n  - update\n\nschema:\n  description: Color\n  type: string\n  enum: [\"blue\", \"green\"]\n  default: blue\n",
        )
        .expect("color option");
    }
    if drop_size {
        std::fs::remove_file(pkg.join("parameters/size.yaml")).expect("remove size");
        edit(
            &pkg.join("service.yaml"),
            "    - name: size\n",
            "    - name: greeting\n",
        );
        edit(
            &pkg.join("plans/large/plan.yaml"),
            "parameters_patch:\n  size:\n    schema.maximum: 100\n",
            "",
        );
    }
    pkg
}

async fn credentials(osb: &Osb, instance: &str) -> serde_json::Value {
    let path = format!(
        "/v2/service_instances/{instance}/service_bindings/{}",
        uuid::Uuid::new_v4()
    );
    let a = osb
        .put(&path, json!({"service_id": PROBE_SERVICE, "plan_id": osb.get(&format!("/v2/service_instances/{instance}")).await.body["plan_id"]}))
        .await;
    assert_eq!(a.status, 201, "{}", a.text);
    a.body["credentials"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_instance_moves_to_a_new_revision_and_to_another_plan() {
    let env = Env::start().await;
    let scratch = env.dir.path().to_path_buf();
    env.upload(&probe_dir()).await;
    let osb = env.osb_test();
    let id = uuid::Uuid::new_v4().to_string();
    let path = format!("/v2/service_instances/{id}");
    let a = osb
        .put(
            &format!("{path}?accepts_incomplete=true"),
            probe_provision(
                PROBE_SMALL,
                json!({"size": 5, "greeting": "good day"}),
                &env.project,
            ),
        )
        .await;
    assert_eq!(a.status, 202, "{}", a.text);
    osb.wait_ok(&id, WAIT).await;
    let before = credentials(&osb, &id).await;

    // Revision 2.0 adds `color` and changes the manifest.
    env.upload(&probe_revision(&scratch, "2.0", true, false))
        .await;
    let catalog = osb.catalog().await;
    assert_eq!(
        catalog["services"][0]["plans"][0]["maintenance_info"]["version"],
        "2.0.0"
    );
    assert_eq!(
        osb.get(&path).await.body["maintenance_info"]["version"],
        "1.0.0"
    );
    let a = osb
        .patch(
            &format!("{path}?accepts_incomplete=true"),
            json!({"service_id": PROBE_SERVICE, "maintenance_info": {"version": "2.0.0"},
                   "previous_values": {"plan_id": PROBE_SMALL, "maintenance_info": {"version": "1.0.0"}}}),
        )
        .await;
    assert_eq!(a.status, 202, "{}", a.text);
    osb.wait_ok(&id, WAIT).await;
    let fetched = osb.get(&path).await.body;
    assert_eq!(fetched["maintenance_info"]["version"], "2.0.0");
    assert_eq!(
        fetched["parameters"],
        json!({"greeting": "good day", "size": 5, "zone": "z1", "color": "blue"}),
        "answers carry over by name; the new option takes its default"
    );
    let after = credentials(&osb, &id).await;
    // Only the changed resources changed: the password and the answers record are the same
    // resources as before; the new option's resource and output exist.
    assert_eq!(after["password"], before["password"]);
    assert_eq!(after["answers_id"], before["answers_id"]);
    assert_eq!(after["color"], "blue");
    assert_eq!(after["size"], 5);

    // Revision 3.0 drops `size`, which this instance uses (5, not its default): refused with
    // the reason, and nothing changes.
    env.upload(&probe_revision(&scratch, "3.0", true, true))
        .await;
    let a = osb
        .patch(
            &format!("{path}?accepts_incomplete=true"),
            json!({"service_id": PROBE_SERVICE, "maintenance_info": {"version": "3.0.0"}}),
        )
        .await;
    assert_eq!(a.status, 422, "{}", a.text);
    let d = a.body["description"].as_str().unwrap_or_default();
    assert!(d.contains("`size`") && d.contains("in use"), "{d}");
    assert_eq!(a.body["instance_usable"], true);
    let fetched = osb.get(&path).await.body;
    assert_eq!(fetched["maintenance_info"]["version"], "2.0.0");
    assert_eq!(
        osb.get(&format!("{path}/last_operation")).await.body["state"],
        "succeeded"
    );

    // A plan change moves to the catalog's revision too: refused for the same reason...
    let a = osb
        .patch(
            &format!("{path}?accepts_incomplete=true"),
            json!({"service_id": PROBE_SERVICE, "plan_id": PROBE_LARGE}),
        )
        .await;
    assert_eq!(a.status, 422, "{}", a.text);
    // ...and accepted once the option holds its default again, dropping it.
    let a = osb
        .patch(
            &format!("{path}?accepts_incomplete=true"),
            json!({"service_id": PROBE_SERVICE, "parameters": {"size": 1}}),
        )
        .await;
    assert_eq!(a.status, 202, "{}", a.text);
    osb.wait_ok(&id, WAIT).await;
    let a = osb
        .patch(
            &format!("{path}?accepts_incomplete=true"),
            json!({"service_id": PROBE_SERVICE, "plan_id": PROBE_LARGE, "parameters": {"color": "green"}}),
        )
        .await;
    assert_eq!(a.status, 202, "{}", a.text);
    osb.wait_ok(&id, WAIT).await;
    let fetched = osb.get(&path).await.body;
    assert_eq!(fetched["plan_id"], PROBE_LARGE);
    assert_eq!(fetched["maintenance_info"]["version"], "3.0.0");
    assert_eq!(
        fetched["parameters"],
        json!({"greeting": "good day", "zone": "z1", "color": "green"})
    );
    let last = credentials(&osb, &id).await;
    assert_eq!(last["plan"], "large");
    assert_eq!(last["color"], "green");
    assert_eq!(
        last["password"], before["password"],
        "the password resource is untouched"
    );
    assert_ne!(
        last["answers_id"], before["answers_id"],
        "the answers record changed"
    );

    let q = format!("service_id={PROBE_SERVICE}&plan_id={PROBE_LARGE}&accepts_incomplete=true");
    assert_eq!(osb.delete(&format!("{path}?{q}")).await.status, 202);
    osb.wait_ok(&id, WAIT).await;
    env.stop().await;
}
