//! VM-SDF deployments (seed 004, issue 14 Build 3): an app of the VM-SDF catalog deployed as
//! one VM through the deployment system ([`crate::hoe`]): the server checks the answers with
//! the app's form, picks a flavor the `service-offering` filters allow, an image among the
//! app's `templates` and a root disk of at least `minimal-root-disk-size`, prepares the VM's
//! KV store (and one-time token), and hands the deployment system a generated manifest whose
//! USERDATA carries `deployment-info` as the app's `mode` says and installs the reader
//! ([`READER`]) that applies it on the VM.
//!
//! | request | answer |
//! |---|---|
//! | `POST /sdf/v1/deployments` `{"uuid","app","values","subnet",…}` | 201 [`DeploymentView`] |
//! | `GET /sdf/v1/deployments/{uuid}` | 200 [`DeploymentView`] with the VM's progress |
//! | `PATCH /sdf/v1/deployments/{uuid}` `{"values"}` | 200 (volatile changes written to the KV store); 409 `{"error","refusals":[{variable,reason}]}` |
//! | `DELETE /sdf/v1/deployments/{uuid}` | 202: the VM goes, then the store |
//!
//! Callers authenticate as a project (`x-auth-token`, as the deployment system's API); another
//! project's deployments answer 404.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_yaml::{Mapping, Value as Yaml};
use vitrina_forms::sdf::{
    deployment_info, matching_flavors, pointer_userdata, validators, App, DeliveredFeature,
    Feature, Flavor, Form, FormState, Input, Mode, Refusal, SdfValue, VarType,
};

use crate::error::ServerError;
use crate::hoe::{CreateObject, Hoe, HoeError, ObjectView};
use crate::sdf::{Failure, SdfState};
use crate::tenants::ProjectCtx;

/// The reader USERDATA installs on the VM (Python 3, standard library only).
pub const READER: &str = include_str!("sdf_reader.py");
/// Where USERDATA puts the reader and `deployment-info` on the VM.
pub const READER_PATH: &str = "/usr/local/lib/vitrina-sdf/reader.py";
pub const INFO_PATH: &str = "/etc/vitrina-sdf/deployment-info.json";
/// How often the reader looks for changed variables unless asked otherwise.
pub const DEFAULT_POLL_SECONDS: u64 = 15;
/// How long the one-time token of `ota+kvs` lives unless asked otherwise.
pub const DEFAULT_OTA_TTL_SECONDS: i64 = 3600;
/// The root disk when the app names no minimum, GB.
pub const DEFAULT_ROOT_DISK_GB: i64 = 10;

/// The paths of the OpenAPI document ([`crate::openapi`]).
pub fn openapi_paths() -> serde_json::Value {
    let err = |d: &str| serde_json::json!({"description": d, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    let view = serde_json::json!({"description": "the deployment", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SdfDeployment"}}}});
    let security = serde_json::json!([{"authToken": []}]);
    serde_json::json!({
        "/sdf/v1/deployments": {"post": {
            "operationId": "sdf_deploy", "tags": ["vm-sdf"],
            "summary": "Deploy a VM-SDF app of the catalog as one VM through the deployment system",
            "description": "Checks the answers with the app's form, picks a flavor the `service-offering` filters allow (or the `ServiceOffering` variable's answer), an image among `templates` and a root disk of at least `minimal-root-disk-size`, prepares the VM's KV store (and one-time token for `ota+kvs`) and starts a deployment-system object whose USERDATA carries `deployment-info` as the app's `mode` says.",
            "security": security,
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SdfDeploymentRequest"}}}},
            "responses": {"201": view, "400": err("invalid answers, no allowed flavor, an incompatible image"), "401": err("unauthenticated"), "404": err("no such app or no catalog"), "409": err("the uuid is taken")}}},
        "/sdf/v1/deployments/{uuid}": {
            "get": {"operationId": "sdf_deployment", "tags": ["vm-sdf"], "summary": "A VM-SDF deployment: status, the VM's reported progress, the variables (passwords masked)",
                "security": security, "responses": {"200": view, "401": err("unauthenticated"), "404": err("not found")}},
            "patch": {"operationId": "sdf_change", "tags": ["vm-sdf"], "summary": "Change variables after deployment: volatile ones are written into the VM's KV store, where its reader picks them up; others are refused",
                "security": security,
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["values"], "properties": {"values": {"type": "object"}}}}}},
                "responses": {"200": view, "400": err("invalid"), "401": err("unauthenticated"), "404": err("not found"),
                    "409": {"description": "refused changes, each with its reason", "content": {"application/json": {"schema": {"type": "object", "properties": {"error": {"type": "string"}, "refusals": {"type": "array", "items": {"type": "object", "properties": {"variable": {"type": "string"}, "reason": {"type": "string"}}}}}}}}}}},
            "delete": {"operationId": "sdf_undeploy", "tags": ["vm-sdf"], "summary": "Delete the VM and its KV store, tokens and logs",
                "security": security, "responses": {"202": {"description": "deletion started"}, "401": err("unauthenticated"), "404": err("not found")}}
        }
    })
}

