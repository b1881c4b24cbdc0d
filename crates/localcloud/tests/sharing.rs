//! Moving and sharing between projects, over real HTTP: a Cinder volume transfer moves the volume
//! to the accepting project only with the right auth key; a Glance image shared with a project
//! is in its list only once it accepted; Keystone's implied roles reach tokens and a renamed
//! role keeps its assignments. Also Cinder's QoS specs, services, snapshot metadata and image
//! metadata of volumes.

mod common;

use std::time::Duration;

use common::TestCloud;
use reqwest::Method;
use serde_json::{json, Value};

struct Admin {
    token: String,
    project: String,
}

async fn admin(tc: &TestCloud) -> Admin {
    let creds = tc.cloud.credentials();
    let token = tc
        .password_token(&creds.admin.username, &creds.admin.password, "admin")
        .await;
    Admin {
        token,
        project: creds.admin.project_id,
    }
}

async fn send(
    tc: &TestCloud,
    token: &str,
    m: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let b = body.map(|b| b.to_string());
    tc.call_as(token, m, path, b.as_deref()).await
}

async fn wait_volume(tc: &TestCloud, id: &str, status: &str) -> Value {
    let path = format!("/volume/v3/{{project}}/volumes/{id}");
    tc.wait_for(
        &format!("volume {id} {status}"),
        Duration::from_secs(20),
        || {
            let path = path.clone();
            async move {
                let (_, v) = tc.call(Method::GET, &path, None).await;
                (v["volume"]["status"] == status).then_some(v)
            }
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_volume_transfer_moves_the_volume_only_with_its_key() {
    let tc = TestCloud::start().await;
    let adm = admin(&tc).await;
    let (s, v) = tc
        .post(
            "/volume/v3/{project}/volumes",
            json!({"volume": {"size": 1, "name": "given"}}),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    let vol = v["volume"]["id"].as_str().expect("id").to_owned();
    wait_volume(&tc, &vol, "available").await;
    let (s, v) = tc
        .post(
            "/volume/v3/{project}/volume-transfers",
            json!({"transfer": {"volume_id": vol, "name": "gift"}}),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    let xfer = v["transfer"]["id"].as_str().expect("id").to_owned();
    let key = v["transfer"]["auth_key"].as_str().expect("key").to_owned();
    wait_volume(&tc, &vol, "awaiting-transfer").await;
    // Listed and shown to its project, without the key.
    let v = tc.get("/volume/v3/{project}/volume-transfers").await;
    assert_eq!(v["transfers"][0]["name"], "gift", "{v}");
    let v = tc
        .get(&format!("/volume/v3/{{project}}/volume-transfers/{xfer}"))
        .await;
    assert!(v["transfer"].get("auth_key").is_none(), "{v}");

    let accept = format!("/volume/v3/{}/volume-transfers/{xfer}/accept", adm.project);
    let (s, v) = send(
        &tc,
        &adm.token,
        Method::POST,
        &accept,
        Some(json!({"accept": {"auth_key": "0000000000000000"}})),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    // Still the giver's.
    let v = wait_volume(&tc, &vol, "awaiting-transfer").await;
    assert_eq!(
        v["volume"]["os-vol-tenant-attr:tenant_id"],
        tc.project_id.as_str()
    );

    let (s, v) = send(
        &tc,
        &adm.token,
        Method::POST,
        &accept,
        Some(json!({"accept": {"auth_key": key}})),
    )
    .await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(v["transfer"]["volume_id"], vol.as_str());
    // Gone from the giver, the taker's now, and the transfer is used up.
    let (s, _) = tc
        .call(
            Method::GET,
            &format!("/volume/v3/{{project}}/volumes/{vol}"),
            None,
        )
        .await;
    assert_eq!(s, 404);
    let (s, v) = send(
        &tc,
        &adm.token,
        Method::GET,
        &format!("/volume/v3/{}/volumes/{vol}", adm.project),
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["volume"]["status"], "available");
    assert_eq!(
        v["volume"]["os-vol-tenant-attr:tenant_id"],
        adm.project.as_str()
    );
    let (s, _) = send(
        &tc,
        &adm.token,
        Method::POST,
        &accept,
        Some(json!({"accept": {"auth_key": key}})),
    )
    .await;
    assert_eq!(s, 404);

    // A deleted transfer gives the volume back its status.
    let (s, v) = send(
        &tc,
        &adm.token,
        Method::POST,
        &format!("/volume/v3/{}/os-volume-transfer", adm.project),
        Some(json!({"transfer": {"volume_id": vol}})),
    )
    .await;
    assert_eq!(s, 202, "{v}");
    let xfer = v["transfer"]["id"].as_str().expect("id").to_owned();
    let (s, _) = send(
        &tc,
        &adm.token,
        Method::DELETE,
        &format!("/volume/v3/{}/os-volume-transfer/{xfer}", adm.project),
        None,
    )
    .await;
    assert_eq!(s, 202);
    let (_, v) = send(
        &tc,
        &adm.token,
        Method::GET,
        &format!("/volume/v3/{}/volumes/{vol}", adm.project),
        None,
    )
    .await;
    assert_eq!(v["volume"]["status"], "available");

    // Image metadata of a volume.
    let (s, v) = send(
        &tc,
        &adm.token,
        Method::POST,
        &format!("/volume/v3/{}/volumes/{vol}/action", adm.project),
        Some(json!({"os-set_image_metadata": {"metadata": {"a": "b"}}})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let (_, v) = send(
        &tc,
        &adm.token,
        Method::GET,
        &format!("/volume/v3/{}/volumes/{vol}", adm.project),
        None,
    )
    .await;
    assert_eq!(v["volume"]["volume_image_metadata"]["a"], "b", "{v}");
    let (s, _) = send(
        &tc,
        &adm.token,
        Method::POST,
        &format!("/volume/v3/{}/volumes/{vol}/action", adm.project),
        Some(json!({"os-unset_image_metadata": {"key": "a"}})),
    )
    .await;
    assert_eq!(s, 200);
    drop(tc);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qos_specs_services_and_snapshot_metadata() {
    let tc = TestCloud::start().await;
    let adm = admin(&tc).await;
    let base = format!("/volume/v3/{}", adm.project);
    let (s, _) = tc
        .post(
            "/volume/v3/{project}/qos-specs",
            json!({"qos_specs": {"name": "q"}}),
        )
        .await;
    assert_eq!(s, 403, "QoS specs are an admin's");
    let (s, v) = send(
        &tc,
        &adm.token,
        Method::POST,
        &format!("{base}/qos-specs"),
        Some(json!({"qos_specs": {"name": "fast", "consumer": "front-end", "total_iops_sec": "500"}})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["qos_specs"]["specs"]["total_iops_sec"], "500");
    let qos = v["qos_specs"]["id"].as_str().expect("id").to_owned();
    let (_, v) = send(&tc, &adm.token, Method::GET, &format!("{base}/types"), None).await;
    let ty = v["volume_types"][0]["id"]
        .as_str()
        .expect("type")
        .to_owned();
    let (s, _) = send(
        &tc,
        &adm.token,
        Method::GET,
        &format!("{base}/qos-specs/{qos}/associate?vol_type_id={ty}"),
        None,
    )
    .await;
    assert_eq!(s, 202);
    let (_, v) = send(
        &tc,
        &adm.token,
        Method::GET,
        &format!("{base}/qos-specs/{qos}/associations"),
        None,
    )
    .await;
    assert_eq!(v["qos_associations"][0]["id"], ty.as_str(), "{v}");
    // In use: not deleted without force.
    let (s, _) = send(
        &tc,
        &adm.token,
        Method::DELETE,
        &format!("{base}/qos-specs/{qos}"),
        None,
    )
    .await;
    assert_eq!(s, 400);
    let (s, _) = send(
        &tc,
        &adm.token,
        Method::PUT,
        &format!("{base}/qos-specs/{qos}/delete_keys"),
        Some(json!({"keys": ["total_iops_sec"]})),
    )
    .await;
    assert_eq!(s, 202);
    let (s, _) = send(
        &tc,
        &adm.token,
        Method::GET,
        &format!("{base}/qos-specs/{qos}/disassociate_all"),
        None,
    )
    .await;
    assert_eq!(s, 202);
    let (s, _) = send(
        &tc,
        &adm.token,
        Method::DELETE,
        &format!("{base}/qos-specs/{qos}"),
        None,
    )
    .await;
    assert_eq!(s, 202);

    let (s, v) = send(
        &tc,
        &adm.token,
        Method::GET,
        &format!("{base}/os-services?binary=cinder-volume"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["services"].as_array().map(Vec::len), Some(1), "{v}");

    let (s, v) = tc
        .post(
            "/volume/v3/{project}/volumes",
            json!({"volume": {"size": 1}}),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    let vol = v["volume"]["id"].as_str().expect("id").to_owned();
    wait_volume(&tc, &vol, "available").await;
    let (s, v) = tc
        .post(
            "/volume/v3/{project}/snapshots",
            json!({"snapshot": {"volume_id": vol, "name": "s"}}),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    let snap = v["snapshot"]["id"].as_str().expect("id").to_owned();
    let (s, v) = tc
        .post(
            &format!("/volume/v3/{{project}}/snapshots/{snap}/metadata"),
            json!({"metadata": {"Alpha": "a", "Beta": "b"}}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, _) = tc
        .call(
            Method::DELETE,
            &format!("/volume/v3/{{project}}/snapshots/{snap}/metadata/Alpha"),
            None,
        )
        .await;
    assert_eq!(s, 200);
    let v = tc
        .get(&format!("/volume/v3/{{project}}/snapshots/{snap}"))
        .await;
    assert_eq!(v["snapshot"]["metadata"], json!({"Beta": "b"}), "{v}");
    // An admin resets a snapshot's status.
    let (s, _) = send(
        &tc,
        &adm.token,
        Method::POST,
        &format!("/volume/v3/{}/snapshots/{snap}/action", adm.project),
        Some(json!({"os-reset_status": {"status": "error"}})),
    )
    .await;
    assert_eq!(s, 202);
    let v = tc
        .get(&format!("/volume/v3/{{project}}/snapshots/{snap}"))
        .await;
    assert_eq!(v["snapshot"]["status"], "error", "{v}");

    // Volume metadata: PUT replaces the set, keys are deleted one by one.
    let meta = format!("/volume/v3/{{project}}/volumes/{vol}/metadata");
    let (s, _) = tc
        .post(&meta, json!({"metadata": {"a": "1", "b": "2"}}))
        .await;
    assert_eq!(s, 200);
    let (s, v) = tc
        .call(
            Method::PUT,
            &meta,
            Some(r#"{"metadata": {"c": "3", "b": "2"}}"#),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["metadata"], json!({"b": "2", "c": "3"}));
    let (s, _) = tc.call(Method::DELETE, &format!("{meta}/b"), None).await;
    assert_eq!(s, 200);
    let v = tc.get(&meta).await;
    assert_eq!(v["metadata"], json!({"c": "3"}));
    // One key, shown and set, of a volume and of a snapshot alike.
    let snap_meta = format!("/volume/v3/{{project}}/snapshots/{snap}/metadata");
    for base in [&meta, &snap_meta] {
        let (s, v) = tc
            .call(
                Method::PUT,
                &format!("{base}/d"),
                Some(r#"{"meta": {"d": "4"}}"#),
            )
            .await;
        assert_eq!(s, 200, "{base}: {v}");
        assert_eq!(v["meta"], json!({"d": "4"}), "{base}");
        let v = tc.get(&format!("{base}/d")).await;
        assert_eq!(v["meta"], json!({"d": "4"}), "{base}");
        let (s, _) = tc
            .call(
                Method::PUT,
                &format!("{base}/d"),
                Some(r#"{"meta": {"e": "5"}}"#),
            )
            .await;
        assert_eq!(s, 400, "{base}: body and URI mismatch");
        let (s, _) = tc.call(Method::DELETE, &format!("{base}/nope"), None).await;
        assert_eq!(s, 404, "{base}: no such item");
    }
    drop(tc);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_images_are_listed_once_accepted() {
    let tc = TestCloud::start().await;
    let adm = admin(&tc).await;
    let (s, v) = tc
        .post(
            "/image/v2/images",
            json!({"name": "ours", "visibility": "shared", "disk_format": "raw", "container_format": "bare"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let img = v["id"].as_str().expect("id").to_owned();
    let seen_by_admin = |v: &Value| {
        v["images"]
            .as_array()
            .expect("images")
            .iter()
            .any(|i| i["id"] == img.as_str())
    };
    let (s, _) = send(
        &tc,
        &adm.token,
        Method::GET,
        &format!("/image/v2/images/{img}"),
        None,
    )
    .await;
    assert_eq!(s, 404, "not shared yet");
    let (s, v) = tc
        .post(
            &format!("/image/v2/images/{img}/members"),
            json!({"member": adm.project}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "pending");
    // Visible by ID, not listed while pending.
    let (s, _) = send(
        &tc,
        &adm.token,
        Method::GET,
        &format!("/image/v2/images/{img}"),
        None,
    )
    .await;
    assert_eq!(s, 200);
    let (_, v) = send(&tc, &adm.token, Method::GET, "/image/v2/images", None).await;
    assert!(!seen_by_admin(&v), "{v}");
    // Only the member decides.
    let member = format!("/image/v2/images/{img}/members/{}", adm.project);
    let (s, _) = tc
        .call(Method::PUT, &member, Some(r#"{"status": "accepted"}"#))
        .await;
    assert_eq!(s, 403);
    let (s, v) = send(
        &tc,
        &adm.token,
        Method::PUT,
        &member,
        Some(json!({"status": "accepted"})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let (_, v) = send(&tc, &adm.token, Method::GET, "/image/v2/images", None).await;
    assert!(seen_by_admin(&v), "{v}");
    let (s, _) = tc.call(Method::DELETE, &member, None).await;
    assert_eq!(s, 204);
    let (s, _) = send(
        &tc,
        &adm.token,
        Method::GET,
        &format!("/image/v2/images/{img}"),
        None,
    )
    .await;
    assert_eq!(s, 404);
    let v = tc.get("/image/v2/info/import").await;
    assert!(v["import-methods"]["value"].is_array(), "{v}");
    drop(tc);
}

/// The role names a token carries, as Keystone's validation shows them.
async fn token_roles(tc: &TestCloud, admin: &str, token: &str) -> Vec<String> {
    let resp = tc
        .http
        .get(tc.url("/identity/v3/auth/tokens"))
        .header("x-auth-token", admin)
        .header("x-subject-token", token)
        .send()
        .await
        .expect("validate");
    let v: Value = resp.json().await.expect("token");
    v["token"]["roles"]
        .as_array()
        .expect("roles")
        .iter()
        .map(|r| r["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn implied_roles_reach_tokens_and_renamed_roles_keep_assignments() {
    let tc = TestCloud::start().await;
    let adm = admin(&tc).await;
    let demo = tc
        .cloud
        .credentials()
        .projects
        .get("demo")
        .expect("demo")
        .clone();
    let role = |name: &str| json!({"role": {"name": name}});
    let (s, v) = send(
        &tc,
        &adm.token,
        Method::POST,
        "/identity/v3/roles",
        Some(role("prior")),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let prior = v["role"]["id"].as_str().expect("id").to_owned();
    let (_, v) = send(
        &tc,
        &adm.token,
        Method::POST,
        "/identity/v3/roles",
        Some(role("implied")),
    )
    .await;
    let implied = v["role"]["id"].as_str().expect("id").to_owned();
    let (s, v) = send(
        &tc,
        &adm.token,
        Method::PUT,
        &format!("/identity/v3/roles/{prior}/implies/{implied}"),
        None,
    )
    .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["role_inference"]["implies"]["name"], "implied");
    // No cycles.
    let (s, _) = send(
        &tc,
        &adm.token,
        Method::PUT,
        &format!("/identity/v3/roles/{implied}/implies/{prior}"),
        None,
    )
    .await;
    assert_eq!(s, 400);
    let (_, v) = send(
        &tc,
        &adm.token,
        Method::GET,
        "/identity/v3/role_inferences",
        None,
    )
    .await;
    let n = v["role_inferences"].as_array().map_or(0, Vec::len);
    assert!(n >= 3, "the built-in ones and ours: {v}");

    // The demo user gets `prior` on its project: its tokens carry `implied` too.
    let (_, v) = send(
        &tc,
        &tc.token,
        Method::GET,
        "/identity/v3/auth/tokens",
        None,
    )
    .await;
    let _ = v;
    let resp = tc
        .http
        .get(tc.url("/identity/v3/auth/tokens"))
        .header("x-auth-token", &adm.token)
        .header("x-subject-token", &tc.token)
        .send()
        .await
        .expect("validate");
    let v: Value = resp.json().await.expect("token");
    let user = v["token"]["user"]["id"].as_str().expect("user").to_owned();
    let (s, _) = send(
        &tc,
        &adm.token,
        Method::PUT,
        &format!(
            "/identity/v3/projects/{}/users/{user}/roles/{prior}",
            tc.project_id
        ),
        None,
    )
    .await;
    assert_eq!(s, 204);
    let token = tc
        .password_token(&demo.username, &demo.password, "demo")
        .await;
    let names = token_roles(&tc, &adm.token, &token).await;
    assert!(names.contains(&"implied".to_owned()), "{names:?}");

    // Renamed: the same id, the assignment follows.
    let (s, v) = send(
        &tc,
        &adm.token,
        Method::PATCH,
        &format!("/identity/v3/roles/{prior}"),
        Some(role("renamed")),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["role"]["id"], prior.as_str());
    let names = token_roles(&tc, &adm.token, &token).await;
    assert!(names.contains(&"renamed".to_owned()), "{names:?}");
    assert!(!names.contains(&"prior".to_owned()), "{names:?}");
    // Built-in roles keep their names.
    let (_, v) = send(
        &tc,
        &adm.token,
        Method::GET,
        "/identity/v3/roles?name=member",
        None,
    )
    .await;
    let member = v["roles"][0]["id"].as_str().expect("member").to_owned();
    let (s, _) = send(
        &tc,
        &adm.token,
        Method::PATCH,
        &format!("/identity/v3/roles/{member}"),
        Some(role("members")),
    )
    .await;
    assert_eq!(s, 403);

    let (s, _) = send(
        &tc,
        &adm.token,
        Method::DELETE,
        &format!("/identity/v3/roles/{prior}/implies/{implied}"),
        None,
    )
    .await;
    assert_eq!(s, 204);
    let names = token_roles(&tc, &adm.token, &token).await;
    assert!(!names.contains(&"implied".to_owned()), "{names:?}");
    drop(tc);
}
