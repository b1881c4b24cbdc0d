//! The example packages on localcloud's isolated network, reached from the machine over floating
//! IPs: `vitrina serve --demo` with the data plane (a namespace per VM, the project's network
//! behind a router to `ext-net`), the package's own manifest plus one file that gives its VMs
//! floating IPs from `ext-net` (as a consumer does after deploying), and HTTP from this test to
//! those addresses. The VMs' fixed addresses are not reachable from the machine; only the router's
//! DNAT leads there, through the packages' security groups.

mod ivkcs_support;
use ivkcs_support::*;

const HELLO_WEB: &str =
    include_str!("../../../examples/packages/hello_web/plans/free/deployment/deploy.tf");
const KV_CLUSTER: &str =
    include_str!("../../../examples/packages/kv_cluster/plans/standard/deployment/deploy.tf");

/// hello_web on an isolated network: its page, its health and its admin page over a floating IP.
#[test]
fn hello_web_on_an_isolated_network_answers_at_its_floating_ip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let (serve, env) = serve_with(&data, "5m", "auto");
    let net = ProjectNet::apply(&env, dir.path(), "hello", "192.168.93.0/24", true);
    let tf = dir.path().join("hello_web");
    std::fs::create_dir_all(&tf).expect("tf dir");
    std::fs::write(tf.join("deploy.tf"), HELLO_WEB).expect("deploy.tf");
    std::fs::write(
        tf.join("floating_ip.tf"),
        r#"
resource "vkcs_networking_floatingip" "web" {
  pool = "ext-net"
}

resource "vkcs_compute_floatingip_associate" "web" {
  floating_ip = vkcs_networking_floatingip.web.address
  instance_id = vkcs_compute_instance.web.id
}

output "public_url" {
  value = "http://${vkcs_networking_floatingip.web.address}:${var.http_port}/"
}
"#,
    )
    .expect("floating_ip.tf");
    let vars: Vec<String> = [
        "flavor=Basic-1-2-20",
        "az=GZ1",
        &format!("subnet={}", net.subnet),
        "data_type=ceph-ssd",
        "data_size=1",
        "page_title=\"Hello over a floating IP\"",
        "http_port=8080",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let started = std::time::Instant::now();
    tf_must(&env, "apply", &tf, &vars, &[]);
    eprintln!(
        "hello_web (isolated, floating IP) apply to healthy: {:?}",
        started.elapsed()
    );
    let outputs = tf_outputs(&env, &tf);
    let url = outputs["url"]["value"].as_str().expect("url").to_owned();
    let public = outputs["public_url"]["value"]
        .as_str()
        .expect("public_url")
        .to_owned();
    let password = outputs["admin_password"]["value"]
        .as_str()
        .expect("admin_password")
        .to_owned();
    // The package's own URL names the VM's fixed address on the project network.
    assert!(url.starts_with("http://192.168.93."), "{url}");
    assert_ne!(url, public);
    let (status, body) = http_get_when_up(&public, None);
    assert!(status.contains(" 200 "), "{status}");
    assert!(body.contains("<h1>Hello over a floating IP</h1>"), "{body}");
    let (status, body) = http_get(&format!("{public}healthz"), None);
    assert!(
        status.contains(" 200 ") && body == "ok\n",
        "{status} {body}"
    );
    let (status, _) = http_get(&format!("{public}admin"), None);
    assert!(status.contains(" 401 "), "{status}");
    let (status, body) = http_get(
        &format!("{public}admin"),
        Some(&format!("admin:{password}")),
    );
    assert!(
        status.contains(" 200 ") && body.contains("uptime_seconds"),
        "{status} {body}"
    );
    // The fixed address is the project's own: from the machine it leads to the machine's own
    // network (nothing, or whatever answers there), never to the VM.
    if let Ok((_, body)) = try_http_get(&url, None) {
        assert!(
            !body.contains("Hello over a floating IP"),
            "the machine reached {url} directly"
        );
    }

    tf_must(&env, "destroy", &tf, &vars, &[]);
    net.destroy(&env);
    drop(serve);
}

/// kv_cluster (three nodes here, five in `tf_ivkcs.rs`) on an isolated network: every node
/// answers on the same port at its own floating IP, with the cluster id the first step made.
#[test]
fn kv_cluster_on_an_isolated_network_answers_at_its_floating_ips() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let (serve, env) = serve_with(&data, "5m", "auto");
    let net = ProjectNet::apply(&env, dir.path(), "kv", "192.168.94.0/24", true);
    let tf = dir.path().join("kv_cluster");
    std::fs::create_dir_all(&tf).expect("tf dir");
    std::fs::write(tf.join("deploy.tf"), KV_CLUSTER).expect("deploy.tf");
    std::fs::write(
        tf.join("floating_ip.tf"),
        r#"
resource "vkcs_networking_floatingip" "node" {
  count = var.nodes
  pool  = "ext-net"
}

resource "vkcs_compute_floatingip_associate" "node" {
  count       = var.nodes
  floating_ip = vkcs_networking_floatingip.node[count.index].address
  instance_id = vkcs_compute_instance.node[count.index].id
}

output "public_addresses" {
  value = vkcs_networking_floatingip.node[*].address
}
"#,
    )
    .expect("floating_ip.tf");
    let port = 7070;
    let vars: Vec<String> = [
        "nodes=3".to_owned(),
        "flavor=Basic-1-2-20".to_owned(),
        "az=GZ1".to_owned(),
        format!("subnet={}", net.subnet),
        "data_type=ceph-ssd".to_owned(),
        "data_size=1".to_owned(),
        "public_reads=true".to_owned(),
        format!("kv_port={port}"),
    ]
    .into();
    let started = std::time::Instant::now();
    tf_must(&env, "apply", &tf, &vars, &["--parallelism", "10"]);
    eprintln!(
        "kv_cluster (3 nodes, isolated, floating IPs) apply to healthy: {:?}",
        started.elapsed()
    );
    let outputs = tf_outputs(&env, &tf);
    let public: Vec<String> = outputs["public_addresses"]["value"]
        .as_array()
        .expect("public_addresses")
        .iter()
        .filter_map(|a| a.as_str().map(str::to_owned))
        .collect();
    assert_eq!(public.len(), 3, "{outputs}");
    let cluster_id = outputs["cluster_id"]["value"]
        .as_str()
        .expect("cluster_id")
        .to_owned();
    let mut nodes = Vec::new();
    for a in &public {
        let (status, body) = http_get_when_up(&format!("http://{a}:{port}/health"), None);
        assert!(status.contains(" 200 "), "node {a}: {status}");
        let health: serde_json::Value = serde_json::from_str(&body).expect("health JSON");
        assert_eq!(
            health["cluster_id"].as_str(),
            Some(cluster_id.as_str()),
            "{a}: {health}"
        );
        nodes.push(health["node"].as_str().unwrap_or_default().to_owned());
    }
    nodes.sort();
    nodes.dedup();
    assert_eq!(nodes.len(), 3, "three distinct nodes: {nodes:?}");

    tf_must(&env, "destroy", &tf, &vars, &[]);
    net.destroy(&env);
    drop(serve);
}
