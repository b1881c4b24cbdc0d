//! VM-SDF applications in the marketplace pages (seed 004, issue 14): the apps of the VM-SDF
//! catalog (`--sdf-catalog`) listed in the catalog, a wizard per app rendered from its form
//! model with the same partial updates as packages' wizards (every change is posted to
//! `…/evaluate`, which answers with the fields' errors, the variables to hide and the side
//! panel), an extra YAML tab with the `deployment-info` the answers produce (passwords
//! masked), and deployment through `POST /sdf/v1/deployments`'s own path.
//!
//! | page | what |
//! |---|---|
//! | `GET /apps/{id}` | the wizard |
//! | `POST /apps/{id}/evaluate` | `{"panel","errors","hidden_groups","captions","values"}` |
//! | `POST /apps/{id}/deploy` | 303 to the deployment page; 422 the wizard with errors |
//! | `GET /apps/deployments/{uuid}` | status, the VM's `deployment-progress`, the variables |
//!
//! Each variable is a `fieldset.group` the script hides when the server says it is inactive
//! (its inputs are then disabled and not posted, so an inactive variable has no answer).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form as PostForm, Json, Router};
use serde::Serialize;
use vitrina_forms::sdf::{
    deployment_info, matching_flavors, to_yaml_text, validators, App, Feature, Flavor, FormState,
    Input, SdfValue, VarType, VisualMode,
};

use super::choices::Choices;
use super::i18n::{t, Lang};
use super::session::Visitor;
use super::{posted, Posted, Web};
use crate::sdf_deploy::{compile_app, create_deployment, CreateDeployment, SdfDeployState};

/// The pages' templates.
pub(super) const TEMPLATES: &[(&str, &str)] = &[
    (
        "sdf_wizard.html",
        include_str!("../../web/templates/sdf_wizard.html"),
    ),
    (
        "sdf_field.html",
        include_str!("../../web/templates/sdf_field.html"),
    ),
    (
        "sdf_panel.html",
        include_str!("../../web/templates/sdf_panel.html"),
    ),
    (
        "sdf_deployment.html",
        include_str!("../../web/templates/sdf_deployment.html"),
    ),
];

