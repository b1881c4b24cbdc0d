//! Keystone's policies.

use super::*;

// --- policies -----------------------------------------------------------------------------------

pub(super) fn policy_fields(
    m: &Map<String, Value>,
    base: &mut Map<String, Value>,
) -> ApiResult<()> {
    for k in ["blob", "type"] {
        if let Some(v) = string_in(m, k)? {
            base.insert(k.into(), json!(v));
        }
    }
    Ok(())
}

pub(super) async fn create_policy(
    State(c): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    admin(&c, &headers, "create_policy")?;
    let m = object_of(field(&bytes, "policy")?, "policy")?;
    required(string_in(&m, "blob")?, "blob")?;
    required(string_in(&m, "type")?, "type")?;
    let id = new_hex_id();
    let mut base = Map::new();
    base.insert("id".into(), json!(id));
    policy_fields(&m, &mut base)?;
    let v = Value::Object(base);
    c.store.write(|s| put_record(s, POLICY, &id, v.clone()));
    Ok(created("policy", with_links(&c, "policies", v)))
}

pub(super) async fn list_policies(
    State(c): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> ApiResult<Json<Value>> {
    admin(&c, &headers, "list_policies")?;
    let items = c
        .store
        .read(|s| records(s, POLICY).into_iter().cloned().collect());
    let items = filter(items, &q, &["type"])
        .into_iter()
        .map(|v| with_links(&c, "policies", v))
        .collect();
    Ok(list(&c, "policies", "policies", items))
}

pub(super) async fn show_policy(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    admin(&c, &headers, "get_policy")?;
    let v = c
        .store
        .read(|s| record(s, POLICY, &id).cloned())
        .ok_or_else(|| not_found("policy", &id))?;
    Ok(Json(json!({"policy": with_links(&c, "policies", v)})))
}

pub(super) async fn update_policy(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    admin(&c, &headers, "update_policy")?;
    let m = object_of(field(&bytes, "policy")?, "policy")?;
    let v = c.store.write(|s| {
        let Some(Value::Object(mut base)) = record(s, POLICY, &id).cloned() else {
            return Err(not_found("policy", &id));
        };
        policy_fields(&m, &mut base)?;
        let v = Value::Object(base);
        put_record(s, POLICY, &id, v.clone());
        Ok(v)
    })?;
    Ok(Json(json!({"policy": with_links(&c, "policies", v)})))
}

pub(super) async fn delete_policy(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    admin(&c, &headers, "delete_policy")?;
    c.store.write(|s| {
        remove_record(s, POLICY, &id).ok_or_else(|| not_found("policy", &id))?;
        Ok(StatusCode::NO_CONTENT)
    })
}
