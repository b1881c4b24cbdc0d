//! The deployment system ("hoe", VK's paths): configs with every version kept, objects
//! (`uuid`, `config`, `vars`) deployed by workers that take leased jobs from the database,
//! retries with back-off, outputs with sensitive values masked unless asked for (each reveal
//! audited), logs per deployment, plan previews, and auto-recovery of failed hosts.
//!
//! Layers as in the rest of the server: [`http`] parses and authenticates (the caller's
//! [`ProjectCtx`]), this module holds the rules, [`crate::store::hoe`] writes SQL. Every read of
//! a project's data goes through the project's id, so another project's rows are "not found".
//! Workers ([`worker`]) and the recovery reconciler ([`recovery`]) run in every `vitrina serve`
//! process; several processes on one PostgreSQL share the work through leases.

pub mod http;
pub mod openapi;
mod recovery;
mod worker;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use vitrina_common::Secret;
use vitrina_engine::config::Config;
use vitrina_engine::Cancel;

use crate::app::ConfigService;
use crate::crypto::Sealer;
use crate::error::ServerError;
use crate::store::hoe::{LogRow, NewObject, ObjectChange, ObjectRow};
use crate::store::{now_ms, Store};
use crate::tenants::{ProjectCtx, Tenants};

/// VK's default number of attempts.
pub const MAX_ATTEMPTS: i64 = 15;
/// Largest config (all files together), in bytes.
pub const MAX_CONFIG_BYTES: usize = 4 << 20;
/// Most files in one config.
pub const MAX_CONFIG_FILES: usize = 64;
/// Most log lines returned.
pub const MAX_LOG_LINES: i64 = 10_000;
/// What a masked sensitive output reads.
pub const SENSITIVE: &str = "<sensitive>";

/// How the deployment system runs.
#[derive(Clone, Debug)]
pub struct HoeSettings {
    /// Jobs run at once by this process.
    pub workers: usize,
    /// How long a job's lease lasts without renewal (renewed every third of it). A dead
    /// worker's job is taken over once it expires.
    pub lease: Duration,
    /// How often an idle worker looks for due jobs (it is also woken by local requests).
    pub poll: Duration,
    /// Back-off after the first failed attempt; doubles per attempt up to `backoff_max`.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    pub max_attempts: i64,
    /// How often the recovery reconciler looks at running deployments.
    pub recovery_interval: Duration,
    /// Replacements of one host within `recovery_window` before the deployment is `failed`.
    pub recovery_max_tries: usize,
    pub recovery_window: Duration,
    /// After a replacement, how long the host has to come up before it is judged again.
    pub recovery_grace: Duration,
    /// Engine parallelism per job.
    pub parallelism: usize,
}

impl Default for HoeSettings {
    fn default() -> Self {
        HoeSettings {
            workers: 4,
            lease: Duration::from_secs(30),
            poll: Duration::from_secs(1),
            backoff_base: Duration::from_secs(2),
            backoff_max: Duration::from_secs(60),
            max_attempts: MAX_ATTEMPTS,
            recovery_interval: Duration::from_secs(10),
            recovery_max_tries: 3,
            recovery_window: Duration::from_secs(3600),
            recovery_grace: Duration::from_secs(300),
            parallelism: 10,
        }
    }
}

/// An error of the deployment system's API: a server error, or diagnostics about a manifest.
#[derive(Debug)]
pub enum HoeError {
    Server(ServerError),
    /// 400 `{"diagnostics":[…]}`.
    Diagnostics(Vec<serde_json::Value>),
}

impl From<ServerError> for HoeError {
    fn from(e: ServerError) -> Self {
        HoeError::Server(e)
    }
}

impl From<crate::store::StoreError> for HoeError {
    fn from(e: crate::store::StoreError) -> Self {
        HoeError::Server(e.into())
    }
}

impl From<crate::crypto::CryptoError> for HoeError {
    fn from(e: crate::crypto::CryptoError) -> Self {
        HoeError::Server(e.into())
    }
}

