//! The part of cloud-init that the `process` hypervisor needs: reading a server's `user_data` and
//! turning it into a boot script.
//!
//! Supported formats (what vitrina and VK manifests produce):
//! - a `#!` script: run once per instance, like cloud-init's `scripts-user`;
//! - `#cloud-config` YAML with `bootcmd` (every boot), `write_files` (once; `defer: true` after
//!   `runcmd`), and `runcmd` (once); entries are strings (run by `sh -c`) or argument lists;
//! - `#cloud-boothook` (every boot, first);
//! - multipart MIME (`Content-Type: multipart/mixed`) holding any of these as `text/x-shellscript`,
//!   `text/x-shellscript-per-boot`, `text/cloud-config`, `text/cloud-boothook` parts, with
//!   optional base64 transfer encoding. Several cloud-config parts are merged (lists appended).
//!
//! **Paths**: a VM's `/` is its instance folder. `write_files` paths are taken relative to it
//! (`/etc/app.conf` → `<instance>/etc/app.conf`), and commands run with the instance folder as
//! working directory and `$VITRINA_ROOT` pointing at it. In the isolated mode the commands run
//! inside the VM (its own root, `$VITRINA_ROOT` is `/`), so absolute paths are the VM's; in the
//! shared mode they run on the host, where an absolute path is the host's and scripts use relative
//! paths or `$VITRINA_ROOT`.

use base64::Engine as _;
use serde_json::Value;

/// A command from `runcmd`/`bootcmd`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cmd {
    /// A string, run by the shell.
    Shell(String),
    /// An argument list, run without a shell.
    Argv(Vec<String>),
}

impl Cmd {
    /// The command as one line of shell.
    pub fn to_shell(&self) -> String {
        match self {
            Cmd::Shell(s) => s.clone(),
            Cmd::Argv(a) => a
                .iter()
                .map(|x| shell_quote(x))
                .collect::<Vec<_>>()
                .join(" "),
        }
    }
}

/// Quotes a string for POSIX sh.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b))
    {
        return s.to_owned();
    }
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// A `write_files` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteFile {
    /// Relative to the instance root (leading `/` removed, `..` rejected).
    pub path: String,
    pub content: Vec<u8>,
    /// Octal permissions.
    pub permissions: Option<u32>,
    pub append: bool,
    pub defer: bool,
}

/// A script to run (`#!` user data or a shell-script part).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    pub name: String,
    pub content: Vec<u8>,
    /// Every boot (`text/x-shellscript-per-boot`, boothooks) or once per instance.
    pub per_boot: bool,
    /// A boothook runs before everything else.
    pub boothook: bool,
}

/// What a server's user data asks cloud-init to do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BootPlan {
    pub bootcmd: Vec<Cmd>,
    pub write_files: Vec<WriteFile>,
    pub runcmd: Vec<Cmd>,
    pub scripts: Vec<Script>,
    /// Parts that were not understood, with the reason (printed to the console like cloud-init's
    /// warnings).
    pub warnings: Vec<String>,
    /// A limit the user data broke; the server fails with it (set once, first wins).
    refused: Option<UserDataError>,
}

/// User data that cannot be read within the bounds below: the server fails (`ERROR` with this
/// as its fault), localcloud goes on (probe H2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserDataError {
    #[error("cloud-config YAML at {line}:{col}: aliases expand to more than {} KiB (the alias limit)", MAX_EXPANDED_BYTES / 1024)]
    AliasLimit { line: usize, col: usize },
    #[error("cloud-config YAML at {line}:{col}: nesting deeper than {MAX_DEPTH} levels (the nesting limit)")]
    DepthLimit { line: usize, col: usize },
    #[error("cloud-config YAML could not be read within {} ms (the time limit)", PARSE_TIME_LIMIT.as_millis())]
    TimeLimit,
}

