//! Benchmark of `vitrina package validate` (issue 2), with every timing reported as a ratio to a
//! baseline measured in the same run:
//!
//! 1. A generated package folder with 20 plans, 200 options and a 2,000-line manifest per plan:
//!    the time of `read_package` + `validate` against the time to just read its files from disk.
//!    Target: under 50 ms.
//! 2. A ~30 MB zip of that package plus incompressible files: peak resident memory (`VmHWM`) of a
//!    child process that validates it, against a child that only reads every entry of the archive
//!    through the same zip library, and against an idle child. Target: under 100 MB.
//!
//! Run: `cargo bench -p vitrina-package --bench validate`. Child mode (used by the bench itself):
//! `validate-bench --child validate|unzip|idle PATH`.

use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const PLANS: usize = 20;
const OPTIONS: usize = 200;
const MANIFEST_LINES: usize = 2_000;
const TARGET_ZIP_BYTES: u64 = 30 * 1024 * 1024 - 512 * 1024;
const RUNS: usize = 15;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        let (Some(mode), Some(path)) = (args.get(i + 1), args.get(i + 2)) else {
            eprintln!("usage: --child validate|unzip|idle PATH");
            std::process::exit(2);
        };
        child(mode, Path::new(path));
        return;
    }
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing else we need.
    let dir = tempfile::tempdir().expect("a temporary folder");
    let root = dir.path().join("bench_pkg");
    let manifest_lines = generate_package(&root);

    println!("package: {PLANS} plans, {OPTIONS} options, {manifest_lines} manifest lines per plan");
    let check = vitrina_package::validate_path(&root).expect("the generated package reads");
    let errors: Vec<String> = check
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| format!("{d:?}"))
        .take(5)
        .collect();
    assert!(
        errors.is_empty(),
        "the generated package must be valid: {errors:#?}"
    );
    println!(
        "diagnostics on the generated package: {}",
        check.diagnostics.len()
    );

    // 1. Folder: validate vs read.
    let read = median(RUNS, || {
        std::hint::black_box(read_tree(&root));
    });
    let cpu_before = cpu_ticks();
    let validate = median(RUNS, || {
        let v = vitrina_package::validate_path(&root).expect("reads");
        std::hint::black_box(v);
    });
    // CPU time is not inflated by other processes on a busy machine, unlike wall time.
    let cpu_ms = cpu_ticks()
        .zip(cpu_before)
        .map(|(after, before)| (after - before) as f64 * 10.0 / (RUNS + 1) as f64);
    println!(
        "folder  read files (baseline): {:>8.2} ms | read_package + validate: {:>8.2} ms | ratio {:>6.1}x | target < 50 ms: {}",
        ms(read),
        ms(validate),
        validate.as_secs_f64() / read.as_secs_f64(),
        if validate < Duration::from_millis(50) { "met" } else { "MISSED" }
    );
    if let Some(cpu) = cpu_ms {
        println!(
            "folder  read_package + validate CPU time: {cpu:>8.2} ms per run (mean of {} runs, 10 ms ticks)",
            RUNS + 1
        );
    }

    // 2. Zip: time and peak memory, each in a fresh child process.
    let zip = dir.path().join("bench_pkg.zip");
    let zip_bytes = write_zip(&root, &zip);
    println!("zip: {:.1} MB", zip_bytes as f64 / 1e6);
    let exe = std::env::current_exe().expect("the bench's own path");
    let idle = run_child(&exe, "idle", &zip);
    let unzip = run_child(&exe, "unzip", &zip);
    let valid = run_child(&exe, "validate", &zip);
    println!(
        "zip     idle process: {:>6.1} MB | unzip every entry (baseline): {:>6.1} MB in {:>7.1} ms | read + validate: {:>6.1} MB in {:>7.1} ms",
        mb(idle.0),
        mb(unzip.0),
        ms(unzip.1),
        mb(valid.0),
        ms(valid.1)
    );
    println!(
        "zip     peak memory ratio validate/unzip: {:.2}x | time ratio: {:.2}x | target < 100 MB: {}",
        valid.0 as f64 / unzip.0.max(1) as f64,
        valid.1.as_secs_f64() / unzip.1.as_secs_f64().max(1e-9),
        if valid.0 < 100 * 1024 * 1024 { "met" } else { "MISSED" }
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    f(); // warm the page cache and the allocator
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

/// This process's user + system CPU time in clock ticks (1/100 s on Linux), from
/// `/proc/self/stat`; `None` where that file does not exist.
fn cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// The baseline: every file's bytes, as a plain directory walk.
fn read_tree(dir: &Path) -> usize {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            total += read_tree(&path);
        } else {
            total += std::fs::read(&path).expect("read").len();
        }
    }
    total
}

