//! localcloud's own accept loop over real TCP (M1): idle and slow-header connections are
//! closed, a flood of idle connections never locks out a new client, a stalled upload ends
//! (L7), an image deleted during its upload leaves no file (L1), and uploads and properties
//! have caps (M2).

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use vitrina_localcloud::{Config, Limits, LocalCloud};

struct Served {
    cloud: LocalCloud,
    addr: std::net::SocketAddr,
    base: String,
    token: String,
    http: reqwest::Client,
    dir: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
        vitrina_localcloud::kill_instances(&self.dir.path().join("instances"));
    }
}

async fn start(limits: Limits, image_size_cap: u64) -> Served {
    let dir = tempfile::tempdir().expect("temp dir");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let base = format!("http://{addr}");
    let mut cfg = Config::new(dir.path(), base.clone());
    cfg.image_size_cap = image_size_cap;
    let cloud = LocalCloud::open(cfg).await.expect("open localcloud");
    let router = cloud.router();
    let task = tokio::spawn(async move {
        let _ = vitrina_localcloud::serve(listener, router, limits, std::future::pending()).await;
    });
    let http = reqwest::Client::new();
    let demo = cloud.credentials().projects["demo"].clone();
    let body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": demo.username, "domain": {"id": "default"}, "password": demo.password}}},
        "scope": {"project": {"id": demo.id}}}});
    let resp = http
        .post(format!("{base}/identity/v3/auth/tokens"))
        .json(&body)
        .send()
        .await
        .expect("auth");
    assert_eq!(resp.status(), 201);
    let token = resp.headers()["x-subject-token"]
        .to_str()
        .unwrap()
        .to_owned();
    Served {
        cloud,
        addr,
        base,
        token,
        http,
        dir,
        task,
    }
}

fn short() -> Limits {
    Limits {
        max_connections: 64,
        header_timeout: Duration::from_millis(500),
        idle_timeout: Duration::from_millis(500),
        body_stall_timeout: Duration::from_millis(500),
    }
}

