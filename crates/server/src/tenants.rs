//! Tenants and access: vendors, consumer projects and broker accounts, and the one place where a
//! request's credentials become a typed caller context.
//!
//! - A **vendor** has a name and service tokens (`x-service-token`); it owns products.
//! - A **consumer project** has an id, a name, an email, API tokens (`x-auth-token`) and a cloud
//!   behind it: a project of the built-in `localcloud` (created through its Keystone admin API)
//!   or an external OpenStack cloud read from a clouds.yaml. Its credentials are sealed at rest.
//!   A Keystone token issued by the built-in cloud for that cloud project is accepted too.
//! - A **broker account** (HTTP Basic) sees one [`Namespace`]: `public` or `test`.
//!
//! Handlers take a [`VendorCtx`], [`ProjectCtx`] or [`BrokerCtx`] as an axum extractor (any
//! router state `S` with `Arc<Tenants>: FromRef<S>`), or call [`Tenants::vendor_from_headers`]
//! and its siblings; the store's queries for tenants' data take that context. A context can only
//! be made here: by authentication, or by [`Tenants::project_ctx_for_job`] for a background job
//! acting for a project it recorded earlier.
//!
//! Tokens and passwords are stored as SHA-256 hashes (passwords salted); they are random and
//! long, so a fast hash is enough. Failed authentication is always `401` with no detail.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use vitrina_common::Secret;

use crate::crypto::{new_token, token_hash, Sealer};
use crate::error::ServerError;
use crate::store::tenants::ProjectRow;
use crate::store::{now_ms, Store};

/// Header of a vendor's service token.
pub const SERVICE_TOKEN_HEADER: &str = "x-service-token";
/// Header of a consumer project's API token (or a Keystone token of its `localcloud` project).
pub const AUTH_TOKEN_HEADER: &str = "x-auth-token";

const KIND_LOCAL: &str = "localcloud";
const KIND_EXTERNAL: &str = "external";

/// A broker account's view of the catalog.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Namespace {
    /// The latest published revision of each service.
    Public,
    /// Every revision that is not archived.
    Test,
}

impl Namespace {
    pub fn as_str(self) -> &'static str {
        match self {
            Namespace::Public => "public",
            Namespace::Test => "test",
        }
    }

    pub fn parse(s: &str) -> Option<Namespace> {
        match s {
            "public" => Some(Namespace::Public),
            "test" => Some(Namespace::Test),
            _ => None,
        }
    }
}

impl std::fmt::Display for Namespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An authenticated vendor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VendorCtx {
    id: String,
    name: String,
}

impl VendorCtx {
    /// The vendor's id (a UUID); products are owned by it.
    pub fn id(&self) -> &str {
        &self.id
    }
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// An authenticated consumer project.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProjectCtx {
    id: String,
    name: String,
    email: String,
}

impl ProjectCtx {
    /// The project's id (a UUID); deployments and configs are owned by it.
    pub fn id(&self) -> &str {
        &self.id
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn email(&self) -> &str {
        &self.email
    }
}

/// An authenticated broker account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerCtx {
    username: String,
    namespace: Namespace,
}

impl BrokerCtx {
    pub fn username(&self) -> &str {
        &self.username
    }
    /// The only namespace this account sees.
    pub fn namespace(&self) -> Namespace {
        self.namespace
    }
}

/// A vendor as created or found (no secrets).
#[derive(Clone, Debug, Serialize)]
pub struct Vendor {
    pub id: String,
    pub name: String,
}

/// A consumer project as created or found (no secrets).
#[derive(Clone, Debug, Serialize)]
pub struct Project {
    pub id: String,
    pub name: String,
    pub email: String,
    /// `localcloud` or `external`.
    pub cloud_kind: String,
    /// The project's id in its cloud, when known.
    pub cloud_project_id: Option<String>,
}

/// What an OpenStack client needs to act in a project's cloud (password authentication).
/// Sealed at rest; the password never prints.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloudCredentials {
    pub auth_url: String,
    pub region: Option<String>,
    /// `public` unless the clouds.yaml says otherwise.
    pub interface: String,
    pub username: String,
    pub password: Secret,
    pub project_id: Option<String>,
    pub project_name: Option<String>,
    pub user_domain_name: String,
    pub project_domain_name: String,
}

