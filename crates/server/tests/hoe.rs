//! The deployment system on VK's paths over loopback HTTP, deploying to the built-in cloud: the
//! seed's `curl` examples (§2.6.4) with their status codes and shapes, outputs masked unless
//! asked for (and each reveal audited), updates that change only what changed, plan previews,
//! logs, deletion leaving nothing behind, `retry: no`, and project isolation.

mod hoe_common;

use std::time::Duration;

use hoe_common::*;
use reqwest::Method;
use serde_json::{json, Value};

const DEADLINE: Duration = Duration::from_secs(120);

fn has_vk_shape(v: &Value) {
    for field in [
        "uuid",
        "target_status",
        "vars",
        "out",
        "status",
        "conf_name",
        "conf_hash",
        "pid",
        "create_at",
        "update_at",
        "full_deployed",
        "attempts",
        "max_attempts",
    ] {
        assert!(v.get(field).is_some(), "no `{field}` in {v}");
    }
    assert!(v["out"].is_string(), "`out` is a JSON string: {v}");
    assert!(v["vars"].is_object(), "{v}");
    assert!(v["full_deployed"].is_boolean(), "{v}");
    assert_eq!(v["max_attempts"], 15, "{v}");
    assert_eq!(v["conf_hash"].as_str().map(str::len), Some(32), "{v}");
    assert!(
        v["create_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z') && t.contains('T')),
        "{v}"
    );
}

fn out_of(v: &Value) -> Value {
    serde_json::from_str(v["out"].as_str().expect("out")).expect("out is JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn seed_examples_outputs_updates_logs_and_deletion() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path()).await;
    let (project, token) = project(&server, "alpha").await;
    let api = Api::new(&server.url, &token);

    // §2.6.4.1: upload (201), upload again (a new version, 201), no token (401), bad HCL (400).
    let (code, body) = api.put_config("test_1.0", MANIFEST).await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(body["version"], 1);
    let (code, body) = api.put_config("test_1.0", MANIFEST).await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(body["version"], 2);
    let (code, body) = api
        .put_config(
            "broken",
            "resource \"vkcs_networking_network\" \"n\" {\n  name = \n}\n",
        )
        .await;
    assert_eq!(code, 400, "{body}");
    let diags = body["diagnostics"].as_array().expect("diagnostics");
    assert!(!diags.is_empty());
    assert_eq!(diags[0]["file"], "main.tf", "{body}");
    assert!(diags[0]["line"].as_u64().is_some(), "{body}");
    let (code, _) = Api::new(&server.url, "vtp_not-a-token")
        .put_config("test_1.0", MANIFEST)
        .await;
    assert_eq!(code, 401);

    // §2.6.4.2: the current text; 404 for an unknown name (also on the seed's `hoec` spelling).
    let (code, text) = api.call(Method::GET, "/hoec/config/test_1.0", None).await;
    assert_eq!(code, 200);
    assert_eq!(text.as_str(), Some(MANIFEST));
    let (code, _) = api.call(Method::GET, "/hoe/config/nope", None).await;
    assert_eq!(code, 404);

    // §2.6.4.3: create. Bad uuid, unknown config, undeclared variable: 400/404/400.
    let uuid = "675f6f08-2344-4cf4-a7f4-f02311f795d7";
    let (code, _) = api
        .create("not-a-uuid", "test_1.0", json!({"label": "a"}))
        .await;
    assert_eq!(code, 400);
    let (code, _) = api.create(uuid, "nope", json!({"label": "a"})).await;
    assert_eq!(code, 404);
    let (code, body) = api
        .create(uuid, "test_1.0", json!({"label": "a", "sub_network": "x"}))
        .await;
    assert_eq!(code, 400, "{body}");
    let (code, body) = api.create(uuid, "test_1.0", json!({})).await;
    assert_eq!(code, 400, "a variable without default and value: {body}");
    let (code, body) = api.create(uuid, "test_1.0", json!({"label": "a"})).await;
    assert_eq!(code, 201, "{body}");
    has_vk_shape(&body);
    assert_eq!(body["target_status"], "running");
    assert_eq!(body["config"], "test_1.0");
    assert_eq!(body["config_version"], 2);
    let (code, _) = api.create(uuid, "test_1.0", json!({"label": "a"})).await;
    assert_eq!(code, 409, "the uuid exists");

    // §2.6.4.5: status until running; outputs masked.
    let v = api.wait_status(uuid, "running", DEADLINE).await;
    has_vk_shape(&v);
    assert_eq!(v["full_deployed"], true);
    assert_eq!(v["conf_name"], "alpha@example.com");
    let out = out_of(&v);
    assert_eq!(out["admin_password"], "<sensitive>", "{out}");
    let network_id = out["network_id"].as_str().expect("network id").to_owned();
    let ctx = ctx_of(&server, &project).await;
    let short = &uuid[..8];
    let expected_a = vec![
        format!("network {short}-net-a"),
        format!("port {short}-port-0"),
        format!("secgroup {short}-sg"),
        format!("subnet {short}-sub"),
    ];
    assert_eq!(cloud_inventory(&server, &ctx).await, expected_a);

    // Revealing sensitive outputs shows them and is audited.
    let (code, shown) = api
        .call(
            Method::GET,
            &format!("/hoe/object/{uuid}?show_sensitive=true"),
            None,
        )
        .await;
    assert_eq!(code, 200);
    let password = out_of(&shown)["admin_password"]
        .as_str()
        .expect("revealed")
        .to_owned();
    assert_eq!(password.len(), 24);
    let audit = server
        .service
        .store
        .hoe_audit_entries(uuid)
        .await
        .expect("audit");
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0].1, "reveal-outputs");

    // A plan preview of an update names exactly what would change, and changes nothing.
    let (code, plan) = api
        .call(
            Method::POST,
            &format!("/hoe/object/{uuid}/plan"),
            Some(json!({"vars": {"label": "b", "port_count": 2}})),
        )
        .await;
    assert_eq!(code, 200, "{plan}");
    let changed: Vec<(String, String)> = plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|c| c["action"] != "no-op")
        .map(|c| {
            (
                c["address"].as_str().unwrap_or_default().to_owned(),
                c["action"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        changed,
        vec![
            (
                "vkcs_networking_network.net".to_owned(),
                "update".to_owned()
            ),
            ("vkcs_networking_port.p[1]".to_owned(), "create".to_owned()),
        ],
        "{plan}"
    );
    assert_eq!(
        plan["summary"],
        json!({"add": 1, "change": 1, "destroy": 0})
    );
    assert_eq!(cloud_inventory(&server, &ctx).await, expected_a);

    // PUT: 202, only the changed resources change (the network keeps its id).
    let (code, body) = api
        .call(
            Method::PUT,
            &format!("/hoe/object/{uuid}"),
            Some(json!({"vars": {"label": "b", "port_count": 2}})),
        )
        .await;
    assert_eq!(code, 202, "{body}");
    assert_eq!(body["status"], "applying");
    let v = api.wait_status(uuid, "running", DEADLINE).await;
    assert_eq!(out_of(&v)["network_id"], network_id.as_str());
    assert_eq!(v["vars"], json!({"label": "b", "port_count": 2}));
    assert_eq!(
        cloud_inventory(&server, &ctx).await,
        vec![
            format!("network {short}-net-b"),
            format!("port {short}-port-0"),
            format!("port {short}-port-1"),
            format!("secgroup {short}-sg"),
            format!("subnet {short}-sub"),
        ]
    );

    // Logs: oldest first, VK's fields, engine progress, and never the password.
    let (code, logs) = api
        .call(Method::GET, &format!("/logs/instance/{uuid}"), None)
        .await;
    assert_eq!(code, 200);
    let lines = logs.as_array().expect("log lines");
    assert!(lines.len() > 5, "{logs}");
    for l in lines {
        for f in ["message", "src", "level", "created_at", "uuid"] {
            assert!(l.get(f).is_some(), "{l}");
        }
    }
    let times: Vec<&str> = lines
        .iter()
        .map(|l| l["created_at"].as_str().unwrap_or_default())
        .collect();
    let mut sorted = times.clone();
    sorted.sort_unstable();
    assert_eq!(times, sorted, "oldest first");
    let text = logs.to_string();
    assert!(
        text.contains("vkcs_networking_port.p[1]: Creating"),
        "{text}"
    );
    assert!(!text.contains(&password), "the password is in the logs");

    // §2.6.4.4: delete (201), then `deleted`, nothing left in the cloud.
    let (code, body) = api.delete(uuid).await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(body["target_status"], "deleted");
    let v = api.wait_status(uuid, "deleted", DEADLINE).await;
    has_vk_shape(&v);
    assert_eq!(v["out"], "{}");
    assert_eq!(v["full_deployed"], false);
    assert!(cloud_inventory(&server, &ctx).await.is_empty());
    let (code, _) = api.delete("00000000-0000-4000-8000-000000000000").await;
    assert_eq!(code, 404);
    let (code, _) = api.get("00000000-0000-4000-8000-000000000000").await;
    assert_eq!(code, 404);

    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_project_cannot_reach_another_projects_objects_logs_configs_or_outputs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path()).await;
    let (_, token_a) = project(&server, "owner").await;
    let (_, token_b) = project(&server, "intruder").await;
    let a = Api::new(&server.url, &token_a);
    let b = Api::new(&server.url, &token_b);
    assert_eq!(a.put_config("private", MANIFEST).await.0, 201);
    let uuid = "0b7d2f4e-8c1a-4f3e-9d2b-5a6c7e8f9a0b";
    assert_eq!(
        a.create(uuid, "private", json!({"label": "x"})).await.0,
        201
    );
    a.wait_status(uuid, "running", DEADLINE).await;

    // Every read and write of the other project's data is "not found".
    assert_eq!(
        b.call(Method::GET, "/hoe/config/private", None).await.0,
        404
    );
    assert_eq!(b.get(uuid).await.0, 404);
    assert_eq!(
        b.call(
            Method::GET,
            &format!("/hoe/object/{uuid}?show_sensitive=true"),
            None
        )
        .await
        .0,
        404
    );
    assert_eq!(
        b.call(Method::GET, &format!("/logs/instance/{uuid}"), None)
            .await
            .0,
        404
    );
    assert_eq!(
        b.call(
            Method::PUT,
            &format!("/hoe/object/{uuid}"),
            Some(json!({"vars": {"label": "y"}}))
        )
        .await
        .0,
        404
    );
    assert_eq!(
        b.call(
            Method::POST,
            &format!("/hoe/object/{uuid}/plan"),
            Some(json!({"vars": {"label": "y"}}))
        )
        .await
        .0,
        404
    );
    assert_eq!(b.delete(uuid).await.0, 404);
    // A config of the same name is its own (version 1), not the first project's.
    let (code, body) = b.put_config("private", MANIFEST).await;
    assert_eq!(code, 201);
    assert_eq!(body["version"], 1);
    // Object uuids are global: the same uuid cannot be created twice.
    assert_eq!(
        b.create(uuid, "private", json!({"label": "x"})).await.0,
        409
    );
    // No reveal was audited for the intruder's attempt.
    assert!(server
        .service
        .store
        .hoe_audit_entries(uuid)
        .await
        .expect("audit")
        .is_empty());
    // Unauthenticated: 401 everywhere.
    let anon = Api::new(&server.url, "");
    assert_eq!(anon.get(uuid).await.0, 401);
    assert_eq!(
        anon.call(Method::GET, &format!("/logs/instance/{uuid}"), None)
            .await
            .0,
        401
    );
    // The owner still has it, untouched.
    let v = a.get(uuid).await.1;
    assert_eq!(v["status"], "running");
    assert_eq!(v["vars"], json!({"label": "x"}));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retry_no_in_settings_yaml_fails_at_the_first_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path()).await;
    let (_, token) = project(&server, "noretry").await;
    let api = Api::new(&server.url, &token);
    // A port on a network that does not exist fails at apply.
    let broken = r#"
resource "vkcs_networking_port" "p" {
  name       = "orphan"
  network_id = "00000000-0000-4000-8000-000000000000"
}
"#;
    let uuid = "5e0a2b1c-3d4e-4f50-8a6b-7c8d9e0f1a2b";
    let (code, body) = api
        .call(
            Method::POST,
            "/hoe/object",
            Some(json!({"uuid": uuid, "files": {"main.tf": broken, "settings.yaml": "retry: no\n"}, "vars": {}})),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(body["retry"], false);
    let v = api.wait_status(uuid, "failed", DEADLINE).await;
    assert_eq!(v["attempts"], 1, "{v}");
    assert!(
        v["last_error"].as_str().is_some_and(|e| !e.is_empty()),
        "{v}"
    );
    let (_, logs) = api
        .call(Method::GET, &format!("/logs/instance/{uuid}"), None)
        .await;
    assert!(logs.to_string().contains("retry: no"), "{logs}");
    // A failed object can still be deleted.
    assert_eq!(api.delete(uuid).await.0, 201);
    api.wait_status(uuid, "deleted", DEADLINE).await;
    server.stop().await;
}
