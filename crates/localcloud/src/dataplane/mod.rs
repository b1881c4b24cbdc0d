//! The data plane: Neutron's networks, ports, routers, floating IPs and security groups made real
//! with Linux network namespaces, veth pairs, bridges and nftables.
//!
//! - Each Neutron network is one L2 segment: bridge `br0` in namespace `lc<tag>-net-<network>`.
//! - Each server runs in namespace `lc<tag>-vm-<server>` with one veth `eth<i>` per port (the
//!   port's MAC and fixed IPs); the peer end `tap<port>` is enslaved to the segment's bridge. A
//!   default route goes through the subnet's gateway when a router serves the subnet.
//! - Security groups are nftables rules in the VM's namespace (`table inet localcloud`).
//! - Each router is namespace `lc<tag>-r-<router>` with legs `qr-<port>` (gateway addresses) and
//!   `qg-<port>` on the external network; SNAT and floating-IP NAT in `table ip localcloud`.
//! - The external network (`ext-net`) reaches the machine through one veth, `lc<tag>-ext`, holding
//!   the external subnet's gateway address. Nothing else on the machine is touched.
//!
//! The API never calls into the kernel directly: every state change wakes the reconciler, which
//! computes the desired picture from the state ([`plan::plan`]) and converges the kernel to it
//! ([`kernel::pass`]). The first pass after a start removes whatever a killed localcloud left that
//! no resource owns. Without `CAP_NET_ADMIN` or without `ip`/`nft`, localcloud runs in the
//! shared-network mode: servers use the machine's network, each with its own 127.x address.

mod ipv6;
mod kernel;
mod metadata;
mod nft;
mod nftnl;
pub mod plan;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::Digest as _;
use tokio::sync::watch;

use crate::store::Store;
use kernel::{Applied, Tools};
use plan::Names;

pub use kernel::find_tool;

/// How servers are networked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkMode {
    /// Namespaces, bridges and nftables: each server is a machine of its own.
    Isolated,
    /// The machine's network, shared by every server; the reason is shown to the user.
    Shared { reason: String },
}

impl NetworkMode {
    pub fn name(&self) -> &'static str {
        match self {
            NetworkMode::Isolated => "isolated",
            NetworkMode::Shared { .. } => "shared",
        }
    }
}

/// Which network mode to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NetworkSetting {
    /// Isolated when the process may (CAP_NET_ADMIN, CAP_SYS_ADMIN, `ip` and `nft` present).
    #[default]
    Auto,
    /// Always shared.
    Shared,
}

/// What the data plane did since it started, and where its time went (for the benchmark).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkStats {
    /// Reconcile passes.
    pub passes: usize,
    pub namespaces_made: usize,
    /// Namespaces whose links, addresses and routes were (re)applied.
    pub namespaces_converged: usize,
    /// nftables tables written whole (`nft -f`).
    pub tables_replaced: usize,
    /// nftables tables whose set elements alone changed (over netlink, no process).
    pub tables_updated: usize,
    /// Pass phases: removing and making namespaces, segments and the machine's link.
    pub namespaces_time: Duration,
    /// Pass phases: the links, addresses and routes of servers and routers.
    pub links_time: Duration,
    /// Pass phases: nftables.
    pub tables_time: Duration,
    /// Servers plugged, and the time they waited for their pass (summed over servers).
    pub plugged: usize,
    pub plug_wait: Duration,
}

impl NetworkStats {
    fn add(&mut self, o: &NetworkStats) {
        self.passes += o.passes;
        self.namespaces_made += o.namespaces_made;
        self.namespaces_converged += o.namespaces_converged;
        self.tables_replaced += o.tables_replaced;
        self.tables_updated += o.tables_updated;
        self.namespaces_time += o.namespaces_time;
        self.links_time += o.links_time;
        self.tables_time += o.tables_time;
        self.plugged += o.plugged;
        self.plug_wait += o.plug_wait;
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("the network of server {server} could not be set up: {detail}")]
    Plumb { server: String, detail: String },
}

/// The prefix of every kernel object of the localcloud in `data_dir`.
pub fn names_for(data_dir: &Path) -> Names {
    let canon = std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
    let h = sha2::Sha256::digest(canon.to_string_lossy().as_bytes());
    Names {
        prefix: format!("lc{}", &hex::encode(h)[..6]),
    }
}

