//! Benchmark of VM-SDF (issue 14), each timing next to a baseline measured in the same run:
//!
//! 1. `vitrina sdf build` of a folder of 200 applications (the seed's LNMP app, each with its
//!    own id and 12 more variables of every type): `validate_path` + `build_catalog`, median of
//!    15 runs, against reading the files alone. Target: under 100 ms.
//! 2. A form update of the seed's LNMP app as the server does it: evaluate the answers
//!    (cascades, validation) and build the masked `deployment-info` YAML, p50/p99 over 20,000
//!    updates. Target: p99 under 10 ms.
//!
//! Timings are wall-clock medians and, because the machine is shared, CPU time of this process.
//! The bench runs with mimalloc, as the `vitrina` binary does.
//!
//! Run: `cargo bench -p vitrina-package --bench sdf`.

use std::path::Path;
use std::time::{Duration, Instant};

use vitrina_forms::sdf::{deployment_info, to_yaml_text, Input, SdfValue};

/// The allocator the `vitrina` binary runs with (see `crates/cli/src/main.rs`): the bench
/// measures what `vitrina sdf build` does.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const APPS: usize = 200;
const RUNS: usize = 15;
const UPDATES: usize = 20_000;

fn main() {
    let seed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/vm-sdf/seed-lnmp-10.yml"),
    )
    .expect("the seed's LNMP example");
    let dir = tempfile::tempdir().expect("a temporary folder");
    for i in 0..APPS {
        let text = seed.replacen("lnmp-10:", &format!("lnmp-{i:03}:"), 1) + EXTRA;
        std::fs::write(dir.path().join(format!("app-{i:03}.yml")), text).expect("write");
    }
    let check = vitrina_package::sdf::validate_path(dir.path()).expect("reads");
    assert!(
        check.ok(),
        "{}",
        check.sources.render_text(&check.diagnostics, "")
    );
    assert_eq!(check.apps.len(), APPS);
    let catalog = vitrina_package::sdf::build_catalog(&check).expect("builds");
    println!(
        "catalog: {APPS} apps, {} variables each, {} bytes of YAML",
        check.apps[0].app.form.variables.len(),
        catalog.len()
    );

    let read = median(RUNS, || {
        for e in std::fs::read_dir(dir.path()).expect("dir").flatten() {
            std::hint::black_box(std::fs::read(e.path()).expect("read"));
        }
    });
    let build = median(RUNS, || {
        let v = vitrina_package::sdf::validate_path(dir.path()).expect("reads");
        std::hint::black_box(vitrina_package::sdf::build_catalog(&v).expect("builds"));
    });
    let validate = median(RUNS, || {
        std::hint::black_box(vitrina_package::sdf::validate_path(dir.path()).expect("reads"));
    });
    let emit = median(RUNS, || {
        std::hint::black_box(vitrina_package::sdf::build_catalog(&check).expect("builds"));
    });
    let cpu = mean_cpu(30, || {
        let v = vitrina_package::sdf::validate_path(dir.path()).expect("reads");
        std::hint::black_box(vitrina_package::sdf::build_catalog(&v).expect("builds"));
    });
    println!(
        "sdf build of {APPS} apps: CPU time per build {:.1} ms (mean of 30) — target < 100 ms: {}",
        ms(cpu),
        if cpu < Duration::from_millis(100) {
            "met"
        } else {
            "NOT met"
        }
    );
    println!(
        "  of which: read + validate {:.2} ms, catalog emission {:.2} ms",
        ms(validate),
        ms(emit)
    );
    println!(
        "sdf build of {APPS} apps: median {:.2} ms (reading the files alone: {:.2} ms, {:.1}x) — target < 100 ms: {}",
        ms(build),
        ms(read),
        build.as_secs_f64() / read.as_secs_f64().max(1e-9),
        if build < Duration::from_millis(100) { "met" } else { "NOT met" }
    );

    // 2. Form updates of the seed's LNMP app.
    let lnmp = vitrina_package::sdf::validate_path(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/vm-sdf/seed-lnmp-10.yml"),
    )
    .expect("reads");
    let app = lnmp.app("lnmp-10").expect("lnmp-10").app.clone();
    let mut times = Vec::with_capacity(UPDATES);
    for i in 0..UPDATES {
        let input = Input::new()
            .password("mysql-root-password", "r00t-Secret")
            .password("mysql-user-password", "us3r-Secret")
            .set("mysql-php-admin-install", SdfValue::Bool(i % 2 == 0))
            .set(
                "mysql-php-admin-https-port",
                SdfValue::String(format!("{}", 1024 + i % 60_000)),
            )
            .set(
                "domain-name",
                SdfValue::String(format!("site{i}.example.com")),
            );
        let start = Instant::now();
        let state = app.form.evaluate(&input);
        let yaml = to_yaml_text(&deployment_info(&app, None, &state, &[], true));
        std::hint::black_box((state.is_valid(), yaml));
        times.push(start.elapsed());
    }
    times.sort();
    let p = |q: f64| {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let i = ((times.len() as f64 - 1.0) * q).round() as usize;
        times[i]
    };
    println!(
        "LNMP form update (evaluate + masked YAML), {UPDATES} updates: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms — target p99 < 10 ms: {}",
        ms(p(0.5)),
        ms(p(0.99)),
        ms(p(1.0)),
        if p(0.99) < Duration::from_millis(10) { "met" } else { "NOT met" }
    );
}

