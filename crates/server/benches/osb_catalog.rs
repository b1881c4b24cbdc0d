//! `GET /v2/catalog` with 50 services at 50 concurrent keep-alive connections: latency
//! percentiles and throughput, beside a minimal hyper "hello" server measured in the same run
//! with the same client (the ratio is what to compare across machines).
//!
//! `cargo bench -p vitrina-server --bench osb_catalog` (`OSB_BENCH_SECS`, default 10 per
//! server). Fails when p99 is 10 ms or more.

use std::convert::Infallible;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vitrina_server::tenants::Namespace;
use vitrina_server::{Server, ServerConfig};

const SERVICES: usize = 50;
const CONNECTIONS: usize = 50;

fn copy_dir(from: &Path, to: &Path) {
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

/// The probe package as service number `n`: its own ids and name.
fn variant(scratch: &Path, n: usize) -> Vec<u8> {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/osb_probe");
    let dir = scratch.join(format!("v{n}")).join("osb_probe");
    copy_dir(&fixture, &dir);
    let ids = [
        "5a50dbac-f97f-4d33-871c-fd97bdf08a8d",
        "7af38ff4-bb47-4f2e-a195-38b56ded142d",
        "cd03b67e-fee1-45e9-97c6-9accdba67a28",
    ];
    for file in [
        "service.yaml",
        "plans/small/plan.yaml",
        "plans/large/plan.yaml",
    ] {
        let path = dir.join(file);
        let mut text = std::fs::read_to_string(&path).expect("read");
        for id in ids {
            text = text.replace(id, &uuid::Uuid::new_v4().to_string());
        }
        text = text.replace("name: OSB Probe", &format!("name: Bench Service {n}"));
        std::fs::write(&path, text).expect("write");
    }
    let files = vitrina_package::read_package(&dir).expect("reads");
    let out = scratch.join(format!("v{n}.zip"));
    vitrina_package::pack::pack(&dir, &files, &out).expect("packs");
    std::fs::read(&out).expect("zip")
}

/// One keep-alive connection sending `request` until `until`; returns each answer's latency.
async fn client(
    addr: std::net::SocketAddr,
    request: Arc<Vec<u8>>,
    until: Instant,
) -> Vec<Duration> {
    let mut out = Vec::new();
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.set_nodelay(true).expect("nodelay");
    let mut buf = Vec::with_capacity(1 << 20);
    let mut chunk = vec![0u8; 1 << 16];
    while Instant::now() < until {
        let t = Instant::now();
        s.write_all(&request).await.expect("write");
        buf.clear();
        // The head, then Content-Length bytes of body.
        let (head_end, length) = loop {
            let n = s.read(&mut chunk).await.expect("read");
            assert!(n > 0, "the server closed the connection");
            buf.extend_from_slice(&chunk[..n]);
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                assert!(head.starts_with("http/1.1 200"), "{head}");
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .expect("content-length");
                break (end + 4, length);
            }
        };
        while buf.len() < head_end + length {
            let n = s.read(&mut chunk).await.expect("read");
            assert!(n > 0, "the server closed the connection");
            buf.extend_from_slice(&chunk[..n]);
        }
        out.push(t.elapsed());
    }
    out
}

struct Figures {
    requests: usize,
    per_second: f64,
    p50: Duration,
    p99: Duration,
    max: Duration,
    bytes: usize,
}

async fn load(addr: std::net::SocketAddr, request: Vec<u8>, secs: u64) -> Figures {
    let request = Arc::new(request);
    // Warm up (connections, caches).
    let warm = Instant::now() + Duration::from_millis(500);
    let _ = client(addr, request.clone(), warm).await;
    let start = Instant::now();
    let until = start + Duration::from_secs(secs);
    let tasks: Vec<_> = (0..CONNECTIONS)
        .map(|_| tokio::spawn(client(addr, request.clone(), until)))
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("client"));
    }
    let elapsed = start.elapsed();
    all.sort_unstable();
    let at = |q: f64| {
        let i = ((all.len() as f64 * q) as usize).min(all.len().saturating_sub(1));
        all.get(i).copied().unwrap_or_default()
    };
    Figures {
        requests: all.len(),
        per_second: all.len() as f64 / elapsed.as_secs_f64(),
        p50: at(0.50),
        p99: at(0.99),
        max: all.last().copied().unwrap_or_default(),
        bytes: 0,
    }
}

/// A minimal hyper HTTP/1 server answering `hello` to everything.
async fn hello_server() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|_req| async {
                    Ok::<_, Infallible>(hyper::Response::new(String::from("hello")))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

fn main() {
    let secs: u64 = std::env::var("OSB_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cfg = ServerConfig::new("127.0.0.1:0".parse().expect("addr"), dir.path().join("data"));
        cfg.cloud = false;
        let server = Server::start(cfg).await.expect("server");
        let t = &server.tenants;
        let vendor = t.ensure_vendor("bench-vendor").await.expect("vendor");
        let vendor_ctx = t
            .vendor_by_token(t.issue_vendor_token(&vendor).await.expect("token").expose())
            .await
            .expect("vendor ctx");
        let password = t
            .put_broker_account("bench", Namespace::Public)
            .await
            .expect("account");
        let setup = Instant::now();
        for n in 0..SERVICES {
            let zip = variant(dir.path(), n);
            let r = server.products.upload(&vendor_ctx, zip).await.expect("upload");
            server
                .products
                .publish(&vendor_ctx, &r.service_id, &r.revision)
                .await
                .expect("publish");
        }
        eprintln!("{SERVICES} services uploaded and published in {:?}", setup.elapsed());
        let auth = base64::engine::general_purpose::STANDARD
            .encode(format!("bench:{}", password.expose()));
        let request = format!(
            "GET /v2/catalog HTTP/1.1\r\nHost: bench\r\nAuthorization: Basic {auth}\r\nX-Broker-API-Version: 2.17\r\n\r\n"
        )
        .into_bytes();
        // The catalog is what it should be.
        let body: serde_json::Value = reqwest::Client::new()
            .get(format!("{}/v2/catalog", server.url))
            .basic_auth("bench", Some(password.expose()))
            .header("X-Broker-API-Version", "2.17")
            .send()
            .await
            .expect("catalog")
            .json()
            .await
            .expect("json");
        let services = body["services"].as_array().map(Vec::len).unwrap_or(0);
        assert_eq!(services, SERVICES, "the catalog has every service");
        let size = serde_json::to_vec(&body).map(|b| b.len()).unwrap_or(0);

        let hello = hello_server().await;
        let base = load(hello, b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n".to_vec(), secs).await;
        let mut osb = load(server.addr, request, secs).await;
        osb.bytes = size;
        let ratio = osb.per_second / base.per_second;
        println!(
            "hyper hello:     {:>8} requests, {:>9.0}/s, p50 {:?}, p99 {:?}, max {:?}",
            base.requests, base.per_second, base.p50, base.p99, base.max
        );
        println!(
            "GET /v2/catalog: {:>8} requests, {:>9.0}/s, p50 {:?}, p99 {:?}, max {:?} ({} services, {} bytes)",
            osb.requests, osb.per_second, osb.p50, osb.p99, osb.max, SERVICES, osb.bytes
        );
        println!(
            "catalog throughput / hello throughput = {ratio:.3} ({CONNECTIONS} connections, {secs} s each)"
        );
        server.stop().await;
        assert!(
            osb.p99 < Duration::from_millis(10),
            "p99 of GET /v2/catalog is {:?}, over 10 ms",
            osb.p99
        );
    });
}
