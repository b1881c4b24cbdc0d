//! Nova's quotas on instances, cores and RAM (`os-quota-sets`), enforced on server create and
//! shown in `limits`. Limits are per project; an admin changes them. The defaults are large
//! (a cloud on one machine), so a quota binds only where an admin set one.

use super::*;

/// The quotas this Nova enforces and their defaults; `-1` is unlimited.
pub(super) const ENFORCED: &[(&str, i64)] =
    &[("instances", 5000), ("cores", 20000), ("ram", 51_200_000)];

/// Quotas Nova shows and admins set that localcloud does not enforce, with Nova's defaults.
const SHOWN: &[(&str, i64)] = &[
    ("key_pairs", 100),
    ("metadata_items", 128),
    ("injected_files", 5),
    ("injected_file_content_bytes", 10240),
    ("injected_file_path_bytes", 255),
    ("server_groups", 10),
    ("server_group_members", 10),
];

/// A project's limit of `name`: its own, else the `default` quota class's.
pub(super) fn limit(db: &Db, project: &str, name: &str) -> i64 {
    db.compute_quotas
        .get(project)
        .and_then(|q| q.get(name))
        .copied()
        .unwrap_or_else(|| class_limit(db, name))
}

/// The `default` quota class's limit of `name`: an admin's, else Nova's default.
fn class_limit(db: &Db, name: &str) -> i64 {
    db.extra
        .compute_quota_class
        .get(name)
        .copied()
        .or_else(|| {
            ENFORCED
                .iter()
                .chain(SHOWN)
                .find(|(n, _)| *n == name)
                .map(|(_, v)| *v)
        })
        .unwrap_or(-1)
}

/// What a project's servers use: instances, cores, RAM (MiB).
pub(super) fn usage(db: &Db, project: &str) -> [(&'static str, i64); 3] {
    let mut n = 0i64;
    let mut cores = 0i64;
    let mut ram = 0i64;
    for s in db.servers.values().filter(|s| s.project_id == project) {
        n += 1;
        if let Some(f) = server_flavor(db, s) {
            cores += i64::from(f.vcpus);
            ram += i64::try_from(f.ram).unwrap_or(i64::MAX);
        }
    }
    [("instances", n), ("cores", cores), ("ram", ram)]
}

/// Refuses a server of `flavor` that would take the project over a quota, with Nova's 403.
pub(super) fn check_server(db: &Db, project: &str, flavor: &Flavor) -> ApiResult<()> {
    let asked = [
        ("instances", 1i64),
        ("cores", i64::from(flavor.vcpus)),
        ("ram", i64::try_from(flavor.ram).unwrap_or(i64::MAX)),
    ];
    for ((name, used), (_, req)) in usage(db, project).into_iter().zip(asked) {
        let allowed = limit(db, project, name);
        if allowed >= 0 && used.saturating_add(req) > allowed {
            return Err(ApiError::forbidden(
                S,
                format!("Quota exceeded for {name}: Requested {req}, but already used {used} of {allowed} {name}"),
            ));
        }
    }
    Ok(())
}

/// Refuses a resize from `old` to `new` whose growth in cores or RAM would take the project
/// over its quota, with Nova's 403 (a resize asks only for the difference).
pub(super) fn check_resize(
    db: &Db,
    project: &str,
    old: Option<&Flavor>,
    new: &Flavor,
) -> ApiResult<()> {
    let (old_cores, old_ram) = old.map_or((0, 0), |f| {
        (i64::from(f.vcpus), i64::try_from(f.ram).unwrap_or(i64::MAX))
    });
    let asked = [
        ("cores", i64::from(new.vcpus) - old_cores),
        ("ram", i64::try_from(new.ram).unwrap_or(i64::MAX) - old_ram),
    ];
    let used = usage(db, project);
    for (name, req) in asked {
        if req <= 0 {
            continue;
        }
        let in_use = used.iter().find(|(n, _)| *n == name).map_or(0, |(_, u)| *u);
        let allowed = limit(db, project, name);
        if allowed >= 0 && in_use.saturating_add(req) > allowed {
            return Err(ApiError::forbidden(
                S,
                format!("Quota exceeded for {name}: Requested {req}, but already used {in_use} of {allowed} {name}"),
            ));
        }
    }
    Ok(())
}

fn quota_set(db: &Db, project: &str, detail: bool) -> Value {
    let used = usage(db, project);
    let mut q = serde_json::Map::new();
    q.insert("id".into(), json!(project));
    for (name, _) in ENFORCED {
        let l = limit(db, project, name);
        let in_use = used.iter().find(|(n, _)| n == name).map_or(0, |(_, u)| *u);
        q.insert(
            (*name).into(),
            if detail {
                json!({"limit": l, "in_use": in_use, "reserved": 0})
            } else {
                json!(l)
            },
        );
    }
    for (name, _) in SHOWN {
        let l = limit(db, project, name);
        q.insert(
            (*name).into(),
            if detail {
                json!({"limit": l, "in_use": 0, "reserved": 0})
            } else {
                json!(l)
            },
        );
    }
    json!({"quota_set": q})
}

/// A project the caller may read quotas of: its own, or any for an admin.
fn readable(r: &Req, project: &str) -> ApiResult<()> {
    if project == r.ctx.project_id || r.ctx.is_admin() {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            S,
            "Policy doesn't allow os_compute_api:os-quota-sets:show to be performed.",
        ))
    }
}

