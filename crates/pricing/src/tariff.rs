//! Infrastructure cost: the wizard's entities (VMs with CPU, RAM and disks, load balancers,
//! floating IPs) × a tariff table the operator configures.
//!
//! The caller resolves `display.yaml`'s entities against the answers and the cloud's flavors;
//! this module only prices what it is given.

use std::collections::BTreeMap;

use crate::money::{Currency, Money};

/// Monthly prices of cloud resources. Operators override any of them (e.g. from a YAML file);
/// [`Tariffs::default`] holds a sensible list close to public OpenStack clouds' price lists.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Tariffs {
    pub currency: Currency,
    /// One vCPU for a month.
    pub vcpu_month: Money,
    /// One GiB of RAM for a month.
    pub ram_gb_month: Money,
    /// One GPU for a month (flavors with a GPU in their extra specs).
    pub gpu_month: Money,
    /// One GiB of disk for a month, by volume type name.
    pub disk_gb_month: BTreeMap<String, Money>,
    /// One GiB of disk of a type the table does not list.
    pub disk_gb_month_other: Money,
    /// One load balancer for a month.
    pub load_balancer_month: Money,
    /// One floating IP for a month.
    pub floating_ip_month: Money,
}

impl Default for Tariffs {
    fn default() -> Self {
        let disk = [
            ("ceph-hdd", 4),
            ("ceph-ssd", 12),
            ("high-iops", 20),
            ("local-ssd", 15),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), Money::units(v)))
        .collect();
        Tariffs {
            currency: Currency::default(),
            vcpu_month: Money::units(450),
            ram_gb_month: Money::units(200),
            gpu_month: Money::units(45_000),
            disk_gb_month: disk,
            disk_gb_month_other: Money::units(12),
            load_balancer_month: Money::units(1_500),
            floating_ip_month: Money::units(220),
        }
    }
}

/// A disk of a VM entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disk {
    pub volume_type: String,
    pub size_gb: u64,
}

/// An entity of `display.yaml` with its values resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entity {
    Vm {
        description: Option<String>,
        count: u64,
        vcpus: u64,
        ram_mb: u64,
        gpus: u64,
        disks: Vec<Disk>,
    },
    LoadBalancer {
        description: Option<String>,
        count: u64,
    },
    FloatingIp {
        description: Option<String>,
        count: u64,
    },
}

/// One priced part of an entity: `("4 vCPU", 1 800.00)`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Part {
    pub what: PartKind,
    pub quantity: u64,
    /// For disks: the volume type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_type: Option<String>,
    pub monthly: Money,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PartKind {
    Vcpu,
    RamGb,
    Gpu,
    DiskGb,
    LoadBalancer,
    FloatingIp,
}

/// One entity's cost: its parts for one instance, times `count`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Line {
    pub entity: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub count: u64,
    pub parts: Vec<Part>,
    /// All `count` instances for a month.
    pub monthly: Money,
}

/// The infrastructure of one set of answers, priced.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InfraCost {
    pub lines: Vec<Line>,
    pub monthly: Money,
}

/// Why a set of entities could not be priced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PriceError {
    #[error("the price of {0} is too large to compute")]
    Overflow(&'static str),
}

impl Tariffs {
    /// The monthly price of one GiB of `volume_type`.
    pub fn disk_gb(&self, volume_type: &str) -> Money {
        self.disk_gb_month
            .get(volume_type)
            .copied()
            .unwrap_or(self.disk_gb_month_other)
    }

