//! IPv6 subnets end to end, over real HTTP and real network namespaces: the Neutron API's
//! fields and errors (also through the real python-openstackclient), EUI-64 addresses on SLAAC
//! subnets, VMs reaching each other over IPv6, security groups enforced for IPv6, and two IPv6
//! subnets routed through a router.
//!
//! The data plane tests need root (CAP_NET_ADMIN, CAP_SYS_ADMIN), `ip` (iproute2), `nft`
//! (nftables) and `curl`; the client test needs the peers venv (`scripts/peers.sh`, or set
//! `VITRINA_PEERS_VENV`). A missing prerequisite fails the test and names what to install. Every
//! test drops its cloud, which removes its namespaces even on failure.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::TestCloud;
use reqwest::Method;
use serde_json::{json, Value};

/// The tools these tests run (name, Debian package).
const TOOLS: &[(&str, &str)] = &[("ip", "iproute2"), ("nft", "nftables"), ("curl", "curl")];

async fn cloud(third_octet: u8) -> TestCloud {
    TestCloud::isolated(third_octet, TOOLS).await
}

async fn poll<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The URL of port 8080 at an IPv6 address.
fn url6(addr: &str) -> String {
    format!("http://[{addr}]:8080/")
}

/// Output of `curl` run inside a namespace, or `None` when the request failed.
async fn curl_in(ns: &str, url: &str) -> Option<String> {
    let out = tokio::process::Command::new("ip")
        .args([
            "netns", "exec", ns, "curl", "-g", "-s", "-f", "-m", "2", url,
        ])
        .output()
        .await
        .expect("run curl in a namespace");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// `ip ARGS` inside a namespace; its output.
fn ip_in(ns: &str, args: &[&str]) -> String {
    let out = std::process::Command::new("ip")
        .args(["-n", ns])
        .args(args)
        .output()
        .expect("run ip");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// User data of a VM serving its name on port 8080 of every address, IPv4 and IPv6.
fn web(name: &str) -> String {
    format!("#!/bin/sh\necho {name} > index.html\nnohup python3 -m http.server 8080 --bind :: >/dev/null 2>&1 &\n")
}

async fn post(tc: &TestCloud, path: &str, body: Value) -> Value {
    let (s, v) = tc.post(path, body).await;
    assert!(s == 201 || s == 202 || s == 200, "POST {path}: {s} {v}");
    v
}

async fn network(tc: &TestCloud, name: &str) -> String {
    let n = post(
        tc,
        "/networking/v2.0/networks",
        json!({"network": {"name": name}}),
    )
    .await;
    n["network"]["id"].as_str().expect("id").to_owned()
}

/// An IPv6 subnet with `extra` fields; returns its body.
async fn subnet6(tc: &TestCloud, net: &str, cidr: &str, extra: Value) -> Value {
    let mut s = json!({"network_id": net, "cidr": cidr, "ip_version": 6});
    if let (Some(s), Some(e)) = (s.as_object_mut(), extra.as_object()) {
        s.extend(e.clone());
    }
    post(tc, "/networking/v2.0/subnets", json!({"subnet": s})).await["subnet"].clone()
}

async fn sg(tc: &TestCloud, name: &str) -> String {
    let v = post(
        tc,
        "/networking/v2.0/security-groups",
        json!({"security_group": {"name": name}}),
    )
    .await;
    v["security_group"]["id"].as_str().expect("id").to_owned()
}

async fn rule(tc: &TestCloud, rule: Value) -> String {
    let v = post(
        tc,
        "/networking/v2.0/security-group-rules",
        json!({"security_group_rule": rule}),
    )
    .await;
    v["security_group_rule"]["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

/// A port on `net` (addresses as Neutron gives them); returns its body.
async fn port(tc: &TestCloud, net: &str, sgs: Option<Vec<&str>>) -> Value {
    let mut p = json!({"network_id": net});
    if let Some(sgs) = sgs {
        p["security_groups"] = json!(sgs);
    }
    post(tc, "/networking/v2.0/ports", json!({"port": p})).await["port"].clone()
}

/// The port's address on `subnet`.
fn addr_on(port: &Value, subnet: &str) -> String {
    port["fixed_ips"]
        .as_array()
        .expect("fixed_ips")
        .iter()
        .find(|f| f["subnet_id"] == subnet)
        .and_then(|f| f["ip_address"].as_str())
        .unwrap_or_else(|| panic!("no address on {subnet}: {port}"))
        .to_owned()
}

/// The modified EUI-64 address of `mac` in a /64 written `prefix::`, as Neutron computes it.
fn eui64(prefix: &str, mac: &str) -> String {
    let b: Vec<u8> = mac
        .split(':')
        .map(|x| u8::from_str_radix(x, 16).expect("mac byte"))
        .collect();
    let net: std::net::Ipv6Addr = prefix.parse().expect("prefix");
    let iid = u64::from_be_bytes([b[0] ^ 2, b[1], b[2], 0xff, 0xfe, b[3], b[4], b[5]]);
    std::net::Ipv6Addr::from(u128::from(net) | u128::from(iid)).to_string()
}

/// Boots a web VM on a port and waits until it answers on `addr` inside its own namespace;
/// returns (server id, namespace).
async fn web_vm(tc: &TestCloud, name: &str, port: &str, addr: &str) -> (String, String) {
    use base64::Engine as _;
    let image = tc.base_image().await;
    let flavor = tc.flavor("Basic-1-2-20").await;
    let v = post(
        tc,
        "/compute/v2.1/servers",
        json!({"server": {"name": name, "flavorRef": flavor, "imageRef": image,
            "networks": [{"port": port}],
            "user_data": base64::engine::general_purpose::STANDARD.encode(web(name))}}),
    )
    .await;
    let id = v["server"]["id"].as_str().expect("id").to_owned();
    let path = format!("/compute/v2.1/servers/{id}");
    poll(
        &format!("{name} ACTIVE"),
        Duration::from_secs(30),
        || async {
            let (_, v) = tc.call(Method::GET, &path, None).await;
            assert_ne!(v["server"]["status"], "ERROR", "{v}");
            (v["server"]["status"] == "ACTIVE").then_some(())
        },
    )
    .await;
    let ns = tc.cloud.server_netns(&id).expect("isolated mode");
    let url = url6(addr);
    poll(
        &format!("{name} serving on {url} in its namespace"),
        Duration::from_secs(30),
        || curl_in(&ns, &url),
    )
    .await;
    (id, ns)
}

/// localcloud's nftables ruleset in a namespace.
fn ruleset(ns: &str) -> String {
    let out = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            ns,
            "nft",
            "list",
            "table",
            "inet",
            "localcloud",
        ])
        .output()
        .expect("nft list table");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn vms_on_a_dual_stack_network_reach_each_other_over_ipv6() {
    let tc = cloud(231).await;
    let net = network(&tc, "dual").await;
    let v4 = post(
        &tc,
        "/networking/v2.0/subnets",
        json!({"subnet": {"network_id": net, "cidr": "10.61.0.0/24", "ip_version": 4}}),
    )
    .await["subnet"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let v6 = subnet6(
        &tc,
        &net,
        "fd00:61::/64",
        json!({"ipv6_ra_mode": "slaac", "ipv6_address_mode": "slaac",
            "host_routes": [{"destination": "fd00:99::/64", "nexthop": "fd00:61::fe"}]}),
    )
    .await;
    let v6_id = v6["id"].as_str().expect("id").to_owned();
    // The default group: members reach each other over IPv4 and IPv6 (its IPv6 rules).
    let a = port(&tc, &net, None).await;
    let b = port(&tc, &net, None).await;
    // A port on a network with an IPv4 and an IPv6 subnet gets one address from each; the IPv6
    // one is the EUI-64 address of its MAC.
    for p in [&a, &b] {
        assert_eq!(p["fixed_ips"].as_array().map(Vec::len), Some(2), "{p}");
        let mac = p["mac_address"].as_str().expect("mac");
        assert_eq!(addr_on(p, &v6_id), eui64("fd00:61::", mac), "{p}");
    }
    let a6 = addr_on(&a, &v6_id);
    let b6 = addr_on(&b, &v6_id);
    let b4 = addr_on(&b, &v4);
    let (_, ns_a) = web_vm(&tc, "a", a["id"].as_str().expect("id"), &a6).await;
    let (_, ns_b) = web_vm(&tc, "b", b["id"].as_str().expect("id"), &b6).await;
    // The VM's interface carries its IPv6 address (no duplicate address detection pending).
    // (The link-local address may still be tentative; the global one never is.)
    let addrs = ip_in(&ns_a, &["-6", "addr", "show", "dev", "eth0"]);
    let global = addrs
        .lines()
        .find(|l| l.contains(&format!("{a6}/64")))
        .unwrap_or_else(|| panic!("{a6} not on eth0: {addrs}"));
    assert!(
        global.contains("nodad") && !global.contains("tentative"),
        "{addrs}"
    );
    // The subnet's IPv6 host route is a route in the VM.
    let routes = ip_in(&ns_a, &["-6", "route", "show"]);
    assert!(
        routes.contains("fd00:99::/64 via fd00:61::fe dev eth0"),
        "{routes}"
    );
    // Each reaches the other over IPv6, and over IPv4 as before.
    assert_eq!(curl_in(&ns_a, &url6(&b6)).await.as_deref(), Some("b"));
    assert_eq!(curl_in(&ns_b, &url6(&a6)).await.as_deref(), Some("a"));
    assert_eq!(
        curl_in(&ns_a, &format!("http://{b4}:8080/"))
            .await
            .as_deref(),
        Some("b")
    );
    // The metadata's network_data.json lists the IPv6 address as Nova does.
    let nd = curl_in(
        &ns_a,
        "http://169.254.169.254/openstack/latest/network_data.json",
    )
    .await
    .expect("network_data.json from the VM");
    let nd: Value = serde_json::from_str(&nd).expect("network_data.json is JSON");
    let entry = nd["networks"]
        .as_array()
        .expect("networks")
        .iter()
        .find(|n| n["ip_address"] == a6.as_str())
        .unwrap_or_else(|| panic!("{a6} not in {nd}"))
        .clone();
    assert_eq!(entry["type"], "ipv6_slaac", "{entry}");
    assert_eq!(entry["netmask"], "ffff:ffff:ffff:ffff::", "{entry}");
    // Nova shows both addresses with their versions.
    let servers = tc.get("/compute/v2.1/servers/detail").await;
    let versions: Vec<i64> = servers["servers"]
        .as_array()
        .expect("servers")
        .iter()
        .flat_map(|s| {
            s["addresses"]["dual"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|a| a["version"].as_i64())
        .collect();
    assert_eq!(
        (
            versions.iter().filter(|v| **v == 4).count(),
            versions.iter().filter(|v| **v == 6).count()
        ),
        (2, 2),
        "{servers}"
    );
    drop(tc);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn security_groups_apply_to_ipv6() {
    let tc = cloud(232).await;
    let net = network(&tc, "sg6").await;
    let v6 = subnet6(
        &tc,
        &net,
        "fd00:62::/64",
        json!({"ipv6_address_mode": "dhcpv6-stateful", "ipv6_ra_mode": "dhcpv6-stateful"}),
    )
    .await;
    let v6_id = v6["id"].as_str().expect("id").to_owned();
    // A new group has Neutron's two default egress rules: IPv4 and IPv6.
    let ssh = sg(&tc, "ssh-only").await;
    let g = tc
        .get(&format!("/networking/v2.0/security-groups/{ssh}"))
        .await;
    let mut egress: Vec<String> = g["security_group"]["security_group_rules"]
        .as_array()
        .expect("rules")
        .iter()
        .filter(|r| r["direction"] == "egress")
        .map(|r| r["ethertype"].as_str().unwrap_or_default().to_owned())
        .collect();
    egress.sort();
    assert_eq!(egress, ["IPv4", "IPv6"], "{g}");
    rule(&tc, json!({"security_group_id": ssh, "direction": "ingress", "ethertype": "IPv6", "protocol": "tcp", "port_range_min": 22, "port_range_max": 22}))
        .await;
    let a = port(&tc, &net, Some(vec![&ssh])).await;
    let b = port(&tc, &net, Some(vec![&ssh])).await;
    // Stateful subnets hand out addresses in order from the pool (::1 is the gateway).
    let a6 = addr_on(&a, &v6_id);
    let b6 = addr_on(&b, &v6_id);
    assert_eq!(
        [a6.as_str(), b6.as_str()],
        ["fd00:62::2", "fd00:62::3"],
        "{a} {b}"
    );
    let (_, ns_a) = web_vm(&tc, "a", a["id"].as_str().expect("id"), &a6).await;
    let (_, ns_b) = web_vm(&tc, "b", b["id"].as_str().expect("id"), &b6).await;
    let b_url = url6(&b6);
    assert_eq!(curl_in(&ns_a, &b_url).await, None, "8080 is closed on b");
    // An IPv4 rule for 8080 does not open it over IPv6.
    let v4_rule = rule(&tc, json!({"security_group_id": ssh, "direction": "ingress", "ethertype": "IPv4", "protocol": "tcp", "port_range_min": 8080, "port_range_max": 8080})).await;
    poll(
        "the IPv4 rule in b's ruleset",
        Duration::from_secs(10),
        || {
            let has = ruleset(&ns_b).contains("dport 8080");
            async move { has.then_some(()) }
        },
    )
    .await;
    assert_eq!(
        curl_in(&ns_a, &b_url).await,
        None,
        "an IPv4 rule leaves IPv6 closed"
    );
    // The IPv6 rule (from the subnet's prefix) opens it.
    let v6_rule = rule(&tc, json!({"security_group_id": ssh, "direction": "ingress", "ethertype": "IPv6", "protocol": "tcp", "port_range_min": 8000, "port_range_max": 8100, "remote_ip_prefix": "fd00:62::/64"})).await;
    poll(
        "8080 open over IPv6 after the rule",
        Duration::from_secs(10),
        || curl_in(&ns_a, &b_url),
    )
    .await;
    // Deleting it closes it again.
    for r in [&v6_rule, &v4_rule] {
        let (s, _) = tc
            .call(
                Method::DELETE,
                &format!("/networking/v2.0/security-group-rules/{r}"),
                None,
            )
            .await;
        assert_eq!(s, 204);
    }
    poll(
        "the rule gone from b's ruleset",
        Duration::from_secs(10),
        || {
            let gone = !ruleset(&ns_b).contains("8000-8100");
            async move { gone.then_some(()) }
        },
    )
    .await;
    assert_eq!(
        curl_in(&ns_a, &b_url).await,
        None,
        "8080 closed after the delete"
    );
    drop(tc);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_ipv6_subnets_are_routed_through_a_router() {
    let tc = cloud(233).await;
    let left = network(&tc, "left").await;
    let right = network(&tc, "right").await;
    let l6 = subnet6(
        &tc,
        &left,
        "fd00:63:1::/64",
        json!({"ipv6_ra_mode": "slaac", "ipv6_address_mode": "slaac"}),
    )
    .await;
    let r6 = subnet6(&tc, &right, "fd00:63:2::/64", json!({})).await;
    assert_eq!(l6["gateway_ip"], "fd00:63:1::1", "{l6}");
    assert_eq!(r6["gateway_ip"], "fd00:63:2::1", "{r6}");
    let router = post(
        &tc,
        "/networking/v2.0/routers",
        json!({"router": {"name": "r6"}}),
    )
    .await["router"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    for s in [&l6, &r6] {
        let (st, v) = tc
            .call(
                Method::PUT,
                &format!("/networking/v2.0/routers/{router}/add_router_interface"),
                Some(&json!({"subnet_id": s["id"]}).to_string()),
            )
            .await;
        assert_eq!(st, 200, "{v}");
    }
    // The router's interface on each subnet holds the subnet's gateway address.
    let ifaces = tc
        .get(&format!(
            "/networking/v2.0/ports?device_id={router}&device_owner=network:router_interface"
        ))
        .await;
    let mut held: Vec<String> = ifaces["ports"]
        .as_array()
        .expect("ports")
        .iter()
        .flat_map(|p| p["fixed_ips"].as_array().cloned().unwrap_or_default())
        .filter_map(|f| f["ip_address"].as_str().map(str::to_owned))
        .collect();
    held.sort();
    assert_eq!(held, ["fd00:63:1::1", "fd00:63:2::1"], "{ifaces}");
    // The default group admits its members over IPv6 from any subnet.
    let a = port(&tc, &left, None).await;
    let b = port(&tc, &right, None).await;
    let a6 = addr_on(&a, l6["id"].as_str().expect("id"));
    let b6 = addr_on(&b, r6["id"].as_str().expect("id"));
    assert_eq!(b6, "fd00:63:2::2", "{b}");
    let (_, ns_a) = web_vm(&tc, "a", a["id"].as_str().expect("id"), &a6).await;
    let (_, ns_b) = web_vm(&tc, "b", b["id"].as_str().expect("id"), &b6).await;
    // Each VM has its IPv6 default route through its subnet's gateway.
    poll("a's IPv6 default route", Duration::from_secs(10), || {
        let r = ip_in(&ns_a, &["-6", "route", "show", "default"]);
        async move { r.contains("via fd00:63:1::1").then_some(()) }
    })
    .await;
    let r = ip_in(&ns_b, &["-6", "route", "show", "default"]);
    assert!(r.contains("via fd00:63:2::1"), "{r}");
    // Across the router, both ways.
    let b_url = url6(&b6);
    poll(
        "a reaches b through the router",
        Duration::from_secs(10),
        || curl_in(&ns_a, &b_url),
    )
    .await;
    assert_eq!(curl_in(&ns_b, &url6(&a6)).await.as_deref(), Some("a"));
    // Without the router's interface on the right subnet, the route is gone and b unreachable.
    let (st, v) = tc
        .call(
            Method::PUT,
            &format!("/networking/v2.0/routers/{router}/remove_router_interface"),
            Some(&json!({"subnet_id": r6["id"]}).to_string()),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    poll(
        "b's IPv6 default route gone",
        Duration::from_secs(10),
        || {
            let r = ip_in(&ns_b, &["-6", "route", "show", "default"]);
            async move { (!r.contains("via")).then_some(()) }
        },
    )
    .await;
    assert_eq!(curl_in(&ns_a, &url6(&b6)).await, None);
    drop(tc);
}

fn openstack_cli() -> PathBuf {
    let venv = std::env::var_os("VITRINA_PEERS_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv-peers"));
    let bin = venv.join("bin/openstack");
    assert!(bin.exists(), "python-openstackclient is missing at {}: run `scripts/peers.sh` (or set VITRINA_PEERS_VENV to a venv with python-openstackclient)", bin.display());
    bin
}

/// Runs `openstack ARGS`; returns (success, stdout, stderr).
async fn os(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let mut cmd = tokio::process::Command::new(openstack_cli());
    cmd.args(args)
        .env("OS_CLIENT_CONFIG_FILE", dir.join("clouds.yaml"))
        .env("OS_CLOUD", "localcloud")
        .env_remove("OS_AUTH_URL")
        .current_dir(dir)
        .stdin(std::process::Stdio::null());
    let out = cmd.output().await.expect("run openstack");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn os_json(dir: &Path, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.extend(["-f", "json"]);
    let (ok, out, err) = os(dir, &a).await;
    assert!(ok, "openstack {args:?} failed: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("openstack {args:?}: {e}: {out}"))
}

/// `openstack ARGS` fails; returns its stderr.
async fn os_fails(dir: &Path, args: &[&str]) -> String {
    let (ok, out, err) = os(dir, args).await;
    assert!(!ok, "openstack {args:?} succeeded: {out}");
    err
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_subnet_fields_and_errors_with_openstackclient() {
    let tc = TestCloud::start().await;
    let dir = tc.dir.path().to_path_buf();
    os_json(&dir, &["network", "create", "v6net"]).await;
    // A SLAAC subnet: modes stored and shown, gateway ::1, the pool from ::2 to the end.
    let sub = os_json(
        &dir,
        &[
            "subnet",
            "create",
            "--network",
            "v6net",
            "--ip-version",
            "6",
            "--ipv6-ra-mode",
            "slaac",
            "--ipv6-address-mode",
            "slaac",
            "--subnet-range",
            "fd00:70::/64",
            "slaac6",
        ],
    )
    .await;
    assert_eq!(sub["ip_version"], 6, "{sub}");
    assert_eq!(sub["ipv6_ra_mode"], "slaac", "{sub}");
    assert_eq!(sub["ipv6_address_mode"], "slaac", "{sub}");
    assert_eq!(sub["gateway_ip"], "fd00:70::1", "{sub}");
    assert_eq!(sub["cidr"], "fd00:70::/64", "{sub}");
    let pools = sub["allocation_pools"].to_string();
    assert!(
        pools.contains("fd00:70::2") && pools.contains("fd00:70::ffff:ffff:ffff:ffff"),
        "{sub}"
    );
    let shown = os_json(&dir, &["subnet", "show", "slaac6"]).await;
    assert_eq!(shown["ipv6_address_mode"], "slaac", "{shown}");
    // A port gets the EUI-64 address of its MAC, as Neutron computes it.
    let port = os_json(&dir, &["port", "create", "--network", "v6net", "p1"]).await;
    let mac = port["mac_address"].as_str().expect("mac");
    let ips = port["fixed_ips"].to_string();
    assert!(ips.contains(&eui64("fd00:70::", mac)), "{port}");
    // With a MAC of the user's choosing, from that MAC.
    let port = os_json(
        &dir,
        &[
            "port",
            "create",
            "--network",
            "v6net",
            "--mac-address",
            "fa:16:3e:12:34:56",
            "p2",
        ],
    )
    .await;
    assert!(
        port["fixed_ips"]
            .to_string()
            .contains("fd00:70::f816:3eff:fe12:3456"),
        "{port}"
    );
    // A stateful subnet and a subnet without modes hand out addresses in order.
    os_json(&dir, &["network", "create", "statenet"]).await;
    let st = os_json(
        &dir,
        &[
            "subnet",
            "create",
            "--network",
            "statenet",
            "--ip-version",
            "6",
            "--ipv6-ra-mode",
            "dhcpv6-stateful",
            "--ipv6-address-mode",
            "dhcpv6-stateful",
            "--subnet-range",
            "fd00:71::/64",
            "--allocation-pool",
            "start=fd00:71::100,end=fd00:71::1ff",
            "st6",
        ],
    )
    .await;
    assert_eq!(st["ipv6_address_mode"], "dhcpv6-stateful", "{st}");
    let p = os_json(&dir, &["port", "create", "--network", "statenet", "s1"]).await;
    assert!(p["fixed_ips"].to_string().contains("fd00:71::100"), "{p}");
    let none = os_json(
        &dir,
        &[
            "subnet",
            "create",
            "--network",
            "statenet",
            "--ip-version",
            "6",
            "--subnet-range",
            "fd00:72::/80",
            "plain6",
        ],
    )
    .await;
    assert!(none["ipv6_ra_mode"].is_null(), "{none}");
    assert!(none["ipv6_address_mode"].is_null(), "{none}");
    // Errors, with Neutron's messages.
    let err = os_fails(
        &dir,
        &[
            "subnet",
            "create",
            "--network",
            "v6net",
            "--ip-version",
            "4",
            "--subnet-range",
            "fd00:73::/64",
            "mismatch",
        ],
    )
    .await;
    assert!(
        err.contains("cidr 'fd00:73::/64' does not match the ip_version '4'"),
        "{err}"
    );
    let err = os_fails(
        &dir,
        &[
            "subnet",
            "create",
            "--network",
            "v6net",
            "--ip-version",
            "6",
            "--subnet-range",
            "fd00:70::/48",
            "overlap",
        ],
    )
    .await;
    assert!(err.contains("overlaps with another subnet"), "{err}");
    let err = os_fails(
        &dir,
        &[
            "subnet",
            "create",
            "--network",
            "v6net",
            "--ip-version",
            "6",
            "--ipv6-ra-mode",
            "slaac",
            "--ipv6-address-mode",
            "slaac",
            "--subnet-range",
            "fd00:74::/80",
            "long",
        ],
    )
    .await;
    assert!(
        err.contains("Invalid CIDR fd00:74::/80 for IPv6 address mode"),
        "{err}"
    );
    let err = os_fails(
        &dir,
        &[
            "subnet",
            "create",
            "--network",
            "v6net",
            "--ip-version",
            "6",
            "--ipv6-ra-mode",
            "slaac",
            "--ipv6-address-mode",
            "dhcpv6-stateful",
            "--subnet-range",
            "fd00:75::/64",
            "mixed",
        ],
    )
    .await;
    assert!(err.contains("they must be the same value"), "{err}");
    drop(tc);
}

#[tokio::test]
async fn ipv6_api_errors_and_allocation_over_http() {
    let tc = TestCloud::start().await;
    let net = network(&tc, "api6").await;
    let bad = |body: Value| {
        let tc = &tc;
        async move {
            let (s, v) = tc
                .post("/networking/v2.0/subnets", json!({"subnet": body}))
                .await;
            assert_eq!(s, 400, "{v}");
            v["NeutronError"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        }
    };
    let m = bad(json!({"network_id": net, "cidr": "10.9.0.0/24", "ip_version": 6})).await;
    assert_eq!(
        m,
        "Invalid input for operation: cidr '10.9.0.0/24' does not match the ip_version '6'."
    );
    let m = bad(
        json!({"network_id": net, "cidr": "10.9.0.0/24", "ip_version": 4, "ipv6_ra_mode": "slaac"}),
    )
    .await;
    assert_eq!(
        m,
        "Invalid input for operation: ipv6_ra_mode is not valid when ip_version is 4."
    );
    let m = bad(json!({"network_id": net, "cidr": "fd00:80::/64", "ip_version": 6, "ipv6_address_mode": "dhcp"})).await;
    assert!(m.contains("'dhcp' is not in"), "{m}");
    let m = bad(json!({"network_id": net, "cidr": "fd00:80::/64", "ip_version": 6, "ipv6_address_mode": "slaac", "enable_dhcp": false})).await;
    assert!(
        m.contains("cannot be set when enable_dhcp is set to False"),
        "{m}"
    );
    let m = bad(json!({"network_id": net, "cidr": "fd00:80::/64", "ip_version": 6, "allocation_pools": [{"start": "fd00:81::2", "end": "fd00:81::9"}]})).await;
    assert!(m.contains("spans beyond the subnet cidr"), "{m}");
    let m = bad(json!({"network_id": net, "cidr": "fd00:80::/64", "ip_version": 6, "gateway_ip": "10.0.0.1"})).await;
    assert!(m.contains("does not match the ip_version '6'"), "{m}");
    // IPv6 host routes, on create and on update; an IPv4 next hop is refused.
    let routed = subnet6(
        &tc,
        &net,
        "fd00:82::/64",
        json!({"host_routes": [{"destination": "fd00:90::/64", "nexthop": "fd00:82::9"}]}),
    )
    .await;
    assert_eq!(
        routed["host_routes"][0]["nexthop"], "fd00:82::9",
        "{routed}"
    );
    let path = format!(
        "/networking/v2.0/subnets/{}",
        routed["id"].as_str().expect("id")
    );
    let (s, v) = tc
        .call(
            Method::PUT,
            &path,
            Some(&json!({"subnet": {"host_routes": [{"destination": "fd00:91::/64", "nexthop": "fd00:82::a"}]}}).to_string()),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["subnet"]["host_routes"][0]["destination"], "fd00:91::/64",
        "{v}"
    );
    let (s, v) = tc
        .call(
            Method::PUT,
            &path,
            Some(&json!({"subnet": {"host_routes": [{"destination": "fd00:91::/64", "nexthop": "10.0.0.1"}]}}).to_string()),
        )
        .await;
    assert_eq!(s, 400, "{v}");
    // A SLAAC subnet refuses a chosen address for a port (router interfaces excepted).
    let sub = subnet6(
        &tc,
        &net,
        "fd00:80::/64",
        json!({"ipv6_address_mode": "dhcpv6-stateless", "ipv6_ra_mode": "dhcpv6-stateless", "gateway_ip": "fd00:80::fe"}),
    )
    .await;
    assert_eq!(sub["gateway_ip"], "fd00:80::fe");
    let pools = sub["allocation_pools"].as_array().expect("pools").clone();
    assert_eq!(pools.len(), 2, "split around the gateway: {sub}");
    let (s, v) = tc
        .post(
            "/networking/v2.0/ports",
            json!({"port": {"network_id": net, "fixed_ips": [{"ip_address": "fd00:80::5"}]}}),
        )
        .await;
    assert_eq!(s, 400, "{v}");
    assert!(
        v["NeutronError"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("configured for automatic addresses"),
        "{v}"
    );
    // Floating IPs stay IPv4: a port with only an IPv6 address cannot have one.
    let p6 = port(&tc, &net, None).await;
    // (One address from the subnet without a mode, its EUI-64 address on the stateless one.)
    let addrs: Vec<&str> = p6["fixed_ips"]
        .as_array()
        .expect("fixed_ips")
        .iter()
        .filter_map(|f| f["ip_address"].as_str())
        .collect();
    assert_eq!(addrs.len(), 2, "{p6}");
    assert!(addrs.iter().all(|a| a.contains(':')), "{p6}");
    let ext = tc.get("/networking/v2.0/networks?name=ext-net").await["networks"][0]["id"]
        .as_str()
        .expect("ext-net")
        .to_owned();
    let fip = post(
        &tc,
        "/networking/v2.0/floatingips",
        json!({"floatingip": {"floating_network_id": ext}}),
    )
    .await["floatingip"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (s, v) = tc
        .call(
            Method::PUT,
            &format!("/networking/v2.0/floatingips/{fip}"),
            Some(&json!({"floatingip": {"port_id": p6["id"]}}).to_string()),
        )
        .await;
    assert_eq!(s, 400, "{v}");
    assert!(
        v["NeutronError"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("does not have any IPv4 address"),
        "{v}"
    );
    drop(tc);
}
