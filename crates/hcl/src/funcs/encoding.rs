//! Encoding functions: base64, JSON, YAML, CSV, URL.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use base64::Engine as _;

use super::{str_arg, FResult, FuncError};
use crate::eval::{EvalContext, MAX_STRING_BYTES};
use crate::value::{format_number, Value};

/// Deepest nesting `jsondecode` and `yamldecode` accept.
const MAX_DECODE_DEPTH: usize = 128;

pub(crate) fn base64encode(_: &EvalContext, a: Vec<Value>) -> FResult {
    Ok(Value::String(
        base64::engine::general_purpose::STANDARD.encode(str_arg(&a, 0)?),
    ))
}

pub(crate) fn base64gzip(_: &EvalContext, a: Vec<Value>) -> FResult {
    use std::io::Write as _;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(str_arg(&a, 0)?.as_bytes())
        .map_err(|e| FuncError::call(format!("compression failed: {e}")))?;
    let bytes = enc
        .finish()
        .map_err(|e| FuncError::call(format!("compression failed: {e}")))?;
    Ok(Value::String(
        base64::engine::general_purpose::STANDARD.encode(bytes),
    ))
}

pub(crate) fn base64decode(_: &EvalContext, a: Vec<Value>) -> FResult {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(str_arg(&a, 0)?)
        .map_err(|e| FuncError::arg(0, format!("invalid base64 data: {e}")))?;
    String::from_utf8(bytes)
        .map(Value::String)
        .map_err(|_| FuncError::arg(0, "the decoded bytes are not valid UTF-8"))
}

/// The encodings `textencodebase64` and `textdecodebase64` support (IANA names, any case).
#[derive(Clone, Copy)]
enum TextEncoding {
    Utf8,
    Utf16Le,
    Utf16Be,
}

fn text_encoding(name: &str, arg: usize) -> Result<TextEncoding, FuncError> {
    match name.to_ascii_uppercase().replace('_', "-").as_str() {
        "UTF-8" | "UTF8" => Ok(TextEncoding::Utf8),
        "UTF-16LE" => Ok(TextEncoding::Utf16Le),
        "UTF-16BE" | "UTF-16" => Ok(TextEncoding::Utf16Be),
        _ => Err(FuncError::arg(
            arg,
            format!("unsupported encoding {name:?}; vitrina supports UTF-8, UTF-16LE and UTF-16BE"),
        )),
    }
}

pub(crate) fn textencodebase64(_: &EvalContext, a: Vec<Value>) -> FResult {
    let text = str_arg(&a, 0)?;
    let bytes: Vec<u8> = match text_encoding(str_arg(&a, 1)?, 1)? {
        TextEncoding::Utf8 => text.as_bytes().to_vec(),
        TextEncoding::Utf16Le => text.encode_utf16().flat_map(u16::to_le_bytes).collect(),
        TextEncoding::Utf16Be => text.encode_utf16().flat_map(u16::to_be_bytes).collect(),
    };
    Ok(Value::String(
        base64::engine::general_purpose::STANDARD.encode(bytes),
    ))
}

pub(crate) fn textdecodebase64(_: &EvalContext, a: Vec<Value>) -> FResult {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(str_arg(&a, 0)?)
        .map_err(|e| FuncError::arg(0, format!("invalid base64 data: {e}")))?;
    let bad = || FuncError::arg(0, "the decoded bytes are not valid in this encoding");
    let text = match text_encoding(str_arg(&a, 1)?, 1)? {
        TextEncoding::Utf8 => String::from_utf8(bytes).map_err(|_| bad())?,
        enc @ (TextEncoding::Utf16Le | TextEncoding::Utf16Be) => {
            if bytes.len() % 2 != 0 {
                return Err(bad());
            }
            let units: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|c| match (enc, c) {
                    (TextEncoding::Utf16Le, [lo, hi]) => u16::from_le_bytes([*lo, *hi]),
                    (_, [hi, lo]) => u16::from_be_bytes([*hi, *lo]),
                    _ => 0,
                })
                .collect();
            String::from_utf16(&units).map_err(|_| bad())?
        }
    };
    Ok(Value::String(text))
}

pub(crate) fn urlencode(_: &EvalContext, a: Vec<Value>) -> FResult {
    let mut out = String::new();
    for b in str_arg(&a, 0)?.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    Ok(Value::String(out))
}

