//! The product API's rules: a vendor uploads a service package (a zip checked by the `package`
//! room), publishes a revision, archives revisions; and the readers the broker and the
//! deployment system use: a namespace's catalog, a revision, a plan's manifest, a revision's
//! package files.
//!
//! Namespaces: a revision is uploaded into `test`; `publish` makes it the service's one
//! `public` revision (the previous public one returns to `test`); `archive` takes it out of both.
//! The `public` namespace holds each service's public revision; the `test` namespace every
//! revision that is not archived. Revisions are never deleted.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use vitrina_diagnostics::codes;
use vitrina_package::{PackageFiles, ProviderSchemas};

use crate::error::ServerError;
use crate::store::products::{
    InsertOutcome, NewRevision, RevisionRow, STATE_ARCHIVED, STATE_PUBLIC, STATE_TEST,
};
use crate::tenants::{BrokerCtx, Namespace, Tenants, VendorCtx};

/// The largest package zip (the marketplace's limit).
pub const MAX_ZIP_BYTES: usize = 30 * 1024 * 1024;
/// How long one package may take to validate before the upload answers 503.
pub const VALIDATION_TIMEOUT: Duration = Duration::from_secs(120);
/// Packages validated at once (CPU-bound work; further uploads wait their turn).
pub const PARALLEL_VALIDATIONS: usize = 2;

/// A revision's place.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RevisionState {
    Test,
    Public,
    Archived,
}

impl RevisionState {
    fn parse(s: &str) -> Result<RevisionState, ServerError> {
        match s {
            STATE_TEST => Ok(RevisionState::Test),
            STATE_PUBLIC => Ok(RevisionState::Public),
            STATE_ARCHIVED => Ok(RevisionState::Archived),
            other => Err(ServerError::internal(format!(
                "stored revision state `{other}` is unknown"
            ))),
        }
    }

    /// Whether a revision in this state is in `ns`.
    pub fn in_namespace(self, ns: Namespace) -> bool {
        match ns {
            Namespace::Public => self == RevisionState::Public,
            Namespace::Test => self != RevisionState::Archived,
        }
    }
}

/// One revision of a service with its catalog entry (the service object of the broker catalog
/// JSON, `{"id","revision","name",…,"plans":[…]}`).
#[derive(Clone, Debug, Serialize)]
pub struct Revision {
    pub service_id: String,
    pub revision: String,
    pub vendor_id: String,
    pub name: String,
    pub state: RevisionState,
    /// Upload order across all services (larger is newer).
    pub seq: i64,
    pub service: serde_json::Value,
    pub uploaded_at: i64,
    pub published_at: Option<i64>,
    pub archived_at: Option<i64>,
}

/// What the deployment system needs of one plan of a revision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanPackage {
    /// The plan's id in the catalog.
    pub id: String,
    pub name: String,
    /// `plans/<folder>` in the package.
    pub folder: String,
    /// `deployment/*.tf` in name order: (path relative to the service folder, text).
    pub manifest: Vec<(String, String)>,
    /// `settings.yaml`'s `retry` (`Some(false)`: `retry: no`).
    pub retry: Option<bool>,
    pub preset: Option<String>,
}

/// A failed upload: the package's diagnostics (400) or another error.
#[derive(Debug)]
pub enum UploadError {
    /// `{"diagnostics":[…]}` in the shape of `vitrina package validate --format json`.
    Diagnostics {
        status: StatusCode,
        diagnostics: Vec<serde_json::Value>,
    },
    Server(ServerError),
}

impl From<ServerError> for UploadError {
    fn from(e: ServerError) -> Self {
        UploadError::Server(e)
    }
}

impl IntoResponse for UploadError {
    fn into_response(self) -> Response {
        match self {
            UploadError::Diagnostics {
                status,
                diagnostics,
            } => (
                status,
                axum::Json(serde_json::json!({ "diagnostics": diagnostics })),
            )
                .into_response(),
            UploadError::Server(e) => e.into_response(),
        }
    }
}

