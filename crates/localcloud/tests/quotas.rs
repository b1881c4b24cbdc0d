//! Nova's compute quotas over real HTTP: an admin sets `cores`; the server create past it gets
//! Nova's 403 "Quota exceeded for cores…"; `limits` and `os-quota-sets/…/detail` show use and
//! limits; a member cannot change quotas.

mod common;

use common::TestCloud;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn cores_quota_is_enforced_and_reported() {
    let tc = TestCloud::start().await;
    let creds = tc.cloud.credentials();
    let admin = tc
        .password_token(&creds.admin.username, &creds.admin.password, "admin")
        .await;
    let p = tc.project_id.clone();
    let path = format!("/compute/v2.1/os-quota-sets/{p}");
    let (s, _) = tc
        .call(Method::PUT, &path, Some(r#"{"quota_set": {"cores": 4}}"#))
        .await;
    assert_eq!(s, 403, "a member sets quotas");
    let (s, v) = tc
        .call_as(
            &admin,
            Method::PUT,
            &path,
            Some(r#"{"quota_set": {"cores": 4}}"#),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["quota_set"]["cores"], 4);

    let image = tc.base_image().await;
    let flavor = tc.flavor("Basic-1-2-20").await;
    let vcpus = tc.get(&format!("/compute/v2.1/flavors/{flavor}")).await["flavor"]["vcpus"]
        .as_i64()
        .unwrap();
    let fits = 4 / vcpus;
    let tcr = &tc;
    let create = |name: String| {
        let body = json!({"server": {"name": name, "flavorRef": flavor, "imageRef": image, "networks": "none"}});
        async move { tcr.post("/compute/v2.1/servers", body).await }
    };
    for i in 0..fits {
        let (s, v) = create(format!("vm{i}")).await;
        assert_eq!(s, 202, "{v}");
    }
    let (s, v) = create("one-too-many".into()).await;
    assert_eq!(s, 403, "{v}");
    let msg = v["forbidden"]["message"].as_str().unwrap_or_default();
    assert!(
        msg.starts_with(&format!(
            "Quota exceeded for cores: Requested {vcpus}, but already used {} of 4 cores",
            fits * vcpus
        )),
        "{msg}"
    );
    let limits = tc.get("/compute/v2.1/limits").await;
    assert_eq!(limits["limits"]["absolute"]["maxTotalCores"], 4);
    assert_eq!(limits["limits"]["absolute"]["totalCoresUsed"], fits * vcpus);
    assert_eq!(limits["limits"]["absolute"]["totalInstancesUsed"], fits);
    let detail = tc.get(&format!("{path}/detail")).await;
    assert_eq!(detail["quota_set"]["cores"]["in_use"], fits * vcpus);
    assert_eq!(detail["quota_set"]["cores"]["limit"], 4);
    // Another project's quotas are not the member's to read.
    let (s, _) = tc
        .call(
            Method::GET,
            &format!("/compute/v2.1/os-quota-sets/{}", creds.admin.project_id),
            None,
        )
        .await;
    assert_eq!(s, 403);
}
