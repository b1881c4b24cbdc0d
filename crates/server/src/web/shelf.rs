//! The services the marketplace pages show, read once per revision from the package files the
//! product store holds: offers, wizards, the rendered description and the icon.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use vitrina_package::wizard::PlanOffer;
use vitrina_package::PackageFiles;

use super::markdown;

/// Where a revision is visible.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Namespace {
    Public,
    Test,
}

/// One revision of a service, ready to render.
#[derive(Debug)]
pub struct ServiceEntry {
    pub id: String,
    pub revision: String,
    pub namespace: Namespace,
    /// The vendor that uploaded it (vendors see their own test revisions).
    pub vendor: String,
    pub name: String,
    pub short_description: String,
    /// `full_description.md` rendered to HTML with raw HTML escaped.
    pub description_html: String,
    pub help: Option<String>,
    pub icon: Option<Vec<u8>>,
    pub preview: Vec<String>,
    pub plan_updateable: bool,
    pub offers: Vec<PlanOffer>,
}

impl ServiceEntry {
    /// Reads a package that validated without errors. `None` when it has errors.
    pub fn read(
        files: &PackageFiles,
        icon: Option<Vec<u8>>,
        namespace: Namespace,
        vendor: &str,
    ) -> Option<ServiceEntry> {
        let v = vitrina_package::validate(files);
        if v.diagnostics.has_errors() {
            return None;
        }
        let svc = v.model.service.as_ref()?;
        let s = |k: &str| {
            svc.get(k)
                .and_then(|n| n.as_str_lenient())
                .unwrap_or_default()
                .to_owned()
        };
        let preview = svc
            .get("preview")
            .and_then(|p| p.get("parameters"))
            .and_then(|p| p.as_seq())
            .unwrap_or_default()
            .iter()
            .filter_map(|p| p.get("name")?.as_str_lenient().map(str::to_owned))
            .collect();
        Some(ServiceEntry {
            id: s("id"),
            revision: s("revision"),
            namespace,
            vendor: vendor.to_owned(),
            name: s("name"),
            short_description: s("short_description"),
            description_html: markdown::render(&v.model.full_description),
            help: Some(s("help")).filter(|h| h.starts_with("https://") || h.starts_with("http://")),
            icon,
            preview,
            plan_updateable: svc
                .get("plan_updateable")
                .and_then(|n| n.as_bool())
                .unwrap_or(false),
            offers: vitrina_package::wizard::offers(&v.model),
        })
    }

    pub fn offer(&self, plan: &str) -> Option<&PlanOffer> {
        self.offers
            .iter()
            .find(|o| o.folder == plan || o.id == plan)
    }

    /// Whether `q` (any case) appears in the name or the short description.
    pub fn matches(&self, q: &str) -> bool {
        let q = q.trim().to_lowercase();
        q.is_empty()
            || self.name.to_lowercase().contains(&q)
            || self.short_description.to_lowercase().contains(&q)
    }
}

/// The revisions the pages can show, by (id, revision).
#[derive(Default)]
pub struct Shelf {
    entries: RwLock<BTreeMap<(String, String), Arc<ServiceEntry>>>,
}

impl Shelf {
    pub fn put(&self, entry: ServiceEntry) {
        let key = (entry.id.clone(), entry.revision.clone());
        if let Ok(mut m) = self.entries.write() {
            m.insert(key, Arc::new(entry));
        }
    }

    /// Removes a revision (archived).
    pub fn remove(&self, id: &str, revision: &str) {
        if let Ok(mut m) = self.entries.write() {
            m.remove(&(id.to_owned(), revision.to_owned()));
        }
    }

    /// Moves a revision to `namespace` (publish makes one public and returns the previous
    /// public one to test).
    pub fn set_namespace(&self, id: &str, revision: &str, namespace: Namespace) {
        if let Ok(mut m) = self.entries.write() {
            let key = (id.to_owned(), revision.to_owned());
            if let Some(e) = m.get(&key) {
                let e = ServiceEntry {
                    namespace,
                    ..clone_entry(e)
                };
                m.insert(key, Arc::new(e));
            }
        }
    }

    /// What a visitor sees: the public revision of each service, plus — for a vendor — that
    /// vendor's test revisions. Sorted by name.
    pub fn visible(&self, vendor: Option<&str>) -> Vec<Arc<ServiceEntry>> {
        let Ok(m) = self.entries.read() else {
            return Vec::new();
        };
        let mut out: Vec<Arc<ServiceEntry>> = m
            .values()
            .filter(|e| e.namespace == Namespace::Public || vendor.is_some_and(|v| v == e.vendor))
            .cloned()
            .collect();
        out.sort_by(|a, b| {
            (a.name.to_lowercase(), a.namespace, &a.revision).cmp(&(
                b.name.to_lowercase(),
                b.namespace,
                &b.revision,
            ))
        });
        out
    }

    /// One service revision visible to the visitor: the public one when `revision` is `None`.
    pub fn find(
        &self,
        id: &str,
        revision: Option<&str>,
        vendor: Option<&str>,
    ) -> Option<Arc<ServiceEntry>> {
        self.visible(vendor)
            .into_iter()
            .filter(|e| e.id == id && revision.is_none_or(|r| r == e.revision))
            .min_by_key(|e| e.namespace)
    }
}

fn clone_entry(e: &ServiceEntry) -> ServiceEntry {
    ServiceEntry {
        id: e.id.clone(),
        revision: e.revision.clone(),
        namespace: e.namespace,
        vendor: e.vendor.clone(),
        name: e.name.clone(),
        short_description: e.short_description.clone(),
        description_html: e.description_html.clone(),
        help: e.help.clone(),
        icon: e.icon.clone(),
        preview: e.preview.clone(),
        plan_updateable: e.plan_updateable,
        offers: e.offers.clone(),
    }
}
