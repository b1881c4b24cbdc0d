//! The server's structured logs (`vitrina_server::logging`, the lines `vitrina serve` writes to
//! stderr) captured in a test binary, and the check that no secret appears in any of them.
#![allow(dead_code)]

use std::sync::{Arc, Mutex, OnceLock};

use vitrina_server::logging::{install as install_logger, Filter, LineLogger};

#[derive(Clone)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Buf {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

static CAPTURED: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

/// Captures every log line of this test binary from now on (vitrina's own at `debug`).
pub fn install() {
    CAPTURED.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let filter = Filter::parse(
            "info,sqlx=warn,vitrina_server=debug,vitrina_engine=debug,vitrina_providers=debug,vitrina_localcloud=debug,vitrina_openstack=debug",
        )
        .expect("filter");
        assert!(
            install_logger(LineLogger::new(filter, Buf(buf.clone()))),
            "another log subscriber is installed"
        );
        buf
    });
}

/// Every line captured so far.
pub fn lines() -> Vec<String> {
    let Some(buf) = CAPTURED.get() else {
        panic!("log_capture::install() was not called");
    };
    let bytes = buf
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    String::from_utf8_lossy(&bytes)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Panics when one of `secrets` (what it is, its value) appears in a captured line; returns
/// how many lines were checked.
pub fn assert_no_secret(secrets: &[(&str, String)]) -> usize {
    let lines = lines();
    for (what, secret) in secrets {
        assert!(secret.len() >= 8, "the {what} is too short to look for");
        if let Some(line) = lines.iter().find(|l| l.contains(secret.as_str())) {
            panic!("the {what} appears in the server's log: {line}");
        }
    }
    lines.len()
}

/// The lines of a PEM private key's body (what must never be logged).
pub fn key_body(pem: &str) -> Vec<String> {
    pem.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("-----") && l.len() >= 16)
        .map(str::to_owned)
        .collect()
}
