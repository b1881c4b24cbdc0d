//! The product API on VK's paths (`/marketplace/api/infra-api/api/v1-public/product…`):
//! handlers parse, authenticate (`x-service-token` → [`VendorCtx`] before the body is read),
//! call [`Products`] and convert. Another vendor's revision is "not found".

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRef, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use futures::StreamExt as _;
use serde_json::{json, Value};

use crate::error::ServerError;
use crate::products::{Products, Revision, UploadError, MAX_ZIP_BYTES};
use crate::tenants::{Tenants, VendorCtx};

/// VK's prefix of the deployment system and product API.
pub const PREFIX: &str = "/marketplace/api/infra-api/api/v1-public";
/// The largest upload request: the zip plus room for the multipart framing.
pub const UPLOAD_BODY_LIMIT: usize = MAX_ZIP_BYTES + 64 * 1024;
/// The largest JSON body of the other product routes.
pub const JSON_BODY_LIMIT: usize = 64 * 1024;
/// At most this many services in one archive request.
pub const MAX_ARCHIVE_ITEMS: usize = 1000;

#[derive(Clone)]
struct ProductState {
    products: Arc<Products>,
}

impl FromRef<ProductState> for Arc<Tenants> {
    fn from_ref(s: &ProductState) -> Arc<Tenants> {
        s.products.tenants().clone()
    }
}

/// The product API's routes.
pub fn routes(products: Arc<Products>) -> Router {
    Router::new()
        .route(
            &format!("{PREFIX}/product"),
            post(upload)
                .get(list)
                .layer(DefaultBodyLimit::max(UPLOAD_BODY_LIMIT)),
        )
        .route(
            &format!("{PREFIX}/product/publish"),
            post(publish).layer(DefaultBodyLimit::max(JSON_BODY_LIMIT)),
        )
        .route(
            &format!("{PREFIX}/product/archive"),
            post(archive).layer(DefaultBodyLimit::max(JSON_BODY_LIMIT)),
        )
        .with_state(ProductState { products })
}

fn too_large() -> UploadError {
    UploadError::Diagnostics {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        diagnostics: vec![crate::products::upload_diagnostic(
            vitrina_diagnostics::codes::PACKAGE_TOO_LARGE,
            &format!("the upload is larger than the {MAX_ZIP_BYTES}-byte (30 MB) limit"),
            "remove files the package does not need",
        )],
    }
}

fn bad(message: String) -> UploadError {
    UploadError::Diagnostics {
        status: StatusCode::BAD_REQUEST,
        diagnostics: vec![crate::products::upload_diagnostic(
            vitrina_diagnostics::codes::PRODUCT_BAD_UPLOAD,
            &message,
            "send `curl -F upload=@SERVICE.zip …` or run `vitrina package upload PATH`",
        )],
    }
}

/// The zip of a request: the multipart field `upload`, or the whole body when it is sent as
/// `application/zip` / `application/octet-stream`.
async fn read_zip(headers: &HeaderMap, body: Body) -> Result<Vec<u8>, UploadError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if ct.to_ascii_lowercase().starts_with("multipart/form-data") {
        let boundary = multer::parse_boundary(&ct)
            .map_err(|e| bad(format!("the multipart body has no boundary: {e}")))?;
        let limits = multer::Constraints::new().size_limit(
            multer::SizeLimit::new()
                .whole_stream(UPLOAD_BODY_LIMIT as u64)
                .per_field(MAX_ZIP_BYTES as u64),
        );
        let mut mp = multer::Multipart::with_constraints(body.into_data_stream(), boundary, limits);
        let mut zip = None;
        loop {
            let field = match mp.next_field().await {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => return Err(multipart_err(e)),
            };
            if field.name() == Some("upload") && zip.is_none() {
                let mut data = Vec::new();
                let mut field = field;
                loop {
                    match field.chunk().await {
                        Ok(Some(chunk)) => {
                            if data.len() + chunk.len() > MAX_ZIP_BYTES {
                                return Err(too_large());
                            }
                            data.extend_from_slice(&chunk);
                        }
                        Ok(None) => break,
                        Err(e) => return Err(multipart_err(e)),
                    }
                }
                zip = Some(data);
            } else {
                // Other fields are read past (bounded by the whole-stream limit).
                let mut field = field;
                loop {
                    match field.chunk().await {
                        Ok(Some(_)) => {}
                        Ok(None) => break,
                        Err(e) => return Err(multipart_err(e)),
                    }
                }
            }
        }
        zip.ok_or_else(|| bad("the form has no `upload` field".into()))
    } else if ct.is_empty()
        || ct.starts_with("application/zip")
        || ct.starts_with("application/octet-stream")
        || ct.starts_with("application/x-zip-compressed")
    {
        let mut data = Vec::new();
        let mut stream = body.into_data_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| body_err(&e))?;
            if data.len() + chunk.len() > MAX_ZIP_BYTES {
                return Err(too_large());
            }
            data.extend_from_slice(&chunk);
        }
        Ok(data)
    } else {
        Err(bad(format!(
            "the body is `{ct}`; send a multipart form with the zip in the `upload` field"
        )))
    }
}

