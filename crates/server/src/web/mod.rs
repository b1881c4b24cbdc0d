//! The marketplace in the browser: catalog, service page, wizard with live price.
//!
//! Pages are rendered by the server from templates (`web/templates`); every change in a wizard
//! is posted to `…/evaluate`, which answers with what changed (the side panel, the fields'
//! errors, the groups that show) computed by the `forms` and `pricing` rooms. The small script
//! in `web/static/vitrina.js` only sends and applies those answers: no rule lives in JavaScript.

pub mod change;
pub mod choices;
pub mod deployments;
pub mod i18n;
pub mod markdown;
pub mod quota;
pub mod sdf;
pub mod session;
pub mod shelf;
pub mod vendor;
mod view;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use vitrina_forms::Action;
use vitrina_pricing::Tariffs;

use self::choices::{Choices, ChoicesCache};
use self::i18n::Lang;
use self::session::{Visitor, Who};
use self::shelf::Shelf;
use crate::tenants::Tenants;

/// The longest form a wizard posts (answers are short; a page has few dozen fields).
const FORM_LIMIT: usize = 64 * 1024;

/// The page templates, part of the binary.
const TEMPLATES: [(&str, &str); 11] = [
    (
        "deployments.html",
        include_str!("../../web/templates/deployments.html"),
    ),
    (
        "deployment.html",
        include_str!("../../web/templates/deployment.html"),
    ),
    ("base.html", include_str!("../../web/templates/base.html")),
    (
        "catalog.html",
        include_str!("../../web/templates/catalog.html"),
    ),
    (
        "service.html",
        include_str!("../../web/templates/service.html"),
    ),
    (
        "wizard.html",
        include_str!("../../web/templates/wizard.html"),
    ),
    ("field.html", include_str!("../../web/templates/field.html")),
    ("panel.html", include_str!("../../web/templates/panel.html")),
    (
        "review.html",
        include_str!("../../web/templates/review.html"),
    ),
    (
        "message.html",
        include_str!("../../web/templates/message.html"),
    ),
    (
        "signin.html",
        include_str!("../../web/templates/signin.html"),
    ),
];

/// What the pages need.
pub struct Web {
    /// The broker and deployment system deployments go through (`None`: pages only).
    pub backend: Option<deployments::Backend>,
    pub shelf: Arc<Shelf>,
    pub tenants: Arc<Tenants>,
    pub tariffs: Tariffs,
    /// The cloud the pickers list when no project is signed in (the server's default project).
    pub cloud: Option<(vitrina_openstack::Client, ChoicesCache)>,
    /// Each signed-in project's cloud client and pickers.
    project_choices: tokio::sync::Mutex<
        std::collections::HashMap<String, Arc<(vitrina_openstack::Client, ChoicesCache)>>,
    >,
    templates: minijinja::Environment<'static>,
    /// VM-SDF apps (set once by the server when it has the deployment system).
    pub sdf: std::sync::OnceLock<sdf::SdfWeb>,
}

impl Web {
    pub fn new(
        backend: Option<deployments::Backend>,
        shelf: Arc<Shelf>,
        tenants: Arc<Tenants>,
        tariffs: Tariffs,
        cloud: Option<vitrina_openstack::Client>,
    ) -> Arc<Web> {
        let mut env = minijinja::Environment::new();
        for (name, src) in TEMPLATES
            .iter()
            .chain(change::TEMPLATES.iter())
            .chain(vendor::TEMPLATES)
            .chain(quota::TEMPLATES)
            .chain(sdf::TEMPLATES)
            .copied()
        {
            // The templates are part of the binary and tested: a broken one is a build bug.
            if let Err(e) = env.add_template(name, src) {
                tracing::error!(template = name, error = %e, "a page template does not parse");
            }
        }
        Arc::new(Web {
            backend,
            shelf,
            tenants,
            tariffs,
            cloud: cloud.map(|c| (c, ChoicesCache::new(std::time::Duration::from_secs(30)))),
            project_choices: Default::default(),
            templates: env,
            sdf: std::sync::OnceLock::new(),
        })
    }