/// One diagnostic about the upload itself (not a file of the package).
pub fn upload_diagnostic(code: &'static str, message: &str, help: &str) -> serde_json::Value {
    serde_json::json!({
        "severity": "error", "code": code, "file": "", "line": 1, "column": 1,
        "message": message, "help": help,
    })
}

fn bad_upload(status: StatusCode, message: &str) -> UploadError {
    UploadError::Diagnostics {
        status,
        diagnostics: vec![upload_diagnostic(
            codes::PRODUCT_BAD_UPLOAD,
            message,
            "send `curl -F upload=@SERVICE.zip …` or run `vitrina package upload PATH`",
        )],
    }
}

/// What a package yields once it validates.
struct Checked {
    service_id: String,
    revision: String,
    name: String,
    catalog: serde_json::Value,
    plans: Vec<PlanPackage>,
}

/// Validates a zip (blocking: run it on a blocking thread).
fn check_zip(zip: &[u8], schemas: Option<&ProviderSchemas>) -> Result<Checked, UploadError> {
    let files = vitrina_package::read_zip_bytes(zip, "upload").map_err(|e| {
        bad_upload(
            StatusCode::BAD_REQUEST,
            &format!("the `upload` field is not a readable zip archive: {e}"),
        )
    })?;
    let v = vitrina_package::validate_with(&files, schemas);
    if v.diagnostics.has_errors() {
        return Err(UploadError::Diagnostics {
            status: StatusCode::BAD_REQUEST,
            diagnostics: v.sources.to_json(&v.diagnostics),
        });
    }
    let Some(catalog) = vitrina_package::build_catalog(&v) else {
        return Err(UploadError::Server(ServerError::internal(
            "a package without errors gave no catalog",
        )));
    };
    let service = catalog.pointer("/services/0").cloned().unwrap_or_default();
    let text = |v: &serde_json::Value, k: &str| {
        v.get(k)
            .and_then(|x| x.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let plans = v
        .model
        .plans
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let entry = service
                .get("plans")
                .and_then(|l| l.get(i))
                .cloned()
                .unwrap_or_default();
            PlanPackage {
                id: text(&entry, "id"),
                name: text(&entry, "name"),
                folder: p.folder.clone(),
                manifest: p.manifest.clone(),
                retry: p.retry,
                preset: p.preset.clone(),
            }
        })
        .collect();
    Ok(Checked {
        service_id: text(&service, "id"),
        revision: text(&service, "revision"),
        name: text(&service, "name"),
        catalog: service,
        plans,
    })
}

/// The product API and its readers.
pub struct Products {
    tenants: Arc<Tenants>,
    schemas: Option<Arc<ProviderSchemas>>,
    validations: tokio::sync::Semaphore,
}

fn revision_of(row: RevisionRow) -> Result<Revision, ServerError> {
    let service = serde_json::from_str(&row.catalog_json)
        .map_err(|e| ServerError::internal(format!("stored catalog does not parse: {e}")))?;
    Ok(Revision {
        state: RevisionState::parse(&row.state)?,
        service_id: row.service_id,
        revision: row.revision,
        vendor_id: row.vendor_id,
        name: row.name,
        seq: row.seq,
        service,
        uploaded_at: row.uploaded_at,
        published_at: row.published_at,
        archived_at: row.archived_at,
    })
}

impl Products {
    /// `schemas`: the providers' schemas manifests are checked against (the cli passes
    /// `vitrina_providers::schemas()`); without them resource types are checked by prefix only.
    pub fn new(tenants: Arc<Tenants>, schemas: Option<Arc<ProviderSchemas>>) -> Arc<Products> {
        Arc::new(Products {
            tenants,
            schemas,
            validations: tokio::sync::Semaphore::new(PARALLEL_VALIDATIONS),
        })
    }

    pub fn tenants(&self) -> &Arc<Tenants> {
        &self.tenants
    }

    // ---- vendors ----

