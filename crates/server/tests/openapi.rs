//! The OpenAPI document: served at `/api/openapi.json`, committed as `docs/openapi.json` (this
//! test fails when it is stale; `UPDATE_OPENAPI=1` rewrites it), and every operation that needs
//! credentials answers 401 without them. `/metrics` carries HTTP latency by route.

use std::path::PathBuf;

use vitrina_server::{Server, ServerConfig};

fn committed() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json")
}

#[test]
fn committed_document_is_fresh() {
    let text = vitrina_server::openapi::document_text();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(committed(), &text).expect("write docs/openapi.json");
    }
    let on_disk = std::fs::read_to_string(committed()).unwrap_or_default();
    assert!(
        on_disk == text,
        "docs/openapi.json is stale: run `UPDATE_OPENAPI=1 cargo test -p vitrina-server --test openapi`"
    );
}

fn fill(path: &str) -> String {
    path.replace("{d}", "7c9e6679-7425-40de-944b-e07fc1f90ae7")
        .replace("{uuid}", "7c9e6679-7425-40de-944b-e07fc1f90ae7")
        .replace("{h}", "h1")
        .replace("{name}", "g")
        .replace("{index}", "0")
        .replace("{instance_id}", "i1")
        .replace("{binding_id}", "b1")
}

#[tokio::test]
async fn served_and_every_secured_operation_refuses_anonymous_callers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(ServerConfig::new(
        "127.0.0.1:0".parse().expect("addr"),
        dir.path(),
    ))
    .await
    .expect("server starts");
    let c = reqwest::Client::new();
    let served: serde_json::Value = c
        .get(format!("{}/api/openapi.json", server.url))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(served, vitrina_server::openapi::document());
    let paths = served["paths"].as_object().expect("paths");
    let mut checked = 0;
    let mut ids = std::collections::BTreeSet::new();
    for (path, ops) in paths {
        for (method, op) in ops.as_object().expect("ops") {
            let id = op["operationId"].as_str().expect("operationId");
            assert!(ids.insert(id.to_owned()), "operationId {id} twice");
            if op.get("security").is_none() {
                continue;
            }
            let url = format!("{}{}", server.url, fill(path));
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let r = c
                .request(m, &url)
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .expect("send");
            assert_eq!(r.status(), 401, "{method} {path} without credentials");
            checked += 1;
        }
    }
    assert!(checked >= 15, "only {checked} secured operations");

    // HTTP latency by route.
    let _ = c.get(format!("{}/healthz", server.url)).send().await;
    let text = c
        .get(format!("{}/metrics", server.url))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        text.contains(
            "vitrina_http_request_duration_seconds_bucket{route=\"/healthz\",method=\"GET\",status=\"2xx\",le=\"+Inf\"}"
        ),
        "{text}"
    );
    assert!(text.contains("route=\"/marketplace/api/infra-api/api/v1-public/product\""));
    server.stop().await;
}
