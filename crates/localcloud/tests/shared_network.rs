//! The shared-network mode (no namespaces): a server's processes are its boot script's process
//! group, but a daemon that left the group (`nohup setsid`, as the `hello_web` package starts its
//! web server) still dies with the server and frees its address. Needs `python3`.

mod common;

use std::time::{Duration, Instant};

use base64::Engine as _;
use common::TestCloud;
use reqwest::Method;
use serde_json::json;
use vitrina_localcloud::NetworkSetting;

/// Whether a process runs (exists and is not a zombie).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next());
        !matches!(state, None | Some('Z') | Some('X'))
    })
}

/// The process group of a process (field 5 of `/proc/<pid>/stat`).
fn pgid(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(2)?
        .parse()
        .ok()
}

async fn wait<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_server_kills_its_setsid_daemons_and_frees_its_address() {
    assert!(
        vitrina_localcloud::dataplane::find_tool("python3").is_some(),
        "`python3` is missing: apt-get install -y python3"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let tc = TestCloud::start_with(dir, |c| c.network = NetworkSetting::Shared).await;
    assert_eq!(tc.cloud.network_mode().name(), "shared");
    let image = tc.base_image().await;
    let flavor = tc.flavor("Basic-1-2-20").await;
    // A free port on the server's own loopback address is picked by the daemon itself.
    let ud = "#!/bin/sh\nnohup setsid python3 -c 'import http.server,os,sys\ns=http.server.HTTPServer((os.environ[\"VITRINA_LOOPBACK_IPV4\"],0),http.server.SimpleHTTPRequestHandler)\nopen(\"daemon.tmp\",\"w\").write(\"%d %d\" % (os.getpid(), s.server_address[1]))\nos.rename(\"daemon.tmp\",\"daemon.info\")\ns.serve_forever()' >/dev/null 2>&1 &\n";
    let (s, v) = tc
        .post(
            "/compute/v2.1/servers",
            json!({"server": {"name": "daemon", "flavorRef": flavor, "imageRef": image,
                "networks": "none",
                "user_data": base64::engine::general_purpose::STANDARD.encode(ud)}}),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    let id = v["server"]["id"].as_str().expect("id").to_owned();
    let info = tc
        .dir
        .path()
        .join("instances")
        .join(&id)
        .join("daemon.info");
    let text = wait("the daemon to start", Duration::from_secs(30), || {
        std::fs::read_to_string(&info).ok()
    })
    .await;
    let mut parts = text.split_whitespace();
    let pid: i32 = parts.next().and_then(|p| p.parse().ok()).expect("pid");
    let port: u16 = parts.next().and_then(|p| p.parse().ok()).expect("port");
    let server = tc.get(&format!("/compute/v2.1/servers/{id}")).await;
    let lo = server["server"]["metadata"]["localcloud:loopback_ipv4"]
        .as_str()
        .expect("loopback address")
        .to_owned();
    let leader: i32 = std::fs::read_to_string(
        tc.dir
            .path()
            .join("instances")
            .join(&id)
            .join("var/lib/cloud/pid"),
    )
    .expect("leader pid")
    .trim()
    .parse()
    .expect("leader pid");
    // The daemon left the server's process group, and it answers on the server's address.
    assert!(alive(pid));
    assert_ne!(pgid(pid), Some(leader), "setsid made a group of its own");
    let addr = format!("{lo}:{port}");
    assert!(
        std::net::TcpStream::connect(&addr).is_ok(),
        "{addr} answers"
    );

    let (s, v) = tc
        .call(Method::DELETE, &format!("/compute/v2.1/servers/{id}"), None)
        .await;
    assert_eq!(s, 204, "{v}");
    wait(
        "the daemon to die with its server",
        Duration::from_secs(20),
        || (!alive(pid)).then_some(()),
    )
    .await;
    wait("the address to be free", Duration::from_secs(10), || {
        std::net::TcpStream::connect(&addr).is_err().then_some(())
    })
    .await;
}
