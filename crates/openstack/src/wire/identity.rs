//! Keystone v3 (identity) wire types: authentication requests, token bodies with the service
//! catalog, version discovery, and the few admin resources clients and tests create
//! (projects, users, services, endpoints, application credentials).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Link;
use crate::secret::Secret;

// ---------------------------------------------------------------------------------------------
// Authentication: POST /v3/auth/tokens
// ---------------------------------------------------------------------------------------------

/// `{"auth": {...}}`, the body of `POST /v3/auth/tokens`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthRequest {
    pub auth: Auth,
}

/// The `auth` object: an identity (one or more methods) and an optional scope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Auth {
    pub identity: Identity,
    /// Omitted: Keystone picks the user's default project, if any. `"unscoped"` is a string in
    /// some clients; we model only the object form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
}

/// `identity`: `methods` names which of the method objects below are present.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    pub methods: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<PasswordMethod>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<TokenMethod>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_credential: Option<ApplicationCredentialMethod>,
}

/// `password: {"user": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PasswordMethod {
    pub user: PasswordUser,
}

/// A user identified by id, or by name within a domain, with a password.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PasswordUser {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<DomainRef>,
    pub password: Secret,
}

/// `token: {"id": "<existing token>"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenMethod {
    pub id: Secret,
}

/// `application_credential: {"id", "secret"}` or `{"name", "user": {...}, "secret"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplicationCredentialMethod {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<UserRef>,
    pub secret: Secret,
}

/// A user by id, or by name within a domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<DomainRef>,
}

/// A domain by id or by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `scope`: a project, a domain or the system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scope {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<ProjectRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<DomainRef>,
    /// `{"all": true}` for system scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<serde_json::Value>,
}

/// A project by id, or by name within a domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<DomainRef>,
}

// ---------------------------------------------------------------------------------------------
// Token body (201 from POST /v3/auth/tokens, 200 from GET /v3/auth/tokens); the token itself
// travels in the `X-Subject-Token` header.
// ---------------------------------------------------------------------------------------------

/// `{"token": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenResponse {
    pub token: Token,
}

/// The token body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Token {
    pub methods: Vec<String>,
    pub user: TokenUser,
    #[serde(default)]
    pub audit_ids: Vec<String>,
    /// ISO 8601 with microseconds and `Z`, e.g. `2026-11-22T02:22:49.000000Z`.
    pub expires_at: String,
    pub issued_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<TokenProject>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<NamedDomain>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_domain: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<Role>>,
    /// Absent for unscoped tokens and with `?nocatalog`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<Vec<CatalogEntry>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_credential: Option<TokenApplicationCredential>,
}

/// `token.user`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenUser {
    pub id: String,
    pub name: String,
    pub domain: NamedDomain,
    /// Sent as `null` when passwords do not expire.
    #[serde(default)]
    pub password_expires_at: Option<String>,
}

/// A domain with both id and name, as in token bodies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedDomain {
    pub id: String,
    pub name: String,
}

/// `token.project`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenProject {
    pub id: String,
    pub name: String,
    pub domain: NamedDomain,
}

/// `token.roles[]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_id: Option<String>,
}

/// `token.application_credential` when authenticated with one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenApplicationCredential {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub restricted: bool,
}

/// One service of the catalog: `{"type":"compute","name":"nova","id":…,"endpoints":[…]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogEntry {
    #[serde(rename = "type")]
    pub service_type: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub id: String,
    pub endpoints: Vec<CatalogEndpoint>,
}

/// One endpoint of a catalog entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogEndpoint {
    #[serde(default)]
    pub id: String,
    /// `public`, `internal` or `admin`.
    pub interface: String,
    #[serde(default)]
    pub region_id: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    pub url: String,
}

// ---------------------------------------------------------------------------------------------
// Version discovery: GET /v3 → {"version": {...}}; GET / → 300 {"versions": {"values": [...]}}
// ---------------------------------------------------------------------------------------------

/// `GET /v3`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionResponse {
    pub version: Version,
}

/// `GET /` (300 Multiple Choices).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionsResponse {
    pub versions: VersionValues,
}

/// `versions: {"values": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionValues {
    pub values: Vec<Version>,
}

/// One API version: `{"id":"v3.14","status":"stable","updated":…,"links":[…],"media-types":[…]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    pub id: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<String>,
    #[serde(default)]
    pub links: Vec<Link>,
    #[serde(rename = "media-types", default, skip_serializing_if = "Vec::is_empty")]
    pub media_types: Vec<MediaType>,
}

/// `{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaType {
    pub base: String,
    #[serde(rename = "type")]
    pub media_type: String,
}

// ---------------------------------------------------------------------------------------------
// Admin resources
// ---------------------------------------------------------------------------------------------

/// A project (`GET /v3/projects/{id}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Project {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub domain_id: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "default_true")]
    pub enabled: bool,
    #[serde(default)]
    pub is_domain: bool,
    #[serde(default)]
    pub parent_id: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<SelfLinks>,
}

/// `{"project": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectResponse {
    pub project: Project,
}

/// `{"projects": [...], "links": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectList {
    pub projects: Vec<Project>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<ListLinks>,
}

/// `POST /v3/projects {"project": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectCreateRequest {
    pub project: ProjectCreate,
}

