//! Request bodies: parsed as JSON, checked against a small schema of the top-level object
//! (unknown fields, missing required fields, wrong JSON types) so that each service answers bad
//! input with its own 400 message, then deserialized into a typed request. Never panics.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult, Service};

/// Largest JSON body accepted (image data goes through its own streaming path).
pub const MAX_JSON_BODY: usize = 1 << 20;

/// The JSON type a field must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Str,
    /// A string or `null`.
    OptStr,
    Int,
    /// An integer or a string holding one (Nova and Cinder accept both).
    IntLike,
    Bool,
    /// A boolean or a string `"true"`/`"false"` (Neutron and Cinder accept both).
    BoolLike,
    Obj,
    Arr,
    Any,
}

#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub ty: Ty,
    pub required: bool,
}

pub const fn req(name: &'static str, ty: Ty) -> Field {
    Field {
        name,
        ty,
        required: true,
    }
}
pub const fn opt(name: &'static str, ty: Ty) -> Field {
    Field {
        name,
        ty,
        required: false,
    }
}

/// The schema of a request: `{"<wrapper>": {fields…}}`.
#[derive(Debug, Clone, Copy)]
pub struct Schema {
    pub service: Service,
    /// The single top-level key (`server`, `network`…); `None` when the fields sit at the top.
    pub wrapper: Option<&'static str>,
    pub fields: &'static [Field],
    /// Whether unknown fields are tolerated (Glance custom properties, Keystone auth).
    pub additional: bool,
    /// Other top-level keys tolerated next to the wrapper (`os:scheduler_hints`).
    pub siblings: &'static [&'static str],
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn matches(ty: Ty, v: &Value) -> bool {
    match ty {
        Ty::Str => v.is_string(),
        Ty::OptStr => v.is_string() || v.is_null(),
        Ty::Int => v.is_i64() || v.is_u64(),
        Ty::IntLike => {
            v.is_i64() || v.is_u64() || v.as_str().is_some_and(|s| s.trim().parse::<i64>().is_ok())
        }
        Ty::Bool => v.is_boolean(),
        Ty::BoolLike => {
            v.is_boolean()
                || v.as_str().is_some_and(|s| {
                    matches!(
                        s.to_ascii_lowercase().as_str(),
                        "true" | "false" | "1" | "0" | "yes" | "no"
                    )
                })
        }
        Ty::Obj => v.is_object(),
        Ty::Arr => v.is_array(),
        Ty::Any => true,
    }
}

fn expected(ty: Ty) -> &'static str {
    match ty {
        Ty::Str => "string",
        Ty::OptStr => "string, null",
        Ty::Int | Ty::IntLike => "integer",
        Ty::Bool | Ty::BoolLike => "boolean",
        Ty::Obj => "object",
        Ty::Arr => "array",
        Ty::Any => "any",
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 200 {
        let mut end = 200;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &s[..end])
    } else {
        s
    }
}

/// Parses raw bytes as a JSON value with the service's "malformed" message.
pub fn parse_json(service: Service, bytes: &[u8]) -> ApiResult<Value> {
    if bytes.len() > MAX_JSON_BODY {
        return Err(ApiError::new(
            service,
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "Request is too large.",
        ));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            service,
            match service {
                Service::Network => "Body contains invalid data".to_owned(),
                _ => "The request body is empty or malformed.".to_owned(),
            },
        ));
    }
    let v: Value = serde_json::from_slice(bytes).map_err(|e| {
        let msg = match service {
            Service::Network => "Malformed request body".to_owned(),
            Service::Identity => format!("Expecting to find valid JSON in request body: {e}"),
            Service::Image => "Malformed JSON in request body.".to_owned(),
            _ => format!("Malformed request body: {e}"),
        };
        ApiError::bad_request(service, msg)
    })?;
    // I5: no service stores a NUL character in a name, description or key; refuse it here
    // instead of failing later (a server name with NUL went to ERROR).
    if has_nul(&v) {
        return Err(ApiError::bad_request(
            service,
            "Invalid input: strings may not contain the NUL character (\\u0000).",
        ));
    }
    Ok(v)
}

/// Whether any string or key of a JSON value holds a NUL character.
fn has_nul(v: &Value) -> bool {
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            Value::String(s) if s.contains('\0') => return true,
            Value::Array(a) => stack.extend(a),
            Value::Object(m) => {
                if m.keys().any(|k| k.contains('\0')) {
                    return true;
                }
                stack.extend(m.values());
            }
            _ => {}
        }
    }
    false
}

