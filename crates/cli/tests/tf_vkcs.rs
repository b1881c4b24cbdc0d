//! `vitrina tf` with the `vkcs` provider against a real `vitrina localcloud serve` process:
//! a manifest using every `vkcs_*` resource and data source is applied, a second plan is empty,
//! a new `user_data` plans a replacement of the instance, and `destroy` leaves the project with no
//! servers, volumes, ports or floating IPs.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context as _, Result};

/// The README's walkthrough manifest, tested as it ships.
const MANIFEST: &str = include_str!("../../../examples/tf/localcloud-vm/main.tf");

/// Every resource the manifest declares.
const RESOURCES: &[&str] = &[
    "vkcs_networking_network.net",
    "vkcs_networking_subnet.sub",
    "vkcs_networking_router.router",
    "vkcs_networking_router_interface.ri",
    "vkcs_networking_secgroup.sg",
    "vkcs_networking_secgroup_rule.ssh",
    "vkcs_networking_port.vm",
    "vkcs_networking_port.extra",
    "vkcs_compute_keypair.kp",
    "vkcs_blockstorage_volume.boot",
    "vkcs_blockstorage_volume.data",
    "vkcs_compute_instance.vm",
    "vkcs_compute_volume_attach.data",
    "vkcs_networking_floatingip.vm",
    "vkcs_compute_floatingip_associate.vm",
    "vkcs_networking_floatingip.extra",
    "vkcs_networking_floatingip_associate.extra",
];

/// A `vitrina localcloud serve` process, killed when dropped.
struct LocalCloud {
    child: Child,
    data: PathBuf,
}

impl Drop for LocalCloud {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Its VMs and its namespaces, links and nftables tables go with it.
        vitrina_localcloud::kill_instances(&self.data.join("instances"));
    }
}

