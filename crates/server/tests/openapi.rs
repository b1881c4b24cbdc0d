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
        .replace("{fqdn}", "www.example.com")
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

/// Every `.route(path, method(handler)…)` of a source file: `(path, method)` pairs, with
/// `{PREFIX}` in a `format!` path expanded and `nest` given as `prefix`.
fn routes_in(file: &str, prefix: &str) -> Vec<(String, String)> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(found) = text[at..].find(".route(") {
        // Walk the call's arguments: the first string literal is the path, identifiers called
        // at the arguments' own level are the methods.
        let mut i = at + found + ".route(".len();
        let mut depth = 1;
        let mut route_path: Option<String> = None;
        let mut ident = String::new();
        let mut methods = Vec::new();
        while i < b.len() && depth > 0 {
            match b[i] {
                b'"' => {
                    let from = i + 1;
                    i = from;
                    while i < b.len() && b[i] != b'"' {
                        i += 1;
                    }
                    if route_path.is_none() {
                        route_path = Some(text[from..i].to_owned());
                    }
                    ident.clear();
                }
                b'(' => {
                    if depth == 1
                        && matches!(ident.as_str(), "get" | "post" | "put" | "delete" | "patch")
                    {
                        methods.push(ident.clone());
                    }
                    depth += 1;
                    ident.clear();
                }
                b')' => {
                    depth -= 1;
                    ident.clear();
                }
                c if c.is_ascii_alphanumeric() || c == b'_' => ident.push(char::from(c)),
                _ => ident.clear(),
            }
            i += 1;
        }
        let p = route_path.unwrap_or_else(|| panic!("{file}: a route without a path literal"));
        let p = p.replace("{PREFIX}", vitrina_server::hoe::http::PREFIX);
        assert!(!methods.is_empty(), "{file}: no method found for {p}");
        for m in methods {
            out.push((format!("{prefix}{p}"), m));
        }
        at = i;
    }
    out
}

/// `/a/{x}/b` and `/a/{y}/b` are the same route.
fn shape(path: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for c in path.chars() {
        match c {
            '{' => {
                inside = true;
                out.push_str("{}");
            }
            '}' => inside = false,
            c if !inside => out.push(c),
            _ => {}
        }
    }
    out
}

#[test]
fn every_json_route_is_documented() {
    let prefix = vitrina_server::hoe::http::PREFIX;
    let mut routes = Vec::new();
    for (file, nest) in [
        ("src/lib.rs", ""),
        ("src/http.rs", ""),
        ("src/services.rs", ""),
        ("src/metrics_intake.rs", ""),
        ("src/products_http.rs", ""),
        ("src/osb/http.rs", ""),
        ("src/hoe/http.rs", prefix),
        ("src/sdf.rs", ""),
        ("src/sdf_deploy.rs", ""),
    ] {
        routes.extend(routes_in(file, nest));
    }
    // Pages, not JSON.
    routes.retain(|(p, _)| p != "/about");
    assert!(routes.len() >= 40, "only {} routes found", routes.len());
    let doc = vitrina_server::openapi::document();
    let paths = doc["paths"].as_object().expect("paths");
    let documented: std::collections::BTreeSet<(String, String)> = paths
        .iter()
        .flat_map(|(p, ops)| {
            ops.as_object()
                .expect("operations")
                .keys()
                .map(move |m| (shape(p), m.clone()))
        })
        .collect();
    let missing: Vec<String> = routes
        .iter()
        .filter(|(p, m)| !documented.contains(&(shape(p), m.clone())))
        .map(|(p, m)| format!("{} {p}", m.to_uppercase()))
        .collect();
    assert!(
        missing.is_empty(),
        "routes missing from the OpenAPI document: {missing:#?}"
    );
    for p in [
        format!("{prefix}/hoe/object/{{uuid}}/plan"),
        format!("{prefix}/logs/instance/{{uuid}}"),
    ] {
        assert!(paths.contains_key(&p), "{p}");
    }
}
