//! Auto-recovery without thrashing: a host the config service marks failed (here: its agent
//! never registers) is replaced by the deployment system by itself, counted in `attempts`,
//! logged with its reason and recorded in `recoveries`; a host that fails again after each
//! replacement is not replaced in a loop: after `recovery_max_tries` the object is `failed`
//! with the history of its recoveries.

mod hoe_common;

use std::time::{Duration, Instant};

use hoe_common::*;
use serde_json::json;

/// A host whose agent is expected (its user data is made) but never comes: no VM runs it.
const SILENT_HOST: &str = r#"
variable "instance_uuid" {
  type = string
}

resource "ivkcs_user_data" "init" {
  uuid      = var.instance_uuid
  hosts     = ["silent-${substr(var.instance_uuid, 0, 8)}"]
  target_os = "debian114"
}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_host_is_replaced_counted_logged_and_given_up_after_the_tries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config(dir.path());
    cfg.health_timeout = Duration::from_secs(2);
    cfg.hoe.recovery_grace = Duration::from_secs(2);
    cfg.hoe.recovery_max_tries = 2;
    let server = vitrina_server::Server::start(cfg)
        .await
        .expect("server starts");
    let (_, token) = project(&server, "healing").await;
    let api = Api::new(&server.url, &token);
    assert_eq!(api.put_config("silent", SILENT_HOST).await.0, 201);
    let uuid = "c0ffee00-1234-4abc-8def-0123456789ab";
    let host = "silent-c0ffee00";
    assert_eq!(api.create(uuid, "silent", json!({})).await.0, 201);
    api.wait_status(uuid, "running", Duration::from_secs(120))
        .await;
    // The host never registers: two replacements, then the deployment gives up.
    let deadline = Instant::now() + Duration::from_secs(180);
    let v = loop {
        let (_, v) = api.get(uuid).await;
        if v["status"] == "failed" {
            break v;
        }
        assert!(Instant::now() < deadline, "no give-up: {v}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let recoveries = v["recoveries"].as_array().expect("recoveries");
    let results: Vec<&str> = recoveries
        .iter()
        .map(|r| r["result"].as_str().unwrap_or("running"))
        .collect();
    assert_eq!(results, vec!["replaced", "replaced", "gave up"], "{v}");
    for r in recoveries {
        assert_eq!(r["host"], host, "{v}");
        assert!(
            r["reason"]
                .as_str()
                .is_some_and(|m| m.contains("has not registered")),
            "{v}"
        );
    }
    assert_eq!(v["attempts"], 2, "each replacement counts: {v}");
    assert_eq!(v["full_deployed"], false);
    assert!(
        v["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("giving up")),
        "{v}"
    );
    let (_, logs) = api
        .call(
            reqwest::Method::GET,
            &format!("/logs/instance/{uuid}"),
            None,
        )
        .await;
    let text = logs.to_string();
    assert!(
        text.contains(&format!("host `{host}` failed")) && text.contains("replacing it"),
        "{text}"
    );
    assert!(text.contains("giving up"), "{text}");
    // It stays failed: no further replacement is started.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (_, later) = api.get(uuid).await;
    assert_eq!(later["status"], "failed");
    assert_eq!(later["recoveries"].as_array().map(Vec::len), Some(3));
    server.stop().await;
}
