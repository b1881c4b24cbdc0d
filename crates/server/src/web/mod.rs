//! The marketplace in the browser: catalog, service page, wizard with live price.
//!
//! Pages are rendered by the server from templates (`web/templates`); every change in a wizard
//! is posted to `…/evaluate`, which answers with what changed (the side panel, the fields'
//! errors, the groups that show) computed by the `forms` and `pricing` rooms. The small script
//! in `web/static/vitrina.js` only sends and applies those answers: no rule lives in JavaScript.

pub mod choices;
pub mod i18n;
pub mod markdown;
pub mod shelf;
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
use self::shelf::Shelf;

/// The longest form a wizard posts (answers are short; a page has few dozen fields).
const FORM_LIMIT: usize = 64 * 1024;

/// What the pages need.
pub struct Web {
    pub shelf: Arc<Shelf>,
    pub tariffs: Tariffs,
    /// The cloud the pickers list when no project is signed in (the server's default project).
    pub cloud: Option<(vitrina_openstack::Client, ChoicesCache)>,
    templates: minijinja::Environment<'static>,
}

impl Web {
    pub fn new(
        shelf: Arc<Shelf>,
        tariffs: Tariffs,
        cloud: Option<vitrina_openstack::Client>,
    ) -> Arc<Web> {
        let mut env = minijinja::Environment::new();
        for (name, src) in [
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
        ] {
            // The templates are part of the binary and tested: a broken one is a build bug.
            if let Err(e) = env.add_template(name, src) {
                tracing::error!(template = name, error = %e, "a page template does not parse");
            }
        }
        Arc::new(Web {
            shelf,
            tariffs,
            cloud: cloud.map(|c| (c, ChoicesCache::new(std::time::Duration::from_secs(30)))),
            templates: env,
        })
    }

    async fn choices(&self) -> Arc<Choices> {
        match &self.cloud {
            Some((client, cache)) => cache.get(client).await,
            None => Arc::new(Choices::default()),
        }
    }

    fn render(&self, name: &str, ctx: minijinja::Value) -> Response {
        match self
            .templates
            .get_template(name)
            .and_then(|t| t.render(ctx))
        {
            Ok(html) => Html(html).into_response(),
            Err(e) => {
                tracing::error!(template = name, error = %e, "a page failed to render");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the page failed to render",
                )
                    .into_response()
            }
        }
    }

    fn not_found(&self, lang: Lang) -> Response {
        let mut r = self.render(
            "message.html",
            minijinja::context! {
                lang => lang.code(),
                t => view::messages(lang),
                title => i18n::t(lang, "not_found"),
                text => i18n::t(lang, "not_found_text"),
            },
        );
        *r.status_mut() = StatusCode::NOT_FOUND;
        r
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
        .route("/lang/{code}", get(set_lang))
        .route("/static/vitrina.css", get(css))
        .route("/static/vitrina.js", get(js))
        .layer(axum::extract::DefaultBodyLimit::max(FORM_LIMIT))
        .with_state(web)
}

fn lang(headers: &HeaderMap) -> Lang {
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix("lang="));
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    Lang::choose(cookie, accept)
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
    let lang = lang(&headers);
    let services: Vec<_> = web
        .shelf
        .visible(None)
        .into_iter()
        .filter(|s| s.matches(&query.q))
        .map(|s| view::card(&s, &web.tariffs, lang))
        .collect();
    web.render(
        "catalog.html",
        minijinja::context! {
            lang => lang.code(),
            t => view::messages(lang),
            q => query.q,
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
    let lang = lang(&headers);
    let Some(s) = web.shelf.find(&id, rq.revision.as_deref(), None) else {
        return web.not_found(lang);
    };
    web.render(
        "service.html",
        minijinja::context! {
            lang => lang.code(),
            t => view::messages(lang),
            service => minijinja::Value::from(minijinja::value::Serde(view::card(&s, &web.tariffs, lang))),
            description_html => minijinja::Value::from_safe_string(s.description_html.clone()),
            matrix => minijinja::Value::from(minijinja::value::Serde(view::matrix(&s, &web.tariffs, lang))),
        },
    )
}

async fn icon(State(web): State<Arc<Web>>, Path(id): Path<String>) -> Response {
    match web.shelf.find(&id, None, None).and_then(|s| s.icon.clone()) {
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
    let lang = lang(&headers);
    let Some(s) = web.shelf.find(&id, rq.revision.as_deref(), None) else {
        return web.not_found(lang);
    };
    let Some(offer) = s.offer(&plan) else {
        return web.not_found(lang);
    };
    let choices = web.choices().await;
    let answers = BTreeMap::new();
    let w = view::wizard(
        &s,
        offer,
        &answers,
        Action::Create,
        &choices,
        &web.tariffs,
        lang,
        false,
    );
    web.render(
        "wizard.html",
        minijinja::context! {
            lang => lang.code(),
            t => view::messages(lang),
            service => minijinja::Value::from(minijinja::value::Serde(view::card(&s, &web.tariffs, lang))),
            w => minijinja::Value::from(minijinja::value::Serde(&w)),
        },
    )
}

/// The answers a wizard posts: every field by name (plus `_revision`).
type Posted = Vec<(String, String)>;

async fn evaluate(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path((id, plan)): Path<(String, String)>,
    Form(posted): Form<Posted>,
) -> Response {
    let lang = lang(&headers);
    let revision = posted
        .iter()
        .find(|(k, _)| k == "_revision")
        .map(|(_, v)| v.clone());
    let Some(s) = web.shelf.find(&id, revision.as_deref(), None) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some(offer) = s.offer(&plan) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let choices = web.choices().await;
    let answers = view::answers_from_post(offer, &posted);
    let w = view::wizard(
        &s,
        offer,
        &answers,
        Action::Create,
        &choices,
        &web.tariffs,
        lang,
        true,
    );
    let panel = web
        .templates
        .get_template("panel.html")
        .and_then(|t| {
            t.render(minijinja::context! { lang => lang.code(), t => view::messages(lang), w => minijinja::Value::from(minijinja::value::Serde(&w)) })
        })
        .unwrap_or_default();
    Json(serde_json::json!({
        "panel": panel,
        "errors": w.errors,
        "hidden_groups": w.hidden_groups,
        "captions": w.captions,
    }))
    .into_response()
}

async fn review(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path((id, plan)): Path<(String, String)>,
    Form(posted): Form<Posted>,
) -> Response {
    let lang = lang(&headers);
    let revision = posted
        .iter()
        .find(|(k, _)| k == "_revision")
        .map(|(_, v)| v.clone());
    let Some(s) = web.shelf.find(&id, revision.as_deref(), None) else {
        return web.not_found(lang);
    };
    let Some(offer) = s.offer(&plan) else {
        return web.not_found(lang);
    };
    let choices = web.choices().await;
    let answers = view::answers_from_post(offer, &posted);
    let w = view::wizard(
        &s,
        offer,
        &answers,
        Action::Create,
        &choices,
        &web.tariffs,
        lang,
        true,
    );
    let template = if w.errors.is_empty() {
        "review.html"
    } else {
        "wizard.html"
    };
    let mut r = web.render(
        template,
        minijinja::context! {
            lang => lang.code(),
            t => view::messages(lang),
            service => minijinja::Value::from(minijinja::value::Serde(view::card(&s, &web.tariffs, lang))),
            w => minijinja::Value::from(minijinja::value::Serde(&w)),
        },
    );
    if template == "wizard.html" {
        *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
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
