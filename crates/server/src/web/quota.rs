//! The quota check before deploying: what a wizard's answers need (VMs, vCPUs and RAM of the
//! chosen flavors, volumes and their gigabytes, floating IPs — from the plan's `display.yaml`
//! entities as the `forms` room resolves them, the same model the price uses) against what the
//! signed-in project's cloud still allows (Nova, Cinder and Neutron quotas read through the
//! `openstack` room). A shortfall is shown on the confirmation page with what to change, and
//! deploying is refused while it stands.

use std::collections::BTreeMap;

use vitrina_forms::wizard::{EntityKind, ResolvedEntity};
use vitrina_forms::{Action, Value};
use vitrina_openstack::{ProjectQuotas, Quota};
use vitrina_package::wizard::PlanOffer;

use super::choices::Choices;
use super::i18n::{t, Lang};
use super::session::Visitor;
use super::Web;

/// The check's template (included by the confirmation page).
pub(super) const TEMPLATES: &[(&str, &str)] =
    &[("quota.html", include_str!("../../web/templates/quota.html"))];

/// The check's own words, `(key, English, Russian)`.
pub(super) const MESSAGES: &[(&str, &str, &str)] = &[
    ("quota", "Project quotas", "Квоты проекта"),
    (
        "quota_ok",
        "The project's quotas allow this deployment.",
        "Квоты проекта позволяют это развёртывание.",
    ),
    (
        "quota_short",
        "The project's quotas do not allow this deployment:",
        "Квоты проекта не позволяют это развёртывание:",
    ),
    (
        "quota_unknown",
        "The cloud did not tell the project's quotas; they are checked when the deployment runs.",
        "Облако не сообщило квоты проекта; они будут проверены при развёртывании.",
    ),
    (
        "quota_refused",
        "Deploying is refused while a quota falls short.",
        "Развёртывание невозможно, пока не хватает квоты.",
    ),
    ("q_instances", "VMs", "ВМ"),
    ("q_cores", "vCPUs", "vCPU"),
    ("q_ram", "RAM, GB", "RAM, ГБ"),
    ("q_volumes", "Volumes", "Диски"),
    ("q_gigabytes", "Volume gigabytes", "Объём дисков, ГБ"),
    ("q_floating_ips", "Floating IPs", "Публичные IP"),
    ("q_needs", "needs", "нужно"),
    ("q_free", "free", "свободно"),
    (
        "fix_instances",
        "choose fewer VMs, or ask the cloud's administrator for a larger quota",
        "выберите меньше ВМ или попросите администратора облака увеличить квоту",
    ),
    (
        "fix_cores",
        "choose a flavor with fewer vCPUs or fewer VMs",
        "выберите тип ВМ с меньшим числом vCPU или меньше ВМ",
    ),
    (
        "fix_ram",
        "choose a flavor with less RAM or fewer VMs",
        "выберите тип ВМ с меньшим объёмом RAM или меньше ВМ",
    ),
    (
        "fix_volumes",
        "use fewer disks or fewer VMs",
        "используйте меньше дисков или меньше ВМ",
    ),
    (
        "fix_gigabytes",
        "make the disks smaller",
        "уменьшите размер дисков",
    ),
    (
        "fix_floating_ips",
        "turn off public addresses you do not need",
        "отключите ненужные публичные адреса",
    ),
    ("back_to_wizard", "Change the answers", "Изменить ответы"),
];

/// What one set of answers needs from the project's quotas.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    pub instances: u64,
    pub cores: u64,
    pub ram_mb: u64,
    pub volumes: u64,
    pub gigabytes: u64,
    pub floating_ips: u64,
}

/// Sums the resolved entities: each VM's flavor (looked up among the project's flavors), its
/// disks as volumes, floating IPs. A VM whose flavor is unknown counts as a VM only.
pub fn needs(entities: &[ResolvedEntity], choices: &Choices) -> Needs {
    let mut n = Needs::default();
    for e in entities {
        match e.kind {
            EntityKind::Vm => {
                n.instances = n.instances.saturating_add(e.count);
                if let Some(f) = e.flavor.as_deref().and_then(|f| choices.flavor(f)) {
                    n.cores = n.cores.saturating_add(f.vcpus.saturating_mul(e.count));
                    n.ram_mb = n.ram_mb.saturating_add(f.ram_mb.saturating_mul(e.count));
                }
                let disks = u64::try_from(e.disks.len()).unwrap_or(u64::MAX);
                n.volumes = n.volumes.saturating_add(disks.saturating_mul(e.count));
                let gb = e.disks.iter().fold(0u64, |a, (_, s)| a.saturating_add(*s));
                n.gigabytes = n.gigabytes.saturating_add(gb.saturating_mul(e.count));
            }
            EntityKind::FloatingIp => n.floating_ips = n.floating_ips.saturating_add(e.count),
            EntityKind::LoadBalancing => {}
        }
    }
    n
}

