//! A process VM in the isolated mode is a machine of its own (issue 8, Build 1 and 7): its own
//! copy-on-write root, hostname, process tree and user namespace. What its user data writes,
//! renames or starts stays inside it; it cannot read localcloud's data folder or another VM's
//! files, and it is not root on the machine (probe H1). Needs root, `ip` (iproute2), `nft`
//! (nftables) and util-linux; the namespaces these tests make carry the data folder's prefix and
//! `TestCloud`'s drop removes them even on failure.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::TestCloud;
use serde_json::json;

/// The tools these tests run (name, Debian package).
const TOOLS: &[(&str, &str)] = &[
    ("ip", "iproute2"),
    ("nft", "nftables"),
    ("unshare", "util-linux"),
    ("setpriv", "util-linux"),
    ("nsenter", "util-linux"),
    ("pivot_root", "util-linux"),
    ("mount", "mount"),
];

async fn cloud(third_octet: u8) -> TestCloud {
    TestCloud::isolated(third_octet, TOOLS).await
}

/// Boots a server with `networks: none` and the given user data; returns its id.
async fn boot(tc: &TestCloud, name: &str, user_data: &str) -> String {
    use base64::Engine as _;
    let image = tc.base_image().await;
    let flavor = tc.flavor("Basic-1-2-20").await;
    let body = json!({"server": {"name": name, "flavorRef": flavor, "imageRef": image,
        "networks": "none",
        "user_data": base64::engine::general_purpose::STANDARD.encode(user_data)}})
    .to_string();
    let (status, v) = tc
        .call(reqwest::Method::POST, "/compute/v2.1/servers", Some(&body))
        .await;
    assert_eq!(status, 202, "{v}");
    v["server"]["id"].as_str().expect("id").to_owned()
}

