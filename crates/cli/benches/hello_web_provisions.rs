//! `cargo bench -p vitrina-cli --bench hello_web_provisions`: N concurrent provisions of
//! `hello_web` (default 100, `VITRINA_BENCH_PROVISIONS`; its `free` plan's manifest as a
//! deployment-system object, which is what an OSB provision creates) on a real
//! `vitrina serve --demo` and its built-in cloud (shared network: each VM a process tree at its own
//! 127.x address, with the agent and the page server). Reports whether all succeeded, the
//! provisions per minute, the server's peak memory (`VmHWM` of the `vitrina serve` process,
//! which must stay under 500 MB), and where the time of one provision goes — waiting for a
//! worker, the engine (planning, networks, volumes, attachments), the VM's boot, the agent with
//! the package's scripts, and the first healthy check — from the deployments' own log lines.
//!
//! localcloud's default Cinder quota is 10 volumes per project and `hello_web` makes two, so the
//! provisions are spread over consumer projects of five each (prepared in this process on the
//! server's data folder before it starts). Everything is deprovisioned at the end.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use vitrina_server::tenants::{NewCloud, NewProject};

const PREFIX: &str = "/marketplace/api/infra-api/api/v1-public";
const HELLO_WEB: &str =
    include_str!("../../../examples/packages/hello_web/plans/free/deployment/deploy.tf");
const PER_PROJECT: usize = 5;

struct Serve {
    child: Child,
    data: PathBuf,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let instances = self.data.join("cloud/instances");
        vitrina_localcloud::kill_instances(&instances);
        // Page servers started with `setsid` (outside their VM's process group).
        let Ok(rd) = std::fs::read_dir("/proc") else {
            return;
        };
        let root = instances.to_string_lossy().into_owned();
        for e in rd.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|p| p.parse::<i32>().ok()) else {
                continue;
            };
            if let Ok(env) = std::fs::read(e.path().join("environ")) {
                let mine = env.split(|b| *b == 0).any(|v| {
                    String::from_utf8_lossy(v)
                        .strip_prefix("VITRINA_ROOT=")
                        .is_some_and(|r| r.starts_with(&root))
                });
                if mine {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
            }
        }
    }
}

fn agent_binary() -> PathBuf {
    let path = Path::new(env!("CARGO_BIN_EXE_vitrina")).with_file_name("vitrina-agent");
    assert!(
        path.is_file(),
        "no vitrina-agent at {}: build it with `cargo build -p vitrina-agent` (with --release for a release bench)",
        path.display()
    );
    path
}

/// `VmHWM` (peak resident memory) of a process, in KiB.
fn vm_hwm_kib(pid: u32) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Seconds since the epoch of VK's `2026-12-06T08:00:00.000000Z`.
fn seconds_of(ts: &str) -> Option<f64> {
    let (date, time) = ts.trim_end_matches('Z').split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.split(':');
    let (h, min, s) = (
        t.next()?.parse::<f64>().ok()?,
        t.next()?.parse::<f64>().ok()?,
        t.next()?.parse::<f64>().ok()?,
    );
    // Days from the civil date (proleptic Gregorian).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days as f64 * 86_400.0 + h * 3600.0 + min * 60.0 + s)
}

/// Where one provision's time went, in seconds.
#[derive(Default, Clone, Copy)]
struct Split {
    total: f64,
    queue: f64,
    engine: f64,
    boot: f64,
    agent_scripts: f64,
    check: f64,
}

/// The span between `<addr>: Creating...` and `<addr>: create done` in the log lines.
fn create_span(lines: &[(f64, String)], addr: &str) -> f64 {
    let start = lines
        .iter()
        .find(|(_, m)| m.starts_with(&format!("{addr}: ")) && m.ends_with("..."))
        .map(|(t, _)| *t);
    let end = lines
        .iter()
        .find(|(_, m)| m.starts_with(&format!("{addr}: create done")))
        .map(|(t, _)| *t);
    match (start, end) {
        (Some(s), Some(e)) if e >= s => e - s,
        _ => 0.0,
    }
}

