//! The OpenAPI document served at `/api/openapi.json` (and committed as `docs/openapi.json`; a
//! test fails when it is stale). Each area of the server gives its paths and schemas through
//! one function pair, listed in [`areas`]; add yours there.

use serde_json::{json, Map, Value};

/// One area's part of the document: `paths` and `components.schemas` objects.
pub struct Area {
    pub paths: Value,
    pub schemas: Value,
}

/// Every area of the server's JSON APIs.
pub fn areas() -> Vec<Area> {
    vec![
        Area {
            paths: system_paths(),
            schemas: json!({}),
        },
        Area {
            paths: config_service_paths(),
            schemas: json!({}),
        },
        Area {
            paths: crate::products_http::openapi_paths(),
            schemas: crate::products_http::openapi_schemas(),
        },
        Area {
            paths: crate::osb::openapi::paths(),
            schemas: crate::osb::openapi::schemas(),
        },
        Area {
            paths: crate::hoe::openapi::paths(),
            schemas: crate::hoe::openapi::schemas(),
        },
        Area {
            paths: crate::sdf::openapi_paths(),
            schemas: json!({}),
        },
        Area {
            paths: crate::sdf_deploy::openapi_paths(),
            schemas: crate::sdf_deploy::openapi_schemas(),
        },
    ]
}

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    schemas.insert(
        "Error".into(),
        json!({"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}),
    );
    for area in areas() {
        if let Value::Object(p) = area.paths {
            for (k, v) in p {
                match (paths.get_mut(&k), v) {
                    (Some(Value::Object(existing)), Value::Object(more)) => existing.extend(more),
                    (_, v) => {
                        paths.insert(k, v);
                    }
                }
            }
        }
        if let Value::Object(s) = area.schemas {
            schemas.extend(s);
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "vitrina server",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The JSON APIs of `vitrina serve`: the product API and deployment system on VK's paths (`/marketplace/api/infra-api/api/v1-public`), the Open Service Broker API (`/v2`), the config service of the `ivkcs` provider and the in-VM agents. The built-in cloud under `/cloud` speaks OpenStack's APIs and is not described here."
        },
        "paths": Value::Object(paths),
        "components": {
            "schemas": Value::Object(schemas),
            "securitySchemes": {
                "serviceToken": {"type": "apiKey", "in": "header", "name": "x-service-token", "description": "a vendor's service token"},
                "authToken": {"type": "apiKey", "in": "header", "name": "x-auth-token", "description": "a consumer project's API token, or a Keystone token of its built-in cloud project"},
                "brokerBasic": {"type": "http", "scheme": "basic", "description": "a broker account bound to the public or test namespace"},
                "engineToken": {"type": "http", "scheme": "bearer", "description": "the engine's token (`DATA/config-token`)"},
                "agentToken": {"type": "http", "scheme": "bearer", "description": "an agent's token, bound to one deployment and host"},
                "kvBearer": {"type": "http", "scheme": "bearer", "description": "a VM-SDF KV credential: the VM's own (read and write) or its owner's (read)"},
                "monitoringBasic": {"type": "http", "scheme": "basic", "description": "a deployment's monitoring user (or InfluxDB's `u`/`p` query parameters)"}
            }
        }
    })
}

/// The document as committed: pretty JSON with a final newline.
pub fn document_text() -> String {
    let mut s = serde_json::to_string_pretty(&document()).unwrap_or_default();
    s.push('\n');
    s
}

