//! A project's quotas with what it uses: Nova's `limits` (instances, cores, RAM), Cinder's
//! `limits` (volumes, gigabytes) and Neutron's `quotas/{project}/details` (floating IPs). A
//! cloud that lacks one of them leaves its quotas unknown (`None`) rather than failing.

use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::client::{Client, ServiceType};
use crate::compute::seg;
use crate::error::Result;

/// One quota: its limit (`-1`: unlimited) and what the project uses of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub limit: i64,
    pub used: i64,
}

impl Quota {
    /// What is left (`None`: unlimited).
    pub fn free(&self) -> Option<i64> {
        (self.limit >= 0).then(|| (self.limit - self.used).max(0))
    }
}

/// The quotas a deployment needs, each `None` when the cloud does not say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectQuotas {
    pub instances: Option<Quota>,
    pub cores: Option<Quota>,
    /// MiB.
    pub ram_mb: Option<Quota>,
    pub volumes: Option<Quota>,
    pub gigabytes: Option<Quota>,
    pub floating_ips: Option<Quota>,
}

fn pair(absolute: &Value, max: &str, used: &str) -> Option<Quota> {
    Some(Quota {
        limit: absolute.get(max)?.as_i64()?,
        used: absolute.get(used).and_then(Value::as_i64).unwrap_or(0),
    })
}

impl Client {
    /// The scoped project's quotas and usage from Nova, Cinder and Neutron. Fails only when
    /// the cloud cannot be signed in to; a service that does not answer leaves its quotas `None`.
    pub async fn project_quotas(&self) -> Result<ProjectQuotas> {
        let token = self.token().await?;
        let project = token.project_id().map(str::to_owned);
        let none = HeaderMap::new();
        let mut q = ProjectQuotas::default();
        if let Ok(v) = self
            .get_json::<Value>(ServiceType::Compute, "limits", &[], &none)
            .await
        {
            let a = v.pointer("/limits/absolute").cloned().unwrap_or_default();
            q.instances = pair(&a, "maxTotalInstances", "totalInstancesUsed");
            q.cores = pair(&a, "maxTotalCores", "totalCoresUsed");
            q.ram_mb = pair(&a, "maxTotalRAMSize", "totalRAMUsed");
        }
        if let Ok(v) = self
            .get_json::<Value>(ServiceType::BlockStorage, "limits", &[], &none)
            .await
        {
            let a = v.pointer("/limits/absolute").cloned().unwrap_or_default();
            q.volumes = pair(&a, "maxTotalVolumes", "totalVolumesUsed");
            q.gigabytes = pair(&a, "maxTotalVolumeGigabytes", "totalGigabytesUsed");
        }
        if let Some(p) = project {
            let path = format!("quotas/{}/details", seg(&p));
            if let Ok(v) = self
                .get_json::<Value>(ServiceType::Network, &path, &[], &none)
                .await
            {
                q.floating_ips = v.pointer("/quota/floatingip").and_then(|f| {
                    Some(Quota {
                        limit: f.get("limit")?.as_i64()?,
                        used: f.get("used").and_then(Value::as_i64).unwrap_or(0),
                    })
                });
            }
        }
        Ok(q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_read_limits_and_use() {
        let a = serde_json::json!({"maxTotalCores": 4, "totalCoresUsed": 3});
        let q = pair(&a, "maxTotalCores", "totalCoresUsed").expect("cores");
        assert_eq!(q.free(), Some(1));
        let unlimited = Quota { limit: -1, used: 7 };
        assert_eq!(unlimited.free(), None);
        assert_eq!(pair(&a, "maxTotalRAMSize", "totalRAMUsed"), None);
    }
}
