//! Glance's image members: the owner of a `shared` image shares it with a project (member
//! status `pending`); the member project accepts or rejects it, which decides whether the
//! image is in its default list (it sees it by ID either way). Also `GET /v2/info/import`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::access::image_visible;
use crate::body;
use crate::error::{ApiError, ApiResult, Service};
use crate::model::Image;
use crate::model_extra::ImageMember;
use crate::util::{now, Ctx};
use crate::{AppState, Cloud};

const S: Service = Service::Image;
/// Glance's default `image_member_quota`.
const MAX_MEMBERS: usize = 128;
const STATUSES: &[&str] = &["pending", "accepted", "rejected"];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/image/v2/images/{id}/members",
            get(list_members).post(add_member),
        )
        .route(
            "/image/v2/images/{id}/members/{member}",
            get(show_member).put(update_member).delete(delete_member),
        )
        .route("/image/v2/schemas/member", get(member_schema))
        .route("/image/v2/schemas/members", get(members_schema))
        .route("/image/v2/info/import", get(import_info))
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(S, format!("No image found with ID {id}"))
}

fn member_not_found(member: &str, id: &str) -> ApiError {
    ApiError::not_found(S, format!("{member} is not a member of image {id}."))
}

fn member_json(image_id: &str, m: &ImageMember) -> Value {
    json!({"image_id": image_id, "member_id": m.member_id, "status": m.status,
           "created_at": m.created_at, "updated_at": m.updated_at,
           "schema": "/v2/schemas/member"})
}

fn image_for(c: &Cloud, ctx: &Ctx, id: &str) -> ApiResult<Image> {
    c.store
        .read(|db| {
            db.images
                .get(id)
                .filter(|i| image_visible(i, ctx) || ctx.is_admin())
                .cloned()
        })
        .ok_or_else(|| not_found(id))
}

/// The owner (or an admin) manages an image's members.
fn owner_or_admin(ctx: &Ctx, i: &Image) -> bool {
    ctx.is_admin() || i.owner == ctx.project_id
}

async fn list_members(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    let img = image_for(&c, &ctx, &id)?;
    if img.visibility != "shared" {
        return Err(ApiError::forbidden(S, "Only shared images have members."));
    }
    let owner = owner_or_admin(&ctx, &img);
    let list: Vec<Value> = img
        .members
        .iter()
        .filter(|m| owner || m.member_id == ctx.project_id)
        .map(|m| member_json(&id, m))
        .collect();
    Ok(Json(
        json!({"members": list, "schema": "/v2/schemas/members"}),
    ))
}

async fn show_member(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((id, member)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    let img = image_for(&c, &ctx, &id)?;
    let m = img
        .members
        .iter()
        .find(|m| m.member_id == member)
        .filter(|m| owner_or_admin(&ctx, &img) || m.member_id == ctx.project_id)
        .ok_or_else(|| member_not_found(&member, &id))?;
    Ok(Json(member_json(&id, m)))
}

async fn add_member(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    let v = body::parse_json(S, &bytes)?;
    let member = v
        .get("member")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty() && m.len() <= 255 && !m.contains('\0'))
        .ok_or_else(|| ApiError::bad_request(S, "Member to be added not specified"))?
        .to_owned();
    let m = c.store.write(|db| {
        let img = db
            .images
            .get_mut(&id)
            .filter(|i| image_visible(i, &ctx) || ctx.is_admin())
            .ok_or_else(|| not_found(&id))?;
        if !owner_or_admin(&ctx, img) {
            return Err(ApiError::forbidden(
                S,
                "You are not permitted to create image members for the image.",
            ));
        }
        if img.visibility != "shared" {
            return Err(ApiError::forbidden(
                S,
                format!("Image {id} is not shared: only shared images have members."),
            ));
        }
        if img.members.iter().any(|m| m.member_id == member) {
            return Err(ApiError::conflict(
                S,
                format!("Member {member} already exists for image {id}."),
            ));
        }
        if img.members.len() >= MAX_MEMBERS {
            return Err(ApiError::new(
                S,
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "Attempted: {}, Maximum: {MAX_MEMBERS}",
                    img.members.len() + 1
                ),
            ));
        }
        let t = now();
        let m = ImageMember {
            member_id: member.clone(),
            status: "pending".into(),
            created_at: t.clone(),
            updated_at: t,
        };
        img.members.push(m.clone());
        Ok(m)
    })?;
    Ok(Json(member_json(&id, &m)))
}

/// Only the member project itself accepts or rejects.
async fn update_member(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((id, member)): Path<(String, String)>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    let ctx = c.auth(&headers, S)?;
    let v = body::parse_json(S, &bytes)?;
    let status = v
        .get("status")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request(S, "Status not specified"))?
        .to_owned();
    if !STATUSES.contains(&status.as_str()) {
        return Err(ApiError::bad_request(
            S,
            format!("Invalid status: {status}"),
        ));
    }
    let m = c.store.write(|db| {
        let img = db
            .images
            .get_mut(&id)
            .filter(|i| image_visible(i, &ctx) || ctx.is_admin())
            .ok_or_else(|| not_found(&id))?;
        let m = img
            .members
            .iter_mut()
            .find(|m| m.member_id == member)
            .ok_or_else(|| member_not_found(&member, &id))?;
        if member != ctx.project_id {
            return Err(ApiError::forbidden(
                S,
                "You are not permitted to modify 'status' on this image member.",
            ));
        }
        m.status = status.clone();
        m.updated_at = now();
        Ok(m.clone())
    })?;
    Ok(Json(member_json(&id, &m)))
}

async fn delete_member(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((id, member)): Path<(String, String)>,
) -> ApiResult<Response> {
    let ctx = c.auth(&headers, S)?;
    c.store.write(|db| {
        let img = db
            .images
            .get_mut(&id)
            .filter(|i| image_visible(i, &ctx) || ctx.is_admin())
            .ok_or_else(|| not_found(&id))?;
        if !owner_or_admin(&ctx, img) {
            return Err(ApiError::forbidden(
                S,
                "You are not permitted to delete image members for the image.",
            ));
        }
        let before = img.members.len();
        img.members.retain(|m| m.member_id != member);
        if img.members.len() == before {
            return Err(member_not_found(&member, &id));
        }
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn member_properties() -> Value {
    json!({
        "created_at": {"type": "string", "description": "Date and time of image member creation"},
        "image_id": {"type": "string", "description": "An identifier for the image"},
        "member_id": {"type": "string", "description": "An identifier for the image member (tenantId)"},
        "schema": {"type": "string", "readOnly": true},
        "status": {"type": "string", "enum": STATUSES, "description": "The status of this image member"},
        "updated_at": {"type": "string", "description": "Date and time of last modification of image member"},
    })
}

async fn member_schema() -> Json<Value> {
    Json(json!({"name": "member", "properties": member_properties()}))
}

async fn members_schema() -> Json<Value> {
    Json(json!({"name": "members", "properties": {
        "members": {"type": "array", "items": {"name": "member", "properties": member_properties()}},
        "schema": {"type": "string"}},
        "links": [{"href": "{schema}", "rel": "describedby"}]}))
}

/// `GET /v2/info/import`: localcloud takes image data by upload (`PUT …/file`) only; it
/// offers none of the interoperable import methods.
async fn import_info(State(c): State<AppState>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    c.auth(&headers, S)?;
    Ok(Json(json!({"import-methods": {
        "description": "Import methods available.", "type": "array", "value": []}})))
}
