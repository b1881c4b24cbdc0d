//! Crash safety of `vitrina tf apply`: the real binary is killed (SIGKILL) at random points while
//! applying 300 resources with `time_sleep`s. After each kill the state file is intact; a rerun
//! converges; every `random_*` result recorded before a kill is unchanged at the end; and no
//! resource is created twice (every completed create is logged by the binary; two creates of one
//! address must be the same object, i.e. a repeat with the same idempotency token).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const MANIFEST: &str = r#"
resource "random_id" "r" {
  count       = 100
  byte_length = 8
}

resource "time_sleep" "s" {
  count           = 100
  create_duration = "${60 + (count.index % 7) * 30}ms"
  triggers        = { r = random_id.r[count.index].hex }
}

resource "null_resource" "n" {
  count    = 100
  triggers = { s = time_sleep.s[count.index].id, r = random_id.r[count.index].dec }
}

output "first" {
  value = null_resource.n[0].id
}
"#;

fn vitrina() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vitrina"))
}

/// `address → (id or result)` for every ready `random_id` / `null_resource` in a state file.
fn results(state: &serde_json::Value) -> BTreeMap<String, (String, String)> {
    let mut out = BTreeMap::new();
    for r in state["resources"].as_array().into_iter().flatten() {
        let ty = r["type"].as_str().unwrap_or_default();
        if ty != "random_id" && ty != "null_resource" {
            continue;
        }
        for i in r["instances"].as_array().into_iter().flatten() {
            let addr = format!(
                "{ty}.{}[{}]",
                r["name"].as_str().unwrap_or_default(),
                i["index_key"]
            );
            let status = i["status"].as_str().unwrap_or_default().to_owned();
            let id = i["attributes"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            out.insert(addr, (status, id));
        }
    }
    out
}

fn read_json(path: &Path) -> Option<serde_json::Value> {
    let bytes = std::fs::read(path).ok()?;
    Some(
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("the state file is corrupt after a kill: {e}")),
    )
}

/// A small deterministic generator; the seed is printed so a failure can be replayed.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % bound
    }
}

#[test]
fn killed_applies_converge_without_duplicates() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("main.tf"), MANIFEST).expect("write manifest");
    let state_path = dir.path().join("vitrina.tfstate");
    let log_path = dir.path().join("events.jsonl");
    let seed = std::env::var("VITRINA_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(7)
        });
    eprintln!("crash test seed: {seed} (set VITRINA_CRASH_SEED to replay)");
    let mut rng = Lcg(seed);

    let mut snapshots = Vec::new();
    let mut kills = 0;
    for round in 0..8 {
        let mut child = vitrina()
            .args(["tf", "apply"])
            .arg(dir.path())
            .args(["--auto-approve", "--parallelism", "10"])
            .env("VITRINA_TF_EVENT_LOG", &log_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start vitrina");
        // The sleeps alone need at least 1.49 s at parallelism 10 (the sum of the durations / 10),
        // so a kill after at most 0.8 s always finds the first apply still running, whatever
        // the machine's speed; later rounds may finish before their kill.
        let wait = Duration::from_millis(100 + rng.next(700));
        std::thread::sleep(wait);
        match child.try_wait().expect("poll child") {
            Some(status) => {
                // It finished before the kill: fine, the remaining rounds find nothing to do.
                assert!(
                    status.success(),
                    "round {round}: apply failed on its own: {status}"
                );
            }
            None => {
                child.kill().expect("SIGKILL");
                let _ = child.wait();
                kills += 1;
            }
        }
        if let Some(snapshot) = read_json(&state_path) {
            snapshots.push(snapshot);
        }
    }
    assert!(
        kills > 0,
        "no apply was still running when killed; the manifest is too quick"
    );

    let out = vitrina()
        .args(["tf", "apply"])
        .arg(dir.path())
        .arg("--auto-approve")
        .env("VITRINA_TF_EVENT_LOG", &log_path)
        .output()
        .expect("run vitrina");
    assert!(
        out.status.success(),
        "final apply failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let final_state = read_json(&state_path).expect("final state");
    let final_results = results(&final_state);
    assert_eq!(
        final_results.len(),
        200,
        "every random_id and null_resource exists"
    );
    let time_sleeps = final_state["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["type"] == "time_sleep")
        .map(|r| r["instances"].as_array().map_or(0, Vec::len))
        .sum::<usize>();
    assert_eq!(time_sleeps, 100);
    for (addr, (status, _)) in &final_results {
        assert_eq!(status, "ready", "{addr}");
    }

    // Results recorded before any kill are unchanged (also for creates cut short: they are
    // repeated with the same token and reproduce the same result).
    for (n, snap) in snapshots.iter().enumerate() {
        for (addr, (status, id)) in results(snap) {
            if status == "ready" {
                assert_eq!(
                    final_results.get(&addr).map(|r| &r.1),
                    Some(&id),
                    "{addr} changed after kill {n}"
                );
            }
        }
    }

    // No address was created as two different objects.
    let log = std::fs::read_to_string(&log_path).expect("event log");
    let mut created: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let Ok(e) = serde_json::from_str::<serde_json::Value>(line) else {
            // The last line may be cut by the kill.
            continue;
        };
        let addr = e["address"].as_str().unwrap_or_default().to_owned();
        if e["action"] == "create"
            && e["error"].is_null()
            && (addr.starts_with("random_id.") || addr.starts_with("null_resource."))
        {
            created
                .entry(addr)
                .or_default()
                .push(e["id"].as_str().unwrap_or_default().to_owned());
        }
    }
    assert_eq!(created.len(), 200, "every create was logged");
    for (addr, ids) in &created {
        assert!(
            ids.iter().all(|i| i == &ids[0]),
            "{addr} was created as different objects: {ids:?}"
        );
        let key = addr.clone();
        assert_eq!(
            final_results.get(&key).map(|r| &r.1),
            Some(&ids[0]),
            "{addr}: the state holds another object than the one created"
        );
    }

    // And the next plan has nothing to do.
    let plan = vitrina()
        .args(["tf", "plan"])
        .arg(dir.path())
        .arg("--json")
        .output()
        .expect("plan");
    assert!(
        plan.status.success(),
        "{}",
        String::from_utf8_lossy(&plan.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&plan.stdout).expect("plan JSON");
    assert_eq!(json["summary"]["add"], 0, "{json}");
    assert_eq!(json["summary"]["change"], 0);
    assert_eq!(json["summary"]["destroy"], 0);
}
