//! localcloud benchmark (`cargo bench -p vitrina-localcloud`):
//! - create and boot 100 `process` servers with trivial user data to ACTIVE (target: under 10 s);
//! - per-request latency of `GET /servers/detail` with 1,000 servers;
//! - 100 servers with a port each, on one network, to ACTIVE and answering on their port: with
//!   isolated networking (a namespace, veth and nftables rules each; needs root, `ip`, `nft`,
//!   `curl`) against the shared-network mode (no plumbing) in the same run.
//!
//! - TCP throughput between two servers on one network, and from the machine to a floating IP,
//!   as a ratio of loopback throughput in the same run (isolated networking only).
//!
//! The first two run in the shared-network mode. Times are reported next to a baseline measured
//! in the same run (`GET /healthz`, or the boot without networking), as ratios.

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

/// A localcloud on a fresh folder with the given network setting, serving on loopback.
async fn open(
    dir: &std::path::Path,
    network: vitrina_localcloud::NetworkSetting,
) -> (vitrina_localcloud::LocalCloud, Bench) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let mut config = vitrina_localcloud::Config::new(dir, base.clone());
    config.network = network;
    let cloud = vitrina_localcloud::LocalCloud::open(config)
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
    (cloud, Bench { http, base, token })
}

/// 100 servers, each answering HTTP on port 8080 (a perl one-liner), on one network: the time
/// from the first create to the last answer. In the isolated mode answers are fetched from the
/// first server's namespace across the bridge; in the shared mode from the machine at each
/// server's 127.x address.
async fn boot_answering(
    network: vitrina_localcloud::NetworkSetting,
    n: usize,
) -> (
    Duration,
    Duration,
    vitrina_localcloud::dataplane::NetworkStats,
) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (cloud, b) = open(dir.path(), network).await;
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
    let ud = base64::engine::general_purpose::STANDARD.encode(
        "#!/bin/sh\nperl -MIO::Socket::INET -e '$s=IO::Socket::INET->new(LocalAddr=>($ENV{VITRINA_LOOPBACK_IPV4}||\"0.0.0.0\"),LocalPort=>8080,Listen=>64,ReuseAddr=>1) or die; while($c=$s->accept){print $c \"HTTP/1.0 200 OK\\r\\n\\r\\nok\\n\"; close $c}' >/dev/null 2>&1 &\n",
    );
    let start = Instant::now();
    let mut tasks = futures::stream::iter(0..n)
        .map(|i| {
            let body = json!({"server": {"name": format!("web-{i}"), "flavorRef": flavor, "imageRef": image, "networks": [{"uuid": net}], "user_data": ud}});
            let b = &b;
            async move { b.post("/compute/v2.1/servers", body).await }
        })
        .buffer_unordered(8);
    let mut ids = Vec::new();
    while let Some(v) = futures::StreamExt::next(&mut tasks).await {
        ids.push(v["server"]["id"].as_str().expect("id").to_owned());
    }
    while b.active().await < n {
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "servers did not become ACTIVE"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let active = start.elapsed();
    let detail = b.get("/compute/v2.1/servers/detail").await;
    let mut targets = Vec::new();
    let mut first_ns = None;
    for s in detail["servers"].as_array().expect("servers") {
        let id = s["id"].as_str().expect("id");
        let addr = match cloud.server_netns(id) {
            Some(ns) => {
                if s["name"] == "web-0" {
                    first_ns = Some(ns);
                }
                s["addresses"]["bench"][0]["addr"]
                    .as_str()
                    .expect("fixed ip")
                    .to_owned()
            }
            None => vitrina_localcloud::dataplane::loopback_address(id),
        };
        targets.push(addr);
    }
    // Every address is asked over HTTP until it answers, from one thread (in the first server's
    // namespace when isolated), without a process per request.
    let ask = move || wait_answering(&targets, Duration::from_secs(300));
    let answered = match first_ns {
        Some(ns) => tokio::task::spawn_blocking(move || in_ns(&ns, ask))
            .await
            .expect("probe thread"),
        None => tokio::task::spawn_blocking(ask)
            .await
            .expect("probe thread"),
    };
    assert!(answered, "every server answers within 300 s");
    let took = start.elapsed();
    let stats = cloud.network_stats();
    cloud.stop_all_servers().await;
    let _ = cloud.shutdown();
    vitrina_localcloud::kill_instances(&dir.path().join("instances"));
    (active, took, stats)
}

