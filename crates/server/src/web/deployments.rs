//! Deploying from the wizard and watching deployments: the pages drive the same broker the OSB
//! API serves (one internal broker account on the public namespace), and read status, logs and
//! outputs from the deployment system with the signed-in project's context.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde_json::{json, Map, Value};
use vitrina_forms::{Action, FieldKind};

use super::session::Visitor;
use super::{posted, posted_offer, view, Posted, Web};
use crate::osb::wire::{ApiVersion, ProvisionRequest};
use crate::store::web_deployments::WebDeploymentRow;
use crate::tenants::{BrokerCtx, Namespace, ProjectCtx};

/// The broker account the pages act through.
const WEB_ACCOUNT: &str = "vitrina-web";

impl Web {
    /// The internal broker account (made at first use; its password is never shown or kept:
    /// each server start sets a new one and signs in with it).
    pub(super) async fn account(&self) -> Option<BrokerCtx> {
        let backend = self.backend.as_ref()?;
        backend
            .account
            .get_or_try_init(|| async {
                let pw = self
                    .tenants
                    .put_broker_account(WEB_ACCOUNT, Namespace::Public)
                    .await?;
                self.tenants.broker_login(WEB_ACCOUNT, pw.expose()).await
            })
            .await
            .ok()
            .cloned()
    }