/// The schemas of the OpenAPI document.
pub fn openapi_schemas() -> serde_json::Value {
    serde_json::json!({
        "SdfDeploymentRequest": {"type": "object", "required": ["uuid", "app", "subnet"], "additionalProperties": false, "properties": {
            "uuid": {"type": "string", "format": "uuid"},
            "app": {"type": "string", "description": "the app's id in the catalog"},
            "values": {"type": "object", "description": "answers by variable name; defaults fill the rest; passwords without a validator are generated"},
            "subnet": {"type": "string"},
            "image": {"type": "string", "description": "one of the app's templates (the first by default)"},
            "flavor": {"type": "string", "description": "id or name; must pass the filters (the smallest allowed by default)"},
            "availability_zone": {"type": "string"},
            "volume_type": {"type": "string"},
            "poll_seconds": {"type": "integer", "minimum": 1, "maximum": 3600},
            "ota_ttl_seconds": {"type": "integer", "minimum": 1, "maximum": 86400}}},
        "SdfDeployment": {"type": "object", "properties": {
            "uuid": {"type": "string"}, "app": {"type": "string"}, "mode": {"enum": ["raw", "kvs", "ota+kvs"]},
            "status": {"type": "string"}, "progress": {"description": "what the VM last wrote into its deployment-progress key"},
            "variables": {"type": "object"}, "object": {"type": "object", "description": "the deployment system's object"}}}
    })
}

/// The deployment system's manifest of one VM-SDF VM.
const MANIFEST: &str = r#"# One VM of a VM-SDF application (generated by vitrina's VM-SDF deployments).
variable "instance_uuid" {
  type = string
}

variable "app" {
  type = string
}

variable "image" {
  type = string
}

variable "flavor" {
  type = string
}

variable "root_disk_gb" {
  type = number
}

variable "subnet" {
  type = string
}

variable "availability_zone" {
  type    = string
  default = "GZ1"
}

variable "volume_type" {
  type    = string
  default = "ceph-ssd"
}

variable "user_data" {
  type      = string
  sensitive = true
}

locals {
  short = substr(var.instance_uuid, 0, 8)
}

data "vkcs_images_image" "image" {
  name = var.image
}

data "vkcs_networking_subnet" "subnet" {
  subnet_id = var.subnet
}

resource "vkcs_networking_port" "vm" {
  name       = "${local.short}-${var.app}"
  network_id = data.vkcs_networking_subnet.subnet.network_id
  fixed_ip {
    subnet_id = var.subnet
  }
}

resource "vkcs_blockstorage_volume" "root" {
  name              = "${local.short}-${var.app}-root"
  image_id          = data.vkcs_images_image.image.id
  size              = var.root_disk_gb
  volume_type       = var.volume_type
  availability_zone = var.availability_zone
  metadata          = { "vm-sdf-app" : var.app }
}

resource "vkcs_compute_instance" "vm" {
  name              = "${local.short}-${var.app}"
  flavor_id         = var.flavor
  availability_zone = var.availability_zone
  metadata          = { "vm-sdf-app" : var.app }

  block_device {
    source_type      = "volume"
    destination_type = "volume"
    boot_index       = 0
    uuid             = vkcs_blockstorage_volume.root.id
  }

  network {
    port = vkcs_networking_port.vm.id
  }

  user_data = var.user_data
}

output "server_id" {
  value = vkcs_compute_instance.vm.id
}

output "address" {
  value = vkcs_compute_instance.vm.access_ip_v4
}
"#;

#[derive(Clone)]
pub struct SdfDeployState {
    pub hoe: Arc<Hoe>,
    pub sdf: SdfState,
    /// The catalog the apps come from (`--sdf-catalog`).
    pub catalog: Option<PathBuf>,
}

