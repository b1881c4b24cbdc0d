//! The authenticated session: one HTTP client, the current token and catalog, endpoint lookup,
//! and the request helper every service uses (auth header, one re-authentication on 401, errors
//! with the API's message and request id, pagination).

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::catalog;
use crate::config::{AuthMethod, CloudConfig, DomainSpec, ScopeSpec, UserSpec};
use crate::error::{display_url, Error, Result};
use crate::secret::Secret;
use crate::wire::identity::{
    ApplicationCredentialMethod, Auth, AuthRequest, DomainRef, Identity, PasswordMethod,
    PasswordUser, ProjectRef, Scope, Token, TokenMethod, TokenResponse, UserRef, VersionResponse,
    VersionsResponse,
};

/// Header Keystone returns the new token in.
pub const SUBJECT_TOKEN_HEADER: &str = "x-subject-token";
/// Header every request carries the token in.
pub const AUTH_TOKEN_HEADER: &str = "x-auth-token";
/// Request-id headers, in order of preference.
const REQUEST_ID_HEADERS: [&str; 2] = ["x-openstack-request-id", "x-compute-request-id"];
/// Most error-body bytes read for a message.
const MAX_ERROR_BODY: usize = 64 * 1024;
/// Most pages one listing follows.
const MAX_PAGES: usize = 10_000;

/// Tunables of a [`Client`].
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Longest silence while reading an answer (transfers of any size are fine).
    pub read_timeout: Duration,
    /// Compute microversion to request (`None`: the base 2.1 API).
    pub compute_microversion: Option<String>,
    /// `User-Agent`.
    pub user_agent: String,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(15),
            read_timeout: Duration::from_secs(300),
            compute_microversion: None,
            user_agent: format!("vitrina-openstack/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// A Keystone token and what came with it.
#[derive(Debug, Clone)]
pub struct AuthToken {
    /// The `X-Subject-Token` value.
    pub token: Secret,
    /// The token body (user, project, roles, catalog).
    pub body: Token,
    /// The versioned identity URL used (`…/v3`).
    pub identity_url: String,
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl AuthToken {
    /// The scoped project's id.
    pub fn project_id(&self) -> Option<&str> {
        self.body.project.as_ref().map(|p| p.id.as_str())
    }

    /// The user's id.
    pub fn user_id(&self) -> &str {
        &self.body.user.id
    }

    fn fresh(&self) -> bool {
        match self.expires_at {
            Some(at) => at - chrono::Utc::now() > chrono::Duration::seconds(60),
            None => true,
        }
    }
}

/// An OpenStack cloud session. Cheap to clone; clones share the token.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    config: CloudConfig,
    options: ClientOptions,
    auth: tokio::sync::Mutex<Option<Arc<AuthToken>>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("cloud", &self.inner.config.name)
            .field("auth_url", &self.inner.config.auth_url)
            .finish_non_exhaustive()
    }
}

/// The OpenStack services this client speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceType {
    Identity,
    Compute,
    Network,
    BlockStorage,
    Image,
}

impl ServiceType {
    /// The catalog type name.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceType::Identity => "identity",
            ServiceType::Compute => "compute",
            ServiceType::Network => "network",
            ServiceType::BlockStorage => "block-storage",
            ServiceType::Image => "image",
        }
    }
}

impl Client {
    /// A client for `config` with default options. Does not contact the cloud yet.
    pub fn new(config: CloudConfig) -> Result<Self> {
        Self::with_options(config, ClientOptions::default())
    }

    /// Loads the configuration like python-openstackclient (see [`CloudConfig::load`]).
    pub fn from_env(cloud: Option<&str>) -> Result<Self> {
        Self::new(CloudConfig::load(cloud)?)
    }

