//! Idle-connection benchmark (`cargo bench -p vitrina-localcloud --bench idle_connections`), M1:
//! the latency of `GET /healthz` on a new connection with no other client (the idle baseline),
//! then while 20,000 idle TCP connections are held open to the same server. Target: the
//! slowest `/healthz` with the connections held stays under 100 ms.
//!
//! The server and two holders (10,000 connections each) run as child processes of this binary,
//! so that each stays within the machine's descriptor limit (`ulimit -n`, 20,000 here).

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ROLE: &str = "VITRINA_IDLE_BENCH_ROLE";
const HOLDERS: usize = 2;
const PER_HOLDER: usize = 10_000;
const SAMPLES: usize = 200;
const TARGET: Duration = Duration::from_millis(100);

fn main() {
    match std::env::var(ROLE).as_deref() {
        Ok("server") => server(),
        Ok("holder") => holder(),
        _ => measure(),
    }
}

/// Serves localcloud with its default limits on a free port; prints the address; stops when
/// stdin closes.
fn server() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let cloud = vitrina_localcloud::LocalCloud::open(vitrina_localcloud::Config::new(
            dir.path(),
            format!("http://{addr}"),
        ))
        .await
        .expect("open localcloud");
        println!("{addr}");
        let stdin_closed = async {
            let _ = tokio::task::spawn_blocking(|| {
                let mut buf = [0u8; 64];
                while std::io::stdin().read(&mut buf).is_ok_and(|n| n > 0) {}
            })
            .await;
        };
        vitrina_localcloud::serve(
            listener,
            cloud.router(),
            vitrina_localcloud::Limits::default(),
            stdin_closed,
        )
        .await
        .expect("serve");
        let _ = cloud.shutdown();
    });
}

/// Opens `PER_HOLDER` connections to the address in argv and holds them until stdin closes.
fn holder() {
    let addr: SocketAddr = std::env::args()
        .next_back()
        .and_then(|a| a.parse().ok())
        .expect("address argument");
    let mut held = Vec::with_capacity(PER_HOLDER);
    let mut failed = 0usize;
    for _ in 0..PER_HOLDER {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
            Ok(s) => held.push(s),
            Err(_) => failed += 1,
        }
    }
    println!("ready {} {failed}", held.len());
    let mut buf = [0u8; 64];
    while std::io::stdin().read(&mut buf).is_ok_and(|n| n > 0) {}
    drop(held);
}

/// One `GET /healthz` on a new connection: time to the whole answer.
fn healthz(addr: SocketAddr) -> Duration {
    let start = Instant::now();
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    write!(
        s,
        "GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    assert!(out.starts_with("HTTP/1.1 200"), "healthz: {out}");
    start.elapsed()
}

fn stats(mut d: Vec<Duration>) -> (Duration, Duration, Duration) {
    d.sort();
    let at = |q: f64| d[((d.len() - 1) as f64 * q) as usize];
    (at(0.5), at(0.99), d[d.len() - 1])
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn measure() {
    let exe = std::env::current_exe().expect("current exe");
    let mut server = Command::new(&exe)
        .env(ROLE, "server")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the server");
    let mut line = String::new();
    BufReader::new(server.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("server address");
    let addr: SocketAddr = line.trim().parse().expect("address");

    let baseline: Vec<Duration> = (0..SAMPLES).map(|_| healthz(addr)).collect();
    let (b50, b99, bmax) = stats(baseline);

    let started = Instant::now();
    let mut holders = Vec::new();
    for _ in 0..HOLDERS {
        holders.push(
            Command::new(&exe)
                .env(ROLE, "holder")
                .arg(addr.to_string())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("start a holder"),
        );
    }
    let mut opened = 0usize;
    for h in &mut holders {
        let mut line = String::new();
        BufReader::new(h.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("holder ready");
        let n: usize = line
            .split_whitespace()
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        opened += n;
    }
    let open_time = started.elapsed();

    let loaded: Vec<Duration> = (0..SAMPLES).map(|_| healthz(addr)).collect();
    let (l50, l99, lmax) = stats(loaded);

    println!(
        "idle connections: {opened} opened by {HOLDERS} processes in {:.1} s",
        open_time.as_secs_f64()
    );
    println!("GET /healthz on a new connection ({SAMPLES} samples each):");
    println!(
        "  idle baseline:                 p50 {}  p99 {}  max {}",
        ms(b50),
        ms(b99),
        ms(bmax)
    );
    println!(
        "  with {opened} idle connections: p50 {}  p99 {}  max {}",
        ms(l50),
        ms(l99),
        ms(lmax)
    );
    println!(
        "  target: max under {} ms: {}",
        TARGET.as_millis(),
        if lmax < TARGET { "met" } else { "NOT met" }
    );

    for mut h in holders {
        drop(h.stdin.take());
        let _ = h.wait();
    }
    drop(server.stdin.take());
    let _ = server.wait();
}
