//! Workers: take a leased job from the database, run plan + apply (or destroy) for the object
//! with providers configured for its project, write the state to the object's row under the
//! lease with a generation check, and end the job (done, retry later with back-off, or failed).
//!
//! A lease is renewed every third of its length; when renewal fails (another worker took the
//! job after this one stalled) the run is cancelled at its next safe point and writes nothing
//! more. A run panicking is that job's failure, not the worker's death: each run is its own
//! task, and a `JoinError` is a failed attempt.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use vitrina_engine::context::{run_codes, Engine, VarInputs};
use vitrina_engine::hooks::Hook;
use vitrina_engine::plan::PlanMode;
use vitrina_engine::provider::BoxFuture;
use vitrina_engine::state::store::{StateStore, StateStoreError};
use vitrina_engine::state::sync::SyncState;
use vitrina_engine::state::{ObjectStatus, State};
use vitrina_engine::{Action, Cancel, InstanceAddr, ProviderRegistry};

use super::{place, rfc3339, Hoe, HoeError, Recovery, StoredOutput};
use crate::error::ServerError;
use crate::store::hoe::{JobEnd, LogRow, ObjectRow};
use crate::store::{now_ms, Store};

/// How a run ended.
enum RunResult {
    Done {
        outputs: BTreeMap<String, StoredOutput>,
        deleted: bool,
    },
    Failed {
        message: String,
        retryable: bool,
    },
    /// The lease was lost: another worker owns the job; write nothing.
    LeaseLost,
}

pub(super) async fn worker_loop(hoe: Arc<Hoe>, n: usize) {
    loop {
        if hoe.shutdown.is_cancelled() {
            return;
        }
        let owner = format!("{}#{n}:{}", hoe.worker_id, uuid::Uuid::new_v4().simple());
        let until = now_ms() + ms(hoe.settings.lease);
        match hoe.store.hoe_claim(&owner, until).await {
            Ok(Some(uuid)) => {
                run_job(&hoe, &uuid, &owner).await;
                continue;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "cannot look for deployment jobs"),
        }
        tokio::select! {
            () = tokio::time::sleep(hoe.settings.poll) => {}
            () = hoe.wake.notified() => {}
            () = hoe.shutdown.cancelled() => return,
        }
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Back-off before attempt `attempts + 1`.
fn backoff(hoe: &Hoe, attempts: i64) -> Duration {
    let shift = u32::try_from(attempts.clamp(1, 20) - 1).unwrap_or(0);
    hoe.settings
        .backoff_base
        .saturating_mul(1u32 << shift)
        .min(hoe.settings.backoff_max)
}

/// Renews the lease until dropped; cancels the run when the lease is lost.
async fn keep_lease(store: Store, uuid: String, owner: String, lease: Duration, cancel: Cancel) {
    let every = (lease / 3).max(Duration::from_millis(50));
    loop {
        tokio::time::sleep(every).await;
        match store.hoe_renew(&uuid, &owner, now_ms() + ms(lease)).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(%uuid, "lost the lease of a deployment job; stopping its run");
                cancel.cancel();
                return;
            }
            // A database hiccup: try again; the lease lasts three renewals.
            Err(e) => tracing::warn!(%uuid, error = %e, "cannot renew a deployment lease"),
        }
    }
}

