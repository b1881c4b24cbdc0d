//! The agent's loop: register, heartbeat, long-poll work, run steps in order, keep checks going.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use vitrina_agent_api::wire::*;
use vitrina_agent_api::{AgentClient, ClientError};
use vitrina_common::Secret;

use crate::journal::{Entry, Journal};
use crate::liveness::Liveness;
use crate::runner::{run_step, signal_group, Context};
use crate::{log, AgentError, Settings};

/// How long one long-poll waits for new work.
const POLL: Duration = Duration::from_secs(30);

/// A name safe for a file: a readable part and a hash of the whole.
pub fn file_key(name: &str) -> String {
    let readable: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    let h = hex::encode(&Sha256::digest(name.as_bytes())[..6]);
    format!("{readable}-{h}")
}

fn refused(e: &ClientError) -> bool {
    e.status().map(|s| s.as_u16()) == Some(401)
}

type Shared = Arc<Mutex<(Status, Option<String>)>>;

fn set_status(s: &Shared, status: Status, reason: Option<String>) {
    if let Ok(mut g) = s.lock() {
        *g = (status, reason);
    }
}

struct Agent {
    client: AgentClient,
    journal: Journal,
    settings: Settings,
    deployment: String,
    host: String,
    status: Shared,
}

/// Runs until the token is refused or the agent is told to stop (`SIGTERM`, `SIGINT`); only
/// that orderly stop removes the liveness marker (see [`crate::liveness`]).
pub async fn run(settings: Settings) -> Result<(), AgentError> {
    let (liveness, previous) =
        Liveness::claim(&settings.run_dir).map_err(|source| AgentError::Run {
            path: settings.run_dir.clone(),
            source,
        })?;
    if let Some(note) = &previous {
        log(note);
    }
    use tokio::signal::unix::{signal, SignalKind};
    let listen = |kind| {
        signal(kind).map_err(|source| AgentError::Run {
            path: settings.run_dir.clone(),
            source,
        })
    };
    let (mut term, mut int) = (
        listen(SignalKind::terminate())?,
        listen(SignalKind::interrupt())?,
    );
    let outcome = tokio::select! {
        r = work(settings, previous) => r,
        _ = term.recv() => Ok(()),
        _ = int.recv() => Ok(()),
    };
    if outcome.is_ok() {
        log("stopping");
        liveness.release();
    }
    outcome
}

