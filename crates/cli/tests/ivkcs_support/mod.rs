//! Set-up shared by the end-to-end tests of `vitrina tf apply` against `vitrina serve --demo`
//! (`tf_ivkcs.rs`, `tf_ivkcs_apps.rs`): the server and its VMs (stopped when dropped), the
//! `vitrina` command with `demo.env`, a project network, HTTP and TCP probes.
#![allow(dead_code)] // each test file uses a part of it

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `vitrina serve` and the VMs it started; both stopped when dropped, even after a failure.
pub struct Serve {
    child: Child,
    data: PathBuf,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // VMs, their namespaces and links, even after a failure.
        vitrina_localcloud::kill_instances(&self.data.join("cloud/instances"));
        // VM process groups left behind by a failed test.
        if let Ok(rd) = std::fs::read_dir(self.data.join("cloud/instances")) {
            for e in rd.flatten() {
                if let Ok(pid) = std::fs::read_to_string(e.path().join("var/lib/cloud/pid")) {
                    let _ = Command::new("kill")
                        .args(["-KILL", "--", &format!("-{}", pid.trim())])
                        .stderr(Stdio::null())
                        .status();
                }
            }
        }
    }
}

/// The `vitrina-agent` built beside `vitrina` (built on demand when only this package's tests
/// were built).
pub fn agent_binary() -> PathBuf {
    let path = Path::new(env!("CARGO_BIN_EXE_vitrina")).with_file_name("vitrina-agent");
    if !path.is_file() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", "vitrina-agent", "--bin", "vitrina-agent"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "cannot build vitrina-agent");
    }
    assert!(path.is_file(), "no vitrina-agent at {}", path.display());
    path
}

pub fn demo_env(data: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(data.join("demo.env")).expect("demo.env");
    text.lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.trim_matches('\'').to_owned()))
        .collect()
}

pub fn vitrina(env: &[(String, String)], args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vitrina"))
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env_remove("OS_AUTH_URL")
        .env_remove("OS_PASSWORD")
        .env_remove("OS_USERNAME")
        .output()
        .expect("vitrina runs")
}

