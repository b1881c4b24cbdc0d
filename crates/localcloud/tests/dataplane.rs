//! The data plane over real HTTP and real network namespaces: per-VM namespaces on per-network
//! bridges, security groups in nftables, routers with SNAT and floating IPs, cleanup and
//! reconcile. Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN), `ip` (iproute2), `nft` (nftables) and
//! `curl`. All traffic stays inside the namespaces these tests make, and the one link on the
//! machine they make (the external network's), which `TestCloud`'s drop removes even on failure.

mod common;

use std::time::{Duration, Instant};

use common::TestCloud;
use reqwest::Method;
use serde_json::{json, Value};

/// The tools these tests run (name, Debian package).
const TOOLS: &[(&str, &str)] = &[("ip", "iproute2"), ("nft", "nftables"), ("curl", "curl")];

async fn cloud(third_octet: u8) -> TestCloud {
    TestCloud::isolated(third_octet, TOOLS).await
}

/// Output of `curl` run inside a namespace, or `None` when the request failed.
async fn curl_in(ns: &str, url: &str) -> Option<String> {
    let out = tokio::process::Command::new("ip")
        .args(["netns", "exec", ns, "curl", "-s", "-f", "-m", "2", url])
        .output()
        .await
        .expect("run curl in a namespace");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

async fn curl_host(url: &str) -> Option<String> {
    let out = tokio::process::Command::new("curl")
        .args(["-s", "-f", "-m", "2", url])
        .output()
        .await
        .expect("run curl");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
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

/// User data of a VM serving its name on port 8080.
fn web(name: &str) -> String {
    format!("#!/bin/sh\necho {name} > index.html\nnohup python3 -m http.server 8080 >/dev/null 2>&1 &\n")
}

struct Project<'a> {
    tc: &'a TestCloud,
    token: String,
}

impl Project<'_> {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let b = body.map(|b| b.to_string());
        self.tc
            .call_as(&self.token, method, path, b.as_deref())
            .await
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let (s, v) = self.call(Method::POST, path, Some(body)).await;
        assert!(s == 201 || s == 202 || s == 200, "POST {path}: {s} {v}");
        v
    }

    async fn network(&self, name: &str, cidr: &str) -> (String, String) {
        let n = self
            .post(
                "/networking/v2.0/networks",
                json!({"network": {"name": name}}),
            )
            .await;
        let net = n["network"]["id"].as_str().expect("id").to_owned();
        let sub = self
            .post(
                "/networking/v2.0/subnets",
                json!({"subnet": {"network_id": net, "cidr": cidr, "ip_version": 4, "name": name}}),
            )
            .await;
        (net, sub["subnet"]["id"].as_str().expect("id").to_owned())
    }

    async fn port(&self, net: &str, ip: &str, sgs: Option<Vec<&str>>) -> String {
        let mut port = json!({"network_id": net, "fixed_ips": [{"ip_address": ip}]});
        if let Some(sgs) = sgs {
            port["security_groups"] = json!(sgs);
        }
        let p = self
            .post("/networking/v2.0/ports", json!({"port": port}))
            .await;
        p["port"]["id"].as_str().expect("id").to_owned()
    }

    async fn sg(&self, name: &str) -> String {
        let v = self
            .post(
                "/networking/v2.0/security-groups",
                json!({"security_group": {"name": name}}),
            )
            .await;
        v["security_group"]["id"].as_str().expect("id").to_owned()
    }

    async fn rule(&self, rule: Value) -> String {
        let v = self
            .post(
                "/networking/v2.0/security-group-rules",
                json!({"security_group_rule": rule}),
            )
            .await;
        v["security_group_rule"]["id"]
            .as_str()
            .expect("id")
            .to_owned()
    }

    /// Boots a web VM on a port and waits until it answers inside its own namespace.
    async fn web_vm(&self, name: &str, port: &str, ip: &str) -> (String, String) {
        use base64::Engine as _;
        let image = self.tc.base_image().await;
        let flavor = self.tc.flavor("Basic-1-2-20").await;
        let v = self
            .post(
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
                let (_, v) = self.call(Method::GET, &path, None).await;
                assert_ne!(v["server"]["status"], "ERROR", "{v}");
                (v["server"]["status"] == "ACTIVE").then_some(())
            },
        )
        .await;
        let ns = self.tc.cloud.server_netns(&id).expect("isolated mode");
        let url = format!("http://{ip}:8080/");
        poll(
            &format!("{name} serving in its namespace"),
            Duration::from_secs(30),
            || curl_in(&ns, &url),
        )
        .await;
        (id, ns)
    }
}

