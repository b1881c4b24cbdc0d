//! The metrics intake behind data `ivkcs_monitoring_user`: VMs' Telegraf sends InfluxDB line
//! protocol (`[[outputs.influxdb]]` with `urls = [endpoint without /write]`, or `[[outputs.http]]`
//! with `data_format = "influx"`) to `POST /metrics/v1/write`, authenticated with the monitoring
//! user (HTTP Basic, or InfluxDB v1's `u`/`p` query parameters), gzip or plain. The latest point
//! of each series field is kept per deployment (`uuid` or `deployment` tag) and host (`host`
//! tag, which Telegraf adds). The engine reads them at `GET /config/v1/metrics[?host=H]`.
//!
//! VK's own intake takes its `mcs_metrics` output plugin; a stock Telegraf has none, so the
//! InfluxDB protocol, which every Telegraf speaks, is what this one takes.

use std::collections::BTreeMap;
use std::io::Read as _;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use vitrina_agent_api::services::{MetricPoint, MonitoringUser};
use vitrina_common::Secret;

use crate::app::ConfigService;
use crate::crypto::{new_token, token_hash};
use crate::error::ServerError;
use crate::http::{EngineCaller, HttpState};
use crate::services::ENGINE_OWNER;
use crate::store::{MonitoringUserRow, PointRow};

/// Largest body accepted (after gzip), in bytes.
pub const MAX_BODY: usize = 4 << 20;
/// Most points (fields) in one write.
pub const MAX_POINTS: usize = 20_000;

/// A parsed line: measurement, tags, fields, timestamp.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub measurement: String,
    pub tags: BTreeMap<String, String>,
    pub fields: Vec<(String, serde_json::Value)>,
    pub time_ns: Option<i64>,
}

