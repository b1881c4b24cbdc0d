//! The package room's catalog JSON (VK's broker shape) turned into OSB service offerings.
//!
//! - Names become `^[a-z0-9-]+$` (the Node checker's pattern); the original text moves to
//!   `metadata.displayName`. Names stay unique within the catalog (services) or the offering
//!   (plans) by a `-2`, `-3`… suffix in a fixed order.
//! - User-step options already carry values (`vitrina_package::catalog::to_osb`).
//! - Fields newer than the caller's API version are left out, and so are empty optional ones:
//!   the 2.13 checker's schemas allow nothing else.
//! - `maintenance_info.version` is the service revision as SemVer ([`revision_semver`]).

use serde_json::{json, Map, Value};

use super::wire::ApiVersion;

const DRAFT4: &str = "http://json-schema.org/draft-04/schema#";

/// One service revision as a namespace offers it.
#[derive(Debug, Clone)]
pub struct ServiceRevision {
    pub service_id: String,
    pub revision: String,
    /// The package room's catalog JSON of that revision (`{"services":[…]}`).
    pub catalog: Value,
}

impl ServiceRevision {
    /// The VK service object of the catalog.
    pub fn service(&self) -> Option<&Value> {
        self.catalog
            .get("services")
            .and_then(Value::as_array)
            .and_then(|s| s.first())
    }

    /// The VK plan object with `plan_id`.
    pub fn plan(&self, plan_id: &str) -> Option<&Value> {
        self.service()?
            .get("plans")?
            .as_array()?
            .iter()
            .find(|p| p.get("id").and_then(Value::as_str) == Some(plan_id))
    }

    pub fn bindable(&self) -> bool {
        self.service()
            .and_then(|s| s.get("bindable"))
            .and_then(Value::as_bool)
            .unwrap_or(true)
    }

    pub fn plan_updateable(&self) -> bool {
        self.service()
            .and_then(|s| s.get("plan_updateable"))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    /// `x-deployment.manifest` of a plan: the deployment system's config name.
    pub fn manifest_name(&self, plan_id: &str) -> Option<String> {
        self.plan(plan_id)?
            .get("x-deployment")?
            .get("manifest")?
            .as_str()
            .map(str::to_owned)
    }

    /// The plan's folder name (`plans/<folder>` in the package).
    pub fn plan_name(&self, plan_id: &str) -> Option<String> {
        self.plan(plan_id)?.get("name")?.as_str().map(str::to_owned)
    }

    pub fn maintenance_version(&self) -> String {
        revision_semver(&self.revision)
    }
}

/// A revision as SemVer 2.0: `1` → `1.0.0`, `1.2` → `1.2.0`, `1.2.3` stays; anything else
/// becomes a pre-release of `0.0.0` made of its `[0-9A-Za-z-]` characters.
pub fn revision_semver(revision: &str) -> String {
    let parts: Vec<&str> = revision.split('.').collect();
    let numeric = |p: &&str| {
        !p.is_empty()
            && p.chars().all(|c| c.is_ascii_digit())
            && (p.len() == 1 || !p.starts_with('0'))
    };
    if (1..=3).contains(&parts.len()) && parts.iter().all(numeric) {
        let mut v: Vec<&str> = parts;
        while v.len() < 3 {
            v.push("0");
        }
        return v.join(".");
    }
    let cleaned: String = revision
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let cleaned = cleaned.trim_matches('-');
    if cleaned.is_empty() {
        "0.0.0".to_owned()
    } else {
        format!("0.0.0-{cleaned}")
    }
}

/// `Hello Web` → `hello-web`: lower case, runs of other characters become one `-`.
pub fn osb_name(text: &str) -> String {
    let mut out = String::new();
    let mut dash = false;
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.push(c.to_ascii_lowercase());
        } else {
            dash = true;
        }
    }
    out
}

