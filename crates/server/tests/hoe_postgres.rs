//! Two servers on one PostgreSQL share the deployment system's work: one dies in the middle of a
//! deployment (its runtime is dropped, as when a process is killed: nothing of it runs again),
//! and the other takes the job over when the lease expires and finishes it, with the cloud
//! holding exactly one copy of every resource.

mod hoe_common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hoe_common::*;
use serde_json::json;
use vitrina_common::Secret;
use vitrina_server::tenants::{CloudCredentials, NewCloud, NewProject};
use vitrina_server::{Server, ServerConfig};

const INSTALL: &str =
    "PostgreSQL is needed: `apt-get install postgresql` (scripts/test.sh does it)";

fn pg_bin(name: &str) -> PathBuf {
    if let Ok(rd) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<PathBuf> = rd
            .flatten()
            .map(|e| e.path().join("bin").join(name))
            .filter(|p| p.is_file())
            .collect();
        versions.sort();
        if let Some(p) = versions.pop() {
            return p;
        }
    }
    let p = Path::new("/usr/local/bin").join(name);
    assert!(p.is_file(), "no `{name}`: {INSTALL}");
    p
}

/// A PostgreSQL cluster in a temp folder, stopped (`pg_ctl stop`) when dropped.
struct Postgres {
    data: PathBuf,
    _dir: tempfile::TempDir,
    url: String,
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = as_postgres(&pg_bin("pg_ctl"))
            .args(["-m", "immediate", "-w", "-D"])
            .arg(&self.data)
            .arg("stop")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn as_postgres(bin: &Path) -> Command {
    // initdb and postgres refuse to run as root.
    let root = std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false);
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin);
        c
    } else {
        Command::new(bin)
    }
}

fn start_postgres() -> Postgres {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("pg");
    std::fs::create_dir_all(&data).expect("pg dir");
    let _ = Command::new("chown")
        .args(["-R", "postgres:postgres"])
        .arg(dir.path())
        .status();
    let out = as_postgres(&pg_bin("initdb"))
        .args(["-A", "trust", "-U", "postgres", "-D"])
        .arg(&data)
        .output()
        .unwrap_or_else(|e| panic!("initdb: {e}; {INSTALL}"));
    assert!(
        out.status.success(),
        "initdb failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("free port")
        .local_addr()
        .expect("addr")
        .port();
    let options = format!("-h 127.0.0.1 -p {port} -k {}", dir.path().display());
    let out = as_postgres(&pg_bin("pg_ctl"))
        .args(["-w", "-t", "60", "-D"])
        .arg(&data)
        .args(["-o", &options, "-l"])
        .arg(dir.path().join("pg.log"))
        .arg("start")
        .output()
        .unwrap_or_else(|e| panic!("pg_ctl: {e}; {INSTALL}"));
    let pg = Postgres {
        data,
        _dir: dir,
        url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
    };
    assert!(
        out.status.success(),
        "pg_ctl start failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "postgres did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    pg
}

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