/// Runs this binary as `--child MODE ZIP` and returns (peak RSS bytes, time it reported).
fn run_child(exe: &Path, mode: &str, zip: &Path) -> (u64, Duration) {
    let out = Command::new(exe)
        .args(["--child", mode])
        .arg(zip)
        .output()
        .expect("the child starts");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child {mode} failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut hwm = None;
    let mut micros = None;
    for word in stdout.split_whitespace() {
        if let Some(v) = word.strip_prefix("hwm_kb=") {
            hwm = v.parse::<u64>().ok();
        } else if let Some(v) = word.strip_prefix("micros=") {
            micros = v.parse::<u64>().ok();
        }
    }
    let (Some(hwm), Some(micros)) = (hwm, micros) else {
        panic!("child {mode} printed no figures: {stdout}");
    };
    (hwm * 1024, Duration::from_micros(micros))
}

fn child(mode: &str, path: &Path) {
    let t = Instant::now();
    match mode {
        "validate" => {
            let v = vitrina_package::validate_path(path).expect("the zip reads");
            let errors = v.diagnostics.iter().filter(|d| d.is_error()).count();
            assert_eq!(errors, 0, "the benchmark zip must be valid");
        }
        "unzip" => {
            let file = std::fs::File::open(path).expect("open zip");
            let mut archive = zip::ZipArchive::new(std::io::BufReader::new(file)).expect("a zip");
            let mut buf = Vec::new();
            for i in 0..archive.len() {
                let mut entry = archive.by_index(i).expect("an entry");
                buf.clear();
                entry.read_to_end(&mut buf).expect("entry bytes");
                std::hint::black_box(&buf);
            }
        }
        "idle" => {}
        other => panic!("unknown child mode {other}"),
    }
    let micros = t.elapsed().as_micros();
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0);
    println!("hwm_kb={hwm} micros={micros}");
}

// ---------------------------------------------------------------------------------------------
// The generated package

fn write(root: &Path, rel: &str, text: impl AsRef<[u8]>) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    std::fs::write(&path, text).expect("write");
}

