//! The config service's rules: what a host must run, which results count, when a host is failed.
//! Handlers call these with parsed, authenticated parameters; only [`crate::store`] writes SQL.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use vitrina_agent_api::wire::*;
use vitrina_common::{DeploymentId, HostName, Secret};

use crate::crypto::{new_token, token_hash, Sealer};
use crate::error::ServerError;
use crate::store::{now_ms, AgentRow, CheckResultRow, GroupRow, ResultRow, Store};

/// Longest exec group or check set name.
pub const MAX_NAME: usize = 255;

/// Who is calling.
#[derive(Clone, Debug)]
pub enum Actor {
    Engine,
    Agent {
        deployment: DeploymentId,
        host: HostName,
    },
}

/// The config service with its store, sealer and the long-poll signal.
pub struct ConfigService {
    pub store: Store,
    pub sealer: Sealer,
    /// Bumped on every change of work; long-polls wait on it.
    changed: tokio::sync::watch::Sender<u64>,
    pub health_timeout: Duration,
    pub heartbeat: Duration,
    /// The URL agents use to reach this service when it differs from the engine's.
    agent_url: std::sync::OnceLock<String>,
    /// Buckets and DNS records (`crate::services`), when the built-in cloud runs.
    pub services: crate::services::Services,
}

/// What a stored result holds beyond its plain columns (sealed: outputs may hold secrets).
#[derive(serde::Serialize, serde::Deserialize, Default)]
struct ResultPayload {
    stdout_tail: String,
    stderr_tail: String,
    structured_result: Option<serde_json::Value>,
    message: Option<String>,
}

fn place(kind: &str, parts: &[&str]) -> String {
    let mut s = kind.to_owned();
    for p in parts {
        s.push('|');
        s.push_str(p);
    }
    s
}

fn check_name(kind: &str, name: &str) -> Result<(), ServerError> {
    if name.is_empty() || name.len() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(ServerError::Invalid(format!(
            "{kind} name must have 1 to {MAX_NAME} printable characters"
        )));
    }
    Ok(())
}

fn check_hosts(hosts: &[HostName]) -> Result<(), ServerError> {
    if hosts.is_empty() || hosts.len() > MAX_HOSTS {
        return Err(ServerError::Invalid(format!(
            "`hosts` must list 1 to {MAX_HOSTS} hosts"
        )));
    }
    Ok(())
}

fn hosts_vec(hosts: &[HostName]) -> Vec<String> {
    let mut v: Vec<String> = hosts.iter().map(|h| h.as_str().to_owned()).collect();
    v.dedup();
    v
}

fn parse_host(h: &str) -> Option<HostName> {
    h.parse().ok()
}

impl ConfigService {
    pub fn new(
        store: Store,
        sealer: Sealer,
        health_timeout: Duration,
        heartbeat: Duration,
    ) -> Arc<Self> {
        let (changed, _) = tokio::sync::watch::channel(0);
        Arc::new(ConfigService {
            store,
            sealer,
            changed,
            health_timeout,
            heartbeat,
            agent_url: std::sync::OnceLock::new(),
            services: Default::default(),
        })
    }

    /// The URL agents use when it is not the engine's.
    pub fn agent_url(&self) -> Option<String> {
        self.agent_url.get().cloned()
    }

    /// Sets the URL agents use when it is not the engine's (once, at start-up).
    pub fn set_agent_url(&self, url: String) {
        let _ = self.agent_url.set(url);
    }

