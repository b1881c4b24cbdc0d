//! The store: SQLite in the data folder by default, PostgreSQL by URL — one schema, one set of
//! queries (`$N` parameters, `ON CONFLICT` upserts, `BIGINT` and `TEXT` columns only), and
//! numbered migrations applied at start on both.
//!
//! Only this module writes SQL. Columns that could hold a secret are sealed by the caller
//! (`*_sealed`); everything else is ids, names, hashes, statuses and times.

pub mod hoe;

use std::time::Duration;

pub mod osb;
pub mod products;
pub mod sdf;
pub mod sdf_deploy;
pub mod tenants;
pub mod vendor_console;
pub mod web;
pub mod web_deployments;

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Row};

pub mod certs;
mod ivkcs;
pub mod script_tokens;
pub use ivkcs::{MonitoringUserRow, Owned, PointRow};

/// Numbered migrations. A step is never edited once released; new ones are appended.
pub const MIGRATIONS: &[(i64, &str, &[&str])] = &[
    (
        1,
        "config service",
        &[
            "CREATE TABLE IF NOT EXISTS engine_tokens (
            token_hash TEXT PRIMARY KEY,
            created_at BIGINT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS deployments (
            deployment TEXT PRIMARY KEY,
            revision BIGINT NOT NULL,
            seq BIGINT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS agents (
            deployment TEXT NOT NULL,
            host TEXT NOT NULL,
            token_hash TEXT NOT NULL UNIQUE,
            token_sealed TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            registered_at BIGINT,
            agent_version TEXT,
            status TEXT,
            reason_sealed TEXT,
            last_heartbeat BIGINT,
            PRIMARY KEY (deployment, host))",
            "CREATE TABLE IF NOT EXISTS exec_groups (
            deployment TEXT NOT NULL,
            name TEXT NOT NULL,
            seq BIGINT NOT NULL,
            revision BIGINT NOT NULL,
            hosts TEXT NOT NULL,
            hashes TEXT NOT NULL,
            spec_sealed TEXT NOT NULL,
            updated_at BIGINT NOT NULL,
            PRIMARY KEY (deployment, name))",
            "CREATE TABLE IF NOT EXISTS step_results (
            deployment TEXT NOT NULL,
            host TEXT NOT NULL,
            grp TEXT NOT NULL,
            idx BIGINT NOT NULL,
            hash TEXT NOT NULL,
            revision BIGINT NOT NULL,
            status TEXT NOT NULL,
            exit_code BIGINT,
            attempt BIGINT NOT NULL,
            payload_sealed TEXT NOT NULL,
            updated_at BIGINT NOT NULL,
            PRIMARY KEY (deployment, host, grp, idx, hash))",
            "CREATE TABLE IF NOT EXISTS check_sets (
            deployment TEXT NOT NULL,
            name TEXT NOT NULL,
            seq BIGINT NOT NULL,
            revision BIGINT NOT NULL,
            hosts TEXT NOT NULL,
            spec_sealed TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            PRIMARY KEY (deployment, name))",
            "CREATE TABLE IF NOT EXISTS check_results (
            deployment TEXT NOT NULL,
            host TEXT NOT NULL,
            set_name TEXT NOT NULL,
            idx BIGINT NOT NULL,
            revision BIGINT NOT NULL,
            healthy BIGINT NOT NULL,
            message_sealed TEXT NOT NULL,
            updated_at BIGINT NOT NULL,
            last_healthy_at BIGINT,
            PRIMARY KEY (deployment, host, set_name, idx))",
        ],
    ),
    (
        2,
        "failure epochs",
        &[
            // When the host was found failed (cleared once it is healthy again), and how many
            // times that happened: `ivkcs_agent_status` changes its id with each new failure.
            "ALTER TABLE agents ADD COLUMN failed_since BIGINT",
            "ALTER TABLE agents ADD COLUMN failure_epoch BIGINT NOT NULL DEFAULT 0",
        ],
    ),
    (10, "deployment system", hoe::MIGRATION_10),
    (20, "tenants", tenants::MIGRATION_20),
    (21, "products", products::MIGRATION_21),
    (30, "osb broker", osb::MIGRATION_30),
    (40, "vm-sdf config services", sdf::MIGRATION_40),
    (
        50,
        "agent restarts after a death",
        &[
            // Set when an agent registers saying the one before it died in the same boot;
            // cleared by a clean start (a reboot or a replaced VM). The note is sealed.
            "ALTER TABLE agents ADD COLUMN died_at BIGINT",
            "ALTER TABLE agents ADD COLUMN died_note_sealed TEXT",
        ],
    ),
    (
        51,
        "ivkcs buckets and DNS names",
        &[
            // Which deployment owns a bucket name / a DNS name (the keys are derived by the
            // object store, never stored here).
            "CREATE TABLE IF NOT EXISTS s3_buckets (
            name TEXT PRIMARY KEY,
            deployment TEXT NOT NULL,
            created_at BIGINT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS dns_records (
            fqdn TEXT PRIMARY KEY,
            deployment TEXT NOT NULL,
            ip TEXT NOT NULL,
            updated_at BIGINT NOT NULL)",
        ],
    ),
    (
        52,
        "metrics intake",
        &[
            // One monitoring user per owner; the password is sealed, its hash finds the user.
            "CREATE TABLE IF NOT EXISTS monitoring_users (
            user_id TEXT PRIMARY KEY,
            owner TEXT NOT NULL UNIQUE,
            password_hash TEXT NOT NULL,
            password_sealed TEXT NOT NULL,
            created_at BIGINT NOT NULL)",
            // The latest point of each series field.
            "CREATE TABLE IF NOT EXISTS metric_points (
            owner TEXT NOT NULL,
            deployment TEXT NOT NULL,
            host TEXT NOT NULL,
            measurement TEXT NOT NULL,
            tags TEXT NOT NULL,
            field TEXT NOT NULL,
            value TEXT NOT NULL,
            time_ns BIGINT NOT NULL,
            PRIMARY KEY (owner, deployment, host, measurement, tags, field))",
        ],
    ),
    (60, "web sessions", web::MIGRATION_60),
    (61, "web deployments", web_deployments::MIGRATION_61),
    (85, "vm-sdf deployments", sdf_deploy::MIGRATION_85),
    (90, "ivkcs certificates", certs::MIGRATION_90),
    (91, "script tokens", script_tokens::MIGRATION_91),
];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database at {url}")]
    Open {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("migration {version} ({name}) failed")]
    Migrate {
        version: i64,
        name: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error("database busy: {0}")]
    Busy(String),
    #[error("{what} failed")]
    Query {
        what: &'static str,
        #[source]
        source: sqlx::Error,
    },
}