impl CloudCredentials {
    /// The same credentials as the `openstack` room's configuration.
    pub fn to_cloud_config(&self, name: &str) -> vitrina_openstack::CloudConfig {
        use vitrina_openstack::{AuthMethod, CloudConfig, DomainSpec, ScopeSpec, UserSpec};
        let scope = match (&self.project_id, &self.project_name) {
            (Some(id), _) => ScopeSpec::ProjectId(id.clone()),
            (None, Some(n)) => ScopeSpec::ProjectName {
                name: n.clone(),
                domain: DomainSpec::Name(self.project_domain_name.clone()),
            },
            (None, None) => ScopeSpec::Unscoped,
        };
        CloudConfig {
            name: Some(name.to_owned()),
            auth_url: self.auth_url.clone(),
            auth: AuthMethod::Password {
                user: UserSpec::Name {
                    name: self.username.clone(),
                    domain: DomainSpec::Name(self.user_domain_name.clone()),
                },
                password: self.password.clone(),
                scope,
            },
            region_name: self.region.clone(),
            interface: self.interface.clone(),
            verify: true,
            cacert: None,
            endpoint_overrides: Default::default(),
        }
    }

    /// A clouds.yaml holding these credentials as cloud `name`.
    pub fn clouds_yaml(&self, name: &str) -> String {
        let q = |s: &str| serde_json::Value::String(s.to_owned()).to_string();
        let mut auth = format!(
            "      auth_url: {}\n      username: {}\n      password: {}\n      user_domain_name: {}\n      project_domain_name: {}\n",
            q(&self.auth_url),
            q(&self.username),
            q(self.password.expose()),
            q(&self.user_domain_name),
            q(&self.project_domain_name),
        );
        if let Some(id) = &self.project_id {
            auth.push_str(&format!("      project_id: {}\n", q(id)));
        }
        if let Some(n) = &self.project_name {
            auth.push_str(&format!("      project_name: {}\n", q(n)));
        }
        // A plain name stays unquoted, as people write clouds.yaml.
        let key = if !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            name.to_owned()
        } else {
            q(name)
        };
        let mut out = format!("clouds:\n  {key}:\n    auth:\n{auth}");
        if let Some(r) = &self.region {
            out.push_str(&format!("    region_name: {}\n", q(r)));
        }
        out.push_str(&format!(
            "    interface: {}\n    identity_api_version: 3\n",
            q(&self.interface)
        ));
        out
    }
}

/// The cloud behind a new consumer project.
#[derive(Clone, Debug)]
pub enum NewCloud {
    /// A new project (and user) in the built-in `localcloud`, named `vitrina-<project name>`.
    Local,
    /// A cloud of a clouds.yaml file, read now; only password authentication is supported.
    CloudsYaml {
        path: std::path::PathBuf,
        cloud: String,
    },
    /// Credentials given directly.
    Credentials(CloudCredentials),
}

/// A new consumer project.
#[derive(Clone, Debug)]
pub struct NewProject {
    pub name: String,
    pub email: String,
    pub cloud: NewCloud,
}

/// Tenants and access: see the module documentation.
pub struct Tenants {
    store: Store,
    sealer: Sealer,
    cloud: Option<vitrina_localcloud::LocalCloud>,
    http: reqwest::Client,
}

fn place_project_cloud(project_id: &str) -> String {
    format!("project-cloud|{project_id}")
}

fn place_setting(name: &str) -> String {
    format!("setting|{name}")
}

/// Names of vendors, projects and broker accounts: 1–64 of `[A-Za-z0-9._@-]`.
fn check_name(kind: &str, name: &str) -> Result<(), ServerError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err(ServerError::Invalid(format!(
            "{kind} name must have 1 to 64 characters of `A-Z a-z 0-9 . _ - @`"
        )))
    }
}

