//! Neutron's optional extensions whose resources are records of attributes: QoS policies and
//! rules, address scopes, subnet pools, address groups, RBAC policies, segments and segment
//! ranges, trunks, metering labels and rules, network flavors and service profiles, local IPs,
//! L3 conntrack helpers and default security group rules. Each kind is described once
//! ([`Kind`]: its path, JSON names, attributes with types, defaults and which can change, who
//! may change it) and served by the same handlers: create, list (filters, `fields`,
//! pagination), show, update, delete, with Neutron's errors. Records are kept in
//! `State::network_records` (kind → id → JSON object) and persisted with the rest of the state.
//! Per-kind rules (validation, derived attributes, in-use checks) are hooks in
//! `records_kinds/` (the table of kinds in its `mod.rs`, one file per group of kinds).
//!
//! localcloud keeps and checks these resources; its data plane does not act on them (no
//! traffic shaping, no VLAN trunking, no metering counters): `README.md` says so.

use std::collections::BTreeMap;

use axum::routing::{delete as delete_route, post};

use super::*;

/// The JSON type of an attribute.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum T {
    Str,
    /// A string or null.
    OptStr,
    Bool,
    Int,
    /// An integer or null.
    OptInt,
    /// A list (of strings or objects).
    List,
}

/// An attribute: name, type, default (JSON text; `None`: required on create), whether an
/// update may change it.
pub(super) struct F {
    pub name: &'static str,
    pub ty: T,
    pub default: Option<&'static str>,
    pub update: bool,
}

pub(super) const fn f(name: &'static str, ty: T, default: &'static str, update: bool) -> F {
    F {
        name,
        ty,
        default: Some(default),
        update,
    }
}

pub(super) const fn req(name: &'static str, ty: T, update: bool) -> F {
    F {
        name,
        ty,
        default: None,
        update,
    }
}

/// Checks and derives attributes: `(db, caller, new record, old record on update)`.
pub(super) type Hook = fn(&Db, &Ctx, &mut Map<String, Value>, Option<&Value>) -> ApiResult<()>;
/// Refuses a delete (in use): `(db, record)`.
pub(super) type DeleteCheck = fn(&Db, &Value) -> ApiResult<()>;
/// Adds derived attributes to a record's view.
pub(super) type ViewHook = fn(&Db, &mut Map<String, Value>);

/// A record kind nested under a parent (`/qos/policies/{id}/bandwidth_limit_rules`) or naming
/// one (`metering_label_id`): the parent's kind (`router` for Neutron routers), the attribute
/// holding its id, and whether the path nests.
pub(super) struct Parent {
    pub kind: &'static str,
    pub field: &'static str,
    pub nested: bool,
}

pub(super) struct Kind {
    /// The key in `State::network_records`.
    pub store: &'static str,
    /// The JSON wrapper of one record (`policy`).
    pub key: &'static str,
    /// The JSON wrapper of a list (`policies`).
    pub plural: &'static str,
    /// The path under `/v2.0/` (or under the parent's `{id}/` when nested).
    pub path: &'static str,
    /// The name in errors (`QoS policy`) and the `type` of Neutron's not-found error.
    pub label: &'static str,
    pub not_found: &'static str,
    pub fields: &'static [F],
    /// Whether records carry `project_id` (and are seen by their project, shared or granted).
    pub owned: bool,
    /// Whether creating, changing and deleting need the admin role (Neutron's default policy).
    pub admin_only: bool,
    /// Whether records have `tags` (standard attributes).
    pub tagged: bool,
    pub parent: Option<Parent>,
    pub hook: Option<Hook>,
    pub delete_check: Option<DeleteCheck>,
    pub view: Option<ViewHook>,
}

pub(super) fn records<'a>(db: &'a Db, store: &str) -> impl Iterator<Item = &'a Value> + 'a {
    db.network_records
        .get(store)
        .into_iter()
        .flat_map(BTreeMap::values)
}

pub(super) fn record<'a>(db: &'a Db, store: &str, id: &str) -> Option<&'a Value> {
    db.network_records.get(store).and_then(|m| m.get(id))
}

