//! The root of a contained process VM (the isolated mode): its own mount, user, UTS, IPC and PID
//! namespaces around a copy-on-write view of the machine.
//!
//! The instance folder `DATA/instances/<id>/` is the VM's `/` and holds its upper layer:
//!
//! - the machine's system folders (`/usr`, `/etc`, `/var`, `/opt`, `/srv`, and `/bin`, `/lib`…
//!   where they are folders) are overlayfs mounts whose lower layer is the machine's folder and
//!   whose upper layer is the same path in the instance folder, so what the VM writes there lands
//!   in its instance folder and the machine's files never change. The kernel refuses an upper
//!   layer inside a lower one; a system folder that holds localcloud's data folder is therefore
//!   split into one overlay per child, and the child on the way to the data folder is split again,
//!   down to the data folder itself, which is left out;
//! - `/root`, `/home`, `/tmp`, `/mnt`, `/media` are the VM's own folders (empty at first);
//!   `/run` and `/dev/shm` are fresh tmpfs; `/dev` is the machine's device folder (the VM's root
//!   may open only what any unprivileged user may); `/proc` is the VM's PID namespace's;
//! - everything else of the machine (its other top-level folders such as a project checkout,
//!   localcloud's data folder with the state, credentials and the other VMs' folders) is not
//!   there at all.
//!
//! The VM's processes run as root of their own user namespace, which maps its 65,536 ids onto an
//! unprivileged range of the machine chosen by the server id (from uid 2^30 up). The machine's own
//! files are therefore owned by `nobody` inside the VM and readable only where any unprivileged
//! user could read them (so `/etc/shadow` or root's keys stay closed); the VM cannot change them
//! in place, only replace them (its upper layer). To make the usual writable places writable,
//! the folders of `/etc`, `/var`, `/usr/local`, `/opt` and `/srv` are mirrored, owned by the VM's
//! root, into the upper layer at first boot. The VM holds no capability over the machine, and
//! its network namespace, where its security groups live, is owned by the machine, so the VM
//! cannot change its addresses, routes or firewall.
//!
//! Start-up, all with util-linux and the tools of `mount`: `ip netns exec NS unshare --mount
//! --pid --fork --kill-child` runs a short script as the machine's root, which mounts the table
//! written to the server's control folder (`mount -a -T`), `pivot_root`s into the instance
//! folder, and execs `setpriv` (drop to the VM's range) + `unshare --user --uts --ipc`; a helper
//! writes the new user namespace's id maps, and the VM's first process execs the boot script.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

use sha2::Digest as _;

/// How many ids the VM's user namespace maps.
pub const ID_RANGE: u32 = 65_536;

/// Folders of the machine shown copy-on-write.
const OVERLAID: &[&str] = &[
    "bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr", "etc", "opt", "var", "srv",
];
/// The VM's own folders, made in the instance folder.
const OWN: &[(&str, u32)] = &[
    ("root", 0o700),
    ("home", 0o755),
    ("tmp", 0o1777),
    ("mnt", 0o755),
    ("media", 0o755),
];
/// Mount points of kernel file systems.
const MOUNT_POINTS: &[&str] = &["run", "dev", "proc", "sys"];
/// Device nodes of the machine bound into the VM's `/dev` (each opened with the VM's rights).
const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];
/// Symlinks of the VM's `/dev`.
const DEV_LINKS: &[(&str, &str)] = &[
    ("ptmx", "pts/ptmx"),
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
];
/// Upper-layer folders mirrored (owned by the VM's root) at first boot, so that the usual places
/// a script writes to are writable.
const MIRRORED: &[&str] = &["etc", "var", "usr/local", "opt", "srv"];
/// Limits of the mirror (a machine with a huge `/var` still boots fast).
const MIRROR_MAX_DIRS: usize = 4_000;
const MIRROR_MAX_DEPTH: usize = 8;

/// The tools the contained start-up runs, with the Debian package of each.
pub const TOOLS: &[(&str, &str)] = &[
    ("unshare", "util-linux"),
    ("setpriv", "util-linux"),
    ("pivot_root", "util-linux"),
    ("mount", "mount"),
    ("umount", "mount"),
];

/// The first id of the machine's range that a server's user namespace maps (2^30 up, in steps of
/// 65,536; a function of the server id, so it is the same after a restart).
pub fn id_base(server_id: &str) -> u32 {
    let h = sha2::Sha256::digest(server_id.as_bytes());
    let n = (u32::from(h[0]) << 8 | u32::from(h[1])) % 0x3000;
    (1 << 30) + n * ID_RANGE
}