    /// A client with explicit options.
    pub fn with_options(config: CloudConfig, options: ClientOptions) -> Result<Self> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            .read_timeout(options.read_timeout)
            .user_agent(options.user_agent.clone())
            .pool_idle_timeout(Duration::from_secs(30));
        if !config.verify {
            builder = builder.danger_accept_invalid_certs(true);
        }
        if let Some(path) = &config.cacert {
            let pem = std::fs::read(path).map_err(|source| Error::Io {
                action: "cannot read CA bundle",
                path: path.clone(),
                source,
            })?;
            for cert in reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| Error::Config {
                message: format!("CA bundle `{}`: {e}", path.display()),
            })? {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder.build().map_err(|e| Error::Config {
            message: format!("cannot build the HTTP client: {e}"),
        })?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                config,
                options,
                auth: tokio::sync::Mutex::new(None),
            }),
        })
    }

    /// The configuration this client was built from.
    pub fn config(&self) -> &CloudConfig {
        &self.inner.config
    }

    /// The underlying HTTP client (shared connection pool).
    pub fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// The current token, authenticating first if there is none or it is about to expire.
    pub async fn token(&self) -> Result<Arc<AuthToken>> {
        let mut guard = self.inner.auth.lock().await;
        if let Some(token) = guard.as_ref() {
            if token.fresh() {
                return Ok(token.clone());
            }
        }
        let token = Arc::new(self.authenticate_now().await?);
        *guard = Some(token.clone());
        Ok(token)
    }

    /// Forgets the current token unless it was replaced already, then authenticates again.
    async fn reauthenticate(&self, stale: &Arc<AuthToken>) -> Result<Arc<AuthToken>> {
        let mut guard = self.inner.auth.lock().await;
        if let Some(current) = guard.as_ref() {
            if !Arc::ptr_eq(current, stale) {
                return Ok(current.clone());
            }
        }
        let token = Arc::new(self.authenticate_now().await?);
        *guard = Some(token.clone());
        Ok(token)
    }

    /// Authenticates now (version discovery, then `POST /v3/auth/tokens`) and keeps the token.
    pub async fn authenticate(&self) -> Result<Arc<AuthToken>> {
        let mut guard = self.inner.auth.lock().await;
        let token = Arc::new(self.authenticate_now().await?);
        *guard = Some(token.clone());
        Ok(token)
    }

    async fn authenticate_now(&self) -> Result<AuthToken> {
        let identity_url = self.discover_identity().await?;
        let url = parse_url(&format!(
            "{}/auth/tokens",
            identity_url.trim_end_matches('/')
        ))?;
        let body = auth_request(&self.inner.config.auth);
        let response = self
            .inner
            .http
            .post(url.clone())
            .json(&body)
            .send()
            .await
            .map_err(|source| transport("POST", &url, source))?;
        let response = check(Method::POST, &url, response).await?;
        let token = response
            .headers()
            .get(SUBJECT_TOKEN_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(Secret::new)
            .ok_or_else(|| {
                Error::Protocol(format!(
                    "POST {}: Keystone answered without an `X-Subject-Token` header",
                    display_url(&url)
                ))
            })?;
        let body: TokenResponse = read_json(Method::POST, &url, response).await?;
        let expires_at = chrono::DateTime::parse_from_rfc3339(&body.token.expires_at)
            .ok()
            .map(|t| t.with_timezone(&chrono::Utc));
        Ok(AuthToken {
            token,
            body: body.token,
            identity_url,
            expires_at,
        })
    }

    /// Version discovery at the auth URL: returns the v3 URL.
    async fn discover_identity(&self) -> Result<String> {
        let base = self.inner.config.auth_url.trim_end_matches('/').to_owned();
        let url = parse_url(&base)?;
        let response = self
            .inner
            .http
            .get(url.clone())
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|source| transport("GET", &url, source))?;
        let status = response.status();
        if status == StatusCode::MULTIPLE_CHOICES || status.is_success() {
            let bytes = response
                .bytes()
                .await
                .map_err(|source| transport("GET", &url, source))?;
            if let Ok(single) = serde_json::from_slice::<VersionResponse>(&bytes) {
                if single.version.id.starts_with("v3") {
                    return Ok(self_link(&single.version.links).unwrap_or(base));
                }
            }
            if let Ok(all) = serde_json::from_slice::<VersionsResponse>(&bytes) {
                if let Some(v3) = all.versions.values.iter().find(|v| v.id.starts_with("v3")) {
                    if let Some(link) = self_link(&v3.links) {
                        return Ok(link);
                    }
                }
                return Err(Error::Protocol(format!(
                    "GET {}: the identity service offers no v3 API",
                    display_url(&url)
                )));
            }
        }
        // Some deployments do not serve discovery: fall back to the usual path.
        if base.ends_with("/v3") {
            Ok(base)
        } else if status.is_client_error() || status.is_success() {
            Ok(format!("{base}/v3"))
        } else {
            Err(Error::Api {
                method: "GET".into(),
                url: display_url(&url),
                status: status.as_u16(),
                message: Some("identity version discovery failed".into()),
                request_id: None,
            })
        }
    }

    /// The endpoint URL of a service (override, else catalog), normalized to the API version
    /// this client speaks (`…/v2` for the image service, `…/v2.0` for networking).
    pub async fn endpoint(&self, service: ServiceType) -> Result<String> {
        let token = self.token().await?;
        self.endpoint_with(service, &token)
    }

    fn endpoint_with(&self, service: ServiceType, token: &AuthToken) -> Result<String> {
        let config = &self.inner.config;
        let raw = match config.endpoint_overrides.get(service.as_str()) {
            Some(url) => catalog::substitute_project(url, token.project_id()),
            None if service == ServiceType::Identity => token.identity_url.clone(),
            None => catalog::endpoint_url(
                token.body.catalog.as_deref().unwrap_or_default(),
                service.as_str(),
                &config.interface,
                config.region_name.as_deref(),
                token.project_id(),
            )?,
        };
        let raw = raw.trim_end_matches('/').to_owned();
        Ok(match service {
            ServiceType::Image if !raw.ends_with("/v2") => format!("{raw}/v2"),
            ServiceType::Network if !raw.ends_with("/v2.0") => format!("{raw}/v2.0"),
            _ => raw,
        })
    }

    /// Sends a request to `service` at `path` (relative to the endpoint, or an absolute URL from
    /// a `next` link). `build` adds query, headers and body; it is called again for the one
    /// retry after a 401. Non-2xx answers become [`Error::Api`].
    pub async fn request<F>(
        &self,
        service: ServiceType,
        method: Method,
        path: &str,
        build: F,
    ) -> Result<Response>
    where
        F: Fn(RequestBuilder) -> RequestBuilder,
    {
        let mut token = self.token().await?;
        let mut retried = false;
        loop {
            let url = self.url_for(service, path, &token)?;
            let request = self
                .inner
                .http
                .request(method.clone(), url.clone())
                .headers(self.default_headers(service, &token)?);
            let response = build(request)
                .send()
                .await
                .map_err(|source| transport(method.as_str(), &url, source))?;
            if response.status() == StatusCode::UNAUTHORIZED && !retried {
                retried = true;
                token = self.reauthenticate(&token).await?;
                continue;
            }
            return check(method.clone(), &url, response).await;
        }
    }

    /// Like [`Client::request`] for a body that cannot be sent twice: no retry on 401 (the
    /// token is refreshed first when it is about to expire).
    pub async fn request_once(
        &self,
        service: ServiceType,
        method: Method,
        path: &str,
        build: impl FnOnce(RequestBuilder) -> RequestBuilder,
    ) -> Result<Response> {
        let token = self.token().await?;
        let url = self.url_for(service, path, &token)?;
        let request = self
            .inner
            .http
            .request(method.clone(), url.clone())
            .headers(self.default_headers(service, &token)?);
        let response = build(request)
            .send()
            .await
            .map_err(|source| transport(method.as_str(), &url, source))?;
        check(method, &url, response).await
    }

    fn url_for(&self, service: ServiceType, path: &str, token: &AuthToken) -> Result<Url> {
        if path.starts_with("http://") || path.starts_with("https://") {
            return parse_url(path);
        }
        let endpoint = self.endpoint_with(service, token)?;
        if path.is_empty() {
            return parse_url(&endpoint);
        }
        parse_url(&format!("{endpoint}/{}", path.trim_start_matches('/')))
    }

    fn default_headers(&self, service: ServiceType, token: &AuthToken) -> Result<HeaderMap> {
        let mut headers = HeaderMap::new();
        let mut value = HeaderValue::from_str(token.token.expose())
            .map_err(|_| Error::Protocol("the token is not a valid header value".into()))?;
        value.set_sensitive(true);
        headers.insert(AUTH_TOKEN_HEADER, value);
        headers.insert("accept", HeaderValue::from_static("application/json"));
        if service == ServiceType::Compute {
            if let Some(version) = &self.inner.options.compute_microversion {
                if let Ok(v) = HeaderValue::from_str(version) {
                    headers.insert("x-openstack-nova-api-version", v);
                }
                if let Ok(v) = HeaderValue::from_str(&format!("compute {version}")) {
                    headers.insert("openstack-api-version", v);
                }
            }
        }
        Ok(headers)
    }

    // --- JSON helpers -------------------------------------------------------------------------

    pub(crate) async fn get_json<T: DeserializeOwned>(
        &self,
        service: ServiceType,
        path: &str,
        query: &[(String, String)],
        headers: &HeaderMap,
    ) -> Result<T> {
        let response = self
            .request(service, Method::GET, path, |r| {
                r.query(query).headers(headers.clone())
            })
            .await?;
        let url = response.url().clone();
        read_json(Method::GET, &url, response).await
    }

    pub(crate) async fn send_json<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        service: ServiceType,
        method: Method,
        path: &str,
        body: &B,
        headers: &HeaderMap,
    ) -> Result<T> {
        let response = self
            .request(service, method.clone(), path, |r| {
                r.json(body).headers(headers.clone())
            })
            .await?;
        let url = response.url().clone();
        read_json(method, &url, response).await
    }

    /// Sends a JSON body (or none) and ignores the answer's body.
    pub(crate) async fn send_no_content<B: Serialize + ?Sized>(
        &self,
        service: ServiceType,
        method: Method,
        path: &str,
        body: Option<&B>,
        headers: &HeaderMap,
    ) -> Result<()> {
        self.request(service, method, path, |r| {
            let r = r.headers(headers.clone());
            match body {
                Some(b) => r.json(b),
                None => r,
            }
        })
        .await?;
        Ok(())
    }

    /// Follows a paginated listing to the end: items are under `items_key`; the next page is
    /// `<links_key>[rel=next].href` (Nova, Neutron, Cinder), `next` (Glance, relative to the
    /// endpoint's root) or `links.next` (Keystone).
    pub(crate) async fn list_all<T: DeserializeOwned>(
        &self,
        service: ServiceType,
        path: &str,
        query: &[(String, String)],
        items_key: &str,
        headers: &HeaderMap,
    ) -> Result<Vec<T>> {
        let links_key = format!("{items_key}_links");
        let mut items = Vec::new();
        let mut next: Option<String> = None;
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..MAX_PAGES {
            let page: serde_json::Value = match &next {
                None => self.get_json(service, path, query, headers).await?,
                Some(url) => self.get_json(service, url, &[], headers).await?,
            };
            let serde_json::Value::Object(mut page) = page else {
                return Err(Error::Protocol(format!(
                    "listing `{path}`: the answer is not a JSON object"
                )));
            };
            let batch = page
                .remove(items_key)
                .unwrap_or(serde_json::Value::Array(Vec::new()));
            let batch: Vec<T> = serde_json::from_value(batch).map_err(|e| Error::Decode {
                method: "GET".into(),
                url: path.to_owned(),
                detail: format!("`{items_key}`: {e}"),
            })?;
            let empty = batch.is_empty();
            items.extend(batch);
            let link = next_link(&page, &links_key);
            let Some(link) = link else { break };
            if empty {
                break;
            }
            let absolute = if link.starts_with('/') {
                let token = self.token().await?;
                let endpoint = self.endpoint_with(service, &token)?;
                join_root(&endpoint, &link)?
            } else {
                link
            };
            if !seen.insert(absolute.clone()) {
                break;
            }
            next = Some(absolute);
        }
        Ok(items)
    }
}