impl LocalCloud {
    fn start(data: &Path) -> Result<Self> {
        let child = Command::new(env!("CARGO_BIN_EXE_vitrina"))
            .args(["localcloud", "serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("cannot start `vitrina localcloud serve`")?;
        let mut cloud = LocalCloud {
            child,
            data: data.to_path_buf(),
        };
        let clouds = data.join("clouds.yaml");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = cloud.child.try_wait()? {
                bail!("`vitrina localcloud serve` exited early with {status}");
            }
            if let Ok(text) = std::fs::read_to_string(&clouds) {
                if let Some(addr) = auth_host(&text) {
                    if healthz(&addr) {
                        return Ok(cloud);
                    }
                }
            }
            ensure!(
                Instant::now() < deadline,
                "localcloud did not answer /healthz within 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn clouds_yaml(&self) -> PathBuf {
        self.data.join("clouds.yaml")
    }
}

/// `127.0.0.1:PORT` of the first `auth_url` in clouds.yaml.
fn auth_host(clouds_yaml: &str) -> Option<String> {
    let line = clouds_yaml
        .lines()
        .find(|l| l.trim_start().starts_with("auth_url:"))?;
    let url = line
        .split_once("auth_url:")?
        .1
        .trim()
        .trim_matches(|c| c == '"' || c == '\'');
    let rest = url.strip_prefix("http://")?;
    Some(rest.split('/').next()?.to_owned())
}

/// Whether `GET /healthz` answers 200.
fn healthz(addr: &str) -> bool {
    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(
        format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .is_err()
    {
        return false;
    }
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    buf.starts_with("HTTP/1.1 200")
}

fn vitrina(cloud: &LocalCloud, args: &[&str]) -> Result<Output> {
    let out = Command::new(env!("CARGO_BIN_EXE_vitrina"))
        .args(args)
        .env("OS_CLIENT_CONFIG_FILE", cloud.clouds_yaml())
        .env("OS_CLOUD", "localcloud")
        .env_remove("OS_AUTH_URL")
        .env_remove("OS_PASSWORD")
        .env_remove("OS_USERNAME")
        .output()
        .with_context(|| format!("cannot run vitrina {args:?}"))?;
    Ok(out)
}

fn must(cloud: &LocalCloud, args: &[&str]) -> Result<String> {
    let out = vitrina(cloud, args)?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    ensure!(
        out.status.success(),
        "vitrina {args:?} failed with {}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(stdout)
}

/// `(address, action)` of each change in `plan --json`.
fn plan_actions(json: &str) -> Result<Vec<(String, String)>> {
    let v: serde_json::Value =
        serde_json::from_str(json).with_context(|| format!("plan --json is not JSON: {json}"))?;
    let changes = v["changes"]
        .as_array()
        .context("plan --json has no `changes`")?;
    Ok(changes
        .iter()
        .map(|c| {
            (
                c["address"].as_str().unwrap_or_default().to_owned(),
                c["action"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect())
}

/// What the demo project still holds: servers, volumes, ports and floating IPs.
fn leftovers(clouds_yaml: &Path) -> Result<Vec<String>> {
    let source = vitrina_openstack::ConfigSource {
        env: [
            ("OS_CLOUD".to_owned(), "localcloud".to_owned()),
            (
                "OS_CLIENT_CONFIG_FILE".to_owned(),
                clouds_yaml.display().to_string(),
            ),
        ]
        .into(),
        cwd: std::env::temp_dir(),
        home: None,
    };
    let config = vitrina_openstack::CloudConfig::load_from(&source, None)?;
    let client = vitrina_openstack::Client::new(config)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let token = client.token().await?;
        let project = token
            .project_id()
            .context("the localcloud token has no project")?
            .to_owned();
        let by_project = vec![("project_id".to_owned(), project.clone())];
        let mut out = Vec::new();
        for s in client.compute().list_servers(&Vec::new()).await? {
            out.push(format!("server {} ({})", s.name, s.status));
        }
        for v in client.block_storage().list_volumes(&Vec::new()).await? {
            out.push(format!(
                "volume {} ({})",
                v.name.unwrap_or_default(),
                v.status
            ));
        }
        for p in client.network().list_ports(&by_project).await? {
            out.push(format!(
                "port {} ({}, owner `{}`)",
                p.id, p.name, p.device_owner
            ));
        }
        for f in client.network().list_floating_ips(&by_project).await? {
            out.push(format!("floating IP {}", f.floating_ip_address));
        }
        Ok(out)
    })
}

#[test]
fn tf_apply_plan_replace_destroy_every_vkcs_resource_on_localcloud() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let data = tmp.path().join("cloud");
    let dir = tmp.path().join("manifest");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("main.tf"), MANIFEST)?;
    let cloud = LocalCloud::start(&data)?;
    let d = dir.to_str().context("temp path is not UTF-8")?;

    // 1. apply creates everything.
    must(&cloud, &["tf", "apply", d, "--auto-approve"])?;
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("vitrina.tfstate"))?)?;
    let state_text = state.to_string();
    for r in RESOURCES {
        let (ty, name) = r.split_once('.').context("address")?;
        ensure!(
            state_text.contains(&format!("\"{ty}\""))
                && state_text.contains(&format!("\"{name}\"")),
            "{r} is not in the state"
        );
    }
    // user_data is kept as its SHA-1, never as the script itself.
    ensure!(
        !state_text.contains("hello from vitrina"),
        "the state holds the raw user_data"
    );
    let outputs: serde_json::Value =
        serde_json::from_str(&must(&cloud, &["tf", "output", d, "--json"])?)?;
    ensure!(
        outputs["subnet_cidr"]["value"] == "192.168.199.0/24",
        "outputs: {outputs}"
    );
    let vm_ip = outputs["vm_ip"]["value"].as_str().unwrap_or_default();
    ensure!(vm_ip.starts_with("192.168.199."), "vm_ip `{vm_ip}`");
    ensure!(
        outputs["private_key"]["value"]
            .as_str()
            .is_some_and(|k| k.contains("PRIVATE KEY")),
        "no generated private key"
    );
    let found = leftovers(&cloud.clouds_yaml())?;
    ensure!(
        found
            .iter()
            .any(|l| l.starts_with("server vitrina-vm (ACTIVE)")),
        "servers: {found:?}"
    );
    ensure!(
        found
            .iter()
            .filter(|l| l.starts_with("floating IP"))
            .count()
            == 2,
        "floating IPs: {found:?}"
    );

    // 2. a second plan changes nothing.
    let plan = plan_actions(&must(&cloud, &["tf", "plan", d, "--json"])?)?;
    let changes: Vec<_> = plan.iter().filter(|(_, a)| a != "no-op").collect();
    ensure!(
        changes.is_empty(),
        "the second plan is not empty: {changes:?}"
    );
    for r in RESOURCES {
        ensure!(
            plan.iter().any(|(a, _)| a == r),
            "{r} is missing from the plan: {plan:?}"
        );
    }

    // 3. new user_data replaces the instance.
    let plan = plan_actions(&must(
        &cloud,
        &[
            "tf",
            "plan",
            d,
            "--json",
            "--var",
            r##"user_data="#!/bin/sh\necho changed\n""##,
        ],
    )?)?;
    let vm = plan
        .iter()
        .find(|(a, _)| a == "vkcs_compute_instance.vm")
        .context("the instance is not in the plan")?;
    ensure!(
        vm.1 == "replace",
        "changing user_data plans {vm:?}, not a replacement; plan: {plan:?}"
    );
    for (a, action) in &plan {
        if a.starts_with("vkcs_networking_") || a.starts_with("vkcs_blockstorage_") {
            ensure!(
                action == "no-op",
                "{a} plans {action} when only user_data changed"
            );
        }
    }

    // 4. destroy leaves nothing of the project behind.
    must(&cloud, &["tf", "destroy", d, "--auto-approve"])?;
    let found = leftovers(&cloud.clouds_yaml())?;
    ensure!(found.is_empty(), "destroy left: {found:?}");
    Ok(())
}

const IMAGE_BOOT: &str = r##"
resource "vkcs_networking_network" "net" {
  name = "n2"
}

resource "vkcs_networking_subnet" "sub" {
  network_id = vkcs_networking_network.net.id
  cidr       = "10.5.0.0/24"
  allocation_pool {
    start = "10.5.0.10"
    end   = "10.5.0.100"
  }
}

resource "vkcs_networking_secgroup" "sg" {
  name                 = "web"
  delete_default_rules = true
}

resource "vkcs_compute_instance" "vm" {
  name            = "img-vm"
  flavor_name     = "Basic-1-2-20"
  image_name      = "vitrina-process-base"
  security_groups = ["default", vkcs_networking_secgroup.sg.name]
  power_state     = "shutoff"
  user_data       = <<-EOT
    #cloud-config
    runcmd:
      - echo hi
  EOT
  network {
    uuid = vkcs_networking_network.net.id
  }
  depends_on = [vkcs_networking_subnet.sub]
}

resource "vkcs_blockstorage_volume" "scratch" {
  size              = 1
  volume_type       = "high-iops"
  availability_zone = "MS1"
}

output "ip" {
  value = vkcs_compute_instance.vm.network[0].fixed_ip_v4
}
"##;

/// Marks the current objects of `types` in the state as `creating`: what the state holds when a
/// process dies between sending a create and recording its result.
fn mark_creating(state_file: &Path, types: &[&str]) -> Result<()> {
    let mut state: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(state_file)?)?;
    let resources = state["resources"]
        .as_array_mut()
        .context("state without resources")?;
    let mut marked = 0;
    for r in resources {
        if r["mode"] != "data" && types.iter().any(|t| r["type"] == *t) {
            for i in r["instances"]
                .as_array_mut()
                .context("resource without instances")?
            {
                i["status"] = serde_json::Value::String("creating".into());
                marked += 1;
            }
        }
    }
    ensure!(marked == types.len(), "marked {marked} objects in {state}");
    std::fs::write(state_file, serde_json::to_vec_pretty(&state)?)?;
    Ok(())
}

/// The other common VK shape: boot from an image by name, a network by id (Nova makes the port),
/// security groups by name, created stopped.
#[test]
fn tf_image_boot_by_names_on_localcloud() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("manifest");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("main.tf"), IMAGE_BOOT)?;
    let cloud = LocalCloud::start(&tmp.path().join("cloud"))?;
    let d = dir.to_str().context("temp path is not UTF-8")?;
    must(&cloud, &["tf", "apply", d, "--auto-approve"])?;
    let outputs: serde_json::Value =
        serde_json::from_str(&must(&cloud, &["tf", "output", d, "--json"])?)?;
    ensure!(
        outputs["ip"]["value"] == "10.5.0.10",
        "the first address of the pool: {outputs}"
    );
    let found = leftovers(&cloud.clouds_yaml())?;
    ensure!(
        found.iter().any(|l| l == "server img-vm (SHUTOFF)"),
        "servers: {found:?}"
    );
    let plan = plan_actions(&must(&cloud, &["tf", "plan", d, "--json"])?)?;
    ensure!(
        plan.iter().all(|(_, a)| a == "no-op"),
        "the second plan is not empty: {plan:?}"
    );

