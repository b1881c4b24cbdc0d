//! VM-SDF services of the server (seed 004): the catalog document, and for each VM a private
//! KV store, one-time tokens (OTA) that unlock it, and log storage.
//!
//! | request | who | answer |
//! |---|---|---|
//! | `GET /sdf/v1/catalog` | anyone | the catalog YAML (`vitrina sdf build`), `Cache-Control: no-store` |
//! | `POST /sdf/v1/vms` `{"vm"}` | engine | 201 (200 when it existed: new credentials) `{"vm","kvs":{"endpoint","name","secret"},"owner":{…}}` |
//! | `PUT /sdf/v1/vms/{vm}/config` JSON | engine | 204: the value flattened to `a.b.c` keys and written |
//! | `POST /sdf/v1/vms/{vm}/ota` `{"ttl_seconds"}` | engine | 201 `{"endpoint","token","expires_at"}`: a new VM secret, sealed in the token |
//! | `DELETE /sdf/v1/vms/{vm}` | engine | 204; 404 |
//! | `POST /sdf/v1/ota/redeem` `{"token"}` | anyone | 200 `{"endpoint","name","secret"}` once; 410 after (logged); 404 unknown |
//! | `GET /sdf/v1/kv/{name}` | VM or owner | 200 `{"values":{key: value}}` |
//! | `GET /sdf/v1/kv/{name}/{key}` | VM or owner | 200 the value; 404 |
//! | `PUT /sdf/v1/kv/{name}/{key}` JSON | VM | 204; 403 for the owner |
//! | `POST /sdf/v1/logs/{name}` `{"lines":[{"level","message"}]}` | VM | 204 |
//! | `GET /sdf/v1/logs/{name}?after=N` | VM or owner | 200 `[{"seq","level","src","message","created_at"}]` |
//!
//! KV credentials are `Authorization: Bearer <secret>`, valid for their own store only: any other
//! store answers 404, as if it did not exist. Values and log lines are sealed at rest; secrets
//! are kept as SHA-256 hashes.

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use vitrina_agent_api::wire::ErrorBody;

use crate::app::{Actor, ConfigService};
use crate::crypto::{new_token, token_hash};
use crate::error::ServerError;
use crate::json_errors::JsonBody;
use crate::store::now_ms;
use crate::store::sdf::{KvRole, KvStoreRow, Redeemed};

/// Longest key of a KV store, and the most bytes of one value (JSON).
pub const MAX_KEY: usize = 256;
pub const MAX_VALUE_BYTES: usize = 64 * 1024;
/// Most lines in one log upload, and the most bytes of one line.
pub const MAX_LOG_LINES: usize = 1000;
pub const MAX_LOG_LINE: usize = 8 * 1024;
/// A one-time token lives this long unless asked otherwise, and never longer than the max.
pub const DEFAULT_OTA_TTL_SECS: i64 = 600;
pub const MAX_OTA_TTL_SECS: i64 = 24 * 3600;

#[derive(Clone)]
pub struct SdfState {
    pub service: Arc<ConfigService>,
    /// The catalog file `GET /sdf/v1/catalog` serves (read on each request).
    pub catalog: Option<PathBuf>,
    /// The server's URL (`http://ADDR`); VMs get the agent URL when there is one.
    pub base_url: String,
}

impl SdfState {
    fn public_url(&self) -> String {
        self.service
            .agent_url()
            .unwrap_or_else(|| self.base_url.clone())
    }
}

