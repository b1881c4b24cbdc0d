//! The same migrations and queries on PostgreSQL: a throw-away cluster on 127.0.0.1 (initdb +
//! postgres as the `postgres` user), the schema compared column by column with SQLite's, and the
//! config service's round trip through it.

use std::time::{Duration, Instant};

use vitrina_agent_api::wire::*;
use vitrina_agent_api::{AgentClient, EngineClient};
use vitrina_common::{DeploymentId, Secret};
use vitrina_server::{Server, ServerConfig, Store};

mod pg_common;
use pg_common::start_postgres;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_give_the_same_schema_and_the_service_works_on_postgres() {
    let pg = start_postgres();
    // PostgreSQL may accept connections a moment before it accepts logins.
    let deadline = Instant::now() + Duration::from_secs(60);
    let store = loop {
        match Store::open(&pg.url).await {
            Ok(s) => break s,
            Err(e) => {
                assert!(Instant::now() < deadline, "cannot open the store: {e:?}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite = Store::open(&format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("s.db").display()
    ))
    .await
    .expect("sqlite");
    assert_eq!(
        store.schema_columns().await.expect("pg columns"),
        sqlite.schema_columns().await.expect("sqlite columns")
    );
    let all: Vec<i64> = vitrina_server::store::MIGRATIONS
        .iter()
        .map(|m| m.0)
        .collect();
    assert_eq!(store.applied_migrations().await.expect("pg"), all);
    // Opening again applies nothing twice.
    Store::open(&pg.url).await.expect("reopen");
    store.close().await;
    sqlite.close().await;

    let mut cfg = ServerConfig::new(
        "127.0.0.1:0".parse().expect("addr"),
        dir.path().join("server"),
    );
    cfg.database_url = Some(pg.url.clone());
    let server = Server::start(cfg).await.expect("server on postgres");
    let engine = EngineClient::new(&server.url, server.engine_token.clone()).expect("engine");
    let d = DeploymentId::new_v4();
    let host = "n1".parse().expect("host");
    let creds = engine.agent_credentials(&d, &host).await.expect("creds");
    let agent = AgentClient::new(&server.url, creds.token).expect("agent");
    let step = Step {
        index: 1,
        kind: ScriptType::Bash,
        content: Secret::new("true"),
        options: StepOptions::default(),
    };
    let v = engine
        .put_group(
            &d,
            "g",
            &ExecGroupSpec {
                hosts: vec![host.clone()],
                steps: vec![step.clone()],
            },
        )
        .await
        .expect("put group");
    let work = agent.work(-1, Duration::ZERO).await.expect("work");
    assert_eq!(work.groups.len(), 1);
    agent
        .report_step(&StepReport {
            group: "g".into(),
            revision: v.revision,
            index: 1,
            hash: step.hash(),
            status: Status::Ok,
            exit_code: Some(0),
            attempt: 1,
            stdout_tail: "ok".into(),
            stderr_tail: String::new(),
            structured_result: Some(serde_json::json!({"a": 1})),
            message: None,
        })
        .await
        .expect("report");
    let r = engine.group_results(&d, "g").await.expect("results");
    assert_eq!(r.hosts[0].status, Status::Ok);
    let res = engine
        .step_result(&d, &host, "g", 1)
        .await
        .expect("step result");
    assert_eq!(res.structured_result, Some(serde_json::json!({"a": 1})));

    // Tenants and products on PostgreSQL: a vendor uploads, publishes and archives; a broker
    // account logs in; another vendor finds nothing of the first one's.
    use vitrina_server::tenants::Namespace;
    let t = &server.tenants;
    let v = t.ensure_vendor("pg-vendor").await.expect("vendor");
    let tok = t.issue_vendor_token(&v).await.expect("token");
    let ctx = t.vendor_by_token(tok.expose()).await.expect("ctx");
    let pw = t
        .put_broker_account("pg-broker", Namespace::Public)
        .await
        .expect("broker");
    assert_eq!(
        t.broker_login("pg-broker", pw.expose())
            .await
            .expect("login")
            .namespace(),
        Namespace::Public
    );
    let pkg =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/packages/hello_web");
    let files = vitrina_package::read_package(&pkg).expect("read");
    let zip = dir.path().join("hello.zip");
    vitrina_package::pack::pack(&pkg, &files, &zip).expect("pack");
    let bytes = std::fs::read(&zip).expect("zip");
    let rev = server
        .products
        .upload(&ctx, bytes.clone())
        .await
        .expect("upload");
    assert!(matches!(
        server.products.upload(&ctx, bytes).await,
        Err(vitrina_server::products::UploadError::Server(
            vitrina_server::ServerError::Conflict(_)
        ))
    ));
    server
        .products
        .publish(&ctx, &rev.service_id, &rev.revision)
        .await
        .expect("publish");
    let public = server
        .products
        .catalog(Namespace::Public)
        .await
        .expect("catalog");
    assert_eq!(public.len(), 1);
    let other = t.ensure_vendor("pg-other").await.expect("vendor");
    let otok = t.issue_vendor_token(&other).await.expect("token");
    let octx = t.vendor_by_token(otok.expose()).await.expect("ctx");
    assert!(server
        .products
        .archive(&octx, &[(rev.service_id.clone(), rev.revision.clone())])
        .await
        .is_err());
    server
        .products
        .archive(&ctx, &[(rev.service_id.clone(), rev.revision.clone())])
        .await
        .expect("archive");
    assert!(server
        .products
        .catalog(Namespace::Test)
        .await
        .expect("catalog")
        .is_empty());
    server.stop().await;
}
