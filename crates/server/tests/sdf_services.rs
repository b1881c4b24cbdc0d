//! VM-SDF services over loopback HTTP: the catalog without caching, the per-VM KV store
//! (flattened keys, credentials scoped to one VM, the owner reading), one-time tokens redeemed
//! once, and per-VM logs.

use reqwest::StatusCode;
use serde_json::{json, Value};
use vitrina_server::sdf::{CreatedVm, KvCredentials, LogLine, OtaToken};
use vitrina_server::{Server, ServerConfig};

async fn start(dir: &std::path::Path, catalog: Option<std::path::PathBuf>) -> Server {
    let mut cfg = ServerConfig::new("127.0.0.1:0".parse().expect("addr"), dir);
    cfg.sdf_catalog = catalog;
    Server::start(cfg).await.expect("server starts")
}

struct Ctx {
    http: reqwest::Client,
    url: String,
    engine: String,
}

impl Ctx {
    fn new(server: &Server) -> Ctx {
        Ctx {
            http: reqwest::Client::new(),
            url: server.url.clone(),
            engine: server.engine_token.expose().to_owned(),
        }
    }

    async fn create_vm(&self, vm: &str) -> CreatedVm {
        let r = self
            .http
            .post(format!("{}/sdf/v1/vms", self.url))
            .bearer_auth(&self.engine)
            .json(&json!({"vm": vm}))
            .send()
            .await
            .expect("create");
        assert_eq!(r.status(), StatusCode::CREATED);
        r.json().await.expect("json")
    }

    async fn kv_all(&self, store: &str, secret: &str) -> reqwest::Response {
        self.http
            .get(format!("{}/sdf/v1/kv/{store}", self.url))
            .bearer_auth(secret)
            .send()
            .await
            .expect("kv")
    }

    async fn kv_put(&self, store: &str, key: &str, secret: &str, v: Value) -> StatusCode {
        self.http
            .put(format!("{}/sdf/v1/kv/{store}/{key}", self.url))
            .bearer_auth(secret)
            .json(&v)
            .send()
            .await
            .expect("put")
            .status()
    }

    async fn redeem(&self, token: &str) -> reqwest::Response {
        self.http
            .post(format!("{}/sdf/v1/ota/redeem", self.url))
            .json(&json!({"token": token}))
            .send()
            .await
            .expect("redeem")
    }
}

#[tokio::test]
async fn catalog_is_served_without_caching_and_live() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("catalog.yaml");
    std::fs::write(&file, "vm-sdf-catalog: 1\napplications: {}\n").expect("write");
    let server = start(&dir.path().join("data"), Some(file.clone())).await;
    let r = reqwest::get(format!("{}/sdf/v1/catalog", server.url))
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap_or_default()
        .starts_with("application/yaml"));
    assert_eq!(
        r.text().await.expect("text"),
        "vm-sdf-catalog: 1\napplications: {}\n"
    );
    // A rebuilt catalog is what the next request gets.
    std::fs::write(&file, "vm-sdf-catalog: 1\napplications: {a-1: {}}\n").expect("write");
    let text = reqwest::get(format!("{}/sdf/v1/catalog", server.url))
        .await
        .expect("get")
        .text()
        .await
        .expect("text");
    assert!(text.contains("a-1"));
    server.stop().await;

    let server = start(&dir.path().join("data2"), None).await;
    let r = reqwest::get(format!("{}/sdf/v1/catalog", server.url))
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    server.stop().await;
}