/// Waits for `file` (relative to the instance folder) to appear; on timeout, fails with the
/// server as the API shows it and its console.
async fn wait_for_file(tc: &TestCloud, id: &str, file: &str) -> PathBuf {
    let dir = tc.dir.path().join("instances").join(id);
    let path = dir.join(file);
    let start = Instant::now();
    let mut n = 0u32;
    while !path.exists() {
        n += 1;
        let failed = n.is_multiple_of(20) && {
            let (_, v) = tc
                .call(
                    reqwest::Method::GET,
                    &format!("/compute/v2.1/servers/{id}"),
                    None,
                )
                .await;
            v["server"]["status"] == "ERROR"
        };
        if failed || start.elapsed() > Duration::from_secs(60) {
            let (_, v) = tc
                .call(
                    reqwest::Method::GET,
                    &format!("/compute/v2.1/servers/{id}"),
                    None,
                )
                .await;
            let console =
                std::fs::read_to_string(dir.join("var/log/console.log")).unwrap_or_default();
            panic!("timed out waiting for {file} of {id}: {v}\nconsole:\n{console}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    path
}

/// Runs `sh -c script` inside a server (all its namespaces, as its root), the way `vitrina
/// localcloud exec` does; returns stdout.
fn inside(instance: &Path, script: &str) -> String {
    let (pid, contained) =
        vitrina_localcloud::hypervisor::instance_init(instance).expect("the VM runs");
    assert!(contained, "the VM runs in a user namespace of its own");
    let out = std::process::Command::new("nsenter")
        .args([
            "-t",
            &pid.to_string(),
            "-U",
            "-m",
            "-u",
            "-i",
            "-n",
            "-p",
            "-r",
            "-w",
        ])
        .args(["--", "/bin/sh", "-c", script])
        .env_clear()
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .output()
        .expect("nsenter");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn machine_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").expect("hostname")
}

/// The uid of a process on the machine (real uid).
fn host_uid(pid: u32) -> u32 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("status")
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|u| u.parse().ok())
        .expect("Uid")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_vm_writes_renames_and_starts_daemons_in_its_own_machine() {
    let tc = cloud(211).await;
    let hostname_before = machine_hostname();
    let marker = format!("vitrina-test-{}", std::process::id());
    assert!(!Path::new("/etc/vitrina-test").exists());
    let ud = format!(
        "#!/bin/sh\n\
         echo {marker} > /etc/vitrina-test\n\
         echo 'appended by the VM' >> /etc/hostname\n\
         hostname changed-by-vm\n\
         mkdir -p /usr/local/bin /opt/app\n\
         printf '#!/bin/sh\\nwhile :; do sleep 1; done\\n' > /usr/local/bin/vitrina-test-daemon\n\
         chmod 755 /usr/local/bin/vitrina-test-daemon\n\
         nohup /usr/local/bin/vitrina-test-daemon >/dev/null 2>&1 &\n\
         echo $! > /opt/app/daemon.pid\n\
         id -u > /opt/app/uid\n\
         touch /ready\n"
    );
    let id = boot(&tc, "box-one", &ud).await;
    let other = boot(&tc, "box-two", "#!/bin/sh\ntouch /ready\n").await;
    wait_for_file(&tc, &id, "ready").await;
    wait_for_file(&tc, &other, "ready").await;
    let inst = tc.dir.path().join("instances").join(&id);
    let inst2 = tc.dir.path().join("instances").join(&other);

    // The machine is untouched.
    assert!(
        !Path::new("/etc/vitrina-test").exists(),
        "the VM wrote the machine's /etc"
    );
    assert_eq!(machine_hostname(), hostname_before);
    let daemons_on_machine = std::process::Command::new("pgrep")
        .args(["-f", "vitrina-test-daemon"])
        .output()
        .expect("pgrep");
    // The daemon is a process of the machine's kernel, but not in the machine's root: its root
    // is the VM's (its /usr/local/bin is the VM's upper layer).
    let pids = String::from_utf8_lossy(&daemons_on_machine.stdout).into_owned();
    assert!(!pids.trim().is_empty(), "the daemon runs");
    for pid in pids.split_whitespace() {
        use std::os::unix::fs::MetadataExt as _;
        let root = std::fs::metadata(format!("/proc/{pid}/root")).expect("its root");
        let machine = std::fs::metadata("/").expect("/");
        assert_ne!(
            (root.dev(), root.ino()),
            (machine.dev(), machine.ino()),
            "a VM process runs in the machine's root"
        );
        assert_eq!(
            std::fs::read_to_string(format!("/proc/{pid}/root/etc/vitrina-test"))
                .unwrap_or_default(),
            format!("{marker}\n"),
            "the daemon's root is the VM's"
        );
    }
    // What the VM wrote is in its instance folder (the upper layer), owned by its range.
    assert_eq!(
        std::fs::read_to_string(inst.join("etc/vitrina-test")).expect("upper layer"),
        format!("{marker}\n")
    );
    assert_eq!(
        std::fs::read_to_string(inst.join("opt/app/uid")).expect("uid"),
        "0\n",
        "the VM's processes are root inside it"
    );

    // Inside: the file, the hostname and the daemon; the other VM sees none of them.
    let seen = inside(
        &inst,
        "cat /etc/vitrina-test; hostname; kill -0 $(cat /opt/app/daemon.pid) && echo daemon-alive; ps -e -o comm= | grep -c vitrina-test-da",
    );
    let lines: Vec<&str> = seen.lines().collect();
    assert_eq!(
        lines,
        vec![marker.as_str(), "changed-by-vm", "daemon-alive", "1"],
        "inside box-one"
    );
    let seen2 = inside(
        &inst2,
        "cat /etc/vitrina-test 2>/dev/null || echo no-file; hostname; ps -e -o comm= | grep -c vitrina-test-da",
    );
    assert_eq!(
        seen2.lines().collect::<Vec<_>>(),
        vec!["no-file", "box-two", "0"],
        "inside box-two"
    );

    // Not root on the machine: every process of the VM runs as its unprivileged range.
    let (init, _) = vitrina_localcloud::hypervisor::instance_init(&inst).expect("running");
    let uid = host_uid(init);
    assert!(uid >= 1 << 30, "the VM's root is uid {uid} on the machine");
    let status = std::fs::read_to_string(format!("/proc/{init}/status")).expect("status");
    assert!(
        status.contains(&format!("Uid:\t{uid}\t{uid}\t{uid}\t{uid}")),
        "{status}"
    );
}

/// Probe H1: the repro of the report, as user data, now fails on every count.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn h1_a_vm_cannot_read_the_data_folder_or_other_vms_nor_act_as_the_machines_root() {
    let tc = cloud(212).await;
    let victim = boot(
        &tc,
        "victim",
        "#!/bin/sh\necho secret > /root/victim-file\ntouch /ready\n",
    )
    .await;
    wait_for_file(&tc, &victim, "ready").await;
    let data = std::fs::canonicalize(tc.dir.path()).expect("data folder");
    let ud = format!(
        "#!/bin/sh\n\
         exec > /h1.txt 2>&1\n\
         echo \"uid=$(id -u)\"\n\
         echo \"state=$(grep -o '\"password\"' \"$VITRINA_ROOT/../../state.json\" 2>/dev/null | wc -l)\"\n\
         echo \"state-abs=$(cat '{data}/state.json' 2>/dev/null | wc -c)\"\n\
         echo \"creds=$(cat '{data}/localcloud-credentials.json' 2>/dev/null | wc -c)\"\n\
         touch \"$VITRINA_ROOT/../{victim}/PROBE_FROM_MALLORY\" 2>/dev/null && echo wrote-rel\n\
         touch '{data}/instances/{victim}/PROBE_FROM_MALLORY' 2>/dev/null && echo wrote-abs\n\
         cat '{data}/instances/{victim}/root/victim-file' 2>/dev/null && echo read-victim\n\
         head -c1 /etc/shadow >/dev/null 2>&1 && echo read-shadow\n\
         ls /work /proc/1/root/work >/dev/null 2>&1 && echo sees-work\n\
         ip link add lc-h1-probe type dummy 2>/dev/null && echo made-link\n\
         nft flush ruleset 2>/dev/null && echo flushed-firewall\n\
         mount -t tmpfs x /mnt 2>/dev/null && echo mounted\n\
         echo 1 > /proc/sys/kernel/domainname 2>/dev/null && echo wrote-sysctl\n\
         echo done\n\
         touch /ready\n",
        data = data.display(),
    );
    let mallory = boot(&tc, "mallory", &ud).await;
    wait_for_file(&tc, &mallory, "ready").await;
    let report = std::fs::read_to_string(
        tc.dir
            .path()
            .join("instances")
            .join(&mallory)
            .join("h1.txt"),
    )
    .expect("report");
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines.first(), Some(&"uid=0"), "{report}");
    for want in ["state=0", "state-abs=0", "creds=0", "done"] {
        assert!(lines.contains(&want), "missing {want}: {report}");
    }
    for bad in [
        "wrote-rel",
        "wrote-abs",
        "read-victim",
        "read-shadow",
        "sees-work",
        "made-link",
        "flushed-firewall",
        "wrote-sysctl",
    ] {
        assert!(!lines.contains(&bad), "the VM could do `{bad}`: {report}");
    }
    // `mount` inside is its own business only where it has a mount namespace of its own; here it
    // has not, so it is refused too.
    assert!(!lines.contains(&"mounted"), "{report}");
    assert!(!tc
        .dir
        .path()
        .join("instances")
        .join(&victim)
        .join("PROBE_FROM_MALLORY")
        .exists());
}

