//! Starts localcloud in-process on `127.0.0.1:0` with a fresh data folder, and talks HTTP to it.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use vitrina_localcloud::{Config, LocalCloud};

pub struct TestCloud {
    pub cloud: LocalCloud,
    pub base: String,
    pub http: reqwest::Client,
    pub token: String,
    pub project_id: String,
    pub dir: tempfile::TempDir,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TestCloud {
    fn drop(&mut self) {
        self.server.abort();
        vitrina_localcloud::kill_instances(&self.dir.path().join("instances"));
    }
}

impl TestCloud {
    /// Stops serving and hands back the data folder; server processes keep running.
    pub fn stop(mut self) -> tempfile::TempDir {
        self.server.abort();
        self.cloud.shutdown().expect("final state write");
        let empty = tempfile::tempdir().expect("temp dir");
        std::mem::replace(&mut self.dir, empty)
    }

    pub async fn start() -> TestCloud {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::start_in(dir).await
    }

    pub async fn start_in(dir: tempfile::TempDir) -> TestCloud {
        Self::start_with(dir, |_| {}).await
    }

    /// Starts in `dir` with a configuration adjusted by `adjust`.
    pub async fn start_with(dir: tempfile::TempDir, adjust: impl FnOnce(&mut Config)) -> TestCloud {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let base = format!("http://{addr}");
        let mut config = Config::new(dir.path(), base.clone());
        adjust(&mut config);
        let cloud = LocalCloud::open(config).await.unwrap_or_else(|e| {
            // Processes left from an earlier start in this folder must not outlive the test.
            vitrina_localcloud::kill_instances(&dir.path().join("instances"));
            panic!("open localcloud: {e}")
        });
        cloud.write_client_files().expect("client files");
        let router = cloud.router();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        let http = reqwest::Client::new();
        let creds = cloud.credentials();
        let demo = creds.projects.get("demo").expect("demo project").clone();
        let mut tc = TestCloud {
            cloud,
            base,
            http,
            token: String::new(),
            project_id: demo.id.clone(),
            dir,
            server,
        };
        tc.token = tc
            .password_token(&demo.username, &demo.password, "demo")
            .await;
        tc
    }

