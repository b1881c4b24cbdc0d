//! Products: each service id belongs to the vendor that first uploaded it; each `(id, revision)`
//! is kept with its zip, its catalog JSON and its plans' manifests, in one of the states `test`,
//! `public` or `archived`. Vendors' queries take their [`VendorCtx`]: another vendor's product
//! is not found.

use sqlx::Row;

use super::{now_ms, query_err, Store, StoreError};
use crate::tenants::VendorCtx;

/// The migrations of this area (versions 20–29).
pub(super) const MIGRATION_21: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS products (
    service_id TEXT PRIMARY KEY,
    vendor_id TEXT NOT NULL,
    created_at BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS product_revisions (
    service_id TEXT NOT NULL,
    revision TEXT NOT NULL,
    vendor_id TEXT NOT NULL,
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    seq BIGINT NOT NULL,
    catalog_json TEXT NOT NULL,
    plans_json TEXT NOT NULL,
    zip_sha256 TEXT NOT NULL,
    uploaded_at BIGINT NOT NULL,
    published_at BIGINT,
    archived_at BIGINT,
    PRIMARY KEY (service_id, revision))",
    "CREATE INDEX IF NOT EXISTS product_revisions_state ON product_revisions (state)",
    // The zip apart from the row, so listing catalogs never reads it.
    "CREATE TABLE IF NOT EXISTS product_zips (
    service_id TEXT NOT NULL,
    revision TEXT NOT NULL,
    zip_base64 TEXT NOT NULL,
    PRIMARY KEY (service_id, revision))",
];

/// A revision's state.
pub const STATE_TEST: &str = "test";
pub const STATE_PUBLIC: &str = "public";
pub const STATE_ARCHIVED: &str = "archived";

/// A stored revision without its zip.
#[derive(Clone, Debug)]
pub struct RevisionRow {
    pub service_id: String,
    pub revision: String,
    pub vendor_id: String,
    pub name: String,
    /// `test`, `public` or `archived`.
    pub state: String,
    /// Upload order.
    pub seq: i64,
    pub catalog_json: String,
    pub plans_json: String,
    pub zip_sha256: String,
    pub uploaded_at: i64,
    pub published_at: Option<i64>,
    pub archived_at: Option<i64>,
}

/// A new revision to insert.
#[derive(Clone, Debug)]
pub struct NewRevision {
    pub service_id: String,
    pub revision: String,
    pub name: String,
    pub catalog_json: String,
    pub plans_json: String,
    pub zip_sha256: String,
    pub zip_base64: String,
}

/// What an upload did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InsertOutcome {
    Inserted,
    /// The service id belongs to another vendor.
    OtherVendor,
    /// `(id, revision)` exists.
    Exists,
}

const REV_COLS: &str = "service_id, revision, vendor_id, name, state, seq, catalog_json, plans_json, zip_sha256, uploaded_at, published_at, archived_at";

fn rev_row(r: &sqlx::any::AnyRow) -> Result<RevisionRow, sqlx::Error> {
    Ok(RevisionRow {
        service_id: r.try_get("service_id")?,
        revision: r.try_get("revision")?,
        vendor_id: r.try_get("vendor_id")?,
        name: r.try_get("name")?,
        state: r.try_get("state")?,
        seq: r.try_get("seq")?,
        catalog_json: r.try_get("catalog_json")?,
        plans_json: r.try_get("plans_json")?,
        zip_sha256: r.try_get("zip_sha256")?,
        uploaded_at: r.try_get("uploaded_at")?,
        published_at: r.try_get("published_at")?,
        archived_at: r.try_get("archived_at")?,
    })
}

fn rows(v: Vec<sqlx::any::AnyRow>) -> Result<Vec<RevisionRow>, StoreError> {
    v.iter()
        .map(rev_row)
        .collect::<Result<_, _>>()
        .map_err(query_err("decode revision"))
}

