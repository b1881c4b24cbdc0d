//! Filesystem functions. Paths resolve against the context's base folder (the module folder)
//! and must stay inside it: a manifest cannot read files of the machine that evaluates it.

use std::path::{Component, Path, PathBuf};

use base64::Engine as _;

use super::{str_arg, FResult, FuncError};
use crate::eval::{evaluate_template, EvalContext};
use crate::value::Value;

/// Largest file the file functions read, in bytes.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Deepest chain of `templatefile` calls from templates.
const MAX_TEMPLATE_DEPTH: usize = 8;

fn base(ctx: &EvalContext) -> Result<&Path, FuncError> {
    ctx.base_dir().ok_or_else(|| {
        FuncError::call("file functions are not available here: no module folder is set")
    })
}

/// `path` with `.` removed and `..` applied, without touching the file system.
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Lexically joins `path` onto `base` and checks the result stays inside `base`.
fn resolve(ctx: &EvalContext, path: &str, arg: usize) -> Result<PathBuf, FuncError> {
    // Compare absolute paths: a relative base such as `.` would otherwise contain everything.
    let base = std::path::absolute(base(ctx)?)
        .map_err(|e| FuncError::call(format!("cannot resolve the module folder: {e}")))?;
    let base = base.as_path();
    let p = Path::new(path);
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    };
    let out = lexical(&joined);
    let base_norm = lexical(base);
    if !out.starts_with(&base_norm) {
        return Err(FuncError::arg(
            arg,
            format!("{path:?} is outside the module folder"),
        ));
    }
    // Symbolic links must not lead outside either.
    if let (Ok(real), Ok(real_base)) = (out.canonicalize(), base.canonicalize()) {
        if !real.starts_with(&real_base) {
            return Err(FuncError::arg(
                arg,
                format!("{path:?} leads outside the module folder"),
            ));
        }
    }
    Ok(out)
}

fn read_bytes(ctx: &EvalContext, a: &[Value]) -> Result<Vec<u8>, FuncError> {
    let path = str_arg(a, 0)?;
    let full = resolve(ctx, path, 0)?;
    let meta = std::fs::metadata(&full)
        .map_err(|e| FuncError::arg(0, format!("cannot read {path:?}: {e}")))?;
    if !meta.is_file() {
        return Err(FuncError::arg(0, format!("{path:?} is not a file")));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(FuncError::arg(
            0,
            format!("{path:?} is larger than {MAX_FILE_BYTES} bytes"),
        ));
    }
    std::fs::read(&full).map_err(|e| FuncError::arg(0, format!("cannot read {path:?}: {e}")))
}

fn read_text(ctx: &EvalContext, a: &[Value]) -> Result<String, FuncError> {
    let bytes = read_bytes(ctx, a)?;
    String::from_utf8(bytes).map_err(|_| {
        FuncError::arg(
            0,
            "the file is not valid UTF-8; use `filebase64` for binary files",
        )
    })
}

pub(crate) fn file(ctx: &EvalContext, a: Vec<Value>) -> FResult {
    read_text(ctx, &a).map(Value::String)
}

pub(crate) fn filebase64(ctx: &EvalContext, a: Vec<Value>) -> FResult {
    let bytes = read_bytes(ctx, &a)?;
    Ok(Value::String(
        base64::engine::general_purpose::STANDARD.encode(bytes),
    ))
}

pub(crate) fn fileexists(ctx: &EvalContext, a: Vec<Value>) -> FResult {
    let path = str_arg(&a, 0)?;
    let full = resolve(ctx, path, 0)?;
    match std::fs::metadata(&full) {
        Ok(m) if m.is_file() => Ok(Value::Bool(true)),
        Ok(_) => Err(FuncError::arg(0, format!("{path:?} is not a regular file"))),
        Err(_) => Ok(Value::Bool(false)),
    }
}

pub(crate) fn filemd5(ctx: &EvalContext, a: Vec<Value>) -> FResult {
    Ok(super::hash::digest_hex("md5", &read_bytes(ctx, &a)?))
}

pub(crate) fn filesha1(ctx: &EvalContext, a: Vec<Value>) -> FResult {
    Ok(super::hash::digest_hex("sha1", &read_bytes(ctx, &a)?))
}