/// The VM-SDF services' paths for the OpenAPI document (the table at the top of this file).
pub fn openapi_paths() -> serde_json::Value {
    use serde_json::json;
    let err = |d: &str| json!({"description": d, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    let body = |schema: serde_json::Value| json!({"required": true, "content": {"application/json": {"schema": schema}}});
    let creds = json!({"type": "object", "properties": {"endpoint": {"type": "string"}, "name": {"type": "string"}, "secret": {"type": "string"}}});
    let engine = json!([{"engineToken": []}]);
    let kv = json!([{"kvBearer": []}]);
    json!({
        "/sdf/v1/catalog": {"get": {"operationId": "sdf_catalog", "tags": ["vm-sdf"],
            "summary": "The VM-SDF catalog document (`vitrina sdf build`), served with `Cache-Control: no-store`",
            "responses": {"200": {"description": "the catalog", "content": {"application/yaml": {"schema": {"type": "string"}}}}, "404": err("no catalog configured")}}},
        "/sdf/v1/vms": {"post": {"operationId": "sdf_vm_create", "tags": ["vm-sdf"], "summary": "Create a VM's private KV store (or give it new credentials)",
            "security": engine, "requestBody": body(json!({"type": "object", "required": ["vm"], "properties": {"vm": {"type": "string"}}})),
            "responses": {"201": {"description": "created: the VM's and the owner's credentials"}, "200": {"description": "existed: new credentials"}, "401": err("not the engine")}}},
        "/sdf/v1/vms/{vm}": {"delete": {"operationId": "sdf_vm_delete", "tags": ["vm-sdf"], "summary": "Delete a VM's store, tokens and logs",
            "security": engine, "responses": {"204": {"description": "deleted"}, "401": err("not the engine"), "404": err("no such VM")}}},
        "/sdf/v1/vms/{vm}/config": {"put": {"operationId": "sdf_vm_config", "tags": ["vm-sdf"], "summary": "Write a JSON value into the VM's store, flattened to `a.b.c` keys",
            "security": engine, "requestBody": body(json!({})), "responses": {"204": {"description": "written"}, "400": err("too large or not JSON"), "401": err("not the engine"), "404": err("no such VM")}}},
        "/sdf/v1/vms/{vm}/ota": {"post": {"operationId": "sdf_vm_ota", "tags": ["vm-sdf"], "summary": "A one-time token that unlocks the VM's store once",
            "security": engine, "requestBody": body(json!({"type": "object", "properties": {"ttl_seconds": {"type": "integer", "minimum": 1, "maximum": MAX_OTA_TTL_SECS}}})),
            "responses": {"201": {"description": "the token", "content": {"application/json": {"schema": {"type": "object", "properties": {"endpoint": {"type": "string"}, "token": {"type": "string"}, "expires_at": {"type": "integer"}}}}}}, "401": err("not the engine"), "404": err("no such VM")}}},
        "/sdf/v1/ota/redeem": {"post": {"operationId": "sdf_ota_redeem", "tags": ["vm-sdf"], "summary": "Redeem a one-time token for the store's credentials (once; a replay is refused and logged)",
            "requestBody": body(json!({"type": "object", "required": ["token"], "properties": {"token": {"type": "string"}}})),
            "responses": {"200": {"description": "the credentials", "content": {"application/json": {"schema": creds}}}, "404": err("unknown token"), "410": err("already redeemed or expired")}}},
        "/sdf/v1/kv/{name}": {"get": {"operationId": "sdf_kv_all", "tags": ["vm-sdf"], "summary": "Every key of a store",
            "security": kv, "responses": {"200": {"description": "`{\"values\": {key: value}}`"}, "401": err("no credential"), "404": err("not found (or not this credential's store)")}}},
        "/sdf/v1/kv/{name}/{key}": {
            "get": {"operationId": "sdf_kv_get", "tags": ["vm-sdf"], "summary": "One value of a store",
                "security": kv, "responses": {"200": {"description": "the value (JSON)"}, "401": err("no credential"), "404": err("not found")}},
            "put": {"operationId": "sdf_kv_put", "tags": ["vm-sdf"], "summary": "Write one value (the VM's credential only)",
                "security": kv, "requestBody": body(json!({})), "responses": {"204": {"description": "written"}, "400": err("too large"), "401": err("no credential"), "403": err("the owner reads only"), "404": err("not found")}}},
        "/sdf/v1/logs/{name}": {
            "get": {"operationId": "sdf_logs_read", "tags": ["vm-sdf"], "summary": "A VM's log lines after `after`",
                "security": kv, "parameters": [{"name": "after", "in": "query", "schema": {"type": "integer"}}],
                "responses": {"200": {"description": "`[{seq, level, src, message, created_at}]`"}, "401": err("no credential"), "404": err("not found")}},
            "post": {"operationId": "sdf_logs_append", "tags": ["vm-sdf"], "summary": "Append log lines (the VM's credential)",
                "security": kv, "requestBody": body(json!({"type": "object", "required": ["lines"], "properties": {"lines": {"type": "array", "maxItems": MAX_LOG_LINES, "items": {"type": "object", "properties": {"level": {"type": "string"}, "message": {"type": "string"}}}}}})),
                "responses": {"204": {"description": "appended"}, "400": err("too many or too long lines"), "401": err("no credential"), "404": err("not found")}}}
    })
}

pub fn routes(state: SdfState) -> Router {
    Router::new()
        .route("/sdf/v1/catalog", get(catalog))
        .route("/sdf/v1/vms", post(create_vm))
        .route("/sdf/v1/vms/{vm}", axum::routing::delete(delete_vm))
        .route("/sdf/v1/vms/{vm}/config", put(put_config))
        .route("/sdf/v1/vms/{vm}/ota", post(create_ota))
        .route("/sdf/v1/ota/redeem", post(redeem))
        .route("/sdf/v1/kv/{name}", get(kv_all))
        .route("/sdf/v1/kv/{name}/{key}", get(kv_get).put(kv_put))
        .route("/sdf/v1/logs/{name}", get(logs_read).post(logs_append))
        .with_state(state)
}

/// What a handler answers when it fails.
#[derive(Debug)]
pub enum Failure {
    Server(ServerError),
    /// Known caller, not allowed (the owner writing).
    Forbidden(String),
    /// A one-time token that was redeemed before or expired.
    Gone(String),
}

impl From<ServerError> for Failure {
    fn from(e: ServerError) -> Self {
        Failure::Server(e)
    }
}

impl From<crate::store::StoreError> for Failure {
    fn from(e: crate::store::StoreError) -> Self {
        Failure::Server(e.into())
    }
}

impl From<crate::crypto::CryptoError> for Failure {
    fn from(e: crate::crypto::CryptoError) -> Self {
        Failure::Server(e.into())
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let (status, error) = match self {
            Failure::Server(e) => return e.into_response(),
            Failure::Forbidden(m) => (StatusCode::FORBIDDEN, m),
            Failure::Gone(m) => (StatusCode::GONE, m),
        };
        (status, Json(ErrorBody { error })).into_response()
    }
}

type Answer<T> = Result<T, Failure>;

fn bearer(headers: &HeaderMap) -> Result<&str, ServerError> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(ServerError::Unauthenticated)
}

/// A JSON body, read after the caller is known (so an anonymous caller always gets 401).
fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ServerError> {
    serde_json::from_slice(body).map_err(|e| {
        ServerError::Invalid(format!(
            "bad JSON body: {}",
            crate::json_errors::json_error(&e)
        ))
    })
}

async fn engine(state: &SdfState, headers: &HeaderMap) -> Result<(), ServerError> {
    match state.service.authenticate(bearer(headers)?).await? {
        Actor::Engine => Ok(()),
        Actor::Agent { .. } => Err(ServerError::Unauthenticated),
    }
}

/// The store a KV credential opens; any other store is "not found".
async fn kv_caller(
    state: &SdfState,
    headers: &HeaderMap,
    name: &str,
) -> Result<(KvStoreRow, KvRole), ServerError> {
    let secret = bearer(headers)?;
    state
        .service
        .store
        .sdf_kv_authorize(name, &token_hash(secret))
        .await?
        .ok_or_else(|| ServerError::NotFound(format!("KV store {name}")))
}

fn check_vm(vm: &str) -> Result<(), ServerError> {
    let ok = !vm.is_empty()
        && vm.len() <= 128
        && vm
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(ServerError::Invalid(
            "a VM id has 1 to 128 letters, digits, `-`, `_` or `.`".into(),
        ))
    }
}