#[tokio::test]
async fn kv_store_is_flattened_scoped_to_its_vm_and_read_by_the_owner() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path(), None).await;
    let c = Ctx::new(&server);
    let a = c.create_vm("vm-a").await;
    let b = c.create_vm("vm-b").await;
    assert_ne!(a.kvs.name, b.kvs.name);
    assert!(a.kvs.endpoint.ends_with("/sdf/v1/kv/"));

    // The deployment system writes the configuration: flattened to a.b.c keys.
    let config = json!({"deployment-info": {"mode": "kvs", "variables": {
        "domain-name": "www.example.com", "mysql-root-password": "r00t-Secret",
        "use-lets-encrypt": null, "modules": ["gd", "intl"]}}});
    let r = c
        .http
        .put(format!("{}/sdf/v1/vms/vm-a/config", c.url))
        .bearer_auth(&c.engine)
        .json(&config)
        .send()
        .await
        .expect("put");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let all: Value = c
        .kv_all(&a.kvs.name, &a.kvs.secret)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        all["values"]["deployment-info.variables.domain-name"],
        "www.example.com"
    );
    assert_eq!(
        all["values"]["deployment-info.variables.use-lets-encrypt"],
        Value::Null
    );
    assert_eq!(all["values"]["deployment-info.variables.modules.1"], "intl");
    assert_eq!(all["values"]["deployment-info.mode"], "kvs");

    // The VM writes its progress; the owner reads it but cannot write.
    assert_eq!(
        c.kv_put(
            &a.kvs.name,
            "deployment-progress",
            &a.kvs.secret,
            json!({"step": 2, "of": 5})
        )
        .await,
        StatusCode::NO_CONTENT
    );
    let r = c
        .http
        .get(format!(
            "{}/sdf/v1/kv/{}/deployment-progress",
            c.url, a.kvs.name
        ))
        .bearer_auth(&a.owner.secret)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.json::<Value>().await.expect("json"),
        json!({"step": 2, "of": 5})
    );
    assert_eq!(
        c.kv_put(&a.kvs.name, "x", &a.owner.secret, json!(1)).await,
        StatusCode::FORBIDDEN
    );

    // One VM's credential opens nothing of another VM: reads, writes and logs all say 404.
    assert_eq!(
        c.kv_all(&a.kvs.name, &b.kvs.secret).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        c.kv_all(&a.kvs.name, &b.owner.secret).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        c.kv_put(&a.kvs.name, "x", &b.kvs.secret, json!(1)).await,
        StatusCode::NOT_FOUND
    );
    let r = c
        .http
        .get(format!(
            "{}/sdf/v1/kv/{}/deployment-info.mode",
            c.url, a.kvs.name
        ))
        .bearer_auth(&b.kvs.secret)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = c
        .http
        .get(format!("{}/sdf/v1/logs/{}", c.url, a.kvs.name))
        .bearer_auth(&b.kvs.secret)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // B's own store is still empty: A's values did not leak into it.
    let b_all: Value = c
        .kv_all(&b.kvs.name, &b.kvs.secret)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(b_all, json!({"values": {}}));
    // No credential at all; the engine's token is no KV credential.
    let r = c
        .http
        .get(format!("{}/sdf/v1/kv/{}", c.url, a.kvs.name))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        c.kv_all(&a.kvs.name, &c.engine).await.status(),
        StatusCode::NOT_FOUND
    );

    // Values are sealed at rest: no secret in the database file.
    let db = std::fs::read(dir.path().join("vitrina.db")).expect("db");
    let wal = std::fs::read(dir.path().join("vitrina.db-wal")).unwrap_or_default();
    for bytes in [&db, &wal] {
        assert!(
            !bytes.windows(11).any(|w| w == b"r00t-Secret"),
            "a value is stored in clear"
        );
        assert!(!bytes
            .windows(a.kvs.secret.len())
            .any(|w| w == a.kvs.secret.as_bytes()));
    }
    server.stop().await;
}

