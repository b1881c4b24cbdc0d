//! Keystone's implied roles (`openstack implied role create|list|delete`): a prior role implies
//! another, so whoever holds the prior role on a project holds the implied one there too (see
//! [`crate::model::State::roles_on`]). The built-in inferences (`admin` → `member` →
//! `reader`) are listed and cannot be removed.

use super::*;

fn forbidden(action: &str) -> ApiError {
    ApiError::forbidden(
        S,
        format!("You are not authorized to perform the requested action: identity:{action}."),
    )
}

fn admin_token(c: &Cloud, headers: &HeaderMap, action: &str) -> ApiResult<Token> {
    let t = caller(c, headers)?;
    if !is_admin(c, &t) {
        return Err(forbidden(action));
    }
    Ok(t)
}

fn role_not_found(id: &str) -> ApiError {
    ApiError::not_found(S, format!("Could not find role: {id}."))
}

/// The built-in inferences, by role name.
const BUILTIN: &[(&str, &str)] = &[("admin", "member"), ("member", "reader")];

/// Every inference as (prior role id, implied role id): the built-in ones, then admins'.
pub(super) fn inferences(db: &Db) -> Vec<(String, String)> {
    let id_of = |name: &str| {
        db.roles
            .values()
            .find(|r| r.name == name)
            .map(|r| r.id.clone())
    };
    let mut out: Vec<(String, String)> = BUILTIN
        .iter()
        .filter_map(|(p, i)| Some((id_of(p)?, id_of(i)?)))
        .collect();
    out.extend(db.extra.implied_roles.iter().cloned());
    out
}

fn role_ref(c: &Cloud, db: &Db, id: &str) -> Value {
    let name = db.roles.get(id).map(|r| r.name.clone());
    json!({"id": id, "name": name,
           "links": {"self": c.url(&format!("/identity/v3/roles/{id}"))}})
}

fn inference_json(c: &Cloud, db: &Db, prior: &str, implied: &str) -> Value {
    json!({"role_inference": {"prior_role": role_ref(c, db, prior), "implies": role_ref(c, db, implied)},
           "links": {"self": c.url(&format!("/identity/v3/roles/{prior}/implies/{implied}"))}})
}

fn check_roles(db: &Db, prior: &str, implied: &str) -> ApiResult<()> {
    for id in [prior, implied] {
        if !db.roles.contains_key(id) {
            return Err(role_not_found(id));
        }
    }
    Ok(())
}

async fn create_inference(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((prior, implied)): Path<(String, String)>,
) -> ApiResult<Response> {
    admin_token(&c, &headers, "create_implied_role")?;
    let body = c.store.write(|db| {
        check_roles(db, &prior, &implied)?;
        if prior == implied {
            return Err(bad(format!("Role {prior} cannot imply itself.")));
        }
        if db.roles.get(&implied).is_some_and(|r| r.name == "admin") {
            return Err(ApiError::forbidden(
                S,
                format!("{implied} is not permitted to be an implied role"),
            ));
        }
        let all = inferences(db);
        if all.iter().any(|(p, i)| p == &prior && i == &implied) {
            return Err(ApiError::conflict(
                S,
                format!("Conflict occurred attempting to store implied_role - Duplicate entry found with prior_role_id {prior} and implied_role_id {implied}."),
            ));
        }
        // No cycles: the implied role must not already imply the prior one.
        let mut reach = vec![implied.clone()];
        let mut i = 0;
        while let Some(r) = reach.get(i).cloned() {
            for (p, x) in &all {
                if p == &r && !reach.contains(x) {
                    reach.push(x.clone());
                }
            }
            i += 1;
        }
        if reach.contains(&prior) {
            return Err(bad(format!(
                "Implied role {implied} would make a cycle with {prior}."
            )));
        }
        db.extra.implied_roles.push((prior.clone(), implied.clone()));
        Ok(inference_json(&c, db, &prior, &implied))
    })?;
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

async fn show_inference(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((prior, implied)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    caller(&c, &headers)?;
    c.store.read(|db| {
        check_roles(db, &prior, &implied)?;
        if !inferences(db)
            .iter()
            .any(|(p, i)| p == &prior && i == &implied)
        {
            return Err(ApiError::not_found(
                S,
                format!("{prior} does not imply {implied}."),
            ));
        }
        Ok(Json(inference_json(&c, db, &prior, &implied)))
    })
}

async fn check_inference(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((prior, implied)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let _found = show_inference(State(c), headers, Path((prior, implied))).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete_inference(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((prior, implied)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    admin_token(&c, &headers, "delete_implied_role")?;
    c.store.write(|db| {
        check_roles(db, &prior, &implied)?;
        let before = db.extra.implied_roles.len();
        db.extra
            .implied_roles
            .retain(|(p, i)| !(p == &prior && i == &implied));
        if db.extra.implied_roles.len() == before {
            let builtin = inferences(db)
                .iter()
                .any(|(p, i)| p == &prior && i == &implied);
            return Err(if builtin {
                ApiError::forbidden(S, "The built-in role inferences cannot be deleted.")
            } else {
                ApiError::not_found(S, format!("{prior} does not imply {implied}."))
            });
        }
        Ok(StatusCode::NO_CONTENT)
    })
}

/// The roles one role implies directly.
async fn list_implied(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(prior): Path<String>,
) -> ApiResult<Json<Value>> {
    caller(&c, &headers)?;
    c.store.read(|db| {
        if !db.roles.contains_key(&prior) {
            return Err(role_not_found(&prior));
        }
        let implies: Vec<Value> = inferences(db)
            .iter()
            .filter(|(p, _)| p == &prior)
            .map(|(_, i)| role_ref(&c, db, i))
            .collect();
        Ok(Json(
            json!({"role_inference": {"prior_role": role_ref(&c, db, &prior), "implies": implies},
                       "links": {"self": c.url(&format!("/identity/v3/roles/{prior}/implies"))}}),
        ))
    })
}

/// `GET /role_inferences`: every prior role with the roles it implies.
async fn list_inferences(State(c): State<AppState>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    caller(&c, &headers)?;
    c.store.read(|db| {
        let all = inferences(db);
        let mut priors: Vec<&String> = Vec::new();
        for (p, _) in &all {
            if !priors.contains(&p) {
                priors.push(p);
            }
        }
        let list: Vec<Value> = priors
            .iter()
            .map(|p| {
                let implies: Vec<Value> = all
                    .iter()
                    .filter(|(x, _)| x == *p)
                    .map(|(_, i)| role_ref(&c, db, i))
                    .collect();
                json!({"prior_role": role_ref(&c, db, p), "implies": implies})
            })
            .collect();
        Ok(Json(json!({"role_inferences": list,
                       "links": {"self": c.url("/identity/v3/role_inferences")}})))
    })
}

pub(super) fn routes(r: Router<AppState>) -> Router<AppState> {
    r.route(
        "/identity/v3/roles/{prior}/implies/{implied}",
        get(show_inference)
            .put(create_inference)
            .head(check_inference)
            .delete(delete_inference),
    )
    .route("/identity/v3/roles/{prior}/implies", get(list_implied))
    .route("/identity/v3/role_inferences", get(list_inferences))
}
