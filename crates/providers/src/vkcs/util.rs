//! Small helpers shared by the `vkcs` resources: reading arguments out of engine values, building
//! values from API records, schema shorthands, and turning client errors into provider errors.

use std::collections::BTreeMap;
use std::time::Duration;

use sha1::Digest as _;
use vitrina_engine::provider::{AttrType, Attribute, ErrorKind, ProviderError};
use vitrina_engine::Value;
use vitrina_openstack::WaitOptions;

// --- reading arguments --------------------------------------------------------------------------

/// A known, non-empty string argument.
pub(crate) fn s(v: &Value, name: &str) -> Option<String> {
    v.get(name)
        .as_str()
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
}

/// A known boolean argument.
pub(crate) fn b(v: &Value, name: &str) -> Option<bool> {
    v.get(name).as_bool()
}

/// A known whole-number argument.
pub(crate) fn i(v: &Value, name: &str) -> Option<i64> {
    v.get(name).as_i64()
}

/// A non-negative whole-number argument that must fit `u32`.
pub(crate) fn u32_arg(v: &Value, name: &str) -> Result<Option<u32>, ProviderError> {
    match v.get(name) {
        Value::Null | Value::Unknown => Ok(None),
        x => x
            .as_i64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| {
                ProviderError::new(format!(
                    "`{name}` must be a non-negative whole number, got {x}"
                ))
            }),
    }
}

/// A non-negative whole-number argument as `u64`.
pub(crate) fn u64_arg(v: &Value, name: &str) -> Result<Option<u64>, ProviderError> {
    match v.get(name) {
        Value::Null | Value::Unknown => Ok(None),
        x => x
            .as_i64()
            .and_then(|n| u64::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| {
                ProviderError::new(format!(
                    "`{name}` must be a non-negative whole number, got {x}"
                ))
            }),
    }
}

