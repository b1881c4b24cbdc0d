//! What the wizard's datasource pickers offer, read live from the project's cloud through the
//! OpenStack client (the same client the deployments use) and filtered as the option asks.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;
use vitrina_forms::{Datasource, DatasourceKind};
use vitrina_openstack::Client;

/// A flavor as the wizard shows and prices it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FlavorChoice {
    pub id: String,
    pub name: String,
    pub vcpus: u64,
    pub ram_mb: u64,
    pub disk_gb: u64,
    pub gpus: u64,
}

/// Everything the pickers can offer in one project.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Choices {
    pub flavors: Vec<FlavorChoice>,
    pub azs: Vec<String>,
    /// (id, name, shared, external).
    pub networks: Vec<(String, String, bool, bool)>,
    /// (id, "name (cidr)").
    pub subnets: Vec<(String, String)>,
    pub volume_types: Vec<String>,
    pub keypairs: Vec<String>,
}

/// One entry of a picker: the value posted and the text shown.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Choice {
    pub value: String,
    pub label: String,
}

/// The class of a volume type by its name, as VK names them.
fn disk_class(name: &str) -> &'static str {
    let n = name.to_ascii_lowercase();
    if n.contains("high-iops") || n.contains("high_iops") {
        "high_iops_disk"
    } else if n.contains("hdd") {
        "hdd"
    } else {
        "ssd"
    }
}

impl Choices {
    /// Reads the project's cloud. A listing the cloud refuses leaves its picker empty (the
    /// field then shows that it has nothing to choose from) rather than failing the page.
    pub async fn load(client: &Client) -> Choices {
        let compute = client.compute();
        let mut c = Choices::default();
        if let Ok(flavors) = compute.list_flavors(&Vec::new()).await {
            c.flavors = flavors
                .into_iter()
                .filter(|f| !f.disabled)
                .map(|f| FlavorChoice {
                    gpus: f
                        .extra_specs
                        .as_ref()
                        .and_then(|s| {
                            s.iter()
                                .find(|(k, _)| k.contains("pci_passthrough") || k.contains("gpu"))
                                .and_then(|(_, v)| v.rsplit(':').next()?.trim().parse().ok())
                        })
                        .unwrap_or(0),
                    id: f.id,
                    name: f.name,
                    vcpus: u64::from(f.vcpus),
                    ram_mb: f.ram,
                    disk_gb: f.disk,
                })
                .collect();
            c.flavors
                .sort_by_key(|f| (f.vcpus, f.ram_mb, f.name.clone()));
        }
        if let Ok(zones) = compute.availability_zones().await {
            c.azs = zones.into_iter().map(|z| z.zone_name).collect();
        }
        if let Ok(keys) = compute.list_keypairs().await {
            c.keypairs = keys.into_iter().map(|k| k.name).collect();
        }
        let network = client.network();
        if let Ok(nets) = network.list_networks(&Vec::new()).await {
            c.networks = nets
                .into_iter()
                .map(|n| (n.id, n.name, n.shared, n.router_external))
                .collect();
        }
        if let Ok(subnets) = network.list_subnets(&Vec::new()).await {
            // A VM's port goes on one of the project's own networks, not on the external one.
            let external: std::collections::BTreeSet<&str> = c
                .networks
                .iter()
                .filter(|n| n.3)
                .map(|n| n.0.as_str())
                .collect();
            c.subnets = subnets
                .into_iter()
                .filter(|s| !external.contains(s.network_id.as_str()))
                .map(|s| {
                    let label = if s.name.is_empty() {
                        s.cidr.clone()
                    } else {
                        format!("{} ({})", s.name, s.cidr)
                    };
                    (s.id, label)
                })
                .collect();
        }
        if let Ok(types) = client.block_storage().list_volume_types().await {
            c.volume_types = types.into_iter().map(|t| t.name).collect();
        }
        c
    }

    pub fn flavor(&self, id_or_name: &str) -> Option<&FlavorChoice> {
        self.flavors
            .iter()
            .find(|f| f.id == id_or_name || f.name == id_or_name)
    }

    /// The entries a datasource field offers, filtered as the option asks.
    pub fn offer(&self, ds: &Datasource) -> Vec<Choice> {
        let f = &ds.filter;
        let within = |b: &Option<vitrina_forms::Bounds>, v: u64| {
            b.is_none_or(|b| {
                let v = i64::try_from(v).unwrap_or(i64::MAX);
                b.minimum.is_none_or(|m| v >= m) && b.maximum.is_none_or(|m| v <= m)
            })
        };
        let by_name = matches!(ds.value_is, Some(vitrina_forms::ValueIs::Name));
        match ds.kind {
            DatasourceKind::Flavor => self
                .flavors
                .iter()
                .filter(|fl| within(&f.vcpus, fl.vcpus) && within(&f.ram_mb, fl.ram_mb))
                .map(|fl| Choice {
                    value: if by_name {
                        fl.name.clone()
                    } else {
                        fl.id.clone()
                    },
                    label: format!(
                        "{} — {} vCPU, {} GB RAM{}",
                        fl.name,
                        fl.vcpus,
                        fl.ram_mb as f64 / 1024.0,
                        if fl.gpus > 0 {
                            format!(", {} GPU", fl.gpus)
                        } else {
                            String::new()
                        }
                    ),
                })
                .collect(),
            DatasourceKind::Az => self
                .azs
                .iter()
                .map(|z| Choice {
                    value: z.clone(),
                    label: z.clone(),
                })
                .collect(),
            DatasourceKind::VolumeType => self
                .volume_types
                .iter()
                .filter(|t| {
                    (f.disk_classes.is_empty() || f.disk_classes.iter().any(|c| c == disk_class(t)))
                        && (f.volume_type_names.is_empty()
                            || f.volume_type_names.iter().any(|n| n == *t))
                })
                .map(|t| Choice {
                    value: t.clone(),
                    label: t.clone(),
                })
                .collect(),
            DatasourceKind::Subnet => self
                .subnets
                .iter()
                .map(|(id, label)| Choice {
                    value: id.clone(),
                    label: label.clone(),
                })
                .collect(),
            DatasourceKind::Network => self
                .networks
                .iter()
                .filter(|(_, _, shared, external)| {
                    let kind_ok = match f.network_kind.as_deref() {
                        Some("external") => *external,
                        Some("internal") => !*external,
                        _ => true,
                    };
                    kind_ok && f.shared.is_none_or(|s| s == *shared)
                })
                .map(|(id, name, _, _)| Choice {
                    value: if by_name { name.clone() } else { id.clone() },
                    label: name.clone(),
                })
                .collect(),
            DatasourceKind::Keypair => self
                .keypairs
                .iter()
                .map(|k| Choice {
                    value: k.clone(),
                    label: k.clone(),
                })
                .collect(),
        }
    }
}

/// Choices per cloud client, kept for a short while so typing in a wizard does not list the
/// cloud on every keystroke.
pub struct ChoicesCache {
    ttl: Duration,
    slot: Mutex<Option<(Instant, Arc<Choices>)>>,
}

impl ChoicesCache {
    pub fn new(ttl: Duration) -> Self {
        ChoicesCache {
            ttl,
            slot: Mutex::new(None),
        }
    }

    pub async fn get(&self, client: &Client) -> Arc<Choices> {
        let mut slot = self.slot.lock().await;
        if let Some((at, c)) = slot.as_ref() {
            if at.elapsed() < self.ttl {
                return c.clone();
            }
        }
        let c = Arc::new(Choices::load(client).await);
        *slot = Some((Instant::now(), c.clone()));
        c
    }
}