/// The pages' words: `(key, English, Russian)`.
pub(super) const MESSAGES: &[(&str, &str, &str)] = &[
    ("sdf_apps", "VM applications", "Приложения для ВМ"),
    (
        "sdf_apps_text",
        "Applications of the VM-SDF catalog: one VM, configured by a form.",
        "Приложения каталога VM-SDF: одна ВМ, настроенная формой.",
    ),
    ("sdf_configure", "Configure", "Настроить"),
    ("sdf_version", "Version", "Версия"),
    ("sdf_tab_form", "Settings", "Параметры"),
    ("sdf_tab_yaml", "YAML", "YAML"),
    ("sdf_tabs", "Form views", "Представления формы"),
    (
        "sdf_yaml_title",
        "The configuration the VM receives",
        "Конфигурация, которую получит ВМ",
    ),
    (
        "sdf_yaml_note",
        "Passwords are masked here; the KV store's and the log store's credentials are added at deployment.",
        "Пароли здесь скрыты; данные доступа к хранилищу KV и журналам добавляются при развёртывании.",
    ),
    ("sdf_password_confirm", "Confirm", "Подтверждение"),
    ("sdf_generate", "Generate", "Сгенерировать"),
    ("sdf_show", "Show", "Показать"),
    ("sdf_placement", "Placement", "Размещение"),
    ("sdf_subnet", "Subnet", "Подсеть"),
    ("sdf_flavor", "VM type", "Тип ВМ"),
    (
        "sdf_subnet_needed",
        "Choose the subnet the VM joins.",
        "Выберите подсеть для ВМ.",
    ),
    (
        "sdf_flavor_auto",
        "the smallest allowed",
        "наименьший допустимый",
    ),
    ("sdf_mode", "Delivery mode", "Способ передачи"),
    ("sdf_mode_raw", "raw: the YAML in USERDATA", "raw: YAML в USERDATA"),
    (
        "sdf_mode_kvs",
        "kvs: the VM's private key-value store",
        "kvs: частное хранилище ключ-значение ВМ",
    ),
    (
        "sdf_mode_ota+kvs",
        "ota+kvs: a one-time token for the key-value store",
        "ota+kvs: одноразовый токен к хранилищу ключ-значение",
    ),
    ("sdf_features", "Requested features", "Запрошенные возможности"),
    ("sdf_feature_vm-key-value-storage", "the VM's private key-value store", "частное хранилище ключ-значение ВМ"),
    ("sdf_feature_log-storage", "log storage", "хранилище журналов"),
    ("sdf_feature_use-ota", "one-time tokens", "одноразовые токены"),
    ("sdf_feature_application-db", "the application's shared key-value store", "общее хранилище ключ-значение приложения"),
    ("sdf_feature_temporary-db", "a temporary key-value store", "временное хранилище ключ-значение"),
    ("sdf_feature_cloudstack-api", "the cloud's API on the project's behalf", "API облака от имени проекта"),
    (
        "sdf_consent",
        "I allow the application these features",
        "Я разрешаю приложению эти возможности",
    ),
    (
        "sdf_consent_needed",
        "Allow the requested features to deploy.",
        "Разрешите запрошенные возможности, чтобы развернуть.",
    ),
    (
        "sdf_signin_to_deploy",
        "Sign in with a project to deploy.",
        "Войдите в проект, чтобы развернуть.",
    ),
    ("sdf_deploy", "Deploy", "Развернуть"),
    ("sdf_deploy_failed", "The deployment was refused", "Развёртывание отклонено"),
    ("sdf_progress", "Deployment progress", "Ход развёртывания"),
    (
        "sdf_no_progress",
        "The VM has not reported yet.",
        "ВМ ещё ничего не сообщила.",
    ),
    ("sdf_variables", "Variables", "Переменные"),
    ("sdf_address", "Address", "Адрес"),
    ("sdf_inactive", "inactive", "неактивна"),
    ("sdf_volatile", "can be changed after deployment", "можно изменить после развёртывания"),
];

/// The VM-SDF part of the pages: the deployment path and the catalog, read anew when its file
/// changes.
pub struct SdfWeb {
    pub deploy: SdfDeployState,
    cache: tokio::sync::Mutex<Option<(FileStamp, Arc<Catalog>)>>,
}

type FileStamp = (Option<SystemTime>, u64);

/// The apps of the catalog, by id.
#[derive(Default)]
pub struct Catalog {
    pub apps: Vec<App>,
}

impl Catalog {
    pub fn get(&self, id: &str) -> Option<&App> {
        self.apps.iter().find(|a| a.id == id)
    }
}

impl SdfWeb {
    pub fn new(deploy: SdfDeployState) -> SdfWeb {
        SdfWeb {
            deploy,
            cache: tokio::sync::Mutex::new(None),
        }
    }

    fn path(&self) -> Option<&PathBuf> {
        self.deploy.catalog.as_ref()
    }

    /// The catalog as the file now holds it (parsed again only when the file changed).
    pub async fn catalog(&self) -> Arc<Catalog> {
        let Some(path) = self.path() else {
            return Arc::new(Catalog::default());
        };
        let stamp: FileStamp = match tokio::fs::metadata(path).await {
            Ok(m) => (m.modified().ok(), m.len()),
            Err(_) => return Arc::new(Catalog::default()),
        };
        let mut cache = self.cache.lock().await;
        if let Some((s, c)) = cache.as_ref() {
            if *s == stamp {
                return c.clone();
            }
        }
        let text = match tokio::fs::read_to_string(path).await {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot read the VM-SDF catalog");
                return Arc::new(Catalog::default());
            }
        };
        let parsed = tokio::task::spawn_blocking(move || parse_catalog(&text))
            .await
            .unwrap_or_default();
        let c = Arc::new(parsed);
        *cache = Some((stamp, c.clone()));
        c
    }
}

