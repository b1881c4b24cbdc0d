//! HTTP handlers of the config service: parse, authenticate, call [`crate::app`], convert.
//! Across deployments and hosts the answer is 404, never 403.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use vitrina_agent_api::paths::MAX_WAIT_MS;
use vitrina_agent_api::wire::*;
use vitrina_common::{DeploymentId, HostName};

use crate::app::{Actor, ConfigService};
use crate::error::ServerError;
use crate::json_errors::JsonBody;

/// Shared state of the config service's handlers.
#[derive(Clone)]
pub struct HttpState {
    pub service: Arc<ConfigService>,
    pub agent_binary: Option<std::path::PathBuf>,
}

async fn authenticate(parts: &Parts, state: &HttpState) -> Result<Actor, ServerError> {
    let token = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(ServerError::Unauthenticated)?;
    state.service.authenticate(token).await
}

/// The engine, authenticated from `Authorization: Bearer …` before any body is read.
pub(crate) struct EngineCaller;

impl FromRequestParts<HttpState> for EngineCaller {
    type Rejection = ServerError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &HttpState,
    ) -> Result<Self, Self::Rejection> {
        match authenticate(parts, state).await? {
            Actor::Engine => Ok(EngineCaller),
            // A valid agent token names no deployment the engine's API would serve.
            Actor::Agent { .. } => Err(ServerError::Unauthenticated),
        }
    }
}

/// An agent: its token decides the deployment and the host.
struct AgentCaller(DeploymentId, HostName);

impl FromRequestParts<HttpState> for AgentCaller {
    type Rejection = ServerError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &HttpState,
    ) -> Result<Self, Self::Rejection> {
        match authenticate(parts, state).await? {
            Actor::Agent { deployment, host } => Ok(AgentCaller(deployment, host)),
            Actor::Engine => Err(ServerError::Unauthenticated),
        }
    }
}

fn deployment(s: &str) -> Result<DeploymentId, ServerError> {
    s.parse()
        .map_err(|e: vitrina_common::IdError| ServerError::Invalid(e.to_string()))
}

fn host(s: &str) -> Result<HostName, ServerError> {
    s.parse()
        .map_err(|e: vitrina_common::IdError| ServerError::Invalid(e.to_string()))
}

/// The config service's routes (engine under `/config/v1`, agents under `/agent/v1`).
pub fn routes(state: HttpState) -> Router {
    Router::new()
        .route("/config/v1/deployments/{d}/hosts/{h}/agent", put(put_agent))
        .route("/config/v1/deployments/{d}/hosts/{h}", get(get_host))
        .route(
            "/config/v1/deployments/{d}/groups/{name}",
            put(put_group).delete(delete_group),
        )
        .route(
            "/config/v1/deployments/{d}/groups/{name}/results",
            get(group_results),
        )
        .route(
            "/config/v1/deployments/{d}/hosts/{h}/groups/{name}/steps/{index}",
            get(step_result),
        )
        .route(
            "/config/v1/deployments/{d}/checks/{name}",
            put(put_checks).delete(delete_checks),
        )
        .route(
            "/config/v1/deployments/{d}/checks/{name}/results",
            get(check_results),
        )
        .route("/agent/v1/register", post(register))
        .route("/agent/v1/heartbeat", post(heartbeat))
        .route("/agent/v1/work", get(work))
        .route("/agent/v1/results", post(report_step))
        .route("/agent/v1/checks", post(report_check))
        .route("/agent/v1/download", get(download))
        .with_state(state)
}

async fn put_agent(
    State(s): State<HttpState>,
    _c: EngineCaller,
    Path((d, h)): Path<(String, String)>,
) -> Result<Json<AgentCredentials>, ServerError> {
    Ok(Json(
        s.service
            .agent_credentials(&deployment(&d)?, &host(&h)?)
            .await?,
    ))
}

async fn get_host(
    State(s): State<HttpState>,
    _c: EngineCaller,
    Path((d, h)): Path<(String, String)>,
) -> Result<Json<HostView>, ServerError> {
    Ok(Json(
        s.service.host_view(&deployment(&d)?, &host(&h)?).await?,
    ))
}

async fn put_group(
    State(s): State<HttpState>,
    _c: EngineCaller,
    Path((d, name)): Path<(String, String)>,
    JsonBody(spec): JsonBody<ExecGroupSpec>,
) -> Result<Json<ExecGroupView>, ServerError> {
    Ok(Json(
        s.service.put_group(&deployment(&d)?, &name, &spec).await?,
    ))
}