/// Splits at `sep` outside backslash escapes (and outside double quotes when `quotes`).
fn split_unescaped(s: &str, sep: char, quotes: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut escaped, mut quoted) = (false, false);
    for c in s.chars() {
        if escaped {
            cur.push('\\');
            cur.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if quotes && c == '"' {
            quoted = !quoted;
            cur.push(c);
        } else if c == sep && !quoted {
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    if escaped {
        cur.push('\\');
    }
    out.push(cur);
    out
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(n) => out.push(n),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn field_value(raw: &str) -> Result<serde_json::Value, String> {
    if let Some(q) = raw.strip_prefix('"') {
        let inner = q
            .strip_suffix('"')
            .ok_or_else(|| format!("unterminated string `{raw}`"))?;
        return Ok(serde_json::Value::String(unescape(inner)));
    }
    match raw {
        "t" | "T" | "true" | "True" | "TRUE" => return Ok(true.into()),
        "f" | "F" | "false" | "False" | "FALSE" => return Ok(false.into()),
        _ => {}
    }
    if let Some(i) = raw.strip_suffix('i') {
        return i
            .parse::<i64>()
            .map(Into::into)
            .map_err(|_| format!("bad integer `{raw}`"));
    }
    if let Some(u) = raw.strip_suffix('u') {
        return u
            .parse::<u64>()
            .map(Into::into)
            .map_err(|_| format!("bad unsigned integer `{raw}`"));
    }
    let f: f64 = raw.parse().map_err(|_| format!("bad value `{raw}`"))?;
    serde_json::Number::from_f64(f)
        .map(serde_json::Value::Number)
        .ok_or_else(|| format!("`{raw}` is not a finite number"))
}

/// Parses one line of InfluxDB line protocol; `scale` turns the timestamp into nanoseconds.
pub fn parse_line(line: &str, scale: i64) -> Result<Line, String> {
    let parts = split_unescaped(line, ' ', true);
    let parts: Vec<&String> = parts.iter().filter(|p| !p.is_empty()).collect();
    let (head, fields, time) = match parts.as_slice() {
        [h, f] => (*h, *f, None),
        [h, f, t] => (*h, *f, Some(*t)),
        _ => return Err("expected `measurement[,tags] fields [timestamp]`".into()),
    };
    let mut head_parts = split_unescaped(head, ',', false).into_iter();
    let measurement = unescape(&head_parts.next().unwrap_or_default());
    if measurement.is_empty() {
        return Err("empty measurement".into());
    }
    let mut tags = BTreeMap::new();
    for t in head_parts {
        let kv = split_unescaped(&t, '=', false);
        let [k, v] = kv.as_slice() else {
            return Err(format!("bad tag `{t}`"));
        };
        tags.insert(unescape(k), unescape(v));
    }
    let mut out_fields = Vec::new();
    for f in split_unescaped(fields, ',', true) {
        let Some((k, v)) = f.split_once('=') else {
            return Err(format!("bad field `{f}`"));
        };
        out_fields.push((unescape(k), field_value(v)?));
    }
    let time_ns = match time {
        Some(t) => Some(
            t.parse::<i64>()
                .map_err(|_| format!("bad timestamp `{t}`"))?
                .saturating_mul(scale),
        ),
        None => None,
    };
    Ok(Line {
        measurement,
        tags,
        fields: out_fields,
        time_ns,
    })
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl ConfigService {
    /// The engine's monitoring user, created on first call.
    pub async fn monitoring_user(&self) -> Result<MonitoringUser, ServerError> {
        let row = match self.store.monitoring_user_of(ENGINE_OWNER).await? {
            Some(r) => r,
            None => {
                let user_id = format!("mon-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
                let password = new_token("vtm_");
                let sealed = self
                    .sealer
                    .seal(&format!("monitoring|{user_id}"), password.as_bytes())?;
                self.store
                    .monitoring_user_create(&MonitoringUserRow {
                        user_id,
                        owner: ENGINE_OWNER.to_owned(),
                        password_hash: token_hash(&password),
                        password_sealed: sealed,
                    })
                    .await?;
                self.store
                    .monitoring_user_of(ENGINE_OWNER)
                    .await?
                    .ok_or_else(|| ServerError::internal("monitoring user vanished"))?
            }
        };
        let password = self
            .sealer
            .open(&format!("monitoring|{}", row.user_id), &row.password_sealed)?;
        let password = String::from_utf8(password)
            .map_err(|_| ServerError::internal("monitoring password is not UTF-8"))?;
        let base = self.services.vm_base_url();
        Ok(MonitoringUser {
            user_id: row.user_id,
            password: Secret::new(password),
            project_id: "vitrina".into(),
            auth_url: format!("{base}/cloud/identity/v3/"),
            namespace: "mcs/vm".into(),
            endpoint: format!("{base}/metrics/v1/write"),
        })
    }

    /// The owner of a monitoring user's credentials, if they are right.
    async fn monitoring_owner(&self, user: &str, password: &str) -> Result<String, ServerError> {
        let row = self
            .store
            .monitoring_user(user)
            .await?
            .ok_or(ServerError::Unauthenticated)?;
        let given = token_hash(password);
        let same = given.len() == row.password_hash.len()
            && given
                .bytes()
                .zip(row.password_hash.bytes())
                .fold(0u8, |a, (x, y)| a | (x ^ y))
                == 0;
        if same {
            Ok(row.owner)
        } else {
            Err(ServerError::Unauthenticated)
        }
    }

    /// Stores the points of a line-protocol body; returns how many fields were kept.
    pub async fn write_metrics(
        &self,
        owner: &str,
        body: &str,
        scale: i64,
    ) -> Result<usize, ServerError> {
        let now = now_ns();
        let mut points = Vec::new();
        for (n, line) in body.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let l = parse_line(line, scale)
                .map_err(|e| ServerError::Invalid(format!("line {}: {e}", n + 1)))?;
            let mut tags = l.tags;
            let deployment = tags
                .remove("uuid")
                .or_else(|| tags.remove("deployment"))
                .unwrap_or_default();
            let host = tags.remove("host").unwrap_or_default();
            let tag_text = tags
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",");
            for (field, value) in l.fields {
                points.push(PointRow {
                    deployment: deployment.clone(),
                    host: host.clone(),
                    measurement: l.measurement.clone(),
                    tags: tag_text.clone(),
                    field,
                    value: value.to_string(),
                    time_ns: l.time_ns.unwrap_or(now),
                });
                if points.len() > MAX_POINTS {
                    return Err(ServerError::Invalid(format!(
                        "at most {MAX_POINTS} fields per write"
                    )));
                }
            }
        }
        self.store.put_points(owner, &points).await?;
        Ok(points.len())
    }

    pub async fn metrics(&self, host: Option<&str>) -> Result<Vec<MetricPoint>, ServerError> {
        Ok(self
            .store
            .points(ENGINE_OWNER, host)
            .await?
            .into_iter()
            .map(|p| MetricPoint {
                deployment: p.deployment,
                host: p.host,
                measurement: p.measurement,
                tags: p.tags,
                field: p.field,
                value: serde_json::from_str(&p.value).unwrap_or(serde_json::Value::Null),
                time_ns: p.time_ns,
            })
            .collect())
    }
}

async fn get_user(
    State(s): State<HttpState>,
    _c: EngineCaller,
) -> Result<Json<MonitoringUser>, ServerError> {
    Ok(Json(s.service.monitoring_user().await?))
}

async fn get_metrics(
    State(s): State<HttpState>,
    _c: EngineCaller,
    Query(q): Query<BTreeMap<String, String>>,
) -> Result<Json<Vec<MetricPoint>>, ServerError> {
    Ok(Json(
        s.service.metrics(q.get("host").map(String::as_str)).await?,
    ))
}

fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let b64 = v.strip_prefix("Basic ")?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_owned(), p.to_owned()))
}

