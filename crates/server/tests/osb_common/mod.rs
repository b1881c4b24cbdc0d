//! Shared by the broker's tests: a real server (store, products, hoe, the built-in cloud in
//! shared-network mode) on 127.0.0.1, a vendor that uploads packages through the product API,
//! broker accounts of both namespaces, and an OSB client over HTTP.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};
use vitrina_server::tenants::{Namespace, Project};
use vitrina_server::Server;

#[path = "../hoe_common/mod.rs"]
pub mod hoe_common;

pub const PROBE_SERVICE: &str = "5a50dbac-f97f-4d33-871c-fd97bdf08a8d";
pub const PROBE_SMALL: &str = "7af38ff4-bb47-4f2e-a195-38b56ded142d";
pub const PROBE_LARGE: &str = "cd03b67e-fee1-45e9-97c6-9accdba67a28";

/// `crates/server/tests/fixtures/osb_probe`: a package whose manifests make only `random` and
/// `null` resources, so a deployment is real (hoe, engine, store) and quick.
pub fn probe_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/osb_probe")
}

pub fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/packages")
        .join(name)
}

/// Copies a package folder to `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let target = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).expect("copy");
        }
    }
}

/// Replaces `from` by `to` in a file (which must contain it).
pub fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).expect("read");
    assert!(text.contains(from), "{} lacks {from:?}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).expect("write");
}

/// The package zip of a folder, as `vitrina package pack` makes it.
pub fn zip_of(dir: &Path, scratch: &Path) -> Vec<u8> {
    let files = vitrina_package::read_package(dir).expect("package reads");
    let out = scratch.join(format!("{}.zip", uuid::Uuid::new_v4().simple()));
    vitrina_package::pack::pack(dir, &files, &out).expect("packs");
    std::fs::read(&out).expect("zip")
}

pub struct Env {
    pub server: Server,
    pub dir: tempfile::TempDir,
    pub vendor_token: String,
    pub project: Project,
    /// (username, password) of a `public` and a `test` broker account.
    pub public: (String, String),
    pub test: (String, String),
    pub http: reqwest::Client,
}

impl Env {
    pub async fn start() -> Env {
        Env::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut vitrina_server::ServerConfig)) -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cfg = hoe_common::config(&dir.path().join("data"));
        adjust(&mut cfg);
        let server = Server::start(cfg).await.expect("server starts");
        let t = &server.tenants;
        let vendor = t.ensure_vendor("osb-vendor").await.expect("vendor");
        let vendor_token = t
            .issue_vendor_token(&vendor)
            .await
            .expect("token")
            .expose()
            .to_owned();
        let (project, _) = hoe_common::project(&server, "osb-consumer").await;
        let public = t
            .put_broker_account("osb-public", Namespace::Public)
            .await
            .expect("public account")
            .expose()
            .to_owned();
        let test = t
            .put_broker_account("osb-test", Namespace::Test)
            .await
            .expect("test account")
            .expose()
            .to_owned();
        Env {
            server,
            dir,
            vendor_token,
            project,
            public: ("osb-public".into(), public),
            test: ("osb-test".into(), test),
            http: reqwest::Client::new(),
        }
    }

    /// `POST /product` (multipart field `upload`) with the vendor's token; asserts 204.
    pub async fn upload(&self, package_dir: &Path) {
        let zip = zip_of(package_dir, self.dir.path());
        let boundary = "vitrina-osb-test-boundary";
        let mut body = Vec::new();
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"upload\"; filename=\"p.zip\"\r\nContent-Type: application/zip\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(&zip);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let resp = self
            .http
            .post(format!("{}{}/product", self.server.url, hoe_common::PREFIX))
            .header("x-service-token", &self.vendor_token)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
            .send()
            .await
            .expect("upload");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        assert_eq!(status, 204, "upload of {}: {text}", package_dir.display());
    }

    /// `POST /product/publish`; asserts 204.
    pub async fn publish(&self, service_id: &str, revision: &str) {
        let resp = self
            .http
            .post(format!(
                "{}{}/product/publish",
                self.server.url,
                hoe_common::PREFIX
            ))
            .header("x-service-token", &self.vendor_token)
            .json(&json!({"id": service_id, "revision": revision}))
            .send()
            .await
            .expect("publish");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        assert_eq!(status, 204, "publish: {text}");
    }

    pub fn osb_public(&self) -> Osb {
        Osb::new(&self.server.url, &self.public.0, &self.public.1)
    }

    pub fn osb_test(&self) -> Osb {
        Osb::new(&self.server.url, &self.test.0, &self.test.1)
    }

    pub async fn stop(self) {
        self.server.stop().await;
    }
}

/// One answer of the broker.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// An OSB client: Basic auth and `X-Broker-API-Version` (2.17 unless changed).
#[derive(Clone)]
pub struct Osb {
    pub base: String,
    pub user: String,
    pub password: String,
    pub version: Option<String>,
    pub http: reqwest::Client,
}

impl Osb {
    pub fn new(base: &str, user: &str, password: &str) -> Osb {
        Osb {
            base: base.to_owned(),
            user: user.to_owned(),
            password: password.to_owned(),
            version: Some("2.17".into()),
            http: reqwest::Client::new(),
        }
    }

    pub fn with_version(&self, v: Option<&str>) -> Osb {
        let mut o = self.clone();
        o.version = v.map(str::to_owned);
        o
    }

    pub fn with_password(&self, p: &str) -> Osb {
        let mut o = self.clone();
        o.password = p.to_owned();
        o
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        self.call_with(method, path, body, &[]).await
    }

    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .basic_auth(&self.user, Some(&self.password));
        if let Some(v) = &self.version {
            req = req.header("X-Broker-API-Version", v);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
            text,
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, None).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Answer {
        self.call(Method::PUT, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Answer {
        self.call(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.call(Method::DELETE, path, None).await
    }

    pub async fn catalog(&self) -> Value {
        let a = self.get("/v2/catalog").await;
        assert_eq!(a.status, 200, "{}", a.text);
        a.body
    }

    /// Polls the instance's `last_operation` until it is not `in progress`; returns the last
    /// answer's body.
    pub async fn wait(&self, instance: &str, deadline: Duration) -> Value {
        let start = Instant::now();
        loop {
            let a = self
                .get(&format!("/v2/service_instances/{instance}/last_operation"))
                .await;
            assert_eq!(a.status, 200, "last_operation: {}", a.text);
            if a.body["state"] != "in progress" {
                return a.body;
            }
            assert!(
                a.header("retry-after").is_some(),
                "an operation in progress names a Retry-After"
            );
            assert!(
                start.elapsed() < deadline,
                "{instance} still in progress after {deadline:?}: {}",
                a.text
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Polls until the operation succeeded; panics with the description when it failed.
    pub async fn wait_ok(&self, instance: &str, deadline: Duration) {
        let last = self.wait(instance, deadline).await;
        assert_eq!(last["state"], "succeeded", "{instance}: {last}");
    }
}

/// A provision body for the probe service.
pub fn probe_provision(plan: &str, params: Value, project: &Project) -> Value {
    json!({
        "service_id": PROBE_SERVICE,
        "plan_id": plan,
        "organization_guid": "org-1",
        "space_guid": "space-1",
        "context": {"platform": "vitrina-tests", "project_id": project.id},
        "parameters": params,
    })
}