fn next_link(page: &serde_json::Map<String, serde_json::Value>, links_key: &str) -> Option<String> {
    if let Some(links) = page.get(links_key).and_then(|l| l.as_array()) {
        return links
            .iter()
            .find(|l| l.get("rel").and_then(|r| r.as_str()) == Some("next"))
            .and_then(|l| l.get("href"))
            .and_then(|h| h.as_str())
            .map(str::to_owned);
    }
    if let Some(next) = page.get("next").and_then(|n| n.as_str()) {
        return Some(next.to_owned());
    }
    page.get("links")
        .and_then(|l| l.get("next"))
        .and_then(|n| n.as_str())
        .map(str::to_owned)
}

/// Joins a root-relative link (`/v2/images?marker=…`) to an endpoint that may sit under a path
/// prefix (`https://host/infra/image/v2`): the link's first segment is matched in the endpoint.
fn join_root(endpoint: &str, link: &str) -> Result<String> {
    let url = parse_url(endpoint)?;
    let first_segment = link
        .trim_start_matches('/')
        .split(['/', '?'])
        .next()
        .unwrap_or_default();
    let path = url.path();
    let prefix = match path.rfind(&format!("/{first_segment}")) {
        Some(at) if !first_segment.is_empty() => &path[..at],
        _ => "",
    };
    let mut joined = url.clone();
    joined.set_query(None);
    joined.set_path("");
    Ok(format!(
        "{}{}{}",
        joined.as_str().trim_end_matches('/'),
        prefix,
        link
    ))
}