/// One entry of the VM's root (a path relative to `/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// The machine's folder, copy-on-write.
    Overlay { rel: String },
    /// A plain folder of the VM (with the machine's mode and owner): an empty folder of the
    /// machine, or one split because it holds the data folder (its children are entries of
    /// their own).
    Split { rel: String },
    /// A symlink, as on the machine.
    Symlink { rel: String, target: PathBuf },
}

/// What the VM's root is made of, computed once per data folder.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    pub entries: Vec<Entry>,
    /// Folders to mirror into the upper layer at first boot: (relative path, mode, machine uid,
    /// machine gid), parents first.
    pub mirror: Vec<(String, u32, u32, u32)>,
}

fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, ',' | ':' | '\\' | '='))
}

/// Whether `path` (absolute, canonical) is `dir` or inside it.
fn within(path: &Path, dir: &Path) -> bool {
    path.starts_with(dir)
}

impl Layout {
    /// The layout for a localcloud whose data folder is `data_dir` (every path in `hidden` is
    /// left out of the VM's root; the data folder is always among them).
    pub fn compute(data_dir: &Path) -> Layout {
        let data = std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
        let hidden = vec![data];
        let mut l = Layout::default();
        for name in OVERLAID {
            l.add(&hidden, name);
        }
        let overlays: BTreeSet<String> = l
            .entries
            .iter()
            .filter_map(|e| match e {
                Entry::Overlay { rel } | Entry::Split { rel } => Some(rel.clone()),
                Entry::Symlink { .. } => None,
            })
            .collect();
        let mut count = 0usize;
        for m in MIRRORED {
            // Only under a folder that is shown.
            let shown = overlays
                .iter()
                .any(|o| Path::new(m).starts_with(o) || Path::new(o).starts_with(m));
            if shown {
                mirror(&hidden, m, 0, &mut count, &mut l.mirror);
            }
        }
        l
    }

    fn add(&mut self, hidden: &[PathBuf], rel: &str) {
        let host = Path::new("/").join(rel);
        let Ok(meta) = std::fs::symlink_metadata(&host) else {
            return;
        };
        if meta.file_type().is_symlink() {
            if let Ok(target) = std::fs::read_link(&host) {
                self.entries.push(Entry::Symlink {
                    rel: rel.to_owned(),
                    target,
                });
            }
            return;
        }
        if !meta.is_dir() || hidden.iter().any(|h| within(&host, h)) {
            return;
        }
        if !hidden.iter().any(|h| within(h, &host)) {
            self.entries.push(Entry::Overlay {
                rel: rel.to_owned(),
            });
            return;
        }
        // Holds a hidden path: split.
        self.entries.push(Entry::Split {
            rel: rel.to_owned(),
        });
        let Ok(children) = std::fs::read_dir(&host) else {
            return;
        };
        let mut names: Vec<String> = children
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| is_plain_name(n))
            .collect();
        names.sort();
        for n in names {
            self.add(hidden, &format!("{rel}/{n}"));
        }
    }
}

fn mirror(
    hidden: &[PathBuf],
    rel: &str,
    depth: usize,
    count: &mut usize,
    out: &mut Vec<(String, u32, u32, u32)>,
) {
    use std::os::unix::fs::MetadataExt as _;
    if depth > MIRROR_MAX_DEPTH || *count >= MIRROR_MAX_DIRS {
        return;
    }
    let host = Path::new("/").join(rel);
    let Ok(meta) = std::fs::symlink_metadata(&host) else {
        return;
    };
    // Folders closed to other users stay closed (owned by the machine's root, not the VM's).
    if !meta.is_dir() || meta.mode() & 0o005 != 0o005 || hidden.iter().any(|h| within(&host, h)) {
        return;
    }
    *count += 1;
    out.push((rel.to_owned(), meta.mode() & 0o7777, meta.uid(), meta.gid()));
    let Ok(children) = std::fs::read_dir(&host) else {
        return;
    };
    let mut names: Vec<String> = children
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| is_plain_name(n))
        .collect();
    names.sort();
    for n in names {
        mirror(hidden, &format!("{rel}/{n}"), depth + 1, count, out);
    }
}

/// The layout of the data folder `data_dir`, computed on first use.
pub fn layout(data_dir: &Path) -> &'static Layout {
    static LAYOUTS: std::sync::Mutex<Vec<(PathBuf, &'static OnceLock<Layout>)>> =
        std::sync::Mutex::new(Vec::new());
    let cell: &'static OnceLock<Layout> = {
        let mut all = LAYOUTS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match all.iter().find(|(p, _)| p == data_dir) {
            Some((_, c)) => c,
            None => {
                let c: &'static OnceLock<Layout> = Box::leak(Box::new(OnceLock::new()));
                all.push((data_dir.to_path_buf(), c));
                c
            }
        }
    };
    cell.get_or_init(|| Layout::compute(data_dir))
}