async fn run_job(hoe: &Arc<Hoe>, uuid: &str, owner: &str) {
    let row = match hoe.store.hoe_leased_object(uuid, owner).await {
        Ok(Some(r)) => r,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(%uuid, error = %e, "cannot read a claimed deployment");
            return;
        }
    };
    let _ = hoe.store.hoe_job_started(uuid, owner).await;
    let cancel = Cancel::new();
    let keeper = tokio::spawn(keep_lease(
        hoe.store.clone(),
        uuid.to_owned(),
        owner.to_owned(),
        hoe.settings.lease,
        cancel.clone(),
    ));
    // Shutting down cancels the run too.
    let shutdown = hoe.shutdown.clone();
    let c2 = cancel.clone();
    let watcher = tokio::spawn(async move {
        shutdown.cancelled().await;
        c2.cancel();
    });
    let what = if row.target_status == "deleted" {
        "destroy"
    } else if let Some(h) = &row.recover_host {
        hoe.log(uuid, "info", format!("replacing failed host `{h}`"))
            .await;
        "recovery"
    } else {
        "apply"
    };
    hoe.log(
        uuid,
        "info",
        format!("{what} started (attempt {})", row.attempts + 1),
    )
    .await;
    let scrub = Arc::new(Scrubber::default());
    let sink = Arc::new(LogSink::new(hoe.clone(), uuid.to_owned(), scrub.clone()));
    let flusher = {
        let sink = sink.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                sink.flush().await;
            }
        })
    };
    let task = tokio::spawn(run(
        hoe.clone(),
        row.clone(),
        owner.to_owned(),
        cancel.clone(),
        sink.clone(),
        scrub.clone(),
    ));
    let result = match task.await {
        Ok(r) => r,
        Err(e) if e.is_panic() => RunResult::Failed {
            message: "internal error: the run panicked (a bug); it is retried".into(),
            retryable: true,
        },
        Err(_) => RunResult::Failed {
            message: "the run was stopped".into(),
            retryable: true,
        },
    };
    flusher.abort();
    sink.flush().await;
    watcher.abort();
    keeper.abort();
    let lost = cancel.is_cancelled() && !hoe.shutdown.is_cancelled();
    if lost || matches!(result, RunResult::LeaseLost) {
        return;
    }
    if hoe.shutdown.is_cancelled() {
        // Leave the job to whoever comes next (this process after a restart, or another one):
        // the lease expires and the job is taken over with the state saved so far.
        return;
    }
    finish(hoe, &row, owner, result, &scrub).await;
}

/// Ends the job: done, retried later, or failed.
async fn finish(hoe: &Arc<Hoe>, row: &ObjectRow, owner: &str, result: RunResult, scrub: &Scrubber) {
    let uuid = row.uuid.as_str();
    let now = now_ms();
    let mut recoveries: Vec<Recovery> = serde_json::from_str(&row.recoveries).unwrap_or_default();
    let mut close_recovery = |result: &str| {
        if let Some(h) = &row.recover_host {
            if let Some(r) = recoveries
                .iter_mut()
                .rev()
                .find(|r| &r.host == h && r.result.is_none())
            {
                r.result = Some(result.to_owned());
                r.finished_ms = Some(now);
            }
        }
    };
    let end = match result {
        RunResult::LeaseLost => return,
        RunResult::Done { outputs, deleted } => {
            close_recovery("replaced");
            let shown = if deleted { BTreeMap::new() } else { outputs };
            let outputs_sealed = match hoe.sealer.seal_json(&place("outputs", uuid), &shown) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(%uuid, error = %e, "cannot seal outputs");
                    return;
                }
            };
            let status = if deleted { "deleted" } else { "running" };
            hoe.log(uuid, "info", format!("the deployment is {status}"))
                .await;
            JobEnd {
                status: status.into(),
                full_deployed: !deleted,
                attempts: row.attempts,
                done_gen: Some(row.want_gen),
                next_run_at: now,
                outputs_sealed: Some(outputs_sealed),
                last_error_sealed: None,
                clear_recover_host: true,
                recoveries: Some(
                    serde_json::to_string(&recoveries).unwrap_or_else(|_| "[]".into()),
                ),
            }
        }
        RunResult::Failed { message, retryable } => {
            let message = scrub.scrub(&message);
            let attempts = row.attempts + 1;
            let again = retryable && row.retry && attempts < row.max_attempts;
            let sealed = hoe
                .sealer
                .seal(&place("error", uuid), message.as_bytes())
                .ok();
            if again {
                let wait = backoff(hoe, attempts);
                hoe.log(
                    uuid,
                    "error",
                    format!(
                        "attempt {attempts} of {} failed; retrying in {}s: {message}",
                        row.max_attempts,
                        wait.as_secs_f32()
                    ),
                )
                .await;
                JobEnd {
                    status: "applying".into(),
                    full_deployed: row.full_deployed,
                    attempts,
                    done_gen: None,
                    next_run_at: now + ms(wait),
                    outputs_sealed: None,
                    last_error_sealed: sealed,
                    clear_recover_host: false,
                    recoveries: None,
                }
            } else {
                close_recovery("failed");
                let why = if !row.retry {
                    "settings.yaml says `retry: no`"
                } else if !retryable {
                    "the error is not one a retry can fix"
                } else {
                    "no attempts left"
                };
                hoe.log(
                    uuid,
                    "error",
                    format!("failed after {attempts} attempt(s) ({why}): {message}"),
                )
                .await;
                JobEnd {
                    status: "failed".into(),
                    full_deployed: false,
                    attempts,
                    done_gen: Some(row.want_gen),
                    next_run_at: now,
                    outputs_sealed: None,
                    last_error_sealed: sealed,
                    clear_recover_host: true,
                    recoveries: Some(
                        serde_json::to_string(&recoveries).unwrap_or_else(|_| "[]".into()),
                    ),
                }
            }
        }
    };
    match hoe.store.hoe_job_end(uuid, owner, &end).await {
        Ok(true) => {
            if end.next_run_at > now {
                // Wake a worker when the back-off is over (polling would find it too).
                let hoe = hoe.clone();
                let wait = Duration::from_millis(u64::try_from(end.next_run_at - now).unwrap_or(0));
                tokio::spawn(async move {
                    tokio::time::sleep(wait).await;
                    hoe.wake.notify_one();
                });
            }
        }
        Ok(false) => tracing::warn!(%uuid, "the lease was lost before the job could end"),
        Err(e) => tracing::warn!(%uuid, error = %e, "cannot end a deployment job"),
    }
}