    /// Lists the VM-SDF catalog's apps and deploys them through `deploy` (once).
    pub fn set_sdf(&self, deploy: crate::sdf_deploy::SdfDeployState) {
        let _ = self.sdf.set(sdf::SdfWeb::new(deploy));
    }

    /// What the pickers offer to this visitor: a signed-in project's own cloud (its networks,
    /// subnets and keypairs are its own), else the server's default project.
    pub(super) async fn choices_for(&self, v: &Visitor) -> Arc<Choices> {
        let Some(project) = v.who.project() else {
            return self.choices().await;
        };
        let entry = {
            let mut map = self.project_choices.lock().await;
            match map.get(project.id()) {
                Some(e) => Some(e.clone()),
                None => {
                    let made = self
                        .tenants
                        .project_cloud(project)
                        .await
                        .ok()
                        .and_then(|c| {
                            vitrina_openstack::Client::new(c.to_cloud_config(project.name())).ok()
                        })
                        .map(|client| {
                            Arc::new((
                                client,
                                ChoicesCache::new(std::time::Duration::from_secs(30)),
                            ))
                        });
                    if let Some(e) = &made {
                        map.insert(project.id().to_owned(), e.clone());
                    }
                    made
                }
            }
        };
        match entry {
            Some(e) => e.1.get(&e.0).await,
            None => Arc::new(Choices::default()),
        }
    }

    pub(super) async fn choices(&self) -> Arc<Choices> {
        match &self.cloud {
            Some((client, cache)) => cache.get(client).await,
            None => Arc::new(Choices::default()),
        }
    }

    /// Renders a page for a visitor: `lang`, `t` (messages), `csrf` and `who` are always there.
    pub(super) fn page(&self, v: &Visitor, name: &str, ctx: minijinja::Value) -> Response {
        let base = minijinja::context! {
            lang => v.lang.code(),
            t => view::messages(v.lang),
            csrf => v.csrf.clone(),
            who => v.who.display(),
            is_vendor => v.who.vendor().is_some(),
        };
        let html = self
            .templates
            .get_template(name)
            .and_then(|t| t.render(minijinja::context! { ..ctx, ..base }));
        let r = match html {
            Ok(html) => Html(html).into_response(),
            Err(e) => {
                tracing::error!(template = name, error = %e, "a page failed to render");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the page failed to render",
                )
                    .into_response()
            }
        };
        v.finish(r)
    }

    pub(super) fn message(
        &self,
        v: &Visitor,
        status: StatusCode,
        title: &str,
        text: &str,
    ) -> Response {
        let mut r = self.page(
            v,
            "message.html",
            minijinja::context! { title => title, text => text },
        );
        *r.status_mut() = status;
        r
    }

    pub(super) fn not_found(&self, v: &Visitor) -> Response {
        self.message(
            v,
            StatusCode::NOT_FOUND,
            i18n::t(v.lang, "not_found"),
            i18n::t(v.lang, "not_found_text"),
        )
    }

    pub(super) fn bad_csrf(&self, v: &Visitor) -> Response {
        self.message(
            v,
            StatusCode::FORBIDDEN,
            i18n::t(v.lang, "expired_form"),
            i18n::t(v.lang, "expired_form_text"),
        )
    }

    pub(super) async fn visitor(&self, headers: &HeaderMap) -> Visitor {
        Visitor::read(&self.tenants, headers).await
    }
}

