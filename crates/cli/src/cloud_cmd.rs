//! `vitrina cloud …`: everyday VM work on any OpenStack cloud (the `vmops` library). Arguments,
//! settings resolution and output only: tables on a terminal, `--json` for scripts, progress
//! bars for transfers and waits on a terminal, plain lines elsewhere.

use std::collections::BTreeMap;
use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use vitrina_vmops::report::{Chooser, Reporter, Task};
use vitrina_vmops::{Error, Ops, Settings, Sources, StartRequest, StartSource};

use crate::exit::print_error;
use crate::ExitStatus;

#[derive(Debug, Args)]
pub struct CloudArgs {
    #[command(flatten)]
    global: CloudGlobal,
    #[command(subcommand)]
    command: CloudCommand,
}

/// Options every `vitrina cloud` command takes. Each setting is also read from the environment
/// and from the `.env` file under its variable name (`--disk-size-gb` ↔ `DISK_SIZE_GB`).
#[derive(Debug, Args)]
struct CloudGlobal {
    /// Settings file in the `.env` form (default: `./.env` when present)
    #[arg(long, global = true, value_name = "FILE")]
    env: Option<PathBuf>,
    /// Print data as JSON on stdout
    #[arg(long, global = true)]
    json: bool,
    /// The cloud's name in clouds.yaml (default: `OS_CLOUD`)
    #[arg(long, global = true, value_name = "NAME")]
    os_cloud: Option<String>,
    /// `GPU_FLAVOR_ID`: flavor of GPU VMs
    #[arg(long, global = true, value_name = "ID")]
    gpu_flavor_id: Option<String>,
    /// `SETUP_FLAVOR_ID`: flavor of set-up VMs (no GPU)
    #[arg(long, global = true, value_name = "ID")]
    setup_flavor_id: Option<String>,
    /// `DISK_SIZE_GB`: size of a new boot disk (at least the image's `min_disk`)
    #[arg(long, global = true, value_name = "GB")]
    disk_size_gb: Option<String>,
    /// `DISK_TYPE`: volume type of a new boot disk
    #[arg(long, global = true, value_name = "TYPE")]
    disk_type: Option<String>,
    /// `NETWORK_NAME`: the project's network
    #[arg(long, global = true, value_name = "NAME")]
    network_name: Option<String>,
    /// `SUBNET_CIDR`: its subnet
    #[arg(long, global = true, value_name = "CIDR")]
    subnet_cidr: Option<String>,
    /// `EXTERNAL_NETWORK`: where floating IPs come from
    #[arg(long, global = true, value_name = "NAME")]
    external_network: Option<String>,
    /// `ROUTER_NAME`: the router to the external network
    #[arg(long, global = true, value_name = "NAME")]
    router_name: Option<String>,
    /// `ALLOCATE_FLOATING_IP`: `true` or `false`
    #[arg(long, global = true, value_name = "BOOL")]
    allocate_floating_ip: Option<String>,
    /// `SECURITY_GROUP`: the group that gets the SSH and ICMP rules
    #[arg(long, global = true, value_name = "NAME")]
    security_group: Option<String>,
    /// `SSH_KEY_FILE`: the local public key
    #[arg(long, global = true, value_name = "FILE")]
    ssh_key_file: Option<String>,
    /// `SSH_KEY_NAME`: the key pair's name in the cloud
    #[arg(long, global = true, value_name = "NAME")]
    ssh_key_name: Option<String>,
    /// `BASE_IMAGE_NAME`: the image `vm start --setup` uses without `--image`
    #[arg(long, global = true, value_name = "NAME")]
    base_image_name: Option<String>,
    /// `OS_REGION_NAME`
    #[arg(long, global = true, value_name = "NAME")]
    region: Option<String>,
    /// `OS_AVAILABILITY_ZONE`: zone of VMs and disks
    #[arg(long, global = true, value_name = "NAME")]
    availability_zone: Option<String>,
}

