//! Script tokens for `ivkcs_user_data`'s `token_file_path` / `token_rotate`: the agent asks for
//! its host's token and writes it where the vendor's scripts read it; with `token_rotate` the
//! token is replaced once it is older than the rotation period, and the previous one is refused
//! after the grace period. A script token opens only `GET /agent/v1/auth/key` (VK's
//! `auth/key`). Bodies: `vitrina_agent_api::script_token`.

use std::time::Duration;

use axum::extract::{FromRequestParts, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::routing::{get, post};
use axum::{Json, Router};
use vitrina_agent_api::script_token::{AuthKey, ScriptToken, ScriptTokenRequest, AUTH_KEY_PATH};
use vitrina_common::{DeploymentId, HostName, Secret};

use crate::app::{Actor, ConfigService};
use crate::crypto::{new_token, token_hash};
use crate::error::ServerError;
use crate::http::HttpState;
use crate::json_errors::JsonBody;
use crate::store::now_ms;
use crate::store::script_tokens::ScriptTokenRow;

/// How often tokens rotate and how long a replaced one still opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenRotation {
    pub period: Duration,
    pub grace: Duration,
}

impl Default for TokenRotation {
    fn default() -> Self {
        TokenRotation {
            period: Duration::from_secs(24 * 3600),
            grace: Duration::from_secs(3600),
        }
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn place(deployment: &str, host: &str, which: &str) -> String {
    format!("script_token|{deployment}|{host}|{which}")
}

impl ConfigService {
    /// This service's rotation settings (set by [`ConfigService::set_token_rotation`]).
    pub fn token_rotation(&self) -> TokenRotation {
        self.services.token_rotation()
    }

    /// Sets the rotation period and grace of this service (once, at start-up).
    pub fn set_token_rotation(&self, r: TokenRotation) {
        self.services.set_token_rotation(r);
    }

    fn new_script_token(&self, d: &str, h: &str) -> Result<(String, ScriptTokenRow), ServerError> {
        let token = new_token("vts_");
        let row = ScriptTokenRow {
            token_hash: token_hash(&token),
            token_sealed: self
                .sealer
                .seal(&place(d, h, "current"), token.as_bytes())?,
            issued_at: now_ms(),
            prev_hash: None,
            prev_sealed: None,
            prev_until: None,
        };
        Ok((token, row))
    }

    /// The host's script token, made on first call; rotated when `rotate` and it is due.
    pub async fn script_token(
        &self,
        deployment: &DeploymentId,
        host: &HostName,
        rotate: bool,
    ) -> Result<ScriptToken, ServerError> {
        let (d, h) = (deployment.to_string(), host.to_string());
        let r = self.token_rotation();
        let check_every_ms = u64::try_from(ms(r.period) / 4)
            .unwrap_or(1_000)
            .clamp(200, 300_000);
        for _ in 0..5 {
            let current = match self.store.script_token(&d, &h).await? {
                None => {
                    let (token, row) = self.new_script_token(&d, &h)?;
                    if self.store.script_token_insert(&d, &h, &row).await? {
                        return Ok(ScriptToken {
                            token: Secret::new(token),
                            issued_at: row.issued_at,
                            check_every_ms,
                        });
                    }
                    continue;
                }
                Some(c) => c,
            };
            if rotate && now_ms() - current.issued_at >= ms(r.period) {
                let (token, mut row) = self.new_script_token(&d, &h)?;
                let old = self
                    .sealer
                    .open(&place(&d, &h, "current"), &current.token_sealed)?;
                row.prev_hash = Some(current.token_hash.clone());
                row.prev_sealed = Some(self.sealer.seal(&place(&d, &h, "previous"), &old)?);
                row.prev_until = Some(now_ms().saturating_add(ms(r.grace)));
                if self
                    .store
                    .script_token_rotate(&d, &h, &current.token_hash, &row)
                    .await?
                {
                    tracing::info!(deployment = %d, host = %h, "rotated the script token");
                    return Ok(ScriptToken {
                        token: Secret::new(token),
                        issued_at: row.issued_at,
                        check_every_ms,
                    });
                }
                continue;
            }
            let token = self
                .sealer
                .open(&place(&d, &h, "current"), &current.token_sealed)?;
            return Ok(ScriptToken {
                token: Secret::new(
                    String::from_utf8(token)
                        .map_err(|_| ServerError::internal("script token: not UTF-8"))?,
                ),
                issued_at: current.issued_at,
                check_every_ms,
            });
        }
        Err(ServerError::Unavailable(
            "the script token changed under five attempts; try again".into(),
        ))
    }

    /// VK's `auth/key` for a script token: the current key and, within the grace period, the
    /// previous one.
    pub async fn auth_key(&self, token: &str) -> Result<AuthKey, ServerError> {
        if !token.starts_with("vts_") {
            return Err(ServerError::Unauthenticated);
        }
        let now = now_ms();
        let (d, h, row) = self
            .store
            .script_token_owner(&token_hash(token), now)
            .await?
            .ok_or(ServerError::Unauthenticated)?;
        let open = |which: &str, sealed: &str| -> Result<Secret, ServerError> {
            let bytes = self.sealer.open(&place(&d, &h, which), sealed)?;
            Ok(Secret::new(String::from_utf8(bytes).map_err(|_| {
                ServerError::internal("script token: not UTF-8")
            })?))
        };
        let secondary_key = match (&row.prev_sealed, row.prev_until) {
            (Some(s), Some(until)) if until > now => Some(open("previous", s)?),
            _ => None,
        };
        Ok(AuthKey {
            instance_uuid: d.clone(),
            host: h.clone(),
            key: open("current", &row.token_sealed)?,
            secondary_key,
        })
    }
}

fn bearer(parts: &Parts) -> Result<String, ServerError> {
    parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .ok_or(ServerError::Unauthenticated)
}

/// An agent (its own token, not a script token).
struct Agent(DeploymentId, HostName);

impl FromRequestParts<HttpState> for Agent {
    type Rejection = ServerError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &HttpState,
    ) -> Result<Self, Self::Rejection> {
        match state.service.authenticate(&bearer(parts)?).await? {
            Actor::Agent { deployment, host } => Ok(Agent(deployment, host)),
            Actor::Engine => Err(ServerError::Unauthenticated),
        }
    }
}

/// The bearer of a request, read before the body.
struct Bearer(String);

impl FromRequestParts<HttpState> for Bearer {
    type Rejection = ServerError;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &HttpState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Bearer(bearer(parts)?))
    }
}

async fn post_script_token(
    State(s): State<HttpState>,
    Agent(d, h): Agent,
    JsonBody(req): JsonBody<ScriptTokenRequest>,
) -> Result<Json<ScriptToken>, ServerError> {
    Ok(Json(s.service.script_token(&d, &h, req.rotate).await?))
}

async fn get_auth_key(
    State(s): State<HttpState>,
    Bearer(token): Bearer,
) -> Result<Json<AuthKey>, ServerError> {
    Ok(Json(s.service.auth_key(&token).await?))
}

pub fn routes(state: HttpState) -> Router {
    Router::new()
        .route("/agent/v1/script-token", post(post_script_token))
        .route(AUTH_KEY_PATH, get(get_auth_key))
        .with_state(state)
}
