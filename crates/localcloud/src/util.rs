//! Helpers shared by the services: IDs, timestamps, authentication context, query strings,
//! pagination.

use axum::http::HeaderMap;
use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult, Service};
use crate::Cloud;

/// The availability zones of Nova and Cinder (VK's names).
pub const ZONES: &[&str] = &["GZ1", "MS1", "ME1"];

/// The availability zones of this cloud, the default first: VK's, or the ones the fixtures set
/// (devstack's `nova`).
pub fn zones(db: &crate::model::State) -> Vec<String> {
    if db.zones.is_empty() {
        ZONES.iter().map(|z| (*z).to_owned()).collect()
    } else {
        db.zones.clone()
    }
}

/// A UUID derived from a name (stable flavor, image and type IDs).
pub fn stable_uuid(name: &str) -> String {
    use sha2::Digest as _;
    let h = sha2::Sha256::digest(name.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    uuid::Uuid::from_bytes(b).to_string()
}

/// A new UUID4 with dashes (Nova, Neutron, Cinder, Glance IDs).
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A new UUID4 without dashes (Keystone IDs).
pub fn new_hex_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// `2026-11-22T02:22:49Z` (Nova, Neutron, Glance).
pub fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `2026-11-22T02:22:49.000000` (Cinder, Keystone without the Z).
pub fn now_micro() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6f")
        .to_string()
}

/// The caller of a request, from its `X-Auth-Token`.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub user_id: String,
    pub project_id: String,
    pub roles: Vec<String>,
}

impl Ctx {
    pub fn is_admin(&self) -> bool {
        self.roles.iter().any(|r| r == "admin")
    }
}

impl Cloud {
    /// Authenticates a request with a project-scoped token.
    pub fn auth(&self, headers: &HeaderMap, service: Service) -> ApiResult<Ctx> {
        let token = headers
            .get("x-auth-token")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| ApiError::unauthorized(service))?;
        let now = chrono::Utc::now().timestamp();
        self.store.read(|s| {
            let t = s
                .live_token(token, now)
                .ok_or_else(|| ApiError::unauthorized(service))?;
            let project_id = t.project_id.clone().ok_or_else(|| {
                ApiError::forbidden(service, "A project-scoped token is required.")
            })?;
            let roles = s.token_roles(t);
            // A token whose user lost every role on the project is no longer valid (Keystone
            // revokes it when the last assignment goes).
            if roles.is_empty() {
                return Err(ApiError::unauthorized(service));
            }
            Ok(Ctx {
                user_id: t.user_id.clone(),
                project_id,
                roles,
            })
        })
    }
}

/// Query string pairs in order (keys may repeat).
pub type Query = Vec<(String, String)>;

pub fn q<'a>(query: &'a Query, key: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// `limit` and `marker` from a query; a bad limit is a 400.
pub fn page_params(query: &Query, service: Service) -> ApiResult<(Option<usize>, Option<String>)> {
    let limit = match q(query, "limit") {
        None => None,
        Some(l) => Some(l.parse::<usize>().map_err(|_| {
            ApiError::bad_request(service, format!("Invalid input for query parameters limit. Value: {l}. '{l}' does not match '^[0-9]*$'"))
        })?),
    };
    Ok((limit, q(query, "marker").map(str::to_owned)))
}

/// Applies `marker` (exclusive) and `limit` to `items` already in list order. Returns the page and
/// whether more items follow.
pub fn paginate<T>(
    items: Vec<T>,
    id: impl Fn(&T) -> &str,
    limit: Option<usize>,
    marker: Option<&str>,
    service: Service,
) -> ApiResult<(Vec<T>, bool)> {
    let start = match marker {
        None => 0,
        Some(m) => match items.iter().position(|i| id(i) == m) {
            Some(p) => p + 1,
            None => {
                return Err(match service {
                    Service::Network => {
                        ApiError::not_found(service, format!("Marker {m} could not be found."))
                    }
                    Service::Image => ApiError::bad_request(
                        service,
                        format!("Invalid marker. Image {m} could not be found."),
                    ),
                    _ => ApiError::bad_request(service, format!("marker [{m}] not found")),
                })
            }
        },
    };
    let mut rest: Vec<T> = items.into_iter().skip(start).collect();
    let more = match limit {
        Some(l) if rest.len() > l => {
            rest.truncate(l);
            true
        }
        _ => false,
    };
    Ok((rest, more))
}

