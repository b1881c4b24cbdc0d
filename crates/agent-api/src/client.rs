//! Typed HTTP clients of the config service (reqwest with rustls).

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use vitrina_common::{DeploymentId, HostName, Secret};

use crate::paths::{AGENT_PREFIX, ENGINE_PREFIX};
use crate::wire::*;

/// A failed call. Messages name the method and path, never a token.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("`{0}` is not a usable config service URL")]
    BadUrl(String),
    #[error("{method} {path}: the config service did not answer")]
    Transport {
        method: Method,
        path: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{method} {path}: {status}: {message}")]
    Status {
        method: Method,
        path: String,
        status: StatusCode,
        message: String,
    },
    #[error("{method} {path}: unexpected answer")]
    Decode {
        method: Method,
        path: String,
        #[source]
        source: reqwest::Error,
    },
}

impl ClientError {
    /// The HTTP status the service answered with, if it answered.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            ClientError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether trying again later may help (no answer, or 5xx / 429).
    pub fn retryable(&self) -> bool {
        match self {
            ClientError::Transport { .. } => true,
            ClientError::Status { status, .. } => {
                status.is_server_error() || *status == StatusCode::TOO_MANY_REQUESTS
            }
            _ => false,
        }
    }
}

#[derive(Clone)]
struct Http {
    base: String,
    token: Secret,
    http: reqwest::Client,
}

impl Http {
    fn new(base: &str, token: Secret, timeout: Duration) -> Result<Self, ClientError> {
        let base = base.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(ClientError::BadUrl(base));
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|source| ClientError::Transport {
                method: Method::GET,
                path: String::new(),
                source,
            })?;
        Ok(Http { base, token, http })
    }

    async fn send<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        timeout: Option<Duration>,
    ) -> Result<reqwest::Response, ClientError> {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(self.token.expose());
        if let Some(body) = body {
            req = req.json(body);
        }
        if let Some(t) = timeout {
            req = req.timeout(t);
        }
        let resp = req.send().await.map_err(|source| ClientError::Transport {
            method: method.clone(),
            path: path.to_owned(),
            source,
        })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let text = resp.text().await.unwrap_or_default();
        let message = serde_json::from_str::<ErrorBody>(&text)
            .map(|b| b.error)
            .unwrap_or_else(|_| crate::wire::tail(&text, 500));
        Err(ClientError::Status {
            method,
            path: path.to_owned(),
            status,
            message,
        })
    }

    async fn json<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        timeout: Option<Duration>,
    ) -> Result<T, ClientError> {
        let resp = self.send(method.clone(), path, body, timeout).await?;
        resp.json().await.map_err(|source| ClientError::Decode {
            method,
            path: path.to_owned(),
            source,
        })
    }
}

/// Percent-encodes one path segment (group and check names may hold spaces: "sync kafka").
pub fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The engine's client (the `ivkcs` provider).
#[derive(Clone)]
pub struct EngineClient {
    http: Http,
}

impl EngineClient {
    pub fn new(base_url: &str, token: Secret) -> Result<Self, ClientError> {
        Ok(EngineClient {
            http: Http::new(base_url, token, Duration::from_secs(60))?,
        })
    }

    pub fn base_url(&self) -> &str {
        &self.http.base
    }

    fn deployment(d: &DeploymentId) -> String {
        format!("{ENGINE_PREFIX}/deployments/{d}")
    }

    /// The agent token of one host (created on first call, the same afterwards).
    pub async fn agent_credentials(
        &self,
        d: &DeploymentId,
        host: &HostName,
    ) -> Result<AgentCredentials, ClientError> {
        let path = format!(
            "{}/hosts/{}/agent",
            Self::deployment(d),
            segment(host.as_str())
        );
        self.http.json(Method::PUT, &path, None::<&()>, None).await
    }

    pub async fn host(&self, d: &DeploymentId, host: &HostName) -> Result<HostView, ClientError> {
        let path = format!("{}/hosts/{}", Self::deployment(d), segment(host.as_str()));
        self.http.json(Method::GET, &path, None::<&()>, None).await
    }

