//! Hostile traffic (security probe M1 and issue 11 point 8) against a real server with small
//! limits: slow headers (slowloris) and idle connections past the connection limit do not lock
//! out a new client and are closed; huge and stalled bodies are refused without taking the
//! server down.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use vitrina_server::{Server, ServerConfig};

const PREFIX: &str = "/marketplace/api/infra-api/api/v1-public";

async fn start(dir: &std::path::Path) -> Server {
    let mut cfg = ServerConfig::new("127.0.0.1:0".parse().expect("addr"), dir);
    cfg.limits = vitrina_localcloud::Limits {
        max_connections: 64,
        header_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(2),
        body_stall_timeout: Duration::from_secs(2),
    };
    Server::start(cfg).await.expect("server starts")
}

/// `GET /healthz` on a fresh connection answers 200 within a generous deadline.
async fn healthz_answers(url: &str) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match client.get(format!("{url}/healthz")).send().await {
            Ok(r) if r.status() == 200 => return,
            other => {
                assert!(
                    Instant::now() < deadline,
                    "/healthz does not answer: {other:?}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// Whether the server closes `s` within the deadline (EOF or reset; a 408 answer counts).
fn closed_by_server(mut s: TcpStream) -> bool {
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut buf = [0u8; 1024];
    while Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                continue
            }
            Err(_) => return true,
        }
    }
    false
}

fn open(addr: SocketAddr, n: usize, first_bytes: &[u8]) -> Vec<TcpStream> {
    (0..n)
        .filter_map(|_| {
            let mut s = TcpStream::connect(addr).ok()?;
            if !first_bytes.is_empty() {
                let _ = s.write_all(first_bytes);
            }
            Some(s)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_and_idle_floods_do_not_lock_out_clients() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path()).await;
    let addr = server.addr;
    // Five times the connection limit: half send a header line and stall, half send nothing.
    let slow = tokio::task::spawn_blocking(move || {
        open(addr, 160, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    })
    .await
    .expect("open slow");
    let idle = tokio::task::spawn_blocking(move || open(addr, 160, b""))
        .await
        .expect("open idle");
    assert!(
        slow.len() + idle.len() > 64,
        "the test could not open enough connections"
    );
    healthz_answers(&server.url).await;
    // Every held connection is closed by the server (header timeout, idle timeout, or
    // eviction for a newer client) — none is kept forever.
    let all_closed =
        tokio::task::spawn_blocking(move || slow.into_iter().chain(idle).all(closed_by_server))
            .await
            .expect("check");
    assert!(all_closed, "a stalled connection was kept open");
    healthz_answers(&server.url).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_and_stalled_bodies_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path()).await;
    let vendor = server.tenants.ensure_vendor("acme").await.expect("vendor");
    let token = server
        .tenants
        .issue_vendor_token(&vendor)
        .await
        .expect("token");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .expect("client");

    // 40 MB upload (over the 30 MB limit): 413 with a diagnostic, as a raw zip body…
    let big = vec![0u8; 40 * 1024 * 1024];
    let r = client
        .post(format!("{}{PREFIX}/product", server.url))
        .header("x-service-token", token.expose())
        .header("content-type", "application/zip")
        .body(big.clone())
        .send()
        .await;
    match r {
        Ok(r) => {
            assert_eq!(r.status(), 413);
            let v: serde_json::Value = r.json().await.expect("json");
            assert_eq!(v["diagnostics"][0]["code"], "package/too-large");
        }
        // The server may close the connection once it has answered, before the client has sent
        // everything: that is a refusal too.
        Err(e) => assert!(e.is_request() || e.is_body(), "{e}"),
    }
    // …and as a multipart form.
    let boundary = "xyzzy";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"upload\"; filename=\"a.zip\"\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&big);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let r = client
        .post(format!("{}{PREFIX}/product", server.url))
        .header("x-service-token", token.expose())
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await;
    if let Ok(r) = r {
        assert_eq!(r.status(), 413);
    }
    // A 1 MB JSON body where 64 KiB are allowed: 413.
    let r = client
        .post(format!("{}{PREFIX}/product/publish", server.url))
        .header("x-service-token", token.expose())
        .header("content-type", "application/json")
        .body(vec![b' '; 1024 * 1024])
        .send()
        .await;
    if let Ok(r) = r {
        assert_eq!(r.status(), 413);
    }
    // Unauthenticated: 401 before any of a huge body is read.
    let r = client
        .post(format!("{}{PREFIX}/product", server.url))
        .header("content-type", "application/zip")
        .body(big)
        .send()
        .await;
    if let Ok(r) = r {
        assert_eq!(r.status(), 401);
    }

    // A body that announces 1 MB and stalls after 10 bytes: the request fails after the stall
    // timeout and the connection is closed, not held.
    let addr = server.addr;
    let t = token.expose().to_owned();
    let closed = tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(addr).expect("connect");
        let head = format!(
            "POST {PREFIX}/product HTTP/1.1\r\nHost: x\r\nx-service-token: {t}\r\nContent-Type: application/zip\r\nContent-Length: 1048576\r\n\r\n0123456789"
        );
        s.write_all(head.as_bytes()).expect("write");
        closed_by_server(s)
    })
    .await
    .expect("stall");
    assert!(closed, "a stalled upload was kept open");
    healthz_answers(&server.url).await;
    server.stop().await;
}
