//! String functions.

use std::collections::BTreeMap;

use super::{int_arg, str_arg, FResult, FuncError};
use crate::convert::convert;
use crate::eval::{EvalContext, MAX_STRING_BYTES};
use crate::types::Type;
use crate::value::{format_number, Value};

fn s(v: impl Into<String>) -> FResult {
    let v = v.into();
    if v.len() > MAX_STRING_BYTES {
        return Err(FuncError::call("result is too large"));
    }
    Ok(Value::String(v))
}

pub(crate) fn chomp(_: &EvalContext, a: Vec<Value>) -> FResult {
    s(str_arg(&a, 0)?.trim_end_matches(['\n', '\r']))
}

pub(crate) fn endswith(_: &EvalContext, a: Vec<Value>) -> FResult {
    Ok(Value::Bool(str_arg(&a, 0)?.ends_with(str_arg(&a, 1)?)))
}

pub(crate) fn startswith(_: &EvalContext, a: Vec<Value>) -> FResult {
    Ok(Value::Bool(str_arg(&a, 0)?.starts_with(str_arg(&a, 1)?)))
}

pub(crate) fn strcontains(_: &EvalContext, a: Vec<Value>) -> FResult {
    Ok(Value::Bool(str_arg(&a, 0)?.contains(str_arg(&a, 1)?)))
}

