//! Keystone v3: version discovery, password / token / application-credential authentication,
//! token validation and revocation, the catalog (pointing at localcloud itself), projects, users
//! and application credentials. One domain, `Default` (id `default`); VK's user domain name
//! `users` is accepted as an alias.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use rand::Rng as _;
use serde_json::{json, Map, Value};
use sha2::Digest as _;

use crate::body::{self, opt, req, Schema, Ty};
use crate::error::{ApiError, ApiResult, Service};
use crate::model::{
    AccessRule, AppCred, Bootstrap, Domain, Project, Role, State as Db, Token, User, BUILTIN_ROLES,
};
use crate::util::{get_str, new_hex_id};
use crate::{AdminCredentials, AppState, Cloud, Config, Credentials, ProjectCredentials};
use vitrina_openstack::wire::identity as w;
use vitrina_openstack::wire::Link;
use vitrina_openstack::Secret;

mod admin;
mod implied_roles;
mod registry;

const S: Service = Service::Identity;
const TOKEN_HOURS: i64 = 12;
pub const DEFAULT_DOMAIN: &str = "default";

pub fn routes() -> Router<AppState> {
    registry::routes(implied_roles::routes(admin::routes(Router::new())))
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
        .route(
            "/identity/v3/projects",
            get(list_projects).post(admin::create_project),
        )
        .route(
            "/identity/v3/projects/{id}",
            get(show_project)
                .patch(admin::update_project)
                .delete(admin::delete_project),
        )
        .route(
            "/identity/v3/users/{id}",
            get(show_user)
                .patch(admin::update_user)
                .delete(admin::delete_user),
        )
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

pub(crate) fn random_secret(len: usize) -> String {
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
        // The default domain and the built-in roles, also in state files older than them.
        s.domains
            .entry(DEFAULT_DOMAIN.to_owned())
            .or_insert_with(|| Domain {
                id: DEFAULT_DOMAIN.into(),
                name: "Default".into(),
                description: "The default domain".into(),
                enabled: true,
            });
        for name in BUILTIN_ROLES {
            let id = stable_id(name);
            s.roles.entry(id.clone()).or_insert_with(|| Role {
                id,
                name: (*name).to_owned(),
                description: None,
            });
        }
        if s.bootstrap.is_some() {
            return;
        }
        let admin_project = Project {
            id: new_hex_id(),
            name: "admin".into(),
            description: "Bootstrap project for administrators".into(),
            domain_id: DEFAULT_DOMAIN.into(),
            enabled: true,
        };
        let demo_project = Project {
            id: new_hex_id(),
            name: "demo".into(),
            description: "Demo project".into(),
            domain_id: DEFAULT_DOMAIN.into(),
            enabled: true,
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
            enabled: true,
            email: None,
            description: None,
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
            enabled: true,
            email: None,
            description: None,
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
            projects: {
                let mut m = BTreeMap::from([(
                    "demo".to_owned(),
                    ProjectCredentials {
                        id: b.demo_project_id.clone(),
                        username: name(&b.demo_user_id),
                        password: pw(&b.demo_user_id),
                    },
                )]);
                // devstack's second tenant (`--fixtures devstack`).
                if let Some(u) = s.users.values().find(|u| u.name == "alt_demo") {
                    m.insert(
                        "alt_demo".to_owned(),
                        ProjectCredentials {
                            id: u.default_project_id.clone(),
                            username: u.name.clone(),
                            password: u.password.clone(),
                        },
                    );
                }
                m
            },
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
    // The clouds devstack writes to /etc/openstack/clouds.yaml, for tools and test suites
    // written against devstack. `devstack-system-admin` is project-scoped here: localcloud
    // has no system scope.
    if cfg.fixtures == crate::Fixtures::Devstack {
        if let Some(d) = demo {
            out.push_str(&entry("devstack", &d.username, &d.password, &d.id, "demo"));
            out.push_str(&entry(
                "devstack-admin-demo",
                &c.admin.username,
                &c.admin.password,
                &d.id,
                "demo",
            ));
        }
        if let Some(a) = c.projects.get("alt_demo") {
            out.push_str(&entry(
                "devstack-alt",
                &a.username,
                &a.password,
                &a.id,
                "alt_demo",
            ));
        }
        for name in ["devstack-admin", "devstack-system-admin"] {
            out.push_str(&entry(
                name,
                &c.admin.username,
                &c.admin.password,
                &c.admin.project_id,
                "admin",
            ));
        }
    }
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

/// The id of the domain a reference `{"id"}` or `{"name"}` names (absent: the default domain;
/// VK's user domain name `users` is an alias of it); `None` when there is no such domain.
pub(crate) fn domain_of(s: &Db, d: Option<&Value>) -> Option<String> {
    match d {
        None | Some(Value::Null) => Some(DEFAULT_DOMAIN.to_owned()),
        Some(Value::Object(m)) => {
            if let Some(id) = m.get("id").and_then(Value::as_str) {
                return s.domains.get(id).map(|d| d.id.clone());
            }
            let name = m.get("name").and_then(Value::as_str)?;
            if name == "users" {
                return Some(DEFAULT_DOMAIN.to_owned());
            }
            s.domains
                .values()
                .find(|d| {
                    d.name == name || (d.id == DEFAULT_DOMAIN && d.name.eq_ignore_ascii_case(name))
                })
                .map(|d| d.id.clone())
        }
        Some(_) => None,
    }
}

/// The service catalog for a project.
pub fn catalog(cloud: &Cloud, project_id: &str) -> Vec<w::CatalogEntry> {
    cloud.store.read(|s| catalog_in(cloud, s, project_id))
}

/// The catalog, read from a state already locked (the store's lock is not reentrant).
fn catalog_in(cloud: &Cloud, s: &Db, project_id: &str) -> Vec<w::CatalogEntry> {
    let mut entries = catalog_builtin(cloud, project_id);
    entries.extend(registry::catalog_entries(s));
    entries
}

/// The services localcloud serves itself.
fn catalog_builtin(cloud: &Cloud, project_id: &str) -> Vec<w::CatalogEntry> {
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
            token.roles = Some(s.token_roles(t).iter().map(|n| role(n)).collect());
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
                token.catalog = Some(catalog_in(cloud, s, pid));
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

/// Finds an enabled user by `{"id"}` or `{"name","domain"}`.
fn find_user<'a>(s: &'a Db, u: &Map<String, Value>) -> ApiResult<&'a User> {
    let user = if let Some(id) = u.get("id").and_then(Value::as_str) {
        s.users.get(id)
    } else {
        let name = u.get("name").and_then(Value::as_str).ok_or_else(|| {
            bad("Invalid input for field 'user': either 'id' or 'name' is required")
        })?;
        let domain = domain_of(s, u.get("domain")).ok_or_else(unauth)?;
        s.users
            .values()
            .find(|x| x.name == name && x.domain_id == domain)
    };
    user.filter(|u| u.enabled).ok_or_else(unauth)
}

/// Who one auth method says the caller is.
struct Proof {
    user_id: String,
    project_id: Option<String>,
    app_cred_id: Option<String>,
    roles: Option<Vec<String>>,
    methods: Vec<String>,
    /// The latest the new token may expire (a re-issued token or a credential's expiry).
    expires_cap: Option<i64>,
}

/// Checks one auth method of a request.
fn prove(
    s: &Db,
    method: &str,
    identity: &Map<String, Value>,
    scoped: bool,
    now: i64,
) -> ApiResult<Proof> {
    match method {
        "password" => {
            let pw = identity
                .get("password")
                .and_then(Value::as_object)
                .ok_or_else(|| {
                    bad("Invalid input for field 'identity': 'password' is a required property")
                })?;
            let u = pw.get("user").and_then(Value::as_object).ok_or_else(|| {
                bad("Invalid input for field 'identity/password': 'user' is a required property")
            })?;
            let given = u
                .get("password")
                .and_then(Value::as_str)
                .ok_or_else(unauth)?;
            let user = find_user(s, u)?;
            if user.password != given {
                return Err(unauth());
            }
            Ok(Proof {
                user_id: user.id.clone(),
                project_id: None,
                app_cred_id: None,
                roles: None,
                methods: vec![],
                expires_cap: None,
            })
        }
        "token" => {
            let id = identity
                .get("token")
                .and_then(|t| t.get("id"))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    bad("Invalid input for field 'identity/token': 'id' is a required property")
                })?;
            let t = s.live_token(id, now).ok_or_else(unauth)?;
            Ok(Proof {
                user_id: t.user_id.clone(),
                project_id: t.project_id.clone(),
                app_cred_id: t.app_cred_id.clone(),
                roles: t.roles.clone(),
                methods: t.methods.clone(),
                expires_cap: Some(t.expires_unix),
            })
        }
        "application_credential" => {
            let ac = identity.get("application_credential").and_then(Value::as_object).ok_or_else(|| bad("Invalid input for field 'identity': 'application_credential' is a required property"))?;
            let secret = ac.get("secret").and_then(Value::as_str).ok_or_else(|| bad("Invalid input for field 'application_credential': 'secret' is a required property"))?;
            let cred = if let Some(id) = ac.get("id").and_then(Value::as_str) {
                s.app_creds.get(id)
            } else {
                let name = ac.get("name").and_then(Value::as_str).ok_or_else(|| bad("Invalid input for field 'application_credential': 'id' or 'name' is required"))?;
                let user = ac
                    .get("user")
                    .and_then(Value::as_object)
                    .ok_or_else(unauth)?;
                let user = find_user(s, user)?;
                s.app_creds
                    .values()
                    .find(|a| a.name == name && a.user_id == user.id)
            };
            let cred = cred.filter(|a| a.secret == secret).ok_or_else(unauth)?;
            if cred.expired(now) || scoped {
                return Err(unauth());
            }
            s.users
                .get(&cred.user_id)
                .filter(|u| u.enabled)
                .ok_or_else(unauth)?;
            Ok(Proof {
                user_id: cred.user_id.clone(),
                project_id: Some(cred.project_id.clone()),
                app_cred_id: Some(cred.id.clone()),
                roles: Some(cred.roles.clone()),
                methods: vec![],
                expires_cap: cred
                    .expires_at
                    .as_deref()
                    .and_then(crate::model::parse_time),
            })
        }
        other => Err(ApiError::new(
            S,
            StatusCode::UNAUTHORIZED,
            format!("Attempted to authenticate with an unsupported method: {other}"),
        )),
    }
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
    let mut methods: Vec<String> = match identity.get("methods") {
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
    methods.dedup();
    if methods.is_empty() {
        return Err(bad(
            "Invalid input for field 'identity/methods': [] is too short",
        ));
    }
    let scope = auth.get("scope").cloned();
    let now_ts = chrono::Utc::now();
    let now = now_ts.timestamp();
    // Every method must prove the same user (L4: not only the first one).
    let proof = c.store.read(|s| -> ApiResult<Proof> {
        let mut merged: Option<Proof> = None;
        for m in &methods {
            let p = prove(s, m, &identity, scope.is_some(), now)?;
            merged = Some(match merged {
                None => p,
                Some(prev) => {
                    if prev.user_id != p.user_id {
                        return Err(unauth());
                    }
                    Proof {
                        user_id: prev.user_id,
                        project_id: prev.project_id.or(p.project_id),
                        app_cred_id: prev.app_cred_id.or(p.app_cred_id),
                        roles: prev.roles.or(p.roles),
                        methods: [prev.methods, p.methods].concat(),
                        expires_cap: match (prev.expires_cap, p.expires_cap) {
                            (Some(a), Some(b)) => Some(a.min(b)),
                            (a, b) => a.or(b),
                        },
                    }
                }
            });
        }
        merged.ok_or_else(unauth)
    })?;
    let Proof {
        user_id,
        mut project_id,
        app_cred_id,
        roles,
        methods: prior_methods,
        expires_cap,
    } = proof;
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
                let domain = domain_of(s, p.get("domain")).ok_or_else(unauth)?;
                s.projects
                    .values()
                    .find(|x| x.name == name && x.domain_id == domain)
            };
            Ok(Some(project.ok_or_else(unauth)?.id.clone()))
        })?;
        // An application credential's token stays in the credential's project (H5).
        if app_cred_id.is_some() && pid != project_id {
            return Err(ApiError::forbidden(
                S,
                "You are not authorized to perform the requested action: a token of an application credential cannot be rescoped.",
            ));
        }
        project_id = pid;
    } else if project_id.is_none() {
        project_id = c.store.read(|s| {
            s.users
                .get(&user_id)
                .map(|u| u.default_project_id.clone())
                .filter(|p| !s.roles_on(&user_id, p).is_empty())
        });
    }
    let token_roles = |s: &Db, pid: &str| {
        let mut r = s.roles_on(&user_id, pid);
        if let Some(limit) = &roles {
            r.retain(|x| limit.contains(x));
        }
        r
    };
    if let Some(pid) = &project_id {
        if c.store.read(|s| token_roles(s, pid).is_empty()) {
            return Err(unauth());
        }
    }
    let mut all_methods = prior_methods;
    for m in methods {
        if !all_methods.contains(&m) {
            all_methods.push(m);
        }
    }
    let mut expires = now_ts + chrono::Duration::hours(TOKEN_HOURS);
    if let Some(cap) = expires_cap.and_then(|t| chrono::DateTime::from_timestamp(t, 0)) {
        expires = expires.min(cap);
    }
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
        roles,
    };
    let mut raw = [0u8; 132];
    rand::thread_rng().fill(&mut raw[..]);
    let id = format!(
        "gAAAAA{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    );
    let nocatalog = headers.get("x-nocatalog").is_some();
    let body = {
        c.store.write(|s| {
            s.tokens.retain(|_, t| t.expires_unix > now);
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

/// The caller's token (`X-Auth-Token`), any scope: live, of an enabled user (L3).
fn caller(c: &Cloud, headers: &HeaderMap) -> ApiResult<Token> {
    let id = headers
        .get("x-auth-token")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(unauth)?;
    let now = chrono::Utc::now().timestamp();
    c.store
        .read(|s| s.live_token(id, now).cloned())
        .ok_or_else(unauth)
}

/// The token of `X-Subject-Token`, which the caller may validate or revoke: its own, or any
/// when the caller holds the `admin` or `service` role (L3).
fn subject(c: &Cloud, headers: &HeaderMap, caller: &Token) -> ApiResult<(String, Token)> {
    let id = headers
        .get("x-subject-token")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::not_found(S, "Could not find token: missing X-Subject-Token."))?
        .to_owned();
    let now = chrono::Utc::now().timestamp();
    let t = c
        .store
        .read(|s| s.live_token(&id, now).cloned())
        .ok_or_else(|| ApiError::not_found(S, format!("Could not find token: {id}")))?;
    let privileged = c.store.read(|s| {
        s.token_roles(caller)
            .iter()
            .any(|r| r == "admin" || r == "service")
    });
    if t.user_id != caller.user_id && !privileged {
        return Err(ApiError::forbidden(
            S,
            "You are not authorized to perform the requested action: identity:validate_token.",
        ));
    }
    Ok((id, t))
}

async fn validate_token(State(c): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    let me = caller(&c, &headers)?;
    let (id, t) = subject(&c, &headers, &me)?;
    let body = token_body(&c, &t, headers.get("x-nocatalog").is_none())?;
    let mut resp = Json(body).into_response();
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-subject-token", v);
    }
    Ok(resp)
}

async fn check_token(State(c): State<AppState>, headers: HeaderMap) -> ApiResult<StatusCode> {
    let me = caller(&c, &headers)?;
    subject(&c, &headers, &me)?;
    Ok(StatusCode::OK)
}

async fn revoke_token(State(c): State<AppState>, headers: HeaderMap) -> ApiResult<StatusCode> {
    let me = caller(&c, &headers)?;
    let (id, _) = subject(&c, &headers, &me)?;
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
        enabled: p.enabled,
        is_domain: false,
        parent_id: Some(p.domain_id.clone()),
        tags: Vec::new(),
        links: self_links(c, &format!("/identity/v3/projects/{}", p.id)),
    }
}

fn user_projects_of(c: &Cloud, user_id: &str) -> Vec<w::Project> {
    c.store.read(|s| {
        s.projects_of(user_id)
            .iter()
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

/// Whether a token carries the `admin` role on its project.
fn is_admin(c: &Cloud, t: &Token) -> bool {
    c.store
        .read(|s| s.token_roles(t).iter().any(|r| r == "admin"))
}

async fn list_projects(
    State(c): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> ApiResult<Json<w::ProjectList>> {
    let t = caller(&c, &headers)?;
    let mut projects = if is_admin(&c, &t) {
        c.store
            .read(|s| s.projects.values().map(|p| project_json(&c, p)).collect())
    } else {
        user_projects_of(&c, &t.user_id)
    };
    for (k, v) in &query {
        match k.as_str() {
            "name" => projects.retain(|p| &p.name == v),
            "domain_id" => projects.retain(|p| &p.domain_id == v),
            "enabled" => projects.retain(|p| p.enabled == v.eq_ignore_ascii_case("true")),
            "id" => projects.retain(|p| &p.id == v),
            _ => {}
        }
    }
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
    let visible = is_admin(&c, &t) || c.store.read(|s| !s.roles_on(&t.user_id, &id).is_empty());
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
        access_rules: Some(
            a.access_rules
                .iter()
                .map(|r| serde_json::json!({"id": r.id, "service": r.service, "method": r.method, "path": r.path}))
                .collect(),
        ),
        links: self_links(
            c,
            &format!(
                "/identity/v3/users/{}/application_credentials/{}",
                a.user_id, a.id
            ),
        ),
    }
}

/// Refuses a token of a restricted application credential: it cannot create or delete
/// application credentials (H5).
fn not_restricted(c: &Cloud, t: &Token) -> ApiResult<()> {
    let restricted = t.app_cred_id.as_ref().is_some_and(|id| {
        c.store
            .read(|s| s.app_creds.get(id).is_none_or(|a| !a.unrestricted))
    });
    if restricted {
        return Err(ApiError::forbidden(
            S,
            "Using method 'application_credential' is not allowed for managing additional application credentials.",
        ));
    }
    Ok(())
}

/// The role names an application credential asks for (`[{"id"}|{"name"}]`), each one the
/// caller holds on the project; all of them when it asks for none.
fn asked_roles(
    s: &Db,
    m: &Map<String, Value>,
    t: &Token,
    project_id: &str,
) -> ApiResult<Vec<String>> {
    let held = s.token_roles(t);
    let Some(list) = m
        .get("roles")
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty())
    else {
        return Ok(held);
    };
    let mut out = Vec::new();
    for r in list {
        let name = if let Some(id) = r.get("id").and_then(Value::as_str) {
            s.roles.get(id).map(|x| x.name.clone())
        } else {
            r.get("name").and_then(Value::as_str).map(str::to_owned)
        };
        let name = name.ok_or_else(|| bad(format!("Invalid role reference: {r}")))?;
        if !held.contains(&name) {
            return Err(ApiError::not_found(
                S,
                format!("Could not find role assignment with role: {name}, user or group: {}, project, domain, or system: {project_id}.", t.user_id),
            ));
        }
        if !out.contains(&name) {
            out.push(name);
        }
    }
    Ok(out)
}

const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];

/// The access rules of a create body.
fn access_rules(m: &Map<String, Value>) -> ApiResult<Vec<AccessRule>> {
    let mut out = Vec::new();
    for r in m
        .get("access_rules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let field = |k: &str| r.get(k).and_then(Value::as_str).map(str::to_owned);
        let (Some(service), Some(method), Some(path)) =
            (field("service"), field("method"), field("path"))
        else {
            return Err(bad(format!(
                "Invalid input for field 'access_rules': {r} needs service, method and path"
            )));
        };
        if !METHODS.contains(&method.as_str()) || !path.starts_with('/') || service.is_empty() {
            return Err(bad(format!("Invalid input for field 'access_rules': {r}")));
        }
        out.push(AccessRule {
            id: new_hex_id(),
            service,
            method,
            path,
        });
    }
    Ok(out)
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
    not_restricted(&c, &t)?;
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
    let expires_at = get_str(&m, "expires_at");
    if let Some(e) = &expires_at {
        if crate::model::parse_time(e).is_none() {
            return Err(bad(format!(
                "Invalid input for field 'expires_at': '{e}' is not a valid date-time"
            )));
        }
    }
    let roles = c.store.read(|s| asked_roles(s, &m, &t, &project_id))?;
    let a = AppCred {
        id: new_hex_id(),
        name,
        description: get_str(&m, "description"),
        user_id: u.id.clone(),
        project_id,
        secret: get_str(&m, "secret").unwrap_or_else(|| random_secret(64)),
        roles,
        expires_at,
        unrestricted: m
            .get("unrestricted")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        access_rules: access_rules(&m)?,
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
    let (t, _) = own_user(&c, &headers, &id)?;
    not_restricted(&c, &t)?;
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

/// The catalog types of the service a request path below the base URL goes to, and the path
/// below that service's endpoint mount (`/compute/v2.1/servers` → `compute`, `/v2.1/servers`).
fn service_of(path: &str) -> (&'static [&'static str], &str) {
    const PREFIXES: &[(&str, &[&str])] = &[
        ("/compute", &["compute"]),
        ("/networking", &["network"]),
        ("/volume", &["volumev3", "block-storage", "volume"]),
        ("/image", &["image"]),
        ("/identity", &["identity"]),
    ];
    for (prefix, types) in PREFIXES {
        if let Some(rest) = path.strip_prefix(prefix) {
            if rest.is_empty() || rest.starts_with('/') {
                return (types, rest);
            }
        }
    }
    (&[], path)
}

/// Whether a path matches an access rule's path: `*` is one segment, `**` any number.
fn path_matches(rule: &[&str], path: &[&str]) -> bool {
    match rule.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|n| path_matches(rest, &path[n..])),
        Some((seg, rest)) => path
            .split_first()
            .is_some_and(|(p, prest)| (*seg == "*" || seg == p) && path_matches(rest, prest)),
    }
}

/// Whether an application credential's access rules allow a request.
fn rules_allow(rules: &[AccessRule], method: &str, path: &str) -> bool {
    let (types, below) = service_of(path);
    let segs: Vec<&str> = below.split('/').filter(|s| !s.is_empty()).collect();
    rules.iter().any(|r| {
        types.contains(&r.service.as_str())
            && (r.method == method || (r.method == "GET" && method == "HEAD"))
            && path_matches(
                &r.path
                    .split('/')
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>(),
                &segs,
            )
    })
}

/// Middleware: a request made with a token of an application credential that has access
/// rules must match one of them, or it gets a 401 (as keystonemiddleware answers).
pub async fn enforce_access_rules(
    State(c): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let rules = req
        .headers()
        .get("x-auth-token")
        .and_then(|v| v.to_str().ok())
        .and_then(|token| {
            c.store.read(|s| {
                let t = s.tokens.get(token)?;
                let cred = s.app_creds.get(t.app_cred_id.as_ref()?)?;
                Some(cred.access_rules.clone()).filter(|r| !r.is_empty())
            })
        });
    if let Some(rules) = rules {
        if !rules_allow(&rules, req.method().as_str(), req.uri().path()) {
            let service = match service_of(req.uri().path()).0.first() {
                Some(&"network") => Service::Network,
                Some(&"image") => Service::Image,
                Some(&"volumev3") => Service::Volume,
                Some(&"identity") => Service::Identity,
                _ => Service::Compute,
            };
            return ApiError::unauthorized(service).into_response();
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_rule_paths_match_with_wildcards() {
        let rule = |m: &str, p: &str| AccessRule {
            id: String::new(),
            service: "compute".into(),
            method: m.into(),
            path: p.into(),
        };
        let rules = [rule("GET", "/v2.1/servers/*"), rule("POST", "/v2.1/**")];
        assert!(rules_allow(&rules, "GET", "/compute/v2.1/servers/abc"));
        assert!(rules_allow(&rules, "HEAD", "/compute/v2.1/servers/abc"));
        assert!(!rules_allow(&rules, "GET", "/compute/v2.1/servers/abc/ips"));
        assert!(!rules_allow(&rules, "GET", "/compute/v2.1/servers"));
        assert!(rules_allow(
            &rules,
            "POST",
            "/compute/v2.1/servers/x/action"
        ));
        assert!(rules_allow(&rules, "POST", "/compute/v2.1"));
        assert!(!rules_allow(&rules, "DELETE", "/compute/v2.1/servers/abc"));
        assert!(!rules_allow(&rules, "GET", "/networking/v2.0/networks/abc"));
    }
}
