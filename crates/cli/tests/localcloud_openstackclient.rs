//! The real python-openstackclient against `vitrina localcloud serve` started as a process.
//!
//! Needs the peers venv (`scripts/peers.sh` creates `.venv-peers`, or set `VITRINA_PEERS_VENV`);
//! without it the test fails and says so.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn openstack_cli() -> PathBuf {
    let venv = std::env::var_os("VITRINA_PEERS_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv-peers"));
    let bin = venv.join("bin/openstack");
    assert!(bin.exists(), "python-openstackclient is missing at {}: run `scripts/peers.sh` (or set VITRINA_PEERS_VENV to a venv with python-openstackclient)", bin.display());
    bin
}

struct Serve {
    child: Child,
    dir: tempfile::TempDir,
    base: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        vitrina_localcloud::kill_instances(&self.dir.path().join("instances"));
    }
}

fn http_get(base: &str, path: &str) -> Option<u16> {
    let hostport = base.strip_prefix("http://")?;
    let mut s = std::net::TcpStream::connect(hostport).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {hostport}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    buf.split_whitespace().nth(1)?.parse().ok()
}

impl Serve {
    fn start() -> Serve {
        let dir = tempfile::tempdir().expect("temp dir");
        let child = Command::new(env!("CARGO_BIN_EXE_vitrina"))
            .args(["localcloud", "serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start vitrina localcloud serve");
        let creds = dir.path().join("localcloud-credentials.json");
        let start = Instant::now();
        let mut serve = Serve {
            child,
            dir,
            base: String::new(),
        };
        loop {
            if let Ok(text) = std::fs::read_to_string(&creds) {
                let v: Value = serde_json::from_str(&text).expect("credentials JSON");
                let auth = v["auth_url"].as_str().expect("auth_url");
                serve.base = auth.trim_end_matches("/identity/v3").to_owned();
                if http_get(&serve.base, "/healthz") == Some(200) {
                    return serve;
                }
            }
            if let Ok(Some(status)) = serve.child.try_wait() {
                panic!("vitrina localcloud serve exited with {status}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "localcloud did not become ready"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn credentials(&self) -> Value {
        serde_json::from_str(
            &std::fs::read_to_string(self.dir.path().join("localcloud-credentials.json"))
                .expect("credentials"),
        )
        .expect("JSON")
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        Command::new(openstack_cli())
            .args(args)
            .env("OS_CLIENT_CONFIG_FILE", self.dir.path().join("clouds.yaml"))
            .env("OS_CLOUD", "localcloud")
            .env_remove("OS_AUTH_URL")
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .output()
            .expect("run openstack")
    }

    /// Runs `openstack ARGS` as a user given by `OS_*` variables (no clouds.yaml).
    fn run_as_user(
        &self,
        user: &str,
        password: &str,
        project: &str,
        args: &[&str],
    ) -> std::process::Output {
        Command::new(openstack_cli())
            .args(args)
            .env_remove("OS_CLIENT_CONFIG_FILE")
            .env_remove("OS_CLOUD")
            .env("OS_AUTH_URL", format!("{}/identity/v3", self.base))
            .env("OS_USERNAME", user)
            .env("OS_PASSWORD", password)
            .env("OS_PROJECT_NAME", project)
            .env("OS_USER_DOMAIN_NAME", "Default")
            .env("OS_PROJECT_DOMAIN_NAME", "Default")
            .env("OS_IDENTITY_API_VERSION", "3")
            .env("OS_REGION_NAME", "RegionOne")
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .output()
            .expect("run openstack")
    }

    /// Runs `openstack ARGS -f json` as a user given by `OS_*` variables; parses the output.
    fn json_as_user(&self, user: &str, password: &str, project: &str, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.extend(["-f", "json"]);
        let out = self.run_as_user(user, password, project, &a);
        assert!(
            out.status.success(),
            "openstack {} as {user}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("JSON")
    }

    /// Runs `openstack ARGS` and checks it succeeded.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "openstack {}: {}\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs `openstack ARGS -f json` and parses the output.
    fn json(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.extend(["-f", "json"]);
        let text = self.ok(&a);
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("openstack {}: not JSON ({e}): {text}", args.join(" ")))
    }

    fn wait(&self, what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
        let start = Instant::now();
        while !f() {
            assert!(start.elapsed() < timeout, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

const PUBLIC_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHqKkWQnAJk6k2zYp6K0i4VbYqk0o2Z3m3q4oQyQm9bK test@vitrina";

#[test]
fn openstack_cli_drives_localcloud() {
    let cli = openstack_cli();
    let os = Serve::start();
    let creds = os.credentials();
    let demo_project = creds["projects"]["demo"]["id"].as_str().unwrap().to_owned();
    assert!(cli.exists());

    // Identity.
    let token = os.json(&["token", "issue"]);
    assert_eq!(token["project_id"], demo_project.as_str());
    assert!(token["id"].as_str().is_some_and(|t| t.len() > 100));
    let catalog = os.json(&["catalog", "list"]);
    let types: Vec<&str> = catalog
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["Type"].as_str())
        .collect();
    for t in ["identity", "compute", "network", "volumev3", "image"] {
        assert!(types.contains(&t), "catalog has {t}: {types:?}");
    }
    let flavors = os.json(&["flavor", "list"]);
    let names: Vec<&str> = flavors
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["Name"].as_str())
        .collect();
    for f in [
        "Basic-1-2-20",
        "Standard-2-4-40",
        "Standard-2-8-50",
        "Standard-4-16-50",
        "Advanced-8-32-100",
    ] {
        assert!(names.contains(&f), "{names:?}");
    }

    // Images: upload a file and download it again.
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 253) as u8).collect();
    let file = os.dir.path().join("disk.raw");
    std::fs::write(&file, &data).unwrap();
    let img = os.json(&[
        "image",
        "create",
        "--file",
        file.to_str().unwrap(),
        "--disk-format",
        "raw",
        "--container-format",
        "bare",
        "upload-test",
    ]);
    let img_id = img["id"].as_str().unwrap().to_owned();
    let shown = os.json(&["image", "show", &img_id]);
    assert_eq!(shown["status"], "active");
    assert_eq!(shown["size"], 3_000_000);
    let saved = os.dir.path().join("saved.raw");
    os.ok(&["image", "save", "--file", saved.to_str().unwrap(), &img_id]);
    assert!(
        std::fs::read(&saved).unwrap() == data,
        "downloaded image equals the upload"
    );

    // Network, subnet, port, security group and rule.
    let net = os.json(&["network", "create", "app-net"]);
    assert_eq!(net["name"], "app-net");
    let sub = os.json(&[
        "subnet",
        "create",
        "--network",
        "app-net",
        "--subnet-range",
        "10.50.0.0/24",
        "app-subnet",
    ]);
    assert_eq!(sub["gateway_ip"], "10.50.0.1");
    assert_eq!(sub["cidr"], "10.50.0.0/24");
    let port = os.json(&["port", "create", "--network", "app-net", "app-port"]);
    let fixed = port["fixed_ips"].to_string();
    assert!(fixed.contains("10.50.0.2"), "{fixed}");
    let sg = os.json(&["security", "group", "create", "app-sg"]);
    assert_eq!(sg["name"], "app-sg");
    let rule = os.json(&[
        "security",
        "group",
        "rule",
        "create",
        "--protocol",
        "tcp",
        "--dst-port",
        "22",
        "app-sg",
    ]);
    assert_eq!(rule["port_range_min"], 22);
    assert_eq!(rule["direction"], "ingress");

    // Key pair, boot volume from the base image, server booted from it with user data.
    let key = os.dir.path().join("key.pub");
    std::fs::write(&key, PUBLIC_KEY).unwrap();
    let kp = os.json(&[
        "keypair",
        "create",
        "--public-key",
        key.to_str().unwrap(),
        "app-key",
    ]);
    assert_eq!(kp["name"], "app-key");
    let vol = os.json(&[
        "volume",
        "create",
        "--image",
        "vitrina-process-base",
        "--size",
        "2",
        "--type",
        "ceph-ssd",
        "--availability-zone",
        "GZ1",
        "app-boot",
    ]);
    let vol_id = vol["id"].as_str().unwrap().to_owned();
    os.wait("volume available", Duration::from_secs(30), || {
        os.json(&["volume", "show", &vol_id])["status"] == "available"
    });
    let ud = os.dir.path().join("user-data.sh");
    std::fs::write(
        &ud,
        "#!/bin/sh\necho user-data-ran-$VITRINA_HOSTNAME\necho done > marker.txt\n",
    )
    .unwrap();
    let server = os.json(&[
        "server",
        "create",
        "--flavor",
        "Basic-1-2-20",
        "--volume",
        &vol_id,
        "--network",
        "app-net",
        "--key-name",
        "app-key",
        "--security-group",
        "app-sg",
        "--user-data",
        ud.to_str().unwrap(),
        "--availability-zone",
        "GZ1",
        "--wait",
        "app-vm",
    ]);
    let server_id = server["id"].as_str().unwrap().to_owned();
    let shown = os.json(&["server", "show", &server_id]);
    assert_eq!(shown["status"], "ACTIVE");
    assert_eq!(shown["key_name"], "app-key");
    assert!(
        shown["addresses"].to_string().contains("10.50.0.3"),
        "{}",
        shown["addresses"]
    );
    assert!(
        shown["volumes_attached"].to_string().contains(&vol_id),
        "{}",
        shown["volumes_attached"]
    );
    assert_eq!(os.json(&["volume", "show", &vol_id])["status"], "in-use");

    // Floating IP through a router to ext-net.
    os.json(&["router", "create", "app-router"]);
    os.ok(&[
        "router",
        "set",
        "--external-gateway",
        "ext-net",
        "app-router",
    ]);
    os.ok(&["router", "add", "subnet", "app-router", "app-subnet"]);
    let fip = os.json(&["floating", "ip", "create", "ext-net"]);
    let fip_addr = fip["floating_ip_address"].as_str().unwrap().to_owned();
    // ext-net's default range is a /24 of 198.18.0.0/15 (a range no real network uses).
    assert!(
        fip_addr.starts_with("198.18.") || fip_addr.starts_with("198.19."),
        "{fip_addr}"
    );
    os.ok(&["server", "add", "floating", "ip", &server_id, &fip_addr]);
    let shown = os.json(&["server", "show", &server_id]);
    assert!(
        shown["addresses"].to_string().contains(&fip_addr),
        "{}",
        shown["addresses"]
    );

    // The user data ran; the console shows it.
    os.wait("user data output", Duration::from_secs(30), || {
        os.ok(&["console", "log", "show", &server_id])
            .contains("user-data-ran-app-vm")
    });
    assert_eq!(
        std::fs::read_to_string(
            os.dir
                .path()
                .join("instances")
                .join(&server_id)
                .join("marker.txt")
        )
        .unwrap(),
        "done\n"
    );

    // Delete the server; the boot volume is kept and can be deleted.
    os.ok(&["server", "delete", "--wait", &server_id]);
    assert_eq!(os.json(&["volume", "show", &vol_id])["status"], "available");
    os.ok(&["volume", "delete", &vol_id]);
    let vols = os.json(&["volume", "list"]);
    assert!(vols.as_array().unwrap().is_empty(), "{vols}");
}

/// The `Name` (or `name`) column of a `-f json` list.
fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x["Name"].as_str().or(x["name"].as_str()).map(str::to_owned))
        .collect()
}

/// Keystone as admins use it: `project create`, `user create` and `role add` make a second
/// tenant that sees none of the demo project's resources, and whose resources demo does not see.
#[test]
fn openstack_cli_admin_makes_a_second_tenant() {
    let os = Serve::start();
    os.ok(&["network", "create", "demo-net"]);
    os.ok(&["volume", "create", "--size", "1", "demo-vol"]);
    os.ok(&["security", "group", "create", "demo-sg"]);

    let admin = |args: &[&str]| {
        let mut a = vec!["--os-cloud", "localcloud-admin"];
        a.extend_from_slice(args);
        os.ok(&a)
    };
    admin(&[
        "project",
        "create",
        "--description",
        "second tenant",
        "tenant2",
    ]);
    admin(&[
        "user",
        "create",
        "--project",
        "tenant2",
        "--password",
        "s3cret-alice",
        "alice",
    ]);
    admin(&[
        "role",
        "add",
        "--project",
        "tenant2",
        "--user",
        "alice",
        "member",
    ]);
    let assignments: Value = serde_json::from_str(&admin(&[
        "role",
        "assignment",
        "list",
        "--user",
        "alice",
        "--project",
        "tenant2",
        "--names",
        "-f",
        "json",
    ]))
    .expect("JSON");
    assert_eq!(assignments[0]["Role"], "member", "{assignments}");
    let users =
        names(&serde_json::from_str(&admin(&["user", "list", "-f", "json"])).expect("JSON"));
    assert!(users.contains(&"alice".to_owned()), "{users:?}");
    // demo is no admin.
    assert!(!os.run(&["project", "create", "sneaky"]).status.success());

    let alice = |args: &[&str]| os.json_as_user("alice", "s3cret-alice", "tenant2", args);
    let nets = names(&alice(&["network", "list"]));
    assert!(!nets.contains(&"demo-net".to_owned()), "{nets:?}");
    assert_eq!(alice(&["volume", "list"]), serde_json::json!([]));
    assert_eq!(alice(&["server", "list"]), serde_json::json!([]));
    let sgs = names(&alice(&["security", "group", "list"]));
    assert!(!sgs.contains(&"demo-sg".to_owned()), "{sgs:?}");
    assert!(!os
        .run_as_user(
            "alice",
            "s3cret-alice",
            "tenant2",
            &["network", "show", "demo-net"]
        )
        .status
        .success());
    // An admin's `--project` on create makes the network in that project.
    admin(&["network", "create", "--project", "tenant2", "given-net"]);
    let nets = names(&alice(&["network", "list"]));
    assert!(nets.contains(&"given-net".to_owned()), "{nets:?}");
    let own = alice(&["network", "create", "alice-net"]);
    assert_eq!(own["name"], "alice-net");
    let demo_nets = names(&os.json(&["network", "list"]));
    assert!(
        !demo_nets.contains(&"alice-net".to_owned()),
        "{demo_nets:?}"
    );

    // Quotas: `quota set --cores` binds the next server create with Nova's message; `quota
    // show --usage` and `limits show --absolute` report the use.
    admin(&["quota", "set", "--cores", "1", "tenant2"]);
    let boot = |name: &str| {
        os.run_as_user(
            "alice",
            "s3cret-alice",
            "tenant2",
            &[
                "server",
                "create",
                "--flavor",
                "Basic-1-2-20",
                "--image",
                "vitrina-process-base",
                "--nic",
                "none",
                name,
            ],
        )
    };
    let first = boot("q1");
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let second = boot("q2");
    assert!(!second.status.success());
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        err.contains("Quota exceeded for cores: Requested 1, but already used 1 of 1 cores"),
        "{err}"
    );
    let usage: Value = serde_json::from_str(&admin(&[
        "quota", "show", "--usage", "tenant2", "-f", "json",
    ]))
    .expect("JSON");
    let cores = usage
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["Resource"] == "cores")
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        (cores["Limit"].clone(), cores["In Use"].clone()),
        (serde_json::json!(1), serde_json::json!(1)),
        "{usage}"
    );
    let limits = alice(&["limits", "show", "--absolute"]);
    let used = limits
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["Name"] == "total_cores_used")
        .map(|r| r["Value"].clone());
    assert_eq!(used, Some(serde_json::json!(1)), "{limits}");
}

