//! `vitrina serve` killed with SIGKILL at random moments while 20 deployments are created and
//! some of them deleted, then started again on the same data: every deployment ends `running`
//! or `deleted` as asked, and the built-in cloud holds exactly the resources of the running ones
//! (networks, subnets, ports, security groups): no leak, no duplicate.

use std::io::BufRead as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use vitrina_server::tenants::{NewCloud, NewProject};
use vitrina_server::{Server, ServerConfig};

const PREFIX: &str = "/marketplace/api/infra-api/api/v1-public";

/// Networks, a subnet, a security group with a rule, a port, a generated password.
const MANIFEST: &str = r#"
variable "instance_uuid" {
  type = string
}

locals {
  short = substr(var.instance_uuid, 0, 8)
}

resource "vkcs_networking_network" "net" {
  name = "${local.short}-net"
}

resource "vkcs_networking_subnet" "sub" {
  name       = "${local.short}-sub"
  network_id = vkcs_networking_network.net.id
  cidr       = "10.78.0.0/24"
}

resource "vkcs_networking_secgroup" "sg" {
  name = "${local.short}-sg"
}

resource "vkcs_networking_secgroup_rule" "ssh" {
  direction         = "ingress"
  protocol          = "tcp"
  port_range_min    = 22
  port_range_max    = 22
  remote_ip_prefix  = "0.0.0.0/0"
  security_group_id = vkcs_networking_secgroup.sg.id
}

resource "vkcs_networking_port" "p" {
  name               = "${local.short}-port"
  network_id         = vkcs_networking_network.net.id
  security_group_ids = [vkcs_networking_secgroup.sg.id]
  fixed_ip {
    subnet_id = vkcs_networking_subnet.sub.id
  }
}

resource "random_password" "admin" {
  length  = 24
  special = false
}

output "admin_password" {
  value     = random_password.admin.result
  sensitive = true
}
"#;

/// A `vitrina serve` process, killed when dropped.
struct Serve {
    child: Child,
    url: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(data: &Path) -> Serve {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vitrina"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--cloud-network",
            "shared",
            "--hoe-lease",
            "2s",
            "--hoe-backoff",
            "200ms",
            "--data",
        ])
        .arg(data)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vitrina serve starts");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if !sent {
                if let Some(rest) = line.strip_prefix("vitrina: serving ") {
                    let url = rest
                        .split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_owned();
                    let _ = tx.send(url);
                    sent = true;
                    continue;
                }
            }
            eprintln!("[serve] {line}");
        }
    });
    let url = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("vitrina serve prints its URL");
    Serve { child, url }
}

fn sigkill(s: Serve) {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(s.child.id()).expect("pid"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).expect("SIGKILL");
    drop(s);
}

fn uuid_n(i: usize) -> String {
    format!("{i:08x}-9999-4aaa-8bbb-cccccccccccc")
}

async fn call(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    m: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Option<(u16, Value)> {
    let mut req = http
        .request(m, format!("{url}{PREFIX}{path}"))
        .header("x-auth-token", token)
        .timeout(Duration::from_secs(20));
    if let Some(b) = body {
        req = req.json(&b);
    }
    // The server may be dead right now: no answer is not a failure of the test.
    let resp = req.send().await.ok()?;
    let code = resp.status().as_u16();
    let v = resp.json().await.unwrap_or(Value::Null);
    Some((code, v))
}

/// Everything the project holds in the cloud, as `kind name` lines (sorted), except what the
/// cloud makes itself.
async fn inventory(server: &Server, project_id: &str) -> Vec<String> {
    let ctx = server
        .tenants
        .project_ctx_for_job(project_id)
        .await
        .expect("ctx");
    let creds = server.tenants.project_cloud(&ctx).await.expect("cloud");
    let client =
        vitrina_openstack::Client::new(creds.to_cloud_config("test")).expect("cloud client");
    let net = client.network();
    let q = Vec::new();
    let mut out = Vec::new();
    let mut own = std::collections::BTreeSet::new();
    for n in net.list_networks(&q).await.expect("networks") {
        if !n.shared && !n.router_external {
            out.push(format!("network {}", n.name));
            own.insert(n.id.clone());
        }
    }
    // Subnets of the project's own networks (not those of the shared external ones).
    for s in net.list_subnets(&q).await.expect("subnets") {
        if own.contains(&s.network_id) {
            out.push(format!("subnet {}", s.name));
        }
    }
    for p in net.list_ports(&q).await.expect("ports") {
        if !p.device_owner.starts_with("network:") {
            out.push(format!("port {}", p.name));
        }
    }
    let mut groups = std::collections::BTreeMap::new();
    for g in net.list_security_groups(&q).await.expect("security groups") {
        if g.name != "default" {
            out.push(format!("secgroup {}", g.name));
            groups.insert(g.id.clone(), g.name.clone());
        }
    }
    for r in net
        .list_security_group_rules(&q)
        .await
        .expect("security group rules")
    {
        if let Some(name) = groups.get(&r.security_group_id) {
            if r.direction == "ingress" && r.port_range_min == Some(22) {
                out.push(format!("rule ssh in {name}"));
            }
        }
    }
    out.sort();
    out
}

fn in_process_config(data: &Path) -> ServerConfig {
    let mut cfg = ServerConfig::new("127.0.0.1:0".parse().expect("addr"), data);
    cfg.cloud = true;
    cfg.cloud_network = vitrina_localcloud::NetworkSetting::Shared;
    // This process only prepares and inspects: it runs no deployment jobs.
    cfg.hoe.workers = 1;
    cfg.hoe.poll = Duration::from_secs(3600);
    cfg
}

#[test]
fn sigkill_during_twenty_deployments_and_deletions_leaves_exactly_the_running_ones() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(scenario());
}

