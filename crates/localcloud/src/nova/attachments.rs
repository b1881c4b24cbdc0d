//! HTTP handlers of volume attachments.

use super::*;

pub(super) async fn list_attachments(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let s = get_server(&c, &r.ctx, &id)?;
    let list = s
        .volumes
        .iter()
        .map(|v| attachment_view(&id, v, r.mv))
        .collect();
    Ok(versioned(
        &r,
        Json(w::VolumeAttachmentList {
            volume_attachments: list,
        }),
    ))
}

pub(super) async fn show_attachment(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((id, vol)): Path<(String, String)>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let s = get_server(&c, &r.ctx, &id)?;
    let v = s
        .volumes
        .iter()
        .find(|v| v.volume_id == vol)
        .ok_or_else(|| ApiError::not_found(S, format!("Volume {vol} is not attached to {id}")))?;
    Ok(versioned(
        &r,
        Json(w::VolumeAttachmentResponse {
            volume_attachment: attachment_view(&id, v, r.mv),
        }),
    ))
}

pub(super) const ATTACH_SCHEMA: Schema = Schema {
    service: S,
    wrapper: Some("volumeAttachment"),
    fields: &[
        req("volumeId", Ty::Str),
        opt("device", Ty::OptStr),
        opt("tag", Ty::Str),
        opt("delete_on_termination", Ty::Bool),
    ],
    additional: false,
    siblings: &[],
};

pub(super) async fn attach_volume(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let m = body::check(&ATTACH_SCHEMA, body::parse_json(S, &bytes)?)?;
    let vol = get_str(&m, "volumeId").unwrap_or_default();
    let dot = m
        .get("delete_on_termination")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let sv = c.store.write(|db| {
        let s = db
            .servers
            .mine(&r.ctx, &id)
            .cloned()
            .ok_or_else(|| server_not_found(&id))?;
        if s.status != ServerStatus::Active && s.status != ServerStatus::Shutoff {
            return Err(conflict_state("attach_volume", &s));
        }
        let v = db
            .volumes
            .mine(&r.ctx, &vol)
            .ok_or_else(|| ApiError::not_found(S, format!("Volume {vol} could not be found.")))?;
        if v.status != VolumeStatus::Available {
            return Err(bad(format!(
                "Invalid volume: volume '{vol}' status must be 'available'. Currently in '{}'",
                v.status
            )));
        }
        let mut used: Vec<&str> = s.volumes.iter().map(|v| v.device.as_str()).collect();
        // An image-booted server's root disk is `/dev/vda`, though no volume holds it.
        if s.image_id.as_deref().is_some_and(|i| !i.is_empty()) {
            used.push("/dev/vda");
        }
        let device = (b'a'..=b'z')
            .map(|l| format!("/dev/vd{}", char::from(l)))
            .find(|d| !used.contains(&d.as_str()))
            .ok_or_else(|| bad("No free disk device names for prefix 'vd'"))?;
        let sv = ServerVolume {
            volume_id: vol.clone(),
            attachment_id: new_id(),
            device,
            delete_on_termination: dot,
        };
        if let Some(v) = db.volumes.get_mut(&vol) {
            v.status = VolumeStatus::InUse;
            v.attachments = vec![VolumeAttachment {
                id: sv.attachment_id.clone(),
                server_id: id.clone(),
                device: sv.device.clone(),
                attached_at: util::now_micro(),
            }];
        }
        if let Some(s) = db.servers.get_mut(&id) {
            s.volumes.push(sv.clone());
        }
        record(db, &id, &r.ctx, "attach_volume");
        Ok(sv)
    })?;
    Ok(versioned(
        &r,
        Json(w::VolumeAttachmentResponse {
            volume_attachment: attachment_view(&id, &sv, r.mv),
        }),
    ))
}

pub(super) async fn detach_volume(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((id, vol)): Path<(String, String)>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    c.store.write(|db| {
        let s = db
            .servers
            .mine(&r.ctx, &id)
            .cloned()
            .ok_or_else(|| server_not_found(&id))?;
        let sv = s
            .volumes
            .iter()
            .find(|v| v.volume_id == vol)
            .ok_or_else(|| {
                ApiError::not_found(S, format!("Volume {vol} is not attached to {id}"))
            })?;
        if s.image_id.is_none() && s.volumes.first().is_some_and(|f| f.volume_id == vol) {
            return Err(bad("Can't detach root device volume"));
        }
        let _ = sv;
        if let Some(v) = db.volumes.get_mut(&vol) {
            v.status = VolumeStatus::Available;
            v.attachments.clear();
        }
        if let Some(s) = db.servers.get_mut(&id) {
            s.volumes.retain(|v| v.volume_id != vol);
        }
        record(db, &id, &r.ctx, "detach_volume");
        Ok(())
    })?;
    Ok(versioned(&r, StatusCode::ACCEPTED))
}
