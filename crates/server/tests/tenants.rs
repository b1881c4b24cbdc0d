//! Tenants and access against a real server with its built-in cloud: vendors and service tokens,
//! consumer projects with a `localcloud` project (created through Keystone's admin API) or an
//! external cloud from clouds.yaml, Keystone tokens accepted for a project, broker accounts, and
//! the caller contexts as axum extractors over loopback HTTP.

use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use vitrina_server::tenants::{
    BrokerCtx, Namespace, NewCloud, NewProject, ProjectCtx, Tenants, VendorCtx,
};
use vitrina_server::{Server, ServerConfig};

async fn start(dir: &std::path::Path) -> Server {
    let mut cfg = ServerConfig::new("127.0.0.1:0".parse().expect("addr"), dir);
    cfg.cloud = true;
    // No network namespaces needed here: this test creates no servers.
    cfg.cloud_network = vitrina_localcloud::NetworkSetting::Shared;
    Server::start(cfg).await.expect("server starts")
}

async fn keystone_login(auth_url: &str, user: &str, password: &str, project: &str) -> String {
    let body = serde_json::json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": {"name": "Default"}, "password": password}}},
        "scope": {"project": {"id": project}}}});
    let r = reqwest::Client::new()
        .post(format!("{auth_url}/auth/tokens"))
        .json(&body)
        .send()
        .await
        .expect("keystone answers");
    assert_eq!(r.status(), 201, "login as {user}");
    r.headers()
        .get("x-subject-token")
        .and_then(|v| v.to_str().ok())
        .expect("token header")
        .to_owned()
}

#[tokio::test]
async fn vendors_projects_and_broker_accounts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path()).await;
    let t = server.tenants.clone();

    // Vendors: idempotent by name; a token finds its vendor, others are 401.
    let v = t.ensure_vendor("acme").await.expect("vendor");
    assert_eq!(t.ensure_vendor("acme").await.expect("again").id, v.id);
    let tok = t.issue_vendor_token(&v).await.expect("token");
    let ctx = t.vendor_by_token(tok.expose()).await.expect("vendor ctx");
    assert_eq!((ctx.id(), ctx.name()), (v.id.as_str(), "acme"));
    let e = t.vendor_by_token("vts_nope").await.expect_err("unknown");
    assert_eq!(e.status(), 401);
    assert!(t.ensure_vendor("bad name").await.is_err());

    // A consumer project with a fresh localcloud project behind it.
    let p = t
        .ensure_project(&NewProject {
            name: "shop".into(),
            email: "shop@example.com".into(),
            cloud: NewCloud::Local,
        })
        .await
        .expect("project");
    assert_eq!(p.cloud_kind, "localcloud");
    let again = t
        .ensure_project(&NewProject {
            name: "shop".into(),
            email: "other@example.com".into(),
            cloud: NewCloud::Local,
        })
        .await
        .expect("same project");
    assert_eq!(again.id, p.id);
    let ptok = t.issue_project_token(&p).await.expect("project token");
    let pctx = t.project_by_token(ptok.expose()).await.expect("ctx");
    assert_eq!(
        (pctx.id(), pctx.name(), pctx.email()),
        (p.id.as_str(), "shop", "shop@example.com")
    );
    let creds = t.project_cloud(&pctx).await.expect("cloud creds");
    assert_eq!(creds.project_id, p.cloud_project_id);
    assert!(creds.auth_url.starts_with(&server.url));
    // The credentials work in the built-in cloud, and that cloud's token opens the project.
    let ks = keystone_login(
        &creds.auth_url,
        &creds.username,
        creds.password.expose(),
        creds.project_id.as_deref().expect("project id"),
    )
    .await;
    let by_keystone = t
        .project_by_token(&ks)
        .await
        .expect("keystone token accepted");
    assert_eq!(by_keystone, pctx);
    // The demo project's own token is scoped to a project no consumer project has: 401.
    let lc = server.cloud.as_ref().expect("cloud").credentials();
    let demo = &lc.projects["demo"];
    let other = keystone_login(&lc.auth_url, &demo.username, &demo.password, &demo.id).await;
    assert_eq!(
        t.project_by_token(&other)
            .await
            .expect_err("foreign")
            .status(),
        401
    );
    // The context of a recorded project, for a background job.
    assert_eq!(t.project_ctx_for_job(&p.id).await.expect("job ctx"), pctx);

    // An external cloud from a clouds.yaml.
    let yaml = dir.path().join("ext-clouds.yaml");
    std::fs::write(
        &yaml,
        "clouds:\n  far:\n    auth:\n      auth_url: https://cloud.example.com:5000/v3\n      username: bob\n      password: s3cret-ext-pw\n      project_name: bobs\n      user_domain_name: Default\n      project_domain_name: Default\n    region_name: RegionTwo\n",
    )
    .expect("write clouds.yaml");
    let ext = t
        .ensure_project(&NewProject {
            name: "far".into(),
            email: "far@example.com".into(),
            cloud: NewCloud::CloudsYaml {
                path: yaml.clone(),
                cloud: "far".into(),
            },
        })
        .await
        .expect("external project");
    assert_eq!(ext.cloud_kind, "external");
    let ectx = t.project_ctx_for_job(&ext.id).await.expect("ctx");
    let ec = t.project_cloud(&ectx).await.expect("creds");
    assert_eq!(ec.username, "bob");
    assert_eq!(ec.password.expose(), "s3cret-ext-pw");
    assert_eq!(ec.project_name.as_deref(), Some("bobs"));
    assert_eq!(ec.region.as_deref(), Some("RegionTwo"));
    assert!(!format!("{ec:?}").contains("s3cret-ext-pw"));
    let missing = t
        .ensure_project(&NewProject {
            name: "nope".into(),
            email: "n@example.com".into(),
            cloud: NewCloud::CloudsYaml {
                path: yaml,
                cloud: "absent".into(),
            },
        })
        .await
        .expect_err("unknown cloud");
    assert_eq!(missing.status(), 400);

    // Broker accounts: bound to one namespace; a new password replaces the old one.
    let pw = t
        .put_broker_account("osb-test", Namespace::Test)
        .await
        .expect("account");
    let b = t
        .broker_login("osb-test", pw.expose())
        .await
        .expect("login");
    assert_eq!(b.namespace(), Namespace::Test);
    assert_eq!(b.username(), "osb-test");
    assert!(t.broker_login("osb-test", "wrong").await.is_err());
    let pw2 = t
        .put_broker_account("osb-test", Namespace::Public)
        .await
        .expect("new password");
    assert!(t.broker_login("osb-test", pw.expose()).await.is_err());
    assert_eq!(
        t.broker_login("osb-test", pw2.expose())
            .await
            .expect("login")
            .namespace(),
        Namespace::Public
    );

    // Sealed settings.
    t.set_setting("x", &serde_json::json!({"k": "v-secret-setting"}))
        .await
        .expect("set");
    let got: Option<serde_json::Value> = t.setting("x").await.expect("get");
    assert_eq!(got, Some(serde_json::json!({"k": "v-secret-setting"})));

    // Nothing secret is stored in plain text.
    server.stop().await;
    let db = std::fs::read(dir.path().join("vitrina.db")).expect("db");
    let wal = std::fs::read(dir.path().join("vitrina.db-wal")).unwrap_or_default();
    for secret in [
        tok.expose(),
        ptok.expose(),
        pw2.expose(),
        creds.password.expose(),
        "s3cret-ext-pw",
        "v-secret-setting",
    ] {
        for bytes in [&db, &wal] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "a secret is stored in plain text"
            );
        }
    }
}

