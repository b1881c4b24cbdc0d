//! The config service over loopback HTTP, through the same typed clients the `ivkcs` provider
//! and the agent use.

use std::time::{Duration, Instant};

use vitrina_agent_api::wire::*;
use vitrina_agent_api::{AgentClient, EngineClient};
use vitrina_common::{DeploymentId, HostName, Secret};
use vitrina_server::{Server, ServerConfig};

async fn start(dir: &std::path::Path, timeout: Duration) -> Server {
    let mut cfg = ServerConfig::new("127.0.0.1:0".parse().expect("addr"), dir);
    cfg.health_timeout = timeout;
    Server::start(cfg).await.expect("server starts")
}

fn host(s: &str) -> HostName {
    s.parse().expect("host name")
}

fn step(index: i64, content: &str) -> Step {
    Step {
        index,
        kind: ScriptType::Bash,
        content: Secret::new(content),
        options: StepOptions::default(),
    }
}

async fn agent_for(engine: &EngineClient, url: &str, d: &DeploymentId, h: &str) -> AgentClient {
    let creds = engine
        .agent_credentials(d, &host(h))
        .await
        .expect("credentials");
    AgentClient::new(url, creds.token).expect("agent client")
}

fn ok_report(
    group: &str,
    revision: i64,
    s: &Step,
    structured: Option<serde_json::Value>,
) -> StepReport {
    StepReport {
        group: group.into(),
        revision,
        index: s.index,
        hash: s.hash(),
        status: Status::Ok,
        exit_code: Some(0),
        attempt: 1,
        stdout_tail: "done".into(),
        stderr_tail: String::new(),
        structured_result: structured,
        message: None,
    }
}

#[tokio::test]
async fn healthz_answers_ok() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path(), Duration::from_secs(300)).await;
    let body: serde_json::Value = reqwest::get(format!("{}/healthz", server.url))
        .await
        .expect("healthz")
        .json()
        .await
        .expect("json");
    assert_eq!(body, serde_json::json!({"status": "ok"}));
    let metrics = reqwest::get(format!("{}/metrics", server.url))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(metrics.contains("vitrina_up 1"), "{metrics}");
    assert!(metrics.contains("vitrina_config_agents 0"), "{metrics}");
    server.stop().await;
}

#[tokio::test]
async fn engine_and_agents_authenticate_separately() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path(), Duration::from_secs(300)).await;
    let engine = EngineClient::new(&server.url, server.engine_token.clone()).expect("engine");
    let d = DeploymentId::new_v4();
    let agent = agent_for(&engine, &server.url, &d, "n1").await;

    // No token, a wrong token.
    let anon = reqwest::Client::new()
        .get(format!("{}/config/v1/deployments/{d}/hosts/n1", server.url))
        .send()
        .await
        .expect("request");
    assert_eq!(anon.status(), 401);
    let wrong = EngineClient::new(&server.url, Secret::new("vte_wrong")).expect("client");
    let err = wrong.host(&d, &host("n1")).await.expect_err("wrong token");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(401));

    // The agent's token does not open the engine's API, the engine's does not open the agent's.
    let agent_token = engine
        .agent_credentials(&d, &host("n1"))
        .await
        .expect("creds")
        .token;
    let as_engine = EngineClient::new(&server.url, agent_token).expect("client");
    let err = as_engine
        .host(&d, &host("n1"))
        .await
        .expect_err("agent token on engine API");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(401));
    let as_agent = AgentClient::new(&server.url, server.engine_token.clone()).expect("client");
    let err = as_agent
        .heartbeat(&Heartbeat {
            status: Status::Ok,
            reason: None,
        })
        .await
        .expect_err("engine token on agent API");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(401));

    // The same host gets the same token every time.
    let again = engine
        .agent_credentials(&d, &host("n1"))
        .await
        .expect("creds");
    let first = engine
        .agent_credentials(&d, &host("n1"))
        .await
        .expect("creds");
    assert_eq!(again.token.expose(), first.token.expose());
    agent
        .register(&RegisterRequest {
            version: "t".into(),
            hostname: "m".into(),
            unexpected_restart: None,
        })
        .await
        .expect("register");
    server.stop().await;
}