impl axum::response::IntoResponse for HoeError {
    fn into_response(self) -> axum::response::Response {
        match self {
            HoeError::Server(e) => e.into_response(),
            HoeError::Diagnostics(d) => (
                axum::http::StatusCode::BAD_REQUEST,
                axum::Json(serde_json::json!({ "diagnostics": d })),
            )
                .into_response(),
        }
    }
}

/// Where an object's manifest comes from.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CreateObject {
    pub uuid: String,
    /// A config uploaded with `POST /hoe/config/{name}` (its newest version).
    #[serde(default)]
    pub config: Option<String>,
    /// Or the manifest folder itself: file name → text (`*.tf`, and `settings.yaml` whose
    /// `retry: no` turns retries off).
    #[serde(default)]
    pub files: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub vars: serde_json::Map<String, serde_json::Value>,
}

/// `PUT /hoe/object/{uuid}` and plan previews: new variables, optionally a new manifest (an
/// upgrade).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateObject {
    #[serde(default)]
    pub vars: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    pub config: Option<String>,
    #[serde(default)]
    pub files: Option<BTreeMap<String, String>>,
}

/// One auto-recovery of a host.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Recovery {
    pub host: String,
    pub reason: String,
    pub started_at: String,
    #[serde(default)]
    pub started_ms: i64,
    /// `replaced`, `failed`, `gave up`, or null while it runs.
    pub result: Option<String>,
    #[serde(default)]
    pub finished_ms: Option<i64>,
}

/// `GET /hoe/object/{uuid}`: VK's fields, then vitrina's.
#[derive(Clone, Debug, Serialize)]
pub struct ObjectView {
    pub uuid: String,
    pub target_status: String,
    pub vars: serde_json::Value,
    /// The outputs as a JSON string.
    pub out: String,
    pub status: String,
    /// VK: the user who deployed it (the project's email).
    pub conf_name: String,
    pub conf_hash: String,
    /// The project's id in its cloud.
    pub pid: String,
    pub create_at: String,
    pub update_at: String,
    pub full_deployed: bool,
    pub attempts: i64,
    pub max_attempts: i64,
    /// The config's name (empty when the manifest was given as files) and version.
    pub config: String,
    pub config_version: i64,
    pub retry: bool,
    pub last_error: Option<String>,
    /// The host being replaced right now.
    pub recovering: Option<String>,
    pub recoveries: Vec<Recovery>,
}

/// One line of `GET /logs/instance/{uuid}`.
#[derive(Clone, Debug, Serialize)]
pub struct LogView {
    pub message: String,
    pub src: String,
    pub level: String,
    pub created_at: String,
    pub uuid: String,
}

/// What a run needs besides the row: the providers' config service.
#[derive(Clone)]
pub struct RunEnv {
    /// The config service's URL for `ivkcs` (this server).
    pub config_service: String,
    pub engine_token: Secret,
    /// Runs keep nothing on disk; modules and `file()` resolve against this folder.
    pub run_dir: std::path::PathBuf,
}

/// The deployment system of one server process.
pub struct Hoe {
    pub store: Store,
    pub sealer: Sealer,
    pub tenants: Arc<Tenants>,
    pub config_service: Arc<ConfigService>,
    pub settings: HoeSettings,
    pub env: RunEnv,
    /// This process, in lease owners.
    worker_id: String,
    wake: tokio::sync::Notify,
    log_seq: AtomicI64,
    shutdown: Cancel,
    /// The sensitive variables' names of each manifest seen (by config version or files).
    sensitive_vars: std::sync::Mutex<std::collections::HashMap<String, Arc<BTreeSet<String>>>>,
}

pub(crate) fn place(kind: &str, uuid: &str) -> String {
    format!("hoe-{kind}|{uuid}")
}

/// RFC 3339 with microseconds, like VK's `2023-04-26T13:57:54.849565Z`.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        .unwrap_or_default()
}