fn parse_catalog(text: &str) -> Catalog {
    let doc: serde_yaml::Value = match serde_yaml::from_str(text) {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "the VM-SDF catalog is not YAML");
            return Catalog::default();
        }
    };
    let mut apps = Vec::new();
    if let Some(m) = doc
        .get("applications")
        .and_then(serde_yaml::Value::as_mapping)
    {
        for k in m.keys() {
            let Some(id) = k.as_str() else { continue };
            match compile_app(&doc, id) {
                Ok((app, _)) => apps.push(app),
                Err(e) => {
                    tracing::warn!(app = id, error = %e.message(), "a VM-SDF app of the catalog is skipped");
                }
            }
        }
    }
    apps.sort_by(|a, b| a.id.cmp(&b.id));
    Catalog { apps }
}

pub(super) fn routes() -> Router<Arc<Web>> {
    Router::new()
        .route("/apps/{id}", get(wizard_page))
        .route("/apps/{id}/evaluate", post(evaluate))
        .route("/apps/{id}/deploy", post(deploy))
        .route("/apps/deployments/{uuid}", get(deployment_page))
}

/// A card of the catalog page.
#[derive(Serialize)]
pub struct AppCard {
    pub id: String,
    pub name: String,
    pub description: String,
    pub version: String,
    pub tags: Vec<String>,
}

fn locale(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "en_US",
        Lang::Ru => "ru_RU",
    }
}

/// The catalog's apps whose name, id, description or tags contain `q` (case-insensitive).
pub(super) async fn cards(web: &Web, lang: Lang, q: &str) -> Vec<AppCard> {
    let Some(sdf) = web.sdf.get() else {
        return Vec::new();
    };
    let loc = locale(lang);
    let q = q.trim().to_lowercase();
    sdf.catalog()
        .await
        .apps
        .iter()
        .map(|a| AppCard {
            id: a.id.clone(),
            name: a.name.get(loc).to_owned(),
            description: a
                .description
                .as_ref()
                .map(|d| d.get(loc).to_owned())
                .unwrap_or_default(),
            version: a.version.clone(),
            tags: a.tags.clone(),
        })
        .filter(|c| {
            q.is_empty()
                || [&c.id, &c.name, &c.description]
                    .iter()
                    .any(|s| s.to_lowercase().contains(&q))
                || c.tags.iter().any(|s| s.to_lowercase().contains(&q))
        })
        .collect()
}

#[derive(Serialize)]
struct OptView {
    value: String,
    label: String,
    selected: bool,
}

#[derive(Serialize)]
struct VarView {
    name: String,
    id: String,
    group: String,
    title: String,
    description: Option<String>,
    /// `number`, `text`, `textarea`, `password`, `radio`, `select`, `checks`, `section`.
    widget: &'static str,
    /// `email`, `url` or `text` for one-line inputs.
    input_type: &'static str,
    value: String,
    options: Vec<OptView>,
    min: Option<String>,
    max: Option<String>,
    step: Option<&'static str>,
    maxlength: Option<u64>,
    hidden: bool,
    error: Option<String>,
    can_generate: bool,
    horizontal: bool,
    volatile: bool,
}

#[derive(Serialize)]
struct WizardView {
    id: String,
    name: String,
    description: Option<String>,
    version: String,
    mode: String,
    features: Vec<String>,
    vars: Vec<VarView>,
    errors: BTreeMap<String, String>,
    hidden_groups: Vec<String>,
    yaml: String,
    subnets: Vec<OptView>,
    flavors: Vec<OptView>,
    consent: bool,
    signed_in: bool,
    failure: Option<String>,
}