/// JSON text of a wholly known value the way Terraform's `jsonencode` writes it: compact,
/// object keys sorted, `<`, `>`, `&`, U+2028 and U+2029 escaped as `\u…`.
pub(crate) fn json_encode_value(v: &Value) -> Option<String> {
    let mut out = String::new();
    write_json(v, &mut out)?;
    Some(out)
}

fn write_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write_json(v: &Value, out: &mut String) -> Option<()> {
    if out.len() > MAX_STRING_BYTES {
        return None;
    }
    match v.unmarked() {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&format_number(*n)),
        Value::String(s) => write_json_string(s, out),
        Value::List(items) | Value::Tuple(items) | Value::Set(items) => {
            out.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(x, out)?;
            }
            out.push(']');
        }
        Value::Map(m) | Value::Object(m) => {
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(k, out);
                out.push(':');
                write_json(x, out)?;
            }
            out.push('}');
        }
        Value::Unknown(_) | Value::Sensitive(_) => return None,
    }
    Some(())
}

pub(crate) fn jsonencode(_: &EvalContext, a: Vec<Value>) -> FResult {
    let v = a.first().cloned().unwrap_or(Value::Null);
    json_encode_value(&v)
        .map(Value::String)
        .ok_or_else(|| FuncError::arg(0, "the value cannot be encoded (too large)"))
}

fn json_depth_ok(s: &str) -> bool {
    let mut depth = 0usize;
    let mut in_str = false;
    let mut escaped = false;
    for b in s.bytes() {
        if in_str {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DECODE_DEPTH {
                    return false;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    true
}

pub(crate) fn jsondecode(_: &EvalContext, a: Vec<Value>) -> FResult {
    let text = str_arg(&a, 0)?;
    if !json_depth_ok(text) {
        return Err(FuncError::arg(0, "JSON is nested too deeply"));
    }
    let json: serde_json::Value =
        serde_json::from_str(text).map_err(|e| FuncError::arg(0, format!("invalid JSON: {e}")))?;
    Ok(Value::from_json(&json))
}

pub(crate) fn csvdecode(_: &EvalContext, a: Vec<Value>) -> FResult {
    let rows = parse_csv(str_arg(&a, 0)?).map_err(|e| FuncError::arg(0, e))?;
    let mut rows = rows.into_iter();
    let Some(header) = rows.next() else {
        return Err(FuncError::arg(0, "missing header line"));
    };
    let mut out = Vec::new();
    for (line, row) in rows.enumerate() {
        if row.len() != header.len() {
            return Err(FuncError::arg(
                0,
                format!(
                    "record {} has {} fields, the header has {}",
                    line + 2,
                    row.len(),
                    header.len()
                ),
            ));
        }
        out.push(Value::Object(
            header
                .iter()
                .cloned()
                .zip(row.into_iter().map(Value::String))
                .collect(),
        ));
    }
    Ok(Value::List(out))
}

/// RFC 4180 CSV: comma separated, `"` quoting with `""` escapes, CRLF or LF line ends.
fn parse_csv(text: &str) -> Result<Vec<Vec<String>>, String> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    let mut at_field_start = true;
    let mut any = false;
    while let Some(c) = chars.next() {
        any = true;
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    quoted = false;
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            '"' if at_field_start => {
                quoted = true;
                at_field_start = false;
            }
            ',' => {
                row.push(std::mem::take(&mut field));
                at_field_start = true;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
                at_field_start = true;
                any = false;
            }
            c => {
                field.push(c);
                at_field_start = false;
            }
        }
    }
    if quoted {
        return Err("unterminated quoted field".into());
    }
    if any {
        row.push(field);
        rows.push(row);
    }
    Ok(rows)
}

// YAML

pub(crate) fn yamlencode(_: &EvalContext, a: Vec<Value>) -> FResult {
    let v = a.first().cloned().unwrap_or(Value::Null);
    let mut out = String::new();
    yaml_node(&v, 0, &mut out, Position::Root)
        .ok_or_else(|| FuncError::arg(0, "the value cannot be encoded (too large)"))?;
    Ok(Value::String(out))
}

#[derive(Clone, Copy, PartialEq)]
enum Position {
    Root,
    /// After `key:`.
    MapValue,
    /// After `- `.
    SeqItem,
}

fn yaml_scalar(v: &Value) -> Option<String> {
    Some(match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => format_number(*n),
        Value::String(s) => {
            let mut out = String::new();
            write_yaml_string(s, &mut out);
            out
        }
        Value::List(items) | Value::Tuple(items) | Value::Set(items) if items.is_empty() => {
            "[]".into()
        }
        Value::Map(m) | Value::Object(m) if m.is_empty() => "{}".into(),
        _ => return None,
    })
}

