//! Secrets in the deployment system: a sensitive variable reads `<sensitive>` in the object
//! (unless revealed), and neither it, the generated password, nor the project's token appears
//! in the deployment's log lines or in any line of the server's own log.

mod hoe_common;
mod log_capture;

use std::time::Duration;

use hoe_common::*;
use serde_json::json;

const MANIFEST: &str = r#"
variable "instance_uuid" {
  type = string
}

variable "db_password" {
  type      = string
  sensitive = true
}

variable "label" {
  type = string
}

resource "random_password" "admin" {
  length  = 24
  special = false
}

resource "null_resource" "uses" {
  triggers = {
    password = var.db_password
    label    = var.label
  }
}

output "label" {
  value = var.label
}

output "admin_password" {
  value     = random_password.admin.result
  sensitive = true
}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sensitive_variables_and_outputs_are_masked_and_never_logged() {
    log_capture::install();
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path()).await;
    let (_, token) = project(&server, "secrets").await;
    let api = Api::new(&server.url, &token);
    assert_eq!(api.put_config("secret-vars", MANIFEST).await.0, 201);
    let uuid = "5ec7e700-0000-4aaa-8bbb-cccccccccccc";
    let db_password = format!("Db-Pass-{}", uuid::Uuid::new_v4().simple());
    let (code, created) = api
        .create(
            uuid,
            "secret-vars",
            json!({"db_password": db_password, "label": "visible-label"}),
        )
        .await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["vars"]["db_password"], "<sensitive>", "{created}");
    let v = api
        .wait_status(uuid, "running", Duration::from_secs(120))
        .await;
    assert_eq!(v["vars"]["db_password"], "<sensitive>", "{v}");
    assert_eq!(v["vars"]["label"], "visible-label", "{v}");
    let out: serde_json::Value =
        serde_json::from_str(v["out"].as_str().expect("out")).expect("json");
    assert_eq!(out["admin_password"], "<sensitive>");
    assert_eq!(out["label"], "visible-label");
    assert!(!v.to_string().contains(&db_password));

    // Revealed on request: the variable and the output.
    let (code, shown) = api
        .call(
            reqwest::Method::GET,
            &format!("/hoe/object/{uuid}?show_sensitive=true"),
            None,
        )
        .await;
    assert_eq!(code, 200, "{shown}");
    assert_eq!(shown["vars"]["db_password"], db_password.as_str());
    let out: serde_json::Value =
        serde_json::from_str(shown["out"].as_str().expect("out")).expect("json");
    let admin = out["admin_password"].as_str().expect("password").to_owned();
    assert_eq!(admin.len(), 24);

    // A changed secret: planned and applied without showing it.
    let new_password = format!("Db-Pass-{}", uuid::Uuid::new_v4().simple());
    let (code, plan) = api
        .call(
            reqwest::Method::POST,
            &format!("/hoe/object/{uuid}/plan"),
            Some(json!({"vars": {"db_password": new_password, "label": "visible-label"}})),
        )
        .await;
    assert_eq!(code, 200, "{plan}");
    assert!(!plan.to_string().contains(&new_password), "{plan}");
    let (code, updated) = api
        .call(
            reqwest::Method::PUT,
            &format!("/hoe/object/{uuid}"),
            Some(json!({"vars": {"db_password": new_password, "label": "visible-label"}})),
        )
        .await;
    assert_eq!(code, 202, "{updated}");
    assert_eq!(updated["vars"]["db_password"], "<sensitive>", "{updated}");
    wait_runs(&api, uuid, 2).await;

    // The variables sent back as shown (the secret masked) keep the secret.
    let (code, updated) = api
        .call(
            reqwest::Method::PUT,
            &format!("/hoe/object/{uuid}"),
            Some(json!({"vars": {"db_password": "<sensitive>", "label": "second-label"}})),
        )
        .await;
    assert_eq!(code, 202, "{updated}");
    wait_runs(&api, uuid, 3).await;
    let (_, shown) = api
        .call(
            reqwest::Method::GET,
            &format!("/hoe/object/{uuid}?show_sensitive=true"),
            None,
        )
        .await;
    assert_eq!(
        shown["vars"]["db_password"],
        new_password.as_str(),
        "{shown}"
    );
    assert_eq!(shown["vars"]["label"], "second-label", "{shown}");

    let logs = api
        .call(
            reqwest::Method::GET,
            &format!("/logs/instance/{uuid}"),
            None,
        )
        .await
        .1
        .to_string();
    assert!(logs.contains("null_resource.uses"), "{logs}");
    let secrets = [
        ("sensitive variable", db_password.clone()),
        ("changed sensitive variable", new_password.clone()),
        ("generated password", admin.clone()),
        ("project token", token.clone()),
        ("engine token", server.engine_token.expose().to_owned()),
    ];
    for (what, s) in &secrets {
        assert!(
            !logs.contains(s.as_str()),
            "the {what} is in the deployment's log: {logs}"
        );
    }
    let checked = log_capture::assert_no_secret(&secrets);
    assert!(checked > 0, "the server logged nothing");
    assert!(
        log_capture::lines()
            .iter()
            .any(|l| l.contains("sensitive outputs revealed") && l.contains(uuid)),
        "the reveal is logged"
    );
    server.stop().await;
}

/// Waits until the object's log shows `runs` plans and the object runs again.
async fn wait_runs(api: &Api, uuid: &str, runs: usize) {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let logs = api
            .call(
                reqwest::Method::GET,
                &format!("/logs/instance/{uuid}"),
                None,
            )
            .await
            .1
            .to_string();
        if logs.matches("plan: ").count() >= runs {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "run {runs} never planned: {logs}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    api.wait_status(uuid, "running", Duration::from_secs(120))
        .await;
}
