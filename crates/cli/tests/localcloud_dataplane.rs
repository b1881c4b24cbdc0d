//! `vitrina localcloud serve` as a process: security groups driven by the real
//! python-openstackclient are enforced in the VMs' namespaces, and without CAP_NET_ADMIN
//! localcloud starts in the shared-network mode and says so.
//!
//! Needs root, `ip` (iproute2), `nft` (nftables), `curl`, `setpriv` (util-linux) and the peers
//! venv (`scripts/peers.sh`, or `VITRINA_PEERS_VENV`); a missing one fails the test and says
//! what to install. Traffic stays on loopback and inside the namespaces these tests make.

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

fn require_tool(tool: &str, package: &str) -> PathBuf {
    vitrina_localcloud::dataplane::find_tool(tool)
        .unwrap_or_else(|| panic!("`{tool}` is missing: apt-get install -y {package}"))
}

fn require_root() {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let caps = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0);
    assert!(
        caps & (1 << 12) != 0 && caps & (1 << 21) != 0,
        "this test needs CAP_NET_ADMIN and CAP_SYS_ADMIN: run it as root"
    );
    require_tool("ip", "iproute2");
    require_tool("nft", "nftables");
    require_tool("curl", "curl");
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
        // Kills the VMs and removes this localcloud's namespaces and links, even after a failure.
        vitrina_localcloud::kill_instances(&self.data().join("instances"));
    }
}

/// One request to the API over a plain TCP connection: status and JSON body.
fn api(base: &str, method: &str, path: &str, token: &str, body: Option<&Value>) -> (u16, Value) {
    let hostport = base.strip_prefix("http://").expect("http base");
    let mut s = std::net::TcpStream::connect(hostport).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let body = body.map(Value::to_string).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {hostport}\r\nX-Auth-Token: {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).expect("read");
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let payload = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut out = String::new();
        let mut r = rest;
        while let Some((size, tail)) = r.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 || tail.len() < n {
                break;
            }
            out.push_str(&tail[..n]);
            r = tail[n..].trim_start_matches("\r\n");
        }
        out
    } else {
        rest.to_owned()
    };
    (
        status,
        serde_json::from_str(&payload).unwrap_or(Value::Null),
    )
}

fn demo_token(os: &Serve) -> String {
    let creds: Value = serde_json::from_str(
        &std::fs::read_to_string(os.data().join("localcloud-credentials.json")).expect("creds"),
    )
    .expect("JSON");
    let demo = &creds["projects"]["demo"];
    let auth = serde_json::json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": demo["username"], "domain": {"id": "default"}, "password": demo["password"]}}},
        "scope": {"project": {"id": demo["id"]}}}});
    let hostport = os.base.strip_prefix("http://").expect("base");
    let mut s = std::net::TcpStream::connect(hostport).expect("connect");
    let body = auth.to_string();
    write!(s, "POST /identity/v3/auth/tokens HTTP/1.1\r\nHost: {hostport}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).expect("write");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read");
    text.lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .starts_with("x-subject-token:")
                .then(|| l.split_once(':').map(|x| x.1.trim().to_owned()))
                .flatten()
        })
        .expect("X-Subject-Token")
}

/// Namespaces, machine links and machine nftables tables of the localcloud with `prefix`.
fn kernel_objects(prefix: &str) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir("/run/netns")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.starts_with(prefix))
                .map(|n| format!("namespace {n}"))
                .collect()
        })
        .unwrap_or_default();
    let links = Command::new("ip")
        .args(["-o", "link", "show"])
        .output()
        .expect("ip link");
    for l in String::from_utf8_lossy(&links.stdout).lines() {
        if let Some(name) = l.split(": ").nth(1).filter(|n| n.starts_with(prefix)) {
            out.push(format!("link {name}"));
        }
    }
    let tables = Command::new("nft")
        .args(["list", "tables"])
        .output()
        .expect("nft list tables");
    for t in String::from_utf8_lossy(&tables.stdout).lines() {
        if t.contains("localcloud") {
            out.push(t.to_owned());
        }
    }
    out
}