/// The default external range of the localcloud in `data_dir`: one /24 of 198.18.0.0/15 (a
/// range no real network uses), chosen by the data folder so two localclouds differ.
pub fn default_external_cidr(data_dir: &Path) -> String {
    let canon = std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
    let h = sha2::Sha256::digest(canon.to_string_lossy().as_bytes());
    let idx = (u16::from(h[6]) << 8 | u16::from(h[7])) % 512;
    format!("198.{}.{}.0/24", 18 + idx / 256, idx % 256)
}

/// Gateway, first and last pool address of an IPv4 CIDR from /16 to /29.
pub fn range_of(cidr: &str) -> Option<(String, String, String)> {
    let (a, l) = cidr.split_once('/')?;
    let a: std::net::Ipv4Addr = a.parse().ok()?;
    let l: u32 = l.parse().ok()?;
    if !(16..=29).contains(&l) {
        return None;
    }
    let size = 1u32 << (32 - l);
    let base = u32::from(a) & !(size - 1);
    let ip = |n: u32| std::net::Ipv4Addr::from(base + n).to_string();
    let first = if size >= 64 { 10 } else { 2 };
    let last = if size >= 64 { size - 6 } else { size - 2 };
    Some((ip(1), ip(first), ip(last)))
}

/// The loopback address of a server in the shared-network mode: one of 127.128.0.0/10 chosen by
/// its id.
pub fn loopback_address(server_id: &str) -> String {
    let h = sha2::Sha256::digest(server_id.as_bytes());
    let n = (u32::from(h[0]) << 16 | u32::from(h[1]) << 8 | u32::from(h[2])) & 0x3f_ffff;
    let n = if n & 0xff == 0 || n & 0xff == 255 {
        n ^ 1
    } else {
        n
    };
    std::net::Ipv4Addr::from(0x7f80_0000 | n).to_string()
}

fn has_capability(bit: u32) -> bool {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return false;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << bit) != 0)
}

/// Decides the mode: isolated needs CAP_NET_ADMIN and CAP_SYS_ADMIN and both tools.
fn detect(setting: NetworkSetting) -> (NetworkMode, Option<Tools>) {
    if setting == NetworkSetting::Shared {
        return (
            NetworkMode::Shared {
                reason: "the shared-network mode was asked for".into(),
            },
            None,
        );
    }
    const CAP_NET_ADMIN: u32 = 12;
    const CAP_SYS_ADMIN: u32 = 21;
    let shared = |reason: String| (NetworkMode::Shared { reason }, None);
    if !has_capability(CAP_NET_ADMIN) {
        return shared(
            "localcloud lacks CAP_NET_ADMIN (run it as root for isolated networks)".into(),
        );
    }
    if !has_capability(CAP_SYS_ADMIN) {
        return shared(
            "localcloud lacks CAP_SYS_ADMIN (run it as root for isolated networks)".into(),
        );
    }
    let Some(ip) = find_tool("ip") else {
        return shared("`ip` is missing (install the Debian package iproute2)".into());
    };
    let Some(nft) = find_tool("nft") else {
        return shared("`nft` is missing (install the Debian package nftables)".into());
    };
    (NetworkMode::Isolated, Some(Tools { ip, nft }))
}

/// Per prefix: whether its kernel objects were purged (its reconciler must stop), and the lock a
/// pass holds, so a purge never races a pass of a localcloud running in this process.
#[derive(Default)]
struct Guard {
    purged: std::sync::atomic::AtomicBool,
    lock: Mutex<()>,
}

fn guard(prefix: &str) -> Arc<Guard> {
    static GUARDS: Mutex<std::collections::BTreeMap<String, Arc<Guard>>> =
        Mutex::new(std::collections::BTreeMap::new());
    GUARDS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .entry(prefix.to_owned())
        .or_default()
        .clone()
}

struct Inner {
    guard: Arc<Guard>,
    stopped: std::sync::atomic::AtomicBool,
    names: Names,
    tools: Tools,
    store: Arc<Store>,
    applied: Mutex<Applied>,
    /// Passes asked for; a pass started after request `n` answers it.
    requested: AtomicU64,
    done: watch::Sender<(u64, Arc<kernel::PassReport>, Arc<plan::Plan>)>,
    wake: tokio::sync::Notify,
    /// Metadata listeners: server id → (namespace, serving task).
    metadata: Mutex<std::collections::BTreeMap<String, (String, tokio::task::JoinHandle<()>)>>,
    stats: Mutex<NetworkStats>,
}