fn write_yaml_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn yaml_node(v: &Value, indent: usize, out: &mut String, pos: Position) -> Option<()> {
    if out.len() > MAX_STRING_BYTES {
        return None;
    }
    let v = v.unmarked();
    if let Some(s) = yaml_scalar(v) {
        if pos == Position::MapValue {
            out.push(' ');
        }
        out.push_str(&s);
        out.push('\n');
        return Some(());
    }
    let pad = " ".repeat(indent);
    match v {
        Value::List(items) | Value::Tuple(items) | Value::Set(items) => {
            if pos == Position::MapValue {
                out.push('\n');
            }
            for (i, item) in items.iter().enumerate() {
                if !(i == 0 && pos == Position::SeqItem) {
                    out.push_str(&pad);
                }
                out.push_str("- ");
                yaml_node(item, indent + 2, out, Position::SeqItem)?;
            }
        }
        Value::Map(m) | Value::Object(m) => {
            if pos == Position::MapValue {
                out.push('\n');
            }
            let child_indent = indent + 2;
            for (i, (k, item)) in m.iter().enumerate() {
                if !(i == 0 && pos == Position::SeqItem) {
                    out.push_str(&pad);
                }
                write_yaml_string(k, out);
                out.push(':');
                let nested_seq = matches!(
                    item.unmarked(),
                    Value::List(x) | Value::Tuple(x) | Value::Set(x) if !x.is_empty()
                );
                // Sequences under a key are not indented (go-yaml style); maps are.
                let next = if nested_seq { indent } else { child_indent };
                yaml_node(item, next, out, Position::MapValue)?;
            }
        }
        _ => return None,
    }
    Some(())
}

pub(crate) fn yamldecode(_: &EvalContext, a: Vec<Value>) -> FResult {
    decode_yaml(str_arg(&a, 0)?).map_err(|e| FuncError::arg(0, e))
}

enum Frame {
    Seq(Vec<Value>, usize),
    Map(BTreeMap<String, Value>, Option<String>, usize),
}

/// Resolves a plain scalar by the YAML 1.2 core schema.
fn plain_scalar(s: &str) -> Result<Value, String> {
    Ok(match s {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        "true" | "True" | "TRUE" => Value::Bool(true),
        "false" | "False" | "FALSE" => Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "-.inf" | "-.Inf" | "-.INF" | ".nan" | ".NaN"
        | ".NAN" => return Err(format!("cannot represent {s} as a number")),
        _ => {
            if let Some(hex) = s.strip_prefix("0x") {
                if let Ok(n) = i64::from_str_radix(hex, 16) {
                    #[allow(clippy::cast_precision_loss)]
                    return Ok(Value::Number(n as f64));
                }
            }
            if let Some(oct) = s.strip_prefix("0o") {
                if let Ok(n) = i64::from_str_radix(oct, 8) {
                    #[allow(clippy::cast_precision_loss)]
                    return Ok(Value::Number(n as f64));
                }
            }
            let numeric = s
                .trim_start_matches(['-', '+'])
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_digit() || c == '.');
            match s.parse::<f64>() {
                Ok(n) if numeric && n.is_finite() => Value::Number(n),
                _ => Value::String(s.to_string()),
            }
        }
    })
}

