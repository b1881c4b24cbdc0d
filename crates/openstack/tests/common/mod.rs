//! Starts real Keystone and Glance from `.venv-peers` on 127.0.0.1 with SQLite in a temp dir.
//!
//! The venv is `VITRINA_PEERS_VENV` or `<workspace>/.venv-peers` (made by `scripts/peers.sh`).
//! Each server reads its standard input and exits at end of file, so servers die with the test
//! process even when it is killed; [`Peers`] also kills them on drop.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use vitrina_openstack::config::{AuthMethod, CloudConfig, DomainSpec, ScopeSpec, UserSpec};
use vitrina_openstack::{Client, Secret, ServiceType};

pub const ADMIN_PASSWORD: &str = "vitrina-admin-pw";
pub const REGION: &str = "RegionOne";

/// Running Keystone + Glance.
pub struct Peers {
    pub dir: tempfile::TempDir,
    /// `http://127.0.0.1:<port>` (no version: clients discover `/v3`).
    pub keystone_root: String,
    /// `http://127.0.0.1:<port>`.
    pub glance_root: String,
    pub venv: PathBuf,
    children: Vec<Child>,
}

impl Drop for Peers {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

/// The peers venv, or a failure that says how to make it.
pub fn peers_venv() -> anyhow::Result<PathBuf> {
    let venv = std::env::var_os("VITRINA_PEERS_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv-peers"));
    for tool in ["keystone-manage", "glance-manage", "python", "openstack"] {
        if !venv.join("bin").join(tool).exists() {
            bail!(
                "the Python peers are not installed: `{}` is missing.\n\
                 Run `scripts/peers.sh` (it creates .venv-peers with Keystone, Glance and the \
                 openstack CLI), or point VITRINA_PEERS_VENV at such a venv.",
                venv.join("bin").join(tool).display()
            );
        }
    }
    Ok(venv)
}

pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn serve_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/serve.py")
}

/// Starts one setup step; its output goes to `<program>-<step>.log`.
fn run(venv: &Path, dir: &Path, program: &str, step: &str, args: &[&str]) -> anyhow::Result<Child> {
    let log = std::fs::File::create(dir.join(format!("{program}-{step}.log")))?;
    Command::new(venv.join("bin").join(program))
        .args(args)
        .env("PYTHONWARNINGS", "ignore")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("cannot start {program}"))
}

fn finish(mut child: Child, what: &str, dir: &Path) -> anyhow::Result<()> {
    let status = child.wait()?;
    if !status.success() {
        let logs: Vec<String> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok())
            .filter(|e| e.path().extension().is_some_and(|x| x == "log"))
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .map(|text| text.lines().rev().take(15).collect::<Vec<_>>().join("\n"))
            .collect();
        bail!(
            "{what} failed ({status}); logs in {}:\n{}",
            dir.display(),
            logs.join("\n---\n")
        );
    }
    Ok(())
}

fn user_and_group() -> (String, String) {
    let out = |flag: &str| {
        Command::new("id")
            .arg(flag)
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "root".to_owned())
    };
    (out("-un"), out("-gn"))
}

/// GETs `url` (plain HTTP on loopback) and returns the status code, if any answer came.
pub fn http_status(host_port: &str, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(host_port).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {host_port}\r\n\r\n").ok()?;
    let mut head = [0u8; 16];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

fn wait_ready(
    child: &mut Child,
    name: &str,
    host_port: &str,
    path: &str,
    dir: &Path,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut pause = Duration::from_millis(50);
    while Instant::now() < deadline {
        if let Some(status) = http_status(host_port, path) {
            if status < 500 {
                return Ok(());
            }
        }
        if let Some(status) = child.try_wait()? {
            let log = std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap_or_default();
            bail!("{name} exited ({status}) before answering:\n{log}");
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(500));
    }
    bail!("{name} did not answer on {host_port}{path} within 180 s")
}

fn spawn_server(
    venv: &Path,
    dir: &Path,
    kind: &str,
    port: u16,
    env: (&str, String),
) -> anyhow::Result<Child> {
    let log = std::fs::File::create(dir.join(format!("{kind}.log")))?;
    Command::new(venv.join("bin/python"))
        .arg(serve_script())
        .arg(kind)
        .arg(port.to_string())
        .env(env.0, env.1)
        .env("PYTHONWARNINGS", "ignore")
        .envs(remove_dir_env(dir))
        .stdin(Stdio::piped())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("cannot start {kind}"))
}