    // A create interrupted after the cloud made the objects is repeated with the same token:
    // the server and the volume are found, not made twice.
    mark_creating(
        &dir.join("vitrina.tfstate"),
        &["vkcs_compute_instance", "vkcs_blockstorage_volume"],
    )?;
    must(&cloud, &["tf", "apply", d, "--auto-approve"])?;
    let found = leftovers(&cloud.clouds_yaml())?;
    let servers = found.iter().filter(|l| l.starts_with("server ")).count();
    let volumes = found.iter().filter(|l| l.starts_with("volume ")).count();
    ensure!(
        servers == 1 && volumes == 1,
        "a repeated create duplicated objects: {found:?}"
    );
    let plan = plan_actions(&must(&cloud, &["tf", "plan", d, "--json"])?)?;
    ensure!(
        plan.iter().all(|(_, a)| a == "no-op"),
        "the plan after the repeated create is not empty: {plan:?}"
    );

    must(&cloud, &["tf", "destroy", d, "--auto-approve"])?;
    let found = leftovers(&cloud.clouds_yaml())?;
    ensure!(found.is_empty(), "destroy left: {found:?}");
    Ok(())
}

/// A manifest whose `provider "vkcs"` block holds the credentials.
fn provider_block_manifest(creds: &serde_json::Value, password: &str) -> String {
    let demo = &creds["projects"]["demo"];
    format!(
        r#"
provider "vkcs" {{
  auth_url         = "{auth_url}"
  username         = "{username}"
  password         = "{password}"
  project_id       = "{project_id}"
  region           = "{region}"
  user_domain_name = "Default"
}}

resource "vkcs_networking_network" "net" {{
  name = "from-block"
}}
"#,
        auth_url = creds["auth_url"].as_str().unwrap_or_default(),
        username = demo["username"].as_str().unwrap_or_default(),
        project_id = demo["id"].as_str().unwrap_or_default(),
        region = creds["region"].as_str().unwrap_or_default(),
    )
}

