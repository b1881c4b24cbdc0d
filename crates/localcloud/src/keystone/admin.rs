//! Keystone's admin API: domains, projects, users, groups, roles and role assignments, as
//! `openstack domain|project|user|group|role …` call them. Changes need a token with the
//! `admin` role; reading one's own user and projects does not.

use std::collections::BTreeMap;

use axum::routing::put;

use super::*;
use crate::model::Group;

/// The caller's token when it carries the `admin` role, else Keystone's 403.
fn admin(c: &Cloud, headers: &HeaderMap, action: &str) -> ApiResult<Token> {
    let t = caller(c, headers)?;
    if !is_admin(c, &t) {
        return Err(ApiError::forbidden(
            S,
            format!("You are not authorized to perform the requested action: identity:{action}."),
        ));
    }
    Ok(t)
}

fn not_found(kind: &str, id: &str) -> ApiError {
    ApiError::not_found(S, format!("Could not find {kind}: {id}."))
}

fn conflict(kind: &str, detail: &str) -> ApiError {
    ApiError::conflict(
        S,
        format!("Conflict occurred attempting to store {kind} - {detail}"),
    )
}

/// The object under `wrapper` of a JSON body.
fn object(bytes: &[u8], wrapper: &str) -> ApiResult<Map<String, Value>> {
    let v = body::parse_json(S, bytes)?;
    v.get(wrapper)
        .and_then(Value::as_object)
        .cloned()
        .ok_or_else(|| {
            bad(format!(
                "Invalid input for field '{wrapper}': a JSON object is required"
            ))
        })
}

/// A string field of a body; a non-string is a 400.
fn opt_string(m: &Map<String, Value>, k: &str) -> ApiResult<Option<String>> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v) => Err(bad(format!(
            "Invalid input for field '{k}': {v} is not of type 'string'"
        ))),
    }
}

fn opt_bool(m: &Map<String, Value>, k: &str) -> ApiResult<Option<bool>> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(v) => Err(bad(format!(
            "Invalid input for field '{k}': {v} is not of type 'boolean'"
        ))),
    }
}

/// A name: 1–255 characters, no NUL.
fn name_of(m: &Map<String, Value>, required: bool) -> ApiResult<Option<String>> {
    let n = opt_string(m, "name")?;
    match &n {
        None if required => Err(bad(
            "Invalid input for field 'name': 'name' is a required property",
        )),
        Some(n) if n.trim().is_empty() || n.chars().count() > 255 || n.contains('\0') => {
            Err(bad(format!(
                "Invalid input for field 'name': '{}' must be 1 to 255 characters",
                n.escape_debug()
            )))
        }
        _ => Ok(n),
    }
}

/// Filters a list of JSON objects by the query keys Keystone supports for it.
fn filtered(mut items: Vec<Value>, query: &[(String, String)], keys: &[&str]) -> Vec<Value> {
    for (k, v) in query {
        if !keys.contains(&k.as_str()) {
            continue;
        }
        items.retain(|i| match i.get(k) {
            Some(Value::String(s)) => s == v,
            Some(Value::Bool(b)) => v.eq_ignore_ascii_case(if *b { "true" } else { "false" }),
            _ => false,
        });
    }
    items
}

fn list_body(c: &Cloud, key: &str, path: &str, items: Vec<Value>) -> Json<Value> {
    Json(json!({key: items, "links": {"self": c.url(path), "previous": null, "next": null}}))
}

// --- domains ---------------------------------------------------------------------------------

fn domain_json(c: &Cloud, d: &Domain) -> Value {
    json!({"id": d.id, "name": d.name, "description": d.description, "enabled": d.enabled,
           "tags": [], "options": {}, "links": {"self": c.url(&format!("/identity/v3/domains/{}", d.id))}})
}

async fn list_domains(
    State(c): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> ApiResult<Json<Value>> {
    admin(&c, &headers, "list_domains")?;
    let items = c
        .store
        .read(|s| s.domains.values().map(|d| domain_json(&c, d)).collect());
    Ok(list_body(
        &c,
        "domains",
        "/identity/v3/domains",
        filtered(items, &query, &["name", "enabled", "id"]),
    ))
}

async fn show_domain(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    // Any user may read a domain by id (the client resolves its own domain).
    caller(&c, &headers)?;
    let d = c
        .store
        .read(|s| s.domains.get(&id).map(|d| domain_json(&c, d)));
    Ok(Json(
        json!({"domain": d.ok_or_else(|| not_found("domain", &id))?}),
    ))
}

async fn create_domain(
    State(c): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    admin(&c, &headers, "create_domain")?;
    let m = object(&bytes, "domain")?;
    let name = name_of(&m, true)?.unwrap_or_default();
    let d = Domain {
        id: new_hex_id(),
        name: name.clone(),
        description: opt_string(&m, "description")?.unwrap_or_default(),
        enabled: opt_bool(&m, "enabled")?.unwrap_or(true),
    };
    c.store.write(|s| {
        if s.domains.values().any(|x| x.name == name) {
            return Err(conflict(
                "domain",
                &format!("Duplicate entry found with name {name}."),
            ));
        }
        s.domains.insert(d.id.clone(), d.clone());
        Ok(())
    })?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"domain": domain_json(&c, &d)})),
    )
        .into_response())
}