/// Whether `GET /` on port 8080 of `addr` answers `200` (one short TCP exchange).
fn answers(addr: &str) -> bool {
    use std::io::{Read as _, Write as _};
    let Ok(sa) = format!("{addr}:8080").parse::<std::net::SocketAddr>() else {
        return false;
    };
    let Ok(mut c) = std::net::TcpStream::connect_timeout(&sa, Duration::from_millis(500)) else {
        return false;
    };
    let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
    if c.write_all(b"GET / HTTP/1.0\r\n\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    let mut got = Vec::new();
    while let Ok(n) = c.read(&mut buf) {
        if n == 0 {
            break;
        }
        got.extend_from_slice(buf.get(..n).unwrap_or_default());
        if got.len() >= 12 {
            break;
        }
    }
    got.starts_with(b"HTTP/1.0 200") || got.starts_with(b"HTTP/1.1 200")
}

/// Asks every address until each has answered once; false on timeout.
fn wait_answering(targets: &[String], timeout: Duration) -> bool {
    let start = Instant::now();
    let mut pending: Vec<&String> = targets.iter().collect();
    while !pending.is_empty() {
        if start.elapsed() > timeout {
            return false;
        }
        pending.retain(|a| !answers(a));
        if !pending.is_empty() {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    true
}

/// Runs `f` on a thread that entered the network namespace `ns` (sockets made there stay there).
fn in_ns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = std::path::Path::new("/run/netns").join(ns);
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).expect("namespace");
        nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        f()
    })
    .join()
    .expect("namespace thread")
}

/// Sends 1 GiB from `client` to the one connection `listener` accepts; returns bytes per second.
fn throughput(listener: std::net::TcpListener, client: std::net::TcpStream) -> f64 {
    use std::io::{Read as _, Write as _};
    const TOTAL: usize = 1 << 30;
    let rx = std::thread::spawn(move || {
        let (mut c, _) = listener.accept().expect("accept");
        let mut buf = vec![0u8; 1 << 18];
        let mut got = 0usize;
        let start = Instant::now();
        loop {
            let n = c.read(&mut buf).expect("read");
            if n == 0 {
                break;
            }
            got += n;
        }
        (got, start.elapsed())
    });
    let mut client = client;
    let chunk = vec![7u8; 1 << 18];
    let mut sent = 0;
    while sent < TOTAL {
        client.write_all(&chunk).expect("write");
        sent += chunk.len();
    }
    drop(client);
    let (got, took) = rx.join().expect("receiver");
    assert_eq!(got, TOTAL);
    got as f64 / took.as_secs_f64()
}

