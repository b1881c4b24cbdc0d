//! Image transfer benchmark: our client against `openstack image create --file` and
//! `openstack image save` on the same file, to and from real Glance (from `.venv-peers`) on
//! loopback, in the same run, with `curl` as a third baseline: raw HTTP from C with no hashing,
//! the most the server can take or give on one stream. Each client's CPU time is reported too
//! (getrusage of the waited-for children), since on one machine client and server share the CPU.
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
    // curl is the ceiling: raw HTTP from a C program that neither hashes nor parses. Its token
    // goes in a header file (mode 0600), never on a command line.
    let token = runtime.block_on(admin.authenticate())?;
    let headers = dir.path().join("curl-headers");
    write_private(
        &headers,
        &format!(
            "X-Auth-Token: {}\nExpect:\nContent-Type: application/octet-stream\n",
            token.token.expose()
        ),
    )?;
    let headers_arg = format!("@{}", path_str(&headers)?);
    let file_url = |id: &str| format!("{}/v2/images/{id}/file", peers.glance_root);
    let mut created = Vec::new();

    // Each way the baselines go first, so that our figures never profit from a warmer machine.
    settle();
    eprintln!("uploading with `openstack image create --file`…");
    let (cli_id, cli_up) = measured(|| {
        cli(
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
        )
    })?;
    let cli_id = cli_id.trim().to_owned();
    created.push(cli_id.clone());

    let curl_id = runtime
        .block_on(admin.image().create_image(&ImageCreate {
            name: Some("bench-curl".into()),
            disk_format: Some("raw".into()),
            container_format: Some("bare".into()),
            ..Default::default()
        }))?
        .id;
    created.push(curl_id.clone());
    settle();
    eprintln!("uploading with curl…");
    let ((), curl_up) = measured(|| {
        curl(&[
            "-X",
            "PUT",
            "-T",
            path_str(&source)?,
            "-H",
            &headers_arg,
            &file_url(&curl_id),
        ])
    })?;

    settle();
    eprintln!("uploading with vitrina-openstack, unverified as the CLI does…");
    let (plain_up, plain_up_t) = measured(|| {
        run_child(
            &env,
            &["upload", path_str(&source)?, "bench-vitrina-plain", "plain"],
        )
    })?;
    created.extend(plain_up.image_id.clone());

    settle();
    eprintln!("uploading with vitrina-openstack, verified (MD5 + SHA-512)…");
    let (ours_up, ours_up_t) = measured(|| {
        run_child(
            &env,
            &["upload", path_str(&source)?, "bench-vitrina", "verify"],
        )
    })?;
    let our_id = ours_up
        .image_id
        .clone()
        .context("the child reported no image id")?;
    created.push(our_id.clone());

    settle();
    eprintln!("downloading with `openstack image save`…");
    let dest = dir.path().join("copy.raw");
    let (_, cli_down) = measured(|| {
        cli(
            &openstack,
            &env,
            &["image", "save", "--file", path_str(&dest)?, &cli_id],
        )
    })?;
    check_size(&dest, size, "`openstack image save`")?;
    std::fs::remove_file(&dest)?;

    settle();
    eprintln!("downloading with curl…");
    let ((), curl_down) = measured(|| {
        curl(&[
            "-o",
            path_str(&dest)?,
            "-H",
            &headers_arg,
            &file_url(&our_id),
        ])
    })?;
    check_size(&dest, size, "curl")?;
    std::fs::remove_file(&dest)?;

    settle();
    eprintln!("downloading with vitrina-openstack…");
    let (ours_down, ours_down_t) =
        measured(|| run_child(&env, &["download", &our_id, path_str(&dest)?, "verify"]))?;
    check_size(&dest, size, "vitrina-openstack")?;
    std::fs::remove_file(&dest)?;

    let rate = |t: &Timing| size as f64 / (1024.0 * 1024.0) / t.wall.as_secs_f64().max(1e-9);
    let ratio =
        |base: &Timing, ours: &Timing| base.wall.as_secs_f64() / ours.wall.as_secs_f64().max(1e-9);
    println!(
        "image transfer, {mb} MiB, real Glance on 127.0.0.1 (wsgiref, SQLite, file store); \
         throughput ratios are baseline time ÷ our time"
    );
    println!(
        "| direction | vitrina-openstack | openstack CLI | curl (raw HTTP) | ÷ CLI | ÷ curl \
         | client CPU s: vitrina / CLI / curl | vitrina peak RSS |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (name, ours, report, cli_t, curl_t) in [
        (
            "upload, unverified",
            &plain_up_t,
            &plain_up,
            &cli_up,
            &curl_up,
        ),
        ("upload, verified", &ours_up_t, &ours_up, &cli_up, &curl_up),
        (
            "download, verified",
            &ours_down_t,
            &ours_down,
            &cli_down,
            &curl_down,
        ),
    ] {
        println!(
            "| {name} | {:.1} s, {:.0} MiB/s | {:.1} s, {:.0} MiB/s | {:.1} s, {:.0} MiB/s \
             | {:.2}× | {:.2}× | {:.1} / {:.1} / {:.1} | {:.1} MiB |",
            ours.wall.as_secs_f64(),
            rate(ours),
            cli_t.wall.as_secs_f64(),
            rate(cli_t),
            curl_t.wall.as_secs_f64(),
            rate(curl_t),
            ratio(cli_t, ours),
            ratio(curl_t, ours),
            ours.cpu.as_secs_f64(),
            cli_t.cpu.as_secs_f64(),
            curl_t.cpu.as_secs_f64(),
            report.peak_rss_kib as f64 / 1024.0,
        );
    }
    runtime.block_on(async {
        admin.authenticate().await?; // a token whose catalog has Glance
        let glance = admin.image();
        for id in &created {
            glance.delete_image(id).await?;
        }
        anyhow::Ok(())
    })?;

    Ok(())
}

