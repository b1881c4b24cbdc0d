//! The `process` hypervisor: each VM is a process tree in its own process group, rooted in
//! `DATA/instances/<id>/`, which is the VM's `/`.
//!
//! Booting writes the user data and a boot script under `var/lib/cloud/` (see
//! [`crate::cloudinit`]) and runs it with `/bin/sh` in a new process group; stdout and stderr go
//! to `var/log/console.log`, which is the console. After the user data ran, the script keeps the
//! VM alive (`sleep`). Stopping signals the whole group (SIGTERM, then SIGKILL after a grace
//! period). The environment carries `VITRINA_ROOT`, `VITRINA_INSTANCE_ID`, `VITRINA_INSTANCE_NAME`,
//! `VITRINA_HOSTNAME` and `VITRINA_IPV4`; processes use the machine's own network.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt as _;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::sync::watch;

use super::{BootSpec, ExitListener, HvError, Hypervisor};
use crate::cloudinit::{self, shell_quote};

/// How long a stopped VM gets between SIGTERM and SIGKILL.
const GRACE: Duration = Duration::from_secs(3);

struct Running {
    pgid: i32,
    /// Becomes true when the process group leader exited.
    exited: watch::Receiver<bool>,
    /// Set when the exit was asked for (stop, destroy), so it is not reported as a crash.
    stopping: Arc<AtomicBool>,
}

pub struct ProcessHypervisor {
    root: PathBuf,
    running: Arc<Mutex<HashMap<String, Running>>>,
    listener: Arc<Mutex<Option<ExitListener>>>,
}

impl ProcessHypervisor {
    /// Instances live in `root/<id>/`.
    pub fn new(root: PathBuf) -> Self {
        Self {
            root,
            running: Arc::default(),
            listener: Arc::default(),
        }
    }

    fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Running>> {
        self.running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn prepare(&self, spec: &BootSpec, plan: &cloudinit::BootPlan) -> std::io::Result<PathBuf> {
        let dir = self.dir(&spec.id);
        let cloud = dir.join("var/lib/cloud");
        let inst = cloud.join("instance");
        fs_err::create_dir_all(inst.join("sem"))?;
        fs_err::create_dir_all(inst.join("scripts"))?;
        fs_err::create_dir_all(inst.join("files"))?;
        fs_err::create_dir_all(dir.join("var/log"))?;
        fs_err::create_dir_all(dir.join("tmp"))?;
        let meta = serde_json::json!({
            "uuid": spec.id, "name": spec.name, "hostname": spec.hostname,
            "project_id": spec.project_id, "availability_zone": spec.availability_zone,
            "meta": spec.metadata, "ipv4": spec.ipv4, "public_keys": spec.public_keys,
        });
        fs_err::write(
            inst.join("meta_data.json"),
            serde_json::to_vec_pretty(&meta).unwrap_or_default(),
        )?;
        if !spec.public_keys.is_empty() {
            fs_err::create_dir_all(dir.join("root/.ssh"))?;
            fs_err::write(
                dir.join("root/.ssh/authorized_keys"),
                spec.public_keys.join("\n") + "\n",
            )?;
        }
        if !spec.dns.is_empty() {
            fs_err::create_dir_all(dir.join("etc"))?;
            let conf: String = spec
                .dns
                .iter()
                .map(|d| format!("nameserver {d}\n"))
                .collect();
            fs_err::write(dir.join("etc/resolv.conf"), conf)?;
        }
        let ud = spec.user_data.clone().unwrap_or_default();
        fs_err::write(inst.join("user-data.txt"), &ud)?;

        let mut sh = String::from("#!/bin/sh\n# Boot script written by the localcloud process hypervisor.\ncd \"$VITRINA_ROOT\" || exit 1\n");
        sh.push_str("echo \"localcloud: booting $VITRINA_INSTANCE_NAME ($VITRINA_INSTANCE_ID) at $(date -u +%Y-%m-%dT%H:%M:%SZ)\"\n");
        for w in &plan.warnings {
            sh.push_str(&format!(
                "echo {}\n",
                shell_quote(&format!("cloud-init: WARNING: {w}"))
            ));
        }
        let mut idx = 0usize;
        let mut script_file = |content: &[u8], name: &str| -> std::io::Result<String> {
            idx += 1;
            let rel = format!("var/lib/cloud/instance/scripts/{idx:03}-{name}");
            let p = dir.join(&rel);
            fs_err::write(&p, content)?;
            set_mode(&p, 0o755)?;
            Ok(rel)
        };
        // Boothooks, then bootcmd: every boot.
        for s in plan.scripts.iter().filter(|s| s.boothook) {
            let rel = script_file(&s.content, &s.name)?;
            sh.push_str(&format!(
                "/bin/sh ./{rel} || echo \"cloud-init: boothook failed: $?\"\n"
            ));
        }
        if !plan.bootcmd.is_empty() {
            let body: String = plan.bootcmd.iter().map(|c| c.to_shell() + "\n").collect();
            let rel = script_file(format!("#!/bin/sh\nset -e\n{body}").as_bytes(), "bootcmd")?;
            sh.push_str(&format!("INSTANCE_ID=\"$VITRINA_INSTANCE_ID\" /bin/sh ./{rel} || echo \"cloud-init: bootcmd failed: $?\"\n"));
        }
        // Once per instance: write_files, runcmd, scripts, deferred write_files.
        sh.push_str("if [ ! -e var/lib/cloud/instance/sem/once ]; then\n");
        let write = |w: &cloudinit::WriteFile, n: usize| -> std::io::Result<String> {
            let staged = format!("var/lib/cloud/instance/files/{n:03}");
            fs_err::write(dir.join(&staged), &w.content)?;
            let target = shell_quote(&w.path);
            let parent = Path::new(&w.path)
                .parent()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            let mut s = String::new();
            if !parent.is_empty() {
                s.push_str(&format!("  mkdir -p {}\n", shell_quote(&parent)));
            }
            let op = if w.append { ">>" } else { ">" };
            s.push_str(&format!("  cat {staged} {op} {target}\n"));
            s.push_str(&format!(
                "  chmod {:o} {target}\n",
                w.permissions.unwrap_or(0o644)
            ));
            Ok(s)
        };
        for (n, w) in plan
            .write_files
            .iter()
            .enumerate()
            .filter(|(_, w)| !w.defer)
        {
            sh.push_str(&write(w, n)?);
        }
        if !plan.runcmd.is_empty() {
            let body: String = plan.runcmd.iter().map(|c| c.to_shell() + "\n").collect();
            let rel = script_file(format!("#!/bin/sh\n{body}").as_bytes(), "runcmd")?;
            sh.push_str(&format!(
                "  /bin/sh ./{rel} || echo \"cloud-init: runcmd failed: $?\"\n"
            ));
        }
        for s in plan.scripts.iter().filter(|s| !s.boothook && !s.per_boot) {
            let rel = script_file(&s.content, &s.name)?;
            sh.push_str(&format!(
                "  ./{rel} || echo \"cloud-init: script {} failed: $?\"\n",
                s.name
            ));
        }
        for (n, w) in plan.write_files.iter().enumerate().filter(|(_, w)| w.defer) {
            sh.push_str(&write(w, n)?);
        }
        sh.push_str("  : > var/lib/cloud/instance/sem/once\nfi\n");
        for s in plan.scripts.iter().filter(|s| !s.boothook && s.per_boot) {
            let rel = script_file(&s.content, &s.name)?;
            sh.push_str(&format!(
                "./{rel} || echo \"cloud-init: script {} failed: $?\"\n",
                s.name
            ));
        }
        sh.push_str(
            "echo \"Cloud-init v. localcloud finished at $(date -u +%Y-%m-%dT%H:%M:%SZ)\"\n",
        );
        sh.push_str("date -u +%Y-%m-%dT%H:%M:%SZ > var/lib/cloud/instance/boot-finished\n");
        sh.push_str("while :; do sleep 3600; done\n");
        fs_err::write(cloud.join("boot.sh"), sh)?;
        Ok(dir)
    }

    fn spawn(&self, spec: &BootSpec, dir: &Path) -> std::io::Result<()> {
        let console = fs_err::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("var/log/console.log"))?;
        let console2 = console.try_clone()?;
        let mut cmd = match (&spec.netns, crate::dataplane::find_tool("ip")) {
            (Some(ns), Some(ip)) => {
                let mut c = tokio::process::Command::new(ip);
                c.args(["netns", "exec", ns]);
                // Its own hostname (UTS) and process tree (PID, with its own /proc), when
                // util-linux's unshare is there; the tree dies with its leader.
                if let Some(unshare) = crate::dataplane::find_tool("unshare") {
                    c.arg(unshare).args([
                        "--uts",
                        "--pid",
                        "--mount-proc",
                        "--kill-child",
                        "/bin/sh",
                        "-c",
                        "hostname \"$VITRINA_HOSTNAME\" 2>/dev/null; exec /bin/sh \"$0\"",
                    ]);
                } else {
                    c.arg("/bin/sh");
                }
                c
            }
            (Some(_), None) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "`ip` is missing (install the Debian package iproute2)",
                ))
            }
            (None, _) => tokio::process::Command::new("/bin/sh"),
        };
        if let Some(lo) = &spec.loopback_ipv4 {
            cmd.env("VITRINA_LOOPBACK_IPV4", lo);
        }
        cmd.arg(dir.join("var/lib/cloud/boot.sh"))
            .current_dir(dir)
            .process_group(0)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::from(console.into_parts().0))
            .stderr(std::process::Stdio::from(console2.into_parts().0))
            .env("VITRINA_ROOT", dir)
            .env("VITRINA_INSTANCE_ID", &spec.id)
            .env("VITRINA_INSTANCE_NAME", &spec.name)
            .env("VITRINA_HOSTNAME", &spec.hostname)
            .env(
                "VITRINA_IPV4",
                spec.ipv4.first().map(String::as_str).unwrap_or(""),
            )
            .env("HOME", dir.join("root"))
            .kill_on_drop(false);
        let mut child = cmd.spawn()?;
        let pid = child.id().and_then(|p| i32::try_from(p).ok()).unwrap_or(0);
        fs_err::write(dir.join("var/lib/cloud/pid"), pid.to_string())?;
        let (tx, rx) = watch::channel(false);
        let stopping = Arc::new(AtomicBool::new(false));
        self.lock().insert(
            spec.id.clone(),
            Running {
                pgid: pid,
                exited: rx,
                stopping: stopping.clone(),
            },
        );
        let id = spec.id.clone();
        let running = self.running.clone();
        let listener = self.listener.clone();
        tokio::spawn(async move {
            let _ = child.wait().await;
            exited(&id, pid, &tx, &stopping, &running, &listener);
        });
        Ok(())
    }
}