/// Loopback, server to server on one network, machine to a floating IP: bytes per second each.
async fn throughputs() -> (f64, f64, f64) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (cloud, b) = open(dir.path(), vitrina_localcloud::NetworkSetting::Auto).await;
    let net = b
        .post(
            "/networking/v2.0/networks",
            json!({"network": {"name": "tp"}}),
        )
        .await["network"]["id"]
        .as_str()
        .expect("net")
        .to_owned();
    let sub = b
        .post(
            "/networking/v2.0/subnets",
            json!({"subnet": {"network_id": net, "cidr": "10.9.0.0/24", "ip_version": 4}}),
        )
        .await["subnet"]["id"]
        .as_str()
        .expect("subnet")
        .to_owned();
    let ext = b.get("/networking/v2.0/networks?name=ext-net").await["networks"][0]["id"]
        .as_str()
        .expect("ext-net")
        .to_owned();
    let router = b
        .post(
            "/networking/v2.0/routers",
            json!({"router": {"name": "r", "external_gateway_info": {"network_id": ext}}}),
        )
        .await["router"]["id"]
        .as_str()
        .expect("router")
        .to_owned();
    let r = b
        .http
        .put(format!(
            "{}/networking/v2.0/routers/{router}/add_router_interface",
            b.base
        ))
        .header("x-auth-token", &b.token)
        .json(&json!({"subnet_id": sub}))
        .send()
        .await
        .expect("add interface");
    assert!(r.status().is_success());
    let sg = b.get("/networking/v2.0/security-groups?name=default").await["security_groups"][0]
        ["id"]
        .as_str()
        .expect("default sg")
        .to_owned();
    b.post("/networking/v2.0/security-group-rules", json!({"security_group_rule": {"security_group_id": sg, "direction": "ingress", "protocol": "tcp", "port_range_min": 5001, "port_range_max": 5002, "remote_ip_prefix": "0.0.0.0/0"}})).await;
    let image = b.get("/image/v2/images?name=vitrina-process-base").await["images"][0]["id"]
        .as_str()
        .expect("image")
        .to_owned();
    let flavor = b.get("/compute/v2.1/flavors").await["flavors"][0]["id"]
        .as_str()
        .expect("flavor")
        .to_owned();
    let mut ids = Vec::new();
    for name in ["tp-a", "tp-b"] {
        let v = b.post("/compute/v2.1/servers", json!({"server": {"name": name, "flavorRef": flavor, "imageRef": image, "networks": [{"uuid": net}]}})).await;
        ids.push(v["server"]["id"].as_str().expect("id").to_owned());
    }
    while b.active().await < 2 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let fip = b
        .post(
            "/networking/v2.0/floatingips",
            json!({"floatingip": {"floating_network_id": ext}}),
        )
        .await["floatingip"]["floating_ip_address"]
        .as_str()
        .expect("fip")
        .to_owned();
    b.post(
        &format!("/compute/v2.1/servers/{}/action", ids[1]),
        json!({"addFloatingIp": {"address": fip}}),
    )
    .await;
    cloud.sync_network().await;
    let detail = b.get(&format!("/compute/v2.1/servers/{}", ids[1])).await;
    let ip_b = detail["server"]["addresses"]["tp"][0]["addr"]
        .as_str()
        .expect("fixed ip")
        .to_owned();
    let ns_a = cloud.server_netns(&ids[0]).expect("netns");
    let ns_b = cloud.server_netns(&ids[1]).expect("netns");

    let lo = tokio::task::spawn_blocking(|| {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let c = std::net::TcpStream::connect(l.local_addr().expect("addr")).expect("connect");
        throughput(l, c)
    })
    .await
    .expect("loopback");
    let vm = {
        let l = in_ns(&ns_b, || {
            std::net::TcpListener::bind("0.0.0.0:5001").expect("bind in b")
        });
        let target = format!("{ip_b}:5001");
        let c = in_ns(&ns_a, move || {
            std::net::TcpStream::connect(target).expect("connect from a")
        });
        tokio::task::spawn_blocking(move || throughput(l, c))
            .await
            .expect("vm to vm")
    };
    let to_fip = {
        let l = in_ns(&ns_b, || {
            std::net::TcpListener::bind("0.0.0.0:5002").expect("bind in b")
        });
        let c = std::net::TcpStream::connect(format!("{fip}:5002")).expect("connect to the FIP");
        tokio::task::spawn_blocking(move || throughput(l, c))
            .await
            .expect("machine to FIP")
    };
    cloud.stop_all_servers().await;
    let _ = cloud.shutdown();
    vitrina_localcloud::kill_instances(&dir.path().join("instances"));
    (lo, vm, to_fip)
}

