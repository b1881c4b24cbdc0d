// Plan + apply of N `null_resource`s in a graph with fan-out (`count` from one root), one-to-one
// links (`for_each`), and fan-in (`depends_on` on a whole counted resource, `length()` of it),
// then a no-change plan. Each size runs in its own process so its peak memory (VmHWM) is its
// own. Times are reported in milliseconds and as ratios against a baseline measured in the same
// process: one round trip of the resulting state through its JSON file format (serialise and
// parse back, best of three), a plain O(N) workload over the same data.
//
// `cargo bench -p vitrina-engine --bench plan_apply` (sizes 1000, 3000, 10000), or with sizes
// as arguments: `… -- 3000`.
//
// This file is the body of two benches: `plan_apply` runs it with mimalloc, the allocator the
// `vitrina` binary uses, and `plan_apply_system_alloc` with the system allocator, to show why.

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
    // `range` yields at most 1024 numbers (as in Terraform): join chunks.
    let chunks: Vec<String> = (0..b)
        .step_by(1000)
        .map(|start| format!("range({start}, {})", (start + 1000).min(b)))
        .collect();
    let keys = format!("concat({})", chunks.join(", "));
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
  for_each = toset([for i in {keys} : tostring(i)])
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
    // Baseline: the state's JSON round trip (best of 3).
    let final_state = vitrina_engine::state::file::read_state(&state_path).expect("state");
    let mut base = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        let bytes = final_state.to_json();
        let back = vitrina_engine::State::from_json(&bytes).expect("round trip");
        std::hint::black_box(&back);
        base = base.min(t.elapsed().as_secs_f64());
    }
    println!(
        "{n:>6} resources | baseline (state JSON round trip) {:>6.1} ms | plan {:>7.1} ms | plan+apply {:>8.1} ms ({:>5.1}x baseline) | no-change plan {:>7.1} ms ({:>5.1}x baseline) | state writes {serial:>5} | state {:>5.1} MB | peak RSS {:>6.1} MB",
        base * 1e3,
        plan_time * 1e3,
        total * 1e3,
        total / base,
        noop * 1e3,
        noop / base,
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