/// Runs vitrina with no OpenStack settings in the environment at all.
fn vitrina_without_os_env(args: &[&str]) -> Result<Output> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vitrina"));
    cmd.args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("OS_") {
            cmd.env_remove(k);
        }
    }
    cmd.output()
        .with_context(|| format!("cannot run vitrina {args:?}"))
}

/// The provider block wins over (here: absent) `OS_*`; a wrong password fails with
/// Keystone's answer and never shows the password.
#[test]
fn tf_provider_block_credentials_and_secret_free_errors() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let cloud = LocalCloud::start(&tmp.path().join("cloud"))?;
    let creds: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(
        cloud.data.join("localcloud-credentials.json"),
    )?)?;
    let password = creds["projects"]["demo"]["password"]
        .as_str()
        .context("no demo password")?
        .to_owned();

    let bad = tmp.path().join("bad");
    std::fs::create_dir_all(&bad)?;
    let wrong = "wrong-Secret-4711";
    std::fs::write(bad.join("main.tf"), provider_block_manifest(&creds, wrong))?;
    let b = bad.to_str().context("temp path is not UTF-8")?;
    let out = vitrina_without_os_env(&["tf", "apply", b, "--auto-approve"])?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    ensure!(
        !out.status.success(),
        "a wrong password was accepted: {text}"
    );
    ensure!(
        text.contains("401"),
        "the error does not say what Keystone answered: {text}"
    );
    ensure!(
        !text.contains(wrong),
        "the password appears in the output: {text}"
    );

    let good = tmp.path().join("good");
    std::fs::create_dir_all(&good)?;
    std::fs::write(
        good.join("main.tf"),
        provider_block_manifest(&creds, &password),
    )?;
    let g = good.to_str().context("temp path is not UTF-8")?;
    let out = vitrina_without_os_env(&["tf", "apply", g, "--auto-approve"])?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    ensure!(
        out.status.success(),
        "apply with the provider block failed: {text}"
    );
    ensure!(
        !text.contains(&password),
        "the password appears in the output: {text}"
    );
    let out = vitrina_without_os_env(&["tf", "destroy", g, "--auto-approve"])?;
    ensure!(
        out.status.success(),
        "destroy failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// `X-SDN: sprut` networking with the `internet` pool, a router whose gateway is set after
/// creation, port address pairs and DHCP options, an imported key, a volume cloned from another.
const SPRUT: &str = r##"resource "vkcs_networking_network" "net" {
  name = "sp"
  sdn  = "sprut"
}
resource "vkcs_networking_subnet" "sub" {
  network_id = vkcs_networking_network.net.id
  cidr       = "10.9.0.0/24"
  sdn        = "sprut"
  no_gateway = false
}
data "vkcs_networking_network" "inet" {
  name = "internet"
  sdn  = "sprut"
}
resource "vkcs_networking_router" "r" {
  name = "r"
  sdn  = "sprut"
  external_network_id = data.vkcs_networking_network.inet.id
  vendor_options {
    set_router_gateway_after_create = true
  }
}
resource "vkcs_networking_router_interface" "ri" {
  router_id = vkcs_networking_router.r.id
  subnet_id = vkcs_networking_subnet.sub.id
  sdn       = "sprut"
}
resource "vkcs_networking_port" "p" {
  network_id = vkcs_networking_network.net.id
  sdn        = "sprut"
  allowed_address_pairs {
    ip_address = "10.9.0.200"
  }
  extra_dhcp_option {
    name  = "mtu"
    value = "1400"
  }
  depends_on = [vkcs_networking_subnet.sub]
}
resource "vkcs_networking_floatingip" "f" {
  pool    = "internet"
  sdn     = "sprut"
  port_id = vkcs_networking_port.p.id
  depends_on = [vkcs_networking_router_interface.ri]
}
resource "vkcs_compute_keypair" "k" {
  name       = "imported"
  public_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIL4s3PXa+KFojkquchMfmf/AIhp2SlgoCD1q6KC7YDlo vitrina-test"
}
resource "vkcs_blockstorage_volume" "a" {
  size = 1
  volume_type = "ceph-ssd"
  availability_zone = "GZ1"
}
resource "vkcs_blockstorage_volume" "b" {
  size = 2
  volume_type = "ceph-ssd"
  availability_zone = "GZ1"
  source_vol_id = vkcs_blockstorage_volume.a.id
}
"##;