/// Everything a run needs from the row: the manifest, the variables, the state, the project's
/// cloud and the engine.
struct Prepared {
    config: vitrina_engine::config::Config,
    inputs: VarInputs,
    state: State,
    registry: ProviderRegistry,
}

async fn prepare(
    hoe: &Hoe,
    row: &ObjectRow,
    files: &BTreeMap<String, String>,
    vars: &serde_json::Map<String, serde_json::Value>,
    scrub: &Scrubber,
) -> Result<Prepared, (String, bool)> {
    let ctx = hoe
        .tenants
        .project_ctx_for_job(&row.project)
        .await
        .map_err(|e| (format!("the project is gone: {e}"), false))?;
    let creds = hoe
        .tenants
        .project_cloud(&ctx)
        .await
        .map_err(|e| (format!("the project's cloud: {e}"), e.retryable()))?;
    let (config, diags) = super::load_config(&hoe.env.run_dir, files);
    if diags.has_errors() {
        return Err((config.sources.render_text(&diags, ""), false));
    }
    // Values of sensitive variables never reach the logs.
    for (name, v) in &config.variables {
        if v.sensitive {
            if let Some(s) = vars.get(name).and_then(|x| x.as_str()) {
                scrub.add(s);
            }
        }
    }
    let mut inputs = VarInputs::default();
    for (k, v) in vars {
        inputs.set_json(k.clone(), v, "the object's `vars`");
    }
    if config.variables.contains_key("instance_uuid") {
        inputs.set_json(
            "instance_uuid",
            &serde_json::Value::String(row.uuid.clone()),
            "the deployment system",
        );
    }
    if config.variables.contains_key("email") && !vars.contains_key("email") {
        inputs.set_json(
            "email",
            &serde_json::Value::String(row.email.clone()),
            "the project's email",
        );
    }
    let state = match &row.state_sealed {
        None => State::new(),
        Some(s) => {
            let bytes = hoe
                .sealer
                .open(&place("state", &row.uuid), s)
                .map_err(|e| (format!("cannot open the stored state: {e}"), false))?;
            State::from_json(&bytes)
                .map_err(|e| (format!("the stored state is unreadable: {e}"), false))?
        }
    };
    scrub.add_state(&state);
    let mut env = BTreeMap::new();
    env.insert("OS_AUTH_URL".to_owned(), creds.auth_url.clone());
    env.insert("OS_USERNAME".to_owned(), creds.username.clone());
    env.insert("OS_PASSWORD".to_owned(), creds.password.expose().to_owned());
    env.insert(
        "OS_USER_DOMAIN_NAME".to_owned(),
        creds.user_domain_name.clone(),
    );
    env.insert(
        "OS_PROJECT_DOMAIN_NAME".to_owned(),
        creds.project_domain_name.clone(),
    );
    env.insert("OS_INTERFACE".to_owned(), creds.interface.clone());
    if let Some(p) = &creds.project_id {
        env.insert("OS_PROJECT_ID".to_owned(), p.clone());
    }
    if let Some(p) = &creds.project_name {
        env.insert("OS_PROJECT_NAME".to_owned(), p.clone());
    }
    if let Some(r) = &creds.region {
        env.insert("OS_REGION_NAME".to_owned(), r.clone());
    }
    scrub.add(creds.password.expose());
    let mut registry = ProviderRegistry::with_builtins();
    vitrina_providers::register_for_run(
        &mut registry,
        &vitrina_providers::RunProviders {
            cloud: vitrina_openstack::ConfigSource {
                env,
                cwd: hoe.env.run_dir.clone(),
                home: None,
            },
            config_service: hoe.env.config_service.clone(),
            config_token: hoe.env.engine_token.clone(),
        },
    );
    Ok(Prepared {
        config,
        inputs,
        state,
        registry,
    })
}

