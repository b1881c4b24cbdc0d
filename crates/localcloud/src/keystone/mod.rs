//! Keystone v3: version discovery, password / token / application-credential authentication,
//! token validation and revocation, the catalog (pointing at localcloud itself), projects, users
//! and application credentials. One domain, `Default` (id `default`); VK's user domain name
//! `users` is accepted as an alias.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use rand::Rng as _;
use serde_json::{Map, Value};
use sha2::Digest as _;

use crate::body::{self, opt, req, Schema, Ty};
use crate::error::{ApiError, ApiResult, Service};
use crate::model::{AppCred, Bootstrap, Project, Token, User};
use crate::util::{get_str, new_hex_id};
use crate::{AdminCredentials, AppState, Cloud, Config, Credentials, ProjectCredentials};
use vitrina_openstack::wire::identity as w;
use vitrina_openstack::wire::Link;
use vitrina_openstack::Secret;

const S: Service = Service::Identity;
const TOKEN_HOURS: i64 = 12;
pub const DEFAULT_DOMAIN: &str = "default";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/identity", get(versions))
        .route("/identity/", get(versions))
        .route("/identity/v3", get(version))
        .route("/identity/v3/", get(version))
        .route(
            "/identity/v3/auth/tokens",
            get(validate_token)
                .head(check_token)
                .post(issue_token)
                .delete(revoke_token),
        )
        .route("/identity/v3/auth/catalog", get(auth_catalog))
        .route("/identity/v3/auth/projects", get(auth_projects))
        .route("/identity/v3/projects", get(list_projects))
        .route("/identity/v3/projects/{id}", get(show_project))
        .route("/identity/v3/users/{id}", get(show_user))
        .route("/identity/v3/users/{id}/projects", get(user_projects))
        .route(
            "/identity/v3/users/{id}/application_credentials",
            get(list_app_creds).post(create_app_cred),
        )
        .route(
            "/identity/v3/users/{id}/application_credentials/{cred}",
            get(show_app_cred).delete(delete_app_cred),
        )
}

fn random_secret(len: usize) -> String {
    const ALPHA: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| char::from(ALPHA[rng.gen_range(0..ALPHA.len())]))
        .collect()
}

/// A stable 32-hex id for a name (roles, services, endpoints).
pub fn stable_id(name: &str) -> String {
    hex::encode(&sha2::Sha256::digest(name.as_bytes())[..16])
}

/// Creates the admin and demo identities on first start.
pub fn bootstrap(cloud: &Cloud) {
    cloud.store.write(|s| {
        if s.bootstrap.is_some() {
            return;
        }
        let admin_project = Project {
            id: new_hex_id(),
            name: "admin".into(),
            description: "Bootstrap project for administrators".into(),
            domain_id: DEFAULT_DOMAIN.into(),
        };
        let demo_project = Project {
            id: new_hex_id(),
            name: "demo".into(),
            description: "Demo project".into(),
            domain_id: DEFAULT_DOMAIN.into(),
        };
        let admin = User {
            id: new_hex_id(),
            name: "admin".into(),
            domain_id: DEFAULT_DOMAIN.into(),
            password: random_secret(24),
            default_project_id: admin_project.id.clone(),
            roles: BTreeMap::from([
                (
                    admin_project.id.clone(),
                    vec!["admin".into(), "member".into(), "reader".into()],
                ),
                (
                    demo_project.id.clone(),
                    vec!["admin".into(), "member".into(), "reader".into()],
                ),
            ]),
        };
        let demo = User {
            id: new_hex_id(),
            name: "demo".into(),
            domain_id: DEFAULT_DOMAIN.into(),
            password: random_secret(24),
            default_project_id: demo_project.id.clone(),
            roles: BTreeMap::from([(
                demo_project.id.clone(),
                vec!["member".into(), "reader".into()],
            )]),
        };
        s.bootstrap = Some(Bootstrap {
            admin_user_id: admin.id.clone(),
            admin_project_id: admin_project.id.clone(),
            demo_user_id: demo.id.clone(),
            demo_project_id: demo_project.id.clone(),
            ext_net_id: String::new(),
            internet_net_id: String::new(),
        });
        s.projects.insert(admin_project.id.clone(), admin_project);
        s.projects.insert(demo_project.id.clone(), demo_project);
        s.users.insert(admin.id.clone(), admin);
        s.users.insert(demo.id.clone(), demo);
    });
}

