//! OS-FEDERATION: identity providers, mappings, service providers.

use super::*;

// --- federation registries ------------------------------------------------------------------------

pub(super) struct Fed {
    kind: &'static str,
    key: &'static str,
    plural: &'static str,
    path: &'static str,
}

pub(super) const FED_IDP: Fed = Fed {
    kind: IDP,
    key: "identity_provider",
    plural: "identity_providers",
    path: "OS-FEDERATION/identity_providers",
};
pub(super) const FED_MAPPING: Fed = Fed {
    kind: MAPPING,
    key: "mapping",
    plural: "mappings",
    path: "OS-FEDERATION/mappings",
};
pub(super) const FED_SP: Fed = Fed {
    kind: SP,
    key: "service_provider",
    plural: "service_providers",
    path: "OS-FEDERATION/service_providers",
};

pub(super) fn fed_fields(
    fed: &Fed,
    s: &Db,
    m: &Map<String, Value>,
    base: &mut Map<String, Value>,
) -> ApiResult<()> {
    for (k, v) in m {
        match (fed.kind, k.as_str()) {
            (IDP, "description")
            | (SP, "description" | "auth_url" | "sp_url" | "relay_state_prefix") => {
                base.insert(k.clone(), json!(string_in(m, k)?));
            }
            (IDP | SP, "enabled") => {
                base.insert(k.clone(), json!(bool_in(m, k)?.unwrap_or(false)));
            }
            (IDP, "remote_ids") => match v {
                Value::Null => {
                    base.insert(k.clone(), json!([]));
                }
                Value::Array(a) if a.iter().all(Value::is_string) => {
                    base.insert(k.clone(), v.clone());
                }
                _ => {
                    return Err(bad(
                        "Invalid input for field 'remote_ids': a list of strings is required",
                    ))
                }
            },
            (IDP, "authorization_ttl") => {
                base.insert(k.clone(), json!(int_in(m, k)?));
            }
            (IDP, "domain_id") => {
                let d = required(string_in(m, k)?, k)?;
                if !s.domains.contains_key(&d) {
                    return Err(not_found("domain", &d));
                }
                base.insert(k.clone(), json!(d));
            }
            (MAPPING, "rules") => match v {
                Value::Array(_) => {
                    base.insert(k.clone(), v.clone());
                }
                _ => {
                    return Err(bad(
                        "Invalid input for field 'rules': a JSON array is required",
                    ))
                }
            },
            (MAPPING, "schema_version") => {
                base.insert(k.clone(), json!(string_in(m, k)?));
            }
            _ => {
                return Err(bad(format!(
                    "Invalid input for field '{k}': additional properties are not allowed"
                )))
            }
        }
    }
    Ok(())
}

pub(super) async fn fed_create(
    c: &Cloud,
    headers: &HeaderMap,
    fed: &Fed,
    id: String,
    bytes: &[u8],
) -> ApiResult<Response> {
    admin(c, headers, &format!("create_{}", fed.key))?;
    if id.is_empty() || id.chars().count() > 64 || id.contains('\0') {
        return Err(bad("The ID must be 1 to 64 characters."));
    }
    let mut m = object_of(field(bytes, fed.key)?, fed.key)?;
    // openstackclient repeats the path's id in the body (`mapping create`): the same id is
    // accepted, another one refused.
    if let Some(body_id) = m.remove("id") {
        if body_id.as_str() != Some(id.as_str()) {
            return Err(bad(
                "Invalid input for field 'id': it must match the id in the URL",
            ));
        }
    }
    let v = c.store.write(|s| {
        if record(s, fed.kind, &id).is_some() {
            return Err(conflict(fed.key, &format!("Duplicate ID, {id}.")));
        }
        let mut base = Map::new();
        base.insert("id".into(), json!(id));
        match fed.kind {
            IDP => {
                base.insert("description".into(), Value::Null);
                base.insert("enabled".into(), json!(false));
                base.insert("remote_ids".into(), json!([]));
                base.insert("authorization_ttl".into(), Value::Null);
            }
            SP => {
                for k in ["auth_url", "sp_url"] {
                    required(string_in(&m, k)?, k)?;
                }
                base.insert("description".into(), Value::Null);
                base.insert("enabled".into(), json!(false));
                base.insert("relay_state_prefix".into(), json!("ss:mem:"));
            }
            _ => {
                if !matches!(m.get("rules"), Some(Value::Array(_))) {
                    return Err(bad(
                        "Invalid input for field 'rules': 'rules' is a required property",
                    ));
                }
                base.insert("schema_version".into(), json!("1.0"));
            }
        }
        fed_fields(fed, s, &m, &mut base)?;
        if fed.kind == IDP && !base.contains_key("domain_id") {
            // As Keystone does, an identity provider without a domain gets a domain of its own.
            let d = crate::model::Domain {
                id: new_hex_id(),
                name: id.clone(),
                description: "Auto generated federated domain for Identity Provider: ".to_owned()
                    + &id,
                enabled: true,
            };
            if s.domains.values().any(|x| x.name == d.name) {
                return Err(conflict(
                    "domain",
                    &format!("Duplicate entry found with name {}.", d.name),
                ));
            }
            base.insert("domain_id".into(), json!(d.id));
            s.domains.insert(d.id.clone(), d);
        }
        let v = Value::Object(base);
        put_record(s, fed.kind, &id, v.clone());
        Ok(v)
    })?;
    Ok(created(fed.key, with_links(c, fed.path, v)))
}