#[test]
fn tf_sprut_sdn_and_less_common_arguments() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("manifest");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("main.tf"), SPRUT)?;
    let cloud = LocalCloud::start(&tmp.path().join("cloud"))?;
    let d = dir.to_str().context("temp path is not UTF-8")?;
    must(&cloud, &["tf", "apply", d, "--auto-approve"])?;
    let state = std::fs::read_to_string(dir.join("vitrina.tfstate"))?;
    ensure!(
        state.contains("\"sdn\": \"sprut\"") || state.contains("\"sdn\":\"sprut\""),
        "no sprut in {state}"
    );
    let plan = plan_actions(&must(&cloud, &["tf", "plan", d, "--json"])?)?;
    ensure!(
        plan.iter().all(|(_, a)| a == "no-op"),
        "the second plan is not empty: {plan:?}"
    );
    must(&cloud, &["tf", "destroy", d, "--auto-approve"])?;
    let found = leftovers(&cloud.clouds_yaml())?;
    ensure!(found.is_empty(), "destroy left: {found:?}");
    Ok(())
}

/// Networking objects only: four of each kind, each subnet behind a short `time_sleep` so an
/// apply runs long enough to be killed in the middle.
const NETWORKING: &str = r##"
data "vkcs_networking_network" "extnet" {
  name     = "ext-net"
  external = true
}
resource "vkcs_networking_network" "net" {
  count = 4
  name  = "crash-net-${count.index}"
}
resource "time_sleep" "gap" {
  count           = 4
  create_duration = "200ms"
  triggers        = { net = vkcs_networking_network.net[count.index].id }
}
resource "vkcs_networking_subnet" "sub" {
  count      = 4
  name       = "crash-sub-${count.index}"
  network_id = time_sleep.gap[count.index].triggers.net
  cidr       = "10.9${count.index}.0.0/24"
}
resource "vkcs_networking_router" "router" {
  count               = 4
  name                = "crash-router-${count.index}"
  external_network_id = data.vkcs_networking_network.extnet.id
}
resource "vkcs_networking_secgroup" "sg" {
  count = 4
  name  = "crash-sg-${count.index}"
}
resource "vkcs_networking_port" "port" {
  count      = 4
  name       = "crash-port-${count.index}"
  network_id = vkcs_networking_network.net[count.index].id
  fixed_ip {
    subnet_id = vkcs_networking_subnet.sub[count.index].id
  }
}
resource "vkcs_networking_floatingip" "fip" {
  count       = 4
  pool        = "ext-net"
  description = "crash-fip-${count.index}"
}
"##;

