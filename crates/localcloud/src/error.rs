//! One error type for every API localcloud serves, rendered in the body format of the service that
//! raised it (Nova/Cinder `{"badRequest":{…}}`, Neutron `{"NeutronError":{…}}`, Keystone
//! `{"error":{…}}`, Glance's webob HTML page).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The OpenStack service whose error format a response uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Identity,
    Compute,
    Network,
    Volume,
    Image,
}

/// An API error: HTTP meaning, the client's message, and context that only reaches the log.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub service: Service,
    pub status: StatusCode,
    /// Neutron's `type` (e.g. `NetworkNotFound`); other services ignore it.
    pub kind: &'static str,
    pub message: String,
    /// Logged, never sent.
    pub internal: Option<String>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(service: Service, status: StatusCode, message: impl Into<String>) -> Self {
        let kind = match status {
            StatusCode::BAD_REQUEST => "HTTPBadRequest",
            StatusCode::NOT_FOUND => "HTTPNotFound",
            StatusCode::CONFLICT => "HTTPConflict",
            StatusCode::UNAUTHORIZED => "HTTPUnauthorized",
            StatusCode::FORBIDDEN => "HTTPForbidden",
            _ => "HTTPInternalServerError",
        };
        Self {
            service,
            status,
            kind,
            message: message.into(),
            internal: None,
        }
    }
    pub fn bad_request(service: Service, message: impl Into<String>) -> Self {
        Self::new(service, StatusCode::BAD_REQUEST, message)
    }
    pub fn not_found(service: Service, message: impl Into<String>) -> Self {
        Self::new(service, StatusCode::NOT_FOUND, message)
    }
    pub fn conflict(service: Service, message: impl Into<String>) -> Self {
        Self::new(service, StatusCode::CONFLICT, message)
    }
    pub fn unauthorized(service: Service) -> Self {
        Self::new(
            service,
            StatusCode::UNAUTHORIZED,
            "The request you have made requires authentication.",
        )
    }
    pub fn forbidden(service: Service, message: impl Into<String>) -> Self {
        Self::new(service, StatusCode::FORBIDDEN, message)
    }
    /// A bug or a failing local resource (disk, process spawn): 500 with a generic message.
    pub fn internal(service: Service, context: impl Into<String>) -> Self {
        let mut e = Self::new(
            service,
            StatusCode::INTERNAL_SERVER_ERROR,
            "An unexpected error prevented the server from fulfilling your request.",
        );
        e.internal = Some(context.into());
        e
    }
    /// Sets Neutron's error `type`.
    pub fn kind(mut self, kind: &'static str) -> Self {
        self.kind = kind;
        self
    }
}

fn title(status: StatusCode) -> &'static str {
    status.canonical_reason().unwrap_or("Error")
}

fn nova_key(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "badRequest",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "itemNotFound",
        405 => "badMethod",
        409 => "conflictingRequest",
        413 => "overLimit",
        415 => "badMediaType",
        501 => "notImplemented",
        503 => "serviceUnavailable",
        _ => "computeFault",
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Some(internal) = &self.internal {
            tracing::error!(status = %self.status, "{}: {internal}", self.message);
        }
        let status = self.status;
        // keystonemiddleware answers 401 for every service in Keystone's format.
        if status == StatusCode::UNAUTHORIZED || self.service == Service::Identity {
            let body = json!({"error": {"code": status.as_u16(), "message": self.message, "title": title(status)}});
            return (status, axum::Json(body)).into_response();
        }
        match self.service {
            Service::Compute | Service::Volume => {
                let body =
                    json!({nova_key(status): {"code": status.as_u16(), "message": self.message}});
                (status, axum::Json(body)).into_response()
            }
            Service::Network => {
                let body = json!({"NeutronError": {"type": self.kind, "message": self.message, "detail": ""}});
                (status, axum::Json(body)).into_response()
            }
            Service::Image | Service::Identity => {
                let t = format!("{} {}", status.as_u16(), title(status));
                let html = format!(
                    "<html>\n <head>\n  <title>{t}</title>\n </head>\n <body>\n  <h1>{t}</h1>\n  {}<br /><br />\n\n\n\n </body>\n</html>",
                    html_escape(&self.message)
                );
                let mut resp = (status, html).into_response();
                resp.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=UTF-8"),
                );
                resp
            }
        }
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
