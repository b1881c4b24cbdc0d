//! Nova's image proxy (`/images`, deprecated from microversion 2.36, as in Nova): Glance's images
//! as Nova shows them, with their size (the `ImageSize` extension, `OS-EXT-IMG-SIZE:size`).
//! Read-only here: images are changed through Glance.

use super::*;
use crate::model::Image;

fn proxy_available(r: &Req) -> ApiResult<()> {
    if r.mv >= (2, 36) {
        Err(ApiError::not_found(S, "The resource could not be found."))
    } else {
        Ok(())
    }
}

fn image_links(c: &Cloud, id: &str) -> Value {
    json!([
        {"rel": "self", "href": c.url(&format!("/compute/v2.1/images/{id}"))},
        {"rel": "bookmark", "href": c.url(&format!("/compute/images/{id}"))},
        {"rel": "alternate", "type": "application/vnd.openstack.image",
         "href": c.url(&format!("/image/v2/images/{id}"))},
    ])
}

fn nova_image(c: &Cloud, i: &Image, detail: bool) -> Value {
    let mut o = json!({"id": i.id, "name": i.name, "links": image_links(c, &i.id)});
    if detail {
        let (status, progress) = match i.status {
            ImageStatus::Active => ("ACTIVE", 100),
            ImageStatus::Queued
            | ImageStatus::Saving
            | ImageStatus::Uploading
            | ImageStatus::Importing => ("SAVING", 25),
            ImageStatus::Killed => ("ERROR", 0),
            ImageStatus::Deactivated => ("DELETED", 0),
        };
        let metadata: Map<String, Value> = i
            .properties
            .iter()
            .map(|(k, v)| {
                let s = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), Value::String(s))
            })
            .collect();
        let extra = json!({"status": status, "progress": progress, "minDisk": i.min_disk,
            "minRam": i.min_ram, "created": i.created_at, "updated": i.updated_at,
            "metadata": metadata, "OS-EXT-IMG-SIZE:size": i.size});
        if let (Some(o), Some(e)) = (o.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        if let Some(server) = i.properties.get("instance_uuid").and_then(Value::as_str) {
            o["server"] = json!({"id": server, "links": server_links(c, server)});
        }
    }
    o
}

fn listed(c: &Cloud, r: &Req, query: &util::Query, detail: bool) -> Vec<Value> {
    let name = q(query, "name");
    let status = q(query, "status");
    c.store.read(|db| {
        db.images
            .values()
            .filter(|i| crate::access::image_visible(i, &r.ctx))
            .filter(|i| i.visibility != "community" || r.ctx.owns(*i))
            .filter(|i| name.is_none_or(|n| i.name.as_deref() == Some(n)))
            .map(|i| nova_image(c, i, true))
            .filter(|v| status.is_none_or(|s| v["status"] == s))
            .map(|v| {
                if detail {
                    v
                } else {
                    json!({"id": v["id"], "name": v["name"], "links": v["links"]})
                }
            })
            .collect()
    })
}

pub(super) async fn list_images(
    State(c): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<util::Query>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    proxy_available(&r)?;
    let list = listed(&c, &r, &query, false);
    Ok(versioned(&r, Json(json!({"images": list}))))
}

pub(super) async fn list_images_detail(
    State(c): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<util::Query>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    proxy_available(&r)?;
    let list = listed(&c, &r, &query, true);
    Ok(versioned(&r, Json(json!({"images": list}))))
}

pub(super) async fn show_image(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    proxy_available(&r)?;
    let v = c
        .store
        .read(|db| {
            db.images
                .get(&id)
                .filter(|i| crate::access::image_visible(i, &r.ctx))
                .map(|i| nova_image(&c, i, true))
        })
        .ok_or_else(|| ApiError::not_found(S, "Image not found."))?;
    Ok(versioned(&r, Json(json!({"image": v}))))
}

pub(super) async fn image_metadata(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    proxy_available(&r)?;
    let v = c
        .store
        .read(|db| {
            db.images
                .get(&id)
                .filter(|i| crate::access::image_visible(i, &r.ctx))
                .map(|i| nova_image(&c, i, true))
        })
        .ok_or_else(|| ApiError::not_found(S, "Image not found."))?;
    Ok(versioned(&r, Json(json!({"metadata": v["metadata"]}))))
}
