//! Changing a running deployment from the pages.
//!
//! "Change options" re-opens the wizard with the deployment's current answers (as the broker
//! keeps them, never the defaults). Before anything is applied, the preview shows per changed
//! answer what it will do in plain words — changed in place, VM restarted, VM replaced with its
//! volumes kept or lost — read from the deployment system's plan preview
//! ([`crate::hoe::Hoe::plan_preview`]), and the price before and after. Apply is the broker's
//! update ([`crate::osb::broker::Broker::update`]), the path OSB platforms use. When a newer
//! revision of the service is published, the deployment page offers the upgrade with the same
//! preview (the broker's `maintenance_info` upgrade); what cannot carry over is listed.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use serde_json::{json, Map, Value};
use vitrina_forms::{Action, FieldKind};
use vitrina_package::wizard::PlanOffer;

use super::i18n::{t, Lang};
use super::session::Visitor;
use super::shelf::Listed;
use super::{posted, view, Posted, Web};
use crate::hoe::{HoeError, UpdateObject};
use crate::osb::broker::UpdatePreview;
use crate::osb::catalog::revision_semver;
use crate::osb::params::Answers;
use crate::osb::server_backend::ServerBackend;
use crate::osb::wire::{OsbError, UpdateRequest};
use crate::store::osb::OsbInstanceRow;
use crate::tenants::ProjectCtx;

/// This module's page templates (added to the pages' environment).
pub(super) const TEMPLATES: [(&str, &str); 2] = [
    (
        "change.html",
        include_str!("../../web/templates/change.html"),
    ),
    (
        "change_preview.html",
        include_str!("../../web/templates/change_preview.html"),
    ),
];

/// Previews made per changed answer at most (beyond, one preview for all of them).
const MAX_ANSWER_PREVIEWS: usize = 6;

/// This module's words, `(key, English, Russian)`.
pub(super) const MESSAGES: &[(&str, &str, &str)] = &[
    ("change_options", "Change options", "Изменить параметры"),
    (
        "change_options_text",
        "Open the wizard with this deployment's current answers; nothing changes before you confirm.",
        "Откройте мастер с текущими ответами этого развёртывания; до подтверждения ничего не меняется.",
    ),
    ("change_title", "Change options", "Изменение параметров"),
    ("preview_change", "Preview the change", "Показать, что изменится"),
    ("change_preview", "What the change will do", "Что сделает изменение"),
    ("apply_change", "Apply the change", "Применить изменение"),
    ("back_to_change", "Back to the options", "Вернуться к параметрам"),
    ("back_to_deployment", "Back to the deployment", "Вернуться к развёртыванию"),
    ("option", "Option", "Параметр"),
    ("now", "Now", "Сейчас"),
    ("after", "After", "После"),
    ("effect", "What it does", "Что произойдёт"),
    ("price_before", "Price now", "Цена сейчас"),
    ("price_after", "Price after the change", "Цена после изменения"),
    ("per_month_short", "per month", "в месяц"),
    (
        "no_changes",
        "No answer differs from the running deployment.",
        "Ни один ответ не отличается от текущего развёртывания.",
    ),
    (
        "effect_none",
        "Nothing changes in the cloud",
        "В облаке ничего не меняется",
    ),
    ("effect_in_place", "Changed in place", "Меняется на месте"),
    (
        "effect_restart",
        "The VM is restarted (resized)",
        "ВМ перезапускается (меняется её размер)",
    ),
    (
        "effect_replace_kept",
        "The VM is replaced; its data volume is kept",
        "ВМ пересоздаётся; диск данных сохраняется",
    ),
    (
        "effect_replace_lost",
        "The VM is replaced; the data on its volumes is lost",
        "ВМ пересоздаётся; данные на её дисках теряются",
    ),
    (
        "effect_volume_lost",
        "A volume is made anew: its data is lost",
        "Диск создаётся заново: его данные теряются",
    ),
    ("effect_replace", "Made anew", "Создаётся заново"),
    ("effect_add", "Added", "Добавляется"),
    ("effect_remove", "Removed", "Удаляется"),
    ("res_update", "changed in place", "меняется на месте"),
    ("res_restart", "restarted (resized)", "перезапускается (меняется размер)"),
    ("res_replace", "made anew", "создаётся заново"),
    (
        "res_volume_lost",
        "made anew, its data is lost",
        "создаётся заново, данные теряются",
    ),
    ("res_create", "added", "добавляется"),
    ("res_delete", "removed", "удаляется"),
    ("details", "Details", "Подробности"),
    ("plan_change", "Plan", "Тариф"),
    ("change_plan_to", "Switch to plan", "Перейти на тариф"),
    (
        "upgrade_available",
        "A newer revision of this service is published",
        "Опубликована новая редакция этого сервиса",
    ),
    ("upgrade_to", "Upgrade to revision", "Обновить до редакции"),
    ("upgrade_title", "Upgrade", "Обновление"),
    ("apply_upgrade", "Apply the upgrade", "Применить обновление"),
    ("revision", "Revision", "Редакция"),
    (
        "upgrade_refused",
        "This deployment cannot move to the new revision:",
        "Это развёртывание нельзя перевести на новую редакцию:",
    ),
    (
        "whole_change",
        "All changes together",
        "Все изменения вместе",
    ),
    (
        "change_busy",
        "An operation on this deployment is still running; try again when it is done.",
        "С этим развёртыванием ещё выполняется операция; повторите, когда она закончится.",
    ),
    (
        "change_failed",
        "The change cannot be made",
        "Изменение невозможно",
    ),
];

