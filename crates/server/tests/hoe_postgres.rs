//! Two servers on one PostgreSQL share the deployment system's work: one dies in the middle of a
//! deployment (its runtime is dropped, as when a process is killed: nothing of it runs again),
//! and the other takes the job over when the lease expires and finishes it, with the cloud
//! holding exactly one copy of every resource.

mod hoe_common;

use std::path::Path;
use std::time::{Duration, Instant};

use hoe_common::*;
use serde_json::json;
use vitrina_common::Secret;
use vitrina_server::tenants::{CloudCredentials, NewCloud, NewProject};
use vitrina_server::{Server, ServerConfig};

mod pg_common;
use pg_common::start_postgres;

/// A `localcloud` of its own on 127.0.0.1 (both servers deploy into it).
async fn start_cloud(dir: &Path) -> (vitrina_localcloud::LocalCloud, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let mut cfg = vitrina_localcloud::Config::new(dir, url.clone());
    cfg.network = vitrina_localcloud::NetworkSetting::Shared;
    let cloud = vitrina_localcloud::LocalCloud::open(cfg)
        .await
        .expect("localcloud opens");
    let router = cloud.router();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (cloud, url)
}

fn server_config(data: &Path, pg: &str) -> ServerConfig {
    let mut cfg = ServerConfig::new("127.0.0.1:0".parse().expect("addr"), data);
    cfg.database_url = Some(pg.to_owned());
    cfg.hoe = fast_settings();
    cfg
}

#[test]
fn a_second_server_finishes_the_deployment_of_a_killed_one() {
    let pg = start_postgres();
    let dir = tempfile::tempdir().expect("tempdir");
    let main_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (cloud, cloud_url) = main_rt.block_on(start_cloud(&dir.path().join("cloud")));
    let demo = cloud
        .credentials()
        .projects
        .get("demo")
        .cloned()
        .expect("demo project");
    // Both servers share the key that seals secrets at rest.
    let data_a = dir.path().join("a");
    let data_b = dir.path().join("b");
    std::fs::create_dir_all(&data_a).expect("a");
    std::fs::create_dir_all(&data_b).expect("b");

    // Server A, in a runtime of its own that the test drops to kill it.
    let rt_a = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let server_a = rt_a
        .block_on(Server::start(server_config(&data_a, &pg.url)))
        .expect("server A starts");
    std::fs::copy(data_a.join("secret.key"), data_b.join("secret.key")).expect("share the key");
    let (token, uuid) = rt_a.block_on(async {
        let p = server_a
            .tenants
            .ensure_project(&NewProject {
                name: "shared".into(),
                email: "shared@example.com".into(),
                cloud: NewCloud::Credentials(CloudCredentials {
                    auth_url: format!("{cloud_url}/identity/v3"),
                    region: Some("RegionOne".into()),
                    interface: "public".into(),
                    username: demo.username.clone(),
                    password: Secret::new(demo.password.clone()),
                    project_id: Some(demo.id.clone()),
                    project_name: None,
                    user_domain_name: "Default".into(),
                    project_domain_name: "Default".into(),
                }),
            })
            .await
            .expect("project");
        let token = server_a
            .tenants
            .issue_project_token(&p)
            .await
            .expect("token")
            .expose()
            .to_owned();
        let api = Api::new(&server_a.url, &token);
        // A five-second sleep beside the resources: A dies in the middle of the apply.
        let manifest = format!(
            "{MANIFEST}\nresource \"time_sleep\" \"wait\" {{\n  depends_on      = [vkcs_networking_network.net]\n  create_duration = \"5s\"\n}}\n"
        );
        assert_eq!(api.put_config("m", &manifest).await.0, 201);
        let uuid = "a1b2c3d4-0000-4000-8000-00000000abcd".to_owned();
        let (code, body) = api
            .create(&uuid, "m", json!({"label": "pg", "port_count": 5}))
            .await;
        assert_eq!(code, 201, "{body}");
        // Wait until A has created something of it.
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let (_, logs) = api
                .call(reqwest::Method::GET, &format!("/logs/instance/{uuid}"), None)
                .await;
            if logs.to_string().contains("done after") {
                break;
            }
            assert!(Instant::now() < deadline, "A made no progress: {logs}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        (token, uuid)
    });
    // Kill A: its tasks stop where they are; its lease is left to expire.
    let url_a = server_a.url.clone();
    rt_a.shutdown_background();
    std::mem::forget(server_a);
    assert!(
        main_rt
            .block_on(reqwest::get(format!("{url_a}/healthz")))
            .is_err(),
        "A still answers"
    );

    main_rt.block_on(async {
        let server_b = Server::start(server_config(&data_b, &pg.url))
            .await
            .expect("server B starts");
        let api = Api::new(&server_b.url, &token);
        let v = api
            .wait_status(&uuid, "running", Duration::from_secs(300))
            .await;
        assert_eq!(v["full_deployed"], true);
        let (_, logs) = api
            .call(
                reqwest::Method::GET,
                &format!("/logs/instance/{uuid}"),
                None,
            )
            .await;
        let starts = logs
            .as_array()
            .expect("logs")
            .iter()
            .filter(|l| {
                l["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("apply started"))
            })
            .count();
        assert!(starts >= 2, "B took the job over: {logs}");
        // Exactly one copy of everything, whoever made it.
        let short = &uuid[..8];
        let mut want = vec![
            format!("network {short}-net-pg"),
            format!("secgroup {short}-sg"),
            format!("subnet {short}-sub"),
        ];
        for i in 0..5 {
            want.push(format!("port {short}-port-{i}"));
        }
        want.sort();
        let client = vitrina_openstack::Client::new(
            vitrina_openstack::CloudConfig::load_from(
                &vitrina_openstack::ConfigSource {
                    env: [
                        ("OS_AUTH_URL", format!("{cloud_url}/identity/v3")),
                        ("OS_USERNAME", demo.username.clone()),
                        ("OS_PASSWORD", demo.password.clone()),
                        ("OS_PROJECT_ID", demo.id.clone()),
                        ("OS_USER_DOMAIN_NAME", "Default".to_owned()),
                        ("OS_PROJECT_DOMAIN_NAME", "Default".to_owned()),
                    ]
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect(),
                    cwd: dir.path().to_path_buf(),
                    home: None,
                },
                None,
            )
            .expect("cloud config"),
        )
        .expect("client");
        assert_eq!(inventory_of(&client).await, want);
        server_b.stop().await;
    });
    drop(cloud);
}