/// The strings of a list or set argument (nulls and unknowns skipped).
pub(crate) fn strs(v: &Value, name: &str) -> Vec<String> {
    v.get(name)
        .as_list()
        .map(|items| {
            items
                .iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether a list or set argument is set (possibly empty).
pub(crate) fn has_list(v: &Value, name: &str) -> bool {
    v.get(name).as_list().is_some()
}

/// A map of strings (non-string values are written as their JSON).
pub(crate) fn smap(v: &Value, name: &str) -> BTreeMap<String, String> {
    v.get(name)
        .as_map()
        .map(|m| {
            m.iter()
                .filter_map(|(k, x)| match x {
                    Value::String(s) => Some((k.clone(), s.clone())),
                    Value::Null | Value::Unknown => None,
                    other => other.to_json().map(|j| (k.clone(), j.to_string())),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `value_specs`: extra body keys, as JSON (strings that read as JSON scalars stay strings, as
/// VK's provider sends them).
pub(crate) fn value_specs(v: &Value) -> BTreeMap<String, serde_json::Value> {
    smap(v, "value_specs")
        .into_iter()
        .map(|(k, x)| (k, serde_json::Value::String(x)))
        .collect()
}

/// The objects of a nested block.
pub(crate) fn blocks<'a>(v: &'a Value, name: &str) -> &'a [Value] {
    v.get(name).as_list().unwrap_or(&[])
}

// --- building values ----------------------------------------------------------------------------

pub(crate) fn vs(x: impl Into<String>) -> Value {
    Value::String(x.into())
}

pub(crate) fn vopt(x: Option<impl Into<String>>) -> Value {
    x.map_or(Value::Null, |x| Value::String(x.into()))
}

pub(crate) fn vbool(x: bool) -> Value {
    Value::Bool(x)
}

pub(crate) fn vint(x: impl TryInto<i64>) -> Value {
    x.try_into().map_or(Value::Null, Value::int)
}

pub(crate) fn vlist<S: Into<String>>(items: impl IntoIterator<Item = S>) -> Value {
    Value::List(items.into_iter().map(|x| Value::String(x.into())).collect())
}

/// A set of strings, sorted and without duplicates (the engine's canonical order).
pub(crate) fn vset<S: Into<String>>(items: impl IntoIterator<Item = S>) -> Value {
    let mut v: Vec<String> = items.into_iter().map(Into::into).collect();
    v.sort();
    v.dedup();
    vlist(v)
}

pub(crate) fn vmap<K: Into<String>, S: Into<String>>(
    items: impl IntoIterator<Item = (K, S)>,
) -> Value {
    Value::Map(
        items
            .into_iter()
            .map(|(k, x)| (k.into(), Value::String(x.into())))
            .collect(),
    )
}

/// The metadata key that carries the engine's create token on servers and volumes, so a create
/// repeated after a crash finds the object instead of making a second one. Left out of
/// `metadata` and `all_metadata` in the state.
pub(crate) const CREATE_TOKEN_KEY: &str = "vitrina_create_token";

/// The prefix of the server metadata keys localcloud adds itself (`localcloud:network_mode`,
/// `localcloud:loopback_ipv4`): not the configuration's, so left out of `metadata`.
pub(crate) const CLOUD_METADATA_PREFIX: &str = "localcloud:";

/// Metadata without [`CREATE_TOKEN_KEY`].
pub(crate) fn without_token(m: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    m.iter()
        .filter(|(k, _)| k.as_str() != CREATE_TOKEN_KEY)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The prefix of the Neutron tag that carries the engine's create token on networking objects
/// (what [`CREATE_TOKEN_KEY`] is for servers and volumes). Left out of `all_tags` in the state.
pub(crate) const CREATE_TOKEN_TAG: &str = "vitrina-create-token:";

/// The create-token tag of `token`.
pub(crate) fn token_tag(token: &str) -> String {
    format!("{CREATE_TOKEN_TAG}{token}")
}

/// Tags without the create-token tag.
pub(crate) fn user_tags(tags: &[String]) -> Vec<String> {
    tags.iter()
        .filter(|t| !t.starts_with(CREATE_TOKEN_TAG))
        .cloned()
        .collect()
}

/// SHA-1 hex of a string: how VK's provider stores `user_data` in the state.
pub(crate) fn sha1_hex(data: &str) -> String {
    hex::encode(sha1::Sha1::digest(data.as_bytes()))
}

// --- schema shorthands --------------------------------------------------------------------------

pub(crate) fn string() -> AttrType {
    AttrType::String
}
pub(crate) fn number() -> AttrType {
    AttrType::Number
}
pub(crate) fn boolean() -> AttrType {
    AttrType::Bool
}
pub(crate) fn set_of_strings() -> AttrType {
    AttrType::set(AttrType::String)
}
pub(crate) fn list_of_strings() -> AttrType {
    AttrType::list(AttrType::String)
}
pub(crate) fn map_of_strings() -> AttrType {
    AttrType::map(AttrType::String)
}

pub(crate) fn r(t: AttrType) -> Attribute {
    Attribute::required(t)
}
pub(crate) fn o(t: AttrType) -> Attribute {
    Attribute::optional(t)
}
pub(crate) fn oc(t: AttrType) -> Attribute {
    Attribute::optional_computed(t)
}
pub(crate) fn c(t: AttrType) -> Attribute {
    Attribute::computed(t)
}

// --- errors and waits ---------------------------------------------------------------------------

/// A client error as a provider error: `what` says what was being done; the client's error (with
/// the API's message and request id, never credentials) is the source.
pub(crate) fn os_err(
    what: impl Into<String>,
) -> impl FnOnce(vitrina_openstack::Error) -> ProviderError {
    let what = what.into();
    move |e| perr(what, e)
}

/// The engine's kind of an OpenStack client error.
pub fn os_kind(e: &vitrina_openstack::Error) -> ErrorKind {
    use vitrina_openstack::Error as E;
    match e {
        E::Api {
            status, message, ..
        } => ErrorKind::from_http_status(*status, message.as_deref()),
        E::Transport { .. } | E::Decode { .. } => ErrorKind::Transient,
        E::Timeout { .. } => ErrorKind::Timeout,
        E::NameNotFound { .. } | E::EndpointNotFound { .. } => ErrorKind::NotFound,
        E::Config { .. } | E::ConfigFile { .. } | E::Ambiguous { .. } => ErrorKind::Invalid,
        _ => ErrorKind::Unknown,
    }
}

/// A provider error with `source` as its cause and the kind read from it when it is an
/// OpenStack client error (or holds one).
pub(crate) fn perr<E: std::error::Error + Send + Sync + 'static>(
    message: impl Into<String>,
    source: E,
) -> ProviderError {
    let mut kind = ErrorKind::Unknown;
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(&source);
    while let Some(e) = cur {
        if let Some(os) = e.downcast_ref::<vitrina_openstack::Error>() {
            kind = os_kind(os);
            break;
        }
        cur = e.source();
    }
    ProviderError::with_source(message, source).with_kind(kind)
}

/// Poll options for a wait bounded by the resource's timeout (or `default`).
pub(crate) fn wait_opts(timeout: Option<Duration>, default: Duration) -> WaitOptions {
    WaitOptions {
        timeout: timeout.unwrap_or(default),
        initial_interval: Duration::from_millis(200),
        max_interval: Duration::from_secs(3),
    }
}

/// Ten minutes: VK's default create/delete timeout for networking resources.
pub(crate) const TEN_MINUTES: Duration = Duration::from_secs(600);
/// Thirty minutes: VK's default for instances and volumes.
pub(crate) const THIRTY_MINUTES: Duration = Duration::from_secs(1800);

/// Retries `op` while it fails with 409 Conflict (a resource still in use while something that
/// holds it is going away), until `timeout`.
pub(crate) async fn retry_conflict<T, F, Fut>(
    timeout: Duration,
    mut op: F,
) -> Result<T, vitrina_openstack::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, vitrina_openstack::Error>>,
{
    let start = std::time::Instant::now();
    let mut pause = Duration::from_millis(200);
    loop {
        match op().await {
            Err(e) if (e.is_conflict() || e.retryable()) && start.elapsed() < timeout => {
                tokio::time::sleep(pause).await;
                pause = (pause * 3 / 2).min(Duration::from_secs(3));
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha1_matches_vk_state_func() {
        // `echo -n hello | sha1sum`
        assert_eq!(
            sha1_hex("hello"),
            "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"
        );
    }

    #[test]
    fn the_create_token_tag_is_hidden() {
        let tags = vec!["web".to_owned(), token_tag("t-1")];
        assert_eq!(tags[1], "vitrina-create-token:t-1");
        assert_eq!(user_tags(&tags), vec!["web".to_owned()]);
    }

    #[test]
    fn the_create_token_is_hidden() {
        let m: BTreeMap<String, String> = [
            (CREATE_TOKEN_KEY.to_owned(), "t".to_owned()),
            ("sid".to_owned(), "xaas".to_owned()),
        ]
        .into();
        assert_eq!(without_token(&m).keys().collect::<Vec<_>>(), vec!["sid"]);
    }

    #[test]
    fn sets_are_sorted_and_unique() {
        assert_eq!(vset(["b", "a", "b"]), vlist(["a", "b"]));
    }

    #[test]
    fn arguments_read_leniently() {
        let v = Value::map([
            ("n", Value::int(5)),
            ("neg", Value::int(-1)),
            ("s", vs("")),
            ("l", vlist(["x", "y"])),
            ("m", Value::map([("a", vs("1")), ("b", Value::Bool(true))])),
        ]);
        assert_eq!(u32_arg(&v, "n").ok().flatten(), Some(5));
        assert!(u32_arg(&v, "neg").is_err());
        assert_eq!(s(&v, "s"), None);
        assert_eq!(strs(&v, "l"), vec!["x", "y"]);
        let m = smap(&v, "m");
        assert_eq!(m.get("b").map(String::as_str), Some("true"));
    }
}
