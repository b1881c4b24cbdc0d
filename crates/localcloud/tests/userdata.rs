//! Probe H2 over real HTTP: a `#cloud-config` YAML alias bomb fails that server only (`ERROR`
//! with a fault naming the limit); localcloud keeps answering, other servers boot, and a restart
//! with the server stored (even as `BUILD`, as when localcloud died while booting it) does not
//! crash-loop.

mod common;

use std::time::Duration;

use base64::Engine as _;
use common::TestCloud;
use reqwest::Method;
use serde_json::{json, Value};

/// The repro of the probe report: 44,036 bytes asking for about 16 GB once aliases are copied.
fn bomb() -> String {
    let big = "A".repeat(20_000);
    let a = vec!["*a"; 1000].join(",");
    let b = vec!["*b"; 7000].join(",");
    format!("#cloud-config\nx: &a \"{big}\"\ny: &b [{a}]\nz: [{b}]\n")
}

async fn create(tc: &TestCloud, name: &str, user_data: &str) -> String {
    let image = tc.base_image().await;
    let flavor = tc.flavor("Basic-1-2-20").await;
    let ud = base64::engine::general_purpose::STANDARD.encode(user_data);
    let (s, v) = tc
        .post(
            "/compute/v2.1/servers",
            json!({"server": {"name": name, "flavorRef": flavor, "imageRef": image,
                              "networks": "none", "user_data": ud}}),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    v["server"]["id"].as_str().expect("id").to_owned()
}

async fn healthy(tc: &TestCloud) {
    let r = tc
        .http
        .get(tc.url("/healthz"))
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .expect("healthz answers");
    assert!(r.status().is_success());
}

fn assert_alias_fault(v: &Value) {
    let fault = v["server"]["fault"]["message"].as_str().unwrap_or_default();
    assert!(
        fault.contains("user_data refused") && fault.contains("alias limit"),
        "fault: {v}"
    );
}

#[tokio::test]
async fn alias_bomb_fails_only_that_server_and_restart_does_not_crash_loop() {
    let ud = bomb();
    assert_eq!(ud.len(), 44_036);
    let tc = TestCloud::start().await;
    let bomb_id = create(&tc, "bomb", &ud).await;
    let v = tc.wait_status(&bomb_id, "ERROR").await;
    assert_alias_fault(&v);
    healthy(&tc).await;
    // Another tenant's work goes on: a server with honest user data boots.
    let ok = create(&tc, "fine", "#cloud-config\nruncmd:\n  - echo fine\n").await;
    tc.wait_status(&ok, "ACTIVE").await;

    // Stored as BUILD (localcloud died while booting it): the next start re-boots it, and it
    // ends in ERROR again rather than taking the process down.
    let mut dir = tc.stop();
    let state = dir.path().join("state.json");
    let mut db: Value =
        serde_json::from_slice(&std::fs::read(&state).expect("state")).expect("json");
    let servers = db["state"]["servers"].as_object_mut().expect("servers map");
    let s = servers.get_mut(&bomb_id).expect("bomb stored");
    s["status"] = json!("BUILD");
    s["fault"] = Value::Null;
    std::fs::write(&state, serde_json::to_vec(&db).expect("json")).expect("write state");
    for _ in 0..2 {
        let tc = TestCloud::start_in(dir).await;
        let v = tc.wait_status(&bomb_id, "ERROR").await;
        assert_alias_fault(&v);
        healthy(&tc).await;
        let (s, _) = tc
            .call(Method::GET, &format!("/compute/v2.1/servers/{ok}"), None)
            .await;
        assert_eq!(s, 200);
        dir = tc.stop();
    }
    // `stop` leaves the servers running for the next start: end them and their namespaces.
    vitrina_localcloud::kill_instances(&dir.path().join("instances"));
}
