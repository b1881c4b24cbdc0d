//! The vendor console (`/vendor`): a vendor signed in with its service token uploads a package
//! zip (checked by the same [`Products::upload`] the product API calls; its diagnostics shown
//! with file:line:col and the source line, as `vitrina package validate` prints them), sees its
//! products with their revisions and namespaces, previews each revision's service page and
//! plan wizards exactly as consumers will see them (the consumer pages, with `?revision=`),
//! publishes, archives (after a confirmation page) and watches the status of the deployments
//! of its services (no answers, outputs or consumer secrets are read).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use vitrina_diagnostics::LineIndex;

use super::i18n::t;
use super::session::Visitor;
use super::{posted, Posted, Web};
use crate::products::{RevisionState, UploadError, MAX_ZIP_BYTES};
use crate::products_http::UPLOAD_BODY_LIMIT;
use crate::tenants::VendorCtx;

/// The console's templates.
pub(super) const TEMPLATES: &[(&str, &str)] = &[
    (
        "vendor.html",
        include_str!("../../web/templates/vendor.html"),
    ),
    (
        "vendor_archive.html",
        include_str!("../../web/templates/vendor_archive.html"),
    ),
];

/// The console's own words, `(key, English, Russian)`.
pub(super) const MESSAGES: &[(&str, &str, &str)] = &[
    ("vendor_console", "Vendor console", "Консоль поставщика"),
    ("upload_package", "Upload a package", "Загрузить пакет"),
    ("package_zip", "Package zip", "Zip-архив пакета"),
    (
        "upload_hint",
        "The zip holds one service folder; a new revision goes to the test namespace.",
        "Архив содержит одну папку сервиса; новая ревизия попадает в тестовое пространство.",
    ),
    ("upload", "Upload", "Загрузить"),
    (
        "upload_refused",
        "The package was not accepted",
        "Пакет не принят",
    ),
    (
        "uploaded",
        "Uploaded into the test namespace",
        "Загружено в тестовое пространство",
    ),
    ("products", "My products", "Мои продукты"),
    (
        "no_products",
        "No product uploaded yet.",
        "Пока не загружено ни одного продукта.",
    ),
    ("revision", "Revision", "Ревизия"),
    ("namespace", "Namespace", "Пространство"),
    ("ns_test", "test", "тестовое"),
    ("ns_public", "public", "публичное"),
    ("ns_archived", "archived", "в архиве"),
    ("uploaded_at", "Uploaded", "Загружена"),
    ("preview", "Preview", "Предпросмотр"),
    ("service_page", "service page", "страница сервиса"),
    ("actions", "Actions", "Действия"),
    ("publish", "Publish", "Опубликовать"),
    ("published", "Published", "Опубликовано"),
    ("archive", "Archive", "В архив"),
    ("archived", "Archived", "Отправлено в архив"),
    (
        "archive_question",
        "Archive this revision?",
        "Отправить ревизию в архив?",
    ),
    (
        "archive_text",
        "It leaves the catalog and the test namespace for good; deployments that run it keep running.",
        "Она навсегда уйдёт из каталога и тестового пространства; работающие развёртывания продолжат работать.",
    ),
    ("archive_yes", "Archive for good", "Отправить в архив"),
    ("cancel", "Cancel", "Отмена"),
    (
        "vendor_deployments",
        "Deployments of my services",
        "Развёртывания моих сервисов",
    ),
    (
        "vendor_deployments_note",
        "Status only: consumers' answers and outputs are not shown.",
        "Только статус: ответы и результаты потребителей не показываются.",
    ),
    ("instance", "Instance", "Экземпляр"),
    ("plan", "Plan", "Тариф"),
    ("created", "Created", "Создано"),
    (
        "vendor_only",
        "The vendor console is for vendors",
        "Консоль — для поставщиков",
    ),
    (
        "vendor_only_text",
        "Sign in with a service token to upload and publish packages.",
        "Войдите с сервисным токеном, чтобы загружать и публиковать пакеты.",
    ),
    ("error_count", "errors", "ошибок"),
    ("help", "help", "подсказка"),
];

