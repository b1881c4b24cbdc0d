//! Queries of the `ivkcs` services beyond the config service's core: agent deaths, S3 buckets,
//! DNS records, certificates, monitoring users and metrics (migrations 50–59).

use sqlx::Row;

use super::{now_ms, query_err, Store, StoreError};

impl Store {
    /// Records how the host's agent started: `Some(sealed note)` when the agent before it died
    /// in the same boot (kept until a clean start), `None` for a clean start (clears it).
    pub async fn agent_note_start(
        &self,
        deployment: &str,
        host: &str,
        died_note_sealed: Option<&str>,
    ) -> Result<(), StoreError> {
        let q = match died_note_sealed {
            Some(note) => sqlx::query(
                "UPDATE agents SET died_at = $1, died_note_sealed = $2 WHERE deployment = $3 AND host = $4",
            )
            .bind(now_ms())
            .bind(note),
            None => sqlx::query(
                "UPDATE agents SET died_at = NULL, died_note_sealed = NULL WHERE deployment = $1 AND host = $2",
            ),
        };
        q.bind(deployment)
            .bind(host)
            .execute(&self.pool)
            .await
            .map_err(query_err("record agent start"))?;
        Ok(())
    }

    /// When the host's agent last died and was restarted in the same boot, with the sealed note.
    pub async fn agent_death(
        &self,
        deployment: &str,
        host: &str,
    ) -> Result<Option<(i64, Option<String>)>, StoreError> {
        let row = sqlx::query(
            "SELECT died_at, died_note_sealed FROM agents WHERE deployment = $1 AND host = $2",
        )
        .bind(deployment)
        .bind(host)
        .fetch_optional(&self.pool)
        .await
        .map_err(query_err("read agent death"))?;
        let Some(row) = row else { return Ok(None) };
        let at: Option<i64> = row
            .try_get("died_at")
            .map_err(query_err("read agent death"))?;
        let note: Option<String> = row
            .try_get("died_note_sealed")
            .map_err(query_err("read agent death"))?;
        Ok(at.map(|at| (at, note)))
    }
}

/// A name owned by one deployment: a bucket (`s3_buckets`) or a DNS name (`dns_records`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owned {
    Bucket,
    DnsName,
}

impl Owned {
    fn table(self) -> (&'static str, &'static str) {
        match self {
            Owned::Bucket => ("s3_buckets", "name"),
            Owned::DnsName => ("dns_records", "fqdn"),
        }
    }
}

impl Store {
    /// The deployment that owns `name`, if any.
    pub async fn owner(&self, kind: Owned, name: &str) -> Result<Option<String>, StoreError> {
        let (table, col) = kind.table();
        let q = format!("SELECT deployment FROM {table} WHERE {col} = $1");
        let row = sqlx::query(&q)
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_err("read owner"))?;
        row.map(|r| r.try_get::<String, _>("deployment"))
            .transpose()
            .map_err(query_err("read owner"))
    }

    /// Takes `name` for `deployment` unless another holds it; returns the owner afterwards.
    pub async fn claim(
        &self,
        kind: Owned,
        name: &str,
        deployment: &str,
        ip: Option<&str>,
    ) -> Result<String, StoreError> {
        let now = now_ms();
        match kind {
            Owned::Bucket => {
                sqlx::query("INSERT INTO s3_buckets (name, deployment, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
                    .bind(name)
                    .bind(deployment)
                    .bind(now)
                    .execute(&self.pool)
                    .await
                    .map_err(query_err("claim bucket"))?;
            }
            Owned::DnsName => {
                let ip = ip.unwrap_or("");
                sqlx::query("INSERT INTO dns_records (fqdn, deployment, ip, updated_at) VALUES ($1, $2, $3, $4) ON CONFLICT (fqdn) DO NOTHING")
                    .bind(name)
                    .bind(deployment)
                    .bind(ip)
                    .bind(now)
                    .execute(&self.pool)
                    .await
                    .map_err(query_err("claim DNS name"))?;
                sqlx::query("UPDATE dns_records SET ip = $1, updated_at = $2 WHERE fqdn = $3 AND deployment = $4")
                    .bind(ip)
                    .bind(now)
                    .bind(name)
                    .bind(deployment)
                    .execute(&self.pool)
                    .await
                    .map_err(query_err("update DNS name"))?;
            }
        }
        Ok(self
            .owner(kind, name)
            .await?
            .unwrap_or_else(|| deployment.to_owned()))
    }

    /// Gives `name` up (only its owner's row goes).
    pub async fn release(
        &self,
        kind: Owned,
        name: &str,
        deployment: &str,
    ) -> Result<(), StoreError> {
        let (table, col) = kind.table();
        let q = format!("DELETE FROM {table} WHERE {col} = $1 AND deployment = $2");
        sqlx::query(&q)
            .bind(name)
            .bind(deployment)
            .execute(&self.pool)
            .await
            .map_err(query_err("release name"))?;
        Ok(())
    }
}
