//! The server's structured logs: every `tracing` event as one `key=value` line (logfmt) —
//! `ts=… level=WARN target=vitrina_server::hoe::recovery msg="replacing a failed host"
//! uuid=… host=…`. `vitrina serve` writes them to stderr; tests capture them the same way.
//!
//! Filtering follows `RUST_LOG`'s simple form: comma-separated `level` or `target=level`
//! directives (the longest matching target wins; `off` silences). Spans are not tracked: the
//! server logs events with their fields.

use std::io::Write;
use std::sync::Mutex;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};

/// Which events are written.
#[derive(Clone, Debug)]
pub struct Filter {
    default: Option<Level>,
    /// (target prefix, level or `None` for off), longest prefix first.
    targets: Vec<(String, Option<Level>)>,
}

fn level_of(text: &str) -> Result<Option<Level>, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "off" => Ok(None),
        "error" => Ok(Some(Level::ERROR)),
        "warn" => Ok(Some(Level::WARN)),
        "info" => Ok(Some(Level::INFO)),
        "debug" => Ok(Some(Level::DEBUG)),
        "trace" => Ok(Some(Level::TRACE)),
        other => Err(format!(
            "`{other}` is not a log level (error, warn, info, debug, trace, off)"
        )),
    }
}

impl Filter {
    /// What `vitrina serve` writes when `RUST_LOG` is not set.
    pub const DEFAULT: &'static str = "info,sqlx=warn";

    /// Reads `RUST_LOG`-style directives; targets no directive names get `info`.
    pub fn parse(text: &str) -> Result<Filter, String> {
        let mut f = Filter {
            default: Some(Level::INFO),
            targets: Vec::new(),
        };
        for d in text.split(',').map(str::trim).filter(|d| !d.is_empty()) {
            match d.split_once('=') {
                Some((target, level)) => {
                    f.targets.push((target.trim().to_owned(), level_of(level)?))
                }
                None => f.default = level_of(d)?,
            }
        }
        f.targets.sort_by_key(|(t, _)| std::cmp::Reverse(t.len()));
        Ok(f)
    }

    fn max_for(&self, target: &str) -> Option<Level> {
        self.targets
            .iter()
            .find(|(t, _)| target == t || target.starts_with(&format!("{t}::")))
            .map_or(self.default, |(_, l)| *l)
    }

    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        // `Level` orders more verbose as greater.
        self.max_for(meta.target())
            .is_some_and(|max| *meta.level() <= max)
    }
}

/// A subscriber writing one line per event to `W`.
pub struct LineLogger<W: Write + Send + 'static> {
    filter: Filter,
    out: Mutex<W>,
}

impl<W: Write + Send + 'static> LineLogger<W> {
    pub fn new(filter: Filter, out: W) -> Self {
        LineLogger {
            filter,
            out: Mutex::new(out),
        }
    }
}

/// Installs `logger` as the process's subscriber; `false` when one is installed already.
pub fn install<W: Write + Send + 'static>(logger: LineLogger<W>) -> bool {
    tracing::subscriber::set_global_default(logger).is_ok()
}

/// A value as logfmt writes it: bare when it is one plain word, else quoted with `\"`, `\\`,
/// `\n` escaped.
fn quote(value: &str, out: &mut String) {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && c != '"' && c != '=' && c != '\\');
    if plain {
        out.push_str(value);
        return;
    }
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[derive(Default)]
struct Fields {
    message: Option<String>,
    rest: Vec<(&'static str, String)>,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let text = format!("{value:?}");
        if field.name() == "message" {
            self.message = Some(text);
        } else {
            self.rest.push((field.name(), text));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = Some(value.to_owned());
        } else {
            self.rest.push((field.name(), value.to_owned()));
        }
    }
}

/// One event as a line (without the newline).
fn line(event: &Event<'_>) -> String {
    let mut fields = Fields::default();
    event.record(&mut fields);
    let meta = event.metadata();
    let mut out = String::with_capacity(128);
    out.push_str("ts=");
    out.push_str(
        &chrono::Utc::now()
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string(),
    );
    out.push_str(" level=");
    out.push_str(meta.level().as_str());
    out.push_str(" target=");
    quote(meta.target(), &mut out);
    if let Some(m) = &fields.message {
        out.push_str(" msg=");
        quote(m, &mut out);
    }
    for (k, v) in &fields.rest {
        out.push(' ');
        out.push_str(k);
        out.push('=');
        quote(v, &mut out);
    }
    out
}

impl<W: Write + Send + 'static> Subscriber for LineLogger<W> {
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        if self.filter.enabled(meta) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        self.filter.enabled(meta)
    }

    fn new_span(&self, _span: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _span: &Id, _values: &Record<'_>) {}

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut text = line(event);
        text.push('\n');
        let mut out = self
            .out
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // A log line that cannot be written is dropped, never a failure of the server.
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }

    fn enter(&self, _span: &Id) {}

    fn exit(&self, _span: &Id) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_by_level_and_target() {
        let f = Filter::parse("warn,vitrina_server::hoe=debug,hyper=off").expect("filter");
        assert_eq!(f.max_for("vitrina_server::hoe::worker"), Some(Level::DEBUG));
        assert_eq!(f.max_for("vitrina_server::http"), Some(Level::WARN));
        assert_eq!(f.max_for("hyper"), None);
        assert_eq!(f.max_for("hyperx"), Some(Level::WARN));
        assert!(Filter::parse("loud").is_err());
        assert_eq!(
            Filter::parse("").expect("empty").max_for("x"),
            Some(Level::INFO)
        );
        let d = Filter::parse(Filter::DEFAULT).expect("default");
        assert_eq!(d.max_for("sqlx::query"), Some(Level::WARN));
    }

    #[test]
    fn values_are_quoted_when_needed() {
        let mut s = String::new();
        quote("plain-word", &mut s);
        s.push(' ');
        quote("two words \"q\"\nnext", &mut s);
        assert_eq!(s, "plain-word \"two words \\\"q\\\"\\nnext\"");
    }
}