async fn update_domain(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    admin(&c, &headers, "update_domain")?;
    let m = object(&bytes, "domain")?;
    let name = name_of(&m, false)?;
    let description = opt_string(&m, "description")?;
    let enabled = opt_bool(&m, "enabled")?;
    let d = c.store.write(|s| {
        if let Some(n) = &name {
            if s.domains.values().any(|x| &x.name == n && x.id != id) {
                return Err(conflict(
                    "domain",
                    &format!("Duplicate entry found with name {n}."),
                ));
            }
        }
        let d = s
            .domains
            .get_mut(&id)
            .ok_or_else(|| not_found("domain", &id))?;
        if id == DEFAULT_DOMAIN && enabled == Some(false) {
            return Err(ApiError::forbidden(
                S,
                "The default domain cannot be disabled.",
            ));
        }
        if let Some(n) = name {
            d.name = n;
        }
        if let Some(x) = description {
            d.description = x;
        }
        if let Some(e) = enabled {
            d.enabled = e;
        }
        Ok(d.clone())
    })?;
    Ok(Json(json!({"domain": domain_json(&c, &d)})))
}

async fn delete_domain(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    admin(&c, &headers, "delete_domain")?;
    c.store.write(|s| {
        let d = s.domains.get(&id).ok_or_else(|| not_found("domain", &id))?;
        if d.enabled || id == DEFAULT_DOMAIN {
            return Err(ApiError::forbidden(
                S,
                format!("Cannot delete a domain that is enabled, please disable it first: {id}."),
            ));
        }
        // As in Keystone, the domain's projects, users and groups go with it.
        let projects: Vec<String> = s
            .projects
            .values()
            .filter(|p| p.domain_id == id)
            .map(|p| p.id.clone())
            .collect();
        let users: Vec<String> = s
            .users
            .values()
            .filter(|u| u.domain_id == id)
            .map(|u| u.id.clone())
            .collect();
        for p in projects {
            forget_project(s, &p);
        }
        for u in users {
            forget_user(s, &u);
        }
        s.groups.retain(|_, g| g.domain_id != id);
        s.domains.remove(&id);
        Ok(StatusCode::NO_CONTENT)
    })
}

// --- projects --------------------------------------------------------------------------------

/// Removes a project and everything of Keystone's that names it.
fn forget_project(s: &mut Db, id: &str) {
    s.projects.remove(id);
    for u in s.users.values_mut() {
        u.roles.remove(id);
    }
    for g in s.groups.values_mut() {
        g.roles.remove(id);
    }
    s.tokens.retain(|_, t| t.project_id.as_deref() != Some(id));
    s.app_creds.retain(|_, a| a.project_id != id);
}

pub(super) async fn create_project(
    State(c): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    admin(&c, &headers, "create_project")?;
    let m = object(&bytes, "project")?;
    let name = name_of(&m, true)?.unwrap_or_default();
    let description = opt_string(&m, "description")?.unwrap_or_default();
    let enabled = opt_bool(&m, "enabled")?.unwrap_or(true);
    if opt_bool(&m, "is_domain")? == Some(true) {
        return Err(bad(
            "Projects acting as domains are not supported: create a domain instead",
        ));
    }
    let domain = opt_string(&m, "domain_id")?
        .or(opt_string(&m, "parent_id")?)
        .unwrap_or_else(|| DEFAULT_DOMAIN.into());
    let p = c.store.write(|s| {
        if !s.domains.contains_key(&domain) {
            return Err(not_found("domain", &domain));
        }
        if s.projects.values().any(|p| p.name == name && p.domain_id == domain) {
            return Err(conflict("project", &format!("it is not permitted to have two projects with the same name in the same domain : {name}.")));
        }
        let p = Project { id: new_hex_id(), name, description, domain_id: domain, enabled };
        s.projects.insert(p.id.clone(), p.clone());
        Ok(p)
    })?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"project": project_json(&c, &p)})),
    )
        .into_response())
}

