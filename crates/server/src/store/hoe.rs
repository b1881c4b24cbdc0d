//! The deployment system's queries: configs (every version kept), objects with their leased
//! jobs, the state row written under the lease with a generation check, logs and the audit of
//! reveals. Rows of a project are read through the project's id (the caller's context), so
//! another project's rows are simply not found.

use sqlx::Row;

use super::{now_ms, query_err, Store, StoreError};

/// Migration 10 (10-19 belong to the deployment system): configs, objects, logs, audit.
pub const MIGRATION_10: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS hoe_configs (
            project TEXT NOT NULL,
            name TEXT NOT NULL,
            version BIGINT NOT NULL,
            files TEXT NOT NULL,
            hash TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            PRIMARY KEY (project, name, version))",
    "CREATE TABLE IF NOT EXISTS hoe_objects (
            uuid TEXT PRIMARY KEY,
            project TEXT NOT NULL,
            conf_name TEXT NOT NULL,
            conf_version BIGINT NOT NULL,
            inline_files TEXT,
            conf_hash TEXT NOT NULL,
            vars_sealed TEXT NOT NULL,
            pid TEXT NOT NULL,
            email TEXT NOT NULL,
            target_status TEXT NOT NULL,
            status TEXT NOT NULL,
            full_deployed BIGINT NOT NULL,
            attempts BIGINT NOT NULL,
            max_attempts BIGINT NOT NULL,
            retry BIGINT NOT NULL,
            outputs_sealed TEXT,
            state_sealed TEXT,
            state_gen BIGINT NOT NULL,
            want_gen BIGINT NOT NULL,
            done_gen BIGINT NOT NULL,
            next_run_at BIGINT NOT NULL,
            lease_owner TEXT,
            lease_until BIGINT,
            last_error_sealed TEXT,
            recover_host TEXT,
            recoveries TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS hoe_objects_project ON hoe_objects (project)",
    "CREATE INDEX IF NOT EXISTS hoe_objects_next_run ON hoe_objects (next_run_at)",
    "CREATE TABLE IF NOT EXISTS hoe_logs (
            uuid TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            seq BIGINT NOT NULL,
            src TEXT NOT NULL,
            level TEXT NOT NULL,
            message TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS hoe_logs_uuid ON hoe_logs (uuid, created_at, seq)",
    "CREATE TABLE IF NOT EXISTS hoe_audit (
            uuid TEXT NOT NULL,
            project TEXT NOT NULL,
            at BIGINT NOT NULL,
            action TEXT NOT NULL,
            detail TEXT NOT NULL)",
];

/// One stored version of a config.
#[derive(Clone, Debug)]
pub struct ConfigRow {
    pub name: String,
    pub version: i64,
    /// JSON `{"file name": "text"}`.
    pub files: String,
    pub hash: String,
    pub created_at: i64,
}