// One index runs over the uuids and their per-deployment flags together.
#[allow(clippy::needless_range_loop)]
async fn scenario() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    // Four consumer projects on the built-in cloud (five deployments each: localcloud's default
    // quota is ten security groups), prepared in-process on the same data folder.
    let projects: Vec<(String, String)> = {
        let server = Server::start(in_process_config(&data))
            .await
            .expect("server starts");
        let mut out = Vec::new();
        for n in 0..4 {
            let p = server
                .tenants
                .ensure_project(&NewProject {
                    name: format!("crash{n}"),
                    email: format!("crash{n}@example.com"),
                    cloud: NewCloud::Local,
                })
                .await
                .expect("project");
            let token = server.tenants.issue_project_token(&p).await.expect("token");
            out.push((p.id, token.expose().to_owned()));
        }
        server.stop().await;
        out
    };
    let token_of = |i: usize| projects[i % 4].1.clone();
    let http = reqwest::Client::new();
    let uuids: Vec<String> = (0..20).map(uuid_n).collect();
    // Every third one is deleted once it was created.
    let doomed: Vec<bool> = (0..20).map(|i| i % 3 == 0).collect();
    let mut created = [false; 20];
    let mut deleted = [false; 20];
    let mut config_up = [false; 4];
    let mut rng_state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |bound: u64| {
        // xorshift: random enough for kill moments, reproducible per run.
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        rng_state % bound
    };
    let mut kills = 0;
    let started = Instant::now();
    while kills < 6 {
        let s = serve(&data);
        let url = s.url.clone();
        // Issue what is still missing, then let it run for a random while and kill it.
        for (n, up) in config_up.iter_mut().enumerate() {
            if !*up {
                let resp = http
                    .post(format!("{url}{PREFIX}/hoe/config/crash"))
                    .header("x-auth-token", token_of(n))
                    .body(MANIFEST)
                    .send()
                    .await;
                if let Ok(resp) = resp {
                    assert_eq!(resp.status().as_u16(), 201);
                    *up = true;
                }
            }
        }
        for i in 0..20 {
            let token = token_of(i);
            if !created[i] {
                if let Some((code, v)) = call(
                    &http,
                    &url,
                    &token,
                    reqwest::Method::POST,
                    "/hoe/object",
                    Some(json!({"uuid": uuids[i], "config": "crash", "vars": {}})),
                )
                .await
                {
                    assert!(code == 201 || code == 409, "{code} {v}");
                    created[i] = true;
                }
            } else if doomed[i] && !deleted[i] && next(2) == 0 {
                if let Some((code, v)) = call(
                    &http,
                    &url,
                    &token,
                    reqwest::Method::DELETE,
                    &format!("/hoe/object/{}", uuids[i]),
                    None,
                )
                .await
                {
                    assert_eq!(code, 201, "{v}");
                    deleted[i] = true;
                }
            }
        }
        let wait = Duration::from_millis(300 + next(3000));
        tokio::time::sleep(wait).await;
        sigkill(s);
        kills += 1;
        eprintln!("killed `vitrina serve` ({kills}) after {wait:?}");
    }
    // Last start: it runs to the end.
    let s = serve(&data);
    let url = s.url.clone();
    for i in 0..20 {
        let token = token_of(i);
        if doomed[i] && !deleted[i] {
            let (code, v) = call(
                &http,
                &url,
                &token,
                reqwest::Method::DELETE,
                &format!("/hoe/object/{}", uuids[i]),
                None,
            )
            .await
            .expect("delete");
            assert_eq!(code, 201, "{v}");
        }
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    for i in 0..20 {
        let token = token_of(i);
        let want = if doomed[i] { "deleted" } else { "running" };
        loop {
            let (code, v) = call(
                &http,
                &url,
                &token,
                reqwest::Method::GET,
                &format!("/hoe/object/{}", uuids[i]),
                None,
            )
            .await
            .expect("the server answers");
            assert_eq!(code, 200, "{v}");
            if v["status"] == want {
                break;
            }
            assert_ne!(v["status"], "failed", "{} failed: {v}", uuids[i]);
            assert!(Instant::now() < deadline, "{} is not {want}: {v}", uuids[i]);
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
    eprintln!(
        "all deployments settled {:?} after the start",
        started.elapsed()
    );
    drop(s);
    // What the cloud holds: exactly the running deployments' resources.
    let server = Server::start(in_process_config(&data))
        .await
        .expect("server starts");
    for (n, (project_id, _)) in projects.iter().enumerate() {
        let mut want = Vec::new();
        for (_, u) in uuids
            .iter()
            .enumerate()
            .filter(|(i, _)| !doomed[*i] && i % 4 == n)
        {
            let short = &u[..8];
            want.push(format!("network {short}-net"));
            want.push(format!("port {short}-port"));
            want.push(format!("rule ssh in {short}-sg"));
            want.push(format!("secgroup {short}-sg"));
            want.push(format!("subnet {short}-sub"));
        }
        want.sort();
        assert_eq!(inventory(&server, project_id).await, want, "project {n}");
    }
    server.stop().await;
}