fn salted_hash(salt: &str, password: &str) -> String {
    format!("{salt}${}", token_hash(&format!("{salt}:{password}")))
}

fn verify_salted(stored: &str, password: &str) -> bool {
    match stored.split_once('$') {
        Some((salt, _)) => {
            let want = salted_hash(salt, password);
            // Same length always (hex digests); compare without early exit.
            want.len() == stored.len()
                && want
                    .bytes()
                    .zip(stored.bytes())
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0
        }
        None => false,
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 4096)
}

/// `Authorization: Basic …` → (username, password).
fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let v = header_str(headers, "authorization")?;
    let (scheme, rest) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_owned(), p.to_owned()))
}

fn project_of(row: &ProjectRow) -> Project {
    Project {
        id: row.id.clone(),
        name: row.name.clone(),
        email: row.email.clone(),
        cloud_kind: row.cloud_kind.clone(),
        cloud_project_id: row.cloud_project_id.clone(),
    }
}

fn ctx_of(row: &ProjectRow) -> ProjectCtx {
    ProjectCtx {
        id: row.id.clone(),
        name: row.name.clone(),
        email: row.email.clone(),
    }
}

/// An error of the built-in cloud's Keystone while creating a project.
fn keystone_err(what: &str, e: impl std::fmt::Display) -> ServerError {
    ServerError::Unavailable(format!("localcloud identity: {what}: {e}"))
}

