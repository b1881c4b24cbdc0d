//! `/v2/…` handlers: the authentication and version checks come first (before any body is
//! read), then the request is parsed and handed to the [`Broker`].

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use base64::Engine as _;

use super::backend::{Account, OsbBackend};
use super::broker::{Broker, Reply};
use super::wire::*;

const VERSION_HEADER: &str = "x-broker-api-version";
const REQUEST_IDENTITY: &str = "x-broker-api-request-identity";
const ORIGINATING_IDENTITY: &str = "x-broker-api-originating-identity";
/// Seconds a platform should wait before polling an operation in progress again.
const RETRY_AFTER_SECS: u64 = 2;

type Q = Query<HashMap<String, String>>;

/// The broker's routes under `/v2`.
pub fn routes<B: OsbBackend>(broker: Arc<Broker<B>>) -> Router {
    Router::new()
        .route("/v2/catalog", get(catalog::<B>))
        .route(
            "/v2/service_instances/{iid}",
            get(fetch_instance::<B>)
                .put(provision::<B>)
                .patch(update::<B>)
                .delete(deprovision::<B>),
        )
        .route(
            "/v2/service_instances/{iid}/last_operation",
            get(last_operation::<B>),
        )
        .route(
            "/v2/service_instances/{iid}/service_bindings/{bid}",
            get(fetch_binding::<B>).put(bind::<B>).delete(unbind::<B>),
        )
        .route(
            "/v2/service_instances/{iid}/service_bindings/{bid}/last_operation",
            get(binding_last_operation::<B>),
        )
        .layer(axum::middleware::from_fn_with_state(
            broker.clone(),
            gate::<B>,
        ))
        .with_state(broker)
}

fn basic(req: &Request) -> Option<(String, String)> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// `<platform> <base64(JSON)>`, read leniently for the audit log: the platform and the user
/// id, nothing else.
fn originating(req: &Request) -> Option<(String, String)> {
    let value = req.headers().get(ORIGINATING_IDENTITY)?.to_str().ok()?;
    let (platform, encoded) = value.trim().split_once(' ')?;
    let json = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
    let user = json
        .as_ref()
        .and_then(|j| j.get("user_id").or_else(|| j.get("username")))
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .chars()
        .take(200)
        .collect();
    Some((platform.chars().take(100).collect(), user))
}

/// Basic authentication (401), then the version (412), both before the body is read; echoes
/// the request identity.
async fn gate<B: OsbBackend>(
    State(broker): State<Arc<Broker<B>>>,
    mut req: Request,
    next: Next,
) -> Response {
    let identity = req.headers().get(REQUEST_IDENTITY).cloned();
    let mut response = match check(&broker, &mut req).await {
        Ok(()) => {
            if let Some((platform, user)) = originating(&req) {
                tracing::info!(method = %req.method(), path = %req.uri().path(), %platform, %user, "osb: request");
            }
            next.run(req).await
        }
        Err(e) => e.into_response(),
    };
    if let Some(id) = identity {
        response
            .headers_mut()
            .insert(HeaderName::from_static(REQUEST_IDENTITY), id);
    }
    response
}

async fn check<B: OsbBackend>(broker: &Broker<B>, req: &mut Request) -> Result<(), Response> {
    let unauthorized = || {
        let mut r = OsbError::unauthorized().into_response();
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"vitrina broker\""),
        );
        r
    };
    let Some((user, password)) = basic(req) else {
        return Err(unauthorized());
    };
    let account = match broker.login(&user, &password).await {
        Ok(Some(account)) => account,
        Ok(None) => return Err(unauthorized()),
        Err(e) => return Err(e.into_response()),
    };
    let Some(version) = ApiVersion::parse(req.headers().get(VERSION_HEADER)) else {
        return Err(OsbError::precondition(format!(
            "send `X-Broker-API-Version` {}.{} to {}.{}",
            ApiVersion::MIN.major,
            ApiVersion::MIN.minor,
            ApiVersion::MAX.major,
            ApiVersion::MAX.minor
        ))
        .into_response());
    };
    req.extensions_mut().insert(account);
    req.extensions_mut().insert(version);
    Ok(())
}