    pub async fn put_group(
        &self,
        d: &DeploymentId,
        name: &str,
        spec: &ExecGroupSpec,
    ) -> Result<ExecGroupView, ClientError> {
        let path = format!("{}/groups/{}", Self::deployment(d), segment(name));
        self.http.json(Method::PUT, &path, Some(spec), None).await
    }

    pub async fn group_results(
        &self,
        d: &DeploymentId,
        name: &str,
    ) -> Result<GroupResultsView, ClientError> {
        let path = format!("{}/groups/{}/results", Self::deployment(d), segment(name));
        self.http.json(Method::GET, &path, None::<&()>, None).await
    }

    pub async fn delete_group(&self, d: &DeploymentId, name: &str) -> Result<(), ClientError> {
        let path = format!("{}/groups/{}", Self::deployment(d), segment(name));
        self.http
            .send(Method::DELETE, &path, None::<&()>, None)
            .await
            .map(drop)
    }

    pub async fn step_result(
        &self,
        d: &DeploymentId,
        host: &HostName,
        group: &str,
        index: i64,
    ) -> Result<StepResultView, ClientError> {
        let path = format!(
            "{}/hosts/{}/groups/{}/steps/{index}",
            Self::deployment(d),
            segment(host.as_str()),
            segment(group)
        );
        self.http.json(Method::GET, &path, None::<&()>, None).await
    }

    pub async fn put_checks(
        &self,
        d: &DeploymentId,
        name: &str,
        spec: &CheckSetSpec,
    ) -> Result<CheckSetView, ClientError> {
        let path = format!("{}/checks/{}", Self::deployment(d), segment(name));
        self.http.json(Method::PUT, &path, Some(spec), None).await
    }

    pub async fn check_results(
        &self,
        d: &DeploymentId,
        name: &str,
    ) -> Result<CheckResultsView, ClientError> {
        let path = format!("{}/checks/{}/results", Self::deployment(d), segment(name));
        self.http.json(Method::GET, &path, None::<&()>, None).await
    }

    pub async fn delete_checks(&self, d: &DeploymentId, name: &str) -> Result<(), ClientError> {
        let path = format!("{}/checks/{}", Self::deployment(d), segment(name));
        self.http
            .send(Method::DELETE, &path, None::<&()>, None)
            .await
            .map(drop)
    }

    /// Creates the deployment's bucket `name` if missing; its key pair.
    pub async fn put_s3(&self, name: &str) -> Result<crate::services::S3Bucket, ClientError> {
        let path = format!("{ENGINE_PREFIX}/s3/{}", segment(name));
        self.http.json(Method::PUT, &path, None::<&()>, None).await
    }

    pub async fn delete_s3(&self, name: &str) -> Result<(), ClientError> {
        let path = format!("{ENGINE_PREFIX}/s3/{}", segment(name));
        self.http
            .send(Method::DELETE, &path, None::<&()>, None)
            .await
            .map(drop)
    }

    pub async fn put_dns(
        &self,
        fqdn: &str,
        spec: &crate::services::DnsRecordSpec,
    ) -> Result<crate::services::DnsRecord, ClientError> {
        let path = format!("{ENGINE_PREFIX}/dns/{}", segment(fqdn));
        self.http.json(Method::PUT, &path, Some(spec), None).await
    }

    /// The metrics intake's credentials (created on first call).
    pub async fn monitoring_user(&self) -> Result<crate::services::MonitoringUser, ClientError> {
        let path = format!("{ENGINE_PREFIX}/monitoring-user");
        self.http.json(Method::GET, &path, None::<&()>, None).await
    }

    /// The latest points the intake holds for `host` (every host when `None`).
    pub async fn metrics(
        &self,
        host: Option<&str>,
    ) -> Result<Vec<crate::services::MetricPoint>, ClientError> {
        let path = match host {
            Some(h) => format!("{ENGINE_PREFIX}/metrics?host={}", segment(h)),
            None => format!("{ENGINE_PREFIX}/metrics"),
        };
        self.http.json(Method::GET, &path, None::<&()>, None).await
    }

    pub async fn delete_dns(&self, fqdn: &str) -> Result<(), ClientError> {
        let path = format!("{ENGINE_PREFIX}/dns/{}", segment(fqdn));
        self.http
            .send(Method::DELETE, &path, None::<&()>, None)
            .await
            .map(drop)
    }