/// A deployment object as stored. Sealed columns are opened by the app.
#[derive(Clone, Debug)]
pub struct ObjectRow {
    pub uuid: String,
    pub project: String,
    pub conf_name: String,
    pub conf_version: i64,
    pub inline_files: Option<String>,
    pub conf_hash: String,
    pub vars_sealed: String,
    pub pid: String,
    pub email: String,
    pub target_status: String,
    pub status: String,
    pub full_deployed: bool,
    pub attempts: i64,
    pub max_attempts: i64,
    pub retry: bool,
    pub outputs_sealed: Option<String>,
    pub state_sealed: Option<String>,
    pub state_gen: i64,
    pub want_gen: i64,
    pub done_gen: i64,
    pub next_run_at: i64,
    pub lease_owner: Option<String>,
    pub lease_until: Option<i64>,
    pub last_error_sealed: Option<String>,
    pub recover_host: Option<String>,
    /// JSON list of recoveries.
    pub recoveries: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A new object.
#[derive(Clone, Debug)]
pub struct NewObject {
    pub uuid: String,
    pub project: String,
    pub conf_name: String,
    pub conf_version: i64,
    pub inline_files: Option<String>,
    pub conf_hash: String,
    pub vars_sealed: String,
    pub pid: String,
    pub email: String,
    pub max_attempts: i64,
    pub retry: bool,
}

/// A change of what an object should be (PUT, DELETE): a new generation of work.
#[derive(Clone, Debug)]
pub struct ObjectChange {
    pub target_status: String,
    pub vars_sealed: Option<String>,
    /// `(conf_name, conf_version, inline_files, conf_hash, retry)` when the manifest changes.
    pub config: Option<(String, i64, Option<String>, String, bool)>,
}

/// How a job ended, written only by the lease's owner.
#[derive(Clone, Debug)]
pub struct JobEnd {
    pub status: String,
    pub full_deployed: bool,
    pub attempts: i64,
    /// The generation of work this job did (`done_gen` becomes it).
    pub done_gen: Option<i64>,
    pub next_run_at: i64,
    pub outputs_sealed: Option<String>,
    pub last_error_sealed: Option<String>,
    pub clear_recover_host: bool,
    pub recoveries: Option<String>,
}

/// One log line.
#[derive(Clone, Debug)]
pub struct LogRow {
    pub uuid: String,
    pub created_at: i64,
    pub seq: i64,
    pub src: String,
    pub level: String,
    pub message: String,
}

const OBJECT_COLS: &str = "uuid, project, conf_name, conf_version, inline_files, conf_hash, vars_sealed, pid, email, target_status, status, full_deployed, attempts, max_attempts, retry, outputs_sealed, state_sealed, state_gen, want_gen, done_gen, next_run_at, lease_owner, lease_until, last_error_sealed, recover_host, recoveries, created_at, updated_at";

fn object_row(r: &sqlx::any::AnyRow) -> Result<ObjectRow, sqlx::Error> {
    Ok(ObjectRow {
        uuid: r.try_get("uuid")?,
        project: r.try_get("project")?,
        conf_name: r.try_get("conf_name")?,
        conf_version: r.try_get("conf_version")?,
        inline_files: r.try_get("inline_files")?,
        conf_hash: r.try_get("conf_hash")?,
        vars_sealed: r.try_get("vars_sealed")?,
        pid: r.try_get("pid")?,
        email: r.try_get("email")?,
        target_status: r.try_get("target_status")?,
        status: r.try_get("status")?,
        full_deployed: r.try_get::<i64, _>("full_deployed")? != 0,
        attempts: r.try_get("attempts")?,
        max_attempts: r.try_get("max_attempts")?,
        retry: r.try_get::<i64, _>("retry")? != 0,
        outputs_sealed: r.try_get("outputs_sealed")?,
        state_sealed: r.try_get("state_sealed")?,
        state_gen: r.try_get("state_gen")?,
        want_gen: r.try_get("want_gen")?,
        done_gen: r.try_get("done_gen")?,
        next_run_at: r.try_get("next_run_at")?,
        lease_owner: r.try_get("lease_owner")?,
        lease_until: r.try_get("lease_until")?,
        last_error_sealed: r.try_get("last_error_sealed")?,
        recover_host: r.try_get("recover_host")?,
        recoveries: r.try_get("recoveries")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn config_row(r: &sqlx::any::AnyRow) -> Result<ConfigRow, sqlx::Error> {
    Ok(ConfigRow {
        name: r.try_get("name")?,
        version: r.try_get("version")?,
        files: r.try_get("files")?,
        hash: r.try_get("hash")?,
        created_at: r.try_get("created_at")?,
    })
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error().is_some_and(|d| {
        matches!(d.kind(), sqlx::error::ErrorKind::UniqueViolation)
            || d.message().contains("UNIQUE constraint failed")
            || d.message().contains("duplicate key")
    })
}

impl Store {
    // ---- configs ----

    /// Stores a new version of `name` in `project`; returns the version.
    pub async fn hoe_put_config(
        &self,
        project: &str,
        name: &str,
        files: &str,
        hash: &str,
    ) -> Result<i64, StoreError> {
        // Two uploads at once may pick the same version: the loser tries again.
        for _ in 0..10 {
            let row = sqlx::query(
                "SELECT COALESCE(MAX(version), 0) AS v FROM hoe_configs WHERE project = $1 AND name = $2",
            )
            .bind(project)
            .bind(name)
            .fetch_one(&self.pool)
            .await
            .map_err(query_err("read config version"))?;
            let version = row
                .try_get::<i64, _>("v")
                .map_err(query_err("read config version"))?
                + 1;
            let r = sqlx::query("INSERT INTO hoe_configs (project, name, version, files, hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(project)
                .bind(name)
                .bind(version)
                .bind(files)
                .bind(hash)
                .bind(now_ms())
                .execute(&self.pool)
                .await;
            match r {
                Ok(_) => return Ok(version),
                Err(e) if is_unique_violation(&e) => continue,
                Err(e) => return Err(query_err("store config")(e)),
            }
        }
        Err(StoreError::Busy("store config".into()))
    }

    /// The newest version of a config, or a given one.
    pub async fn hoe_config(
        &self,
        project: &str,
        name: &str,
        version: Option<i64>,
    ) -> Result<Option<ConfigRow>, StoreError> {
        let row = match version {
            Some(v) => sqlx::query("SELECT name, version, files, hash, created_at FROM hoe_configs WHERE project = $1 AND name = $2 AND version = $3")
                .bind(project)
                .bind(name)
                .bind(v)
                .fetch_optional(&self.pool)
                .await,
            None => sqlx::query("SELECT name, version, files, hash, created_at FROM hoe_configs WHERE project = $1 AND name = $2 ORDER BY version DESC LIMIT 1")
                .bind(project)
                .bind(name)
                .fetch_optional(&self.pool)
                .await,
        }
        .map_err(query_err("read config"))?;
        row.map(|r| config_row(&r))
            .transpose()
            .map_err(query_err("decode config"))
    }

    // ---- objects ----

    /// Inserts a new object whose first job is to reach `running`. `Ok(false)`: the uuid exists.
    pub async fn hoe_insert_object(&self, o: &NewObject) -> Result<bool, StoreError> {
        let now = now_ms();
        let r = sqlx::query(&format!("INSERT INTO hoe_objects ({OBJECT_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'running', 'applying', 0, 0, $10, $11, NULL, NULL, 0, 1, 0, $12, NULL, NULL, NULL, NULL, '[]', $12, $12)"))
            .bind(&o.uuid)
            .bind(&o.project)
            .bind(&o.conf_name)
            .bind(o.conf_version)
            .bind(o.inline_files.as_deref())
            .bind(&o.conf_hash)
            .bind(&o.vars_sealed)
            .bind(&o.pid)
            .bind(&o.email)
            .bind(o.max_attempts)
            .bind(i64::from(o.retry))
            .bind(now)
            .execute(&self.pool)
            .await;
        match r {
            Ok(_) => Ok(true),
            Err(e) if is_unique_violation(&e) => Ok(false),
            Err(e) => Err(query_err("create object")(e)),
        }
    }

    /// An object of `project`.
    pub async fn hoe_object(
        &self,
        project: &str,
        uuid: &str,
    ) -> Result<Option<ObjectRow>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {OBJECT_COLS} FROM hoe_objects WHERE uuid = $1 AND project = $2"
        ))
        .bind(uuid)
        .bind(project)
        .fetch_optional(&self.pool)
        .await
        .map_err(query_err("read object"))?;
        row.map(|r| object_row(&r))
            .transpose()
            .map_err(query_err("decode object"))
    }

    /// An object held by the lease `owner` (a worker's job).
    pub async fn hoe_leased_object(
        &self,
        uuid: &str,
        owner: &str,
    ) -> Result<Option<ObjectRow>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {OBJECT_COLS} FROM hoe_objects WHERE uuid = $1 AND lease_owner = $2"
        ))
        .bind(uuid)
        .bind(owner)
        .fetch_optional(&self.pool)
        .await
        .map_err(query_err("read leased object"))?;
        row.map(|r| object_row(&r))
            .transpose()
            .map_err(query_err("decode object"))
    }

    /// Records a change and asks for a new job. Returns false when the object does not exist in
    /// `project`. Attempts start again from zero.
    pub async fn hoe_change_object(
        &self,
        project: &str,
        uuid: &str,
        change: &ObjectChange,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let (conf_name, conf_version, inline_files, conf_hash, retry) = match &change.config {
            Some((n, v, f, h, r)) => (
                Some(n.clone()),
                Some(*v),
                f.clone(),
                Some(h.clone()),
                Some(*r),
            ),
            None => (None, None, None, None, None),
        };
        let has_config = i64::from(change.config.is_some());
        let r = sqlx::query("UPDATE hoe_objects SET target_status = $1, vars_sealed = COALESCE($2, vars_sealed), conf_name = COALESCE($3, conf_name), conf_version = COALESCE($4, conf_version), inline_files = CASE WHEN $5 = 1 THEN $6 ELSE inline_files END, conf_hash = COALESCE($7, conf_hash), retry = COALESCE($8, retry), status = 'applying', attempts = 0, want_gen = want_gen + 1, next_run_at = $9, updated_at = $9, last_error_sealed = NULL WHERE uuid = $10 AND project = $11")
            .bind(&change.target_status)
            .bind(change.vars_sealed.as_deref())
            .bind(conf_name)
            .bind(conf_version)
            .bind(has_config)
            .bind(inline_files)
            .bind(conf_hash)
            .bind(retry.map(i64::from))
            .bind(now)
            .bind(uuid)
            .bind(project)
            .execute(&self.pool)
            .await
            .map_err(query_err("change object"))?;
        Ok(r.rows_affected() > 0)
    }

    /// Takes the lease of the next object with work due, for `owner` until `until`. Returns the
    /// object's uuid. An expired lease (a dead worker) is taken over.
    pub async fn hoe_claim(&self, owner: &str, until: i64) -> Result<Option<String>, StoreError> {
        let now = now_ms();
        let r = sqlx::query("UPDATE hoe_objects SET lease_owner = $1, lease_until = $2 WHERE uuid = (SELECT uuid FROM hoe_objects WHERE want_gen > done_gen AND next_run_at <= $3 AND (lease_owner IS NULL OR lease_until < $3) ORDER BY next_run_at LIMIT 1) AND want_gen > done_gen AND (lease_owner IS NULL OR lease_until < $3)")
            .bind(owner)
            .bind(until)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(query_err("claim job"))?;
        if r.rows_affected() == 0 {
            return Ok(None);
        }
        let row = sqlx::query("SELECT uuid FROM hoe_objects WHERE lease_owner = $1")
            .bind(owner)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_err("claim job"))?;
        row.map(|r| r.try_get::<String, _>("uuid"))
            .transpose()
            .map_err(query_err("claim job"))
    }

    /// Extends a lease; false when it is no longer `owner`'s.
    pub async fn hoe_renew(&self, uuid: &str, owner: &str, until: i64) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE hoe_objects SET lease_until = $1 WHERE uuid = $2 AND lease_owner = $3",
        )
        .bind(until)
        .bind(uuid)
        .bind(owner)
        .execute(&self.pool)
        .await
        .map_err(query_err("renew lease"))?;
        Ok(r.rows_affected() > 0)
    }

    /// Writes the state if `owner` still holds the lease and the state is still at generation
    /// `gen`; returns false (nothing written) otherwise.
    pub async fn hoe_save_state(
        &self,
        uuid: &str,
        owner: &str,
        gen: i64,
        state_sealed: &str,
    ) -> Result<bool, StoreError> {
        let r = sqlx::query("UPDATE hoe_objects SET state_sealed = $1, state_gen = state_gen + 1, updated_at = $2 WHERE uuid = $3 AND lease_owner = $4 AND state_gen = $5")
            .bind(state_sealed)
            .bind(now_ms())
            .bind(uuid)
            .bind(owner)
            .bind(gen)
            .execute(&self.pool)
            .await
            .map_err(query_err("save state"))?;
        Ok(r.rows_affected() > 0)
    }

    /// Marks a job running (status and the recovery host it works on), under the lease.
    pub async fn hoe_job_started(&self, uuid: &str, owner: &str) -> Result<bool, StoreError> {
        let r = sqlx::query("UPDATE hoe_objects SET status = 'applying', updated_at = $1 WHERE uuid = $2 AND lease_owner = $3")
            .bind(now_ms())
            .bind(uuid)
            .bind(owner)
            .execute(&self.pool)
            .await
            .map_err(query_err("start job"))?;
        Ok(r.rows_affected() > 0)
    }

    /// Ends a job and gives the lease back; false when the lease was lost (nothing written).
    pub async fn hoe_job_end(
        &self,
        uuid: &str,
        owner: &str,
        end: &JobEnd,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let r = sqlx::query("UPDATE hoe_objects SET status = CASE WHEN $1 = 'running' AND want_gen > COALESCE($4, done_gen) THEN 'applying' ELSE $1 END, full_deployed = $2, attempts = $3, done_gen = COALESCE($4, done_gen), next_run_at = $5, outputs_sealed = COALESCE($6, outputs_sealed), last_error_sealed = $7, recover_host = CASE WHEN $8 = 1 THEN NULL ELSE recover_host END, recoveries = COALESCE($9, recoveries), lease_owner = NULL, lease_until = NULL, updated_at = $10 WHERE uuid = $11 AND lease_owner = $12")
            .bind(&end.status)
            .bind(i64::from(end.full_deployed))
            .bind(end.attempts)
            .bind(end.done_gen)
            .bind(end.next_run_at)
            .bind(end.outputs_sealed.as_deref())
            .bind(end.last_error_sealed.as_deref())
            .bind(i64::from(end.clear_recover_host))
            .bind(end.recoveries.as_deref())
            .bind(now)
            .bind(uuid)
            .bind(owner)
            .execute(&self.pool)
            .await
            .map_err(query_err("end job"))?;
        Ok(r.rows_affected() > 0)
    }

    /// Objects that are running and idle (no job due, no lease): the recovery reconciler's
    /// candidates.
    pub async fn hoe_idle_running(&self) -> Result<Vec<ObjectRow>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {OBJECT_COLS} FROM hoe_objects WHERE status = 'running' AND target_status = 'running' AND want_gen = done_gen AND lease_owner IS NULL ORDER BY uuid"))
            .fetch_all(&self.pool)
            .await
            .map_err(query_err("list running objects"))?;
        rows.iter()
            .map(object_row)
            .collect::<Result<_, _>>()
            .map_err(query_err("decode object"))
    }

    /// Starts the recovery of `host` if the object is still idle and running; counted in
    /// `attempts`. False when something else happened to it first (another replica, a request).
    pub async fn hoe_start_recovery(
        &self,
        uuid: &str,
        host: &str,
        recoveries: &str,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let r = sqlx::query("UPDATE hoe_objects SET recover_host = $1, recoveries = $2, attempts = attempts + 1, status = 'applying', want_gen = want_gen + 1, next_run_at = $3, updated_at = $3 WHERE uuid = $4 AND status = 'running' AND want_gen = done_gen AND lease_owner IS NULL")
            .bind(host)
            .bind(recoveries)
            .bind(now)
            .bind(uuid)
            .execute(&self.pool)
            .await
            .map_err(query_err("start recovery"))?;
        Ok(r.rows_affected() > 0)
    }

    /// Gives up on an idle running object: `failed`, with its recovery history.
    pub async fn hoe_give_up(
        &self,
        uuid: &str,
        recoveries: &str,
        error_sealed: &str,
    ) -> Result<bool, StoreError> {
        let r = sqlx::query("UPDATE hoe_objects SET status = 'failed', full_deployed = 0, recoveries = $1, last_error_sealed = $2, updated_at = $3 WHERE uuid = $4 AND status = 'running' AND want_gen = done_gen AND lease_owner IS NULL")
            .bind(recoveries)
            .bind(error_sealed)
            .bind(now_ms())
            .bind(uuid)
            .execute(&self.pool)
            .await
            .map_err(query_err("give up recovery"))?;
        Ok(r.rows_affected() > 0)
    }

    /// The hosts the config service knows for a deployment.
    pub async fn hoe_agent_hosts(&self, deployment: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT host FROM agents WHERE deployment = $1 ORDER BY host")
            .bind(deployment)
            .fetch_all(&self.pool)
            .await
            .map_err(query_err("list hosts"))?;
        rows.iter()
            .map(|r| r.try_get::<String, _>("host"))
            .collect::<Result<_, _>>()
            .map_err(query_err("list hosts"))
    }

    /// Counts of objects by status, for `/metrics`.
    pub async fn hoe_status_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT status, COUNT(*) AS n FROM hoe_objects GROUP BY status ORDER BY status",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(query_err("count objects"))?;
        rows.iter()
            .map(|r| Ok((r.try_get("status")?, r.try_get("n")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(query_err("count objects"))
    }

    // ---- logs and audit ----

    pub async fn hoe_add_logs(&self, rows: &[LogRow]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await.map_err(query_err("write logs"))?;
        for l in rows {
            sqlx::query("INSERT INTO hoe_logs (uuid, created_at, seq, src, level, message) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(&l.uuid)
                .bind(l.created_at)
                .bind(l.seq)
                .bind(&l.src)
                .bind(&l.level)
                .bind(&l.message)
                .execute(&mut *tx)
                .await
                .map_err(query_err("write logs"))?;
        }
        tx.commit().await.map_err(query_err("write logs"))?;
        Ok(())
    }

    /// Log lines of an object, oldest first (at most `limit`).
    pub async fn hoe_logs(&self, uuid: &str, limit: i64) -> Result<Vec<LogRow>, StoreError> {
        let rows = sqlx::query("SELECT uuid, created_at, seq, src, level, message FROM hoe_logs WHERE uuid = $1 ORDER BY created_at, seq LIMIT $2")
            .bind(uuid)
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(query_err("read logs"))?;
        rows.iter()
            .map(|r| {
                Ok(LogRow {
                    uuid: r.try_get("uuid")?,
                    created_at: r.try_get("created_at")?,
                    seq: r.try_get("seq")?,
                    src: r.try_get("src")?,
                    level: r.try_get("level")?,
                    message: r.try_get("message")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(query_err("read logs"))
    }

    pub async fn hoe_audit(
        &self,
        uuid: &str,
        project: &str,
        action: &str,
        detail: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO hoe_audit (uuid, project, at, action, detail) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(uuid)
        .bind(project)
        .bind(now_ms())
        .bind(action)
        .bind(detail)
        .execute(&self.pool)
        .await
        .map_err(query_err("write audit"))?;
        Ok(())
    }

    /// Audit entries of an object: `(at, action, detail)`, oldest first.
    pub async fn hoe_audit_entries(
        &self,
        uuid: &str,
    ) -> Result<Vec<(i64, String, String)>, StoreError> {
        let rows =
            sqlx::query("SELECT at, action, detail FROM hoe_audit WHERE uuid = $1 ORDER BY at")
                .bind(uuid)
                .fetch_all(&self.pool)
                .await
                .map_err(query_err("read audit"))?;
        rows.iter()
            .map(|r| Ok((r.try_get("at")?, r.try_get("action")?, r.try_get("detail")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(query_err("read audit"))
    }
}