pub fn routes(state: SdfDeployState) -> Router {
    Router::new()
        .route("/sdf/v1/deployments", post(create))
        .route(
            "/sdf/v1/deployments/{uuid}",
            get(show).patch(change).delete(remove),
        )
        .with_state(state)
}

/// What a request fails with.
#[derive(Debug)]
pub enum DeployError {
    Server(ServerError),
    /// 409: changes a deployed app refuses (non-volatile variables), each with its reason.
    Refused(Vec<Refusal>),
    Other(Failure),
}

impl From<ServerError> for DeployError {
    fn from(e: ServerError) -> Self {
        DeployError::Server(e)
    }
}

impl From<crate::store::StoreError> for DeployError {
    fn from(e: crate::store::StoreError) -> Self {
        DeployError::Server(e.into())
    }
}

impl From<crate::crypto::CryptoError> for DeployError {
    fn from(e: crate::crypto::CryptoError) -> Self {
        DeployError::Server(e.into())
    }
}

impl From<Failure> for DeployError {
    fn from(e: Failure) -> Self {
        DeployError::Other(e)
    }
}

impl From<HoeError> for DeployError {
    fn from(e: HoeError) -> Self {
        match e {
            HoeError::Server(s) => DeployError::Server(s),
            // The manifest is generated here: diagnostics are a bug of vitrina, not the caller's.
            HoeError::Diagnostics(d) => DeployError::Server(ServerError::internal(format!(
                "the generated VM-SDF manifest was refused: {}",
                serde_json::Value::Array(d)
            ))),
        }
    }
}

impl IntoResponse for DeployError {
    fn into_response(self) -> Response {
        match self {
            DeployError::Server(e) => e.into_response(),
            DeployError::Other(f) => f.into_response(),
            DeployError::Refused(r) => {
                let refusals: Vec<serde_json::Value> = r
                    .iter()
                    .map(|r| serde_json::json!({"variable": r.variable, "reason": r.reason}))
                    .collect();
                let error = r
                    .iter()
                    .map(|r| r.reason.as_str())
                    .collect::<Vec<_>>()
                    .join("; ");
                (
                    StatusCode::CONFLICT,
                    Json(serde_json::json!({"error": error, "refusals": refusals})),
                )
                    .into_response()
            }
        }
    }
}

impl DeployError {
    /// The message a person reads (internal details stay in the log).
    pub fn message(&self) -> String {
        match self {
            DeployError::Server(ServerError::Internal { context }) => {
                tracing::error!(%context, "a VM-SDF deployment failed");
                "internal error".to_owned()
            }
            DeployError::Server(e) => e.to_string(),
            DeployError::Refused(r) => r
                .iter()
                .map(|r| r.reason.as_str())
                .collect::<Vec<_>>()
                .join("; "),
            DeployError::Other(Failure::Server(e)) => e.to_string(),
            DeployError::Other(Failure::Forbidden(m) | Failure::Gone(m)) => m.clone(),
        }
    }
}

type Answer<T> = Result<T, DeployError>;

fn invalid(message: impl Into<String>) -> DeployError {
    DeployError::Server(ServerError::Invalid(message.into()))
}

/// `POST /sdf/v1/deployments`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CreateDeployment {
    /// The deployment's id (a UUID); also the VM's key for its KV store.
    pub uuid: String,
    /// The app's id in the catalog (`lnmp-10`).
    pub app: String,
    /// Answers by variable name; unanswered ones take their defaults, passwords without a
    /// validator are generated.
    #[serde(default)]
    pub values: serde_json::Map<String, serde_json::Value>,
    /// The subnet the VM's port is on.
    pub subnet: String,
    /// One of the app's `templates` (the first when not given).
    #[serde(default)]
    pub image: Option<String>,
    /// A flavor (id or name) the `service-offering` filters allow (the smallest allowed one
    /// when not given). An app with a `ServiceOffering` variable takes that variable's answer.
    #[serde(default)]
    pub flavor: Option<String>,
    #[serde(default)]
    pub availability_zone: Option<String>,
    #[serde(default)]
    pub volume_type: Option<String>,
    /// How often the reader on the VM looks for changed variables (kvs modes), seconds.
    #[serde(default)]
    pub poll_seconds: Option<u64>,
    /// Lifetime of the one-time token (`ota+kvs`), seconds.
    #[serde(default)]
    pub ota_ttl_seconds: Option<i64>,
}