pub(super) async fn update_project(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    admin(&c, &headers, "update_project")?;
    let m = object(&bytes, "project")?;
    let name = name_of(&m, false)?;
    let description = opt_string(&m, "description")?;
    let enabled = opt_bool(&m, "enabled")?;
    let p = c.store.write(|s| {
        let domain = s.projects.get(&id).map(|p| p.domain_id.clone()).ok_or_else(|| not_found("project", &id))?;
        if let Some(n) = &name {
            if s.projects.values().any(|p| &p.name == n && p.domain_id == domain && p.id != id) {
                return Err(conflict("project", &format!("it is not permitted to have two projects with the same name in the same domain : {n}.")));
            }
        }
        let p = s.projects.get_mut(&id).ok_or_else(|| not_found("project", &id))?;
        if let Some(n) = name {
            p.name = n;
        }
        if let Some(x) = description {
            p.description = x;
        }
        if let Some(e) = enabled {
            p.enabled = e;
        }
        Ok(p.clone())
    })?;
    Ok(Json(json!({"project": project_json(&c, &p)})))
}

pub(super) async fn delete_project(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let t = admin(&c, &headers, "delete_project")?;
    if t.project_id.as_deref() == Some(id.as_str()) {
        return Err(ApiError::forbidden(
            S,
            "You cannot delete the project of your own token.",
        ));
    }
    c.store.write(|s| {
        if !s.projects.contains_key(&id) {
            return Err(not_found("project", &id));
        }
        forget_project(s, &id);
        Ok(StatusCode::NO_CONTENT)
    })
}

// --- users -----------------------------------------------------------------------------------

pub(super) fn user_json(c: &Cloud, u: &User) -> Value {
    let mut v = json!({"id": u.id, "name": u.name, "domain_id": u.domain_id, "enabled": u.enabled,
        "default_project_id": Some(&u.default_project_id).filter(|p| !p.is_empty()),
        "password_expires_at": null, "options": {},
        "links": {"self": c.url(&format!("/identity/v3/users/{}", u.id))}});
    if let Some(e) = &u.email {
        v["email"] = json!(e);
    }
    if let Some(d) = &u.description {
        v["description"] = json!(d);
    }
    v
}

/// Removes a user and its tokens, application credentials and group memberships.
fn forget_user(s: &mut Db, id: &str) {
    s.users.remove(id);
    s.tokens.retain(|_, t| t.user_id != id);
    s.app_creds.retain(|_, a| a.user_id != id);
    for g in s.groups.values_mut() {
        g.members.retain(|m| m != id);
    }
}

async fn list_users(
    State(c): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> ApiResult<Json<Value>> {
    admin(&c, &headers, "list_users")?;
    let items = c
        .store
        .read(|s| s.users.values().map(|u| user_json(&c, u)).collect());
    Ok(list_body(
        &c,
        "users",
        "/identity/v3/users",
        filtered(items, &query, &["name", "domain_id", "enabled", "id"]),
    ))
}

/// The `default_project_id` of a body, which must name a project.
fn default_project(s: &Db, m: &Map<String, Value>) -> ApiResult<Option<String>> {
    match opt_string(m, "default_project_id")? {
        Some(p) if !s.projects.contains_key(&p) => Err(not_found("project", &p)),
        other => Ok(other),
    }
}

async fn create_user(
    State(c): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    admin(&c, &headers, "create_user")?;
    let m = object(&bytes, "user")?;
    let name = name_of(&m, true)?.unwrap_or_default();
    let password = opt_string(&m, "password")?.unwrap_or_default();
    let domain = opt_string(&m, "domain_id")?.unwrap_or_else(|| DEFAULT_DOMAIN.into());
    let enabled = opt_bool(&m, "enabled")?.unwrap_or(true);
    let email = opt_string(&m, "email")?;
    let description = opt_string(&m, "description")?;
    let u = c.store.write(|s| {
        if !s.domains.contains_key(&domain) {
            return Err(not_found("domain", &domain));
        }
        if s.users
            .values()
            .any(|u| u.name == name && u.domain_id == domain)
        {
            return Err(conflict(
                "user",
                &format!("Duplicate entry found with name {name} at domain ID {domain}."),
            ));
        }
        let u = User {
            id: new_hex_id(),
            name,
            domain_id: domain,
            password,
            default_project_id: default_project(s, &m)?.unwrap_or_default(),
            roles: BTreeMap::new(),
            enabled,
            email,
            description,
        };
        s.users.insert(u.id.clone(), u.clone());
        Ok(u)
    })?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"user": user_json(&c, &u)})),
    )
        .into_response())
}