/// Peers shared by a whole test binary live in a static and are never dropped: the servers
/// remove their temp dir when they exit, unless `VITRINA_KEEP_PEERS` is set (to read the logs).
fn remove_dir_env(dir: &Path) -> Vec<(&'static str, String)> {
    if std::env::var_os("VITRINA_KEEP_PEERS").is_some() {
        Vec::new()
    } else {
        vec![("VITRINA_PEERS_REMOVE_DIR", dir.display().to_string())]
    }
}

impl Peers {
    /// Installs nothing: fails when `.venv-peers` is missing. Prepares both databases, starts
    /// both servers, registers Glance in the catalog and waits until both answer.
    pub fn start() -> anyhow::Result<Peers> {
        let venv = peers_venv()?;
        let dir = tempfile::Builder::new()
            .prefix("vitrina-peers-")
            .tempdir()?;
        let d = dir.path();
        let keystone_port = free_port()?;
        let glance_port = free_port()?;
        let keystone_root = format!("http://127.0.0.1:{keystone_port}");
        let glance_root = format!("http://127.0.0.1:{glance_port}");

        // --- Keystone configuration and database ---
        let ks_conf = d.join("keystone.conf");
        std::fs::write(
            &ks_conf,
            format!(
                "[DEFAULT]\nlog_file = {d}/keystone-server.log\n\
                 [database]\nconnection = sqlite:///{d}/keystone.db\n\
                 [token]\nprovider = fernet\n\
                 [fernet_tokens]\nkey_repository = {d}/fernet-keys\n\
                 [fernet_receipts]\nkey_repository = {d}/fernet-receipts\n\
                 [credential]\nkey_repository = {d}/credential-keys\n",
                d = d.display()
            ),
        )?;
        let conf = ks_conf.to_str().context("temp path is not UTF-8")?;
        let (user, group) = user_and_group();
        let db_sync = run(
            &venv,
            d,
            "keystone-manage",
            "db_sync",
            &["--config-file", conf, "db_sync"],
        )?;
        let mut setups = Vec::new();
        for step in ["fernet_setup", "receipt_setup", "credential_setup"] {
            setups.push((
                step,
                run(
                    &venv,
                    d,
                    "keystone-manage",
                    step,
                    &[
                        "--config-file",
                        conf,
                        step,
                        "--keystone-user",
                        &user,
                        "--keystone-group",
                        &group,
                    ],
                )?,
            ));
        }
        // --- Glance configuration and database, in parallel ---
        let glance_dir = d.join("glance");
        std::fs::create_dir_all(&glance_dir)?;
        let paste = venv.join("etc/glance/glance-api-paste.ini");
        std::fs::write(
            glance_dir.join("glance-api.conf"),
            format!(
                "[DEFAULT]\nenabled_backends = fs:file\nlog_file = {d}/glance-server.log\n\
                 [glance_store]\ndefault_backend = fs\n\
                 [fs]\nfilesystem_store_datadir = {d}/glance/images\n\
                 [os_glance_staging_store]\nfilesystem_store_datadir = {d}/glance/staging\n\
                 [os_glance_tasks_store]\nfilesystem_store_datadir = {d}/glance/tasks\n\
                 [database]\nconnection = sqlite:///{d}/glance/glance.db\n\
                 [paste_deploy]\nflavor = keystone\nconfig_file = {paste}\n\
                 [keystone_authtoken]\nwww_authenticate_uri = {ks}/v3\nauth_url = {ks}/v3\n\
                 auth_type = password\nusername = admin\npassword = {pw}\nproject_name = admin\n\
                 user_domain_name = Default\nproject_domain_name = Default\ninterface = public\n",
                d = d.display(),
                paste = paste.display(),
                ks = keystone_root,
                pw = ADMIN_PASSWORD,
            ),
        )?;
        let glance_conf = glance_dir.join("glance-api.conf");
        let glance_sync = run(
            &venv,
            d,
            "glance-manage",
            "db_sync",
            &[
                "--config-file",
                glance_conf.to_str().context("temp path is not UTF-8")?,
                "db_sync",
            ],
        )?;
        finish(db_sync, "keystone-manage db_sync", d)?;
        for (step, child) in setups {
            finish(child, step, d)?;
        }
        let public_url = format!("{keystone_root}/v3/");
        let bootstrap = run(
            &venv,
            d,
            "keystone-manage",
            "bootstrap",
            &[
                "--config-file",
                conf,
                "bootstrap",
                "--bootstrap-password",
                ADMIN_PASSWORD,
                "--bootstrap-public-url",
                &public_url,
                "--bootstrap-region-id",
                REGION,
            ],
        )?;
        finish(bootstrap, "keystone-manage bootstrap", d)?;

        let mut peers = Peers {
            keystone_root,
            glance_root,
            venv: venv.clone(),
            children: Vec::new(),
            dir,
        };
        let d = peers.dir.path().to_owned();
        let mut keystone = spawn_server(
            &venv,
            &d,
            "keystone",
            keystone_port,
            ("OS_KEYSTONE_CONFIG_FILES", conf.to_owned()),
        )?;
        let ready = wait_ready(
            &mut keystone,
            "keystone",
            &format!("127.0.0.1:{keystone_port}"),
            "/v3",
            &d,
        );
        peers.children.push(keystone);
        ready?;
        finish(glance_sync, "glance-manage db_sync", &d)?;
        let mut glance = spawn_server(
            &venv,
            &d,
            "glance",
            glance_port,
            ("OS_GLANCE_CONFIG_DIR", glance_dir.display().to_string()),
        )?;
        let ready = wait_ready(
            &mut glance,
            "glance",
            &format!("127.0.0.1:{glance_port}"),
            "/",
            &d,
        );
        peers.children.push(glance);
        ready?;
        Ok(peers)
    }