pub(crate) fn filesha256(ctx: &EvalContext, a: Vec<Value>) -> FResult {
    Ok(super::hash::digest_hex("sha256", &read_bytes(ctx, &a)?))
}

pub(crate) fn filesha512(ctx: &EvalContext, a: Vec<Value>) -> FResult {
    Ok(super::hash::digest_hex("sha512", &read_bytes(ctx, &a)?))
}

pub(crate) fn filebase64sha256(ctx: &EvalContext, a: Vec<Value>) -> FResult {
    Ok(super::hash::digest_b64("sha256", &read_bytes(ctx, &a)?))
}

pub(crate) fn filebase64sha512(ctx: &EvalContext, a: Vec<Value>) -> FResult {
    Ok(super::hash::digest_b64("sha512", &read_bytes(ctx, &a)?))
}

pub(crate) fn templatefile(ctx: &EvalContext, a: Vec<Value>) -> FResult {
    if ctx.template_depth() >= MAX_TEMPLATE_DEPTH {
        return Err(FuncError::call(
            "templates call `templatefile` too deeply (a template may be including itself)",
        ));
    }
    let path = str_arg(&a, 0)?.to_string();
    let text = read_text(ctx, &a)?;
    let vars = match a.get(1) {
        Some(Value::Map(m) | Value::Object(m)) => m.clone(),
        Some(Value::Null) | None => Default::default(),
        Some(_) => {
            return Err(FuncError::arg(
                1,
                "a map or object of variables is required",
            ))
        }
    };
    let template = crate::parse::parse_template(&path, &text).map_err(|d| {
        FuncError::arg(
            0,
            format!("{path:?} is not a valid template: {}", d.message),
        )
    })?;
    let mut inner = ctx.child_for_template();
    for (k, v) in vars {
        inner.set_variable(k, v);
    }
    evaluate_template(&template, &inner)
        .map_err(|e| FuncError::arg(0, format!("in template {path:?}: {}", e.message)))
}

pub(crate) fn fileset(ctx: &EvalContext, a: Vec<Value>) -> FResult {
    let dir = str_arg(&a, 0)?;
    let pattern = str_arg(&a, 1)?;
    let root = resolve(ctx, dir, 0)?;
    let mut found = Vec::new();
    let mut stack = vec![(root.clone(), String::new())];
    let mut visited = 0usize;
    while let Some((path, rel)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&path) else {
            continue;
        };
        for entry in entries.flatten() {
            visited += 1;
            if visited > 100_000 {
                return Err(FuncError::arg(0, "too many files under this folder"));
            }
            let name = entry.file_name().to_string_lossy().to_string();
            let child_rel = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            let Ok(ft) = entry.file_type() else { continue };
            if ft.is_dir() {
                stack.push((entry.path(), child_rel));
            } else if ft.is_file() && glob_match(pattern, &child_rel) {
                found.push(Value::String(child_rel));
            }
        }
    }
    Ok(Value::set(found))
}

/// Glob matching on `/`-separated paths: `*` and `?` within a segment, `**` across segments,
/// `[abc]` classes.
fn glob_match(pattern: &str, path: &str) -> bool {
    let pat: Vec<&str> = pattern
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    let segs: Vec<&str> = path.split('/').collect();
    match_segments(&pat, &segs, 0)
}

fn match_segments(pat: &[&str], segs: &[&str], depth: usize) -> bool {
    if depth > 64 {
        return false;
    }
    match pat.split_first() {
        None => segs.is_empty(),
        Some((&"**", rest)) => (0..=segs.len()).any(|i| {
            segs.get(i..)
                .is_some_and(|s| match_segments(rest, s, depth + 1))
        }),
        Some((p, rest)) => match segs.split_first() {
            Some((s, srest)) => {
                match_segment(
                    &p.chars().collect::<Vec<_>>(),
                    &s.chars().collect::<Vec<_>>(),
                ) && match_segments(rest, srest, depth + 1)
            }
            None => false,
        },
    }
}

