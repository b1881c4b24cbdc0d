//! What the vendor console reads beyond the product store: the deployments of a vendor's
//! services, across every broker account, with their status only (no answers, outputs or
//! project secrets are selected).

use sqlx::Row;

use super::{query_err, Store, StoreError};
use crate::tenants::VendorCtx;

/// One deployment of a vendor's service as the console lists it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct VendorDeploymentRow {
    pub instance_id: String,
    pub service_id: String,
    pub plan_id: String,
    pub revision: String,
    /// The broker's state: `provisioning`, `ready`, `updating`, `deprovisioning`, `failed`.
    pub state: String,
    /// The deployment system's status (`applying`, `running`, `failed`, …) when it has one.
    pub status: Option<String>,
    pub created_at: i64,
}

impl Store {
    /// The live deployments (not deleted) of the caller's services, oldest first.
    pub async fn vendor_deployments(
        &self,
        ctx: &VendorCtx,
    ) -> Result<Vec<VendorDeploymentRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT i.instance_id, i.service_id, i.plan_id, i.revision, i.state, o.status, i.created_at \
             FROM osb_instances i JOIN products p ON p.service_id = i.service_id \
             LEFT JOIN hoe_objects o ON o.uuid = i.deployment \
             WHERE p.vendor_id = $1 AND i.state <> 'gone' ORDER BY i.created_at, i.instance_id",
        )
        .bind(ctx.id())
        .fetch_all(&self.pool)
        .await
        .map_err(query_err("list a vendor's deployments"))?;
        rows.iter()
            .map(|r| {
                Ok(VendorDeploymentRow {
                    instance_id: r.try_get(0)?,
                    service_id: r.try_get(1)?,
                    plan_id: r.try_get(2)?,
                    revision: r.try_get(3)?,
                    state: r.try_get(4)?,
                    status: r.try_get(5)?,
                    created_at: r.try_get(6)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(query_err("decode a vendor's deployment"))
    }
}