/// An attached volume is the VM's `/dev/vdb`: its bytes, which the VM writes as a disk; they land
/// in the volume (`DATA/volumes/<id>`), owned by the VM's range.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_attached_volume_is_a_disk_inside_the_vm() {
    use base64::Engine as _;
    let tc = cloud(213).await;
    let (s, v) = tc
        .post(
            "/volume/v3/{project}/volumes",
            json!({"volume": {"size": 1, "name": "data"}}),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    let vol = v["volume"]["id"].as_str().expect("volume id").to_owned();
    let start = Instant::now();
    while tc
        .get(&format!("/volume/v3/{{project}}/volumes/{vol}"))
        .await["volume"]["status"]
        != "available"
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "volume not available"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let image = tc.base_image().await;
    let flavor = tc.flavor("Basic-1-2-20").await;
    let ud = "#!/bin/sh\nexec > /vol.txt 2>&1\nwc -c < /dev/vdb\nprintf hello-volume | dd of=/dev/vdb conv=notrunc 2>/dev/null && echo wrote\nls /dev/vdc 2>/dev/null || echo no-vdc\ntouch /ready\n";
    let (s, v) = tc
        .post(
            "/compute/v2.1/servers",
            json!({"server": {"name": "disk-vm", "flavorRef": flavor, "imageRef": image, "networks": "none",
                "user_data": base64::engine::general_purpose::STANDARD.encode(ud),
                "block_device_mapping_v2": [
                    {"boot_index": 0, "uuid": image, "source_type": "image", "destination_type": "local"},
                    {"uuid": vol, "source_type": "volume", "destination_type": "volume", "boot_index": -1}]}}),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    let id = v["server"]["id"].as_str().expect("id").to_owned();
    wait_for_file(&tc, &id, "ready").await;
    let report = std::fs::read_to_string(tc.dir.path().join("instances").join(&id).join("vol.txt"))
        .expect("report");
    assert_eq!(
        report.lines().collect::<Vec<_>>(),
        vec!["1073741824", "wrote", "no-vdc"],
        "{report}"
    );
    let file = tc.dir.path().join("volumes").join(&vol);
    let mut head = [0u8; 12];
    std::io::Read::read_exact(
        &mut std::fs::File::open(&file).expect("the volume's bytes"),
        &mut head,
    )
    .expect("read the volume");
    assert_eq!(&head, b"hello-volume");
    use std::os::unix::fs::MetadataExt as _;
    let owner = std::fs::metadata(&file).expect("volume file").uid();
    assert!(owner >= 1 << 30, "the volume belongs to uid {owner}");
}
