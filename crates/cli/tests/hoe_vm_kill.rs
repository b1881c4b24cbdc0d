//! Auto-recovery end to end: `vitrina serve --demo` (a real process, a short `--health-timeout`)
//! deploys `kv_cluster` (three VMs, each with the agent) through the deployment system's API;
//! once it is running, the whole process tree of ONE VM is killed. The server then replaces that
//! host by itself — one recovery, counted in `attempts`, logged with its reason, only that
//! server's id changed and the other two kept — and the deployment is running and healthy again:
//! every host's checks healthy, the new node answering in the same cluster.
//!
//! The server's own output (stdout and stderr, structured logs at `info`) is captured the whole
//! time; at the end no generated password, token or private key may appear in it.

use std::collections::BTreeMap;
use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const PREFIX: &str = "/marketplace/api/infra-api/api/v1-public";
const KV_CLUSTER: &str =
    include_str!("../../../examples/packages/kv_cluster/plans/standard/deployment/deploy.tf");

/// `vitrina serve` with its captured output; the server, its VMs and every process they started
/// are stopped when dropped, even after a failure.
struct Serve {
    child: Child,
    data: PathBuf,
    url: String,
    output: Arc<Mutex<Vec<String>>>,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let instances = self.data.join("cloud/instances");
        vitrina_localcloud::kill_instances(&instances);
        // Servers the VMs started with `setsid` (outside their process group).
        if let Ok(rd) = std::fs::read_dir(&instances) {
            for e in rd.flatten() {
                if let Some(id) = e.file_name().to_str() {
                    kill_vm_tree(&instances, id);
                }
            }
        }
    }
}

impl Serve {
    fn output(&self) -> Vec<String> {
        self.output
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// The `vitrina-agent` built beside `vitrina` (built on demand when only this package's tests
/// were built).
fn agent_binary() -> PathBuf {
    let path = Path::new(env!("CARGO_BIN_EXE_vitrina")).with_file_name("vitrina-agent");
    if !path.is_file() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", "vitrina-agent", "--bin", "vitrina-agent"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "cannot build vitrina-agent");
    }
    assert!(path.is_file(), "no vitrina-agent at {}", path.display());
    path
}

/// Copies every line of `from` into `into` (and to this test's stderr).
fn capture(
    from: impl std::io::Read + Send + 'static,
    into: Arc<Mutex<Vec<String>>>,
    tag: &'static str,
) {
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(from).lines().map_while(Result::ok) {
            eprintln!("[serve {tag}] {line}");
            into.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(line);
        }
    });
}

fn serve(data: &Path) -> Serve {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vitrina"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--demo",
            // Longer than the kv nodes' check period (30 s): a healthy host never looks stale.
            "--health-timeout",
            "45s",
            "--recovery-interval",
            "1s",
            "--hoe-backoff",
            "500ms",
            "--cloud-network",
            "shared",
            "--data",
        ])
        .arg(data)
        .env("VITRINA_AGENT_BINARY", agent_binary())
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vitrina serve starts");
    let output = Arc::new(Mutex::new(Vec::new()));
    capture(
        child.stdout.take().expect("stdout"),
        output.clone(),
        "stdout",
    );
    capture(
        child.stderr.take().expect("stderr"),
        output.clone(),
        "stderr",
    );
    let mut serve = Serve {
        child,
        data: data.to_path_buf(),
        url: String::new(),
        output,
    };
    let creds = data.join("demo-credentials.json");
    let deadline = Instant::now() + Duration::from_secs(180);
    while !creds.is_file() {
        assert!(
            Instant::now() < deadline,
            "vitrina serve wrote no demo-credentials.json"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let text = std::fs::read_to_string(&creds).expect("demo-credentials.json");
    let v: Value = serde_json::from_str(&text).expect("credentials JSON");
    serve.url = v["url"].as_str().expect("url").to_owned();
    serve
}

/// Kills every process of the VM `id`: its process group and whatever it started outside it
/// (every process whose environment names the instance).
fn kill_vm_tree(instances: &Path, id: &str) -> usize {
    let mut killed = 0;
    if let Ok(pid) = std::fs::read_to_string(instances.join(id).join("var/lib/cloud/pid")) {
        if let Ok(pid) = pid.trim().parse::<i32>() {
            if pid > 1
                && nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                )
                .is_ok()
            {
                killed += 1;
            }
        }
    }
    let want = format!("VITRINA_INSTANCE_ID={id}");
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|p| p.parse::<i32>().ok()) else {
                continue;
            };
            let Ok(env) = std::fs::read(e.path().join("environ")) else {
                continue;
            };
            if env.split(|b| *b == 0).any(|v| v == want.as_bytes())
                && nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                )
                .is_ok()
            {
                killed += 1;
            }
        }
    }
    killed
}

