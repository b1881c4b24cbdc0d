//! OSB wire types: the API version header, request bodies (unknown fields ignored, empty
//! strings and empty objects treated as absent), and the error body with its status.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value};

/// `X-Broker-API-Version`: the versions this broker speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ApiVersion {
    pub major: u32,
    pub minor: u32,
}

impl ApiVersion {
    pub const MIN: ApiVersion = ApiVersion {
        major: 2,
        minor: 13,
    };
    pub const MAX: ApiVersion = ApiVersion {
        major: 2,
        minor: 17,
    };

    /// Parses `MAJOR.MINOR`; `None` when missing, empty, malformed or outside 2.13–2.17.
    pub fn parse(header: Option<&HeaderValue>) -> Option<ApiVersion> {
        let text = header?.to_str().ok()?.trim();
        let (major, minor) = text.split_once('.')?;
        let v = ApiVersion {
            major: major.parse().ok()?,
            minor: minor.parse().ok()?,
        };
        (ApiVersion::MIN..=ApiVersion::MAX)
            .contains(&v)
            .then_some(v)
    }

    pub fn at_least(self, major: u32, minor: u32) -> bool {
        self >= ApiVersion { major, minor }
    }
}

/// A failure as OSB shows it: a status and `{"error", "description", …}`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{status}: {description}")]
pub struct OsbError {
    pub status: StatusCode,
    pub code: Option<&'static str>,
    pub description: String,
    pub instance_usable: Option<bool>,
    pub update_repeatable: Option<bool>,
}

impl OsbError {
    fn new(status: StatusCode, code: Option<&'static str>, description: impl Into<String>) -> Self {
        OsbError {
            status,
            code,
            description: description.into(),
            instance_usable: None,
            update_repeatable: None,
        }
    }

    pub fn bad_request(description: impl Into<String>) -> Self {
        OsbError::new(StatusCode::BAD_REQUEST, None, description)
    }

    pub fn conflict(description: impl Into<String>) -> Self {
        OsbError::new(StatusCode::CONFLICT, None, description)
    }

    pub fn not_found(description: impl Into<String>) -> Self {
        OsbError::new(StatusCode::NOT_FOUND, None, description)
    }

    pub fn gone() -> Self {
        OsbError::new(StatusCode::GONE, None, "")
    }

    pub fn async_required() -> Self {
        OsbError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("AsyncRequired"),
            "this operation runs asynchronously: send `accepts_incomplete=true`",
        )
    }

    pub fn concurrency(description: impl Into<String>) -> Self {
        OsbError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("ConcurrencyError"),
            description,
        )
    }

    pub fn maintenance_conflict(description: impl Into<String>) -> Self {
        OsbError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("MaintenanceInfoConflict"),
            description,
        )
    }

    /// An update the broker cannot make (the instance stays as it was).
    pub fn unprocessable(code: &'static str, description: impl Into<String>) -> Self {
        let mut e = OsbError::new(StatusCode::UNPROCESSABLE_ENTITY, Some(code), description);
        e.instance_usable = Some(true);
        e
    }

    pub fn unauthorized() -> Self {
        OsbError::new(
            StatusCode::UNAUTHORIZED,
            None,
            "HTTP Basic authentication with a broker account is required",
        )
    }

    pub fn precondition(description: impl Into<String>) -> Self {
        OsbError::new(StatusCode::PRECONDITION_FAILED, None, description)
    }

    pub fn unavailable(description: impl Into<String>) -> Self {
        OsbError::new(StatusCode::SERVICE_UNAVAILABLE, None, description)
    }

    /// A bug or a broken store: logged with `context`, the client sees a generic text.
    pub fn internal(context: impl std::fmt::Display) -> Self {
        tracing::error!(%context, "osb: internal error");
        OsbError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            "internal error of the broker",
        )
    }
}

impl From<crate::ServerError> for OsbError {
    fn from(e: crate::ServerError) -> Self {
        use crate::ServerError as S;
        match e {
            S::NotFound(m) => OsbError::not_found(m),
            S::Invalid(m) => OsbError::bad_request(m),
            S::Unauthenticated => OsbError::unauthorized(),
            S::Conflict(m) => OsbError::conflict(m),
            S::Unavailable(m) => OsbError::unavailable(m),
            S::Internal { context } => OsbError::internal(context),
        }
    }
}

impl From<crate::store::StoreError> for OsbError {
    fn from(e: crate::store::StoreError) -> Self {
        OsbError::from(crate::ServerError::from(e))
    }
}