/// A deterministic UUID version 4 from a counter.
fn uuid4(n: u64) -> String {
    let x = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    let h = format!("{x:016x}{:016x}", x.rotate_left(17) ^ n);
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

/// The kind of option `i` is, cycling through the common kinds.
fn option_kind(i: usize) -> usize {
    i % 5
}

fn option_name(i: usize) -> String {
    format!("opt_{i:03}")
}

/// Writes the package and returns the manifest's line count.
fn generate_package(root: &Path) -> usize {
    write(root, "version.yaml", "version: 1.0.0\n");
    let mut service = format!(
        "id: {}\nrevision: \"1\"\nname: Bench\nshort_description: Generated for the validate benchmark\n\
         singleton: false\nauto_bind: true\nicon: icon.png\nhelp: https://example.com/bench\n\
         bindable: true\nplan_updateable: false\ndeactivatable: false\nbindings_retrievable: true\n\
         instances_retrievable: true\n\nplans:\n",
        uuid4(1)
    );
    for p in 0..PLANS {
        let _ = writeln!(service, "  - name: plan_{p:02}");
    }
    service.push_str("\npreview:\n  parameters:\n    - name: flavor\n    - name: opt_000\n");
    write(root, "service.yaml", service);
    write(
        root,
        "full_description.md",
        "# Bench\n\nA generated package.\n",
    );
    write(
        root,
        "images/icon.png",
        include_bytes!("../templates/init/icon.png").as_slice(),
    );

    // Datasource options and one disk (type + size sharing a tag).
    write(
        root,
        "parameters/flavor.yaml",
        "actions: [create, update]\nschema:\n  description: VM type\n  type: string\n  datasource:\n    type: flavor\n",
    );
    write(
        root,
        "parameters/az.yaml",
        "actions: [create]\nschema:\n  description: Zone\n  type: string\n  datasource:\n    type: az\n",
    );
    write(
        root,
        "parameters/subnet.yaml",
        "actions: [create]\nschema:\n  description: Subnet\n  type: string\n  datasource:\n    type: subnet\n",
    );
    write(
        root,
        "parameters/disk_type.yaml",
        "actions: [create, update]\nschema:\n  description: Disk type\n  type: string\n  default: ceph-ssd\n  tag: disk\n  datasource:\n    type: volume_type\n",
    );
    write(
        root,
        "parameters/disk_size.yaml",
        "actions: [create, update]\nschema:\n  description: Disk size\n  type: integer\n  default: 10\n  minimum: 5\n  maximum: 100\n  tag: disk\n",
    );
    let fixed = ["flavor", "az", "subnet", "disk_type", "disk_size"];
    let generated = OPTIONS - fixed.len();
    for i in 0..generated {
        let body = match option_kind(i) {
            0 => format!("actions: [create, update]\nschema:\n  description: Count {i}\n  hint: How many\n  type: integer\n  default: 2\n  minimum: 1\n  maximum: 64\n"),
            1 => format!("actions: [create, update]\nschema:\n  description: Size {i}\n  type: integer\n  enum: [1, 2, 4, 8]\n  default: 2\n"),
            2 => format!("actions: [create, update]\nschema:\n  description: Name {i}\n  type: string\n  default: item{i}\n  pattern: \"^[a-z0-9]+$\"\n  minLength: 1\n  maxLength: 32\n"),
            3 => format!("actions: [create, update]\nschema:\n  description: Mode {i}\n  type: string\n  enum: [\"fast\", \"safe\"]\n  default: safe\n"),
            _ => format!("actions: [create, update]\nschema:\n  description: Switch {i}\n  type: boolean\n  default: true\n"),
        };
        write(root, &format!("parameters/{}.yaml", option_name(i)), body);
    }

    let mut all: Vec<String> = fixed.iter().map(|s| (*s).to_owned()).collect();
    all.extend((0..generated).map(option_name));

    // The wizard: 5 pages of 4 groups; every option once.
    let mut display = String::from("pages:\n");
    let per_page = all.len().div_ceil(5);
    for (page, chunk) in all.chunks(per_page).enumerate() {
        let _ = writeln!(display, "  - name: Page {page}\n    groups:");
        for (group, names) in chunk.chunks(per_page.div_ceil(4)).enumerate() {
            let _ = writeln!(
                display,
                "      - name: Group {page}.{group}\n        parameters:"
            );
            for n in names {
                let _ = writeln!(display, "          - name: {n}");
            }
        }
    }
    display.push_str(
        "entities:\n  - entity: vm\n    count:\n      const: 1\n    flavor:\n      param: flavor\n    disks:\n      - type:\n          param: disk_type\n        size:\n          param: disk_size\n",
    );

    let manifest = manifest(&all);
    let lines = manifest.lines().count();
    for p in 0..PLANS {
        let dir = format!("plans/plan_{p:02}");
        write(
            root,
            &format!("{dir}/plan.yaml"),
            format!(
                "id: {}\nrevision: \"1\"\nname: plan_{p:02}\ndescription: Plan {p}\nfree: true\nbilling:\n  cost: 0\n",
                uuid4(100 + p as u64)
            ),
        );
        write(root, &format!("{dir}/display.yaml"), &display);
        write(root, &format!("{dir}/deployment/deploy.tf"), &manifest);
        write(
            root,
            &format!("{dir}/deployment/settings.yaml"),
            "preset: base_v3\nretry: yes\n",
        );
    }
    lines
}

/// A manifest declaring every option as a variable, then resources until it has
/// `MANIFEST_LINES` lines.
fn manifest(options: &[String]) -> String {
    let mut tf = String::from("variable \"instance_uuid\" {\n  type = string\n}\n\n");
    for (i, name) in options.iter().enumerate() {
        let ty = match name.as_str() {
            "disk_size" => "number",
            "flavor" | "az" | "subnet" | "disk_type" => "string",
            _ => match option_kind(i - 5) {
                0 | 1 => "number",
                2 | 3 => "string",
                _ => "bool",
            },
        };
        let _ = writeln!(tf, "variable \"{name}\" {{\n  type = {ty}\n}}\n");
    }
    tf.push_str(
        "locals {\n  short = substr(var.instance_uuid, 0, 8)\n}\n\n\
         data \"vkcs_networking_subnet\" \"subnet\" {\n  subnet_id = var.subnet\n}\n\n\
         resource \"vkcs_networking_secgroup\" \"sg\" {\n  name = \"${local.short}-bench\"\n  sdn  = data.vkcs_networking_subnet.subnet.sdn\n}\n\n",
    );
    let mut i = 0;
    while tf.lines().count() + 12 < MANIFEST_LINES {
        let _ = writeln!(
            tf,
            "resource \"vkcs_networking_secgroup_rule\" \"r{i}\" {{\n  direction         = \"ingress\"\n  protocol          = \"tcp\"\n  port_range_min    = {p}\n  port_range_max    = {p}\n  remote_ip_prefix  = \"0.0.0.0/0\"\n  security_group_id = vkcs_networking_secgroup.sg.id\n  description       = \"rule ${{local.short}} {i} ${{var.{o}}}\"\n}}\n",
            p = 1000 + i,
            o = options[i % options.len()],
        );
        i += 1;
    }
    while tf.lines().count() < MANIFEST_LINES - 4 {
        tf.push_str("# padding\n");
    }
    tf.push_str("output \"sg\" {\n  value = vkcs_networking_secgroup.sg.id\n}\n");
    tf
}

/// Zips the package folder as `bench_pkg/…` and adds incompressible files under `images/` until
/// the archive is just under the 30 MB upload limit. Returns the archive's size.
fn write_zip(root: &Path, out: &Path) -> u64 {
    let file = std::fs::File::create(out).expect("create zip");
    let mut zip = zip::ZipWriter::new(file);
    let deflate = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut files = Vec::new();
    collect(root, root, &mut files);
    files.sort();
    for rel in &files {
        zip.start_file(format!("bench_pkg/{rel}"), deflate)
            .expect("start entry");
        zip.write_all(&std::fs::read(root.join(rel)).expect("read"))
            .expect("write entry");
    }
    let mut written = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let chunk = 1024 * 1024;
    let mut n = 0;
    let mut data = vec![0u8; chunk];
    // Estimate from the compressed package text (~1 MB) plus the stored chunks.
    while written + (n as u64 + 1) * chunk as u64 + 2 * 1024 * 1024 < TARGET_ZIP_BYTES {
        for b in data.iter_mut() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *b = state as u8;
        }
        zip.start_file(format!("bench_pkg/images/screenshot_{n:02}.bin"), stored)
            .expect("start entry");
        zip.write_all(&data).expect("write entry");
        n += 1;
    }
    zip.finish().expect("finish zip");
    written = std::fs::metadata(out).expect("zip metadata").len();
    written
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path: PathBuf = entry.expect("entry").path();
        if path.is_dir() {
            collect(root, &path, out);
        } else {
            let rel = path.strip_prefix(root).expect("inside root");
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
}