/// The form's input from a posted wizard: answers by variable name, `_confirm:NAME` for a
/// password's confirmation, `_some:NAME` marking a `Some` whose boxes were all cleared.
/// Inactive variables' inputs are disabled and post nothing.
fn input_from_post(app: &App, form: &Posted) -> Input {
    let mut input = Input::new();
    for var in &app.form.variables {
        let name = &var.name;
        match &var.ty {
            VarType::Section => {}
            VarType::Some { .. } => {
                if posted(form, &format!("_some:{name}")).is_some() {
                    let items = form
                        .iter()
                        .filter(|(k, _)| k == name)
                        .map(|(_, v)| SdfValue::String(v.clone()))
                        .collect();
                    input.values.insert(name.clone(), SdfValue::List(items));
                }
            }
            VarType::Password { .. } => {
                if let Some(p) = posted(form, name).filter(|p| !p.is_empty()) {
                    input
                        .values
                        .insert(name.clone(), SdfValue::String(p.to_owned()));
                    input.confirmations.insert(
                        name.clone(),
                        posted(form, &format!("_confirm:{name}"))
                            .unwrap_or_default()
                            .to_owned(),
                    );
                }
            }
            VarType::String {
                multiline: true, ..
            } => {
                if let Some(text) = posted(form, name) {
                    input
                        .values
                        .insert(name.clone(), SdfValue::String(text.replace("\r\n", "\n")));
                }
            }
            _ => {
                if let Some(text) = posted(form, name) {
                    input
                        .values
                        .insert(name.clone(), SdfValue::String(text.to_owned()));
                }
            }
        }
    }
    input
}

/// The cloud's flavors as the `ServiceOffering` filters see them.
fn flavors_of(choices: &Choices) -> Vec<Flavor> {
    choices
        .flavors
        .iter()
        .map(|f| Flavor {
            id: f.id.clone(),
            name: f.name.clone(),
            ram_mb: i64::try_from(f.ram_mb).unwrap_or(i64::MAX),
            vcpus: i64::try_from(f.vcpus).unwrap_or(i64::MAX),
            frequency_mhz: None,
        })
        .collect()
}

fn flavor_label(f: &Flavor) -> String {
    format!("{} ({} vCPU, {} MB)", f.name, f.vcpus, f.ram_mb)
}

/// A `ServiceOffering` with no answer and no default starts at its first allowed flavor.
fn preselect_offerings(app: &App, flavors: &[Flavor], input: &mut Input) {
    for var in &app.form.variables {
        if let VarType::ServiceOffering { filters } = &var.ty {
            if var.default.is_none() && !input.values.contains_key(&var.name) {
                if let Some(f) = matching_flavors(filters, flavors).first() {
                    input
                        .values
                        .insert(var.name.clone(), SdfValue::String(f.id.clone()));
                }
            }
        }
    }
}

fn number_text(n: f64) -> String {
    SdfValue::Float(n).key().unwrap_or_default()
}

#[allow(clippy::too_many_lines)]
fn var_views(
    app: &App,
    state: &FormState,
    flavors: &[Flavor],
    lang: Lang,
    errors: &BTreeMap<String, String>,
) -> Vec<VarView> {
    let loc = locale(lang);
    app.form
        .variables
        .iter()
        .zip(&state.fields)
        .enumerate()
        .map(|(i, (var, field))| {
            // An inactive variable's input holds its default, so that it shows the default
            // when a change activates it (its disabled input posts nothing meanwhile).
            let shown = if field.active {
                field.value.clone()
            } else {
                var.default.clone().unwrap_or(SdfValue::Null)
            };
            let value_text = match &shown {
                SdfValue::Null | SdfValue::List(_) => String::new(),
                v => v.key().unwrap_or_default(),
            };
            let selected = |o: &SdfValue| match &shown {
                SdfValue::List(items) => items.iter().any(|it| it.same(o)),
                v => v.same(o),
            };
            let choice_opts = |options: &[vitrina_forms::sdf::Choice]| -> Vec<OptView> {
                options
                    .iter()
                    .map(|o| OptView {
                        value: o.value.key().unwrap_or_default(),
                        label: o.label.get(loc).to_owned(),
                        selected: selected(&o.value),
                    })
                    .collect()
            };
            let mut v = VarView {
                name: var.name.clone(),
                id: format!("v-{i}"),
                group: format!("g-{i}"),
                title: var.title(loc).to_owned(),
                description: if var.label.is_some() {
                    var.description.as_ref().map(|d| d.get(loc).to_owned())
                } else {
                    None
                },
                widget: "text",
                input_type: "text",
                value: value_text,
                options: Vec::new(),
                min: None,
                max: None,
                step: None,
                maxlength: None,
                hidden: !field.active,
                error: errors.get(&var.name).cloned(),
                can_generate: false,
                horizontal: false,
                volatile: var.volatile,
            };
            match &var.ty {
                VarType::Number {
                    minimum,
                    maximum,
                    integer,
                } => {
                    v.widget = "number";
                    v.min = minimum.map(number_text);
                    v.max = maximum.map(number_text);
                    v.step = Some(if *integer { "1" } else { "any" });
                }
                VarType::String {
                    max_length,
                    multiline,
                    ..
                } => {
                    v.widget = if *multiline { "textarea" } else { "text" };
                    v.maxlength = Some(*max_length);
                }
                VarType::DomainName | VarType::IpAddress { .. } => {}
                VarType::Uri { max_length, .. } => {
                    v.input_type = "url";
                    v.maxlength = Some(*max_length);
                }
                VarType::Email => v.input_type = "email",
                VarType::Password { max_length, .. } => {
                    v.widget = "password";
                    // A password is never sent back into the page.
                    v.value = String::new();
                    v.maxlength = Some(*max_length);
                    v.can_generate =
                        validators::generate_password(&var.ty, &mut rand::thread_rng()).is_some();
                }
                VarType::OneOf { options, visual } => {
                    v.widget = if *visual == VisualMode::Dropdown {
                        "select"
                    } else {
                        "radio"
                    };
                    v.horizontal = *visual == VisualMode::HorizontalRadio;
                    v.options = choice_opts(options);
                }
                VarType::Some { options } => {
                    v.widget = "checks";
                    v.options = choice_opts(options);
                }
                VarType::ServiceOffering { filters } => {
                    v.widget = "select";
                    v.options = matching_flavors(filters, flavors)
                        .into_iter()
                        .map(|f| OptView {
                            value: f.id.clone(),
                            label: flavor_label(f),
                            selected: f.id == v.value || f.name == v.value,
                        })
                        .collect();
                }
                VarType::Section => v.widget = "section",
            }
            v
        })
        .collect()
}