fn split_of(logs: &Value, requested: f64, polled: f64) -> Split {
    // The end is when the deployment system said so, not when this bench's poll saw it.
    let done = logs
        .as_array()
        .and_then(|a| {
            a.iter()
                .filter(|l| l["message"] == "the deployment is running")
                .filter_map(|l| seconds_of(l["created_at"].as_str()?))
                .reduce(f64::max)
        })
        .unwrap_or(polled);
    let mut lines: Vec<(f64, String)> = logs
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|l| l["src"] == "engine")
                .filter_map(|l| {
                    Some((
                        seconds_of(l["created_at"].as_str()?)?,
                        l["message"].as_str()?.to_owned(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    lines.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total = (done - requested).max(0.0);
    let queue = lines
        .first()
        .map(|(t, _)| (t - requested).max(0.0))
        .unwrap_or(0.0);
    let boot = create_span(&lines, "vkcs_compute_instance.web");
    let agent_scripts = create_span(&lines, "ivkcs_agent_exec.start");
    let check = create_span(&lines, "ivkcs_agent_check.health");
    let engine = (total - queue - boot - agent_scripts - check).max(0.0);
    Split {
        total,
        queue,
        engine,
        boot,
        agent_scripts,
        check,
    }
}

fn now_s() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn main() {
    // `cargo bench` passes `--bench`; anything else is ignored.
    let n: usize = std::env::var("VITRINA_BENCH_PROVISIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100)
        .max(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let projects = n.div_ceil(PER_PROJECT);

    // Consumer projects, prepared in this process on the data folder before the server runs.
    let tokens: Vec<(String, String)> = rt.block_on(async {
        let mut cfg =
            vitrina_server::ServerConfig::new("127.0.0.1:0".parse().expect("addr"), &data);
        cfg.cloud = true;
        cfg.cloud_network = vitrina_localcloud::NetworkSetting::Shared;
        cfg.hoe.poll = Duration::from_secs(3600);
        let server = vitrina_server::Server::start(cfg)
            .await
            .expect("server starts");
        let mut out = Vec::new();
        for k in 0..projects {
            let p = server
                .tenants
                .ensure_project(&NewProject {
                    name: format!("bench{k}"),
                    email: format!("bench{k}@example.com"),
                    cloud: NewCloud::Local,
                })
                .await
                .expect("project");
            let t = server.tenants.issue_project_token(&p).await.expect("token");
            out.push((p.id, t.expose().to_owned()));
        }
        server.stop().await;
        out
    });

    let mut child = Command::new(env!("CARGO_BIN_EXE_vitrina"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--demo",
            "--cloud-network",
            "shared",
            "--hoe-workers",
            "16",
            "--data",
        ])
        .arg(&data)
        .env("VITRINA_AGENT_BINARY", agent_binary())
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vitrina serve starts");
    let stderr = child.stderr.take().expect("stderr");
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            eprintln!("[serve] {line}");
        }
    });
    let pid = child.id();
    let serve = Serve {
        child,
        data: data.clone(),
    };
    let creds_path = data.join("demo-credentials.json");
    let deadline = Instant::now() + Duration::from_secs(300);
    while !creds_path.is_file() {
        assert!(
            Instant::now() < deadline,
            "vitrina serve wrote no demo-credentials.json"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let creds: Value =
        serde_json::from_str(&std::fs::read_to_string(&creds_path).expect("credentials"))
            .expect("credentials JSON");
    let url = creds["url"].as_str().expect("url").to_owned();
    let report = rt.block_on(run(&url, &tokens, n));
    let hwm = vm_hwm_kib(pid).unwrap_or(0);
    drop(serve);
    let Report {
        ok,
        elapsed,
        splits,
        provision_wall,
    } = report;
    let mean = |f: fn(&Split) -> f64| {
        if splits.is_empty() {
            0.0
        } else {
            splits.iter().map(f).sum::<f64>() / splits.len() as f64
        }
    };
    println!("hello_web provisions (deployment-system objects) on localcloud (shared network)");
    println!("  provisions:            {ok} of {n} succeeded");
    println!(
        "  all running after:     {:.1} s  ({:.1} provisions per minute; seen by a 5 s poll)",
        provision_wall,
        ok as f64 * 60.0 / provision_wall.max(0.001)
    );
    println!(
        "  bench total:           {:.1} s (with deprovisioning)",
        elapsed
    );
    println!(
        "  server peak memory:    {:.1} MB (VmHWM of `vitrina serve`; limit 500 MB)",
        hwm as f64 / 1024.0
    );
    println!("  one provision, mean of {}:", splits.len());
    println!("    total                {:.1} s", mean(|s| s.total));
    println!("    waiting for a worker {:.1} s", mean(|s| s.queue));
    println!(
        "    engine               {:.1} s (plan, networks, volumes, attachments, state)",
        mean(|s| s.engine)
    );
    println!(
        "    VM boot              {:.1} s (vkcs_compute_instance create)",
        mean(|s| s.boot)
    );
    println!(
        "    agent + scripts      {:.1} s (agent download and registration, the start script)",
        mean(|s| s.agent_scripts)
    );
    println!("    first healthy check  {:.1} s", mean(|s| s.check));
    assert_eq!(ok, n, "not every provision succeeded");
    assert!(hwm > 0, "no VmHWM read");
    assert!(
        hwm < 500 * 1024,
        "the server's peak memory {} MB is over 500 MB",
        hwm / 1024
    );
}

struct Report {
    ok: usize,
    elapsed: f64,
    provision_wall: f64,
    splits: Vec<Split>,
}

async fn hoe(
    http: &reqwest::Client,
    m: reqwest::Method,
    url: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = http
        .request(m, url)
        .header("x-auth-token", token)
        .timeout(Duration::from_secs(120));
    if let Some(b) = body {
        req = req.json(&b);
    }
    match req.send().await {
        Ok(r) => {
            let code = r.status().as_u16();
            let text = r.text().await.unwrap_or_default();
            (
                code,
                serde_json::from_str(&text).unwrap_or(Value::String(text)),
            )
        }
        Err(e) => (0, Value::String(e.to_string())),
    }
}

async fn run(url: &str, tokens: &[(String, String)], n: usize) -> Report {
    let http = reqwest::Client::new();
    let started = Instant::now();
    // Each project's network on a loopback range of its own.
    let mut subnets = Vec::new();
    for (k, (_, token)) in tokens.iter().enumerate() {
        let tf = format!(
            r#"
resource "vkcs_networking_network" "net" {{
  name = "bench-net"
}}

resource "vkcs_networking_subnet" "sub" {{
  name       = "bench-subnet"
  network_id = vkcs_networking_network.net.id
  cidr       = "127.{}.{}.0/24"
}}

output "subnet" {{
  value = vkcs_networking_subnet.sub.id
}}
"#,
            100 + k / 200,
            k % 200 + 20
        );
        let r = http
            .post(format!("{url}{PREFIX}/hoe/config/bench-net"))
            .header("x-auth-token", token)
            .body(tf)
            .send()
            .await
            .expect("config");
        assert_eq!(r.status().as_u16(), 201);
        let uuid = format!("{k:08x}-0000-4000-8000-00000000be0c");
        let (code, v) = hoe(
            &http,
            reqwest::Method::POST,
            &format!("{url}{PREFIX}/hoe/object"),
            token,
            Some(json!({"uuid": uuid, "config": "bench-net", "vars": {}})),
        )
        .await;
        assert_eq!(code, 201, "{v}");
        subnets.push(uuid);
    }
    let mut subnet_ids = Vec::new();
    for (k, uuid) in subnets.iter().enumerate() {
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            let (_, v) = hoe(
                &http,
                reqwest::Method::GET,
                &format!("{url}{PREFIX}/hoe/object/{uuid}"),
                &tokens[k].1,
                None,
            )
            .await;
            if v["status"] == "running" {
                let out: Value =
                    serde_json::from_str(v["out"].as_str().unwrap_or("{}")).unwrap_or_default();
                subnet_ids.push(out["subnet"].as_str().expect("subnet").to_owned());
                break;
            }
            assert_ne!(v["status"], "failed", "{v}");
            assert!(Instant::now() < deadline, "network {k} never came up: {v}");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    for (_, token) in tokens {
        let r = http
            .post(format!("{url}{PREFIX}/hoe/config/hello_web"))
            .header("x-auth-token", token)
            .body(HELLO_WEB)
            .send()
            .await
            .expect("config");
        assert_eq!(r.status().as_u16(), 201);
    }

    // N provisions at once.
    let t0 = Instant::now();
    let t0_s = now_s();
    let ids: Vec<String> = (0..n)
        .map(|i| format!("{i:08x}-1111-4222-8333-0000b0a7be0c"))
        .collect();
    let mut requested = vec![0.0f64; n];
    let mut tasks = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let k = i / PER_PROJECT;
        let body = json!({"uuid": id, "config": "hello_web", "vars": {
            "flavor": "Basic-1-2-20", "az": "GZ1", "subnet": subnet_ids[k],
            "data_type": "ceph-ssd", "data_size": 1, "page_title": format!("bench {i}"),
        }});
        let http = http.clone();
        let token = tokens[k].1.clone();
        let u = format!("{url}{PREFIX}/hoe/object");
        requested[i] = now_s();
        tasks.push(tokio::spawn(async move {
            hoe(&http, reqwest::Method::POST, &u, &token, Some(body)).await
        }));
    }
    for (i, t) in tasks.into_iter().enumerate() {
        let (code, v) = t.await.expect("task");
        assert_eq!(code, 201, "provision {i}: {v}");
    }
    eprintln!("{n} provisions accepted in {:?}", t0.elapsed());
    let mut done = vec![None::<f64>; n];
    let mut failed = 0;
    let deadline = Instant::now() + Duration::from_secs(3600);
    while done.iter().filter(|d| d.is_some()).count() < n {
        for (i, id) in ids.iter().enumerate() {
            if done[i].is_some() {
                continue;
            }
            let (code, v) = hoe(
                &http,
                reqwest::Method::GET,
                &format!("{url}{PREFIX}/hoe/object/{id}"),
                &tokens[i / PER_PROJECT].1,
                None,
            )
            .await;
            if code == 200 && v["status"] == "running" && v["full_deployed"] == true {
                done[i] = Some(now_s());
            } else if code == 200 && v["status"] == "failed" {
                eprintln!("provision {i} failed: {}", v["last_error"]);
                done[i] = Some(-1.0);
                failed += 1;
            }
        }
        let finished = done.iter().filter(|d| d.is_some()).count();
        eprintln!(
            "{finished} of {n} finished ({failed} failed) after {:?}",
            t0.elapsed()
        );
        if Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    let provision_wall = done
        .iter()
        .flatten()
        .filter(|d| **d > 0.0)
        .fold(t0_s, |a, b| a.max(*b))
        - t0_s;
    let ok = done.iter().flatten().filter(|d| **d > 0.0).count();

    // Where the time went, from each deployment's log.
    let mut splits = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let Some(d) = done[i].filter(|d| *d > 0.0) else {
            continue;
        };
        let (code, logs) = hoe(
            &http,
            reqwest::Method::GET,
            &format!("{url}{PREFIX}/logs/instance/{id}"),
            &tokens[i / PER_PROJECT].1,
            None,
        )
        .await;
        if code == 200 {
            splits.push(split_of(&logs, requested[i], d));
        }
    }

    // Deprovision everything (the page servers are killed with the VMs when the bench ends).
    for (i, id) in ids.iter().enumerate() {
        let _ = hoe(
            &http,
            reqwest::Method::DELETE,
            &format!("{url}{PREFIX}/hoe/object/{id}"),
            &tokens[i / PER_PROJECT].1,
            None,
        )
        .await;
    }
    let deadline = Instant::now() + Duration::from_secs(1800);
    for (i, id) in ids.iter().enumerate() {
        loop {
            let (_, v) = hoe(
                &http,
                reqwest::Method::GET,
                &format!("{url}{PREFIX}/hoe/object/{id}"),
                &tokens[i / PER_PROJECT].1,
                None,
            )
            .await;
            if v["status"] == "deleted" || v["status"] == "failed" || Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }
    Report {
        ok,
        elapsed: started.elapsed().as_secs_f64(),
        provision_wall,
        splits,
    }
}
