//! Keystone's registries over real HTTP, as `openstack region|service|endpoint|endpoint group|
//! policy|registered limit|limit|identity provider|mapping|service provider …` call them:
//! created, shown, listed, changed and deleted by an admin, refused to a member, and a
//! service admins add appears in the token's catalog with its endpoint.

mod common;

use common::TestCloud;
use reqwest::Method;
use serde_json::{json, Value};

async fn admin_token(tc: &TestCloud) -> String {
    let creds = tc.cloud.credentials();
    tc.password_token(&creds.admin.username, &creds.admin.password, "admin")
        .await
}

async fn call(
    tc: &TestCloud,
    token: &str,
    m: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let body = body.map(|b| b.to_string());
    tc.call_as(token, m, path, body.as_deref()).await
}

fn id_of(v: &Value, key: &str) -> String {
    v[key]["id"].as_str().expect("an id").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_admin_regions_services_endpoints_and_filters() {
    let tc = TestCloud::start().await;
    let admin = admin_token(&tc).await;

    // Regions: the cloud's own is listed; a child needs an existing parent; no cycles.
    let (s, v) = call(&tc, &admin, Method::GET, "/identity/v3/regions", None).await;
    assert_eq!(s, 200, "{v}");
    assert!(
        v["regions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == "RegionOne"),
        "{v}"
    );
    let (s, v) = call(
        &tc,
        &admin,
        Method::POST,
        "/identity/v3/regions",
        Some(json!({"region": {"id": "r-parent", "description": "p"}})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = call(
        &tc,
        &admin,
        Method::POST,
        "/identity/v3/regions",
        Some(json!({"region": {"id": "r-child", "parent_region_id": "r-nowhere"}})),
    )
    .await;
    assert_eq!(s, 404, "{v}");
    let (s, v) = call(
        &tc,
        &admin,
        Method::POST,
        "/identity/v3/regions",
        Some(json!({"region": {"id": "r-child", "parent_region_id": "r-parent"}})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["region"]["parent_region_id"], "r-parent");
    let (s, v) = call(
        &tc,
        &admin,
        Method::PATCH,
        "/identity/v3/regions/r-parent",
        Some(json!({"region": {"parent_region_id": "r-child"}})),
    )
    .await;
    assert_eq!(s, 400, "a cycle: {v}");
    let (s, _) = call(
        &tc,
        &admin,
        Method::POST,
        "/identity/v3/regions",
        Some(json!({"region": {"id": "r-parent"}})),
    )
    .await;
    assert_eq!(s, 409);

    // A member may not add a service.
    let (s, v) = tc
        .call(
            Method::POST,
            "/identity/v3/services",
            Some(&json!({"service": {"type": "x"}}).to_string()),
        )
        .await;
    assert_eq!(s, 403, "{v}");

    // Services: the built-in ones are listed; a new one, with an endpoint, is in the catalog.
    let (s, v) = call(
        &tc,
        &admin,
        Method::GET,
        "/identity/v3/services?type=compute",
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["services"][0]["name"], "nova", "{v}");
    let (s, v) = call(
        &tc,
        &admin,
        Method::POST,
        "/identity/v3/services",
        Some(json!({"service": {"type": "widget", "name": "widgets", "description": "d"}})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let service = id_of(&v, "service");
    let (s, v) = call(&tc, &admin, Method::POST, "/identity/v3/endpoints",
        Some(json!({"endpoint": {"service_id": service, "interface": "sideways", "url": "http://w"}}))).await;
    assert_eq!(s, 400, "{v}");
    let (s, v) = call(
        &tc,
        &admin,
        Method::POST,
        "/identity/v3/endpoints",
        Some(
            json!({"endpoint": {"service_id": service, "interface": "public",
                                 "url": "http://widgets.example", "region_id": "r-child"}}),
        ),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let endpoint = id_of(&v, "endpoint");
    assert_eq!(v["endpoint"]["region"], "r-child");
    let (s, v) = call(&tc, &admin, Method::GET, "/identity/v3/auth/catalog", None).await;
    assert_eq!(s, 200, "{v}");
    let entry = v["catalog"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "widget")
        .unwrap_or_else(|| panic!("widget in the catalog: {v}"))
        .clone();
    assert_eq!(entry["name"], "widgets");
    assert_eq!(entry["endpoints"][0]["url"], "http://widgets.example");

    // A disabled endpoint leaves the catalog; the change is kept.
    let (s, v) = call(
        &tc,
        &admin,
        Method::PATCH,
        &format!("/identity/v3/endpoints/{endpoint}"),
        Some(json!({"endpoint": {"enabled": false, "interface": "admin"}})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["endpoint"]["interface"], "admin");
    let (_, v) = call(&tc, &admin, Method::GET, "/identity/v3/auth/catalog", None).await;
    let entry = v["catalog"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "widget")
        .unwrap()
        .clone();
    assert_eq!(entry["endpoints"], json!([]));

    // Project filters of endpoints and endpoint groups.
    let demo = tc.project_id.clone();
    let (s, v) = call(
        &tc,
        &admin,
        Method::PUT,
        &format!("/identity/v3/OS-EP-FILTER/projects/{demo}/endpoints/{endpoint}"),
        None,
    )
    .await;
    assert_eq!(s, 204, "{v}");
    let (_, v) = call(
        &tc,
        &admin,
        Method::GET,
        &format!("/identity/v3/OS-EP-FILTER/endpoints/{endpoint}/projects"),
        None,
    )
    .await;
    assert_eq!(v["projects"][0]["id"], demo.as_str(), "{v}");
    let (s, v) = call(
        &tc,
        &admin,
        Method::POST,
        "/identity/v3/OS-EP-FILTER/endpoint_groups",
        Some(json!({"endpoint_group": {"name": "g", "filters": {"colour": "blue"}}})),
    )
    .await;
    assert_eq!(s, 400, "unknown filter: {v}");
    let (s, v) = call(
        &tc,
        &admin,
        Method::POST,
        "/identity/v3/OS-EP-FILTER/endpoint_groups",
        Some(json!({"endpoint_group": {"name": "g", "filters": {"service_id": service}}})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let group = id_of(&v, "endpoint_group");
    let (_, v) = call(
        &tc,
        &admin,
        Method::GET,
        &format!("/identity/v3/OS-EP-FILTER/endpoint_groups/{group}/endpoints"),
        None,
    )
    .await;
    assert_eq!(v["endpoints"].as_array().unwrap().len(), 1, "{v}");
    let (s, _) = call(
        &tc,
        &admin,
        Method::PUT,
        &format!("/identity/v3/OS-EP-FILTER/endpoint_groups/{group}/projects/{demo}"),
        None,
    )
    .await;
    assert_eq!(s, 204);
    let (_, v) = call(
        &tc,
        &admin,
        Method::GET,
        &format!("/identity/v3/OS-EP-FILTER/projects/{demo}/endpoint_groups"),
        None,
    )
    .await;
    assert_eq!(v["endpoint_groups"][0]["id"], group.as_str(), "{v}");

    // Deleting the service deletes its endpoint (and the endpoint's project filter).
    let (s, _) = call(
        &tc,
        &admin,
        Method::DELETE,
        &format!("/identity/v3/services/{service}"),
        None,
    )
    .await;
    assert_eq!(s, 204);
    let (s, _) = call(
        &tc,
        &admin,
        Method::GET,
        &format!("/identity/v3/endpoints/{endpoint}"),
        None,
    )
    .await;
    assert_eq!(s, 404);
    let (_, v) = call(
        &tc,
        &admin,
        Method::GET,
        &format!("/identity/v3/OS-EP-FILTER/projects/{demo}/endpoints"),
        None,
    )
    .await;
    assert_eq!(v["endpoints"], json!([]), "{v}");
    // The built-in ones are read-only.
    let (_, v) = call(
        &tc,
        &admin,
        Method::GET,
        "/identity/v3/services?type=image",
        None,
    )
    .await;
    let glance = v["services"][0]["id"].as_str().unwrap().to_owned();
    let (s, _) = call(
        &tc,
        &admin,
        Method::DELETE,
        &format!("/identity/v3/services/{glance}"),
        None,
    )
    .await;
    assert_eq!(s, 403);
    // Dropping it kills its servers and removes its namespaces (`stop` would hand them back).
    drop(tc);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_limits_and_federation_registries() {
    let tc = TestCloud::start().await;
    let admin = admin_token(&tc).await;

    let (s, v) = call(
        &tc,
        &admin,
        Method::POST,
        "/identity/v3/policies",
        Some(json!({"policy": {"blob": "{\"a\": 1}", "type": "application/json"}})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let policy = id_of(&v, "policy");
    let (s, v) = call(
        &tc,
        &admin,
        Method::PATCH,
        &format!("/identity/v3/policies/{policy}"),
        Some(json!({"policy": {"type": "text/json"}})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["policy"]["type"], "text/json");
    assert_eq!(v["policy"]["blob"], "{\"a\": 1}");

    // A limit needs its registered limit; duplicates are refused; amounts are integers.
    let (_, v) = call(
        &tc,
        &admin,
        Method::GET,
        "/identity/v3/services?type=compute",
        None,
    )
    .await;
    let nova = v["services"][0]["id"].as_str().unwrap().to_owned();
    let demo = tc.project_id.clone();
    let (s, v) = call(&tc, &admin, Method::POST, "/identity/v3/limits",
        Some(json!({"limits": [{"service_id": nova, "project_id": demo, "resource_name": "cores", "resource_limit": 4}]}))).await;
    assert_eq!(s, 403, "{v}");
    let (s, v) = call(&tc, &admin, Method::POST, "/identity/v3/registered_limits",
        Some(json!({"registered_limits": [{"service_id": nova, "resource_name": "cores", "default_limit": "ten"}]}))).await;
    assert_eq!(s, 400, "{v}");
    let (s, v) = call(&tc, &admin, Method::POST, "/identity/v3/registered_limits",
        Some(json!({"registered_limits": [{"service_id": nova, "resource_name": "cores", "default_limit": 10}]}))).await;
    assert_eq!(s, 201, "{v}");
    let registered = v["registered_limits"][0]["id"].as_str().unwrap().to_owned();
    let (s, _) = call(&tc, &admin, Method::POST, "/identity/v3/registered_limits",
        Some(json!({"registered_limits": [{"service_id": nova, "resource_name": "cores", "default_limit": 12}]}))).await;
    assert_eq!(s, 409);
    let (s, v) = call(&tc, &admin, Method::POST, "/identity/v3/limits",
        Some(json!({"limits": [{"service_id": nova, "project_id": demo, "resource_name": "cores", "resource_limit": 4}]}))).await;
    assert_eq!(s, 201, "{v}");
    let limit = v["limits"][0]["id"].as_str().unwrap().to_owned();
    let (s, v) = call(
        &tc,
        &admin,
        Method::PATCH,
        &format!("/identity/v3/limits/{limit}"),
        Some(json!({"limit": {"resource_limit": 5, "description": "five"}})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["limit"]["resource_limit"], 5);
    assert_eq!(v["limit"]["project_id"], demo.as_str());
    let (s, _) = call(
        &tc,
        &admin,
        Method::DELETE,
        &format!("/identity/v3/registered_limits/{registered}"),
        None,
    )
    .await;
    assert_eq!(s, 403, "a registered limit with project limits stays");
    let (s, v) = tc
        .call(
            Method::GET,
            &format!("/identity/v3/limits?project_id={demo}"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["limits"].as_array().unwrap().len(), 1, "{v}");

    // Federation: an identity provider without a domain gets one of its own.
    let (s, v) = call(&tc, &admin, Method::PUT, "/identity/v3/OS-FEDERATION/identity_providers/acme",
        Some(json!({"identity_provider": {"description": "d", "enabled": true, "remote_ids": ["https://idp"]}}))).await;
    assert_eq!(s, 201, "{v}");
    let domain = v["identity_provider"]["domain_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, v) = call(
        &tc,
        &admin,
        Method::GET,
        &format!("/identity/v3/domains/{domain}"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["domain"]["name"], "acme");
    let (s, _) = call(
        &tc,
        &admin,
        Method::PUT,
        "/identity/v3/OS-FEDERATION/identity_providers/acme",
        Some(json!({"identity_provider": {}})),
    )
    .await;
    assert_eq!(s, 409);
    let (s, v) = call(
        &tc,
        &admin,
        Method::PUT,
        "/identity/v3/OS-FEDERATION/mappings/m1",
        Some(json!({"mapping": {"id": "m1", "rules": [{"local": [], "remote": []}], "schema_version": "1.0"}})),
    )
    .await;
    assert_eq!(
        s, 201,
        "{v}: openstackclient repeats the path's id in the body"
    );
    let (s, v) = call(
        &tc,
        &admin,
        Method::PUT,
        "/identity/v3/OS-FEDERATION/mappings/m2",
        Some(json!({"mapping": {"id": "other", "rules": []}})),
    )
    .await;
    assert_eq!(s, 400, "{v}: an id unlike the path's is refused");
    let (s, v) = call(
        &tc,
        &admin,
        Method::PATCH,
        "/identity/v3/OS-FEDERATION/mappings/m1",
        Some(json!({"mapping": {"rules": [], "schema_version": "2.0"}})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["mapping"]["schema_version"], "2.0");
    let (s, v) = call(
        &tc,
        &admin,
        Method::PUT,
        "/identity/v3/OS-FEDERATION/service_providers/sp",
        Some(json!({"service_provider": {"auth_url": "https://sp/a", "sp_url": "https://sp/s"}})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["service_provider"]["relay_state_prefix"], "ss:mem:");
    let (s, v) = call(
        &tc,
        &admin,
        Method::GET,
        "/identity/v3/OS-FEDERATION/service_providers",
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["service_providers"].as_array().unwrap().len(), 1);
    let (s, _) = tc
        .call(Method::GET, "/identity/v3/OS-FEDERATION/mappings", None)
        .await;
    assert_eq!(s, 403, "members do not read the federation registries");
    // Dropping it kills its servers and removes its namespaces (`stop` would hand them back).
    drop(tc);
}