/// The pages' routes.
pub fn routes(web: Arc<Web>) -> Router {
    Router::new()
        .route("/", get(catalog))
        .route("/services/{id}", get(service))
        .route("/services/{id}/icon", get(icon))
        .route("/services/{id}/plans/{plan}", get(wizard))
        .route("/services/{id}/plans/{plan}/evaluate", post(evaluate))
        .route("/services/{id}/plans/{plan}/review", post(review))
        .route(
            "/services/{id}/plans/{plan}/deploy",
            post(deployments::deploy),
        )
        .route("/deployments", get(deployments::list))
        .route("/deployments/{id}", get(deployments::page))
        .route("/deployments/{id}/reveal", post(deployments::reveal))
        .route("/deployments/{id}/delete", post(deployments::delete))
        .route("/deployments/{id}/change", get(change::page))
        .route("/deployments/{id}/change/evaluate", post(change::evaluate))
        .route("/deployments/{id}/change/preview", post(change::preview))
        .route("/deployments/{id}/change/apply", post(change::apply))
        .route("/deployments/{id}/upgrade", get(change::upgrade))
        .route("/vendor", get(vendor::console))
        .route(
            "/vendor/upload",
            post(vendor::upload).layer(axum::extract::DefaultBodyLimit::max(
                crate::products_http::UPLOAD_BODY_LIMIT,
            )),
        )
        .route("/vendor/publish", post(vendor::publish))
        .route("/vendor/archive", post(vendor::archive))
        .route("/signin", get(signin_page).post(signin))
        .route("/signout", post(signout))
        .route("/lang/{code}", get(set_lang))
        .route("/static/vitrina.css", get(css))
        .route("/static/vitrina.js", get(js))
        .merge(sdf::routes())
        .layer(axum::extract::DefaultBodyLimit::max(FORM_LIMIT))
        .with_state(web)
}

/// A posted form: every field by name (answers, `_revision`, `_csrf`).
pub(super) type Posted = Vec<(String, String)>;

pub(super) fn posted<'a>(p: &'a Posted, name: &str) -> Option<&'a str> {
    p.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

#[derive(serde::Deserialize, Default)]
struct CatalogQuery {
    #[serde(default)]
    q: String,
}

async fn catalog(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Query(query): Query<CatalogQuery>,
) -> Response {
    let v = web.visitor(&headers).await;
    let services: Vec<_> = web
        .shelf
        .visible(v.who.vendor())
        .await
        .into_iter()
        .filter(|s| s.entry.matches(&query.q))
        .map(|s| view::card(&s, &web.tariffs, v.lang))
        .collect();
    let apps = sdf::cards(&web, v.lang, &query.q).await;
    web.page(
        &v,
        "catalog.html",
        minijinja::context! {
            q => query.q,
            apps => minijinja::Value::from(minijinja::value::Serde(&apps)),
            services => minijinja::Value::from(minijinja::value::Serde(&services)),
        },
    )
}

#[derive(serde::Deserialize, Default)]
struct RevisionQuery {
    revision: Option<String>,
}

async fn service(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(rq): Query<RevisionQuery>,
) -> Response {
    let v = web.visitor(&headers).await;
    let Some(s) = web
        .shelf
        .find(&id, rq.revision.as_deref(), v.who.vendor())
        .await
    else {
        return web.not_found(&v);
    };
    web.page(
        &v,
        "service.html",
        minijinja::context! {
            service => minijinja::Value::from(minijinja::value::Serde(view::card(&s, &web.tariffs, v.lang))),
            description_html => minijinja::Value::from_safe_string(s.entry.description_html.clone()),
            matrix => minijinja::Value::from(minijinja::value::Serde(view::matrix(&s.entry, &web.tariffs, v.lang))),
        },
    )
}

