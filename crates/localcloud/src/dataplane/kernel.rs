//! Converging the kernel to a [`Plan`] with `ip` (iproute2) and `nft` (nftables): each
//! namespace's changes go in one `ip -batch`, each nftables table in one `nft -f`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;

use super::nftnl::{self, SetChange};
use super::plan::{Names, NsSpec, Plan, Table};

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
    /// `nft` runs from a thread that entered the namespace (it inherits it), which spares the
    /// `ip netns exec` process and its mount namespace for each script.
    pub fn nft(&self, ns: &str, script: &str, forward: bool) -> Result<(), KernelError> {
        let path = Path::new("/run/netns").join(ns);
        let nft = self.nft.clone();
        let script = script.to_owned();
        let shown = format!("nft -f - (in {ns})");
        let failed = |detail: String| KernelError::Failed {
            cmd: shown.clone(),
            stderr: detail,
        };
        std::thread::scope(|scope| {
            scope
                .spawn(|| -> Result<(), KernelError> {
                    let f = std::fs::File::open(&path)
                        .map_err(|e| failed(format!("cannot open {}: {e}", path.display())))?;
                    nix::sched::setns(&f, nix::sched::CloneFlags::CLONE_NEWNET)
                        .map_err(|e| failed(format!("cannot enter the namespace: {e}")))?;
                    if forward {
                        // Per namespace: the thread is in the router's namespace now.
                        std::fs::write("/proc/sys/net/ipv4/ip_forward", b"1\n")
                            .map_err(|e| failed(format!("cannot enable forwarding: {e}")))?;
                        std::fs::write("/proc/sys/net/ipv6/conf/all/forwarding", b"1\n")
                            .map_err(|e| failed(format!("cannot enable IPv6 forwarding: {e}")))?;
                    }
                    let mut c = Command::new(&nft);
                    c.args(["-f", "-"]);
                    run(c, Some(&script)).map(|_| ())
                })
                .join()
                .unwrap_or_else(|_| Err(failed("the namespace thread panicked".into())))
        })
    }

    /// Makes namespaces with one `ip -batch`; returns those that could not be made, with why.
    pub fn add_namespaces(&self, names: &[&String]) -> BTreeMap<String, String> {
        let mut errors = BTreeMap::new();
        if names.is_empty() {
            return errors;
        }
        let lines: Vec<String> = names.iter().map(|n| format!("netns add {n}")).collect();
        if let Err(e) = self.batch(None, &lines) {
            let text = e.to_string();
            let failed = match &e {
                KernelError::Failed { stderr, .. } => failed_lines(stderr),
                _ => Vec::new(),
            };
            if failed.is_empty() {
                for n in names {
                    errors.insert((*n).clone(), text.clone());
                }
            }
            for i in failed {
                if let Some(n) = names.get(i.wrapping_sub(1)) {
                    errors.insert((*n).clone(), text.clone());
                }
            }
        }
        errors
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
    #[serde(default)]
    pub scope: Option<String>,
}

/// Converges one namespace (`None`: the machine's own, where only links named as localcloud's
/// are touched). Returns the commands to run in peer segments (enslaving new peer ends).
/// What every convergence of a pass shares.
struct Cx<'a> {
    tools: &'a Tools,
    names: &'a Names,
    /// Namespaces made in this pass.
    fresh: &'a BTreeSet<String>,
}

fn converge_ns(
    cx: &Cx<'_>,
    ns: Option<&str>,
    spec: &NsSpec,
    old: Option<&NsSpec>,
    peers: &mut BTreeMap<String, Vec<String>>,
    new_ns: bool,
) -> Result<(), KernelError> {
    let (tools, names, fresh) = (cx.tools, cx.names, cx.fresh);
    // A namespace made in this pass holds only `lo`: no need to ask.
    let links = if new_ns { Vec::new() } else { tools.links(ns)? };
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
            // No multicast snooping: IPv6 neighbour solicitations (multicast) reach every port
            // whether or not the VM's MLD reports passed its security groups.
            b.push("link add br0 type bridge mcast_snooping 0".into());
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
                .filter(|a| {
                    a.family == "inet"
                        || (a.family == "inet6" && a.scope.as_deref() == Some("global"))
                })
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
            b.push(format!(
                "addr add {a} dev {}{}",
                v.name,
                super::ipv6::addr_flags(a)
            ));
        }
        for a in have.difference(&v.addrs) {
            b.push(format!("addr del {a} dev {}", v.name));
        }
        b.push(format!("link set {} up", v.name));
    }
    // Routes come last; their failures (a host route whose next hop is not on a subnet of the
    // VM, a default route that is already gone) do not fail the namespace, as a real VM that
    // cannot apply a route still boots.
    let routes_from = b.len();
    if ns.is_some() {
        match &spec.default_route {
            Some((gw, dev)) => b.push(format!("route replace default via {gw} dev {dev}")),
            None => b.push("route del default".into()),
        }
        match &spec.default_route6 {
            Some((gw, dev)) => b.push(format!("route replace ::/0 via {gw} dev {dev}")),
            None => b.push("route del ::/0".into()),
        }
        if let Some(old) = old {
            for (dest, _, dev) in old.routes.iter().filter(|r| !spec.routes.contains(*r)) {
                b.push(format!("route del {dest} dev {dev}"));
            }
        }
        for (dest, hop, dev) in &spec.routes {
            b.push(format!("route replace {dest} via {hop} dev {dev}"));
        }
    }
    match tools.batch(ns, &b) {
        Err(KernelError::Failed { stderr, cmd }) => {
            let failed = failed_lines(&stderr);
            if failed.is_empty() || failed.iter().any(|n| *n <= routes_from) {
                return Err(KernelError::Failed { stderr, cmd });
            }
            if failed.iter().any(|n| {
                b.get(n - 1)
                    .is_some_and(|l| l != "route del default" && l != "route del ::/0")
            }) {
                tracing::warn!(
                    "localcloud data plane: routes in {}: {stderr}",
                    ns.unwrap_or("(machine)")
                );
            }
        }
        r => r?,
    }
    Ok(())
}

