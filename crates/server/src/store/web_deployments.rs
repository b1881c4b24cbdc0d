//! Which consumer project started which deployment from the web pages (the broker instance the
//! pages drive for it, and the namespace it came from).

use sqlx::Row;

use super::{now_ms, query_err, Store, StoreError};
use crate::tenants::ProjectCtx;

/// The migrations of this area (version 61).
pub(super) const MIGRATION_61: &[&str] = &["CREATE TABLE IF NOT EXISTS web_deployments (
    instance_id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    namespace TEXT NOT NULL,
    service_id TEXT NOT NULL,
    revision TEXT NOT NULL,
    plan TEXT NOT NULL,
    created_at BIGINT NOT NULL)"];

/// A deployment started from the web pages.
#[derive(Debug, Clone)]
pub struct WebDeploymentRow {
    pub instance_id: String,
    pub namespace: String,
    pub service_id: String,
    pub revision: String,
    pub plan: String,
    pub created_at: i64,
}

fn row_of(r: &sqlx::any::AnyRow) -> Result<WebDeploymentRow, sqlx::Error> {
    Ok(WebDeploymentRow {
        instance_id: r.try_get("instance_id")?,
        namespace: r.try_get("namespace")?,
        service_id: r.try_get("service_id")?,
        revision: r.try_get("revision")?,
        plan: r.try_get("plan")?,
        created_at: r.try_get("created_at")?,
    })
}

impl Store {
    pub async fn web_deployment_add(
        &self,
        ctx: &ProjectCtx,
        row: &WebDeploymentRow,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO web_deployments (instance_id, project_id, namespace, service_id, revision, plan, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&row.instance_id)
        .bind(ctx.id())
        .bind(&row.namespace)
        .bind(&row.service_id)
        .bind(&row.revision)
        .bind(&row.plan)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(query_err("add web deployment"))?;
        Ok(())
    }

    /// The project's deployment by its instance id (another project's is not found).
    pub async fn web_deployment(
        &self,
        ctx: &ProjectCtx,
        instance_id: &str,
    ) -> Result<Option<WebDeploymentRow>, StoreError> {
        let row = sqlx::query(
            "SELECT instance_id, namespace, service_id, revision, plan, created_at FROM web_deployments WHERE instance_id = $1 AND project_id = $2",
        )
        .bind(instance_id)
        .bind(ctx.id())
        .fetch_optional(&self.pool)
        .await
        .map_err(query_err("find web deployment"))?;
        row.as_ref()
            .map(row_of)
            .transpose()
            .map_err(query_err("decode web deployment"))
    }

    /// The project's deployments, newest first.
    pub async fn web_deployments(
        &self,
        ctx: &ProjectCtx,
    ) -> Result<Vec<WebDeploymentRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT instance_id, namespace, service_id, revision, plan, created_at FROM web_deployments WHERE project_id = $1 ORDER BY created_at DESC",
        )
        .bind(ctx.id())
        .fetch_all(&self.pool)
        .await
        .map_err(query_err("list web deployments"))?;
        rows.iter()
            .map(row_of)
            .collect::<Result<_, _>>()
            .map_err(query_err("decode web deployment"))
    }
}
