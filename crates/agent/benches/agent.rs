//! `cargo bench -p vitrina-agent --bench agent`: the agent's idle resident memory, its binary
//! size, and the time from registering a step with the config service to the step's start on
//! the host (against a baseline: starting the same script with bash directly).
//!
//! `VITRINA_AGENT_BIN=target/agent/vitrina-agent` measures the small build
//! (`cargo build --profile agent -p vitrina-agent`) instead of the bench build.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use vitrina_agent_api::wire::{ExecGroupSpec, ScriptType, Step, StepOptions};
use vitrina_agent_api::EngineClient;
use vitrina_common::{DeploymentId, Secret};

fn rss_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

async fn wait_file(p: &std::path::Path) -> Duration {
    let start = Instant::now();
    while !p.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no {}",
            p.display()
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    start.elapsed()
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run());
}

async fn run() {
    let bin: PathBuf = std::env::var_os("VITRINA_AGENT_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_vitrina-agent").into());
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = vitrina_server::ServerConfig::new(
        "127.0.0.1:0".parse().expect("addr"),
        dir.path().join("server"),
    );
    let server = vitrina_server::Server::start(cfg).await.expect("server");
    let engine = EngineClient::new(&server.url, server.engine_token.clone()).expect("client");
    let d = DeploymentId::new_v4();
    let host = "bench".parse().expect("host");
    let creds = engine.agent_credentials(&d, &host).await.expect("creds");
    let token = dir.path().join("token");
    std::fs::write(&token, creds.token.expose()).expect("token");
    let mut child = Command::new(&bin)
        .arg("--server")
        .arg(&server.url)
        .arg("--token-file")
        .arg(&token)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("agent starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !engine
        .host(&d, &host)
        .await
        .map(|h| h.registered)
        .unwrap_or(false)
    {
        assert!(Instant::now() < deadline, "agent did not register");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Latency: registration of a one-step group → the step's first action on the host.
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).expect("work");
    let mut agent_runs = Vec::new();
    let mut bash_runs = Vec::new();
    for i in 0..20 {
        let mark = work.join(format!("agent-{i}"));
        let step = Step {
            index: 1,
            kind: ScriptType::Bash,
            content: Secret::new(format!("touch {}", mark.display())),
            options: StepOptions::default(),
        };
        let t = Instant::now();
        engine
            .put_group(
                &d,
                &format!("g{i}"),
                &ExecGroupSpec {
                    hosts: vec![host.clone()],
                    steps: vec![step],
                },
            )
            .await
            .expect("put");
        wait_file(&mark).await;
        agent_runs.push(t.elapsed());
        // Baseline: the same script started by bash directly.
        let base = work.join(format!("bash-{i}"));
        let t = Instant::now();
        Command::new("bash")
            .arg("-c")
            .arg(format!("touch {}", base.display()))
            .status()
            .expect("bash");
        wait_file(&base).await;
        bash_runs.push(t.elapsed());
    }
    // Idle: long-polling, heartbeating, nothing to run.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss = rss_kib(child.id(), "VmRSS:").unwrap_or(0);
    let hwm = rss_kib(child.id(), "VmHWM:").unwrap_or(0);
    let size = std::fs::metadata(&bin).map(|m| m.len()).unwrap_or(0);
    let (a, b) = (median(&mut agent_runs), median(&mut bash_runs));
    println!(
        "binary            {} ({:.1} MB)",
        bin.display(),
        size as f64 / 1e6
    );
    println!(
        "idle RSS          {:.1} MB (peak {:.1} MB)",
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
    println!(
        "step start        median {:?} (min {:?}, max {:?}) over {} registrations",
        a,
        agent_runs.first().copied().unwrap_or_default(),
        agent_runs.last().copied().unwrap_or_default(),
        agent_runs.len()
    );
    println!(
        "baseline bash     median {:?}; ratio agent/bash {:.1}",
        b,
        a.as_secs_f64() / b.as_secs_f64().max(1e-9)
    );
    let _ = child.kill();
    let _ = child.wait();
    server.stop().await;
}