/// The 1-based line numbers `ip -force -batch -` reports as failed (`Command failed -:N`).
fn failed_lines(stderr: &str) -> Vec<usize> {
    stderr
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Command failed -:"))
        .filter_map(|n| n.trim().parse().ok())
        .collect()
}

/// What a pass left behind: namespaces whose convergence failed, with the reason.
#[derive(Debug, Default)]
pub struct PassReport {
    pub errors: BTreeMap<String, String>,
    /// Namespaces made in this pass.
    pub created: BTreeSet<String>,
    /// What the pass did and how long each phase took.
    pub stats: super::NetworkStats,
}

/// What was applied, so a pass touches only what changed.
#[derive(Debug, Default)]
pub struct Applied {
    pub namespaces: BTreeMap<String, NsSpec>,
    pub root: Option<NsSpec>,
    pub nft: BTreeMap<String, Table>,
}

/// One reconcile pass: removes namespaces named as this localcloud's that the plan does not hold,
/// creates missing ones, converges those whose spec changed, applies changed nftables scripts.
pub fn pass(tools: &Tools, names: &Names, plan: &Plan, applied: &mut Applied) -> PassReport {
    let mut report = PassReport::default();
    let t0 = std::time::Instant::now();
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
    // Create missing namespaces (one `ip` process); everything in a new one is to be made.
    let missing: Vec<&String> = plan
        .namespaces
        .keys()
        .filter(|n| !existing.contains(*n))
        .collect();
    let failed = tools.add_namespaces(&missing);
    let mut created: BTreeSet<String> = BTreeSet::new();
    for n in missing {
        match failed.get(n) {
            Some(e) => {
                report.errors.insert(n.clone(), e.clone());
            }
            None => {
                created.insert(n.clone());
            }
        }
        applied.namespaces.remove(n);
        applied.nft.remove(n);
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
    let cx = Cx {
        tools,
        names,
        fresh: &created,
    };
    // Segments first (the others' veths end in them), then the machine's link, then VMs and
    // routers, which are independent of each other: converged from a few threads.
    fn todo<'a>(
        plan: &'a Plan,
        bridge: bool,
        report: &PassReport,
        applied: &Applied,
    ) -> Vec<(&'a String, &'a NsSpec)> {
        plan.namespaces
            .iter()
            .filter(|(_, s)| s.bridge == bridge)
            .filter(|(n, s)| {
                !report.errors.contains_key(*n) && applied.namespaces.get(*n) != Some(*s)
            })
            .collect()
    }
    for (n, spec) in todo(plan, true, &report, applied) {
        let old = applied.namespaces.get(n);
        match converge_ns(&cx, Some(n), spec, old, &mut peers, created.contains(n)) {
            Ok(()) => {
                applied.namespaces.insert(n.clone(), spec.clone());
            }
            Err(e) => {
                report.errors.insert(n.clone(), e.to_string());
            }
        }
    }
    if applied.root.as_ref() != Some(&plan.root) {
        match converge_ns(
            &cx,
            None,
            &plan.root,
            applied.root.as_ref(),
            &mut peers,
            false,
        ) {
            Ok(()) => applied.root = Some(plan.root.clone()),
            Err(e) => {
                report.errors.insert("(machine)".into(), e.to_string());
            }
        }
    }
    let t1 = t0.elapsed();
    let jobs = todo(plan, false, &report, applied);
    let nconv = jobs.len();
    let results = parallel(&jobs, |(n, spec)| {
        let mut mine = BTreeMap::new();
        let old = applied.namespaces.get(*n);
        let r = converge_ns(&cx, Some(n), spec, old, &mut mine, created.contains(*n));
        (r, mine)
    });
    for ((n, spec), (r, mine)) in jobs.iter().zip(results) {
        match r {
            Ok(()) => {
                applied.namespaces.insert((*n).clone(), (*spec).clone());
            }
            Err(e) => {
                report.errors.insert((*n).clone(), e.to_string());
            }
        }
        for (seg, lines) in mine {
            peers.entry(seg).or_default().extend(lines);
        }
    }
    for (seg, lines) in peers {
        if let Err(e) = tools.batch(Some(&seg), &lines) {
            report.errors.insert(seg.clone(), e.to_string());
            applied.namespaces.remove(&seg);
        }
    }
    let t2 = t0.elapsed();
    let (nsets, nnft) = apply_tables(tools, plan, applied, &mut report);
    let t3 = t0.elapsed();
    tracing::debug!(
        "localcloud data plane pass: {} namespaces made, segments and machine link in {:?}, {nconv} namespaces converged by {:?}, set elements changed in {nsets} tables, {nnft} tables replaced, done in {:?}",
        created.len(),
        t1,
        t2,
        t3
    );
    report.stats = super::NetworkStats {
        passes: 1,
        namespaces_made: created.len(),
        namespaces_converged: nconv,
        tables_replaced: nnft,
        tables_updated: nsets,
        namespaces_time: t1,
        links_time: t2.saturating_sub(t1),
        tables_time: t3.saturating_sub(t2),
        ..super::NetworkStats::default()
    };
    report
}