fn invalid(message: impl Into<String>) -> HoeError {
    HoeError::Server(ServerError::Invalid(message.into()))
}

fn check_config_name(name: &str) -> Result<(), HoeError> {
    if name.is_empty()
        || name.len() > 255
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
    {
        return Err(invalid(
            "a config name has 1 to 255 letters, digits, `.`, `_`, `-` or `@`",
        ));
    }
    Ok(())
}

fn check_files(files: &BTreeMap<String, String>) -> Result<(), HoeError> {
    if files.is_empty() || files.len() > MAX_CONFIG_FILES {
        return Err(invalid(format!(
            "a manifest has 1 to {MAX_CONFIG_FILES} files"
        )));
    }
    let total: usize = files.iter().map(|(k, v)| k.len() + v.len()).sum();
    if total > MAX_CONFIG_BYTES {
        return Err(invalid(format!(
            "a manifest holds at most {MAX_CONFIG_BYTES} bytes"
        )));
    }
    for name in files.keys() {
        let ok = !name.is_empty()
            && name.len() <= 255
            && !name.starts_with('.')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !ok {
            return Err(invalid(format!(
                "`{}` is not a manifest file name (letters, digits, `.`, `_`, `-`; no folders)",
                name.escape_default()
            )));
        }
    }
    if !files.keys().any(|n| n.ends_with(".tf")) {
        return Err(invalid("a manifest needs at least one `.tf` file"));
    }
    Ok(())
}

/// The `.tf` files of a manifest, parsed.
pub(crate) fn load_config(
    dir: &std::path::Path,
    files: &BTreeMap<String, String>,
) -> (Config, vitrina_diagnostics::Diagnostics) {
    let tf: Vec<(String, String)> = files
        .iter()
        .filter(|(n, _)| n.ends_with(".tf"))
        .map(|(n, t)| (n.clone(), t.clone()))
        .collect();
    Config::from_sources(dir, tf)
}

/// `settings.yaml`'s `retry: no` (or `false`) turns retries off.
pub fn retry_allowed(files: &BTreeMap<String, String>) -> bool {
    let Some(text) = files
        .get("settings.yaml")
        .or_else(|| files.get("settings.yml"))
    else {
        return true;
    };
    !text.lines().any(|l| {
        let l = l.split('#').next().unwrap_or_default().trim();
        match l.strip_prefix("retry:") {
            Some(v) => matches!(
                v.trim().trim_matches(|c| c == '"' || c == '\''),
                "no" | "false" | "No" | "False" | "NO" | "FALSE" | "off"
            ),
            None => false,
        }
    })
}

fn hash_of(files: &str, vars: &serde_json::Map<String, serde_json::Value>) -> String {
    let mut h = sha2::Sha256::new();
    h.update(files.as_bytes());
    h.update(b"\0");
    h.update(
        serde_json::Value::Object(vars.clone())
            .to_string()
            .as_bytes(),
    );
    hex::encode(h.finalize())[..32].to_owned()
}

impl Hoe {
    pub fn new(
        store: Store,
        sealer: Sealer,
        tenants: Arc<Tenants>,
        config_service: Arc<ConfigService>,
        settings: HoeSettings,
        env: RunEnv,
    ) -> Arc<Hoe> {
        Arc::new(Hoe {
            store,
            sealer,
            tenants,
            config_service,
            settings,
            env,
            worker_id: uuid::Uuid::new_v4().simple().to_string(),
            wake: tokio::sync::Notify::new(),
            log_seq: AtomicI64::new(0),
            shutdown: Cancel::new(),
            sensitive_vars: std::sync::Mutex::default(),
        })
    }

    /// Starts this process's workers and the recovery reconciler.
    pub fn start(self: &Arc<Self>) {
        for n in 0..self.settings.workers.max(1) {
            tokio::spawn(worker::worker_loop(self.clone(), n));
        }
        tokio::spawn(recovery::reconcile_loop(self.clone()));
    }