async fn work(settings: Settings, previous: Option<String>) -> Result<(), AgentError> {
    let token =
        std::fs::read_to_string(&settings.token_file).map_err(|source| AgentError::Token {
            path: settings.token_file.clone(),
            source,
        })?;
    let token = token.trim();
    if token.is_empty() {
        return Err(AgentError::EmptyToken(settings.token_file.clone()));
    }
    let client = AgentClient::new(&settings.server, Secret::new(token))?;
    for sub in ["scripts", "result"] {
        let p = settings.state_dir.join(sub);
        std::fs::create_dir_all(&p).map_err(|source| AgentError::State { path: p, source })?;
    }
    let journal = Journal::open(&settings.state_dir).map_err(|source| AgentError::State {
        path: settings.state_dir.clone(),
        source,
    })?;
    // Steps cut off by a crash of the agent: stop what is left of them; they run again.
    for pgid in journal.running() {
        signal_group(pgid, nix::sys::signal::Signal::SIGKILL);
    }
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    let mut backoff = Duration::from_millis(200);
    let reg = loop {
        match client
            .register(&RegisterRequest {
                version: env!("CARGO_PKG_VERSION").to_owned(),
                hostname: hostname.clone(),
                unexpected_restart: previous.clone(),
            })
            .await
        {
            Ok(r) => break r,
            Err(e) if refused(&e) => return Err(AgentError::Refused),
            Err(e) => {
                log(format!("cannot register yet: {e}"));
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
    };
    log(format!(
        "registered as host `{}` of deployment {}",
        reg.host, reg.deployment
    ));
    let status: Shared = Arc::new(Mutex::new((Status::Running, None)));
    tokio::spawn(heartbeats(
        client.clone(),
        status.clone(),
        Duration::from_millis(reg.heartbeat_ms.max(200)),
    ));
    if let Some(file) = settings.script_token.clone() {
        tokio::spawn(crate::script_token::keep_fresh(client.clone(), file));
    }
    let agent = Agent {
        client,
        journal,
        settings,
        deployment: reg.deployment.to_string(),
        host: reg.host.to_string(),
        status,
    };
    agent.resend().await;
    agent.serve().await
}

async fn heartbeats(client: AgentClient, status: Shared, every: Duration) {
    loop {
        let (s, reason) = status
            .lock()
            .map(|g| g.clone())
            .unwrap_or((Status::Running, None));
        if let Err(e) = client.heartbeat(&Heartbeat { status: s, reason }).await {
            log(format!("heartbeat failed: {e}"));
        }
        tokio::time::sleep(every).await;
    }
}

impl Agent {
    /// Sends the finished results the config service has not stored yet.
    async fn resend(&self) {
        for report in self.journal.unacked() {
            self.deliver(&report).await;
        }
    }

    /// Reports a finished step until the service stores it (or refuses it for good).
    async fn deliver(&self, report: &StepReport) {
        let mut backoff = Duration::from_millis(200);
        for _ in 0..50 {
            match self.client.report_step(report).await {
                Ok(()) => {
                    let entry = Entry::Finished {
                        report: Box::new(report.clone()),
                        acked: true,
                    };
                    if let Err(e) =
                        self.journal
                            .put(&report.group, report.index, &report.hash, &entry)
                    {
                        log(format!("journal: {e}"));
                    }
                    return;
                }
                Err(e) if !e.retryable() => {
                    log(format!(
                        "result of step {} of `{}` refused: {e}",
                        report.index, report.group
                    ));
                    return;
                }
                Err(e) => {
                    log(format!("cannot report yet: {e}"));
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        }
    }

    async fn serve(self) -> Result<(), AgentError> {
        let mut known = -1;
        let mut checks: BTreeMap<String, (i64, Vec<tokio::task::JoinHandle<()>>)> = BTreeMap::new();
        loop {
            let work = match self.client.work(known, POLL).await {
                Ok(w) => w,
                Err(e) if refused(&e) => return Err(AgentError::Refused),
                Err(e) => {
                    log(format!("cannot fetch work: {e}"));
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    continue;
                }
            };
            known = work.revision;
            // Results a restarting server did not take yet go again before anything new runs.
            self.resend().await;
            self.update_checks(&work, &mut checks);
            self.run_groups(&work).await;
        }
    }

    fn update_checks(
        &self,
        work: &Work,
        running: &mut BTreeMap<String, (i64, Vec<tokio::task::JoinHandle<()>>)>,
    ) {
        let wanted: BTreeMap<&str, &WorkCheckSet> =
            work.checks.iter().map(|c| (c.name.as_str(), c)).collect();
        running.retain(|name, (revision, tasks)| {
            let keep = wanted
                .get(name.as_str())
                .map(|w| w.revision == *revision)
                .unwrap_or(false);
            if !keep {
                for t in tasks.iter() {
                    t.abort();
                }
            }
            keep
        });
        for (name, set) in wanted {
            if running.contains_key(name) {
                continue;
            }
            let tasks = set
                .checks
                .iter()
                .enumerate()
                .map(|(i, check)| {
                    tokio::spawn(crate::checks::run_forever(
                        self.client.clone(),
                        crate::checks::CheckTask {
                            set: name.to_owned(),
                            revision: set.revision,
                            index: u32::try_from(i).unwrap_or(u32::MAX),
                            check: check.clone(),
                            deployment: self.deployment.clone(),
                            host: self.host.clone(),
                            scripts_dir: self.settings.state_dir.join("scripts"),
                        },
                    ))
                })
                .collect();
            running.insert(name.to_owned(), (set.revision, tasks));
        }
    }

    async fn run_groups(&self, work: &Work) {
        let mut failure: Option<String> = None;
        for group in &work.groups {
            if let Err(reason) = self.run_group(group).await {
                failure.get_or_insert(reason);
            }
        }
        match failure {
            Some(reason) => set_status(&self.status, Status::Failed, Some(reason)),
            None => set_status(&self.status, Status::Ok, None),
        }
    }

    /// Runs the group's steps that are not done, in index order; stops at the first failure.
    async fn run_group(&self, group: &WorkGroup) -> Result<(), String> {
        for ws in &group.steps {
            let (step, hash) = (&ws.step, ws.hash.as_str());
            // What ran is what this machine's journal says (VK: the agent reports the hashes of
            // the scripts it executed), so a replaced host runs the steps again; only `once`
            // steps also count a success the config service saw on an earlier machine.
            if step.options.once && (ws.done || self.journal.once_done(&group.name, step.index)) {
                continue;
            }
            match self.journal.get(&group.name, step.index, hash) {
                Some(Entry::Finished { report, acked }) if report.status == Status::Ok => {
                    if !acked {
                        self.deliver(&report).await;
                    }
                    continue;
                }
                Some(Entry::Finished { report, acked }) if report.revision == group.revision => {
                    if !acked {
                        self.deliver(&report).await;
                    }
                    return Err(failure_reason(&group.name, &report));
                }
                _ => {}
            }
            set_status(&self.status, Status::Running, None);
            let report = self.run(group, step, hash).await;
            if report.status != Status::Ok {
                return Err(failure_reason(&group.name, &report));
            }
        }
        Ok(())
    }

    async fn run(&self, group: &WorkGroup, step: &Step, hash: &str) -> StepReport {
        log(format!("running step {} of `{}`", step.index, group.name));
        let mark = |pgid: i32| {
            let e = Entry::Running {
                revision: group.revision,
                pgid,
            };
            if let Err(err) = self.journal.put(&group.name, step.index, hash, &e) {
                log(format!("journal: {err}"));
            }
        };
        mark(0);
        let mut report = StepReport {
            group: group.name.clone(),
            revision: group.revision,
            index: step.index,
            hash: hash.to_owned(),
            status: Status::Running,
            exit_code: None,
            attempt: 1,
            stdout_tail: String::new(),
            stderr_tail: String::new(),
            structured_result: None,
            message: None,
        };
        if let Err(e) = self.client.report_step(&report).await {
            log(format!(
                "cannot report the start of step {}: {e}",
                step.index
            ));
        }
        let scripts = self.settings.state_dir.join("scripts");
        let name = format!("{}-{}", file_key(&group.name), step.index);
        let ctx = Context {
            deployment: &self.deployment,
            host: &self.host,
            scripts_dir: &scripts,
            name: &name,
        };
        let outcome = run_step(&ctx, step.kind, &step.content, &step.options, &|_, pgid| {
            mark(pgid)
        })
        .await;
        report.status = if outcome.ok {
            Status::Ok
        } else {
            Status::Failed
        };
        report.exit_code = outcome.last.exit_code;
        report.attempt = outcome.attempt;
        report.stdout_tail = outcome.last.stdout;
        report.stderr_tail = outcome.last.stderr;
        report.structured_result = outcome.structured;
        report.message = outcome.message;
        let entry = Entry::Finished {
            report: Box::new(report.clone()),
            acked: false,
        };
        if let Err(e) = self.journal.put(&group.name, step.index, hash, &entry) {
            log(format!("journal: {e}"));
        }
        if step.options.store_result {
            let dir = self
                .settings
                .state_dir
                .join("result")
                .join(file_key(&group.name));
            let _ = std::fs::create_dir_all(&dir);
            if let Ok(bytes) = serde_json::to_vec_pretty(&report) {
                let _ = vitrina_common::fs::write_atomic(
                    &dir.join(format!("{}.json", step.index)),
                    &bytes,
                    Some(0o600),
                );
            }
        }
        log(format!(
            "step {} of `{}`: {} (attempt {}, exit code {:?})",
            step.index,
            group.name,
            report.status.as_str(),
            report.attempt,
            report.exit_code
        ));
        self.deliver(&report).await;
        report
    }
}

fn failure_reason(group: &str, r: &StepReport) -> String {
    format!(
        "step {} of `{group}` failed: {}",
        r.index,
        r.message.as_deref().unwrap_or("failed")
    )
}
