//! Queries of VM-SDF deployments (migration 85): which app a deployment of the deployment
//! system runs, in which mode, and the answers it was deployed with (sealed: they hold
//! passwords), so that a later change can be checked against `is-volatile`.

use sqlx::Row;

use super::{now_ms, query_err, Store, StoreError};

/// Migration 85: the table of [`Store`]'s `sdf_deployment*` queries.
pub const MIGRATION_85: &[&str] = &["CREATE TABLE IF NOT EXISTS sdf_deployments (
    uuid TEXT PRIMARY KEY,
    project TEXT NOT NULL,
    app TEXT NOT NULL,
    mode TEXT NOT NULL,
    answers_sealed TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL)"];

/// One VM-SDF deployment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SdfDeploymentRow {
    pub uuid: String,
    pub project: String,
    pub app: String,
    pub mode: String,
    pub answers_sealed: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Store {
    /// Records a deployment; `false` when the uuid is taken.
    pub async fn sdf_deployment_create(
        &self,
        uuid: &str,
        project: &str,
        app: &str,
        mode: &str,
        answers_sealed: &str,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let r = sqlx::query(
            "INSERT INTO sdf_deployments (uuid, project, app, mode, answers_sealed, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (uuid) DO NOTHING",
        )
        .bind(uuid)
        .bind(project)
        .bind(app)
        .bind(mode)
        .bind(answers_sealed)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(query_err("create VM-SDF deployment"))?;
        Ok(r.rows_affected() == 1)
    }

    /// The project's deployment `uuid` (another project's is `None`).
    pub async fn sdf_deployment(
        &self,
        project: &str,
        uuid: &str,
    ) -> Result<Option<SdfDeploymentRow>, StoreError> {
        let row = sqlx::query(
            "SELECT uuid, project, app, mode, answers_sealed, created_at, updated_at FROM sdf_deployments WHERE uuid = $1 AND project = $2",
        )
        .bind(uuid)
        .bind(project)
        .fetch_optional(&self.pool)
        .await
        .map_err(query_err("read VM-SDF deployment"))?;
        row.map(|r| {
            Ok(SdfDeploymentRow {
                uuid: r.try_get("uuid")?,
                project: r.try_get("project")?,
                app: r.try_get("app")?,
                mode: r.try_get("mode")?,
                answers_sealed: r.try_get("answers_sealed")?,
                created_at: r.try_get("created_at")?,
                updated_at: r.try_get("updated_at")?,
            })
        })
        .transpose()
        .map_err(query_err("decode VM-SDF deployment"))
    }

    /// Replaces the answers of the project's deployment.
    pub async fn sdf_deployment_set_answers(
        &self,
        project: &str,
        uuid: &str,
        answers_sealed: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE sdf_deployments SET answers_sealed = $1, updated_at = $2 WHERE uuid = $3 AND project = $4",
        )
        .bind(answers_sealed)
        .bind(now_ms())
        .bind(uuid)
        .bind(project)
        .execute(&self.pool)
        .await
        .map_err(query_err("update VM-SDF deployment"))?;
        Ok(())
    }

    pub async fn sdf_deployment_delete(
        &self,
        project: &str,
        uuid: &str,
    ) -> Result<bool, StoreError> {
        let r = sqlx::query("DELETE FROM sdf_deployments WHERE uuid = $1 AND project = $2")
            .bind(uuid)
            .bind(project)
            .execute(&self.pool)
            .await
            .map_err(query_err("delete VM-SDF deployment"))?;
        Ok(r.rows_affected() == 1)
    }
}