impl From<crate::crypto::CryptoError> for OsbError {
    fn from(e: crate::crypto::CryptoError) -> Self {
        OsbError::internal(e)
    }
}

impl IntoResponse for OsbError {
    fn into_response(self) -> Response {
        let mut body = Map::new();
        if let Some(code) = self.code {
            body.insert("error".into(), code.into());
        }
        if !self.description.is_empty() {
            body.insert("description".into(), self.description.into());
        }
        if let Some(u) = self.instance_usable {
            body.insert("instance_usable".into(), u.into());
        }
        if let Some(u) = self.update_repeatable {
            body.insert("update_repeatable".into(), u.into());
        }
        (self.status, axum::Json(Value::Object(body))).into_response()
    }
}

/// A required string: missing and `""` are the same (the checkers send both).
pub fn required(v: &Option<String>, name: &str) -> Result<String, OsbError> {
    match v.as_deref().map(str::trim) {
        Some(s) if !s.is_empty() => Ok(s.to_owned()),
        _ => Err(OsbError::bad_request(format!("`{name}` is required"))),
    }
}

/// `maintenance_info`: only `version` counts; `{}` is absent.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MaintenanceInfo {
    #[serde(default)]
    pub version: Option<String>,
}

impl MaintenanceInfo {
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref().filter(|v| !v.trim().is_empty())
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProvisionRequest {
    #[serde(default)]
    pub service_id: Option<String>,
    #[serde(default)]
    pub plan_id: Option<String>,
    #[serde(default)]
    pub organization_guid: Option<String>,
    #[serde(default)]
    pub space_guid: Option<String>,
    #[serde(default)]
    pub context: Option<Value>,
    #[serde(default)]
    pub parameters: Option<Value>,
    #[serde(default)]
    pub maintenance_info: Option<MaintenanceInfo>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PreviousValues {
    #[serde(default)]
    pub plan_id: Option<String>,
    #[serde(default)]
    pub maintenance_info: Option<MaintenanceInfo>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct UpdateRequest {
    #[serde(default)]
    pub service_id: Option<String>,
    #[serde(default)]
    pub plan_id: Option<String>,
    #[serde(default)]
    pub context: Option<Value>,
    #[serde(default)]
    pub parameters: Option<Value>,
    #[serde(default)]
    pub previous_values: Option<PreviousValues>,
    #[serde(default)]
    pub maintenance_info: Option<MaintenanceInfo>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct BindRequest {
    #[serde(default)]
    pub service_id: Option<String>,
    #[serde(default)]
    pub plan_id: Option<String>,
    #[serde(default)]
    pub context: Option<Value>,
    #[serde(default)]
    pub parameters: Option<Value>,
    #[serde(default)]
    pub app_guid: Option<String>,
    #[serde(default)]
    pub bind_resource: Option<Value>,
    #[serde(default)]
    pub predecessor_binding_id: Option<String>,
}

/// Parses a JSON object body; anything else is 400.
pub fn parse_body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, OsbError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(OsbError::bad_request(
            "the request needs a JSON object body",
        ));
    }
    let v: Value = serde_json::from_slice(bytes).map_err(|e| {
        OsbError::bad_request(format!(
            "the body is not JSON: {}",
            crate::json_errors::json_error(&e)
        ))
    })?;
    if !v.is_object() {
        return Err(OsbError::bad_request("the body must be a JSON object"));
    }
    serde_json::from_value(v).map_err(|e| {
        OsbError::bad_request(format!(
            "malformed body: {}",
            crate::json_errors::json_error(&e)
        ))
    })
}

/// `parameters`: absent, `null` or an object.
pub fn parameters_of(v: &Option<Value>) -> Result<Option<Map<String, Value>>, OsbError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m.clone())),
        Some(_) => Err(OsbError::bad_request("`parameters` must be an object")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        let h = |s: &str| HeaderValue::from_str(s).ok();
        assert_eq!(
            ApiVersion::parse(h("2.17").as_ref()),
            Some(ApiVersion {
                major: 2,
                minor: 17
            })
        );
        assert!(ApiVersion::parse(h("2.13").as_ref()).is_some());
        assert!(ApiVersion::parse(h("2.12").as_ref()).is_none());
        assert!(ApiVersion::parse(h("3.0").as_ref()).is_none());
        assert!(ApiVersion::parse(h("").as_ref()).is_none());
        assert!(ApiVersion::parse(h("2").as_ref()).is_none());
        assert!(ApiVersion::parse(None).is_none());
    }
}