fn decode_yaml(text: &str) -> Result<Value, String> {
    use saphyr_parser::{Event, Parser, ScalarStyle};

    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: BTreeMap<usize, Value> = BTreeMap::new();
    let mut root: Option<Value> = None;
    let mut budget: usize = 1_000_000;
    // Probe H4: aliases are charged the bytes they copy, before copying.
    let mut alias_bytes: usize = MAX_YAML_ALIAS_BYTES;
    let mut documents = 0usize;

    while let Some(ev) = parser.next_event() {
        let (ev, _span) = ev.map_err(|e| format!("invalid YAML: {}", e.info()))?;
        budget = budget
            .checked_sub(1)
            .ok_or_else(|| "YAML document is too large".to_string())?;
        let complete: Option<(Value, usize)> = match ev {
            Event::StreamStart | Event::StreamEnd | Event::Nothing | Event::DocumentEnd => None,
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err("only one YAML document is allowed".into());
                }
                None
            }
            Event::Scalar(value, style, anchor, _tag) => {
                let v = if matches!(style, ScalarStyle::Plain) {
                    plain_scalar(&value)?
                } else {
                    Value::String(value.into_owned())
                };
                Some((v, anchor))
            }
            Event::Alias(id) => {
                let v = anchors
                    .get(&id)
                    .ok_or_else(|| "alias to an unknown anchor".to_string())?;
                budget = budget
                    .checked_sub(count_nodes(v))
                    .ok_or_else(|| "YAML aliases expand to too many nodes".to_string())?;
                alias_bytes = alias_bytes.checked_sub(value_bytes(v)).ok_or_else(|| {
                    format!(
                        "YAML aliases expand to more than {} MiB (the alias limit)",
                        MAX_YAML_ALIAS_BYTES / (1024 * 1024)
                    )
                })?;
                Some((v.clone(), 0))
            }
            Event::SequenceStart(anchor, _) => {
                if stack.len() >= MAX_DECODE_DEPTH {
                    return Err("YAML is nested too deeply".into());
                }
                stack.push(Frame::Seq(Vec::new(), anchor));
                None
            }
            Event::MappingStart(anchor, _) => {
                if stack.len() >= MAX_DECODE_DEPTH {
                    return Err("YAML is nested too deeply".into());
                }
                stack.push(Frame::Map(BTreeMap::new(), None, anchor));
                None
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Seq(items, anchor)) => Some((Value::Tuple(items), anchor)),
                Some(Frame::Map(m, _, anchor)) => Some((Value::Object(m), anchor)),
                None => return Err("unbalanced YAML structure".into()),
            },
        };
        let Some((value, anchor)) = complete else {
            continue;
        };
        if anchor != 0 {
            alias_bytes = alias_bytes
                .checked_sub(value_bytes(&value))
                .ok_or_else(|| {
                    format!(
                        "YAML anchors expand to more than {} MiB (the alias limit)",
                        MAX_YAML_ALIAS_BYTES / (1024 * 1024)
                    )
                })?;
            anchors.insert(anchor, value.clone());
        }
        match stack.last_mut() {
            None => root = Some(value),
            Some(Frame::Seq(items, _)) => items.push(value),
            Some(Frame::Map(m, key, _)) => match key.take() {
                None => {
                    let k = match value {
                        Value::String(s) => s,
                        Value::Number(n) => format_number(n),
                        Value::Bool(b) => b.to_string(),
                        Value::Null => "null".into(),
                        _ => return Err("mapping keys must be scalars".into()),
                    };
                    *key = Some(k);
                }
                Some(k) => {
                    m.insert(k, value);
                }
            },
        }
    }
    Ok(root.unwrap_or(Value::Null))
}

/// The most bytes the aliases (and kept anchors) of one `yamldecode` may copy.
const MAX_YAML_ALIAS_BYTES: usize = 16 * 1024 * 1024;

/// The bytes a copy of `v` takes: its strings plus 64 per node.
fn value_bytes(v: &Value) -> usize {
    match v {
        Value::List(x) | Value::Tuple(x) | Value::Set(x) => x
            .iter()
            .fold(64usize, |sum, e| sum.saturating_add(value_bytes(e))),
        Value::Map(m) | Value::Object(m) => m.iter().fold(64usize, |sum, (k, e)| {
            sum.saturating_add(k.len()).saturating_add(value_bytes(e))
        }),
        Value::String(s) => 64usize.saturating_add(s.len()),
        _ => 64,
    }
}

fn count_nodes(v: &Value) -> usize {
    match v {
        Value::List(x) | Value::Tuple(x) | Value::Set(x) => {
            1 + x.iter().map(count_nodes).sum::<usize>()
        }
        Value::Map(m) | Value::Object(m) => 1 + m.values().map(count_nodes).sum::<usize>(),
        _ => 1,
    }
}
