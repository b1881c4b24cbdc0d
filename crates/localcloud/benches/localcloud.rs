//! localcloud benchmark (`cargo bench -p vitrina-localcloud`):
//! - create and boot 100 `process` servers with trivial user data to ACTIVE (target: under 10 s);
//! - per-request latency of `GET /servers/detail` with 1,000 servers.
//!
//! Times are reported next to a baseline measured in the same run (`GET /healthz`), as ratios.

use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};

struct Bench {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Bench {
    async fn post(&self, path: &str, body: Value) -> Value {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("x-auth-token", &self.token)
            .json(&body)
            .send()
            .await
            .expect("request");
        assert!(r.status().is_success(), "POST {path}: {}", r.status());
        r.json().await.unwrap_or(Value::Null)
    }
    async fn get(&self, path: &str) -> Value {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("x-auth-token", &self.token)
            .send()
            .await
            .expect("request");
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.json().await.expect("json")
    }
    async fn active(&self) -> usize {
        self.get("/compute/v2.1/servers/detail?status=ACTIVE").await["servers"]
            .as_array()
            .map_or(0, Vec::len)
    }
    /// Creates `n` servers with `parallel` concurrent clients; returns when all are ACTIVE.
    async fn boot(
        &self,
        n: usize,
        parallel: usize,
        net: &str,
        image: &str,
        flavor: &str,
        expect_active: usize,
    ) -> Duration {
        let ud = base64::engine::general_purpose::STANDARD.encode("#!/bin/sh\necho ready\n");
        let start = Instant::now();
        let mut tasks = futures::stream::iter(0..n)
            .map(|i| {
                let body = json!({"server": {"name": format!("bench-{i}"), "flavorRef": flavor, "imageRef": image, "networks": [{"uuid": net}], "user_data": ud}});
                async move { self.post("/compute/v2.1/servers", body).await }
            })
            .buffer_unordered(parallel);
        while let Some(_v) = futures::StreamExt::next(&mut tasks).await {}
        while self.active().await < expect_active {
            assert!(
                start.elapsed() < Duration::from_secs(300),
                "servers did not become ACTIVE"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        start.elapsed()
    }
}

use futures::StreamExt as _;

async fn mean_latency(b: &Bench, path: &str, n: u32) -> Duration {
    let start = Instant::now();
    for _ in 0..n {
        let r = b
            .http
            .get(format!("{}{path}", b.base))
            .header("x-auth-token", &b.token)
            .send()
            .await
            .expect("request");
        assert!(r.status().is_success());
        let _ = r.bytes().await.expect("body");
    }
    start.elapsed() / n
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let cloud = vitrina_localcloud::LocalCloud::open(vitrina_localcloud::Config::new(
        dir.path(),
        base.clone(),
    ))
    .await
    .expect("open");
    let router = cloud.router();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let demo = cloud.credentials().projects["demo"].clone();
    let http = reqwest::Client::new();
    let auth = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": demo.username, "domain": {"id": "default"}, "password": demo.password}}}}});
    let r = http
        .post(format!("{base}/identity/v3/auth/tokens"))
        .json(&auth)
        .send()
        .await
        .expect("auth");
    let token = r.headers()["x-subject-token"]
        .to_str()
        .expect("token")
        .to_owned();
    let b = Bench { http, base, token };

    let net = b
        .post(
            "/networking/v2.0/networks",
            json!({"network": {"name": "bench"}}),
        )
        .await["network"]["id"]
        .as_str()
        .expect("net")
        .to_owned();
    b.post(
        "/networking/v2.0/subnets",
        json!({"subnet": {"network_id": net, "cidr": "10.0.0.0/21", "ip_version": 4}}),
    )
    .await;
    let image = b.get("/image/v2/images?name=vitrina-process-base").await["images"][0]["id"]
        .as_str()
        .expect("image")
        .to_owned();
    let flavor = b.get("/compute/v2.1/flavors").await["flavors"][0]["id"]
        .as_str()
        .expect("flavor")
        .to_owned();

    // Baseline.
    for _ in 0..20 {
        let _ = b.http.get(format!("{}/healthz", b.base)).send().await;
    }
    let healthz = mean_latency(&b, "/healthz", 500).await;

    let boot100 = b.boot(100, 8, &net, &image, &flavor, 100).await;
    let detail_100 = mean_latency(&b, "/compute/v2.1/servers/detail", 20).await;
    let boot900 = b.boot(900, 8, &net, &image, &flavor, 1000).await;
    let detail_1000 = mean_latency(&b, "/compute/v2.1/servers/detail", 20).await;
    let count = b.get("/compute/v2.1/servers/detail").await["servers"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(count, 1000);

    println!("localcloud benchmark (process hypervisor, this machine)");
    println!("  baseline GET /healthz: {:.3} ms", ms(healthz));
    println!(
        "  boot 100 servers to ACTIVE: {:.2} s (target < 10 s){}",
        boot100.as_secs_f64(),
        if boot100 < Duration::from_secs(10) {
            ""
        } else {
            "  ** over target **"
        }
    );
    println!(
        "    per server: {:.1} ms = {:.0}x healthz",
        ms(boot100) / 100.0,
        ms(boot100) / 100.0 / ms(healthz)
    );
    println!(
        "  boot 900 more (1,000 in all): {:.2} s",
        boot900.as_secs_f64()
    );
    println!(
        "  GET /servers/detail, 100 servers: {:.2} ms = {:.0}x healthz",
        ms(detail_100),
        ms(detail_100) / ms(healthz)
    );
    println!(
        "  GET /servers/detail, 1,000 servers: {:.2} ms = {:.0}x healthz",
        ms(detail_1000),
        ms(detail_1000) / ms(healthz)
    );

    let _ = cloud.shutdown();
    vitrina_localcloud::kill_instances(&dir.path().join("instances"));
}