pub(super) fn str_of<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// Whether an RBAC policy grants `project` the `action` on an object.
pub(super) fn rbac_grants(
    db: &Db,
    object_type: &str,
    id: &str,
    project: &str,
    action: &str,
) -> bool {
    records(db, "rbac_policy").any(|r| {
        str_of(r, "object_type") == object_type
            && str_of(r, "object_id") == id
            && str_of(r, "action") == action
            && (str_of(r, "target_tenant") == project || str_of(r, "target_tenant") == "*")
    })
}

/// Whether a project sees a network: its own, shared and external ones, and those an RBAC
/// policy shares with it (`access_as_shared`) or makes external to it (`access_as_external`).
pub(super) fn network_seen(db: &Db, n: &Network, ctx: &Ctx) -> bool {
    net_visible(n, ctx)
        || rbac_grants(db, "network", &n.id, &ctx.project_id, "access_as_shared")
        || rbac_grants(db, "network", &n.id, &ctx.project_id, "access_as_external")
}

/// The RBAC object type of a record kind that RBAC policies can share.
fn rbac_type(store: &str) -> Option<&'static str> {
    match store {
        "qos_policy" => Some("qos_policy"),
        "address_scope" => Some("address_scope"),
        "subnetpool" => Some("subnetpool"),
        "address_group" => Some("address_group"),
        _ => None,
    }
}

/// Whether the caller sees a record: an admin every one; others their project's, shared ones,
/// those an RBAC policy shares with them, and those of a parent they see.
pub(super) fn visible(db: &Db, ctx: &Ctx, k: &Kind, r: &Value) -> bool {
    if ctx.is_admin() {
        return true;
    }
    if let Some(p) = &k.parent {
        return parent_visible(db, ctx, p.kind, str_of(r, p.field));
    }
    if !k.owned {
        return true;
    }
    let project = str_of(r, "project_id");
    (!project.is_empty() && project == ctx.project_id)
        || r.get("shared").and_then(Value::as_bool) == Some(true)
        || rbac_type(k.store).is_some_and(|t| {
            rbac_grants(db, t, str_of(r, "id"), &ctx.project_id, "access_as_shared")
        })
}

fn parent_visible(db: &Db, ctx: &Ctx, kind: &str, id: &str) -> bool {
    match kind {
        "router" => db.routers.mine(ctx, id).is_some(),
        "network" => db
            .networks
            .get(id)
            .is_some_and(|n| network_seen(db, n, ctx)),
        _ => match (kind_of(kind), record(db, kind, id)) {
            (Some(pk), Some(r)) => visible(db, ctx, pk, r),
            _ => false,
        },
    }
}

/// Whether the caller may change a record: admins any; others their project's (of a parent's).
fn changeable(db: &Db, ctx: &Ctx, k: &Kind, r: &Value) -> bool {
    if ctx.is_admin() {
        return true;
    }
    if k.admin_only {
        return false;
    }
    if let Some(p) = &k.parent {
        let pid = str_of(r, p.field);
        return match p.kind {
            "router" => db.routers.mine(ctx, pid).is_some(),
            "network" => db.networks.mine(ctx, pid).is_some(),
            _ => match (kind_of(p.kind), record(db, p.kind, pid)) {
                (Some(pk), Some(pr)) => changeable(db, ctx, pk, pr),
                _ => false,
            },
        };
    }
    str_of(r, "project_id") == ctx.project_id
}

pub(super) fn kind_of(store: &str) -> Option<&'static Kind> {
    super::records_kinds::KINDS
        .iter()
        .find(|k| k.store == store)
}

pub(super) fn not_found(k: &Kind, id: &str) -> ApiError {
    ApiError::not_found(S, format!("{} {id} could not be found.", k.label)).kind(k.not_found)
}

pub(super) fn policy_denied(action: &str, k: &Kind) -> ApiError {
    ApiError::forbidden(
        S,
        format!("rule:{action}_{} is disallowed by policy", k.store),
    )
    .kind("PolicyNotAuthorized")
}

pub(super) fn invalid(msg: impl Into<String>) -> ApiError {
    ApiError::bad_request(S, msg).kind("InvalidInput")
}

