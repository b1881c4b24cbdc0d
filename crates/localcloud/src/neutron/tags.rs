//! Neutron's tag extension (`standard-attr-tag`, `tag-creation`): tags on networks, subnets,
//! ports, security groups, routers and floating IPs, given on create or through
//! `/{resources}/{id}/tags[/{tag}]`, and the `tags`, `tags-any`, `not-tags`, `not-tags-any` list
//! filters.

use super::*;

/// The resources that carry tags, by their URL collection name.
pub(super) const TAGGED: &[&str] = &[
    "networks",
    "subnets",
    "ports",
    "security-groups",
    "routers",
    "floatingips",
];

/// Neutron's limit on one tag's length.
const MAX_TAG_LEN: usize = 255;

fn bad_tag(msg: String) -> ApiError {
    ApiError::bad_request(S, msg).kind("InvalidInput")
}

fn check_tag(tag: &str) -> ApiResult<()> {
    if tag.is_empty() || tag.chars().count() > MAX_TAG_LEN {
        return Err(bad_tag(format!(
            "Invalid input for operation: '{tag}' is not a valid tag: 1 to {MAX_TAG_LEN} characters."
        )));
    }
    if tag.contains(',') {
        return Err(bad_tag(format!(
            "Invalid input for operation: '{tag}' is not a valid tag: a tag has no comma."
        )));
    }
    Ok(())
}

/// The `tags` of a create or `PUT …/tags` body: a list of valid, distinct tags (duplicates are
/// dropped, as Neutron stores a set).
pub(super) fn parse_tags(v: Option<&Value>) -> ApiResult<Vec<String>> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let list = v.as_array().ok_or_else(|| {
        bad_tag(format!(
            "Invalid input for tags. Reason: '{v}' is not a list."
        ))
    })?;
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for t in list {
        let t = t.as_str().ok_or_else(|| {
            bad_tag(format!(
                "Invalid input for tags. Reason: '{t}' is not a valid string."
            ))
        })?;
        check_tag(t)?;
        if !out.iter().any(|x| x == t) {
            out.push(t.to_owned());
        }
    }
    Ok(out)
}

/// Whether a list item passes the tag filters of a query (`tags=a,b` all of them, `tags-any` one
/// of them, `not-tags` not all of them, `not-tags-any` none of them). Repeated keys combine.
pub(super) fn tag_filter(key: &str, wants: &[&str], item: &Value) -> Option<bool> {
    let has = |t: &str| {
        item.get("tags")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(t)))
    };
    let asked: Vec<&str> = wants
        .iter()
        .flat_map(|w| w.split(','))
        .filter(|t| !t.is_empty())
        .collect();
    Some(match key {
        "tags" => asked.iter().all(|t| has(t)),
        "tags-any" => asked.iter().any(|t| has(t)),
        "not-tags" => !asked.iter().all(|t| has(t)),
        "not-tags-any" => !asked.iter().any(|t| has(t)),
        _ => return None,
    })
}

/// The tags of a resource the caller may change (its own project's, or any for an admin).
fn tags_mut<'a>(
    db: &'a mut Db,
    ctx: &Ctx,
    resource: &str,
    id: &str,
) -> ApiResult<&'a mut Vec<String>> {
    let mine = |owner: &str| owner == ctx.project_id || ctx.is_admin();
    let found = match resource {
        "networks" => db
            .networks
            .get_mut(id)
            .filter(|x| mine(&x.project_id))
            .map(|x| &mut x.tags),
        "subnets" => db
            .subnets
            .get_mut(id)
            .filter(|x| mine(&x.project_id))
            .map(|x| &mut x.tags),
        "ports" => db
            .ports
            .get_mut(id)
            .filter(|x| mine(&x.project_id))
            .map(|x| &mut x.tags),
        "security-groups" => db
            .security_groups
            .get_mut(id)
            .filter(|x| mine(&x.project_id))
            .map(|x| &mut x.tags),
        "routers" => db
            .routers
            .get_mut(id)
            .filter(|x| mine(&x.project_id))
            .map(|x| &mut x.tags),
        "floatingips" => db
            .floating_ips
            .get_mut(id)
            .filter(|x| mine(&x.project_id))
            .map(|x| &mut x.tags),
        _ => None,
    };
    found.ok_or_else(|| not_found_of(resource, id))
}

/// [`tags_mut`], to read.
fn tags_ref<'a>(db: &'a Db, ctx: &Ctx, resource: &str, id: &str) -> ApiResult<&'a Vec<String>> {
    let mine = |owner: &str| owner == ctx.project_id || ctx.is_admin();
    let found = match resource {
        "networks" => db
            .networks
            .get(id)
            .filter(|x| mine(&x.project_id))
            .map(|x| &x.tags),
        "subnets" => db
            .subnets
            .get(id)
            .filter(|x| mine(&x.project_id))
            .map(|x| &x.tags),
        "ports" => db
            .ports
            .get(id)
            .filter(|x| mine(&x.project_id))
            .map(|x| &x.tags),
        "security-groups" => db
            .security_groups
            .get(id)
            .filter(|x| mine(&x.project_id))
            .map(|x| &x.tags),
        "routers" => db
            .routers
            .get(id)
            .filter(|x| mine(&x.project_id))
            .map(|x| &x.tags),
        "floatingips" => db
            .floating_ips
            .get(id)
            .filter(|x| mine(&x.project_id))
            .map(|x| &x.tags),
        _ => None,
    };
    found.ok_or_else(|| not_found_of(resource, id))
}