pub fn credentials(cloud: &Cloud) -> Credentials {
    cloud.store.read(|s| {
        let b = s.bootstrap.clone().unwrap_or_else(|| Bootstrap {
            admin_user_id: String::new(),
            admin_project_id: String::new(),
            demo_user_id: String::new(),
            demo_project_id: String::new(),
            ext_net_id: String::new(),
            internet_net_id: String::new(),
        });
        let pw = |id: &str| {
            s.users
                .get(id)
                .map(|u| u.password.clone())
                .unwrap_or_default()
        };
        let name = |id: &str| s.users.get(id).map(|u| u.name.clone()).unwrap_or_default();
        Credentials {
            auth_url: cloud.url("/identity/v3"),
            region: cloud.cfg.region.clone(),
            projects: BTreeMap::from([(
                "demo".to_owned(),
                ProjectCredentials {
                    id: b.demo_project_id.clone(),
                    username: name(&b.demo_user_id),
                    password: pw(&b.demo_user_id),
                },
            )]),
            admin: AdminCredentials {
                username: name(&b.admin_user_id),
                password: pw(&b.admin_user_id),
                project_id: b.admin_project_id.clone(),
            },
        }
    })
}

fn yaml_str(s: &str) -> String {
    // JSON strings are valid YAML double-quoted scalars.
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// clouds.yaml with `<name>` (demo user, project demo) and `<name>-admin`.
pub fn clouds_yaml(cfg: &Config, c: &Credentials) -> String {
    let demo = c.projects.get("demo");
    let entry = |name: &str, user: &str, pw: &str, project_id: &str, project: &str| {
        format!(
            "  {name}:\n    auth:\n      auth_url: {}\n      username: {}\n      password: {}\n      project_id: {}\n      project_name: {}\n      user_domain_name: Default\n      project_domain_name: Default\n    region_name: {}\n    interface: public\n    identity_api_version: 3\n",
            yaml_str(&c.auth_url),
            yaml_str(user),
            yaml_str(pw),
            yaml_str(project_id),
            yaml_str(project),
            yaml_str(&cfg.region),
        )
    };
    let mut out = String::from("# Written by `vitrina localcloud serve`.\nclouds:\n");
    if let Some(d) = demo {
        out.push_str(&entry(
            &cfg.cloud_name,
            &d.username,
            &d.password,
            &d.id,
            "demo",
        ));
    }
    out.push_str(&entry(
        &format!("{}-admin", cfg.cloud_name),
        &c.admin.username,
        &c.admin.password,
        &c.admin.project_id,
        "admin",
    ));
    out
}

fn version_body(cloud: &Cloud) -> w::Version {
    w::Version {
        id: "v3.14".into(),
        status: "stable".into(),
        updated: Some("2020-04-07T00:00:00Z".into()),
        links: vec![Link {
            rel: "self".into(),
            href: cloud.url("/identity/v3/"),
            media_type: None,
        }],
        media_types: vec![w::MediaType {
            base: "application/json".into(),
            media_type: "application/vnd.openstack.identity-v3+json".into(),
        }],
    }
}

async fn versions(State(c): State<AppState>) -> Response {
    let body = w::VersionsResponse {
        versions: w::VersionValues {
            values: vec![version_body(&c)],
        },
    };
    (StatusCode::MULTIPLE_CHOICES, Json(body)).into_response()
}

async fn version(State(c): State<AppState>) -> Json<w::VersionResponse> {
    Json(w::VersionResponse {
        version: version_body(&c),
    })
}

fn default_domain() -> w::NamedDomain {
    w::NamedDomain {
        id: DEFAULT_DOMAIN.into(),
        name: "Default".into(),
    }
}

/// `links` of a list answer: itself, no other pages.
fn list_links(cloud: &Cloud, path: &str) -> Option<w::ListLinks> {
    Some(w::ListLinks {
        self_link: Some(cloud.url(path)),
        previous: None,
        next: None,
    })
}

fn self_links(cloud: &Cloud, path: &str) -> Option<w::SelfLinks> {
    Some(w::SelfLinks {
        self_link: cloud.url(path),
    })
}

fn role(name: &str) -> w::Role {
    w::Role {
        id: stable_id(name),
        name: name.to_owned(),
        domain_id: None,
    }
}

/// Resolves a domain reference `{"id"}` or `{"name"}`.
fn domain_ok(d: Option<&Value>) -> bool {
    match d {
        None => true,
        Some(Value::Object(m)) => {
            let id_ok = m
                .get("id")
                .and_then(Value::as_str)
                .is_none_or(|i| i == DEFAULT_DOMAIN);
            let name_ok = m
                .get("name")
                .and_then(Value::as_str)
                .is_none_or(|n| n.eq_ignore_ascii_case("default") || n == "users");
            id_ok && name_ok
        }
        Some(_) => false,
    }
}

/// The service catalog for a project.
pub fn catalog(cloud: &Cloud, project_id: &str) -> Vec<w::CatalogEntry> {
    let region = &cloud.cfg.region;
    let services: [(&str, &str, String); 6] = [
        ("identity", "keystone", cloud.url("/identity")),
        ("compute", "nova", cloud.url("/compute/v2.1")),
        ("network", "neutron", cloud.url("/networking")),
        (
            "volumev3",
            "cinderv3",
            cloud.url(&format!("/volume/v3/{project_id}")),
        ),
        (
            "block-storage",
            "cinder",
            cloud.url(&format!("/volume/v3/{project_id}")),
        ),
        ("image", "glance", cloud.url("/image")),
    ];
    services
        .into_iter()
        .map(|(ty, name, url)| w::CatalogEntry {
            service_type: ty.into(),
            name: name.into(),
            id: stable_id(ty),
            endpoints: ["public", "internal", "admin"]
                .into_iter()
                .map(|iface| w::CatalogEndpoint {
                    id: stable_id(&format!("{ty}/{iface}")),
                    interface: iface.into(),
                    region_id: Some(region.clone()),
                    region: Some(region.clone()),
                    url: url.clone(),
                })
                .collect(),
        })
        .collect()
}

fn token_body(cloud: &Cloud, t: &Token, include_catalog: bool) -> ApiResult<w::TokenResponse> {
    cloud.store.read(|s| {
        let not_found = || ApiError::not_found(S, "Could not find token.");
        let user = s.users.get(&t.user_id).ok_or_else(not_found)?;
        let mut token = w::Token {
            methods: t.methods.clone(),
            user: w::TokenUser {
                id: user.id.clone(),
                name: user.name.clone(),
                domain: default_domain(),
                password_expires_at: None,
            },
            audit_ids: vec![t.audit_id.clone()],
            expires_at: t.expires_at.clone(),
            issued_at: t.issued_at.clone(),
            project: None,
            domain: None,
            system: None,
            is_domain: None,
            roles: None,
            catalog: None,
            application_credential: None,
        };
        if let Some(pid) = &t.project_id {
            let project = s.projects.get(pid).ok_or_else(not_found)?;
            token.project = Some(w::TokenProject {
                id: project.id.clone(),
                name: project.name.clone(),
                domain: default_domain(),
            });
            token.is_domain = Some(false);
            token.roles = Some(
                user.roles
                    .get(pid)
                    .map(|r| r.iter().map(|n| role(n)).collect())
                    .unwrap_or_default(),
            );
            token.application_credential = t
                .app_cred_id
                .as_ref()
                .and_then(|ac| s.app_creds.get(ac))
                .map(|a| w::TokenApplicationCredential {
                    id: a.id.clone(),
                    name: a.name.clone(),
                    restricted: !a.unrestricted,
                });
            if include_catalog {
                token.catalog = Some(catalog(cloud, pid));
            }
        }
        Ok(w::TokenResponse { token })
    })
}

const AUTH_SCHEMA: Schema = Schema {
    service: S,
    wrapper: Some("auth"),
    fields: &[req("identity", Ty::Obj), opt("scope", Ty::Any)],
    additional: false,
    siblings: &[],
};

fn unauth() -> ApiError {
    ApiError::unauthorized(S)
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::bad_request(S, msg)
}

/// Finds a user by `{"id"}` or `{"name","domain"}`.
fn find_user<'a>(s: &'a crate::model::State, u: &Map<String, Value>) -> ApiResult<&'a User> {
    if let Some(id) = u.get("id").and_then(Value::as_str) {
        return s.users.get(id).ok_or_else(unauth);
    }
    let name = u
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("Invalid input for field 'user': either 'id' or 'name' is required"))?;
    if !domain_ok(u.get("domain")) {
        return Err(unauth());
    }
    s.users.values().find(|x| x.name == name).ok_or_else(unauth)
}