/// The new project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectCreate {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// A user (`GET /v3/users/{id}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub domain_id: String,
    #[serde(default = "default_true")]
    pub enabled: bool,
    #[serde(default)]
    pub default_project_id: Option<String>,
    #[serde(default)]
    pub password_expires_at: Option<String>,
    /// Keystone's per-user options (`{}` for most users).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Extra>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<SelfLinks>,
}

/// `{"user": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserResponse {
    pub user: User,
}

/// `{"users": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserList {
    pub users: Vec<User>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<ListLinks>,
}

/// `POST /v3/users {"user": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserCreateRequest {
    pub user: UserCreate,
}

/// The new user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserCreate {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_project_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// `{"roles": [...]}` from `GET /v3/roles`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoleList {
    pub roles: Vec<Role>,
}

/// A catalog service (`POST /v3/services`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Service {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(rename = "type")]
    pub service_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default = "default_true")]
    pub enabled: bool,
}

/// `{"service": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceBody {
    pub service: Service,
}

/// `{"services": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceList {
    pub services: Vec<Service>,
}

/// A catalog endpoint as an admin resource (`POST /v3/endpoints`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    pub service_id: String,
    pub interface: String,
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default = "default_true")]
    pub enabled: bool,
}

/// `{"endpoint": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointBody {
    pub endpoint: Endpoint,
}

/// `{"endpoints": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointList {
    pub endpoints: Vec<Endpoint>,
}

/// `POST /v3/users/{user_id}/application_credentials {"application_credential": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplicationCredentialCreateRequest {
    pub application_credential: ApplicationCredentialCreate,
}

/// The new application credential; Keystone generates the secret when it is omitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplicationCredentialCreate {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<RoleRef>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unrestricted: Option<bool>,
}

/// A role by id or name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `{"application_credential": {...}}`; `secret` is only present in the create response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplicationCredentialResponse {
    pub application_credential: ApplicationCredential,
}

/// An application credential.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplicationCredential {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Secret>,
    #[serde(default)]
    pub expires_at: Option<String>,
    #[serde(default)]
    pub project_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default)]
    pub unrestricted: bool,
    #[serde(default)]
    pub roles: Vec<Role>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_rules: Option<Vec<serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<SelfLinks>,
}

/// `{"application_credentials": [...], "links": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplicationCredentialList {
    pub application_credentials: Vec<ApplicationCredential>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<ListLinks>,
}

/// `{"catalog": [...], "links": {...}}` from `GET /v3/auth/catalog`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogResponse {
    pub catalog: Vec<CatalogEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<ListLinks>,
}

/// `links: {"self": …}` on a single resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelfLinks {
    #[serde(rename = "self")]
    pub self_link: String,
}

/// `links: {"self", "previous", "next"}` on a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListLinks {
    #[serde(rename = "self", default)]
    pub self_link: Option<String>,
    #[serde(default)]
    pub previous: Option<String>,
    #[serde(default)]
    pub next: Option<String>,
}

fn default_true() -> bool {
    true
}

/// Free-form extra attributes some admin resources carry.
pub type Extra = BTreeMap<String, serde_json::Value>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_auth_by_project_name_serializes_like_openstackclient() {
        let request = AuthRequest {
            auth: Auth {
                identity: Identity {
                    methods: vec!["password".into()],
                    password: Some(PasswordMethod {
                        user: PasswordUser {
                            id: None,
                            name: Some("admin".into()),
                            domain: Some(DomainRef {
                                id: None,
                                name: Some("Default".into()),
                            }),
                            password: Secret::new("pw"),
                        },
                    }),
                    token: None,
                    application_credential: None,
                },
                scope: Some(Scope {
                    project: Some(ProjectRef {
                        id: None,
                        name: Some("admin".into()),
                        domain: Some(DomainRef {
                            id: None,
                            name: Some("Default".into()),
                        }),
                    }),
                    domain: None,
                    system: None,
                }),
            },
        };
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            serde_json::json!({"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","domain":{"name":"Default"},"password":"pw"}}},
                "scope":{"project":{"name":"admin","domain":{"name":"Default"}}}}})
        );
        assert!(!format!("{request:?}").contains("pw\""));
    }

    #[test]
    fn token_body_from_keystone_parses() {
        let body = serde_json::json!({"token":{"methods":["password"],"user":{"domain":{"id":"default","name":"Default"},"id":"u1","name":"admin","password_expires_at":null},
            "audit_ids":["a"],"expires_at":"2026-11-22T03:22:49.000000Z","project":{"domain":{"id":"default","name":"Default"},"id":"p1","name":"admin"},
            "is_domain":false,"roles":[{"id":"r1","name":"admin"}],
            "catalog":[{"endpoints":[{"id":"e1","interface":"public","region_id":"RegionOne","url":"http://127.0.0.1:5000/v3/","region":"RegionOne"}],"id":"s1","type":"identity","name":"keystone"}],
            "issued_at":"2026-11-22T02:22:49.000000Z"}});
        let token: TokenResponse = serde_json::from_value(body).unwrap();
        let catalog = token.token.catalog.unwrap();
        assert_eq!(catalog[0].service_type, "identity");
        assert_eq!(
            catalog[0].endpoints[0].region_id.as_deref(),
            Some("RegionOne")
        );
        assert_eq!(token.token.project.unwrap().id, "p1");
    }
}