    /// The admin user, password auth scoped to the admin project by name.
    pub fn admin_config(&self) -> CloudConfig {
        CloudConfig {
            name: Some("peers".into()),
            auth_url: self.keystone_root.clone(),
            auth: AuthMethod::Password {
                user: UserSpec::Name {
                    name: "admin".into(),
                    domain: DomainSpec::Name("Default".into()),
                },
                password: Secret::new(ADMIN_PASSWORD),
                scope: ScopeSpec::ProjectName {
                    name: "admin".into(),
                    domain: DomainSpec::Id("default".into()),
                },
            },
            region_name: Some(REGION.into()),
            interface: "public".into(),
            verify: true,
            cacert: None,
            endpoint_overrides: Default::default(),
        }
    }

    /// Registers Glance in Keystone's catalog (service `image`, public endpoint) once.
    pub async fn register_glance(&self, client: &Client) -> anyhow::Result<()> {
        let identity = ServiceType::Identity;
        let services: serde_json::Value = client
            .request(identity, reqwest::Method::GET, "services?type=image", |r| r)
            .await?
            .json()
            .await?;
        if services["services"]
            .as_array()
            .is_some_and(|s| !s.is_empty())
        {
            return Ok(());
        }
        let service: serde_json::Value = client
            .request(identity, reqwest::Method::POST, "services", |r| {
                r.json(&serde_json::json!({"service": {"type": "image", "name": "glance", "enabled": true}}))
            })
            .await?
            .json()
            .await?;
        let service_id = service["service"]["id"]
            .as_str()
            .context("service without id")?
            .to_owned();
        for interface in ["public", "internal"] {
            client
                .request(identity, reqwest::Method::POST, "endpoints", |r| {
                    r.json(&serde_json::json!({"endpoint": {
                        "service_id": service_id, "interface": interface,
                        "url": self.glance_root, "region_id": REGION, "enabled": true}}))
                })
                .await?;
        }
        Ok(())
    }

    /// Environment for the `openstack` CLI as the admin.
    pub fn cli_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("OS_AUTH_URL", format!("{}/v3", self.keystone_root)),
            ("OS_USERNAME", "admin".into()),
            ("OS_PASSWORD", ADMIN_PASSWORD.into()),
            ("OS_PROJECT_NAME", "admin".into()),
            ("OS_USER_DOMAIN_NAME", "Default".into()),
            ("OS_PROJECT_DOMAIN_NAME", "Default".into()),
            ("OS_IDENTITY_API_VERSION", "3".into()),
            ("OS_REGION_NAME", REGION.into()),
            ("OS_INTERFACE", "public".into()),
            ("PYTHONWARNINGS", "ignore".into()),
        ]
    }
}

/// Writes `size` bytes to `path`: a 1 MiB pseudo-random block (xorshift from `seed`) repeated,
/// each copy stamped with its index so that no two MiB are equal. Fast even in debug builds.
pub fn write_pattern_file(path: &Path, size: u64, seed: u64) -> std::io::Result<()> {
    let mut file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut state = seed | 1;
    let mut block = vec![0u8; 1 << 20];
    for word in block.chunks_exact_mut(8) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        word.copy_from_slice(&state.to_le_bytes());
    }
    let mut left = size;
    let mut index = 0u64;
    while left > 0 {
        block[..8].copy_from_slice(&(index ^ seed).to_le_bytes());
        let n = left.min(block.len() as u64) as usize;
        file.write_all(&block[..n])?;
        left -= n as u64;
        index += 1;
    }
    // On disk before anyone measures: writeback of a fresh file would compete with the server.
    file.into_inner().map_err(|e| e.into_error())?.sync_all()
}