/// Checks `value` against `schema` and returns the object inside the wrapper.
pub fn check(schema: &Schema, value: Value) -> ApiResult<Map<String, Value>> {
    let service = schema.service;
    let outer = match value {
        Value::Object(m) => m,
        other => {
            return Err(ApiError::bad_request(
                service,
                match service {
                    Service::Network => format!("Body contains invalid data: {}", short(&other)),
                    _ => format!(
                    "Invalid input for field/attribute body. Value: {}. {} is not of type 'object'",
                    short(&other),
                    short(&other)
                ),
                },
            ))
        }
    };
    let inner = match schema.wrapper {
        None => outer,
        Some(w) => {
            for k in outer.keys() {
                if k != w && !schema.siblings.contains(&k.as_str()) {
                    return Err(unknown(schema, w, &Value::Object(outer.clone()), k));
                }
            }
            let whole = Value::Object(outer.clone());
            let mut outer = outer;
            match outer.remove(w) {
                Some(Value::Object(m)) => m,
                Some(other) => {
                    return Err(ApiError::bad_request(service, match service {
                        Service::Network => format!("Invalid input for {w}. Reason: {} is not a valid dictionary.", short(&other)),
                        _ => format!("Invalid input for field/attribute {w}. Value: {}. {} is not of type 'object'", short(&other), short(&other)),
                    }))
                }
                None => {
                    return Err(ApiError::bad_request(service, match service {
                        Service::Network => "Resource body required".to_string(),
                        Service::Identity => format!("Invalid input for field '{w}': '{w}' is a required property"),
                        _ => format!("Invalid input for field/attribute body. Value: {}. '{w}' is a required property", short(&whole)),
                    }))
                }
            }
        }
    };
    let whole = Value::Object(inner.clone());
    if !schema.additional {
        for k in inner.keys() {
            if !schema.fields.iter().any(|f| f.name == k) {
                return Err(unknown(schema, schema.wrapper.unwrap_or("body"), &whole, k));
            }
        }
    }
    for f in schema.fields {
        match inner.get(f.name) {
            None if f.required => {
                let w = schema.wrapper.unwrap_or("body");
                return Err(ApiError::bad_request(service, match service {
                    Service::Network => format!("Failed to parse request. Required attribute '{}' not specified", f.name),
                    Service::Identity => format!("Invalid input for field '{w}': '{}' is a required property", f.name),
                    Service::Image => format!("Invalid input: '{}' is a required property", f.name),
                    _ => format!("Invalid input for field/attribute {w}. Value: {}. '{}' is a required property", short(&whole), f.name),
                }));
            }
            Some(v) if !matches(f.ty, v) => {
                return Err(ApiError::bad_request(service, match service {
                    Service::Network => format!("Invalid input for {}. Reason: '{}' is not a valid {}.", f.name, short(v), expected(f.ty)),
                    Service::Identity => format!("Invalid input for field '{}': {} is not of type '{}'", f.name, short(v), expected(f.ty)),
                    Service::Image => format!("Invalid value for '{}': {} is not of type '{}' (got {})", f.name, short(v), expected(f.ty), type_name(v)),
                    _ => format!("Invalid input for field/attribute {}. Value: {}. {} is not of type '{}'", f.name, short(v), short(v), expected(f.ty)),
                }));
            }
            _ => {}
        }
    }
    Ok(inner)
}

fn unknown(schema: &Schema, wrapper: &str, whole: &Value, key: &str) -> ApiError {
    let service = schema.service;
    ApiError::bad_request(service, match service {
        Service::Network => format!("Unrecognized attribute(s) '{key}'"),
        Service::Identity => format!("Invalid input for field '{wrapper}': Additional properties are not allowed ('{key}' was unexpected)"),
        Service::Image => format!("Attribute '{key}' is not allowed"),
        _ => format!("Invalid input for field/attribute {wrapper}. Value: {}. Additional properties are not allowed ('{key}' was unexpected)", short(whole)),
    })
}

/// Deserializes a checked object into a typed request; a remaining mismatch is still a 400.
pub fn typed<T: DeserializeOwned>(service: Service, map: Map<String, Value>) -> ApiResult<T> {
    serde_json::from_value(Value::Object(map))
        .map_err(|e| ApiError::bad_request(service, format!("Invalid input: {e}")))
}

/// Parse, check and deserialize in one step.
pub fn parse<T: DeserializeOwned>(schema: &Schema, bytes: &[u8]) -> ApiResult<T> {
    let v = parse_json(schema.service, bytes)?;
    let m = check(schema, v)?;
    typed(schema.service, m)
}

/// Reads a bool that may be given as a string.
pub fn bool_like(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Some(true),
            "false" | "0" | "no" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// Reads an integer that may be given as a string.
pub fn int_like(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}
