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
    // Four projects of five deployments (localcloud's default quota is ten security groups),
    // made while the cloud works: making a project writes to the cloud's identity service.
    let mut made = Vec::new();
    {
        let server = start(dir.path()).await;
        for n in 0..4 {
            made.push(project(&server, &format!("flaky{n}")).await);
        }
        server.stop().await;
    }
    let mut cfg = config(dir.path());
    cfg.cloud_write_fault_percent = 20;
    let server = vitrina_server::Server::start(cfg)
        .await
        .expect("server starts");
    let mut projects = Vec::new();
    for (p, token) in made {
        let api = Api::new(&server.url, &token);
        assert_eq!(api.put_config("m", MANIFEST).await.0, 201);
        projects.push((p, api));
    }
    let uuids: Vec<String> = (0..20).map(uuid_n).collect();
    let api_of = |i: usize| &projects[i % 4].1;
    for (i, u) in uuids.iter().enumerate() {
        let (code, body) = api_of(i).create(u, "m", json!({"label": "f"})).await;
        assert_eq!(code, 201, "{body}");
    }
    let mut retried = 0;
    for (i, u) in uuids.iter().enumerate() {
        let v = api_of(i).wait_status(u, "running", DEADLINE).await;
        let attempts = v["attempts"].as_i64().expect("attempts");
        assert!(attempts < 15, "{v}");
        if attempts > 0 {
            retried += 1;
        }
    }
    // With 20% of writes failing and ~6 writes per deployment, most deployments needed a retry.
    assert!(retried > 0, "no deployment met a fault");
    for (n, (p, _)) in projects.iter().enumerate() {
        let ctx = ctx_of(&server, p).await;
        let mut want: Vec<String> = uuids
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 4 == n)
            .flat_map(|(_, u)| expected(u, "f"))
            .collect();
        want.sort();
        assert_eq!(
            cloud_inventory(&server, &ctx).await,
            want,
            "no leak, no duplicate"
        );
    }
    // And deleting them all under the same faults leaves nothing.
    for (i, u) in uuids.iter().enumerate() {
        assert_eq!(api_of(i).delete(u).await.0, 201);
    }
    for (i, u) in uuids.iter().enumerate() {
        api_of(i).wait_status(u, "deleted", DEADLINE).await;
    }
    for (p, _) in &projects {
        let ctx = ctx_of(&server, p).await;
        assert!(cloud_inventory(&server, &ctx).await.is_empty());
    }
    server.stop().await;
}
