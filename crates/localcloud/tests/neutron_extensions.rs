//! Neutron's optional extensions over real HTTP: RBAC policies that share a network with one
//! project (and no other), QoS policies and their rules, address scopes and subnet pools, trunks
//! and sub-ports, router extra routes, IP availability and the extension list.

mod common;

use common::TestCloud;
use reqwest::Method;
use serde_json::{json, Value};

async fn admin_token(tc: &TestCloud) -> String {
    let creds = tc.cloud.credentials();
    tc.password_token(&creds.admin.username, &creds.admin.password, "admin")
        .await
}

async fn send(
    tc: &TestCloud,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let body = body.map(|b| b.to_string());
    tc.call_as(token, method, path, body.as_deref()).await
}

/// Makes project `name` with user `name` holding `member` there; returns a token scoped to it.
async fn tenant(tc: &TestCloud, admin: &str, name: &str) -> (String, String) {
    let (s, p) = send(
        tc,
        admin,
        Method::POST,
        "/identity/v3/projects",
        Some(json!({"project": {"name": name}})),
    )
    .await;
    assert_eq!(s, 201, "{p}");
    let pid = p["project"]["id"].as_str().expect("project id").to_owned();
    let password = format!("{name}-secret-pw");
    let (s, u) = send(
        tc,
        admin,
        Method::POST,
        "/identity/v3/users",
        Some(json!({"user": {"name": name, "password": password, "default_project_id": pid}})),
    )
    .await;
    assert_eq!(s, 201, "{u}");
    let uid = u["user"]["id"].as_str().expect("user id").to_owned();
    let (_, roles) = send(
        tc,
        admin,
        Method::GET,
        "/identity/v3/roles?name=member",
        None,
    )
    .await;
    let rid = roles["roles"][0]["id"]
        .as_str()
        .expect("member role")
        .to_owned();
    let (s, v) = send(
        tc,
        admin,
        Method::PUT,
        &format!("/identity/v3/projects/{pid}/users/{uid}/roles/{rid}"),
        None,
    )
    .await;
    assert_eq!(s, 204, "{v}");
    (pid, tc.password_token(name, &password, name).await)
}