/// Wall time and the CPU time (user + system) of the child processes that ran meanwhile.
struct Timing {
    wall: Duration,
    cpu: Duration,
}

fn measured<T>(f: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<(T, Timing)> {
    let cpu_before = children_cpu()?;
    let started = Instant::now();
    let value = f()?;
    let wall = started.elapsed();
    let cpu = children_cpu()?.saturating_sub(cpu_before);
    Ok((value, Timing { wall, cpu }))
}

/// CPU time of all waited-for children so far.
fn children_cpu() -> anyhow::Result<Duration> {
    use nix::sys::resource::{getrusage, UsageWho};
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN)?;
    let as_duration = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(t.tv_sec().max(0) as u64)
            + Duration::from_micros(t.tv_usec().max(0) as u64)
    };
    Ok(as_duration(usage.user_time()) + as_duration(usage.system_time()))
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    Ok(())
}

fn check_size(path: &Path, size: u64, who: &str) -> anyhow::Result<()> {
    let got = std::fs::metadata(path)?.len();
    if got != size {
        bail!("{who} wrote {got} bytes instead of {size}");
    }
    Ok(())
}

fn curl(args: &[&str]) -> anyhow::Result<()> {
    let output = Command::new("curl")
        .args(["-sS", "-f"])
        .args(args)
        .output()
        .context("cannot run curl (install it with `apt-get install curl`)")?;
    if !output.status.success() {
        bail!("curl failed: {}", String::from_utf8_lossy(&output.stderr));
    }
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
    peak_rss_kib: u64,
    image_id: Option<String>,
}

/// Runs one transfer in a child process (its wall time, measured around this call, includes its
/// start and authentication, as the CLI's does).
fn run_child(env: &[(&str, String)], args: &[&str]) -> anyhow::Result<ChildReport> {
    let output = Command::new(std::env::current_exe()?)
        .arg(CHILD_FLAG)
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()?;
    if !output.status.success() {
        bail!(
            "transfer child failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut report = ChildReport {
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

/// The child: `upload FILE NAME verify|plain` or `download ID DEST verify|plain`, configured
/// from `OS_*`.
fn child(args: &[String]) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let client = Client::new(CloudConfig::load(None)?)?;
        let glance = client.image();
        let options = TransferOptions {
            verify: args.last().map(String::as_str) == Some("verify"),
            ..Default::default()
        };
        match args {
            [op, file, name, _] if op == "upload" => {
                let create = ImageCreate {
                    name: Some(name.clone()),
                    disk_format: Some("raw".into()),
                    container_format: Some("bare".into()),
                    ..Default::default()
                };
                let (image, _) = glance
                    .create_image_from_file(&create, &PathBuf::from(file), &options)
                    .await?;
                println!("image_id={}", image.id);
            }
            [op, id, dest, _] if op == "download" => {
                glance
                    .download_to_file(id, &PathBuf::from(dest), &options)
                    .await?;
            }
            _ => bail!(
                "usage: {CHILD_FLAG} upload FILE NAME verify|plain | download ID DEST verify|plain"
            ),
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
