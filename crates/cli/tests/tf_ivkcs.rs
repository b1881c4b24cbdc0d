//! End to end on one machine: `vitrina serve --demo` (config service + localcloud under
//! `/cloud`), then `. DATA/demo.env && vitrina tf apply examples/tf/localcloud-agent`: the VM's
//! user data downloads and starts `vitrina-agent`, the agent runs both exec groups (the first
//! one's structured result reaches the second), the check turns healthy, and `destroy` cleans up.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const EXAMPLE: &str = include_str!("../../../examples/tf/localcloud-agent/main.tf");
const KV_CLUSTER: &str =
    include_str!("../../../examples/packages/kv_cluster/plans/standard/deployment/deploy.tf");
const KAFKA: &str = include_str!("../../../examples/tf/kafka-localcloud/main.tf");
const HELLO_WEB: &str =
    include_str!("../../../examples/packages/hello_web/plans/free/deployment/deploy.tf");

mod ivkcs_support;
use ivkcs_support::*;

#[test]
fn apply_on_localcloud_installs_the_agent_and_runs_the_steps() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let (serve, env) = serve_with(&data, "6s", "auto");
    let tf = dir.path().join("tf");
    std::fs::create_dir_all(&tf).expect("tf dir");
    std::fs::write(tf.join("main.tf"), EXAMPLE).expect("main.tf");
    let tf_s = tf.to_str().expect("utf-8 path");

    let started = Instant::now();
    must(&env, &["tf", "apply", tf_s, "--auto-approve"]);
    eprintln!(
        "apply (VM boot, agent install, two exec groups, check): {:?}",
        started.elapsed()
    );
    let outputs: serde_json::Value =
        serde_json::from_str(&must(&env, &["tf", "output", tf_s, "--json"])).expect("outputs");
    let cluster = outputs["cluster_id"]["value"]
        .as_str()
        .expect("cluster_id")
        .to_owned();
    assert_eq!(cluster.len(), 36, "{outputs}");
    // The second step wrote the first one's result inside the VM's root.
    let instances = std::fs::read_dir(data.join("cloud/instances")).expect("instances");
    let written: Vec<String> = instances
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("srv/demo/cluster")).ok())
        .collect();
    assert_eq!(written, vec![format!("{cluster}\n")]);
    // Nothing to do on a second plan.
    let plan = must(&env, &["tf", "plan", tf_s, "--json"]);
    let plan: serde_json::Value = serde_json::from_str(&plan).expect("plan json");
    let changes: Vec<&serde_json::Value> = plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|c| c["action"] != "no-op" && c["action"] != "read")
        .collect();
    assert!(changes.is_empty(), "{changes:#?}");

    // The VM dies (its whole process tree): the config service finds the host failed, and the
    // next plan replaces the VM, and only what hangs on it.
    let vm_dirs = |data: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(data.join("cloud/instances"))
            .map(|rd| rd.flatten().map(|e| e.path()).collect())
            .unwrap_or_default()
    };
    let old_vm = vm_dirs(&data).pop().expect("one VM");
    let pgid = std::fs::read_to_string(old_vm.join("var/lib/cloud/pid")).expect("VM pid");
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", pgid.trim())])
        .status();
    // The config service says why, for that host only.
    let service = env
        .iter()
        .find(|(k, _)| k == "VITRINA_CONFIG_SERVICE")
        .map(|(_, v)| v.clone())
        .expect("VITRINA_CONFIG_SERVICE");
    let token = env
        .iter()
        .find(|(k, _)| k == "VITRINA_CONFIG_TOKEN")
        .map(|(_, v)| v.clone())
        .expect("VITRINA_CONFIG_TOKEN");
    let uuid = outputs["instance_uuid"]["value"]
        .as_str()
        .expect("uuid")
        .to_owned();
    let host = outputs["host"]["value"].as_str().expect("host").to_owned();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let deadline = Instant::now() + Duration::from_secs(120);
    let reason = loop {
        let view: serde_json::Value = rt.block_on(async {
            reqwest::Client::new()
                .get(format!(
                    "{service}/config/v1/deployments/{uuid}/hosts/{host}"
                ))
                .bearer_auth(&token)
                .send()
                .await
                .expect("host view")
                .json()
                .await
                .expect("json")
        });
        if let Some(reason) = view["failed"].as_str() {
            break reason.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "the host was never marked failed: {view}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    // A dead VM stops both its heartbeats and its checks; whichever went stale first is named.
    assert!(
        reason.contains("heartbeat") || reason.contains("no healthy result"),
        "{reason}"
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    let replaced = loop {
        let plan: serde_json::Value =
            serde_json::from_str(&must(&env, &["tf", "plan", tf_s, "--json"])).expect("plan json");
        let replaced: Vec<String> = plan["changes"]
            .as_array()
            .expect("changes")
            .iter()
            .filter(|c| c["action"] == "replace")
            .filter_map(|c| c["address"].as_str().map(str::to_owned))
            .collect();
        if replaced.iter().any(|a| a == "vkcs_compute_instance.vm") {
            break replaced;
        }
        assert!(
            Instant::now() < deadline,
            "the dead VM was never planned for replacement"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(
        replaced
            .iter()
            .all(|a| a == "vkcs_compute_instance.vm" || a == "null_resource.replacement_trigger"),
        "only the VM and its trigger are replaced: {replaced:?}"
    );
    must(&env, &["tf", "apply", tf_s, "--auto-approve"]);
    // The new VM's agent registers and runs the ordinary steps on its fresh root.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let fresh: Vec<PathBuf> = vm_dirs(&data)
            .into_iter()
            .filter(|d| *d != old_vm)
            .collect();
        if fresh.iter().any(|d| d.join("srv/demo/cluster").is_file()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the replacement VM never ran the steps"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Healthy again: nothing more to replace.
    let plan: serde_json::Value =
        serde_json::from_str(&must(&env, &["tf", "plan", tf_s, "--json"])).expect("plan json");
    let again: Vec<&serde_json::Value> = plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|c| c["action"] == "replace")
        .collect();
    assert!(again.is_empty(), "{again:#?}");

    // Separately, only the agent of the (new) VM dies: its supervisor starts it again at once,
    // and the restarted agent reports the death, so the host is failed with that reason and
    // the next apply replaces the VM.
    let current = vm_dirs(&data)
        .into_iter()
        .find(|d| *d != old_vm && d.join("srv/demo/cluster").is_file())
        .expect("the replacement VM");
    let state_dir = current.join("var/lib/vitrina-agent");
    let pid = agent_pid(&state_dir).expect("the VM's agent runs");
    let _ = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status();
    // With this test's 6 s health timeout the check may go stale first, while the supervisor
    // waits its 2 s; the restarted agent's report then names the death, and that reason stays
    // once its checks are healthy again.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let view = host_view(&rt, &service, &token, &uuid, &host);
        if view["failed"]
            .as_str()
            .is_some_and(|r| r.contains("agent died"))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the host was never marked failed for its dead agent: {view}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // The supervisor brought the agent back: the failure comes from the report, not silence.
    let back = agent_pid(&state_dir).expect("the supervisor restarted the agent");
    assert_ne!(back, pid);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let plan: serde_json::Value =
            serde_json::from_str(&must(&env, &["tf", "plan", tf_s, "--json"])).expect("plan json");
        let replaced: Vec<String> = plan["changes"]
            .as_array()
            .expect("changes")
            .iter()
            .filter(|c| c["action"] == "replace")
            .filter_map(|c| c["address"].as_str().map(str::to_owned))
            .collect();
        if replaced.iter().any(|a| a == "vkcs_compute_instance.vm") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the VM with the dead agent was never planned for replacement: {replaced:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    must(&env, &["tf", "apply", tf_s, "--auto-approve"]);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let view = host_view(&rt, &service, &token, &uuid, &host);
        let fresh = vm_dirs(&data)
            .into_iter()
            .any(|d| d != old_vm && d != current && d.join("srv/demo/cluster").is_file());
        if fresh && view["failed"].is_null() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the VM that replaced the one with the dead agent never became healthy: {view}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    must(&env, &["tf", "destroy", tf_s, "--auto-approve"]);
    drop(serve);
}

/// What the config service says of one host.
fn host_view(
    rt: &tokio::runtime::Runtime,
    service: &str,
    token: &str,
    uuid: &str,
    host: &str,
) -> serde_json::Value {
    rt.block_on(async {
        reqwest::Client::new()
            .get(format!(
                "{service}/config/v1/deployments/{uuid}/hosts/{host}"
            ))
            .bearer_auth(token)
            .send()
            .await
            .expect("host view")
            .json()
            .await
            .expect("json")
    })
}

/// The pid (on the machine) of the `vitrina-agent` whose state folder is `state_dir`; not its
/// supervisor loop, whose command line names the folder too.
/// The pid (on the machine) of the agent keeping its state in `state_dir`. In the shared-network
/// mode the agent names that folder by its machine path; in a contained VM it names it by the
/// VM's own path and runs as the VM's root, a uid of its own on the machine that also owns the
/// folder.
fn agent_pid(state_dir: &Path) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    let want = state_dir.to_string_lossy().into_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let vm_uid = std::fs::metadata(state_dir)
            .ok()
            .map(|m| m.uid())
            .filter(|u| *u != 0);
        let found = std::fs::read_dir("/proc").ok().and_then(|rd| {
            rd.flatten().find_map(|e| {
                let pid: u32 = e.file_name().to_str()?.parse().ok()?;
                let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
                let args: Vec<String> = cmd
                    .split(|b| *b == 0)
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect();
                if !args.first().is_some_and(|a| a.ends_with("vitrina-agent")) {
                    return None;
                }
                let dir = args
                    .windows(2)
                    .find(|w| w[0] == "--state-dir")
                    .map(|w| w[1].clone())?;
                let uid = std::fs::read_to_string(e.path().join("status"))
                    .ok()?
                    .lines()
                    .find_map(|l| l.strip_prefix("Uid:"))?
                    .split_whitespace()
                    .next()?
                    .parse::<u32>()
                    .ok()?;
                let mine = dir == want
                    || (Path::new(&dir) == Path::new("/var/lib/vitrina-agent")
                        && vm_uid == Some(uid));
                mine.then_some(pid)
            })
        });
        if found.is_some() || Instant::now() > deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn hello_web_deploys_on_localcloud_and_answers_at_its_url() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let (serve, env) = serve(&data);
    // A project network on a loopback range: in localcloud's shared-network mode a VM's address
    // must be one this machine has (the data plane gives VMs their own network later).
    let third = std::process::id() % 200 + 20;
    let net = ProjectNet::apply(
        &env,
        dir.path(),
        "hello",
        &format!("127.77.{third}.0/24"),
        false,
    );
    let subnet = net.subnet.clone();

    let tf = dir.path().join("hello_web");
    std::fs::create_dir_all(&tf).expect("tf dir");
    std::fs::write(tf.join("deploy.tf"), HELLO_WEB).expect("deploy.tf");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let vars = [
        "--var".to_owned(),
        "flavor=Basic-1-2-20".to_owned(),
        "--var".to_owned(),
        "az=GZ1".to_owned(),
        "--var".to_owned(),
        format!("subnet={subnet}"),
        "--var".to_owned(),
        "data_type=ceph-ssd".to_owned(),
        "--var".to_owned(),
        "data_size=1".to_owned(),
        "--var".to_owned(),
        "page_title=\"Hello from vitrina\"".to_owned(),
        "--var".to_owned(),
        format!("http_port={port}"),
    ];
    let tf_s = tf.to_str().expect("utf-8");
    let with = |cmd: &[&str]| -> Vec<String> {
        cmd.iter()
            .map(|s| s.to_string())
            .chain(vars.iter().cloned())
            .collect()
    };
    let started = Instant::now();
    let apply = with(&["tf", "apply", tf_s, "--auto-approve"]);
    let out = vitrina(&env, &apply.iter().map(String::as_str).collect::<Vec<_>>());
    let app_servers = AppServers(data.clone());
    assert!(
        out.status.success(),
        "apply failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("hello_web apply to healthy: {:?}", started.elapsed());
    let outputs: serde_json::Value =
        serde_json::from_str(&must(&env, &["tf", "output", tf_s, "--json"])).expect("outputs");
    let url = outputs["url"]["value"].as_str().expect("url").to_owned();
    let password = outputs["admin_password"]["value"]
        .as_str()
        .expect("password")
        .to_owned();
    let (status, body) = http_get(&url, None);
    assert!(status.contains("200"), "{status}");
    assert!(body.contains("<h1>Hello from vitrina</h1>"), "{body}");
    let (status, _) = http_get(&format!("{url}admin"), None);
    assert!(status.contains("401"), "{status}");
    let (status, body) = http_get(&format!("{url}admin"), Some(&format!("admin:{password}")));
    assert!(
        status.contains("200") && body.contains("uptime_seconds"),
        "{status} {body}"
    );

    // The page server runs outside the VM's process group: stop it while its pid file exists.
    app_servers.stop();
    let destroy = with(&["tf", "destroy", tf_s, "--auto-approve"]);
    let out = vitrina(
        &env,
        &destroy.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert!(
        out.status.success(),
        "destroy failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    net.destroy(&env);
    drop(serve);
}

#[test]
fn kv_cluster_of_five_nodes_deploys_on_localcloud() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let (serve, env) = serve(&data);
    let third = std::process::id() % 200 + 21;
    let net = ProjectNet::apply(
        &env,
        dir.path(),
        "kv",
        &format!("127.78.{third}.0/24"),
        false,
    );
    let subnet = net.subnet.clone();

    let tf = dir.path().join("kv_cluster");
    std::fs::create_dir_all(&tf).expect("tf dir");
    std::fs::write(tf.join("deploy.tf"), KV_CLUSTER).expect("deploy.tf");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let vars: Vec<String> = [
        "nodes=5".to_owned(),
        "flavor=Basic-1-2-20".to_owned(),
        "az=GZ1".to_owned(),
        format!("subnet={subnet}"),
        "data_type=ceph-ssd".to_owned(),
        "data_size=1".to_owned(),
        "public_reads=true".to_owned(),
        format!("kv_port={port}"),
    ]
    .into_iter()
    .flat_map(|v| ["--var".to_owned(), v])
    .collect();
    let tf_s = tf.to_str().expect("utf-8");
    let with = |cmd: &[&str]| -> Vec<String> {
        cmd.iter()
            .map(|s| s.to_string())
            .chain(vars.iter().cloned())
            .collect()
    };
    let app_servers = AppServers(data.clone());
    let started = Instant::now();
    let apply = with(&["tf", "apply", tf_s, "--auto-approve", "--parallelism", "10"]);
    let out = vitrina(&env, &apply.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        out.status.success(),
        "apply failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "kv_cluster (5 nodes) apply to healthy: {:?}",
        started.elapsed()
    );
    // A second plan has nothing to do.
    let plan = with(&["tf", "plan", tf_s]);
    let plan = must(&env, &plan.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        plan.contains("No changes"),
        "a second plan changes:\n{plan}"
    );
    let outputs: serde_json::Value =
        serde_json::from_str(&must(&env, &["tf", "output", tf_s, "--json"])).expect("outputs");
    let addresses: Vec<String> = outputs["addresses"]["value"]
        .as_array()
        .expect("addresses")
        .iter()
        .filter_map(|a| a.as_str().map(str::to_owned))
        .collect();
    assert_eq!(addresses.len(), 5, "{outputs}");
    let cluster_id = outputs["cluster_id"]["value"]
        .as_str()
        .expect("cluster_id")
        .to_owned();
    // Every node listens on the same port at its own address and knows the cluster.
    let mut nodes = Vec::new();
    for a in &addresses {
        let (status, body) = http_get(&format!("http://{a}:{port}/health"), None);
        assert!(status.contains("200"), "node {a}: {status}");
        let health: serde_json::Value = serde_json::from_str(&body).expect("health JSON");
        // The first step's structured result (the cluster id) reached every node.
        assert_eq!(
            health["cluster_id"].as_str(),
            Some(cluster_id.as_str()),
            "{a}: {health}"
        );
        nodes.push(health["node"].as_str().unwrap_or_default().to_owned());
    }
    nodes.sort();
    nodes.dedup();
    assert_eq!(nodes.len(), 5, "five distinct nodes: {nodes:?}");
    let endpoints = outputs["endpoints"]["value"].as_array().expect("endpoints");
    assert!(endpoints
        .iter()
        .all(|e| e.as_str().is_some_and(|e| e.ends_with(&format!(":{port}")))));
    assert!(!cluster_id.is_empty());

    app_servers.stop();
    let destroy = with(&["tf", "destroy", tf_s, "--auto-approve"]);
    let out = vitrina(
        &env,
        &destroy.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert!(
        out.status.success(),
        "destroy failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    net.destroy(&env);
    drop(serve);
}

#[test]
fn a_reboot_during_apply_brings_the_agent_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let (serve, env) = serve(&data);
    let tf = dir.path().join("tf");
    std::fs::create_dir_all(&tf).expect("tf dir");
    std::fs::write(
        tf.join("main.tf"),
        r#"
variable "instance_uuid" {
  type = string
}

resource "vkcs_networking_network" "net" {
  name = "reboot-net"
}

resource "vkcs_networking_subnet" "sub" {
  name       = "reboot-subnet"
  network_id = vkcs_networking_network.net.id
  cidr       = "192.168.78.0/24"
}

resource "ivkcs_user_data" "init" {
  uuid      = var.instance_uuid
  hosts     = ["rebooted"]
  target_os = "debian114"
}

resource "vkcs_compute_instance" "vm" {
  name       = "rebooted"
  flavor_id  = "Basic-1-2-20"
  image_name = "vitrina-process-base"
  user_data  = ivkcs_user_data.init.user_data[0]
  network {
    uuid = vkcs_networking_network.net.id
  }
  depends_on = [vkcs_networking_subnet.sub]
}

resource "ivkcs_compute_instance_reboot" "vm" {
  instance = vkcs_compute_instance.vm.id
}

resource "ivkcs_agent_exec" "after" {
  uuid  = var.instance_uuid
  name  = "after reboot"
  hosts = ["rebooted"]
  step {
    index   = 1
    type    = "bash"
    content = "date > \"$VITRINA_ROOT/after-reboot\""
  }
  timeouts {
    create = "3m"
  }
  depends_on = [ivkcs_compute_instance_reboot.vm]
}
"#,
    )
    .expect("main.tf");
    let tf_s = tf.to_str().expect("utf-8");
    must(&env, &["tf", "apply", tf_s, "--auto-approve"]);
    let vm = std::fs::read_dir(data.join("cloud/instances"))
        .expect("instances")
        .flatten()
        .map(|e| e.path())
        .next()
        .expect("one VM");
    let console = std::fs::read_to_string(vm.join("var/log/console.log")).expect("console");
    assert_eq!(
        console.matches("localcloud: booting").count(),
        2,
        "one boot and one reboot:\n{console}"
    );
    assert!(
        vm.join("after-reboot").is_file(),
        "the step after the reboot did not run"
    );
    must(&env, &["tf", "destroy", tf_s, "--auto-approve"]);
    drop(serve);
}

/// The seed's Kafka manifest adapted to localcloud (`examples/tf/kafka-localcloud`): three nodes
/// from `ivkcs_agent_init`, every step `ok` on every node, the first step's structured result (the
/// cluster's CA) reached the second step on every node, the checks turned healthy, the outputs
/// list the node addresses, and every node listens on the same two ports at its own address.
#[test]
fn kafka_from_the_seed_deploys_on_localcloud() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let (serve, env) = serve(&data);
    let third = std::process::id() % 200 + 22;
    let tf = dir.path().join("kafka");
    std::fs::create_dir_all(&tf).expect("tf dir");
    std::fs::write(tf.join("main.tf"), KAFKA).expect("main.tf");
    let (kafka_port, zk_port) = (free_port(), free_port());
    let vars: Vec<String> = [
        format!("subnet_cidr=127.79.{third}.0/24"),
        format!("kafka_port={kafka_port}"),
        format!("zookeeper_port={zk_port}"),
        "volume_size=1".to_owned(),
        // localcloud's flavors are VK's names; the seed's 2 vCPU / 2 GB has none.
        "flavor_vcpus=2".to_owned(),
        "flavor_ram=4096".to_owned(),
    ]
    .into_iter()
    .flat_map(|v| ["--var".to_owned(), v])
    .collect();
    let tf_s = tf.to_str().expect("utf-8");
    let with = |cmd: &[&str]| -> Vec<String> {
        cmd.iter()
            .map(|s| s.to_string())
            .chain(vars.iter().cloned())
            .collect()
    };
    let app_servers = AppServers(data.clone());
    let started = Instant::now();
    let apply = with(&["tf", "apply", tf_s, "--auto-approve", "--parallelism", "10"]);
    let out = vitrina(&env, &apply.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        out.status.success(),
        "apply failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("kafka (3 nodes) apply to healthy: {:?}", started.elapsed());
    // A second plan has nothing to do: what the providers read back matches the manifest.
    let plan = with(&["tf", "plan", tf_s]);
    let plan = must(&env, &plan.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        plan.contains("No changes"),
        "a second plan changes:\n{plan}"
    );
    let outputs: serde_json::Value =
        serde_json::from_str(&must(&env, &["tf", "output", tf_s, "--json"])).expect("outputs");
    let addresses: Vec<String> = outputs["address"]["value"]
        .as_array()
        .expect("address")
        .iter()
        .filter_map(|a| a.as_str().map(str::to_owned))
        .collect();
    assert_eq!(addresses.len(), 3, "{outputs}");
    let ca = outputs["ca_sha256"]["value"]
        .as_str()
        .expect("ca_sha256")
        .to_owned();
    assert_eq!(ca.len(), 95, "a SHA-256 fingerprint: {ca}");
    // Each node answers on both ports at its own address, with the CA node 0 made.
    let mut nodes = Vec::new();
    for a in &addresses {
        for port in [kafka_port, zk_port] {
            let line = read_line(&format!("{a}:{port}"));
            let info: serde_json::Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("{a}:{port}: {e}: {line:?}"));
            assert_eq!(info["ca_sha256"].as_str(), Some(ca.as_str()), "{a}: {info}");
            assert_eq!(info["port"].as_u64(), Some(u64::from(port)), "{info}");
            let brokers: Vec<&str> = info["brokers"]
                .as_array()
                .expect("brokers")
                .iter()
                .filter_map(|b| b.as_str())
                .collect();
            assert_eq!(
                brokers,
                addresses.iter().map(String::as_str).collect::<Vec<_>>()
            );
            nodes.push(info["node"].as_str().unwrap_or_default().to_owned());
        }
    }
    nodes.sort();
    nodes.dedup();
    assert_eq!(nodes.len(), 3, "three distinct nodes: {nodes:?}");
    // Every step `ok` on every node, as the config service has it.
    let service = env
        .iter()
        .find(|(k, _)| k == "VITRINA_CONFIG_SERVICE")
        .map(|(_, v)| v.clone())
        .expect("VITRINA_CONFIG_SERVICE");
    let token = env
        .iter()
        .find(|(k, _)| k == "VITRINA_CONFIG_TOKEN")
        .map(|(_, v)| v.clone())
        .expect("VITRINA_CONFIG_TOKEN");
    let uuid = outputs["instance_uuid"]["value"]
        .as_str()
        .expect("uuid")
        .to_owned();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for (group, hosts) in [("init%20ssl", 1), ("sync%20kafka", 3)] {
        let r: serde_json::Value = rt.block_on(async {
            reqwest::Client::new()
                .get(format!(
                    "{service}/config/v1/deployments/{uuid}/groups/{group}/results"
                ))
                .bearer_auth(&token)
                .send()
                .await
                .expect("results")
                .json()
                .await
                .expect("json")
        });
        let hs = r["hosts"].as_array().expect("hosts");
        assert_eq!(hs.len(), hosts, "{r}");
        for h in hs {
            assert_eq!(h["status"], "ok", "{r}");
            assert!(
                h["steps"]
                    .as_array()
                    .is_some_and(|s| !s.is_empty() && s.iter().all(|s| s["status"] == "ok")),
                "{r}"
            );
        }
    }
    app_servers.stop();
    let destroy = with(&["tf", "destroy", tf_s, "--auto-approve"]);
    let out = vitrina(
        &env,
        &destroy.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert!(
        out.status.success(),
        "destroy failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(serve);
}