async fn write(
    State(s): State<HttpState>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ServerError> {
    let (user, password) = basic(&headers)
        .or_else(|| Some((q.get("u")?.clone(), q.get("p")?.clone())))
        .ok_or(ServerError::Unauthenticated)?;
    let owner = s.service.monitoring_owner(&user, &password).await?;
    let gzip = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    let bytes = if gzip {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&body[..])
            .take(MAX_BODY as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|_| ServerError::Invalid("the gzip body does not decode".into()))?;
        out
    } else {
        body.to_vec()
    };
    if bytes.len() > MAX_BODY {
        return Err(ServerError::Invalid(format!(
            "bodies are at most {MAX_BODY} bytes"
        )));
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| ServerError::Invalid("line protocol must be UTF-8".into()))?;
    let scale = match q.get("precision").map(String::as_str) {
        None | Some("n") | Some("ns") => 1,
        Some("u") | Some("us") => 1_000,
        Some("ms") => 1_000_000,
        Some("s") => 1_000_000_000,
        Some(other) => {
            return Err(ServerError::Invalid(format!(
                "precision `{other}`: use ns, us, ms or s"
            )))
        }
    };
    s.service.write_metrics(&owner, &text, scale).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `/metrics/v1/write` (monitoring user) and the engine's reads.
pub fn routes(state: HttpState) -> Router {
    Router::new()
        .route("/config/v1/monitoring-user", get(get_user))
        .route("/config/v1/metrics", get(get_metrics))
        .route(
            "/metrics/v1/write",
            post(write).layer(axum::extract::DefaultBodyLimit::max(MAX_BODY)),
        )
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_protocol_as_telegraf_writes_it() {
        let l = parse_line(
            r#"cpu,cpu=cpu-total,host=node-1,uuid=abc usage_idle=97.5,usage_user=1.25 1733475600000000000"#,
            1,
        )
        .expect("parses");
        assert_eq!(l.measurement, "cpu");
        assert_eq!(l.tags.get("host").map(String::as_str), Some("node-1"));
        assert_eq!(l.fields[0], ("usage_idle".into(), serde_json::json!(97.5)));
        assert_eq!(l.time_ns, Some(1_733_475_600_000_000_000));
        let l = parse_line(
            r#"my\ app,region=eu\,west msg="a \"quoted\" text, with comma",n=5i,ok=true"#,
            1,
        )
        .expect("escapes");
        assert_eq!(l.measurement, "my app");
        assert_eq!(l.tags.get("region").map(String::as_str), Some("eu,west"));
        assert_eq!(
            l.fields,
            vec![
                (
                    "msg".into(),
                    serde_json::json!("a \"quoted\" text, with comma")
                ),
                ("n".into(), serde_json::json!(5)),
                ("ok".into(), serde_json::json!(true)),
            ]
        );
        assert_eq!(l.time_ns, None);
        assert!(parse_line("cpu", 1).is_err());
        assert!(parse_line("cpu v=abc", 1).is_err());
        assert_eq!(
            parse_line("m v=1 5", 1_000).expect("s").time_ns,
            Some(5_000)
        );
    }
}