fn check_key(key: &str) -> Result<(), ServerError> {
    let ok = !key.is_empty()
        && key.len() <= MAX_KEY
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(ServerError::Invalid(format!(
            "a key has 1 to {MAX_KEY} letters, digits, `-`, `_` or `.`"
        )))
    }
}

fn kv_place(vm: &str, key: &str) -> String {
    format!("sdf-kv/{vm}/{key}")
}

fn seal_value(
    state: &SdfState,
    vm: &str,
    key: &str,
    value: &serde_json::Value,
) -> Result<String, Failure> {
    let text = serde_json::to_vec(value)
        .map_err(|e| ServerError::internal(format!("encode value: {e}")))?;
    if text.len() > MAX_VALUE_BYTES {
        return Err(ServerError::Invalid(format!(
            "`{key}`: a value has at most {MAX_VALUE_BYTES} bytes of JSON"
        ))
        .into());
    }
    Ok(state.service.sealer.seal(&kv_place(vm, key), &text)?)
}

fn open_value(state: &SdfState, vm: &str, key: &str, sealed: &str) -> Answer<serde_json::Value> {
    let bytes = state.service.sealer.open(&kv_place(vm, key), sealed)?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ServerError::internal(format!("stored value of {key}: {e}")).into())
}

/// A JSON value as `a.b.c` keys (list items by index); empty objects and lists, scalars and
/// nulls are leaves.
pub fn flatten(value: &serde_json::Value) -> Vec<(String, serde_json::Value)> {
    fn walk(v: &serde_json::Value, prefix: &str, out: &mut Vec<(String, serde_json::Value)>) {
        let join = |k: &str| {
            if prefix.is_empty() {
                k.to_owned()
            } else {
                format!("{prefix}.{k}")
            }
        };
        match v {
            serde_json::Value::Object(m) if !m.is_empty() => {
                for (k, val) in m {
                    walk(val, &join(k), out);
                }
            }
            serde_json::Value::Array(items) if !items.is_empty() => {
                for (i, val) in items.iter().enumerate() {
                    walk(val, &join(&i.to_string()), out);
                }
            }
            leaf => out.push((prefix.to_owned(), leaf.clone())),
        }
    }
    let mut out = Vec::new();
    walk(value, "", &mut out);
    out
}