async fn icon(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(rq): Query<RevisionQuery>,
) -> Response {
    let v = web.visitor(&headers).await;
    let found = web
        .shelf
        .find(&id, rq.revision.as_deref(), v.who.vendor())
        .await;
    match found.and_then(|s| s.entry.icon.clone()) {
        Some(bytes) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static("image/png")),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=3600"),
                ),
            ],
            bytes,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn wizard(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path((id, plan)): Path<(String, String)>,
    Query(rq): Query<RevisionQuery>,
) -> Response {
    let v = web.visitor(&headers).await;
    let Some(s) = web
        .shelf
        .find(&id, rq.revision.as_deref(), v.who.vendor())
        .await
    else {
        return web.not_found(&v);
    };
    let Some(offer) = s.entry.offer(&plan) else {
        return web.not_found(&v);
    };
    let choices = web.choices_for(&v).await;
    let w = view::wizard(
        &s.entry,
        offer,
        &BTreeMap::new(),
        Action::Create,
        &choices,
        &web.tariffs,
        v.lang,
        false,
    );
    web.page(
        &v,
        "wizard.html",
        minijinja::context! {
            service => minijinja::Value::from(minijinja::value::Serde(view::card(&s, &web.tariffs, v.lang))),
            w => minijinja::Value::from(minijinja::value::Serde(&w)),
        },
    )
}

/// The service revision a wizard posts to, as the visitor may see it.
pub(super) async fn posted_offer(
    web: &Web,
    v: &Visitor,
    id: &str,
    form: &Posted,
) -> Option<shelf::Listed> {
    web.shelf
        .find(id, posted(form, "_revision"), v.who.vendor())
        .await
}

