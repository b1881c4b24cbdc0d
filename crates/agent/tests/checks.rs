//! `port_health`, `http_health` and `script_health`, run by the real agent every `period`.

mod common;

use std::time::{Duration, Instant};

use common::*;
use vitrina_agent_api::wire::*;
use vitrina_common::Secret;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_report_healthy_and_unhealthy() {
    let h = Harness::start().await;
    let agent = h.agent("n1").await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
    let open_port = listener.local_addr().expect("addr").port();
    let closed_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
        l.local_addr().expect("addr").port()
    };
    let check = |kind: CheckKind| Check {
        check: kind,
        period_ms: 1000,
    };
    let server_port: u16 = h
        .url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    h.engine
        .put_checks(
            &h.d,
            "good",
            &CheckSetSpec {
                hosts: vec![host("n1")],
                checks: vec![
                    check(CheckKind::Port {
                        host: "127.0.0.1".into(),
                        port: open_port,
                    }),
                    check(CheckKind::Http {
                        protocol: "http".into(),
                        method: "GET".into(),
                        host: "127.0.0.1".into(),
                        path: Some("healthz".into()),
                        port: Some(server_port),
                        http_codes: vec![200],
                        url: None,
                    }),
                    check(CheckKind::Script {
                        kind: ScriptType::Bash,
                        script: Secret::new("test -d /"),
                        options: StepOptions::default(),
                    }),
                ],
            },
        )
        .await
        .expect("good checks");
    h.engine
        .put_checks(
            &h.d,
            "bad",
            &CheckSetSpec {
                hosts: vec![host("n1")],
                checks: vec![
                    check(CheckKind::Port {
                        host: "127.0.0.1".into(),
                        port: closed_port,
                    }),
                    check(CheckKind::Http {
                        protocol: "http".into(),
                        method: "GET".into(),
                        host: "ignored".into(),
                        path: None,
                        port: None,
                        http_codes: vec![204],
                        url: Some(format!("{}/healthz", h.url)),
                    }),
                ],
            },
        )
        .await
        .expect("bad checks");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let good = h.engine.check_results(&h.d, "good").await.expect("good");
        let bad = h.engine.check_results(&h.d, "bad").await.expect("bad");
        let bad_reported = bad.hosts[0].checks.len() == 2;
        if good.hosts[0].healthy && bad_reported {
            assert!(!bad.hosts[0].healthy);
            assert!(bad.hosts[0].checks.iter().all(|c| !c.healthy), "{bad:#?}");
            assert!(bad.hosts[0].checks[1].message.contains("200"), "{bad:#?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "checks did not report: {good:#?} {bad:#?}\n{}",
            agent.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Reports keep coming every period.
    let first = h
        .engine
        .check_results(&h.d, "good")
        .await
        .expect("good")
        .hosts[0]
        .checks[0]
        .updated_at;
    wait_for_async(|| async {
        h.engine
            .check_results(&h.d, "good")
            .await
            .expect("good")
            .hosts[0]
            .checks[0]
            .updated_at
            > first
    })
    .await;
    drop(listener);
    h.stop().await;
}

async fn wait_for_async<F, Fut>(mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    while !f().await {
        assert!(Instant::now() < deadline, "timed out");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
