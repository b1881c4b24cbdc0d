//! A wizard update (an answer changes → the updated panel, errors and groups) for the largest
//! example package, over real HTTP against the server's router with the built-in cloud's
//! flavors: the server's own time per update (its `Server-Timing` header) and the round trip,
//! as percentiles. The form posted is the wizard page's own (every field, as a browser sends
//! it), with one number field stepped through its range.
//!
//! `cargo bench -p vitrina-server --bench wizard_update` (`WIZARD_BENCH_UPDATES`, default
//! 2000). The round trip of `GET /healthz` is measured in the same run as the baseline. Fails when the server's p99 is 30 ms or more.

use std::path::{Path, PathBuf};
use std::time::Instant;

use vitrina_server::{Server, ServerConfig};

const BUDGET_MS: f64 = 30.0;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/packages")
}

fn size_of(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| {
                    let p = e.path();
                    if p.is_dir() {
                        size_of(&p)
                    } else {
                        e.metadata().map(|m| m.len()).unwrap_or(0)
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

/// The largest example package (most option files, then bytes on disk), its service id and
/// the plan with most options.
fn largest() -> (String, String, String) {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(examples())
        .expect("examples/packages")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("service.yaml").is_file())
        .collect();
    // Largest by what a wizard update evaluates: the option files, then the bytes.
    let options = |d: &Path| {
        std::fs::read_dir(d.join("parameters"))
            .map(|rd| rd.count())
            .unwrap_or(0)
    };
    dirs.sort_by_key(|d| std::cmp::Reverse((options(d), size_of(d))));
    let dir = dirs.first().expect("an example package");
    let files = vitrina_package::read_package(dir).expect("reads");
    let v = vitrina_package::validate(&files);
    assert!(!v.diagnostics.has_errors(), "{} validates", dir.display());
    let id = v
        .model
        .service
        .as_ref()
        .and_then(|s| s.get("id"))
        .and_then(|n| n.as_str_lenient())
        .expect("service id")
        .to_owned();
    let offers = vitrina_package::wizard::offers(&v.model);
    let plan = offers
        .iter()
        .max_by_key(|o| o.form.fields.len())
        .expect("a plan")
        .folder
        .clone();
    (
        dir.file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned(),
        id,
        plan,
    )
}

/// `name="…"` … `value="…"` pairs of the wizard's inputs, the selected option of each select,
/// and the number inputs with their bounds.
type Fields = Vec<(String, String)>;
/// A number input: name, lowest and highest value.
type Numbers = Vec<(String, i64, i64)>;

fn form_of(page: &str) -> (Fields, Numbers) {
    let attr = |tag: &str, name: &str| -> Option<String> {
        let key = format!(" {name}=\"");
        let at = tag.find(&key)? + key.len();
        Some(tag[at..].split('"').next()?.to_owned())
    };
    let mut fields = Vec::new();
    let mut numbers = Vec::new();
    for part in page.split('<').skip(1) {
        let tag = part.split('>').next().unwrap_or_default();
        if let Some(rest) = tag.strip_prefix("input ") {
            let tag = format!(" {rest}");
            let Some(name) = attr(&tag, "name") else {
                continue;
            };
            if tag.contains("type=\"checkbox\"") && !tag.contains(" checked") {
                continue;
            }
            let value = attr(&tag, "value").unwrap_or_default();
            if tag.contains("type=\"number\"") && !tag.contains(" readonly") {
                let min = attr(&tag, "min").and_then(|v| v.parse().ok());
                let max = attr(&tag, "max").and_then(|v| v.parse().ok());
                let now: i64 = value.parse().unwrap_or(0);
                numbers.push((
                    name.clone(),
                    min.unwrap_or(now),
                    max.unwrap_or(now.saturating_add(10)),
                ));
            }
            fields.push((name, value));
        }
    }
    // Selects: the option marked `selected` (or the first).
    for chunk in page.split("<select ").skip(1) {
        let head = chunk.split('>').next().unwrap_or_default();
        let Some(name) = attr(&format!(" {head}"), "name") else {
            continue;
        };
        let body = chunk.split("</select>").next().unwrap_or_default();
        let options: Vec<&str> = body.split("<option ").skip(1).collect();
        let chosen = options
            .iter()
            .find(|o| o.split('>').next().unwrap_or_default().contains("selected"))
            .or(options.first());
        if let Some(o) = chosen {
            if let Some(v) = attr(&format!(" {o}"), "value") {
                fields.push((name, v));
            }
        }
    }
    (fields, numbers)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or(f64::NAN)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run());
}

async fn run() {
    let updates: usize = std::env::var("WIZARD_BENCH_UPDATES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let (folder, id, plan) = largest();
    let dir = tempfile::tempdir().expect("tmp");
    let mut cfg = ServerConfig::new("127.0.0.1:0".parse().expect("addr"), dir.path());
    cfg.cloud = true;
    cfg.cloud_network = vitrina_localcloud::NetworkSetting::Shared;
    let server = Server::start(cfg).await.expect("server starts");
    vitrina_server::demo::setup(&server, dir.path(), &examples())
        .await
        .expect("demo set-up");
    server.set_ready();
    let base = server.url.clone();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");

    let wizard = format!("{base}/services/{id}/plans/{plan}");
    let r = http.get(&wizard).send().await.expect("wizard page");
    assert_eq!(r.status(), 200, "{wizard}");
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|l| l.split(';').next())
        .collect::<Vec<_>>()
        .join("; ");
    let page = r.text().await.expect("page");
    let (fields, numbers) = form_of(&page);
    let (stepped, lo, hi) = numbers
        .first()
        .cloned()
        .expect("the wizard has a number field");
    let live = format!("{wizard}/evaluate");
    let send = |value: i64| {
        let body: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| {
                if *k == stepped {
                    (k.clone(), value.to_string())
                } else {
                    (k.clone(), v.clone())
                }
            })
            .collect();
        let req = http.post(&live).header("cookie", &cookie).form(&body);
        async move {
            let t = Instant::now();
            let r = req.send().await.expect("evaluate");
            assert_eq!(r.status(), 200);
            let server_ms: f64 = r
                .headers()
                .get("server-timing")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split("dur=").nth(1))
                .and_then(|v| v.parse().ok())
                .expect("a Server-Timing header");
            let body = r.bytes().await.expect("body");
            assert!(body.len() > 100);
            (server_ms, t.elapsed())
        }
    };
    let span = (hi - lo).max(1);
    for i in 0..100 {
        send(lo + (i % span)).await;
    }
    let mut server_ms = Vec::with_capacity(updates);
    let mut trip_ms = Vec::with_capacity(updates);
    let started = Instant::now();
    for i in 0..updates {
        let value = lo + i64::try_from(i).unwrap_or(0) % span;
        let (s, t) = send(value).await;
        server_ms.push(s);
        trip_ms.push(t.as_secs_f64() * 1000.0);
    }
    let took = started.elapsed();
    // Baseline in the same run: the round trip of `GET /healthz`, the cheapest route.
    let health = format!("{base}/healthz");
    let mut base_ms = Vec::with_capacity(updates);
    for _ in 0..updates {
        let t = Instant::now();
        let r = http.get(&health).send().await.expect("healthz");
        assert_eq!(r.status(), 200);
        r.bytes().await.expect("body");
        base_ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    base_ms.sort_by(f64::total_cmp);
    server_ms.sort_by(f64::total_cmp);
    trip_ms.sort_by(f64::total_cmp);
    println!(
        "wizard update, {folder} plan {plan} ({} form fields, stepping `{stepped}` {lo}..={hi}), {updates} updates in {:.1} s",
        fields.len(),
        took.as_secs_f64()
    );
    for (what, v) in [
        ("server time", &server_ms),
        ("round trip", &trip_ms),
        ("healthz", &base_ms),
    ] {
        println!(
            "  {what:11}: p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
            percentile(v, 0.50),
            percentile(v, 0.90),
            percentile(v, 0.99),
            v.last().copied().unwrap_or(f64::NAN)
        );
    }
    let p99 = percentile(&server_ms, 0.99);
    println!(
        "  round trip p99 / healthz round trip p99 (same run): {:.1}x",
        percentile(&trip_ms, 0.99) / percentile(&base_ms, 0.99)
    );
    drop(server);
    assert!(
        p99 < BUDGET_MS,
        "the server's p99 is {p99:.2} ms, over the {BUDGET_MS} ms budget"
    );
    println!("ok: the server's p99 {p99:.2} ms is under {BUDGET_MS} ms");
}