#[tokio::test]
async fn an_agent_token_reaches_only_its_own_deployment_and_host() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path(), Duration::from_secs(300)).await;
    let engine = EngineClient::new(&server.url, server.engine_token.clone()).expect("engine");
    let d1 = DeploymentId::new_v4();
    let d2 = DeploymentId::new_v4();
    let a1 = agent_for(&engine, &server.url, &d1, "a").await;
    let b1 = agent_for(&engine, &server.url, &d1, "b").await;
    let a2 = agent_for(&engine, &server.url, &d2, "a").await;
    let s = step(1, "echo only-for-a");
    let view = engine
        .put_group(
            &d1,
            "g",
            &ExecGroupSpec {
                hosts: vec![host("a")],
                steps: vec![s.clone()],
            },
        )
        .await
        .expect("put group");

    let w = a1.work(-1, Duration::ZERO).await.expect("work of a");
    assert_eq!(w.groups.len(), 1);
    assert_eq!(
        w.groups[0].steps[0].step.content.expose(),
        "echo only-for-a"
    );
    // Host b of the same deployment and host a of another deployment see nothing.
    assert!(b1
        .work(-1, Duration::ZERO)
        .await
        .expect("work of b")
        .groups
        .is_empty());
    assert!(a2
        .work(-1, Duration::ZERO)
        .await
        .expect("work of d2/a")
        .groups
        .is_empty());

    // They cannot write results into a's group either: 404, not 403.
    for other in [&b1, &a2] {
        let err = other
            .report_step(&ok_report("g", view.revision, &s, None))
            .await
            .expect_err("foreign result");
        assert_eq!(err.status().map(|s| s.as_u16()), Some(404));
    }
    let results = engine.group_results(&d1, "g").await.expect("results");
    assert_eq!(
        results.hosts[0].status,
        Status::Running,
        "nothing was written"
    );

    a1.report_step(&ok_report(
        "g",
        view.revision,
        &s,
        Some(serde_json::json!({"k": "v"})),
    ))
    .await
    .expect("own result");
    let results = engine.group_results(&d1, "g").await.expect("results");
    assert_eq!(results.hosts[0].status, Status::Ok);
    let r = engine
        .step_result(&d1, &host("a"), "g", 1)
        .await
        .expect("step result");
    assert_eq!(r.structured_result, Some(serde_json::json!({"k": "v"})));
    // The other deployment has no such result.
    let err = engine
        .step_result(&d2, &host("a"), "g", 1)
        .await
        .expect_err("not there");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(404));
    server.stop().await;
}

#[tokio::test]
async fn a_waiting_agent_gets_new_work_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path(), Duration::from_secs(300)).await;
    let engine = EngineClient::new(&server.url, server.engine_token.clone()).expect("engine");
    let d = DeploymentId::new_v4();
    let agent = agent_for(&engine, &server.url, &d, "n1").await;
    let known = agent.work(-1, Duration::ZERO).await.expect("work").revision;
    let waiting = tokio::spawn(async move {
        let started = Instant::now();
        let w = agent
            .work(known, Duration::from_secs(50))
            .await
            .expect("long-poll");
        (w, started.elapsed())
    });
    // Give the poll a moment to be parked, then register work.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let put_at = Instant::now();
    engine
        .put_group(
            &d,
            "g",
            &ExecGroupSpec {
                hosts: vec![host("n1")],
                steps: vec![step(1, "true")],
            },
        )
        .await
        .expect("put");
    let (w, waited) = waiting.await.expect("join");
    assert_ne!(w.revision, known);
    assert_eq!(w.groups.len(), 1);
    assert!(
        waited < Duration::from_secs(40),
        "the long-poll should answer on registration, not at its end ({waited:?})"
    );
    eprintln!("registration → answer: {:?}", put_at.elapsed());
    server.stop().await;
}