/// A machine id seen through the VM's range (ids past the range become the VM's `nobody`).
pub fn shift(base: u32, id: u32) -> u32 {
    if id < ID_RANGE {
        base + id
    } else {
        base + 65_534
    }
}

/// Walks `rel` under `root` one component at a time without following symlinks: every folder on
/// the way must be a real folder (a missing one is made with `mode`); a symlink or other file at
/// the last component is removed. The VM owns its folder and may have planted symlinks in it
/// while it ran; this runs while its processes are stopped, so nothing changes under our feet.
pub fn safe_path(root: &Path, rel: &str) -> std::io::Result<PathBuf> {
    let parts: Vec<&str> = Path::new(rel)
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => s.to_str(),
            _ => None,
        })
        .collect();
    let mut p = root.to_path_buf();
    let Some((last, dirs)) = parts.split_last() else {
        return Ok(p);
    };
    for d in dirs {
        p.push(d);
        ensure_dir(&p)?;
    }
    p.push(last);
    if let Ok(m) = std::fs::symlink_metadata(&p) {
        if m.file_type().is_symlink() {
            fs_err::remove_file(&p)?;
        }
    }
    Ok(p)
}

/// Makes `p` a real folder: a missing one is made, a symlink in its place is an error.
pub fn ensure_dir(p: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(std::io::Error::other(format!(
            "`{}` is not a folder (a symlink or file left by the VM); refusing to follow it",
            p.display()
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => match std::fs::create_dir(p) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => ensure_dir(p),
            Err(e) => Err(std::io::Error::new(
                e.kind(),
                format!("cannot make `{}`: {e}", p.display()),
            )),
        },
        Err(e) => Err(e),
    }
}

pub fn set_owner(p: &Path, uid: u32, gid: u32) -> std::io::Result<()> {
    std::os::unix::fs::lchown(p, Some(uid), Some(gid))
        .map_err(|e| std::io::Error::new(e.kind(), format!("chown `{}`: {e}", p.display())))
}

pub fn set_mode(p: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    fs_err::set_permissions(p, std::fs::Permissions::from_mode(mode))
}

/// Escapes a path for an fstab field (octal escapes, as `getmntent` reads them).
fn fstab_field(p: &Path) -> String {
    let mut s = String::new();
    for c in p.to_string_lossy().chars() {
        match c {
            ' ' => s.push_str("\\040"),
            '\t' => s.push_str("\\011"),
            '\n' => s.push_str("\\012"),
            '\\' => s.push_str("\\134"),
            c => s.push(c),
        }
    }
    s
}

/// Prepares the VM's root in `inst` (the instance folder, canonical) and writes its mount table
/// to `ctl/fstab`; `first` is true on the first boot of the instance (the mirror is made then).
pub fn prepare(
    layout: &Layout,
    inst: &Path,
    ctl: &Path,
    base: u32,
    first: bool,
    disks: &[super::Disk],
) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::MetadataExt as _;
    let inst_s = inst.to_string_lossy();
    if !is_plain_name(inst_s.trim_start_matches('/').replace('/', "_").as_str()) {
        return Err(std::io::Error::other(format!(
            "the instance folder `{inst_s}` holds a space, comma, colon, `=` or backslash, which \
             overlayfs options cannot carry; move localcloud's data folder"
        )));
    }
    if let Some(all) = ctl.parent() {
        fs_err::create_dir_all(all)?;
        set_mode(all, 0o700)?;
    }
    ensure_dir(ctl)?;
    set_mode(ctl, 0o700)?;
    let work = ctl.join("work");
    ensure_dir(&work)?;
    set_owner(inst, base, base)?;
    set_mode(inst, 0o755)?;
    for (name, mode) in OWN {
        let p = safe_path(inst, name)?;
        ensure_dir(&p)?;
        set_owner(&p, base, base)?;
        set_mode(&p, *mode)?;
    }
    for name in MOUNT_POINTS {
        let p = safe_path(inst, name)?;
        ensure_dir(&p)?;
    }
    // Overlays first: their upper and work folders must be reached through one mount (the
    // machine's); then the instance folder becomes a mount point of its own (`rbind`, taking the
    // overlays along) for `pivot_root`, and the kernel file systems go on top of it.
    let mut fstab = String::new();
    for (n, e) in layout.entries.iter().enumerate() {
        match e {
            Entry::Symlink { rel, target } => {
                let p = safe_path(inst, rel)?;
                if std::fs::symlink_metadata(&p).is_err() {
                    std::os::unix::fs::symlink(target, &p)?;
                }
            }
            Entry::Split { rel } | Entry::Overlay { rel } => {
                let host = Path::new("/").join(rel);
                let meta = fs_err::metadata(&host)?;
                let p = safe_path(inst, rel)?;
                ensure_dir(&p)?;
                set_owner(&p, shift(base, meta.uid()), shift(base, meta.gid()))?;
                set_mode(&p, meta.mode() & 0o7777)?;
                if matches!(e, Entry::Overlay { .. }) {
                    let w = work.join(n.to_string());
                    ensure_dir(&w)?;
                    fstab.push_str(&format!(
                        "overlay {target} overlay lowerdir={lower},upperdir={target},workdir={w} 0 0\n",
                        target = fstab_field(&p),
                        lower = fstab_field(&host),
                        w = fstab_field(&w),
                    ));
                }
            }
        }
    }
    if first {
        for (rel, mode, uid, gid) in &layout.mirror {
            let p = safe_path(inst, rel)?;
            match std::fs::symlink_metadata(&p) {
                Ok(_) => continue,
                Err(_) => {
                    ensure_dir(&p)?;
                    set_owner(&p, shift(base, *uid), shift(base, *gid))?;
                    set_mode(&p, *mode)?;
                }
            }
        }
    }
    let i = fstab_field(inst);
    fstab.push_str(&format!(
        "{i} {i} none rbind 0 0\n\
         tmpfs {i}/run tmpfs mode=755,uid={base},gid={base},size=64m,nosuid,nodev 0 0\n\
         proc {i}/proc proc nosuid,nodev,noexec 0 0\n\
         sysfs {i}/sys sysfs ro,nosuid,nodev,noexec 0 0\n\
         devpts {i}/dev/pts devpts newinstance,ptmxmode=0666,mode=0620,gid={tty} 0 0\n\
         tmpfs {i}/dev/shm tmpfs mode=1777,uid={base},gid={base},nosuid,nodev 0 0\n",
        tty = base + 5,
    ));
    // `/dev`: a folder of the machine's (the VM cannot add to it) with the usual nodes, and one
    // file per attached volume: its bytes, which the VM reads and writes like a disk.
    let dev = safe_path(inst, "dev")?;
    ensure_dir(&dev)?;
    set_mode(&dev, 0o755)?;
    let mut wanted: BTreeSet<String> = ["pts", "shm"].iter().map(|s| s.to_string()).collect();
    for d in ["pts", "shm"] {
        ensure_dir(&dev.join(d))?;
    }
    for n in DEVICES {
        placeholder(&dev, n)?;
        wanted.insert((*n).to_owned());
        fstab.push_str(&format!("/dev/{n} {i}/dev/{n} none bind 0 0\n"));
    }
    for (n, target) in DEV_LINKS {
        wanted.insert((*n).to_owned());
        let p = dev.join(n);
        if std::fs::symlink_metadata(&p).is_err() {
            std::os::unix::fs::symlink(target, &p)?;
        }
    }
    for d in disks {
        let Some(name) = d
            .device
            .strip_prefix("/dev/")
            .filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric()))
        else {
            continue;
        };
        // A process VM has no root disk of its own.
        if name == "vda" {
            continue;
        }
        volume_file(d, base)?;
        placeholder(&dev, name)?;
        wanted.insert(name.to_owned());
        fstab.push_str(&format!(
            "{} {i}/dev/{name} none bind 0 0\n",
            fstab_field(&d.file)
        ));
    }
    // Devices of volumes detached since the last boot.
    for e in fs_err::read_dir(&dev)?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !wanted.contains(&name) {
            let p = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                let _ = std::fs::remove_dir_all(&p);
            } else {
                let _ = std::fs::remove_file(&p);
            }
        }
    }
    let path = ctl.join("fstab");
    fs_err::write(&path, fstab)?;
    Ok(path)
}