/// One diagnostic of a refused upload, ready to show.
#[derive(serde::Serialize, Debug, Clone, PartialEq, Eq)]
pub struct ShownDiagnostic {
    pub severity: String,
    pub code: String,
    /// `file:line:col` (the file relative to the service folder; `upload` for the zip itself).
    pub location: String,
    pub message: String,
    pub help: Option<String>,
    /// The source line and the caret under the column (as `package validate` prints them).
    pub source: Option<SourceLine>,
}

/// A diagnostic's source line: `12 | text`, then `   | ^` under the column.
#[derive(serde::Serialize, Debug, Clone, PartialEq, Eq)]
pub struct SourceLine {
    pub number: String,
    /// Spaces as wide as `number` (the caret line's gutter).
    pub blank: String,
    pub text: String,
    pub caret: String,
}

/// What an upload did, shown at the top of the console.
#[derive(serde::Serialize, Default)]
struct Outcome {
    ok: Option<String>,
    error: Option<String>,
    diagnostics: Vec<ShownDiagnostic>,
}

#[derive(serde::Serialize)]
struct RevView {
    revision: String,
    state: &'static str,
    state_text: String,
    uploaded_at: String,
    /// `(folder, name)` of each plan whose wizard can be previewed (not archived).
    plans: Vec<(String, String)>,
    previewable: bool,
    publishable: bool,
    archivable: bool,
}

#[derive(serde::Serialize)]
struct ProductView {
    id: String,
    name: String,
    revisions: Vec<RevView>,
}

#[derive(serde::Serialize)]
struct DeploymentView {
    instance: String,
    service: String,
    plan: String,
    revision: String,
    status: String,
    created: String,
}

fn when(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

fn state_key(s: RevisionState) -> &'static str {
    match s {
        RevisionState::Test => "test",
        RevisionState::Public => "public",
        RevisionState::Archived => "archived",
    }
}

/// Turns an upload's JSON diagnostics into what the console shows, reading each one's source
/// line from the zip (`None` for a zip that cannot be read).
pub fn shown_diagnostics(zip: &[u8], diagnostics: &[serde_json::Value]) -> Vec<ShownDiagnostic> {
    let files = vitrina_package::read_zip_bytes(zip, "upload").ok();
    diagnostics
        .iter()
        .map(|d| {
            let s = |k: &str| d.get(k).and_then(|v| v.as_str()).unwrap_or_default();
            let n = |k: &str| {
                d.get(k)
                    .and_then(|v| v.as_u64())
                    .and_then(|v| usize::try_from(v).ok())
                    .unwrap_or(1)
            };
            let (file, line, col) = (s("file"), n("line").max(1), n("column").max(1));
            let source = files
                .as_ref()
                .filter(|_| !file.is_empty())
                .and_then(|f| f.text(file))
                .and_then(|bytes| std::str::from_utf8(bytes).ok())
                .map(|text| {
                    LineIndex::new(text)
                        .line_text(text, line)
                        .replace('\t', " ")
                })
                .filter(|l| !l.trim().is_empty())
                .map(|text| {
                    let number = line.to_string();
                    SourceLine {
                        blank: " ".repeat(number.len()),
                        number,
                        text,
                        caret: format!("{}^", " ".repeat(col.saturating_sub(1))),
                    }
                });
            ShownDiagnostic {
                severity: s("severity").to_owned(),
                code: s("code").to_owned(),
                location: format!(
                    "{}:{line}:{col}",
                    if file.is_empty() { "upload" } else { file }
                ),
                message: s("message").to_owned(),
                help: Some(s("help").to_owned()).filter(|h| !h.is_empty()),
                source,
            }
        })
        .collect()
}