    /// Stops taking jobs and cancels the running ones at their next safe point.
    pub fn stop(&self) {
        self.shutdown.cancel();
        self.wake.notify_waiters();
    }

    pub(crate) fn next_seq(&self) -> i64 {
        self.log_seq.fetch_add(1, Ordering::Relaxed)
    }

    /// Writes a log line of the deployment system itself.
    pub(crate) async fn log(&self, uuid: &str, level: &str, message: impl Into<String>) {
        let row = LogRow {
            uuid: uuid.to_owned(),
            created_at: now_ms(),
            seq: self.next_seq(),
            src: "hoe".into(),
            level: level.into(),
            message: message.into(),
        };
        if let Err(e) = self.store.hoe_add_logs(&[row]).await {
            tracing::warn!(%uuid, error = %e, "cannot write a deployment log line");
        }
    }

    // ---- configs ----

    /// `POST /hoe/config/{name}`: a new version when the name exists.
    pub async fn put_config(
        &self,
        ctx: &ProjectCtx,
        name: &str,
        files: BTreeMap<String, String>,
    ) -> Result<serde_json::Value, HoeError> {
        check_config_name(name)?;
        check_files(&files)?;
        self.check_manifest(&files)?;
        let json = serde_json::to_string(&files)
            .map_err(|e| ServerError::internal(format!("config to JSON: {e}")))?;
        let hash = hash_of(&json, &serde_json::Map::new());
        let version = self
            .store
            .hoe_put_config(ctx.id(), name, &json, &hash)
            .await?;
        Ok(serde_json::json!({"name": name, "version": version, "hash": hash}))
    }

    /// `GET /hoe/config/{name}`: the current text (the files joined when there are several).
    pub async fn get_config(&self, ctx: &ProjectCtx, name: &str) -> Result<String, HoeError> {
        check_config_name(name)?;
        let row = self
            .store
            .hoe_config(ctx.id(), name, None)
            .await?
            .ok_or_else(|| ServerError::NotFound(format!("config `{name}`")))?;
        let files: BTreeMap<String, String> = serde_json::from_str(&row.files)
            .map_err(|e| ServerError::internal(format!("stored config: {e}")))?;
        if files.len() == 1 {
            return Ok(files.into_values().next().unwrap_or_default());
        }
        Ok(files
            .iter()
            .map(|(n, t)| format!("# ---- {n} ----\n{t}"))
            .collect::<Vec<_>>()
            .join("\n"))
    }

    /// Parses and checks a manifest; 400 with diagnostics when it has errors.
    fn check_manifest(&self, files: &BTreeMap<String, String>) -> Result<Config, HoeError> {
        let (config, mut diags) = load_config(&self.env.run_dir, files);
        if !diags.has_errors() {
            let engine = vitrina_engine::context::Engine::new(
                vitrina_engine::ProviderRegistry::with_builtins(),
            );
            diags.extend(
                engine
                    .validate_against(&config, &vitrina_providers::schemas())
                    .into_vec(),
            );
        }
        if diags.has_errors() {
            diags.sort();
            return Err(HoeError::Diagnostics(config.sources.to_json(&diags)));
        }
        Ok(config)
    }

