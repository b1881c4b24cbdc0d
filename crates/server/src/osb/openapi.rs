//! The broker's part of the OpenAPI document (`/api/openapi.json`).

use serde_json::{json, Value};

fn op(
    id: &str,
    summary: &str,
    params: &[&str],
    body: Option<&str>,
    answers: &[(&str, &str)],
) -> Value {
    let mut parameters = vec![json!({
        "name": "X-Broker-API-Version", "in": "header", "required": true,
        "schema": {"type": "string", "example": "2.17"},
        "description": "2.13 to 2.17; anything else (or nothing) is 412"
    })];
    for p in params {
        let (name, place, required) = match *p {
            "iid" => ("instance_id", "path", true),
            "bid" => ("binding_id", "path", true),
            "accepts_incomplete" => ("accepts_incomplete", "query", false),
            "service_id!" => ("service_id", "query", true),
            "plan_id!" => ("plan_id", "query", true),
            "service_id" => ("service_id", "query", false),
            "plan_id" => ("plan_id", "query", false),
            "operation" => ("operation", "query", false),
            other => (other, "query", false),
        };
        parameters.push(
            json!({"name": name, "in": place, "required": required, "schema": {"type": "string"}}),
        );
    }
    let mut responses = serde_json::Map::new();
    for (code, text) in answers {
        let schema = if code.starts_with('2') {
            json!({"type": "object"})
        } else {
            json!({"$ref": "#/components/schemas/OsbError"})
        };
        responses.insert(
            (*code).to_owned(),
            json!({"description": text, "content": {"application/json": {"schema": schema}}}),
        );
    }
    responses.insert(
        "401".into(),
        json!({"description": "no or wrong broker credentials"}),
    );
    responses.insert(
        "412".into(),
        json!({"description": "missing or unsupported X-Broker-API-Version"}),
    );
    let mut out = json!({
        "operationId": id,
        "summary": summary,
        "tags": ["osb"],
        "security": [{"brokerBasic": []}],
        "parameters": parameters,
        "responses": responses,
    });
    if let Some(b) = body {
        out["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"type": "object", "description": b}}}});
    }
    out
}

/// `paths` of the Open Service Broker API.
pub fn paths() -> Value {
    json!({
        "/v2/catalog": {
            "get": op("osbCatalog", "The service offerings of the account's namespace", &[], None,
                      &[("200", "`{\"services\":[…]}`")]),
        },
        "/v2/service_instances/{instance_id}": {
            "put": op("osbProvision", "Provision (asynchronous)", &["iid", "accepts_incomplete"],
                      Some("service_id, plan_id, organization_guid, space_guid, context {project_id, email}, parameters, maintenance_info"),
                      &[("200", "exists with the same attributes"), ("202", "`{\"operation\"}`"), ("400", "malformed, unknown ids, invalid parameters"), ("409", "exists with other attributes"), ("422", "AsyncRequired, MaintenanceInfoConflict")]),
            "get": op("osbFetchInstance", "The instance", &["iid", "service_id", "plan_id"], None,
                      &[("200", "service_id, plan_id, parameters, maintenance_info"), ("404", "unknown or still provisioning"), ("422", "ConcurrencyError while updating")]),
            "patch": op("osbUpdate", "Update parameters, plan or revision (asynchronous)", &["iid", "accepts_incomplete"],
                        Some("service_id, plan_id, parameters, maintenance_info, previous_values"),
                        &[("200", "nothing to change"), ("202", "`{\"operation\"}`"), ("400", "malformed or invalid parameters"), ("404", "unknown instance"), ("422", "AsyncRequired, MaintenanceInfoConflict, ConcurrencyError, UpgradeRefused, PlanChangeNotSupported, ServiceArchived")]),
            "delete": op("osbDeprovision", "Deprovision (asynchronous)", &["iid", "service_id!", "plan_id!", "accepts_incomplete"], None,
                         &[("200", "`{}`"), ("202", "`{\"operation\"}`"), ("400", "service_id or plan_id missing"), ("410", "`{}`: no such instance"), ("422", "AsyncRequired")]),
        },
        "/v2/service_instances/{instance_id}/last_operation": {
            "get": op("osbLastOperation", "The state of the instance's latest operation", &["iid", "service_id", "plan_id", "operation"], None,
                      &[("200", "`{\"state\",\"description\"}` (Retry-After while in progress)"), ("404", "unknown instance")]),
        },
        "/v2/service_instances/{instance_id}/service_bindings/{binding_id}": {
            "put": op("osbBind", "Bind (synchronous): the deployment's outputs as credentials", &["iid", "bid", "accepts_incomplete"],
                      Some("service_id, plan_id, app_guid, bind_resource, parameters"),
                      &[("200", "exists with the same attributes"), ("201", "`{\"credentials\"}`"), ("400", "malformed"), ("404", "unknown instance"), ("409", "exists with other attributes"), ("422", "ConcurrencyError")]),
            "get": op("osbFetchBinding", "The binding", &["iid", "bid", "service_id", "plan_id"], None,
                      &[("200", "`{\"credentials\"}`"), ("404", "unknown binding")]),
            "delete": op("osbUnbind", "Unbind (synchronous)", &["iid", "bid", "service_id!", "plan_id!", "accepts_incomplete"], None,
                         &[("200", "`{}`"), ("400", "service_id or plan_id missing"), ("410", "`{}`: no such binding")]),
        },
        "/v2/service_instances/{instance_id}/service_bindings/{binding_id}/last_operation": {
            "get": op("osbBindingLastOperation", "The state of the binding's latest operation", &["iid", "bid", "service_id", "plan_id", "operation"], None,
                      &[("200", "`{\"state\",\"description\"}`"), ("404", "unknown binding")]),
        },
    })
}

/// `components.schemas` of the broker.
pub fn schemas() -> Value {
    json!({
        "OsbError": {
            "type": "object",
            "properties": {
                "error": {"type": "string", "description": "AsyncRequired, ConcurrencyError, MaintenanceInfoConflict, …"},
                "description": {"type": "string"},
                "instance_usable": {"type": "boolean"},
                "update_repeatable": {"type": "boolean"}
            }
        }
    })
}