pub(super) async fn show_quotas(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(project): Path<String>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    readable(&r, &project)?;
    let v = c.store.read(|db| quota_set(db, &project, false));
    Ok(versioned(&r, Json(v)))
}

pub(super) async fn show_quotas_detail(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(project): Path<String>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    readable(&r, &project)?;
    let v = c.store.read(|db| quota_set(db, &project, true));
    Ok(versioned(&r, Json(v)))
}

pub(super) async fn show_default_quotas(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(project): Path<String>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let q = c.store.read(|db| class_set(db, &project));
    Ok(versioned(&r, Json(json!({"quota_set": q}))))
}

/// The `default` class's limits, with `id`.
fn class_set(db: &Db, id: &str) -> serde_json::Map<String, Value> {
    let mut q = serde_json::Map::new();
    q.insert("id".into(), json!(id));
    for (name, _) in ENFORCED.iter().chain(SHOWN) {
        q.insert((*name).into(), json!(class_limit(db, name)));
    }
    q
}

/// The limits of a quota set body (`quota_set` or `quota_class_set`), checked.
fn limits_body(
    set: &serde_json::Map<String, Value>,
    wrapper: &str,
) -> ApiResult<Vec<(String, i64)>> {
    let mut changes = Vec::new();
    for (k, val) in set {
        if k == "force" || k == "id" {
            continue;
        }
        let known = ENFORCED.iter().chain(SHOWN).any(|(n, _)| n == k);
        if !known {
            return Err(bad(format!("Invalid input for field/attribute {wrapper}. Additional properties are not allowed ('{k}' was unexpected)")));
        }
        let n = body::int_like(val)
            .filter(|n| *n >= -1)
            .ok_or_else(|| bad(format!("Invalid input for field/attribute {k}. Value: {val}. must be an integer of at least -1")))?;
        changes.push((k.clone(), n));
    }
    Ok(changes)
}

/// Nova keeps one quota class, `default`: the limits of projects that have none of their own.
fn quota_class(class: &str) -> ApiResult<()> {
    if class == "default" {
        Ok(())
    } else {
        Err(ApiError::not_found(
            S,
            format!("Quota class {class} could not be found."),
        ))
    }
}

pub(super) async fn show_quota_class(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(class): Path<String>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    quota_class(&class)?;
    let q = c.store.read(|db| class_set(db, &class));
    Ok(versioned(&r, Json(json!({"quota_class_set": q}))))
}

/// `PUT /os-quota-class-sets/default` (admin): the defaults of every project without limits of
/// its own.
pub(super) async fn update_quota_class(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(class): Path<String>,
    bytes: Bytes,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    if !r.ctx.is_admin() {
        return Err(ApiError::forbidden(
            S,
            "Policy doesn't allow os_compute_api:os-quota-class-sets:update to be performed.",
        ));
    }
    quota_class(&class)?;
    let v = body::parse_json(S, &bytes)?;
    let set = v
        .get("quota_class_set")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            bad("Invalid input for field/attribute quota_class_set. 'quota_class_set' is a required property")
        })?;
    let changes = limits_body(set, "quota_class_set")?;
    let out = c.store.write(|db| {
        for (k, n) in changes {
            db.extra.compute_quota_class.insert(k, n);
        }
        let mut q = class_set(db, &class);
        q.remove("id");
        q
    });
    Ok(versioned(&r, Json(json!({"quota_class_set": out}))))
}

/// `PUT /os-quota-sets/{project}` (admin): sets the project's limits (those of instances, cores
/// and RAM are enforced).
pub(super) async fn update_quotas(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(project): Path<String>,
    bytes: Bytes,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    if !r.ctx.is_admin() {
        return Err(ApiError::forbidden(
            S,
            "Policy doesn't allow os_compute_api:os-quota-sets:update to be performed.",
        ));
    }
    let v = body::parse_json(S, &bytes)?;
    let set = v
        .get("quota_set")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            bad("Invalid input for field/attribute quota_set. 'quota_set' is a required property")
        })?;
    let changes = limits_body(set, "quota_set")?;
    let out = c.store.write(|db| {
        let q = db.compute_quotas.entry(project.clone()).or_default();
        for (k, n) in changes {
            q.insert(k, n);
        }
        quota_set(db, &project, false)
    });
    Ok(versioned(&r, Json(out)))
}
