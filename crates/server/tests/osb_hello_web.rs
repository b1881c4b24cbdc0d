//! `hello_web` through the broker, end to end on the built-in cloud: provision (202) → poll
//! `last_operation` to `succeeded` → bind returns credentials with the URL and the password →
//! the URL answers over HTTP → unbind → deprovision → the project's `localcloud` has no
//! servers, volumes, ports or floating IPs left. No generated password, private key, token or
//! broker password appears in any line of the server's log.

mod log_capture;
mod osb_common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use osb_common::*;
use serde_json::json;

const HELLO_WEB: &str = "2cfe21ad-f403-47a7-9c00-74e92d1ee7db";
const FREE: &str = "de9ec5a2-eaba-4d1f-be17-d6c7d97dfc32";

/// The `vitrina-agent` binary the VMs download (built when missing).
fn agent_binary() -> PathBuf {
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/debug/vitrina-agent");
    if !target.is_file() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", "vitrina-agent", "--bin", "vitrina-agent"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "cannot build vitrina-agent");
    }
    assert!(target.is_file(), "no vitrina-agent at {}", target.display());
    target
}

/// The VMs and the page servers they started, stopped even when the test fails.
struct Vms(PathBuf);

impl Vms {
    fn stop_page_servers(&self) {
        fn pid_files(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
            let Ok(rd) = std::fs::read_dir(dir) else {
                return;
            };
            for e in rd.flatten() {
                let p = e.path();
                if p.file_name().is_some_and(|n| n == "server.pid") {
                    out.push(p);
                } else if depth > 0 && e.file_type().is_ok_and(|t| t.is_dir()) {
                    pid_files(&p, depth - 1, out);
                }
            }
        }
        let mut files = Vec::new();
        pid_files(&self.0.join("cloud/instances"), 8, &mut files);
        for f in files {
            if let Ok(pid) = std::fs::read_to_string(&f) {
                let _ = Command::new("kill")
                    .arg(pid.trim())
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }
}

impl Drop for Vms {
    fn drop(&mut self) {
        self.stop_page_servers();
        vitrina_localcloud::kill_instances(&self.0.join("cloud/instances"));
    }
}

/// One HTTP/1.0 GET; returns the status line and the body.
fn http_get(url: &str, basic: Option<&str>) -> (String, String) {
    use base64::Engine as _;
    use std::io::{Read as _, Write as _};
    let rest = url.strip_prefix("http://").expect("http URL");
    let (addr, path) = rest
        .split_once('/')
        .map(|(a, p)| (a, format!("/{p}")))
        .unwrap_or((rest, "/".into()));
    let mut s =
        std::net::TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let auth = basic
        .map(|b| {
            format!(
                "Authorization: Basic {}\r\n",
                base64::engine::general_purpose::STANDARD.encode(b)
            )
        })
        .unwrap_or_default();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n{auth}\r\n").expect("request");
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    let (head, body) = buf.split_once("\r\n\r\n").unwrap_or((&buf, ""));
    (
        head.lines().next().unwrap_or_default().to_owned(),
        body.to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hello_web_through_the_broker_end_to_end() {
    log_capture::install();
    let agent = agent_binary();
    let env = Env::start_with(|cfg| {
        cfg.agent_binary = Some(agent);
    })
    .await;
    let vms = Vms(env.dir.path().join("data"));
    env.upload(&example("hello_web")).await;
    env.publish(HELLO_WEB, "1.0").await;
    let ctx = hoe_common::ctx_of(&env.server, &env.project).await;
    let before = hoe_common::cloud_inventory(&env.server, &ctx).await;

    // The project's network: in shared-network mode a VM's address must be one this machine
    // has, so the subnet is a loopback range of its own.
    let third = std::process::id() % 200 + 20;
    let net_uuid = uuid::Uuid::new_v4().to_string();
    let net_tf = format!(
        r#"
resource "vkcs_networking_network" "net" {{
  name = "osb-hello-net"
}}

resource "vkcs_networking_subnet" "sub" {{
  name       = "osb-hello-subnet"
  network_id = vkcs_networking_network.net.id
  cidr       = "127.78.{third}.0/24"
}}

output "subnet" {{
  value = vkcs_networking_subnet.sub.id
}}
"#
    );
    let hoe = &env.server.hoe;
    hoe.create_object(
        &ctx,
        vitrina_server::hoe::CreateObject {
            uuid: net_uuid.clone(),
            config: None,
            files: Some([("main.tf".to_owned(), net_tf)].into_iter().collect()),
            vars: serde_json::Map::new(),
        },
    )
    .await
    .expect("network object");
    let deadline = Instant::now() + Duration::from_secs(120);
    let subnet = loop {
        let v = hoe.object(&ctx, &net_uuid, false).await.expect("object");
        assert_ne!(v.status, "failed", "{v:?}");
        if v.status == "running" {
            let out: serde_json::Value = serde_json::from_str(&v.out).expect("outputs");
            break out["subnet"].as_str().expect("subnet").to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "the network did not come up: {v:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };

    let osb = env.osb_public();
    let id = uuid::Uuid::new_v4().to_string();
    let path = format!("/v2/service_instances/{id}");
    let started = Instant::now();
    let a = osb
        .put(
            &format!("{path}?accepts_incomplete=true"),
            json!({
                "service_id": HELLO_WEB, "plan_id": FREE,
                "organization_guid": "org", "space_guid": "space",
                "context": {"platform": "vitrina-tests", "project_id": env.project.id},
                "parameters": {"flavor": "Basic-1-2-20", "az": "GZ1", "subnet": subnet,
                               "data_type": "ceph-ssd", "data_size": 5,
                               "page_title": "Hello through the broker"},
            }),
        )
        .await;
    assert_eq!(a.status, 202, "{}", a.text);
    // While it provisions, the instance is not fetchable yet.
    let f = osb.get(&path).await;
    let first = osb.get(&format!("{path}/last_operation")).await;
    if first.body["state"] == "in progress" {
        assert_eq!(f.status, 404, "{}", f.text);
    }
    osb.wait_ok(&id, Duration::from_secs(600)).await;
    eprintln!(
        "hello_web provisioned through the broker in {:?}",
        started.elapsed()
    );

    let bid = uuid::Uuid::new_v4().to_string();
    let bpath = format!("{path}/service_bindings/{bid}");
    let a = osb
        .put(&bpath, json!({"service_id": HELLO_WEB, "plan_id": FREE}))
        .await;
    assert_eq!(a.status, 201, "{}", a.text);
    let url = a.body["credentials"]["url"]
        .as_str()
        .expect("url")
        .to_owned();
    let password = a.body["credentials"]["admin_password"]
        .as_str()
        .expect("admin_password")
        .to_owned();
    let (status, body) = http_get(&url, None);
    assert!(status.contains("200"), "{status}");
    assert!(body.contains("<h1>Hello through the broker</h1>"), "{body}");
    let (status, _) = http_get(&format!("{url}admin"), Some(&format!("admin:{password}")));
    assert!(status.contains("200"), "{status}");
    let private_key = a.body["credentials"]["ssh_private_key"]
        .as_str()
        .expect("ssh_private_key")
        .to_owned();
    // The VM's agent token (its user data wrote it into the VM).
    let agent_tokens: Vec<String> = std::fs::read_dir(env.dir.path().join("data/cloud/instances"))
        .expect("instances")
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("etc/vitrina-agent/token")).ok())
        .map(|t| t.trim().to_owned())
        .collect();
    assert!(!agent_tokens.is_empty(), "no agent token in the VM");

    let q = format!("service_id={HELLO_WEB}&plan_id={FREE}");
    let a = osb.delete(&format!("{bpath}?{q}")).await;
    assert_eq!((a.status, &a.body), (200, &json!({})), "{}", a.text);
    // The page server runs outside the VM's process group: stop it while its pid file exists.
    vms.stop_page_servers();
    let a = osb
        .delete(&format!("{path}?{q}&accepts_incomplete=true"))
        .await;
    assert_eq!(a.status, 202, "{}", a.text);
    osb.wait_ok(&id, Duration::from_secs(300)).await;

    // Nothing of the deployment is left in the project's cloud.
    let creds = env.server.tenants.project_cloud(&ctx).await.expect("cloud");
    let client = vitrina_openstack::Client::new(creds.to_cloud_config("test")).expect("client");
    let q = Vec::new();
    let servers = client.compute().list_servers(&q).await.expect("servers");
    assert!(servers.is_empty(), "servers left: {servers:?}");
    let volumes = client
        .block_storage()
        .list_volumes(&q)
        .await
        .expect("volumes");
    assert!(volumes.is_empty(), "volumes left: {volumes:?}");
    let fips = client
        .network()
        .list_floating_ips(&q)
        .await
        .expect("floating ips");
    assert!(fips.is_empty(), "floating IPs left: {fips:?}");
    hoe.delete_object(&ctx, &net_uuid)
        .await
        .expect("delete network");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let v = hoe.object(&ctx, &net_uuid, false).await.expect("object");
        if v.status == "deleted" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the network was not deleted: {v:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let ports = client.network().list_ports(&q).await.expect("ports");
    assert!(ports.is_empty(), "ports left: {ports:?}");
    assert_eq!(hoe_common::cloud_inventory(&env.server, &ctx).await, before);

    // No secret of the run in any log line of the server.
    let mut secrets = vec![
        ("generated admin password", password.clone()),
        ("vendor token", env.vendor_token.clone()),
        ("public broker password", env.public.1.clone()),
        ("test broker password", env.test.1.clone()),
        ("engine token", env.server.engine_token.expose().to_owned()),
        ("cloud password", creds.password.expose().to_owned()),
    ];
    secrets.extend(agent_tokens.into_iter().map(|t| ("agent token", t)));
    let body = log_capture::key_body(&private_key);
    assert!(!body.is_empty(), "a private key body");
    secrets.extend(body.into_iter().map(|l| ("private key line", l)));
    let checked = log_capture::assert_no_secret(&secrets);
    assert!(checked > 0, "the server logged nothing");
    eprintln!(
        "{} secrets checked against {checked} log lines",
        secrets.len()
    );
    drop(vms);
    env.stop().await;
}