/// The YAML tab: `deployment-info` of the answers, passwords masked (the forms room builds it
/// with its YAML library).
fn yaml_of(app: &App, state: &FormState) -> String {
    to_yaml_text(&deployment_info(app, None, state, &[], true))
}

struct Evaluated {
    view: WizardView,
}

#[allow(clippy::too_many_arguments)]
fn evaluate_app(
    app: &App,
    form: &Posted,
    choices: &Choices,
    lang: Lang,
    show_errors: bool,
    signed_in: bool,
    consent_error: bool,
    failure: Option<String>,
) -> (Evaluated, Input, FormState) {
    let flavors = flavors_of(choices);
    let mut input = input_from_post(app, form);
    preselect_offerings(app, &flavors, &mut input);
    let state = app.form.evaluate_with(&input, Some(&flavors));
    let mut errors: BTreeMap<String, String> = if show_errors {
        state
            .errors(&app.form)
            .into_iter()
            .map(|(n, e)| (n.to_owned(), e.to_string()))
            .collect()
    } else {
        BTreeMap::new()
    };
    if consent_error {
        errors.insert("_consent".into(), t(lang, "sdf_consent_needed").to_owned());
    }
    let vars = var_views(app, &state, &flavors, lang, &errors);
    let hidden_groups = vars
        .iter()
        .filter(|v| v.hidden)
        .map(|v| v.group.clone())
        .collect();
    let chosen_subnet = posted(form, "_subnet").unwrap_or_default();
    let chosen_flavor = posted(form, "_flavor").unwrap_or_default();
    let loc = locale(lang);
    let features: Vec<String> = app
        .features
        .iter()
        .map(|f| t(lang, &format!("sdf_feature_{}", f.as_str())).to_owned())
        .collect();
    let view = WizardView {
        id: app.id.clone(),
        name: app.name.get(loc).to_owned(),
        description: app.description.as_ref().map(|d| d.get(loc).to_owned()),
        version: app.version.clone(),
        mode: t(lang, &format!("sdf_mode_{}", app.mode.as_str())).to_owned(),
        consent: !app.features.is_empty() && app.features != [Feature::Ota],
        features,
        yaml: yaml_of(app, &state),
        subnets: choices
            .subnets
            .iter()
            .map(|(id, label)| OptView {
                selected: id == chosen_subnet,
                value: id.clone(),
                label: label.clone(),
            })
            .collect(),
        flavors: matching_flavors(&app.service_offering, &flavors)
            .into_iter()
            .map(|f| OptView {
                selected: f.id == chosen_flavor,
                value: f.id.clone(),
                label: flavor_label(f),
            })
            .collect(),
        vars,
        errors,
        hidden_groups,
        signed_in,
        failure,
    };
    (Evaluated { view }, input, state)
}

