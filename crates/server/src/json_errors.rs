//! Parse errors of request bodies, told without the values they quote.
//!
//! serde names the value it could not take — `invalid type: string "Db-Pass-…", expected a
//! map` — and a request body's values are often secrets (sensitive variables, passwords, keys).
//! Error answers and log lines built from these messages keep the shape of the mistake (the
//! type found, the type expected, the line and column) and drop the value itself.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use crate::error::ServerError;

/// axum's `Json` extractor, whose rejection (400) tells the mistake without the body's values
/// (axum's own quotes serde's message, value and all).
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ServerError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| ServerError::Invalid(without_values(&e.body_text())))?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ServerError::Invalid(format!("bad JSON body: {}", json_error(&e))))
    }
}

/// `e`'s message with every quoted string value replaced by `"…"` and an unknown variant's name
/// left out.
pub fn json_error(e: &serde_json::Error) -> String {
    without_values(&e.to_string())
}

/// The same for a message already rendered (axum's body rejections quote serde's message).
pub fn without_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find(['"', '`']) {
        let (before, from) = rest.split_at(start);
        out.push_str(before);
        let quote = from.chars().next().unwrap_or('"');
        let body = &from[1..];
        // serde quotes strings with `{:?}` (escaped); a variant's name sits in backticks as is.
        let end = if quote == '"' {
            closing_quote(body)
        } else {
            body.find('`')
        };
        let Some(end) = end else {
            // No closing quote: what follows may be the value; leave it out.
            out.push(quote);
            out.push('…');
            return out;
        };
        let value = &body[..end];
        // In backticks serde puts the API's own names (`missing field `x``, `expected one of
        // `a`, `b``), kept so the message still helps, and a few of the caller's values: an
        // unknown variant and numbers, left out.
        let keep = quote == '`'
            && !["variant ", "integer ", "floating point ", "character "]
                .iter()
                .any(|w| before.ends_with(w));
        out.push(quote);
        out.push_str(if keep { value } else { "…" });
        out.push(quote);
        rest = &body[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The index of the `"` that ends a `{:?}`-quoted string, past escaped quotes.
fn closing_quote(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => return Some(i),
            _ => escaped = false,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Body {
        vars: std::collections::BTreeMap<String, String>,
        mode: Option<Mode>,
    }

    #[derive(Debug, serde::Deserialize)]
    enum Mode {
        On,
    }

    #[test]
    fn a_string_of_the_wrong_type_is_not_echoed() {
        let e = serde_json::from_str::<Body>(r#"{"vars": "Sup3r \"secret\" pass"}"#).unwrap_err();
        let m = json_error(&e);
        assert!(!m.contains("Sup3r") && !m.contains("secret"), "{m}");
        assert!(
            m.contains("invalid type: string \"…\", expected a map"),
            "{m}"
        );
        assert!(m.contains("line 1 column"), "{m}");
    }

    #[test]
    fn nested_values_and_variants_are_not_echoed_but_field_names_are() {
        let e = serde_json::from_str::<Body>(r#"{"vars": {"a": ["hunter22"]}}"#).unwrap_err();
        assert!(!json_error(&e).contains("hunter22"), "{}", json_error(&e));
        let e = serde_json::from_str::<Body>(r#"{"vars": {}, "mode": "hunter22"}"#).unwrap_err();
        let m = json_error(&e);
        assert!(
            !m.contains("hunter22") && m.contains("unknown variant"),
            "{m}"
        );
        assert!(m.contains("expected `On`"), "{m}");
        let e = serde_json::from_str::<Body>(r#"{"mode": "On"}"#).unwrap_err();
        assert!(
            json_error(&e).contains("missing field `vars`"),
            "{}",
            json_error(&e)
        );
    }

    #[test]
    fn an_unclosed_quote_drops_the_rest() {
        assert_eq!(without_values("bad: string \"abc"), "bad: string \"…");
    }
}
