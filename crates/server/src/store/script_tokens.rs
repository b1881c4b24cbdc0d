//! Script tokens (`token_file_path` / `token_rotate`, migration 91): one per deployment and
//! host, kept as a hash (to find it) and sealed (to answer it again); the previous one stays
//! valid until `prev_until`.

use sqlx::Row;

use super::{query_err, Store, StoreError};

pub(super) const MIGRATION_91: &[&str] = &["CREATE TABLE IF NOT EXISTS script_tokens (
    deployment TEXT NOT NULL,
    host TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    token_sealed TEXT NOT NULL,
    issued_at BIGINT NOT NULL,
    prev_hash TEXT,
    prev_sealed TEXT,
    prev_until BIGINT,
    PRIMARY KEY (deployment, host))"];

#[derive(Clone, Debug)]
pub struct ScriptTokenRow {
    pub token_hash: String,
    pub token_sealed: String,
    pub issued_at: i64,
    pub prev_hash: Option<String>,
    pub prev_sealed: Option<String>,
    pub prev_until: Option<i64>,
}

fn row_of(r: &sqlx::any::AnyRow) -> Result<ScriptTokenRow, sqlx::Error> {
    Ok(ScriptTokenRow {
        token_hash: r.try_get("token_hash")?,
        token_sealed: r.try_get("token_sealed")?,
        issued_at: r.try_get("issued_at")?,
        prev_hash: r.try_get("prev_hash")?,
        prev_sealed: r.try_get("prev_sealed")?,
        prev_until: r.try_get("prev_until")?,
    })
}

impl Store {
    pub async fn script_token(
        &self,
        deployment: &str,
        host: &str,
    ) -> Result<Option<ScriptTokenRow>, StoreError> {
        let row = sqlx::query(
            "SELECT token_hash, token_sealed, issued_at, prev_hash, prev_sealed, prev_until
             FROM script_tokens WHERE deployment = $1 AND host = $2",
        )
        .bind(deployment)
        .bind(host)
        .fetch_optional(&self.pool)
        .await
        .map_err(query_err("read a script token"))?;
        row.as_ref()
            .map(row_of)
            .transpose()
            .map_err(query_err("read a script token"))
    }

    /// Stores the first token of a host; false when another request stored one first.
    pub async fn script_token_insert(
        &self,
        deployment: &str,
        host: &str,
        row: &ScriptTokenRow,
    ) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "INSERT INTO script_tokens (deployment, host, token_hash, token_sealed, issued_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (deployment, host) DO NOTHING",
        )
        .bind(deployment)
        .bind(host)
        .bind(&row.token_hash)
        .bind(&row.token_sealed)
        .bind(row.issued_at)
        .execute(&self.pool)
        .await
        .map_err(query_err("store a script token"))?;
        Ok(r.rows_affected() > 0)
    }

    /// Replaces the token whose hash is `old_hash` (it becomes the previous one); false when
    /// another request rotated it first.
    pub async fn script_token_rotate(
        &self,
        deployment: &str,
        host: &str,
        old_hash: &str,
        row: &ScriptTokenRow,
    ) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE script_tokens SET token_hash = $1, token_sealed = $2, issued_at = $3,
             prev_hash = $4, prev_sealed = $5, prev_until = $6
             WHERE deployment = $7 AND host = $8 AND token_hash = $9",
        )
        .bind(&row.token_hash)
        .bind(&row.token_sealed)
        .bind(row.issued_at)
        .bind(&row.prev_hash)
        .bind(&row.prev_sealed)
        .bind(row.prev_until)
        .bind(deployment)
        .bind(host)
        .bind(old_hash)
        .execute(&self.pool)
        .await
        .map_err(query_err("rotate a script token"))?;
        Ok(r.rows_affected() > 0)
    }

    /// The deployment and host of a script token that is current, or previous until `now_ms`.
    pub async fn script_token_owner(
        &self,
        hash: &str,
        now_ms: i64,
    ) -> Result<Option<(String, String, ScriptTokenRow)>, StoreError> {
        let row = sqlx::query(
            "SELECT deployment, host, token_hash, token_sealed, issued_at, prev_hash, prev_sealed,
             prev_until FROM script_tokens
             WHERE token_hash = $1 OR (prev_hash = $1 AND prev_until > $2)",
        )
        .bind(hash)
        .bind(now_ms)
        .fetch_optional(&self.pool)
        .await
        .map_err(query_err("find a script token"))?;
        let Some(r) = row else { return Ok(None) };
        let d: String = r
            .try_get("deployment")
            .map_err(query_err("find a script token"))?;
        let h: String = r
            .try_get("host")
            .map_err(query_err("find a script token"))?;
        Ok(Some((
            d,
            h,
            row_of(&r).map_err(query_err("find a script token"))?,
        )))
    }
}