impl Web {
    /// The console for a signed-in vendor (with an upload's outcome on top).
    async fn console_page(&self, v: &Visitor, vendor: &VendorCtx, outcome: Outcome) -> Response {
        let lang = v.lang;
        let revs = self
            .shelf
            .products()
            .vendor_revisions(vendor)
            .await
            .unwrap_or_default();
        let mut products: Vec<ProductView> = Vec::new();
        let mut names: BTreeMap<String, String> = BTreeMap::new();
        // Newest revision first within a product; products in the order first uploaded.
        for r in revs.iter().rev() {
            names
                .entry(r.service_id.clone())
                .or_insert_with(|| r.name.clone());
            let listed = if r.state == RevisionState::Archived {
                None
            } else {
                self.shelf
                    .find(&r.service_id, Some(&r.revision), Some(vendor))
                    .await
            };
            let plans = listed
                .as_ref()
                .map(|l| {
                    l.entry
                        .offers
                        .iter()
                        .map(|o| {
                            let shown = if o.description.is_empty() {
                                &o.name
                            } else {
                                &o.description
                            };
                            (o.folder.clone(), shown.clone())
                        })
                        .collect()
                })
                .unwrap_or_default();
            let key = state_key(r.state);
            let view = RevView {
                revision: r.revision.clone(),
                state: key,
                state_text: t(lang, &format!("ns_{key}")).to_owned(),
                uploaded_at: when(r.uploaded_at),
                plans,
                previewable: listed.is_some(),
                publishable: r.state == RevisionState::Test,
                archivable: r.state != RevisionState::Archived,
            };
            match products.iter_mut().find(|p| p.id == r.service_id) {
                Some(p) => p.revisions.push(view),
                None => products.push(ProductView {
                    id: r.service_id.clone(),
                    name: r.name.clone(),
                    revisions: vec![view],
                }),
            }
        }
        products.reverse();
        let deployments: Vec<DeploymentView> = self
            .tenants
            .store()
            .vendor_deployments(vendor)
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|d| DeploymentView {
                service: names
                    .get(&d.service_id)
                    .cloned()
                    .unwrap_or_else(|| d.service_id.clone()),
                plan: revs
                    .iter()
                    .find(|r| r.service_id == d.service_id && r.revision == d.revision)
                    .and_then(|r| {
                        r.service.get("plans")?.as_array()?.iter().find_map(|p| {
                            (p.get("id")?.as_str()? == d.plan_id)
                                .then(|| p.get("name")?.as_str().map(str::to_owned))
                                .flatten()
                        })
                    })
                    .unwrap_or_else(|| d.plan_id.clone()),
                revision: d.revision,
                status: d.status.unwrap_or(d.state),
                created: when(d.created_at),
                instance: d.instance_id,
            })
            .collect();
        let mut r = self.page(
            v,
            "vendor.html",
            minijinja::context! {
                products => minijinja::Value::from(minijinja::value::Serde(&products)),
                deployments => minijinja::Value::from(minijinja::value::Serde(&deployments)),
                outcome => minijinja::Value::from(minijinja::value::Serde(&outcome)),
            },
        );
        if outcome.error.is_some() {
            *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        }
        r
    }

    fn vendor_only(&self, v: &Visitor) -> Response {
        if matches!(v.who, super::session::Who::Anonymous) {
            return Redirect::to("/signin?next=/vendor").into_response();
        }
        self.message(
            v,
            StatusCode::FORBIDDEN,
            t(v.lang, "vendor_only"),
            t(v.lang, "vendor_only_text"),
        )
    }
}

/// `GET /vendor`.
pub(super) async fn console(State(web): State<Arc<Web>>, headers: HeaderMap) -> Response {
    let v = web.visitor(&headers).await;
    let Some(vendor) = v.who.vendor().cloned() else {
        return web.vendor_only(&v);
    };
    web.console_page(&v, &vendor, Outcome::default()).await
}