async fn delete_group(
    State(s): State<HttpState>,
    _c: EngineCaller,
    Path((d, name)): Path<(String, String)>,
) -> Result<StatusCode, ServerError> {
    s.service.delete_group(&deployment(&d)?, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn group_results(
    State(s): State<HttpState>,
    _c: EngineCaller,
    Path((d, name)): Path<(String, String)>,
) -> Result<Json<GroupResultsView>, ServerError> {
    Ok(Json(
        s.service.group_results(&deployment(&d)?, &name).await?,
    ))
}

async fn step_result(
    State(s): State<HttpState>,
    _c: EngineCaller,
    Path((d, h, name, index)): Path<(String, String, String, i64)>,
) -> Result<Json<StepResultView>, ServerError> {
    Ok(Json(
        s.service
            .step_result(&deployment(&d)?, &host(&h)?, &name, index)
            .await?,
    ))
}

async fn put_checks(
    State(s): State<HttpState>,
    _c: EngineCaller,
    Path((d, name)): Path<(String, String)>,
    JsonBody(spec): JsonBody<CheckSetSpec>,
) -> Result<Json<CheckSetView>, ServerError> {
    Ok(Json(
        s.service.put_checks(&deployment(&d)?, &name, &spec).await?,
    ))
}

async fn delete_checks(
    State(s): State<HttpState>,
    _c: EngineCaller,
    Path((d, name)): Path<(String, String)>,
) -> Result<StatusCode, ServerError> {
    s.service.delete_checks(&deployment(&d)?, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn check_results(
    State(s): State<HttpState>,
    _c: EngineCaller,
    Path((d, name)): Path<(String, String)>,
) -> Result<Json<CheckResultsView>, ServerError> {
    Ok(Json(
        s.service.check_results(&deployment(&d)?, &name).await?,
    ))
}

async fn register(
    State(s): State<HttpState>,
    AgentCaller(d, h): AgentCaller,
    JsonBody(req): JsonBody<RegisterRequest>,
) -> Result<Json<RegisterResponse>, ServerError> {
    Ok(Json(s.service.register(&d, &h, &req).await?))
}

async fn heartbeat(
    State(s): State<HttpState>,
    AgentCaller(d, h): AgentCaller,
    JsonBody(hb): JsonBody<Heartbeat>,
) -> Result<StatusCode, ServerError> {
    s.service.heartbeat(&d, &h, &hb).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(serde::Deserialize)]
struct WorkQuery {
    #[serde(default)]
    known: i64,
    #[serde(default)]
    wait_ms: u64,
}

async fn work(
    State(s): State<HttpState>,
    AgentCaller(d, h): AgentCaller,
    Query(q): Query<WorkQuery>,
) -> Result<Json<Work>, ServerError> {
    let wait = Duration::from_millis(q.wait_ms.min(MAX_WAIT_MS));
    Ok(Json(s.service.work(&d, &h, q.known, wait).await?))
}

async fn report_step(
    State(s): State<HttpState>,
    AgentCaller(d, h): AgentCaller,
    JsonBody(r): JsonBody<StepReport>,
) -> Result<StatusCode, ServerError> {
    s.service.report_step(&d, &h, &r).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn report_check(
    State(s): State<HttpState>,
    AgentCaller(d, h): AgentCaller,
    JsonBody(r): JsonBody<CheckReport>,
) -> Result<StatusCode, ServerError> {
    s.service.report_check(&d, &h, &r).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The `vitrina-agent` binary, for the install script in a VM's user_data.
async fn download(State(s): State<HttpState>, _c: AgentCaller) -> Result<Response, ServerError> {
    let Some(path) = &s.agent_binary else {
        return Err(ServerError::NotFound(format!(
            "this server has no agent binary: start it with `{}` set to a vitrina-agent build",
            vitrina_common::env::AGENT_BINARY
        )));
    };
    // The binary is a few megabytes: read whole, no streaming machinery needed.
    let bytes = tokio::fs::read(path)
        .await
        .map_err(|e| ServerError::Unavailable(format!("agent binary: {e}")))?;
    Ok((
        [(header::CONTENT_TYPE, "application/octet-stream")],
        Body::from(bytes),
    )
        .into_response())
}