#[derive(Debug, Subcommand)]
enum CloudCommand {
    /// Flavors with vCPU, RAM, disk and GPU
    Flavors,
    /// Images
    Images,
    /// Disks (volumes)
    Disks,
    /// VMs (servers)
    Vms,
    /// The network: `info` or `setup`
    #[command(subcommand)]
    Network(NetworkCommand),
    /// An Ansible dynamic inventory (JSON) of the project's VMs
    Inventory {
        /// All hosts and groups (the default)
        #[arg(long)]
        list: bool,
        /// One host's variables
        #[arg(long, value_name = "NAME", conflicts_with = "list")]
        host: Option<String>,
    },
    /// Start or stop a VM
    #[command(subcommand)]
    Vm(VmCommand),
    /// Disks
    #[command(subcommand)]
    Disk(DiskCommand),
    /// Images: from a disk, download, upload, delete
    #[command(subcommand)]
    Image(ImageCommand),
}

#[derive(Debug, Subcommand)]
enum NetworkCommand {
    /// The network, subnet, router, security group and floating IPs
    Info,
    /// Create what is missing: network, subnet, router with the external gateway, SSH + ICMP rules
    Setup,
}

#[derive(Debug, Subcommand)]
enum VmCommand {
    /// Start a VM from a kept disk or from an image (a new boot disk that outlives the VM)
    Start {
        /// Boot from this disk (it must be `available`)
        #[arg(long, value_name = "NAME", conflicts_with = "image", required_unless_present_any = ["image", "setup"])]
        disk: Option<String>,
        /// Boot from a new disk made from this image
        #[arg(long, value_name = "NAME")]
        image: Option<String>,
        /// The VM's name (default `gpu-vm-YYYYMMDD-HHMMSS`)
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        /// Use the setup flavor (no GPU); without `--image`, `BASE_IMAGE_NAME` or a choice
        #[arg(long)]
        setup: bool,
        /// Name of the new boot disk (default `gpu-disk`, with `--setup` `setup-disk`)
        #[arg(long, value_name = "NAME", conflicts_with = "disk")]
        disk_name: Option<String>,
    },
    /// Delete a VM and its floating IP; its disk is kept
    Stop {
        /// The VM (without it, choose on a terminal)
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum DiskCommand {
    /// Delete the one disk of this name (refused while attached)
    Delete {
        #[arg(long, value_name = "NAME")]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
enum ImageCommand {
    /// Make an image from a disk and wait for it by its ID
    CreateFromDisk {
        #[arg(long, value_name = "NAME")]
        disk: String,
        #[arg(long, value_name = "NAME")]
        name: String,
    },
    /// Download an image into a folder as NAME.FORMAT (resumes an interrupted download)
    Download {
        #[arg(long, value_name = "NAME")]
        name: String,
        #[arg(long, value_name = "DIR")]
        output: PathBuf,
        /// Overwrite the file if it exists
        #[arg(long)]
        force: bool,
    },
    /// Upload a file as an image
    Upload {
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
        #[arg(long, value_name = "NAME")]
        name: String,
        /// Replace images of this name (after the new one is uploaded and checked)
        #[arg(long)]
        force: bool,
    },
    /// Delete the one image of this name
    Delete {
        #[arg(long, value_name = "NAME")]
        name: String,
    },
}

pub fn run(args: CloudArgs) -> ExitStatus {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            print_error(&e);
            return ExitStatus::Usage;
        }
    };
    let json = args.global.json;
    match rt.block_on(run_async(args)) {
        Ok(()) => ExitStatus::Success,
        Err(e) => {
            if json {
                let body = serde_json::json!({"ok": false, "error": chain(&e)});
                println!("{body}");
            }
            match &e {
                Error::EnvSyntax {
                    path,
                    line,
                    column,
                    message,
                } => print_env_diagnostic(path, *line, *column, message),
                _ => print_error(&e),
            }
            if e.is_usage_or_io() {
                ExitStatus::Usage
            } else {
                ExitStatus::Failure
            }
        }
    }
}

/// `FILE:LINE:COL: error: MESSAGE`, the line and a caret under the column.
fn print_env_diagnostic(path: &Path, line: usize, column: usize, message: &str) {
    eprintln!("{}:{line}:{column}: error: {message}", path.display());
    let text = std::fs::read_to_string(path).unwrap_or_default();
    if let Some(source) = text.lines().nth(line.saturating_sub(1)) {
        let width = line.to_string().len();
        eprintln!("{:width$} |", "");
        eprintln!("{line} | {source}");
        let pad: String = source
            .chars()
            .take(column.saturating_sub(1))
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        eprintln!("{:width$} | {pad}^", "");
    }
}

fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(c) = source {
        out.push_str(": ");
        out.push_str(&c.to_string());
        source = c.source();
    }
    out
}

/// Flags, environment and `.env` file merged.
fn sources(g: &CloudGlobal) -> Result<Sources, Error> {
    let mut flags = BTreeMap::new();
    let pairs: [(&str, &Option<String>); 15] = [
        ("GPU_FLAVOR_ID", &g.gpu_flavor_id),
        ("SETUP_FLAVOR_ID", &g.setup_flavor_id),
        ("DISK_SIZE_GB", &g.disk_size_gb),
        ("DISK_TYPE", &g.disk_type),
        ("NETWORK_NAME", &g.network_name),
        ("SUBNET_CIDR", &g.subnet_cidr),
        ("EXTERNAL_NETWORK", &g.external_network),
        ("ROUTER_NAME", &g.router_name),
        ("ALLOCATE_FLOATING_IP", &g.allocate_floating_ip),
        ("SECURITY_GROUP", &g.security_group),
        ("SSH_KEY_FILE", &g.ssh_key_file),
        ("SSH_KEY_NAME", &g.ssh_key_name),
        ("BASE_IMAGE_NAME", &g.base_image_name),
        ("OS_REGION_NAME", &g.region),
        ("OS_AVAILABILITY_ZONE", &g.availability_zone),
    ];
    for (k, v) in pairs {
        if let Some(v) = v {
            flags.insert(k.to_owned(), v.clone());
        }
    }
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let file = match &g.env {
        Some(path) => vitrina_vmops::read_env_file(path)?,
        None => {
            let default = Path::new(".env");
            if default.is_file() {
                vitrina_vmops::read_env_file(default)?
            } else {
                BTreeMap::new()
            }
        }
    };
    let home = env.get("HOME").map(PathBuf::from);
    Ok(Sources {
        flags,
        env,
        file,
        home,
    })
}

async fn run_async(args: CloudArgs) -> Result<(), Error> {
    let g = &args.global;
    let sources = sources(g)?;
    let settings = Settings::resolve(&sources)?;
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let source = vitrina_vmops::settings::cloud_source(&sources, &cwd);
    let mut config = vitrina_openstack::CloudConfig::load_from(&source, g.os_cloud.as_deref())
        .map_err(Error::cloud("reading the cloud configuration"))?;
    if let Some(region) = &settings.region {
        config.region_name = Some(region.clone());
    }
    let client =
        vitrina_openstack::Client::new(config).map_err(Error::cloud("setting up the client"))?;
    let ops = Ops::new(
        client,
        settings,
        Arc::new(Printer::new()),
        Arc::new(TerminalChooser),
    );
    let json = g.json;
    match args.command {
        CloudCommand::Flavors => {
            let rows = ops.flavors().await?;
            emit(json, &rows, || {
                table(
                    &["ID", "NAME", "VCPU", "RAM GB", "DISK GB", "GPU"],
                    rows.iter()
                        .map(|r| {
                            vec![
                                r.id.clone(),
                                r.name.clone(),
                                r.vcpus.to_string(),
                                format!("{}", r.ram_mb as f64 / 1024.0),
                                r.disk_gb.to_string(),
                                r.gpu.clone().unwrap_or_else(|| "-".into()),
                            ]
                        })
                        .collect(),
                )
            })
        }
        CloudCommand::Images => {
            let rows = ops.images().await?;
            emit(json, &rows, || {
                table(
                    &["NAME", "ID", "STATUS", "SIZE", "MIN DISK GB", "FORMAT"],
                    rows.iter()
                        .map(|r| {
                            vec![
                                r.name.clone(),
                                r.id.clone(),
                                r.status.clone(),
                                r.size.map(human_bytes).unwrap_or_else(|| "-".into()),
                                r.min_disk_gb.to_string(),
                                r.disk_format.clone().unwrap_or_else(|| "-".into()),
                            ]
                        })
                        .collect(),
                )
            })
        }
        CloudCommand::Disks => {
            let rows = ops.disks().await?;
            emit(json, &rows, || {
                table(
                    &["NAME", "ID", "STATUS", "SIZE GB", "TYPE", "ATTACHED TO"],
                    rows.iter()
                        .map(|r| {
                            vec![
                                r.name.clone(),
                                r.id.clone(),
                                r.status.clone(),
                                r.size_gb.to_string(),
                                r.volume_type.clone().unwrap_or_else(|| "-".into()),
                                if r.attached_to.is_empty() {
                                    "-".into()
                                } else {
                                    r.attached_to.join(", ")
                                },
                            ]
                        })
                        .collect(),
                )
            })
        }
        CloudCommand::Vms => {
            let rows = ops.vms().await?;
            emit(json, &rows, || {
                table(
                    &["NAME", "ID", "STATUS", "FLAVOR", "FIXED", "FLOATING"],
                    rows.iter()
                        .map(|r| {
                            vec![
                                r.name.clone(),
                                r.id.clone(),
                                r.status.clone(),
                                r.flavor.clone(),
                                r.fixed_addresses.join(", "),
                                r.floating_addresses.join(", "),
                            ]
                        })
                        .collect(),
                )
            })
        }
        CloudCommand::Network(NetworkCommand::Info) => {
            let info = ops.network_info().await?;
            emit(json, &info, || {
                let mut out = String::new();
                let named = |n: &Option<vitrina_vmops::NamedId>| {
                    n.as_ref()
                        .map(|n| format!("{} ({})", n.name, n.id))
                        .unwrap_or_else(|| "(none)".into())
                };
                out.push_str(&format!("network:          {}\n", named(&info.network)));
                for s in &info.subnets {
                    out.push_str(&format!(
                        "subnet:           {} {} gateway {}\n",
                        s.name,
                        s.cidr,
                        s.gateway_ip.as_deref().unwrap_or("-")
                    ));
                }
                match &info.router {
                    Some(r) => out.push_str(&format!(
                        "router:           {} ({}) gateway {}\n",
                        r.name,
                        r.id,
                        r.external_gateway.as_deref().unwrap_or("(none)")
                    )),
                    None => out.push_str("router:           (none)\n"),
                }
                out.push_str(&format!(
                    "external network: {}\n",
                    named(&info.external_network)
                ));
                match &info.security_group {
                    Some(g) => {
                        out.push_str(&format!("security group:   {} ({})\n", g.name, g.id));
                        for r in &g.rules {
                            out.push_str(&format!("  rule:           {r}\n"));
                        }
                    }
                    None => out.push_str("security group:   (none)\n"),
                }
                for f in &info.floating_ips {
                    out.push_str(&format!(
                        "floating IP:      {} → {} ({})\n",
                        f.address,
                        f.fixed_address.as_deref().unwrap_or("-"),
                        f.status
                    ));
                }
                out
            })
        }
        CloudCommand::Network(NetworkCommand::Setup) => {
            let report = ops.network_setup().await?;
            emit(json, &report, || {
                let mut out = table(
                    &["KIND", "NAME", "ACTION"],
                    report
                        .actions
                        .iter()
                        .map(|a| vec![a.kind.clone(), a.name.clone(), a.action.clone()])
                        .collect(),
                );
                if report.unchanged() {
                    out.push_str("nothing to change\n");
                }
                out
            })
        }
        CloudCommand::Inventory { list: _, host } => {
            let doc = match host {
                Some(h) => ops.inventory_host(&h).await?,
                None => ops.inventory().await?,
            };
            // Ansible reads this from stdout whatever the terminal: always JSON.
            println!(
                "{}",
                serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".into())
            );
            Ok(())
        }
        CloudCommand::Vm(VmCommand::Start {
            disk,
            image,
            name,
            setup,
            disk_name,
        }) => {
            let source = match disk {
                Some(d) => StartSource::Disk(d),
                None => StartSource::Image(image),
            };
            let vm = ops
                .vm_start(&StartRequest {
                    source,
                    name,
                    setup,
                    disk_name,
                })
                .await?;
            emit(json, &vm, || {
                format!("VM created: {}\nIP: {}\n", vm.name, vm.address)
            })
        }
        CloudCommand::Vm(VmCommand::Stop { name }) => {
            let stopped = ops.vm_stop(name.as_deref()).await?;
            emit(json, &stopped, || {
                let mut out = format!("VM deleted: {}\n", stopped.name);
                for f in &stopped.released_floating_ips {
                    out.push_str(&format!("floating IP released: {f}\n"));
                }
                for d in &stopped.kept_disks {
                    out.push_str(&format!("disk kept: {d}\n"));
                }
                out
            })
        }
        CloudCommand::Disk(DiskCommand::Delete { name }) => {
            let id = ops.disk_delete(&name).await?;
            emit(
                json,
                &serde_json::json!({"deleted": {"disk": name, "id": id}}),
                || format!("disk deleted: {name} ({id})\n"),
            )
        }
        CloudCommand::Image(ImageCommand::CreateFromDisk { disk, name }) => {
            let made = ops.image_create_from_disk(&disk, &name).await?;
            emit(json, &made, || {
                format!(
                    "image created: {} ({}) from disk {}\n",
                    made.name, made.id, made.disk
                )
            })
        }
        CloudCommand::Image(ImageCommand::Download {
            name,
            output,
            force,
        }) => {
            let report = ops.image_download(&name, &output, force).await?;
            emit(json, &report, || {
                let mut out = format!(
                    "downloaded: {} ({} in {:.1}s)\n",
                    report.path.display(),
                    human_bytes(report.size),
                    report.seconds
                );
                if report.resumed_from > 0 {
                    out.push_str(&format!("resumed from byte {}\n", report.resumed_from));
                }
                if let Some(md5) = &report.md5 {
                    out.push_str(&format!("md5: {md5} (matches the cloud)\n"));
                }
                out
            })
        }
        CloudCommand::Image(ImageCommand::Upload { file, name, force }) => {
            let report = ops.image_upload(&file, &name, force).await?;
            emit(json, &report, || {
                let mut out = format!(
                    "uploaded: {} as {} ({}, {} in {:.1}s)\n",
                    report.path.display(),
                    report.name,
                    report.id,
                    human_bytes(report.size),
                    report.seconds
                );
                for old in &report.replaced {
                    out.push_str(&format!("replaced image {old}\n"));
                }
                out
            })
        }
        CloudCommand::Image(ImageCommand::Delete { name }) => {
            let id = ops.image_delete(&name).await?;
            emit(
                json,
                &serde_json::json!({"deleted": {"image": name, "id": id}}),
                || format!("image deleted: {name} ({id})\n"),
            )
        }
    }
}

/// JSON on stdout with `--json`, else the text.
fn emit<T: Serialize>(json: bool, value: &T, text: impl FnOnce() -> String) -> Result<(), Error> {
    let out = if json {
        let mut s = serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".into());
        s.push('\n');
        s
    } else {
        text()
    };
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`| head`) is not an error of the command.
    let _ = stdout.write_all(out.as_bytes());
    Ok(())
}

