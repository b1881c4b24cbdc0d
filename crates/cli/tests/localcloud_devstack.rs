//! The real python-openstackclient against `vitrina localcloud serve --fixtures devstack`: the
//! devstack clouds, networks, flavors and image work as on devstack, and the admin surface
//! (issue 9, point 6: flavor create/delete and access, volume type create/set/delete,
//! availability zones, extension lists) and `--all-projects` (probe I1) answer the CLI.
//!
//! Needs the peers venv (`scripts/peers.sh` creates `.venv-peers`, or set `VITRINA_PEERS_VENV`);
//! without it the test fails and says so.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn openstack_cli() -> PathBuf {
    let venv = std::env::var_os("VITRINA_PEERS_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv-peers"));
    let bin = venv.join("bin/openstack");
    assert!(bin.exists(), "python-openstackclient is missing at {}: run `scripts/peers.sh` (or set VITRINA_PEERS_VENV to a venv with python-openstackclient)", bin.display());
    bin
}

struct Devstack {
    child: Child,
    dir: tempfile::TempDir,
}

impl Drop for Devstack {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        vitrina_localcloud::kill_instances(&self.dir.path().join("instances"));
    }
}

impl Devstack {
    fn start() -> Devstack {
        let dir = tempfile::tempdir().expect("temp dir");
        let child = Command::new(env!("CARGO_BIN_EXE_vitrina"))
            .args([
                "localcloud",
                "serve",
                "--fixtures",
                "devstack",
                "--stop-servers-on-exit",
                "--listen",
                "127.0.0.1:0",
                "--data",
            ])
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start vitrina localcloud serve");
        let ds = Devstack { child, dir };
        let start = Instant::now();
        // clouds.yaml is written before localcloud answers; the first CLI call that works
        // shows it is up.
        loop {
            if ds.dir.path().join("clouds.yaml").exists()
                && ds
                    .run("devstack", &["versions", "show", "-f", "json"])
                    .status
                    .success()
            {
                return ds;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "localcloud --fixtures devstack did not become ready"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn run(&self, cloud: &str, args: &[&str]) -> Output {
        Command::new(openstack_cli())
            .arg("--os-cloud")
            .arg(cloud)
            .args(args)
            .env("OS_CLIENT_CONFIG_FILE", self.dir.path().join("clouds.yaml"))
            .env_remove("OS_CLOUD")
            .env_remove("OS_AUTH_URL")
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .output()
            .expect("run openstack")
    }

    fn ok(&self, cloud: &str, args: &[&str]) -> String {
        let out = self.run(cloud, args);
        assert!(
            out.status.success(),
            "openstack --os-cloud {cloud} {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn json(&self, cloud: &str, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.extend(["-f", "json"]);
        serde_json::from_str(&self.ok(cloud, &a)).expect("JSON from openstack")
    }
}

fn column(v: &Value, key: &str) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x[key].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn openstack_cli_meets_devstack_and_its_admin_surface() {
    let ds = Devstack::start();

    // What devstack has.
    let nets = column(&ds.json("devstack", &["network", "list"]), "Name");
    assert!(
        nets.contains(&"public".into()) && nets.contains(&"private".into()),
        "{nets:?}"
    );
    let router = ds.json("devstack", &["router", "show", "router1"]);
    assert!(
        router["external_gateway_info"]
            .to_string()
            .contains("network_id"),
        "{router}"
    );
    let flavors = column(&ds.json("devstack-admin", &["flavor", "list"]), "Name");
    for f in [
        "m1.tiny",
        "m1.small",
        "m1.medium",
        "m1.large",
        "m1.xlarge",
        "cirros256",
    ] {
        assert!(flavors.contains(&f.to_owned()), "{f} in {flavors:?}");
    }
    let zones = column(
        &ds.json("devstack", &["availability", "zone", "list"]),
        "Zone Name",
    );
    assert!(
        zones.iter().all(|z| z == "nova") && !zones.is_empty(),
        "{zones:?}"
    );

    // A server from devstack's image and flavor on its private network.
    ds.ok(
        "devstack",
        &[
            "server",
            "create",
            "--flavor",
            "m1.tiny",
            "--image",
            vitrina_localcloud::DEVSTACK_IMAGE,
            "--network",
            "private",
            "--wait",
            "vm1",
        ],
    );
    let addr = ds.json("devstack", &["server", "show", "vm1"]);
    assert!(addr["addresses"].to_string().contains("10.0.0."), "{addr}");

    // Probe I1: the admin lists it with --all-projects; alt_demo is refused by Nova's policy.
    let admin_own = column(&ds.json("devstack-admin", &["server", "list"]), "Name");
    assert!(!admin_own.contains(&"vm1".into()), "{admin_own:?}");
    let all = column(
        &ds.json("devstack-admin", &["server", "list", "--all-projects"]),
        "Name",
    );
    assert!(all.contains(&"vm1".into()), "{all:?}");
    let out = ds.run("devstack-alt", &["server", "list", "--all-projects"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("get_all_tenants"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Flavor create/delete and access.
    let demo_project = ds.json("devstack-admin", &["project", "show", "demo"])["id"]
        .as_str()
        .expect("demo id")
        .to_owned();
    let f = ds.json(
        "devstack-admin",
        &[
            "flavor",
            "create",
            "--ram",
            "128",
            "--disk",
            "1",
            "--vcpus",
            "1",
            "--private",
            "--project",
            &demo_project,
            "--property",
            "hw:cpu_policy=shared",
            "osc-private",
        ],
    );
    assert_eq!(f["os-flavor-access:is_public"], false, "{f}");
    let seen = ds.json("devstack", &["flavor", "show", "osc-private"]);
    assert_eq!(seen["name"], "osc-private");
    assert!(
        !ds.run("devstack-alt", &["flavor", "show", "osc-private"])
            .status
            .success(),
        "alt_demo has no access to the private flavor"
    );
    assert!(!ds
        .run(
            "devstack",
            &["flavor", "create", "--ram", "64", "--disk", "1", "--vcpus", "1", "nope"]
        )
        .status
        .success());
    ds.ok("devstack-admin", &["flavor", "delete", "osc-private"]);
    assert!(!ds
        .run("devstack-admin", &["flavor", "show", "osc-private"])
        .status
        .success());

    // Volume type create/set/delete.
    ds.ok(
        "devstack-admin",
        &[
            "volume",
            "type",
            "create",
            "--description",
            "gold disks",
            "--property",
            "tier=gold",
            "osc-gold",
        ],
    );
    ds.ok(
        "devstack-admin",
        &[
            "volume",
            "type",
            "set",
            "--name",
            "osc-platinum",
            "--property",
            "iops=900",
            "osc-gold",
        ],
    );
    let t = ds.json(
        "devstack-admin",
        &["volume", "type", "show", "osc-platinum"],
    );
    assert!(t["properties"].to_string().contains("iops"), "{t}");
    let v = ds.json(
        "devstack",
        &[
            "volume",
            "create",
            "--size",
            "1",
            "--type",
            "osc-platinum",
            "v1",
        ],
    );
    assert_eq!(v["type"], "osc-platinum", "{v}");
    let default = ds.json("devstack", &["volume", "create", "--size", "1", "v2"]);
    assert_eq!(default["type"], "lvmdriver-1", "{default}");
    assert!(
        !ds.run(
            "devstack-admin",
            &["volume", "type", "delete", "osc-platinum"]
        )
        .status
        .success(),
        "a type in use is not deleted"
    );

    // Extension lists.
    let net_ext = column(
        &ds.json("devstack-admin", &["extension", "list", "--network"]),
        "Alias",
    );
    assert!(
        // Neutron's optional extensions localcloud keeps are listed (`qos`); the ones it does
        // not have (`agent`) are not.
        net_ext.contains(&"router".into())
            && net_ext.contains(&"qos".into())
            && !net_ext.contains(&"agent".into()),
        "{net_ext:?}"
    );
    let compute_ext = column(
        &ds.json("devstack-admin", &["extension", "list", "--compute"]),
        "Alias",
    );
    assert!(
        compute_ext.contains(&"os-flavor-manage".into()),
        "{compute_ext:?}"
    );
}
