//! VM-SDF deployments end to end on the built-in cloud (issue 14, Acceptance 2 and 3): the
//! seed's LNMP app, adapted so that its `shell` engine needs no internet and its `source` is a
//! tarball this test serves over loopback HTTP, deploys through `POST /sdf/v1/deployments` in
//! each of the three modes (`raw`, `kvs`, `ota+kvs`). The VM's reader applies the configuration:
//! the file the engine wrote holds the variables given; in the kvs modes the USERDATA read back
//! through Nova (`OS-EXT-SRV-ATTR:user_data`, microversion 2.3, as the cloud's admin) holds no
//! variable value and no password; the one-time token, once redeemed by the VM, is refused.
//! A volatile variable changed afterwards reaches the running VM (no reboot); a non-volatile
//! one is refused with the reason.

#[path = "hoe_common/mod.rs"]
mod hoe_common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};
use vitrina_server::Server;

const ROOT_PASSWORD: &str = "Root-pass-4242";
const USER_PASSWORD: &str = "User-pass-7373";

/// The seed's LNMP app in `mode`, with a shell engine and a source served by the test.
fn lnmp_app(id: &str, mode: &str, source: &str) -> String {
    format!(
        r#"{id}:
  mode: {mode}
  schema: /schemes/vm-sdf-1.0.yaml
  name: LNMP Server
  version: 1.0
  description: LNMP Server (Linux, NGINX, MySQL, PHP FPM), adapted for tests
  license: Apache 2.0
  engine: shell
  source: {source}
  templates:
    - vitrina-process-base
  minimal-root-disk-size: 10
  service-offering:
    filters:
      resources:
        minimal-ram: 1024
        minimal-cores: 2
  features-requested:
    vm-key-value-storage: true
    log-storage: true
    use-ota: true
  deployment-progress:
    log: /var/log/deployment_log
    vm-key: deployment-progress
  variables:
    domain-name:
      description:
        default: Domain name for the first Website
        ru_RU: Имя домена для создаваемого сайта
      type: DomainName
      default: example.com
      is-volatile: true
    mysql-root-password:
      description:
        default: Password for MySQL root user
        ru_RU: Пароль root-пользователя MySQL
      type: Password
    mysql-database:
      description:
        default: MySQL database for the website
        ru_RU: Имя базы данных для web-сайта
      type: String
      regex: '^[a-zA-Z][a-zA-Z_0-9]{{1,15}}$'
      default: db
    mysql-user-name:
      description:
        default: Database User Name
        ru_RU: Имя пользователя базы данных
      type: String
      regex: '^[a-zA-Z][a-zA-Z_0-9]{{1,15}}$'
      default: www
    mysql-user-password:
      description:
        default: Database User Password
        ru_RU: Пароль пользователя базы данных
      type: Password
    mysql-php-admin-install:
      description:
        default: Install PhpMyAdmin?
        ru_RU: Устанавливать PhpMyAdmin?
      type: OneOf
      options:
        false:
          labels:
            default: No
            ru_RU: Нет
        true:
          labels:
            default: Yes
            ru_RU: Да
      default: false
    mysql-php-admin-https-port:
      active-if:
        predicate: and
        sources:
          mysql-php-admin-install: true
      description:
        default: PhpMyAdmin HTTPS port
        ru_RU: HTTPS порт PhpMyAdmin
      type: Number
      minimum: 1024
      maximum: 65535
      default: 8443
"#
    )
}

/// The app's source: `deploy.sh`, which writes the site's settings where the test reads them
/// (only a hash of each password).
const DEPLOY_SH: &str = r#"#!/bin/sh
set -eu
CONF="${VITRINA_ROOT%/}/etc/lnmp"
mkdir -p "$CONF"
hash() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
{
  echo "domain=$SDF_VAR_DOMAIN_NAME"
  echo "database=$SDF_VAR_MYSQL_DATABASE"
  echo "user=$SDF_VAR_MYSQL_USER_NAME"
  echo "root_password_sha256=$(hash "$SDF_VAR_MYSQL_ROOT_PASSWORD")"
  echo "user_password_sha256=$(hash "$SDF_VAR_MYSQL_USER_PASSWORD")"
  echo "phpmyadmin=$SDF_VAR_MYSQL_PHP_ADMIN_INSTALL"
  echo "phpmyadmin_port=$SDF_VAR_MYSQL_PHP_ADMIN_HTTPS_PORT"
} > "$CONF/site.env.tmp"
mv "$CONF/site.env.tmp" "$CONF/site.env"
echo "site configured for $SDF_VAR_DOMAIN_NAME"
"#;

fn sha256_hex(s: &str) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