fn exited(
    id: &str,
    pgid: i32,
    tx: &watch::Sender<bool>,
    stopping: &AtomicBool,
    running: &Mutex<HashMap<String, Running>>,
    listener: &Mutex<Option<ExitListener>>,
) {
    // Whatever the leader left behind in its group goes with it, as when a VM powers off.
    let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
    let _ = tx.send(true);
    {
        let mut map = running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.get(id).is_some_and(|r| r.pgid == pgid) {
            map.remove(id);
        }
    }
    if !stopping.load(Ordering::SeqCst) {
        let l = listener
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        if let Some(l) = l {
            l(id);
        }
    }
}

fn set_mode(p: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    fs_err::set_permissions(p, std::fs::Permissions::from_mode(mode))
}

/// Whether a process runs (exists and is not a zombie waiting to be reaped).
fn pid_alive(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next());
    !matches!(state, None | Some('Z') | Some('X'))
}

async fn wait_dead(pid: i32, exited: &watch::Receiver<bool>) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < GRACE {
        if *exited.borrow() || !pid_alive(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

async fn stop_group(pgid: i32, exited: watch::Receiver<bool>) {
    if pgid <= 1 {
        return;
    }
    let _ = killpg(Pid::from_raw(pgid), Signal::SIGTERM);
    if !wait_dead(pgid, &exited).await {
        let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
        wait_dead(pgid, &exited).await;
    }
    // Children the leader left behind go with it.
    let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
}

impl Hypervisor for ProcessHypervisor {
    fn name(&self) -> &'static str {
        "process"
    }

    fn boot(&self, spec: &BootSpec) -> Result<(), HvError> {
        if self.is_running(&spec.id) {
            return Ok(());
        }
        // Read before anything is written: user data past the limits fails this server only.
        let plan = cloudinit::plan(spec.user_data.as_deref().unwrap_or_default())?;
        let dir = self
            .prepare(spec, &plan)
            .map_err(|source| HvError::Prepare {
                path: self.dir(&spec.id),
                source,
            })?;
        self.spawn(spec, &dir).map_err(|source| HvError::Spawn {
            id: spec.id.clone(),
            source,
        })
    }

    fn stop(&self, id: &str) -> BoxFuture<'static, Result<(), HvError>> {
        let entry = self.lock().get(id).map(|r| {
            r.stopping.store(true, Ordering::SeqCst);
            (r.pgid, r.exited.clone())
        });
        let running = self.running.clone();
        let id = id.to_owned();
        async move {
            if let Some((pgid, exited)) = entry {
                stop_group(pgid, exited).await;
                let mut map = running
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if map.get(&id).is_some_and(|r| r.pgid == pgid) {
                    map.remove(&id);
                }
            }
            Ok(())
        }
        .boxed()
    }

    fn destroy(&self, id: &str) -> BoxFuture<'static, Result<(), HvError>> {
        let stop = self.stop(id);
        let dir = self.dir(id);
        async move {
            stop.await?;
            let _ = tokio::fs::remove_dir_all(&dir).await;
            Ok(())
        }
        .boxed()
    }

    fn is_running(&self, id: &str) -> bool {
        self.lock()
            .get(id)
            .is_some_and(|r| !*r.exited.borrow() && pid_alive(r.pgid))
    }

    fn adopt(&self, id: &str) -> bool {
        let dir = self.dir(id);
        let Ok(pid) = fs_err::read_to_string(dir.join("var/lib/cloud/pid")) else {
            return false;
        };
        let Ok(pid) = pid.trim().parse::<i32>() else {
            return false;
        };
        // The process must still be ours: alive, and working in this instance folder.
        let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).ok();
        let canonical = std::fs::canonicalize(&dir).ok();
        if pid <= 1 || cwd.is_none() || cwd != canonical {
            return false;
        }
        let (tx, rx) = watch::channel(false);
        let stopping = Arc::new(AtomicBool::new(false));
        self.lock().insert(
            id.to_owned(),
            Running {
                pgid: pid,
                exited: rx,
                stopping: stopping.clone(),
            },
        );
        let id = id.to_owned();
        let running = self.running.clone();
        let listener = self.listener.clone();
        tokio::spawn(async move {
            // Not our child: poll for its end.
            while Path::new(&format!("/proc/{pid}")).exists() {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            exited(&id, pid, &tx, &stopping, &running, &listener);
        });
        true
    }

    fn console_output(&self, id: &str, lines: Option<usize>) -> Result<String, HvError> {
        let path = self.dir(id).join("var/log/console.log");
        let text = match read_tail(&path, MAX_CONSOLE_BYTES) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(_) => return Err(HvError::NotFound(id.to_owned())),
        };
        Ok(match lines {
            None => text,
            Some(n) => {
                let all: Vec<&str> = text.lines().collect();
                let start = all.len().saturating_sub(n);
                let mut out = all.get(start..).unwrap_or_default().join("\n");
                if !out.is_empty() {
                    out.push('\n');
                }
                out
            }
        })
    }

    fn set_exit_listener(&self, listener: ExitListener) {
        *self
            .listener
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(listener);
    }
}