/// Prints the networking figures: 100 servers answering (shared and isolated), plumbing cost, TCP
/// throughput.
fn report_network(
    plain: (
        Duration,
        Duration,
        vitrina_localcloud::dataplane::NetworkStats,
    ),
    networked: Option<(
        Duration,
        Duration,
        vitrina_localcloud::dataplane::NetworkStats,
    )>,
    tput: Option<(f64, f64, f64)>,
    isolated_cloud: &vitrina_localcloud::NetworkMode,
) {
    let (plain_active, plain, _) = plain;
    println!(
        "  100 servers with a port, ACTIVE and answering on 8080, shared network (no plumbing): {:.2} s (all ACTIVE after {:.2} s)",
        plain.as_secs_f64(),
        plain_active.as_secs_f64()
    );
    match networked {
        Some((t_active, t, st)) => {
            println!(
                "  the same with isolated networking: all ACTIVE after {:.2} s",
                t_active.as_secs_f64()
            );
            println!(
                "  the same with isolated networking (namespace, veth, nftables each): {:.2} s (target < 10 s){} = {:.2}x the shared network",
                t.as_secs_f64(),
                if t < Duration::from_secs(10) { "" } else { "  ** over target **" },
                t.as_secs_f64() / plain.as_secs_f64()
            );
            println!(
                "    plumbing cost per server: {:.1} ms (boot without networking: {:.1} ms per server)",
                (ms(t) - ms(plain)) / 100.0,
                ms(plain) / 100.0
            );
            println!(
                "    data plane: {} passes; {} namespaces made, {} converged, {} nftables tables written whole, {} updated by set elements only",
                st.passes, st.namespaces_made, st.namespaces_converged, st.tables_replaced, st.tables_updated
            );
            println!(
                "    pass time: namespaces {:.0} ms, links {:.0} ms, nftables {:.0} ms; a server waited {:.1} ms on average for its pass",
                ms(st.namespaces_time),
                ms(st.links_time),
                ms(st.tables_time),
                ms(st.plug_wait) / st.plugged.max(1) as f64
            );
        }
        None => println!(
            "  isolated networking not measured: {isolated_cloud:?} (run as root with iproute2 and nftables)"
        ),
    }
    if let Some((lo, vm, fip)) = tput {
        let gbit = |b: f64| b * 8.0 / 1e9;
        println!("  TCP throughput, 1 GiB: loopback {:.1} Gbit/s", gbit(lo));
        println!(
            "    server to server on one network (veth, bridge, veth, nftables): {:.1} Gbit/s = {:.2}x loopback",
            gbit(vm),
            vm / lo
        );
        println!(
            "    machine to a floating IP (veth, bridge, router DNAT, bridge, veth): {:.1} Gbit/s = {:.2}x loopback",
            gbit(fip),
            fip / lo
        );
    }
}

/// `cargo bench -p vitrina-localcloud --bench localcloud [-- answering]`: with `answering`, only
/// the networking figures (100 servers answering, plumbing cost, throughput).
#[tokio::main]
async fn main() {
    let only_network = std::env::args().any(|a| a == "answering");
    let plain = boot_answering(vitrina_localcloud::NetworkSetting::Shared, 100).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (cloud, b) = open(dir.path(), vitrina_localcloud::NetworkSetting::Shared).await;
    let isolated_cloud = {
        let probe = tempfile::tempdir().expect("temp dir");
        let (c, _) = open(probe.path(), vitrina_localcloud::NetworkSetting::Auto).await;
        let mode = c.network_mode().clone();
        let _ = c.shutdown();
        mode
    };
    let networked = match &isolated_cloud {
        vitrina_localcloud::NetworkMode::Isolated => {
            Some(boot_answering(vitrina_localcloud::NetworkSetting::Auto, 100).await)
        }
        vitrina_localcloud::NetworkMode::Shared { .. } => None,
    };
    let tput = match &isolated_cloud {
        vitrina_localcloud::NetworkMode::Isolated => Some(throughputs().await),
        vitrina_localcloud::NetworkMode::Shared { .. } => None,
    };
    if only_network {
        println!("localcloud benchmark (process hypervisor, this machine): networking only");
        report_network(plain, networked, tput, &isolated_cloud);
        let _ = cloud.shutdown();
        vitrina_localcloud::kill_instances(&dir.path().join("instances"));
        return;
    }

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

    report_network(plain, networked, tput, &isolated_cloud);
    let _ = cloud.shutdown();
    vitrina_localcloud::kill_instances(&dir.path().join("instances"));
}