/// An empty regular file at `dev/name` (a bind mount's target).
fn placeholder(dev: &Path, name: &str) -> std::io::Result<()> {
    let p = dev.join(name);
    match std::fs::symlink_metadata(&p) {
        Ok(m) if m.is_file() => Ok(()),
        Ok(_) => {
            if std::fs::symlink_metadata(&p).is_ok_and(|m| m.is_dir()) {
                fs_err::remove_dir_all(&p)?;
            } else {
                fs_err::remove_file(&p)?;
            }
            fs_err::write(&p, b"")
        }
        Err(_) => fs_err::write(&p, b""),
    }
}

/// Gives a volume its own bytes (`DATA/volumes/<id>`: a copy of what it was made from, extended
/// to its size as a sparse file) owned by the VM's root, which writes it as its disk.
fn volume_file(d: &super::Disk, base: u32) -> std::io::Result<()> {
    if let Some(parent) = d.file.parent() {
        fs_err::create_dir_all(parent)?;
    }
    if std::fs::symlink_metadata(&d.file).is_err() {
        match &d.source {
            Some(src) => {
                fs_err::copy(src, &d.file)?;
            }
            None => {
                fs_err::File::create(&d.file)?;
            }
        }
    }
    let f = fs_err::OpenOptions::new().write(true).open(&d.file)?;
    let want = d.size_gib.saturating_mul(1 << 30);
    if f.metadata()?.len() < want {
        f.set_len(want)?;
    }
    set_owner(&d.file, base, base)?;
    set_mode(&d.file, 0o600)
}

