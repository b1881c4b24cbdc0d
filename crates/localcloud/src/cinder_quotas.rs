//! Cinder's quotas on volumes, gigabytes and snapshots, per project, with Cinder's defaults.
//! Every create path checks them inside the same store write as the insert, so concurrent
//! creates cannot pass a quota together. `gigabytes` counts volumes and snapshots, as Cinder
//! does by default (`no_snapshot_gb_quota = False`).

use axum::http::StatusCode;

use crate::error::{ApiError, ApiResult, Service};
use crate::model::State as Db;

/// The quotas enforced and Cinder's defaults for them; `-1` is unlimited.
pub const ENFORCED: &[(&str, i64)] = &[("volumes", 10), ("gigabytes", 1000), ("snapshots", 10)];

/// Quotas Cinder shows and admins set that localcloud does not enforce (it has no backups or
/// groups), with Cinder's defaults.
pub const SHOWN: &[(&str, i64)] = &[
    ("backups", 10),
    ("backup_gigabytes", 1000),
    ("groups", 10),
    ("per_volume_gigabytes", -1),
];

/// A project's limit of `name`: its own, else the `default` quota class's.
pub fn limit(db: &Db, project: &str, name: &str) -> i64 {
    db.volume_quotas
        .get(project)
        .and_then(|q| q.get(name))
        .copied()
        .unwrap_or_else(|| class_limit(db, name))
}

/// The `default` quota class's limit of `name`: an admin's, else Cinder's default.
pub fn class_limit(db: &Db, name: &str) -> i64 {
    db.extra
        .volume_quota_class
        .get(name)
        .copied()
        .or_else(|| {
            ENFORCED
                .iter()
                .chain(SHOWN)
                .find(|(n, _)| *n == name)
                .map(|(_, v)| *v)
        })
        .unwrap_or(-1)
}

/// What a project uses: volumes, gigabytes (volumes and snapshots), snapshots.
pub fn usage(db: &Db, project: &str) -> [(&'static str, i64); 3] {
    let (n, mut gb) = db
        .volumes
        .values()
        .filter(|v| v.project_id == project)
        .fold((0i64, 0i64), |(n, g), v| (n + 1, g.saturating_add(v.size)));
    let mut snaps = 0i64;
    for s in db.snapshots.values().filter(|s| s.project_id == project) {
        snaps += 1;
        gb = gb.saturating_add(s.size);
    }
    [("volumes", n), ("gigabytes", gb), ("snapshots", snaps)]
}

/// The over-quota error in `service`'s format: Cinder's 413 `overLimit`; Nova (boot volumes of a
/// server create) answers 403 as it does for its own quotas.
fn over(service: Service, message: String) -> ApiError {
    let status = if service == Service::Volume {
        StatusCode::PAYLOAD_TOO_LARGE
    } else {
        StatusCode::FORBIDDEN
    };
    ApiError::new(service, status, message)
}

/// Refuses `volumes` more volumes, `snapshots` more snapshots and `gigabytes` more GiB that
/// would take `project` over a quota.
pub fn check(
    db: &Db,
    service: Service,
    project: &str,
    volumes: i64,
    snapshots: i64,
    gigabytes: i64,
) -> ApiResult<()> {
    let used = usage(db, project);
    let used_of = |name: &str| used.iter().find(|(n, _)| *n == name).map_or(0, |(_, u)| *u);
    let gb_limit = limit(db, project, "gigabytes");
    let gb_used = used_of("gigabytes");
    if gigabytes > 0 && gb_limit >= 0 && gb_used.saturating_add(gigabytes) > gb_limit {
        return Err(over(
            service,
            format!(
                "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed gigabytes quota. Requested {gigabytes}G, quota is {gb_limit}G and {gb_used}G has been consumed."
            ),
        ));
    }
    let n_limit = limit(db, project, "volumes");
    if volumes > 0 && n_limit >= 0 && used_of("volumes").saturating_add(volumes) > n_limit {
        return Err(over(
            service,
            format!(
                "VolumeLimitExceeded: Maximum number of volumes allowed ({n_limit}) exceeded for quota 'volumes'."
            ),
        ));
    }
    let s_limit = limit(db, project, "snapshots");
    if snapshots > 0 && s_limit >= 0 && used_of("snapshots").saturating_add(snapshots) > s_limit {
        return Err(over(
            service,
            format!(
                "SnapshotLimitExceeded: Maximum number of snapshots allowed ({s_limit}) exceeded for quota 'snapshots'."
            ),
        ));
    }
    Ok(())
}