impl Tenants {
    /// `cloud` is the built-in cloud when `vitrina serve` runs one.
    pub fn new(
        store: Store,
        sealer: Sealer,
        cloud: Option<vitrina_localcloud::LocalCloud>,
    ) -> Arc<Tenants> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_default();
        Arc::new(Tenants {
            store,
            sealer,
            cloud,
            http,
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn sealer(&self) -> &Sealer {
        &self.sealer
    }

    // ---- vendors ----

    /// The vendor called `name`, created when missing (idempotent).
    pub async fn ensure_vendor(&self, name: &str) -> Result<Vendor, ServerError> {
        check_name("vendor", name)?;
        let id = uuid::Uuid::new_v4().to_string();
        self.store.vendor_insert(&id, name).await?;
        let row = self
            .store
            .vendor_by_name(name)
            .await?
            .ok_or_else(|| ServerError::internal("vendor vanished after insert"))?;
        Ok(Vendor {
            id: row.id,
            name: row.name,
        })
    }

    /// A new service token for `vendor` (only its hash is kept).
    pub async fn issue_vendor_token(&self, vendor: &Vendor) -> Result<Secret, ServerError> {
        let token = new_token("vts_");
        self.store
            .vendor_token_add(&vendor.id, &token_hash(&token))
            .await?;
        Ok(Secret::new(token))
    }

    /// The vendor whose service token this is.
    pub async fn vendor_by_token(&self, token: &str) -> Result<VendorCtx, ServerError> {
        match self.store.vendor_by_token(&token_hash(token)).await? {
            Some(v) => Ok(VendorCtx {
                id: v.id,
                name: v.name,
            }),
            None => Err(ServerError::Unauthenticated),
        }
    }

    /// The vendor of `x-service-token`.
    pub async fn vendor_from_headers(&self, headers: &HeaderMap) -> Result<VendorCtx, ServerError> {
        let token =
            header_str(headers, SERVICE_TOKEN_HEADER).ok_or(ServerError::Unauthenticated)?;
        self.vendor_by_token(token).await
    }

    // ---- consumer projects ----

    /// The project called `new.name`, created with its cloud when missing (idempotent by name;
    /// an existing project keeps its cloud and email).
    pub async fn ensure_project(&self, new: &NewProject) -> Result<Project, ServerError> {
        check_name("project", &new.name)?;
        if new.email.is_empty() || new.email.len() > 254 || !new.email.contains('@') {
            return Err(ServerError::Invalid(
                "`email` is not an email address".into(),
            ));
        }
        if let Some(row) = self.store.project_by_name(&new.name).await? {
            return Ok(project_of(&row));
        }
        let id = uuid::Uuid::new_v4().to_string();
        let (kind, creds) = match &new.cloud {
            NewCloud::Local => (KIND_LOCAL, self.create_local_project(&new.name).await?),
            NewCloud::CloudsYaml { path, cloud } => {
                (KIND_EXTERNAL, credentials_from_clouds_yaml(path, cloud)?)
            }
            NewCloud::Credentials(c) => (KIND_EXTERNAL, c.clone()),
        };
        let sealed = self.sealer.seal_json(&place_project_cloud(&id), &creds)?;
        let row = ProjectRow {
            id,
            name: new.name.clone(),
            email: new.email.clone(),
            cloud_kind: kind.to_owned(),
            cloud_project_id: creds.project_id.clone(),
            cloud_sealed: sealed,
            created_at: now_ms(),
        };
        self.store.project_insert(&row).await?;
        // A concurrent creation of the same name wins; answer with the stored one.
        let stored = self
            .store
            .project_by_name(&new.name)
            .await?
            .ok_or_else(|| ServerError::internal("project vanished after insert"))?;
        Ok(project_of(&stored))
    }

    /// A project by id (no context needed: ids are not secrets, and this returns no data of it).
    pub async fn project(&self, id: &str) -> Result<Option<Project>, ServerError> {
        Ok(self.store.project_by_id(id).await?.map(|r| project_of(&r)))
    }

    /// A new API token for `project` (only its hash is kept).
    pub async fn issue_project_token(&self, project: &Project) -> Result<Secret, ServerError> {
        let token = new_token("vtp_");
        self.store
            .project_token_add(&project.id, &token_hash(&token))
            .await?;
        Ok(Secret::new(token))
    }

    /// The project whose API token this is, or whose `localcloud` project a Keystone token of
    /// the built-in cloud is scoped to.
    pub async fn project_by_token(&self, token: &str) -> Result<ProjectCtx, ServerError> {
        if let Some(row) = self.store.project_by_token(&token_hash(token)).await? {
            return Ok(ctx_of(&row));
        }
        if token.starts_with("vtp_") {
            return Err(ServerError::Unauthenticated);
        }
        if let Some(cloud_project) = self.keystone_token_project(token).await {
            if let Some(row) = self
                .store
                .project_by_cloud_project(KIND_LOCAL, &cloud_project)
                .await?
            {
                return Ok(ctx_of(&row));
            }
        }
        Err(ServerError::Unauthenticated)
    }

    /// The project of `x-auth-token`.
    pub async fn project_from_headers(
        &self,
        headers: &HeaderMap,
    ) -> Result<ProjectCtx, ServerError> {
        let token = header_str(headers, AUTH_TOKEN_HEADER).ok_or(ServerError::Unauthenticated)?;
        self.project_by_token(token).await
    }

    /// The context of a project a background job acts for (the job recorded the project's id
    /// when an authenticated caller started it). Never build one from request data.
    pub async fn project_ctx_for_job(&self, project_id: &str) -> Result<ProjectCtx, ServerError> {
        match self.store.project_by_id(project_id).await? {
            Some(row) => Ok(ctx_of(&row)),
            None => Err(ServerError::NotFound(format!("project {project_id}"))),
        }
    }

    /// The cloud credentials of the caller's project. For a `localcloud` project the URL is the
    /// built-in cloud's current one.
    pub async fn project_cloud(&self, ctx: &ProjectCtx) -> Result<CloudCredentials, ServerError> {
        let row = self
            .store
            .project_by_id(&ctx.id)
            .await?
            .ok_or_else(|| ServerError::NotFound(format!("project {}", ctx.id)))?;
        let mut creds: CloudCredentials = self
            .sealer
            .open_json(&place_project_cloud(&row.id), &row.cloud_sealed)?;
        if row.cloud_kind == KIND_LOCAL {
            let cloud = self.cloud.as_ref().ok_or_else(|| {
                ServerError::Unavailable(
                    "the project's cloud is the built-in localcloud, which this server does not run"
                        .into(),
                )
            })?;
            let lc = cloud.credentials();
            creds.auth_url = lc.auth_url;
            creds.region = Some(lc.region);
        }
        Ok(creds)
    }

    // ---- broker accounts ----

    /// Creates the account `username` bound to `namespace`, or gives an existing one a new
    /// password (and that namespace). Returns the password (only a salted hash is kept).
    pub async fn put_broker_account(
        &self,
        username: &str,
        namespace: Namespace,
    ) -> Result<Secret, ServerError> {
        check_name("broker account", username)?;
        let password = new_token("");
        let salt = &new_token("")[..16];
        self.store
            .broker_account_put(username, namespace.as_str(), &salted_hash(salt, &password))
            .await?;
        Ok(Secret::new(password))
    }

    /// Checks a broker account's password.
    pub async fn broker_login(
        &self,
        username: &str,
        password: &str,
    ) -> Result<BrokerCtx, ServerError> {
        let row = self
            .store
            .broker_account(username)
            .await?
            .ok_or(ServerError::Unauthenticated)?;
        if !verify_salted(&row.password_hash, password) {
            return Err(ServerError::Unauthenticated);
        }
        let namespace = Namespace::parse(&row.namespace)
            .ok_or_else(|| ServerError::internal("stored broker namespace is invalid"))?;
        Ok(BrokerCtx {
            username: row.username,
            namespace,
        })
    }

    /// The broker account of `Authorization: Basic …`.
    pub async fn broker_from_headers(&self, headers: &HeaderMap) -> Result<BrokerCtx, ServerError> {
        let (u, p) = basic_auth(headers).ok_or(ServerError::Unauthenticated)?;
        self.broker_login(&u, &p).await
    }

    // ---- sealed settings ----

    /// A value sealed at rest under `name` (e.g. the demo's credentials).
    pub async fn setting<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<Option<T>, ServerError> {
        match self.store.sealed_setting(name).await? {
            Some(sealed) => Ok(Some(self.sealer.open_json(&place_setting(name), &sealed)?)),
            None => Ok(None),
        }
    }

    pub async fn set_setting<T: Serialize>(
        &self,
        name: &str,
        value: &T,
    ) -> Result<(), ServerError> {
        let sealed = self.sealer.seal_json(&place_setting(name), value)?;
        self.store.sealed_setting_put(name, &sealed).await?;
        Ok(())
    }

    // ---- the built-in cloud's Keystone ----

    /// The project a Keystone token of the built-in cloud is scoped to (`None`: not a valid
    /// token there, or no built-in cloud).
    async fn keystone_token_project(&self, token: &str) -> Option<String> {
        let cloud = self.cloud.as_ref()?;
        let url = format!("{}/auth/tokens", cloud.credentials().auth_url);
        let resp = self
            .http
            .get(url)
            .header("x-auth-token", token)
            .header("x-subject-token", token)
            .send()
            .await
            .ok()?;
        if !resp.status().is_success() {
            return None;
        }
        let v: serde_json::Value = resp.json().await.ok()?;
        v.pointer("/token/project/id")
            .and_then(|p| p.as_str())
            .map(str::to_owned)
    }

    /// Creates (or, after a crash half-way, finds) the `localcloud` project
    /// `vitrina-<name>` with a member user of the same name and a fresh password.
    async fn create_local_project(&self, name: &str) -> Result<CloudCredentials, ServerError> {
        let cloud = self.cloud.as_ref().ok_or_else(|| {
            ServerError::Invalid(
                "this server runs no built-in cloud for a `localcloud` project".into(),
            )
        })?;
        let lc = cloud.credentials();
        let base = lc.auth_url.clone();
        let admin = self.keystone_admin_token(&lc).await?;
        let cloud_name = format!("vitrina-{name}");
        let project_id = self
            .keystone_find_or_create(&base, &admin, "projects", "project", &cloud_name, serde_json::json!({"project": {"name": cloud_name, "description": format!("vitrina consumer project {name}")}}))
            .await?;
        let password = new_token("");
        let user_id = self
            .keystone_find_or_create(&base, &admin, "users", "user", &cloud_name, serde_json::json!({"user": {"name": cloud_name, "password": password, "default_project_id": project_id}}))
            .await?;
        // Found rather than created: set the password we keep.
        let r = self
            .http
            .patch(format!("{base}/users/{user_id}"))
            .header("x-auth-token", admin.expose())
            .json(&serde_json::json!({"user": {"password": password, "default_project_id": project_id}}))
            .send()
            .await
            .map_err(|e| keystone_err("set the user's password", e))?;
        if !r.status().is_success() {
            return Err(keystone_err("set the user's password", r.status()));
        }
        for role in ["member", "reader"] {
            let r = self
                .http
                .get(format!("{base}/roles?name={role}"))
                .header("x-auth-token", admin.expose())
                .send()
                .await
                .map_err(|e| keystone_err("list roles", e))?;
            let v: serde_json::Value = r.json().await.map_err(|e| keystone_err("list roles", e))?;
            let Some(role_id) = v.pointer("/roles/0/id").and_then(|x| x.as_str()) else {
                return Err(keystone_err("find role", role));
            };
            let r = self
                .http
                .put(format!(
                    "{base}/projects/{project_id}/users/{user_id}/roles/{role_id}"
                ))
                .header("x-auth-token", admin.expose())
                .send()
                .await
                .map_err(|e| keystone_err("assign a role", e))?;
            if !r.status().is_success() {
                return Err(keystone_err("assign a role", r.status()));
            }
        }
        Ok(CloudCredentials {
            auth_url: base,
            region: Some(lc.region),
            interface: "public".into(),
            username: cloud_name,
            password: Secret::new(password),
            project_id: Some(project_id),
            project_name: None,
            user_domain_name: "Default".into(),
            project_domain_name: "Default".into(),
        })
    }

    async fn keystone_admin_token(
        &self,
        lc: &vitrina_localcloud::Credentials,
    ) -> Result<Secret, ServerError> {
        let body = serde_json::json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": lc.admin.username, "domain": {"name": "Default"}, "password": lc.admin.password}}},
            "scope": {"project": {"id": lc.admin.project_id}}}});
        let r = self
            .http
            .post(format!("{}/auth/tokens", lc.auth_url))
            .json(&body)
            .send()
            .await
            .map_err(|e| keystone_err("admin login", e))?;
        if !r.status().is_success() {
            return Err(keystone_err("admin login", r.status()));
        }
        r.headers()
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok())
            .map(Secret::new)
            .ok_or_else(|| keystone_err("admin login", "no X-Subject-Token"))
    }

    /// The id of `/{collection}?name=NAME`, created with `body` when missing.
    async fn keystone_find_or_create(
        &self,
        base: &str,
        admin: &Secret,
        collection: &str,
        single: &str,
        name: &str,
        body: serde_json::Value,
    ) -> Result<String, ServerError> {
        let r = self
            .http
            .get(format!("{base}/{collection}"))
            .query(&[("name", name)])
            .header("x-auth-token", admin.expose())
            .send()
            .await
            .map_err(|e| keystone_err(collection, e))?;
        let v: serde_json::Value = r.json().await.map_err(|e| keystone_err(collection, e))?;
        if let Some(id) = v
            .get(collection)
            .and_then(|l| l.as_array())
            .and_then(|l| l.first())
            .and_then(|x| x.get("id"))
            .and_then(|x| x.as_str())
        {
            return Ok(id.to_owned());
        }
        let r = self
            .http
            .post(format!("{base}/{collection}"))
            .header("x-auth-token", admin.expose())
            .json(&body)
            .send()
            .await
            .map_err(|e| keystone_err(collection, e))?;
        if !r.status().is_success() {
            return Err(keystone_err(collection, r.status()));
        }
        let v: serde_json::Value = r.json().await.map_err(|e| keystone_err(collection, e))?;
        v.get(single)
            .and_then(|x| x.get("id"))
            .and_then(|x| x.as_str())
            .map(str::to_owned)
            .ok_or_else(|| keystone_err(collection, "no id in the answer"))
    }
}

