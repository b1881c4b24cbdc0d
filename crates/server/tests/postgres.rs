//! The same migrations and queries on PostgreSQL: a throw-away cluster on 127.0.0.1 (initdb +
//! postgres as the `postgres` user), the schema compared column by column with SQLite's, and the
//! config service's round trip through it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use vitrina_agent_api::wire::*;
use vitrina_agent_api::{AgentClient, EngineClient};
use vitrina_common::{DeploymentId, Secret};
use vitrina_server::{Server, ServerConfig, Store};

const INSTALL: &str =
    "PostgreSQL is needed: `apt-get install postgresql` (scripts/test.sh does it)";

fn pg_bin(name: &str) -> PathBuf {
    if let Ok(rd) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<PathBuf> = rd
            .flatten()
            .map(|e| e.path().join("bin").join(name))
            .filter(|p| p.is_file())
            .collect();
        versions.sort();
        if let Some(p) = versions.pop() {
            return p;
        }
    }
    let p = Path::new("/usr/local/bin").join(name);
    assert!(p.is_file(), "no `{name}`: {INSTALL}");
    p
}

/// A PostgreSQL cluster in a temp folder, stopped (`pg_ctl stop`) when dropped.
struct Postgres {
    data: PathBuf,
    _dir: tempfile::TempDir,
    url: String,
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = as_postgres(&pg_bin("pg_ctl"))
            .args(["-m", "immediate", "-w", "-D"])
            .arg(&self.data)
            .arg("stop")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn as_postgres(bin: &Path) -> Command {
    // initdb and postgres refuse to run as root.
    let root = std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false);
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin);
        c
    } else {
        Command::new(bin)
    }
}

fn start_postgres() -> Postgres {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("pg");
    std::fs::create_dir_all(&data).expect("pg dir");
    let _ = Command::new("chown")
        .args(["-R", "postgres:postgres"])
        .arg(dir.path())
        .status();
    let out = as_postgres(&pg_bin("initdb"))
        .args(["-A", "trust", "-U", "postgres", "-D"])
        .arg(&data)
        .output()
        .unwrap_or_else(|e| panic!("initdb: {e}; {INSTALL}"));
    assert!(
        out.status.success(),
        "initdb failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("free port")
        .local_addr()
        .expect("addr")
        .port();
    let options = format!("-h 127.0.0.1 -p {port} -k {}", dir.path().display());
    let out = as_postgres(&pg_bin("pg_ctl"))
        .args(["-w", "-t", "60", "-D"])
        .arg(&data)
        .args(["-o", &options, "-l"])
        .arg(dir.path().join("pg.log"))
        .arg("start")
        .output()
        .unwrap_or_else(|e| panic!("pg_ctl: {e}; {INSTALL}"));
    let pg = Postgres {
        data,
        _dir: dir,
        url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
    };
    assert!(
        out.status.success(),
        "pg_ctl start failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "postgres did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    pg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_give_the_same_schema_and_the_service_works_on_postgres() {
    let pg = start_postgres();
    // PostgreSQL may accept connections a moment before it accepts logins.
    let deadline = Instant::now() + Duration::from_secs(60);
    let store = loop {
        match Store::open(&pg.url).await {
            Ok(s) => break s,
            Err(e) => {
                assert!(Instant::now() < deadline, "cannot open the store: {e:?}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite = Store::open(&format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("s.db").display()
    ))
    .await
    .expect("sqlite");
    assert_eq!(
        store.schema_columns().await.expect("pg columns"),
        sqlite.schema_columns().await.expect("sqlite columns")
    );
    assert_eq!(
        store.applied_migrations().await.expect("pg"),
        vitrina_server::store::MIGRATIONS
            .iter()
            .map(|m| m.0)
            .collect::<Vec<_>>()
    );
    // Opening again applies nothing twice.
    Store::open(&pg.url).await.expect("reopen");
    store.close().await;
    sqlite.close().await;

    let mut cfg = ServerConfig::new(
        "127.0.0.1:0".parse().expect("addr"),
        dir.path().join("server"),
    );
    cfg.database_url = Some(pg.url.clone());
    let server = Server::start(cfg).await.expect("server on postgres");
    let engine = EngineClient::new(&server.url, server.engine_token.clone()).expect("engine");
    let d = DeploymentId::new_v4();
    let host = "n1".parse().expect("host");
    let creds = engine.agent_credentials(&d, &host).await.expect("creds");
    let agent = AgentClient::new(&server.url, creds.token).expect("agent");
    let step = Step {
        index: 1,
        kind: ScriptType::Bash,
        content: Secret::new("true"),
        options: StepOptions::default(),
    };
    let v = engine
        .put_group(
            &d,
            "g",
            &ExecGroupSpec {
                hosts: vec![host.clone()],
                steps: vec![step.clone()],
            },
        )
        .await
        .expect("put group");
    let work = agent.work(-1, Duration::ZERO).await.expect("work");
    assert_eq!(work.groups.len(), 1);
    agent
        .report_step(&StepReport {
            group: "g".into(),
            revision: v.revision,
            index: 1,
            hash: step.hash(),
            status: Status::Ok,
            exit_code: Some(0),
            attempt: 1,
            stdout_tail: "ok".into(),
            stderr_tail: String::new(),
            structured_result: Some(serde_json::json!({"a": 1})),
            message: None,
        })
        .await
        .expect("report");
    let r = engine.group_results(&d, "g").await.expect("results");
    assert_eq!(r.hosts[0].status, Status::Ok);
    let res = engine
        .step_result(&d, &host, "g", 1)
        .await
        .expect("step result");
    assert_eq!(res.structured_result, Some(serde_json::json!({"a": 1})));
    server.stop().await;
}
