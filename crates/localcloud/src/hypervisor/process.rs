//! The `process` hypervisor: each VM is a process tree in its own process group, rooted in
//! `DATA/instances/<id>/`, which is the VM's `/`.
//!
//! Booting writes the user data and a boot script under `var/lib/cloud/` (see
//! [`crate::cloudinit`]) and runs it with `/bin/sh` in a new process group; stdout and stderr go
//! to `var/log/console.log`, which is the console. After the user data ran, the script keeps the
//! VM alive (`sleep`). Stopping signals the whole group (SIGTERM, then SIGKILL after a grace
//! period). The environment carries `VITRINA_ROOT`, `VITRINA_INSTANCE_ID`, `VITRINA_INSTANCE_NAME`,
//! `VITRINA_HOSTNAME` and `VITRINA_IPV4`. In the isolated mode the tree runs in the server's
//! network namespace and is contained in namespaces of its own with the instance folder as its
//! root ([`super::rootfs`]); in the shared mode it uses the machine's network and files.

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

use super::{rootfs, BootSpec, ExitListener, HvError, Hypervisor};
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
    /// `DATA/vm-control`: per server, what only the machine may touch (the contained VM's mount
    /// table and overlayfs work folders), outside every VM's root.
    control: PathBuf,
    running: Arc<Mutex<HashMap<String, Running>>>,
    listener: Arc<Mutex<Option<ExitListener>>>,
}