/// `PATCH /sdf/v1/deployments/{uuid}`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeDeployment {
    /// New answers (the others stay as deployed).
    pub values: serde_json::Map<String, serde_json::Value>,
}

/// A VM-SDF deployment as the API shows it.
#[derive(Clone, Debug, Serialize)]
pub struct DeploymentView {
    pub uuid: String,
    pub app: String,
    pub mode: String,
    /// The deployment system's status (`applying`, `running`, `failed`, …).
    pub status: String,
    /// What the VM reported last into its `deployment-progress` KV key (null before).
    pub progress: serde_json::Value,
    /// The variables as deployed, passwords masked.
    pub variables: serde_json::Value,
    /// The deployment system's object (outputs: `server_id`, `address`).
    pub object: ObjectView,
}

// ---- the catalog ----

/// The app `id` of the catalog file, read and checked as `vitrina sdf validate` does.
async fn load_app(catalog: Option<&PathBuf>, id: &str) -> Answer<(App, String)> {
    let Some(path) = catalog else {
        return Err(ServerError::NotFound(
            "no VM-SDF catalog (start with `--sdf-catalog FILE`)".into(),
        )
        .into());
    };
    let text = tokio::fs::read_to_string(path)
        .await
        .map_err(|e| ServerError::internal(format!("read {}: {e}", path.display())))?;
    let doc: Yaml = serde_yaml::from_str(&text)
        .map_err(|e| ServerError::internal(format!("the VM-SDF catalog: {e}")))?;
    compile_app(&doc, id)
}

/// The app `id` of a parsed catalog document, checked as `vitrina sdf validate` does, with
/// its own text (the `application-manifest` of its output).
pub(crate) fn compile_app(doc: &Yaml, id: &str) -> Answer<(App, String)> {
    let tree = doc
        .get("applications")
        .and_then(|a| a.get(id))
        .ok_or_else(|| ServerError::NotFound(format!("VM-SDF app `{id}`")))?;
    let mut one = Mapping::new();
    one.insert(Yaml::String(id.to_owned()), tree.clone());
    let app_text = serde_yaml::to_string(&Yaml::Mapping(one))
        .map_err(|e| ServerError::internal(format!("VM-SDF app `{id}`: {e}")))?;
    let checked = vitrina_package::sdf::validate_text(&format!("catalog#{id}"), &app_text);
    let compiled = checked
        .app(id)
        .filter(|_| checked.ok())
        .ok_or_else(|| ServerError::internal(format!("VM-SDF app `{id}` does not validate")))?;
    Ok((compiled.app.clone(), compiled.manifest_text.clone()))
}

// ---- answers ----

fn sdf_value(name: &str, v: &serde_json::Value) -> Answer<SdfValue> {
    Ok(match v {
        serde_json::Value::Null => SdfValue::Null,
        serde_json::Value::Bool(b) => SdfValue::Bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => SdfValue::Int(i),
            None => SdfValue::Float(n.as_f64().unwrap_or_default()),
        },
        serde_json::Value::String(s) => SdfValue::String(s.clone()),
        serde_json::Value::Array(items) => SdfValue::List(
            items
                .iter()
                .map(|i| sdf_value(name, i))
                .collect::<Answer<Vec<_>>>()?,
        ),
        serde_json::Value::Object(_) => {
            return Err(invalid(format!(
                "`{name}`: a value is a scalar or a list, not an object"
            )))
        }
    })
}

/// The form's input from answers (a password given through the API is its own confirmation).
fn input_of(form: &Form, answers: &serde_json::Map<String, serde_json::Value>) -> Answer<Input> {
    let mut input = Input::new();
    for (name, v) in answers {
        let var = form
            .get(name)
            .ok_or_else(|| invalid(format!("the app has no variable `{name}`")))?;
        let value = sdf_value(name, v)?;
        if let (VarType::Password { .. }, SdfValue::String(s)) = (&var.ty, &value) {
            input.confirmations.insert(name.clone(), s.clone());
        }
        input.values.insert(name.clone(), value);
    }
    Ok(input)
}