    pub async fn password_token(&self, user: &str, password: &str, project: &str) -> String {
        let body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": user, "domain": {"name": "Default"}, "password": password}}},
            "scope": {"project": {"name": project, "domain": {"name": "Default"}}}}});
        let resp = self
            .http
            .post(format!("{}/identity/v3/auth/tokens", self.base))
            .json(&body)
            .send()
            .await
            .expect("auth");
        assert_eq!(resp.status(), 201, "auth failed");
        resp.headers()
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok())
            .expect("X-Subject-Token")
            .to_owned()
    }

    pub fn url(&self, path: &str) -> String {
        let path = path.replace("{project}", &self.project_id);
        format!("{}{}", self.base, path)
    }

    /// Sends a request with the demo token; returns status and JSON body (Null when empty/not JSON).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&str>,
    ) -> (u16, Value) {
        self.call_as(&self.token.clone(), method, path, body).await
    }

    pub async fn call_as(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<&str>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, self.url(path))
            .header("x-auth-token", token);
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_owned());
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.expect("body");
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    pub async fn get(&self, path: &str) -> Value {
        let (s, v) = self.call(reqwest::Method::GET, path, None).await;
        assert_eq!(s, 200, "GET {path}: {v}");
        v
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, Some(&body.to_string()))
            .await
    }

    /// `POST /servers/{server}/action` with `body`.
    pub async fn action(&self, server: &str, body: Value) -> (u16, Value) {
        self.post(&format!("/compute/v2.1/servers/{server}/action"), body)
            .await
    }

    /// Polls until `f` returns Some, failing after `timeout`.
    pub async fn wait_for<T, F, Fut>(&self, what: &str, timeout: Duration, mut f: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let start = Instant::now();
        loop {
            if let Some(v) = f().await {
                return v;
            }
            assert!(start.elapsed() < timeout, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Creates a network with one /24 subnet; returns (network id, subnet id).
    pub async fn network(&self, name: &str, cidr: &str) -> (String, String) {
        let (s, n) = self
            .post(
                "/networking/v2.0/networks",
                json!({"network": {"name": name}}),
            )
            .await;
        assert_eq!(s, 201, "{n}");
        let net = n["network"]["id"].as_str().expect("id").to_owned();
        let (s, sub) = self.post("/networking/v2.0/subnets", json!({"subnet": {"network_id": net, "cidr": cidr, "ip_version": 4, "name": format!("{name}-subnet")}})).await;
        assert_eq!(s, 201, "{sub}");
        (net, sub["subnet"]["id"].as_str().expect("id").to_owned())
    }

    pub async fn base_image(&self) -> String {
        let v = self.get("/image/v2/images?name=vitrina-process-base").await;
        v["images"][0]["id"]
            .as_str()
            .expect("base image")
            .to_owned()
    }

    pub async fn flavor(&self, name: &str) -> String {
        let v = self.get("/compute/v2.1/flavors").await;
        v["flavors"]
            .as_array()
            .expect("flavors")
            .iter()
            .find(|f| f["name"] == name)
            .and_then(|f| f["id"].as_str())
            .expect("flavor")
            .to_owned()
    }

    /// Boots a server from the base image on `net` and waits for `status`.
    pub async fn boot(&self, name: &str, net: &str, user_data: Option<&str>) -> String {
        use base64::Engine as _;
        let image = self.base_image().await;
        let flavor = self.flavor("Basic-1-2-20").await;
        let mut server = json!({"name": name, "flavorRef": flavor, "imageRef": image, "networks": [{"uuid": net}]});
        if let Some(ud) = user_data {
            server["user_data"] = json!(base64::engine::general_purpose::STANDARD.encode(ud));
        }
        let (s, v) = self
            .post("/compute/v2.1/servers", json!({"server": server}))
            .await;
        assert_eq!(s, 202, "{v}");
        v["server"]["id"].as_str().expect("id").to_owned()
    }

    pub async fn wait_status(&self, server: &str, status: &str) -> Value {
        let path = format!("/compute/v2.1/servers/{server}");
        self.wait_for(
            &format!("server {server} {status}"),
            Duration::from_secs(20),
            || {
                let path = path.clone();
                async move {
                    let (_, v) = self.call(reqwest::Method::GET, &path, None).await;
                    (v["server"]["status"] == status).then_some(v)
                }
            },
        )
        .await
    }
}

/// Fails (never skips) with what to install when a prerequisite is missing: the isolated mode
/// needs root's CAP_NET_ADMIN and CAP_SYS_ADMIN, and `tools` (name, Debian package).
pub fn require_privileges(tools: &[(&str, &str)]) {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let caps = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0);
    assert!(
        caps & (1 << 12) != 0 && caps & (1 << 21) != 0,
        "these tests need CAP_NET_ADMIN and CAP_SYS_ADMIN: run them as root"
    );
    for (tool, package) in tools {
        assert!(
            vitrina_localcloud::dataplane::find_tool(tool).is_some(),
            "`{tool}` is missing: apt-get install -y {package}"
        );
    }
}

impl TestCloud {
    /// A cloud in the isolated mode with an external range of its own
    /// (`198.19.<third_octet>.0/24`), so tests running at once do not share one; fails first when
    /// a prerequisite (privileges, `tools`) is missing.
    pub async fn isolated(third_octet: u8, tools: &[(&str, &str)]) -> TestCloud {
        require_privileges(tools);
        let dir = tempfile::tempdir().expect("temp dir");
        let tc = TestCloud::start_with(dir, |c| {
            c.external_cidr = Some(format!("198.19.{third_octet}.0/24"));
        })
        .await;
        assert_eq!(
            tc.cloud.network_mode().name(),
            "isolated",
            "{:?}",
            tc.cloud.network_mode()
        );
        tc
    }
}