pub(super) async fn update_user(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    admin(&c, &headers, "update_user")?;
    let m = object(&bytes, "user")?;
    let name = name_of(&m, false)?;
    let password = opt_string(&m, "password")?;
    let enabled = opt_bool(&m, "enabled")?;
    let email = opt_string(&m, "email")?;
    let description = opt_string(&m, "description")?;
    let u = c.store.write(|s| {
        let project = default_project(s, &m)?;
        let domain = s
            .users
            .get(&id)
            .map(|u| u.domain_id.clone())
            .ok_or_else(|| not_found("user", &id))?;
        if let Some(n) = &name {
            if s.users
                .values()
                .any(|u| &u.name == n && u.domain_id == domain && u.id != id)
            {
                return Err(conflict(
                    "user",
                    &format!("Duplicate entry found with name {n} at domain ID {domain}."),
                ));
            }
        }
        let u = s.users.get_mut(&id).ok_or_else(|| not_found("user", &id))?;
        if let Some(n) = name {
            u.name = n;
        }
        if let Some(p) = project {
            u.default_project_id = p;
        }
        if email.is_some() {
            u.email = email;
        }
        if description.is_some() {
            u.description = description;
        }
        if let Some(e) = enabled {
            u.enabled = e;
        }
        let changed_password = password.is_some();
        if let Some(p) = password {
            u.password = p;
        }
        let u = u.clone();
        // A new password or a disabled user ends the user's tokens, as in Keystone.
        if changed_password || enabled == Some(false) {
            s.tokens.retain(|_, t| t.user_id != id);
        }
        Ok(u)
    })?;
    Ok(Json(json!({"user": user_json(&c, &u)})))
}

pub(super) async fn delete_user(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let t = admin(&c, &headers, "delete_user")?;
    if t.user_id == id {
        return Err(ApiError::forbidden(S, "You cannot delete your own user."));
    }
    c.store.write(|s| {
        if !s.users.contains_key(&id) {
            return Err(not_found("user", &id));
        }
        forget_user(s, &id);
        Ok(StatusCode::NO_CONTENT)
    })
}

async fn user_groups(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    own_user(&c, &headers, &id)?;
    let items = c.store.read(|s| {
        s.groups
            .values()
            .filter(|g| g.members.contains(&id))
            .map(|g| group_json(&c, g))
            .collect()
    });
    Ok(list_body(
        &c,
        "groups",
        &format!("/identity/v3/users/{id}/groups"),
        items,
    ))
}

// --- groups ----------------------------------------------------------------------------------

fn group_json(c: &Cloud, g: &Group) -> Value {
    json!({"id": g.id, "name": g.name, "description": g.description, "domain_id": g.domain_id,
           "links": {"self": c.url(&format!("/identity/v3/groups/{}", g.id))}})
}

async fn list_groups(
    State(c): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> ApiResult<Json<Value>> {
    admin(&c, &headers, "list_groups")?;
    let items = c
        .store
        .read(|s| s.groups.values().map(|g| group_json(&c, g)).collect());
    Ok(list_body(
        &c,
        "groups",
        "/identity/v3/groups",
        filtered(items, &query, &["name", "domain_id", "id"]),
    ))
}

async fn show_group(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    admin(&c, &headers, "get_group")?;
    let g = c
        .store
        .read(|s| s.groups.get(&id).map(|g| group_json(&c, g)));
    Ok(Json(
        json!({"group": g.ok_or_else(|| not_found("group", &id))?}),
    ))
}

async fn create_group(
    State(c): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    admin(&c, &headers, "create_group")?;
    let m = object(&bytes, "group")?;
    let name = name_of(&m, true)?.unwrap_or_default();
    let description = opt_string(&m, "description")?.unwrap_or_default();
    let domain = opt_string(&m, "domain_id")?.unwrap_or_else(|| DEFAULT_DOMAIN.into());
    let g = c.store.write(|s| {
        if !s.domains.contains_key(&domain) {
            return Err(not_found("domain", &domain));
        }
        if s.groups
            .values()
            .any(|g| g.name == name && g.domain_id == domain)
        {
            return Err(conflict(
                "group",
                &format!("Duplicate entry found with name {name} at domain ID {domain}."),
            ));
        }
        let g = Group {
            id: new_hex_id(),
            name,
            description,
            domain_id: domain,
            members: Vec::new(),
            roles: BTreeMap::new(),
        };
        s.groups.insert(g.id.clone(), g.clone());
        Ok(g)
    })?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"group": group_json(&c, &g)})),
    )
        .into_response())
}