/// The most bytes a cloud-config document may expand to once its aliases are copied: each node
/// costs its text plus [`NODE_COST`]. user_data is at most 64 KiB, so this leaves room for any
/// honest use of anchors while a 44 KB alias bomb (asking for gigabytes) is refused.
pub const MAX_EXPANDED_BYTES: usize = 8 * 1024 * 1024;
/// What one node costs against [`MAX_EXPANDED_BYTES`] besides its text.
const NODE_COST: usize = 64;
/// Deeper nesting is refused (cloud-config is shallow; later walks recurse).
pub const MAX_DEPTH: usize = 64;
/// The most time reading one cloud-config document may take.
pub const PARSE_TIME_LIMIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Reads user data (already base64-decoded) into a plan. What cannot be understood becomes a
/// warning, like cloud-init logs and goes on.
///
/// # Errors
/// A cloud-config document that breaks the alias, nesting or time limit.
pub fn plan(user_data: &[u8]) -> Result<BootPlan, UserDataError> {
    let mut plan = BootPlan::default();
    add_part(&mut plan, user_data, None, 0);
    match plan.refused.take() {
        Some(e) => Err(e),
        None => Ok(plan),
    }
}

/// Walks the YAML events of `text` (without building anything, so memory stays linear in the
/// input) and measures what the document expands to once aliases are copied, its depth and the
/// time taken. `Ok(Some(message))` when the YAML is malformed.
fn check_bounds(text: &str) -> Result<Option<String>, UserDataError> {
    use saphyr_parser::{Event, Parser};
    let started = std::time::Instant::now();
    let mut parser = Parser::new_from_str(text);
    // Expanded size of each open collection, and of each anchor seen.
    let mut open: Vec<(usize, usize)> = Vec::new();
    let mut anchors: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
    let mut total = 0usize;
    let mut events = 0usize;
    while let Some(ev) = parser.next_event() {
        events += 1;
        if events.is_multiple_of(1024) && started.elapsed() > PARSE_TIME_LIMIT {
            return Err(UserDataError::TimeLimit);
        }
        let (ev, span) = match ev {
            Ok(x) => x,
            Err(e) => {
                let m = e.marker();
                return Ok(Some(format!(
                    "{} at {}:{}",
                    e.info(),
                    m.line(),
                    m.col() + 1
                )));
            }
        };
        // Line is 1-based in saphyr's markers, the column 0-based.
        let (line, col) = (span.start.line(), span.start.col() + 1);
        let done: Option<(usize, usize)> = match ev {
            Event::Scalar(value, _, anchor, _) => {
                Some((NODE_COST.saturating_add(value.len()), anchor))
            }
            Event::Alias(id) => Some((anchors.get(&id).copied().unwrap_or(NODE_COST), 0)),
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if open.len() >= MAX_DEPTH {
                    return Err(UserDataError::DepthLimit { line, col });
                }
                open.push((NODE_COST, anchor));
                None
            }
            Event::SequenceEnd | Event::MappingEnd => open.pop(),
            _ => None,
        };
        if let Some((size, anchor)) = done {
            total = total.saturating_add(size);
            if total > MAX_EXPANDED_BYTES || size > MAX_EXPANDED_BYTES {
                return Err(UserDataError::AliasLimit { line, col });
            }
            if anchor != 0 {
                anchors.insert(anchor, size);
            }
            if let Some(parent) = open.last_mut() {
                parent.0 = parent.0.saturating_add(size);
            }
        }
    }
    Ok(None)
}

fn add_part(plan: &mut BootPlan, data: &[u8], content_type: Option<&str>, depth: usize) {
    if depth > 8 {
        plan.warnings
            .push("multipart nesting deeper than 8 ignored".into());
        return;
    }
    let text = String::from_utf8_lossy(data);
    let trimmed = text.trim_start();
    let ct = content_type.map(|c| c.trim().to_ascii_lowercase());
    let n = plan.scripts.len() + 1;
    match ct.as_deref() {
        Some(c) if c.starts_with("multipart/") => add_multipart(plan, data, c, depth),
        Some("text/cloud-config") | Some("text/cloud-config-jsonp") => {
            add_cloud_config(plan, &text)
        }
        Some("text/x-shellscript") => plan.scripts.push(Script {
            name: format!("part-{n:03}"),
            content: data.to_vec(),
            per_boot: false,
            boothook: false,
        }),
        Some("text/x-shellscript-per-boot") => plan.scripts.push(Script {
            name: format!("part-{n:03}"),
            content: data.to_vec(),
            per_boot: true,
            boothook: false,
        }),
        Some("text/cloud-boothook") => plan.scripts.push(Script {
            name: format!("boothook-{n:03}"),
            content: strip_first_line_if(data, "#cloud-boothook"),
            per_boot: true,
            boothook: true,
        }),
        Some(c) if c != "text/plain" && c != "text/x-not-multipart" => {
            plan.warnings.push(format!("unhandled part type {c}"));
        }
        _ => {
            if trimmed.starts_with("#cloud-config") {
                add_cloud_config(plan, &text);
            } else if trimmed.starts_with("#cloud-boothook") {
                plan.scripts.push(Script {
                    name: format!("boothook-{n:03}"),
                    content: strip_first_line_if(data, "#cloud-boothook"),
                    per_boot: true,
                    boothook: true,
                });
            } else if trimmed.starts_with("#!") {
                plan.scripts.push(Script {
                    name: format!("part-{n:03}"),
                    content: data.to_vec(),
                    per_boot: false,
                    boothook: false,
                });
            } else if let Some(ct) = mime_content_type(&text) {
                if ct.starts_with("multipart/") {
                    add_multipart(plan, data, &ct, depth);
                } else {
                    plan.warnings.push(format!("unhandled user data type {ct}"));
                }
            } else if !trimmed.is_empty() {
                plan.warnings.push(
                    "user data is neither a #! script, #cloud-config nor MIME; ignored".into(),
                );
            }
        }
    }
}