/// Twelve more variables of every type, appended under the app's `variables:`.
const EXTRA: &str = r#"
    admin-email:
      label: {default: Admin e-mail, ru_RU: Почта администратора}
      type: Email
      default: admin@example.com
    listen:
      type: IpAddress
      version: [4, 6]
      default: 0.0.0.0
    trusted:
      type: IpAddress
      network-address: true
      default: 10.0.0.0/8
    mirror:
      type: URL
      scheme: [http, https]
      default: https://mirror.example.com/debian
    workers:
      type: Number
      minimum: 1
      maximum: 64
      default: 4
      is-volatile: true
    motd:
      type: String
      multiline: true
      default: "Welcome"
    php-modules:
      type: Some
      options: {gd: {label: GD}, intl: {label: Intl}, mbstring: {label: mbstring, mandatory: true}}
      defaults: [gd]
    php-section:
      type: Section
      label: PHP
      active-if: {sources: {php-modules: [gd, intl]}}
      default: true
    php-memory:
      type: Number
      active-if: {sources: {php-section: true}}
      default: 128
    cache:
      type: OneOf
      visual-mode: dropdown
      options: {none: {label: None}, redis: {label: Redis}}
      default: none
    cache-url:
      type: URI
      scheme: [redis]
      active-if: {predicate: or, sources: {cache: redis, mysql-php-admin-install: true}}
      default: redis://127.0.0.1:6379/0
    so:
      type: ServiceOffering
      filters:
        small: {resources: {minimal-ram: 1024}}
"#;

/// CPU time of this process (user + system), from `/proc/self/stat`: on a shared, loaded
/// machine the wall time mostly measures the other processes.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // Fields 14 and 15 of the file (utime, stime), counted from `state` as 0 here: 11 and 12.
    let total = ticks(11) + ticks(12);
    // The kernel's USER_HZ is 100 on Linux.
    Duration::from_millis(total * 10)
}

/// Mean CPU time of `runs` calls.
fn mean_cpu(runs: u32, mut f: impl FnMut()) -> Duration {
    f();
    let start = cpu_time();
    for _ in 0..runs {
        f();
    }
    (cpu_time() - start) / runs
}

fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    f();
    let mut t: Vec<Duration> = (0..runs)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed()
        })
        .collect();
    t.sort();
    t[runs / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