async fn update_group(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    admin(&c, &headers, "update_group")?;
    let m = object(&bytes, "group")?;
    let name = name_of(&m, false)?;
    let description = opt_string(&m, "description")?;
    let g = c.store.write(|s| {
        let g = s
            .groups
            .get_mut(&id)
            .ok_or_else(|| not_found("group", &id))?;
        if let Some(n) = name {
            g.name = n;
        }
        if let Some(d) = description {
            g.description = d;
        }
        Ok(g.clone())
    })?;
    Ok(Json(json!({"group": group_json(&c, &g)})))
}

async fn delete_group(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    admin(&c, &headers, "delete_group")?;
    c.store
        .write(|s| s.groups.remove(&id))
        .map(|_| StatusCode::NO_CONTENT)
        .ok_or_else(|| not_found("group", &id))
}

async fn group_users(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    admin(&c, &headers, "list_users_in_group")?;
    let items = c.store.read(|s| {
        let g = s.groups.get(&id).ok_or_else(|| not_found("group", &id))?;
        Ok::<_, ApiError>(
            g.members
                .iter()
                .filter_map(|m| s.users.get(m))
                .map(|u| user_json(&c, u))
                .collect(),
        )
    })?;
    Ok(list_body(
        &c,
        "users",
        &format!("/identity/v3/groups/{id}/users"),
        items,
    ))
}

async fn add_member(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((gid, uid)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    admin(&c, &headers, "add_user_to_group")?;
    c.store.write(|s| {
        if !s.users.contains_key(&uid) {
            return Err(not_found("user", &uid));
        }
        let g = s
            .groups
            .get_mut(&gid)
            .ok_or_else(|| not_found("group", &gid))?;
        if !g.members.contains(&uid) {
            g.members.push(uid);
        }
        Ok(StatusCode::NO_CONTENT)
    })
}

async fn check_member(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((gid, uid)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    admin(&c, &headers, "check_user_in_group")?;
    c.store.read(|s| {
        let g = s.groups.get(&gid).ok_or_else(|| not_found("group", &gid))?;
        if g.members.contains(&uid) {
            Ok(StatusCode::NO_CONTENT)
        } else {
            Err(ApiError::not_found(
                S,
                format!("User '{uid}' not found in group '{gid}'"),
            ))
        }
    })
}

async fn remove_member(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((gid, uid)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    admin(&c, &headers, "remove_user_from_group")?;
    c.store.write(|s| {
        let g = s
            .groups
            .get_mut(&gid)
            .ok_or_else(|| not_found("group", &gid))?;
        let before = g.members.len();
        g.members.retain(|m| m != &uid);
        if g.members.len() == before {
            return Err(ApiError::not_found(
                S,
                format!("User '{uid}' not found in group '{gid}'"),
            ));
        }
        Ok(StatusCode::NO_CONTENT)
    })
}

// --- roles -----------------------------------------------------------------------------------

fn role_json(c: &Cloud, r: &Role) -> Value {
    json!({"id": r.id, "name": r.name, "domain_id": null, "description": r.description, "options": {},
           "links": {"self": c.url(&format!("/identity/v3/roles/{}", r.id))}})
}

async fn list_roles(
    State(c): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> ApiResult<Json<Value>> {
    caller(&c, &headers)?;
    let items = c
        .store
        .read(|s| s.roles.values().map(|r| role_json(&c, r)).collect());
    Ok(list_body(
        &c,
        "roles",
        "/identity/v3/roles",
        filtered(items, &query, &["name", "id"]),
    ))
}

async fn show_role(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    caller(&c, &headers)?;
    let r = c.store.read(|s| s.roles.get(&id).map(|r| role_json(&c, r)));
    Ok(Json(
        json!({"role": r.ok_or_else(|| not_found("role", &id))?}),
    ))
}

async fn create_role(
    State(c): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    admin(&c, &headers, "create_role")?;
    let m = object(&bytes, "role")?;
    let name = name_of(&m, true)?.unwrap_or_default();
    let description = opt_string(&m, "description")?;
    if opt_string(&m, "domain_id")?.is_some() {
        return Err(bad("Domain-specific roles are not supported"));
    }
    let r = c.store.write(|s| {
        if s.roles.values().any(|r| r.name == name) {
            return Err(conflict(
                "role",
                &format!("Duplicate entry found with name {name}."),
            ));
        }
        // Role ids derive from names (built-in and created roles alike).
        let r = Role {
            id: stable_id(&name),
            name,
            description,
        };
        s.roles.insert(r.id.clone(), r.clone());
        Ok(r)
    })?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"role": role_json(&c, &r)})),
    )
        .into_response())
}

