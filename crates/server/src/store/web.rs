//! The web pages' sessions: a random cookie value kept as its SHA-256 hash, bound to one signed-in
//! vendor or consumer project, with an expiry.

use sqlx::Row;

use super::{now_ms, query_err, Store, StoreError};

/// The migrations of this area (versions 60–69).
pub(super) const MIGRATION_60: &[&str] = &["CREATE TABLE IF NOT EXISTS web_sessions (
    session_hash TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL)"];

/// A session as stored.
#[derive(Debug, Clone)]
pub struct SessionRow {
    /// `project` or `vendor`.
    pub kind: String,
    pub subject_id: String,
    pub expires_at: i64,
}

impl Store {
    pub async fn web_session_put(
        &self,
        hash: &str,
        kind: &str,
        subject_id: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO web_sessions (session_hash, kind, subject_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(hash)
        .bind(kind)
        .bind(subject_id)
        .bind(now_ms())
        .bind(expires_at)
        .execute(&self.pool)
        .await
        .map_err(query_err("insert web session"))?;
        Ok(())
    }

    /// The unexpired session with this hash.
    pub async fn web_session(&self, hash: &str) -> Result<Option<SessionRow>, StoreError> {
        let row = sqlx::query(
            "SELECT kind, subject_id, expires_at FROM web_sessions WHERE session_hash = $1 AND expires_at > $2",
        )
        .bind(hash)
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await
        .map_err(query_err("find web session"))?;
        row.map(|r| {
            Ok(SessionRow {
                kind: r.try_get("kind")?,
                subject_id: r.try_get("subject_id")?,
                expires_at: r.try_get("expires_at")?,
            })
        })
        .transpose()
        .map_err(query_err("decode web session"))
    }

    /// Ends a session, and every expired one.
    pub async fn web_session_delete(&self, hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM web_sessions WHERE session_hash = $1 OR expires_at <= $2")
            .bind(hash)
            .bind(now_ms())
            .execute(&self.pool)
            .await
            .map_err(query_err("delete web session"))?;
        Ok(())
    }

    /// The vendor with this id: `(id, name)`.
    pub async fn vendor_by_id(&self, id: &str) -> Result<Option<(String, String)>, StoreError> {
        let row = sqlx::query("SELECT id, name FROM vendors WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_err("find vendor"))?;
        row.map(|r| Ok((r.try_get("id")?, r.try_get("name")?)))
            .transpose()
            .map_err(query_err("decode vendor"))
    }
}
