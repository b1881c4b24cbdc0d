//! Random request bodies to localcloud's API (every create/update/action endpoint): the answer is
//! never a 5xx and the server never panics.
#![no_main]

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::Request;
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt as _;

struct Ctx {
    rt: tokio::runtime::Runtime,
    router: axum::Router,
    token: String,
    project: String,
    _dir: tempfile::TempDir,
}

fn ctx() -> &'static Ctx {
    static CTX: OnceLock<Ctx> = OnceLock::new();
    CTX.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let dir = tempfile::tempdir().expect("temp dir");
        let (router, token, project) = rt.block_on(async {
            // The shared network: fuzzing must not leave namespaces behind on the machine.
            let mut config = vitrina_localcloud::Config::new(dir.path(), "http://127.0.0.1:1");
            config.network = vitrina_localcloud::NetworkSetting::Shared;
            let cloud = vitrina_localcloud::LocalCloud::open(config).await.expect("open");
            let creds = cloud.credentials();
            let demo = creds.projects["demo"].clone();
            let router = cloud.router();
            let body = serde_json::json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": demo.username, "domain": {"id": "default"}, "password": demo.password}}}}});
            let resp = router
                .clone()
                .oneshot(Request::post("/identity/v3/auth/tokens").header("content-type", "application/json").body(Body::from(body.to_string())).expect("request"))
                .await
                .expect("auth");
            let token = resp.headers()["x-subject-token"].to_str().expect("token").to_owned();
            (router, token, demo.id)
        });
        Ctx { rt, router, token, project, _dir: dir }
    })
}

const ENDPOINTS: &[(&str, &str)] = &[
    ("POST", "/identity/v3/auth/tokens"),
    ("POST", "/compute/v2.1/servers"),
    (
        "POST",
        "/compute/v2.1/servers/00000000-0000-0000-0000-000000000000/action",
    ),
    ("POST", "/compute/v2.1/os-keypairs"),
    ("POST", "/networking/v2.0/networks"),
    ("POST", "/networking/v2.0/subnets"),
    ("POST", "/networking/v2.0/ports"),
    ("POST", "/networking/v2.0/security-groups"),
    ("POST", "/networking/v2.0/security-group-rules"),
    ("POST", "/networking/v2.0/routers"),
    ("POST", "/networking/v2.0/floatingips"),
    ("POST", "/volume/v3/{project}/volumes"),
    ("POST", "/image/v2/images"),
    (
        "PATCH",
        "/image/v2/images/00000000-0000-0000-0000-000000000000",
    ),
    ("POST", "/volume/v3/{project}/snapshots"),
    (
        "PUT",
        "/volume/v3/{project}/snapshots/00000000-0000-0000-0000-000000000000",
    ),
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let c = ctx();
    let (method, path) = ENDPOINTS[usize::from(selector) % ENDPOINTS.len()];
    let path = path.replace("{project}", &c.project);
    let req = Request::builder()
        .method(method)
        .uri(path.as_str())
        .header("x-auth-token", &c.token)
        .header(
            "content-type",
            if method == "PATCH" {
                "application/openstack-images-v2.1-json-patch"
            } else {
                "application/json"
            },
        )
        .body(Body::from(body.to_vec()))
        .expect("request");
    let status =
        c.rt.block_on(c.router.clone().oneshot(req))
            .expect("infallible")
            .status();
    assert!(
        !status.is_server_error(),
        "{method} {path}: {status} for body {:?}",
        String::from_utf8_lossy(body)
    );
});