async fn update_role(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    admin(&c, &headers, "update_role")?;
    let m = object(&bytes, "role")?;
    let new_name = name_of(&m, false)?;
    let description = opt_string(&m, "description")?;
    let r = c.store.write(|s| {
        let old = s
            .roles
            .get(&id)
            .map(|r| r.name.clone())
            .ok_or_else(|| not_found("role", &id))?;
        if let Some(n) = new_name.as_ref().filter(|n| **n != old) {
            // The built-in roles are what localcloud's policies check: they keep their names.
            if BUILTIN_ROLES.contains(&old.as_str()) {
                return Err(ApiError::forbidden(
                    S,
                    format!("The built-in role {old} cannot be renamed."),
                ));
            }
            if s.roles.values().any(|r| &r.name == n) {
                return Err(conflict(
                    "role",
                    &format!("Duplicate entry found with name {n}."),
                ));
            }
            // Assignments and credentials name roles: they follow the rename (the id stays).
            let rename = |list: &mut Vec<String>| {
                for x in list.iter_mut().filter(|x| **x == old) {
                    x.clone_from(n);
                }
            };
            for u in s.users.values_mut() {
                u.roles.values_mut().for_each(rename);
            }
            for g in s.groups.values_mut() {
                g.roles.values_mut().for_each(rename);
            }
            for a in s.app_creds.values_mut() {
                rename(&mut a.roles);
            }
            for t in s.tokens.values_mut() {
                if let Some(l) = t.roles.as_mut() {
                    rename(l);
                }
            }
        }
        let r = s.roles.get_mut(&id).ok_or_else(|| not_found("role", &id))?;
        if let Some(n) = new_name {
            r.name = n;
        }
        if description.is_some() {
            r.description = description;
        }
        Ok::<_, ApiError>(r.clone())
    })?;
    Ok(Json(json!({"role": role_json(&c, &r)})))
}

async fn delete_role(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    admin(&c, &headers, "delete_role")?;
    c.store.write(|s| {
        let r = s.roles.get(&id).ok_or_else(|| not_found("role", &id))?;
        if BUILTIN_ROLES.contains(&r.name.as_str()) {
            return Err(ApiError::forbidden(
                S,
                format!("The built-in role {} cannot be deleted.", r.name),
            ));
        }
        let name = r.name.clone();
        for u in s.users.values_mut() {
            for roles in u.roles.values_mut() {
                roles.retain(|x| x != &name);
            }
        }
        for g in s.groups.values_mut() {
            for roles in g.roles.values_mut() {
                roles.retain(|x| x != &name);
            }
        }
        s.roles.remove(&id);
        s.extra.implied_roles.retain(|(p, i)| p != &id && i != &id);
        Ok(StatusCode::NO_CONTENT)
    })
}

// --- role assignments on projects ------------------------------------------------------------

/// Whose assignments a route changes: a user's or a group's.
#[derive(Clone, Copy)]
enum Actor {
    User,
    Group,
}

/// The project → role names map of a user or group, after checking the project and the actor.
fn assignments<'a>(
    s: &'a mut Db,
    actor: Actor,
    project: &str,
    who: &str,
) -> ApiResult<&'a mut BTreeMap<String, Vec<String>>> {
    if !s.projects.contains_key(project) {
        return Err(not_found("project", project));
    }
    match actor {
        Actor::User => s
            .users
            .get_mut(who)
            .map(|u| &mut u.roles)
            .ok_or_else(|| not_found("user", who)),
        Actor::Group => s
            .groups
            .get_mut(who)
            .map(|g| &mut g.roles)
            .ok_or_else(|| not_found("group", who)),
    }
}

fn role_name(s: &Db, role_id: &str) -> ApiResult<String> {
    s.roles
        .get(role_id)
        .map(|r| r.name.clone())
        .ok_or_else(|| not_found("role", role_id))
}

fn assign(
    c: &Cloud,
    headers: &HeaderMap,
    actor: Actor,
    p: &str,
    who: &str,
    role: &str,
) -> ApiResult<StatusCode> {
    admin(c, headers, "create_grant")?;
    c.store.write(|s| {
        let name = role_name(s, role)?;
        let roles = assignments(s, actor, p, who)?
            .entry(p.to_owned())
            .or_default();
        if !roles.contains(&name) {
            roles.push(name);
        }
        Ok(StatusCode::NO_CONTENT)
    })
}

