//! `token_file_path` / `token_rotate`: a real agent keeps its host's script token in a file;
//! with rotation the file gets a new token every period, the previous one still opens VK's
//! `auth/key` during the grace period (until the next rotation at most) and is refused after it; without rotation the token stays.
//! A script token opens nothing else, and the agent's own token does not open `auth/key`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use vitrina_agent_api::client::auth_key;
use vitrina_agent_api::wire::{Heartbeat, Status};
use vitrina_agent_api::AgentClient;
use vitrina_common::Secret;
use vitrina_server::script_tokens::TokenRotation;

/// Starts an agent for `name` that keeps its script token in `file`.
async fn agent_with_token_file(h: &Harness, name: &str, file: &Path, rotate: bool) -> AgentProc {
    let creds = h
        .engine
        .agent_credentials(&h.d, &host(name))
        .await
        .expect("agent credentials");
    let base = h.dir.path().join(format!("agent-{name}"));
    std::fs::create_dir_all(&base).expect("agent dir");
    vitrina_common::fs::write_atomic(
        &base.join("token"),
        creds.token.expose().as_bytes(),
        Some(0o600),
    )
    .expect("token");
    let log = base.join("agent.log");
    let log_file = std::fs::File::create(&log).expect("log");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vitrina-agent"));
    cmd.arg("--server")
        .arg(&h.url)
        .arg("--token-file")
        .arg(base.join("token"))
        .arg("--state-dir")
        .arg(base.join("state"))
        .arg("--run-dir")
        .arg(base.join("run"))
        .arg("--script-token-file")
        .arg(file);
    if rotate {
        cmd.arg("--script-token-rotate");
    }
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log_file))
        .spawn()
        .expect("vitrina-agent starts");
    AgentProc {
        child,
        state: base.join("state"),
        log,
    }
}

fn read_token(p: &PathBuf) -> Option<String> {
    std::fs::read_to_string(p)
        .ok()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
}

async fn until<T>(what: &str, secs: u64, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(t) = f().await {
            return t;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_keeps_a_rotating_script_token_fresh() {
    let h = Harness::start_tuned(|cfg| {
        cfg.token_rotation = TokenRotation {
            period: Duration::from_secs(2),
            grace: Duration::from_secs(20),
        };
    })
    .await;
    let work = h.work_dir();
    let rotating = work.join("etc/app/token");
    let fixed = work.join("fixed/token");
    let a = agent_with_token_file(&h, "app-1", &rotating, true).await;
    let b = agent_with_token_file(&h, "app-2", &fixed, false).await;

    let first = until("the token file", 60, async || read_token(&rotating)).await;
    let fixed_token = until("the second token file", 60, async || read_token(&fixed)).await;
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&rotating)
        .expect("meta")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(first.starts_with("vts_"));
    let key = auth_key(&h.url, Secret::new(first.clone()))
        .await
        .expect("the script token opens auth/key");
    assert_eq!(key.instance_uuid, h.d.to_string());
    assert_eq!(key.host, "app-1");

    // Rotated: a new token in the file; the old one still opens during the grace period.
    let second = until("a rotated token", 90, async || {
        read_token(&rotating).filter(|t| *t != first)
    })
    .await;
    let now = auth_key(&h.url, Secret::new(second.clone()))
        .await
        .expect("the new token opens auth/key");
    assert_eq!(now.host, "app-1");
    let old = auth_key(&h.url, Secret::new(first.clone()))
        .await
        .expect("the previous token opens during the grace period");
    assert_eq!(old.instance_uuid, h.d.to_string());

    // After the grace period, or the next rotation (one previous token is kept), the first
    // token is refused.
    until("the first token refused", 120, async || {
        match auth_key(&h.url, Secret::new(first.clone())).await {
            Err(e) if e.status().map(|s| s.as_u16()) == Some(401) => Some(()),
            _ => None,
        }
    })
    .await;
    // Without rotation the token stayed the same through many periods.
    assert_eq!(read_token(&fixed).as_deref(), Some(fixed_token.as_str()));
    let still = auth_key(&h.url, Secret::new(fixed_token.clone()))
        .await
        .expect("the fixed token opens");
    assert_eq!(still.host, "app-2");
    assert!(still.secondary_key.is_none());

    // A script token is no agent token, an agent token no script token, and the engine's
    // token opens neither.
    let as_agent = AgentClient::new(&h.url, Secret::new(fixed_token.clone())).expect("client");
    let refused = as_agent
        .heartbeat(&Heartbeat {
            status: Status::Ok,
            reason: None,
        })
        .await
        .expect_err("a script token is not an agent's");
    assert_eq!(refused.status().map(|s| s.as_u16()), Some(401));
    let agent_token = std::fs::read_to_string(h.dir.path().join("agent-app-2/token")).expect("t");
    let e = auth_key(&h.url, Secret::new(agent_token))
        .await
        .expect_err("an agent token does not open auth/key");
    assert_eq!(e.status().map(|s| s.as_u16()), Some(401));
    let engine_token = h
        .server
        .as_ref()
        .expect("server")
        .engine_token
        .expose()
        .to_owned();
    let e = auth_key(&h.url, Secret::new(engine_token))
        .await
        .expect_err("the engine token does not open auth/key");
    assert_eq!(e.status().map(|s| s.as_u16()), Some(401));
    // The store keeps no token in plain text.
    let mut bytes = Vec::new();
    for e in std::fs::read_dir(h.dir.path().join("server"))
        .expect("dir")
        .flatten()
    {
        if e.path().is_file() {
            bytes.extend(std::fs::read(e.path()).unwrap_or_default());
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    for t in [&first, &second, &fixed_token] {
        assert!(
            !text.contains(t.as_str()),
            "a script token in the store's files"
        );
    }
    // Nor do the agents' logs.
    for log in [a.log_text(), b.log_text()] {
        for t in [&first, &second, &fixed_token] {
            assert!(
                !log.contains(t.as_str()),
                "a script token in an agent's log"
            );
        }
    }
    drop(a);
    drop(b);
    h.stop().await;
}
