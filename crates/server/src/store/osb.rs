//! The OSB broker's records: service instances (with their latest operation and a pending
//! update) and bindings. Every query takes the broker account: an account never reads or
//! changes another account's instances. Answers are sealed by the caller (`*_sealed`).

use sqlx::Row;

use super::{now_ms, query_err, Store, StoreError};
use crate::tenants::BrokerCtx;

/// Migration 30.
pub const MIGRATION_30: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS osb_instances (
        instance_id TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        service_id TEXT NOT NULL,
        plan_id TEXT NOT NULL,
        revision TEXT NOT NULL,
        request_hash TEXT NOT NULL,
        answers_sealed TEXT NOT NULL,
        project TEXT,
        email TEXT,
        deployment TEXT NOT NULL,
        state TEXT NOT NULL,
        op_id TEXT NOT NULL,
        op_kind TEXT NOT NULL,
        op_state TEXT NOT NULL,
        op_description TEXT NOT NULL,
        target_plan_id TEXT,
        target_revision TEXT,
        target_answers_sealed TEXT,
        target_hash TEXT,
        generation BIGINT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS osb_instances_account ON osb_instances (account)",
    "CREATE TABLE IF NOT EXISTS osb_bindings (
        instance_id TEXT NOT NULL,
        binding_id TEXT NOT NULL,
        account TEXT NOT NULL,
        request_hash TEXT NOT NULL,
        state TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (instance_id, binding_id))",
];