async fn whoami_vendor(v: VendorCtx) -> String {
    format!("vendor {}", v.name())
}
async fn whoami_project(p: ProjectCtx) -> String {
    format!("project {}", p.name())
}
async fn whoami_broker(b: BrokerCtx) -> String {
    format!("broker {} {}", b.username(), b.namespace())
}

#[tokio::test]
async fn contexts_are_extracted_from_headers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path()).await;
    let t: Arc<Tenants> = server.tenants.clone();
    let v = t.ensure_vendor("acme").await.expect("vendor");
    let vt = t.issue_vendor_token(&v).await.expect("token");
    let p = t
        .ensure_project(&NewProject {
            name: "shop".into(),
            email: "shop@example.com".into(),
            cloud: NewCloud::Local,
        })
        .await
        .expect("project");
    let pt = t.issue_project_token(&p).await.expect("token");
    let bp = t
        .put_broker_account("osb", Namespace::Public)
        .await
        .expect("account");

    let app = Router::new()
        .route("/v", get(whoami_vendor))
        .route("/p", get(whoami_project))
        .route("/b", get(whoami_broker))
        .with_state(t.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let task = tokio::spawn(async move { axum::serve(listener, app).await });
    let c = reqwest::Client::new();

    let r = c
        .get(format!("{url}/v"))
        .header("x-service-token", vt.expose())
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.expect("body"), "vendor acme");
    // The project's token is not a vendor's.
    let r = c
        .get(format!("{url}/v"))
        .header("x-service-token", pt.expose())
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 401);
    let r = c.get(format!("{url}/v")).send().await.expect("send");
    assert_eq!(r.status(), 401);

    let r = c
        .get(format!("{url}/p"))
        .header("x-auth-token", pt.expose())
        .send()
        .await
        .expect("send");
    assert_eq!(r.text().await.expect("body"), "project shop");
    let r = c
        .get(format!("{url}/p"))
        .header("x-auth-token", vt.expose())
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 401);

    let r = c
        .get(format!("{url}/b"))
        .basic_auth("osb", Some(bp.expose()))
        .send()
        .await
        .expect("send");
    assert_eq!(r.text().await.expect("body"), "broker osb public");
    let r = c
        .get(format!("{url}/b"))
        .basic_auth("osb", Some("nope"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 401);

    task.abort();
    server.stop().await;
}