fn not_found_of(resource: &str, id: &str) -> ApiError {
    match resource {
        "networks" => net_not_found(id),
        "subnets" => subnet_not_found(id),
        "ports" => port_not_found(id),
        "security-groups" => sg_not_found(id),
        "routers" => router_not_found(id),
        _ => fip_not_found(id),
    }
}

const TAGS_SCHEMA: Schema = Schema {
    service: S,
    wrapper: None,
    fields: &[req("tags", Ty::Arr)],
    additional: false,
    siblings: &[],
};

/// `GET /{resources}/{id}/tags`.
pub(super) fn get_all(
    c: &Cloud,
    headers: &HeaderMap,
    resource: &str,
    id: &str,
) -> ApiResult<Response> {
    let ctx = c.auth(headers, S)?;
    let tags = c
        .store
        .read(|db| tags_ref(db, &ctx, resource, id).cloned())?;
    Ok(Json(json!({ "tags": tags })).into_response())
}

/// `PUT /{resources}/{id}/tags`: replaces every tag.
pub(super) fn replace_all(
    c: &Cloud,
    headers: &HeaderMap,
    resource: &str,
    id: &str,
    bytes: &[u8],
) -> ApiResult<Response> {
    let ctx = c.auth(headers, S)?;
    let m = body::check(&TAGS_SCHEMA, body::parse_json(S, bytes)?)?;
    let tags = parse_tags(m.get("tags"))?;
    c.store.write(|db| {
        *tags_mut(db, &ctx, resource, id)? = tags.clone();
        Ok::<_, ApiError>(())
    })?;
    Ok(Json(json!({ "tags": tags })).into_response())
}

/// `DELETE /{resources}/{id}/tags`.
pub(super) fn delete_all(
    c: &Cloud,
    headers: &HeaderMap,
    resource: &str,
    id: &str,
) -> ApiResult<Response> {
    let ctx = c.auth(headers, S)?;
    c.store
        .write(|db| tags_mut(db, &ctx, resource, id).map(Vec::clear))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /{resources}/{id}/tags/{tag}`: 204 when the resource has it, 404 otherwise.
pub(super) fn check_one(
    c: &Cloud,
    headers: &HeaderMap,
    resource: &str,
    id: &str,
    tag: &str,
) -> ApiResult<Response> {
    let ctx = c.auth(headers, S)?;
    let has = c
        .store
        .read(|db| tags_ref(db, &ctx, resource, id).map(|t| t.iter().any(|x| x == tag)))?;
    if has {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::not_found(S, format!("Tag {tag} could not be found.")).kind("TagNotFound"))
    }
}

/// `PUT /{resources}/{id}/tags/{tag}`: adds one tag (201).
pub(super) fn add_one(
    c: &Cloud,
    headers: &HeaderMap,
    resource: &str,
    id: &str,
    tag: &str,
) -> ApiResult<Response> {
    let ctx = c.auth(headers, S)?;
    check_tag(tag)?;
    c.store.write(|db| {
        let tags = tags_mut(db, &ctx, resource, id)?;
        if !tags.iter().any(|x| x == tag) {
            tags.push(tag.to_owned());
        }
        Ok::<_, ApiError>(())
    })?;
    Ok(StatusCode::CREATED.into_response())
}

/// `DELETE /{resources}/{id}/tags/{tag}`.
pub(super) fn delete_one(
    c: &Cloud,
    headers: &HeaderMap,
    resource: &str,
    id: &str,
    tag: &str,
) -> ApiResult<Response> {
    let ctx = c.auth(headers, S)?;
    let removed = c.store.write(|db| {
        let tags = tags_mut(db, &ctx, resource, id)?;
        let before = tags.len();
        tags.retain(|x| x != tag);
        Ok::<_, ApiError>(tags.len() != before)
    })?;
    if removed {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::not_found(S, format!("Tag {tag} could not be found.")).kind("TagNotFound"))
    }
}

/// The tag routes of every tagged resource.
pub(super) fn routes(mut r: Router<AppState>) -> Router<AppState> {
    for &res in TAGGED {
        r = r
            .route(
                &format!("/networking/v2.0/{res}/{{id}}/tags"),
                get(move |State(c): State<AppState>, h: HeaderMap, Path(id): Path<String>| async move {
                    get_all(&c, &h, res, &id)
                })
                .put(
                    move |State(c): State<AppState>, h: HeaderMap, Path(id): Path<String>, b: Bytes| async move {
                        replace_all(&c, &h, res, &id, &b)
                    },
                )
                .delete(move |State(c): State<AppState>, h: HeaderMap, Path(id): Path<String>| async move {
                    delete_all(&c, &h, res, &id)
                }),
            )
            .route(
                &format!("/networking/v2.0/{res}/{{id}}/tags/{{tag}}"),
                get(
                    move |State(c): State<AppState>, h: HeaderMap, Path((id, tag)): Path<(String, String)>| async move {
                        check_one(&c, &h, res, &id, &tag)
                    },
                )
                .put(
                    move |State(c): State<AppState>, h: HeaderMap, Path((id, tag)): Path<(String, String)>| async move {
                        add_one(&c, &h, res, &id, &tag)
                    },
                )
                .delete(
                    move |State(c): State<AppState>, h: HeaderMap, Path((id, tag)): Path<(String, String)>| async move {
                        delete_one(&c, &h, res, &id, &tag)
                    },
                ),
            );
    }
    r
}