    /// Every variable given is declared; every variable without a default is given (the
    /// deployment system fills `instance_uuid` and `email`).
    fn check_vars(
        config: &Config,
        vars: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), HoeError> {
        let mut problems = Vec::new();
        for name in vars.keys() {
            if !config.variables.contains_key(name) {
                problems.push(format!("variable `{name}` is not declared in the manifest"));
            }
        }
        for (name, v) in &config.variables {
            if v.default.is_none()
                && !vars.contains_key(name)
                && name != "instance_uuid"
                && name != "email"
            {
                problems.push(format!("variable `{name}` has no value and no default"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(invalid(problems.join("; ")))
        }
    }

    /// The manifest files of a request: a named config (newest version) or files given.
    async fn resolve_manifest(
        &self,
        ctx: &ProjectCtx,
        config: Option<&str>,
        files: Option<&BTreeMap<String, String>>,
    ) -> Result<(String, i64, Option<String>, BTreeMap<String, String>), HoeError> {
        match (config, files) {
            (Some(_), Some(_)) => Err(invalid("give either `config` or `files`, not both")),
            (Some(name), None) => {
                check_config_name(name)?;
                let row = self
                    .store
                    .hoe_config(ctx.id(), name, None)
                    .await?
                    .ok_or_else(|| ServerError::NotFound(format!("config `{name}`")))?;
                let files = serde_json::from_str(&row.files)
                    .map_err(|e| ServerError::internal(format!("stored config: {e}")))?;
                Ok((name.to_owned(), row.version, None, files))
            }
            (None, Some(files)) => {
                check_files(files)?;
                let json = serde_json::to_string(files)
                    .map_err(|e| ServerError::internal(format!("files to JSON: {e}")))?;
                Ok((String::new(), 0, Some(json), files.clone()))
            }
            (None, None) => Err(invalid("`config` (a config name) or `files` is required")),
        }
    }

    // ---- objects ----

    /// `POST /hoe/object`: 201, the deployment starts.
    pub async fn create_object(
        &self,
        ctx: &ProjectCtx,
        req: CreateObject,
    ) -> Result<ObjectView, HoeError> {
        let uuid: uuid::Uuid = req
            .uuid
            .parse()
            .map_err(|_| invalid("`uuid` must be a UUID (VK: generated with UUID4)"))?;
        let uuid = uuid.to_string();
        let (conf_name, conf_version, inline_files, files) = self
            .resolve_manifest(ctx, req.config.as_deref(), req.files.as_ref())
            .await?;
        let config = self.check_manifest(&files)?;
        Self::check_vars(&config, &req.vars)?;
        let files_json = serde_json::to_string(&files)
            .map_err(|e| ServerError::internal(format!("files to JSON: {e}")))?;
        let vars_sealed = self.sealer.seal_json(&place("vars", &uuid), &req.vars)?;
        let project = self.tenants.project(ctx.id()).await?;
        let pid = project.and_then(|p| p.cloud_project_id).unwrap_or_default();
        let inserted = self
            .store
            .hoe_insert_object(&NewObject {
                uuid: uuid.clone(),
                project: ctx.id().to_owned(),
                conf_name,
                conf_version,
                inline_files,
                conf_hash: hash_of(&files_json, &req.vars),
                vars_sealed,
                pid,
                email: ctx.email().to_owned(),
                max_attempts: self.settings.max_attempts,
                retry: retry_allowed(&files),
            })
            .await?;
        if !inserted {
            return Err(ServerError::Conflict(format!("object {uuid} exists")).into());
        }
        self.log(&uuid, "info", "deployment requested").await;
        self.wake.notify_waiters();
        self.object(ctx, &uuid, false).await
    }

    async fn row(&self, ctx: &ProjectCtx, uuid: &str) -> Result<ObjectRow, HoeError> {
        let parsed: uuid::Uuid = uuid
            .parse()
            .map_err(|_| ServerError::NotFound(format!("object {uuid}")))?;
        let uuid = parsed.to_string();
        self.store
            .hoe_object(ctx.id(), &uuid)
            .await?
            .ok_or_else(|| ServerError::NotFound(format!("object {uuid}")).into())
    }

    /// `GET /hoe/object/{uuid}`; `show_sensitive` reveals sensitive outputs (audited).
    pub async fn object(
        &self,
        ctx: &ProjectCtx,
        uuid: &str,
        show_sensitive: bool,
    ) -> Result<ObjectView, HoeError> {
        let row = self.row(ctx, uuid).await?;
        if show_sensitive {
            self.store
                .hoe_audit(&row.uuid, ctx.id(), "reveal-outputs", ctx.email())
                .await?;
            tracing::info!(uuid = %row.uuid, project = %ctx.id(), "sensitive outputs revealed");
        }
        let hidden = if show_sensitive {
            Arc::default()
        } else {
            self.sensitive_vars_of(&row).await?
        };
        self.view(&row, show_sensitive, &hidden)
    }

    /// The names of the variables the object's manifest declares `sensitive` (read once per
    /// config version or set of files).
    async fn sensitive_vars_of(&self, row: &ObjectRow) -> Result<Arc<BTreeSet<String>>, HoeError> {
        let key = match &row.inline_files {
            Some(f) => format!("files|{}", hex::encode(sha2::Sha256::digest(f.as_bytes()))),
            None => format!("{}|{}|{}", row.project, row.conf_name, row.conf_version),
        };
        let lock = || {
            self.sensitive_vars
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        if let Some(names) = lock().get(&key) {
            return Ok(names.clone());
        }
        let files = self.files_of(row).await?;
        let (config, _) = load_config(&self.env.run_dir, &files);
        let names: Arc<BTreeSet<String>> = Arc::new(
            config
                .variables
                .iter()
                .filter(|(_, v)| v.sensitive)
                .map(|(n, _)| n.clone())
                .collect(),
        );
        let mut cache = lock();
        if cache.len() >= 4096 {
            cache.clear();
        }
        cache.insert(key, names.clone());
        Ok(names)
    }

    /// Every output with its value, sensitive ones included, for a caller that hands them to
    /// the project (the broker's binding credentials); audited with `purpose`.
    pub async fn revealed_outputs(
        &self,
        ctx: &ProjectCtx,
        uuid: &str,
        purpose: &str,
    ) -> Result<serde_json::Map<String, serde_json::Value>, HoeError> {
        let row = self.row(ctx, uuid).await?;
        self.store
            .hoe_audit(&row.uuid, ctx.id(), purpose, ctx.email())
            .await?;
        Ok(self
            .outputs(&row)?
            .into_iter()
            .map(|(k, o)| (k, o.value))
            .collect())
    }

    /// The stored outputs: name → `{value, sensitive}`.
    pub(crate) fn outputs(
        &self,
        row: &ObjectRow,
    ) -> Result<BTreeMap<String, StoredOutput>, HoeError> {
        match &row.outputs_sealed {
            None => Ok(BTreeMap::new()),
            Some(s) => Ok(self.sealer.open_json(&place("outputs", &row.uuid), s)?),
        }
    }

    /// The object as shown; the values of sensitive outputs (unless `show_sensitive`) and of the
    /// variables named in `hidden` read [`SENSITIVE`].
    fn view(
        &self,
        row: &ObjectRow,
        show_sensitive: bool,
        hidden: &BTreeSet<String>,
    ) -> Result<ObjectView, HoeError> {
        let mut vars: serde_json::Map<String, serde_json::Value> = self
            .sealer
            .open_json(&place("vars", &row.uuid), &row.vars_sealed)?;
        for (name, v) in vars.iter_mut() {
            if hidden.contains(name) {
                *v = serde_json::Value::String(SENSITIVE.into());
            }
        }
        let out: serde_json::Map<String, serde_json::Value> = if row.status == "deleted" {
            serde_json::Map::new()
        } else {
            self.outputs(row)?
                .into_iter()
                .map(|(k, o)| {
                    let v = if o.sensitive && !show_sensitive {
                        serde_json::Value::String(SENSITIVE.into())
                    } else {
                        o.value
                    };
                    (k, v)
                })
                .collect()
        };
        let last_error = row
            .last_error_sealed
            .as_deref()
            .map(|s| {
                self.sealer
                    .open(&place("error", &row.uuid), s)
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
            })
            .transpose()?;
        let recoveries: Vec<Recovery> = serde_json::from_str(&row.recoveries).unwrap_or_default();
        Ok(ObjectView {
            uuid: row.uuid.clone(),
            target_status: row.target_status.clone(),
            vars: serde_json::Value::Object(vars),
            out: serde_json::Value::Object(out).to_string(),
            status: row.status.clone(),
            conf_name: row.email.clone(),
            conf_hash: row.conf_hash.clone(),
            pid: row.pid.clone(),
            create_at: rfc3339(row.created_at),
            update_at: rfc3339(row.updated_at),
            full_deployed: row.full_deployed && row.status != "deleted",
            attempts: row.attempts,
            max_attempts: row.max_attempts,
            config: row.conf_name.clone(),
            config_version: row.conf_version,
            retry: row.retry,
            last_error,
            recovering: row.recover_host.clone(),
            recoveries,
        })
    }

    /// `PUT /hoe/object/{uuid}`: 202, the update starts (only changed resources change).
    pub async fn update_object(
        &self,
        ctx: &ProjectCtx,
        uuid: &str,
        req: UpdateObject,
    ) -> Result<ObjectView, HoeError> {
        let row = self.row(ctx, uuid).await?;
        if row.target_status == "deleted" {
            return Err(ServerError::Conflict(format!(
                "object {} is deleted or being deleted",
                row.uuid
            ))
            .into());
        }
        let (change, _) = self.prepare_update(ctx, &row, &req).await?;
        if !self
            .store
            .hoe_change_object(ctx.id(), &row.uuid, &change)
            .await?
        {
            return Err(ServerError::NotFound(format!("object {}", row.uuid)).into());
        }
        self.log(&row.uuid, "info", "update requested").await;
        self.wake.notify_waiters();
        self.object(ctx, &row.uuid, false).await
    }

    /// The change an update asks for, and the manifest and variables it leads to.
    async fn prepare_update(
        &self,
        ctx: &ProjectCtx,
        row: &ObjectRow,
        req: &UpdateObject,
    ) -> Result<(ObjectChange, Manifest), HoeError> {
        let stored: serde_json::Map<String, serde_json::Value> = self
            .sealer
            .open_json(&place("vars", &row.uuid), &row.vars_sealed)?;
        let vars = match &req.vars {
            Some(v) => {
                // A sensitive variable sent back as it was shown (masked) keeps its value, so a
                // client that GETs, edits and PUTs the variables does not overwrite a secret.
                let hidden = self.sensitive_vars_of(row).await?;
                let mut v = v.clone();
                for (name, value) in v.iter_mut() {
                    if hidden.contains(name) && value.as_str() == Some(SENSITIVE) {
                        if let Some(old) = stored.get(name) {
                            *value = old.clone();
                        }
                    }
                }
                v
            }
            None => stored,
        };
        let switching = req.config.is_some() || req.files.is_some();
        let (name, version, inline, files) = if switching {
            self.resolve_manifest(ctx, req.config.as_deref(), req.files.as_ref())
                .await?
        } else {
            let files = self.files_of(row).await?;
            (
                row.conf_name.clone(),
                row.conf_version,
                row.inline_files.clone(),
                files,
            )
        };
        let config = self.check_manifest(&files)?;
        Self::check_vars(&config, &vars)?;
        let files_json = serde_json::to_string(&files)
            .map_err(|e| ServerError::internal(format!("files to JSON: {e}")))?;
        let vars_sealed = self.sealer.seal_json(&place("vars", &row.uuid), &vars)?;
        let change = ObjectChange {
            target_status: "running".into(),
            vars_sealed: Some(vars_sealed),
            config: Some((
                name,
                version,
                inline,
                hash_of(&files_json, &vars),
                retry_allowed(&files),
            )),
        };
        Ok((change, Manifest { files, vars }))
    }

    /// The manifest files an object runs.
    pub(crate) async fn files_of(
        &self,
        row: &ObjectRow,
    ) -> Result<BTreeMap<String, String>, HoeError> {
        let json = match &row.inline_files {
            Some(f) => f.clone(),
            None => {
                self.store
                    .hoe_config(&row.project, &row.conf_name, Some(row.conf_version))
                    .await?
                    .ok_or_else(|| {
                        ServerError::internal(format!(
                            "config `{}` version {} of object {} is gone",
                            row.conf_name, row.conf_version, row.uuid
                        ))
                    })?
                    .files
            }
        };
        serde_json::from_str(&json)
            .map_err(|e| ServerError::internal(format!("stored manifest: {e}")).into())
    }

    /// `DELETE /hoe/object/{uuid}`: 201, destruction starts.
    pub async fn delete_object(
        &self,
        ctx: &ProjectCtx,
        uuid: &str,
    ) -> Result<ObjectView, HoeError> {
        let row = self.row(ctx, uuid).await?;
        if row.target_status != "deleted" || row.status == "failed" {
            let change = ObjectChange {
                target_status: "deleted".into(),
                vars_sealed: None,
                config: None,
            };
            if !self
                .store
                .hoe_change_object(ctx.id(), &row.uuid, &change)
                .await?
            {
                return Err(ServerError::NotFound(format!("object {}", row.uuid)).into());
            }
            self.log(&row.uuid, "info", "deletion requested").await;
            self.wake.notify_waiters();
        }
        self.object(ctx, &row.uuid, false).await
    }

    /// `POST /hoe/object/{uuid}/plan`: what an update with these variables (and manifest) would
    /// change, without changing anything.
    pub async fn plan_preview(
        &self,
        ctx: &ProjectCtx,
        uuid: &str,
        req: UpdateObject,
    ) -> Result<serde_json::Value, HoeError> {
        let row = self.row(ctx, uuid).await?;
        if row.target_status == "deleted" {
            return Err(ServerError::Conflict(format!(
                "object {} is deleted or being deleted",
                row.uuid
            ))
            .into());
        }
        let (_, m) = self.prepare_update(ctx, &row, &req).await?;
        worker::preview(self, &row, &m.files, &m.vars).await
    }

    /// `GET /logs/instance/{uuid}`: the deployment system's and the engine's lines, and the
    /// agents' step results from the config service, oldest first.
    pub async fn logs(&self, ctx: &ProjectCtx, uuid: &str) -> Result<Vec<LogView>, HoeError> {
        let row = self.row(ctx, uuid).await?;
        let mut lines: Vec<(i64, i64, LogView)> = self
            .store
            .hoe_logs(&row.uuid, MAX_LOG_LINES)
            .await?
            .into_iter()
            .map(|l| {
                (
                    l.created_at,
                    l.seq,
                    LogView {
                        message: l.message,
                        src: l.src,
                        level: l.level,
                        created_at: rfc3339(l.created_at),
                        uuid: l.uuid,
                    },
                )
            })
            .collect();
        let cs = &self.config_service.store;
        for g in cs.groups(&row.uuid).await? {
            for r in cs.results(&row.uuid, &g.name).await? {
                let exit = r
                    .exit_code
                    .map(|c| format!(", exit code {c}"))
                    .unwrap_or_default();
                let level = if r.status == "failed" {
                    "error"
                } else {
                    "info"
                };
                lines.push((
                    r.updated_at,
                    0,
                    LogView {
                        message: format!(
                            "host `{}`: step {} of `{}` {} (attempt {}{exit})",
                            r.host, r.idx, r.grp, r.status, r.attempt
                        ),
                        src: "agent".into(),
                        level: level.into(),
                        created_at: rfc3339(r.updated_at),
                        uuid: row.uuid.clone(),
                    },
                ));
            }
        }
        lines.sort_by_key(|(at, seq, _)| (*at, *seq));
        Ok(lines.into_iter().map(|(_, _, l)| l).collect())
    }
}

/// The manifest files and variables an update leads to.
struct Manifest {
    files: BTreeMap<String, String>,
    vars: serde_json::Map<String, serde_json::Value>,
}

/// An output as kept (sealed) with the object.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct StoredOutput {
    pub value: serde_json::Value,
    pub sensitive: bool,
}