fn query_err(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| {
        let busy = source
            .as_database_error()
            .map(|d| {
                let m = d.message();
                m.contains("database is locked") || m.contains("busy")
            })
            .unwrap_or(false);
        if busy {
            StoreError::Busy(what.to_owned())
        } else {
            StoreError::Query { what, source }
        }
    }
}

/// Which database is underneath.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

#[derive(Clone, Debug)]
pub struct AgentRow {
    pub deployment: String,
    pub host: String,
    pub token_sealed: String,
    pub created_at: i64,
    pub registered_at: Option<i64>,
    pub status: Option<String>,
    pub reason_sealed: Option<String>,
    pub last_heartbeat: Option<i64>,
    pub failed_since: Option<i64>,
    pub failure_epoch: i64,
}

#[derive(Clone, Debug)]
pub struct GroupRow {
    pub name: String,
    pub seq: i64,
    pub revision: i64,
    pub hosts: Vec<String>,
    pub spec_sealed: String,
}

#[derive(Clone, Debug)]
pub struct ResultRow {
    pub host: String,
    pub grp: String,
    pub idx: i64,
    pub hash: String,
    pub revision: i64,
    pub status: String,
    pub exit_code: Option<i64>,
    pub attempt: i64,
    pub payload_sealed: String,
    pub updated_at: i64,
}

#[derive(Clone, Debug)]
pub struct CheckSetRow {
    pub name: String,
    pub seq: i64,
    pub revision: i64,
    pub hosts: Vec<String>,
    pub spec_sealed: String,
    pub created_at: i64,
}

#[derive(Clone, Debug)]
pub struct CheckResultRow {
    pub host: String,
    pub set_name: String,
    pub idx: i64,
    pub revision: i64,
    pub healthy: bool,
    pub message_sealed: String,
    pub updated_at: i64,
    pub last_healthy_at: Option<i64>,
}

fn hosts_of(row: &sqlx::any::AnyRow) -> Vec<String> {
    row.try_get::<String, _>("hosts")
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default()
}