fn http_get(base: &str, path: &str) -> Option<(u16, String)> {
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
    let status = buf.split_whitespace().nth(1)?.parse().ok()?;
    let body = buf.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
    Some((status, body))
}

impl Serve {
    /// Starts `vitrina localcloud serve`, behind `wrapper` (a command and its arguments that
    /// run the rest) when given; its stderr goes to `DATA/../serve.log`.
    fn start(wrapper: &[&str]) -> Serve {
        Self::start_in(tempfile::tempdir().expect("temp dir"), wrapper)
    }

    /// Kills the server with SIGKILL (its VMs keep running) and hands back the folder.
    fn kill(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let empty = tempfile::tempdir().expect("temp dir");
        std::mem::replace(&mut self.dir, empty)
    }

    fn start_in(dir: tempfile::TempDir, wrapper: &[&str]) -> Serve {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.path().join("serve.log"))
            .expect("log");
        let mut cmd = match wrapper.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(env!("CARGO_BIN_EXE_vitrina"));
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_vitrina")),
        };
        let child = cmd
            .args(["localcloud", "serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(dir.path().join("data"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start vitrina localcloud serve");
        let creds = dir.path().join("data/localcloud-credentials.json");
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
                if http_get(&serve.base, "/healthz").is_some_and(|(s, _)| s == 200) {
                    return serve;
                }
            }
            if let Ok(Some(status)) = serve.child.try_wait() {
                panic!(
                    "vitrina localcloud serve exited with {status}: {}",
                    serve.log()
                );
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "localcloud did not become ready"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("serve.log")).unwrap_or_default()
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        Command::new(openstack_cli())
            .args(args)
            .env("OS_CLIENT_CONFIG_FILE", self.data().join("clouds.yaml"))
            .env("OS_CLOUD", "localcloud")
            .env_remove("OS_AUTH_URL")
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .output()
            .expect("run openstack")
    }

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

    fn json(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.extend(["-f", "json"]);
        let text = self.ok(&a);
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("openstack {}: not JSON ({e}): {text}", args.join(" ")))
    }

    /// Boots a server on `net` with `sg` serving its name on `listen:8080`; returns its id.
    fn web_vm(&self, name: &str, net: &str, sg: &str, listen: &str) -> String {
        let ud = self.dir.path().join(format!("{name}.sh"));
        std::fs::write(
            &ud,
            format!("#!/bin/sh\necho {name} > index.html\nnohup python3 -m http.server 8080 --bind {listen} >/dev/null 2>&1 &\n"),
        )
        .expect("user data");
        let v = self.json(&[
            "server",
            "create",
            "--flavor",
            "Basic-1-2-20",
            "--image",
            "vitrina-process-base",
            "--network",
            net,
            "--security-group",
            sg,
            "--user-data",
            ud.to_str().expect("path"),
            "--wait",
            name,
        ]);
        v["id"].as_str().expect("id").to_owned()
    }
}

fn wait(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `curl` from inside a namespace (or from the machine when `ns` is `None`).
fn curl(ns: Option<&str>, url: &str) -> Option<String> {
    let mut c = match ns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, "curl"]);
            c
        }
        None => Command::new("curl"),
    };
    let out = c
        .args(["-s", "-f", "-m", "2", url])
        .output()
        .expect("run curl");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn fixed_ip(os: &Serve, server: &str) -> String {
    let shown = os.json(&["server", "show", server]);
    let text = shown["addresses"].to_string();
    text.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .find(|s| s.starts_with("10.61."))
        .unwrap_or_else(|| panic!("no fixed IP in {text}"))
        .to_owned()
}

