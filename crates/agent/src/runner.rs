//! Runs one script the way VK's agent does: `type` bash/python, `environment_variables`, `cwd`,
//! `user`/`group`, `timeout` → `stop_signal` to the process group → SIGKILL after
//! `stop_timeout`, `exit_codes`, `halt_codes`, `attempts` with `attempt_pause`, `pause_before`,
//! `pause_after`, `structured_result_file`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::AsyncReadExt;
use vitrina_agent_api::wire::{ScriptType, StepOptions, MAX_STRUCTURED_BYTES, TAIL_BYTES};
use vitrina_common::Secret;

/// What one attempt came to.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub exit_code: Option<i64>,
    pub timed_out: bool,
    pub stdout: String,
    pub stderr: String,
    /// Set when the script could not start (missing interpreter, bad cwd).
    pub start_error: Option<String>,
}

/// The outcome of a whole step (every attempt).
#[derive(Debug, Clone)]
pub struct Outcome {
    pub ok: bool,
    pub attempt: u32,
    pub last: Attempt,
    pub structured: Option<serde_json::Value>,
    pub message: Option<String>,
}

/// Identity of what runs, for the environment and the script's file name.
pub struct Context<'a> {
    pub deployment: &'a str,
    pub host: &'a str,
    pub scripts_dir: &'a Path,
    pub name: &'a str,
}

/// A path from a manifest inside this machine: under `$VITRINA_ROOT` when a `localcloud` process
/// VM sets it (the VM's own `/`), as is elsewhere.
pub fn in_root(path: &str) -> PathBuf {
    match std::env::var_os(vitrina_common::env::ROOT) {
        Some(root) if !root.is_empty() && path.starts_with('/') => {
            let mut p = PathBuf::from(root);
            p.push(path.trim_start_matches('/'));
            p
        }
        _ => PathBuf::from(path),
    }
}

/// Removes a folder when dropped.
struct RemoveDir(PathBuf);

impl Drop for RemoveDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A bounded buffer keeping the last `TAIL_BYTES` bytes.
#[derive(Default)]
struct Tail(Vec<u8>);

impl Tail {
    fn push(&mut self, chunk: &[u8]) {
        self.0.extend_from_slice(chunk);
        if self.0.len() > 2 * TAIL_BYTES {
            let cut = self.0.len() - TAIL_BYTES;
            self.0.drain(..cut);
        }
    }
    fn text(&self) -> String {
        vitrina_agent_api::wire::tail(&String::from_utf8_lossy(&self.0), TAIL_BYTES)
    }
}

fn spawn_reader<R: tokio::io::AsyncRead + Unpin + Send + 'static>(
    mut r: R,
    into: Arc<Mutex<Tail>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut buf = vec![0u8; 8192];
        loop {
            match r.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if let (Ok(mut t), Some(chunk)) = (into.lock(), buf.get(..n)) {
                        t.push(chunk);
                    }
                }
            }
        }
    })
}

fn signal_of(n: i32) -> Signal {
    Signal::try_from(n).unwrap_or(Signal::SIGTERM)
}

/// Sends `sig` to a process group; "no such process" is fine.
pub fn signal_group(pgid: i32, sig: Signal) {
    if pgid > 1 {
        let _ = killpg(Pid::from_raw(pgid), sig);
    }
}

/// Looks up `user` and `group`; `None` (run as the agent's own user) when not found or when the
/// agent is not root, as VK documents ("if not found, the default user").
fn ids(options: &StepOptions) -> (Option<u32>, Option<u32>) {
    if !nix::unistd::Uid::effective().is_root() {
        return (None, None);
    }
    let uid = nix::unistd::User::from_name(&options.user)
        .ok()
        .flatten()
        .map(|u| u.uid.as_raw());
    let gid = nix::unistd::Group::from_name(&options.group)
        .ok()
        .flatten()
        .map(|g| g.gid.as_raw());
    (uid, gid)
}