fn type_ok(ty: T, v: &Value) -> Option<Value> {
    match (ty, v) {
        (T::Str, Value::String(s)) | (T::OptStr, Value::String(s)) => (!s.contains('\0'))
            .then(|| v.clone())
            .filter(|_| s.chars().count() <= 255),
        (T::OptStr, Value::Null) | (T::OptInt, Value::Null) => Some(Value::Null),
        (T::Bool, v) => crate::body::bool_like(v).map(Value::Bool),
        (T::Int, v) | (T::OptInt, v) => crate::body::int_like(v).map(|n| json!(n)),
        (T::List, Value::Array(_)) => Some(v.clone()),
        _ => None,
    }
}

/// The attributes of a create or update body, checked against the kind's.
fn attributes(k: &Kind, bytes: &[u8], creating: bool) -> ApiResult<Map<String, Value>> {
    let v = body::parse_json(S, bytes)?;
    let m = match v.get(k.key) {
        Some(Value::Object(m)) => m.clone(),
        _ => {
            return Err(ApiError::bad_request(
                S,
                format!("Resource body required: '{}' is missing", k.key),
            ))
        }
    };
    let mut out = Map::new();
    for (name, value) in m {
        if name == "project_id" || name == "tenant_id" {
            if !creating || !k.owned {
                return Err(invalid(format!("Cannot update read-only attribute {name}")));
            }
            if !value.is_string() {
                return Err(invalid(format!(
                    "Invalid input for {name}. Reason: '{value}' is not a valid string."
                )));
            }
            out.insert(name, value);
            continue;
        }
        if name == "tags" && k.tagged && creating {
            out.insert(
                name,
                Value::Array(
                    parse_tags(Some(&value))?
                        .into_iter()
                        .map(Value::String)
                        .collect(),
                ),
            );
            continue;
        }
        let Some(field) = k.fields.iter().find(|f| f.name == name) else {
            return Err(invalid(format!("Unrecognized attribute(s) '{name}'")));
        };
        if !creating && !field.update {
            return Err(invalid(format!("Cannot update read-only attribute {name}")));
        }
        let value = type_ok(field.ty, &value).ok_or_else(|| {
            invalid(format!(
                "Invalid input for {name}. Reason: '{value}' is not of the expected type."
            ))
        })?;
        out.insert(name, value);
    }
    Ok(out)
}

pub(super) fn view(db: &Db, k: &Kind, r: &Value) -> Value {
    let mut m = r.as_object().cloned().unwrap_or_default();
    if let Some(h) = k.view {
        h(db, &mut m);
    }
    Value::Object(m)
}

fn caller(c: &Cloud, headers: &HeaderMap) -> ApiResult<Ctx> {
    c.auth(headers, S)
}

/// The parent's id must name a parent the caller sees (404 otherwise).
fn check_parent(db: &Db, ctx: &Ctx, k: &Kind, parent_id: Option<&str>) -> ApiResult<()> {
    if let (Some(p), Some(pid)) = (&k.parent, parent_id) {
        if !parent_visible(db, ctx, p.kind, pid) {
            return Err(match p.kind {
                "network" => net_not_found(pid),
                "router" => ApiError::not_found(S, format!("Router {pid} could not be found"))
                    .kind("RouterNotFound"),
                other => match kind_of(other) {
                    Some(pk) => not_found(pk, pid),
                    None => ApiError::not_found(S, format!("{other} {pid} could not be found.")),
                },
            });
        }
    }
    Ok(())
}

pub(super) fn list(
    k: &'static Kind,
    c: &Cloud,
    headers: &HeaderMap,
    query: &util::Query,
    parent_id: Option<&str>,
) -> ApiResult<Json<Value>> {
    let ctx = caller(c, headers)?;
    let items = c.store.read(|db| {
        check_parent(db, &ctx, k, parent_id)?;
        Ok::<_, ApiError>(
            records(db, k.store)
                .filter(|r| match (&k.parent, parent_id) {
                    (Some(p), Some(pid)) => str_of(r, p.field) == pid,
                    _ => true,
                })
                .filter(|r| visible(db, &ctx, k, r))
                .map(|r| view(db, k, r))
                .collect::<Vec<_>>(),
        )
    })?;
    list_response(c, k.plural, items, query)
}

