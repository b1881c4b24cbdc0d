//! Step semantics of `ivkcs_agent_exec` (../shared/spec/ivkcs.md), each shown by the real
//! `vitrina-agent` binary against a real `vitrina-server` on loopback.

mod common;

use std::time::{Duration, Instant};

use common::*;
use vitrina_agent_api::wire::*;
use vitrina_common::Secret;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steps_run_in_index_order_with_their_environment_cwd_type_and_structured_result() {
    let h = Harness::start().await;
    let w = h.work_dir();
    let order = w.join("order");
    let mut s2 = step(
        2,
        &format!("echo \"two $GREETING $(pwd)\" >> {}", order.display()),
    );
    s2.options.environment_variables = vec![Secret::new("GREETING=hello=world")];
    s2.options.cwd = w.display().to_string();
    let mut s1 = step(
        1,
        &format!(
            "import json, os\nopen({:?}, 'a').write('one ' + os.environ['VITRINA_HOSTNAME'] + '\\n')\njson.dump({{'token': 't-1', 'n': [1, 2]}}, open({:?}, 'w'))\n",
            order.display().to_string(),
            w.join("result.json").display().to_string()
        ),
    );
    s1.kind = ScriptType::Python;
    s1.options.structured_result_file = Some(w.join("result.json").display().to_string());
    let agent = h.agent("n1").await;
    // Given out of order: the agent runs by index.
    h.put("g", &["n1"], vec![s2, s1]).await;
    let r = h.settle("g", &agent).await;
    assert_eq!(
        r.hosts[0].status,
        Status::Ok,
        "{r:#?}\n{}",
        agent.log_text()
    );
    assert_eq!(
        lines(&order),
        vec![
            "one n1".to_owned(),
            format!("two hello=world {}", w.display())
        ]
    );
    let res = h
        .engine
        .step_result(&h.d, &host("n1"), "g", 1)
        .await
        .expect("result");
    assert_eq!(
        res.structured_result,
        Some(serde_json::json!({"token": "t-1", "n": [1, 2]}))
    );
    // store_result (default true) keeps the result on the host's disk.
    let stored = std::fs::read_dir(agent.state.join("result"))
        .expect("result dir")
        .count();
    assert!(stored >= 1);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn halt_codes_stop_retries_and_other_codes_retry_up_to_attempts() {
    let h = Harness::start().await;
    let w = h.work_dir();
    let agent = h.agent("n1").await;
    let halted = w.join("halted");
    let mut s = step(1, &format!("echo x >> {}; exit 125", halted.display()));
    s.options.attempts = 3;
    h.put("halt", &["n1"], vec![s]).await;
    let r = h.settle("halt", &agent).await;
    let st = &r.hosts[0].steps[0];
    assert_eq!(r.hosts[0].status, Status::Failed);
    assert_eq!((st.exit_code, st.attempt), (Some(125), 1), "{st:#?}");
    assert!(
        st.message.as_deref().unwrap_or("").contains("halt"),
        "{st:#?}"
    );
    assert_eq!(lines(&halted).len(), 1, "a halt code is not retried");

    let retried = w.join("retried");
    let mut s = step(
        1,
        &format!("echo x >> {}; echo oops >&2; exit 3", retried.display()),
    );
    s.options.attempts = 3;
    h.put("retry", &["n1"], vec![s]).await;
    let r = h.settle("retry", &agent).await;
    let st = &r.hosts[0].steps[0];
    assert_eq!((st.exit_code, st.attempt), (Some(3), 3), "{st:#?}");
    assert_eq!(st.stderr_tail.trim(), "oops");
    assert_eq!(lines(&retried).len(), 3);
    // A failed step makes the agent report `failed`, and the host counts as failed.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = h.engine.host(&h.d, &host("n1")).await.expect("host");
        if v.status == Some(Status::Failed) {
            assert!(v.failed.is_some(), "{v:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "agent never reported failed: {v:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_sends_stop_signal_then_sigkill_after_stop_timeout() {
    let h = Harness::start().await;
    let w = h.work_dir();
    let agent = h.agent("n1").await;
    let got = w.join("got-signal");
    let pid = w.join("pid");
    // The script logs SIGUSR1 (the configured stop_signal) and keeps going, so only SIGKILL ends it.
    let mut s = step(
        1,
        &format!(
            "echo $$ > {pid}\ntrap 'echo usr1 >> {got}' USR1\nwhile true; do sleep 0.1; done\n",
            pid = pid.display(),
            got = got.display()
        ),
    );
    s.options.timeout_ms = 1000;
    s.options.stop_signal = 10; // SIGUSR1
    s.options.stop_timeout_ms = 1500;
    s.options.attempts = 1;
    let started = Instant::now();
    h.put("slow", &["n1"], vec![s]).await;
    let r = h.settle("slow", &agent).await;
    let st = &r.hosts[0].steps[0];
    assert_eq!(r.hosts[0].status, Status::Failed);
    assert!(
        st.message.as_deref().unwrap_or("").contains("timed out"),
        "{st:#?}"
    );
    assert!(
        lines(&got).contains(&"usr1".to_owned()),
        "stop_signal was not delivered"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(2500),
        "SIGKILL came before stop_timeout"
    );
    let pid: i32 = std::fs::read_to_string(&pid)
        .expect("pid")
        .trim()
        .parse()
        .expect("pid number");
    // Gone: killed, not merely signalled.
    wait_for("the script to be gone", || {
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|s| s.contains(") Z "))
                .unwrap_or(true)
    })
    .await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_steps_do_not_run_on_a_re_apply() {
    let h = Harness::start().await;
    let w = h.work_dir();
    let agent = h.agent("n1").await;
    let count = w.join("once");
    let mut s = step(1, &format!("echo x >> {}", count.display()));
    s.options.once = true;
    h.put("init", &["n1"], vec![s.clone()]).await;
    assert_eq!(h.settle("init", &agent).await.hosts[0].status, Status::Ok);
    // A re-apply with a changed once step and a new step: the once step stays done.
    s.content = Secret::new(format!("echo y >> {}", count.display()));
    let later = w.join("later");
    let v = h
        .put(
            "init",
            &["n1"],
            vec![s, step(2, &format!("echo z >> {}", later.display()))],
        )
        .await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = h.settle("init", &agent).await;
        if r.hosts[0].steps.len() == 2 && r.hosts[0].status == Status::Ok {
            assert_eq!(r.revision, v.revision);
            break;
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        lines(&count),
        vec!["x".to_owned()],
        "the once step ran again"
    );
    assert_eq!(lines(&later), vec!["z".to_owned()]);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_step_runs_again_and_unchanged_ones_do_not() {
    let h = Harness::start().await;
    let w = h.work_dir();
    let agent = h.agent("n1").await;
    let (a, b) = (w.join("a"), w.join("b"));
    let s1 = step(1, &format!("echo a >> {}", a.display()));
    let s2 = step(2, &format!("echo b >> {}", b.display()));
    h.put("g", &["n1"], vec![s1.clone(), s2.clone()]).await;
    assert_eq!(h.settle("g", &agent).await.hosts[0].status, Status::Ok);
    // The same steps again: nothing runs.
    h.put("g", &["n1"], vec![s1.clone(), s2]).await;
    assert_eq!(h.settle("g", &agent).await.hosts[0].status, Status::Ok);
    // Step 2 changed: only it runs.
    let s2b = step(2, &format!("echo b2 >> {}", b.display()));
    h.put("g", &["n1"], vec![s1, s2b]).await;
    wait_for("the changed step to run", || lines(&b).len() == 2).await;
    assert_eq!(h.settle("g", &agent).await.hosts[0].status, Status::Ok);
    assert_eq!(lines(&a), vec!["a".to_owned()]);
    assert_eq!(lines(&b), vec!["b".to_owned(), "b2".to_owned()]);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_agent_mid_step_neither_loses_nor_repeats_a_finished_step() {
    let h = Harness::start().await;
    let w = h.work_dir();
    let mut agent = h.agent("n1").await;
    let (one, two, release) = (w.join("one"), w.join("two"), w.join("release"));
    let s1 = step(1, &format!("echo done >> {}", one.display()));
    let s2 = step(
        2,
        &format!(
            "echo start >> {two}\nwhile [ ! -f {release} ]; do sleep 0.1; done\necho finished >> {two}\n",
            two = two.display(),
            release = release.display()
        ),
    );
    h.put("g", &["n1"], vec![s1, s2]).await;
    wait_for("step 2 to start", || lines(&two).len() == 1).await;
    agent.kill();
    // A new agent on the same state folder (as its supervisor would start it).
    let base = agent.state.parent().expect("agent folder").to_owned();
    let agent = h.spawn_agent(&base);
    wait_for("step 2 to start again", || lines(&two).len() >= 2).await;
    std::fs::write(&release, b"go").expect("release");
    let r = h.settle("g", &agent).await;
    assert_eq!(
        r.hosts[0].status,
        Status::Ok,
        "{r:#?}\n{}",
        agent.log_text()
    );
    assert_eq!(lines(&one), vec!["done".to_owned()], "step 1 ran twice");
    // The cut-off run of step 2 was killed; only the new run finished.
    assert_eq!(
        lines(&two).iter().filter(|l| *l == "finished").count(),
        1,
        "{:?}",
        lines(&two)
    );
    let res = h
        .engine
        .step_result(&h.d, &host("n1"), "g", 1)
        .await
        .expect("step 1 kept");
    assert_eq!(res.status, Status::Ok);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_group_and_pauses_apply() {
    let h = Harness::start().await;
    let w = h.work_dir();
    // Scripts run as `nobody`, so their folder must be writable by it.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&w, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    }
    let agent = h.agent("n1").await;
    let out = w.join("id");
    let mut s = step(1, &format!("id -u > {}", out.display()));
    s.options.user = "nobody".into();
    s.options.group = "nogroup".into();
    s.options.pause_before_ms = 300;
    s.options.pause_after_ms = 300;
    let started = Instant::now();
    h.put("g", &["n1"], vec![s]).await;
    assert_eq!(
        h.settle("g", &agent).await.hosts[0].status,
        Status::Ok,
        "{}",
        agent.log_text()
    );
    assert!(started.elapsed() >= Duration::from_millis(600));
    let uid = std::fs::read_to_string(&out).expect("id").trim().to_owned();
    let expected = if nix_is_root() {
        let passwd = std::fs::read_to_string("/etc/passwd").expect("passwd");
        passwd
            .lines()
            .find(|l| l.starts_with("nobody:"))
            .and_then(|l| l.split(':').nth(2))
            .expect("nobody in /etc/passwd")
            .to_owned()
    } else {
        // VK: an unknown or unavailable user runs the script as the agent's own user.
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(str::to_owned))
            .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
            .expect("own uid")
    };
    assert_eq!(uid, expected);
    h.stop().await;
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(str::to_owned))
        .map(|l| l.split_whitespace().nth(1) == Some("0"))
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_step_starts_within_a_second() {
    let h = Harness::start().await;
    let w = h.work_dir();
    let agent = h.agent("n1").await;
    // The agent is registered and waiting.
    wait_for("registration", || agent.log_text().contains("registered")).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mark = w.join("started");
    let put_at = Instant::now();
    h.put(
        "g",
        &["n1"],
        vec![step(1, &format!("touch {}", mark.display()))],
    )
    .await;
    wait_for("the step to start", || mark.exists()).await;
    let latency = put_at.elapsed();
    eprintln!("registration → step start: {latency:?}");
    // The bound of the issue is 1 s; a loaded 2-core test machine gets five times that.
    assert!(latency < Duration::from_secs(5), "{latency:?}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restart_mid_step_loses_no_result_and_repeats_no_step() {
    let mut h = Harness::start().await;
    let w = h.work_dir();
    let agent = h.agent("n1").await;
    let (one, two, release) = (w.join("one"), w.join("two"), w.join("release"));
    let s1 = step(1, &format!("echo done >> {}", one.display()));
    let s2 = step(
        2,
        &format!(
            "echo start >> {two}\nwhile [ ! -f {release} ]; do sleep 0.1; done\necho finished >> {two}\n",
            two = two.display(),
            release = release.display()
        ),
    );
    h.put("g", &["n1"], vec![s1, s2]).await;
    wait_for("step 2 to start", || lines(&two).len() == 1).await;
    // Stop the server while step 2 runs; it finishes while nobody listens.
    let server = h.server.take().expect("server");
    let addr = server.addr;
    server.stop().await;
    std::fs::write(&release, b"go").expect("release");
    wait_for("step 2 to finish", || lines(&two).len() == 2).await;
    // The same server again: same data folder, same address.
    let mut cfg = vitrina_server::ServerConfig::new(addr, h.dir.path().join("server"));
    cfg.heartbeat = Duration::from_millis(500);
    let deadline = Instant::now() + Duration::from_secs(60);
    let server = loop {
        match vitrina_server::Server::start(cfg.clone()).await {
            Ok(s) => break s,
            Err(e) => {
                assert!(Instant::now() < deadline, "cannot restart the server: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    h.server = Some(server);
    let r = h.settle("g", &agent).await;
    assert_eq!(
        r.hosts[0].status,
        Status::Ok,
        "{r:#?}\n{}",
        agent.log_text()
    );
    assert_eq!(lines(&one), vec!["done".to_owned()], "step 1 ran twice");
    assert_eq!(
        lines(&two),
        vec!["start".to_owned(), "finished".to_owned()],
        "step 2 ran twice"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_host_runs_its_steps_again_except_once_steps() {
    let h = Harness::start().await;
    let w = h.work_dir();
    let mut agent = h.agent("n1").await;
    let (setup, init) = (w.join("setup"), w.join("init"));
    let mut once = step(1, &format!("echo x >> {}", init.display()));
    once.options.once = true;
    let every = step(2, &format!("echo x >> {}", setup.display()));
    h.put("g", &["n1"], vec![once, every]).await;
    assert_eq!(h.settle("g", &agent).await.hosts[0].status, Status::Ok);
    // The VM is replaced: a new machine, the same host name and token, an empty state folder.
    agent.kill();
    let base = agent.state.parent().expect("agent folder").to_owned();
    std::fs::remove_dir_all(&agent.state).expect("wipe state");
    let _agent = h.spawn_agent(&base);
    wait_for("the new machine to run the ordinary step", || {
        lines(&setup).len() == 2
    })
    .await;
    assert_eq!(
        lines(&init).len(),
        1,
        "the once step ran on the new machine"
    );
    h.stop().await;
}