/// Go's `unicode.ToUpper`, which Terraform's `upper` uses through `strings.ToUpper`: the simple
/// one-character mapping, so `ß` stays `ß` (Rust's full mapping gives `SS`).
fn simple_upper(c: char) -> char {
    let mut up = c.to_uppercase();
    match (up.next(), up.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

/// Go's `unicode.ToLower` (simple mapping): `İ` is `i`, and a final `Σ` is `σ` (no
/// context-dependent `ς`).
fn simple_lower(c: char) -> char {
    c.to_lowercase().next().unwrap_or(c)
}

pub(crate) fn lower(_: &EvalContext, a: Vec<Value>) -> FResult {
    s(str_arg(&a, 0)?
        .chars()
        .map(simple_lower)
        .collect::<String>())
}

pub(crate) fn upper(_: &EvalContext, a: Vec<Value>) -> FResult {
    s(str_arg(&a, 0)?
        .chars()
        .map(simple_upper)
        .collect::<String>())
}

pub(crate) fn strrev(_: &EvalContext, a: Vec<Value>) -> FResult {
    let mut parts = graphemes(str_arg(&a, 0)?);
    parts.reverse();
    s(parts.concat())
}

/// True for characters that join the previous one into a single user-perceived character
/// (combining marks, variation selectors, emoji modifiers, zero-width joiner).
fn extends_previous(c: char) -> bool {
    matches!(u32::from(c),
        0x0300..=0x036F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF
        | 0xFE00..=0xFE0F | 0xFE20..=0xFE2F | 0x200D | 0x1F3FB..=0x1F3FF | 0xE0020..=0xE007F)
}

/// Splits a string into approximate grapheme clusters: a base character with the combining
/// characters after it, and emoji joined by U+200D. (Terraform uses full Unicode segmentation;
/// this approximation covers accents, variation selectors, skin tones and ZWJ sequences.)
pub(crate) fn graphemes(text: &str) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    let mut start = 0usize;
    let mut join_next = false;
    for (i, c) in text.char_indices() {
        if i == 0 {
            continue;
        }
        if extends_previous(c) || join_next {
            join_next = c == '\u{200D}';
            continue;
        }
        if let Some(part) = text.get(start..i) {
            out.push(part);
        }
        start = i;
    }
    if let Some(part) = text.get(start..) {
        if !part.is_empty() {
            out.push(part);
        }
    }
    out
}

pub(crate) fn title(_: &EvalContext, a: Vec<Value>) -> FResult {
    let mut out = String::new();
    let mut prev_letter = false;
    for c in str_arg(&a, 0)?.chars() {
        if !prev_letter && c.is_alphabetic() {
            out.push(simple_upper(c));
        } else {
            out.push(c);
        }
        prev_letter = c.is_alphanumeric() || c == '_' || c == '\'';
    }
    s(out)
}

pub(crate) fn trim(_: &EvalContext, a: Vec<Value>) -> FResult {
    let cutset: Vec<char> = str_arg(&a, 1)?.chars().collect();
    s(str_arg(&a, 0)?.trim_matches(|c| cutset.contains(&c)))
}

pub(crate) fn trimprefix(_: &EvalContext, a: Vec<Value>) -> FResult {
    let v = str_arg(&a, 0)?;
    s(v.strip_prefix(str_arg(&a, 1)?).unwrap_or(v))
}

pub(crate) fn trimsuffix(_: &EvalContext, a: Vec<Value>) -> FResult {
    let v = str_arg(&a, 0)?;
    s(v.strip_suffix(str_arg(&a, 1)?).unwrap_or(v))
}

pub(crate) fn trimspace(_: &EvalContext, a: Vec<Value>) -> FResult {
    s(str_arg(&a, 0)?.trim())
}

pub(crate) fn indent(_: &EvalContext, a: Vec<Value>) -> FResult {
    let n = int_arg(&a, 0)?;
    let n = usize::try_from(n).map_err(|_| FuncError::arg(0, "must not be negative"))?;
    if n > 1024 {
        return Err(FuncError::arg(0, "at most 1024 spaces"));
    }
    // Every newline is followed by the padding, as in Terraform (even a final one).
    let pad = format!("\n{}", " ".repeat(n));
    s(str_arg(&a, 1)?.replace('\n', &pad))
}

pub(crate) fn join(_: &EvalContext, a: Vec<Value>) -> FResult {
    let sep = str_arg(&a, 0)?;
    let mut parts: Vec<&str> = Vec::new();
    for (i, list) in a.iter().enumerate().skip(1) {
        let items = list
            .as_elements()
            .ok_or_else(|| FuncError::arg(i, "a list of strings is required"))?;
        for item in items {
            match item.as_str() {
                Some(x) => parts.push(x),
                None => {
                    return Err(FuncError::arg(
                        i,
                        "elements must be strings and must not be null",
                    ))
                }
            }
        }
    }
    if a.len() < 2 {
        return Err(FuncError::call("at least one list is required"));
    }
    s(parts.join(sep))
}

pub(crate) fn split(_: &EvalContext, a: Vec<Value>) -> FResult {
    let sep = str_arg(&a, 0)?;
    let text = str_arg(&a, 1)?;
    let parts: Vec<Value> = if sep.is_empty() {
        text.chars().map(|c| Value::String(c.to_string())).collect()
    } else {
        text.split(sep).map(Value::from).collect()
    };
    Ok(Value::List(parts))
}

/// `substr` as go-cty's `SubstrFunc` does it (the documentation is silent on the edges): a
/// negative offset counts from the end and is clamped to the start; an offset at or past the end
/// gives `""`; any negative length takes the rest; a length of 0 gives `""` (for a negative
/// offset go-cty's seek never stops at 0, so the rest is returned, as here).
pub(crate) fn substr(_: &EvalContext, a: Vec<Value>) -> FResult {
    let chars = graphemes(str_arg(&a, 0)?);
    let len = i64::try_from(chars.len()).unwrap_or(i64::MAX);
    let mut offset = int_arg(&a, 1)?;
    let length = int_arg(&a, 2)?;
    if offset < 0 {
        offset = len.saturating_add(offset).max(0);
    } else if length == 0 {
        return s("");
    }
    if offset >= len {
        return s("");
    }
    let end = if length <= 0 {
        len
    } else {
        offset.saturating_add(length).min(len)
    };
    let (start, end) = (
        usize::try_from(offset).unwrap_or(0),
        usize::try_from(end).unwrap_or(0),
    );
    s(chars
        .get(start..end)
        .map(<[&str]>::concat)
        .unwrap_or_default())
}

pub(crate) fn replace(_: &EvalContext, a: Vec<Value>) -> FResult {
    let text = str_arg(&a, 0)?;
    let sub = str_arg(&a, 1)?;
    let rep = str_arg(&a, 2)?;
    if sub.len() >= 2 && sub.starts_with('/') && sub.ends_with('/') {
        let pattern = sub.get(1..sub.len() - 1).unwrap_or("");
        let re = compile(pattern, 1)?;
        return s(re.replace_all(text, rep).into_owned());
    }
    if sub.is_empty() {
        // Go's `strings.Replace` with an empty `old` inserts `new` before every character and
        // at the end ("aaa" → "bababab"); Terraform's `replace` is that call.
        let size = rep
            .len()
            .saturating_mul(text.chars().count().saturating_add(1))
            .saturating_add(text.len());
        if size > MAX_STRING_BYTES {
            return Err(FuncError::call("result is too large"));
        }
        let mut out = String::with_capacity(size);
        for c in text.chars() {
            out.push_str(rep);
            out.push(c);
        }
        out.push_str(rep);
        return s(out);
    }
    s(text.replace(sub, rep))
}

fn compile(pattern: &str, arg: usize) -> Result<regex::Regex, FuncError> {
    regex::RegexBuilder::new(&re2_classes(pattern))
        .size_limit(1 << 20)
        .build()
        .map_err(|e| FuncError::arg(arg, format!("invalid regular expression: {e}")))
}

/// Terraform's regular expressions are RE2's, where the Perl classes are ASCII-only:
/// `\d` is `[0-9]`, `\w` is `[0-9A-Za-z_]`, `\s` is `[\t\n\f\r ]` and `\b` is an ASCII word
/// boundary (<https://github.com/google/re2/wiki/Syntax>, "Perl character classes"). The
/// `regex` crate makes them Unicode-aware, so they are rewritten before compiling (as nested
/// classes, which the `regex` crate accepts inside `[…]` too).
fn re2_classes(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(n) = chars.next() else {
                    out.push(c);
                    break;
                };
                match n {
                    'd' => out.push_str("[0-9]"),
                    'D' => out.push_str("[^0-9]"),
                    'w' => out.push_str("[0-9A-Za-z_]"),
                    'W' => out.push_str("[^0-9A-Za-z_]"),
                    's' => out.push_str("[\\t\\n\\f\\r ]"),
                    'S' => out.push_str("[^\\t\\n\\f\\r ]"),
                    'b' if !in_class => out.push_str("(?-u:\\b)"),
                    'B' if !in_class => out.push_str("(?-u:\\B)"),
                    other => {
                        out.push(c);
                        out.push(other);
                    }
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push(c);
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
                // A `]` first in a class is a literal.
                if chars.peek() == Some(&']') {
                    out.push(']');
                    chars.next();
                }
            }
            '[' if in_class && chars.peek() == Some(&':') => {
                // `[:alpha:]` inside a class.
                out.push(c);
                for p in chars.by_ref() {
                    out.push(p);
                    if p == ']' {
                        break;
                    }
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

fn captures_value(re: &regex::Regex, caps: &regex::Captures<'_>) -> Value {
    let names: Vec<Option<&str>> = re.capture_names().collect();
    if re.captures_len() <= 1 {
        return Value::String(caps.get(0).map_or("", |m| m.as_str()).to_string());
    }
    if names.iter().skip(1).any(Option::is_some) {
        let mut m = BTreeMap::new();
        for name in names.iter().skip(1).flatten() {
            let v = caps
                .name(name)
                .map_or(Value::Null, |c| Value::String(c.as_str().to_string()));
            m.insert((*name).to_string(), v);
        }
        return Value::Object(m);
    }
    Value::Tuple(
        (1..re.captures_len())
            .map(|i| {
                caps.get(i)
                    .map_or(Value::Null, |c| Value::String(c.as_str().to_string()))
            })
            .collect(),
    )
}

pub(crate) fn regex(_: &EvalContext, a: Vec<Value>) -> FResult {
    let re = compile(str_arg(&a, 0)?, 0)?;
    let text = str_arg(&a, 1)?;
    match re.captures(text) {
        Some(c) => Ok(captures_value(&re, &c)),
        None => Err(FuncError::call(
            "the pattern did not match any part of the string",
        )),
    }
}

pub(crate) fn regexall(_: &EvalContext, a: Vec<Value>) -> FResult {
    let re = compile(str_arg(&a, 0)?, 0)?;
    let text = str_arg(&a, 1)?;
    Ok(Value::List(
        re.captures_iter(text)
            .map(|c| captures_value(&re, &c))
            .collect(),
    ))
}

pub(crate) fn format(_: &EvalContext, a: Vec<Value>) -> FResult {
    let spec = str_arg(&a, 0)?;
    s(format_with(spec, a.get(1..).unwrap_or(&[]), 1)?)
}

pub(crate) fn formatlist(_: &EvalContext, a: Vec<Value>) -> FResult {
    let spec = str_arg(&a, 0)?;
    let args = a.get(1..).unwrap_or(&[]);
    let mut len: Option<usize> = None;
    for (i, v) in args.iter().enumerate() {
        if let Some(items) = v.as_elements() {
            match len {
                Some(l) if l != items.len() => {
                    return Err(FuncError::arg(
                        i + 1,
                        format!(
                            "all lists must have the same length ({l}), this one has {}",
                            items.len()
                        ),
                    ))
                }
                _ => len = Some(items.len()),
            }
        }
    }
    let Some(len) = len else {
        // No list arguments: a single-element list.
        return Ok(Value::List(vec![Value::String(format_with(
            spec, args, 1,
        )?)]));
    };
    let mut out = Vec::with_capacity(len);
    for row in 0..len {
        let row_args: Vec<Value> = args
            .iter()
            .map(|v| match v.as_elements() {
                Some(items) => items.get(row).cloned().unwrap_or(Value::Null),
                None => v.clone(),
            })
            .collect();
        out.push(Value::String(format_with(spec, &row_args, 1)?));
    }
    Ok(Value::List(out))
}

/// Go-style `fmt` verbs as Terraform's `format` supports them: `%%`, `%v`, `%#v`, `%t`, `%d`,
/// `%b`, `%o`, `%x`, `%X`, `%e`, `%E`, `%f`, `%g`, `%s`, `%q`, flags `-+ 0#`, width,
/// precision, and explicit argument indexes `%[2]s`. `first_arg` numbers arguments in errors.
fn format_with(spec: &str, args: &[Value], first_arg: usize) -> Result<String, FuncError> {
    let mut out = String::new();
    let mut chars = spec.chars().peekable();
    let mut next_arg = 0usize;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            out.push('%');
            continue;
        }
        let (mut minus, mut plus, mut zero, mut space, mut sharp) =
            (false, false, false, false, false);
        while let Some(&f) = chars.peek() {
            match f {
                '-' => minus = true,
                '+' => plus = true,
                '0' => zero = true,
                ' ' => space = true,
                '#' => sharp = true,
                _ => break,
            }
            chars.next();
        }
        if chars.peek() == Some(&'[') {
            chars.next();
            let mut num = String::new();
            while let Some(&d) = chars.peek() {
                chars.next();
                if d == ']' {
                    break;
                }
                num.push(d);
            }
            let n: usize = num
                .parse()
                .map_err(|_| FuncError::arg(0, format!("invalid argument index `[{num}]`")))?;
            if n == 0 {
                return Err(FuncError::arg(0, "argument indexes start at 1"));
            }
            next_arg = n - 1;
        }
        let mut width = String::new();
        while let Some(&d) = chars.peek() {
            if d.is_ascii_digit() {
                width.push(d);
                chars.next();
            } else {
                break;
            }
        }
        let mut precision: Option<String> = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut p = String::new();
            while let Some(&d) = chars.peek() {
                if d.is_ascii_digit() {
                    p.push(d);
                    chars.next();
                } else {
                    break;
                }
            }
            precision = Some(p);
        }
        let Some(verb) = chars.next() else {
            return Err(FuncError::arg(
                0,
                "the format ends with an unfinished `%` verb",
            ));
        };
        let width: usize = if width.is_empty() {
            0
        } else {
            width
                .parse()
                .ok()
                .filter(|w| *w <= 4096)
                .ok_or_else(|| FuncError::arg(0, "width is too large"))?
        };
        let precision: Option<usize> = match precision {
            None => None,
            Some(p) if p.is_empty() => Some(0),
            Some(p) => Some(
                p.parse()
                    .ok()
                    .filter(|w| *w <= 4096)
                    .ok_or_else(|| FuncError::arg(0, "precision is too large"))?,
            ),
        };
        let arg_no = next_arg + first_arg;
        let Some(arg) = args.get(next_arg) else {
            return Err(FuncError::arg(
                0,
                format!("not enough arguments for the `%{verb}` verb"),
            ));
        };
        next_arg += 1;
        if arg.is_null() && verb != 'v' {
            return Err(FuncError::arg(arg_no, "must not be null"));
        }
        let body = match verb {
            'v' if sharp => json_string(arg)?,
            'v' => match arg {
                Value::String(x) => x.clone(),
                Value::Number(n) => {
                    let sign = if *n < 0.0 { "-" } else { "" };
                    format!("{sign}{}", go_g(n.abs(), None, false))
                }
                Value::Bool(b) => b.to_string(),
                Value::Null => "null".into(),
                other => json_string(other)?,
            },
            't' => match convert(arg, &Type::Bool) {
                Ok(Value::Bool(b)) => b.to_string(),
                _ => return Err(FuncError::arg(arg_no, "a bool is required for `%t`")),
            },
            's' => {
                let v = match convert(arg, &Type::String) {
                    Ok(Value::String(x)) => x,
                    _ => return Err(FuncError::arg(arg_no, "a string is required for `%s`")),
                };
                match precision {
                    Some(p) => v.chars().take(p).collect(),
                    None => v,
                }
            }
            'q' => match convert(arg, &Type::String) {
                Ok(Value::String(x)) => json_string(&Value::String(x))?,
                _ => return Err(FuncError::arg(arg_no, "a string is required for `%q`")),
            },
            'd' | 'b' | 'o' | 'x' | 'X' | 'e' | 'E' | 'f' | 'F' | 'g' | 'G' => {
                let n = match convert(arg, &Type::Number) {
                    Ok(Value::Number(n)) => n,
                    _ if matches!(verb, 'x' | 'X') && arg.as_str().is_some() => {
                        let text = arg.as_str().unwrap_or_default();
                        let hex: String = text.bytes().map(|b| format!("{b:02x}")).collect();
                        let body = if verb == 'X' { hex.to_uppercase() } else { hex };
                        out.push_str(&pad(body, width, minus, false));
                        continue;
                    }
                    _ => {
                        return Err(FuncError::arg(
                            arg_no,
                            format!("a number is required for `%{verb}`"),
                        ))
                    }
                };
                let sign = if n < 0.0 {
                    "-"
                } else if plus {
                    "+"
                } else if space {
                    " "
                } else {
                    ""
                };
                let a = n.abs();
                let digits = match verb {
                    'd' | 'b' | 'o' | 'x' | 'X' => {
                        // Every whole `f64` below 2^128 converts exactly (go-cty formats
                        // big integers the same way).
                        if a.fract() != 0.0 || a >= 3.4e38 {
                            return Err(FuncError::arg(
                                arg_no,
                                format!("a whole number is required for `%{verb}`"),
                            ));
                        }
                        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                        let i = a as u128;
                        match verb {
                            'b' => format!("{i:b}"),
                            'o' => format!("{}{i:o}", if sharp { "0" } else { "" }),
                            'x' => format!("{}{i:x}", if sharp { "0x" } else { "" }),
                            'X' => format!("{}{i:X}", if sharp { "0X" } else { "" }),
                            _ => i.to_string(),
                        }
                    }
                    'e' | 'E' => {
                        let p = precision.unwrap_or(6);
                        let t = go_exp(a, p);
                        if verb == 'E' {
                            t.to_uppercase()
                        } else {
                            t
                        }
                    }
                    'f' | 'F' => format!("{a:.*}", precision.unwrap_or(6)),
                    _ => go_g(a, precision, verb == 'G'),
                };
                let body = format!("{sign}{digits}");
                if zero && !minus && body.len() < width {
                    let fill = "0".repeat(width - body.len());
                    out.push_str(sign);
                    out.push_str(&fill);
                    out.push_str(&digits);
                    continue;
                }
                body
            }
            other => {
                return Err(FuncError::arg(
                    0,
                    format!("unsupported format verb `%{other}`"),
                ))
            }
        };
        out.push_str(&pad(body, width, minus, zero && verb == 's'));
        if out.len() > MAX_STRING_BYTES {
            return Err(FuncError::call("result is too large"));
        }
    }
    Ok(out)
}

/// Decimal digits of a finite `a ≥ 0` (no leading or trailing zeros) and the position of the
/// decimal point: `a = 0.DIGITS × 10^point`. `precision` rounds to that many significant digits;
/// `None` gives the shortest digits that read back as `a` (after the binary-noise rounding of
/// [`format_number`], so `0.1 + 0.2` has the digits of `0.3`).
fn decimal_digits(a: f64, precision: Option<usize>) -> (Vec<u8>, i64) {
    if a == 0.0 {
        return (Vec::new(), 1);
    }
    let t = match precision {
        Some(p) => format!("{a:.*e}", p.saturating_sub(1)),
        None => {
            let v: f64 = format_number(a).parse().unwrap_or(a);
            format!("{v:e}")
        }
    };
    let (m, e) = t.split_once('e').unwrap_or((t.as_str(), "0"));
    let exp: i64 = e.parse().unwrap_or(0);
    let mut digits: Vec<u8> = m.bytes().filter(u8::is_ascii_digit).collect();
    while digits.last() == Some(&b'0') {
        digits.pop();
    }
    (digits, exp + 1)
}

/// Go's `%g` / `%G` as go-cty's `format` applies it to a number (`fmt` with a `big.Float`,
/// <https://github.com/zclconf/go-cty/blob/main/cty/function/stdlib/format.go>): without a
/// precision the shortest digits, in exponent form when the exponent is below -4 or at least 6
/// (`1e+21`, `1E-07`, `1.234567e+06`); with a precision that many significant digits, in
/// exponent form when the exponent is at least the precision. Trailing zeros are dropped.
fn go_g(a: f64, precision: Option<usize>, upper: bool) -> String {
    let shortest = precision.is_none();
    let (digits, point) = decimal_digits(a, precision.map(|p| p.max(1)));
    let nd = i64::try_from(digits.len()).unwrap_or(0);
    let mut prec = precision.map_or(nd, |p| i64::try_from(p.max(1)).unwrap_or(i64::MAX));
    let mut eprec = prec;
    if eprec > nd && nd >= point {
        eprec = nd;
    }
    if shortest {
        eprec = 6;
    }
    let exp = if digits.is_empty() { 0 } else { point - 1 };
    let digit = |i: i64| -> char {
        usize::try_from(i)
            .ok()
            .and_then(|i| digits.get(i))
            .map_or('0', |d| char::from(*d))
    };
    let mut out = String::new();
    if exp < -4 || exp >= eprec {
        if prec > nd {
            prec = nd;
        }
        out.push(digit(0));
        if prec > 1 {
            out.push('.');
            for i in 1..prec {
                out.push(digit(i));
            }
        }
        out.push(if upper { 'E' } else { 'e' });
        out.push(if exp < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exp.abs()));
        return out;
    }
    if prec > point {
        prec = nd;
    }
    let frac = (prec - point).max(0);
    if point > 0 {
        for i in 0..point {
            out.push(digit(i));
        }
    } else {
        out.push('0');
    }
    if frac > 0 {
        out.push('.');
        for i in 0..frac {
            out.push(digit(point + i));
        }
    }
    out
}

/// Go's `%e`: mantissa with `precision` digits and a two-digit signed exponent.
fn go_exp(a: f64, precision: usize) -> String {
    let t = format!("{a:.precision$e}");
    match t.split_once('e') {
        Some((m, e)) => {
            let (sign, digits) = match e.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', e),
            };
            format!("{m}e{sign}{digits:0>2}")
        }
        None => t,
    }
}

fn pad(body: String, width: usize, left: bool, zero: bool) -> String {
    let len = body.chars().count();
    if len >= width {
        return body;
    }
    let fill: String = std::iter::repeat_n(if zero { '0' } else { ' ' }, width - len).collect();
    if left {
        format!("{body}{fill}")
    } else {
        format!("{fill}{body}")
    }
}

fn json_string(v: &Value) -> Result<String, FuncError> {
    super::encoding::json_encode_value(v).ok_or_else(|| FuncError::call("value is not known"))
}