async fn app_for(web: &Web, id: &str) -> Option<App> {
    let sdf = web.sdf.get()?;
    sdf.catalog().await.get(id).cloned()
}

fn render_wizard(web: &Web, v: &Visitor, w: &WizardView) -> Response {
    web.page(
        v,
        "sdf_wizard.html",
        minijinja::context! { w => minijinja::Value::from(minijinja::value::Serde(w)) },
    )
}

async fn wizard_page(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let v = web.visitor(&headers).await;
    let Some(app) = app_for(&web, &id).await else {
        return web.not_found(&v);
    };
    let choices = web.choices_for(&v).await;
    let signed_in = v.who.project().is_some();
    let (e, _, _) = evaluate_app(
        &app,
        &Vec::new(),
        &choices,
        v.lang,
        false,
        signed_in,
        false,
        None,
    );
    render_wizard(&web, &v, &e.view)
}

async fn evaluate(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    PostForm(form): PostForm<Posted>,
) -> Response {
    let started = std::time::Instant::now();
    let v = web.visitor(&headers).await;
    if !v.csrf_ok(posted(&form, "_csrf")) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let Some(app) = app_for(&web, &id).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let choices = web.choices_for(&v).await;
    // `_generate=NAME`: a new password for NAME (only where the app sets no validator).
    let mut values = serde_json::Map::new();
    let mut form = form;
    if let Some(name) = posted(&form, "_generate").map(str::to_owned) {
        if let Some(var) = app.form.get(&name) {
            if let Some(p) = validators::generate_password(&var.ty, &mut rand::thread_rng()) {
                form.retain(|(k, _)| *k != name && *k != format!("_confirm:{name}"));
                form.push((name.clone(), p.clone()));
                form.push((format!("_confirm:{name}"), p.clone()));
                values.insert(name.clone(), p.clone().into());
                values.insert(format!("_confirm:{name}"), p.into());
            }
        }
    }
    let (e, _, _) = evaluate_app(&app, &form, &choices, v.lang, true, false, false, None);
    let panel = web
        .templates
        .get_template("sdf_panel.html")
        .and_then(|tpl| {
            tpl.render(minijinja::context! {
                t => super::view::messages(v.lang),
                w => minijinja::Value::from(minijinja::value::Serde(&e.view)),
            })
        })
        .unwrap_or_default();
    let mut r = Json(serde_json::json!({
        "panel": panel,
        "errors": e.view.errors,
        "hidden_groups": e.view.hidden_groups,
        "captions": {},
        "values": values,
    }))
    .into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if let Ok(h) = HeaderValue::from_str(&format!("app;dur={ms:.3}")) {
        r.headers_mut().insert("server-timing", h);
    }
    r
}

/// The answers as `POST /sdf/v1/deployments` takes them.
fn values_json(input: &Input) -> serde_json::Map<String, serde_json::Value> {
    fn one(v: &SdfValue) -> serde_json::Value {
        match v {
            SdfValue::Null => serde_json::Value::Null,
            SdfValue::Bool(b) => (*b).into(),
            SdfValue::Int(i) => (*i).into(),
            SdfValue::Float(f) => (*f).into(),
            SdfValue::String(s) => s.clone().into(),
            SdfValue::List(items) => serde_json::Value::Array(items.iter().map(one).collect()),
        }
    }
    input
        .values
        .iter()
        .map(|(k, v)| (k.clone(), one(v)))
        .collect()
}