/// The fields of the console's upload form.
#[derive(Default)]
struct UploadForm {
    csrf: Option<String>,
    zip: Option<Vec<u8>>,
}

/// Why an upload form could not be read.
#[derive(Debug)]
enum FormError {
    TooLarge,
    Malformed(String),
}

/// Reads `_csrf` and the `upload` file of a multipart form, bounded by the upload limits.
async fn read_upload_form(headers: &HeaderMap, body: Body) -> Result<UploadForm, FormError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let boundary = multer::parse_boundary(ct)
        .map_err(|e| FormError::Malformed(format!("not a multipart form: {e}")))?;
    let limits = multer::Constraints::new().size_limit(
        multer::SizeLimit::new()
            .whole_stream(UPLOAD_BODY_LIMIT as u64)
            .per_field(MAX_ZIP_BYTES as u64)
            .for_field("_csrf", 1024),
    );
    let mut mp = multer::Multipart::with_constraints(body.into_data_stream(), boundary, limits);
    let mut form = UploadForm::default();
    let err = |e: multer::Error| match e {
        multer::Error::FieldSizeExceeded { .. } | multer::Error::StreamSizeExceeded { .. } => {
            FormError::TooLarge
        }
        other => FormError::Malformed(other.to_string()),
    };
    while let Some(mut field) = mp.next_field().await.map_err(err)? {
        let name = field.name().unwrap_or_default().to_owned();
        let mut data = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(err)? {
            if data.len() + chunk.len() > MAX_ZIP_BYTES {
                return Err(FormError::TooLarge);
            }
            data.extend_from_slice(&chunk);
        }
        match name.as_str() {
            "_csrf" if form.csrf.is_none() => {
                form.csrf = Some(String::from_utf8_lossy(&data).into_owned());
            }
            "upload" if form.zip.is_none() => form.zip = Some(data),
            _ => {}
        }
    }
    Ok(form)
}

/// `POST /vendor/upload` (multipart: `_csrf`, `upload`): the console with the outcome.
pub(super) async fn upload(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let v = web.visitor(&headers).await;
    let Some(vendor) = v.who.vendor().cloned() else {
        return web.vendor_only(&v);
    };
    let form = match read_upload_form(&headers, body).await {
        Ok(f) => f,
        Err(e) => {
            let text = match e {
                FormError::TooLarge => {
                    format!("the upload is larger than the {MAX_ZIP_BYTES}-byte (30 MB) limit")
                }
                FormError::Malformed(m) => format!("the form could not be read: {m}"),
            };
            let o = Outcome {
                error: Some(text),
                ..Outcome::default()
            };
            return web.console_page(&v, &vendor, o).await;
        }
    };
    if !v.csrf_ok(form.csrf.as_deref()) {
        return web.bad_csrf(&v);
    }
    let zip = form.zip.unwrap_or_default();
    let lang = v.lang;
    let outcome = if zip.is_empty() {
        Outcome {
            error: Some(format!(
                "{}: {}",
                t(lang, "package_zip"),
                "the file is empty"
            )),
            ..Outcome::default()
        }
    } else {
        let products = web.shelf.products().clone();
        match products.upload(&vendor, zip.clone()).await {
            Ok(rev) => Outcome {
                ok: Some(format!(
                    "{}: {} {}",
                    t(lang, "uploaded"),
                    rev.name,
                    rev.revision
                )),
                ..Outcome::default()
            },
            Err(UploadError::Diagnostics { diagnostics, .. }) => {
                let shown =
                    tokio::task::spawn_blocking(move || shown_diagnostics(&zip, &diagnostics))
                        .await
                        .unwrap_or_default();
                Outcome {
                    error: Some(t(lang, "upload_refused").to_owned()),
                    diagnostics: shown,
                    ok: None,
                }
            }
            Err(UploadError::Server(e)) => Outcome {
                error: Some(format!("{}: {e}", t(lang, "upload_refused"))),
                ..Outcome::default()
            },
        }
    };
    web.console_page(&v, &vendor, outcome).await
}