async fn catalog(State(state): State<SdfState>) -> Answer<Response> {
    let Some(path) = &state.catalog else {
        return Err(ServerError::NotFound(
            "no VM-SDF catalog (start with `--sdf-catalog FILE`)".into(),
        )
        .into());
    };
    let text = tokio::fs::read(path).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            ServerError::NotFound("the VM-SDF catalog file".into())
        } else {
            ServerError::internal(format!("read {}: {e}", path.display()))
        }
    })?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/yaml; charset=utf-8"),
            // The seed: the catalog is read without caching so that an update shows at once.
            (header::CACHE_CONTROL, "no-store"),
        ],
        text,
    )
        .into_response())
}

#[derive(Deserialize)]
struct CreateVm {
    vm: String,
}

/// Credentials of one store: what USERDATA (`kvs` mode) or an OTA redemption hands out.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct KvCredentials {
    pub endpoint: String,
    pub name: String,
    pub secret: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct CreatedVm {
    pub vm: String,
    pub kvs: KvCredentials,
    pub owner: KvCredentials,
}

async fn create_vm(
    State(state): State<SdfState>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer<Response> {
    engine(&state, &headers).await?;
    let body: CreateVm = json_body(&body)?;
    let (answer, created) = state.open_store(&body.vm).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(answer)).into_response())
}