async fn deploy(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    PostForm(form): PostForm<Posted>,
) -> Response {
    let v = web.visitor(&headers).await;
    if !v.csrf_ok(posted(&form, "_csrf")) {
        return web.bad_csrf(&v);
    }
    let (Some(sdf), Some(app)) = (web.sdf.get(), app_for(&web, &id).await) else {
        return web.not_found(&v);
    };
    let Some(ctx) = v.who.project().cloned() else {
        return Redirect::to(&format!("/signin?next=/apps/{id}")).into_response();
    };
    let choices = web.choices_for(&v).await;
    let needs_consent = !app.features.is_empty() && app.features != [Feature::Ota];
    let consent_error = needs_consent && posted(&form, "_consent").is_none();
    let (mut e, input, state) = evaluate_app(
        &app,
        &form,
        &choices,
        v.lang,
        true,
        true,
        consent_error,
        None,
    );
    let no_subnet = posted(&form, "_subnet").is_none_or(|s| s.trim().is_empty());
    if no_subnet {
        e.view
            .errors
            .insert("_subnet".into(), t(v.lang, "sdf_subnet_needed").to_owned());
    }
    if !state.is_valid() || consent_error || no_subnet {
        let mut r = render_wizard(&web, &v, &e.view);
        *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        return r;
    }
    let field = |k: &str| {
        posted(&form, k)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let req = CreateDeployment {
        uuid: uuid::Uuid::new_v4().to_string(),
        app: app.id.clone(),
        values: values_json(&input),
        subnet: field("_subnet").unwrap_or_default(),
        image: None,
        flavor: field("_flavor"),
        availability_zone: None,
        volume_type: None,
        poll_seconds: None,
        ota_ttl_seconds: None,
    };
    match create_deployment(&sdf.deploy, &ctx, &req).await {
        Ok(d) => Redirect::to(&format!("/apps/deployments/{}", d.uuid)).into_response(),
        Err(err) => {
            let (e, _, _) = evaluate_app(
                &app,
                &form,
                &choices,
                v.lang,
                true,
                true,
                false,
                Some(err.message()),
            );
            let mut r = render_wizard(&web, &v, &e.view);
            *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            r
        }
    }
}

#[derive(Serialize)]
struct DeploymentPage {
    uuid: String,
    app: String,
    name: String,
    mode: String,
    status: String,
    working: bool,
    last_error: Option<String>,
    progress: Option<String>,
    progress_key: String,
    address: Option<String>,
    variables: Vec<(String, String)>,
}

async fn deployment_page(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path(uuid): Path<String>,
) -> Response {
    let v = web.visitor(&headers).await;
    let Some(sdf) = web.sdf.get() else {
        return web.not_found(&v);
    };
    let Some(ctx) = v.who.project().cloned() else {
        return Redirect::to(&format!("/signin?next=/apps/deployments/{uuid}")).into_response();
    };
    let Ok(d) = crate::sdf_deploy::view(&sdf.deploy, &ctx, &uuid).await else {
        return web.not_found(&v);
    };
    let catalog = sdf.catalog().await;
    let app = catalog.get(&d.app);
    let loc = locale(v.lang);
    let progress = match &d.progress {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    };
    let variables = d
        .variables
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, val)| {
                    let shown = match val {
                        serde_json::Value::Null => format!("— ({})", t(v.lang, "sdf_inactive")),
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), shown)
                })
                .collect()
        })
        .unwrap_or_default();
    let address = serde_json::from_str::<serde_json::Value>(&d.object.out)
        .ok()
        .and_then(|o| o.get("address").and_then(|a| a.as_str().map(str::to_owned)))
        .filter(|a| !a.is_empty());
    let page = DeploymentPage {
        uuid: d.uuid.clone(),
        name: app.map_or_else(|| d.app.clone(), |a| a.name.get(loc).to_owned()),
        app: d.app.clone(),
        mode: d.mode.clone(),
        working: !matches!(d.status.as_str(), "running" | "failed" | "deleted"),
        status: d.status.clone(),
        last_error: d.object.last_error.clone(),
        progress,
        progress_key: app
            .and_then(|a| a.deployment_progress.get("vm-key").cloned())
            .unwrap_or_else(|| "deployment-progress".into()),
        address,
        variables,
    };
    web.page(
        &v,
        "sdf_deployment.html",
        minijinja::context! { d => minijinja::Value::from(minijinja::value::Serde(&page)) },
    )
}