fn match_segment(p: &[char], s: &[char]) -> bool {
    // Iterative wildcard matching with backtracking on the last `*`.
    let (mut pi, mut si) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        let pc = p.get(pi).copied();
        let sc = s.get(si).copied();
        match pc {
            Some('*') => {
                star = Some((pi, si));
                pi += 1;
                continue;
            }
            Some('?') => {
                pi += 1;
                si += 1;
                continue;
            }
            Some('[') => {
                if let Some(close) = p
                    .get(pi + 1..)
                    .and_then(|r| r.iter().position(|c| *c == ']'))
                {
                    let class = p.get(pi + 1..pi + 1 + close).unwrap_or(&[]);
                    let (negate, class) = match class.split_first() {
                        Some(('!' | '^', rest)) => (true, rest),
                        _ => (false, class),
                    };
                    let hit = sc.is_some_and(|c| class_contains(class, c));
                    if hit != negate {
                        pi += close + 2;
                        si += 1;
                        continue;
                    }
                } else if sc == Some('[') {
                    pi += 1;
                    si += 1;
                    continue;
                }
            }
            Some(c) if Some(c) == sc => {
                pi += 1;
                si += 1;
                continue;
            }
            _ => {}
        }
        match star {
            Some((sp, ss)) => {
                pi = sp + 1;
                si = ss + 1;
                star = Some((sp, ss + 1));
            }
            None => return false,
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|c| *c == '*'))
}

fn class_contains(class: &[char], c: char) -> bool {
    let mut i = 0;
    while let Some(&lo) = class.get(i) {
        if class.get(i + 1) == Some(&'-') {
            if let Some(&hi) = class.get(i + 2) {
                if lo <= c && c <= hi {
                    return true;
                }
                i += 3;
                continue;
            }
        }
        if lo == c {
            return true;
        }
        i += 1;
    }
    false
}

pub(crate) fn abspath(ctx: &EvalContext, a: Vec<Value>) -> FResult {
    let path = str_arg(&a, 0)?;
    let p = Path::new(path);
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        let base = ctx
            .base_dir()
            .map(Path::to_path_buf)
            .or_else(|| std::env::current_dir().ok())
            .unwrap_or_default();
        let base = if base.is_absolute() {
            base
        } else {
            std::env::current_dir().unwrap_or_default().join(base)
        };
        base.join(p)
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    Ok(Value::String(out.to_string_lossy().replace('\\', "/")))
}

pub(crate) fn basename(_: &EvalContext, a: Vec<Value>) -> FResult {
    let path = str_arg(&a, 0)?;
    let trimmed = path.trim_end_matches('/');
    if path.is_empty() {
        return Ok(Value::String(".".into()));
    }
    if trimmed.is_empty() {
        return Ok(Value::String("/".into()));
    }
    Ok(Value::String(
        trimmed.rsplit('/').next().unwrap_or(trimmed).to_string(),
    ))
}

pub(crate) fn dirname(_: &EvalContext, a: Vec<Value>) -> FResult {
    let path = str_arg(&a, 0)?;
    let dir = match path.rfind('/') {
        None => ".".to_string(),
        Some(0) => "/".to_string(),
        Some(i) => {
            let d = path.get(..i).unwrap_or(".");
            let d = d.trim_end_matches('/');
            if d.is_empty() {
                "/".to_string()
            } else {
                clean(d)
            }
        }
    };
    Ok(Value::String(dir))
}

/// Go's `filepath.Clean` for the common cases: collapses `//` and `.` segments.
fn clean(p: &str) -> String {
    let abs = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." if parts.last().is_some_and(|l| *l != "..") => {
                parts.pop();
            }
            ".." if abs => {}
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    match (abs, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

pub(crate) fn pathexpand(_: &EvalContext, a: Vec<Value>) -> FResult {
    let path = str_arg(&a, 0)?;
    let home = std::env::var("HOME").unwrap_or_default();
    Ok(Value::String(if path == "~" {
        home
    } else if let Some(rest) = path.strip_prefix("~/") {
        format!("{home}/{rest}")
    } else {
        path.to_string()
    }))
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs() {
        assert!(glob_match("*.txt", "a.txt"));
        assert!(!glob_match("*.txt", "d/a.txt"));
        assert!(glob_match("**/*.txt", "d/e/a.txt"));
        assert!(glob_match("**/*.txt", "a.txt"));
        assert!(glob_match("d/?.sh", "d/x.sh"));
        assert!(glob_match("[ab].sh", "b.sh"));
        assert!(!glob_match("[ab].sh", "c.sh"));
    }
}