/// Makes `base` unique among `taken` with `-2`, `-3`…; `fallback` when `base` is empty.
fn unique(base: String, fallback: &str, taken: &mut Vec<String>) -> String {
    let base = if base.is_empty() {
        osb_name(fallback)
    } else {
        base
    };
    let mut name = base.clone();
    let mut n = 2;
    while taken.contains(&name) {
        name = format!("{base}-{n}");
        n += 1;
    }
    taken.push(name.clone());
    name
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// The OSB catalog body (`{"services":[…]}`) of the given revisions, for a caller speaking
/// `version`. Revisions are listed in the order given.
pub fn osb_catalog(revisions: &[ServiceRevision], version: ApiVersion) -> Value {
    let mut names = Vec::new();
    let services: Vec<Value> = revisions
        .iter()
        .filter_map(|r| offering(r, version, &mut names))
        .collect();
    json!({ "services": services })
}

fn offering(rev: &ServiceRevision, version: ApiVersion, names: &mut Vec<String>) -> Option<Value> {
    let osb = vitrina_package::catalog::to_osb(&rev.catalog);
    let svc = osb.get("services")?.as_array()?.first()?.clone();
    let display = str_of(&svc, "name");
    let id = str_of(&svc, "id");
    let name = unique(osb_name(display), &format!("service-{id}"), names);
    let mut out = Map::new();
    out.insert("name".into(), name.into());
    out.insert("id".into(), id.into());
    let description = match str_of(&svc, "short_description") {
        "" if display.is_empty() => id,
        "" => display,
        d => d,
    };
    out.insert("description".into(), description.into());
    out.insert("bindable".into(), rev.bindable().into());
    if version.at_least(2, 14) {
        for key in ["instances_retrievable", "bindings_retrievable"] {
            if svc.get(key).and_then(Value::as_bool) == Some(true) {
                out.insert(key.into(), true.into());
            }
        }
    }
    out.insert("plan_updateable".into(), rev.plan_updateable().into());
    let mut meta = Map::new();
    if !display.is_empty() {
        meta.insert("displayName".into(), display.into());
    }
    let long = str_of(&svc, "full_description");
    if !long.is_empty() {
        meta.insert("longDescription".into(), long.into());
    }
    let help = str_of(&svc, "help");
    if !help.is_empty() {
        meta.insert("documentationUrl".into(), help.into());
    }
    meta.insert("revision".into(), rev.revision.clone().into());
    out.insert("metadata".into(), meta.into());
    let mut plan_names = Vec::new();
    let plans: Vec<Value> = svc
        .get("plans")
        .and_then(Value::as_array)
        .map(|ps| {
            ps.iter()
                .map(|p| plan(rev, p, version, &mut plan_names))
                .collect()
        })
        .unwrap_or_default();
    if plans.is_empty() {
        return None;
    }
    out.insert("plans".into(), plans.into());
    Some(Value::Object(out))
}

fn plan(rev: &ServiceRevision, p: &Value, version: ApiVersion, names: &mut Vec<String>) -> Value {
    let display = str_of(p, "name");
    let id = str_of(p, "id");
    let mut out = Map::new();
    out.insert("id".into(), id.into());
    out.insert(
        "name".into(),
        unique(osb_name(display), &format!("plan-{id}"), names).into(),
    );
    let description = match str_of(p, "description") {
        "" if display.is_empty() => id,
        "" => display,
        d => d,
    };
    out.insert("description".into(), description.into());
    let mut meta = Map::new();
    if !display.is_empty() {
        meta.insert("displayName".into(), display.into());
    }
    let cost = p
        .get("billing")
        .and_then(|b| b.get("cost"))
        .and_then(Value::as_f64)
        .unwrap_or(0.0);
    if cost > 0.0 {
        meta.insert(
            "costs".into(),
            json!([{ "amount": { "rub": cost }, "unit": "MONTHLY" }]),
        );
    }
    out.insert("metadata".into(), meta.into());
    out.insert(
        "free".into(),
        p.get("free")
            .and_then(Value::as_bool)
            .unwrap_or(true)
            .into(),
    );
    out.insert("bindable".into(), rev.bindable().into());
    out.insert("schemas".into(), schemas(p));
    if version.at_least(2, 14) && rev.plan_updateable() {
        out.insert("plan_updateable".into(), true.into());
    }
    if version.at_least(2, 15) {
        out.insert(
            "maintenance_info".into(),
            json!({
                "version": rev.maintenance_version(),
                "description": format!("revision {}", rev.revision),
            }),
        );
    }
    Value::Object(out)
}

/// OSB's three schemas: the VK `resource_usages` schema is not OSB's and stays out; every
/// schema names draft-04.
fn schemas(p: &Value) -> Value {
    let section = |v: Option<&Value>| -> Value {
        let mut params = v
            .and_then(|s| s.get("parameters"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        params.insert("$schema".into(), DRAFT4.into());
        params
            .entry("type")
            .or_insert_with(|| Value::String("object".into()));
        json!({ "parameters": params })
    };
    let si = p.get("schemas").and_then(|s| s.get("service_instance"));
    let sb = p.get("schemas").and_then(|s| s.get("service_binding"));
    json!({
        "service_instance": {
            "create": section(si.and_then(|s| s.get("create"))),
            "update": section(si.and_then(|s| s.get("update"))),
        },
        "service_binding": {
            "create": section(sb.and_then(|s| s.get("create"))),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_versions() {
        assert_eq!(osb_name("Hello Web"), "hello-web");
        assert_eq!(osb_name("  KV__Cluster 2 "), "kv-cluster-2");
        assert_eq!(osb_name("Графана"), "");
        assert_eq!(revision_semver("1.0"), "1.0.0");
        assert_eq!(revision_semver("2"), "2.0.0");
        assert_eq!(revision_semver("1.2.3"), "1.2.3");
        assert_eq!(revision_semver("1.02"), "0.0.0-1-02");
        assert_eq!(revision_semver("beta 1"), "0.0.0-beta-1");
        let mut taken = vec!["a".to_owned()];
        assert_eq!(unique("a".into(), "x", &mut taken), "a-2");
        assert_eq!(unique(String::new(), "Plan X", &mut taken), "plan-x");
    }
}