fn check_assigned(
    c: &Cloud,
    headers: &HeaderMap,
    actor: Actor,
    p: &str,
    who: &str,
    role: &str,
) -> ApiResult<StatusCode> {
    admin(c, headers, "check_grant")?;
    c.store.write(|s| {
        let name = role_name(s, role)?;
        let held = assignments(s, actor, p, who)?
            .get(p)
            .is_some_and(|r| r.contains(&name));
        if held {
            Ok(StatusCode::NO_CONTENT)
        } else {
            Err(not_found(
                "role assignment",
                &format!("{role} of {who} on {p}"),
            ))
        }
    })
}

fn unassign(
    c: &Cloud,
    headers: &HeaderMap,
    actor: Actor,
    p: &str,
    who: &str,
    role: &str,
) -> ApiResult<StatusCode> {
    admin(c, headers, "revoke_grant")?;
    c.store.write(|s| {
        let name = role_name(s, role)?;
        let map = assignments(s, actor, p, who)?;
        let roles = map
            .get_mut(p)
            .filter(|r| r.contains(&name))
            .ok_or_else(|| not_found("role assignment", &format!("{role} of {who} on {p}")))?;
        roles.retain(|r| r != &name);
        if roles.is_empty() {
            map.remove(p);
        }
        Ok(StatusCode::NO_CONTENT)
    })
}

fn list_assigned(
    c: &Cloud,
    headers: &HeaderMap,
    actor: Actor,
    p: &str,
    who: &str,
) -> ApiResult<Json<Value>> {
    admin(c, headers, "list_grants")?;
    let items = c.store.write(|s| {
        let names = assignments(s, actor, p, who)?
            .get(p)
            .cloned()
            .unwrap_or_default();
        Ok::<_, ApiError>(
            names
                .iter()
                .filter_map(|n| s.roles.values().find(|r| &r.name == n))
                .map(|r| role_json(c, r))
                .collect(),
        )
    })?;
    Ok(list_body(c, "roles", "/identity/v3/roles", items))
}

