//! The deployment system's routes on VK's paths (prefix [`PREFIX`]): parse, authenticate the
//! project from `x-auth-token`, call [`super::Hoe`], convert. Another project's objects, configs
//! and logs answer 404.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use super::{CreateObject, Hoe, HoeError, UpdateObject, MAX_CONFIG_BYTES};
use crate::error::ServerError;
use crate::tenants::ProjectCtx;

/// VK's prefix of the deployment system and product APIs.
pub const PREFIX: &str = "/marketplace/api/infra-api/api/v1-public";

async fn project(hoe: &Hoe, headers: &HeaderMap) -> Result<ProjectCtx, HoeError> {
    Ok(hoe.tenants.project_from_headers(headers).await?)
}

fn json_body<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, HoeError> {
    serde_json::from_slice(body).map_err(|e| {
        HoeError::Server(ServerError::Invalid(format!(
            "bad JSON body: {}",
            crate::json_errors::json_error(&e)
        )))
    })
}

/// The routes, to be merged at the server's root.
pub fn routes(hoe: Arc<Hoe>) -> Router {
    let r = Router::new()
        .route("/hoe/config/{name}", post(put_config).get(get_config))
        .route("/hoe/object", post(create_object))
        .route(
            "/hoe/object/{uuid}",
            get(get_object).put(update_object).delete(delete_object),
        )
        .route("/hoe/object/{uuid}/plan", post(plan_preview))
        // The seed's examples spell the path `hoec` in two places; both work.
        .route("/hoec/config/{name}", post(put_config).get(get_config))
        .route("/hoec/object", post(create_object))
        .route("/logs/instance/{uuid}", get(logs))
        .layer(DefaultBodyLimit::max(MAX_CONFIG_BYTES + 64 * 1024))
        .with_state(hoe);
    Router::new().nest(PREFIX, r)
}

async fn put_config(
    State(hoe): State<Arc<Hoe>>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, HoeError> {
    let ctx = project(&hoe, &headers).await?;
    let text = String::from_utf8(body.to_vec())
        .map_err(|_| HoeError::Server(ServerError::Invalid("the manifest is not UTF-8".into())))?;
    let mut files = BTreeMap::new();
    files.insert("main.tf".to_owned(), text);
    let out = hoe.put_config(&ctx, &name, files).await?;
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

async fn get_config(
    State(hoe): State<Arc<Hoe>>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, HoeError> {
    let ctx = project(&hoe, &headers).await?;
    let text = hoe.get_config(&ctx, &name).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

async fn create_object(
    State(hoe): State<Arc<Hoe>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, HoeError> {
    let ctx = project(&hoe, &headers).await?;
    let req: CreateObject = json_body(&body)?;
    let view = hoe.create_object(&ctx, req).await?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

#[derive(serde::Deserialize)]
struct ShowQuery {
    #[serde(default)]
    show_sensitive: Option<String>,
}

async fn get_object(
    State(hoe): State<Arc<Hoe>>,
    headers: HeaderMap,
    Path(uuid): Path<String>,
    Query(q): Query<ShowQuery>,
) -> Result<Response, HoeError> {
    let ctx = project(&hoe, &headers).await?;
    let show = matches!(q.show_sensitive.as_deref(), Some("true" | "1" | "yes"));
    let view = hoe.object(&ctx, &uuid, show).await?;
    Ok(Json(view).into_response())
}

async fn update_object(
    State(hoe): State<Arc<Hoe>>,
    headers: HeaderMap,
    Path(uuid): Path<String>,
    body: Bytes,
) -> Result<Response, HoeError> {
    let ctx = project(&hoe, &headers).await?;
    let req: UpdateObject = json_body(&body)?;
    let view = hoe.update_object(&ctx, &uuid, req).await?;
    Ok((StatusCode::ACCEPTED, Json(view)).into_response())
}

async fn delete_object(
    State(hoe): State<Arc<Hoe>>,
    headers: HeaderMap,
    Path(uuid): Path<String>,
) -> Result<Response, HoeError> {
    let ctx = project(&hoe, &headers).await?;
    let view = hoe.delete_object(&ctx, &uuid).await?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

async fn plan_preview(
    State(hoe): State<Arc<Hoe>>,
    headers: HeaderMap,
    Path(uuid): Path<String>,
    body: Bytes,
) -> Result<Response, HoeError> {
    let ctx = project(&hoe, &headers).await?;
    let req: UpdateObject = if body.is_empty() {
        UpdateObject::default()
    } else {
        json_body(&body)?
    };
    let plan = hoe.plan_preview(&ctx, &uuid, req).await?;
    Ok(Json(plan).into_response())
}

async fn logs(
    State(hoe): State<Arc<Hoe>>,
    headers: HeaderMap,
    Path(uuid): Path<String>,
) -> Result<Response, HoeError> {
    let ctx = project(&hoe, &headers).await?;
    let lines = hoe.logs(&ctx, &uuid).await?;
    Ok(Json(lines).into_response())
}
