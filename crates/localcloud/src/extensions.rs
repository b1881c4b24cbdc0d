//! Nova's and Cinder's `GET /extensions`: the API extensions of the features localcloud has,
//! with the names and aliases the services list them under (`openstack extension list`).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::error::{ApiResult, Service};
use crate::AppState;

/// Nova v2.1 extensions (name, alias) of what localcloud implements.
const NOVA: &[(&str, &str)] = &[
    ("Aggregates", "os-aggregates"),
    ("AvailabilityZone", "os-availability-zone"),
    ("ConsoleOutput", "os-console-output"),
    ("ExtendedAvailabilityZone", "OS-EXT-AZ"),
    ("ExtendedStatus", "OS-EXT-STS"),
    ("ExtendedVolumes", "os-extended-volumes"),
    ("FlavorAccess", "os-flavor-access"),
    ("FlavorExtraSpecs", "os-flavor-extra-specs"),
    ("FlavorManage", "os-flavor-manage"),
    ("FlavorRxtx", "os-flavor-rxtx"),
    ("Flavors", "flavors"),
    ("Hosts", "os-hosts"),
    ("Hypervisors", "os-hypervisors"),
    ("ImageSize", "OS-EXT-IMG-SIZE"),
    ("Images", "images"),
    ("InstanceActions", "os-instance-actions"),
    ("Keypairs", "os-keypairs"),
    ("Limits", "limits"),
    ("Migrations", "os-migrations"),
    ("PauseServer", "os-pause-server"),
    ("QuotaClasses", "os-quota-class-sets"),
    ("Quotas", "os-quota-sets"),
    ("Rescue", "os-rescue"),
    ("ServerDiagnostics", "os-server-diagnostics"),
    ("ServerGroups", "os-server-groups"),
    ("ServerMetadata", "server-metadata"),
    ("SecurityGroups", "os-security-groups"),
    ("Servers", "servers"),
    ("ServerLocking", "os-lock-server"),
    ("ServerStartStop", "os-server-start-stop"),
    ("SuspendServer", "os-suspend-server"),
    ("VolumeAttachments", "os-volume-attachments"),
];

/// Cinder v3 extensions (name, alias) of what localcloud implements.
const CINDER: &[(&str, &str)] = &[
    ("AvailabilityZones", "os-availability-zone"),
    ("QoSSpecs", "qos-specs"),
    ("QuotaClasses", "os-quota-class-sets"),
    ("Quotas", "os-quota-sets"),
    ("Services", "os-services"),
    ("TypesManage", "os-types-manage"),
    ("TypesExtraSpecs", "os-types-extra-specs"),
    ("VolumeActions", "os-volume-actions"),
    ("VolumeImageMetadata", "os-vol-image-meta"),
    ("VolumeTenantAttribute", "os-vol-tenant-attr"),
    ("VolumeTransfer", "os-volume-transfer"),
    ("VolumeTypeAccess", "os-volume-type-access"),
];

fn list(items: &[(&str, &str)]) -> Value {
    let exts: Vec<Value> = items
        .iter()
        .map(|(name, alias)| {
            json!({"name": name, "alias": alias, "description": format!("{name} support."),
                   "namespace": format!("http://docs.openstack.org/compute/ext/{alias}/api/v2.1"),
                   "updated": "2014-12-03T00:00:00Z", "links": []})
        })
        .collect();
    json!({ "extensions": exts })
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/compute/v2.1/extensions", get(nova))
        .route("/volume/v3/{project}/extensions", get(cinder))
}

async fn nova(State(c): State<AppState>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    c.auth(&headers, Service::Compute)?;
    Ok(Json(list(NOVA)))
}

async fn cinder(
    State(c): State<AppState>,
    headers: HeaderMap,
    axum::extract::Path(project): axum::extract::Path<String>,
) -> ApiResult<Json<Value>> {
    crate::cinder::ctx(&c, &headers, &project)?;
    Ok(Json(list(CINDER)))
}