impl Inner {
    fn add_stats(&self, s: &NetworkStats) {
        self.stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .add(s);
    }
}

impl Inner {
    /// Starts a metadata listener in every server namespace that has none (or was made again),
    /// stops those of servers that are gone.
    fn metadata_listeners(&self, plan: &plan::Plan, report: &kernel::PassReport) {
        let mut map = self
            .metadata
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.retain(|id, (ns, task)| {
            let keep = plan.servers.get(id) == Some(ns) && !report.created.contains(ns);
            if !keep {
                task.abort();
            }
            keep
        });
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        for (id, ns) in &plan.servers {
            if map.contains_key(id) || report.errors.contains_key(ns) {
                continue;
            }
            match metadata::bind_in(ns) {
                Ok(l) => {
                    let task = rt.spawn(metadata::serve(l, self.store.clone(), id.clone()));
                    map.insert(id.clone(), (ns.clone(), task));
                }
                Err(e) => tracing::warn!("localcloud metadata service in {ns}: {e}"),
            }
        }
    }

    fn stop_metadata(&self) {
        let mut map = self
            .metadata
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (_, (_, task)) in std::mem::take(&mut *map) {
            task.abort();
        }
    }
}

/// The data plane of one localcloud.
pub struct DataPlane {
    mode: NetworkMode,
    names: Names,
    inner: Option<Arc<Inner>>,
}

impl DataPlane {
    /// Decides the mode; in the isolated mode, starts the reconciler (its first pass cleans up).
    pub fn start(data_dir: &Path, setting: NetworkSetting, store: Arc<Store>) -> DataPlane {
        let names = names_for(data_dir);
        let (mode, tools) = detect(setting);
        let inner = tools.map(|tools| {
            let (done, _) = watch::channel((0, Arc::default(), Arc::default()));
            let guard = guard(&names.prefix);
            guard.purged.store(false, Ordering::SeqCst);
            Arc::new(Inner {
                guard,
                stopped: std::sync::atomic::AtomicBool::new(false),
                names: names.clone(),
                tools,
                store,
                applied: Mutex::new(Applied::default()),
                requested: AtomicU64::new(1),
                done,
                wake: tokio::sync::Notify::new(),
                metadata: Mutex::default(),
                stats: Mutex::default(),
            })
        });
        if let Some(inner) = &inner {
            tokio::spawn(run(inner.clone()));
        }
        DataPlane { mode, names, inner }
    }

    pub fn mode(&self) -> &NetworkMode {
        &self.mode
    }

    pub fn names(&self) -> &Names {
        &self.names
    }

    /// Stops reconciling (the kernel objects stay, for the next start to adopt).
    pub fn stop(&self) {
        if let Some(i) = &self.inner {
            i.stopped.store(true, Ordering::SeqCst);
            i.wake.notify_one();
            i.stop_metadata();
            let _g = i.guard.lock.lock();
        }
    }

    /// The state changed: converge soon.
    pub fn changed(&self) {
        if let Some(i) = &self.inner {
            i.requested.fetch_add(1, Ordering::SeqCst);
            i.wake.notify_one();
        }
    }

    /// Converges now and returns the namespace the server must run in (`None` in the shared
    /// mode). Fails when the server's namespace could not be made.
    pub async fn plug_server(&self, server_id: &str) -> Result<Option<String>, NetError> {
        let Some(i) = &self.inner else {
            return Ok(None);
        };
        let t = std::time::Instant::now();
        let (report, plan) = sync(i).await;
        i.add_stats(&NetworkStats {
            plugged: 1,
            plug_wait: t.elapsed(),
            ..NetworkStats::default()
        });
        let Some(ns) = plan.servers.get(server_id) else {
            return Err(NetError::Plumb {
                server: server_id.into(),
                detail: "the server is gone".into(),
            });
        };
        let mut errs: Vec<String> = Vec::new();
        let mut related = vec![ns.clone()];
        if let Some(spec) = plan.namespaces.get(ns) {
            related.extend(spec.veths.iter().map(|v| v.peer_ns.clone()));
        }
        for n in related {
            if let Some(e) = report.errors.get(&n) {
                errs.push(format!("{n}: {e}"));
            }
        }
        if errs.is_empty() {
            Ok(Some(ns.clone()))
        } else {
            Err(NetError::Plumb {
                server: server_id.into(),
                detail: errs.join("; "),
            })
        }
    }

