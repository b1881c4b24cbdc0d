//! An agent killed inside its VM and brought back by its supervisor makes its host failed (the
//! acceptance of issue 10: "killing … only its agent makes that host and no other be marked
//! failed with its reason"), while an orderly stop or a reboot does not.

mod common;

use std::time::{Duration, Instant};

use common::*;
use vitrina_agent_api::wire::HostView;

async fn view(h: &Harness, name: &str) -> HostView {
    h.engine.host(&h.d, &host(name)).await.expect("host view")
}

/// Waits until the host's agent has registered again after `since` (unix ms).
async fn registered_after(h: &Harness, name: &str, since: i64, agent: &AgentProc) -> HostView {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let v = view(h, name).await;
        if v.last_heartbeat.is_some_and(|b| b > since) {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "the agent never came back: {v:?}\n{}",
            agent.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis(),
    )
    .expect("ms")
}

fn pid_of(agent: &AgentProc) -> nix::unistd::Pid {
    nix::unistd::Pid::from_raw(i32::try_from(agent.child.id()).expect("pid"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_agent_that_comes_back_fails_only_its_host() {
    let h = Harness::start().await;
    let mut a = h.agent("a").await;
    let b = h.agent("b").await;
    let base = a.state.parent().expect("agent folder").to_owned();
    let v = registered_after(&h, "a", 0, &a).await;
    assert_eq!(v.failed, None, "{v:?}");
    registered_after(&h, "b", 0, &b).await;
    assert!(base.join("run/agent.pid").is_file(), "no liveness marker");

    // SIGKILL, then the supervisor starts a new agent in the same boot.
    a.kill();
    let since = now_ms();
    let a = h.spawn_agent(&base);
    let v = registered_after(&h, "a", since, &a).await;
    let reason = v.failed.clone().unwrap_or_default();
    assert!(
        reason.contains("agent died") && reason.contains("killed or crashed"),
        "{v:?}\n{}",
        a.log_text()
    );
    assert_eq!(v.failure_epoch, 1, "one death, one failure: {v:?}");
    // Only that host.
    let other = view(&h, "b").await;
    assert_eq!(other.failed, None, "{other:?}");
    // It stays failed while the restarted agent runs: the replacement is due.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let v = view(&h, "a").await;
    assert!(v.failed.is_some(), "{v:?}");
    assert_eq!(v.failure_epoch, 1, "counted once: {v:?}");

    // A reboot empties the run folder: the agent starts clean and the host is healthy again
    // (as a replaced VM's agent does).
    let mut a = a;
    a.kill();
    std::fs::remove_dir_all(base.join("run")).expect("boot empties /run");
    let since = now_ms();
    let a = h.spawn_agent(&base);
    let v = registered_after(&h, "a", since, &a).await;
    assert_eq!(v.failed, None, "{v:?}\n{}", a.log_text());
    drop(a);
    drop(b);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_orderly_stop_is_not_a_death() {
    let h = Harness::start().await;
    let mut a = h.agent("a").await;
    let base = a.state.parent().expect("agent folder").to_owned();
    registered_after(&h, "a", 0, &a).await;
    // `systemctl stop` / `restart`: SIGTERM; the agent removes its marker and exits 0.
    nix::sys::signal::kill(pid_of(&a), nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
    let status = a.child.wait().expect("agent exits");
    assert!(status.success(), "{status:?}\n{}", a.log_text());
    assert!(!base.join("run/agent.pid").exists(), "marker left behind");
    let since = now_ms();
    let a = h.spawn_agent(&base);
    let v = registered_after(&h, "a", since, &a).await;
    assert_eq!(v.failed, None, "{v:?}\n{}", a.log_text());
    drop(a);
    h.stop().await;
}