/// An instance as stored. `state`: `provisioning`, `ready`, `updating`, `deprovisioning`,
/// `failed` (a provision that failed) or `gone` (a tombstone after deprovisioning).
#[derive(Clone, Debug, PartialEq)]
pub struct OsbInstanceRow {
    pub instance_id: String,
    pub account: String,
    pub service_id: String,
    pub plan_id: String,
    pub revision: String,
    pub request_hash: String,
    pub answers_sealed: String,
    pub project: Option<String>,
    pub email: Option<String>,
    pub deployment: String,
    pub state: String,
    pub op_id: String,
    pub op_kind: String,
    pub op_state: String,
    pub op_description: String,
    pub target_plan_id: Option<String>,
    pub target_revision: Option<String>,
    pub target_answers_sealed: Option<String>,
    pub target_hash: Option<String>,
    pub generation: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A binding: `bound` or `gone` (a tombstone after unbinding).
#[derive(Clone, Debug, PartialEq)]
pub struct OsbBindingRow {
    pub instance_id: String,
    pub binding_id: String,
    pub account: String,
    pub request_hash: String,
    pub state: String,
    pub created_at: i64,
}

const INSTANCE_COLS: &str = "instance_id, account, service_id, plan_id, revision, request_hash, answers_sealed, project, email, deployment, state, op_id, op_kind, op_state, op_description, target_plan_id, target_revision, target_answers_sealed, target_hash, generation, created_at, updated_at";

fn instance_row(r: &sqlx::any::AnyRow) -> Result<OsbInstanceRow, sqlx::Error> {
    Ok(OsbInstanceRow {
        instance_id: r.try_get("instance_id")?,
        account: r.try_get("account")?,
        service_id: r.try_get("service_id")?,
        plan_id: r.try_get("plan_id")?,
        revision: r.try_get("revision")?,
        request_hash: r.try_get("request_hash")?,
        answers_sealed: r.try_get("answers_sealed")?,
        project: r.try_get("project")?,
        email: r.try_get("email")?,
        deployment: r.try_get("deployment")?,
        state: r.try_get("state")?,
        op_id: r.try_get("op_id")?,
        op_kind: r.try_get("op_kind")?,
        op_state: r.try_get("op_state")?,
        op_description: r.try_get("op_description")?,
        target_plan_id: r.try_get("target_plan_id")?,
        target_revision: r.try_get("target_revision")?,
        target_answers_sealed: r.try_get("target_answers_sealed")?,
        target_hash: r.try_get("target_hash")?,
        generation: r.try_get("generation")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn binding_row(r: &sqlx::any::AnyRow) -> Result<OsbBindingRow, sqlx::Error> {
    Ok(OsbBindingRow {
        instance_id: r.try_get("instance_id")?,
        binding_id: r.try_get("binding_id")?,
        account: r.try_get("account")?,
        request_hash: r.try_get("request_hash")?,
        state: r.try_get("state")?,
        created_at: r.try_get("created_at")?,
    })
}

impl Store {
    /// The account's instance `instance_id` (tombstones included).
    pub async fn osb_instance(
        &self,
        account: &BrokerCtx,
        instance_id: &str,
    ) -> Result<Option<OsbInstanceRow>, StoreError> {
        let q = format!(
            "SELECT {INSTANCE_COLS} FROM osb_instances WHERE instance_id = $1 AND account = $2"
        );
        let row = sqlx::query(&q)
            .bind(instance_id)
            .bind(account.username())
            .fetch_optional(&self.pool)
            .await
            .map_err(query_err("read osb instance"))?;
        row.map(|r| instance_row(&r))
            .transpose()
            .map_err(query_err("decode osb instance"))
    }

    /// Whether any account has an instance with this id (a tombstone of the same account does
    /// not count: the id may be provisioned again).
    pub async fn osb_instance_taken(
        &self,
        account: &BrokerCtx,
        instance_id: &str,
    ) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT instance_id FROM osb_instances WHERE instance_id = $1 AND NOT (account = $2 AND state = 'gone')",
        )
        .bind(instance_id)
        .bind(account.username())
        .fetch_optional(&self.pool)
        .await
        .map_err(query_err("find osb instance"))?;
        Ok(row.is_some())
    }

    /// Creates the instance, replacing the same account's tombstone of that id. Returns false
    /// when the id is taken (another request won the race).
    pub async fn osb_instance_create(&self, row: &OsbInstanceRow) -> Result<bool, StoreError> {
        let err = query_err("create osb instance");
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(query_err("create osb instance"))?;
        sqlx::query(
            "DELETE FROM osb_instances WHERE instance_id = $1 AND account = $2 AND state = 'gone'",
        )
        .bind(&row.instance_id)
        .bind(&row.account)
        .execute(&mut *tx)
        .await
        .map_err(query_err("create osb instance"))?;
        sqlx::query(
            "DELETE FROM osb_bindings WHERE instance_id = $1 AND account = $2 AND NOT EXISTS (SELECT 1 FROM osb_instances WHERE instance_id = $1)",
        )
        .bind(&row.instance_id)
        .bind(&row.account)
        .execute(&mut *tx)
        .await
        .map_err(query_err("create osb instance"))?;
        let q = format!(
            "INSERT INTO osb_instances ({INSTANCE_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22) ON CONFLICT (instance_id) DO NOTHING"
        );
        let now = now_ms();
        let done = sqlx::query(&q)
            .bind(&row.instance_id)
            .bind(&row.account)
            .bind(&row.service_id)
            .bind(&row.plan_id)
            .bind(&row.revision)
            .bind(&row.request_hash)
            .bind(&row.answers_sealed)
            .bind(&row.project)
            .bind(&row.email)
            .bind(&row.deployment)
            .bind(&row.state)
            .bind(&row.op_id)
            .bind(&row.op_kind)
            .bind(&row.op_state)
            .bind(&row.op_description)
            .bind(&row.target_plan_id)
            .bind(&row.target_revision)
            .bind(&row.target_answers_sealed)
            .bind(&row.target_hash)
            .bind(row.generation)
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(query_err("create osb instance"))?;
        tx.commit().await.map_err(err)?;
        Ok(done.rows_affected() > 0)
    }

    /// Writes `row` if nobody changed the instance since it was read at `row.generation`;
    /// the stored generation becomes `row.generation + 1`. Returns whether it was written.
    pub async fn osb_instance_save(&self, row: &OsbInstanceRow) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE osb_instances SET service_id = $1, plan_id = $2, revision = $3, request_hash = $4, answers_sealed = $5, project = $6, email = $7, deployment = $8, state = $9, op_id = $10, op_kind = $11, op_state = $12, op_description = $13, target_plan_id = $14, target_revision = $15, target_answers_sealed = $16, target_hash = $17, generation = generation + 1, updated_at = $18 WHERE instance_id = $19 AND account = $20 AND generation = $21",
        )
        .bind(&row.service_id)
        .bind(&row.plan_id)
        .bind(&row.revision)
        .bind(&row.request_hash)
        .bind(&row.answers_sealed)
        .bind(&row.project)
        .bind(&row.email)
        .bind(&row.deployment)
        .bind(&row.state)
        .bind(&row.op_id)
        .bind(&row.op_kind)
        .bind(&row.op_state)
        .bind(&row.op_description)
        .bind(&row.target_plan_id)
        .bind(&row.target_revision)
        .bind(&row.target_answers_sealed)
        .bind(&row.target_hash)
        .bind(now_ms())
        .bind(&row.instance_id)
        .bind(&row.account)
        .bind(row.generation)
        .execute(&self.pool)
        .await
        .map_err(query_err("save osb instance"))?;
        Ok(done.rows_affected() > 0)
    }

