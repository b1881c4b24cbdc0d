//! The broker's rules: the instance and binding state machine of OSB §1.11 on the store's
//! records, with deployments behind [`OsbBackend`].
//!
//! - Provision, update and deprovision are asynchronous (`accepts_incomplete=true` or 422
//!   `AsyncRequired`, checked before anything is created); their progress is read from the
//!   deployment when polled (`last_operation`, fetch), so a restarted server knows where every
//!   instance is.
//! - Binding is synchronous: the credentials are the deployment's outputs, read when bound and
//!   fetched (not stored).
//! - Deprovisioning an instance that still has bindings removes them with it.
//! - Tombstones: a deprovisioned instance or an unbound binding is kept as `gone`, so a later
//!   `last_operation` says `succeeded`, DELETE says 410 and GET says 404.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::backend::{Account, DeploySpec, DeployState, OsbBackend};
use super::catalog::{osb_catalog, revision_semver, ServiceRevision};
use super::params::{self, Answers, PlanForm};
use super::wire::*;
use crate::crypto::Sealer;
use crate::store::osb::{OsbBindingRow, OsbInstanceRow};
use crate::store::Store;

/// A reply: status and JSON body.
pub type Reply = (axum::http::StatusCode, Value);

const IN_PROGRESS: &str = "in progress";
const SUCCEEDED: &str = "succeeded";
const FAILED: &str = "failed";
/// An operation whose deployment call has not been confirmed yet ends its description so.
const REQUESTED: &str = " requested";
/// After this long, a requested operation whose call was never confirmed (the server stopped
/// between the two writes) is judged by the deployment alone.
const REQUESTED_GRACE_MS: i64 = 60_000;

/// How long a verified broker login is remembered (a changed password takes effect after it).
const AUTH_TTL: Duration = Duration::from_secs(5);

/// One plan of a revision, ready to deploy.
#[derive(Debug, Clone)]
struct PlanEntry {
    form: PlanForm,
    config: String,
    manifest: Vec<(String, String)>,
    retry: bool,
}

/// A revision's plans by plan id.
#[derive(Debug)]
struct RevisionForms {
    revision: ServiceRevision,
    plans: BTreeMap<String, PlanEntry>,
}

/// The cached catalog of one namespace for one shape of answer.
struct CachedCatalog {
    stamp: String,
    /// When the stamp was last read from the store.
    checked: Instant,
    body: bytes::Bytes,
}

/// How long a cached catalog is served before the products' stamp is read again: a new,
/// published or archived revision shows within this time (one small query per namespace and
/// period instead of one per request).
const CATALOG_RECHECK: Duration = Duration::from_millis(250);

/// Where an update moves an instance (see [`Broker::update`]).
struct UpdateTarget {
    row: OsbInstanceRow,
    requested_plan: String,
    target_revision: String,
    plan_change: bool,
    revision_change: bool,
    parameters: Option<Map<String, Value>>,
}

/// What an update would do ([`Broker::update_preview`]).
#[derive(Debug, Clone)]
pub struct UpdatePreview {
    pub plan_id: String,
    pub revision: String,
    pub target_plan_id: String,
    pub target_revision: String,
    /// The answers now and after the update (as OSB shows them).
    pub current: Answers,
    pub answers: Answers,
    /// The deployment the update would ask for.
    pub spec: DeploySpec,
}

pub struct Broker<B> {
    pub backend: B,
    store: Store,
    sealer: Sealer,
    forms: Mutex<HashMap<(String, String), Arc<RevisionForms>>>,
    catalogs: Mutex<HashMap<(String, u8), Arc<CachedCatalog>>>,
    logins: Mutex<HashMap<String, (Instant, Account)>>,
}

fn hash_json(v: &Value) -> String {
    // Object keys sorted: the same request hashes the same whatever its key order.
    fn canon(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let sorted: BTreeMap<&String, Value> =
                    m.iter().map(|(k, v)| (k, canon(v))).collect();
                let mut out = Map::new();
                for (k, v) in sorted {
                    out.insert(k.clone(), v);
                }
                Value::Object(out)
            }
            Value::Array(a) => Value::Array(a.iter().map(canon).collect()),
            other => other.clone(),
        }
    }
    hex::encode(Sha256::digest(canon(v).to_string().as_bytes()))
}

fn new_op(kind: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{kind}-{}", &id[..12])
}

