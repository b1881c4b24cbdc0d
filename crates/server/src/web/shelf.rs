//! The services the marketplace pages show, read from the product store: what a visitor may
//! see (public revisions; a signed-in vendor also its test revisions), each revision's offers,
//! wizards, rendered description and icon read once from its package and kept.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use vitrina_package::wizard::PlanOffer;
use vitrina_package::PackageFiles;

use super::markdown;
use crate::products::{Products, Revision, RevisionState};
use crate::tenants::{Namespace, VendorCtx};

/// The largest icon served (VK asks for a small PNG).
const ICON_LIMIT: u64 = 1024 * 1024;

/// One revision of a service, read from its package, ready to render.
#[derive(Debug)]
pub struct ServiceEntry {
    pub id: String,
    pub revision: String,
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
    pub fn read(files: &PackageFiles, icon: Option<Vec<u8>>) -> Option<ServiceEntry> {
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

/// A revision as one visitor sees it: the package read, and where the revision stands now.
#[derive(Debug, Clone)]
pub struct Listed {
    pub entry: Arc<ServiceEntry>,
    pub state: RevisionState,
    pub vendor_id: String,
}

impl Listed {
    /// The namespace a deployment of this revision goes through.
    pub fn namespace(&self) -> Namespace {
        match self.state {
            RevisionState::Public => Namespace::Public,
            _ => Namespace::Test,
        }
    }
}

/// Reads revisions from the product store and keeps what it read of each.
pub struct Shelf {
    products: Arc<Products>,
    read: RwLock<BTreeMap<(String, String), Arc<ServiceEntry>>>,
}

impl Shelf {
    pub fn new(products: Arc<Products>) -> Shelf {
        Shelf {
            products,
            read: RwLock::default(),
        }
    }

    /// The product store the shelf reads (the vendor console uploads and publishes through it).
    pub fn products(&self) -> &Arc<Products> {
        &self.products
    }

    async fn entry(&self, rev: &Revision) -> Option<Listed> {
        let key = (rev.service_id.clone(), rev.revision.clone());
        let cached = self.read.read().ok().and_then(|m| m.get(&key).cloned());
        let entry = match cached {
            Some(e) => e,
            None => {
                let zip = self
                    .products
                    .zip(&rev.service_id, &rev.revision)
                    .await
                    .ok()??;
                let icon_name = rev
                    .service
                    .get("icon")
                    .and_then(|i| i.as_str())
                    .unwrap_or("icon.png")
                    .to_owned();
                let e = tokio::task::spawn_blocking(move || {
                    let files = vitrina_package::read_zip_bytes(&zip, "upload").ok()?;
                    let icon = vitrina_package::zip_file_bytes(
                        &zip,
                        &format!("images/{icon_name}"),
                        ICON_LIMIT,
                    );
                    ServiceEntry::read(&files, icon)
                })
                .await
                .ok()??;
                let e = Arc::new(e);
                if let Ok(mut m) = self.read.write() {
                    m.insert(key, e.clone());
                }
                e
            }
        };
        Some(Listed {
            entry,
            state: rev.state,
            vendor_id: rev.vendor_id.clone(),
        })
    }

    /// What a visitor sees: each service's public revision, plus — for a vendor — its own
    /// revisions that are not archived. Sorted by name, public first.
    pub async fn visible(&self, vendor: Option<&VendorCtx>) -> Vec<Listed> {
        let mut revs = self
            .products
            .catalog(Namespace::Public)
            .await
            .unwrap_or_default();
        if let Some(v) = vendor {
            revs.extend(
                self.products
                    .vendor_revisions(v)
                    .await
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|r| r.state == RevisionState::Test),
            );
        }
        let mut out = Vec::with_capacity(revs.len());
        for r in &revs {
            if let Some(l) = self.entry(r).await {
                out.push(l);
            }
        }
        out.sort_by(|a, b| {
            let rank = |l: &Listed| u8::from(l.state != RevisionState::Public);
            (a.entry.name.to_lowercase(), rank(a), &a.entry.revision).cmp(&(
                b.entry.name.to_lowercase(),
                rank(b),
                &b.entry.revision,
            ))
        });
        out
    }

    /// One revision the visitor may see: the public one when `revision` is `None`.
    pub async fn find(
        &self,
        id: &str,
        revision: Option<&str>,
        vendor: Option<&VendorCtx>,
    ) -> Option<Listed> {
        self.visible(vendor)
            .await
            .into_iter()
            .find(|l| l.entry.id == id && revision.is_none_or(|r| r == l.entry.revision))
    }

    /// Any revision (archived included), for deployments that run it.
    pub async fn any(&self, id: &str, revision: &str) -> Option<Listed> {
        let rev = self.products.revision(id, revision).await.ok()??;
        self.entry(&rev).await
    }
}
