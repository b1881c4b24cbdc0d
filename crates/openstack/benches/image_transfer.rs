//! Image transfer benchmark: our client against `openstack image create --file` and
//! `openstack image save` on the same file, to and from real Glance (from `.venv-peers`) on
//! loopback, in the same run.
//!
//! ```text
//! scripts/peers.sh
//! cargo bench -p vitrina-openstack --bench image_transfer            # 2048 MiB image
//! VITRINA_BENCH_IMAGE_MB=256 cargo bench -p vitrina-openstack --bench image_transfer
//! ```
//!
//! Our transfers run in a child process (this binary re-executed with `--transfer-child`) that
//! reports its own peak resident memory (`VmHWM`), so the figure is the client's alone.

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use vitrina_openstack::config::CloudConfig;
use vitrina_openstack::wire::image::ImageCreate;
use vitrina_openstack::{Client, TransferOptions};

const CHILD_FLAG: &str = "--transfer-child";

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == CHILD_FLAG) {
        return child(&args[at + 1..]);
    }
    let mb: u64 = std::env::var("VITRINA_BENCH_IMAGE_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2048);
    let size = mb * 1024 * 1024;

    eprintln!("starting Keystone and Glance from .venv-peers…");
    let peers = common::Peers::start()?;
    let runtime = tokio::runtime::Runtime::new()?;
    let admin = Client::new(peers.admin_config())?;
    runtime.block_on(peers.register_glance(&admin))?;

    let dir = tempfile::Builder::new()
        .prefix("vitrina-bench-")
        .tempdir()?;
    let source = dir.path().join("image.raw");
    eprintln!("writing a {mb} MiB test image…");
    common::write_pattern_file(&source, size, 42)?;
    let env = peers.cli_env();
    let openstack = peers.venv.join("bin/openstack");

    // The CLI goes first each way, so that our figures never profit from a warmer machine.
    settle();
    eprintln!("uploading with `openstack image create --file`…");
    let started = Instant::now();
    let cli_id = cli(
        &openstack,
        &env,
        &[
            "image",
            "create",
            "--file",
            path_str(&source)?,
            "--disk-format",
            "raw",
            "--container-format",
            "bare",
            "-f",
            "value",
            "-c",
            "id",
            "bench-cli",
        ],
    )?;
    let cli_up = started.elapsed();
    settle();
    eprintln!("uploading with vitrina-openstack…");
    let ours_up = run_child(&env, &["upload", path_str(&source)?, "bench-vitrina"])?;
    let our_id = ours_up
        .image_id
        .clone()
        .context("the child reported no image id")?;

    settle();
    eprintln!("downloading with `openstack image save`…");
    let cli_dest = dir.path().join("cli.raw");
    let started = Instant::now();
    cli(
        &openstack,
        &env,
        &[
            "image",
            "save",
            "--file",
            path_str(&cli_dest)?,
            cli_id.trim(),
        ],
    )?;
    let cli_down = started.elapsed();
    if std::fs::metadata(&cli_dest)?.len() != size {
        bail!("`openstack image save` wrote a file of the wrong size");
    }
    std::fs::remove_file(&cli_dest)?;
    settle();
    eprintln!("downloading with vitrina-openstack…");
    let ours_dest = dir.path().join("ours.raw");
    let ours_down = run_child(&env, &["download", &our_id, path_str(&ours_dest)?])?;
    std::fs::remove_file(&ours_dest)?;

    let rate = |d: Duration| size as f64 / (1024.0 * 1024.0) / d.as_secs_f64().max(1e-9);
    println!("image transfer, {mb} MiB, real Glance on 127.0.0.1 (wsgiref, SQLite, file store)");
    println!("| direction | vitrina-openstack | openstack CLI | ratio | vitrina peak RSS |");
    println!("|---|---|---|---|---|");
    for (name, ours, theirs) in [
        ("upload", &ours_up, cli_up),
        ("download", &ours_down, cli_down),
    ] {
        println!(
            "| {name} | {:.1} s, {:.0} MiB/s | {:.1} s, {:.0} MiB/s | {:.2}× | {:.1} MiB |",
            ours.elapsed.as_secs_f64(),
            rate(ours.elapsed),
            theirs.as_secs_f64(),
            rate(theirs),
            theirs.as_secs_f64() / ours.elapsed.as_secs_f64().max(1e-9),
            ours.peak_rss_kib as f64 / 1024.0,
        );
    }
    runtime.block_on(async {
        admin.authenticate().await?; // a token whose catalog has Glance
        let glance = admin.image();
        glance.delete_image(&our_id).await?;
        glance.delete_image(cli_id.trim()).await
    })?;

    Ok(())
}

/// Flushes dirty pages (the previous step's writes) so that writeback does not land on the
/// next measurement.
fn settle() {
    let _ = Command::new("sync").status();
}

fn path_str(path: &Path) -> anyhow::Result<&str> {
    path.to_str().context("temp path is not UTF-8")
}

struct ChildReport {
    elapsed: Duration,
    peak_rss_kib: u64,
    image_id: Option<String>,
}

/// Runs one transfer in a child process (wall time includes its start and authentication, as
/// the CLI's does).
fn run_child(env: &[(&str, String)], args: &[&str]) -> anyhow::Result<ChildReport> {
    let started = Instant::now();
    let output = Command::new(std::env::current_exe()?)
        .arg(CHILD_FLAG)
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()?;
    let elapsed = started.elapsed();
    if !output.status.success() {
        bail!(
            "transfer child failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut report = ChildReport {
        elapsed,
        peak_rss_kib: 0,
        image_id: None,
    };
    for line in stdout.lines() {
        if let Some(v) = line.strip_prefix("peak_rss_kib=") {
            report.peak_rss_kib = v.trim().parse()?;
        } else if let Some(v) = line.strip_prefix("image_id=") {
            report.image_id = Some(v.trim().to_owned());
        }
    }
    Ok(report)
}

fn cli(openstack: &Path, env: &[(&str, String)], args: &[&str]) -> anyhow::Result<String> {
    let output = Command::new(openstack)
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()?;
    if !output.status.success() {
        bail!(
            "openstack {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The child: `upload FILE NAME` or `download ID DEST`, configured from `OS_*`.
fn child(args: &[String]) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let client = Client::new(CloudConfig::load(None)?)?;
        let glance = client.image();
        match args {
            [op, file, name] if op == "upload" => {
                let create = ImageCreate {
                    name: Some(name.clone()),
                    disk_format: Some("raw".into()),
                    container_format: Some("bare".into()),
                    ..Default::default()
                };
                let (image, _) = glance
                    .create_image_from_file(
                        &create,
                        &PathBuf::from(file),
                        &TransferOptions::default(),
                    )
                    .await?;
                println!("image_id={}", image.id);
            }
            [op, id, dest] if op == "download" => {
                glance
                    .download_to_file(id, &PathBuf::from(dest), &TransferOptions::default())
                    .await?;
            }
            _ => bail!("usage: {CHILD_FLAG} upload FILE NAME | download ID DEST"),
        }
        anyhow::Ok(())
    })?;
    let status = std::fs::read_to_string("/proc/self/status")?;
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .unwrap_or("0");
    println!("peak_rss_kib={hwm}");
    Ok(())
}