#[test]
fn openstack_security_group_rules_open_and_close_ports() {
    require_root();
    let machine_hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("hostname");
    let os = Serve::start(&[]);
    let names = vitrina_localcloud::dataplane::names_for(&os.data());
    os.json(&["network", "create", "sg-net"]);
    os.json(&[
        "subnet",
        "create",
        "--network",
        "sg-net",
        "--subnet-range",
        "10.61.0.0/24",
        "sg-subnet",
    ]);
    // `ssh-only` admits tcp/22; `peers` admits 8080 from its own members only.
    os.json(&["security", "group", "create", "ssh-only"]);
    os.json(&[
        "security",
        "group",
        "rule",
        "create",
        "--protocol",
        "tcp",
        "--dst-port",
        "22",
        "ssh-only",
    ]);
    os.json(&["security", "group", "create", "peers"]);
    os.json(&[
        "security",
        "group",
        "rule",
        "create",
        "--protocol",
        "tcp",
        "--dst-port",
        "8080",
        "--remote-group",
        "peers",
        "peers",
    ]);
    let a = os.web_vm("a", "sg-net", "ssh-only", "0.0.0.0");
    let b = os.web_vm("b", "sg-net", "ssh-only", "0.0.0.0");
    let c = os.web_vm("c", "sg-net", "peers", "0.0.0.0");
    let d = os.web_vm("d", "sg-net", "peers", "0.0.0.0");
    let (ns_a, ns_b, ns_c, ns_d) = (names.vm(&a), names.vm(&b), names.vm(&c), names.vm(&d));
    let (ip_b, ip_c) = (fixed_ip(&os, &b), fixed_ip(&os, &c));
    let b_url = format!("http://{ip_b}:8080/");
    wait("b serving", Duration::from_secs(30), || {
        curl(Some(&ns_b), &b_url).is_some()
    });
    // Only tcp/22 allowed: 8080 on b is unreachable from a.
    assert_eq!(curl(Some(&ns_a), &b_url), None);
    let rule = os.json(&[
        "security",
        "group",
        "rule",
        "create",
        "--protocol",
        "tcp",
        "--dst-port",
        "8080",
        "ssh-only",
    ]);
    let rule_id = rule["id"].as_str().expect("rule id").to_owned();
    let t = Instant::now();
    wait("8080 open after the rule", Duration::from_secs(10), || {
        curl(Some(&ns_a), &b_url).is_some()
    });
    let opened = t.elapsed();
    assert_eq!(curl(Some(&ns_a), &b_url).as_deref(), Some("b"));
    os.ok(&["security", "group", "rule", "delete", &rule_id]);
    // Timed on b's ruleset (a request to a closed port only fails at its timeout), then shown.
    let t = Instant::now();
    wait(
        "the rule gone from b's ruleset",
        Duration::from_secs(10),
        || {
            let out = Command::new("ip")
                .args([
                    "netns",
                    "exec",
                    &ns_b,
                    "nft",
                    "list",
                    "table",
                    "inet",
                    "localcloud",
                ])
                .output()
                .expect("nft list table");
            out.status.success() && !String::from_utf8_lossy(&out.stdout).contains("th dport 8080")
        },
    );
    let closed = t.elapsed();
    assert_eq!(
        curl(Some(&ns_a), &b_url),
        None,
        "8080 closed after the delete"
    );
    eprintln!("rule create → open in {opened:?}; rule delete → closed in {closed:?} (openstack CLI exit to effect)");
    // remote_group_id admits members only.
    let c_url = format!("http://{ip_c}:8080/");
    wait("c serving", Duration::from_secs(30), || {
        curl(Some(&ns_c), &c_url).is_some()
    });
    assert_eq!(curl(Some(&ns_d), &c_url).as_deref(), Some("c"));
    assert_eq!(curl(Some(&ns_a), &c_url), None);
    assert_eq!(curl(Some(&ns_b), &c_url), None);
    // `vitrina localcloud exec` runs inside the server: its namespace and folder.
    let ip_a = fixed_ip(&os, &a);
    let out = Command::new(env!("CARGO_BIN_EXE_vitrina"))
        .args(["localcloud", "exec", "--data"])
        .arg(os.data())
        .args([
            "a",
            "--",
            "sh",
            "-c",
            "ip -4 -o addr show; cat index.html; hostname; ls /proc | grep -c '^[0-9]'; exit 3",
        ])
        .output()
        .expect("vitrina localcloud exec");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains(&format!("inet {ip_a}/24")), "{stdout}");
    assert!(!stdout.contains(&ip_c), "{stdout}");
    assert!(stdout.lines().any(|l| l == "a"), "{stdout}");
    assert!(stderr.contains("exited with code 3"), "{stderr}");
    // Its own hostname (the server's name) and process tree (a handful, not the machine's).
    let lines: Vec<&str> = stdout.lines().collect();
    let n = lines.len();
    assert!(n >= 2, "{stdout}");
    assert_eq!(lines[n - 2], "a", "{stdout}");
    let procs: usize = lines[n - 1].parse().expect("process count");
    assert!(
        procs < 10,
        "{procs} processes seen inside the server: {stdout}"
    );
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/hostname").expect("hostname"),
        machine_hostname,
        "the machine's hostname is untouched"
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn without_cap_net_admin_localcloud_runs_a_shared_network() {
    require_tool("setpriv", "util-linux");
    let os = Serve::start(&["setpriv", "--bounding-set", "-net_admin"]);
    let names = vitrina_localcloud::dataplane::names_for(&os.data());
    // It says so at start-up and in /healthz.
    let log = os.log();
    assert!(
        log.contains("shared-network mode") && log.contains("CAP_NET_ADMIN"),
        "{log}"
    );
    let (status, body) = http_get(&os.base, "/healthz").expect("healthz");
    assert_eq!(status, 200);
    let health: Value = serde_json::from_str(body.trim()).unwrap_or_else(|_| {
        // Chunked bodies carry a size line first.
        serde_json::from_str(body.lines().nth(1).unwrap_or_default()).expect("healthz JSON")
    });
    assert_eq!(health["network_mode"], "shared", "{health}");
    assert!(health["network_note"]
        .as_str()
        .is_some_and(|n| n.contains("127.")));
    // Two VMs both listen on 8080, each on its own loopback address.
    os.json(&["network", "create", "n"]);
    os.json(&[
        "subnet",
        "create",
        "--network",
        "n",
        "--subnet-range",
        "10.62.0.0/24",
        "s",
    ]);
    let mut seen = Vec::new();
    for name in ["one", "two"] {
        let id = os.web_vm(name, "n", "default", "$VITRINA_LOOPBACK_IPV4");
        let shown = os.json(&["server", "show", &id]);
        assert_eq!(shown["status"], "ACTIVE");
        let props = shown["properties"].to_string();
        assert!(
            props.contains("localcloud:network_mode") && props.contains("shared"),
            "{props}"
        );
        let lo = vitrina_localcloud::dataplane::loopback_address(&id);
        assert!(props.contains(&lo), "{props}");
        let url = format!("http://{lo}:8080/");
        wait(&format!("{name} on {lo}"), Duration::from_secs(30), || {
            curl(None, &url).as_deref() == Some(name)
        });
        seen.push(lo);
        // No namespace was made.
        assert!(!Path::new("/run/netns").join(names.vm(&id)).exists());
    }
    assert_ne!(seen[0], seen[1]);
}