fn self_link(links: &[crate::wire::Link]) -> Option<String> {
    links
        .iter()
        .find(|l| l.rel == "self")
        .map(|l| l.href.trim_end_matches('/').to_owned())
}

pub(crate) fn parse_url(url: &str) -> Result<Url> {
    Url::parse(url).map_err(|e| Error::Config {
        message: format!("invalid URL `{url}`: {e}"),
    })
}

pub(crate) fn transport(method: &str, url: &Url, source: reqwest::Error) -> Error {
    Error::Transport {
        method: method.to_owned(),
        url: display_url(url),
        source: source.without_url(),
    }
}

pub(crate) fn request_id(headers: &HeaderMap) -> Option<String> {
    REQUEST_ID_HEADERS
        .iter()
        .find_map(|h| headers.get(*h))
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Turns a non-2xx answer into [`Error::Api`].
pub(crate) async fn check(method: Method, url: &Url, response: Response) -> Result<Response> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let request_id = request_id(response.headers());
    let mut body = Vec::new();
    let mut response = response;
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = MAX_ERROR_BODY.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= MAX_ERROR_BODY {
            break;
        }
    }
    Err(Error::Api {
        method: method.to_string(),
        url: display_url(url),
        status: status.as_u16(),
        message: crate::wire::error_message(&body),
        request_id,
    })
}