impl SdfState {
    /// Creates the VM's store (`true`), or gives the existing one new credentials (`false`).
    pub(crate) async fn open_store(&self, vm: &str) -> Answer<(CreatedVm, bool)> {
        check_vm(vm)?;
        let store = &self.service.store;
        let vm_secret = new_token("vkv_");
        let owner_secret = new_token("vko_");
        let name = uuid::Uuid::new_v4().to_string();
        let created = store
            .sdf_kv_create(
                vm,
                &name,
                &token_hash(&vm_secret),
                &token_hash(&owner_secret),
            )
            .await?;
        if !created {
            store
                .sdf_kv_rotate(vm, &token_hash(&vm_secret), &token_hash(&owner_secret))
                .await?;
        }
        let row = store
            .sdf_kv_store(vm)
            .await?
            .ok_or_else(|| ServerError::internal("KV store vanished"))?;
        let endpoint = format!("{}/sdf/v1/kv/", self.public_url());
        let answer = CreatedVm {
            vm: vm.to_owned(),
            kvs: KvCredentials {
                endpoint: endpoint.clone(),
                name: row.name.clone(),
                secret: vm_secret,
            },
            owner: KvCredentials {
                endpoint,
                name: row.name,
                secret: owner_secret,
            },
        };
        Ok((answer, created))
    }

    /// Writes a configuration into the VM's store, flattened to `a.b.c` keys.
    pub(crate) async fn write_config(&self, vm: &str, value: &serde_json::Value) -> Answer<()> {
        vm_store(self, vm).await?;
        if !value.is_object() {
            return Err(ServerError::Invalid("the configuration is a JSON object".into()).into());
        }
        write_pairs(self, vm, flatten(value)).await
    }

    /// One key of the VM's store.
    pub(crate) async fn read_key(&self, vm: &str, key: &str) -> Answer<Option<serde_json::Value>> {
        match self.service.store.sdf_kv_get(vm, key).await? {
            Some(sealed) => Ok(Some(open_value(self, vm, key, &sealed)?)),
            None => Ok(None),
        }
    }

    /// A new one-time token for the VM's store (the VM's old secret stops working).
    pub(crate) async fn issue_ota(&self, vm: &str, ttl: i64) -> Answer<OtaToken> {
        let row = vm_store(self, vm).await?;
        if !(1..=MAX_OTA_TTL_SECS).contains(&ttl) {
            return Err(
                ServerError::Invalid(format!("`ttl_seconds` is 1 to {MAX_OTA_TTL_SECS}")).into(),
            );
        }
        // The VM's secret exists only inside the token: a new one replaces the old.
        let store = &self.service.store;
        let vm_secret = new_token("vkv_");
        store
            .sdf_kv_set_vm_secret(vm, &token_hash(&vm_secret))
            .await?;
        let token = new_token("vot_");
        let creds = KvCredentials {
            endpoint: format!("{}/sdf/v1/kv/", self.public_url()),
            name: row.name,
            secret: vm_secret,
        };
        let sealed = self
            .service
            .sealer
            .seal_json(&format!("sdf-ota/{vm}"), &creds)?;
        let expires_at = now_ms().saturating_add(ttl.saturating_mul(1000));
        store
            .sdf_ota_create(&token_hash(&token), vm, &sealed, expires_at)
            .await?;
        Ok(OtaToken {
            endpoint: format!("{}/sdf/v1/ota/redeem", self.public_url()),
            token,
            expires_at,
        })
    }

    /// Removes the VM's store, tokens and logs (`false` when there was none).
    pub(crate) async fn remove(&self, vm: &str) -> Answer<bool> {
        Ok(self.service.store.sdf_vm_delete(vm).await?)
    }
}

async fn delete_vm(
    State(state): State<SdfState>,
    headers: HeaderMap,
    Path(vm): Path<String>,
) -> Answer<StatusCode> {
    engine(&state, &headers).await?;
    if state.service.store.sdf_vm_delete(&vm).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ServerError::NotFound(format!("VM {vm}")).into())
    }
}

async fn vm_store(state: &SdfState, vm: &str) -> Result<KvStoreRow, ServerError> {
    state
        .service
        .store
        .sdf_kv_store(vm)
        .await?
        .ok_or_else(|| ServerError::NotFound(format!("VM {vm}")))
}