    /// Converges now (the state as it is at this call is in the kernel when this returns).
    pub async fn sync(&self) {
        if let Some(i) = &self.inner {
            sync(i).await;
        }
    }

    /// What the data plane did since it started (empty in the shared mode).
    pub fn stats(&self) -> NetworkStats {
        self.inner
            .as_ref()
            .map(|i| {
                i.stats
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .clone()
            })
            .unwrap_or_default()
    }

    /// The namespace of a server, in the isolated mode.
    pub fn server_netns(&self, server_id: &str) -> Option<String> {
        self.inner.as_ref().map(|_| self.names.vm(server_id))
    }
}

async fn sync(i: &Arc<Inner>) -> (Arc<kernel::PassReport>, Arc<plan::Plan>) {
    let want = i.requested.fetch_add(1, Ordering::SeqCst) + 1;
    i.wake.notify_one();
    let mut rx = i.done.subscribe();
    loop {
        {
            let v = rx.borrow_and_update();
            if v.0 >= want {
                return (v.1.clone(), v.2.clone());
            }
        }
        if rx.changed().await.is_err() {
            return (Arc::default(), Arc::default());
        }
    }
}

/// The reconciler: one pass whenever something asked, coalescing bursts; a pass also runs every
/// few seconds so drift (a namespace deleted by hand) is repaired.
async fn run(i: Arc<Inner>) {
    let mut changes = i.store.subscribe();
    loop {
        let upto = i.requested.load(Ordering::SeqCst);
        let me = i.clone();
        let res = tokio::task::spawn_blocking(move || {
            let _g = me
                .guard
                .lock
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if me.stopped.load(Ordering::SeqCst) || me.guard.purged.load(Ordering::SeqCst) {
                return None;
            }
            let plan = me.store.read(|db| {
                let ext = db.bootstrap.as_ref().map(|b| b.ext_net_id.clone());
                plan::plan(db, &me.names, ext.as_deref())
            });
            let mut applied = me
                .applied
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let report = kernel::pass(&me.tools, &me.names, &plan, &mut applied);
            for (ns, e) in &report.errors {
                tracing::warn!("localcloud data plane: {ns}: {e}");
            }
            me.metadata_listeners(&plan, &report);
            me.add_stats(&report.stats);
            Some((Arc::new(report), Arc::new(plan)))
        })
        .await;
        match res {
            Ok(Some((report, plan))) => {
                i.done.send_replace((upto, report, plan));
            }
            Ok(None) => {
                i.stop_metadata();
                // Stopped: wake whoever waits, with an empty answer.
                i.done
                    .send_replace((u64::MAX, Arc::default(), Arc::default()));
                return;
            }
            Err(_) => {}
        }
        if i.requested.load(Ordering::SeqCst) > upto {
            continue;
        }
        tokio::select! {
            _ = i.wake.notified() => {}
            r = changes.changed() => {
                if r.is_err() { return; }
                // Let a burst of writes settle into one pass.
                tokio::time::sleep(Duration::from_millis(20)).await;
                i.requested.fetch_add(1, Ordering::SeqCst);
            }
            _ = tokio::time::sleep(Duration::from_secs(10)) => {
                i.requested.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
}

/// Removes every namespace and machine link of the localcloud in `data_dir` (for test harnesses
/// after its processes are killed; a running localcloud reconciles by itself). Returns how many
/// objects were removed.
pub fn purge(data_dir: &Path) -> usize {
    let names = names_for(data_dir);
    let guard = guard(&names.prefix);
    guard.purged.store(true, Ordering::SeqCst);
    let _g = guard
        .lock
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let Some(ip) = find_tool("ip") else { return 0 };
    let tools = Tools {
        ip,
        nft: std::path::PathBuf::from("nft"),
    };
    let mut n = 0;
    let mut list: Vec<String> = tools
        .namespaces()
        .into_iter()
        .filter(|x| names.owns_ns(x))
        .collect();
    list.sort_by_key(|x| x.contains("-net-"));
    for ns in list {
        if tools.del_ns(&ns).is_ok() {
            n += 1;
        }
    }
    if let Ok(links) = tools.links(None) {
        for l in links.iter().filter(|l| l.ifname.starts_with(&names.prefix)) {
            if tools
                .batch(None, &[format!("link del {}", l.ifname)])
                .is_ok()
            {
                n += 1;
            }
        }
    }
    n
}