fn system_paths() -> Value {
    json!({
        "/healthz": {"get": {"operationId": "healthz", "tags": ["system"], "summary": "200 once the server answers",
            "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {
                "type": "object", "properties": {"status": {"const": "ok"}}}}}}}}},
        "/metrics": {"get": {"operationId": "metrics", "tags": ["system"], "summary": "Prometheus text: HTTP latency by route, the areas' counts",
            "responses": {"200": {"description": "metrics", "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
        "/api/openapi.json": {"get": {"operationId": "openapi", "tags": ["system"], "summary": "This document",
            "responses": {"200": {"description": "the OpenAPI document", "content": {"application/json": {"schema": {"type": "object"}}}}}}}
    })
}

/// An operation of the config service (wire types in the `agent-api` room).
fn op(id: &str, summary: &str, who: &str, body: bool, ok: &str) -> Value {
    let mut o = json!({
        "operationId": id, "tags": ["config-service"], "summary": summary,
        "security": [{ who: [] }],
        "responses": {ok: {"description": "ok"},
            "400": {"description": "invalid", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            "401": {"description": "unauthenticated", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            "404": {"description": "not found", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}
    });
    if body {
        o["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"type": "object"}}}});
    }
    o
}

fn config_service_paths() -> Value {
    let e = "engineToken";
    let a = "agentToken";
    json!({
        "/config/v1/deployments/{d}/hosts/{h}/agent": {"put": op("agent_credentials", "Create or read a host's agent credentials", e, false, "200")},
        "/config/v1/deployments/{d}/hosts/{h}": {"get": op("host_view", "A host's registration, status and failure", e, false, "200")},
        "/config/v1/deployments/{d}/groups/{name}": {
            "put": op("put_exec_group", "Store an exec group (steps for hosts)", e, true, "200"),
            "delete": op("delete_exec_group", "Delete an exec group", e, false, "204")},
        "/config/v1/deployments/{d}/groups/{name}/results": {"get": op("exec_group_results", "Step results of a group", e, false, "200")},
        "/config/v1/deployments/{d}/hosts/{h}/groups/{name}/steps/{index}": {"get": op("step_result", "One step's result on one host", e, false, "200")},
        "/config/v1/deployments/{d}/checks/{name}": {
            "put": op("put_check_set", "Store a check set", e, true, "200"),
            "delete": op("delete_check_set", "Delete a check set", e, false, "204")},
        "/config/v1/deployments/{d}/checks/{name}/results": {"get": op("check_results", "Check results", e, false, "200")},
        "/agent/v1/register": {"post": op("agent_register", "An agent registers", a, true, "200")},
        "/agent/v1/heartbeat": {"post": op("agent_heartbeat", "An agent's heartbeat", a, true, "204")},
        "/agent/v1/work": {"get": op("agent_work", "Long-polled work of the agent's host", a, false, "200")},
        "/agent/v1/results": {"post": op("agent_report_step", "A step's result", a, true, "204")},
        "/agent/v1/checks": {"post": op("agent_report_check", "A check's result", a, true, "204")},
        "/agent/v1/download": {"get": op("agent_download", "The agent binary", a, false, "200")},
        "/config/v1/s3/{name}": {
            "put": op("put_s3_bucket", "Create a bucket and its access keys on the built-in object store (`ivkcs_s3`)", e, true, "200"),
            "delete": op("delete_s3_bucket", "Delete a bucket made by `ivkcs_s3`", e, false, "204")},
        "/config/v1/dns/{fqdn}": {
            "put": op("put_dns_record", "Create or change a DNS record (`ivkcs_dns`)", e, true, "200"),
            "delete": op("delete_dns_record", "Delete a DNS record made by `ivkcs_dns`", e, false, "204")},
        "/config/v1/monitoring-user": {"get": op("monitoring_user", "A deployment's monitoring user (`ivkcs_monitoring_user`)", e, false, "200")},
        "/config/v1/metrics": {"get": op("metrics_points", "The latest metric points a deployment's VMs sent", e, false, "200")},
        "/metrics/v1/write": {"post": {
            "operationId": "metrics_write", "tags": ["config-service"],
            "summary": "InfluxDB line protocol from the VMs' Telegraf (gzip or plain)",
            "security": [{"monitoringBasic": []}],
            "requestBody": {"required": true, "content": {"text/plain": {"schema": {"type": "string"}}}},
            "responses": {"204": {"description": "stored"},
                "400": {"description": "invalid", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "401": {"description": "unauthenticated", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}}}
    })
}