struct Api {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Api {
    async fn call(&self, m: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(m, format!("{}{PREFIX}{path}", self.base))
            .header("x-auth-token", &self.token)
            .timeout(Duration::from_secs(60));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let code = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (
            code,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn put_config(&self, name: &str, text: &str) {
        let resp = self
            .http
            .post(format!("{}{PREFIX}/hoe/config/{name}", self.base))
            .header("x-auth-token", &self.token)
            .body(text.to_owned())
            .send()
            .await
            .expect("request");
        let code = resp.status().as_u16();
        assert_eq!(code, 201, "{}", resp.text().await.unwrap_or_default());
    }

    async fn get(&self, uuid: &str) -> Value {
        let (code, v) = self
            .call(reqwest::Method::GET, &format!("/hoe/object/{uuid}"), None)
            .await;
        assert_eq!(code, 200, "{v}");
        v
    }

    async fn logs(&self, uuid: &str) -> String {
        let (code, v) = self
            .call(
                reqwest::Method::GET,
                &format!("/logs/instance/{uuid}"),
                None,
            )
            .await;
        assert_eq!(code, 200, "{v}");
        v.to_string()
    }

    /// Polls until the object is `want` (and idle); panics on `failed` or after `limit`.
    async fn wait(&self, uuid: &str, want: &str, limit: Duration) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let v = self.get(uuid).await;
            if v["status"] == want && v["recovering"].is_null() {
                return v;
            }
            if v["status"] == "failed" {
                panic!("{uuid} failed: {v}\nlogs: {}", self.logs(uuid).await);
            }
            assert!(
                Instant::now() < deadline,
                "{uuid} is not `{want}` after {limit:?}: {v}\nlogs: {}",
                self.logs(uuid).await
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// The project's servers in the built-in cloud, name → id.
async fn servers(client: &vitrina_openstack::Client) -> BTreeMap<String, String> {
    client
        .compute()
        .list_servers(&Vec::new())
        .await
        .expect("servers")
        .into_iter()
        .map(|s| (s.name, s.id))
        .collect()
}

/// What the config service says of one host (with the engine's token).
async fn host_view(service: &str, token: &str, uuid: &str, host: &str) -> Value {
    reqwest::Client::new()
        .get(format!(
            "{service}/config/v1/deployments/{uuid}/hosts/{host}"
        ))
        .bearer_auth(token)
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .expect("host view")
        .json()
        .await
        .expect("host view JSON")
}

/// `GET http://address:port/health` of a kv node: its JSON, or nothing while it does not answer.
async fn node_health(address: &str, port: u16) -> Option<Value> {
    let resp = reqwest::Client::new()
        .get(format!("http://{address}:{port}/health"))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .ok()?;
    if !resp.status().is_success() {
        return None;
    }
    resp.json().await.ok()
}

fn demo_env(data: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(data.join("demo.env")).expect("demo.env");
    text.lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.trim_matches('\'').to_owned()))
        .collect()
}

#[test]
fn killing_one_vm_of_a_deployment_makes_the_server_replace_that_host_by_itself() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let serve = serve(&data);
    rt.block_on(scenario(&serve, &data));
    drop(serve);
}

async fn scenario(serve: &Serve, data: &Path) {
    let creds: Value = serde_json::from_str(
        &std::fs::read_to_string(data.join("demo-credentials.json")).expect("credentials"),
    )
    .expect("credentials JSON");
    let env = demo_env(data);
    let engine_token = env
        .get("VITRINA_CONFIG_TOKEN")
        .expect("the engine's token in demo.env")
        .clone();
    let api = Api {
        base: serve.url.clone(),
        token: creds["project"]["auth_token"]
            .as_str()
            .expect("project token")
            .to_owned(),
        http: reqwest::Client::new(),
    };
    // Wait until the demo is fully set up.
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let ok = reqwest::get(format!("{}/healthz", serve.url))
            .await
            .is_ok_and(|r| r.status().is_success());
        if ok {
            break;
        }
        assert!(Instant::now() < deadline, "/healthz never answered 200");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let source = vitrina_openstack::ConfigSource {
        env: [
            (
                "OS_CLIENT_CONFIG_FILE".to_owned(),
                creds["clouds_yaml"]
                    .as_str()
                    .expect("clouds_yaml")
                    .to_owned(),
            ),
            (
                "OS_CLOUD".to_owned(),
                creds["cloud_name"].as_str().expect("cloud_name").to_owned(),
            ),
        ]
        .into_iter()
        .collect(),
        cwd: data.to_path_buf(),
        home: None,
    };
    let cloud = vitrina_openstack::Client::new(
        vitrina_openstack::CloudConfig::load_from(&source, None).expect("clouds.yaml"),
    )
    .expect("cloud client");

    // The project's network: in the shared-network mode a VM's address must be one this
    // machine has, so the subnet is a loopback range of its own.
    let third = std::process::id() % 200 + 22;
    let net_tf = format!(
        r#"
resource "vkcs_networking_network" "net" {{
  name = "heal-net"
}}

resource "vkcs_networking_subnet" "sub" {{
  name       = "heal-subnet"
  network_id = vkcs_networking_network.net.id
  cidr       = "127.79.{third}.0/24"
}}

output "subnet" {{
  value = vkcs_networking_subnet.sub.id
}}
"#
    );
    api.put_config("heal-net", &net_tf).await;
    let net_uuid = "0e7a0000-1111-4222-8333-444444444444";
    let (code, v) = api
        .call(
            reqwest::Method::POST,
            "/hoe/object",
            Some(json!({"uuid": net_uuid, "config": "heal-net", "vars": {}})),
        )
        .await;
    assert_eq!(code, 201, "{v}");
    let net = api
        .wait(net_uuid, "running", Duration::from_secs(300))
        .await;
    let out: Value = serde_json::from_str(net["out"].as_str().expect("out")).expect("outputs");
    let subnet = out["subnet"].as_str().expect("subnet").to_owned();

    // Three kv nodes, each a VM with the agent.
    api.put_config("kv", KV_CLUSTER).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let uuid = "4ea10000-aaaa-4bbb-8ccc-dddddddddddd";
    let short = &uuid[..8];
    let (code, v) = api
        .call(
            reqwest::Method::POST,
            "/hoe/object",
            Some(json!({"uuid": uuid, "config": "kv", "vars": {
                "nodes": 3, "flavor": "Basic-1-2-20", "az": "GZ1", "subnet": subnet,
                "data_type": "ceph-ssd", "data_size": 1, "public_reads": true,
                "kv_port": port,
            }})),
        )
        .await;
    assert_eq!(code, 201, "{v}");
    let started = Instant::now();
    let v = api.wait(uuid, "running", Duration::from_secs(900)).await;
    eprintln!("kv_cluster (3 nodes) running after {:?}", started.elapsed());
    assert_eq!(v["full_deployed"], true, "{v}");
    let attempts_before = v["attempts"].as_i64().expect("attempts");
    let hosts: Vec<String> = (0..3).map(|i| format!("{short}-kv-{i}")).collect();
    let before = servers(&cloud).await;
    for h in &hosts {
        assert!(before.contains_key(h), "no server {h}: {before:?}");
    }
    let out: Value = serde_json::from_str(v["out"].as_str().expect("out")).expect("outputs");
    let cluster_id = out["cluster_id"].as_str().expect("cluster_id").to_owned();
    let addresses: Vec<String> = out["addresses"]
        .as_array()
        .expect("addresses")
        .iter()
        .filter_map(|a| a.as_str().map(str::to_owned))
        .collect();
    assert_eq!(addresses.len(), 3, "{out}");
    let victim = &hosts[1];
    let victim_address = addresses[1].clone();
    assert!(
        node_health(&victim_address, port).await.is_some(),
        "node 1 answers before the kill"
    );

    // Kill the whole process tree of node 1's VM.
    let instances = data.join("cloud/instances");
    let old_id = before[victim.as_str()].clone();
    let killed = kill_vm_tree(&instances, &old_id);
    assert!(killed > 0, "no process of VM {old_id} was found");
    eprintln!("killed {killed} process(es) of {victim} ({old_id})");
    let killed_at = Instant::now();

    // The server notices, replaces that host by itself, and the deployment is healthy again.
    let deadline = Instant::now() + Duration::from_secs(900);
    let healed = loop {
        let v = api.get(uuid).await;
        assert_ne!(v["status"], "failed", "{v}\nlogs: {}", api.logs(uuid).await);
        let replaced = v["recoveries"].as_array().is_some_and(|r| {
            r.iter()
                .any(|r| r["host"] == victim.as_str() && r["result"] == "replaced")
        });
        if replaced && v["status"] == "running" && v["recovering"].is_null() {
            let mut healthy = true;
            for h in &hosts {
                let view = host_view(&serve.url, &engine_token, uuid, h).await;
                healthy &= view["failed"].is_null();
            }
            if healthy {
                break v;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the deployment did not heal: {v}\nlogs: {}",
            api.logs(uuid).await
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    eprintln!(
        "healed {:?} after the kill: {}",
        killed_at.elapsed(),
        healed["recoveries"]
    );

    // One recovery, of that host, with its reason, counted in `attempts`.
    let recoveries = healed["recoveries"].as_array().expect("recoveries");
    assert_eq!(recoveries.len(), 1, "{healed}");
    let reason = recoveries[0]["reason"].as_str().unwrap_or_default();
    assert!(!reason.is_empty(), "{healed}");
    assert_eq!(
        healed["attempts"].as_i64(),
        Some(attempts_before + 1),
        "{healed}"
    );
    assert_eq!(healed["full_deployed"], true, "{healed}");
    let logs = api.logs(uuid).await;
    assert!(
        logs.contains(&format!("host `{victim}` failed")) && logs.contains("replacing it"),
        "{logs}"
    );
    let output = serve.output();
    assert!(
        output.iter().any(|l| l.contains("replacing a failed host")
            && l.contains(victim.as_str())
            && l.contains(uuid)),
        "the server's log names the recovery"
    );

    // Only that server was replaced; the other two kept their ids.
    let after = servers(&cloud).await;
    assert_eq!(after.len(), before.len(), "{after:?}");
    assert_ne!(after[victim.as_str()], old_id, "{victim} was not replaced");
    for h in hosts.iter().filter(|h| *h != victim) {
        assert_eq!(
            after[h.as_str()],
            before[h.as_str()],
            "{h} was replaced too"
        );
    }
    // The new node answers in the same cluster (at its own, new address).
    let out: Value = serde_json::from_str(healed["out"].as_str().expect("out")).expect("outputs");
    let new_address = out["addresses"][1].as_str().expect("address").to_owned();
    let deadline = Instant::now() + Duration::from_secs(300);
    let health = loop {
        if let Some(h) = node_health(&new_address, port).await {
            break h;
        }
        assert!(Instant::now() < deadline, "the new node 1 never answered");
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    assert_eq!(health["cluster_id"].as_str(), Some(cluster_id.as_str()));
    assert!(
        health["node"].as_str().is_some_and(|n| !n.is_empty()),
        "{health}"
    );

    // No secret reached the server's output.
    let (code, revealed) = api
        .call(
            reqwest::Method::GET,
            &format!("/hoe/object/{uuid}?show_sensitive=true"),
            None,
        )
        .await;
    assert_eq!(code, 200, "{revealed}");
    let out: Value = serde_json::from_str(revealed["out"].as_str().expect("out")).expect("outputs");
    let key = out["ssh_private_key"].as_str().expect("private key");
    let key_body: Vec<&str> = key
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() >= 16)
        .collect();
    assert!(!key_body.is_empty(), "a private key body");
    let mut secrets: Vec<(&str, String)> = vec![
        (
            "kv auth token",
            out["auth_token"].as_str().expect("auth_token").to_owned(),
        ),
        ("project token", api.token.clone()),
        ("engine token", engine_token.clone()),
        (
            "vendor token",
            creds["vendor"]["service_token"]
                .as_str()
                .expect("vendor token")
                .to_owned(),
        ),
        (
            "broker password",
            creds["broker"]["public"]["password"]
                .as_str()
                .expect("broker password")
                .to_owned(),
        ),
        (
            "cloud password",
            creds["cloud"]["password"]
                .as_str()
                .expect("cloud password")
                .to_owned(),
        ),
    ];
    for l in key_body {
        secrets.push(("private key line", l.to_owned()));
    }
    // Each VM's agent token (the user data writes it to the VM's `/etc/vitrina-agent/token`).
    for id in after.values() {
        if let Ok(text) =
            std::fs::read_to_string(instances.join(id).join("etc/vitrina-agent/token"))
        {
            secrets.push(("agent token", text.trim().to_owned()));
        }
    }
    assert!(
        secrets.iter().any(|(w, _)| *w == "agent token"),
        "no agent token found"
    );
    let output = serve.output();
    for (what, secret) in &secrets {
        assert!(secret.len() >= 8, "{what} is too short to look for");
        if let Some(line) = output.iter().find(|l| l.contains(secret.as_str())) {
            panic!("the {what} appears in the server's output: {line}");
        }
    }
    eprintln!(
        "{} secrets checked against {} lines of server output",
        secrets.len(),
        output.len()
    );

    // Clean up through the API.
    let (code, v) = api
        .call(
            reqwest::Method::DELETE,
            &format!("/hoe/object/{uuid}"),
            None,
        )
        .await;
    assert_eq!(code, 201, "{v}");
    api.wait(uuid, "deleted", Duration::from_secs(600)).await;
    let (code, v) = api
        .call(
            reqwest::Method::DELETE,
            &format!("/hoe/object/{net_uuid}"),
            None,
        )
        .await;
    assert_eq!(code, 201, "{v}");
    api.wait(net_uuid, "deleted", Duration::from_secs(300))
        .await;
    assert!(servers(&cloud).await.is_empty());
}