fn context_str(ctx: &Option<Value>, key: &str) -> Option<String> {
    ctx.as_ref()
        .and_then(|c| c.get(key))
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn reasons_text(reasons: &[String]) -> String {
    reasons.join("; ")
}

impl<B: OsbBackend> Broker<B> {
    pub fn new(backend: B, store: Store, sealer: Sealer) -> Arc<Self> {
        Arc::new(Broker {
            backend,
            store,
            sealer,
            forms: Mutex::new(HashMap::new()),
            catalogs: Mutex::new(HashMap::new()),
            logins: Mutex::new(HashMap::new()),
        })
    }

    // ---- accounts ----

    /// The account of a Basic login; `None` when the credentials are wrong.
    pub async fn login(&self, username: &str, password: &str) -> Result<Option<Account>, OsbError> {
        let key = {
            let mut h = Sha256::new();
            h.update(username.as_bytes());
            h.update([0u8]);
            h.update(password.as_bytes());
            hex::encode(h.finalize())
        };
        if let Ok(cache) = self.logins.lock() {
            if let Some((at, account)) = cache.get(&key) {
                if at.elapsed() < AUTH_TTL {
                    return Ok(Some(account.clone()));
                }
            }
        }
        let account = self.backend.authenticate(username, password).await?;
        if let (Some(a), Ok(mut cache)) = (&account, self.logins.lock()) {
            if cache.len() > 10_000 {
                cache.clear();
            }
            cache.insert(key, (Instant::now(), a.clone()));
        }
        Ok(account)
    }

    // ---- catalog ----

    /// `GET /v2/catalog`: the body, cached per namespace until its stamp changes.
    pub async fn catalog(
        &self,
        account: &Account,
        version: ApiVersion,
    ) -> Result<bytes::Bytes, OsbError> {
        // The answer's shape depends only on which of these thresholds the version passes.
        let shape = u8::from(version.at_least(2, 14)) + u8::from(version.at_least(2, 15));
        let key = (account.namespace().as_str().to_owned(), shape);
        let cached = self.catalogs.lock().ok().and_then(|c| c.get(&key).cloned());
        if let Some(c) = &cached {
            if c.checked.elapsed() < CATALOG_RECHECK {
                return Ok(c.body.clone());
            }
        }
        let stamp = self.backend.catalog_stamp(account).await?;
        if let Some(c) = cached.filter(|c| c.stamp == stamp) {
            if let Ok(mut cache) = self.catalogs.lock() {
                cache.insert(
                    key,
                    Arc::new(CachedCatalog {
                        stamp,
                        checked: Instant::now(),
                        body: c.body.clone(),
                    }),
                );
            }
            return Ok(c.body.clone());
        }
        let revisions = self.backend.namespace(account).await?;
        let body =
            serde_json::to_vec(&osb_catalog(&revisions, version)).map_err(OsbError::internal)?;
        let body = bytes::Bytes::from(body);
        if let Ok(mut cache) = self.catalogs.lock() {
            cache.insert(
                key,
                Arc::new(CachedCatalog {
                    stamp,
                    checked: Instant::now(),
                    body: body.clone(),
                }),
            );
        }
        Ok(body)
    }

    /// The namespace's current revision of `service_id`.
    async fn offered(
        &self,
        account: &Account,
        service_id: &str,
    ) -> Result<Option<ServiceRevision>, OsbError> {
        Ok(self
            .backend
            .namespace(account)
            .await?
            .into_iter()
            .find(|r| r.service_id == service_id))
    }

    /// A revision's plans with their forms and manifests (read once, then cached).
    async fn revision_forms(
        &self,
        service_id: &str,
        revision: &str,
    ) -> Result<Arc<RevisionForms>, OsbError> {
        let key = (service_id.to_owned(), revision.to_owned());
        if let Ok(cache) = self.forms.lock() {
            if let Some(f) = cache.get(&key) {
                return Ok(f.clone());
            }
        }
        let Some(pkg) = self.backend.package(service_id, revision).await? else {
            return Err(OsbError::internal(format!(
                "the package of service {service_id} revision {revision} is missing"
            )));
        };
        let files = pkg.files;
        let validated = tokio::task::spawn_blocking(move || vitrina_package::validate(&files))
            .await
            .map_err(OsbError::internal)?;
        let mut plans = BTreeMap::new();
        for p in &validated.model.plans {
            let Some(id) = p
                .plan
                .as_ref()
                .and_then(|n| n.get("id"))
                .and_then(vitrina_package::yaml::Node::as_str_lenient)
            else {
                continue;
            };
            let form = PlanForm {
                fields: vitrina_package::plan_form::plan_options(&validated.model, p)
                    .into_iter()
                    .map(|o| o.field)
                    .collect(),
            };
            plans.insert(
                id.to_owned(),
                PlanEntry {
                    form,
                    config: vitrina_package::catalog::manifest_name(&validated.model, p),
                    manifest: p.manifest.clone(),
                    retry: p.retry.unwrap_or(true),
                },
            );
        }
        let forms = Arc::new(RevisionForms {
            revision: pkg.revision,
            plans,
        });
        if let Ok(mut cache) = self.forms.lock() {
            cache.insert(key, forms.clone());
        }
        Ok(forms)
    }

    fn plan_entry<'f>(forms: &'f RevisionForms, plan_id: &str) -> Result<&'f PlanEntry, OsbError> {
        forms.plans.get(plan_id).ok_or_else(|| {
            OsbError::internal(format!(
                "plan {plan_id} is not in the package of revision {}",
                forms.revision.revision
            ))
        })
    }

    fn project_of(row: &OsbInstanceRow) -> Result<String, OsbError> {
        row.project.clone().ok_or_else(|| {
            OsbError::internal(format!("instance {} has no project", row.instance_id))
        })
    }

    fn open_answers(&self, row: &OsbInstanceRow, sealed: &str) -> Result<Answers, OsbError> {
        Ok(self
            .sealer
            .open_json(&format!("osb-answers/{}", row.instance_id), sealed)?)
    }

    fn seal_answers(&self, instance_id: &str, answers: &Answers) -> Result<String, OsbError> {
        Ok(self
            .sealer
            .seal_json(&format!("osb-answers/{instance_id}"), answers)?)
    }

    // ---- instances ----

    /// Brings an instance's latest operation up to date with its deployment.
    async fn refresh(
        &self,
        account: &Account,
        mut row: OsbInstanceRow,
    ) -> Result<OsbInstanceRow, OsbError> {
        for _ in 0..5 {
            if row.op_state != IN_PROGRESS {
                return Ok(row);
            }
            let requested = row.op_description.ends_with(REQUESTED);
            let stale = crate::store::now_ms() - row.updated_at > REQUESTED_GRACE_MS;
            if requested && !stale {
                // The request's own handler is still talking to the deployment system.
                return Ok(row);
            }
            let state = self
                .backend
                .state(&Self::project_of(&row)?, &row.deployment)
                .await?;
            let before = row.clone();
            match (row.op_kind.as_str(), &state) {
                (_, DeployState::Working) => return Ok(row),
                ("provision", DeployState::Running) => {
                    row.state = "ready".into();
                    row.op_state = SUCCEEDED.into();
                    row.op_description = "the instance is provisioned".into();
                }
                ("provision", DeployState::Failed(why)) => {
                    row.state = FAILED.into();
                    row.op_state = FAILED.into();
                    row.op_description = format!("provisioning failed: {why}");
                }
                ("provision", DeployState::Deleted | DeployState::Missing) => {
                    row.state = FAILED.into();
                    row.op_state = FAILED.into();
                    row.op_description = "provisioning failed: the deployment is gone".into();
                }
                ("update", DeployState::Running) if requested => {
                    // The update never reached the deployment system.
                    row.target_plan_id = None;
                    row.target_revision = None;
                    row.target_answers_sealed = None;
                    row.target_hash = None;
                    row.state = "ready".into();
                    row.op_state = FAILED.into();
                    row.op_description = "the update did not start; send it again".into();
                }
                ("update", DeployState::Running) => {
                    if let (Some(plan), Some(rev), Some(answers), Some(hash)) = (
                        row.target_plan_id.take(),
                        row.target_revision.take(),
                        row.target_answers_sealed.take(),
                        row.target_hash.take(),
                    ) {
                        row.plan_id = plan;
                        row.revision = rev;
                        row.answers_sealed = answers;
                        let _ = hash;
                    }
                    row.state = "ready".into();
                    row.op_state = SUCCEEDED.into();
                    row.op_description = "the instance is updated".into();
                }
                ("update", other) => {
                    row.target_plan_id = None;
                    row.target_revision = None;
                    row.target_answers_sealed = None;
                    row.target_hash = None;
                    let why = match other {
                        DeployState::Failed(w) => w.clone(),
                        _ => "the deployment is gone".into(),
                    };
                    row.state = if matches!(other, DeployState::Failed(_)) {
                        "ready".into()
                    } else {
                        FAILED.into()
                    };
                    row.op_state = FAILED.into();
                    row.op_description = format!("the update failed: {why}");
                }
                ("deprovision", DeployState::Deleted | DeployState::Missing) => {
                    row.state = "gone".into();
                    row.op_state = SUCCEEDED.into();
                    row.op_description = "the instance is deprovisioned".into();
                }
                ("deprovision", DeployState::Failed(why)) => {
                    row.state = FAILED.into();
                    row.op_state = FAILED.into();
                    row.op_description = format!("deprovisioning failed: {why}");
                }
                ("deprovision", DeployState::Running) => {
                    // The deletion was overtaken (it cannot be: hoe keeps the last target);
                    // ask again.
                    self.backend
                        .undeploy(&Self::project_of(&row)?, &row.deployment)
                        .await?;
                    return Ok(row);
                }
                (kind, _) => {
                    return Err(OsbError::internal(format!(
                        "instance {} has an unknown operation kind `{kind}`",
                        row.instance_id
                    )))
                }
            }
            if self.store.osb_instance_save(&row).await? {
                if row.state == "gone" {
                    self.store
                        .osb_bindings_remove_all(account, &row.instance_id)
                        .await?;
                }
                row.generation += 1;
                return Ok(row);
            }
            // Someone else moved it: read again.
            let _ = before;
            row = match self.store.osb_instance(account, &row.instance_id).await? {
                Some(r) => r,
                None => return Err(OsbError::not_found("the instance is gone")),
            };
        }
        Err(OsbError::unavailable(
            "the instance changes too often; try again",
        ))
    }

    async fn instance(
        &self,
        account: &Account,
        instance_id: &str,
    ) -> Result<Option<OsbInstanceRow>, OsbError> {
        match self.store.osb_instance(account, instance_id).await? {
            Some(row) => Ok(Some(self.refresh(account, row).await?)),
            None => Ok(None),
        }
    }

    /// `PUT /v2/service_instances/:id`.
    pub async fn provision(
        &self,
        account: &Account,
        instance_id: &str,
        accepts_incomplete: bool,
        req: ProvisionRequest,
        version: ApiVersion,
    ) -> Result<Reply, OsbError> {
        use axum::http::StatusCode;
        let service_id = required(&req.service_id, "service_id")?;
        let plan_id = required(&req.plan_id, "plan_id")?;
        let org = required(&req.organization_guid, "organization_guid")?;
        let space = required(&req.space_guid, "space_guid")?;
        let parameters = parameters_of(&req.parameters)?.unwrap_or_default();
        let Some(rev) = self.offered(account, &service_id).await? else {
            return Err(OsbError::bad_request(format!(
                "service `{service_id}` is not in this broker's catalog"
            )));
        };
        if rev.plan(&plan_id).is_none() {
            return Err(OsbError::bad_request(format!(
                "plan `{plan_id}` is not a plan of service `{service_id}`"
            )));
        }
        if let Some(v) = req
            .maintenance_info
            .as_ref()
            .and_then(MaintenanceInfo::version)
        {
            if v != rev.maintenance_version() {
                return Err(OsbError::maintenance_conflict(format!(
                    "maintenance_info.version `{v}` is not the catalog's `{}`",
                    rev.maintenance_version()
                )));
            }
        }
        let request_hash = hash_json(&json!({
            "service_id": service_id, "plan_id": plan_id,
            "organization_guid": org, "space_guid": space,
            "parameters": Value::Object(parameters.clone()),
        }));
        if let Some(existing) = self.instance(account, instance_id).await? {
            if existing.state != "gone" {
                return self.provision_again(existing, &request_hash, accepts_incomplete);
            }
        }
        if self.store.osb_instance_taken(account, instance_id).await? {
            return Err(OsbError::conflict(
                "an instance with this id exists with different attributes",
            ));
        }
        if !accepts_incomplete {
            return Err(OsbError::async_required());
        }
        let forms = self.revision_forms(&service_id, &rev.revision).await?;
        let plan = Self::plan_entry(&forms, &plan_id)?;
        let answers = params::for_create(&plan.form, &parameters).map_err(|r| {
            OsbError::bad_request(format!("invalid parameters: {}", reasons_text(&r)))
        })?;
        let project = self
            .backend
            .project(context_str(&req.context, "project_id").as_deref())
            .await?;
        let deployment = uuid::Uuid::new_v4().to_string();
        let row = OsbInstanceRow {
            instance_id: instance_id.to_owned(),
            account: account.username().to_owned(),
            service_id: service_id.clone(),
            plan_id: plan_id.clone(),
            revision: rev.revision.clone(),
            request_hash: request_hash.clone(),
            answers_sealed: self.seal_answers(instance_id, &answers)?,
            project: Some(project.clone()),
            email: context_str(&req.context, "email"),
            deployment: deployment.clone(),
            state: "provisioning".into(),
            op_id: new_op("provision"),
            op_kind: "provision".into(),
            op_state: IN_PROGRESS.into(),
            op_description: format!("provisioning{REQUESTED}"),
            target_plan_id: None,
            target_revision: None,
            target_answers_sealed: None,
            target_hash: None,
            generation: 0,
            created_at: 0,
            updated_at: 0,
        };
        if !self.store.osb_instance_create(&row).await? {
            // A concurrent PUT of the same id won.
            return match self.instance(account, instance_id).await? {
                Some(existing) => self.provision_again(existing, &request_hash, accepts_incomplete),
                None => Err(OsbError::conflict("an instance with this id exists")),
            };
        }
        let spec = DeploySpec {
            deployment,
            config: plan.config.clone(),
            manifest: plan.manifest.clone(),
            retry: plan.retry,
            vars: answers.into_iter().collect(),
            project: Self::project_of(&row)?,
        };
        if let Err(e) = self.backend.deploy(&spec).await {
            // Leave nothing behind: the record becomes a tombstone of a failed provision.
            let mut failed = row.clone();
            failed.state = "gone".into();
            failed.op_state = FAILED.into();
            failed.op_description = format!("provisioning could not start: {}", e.description);
            let _ = self.store.osb_instance_save(&failed).await;
            return Err(e);
        }
        tracing::info!(instance = instance_id, account = account.username(), service = %service_id, plan = %plan_id, "osb: provisioning");
        let _ = version;
        let mut started = row.clone();
        started.generation = 0;
        if !self.confirm(&mut started, "provisioning").await? {
            // A DELETE came meanwhile; the deployment it deleted may have been created only
            // now: delete it again.
            if let Some(now) = self.store.osb_instance(account, instance_id).await? {
                if now.op_kind == "deprovision" {
                    self.backend
                        .undeploy(&Self::project_of(&now)?, &now.deployment)
                        .await?;
                }
            }
        }
        Ok((StatusCode::ACCEPTED, json!({ "operation": row.op_id })))
    }

    /// The deployment system accepted the operation: its description says so. Returns false
    /// when the instance changed meanwhile (it keeps that change).
    async fn confirm(&self, row: &mut OsbInstanceRow, text: &str) -> Result<bool, OsbError> {
        row.op_description = text.to_owned();
        if self.store.osb_instance_save(row).await? {
            row.generation += 1;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    fn provision_again(
        &self,
        existing: OsbInstanceRow,
        request_hash: &str,
        accepts_incomplete: bool,
    ) -> Result<Reply, OsbError> {
        use axum::http::StatusCode;
        if existing.request_hash != request_hash {
            return Err(OsbError::conflict(
                "an instance with this id exists with different attributes",
            ));
        }
        match (existing.op_kind.as_str(), existing.op_state.as_str()) {
            ("provision", IN_PROGRESS) => {
                if !accepts_incomplete {
                    return Err(OsbError::async_required());
                }
                Ok((StatusCode::ACCEPTED, json!({ "operation": existing.op_id })))
            }
            _ if existing.state == FAILED => Err(OsbError::conflict(format!(
                "this instance failed ({}); deprovision it first",
                existing.op_description
            ))),
            _ if existing.state == "deprovisioning" => {
                Err(OsbError::concurrency("the instance is being deprovisioned"))
            }
            _ => Ok((StatusCode::OK, json!({}))),
        }
    }

    /// `GET /v2/service_instances/:id`.
    pub async fn fetch_instance(
        &self,
        account: &Account,
        instance_id: &str,
        version: ApiVersion,
    ) -> Result<Reply, OsbError> {
        let row = match self.instance(account, instance_id).await? {
            Some(r) if !matches!(r.state.as_str(), "gone" | "provisioning" | FAILED) => r,
            _ => return Err(OsbError::not_found("no such service instance")),
        };
        if row.state != "ready" {
            return Err(OsbError::concurrency(format!(
                "an operation on the instance is in progress ({})",
                row.op_kind
            )));
        }
        let answers = self.open_answers(&row, &row.answers_sealed)?;
        let mut body = Map::new();
        body.insert("service_id".into(), row.service_id.clone().into());
        body.insert("plan_id".into(), row.plan_id.clone().into());
        body.insert(
            "parameters".into(),
            Value::Object(answers.into_iter().collect()),
        );
        if version.at_least(2, 15) {
            body.insert(
                "maintenance_info".into(),
                json!({
                    "version": revision_semver(&row.revision),
                    "description": format!("revision {}", row.revision),
                }),
            );
        }
        Ok((axum::http::StatusCode::OK, Value::Object(body)))
    }

    /// `PATCH /v2/service_instances/:id`.
    pub async fn update(
        &self,
        account: &Account,
        instance_id: &str,
        accepts_incomplete: bool,
        req: UpdateRequest,
    ) -> Result<Reply, OsbError> {
        use axum::http::StatusCode;
        let UpdateTarget {
            row,
            requested_plan,
            target_revision,
            plan_change,
            revision_change,
            parameters,
        } = self.update_target(account, instance_id, &req).await?;
        // An operation in flight: the same update again is answered with its operation.
        if row.op_state == IN_PROGRESS {
            let same = row.op_kind == "update"
                && row.target_plan_id.as_deref() == Some(requested_plan.as_str())
                && row.target_revision.as_deref() == Some(target_revision.as_str())
                && row.target_hash.as_deref()
                    == Some(hash_json(&json!(parameters.clone().map(Value::Object))).as_str());
            if same && accepts_incomplete {
                return Ok((StatusCode::ACCEPTED, json!({ "operation": row.op_id })));
            }
            return Err(OsbError::concurrency(format!(
                "another operation on the instance is in progress ({})",
                row.op_kind
            )));
        }
        if row.state != "ready" {
            return Err(OsbError::unprocessable(
                "InstanceNotUsable",
                format!("the instance cannot be updated: {}", row.op_description),
            ));
        }
        let (current, answers, spec) = self
            .updated_answers(
                &row,
                &requested_plan,
                &target_revision,
                parameters.as_ref(),
                plan_change || revision_change,
            )
            .await?;
        if !plan_change && !revision_change && answers == current {
            return Ok((StatusCode::OK, json!({})));
        }
        if !accepts_incomplete {
            return Err(OsbError::async_required());
        }
        let mut next = row.clone();
        next.state = "updating".into();
        next.op_id = new_op("update");
        next.op_kind = "update".into();
        next.op_state = IN_PROGRESS.into();
        next.op_description = format!("update{REQUESTED}");
        next.target_plan_id = Some(requested_plan.clone());
        next.target_revision = Some(target_revision.clone());
        next.target_answers_sealed = Some(self.seal_answers(instance_id, &answers)?);
        next.target_hash = Some(hash_json(&json!(parameters.map(Value::Object))));
        if !self.store.osb_instance_save(&next).await? {
            return Err(OsbError::concurrency(
                "the instance changed meanwhile; try again",
            ));
        }
        next.generation += 1;
        if let Err(e) = self.backend.redeploy(&spec).await {
            let mut back = row.clone();
            back.generation = next.generation;
            let _ = self.store.osb_instance_save(&back).await;
            return Err(e);
        }
        tracing::info!(instance = instance_id, account = account.username(), plan = %requested_plan, revision = %target_revision, "osb: updating");
        let text = if revision_change {
            format!("moving to revision {target_revision}")
        } else {
            "updating".to_owned()
        };
        self.confirm(&mut next, &text).await?;
        Ok((StatusCode::ACCEPTED, json!({ "operation": next.op_id })))
    }

    /// Which plan and revision an update moves the instance to, checked as OSB requires.
    async fn update_target(
        &self,
        account: &Account,
        instance_id: &str,
        req: &UpdateRequest,
    ) -> Result<UpdateTarget, OsbError> {
        let service_id = required(&req.service_id, "service_id")?;
        let parameters = parameters_of(&req.parameters)?;
        let row = match self.instance(account, instance_id).await? {
            Some(r) if r.state != "gone" => r,
            _ => return Err(OsbError::not_found("no such service instance")),
        };
        if row.service_id != service_id {
            return Err(OsbError::bad_request(format!(
                "the instance belongs to service `{}`, not `{service_id}`",
                row.service_id
            )));
        }
        let requested_plan = req
            .plan_id
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .unwrap_or(&row.plan_id)
            .to_owned();
        let offered = self.offered(account, &service_id).await?;
        // Which revision the instance moves to.
        let mi = req
            .maintenance_info
            .as_ref()
            .and_then(MaintenanceInfo::version);
        let current_version = revision_semver(&row.revision);
        let target_revision = match (&offered, mi) {
            (Some(o), Some(v)) if v == o.maintenance_version() => o.revision.clone(),
            (_, Some(v)) if v == current_version => row.revision.clone(),
            (o, Some(v)) => {
                return Err(OsbError::maintenance_conflict(format!(
                    "maintenance_info.version `{v}` is not the catalog's `{}`",
                    o.as_ref()
                        .map(ServiceRevision::maintenance_version)
                        .unwrap_or_else(|| current_version.clone())
                )))
            }
            (Some(o), None) if requested_plan != row.plan_id => o.revision.clone(),
            _ => row.revision.clone(),
        };
        let plan_change = requested_plan != row.plan_id;
        let revision_change = target_revision != row.revision;
        let changes_something =
            plan_change || revision_change || parameters.as_ref().is_some_and(|p| !p.is_empty());
        if changes_something && offered.is_none() {
            return Err(OsbError::unprocessable(
                "ServiceArchived",
                "the service is no longer offered (archived): its instances keep running but cannot change plan or parameters",
            ));
        }
        if plan_change {
            let target = offered.as_ref().filter(|o| o.revision == target_revision);
            let updateable = match target {
                Some(o) => o.plan_updateable(),
                None => false,
            };
            if !updateable {
                return Err(OsbError::unprocessable(
                    "PlanChangeNotSupported",
                    "this service does not allow changing plans (`plan_updateable` is false)",
                ));
            }
            if target.and_then(|o| o.plan(&requested_plan)).is_none() {
                return Err(OsbError::bad_request(format!(
                    "plan `{requested_plan}` is not a plan of service `{service_id}`"
                )));
            }
        }
        Ok(UpdateTarget {
            row,
            requested_plan,
            target_revision,
            plan_change,
            revision_change,
            parameters,
        })
    }

    /// The answers before and after an update and the deployment it asks for (nothing saved).
    async fn updated_answers(
        &self,
        row: &OsbInstanceRow,
        requested_plan: &str,
        target_revision: &str,
        parameters: Option<&Map<String, Value>>,
        moving: bool,
    ) -> Result<(Answers, Answers, DeploySpec), OsbError> {
        let old_forms = self.revision_forms(&row.service_id, &row.revision).await?;
        let new_forms = self
            .revision_forms(&row.service_id, target_revision)
            .await?;
        let old_plan = Self::plan_entry(&old_forms, &row.plan_id)?;
        let new_plan = Self::plan_entry(&new_forms, requested_plan)?;
        let current = self.open_answers(row, &row.answers_sealed)?;
        let answers = params::for_update(
            &old_plan.form,
            &new_plan.form,
            &current,
            &parameters.cloned().unwrap_or_default(),
        )
        .map_err(|r| {
            let text = reasons_text(&r);
            if moving {
                OsbError::unprocessable(
                    "UpgradeRefused",
                    format!("the instance cannot move to this plan or revision: {text}"),
                )
            } else {
                OsbError::bad_request(format!("invalid parameters: {text}"))
            }
        })?;
        let spec = DeploySpec {
            deployment: row.deployment.clone(),
            config: new_plan.config.clone(),
            manifest: new_plan.manifest.clone(),
            retry: new_plan.retry,
            vars: answers.clone().into_iter().collect(),
            project: Self::project_of(row)?,
        };
        Ok((current, answers, spec))
    }

    /// An instance's record brought up to date with its deployment (an update that finished
    /// moves it to its new plan and revision).
    pub async fn current_instance(
        &self,
        account: &Account,
        instance_id: &str,
    ) -> Result<Option<OsbInstanceRow>, OsbError> {
        self.instance(account, instance_id).await
    }

    /// What an update would do, checked as [`Self::update`] checks it, without changing
    /// anything: the answers before and after and the deployment it would ask for (the pages
    /// preview it with the deployment system's plan).
    pub async fn update_preview(
        &self,
        account: &Account,
        instance_id: &str,
        req: &UpdateRequest,
    ) -> Result<UpdatePreview, OsbError> {
        let t = self.update_target(account, instance_id, req).await?;
        if t.row.op_state == IN_PROGRESS {
            return Err(OsbError::concurrency(format!(
                "another operation on the instance is in progress ({})",
                t.row.op_kind
            )));
        }
        if t.row.state != "ready" {
            return Err(OsbError::unprocessable(
                "InstanceNotUsable",
                format!("the instance cannot be updated: {}", t.row.op_description),
            ));
        }
        let (current, answers, spec) = self
            .updated_answers(
                &t.row,
                &t.requested_plan,
                &t.target_revision,
                t.parameters.as_ref(),
                t.plan_change || t.revision_change,
            )
            .await?;
        Ok(UpdatePreview {
            plan_id: t.row.plan_id.clone(),
            revision: t.row.revision.clone(),
            target_plan_id: t.requested_plan,
            target_revision: t.target_revision,
            current,
            answers,
            spec,
        })
    }

    /// `DELETE /v2/service_instances/:id`.
    pub async fn deprovision(
        &self,
        account: &Account,
        instance_id: &str,
        accepts_incomplete: bool,
    ) -> Result<Reply, OsbError> {
        use axum::http::StatusCode;
        let row = match self.instance(account, instance_id).await? {
            Some(r) if r.state != "gone" => r,
            _ => return Err(OsbError::gone()),
        };
        if row.op_kind == "deprovision" && row.op_state == IN_PROGRESS {
            if !accepts_incomplete {
                return Err(OsbError::async_required());
            }
            return Ok((StatusCode::ACCEPTED, json!({ "operation": row.op_id })));
        }
        // A failed provision whose deployment never existed is removed at once.
        if row.state == FAILED
            && self
                .backend
                .state(&Self::project_of(&row)?, &row.deployment)
                .await?
                == DeployState::Missing
        {
            let mut gone = row.clone();
            gone.state = "gone".into();
            gone.op_id = new_op("deprovision");
            gone.op_kind = "deprovision".into();
            gone.op_state = SUCCEEDED.into();
            gone.op_description = "the instance is deprovisioned".into();
            if !self.store.osb_instance_save(&gone).await? {
                return Err(OsbError::concurrency(
                    "the instance changed meanwhile; try again",
                ));
            }
            self.store
                .osb_bindings_remove_all(account, instance_id)
                .await?;
            return Ok((StatusCode::OK, json!({})));
        }
        if !accepts_incomplete {
            return Err(OsbError::async_required());
        }
        let mut next = row.clone();
        next.state = "deprovisioning".into();
        next.op_id = new_op("deprovision");
        next.op_kind = "deprovision".into();
        next.op_state = IN_PROGRESS.into();
        next.op_description = format!("deprovisioning{REQUESTED}");
        next.target_plan_id = None;
        next.target_revision = None;
        next.target_answers_sealed = None;
        next.target_hash = None;
        if !self.store.osb_instance_save(&next).await? {
            return Err(OsbError::concurrency(
                "the instance changed meanwhile; try again",
            ));
        }
        next.generation += 1;
        if let Err(e) = self
            .backend
            .undeploy(&Self::project_of(&row)?, &row.deployment)
            .await
        {
            let mut back = row.clone();
            back.generation = next.generation;
            let _ = self.store.osb_instance_save(&back).await;
            return Err(e);
        }
        self.confirm(&mut next, "deprovisioning").await?;
        let removed = self
            .store
            .osb_bindings_remove_all(account, instance_id)
            .await?;
        tracing::info!(
            instance = instance_id,
            account = account.username(),
            bindings_removed = removed,
            "osb: deprovisioning"
        );
        Ok((StatusCode::ACCEPTED, json!({ "operation": next.op_id })))
    }

    /// `GET /v2/service_instances/:id/last_operation`. Unknown `operation` values fall back
    /// to the instance's latest operation.
    pub async fn last_operation(
        &self,
        account: &Account,
        instance_id: &str,
        version: ApiVersion,
    ) -> Result<(Reply, bool), OsbError> {
        use axum::http::StatusCode;
        let Some(row) = self.instance(account, instance_id).await? else {
            return Err(OsbError::not_found("no such service instance"));
        };
        let mut body = Map::new();
        body.insert("state".into(), row.op_state.clone().into());
        body.insert("description".into(), row.op_description.clone().into());
        if version.at_least(2, 14)
            && row.op_state == FAILED
            && matches!(row.op_kind.as_str(), "update" | "deprovision")
        {
            body.insert("instance_usable".into(), (row.state == "ready").into());
            if row.op_kind == "update" {
                body.insert("update_repeatable".into(), true.into());
            }
        }
        Ok((
            (StatusCode::OK, Value::Object(body)),
            row.op_state == IN_PROGRESS,
        ))
    }

    // ---- bindings ----

    async fn ready_instance(
        &self,
        account: &Account,
        instance_id: &str,
    ) -> Result<OsbInstanceRow, OsbError> {
        let row = match self.instance(account, instance_id).await? {
            Some(r) if r.state != "gone" => r,
            _ => return Err(OsbError::not_found("no such service instance")),
        };
        if row.op_state == IN_PROGRESS {
            return Err(OsbError::concurrency(format!(
                "an operation on the instance is in progress ({})",
                row.op_kind
            )));
        }
        if row.state != "ready" {
            return Err(OsbError::unprocessable(
                "InstanceNotUsable",
                format!("the instance is not usable: {}", row.op_description),
            ));
        }
        Ok(row)
    }

    async fn credentials(&self, row: &OsbInstanceRow) -> Result<Value, OsbError> {
        Ok(Value::Object(
            self.backend
                .outputs(&Self::project_of(row)?, &row.deployment)
                .await?,
        ))
    }

    /// `PUT …/service_bindings/:bid` (synchronous).
    pub async fn bind(
        &self,
        account: &Account,
        instance_id: &str,
        binding_id: &str,
        req: BindRequest,
    ) -> Result<Reply, OsbError> {
        use axum::http::StatusCode;
        let service_id = required(&req.service_id, "service_id")?;
        let plan_id = required(&req.plan_id, "plan_id")?;
        let parameters = parameters_of(&req.parameters)?.unwrap_or_default();
        if !parameters.is_empty() {
            return Err(OsbError::bad_request(
                "bindings of this broker take no parameters",
            ));
        }
        let app = req
            .app_guid
            .clone()
            .filter(|s| !s.trim().is_empty())
            .or_else(|| {
                req.bind_resource
                    .as_ref()
                    .and_then(|b| b.get("app_guid"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            });
        let request_hash = hash_json(&json!({
            "service_id": service_id, "plan_id": plan_id, "app_guid": app,
        }));
        let Some(instance) = self.store.osb_instance(account, instance_id).await? else {
            return Err(OsbError::not_found("no such service instance"));
        };
        if instance.state == "gone" {
            return Err(OsbError::not_found("no such service instance"));
        }
        if instance.service_id != service_id {
            return Err(OsbError::bad_request(format!(
                "the instance belongs to service `{}`, not `{service_id}`",
                instance.service_id
            )));
        }
        if let Some(existing) = self
            .store
            .osb_binding(account, instance_id, binding_id)
            .await?
        {
            if existing.state == "bound" {
                if existing.request_hash != request_hash {
                    return Err(OsbError::conflict(
                        "a binding with this id exists with different attributes",
                    ));
                }
                let row = self.ready_instance(account, instance_id).await?;
                let credentials = self.credentials(&row).await?;
                return Ok((StatusCode::OK, json!({ "credentials": credentials })));
            }
        }
        let row = self.ready_instance(account, instance_id).await?;
        let bindable = self
            .revision_forms(&row.service_id, &row.revision)
            .await?
            .revision
            .bindable();
        if !bindable {
            return Err(OsbError::bad_request("this service is not bindable"));
        }
        if row.plan_id != plan_id {
            return Err(OsbError::bad_request(format!(
                "the instance runs plan `{}`, not `{plan_id}`",
                row.plan_id
            )));
        }
        let credentials = self.credentials(&row).await?;
        let created = self
            .store
            .osb_binding_create(&OsbBindingRow {
                instance_id: instance_id.to_owned(),
                binding_id: binding_id.to_owned(),
                account: account.username().to_owned(),
                request_hash: request_hash.clone(),
                state: "bound".into(),
                created_at: 0,
            })
            .await?;
        if !created {
            // A concurrent bind of the same id won.
            return match self
                .store
                .osb_binding(account, instance_id, binding_id)
                .await?
            {
                Some(b) if b.request_hash == request_hash => {
                    Ok((StatusCode::OK, json!({ "credentials": credentials })))
                }
                _ => Err(OsbError::conflict(
                    "a binding with this id exists with different attributes",
                )),
            };
        }
        tracing::info!(
            instance = instance_id,
            binding = binding_id,
            account = account.username(),
            "osb: bound"
        );
        Ok((StatusCode::CREATED, json!({ "credentials": credentials })))
    }

    /// `GET …/service_bindings/:bid`.
    pub async fn fetch_binding(
        &self,
        account: &Account,
        instance_id: &str,
        binding_id: &str,
    ) -> Result<Reply, OsbError> {
        match self
            .store
            .osb_binding(account, instance_id, binding_id)
            .await?
        {
            Some(b) if b.state == "bound" => {}
            _ => return Err(OsbError::not_found("no such binding")),
        }
        let Some(row) = self.store.osb_instance(account, instance_id).await? else {
            return Err(OsbError::not_found("no such binding"));
        };
        let credentials = self.credentials(&row).await?;
        Ok((
            axum::http::StatusCode::OK,
            json!({ "credentials": credentials }),
        ))
    }

    /// `DELETE …/service_bindings/:bid` (synchronous).
    pub async fn unbind(
        &self,
        account: &Account,
        instance_id: &str,
        binding_id: &str,
    ) -> Result<Reply, OsbError> {
        if self
            .store
            .osb_binding_remove(account, instance_id, binding_id)
            .await?
        {
            tracing::info!(
                instance = instance_id,
                binding = binding_id,
                account = account.username(),
                "osb: unbound"
            );
            Ok((axum::http::StatusCode::OK, json!({})))
        } else {
            Err(OsbError::gone())
        }
    }

    /// `GET …/service_bindings/:bid/last_operation`: bindings are synchronous, so a known
    /// binding (or its tombstone) has succeeded.
    pub async fn binding_last_operation(
        &self,
        account: &Account,
        instance_id: &str,
        binding_id: &str,
    ) -> Result<Reply, OsbError> {
        match self
            .store
            .osb_binding(account, instance_id, binding_id)
            .await?
        {
            Some(b) => {
                let description = if b.state == "bound" {
                    "the binding is created"
                } else {
                    "the binding is deleted"
                };
                Ok((
                    axum::http::StatusCode::OK,
                    json!({ "state": SUCCEEDED, "description": description }),
                ))
            }
            None => Err(OsbError::not_found("no such binding")),
        }
    }
}