/// Generates passwords the answers leave out (only where no validator is set, as the seed
/// says; others stay required).
fn fill_passwords(form: &Form, answers: &mut serde_json::Map<String, serde_json::Value>) {
    let mut rng = rand::thread_rng();
    for var in &form.variables {
        if answers.contains_key(&var.name) || !matches!(var.ty, VarType::Password { .. }) {
            continue;
        }
        if let Some(p) = validators::generate_password(&var.ty, &mut rng) {
            answers.insert(var.name.clone(), serde_json::Value::String(p));
        }
    }
}

fn check_state(form: &Form, state: &FormState) -> Answer<()> {
    let errors = state.errors(form);
    if errors.is_empty() {
        return Ok(());
    }
    Err(invalid(
        errors
            .iter()
            .map(|(n, e)| format!("`{n}`: {e}"))
            .collect::<Vec<_>>()
            .join("; "),
    ))
}

fn answers_place(uuid: &str) -> String {
    format!("sdf-deployment/{uuid}")
}

fn yaml_to_json(v: &Yaml) -> Answer<serde_json::Value> {
    serde_json::to_value(v).map_err(|e| ServerError::internal(format!("YAML to JSON: {e}")).into())
}

// ---- the cloud ----

async fn flavors(hoe: &Hoe, ctx: &ProjectCtx) -> Answer<Vec<Flavor>> {
    let creds = hoe.tenants.project_cloud(ctx).await?;
    let client = vitrina_openstack::Client::new(creds.to_cloud_config("vm-sdf"))
        .map_err(|e| ServerError::internal(format!("the project's cloud: {e}")))?;
    let list = client
        .compute()
        .list_flavors(&Vec::new())
        .await
        .map_err(|e| ServerError::internal(format!("list the cloud's flavors: {e}")))?;
    Ok(list
        .into_iter()
        .filter(|f| !f.disabled)
        .map(|f| Flavor {
            id: f.id,
            name: f.name,
            ram_mb: i64::try_from(f.ram).unwrap_or(i64::MAX),
            vcpus: i64::from(f.vcpus),
            frequency_mhz: None,
        })
        .collect())
}

/// The flavor: the `ServiceOffering` variable's answer, else the one asked for, else the
/// smallest the app's filters allow.
fn choose_flavor(
    app: &App,
    state: &FormState,
    asked: Option<&str>,
    flavors: &[Flavor],
) -> Answer<String> {
    for (var, field) in app.form.variables.iter().zip(&state.fields) {
        if matches!(var.ty, VarType::ServiceOffering { .. }) && field.active {
            if let Some(k) = field.value.key() {
                if let Some(f) = flavors.iter().find(|f| f.id == k || f.name == k) {
                    return Ok(f.id.clone());
                }
            }
        }
    }
    let mut allowed = matching_flavors(&app.service_offering, flavors);
    if allowed.is_empty() {
        return Err(invalid(format!(
            "no flavor of the cloud passes the service-offering filters of `{}`",
            app.id
        )));
    }
    if let Some(want) = asked {
        return allowed
            .iter()
            .find(|f| f.id == want || f.name == want)
            .map(|f| f.id.clone())
            .ok_or_else(|| {
                invalid(format!(
                    "flavor `{want}` does not pass the service-offering filters of `{}` (allowed: {})",
                    app.id,
                    allowed.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", ")
                ))
            });
    }
    allowed.sort_by_key(|f| (f.vcpus, f.ram_mb));
    Ok(allowed.first().map(|f| f.id.clone()).unwrap_or_default())
}

fn choose_image(app: &App, asked: Option<&str>) -> Answer<String> {
    match (asked, app.templates.first()) {
        (Some(want), _) if app.templates.is_empty() || app.templates.iter().any(|t| t == want) => {
            Ok(want.to_owned())
        }
        (Some(want), _) => Err(invalid(format!(
            "image `{want}` is not among the compatible templates of `{}` ({})",
            app.id,
            app.templates.join(", ")
        ))),
        (None, Some(first)) => Ok(first.clone()),
        (None, None) => Err(invalid(format!(
            "`{}` names no compatible template: give `image`",
            app.id
        ))),
    }
}

// ---- USERDATA ----

fn ys(s: &str) -> Yaml {
    Yaml::String(s.to_owned())
}