/// Whether a failed plan is worth retrying: it failed talking to a provider (a refresh, a
/// data source), was cancelled, or could not save; errors in the manifest or variables are not.
fn plan_retryable(diags: &vitrina_diagnostics::Diagnostics) -> bool {
    diags.iter().any(|d| {
        d.code == run_codes::PROVIDER
            || d.code == run_codes::CANCELLED
            || d.code == run_codes::STATE
    })
}

/// Marks the VM of `host` tainted so the plan replaces it (and only it, with what depends on
/// it). Returns its address.
fn taint_host(state: &mut State, host: &str) -> Option<InstanceAddr> {
    for (addr, rs) in state.resources.iter_mut() {
        if addr.type_name != "vkcs_compute_instance" {
            continue;
        }
        for (key, inst) in rs.instances.iter_mut() {
            if let Some(o) = inst.current.as_mut() {
                if o.attributes.get("name").as_str() == Some(host) {
                    o.status = ObjectStatus::Tainted;
                    return Some(addr.instance(key.clone()));
                }
            }
        }
    }
    None
}

async fn run(
    hoe: Arc<Hoe>,
    row: ObjectRow,
    owner: String,
    cancel: Cancel,
    sink: Arc<LogSink>,
    scrub: Arc<Scrubber>,
) -> RunResult {
    let failed = |message: String, retryable: bool| RunResult::Failed { message, retryable };
    let files = match hoe.files_of(&row).await {
        Ok(f) => f,
        Err(e) => return failed(hoe_error_text(&e), true),
    };
    let vars: serde_json::Map<String, serde_json::Value> = match hoe
        .sealer
        .open_json(&place("vars", &row.uuid), &row.vars_sealed)
    {
        Ok(v) => v,
        Err(e) => return failed(format!("cannot open the variables: {e}"), false),
    };
    let mut p = match prepare(&hoe, &row, &files, &vars, &scrub).await {
        Ok(p) => p,
        Err((m, r)) => return failed(m, r),
    };
    let destroy = row.target_status == "deleted";
    if let Some(host) = row.recover_host.as_deref().filter(|_| !destroy) {
        match taint_host(&mut p.state, host) {
            Some(addr) => sink.push(
                "info",
                format!("`{addr}` (host `{host}`) is marked for replacement"),
            ),
            None => sink.push(
                "warn",
                format!(
                    "no `vkcs_compute_instance` named `{host}` in the state; nothing to replace"
                ),
            ),
        }
    }
    let engine = Engine::new(p.registry)
        .with_hooks(sink.clone())
        .with_parallelism(hoe.settings.parallelism)
        .with_cancel(cancel.clone());
    let mode = if destroy {
        PlanMode::Destroy
    } else {
        PlanMode::Normal
    };
    let planned = match engine
        .plan(&p.config, &p.inputs, p.state.clone(), mode)
        .await
    {
        Ok(pl) => pl,
        Err(diags) => {
            return failed(
                p.config.sources.render_text(&diags, ""),
                plan_retryable(&diags),
            )
        }
    };
    let s = planned.plan.summary();
    sink.push(
        "info",
        format!(
            "plan: {} to add, {} to change, {} to destroy",
            s.add, s.change, s.destroy
        ),
    );
    for c in planned
        .plan
        .changes
        .iter()
        .filter(|c| c.action != Action::NoOp)
    {
        let why = if c.reasons.is_empty() {
            String::new()
        } else {
            format!(" ({})", c.reasons.join("; "))
        };
        sink.push("info", format!("{}: {}{why}", c.addr, c.action));
    }
    let store = Arc::new(RowStore {
        store: hoe.store.clone(),
        sealer: hoe.sealer.clone(),
        uuid: row.uuid.clone(),
        owner,
        gen: Mutex::new(row.state_gen),
        cancel: cancel.clone(),
        scrub: scrub.clone(),
    });
    let sync = Arc::new(SyncState::with_store(planned.prior.clone(), store));
    let report = engine.apply(&p.config, &planned, sync.clone()).await;
    let lost = report
        .diagnostics
        .iter()
        .any(|d| d.message.contains("belongs to another run"));
    if lost {
        return RunResult::LeaseLost;
    }
    if !report.is_success() {
        let mut errors = vitrina_diagnostics::Diagnostics::new();
        errors.extend(
            report
                .diagnostics
                .iter()
                .filter(|d| d.severity == vitrina_diagnostics::Severity::Error)
                .cloned(),
        );
        return failed(
            p.config.sources.render_text(&errors, ""),
            report.retryable(),
        );
    }
    sink.push(
        "info",
        format!(
            "{} complete: {} added, {} changed, {} destroyed",
            if destroy { "destroy" } else { "apply" },
            report.added,
            report.changed,
            report.destroyed
        ),
    );
    let state = sync.snapshot();
    let outputs = state
        .outputs
        .iter()
        .map(|(k, o)| {
            (
                k.clone(),
                StoredOutput {
                    value: o.value.clone(),
                    sensitive: o.sensitive,
                },
            )
        })
        .collect();
    RunResult::Done {
        outputs,
        deleted: destroy,
    }
}

