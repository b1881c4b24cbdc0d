//! A subnet with DHCP enabled gets the network's `network:dhcp` port, as Neutron's DHCP agent
//! makes it: owner `network:dhcp`, an address from the pool on each DHCP-enabled subnet, gone
//! with the last one; it keeps neither a subnet nor the network from being deleted.

mod common;

use common::TestCloud;
use reqwest::Method;
use serde_json::{json, Value};

async fn dhcp_ports(tc: &TestCloud, net: &str) -> Vec<Value> {
    let v = tc
        .get(&format!("/networking/v2.0/ports?network_id={net}"))
        .await;
    v["ports"]
        .as_array()
        .expect("ports")
        .iter()
        .filter(|p| p["device_owner"] == "network:dhcp")
        .cloned()
        .collect()
}

fn subnet_ips(port: &Value, subnet: &str) -> Vec<String> {
    port["fixed_ips"]
        .as_array()
        .expect("fixed_ips")
        .iter()
        .filter(|f| f["subnet_id"] == subnet)
        .filter_map(|f| f["ip_address"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn dhcp_enabled_subnets_get_the_networks_dhcp_port() {
    let tc = TestCloud::start().await;
    let (net, sub) = tc.network("n", "10.4.0.0/24").await;
    let ports = dhcp_ports(&tc, &net).await;
    assert_eq!(ports.len(), 1, "{ports:?}");
    let dhcp = ports[0].clone();
    assert_eq!(dhcp["status"], "ACTIVE", "{dhcp}");
    assert_eq!(dhcp["project_id"], json!(tc.project_id), "{dhcp}");
    assert!(
        dhcp["device_id"]
            .as_str()
            .unwrap_or_default()
            .starts_with("dhcp")
            && dhcp["device_id"]
                .as_str()
                .unwrap_or_default()
                .ends_with(&net),
        "{dhcp}"
    );
    // An address from the pool (10.4.0.2–10.4.0.254), not the gateway's.
    assert_eq!(subnet_ips(&dhcp, &sub), ["10.4.0.254"], "{dhcp}");
    // A server's port still gets the first address of the pool.
    let (s, p) = tc
        .post(
            "/networking/v2.0/ports",
            json!({"port": {"network_id": net}}),
        )
        .await;
    assert_eq!(s, 201, "{p}");
    assert_eq!(p["port"]["fixed_ips"][0]["ip_address"], "10.4.0.2", "{p}");
    let port = p["port"]["id"].as_str().expect("id").to_owned();

    // A second subnet without DHCP adds nothing; enabling DHCP adds its address to the port.
    let (s, v) = tc
        .post("/networking/v2.0/subnets", json!({"subnet": {"network_id": net, "cidr": "10.5.0.0/28", "ip_version": 4, "enable_dhcp": false}}))
        .await;
    assert_eq!(s, 201, "{v}");
    let sub2 = v["subnet"]["id"].as_str().expect("id").to_owned();
    let ports = dhcp_ports(&tc, &net).await;
    assert_eq!(ports.len(), 1);
    assert!(subnet_ips(&ports[0], &sub2).is_empty(), "{ports:?}");
    let (s, v) = tc
        .call(
            Method::PUT,
            &format!("/networking/v2.0/subnets/{sub2}"),
            Some(r#"{"subnet": {"enable_dhcp": true}}"#),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let ports = dhcp_ports(&tc, &net).await;
    assert_eq!(ports.len(), 1);
    assert_eq!(ports[0]["id"], dhcp["id"], "one DHCP port per network");
    assert_eq!(subnet_ips(&ports[0], &sub2), ["10.5.0.14"], "{ports:?}");
    assert_eq!(subnet_ips(&ports[0], &sub), ["10.4.0.254"], "{ports:?}");

    // The DHCP address keeps no subnet: deleting it drops the address from the port.
    let (s, v) = tc
        .call(
            Method::DELETE,
            &format!("/networking/v2.0/subnets/{sub2}"),
            None,
        )
        .await;
    assert_eq!(s, 204, "{v}");
    let ports = dhcp_ports(&tc, &net).await;
    assert_eq!(ports.len(), 1);
    assert_eq!(
        ports[0]["fixed_ips"].as_array().map(Vec::len),
        Some(1),
        "{ports:?}"
    );

    // Disabling DHCP on the last subnet removes the port.
    let (s, v) = tc
        .call(
            Method::PUT,
            &format!("/networking/v2.0/subnets/{sub}"),
            Some(r#"{"subnet": {"enable_dhcp": false}}"#),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert!(dhcp_ports(&tc, &net).await.is_empty());
    let (s, _) = tc
        .call(
            Method::PUT,
            &format!("/networking/v2.0/subnets/{sub}"),
            Some(r#"{"subnet": {"enable_dhcp": true}}"#),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(dhcp_ports(&tc, &net).await.len(), 1);

    // Only the DHCP port left: the network can be deleted, and the port goes with it.
    let (s, _) = tc
        .call(
            Method::DELETE,
            &format!("/networking/v2.0/ports/{port}"),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (s, v) = tc
        .call(
            Method::DELETE,
            &format!("/networking/v2.0/networks/{net}"),
            None,
        )
        .await;
    assert_eq!(s, 204, "{v}");
    let all = tc.get("/networking/v2.0/ports").await;
    assert!(
        !all["ports"].to_string().contains(&net),
        "DHCP port left behind: {all}"
    );
}
