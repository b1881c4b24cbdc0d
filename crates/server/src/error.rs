//! The server's one error: an HTTP meaning, a message for the client, and internal context that
//! only reaches the log.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use vitrina_agent_api::wire::ErrorBody;

/// A failure of a request or of a store call.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("not found: {0}")]
    NotFound(String),
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error("unauthenticated")]
    Unauthenticated,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// A bug or a broken store; `context` is logged, the client sees a generic message.
    #[error("internal error: {context}")]
    Internal { context: String },
}

impl ServerError {
    pub fn internal(context: impl Into<String>) -> Self {
        ServerError::Internal {
            context: context.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ServerError::NotFound(_) => StatusCode::NOT_FOUND,
            ServerError::Invalid(_) => StatusCode::BAD_REQUEST,
            ServerError::Unauthenticated => StatusCode::UNAUTHORIZED,
            ServerError::Conflict(_) => StatusCode::CONFLICT,
            ServerError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ServerError::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Whether a worker may try again later.
    pub fn retryable(&self) -> bool {
        matches!(self, ServerError::Unavailable(_))
    }

    fn client_message(&self) -> String {
        match self {
            ServerError::Internal { .. } => "internal error".into(),
            other => other.to_string(),
        }
    }
}

impl IntoResponse for ServerError {
    fn into_response(self) -> Response {
        if let ServerError::Internal { context } = &self {
            tracing::error!(%context, "internal error");
        }
        let body = ErrorBody {
            error: self.client_message(),
        };
        (self.status(), axum::Json(body)).into_response()
    }
}

impl From<crate::store::StoreError> for ServerError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::Busy(what) => ServerError::Unavailable(what),
            other => ServerError::internal(other.to_string()),
        }
    }
}

impl From<crate::crypto::CryptoError> for ServerError {
    fn from(e: crate::crypto::CryptoError) -> Self {
        ServerError::internal(e.to_string())
    }
}