/// `#cloud-config` that writes `deployment-info` (root only) and the reader, and starts the
/// reader now and at every later boot.
pub fn cloud_config(info: &serde_json::Value) -> Answer<String> {
    let info_text = serde_json::to_string_pretty(info)
        .map_err(|e| ServerError::internal(format!("deployment-info: {e}")))?;
    let file = |path: &str, mode: &str, content: &str| {
        let mut m = Mapping::new();
        m.insert(ys("path"), ys(path));
        m.insert(ys("permissions"), ys(mode));
        m.insert(ys("content"), ys(content));
        Yaml::Mapping(m)
    };
    // No `setsid`: the reader stays in the VM's process group and stops with the VM.
    let start = format!(
        "nohup python3 \"${{VITRINA_ROOT:-}}{READER_PATH}\" >> \"${{VITRINA_ROOT:-}}/var/log/vitrina-sdf.log\" 2>&1 < /dev/null &"
    );
    let mut doc = Mapping::new();
    doc.insert(
        ys("write_files"),
        Yaml::Sequence(vec![
            file(INFO_PATH, "0600", &info_text),
            file(READER_PATH, "0755", READER),
        ]),
    );
    // Later boots: bootcmd (the files exist by then); the first boot: runcmd.
    doc.insert(
        ys("bootcmd"),
        Yaml::Sequence(vec![ys(&format!(
            "if [ -f \"${{VITRINA_ROOT:-}}{READER_PATH}\" ]; then {start} fi"
        ))]),
    );
    doc.insert(ys("runcmd"), Yaml::Sequence(vec![ys(&start)]));
    let body = serde_yaml::to_string(&Yaml::Mapping(doc))
        .map_err(|e| ServerError::internal(format!("USERDATA: {e}")))?;
    Ok(format!("#cloud-config\n{body}"))
}

fn with_poll(mut doc: serde_json::Value, poll: u64) -> serde_json::Value {
    if let Some(info) = doc
        .get_mut("deployment-info")
        .and_then(serde_json::Value::as_object_mut)
    {
        info.insert("poll-seconds".into(), serde_json::Value::from(poll));
    }
    doc
}

// ---- handlers ----

/// Bodies are read after the caller is known (an anonymous caller gets 401, not a parse error).
fn json_body<T: serde::de::DeserializeOwned>(body: &Bytes) -> Answer<T> {
    serde_json::from_slice(body).map_err(|e| {
        invalid(format!(
            "bad JSON body: {}",
            crate::json_errors::json_error(&e)
        ))
    })
}

async fn project(state: &SdfDeployState, headers: &HeaderMap) -> Answer<ProjectCtx> {
    Ok(state.hoe.tenants.project_from_headers(headers).await?)
}