async fn admin_and_demo(tc: &TestCloud) -> (Project<'_>, Project<'_>) {
    let creds = tc.cloud.credentials();
    let admin_token = tc
        .password_token(&creds.admin.username, &creds.admin.password, "admin")
        .await;
    (
        Project {
            tc,
            token: admin_token,
        },
        Project {
            tc,
            token: tc.token.clone(),
        },
    )
}

/// What of this localcloud is in the kernel: namespaces, links on the machine, and nftables
/// tables on the machine named as localcloud's.
async fn kernel_objects(prefix: &str) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir("/run/netns")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.starts_with(prefix))
                .map(|n| format!("namespace {n}"))
                .collect()
        })
        .unwrap_or_default();
    let links = tokio::process::Command::new("ip")
        .args(["-o", "link", "show"])
        .output()
        .await
        .expect("ip link");
    for l in String::from_utf8_lossy(&links.stdout).lines() {
        if let Some(name) = l.split(": ").nth(1) {
            if name.starts_with(prefix) {
                out.push(format!("link {name}"));
            }
        }
    }
    let tables = tokio::process::Command::new("nft")
        .args(["list", "tables"])
        .output()
        .await
        .expect("nft list tables");
    for t in String::from_utf8_lossy(&tables.stdout).lines() {
        if t.contains("localcloud") {
            out.push(t.to_owned());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_projects_same_cidr_reach_only_their_own_peers() {
    let tc = cloud(201).await;
    let (a, b) = admin_and_demo(&tc).await;
    let (net_a, _) = a.network("a", "192.168.0.0/24").await;
    let (net_b, _) = b.network("b", "192.168.0.0/24").await;
    // Both projects have a VM at .10; the others' addresses differ between the projects.
    let plan_a = [
        ("a1", "192.168.0.10"),
        ("a2", "192.168.0.11"),
        ("a3", "192.168.0.12"),
    ];
    let plan_b = [
        ("b1", "192.168.0.10"),
        ("b2", "192.168.0.21"),
        ("b3", "192.168.0.22"),
    ];
    let mut vms = Vec::new();
    for (p, net, plan) in [(&a, &net_a, &plan_a), (&b, &net_b, &plan_b)] {
        for (name, ip) in plan {
            let port = p.port(net, ip, None).await;
            let (_, ns) = p.web_vm(name, &port, ip).await;
            vms.push((*name, port, ns));
        }
    }
    // Every VM reaches each peer of its project at its fixed IP and gets that peer's answer;
    // the other project's addresses do not answer (and .10 is its own project's VM).
    let mut checks = Vec::new();
    for (name, _, ns) in &vms {
        let own = if name.starts_with('a') {
            &plan_a
        } else {
            &plan_b
        };
        let other = if name.starts_with('a') {
            &plan_b
        } else {
            &plan_a
        };
        for (peer, ip) in own.iter() {
            checks.push((
                ns.clone(),
                format!("http://{ip}:8080/"),
                Some(peer.to_string()),
            ));
        }
        for (_, ip) in other
            .iter()
            .filter(|(_, ip)| !own.iter().any(|(_, o)| o == ip))
        {
            checks.push((ns.clone(), format!("http://{ip}:8080/"), None));
        }
    }
    let results = futures::future::join_all(
        checks
            .iter()
            .map(|(ns, url, _)| async move { curl_in(ns, url).await }),
    )
    .await;
    for ((ns, url, want), got) in checks.iter().zip(results) {
        assert_eq!(&got, want, "from {ns} to {url}");
    }
    // The VM's interface carries the port's MAC.
    let (_, port) = a
        .call(
            Method::GET,
            &format!("/networking/v2.0/ports/{}", vms[0].1),
            None,
        )
        .await;
    let mac = port["port"]["mac_address"]
        .as_str()
        .expect("mac")
        .to_owned();
    let out = std::process::Command::new("ip")
        .args(["-n", &vms[0].2, "link", "show", "eth0"])
        .output()
        .expect("ip link");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&mac),
        "eth0 of a1 carries {mac}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn security_groups_are_enforced_and_follow_rule_changes() {
    let tc = cloud(202).await;
    let (_, p) = admin_and_demo(&tc).await;
    let (net, _) = p.network("sg", "10.44.0.0/24").await;
    // `ssh-only` allows tcp/22 in; its default egress rules allow everything out.
    let ssh = p.sg("ssh-only").await;
    p.rule(json!({"security_group_id": ssh, "direction": "ingress", "protocol": "tcp", "port_range_min": 22, "port_range_max": 22}))
        .await;
    let members = p.sg("members").await;
    p.rule(json!({"security_group_id": members, "direction": "ingress", "protocol": "tcp", "port_range_min": 8080, "port_range_max": 8080, "remote_group_id": members}))
        .await;
    let port_a = p.port(&net, "10.44.0.10", Some(vec![&ssh])).await;
    let port_b = p.port(&net, "10.44.0.11", Some(vec![&ssh])).await;
    let port_c = p.port(&net, "10.44.0.12", Some(vec![&ssh, &members])).await;
    let port_d = p.port(&net, "10.44.0.13", Some(vec![&members])).await;
    let (_, ns_a) = p.web_vm("a", &port_a, "10.44.0.10").await;
    let (_, ns_b) = p.web_vm("b", &port_b, "10.44.0.11").await;
    let (_, ns_c) = p.web_vm("c", &port_c, "10.44.0.12").await;
    let (_, ns_d) = p.web_vm("d", &port_d, "10.44.0.13").await;
    let b_url = "http://10.44.0.11:8080/";
    assert_eq!(curl_in(&ns_a, b_url).await, None, "8080 is closed on b");
    // A rule for 8080 opens it; measure from the API's answer to the first success.
    let rule = p
        .rule(json!({"security_group_id": ssh, "direction": "ingress", "protocol": "tcp", "port_range_min": 8000, "port_range_max": 8100, "remote_ip_prefix": "10.44.0.0/24"}))
        .await;
    // The effect is timed on b's ruleset (a dropped SYN is retried only after 1 s, which would
    // hide it), then shown with a request.
    let t = Instant::now();
    poll("the rule in b's ruleset", Duration::from_secs(10), || {
        let has = ruleset(&ns_b).contains("8000-8100");
        async move { has.then_some(()) }
    })
    .await;
    let opened = t.elapsed();
    poll("8080 open after the rule", Duration::from_secs(10), || {
        curl_in(&ns_a, b_url)
    })
    .await;
    let (s, _) = p
        .call(
            Method::DELETE,
            &format!("/networking/v2.0/security-group-rules/{rule}"),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let t = Instant::now();
    poll(
        "the rule gone from b's ruleset",
        Duration::from_secs(10),
        || {
            let gone = !ruleset(&ns_b).contains("8000-8100");
            async move { gone.then_some(()) }
        },
    )
    .await;
    let closed = t.elapsed();
    assert_eq!(
        curl_in(&ns_a, b_url).await,
        None,
        "8080 closed after the delete"
    );
    println!("rule added → in force after {opened:?}; rule deleted → gone after {closed:?} (from the API's answer)");
    assert!(
        opened < Duration::from_secs(5) && closed < Duration::from_secs(5),
        "rule changes take effect promptly: {opened:?}, {closed:?}"
    );
    // remote_group_id admits members only: d (member) reaches c on 8080, a (not) does not.
    let c_url = "http://10.44.0.12:8080/";
    assert_eq!(curl_in(&ns_d, c_url).await.as_deref(), Some("c"));
    assert_eq!(curl_in(&ns_a, c_url).await, None);
    // c is not in the group of d's ingress... d only admits members: c is one, a is not.
    let d_url = "http://10.44.0.13:8080/";
    assert_eq!(curl_in(&ns_c, d_url).await.as_deref(), Some("d"));
    assert_eq!(curl_in(&ns_a, d_url).await, None);
    // allowed_address_pairs: d answers from an extra address only while the pair allows it.
    let st = std::process::Command::new("ip")
        .args(["-n", &ns_d, "addr", "add", "10.44.0.100/24", "dev", "eth0"])
        .status()
        .expect("ip addr add");
    assert!(st.success());
    let extra = "http://10.44.0.100:8080/";
    assert_eq!(
        curl_in(&ns_c, extra).await,
        None,
        "no pair: d may not send from .100"
    );
    let (s, v) = p
        .call(
            Method::PUT,
            &format!("/networking/v2.0/ports/{port_d}"),
            Some(json!({"port": {"allowed_address_pairs": [{"ip_address": "10.44.0.100"}]}})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let got = poll("d answers from its pair", Duration::from_secs(10), || {
        curl_in(&ns_c, extra)
    })
    .await;
    assert_eq!(got, "d");
    // port_security_enabled = false lets everything in.
    let (s, v) = p
        .call(
            Method::PUT,
            &format!("/networking/v2.0/ports/{port_b}"),
            Some(json!({"port": {"security_groups": [], "port_security_enabled": false}})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    poll(
        "b open without port security",
        Duration::from_secs(10),
        || curl_in(&ns_a, b_url),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn router_floating_ip_external_gateway_and_cleanup() {
    let tc = cloud(203).await;
    let prefix = tc.cloud.kernel_prefix().to_owned();
    let (_, p) = admin_and_demo(&tc).await;
    let (net, sub) = p.network("web", "10.55.0.0/24").await;
    let ext = tc.get("/networking/v2.0/networks?name=ext-net").await["networks"][0]["id"]
        .as_str()
        .expect("ext-net")
        .to_owned();
    let r = p
        .post(
            "/networking/v2.0/routers",
            json!({"router": {"name": "r", "external_gateway_info": {"network_id": ext}}}),
        )
        .await;
    let router = r["router"]["id"].as_str().expect("id").to_owned();
    let (s, v) = p
        .call(
            Method::PUT,
            &format!("/networking/v2.0/routers/{router}/add_router_interface"),
            Some(json!({"subnet_id": sub})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    // Open 8080 in the default group.
    let sgs = tc
        .get("/networking/v2.0/security-groups?name=default")
        .await;
    let default = sgs["security_groups"][0]["id"]
        .as_str()
        .expect("default")
        .to_owned();
    p.rule(json!({"security_group_id": default, "direction": "ingress", "protocol": "tcp", "port_range_min": 8080, "port_range_max": 8080, "remote_ip_prefix": "0.0.0.0/0"}))
        .await;
    let port = p.port(&net, "10.55.0.10", None).await;
    let (vm, ns) = p.web_vm("vm", &port, "10.55.0.10").await;
    // The VM's default route goes through the router.
    let routes = std::process::Command::new("ip")
        .args(["-n", &ns, "route", "show", "default"])
        .output()
        .expect("ip route");
    assert!(
        String::from_utf8_lossy(&routes.stdout).contains("via 10.55.0.1"),
        "{}",
        String::from_utf8_lossy(&routes.stdout)
    );
    // A VM reaches a service on the machine through the external gateway address.
    tc.cloud.sync_network().await;
    let listener = tokio::net::TcpListener::bind("198.19.203.1:0")
        .await
        .expect("bind the external gateway address");
    let host_port = listener.local_addr().expect("addr").port();
    let host_server = tokio::spawn(async move {
        let app = axum::Router::new().route("/", axum::routing::get(|| async { "machine" }));
        let _ = axum::serve(listener, app).await;
    });
    let host_url = format!("http://198.19.203.1:{host_port}/");
    let got = poll("VM → machine", Duration::from_secs(10), || {
        curl_in(&ns, &host_url)
    })
    .await;
    assert_eq!(got, "machine");
    host_server.abort();
    // Floating IP: the machine reaches the VM through it; removing the association cuts it.
    let fip = p
        .post(
            "/networking/v2.0/floatingips",
            json!({"floatingip": {"floating_network_id": ext}}),
        )
        .await;
    let fip_id = fip["floatingip"]["id"].as_str().expect("id").to_owned();
    let addr = fip["floatingip"]["floating_ip_address"]
        .as_str()
        .expect("address")
        .to_owned();
    assert!(addr.starts_with("198.19.203."), "{addr}");
    let (s, v) = tc
        .action(&vm, json!({"addFloatingIp": {"address": addr}}))
        .await;
    assert_eq!(s, 202, "{v}");
    let url = format!("http://{addr}:8080/");
    let got = poll("machine → floating IP", Duration::from_secs(10), || {
        curl_host(&url)
    })
    .await;
    assert_eq!(got, "vm");
    let (s, v) = tc
        .action(&vm, json!({"removeFloatingIp": {"address": addr}}))
        .await;
    assert_eq!(s, 202, "{v}");
    poll("floating IP cut", Duration::from_secs(10), || async {
        curl_host(&url).await.is_none().then_some(())
    })
    .await;
    assert!(!kernel_objects(&prefix).await.is_empty());
    // Delete everything: nothing of this localcloud remains in the kernel.
    for path in [
        format!("/compute/v2.1/servers/{vm}"),
        format!("/networking/v2.0/floatingips/{fip_id}"),
    ] {
        let (s, v) = p.call(Method::DELETE, &path, None).await;
        assert!(s == 204 || s == 202, "DELETE {path}: {s} {v}");
    }
    poll("server gone", Duration::from_secs(20), || async {
        let (s, _) = p
            .call(Method::GET, &format!("/compute/v2.1/servers/{vm}"), None)
            .await;
        (s == 404).then_some(())
    })
    .await;
    let (s, v) = p
        .call(
            Method::PUT,
            &format!("/networking/v2.0/routers/{router}/remove_router_interface"),
            Some(json!({"subnet_id": sub})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    for path in [
        format!("/networking/v2.0/routers/{router}"),
        format!("/networking/v2.0/ports/{port}"),
        format!("/networking/v2.0/networks/{net}"),
    ] {
        let (s, v) = p.call(Method::DELETE, &path, None).await;
        assert!(s == 204 || s == 404, "DELETE {path}: {s} {v}");
    }
    tc.cloud.sync_network().await;
    assert_eq!(kernel_objects(&prefix).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restart_reconciles_orphans_and_running_vms() {
    let tc = cloud(204).await;
    let prefix = tc.cloud.kernel_prefix().to_owned();
    let (_, p) = admin_and_demo(&tc).await;
    let (net, _) = p.network("n", "10.66.0.0/24").await;
    let port1 = p.port(&net, "10.66.0.10", None).await;
    let port2 = p.port(&net, "10.66.0.11", None).await;
    let (_, ns1) = p.web_vm("one", &port1, "10.66.0.10").await;
    let (_, ns2) = p.web_vm("two", &port2, "10.66.0.11").await;
    let dir = tc.stop();
    // What a killed localcloud could leave: an orphan namespace, a lost segment.
    let orphan = format!("{prefix}-vm-00000000-dead-beef-0000-000000000000");
    let st = std::process::Command::new("ip")
        .args(["netns", "add", &orphan])
        .status()
        .expect("ip netns add");
    assert!(st.success());
    let seg = format!("{prefix}-net-{net}");
    let st = std::process::Command::new("ip")
        .args(["netns", "del", &seg])
        .status()
        .expect("ip netns del");
    assert!(st.success());
    let tc = TestCloud::start_with(dir, |c| {
        c.external_cidr = Some("198.19.204.0/24".into());
    })
    .await;
    tc.cloud.sync_network().await;
    let objs = kernel_objects(&prefix).await;
    assert!(!objs.contains(&format!("namespace {orphan}")), "{objs:?}");
    assert!(objs.contains(&format!("namespace {seg}")), "{objs:?}");
    // The running VMs (adopted, still in their namespaces) reach each other again.
    let got = poll("one → two after restart", Duration::from_secs(20), || {
        curl_in(&ns1, "http://10.66.0.11:8080/")
    })
    .await;
    assert_eq!(got, "two");
    assert_eq!(
        curl_in(&ns2, "http://10.66.0.10:8080/").await.as_deref(),
        Some("one")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn metadata_service_answers_each_vm_with_its_own_metadata() {
    use base64::Engine as _;
    let tc = cloud(205).await;
    let (_, p) = admin_and_demo(&tc).await;
    let (net, _) = p.network("md", "10.77.0.0/24").await;
    let image = tc.base_image().await;
    let flavor = tc.flavor("Basic-1-2-20").await;
    let ud = "#!/bin/sh\nfor f in openstack/latest/meta_data.json openstack/latest/network_data.json openstack/latest/user_data latest/meta-data/instance-id latest/meta-data/local-ipv4; do\n  curl -s -f -m 5 -o \"md-$(echo $f | tr / _)\" http://169.254.169.254/$f\ndone\ntouch md-done\n";
    let mut ids = Vec::new();
    for name in ["md-one", "md-two"] {
        let v = p
            .post(
                "/compute/v2.1/servers",
                json!({"server": {"name": name, "flavorRef": flavor, "imageRef": image, "networks": [{"uuid": net}],
                    "user_data": base64::engine::general_purpose::STANDARD.encode(ud)}}),
            )
            .await;
        ids.push((name, v["server"]["id"].as_str().expect("id").to_owned()));
    }
    for (name, id) in &ids {
        let dir = tc.dir.path().join("instances").join(id);
        poll(
            &format!("{name} fetched its metadata"),
            Duration::from_secs(30),
            || {
                let done = dir.join("md-done").exists();
                async move { done.then_some(()) }
            },
        )
        .await;
        let read = |f: &str| {
            std::fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("{name}: {f}: {e}"))
        };
        let md: Value = serde_json::from_str(&read("md-openstack_latest_meta_data.json"))
            .expect("meta_data.json");
        assert_eq!(md["uuid"], id.as_str());
        assert_eq!(md["name"], *name);
        assert_eq!(read("md-latest_meta-data_instance-id"), *id);
        assert_eq!(read("md-openstack_latest_user_data"), ud);
        let nd: Value = serde_json::from_str(&read("md-openstack_latest_network_data.json"))
            .expect("network_data.json");
        let ip = read("md-latest_meta-data_local-ipv4");
        assert!(ip.starts_with("10.77.0."), "{ip}");
        assert_eq!(nd["networks"][0]["ip_address"], ip.as_str());
        assert_eq!(nd["networks"][0]["netmask"], "255.255.255.0");
    }
}

/// The ip routes of a namespace, one per line (`ip route show`).
fn routes_in(ns: &str) -> String {
    let out = std::process::Command::new("ip")
        .args(["-n", ns, "route", "show"])
        .output()
        .expect("ip route show");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A subnet's `host_routes` and `dns_nameservers` reach the VM: its user data sees the routes in
/// its namespace and the servers in its own `/etc/resolv.conf` (the machine's stays as it was);
/// a route changed on the subnet follows on the running VM.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn subnet_host_routes_and_dns_servers_reach_the_vm() {
    use base64::Engine as _;
    let tc = cloud(206).await;
    let (_, p) = admin_and_demo(&tc).await;
    let n = p
        .post(
            "/networking/v2.0/networks",
            json!({"network": {"name": "hr"}}),
        )
        .await;
    let net = n["network"]["id"].as_str().expect("id").to_owned();
    let sub = p
        .post(
            "/networking/v2.0/subnets",
            json!({"subnet": {"network_id": net, "cidr": "10.78.0.0/24", "ip_version": 4,
                "dns_nameservers": ["192.0.2.53", "198.51.100.53"],
                "host_routes": [{"destination": "10.200.0.0/16", "nexthop": "10.78.0.254"},
                                {"destination": "203.0.113.0/24", "nexthop": "10.78.0.253"}]}}),
        )
        .await;
    let sub_id = sub["subnet"]["id"].as_str().expect("id").to_owned();
    assert_eq!(
        sub["subnet"]["host_routes"][0],
        json!({"destination": "10.200.0.0/16", "nexthop": "10.78.0.254"})
    );
    // A next hop that is not an address is refused.
    let (s, v) = p
        .call(
            Method::PUT,
            &format!("/networking/v2.0/subnets/{sub_id}"),
            Some(json!({"subnet": {"host_routes": [{"destination": "10.1.0.0/16", "nexthop": "x"}]}})),
        )
        .await;
    assert_eq!(s, 400, "{v}");
    let machine_resolv = std::fs::read("/etc/resolv.conf").ok();
    let image = tc.base_image().await;
    let flavor = tc.flavor("Basic-1-2-20").await;
    let ud = "#!/bin/sh\nip route show > seen-routes\ncat /etc/resolv.conf > seen-resolv\ntouch seen-done\n";
    let v = p
        .post(
            "/compute/v2.1/servers",
            json!({"server": {"name": "hr", "flavorRef": flavor, "imageRef": image,
                "networks": [{"uuid": net}],
                "user_data": base64::engine::general_purpose::STANDARD.encode(ud)}}),
        )
        .await;
    let id = v["server"]["id"].as_str().expect("id").to_owned();
    let dir = tc.dir.path().join("instances").join(&id);
    poll("the VM read its routes", Duration::from_secs(30), || {
        let done = dir.join("seen-done").exists();
        async move { done.then_some(()) }
    })
    .await;
    let read =
        |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
    let seen = read("seen-routes");
    assert!(
        seen.contains("10.200.0.0/16 via 10.78.0.254 dev eth0"),
        "{seen}"
    );
    assert!(
        seen.contains("203.0.113.0/24 via 10.78.0.253 dev eth0"),
        "{seen}"
    );
    let resolv = read("seen-resolv");
    assert_eq!(
        resolv
            .lines()
            .filter(|l| l.starts_with("nameserver"))
            .collect::<Vec<_>>(),
        ["nameserver 192.0.2.53", "nameserver 198.51.100.53"],
        "{resolv}"
    );
    assert_eq!(std::fs::read("/etc/resolv.conf").ok(), machine_resolv);
    // A route removed from the subnet and one added follow on the running VM.
    let (s, v) = p
        .call(
            Method::PUT,
            &format!("/networking/v2.0/subnets/{sub_id}"),
            Some(json!({"subnet": {"host_routes": [{"destination": "10.201.0.0/16", "nexthop": "10.78.0.254"}]}})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let ns = tc.cloud.server_netns(&id).expect("isolated mode");
    let routes = poll(
        "the changed routes in the VM",
        Duration::from_secs(15),
        || {
            let r = routes_in(&ns);
            async move {
                (r.contains("10.201.0.0/16 via 10.78.0.254") && !r.contains("10.200.0.0/16"))
                    .then_some(r)
            }
        },
    )
    .await;
    assert!(!routes.contains("203.0.113.0/24"), "{routes}");
}

/// `server add port` / `server remove port` (Nova's `os-interface`) on a running VM: the port's
/// interface appears in its namespace with the port's MAC and fixed IP and its security groups
/// enforced, and goes away on detach; a port Nova made for a network is deleted on detach.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ports_attach_and_detach_on_a_running_vm() {
    use base64::Engine as _;
    let tc = cloud(207).await;
    let (_, p) = admin_and_demo(&tc).await;
    let (net1, _) = p.network("first", "10.81.0.0/24").await;
    let (net2, _) = p.network("second", "10.82.0.0/24").await;
    // The peer lives on the second network only.
    let peer_port = p.port(&net2, "10.82.0.20", None).await;
    let (_, peer_ns) = p.web_vm("peer", &peer_port, "10.82.0.20").await;
    // The VM starts on the first network and serves on 8080 and 8081 on every address.
    let image = tc.base_image().await;
    let flavor = tc.flavor("Basic-1-2-20").await;
    let ud = "#!/bin/sh\necho hot > index.html\nnohup python3 -m http.server 8080 >/dev/null 2>&1 &\nnohup python3 -m http.server 8081 >/dev/null 2>&1 &\n";
    let port1 = p.port(&net1, "10.81.0.10", None).await;
    let v = p
        .post(
            "/compute/v2.1/servers",
            json!({"server": {"name": "hot", "flavorRef": flavor, "imageRef": image,
                "networks": [{"port": port1}],
                "user_data": base64::engine::general_purpose::STANDARD.encode(ud)}}),
        )
        .await;
    let id = v["server"]["id"].as_str().expect("id").to_owned();
    let ns = tc.cloud.server_netns(&id).expect("isolated mode");
    poll("hot serving", Duration::from_secs(40), || {
        curl_in(&ns, "http://10.81.0.10:8081/")
    })
    .await;
    // A port on the second network whose security group opens 8080 only.
    let web_sg = p.sg("web-only").await;
    p.rule(
        json!({"security_group_id": web_sg, "direction": "ingress", "protocol": "tcp",
        "port_range_min": 8080, "port_range_max": 8080, "remote_ip_prefix": "0.0.0.0/0"}),
    )
    .await;
    let port2 = p.port(&net2, "10.82.0.10", Some(vec![&web_sg])).await;
    assert_eq!(
        curl_in(&peer_ns, "http://10.82.0.10:8080/").await,
        None,
        "not attached yet"
    );
    let att = p
        .post(
            &format!("/compute/v2.1/servers/{id}/os-interface"),
            json!({"interfaceAttachment": {"port_id": port2}}),
        )
        .await;
    assert_eq!(
        att["interfaceAttachment"]["port_id"],
        port2.as_str(),
        "{att}"
    );
    assert_eq!(att["interfaceAttachment"]["net_id"], net2.as_str(), "{att}");
    let mac = att["interfaceAttachment"]["mac_addr"]
        .as_str()
        .expect("mac")
        .to_owned();
    // The call answers once the interface is there.
    let link = std::process::Command::new("ip")
        .args(["-n", &ns, "addr", "show", "eth1"])
        .output()
        .expect("ip addr");
    let link = String::from_utf8_lossy(&link.stdout).into_owned();
    assert!(link.contains(&mac), "{link}");
    assert!(link.contains("inet 10.82.0.10/24"), "{link}");
    let (_, list) = p
        .call(
            Method::GET,
            &format!("/compute/v2.1/servers/{id}/os-interface"),
            None,
        )
        .await;
    assert_eq!(
        list["interfaceAttachments"].as_array().map(Vec::len),
        Some(2),
        "{list}"
    );
    // The peer reaches 8080 through the new interface; its security group keeps 8081 closed.
    let got = poll(
        "peer → hot on the attached port",
        Duration::from_secs(10),
        || curl_in(&peer_ns, "http://10.82.0.10:8080/"),
    )
    .await;
    assert_eq!(got, "hot");
    assert_eq!(curl_in(&peer_ns, "http://10.82.0.10:8081/").await, None);
    // Detached: the interface is gone, the port is free again.
    let (s, v) = p
        .call(
            Method::DELETE,
            &format!("/compute/v2.1/servers/{id}/os-interface/{port2}"),
            None,
        )
        .await;
    assert_eq!(s, 202, "{v}");
    let links = std::process::Command::new("ip")
        .args(["-n", &ns, "-o", "link", "show"])
        .output()
        .expect("ip link");
    let links = String::from_utf8_lossy(&links.stdout).into_owned();
    assert!(!links.contains(&mac) && !links.contains("eth1"), "{links}");
    assert_eq!(curl_in(&peer_ns, "http://10.82.0.10:8080/").await, None);
    let (_, port) = p
        .call(
            Method::GET,
            &format!("/networking/v2.0/ports/{port2}"),
            None,
        )
        .await;
    assert_eq!(port["port"]["device_id"], "", "{port}");
    // The VM still serves on its first port.
    assert!(curl_in(&ns, "http://10.81.0.10:8080/").await.is_some());
    // By network: Nova makes the port (with the server's security groups) and deletes it on
    // detach.
    let att = p
        .post(
            &format!("/compute/v2.1/servers/{id}/os-interface"),
            json!({"interfaceAttachment": {"net_id": net2, "fixed_ips": [{"ip_address": "10.82.0.11"}]}}),
        )
        .await;
    let made = att["interfaceAttachment"]["port_id"]
        .as_str()
        .expect("port id")
        .to_owned();
    let link = std::process::Command::new("ip")
        .args(["-n", &ns, "addr", "show", "eth1"])
        .output()
        .expect("ip addr");
    assert!(String::from_utf8_lossy(&link.stdout).contains("inet 10.82.0.11/24"));
    let (s, _) = p
        .call(
            Method::DELETE,
            &format!("/compute/v2.1/servers/{id}/os-interface/{made}"),
            None,
        )
        .await;
    assert_eq!(s, 202);
    let (s, _) = p
        .call(Method::GET, &format!("/networking/v2.0/ports/{made}"), None)
        .await;
    assert_eq!(s, 404);
}

/// A port that joins a group named by a `remote_group_id` rule while the group's members run is
/// admitted by them, and shut out again when it leaves: the members' tables change only in the
/// group's set (updated in place, not replaced), which the data plane's counters show.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn joining_and_leaving_a_remote_group_updates_the_members_sets_in_place() {
    let tc = cloud(208).await;
    let (_, p) = admin_and_demo(&tc).await;
    let (net, _) = p.network("join", "10.46.0.0/24").await;
    let members = p.sg("members").await;
    p.rule(json!({"security_group_id": members, "direction": "ingress", "protocol": "tcp", "port_range_min": 8080, "port_range_max": 8080, "remote_group_id": members}))
        .await;
    let outside = p.sg("outside").await;
    let port_m = p.port(&net, "10.46.0.10", Some(vec![&members])).await;
    let port_j = p.port(&net, "10.46.0.11", Some(vec![&outside])).await;
    let (_, ns_m) = p.web_vm("m", &port_m, "10.46.0.10").await;
    let (_, ns_j) = p.web_vm("j", &port_j, "10.46.0.11").await;
    let m_url = "http://10.46.0.10:8080/";
    assert_eq!(curl_in(&ns_j, m_url).await, None, "j is not a member yet");
    assert!(!ruleset(&ns_m).contains("10.46.0.11"), "{}", ruleset(&ns_m));
    let before = tc.cloud.network_stats();
    let port_path = format!("/networking/v2.0/ports/{port_j}");
    let join = |sgs: Vec<&str>| {
        p.call(
            Method::PUT,
            &port_path,
            Some(json!({"port": {"security_groups": sgs}})),
        )
    };
    let (s, v) = join(vec![&members]).await;
    assert_eq!(s, 200, "{v}");
    poll("j in m's set", Duration::from_secs(10), || {
        let has = ruleset(&ns_m).contains("10.46.0.11");
        async move { has.then_some(()) }
    })
    .await;
    let got = poll("m admits j", Duration::from_secs(10), || {
        curl_in(&ns_j, m_url)
    })
    .await;
    assert_eq!(got, "m");
    let after = tc.cloud.network_stats();
    assert!(
        after.tables_updated > before.tables_updated,
        "m's table was updated in place: {before:?} → {after:?}"
    );
    // The set is named in the rule, and the member is an element of it.
    let rules = ruleset(&ns_m);
    assert!(rules.contains("ip saddr @rg4_"), "{rules}");
    let (s, v) = join(vec![&outside]).await;
    assert_eq!(s, 200, "{v}");
    poll("j gone from m's set", Duration::from_secs(10), || {
        let gone = !ruleset(&ns_m).contains("10.46.0.11");
        async move { gone.then_some(()) }
    })
    .await;
    assert_eq!(curl_in(&ns_j, m_url).await, None, "j left the group");
}