pub(super) fn show(
    k: &'static Kind,
    c: &Cloud,
    headers: &HeaderMap,
    parent_id: Option<&str>,
    id: &str,
) -> ApiResult<Json<Value>> {
    let ctx = caller(c, headers)?;
    c.store.read(|db| {
        check_parent(db, &ctx, k, parent_id)?;
        let r = find(db, &ctx, k, parent_id, id)?;
        Ok(Json(json!({k.key: view(db, k, r)})))
    })
}

fn find<'a>(
    db: &'a Db,
    ctx: &Ctx,
    k: &Kind,
    parent_id: Option<&str>,
    id: &str,
) -> ApiResult<&'a Value> {
    record(db, k.store, id)
        .filter(|r| match (&k.parent, parent_id) {
            (Some(p), Some(pid)) => str_of(r, p.field) == pid,
            _ => true,
        })
        .filter(|r| visible(db, ctx, k, r))
        .ok_or_else(|| not_found(k, id))
}

pub(super) fn create(
    k: &'static Kind,
    c: &Cloud,
    headers: &HeaderMap,
    parent_id: Option<&str>,
    bytes: &[u8],
) -> ApiResult<Response> {
    let ctx = caller(c, headers)?;
    if k.admin_only && !ctx.is_admin() {
        return Err(policy_denied("create", k));
    }
    let mut m = attributes(k, bytes, true)?;
    let ctx = if k.owned { on_behalf(ctx, &m)? } else { ctx };
    m.remove("tenant_id");
    for field in k.fields {
        if m.contains_key(field.name) {
            continue;
        }
        match field.default {
            Some(d) => {
                m.insert(
                    field.name.into(),
                    serde_json::from_str(d).unwrap_or(Value::Null),
                );
            }
            None => {
                if k.parent
                    .as_ref()
                    .is_some_and(|p| p.nested && p.field == field.name)
                {
                    continue;
                }
                return Err(invalid(format!(
                    "Failed to parse request. Required attribute '{}' not specified",
                    field.name
                )));
            }
        }
    }
    if let (Some(p), Some(pid)) = (&k.parent, parent_id) {
        m.insert(p.field.into(), json!(pid));
    }
    let id = new_id();
    let t = now();
    m.insert("id".into(), json!(id));
    if k.owned {
        m.insert("project_id".into(), json!(ctx.project_id));
        m.insert("tenant_id".into(), json!(ctx.project_id));
    }
    if k.tagged && !m.contains_key("tags") {
        m.insert("tags".into(), json!([]));
    }
    m.insert("created_at".into(), json!(t));
    m.insert("updated_at".into(), json!(t));
    m.insert("revision_number".into(), json!(0));
    c.store.write(|db| {
        check_parent(db, &ctx, k, parent_id)?;
        if let Some(p) = &k.parent {
            if !p.nested {
                check_parent(
                    db,
                    &ctx,
                    k,
                    Some(str_of(&Value::Object(m.clone()), p.field)),
                )?;
            }
            let pid = m
                .get(p.field)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let parent_ok = match p.kind {
                "router" => db.routers.mine(&ctx, &pid).is_some(),
                "network" => db.networks.mine(&ctx, &pid).is_some(),
                other => match (kind_of(other), record(db, other, &pid)) {
                    (Some(pk), Some(pr)) => changeable(db, &ctx, pk, pr),
                    _ => false,
                },
            };
            if !parent_ok && !ctx.is_admin() {
                return Err(policy_denied("create", k));
            }
        }
        if let Some(h) = k.hook {
            h(db, &ctx, &mut m, None)?;
        }
        let v = Value::Object(m);
        db.network_records
            .entry(k.store.to_owned())
            .or_default()
            .insert(id.clone(), v.clone());
        Ok(created(k.key, view(db, k, &v)))
    })
}

