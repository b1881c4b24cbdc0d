//! Every secret, everywhere: `vitrina serve --demo` (a real process, the default SQLite store in
//! its data folder, the built-in cloud) deploys a manifest through the deployment system's API
//! that uses every kind of secret issue 10 names — sensitive variables passed to an agent
//! script's environment, an `ivkcs_ssh_keypair`, `ivkcs_s3` credentials, an `ivkcs_cert` key,
//! the monitoring user's password, a generated password, the agent's and the script's tokens —
//! then provokes errors: a step that fails and prints a secret, bad requests that carry secrets
//! in their bodies, a login with the cloud's password under a wrong name.
//!
//! Then every secret value, as the owner sees it (the revealed outputs, the demo credentials,
//! the token files in the VM's folder), is looked for in: every line the server wrote, every log
//! file under its data folder (the agent's, the VMs' consoles, localcloud's), the deployment's
//! log over the API, every error response, and every column of every table of the SQLite store
//! (sealed columns hold ciphertext, so they never match). None may appear in plain form.

use std::collections::BTreeMap;
use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sha2::Digest as _;

const PREFIX: &str = "/marketplace/api/infra-api/api/v1-public";

/// The deployment: one VM with the agent, and every kind of secret the `ivkcs` provider knows.
/// With `break_it = true` a second exec group fails and prints the sensitive variable.
const MANIFEST: &str = r#"
variable "instance_uuid" {
  type = string
}

variable "subnet_cidr" {
  type = string
}

variable "db_password" {
  type      = string
  sensitive = true
}

variable "api_key" {
  type      = string
  sensitive = true
}

variable "break_it" {
  type    = bool
  default = false
}

locals {
  host = "sec-${substr(var.instance_uuid, 0, 8)}"
}

resource "vkcs_networking_network" "net" {
  name = "secrets-net"
}

resource "vkcs_networking_subnet" "sub" {
  name       = "secrets-subnet"
  network_id = vkcs_networking_network.net.id
  cidr       = var.subnet_cidr
}

resource "random_password" "admin" {
  length  = 24
  special = false
}

resource "ivkcs_ssh_keypair" "kp" {}

resource "ivkcs_s3" "bucket" {
  name = "secrets-${var.instance_uuid}"
}

data "ivkcs_monitoring_user" "mon" {}

resource "ivkcs_cert" "web" {
  uuid              = var.instance_uuid
  domain            = "secrets.xaas.msk.vkcs.cloud"
  path_cert         = "/etc/secrets-ssl"
  renewal_hook_path = "/bin/true"
  depends_on        = [vkcs_compute_instance.vm]
}

resource "ivkcs_user_data" "init" {
  uuid                = var.instance_uuid
  hosts               = [local.host]
  target_os           = "debian114"
  ssh_authorized_keys = [ivkcs_ssh_keypair.kp.public_key]
  token_file_path     = "/var/lib/secrets/script-token"
}

resource "vkcs_compute_instance" "vm" {
  name       = local.host
  flavor_id  = "Basic-1-2-20"
  image_name = "vitrina-process-base"
  user_data  = ivkcs_user_data.init.user_data[0]
  network {
    uuid = vkcs_networking_network.net.id
  }
  depends_on = [vkcs_networking_subnet.sub]
}

# The secrets reach the script through its environment; it writes only their digests.
resource "ivkcs_agent_exec" "setup" {
  uuid  = var.instance_uuid
  name  = "setup"
  hosts = [local.host]
  step {
    index   = 1
    type    = "bash"
    content = <<-EOT
      set -eu
      mkdir -p "$${VITRINA_ROOT:-}/srv/secrets"
      for v in DB_PASSWORD API_KEY S3_SECRET MON_PASSWORD ADMIN_PASSWORD; do
        printf '%s %s\n' "$v" "$(printenv "$v" | sha256sum | cut -d' ' -f1)"
      done > "$${VITRINA_ROOT:-}/srv/secrets/digests"
      echo "setup done"
    EOT
    options {
      environment_variables = [
        "DB_PASSWORD=${var.db_password}",
        "API_KEY=${var.api_key}",
        "S3_SECRET=${ivkcs_s3.bucket.secret}",
        "MON_PASSWORD=${data.ivkcs_monitoring_user.mon.password}",
        "ADMIN_PASSWORD=${random_password.admin.result}",
      ]
      timeout  = "2m"
      attempts = 1
    }
  }
  timeouts {
    create = "5m"
  }
  depends_on = [vkcs_compute_instance.vm]
}

