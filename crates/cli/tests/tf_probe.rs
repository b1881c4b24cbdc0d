//! The `vitrina tf` repros of the 2026-12 security probe (`shared/security/probe-2026-12.md`)
//! hold: M4 (work the step budget did not count), M6 (state temp file through planted links),
//! L12 (symlinked lock file) and I7 (`file("${path.module}/x")` with a relative folder). Each
//! hostile manifest ends in under 5 seconds and 256 MB with a diagnostic.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const TIME_LIMIT: Duration = Duration::from_secs(5);
const RSS_LIMIT_KB: i64 = 256 * 1024;

/// Runs `vitrina ARGS` in `cwd`; checks the time it took and the peak memory of every child
/// this test binary has waited for (an upper bound for this one).
fn run(cwd: &Path, args: &[&str]) -> Output {
    // One measured run at a time, so the tests of this file do not slow one another down.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_vitrina"))
        .current_dir(cwd)
        .args(args)
        .output()
        .expect("run vitrina");
    let took = start.elapsed();
    assert!(
        took < TIME_LIMIT,
        "`vitrina {}` took {took:?}\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .expect("getrusage");
    assert!(
        usage.max_rss() < RSS_LIMIT_KB,
        "a `vitrina` run peaked at {} KB",
        usage.max_rss()
    );
    out
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// M4: `distinct` is not quadratic (100,000 elements took 30 s).
#[test]
fn m4_distinct_is_not_quadratic() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("main.tf"),
        "output \"o\" {\n  value = length(distinct(flatten([for i in range(100): [for j in range(1000): i*1000+j]])))\n}\n",
    )
    .expect("write");
    let out = run(dir.path(), &["tf", "plan", "."]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("+ o = 100000"));
}

/// M4: hashing a large string costs its size (1024 × sha512 of 16 MB).
#[test]
fn m4_hashing_costs_its_size() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("big.txt"), "x".repeat(16 * 1024 * 1024 - 1)).expect("big");
    std::fs::write(
        dir.path().join("main.tf"),
        "locals {\n  s = file(\"${path.module}/big.txt\")\n}\noutput \"o\" {\n  value = length([for i in range(1024): sha512(local.s)])\n}\n",
    )
    .expect("write");
    let out = run(dir.path(), &["tf", "plan", "."]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("main.tf:5:"), "{err}");
    assert!(err.contains("too many steps"), "{err}");
}

/// M4: nested `templatefile` calls share one budget (10^7 leaves took minutes).
#[test]
fn m4_templatefile_fan_out_shares_one_budget() {
    let dir = tempfile::tempdir().expect("tempdir");
    let call = "${templatefile(\"t.tpl\", {d = d + 1})}";
    std::fs::write(
        dir.path().join("t.tpl"),
        format!("%{{ if d < 8 }}{}%{{ else }}x%{{ endif }}", call.repeat(10)),
    )
    .expect("template");
    std::fs::write(
        dir.path().join("main.tf"),
        "output \"o\" {\n  value = length(templatefile(\"t.tpl\", {d = 1}))\n}\n",
    )
    .expect("write");
    let out = run(dir.path(), &["tf", "plan", "."]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("main.tf:2:"), "{err}");
    assert!(err.contains("too many steps"), "{err}");
}

/// M6: links planted at every `.vitrina.tfstate.<pid>.tmp` are not written through.
#[test]
fn m6_planted_temp_file_links_are_not_followed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let victim_dir = tempfile::tempdir().expect("tempdir");
    let victim = victim_dir.path().join("victim");
    std::fs::write(&victim, "precious").expect("victim");
    std::fs::write(
        dir.path().join("main.tf"),
        "resource \"null_resource\" \"x\" {}\n",
    )
    .expect("write");
    let pid_max: u32 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(32768)
        .min(65536);
    for pid in 1..=pid_max {
        std::os::unix::fs::symlink(
            &victim,
            dir.path().join(format!(".vitrina.tfstate.{pid}.tmp")),
        )
        .expect("plant");
    }
    let out = run(dir.path(), &["tf", "apply", ".", "--auto-approve"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(&victim).expect("victim"),
        "precious"
    );
    let state = std::fs::symlink_metadata(dir.path().join("vitrina.tfstate")).expect("state");
    assert!(state.file_type().is_file());
}

/// L12: a symlinked lock file is refused; its target is not created.
#[test]
fn l12_symlinked_lock_file_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let target = elsewhere.path().join("created-by-vitrina");
    std::fs::write(
        dir.path().join("main.tf"),
        "resource \"null_resource\" \"x\" {}\n",
    )
    .expect("write");
    std::os::unix::fs::symlink(&target, dir.path().join("vitrina.tfstate.lock")).expect("plant");
    let out = run(dir.path(), &["tf", "apply", ".", "--auto-approve"]);
    assert_ne!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(err.contains("symbolic link"), "{err}");
    assert!(!target.exists());
}

/// I7: `file("${path.module}/x.txt")` works when the folder is given as a relative path other
/// than `.`.
#[test]
fn i7_path_module_with_a_relative_folder() {
    let parent = tempfile::tempdir().expect("tempdir");
    let dir = parent.path().join("cases").join("pm");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("x.txt"), "hello").expect("x");
    std::fs::write(
        dir.join("main.tf"),
        "output \"o\" {\n  value = file(\"${path.module}/x.txt\")\n}\n",
    )
    .expect("write");
    let out = run(parent.path(), &["tf", "plan", "cases/pm"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("+ o = \"hello\""));
}
