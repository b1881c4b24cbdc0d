//! RBAC policies: sharing networks and other objects with projects.

use super::*;

// --- RBAC

/// The object types and actions RBAC policies take, with the record store of each type.
pub(super) const RBAC: &[(&str, &[&str])] = &[
    ("network", &["access_as_shared", "access_as_external"]),
    ("qos_policy", &["access_as_shared"]),
    ("address_scope", &["access_as_shared"]),
    ("subnetpool", &["access_as_shared"]),
    ("address_group", &["access_as_shared"]),
];

pub(super) fn rbac_hook(
    db: &Db,
    ctx: &Ctx,
    m: &mut Map<String, Value>,
    old: Option<&Value>,
) -> ApiResult<()> {
    let t = s(m, "object_type").to_owned();
    let action = s(m, "action").to_owned();
    let object = s(m, "object_id").to_owned();
    let Some((_, actions)) = RBAC.iter().find(|(ty, _)| *ty == t) else {
        return Err(bad(format!(
            "Invalid input for object_type. Reason: '{t}' is not in {:?}.",
            RBAC.iter().map(|(t, _)| *t).collect::<Vec<_>>()
        )));
    };
    if !actions.contains(&action.as_str()) {
        return Err(bad(format!(
            "Invalid input for action. Reason: '{action}' is not in {actions:?}."
        )));
    }
    if old.is_none() {
        // The object must exist and be the caller's (any for an admin).
        let owner = if t == "network" {
            db.networks.get(&object).map(|n| n.project_id.clone())
        } else {
            super::records::record(db, &t, &object).map(|r| str_of(r, "project_id").to_owned())
        };
        match owner {
            Some(p) if ctx.is_admin() || p == ctx.project_id => {}
            _ => {
                return Err(ApiError::not_found(
                    S,
                    format!("The resource could not be found: {t} {object}."),
                )
                .kind("NotFound"))
            }
        }
    }
    let target = s(m, "target_tenant").to_owned();
    if target.is_empty() {
        return Err(bad(
            "Invalid input for target_tenant. Reason: it must not be empty.",
        ));
    }
    if others(db, "rbac_policy", m).any(|r| {
        str_of(r, "object_type") == t
            && str_of(r, "object_id") == object
            && str_of(r, "action") == action
            && str_of(r, "target_tenant") == target
    }) {
        return Err(conflict(
            format!("An RBAC policy on {t} {object} with action {action} for target {target} already exists."),
            "DuplicateRbacPolicy",
        ));
    }
    Ok(())
}

pub(super) fn rbac_view(_: &Db, m: &mut Map<String, Value>) {
    let t = m.get("target_tenant").cloned().unwrap_or(Value::Null);
    m.insert("target_project".into(), t);
}
