//! The hostile-input repros of `shared/security/probe-2026-12.md` (H3, H4, M5, L8–L11), each
//! run through the `vitrina` binary: it ends in under 5 s, under 256 MB of peak memory, with a
//! diagnostic naming the limit, never an abort.
//!
//! Peak memory is the largest `ru_maxrss` of the finished child processes (`getrusage` with
//! `RUSAGE_CHILDREN`). That is a maximum over every child of this test process, so the repros
//! run one after the other in one test, and each check covers every child so far.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::resource::{getrusage, UsageWho};

const MAX_SECONDS: f64 = 5.0;
const MAX_PEAK_KB: i64 = 256 * 1024;

struct Run {
    out: Output,
    seconds: f64,
}

impl Run {
    fn text(&self) -> String {
        format!(
            "{}{}",
            String::from_utf8_lossy(&self.out.stdout),
            String::from_utf8_lossy(&self.out.stderr)
        )
    }
}

/// Runs `vitrina` and checks the bounds; the output is returned for the diagnostic checks.
fn bounded(what: &str, args: &[&str], cwd: &Path) -> Run {
    // Output goes to files: a pipe nobody reads until the end would block a chatty child.
    let out_path = cwd.join("probe.stdout");
    let err_path = cwd.join("probe.stderr");
    let stdout = std::fs::File::create(&out_path).expect("stdout file");
    let stderr = std::fs::File::create(&err_path).expect("stderr file");
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_vitrina"))
        .args(args)
        .current_dir(cwd)
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::from(stderr))
        .spawn()
        .expect("start vitrina");
    // A generous deadline only to never hang the suite; the bound is checked below.
    let deadline = start + Duration::from_secs(120);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what}: still running after 120 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let seconds = start.elapsed().as_secs_f64();
    let status = child.wait().expect("status");
    let out = Output {
        status,
        stdout: std::fs::read(&out_path).expect("read stdout"),
        stderr: std::fs::read(&err_path).expect("read stderr"),
    };
    let peak_kb = getrusage(UsageWho::RUSAGE_CHILDREN)
        .expect("getrusage")
        .max_rss();
    eprintln!(
        "{what}: {seconds:.2} s, peak {} MB (max over children so far)",
        peak_kb / 1024
    );
    let run = Run { out, seconds };
    assert!(
        run.out.status.code().is_some(),
        "{what}: killed by a signal (an abort?): {}",
        run.text()
    );
    assert!(run.seconds < MAX_SECONDS, "{what}: took {seconds:.2} s");
    assert!(peak_kb < MAX_PEAK_KB, "{what}: peak {peak_kb} KB");
    run
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

fn hello_web(tmp: &Path, name: &str) -> PathBuf {
    let pkg = tmp.join(name).join("hello_web");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/packages/hello_web"),
        &pkg,
    );
    pkg
}

fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .expect("open");
    f.write_all(text.as_bytes()).expect("append");
}