async fn write_pairs(
    state: &SdfState,
    vm: &str,
    pairs: Vec<(String, serde_json::Value)>,
) -> Answer<()> {
    let mut sealed = Vec::with_capacity(pairs.len());
    for (k, v) in pairs {
        check_key(&k)?;
        sealed.push((k.clone(), seal_value(state, vm, &k, &v)?));
    }
    state.service.store.sdf_kv_put(vm, &sealed).await?;
    Ok(())
}

async fn put_config(
    State(state): State<SdfState>,
    headers: HeaderMap,
    Path(vm): Path<String>,
    value: Bytes,
) -> Answer<StatusCode> {
    engine(&state, &headers).await?;
    let value: serde_json::Value = json_body(&value)?;
    state.write_config(&vm, &value).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, Default)]
struct CreateOta {
    #[serde(default)]
    ttl_seconds: Option<i64>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct OtaToken {
    pub endpoint: String,
    pub token: String,
    /// Unix milliseconds.
    pub expires_at: i64,
}

async fn create_ota(
    State(state): State<SdfState>,
    headers: HeaderMap,
    Path(vm): Path<String>,
    body: Bytes,
) -> Answer<Response> {
    engine(&state, &headers).await?;
    // An empty body asks for the default lifetime.
    let body: Option<CreateOta> = if body.is_empty() {
        None
    } else {
        Some(json_body(&body)?)
    };
    let ttl = body
        .and_then(|b| b.ttl_seconds)
        .unwrap_or(DEFAULT_OTA_TTL_SECS);
    let token = state.issue_ota(&vm, ttl).await?;
    Ok((StatusCode::CREATED, Json(token)).into_response())
}

#[derive(Deserialize)]
struct Redeem {
    token: String,
}

async fn redeem(
    State(state): State<SdfState>,
    JsonBody(body): JsonBody<Redeem>,
) -> Answer<Json<KvCredentials>> {
    let store = &state.service.store;
    match store.sdf_ota_redeem(&token_hash(body.token.trim())).await? {
        Redeemed::Fresh { vm, secret_sealed } => {
            let creds: KvCredentials = state
                .service
                .sealer
                .open_json(&format!("sdf-ota/{vm}"), &secret_sealed)?;
            log_line(
                &state,
                &vm,
                "info",
                "ota",
                "the one-time token was redeemed",
            )
            .await;
            Ok(Json(creds))
        }
        Redeemed::Spent { vm, redeemed_at } => {
            tracing::warn!(%vm, redeemed_at, "a one-time token was presented again after its redemption: refused");
            log_line(
                &state,
                &vm,
                "warning",
                "ota",
                "a one-time token was presented again after its redemption: refused",
            )
            .await;
            Err(Failure::Gone(
                "this one-time token was already redeemed".into(),
            ))
        }
        Redeemed::Expired { vm } => {
            tracing::warn!(%vm, "an expired one-time token was presented: refused");
            log_line(
                &state,
                &vm,
                "warning",
                "ota",
                "an expired one-time token was presented: refused",
            )
            .await;
            Err(Failure::Gone("this one-time token has expired".into()))
        }
        Redeemed::Unknown => Err(ServerError::NotFound("one-time token".into()).into()),
    }
}

/// Appends one line to a VM's log; a failure to log is itself only logged.
async fn log_line(state: &SdfState, vm: &str, level: &str, src: &str, message: &str) {
    let sealed = match state
        .service
        .sealer
        .seal(&format!("sdf-log/{vm}"), message.as_bytes())
    {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(%vm, error = %e, "cannot seal a log line");
            return;
        }
    };
    if let Err(e) = state
        .service
        .store
        .sdf_log_append(vm, &[(level.to_owned(), src.to_owned(), sealed)])
        .await
    {
        tracing::error!(%vm, error = %e, "cannot store a log line");
    }
}