/// One quota the answers exceed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Shortfall {
    /// `cores`, `ram`, … (the row's key, for tests and styling).
    pub key: &'static str,
    pub what: String,
    pub needs: String,
    pub free: String,
    pub change: String,
}

/// The outcome shown on the confirmation page.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct QuotaCheck {
    /// Whether the quotas could be read at all.
    pub checked: bool,
    pub shortfalls: Vec<Shortfall>,
}

impl QuotaCheck {
    pub fn blocks(&self) -> bool {
        !self.shortfalls.is_empty()
    }
}

fn gb(mb: i64) -> String {
    let whole = mb / 1024;
    let rest = mb % 1024;
    if rest == 0 {
        whole.to_string()
    } else {
        format!("{:.1}", mb as f64 / 1024.0)
    }
}

/// The quotas `needs` exceeds.
pub fn shortfalls(needs: &Needs, q: &ProjectQuotas, lang: Lang) -> Vec<Shortfall> {
    let rows: [(&'static str, u64, Option<Quota>); 6] = [
        ("instances", needs.instances, q.instances),
        ("cores", needs.cores, q.cores),
        ("ram", needs.ram_mb, q.ram_mb),
        ("volumes", needs.volumes, q.volumes),
        ("gigabytes", needs.gigabytes, q.gigabytes),
        ("floating_ips", needs.floating_ips, q.floating_ips),
    ];
    rows.into_iter()
        .filter_map(|(key, need, quota)| {
            let free = quota?.free()?;
            let need = i64::try_from(need).unwrap_or(i64::MAX);
            if need == 0 || need <= free {
                return None;
            }
            let show = |v: i64| if key == "ram" { gb(v) } else { v.to_string() };
            Some(Shortfall {
                key,
                what: t(lang, &format!("q_{key}")).to_owned(),
                needs: show(need),
                free: show(free),
                change: t(lang, &format!("fix_{key}")).to_owned(),
            })
        })
        .collect()
}

impl Web {
    /// Checks the answers of a plan against the signed-in project's quotas. Visitors without a
    /// project (nothing to deploy into) and clouds that cannot be asked are not checked.
    pub(super) async fn quota_check(
        &self,
        v: &Visitor,
        offer: &PlanOffer,
        answers: &BTreeMap<String, Value>,
    ) -> QuotaCheck {
        let Some(project) = v.who.project() else {
            return QuotaCheck::default();
        };
        let client = {
            let map = self.project_choices.lock().await;
            map.get(project.id()).map(|e| e.0.clone())
        };
        let client = match client {
            Some(c) => c,
            None => {
                // `choices_for` makes and keeps the project's client.
                let _ = self.choices_for(v).await;
                let map = self.project_choices.lock().await;
                match map.get(project.id()) {
                    Some(e) => e.0.clone(),
                    None => return QuotaCheck::default(),
                }
            }
        };
        let choices = self.choices_for(v).await;
        let ev = offer.form.evaluate(answers, Action::Create);
        let needs = needs(&ev.entities, &choices);
        match client.project_quotas().await {
            Ok(q) => QuotaCheck {
                checked: q != ProjectQuotas::default(),
                shortfalls: shortfalls(&needs, &q, v.lang),
            },
            Err(e) => {
                tracing::warn!(error = %e, "the project's quotas could not be read");
                QuotaCheck::default()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quota(limit: i64, used: i64) -> Option<Quota> {
        Some(Quota { limit, used })
    }

    #[test]
    fn shortfalls_name_what_to_change() {
        let needs = Needs {
            instances: 1,
            cores: 4,
            ram_mb: 8192,
            volumes: 2,
            gigabytes: 50,
            floating_ips: 1,
        };
        let q = ProjectQuotas {
            instances: quota(10, 0),
            cores: quota(4, 2),
            ram_mb: quota(-1, 99_999),
            volumes: quota(10, 8),
            gigabytes: quota(1000, 960),
            floating_ips: None,
        };
        let s = shortfalls(&needs, &q, Lang::En);
        let keys: Vec<_> = s.iter().map(|s| s.key).collect();
        assert_eq!(keys, ["cores", "gigabytes"]);
        assert_eq!((s[0].needs.as_str(), s[0].free.as_str()), ("4", "2"));
        assert!(s[0].change.contains("fewer vCPUs"));
        assert_eq!(gb(1536), "1.5");
        assert_eq!(gb(2048), "2");
    }
}