/// What the deployment page offers about changes.
#[derive(serde::Serialize, Default)]
pub(super) struct ChangeOffer {
    pub changeable: bool,
    /// The published revision newer than the running one.
    pub upgrade_to: Option<String>,
    /// Other plans the deployment may switch to (folder, name).
    pub plans: Vec<(String, String)>,
    /// The plan it runs now (after a plan change).
    pub plan: Option<String>,
}

/// The deployment a request is about: the visitor's own, with its broker instance.
struct Target {
    project: ProjectCtx,
    account: crate::tenants::BrokerCtx,
    inst: OsbInstanceRow,
}

async fn target(web: &Web, v: &Visitor, id: &str) -> Result<Target, Response> {
    let Some(project) = v.who.project().cloned() else {
        return Err(web.sign_in_first(v, &format!("/deployments/{id}")));
    };
    let Ok(Some(_)) = web.tenants.store().web_deployment(&project, id).await else {
        return Err(web.not_found(v));
    };
    let Some(account) = web.account().await else {
        return Err(web.not_found(v));
    };
    let Some(backend) = web.backend.as_ref() else {
        return Err(web.not_found(v));
    };
    let Ok(Some(inst)) = backend.osb.current_instance(&account, id).await else {
        return Err(web.not_found(v));
    };
    if inst.state == "gone" {
        return Err(web.not_found(v));
    }
    Ok(Target {
        project,
        account,
        inst,
    })
}

/// What the deployment page offers: change options, another plan, the upgrade.
pub(super) async fn offer(web: &Web, project: &ProjectCtx, id: &str) -> ChangeOffer {
    let Some(account) = web.account().await else {
        return ChangeOffer::default();
    };
    if !matches!(
        web.tenants.store().web_deployment(project, id).await,
        Ok(Some(_))
    ) {
        return ChangeOffer::default();
    }
    let Some(backend) = web.backend.as_ref() else {
        return ChangeOffer::default();
    };
    let Ok(Some(inst)) = backend.osb.current_instance(&account, id).await else {
        return ChangeOffer::default();
    };
    if matches!(inst.state.as_str(), "gone" | "failed" | "deprovisioning") {
        return ChangeOffer::default();
    }
    let public = web.shelf.find(&inst.service_id, None, None).await;
    let upgrade_to = public
        .as_ref()
        .map(|p| p.entry.revision.clone())
        .filter(|r| *r != inst.revision);
    let plans = match &public {
        Some(p) if p.entry.plan_updateable => p
            .entry
            .offers
            .iter()
            .filter(|o| o.id != inst.plan_id)
            .map(|o| (o.folder.clone(), plan_name(o)))
            .collect(),
        _ => Vec::new(),
    };
    let plan = web
        .shelf
        .any(&inst.service_id, &inst.revision)
        .await
        .and_then(|l| {
            l.entry
                .offers
                .iter()
                .find(|o| o.id == inst.plan_id)
                .map(|o| o.folder.clone())
        });
    ChangeOffer {
        changeable: public.is_some(),
        upgrade_to,
        plans,
        plan,
    }
}

