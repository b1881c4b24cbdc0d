//! Nova's instance actions (`os-instance-actions`, `openstack server event list|show`): every
//! create, delete and server action is recorded with its request id, caller and time, and kept
//! after the server is deleted (listed from microversion 2.21, as in Nova).

use super::*;
use crate::model_extra::{ActionEvent, InstanceAction};

/// Actions kept per server; the oldest go first.
const MAX_ACTIONS: usize = 200;

/// A request id as Nova makes them (`req-<uuid>`).
pub(super) fn new_request_id() -> String {
    format!("req-{}", uuid::Uuid::new_v4())
}

/// Records an action on a server and returns its request id. `event` is the compute step Nova
/// would log for it (`compute_stop_instance`, …).
pub(super) fn record(db: &mut Db, server_id: &str, ctx: &Ctx, action: &str) -> String {
    let request_id = new_request_id();
    let project_id = db
        .servers
        .get(server_id)
        .map(|s| s.project_id.clone())
        .unwrap_or_else(|| ctx.project_id.clone());
    let t = util::now_micro();
    let list = db
        .extra
        .instance_actions
        .entry(server_id.to_owned())
        .or_default();
    list.push(InstanceAction {
        action: action.to_owned(),
        request_id: request_id.clone(),
        user_id: ctx.user_id.clone(),
        project_id,
        start_time: t.clone(),
        updated_at: t.clone(),
        events: vec![ActionEvent {
            event: compute_event(action),
            start_time: t.clone(),
            finish_time: Some(t),
            result: Some("Success".into()),
        }],
    });
    if list.len() > MAX_ACTIONS {
        let extra = list.len() - MAX_ACTIONS;
        list.drain(..extra);
    }
    request_id
}

/// The name of the compute manager's step Nova records for an action.
fn compute_event(action: &str) -> String {
    let step = match action {
        "create" => "_do_build_and_run_instance",
        "delete" => "_terminate_instance",
        "stop" => "_stop_instance",
        "start" => "_start_instance",
        "reboot" => "_reboot_instance",
        "resize" => "_prep_resize",
        "confirmResize" => "_confirm_resize",
        "revertResize" => "_revert_resize",
        "pause" => "_pause_instance",
        "unpause" => "_unpause_instance",
        "suspend" => "_suspend_instance",
        "resume" => "_resume_instance",
        "rescue" => "_rescue_instance",
        "unrescue" => "_unrescue_instance",
        "createImage" => "_snapshot_instance",
        "attach_volume" => "_attach_volume",
        "detach_volume" => "_detach_volume",
        "attach_interface" => "_attach_interface",
        "detach_interface" => "_detach_interface",
        other => return format!("api_{other}"),
    };
    format!("compute_{step}")
}

/// The server's actions when the caller reaches it: a live server by the usual rules, a
/// deleted one (from 2.21) by the project that owned it or an admin.
fn actions_of(c: &Cloud, r: &Req, id: &str) -> ApiResult<Vec<InstanceAction>> {
    c.store.read(|db| {
        let live = db.servers.get(id);
        let reachable = match live {
            Some(s) => r.ctx.is_admin() || s.project_id == r.ctx.project_id,
            None => {
                r.mv >= (2, 21)
                    && db.extra.instance_actions.get(id).is_some_and(|l| {
                        r.ctx.is_admin()
                            || l.first().is_some_and(|a| a.project_id == r.ctx.project_id)
                    })
            }
        };
        if !reachable {
            return Err(server_not_found(id));
        }
        Ok(db
            .extra
            .instance_actions
            .get(id)
            .cloned()
            .unwrap_or_default())
    })
}

fn action_json(id: &str, a: &InstanceAction, mv: (u32, u32)) -> Map<String, Value> {
    let mut o = Map::new();
    o.insert("action".into(), json!(a.action));
    o.insert("instance_uuid".into(), json!(id));
    o.insert("message".into(), Value::Null);
    o.insert("project_id".into(), json!(a.project_id));
    o.insert("request_id".into(), json!(a.request_id));
    o.insert("start_time".into(), json!(a.start_time));
    o.insert("user_id".into(), json!(a.user_id));
    if mv >= (2, 58) {
        o.insert("updated_at".into(), json!(a.updated_at));
    }
    o
}

pub(super) async fn list_instance_actions(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let list = actions_of(&c, &r, &id)?;
    // Newest first, as Nova lists them.
    let out: Vec<Value> = list
        .iter()
        .rev()
        .map(|a| Value::Object(action_json(&id, a, r.mv)))
        .collect();
    Ok(versioned(&r, Json(json!({"instanceActions": out}))))
}

pub(super) async fn show_instance_action(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((id, req_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let list = actions_of(&c, &r, &id)?;
    let a = list
        .iter()
        .find(|a| a.request_id == req_id)
        .ok_or_else(|| {
            ApiError::not_found(
                S,
                format!("Action {req_id} on instance {id} could not be found."),
            )
        })?;
    let mut o = action_json(&id, a, r.mv);
    let events: Vec<Value> = a
        .events
        .iter()
        .map(|e| {
            let mut ev = json!({"event": e.event, "start_time": e.start_time,
                                "finish_time": e.finish_time, "result": e.result});
            if let Some(m) = ev.as_object_mut() {
                if r.ctx.is_admin() {
                    m.insert("traceback".into(), Value::Null);
                    if r.mv >= (2, 62) {
                        m.insert("host".into(), json!(super::hosts::COMPUTE_HOST));
                    }
                }
                if r.mv >= (2, 62) {
                    m.insert(
                        "hostId".into(),
                        json!(hex::encode(
                            &sha2::Sha224::digest(format!("{}localcloud", a.project_id).as_bytes())
                                [..]
                        )),
                    );
                }
            }
            ev
        })
        .collect();
    o.insert("events".into(), Value::Array(events));
    Ok(versioned(&r, Json(json!({"instanceAction": o}))))
}