fn hoe_error_text(e: &HoeError) -> String {
    match e {
        HoeError::Server(s) => s.to_string(),
        HoeError::Diagnostics(d) => serde_json::Value::Array(d.clone()).to_string(),
    }
}

/// A plan of the object with other variables or manifest, against its current state; nothing is
/// saved.
pub(super) async fn preview(
    hoe: &Hoe,
    row: &ObjectRow,
    files: &BTreeMap<String, String>,
    vars: &serde_json::Map<String, serde_json::Value>,
) -> Result<serde_json::Value, HoeError> {
    let scrub = Scrubber::default();
    let p = prepare(hoe, row, files, vars, &scrub)
        .await
        .map_err(|(m, _)| ServerError::Invalid(scrub.scrub(&m)))?;
    let engine = Engine::new(p.registry).with_parallelism(hoe.settings.parallelism);
    let planned = engine
        .plan(&p.config, &p.inputs, p.state, PlanMode::Normal)
        .await
        .map_err(|diags| {
            if plan_retryable(&diags) {
                HoeError::Server(ServerError::Unavailable(
                    scrub.scrub(&p.config.sources.render_text(&diags, "")),
                ))
            } else {
                HoeError::Diagnostics(p.config.sources.to_json(&diags))
            }
        })?;
    let mut json = planned.plan.to_json();
    let s = planned.plan.summary();
    if let serde_json::Value::Object(m) = &mut json {
        m.insert(
            "summary".into(),
            serde_json::json!({"add": s.add, "change": s.change, "destroy": s.destroy}),
        );
        m.insert("uuid".into(), serde_json::Value::String(row.uuid.clone()));
        // Which attributes each change touches (names only, never values), so a reader can
        // tell a resize from a rename.
        if let Some(serde_json::Value::Array(changes)) = m.get_mut("changes") {
            for (c, rc) in changes.iter_mut().zip(&planned.plan.changes) {
                if let serde_json::Value::Object(c) = c {
                    c.insert(
                        "attributes".into(),
                        serde_json::json!(changed_attributes(rc)),
                    );
                }
            }
        }
    }
    Ok(json)
}

