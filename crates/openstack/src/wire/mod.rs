//! Wire types of the OpenStack APIs: the JSON bodies as the real services send and accept them.
//!
//! One definition serves several implementations: the client in this crate sends and reads them,
//! and `localcloud` answers with them. Field names follow the APIs exactly (including
//! `OS-EXT-*`-style keys); a field real OpenStack omits when unset is an `Option` skipped when
//! `None`, and one it sends as `null` is an `Option` that serializes `null`.
//!
//! Request types accept unknown fields when deserialized only where the real service does;
//! response types always ignore unknown fields so newer services do not break the client.

pub mod compute;
pub mod identity;
pub mod image;
pub mod network;
pub mod volume;

use serde::{Deserialize, Serialize};

/// A hypermedia link (`{"href","rel"}`, sometimes with `type`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub href: String,
    pub rel: String,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
}

/// A reference by name, as in Nova's `security_groups: [{"name": "default"}]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameRef {
    pub name: String,
}

/// Nova and Cinder error body: `{"itemNotFound": {"code": 404, "message": "…"}}` (one key naming
/// the kind of fault). Use [`ComputeFault::from_body`] to read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComputeFault {
    pub code: u16,
    pub message: String,
}

impl ComputeFault {
    /// The standard fault key for an HTTP status (`badRequest`, `itemNotFound`, …).
    pub fn key_for_status(status: u16) -> &'static str {
        match status {
            400 => "badRequest",
            401 => "unauthorized",
            403 => "forbidden",
            404 => "itemNotFound",
            405 => "badMethod",
            409 => "conflictingRequest",
            413 => "overLimit",
            415 => "badMediaType",
            501 => "notImplemented",
            503 => "serviceUnavailable",
            _ => "computeFault",
        }
    }

    /// Builds the whole error body `{"<key>": {"code", "message"}}`.
    pub fn body(status: u16, message: impl Into<String>) -> serde_json::Value {
        let mut map = serde_json::Map::new();
        map.insert(
            Self::key_for_status(status).to_owned(),
            serde_json::json!({"code": status, "message": message.into()}),
        );
        serde_json::Value::Object(map)
    }
}

/// Neutron error body: `{"NeutronError": {"type", "message", "detail"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeutronErrorBody {
    #[serde(rename = "NeutronError")]
    pub neutron_error: NeutronError,
}

/// The inner part of [`NeutronErrorBody`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeutronError {
    #[serde(rename = "type")]
    pub kind: String,
    pub message: String,
    #[serde(default)]
    pub detail: String,
}

/// Keystone error body: `{"error": {"code", "message", "title"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeystoneErrorBody {
    pub error: KeystoneError,
}

/// The inner part of [`KeystoneErrorBody`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeystoneError {
    pub code: u16,
    pub message: String,
    #[serde(default)]
    pub title: String,
}

/// Reads the human message out of any OpenStack error body: Keystone `{"error":{…}}`, Neutron
/// `{"NeutronError":{…}}`, Nova/Cinder `{"<fault>":{"message"}}`, a bare `{"message"}`, or an
/// HTML/text page (Glance answers with webob's HTML). Returns `None` for an empty body.
pub fn error_message(body: &[u8]) -> Option<String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) {
        if let Some(message) = json_message(&value) {
            return Some(message);
        }
    }
    let text = String::from_utf8_lossy(body);
    let plain = strip_html(&text);
    let plain = plain.split_whitespace().collect::<Vec<_>>().join(" ");
    if plain.is_empty() {
        None
    } else {
        Some(truncate(plain, 2000))
    }
}

fn json_message(value: &serde_json::Value) -> Option<String> {
    let object = value.as_object()?;
    if let Some(message) = object.get("message").and_then(|m| m.as_str()) {
        return Some(message.to_owned());
    }
    if let Some(error) = object.get("NeutronError").or_else(|| object.get("error")) {
        if let Some(message) = error.get("message").and_then(|m| m.as_str()) {
            return Some(message.to_owned());
        }
        if let Some(message) = error.as_str() {
            return Some(message.to_owned());
        }
    }
    // Nova/Cinder: a single key naming the fault.
    object.values().find_map(|inner| {
        inner
            .get("message")
            .and_then(|m| m.as_str())
            .map(str::to_owned)
    })
}

fn strip_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_tag = false;
    let mut skip_title = false;
    let lower = text.to_ascii_lowercase();
    let mut i = 0;
    let bytes = text.as_bytes();
    while i < bytes.len() {
        if lower[i..].starts_with("<title>") {
            skip_title = true;
        } else if lower[i..].starts_with("</title>") {
            skip_title = false;
        }
        let c = text[i..].chars().next().unwrap_or(' ');
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag && !skip_title => out.push(c),
            _ => {}
        }
        i += c.len_utf8();
    }
    out
}

fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    text
}

/// Serde helper for fields where "absent", `null` and a value mean three different things
/// (Neutron's `gateway_ip: null` means "no gateway", `port_id: null` means "disassociate").
/// Use with `#[serde(default, skip_serializing_if = "Option::is_none", with = "double_option")]`.
pub mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(
        value: &Option<Option<T>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(inner) => inner.serialize(serializer),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(deserializer).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_messages_from_every_error_shape() {
        let cases: [(&str, &str); 5] = [
            (
                r#"{"error":{"code":401,"message":"The request you have made requires authentication.","title":"Unauthorized"}}"#,
                "The request you have made requires authentication.",
            ),
            (
                r#"{"NeutronError":{"type":"NetworkNotFound","message":"Network x could not be found.","detail":""}}"#,
                "Network x could not be found.",
            ),
            (
                r#"{"itemNotFound":{"code":404,"message":"Instance y could not be found."}}"#,
                "Instance y could not be found.",
            ),
            (
                "<html>\n <head>\n  <title>409 Conflict</title>\n </head>\n <body>\n  <h1>409 Conflict</h1>\n  Image status transition from active to saving is not allowed<br /><br />\n\n\n\n </body>\n</html>",
                "409 Conflict Image status transition from active to saving is not allowed",
            ),
            ("plain words", "plain words"),
        ];
        for (body, want) in cases {
            assert_eq!(
                error_message(body.as_bytes()).as_deref(),
                Some(want),
                "{body}"
            );
        }
        assert_eq!(error_message(b"  "), None);
    }

    #[test]
    fn compute_fault_body() {
        let body = ComputeFault::body(404, "gone");
        assert_eq!(
            body,
            serde_json::json!({"itemNotFound": {"code": 404, "message": "gone"}})
        );
    }
}