    fn notify(&self) {
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    // ---- authentication ----

    pub async fn authenticate(&self, token: &str) -> Result<Actor, ServerError> {
        let hash = token_hash(token);
        if token.starts_with("vta_") {
            if let Some(a) = self.store.agent_by_token(&hash).await? {
                let deployment = a
                    .deployment
                    .parse()
                    .map_err(|_| ServerError::internal("stored deployment is not a UUID"))?;
                let host = parse_host(&a.host)
                    .ok_or_else(|| ServerError::internal("stored host name is invalid"))?;
                return Ok(Actor::Agent { deployment, host });
            }
        } else if self.store.engine_token_known(&hash).await? {
            return Ok(Actor::Engine);
        }
        Err(ServerError::Unauthenticated)
    }

    // ---- agents ----

    pub async fn agent_credentials(
        &self,
        d: &DeploymentId,
        h: &HostName,
    ) -> Result<AgentCredentials, ServerError> {
        let (ds, hs) = (d.to_string(), h.as_str().to_owned());
        let where_ = place("agent-token", &[&ds, &hs]);
        let row = match self.store.agent(&ds, &hs).await? {
            Some(row) => row,
            None => {
                let token = new_token("vta_");
                let sealed = self.sealer.seal(&where_, token.as_bytes())?;
                self.store
                    .agent_create(&ds, &hs, &token_hash(&token), &sealed)
                    .await?
            }
        };
        let token = self.sealer.open(&where_, &row.token_sealed)?;
        let token = String::from_utf8(token)
            .map_err(|_| ServerError::internal("agent token is not UTF-8"))?;
        Ok(AgentCredentials {
            deployment: *d,
            host: h.clone(),
            token: Secret::new(token),
            agent_url: self.agent_url.get().cloned(),
        })
    }

    pub async fn register(
        &self,
        d: &DeploymentId,
        h: &HostName,
        req: &RegisterRequest,
    ) -> Result<RegisterResponse, ServerError> {
        let version: String = req.version.chars().take(64).collect();
        let ds = d.to_string();
        self.store.agent_register(&ds, h.as_str(), &version).await?;
        let died = match &req.unexpected_restart {
            Some(note) => {
                let note: String = note.chars().filter(|c| !c.is_control()).take(300).collect();
                Some(
                    self.sealer
                        .seal(&place("agent-died", &[&ds, h.as_str()]), note.as_bytes())?,
                )
            }
            None => None,
        };
        self.store
            .agent_note_start(&ds, h.as_str(), died.as_deref())
            .await?;
        if died.is_some() {
            // A death is a failure of its own: counted now, so the recovery chain replaces the
            // host even when it was already failed for another reason.
            self.store.agent_count_failure(&ds, h.as_str()).await?;
            tracing::warn!(deployment = %d, host = %h, version = %version, "agent restarted after it died");
        } else {
            tracing::info!(deployment = %d, host = %h, version = %version, "agent registered");
        }
        Ok(RegisterResponse {
            deployment: *d,
            host: h.clone(),
            heartbeat_ms: u64::try_from(self.heartbeat.as_millis()).unwrap_or(10_000),
        })
    }

    pub async fn heartbeat(
        &self,
        d: &DeploymentId,
        h: &HostName,
        hb: &Heartbeat,
    ) -> Result<(), ServerError> {
        let ds = d.to_string();
        let reason = match &hb.reason {
            Some(r) => {
                let r: String = r.chars().take(2000).collect();
                Some(
                    self.sealer
                        .seal(&place("agent-reason", &[&ds, h.as_str()]), r.as_bytes())?,
                )
            }
            None => None,
        };
        self.store
            .agent_heartbeat(&ds, h.as_str(), hb.status.as_str(), reason.as_deref())
            .await?;
        Ok(())
    }

    pub async fn host_view(&self, d: &DeploymentId, h: &HostName) -> Result<HostView, ServerError> {
        let ds = d.to_string();
        let agent = self.store.agent(&ds, h.as_str()).await?;
        let Some(agent) = agent else {
            return Err(ServerError::NotFound(format!(
                "host `{h}` of deployment {d}"
            )));
        };
        let reason = self.reason(&ds, &agent)?;
        let failed = self.failure(d, h, &agent, reason.as_deref()).await?;
        let mut failure_epoch = agent.failure_epoch;
        match (&failed, agent.failed_since) {
            (Some(why), None) => {
                self.store.agent_mark_failed(&ds, h.as_str()).await?;
                failure_epoch += 1;
                tracing::warn!(deployment = %d, host = %h, reason = %why, "host failed");
            }
            (None, Some(_)) => self.store.agent_clear_failed(&ds, h.as_str()).await?,
            _ => {}
        }
        Ok(HostView {
            failure_epoch,
            host: h.clone(),
            registered: agent.registered_at.is_some(),
            status: agent.status.as_deref().and_then(Status::parse),
            reason,
            last_heartbeat: agent.last_heartbeat,
            failed,
        })
    }

    fn reason(&self, ds: &str, agent: &AgentRow) -> Result<Option<String>, ServerError> {
        agent
            .reason_sealed
            .as_deref()
            .map(|s| {
                self.sealer
                    .open(&place("agent-reason", &[ds, &agent.host]), s)
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
            })
            .transpose()
            .map_err(ServerError::from)
    }

    /// Why the host counts as failed, if it does: the agent said `failed`, no heartbeat within
    /// the timeout, never registered within it, or a check without a healthy result within it.
    async fn failure(
        &self,
        d: &DeploymentId,
        h: &HostName,
        agent: &AgentRow,
        reason: Option<&str>,
    ) -> Result<Option<String>, ServerError> {
        let now = now_ms();
        let limit = i64::try_from(self.health_timeout.as_millis()).unwrap_or(i64::MAX);
        let secs = self.health_timeout.as_secs();
        let ds = d.to_string();
        if let Some((_, note)) = self.store.agent_death(&ds, h.as_str()).await? {
            let note = note
                .map(|n| {
                    self.sealer
                        .open(&place("agent-died", &[&ds, h.as_str()]), &n)
                })
                .transpose()?
                .map(|b| String::from_utf8_lossy(&b).into_owned());
            return Ok(Some(format!(
                "the agent died and its supervisor restarted it: {}",
                note.as_deref().unwrap_or("no details")
            )));
        }
        if agent.status.as_deref() == Some("failed") {
            return Ok(Some(format!(
                "the agent reported `failed`: {}",
                reason.unwrap_or("no reason given")
            )));
        }
        match (agent.registered_at, agent.last_heartbeat) {
            (None, _) if now.saturating_sub(agent.created_at) > limit => {
                return Ok(Some(format!("the agent has not registered within {secs}s")));
            }
            (Some(_), Some(beat)) if now.saturating_sub(beat) > limit => {
                return Ok(Some(format!("no heartbeat for more than {secs}s")));
            }
            _ => {}
        }
        let sets = self.store.check_sets(&ds).await?;
        let results = self.store.check_results(&ds).await?;
        for set in sets
            .iter()
            .filter(|s| s.hosts.iter().any(|x| x == h.as_str()))
        {
            let spec: CheckSetSpec = self
                .sealer
                .open_json(&place("checks", &[&ds, &set.name]), &set.spec_sealed)?;
            for idx in 0..spec.checks.len() {
                let idx = i64::try_from(idx).unwrap_or(i64::MAX);
                let last = results
                    .iter()
                    .find(|r| r.host == h.as_str() && r.set_name == set.name && r.idx == idx)
                    .and_then(|r| r.last_healthy_at);
                let since = last.unwrap_or(set.created_at);
                if now.saturating_sub(since) > limit {
                    return Ok(Some(format!(
                        "check {idx} of `{}` has had no healthy result for more than {secs}s",
                        set.name
                    )));
                }
            }
        }
        Ok(None)
    }

    // ---- exec groups ----

    pub async fn put_group(
        &self,
        d: &DeploymentId,
        name: &str,
        spec: &ExecGroupSpec,
    ) -> Result<ExecGroupView, ServerError> {
        check_name("exec group", name)?;
        check_hosts(&spec.hosts)?;
        if spec.steps.is_empty() || spec.steps.len() > MAX_ITEMS {
            return Err(ServerError::Invalid(format!(
                "an exec group needs 1 to {MAX_ITEMS} steps"
            )));
        }
        let mut hashes = BTreeMap::new();
        for step in &spec.steps {
            if step.content.expose().len() > MAX_SCRIPT_BYTES {
                return Err(ServerError::Invalid(format!(
                    "step {} is larger than {MAX_SCRIPT_BYTES} bytes",
                    step.index
                )));
            }
            if hashes.insert(step.index, step.hash()).is_some() {
                return Err(ServerError::Invalid(format!(
                    "two steps have index {}",
                    step.index
                )));
            }
        }
        let ds = d.to_string();
        let sealed = self.sealer.seal_json(&place("group", &[&ds, name]), spec)?;
        let hashes_json =
            serde_json::to_string(&hashes).map_err(|e| ServerError::internal(e.to_string()))?;
        let hosts = hosts_vec(&spec.hosts);
        let revision = self
            .store
            .put_group(&ds, name, &hosts, &hashes_json, &sealed)
            .await?;
        self.notify();
        Ok(ExecGroupView {
            name: name.to_owned(),
            revision,
            hosts: spec.hosts.clone(),
            hashes,
        })
    }

    pub async fn delete_group(&self, d: &DeploymentId, name: &str) -> Result<(), ServerError> {
        let found = self.store.delete_group(&d.to_string(), name).await?;
        self.notify();
        if found {
            Ok(())
        } else {
            Err(ServerError::NotFound(format!("exec group `{name}`")))
        }
    }

    fn open_group(&self, ds: &str, g: &GroupRow) -> Result<ExecGroupSpec, ServerError> {
        Ok(self
            .sealer
            .open_json(&place("group", &[ds, &g.name]), &g.spec_sealed)?)
    }

    fn result_view(&self, ds: &str, r: &ResultRow) -> Result<StepResultView, ServerError> {
        let payload: ResultPayload = self.sealer.open_json(
            &place(
                "result",
                &[ds, &r.host, &r.grp, &r.idx.to_string(), &r.hash],
            ),
            &r.payload_sealed,
        )?;
        Ok(StepResultView {
            host: parse_host(&r.host)
                .ok_or_else(|| ServerError::internal("stored host is invalid"))?,
            group: r.grp.clone(),
            revision: r.revision,
            index: r.idx,
            hash: r.hash.clone(),
            status: Status::parse(&r.status).unwrap_or(Status::Failed),
            exit_code: r.exit_code,
            attempt: u32::try_from(r.attempt).unwrap_or(0),
            stdout_tail: payload.stdout_tail,
            stderr_tail: payload.stderr_tail,
            structured_result: payload.structured_result,
            message: payload.message,
            updated_at: r.updated_at,
        })
    }

    /// The result that counts for `step` on `host`: an `ok` one with its hash (any `ok` for a
    /// `once` step), else this revision's running or failed one.
    fn counting<'a>(
        results: &'a [ResultRow],
        host: &str,
        revision: i64,
        step: &Step,
        hash: &str,
    ) -> Option<&'a ResultRow> {
        let mine = || {
            results
                .iter()
                .rev()
                .filter(move |r| r.host == host && r.idx == step.index)
        };
        mine()
            .find(|r| r.status == "ok" && (r.hash == hash || step.options.once))
            .or_else(|| mine().find(|r| r.hash == hash && r.revision == revision))
    }

    pub async fn group_results(
        &self,
        d: &DeploymentId,
        name: &str,
    ) -> Result<GroupResultsView, ServerError> {
        let ds = d.to_string();
        let Some(g) = self.store.group(&ds, name).await? else {
            return Err(ServerError::NotFound(format!("exec group `{name}`")));
        };
        let spec = self.open_group(&ds, &g)?;
        let results = self.store.results(&ds, name).await?;
        let mut steps_sorted: Vec<&Step> = spec.steps.iter().collect();
        steps_sorted.sort_by_key(|s| s.index);
        let mut hosts = Vec::new();
        for h in &spec.hosts {
            let mut views = Vec::new();
            let mut status = Status::Ok;
            for step in &steps_sorted {
                let hash = step.hash();
                match Self::counting(&results, h.as_str(), g.revision, step, &hash) {
                    Some(r) => {
                        let v = self.result_view(&ds, r)?;
                        match v.status {
                            Status::Failed => status = Status::Failed,
                            Status::Running if status == Status::Ok => status = Status::Running,
                            _ => {}
                        }
                        views.push(v);
                    }
                    None => {
                        if status == Status::Ok {
                            status = Status::Running;
                        }
                    }
                }
            }
            hosts.push(HostGroupView {
                host: h.clone(),
                status,
                steps: views,
            });
        }
        Ok(GroupResultsView {
            name: name.to_owned(),
            revision: g.revision,
            hosts,
        })
    }

    /// The latest `ok` result of one step on one host (`ivkcs_agent_script_result`).
    pub async fn step_result(
        &self,
        d: &DeploymentId,
        h: &HostName,
        group: &str,
        index: i64,
    ) -> Result<StepResultView, ServerError> {
        let ds = d.to_string();
        let results = self.store.results(&ds, group).await?;
        let current_hash = match self.store.group(&ds, group).await? {
            Some(g) => self
                .open_group(&ds, &g)?
                .steps
                .iter()
                .find(|s| s.index == index)
                .map(Step::hash),
            None => None,
        };
        let mine: Vec<&ResultRow> = results
            .iter()
            .filter(|r| r.host == h.as_str() && r.idx == index && r.status == "ok")
            .collect();
        let pick = current_hash
            .as_deref()
            .and_then(|hash| mine.iter().rev().find(|r| r.hash == hash))
            .or_else(|| mine.last());
        match pick {
            Some(r) => self.result_view(&ds, r),
            None => Err(ServerError::NotFound(format!(
                "no successful result of step {index} of `{group}` on host `{h}`"
            ))),
        }
    }

    // ---- checks ----

    pub async fn put_checks(
        &self,
        d: &DeploymentId,
        name: &str,
        spec: &CheckSetSpec,
    ) -> Result<CheckSetView, ServerError> {
        check_name("check set", name)?;
        check_hosts(&spec.hosts)?;
        if spec.checks.is_empty() || spec.checks.len() > MAX_ITEMS {
            return Err(ServerError::Invalid(format!(
                "a check set needs 1 to {MAX_ITEMS} checks"
            )));
        }
        for c in &spec.checks {
            if c.period_ms < 1000 {
                return Err(ServerError::Invalid(
                    "a check's `period` must be at least 1s".into(),
                ));
            }
        }
        let ds = d.to_string();
        let sealed = self
            .sealer
            .seal_json(&place("checks", &[&ds, name]), spec)?;
        let revision = self
            .store
            .put_check_set(&ds, name, &hosts_vec(&spec.hosts), &sealed)
            .await?;
        self.notify();
        Ok(CheckSetView {
            name: name.to_owned(),
            revision,
            hosts: spec.hosts.clone(),
        })
    }

    pub async fn delete_checks(&self, d: &DeploymentId, name: &str) -> Result<(), ServerError> {
        let found = self.store.delete_check_set(&d.to_string(), name).await?;
        self.notify();
        if found {
            Ok(())
        } else {
            Err(ServerError::NotFound(format!("check set `{name}`")))
        }
    }

    pub async fn check_results(
        &self,
        d: &DeploymentId,
        name: &str,
    ) -> Result<CheckResultsView, ServerError> {
        let ds = d.to_string();
        let Some(set) = self.store.check_set(&ds, name).await? else {
            return Err(ServerError::NotFound(format!("check set `{name}`")));
        };
        let spec: CheckSetSpec = self
            .sealer
            .open_json(&place("checks", &[&ds, name]), &set.spec_sealed)?;
        let results = self.store.check_results(&ds).await?;
        let mut hosts = Vec::new();
        for h in &spec.hosts {
            let mut checks = Vec::new();
            let mut healthy = true;
            for idx in 0..spec.checks.len() {
                let i64idx = i64::try_from(idx).unwrap_or(i64::MAX);
                let r = results.iter().find(|r| {
                    r.host == h.as_str()
                        && r.set_name == name
                        && r.idx == i64idx
                        && r.revision == set.revision
                });
                match r {
                    Some(r) => {
                        let message = self.sealer.open(
                            &place("check-result", &[&ds, &r.host, name, &idx.to_string()]),
                            &r.message_sealed,
                        )?;
                        healthy &= r.healthy;
                        checks.push(CheckResultView {
                            index: u32::try_from(idx).unwrap_or(u32::MAX),
                            healthy: r.healthy,
                            message: String::from_utf8_lossy(&message).into_owned(),
                            updated_at: r.updated_at,
                            last_healthy_at: r.last_healthy_at,
                        });
                    }
                    None => healthy = false,
                }
            }
            hosts.push(HostCheckView {
                host: h.clone(),
                healthy,
                checks,
            });
        }
        Ok(CheckResultsView {
            name: name.to_owned(),
            revision: set.revision,
            hosts,
        })
    }

    // ---- the agent's side ----

    /// Everything meant for `h`; waits up to `wait` while the revision equals `known`.
    pub async fn work(
        &self,
        d: &DeploymentId,
        h: &HostName,
        known: i64,
        wait: Duration,
    ) -> Result<Work, ServerError> {
        let ds = d.to_string();
        let deadline = tokio::time::Instant::now() + wait;
        let mut rx = self.changed.subscribe();
        loop {
            rx.borrow_and_update();
            let revision = self.store.deployment_revision(&ds).await?;
            if revision != known || tokio::time::Instant::now() >= deadline {
                return self.build_work(&ds, h, revision).await;
            }
            // Woken by a change in this process; the 5 s recheck covers other replicas that
            // share the database.
            let nap = deadline
                .saturating_duration_since(tokio::time::Instant::now())
                .min(Duration::from_secs(5));
            let _ = tokio::time::timeout(nap, rx.changed()).await;
        }
    }

    async fn build_work(&self, ds: &str, h: &HostName, revision: i64) -> Result<Work, ServerError> {
        let mut groups = Vec::new();
        for g in self.store.groups(ds).await? {
            if !g.hosts.iter().any(|x| x == h.as_str()) {
                continue;
            }
            let spec = self.open_group(ds, &g)?;
            let results = self.store.results(ds, &g.name).await?;
            let mut steps: Vec<WorkStep> = spec
                .steps
                .into_iter()
                .map(|step| {
                    let hash = step.hash();
                    let done = Self::counting(&results, h.as_str(), g.revision, &step, &hash)
                        .map(|r| r.status == "ok")
                        .unwrap_or(false);
                    WorkStep { step, hash, done }
                })
                .collect();
            steps.sort_by_key(|s| s.step.index);
            groups.push(WorkGroup {
                name: g.name,
                revision: g.revision,
                steps,
            });
        }
        let mut checks = Vec::new();
        for set in self.store.check_sets(ds).await? {
            if !set.hosts.iter().any(|x| x == h.as_str()) {
                continue;
            }
            let spec: CheckSetSpec = self
                .sealer
                .open_json(&place("checks", &[ds, &set.name]), &set.spec_sealed)?;
            checks.push(WorkCheckSet {
                name: set.name,
                revision: set.revision,
                checks: spec.checks,
            });
        }
        Ok(Work {
            revision,
            groups,
            checks,
        })
    }

    pub async fn report_step(
        &self,
        d: &DeploymentId,
        h: &HostName,
        r: &StepReport,
    ) -> Result<(), ServerError> {
        let ds = d.to_string();
        let Some(g) = self.store.group(&ds, &r.group).await? else {
            return Err(ServerError::NotFound(format!("exec group `{}`", r.group)));
        };
        if !g.hosts.iter().any(|x| x == h.as_str()) {
            return Err(ServerError::NotFound(format!("exec group `{}`", r.group)));
        }
        if r.hash.len() != 64 || !r.hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ServerError::Invalid("`hash` must be 64 hex digits".into()));
        }
        let structured_len = r
            .structured_result
            .as_ref()
            .map(|v| v.to_string().len())
            .unwrap_or(0);
        if structured_len > MAX_STRUCTURED_BYTES {
            return Err(ServerError::Invalid(format!(
                "the structured result is larger than {MAX_STRUCTURED_BYTES} bytes"
            )));
        }
        let payload = ResultPayload {
            stdout_tail: tail(&r.stdout_tail, TAIL_BYTES),
            stderr_tail: tail(&r.stderr_tail, TAIL_BYTES),
            structured_result: r.structured_result.clone(),
            message: r.message.as_ref().map(|m| tail(m, 2000)),
        };
        let sealed = self.sealer.seal_json(
            &place(
                "result",
                &[&ds, h.as_str(), &r.group, &r.index.to_string(), &r.hash],
            ),
            &payload,
        )?;
        self.store
            .put_result(
                &ds,
                &ResultRow {
                    host: h.as_str().to_owned(),
                    grp: r.group.clone(),
                    idx: r.index,
                    hash: r.hash.clone(),
                    revision: r.revision,
                    status: r.status.as_str().to_owned(),
                    exit_code: r.exit_code,
                    attempt: i64::from(r.attempt),
                    payload_sealed: sealed,
                    updated_at: now_ms(),
                },
            )
            .await?;
        tracing::info!(deployment = %d, host = %h, group = %r.group, index = r.index, status = r.status.as_str(), "step result");
        Ok(())
    }

    pub async fn report_check(
        &self,
        d: &DeploymentId,
        h: &HostName,
        r: &CheckReport,
    ) -> Result<(), ServerError> {
        let ds = d.to_string();
        let Some(set) = self.store.check_set(&ds, &r.set).await? else {
            return Err(ServerError::NotFound(format!("check set `{}`", r.set)));
        };
        if !set.hosts.iter().any(|x| x == h.as_str()) {
            return Err(ServerError::NotFound(format!("check set `{}`", r.set)));
        }
        let message = tail(&r.message, 2000);
        let sealed = self.sealer.seal(
            &place(
                "check-result",
                &[&ds, h.as_str(), &r.set, &r.index.to_string()],
            ),
            message.as_bytes(),
        )?;
        self.store
            .put_check_result(
                &ds,
                &CheckResultRow {
                    host: h.as_str().to_owned(),
                    set_name: r.set.clone(),
                    idx: i64::from(r.index),
                    revision: r.revision,
                    healthy: r.healthy,
                    message_sealed: sealed,
                    updated_at: now_ms(),
                    last_healthy_at: None,
                },
            )
            .await?;
        Ok(())
    }
}