fn ids(v: &Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn rbac_shares_a_network_with_its_target_project_only() {
    let tc = TestCloud::start().await;
    let admin = admin_token(&tc).await;
    let demo = tc.token.clone();
    let (bob_project, bob) = tenant(&tc, &admin, "bob").await;
    let (_, carol) = tenant(&tc, &admin, "carol").await;
    let (net, _) = tc.network("to-share", "10.41.0.0/24").await;
    let net_path = format!("/networking/v2.0/networks/{net}");

    // Before the policy, neither bob nor carol sees the network.
    for token in [&bob, &carol] {
        let (s, _) = send(&tc, token, Method::GET, &net_path, None).await;
        assert_eq!(s, 404);
    }
    // Only the network's owner can share it: bob gets a 404 for demo's network.
    let policy = json!({"rbac_policy": {"object_type": "network", "object_id": net,
        "action": "access_as_shared", "target_tenant": bob_project}});
    let (s, v) = send(
        &tc,
        &bob,
        Method::POST,
        "/networking/v2.0/rbac-policies",
        Some(policy.clone()),
    )
    .await;
    assert_eq!(s, 404, "{v}");
    let (s, v) = send(
        &tc,
        &demo,
        Method::POST,
        "/networking/v2.0/rbac-policies",
        Some(policy.clone()),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let rbac = v["rbac_policy"]["id"].as_str().expect("rbac id").to_owned();
    assert_eq!(v["rbac_policy"]["target_tenant"], bob_project.as_str());
    let (s, v) = send(
        &tc,
        &demo,
        Method::POST,
        "/networking/v2.0/rbac-policies",
        Some(policy),
    )
    .await;
    assert_eq!(s, 409, "a second identical policy: {v}");

    // Bob now sees the network (by ID and in lists) and can put a port on it; carol does not.
    let (s, v) = send(&tc, &bob, Method::GET, &net_path, None).await;
    assert_eq!(s, 200, "{v}");
    let (_, v) = send(&tc, &bob, Method::GET, "/networking/v2.0/networks", None).await;
    assert!(ids(&v, "networks").contains(&net), "{v}");
    let (s, v) = send(
        &tc,
        &bob,
        Method::POST,
        "/networking/v2.0/ports",
        Some(json!({"port": {"network_id": net}})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let bob_port = v["port"]["id"].as_str().expect("port").to_owned();
    let (s, _) = send(&tc, &carol, Method::GET, &net_path, None).await;
    assert_eq!(s, 404);
    let (_, v) = send(&tc, &carol, Method::GET, "/networking/v2.0/networks", None).await;
    assert!(!ids(&v, "networks").contains(&net), "{v}");
    // Bob cannot see or change the policy itself.
    let (s, _) = send(
        &tc,
        &bob,
        Method::GET,
        &format!("/networking/v2.0/rbac-policies/{rbac}"),
        None,
    )
    .await;
    assert_eq!(s, 404);

    // Deleting the policy takes the network away from bob again.
    let (s, _) = send(
        &tc,
        &bob,
        Method::DELETE,
        &format!("/networking/v2.0/ports/{bob_port}"),
        None,
    )
    .await;
    assert_eq!(s, 204);
    let (s, v) = send(
        &tc,
        &demo,
        Method::DELETE,
        &format!("/networking/v2.0/rbac-policies/{rbac}"),
        None,
    )
    .await;
    assert_eq!(s, 204, "{v}");
    let (s, _) = send(&tc, &bob, Method::GET, &net_path, None).await;
    assert_eq!(s, 404);

    // A policy for every project (`*`) shares it with carol too; deleting the network drops it.
    let (s, v) = send(&tc, &demo, Method::POST, "/networking/v2.0/rbac-policies", Some(json!({"rbac_policy": {"object_type": "network", "object_id": net, "action": "access_as_shared", "target_tenant": "*"}}))).await;
    assert_eq!(s, 201, "{v}");
    let (s, _) = send(&tc, &carol, Method::GET, &net_path, None).await;
    assert_eq!(s, 200);
    let (s, _) = send(&tc, &demo, Method::DELETE, &net_path, None).await;
    assert_eq!(s, 204);
    let (_, v) = send(
        &tc,
        &admin,
        Method::GET,
        "/networking/v2.0/rbac-policies",
        None,
    )
    .await;
    assert!(
        v["rbac_policies"]
            .as_array()
            .is_some_and(|a| a.iter().all(|p| p["object_id"] != net.as_str())),
        "{v}"
    );
}

#[tokio::test]
async fn qos_policies_keep_their_rules_and_check_them() {
    let tc = TestCloud::start().await;
    let admin = admin_token(&tc).await;
    let (_, bob) = tenant(&tc, &admin, "bob").await;
    let (s, v) = tc
        .post(
            "/networking/v2.0/qos/policies",
            json!({"policy": {"name": "gold"}}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let policy = v["policy"]["id"].as_str().expect("policy").to_owned();
    let rules = format!("/networking/v2.0/qos/policies/{policy}/bandwidth_limit_rules");
    let (s, v) = tc
        .post(&rules, json!({"bandwidth_limit_rule": {"max_kbps": 10000}}))
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["bandwidth_limit_rule"]["direction"], "egress");
    assert_eq!(v["bandwidth_limit_rule"]["max_burst_kbps"], 0);
    let rule = v["bandwidth_limit_rule"]["id"]
        .as_str()
        .expect("rule")
        .to_owned();
    // One rule of a type per direction.
    let (s, v) = tc
        .post(&rules, json!({"bandwidth_limit_rule": {"max_kbps": 5}}))
        .await;
    assert_eq!(s, 409, "{v}");
    let (s, v) = tc
        .post(
            &rules,
            json!({"bandwidth_limit_rule": {"max_kbps": 5, "direction": "ingress"}}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = tc
        .post(
            &format!("/networking/v2.0/qos/policies/{policy}/dscp_marking_rules"),
            json!({"dscp_marking_rule": {"dscp_mark": 7}}),
        )
        .await;
    assert_eq!(s, 400, "an odd DSCP mark: {v}");
    let (s, v) = tc
        .post(
            &format!("/networking/v2.0/qos/policies/{policy}/dscp_marking_rules"),
            json!({"dscp_marking_rule": {"dscp_mark": 8}}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = tc
        .call(
            Method::PUT,
            &format!("{rules}/{rule}"),
            Some(&json!({"bandwidth_limit_rule": {"max_kbps": 15000}}).to_string()),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["bandwidth_limit_rule"]["max_kbps"], 15000);

    // The policy lists its three rules with their types.
    let v = tc
        .get(&format!("/networking/v2.0/qos/policies/{policy}"))
        .await;
    let mut types: Vec<&str> = v["policy"]["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .filter_map(|r| r["type"].as_str())
        .collect();
    types.sort_unstable();
    assert_eq!(
        types,
        ["bandwidth_limit", "bandwidth_limit", "dscp_marking"],
        "{v}"
    );

    // Another project sees the policy once it is shared, and cannot change it.
    let path = format!("/networking/v2.0/qos/policies/{policy}");
    let (s, _) = send(&tc, &bob, Method::GET, &path, None).await;
    assert_eq!(s, 404);
    let (s, v) = tc
        .call(Method::PUT, &path, Some(r#"{"policy": {"shared": true}}"#))
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, _) = send(&tc, &bob, Method::GET, &path, None).await;
    assert_eq!(s, 200);
    let (s, _) = send(&tc, &bob, Method::DELETE, &path, None).await;
    assert_eq!(s, 403);

    // Deleting the policy deletes its rules.
    let (s, _) = tc.call(Method::DELETE, &path, None).await;
    assert_eq!(s, 204);
    let (s, _) = tc.call(Method::GET, &format!("{rules}/{rule}"), None).await;
    assert_eq!(s, 404);
    let types = tc.get("/networking/v2.0/qos/rule-types").await;
    assert_eq!(
        types["rule_types"].as_array().map(Vec::len),
        Some(5),
        "{types}"
    );
}

#[tokio::test]
async fn subnet_pools_check_their_prefixes_and_address_scopes() {
    let tc = TestCloud::start().await;
    let (s, v) = tc
        .post(
            "/networking/v2.0/address-scopes",
            json!({"address_scope": {"name": "corp", "ip_version": 4}}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let scope = v["address_scope"]["id"].as_str().expect("scope").to_owned();
    let (s, v) = tc
        .post("/networking/v2.0/subnetpools", json!({"subnetpool": {"name": "p1", "prefixes": ["10.20.5.0/16"], "address_scope_id": scope}}))
        .await;
    assert_eq!(s, 201, "{v}");
    let pool = &v["subnetpool"];
    assert_eq!(
        pool["prefixes"],
        json!(["10.20.0.0/16"]),
        "prefixes are kept in canonical form"
    );
    assert_eq!(pool["ip_version"], 4);
    assert_eq!(pool["min_prefixlen"], 8);
    assert_eq!(pool["default_prefixlen"], 8);
    assert_eq!(pool["max_prefixlen"], 32);
    let pool = pool["id"].as_str().expect("pool").to_owned();
    // A pool overlapping another of the same scope, or of the other IP version, is refused.
    let (s, v) = tc
        .post("/networking/v2.0/subnetpools", json!({"subnetpool": {"name": "p2", "prefixes": ["10.20.128.0/17"], "address_scope_id": scope}}))
        .await;
    assert_eq!(s, 400, "{v}");
    let (s, v) = tc
        .post("/networking/v2.0/subnetpools", json!({"subnetpool": {"name": "p3", "prefixes": ["fd00::/48"], "address_scope_id": scope}}))
        .await;
    assert_eq!(s, 400, "{v}");
    // Prefixes are added to, never taken away.
    let path = format!("/networking/v2.0/subnetpools/{pool}");
    let (s, v) = tc
        .call(
            Method::PUT,
            &path,
            Some(r#"{"subnetpool": {"prefixes": ["10.20.0.0/16", "10.30.0.0/16"]}}"#),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["subnetpool"]["prefixes"],
        json!(["10.20.0.0/16", "10.30.0.0/16"])
    );
    let (s, v) = tc
        .call(
            Method::PUT,
            &path,
            Some(r#"{"subnetpool": {"prefixes": ["10.30.0.0/16"]}}"#),
        )
        .await;
    assert_eq!(s, 400, "{v}");
    let (s, v) = tc
        .call(
            Method::PUT,
            &path,
            Some(r#"{"subnetpool": {"min_prefixlen": 24, "default_prefixlen": 20}}"#),
        )
        .await;
    assert_eq!(s, 400, "a default below the minimum: {v}");
    // A scope with pools is not deleted.
    let scope_path = format!("/networking/v2.0/address-scopes/{scope}");
    let (s, v) = tc.call(Method::DELETE, &scope_path, None).await;
    assert_eq!(s, 409, "{v}");
    let (s, _) = tc.call(Method::DELETE, &path, None).await;
    assert_eq!(s, 204);
    let (s, _) = tc.call(Method::DELETE, &scope_path, None).await;
    assert_eq!(s, 204);
}

#[tokio::test]
async fn trunks_take_each_port_once() {
    let tc = TestCloud::start().await;
    let (net, _) = tc.network("trunked", "10.42.0.0/24").await;
    let mut ports = Vec::new();
    for _ in 0..3 {
        let (s, v) = tc
            .post(
                "/networking/v2.0/ports",
                json!({"port": {"network_id": net}}),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        ports.push(v["port"]["id"].as_str().expect("port").to_owned());
    }
    let (s, v) = tc
        .post("/networking/v2.0/trunks", json!({"trunk": {"name": "t1", "port_id": ports[0],
            "sub_ports": [{"port_id": ports[1], "segmentation_type": "vlan", "segmentation_id": 42}]}}))
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["trunk"]["status"], "DOWN");
    let trunk = v["trunk"]["id"].as_str().expect("trunk").to_owned();
    // A sub-port cannot parent another trunk; a VLAN id is used once per trunk.
    let (s, v) = tc
        .post(
            "/networking/v2.0/trunks",
            json!({"trunk": {"port_id": ports[1]}}),
        )
        .await;
    assert_eq!(s, 409, "{v}");
    let add = format!("/networking/v2.0/trunks/{trunk}/add_subports");
    let (s, v) = tc
        .call(Method::PUT, &add, Some(&json!({"sub_ports": [{"port_id": ports[2], "segmentation_type": "vlan", "segmentation_id": 42}]}).to_string()))
        .await;
    assert_eq!(s, 409, "{v}");
    let (s, v) = tc
        .call(Method::PUT, &add, Some(&json!({"sub_ports": [{"port_id": ports[2], "segmentation_type": "vlan", "segmentation_id": 43}]}).to_string()))
        .await;
    assert_eq!(s, 200, "{v}");
    let v = tc
        .get(&format!("/networking/v2.0/trunks/{trunk}/get_subports"))
        .await;
    assert_eq!(v["sub_ports"].as_array().map(Vec::len), Some(2), "{v}");
    let (s, v) = tc
        .call(
            Method::PUT,
            &format!("/networking/v2.0/trunks/{trunk}/remove_subports"),
            Some(&json!({"sub_ports": [{"port_id": ports[1]}]}).to_string()),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["sub_ports"],
        json!([{"port_id": ports[2], "segmentation_type": "vlan", "segmentation_id": 43}])
    );
    let (s, _) = tc
        .call(
            Method::DELETE,
            &format!("/networking/v2.0/trunks/{trunk}"),
            None,
        )
        .await;
    assert_eq!(s, 204);
}

#[tokio::test]
async fn extra_routes_need_a_nexthop_on_the_router() {
    let tc = TestCloud::start().await;
    let (_, subnet) = tc.network("routed", "10.43.0.0/24").await;
    let (s, v) = tc
        .post("/networking/v2.0/routers", json!({"router": {"name": "r"}}))
        .await;
    assert_eq!(s, 201, "{v}");
    let router = v["router"]["id"].as_str().expect("router").to_owned();
    let (s, v) = tc
        .call(
            Method::PUT,
            &format!("/networking/v2.0/routers/{router}/add_router_interface"),
            Some(&json!({"subnet_id": subnet}).to_string()),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let add = format!("/networking/v2.0/routers/{router}/add_extraroutes");
    let (s, v) = tc
        .call(Method::PUT, &add, Some(r#"{"router": {"routes": [{"destination": "192.168.7.0/24", "nexthop": "10.99.0.1"}]}}"#))
        .await;
    assert_eq!(s, 400, "a nexthop off the router's subnets: {v}");
    assert!(v.to_string().contains("InvalidRoutes"), "{v}");
    let (s, v) = tc
        .call(Method::PUT, &add, Some(r#"{"router": {"routes": [{"destination": "192.168.7.9/24", "nexthop": "10.43.0.5"}]}}"#))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["router"]["routes"],
        json!([{"destination": "192.168.7.0/24", "nexthop": "10.43.0.5"}])
    );
    let v = tc.get(&format!("/networking/v2.0/routers/{router}")).await;
    assert_eq!(
        v["router"]["routes"].as_array().map(Vec::len),
        Some(1),
        "{v}"
    );
    let (s, v) = tc
        .call(Method::PUT, &format!("/networking/v2.0/routers/{router}/remove_extraroutes"), Some(r#"{"router": {"routes": [{"destination": "192.168.7.0/24", "nexthop": "10.43.0.5"}]}}"#))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["router"]["routes"], json!([]));
}

#[tokio::test]
async fn ip_availability_counts_ports_and_extensions_list_what_is_kept() {
    let tc = TestCloud::start().await;
    let admin = admin_token(&tc).await;
    let (net, _) = tc.network("counted", "10.44.0.0/24").await;
    for _ in 0..2 {
        let (s, v) = tc
            .post(
                "/networking/v2.0/ports",
                json!({"port": {"network_id": net}}),
            )
            .await;
        assert_eq!(s, 201, "{v}");
    }
    let (s, v) = send(
        &tc,
        &admin,
        Method::GET,
        &format!("/networking/v2.0/network-ip-availabilities/{net}"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let a = &v["network_ip_availability"];
    let pool_size = a["subnet_ip_availability"][0]["total_ips"]
        .as_u64()
        .expect("total");
    assert!((250..=254).contains(&pool_size), "{v}");
    let used = a["used_ips"].as_u64().expect("used");
    assert!(used >= 2, "two ports (and the DHCP port): {v}");
    // Members get the policy 403.
    let (s, _) = tc
        .call(
            Method::GET,
            "/networking/v2.0/network-ip-availabilities",
            None,
        )
        .await;
    assert_eq!(s, 403);
    let v = tc.get("/networking/v2.0/extensions").await;
    let aliases: Vec<&str> = v["extensions"]
        .as_array()
        .expect("extensions")
        .iter()
        .filter_map(|e| e["alias"].as_str())
        .collect();
    for alias in [
        "qos",
        "rbac-policies",
        "subnet_allocation",
        "address-scope",
        "trunk",
        "segment",
        "metering",
        "flavors",
        "extraroute",
        "network-ip-availability",
    ] {
        assert!(aliases.contains(&alias), "{alias} missing from {aliases:?}");
    }
}