    /// The certificate of `domain` for the deployment (`ivkcs_cert`), issued or renewed when due.
    pub async fn put_cert(
        &self,
        d: &DeploymentId,
        domain: &str,
    ) -> Result<crate::services::IssuedCert, ClientError> {
        let path = format!("{}/certs/{}", Self::deployment(d), segment(domain));
        self.http.json(Method::PUT, &path, None::<&()>, None).await
    }

    pub async fn delete_cert(&self, d: &DeploymentId, domain: &str) -> Result<(), ClientError> {
        let path = format!("{}/certs/{}", Self::deployment(d), segment(domain));
        self.http
            .send(Method::DELETE, &path, None::<&()>, None)
            .await
            .map(drop)
    }

    /// The local CA's certificate (PEM).
    pub async fn ca(&self) -> Result<crate::services::CaCert, ClientError> {
        let path = format!("{ENGINE_PREFIX}/ca");
        self.http.json(Method::GET, &path, None::<&()>, None).await
    }
}

/// The agent's client: its token decides the deployment and host.
#[derive(Clone)]
pub struct AgentClient {
    http: Http,
}

impl AgentClient {
    pub fn new(base_url: &str, token: Secret) -> Result<Self, ClientError> {
        Ok(AgentClient {
            http: Http::new(base_url, token, Duration::from_secs(30))?,
        })
    }

    pub async fn register(&self, req: &RegisterRequest) -> Result<RegisterResponse, ClientError> {
        self.http
            .json(
                Method::POST,
                &format!("{AGENT_PREFIX}/register"),
                Some(req),
                None,
            )
            .await
    }

    pub async fn heartbeat(&self, hb: &Heartbeat) -> Result<(), ClientError> {
        self.http
            .send(
                Method::POST,
                &format!("{AGENT_PREFIX}/heartbeat"),
                Some(hb),
                None,
            )
            .await
            .map(drop)
    }

    /// Waits up to `wait` for work newer than `known` (answers at once when there is).
    pub async fn work(&self, known: i64, wait: Duration) -> Result<Work, ClientError> {
        let wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
        let path = format!("{AGENT_PREFIX}/work?known={known}&wait_ms={wait_ms}");
        self.http
            .json(
                Method::GET,
                &path,
                None::<&()>,
                Some(wait + Duration::from_secs(30)),
            )
            .await
    }

    pub async fn report_step(&self, report: &StepReport) -> Result<(), ClientError> {
        self.http
            .send(
                Method::POST,
                &format!("{AGENT_PREFIX}/results"),
                Some(report),
                None,
            )
            .await
            .map(drop)
    }

    pub async fn report_check(&self, report: &CheckReport) -> Result<(), ClientError> {
        self.http
            .send(
                Method::POST,
                &format!("{AGENT_PREFIX}/checks"),
                Some(report),
                None,
            )
            .await
            .map(drop)
    }

    /// The host's script token (`token_file_path`), rotated when `rotate` and due.
    pub async fn script_token(
        &self,
        rotate: bool,
    ) -> Result<crate::script_token::ScriptToken, ClientError> {
        self.http
            .json(
                Method::POST,
                &format!("{AGENT_PREFIX}/script-token"),
                Some(&crate::script_token::ScriptTokenRequest { rotate }),
                None,
            )
            .await
    }
}

/// `GET /agent/v1/auth/key` with a script token (what a vendor's script does with the token file).
pub async fn auth_key(
    base_url: &str,
    script_token: Secret,
) -> Result<crate::script_token::AuthKey, ClientError> {
    let http = Http::new(base_url, script_token, Duration::from_secs(30))?;
    http.json(
        Method::GET,
        crate::script_token::AUTH_KEY_PATH,
        None::<&()>,
        None,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_encoded_and_urls_checked() {
        assert_eq!(segment("sync kafka"), "sync%20kafka");
        assert_eq!(segment("a/b"), "a%2Fb");
        assert!(EngineClient::new("ftp://x", Secret::new("t")).is_err());
        assert!(EngineClient::new("http://127.0.0.1:1/", Secret::new("t")).is_ok());
    }
}