#[tokio::test]
async fn one_time_token_is_redeemed_once_and_a_replay_is_refused_and_logged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path(), None).await;
    let c = Ctx::new(&server);
    let vm = c.create_vm("vm-ota").await;
    let r = c
        .http
        .post(format!("{}/sdf/v1/vms/vm-ota/ota", c.url))
        .bearer_auth(&c.engine)
        .json(&json!({"ttl_seconds": 300}))
        .send()
        .await
        .expect("ota");
    assert_eq!(r.status(), StatusCode::CREATED);
    let ota: OtaToken = r.json().await.expect("json");
    assert!(ota.endpoint.ends_with("/sdf/v1/ota/redeem"));

    let r = c.redeem(&ota.token).await;
    assert_eq!(r.status(), StatusCode::OK);
    let creds: KvCredentials = r.json().await.expect("json");
    assert_eq!(creds.name, vm.kvs.name);
    // The token carries a fresh VM secret: it opens the store, and the earlier one no longer does.
    assert_eq!(
        c.kv_all(&creds.name, &creds.secret).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        c.kv_all(&creds.name, &vm.kvs.secret).await.status(),
        StatusCode::NOT_FOUND
    );

    // A replay is refused, and the owner sees it in the VM's log.
    let r = c.redeem(&ota.token).await;
    assert_eq!(r.status(), StatusCode::GONE);
    let body: Value = r.json().await.expect("json");
    assert!(!body.to_string().contains(&creds.secret));
    let logs: Vec<LogLine> = c
        .http
        .get(format!("{}/sdf/v1/logs/{}", c.url, vm.owner.name))
        .bearer_auth(&vm.owner.secret)
        .send()
        .await
        .expect("logs")
        .json()
        .await
        .expect("json");
    assert!(
        logs.iter().any(|l| l.src == "ota"
            && l.level == "warning"
            && l.message.contains("presented again")),
        "{logs:?}"
    );
    // Unknown tokens are not found; an expired one is refused.
    assert_eq!(
        c.redeem("vot_nothing").await.status(),
        StatusCode::NOT_FOUND
    );
    let r = c
        .http
        .post(format!("{}/sdf/v1/vms/vm-ota/ota", c.url))
        .bearer_auth(&c.engine)
        .json(&json!({"ttl_seconds": 1}))
        .send()
        .await
        .expect("ota");
    let short: OtaToken = r.json().await.expect("json");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let now_ms = i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("time")
                .as_millis(),
        )
        .expect("ms");
        if now_ms > short.expires_at + 50 || std::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(c.redeem(&short.token).await.status(), StatusCode::GONE);
    // Only the engine issues tokens.
    let r = c
        .http
        .post(format!("{}/sdf/v1/vms/vm-ota/ota", c.url))
        .bearer_auth(&creds.secret)
        .send()
        .await
        .expect("ota");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    server.stop().await;
}

#[tokio::test]
async fn concurrent_redemptions_give_the_credentials_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path(), None).await;
    let c = Ctx::new(&server);
    c.create_vm("vm-race").await;
    let ota: OtaToken = c
        .http
        .post(format!("{}/sdf/v1/vms/vm-race/ota", c.url))
        .bearer_auth(&c.engine)
        .send()
        .await
        .expect("ota")
        .json()
        .await
        .expect("json");
    let tries = (0..8).map(|_| {
        let http = c.http.clone();
        let url = c.url.clone();
        let token = ota.token.clone();
        tokio::spawn(async move {
            http.post(format!("{url}/sdf/v1/ota/redeem"))
                .json(&json!({"token": token}))
                .send()
                .await
                .expect("redeem")
                .status()
        })
    });
    let mut ok = 0;
    for t in tries {
        let status = t.await.expect("task");
        if status == StatusCode::OK {
            ok += 1;
        } else {
            assert_eq!(status, StatusCode::GONE);
        }
    }
    assert_eq!(ok, 1);
    server.stop().await;
}

#[tokio::test]
async fn logs_are_per_vm_and_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path(), None).await;
    let c = Ctx::new(&server);
    let vm = c.create_vm("vm-log").await;
    let r = c.http.post(format!("{}/sdf/v1/logs/{}", c.url, vm.kvs.name)).bearer_auth(&vm.kvs.secret)
        .json(&json!({"lines": [{"message": "unpacking source"}, {"level": "error", "message": "ansible failed"}]}))
        .send().await.expect("post");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let logs: Vec<LogLine> = c
        .http
        .get(format!("{}/sdf/v1/logs/{}?after=1", c.url, vm.kvs.name))
        .bearer_auth(&vm.owner.secret)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(logs.len(), 1);
    assert_eq!(
        (
            logs[0].seq,
            logs[0].level.as_str(),
            logs[0].message.as_str()
        ),
        (2, "error", "ansible failed")
    );
    let r = c
        .http
        .post(format!("{}/sdf/v1/logs/{}", c.url, vm.kvs.name))
        .bearer_auth(&vm.owner.secret)
        .json(&json!({"lines": []}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = c
        .http
        .delete(format!("{}/sdf/v1/vms/vm-log", c.url))
        .bearer_auth(&c.engine)
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        c.kv_all(&vm.kvs.name, &vm.kvs.secret).await.status(),
        StatusCode::NOT_FOUND
    );
    server.stop().await;
}