fn reply(r: Result<Reply, OsbError>) -> Response {
    match r {
        Ok((status, body)) => (status, axum::Json(body)).into_response(),
        Err(e) => e.into_response(),
    }
}

fn accepts_incomplete(q: &HashMap<String, String>) -> bool {
    q.get("accepts_incomplete")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// DELETE's required query parameters: missing or empty is 400.
fn delete_query(q: &HashMap<String, String>) -> Result<(), OsbError> {
    for key in ["service_id", "plan_id"] {
        if q.get(key).is_none_or(|v| v.trim().is_empty()) {
            return Err(OsbError::bad_request(format!(
                "the query parameter `{key}` is required"
            )));
        }
    }
    Ok(())
}

async fn catalog<B: OsbBackend>(
    State(b): State<Arc<Broker<B>>>,
    Extension(account): Extension<Account>,
    Extension(version): Extension<ApiVersion>,
) -> Response {
    match b.catalog(&account, version).await {
        Ok(body) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

async fn provision<B: OsbBackend>(
    State(b): State<Arc<Broker<B>>>,
    Extension(account): Extension<Account>,
    Extension(version): Extension<ApiVersion>,
    Path(iid): Path<String>,
    Query(q): Q,
    body: Bytes,
) -> Response {
    let req = match parse_body::<ProvisionRequest>(&body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    reply(
        b.provision(&account, &iid, accepts_incomplete(&q), req, version)
            .await,
    )
}

async fn fetch_instance<B: OsbBackend>(
    State(b): State<Arc<Broker<B>>>,
    Extension(account): Extension<Account>,
    Extension(version): Extension<ApiVersion>,
    Path(iid): Path<String>,
) -> Response {
    reply(b.fetch_instance(&account, &iid, version).await)
}

async fn update<B: OsbBackend>(
    State(b): State<Arc<Broker<B>>>,
    Extension(account): Extension<Account>,
    Path(iid): Path<String>,
    Query(q): Q,
    body: Bytes,
) -> Response {
    let req = match parse_body::<UpdateRequest>(&body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    reply(b.update(&account, &iid, accepts_incomplete(&q), req).await)
}

async fn deprovision<B: OsbBackend>(
    State(b): State<Arc<Broker<B>>>,
    Extension(account): Extension<Account>,
    Path(iid): Path<String>,
    Query(q): Q,
) -> Response {
    if let Err(e) = delete_query(&q) {
        return e.into_response();
    }
    reply(b.deprovision(&account, &iid, accepts_incomplete(&q)).await)
}

async fn last_operation<B: OsbBackend>(
    State(b): State<Arc<Broker<B>>>,
    Extension(account): Extension<Account>,
    Extension(version): Extension<ApiVersion>,
    Path(iid): Path<String>,
) -> Response {
    match b.last_operation(&account, &iid, version).await {
        Ok(((status, body), in_progress)) => {
            let mut r = (status, axum::Json(body)).into_response();
            if in_progress {
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
            }
            r
        }
        Err(e) => e.into_response(),
    }
}

async fn bind<B: OsbBackend>(
    State(b): State<Arc<Broker<B>>>,
    Extension(account): Extension<Account>,
    Path((iid, bid)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let req = match parse_body::<BindRequest>(&body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    reply(b.bind(&account, &iid, &bid, req).await)
}

async fn fetch_binding<B: OsbBackend>(
    State(b): State<Arc<Broker<B>>>,
    Extension(account): Extension<Account>,
    Path((iid, bid)): Path<(String, String)>,
) -> Response {
    reply(b.fetch_binding(&account, &iid, &bid).await)
}

async fn unbind<B: OsbBackend>(
    State(b): State<Arc<Broker<B>>>,
    Extension(account): Extension<Account>,
    Path((iid, bid)): Path<(String, String)>,
    Query(q): Q,
) -> Response {
    if let Err(e) = delete_query(&q) {
        return e.into_response();
    }
    reply(b.unbind(&account, &iid, &bid).await)
}

async fn binding_last_operation<B: OsbBackend>(
    State(b): State<Arc<Broker<B>>>,
    Extension(account): Extension<Account>,
    Path((iid, bid)): Path<(String, String)>,
) -> Response {
    reply(b.binding_last_operation(&account, &iid, &bid).await)
}
