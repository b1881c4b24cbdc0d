//! `cargo bench -p vitrina-cli --bench cloud`: `vitrina cloud` on localcloud (started in this
//! process on 127.0.0.1) —
//!
//! 1. `vm start --image` to a reachable VM (its floating IP answers ping), three times, with
//!    where the time goes (the command's own step timings, process start and authentication,
//!    and the wait for the address to answer);
//! 2. image upload and download of one file (`VITRINA_BENCH_IMAGE_MB`, default 2048) with
//!    `vitrina cloud image upload|download` against `openstack image create --file` /
//!    `openstack image save` in the same run (ratio = CLI time ÷ our time), and the peak RSS of
//!    the `vitrina` process (VmHWM) for each.
//!
//! Needs `ping` (Debian `iputils-ping`) and python-openstackclient in the peers venv
//! (`VITRINA_PEERS_VENV` or `<workspace>/.venv-peers`, made by `scripts/peers.sh`).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use serde_json::Value;

struct Bench {
    data: PathBuf,
    work: PathBuf,
}

impl Bench {
    fn vitrina(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vitrina"));
        cmd.arg("cloud").args(args).current_dir(&self.work);
        self.cloud_env(&mut cmd);
        cmd.stdin(Stdio::null());
        cmd
    }

    fn openstack(&self, args: &[&str]) -> anyhow::Result<Command> {
        let venv = std::env::var_os("VITRINA_PEERS_VENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv-peers"));
        let bin = venv.join("bin/openstack");
        if !bin.exists() {
            bail!("python-openstackclient is missing at {}: run `scripts/peers.sh` (or set VITRINA_PEERS_VENV)", bin.display());
        }
        let mut cmd = Command::new(bin);
        cmd.args(args).current_dir(&self.work);
        self.cloud_env(&mut cmd);
        cmd.stdin(Stdio::null()).stdout(Stdio::null());
        Ok(cmd)
    }

    fn cloud_env(&self, cmd: &mut Command) {
        for (k, _) in std::env::vars() {
            if k.starts_with("OS_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("OS_CLIENT_CONFIG_FILE", self.data.join("clouds.yaml"))
            .env("OS_CLOUD", "localcloud")
            .env("HOME", &self.work);
    }
}

/// Runs `cmd`, sampling its VmHWM; returns (wall time, peak RSS in bytes, stdout).
fn measure(mut cmd: Command) -> anyhow::Result<(Duration, u64, String)> {
    let out_path = std::env::temp_dir().join(format!("vitrina-bench-{}.out", std::process::id()));
    let out = std::fs::File::create(&out_path)?;
    cmd.stdout(out).stderr(Stdio::null());
    let started = Instant::now();
    let mut child = cmd.spawn().context("spawn")?;
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak = 0u64;
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(&status_path) {
            if let Some(kb) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                peak = peak.max(kb * 1024);
            }
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed = started.elapsed();
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let _ = std::fs::remove_file(&out_path);
    if !status.success() {
        bail!("{cmd:?} failed with {status}: {stdout}");
    }
    Ok((elapsed, peak, stdout))
}

fn sync() {
    let _ = Command::new("sync").status();
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let size_mb: u64 = std::env::var("VITRINA_BENCH_IMAGE_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2048);
    if Command::new("ping").arg("-V").output().is_err() {
        bail!("`ping` is missing: apt-get install -y iputils-ping");
    }
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("cloud");
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let cloud = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let cloud =
            vitrina_localcloud::LocalCloud::open(vitrina_localcloud::Config::new(&data, base))
                .await?;
        cloud.write_client_files()?;
        let router = cloud.router();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        anyhow::Ok(cloud)
    })?;
    let result = run(&Bench { data, work }, size_mb);
    vitrina_localcloud::kill_instances(&dir.path().join("cloud/instances"));
    let _ = cloud.shutdown();
    result
}