/// Reads cloud `cloud` of the clouds.yaml at `path` (password authentication only).
pub fn credentials_from_clouds_yaml(
    path: &Path,
    cloud: &str,
) -> Result<CloudCredentials, ServerError> {
    use vitrina_openstack::{AuthMethod, ConfigSource, DomainSpec, ScopeSpec, UserSpec};
    let source = ConfigSource {
        env: [(
            "OS_CLIENT_CONFIG_FILE".to_owned(),
            path.display().to_string(),
        )]
        .into_iter()
        .collect(),
        cwd: path.parent().map(Path::to_path_buf).unwrap_or_default(),
        home: None,
    };
    let cfg = vitrina_openstack::CloudConfig::load_from(&source, Some(cloud))
        .map_err(|e| ServerError::Invalid(format!("cloud `{cloud}`: {e}")))?;
    let domain_name = |d: &DomainSpec| match d {
        DomainSpec::Name(n) => n.clone(),
        DomainSpec::Id(id) if id == "default" => "Default".to_owned(),
        DomainSpec::Id(id) => id.clone(),
    };
    let AuthMethod::Password {
        user,
        password,
        scope,
    } = cfg.auth
    else {
        return Err(ServerError::Invalid(format!(
            "cloud `{cloud}`: only password authentication is supported for a consumer project"
        )));
    };
    let UserSpec::Name { name, domain } = user else {
        return Err(ServerError::Invalid(format!(
            "cloud `{cloud}`: give the user by name (`username`)"
        )));
    };
    let (project_id, project_name, project_domain) = match scope {
        ScopeSpec::ProjectId(id) => (Some(id), None, "Default".to_owned()),
        ScopeSpec::ProjectName { name, domain } => (None, Some(name), domain_name(&domain)),
        _ => {
            return Err(ServerError::Invalid(format!(
                "cloud `{cloud}`: name a project (`project_id` or `project_name`)"
            )))
        }
    };
    Ok(CloudCredentials {
        auth_url: cfg.auth_url,
        region: cfg.region_name,
        interface: cfg.interface,
        username: name,
        password,
        project_id,
        project_name,
        user_domain_name: domain_name(&domain),
        project_domain_name: project_domain,
    })
}