fn strip_first_line_if(data: &[u8], marker: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(data);
    match text.trim_start().strip_prefix(marker) {
        Some(rest) => rest.trim_start_matches(['\r', '\n']).as_bytes().to_vec(),
        None => data.to_vec(),
    }
}

/// The `Content-Type` header of a MIME message at the start of `text`, with parameters.
fn mime_content_type(text: &str) -> Option<String> {
    let (headers, _) = split_headers(text);
    headers
        .into_iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v)
}

/// Splits RFC 822 headers (with folded lines) from the body.
fn split_headers(text: &str) -> (Vec<(String, String)>, &str) {
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut rest = text;
    loop {
        let (line, next) = match rest.find('\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, ""),
        };
        let line_t = line.trim_end_matches('\r');
        if line_t.is_empty() {
            return (headers, next);
        }
        if line_t.starts_with([' ', '\t']) {
            if let Some(last) = headers.last_mut() {
                last.1.push(' ');
                last.1.push_str(line_t.trim());
            }
        } else if let Some((k, v)) = line_t.split_once(':') {
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        } else {
            // Not a header block.
            return (Vec::new(), text);
        }
        if next.is_empty() {
            return (headers, "");
        }
        rest = next;
    }
}

fn param(header: &str, name: &str) -> Option<String> {
    header.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        if k.trim().eq_ignore_ascii_case(name) {
            Some(v.trim().trim_matches('"').to_owned())
        } else {
            None
        }
    })
}

fn add_multipart(plan: &mut BootPlan, data: &[u8], ct_header: &str, depth: usize) {
    let text = String::from_utf8_lossy(data);
    // The content type may come from the part's own headers; take the boundary from either.
    let (headers, body) = split_headers(&text);
    let header_ct = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.clone());
    let boundary = param(ct_header, "boundary")
        .or_else(|| header_ct.as_deref().and_then(|h| param(h, "boundary")));
    let Some(boundary) = boundary else {
        plan.warnings
            .push("multipart user data without a boundary".into());
        return;
    };
    let body = if headers.is_empty() {
        text.as_ref()
    } else {
        body
    };
    let delim = format!("--{boundary}");
    let mut sections = body.split(delim.as_str());
    sections.next(); // preamble
    for section in sections {
        if section.starts_with("--") {
            break; // closing delimiter
        }
        let section = section
            .strip_prefix("\r\n")
            .or_else(|| section.strip_prefix('\n'))
            .unwrap_or(section);
        let (part_headers, part_body) = split_headers(section);
        let part_body = part_body
            .strip_suffix("\r\n")
            .or_else(|| part_body.strip_suffix('\n'))
            .unwrap_or(part_body);
        let get = |name: &str| {
            part_headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let ct = get("content-type").unwrap_or_else(|| "text/plain".into());
        let bytes = match get("content-transfer-encoding").map(|e| e.to_ascii_lowercase()) {
            Some(e) if e == "base64" => {
                let clean: String = part_body.chars().filter(|c| !c.is_whitespace()).collect();
                match base64::engine::general_purpose::STANDARD.decode(clean) {
                    Ok(b) => b,
                    Err(_) => {
                        plan.warnings
                            .push("a base64 part could not be decoded".into());
                        continue;
                    }
                }
            }
            _ => part_body.as_bytes().to_vec(),
        };
        let main_type = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if main_type.starts_with("multipart/") {
            add_multipart(plan, &bytes, &ct, depth + 1);
        } else {
            add_part(plan, &bytes, Some(&main_type), depth + 1);
        }
    }
}