/// Runs the script once. `started` gets the process group as soon as it exists.
pub async fn run_once(
    ctx: &Context<'_>,
    kind: ScriptType,
    content: &Secret,
    options: &StepOptions,
    started: &(dyn Fn(i32) + Sync),
) -> Attempt {
    let fail = |msg: String| Attempt {
        exit_code: None,
        timed_out: false,
        stdout: String::new(),
        stderr: String::new(),
        start_error: Some(msg),
    };
    let ext = match kind {
        ScriptType::Bash => "sh",
        ScriptType::Python => "py",
    };
    let (uid, gid) = ids(options);
    // Run as another user: the script goes to a private folder that user owns (the agent's
    // state folder may not be reachable for it).
    let (script, private_dir) = match uid {
        Some(uid) => {
            let dir = std::env::temp_dir().join(format!(
                "vitrina-agent-{}-{}",
                ctx.name,
                std::process::id()
            ));
            let made = std::fs::create_dir_all(&dir).and_then(|()| {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
                std::os::unix::fs::chown(&dir, Some(uid), gid)
            });
            if let Err(e) = made {
                return fail(format!(
                    "cannot prepare a folder for user `{}`: {e}",
                    options.user
                ));
            }
            (dir.join(format!("script.{ext}")), Some(dir))
        }
        None => (ctx.scripts_dir.join(format!("{}.{ext}", ctx.name)), None),
    };
    if let Err(e) =
        vitrina_common::fs::write_atomic(&script, content.expose().as_bytes(), Some(0o700))
    {
        return fail(format!("cannot write the script: {e}"));
    }
    if let Some(uid) = uid {
        if let Err(e) = std::os::unix::fs::chown(&script, Some(uid), gid) {
            return fail(format!(
                "cannot hand the script to user `{}`: {e}",
                options.user
            ));
        }
    }
    let _cleanup = private_dir.map(RemoveDir);
    let cwd = {
        let inside = in_root(&options.cwd);
        if inside.is_dir() {
            inside
        } else {
            PathBuf::from(&options.cwd)
        }
    };
    if !cwd.is_dir() {
        return fail(format!("`cwd` {} is not a directory", options.cwd));
    }
    let mut cmd = match kind {
        ScriptType::Bash => tokio::process::Command::new("bash"),
        ScriptType::Python => tokio::process::Command::new("python3"),
    };
    cmd.arg(&script)
        .current_dir(&cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env(vitrina_common::env::DEPLOYMENT, ctx.deployment)
        .env(vitrina_common::env::HOSTNAME, ctx.host)
        .process_group(0)
        .kill_on_drop(false);
    for kv in &options.environment_variables {
        if let Some((k, v)) = kv.expose().split_once('=') {
            if !k.is_empty() {
                cmd.env(k, v);
            }
        }
    }
    if let Some(gid) = gid {
        cmd.gid(gid);
    }
    if let Some(uid) = uid {
        cmd.uid(uid);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let what = match kind {
                ScriptType::Bash => "bash",
                ScriptType::Python => "python3",
            };
            return fail(format!("cannot start {what}: {e}"));
        }
    };
    let pgid = child.id().and_then(|p| i32::try_from(p).ok()).unwrap_or(0);
    started(pgid);
    let out = Arc::new(Mutex::new(Tail::default()));
    let err = Arc::new(Mutex::new(Tail::default()));
    let readers = [
        child.stdout.take().map(|s| spawn_reader(s, out.clone())),
        child.stderr.take().map(|s| spawn_reader(s, err.clone())),
    ];
    let timeout = Duration::from_millis(options.timeout_ms.max(1));
    let mut timed_out = false;
    let status = match tokio::time::timeout(timeout, child.wait()).await {
        Ok(s) => s.ok(),
        Err(_) => {
            timed_out = true;
            signal_group(pgid, signal_of(options.stop_signal));
            let grace = Duration::from_millis(options.stop_timeout_ms);
            match tokio::time::timeout(grace, child.wait()).await {
                Ok(s) => s.ok(),
                Err(_) => {
                    signal_group(pgid, Signal::SIGKILL);
                    child.wait().await.ok()
                }
            }
        }
    };
    // Background processes the script left may hold the pipes: give the readers a moment.
    for r in readers.into_iter().flatten() {
        let abort = r.abort_handle();
        if tokio::time::timeout(Duration::from_secs(2), r)
            .await
            .is_err()
        {
            abort.abort();
        }
    }
    let exit_code = status.and_then(|s| s.code()).map(i64::from);
    let text = |t: &Arc<Mutex<Tail>>| t.lock().map(|t| t.text()).unwrap_or_default();
    Attempt {
        exit_code,
        timed_out,
        stdout: text(&out),
        stderr: text(&err),
        start_error: None,
    }
}

