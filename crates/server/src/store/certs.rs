//! `ivkcs_cert`: the installation's local CA and the certificates it issued (migrations 90–91).
//! Private keys are sealed; only certificates (public) and times are plain.

use sqlx::Row;

use super::{now_ms, query_err, Store, StoreError};

/// The migration of this area (version 90).
pub(super) const MIGRATION_90: &[&str] = &[
    // One row: the installation's CA (`id` = 'local').
    "CREATE TABLE IF NOT EXISTS ivkcs_ca (
    id TEXT PRIMARY KEY,
    cert_pem TEXT NOT NULL,
    key_sealed TEXT NOT NULL,
    not_before BIGINT NOT NULL,
    not_after BIGINT NOT NULL,
    created_at BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS ivkcs_certs (
    deployment TEXT NOT NULL,
    domain TEXT NOT NULL,
    serial TEXT NOT NULL,
    cert_pem TEXT NOT NULL,
    key_sealed TEXT NOT NULL,
    not_before BIGINT NOT NULL,
    not_after BIGINT NOT NULL,
    issued_at BIGINT NOT NULL,
    PRIMARY KEY (deployment, domain))",
];

/// The CA as stored (times in unix seconds).
#[derive(Clone, Debug)]
pub struct CaRow {
    pub cert_pem: String,
    pub key_sealed: String,
    pub not_before: i64,
    pub not_after: i64,
}

/// An issued certificate as stored (times in unix seconds).
#[derive(Clone, Debug)]
pub struct CertRow {
    pub serial: String,
    pub cert_pem: String,
    pub key_sealed: String,
    pub not_before: i64,
    pub not_after: i64,
}

impl Store {
    /// The CA, if one was made.
    pub async fn ca(&self) -> Result<Option<CaRow>, StoreError> {
        let row = sqlx::query(
            "SELECT cert_pem, key_sealed, not_before, not_after FROM ivkcs_ca WHERE id = 'local'",
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(query_err("read the CA"))?;
        row.map(|r| {
            Ok(CaRow {
                cert_pem: r.try_get("cert_pem")?,
                key_sealed: r.try_get("key_sealed")?,
                not_before: r.try_get("not_before")?,
                not_after: r.try_get("not_after")?,
            })
        })
        .transpose()
        .map_err(query_err("read the CA"))
    }

    /// Stores `ca` unless another replica stored one first; either way returns the one kept.
    pub async fn ca_put_first(&self, ca: &CaRow) -> Result<CaRow, StoreError> {
        sqlx::query(
            "INSERT INTO ivkcs_ca (id, cert_pem, key_sealed, not_before, not_after, created_at)
             VALUES ('local', $1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&ca.cert_pem)
        .bind(&ca.key_sealed)
        .bind(ca.not_before)
        .bind(ca.not_after)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(query_err("store the CA"))?;
        self.ca()
            .await?
            .ok_or(StoreError::Busy("store the CA".into()))
    }

    pub async fn cert(
        &self,
        deployment: &str,
        domain: &str,
    ) -> Result<Option<CertRow>, StoreError> {
        let row = sqlx::query(
            "SELECT serial, cert_pem, key_sealed, not_before, not_after FROM ivkcs_certs
             WHERE deployment = $1 AND domain = $2",
        )
        .bind(deployment)
        .bind(domain)
        .fetch_optional(&self.pool)
        .await
        .map_err(query_err("read a certificate"))?;
        row.map(|r| {
            Ok(CertRow {
                serial: r.try_get("serial")?,
                cert_pem: r.try_get("cert_pem")?,
                key_sealed: r.try_get("key_sealed")?,
                not_before: r.try_get("not_before")?,
                not_after: r.try_get("not_after")?,
            })
        })
        .transpose()
        .map_err(query_err("read a certificate"))
    }

    /// Stores (or replaces, on renewal) the certificate of `domain` in `deployment`.
    pub async fn cert_put(
        &self,
        deployment: &str,
        domain: &str,
        c: &CertRow,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO ivkcs_certs
             (deployment, domain, serial, cert_pem, key_sealed, not_before, not_after, issued_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (deployment, domain) DO UPDATE SET serial = excluded.serial,
             cert_pem = excluded.cert_pem, key_sealed = excluded.key_sealed,
             not_before = excluded.not_before, not_after = excluded.not_after,
             issued_at = excluded.issued_at",
        )
        .bind(deployment)
        .bind(domain)
        .bind(&c.serial)
        .bind(&c.cert_pem)
        .bind(&c.key_sealed)
        .bind(c.not_before)
        .bind(c.not_after)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(query_err("store a certificate"))?;
        Ok(())
    }

    pub async fn cert_delete(&self, deployment: &str, domain: &str) -> Result<bool, StoreError> {
        let r = sqlx::query("DELETE FROM ivkcs_certs WHERE deployment = $1 AND domain = $2")
            .bind(deployment)
            .bind(domain)
            .execute(&self.pool)
            .await
            .map_err(query_err("delete a certificate"))?;
        Ok(r.rows_affected() > 0)
    }
}