    /// Checks and stores a package zip in the caller's `test` namespace.
    pub async fn upload(&self, ctx: &VendorCtx, zip: Vec<u8>) -> Result<Revision, UploadError> {
        if zip.len() > MAX_ZIP_BYTES {
            return Err(UploadError::Diagnostics {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                diagnostics: vec![upload_diagnostic(
                    codes::PACKAGE_TOO_LARGE,
                    &format!(
                        "the zip has {} bytes, more than the {MAX_ZIP_BYTES}-byte (30 MB) upload limit",
                        zip.len()
                    ),
                    "remove files the package does not need",
                )],
            });
        }
        let _permit = self
            .validations
            .acquire()
            .await
            .map_err(|_| ServerError::Unavailable("the server is stopping".into()))?;
        let schemas = self.schemas.clone();
        let zip = Arc::new(zip);
        let zip2 = zip.clone();
        let task = tokio::task::spawn_blocking(move || check_zip(&zip2, schemas.as_deref()));
        let checked = match tokio::time::timeout(VALIDATION_TIMEOUT, task).await {
            Ok(Ok(r)) => r?,
            Ok(Err(e)) => {
                return Err(
                    ServerError::internal(format!("package validation panicked: {e}")).into(),
                )
            }
            Err(_) => {
                return Err(ServerError::Unavailable(
                    "the package took too long to validate".into(),
                )
                .into())
            }
        };
        let new = NewRevision {
            service_id: checked.service_id.clone(),
            revision: checked.revision.clone(),
            name: checked.name.clone(),
            catalog_json: checked.catalog.to_string(),
            plans_json: serde_json::to_string(&checked.plans)
                .map_err(|e| ServerError::internal(format!("plans do not serialize: {e}")))?,
            zip_sha256: {
                use sha2::Digest;
                hex::encode(sha2::Sha256::digest(zip.as_slice()))
            },
            zip_base64: base64::engine::general_purpose::STANDARD.encode(zip.as_slice()),
        };
        let store = self.tenants.store();
        match store
            .revision_insert(ctx, &new)
            .await
            .map_err(ServerError::from)?
        {
            InsertOutcome::Inserted => {}
            InsertOutcome::Exists => {
                return Err(ServerError::Conflict(format!(
                    "service {} revision {} is already uploaded; give the package a new revision in service.yaml",
                    new.service_id, new.revision
                ))
                .into())
            }
            InsertOutcome::OtherVendor => {
                return Err(ServerError::Conflict(format!(
                    "service id {} belongs to another vendor",
                    new.service_id
                ))
                .into())
            }
        }
        tracing::info!(vendor = %ctx.name(), service = %new.service_id, revision = %new.revision, "product revision uploaded");
        let row = store
            .vendor_revision(ctx, &new.service_id, &new.revision)
            .await
            .map_err(ServerError::from)?
            .ok_or_else(|| ServerError::internal("revision vanished after upload"))?;
        Ok(revision_of(row)?)
    }

    /// Makes the caller's revision public; the previous public revision returns to `test`.
    pub async fn publish(
        &self,
        ctx: &VendorCtx,
        service_id: &str,
        revision: &str,
    ) -> Result<(), ServerError> {
        if self
            .tenants
            .store()
            .revision_publish(ctx, service_id, revision)
            .await?
        {
            tracing::info!(vendor = %ctx.name(), service = %service_id, revision = %revision, "product revision published");
            Ok(())
        } else {
            Err(ServerError::NotFound(format!(
                "service {service_id} revision {revision}"
            )))
        }
    }

    /// Archives the caller's revisions (all or none).
    pub async fn archive(
        &self,
        ctx: &VendorCtx,
        which: &[(String, String)],
    ) -> Result<(), ServerError> {
        match self.tenants.store().revisions_archive(ctx, which).await? {
            Ok(()) => {
                tracing::info!(vendor = %ctx.name(), count = which.len(), "product revisions archived");
                Ok(())
            }
            Err(i) => {
                let (id, rev) = which.get(i).cloned().unwrap_or_default();
                Err(ServerError::NotFound(format!(
                    "service {id} revision {rev}"
                )))
            }
        }
    }