fn read_structured(path: &str) -> Result<serde_json::Value, String> {
    let p = in_root(path);
    let meta = std::fs::metadata(&p).map_err(|e| format!("structured_result_file {path}: {e}"))?;
    if meta.len() > MAX_STRUCTURED_BYTES as u64 {
        return Err(format!(
            "structured_result_file {path} is larger than {MAX_STRUCTURED_BYTES} bytes"
        ));
    }
    let bytes = std::fs::read(&p).map_err(|e| format!("structured_result_file {path}: {e}"))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| format!("structured_result_file {path} is not JSON: {e}"))
}

/// Runs a step with every attempt and pause. `on_attempt` is told of each attempt's start and
/// process group.
pub async fn run_step(
    ctx: &Context<'_>,
    kind: ScriptType,
    content: &Secret,
    options: &StepOptions,
    on_attempt: &(dyn Fn(u32, i32) + Sync),
) -> Outcome {
    tokio::time::sleep(Duration::from_millis(options.pause_before_ms)).await;
    if let Some(path) = &options.structured_result_file {
        // A stale file from an earlier run must not pass for this run's result.
        let _ = std::fs::remove_file(in_root(path));
    }
    let attempts = options.attempts.max(1);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let n = attempt;
        let last = run_once(ctx, kind, content, options, &|pgid| on_attempt(n, pgid)).await;
        let message = match (&last.start_error, last.timed_out, last.exit_code) {
            (Some(e), _, _) => e.clone(),
            (None, true, _) => {
                format!(
                    "timed out after {}s (sent signal {}, SIGKILL after {}s)",
                    options.timeout_ms / 1000,
                    options.stop_signal,
                    options.stop_timeout_ms / 1000
                )
            }
            (None, false, Some(code)) if options.is_success(code) => {
                let structured = match &options.structured_result_file {
                    Some(path) => match read_structured(path) {
                        Ok(v) => Some(v),
                        Err(e) => {
                            return finish_failed(attempt, last, e);
                        }
                    },
                    None => None,
                };
                tokio::time::sleep(Duration::from_millis(options.pause_after_ms)).await;
                return Outcome {
                    ok: true,
                    attempt,
                    last,
                    structured,
                    message: None,
                };
            }
            (None, false, Some(code)) if options.is_halt(code) => {
                let m = format!("exit code {code} is a halt code: no more attempts");
                return finish_failed(attempt, last, m);
            }
            (None, false, Some(code)) => format!("exit code {code}"),
            (None, false, None) => "killed by a signal".to_owned(),
        };
        if attempt >= attempts {
            let m = format!("{message} (attempt {attempt} of {attempts})");
            return finish_failed(attempt, last, m);
        }
        tokio::time::sleep(Duration::from_millis(options.attempt_pause_ms)).await;
    }
}

fn finish_failed(attempt: u32, last: Attempt, message: String) -> Outcome {
    Outcome {
        ok: false,
        attempt,
        last,
        structured: None,
        message: Some(message),
    }
}