/// The CRC-32 of zip entries (bit by bit: the test zips are small).
fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A stored (uncompressed) zip written byte by byte, so that it can hold what zip writers
/// refuse (duplicate names) and many entries cheaply; zip64 end records when needed.
fn raw_zip(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in entries {
        let offset = u32::try_from(out.len()).expect("small zip");
        let crc = crc32(data);
        let len = u32::try_from(data.len()).expect("small entry");
        let name_len = u16::try_from(name.len()).expect("short name");
        out.extend(0x0403_4b50u32.to_le_bytes());
        out.extend([20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        out.extend(crc.to_le_bytes());
        out.extend(len.to_le_bytes());
        out.extend(len.to_le_bytes());
        out.extend(name_len.to_le_bytes());
        out.extend(0u16.to_le_bytes());
        out.extend(name.as_bytes());
        out.extend(data);
        central.extend(0x0201_4b50u32.to_le_bytes());
        central.extend([20, 3, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        central.extend(crc.to_le_bytes());
        central.extend(len.to_le_bytes());
        central.extend(len.to_le_bytes());
        central.extend(name_len.to_le_bytes());
        central.extend([0u8; 8]);
        central.extend((0o100_644u32 << 16).to_le_bytes());
        central.extend(offset.to_le_bytes());
        central.extend(name.as_bytes());
    }
    let cd_offset = out.len() as u64;
    let cd_size = central.len() as u64;
    out.extend(central);
    let count = entries.len() as u64;
    if count > 0xFFFE {
        let zip64_at = out.len() as u64;
        out.extend(0x0606_4b50u32.to_le_bytes());
        out.extend(44u64.to_le_bytes());
        out.extend([45, 0, 45, 0]);
        out.extend([0u8; 8]);
        out.extend(count.to_le_bytes());
        out.extend(count.to_le_bytes());
        out.extend(cd_size.to_le_bytes());
        out.extend(cd_offset.to_le_bytes());
        out.extend(0x0706_4b50u32.to_le_bytes());
        out.extend(0u32.to_le_bytes());
        out.extend(zip64_at.to_le_bytes());
        out.extend(1u32.to_le_bytes());
        out.extend(0x0605_4b50u32.to_le_bytes());
        out.extend([0u8; 4]);
        out.extend([0xFF; 4]);
        out.extend([0xFF; 8]);
        out.extend(0u16.to_le_bytes());
    } else {
        let n = u16::try_from(count).expect("count");
        out.extend(0x0605_4b50u32.to_le_bytes());
        out.extend([0u8; 4]);
        out.extend(n.to_le_bytes());
        out.extend(n.to_le_bytes());
        out.extend(u32::try_from(cd_size).expect("size").to_le_bytes());
        out.extend(u32::try_from(cd_offset).expect("offset").to_le_bytes());
        out.extend(0u16.to_le_bytes());
    }
    out
}

/// Every file of a folder as zip entries under `prefix/`.
fn entries_of(dir: &Path, prefix: &str, out: &mut Vec<(String, Vec<u8>)>) {
    let mut items: Vec<_> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").path())
        .collect();
    items.sort();
    for p in items {
        let name = format!(
            "{prefix}/{}",
            p.file_name().and_then(|n| n.to_str()).expect("name")
        );
        if p.is_dir() {
            entries_of(&p, &name, out);
        } else {
            out.push((name, std::fs::read(&p).expect("read")));
        }
    }
}

fn validate(what: &str, pkg: &Path, cwd: &Path) -> Run {
    bounded(
        what,
        &["package", "validate", pkg.to_str().expect("utf-8")],
        cwd,
    )
}

fn expect_diag(what: &str, run: &Run, code: &str, words: &str) {
    let text = run.text();
    assert!(
        text.contains(&format!("[{code}]")) && text.contains(words),
        "{what}: no {code} diagnostic with `{words}`:\n{}",
        &text[..text.len().min(4000)]
    );
}

#[test]
fn probe_repros_end_quickly_in_bounded_memory_with_a_diagnostic() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cwd = tmp.path();

    // H3: a 100 KB scalar aliased 99,000 times in service.yaml (about 10 GB asked), folder
    // and 15 KB zip.
    let pkg = hello_web(cwd, "h3");
    append(
        &pkg.join("service.yaml"),
        &format!(
            "x: &a \"{}\"\ny: [{}]\n",
            "A".repeat(100_000),
            vec!["*a"; 99_000].join(",")
        ),
    );
    let run = validate("H3 folder", &pkg, cwd);
    expect_diag("H3 folder", &run, "yaml/syntax", "alias limit");
    let mut entries = Vec::new();
    entries_of(&pkg, "hello_web", &mut entries);
    let zip = cwd.join("h3.zip");
    std::fs::write(&zip, raw_zip(&entries)).expect("write zip");
    // Big buffers are dropped before a child starts: a forked child starts with this
    // process's memory, which would count as its own.
    drop(entries);
    let run = validate("H3 zip", &zip, cwd);
    expect_diag("H3 zip", &run, "yaml/syntax", "alias limit");

    // H4: the same bomb through `yamldecode` (1 MB scalar, 102,400 aliases, about 100 GB).
    let a1024 = "A".repeat(1024);
    let bomb = format!(
        "length(yamldecode(join(\"\", [\"a: &x \\\"\", join(\"\", [for i in range(1024): \"{a1024}\"]), \"\\\"\\nb: [\", join(\",\", [for i in range(1024): join(\",\", [for j in range(100): \"*x\"])]), \"]\\n\"]))[\"b\"])"
    );
    let pkg = hello_web(cwd, "h4");
    let deploy = pkg.join("plans/free/deployment/deploy.tf");
    let text = std::fs::read_to_string(&deploy).expect("read");
    let at = text.find("index").expect("a step index");
    let end = at + text[at..].find('\n').expect("line end");
    let planted = format!("{}index = {bomb}{}", &text[..at], &text[end..]);
    std::fs::write(&deploy, planted).expect("write");
    let run = validate("H4 package validate", &pkg, cwd);
    assert!(
        matches!(run.out.status.code(), Some(0 | 1)),
        "{}",
        run.text()
    );
    let dir = cwd.join("h4tf");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(
        dir.join("main.tf"),
        format!("output \"n\" {{\n  value = {bomb}\n}}\n"),
    )
    .expect("write");
    let run = bounded(
        "H4 tf plan",
        &["tf", "plan", dir.to_str().expect("utf-8")],
        cwd,
    );
    assert_eq!(run.out.status.code(), Some(1), "{}", run.text());
    assert!(run.text().contains("alias limit"), "{}", run.text());

    // M5: a 15 MB `.tf` of 1.43M references (3.6 GB before), and 1,000,000 keys in
    // service.yaml (1.5 GB before).
    let pkg = hello_web(cwd, "m5tf");
    let refs = vec!["var.flavor"; 1_430_000].join(",");
    std::fs::write(
        pkg.join("plans/free/deployment/big.tf"),
        format!("locals {{\n  many = [{refs}]\n}}\n"),
    )
    .expect("write");
    drop(refs);
    let run = validate("M5 15 MB .tf", &pkg, cwd);
    expect_diag("M5 .tf", &run, "package/too-large", "manifest limit");
    let pkg = hello_web(cwd, "m5yaml");
    let mut keys = String::with_capacity(12_000_000);
    for i in 0..1_000_000 {
        keys.push_str(&format!("k{i}: 1\n"));
    }
    append(&pkg.join("service.yaml"), &keys);
    drop(keys);
    let run = validate("M5 1M keys", &pkg, cwd);
    expect_diag("M5 yaml", &run, "yaml/syntax", "node limit");

    // L8: 200,000 entries (zip64): refused from the end record, before the central directory.
    let many: Vec<(String, Vec<u8>)> = (0..200_000)
        .map(|i| (format!("p/f{i}"), Vec::new()))
        .collect();
    let zip = cwd.join("l8.zip");
    std::fs::write(&zip, raw_zip(&many)).expect("write");
    drop(many);
    let run = validate("L8 entries", &zip, cwd);
    expect_diag("L8", &run, "package/too-large", "entry limit");

    // L9: service.yaml twice, and once more differing only in case.
    let pkg = hello_web(cwd, "l9");
    let mut entries = Vec::new();
    entries_of(&pkg, "hello_web", &mut entries);
    let service = std::fs::read(pkg.join("service.yaml")).expect("read");
    entries.push(("hello_web/service.yaml".into(), service.clone()));
    entries.push(("hello_web/Service.yaml".into(), service));
    let zip = cwd.join("l9.zip");
    std::fs::write(&zip, raw_zip(&entries)).expect("write");
    drop(entries);
    let run = validate("L9 duplicates", &zip, cwd);
    expect_diag("L9", &run, "package/unsafe-archive", "appears twice");
    expect_diag("L9", &run, "package/unsafe-archive", "only in letter case");

    // L10: a hard link to a file outside the folder: `pack` refuses it and writes no zip.
    let pkg = hello_web(cwd, "l10");
    let secret = cwd.join("secret.txt");
    std::fs::write(&secret, "not for the zip").expect("write");
    std::fs::hard_link(&secret, pkg.join("images/notes.txt")).expect("hard link");
    let out_zip = cwd.join("l10.zip");
    let run = bounded(
        "L10 pack",
        &[
            "package",
            "pack",
            pkg.to_str().expect("utf-8"),
            "-o",
            out_zip.to_str().expect("utf-8"),
        ],
        cwd,
    );
    assert_eq!(run.out.status.code(), Some(1), "{}", run.text());
    expect_diag("L10", &run, "package/unsafe-archive", "hard link");
    assert!(!out_zip.exists(), "the zip was written");

    // L11: a file 200 folders deep is an error, not silently left out.
    let pkg = hello_web(cwd, "l11");
    let mut deep = pkg.join("images");
    for i in 0..200 {
        deep = deep.join(format!("d{i}"));
    }
    std::fs::create_dir_all(&deep).expect("mkdir");
    std::fs::write(deep.join("x.txt"), "deep").expect("write");
    let run = validate("L11 depth", &pkg, cwd);
    assert_eq!(run.out.status.code(), Some(1), "{}", run.text());
    expect_diag("L11", &run, "package/unsafe-archive", "depth limit");
}