pub(crate) async fn read_json<T: DeserializeOwned>(
    method: Method,
    url: &Url,
    response: Response,
) -> Result<T> {
    let bytes = response
        .bytes()
        .await
        .map_err(|source| transport(method.as_str(), url, source))?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Decode {
        method: method.to_string(),
        url: display_url(url),
        detail: e.to_string(),
    })
}

fn domain_ref(domain: &DomainSpec) -> DomainRef {
    match domain {
        DomainSpec::Id(id) => DomainRef {
            id: Some(id.clone()),
            name: None,
        },
        DomainSpec::Name(name) => DomainRef {
            id: None,
            name: Some(name.clone()),
        },
    }
}

fn user_ref(user: &UserSpec) -> UserRef {
    match user {
        UserSpec::Id(id) => UserRef {
            id: Some(id.clone()),
            name: None,
            domain: None,
        },
        UserSpec::Name { name, domain } => UserRef {
            id: None,
            name: Some(name.clone()),
            domain: Some(domain_ref(domain)),
        },
    }
}

fn scope(spec: &ScopeSpec) -> Option<Scope> {
    let empty = Scope {
        project: None,
        domain: None,
        system: None,
    };
    match spec {
        ScopeSpec::Unscoped => None,
        ScopeSpec::ProjectId(id) => Some(Scope {
            project: Some(ProjectRef {
                id: Some(id.clone()),
                name: None,
                domain: None,
            }),
            ..empty
        }),
        ScopeSpec::ProjectName { name, domain } => Some(Scope {
            project: Some(ProjectRef {
                id: None,
                name: Some(name.clone()),
                domain: Some(domain_ref(domain)),
            }),
            ..empty
        }),
        ScopeSpec::Domain(domain) => Some(Scope {
            domain: Some(domain_ref(domain)),
            ..empty
        }),
    }
}