impl Store {
    /// Opens `url` (`sqlite://…` or `postgres://…`) and applies the migrations.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        };
        let shown = redact_url(url);
        let mut options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(30));
        options = match backend {
            // One writer at a time is what SQLite does anyway; one connection avoids
            // lock-upgrade deadlocks between our own transactions.
            Backend::Sqlite => options.max_connections(1).after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::query("PRAGMA journal_mode=WAL")
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("PRAGMA busy_timeout=10000")
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("PRAGMA synchronous=FULL")
                        .execute(&mut *conn)
                        .await?;
                    Ok(())
                })
            }),
            Backend::Postgres => options.max_connections(16),
        };
        let pool = options
            .connect(url)
            .await
            .map_err(|source| StoreError::Open { url: shown, source })?;
        let store = Store { pool, backend };
        store.migrate().await?;
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
        )
        .execute(&self.pool)
        .await
        .map_err(|source| StoreError::Migrate { version: 0, name: "schema_migrations", source })?;
        for (version, name, steps) in MIGRATIONS {
            let err = |source| StoreError::Migrate {
                version: *version,
                name,
                source,
            };
            let mut tx = self.pool.begin().await.map_err(err)?;
            let done = sqlx::query("SELECT version FROM schema_migrations WHERE version = $1")
                .bind(*version)
                .fetch_optional(&mut *tx)
                .await
                .map_err(err)?;
            if done.is_some() {
                continue;
            }
            for step in *steps {
                sqlx::query(step).execute(&mut *tx).await.map_err(err)?;
            }
            // Two replicas migrating at once: the second insert conflicts and its transaction
            // rolls back, which is fine because the first applied the same steps.
            sqlx::query(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3) ON CONFLICT (version) DO NOTHING",
            )
            .bind(*version)
            .bind(*name)
            .bind(now_ms())
            .execute(&mut *tx)
            .await
            .map_err(err)?;
            tx.commit().await.map_err(err)?;
        }
        Ok(())
    }

    /// The versions applied, in order.
    pub async fn applied_migrations(&self) -> Result<Vec<i64>, StoreError> {
        let rows = sqlx::query("SELECT version FROM schema_migrations ORDER BY version")
            .fetch_all(&self.pool)
            .await
            .map_err(query_err("list migrations"))?;
        Ok(rows
            .iter()
            .filter_map(|r| r.try_get::<i64, _>("version").ok())
            .collect())
    }

    // ---- engine tokens ----

    pub async fn add_engine_token(&self, hash: &str) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO engine_tokens (token_hash, created_at) VALUES ($1, $2) ON CONFLICT (token_hash) DO NOTHING")
            .bind(hash)
            .bind(now_ms())
            .execute(&self.pool)
            .await
            .map_err(query_err("add engine token"))?;
        Ok(())
    }

    pub async fn engine_token_known(&self, hash: &str) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT token_hash FROM engine_tokens WHERE token_hash = $1")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_err("find engine token"))?;
        Ok(row.is_some())
    }

    // ---- agents ----

    fn agent_row(r: &sqlx::any::AnyRow) -> Result<AgentRow, sqlx::Error> {
        Ok(AgentRow {
            deployment: r.try_get("deployment")?,
            host: r.try_get("host")?,
            token_sealed: r.try_get("token_sealed")?,
            created_at: r.try_get("created_at")?,
            registered_at: r.try_get("registered_at")?,
            status: r.try_get("status")?,
            reason_sealed: r.try_get("reason_sealed")?,
            last_heartbeat: r.try_get("last_heartbeat")?,
            failed_since: r.try_get("failed_since")?,
            failure_epoch: r.try_get("failure_epoch")?,
        })
    }

    const AGENT_COLS: &'static str = "deployment, host, token_sealed, created_at, registered_at, status, reason_sealed, last_heartbeat, failed_since, failure_epoch";

    /// Records that the host is failed (once per failure); returns the failure epoch.
    pub async fn agent_mark_failed(&self, deployment: &str, host: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE agents SET failed_since = $1, failure_epoch = failure_epoch + 1 WHERE deployment = $2 AND host = $3 AND failed_since IS NULL")
            .bind(now_ms())
            .bind(deployment)
            .bind(host)
            .execute(&self.pool)
            .await
            .map_err(query_err("mark host failed"))?;
        Ok(())
    }

    /// The host is healthy again.
    pub async fn agent_clear_failed(&self, deployment: &str, host: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE agents SET failed_since = NULL WHERE deployment = $1 AND host = $2")
            .bind(deployment)
            .bind(host)
            .execute(&self.pool)
            .await
            .map_err(query_err("clear host failure"))?;
        Ok(())
    }

    pub async fn agent(
        &self,
        deployment: &str,
        host: &str,
    ) -> Result<Option<AgentRow>, StoreError> {
        let q = format!(
            "SELECT {} FROM agents WHERE deployment = $1 AND host = $2",
            Self::AGENT_COLS
        );
        let row = sqlx::query(&q)
            .bind(deployment)
            .bind(host)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_err("read agent"))?;
        row.map(|r| Self::agent_row(&r))
            .transpose()
            .map_err(query_err("decode agent"))
    }

    pub async fn agent_by_token(&self, hash: &str) -> Result<Option<AgentRow>, StoreError> {
        let q = format!(
            "SELECT {} FROM agents WHERE token_hash = $1",
            Self::AGENT_COLS
        );
        let row = sqlx::query(&q)
            .bind(hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_err("find agent token"))?;
        row.map(|r| Self::agent_row(&r))
            .transpose()
            .map_err(query_err("decode agent"))
    }

    /// Creates the agent record unless it exists; returns the stored one either way.
    pub async fn agent_create(
        &self,
        deployment: &str,
        host: &str,
        token_hash: &str,
        token_sealed: &str,
    ) -> Result<AgentRow, StoreError> {
        sqlx::query(
            "INSERT INTO agents (deployment, host, token_hash, token_sealed, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (deployment, host) DO NOTHING",
        )
        .bind(deployment)
        .bind(host)
        .bind(token_hash)
        .bind(token_sealed)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(query_err("create agent"))?;
        self.agent(deployment, host)
            .await?
            .ok_or_else(|| StoreError::Busy("agent vanished after insert".into()))
    }

    pub async fn agent_register(
        &self,
        deployment: &str,
        host: &str,
        version: &str,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        sqlx::query("UPDATE agents SET registered_at = $1, agent_version = $2, last_heartbeat = $1, status = 'running', reason_sealed = NULL WHERE deployment = $3 AND host = $4")
            .bind(now)
            .bind(version)
            .bind(deployment)
            .bind(host)
            .execute(&self.pool)
            .await
            .map_err(query_err("register agent"))?;
        Ok(())
    }

    pub async fn agent_heartbeat(
        &self,
        deployment: &str,
        host: &str,
        status: &str,
        reason_sealed: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE agents SET last_heartbeat = $1, status = $2, reason_sealed = $3 WHERE deployment = $4 AND host = $5")
            .bind(now_ms())
            .bind(status)
            .bind(reason_sealed)
            .bind(deployment)
            .bind(host)
            .execute(&self.pool)
            .await
            .map_err(query_err("heartbeat"))?;
        Ok(())
    }

    // ---- deployment revision ----

    /// Bumps the deployment's revision inside `tx`; returns (new revision, next sequence).
    async fn bump(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        deployment: &str,
    ) -> Result<(i64, i64), sqlx::Error> {
        sqlx::query("INSERT INTO deployments (deployment, revision, seq) VALUES ($1, 1, 1) ON CONFLICT (deployment) DO UPDATE SET revision = deployments.revision + 1, seq = deployments.seq + 1")
            .bind(deployment)
            .execute(&mut **tx)
            .await?;
        let row = sqlx::query("SELECT revision, seq FROM deployments WHERE deployment = $1")
            .bind(deployment)
            .fetch_one(&mut **tx)
            .await?;
        Ok((row.try_get("revision")?, row.try_get("seq")?))
    }

    pub async fn deployment_revision(&self, deployment: &str) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT revision FROM deployments WHERE deployment = $1")
            .bind(deployment)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_err("read revision"))?;
        Ok(row
            .and_then(|r| r.try_get::<i64, _>("revision").ok())
            .unwrap_or(0))
    }

    // ---- exec groups ----

    /// Stores a group (a new revision each time); returns its revision.
    pub async fn put_group(
        &self,
        deployment: &str,
        name: &str,
        hosts: &[String],
        hashes_json: &str,
        spec_sealed: &str,
    ) -> Result<i64, StoreError> {
        let err = query_err("store exec group");
        let hosts = serde_json::to_string(hosts).unwrap_or_else(|_| "[]".into());
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(query_err("store exec group"))?;
        let (revision, seq) = Self::bump(&mut tx, deployment)
            .await
            .map_err(query_err("store exec group"))?;
        sqlx::query("INSERT INTO exec_groups (deployment, name, seq, revision, hosts, hashes, spec_sealed, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (deployment, name) DO UPDATE SET revision = $4, hosts = $5, hashes = $6, spec_sealed = $7, updated_at = $8")
            .bind(deployment)
            .bind(name)
            .bind(seq)
            .bind(revision)
            .bind(hosts)
            .bind(hashes_json)
            .bind(spec_sealed)
            .bind(now_ms())
            .execute(&mut *tx)
            .await
            .map_err(query_err("store exec group"))?;
        tx.commit().await.map_err(err)?;
        Ok(revision)
    }

    fn group_row(r: &sqlx::any::AnyRow) -> Result<GroupRow, sqlx::Error> {
        Ok(GroupRow {
            name: r.try_get("name")?,
            seq: r.try_get("seq")?,
            revision: r.try_get("revision")?,
            hosts: hosts_of(r),
            spec_sealed: r.try_get("spec_sealed")?,
        })
    }

    pub async fn group(
        &self,
        deployment: &str,
        name: &str,
    ) -> Result<Option<GroupRow>, StoreError> {
        let row = sqlx::query("SELECT name, seq, revision, hosts, spec_sealed FROM exec_groups WHERE deployment = $1 AND name = $2")
            .bind(deployment)
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_err("read exec group"))?;
        row.map(|r| Self::group_row(&r))
            .transpose()
            .map_err(query_err("decode exec group"))
    }

    pub async fn groups(&self, deployment: &str) -> Result<Vec<GroupRow>, StoreError> {
        let rows = sqlx::query("SELECT name, seq, revision, hosts, spec_sealed FROM exec_groups WHERE deployment = $1 ORDER BY seq")
            .bind(deployment)
            .fetch_all(&self.pool)
            .await
            .map_err(query_err("list exec groups"))?;
        rows.iter()
            .map(Self::group_row)
            .collect::<Result<_, _>>()
            .map_err(query_err("decode exec group"))
    }

    /// Deletes a group (its results stay: `once` steps remember they ran). Returns whether it existed.
    pub async fn delete_group(&self, deployment: &str, name: &str) -> Result<bool, StoreError> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(query_err("delete exec group"))?;
        let done = sqlx::query("DELETE FROM exec_groups WHERE deployment = $1 AND name = $2")
            .bind(deployment)
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(query_err("delete exec group"))?;
        Self::bump(&mut tx, deployment)
            .await
            .map_err(query_err("delete exec group"))?;
        tx.commit().await.map_err(query_err("delete exec group"))?;
        Ok(done.rows_affected() > 0)
    }

    // ---- step results ----

    pub async fn put_result(&self, deployment: &str, r: &ResultRow) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO step_results (deployment, host, grp, idx, hash, revision, status, exit_code, attempt, payload_sealed, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (deployment, host, grp, idx, hash) DO UPDATE SET revision = $6, status = $7, exit_code = $8, attempt = $9, payload_sealed = $10, updated_at = $11")
            .bind(deployment)
            .bind(&r.host)
            .bind(&r.grp)
            .bind(r.idx)
            .bind(&r.hash)
            .bind(r.revision)
            .bind(&r.status)
            .bind(r.exit_code)
            .bind(r.attempt)
            .bind(&r.payload_sealed)
            .bind(r.updated_at)
            .execute(&self.pool)
            .await
            .map_err(query_err("store step result"))?;
        Ok(())
    }

    fn result_row(r: &sqlx::any::AnyRow) -> Result<ResultRow, sqlx::Error> {
        Ok(ResultRow {
            host: r.try_get("host")?,
            grp: r.try_get("grp")?,
            idx: r.try_get("idx")?,
            hash: r.try_get("hash")?,
            revision: r.try_get("revision")?,
            status: r.try_get("status")?,
            exit_code: r.try_get("exit_code")?,
            attempt: r.try_get("attempt")?,
            payload_sealed: r.try_get("payload_sealed")?,
            updated_at: r.try_get("updated_at")?,
        })
    }

    /// Every result of a group on every host (of any hash), newest last.
    pub async fn results(&self, deployment: &str, grp: &str) -> Result<Vec<ResultRow>, StoreError> {
        let rows = sqlx::query("SELECT host, grp, idx, hash, revision, status, exit_code, attempt, payload_sealed, updated_at FROM step_results WHERE deployment = $1 AND grp = $2 ORDER BY updated_at")
            .bind(deployment)
            .bind(grp)
            .fetch_all(&self.pool)
            .await
            .map_err(query_err("list step results"))?;
        rows.iter()
            .map(Self::result_row)
            .collect::<Result<_, _>>()
            .map_err(query_err("decode step result"))
    }

    // ---- checks ----

    pub async fn put_check_set(
        &self,
        deployment: &str,
        name: &str,
        hosts: &[String],
        spec_sealed: &str,
    ) -> Result<i64, StoreError> {
        let hosts = serde_json::to_string(hosts).unwrap_or_else(|_| "[]".into());
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(query_err("store check set"))?;
        let (revision, seq) = Self::bump(&mut tx, deployment)
            .await
            .map_err(query_err("store check set"))?;
        sqlx::query("INSERT INTO check_sets (deployment, name, seq, revision, hosts, spec_sealed, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (deployment, name) DO UPDATE SET revision = $4, hosts = $5, spec_sealed = $6, created_at = $7")
            .bind(deployment)
            .bind(name)
            .bind(seq)
            .bind(revision)
            .bind(hosts)
            .bind(spec_sealed)
            .bind(now_ms())
            .execute(&mut *tx)
            .await
            .map_err(query_err("store check set"))?;
        tx.commit().await.map_err(query_err("store check set"))?;
        Ok(revision)
    }

    fn check_set_row(r: &sqlx::any::AnyRow) -> Result<CheckSetRow, sqlx::Error> {
        Ok(CheckSetRow {
            name: r.try_get("name")?,
            seq: r.try_get("seq")?,
            revision: r.try_get("revision")?,
            hosts: hosts_of(r),
            spec_sealed: r.try_get("spec_sealed")?,
            created_at: r.try_get("created_at")?,
        })
    }

    pub async fn check_set(
        &self,
        deployment: &str,
        name: &str,
    ) -> Result<Option<CheckSetRow>, StoreError> {
        let row = sqlx::query("SELECT name, seq, revision, hosts, spec_sealed, created_at FROM check_sets WHERE deployment = $1 AND name = $2")
            .bind(deployment)
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_err("read check set"))?;
        row.map(|r| Self::check_set_row(&r))
            .transpose()
            .map_err(query_err("decode check set"))
    }

    pub async fn check_sets(&self, deployment: &str) -> Result<Vec<CheckSetRow>, StoreError> {
        let rows = sqlx::query("SELECT name, seq, revision, hosts, spec_sealed, created_at FROM check_sets WHERE deployment = $1 ORDER BY seq")
            .bind(deployment)
            .fetch_all(&self.pool)
            .await
            .map_err(query_err("list check sets"))?;
        rows.iter()
            .map(Self::check_set_row)
            .collect::<Result<_, _>>()
            .map_err(query_err("decode check set"))
    }

    pub async fn delete_check_set(&self, deployment: &str, name: &str) -> Result<bool, StoreError> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(query_err("delete check set"))?;
        let done = sqlx::query("DELETE FROM check_sets WHERE deployment = $1 AND name = $2")
            .bind(deployment)
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(query_err("delete check set"))?;
        sqlx::query("DELETE FROM check_results WHERE deployment = $1 AND set_name = $2")
            .bind(deployment)
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(query_err("delete check set"))?;
        Self::bump(&mut tx, deployment)
            .await
            .map_err(query_err("delete check set"))?;
        tx.commit().await.map_err(query_err("delete check set"))?;
        Ok(done.rows_affected() > 0)
    }

    /// Stores a check's latest outcome, keeping when it was last healthy.
    pub async fn put_check_result(
        &self,
        deployment: &str,
        r: &CheckResultRow,
    ) -> Result<(), StoreError> {
        let healthy_at = r.healthy.then_some(r.updated_at);
        sqlx::query("INSERT INTO check_results (deployment, host, set_name, idx, revision, healthy, message_sealed, updated_at, last_healthy_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (deployment, host, set_name, idx) DO UPDATE SET revision = $5, healthy = $6, message_sealed = $7, updated_at = $8, last_healthy_at = COALESCE($9, check_results.last_healthy_at)")
            .bind(deployment)
            .bind(&r.host)
            .bind(&r.set_name)
            .bind(r.idx)
            .bind(r.revision)
            .bind(i64::from(r.healthy))
            .bind(&r.message_sealed)
            .bind(r.updated_at)
            .bind(healthy_at)
            .execute(&self.pool)
            .await
            .map_err(query_err("store check result"))?;
        Ok(())
    }

    fn check_result_row(r: &sqlx::any::AnyRow) -> Result<CheckResultRow, sqlx::Error> {
        Ok(CheckResultRow {
            host: r.try_get("host")?,
            set_name: r.try_get("set_name")?,
            idx: r.try_get("idx")?,
            revision: r.try_get("revision")?,
            healthy: r.try_get::<i64, _>("healthy")? != 0,
            message_sealed: r.try_get("message_sealed")?,
            updated_at: r.try_get("updated_at")?,
            last_healthy_at: r.try_get("last_healthy_at")?,
        })
    }

    pub async fn check_results(&self, deployment: &str) -> Result<Vec<CheckResultRow>, StoreError> {
        let rows = sqlx::query("SELECT host, set_name, idx, revision, healthy, message_sealed, updated_at, last_healthy_at FROM check_results WHERE deployment = $1 ORDER BY set_name, host, idx")
            .bind(deployment)
            .fetch_all(&self.pool)
            .await
            .map_err(query_err("list check results"))?;
        rows.iter()
            .map(Self::check_result_row)
            .collect::<Result<_, _>>()
            .map_err(query_err("decode check result"))
    }

    /// Counts for `/metrics`: agents, registered agents, exec groups, check sets, and step
    /// results by status.
    pub async fn counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let mut out = Vec::new();
        for (name, q) in [
            ("agents", "SELECT COUNT(*) AS n FROM agents"),
            (
                "agents_registered",
                "SELECT COUNT(*) AS n FROM agents WHERE registered_at IS NOT NULL",
            ),
            ("exec_groups", "SELECT COUNT(*) AS n FROM exec_groups"),
            ("check_sets", "SELECT COUNT(*) AS n FROM check_sets"),
        ] {
            let row = sqlx::query(q)
                .fetch_one(&self.pool)
                .await
                .map_err(query_err("count"))?;
            out.push((
                name.to_owned(),
                row.try_get("n").map_err(query_err("count"))?,
            ));
        }
        let rows = sqlx::query(
            "SELECT status, COUNT(*) AS n FROM step_results GROUP BY status ORDER BY status",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(query_err("count results"))?;
        for r in rows {
            let status: String = r.try_get("status").map_err(query_err("count results"))?;
            out.push((
                format!("step_results_{status}"),
                r.try_get("n").map_err(query_err("count results"))?,
            ));
        }
        Ok(out)
    }

    /// Every `(table, column)` of the schema, sorted: the same on SQLite and PostgreSQL.
    pub async fn schema_columns(&self) -> Result<Vec<(String, String)>, StoreError> {
        let mut out = Vec::new();
        match self.backend {
            Backend::Sqlite => {
                let tables = sqlx::query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
                    .fetch_all(&self.pool)
                    .await
                    .map_err(query_err("list tables"))?;
                for t in tables {
                    let name: String = t.try_get("name").map_err(query_err("list tables"))?;
                    let cols =
                        sqlx::query(&format!("SELECT name FROM pragma_table_info('{name}')"))
                            .fetch_all(&self.pool)
                            .await
                            .map_err(query_err("list columns"))?;
                    for c in cols {
                        out.push((
                            name.clone(),
                            c.try_get("name").map_err(query_err("list columns"))?,
                        ));
                    }
                }
            }
            Backend::Postgres => {
                let rows = sqlx::query("SELECT table_name::text AS t, column_name::text AS c FROM information_schema.columns WHERE table_schema = current_schema()")
                    .fetch_all(&self.pool)
                    .await
                    .map_err(query_err("list columns"))?;
                for r in rows {
                    out.push((
                        r.try_get("t").map_err(query_err("list columns"))?,
                        r.try_get("c").map_err(query_err("list columns"))?,
                    ));
                }
            }
        }
        out.sort();
        Ok(out)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A database URL with any password replaced by `***`.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &creds[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Unix time in milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_password() {
        assert_eq!(redact_url("postgres://u:pw@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact_url("sqlite:///x/y.db"), "sqlite:///x/y.db");
    }
}
