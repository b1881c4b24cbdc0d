//! The client's error type: what failed, where (method and URL, never credentials), and what the
//! API said (status, message, `x-openstack-request-id`).

use std::path::PathBuf;
use std::time::Duration;

/// Everything the OpenStack client can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The cloud configuration (clouds.yaml, `OS_*`) is incomplete or contradictory.
    #[error("cloud configuration: {message}")]
    Config { message: String },

    /// A configuration file could not be read or parsed.
    #[error("cannot read cloud configuration `{}`", path.display())]
    ConfigFile {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// The request did not get an HTTP answer (connection refused, reset, TLS, timeout).
    #[error("{method} {url}: request failed")]
    Transport {
        method: String,
        url: String,
        #[source]
        source: reqwest::Error,
    },

    /// The API answered with an error status.
    #[error("{method} {url}: {status}{}{}", message.as_deref().map(|m| format!(": {m}")).unwrap_or_default(), request_id.as_deref().map(|r| format!(" (request id {r})")).unwrap_or_default())]
    Api {
        method: String,
        url: String,
        status: u16,
        /// The API's own message, read from its error body.
        message: Option<String>,
        /// `x-openstack-request-id` (or `x-compute-request-id`) of the answer.
        request_id: Option<String>,
    },

    /// The API answered with a body we could not read.
    #[error("{method} {url}: unexpected response body: {detail}")]
    Decode {
        method: String,
        url: String,
        detail: String,
    },

    /// The catalog has no endpoint for the service.
    #[error("no `{interface}` endpoint for service type `{service_type}`{} in the catalog", region.as_deref().map(|r| format!(" in region `{r}`")).unwrap_or_default())]
    EndpointNotFound {
        service_type: String,
        interface: String,
        region: Option<String>,
    },

    /// A wait did not reach its goal in time.
    #[error("timed out after {}s waiting for {what} (last status `{last_status}`)", waited.as_secs())]
    Timeout {
        what: String,
        waited: Duration,
        last_status: String,
    },

    /// A resource went into an error state while we waited for it.
    #[error("{what} went to status `{status}`{}", fault.as_deref().map(|f| format!(": {f}")).unwrap_or_default())]
    ResourceFailed {
        what: String,
        status: String,
        fault: Option<String>,
    },

    /// Transferred image data does not match the checksum Glance recorded.
    #[error("{algorithm} of image `{image_id}` data is {actual}, expected {expected}")]
    Checksum {
        image_id: String,
        algorithm: &'static str,
        expected: String,
        actual: String,
    },

    /// No resource has this name.
    #[error("no {kind} named `{name}`")]
    NameNotFound { kind: &'static str, name: String },

    /// Several resources have this name.
    #[error("{count} {kind}s are named `{name}`; use an id")]
    Ambiguous {
        kind: &'static str,
        name: String,
        count: usize,
    },

    /// A local file could not be read or written.
    #[error("{action} `{}`", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The answer makes no sense for the request (missing header, impossible range, …).
    #[error("{0}")]
    Protocol(String),
}

impl Error {
    /// The HTTP status of an API error.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The API error's request id.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Api { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }

    /// The API's message.
    pub fn api_message(&self) -> Option<&str> {
        match self {
            Error::Api { message, .. } => message.as_deref(),
            _ => None,
        }
    }

    /// 404.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404) || matches!(self, Error::NameNotFound { .. })
    }

    /// 409.
    pub fn is_conflict(&self) -> bool {
        self.status() == Some(409)
    }

    /// Whether trying again later may succeed: transport failures, 408/429/5xx (not 501).
    pub fn retryable(&self) -> bool {
        match self {
            Error::Transport { .. } => true,
            Error::Api { status, .. } => {
                matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
            }
            _ => false,
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A URL for messages: query strings can hold markers and filters but never credentials in
/// OpenStack; user info (`user:pass@`) is removed.
pub(crate) fn display_url(url: &reqwest::Url) -> String {
    if url.username().is_empty() && url.password().is_none() {
        return url.to_string();
    }
    let mut clean = url.clone();
    let _ = clean.set_username("");
    let _ = clean.set_password(None);
    clean.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_error_reads_like_a_sentence_with_request_id() {
        let error = Error::Api {
            method: "GET".into(),
            url: "http://127.0.0.1:9292/v2/images/x".into(),
            status: 404,
            message: Some("No image found with ID x".into()),
            request_id: Some("req-1".into()),
        };
        assert_eq!(
            error.to_string(),
            "GET http://127.0.0.1:9292/v2/images/x: 404: No image found with ID x (request id req-1)"
        );
        assert!(error.is_not_found());
        assert!(!error.retryable());
    }

    #[test]
    fn urls_lose_user_info() {
        let url = reqwest::Url::parse("http://u:p@host/v3").unwrap();
        assert_eq!(display_url(&url), "http://host/v3");
    }
}