fn run(b: &Bench, size_mb: u64) -> anyhow::Result<()> {
    // The seed's .env against this cloud; a key pair from a fixed test key.
    let flavors: Value = serde_json::from_str(&measure(b.vitrina(&["flavors", "--json"]))?.2)?;
    let flavor = |name: &str| -> anyhow::Result<String> {
        flavors
            .as_array()
            .and_then(|a| a.iter().find(|f| f["name"] == name))
            .and_then(|f| f["id"].as_str())
            .map(str::to_owned)
            .context("flavor")
    };
    std::fs::write(
        b.work.join(".env"),
        format!(
            "GPU_FLAVOR_ID={}\nSETUP_FLAVOR_ID={}\nDISK_SIZE_GB=1\nEXTERNAL_NETWORK=ext-net\nSSH_KEY_FILE=./id_ed25519.pub\n",
            flavor("GPU-A100-8-64-100")?,
            flavor("Basic-1-2-20")?
        ),
    )?;
    std::fs::write(
        b.work.join("id_ed25519.pub"),
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcH bench\n",
    )?;
    measure(b.vitrina(&["network", "setup"]))?;

    println!(
        "## `vitrina cloud vm start --image vitrina-process-base` to a VM that answers ping\n"
    );
    println!("| run | wall (command) | checks | boot disk | port | floating IP | create request | to ACTIVE | start + auth + output | until ping answers | total to reachable |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for run in 1..=3 {
        let started = Instant::now();
        let (wall, _, out) = measure(b.vitrina(&[
            "vm",
            "start",
            "--image",
            "vitrina-process-base",
            "--name",
            &format!("bench-{run}"),
            "--disk-name",
            &format!("bench-disk-{run}"),
            "--json",
        ]))?;
        let vm: Value = serde_json::from_str(&out)?;
        let address = vm["address"].as_str().context("address")?.to_owned();
        let ping_started = Instant::now();
        let deadline = ping_started + Duration::from_secs(60);
        loop {
            let ok = Command::new("ping")
                .args(["-c", "1", "-W", "1", &address])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()?
                .success();
            if ok {
                break;
            }
            if Instant::now() > deadline {
                bail!("{address} never answered ping");
            }
        }
        let ping = ping_started.elapsed();
        let total = started.elapsed();
        let steps: BTreeMap<String, f64> = vm["timings"]
            .as_array()
            .context("timings")?
            .iter()
            .filter_map(|t| Some((t["step"].as_str()?.to_owned(), t["seconds"].as_f64()?)))
            .collect();
        let step = |k: &str| steps.get(k).copied().unwrap_or(0.0);
        let inside: f64 = steps.values().sum();
        println!(
            "| {run} | {:.2} s | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} s | {:.2} s |",
            wall.as_secs_f64(),
            step("checks"),
            step("boot disk from image"),
            step("port"),
            step("floating IP"),
            step("server create request"),
            step("server to ACTIVE"),
            wall.as_secs_f64() - inside,
            ping.as_secs_f64(),
            total.as_secs_f64()
        );
        measure(b.vitrina(&["vm", "stop", "--name", &format!("bench-{run}")]))?;
        measure(b.vitrina(&["disk", "delete", "--name", &format!("bench-disk-{run}")]))?;
    }

    // --- transfers --------------------------------------------------------------------------
    let file = b.work.join("image.raw");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&file)?);
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut chunk = vec![0u8; 1 << 20];
        for _ in 0..size_mb {
            for word in chunk.chunks_mut(8) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                word.copy_from_slice(&x.to_le_bytes()[..word.len()]);
            }
            f.write_all(&chunk)?;
        }
        f.flush()?;
    }
    let bytes = size_mb << 20;
    let f = file.to_str().context("utf-8 path")?;
    sync();
    let (cli_up, _, _) = measure(b.openstack(&[
        "image",
        "create",
        "--disk-format",
        "raw",
        "--container-format",
        "bare",
        "--file",
        f,
        "cli-upload",
    ])?)?;
    sync();
    let (our_up, our_up_rss, out) =
        measure(b.vitrina(&["image", "upload", "--file", f, "--name", "ours", "--json"]))?;
    let up: Value = serde_json::from_str(&out)?;
    let id = up["id"].as_str().context("id")?.to_owned();
    sync();
    let saved = b.work.join("cli-save.raw");
    let (cli_down, _, _) = measure(b.openstack(&[
        "image",
        "save",
        "--file",
        saved.to_str().context("utf-8")?,
        &id,
    ])?)?;
    std::fs::remove_file(&saved)?;
    sync();
    let (our_down, our_down_rss, _) = measure(b.vitrina(&[
        "image", "download", "--name", "ours", "--output", "dl", "--json",
    ]))?;
    let same = files_equal(&file, &b.work.join("dl/ours.raw"))?;
    if !same {
        bail!("the download differs from the upload");
    }
    println!("\n## image transfer of {size_mb} MiB (verified both ways by vitrina)\n");
    println!(
        "| direction | vitrina cloud | openstack CLI | ratio (CLI ÷ ours) | vitrina peak RSS |"
    );
    println!("|---|---|---|---|---|");
    for (dir, ours, cli, rss) in [
        ("upload", our_up, cli_up, our_up_rss),
        ("download", our_down, cli_down, our_down_rss),
    ] {
        println!(
            "| {dir} | {:.1} s, {:.0} MiB/s | {:.1} s, {:.0} MiB/s | {:.2}× | {:.1} MiB |",
            ours.as_secs_f64(),
            mib(bytes) / ours.as_secs_f64(),
            cli.as_secs_f64(),
            mib(bytes) / cli.as_secs_f64(),
            cli.as_secs_f64() / ours.as_secs_f64(),
            mib(rss)
        );
    }
    if our_up_rss >= 64 << 20 || our_down_rss >= 64 << 20 {
        bail!("peak RSS reached 64 MiB");
    }
    Ok(())
}

fn files_equal(a: &Path, b: &Path) -> anyhow::Result<bool> {
    use std::io::Read as _;
    let (mut fa, mut fb) = (std::fs::File::open(a)?, std::fs::File::open(b)?);
    if fa.metadata()?.len() != fb.metadata()?.len() {
        return Ok(false);
    }
    let (mut ba, mut bb) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let n = fa.read(&mut ba)?;
        if n == 0 {
            return Ok(true);
        }
        fb.read_exact(&mut bb[..n])?;
        if ba[..n] != bb[..n] {
            return Ok(false);
        }
    }
}