/// Router states that hold the tenants. `Arc<Tenants>: FromRef<S>` makes the contexts below
/// usable as extractors in that router.
impl<S> FromRequestParts<S> for VendorCtx
where
    S: Send + Sync,
    Arc<Tenants>: FromRef<S>,
{
    type Rejection = ServerError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let t = Arc::<Tenants>::from_ref(state);
        t.vendor_from_headers(&parts.headers).await
    }
}

impl<S> FromRequestParts<S> for ProjectCtx
where
    S: Send + Sync,
    Arc<Tenants>: FromRef<S>,
{
    type Rejection = ServerError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let t = Arc::<Tenants>::from_ref(state);
        t.project_from_headers(&parts.headers).await
    }
}

impl<S> FromRequestParts<S> for BrokerCtx
where
    S: Send + Sync,
    Arc<Tenants>: FromRef<S>,
{
    type Rejection = ServerError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let t = Arc::<Tenants>::from_ref(state);
        t.broker_from_headers(&parts.headers).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salted_hashes_verify_only_their_password() {
        let h = salted_hash("abcd", "pw1");
        assert!(verify_salted(&h, "pw1"));
        assert!(!verify_salted(&h, "pw2"));
        assert!(!verify_salted("nosalt", "pw1"));
        assert!(!h.contains("pw1"));
    }

    #[test]
    fn basic_auth_parses() {
        let mut h = HeaderMap::new();
        let v = base64::engine::general_purpose::STANDARD.encode("u:p:q");
        h.insert(
            "authorization",
            format!("Basic {v}").parse().expect("header value"),
        );
        assert_eq!(basic_auth(&h), Some(("u".into(), "p:q".into())));
        h.insert("authorization", "Bearer x".parse().expect("header value"));
        assert_eq!(basic_auth(&h), None);
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("vendor", "demo-vendor").is_ok());
        assert!(check_name("vendor", "").is_err());
        assert!(check_name("vendor", "a b").is_err());
    }
}
