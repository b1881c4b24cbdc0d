//! Neutron tags over real HTTP: tags given on create for every taggable resource, the
//! `/{resources}/{id}/tags[/{tag}]` routes, the four tag filters on lists, and bad tags.

mod common;

use common::TestCloud;
use reqwest::Method;
use serde_json::{json, Value};

/// Creates one of each taggable resource with `tags`; returns (collection, id) pairs.
async fn tagged_resources(tc: &TestCloud, tags: &[&str]) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let (s, net) = tc
        .post(
            "/networking/v2.0/networks",
            json!({"network": {"name": "tagged", "tags": tags}}),
        )
        .await;
    assert_eq!(s, 201, "{net}");
    let net_id = net["network"]["id"].as_str().unwrap().to_owned();
    assert_eq!(net["network"]["tags"], json!(tags));
    out.push(("networks", net_id.clone()));
    let (s, sub) = tc
        .post(
            "/networking/v2.0/subnets",
            json!({"subnet": {"network_id": net_id, "cidr": "10.77.0.0/24", "ip_version": 4, "tags": tags}}),
        )
        .await;
    assert_eq!(s, 201, "{sub}");
    out.push(("subnets", sub["subnet"]["id"].as_str().unwrap().to_owned()));
    let (s, port) = tc
        .post(
            "/networking/v2.0/ports",
            json!({"port": {"network_id": net_id, "tags": tags}}),
        )
        .await;
    assert_eq!(s, 201, "{port}");
    out.push(("ports", port["port"]["id"].as_str().unwrap().to_owned()));
    let (s, sg) = tc
        .post(
            "/networking/v2.0/security-groups",
            json!({"security_group": {"name": "tagged", "tags": tags}}),
        )
        .await;
    assert_eq!(s, 201, "{sg}");
    out.push((
        "security-groups",
        sg["security_group"]["id"].as_str().unwrap().to_owned(),
    ));
    let (s, router) = tc
        .post(
            "/networking/v2.0/routers",
            json!({"router": {"name": "tagged", "tags": tags}}),
        )
        .await;
    assert_eq!(s, 201, "{router}");
    out.push((
        "routers",
        router["router"]["id"].as_str().unwrap().to_owned(),
    ));
    let ext = tc.get("/networking/v2.0/networks?name=ext-net").await;
    let ext_id = ext["networks"][0]["id"].as_str().unwrap().to_owned();
    let (s, fip) = tc
        .post(
            "/networking/v2.0/floatingips",
            json!({"floatingip": {"floating_network_id": ext_id, "tags": tags}}),
        )
        .await;
    assert_eq!(s, 201, "{fip}");
    out.push((
        "floatingips",
        fip["floatingip"]["id"].as_str().unwrap().to_owned(),
    ));
    out
}

/// The ids a filtered list of `collection` returns.
async fn ids(tc: &TestCloud, collection: &str, query: &str) -> Vec<String> {
    let v = tc
        .get(&format!("/networking/v2.0/{collection}?{query}"))
        .await;
    let key = collection.replace('-', "_");
    v[key.as_str()]
        .as_array()
        .unwrap_or_else(|| panic!("{collection}?{query}: {v}"))
        .iter()
        .filter_map(|x| x["id"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn tags_on_create_are_filtered_and_changed_through_the_tag_routes() {
    let tc = TestCloud::start().await;
    let resources = tagged_resources(&tc, &["red", "blue"]).await;
    for (collection, id) in &resources {
        let has = |list: Vec<String>| list.contains(id);
        assert!(has(ids(&tc, collection, "tags=red").await), "{collection}");
        assert!(
            has(ids(&tc, collection, "tags=red,blue").await),
            "{collection}"
        );
        assert!(
            !has(ids(&tc, collection, "tags=red,green").await),
            "{collection}"
        );
        assert!(
            has(ids(&tc, collection, "tags-any=green,blue").await),
            "{collection}"
        );
        assert!(
            !has(ids(&tc, collection, "tags-any=green").await),
            "{collection}"
        );
        assert!(
            !has(ids(&tc, collection, "not-tags=red,blue").await),
            "{collection}"
        );
        assert!(
            has(ids(&tc, collection, "not-tags=red,green").await),
            "{collection}"
        );
        assert!(
            !has(ids(&tc, collection, "not-tags-any=blue").await),
            "{collection}"
        );
        assert!(
            has(ids(&tc, collection, "not-tags-any=green").await),
            "{collection}"
        );

        let base = format!("/networking/v2.0/{collection}/{id}/tags");
        let (s, v) = tc
            .call(Method::PUT, &base, Some(r#"{"tags": ["x", "y", "x"]}"#))
            .await;
        assert_eq!((s, &v), (200, &json!({"tags": ["x", "y"]})), "{collection}");
        let (s, _) = tc.call(Method::PUT, &format!("{base}/z"), None).await;
        assert_eq!(s, 201, "{collection}");
        let (s, _) = tc.call(Method::GET, &format!("{base}/z"), None).await;
        assert_eq!(s, 204, "{collection}");
        let (s, _) = tc.call(Method::GET, &format!("{base}/red"), None).await;
        assert_eq!(s, 404, "{collection}: the old tags were replaced");
        let (s, _) = tc.call(Method::DELETE, &format!("{base}/x"), None).await;
        assert_eq!(s, 204, "{collection}");
        let (s, v) = tc.call(Method::DELETE, &format!("{base}/x"), None).await;
        assert_eq!(s, 404, "{collection}: {v}");
        assert_eq!(v["NeutronError"]["type"], "TagNotFound");
        let v = tc.get(&base).await;
        assert_eq!(v, json!({"tags": ["y", "z"]}), "{collection}");
        assert!(ids(&tc, collection, "tags=z").await.contains(id));
        let (s, _) = tc.call(Method::DELETE, &base, None).await;
        assert_eq!(s, 204, "{collection}");
        assert_eq!(tc.get(&base).await, json!({"tags": []}), "{collection}");
    }
}

#[tokio::test]
async fn bad_tags_and_unknown_resources_are_refused() {
    let tc = TestCloud::start().await;
    let long = "t".repeat(256);
    let (s, v) = tc
        .post(
            "/networking/v2.0/networks",
            json!({"network": {"name": "n", "tags": [long]}}),
        )
        .await;
    assert_eq!(s, 400, "{v}");
    let (s, v) = tc
        .post(
            "/networking/v2.0/networks",
            json!({"network": {"name": "n", "tags": [1]}}),
        )
        .await;
    assert_eq!(s, 400, "{v}");
    let (s, net) = tc
        .post(
            "/networking/v2.0/networks",
            json!({"network": {"name": "n"}}),
        )
        .await;
    assert_eq!(s, 201);
    let id = net["network"]["id"].as_str().unwrap();
    let (s, _) = tc
        .call(
            Method::PUT,
            &format!("/networking/v2.0/networks/{id}/tags"),
            Some(r#"{"tags": "notalist"}"#),
        )
        .await;
    assert_eq!(s, 400);
    let (s, _) = tc
        .call(
            Method::PUT,
            &format!("/networking/v2.0/networks/{id}/tags/a,b"),
            None,
        )
        .await;
    assert_eq!(s, 400, "a comma cannot be filtered on");
    let missing = "6a1c3b1e-0000-4000-8000-000000000000";
    let (s, v): (u16, Value) = tc
        .call(
            Method::PUT,
            &format!("/networking/v2.0/ports/{missing}/tags/a"),
            None,
        )
        .await;
    assert_eq!(s, 404, "{v}");
    assert_eq!(v["NeutronError"]["type"], "PortNotFound");
}
