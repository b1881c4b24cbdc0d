//! The deployment system's part of the OpenAPI document: VK's paths (configs, objects, logs)
//! and vitrina's plan preview.

use serde_json::{json, Value};

use super::http::PREFIX;
use super::{MAX_ATTEMPTS, MAX_CONFIG_BYTES, MAX_CONFIG_FILES, MAX_LOG_LINES, SENSITIVE};

fn err(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn object_ok(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HoeObject"}}}})
}

fn uuid_param() -> Value {
    json!({"name": "uuid", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}})
}

fn name_param() -> Value {
    json!({"name": "name", "in": "path", "required": true, "description": "the config's name", "schema": {"type": "string"}})
}

fn put_config(id: &str, note: &str) -> Value {
    json!({
        "operationId": id, "tags": ["hoe"],
        "summary": format!("Store a new version of a config (the manifest as the body){note}"),
        "security": [{"authToken": []}],
        "parameters": [name_param()],
        "requestBody": {"required": true, "content": {"text/plain": {"schema": {"type": "string",
            "maxLength": MAX_CONFIG_BYTES, "description": "a Terraform manifest"}}}},
        "responses": {
            "201": {"description": "stored", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HoeConfigVersion"}}}},
            "400": {"description": "the manifest's diagnostics, or an invalid name", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HoeDiagnostics"}}}},
            "401": err("unauthenticated"), "413": err("too large")}
    })
}

fn get_config(id: &str, note: &str) -> Value {
    json!({
        "operationId": id, "tags": ["hoe"],
        "summary": format!("The newest version of a config, as text{note}"),
        "security": [{"authToken": []}],
        "parameters": [name_param()],
        "responses": {
            "200": {"description": "the manifest", "content": {"text/plain": {"schema": {"type": "string"}}}},
            "401": err("unauthenticated"), "404": err("no such config")}
    })
}

fn create_object(id: &str, note: &str) -> Value {
    json!({
        "operationId": id, "tags": ["hoe"],
        "summary": format!("Create an object (a deployment); its workers deploy it{note}"),
        "security": [{"authToken": []}],
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HoeCreateObject"}}}},
        "responses": {
            "201": object_ok("created; `status` is `applying`"),
            "400": {"description": "invalid request or manifest diagnostics", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HoeDiagnostics"}}}},
            "401": err("unauthenticated"), "404": err("no such config"), "409": err("the uuid exists")}
    })
}

/// `paths` of the deployment system.
pub fn paths() -> Value {
    let auth = json!([{"authToken": []}]);
    let seed = " (the seed's spelling `hoec`)";
    json!({
        format!("{PREFIX}/hoe/config/{{name}}"): {
            "post": put_config("hoe_put_config", ""),
            "get": get_config("hoe_get_config", "")
        },
        format!("{PREFIX}/hoec/config/{{name}}"): {
            "post": put_config("hoec_put_config", seed),
            "get": get_config("hoec_get_config", seed)
        },
        format!("{PREFIX}/hoe/object"): {"post": create_object("hoe_create_object", "")},
        format!("{PREFIX}/hoec/object"): {"post": create_object("hoec_create_object", seed)},
        format!("{PREFIX}/hoe/object/{{uuid}}"): {
            "get": {
                "operationId": "hoe_get_object", "tags": ["hoe"],
                "summary": format!("An object: status, attempts, recoveries; sensitive outputs read `{SENSITIVE}` unless revealed (each reveal is audited)"),
                "security": auth,
                "parameters": [uuid_param(),
                    {"name": "show_sensitive", "in": "query", "required": false,
                     "schema": {"type": "string", "enum": ["true", "1", "yes", "false"]},
                     "description": "reveal sensitive outputs and variables"}],
                "responses": {"200": object_ok("the object"), "401": err("unauthenticated"), "404": err("not found (or another project's)")}
            },
            "put": {
                "operationId": "hoe_update_object", "tags": ["hoe"],
                "summary": "Change the variables (or the config: an upgrade); only changed resources change",
                "security": auth,
                "parameters": [uuid_param()],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HoeUpdateObject"}}}},
                "responses": {"202": object_ok("the update started"),
                    "400": {"description": "invalid request or manifest diagnostics", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HoeDiagnostics"}}}},
                    "401": err("unauthenticated"), "404": err("not found"), "409": err("deleted, or the product is archived")}
            },
            "delete": {
                "operationId": "hoe_delete_object", "tags": ["hoe"],
                "summary": "Delete an object: its workers destroy every resource",
                "security": auth,
                "parameters": [uuid_param()],
                "responses": {"201": object_ok("the deletion started"), "401": err("unauthenticated"), "404": err("not found")}
            }
        },
        format!("{PREFIX}/hoe/object/{{uuid}}/plan"): {
            "post": {
                "operationId": "hoe_plan_preview", "tags": ["hoe"],
                "summary": "Plan an update without running it (beyond VK): the planned changes with their actions and reasons",
                "security": auth,
                "parameters": [uuid_param()],
                "requestBody": {"required": false, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HoeUpdateObject"}}}},
                "responses": {
                    "200": {"description": "the plan", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HoePlan"}}}},
                    "400": {"description": "invalid variables or manifest diagnostics", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HoeDiagnostics"}}}},
                    "401": err("unauthenticated"), "404": err("not found"), "503": err("the cloud did not answer; try again")}
            }
        },
        format!("{PREFIX}/logs/instance/{{uuid}}"): {
            "get": {
                "operationId": "hoe_logs", "tags": ["hoe"],
                "summary": format!("The object's log lines (engine progress, agent step results, recoveries), oldest first, at most {MAX_LOG_LINES}; secrets read `{SENSITIVE}`"),
                "security": auth,
                "parameters": [uuid_param()],
                "responses": {
                    "200": {"description": "log lines", "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/HoeLogLine"}}}}},
                    "401": err("unauthenticated"), "404": err("not found")}
            }
        }
    })
}

/// `components.schemas` of the deployment system.
pub fn schemas() -> Value {
    let files = json!({"type": "object", "maxProperties": MAX_CONFIG_FILES,
        "additionalProperties": {"type": "string"},
        "description": "the manifest folder: file name → text (`*.tf`, optional `settings.yaml` whose `retry: no` turns retries off)"});
    json!({
        "HoeConfigVersion": {"type": "object", "required": ["name", "version", "hash"], "properties": {
            "name": {"type": "string"}, "version": {"type": "integer"}, "hash": {"type": "string"}}},
        "HoeDiagnostics": {"type": "object", "properties": {
            "error": {"type": "string"},
            "diagnostics": {"type": "array", "items": {"type": "object"}, "description": "file:line:col diagnostics"}}},
        "HoeCreateObject": {"type": "object", "required": ["uuid"], "properties": {
            "uuid": {"type": "string", "format": "uuid"},
            "config": {"type": "string", "description": "a config's name (its newest version)"},
            "files": files,
            "vars": {"type": "object", "description": "the manifest's variables; `instance_uuid` (and `email`) are set by the deployment system"}}},
        "HoeUpdateObject": {"type": "object", "properties": {
            "vars": {"type": "object", "description": "new variables (missing: keep the current ones)"},
            "config": {"type": "string", "description": "move to another config (an upgrade)"},
            "files": files}},
        "HoeRecovery": {"type": "object", "required": ["host", "reason", "started_at"], "properties": {
            "host": {"type": "string"}, "reason": {"type": "string"}, "started_at": {"type": "string"},
            "started_ms": {"type": "integer"},
            "result": {"type": ["string", "null"], "enum": ["replaced", "failed", "gave up", null]},
            "finished_ms": {"type": ["integer", "null"]}}},
        "HoeObject": {"type": "object", "required": ["uuid", "target_status", "vars", "out", "status", "attempts", "max_attempts", "full_deployed"], "properties": {
            "uuid": {"type": "string"},
            "target_status": {"type": "string", "enum": ["running", "deleted"]},
            "vars": {"type": "object", "description": format!("the variables; sensitive ones read `{SENSITIVE}` unless revealed")},
            "out": {"type": "string", "description": format!("the outputs as a JSON string; sensitive ones read `{SENSITIVE}` unless revealed")},
            "status": {"type": "string", "enum": ["applying", "running", "failed", "deleted"]},
            "conf_name": {"type": "string", "description": "the project's email"},
            "conf_hash": {"type": "string"},
            "pid": {"type": "string", "description": "the project's id in its cloud"},
            "create_at": {"type": "string"}, "update_at": {"type": "string"},
            "full_deployed": {"type": "boolean"},
            "attempts": {"type": "integer"},
            "max_attempts": {"type": "integer", "default": MAX_ATTEMPTS},
            "config": {"type": "string"}, "config_version": {"type": "integer"},
            "retry": {"type": "boolean"},
            "last_error": {"type": ["string", "null"]},
            "recovering": {"type": ["string", "null"], "description": "the host being replaced right now"},
            "recoveries": {"type": "array", "items": {"$ref": "#/components/schemas/HoeRecovery"}}}},
        "HoePlan": {"type": "object", "properties": {
            "uuid": {"type": "string"},
            "summary": {"type": "object", "properties": {"add": {"type": "integer"}, "change": {"type": "integer"}, "destroy": {"type": "integer"}}},
            "mode": {"type": "string"},
            "moved": {"type": "array", "items": {"type": "object", "properties": {"from": {"type": "string"}, "to": {"type": "string"}}}},
            "changes": {"type": "array", "items": {"type": "object", "required": ["address", "action", "reasons"], "properties": {
                "address": {"type": "string"},
                "action": {"type": "string", "description": "`create`, `update`, `replace`, `delete`, `read`, `no-op`"},
                "reasons": {"type": "array", "items": {}},
                "deposed": {"type": "string"}}}},
            "outputs": {"type": "object", "additionalProperties": {"type": "object", "properties": {
                "action": {"type": "string"}, "value": {"description": "null when sensitive or not known yet"},
                "sensitive": {"type": "boolean"}, "known": {"type": "boolean"}}}}}},
        "HoeLogLine": {"type": "object", "required": ["message", "src", "level", "created_at", "uuid"], "properties": {
            "message": {"type": "string"}, "src": {"type": "string", "description": "`engine`, `agent` or `hoe`"},
            "level": {"type": "string"}, "created_at": {"type": "string"}, "uuid": {"type": "string"}}}
    })
}