fn revision_of_form(form: &Posted) -> Option<(String, String)> {
    let id = posted(form, "id")?.trim();
    let rev = posted(form, "revision")?.trim();
    (!id.is_empty() && !rev.is_empty() && id.len() <= 255 && rev.len() <= 255)
        .then(|| (id.to_owned(), rev.to_owned()))
}

/// `POST /vendor/publish` (`id`, `revision`).
pub(super) async fn publish(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Form(form): Form<Posted>,
) -> Response {
    let v = web.visitor(&headers).await;
    let Some(vendor) = v.who.vendor().cloned() else {
        return web.vendor_only(&v);
    };
    if !v.csrf_ok(posted(&form, "_csrf")) {
        return web.bad_csrf(&v);
    }
    let Some((id, rev)) = revision_of_form(&form) else {
        return web.not_found(&v);
    };
    let lang = v.lang;
    let outcome = match web.shelf.products().publish(&vendor, &id, &rev).await {
        Ok(()) => Outcome {
            ok: Some(format!("{}: {id} {rev}", t(lang, "published"))),
            ..Outcome::default()
        },
        Err(crate::error::ServerError::NotFound(_)) => return web.not_found(&v),
        Err(e) => Outcome {
            error: Some(e.to_string()),
            ..Outcome::default()
        },
    };
    web.console_page(&v, &vendor, outcome).await
}

/// `POST /vendor/archive` (`id`, `revision`): a confirmation page; with `confirm=yes`, archives.
pub(super) async fn archive(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Form(form): Form<Posted>,
) -> Response {
    let v = web.visitor(&headers).await;
    let Some(vendor) = v.who.vendor().cloned() else {
        return web.vendor_only(&v);
    };
    if !v.csrf_ok(posted(&form, "_csrf")) {
        return web.bad_csrf(&v);
    }
    let Some((id, rev)) = revision_of_form(&form) else {
        return web.not_found(&v);
    };
    // Only the vendor's own, not yet archived revision is asked about or archived.
    let own = web
        .shelf
        .products()
        .vendor_revisions(&vendor)
        .await
        .unwrap_or_default()
        .into_iter()
        .find(|r| r.service_id == id && r.revision == rev && r.state != RevisionState::Archived);
    let Some(own) = own else {
        return web.not_found(&v);
    };
    if posted(&form, "confirm") != Some("yes") {
        return web.page(
            &v,
            "vendor_archive.html",
            minijinja::context! { id => id, revision => rev, name => own.name },
        );
    }
    let lang = v.lang;
    let outcome = match web
        .shelf
        .products()
        .archive(&vendor, &[(id.clone(), rev.clone())])
        .await
    {
        Ok(()) => Outcome {
            ok: Some(format!("{}: {} {rev}", t(lang, "archived"), own.name)),
            ..Outcome::default()
        },
        Err(e) => Outcome {
            error: Some(e.to_string()),
            ..Outcome::default()
        },
    };
    web.console_page(&v, &vendor, outcome).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostics_show_file_line_column_and_source() {
        let d = serde_json::json!({"severity": "error", "code": "x/y", "file": "service.yaml",
            "line": 2, "column": 5, "message": "bad", "help": null});
        // Not a zip: no source line, the location still shown.
        let shown = shown_diagnostics(b"not a zip", &[d]);
        assert_eq!(shown[0].location, "service.yaml:2:5");
        assert_eq!(shown[0].source, None);
        let u = serde_json::json!({"severity": "error", "code": "p/b", "file": "", "line": 1,
            "column": 1, "message": "m", "help": "h"});
        let shown = shown_diagnostics(b"", &[u]);
        assert_eq!(shown[0].location, "upload:1:1");
        assert_eq!(shown[0].help.as_deref(), Some("h"));
    }
}