/// A query string with `marker` replaced, for `next` links.
pub fn next_query(query: &Query, marker: &str) -> String {
    let mut parts: Vec<String> = query
        .iter()
        .filter(|(k, _)| k != "marker")
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect();
    parts.push(format!("marker={}", enc(marker)));
    parts.join("&")
}

fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Field getters on a checked request object.
pub fn get_str(m: &Map<String, Value>, k: &str) -> Option<String> {
    m.get(k).and_then(Value::as_str).map(str::to_owned)
}

pub fn get_bool(m: &Map<String, Value>, k: &str) -> Option<bool> {
    m.get(k).and_then(crate::body::bool_like)
}

pub fn get_int(m: &Map<String, Value>, k: &str) -> Option<i64> {
    m.get(k).and_then(crate::body::int_like)
}

pub fn get_str_list(m: &Map<String, Value>, k: &str) -> Vec<String> {
    m.get(k)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A string→string map (metadata); non-string values are a 400.
pub fn get_str_map(
    m: &Map<String, Value>,
    k: &str,
    service: Service,
) -> ApiResult<std::collections::BTreeMap<String, String>> {
    let mut out = std::collections::BTreeMap::new();
    if let Some(v) = m.get(k).filter(|v| !v.is_null()) {
        let obj = v.as_object().ok_or_else(|| {
            ApiError::bad_request(service, format!("Invalid input for field/attribute {k}. Value: {v}. {v} is not of type 'object'"))
        })?;
        for (key, val) in obj {
            let s = val.as_str().ok_or_else(|| {
                ApiError::bad_request(service, format!("Invalid input for field/attribute {key}. Value: {val}. {val} is not of type 'string'"))
            })?;
            if key.is_empty() || key.len() > 255 || s.len() > 255 {
                return Err(ApiError::bad_request(service, format!("Invalid input for field/attribute {k}. Metadata keys and values must be 1–255 characters")));
            }
            out.insert(key.clone(), s.to_owned());
        }
    }
    Ok(out)
}

/// Whether a string is a UUID.
///
/// Only the hyphenated 36-character form, as OpenStack's schemas write it (I3): braces, `urn:`
/// and the simple form are other spellings of one UUID and are refused.
pub fn is_uuid(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::try_parse(s).is_ok()
}

/// The microversion a request asks for (`OpenStack-API-Version: compute 2.79`, or the legacy
/// `X-OpenStack-Nova-API-Version`), clamped to `[min, max]`; `latest` means `max`.
pub fn microversion(
    headers: &HeaderMap,
    service: &str,
    min: (u32, u32),
    max: (u32, u32),
) -> ApiResult<(u32, u32)> {
    let svc = match service {
        "compute" => Service::Compute,
        _ => Service::Volume,
    };
    let mut asked: Option<String> = None;
    for v in headers
        .get_all("openstack-api-version")
        .iter()
        .filter_map(|v| v.to_str().ok())
    {
        for part in v.split(',') {
            let mut it = part.split_whitespace();
            if let (Some(s), Some(ver)) = (it.next(), it.next()) {
                if s.eq_ignore_ascii_case(service)
                    || (service == "volume" && s.eq_ignore_ascii_case("block-storage"))
                {
                    asked = Some(ver.to_owned());
                }
            }
        }
    }
    if asked.is_none() && service == "compute" {
        asked = headers
            .get("x-openstack-nova-api-version")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
    }
    let Some(asked) = asked else { return Ok(min) };
    if asked.eq_ignore_ascii_case("latest") {
        return Ok(max);
    }
    let parsed = asked
        .split_once('.')
        .and_then(|(a, b)| Some((a.trim().parse::<u32>().ok()?, b.trim().parse::<u32>().ok()?)));
    let v = parsed.ok_or_else(|| ApiError::bad_request(svc, format!("API Version String {asked} is of invalid format. Must be of format MajorNum.MinorNum.")))?;
    if v < min || v > max {
        return Err(ApiError::new(svc, axum::http::StatusCode::NOT_ACCEPTABLE, format!("Version {asked} is not supported by the API. Minimum is {}.{} and maximum is {}.{}.", min.0, min.1, max.0, max.1)));
    }
    Ok(v)
}