#[test]
fn sigkill_while_ten_vms_boot_then_restart_reconciles_and_delete_leaves_nothing() {
    use base64::Engine as _;
    require_root();
    let os = Serve::start(&[]);
    let prefix = vitrina_localcloud::dataplane::names_for(&os.data()).prefix;
    let names = vitrina_localcloud::dataplane::names_for(&os.data());
    let token = demo_token(&os);
    let (s, net) = api(
        &os.base,
        "POST",
        "/networking/v2.0/networks",
        &token,
        Some(&serde_json::json!({"network": {"name": "ten"}})),
    );
    assert_eq!(s, 201, "{net}");
    let net_id = net["network"]["id"].as_str().expect("id").to_owned();
    let (s, v) = api(
        &os.base,
        "POST",
        "/networking/v2.0/subnets",
        &token,
        Some(
            &serde_json::json!({"subnet": {"network_id": net_id, "cidr": "10.63.0.0/24", "ip_version": 4}}),
        ),
    );
    assert_eq!(s, 201, "{v}");
    let (_, images) = api(
        &os.base,
        "GET",
        "/image/v2/images?name=vitrina-process-base",
        &token,
        None,
    );
    let image = images["images"][0]["id"]
        .as_str()
        .expect("image")
        .to_owned();
    let (_, flavors) = api(&os.base, "GET", "/compute/v2.1/flavors", &token, None);
    let flavor = flavors["flavors"][0]["id"]
        .as_str()
        .expect("flavor")
        .to_owned();
    let mut ids = Vec::new();
    for i in 0..10 {
        let ud = format!("#!/bin/sh\nperl -MIO::Socket::INET -e '$s=IO::Socket::INET->new(LocalPort=>8080,Listen=>16,ReuseAddr=>1) or die; while($c=$s->accept){{print $c \"HTTP/1.0 200 OK\\r\\n\\r\\nvm{i}\\n\"; close $c}}' >/dev/null 2>&1 &\n");
        let body = serde_json::json!({"server": {"name": format!("vm{i}"), "flavorRef": flavor, "imageRef": image, "networks": [{"uuid": net_id}],
            "user_data": base64::engine::general_purpose::STANDARD.encode(ud)}});
        let (s, v) = api(
            &os.base,
            "POST",
            "/compute/v2.1/servers",
            &token,
            Some(&body),
        );
        assert_eq!(s, 202, "{v}");
        ids.push(v["server"]["id"].as_str().expect("id").to_owned());
    }
    // SIGKILL while they boot (once the state file holds them: localcloud writes it behind the
    // requests), then start again on the same folder.
    let state = os.data().join("state.json");
    wait(
        "the ten servers in state.json",
        Duration::from_secs(30),
        || {
            std::fs::read_to_string(&state)
                .is_ok_and(|t| ids.iter().all(|id| t.contains(id.as_str())))
        },
    );
    let dir = os.kill();
    let os = Serve::start_in(dir, &[]);
    let token = demo_token(&os);
    let mut addrs = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let path = format!("/compute/v2.1/servers/{id}");
        let start = Instant::now();
        loop {
            let (_, v) = api(&os.base, "GET", &path, &token, None);
            if v["server"]["status"] == "ACTIVE" {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "vm{i} not ACTIVE after the restart: {v}\n{}",
                os.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let (_, v) = api(&os.base, "GET", &path, &token, None);
        let ip = v["server"]["addresses"]["ten"][0]["addr"]
            .as_str()
            .expect("address")
            .to_owned();
        addrs.push(ip);
    }
    // Every VM is reachable from the first one at its fixed IP.
    let ns0 = names.vm(&ids[0]);
    for (i, ip) in addrs.iter().enumerate() {
        let url = format!("http://{ip}:8080/");
        wait(&format!("vm{i} answering"), Duration::from_secs(30), || {
            curl(Some(&ns0), &url).as_deref() == Some(format!("vm{i}").as_str())
        });
    }
    // Delete everything: nothing of this localcloud remains in the kernel.
    for id in &ids {
        let (s, v) = api(
            &os.base,
            "DELETE",
            &format!("/compute/v2.1/servers/{id}"),
            &token,
            None,
        );
        assert_eq!(s, 204, "{v}");
    }
    wait("servers gone", Duration::from_secs(30), || {
        api(&os.base, "GET", "/compute/v2.1/servers", &token, None).1["servers"]
            .as_array()
            .is_some_and(Vec::is_empty)
    });
    let (s, v) = api(
        &os.base,
        "DELETE",
        &format!("/networking/v2.0/networks/{net_id}"),
        &token,
        None,
    );
    assert_eq!(s, 204, "{v}");
    wait(
        "no namespace, link or table of localcloud",
        Duration::from_secs(30),
        || kernel_objects(&prefix).is_empty(),
    );
}