/// Kills the process groups of every instance under `instances_root` that still run (for test
/// harnesses and `vitrina localcloud` tooling: a localcloud restart otherwise keeps VMs running).
/// Returns how many groups were signalled.
pub fn kill_instances(instances_root: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(instances_root) else {
        return 0;
    };
    let mut killed = 0;
    for e in entries.flatten() {
        let dir = e.path();
        let Ok(pid) = std::fs::read_to_string(dir.join("var/lib/cloud/pid")) else {
            continue;
        };
        let Ok(pid) = pid.trim().parse::<i32>() else {
            continue;
        };
        let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).ok();
        if pid > 1
            && cwd.is_some()
            && cwd == std::fs::canonicalize(&dir).ok()
            && killpg(Pid::from_raw(pid), Signal::SIGKILL).is_ok()
        {
            killed += 1;
        }
    }
    // The namespaces and links of that localcloud go with its servers.
    if let Some(data) = instances_root.parent() {
        crate::dataplane::purge(data);
    }
    killed
}

/// How much of a console log `os-getConsoleOutput` reads: its last 100 KiB, as Nova's libvirt
/// driver does (L6: never the whole file).
const MAX_CONSOLE_BYTES: u64 = 100 * 1024;

/// The last `max` bytes of a regular file, from the first whole line in them; a symlink or
/// anything but a regular file is refused (the VM owns its folder).
fn read_tail(path: &Path, max: u64) -> std::io::Result<String> {
    use std::io::{Read as _, Seek as _, SeekFrom};
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits() | nix::fcntl::OFlag::O_NONBLOCK.bits())
        .open(path)?;
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other(
            "the console log is not a regular file",
        ));
    }
    let len = meta.len();
    let start = len.saturating_sub(max);
    f.seek(SeekFrom::Start(start))?;
    let mut buf = Vec::new();
    f.take(max).read_to_end(&mut buf)?;
    let mut text = String::from_utf8_lossy(&buf).into_owned();
    if start > 0 {
        // Drop the partial first line.
        text = text
            .split_once('\n')
            .map(|(_, rest)| rest.to_owned())
            .unwrap_or_default();
    }
    Ok(text)
}