#[tokio::test]
async fn secrets_are_sealed_at_rest_and_results_survive_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let marker = "s3cr3t-M4RKER-77";
    let d = DeploymentId::new_v4();
    let token;
    {
        let server = start(dir.path(), Duration::from_secs(300)).await;
        let engine = EngineClient::new(&server.url, server.engine_token.clone()).expect("engine");
        let creds = engine
            .agent_credentials(&d, &host("n1"))
            .await
            .expect("creds");
        token = creds.token.expose().to_owned();
        let agent = AgentClient::new(&server.url, creds.token).expect("agent");
        let mut s = step(1, &format!("echo {marker}"));
        s.options.environment_variables = vec![Secret::new(format!("PASSWORD={marker}"))];
        let v = engine
            .put_group(
                &d,
                "g",
                &ExecGroupSpec {
                    hosts: vec![host("n1")],
                    steps: vec![s.clone()],
                },
            )
            .await
            .expect("put");
        let mut report = ok_report("g", v.revision, &s, Some(serde_json::json!({"pw": marker})));
        report.stdout_tail = format!("printed {marker}");
        agent.report_step(&report).await.expect("report");
        agent
            .heartbeat(&Heartbeat {
                status: Status::Failed,
                reason: Some(format!("reason {marker}")),
            })
            .await
            .expect("heartbeat");
        server.stop().await;
    }
    // Nothing in the data folder holds the marker or the agent's token in plain text.
    for entry in std::fs::read_dir(dir.path()).expect("list") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            let bytes = std::fs::read(&path).expect("read");
            let text = String::from_utf8_lossy(&bytes);
            assert!(
                !text.contains(marker),
                "{} holds a secret in plain text",
                path.display()
            );
            assert!(
                !text.contains(&token),
                "{} holds an agent token",
                path.display()
            );
        }
    }
    // A restart on the same folder keeps the result and the engine token.
    let server = start(dir.path(), Duration::from_secs(300)).await;
    let engine = EngineClient::new(&server.url, server.engine_token.clone()).expect("engine");
    let r = engine
        .step_result(&d, &host("n1"), "g", 1)
        .await
        .expect("result kept");
    assert_eq!(r.structured_result, Some(serde_json::json!({"pw": marker})));
    assert!(r.stdout_tail.contains(marker));
    let again = engine
        .agent_credentials(&d, &host("n1"))
        .await
        .expect("creds");
    assert_eq!(again.token.expose(), token);
    server.stop().await;
}