/// Blocks until the server closes `s` (a read gives EOF or a reset), failing after 20 s.
fn wait_closed(mut s: TcpStream) -> Vec<u8> {
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the connection stays open"
        );
    }
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "the connection stays open"
    );
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_slow_connections_are_closed() {
    let sv = start(short(), 1 << 40).await;
    let addr = sv.addr;
    tokio::task::spawn_blocking(move || {
        // Says nothing.
        let idle = TcpStream::connect(addr).unwrap();
        wait_closed(idle);
        // Starts a request and never ends its headers.
        let mut slow = TcpStream::connect(addr).unwrap();
        slow.write_all(b"GET /healthz HTTP/1.1\r\nHo").unwrap();
        wait_closed(slow);
        // A keep-alive connection is served, then closed once idle.
        let mut ka = TcpStream::connect(addr).unwrap();
        ka.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
            .unwrap();
        let got = wait_closed(ka);
        assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200"));
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_idle_connections_does_not_lock_out_a_client() {
    let mut limits = short();
    limits.max_connections = 32;
    limits.idle_timeout = Duration::from_secs(300);
    limits.header_timeout = Duration::from_secs(300);
    let sv = start(limits, 1 << 40).await;
    let addr = sv.addr;
    // Four times the limit, held open.
    let held: Vec<TcpStream> = tokio::task::spawn_blocking(move || {
        (0..128)
            .map(|_| TcpStream::connect(addr).unwrap())
            .collect()
    })
    .await
    .unwrap();
    // A new connection each time: the client's pooled connection from before the flood is
    // among the idle ones evicted, as any idle keep-alive connection may be.
    let fresh = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    for _ in 0..5 {
        let r = fresh
            .get(format!("{}/healthz", sv.base))
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .expect("healthz answers");
        assert_eq!(r.status(), 200);
    }
    drop(held);
}

/// Creates a raw image and returns its id.
async fn image(sv: &Served) -> String {
    let r = sv
        .http
        .post(format!("{}/image/v2/images", sv.base))
        .header("x-auth-token", &sv.token)
        .json(&json!({"name": "up", "disk_format": "raw", "container_format": "bare"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn status(sv: &Served, id: &str) -> (u16, Value) {
    let r = sv
        .http
        .get(format!("{}/image/v2/images/{id}", sv.base))
        .header("x-auth-token", &sv.token)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// Starts `PUT …/file` declaring `len` bytes and sends `first`; returns the open stream.
fn start_upload(
    addr: std::net::SocketAddr,
    token: &str,
    id: &str,
    len: usize,
    first: &[u8],
) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "PUT /image/v2/images/{id}/file HTTP/1.1\r\nHost: {addr}\r\nX-Auth-Token: {token}\r\nContent-Type: application/octet-stream\r\nContent-Length: {len}\r\n\r\n"
    )
    .unwrap();
    s.write_all(first).unwrap();
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_and_orphaned_uploads_are_cleaned_up() {
    let sv = start(short(), 1 << 40).await;
    // L7: a stalled upload ends and the image goes back to `queued`.
    let id = image(&sv).await;
    let (addr, token, id2) = (sv.addr, sv.token.clone(), id.clone());
    let answer = tokio::task::spawn_blocking(move || {
        let s = start_upload(addr, &token, &id2, 1000, &[0u8; 10]);
        wait_closed(s)
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 4"), "{text}");
    assert_eq!(status(&sv, &id).await.1["status"], "queued");
    let r = sv
        .http
        .put(format!("{}/image/v2/images/{id}/file", sv.base))
        .header("x-auth-token", &sv.token)
        .header("content-type", "application/octet-stream")
        .body(vec![1u8; 100])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "a new upload after the stalled one");

    // L1: an image deleted during its upload leaves no data file.
    let id = image(&sv).await;
    let (addr, token) = (sv.addr, sv.token.clone());
    let id2 = id.clone();
    let mut s =
        tokio::task::spawn_blocking(move || start_upload(addr, &token, &id2, 100, &[0u8; 10]))
            .await
            .unwrap();
    let images = sv.dir.path().join("images");
    // Wait until the upload is under way (the image is `saving`), then delete it.
    let deadline = Instant::now() + Duration::from_secs(20);
    while status(&sv, &id).await.1["status"] != "saving" {
        assert!(Instant::now() < deadline, "the upload did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let r = sv
        .http
        .delete(format!("{}/image/v2/images/{id}", sv.base))
        .header("x-auth-token", &sv.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let answer = tokio::task::spawn_blocking(move || {
        s.write_all(&[0u8; 90]).unwrap();
        wait_closed(s)
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 410"), "{text}");
    let left: Vec<String> = std::fs::read_dir(&images)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(&id))
        .collect();
    assert!(left.is_empty(), "files of the deleted image: {left:?}");
}

#[tokio::test]
async fn uploads_and_properties_have_caps() {
    let sv = start(Limits::default(), 1000).await;
    let id = image(&sv).await;
    let put = |body: Vec<u8>, chunked: bool| {
        let mut req = sv
            .http
            .put(format!("{}/image/v2/images/{id}/file", sv.base))
            .header("x-auth-token", &sv.token)
            .header("content-type", "application/octet-stream");
        req = if chunked {
            req.body(reqwest::Body::wrap_stream(futures::stream::iter(
                body.chunks(100)
                    .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
                    .collect::<Vec<_>>(),
            )))
        } else {
            req.body(body)
        };
        async move { req.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(
        put(vec![0u8; 2000], false).await,
        413,
        "declared size over the cap"
    );
    assert_eq!(
        put(vec![0u8; 2000], true).await,
        413,
        "streamed size over the cap"
    );
    assert_eq!(status(&sv, &id).await.1["status"], "queued");
    assert_eq!(put(vec![0u8; 1000], false).await, 204);
    let left: Vec<_> = std::fs::read_dir(sv.dir.path().join("images"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".upload"))
        .collect();
    assert!(left.is_empty());

    let mut props = serde_json::Map::new();
    for i in 0..129 {
        props.insert(format!("p{i}"), json!("v"));
    }
    props.insert("name".into(), json!("many"));
    let r = sv
        .http
        .post(format!("{}/image/v2/images", sv.base))
        .header("x-auth-token", &sv.token)
        .json(&props)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let r = sv
        .http
        .post(format!("{}/image/v2/images", sv.base))
        .header("x-auth-token", &sv.token)
        .json(&json!({"name": "long", "blob": "x".repeat(70_000)}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let _ = &sv.cloud;
}