/// The top-level attributes a planned change sets differently from the prior object.
fn changed_attributes(c: &vitrina_engine::plan::ResourceChange) -> Vec<String> {
    let empty = std::collections::BTreeMap::new();
    let before = c.before.as_map().unwrap_or(&empty);
    let after = c.after.as_map().unwrap_or(&empty);
    let mut names: Vec<String> = before
        .keys()
        .chain(after.keys())
        .filter(|k| before.get(*k) != after.get(*k))
        .cloned()
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The object's state row as the engine's state store: written only while this run holds the
/// lease and the generation it last wrote.
struct RowStore {
    store: Store,
    sealer: crate::crypto::Sealer,
    uuid: String,
    owner: String,
    gen: Mutex<i64>,
    cancel: Cancel,
    scrub: Arc<Scrubber>,
}

impl StateStore for RowStore {
    fn load(&self) -> BoxFuture<'_, Result<State, StateStoreError>> {
        Box::pin(async move {
            let row = self
                .store
                .hoe_leased_object(&self.uuid, &self.owner)
                .await
                .map_err(|e| StateStoreError::Backend {
                    what: format!("deployment {}", self.uuid),
                    source: Box::new(e),
                })?
                .ok_or_else(|| StateStoreError::Conflict {
                    what: format!("deployment {}", self.uuid),
                })?;
            match row.state_sealed {
                None => Ok(State::new()),
                Some(s) => {
                    let bytes = self
                        .sealer
                        .open(&place("state", &self.uuid), &s)
                        .map_err(|e| StateStoreError::Backend {
                            what: format!("deployment {}", self.uuid),
                            source: Box::new(e),
                        })?;
                    State::from_json(&bytes).map_err(|e| StateStoreError::Backend {
                        what: format!("deployment {}", self.uuid),
                        source: Box::new(e),
                    })
                }
            }
        })
    }

    fn save<'a>(
        &'a self,
        state: &'a State,
        bytes: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), StateStoreError>> {
        Box::pin(async move {
            self.scrub.add_state(state);
            let what = || format!("deployment {}", self.uuid);
            let sealed = self
                .sealer
                .seal(&place("state", &self.uuid), &bytes)
                .map_err(|e| StateStoreError::Backend {
                    what: what(),
                    source: Box::new(e),
                })?;
            let gen = *self
                .gen
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            // A busy database is retried a few times before the run gives up.
            let mut tries = 0;
            loop {
                match self
                    .store
                    .hoe_save_state(&self.uuid, &self.owner, gen, &sealed)
                    .await
                {
                    Ok(true) => {
                        *self
                            .gen
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner) = gen + 1;
                        return Ok(());
                    }
                    Ok(false) => {
                        self.cancel.cancel();
                        return Err(StateStoreError::Conflict { what: what() });
                    }
                    Err(e) if tries < 5 => {
                        tries += 1;
                        tracing::warn!(uuid = %self.uuid, error = %e, "cannot save a deployment's state; trying again");
                        tokio::time::sleep(Duration::from_millis(200 * tries)).await;
                    }
                    Err(e) => {
                        return Err(StateStoreError::Backend {
                            what: what(),
                            source: Box::new(e),
                        })
                    }
                }
            }
        })
    }
}

/// Secret values a run knows (sensitive attributes and outputs in its state, sensitive
/// variables, the cloud password), replaced by `<sensitive>` in every line it logs.
#[derive(Default)]
pub(crate) struct Scrubber {
    secrets: Mutex<BTreeSet<String>>,
}