pub(super) fn fed_list(
    c: &Cloud,
    headers: &HeaderMap,
    fed: &Fed,
    q: &[(String, String)],
) -> ApiResult<Json<Value>> {
    admin(c, headers, &format!("list_{}", fed.plural))?;
    let items = c
        .store
        .read(|s| records(s, fed.kind).into_iter().cloned().collect());
    let items = filter(items, q, &["id", "enabled"])
        .into_iter()
        .map(|v| with_links(c, fed.path, v))
        .collect();
    Ok(list(c, fed.plural, fed.path, items))
}

pub(super) fn fed_show(
    c: &Cloud,
    headers: &HeaderMap,
    fed: &Fed,
    id: &str,
) -> ApiResult<Json<Value>> {
    admin(c, headers, &format!("get_{}", fed.key))?;
    let v = c
        .store
        .read(|s| record(s, fed.kind, id).cloned())
        .ok_or_else(|| not_found(fed.key, id))?;
    Ok(Json(json!({ fed.key: with_links(c, fed.path, v) })))
}

pub(super) fn fed_update(
    c: &Cloud,
    headers: &HeaderMap,
    fed: &Fed,
    id: &str,
    bytes: &[u8],
) -> ApiResult<Json<Value>> {
    admin(c, headers, &format!("update_{}", fed.key))?;
    let mut m = object_of(field(bytes, fed.key)?, fed.key)?;
    if fed.kind == IDP && m.contains_key("domain_id") {
        return Err(bad(
            "Invalid input for field 'domain_id': an identity provider keeps its domain",
        ));
    }
    m.remove("id");
    let v = c.store.write(|s| {
        let Some(Value::Object(mut base)) = record(s, fed.kind, id).cloned() else {
            return Err(not_found(fed.key, id));
        };
        fed_fields(fed, s, &m, &mut base)?;
        let v = Value::Object(base);
        put_record(s, fed.kind, id, v.clone());
        Ok(v)
    })?;
    Ok(Json(json!({ fed.key: with_links(c, fed.path, v) })))
}

pub(super) fn fed_delete(
    c: &Cloud,
    headers: &HeaderMap,
    fed: &Fed,
    id: &str,
) -> ApiResult<StatusCode> {
    admin(c, headers, &format!("delete_{}", fed.key))?;
    c.store.write(|s| {
        remove_record(s, fed.kind, id).ok_or_else(|| not_found(fed.key, id))?;
        Ok(StatusCode::NO_CONTENT)
    })
}

pub(super) fn fed_routes(r: Router<AppState>, fed: &'static Fed) -> Router<AppState> {
    r.route(
        &format!("/identity/v3/{}", fed.path),
        get(move |State(c): State<AppState>, h: HeaderMap, Query(q): Query<Vec<(String, String)>>| async move {
            fed_list(&c, &h, fed, &q)
        }),
    )
    .route(
        &format!("/identity/v3/{}/{{id}}", fed.path),
        put(move |State(c): State<AppState>, h: HeaderMap, Path(id): Path<String>, b: Bytes| async move {
            fed_create(&c, &h, fed, id, &b).await
        })
        .get(move |State(c): State<AppState>, h: HeaderMap, Path(id): Path<String>| async move {
            fed_show(&c, &h, fed, &id)
        })
        .patch(move |State(c): State<AppState>, h: HeaderMap, Path(id): Path<String>, b: Bytes| async move {
            fed_update(&c, &h, fed, &id, &b)
        })
        .delete(move |State(c): State<AppState>, h: HeaderMap, Path(id): Path<String>| async move {
            fed_delete(&c, &h, fed, &id)
        }),
    )
}

pub(super) static FEDS: [Fed; 3] = [FED_IDP, FED_MAPPING, FED_SP];

pub(super) fn limit_routes(r: Router<AppState>, registered: bool) -> Router<AppState> {
    let path = if registered {
        "registered_limits"
    } else {
        "limits"
    };
    r.route(
        &format!("/identity/v3/{path}"),
        get(move |State(c): State<AppState>, h: HeaderMap, Query(q): Query<Vec<(String, String)>>| async move {
            list_limits(&c, &h, &q, registered)
        })
        .post(move |State(c): State<AppState>, h: HeaderMap, b: Bytes| async move {
            create_limits(&c, &h, &b, registered).await
        }),
    )
    .route(
        &format!("/identity/v3/{path}/{{id}}"),
        get(move |State(c): State<AppState>, h: HeaderMap, Path(id): Path<String>| async move {
            show_limit(&c, &h, &id, registered)
        })
        .patch(move |State(c): State<AppState>, h: HeaderMap, Path(id): Path<String>, b: Bytes| async move {
            update_limit(&c, &h, &id, &b, registered)
        })
        .delete(move |State(c): State<AppState>, h: HeaderMap, Path(id): Path<String>| async move {
            delete_limit(&c, &h, &id, registered)
        }),
    )
}
