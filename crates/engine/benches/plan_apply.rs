//! Plan + apply of N `null_resource`s in a graph with fan-out (`count` from one root), one-to-one
//! links (`for_each`), and fan-in (`depends_on` on a whole counted resource, `length()` of it),
//! then a no-change plan. Each size runs in its own process so its peak memory (VmHWM) is its
//! own. Times are reported in milliseconds and as ratios against parsing the same manifest in
//! the same run.
//!
//! `cargo bench -p vitrina-engine --bench plan_apply` (sizes 1000, 3000, 10000), or with sizes
//! as arguments: `… -- 3000`.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use vitrina_engine::config::Config;
use vitrina_engine::context::{Engine, VarInputs};
use vitrina_engine::plan::PlanMode;
use vitrina_engine::state::file::StateFile;
use vitrina_engine::state::sync::SyncState;
use vitrina_engine::ProviderRegistry;

fn manifest(n: usize) -> String {
    let a = n * 4 / 10;
    let b = n * 3 / 10;
    let c = n - a - b - 2;
    format!(
        r#"
resource "null_resource" "root" {{
  triggers = {{ seed = "1" }}
}}

resource "null_resource" "a" {{
  count    = {a}
  triggers = {{ root = null_resource.root.id, i = count.index }}
}}

resource "null_resource" "b" {{
  for_each = toset([for i in range({b}) : tostring(i)])
  triggers = {{ a = null_resource.a[tonumber(each.key)].id }}
}}

resource "null_resource" "c" {{
  count      = {c}
  triggers   = {{ i = count.index }}
  depends_on = [null_resource.b]
}}

resource "null_resource" "sink" {{
  triggers   = {{ n = length(null_resource.c) }}
  depends_on = [null_resource.c, null_resource.a]
}}

output "count" {{
  value = length(null_resource.a) + length(null_resource.b) + length(null_resource.c) + 2
}}
"#
    )
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn run_one(n: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("main.tf"), manifest(n)).expect("write");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");

    // Baseline: parse only (best of 3).
    let mut parse = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        let (config, diags) = Config::load_dir(dir.path());
        assert!(!diags.has_errors());
        std::hint::black_box(&config);
        parse = parse.min(t.elapsed().as_secs_f64());
    }

    let engine = Engine::new(ProviderRegistry::with_builtins());
    let state_path = dir.path().join("vitrina.tfstate");
    let t = Instant::now();
    let (config, _) = Config::load_dir(dir.path());
    let planned = rt
        .block_on(engine.plan(
            &config,
            &VarInputs::default(),
            vitrina_engine::State::new(),
            PlanMode::Normal,
        ))
        .expect("plan");
    let plan_time = t.elapsed().as_secs_f64();
    assert_eq!(planned.plan.summary().add, n);
    let file = StateFile::lock(&state_path).expect("lock");
    let sync = Arc::new(SyncState::new(planned.prior.clone(), Some(file)));
    let report = rt.block_on(engine.apply(&config, &planned, sync.clone()));
    assert!(report.is_success(), "{:?}", report.diagnostics);
    let total = t.elapsed().as_secs_f64();
    let serial = sync.read(|s| s.serial);
    drop(sync);

    let t = Instant::now();
    let (config, _) = Config::load_dir(dir.path());
    let state = vitrina_engine::state::file::read_state(&state_path).expect("state");
    let again = rt
        .block_on(engine.plan(&config, &VarInputs::default(), state, PlanMode::Normal))
        .expect("plan");
    let noop = t.elapsed().as_secs_f64();
    assert!(!again.plan.has_changes());
    let size = std::fs::metadata(&state_path).map(|m| m.len()).unwrap_or(0);
    println!(
        "{n:>6} resources | parse {:>7.1} ms | plan {:>7.1} ms | plan+apply {:>8.1} ms ({:>5.1}x parse) | no-change plan {:>7.1} ms ({:>5.1}x parse) | state writes {serial:>5} | state {:>6.1} MB | peak RSS {:>6.1} MB",
        parse * 1e3,
        plan_time * 1e3,
        total * 1e3,
        total / parse,
        noop * 1e3,
        noop / parse,
        size as f64 / 1e6,
        peak_rss_mb(),
    );
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if let Some(n) = std::env::var("VITRINA_BENCH_ONE")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        run_one(n);
        return;
    }
    let sizes: Vec<usize> = if args.is_empty() {
        vec![1000, 3000, 10000]
    } else {
        args.iter().filter_map(|a| a.parse().ok()).collect()
    };
    let exe = std::env::current_exe().expect("current exe");
    for n in sizes {
        let status = std::process::Command::new(&exe)
            .env("VITRINA_BENCH_ONE", n.to_string())
            .status()
            .expect("run size");
        assert!(status.success(), "size {n} failed");
    }
    let _ = Path::new(".");
}
