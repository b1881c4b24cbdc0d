//! Queries of the VM-SDF config services: the per-VM KV stores, one-time tokens (OTA) and
//! per-VM logs (migration 40). Values and log lines are sealed by the caller; credentials are
//! kept as SHA-256 hashes.

use sqlx::Row;

use super::{now_ms, query_err, Store, StoreError};

/// Migration 40: the tables of [`Store`]'s `sdf_*` queries.
pub const MIGRATION_40: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS sdf_kv_stores (
    vm TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    vm_secret_hash TEXT NOT NULL UNIQUE,
    owner_secret_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sdf_kv (
    vm TEXT NOT NULL,
    k TEXT NOT NULL,
    value_sealed TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (vm, k))",
    "CREATE TABLE IF NOT EXISTS sdf_ota (
    token_hash TEXT PRIMARY KEY,
    vm TEXT NOT NULL,
    secret_sealed TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    redeemed_at BIGINT)",
    "CREATE TABLE IF NOT EXISTS sdf_logs (
    vm TEXT NOT NULL,
    seq BIGINT NOT NULL,
    level TEXT NOT NULL,
    src TEXT NOT NULL,
    message_sealed TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (vm, seq))",
];

/// A VM's KV store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KvStoreRow {
    pub vm: String,
    pub name: String,
}

/// Who a KV credential is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvRole {
    /// The VM: reads and writes its store.
    Vm,
    /// The VM's owner: reads.
    Owner,
}

/// What redeeming a one-time token gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Redeemed {
    /// First use within its lifetime: the sealed KV secret and the VM.
    Fresh {
        vm: String,
        secret_sealed: String,
    },
    /// Used before (at that time), or expired: refused.
    Spent {
        vm: String,
        redeemed_at: i64,
    },
    Expired {
        vm: String,
    },
    Unknown,
}

/// One stored log line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRow {
    pub seq: i64,
    pub level: String,
    pub src: String,
    pub message_sealed: String,
    pub created_at: i64,
}

