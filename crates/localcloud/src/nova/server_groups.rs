//! Nova's server groups (`os-server-groups`): a policy (`affinity`, `anti-affinity` and their
//! soft forms) and the servers booted into the group with the scheduler hint `group`. With one
//! compute host, affinity always holds and a hard anti-affinity group takes one server (a second
//! goes to ERROR with "No valid host was found", as on a one-host Nova); `max_server_per_host`
//! (2.64) raises that.

use super::*;
use crate::model_extra::ServerGroup;

const POLICIES: &[&str] = &[
    "affinity",
    "anti-affinity",
    "soft-affinity",
    "soft-anti-affinity",
];

fn group_not_found(id: &str) -> ApiError {
    ApiError::not_found(S, format!("Instance group {id} could not be found."))
}

fn group_json(g: &ServerGroup, mv: (u32, u32)) -> Value {
    let mut o = json!({"id": g.id, "name": g.name, "members": g.members});
    if mv >= (2, 64) {
        o["policy"] = json!(g.policy);
        o["rules"] = json!(g.rules);
    } else {
        o["policies"] = json!([g.policy]);
        o["metadata"] = json!({});
    }
    if mv >= (2, 13) {
        o["project_id"] = json!(g.project_id);
        o["user_id"] = json!(g.user_id);
    }
    o
}

fn reaches(ctx: &Ctx, g: &ServerGroup) -> bool {
    ctx.is_admin() || g.project_id == ctx.project_id
}

pub(super) async fn list_server_groups(
    State(c): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<util::Query>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let all = r.ctx.is_admin() && crate::access::wants_all_projects(&query);
    let num = |k: &str| q(&query, k).and_then(|v| v.parse::<usize>().ok());
    let list: Vec<Value> = c.store.read(|db| {
        db.extra
            .server_groups
            .values()
            .filter(|g| all || g.project_id == r.ctx.project_id)
            .skip(num("offset").unwrap_or(0))
            .take(num("limit").unwrap_or(usize::MAX))
            .map(|g| group_json(g, r.mv))
            .collect()
    });
    Ok(versioned(&r, Json(json!({"server_groups": list}))))
}

pub(super) async fn show_server_group(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let g = c
        .store
        .read(|db| {
            db.extra
                .server_groups
                .get(&id)
                .filter(|g| reaches(&r.ctx, g))
                .map(|g| group_json(g, r.mv))
        })
        .ok_or_else(|| group_not_found(&id))?;
    Ok(versioned(&r, Json(json!({"server_group": g}))))
}

pub(super) async fn create_server_group(
    State(c): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let v = body::parse_json(S, &bytes)?;
    let m = v
        .get("server_group")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            bad("Invalid input for field/attribute server_group. 'server_group' is a required property")
        })?;
    let name = match m.get("name") {
        Some(Value::String(n))
            if !n.trim().is_empty() && n.chars().count() <= 255 && !n.contains('\0') =>
        {
            n.clone()
        }
        Some(other) => {
            return Err(bad(format!(
                "Invalid input for field/attribute name. Value: {other}. {other} is not valid"
            )))
        }
        None => {
            return Err(bad(
                "Invalid input for field/attribute server_group. 'name' is a required property",
            ))
        }
    };
    let policy = if r.mv >= (2, 64) {
        m.get("policy").and_then(Value::as_str).map(str::to_owned)
    } else {
        match m.get("policies").and_then(Value::as_array) {
            Some(p) if p.len() == 1 => p.first().and_then(Value::as_str).map(str::to_owned),
            _ => None,
        }
    };
    let policy =
        policy
            .filter(|p| POLICIES.contains(&p.as_str()))
            .ok_or_else(|| {
                bad(format!(
                "Invalid input for field/attribute {}. Value: {}. It must be one of {POLICIES:?}",
                if r.mv >= (2, 64) { "policy" } else { "policies" },
                Value::Object(m.clone())
            ))
            })?;
    let mut rules = BTreeMap::new();
    if r.mv >= (2, 64) {
        if let Some(obj) = m.get("rules").and_then(Value::as_object) {
            for (k, v) in obj {
                let n = body::int_like(v).filter(|n| *n >= 1);
                match (k.as_str(), n) {
                    ("max_server_per_host", Some(n)) if policy == "anti-affinity" => {
                        rules.insert(k.clone(), n);
                    }
                    _ => {
                        return Err(bad(format!(
                            "Invalid input for field/attribute rules. Value: {k}. Only max_server_per_host (an integer from 1) of an anti-affinity group is allowed"
                        )))
                    }
                }
            }
        }
    }
    let g = ServerGroup {
        id: new_id(),
        name,
        project_id: r.ctx.project_id.clone(),
        user_id: r.ctx.user_id.clone(),
        policy,
        rules,
        members: vec![],
    };
    c.store.write(|db| {
        db.extra.server_groups.insert(g.id.clone(), g.clone());
    });
    Ok(versioned(
        &r,
        Json(json!({"server_group": group_json(&g, r.mv)})),
    ))
}

pub(super) async fn delete_server_group(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    c.store.write(|db| {
        if !db
            .extra
            .server_groups
            .get(&id)
            .is_some_and(|g| reaches(&r.ctx, g))
        {
            return Err(group_not_found(&id));
        }
        db.extra.server_groups.remove(&id);
        Ok(())
    })?;
    Ok(versioned(&r, StatusCode::NO_CONTENT))
}

/// The group a server create names in its scheduler hints (`group`), checked: it must exist and
/// belong to the caller's project.
pub(super) fn hinted_group(c: &Cloud, ctx: &Ctx, bytes: &[u8]) -> ApiResult<Option<String>> {
    let v = body::parse_json(S, bytes)?;
    let hints = v
        .get("os:scheduler_hints")
        .or_else(|| v.get("OS-SCH-HNT:scheduler_hints"));
    let Some(group) = hints.and_then(|h| h.get("group")) else {
        return Ok(None);
    };
    let id = group
        .as_str()
        .ok_or_else(|| bad(format!("Invalid input for field/attribute group. Value: {group}. {group} is not of type 'string'")))?;
    let ok = c.store.read(|db| {
        db.extra
            .server_groups
            .get(id)
            .is_some_and(|g| reaches(ctx, g))
    });
    if !ok {
        return Err(bad(format!("Invalid server group {id}")));
    }
    Ok(Some(id.to_owned()))
}

/// Adds a new server to its group; false when the group's hard anti-affinity has no room on the
/// one host (the server then fails as Nova's scheduler fails it).
pub(super) fn join_group(db: &mut Db, group_id: &str, server_id: &str) -> bool {
    let live: Vec<String> = db
        .extra
        .server_groups
        .get(group_id)
        .map(|g| {
            g.members
                .iter()
                .filter(|m| db.servers.contains_key(*m))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let Some(g) = db.extra.server_groups.get_mut(group_id) else {
        return true;
    };
    g.members = live;
    let fits = g.policy != "anti-affinity"
        || g.members.len()
            < usize::try_from(g.rules.get("max_server_per_host").copied().unwrap_or(1))
                .unwrap_or(1);
    g.members.push(server_id.to_owned());
    fits
}

/// Removes a deleted server from the groups it was in.
pub(super) fn leave_groups(db: &mut Db, server_id: &str) {
    for g in db.extra.server_groups.values_mut() {
        g.members.retain(|m| m != server_id);
    }
}