/// The networking types of [`NETWORKING`], each with 4 objects.
const NETWORKING_TYPES: &[&str] = &[
    "vkcs_networking_network",
    "vkcs_networking_subnet",
    "vkcs_networking_router",
    "vkcs_networking_secgroup",
    "vkcs_networking_port",
    "vkcs_networking_floatingip",
];

/// The demo project's own networking objects as `kind name`, sorted (a floating IP by its
/// description; the default security group and Neutron's own ports left out).
fn networking_objects(clouds_yaml: &Path) -> Result<Vec<String>> {
    let source = vitrina_openstack::ConfigSource {
        env: [
            ("OS_CLOUD".to_owned(), "localcloud".to_owned()),
            (
                "OS_CLIENT_CONFIG_FILE".to_owned(),
                clouds_yaml.display().to_string(),
            ),
        ]
        .into(),
        cwd: std::env::temp_dir(),
        home: None,
    };
    let config = vitrina_openstack::CloudConfig::load_from(&source, None)?;
    let client = vitrina_openstack::Client::new(config)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let token = client.token().await?;
        let project = token
            .project_id()
            .context("the localcloud token has no project")?
            .to_owned();
        let mine = vec![("project_id".to_owned(), project)];
        let n = client.network();
        let mut out = Vec::new();
        for x in n.list_networks(&mine).await? {
            out.push(format!("network {}", x.name));
        }
        for x in n.list_subnets(&mine).await? {
            out.push(format!("subnet {}", x.name));
        }
        for x in n.list_routers(&mine).await? {
            out.push(format!("router {}", x.name));
        }
        for x in n.list_security_groups(&mine).await? {
            if x.name != "default" {
                out.push(format!("security group {}", x.name));
            }
        }
        for x in n.list_ports(&mine).await? {
            if !x.device_owner.starts_with("network:") {
                out.push(format!("port {}", x.name));
            }
        }
        for x in n.list_floating_ips(&mine).await? {
            out.push(format!("floating IP {}", x.description));
        }
        out.sort();
        Ok(out)
    })
}