    pub(super) fn sign_in_first(&self, v: &Visitor, next: &str) -> Response {
        let _ = v;
        Redirect::to(&format!("/signin?next={}", urlencode(next))).into_response()
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The broker and deployment system the pages deploy through.
pub struct Backend {
    pub osb: Arc<crate::osb::Broker<crate::osb::server_backend::ServerBackend>>,
    pub hoe: Arc<crate::hoe::Hoe>,
    account: tokio::sync::OnceCell<BrokerCtx>,
}

impl Backend {
    pub fn new(
        osb: Arc<crate::osb::Broker<crate::osb::server_backend::ServerBackend>>,
        hoe: Arc<crate::hoe::Hoe>,
    ) -> Backend {
        Backend {
            osb,
            hoe,
            account: tokio::sync::OnceCell::new(),
        }
    }
}

/// `POST /services/{id}/plans/{plan}/deploy`: the reviewed answers become a broker instance.
pub(super) async fn deploy(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path((id, plan)): Path<(String, String)>,
    Form(form): Form<Posted>,
) -> Response {
    let v = web.visitor(&headers).await;
    if !v.csrf_ok(posted(&form, "_csrf")) {
        return web.bad_csrf(&v);
    }
    let Some(project) = v.who.project().cloned() else {
        return web.sign_in_first(&v, &format!("/services/{id}/plans/{plan}"));
    };
    let Some(s) = posted_offer(&web, &v, &id, &form).await else {
        return web.not_found(&v);
    };
    let Some(offer) = s.entry.offer(&plan) else {
        return web.not_found(&v);
    };
    let choices = web.choices_for(&v).await;
    let answers = view::answers_from_post(offer, &form);
    let w = view::wizard(
        &s.entry,
        offer,
        &answers,
        Action::Create,
        &choices,
        &web.tariffs,
        v.lang,
        true,
    );
    let (Some(backend), Some(account)) = (web.backend.as_ref(), web.account().await) else {
        return web.message(
            &v,
            StatusCode::SERVICE_UNAVAILABLE,
            "vitrina",
            "deployments are not available on this server",
        );
    };
    if !w.errors.is_empty() {
        let mut r = web.page(
            &v,
            "wizard.html",
            minijinja::context! {
                service => minijinja::Value::from(minijinja::value::Serde(view::card(&s, &web.tariffs, v.lang))),
                w => minijinja::Value::from(minijinja::value::Serde(&w)),
            },
        );
        *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        return r;
    }
    // Deploying is refused while the project's quotas fall short (the review page says why).
    let quota = web.quota_check(&v, offer, &answers).await;
    if quota.blocks() {
        let mut r = web.page(
            &v,
            "review.html",
            minijinja::context! {
                service => minijinja::Value::from(minijinja::value::Serde(view::card(&s, &web.tariffs, v.lang))),
                w => minijinja::Value::from(minijinja::value::Serde(&w)),
                posted => minijinja::Value::from(minijinja::value::Serde(&form)),
                quota => minijinja::Value::from(minijinja::value::Serde(&quota)),
            },
        );
        *r.status_mut() = StatusCode::CONFLICT;
        return r;
    }
    // The broker takes values (a user-step option's `base + n × size`), as OSB platforms send.
    let ev = offer.form.evaluate(&answers, Action::Create);
    let mut parameters = Map::new();
    for name in &ev.visible {
        let Some(field) = offer.form.fields.get(name) else {
            continue;
        };
        if ev.read_only.contains(name) || matches!(field.kind, FieldKind::Number) {
            continue;
        }
        if let Some(value) = ev.answers.get(name).and_then(|a| field.effective_value(a)) {
            parameters.insert(name.clone(), form_json(&value));
        }
    }
    let instance = uuid::Uuid::new_v4().to_string();
    let req = ProvisionRequest {
        service_id: Some(s.entry.id.clone()),
        plan_id: Some(offer.id.clone()),
        organization_guid: Some(project.id().to_owned()),
        space_guid: Some(project.id().to_owned()),
        context: Some(
            json!({"platform": "vitrina-web", "project_id": project.id(), "email": project.email()}),
        ),
        parameters: Some(Value::Object(parameters)),
        maintenance_info: None,
    };
    match backend
        .osb
        .provision(&account, &instance, true, req, ApiVersion::MAX)
        .await
    {
        Ok(_) => {}
        Err(e) => {
            return web.message(&v, e.status, "vitrina", &e.description);
        }
    }
    let row = WebDeploymentRow {
        instance_id: instance.clone(),
        namespace: "public".into(),
        service_id: s.entry.id.clone(),
        revision: s.entry.revision.clone(),
        plan: offer.folder.clone(),
        created_at: 0,
    };
    if let Err(e) = web.tenants.store().web_deployment_add(&project, &row).await {
        tracing::error!(error = %e, "cannot record a web deployment");
    }
    Redirect::to(&format!("/deployments/{instance}")).into_response()
}

fn form_json(v: &vitrina_forms::Value) -> Value {
    match v {
        vitrina_forms::Value::Integer(i) => json!(i),
        vitrina_forms::Value::Number(n) => json!(n),
        vitrina_forms::Value::String(s) => json!(s),
        vitrina_forms::Value::Bool(b) => json!(b),
    }
}

#[derive(serde::Serialize)]
struct Listed {
    id: String,
    name: String,
    plan: String,
    status: String,
}

/// The deployment's state as the pages show it.
#[derive(serde::Serialize, Default)]
struct Watched {
    id: String,
    name: String,
    plan: String,
    status: String,
    target: String,
    attempts: i64,
    max_attempts: i64,
    last_error: Option<String>,
    working: bool,
    outputs: Vec<(String, String, bool)>,
    revealed: bool,
    logs: Vec<(String, String, String)>,
    recoveries: Vec<String>,
}

async fn watched(
    web: &Web,
    project: &ProjectCtx,
    row: &WebDeploymentRow,
    reveal: bool,
) -> Option<Watched> {
    let backend = web.backend.as_ref()?;
    let account = web.account().await?;
    let name = web
        .shelf
        .any(&row.service_id, &row.revision)
        .await
        .map(|l| l.entry.name.clone())
        .unwrap_or_else(|| row.service_id.clone());
    let inst = web
        .tenants
        .store()
        .osb_instance(&account, &row.instance_id)
        .await
        .ok()??;
    let mut w = Watched {
        id: row.instance_id.clone(),
        name,
        plan: row.plan.clone(),
        ..Watched::default()
    };
    match backend.hoe.object(project, &inst.deployment, false).await {
        Ok(o) => {
            w.status = o.status.clone();
            w.target = o.target_status.clone();
            w.attempts = o.attempts;
            w.max_attempts = o.max_attempts;
            w.last_error = o.last_error.clone();
            w.working = o.status == "applying" || o.status != o.target_status;
            let outs: BTreeMap<String, Value> = if reveal {
                backend
                    .hoe
                    .revealed_outputs(
                        project,
                        &inst.deployment,
                        "revealed on the web deployment page",
                    )
                    .await
                    .map(|m| m.into_iter().collect())
                    .unwrap_or_default()
            } else {
                serde_json::from_str(&o.out).unwrap_or_default()
            };
            w.revealed = reveal;
            w.outputs = outs
                .into_iter()
                .map(|(k, v)| {
                    let text = match &v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    let link = text.starts_with("http://") || text.starts_with("https://");
                    (k, text, link)
                })
                .collect();
            w.recoveries = o
                .recoveries
                .iter()
                .map(|r| serde_json::to_string(r).unwrap_or_default())
                .collect();
        }
        Err(_) => {
            // Not created yet (the broker has the request) or gone.
            w.status = if inst.state == "gone" {
                "deleted".into()
            } else {
                "applying".into()
            };
            w.working = inst.state != "gone";
        }
    }
    if let Ok(lines) = backend.hoe.logs(project, &inst.deployment).await {
        let skip = lines.len().saturating_sub(200);
        w.logs = lines
            .into_iter()
            .skip(skip)
            .map(|l| (l.created_at, l.level, l.message))
            .collect();
    }
    Some(w)
}

/// `GET /deployments`.
pub(super) async fn list(State(web): State<Arc<Web>>, headers: HeaderMap) -> Response {
    let v = web.visitor(&headers).await;
    let Some(project) = v.who.project().cloned() else {
        return web.sign_in_first(&v, "/deployments");
    };
    let rows = web
        .tenants
        .store()
        .web_deployments(&project)
        .await
        .unwrap_or_default();
    let mut items = Vec::new();
    for r in &rows {
        if let Some(w) = watched(&web, &project, r, false).await {
            items.push(Listed {
                id: w.id,
                name: w.name,
                plan: w.plan,
                status: w.status,
            });
        }
    }
    web.page(
        &v,
        "deployments.html",
        minijinja::context! { items => minijinja::Value::from(minijinja::value::Serde(&items)) },
    )
}

async fn show(web: &Web, v: &Visitor, id: &str, reveal: bool) -> Response {
    let Some(project) = v.who.project().cloned() else {
        return web.sign_in_first(v, &format!("/deployments/{id}"));
    };
    let Ok(Some(row)) = web.tenants.store().web_deployment(&project, id).await else {
        return web.not_found(v);
    };
    let Some(w) = watched(web, &project, &row, reveal).await else {
        return web.not_found(v);
    };
    let change = super::change::offer(web, &project, id).await;
    web.page(
        v,
        "deployment.html",
        minijinja::context! {
            d => minijinja::Value::from(minijinja::value::Serde(&w)),
            change => minijinja::Value::from(minijinja::value::Serde(&change)),
        },
    )
}

/// `GET /deployments/{id}`.
pub(super) async fn page(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let v = web.visitor(&headers).await;
    show(&web, &v, &id, false).await
}

/// `POST /deployments/{id}/reveal`: the sensitive outputs, once, written to the audit log.
pub(super) async fn reveal(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<Posted>,
) -> Response {
    let v = web.visitor(&headers).await;
    if !v.csrf_ok(posted(&form, "_csrf")) {
        return web.bad_csrf(&v);
    }
    show(&web, &v, &id, true).await
}

/// `POST /deployments/{id}/delete` (the page asks to confirm first).
pub(super) async fn delete(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<Posted>,
) -> Response {
    let v = web.visitor(&headers).await;
    if !v.csrf_ok(posted(&form, "_csrf")) {
        return web.bad_csrf(&v);
    }
    let Some(project) = v.who.project().cloned() else {
        return web.sign_in_first(&v, &format!("/deployments/{id}"));
    };
    let Ok(Some(_)) = web.tenants.store().web_deployment(&project, &id).await else {
        return web.not_found(&v);
    };
    let (Some(backend), Some(account)) = (web.backend.as_ref(), web.account().await) else {
        return web.not_found(&v);
    };
    if let Err(e) = backend.osb.deprovision(&account, &id, true).await {
        if e.status != StatusCode::GONE {
            return web.message(&v, e.status, "vitrina", &e.description);
        }
    }
    Redirect::to(&format!("/deployments/{id}")).into_response()
}