pub fn must(env: &[(String, String)], args: &[&str]) -> String {
    let out = vitrina(env, args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "vitrina {args:?} failed with {}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Starts `vitrina serve --demo --cloud-network shared` in `data` and returns it with the
/// `demo.env` variables. These tests read the VMs' services at their fixed addresses from the
/// machine, which only the shared network allows; the isolated network (a router to ext-net, the
/// config service reached through it) is `apply_on_localcloud_installs_the_agent_and_runs_the_steps`.
pub fn serve(data: &Path) -> (Serve, Vec<(String, String)>) {
    serve_with(data, "5m", "shared")
}

/// The same with `--health-timeout`.
pub fn serve_with(
    data: &Path,
    health_timeout: &str,
    cloud_network: &str,
) -> (Serve, Vec<(String, String)>) {
    let child = Command::new(env!("CARGO_BIN_EXE_vitrina"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--demo",
            "--health-timeout",
            health_timeout,
            "--cloud-network",
            cloud_network,
            "--data",
        ])
        .arg(data)
        .env("VITRINA_AGENT_BINARY", agent_binary())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("vitrina serve starts");
    let serve = Serve {
        child,
        data: data.to_path_buf(),
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while !data.join("demo.env").is_file() {
        assert!(Instant::now() < deadline, "vitrina serve wrote no demo.env");
        std::thread::sleep(Duration::from_millis(100));
    }
    let env = demo_env(data);
    (serve, env)
}

/// Servers the example packages start with `setsid` (outside the VM's process group, which is
/// all a process VM is today): every `server.pid` under the VMs' roots is stopped when dropped.
pub struct AppServers(pub PathBuf);

pub fn pid_files(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.file_name().is_some_and(|n| n == "server.pid") {
            out.push(p);
        } else if depth > 0 && e.file_type().is_ok_and(|t| t.is_dir()) {
            pid_files(&p, depth - 1, out);
        }
    }
}

impl AppServers {
    pub fn stop(&self) {
        let mut files = Vec::new();
        pid_files(&self.0.join("cloud/instances"), 8, &mut files);
        for f in files {
            if let Ok(pid) = std::fs::read_to_string(&f) {
                let _ = Command::new("kill")
                    .arg(pid.trim())
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }
}

impl Drop for AppServers {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One HTTP/1.0 GET; returns the status line and the body.
pub fn http_get(url: &str, basic: Option<&str>) -> (String, String) {
    try_http_get(url, basic).unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

/// One HTTP/1.0 GET, or why it could not be sent.
pub fn try_http_get(url: &str, basic: Option<&str>) -> std::io::Result<(String, String)> {
    use std::io::{Read as _, Write as _};
    let rest = url.strip_prefix("http://").expect("http URL");
    let (addr, path) = rest
        .split_once('/')
        .map(|(a, p)| (a, format!("/{p}")))
        .unwrap_or((rest, "/".into()));
    let mut s = std::net::TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let auth = basic
        .map(|b| {
            use base64::Engine as _;
            format!(
                "Authorization: Basic {}\r\n",
                base64::engine::general_purpose::STANDARD.encode(b)
            )
        })
        .unwrap_or_default();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n{auth}\r\n")?;
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    let (head, body) = buf.split_once("\r\n\r\n").unwrap_or((&buf, ""));
    Ok((
        head.lines().next().unwrap_or_default().to_owned(),
        body.to_owned(),
    ))
}

/// A free TCP port on 127.0.0.1 (closed again; the nodes bind it at their own addresses).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port()
}

/// One line from a TCP service.
pub fn read_line(addr: &str) -> String {
    use std::io::BufRead as _;
    let s = std::net::TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let mut line = String::new();
    let _ = std::io::BufReader::new(s).read_line(&mut line);
    line
}

/// The value of `name` in `demo.env`.
pub fn env_value(env: &[(String, String)], name: &str) -> String {
    env.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("{name} is not in demo.env"))
}

/// `vitrina tf apply DIR --auto-approve` (or `destroy`) with `--var` for each of `vars`.
pub fn tf_with_vars(
    env: &[(String, String)],
    command: &str,
    dir: &Path,
    vars: &[String],
    extra: &[&str],
) -> Output {
    let mut args: Vec<String> = vec![
        "tf".into(),
        command.into(),
        dir.to_str().expect("utf-8 path").into(),
        "--auto-approve".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    for v in vars {
        args.push("--var".into());
        args.push(v.clone());
    }
    vitrina(env, &args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// The same, failing the test with both outputs when it fails.
pub fn tf_must(
    env: &[(String, String)],
    command: &str,
    dir: &Path,
    vars: &[String],
    extra: &[&str],
) {
    let out = tf_with_vars(env, command, dir, vars, extra);
    assert!(
        out.status.success(),
        "tf {command} {} failed:\n{}\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `vitrina tf output DIR --json`.
pub fn tf_outputs(env: &[(String, String)], dir: &Path) -> serde_json::Value {
    serde_json::from_str(&must(
        env,
        &["tf", "output", dir.to_str().expect("utf-8 path"), "--json"],
    ))
    .expect("outputs JSON")
}

/// A project network applied from its own configuration in `DIR/<name>-net`: a network and a subnet
/// of `cidr`, and with `router` a router to `ext-net` with an interface on the subnet (the
/// isolated mode's way out, and in for floating IPs).
pub struct ProjectNet {
    pub dir: PathBuf,
    pub network: String,
    pub subnet: String,
}

impl ProjectNet {
    pub fn apply(
        env: &[(String, String)],
        parent: &Path,
        name: &str,
        cidr: &str,
        router: bool,
    ) -> ProjectNet {
        let dir = parent.join(format!("{name}-net"));
        std::fs::create_dir_all(&dir).expect("net dir");
        let mut tf = format!(
            r#"
resource "vkcs_networking_network" "net" {{
  name = "{name}-net"
}}

resource "vkcs_networking_subnet" "sub" {{
  name       = "{name}-subnet"
  network_id = vkcs_networking_network.net.id
  cidr       = "{cidr}"
}}

output "network" {{
  value = vkcs_networking_network.net.id
}}

output "subnet" {{
  value = vkcs_networking_subnet.sub.id
}}
"#
        );
        if router {
            tf.push_str(&format!(
                r#"
data "vkcs_networking_network" "extnet" {{
  name = "ext-net"
}}

resource "vkcs_networking_router" "router" {{
  name                = "{name}-router"
  external_network_id = data.vkcs_networking_network.extnet.id
}}

resource "vkcs_networking_router_interface" "sub" {{
  router_id = vkcs_networking_router.router.id
  subnet_id = vkcs_networking_subnet.sub.id
}}
"#
            ));
        }
        std::fs::write(dir.join("main.tf"), tf).expect("net main.tf");
        tf_must(env, "apply", &dir, &[], &[]);
        let outputs = tf_outputs(env, &dir);
        let field = |k: &str| {
            outputs[k]["value"]
                .as_str()
                .unwrap_or_else(|| panic!("no {k} in {outputs}"))
                .to_owned()
        };
        ProjectNet {
            network: field("network"),
            subnet: field("subnet"),
            dir,
        }
    }

    pub fn destroy(&self, env: &[(String, String)]) {
        tf_must(env, "destroy", &self.dir, &[], &[]);
    }
}

/// Polls `url` until it answers (a floating IP's NAT rules come with the data plane's next
/// pass), then returns the status line and body.
pub fn http_get_when_up(url: &str, basic: Option<&str>) -> (String, String) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        match try_http_get(url, basic) {
            Ok((status, body)) if !status.is_empty() => return (status, body),
            Ok(_) => {}
            Err(e) => assert!(Instant::now() < deadline, "{url} never answered: {e}"),
        }
        assert!(Instant::now() < deadline, "{url} never answered");
        std::thread::sleep(Duration::from_millis(250));
    }
}