fn add_cloud_config(plan: &mut BootPlan, text: &str) {
    match check_bounds(text) {
        Ok(None) => {}
        Ok(Some(message)) => {
            plan.warnings
                .push(format!("invalid cloud-config YAML: {message}"));
            return;
        }
        Err(e) => {
            plan.refused.get_or_insert(e);
            return;
        }
    }
    let doc: Value = match serde_yaml::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            plan.warnings
                .push(format!("invalid cloud-config YAML: {e}"));
            return;
        }
    };
    let Value::Object(map) = doc else {
        if !doc.is_null() {
            plan.warnings.push("cloud-config is not a mapping".into());
        }
        return;
    };
    for (key, value) in &map {
        match key.as_str() {
            "bootcmd" => plan
                .bootcmd
                .extend(commands(value, "bootcmd", &mut plan.warnings)),
            "runcmd" => plan
                .runcmd
                .extend(commands(value, "runcmd", &mut plan.warnings)),
            "write_files" => write_files(value, plan),
            _ => plan.warnings.push(format!(
                "cloud-config module `{key}` is not supported by the process hypervisor; ignored"
            )),
        }
    }
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn commands(v: &Value, module: &str, warnings: &mut Vec<String>) -> Vec<Cmd> {
    let Value::Array(items) = v else {
        warnings.push(format!("`{module}` must be a list"));
        return vec![];
    };
    items
        .iter()
        .filter_map(|item| match item {
            Value::Array(args) => {
                let argv: Option<Vec<String>> = args.iter().map(scalar).collect();
                match argv {
                    Some(a) if !a.is_empty() => Some(Cmd::Argv(a)),
                    _ => {
                        warnings.push(format!("`{module}` entry {item} is not a list of strings"));
                        None
                    }
                }
            }
            other => match scalar(other) {
                Some(s) => Some(Cmd::Shell(s)),
                None => {
                    warnings.push(format!(
                        "`{module}` entry {other} is neither a string nor a list"
                    ));
                    None
                }
            },
        })
        .collect()
}

/// Makes a VM path relative to the instance root; `None` when it escapes it.
pub fn relative_path(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for comp in path.split('/') {
        match comp {
            "" | "." => {}
            ".." => return None,
            c => parts.push(c),
        }
    }
    if parts.is_empty() {
        None
    } else {
        Some(parts.join("/"))
    }
}