pub(super) fn update(
    k: &'static Kind,
    c: &Cloud,
    headers: &HeaderMap,
    parent_id: Option<&str>,
    id: &str,
    bytes: &[u8],
) -> ApiResult<Json<Value>> {
    let ctx = caller(c, headers)?;
    let changes = attributes(k, bytes, false)?;
    c.store.write(|db| {
        check_parent(db, &ctx, k, parent_id)?;
        let old = find(db, &ctx, k, parent_id, id)?.clone();
        if !changeable(db, &ctx, k, &old) {
            return Err(policy_denied("update", k));
        }
        let mut m = old.as_object().cloned().unwrap_or_default();
        for (name, v) in changes {
            m.insert(name, v);
        }
        if let Some(h) = k.hook {
            h(db, &ctx, &mut m, Some(&old))?;
        }
        let rev = old
            .get("revision_number")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        m.insert("revision_number".into(), json!(rev + 1));
        m.insert("updated_at".into(), json!(now()));
        let v = Value::Object(m);
        db.network_records
            .entry(k.store.to_owned())
            .or_default()
            .insert(id.to_owned(), v.clone());
        Ok(Json(json!({k.key: view(db, k, &v)})))
    })
}

pub(super) fn delete(
    k: &'static Kind,
    c: &Cloud,
    headers: &HeaderMap,
    parent_id: Option<&str>,
    id: &str,
) -> ApiResult<StatusCode> {
    let ctx = caller(c, headers)?;
    c.store.write(|db| {
        check_parent(db, &ctx, k, parent_id)?;
        let old = find(db, &ctx, k, parent_id, id)?.clone();
        if !changeable(db, &ctx, k, &old) {
            return Err(policy_denied("delete", k));
        }
        if let Some(check) = k.delete_check {
            check(db, &old)?;
        }
        remove_cascade(db, k.store, id);
        Ok(StatusCode::NO_CONTENT)
    })
}

/// Removes a record and the records that hang on it (rules of a policy, rules of a label, RBAC
/// policies of an object).
pub(super) fn remove_cascade(db: &mut Db, store: &str, id: &str) {
    if let Some(m) = db.network_records.get_mut(store) {
        m.remove(id);
    }
    for child in super::records_kinds::KINDS {
        let Some(p) = &child.parent else { continue };
        if p.kind != store {
            continue;
        }
        let ids: Vec<String> = records(db, child.store)
            .filter(|r| str_of(r, p.field) == id)
            .map(|r| str_of(r, "id").to_owned())
            .collect();
        for cid in ids {
            remove_cascade(db, child.store, &cid);
        }
    }
    if let Some(t) = rbac_type(store) {
        drop_rbac(db, t, id);
    }
}

/// Removes the records hanging on a core resource being deleted (`network`: its segments and
/// RBAC policies; `router`: its conntrack helpers).
pub(super) fn remove_children(db: &mut Db, kind: &str, id: &str) {
    remove_cascade(db, kind, id);
    if kind == "network" {
        drop_rbac(db, "network", id);
    }
}

/// Removes the RBAC policies of an object.
pub(super) fn drop_rbac(db: &mut Db, object_type: &str, id: &str) {
    if let Some(m) = db.network_records.get_mut("rbac_policy") {
        m.retain(|_, r| !(str_of(r, "object_type") == object_type && str_of(r, "object_id") == id));
    }
}