# A vendor's mistake: the failing step prints its secret; it must not travel further.
resource "ivkcs_agent_exec" "broken" {
  count = var.break_it ? 1 : 0
  uuid  = var.instance_uuid
  name  = "broken"
  hosts = [local.host]
  step {
    index   = 1
    type    = "bash"
    content = <<-EOT
      echo "connecting with password $DB_PASSWORD and key $API_KEY"
      echo "login refused for $DB_PASSWORD" >&2
      exit 3
    EOT
    options {
      environment_variables = [
        "DB_PASSWORD=${var.db_password}",
        "API_KEY=${var.api_key}",
      ]
      timeout  = "2m"
      attempts = 1
    }
  }
  timeouts {
    create = "3m"
  }
  depends_on = [ivkcs_agent_exec.setup]
}

output "host" {
  value = local.host
}

output "ssh_private_key" {
  value     = ivkcs_ssh_keypair.kp.private_key
  sensitive = true
}

output "s3_access" {
  value = ivkcs_s3.bucket.access
}

output "s3_secret" {
  value     = ivkcs_s3.bucket.secret
  sensitive = true
}

output "cert_key" {
  value     = ivkcs_cert.web.key
  sensitive = true
}

output "monitoring_password" {
  value     = data.ivkcs_monitoring_user.mon.password
  sensitive = true
}

output "admin_password" {
  value     = random_password.admin.result
  sensitive = true
}
"#;

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
        self.stop();
        vitrina_localcloud::kill_instances(&self.data.join("cloud/instances"));
    }
}

impl Serve {
    fn output(&self) -> Vec<String> {
        self.output
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Stops the server (its VMs keep running until dropped).
    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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

/// Copies every line of `from` into `into`.
fn capture(from: impl std::io::Read + Send + 'static, into: Arc<Mutex<Vec<String>>>) {
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(from).lines().map_while(Result::ok) {
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
            "--cloud-network",
            "shared",
            "--data",
        ])
        .arg(data)
        .env("VITRINA_AGENT_BINARY", agent_binary())
        // Everything the server's own rooms log, down to `debug` (localcloud runs inside).
        .env(
            "RUST_LOG",
            "info,sqlx=warn,vitrina_server=debug,vitrina_localcloud=debug,vitrina_engine=debug,\
             vitrina_providers=debug,vitrina_openstack=debug,vitrina_agent_api=debug",
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vitrina serve starts");
    let output = Arc::new(Mutex::new(Vec::new()));
    capture(child.stdout.take().expect("stdout"), output.clone());
    capture(child.stderr.take().expect("stderr"), output.clone());
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
            "vitrina serve wrote no demo-credentials.json:\n{}",
            serve.output().join("\n")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let text = std::fs::read_to_string(&creds).expect("demo-credentials.json");
    let v: Value = serde_json::from_str(&text).expect("credentials JSON");
    serve.url = v["url"].as_str().expect("url").to_owned();
    serve
}

fn demo_env(data: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(data.join("demo.env")).expect("demo.env");
    text.lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.trim_matches('\'').to_owned()))
        .collect()
}

/// A call's status and body, kept for the grep.
struct Api {
    base: String,
    token: String,
    http: reqwest::Client,
    /// Every response body this test received.
    responses: Mutex<Vec<String>>,
}

