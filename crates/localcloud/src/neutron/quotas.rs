//! Neutron's quotas per project with Neutron's defaults, enforced inside the store write of every
//! create (so concurrent creates cannot pass a quota together), with Neutron's 409 `OverQuota`.

use super::*;

/// The resources Neutron counts and its default limits; `-1` is unlimited.
pub(super) const DEFAULTS: &[(&str, i64)] = &[
    ("network", 100),
    ("subnet", 100),
    ("port", 500),
    ("router", 10),
    ("floatingip", 50),
    ("security_group", 10),
    ("security_group_rule", 100),
];

/// A project's limit of `resource`.
pub(super) fn quota_limit(db: &Db, project: &str, resource: &str) -> i64 {
    db.network_quotas
        .get(project)
        .and_then(|q| q.get(resource))
        .copied()
        .or_else(|| {
            DEFAULTS
                .iter()
                .find(|(n, _)| *n == resource)
                .map(|(_, v)| *v)
        })
        .unwrap_or(-1)
}

/// How many `resource`s a project has.
pub(super) fn quota_used(db: &Db, project: &str, resource: &str) -> i64 {
    let mine = |p: &str| p == project;
    let n = match resource {
        "network" => db.networks.values().filter(|x| mine(&x.project_id)).count(),
        "subnet" => db.subnets.values().filter(|x| mine(&x.project_id)).count(),
        "port" => db.ports.values().filter(|x| mine(&x.project_id)).count(),
        "router" => db.routers.values().filter(|x| mine(&x.project_id)).count(),
        "floatingip" => db
            .floating_ips
            .values()
            .filter(|x| mine(&x.project_id))
            .count(),
        "security_group" => db
            .security_groups
            .values()
            .filter(|x| mine(&x.project_id))
            .count(),
        "security_group_rule" => db.sg_rules.values().filter(|x| mine(&x.project_id)).count(),
        _ => 0,
    };
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Refuses `count` more `resource`s that would take `project` over its quota.
pub(crate) fn check_quota(db: &Db, project: &str, resource: &str, count: i64) -> ApiResult<()> {
    if project.is_empty() {
        return Ok(());
    }
    let limit = quota_limit(db, project, resource);
    if limit >= 0 && quota_used(db, project, resource).saturating_add(count) > limit {
        return Err(ApiError::conflict(
            S,
            format!("Quota exceeded for resources: ['{resource}']."),
        )
        .kind("OverQuota"));
    }
    Ok(())
}

/// The project whose quotas the caller may read: its own, or any for an admin.
fn quota_project(ctx: &Ctx, p: &str) -> ApiResult<()> {
    if p == ctx.project_id || ctx.is_admin() {
        Ok(())
    } else {
        Err(
            ApiError::forbidden(S, "(rule:get_quota) is disallowed by policy")
                .kind("PolicyNotAuthorized"),
        )
    }
}

fn admin_only(ctx: &Ctx, action: &str) -> ApiResult<()> {
    if ctx.is_admin() {
        Ok(())
    } else {
        Err(
            ApiError::forbidden(S, format!("rule:{action}_quota is disallowed by policy"))
                .kind("PolicyNotAuthorized"),
        )
    }
}

fn quota_view(db: &Db, p: &str) -> Value {
    let q: Map<String, Value> = DEFAULTS
        .iter()
        .map(|(k, _)| ((*k).to_owned(), json!(quota_limit(db, p, k))))
        .collect();
    json!({"quota": q})
}

/// `GET /quotas/{project}`.
pub(super) async fn quotas(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(p): Path<String>,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    quota_project(&ctx, &p)?;
    Ok(Json(c.store.read(|db| quota_view(db, &p))))
}

/// `GET /quotas/{project}/details`: limits with use.
pub(super) async fn quota_details(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(p): Path<String>,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    quota_project(&ctx, &p)?;
    let q: Map<String, Value> = c.store.read(|db| {
        DEFAULTS
            .iter()
            .map(|(k, _)| {
                let v = json!({"limit": quota_limit(db, &p, k), "used": quota_used(db, &p, k), "reserved": 0});
                ((*k).to_owned(), v)
            })
            .collect()
    });
    Ok(Json(json!({"quota": q})))
}

/// `GET /quotas/{project}/default`.
pub(super) async fn quota_defaults(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(_p): Path<String>,
) -> ApiResult<Json<Value>> {
    c.auth(&headers, S)?;
    let q: Map<String, Value> = DEFAULTS
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect();
    Ok(Json(json!({"quota": q})))
}

/// `PUT /quotas/{project}` (admin).
pub(super) async fn update_quotas(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(p): Path<String>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    admin_only(&ctx, "update")?;
    let v = body::parse_json(S, &bytes)?;
    let set = v.get("quota").and_then(Value::as_object).ok_or_else(|| {
        ApiError::bad_request(
            S,
            "Invalid input for operation: 'quota' is a required element.",
        )
        .kind("InvalidInput")
    })?;
    let mut changes = Vec::new();
    for (k, val) in set {
        if k == "force" || k == "check_limit" {
            continue;
        }
        if !DEFAULTS.iter().any(|(n, _)| n == k) {
            return Err(
                ApiError::bad_request(S, format!("Unrecognized attribute(s) '{k}'"))
                    .kind("HTTPBadRequest"),
            );
        }
        let n = body::int_like(val).filter(|n| *n >= -1).ok_or_else(|| {
            ApiError::bad_request(
                S,
                format!("Invalid input for {k}. Reason: '{val}' is not an integer of at least -1."),
            )
            .kind("HTTPBadRequest")
        })?;
        changes.push((k.clone(), n));
    }
    let out = c.store.write(|db| {
        let q = db.network_quotas.entry(p.clone()).or_default();
        for (k, n) in changes {
            q.insert(k, n);
        }
        quota_view(db, &p)
    });
    Ok(Json(out))
}

/// `DELETE /quotas/{project}` (admin): back to the defaults.
pub(super) async fn delete_quotas(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(p): Path<String>,
) -> ApiResult<StatusCode> {
    let ctx = c.auth(&headers, S)?;
    admin_only(&ctx, "delete")?;
    c.store.write(|db| db.network_quotas.remove(&p));
    Ok(StatusCode::NO_CONTENT)
}