/// The script the machine's root runs inside the server's new mount and PID namespaces
/// (`$1` instance folder, `$2` the id base, `$3` the mount table).
pub const SETUP: &str = r#"set -e
# Ports below 1024 and ping for the VM's root (these are per network namespace).
echo 0 > /proc/sys/net/ipv4/ip_unprivileged_port_start 2>/dev/null || true
echo '0 2147483647' > /proc/sys/net/ipv4/ping_group_range 2>/dev/null || true
mount -a -T "$3"
cd "$1"
pivot_root . .
umount -l .
cd /
( read _ < /var/lib/cloud/.localcloud-ready
  echo "0 $2 65536" > /proc/1/uid_map
  echo "0 $2 65536" > /proc/1/gid_map
  echo go > /var/lib/cloud/.localcloud-go ) &
exec setpriv --reuid="$2" --regid="$2" --clear-groups -- unshare --user --uts --ipc -- /bin/sh -c 'echo > /var/lib/cloud/.localcloud-ready; read _ < /var/lib/cloud/.localcloud-go; hostname "$VITRINA_HOSTNAME" 2>/dev/null; exec /bin/sh /var/lib/cloud/boot.sh'
"#;

/// The two pipes of the start-up handshake (in `var/lib/cloud/`, owned by the VM's root): the
/// VM's first process says it is in its user namespace, the machine's side says the id maps are
/// written.
pub const HANDSHAKE: &[&str] = &[".localcloud-ready", ".localcloud-go"];

/// Makes the handshake pipes afresh in `cloud` (the instance's `var/lib/cloud`).
pub fn handshake(cloud: &Path, base: u32) -> std::io::Result<()> {
    for name in HANDSHAKE {
        let p = cloud.join(name);
        if std::fs::symlink_metadata(&p).is_ok() {
            fs_err::remove_file(&p)?;
        }
        nix::unistd::mkfifo(&p, nix::sys::stat::Mode::from_bits_truncate(0o600)).map_err(|e| {
            std::io::Error::other(format!("cannot make the pipe `{}`: {e}", p.display()))
        })?;
        set_owner(&p, base, base)?;
    }
    Ok(())
}

/// `PATH` inside a contained VM.
pub const VM_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_bases_are_unprivileged_and_in_range() {
        for id in ["a", "b", "5f0c7c1e-1b2a-4c3d-9e8f-001122334455"] {
            let b = id_base(id);
            assert!(b >= 1 << 30);
            assert!(u64::from(b) + u64::from(ID_RANGE) < 1 << 31);
            assert_eq!(b % ID_RANGE, 0);
        }
    }

    #[test]
    fn a_data_folder_inside_a_system_folder_is_split_out() {
        let l = Layout::compute(Path::new("/var/lib/localcloud-test-data"));
        assert!(l.entries.contains(&Entry::Split { rel: "var".into() }));
        assert!(l.entries.contains(&Entry::Split {
            rel: "var/lib".into()
        }));
        assert!(!l.entries.iter().any(|e| matches!(e,
            Entry::Overlay { rel } if rel == "var" || rel == "var/lib")));
        // Its siblings are still shown.
        assert!(l.entries.contains(&Entry::Overlay { rel: "etc".into() }));
    }

    #[test]
    fn fstab_fields_escape_spaces() {
        assert_eq!(fstab_field(Path::new("/a b\\c")), "/a\\040b\\134c");
    }
}
