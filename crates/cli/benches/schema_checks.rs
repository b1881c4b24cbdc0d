//! The cost of checking manifests against the real provider schemas (issue 7): `validate` of
//! the largest example package without schemas (provider-prefix check, as before) and with
//! them, measured alternately in one run, and the ratio. Run with
//! `cargo bench -p vitrina-cli --bench schema_checks`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const RUNS: usize = 41;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn size(dir: &Path) -> u64 {
    let mut total = 0;
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        total += if p.is_dir() {
            size(&p)
        } else {
            e.metadata().map(|m| m.len()).unwrap_or(0)
        };
    }
    total
}

fn main() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/packages");
    let largest: PathBuf = std::fs::read_dir(&examples)
        .expect("examples")
        .flatten()
        .map(|e| e.path())
        .max_by_key(|p| size(p))
        .expect("an example");
    let files = vitrina_package::read_package(&largest).expect("reads");
    let start = Instant::now();
    let schemas = vitrina_providers::schemas();
    let build = start.elapsed();
    let with = vitrina_package::validate_with(&files, Some(&schemas));
    assert!(!with.diagnostics.has_errors(), "{:?}", with.diagnostics);

    let (mut before, mut after) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let t = Instant::now();
        std::hint::black_box(vitrina_package::validate_with(&files, None));
        before.push(t.elapsed());
        let t = Instant::now();
        std::hint::black_box(vitrina_package::validate_with(&files, Some(&schemas)));
        after.push(t.elapsed());
    }
    let (b, a) = (median(before), median(after));
    println!(
        "largest example `{}` ({} bytes): validate without schemas {:.2} ms | with schemas {:.2} ms | ratio {:.2}x (target < 2x: {}) | building the schemas once {:.2} ms",
        largest.file_name().and_then(|n| n.to_str()).unwrap_or_default(),
        size(&largest),
        ms(b),
        ms(a),
        a.as_secs_f64() / b.as_secs_f64().max(1e-9),
        if a < b * 2 { "met" } else { "MISSED" },
        ms(build)
    );
}