fn plan_name(o: &PlanOffer) -> String {
    if o.description.is_empty() {
        o.name.clone()
    } else {
        o.description.clone()
    }
}

/// The wizard's answers for OSB answers (user-step options count steps in the wizard).
fn wizard_answers(offer: &PlanOffer, osb: &Answers) -> BTreeMap<String, vitrina_forms::Value> {
    osb.iter()
        .filter_map(|(name, v)| {
            let field = offer.form.fields.get(name)?;
            crate::osb::params::form_value(field, v)
                .ok()
                .map(|fv| (name.clone(), fv))
        })
        .collect()
}

/// The broker's parameters for the wizard's answers: what shows and may change on update, as
/// values (`base + n × size`), like the deploy page sends.
fn parameters(
    offer: &PlanOffer,
    answers: &BTreeMap<String, vitrina_forms::Value>,
) -> Map<String, Value> {
    let ev = offer.form.evaluate(answers, Action::Update);
    let mut out = Map::new();
    for name in &ev.visible {
        let Some(field) = offer.form.fields.get(name) else {
            continue;
        };
        if ev.read_only.contains(name) || matches!(field.kind, FieldKind::Number) {
            continue;
        }
        if let Some(value) = ev.answers.get(name).and_then(|a| field.effective_value(a)) {
            out.insert(
                name.clone(),
                match value {
                    vitrina_forms::Value::Integer(i) => json!(i),
                    vitrina_forms::Value::Number(n) => json!(n),
                    vitrina_forms::Value::String(s) => json!(s),
                    vitrina_forms::Value::Bool(b) => json!(b),
                },
            );
        }
    }
    out
}

/// The running revision and plan, and the one a change moves to (`plan`: another plan's
/// folder; `upgrade`: the published revision).
struct Sides {
    now: Listed,
    now_offer: PlanOffer,
    next: Listed,
    next_offer: PlanOffer,
    moving: bool,
}

async fn sides(web: &Web, t: &Target, plan: Option<&str>, upgrade: bool) -> Option<Sides> {
    let now = web.shelf.any(&t.inst.service_id, &t.inst.revision).await?;
    let now_offer = now
        .entry
        .offers
        .iter()
        .find(|o| o.id == t.inst.plan_id)?
        .clone();
    let plan = plan.filter(|p| *p != now_offer.folder);
    if plan.is_none() && !upgrade {
        return Some(Sides {
            next: now.clone(),
            next_offer: now_offer.clone(),
            now,
            now_offer,
            moving: false,
        });
    }
    // Another plan or the upgrade moves to the published revision (the broker's rule).
    let next = web.shelf.find(&t.inst.service_id, None, None).await?;
    let next_offer = match plan {
        Some(folder) => next.entry.offer(folder)?.clone(),
        None => next
            .entry
            .offers
            .iter()
            .find(|o| o.id == t.inst.plan_id)?
            .clone(),
    };
    Some(Sides {
        now,
        now_offer,
        next,
        next_offer,
        moving: true,
    })
}

fn osb_failure(web: &Web, v: &Visitor, e: &OsbError) -> Response {
    let text = if e.status == StatusCode::UNPROCESSABLE_ENTITY && e.code == Some("ConcurrencyError")
    {
        t(v.lang, "change_busy").to_owned()
    } else {
        e.description.clone()
    };
    web.message(v, e.status, t(v.lang, "change_failed"), &text)
}