#[tokio::test]
async fn a_host_is_failed_by_status_by_silence_and_by_checks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path(), Duration::from_secs(4)).await;
    let engine = EngineClient::new(&server.url, server.engine_token.clone()).expect("engine");
    let d = DeploymentId::new_v4();
    let quiet = agent_for(&engine, &server.url, &d, "quiet").await;
    let sick = agent_for(&engine, &server.url, &d, "sick").await;
    let fine = agent_for(&engine, &server.url, &d, "fine").await;
    for a in [&quiet, &sick, &fine] {
        a.register(&RegisterRequest {
            version: "t".into(),
            hostname: "m".into(),
            unexpected_restart: None,
        })
        .await
        .expect("register");
    }
    sick.heartbeat(&Heartbeat {
        status: Status::Failed,
        reason: Some("disk full".into()),
    })
    .await
    .expect("heartbeat");
    let v = sick.work(-1, Duration::ZERO).await.expect("work");
    assert!(v.checks.is_empty());
    let h = engine.host(&d, &host("sick")).await.expect("host");
    assert!(
        h.failed.as_deref().unwrap_or("").contains("disk full"),
        "{h:?}"
    );

    // `fine` keeps beating; `quiet` says nothing: only `quiet` fails after the timeout.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        fine.heartbeat(&Heartbeat {
            status: Status::Ok,
            reason: None,
        })
        .await
        .expect("heartbeat");
        let q = engine.host(&d, &host("quiet")).await.expect("host");
        let f = engine.host(&d, &host("fine")).await.expect("host");
        assert!(f.failed.is_none(), "{f:?}");
        if let Some(reason) = q.failed {
            assert!(reason.contains("heartbeat"), "{reason}");
            break;
        }
        assert!(Instant::now() < deadline, "quiet host never marked failed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A check that never reports healthy fails the host that beats on.
    engine
        .put_checks(
            &d,
            "health",
            &CheckSetSpec {
                hosts: vec![host("fine")],
                checks: vec![Check {
                    check: CheckKind::Port {
                        host: "127.0.0.1".into(),
                        port: 1,
                    },
                    period_ms: 1000,
                }],
            },
        )
        .await
        .expect("checks");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        fine.heartbeat(&Heartbeat {
            status: Status::Ok,
            reason: None,
        })
        .await
        .expect("heartbeat");
        fine.report_check(&CheckReport {
            set: "health".into(),
            revision: 0,
            index: 0,
            healthy: false,
            message: "connection refused".into(),
        })
        .await
        .expect("check report");
        if let Some(reason) = engine.host(&d, &host("fine")).await.expect("host").failed {
            assert!(reason.contains("check 0 of `health`"), "{reason}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "unhealthy host never marked failed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    server.stop().await;
}

#[tokio::test]
async fn bad_bodies_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path(), Duration::from_secs(300)).await;
    let d = DeploymentId::new_v4();
    let http = reqwest::Client::new();
    let url = format!("{}/config/v1/deployments/{d}/groups/g", server.url);
    let token = server.engine_token.expose().to_owned();
    for body in [
        serde_json::json!({"hosts": [], "steps": []}),
        serde_json::json!({"hosts": ["a"], "steps": [{"index": 1, "type": "bash", "content": "x", "optionz": {}}]}),
        serde_json::json!({"hosts": ["../x"], "steps": [{"index": 1, "type": "bash", "content": "x"}]}),
        serde_json::json!({"hosts": ["a"], "steps": [{"index": 1, "type": "bash", "content": "x"}, {"index": 1, "type": "bash", "content": "y"}]}),
    ] {
        let r = http
            .put(&url)
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .expect("send");
        assert!(r.status().is_client_error(), "{body} → {}", r.status());
    }
    let r = http
        .put(format!("{}/config/v1/deployments/not-a-uuid/groups/g", server.url))
        .bearer_auth(&token)
        .json(&serde_json::json!({"hosts": ["a"], "steps": [{"index": 1, "type": "bash", "content": "x"}]}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 400);
    server.stop().await;
}

#[tokio::test]
async fn every_endpoint_refuses_callers_without_the_right_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path(), Duration::from_secs(300)).await;
    let engine = EngineClient::new(&server.url, server.engine_token.clone()).expect("engine");
    let d = DeploymentId::new_v4();
    let agent_token = engine
        .agent_credentials(&d, &host("n1"))
        .await
        .expect("creds")
        .token;
    let base = format!("/config/v1/deployments/{d}");
    let engine_paths = [
        ("PUT", format!("{base}/hosts/n1/agent")),
        ("GET", format!("{base}/hosts/n1")),
        ("PUT", format!("{base}/groups/g")),
        ("DELETE", format!("{base}/groups/g")),
        ("GET", format!("{base}/groups/g/results")),
        ("GET", format!("{base}/hosts/n1/groups/g/steps/1")),
        ("PUT", format!("{base}/checks/c")),
        ("DELETE", format!("{base}/checks/c")),
        ("GET", format!("{base}/checks/c/results")),
    ];
    let agent_paths = [
        ("POST", "/agent/v1/register".to_owned()),
        ("POST", "/agent/v1/heartbeat".to_owned()),
        ("GET", "/agent/v1/work".to_owned()),
        ("POST", "/agent/v1/results".to_owned()),
        ("POST", "/agent/v1/checks".to_owned()),
        ("GET", "/agent/v1/download".to_owned()),
    ];
    let http = reqwest::Client::new();
    let call = |method: &str, path: &str, token: Option<&str>| {
        let mut req = http
            .request(
                method.parse().expect("method"),
                format!("{}{path}", server.url),
            )
            .header("content-type", "application/json")
            .body("{}");
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    let mut checked = 0;
    for (method, path) in engine_paths.iter().chain(agent_paths.iter()) {
        for token in [None, Some("vte_not-a-token"), Some("vta_not-a-token")] {
            let r = call(method, path, token).await.expect("send");
            assert_eq!(r.status(), 401, "{method} {path} with {token:?}");
            checked += 1;
        }
    }
    // The other side's valid token is refused too.
    for (method, path) in &engine_paths {
        let r = call(method, path, Some(agent_token.expose()))
            .await
            .expect("send");
        assert_eq!(r.status(), 401, "{method} {path} with an agent token");
    }
    for (method, path) in &agent_paths {
        let r = call(method, path, Some(server.engine_token.expose()))
            .await
            .expect("send");
        assert_eq!(r.status(), 401, "{method} {path} with the engine token");
    }
    assert_eq!(checked, 45);
    server.stop().await;
}