async fn issue_token(
    State(c): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let auth = body::check(&AUTH_SCHEMA, body::parse_json(S, &bytes)?)?;
    let identity = auth
        .get("identity")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let methods: Vec<String> = match identity.get("methods") {
        Some(Value::Array(a)) if a.iter().all(Value::is_string) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        Some(other) => {
            return Err(bad(format!(
                "Invalid input for field 'identity/methods': {other} is not of type 'array'"
            )))
        }
        None => {
            return Err(bad(
                "Invalid input for field 'identity': 'methods' is a required property",
            ))
        }
    };
    let method = methods
        .first()
        .cloned()
        .ok_or_else(|| bad("Invalid input for field 'identity/methods': [] is too short"))?;
    let scope = auth.get("scope").cloned();
    let now_ts = chrono::Utc::now();
    let (user_id, mut project_id, app_cred_id, prior_methods) = c.store.read(|s| -> ApiResult<_> {
        match method.as_str() {
            "password" => {
                let pw = identity.get("password").and_then(Value::as_object).ok_or_else(|| bad("Invalid input for field 'identity': 'password' is a required property"))?;
                let u = pw.get("user").and_then(Value::as_object).ok_or_else(|| bad("Invalid input for field 'identity/password': 'user' is a required property"))?;
                let given = u.get("password").and_then(Value::as_str).ok_or_else(unauth)?;
                let user = find_user(s, u)?;
                if user.password != given {
                    return Err(unauth());
                }
                Ok((user.id.clone(), None, None, vec![]))
            }
            "token" => {
                let id = identity.get("token").and_then(|t| t.get("id")).and_then(Value::as_str).ok_or_else(|| bad("Invalid input for field 'identity/token': 'id' is a required property"))?;
                let t = s.tokens.get(id).filter(|t| t.expires_unix > now_ts.timestamp()).ok_or_else(unauth)?;
                Ok((t.user_id.clone(), t.project_id.clone(), t.app_cred_id.clone(), t.methods.clone()))
            }
            "application_credential" => {
                let ac = identity.get("application_credential").and_then(Value::as_object).ok_or_else(|| bad("Invalid input for field 'identity': 'application_credential' is a required property"))?;
                let secret = ac.get("secret").and_then(Value::as_str).ok_or_else(|| bad("Invalid input for field 'application_credential': 'secret' is a required property"))?;
                let cred = if let Some(id) = ac.get("id").and_then(Value::as_str) {
                    s.app_creds.get(id)
                } else {
                    let name = ac.get("name").and_then(Value::as_str).ok_or_else(|| bad("Invalid input for field 'application_credential': 'id' or 'name' is required"))?;
                    let user = ac.get("user").and_then(Value::as_object).ok_or_else(unauth)?;
                    let user = find_user(s, user)?;
                    s.app_creds.values().find(|a| a.name == name && a.user_id == user.id)
                };
                let cred = cred.filter(|a| a.secret == secret).ok_or_else(unauth)?;
                if scope.is_some() {
                    return Err(unauth());
                }
                Ok((cred.user_id.clone(), Some(cred.project_id.clone()), Some(cred.id.clone()), vec![]))
            }
            other => Err(ApiError::new(S, StatusCode::UNAUTHORIZED, format!("Attempted to authenticate with an unsupported method: {other}"))),
        }
    })?;
    // Scope.
    if let Some(scope) = &scope {
        let pid = c.store.read(|s| -> ApiResult<Option<String>> {
            let Some(p) = scope.get("project") else {
                if scope.get("system").is_some() || scope.get("domain").is_some() {
                    return Ok(None);
                }
                return Err(bad(
                    "Invalid input for field 'scope': a project scope is required",
                ));
            };
            let p = p
                .as_object()
                .ok_or_else(|| bad("Invalid input for field 'scope/project': not an object"))?;
            let project = if let Some(id) = p.get("id").and_then(Value::as_str) {
                s.projects.get(id)
            } else {
                let name = p.get("name").and_then(Value::as_str).ok_or_else(|| {
                    bad("Invalid input for field 'scope/project': 'id' or 'name' is required")
                })?;
                if !domain_ok(p.get("domain")) {
                    return Err(unauth());
                }
                s.projects.values().find(|x| x.name == name)
            };
            Ok(Some(project.ok_or_else(unauth)?.id.clone()))
        })?;
        project_id = pid;
    } else if project_id.is_none() {
        project_id = c
            .store
            .read(|s| s.users.get(&user_id).map(|u| u.default_project_id.clone()));
    }
    if let Some(pid) = &project_id {
        let has_role = c.store.read(|s| {
            s.users
                .get(&user_id)
                .is_some_and(|u| u.roles.get(pid).is_some_and(|r| !r.is_empty()))
        });
        if !has_role {
            return Err(unauth());
        }
    }
    let mut all_methods = prior_methods;
    if !all_methods.contains(&method) {
        all_methods.push(method);
    }
    let expires = now_ts + chrono::Duration::hours(TOKEN_HOURS);
    let token = Token {
        user_id,
        project_id,
        methods: all_methods,
        audit_id: base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(rand::random::<[u8; 16]>()),
        issued_at: now_ts.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        expires_at: expires.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        expires_unix: expires.timestamp(),
        app_cred_id,
    };
    let mut raw = [0u8; 132];
    rand::thread_rng().fill(&mut raw[..]);
    let id = format!(
        "gAAAAA{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    );
    let nocatalog = headers.get("x-nocatalog").is_some();
    let body = {
        let now_unix = now_ts.timestamp();
        c.store.write(|s| {
            s.tokens.retain(|_, t| t.expires_unix > now_unix);
            s.tokens.insert(id.clone(), token.clone());
        });
        token_body(&c, &token, !nocatalog)?
    };
    let mut resp = (StatusCode::CREATED, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-subject-token", v);
    }
    Ok(resp)
}

/// The caller's token (`X-Auth-Token`), any scope.
fn caller(c: &Cloud, headers: &HeaderMap) -> ApiResult<Token> {
    let id = headers
        .get("x-auth-token")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(unauth)?;
    let now = chrono::Utc::now().timestamp();
    c.store
        .read(|s| s.tokens.get(id).filter(|t| t.expires_unix > now).cloned())
        .ok_or_else(unauth)
}

fn subject(c: &Cloud, headers: &HeaderMap) -> ApiResult<(String, Token)> {
    let id = headers
        .get("x-subject-token")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::not_found(S, "Could not find token: missing X-Subject-Token."))?
        .to_owned();
    let now = chrono::Utc::now().timestamp();
    let t = c
        .store
        .read(|s| s.tokens.get(&id).filter(|t| t.expires_unix > now).cloned())
        .ok_or_else(|| ApiError::not_found(S, format!("Could not find token: {id}")))?;
    Ok((id, t))
}