impl Scrubber {
    /// Values shorter than this are too common to hide without hiding ordinary words.
    const MIN: usize = 6;

    pub fn add(&self, s: &str) {
        if s.len() >= Self::MIN {
            self.secrets
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(s.to_owned());
        }
    }

    fn add_json(&self, v: &serde_json::Value) {
        match v {
            serde_json::Value::String(s) => self.add(s),
            serde_json::Value::Array(a) => a.iter().for_each(|x| self.add_json(x)),
            serde_json::Value::Object(m) => m.values().for_each(|x| self.add_json(x)),
            _ => {}
        }
    }

    pub fn add_state(&self, state: &State) {
        for rs in state.resources.values() {
            for inst in rs.instances.values() {
                for o in inst.current.iter().chain(inst.deposed.iter()) {
                    for p in &o.sensitive_paths {
                        if let Some(v) = o.attributes.at(p) {
                            self.add_json(&v.to_json_lossy());
                        }
                    }
                }
            }
        }
        for o in state.outputs.values().filter(|o| o.sensitive) {
            self.add_json(&o.value);
        }
    }

    pub fn scrub(&self, text: &str) -> String {
        let secrets = self
            .secrets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut out = text.to_owned();
        // Longest first, so a secret containing another is replaced whole.
        let mut list: Vec<&String> = secrets.iter().collect();
        list.sort_by_key(|s| std::cmp::Reverse(s.len()));
        for s in list {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), super::SENSITIVE);
            }
        }
        out
    }
}

/// The engine's progress as log lines of the deployment, buffered and written in batches.
pub(crate) struct LogSink {
    hoe: Arc<Hoe>,
    uuid: String,
    scrub: Arc<Scrubber>,
    buf: Mutex<Vec<LogRow>>,
    writing: tokio::sync::Mutex<()>,
}

impl LogSink {
    fn new(hoe: Arc<Hoe>, uuid: String, scrub: Arc<Scrubber>) -> Self {
        LogSink {
            hoe,
            uuid,
            scrub,
            buf: Mutex::new(Vec::new()),
            writing: tokio::sync::Mutex::new(()),
        }
    }

    pub fn push(&self, level: &str, message: String) {
        let row = LogRow {
            uuid: self.uuid.clone(),
            created_at: now_ms(),
            seq: self.hoe.next_seq(),
            src: "engine".into(),
            level: level.into(),
            message,
        };
        self.buf
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(row);
    }

    pub async fn flush(&self) {
        let _w = self.writing.lock().await;
        let mut rows = std::mem::take(
            &mut *self
                .buf
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        if rows.is_empty() {
            return;
        }
        for r in &mut rows {
            r.message = self.scrub.scrub(&r.message);
        }
        if let Err(e) = self.hoe.store.hoe_add_logs(&rows).await {
            tracing::warn!(uuid = %self.uuid, error = %e, "cannot write deployment log lines");
        }
    }
}

impl Hook for LogSink {
    fn pre_apply(&self, addr: &InstanceAddr, action: Action) {
        self.push("info", format!("{addr}: {}...", action.verb()));
    }

    fn still_applying(&self, addr: &InstanceAddr, action: Action, elapsed: Duration) {
        self.push(
            "info",
            format!(
                "{addr}: still {}... [{}s elapsed]",
                action.verb().to_lowercase(),
                elapsed.as_secs()
            ),
        );
    }

    fn post_apply(
        &self,
        addr: &InstanceAddr,
        action: Action,
        id: Option<&str>,
        elapsed: Duration,
        error: Option<&str>,
    ) {
        match error {
            None => {
                let id = id.map(|i| format!(" [id={i}]")).unwrap_or_default();
                self.push(
                    "info",
                    format!("{addr}: {} done after {}s{id}", action, elapsed.as_secs()),
                );
            }
            Some(e) => self.push(
                "error",
                format!(
                    "{addr}: {} failed after {}s: {e}",
                    action,
                    elapsed.as_secs()
                ),
            ),
        }
    }
}

/// When a recovery's time is shown to people.
pub(super) fn now_text() -> String {
    rfc3339(now_ms())
}