/// The broker's view of the deployment's current answers (and that it may change now).
async fn current(web: &Web, t: &Target) -> Result<UpdatePreview, OsbError> {
    let backend = web
        .backend
        .as_ref()
        .ok_or_else(|| OsbError::not_found("deployments are not available on this server"))?;
    let req = UpdateRequest {
        service_id: Some(t.inst.service_id.clone()),
        ..UpdateRequest::default()
    };
    backend
        .osb
        .update_preview(&t.account, &t.inst.instance_id, &req)
        .await
}

#[derive(serde::Deserialize, Default)]
pub(super) struct ChangeQuery {
    plan: Option<String>,
}

/// `GET /deployments/{id}/change`: the wizard with the current answers.
pub(super) async fn page(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<ChangeQuery>,
) -> Response {
    let v = web.visitor(&headers).await;
    let t = match target(&web, &v, &id).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let now = match current(&web, &t).await {
        Ok(p) => p,
        Err(e) => return osb_failure(&web, &v, &e),
    };
    let Some(s) = sides(&web, &t, q.plan.as_deref(), false).await else {
        return web.not_found(&v);
    };
    let answers = wizard_answers(&s.next_offer, &now.current);
    render_wizard(&web, &v, &id, &s, &answers, false).await
}

async fn render_wizard(
    web: &Web,
    v: &Visitor,
    id: &str,
    s: &Sides,
    answers: &BTreeMap<String, vitrina_forms::Value>,
    show_errors: bool,
) -> Response {
    let choices = web.choices_for(v).await;
    let w = view::wizard(
        &s.next.entry,
        &s.next_offer,
        answers,
        Action::Update,
        &choices,
        &web.tariffs,
        v.lang,
        show_errors,
    );
    let mut r = web.page(
        v,
        "change.html",
        minijinja::context! {
            id => id,
            plan => if s.moving { Some(s.next_offer.folder.clone()) } else { None },
            service => minijinja::Value::from(minijinja::value::Serde(view::card(&s.next, &web.tariffs, v.lang))),
            w => minijinja::Value::from(minijinja::value::Serde(&w)),
        },
    );
    if show_errors && !w.errors.is_empty() {
        *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    r
}

/// The answers a change form posts, over the current ones (a disabled, read-only field posts
/// nothing and keeps its value).
fn posted_answers(
    offer: &PlanOffer,
    current: &Answers,
    form: &Posted,
) -> BTreeMap<String, vitrina_forms::Value> {
    let mut answers = wizard_answers(offer, current);
    let ev = offer.form.evaluate(&answers, Action::Update);
    for (k, val) in view::answers_from_post(offer, form) {
        if !ev.read_only.contains(&k) {
            answers.insert(k, val);
        }
    }
    answers
}

/// `POST /deployments/{id}/change/evaluate`: the live panel and errors, as in the wizard.
pub(super) async fn evaluate(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<Posted>,
) -> Response {
    let v = web.visitor(&headers).await;
    if !v.csrf_ok(posted(&form, "_csrf")) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let Ok(t) = target(&web, &v, &id).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Ok(now) = current(&web, &t).await else {
        return StatusCode::CONFLICT.into_response();
    };
    let Some(s) = sides(&web, &t, posted(&form, "_plan"), false).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let answers = posted_answers(&s.next_offer, &now.current, &form);
    let choices = web.choices_for(&v).await;
    let w = view::wizard(
        &s.next.entry,
        &s.next_offer,
        &answers,
        Action::Update,
        &choices,
        &web.tariffs,
        v.lang,
        true,
    );
    let panel = web
        .templates
        .get_template("panel.html")
        .and_then(|tpl| {
            tpl.render(minijinja::context! {
                lang => v.lang.code(),
                t => view::messages(v.lang),
                w => minijinja::Value::from(minijinja::value::Serde(&w)),
            })
        })
        .unwrap_or_default();
    Json(json!({
        "panel": panel,
        "errors": w.errors,
        "hidden_groups": w.hidden_groups,
        "captions": w.captions,
    }))
    .into_response()
}

/// One line of the preview: an answer that changes and what it does.
#[derive(serde::Serialize)]
struct ChangedAnswer {
    label: String,
    now: String,
    after: String,
    /// `None`: shown with the whole change (another plan or revision).
    effect: Option<Effect>,
}

/// What a plan does, in words: the gist and one line per resource it touches.
#[derive(serde::Serialize, Clone)]
struct Effect {
    gist: String,
    /// `in-place`, `restart`, `replace`, `none` (for the page's colour, never alone).
    kind: &'static str,
    lines: Vec<String>,
}

/// Reads a plan preview (`{"changes":[{"address","action","attributes"}]}`) into words.
fn effect(plan: &Value, lang: Lang) -> Effect {
    let changes: Vec<&Value> = plan
        .get("changes")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let rtype = |c: &Value| -> String {
        let addr = c.get("address").and_then(Value::as_str).unwrap_or_default();
        // `module.x.vkcs_compute_instance.web[0]` → `vkcs_compute_instance`.
        let parts: Vec<&str> = addr.split('.').collect();
        let n = parts.len();
        parts
            .get(n.saturating_sub(2))
            .copied()
            .unwrap_or_default()
            .to_owned()
    };
    let action = |c: &Value| {
        c.get("action")
            .and_then(Value::as_str)
            .unwrap_or("no-op")
            .to_owned()
    };
    let attrs = |c: &Value| -> Vec<String> {
        c.get("attributes")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let is_vm = |c: &Value| rtype(c) == "vkcs_compute_instance";
    let is_volume = |c: &Value| rtype(c) == "vkcs_blockstorage_volume";
    let resized = |c: &Value| {
        is_vm(c)
            && action(c) == "update"
            && attrs(c)
                .iter()
                .any(|a| a == "flavor_id" || a == "flavor_name")
    };
    let mut lines = Vec::new();
    let (mut any, mut restart, mut vm_replaced, mut lost) = (false, false, false, false);
    for c in &changes {
        let a = action(c);
        let addr = c.get("address").and_then(Value::as_str).unwrap_or_default();
        let words = match a.as_str() {
            "update" if resized(c) => {
                restart = true;
                t(lang, "res_restart")
            }
            "update" => t(lang, "res_update"),
            "replace" if is_volume(c) => {
                lost = true;
                t(lang, "res_volume_lost")
            }
            "replace" => {
                if is_vm(c) {
                    vm_replaced = true;
                }
                t(lang, "res_replace")
            }
            "create" => t(lang, "res_create"),
            "delete" => {
                if is_volume(c) {
                    lost = true;
                }
                t(lang, "res_delete")
            }
            _ => continue,
        };
        any = true;
        lines.push(format!("{addr}: {words}"));
    }
    let (gist, kind) = if vm_replaced && lost {
        ("effect_replace_lost", "replace")
    } else if vm_replaced {
        let has_volume = changes.iter().any(|c| is_volume(c));
        if has_volume {
            ("effect_replace_kept", "replace")
        } else {
            ("effect_replace", "replace")
        }
    } else if lost {
        ("effect_volume_lost", "replace")
    } else if restart {
        ("effect_restart", "restart")
    } else if changes.iter().any(|c| action(c) == "replace") {
        ("effect_replace", "replace")
    } else if any {
        ("effect_in_place", "in-place")
    } else {
        ("effect_none", "none")
    };
    Effect {
        gist: t(lang, gist).to_owned(),
        kind,
        lines,
    }
}

/// An OSB answer as the page shows it (a picker's value by its label).
fn shown(
    offer: &PlanOffer,
    name: &str,
    v: Option<&Value>,
    choices: &super::choices::Choices,
) -> String {
    let Some(v) = v else {
        return "—".into();
    };
    let text = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match offer.form.fields.get(name).map(|f| &f.kind) {
        Some(FieldKind::Datasource(ds)) => choices
            .offer(ds)
            .into_iter()
            .find(|c| c.value == text)
            .map_or(text, |c| c.label),
        Some(FieldKind::BooleanSwitch { .. } | FieldKind::BooleanConst(_)) => match v {
            Value::Bool(true) => "✓".into(),
            Value::Bool(false) => "×".into(),
            _ => text,
        },
        _ => text,
    }
}

fn label_of(s: &Sides, name: &str) -> String {
    s.next_offer
        .form
        .fields
        .get(name)
        .or_else(|| s.now_offer.form.fields.get(name))
        .map_or_else(|| name.to_owned(), |f| f.label.clone())
}

/// The deployment system's preview of a deployment spec with these variables.
async fn plan_of(
    web: &Web,
    project: &ProjectCtx,
    p: &UpdatePreview,
    vars: &Answers,
) -> Result<Value, String> {
    let Some(backend) = web.backend.as_ref() else {
        return Err("deployments are not available on this server".into());
    };
    let req = UpdateObject {
        vars: Some(vars.clone().into_iter().collect()),
        config: None,
        files: Some(ServerBackend::files(&p.spec)),
    };
    backend
        .hoe
        .plan_preview(project, &p.spec.deployment, req)
        .await
        .map_err(|e| match e {
            HoeError::Server(e) => e.to_string(),
            HoeError::Diagnostics(d) => d
                .iter()
                .map(|d| d["message"].as_str().unwrap_or_default().to_owned())
                .collect::<Vec<_>>()
                .join("; "),
        })
}

/// The update request a change form (or the upgrade) stands for.
fn request(
    t: &Target,
    s: &Sides,
    params: Option<Map<String, Value>>,
    upgrade: bool,
) -> UpdateRequest {
    UpdateRequest {
        service_id: Some(t.inst.service_id.clone()),
        plan_id: Some(s.next_offer.id.clone()),
        parameters: params.map(Value::Object),
        maintenance_info: if upgrade {
            serde_json::from_value(json!({ "version": revision_semver(&s.next.entry.revision) }))
                .ok()
        } else {
            None
        },
        ..UpdateRequest::default()
    }
}

/// `POST /deployments/{id}/change/preview`: what the posted answers would do.
pub(super) async fn preview(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<Posted>,
) -> Response {
    let v = web.visitor(&headers).await;
    if !v.csrf_ok(posted(&form, "_csrf")) {
        return web.bad_csrf(&v);
    }
    let t = match target(&web, &v, &id).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let now = match current(&web, &t).await {
        Ok(p) => p,
        Err(e) => return osb_failure(&web, &v, &e),
    };
    let Some(s) = sides(&web, &t, posted(&form, "_plan"), false).await else {
        return web.not_found(&v);
    };
    let answers = posted_answers(&s.next_offer, &now.current, &form);
    let choices = web.choices_for(&v).await;
    let w = view::wizard(
        &s.next.entry,
        &s.next_offer,
        &answers,
        Action::Update,
        &choices,
        &web.tariffs,
        v.lang,
        true,
    );
    if !w.errors.is_empty() {
        return render_wizard(&web, &v, &id, &s, &answers, true).await;
    }
    show_preview(&web, &v, &id, &t, &s, &now, Some(&answers), false).await
}

/// `GET /deployments/{id}/upgrade`: the move to the published revision, previewed.
pub(super) async fn upgrade(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let v = web.visitor(&headers).await;
    let t = match target(&web, &v, &id).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let now = match current(&web, &t).await {
        Ok(p) => p,
        Err(e) => return osb_failure(&web, &v, &e),
    };
    let Some(s) = sides(&web, &t, None, true).await else {
        return web.not_found(&v);
    };
    show_preview(&web, &v, &id, &t, &s, &now, None, true).await
}

#[allow(clippy::too_many_arguments)]
async fn show_preview(
    web: &Web,
    v: &Visitor,
    id: &str,
    t: &Target,
    s: &Sides,
    now: &UpdatePreview,
    answers: Option<&BTreeMap<String, vitrina_forms::Value>>,
    upgrade: bool,
) -> Response {
    let Some(backend) = web.backend.as_ref() else {
        return web.not_found(v);
    };
    let params = answers.map(|a| parameters(&s.next_offer, a));
    let req = request(t, s, params, upgrade);
    let choices = web.choices_for(v).await;
    // The price now: the running plan with the current answers.
    let before = view::wizard(
        &s.now.entry,
        &s.now_offer,
        &wizard_answers(&s.now_offer, &now.current),
        Action::Update,
        &choices,
        &web.tariffs,
        v.lang,
        false,
    );
    // Apply posts the same wizard answers again (and the broker checks them again).
    let hidden: Vec<(String, String)> = answers
        .into_iter()
        .flatten()
        .map(|(k, val)| (k.clone(), val.to_string()))
        .collect();
    let p = match backend
        .osb
        .update_preview(&t.account, &t.inst.instance_id, &req)
        .await
    {
        Ok(p) => p,
        Err(e) if e.code == Some("UpgradeRefused") => {
            // Nothing to apply: list why.
            let reasons: Vec<String> = e
                .description
                .split_once(": ")
                .map_or(e.description.as_str(), |(_, r)| r)
                .split("; ")
                .map(str::to_owned)
                .collect();
            let mut r = web.page(
                v,
                "change_preview.html",
                minijinja::context! {
                    id => id,
                    upgrade => upgrade,
                    revision_now => s.now.entry.revision.clone(),
                    revision_next => s.next.entry.revision.clone(),
                    refused => reasons,
                    service => minijinja::Value::from(minijinja::value::Serde(view::card(&s.next, &web.tariffs, v.lang))),
                },
            );
            *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            return r;
        }
        Err(e) => return osb_failure(web, v, &e),
    };
    // The price after: the target plan with the answers the update leads to.
    let after = view::wizard(
        &s.next.entry,
        &s.next_offer,
        &wizard_answers(&s.next_offer, &p.answers),
        Action::Update,
        &choices,
        &web.tariffs,
        v.lang,
        false,
    );
    let changed_names: Vec<String> = p
        .current
        .keys()
        .chain(p.answers.keys())
        .filter(|k| p.current.get(*k) != p.answers.get(*k))
        .cloned()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let whole = match plan_of(web, &t.project, &p, &p.answers).await {
        Ok(plan) => effect(&plan, v.lang),
        Err(e) => {
            return web.message(
                v,
                StatusCode::CONFLICT,
                super::i18n::t(v.lang, "change_failed"),
                &e,
            )
        }
    };
    let per_answer =
        !s.moving && changed_names.len() > 1 && changed_names.len() <= MAX_ANSWER_PREVIEWS;
    let mut changed = Vec::new();
    for name in &changed_names {
        let effect = if s.moving {
            None
        } else if !per_answer {
            Some(whole.clone())
        } else {
            // This answer alone over the current ones.
            let mut vars = p.current.clone();
            match p.answers.get(name) {
                Some(val) => {
                    vars.insert(name.clone(), val.clone());
                }
                None => {
                    vars.remove(name);
                }
            }
            match plan_of(web, &t.project, &p, &vars).await {
                Ok(plan) => Some(effect(&plan, v.lang)),
                Err(e) => {
                    return web.message(
                        v,
                        StatusCode::CONFLICT,
                        super::i18n::t(v.lang, "change_failed"),
                        &e,
                    )
                }
            }
        };
        changed.push(ChangedAnswer {
            label: label_of(s, name),
            now: shown(&s.now_offer, name, p.current.get(name), &choices),
            after: shown(&s.next_offer, name, p.answers.get(name), &choices),
            effect,
        });
    }
    web.page(
        v,
        "change_preview.html",
        minijinja::context! {
            id => id,
            upgrade => upgrade,
            moving => s.moving,
            plan => if s.moving && !upgrade { Some(s.next_offer.folder.clone()) } else { None },
            plan_now => plan_name(&s.now_offer),
            plan_next => plan_name(&s.next_offer),
            revision_now => s.now.entry.revision.clone(),
            revision_next => s.next.entry.revision.clone(),
            service => minijinja::Value::from(minijinja::value::Serde(view::card(&s.next, &web.tariffs, v.lang))),
            changed => minijinja::Value::from(minijinja::value::Serde(&changed)),
            whole => minijinja::Value::from(minijinja::value::Serde(&whole)),
            per_answer => per_answer,
            price_before => before.panel.total.clone(),
            price_after => after.panel.total.clone(),
            w => minijinja::Value::from(minijinja::value::Serde(&after)),
            hidden => hidden,
        },
    )
}

/// `POST /deployments/{id}/change/apply`: the broker's update, then the deployment page.
pub(super) async fn apply(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<Posted>,
) -> Response {
    let v = web.visitor(&headers).await;
    if !v.csrf_ok(posted(&form, "_csrf")) {
        return web.bad_csrf(&v);
    }
    let t = match target(&web, &v, &id).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let Some(backend) = web.backend.as_ref() else {
        return web.not_found(&v);
    };
    let upgrade = posted(&form, "_upgrade") == Some("1");
    let Some(s) = sides(&web, &t, posted(&form, "_plan"), upgrade).await else {
        return web.not_found(&v);
    };
    let params = if upgrade {
        None
    } else {
        let now = match current(&web, &t).await {
            Ok(p) => p,
            Err(e) => return osb_failure(&web, &v, &e),
        };
        let answers = posted_answers(&s.next_offer, &now.current, &form);
        Some(parameters(&s.next_offer, &answers))
    };
    let req = request(&t, &s, params, upgrade);
    match backend.osb.update(&t.account, &id, true, req).await {
        Ok(_) => Redirect::to(&format!("/deployments/{id}")).into_response(),
        Err(e) => osb_failure(&web, &v, &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_read_in_plain_words() {
        let plan = json!({"changes": [
            {"address": "vkcs_compute_instance.web", "action": "update", "attributes": ["flavor_id"]},
            {"address": "vkcs_blockstorage_volume.data", "action": "no-op", "attributes": []},
        ]});
        let e = effect(&plan, Lang::En);
        assert_eq!(e.kind, "restart");
        assert_eq!(e.lines, ["vkcs_compute_instance.web: restarted (resized)"]);
        let plan = json!({"changes": [
            {"address": "vkcs_compute_instance.web", "action": "replace", "attributes": ["availability_zone"]},
            {"address": "vkcs_blockstorage_volume.data", "action": "no-op", "attributes": []},
        ]});
        assert_eq!(
            effect(&plan, Lang::En).gist,
            "The VM is replaced; its data volume is kept"
        );
        let plan = json!({"changes": [
            {"address": "vkcs_compute_instance.web", "action": "replace", "attributes": []},
            {"address": "vkcs_blockstorage_volume.data", "action": "replace", "attributes": ["availability_zone"]},
        ]});
        assert_eq!(
            effect(&plan, Lang::Ru).gist,
            "ВМ пересоздаётся; данные на её дисках теряются"
        );
        let plan = json!({"changes": [
            {"address": "ivkcs_agent_exec.start", "action": "update", "attributes": ["step"]},
        ]});
        assert_eq!(effect(&plan, Lang::En).kind, "in-place");
        assert_eq!(effect(&json!({"changes": []}), Lang::En).kind, "none");
    }

    #[test]
    fn templates_parse_and_render_a_refusal() {
        let mut env = minijinja::Environment::new();
        for (name, src) in super::super::TEMPLATES.into_iter().chain(TEMPLATES) {
            env.add_template(name, src)
                .unwrap_or_else(|e| panic!("{name}: {e:#}"));
        }
        let html = env
            .get_template("change_preview.html")
            .and_then(|tpl| {
                tpl.render(minijinja::context! {
                    lang => "en", t => view::messages(Lang::En), csrf => "x", who => "p",
                    id => "i", upgrade => true, revision_now => "1.0", revision_next => "2.0",
                    refused => vec!["option `size` is in use"],
                    service => minijinja::context! { name => "S" },
                })
            })
            .unwrap_or_else(|e| panic!("{e:#}"));
        assert!(html.contains("option `size` is in use"), "{html}");
        assert!(html.contains("1.0 → <strong>2.0</strong>"), "{html}");
    }

    #[test]
    fn messages_are_unique_and_translated() {
        let mut keys = std::collections::BTreeSet::new();
        for (k, en, ru) in MESSAGES {
            assert!(keys.insert(*k), "duplicate key {k}");
            assert!(!en.is_empty() && !ru.is_empty(), "{k}");
            assert_eq!(t(Lang::En, k), *en, "{k} is shadowed by the main catalogue");
        }
    }
}
