//! Auto-recovery: a reconciler in every server process looks at running, idle deployments,
//! asks the config service which of their hosts are failed, and replaces one failed host at a
//! time by a job (plan + apply with that host's VM tainted), counted in `attempts` and logged
//! with its reason. A host gets `recovery_grace` after its replacement to come up; a host
//! replaced `recovery_max_tries` times within `recovery_window` is not replaced again: the
//! deployment turns `failed`, with the history of its recoveries.
//!
//! Starting a recovery is a conditional write (the object must still be idle and running), so
//! two replicas never start the same recovery twice.

use std::sync::Arc;

use vitrina_common::{DeploymentId, HostName};

use super::worker::now_text;
use super::{place, Hoe, Recovery};
use crate::store::hoe::ObjectRow;
use crate::store::now_ms;

pub(super) async fn reconcile_loop(hoe: Arc<Hoe>) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(hoe.settings.recovery_interval) => {}
            () = hoe.shutdown.cancelled() => return,
        }
        match hoe.store.hoe_idle_running().await {
            Ok(rows) => {
                for row in rows.iter().filter(|r| r.full_deployed) {
                    if hoe.shutdown.is_cancelled() {
                        return;
                    }
                    if let Err(e) = reconcile(&hoe, row).await {
                        tracing::warn!(uuid = %row.uuid, error = %e, "auto-recovery check failed");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot list running deployments"),
        }
    }
}

fn ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

async fn reconcile(hoe: &Arc<Hoe>, row: &ObjectRow) -> Result<(), crate::error::ServerError> {
    let Ok(deployment) = row.uuid.parse::<DeploymentId>() else {
        return Ok(());
    };
    let hosts = hoe.store.hoe_agent_hosts(&row.uuid).await?;
    if hosts.is_empty() {
        return Ok(());
    }
    let history: Vec<Recovery> = serde_json::from_str(&row.recoveries).unwrap_or_default();
    let now = now_ms();
    for h in hosts {
        let Ok(host) = h.parse::<HostName>() else {
            continue;
        };
        // A host just replaced has time to boot and register before it is judged again.
        let recently = history.iter().any(|r| {
            r.host == h
                && r.finished_ms
                    .is_some_and(|f| now.saturating_sub(f) < ms(hoe.settings.recovery_grace))
        });
        if recently {
            continue;
        }
        let view = hoe.config_service.host_view(&deployment, &host).await?;
        let Some(reason) = view.failed else {
            continue;
        };
        let tries = history
            .iter()
            .filter(|r| {
                r.host == h && now.saturating_sub(r.started_ms) < ms(hoe.settings.recovery_window)
            })
            .count();
        let mut next = history.clone();
        if tries >= hoe.settings.recovery_max_tries {
            next.push(Recovery {
                host: h.clone(),
                reason: reason.clone(),
                started_at: now_text(),
                started_ms: now,
                result: Some("gave up".into()),
                finished_ms: Some(now),
            });
            let message = format!(
                "host `{h}` failed again ({reason}) after {tries} replacement(s) within {}s; giving up",
                hoe.settings.recovery_window.as_secs()
            );
            let sealed = hoe
                .sealer
                .seal(&place("error", &row.uuid), message.as_bytes())?;
            let json = serde_json::to_string(&next).unwrap_or_else(|_| "[]".into());
            if hoe.store.hoe_give_up(&row.uuid, &json, &sealed).await? {
                tracing::warn!(uuid = %row.uuid, host = %h, %reason, "giving up on a failed host");
                hoe.log(&row.uuid, "error", message).await;
            }
            return Ok(());
        }
        next.push(Recovery {
            host: h.clone(),
            reason: reason.clone(),
            started_at: now_text(),
            started_ms: now,
            result: None,
            finished_ms: None,
        });
        let json = serde_json::to_string(&next).unwrap_or_else(|_| "[]".into());
        if hoe.store.hoe_start_recovery(&row.uuid, &h, &json).await? {
            tracing::warn!(
                uuid = %row.uuid,
                host = %h,
                %reason,
                recovery = tries + 1,
                "replacing a failed host"
            );
            hoe.log(
                &row.uuid,
                "warn",
                format!(
                    "host `{h}` failed: {reason}; replacing it (recovery {} of at most {})",
                    tries + 1,
                    hoe.settings.recovery_max_tries
                ),
            )
            .await;
            hoe.wake.notify_one();
        }
        // One host of a deployment heals at a time.
        return Ok(());
    }
    Ok(())
}