/// Marks every object of `types` in the state as `creating` (what the state holds when the
/// process died between sending the creates and recording them); returns how many.
fn mark_all_creating(state_file: &Path, types: &[&str]) -> Result<usize> {
    let mut state: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(state_file)?)?;
    let mut marked = 0;
    for r in state["resources"]
        .as_array_mut()
        .context("state without resources")?
    {
        if r["mode"] != "data" && types.iter().any(|t| r["type"] == *t) {
            for i in r["instances"]
                .as_array_mut()
                .context("resource without instances")?
            {
                i["status"] = serde_json::Value::String("creating".into());
                marked += 1;
            }
        }
    }
    std::fs::write(state_file, serde_json::to_vec_pretty(&state)?)?;
    Ok(marked)
}

/// Networking creates carry the engine's create token as a Neutron tag: applies killed with
/// SIGKILL at random points, then a create repeated after every object was made, converge to
/// exactly the declared objects (none twice), and destroy leaves none behind (none leaked).
#[test]
fn tf_killed_networking_applies_leave_no_duplicates_or_leaks() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("manifest");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("main.tf"), NETWORKING)?;
    let cloud = LocalCloud::start(&tmp.path().join("cloud"))?;
    let d = dir.to_str().context("temp path is not UTF-8")?;
    let mut expected: Vec<String> = Vec::new();
    for i in 0..4 {
        expected.push(format!("network crash-net-{i}"));
        expected.push(format!("subnet crash-sub-{i}"));
        expected.push(format!("router crash-router-{i}"));
        expected.push(format!("security group crash-sg-{i}"));
        expected.push(format!("port crash-port-{i}"));
        expected.push(format!("floating IP crash-fip-{i}"));
    }
    expected.sort();

    let seed = std::env::var("VITRINA_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|t| t.as_nanos() as u64)
                .unwrap_or(7)
        });
    eprintln!("networking crash test seed: {seed} (set VITRINA_CRASH_SEED to replay)");
    let mut rng = seed;
    let mut next = |bound: u64| {
        rng = rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (rng >> 33) % bound
    };
    let mut kills = 0;
    for round in 0..6 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_vitrina"))
            .args(["tf", "apply", d, "--auto-approve", "--parallelism", "2"])
            .env("OS_CLIENT_CONFIG_FILE", cloud.clouds_yaml())
            .env("OS_CLOUD", "localcloud")
            .env_remove("OS_AUTH_URL")
            .env_remove("OS_PASSWORD")
            .env_remove("OS_USERNAME")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        // The four sleeps alone take 400 ms at parallelism 2, so a kill within 450 ms always
        // finds the first apply running; later rounds may finish first.
        std::thread::sleep(Duration::from_millis(50 + next(400)));
        match child.try_wait()? {
            Some(status) => ensure!(
                status.success(),
                "round {round}: apply failed on its own: {status}"
            ),
            None => {
                child.kill()?;
                child.wait()?;
                kills += 1;
            }
        }
    }
    ensure!(kills > 0, "no apply was running when killed");
    must(&cloud, &["tf", "apply", d, "--auto-approve"])?;
    let found = networking_objects(&cloud.clouds_yaml())?;
    ensure!(
        found == expected,
        "after {kills} kills the cloud holds {found:?}, not {expected:?}"
    );

    // Every create repeated after the cloud made its object finds that object.
    let marked = mark_all_creating(&dir.join("vitrina.tfstate"), NETWORKING_TYPES)?;
    ensure!(marked == 24, "marked {marked} objects");
    must(&cloud, &["tf", "apply", d, "--auto-approve"])?;
    let found = networking_objects(&cloud.clouds_yaml())?;
    ensure!(
        found == expected,
        "repeated creates duplicated objects: {found:?}"
    );
    let plan = plan_actions(&must(&cloud, &["tf", "plan", d, "--json"])?)?;
    ensure!(
        plan.iter().all(|(_, a)| a == "no-op"),
        "the plan after the repeated creates is not empty: {plan:?}"
    );
    let state = std::fs::read_to_string(dir.join("vitrina.tfstate"))?;
    ensure!(
        !state.contains("vitrina-create-token:"),
        "the create-token tag leaked into the state"
    );

    must(&cloud, &["tf", "destroy", d, "--auto-approve"])?;
    let found = networking_objects(&cloud.clouds_yaml())?;
    ensure!(found.is_empty(), "destroy left: {found:?}");
    Ok(())
}