impl Store {
    /// Creates the VM's store (or keeps the existing one: `false`).
    pub async fn sdf_kv_create(
        &self,
        vm: &str,
        name: &str,
        vm_secret_hash: &str,
        owner_secret_hash: &str,
    ) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "INSERT INTO sdf_kv_stores (vm, name, vm_secret_hash, owner_secret_hash, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (vm) DO NOTHING",
        )
        .bind(vm)
        .bind(name)
        .bind(vm_secret_hash)
        .bind(owner_secret_hash)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(query_err("create KV store"))?;
        Ok(r.rows_affected() == 1)
    }

    /// Replaces the VM's credentials (a new secret for the VM and the owner).
    pub async fn sdf_kv_rotate(
        &self,
        vm: &str,
        vm_secret_hash: &str,
        owner_secret_hash: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE sdf_kv_stores SET vm_secret_hash = $1, owner_secret_hash = $2 WHERE vm = $3",
        )
        .bind(vm_secret_hash)
        .bind(owner_secret_hash)
        .bind(vm)
        .execute(&self.pool)
        .await
        .map_err(query_err("rotate KV credentials"))?;
        Ok(())
    }

    /// Replaces the VM's own secret (the owner's stays).
    pub async fn sdf_kv_set_vm_secret(
        &self,
        vm: &str,
        vm_secret_hash: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE sdf_kv_stores SET vm_secret_hash = $1 WHERE vm = $2")
            .bind(vm_secret_hash)
            .bind(vm)
            .execute(&self.pool)
            .await
            .map_err(query_err("replace the VM's KV secret"))?;
        Ok(())
    }

    pub async fn sdf_kv_store(&self, vm: &str) -> Result<Option<KvStoreRow>, StoreError> {
        let row = sqlx::query("SELECT vm, name FROM sdf_kv_stores WHERE vm = $1")
            .bind(vm)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_err("read KV store"))?;
        row.map(|r| {
            Ok(KvStoreRow {
                vm: r.try_get("vm")?,
                name: r.try_get("name")?,
            })
        })
        .transpose()
        .map_err(query_err("decode KV store"))
    }

    /// The store a credential opens, and as whom: only the store named `name`.
    pub async fn sdf_kv_authorize(
        &self,
        name: &str,
        secret_hash: &str,
    ) -> Result<Option<(KvStoreRow, KvRole)>, StoreError> {
        let row = sqlx::query(
            "SELECT vm, name, vm_secret_hash, owner_secret_hash FROM sdf_kv_stores WHERE name = $1 AND (vm_secret_hash = $2 OR owner_secret_hash = $2)",
        )
        .bind(name)
        .bind(secret_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(query_err("authorize KV credential"))?;
        let Some(r) = row else { return Ok(None) };
        let decode = |r: &sqlx::any::AnyRow| -> Result<(KvStoreRow, String), sqlx::Error> {
            Ok((
                KvStoreRow {
                    vm: r.try_get("vm")?,
                    name: r.try_get("name")?,
                },
                r.try_get("vm_secret_hash")?,
            ))
        };
        let (store, vm_hash) = decode(&r).map_err(query_err("decode KV store"))?;
        let role = if vm_hash == secret_hash {
            KvRole::Vm
        } else {
            KvRole::Owner
        };
        Ok(Some((store, role)))
    }

    /// Writes keys of the VM's store in one transaction.
    pub async fn sdf_kv_put(&self, vm: &str, pairs: &[(String, String)]) -> Result<(), StoreError> {
        let err = query_err("write KV values");
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(query_err("write KV values"))?;
        let now = now_ms();
        for (k, sealed) in pairs {
            sqlx::query(
                "INSERT INTO sdf_kv (vm, k, value_sealed, updated_at) VALUES ($1, $2, $3, $4) ON CONFLICT (vm, k) DO UPDATE SET value_sealed = excluded.value_sealed, updated_at = excluded.updated_at",
            )
            .bind(vm)
            .bind(k)
            .bind(sealed)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(query_err("write KV value"))?;
        }
        tx.commit().await.map_err(err)?;
        Ok(())
    }

    /// Every key of the VM's store with its sealed value, by key.
    pub async fn sdf_kv_all(&self, vm: &str) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query("SELECT k, value_sealed FROM sdf_kv WHERE vm = $1 ORDER BY k")
            .bind(vm)
            .fetch_all(&self.pool)
            .await
            .map_err(query_err("read KV values"))?;
        rows.iter()
            .map(|r| Ok((r.try_get("k")?, r.try_get("value_sealed")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(query_err("decode KV values"))
    }

    pub async fn sdf_kv_get(&self, vm: &str, key: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT value_sealed FROM sdf_kv WHERE vm = $1 AND k = $2")
            .bind(vm)
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_err("read KV value"))?;
        row.map(|r| r.try_get("value_sealed"))
            .transpose()
            .map_err(query_err("decode KV value"))
    }

    /// Removes a VM's store, values, tokens and logs.
    pub async fn sdf_vm_delete(&self, vm: &str) -> Result<bool, StoreError> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(query_err("delete VM services"))?;
        let mut gone = 0;
        for q in [
            "DELETE FROM sdf_kv WHERE vm = $1",
            "DELETE FROM sdf_ota WHERE vm = $1",
            "DELETE FROM sdf_logs WHERE vm = $1",
            "DELETE FROM sdf_kv_stores WHERE vm = $1",
        ] {
            gone = sqlx::query(q)
                .bind(vm)
                .execute(&mut *tx)
                .await
                .map_err(query_err("delete VM services"))?
                .rows_affected();
        }
        tx.commit().await.map_err(query_err("delete VM services"))?;
        Ok(gone > 0)
    }

    /// Records a one-time token for the VM's KV credentials.
    pub async fn sdf_ota_create(
        &self,
        token_hash: &str,
        vm: &str,
        secret_sealed: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sdf_ota (token_hash, vm, secret_sealed, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(vm)
        .bind(secret_sealed)
        .bind(now_ms())
        .bind(expires_at)
        .execute(&self.pool)
        .await
        .map_err(query_err("create one-time token"))?;
        Ok(())
    }

    /// Redeems a token once: the conditional update makes two concurrent redemptions give
    /// one `Fresh` and one `Spent`. The sealed secret is erased on redemption.
    pub async fn sdf_ota_redeem(&self, token_hash: &str) -> Result<Redeemed, StoreError> {
        let now = now_ms();
        let row = sqlx::query(
            "SELECT vm, secret_sealed, expires_at, redeemed_at FROM sdf_ota WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(query_err("find one-time token"))?;
        let Some(r) = row else {
            return Ok(Redeemed::Unknown);
        };
        let decode =
            |r: &sqlx::any::AnyRow| -> Result<(String, String, i64, Option<i64>), sqlx::Error> {
                Ok((
                    r.try_get("vm")?,
                    r.try_get("secret_sealed")?,
                    r.try_get("expires_at")?,
                    r.try_get("redeemed_at")?,
                ))
            };
        let (vm, secret_sealed, expires_at, redeemed_at) =
            decode(&r).map_err(query_err("decode one-time token"))?;
        if let Some(at) = redeemed_at {
            return Ok(Redeemed::Spent {
                vm,
                redeemed_at: at,
            });
        }
        if now >= expires_at {
            return Ok(Redeemed::Expired { vm });
        }
        let took = sqlx::query(
            "UPDATE sdf_ota SET redeemed_at = $1, secret_sealed = '' WHERE token_hash = $2 AND redeemed_at IS NULL",
        )
        .bind(now)
        .bind(token_hash)
        .execute(&self.pool)
        .await
        .map_err(query_err("redeem one-time token"))?
        .rows_affected();
        if took == 1 {
            Ok(Redeemed::Fresh { vm, secret_sealed })
        } else {
            Ok(Redeemed::Spent {
                vm,
                redeemed_at: now,
            })
        }
    }

    /// Appends log lines of a VM; returns the sequence number of the last one.
    pub async fn sdf_log_append(
        &self,
        vm: &str,
        lines: &[(String, String, String)],
    ) -> Result<i64, StoreError> {
        let mut tx = self.pool.begin().await.map_err(query_err("append logs"))?;
        let last: Option<i64> = sqlx::query("SELECT MAX(seq) AS m FROM sdf_logs WHERE vm = $1")
            .bind(vm)
            .fetch_one(&mut *tx)
            .await
            .map_err(query_err("append logs"))?
            .try_get("m")
            .map_err(query_err("append logs"))?;
        let mut seq = last.unwrap_or(0);
        let now = now_ms();
        for (level, src, sealed) in lines {
            seq += 1;
            sqlx::query(
                "INSERT INTO sdf_logs (vm, seq, level, src, message_sealed, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(vm)
            .bind(seq)
            .bind(level)
            .bind(src)
            .bind(sealed)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(query_err("append log line"))?;
        }
        tx.commit().await.map_err(query_err("append logs"))?;
        Ok(seq)
    }

    /// A VM's log lines after `after`, oldest first, at most `limit`.
    pub async fn sdf_logs(
        &self,
        vm: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<LogRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, level, src, message_sealed, created_at FROM sdf_logs WHERE vm = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(vm)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(query_err("read logs"))?;
        rows.iter()
            .map(|r| {
                Ok(LogRow {
                    seq: r.try_get("seq")?,
                    level: r.try_get("level")?,
                    src: r.try_get("src")?,
                    message_sealed: r.try_get("message_sealed")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(query_err("decode logs"))
    }
}
