//! A throw-away PostgreSQL cluster on 127.0.0.1 for the store's tests (initdb + postgres as the
//! `postgres` user); a missing installation fails with how to install it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
pub struct Postgres {
    data: PathBuf,
    _dir: tempfile::TempDir,
    pub url: String,
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

pub fn start_postgres() -> Postgres {
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