async fn evaluate(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path((id, plan)): Path<(String, String)>,
    Form(form): Form<Posted>,
) -> Response {
    let started = std::time::Instant::now();
    let v = web.visitor(&headers).await;
    if !v.csrf_ok(posted(&form, "_csrf")) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let Some(s) = posted_offer(&web, &v, &id, &form).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some(offer) = s.entry.offer(&plan) else {
        return StatusCode::NOT_FOUND.into_response();
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
    let panel = web
        .templates
        .get_template("panel.html")
        .and_then(|t| {
            t.render(minijinja::context! {
                lang => v.lang.code(),
                t => view::messages(v.lang),
                w => minijinja::Value::from(minijinja::value::Serde(&w)),
            })
        })
        .unwrap_or_default();
    let mut r = Json(serde_json::json!({
        "panel": panel,
        "errors": w.errors,
        "hidden_groups": w.hidden_groups,
        "captions": w.captions,
    }))
    .into_response();
    // The server's own time for the update (read by the wizard benchmark and browsers' tools).
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if let Ok(h) = HeaderValue::from_str(&format!("app;dur={ms:.3}")) {
        r.headers_mut().insert("server-timing", h);
    }
    r
}

async fn review(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path((id, plan)): Path<(String, String)>,
    Form(form): Form<Posted>,
) -> Response {
    let v = web.visitor(&headers).await;
    if !v.csrf_ok(posted(&form, "_csrf")) {
        return web.bad_csrf(&v);
    }
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
    // `_edit`: back from the confirmation page to the wizard, with the answers kept.
    let ok = w.errors.is_empty() && posted(&form, "_edit").is_none();
    let quota = if ok {
        web.quota_check(&v, offer, &answers).await
    } else {
        quota::QuotaCheck::default()
    };
    let mut r = web.page(
        &v,
        if ok { "review.html" } else { "wizard.html" },
        minijinja::context! {
            service => minijinja::Value::from(minijinja::value::Serde(view::card(&s, &web.tariffs, v.lang))),
            w => minijinja::Value::from(minijinja::value::Serde(&w)),
            posted => minijinja::Value::from(minijinja::value::Serde(&form)),
            quota => minijinja::Value::from(minijinja::value::Serde(&quota)),
        },
    );
    if !w.errors.is_empty() {
        *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    r
}

#[derive(serde::Deserialize, Default)]
struct NextQuery {
    next: Option<String>,
}

/// Only our own paths are followed after sign-in.
fn local_path(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
        _ => "/".to_owned(),
    }
}

async fn signin_page(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Response {
    let v = web.visitor(&headers).await;
    web.page(
        &v,
        "signin.html",
        minijinja::context! { next => local_path(q.next.as_deref()), error => None::<String> },
    )
}

async fn signin(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Form(form): Form<Posted>,
) -> Response {
    let v = web.visitor(&headers).await;
    if !v.csrf_ok(posted(&form, "_csrf")) {
        return web.bad_csrf(&v);
    }
    let next = local_path(posted(&form, "next"));
    let field = |name| posted(&form, name).map(str::trim).filter(|s| !s.is_empty());
    let who = match posted(&form, "kind") {
        Some("vendor") => match field("service_token") {
            Some(t) => web.tenants.vendor_by_token(t).await.ok().map(Who::Vendor),
            None => None,
        },
        _ => match (field("project_token"), field("project"), field("username")) {
            (Some(t), _, _) => web.tenants.project_by_token(t).await.ok().map(Who::Project),
            (None, Some(project), Some(user)) => {
                let password = posted(&form, "password").unwrap_or_default();
                web.tenants
                    .project_by_cloud_password(project, user, password)
                    .await
                    .ok()
                    .map(Who::Project)
            }
            _ => None,
        },
    };
    let cookie = match &who {
        Some(w) => v.sign_in(&web.tenants, w).await,
        None => None,
    };
    match cookie {
        Some(line) => {
            let mut r = Redirect::to(&next).into_response();
            if let Ok(h) = HeaderValue::from_str(&line) {
                r.headers_mut().append(header::SET_COOKIE, h);
            }
            r
        }
        None => {
            // The same answer whatever was wrong: nothing tells which tokens or users exist.
            let mut r = web.page(
                &v,
                "signin.html",
                minijinja::context! { next => next, error => i18n::t(v.lang, "signin_failed") },
            );
            *r.status_mut() = StatusCode::UNAUTHORIZED;
            r
        }
    }
}

async fn signout(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Form(form): Form<Posted>,
) -> Response {
    let v = web.visitor(&headers).await;
    if !v.csrf_ok(posted(&form, "_csrf")) {
        return web.bad_csrf(&v);
    }
    let line = v.sign_out(&web.tenants, &headers).await;
    let mut r = Redirect::to("/").into_response();
    if let Ok(h) = HeaderValue::from_str(&line) {
        r.headers_mut().append(header::SET_COOKIE, h);
    }
    r
}

async fn set_lang(Path(code): Path<String>, headers: HeaderMap) -> Response {
    let lang = Lang::parse(&code).unwrap_or(Lang::En);
    // Back to the page the switch was on, when it is one of ours.
    let back = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| {
            let host = headers.get(header::HOST)?.to_str().ok()?;
            let rest = r.split_once("://")?.1.strip_prefix(host)?;
            rest.starts_with('/').then(|| rest.to_owned())
        })
        .unwrap_or_else(|| "/".to_owned());
    let mut r = Redirect::to(&back).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "lang={}; Path=/; Max-Age=31536000; SameSite=Lax",
        lang.code()
    )) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

async fn css() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../../web/static/vitrina.css"),
    )
        .into_response()
}

async fn js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../../web/static/vitrina.js"),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every template parses and renders with an empty visitor context.
    #[test]
    fn templates_parse() {
        let mut env = minijinja::Environment::new();
        for (name, src) in TEMPLATES
            .iter()
            .chain(vendor::TEMPLATES)
            .chain(quota::TEMPLATES)
            .chain(sdf::TEMPLATES)
            .copied()
        {
            env.add_template(name, src)
                .unwrap_or_else(|e| panic!("{name}: {e:#}"));
        }
        let base = minijinja::context! {
            lang => "en", t => view::messages(Lang::En), csrf => "x", who => None::<String>,
            next => "/", error => None::<String>, title => "t", text => "x",
        };
        for name in ["signin.html", "message.html"] {
            env.get_template(name)
                .and_then(|t| t.render(base.clone()))
                .unwrap_or_else(|e| panic!("{name}: {e:#}"));
        }
    }
}