    /// Prices `entities`. RAM is billed per started GiB (`ram_mb` rounded up to whole GiB).
    pub fn infra_cost(&self, entities: &[Entity]) -> Result<InfraCost, PriceError> {
        let mut lines = Vec::with_capacity(entities.len());
        for e in entities {
            let part = |what, quantity: u64, unit: Money, volume_type: Option<String>| {
                let q = i64::try_from(quantity).map_err(|_| PriceError::Overflow("a quantity"))?;
                let monthly = unit
                    .checked_mul(q)
                    .ok_or(PriceError::Overflow("a resource"))?;
                Ok::<_, PriceError>(Part {
                    what,
                    quantity,
                    volume_type,
                    monthly,
                })
            };
            let (entity, description, count, parts) = match e {
                Entity::Vm {
                    description,
                    count,
                    vcpus,
                    ram_mb,
                    gpus,
                    disks,
                } => {
                    let mut parts = vec![
                        part(PartKind::Vcpu, *vcpus, self.vcpu_month, None)?,
                        part(
                            PartKind::RamGb,
                            ram_mb.div_ceil(1024),
                            self.ram_gb_month,
                            None,
                        )?,
                    ];
                    if *gpus > 0 {
                        parts.push(part(PartKind::Gpu, *gpus, self.gpu_month, None)?);
                    }
                    for d in disks {
                        parts.push(part(
                            PartKind::DiskGb,
                            d.size_gb,
                            self.disk_gb(&d.volume_type),
                            Some(d.volume_type.clone()),
                        )?);
                    }
                    ("vm", description, *count, parts)
                }
                Entity::LoadBalancer { description, count } => (
                    "load_balancing",
                    description,
                    *count,
                    vec![part(
                        PartKind::LoadBalancer,
                        1,
                        self.load_balancer_month,
                        None,
                    )?],
                ),
                Entity::FloatingIp { description, count } => (
                    "floating_ip",
                    description,
                    *count,
                    vec![part(PartKind::FloatingIp, 1, self.floating_ip_month, None)?],
                ),
            };
            let one = parts
                .iter()
                .try_fold(Money::ZERO, |a, p| a.checked_add(p.monthly))
                .ok_or(PriceError::Overflow(entity))?;
            let monthly = i64::try_from(count)
                .ok()
                .and_then(|c| one.checked_mul(c))
                .ok_or(PriceError::Overflow(entity))?;
            lines.push(Line {
                entity,
                description: description.clone(),
                count,
                parts,
                monthly,
            });
        }
        let monthly = lines
            .iter()
            .try_fold(Money::ZERO, |a, l| a.checked_add(l.monthly))
            .ok_or(PriceError::Overflow("the infrastructure"))?;
        Ok(InfraCost { lines, monthly })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_a_vm_with_disks_an_lb_and_ips() {
        let t = Tariffs::default();
        let cost = t
            .infra_cost(&[
                Entity::Vm {
                    description: Some("nodes".into()),
                    count: 3,
                    vcpus: 2,
                    ram_mb: 4096,
                    gpus: 0,
                    disks: vec![
                        Disk {
                            volume_type: "ceph-ssd".into(),
                            size_gb: 20,
                        },
                        Disk {
                            volume_type: "exotic".into(),
                            size_gb: 10,
                        },
                    ],
                },
                Entity::LoadBalancer {
                    description: None,
                    count: 1,
                },
                Entity::FloatingIp {
                    description: None,
                    count: 2,
                },
            ])
            .unwrap();
        // One node: 2×450 + 4×200 + 20×12 + 10×12 = 2060; three: 6180.
        assert_eq!(cost.lines[0].monthly, Money::units(6180));
        assert_eq!(cost.lines[1].monthly, Money::units(1500));
        assert_eq!(cost.lines[2].monthly, Money::units(440));
        assert_eq!(cost.monthly, Money::units(8120));
    }

    #[test]
    fn ram_is_billed_per_started_gib_and_overflow_is_an_error() {
        let t = Tariffs::default();
        let one = |ram_mb| Entity::Vm {
            description: None,
            count: 1,
            vcpus: 0,
            ram_mb,
            gpus: 0,
            disks: vec![],
        };
        assert_eq!(
            t.infra_cost(&[one(1536)]).unwrap().monthly,
            Money::units(400)
        );
        let huge = Entity::FloatingIp {
            description: None,
            count: u64::MAX,
        };
        assert!(t.infra_cost(&[huge]).is_err());
    }

    #[test]
    fn an_operator_table_overrides_the_defaults_by_name() {
        let t: Tariffs =
            serde_json::from_str(r#"{"vcpu_month": "333.33", "disk_gb_month": {"fast": 7}}"#)
                .unwrap();
        assert_eq!(t.vcpu_month, "333.33".parse().unwrap());
        assert_eq!(t.disk_gb("fast"), Money::units(7));
        assert_eq!(t.disk_gb("ceph-ssd"), t.disk_gb_month_other);
        assert_eq!(t.ram_gb_month, Money::units(200));
        assert!(serde_json::from_str::<Tariffs>(r#"{"vcpu": 1}"#).is_err());
    }
}