/// The set elements to add and remove to turn `old` into `new` (tables of the same shape).
fn set_changes(old: &Table, new: &Table) -> Vec<SetChange> {
    new.sets
        .iter()
        .filter_map(|(name, set)| {
            let before = old.sets.get(name).map(|s| &s.elements);
            let add: Vec<_> = set
                .elements
                .iter()
                .filter(|a| before.is_none_or(|b| !b.contains(*a)))
                .copied()
                .collect();
            let del: Vec<_> = before
                .into_iter()
                .flatten()
                .filter(|a| !set.elements.contains(*a))
                .copied()
                .collect();
            (!add.is_empty() || !del.is_empty()).then(|| SetChange {
                set: name.clone(),
                add,
                del,
            })
        })
        .collect()
}

/// Brings localcloud's nftables tables to the plan: a table whose rules are as applied and
/// whose set elements changed (a new member of a security group) gets those elements over
/// netlink, one transaction per namespace, without a process; any other changed table is
/// replaced with one `nft -f` (from a few threads). Returns how many tables took each way.
fn apply_tables(
    tools: &Tools,
    plan: &Plan,
    applied: &mut Applied,
    report: &mut PassReport,
) -> (usize, usize) {
    let mut full: Vec<(&String, &Table, bool)> = Vec::new();
    let mut deltas = 0;
    for (n, table) in &plan.nft {
        if report.errors.contains_key(n) {
            continue;
        }
        let forward = plan.namespaces.get(n).is_some_and(|s| s.forward);
        match applied.nft.get(n) {
            Some(old) if old == table => {}
            Some(old) if old.same_shape(table) => {
                let changes = set_changes(old, table);
                let path = Path::new("/run/netns").join(n);
                match nftnl::update_sets(&path, table.family, super::nft::TABLE, &changes) {
                    Ok(()) => {
                        deltas += 1;
                        applied.nft.insert(n.clone(), table.clone());
                    }
                    Err(e) => {
                        tracing::debug!(
                            "localcloud data plane: set elements in {n}: {e}; replacing the table"
                        );
                        full.push((n, table, forward));
                    }
                }
            }
            _ => full.push((n, table, forward)),
        }
    }
    let results = parallel(&full, |(n, table, forward)| {
        tools.nft(n, &table.script(), *forward)
    });
    for ((n, table, _), r) in full.iter().zip(results) {
        match r {
            Ok(()) => {
                applied.nft.insert((*n).clone(), (*table).clone());
            }
            Err(e) => {
                applied.nft.remove(*n);
                report.errors.insert((*n).clone(), e.to_string());
            }
        }
    }
    (deltas, full.len())
}

/// Runs `f` on every item from a few threads (each call mostly waits for a child process);
/// results in the items' order.
fn parallel<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    const WORKERS: usize = 4;
    if items.len() <= 1 {
        return items.iter().map(&f).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut out: Vec<(usize, R)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..items.len().min(WORKERS))
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        let Some(item) = items.get(i) else { break };
                        done.push((i, f(item)));
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
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, r)| r).collect()
}