/// The routes of every record kind.
pub(super) fn routes(mut r: Router<AppState>) -> Router<AppState> {
    for k in super::records_kinds::KINDS {
        let k: &'static Kind = k;
        match &k.parent {
            Some(p) if p.nested => {
                let base = match p.kind {
                    "router" => "routers".to_owned(),
                    other => kind_of(other)
                        .map(|pk| pk.path.to_owned())
                        .unwrap_or_default(),
                };
                let coll = format!("/networking/v2.0/{base}/{{parent}}/{}", k.path);
                r = r
                    .route(
                        &coll,
                        get(move |State(c): State<AppState>, h: HeaderMap, Path(p): Path<String>, Query(q): Query<util::Query>| async move {
                            list(k, &c, &h, &q, Some(&p))
                        })
                        .post(move |State(c): State<AppState>, h: HeaderMap, Path(p): Path<String>, b: Bytes| async move {
                            create(k, &c, &h, Some(&p), &b)
                        }),
                    )
                    .route(
                        &format!("{coll}/{{id}}"),
                        get(move |State(c): State<AppState>, h: HeaderMap, Path((p, id)): Path<(String, String)>| async move {
                            show(k, &c, &h, Some(&p), &id)
                        })
                        .put(move |State(c): State<AppState>, h: HeaderMap, Path((p, id)): Path<(String, String)>, b: Bytes| async move {
                            update(k, &c, &h, Some(&p), &id, &b)
                        })
                        .delete(move |State(c): State<AppState>, h: HeaderMap, Path((p, id)): Path<(String, String)>| async move {
                            delete(k, &c, &h, Some(&p), &id)
                        }),
                    );
            }
            _ => {
                let coll = format!("/networking/v2.0/{}", k.path);
                r = r
                    .route(
                        &coll,
                        get(
                            move |State(c): State<AppState>,
                                  h: HeaderMap,
                                  Query(q): Query<util::Query>| async move {
                                list(k, &c, &h, &q, None)
                            },
                        )
                        .post(
                            move |State(c): State<AppState>, h: HeaderMap, b: Bytes| async move {
                                create(k, &c, &h, None, &b)
                            },
                        ),
                    )
                    .route(
                        &format!("{coll}/{{id}}"),
                        get(
                            move |State(c): State<AppState>,
                                  h: HeaderMap,
                                  Path(id): Path<String>| async move {
                                show(k, &c, &h, None, &id)
                            },
                        )
                        .put(
                            move |State(c): State<AppState>,
                                  h: HeaderMap,
                                  Path(id): Path<String>,
                                  b: Bytes| async move {
                                update(k, &c, &h, None, &id, &b)
                            },
                        )
                        .delete(
                            move |State(c): State<AppState>,
                                  h: HeaderMap,
                                  Path(id): Path<String>| async move {
                                delete(k, &c, &h, None, &id)
                            },
                        ),
                    );
            }
        }
    }
    r.route(
        "/networking/v2.0/qos/rule-types",
        get(super::records_kinds::qos_rule_types),
    )
    .route(
        "/networking/v2.0/qos/rule-types/{type}",
        get(super::records_kinds::qos_rule_type),
    )
    .route(
        "/networking/v2.0/address-groups/{id}/add_addresses",
        put(|State(c): State<AppState>, h: HeaderMap, Path(id): Path<String>, b: Bytes| async move {
            super::records_kinds::address_group_action(&c, &h, &id, &b, true)
        }),
    )
    .route(
        "/networking/v2.0/address-groups/{id}/remove_addresses",
        put(|State(c): State<AppState>, h: HeaderMap, Path(id): Path<String>, b: Bytes| async move {
            super::records_kinds::address_group_action(&c, &h, &id, &b, false)
        }),
    )
    .route(
        "/networking/v2.0/trunks/{id}/add_subports",
        put(|State(c): State<AppState>, h: HeaderMap, Path(id): Path<String>, b: Bytes| async move {
            super::records_kinds::trunk_subports(&c, &h, &id, Some(&b), true)
        }),
    )
    .route(
        "/networking/v2.0/trunks/{id}/remove_subports",
        put(|State(c): State<AppState>, h: HeaderMap, Path(id): Path<String>, b: Bytes| async move {
            super::records_kinds::trunk_subports(&c, &h, &id, Some(&b), false)
        }),
    )
    .route(
        "/networking/v2.0/trunks/{id}/get_subports",
        get(|State(c): State<AppState>, h: HeaderMap, Path(id): Path<String>| async move {
            super::records_kinds::trunk_subports(&c, &h, &id, None, false)
        }),
    )
    .route(
        "/networking/v2.0/flavors/{id}/service_profiles",
        post(|State(c): State<AppState>, h: HeaderMap, Path(id): Path<String>, b: Bytes| async move {
            super::records_kinds::flavor_profile(&c, &h, &id, None, Some(&b))
        }),
    )
    .route(
        "/networking/v2.0/flavors/{id}/service_profiles/{profile}",
        delete_route(|State(c): State<AppState>, h: HeaderMap, Path((id, p)): Path<(String, String)>| async move {
            super::records_kinds::flavor_profile(&c, &h, &id, Some(&p), None)
        }),
    )
    .route(
        "/networking/v2.0/network-ip-availabilities",
        get(super::ip_availability::list),
    )
    .route(
        "/networking/v2.0/network-ip-availabilities/{id}",
        get(super::ip_availability::show),
    )
}