async fn create(
    State(state): State<SdfDeployState>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer<Response> {
    let ctx = project(&state, &headers).await?;
    let req: CreateDeployment = json_body(&body)?;
    let view = create_deployment(&state, &ctx, &req).await?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// What `POST /sdf/v1/deployments` does for a project (the web wizard deploys through it too).
pub(crate) async fn create_deployment(
    state: &SdfDeployState,
    ctx: &ProjectCtx,
    req: &CreateDeployment,
) -> Answer<DeploymentView> {
    let uuid: uuid::Uuid = req
        .uuid
        .parse()
        .map_err(|_| invalid("`uuid` must be a UUID"))?;
    let uuid = uuid.to_string();
    let (app, manifest_text) = load_app(state.catalog.as_ref(), &req.app).await?;
    let mut answers = req.values.clone();
    fill_passwords(&app.form, &mut answers);
    let input = input_of(&app.form, &answers)?;
    let flavors = flavors(&state.hoe, ctx).await?;
    let form_state = app.form.evaluate_with(&input, Some(&flavors));
    check_state(&app.form, &form_state)?;
    let flavor = choose_flavor(&app, &form_state, req.flavor.as_deref(), &flavors)?;
    let image = choose_image(&app, req.image.as_deref())?;
    let root_disk = app
        .minimal_root_disk_size
        .unwrap_or(DEFAULT_ROOT_DISK_GB)
        .max(1);
    let poll = req
        .poll_seconds
        .unwrap_or(DEFAULT_POLL_SECONDS)
        .clamp(1, 3600);

    let answers_sealed = state
        .hoe
        .sealer
        .seal_json(&answers_place(&uuid), &answers)?;
    if !state
        .sdf
        .service
        .store
        .sdf_deployment_create(&uuid, ctx.id(), &app.id, app.mode.as_str(), &answers_sealed)
        .await?
    {
        return Err(ServerError::Conflict(format!("deployment {uuid} exists")).into());
    }
    let prepared = prepare(state, &uuid, &app, &manifest_text, &form_state, req, poll).await;
    let user_data = match prepared {
        Ok(u) => u,
        Err(e) => {
            let _ = state.sdf.remove(&uuid).await;
            let _ = state
                .sdf
                .service
                .store
                .sdf_deployment_delete(ctx.id(), &uuid)
                .await;
            return Err(e);
        }
    };
    let mut vars = serde_json::Map::new();
    vars.insert("app".into(), app.id.clone().into());
    vars.insert("image".into(), image.into());
    vars.insert("flavor".into(), flavor.into());
    vars.insert("root_disk_gb".into(), root_disk.into());
    vars.insert("subnet".into(), req.subnet.clone().into());
    vars.insert("user_data".into(), user_data.into());
    if let Some(az) = &req.availability_zone {
        vars.insert("availability_zone".into(), az.clone().into());
    }
    if let Some(t) = &req.volume_type {
        vars.insert("volume_type".into(), t.clone().into());
    }
    let files: BTreeMap<String, String> = [("main.tf".to_owned(), MANIFEST.to_owned())].into();
    let created = state
        .hoe
        .create_object(
            ctx,
            CreateObject {
                uuid: uuid.clone(),
                config: None,
                files: Some(files),
                vars,
            },
        )
        .await;
    if let Err(e) = created {
        let _ = state.sdf.remove(&uuid).await;
        let _ = state
            .sdf
            .service
            .store
            .sdf_deployment_delete(ctx.id(), &uuid)
            .await;
        return Err(e.into());
    }
    view(state, ctx, &uuid).await
}

/// The VM's KV store with its configuration (kvs modes), and the USERDATA of the mode.
async fn prepare(
    state: &SdfDeployState,
    uuid: &str,
    app: &App,
    manifest_text: &str,
    form_state: &FormState,
    req: &CreateDeployment,
    poll: u64,
) -> Answer<String> {
    let (store, _) = state.sdf.open_store(uuid).await?;
    let creds = store.kvs;
    let pointer = match app.mode {
        Mode::Raw => {
            let mut features = Vec::new();
            if app.wants(Feature::VmKv) {
                features.push(DeliveredFeature {
                    key: "vm-key-value-storage".into(),
                    endpoint: creds.endpoint.clone(),
                    name: creds.name.clone(),
                    secret: creds.secret.clone(),
                });
            }
            if app.wants(Feature::Logs) {
                features.push(DeliveredFeature {
                    key: "log-store".into(),
                    endpoint: creds.endpoint.replace("/sdf/v1/kv/", "/sdf/v1/logs/"),
                    name: creds.name.clone(),
                    secret: creds.secret.clone(),
                });
            }
            deployment_info(app, Some(manifest_text), form_state, &features, false)
        }
        Mode::Kvs | Mode::OtaKvs => {
            let config = deployment_info(app, Some(manifest_text), form_state, &[], false);
            state
                .sdf
                .write_config(uuid, &yaml_to_json(&config)?)
                .await?;
            let (endpoint, secret) = if app.mode == Mode::Kvs {
                (creds.endpoint.clone(), creds.secret.clone())
            } else {
                let ttl = req.ota_ttl_seconds.unwrap_or(DEFAULT_OTA_TTL_SECONDS);
                let ota = state.sdf.issue_ota(uuid, ttl).await?;
                (ota.endpoint, ota.token)
            };
            pointer_userdata(app.mode, &endpoint, &creds.name, &secret)
                .ok_or_else(|| ServerError::internal("no pointer for a kvs mode"))?
        }
    };
    cloud_config(&with_poll(yaml_to_json(&pointer)?, poll))
}

async fn row(
    state: &SdfDeployState,
    ctx: &ProjectCtx,
    uuid: &str,
) -> Answer<crate::store::sdf_deploy::SdfDeploymentRow> {
    let parsed: uuid::Uuid = uuid
        .parse()
        .map_err(|_| ServerError::NotFound(format!("deployment {uuid}")))?;
    state
        .sdf
        .service
        .store
        .sdf_deployment(ctx.id(), &parsed.to_string())
        .await?
        .ok_or_else(|| ServerError::NotFound(format!("deployment {uuid}")).into())
}

fn answers_of(
    state: &SdfDeployState,
    r: &crate::store::sdf_deploy::SdfDeploymentRow,
) -> Answer<serde_json::Map<String, serde_json::Value>> {
    Ok(state
        .hoe
        .sealer
        .open_json(&answers_place(&r.uuid), &r.answers_sealed)?)
}

pub(crate) async fn view(
    state: &SdfDeployState,
    ctx: &ProjectCtx,
    uuid: &str,
) -> Answer<DeploymentView> {
    let r = row(state, ctx, uuid).await?;
    let (app, _) = load_app(state.catalog.as_ref(), &r.app).await?;
    let answers = answers_of(state, &r)?;
    let form_state = app.form.evaluate(&input_of(&app.form, &answers)?);
    let variables = yaml_to_json(&Yaml::Mapping(app.form.variables_yaml(&form_state, true)))?;
    let key = app
        .deployment_progress
        .get("vm-key")
        .cloned()
        .unwrap_or_else(|| "deployment-progress".into());
    let progress = state
        .sdf
        .read_key(&r.uuid, &key)
        .await?
        .unwrap_or(serde_json::Value::Null);
    let object = state.hoe.object(ctx, &r.uuid, false).await?;
    Ok(DeploymentView {
        uuid: r.uuid,
        app: r.app,
        mode: r.mode,
        status: object.status.clone(),
        progress,
        variables,
        object,
    })
}

async fn show(
    State(state): State<SdfDeployState>,
    headers: HeaderMap,
    Path(uuid): Path<String>,
) -> Answer<Json<DeploymentView>> {
    let ctx = project(&state, &headers).await?;
    Ok(Json(view(&state, &ctx, &uuid).await?))
}

/// A change after deployment: only volatile variables may change; they are written into the
/// VM's KV store, where its reader picks them up.
async fn change(
    State(state): State<SdfDeployState>,
    headers: HeaderMap,
    Path(uuid): Path<String>,
    body: Bytes,
) -> Answer<Json<DeploymentView>> {
    let ctx = project(&state, &headers).await?;
    let req: ChangeDeployment = json_body(&body)?;
    let r = row(&state, &ctx, &uuid).await?;
    let (app, manifest_text) = load_app(state.catalog.as_ref(), &r.app).await?;
    let mut answers = answers_of(&state, &r)?;
    let deployed = app.form.evaluate(&input_of(&app.form, &answers)?);
    for (k, v) in &req.values {
        answers.insert(k.clone(), v.clone());
    }
    let next = app
        .form
        .check_update(&deployed, &input_of(&app.form, &answers)?)
        .map_err(DeployError::Refused)?;
    if app.mode == Mode::Raw {
        let changed = app
            .form
            .variables
            .iter()
            .zip(deployed.fields.iter().zip(&next.fields))
            .any(|(_, (a, b))| !a.value.same(&b.value));
        if changed {
            return Err(DeployError::Refused(vec![Refusal {
                variable: req.values.keys().cloned().collect::<Vec<_>>().join(", "),
                reason: format!(
                    "`{}` runs in `raw` mode: its configuration is in USERDATA, which a running VM does not read again; deploy it anew",
                    app.id
                ),
            }]));
        }
    }
    let sealed = state
        .hoe
        .sealer
        .seal_json(&answers_place(&r.uuid), &answers)?;
    state
        .sdf
        .service
        .store
        .sdf_deployment_set_answers(ctx.id(), &r.uuid, &sealed)
        .await?;
    if app.mode != Mode::Raw {
        let config = deployment_info(&app, Some(&manifest_text), &next, &[], false);
        state
            .sdf
            .write_config(&r.uuid, &yaml_to_json(&config)?)
            .await?;
    }
    Ok(Json(view(&state, &ctx, &r.uuid).await?))
}

async fn remove(
    State(state): State<SdfDeployState>,
    headers: HeaderMap,
    Path(uuid): Path<String>,
) -> Answer<Response> {
    let ctx = project(&state, &headers).await?;
    let r = row(&state, &ctx, &uuid).await?;
    let object = state.hoe.delete_object(&ctx, &r.uuid).await?;
    // The VM's credentials stop working now; the VM itself goes with the deployment.
    state.sdf.remove(&r.uuid).await?;
    state
        .sdf
        .service
        .store
        .sdf_deployment_delete(ctx.id(), &r.uuid)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(object)).into_response())
}
