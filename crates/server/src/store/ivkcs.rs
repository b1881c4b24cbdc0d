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

/// A stored monitoring user.
#[derive(Clone, Debug)]
pub struct MonitoringUserRow {
    pub user_id: String,
    pub owner: String,
    pub password_hash: String,
    pub password_sealed: String,
}

/// One latest point as stored.
#[derive(Clone, Debug)]
pub struct PointRow {
    pub deployment: String,
    pub host: String,
    pub measurement: String,
    pub tags: String,
    pub field: String,
    pub value: String,
    pub time_ns: i64,
}

fn user_row(r: &sqlx::any::AnyRow) -> Result<MonitoringUserRow, sqlx::Error> {
    Ok(MonitoringUserRow {
        user_id: r.try_get("user_id")?,
        owner: r.try_get("owner")?,
        password_hash: r.try_get("password_hash")?,
        password_sealed: r.try_get("password_sealed")?,
    })
}

impl Store {
    pub async fn monitoring_user_of(
        &self,
        owner: &str,
    ) -> Result<Option<MonitoringUserRow>, StoreError> {
        let row = sqlx::query("SELECT user_id, owner, password_hash, password_sealed FROM monitoring_users WHERE owner = $1")
            .bind(owner)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_err("read monitoring user"))?;
        row.map(|r| user_row(&r))
            .transpose()
            .map_err(query_err("read monitoring user"))
    }

    pub async fn monitoring_user(
        &self,
        user_id: &str,
    ) -> Result<Option<MonitoringUserRow>, StoreError> {
        let row = sqlx::query("SELECT user_id, owner, password_hash, password_sealed FROM monitoring_users WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_err("read monitoring user"))?;
        row.map(|r| user_row(&r))
            .transpose()
            .map_err(query_err("read monitoring user"))
    }

    /// Creates the owner's user unless one exists (a concurrent creator wins; read it after).
    pub async fn monitoring_user_create(&self, row: &MonitoringUserRow) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO monitoring_users (user_id, owner, password_hash, password_sealed, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (owner) DO NOTHING")
            .bind(&row.user_id)
            .bind(&row.owner)
            .bind(&row.password_hash)
            .bind(&row.password_sealed)
            .bind(now_ms())
            .execute(&self.pool)
            .await
            .map_err(query_err("create monitoring user"))?;
        Ok(())
    }

    /// Keeps each point unless a later one of the same series field is stored.
    pub async fn put_points(&self, owner: &str, points: &[PointRow]) -> Result<(), StoreError> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(query_err("store metrics"))?;
        for p in points {
            sqlx::query("INSERT INTO metric_points (owner, deployment, host, measurement, tags, field, value, time_ns) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (owner, deployment, host, measurement, tags, field) DO UPDATE SET value = excluded.value, time_ns = excluded.time_ns WHERE metric_points.time_ns <= excluded.time_ns")
                .bind(owner)
                .bind(&p.deployment)
                .bind(&p.host)
                .bind(&p.measurement)
                .bind(&p.tags)
                .bind(&p.field)
                .bind(&p.value)
                .bind(p.time_ns)
                .execute(&mut *tx)
                .await
                .map_err(query_err("store metrics"))?;
        }
        tx.commit().await.map_err(query_err("store metrics"))?;
        Ok(())
    }

    pub async fn points(
        &self,
        owner: &str,
        host: Option<&str>,
    ) -> Result<Vec<PointRow>, StoreError> {
        let q = match host {
            Some(_) => "SELECT deployment, host, measurement, tags, field, value, time_ns FROM metric_points WHERE owner = $1 AND host = $2 ORDER BY deployment, host, measurement, tags, field",
            None => "SELECT deployment, host, measurement, tags, field, value, time_ns FROM metric_points WHERE owner = $1 ORDER BY deployment, host, measurement, tags, field",
        };
        let mut query = sqlx::query(q).bind(owner);
        if let Some(h) = host {
            query = query.bind(h);
        }
        let rows = query
            .fetch_all(&self.pool)
            .await
            .map_err(query_err("read metrics"))?;
        rows.iter()
            .map(|r| {
                Ok(PointRow {
                    deployment: r.try_get("deployment")?,
                    host: r.try_get("host")?,
                    measurement: r.try_get("measurement")?,
                    tags: r.try_get("tags")?,
                    field: r.try_get("field")?,
                    value: r.try_get("value")?,
                    time_ns: r.try_get("time_ns")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(query_err("read metrics"))
    }
}

impl Store {
    /// Counts a new failure of the host now (an agent's death is one event, even while the
    /// host is already failed for another reason): the failure epoch grows by one.
    pub async fn agent_count_failure(
        &self,
        deployment: &str,
        host: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE agents SET failed_since = $1, failure_epoch = failure_epoch + 1 WHERE deployment = $2 AND host = $3")
            .bind(now_ms())
            .bind(deployment)
            .bind(host)
            .execute(&self.pool)
            .await
            .map_err(query_err("count host failure"))?;
        Ok(())
    }
}