/// A gzip tarball with `deploy.sh`, made with the system's `tar`.
fn source_tarball(dir: &Path) -> Vec<u8> {
    let src = dir.join("lnmp-src");
    std::fs::create_dir_all(&src).expect("source dir");
    std::fs::write(src.join("deploy.sh"), DEPLOY_SH).expect("deploy.sh");
    let out = dir.join("lnmp-10.tar.gz");
    let status = std::process::Command::new("tar")
        .arg("-czf")
        .arg(&out)
        .arg("-C")
        .arg(&src)
        .arg("deploy.sh")
        .status()
        .expect("tar runs (Debian package `tar`)");
    assert!(status.success(), "tar failed");
    std::fs::read(out).expect("tarball")
}

/// Serves the tarball at `/lnmp-10.tar.gz` on a free loopback port.
async fn serve_source(bytes: Vec<u8>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = axum::Router::new().route(
        "/lnmp-10.tar.gz",
        axum::routing::get(move || {
            let b = bytes.clone();
            async move { b }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}/lnmp-10.tar.gz")
}

/// The VMs this test started, stopped even when it fails.
struct Vms(PathBuf);

impl Drop for Vms {
    fn drop(&mut self) {
        vitrina_localcloud::kill_instances(&self.0.join("cloud/instances"));
    }
}

struct Sdf {
    http: reqwest::Client,
    url: String,
    token: String,
}

impl Sdf {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.url))
            .header("x-auth-token", &self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Polls the deployment until `done` holds for it (panics on failure or after 10 minutes).
    async fn wait(&self, uuid: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            let (code, v) = self
                .call(
                    reqwest::Method::GET,
                    &format!("/sdf/v1/deployments/{uuid}"),
                    None,
                )
                .await;
            assert_eq!(code, 200, "{v}");
            if done(&v) {
                return v;
            }
            assert_ne!(v["status"], "failed", "{uuid} failed: {v}");
            assert_ne!(
                v["progress"]["state"], "failed",
                "the VM of {uuid} reported a failure: {v}"
            );
            assert!(
                Instant::now() < deadline,
                "{uuid}: {what} did not happen in time: {v}"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// The project network the VMs join (a loopback range: shared-network mode).
async fn subnet(server: &Server, ctx: &vitrina_server::tenants::ProjectCtx) -> String {
    let third = std::process::id() % 200 + 21;
    let tf = format!(
        r#"
resource "vkcs_networking_network" "net" {{
  name = "sdf-net"
}}

resource "vkcs_networking_subnet" "sub" {{
  name       = "sdf-subnet"
  network_id = vkcs_networking_network.net.id
  cidr       = "127.79.{third}.0/24"
}}

output "subnet" {{
  value = vkcs_networking_subnet.sub.id
}}
"#
    );
    let uuid = uuid::Uuid::new_v4().to_string();
    server
        .hoe
        .create_object(
            ctx,
            vitrina_server::hoe::CreateObject {
                uuid: uuid.clone(),
                config: None,
                files: Some([("main.tf".to_owned(), tf)].into_iter().collect()),
                vars: serde_json::Map::new(),
            },
        )
        .await
        .expect("network object");
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let v = server.hoe.object(ctx, &uuid, false).await.expect("object");
        assert_ne!(v.status, "failed", "{v:?}");
        if v.status == "running" {
            let out: Value = serde_json::from_str(&v.out).expect("outputs");
            return out["subnet"].as_str().expect("subnet").to_owned();
        }
        assert!(Instant::now() < deadline, "no network: {v:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// USERDATA of a server as Nova shows it to the cloud's admin (microversion 2.3), decoded.
async fn user_data_of(server: &Server, server_id: &str) -> String {
    let cloud = server.cloud.as_ref().expect("built-in cloud");
    let creds = cloud.credentials();
    let config = vitrina_openstack::CloudConfig {
        name: Some("admin".into()),
        auth_url: creds.auth_url.clone(),
        auth: vitrina_openstack::AuthMethod::Password {
            user: vitrina_openstack::UserSpec::Name {
                name: creds.admin.username.clone(),
                domain: vitrina_openstack::DomainSpec::Name("Default".into()),
            },
            password: vitrina_common::Secret::new(creds.admin.password.clone()),
            scope: vitrina_openstack::ScopeSpec::ProjectId(creds.admin.project_id.clone()),
        },
        region_name: Some(creds.region.clone()),
        interface: "public".into(),
        verify: true,
        cacert: None,
        endpoint_overrides: Default::default(),
    };
    let client = vitrina_openstack::Client::with_options(
        config,
        vitrina_openstack::ClientOptions {
            compute_microversion: Some("2.3".into()),
            ..Default::default()
        },
    )
    .expect("admin client");
    let resp = client
        .request(
            vitrina_openstack::ServiceType::Compute,
            reqwest::Method::GET,
            &format!("servers/{server_id}"),
            |b| b,
        )
        .await
        .expect("GET server");
    let v: Value = resp.json().await.expect("server JSON");
    let b64 = v["server"]["OS-EXT-SRV-ATTR:user_data"]
        .as_str()
        .unwrap_or_else(|| panic!("no user_data in {v}"));
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("base64 user_data");
    String::from_utf8(bytes).expect("UTF-8 user_data")
}

fn read_settings(data: &Path, server_id: &str) -> Option<String> {
    std::fs::read_to_string(
        data.join("cloud/instances")
            .join(server_id)
            .join("etc/lnmp/site.env"),
    )
    .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lnmp_deploys_in_the_three_modes_and_takes_volatile_changes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let _vms = Vms(data.clone());
    let source = serve_source(source_tarball(dir.path())).await;

    // The catalog: one app per mode, compiled as `vitrina sdf build` does.
    let apps_dir = dir.path().join("apps");
    std::fs::create_dir_all(&apps_dir).expect("apps");
    for (id, mode) in [
        ("lnmp-raw", "raw"),
        ("lnmp-kvs", "kvs"),
        ("lnmp-ota", "ota+kvs"),
    ] {
        std::fs::write(
            apps_dir.join(format!("{id}.yaml")),
            lnmp_app(id, mode, &source),
        )
        .expect("app file");
    }
    let checked = vitrina_package::sdf::validate_path(&apps_dir).expect("apps read");
    assert!(checked.ok(), "{:?}", checked.diagnostics);
    let catalog = dir.path().join("catalog.yaml");
    std::fs::write(
        &catalog,
        vitrina_package::sdf::build_catalog(&checked).expect("catalog"),
    )
    .expect("catalog file");

    let mut cfg = hoe_common::config(&data);
    cfg.sdf_catalog = Some(catalog);
    let server = Server::start(cfg).await.expect("server starts");
    let (project, token) = hoe_common::project(&server, "sdf-deployer").await;
    let ctx = hoe_common::ctx_of(&server, &project).await;
    let subnet = subnet(&server, &ctx).await;
    let api = Sdf {
        http: reqwest::Client::new(),
        url: server.url.clone(),
        token,
    };

    let mut deployed = Vec::new();
    for (n, (app, mode)) in [
        ("lnmp-raw", "raw"),
        ("lnmp-kvs", "kvs"),
        ("lnmp-ota", "ota+kvs"),
    ]
    .into_iter()
    .enumerate()
    {
        let uuid = uuid::Uuid::new_v4().to_string();
        let domain = format!("site{n}.example.org");
        let database = format!("shop{n}");
        let (code, v) = api
            .call(
                reqwest::Method::POST,
                "/sdf/v1/deployments",
                Some(json!({
                    "uuid": uuid, "app": app, "subnet": subnet, "poll_seconds": 1,
                    "values": {
                        "domain-name": domain,
                        "mysql-root-password": ROOT_PASSWORD,
                        "mysql-database": database,
                        "mysql-user-password": USER_PASSWORD,
                        "mysql-php-admin-install": true,
                        "mysql-php-admin-https-port": 9443,
                    },
                })),
            )
            .await;
        assert_eq!(code, 201, "{v}");
        assert_eq!(v["mode"], mode, "{v}");
        // The page shows passwords masked.
        assert_eq!(v["variables"]["mysql-root-password"], "********", "{v}");
        deployed.push((uuid, app, mode, domain, database));
    }

    for (uuid, app, mode, domain, database) in &deployed {
        let started = Instant::now();
        let v = api
            .wait(uuid, "the VM reporting `deployed`", |v| {
                v["status"] == "running" && v["progress"]["state"] == "deployed"
            })
            .await;
        eprintln!("{app} ({mode}) deployed in {:?}", started.elapsed());
        let out: Value =
            serde_json::from_str(v["object"]["out"].as_str().expect("out")).expect("outputs");
        let server_id = out["server_id"].as_str().expect("server_id").to_owned();

        // The VM ends with the variables it was given.
        let settings = read_settings(&data, &server_id).expect("the engine wrote site.env");
        assert!(
            settings.contains(&format!("domain={domain}\n")),
            "{settings}"
        );
        assert!(
            settings.contains(&format!("database={database}\n")),
            "{settings}"
        );
        assert!(settings.contains("user=www\n"), "{settings}");
        assert!(
            settings.contains(&format!(
                "root_password_sha256={}\n",
                sha256_hex(ROOT_PASSWORD)
            )),
            "{settings}"
        );
        assert!(
            settings.contains(&format!(
                "user_password_sha256={}\n",
                sha256_hex(USER_PASSWORD)
            )),
            "{settings}"
        );
        assert!(settings.contains("phpmyadmin=true\n"), "{settings}");
        assert!(settings.contains("phpmyadmin_port=9443\n"), "{settings}");

        // USERDATA as the cloud holds it.
        let user_data = user_data_of(&server, &server_id).await;
        assert!(user_data.starts_with("#cloud-config\n"), "{user_data}");
        if *mode == "raw" {
            assert!(
                user_data.contains(ROOT_PASSWORD),
                "raw carries the YAML itself"
            );
            continue;
        }
        for secret in [
            ROOT_PASSWORD,
            USER_PASSWORD,
            domain.as_str(),
            database.as_str(),
        ] {
            assert!(
                !user_data.contains(secret),
                "{mode}: USERDATA holds `{secret}`:\n{user_data}"
            );
        }
        // deployment-info in USERDATA is only the pointer: its mode and how to reach the store.
        let doc: serde_yaml::Value =
            serde_yaml::from_str(user_data.trim_start_matches("#cloud-config\n"))
                .expect("cloud-config YAML");
        let info_text = doc["write_files"][0]["content"].as_str().expect("info");
        let info: Value = serde_json::from_str(info_text).expect("deployment-info JSON");
        let keys: std::collections::BTreeSet<&str> = info["deployment-info"]
            .as_object()
            .expect("deployment-info")
            .keys()
            .map(String::as_str)
            .collect();
        let want: std::collections::BTreeSet<&str> =
            [*mode, "mode", "poll-seconds"].into_iter().collect();
        assert_eq!(keys, want, "{info}");
        if *mode == "ota+kvs" {
            // The token in USERDATA was redeemed by the VM: a second redemption is refused.
            let ota = &info["deployment-info"]["ota+kvs"];
            assert!(
                ota.get("name").is_none() && ota.get("secret").is_none(),
                "{info}"
            );
            let r = api
                .http
                .post(ota["endpoint"].as_str().expect("endpoint"))
                .json(&json!({"token": ota["token"]}))
                .send()
                .await
                .expect("redeem");
            assert_eq!(r.status().as_u16(), 410, "a replayed token is refused");
        }
    }

    // After deployment: a volatile variable reaches the running VM; a non-volatile one is
    // refused with the reason; raw mode takes no change.
    let (uuid, _, _, _, database) = &deployed[1];
    let (code, v) = api
        .call(
            reqwest::Method::PATCH,
            &format!("/sdf/v1/deployments/{uuid}"),
            Some(json!({"values": {"mysql-database": "other"}})),
        )
        .await;
    assert_eq!(code, 409, "{v}");
    assert_eq!(v["refusals"][0]["variable"], "mysql-database", "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap_or_default()
            .contains("not volatile"),
        "{v}"
    );
    let (code, v) = api
        .call(
            reqwest::Method::PATCH,
            &format!("/sdf/v1/deployments/{uuid}"),
            Some(json!({"values": {"domain-name": "renamed.example.org"}})),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    let started = Instant::now();
    let v = api
        .wait(uuid, "the VM reporting `reconfigured`", |v| {
            v["progress"]["state"] == "reconfigured"
        })
        .await;
    eprintln!(
        "the volatile change reached the VM in {:?}",
        started.elapsed()
    );
    let out: Value =
        serde_json::from_str(v["object"]["out"].as_str().expect("out")).expect("outputs");
    let server_id = out["server_id"].as_str().expect("server_id");
    let settings = read_settings(&data, server_id).expect("site.env");
    assert!(
        settings.contains("domain=renamed.example.org\n"),
        "{settings}"
    );
    assert!(
        settings.contains(&format!("database={database}\n")),
        "{settings}"
    );

    let (raw_uuid, ..) = &deployed[0];
    let (code, v) = api
        .call(
            reqwest::Method::PATCH,
            &format!("/sdf/v1/deployments/{raw_uuid}"),
            Some(json!({"values": {"domain-name": "renamed.example.org"}})),
        )
        .await;
    assert_eq!(code, 409, "{v}");
    assert!(
        v["error"].as_str().unwrap_or_default().contains("raw"),
        "{v}"
    );

    // Deleting removes the VMs.
    for (uuid, ..) in &deployed {
        let (code, v) = api
            .call(
                reqwest::Method::DELETE,
                &format!("/sdf/v1/deployments/{uuid}"),
                None,
            )
            .await;
        assert_eq!(code, 202, "{v}");
    }
    server.stop().await;
}
