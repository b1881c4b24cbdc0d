//! End to end on one machine: `vitrina serve --demo` (config service + localcloud under
//! `/cloud`), then `. DATA/demo.env && vitrina tf apply examples/tf/localcloud-agent`: the VM's
//! user data downloads and starts `vitrina-agent`, the agent runs both exec groups (the first
//! one's structured result reaches the second), the check turns healthy, and `destroy` cleans up.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const EXAMPLE: &str = include_str!("../../../examples/tf/localcloud-agent/main.tf");

/// `vitrina serve` and the VMs it started; both stopped when dropped, even after a failure.
struct Serve {
    child: Child,
    data: PathBuf,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // VM process groups left behind by a failed test.
        if let Ok(rd) = std::fs::read_dir(self.data.join("cloud/instances")) {
            for e in rd.flatten() {
                if let Ok(pid) = std::fs::read_to_string(e.path().join("var/lib/cloud/pid")) {
                    let _ = Command::new("kill")
                        .args(["-KILL", "--", &format!("-{}", pid.trim())])
                        .stderr(Stdio::null())
                        .status();
                }
            }
        }
    }
}

/// The `vitrina-agent` built beside `vitrina` (built on demand when only this package's tests
/// were built).
fn agent_binary() -> PathBuf {
    let path = Path::new(env!("CARGO_BIN_EXE_vitrina")).with_file_name("vitrina-agent");
    if !path.is_file() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", "vitrina-agent", "--bin", "vitrina-agent"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "cannot build vitrina-agent");
    }
    assert!(path.is_file(), "no vitrina-agent at {}", path.display());
    path
}

fn demo_env(data: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(data.join("demo.env")).expect("demo.env");
    text.lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.trim_matches('\'').to_owned()))
        .collect()
}

fn vitrina(env: &[(String, String)], args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vitrina"))
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env_remove("OS_AUTH_URL")
        .env_remove("OS_PASSWORD")
        .env_remove("OS_USERNAME")
        .output()
        .expect("vitrina runs")
}

fn must(env: &[(String, String)], args: &[&str]) -> String {
    let out = vitrina(env, args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "vitrina {args:?} failed with {}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn apply_on_localcloud_installs_the_agent_and_runs_the_steps() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let child = Command::new(env!("CARGO_BIN_EXE_vitrina"))
        .args(["serve", "--listen", "127.0.0.1:0", "--demo", "--data"])
        .arg(&data)
        .env("VITRINA_AGENT_BINARY", agent_binary())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("vitrina serve starts");
    let serve = Serve {
        child,
        data: data.clone(),
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while !data.join("demo.env").is_file() {
        assert!(Instant::now() < deadline, "vitrina serve wrote no demo.env");
        std::thread::sleep(Duration::from_millis(100));
    }
    let env = demo_env(&data);
    let tf = dir.path().join("tf");
    std::fs::create_dir_all(&tf).expect("tf dir");
    std::fs::write(tf.join("main.tf"), EXAMPLE).expect("main.tf");
    let tf_s = tf.to_str().expect("utf-8 path");

    let started = Instant::now();
    must(&env, &["tf", "apply", tf_s, "--auto-approve"]);
    eprintln!(
        "apply (VM boot, agent install, two exec groups, check): {:?}",
        started.elapsed()
    );
    let outputs: serde_json::Value =
        serde_json::from_str(&must(&env, &["tf", "output", tf_s, "--json"])).expect("outputs");
    let cluster = outputs["cluster_id"]["value"]
        .as_str()
        .expect("cluster_id")
        .to_owned();
    assert_eq!(cluster.len(), 36, "{outputs}");
    // The second step wrote the first one's result inside the VM's root.
    let instances = std::fs::read_dir(data.join("cloud/instances")).expect("instances");
    let written: Vec<String> = instances
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("srv/demo/cluster")).ok())
        .collect();
    assert_eq!(written, vec![format!("{cluster}\n")]);
    // Nothing to do on a second plan.
    let plan = must(&env, &["tf", "plan", tf_s, "--json"]);
    let plan: serde_json::Value = serde_json::from_str(&plan).expect("plan json");
    let changes: Vec<&serde_json::Value> = plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|c| c["action"] != "no-op" && c["action"] != "read")
        .collect();
    assert!(changes.is_empty(), "{changes:#?}");

    must(&env, &["tf", "destroy", tf_s, "--auto-approve"]);
    drop(serve);
}