#[derive(Serialize)]
struct AllValues {
    values: serde_json::Map<String, serde_json::Value>,
}

async fn kv_all(
    State(state): State<SdfState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Answer<Json<AllValues>> {
    let (row, _) = kv_caller(&state, &headers, &name).await?;
    let mut values = serde_json::Map::new();
    for (k, sealed) in state.service.store.sdf_kv_all(&row.vm).await? {
        let v = open_value(&state, &row.vm, &k, &sealed)?;
        values.insert(k, v);
    }
    Ok(Json(AllValues { values }))
}

async fn kv_get(
    State(state): State<SdfState>,
    headers: HeaderMap,
    Path((name, key)): Path<(String, String)>,
) -> Answer<Json<serde_json::Value>> {
    let (row, _) = kv_caller(&state, &headers, &name).await?;
    let sealed = state
        .service
        .store
        .sdf_kv_get(&row.vm, &key)
        .await?
        .ok_or_else(|| ServerError::NotFound(format!("key {key}")))?;
    Ok(Json(open_value(&state, &row.vm, &key, &sealed)?))
}

async fn kv_put(
    State(state): State<SdfState>,
    headers: HeaderMap,
    Path((name, key)): Path<(String, String)>,
    value: Bytes,
) -> Answer<StatusCode> {
    let (row, role) = kv_caller(&state, &headers, &name).await?;
    let value: serde_json::Value = json_body(&value)?;
    if role != KvRole::Vm {
        return Err(Failure::Forbidden(
            "the owner's credential reads this store; only its VM writes".into(),
        ));
    }
    write_pairs(&state, &row.vm, vec![(key, value)]).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct LogUpload {
    lines: Vec<LogLineIn>,
}

#[derive(Deserialize)]
struct LogLineIn {
    #[serde(default)]
    level: Option<String>,
    message: String,
}

async fn logs_append(
    State(state): State<SdfState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Bytes,
) -> Answer<StatusCode> {
    let (row, role) = kv_caller(&state, &headers, &name).await?;
    let body: LogUpload = json_body(&body)?;
    if role != KvRole::Vm {
        return Err(Failure::Forbidden("only the VM writes its log".into()));
    }
    if body.lines.len() > MAX_LOG_LINES {
        return Err(ServerError::Invalid(format!("at most {MAX_LOG_LINES} lines at once")).into());
    }
    let mut lines = Vec::with_capacity(body.lines.len());
    for l in body.lines {
        if l.message.len() > MAX_LOG_LINE {
            return Err(
                ServerError::Invalid(format!("a line has at most {MAX_LOG_LINE} bytes")).into(),
            );
        }
        let level = match l.level.as_deref() {
            None => "info",
            Some(lv @ ("debug" | "info" | "warning" | "error")) => lv,
            Some(_) => {
                return Err(
                    ServerError::Invalid("`level` is debug, info, warning or error".into()).into(),
                )
            }
        };
        let sealed = state
            .service
            .sealer
            .seal(&format!("sdf-log/{}", row.vm), l.message.as_bytes())?;
        lines.push((level.to_owned(), "vm".to_owned(), sealed));
    }
    state.service.store.sdf_log_append(&row.vm, &lines).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct LogQuery {
    #[serde(default)]
    after: i64,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub seq: i64,
    pub level: String,
    pub src: String,
    pub message: String,
    pub created_at: i64,
}

async fn logs_read(
    State(state): State<SdfState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(q): Query<LogQuery>,
) -> Answer<Json<Vec<LogLine>>> {
    let (row, _) = kv_caller(&state, &headers, &name).await?;
    let rows = state.service.store.sdf_logs(&row.vm, q.after, 1000).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let message = state
            .service
            .sealer
            .open(&format!("sdf-log/{}", row.vm), &r.message_sealed)?;
        out.push(LogLine {
            seq: r.seq,
            level: r.level,
            src: r.src,
            message: String::from_utf8_lossy(&message).into_owned(),
            created_at: r.created_at,
        });
    }
    Ok(Json(out))
}