fn write_files(v: &Value, plan: &mut BootPlan) {
    let Value::Array(items) = v else {
        plan.warnings.push("`write_files` must be a list".into());
        return;
    };
    for item in items {
        let Some(m) = item.as_object() else {
            plan.warnings
                .push("`write_files` entry is not a mapping".into());
            continue;
        };
        let Some(path) = m.get("path").and_then(scalar) else {
            plan.warnings
                .push("`write_files` entry without `path`".into());
            continue;
        };
        let Some(rel) = relative_path(&path) else {
            plan.warnings.push(format!(
                "`write_files` path `{path}` leaves the instance root; ignored"
            ));
            continue;
        };
        let raw = m.get("content").and_then(scalar).unwrap_or_default();
        let encoding = m
            .get("encoding")
            .and_then(scalar)
            .unwrap_or_default()
            .to_ascii_lowercase();
        let content = match encoding.as_str() {
            "" | "text/plain" => raw.into_bytes(),
            "b64" | "base64" => {
                let clean: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
                match base64::engine::general_purpose::STANDARD.decode(clean) {
                    Ok(b) => b,
                    Err(_) => {
                        plan.warnings
                            .push(format!("`write_files` {path}: content is not valid base64"));
                        continue;
                    }
                }
            }
            other => {
                plan.warnings.push(format!(
                    "`write_files` {path}: encoding `{other}` is not supported"
                ));
                continue;
            }
        };
        let permissions = m.get("permissions").and_then(|p| match p {
            Value::String(s) => u32::from_str_radix(s.trim_start_matches("0o"), 8).ok(),
            // YAML reads 0644 as the integer 644 in YAML 1.2 and 420 in 1.1; cloud-init quotes it.
            Value::Number(n) => n
                .as_u64()
                .and_then(|n| u32::from_str_radix(&n.to_string(), 8).ok()),
            _ => None,
        });
        plan.write_files.push(WriteFile {
            path: rel,
            content,
            permissions,
            append: m.get("append").and_then(Value::as_bool).unwrap_or(false),
            defer: m.get("defer").and_then(Value::as_bool).unwrap_or(false),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script() {
        let p = plan(b"#!/bin/sh\necho hi\n").expect("plan");
        assert_eq!(p.scripts.len(), 1);
        assert!(!p.scripts[0].per_boot);
    }

    #[test]
    fn cloud_config() {
        let p = plan(b"#cloud-config\nbootcmd:\n  - echo boot\nwrite_files:\n  - path: /etc/x.conf\n    content: hello\n    permissions: '0600'\nruncmd:\n  - [touch, /tmp/a b]\n  - echo ran > ran.txt\n").expect("plan");
        assert_eq!(p.bootcmd, vec![Cmd::Shell("echo boot".into())]);
        assert_eq!(p.write_files[0].path, "etc/x.conf");
        assert_eq!(p.write_files[0].permissions, Some(0o600));
        assert_eq!(p.runcmd[0].to_shell(), "touch '/tmp/a b'");
        assert_eq!(p.runcmd[1], Cmd::Shell("echo ran > ran.txt".into()));
        assert!(p.warnings.is_empty());
    }

    #[test]
    fn multipart() {
        let ud = "Content-Type: multipart/mixed; boundary=\"XX\"\nMIME-Version: 1.0\n\n--XX\nContent-Type: text/cloud-config\n\n#cloud-config\nruncmd:\n  - echo one\n--XX\nContent-Type: text/x-shellscript\nContent-Transfer-Encoding: base64\n\nIyEvYmluL3NoCmVjaG8gdHdvCg==\n--XX--\n";
        let p = plan(ud.as_bytes()).expect("plan");
        assert_eq!(p.runcmd, vec![Cmd::Shell("echo one".into())]);
        assert_eq!(p.scripts.len(), 1);
        assert_eq!(p.scripts[0].content, b"#!/bin/sh\necho two\n");
    }

    #[test]
    fn escapes_rejected() {
        assert_eq!(relative_path("/../etc/passwd"), None);
        assert_eq!(relative_path("/etc//a"), Some("etc/a".into()));
    }

    #[test]
    fn garbage_is_a_warning() {
        let p = plan(b"#cloud-config\n: : [").expect("plan");
        assert!(!p.warnings.is_empty());
    }

    /// The probe's H2 bomb: 44 KB asking for about 16 GB once aliases are copied.
    fn bomb() -> String {
        let big = "A".repeat(20_000);
        let a = vec!["*a"; 1000].join(",");
        let b = vec!["*b"; 7000].join(",");
        format!("#cloud-config\nx: &a \"{big}\"\ny: &b [{a}]\nz: [{b}]\n")
    }

    #[test]
    fn alias_bomb_is_refused_quickly() {
        let started = std::time::Instant::now();
        let err = plan(bomb().as_bytes()).expect_err("bomb refused");
        assert!(
            matches!(err, UserDataError::AliasLimit { line: 3, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("alias limit"), "{err}");
        // Generous: the walk stops at the first alias past the budget (milliseconds).
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        // Inside a multipart message too.
        let mp = format!("Content-Type: multipart/mixed; boundary=\"XX\"\n\n--XX\nContent-Type: text/cloud-config\n\n{}\n--XX--\n", bomb());
        assert!(plan(mp.as_bytes()).is_err());
    }

    #[test]
    fn honest_aliases_and_deep_nesting() {
        let ok = "#cloud-config\nx: &cmd echo hi\nruncmd:\n  - *cmd\n  - *cmd\n";
        let p = plan(ok.as_bytes()).expect("plan");
        assert_eq!(p.runcmd.len(), 2);
        let deep = format!("#cloud-config\nx: {}{}\n", "[".repeat(200), "]".repeat(200));
        let err = plan(deep.as_bytes()).expect_err("too deep");
        assert!(err.to_string().contains("nesting limit"), "{err}");
    }
}
