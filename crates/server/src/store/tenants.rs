//! Tenants' rows: vendors and their service tokens, consumer projects and their API tokens and
//! clouds, broker accounts, and sealed settings. Tokens and passwords are kept as SHA-256 hashes;
//! cloud credentials are sealed by the caller ([`crate::crypto::Sealer`]).
//!
//! Queries that serve a caller take the caller's context ([`crate::tenants::VendorCtx`] …) from
//! [`crate::tenants`]; the lookups that build those contexts (by token hash) are here too.

use sqlx::Row;

use super::{now_ms, query_err, Store, StoreError};

/// The migrations of this area (versions 20–29).
pub(super) const MIGRATION_20: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS vendors (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS vendor_tokens (
    token_hash TEXT PRIMARY KEY,
    vendor_id TEXT NOT NULL,
    created_at BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS projects (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    email TEXT NOT NULL,
    cloud_kind TEXT NOT NULL,
    cloud_project_id TEXT,
    cloud_sealed TEXT NOT NULL,
    created_at BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS project_tokens (
    token_hash TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    created_at BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS broker_accounts (
    username TEXT PRIMARY KEY,
    namespace TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sealed_settings (
    name TEXT PRIMARY KEY,
    value_sealed TEXT NOT NULL,
    updated_at BIGINT NOT NULL)",
];

/// A vendor row.
#[derive(Clone, Debug)]
pub struct VendorRow {
    pub id: String,
    pub name: String,
    pub created_at: i64,
}

/// A consumer project row (the cloud's credentials stay sealed).
#[derive(Clone, Debug)]
pub struct ProjectRow {
    pub id: String,
    pub name: String,
    pub email: String,
    /// `localcloud` or `external`.
    pub cloud_kind: String,
    /// The project's id in its cloud, when known.
    pub cloud_project_id: Option<String>,
    pub cloud_sealed: String,
    pub created_at: i64,
}

/// A broker account row.
#[derive(Clone, Debug)]
pub struct BrokerAccountRow {
    pub username: String,
    /// `public` or `test`.
    pub namespace: String,
    pub password_hash: String,
}

fn project_row(r: &sqlx::any::AnyRow) -> Result<ProjectRow, sqlx::Error> {
    Ok(ProjectRow {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        email: r.try_get("email")?,
        cloud_kind: r.try_get("cloud_kind")?,
        cloud_project_id: r.try_get("cloud_project_id")?,
        cloud_sealed: r.try_get("cloud_sealed")?,
        created_at: r.try_get("created_at")?,
    })
}

const PROJECT_COLS: &str =
    "id, name, email, cloud_kind, cloud_project_id, cloud_sealed, created_at";

impl Store {
    // ---- vendors ----

    /// Inserts a vendor; `false` when the name is taken.
    pub async fn vendor_insert(&self, id: &str, name: &str) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "INSERT INTO vendors (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
        )
        .bind(id)
        .bind(name)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(query_err("insert vendor"))?;
        Ok(r.rows_affected() > 0)
    }

    pub async fn vendor_by_name(&self, name: &str) -> Result<Option<VendorRow>, StoreError> {
        let row = sqlx::query("SELECT id, name, created_at FROM vendors WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_err("find vendor"))?;
        row.map(|r| {
            Ok(VendorRow {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .transpose()
        .map_err(query_err("decode vendor"))
    }

    pub async fn vendor_token_add(&self, vendor_id: &str, hash: &str) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO vendor_tokens (token_hash, vendor_id, created_at) VALUES ($1, $2, $3) ON CONFLICT (token_hash) DO NOTHING")
            .bind(hash)
            .bind(vendor_id)
            .bind(now_ms())
            .execute(&self.pool)
            .await
            .map_err(query_err("add vendor token"))?;
        Ok(())
    }

    /// The vendor a service token's hash belongs to.
    pub async fn vendor_by_token(&self, hash: &str) -> Result<Option<VendorRow>, StoreError> {
        let row = sqlx::query(
            "SELECT v.id, v.name, v.created_at FROM vendor_tokens t JOIN vendors v ON v.id = t.vendor_id WHERE t.token_hash = $1",
        )
        .bind(hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(query_err("find vendor token"))?;
        row.map(|r| {
            Ok(VendorRow {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .transpose()
        .map_err(query_err("decode vendor"))
    }

    // ---- consumer projects ----

    /// Inserts a project; `false` when the name is taken.
    pub async fn project_insert(&self, p: &ProjectRow) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "INSERT INTO projects (id, name, email, cloud_kind, cloud_project_id, cloud_sealed, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (name) DO NOTHING",
        )
        .bind(&p.id)
        .bind(&p.name)
        .bind(&p.email)
        .bind(&p.cloud_kind)
        .bind(p.cloud_project_id.as_deref())
        .bind(&p.cloud_sealed)
        .bind(p.created_at)
        .execute(&self.pool)
        .await
        .map_err(query_err("insert project"))?;
        Ok(r.rows_affected() > 0)
    }

    pub async fn project_by_name(&self, name: &str) -> Result<Option<ProjectRow>, StoreError> {
        let q = format!("SELECT {PROJECT_COLS} FROM projects WHERE name = $1");
        let row = sqlx::query(&q)
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_err("find project"))?;
        row.map(|r| project_row(&r))
            .transpose()
            .map_err(query_err("decode project"))
    }

    pub async fn project_by_id(&self, id: &str) -> Result<Option<ProjectRow>, StoreError> {
        let q = format!("SELECT {PROJECT_COLS} FROM projects WHERE id = $1");
        let row = sqlx::query(&q)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_err("find project"))?;
        row.map(|r| project_row(&r))
            .transpose()
            .map_err(query_err("decode project"))
    }

    /// The project behind a cloud project id of the given kind (a Keystone token's scope).
    pub async fn project_by_cloud_project(
        &self,
        kind: &str,
        cloud_project_id: &str,
    ) -> Result<Option<ProjectRow>, StoreError> {
        let q = format!(
            "SELECT {PROJECT_COLS} FROM projects WHERE cloud_kind = $1 AND cloud_project_id = $2"
        );
        let row = sqlx::query(&q)
            .bind(kind)
            .bind(cloud_project_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_err("find project by cloud project"))?;
        row.map(|r| project_row(&r))
            .transpose()
            .map_err(query_err("decode project"))
    }

    pub async fn project_token_add(&self, project_id: &str, hash: &str) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO project_tokens (token_hash, project_id, created_at) VALUES ($1, $2, $3) ON CONFLICT (token_hash) DO NOTHING")
            .bind(hash)
            .bind(project_id)
            .bind(now_ms())
            .execute(&self.pool)
            .await
            .map_err(query_err("add project token"))?;
        Ok(())
    }

    /// The project an API token's hash belongs to.
    pub async fn project_by_token(&self, hash: &str) -> Result<Option<ProjectRow>, StoreError> {
        let q = format!(
            "SELECT {} FROM project_tokens t JOIN projects p ON p.id = t.project_id WHERE t.token_hash = $1",
            PROJECT_COLS
                .split(", ")
                .map(|c| format!("p.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let row = sqlx::query(&q)
            .bind(hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_err("find project token"))?;
        row.map(|r| project_row(&r))
            .transpose()
            .map_err(query_err("decode project"))
    }

    // ---- broker accounts ----

    /// Inserts or replaces a broker account (a new password for an existing name).
    pub async fn broker_account_put(
        &self,
        username: &str,
        namespace: &str,
        password_hash: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO broker_accounts (username, namespace, password_hash, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (username) DO UPDATE SET namespace = excluded.namespace, password_hash = excluded.password_hash",
        )
        .bind(username)
        .bind(namespace)
        .bind(password_hash)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(query_err("put broker account"))?;
        Ok(())
    }

    pub async fn broker_account(
        &self,
        username: &str,
    ) -> Result<Option<BrokerAccountRow>, StoreError> {
        let row = sqlx::query(
            "SELECT username, namespace, password_hash FROM broker_accounts WHERE username = $1",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await
        .map_err(query_err("find broker account"))?;
        row.map(|r| {
            Ok(BrokerAccountRow {
                username: r.try_get("username")?,
                namespace: r.try_get("namespace")?,
                password_hash: r.try_get("password_hash")?,
            })
        })
        .transpose()
        .map_err(query_err("decode broker account"))
    }

    // ---- sealed settings ----

    pub async fn sealed_setting(&self, name: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT value_sealed FROM sealed_settings WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_err("read setting"))?;
        row.map(|r| r.try_get("value_sealed"))
            .transpose()
            .map_err(query_err("decode setting"))
    }

    pub async fn sealed_setting_put(&self, name: &str, sealed: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sealed_settings (name, value_sealed, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET value_sealed = excluded.value_sealed, updated_at = excluded.updated_at",
        )
        .bind(name)
        .bind(sealed)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(query_err("write setting"))?;
        Ok(())
    }
}