    /// The account's instances that are not tombstones (for metrics and audits).
    pub async fn osb_instances(
        &self,
        account: &BrokerCtx,
    ) -> Result<Vec<OsbInstanceRow>, StoreError> {
        let q = format!(
            "SELECT {INSTANCE_COLS} FROM osb_instances WHERE account = $1 AND state <> 'gone' ORDER BY created_at"
        );
        let rows = sqlx::query(&q)
            .bind(account.username())
            .fetch_all(&self.pool)
            .await
            .map_err(query_err("list osb instances"))?;
        rows.iter()
            .map(instance_row)
            .collect::<Result<_, _>>()
            .map_err(query_err("decode osb instance"))
    }

    pub async fn osb_binding(
        &self,
        account: &BrokerCtx,
        instance_id: &str,
        binding_id: &str,
    ) -> Result<Option<OsbBindingRow>, StoreError> {
        let row = sqlx::query("SELECT instance_id, binding_id, account, request_hash, state, created_at FROM osb_bindings WHERE instance_id = $1 AND binding_id = $2 AND account = $3")
            .bind(instance_id)
            .bind(binding_id)
            .bind(account.username())
            .fetch_optional(&self.pool)
            .await
            .map_err(query_err("read osb binding"))?;
        row.map(|r| binding_row(&r))
            .transpose()
            .map_err(query_err("decode osb binding"))
    }

    /// Creates a binding (replacing its own tombstone). Returns false when it exists.
    pub async fn osb_binding_create(&self, row: &OsbBindingRow) -> Result<bool, StoreError> {
        let now = now_ms();
        let done = sqlx::query("INSERT INTO osb_bindings (instance_id, binding_id, account, request_hash, state, created_at, updated_at) VALUES ($1, $2, $3, $4, 'bound', $5, $5) ON CONFLICT (instance_id, binding_id) DO UPDATE SET request_hash = $4, state = 'bound', created_at = $5, updated_at = $5 WHERE osb_bindings.state = 'gone' AND osb_bindings.account = $3")
            .bind(&row.instance_id)
            .bind(&row.binding_id)
            .bind(&row.account)
            .bind(&row.request_hash)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(query_err("create osb binding"))?;
        Ok(done.rows_affected() > 0)
    }

    /// Marks a bound binding gone; returns whether it was bound.
    pub async fn osb_binding_remove(
        &self,
        account: &BrokerCtx,
        instance_id: &str,
        binding_id: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE osb_bindings SET state = 'gone', updated_at = $1 WHERE instance_id = $2 AND binding_id = $3 AND account = $4 AND state = 'bound'")
            .bind(now_ms())
            .bind(instance_id)
            .bind(binding_id)
            .bind(account.username())
            .execute(&self.pool)
            .await
            .map_err(query_err("remove osb binding"))?;
        Ok(done.rows_affected() > 0)
    }

    /// Marks every binding of an instance gone (the instance is deprovisioned).
    pub async fn osb_bindings_remove_all(
        &self,
        account: &BrokerCtx,
        instance_id: &str,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query("UPDATE osb_bindings SET state = 'gone', updated_at = $1 WHERE instance_id = $2 AND account = $3 AND state = 'bound'")
            .bind(now_ms())
            .bind(instance_id)
            .bind(account.username())
            .execute(&self.pool)
            .await
            .map_err(query_err("remove osb bindings"))?;
        Ok(done.rows_affected())
    }
}

impl Store {
    /// Changes whenever a product revision is uploaded, published or archived: the broker's
    /// catalog cache is keyed on it (one small query instead of reading every catalog).
    pub async fn osb_catalog_stamp(&self) -> Result<String, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n, COALESCE(MAX(seq), 0) AS s, COALESCE(MAX(published_at), 0) AS p, COALESCE(MAX(archived_at), 0) AS a FROM product_revisions")
            .fetch_one(&self.pool)
            .await
            .map_err(query_err("read catalog stamp"))?;
        let get = |k: &str| row.try_get::<i64, _>(k).unwrap_or(0);
        Ok(format!(
            "{}-{}-{}-{}",
            get("n"),
            get("s"),
            get("p"),
            get("a")
        ))
    }

    /// The id of the consumer project named `name` (the broker's default project).
    pub async fn osb_project_named(&self, name: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT id FROM projects WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_err("find project by name"))?;
        row.map(|r| r.try_get::<String, _>("id"))
            .transpose()
            .map_err(query_err("decode project id"))
    }
}