    /// Every revision of the caller's products, oldest first.
    pub async fn vendor_revisions(&self, ctx: &VendorCtx) -> Result<Vec<Revision>, ServerError> {
        self.tenants
            .store()
            .vendor_revisions(ctx)
            .await?
            .into_iter()
            .map(revision_of)
            .collect()
    }

    // ---- readers for the broker and the deployment system ----

    /// The revisions of a namespace in upload order: `public` — each service's public
    /// revision; `test` — every revision not archived.
    pub async fn catalog(&self, ns: Namespace) -> Result<Vec<Revision>, ServerError> {
        let states: &[&str] = match ns {
            Namespace::Public => &[STATE_PUBLIC],
            Namespace::Test => &[STATE_TEST, STATE_PUBLIC],
        };
        self.tenants
            .store()
            .revisions_in(states)
            .await?
            .into_iter()
            .map(revision_of)
            .collect()
    }

    /// The catalog of the broker account's namespace.
    pub async fn catalog_for(&self, ctx: &BrokerCtx) -> Result<Vec<Revision>, ServerError> {
        self.catalog(ctx.namespace()).await
    }

    /// A revision in any state (an archived one still serves its existing instances).
    pub async fn revision(
        &self,
        service_id: &str,
        revision: &str,
    ) -> Result<Option<Revision>, ServerError> {
        self.tenants
            .store()
            .revision(service_id, revision)
            .await?
            .map(revision_of)
            .transpose()
    }

    /// A revision the broker account may use to create or change an instance (in its
    /// namespace); `None` otherwise.
    pub async fn revision_for(
        &self,
        ctx: &BrokerCtx,
        service_id: &str,
        revision: &str,
    ) -> Result<Option<Revision>, ServerError> {
        Ok(self
            .revision(service_id, revision)
            .await?
            .filter(|r| r.state.in_namespace(ctx.namespace())))
    }

    /// Every plan of a revision with its manifest.
    pub async fn plans(
        &self,
        service_id: &str,
        revision: &str,
    ) -> Result<Option<Vec<PlanPackage>>, ServerError> {
        let Some(row) = self.tenants.store().revision(service_id, revision).await? else {
            return Ok(None);
        };
        let plans: Vec<PlanPackage> = serde_json::from_str(&row.plans_json)
            .map_err(|e| ServerError::internal(format!("stored plans do not parse: {e}")))?;
        Ok(Some(plans))
    }

    /// One plan (by its catalog id) of a revision, with its manifest.
    pub async fn plan(
        &self,
        service_id: &str,
        revision: &str,
        plan_id: &str,
    ) -> Result<Option<PlanPackage>, ServerError> {
        Ok(self
            .plans(service_id, revision)
            .await?
            .and_then(|plans| plans.into_iter().find(|p| p.id == plan_id)))
    }

    /// The zip as uploaded.
    pub async fn zip(
        &self,
        service_id: &str,
        revision: &str,
    ) -> Result<Option<Vec<u8>>, ServerError> {
        let Some(b64) = self
            .tenants
            .store()
            .revision_zip(service_id, revision)
            .await?
        else {
            return Ok(None);
        };
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map(Some)
            .map_err(|e| ServerError::internal(format!("stored zip is not base64: {e}")))
    }

    /// The package's files as the `package` room reads them (text files with their data).
    pub async fn package_files(
        &self,
        service_id: &str,
        revision: &str,
    ) -> Result<Option<PackageFiles>, ServerError> {
        let Some(zip) = self.zip(service_id, revision).await? else {
            return Ok(None);
        };
        tokio::task::spawn_blocking(move || vitrina_package::read_zip_bytes(&zip, "upload"))
            .await
            .map_err(|e| ServerError::internal(format!("reading a stored zip panicked: {e}")))?
            .map(Some)
            .map_err(|e| ServerError::internal(format!("a stored zip does not read: {e}")))
    }
}