/// Columns padded to their widest cell.
fn table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            let w = widths.get(i).copied().unwrap_or(0);
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  "));
            }
        }
        s.trim_end().to_owned() + "\n"
    };
    let mut out = line(headers.iter().map(|h| (*h).to_owned()).collect());
    for row in rows {
        out.push_str(&line(row));
    }
    out
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS.get(unit).copied().unwrap_or("B"))
    }
}

/// Progress on stderr: bars and spinners on a terminal, plain lines elsewhere.
struct Printer {
    terminal: bool,
}

impl Printer {
    fn new() -> Printer {
        Printer {
            terminal: std::io::stderr().is_terminal(),
        }
    }
}

impl Reporter for Printer {
    fn step(&self, message: &str) {
        eprintln!("{message}");
    }

    fn task(&self, label: &str, total: Option<u64>) -> Arc<dyn Task> {
        if self.terminal {
            let bar = match total {
                Some(t) => {
                    let bar = ProgressBar::new(t);
                    if let Ok(style) = ProgressStyle::with_template(
                        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                    ) {
                        bar.set_style(style.progress_chars("=> "));
                    }
                    bar
                }
                None => {
                    let bar = ProgressBar::new_spinner();
                    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} {elapsed}") {
                        bar.set_style(style);
                    }
                    bar.enable_steady_tick(Duration::from_millis(120));
                    bar
                }
            };
            bar.set_message(label.to_owned());
            Arc::new(BarTask {
                bar,
                label: label.to_owned(),
            })
        } else {
            eprintln!("{label}: started");
            Arc::new(LineTask {
                label: label.to_owned(),
                started: Instant::now(),
                state: Mutex::new(LineState {
                    last_print: Instant::now(),
                    last_status: String::new(),
                    last_percent: 0,
                }),
            })
        }
    }
}