impl ProcessHypervisor {
    /// Instances live in `root/<id>/`.
    pub fn new(root: PathBuf) -> Self {
        let control = root
            .parent()
            .map(|d| d.join("vm-control"))
            .unwrap_or_else(|| root.join(".vm-control"));
        Self {
            root,
            control,
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

    fn prepare(
        &self,
        spec: &BootSpec,
        plan: &cloudinit::BootPlan,
    ) -> std::io::Result<(PathBuf, Option<PathBuf>)> {
        let dir = self.dir(&spec.id);
        let first = !dir.exists();
        fs_err::create_dir_all(&dir)?;
        // A contained VM (isolated mode): its root, owned by its own range of ids. The root's
        // folders come first, so the files below land in folders the VM owns.
        let owner = match &spec.netns {
            Some(_) => {
                let inst = fs_err::canonicalize(&dir)?;
                let data = self.root.parent().unwrap_or(&self.root);
                let layout = rootfs::layout(&fs_err::canonicalize(data)?);
                let base = rootfs::id_base(&spec.id);
                let fstab = rootfs::prepare(
                    layout,
                    &inst,
                    &self.control.join(&spec.id),
                    base,
                    first,
                    &spec.disks,
                )?;
                Some((base, fstab))
            }
            None => None,
        };
        let path = |rel: &str| rootfs::safe_path(&dir, rel);
        let mkdir = |rel: &str| -> std::io::Result<PathBuf> {
            let p = path(rel)?;
            rootfs::ensure_dir(&p)?;
            Ok(p)
        };
        let vm_owned = |p: &Path| -> std::io::Result<()> {
            match &owner {
                Some((base, _)) => rootfs::set_owner(p, *base, *base),
                None => Ok(()),
            }
        };
        let cloud = mkdir("var/lib/cloud")?;
        let inst = mkdir("var/lib/cloud/instance")?;
        vm_owned(&inst)?;
        vm_owned(&mkdir("var/lib/cloud/instance/sem")?)?;
        mkdir("var/lib/cloud/instance/scripts")?;
        mkdir("var/lib/cloud/instance/files")?;
        mkdir("var/log")?;
        mkdir("tmp")?;
        let meta = serde_json::json!({
            "uuid": spec.id, "name": spec.name, "hostname": spec.hostname,
            "project_id": spec.project_id, "availability_zone": spec.availability_zone,
            "meta": spec.metadata, "ipv4": spec.ipv4, "public_keys": spec.public_keys,
        });
        fs_err::write(
            path("var/lib/cloud/instance/meta_data.json")?,
            serde_json::to_vec_pretty(&meta).unwrap_or_default(),
        )?;
        if !spec.public_keys.is_empty() {
            let ssh = mkdir("root/.ssh")?;
            vm_owned(&ssh)?;
            let keys = path("root/.ssh/authorized_keys")?;
            fs_err::write(&keys, spec.public_keys.join("\n") + "\n")?;
            vm_owned(&keys)?;
        }
        if owner.is_some() {
            // The VM's own name, as cloud-init writes it.
            let hostname = path("etc/hostname")?;
            fs_err::write(&hostname, format!("{}\n", spec.hostname))?;
            vm_owned(&hostname)?;
            let hosts = path("etc/hosts")?;
            let mut text =
                String::from("127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n");
            match spec.ipv4.first() {
                Some(ip) => text.push_str(&format!("{ip} {}\n", spec.hostname)),
                None => text.push_str(&format!("127.0.1.1 {}\n", spec.hostname)),
            }
            fs_err::write(&hosts, text)?;
            vm_owned(&hosts)?;
        }
        if !spec.dns.is_empty() {
            mkdir("etc")?;
            let conf: String = spec
                .dns
                .iter()
                .map(|d| format!("nameserver {d}\n"))
                .collect();
            let p = path("etc/resolv.conf")?;
            fs_err::write(&p, conf)?;
            vm_owned(&p)?;
        }
        let ud = spec.user_data.clone().unwrap_or_default();
        fs_err::write(inst.join("user-data.txt"), &ud)?;
        let dir = &dir;

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
            let p = path(&rel)?;
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
            fs_err::write(path(&staged)?, &w.content)?;
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
        fs_err::write(path("var/lib/cloud/boot.sh")?, sh)?;
        if let Some((base, _)) = &owner {
            rootfs::handshake(&cloud, *base)?;
        }
        Ok((dir.clone(), owner.map(|(_, fstab)| fstab)))
    }

    fn spawn(&self, spec: &BootSpec, dir: &Path, fstab: Option<&Path>) -> std::io::Result<()> {
        use fs_err::os::unix::fs::OpenOptionsExt as _;
        let console = fs_err::OpenOptions::new()
            .create(true)
            .append(true)
            .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
            .open(rootfs::safe_path(dir, "var/log/console.log")?)?;
        let console2 = console.try_clone()?;
        let missing = |tool: &str, package: &str| {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("`{tool}` is missing (install the Debian package {package})"),
            )
        };
        let mut netns: Option<String> = None;
        let mut cmd = match (&spec.netns, fstab) {
            (Some(ns), Some(fstab)) => {
                for (tool, package) in rootfs::TOOLS {
                    if crate::dataplane::find_tool(tool).is_none() {
                        return Err(missing(tool, package));
                    }
                }
                let unshare = crate::dataplane::find_tool("unshare")
                    .ok_or_else(|| missing("unshare", "util-linux"))?;
                let inst = fs_err::canonicalize(dir)?;
                // The machine's root makes the VM's mounts in new mount and PID namespaces inside
                // the server's network namespace (entered by the spawning thread, see below),
                // then becomes the VM's root in its own user, UTS and IPC namespaces (see
                // `rootfs`). The tree dies with its leader.
                netns = Some(ns.clone());
                let mut c = tokio::process::Command::new(unshare);
                c.args(["--mount", "--pid", "--fork", "--kill-child", "--"])
                    .args(["/bin/sh", "-c", rootfs::SETUP, "localcloud-vm"])
                    .arg(&inst)
                    .arg(rootfs::id_base(&spec.id).to_string())
                    .arg(fstab);
                // Nothing of localcloud's own environment reaches the VM.
                c.env_clear()
                    .env("PATH", rootfs::VM_PATH)
                    .env("LANG", "C.UTF-8")
                    .env("VITRINA_ROOT", "/")
                    .env("HOME", "/root");
                c
            }
            (Some(_), None) => return Err(missing("unshare", "util-linux")),
            (None, _) => {
                let mut c = tokio::process::Command::new("/bin/sh");
                c.arg(dir.join("var/lib/cloud/boot.sh"))
                    .env("VITRINA_ROOT", dir)
                    .env("HOME", dir.join("root"));
                c
            }
        };
        if let Some(lo) = &spec.loopback_ipv4 {
            cmd.env("VITRINA_LOOPBACK_IPV4", lo);
        }
        cmd.current_dir(dir)
            .process_group(0)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::from(console.into_parts().0))
            .stderr(std::process::Stdio::from(console2.into_parts().0))
            .env("VITRINA_INSTANCE_ID", &spec.id)
            .env("VITRINA_INSTANCE_NAME", &spec.name)
            .env("VITRINA_HOSTNAME", &spec.hostname)
            .env(
                "VITRINA_IPV4",
                spec.ipv4.first().map(String::as_str).unwrap_or(""),
            )
            .kill_on_drop(false);
        let mut child = match netns {
            // Spawned from a thread that entered the server's network namespace: the child is
            // born in it (no `ip netns exec` process in between).
            Some(ns) => {
                let path = Path::new("/run/netns").join(&ns);
                let rt = tokio::runtime::Handle::try_current().map_err(std::io::Error::other)?;
                std::thread::scope(|scope| {
                    scope
                        .spawn(|| -> std::io::Result<tokio::process::Child> {
                            let _rt = rt.enter();
                            let f = fs_err::File::open(&path)?;
                            nix::sched::setns(&f, nix::sched::CloneFlags::CLONE_NEWNET).map_err(
                                |e| {
                                    std::io::Error::other(format!(
                                        "cannot enter the network namespace {ns}: {e}"
                                    ))
                                },
                            )?;
                            cmd.spawn()
                        })
                        .join()
                        .unwrap_or_else(|_| {
                            Err(std::io::Error::other("the spawning thread panicked"))
                        })
                })?
            }
            None => cmd.spawn()?,
        };
        let pid = child.id().and_then(|p| i32::try_from(p).ok()).unwrap_or(0);
        fs_err::write(
            rootfs::safe_path(dir, "var/lib/cloud/pid")?,
            pid.to_string(),
        )?;
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
    // Whatever the leader left behind in its group goes with it, as when a VM powers off, and
    // so do the daemons that left the group (`setsid`).
    let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
    kill_tagged(id);
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

async fn stop_group(id: &str, pgid: i32, exited: watch::Receiver<bool>) {
    if pgid <= 1 {
        return;
    }
    let _ = killpg(Pid::from_raw(pgid), Signal::SIGTERM);
    // A frozen (paused, suspended) VM's processes take the SIGTERM only when they run again.
    let _ = killpg(Pid::from_raw(pgid), Signal::SIGCONT);
    signal_tagged(id, Signal::SIGCONT);
    if !wait_dead(pgid, &exited).await {
        let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
        wait_dead(pgid, &exited).await;
    }
    // Children the leader left behind go with it, in its group or not.
    let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
    kill_tagged(id);
}

/// Kills every process that carries the instance's mark (`VITRINA_INSTANCE_ID=<id>` in its
/// environment, inherited from the boot script): a daemon that left the VM's process group with
/// `setsid` must not outlive the VM (in the shared-network mode nothing else contains it; a
/// contained VM's PID namespace dies with its leader anyway). A process that cleared its
/// environment escapes this; the shared mode is documented as not contained. Returns how many
/// processes were signalled.
pub fn kill_tagged(id: &str) -> usize {
    signal_tagged(id, Signal::SIGKILL)
}

/// Sends `signal` to every process carrying the instance's mark (see [`kill_tagged`]).
fn signal_tagged(id: &str, signal: Signal) -> usize {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let want = format!("VITRINA_INSTANCE_ID={id}");
    let me = std::process::id();
    let mut n = 0;
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if pid == me || pid <= 1 {
            continue;
        }
        let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        if env.split(|b| *b == 0).any(|v| v == want.as_bytes()) {
            if let Ok(raw) = i32::try_from(pid) {
                if nix::sys::signal::kill(Pid::from_raw(raw), signal).is_ok() {
                    n += 1;
                }
            }
        }
    }
    n
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
        let (dir, fstab) = self
            .prepare(spec, &plan)
            .map_err(|source| HvError::Prepare {
                path: self.dir(&spec.id),
                source,
            })?;
        self.spawn(spec, &dir, fstab.as_deref())
            .map_err(|source| HvError::Spawn {
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
                stop_group(&id, pgid, exited).await;
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
        let control = self.control.join(id);
        let id = id.to_owned();
        async move {
            stop.await?;
            // Also when localcloud lost track of the leader (a restart that could not adopt it).
            kill_tagged(&id);
            let _ = tokio::fs::remove_dir_all(&dir).await;
            let _ = tokio::fs::remove_dir_all(&control).await;
            Ok(())
        }
        .boxed()
    }

    fn freeze(&self, id: &str, frozen: bool) -> Result<(), HvError> {
        let pgid = self
            .lock()
            .get(id)
            .filter(|r| !*r.exited.borrow() && pid_alive(r.pgid))
            .map(|r| r.pgid)
            .ok_or_else(|| HvError::NotFound(id.to_owned()))?;
        let signal = if frozen {
            Signal::SIGSTOP
        } else {
            Signal::SIGCONT
        };
        killpg(Pid::from_raw(pgid), signal).map_err(|e| HvError::Signal {
            id: id.to_owned(),
            source: std::io::Error::from_raw_os_error(e as i32),
        })?;
        // Daemons that left the VM's process group are the VM's too.
        signal_tagged(id, signal);
        Ok(())
    }

    fn is_running(&self, id: &str) -> bool {
        self.lock()
            .get(id)
            .is_some_and(|r| !*r.exited.borrow() && pid_alive(r.pgid))
    }

    fn adopt(&self, id: &str) -> bool {
        let Some(pid) = leader(&self.dir(id), id) else {
            return false;
        };
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
        let Some(id) = dir.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if let Some(pid) = leader(&dir, id) {
            if killpg(Pid::from_raw(pid), Signal::SIGKILL).is_ok() {
                killed += 1;
            }
        }
        kill_tagged(id);
    }
    // The namespaces and links of that localcloud go with its servers.
    if let Some(data) = instances_root.parent() {
        crate::dataplane::purge(data);
    }
    killed
}

/// The leader of a running instance: the process recorded in `var/lib/cloud/pid`, only when it
/// is alive, runs as localcloud's own user and was started for this instance (its environment
/// names it). The VM may write that file (it is in its own root), so nothing in it is trusted.
fn leader(dir: &Path, id: &str) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(dir.join("var/lib/cloud/pid"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    if pid <= 1 || !pid_alive(pid) {
        return None;
    }
    let uid = |p: &str| -> Option<String> {
        std::fs::read_to_string(format!("/proc/{p}/status"))
            .ok()?
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
    };
    if uid(&pid.to_string())? != uid("self")? {
        return None;
    }
    let env = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    let want = format!("VITRINA_INSTANCE_ID={id}");
    env.split(|b| *b == 0)
        .any(|v| v == want.as_bytes())
        .then_some(pid)
}

/// The first process of a running instance (inside its PID namespace, the leader's child) and
/// whether it is contained (runs in a user namespace of its own), for `vitrina localcloud exec`.
pub fn instance_init(instance_dir: &Path) -> Option<(u32, bool)> {
    let id = instance_dir.file_name()?.to_str()?;
    let leader = leader(instance_dir, id)?;
    let children =
        std::fs::read_to_string(format!("/proc/{leader}/task/{leader}/children")).ok()?;
    let init: u32 = children.split_whitespace().next()?.parse().ok()?;
    let ours = std::fs::read_to_string("/proc/self/uid_map").ok()?;
    let its = std::fs::read_to_string(format!("/proc/{init}/uid_map")).ok()?;
    let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    Some((init, norm(&ours) != norm(&its)))
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
