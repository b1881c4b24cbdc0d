//! Converging the kernel to a [`Plan`] with `ip` (iproute2) and `nft` (nftables): each
//! namespace's changes go in one `ip -batch`, each nftables table in one `nft -f`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;

use super::plan::{Names, NsSpec, Plan};

#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    #[error("cannot run `{tool}`")]
    Spawn {
        tool: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{cmd}` failed: {stderr}")]
    Failed { cmd: String, stderr: String },
    #[error("cannot read the output of `{cmd}`: {detail}")]
    Output { cmd: String, detail: String },
}

/// The tools, found once.
#[derive(Debug, Clone)]
pub struct Tools {
    pub ip: PathBuf,
    pub nft: PathBuf,
}

/// Finds a program in `PATH` and the sbin folders (which a non-login `PATH` may lack).
pub fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn run(mut cmd: Command, input: Option<&str>) -> Result<String, KernelError> {
    let shown = format!("{cmd:?}");
    cmd.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|source| KernelError::Spawn {
        tool: shown.clone(),
        source,
    })?;
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        let _ = stdin.write_all(text.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|source| KernelError::Spawn {
            tool: shown.clone(),
            source,
        })?;
    if !out.status.success() {
        return Err(KernelError::Failed {
            cmd: shown,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

impl Tools {
    fn ip(&self, ns: Option<&str>) -> Command {
        let mut c = Command::new(&self.ip);
        if let Some(ns) = ns {
            c.args(["-n", ns]);
        }
        c
    }

    /// Runs `ip -batch -` in a namespace; every command runs (`-force`), the first error is
    /// returned.
    pub fn batch(&self, ns: Option<&str>, lines: &[String]) -> Result<(), KernelError> {
        if lines.is_empty() {
            return Ok(());
        }
        let mut c = self.ip(ns);
        c.args(["-force", "-batch", "-"]);
        run(c, Some(&(lines.join("\n") + "\n"))).map(|_| ())
    }

    /// Names in `/run/netns`.
    pub fn namespaces(&self) -> BTreeSet<String> {
        std::fs::read_dir("/run/netns")
            .map(|d| {
                d.flatten()
                    .filter_map(|e| e.file_name().into_string().ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn add_ns(&self, name: &str) -> Result<(), KernelError> {
        let mut c = Command::new(&self.ip);
        c.args(["netns", "add", name]);
        run(c, None).map(|_| ())
    }

    pub fn del_ns(&self, name: &str) -> Result<(), KernelError> {
        // Links first: a namespace that processes still hold outlives its name, its veths must not.
        if let Ok(links) = self.links(Some(name)) {
            let lines: Vec<String> = links
                .iter()
                .filter(|l| l.ifname != "lo")
                .map(|l| format!("link del {}", l.ifname))
                .collect();
            let _ = self.batch(Some(name), &lines);
        }
        let mut c = Command::new(&self.ip);
        c.args(["netns", "del", name]);
        run(c, None).map(|_| ())
    }

    pub fn links(&self, ns: Option<&str>) -> Result<Vec<Link>, KernelError> {
        let mut c = self.ip(ns);
        c.args(["-j", "addr", "show"]);
        let out = run(c, None)?;
        serde_json::from_str(&out).map_err(|e| KernelError::Output {
            cmd: "ip -j addr show".into(),
            detail: e.to_string(),
        })
    }

    /// Applies an nftables script inside a namespace (after enabling forwarding for routers).
    pub fn nft(&self, ns: &str, script: &str, forward: bool) -> Result<(), KernelError> {
        if forward {
            let mut c = Command::new(&self.ip);
            c.args(["netns", "exec", ns, "sh", "-c"])
                .arg("echo 1 > /proc/sys/net/ipv4/ip_forward");
            run(c, None)?;
        }
        let mut c = Command::new(&self.ip);
        c.args(["netns", "exec", ns])
            .arg(&self.nft)
            .args(["-f", "-"]);
        run(c, Some(script)).map(|_| ())
    }
}

#[derive(Debug, Deserialize)]
pub struct Link {
    pub ifname: String,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub master: Option<String>,
    #[serde(default)]
    pub flags: Vec<String>,
    #[serde(default)]
    pub addr_info: Vec<AddrInfo>,
}

#[derive(Debug, Deserialize)]
pub struct AddrInfo {
    #[serde(default)]
    pub family: String,
    #[serde(default)]
    pub local: Option<String>,
    #[serde(default)]
    pub prefixlen: Option<u8>,
}

/// Converges one namespace (`None`: the machine's own, where only links named as localcloud's
/// are touched). Returns the commands to run in peer segments (enslaving new peer ends).
fn converge_ns(
    tools: &Tools,
    names: &Names,
    ns: Option<&str>,
    spec: &NsSpec,
    fresh: &BTreeSet<String>,
    peers: &mut BTreeMap<String, Vec<String>>,
) -> Result<(), KernelError> {
    let links = tools.links(ns)?;
    let by_name: BTreeMap<&str, &Link> = links.iter().map(|l| (l.ifname.as_str(), l)).collect();
    let mut b: Vec<String> = Vec::new();
    if ns.is_some() {
        b.push("link set lo up".into());
        for a in &spec.lo_addrs {
            b.push(format!("addr replace {a} dev lo"));
        }
    }
    let wanted: BTreeSet<&str> = spec
        .veths
        .iter()
        .map(|v| v.name.as_str())
        .chain(spec.attached.iter().map(String::as_str))
        .chain(spec.bridge.then_some("br0"))
        .chain(["lo"])
        .collect();
    for l in &links {
        let ours = ns.is_some() || l.ifname.starts_with(&names.prefix);
        if ours && !wanted.contains(l.ifname.as_str()) {
            b.push(format!("link del {}", l.ifname));
        }
    }
    if spec.bridge {
        if !by_name.contains_key("br0") {
            b.push("link add br0 type bridge".into());
        }
        b.push("link set br0 up".into());
        for a in &spec.attached {
            if let Some(l) = by_name.get(a.as_str()) {
                if l.master.as_deref() != Some("br0") || !l.flags.iter().any(|f| f == "UP") {
                    b.push(format!("link set {a} master br0 up"));
                }
            }
        }
    }
    for v in &spec.veths {
        // A veth whose peer segment was just made again pairs with the old one, which the
        // kernel may not have destroyed yet: make it again.
        let existing = by_name
            .get(v.name.as_str())
            .filter(|l| match &v.mac {
                Some(m) => l.address.as_deref() == Some(m.as_str()),
                None => true,
            })
            .filter(|_| !fresh.contains(&v.peer_ns));
        let have: BTreeSet<String> = match existing {
            Some(l) => l
                .addr_info
                .iter()
                .filter(|a| a.family == "inet")
                .filter_map(|a| Some(format!("{}/{}", a.local.as_ref()?, a.prefixlen?)))
                .collect(),
            None => {
                if by_name.contains_key(v.name.as_str()) {
                    b.push(format!("link del {}", v.name));
                }
                let mac = v
                    .mac
                    .as_ref()
                    .map(|m| format!(" address {m}"))
                    .unwrap_or_default();
                b.push(format!(
                    "link add {}{mac} type veth peer name {} netns {}",
                    v.name, v.peer, v.peer_ns
                ));
                peers
                    .entry(v.peer_ns.clone())
                    .or_default()
                    .push(format!("link set {} master br0 up", v.peer));
                BTreeSet::new()
            }
        };
        for a in v.addrs.difference(&have) {
            b.push(format!("addr add {a} dev {}", v.name));
        }
        for a in have.difference(&v.addrs) {
            b.push(format!("addr del {a} dev {}", v.name));
        }
        b.push(format!("link set {} up", v.name));
    }
    if ns.is_some() {
        match &spec.default_route {
            Some((gw, dev)) => b.push(format!("route replace default via {gw} dev {dev}")),
            None => b.push("route del default".into()),
        }
    }
    match tools.batch(ns, &b) {
        // `route del default` without a default route is not an error here.
        Err(KernelError::Failed { stderr, .. })
            if stderr
                .lines()
                .all(|l| l.contains("No such process") || l.contains("Command failed -:")) => {}
        r => r?,
    }
    Ok(())
}

/// What a pass left behind: namespaces whose convergence failed, with the reason.
#[derive(Debug, Default)]
pub struct PassReport {
    pub errors: BTreeMap<String, String>,
    /// Namespaces made in this pass.
    pub created: BTreeSet<String>,
}

/// What was applied, so a pass touches only what changed.
#[derive(Debug, Default)]
pub struct Applied {
    pub namespaces: BTreeMap<String, NsSpec>,
    pub root: Option<NsSpec>,
    pub nft: BTreeMap<String, String>,
}

/// One reconcile pass: removes namespaces named as this localcloud's that the plan does not hold,
/// creates missing ones, converges those whose spec changed, applies changed nftables scripts.
pub fn pass(tools: &Tools, names: &Names, plan: &Plan, applied: &mut Applied) -> PassReport {
    let mut report = PassReport::default();
    let existing = tools.namespaces();
    // Remove: VMs and routers before segments (their veths go first).
    let mut doomed: Vec<&String> = existing
        .iter()
        .filter(|n| names.owns_ns(n) && !plan.namespaces.contains_key(*n))
        .collect();
    doomed.sort_by_key(|n| n.contains("-net-"));
    for n in doomed {
        if let Err(e) = tools.del_ns(n) {
            report.errors.insert(n.clone(), e.to_string());
        }
        applied.namespaces.remove(n);
        applied.nft.remove(n);
    }
    for n in applied
        .namespaces
        .keys()
        .filter(|n| !plan.namespaces.contains_key(*n))
        .cloned()
        .collect::<Vec<_>>()
    {
        applied.namespaces.remove(&n);
        applied.nft.remove(&n);
    }
    // Create missing namespaces; everything in a new one is to be made.
    let mut created: BTreeSet<String> = BTreeSet::new();
    for n in plan.namespaces.keys() {
        if !existing.contains(n) {
            match tools.add_ns(n) {
                Ok(()) => {
                    created.insert(n.clone());
                }
                Err(e) => {
                    report.errors.insert(n.clone(), e.to_string());
                }
            }
            applied.namespaces.remove(n);
            applied.nft.remove(n);
        }
    }
    // A namespace whose peer segment is new lost its veths with the old one.
    for (n, spec) in &plan.namespaces {
        if spec.veths.iter().any(|v| created.contains(&v.peer_ns)) {
            applied.namespaces.remove(n);
        }
    }
    report.created = created.clone();
    if plan.root.veths.iter().any(|v| created.contains(&v.peer_ns)) {
        applied.root = None;
    }
    let mut peers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let order = plan
        .namespaces
        .iter()
        .filter(|(_, s)| s.bridge)
        .chain(plan.namespaces.iter().filter(|(_, s)| !s.bridge));
    let mut segments_done = false;
    for (n, spec) in order {
        if !spec.bridge && !segments_done {
            segments_done = true;
            if applied.root.as_ref() != Some(&plan.root) {
                match converge_ns(tools, names, None, &plan.root, &created, &mut peers) {
                    Ok(()) => applied.root = Some(plan.root.clone()),
                    Err(e) => {
                        report.errors.insert("(machine)".into(), e.to_string());
                    }
                }
            }
        }
        if report.errors.contains_key(n) || applied.namespaces.get(n) == Some(spec) {
            continue;
        }
        match converge_ns(tools, names, Some(n), spec, &created, &mut peers) {
            Ok(()) => {
                applied.namespaces.insert(n.clone(), spec.clone());
            }
            Err(e) => {
                report.errors.insert(n.clone(), e.to_string());
            }
        }
    }
    if !segments_done && applied.root.as_ref() != Some(&plan.root) {
        match converge_ns(tools, names, None, &plan.root, &created, &mut peers) {
            Ok(()) => applied.root = Some(plan.root.clone()),
            Err(e) => {
                report.errors.insert("(machine)".into(), e.to_string());
            }
        }
    }
    for (seg, lines) in peers {
        if let Err(e) = tools.batch(Some(&seg), &lines) {
            report.errors.insert(seg.clone(), e.to_string());
            applied.namespaces.remove(&seg);
        }
    }
    // Rulesets are independent: apply them from a few threads (each is one `nft` process).
    let jobs: Vec<(&String, &String, bool)> = plan
        .nft
        .iter()
        .filter(|(n, script)| {
            !report.errors.contains_key(*n) && applied.nft.get(*n) != Some(*script)
        })
        .map(|(n, script)| {
            let forward = plan.namespaces.get(n).is_some_and(|s| s.forward);
            (n, script, forward)
        })
        .collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<(usize, Result<(), KernelError>)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..jobs.len().clamp(1, 4))
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        let Some((n, script, forward)) = jobs.get(i) else {
                            break;
                        };
                        done.push((i, tools.nft(n, script, *forward)));
                    }
                    done
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_default())
            .collect()
    });
    for (i, r) in results {
        let Some((n, script, _)) = jobs.get(i) else {
            continue;
        };
        match r {
            Ok(()) => {
                applied.nft.insert((*n).clone(), (*script).clone());
            }
            Err(e) => {
                report.errors.insert((*n).clone(), e.to_string());
            }
        }
    }
    report
}