/// A row of `quota show --usage -f json` as (limit, in use).
fn quota_row(usage: &Value, resource: &str) -> (Value, Value) {
    let row = usage
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["Resource"] == resource)
        .cloned()
        .unwrap_or_default();
    (row["Limit"].clone(), row["In Use"].clone())
}

/// Cinder's and Neutron's quotas through the real CLI: `quota set --volumes 1 --ports N`, the
/// next create fails with the service's error, and `quota show --usage` reports use and limits.
#[test]
fn openstack_cli_volume_and_port_quotas() {
    let os = Serve::start();
    let admin = |args: &[&str]| {
        let mut a = vec!["--os-cloud", "localcloud-admin"];
        a.extend_from_slice(args);
        os.ok(&a)
    };
    let project = os.json(&["token", "issue"])["project_id"]
        .as_str()
        .expect("project_id")
        .to_owned();
    os.ok(&["network", "create", "qnet"]);
    os.ok(&[
        "subnet",
        "create",
        "--network",
        "qnet",
        "--subnet-range",
        "10.78.0.0/24",
        "qsub",
    ]);
    let usage = |who: &dyn Fn(&[&str]) -> String| -> Value {
        serde_json::from_str(&who(&["quota", "show", "--usage", &project, "-f", "json"]))
            .expect("JSON")
    };
    let (_, ports_used) = quota_row(&usage(&admin), "ports");
    let ports = ports_used.as_i64().expect("ports in use") + 1;
    admin(&[
        "quota",
        "set",
        "--volumes",
        "1",
        "--ports",
        &ports.to_string(),
        &project,
    ]);

    os.ok(&["volume", "create", "--size", "1", "qv1"]);
    let out = os.run(&["volume", "create", "--size", "1", "qv2"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Maximum number of volumes allowed (1) exceeded for quota 'volumes'."),
        "{err}"
    );
    assert!(err.contains("413"), "{err}");

    os.ok(&["port", "create", "--network", "qnet", "qp1"]);
    let out = os.run(&["port", "create", "--network", "qnet", "qp2"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Quota exceeded for resources: ['port']."),
        "{err}"
    );

    let u = usage(&admin);
    assert_eq!(
        quota_row(&u, "volumes"),
        (serde_json::json!(1), serde_json::json!(1)),
        "{u}"
    );
    assert_eq!(
        quota_row(&u, "ports"),
        (serde_json::json!(ports), serde_json::json!(ports)),
        "{u}"
    );
    assert_eq!(quota_row(&u, "gigabytes").0, serde_json::json!(1000), "{u}");
}