async fn validate_token(State(c): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    caller(&c, &headers)?;
    let (id, t) = subject(&c, &headers)?;
    let body = token_body(&c, &t, headers.get("x-nocatalog").is_none())?;
    let mut resp = Json(body).into_response();
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-subject-token", v);
    }
    Ok(resp)
}

async fn check_token(State(c): State<AppState>, headers: HeaderMap) -> ApiResult<StatusCode> {
    caller(&c, &headers)?;
    subject(&c, &headers)?;
    Ok(StatusCode::OK)
}

async fn revoke_token(State(c): State<AppState>, headers: HeaderMap) -> ApiResult<StatusCode> {
    caller(&c, &headers)?;
    let (id, _) = subject(&c, &headers)?;
    c.store.write(|s| s.tokens.remove(&id));
    Ok(StatusCode::NO_CONTENT)
}

async fn auth_catalog(
    State(c): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Json<w::CatalogResponse>> {
    let t = caller(&c, &headers)?;
    let pid = t.project_id.ok_or_else(|| {
        ApiError::forbidden(S, "The service catalog needs a project-scoped token.")
    })?;
    Ok(Json(w::CatalogResponse {
        catalog: catalog(&c, &pid),
        links: list_links(&c, "/identity/v3/auth/catalog"),
    }))
}

fn project_json(c: &Cloud, p: &Project) -> w::Project {
    w::Project {
        id: p.id.clone(),
        name: p.name.clone(),
        domain_id: p.domain_id.clone(),
        description: p.description.clone(),
        enabled: true,
        is_domain: false,
        parent_id: Some(p.domain_id.clone()),
        tags: Vec::new(),
        links: self_links(c, &format!("/identity/v3/projects/{}", p.id)),
    }
}

fn user_projects_of(c: &Cloud, user_id: &str) -> Vec<w::Project> {
    c.store.read(|s| {
        let Some(u) = s.users.get(user_id) else {
            return vec![];
        };
        u.roles
            .keys()
            .filter_map(|pid| s.projects.get(pid))
            .map(|p| project_json(c, p))
            .collect()
    })
}

async fn auth_projects(
    State(c): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Json<w::ProjectList>> {
    let t = caller(&c, &headers)?;
    Ok(Json(w::ProjectList {
        projects: user_projects_of(&c, &t.user_id),
        links: list_links(&c, "/identity/v3/auth/projects"),
    }))
}

fn is_admin(c: &Cloud, t: &Token) -> bool {
    c.store.read(|s| {
        t.project_id.as_ref().is_some_and(|pid| {
            s.users.get(&t.user_id).is_some_and(|u| {
                u.roles
                    .get(pid)
                    .is_some_and(|r| r.iter().any(|x| x == "admin"))
            })
        })
    })
}

async fn list_projects(
    State(c): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Json<w::ProjectList>> {
    let t = caller(&c, &headers)?;
    let projects = if is_admin(&c, &t) {
        c.store
            .read(|s| s.projects.values().map(|p| project_json(&c, p)).collect())
    } else {
        user_projects_of(&c, &t.user_id)
    };
    Ok(Json(w::ProjectList {
        projects,
        links: list_links(&c, "/identity/v3/projects"),
    }))
}

async fn show_project(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<w::ProjectResponse>> {
    let t = caller(&c, &headers)?;
    let visible = is_admin(&c, &t)
        || c.store.read(|s| {
            s.users
                .get(&t.user_id)
                .is_some_and(|u| u.roles.contains_key(&id))
        });
    let p = c
        .store
        .read(|s| s.projects.get(&id).cloned())
        .filter(|_| visible);
    let p = p.ok_or_else(|| ApiError::not_found(S, format!("Could not find project: {id}.")))?;
    Ok(Json(w::ProjectResponse {
        project: project_json(&c, &p),
    }))
}

fn own_user(c: &Cloud, headers: &HeaderMap, id: &str) -> ApiResult<(Token, User)> {
    let t = caller(c, headers)?;
    if t.user_id != id && !is_admin(c, &t) {
        return Err(ApiError::not_found(
            S,
            format!("Could not find user: {id}."),
        ));
    }
    let u = c
        .store
        .read(|s| s.users.get(id).cloned())
        .ok_or_else(|| ApiError::not_found(S, format!("Could not find user: {id}.")))?;
    Ok((t, u))
}

async fn show_user(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<w::UserResponse>> {
    let (_, u) = own_user(&c, &headers, &id)?;
    Ok(Json(w::UserResponse {
        user: w::User {
            links: self_links(&c, &format!("/identity/v3/users/{}", u.id)),
            id: u.id,
            name: u.name,
            domain_id: u.domain_id,
            enabled: true,
            default_project_id: Some(u.default_project_id).filter(|p| !p.is_empty()),
            password_expires_at: None,
            options: Some(w::Extra::new()),
        },
    }))
}

async fn user_projects(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<w::ProjectList>> {
    own_user(&c, &headers, &id)?;
    Ok(Json(w::ProjectList {
        projects: user_projects_of(&c, &id),
        links: list_links(&c, &format!("/identity/v3/users/{id}/projects")),
    }))
}

/// An application credential as Keystone shows it; the secret only in the create answer.
fn app_cred_json(c: &Cloud, a: &AppCred, secret: bool) -> w::ApplicationCredential {
    w::ApplicationCredential {
        id: a.id.clone(),
        name: a.name.clone(),
        description: a.description.clone(),
        secret: secret.then(|| Secret::new(a.secret.clone())),
        expires_at: a.expires_at.clone(),
        project_id: a.project_id.clone(),
        user_id: Some(a.user_id.clone()),
        unrestricted: a.unrestricted,
        roles: a.roles.iter().map(|n| role(n)).collect(),
        access_rules: Some(Vec::new()),
        links: self_links(
            c,
            &format!(
                "/identity/v3/users/{}/application_credentials/{}",
                a.user_id, a.id
            ),
        ),
    }
}

const APP_CRED_SCHEMA: Schema = Schema {
    service: S,
    wrapper: Some("application_credential"),
    fields: &[
        req("name", Ty::Str),
        opt("description", Ty::OptStr),
        opt("secret", Ty::OptStr),
        opt("expires_at", Ty::OptStr),
        opt("roles", Ty::Arr),
        opt("unrestricted", Ty::Bool),
        opt("access_rules", Ty::Arr),
    ],
    additional: false,
    siblings: &[],
};

async fn create_app_cred(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Response> {
    let (t, u) = own_user(&c, &headers, &id)?;
    let m = body::check(&APP_CRED_SCHEMA, body::parse_json(S, &bytes)?)?;
    let project_id = t
        .project_id
        .clone()
        .ok_or_else(|| ApiError::forbidden(S, "A project-scoped token is required."))?;
    let name = get_str(&m, "name").unwrap_or_default();
    if c.store.read(|s| {
        s.app_creds
            .values()
            .any(|a| a.user_id == u.id && a.name == name)
    }) {
        return Err(ApiError::conflict(S, format!("Conflict occurred attempting to store application_credential - Duplicate entry found with name {name}.")));
    }
    let roles = u.roles.get(&project_id).cloned().unwrap_or_default();
    let a = AppCred {
        id: new_hex_id(),
        name,
        description: get_str(&m, "description"),
        user_id: u.id.clone(),
        project_id,
        secret: get_str(&m, "secret").unwrap_or_else(|| random_secret(64)),
        roles,
        expires_at: get_str(&m, "expires_at"),
        unrestricted: m
            .get("unrestricted")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    };
    c.store
        .write(|s| s.app_creds.insert(a.id.clone(), a.clone()));
    Ok((
        StatusCode::CREATED,
        Json(w::ApplicationCredentialResponse {
            application_credential: app_cred_json(&c, &a, true),
        }),
    )
        .into_response())
}

async fn list_app_creds(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<w::ApplicationCredentialList>> {
    own_user(&c, &headers, &id)?;
    let list = c.store.read(|s| {
        s.app_creds
            .values()
            .filter(|a| a.user_id == id)
            .map(|a| app_cred_json(&c, a, false))
            .collect()
    });
    Ok(Json(w::ApplicationCredentialList {
        application_credentials: list,
        links: list_links(
            &c,
            &format!("/identity/v3/users/{id}/application_credentials"),
        ),
    }))
}

async fn show_app_cred(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((id, cred)): Path<(String, String)>,
) -> ApiResult<Json<w::ApplicationCredentialResponse>> {
    own_user(&c, &headers, &id)?;
    let a = c
        .store
        .read(|s| s.app_creds.get(&cred).filter(|a| a.user_id == id).cloned());
    let a = a.ok_or_else(|| {
        ApiError::not_found(S, format!("Could not find application credential: {cred}."))
    })?;
    Ok(Json(w::ApplicationCredentialResponse {
        application_credential: app_cred_json(&c, &a, false),
    }))
}

async fn delete_app_cred(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((id, cred)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    own_user(&c, &headers, &id)?;
    let removed = c.store.write(|s| {
        if s.app_creds.get(&cred).is_some_and(|a| a.user_id == id) {
            s.app_creds.remove(&cred);
            s.tokens
                .retain(|_, t| t.app_cred_id.as_deref() != Some(cred.as_str()));
            true
        } else {
            false
        }
    });
    if removed {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(
            S,
            format!("Could not find application credential: {cred}."),
        ))
    }
}
