//! Nova details python-openstackclient's functional tests rely on, over real HTTP: the
//! `internal` availability zone admins see in `os-availability-zone/detail`, an admin's key
//! pairs of another user (`user_id`, 2.10) and server lists narrowed by `changes-since` /
//! `changes-before`.

mod common;

use common::TestCloud;
use reqwest::Method;
use serde_json::{json, Value};

async fn admin_token(tc: &TestCloud) -> String {
    let creds = tc.cloud.credentials();
    tc.password_token(&creds.admin.username, &creds.admin.password, "admin")
        .await
}

async fn call_mv(
    tc: &TestCloud,
    token: &str,
    m: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = tc
        .http
        .request(m, tc.url(path))
        .header("x-auth-token", token)
        .header("openstack-api-version", "compute 2.66");
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.expect("body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn zone_names(v: &Value) -> Vec<String> {
    v["availabilityZoneInfo"]
        .as_array()
        .expect("zones")
        .iter()
        .map(|z| z["zoneName"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_see_the_internal_zone_and_other_users_key_pairs() {
    let tc = TestCloud::start().await;
    let admin = admin_token(&tc).await;
    let demo = tc.token.clone();

    let (s, v) = call_mv(
        &tc,
        &admin,
        Method::GET,
        "/compute/v2.1/os-availability-zone/detail",
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let names = zone_names(&v);
    assert!(names.iter().any(|z| z == "internal"), "{v}");
    let internal = &v["availabilityZoneInfo"][0];
    assert!(
        internal["hosts"]["localcloud"]["nova-scheduler"]["available"] == true,
        "{v}"
    );
    let (_, v) = call_mv(
        &tc,
        &demo,
        Method::GET,
        "/compute/v2.1/os-availability-zone/detail",
        None,
    )
    .await;
    assert!(
        !zone_names(&v).iter().any(|z| z == "internal"),
        "members do not see it: {v}"
    );
    let (_, v) = call_mv(
        &tc,
        &admin,
        Method::GET,
        "/compute/v2.1/os-availability-zone",
        None,
    )
    .await;
    assert!(
        !zone_names(&v).iter().any(|z| z == "internal"),
        "not in the plain list: {v}"
    );

    // The demo user's id, from its token.
    let resp = tc
        .http
        .get(tc.url("/identity/v3/auth/tokens"))
        .header("x-auth-token", &admin)
        .header("x-subject-token", &demo)
        .send()
        .await
        .expect("validate");
    let v: Value = resp.json().await.expect("token body");
    let demo_user = v["token"]["user"]["id"]
        .as_str()
        .expect("user id")
        .to_owned();

    let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIALzHUzFJo7uFlL9ji5pYl5cDVNQVNqWSitjye6K5iNK k";
    let (s, v) = call_mv(
        &tc,
        &demo,
        Method::POST,
        "/compute/v2.1/os-keypairs",
        Some(json!({"keypair": {"name": "theirs", "public_key": key, "user_id": "someone-else"}})),
    )
    .await;
    assert_eq!(s, 403, "a member names no other user: {v}");
    let (s, v) = call_mv(
        &tc,
        &admin,
        Method::POST,
        "/compute/v2.1/os-keypairs",
        Some(json!({"keypair": {"name": "given", "public_key": key, "user_id": demo_user}})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["keypair"]["user_id"], demo_user.as_str());
    // The demo user owns it; the admin's own list does not have it.
    let (_, v) = call_mv(&tc, &demo, Method::GET, "/compute/v2.1/os-keypairs", None).await;
    assert_eq!(v["keypairs"][0]["keypair"]["name"], "given", "{v}");
    let (_, v) = call_mv(&tc, &admin, Method::GET, "/compute/v2.1/os-keypairs", None).await;
    assert_eq!(v["keypairs"], json!([]), "{v}");
    let (s, v) = call_mv(
        &tc,
        &admin,
        Method::GET,
        &format!("/compute/v2.1/os-keypairs?user_id={demo_user}"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["keypairs"][0]["keypair"]["name"], "given", "{v}");
    let (s, _) = call_mv(
        &tc,
        &demo,
        Method::GET,
        "/compute/v2.1/os-keypairs?user_id=nobody",
        None,
    )
    .await;
    assert_eq!(s, 403);
    let (s, _) = call_mv(
        &tc,
        &admin,
        Method::DELETE,
        &format!("/compute/v2.1/os-keypairs/given?user_id={demo_user}"),
        None,
    )
    .await;
    assert_eq!(s, 204);
    let (_, v) = call_mv(&tc, &demo, Method::GET, "/compute/v2.1/os-keypairs", None).await;
    assert_eq!(v["keypairs"], json!([]), "{v}");
    // Dropping it kills its servers and removes its namespaces (`stop` would hand them back).
    drop(tc);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_lists_are_narrowed_by_changes_since_and_before() {
    let tc = TestCloud::start().await;
    let (net, _) = tc.network("changes", "10.77.0.0/24").await;
    let id = tc.boot("changes", &net, None).await;
    let v = tc.wait_status(&id, "ACTIVE").await;
    let updated = v["server"]["updated"].as_str().expect("updated").to_owned();
    let token = tc.token.clone();
    let ids = |v: &Value| -> Vec<String> {
        v["servers"]
            .as_array()
            .expect("servers")
            .iter()
            .map(|s| s["id"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let (s, v) = call_mv(
        &tc,
        &token,
        Method::GET,
        &format!("/compute/v2.1/servers?changes-since={updated}"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(ids(&v), vec![id.clone()]);
    let (_, v) = call_mv(
        &tc,
        &token,
        Method::GET,
        "/compute/v2.1/servers?changes-since=2999-01-01T00:00:00Z",
        None,
    )
    .await;
    assert!(ids(&v).is_empty(), "{v}");
    let (_, v) = call_mv(
        &tc,
        &token,
        Method::GET,
        "/compute/v2.1/servers?changes-before=2000-01-01T00:00:00",
        None,
    )
    .await;
    assert!(ids(&v).is_empty(), "{v}");
    let (_, v) = call_mv(&tc, &token, Method::GET,
        &format!("/compute/v2.1/servers/detail?changes-since=2000-01-01T00:00:00&changes-before={updated}"), None).await;
    assert_eq!(ids(&v), vec![id.clone()]);
    let (s, _) = call_mv(
        &tc,
        &token,
        Method::GET,
        "/compute/v2.1/servers?changes-since=yesterday",
        None,
    )
    .await;
    assert_eq!(s, 400);
    let (s, _) = call_mv(&tc, &token, Method::GET,
        "/compute/v2.1/servers?changes-since=2020-01-02T00:00:00Z&changes-before=2020-01-01T00:00:00Z", None).await;
    assert_eq!(s, 400);
    // Dropping it kills its servers and removes its namespaces (`stop` would hand them back).
    drop(tc);
}