impl Store {
    /// Stores a new revision in the `test` state for the caller.
    pub async fn revision_insert(
        &self,
        ctx: &VendorCtx,
        new: &NewRevision,
    ) -> Result<InsertOutcome, StoreError> {
        let mut tx = self.pool.begin().await.map_err(query_err("begin upload"))?;
        let now = now_ms();
        sqlx::query("INSERT INTO products (service_id, vendor_id, created_at) VALUES ($1, $2, $3) ON CONFLICT (service_id) DO NOTHING")
            .bind(&new.service_id)
            .bind(ctx.id())
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(query_err("insert product"))?;
        let owner: String = sqlx::query("SELECT vendor_id FROM products WHERE service_id = $1")
            .bind(&new.service_id)
            .fetch_one(&mut *tx)
            .await
            .and_then(|r| r.try_get("vendor_id"))
            .map_err(query_err("read product owner"))?;
        if owner != ctx.id() {
            return Ok(InsertOutcome::OtherVendor);
        }
        let seq: i64 = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS m FROM product_revisions")
            .fetch_one(&mut *tx)
            .await
            .and_then(|r| r.try_get("m"))
            .map_err(query_err("next revision seq"))?;
        let r = sqlx::query(
            "INSERT INTO product_revisions (service_id, revision, vendor_id, name, state, seq, catalog_json, plans_json, zip_sha256, uploaded_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (service_id, revision) DO NOTHING",
        )
        .bind(&new.service_id)
        .bind(&new.revision)
        .bind(ctx.id())
        .bind(&new.name)
        .bind(STATE_TEST)
        .bind(seq.saturating_add(1))
        .bind(&new.catalog_json)
        .bind(&new.plans_json)
        .bind(&new.zip_sha256)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(query_err("insert revision"))?;
        if r.rows_affected() == 0 {
            return Ok(InsertOutcome::Exists);
        }
        sqlx::query(
            "INSERT INTO product_zips (service_id, revision, zip_base64) VALUES ($1, $2, $3)",
        )
        .bind(&new.service_id)
        .bind(&new.revision)
        .bind(&new.zip_base64)
        .execute(&mut *tx)
        .await
        .map_err(query_err("insert zip"))?;
        tx.commit().await.map_err(query_err("commit upload"))?;
        Ok(InsertOutcome::Inserted)
    }

    /// The caller's revision (another vendor's is `None`).
    pub async fn vendor_revision(
        &self,
        ctx: &VendorCtx,
        service_id: &str,
        revision: &str,
    ) -> Result<Option<RevisionRow>, StoreError> {
        let q = format!("SELECT {REV_COLS} FROM product_revisions WHERE service_id = $1 AND revision = $2 AND vendor_id = $3");
        let row = sqlx::query(&q)
            .bind(service_id)
            .bind(revision)
            .bind(ctx.id())
            .fetch_optional(&self.pool)
            .await
            .map_err(query_err("read revision"))?;
        row.map(|r| rev_row(&r))
            .transpose()
            .map_err(query_err("decode revision"))
    }

    /// Every revision of the caller's products, oldest first.
    pub async fn vendor_revisions(&self, ctx: &VendorCtx) -> Result<Vec<RevisionRow>, StoreError> {
        let q =
            format!("SELECT {REV_COLS} FROM product_revisions WHERE vendor_id = $1 ORDER BY seq");
        rows(
            sqlx::query(&q)
                .bind(ctx.id())
                .fetch_all(&self.pool)
                .await
                .map_err(query_err("list revisions"))?,
        )
    }

