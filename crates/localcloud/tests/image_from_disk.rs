//! Images made from disks with the real python-openstackclient against a started localcloud:
//! `image create --volume` (Cinder's `os-volume_upload_image`) and `server image create` (Nova's
//! `createImage`); `image save` of both gives the disk's bytes.
//!
//! Needs the peers venv (`scripts/peers.sh` creates `.venv-peers`, or set `VITRINA_PEERS_VENV`);
//! without it the test fails and says so.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::TestCloud;
use serde_json::Value;

fn openstack_cli() -> PathBuf {
    let venv = std::env::var_os("VITRINA_PEERS_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv-peers"));
    let bin = venv.join("bin/openstack");
    assert!(bin.exists(), "python-openstackclient is missing at {}: run `scripts/peers.sh` (or set VITRINA_PEERS_VENV to a venv with python-openstackclient)", bin.display());
    bin
}

/// Runs `openstack ARGS` (off the runtime's threads) and returns stdout; fails on a non-zero exit.
async fn os(dir: &Path, args: &[&str]) -> String {
    let mut cmd = tokio::process::Command::new(openstack_cli());
    cmd.args(args)
        .env("OS_CLIENT_CONFIG_FILE", dir.join("clouds.yaml"))
        .env("OS_CLOUD", "localcloud")
        .env_remove("OS_AUTH_URL")
        .current_dir(dir)
        .stdin(std::process::Stdio::null());
    let out = cmd.output().await.expect("run openstack");
    assert!(
        out.status.success(),
        "openstack {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn os_json(dir: &Path, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.extend(["-f", "json"]);
    let text = os(dir, &a).await;
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("openstack {args:?}: {e}: {text}"))
}

/// Polls `openstack KIND show ID` until `status` is `want`.
async fn wait_show(dir: &Path, kind: &str, id: &str, want: &str) -> Value {
    let start = Instant::now();
    loop {
        let v = os_json(dir, &[kind, "show", id]).await;
        if v["status"] == want {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "{kind} {id} never became {want}: {v}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn saved(dir: &Path, image: &str) -> Vec<u8> {
    let file = dir.join(format!("saved-{image}"));
    let f = file.to_str().expect("utf-8 path");
    os(dir, &["image", "save", "--file", f, image]).await;
    std::fs::read(&file).expect("saved image")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_create_from_volume_and_server_gives_the_disks_bytes() {
    let tc = TestCloud::start().await;
    let dir = tc.dir.path().to_path_buf();
    // An image of its own bytes (not the base image's), so the copies are told apart.
    let base_bytes: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let file = dir.join("disk.raw");
    std::fs::write(&file, &base_bytes).expect("write disk.raw");
    let created = os_json(
        &dir,
        &[
            "image",
            "create",
            "--disk-format",
            "raw",
            "--container-format",
            "bare",
            "--file",
            file.to_str().expect("utf-8 path"),
            "disk-source",
        ],
    )
    .await;
    let base = created["id"].as_str().expect("image id").to_owned();
    wait_show(&dir, "image", &base, "active").await;
    assert_eq!(saved(&dir, &base).await, base_bytes);

    // A volume made from the base image holds its bytes; `image create --volume` copies them.
    let vol = os_json(
        &dir,
        &[
            "volume", "create", "--image", &base, "--size", "1", "disk-vol",
        ],
    )
    .await;
    let vol_id = vol["id"].as_str().expect("volume id").to_owned();
    wait_show(&dir, "volume", &vol_id, "available").await;
    let up = os_json(
        &dir,
        &["image", "create", "--volume", &vol_id, "from-volume"],
    )
    .await;
    assert_eq!(up["status"], "uploading", "{up}");
    assert_eq!(up["image_name"], "from-volume", "{up}");
    let img = up["image_id"].as_str().expect("image_id").to_owned();
    let shown = wait_show(&dir, "image", &img, "active").await;
    assert_eq!(shown["disk_format"], "raw", "{shown}");
    wait_show(&dir, "volume", &vol_id, "available").await;
    assert_eq!(saved(&dir, &img).await, base_bytes);

    // A server booted from the image: its root disk is that image's bytes.
    let server = os_json(
        &dir,
        &[
            "server",
            "create",
            "--image",
            &base,
            "--flavor",
            "Basic-1-2-20",
            "--nic",
            "none",
            "--wait",
            "disk-vm",
        ],
    )
    .await;
    let sid = server["id"].as_str().expect("server id").to_owned();
    let snap = os_json(
        &dir,
        &[
            "server",
            "image",
            "create",
            "--name",
            "from-server",
            "--wait",
            &sid,
        ],
    )
    .await;
    let snap_id = snap["id"].as_str().expect("image id").to_owned();
    let shown = wait_show(&dir, "image", &snap_id, "active").await;
    assert_eq!(shown["name"], "from-server");
    let props = shown["properties"].to_string();
    assert!(
        props.contains(&sid) && props.contains("snapshot"),
        "{shown}"
    );
    assert_eq!(saved(&dir, &snap_id).await, base_bytes);
    let s = os_json(&dir, &["server", "show", &sid]).await;
    assert_eq!(s["status"], "ACTIVE", "{s}");
}