/// The `POST /v3/auth/tokens` body for an auth method.
pub fn auth_request(method: &AuthMethod) -> AuthRequest {
    let (identity, scope) = match method {
        AuthMethod::Password {
            user,
            password,
            scope: s,
        } => {
            let user = user_ref(user);
            (
                Identity {
                    methods: vec!["password".into()],
                    password: Some(PasswordMethod {
                        user: PasswordUser {
                            id: user.id,
                            name: user.name,
                            domain: user.domain,
                            password: password.clone(),
                        },
                    }),
                    token: None,
                    application_credential: None,
                },
                scope(s),
            )
        }
        AuthMethod::ApplicationCredential {
            id,
            name,
            user,
            secret,
        } => (
            Identity {
                methods: vec!["application_credential".into()],
                password: None,
                token: None,
                application_credential: Some(ApplicationCredentialMethod {
                    id: id.clone(),
                    name: if id.is_some() { None } else { name.clone() },
                    user: if id.is_some() {
                        None
                    } else {
                        user.as_ref().map(user_ref)
                    },
                    secret: secret.clone(),
                }),
            },
            None,
        ),
        AuthMethod::Token { token, scope: s } => (
            Identity {
                methods: vec!["token".into()],
                password: None,
                token: Some(TokenMethod { id: token.clone() }),
                application_credential: None,
            },
            scope(s),
        ),
    };
    AuthRequest {
        auth: Auth { identity, scope },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glance_next_links_join_under_a_path_prefix() {
        assert_eq!(
            join_root("http://127.0.0.1:9292/v2", "/v2/images?marker=x").unwrap(),
            "http://127.0.0.1:9292/v2/images?marker=x"
        );
        assert_eq!(
            join_root("https://h/infra/image/v2", "/v2/images?marker=x").unwrap(),
            "https://h/infra/image/v2/images?marker=x"
        );
    }

    #[test]
    fn application_credential_by_id_sends_no_scope() {
        let body = auth_request(&AuthMethod::ApplicationCredential {
            id: Some("ac".into()),
            name: None,
            user: None,
            secret: Secret::new("s"),
        });
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::json!({"auth":{"identity":{"methods":["application_credential"],"application_credential":{"id":"ac","secret":"s"}}}})
        );
    }

    #[test]
    fn next_link_shapes() {
        let nova = serde_json::json!({"servers_links":[{"rel":"next","href":"http://n/servers?marker=1"}]});
        assert_eq!(
            next_link(nova.as_object().unwrap(), "servers_links").as_deref(),
            Some("http://n/servers?marker=1")
        );
        let glance = serde_json::json!({"next":"/v2/images?marker=2"});
        assert_eq!(
            next_link(glance.as_object().unwrap(), "images_links").as_deref(),
            Some("/v2/images?marker=2")
        );
        let keystone = serde_json::json!({"links":{"self":"x","next":null}});
        assert_eq!(
            next_link(keystone.as_object().unwrap(), "projects_links"),
            None
        );
    }
}
