//! A real `vitrina-server` on 127.0.0.1 and real `vitrina-agent` processes.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use vitrina_agent_api::wire::*;
use vitrina_agent_api::EngineClient;
use vitrina_common::{DeploymentId, HostName, Secret};
use vitrina_server::{Server, ServerConfig};

pub struct Harness {
    pub server: Option<Server>,
    pub engine: EngineClient,
    pub d: DeploymentId,
    pub dir: tempfile::TempDir,
    pub url: String,
}

pub struct AgentProc {
    pub child: Child,
    pub state: PathBuf,
    pub log: PathBuf,
}

impl Drop for AgentProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl AgentProc {
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

pub fn host(s: &str) -> HostName {
    s.parse().expect("host name")
}

pub fn step(index: i64, content: &str) -> Step {
    let mut s = Step {
        index,
        kind: ScriptType::Bash,
        content: Secret::new(content),
        options: StepOptions::default(),
    };
    s.options.attempt_pause_ms = 0;
    s
}

impl Harness {
    pub async fn start() -> Harness {
        Harness::start_with(Duration::from_secs(300)).await
    }

    /// With the built-in cloud (shared network): its object store and DNS server.
    pub async fn start_cloud() -> Harness {
        Harness::start_full(Duration::from_secs(300), true).await
    }

    /// With `health_timeout` (how long until a silent host counts as failed).
    pub async fn start_with(health_timeout: Duration) -> Harness {
        Harness::start_full(health_timeout, false).await
    }

    async fn start_full(health_timeout: Duration, cloud: bool) -> Harness {
        Harness::start_tuned(|cfg| {
            cfg.health_timeout = health_timeout;
            cfg.cloud = cloud;
        })
        .await
    }

    /// With the server's settings changed by `tune`.
    pub async fn start_tuned(tune: impl FnOnce(&mut ServerConfig)) -> Harness {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cfg = ServerConfig::new(
            "127.0.0.1:0".parse().expect("addr"),
            dir.path().join("server"),
        );
        cfg.heartbeat = Duration::from_millis(500);
        cfg.health_timeout = Duration::from_secs(300);
        cfg.cloud_network = vitrina_localcloud::NetworkSetting::Shared;
        tune(&mut cfg);
        let server = Server::start(cfg).await.expect("server starts");
        let engine =
            EngineClient::new(&server.url, server.engine_token.clone()).expect("engine client");
        let url = server.url.clone();
        Harness {
            server: Some(server),
            engine,
            d: DeploymentId::new_v4(),
            dir,
            url,
        }
    }

    /// A folder for a test's files (scripts write here).
    pub fn work_dir(&self) -> PathBuf {
        let p = self.dir.path().join("work");
        std::fs::create_dir_all(&p).expect("work dir");
        p
    }

    pub async fn agent(&self, name: &str) -> AgentProc {
        let creds = self
            .engine
            .agent_credentials(&self.d, &host(name))
            .await
            .expect("agent credentials");
        let base = self.dir.path().join(format!("agent-{name}"));
        std::fs::create_dir_all(&base).expect("agent dir");
        let token = base.join("token");
        vitrina_common::fs::write_atomic(&token, creds.token.expose().as_bytes(), Some(0o600))
            .expect("token");
        self.spawn_agent(&base)
    }

    /// Starts (or restarts) the agent whose folder is `base`.
    pub fn spawn_agent(&self, base: &Path) -> AgentProc {
        let log = base.join("agent.log");
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("log");
        let state = base.join("state");
        let child = Command::new(env!("CARGO_BIN_EXE_vitrina-agent"))
            .arg("--server")
            .arg(&self.url)
            .arg("--token-file")
            .arg(base.join("token"))
            .arg("--state-dir")
            .arg(&state)
            .arg("--run-dir")
            .arg(base.join("run"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log_file))
            .spawn()
            .expect("vitrina-agent starts");
        AgentProc { child, state, log }
    }

    pub async fn put(&self, name: &str, hosts: &[&str], steps: Vec<Step>) -> ExecGroupView {
        self.engine
            .put_group(
                &self.d,
                name,
                &ExecGroupSpec {
                    hosts: hosts.iter().map(|h| host(h)).collect(),
                    steps,
                },
            )
            .await
            .expect("put group")
    }

    /// Waits until every host of the group is `ok` or one is `failed`.
    pub async fn settle(&self, name: &str, agent: &AgentProc) -> GroupResultsView {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let r = self
                .engine
                .group_results(&self.d, name)
                .await
                .expect("results");
            if r.hosts.iter().all(|h| h.status == Status::Ok)
                || r.hosts.iter().any(|h| h.status == Status::Failed)
            {
                return r;
            }
            assert!(
                Instant::now() < deadline,
                "group `{name}` did not settle: {r:#?}\nagent log:\n{}",
                agent.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.stop().await;
        }
    }
}

/// Polls `f` until it is true (60 s at most).
pub async fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}