    /// Makes the caller's revision the public one; the previous public revision returns to
    /// `test`. `false` when the revision is not the caller's or is archived.
    pub async fn revision_publish(
        &self,
        ctx: &VendorCtx,
        service_id: &str,
        revision: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(query_err("begin publish"))?;
        let found = sqlx::query("SELECT state FROM product_revisions WHERE service_id = $1 AND revision = $2 AND vendor_id = $3")
            .bind(service_id)
            .bind(revision)
            .bind(ctx.id())
            .fetch_optional(&mut *tx)
            .await
            .map_err(query_err("read revision"))?;
        let state: Option<String> = found
            .map(|r| r.try_get("state"))
            .transpose()
            .map_err(query_err("decode revision"))?;
        match state.as_deref() {
            None | Some(STATE_ARCHIVED) => return Ok(false),
            Some(_) => {}
        }
        sqlx::query("UPDATE product_revisions SET state = $1 WHERE service_id = $2 AND state = $3 AND revision <> $4")
            .bind(STATE_TEST)
            .bind(service_id)
            .bind(STATE_PUBLIC)
            .bind(revision)
            .execute(&mut *tx)
            .await
            .map_err(query_err("unpublish previous revision"))?;
        sqlx::query("UPDATE product_revisions SET state = $1, published_at = $2 WHERE service_id = $3 AND revision = $4")
            .bind(STATE_PUBLIC)
            .bind(now_ms())
            .bind(service_id)
            .bind(revision)
            .execute(&mut *tx)
            .await
            .map_err(query_err("publish revision"))?;
        tx.commit().await.map_err(query_err("commit publish"))?;
        Ok(true)
    }

    /// Archives the caller's revisions, all or none: `Err(i)` names the first entry that is not
    /// one of the caller's revisions (archiving an archived one again is fine).
    pub async fn revisions_archive(
        &self,
        ctx: &VendorCtx,
        which: &[(String, String)],
    ) -> Result<Result<(), usize>, StoreError> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(query_err("begin archive"))?;
        for (i, (id, rev)) in which.iter().enumerate() {
            let found = sqlx::query("SELECT state FROM product_revisions WHERE service_id = $1 AND revision = $2 AND vendor_id = $3")
                .bind(id)
                .bind(rev)
                .bind(ctx.id())
                .fetch_optional(&mut *tx)
                .await
                .map_err(query_err("read revision"))?;
            if found.is_none() {
                return Ok(Err(i));
            }
        }
        let now = now_ms();
        for (id, rev) in which {
            sqlx::query("UPDATE product_revisions SET state = $1, archived_at = COALESCE(archived_at, $2) WHERE service_id = $3 AND revision = $4 AND vendor_id = $5")
                .bind(STATE_ARCHIVED)
                .bind(now)
                .bind(id)
                .bind(rev)
                .bind(ctx.id())
                .execute(&mut *tx)
                .await
                .map_err(query_err("archive revision"))?;
        }
        tx.commit().await.map_err(query_err("commit archive"))?;
        Ok(Ok(()))
    }

    /// Revisions in the given states, in upload order.
    pub async fn revisions_in(&self, states: &[&str]) -> Result<Vec<RevisionRow>, StoreError> {
        let marks: Vec<String> = (1..=states.len()).map(|i| format!("${i}")).collect();
        let q = format!(
            "SELECT {REV_COLS} FROM product_revisions WHERE state IN ({}) ORDER BY seq",
            marks.join(", ")
        );
        let mut query = sqlx::query(&q);
        for s in states {
            query = query.bind(*s);
        }
        rows(
            query
                .fetch_all(&self.pool)
                .await
                .map_err(query_err("list revisions"))?,
        )
    }

    /// One revision, any vendor (for the broker and the deployment system, which check the
    /// namespace themselves).
    pub async fn revision(
        &self,
        service_id: &str,
        revision: &str,
    ) -> Result<Option<RevisionRow>, StoreError> {
        let q = format!(
            "SELECT {REV_COLS} FROM product_revisions WHERE service_id = $1 AND revision = $2"
        );
        let row = sqlx::query(&q)
            .bind(service_id)
            .bind(revision)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_err("read revision"))?;
        row.map(|r| rev_row(&r))
            .transpose()
            .map_err(query_err("decode revision"))
    }

    /// A revision's zip (base64).
    pub async fn revision_zip(
        &self,
        service_id: &str,
        revision: &str,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(
            "SELECT zip_base64 FROM product_zips WHERE service_id = $1 AND revision = $2",
        )
        .bind(service_id)
        .bind(revision)
        .fetch_optional(&self.pool)
        .await
        .map_err(query_err("read zip"))?;
        row.map(|r| r.try_get("zip_base64"))
            .transpose()
            .map_err(query_err("decode zip"))
    }
}
