//! Shared by the deployment system's tests: a server with the built-in cloud (shared network
//! mode: these manifests need no data plane), consumer projects with tokens, a small manifest of
//! networks, subnets, security groups, ports and a generated password, and typed calls of VK's
//! paths.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use vitrina_server::hoe::HoeSettings;
use vitrina_server::tenants::{NewCloud, NewProject, Project, ProjectCtx};
use vitrina_server::{Server, ServerConfig};

pub const PREFIX: &str = "/marketplace/api/infra-api/api/v1-public";

/// Networks, a subnet, a security group with a rule, `port_count` ports and a sensitive
/// generated password; every name starts with the deployment's first eight characters.
pub const MANIFEST: &str = r#"
variable "instance_uuid" {
  type = string
}

variable "label" {
  type = string
}

variable "port_count" {
  type    = number
  default = 1
}

locals {
  short = substr(var.instance_uuid, 0, 8)
}

resource "vkcs_networking_network" "net" {
  name = "${local.short}-net-${var.label}"
}

resource "vkcs_networking_subnet" "sub" {
  name       = "${local.short}-sub"
  network_id = vkcs_networking_network.net.id
  cidr       = "10.77.0.0/24"
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
  count              = var.port_count
  name               = "${local.short}-port-${count.index}"
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

output "network_id" {
  value = vkcs_networking_network.net.id
}

output "admin_password" {
  value     = random_password.admin.result
  sensitive = true
}
"#;

pub fn fast_settings() -> HoeSettings {
    HoeSettings {
        workers: 4,
        lease: Duration::from_secs(3),
        poll: Duration::from_millis(200),
        backoff_base: Duration::from_millis(200),
        backoff_max: Duration::from_secs(2),
        recovery_interval: Duration::from_millis(500),
        ..HoeSettings::default()
    }
}

pub fn config(dir: &std::path::Path) -> ServerConfig {
    let mut cfg = ServerConfig::new("127.0.0.1:0".parse().expect("addr"), dir);
    cfg.cloud = true;
    cfg.cloud_network = vitrina_localcloud::NetworkSetting::Shared;
    cfg.hoe = fast_settings();
    cfg
}

pub async fn start(dir: &std::path::Path) -> Server {
    Server::start(config(dir)).await.expect("server starts")
}

/// A consumer project on the built-in cloud, with its API token.
pub async fn project(server: &Server, name: &str) -> (Project, String) {
    let p = server
        .tenants
        .ensure_project(&NewProject {
            name: name.into(),
            email: format!("{name}@example.com"),
            cloud: NewCloud::Local,
        })
        .await
        .expect("project");
    let token = server.tenants.issue_project_token(&p).await.expect("token");
    (p, token.expose().to_owned())
}

pub struct Api {
    pub base: String,
    pub token: String,
    pub http: reqwest::Client,
}

impl Api {
    pub fn new(server_url: &str, token: &str) -> Api {
        Api {
            base: format!("{server_url}{PREFIX}"),
            token: token.to_owned(),
            http: reqwest::Client::new(),
        }
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("x-auth-token", &self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    pub async fn put_config(&self, name: &str, text: &str) -> (u16, Value) {
        let resp = self
            .http
            .post(format!("{}/hoe/config/{name}", self.base))
            .header("x-auth-token", &self.token)
            .body(text.to_owned())
            .send()
            .await
            .expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn create(&self, uuid: &str, config: &str, vars: Value) -> (u16, Value) {
        self.call(
            reqwest::Method::POST,
            "/hoe/object",
            Some(json!({"uuid": uuid, "config": config, "vars": vars})),
        )
        .await
    }

    pub async fn get(&self, uuid: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, &format!("/hoe/object/{uuid}"), None)
            .await
    }

    pub async fn delete(&self, uuid: &str) -> (u16, Value) {
        self.call(
            reqwest::Method::DELETE,
            &format!("/hoe/object/{uuid}"),
            None,
        )
        .await
    }

    /// Polls until the object's status is `want` (panics on `failed` unless wanted, or after
    /// `deadline`).
    pub async fn wait_status(&self, uuid: &str, want: &str, deadline: Duration) -> Value {
        let start = Instant::now();
        loop {
            let (code, v) = self.get(uuid).await;
            assert_eq!(code, 200, "{v}");
            let status = v["status"].as_str().unwrap_or_default().to_owned();
            if status == want && v["target_status"] != "" {
                return v;
            }
            if status == "failed" && want != "failed" {
                let (_, logs) = self
                    .call(
                        reqwest::Method::GET,
                        &format!("/logs/instance/{uuid}"),
                        None,
                    )
                    .await;
                panic!("{uuid} failed: {v}\nlogs: {logs}");
            }
            assert!(
                start.elapsed() < deadline,
                "{uuid} did not reach `{want}` within {deadline:?}: {v}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Everything the project holds in the built-in cloud, as `kind name` lines (sorted), except the
/// project's default security group.
pub async fn cloud_inventory(server: &Server, ctx: &ProjectCtx) -> Vec<String> {
    let creds = server.tenants.project_cloud(ctx).await.expect("cloud");
    let client =
        vitrina_openstack::Client::new(creds.to_cloud_config("test")).expect("cloud client");
    let net = client.network();
    let q = Vec::new();
    let mut out = Vec::new();
    for n in net.list_networks(&q).await.expect("networks") {
        if !n.shared && !n.router_external {
            out.push(format!("network {}", n.name));
        }
    }
    for s in net.list_subnets(&q).await.expect("subnets") {
        out.push(format!("subnet {}", s.name));
    }
    for p in net.list_ports(&q).await.expect("ports") {
        // Ports the cloud makes itself (DHCP, router interfaces) are not the manifest's.
        if !p.device_owner.starts_with("network:") {
            out.push(format!("port {}", p.name));
        }
    }
    for g in net.list_security_groups(&q).await.expect("security groups") {
        if g.name != "default" {
            out.push(format!("secgroup {}", g.name));
        }
    }
    out.sort();
    out
}

pub async fn ctx_of(server: &Server, p: &Project) -> ProjectCtx {
    server
        .tenants
        .project_ctx_for_job(&p.id)
        .await
        .expect("project context")
}