impl Api {
    async fn raw(
        &self,
        m: reqwest::Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> (u16, String) {
        let mut req = self.http.request(m, url).timeout(Duration::from_secs(60));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        let resp = req.send().await.expect("request");
        let code = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        self.responses
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(text.clone());
        (code, text)
    }

    async fn call(&self, m: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}{PREFIX}{path}", self.base);
        let (code, text) = self
            .raw(
                m,
                &url,
                &[("x-auth-token", &self.token)],
                body.map(|b| b.to_string()),
            )
            .await;
        (
            code,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
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

    /// Polls until the object is `want` (and idle); panics on another end state or after
    /// `limit`.
    async fn wait(&self, uuid: &str, want: &str, limit: Duration) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let v = self.get(uuid).await;
            if v["status"] == want {
                return v;
            }
            if v["status"] == "failed" || v["status"] == "running" {
                // The other end state (a run in progress reads `applying`).
                panic!(
                    "{uuid} is {}: {v}\nlogs: {}",
                    v["status"],
                    self.logs(uuid).await
                );
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

/// Every file under `dir` that is a log: named `*.log`, or inside a `log`/`logs` folder.
fn log_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        let Ok(t) = e.file_type() else { continue };
        if t.is_dir() {
            log_files(&p, out);
        } else if t.is_file() {
            let in_log_dir = p
                .parent()
                .and_then(Path::file_name)
                .is_some_and(|n| n == "log" || n == "logs");
            let named_log = p
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(".log") || n.contains(".log."));
            if in_log_dir || named_log {
                out.push(p);
            }
        }
    }
}

/// Every column of every table of the SQLite database at `db`, as bytes: (table.column, value).
async fn every_column(db: &Path) -> Vec<(String, Vec<u8>)> {
    use sqlx::{Connection as _, Row as _};
    let url = format!("sqlite://{}?mode=ro", db.display());
    let mut conn = sqlx::SqliteConnection::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("open {}: {e}", db.display()));
    let tables: Vec<String> =
        sqlx::query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .fetch_all(&mut conn)
            .await
            .expect("tables")
            .iter()
            .map(|r| r.get::<String, _>(0))
            .collect();
    let mut out = Vec::new();
    for t in &tables {
        let columns: Vec<String> = sqlx::query(&format!("PRAGMA table_info(\"{t}\")"))
            .fetch_all(&mut conn)
            .await
            .expect("columns")
            .iter()
            .map(|r| r.get::<String, _>("name"))
            .collect();
        for c in &columns {
            let rows = sqlx::query(&format!("SELECT CAST(\"{c}\" AS BLOB) FROM \"{t}\""))
                .fetch_all(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("read {t}.{c}: {e}"));
            for r in rows {
                if let Some(v) = r.get::<Option<Vec<u8>>, _>(0) {
                    out.push((format!("{t}.{c}"), v));
                }
            }
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn no_secret_in_any_log_error_or_plain_column() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let mut serve = serve(&data);
    rt.block_on(scenario(&mut serve, &data));
    drop(serve);
}

#[allow(clippy::too_many_lines)]
async fn scenario(serve: &mut Serve, data: &Path) {
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
        responses: Mutex::new(Vec::new()),
    };
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

    // The deployment, with two sensitive variables.
    let uuid = "5ec0e700-1234-4abc-8def-0123456789ab";
    let db_password = format!("Db-Pass-{}", uuid::Uuid::new_v4().simple());
    let api_key = format!("Api-Key-{}", uuid::Uuid::new_v4().simple());
    let third = std::process::id() % 200 + 24;
    let vars = json!({
        "subnet_cidr": format!("127.81.{third}.0/24"),
        "db_password": db_password,
        "api_key": api_key,
    });
    let (code, v) = api
        .call(
            reqwest::Method::POST,
            "/hoe/object",
            // No retries: a failed run is the end state the test waits for below.
            Some(json!({"uuid": uuid, "vars": vars, "files": {
                "main.tf": MANIFEST, "settings.yaml": "retry: no\n",
            }})),
        )
        .await;
    assert_eq!(code, 201, "{v}");
    let started = Instant::now();
    api.wait(uuid, "running", Duration::from_secs(600)).await;
    eprintln!("deployed in {:?}", started.elapsed());

    // The secrets as the owner sees them.
    let (code, revealed) = api
        .call(
            reqwest::Method::GET,
            &format!("/hoe/object/{uuid}?show_sensitive=true"),
            None,
        )
        .await;
    assert_eq!(code, 200, "{revealed}");
    // The one answer where the owner asked to see them: not among the places searched.
    api.responses
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .pop();
    let out: Value = serde_json::from_str(revealed["out"].as_str().expect("out")).expect("outputs");
    let text = |k: &str| -> String {
        out[k]
            .as_str()
            .unwrap_or_else(|| panic!("output {k}: {out}"))
            .to_owned()
    };
    let host = text("host");
    let mut secrets: Vec<(String, String)> = vec![
        ("sensitive variable db_password".into(), db_password.clone()),
        ("sensitive variable api_key".into(), api_key.clone()),
        ("S3 secret".into(), text("s3_secret")),
        ("monitoring password".into(), text("monitoring_password")),
        ("generated password".into(), text("admin_password")),
        ("project token".into(), api.token.clone()),
        ("engine token".into(), engine_token.clone()),
        (
            "cloud password".into(),
            creds["cloud"]["password"]
                .as_str()
                .expect("cloud password")
                .to_owned(),
        ),
        (
            "vendor token".into(),
            creds["vendor"]["service_token"]
                .as_str()
                .expect("vendor token")
                .to_owned(),
        ),
        (
            "broker password".into(),
            creds["broker"]["public"]["password"]
                .as_str()
                .expect("broker password")
                .to_owned(),
        ),
    ];
    for (what, key) in [
        ("SSH private key", text("ssh_private_key")),
        ("certificate key", text("cert_key")),
    ] {
        let lines: Vec<String> = key
            .lines()
            .filter(|l| !l.starts_with("-----") && l.len() >= 16)
            .map(str::to_owned)
            .collect();
        assert!(!lines.is_empty(), "the {what} has a body: {key}");
        secrets.extend(lines.into_iter().map(|l| (format!("{what} line"), l)));
    }
    // The VM's tokens: the agent's own and the script token it keeps fresh for the vendor.
    let instances = data.join("cloud/instances");
    let vm = std::fs::read_dir(&instances)
        .expect("instances")
        .flatten()
        .map(|e| e.path())
        .next()
        .expect("one VM");
    // The certificate's key was written where the manifest said, and is the one revealed.
    let on_disk =
        std::fs::read_to_string(vm.join("etc/secrets-ssl/privkey.pem")).expect("privkey.pem");
    assert_eq!(on_disk.trim_end(), text("cert_key").trim_end());
    let agent_token = std::fs::read_to_string(vm.join("etc/vitrina-agent/token"))
        .expect("the agent's token file");
    secrets.push(("agent token".into(), agent_token.trim().to_owned()));
    let deadline = Instant::now() + Duration::from_secs(120);
    let script_token = loop {
        if let Ok(t) = std::fs::read_to_string(vm.join("var/lib/secrets/script-token")) {
            if !t.trim().is_empty() {
                break t.trim().to_owned();
            }
        }
        assert!(
            Instant::now() < deadline,
            "the agent never wrote the script token"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    secrets.push(("script token".into(), script_token));

    // Every secret reached the script's environment (it wrote their digests only).
    let digests = std::fs::read_to_string(vm.join("srv/secrets/digests")).expect("digests");
    for (name, value) in [
        ("DB_PASSWORD", &db_password),
        ("API_KEY", &api_key),
        ("S3_SECRET", &text("s3_secret")),
        ("MON_PASSWORD", &text("monitoring_password")),
        ("ADMIN_PASSWORD", &text("admin_password")),
    ] {
        let want = hex::encode(sha2::Sha256::digest(format!("{value}\n")));
        assert!(
            digests.contains(&format!("{name} {want}")),
            "{name} did not reach the script: {digests}"
        );
    }

    // A failing step that prints the secrets: the update fails, and says why without them.
    let mut broken_vars = vars.clone();
    broken_vars["break_it"] = json!(true);
    let (code, v) = api
        .call(
            reqwest::Method::PUT,
            &format!("/hoe/object/{uuid}"),
            Some(json!({"vars": broken_vars})),
        )
        .await;
    assert_eq!(code, 202, "{v}");
    let failed = api.wait(uuid, "failed", Duration::from_secs(300)).await;
    let logs = api.logs(uuid).await;
    assert!(
        logs.contains("broken") && logs.contains("exit code 3"),
        "the failure is explained in the log: {logs}"
    );
    eprintln!("failed as planned: {failed}");

    // Bad requests that carry secrets in their bodies.
    let mut nested = vars.clone();
    nested["db_password"] = json!({"nested": api_key});
    let bad = [
        // A string where the variables' map belongs.
        json!({"uuid": uuid, "config": "secrets", "vars": db_password}),
        // A map where a string belongs.
        json!({"vars": nested}),
    ];
    let (code, body) = api
        .call(reqwest::Method::POST, "/hoe/object", Some(bad[0].clone()))
        .await;
    assert!((400..500).contains(&code), "{code} {body}");
    let (code, body) = api
        .call(
            reqwest::Method::PUT,
            &format!("/hoe/object/{uuid}"),
            Some(bad[1].clone()),
        )
        .await;
    assert!((400..500).contains(&code) || code == 202, "{code} {body}");
    eprintln!("an update with a variable of the wrong type: {code} {body}");
    if code == 202 {
        // Accepted: the run that follows fails on the variable's type.
        api.wait(uuid, "failed", Duration::from_secs(300)).await;
    }
    // Variables of the wrong types in a plan preview.
    let mut bad_types = vars.clone();
    bad_types["db_password"] = json!([db_password]);
    bad_types["api_key"] = json!({"key": api_key});
    let (code, body) = api
        .call(
            reqwest::Method::POST,
            &format!("/hoe/object/{uuid}/plan"),
            Some(json!({"vars": bad_types})),
        )
        .await;
    assert!((400..500).contains(&code), "{code} {body}");
    // The config service, with the engine's token: a bad exec group.
    let (code, body) = api
        .raw(
            reqwest::Method::PUT,
            &format!("{}/config/v1/deployments/{uuid}/groups/bad", serve.url),
            &[("authorization", &format!("Bearer {engine_token}"))],
            Some(json!({"hosts": text("s3_secret"), "steps": api_key}).to_string()),
        )
        .await;
    assert!((400..500).contains(&code), "{code} {body}");
    // An agent token used for another host.
    let (code, body) = api
        .raw(
            reqwest::Method::GET,
            &format!("{}/config/v1/deployments/{uuid}/hosts/{host}", serve.url),
            &[("authorization", &format!("Bearer {}", agent_token.trim()))],
            None,
        )
        .await;
    assert!((400..500).contains(&code), "{code} {body}");
    // The cloud's password under a wrong user name.
    let login = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "nobody", "domain": {"id": "default"},
        "password": creds["cloud"]["password"].as_str().expect("cloud password"),
    }}}}});
    let (code, body) = api
        .raw(
            reqwest::Method::POST,
            &keystone_tokens_url(creds["cloud"]["auth_url"].as_str().expect("auth_url")),
            &[],
            Some(login.to_string()),
        )
        .await;
    assert!((400..500).contains(&code), "{code} {body}");

    // Where to look: the deployment's log over the API, the error responses, the server's
    // output, every log file under the data folder, every column of the store.
    let api_log = api.logs(uuid).await;
    let object = api.get(uuid).await.to_string();
    let mut places: Vec<(String, Vec<u8>)> = vec![
        ("the deployment's log (API)".into(), api_log.into_bytes()),
        ("the deployment object (API)".into(), object.into_bytes()),
    ];
    for r in api
        .responses
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
    {
        places.push(("a response".into(), r.clone().into_bytes()));
    }
    let mut files = Vec::new();
    log_files(data, &mut files);
    assert!(
        files
            .iter()
            .any(|f| f.ends_with("var/lib/vitrina-agent/agent.log")),
        "the agent's log is among the files: {files:?}"
    );
    for f in &files {
        let bytes = std::fs::read(f).unwrap_or_default();
        places.push((format!("log file {}", f.display()), bytes));
    }
    // The server stops, so that its store is complete on disk.
    serve.stop();
    let output = serve.output();
    assert!(output.len() > 10, "the server logged little: {output:?}");
    for (k, l) in output.iter().enumerate() {
        places.push((format!("server output line {k}"), l.clone().into_bytes()));
    }
    let db = data.join("vitrina.db");
    let columns = every_column(&db).await;
    assert!(
        columns.iter().any(|(c, _)| c.starts_with("hoe_objects.")),
        "the store holds the deployment"
    );
    let n_columns = columns.len();
    for (c, v) in columns {
        places.push((format!("store column {c}"), v));
    }

    let mut leaks = Vec::new();
    for (what, secret) in &secrets {
        assert!(secret.len() >= 8, "the {what} is too short to look for");
        for (place, bytes) in &places {
            if contains(bytes, secret.as_bytes()) {
                let at = bytes
                    .windows(secret.len())
                    .position(|w| w == secret.as_bytes())
                    .unwrap_or(0);
                let around =
                    &bytes[at.saturating_sub(120)..(at + secret.len() + 120).min(bytes.len())];
                leaks.push(format!(
                    "the {what} in {place}: …{}…",
                    String::from_utf8_lossy(around)
                ));
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "{} leak(s):\n{}",
        leaks.len(),
        leaks.join("\n")
    );
    eprintln!("log files searched: {files:#?}");
    eprintln!(
        "{} secrets checked in {} places ({} log files, {} server lines, {n_columns} stored values)",
        secrets.len(),
        places.len(),
        files.len(),
        output.len()
    );
}

/// Keystone's `POST …/v3/auth/tokens` for an `auth_url` with or without its `/v3`.
fn keystone_tokens_url(auth_url: &str) -> String {
    let base = auth_url.trim_end_matches('/');
    if base.ends_with("/v3") {
        format!("{base}/auth/tokens")
    } else {
        format!("{base}/v3/auth/tokens")
    }
}