struct BarTask {
    bar: ProgressBar,
    label: String,
}

impl Task for BarTask {
    fn progress(&self, done: u64, total: Option<u64>) {
        if let Some(t) = total {
            self.bar.set_length(t);
        }
        self.bar.set_position(done);
    }
    fn status(&self, status: &str) {
        self.bar.set_message(format!("{}: {status}", self.label));
    }
    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

struct LineState {
    last_print: Instant,
    last_status: String,
    last_percent: u64,
}

/// Plain lines: on each status change, each 10 % of a transfer, or every 10 s.
struct LineTask {
    label: String,
    started: Instant,
    state: Mutex<LineState>,
}

impl Task for LineTask {
    fn progress(&self, done: u64, total: Option<u64>) {
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        let percent = total
            .filter(|t| *t > 0)
            .map(|t| done.saturating_mul(100) / t)
            .unwrap_or(0);
        if percent >= st.last_percent + 10 || st.last_print.elapsed() >= Duration::from_secs(10) {
            st.last_percent = percent - percent % 10;
            st.last_print = Instant::now();
            match total {
                Some(t) => eprintln!("{}: {percent}% ({done}/{t} bytes)", self.label),
                None => eprintln!("{}: {done} bytes", self.label),
            }
        }
    }
    fn status(&self, status: &str) {
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        if st.last_status != status || st.last_print.elapsed() >= Duration::from_secs(10) {
            eprintln!(
                "{}: {status} ({}s)",
                self.label,
                self.started.elapsed().as_secs()
            );
            st.last_status = status.to_owned();
            st.last_print = Instant::now();
        }
    }
    fn finish(&self) {
        eprintln!(
            "{}: done in {:.1}s",
            self.label,
            self.started.elapsed().as_secs_f64()
        );
    }
}

/// Asks on the terminal (stdin and stderr both terminals); refuses otherwise.
struct TerminalChooser;

impl Chooser for TerminalChooser {
    fn choose(&self, prompt: &str, options: &[String]) -> Result<Option<usize>, ()> {
        if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
            return Err(());
        }
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{prompt}:");
        for (i, o) in options.iter().enumerate() {
            let _ = writeln!(err, "  {}) {o}", i + 1);
        }
        let _ = write!(err, "number (empty to cancel): ");
        let _ = err.flush();
        drop(err);
        let mut line = String::new();
        if std::io::stdin().lock().read_line(&mut line).is_err() {
            return Ok(None);
        }
        Ok(line
            .trim()
            .parse::<usize>()
            .ok()
            .and_then(|n| n.checked_sub(1))
            .filter(|i| *i < options.len()))
    }
}