/// `GET /role_assignments` with Keystone's filters (`user.id`, `group.id`, `role.id`,
/// `scope.project.id`), `effective` (group assignments as their members') and `include_names`.
async fn role_assignments(
    State(c): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> ApiResult<Json<Value>> {
    let t = caller(&c, &headers)?;
    let q = |k: &str| query.iter().find(|(x, _)| x == k).map(|(_, v)| v.as_str());
    // A non-admin may list only its own assignments (Keystone's `identity:list_role_assignments`
    // for a user filtering on itself).
    if !is_admin(&c, &t) && q("user.id") != Some(t.user_id.as_str()) {
        return Err(ApiError::forbidden(S, "You are not authorized to perform the requested action: identity:list_role_assignments."));
    }
    let effective = query.iter().any(|(k, _)| k == "effective");
    let names = q("include_names").is_some_and(|v| !v.eq_ignore_ascii_case("false") && v != "0");
    let items = c.store.read(|s| {
        // (actor kind, actor id, project, role name)
        let mut rows: Vec<(&str, String, String, String)> = Vec::new();
        for u in s.users.values() {
            for (p, roles) in &u.roles {
                for r in roles {
                    rows.push(("user", u.id.clone(), p.clone(), r.clone()));
                }
            }
        }
        for g in s.groups.values() {
            for (p, roles) in &g.roles {
                for r in roles {
                    if effective {
                        for m in &g.members {
                            rows.push(("user", m.clone(), p.clone(), r.clone()));
                        }
                    } else {
                        rows.push(("group", g.id.clone(), p.clone(), r.clone()));
                    }
                }
            }
        }
        rows.sort();
        rows.dedup();
        rows.into_iter()
            .filter(|(kind, who, p, role)| {
                q("user.id").is_none_or(|u| *kind == "user" && who == u)
                    && q("group.id").is_none_or(|g| *kind == "group" && who == g)
                    && q("scope.project.id").is_none_or(|x| p == x)
                    && q("role.id").is_none_or(|x| stable_id(role) == x || s.roles.get(x).is_some_and(|r| &r.name == role))
            })
            .map(|(kind, who, p, role)| {
                let role_id = s.roles.values().find(|r| r.name == role).map(|r| r.id.clone()).unwrap_or_else(|| stable_id(&role));
                let mut role_v = json!({"id": role_id});
                let mut actor_v = json!({"id": who});
                let mut project_v = json!({"id": p});
                if names {
                    role_v["name"] = json!(role);
                    let (name, domain) = match kind {
                        "user" => s.users.get(&who).map(|u| (u.name.clone(), u.domain_id.clone())),
                        _ => s.groups.get(&who).map(|g| (g.name.clone(), g.domain_id.clone())),
                    }
                    .unwrap_or_default();
                    actor_v["name"] = json!(name);
                    actor_v["domain"] = json!({"id": domain, "name": s.domains.get(&domain).map(|d| d.name.clone())});
                    if let Some(proj) = s.projects.get(&p) {
                        project_v["name"] = json!(proj.name);
                        project_v["domain"] = json!({"id": proj.domain_id, "name": s.domains.get(&proj.domain_id).map(|d| d.name.clone())});
                    }
                }
                let link = c.url(&format!("/identity/v3/projects/{p}/{kind}s/{who}/roles/{role_id}"));
                json!({"role": role_v, kind: actor_v, "scope": {"project": project_v}, "links": {"assignment": link}})
            })
            .collect::<Vec<Value>>()
    });
    Ok(list_body(
        &c,
        "role_assignments",
        "/identity/v3/role_assignments",
        items,
    ))
}

/// The admin routes.
pub(super) fn routes(r: Router<AppState>) -> Router<AppState> {
    r.route("/identity/v3/domains", get(list_domains).post(create_domain))
        .route(
            "/identity/v3/domains/{id}",
            get(show_domain).patch(update_domain).delete(delete_domain),
        )
        .route("/identity/v3/users", get(list_users).post(create_user))
        .route("/identity/v3/users/{id}/groups", get(user_groups))
        .route("/identity/v3/groups", get(list_groups).post(create_group))
        .route(
            "/identity/v3/groups/{id}",
            get(show_group).patch(update_group).delete(delete_group),
        )
        .route("/identity/v3/groups/{id}/users", get(group_users))
        .route(
            "/identity/v3/groups/{id}/users/{user}",
            put(add_member).head(check_member).delete(remove_member),
        )
        .route("/identity/v3/roles", get(list_roles).post(create_role))
        .route(
            "/identity/v3/roles/{id}",
            get(show_role).patch(update_role).delete(delete_role),
        )
        .route("/identity/v3/role_assignments", get(role_assignments))
        .route(
            "/identity/v3/projects/{p}/users/{u}/roles",
            get(|State(c): State<AppState>, h: HeaderMap, Path((p, u)): Path<(String, String)>| async move {
                list_assigned(&c, &h, Actor::User, &p, &u)
            }),
        )
        .route(
            "/identity/v3/projects/{p}/groups/{g}/roles",
            get(|State(c): State<AppState>, h: HeaderMap, Path((p, g)): Path<(String, String)>| async move {
                list_assigned(&c, &h, Actor::Group, &p, &g)
            }),
        )
        .route(
            "/identity/v3/projects/{p}/users/{u}/roles/{r}",
            put(|State(c): State<AppState>, h: HeaderMap, Path((p, u, r)): Path<(String, String, String)>| async move {
                assign(&c, &h, Actor::User, &p, &u, &r)
            })
            .head(|State(c): State<AppState>, h: HeaderMap, Path((p, u, r)): Path<(String, String, String)>| async move {
                check_assigned(&c, &h, Actor::User, &p, &u, &r)
            })
            .get(|State(c): State<AppState>, h: HeaderMap, Path((p, u, r)): Path<(String, String, String)>| async move {
                check_assigned(&c, &h, Actor::User, &p, &u, &r)
            })
            .delete(|State(c): State<AppState>, h: HeaderMap, Path((p, u, r)): Path<(String, String, String)>| async move {
                unassign(&c, &h, Actor::User, &p, &u, &r)
            }),
        )
        .route(
            "/identity/v3/projects/{p}/groups/{g}/roles/{r}",
            put(|State(c): State<AppState>, h: HeaderMap, Path((p, g, r)): Path<(String, String, String)>| async move {
                assign(&c, &h, Actor::Group, &p, &g, &r)
            })
            .head(|State(c): State<AppState>, h: HeaderMap, Path((p, g, r)): Path<(String, String, String)>| async move {
                check_assigned(&c, &h, Actor::Group, &p, &g, &r)
            })
            .get(|State(c): State<AppState>, h: HeaderMap, Path((p, g, r)): Path<(String, String, String)>| async move {
                check_assigned(&c, &h, Actor::Group, &p, &g, &r)
            })
            .delete(|State(c): State<AppState>, h: HeaderMap, Path((p, g, r)): Path<(String, String, String)>| async move {
                unassign(&c, &h, Actor::Group, &p, &g, &r)
            }),
        )
}