fn body_err(e: &axum::Error) -> UploadError {
    let text = e.to_string();
    if text.contains("length limit") {
        too_large()
    } else {
        bad(format!("the body could not be read: {text}"))
    }
}

fn multipart_err(e: multer::Error) -> UploadError {
    match e {
        multer::Error::FieldSizeExceeded { .. } | multer::Error::StreamSizeExceeded { .. } => {
            too_large()
        }
        other => {
            let text = other.to_string();
            if text.contains("length limit") {
                too_large()
            } else {
                bad(format!("the multipart body is malformed: {text}"))
            }
        }
    }
}

/// `POST /product`: 204 stored in the vendor's test namespace; 400 `{"diagnostics":[…]}`;
/// 401; 409 when `(id, revision)` exists or the id is another vendor's; 413 over 30 MB.
async fn upload(
    ctx: VendorCtx,
    State(s): State<ProductState>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, UploadError> {
    let zip = read_zip(&headers, body).await?;
    s.products.upload(&ctx, zip).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn revision_view(r: &Revision) -> Value {
    json!({
        "id": r.service_id, "revision": r.revision, "name": r.name, "state": r.state,
        "uploaded_at": r.uploaded_at, "published_at": r.published_at, "archived_at": r.archived_at,
    })
}

/// `GET /product` (beyond VK): the vendor's revisions, oldest first.
async fn list(ctx: VendorCtx, State(s): State<ProductState>) -> Result<Json<Value>, ServerError> {
    let revs = s.products.vendor_revisions(&ctx).await?;
    Ok(Json(json!({
        "services": revs.iter().map(revision_view).collect::<Vec<_>>()
    })))
}

fn parse_json(bytes: &[u8]) -> Result<Value, ServerError> {
    serde_json::from_slice(bytes).map_err(|e| {
        ServerError::Invalid(format!(
            "the body is not JSON: {}",
            crate::json_errors::json_error(&e)
        ))
    })
}

/// A string field; a number is accepted and written as it reads (`"revision": 2`).
fn text_field(v: &Value, key: &str, whose: &str) -> Result<String, ServerError> {
    let s = match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => {
            return Err(ServerError::Invalid(format!(
                "{whose}: `{key}` must be a string"
            )))
        }
    };
    if s.is_empty() || s.len() > 255 {
        return Err(ServerError::Invalid(format!(
            "{whose}: `{key}` must have 1 to 255 characters"
        )));
    }
    Ok(s)
}

fn only_keys(v: &Value, keys: &[&str], whose: &str) -> Result<(), ServerError> {
    let Some(obj) = v.as_object() else {
        return Err(ServerError::Invalid(format!(
            "{whose} must be a JSON object"
        )));
    };
    if let Some(k) = obj.keys().find(|k| !keys.contains(&k.as_str())) {
        return Err(ServerError::Invalid(format!(
            "{whose}: unknown field `{k}` (expected {})",
            keys.iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(())
}

/// `POST /product/publish` `{"id","revision"}`: 204; 404.
async fn publish(
    ctx: VendorCtx,
    State(s): State<ProductState>,
    body: axum::body::Bytes,
) -> Result<StatusCode, ServerError> {
    let v = parse_json(&body)?;
    only_keys(&v, &["id", "revision"], "the body")?;
    let id = text_field(&v, "id", "the body")?;
    let rev = text_field(&v, "revision", "the body")?;
    s.products.publish(&ctx, &id, &rev).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /product/archive` `{"services":[{"id","revision"}]}`: 204; 404 (nothing archived).
async fn archive(
    ctx: VendorCtx,
    State(s): State<ProductState>,
    body: axum::body::Bytes,
) -> Result<StatusCode, ServerError> {
    let v = parse_json(&body)?;
    only_keys(&v, &["services"], "the body")?;
    let Some(list) = v.get("services").and_then(Value::as_array) else {
        return Err(ServerError::Invalid(
            "the body: `services` must be a list of {\"id\",\"revision\"}".into(),
        ));
    };
    if list.is_empty() || list.len() > MAX_ARCHIVE_ITEMS {
        return Err(ServerError::Invalid(format!(
            "the body: `services` must list 1 to {MAX_ARCHIVE_ITEMS} services"
        )));
    }
    let mut which = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let whose = format!("`services[{i}]`");
        only_keys(item, &["id", "revision"], &whose)?;
        which.push((
            text_field(item, "id", &whose)?,
            text_field(item, "revision", &whose)?,
        ));
    }
    s.products.archive(&ctx, &which).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The OpenAPI paths of the product API.
pub fn openapi_paths() -> Value {
    let vendor = json!([{"serviceToken": []}]);
    let err = json!({"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    let diags = json!({"description": "the package's diagnostics", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Diagnostics"}}}});
    let ref_body = json!({"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ServiceRevision"}}}});
    json!({
        format!("{PREFIX}/product"): {
            "post": {
                "operationId": "product_upload", "tags": ["product"],
                "summary": "Upload a service package zip into the vendor's test namespace",
                "security": vendor,
                "requestBody": {"required": true, "content": {
                    "multipart/form-data": {"schema": {"type": "object", "required": ["upload"],
                        "properties": {"upload": {"type": "string", "format": "binary", "description": "the package zip (`<SERVICE>/…`), at most 30 MB"}}}},
                    "application/zip": {"schema": {"type": "string", "format": "binary"}}}},
                "responses": {"204": {"description": "stored"}, "400": diags, "401": err,
                    "409": err, "413": diags}
            },
            "get": {
                "operationId": "product_list", "tags": ["product"],
                "summary": "The vendor's revisions, oldest first (beyond VK)",
                "security": vendor,
                "responses": {"200": {"description": "revisions", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RevisionList"}}}}, "401": err}
            }
        },
        format!("{PREFIX}/product/publish"): {
            "post": {
                "operationId": "product_publish", "tags": ["product"],
                "summary": "Make a revision the public one; the previous public revision returns to test",
                "security": vendor, "requestBody": ref_body,
                "responses": {"204": {"description": "published"}, "400": err, "401": err, "404": err}
            }
        },
        format!("{PREFIX}/product/archive"): {
            "post": {
                "operationId": "product_archive", "tags": ["product"],
                "summary": "Archive revisions: gone from both namespaces; existing instances keep working",
                "security": vendor,
                "requestBody": {"required": true, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["services"], "additionalProperties": false,
                    "properties": {"services": {"type": "array", "minItems": 1, "maxItems": MAX_ARCHIVE_ITEMS,
                        "items": {"$ref": "#/components/schemas/ServiceRevision"}}}}}}},
                "responses": {"204": {"description": "archived"}, "400": err, "401": err, "404": err}
            }
        }
    })
}

/// The OpenAPI schemas the product paths refer to.
pub fn openapi_schemas() -> Value {
    json!({
        "ServiceRevision": {"type": "object", "required": ["id", "revision"], "additionalProperties": false,
            "properties": {"id": {"type": "string", "format": "uuid"}, "revision": {"type": "string"}}},
        "Diagnostics": {"type": "object", "required": ["diagnostics"], "properties": {"diagnostics": {"type": "array", "items": {
            "type": "object", "required": ["severity", "code", "file", "line", "column", "message"],
            "properties": {"severity": {"type": "string", "enum": ["error", "warning"]}, "code": {"type": "string"},
                "file": {"type": "string"}, "line": {"type": "integer"}, "column": {"type": "integer"},
                "message": {"type": "string"}, "help": {"type": "string"}}}}}},
        "RevisionList": {"type": "object", "properties": {"services": {"type": "array", "items": {
            "type": "object", "properties": {"id": {"type": "string"}, "revision": {"type": "string"}, "name": {"type": "string"},
                "state": {"type": "string", "enum": ["test", "public", "archived"]},
                "uploaded_at": {"type": "integer"}, "published_at": {"type": ["integer", "null"]},
                "archived_at": {"type": ["integer", "null"]}}}}}}
    })
}
