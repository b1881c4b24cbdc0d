//! The deployment system under faults: a cloud failing a fifth of its write requests, and jobs
//! taken over after their worker dies (its lease expires), with the cloud holding exactly the
//! resources of the running deployments afterwards — no leak, no duplicate.

mod hoe_common;

use std::time::Duration;

use hoe_common::*;
use serde_json::json;

const DEADLINE: Duration = Duration::from_secs(600);

fn uuid_n(i: usize) -> String {
    format!("{i:08x}-1111-4222-8333-444455556666")
}

/// What the cloud must hold for deployment `uuid` of [`MANIFEST`] with one port.
fn expected(uuid: &str, label: &str) -> Vec<String> {
    let short = &uuid[..8];
    vec![
        format!("network {short}-net-{label}"),
        format!("port {short}-port-0"),
        format!("secgroup {short}-sg"),
        format!("subnet {short}-sub"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_deployments_reach_running_while_the_cloud_fails_a_fifth_of_its_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config(dir.path());
    cfg.cloud_write_fault_percent = 20;
    let server = vitrina_server::Server::start(cfg)
        .await
        .expect("server starts");
    let (project, token) = project(&server, "flaky").await;
    let api = Api::new(&server.url, &token);
    assert_eq!(api.put_config("m", MANIFEST).await.0, 201);
    let uuids: Vec<String> = (0..20).map(uuid_n).collect();
    for u in &uuids {
        let (code, body) = api.create(u, "m", json!({"label": "f"})).await;
        assert_eq!(code, 201, "{body}");
    }
    let mut retried = 0;
    for u in &uuids {
        let v = api.wait_status(u, "running", DEADLINE).await;
        let attempts = v["attempts"].as_i64().expect("attempts");
        assert!(attempts < 15, "{v}");
        if attempts > 0 {
            retried += 1;
        }
    }
    // With 20% of writes failing and ~6 writes per deployment, most deployments needed a retry.
    assert!(retried > 0, "no deployment met a fault");
    let ctx = ctx_of(&server, &project).await;
    let mut want: Vec<String> = uuids.iter().flat_map(|u| expected(u, "f")).collect();
    want.sort();
    assert_eq!(
        cloud_inventory(&server, &ctx).await,
        want,
        "no leak, no duplicate"
    );
    // And deleting them all under the same faults leaves nothing.
    for u in &uuids {
        assert_eq!(api.delete(u).await.0, 201);
    }
    for u in &uuids {
        api.wait_status(u, "deleted", DEADLINE).await;
    }
    assert!(cloud_inventory(&server, &ctx).await.is_empty());
    server.stop().await;
}
