//! HTTP handler of server actions (`POST /servers/{id}/action`).

use super::*;

pub(super) fn conflict_state(action: &str, s: &Server) -> ApiError {
    ApiError::conflict(
        S,
        format!(
            "Cannot '{action}' instance {} while it is in vm_state {}",
            s.id, s.vm_state
        ),
    )
}

pub(super) fn arg_obj<'a>(action: &str, arg: &'a Value) -> ApiResult<&'a Map<String, Value>> {
    arg.as_object().ok_or_else(|| bad(format!("Invalid input for field/attribute {action}. Value: {arg}. {arg} is not of type 'object'")))
}

pub(super) fn arg_str(action: &str, o: &Map<String, Value>, key: &str) -> ApiResult<String> {
    match o.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(v) => Err(bad(format!(
            "Invalid input for field/attribute {key}. Value: {v}. {v} is not of type 'string'"
        ))),
        None => Err(bad(format!(
            "Invalid input for field/attribute {action}. Value: {}. '{key}' is a required property",
            Value::Object(o.clone())
        ))),
    }
}

pub(super) async fn server_action(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let v = body::parse_json(S, &bytes)?;
    let obj = v
        .as_object()
        .ok_or_else(|| bad("Malformed request body: an action is a JSON object"))?;
    if obj.len() != 1 {
        return Err(bad(
            "Malformed request body: an action body holds exactly one action",
        ));
    }
    let Some((action, arg)) = obj.iter().next() else {
        return Err(bad("Malformed request body"));
    };
    let s = get_server(&c, &r.ctx, &id)?;
    if s.locked
        && !r.ctx.is_admin()
        && !matches!(action.as_str(), "lock" | "unlock" | "os-getConsoleOutput")
    {
        return Err(ApiError::conflict(S, format!("Instance {id} is locked")));
    }
    let accepted = || versioned(&r, StatusCode::ACCEPTED);
    let result = match action.as_str() {
        "os-stop" => {
            if s.status != ServerStatus::Active && s.status != ServerStatus::Error {
                return Err(conflict_state("stop", &s));
            }
            set_state(
                &c,
                &id,
                s.status,
                &s.vm_state,
                s.power_state,
                Some("powering-off"),
            );
            spawn_stop(&c, &id, None);
            Ok(accepted())
        }
        "os-start" => {
            if s.status != ServerStatus::Shutoff {
                return Err(conflict_state("start", &s));
            }
            set_state(
                &c,
                &id,
                ServerStatus::Shutoff,
                "stopped",
                4,
                Some("powering-on"),
            );
            spawn_boot(&c, &id, None);
            Ok(accepted())
        }
        "reboot" => {
            let o = arg_obj(action, arg)?;
            let kind = arg_str(action, o, "type")?.to_ascii_uppercase();
            if kind != "SOFT" && kind != "HARD" {
                return Err(bad(format!("Invalid input for field/attribute type. Value: {kind}. '{kind}' is not one of ['HARD', 'Hard', 'hard', 'SOFT', 'Soft', 'soft']")));
            }
            let ok = s.status == ServerStatus::Active
                || (kind == "HARD"
                    && (s.status == ServerStatus::Shutoff || s.status == ServerStatus::Error));
            if !ok {
                return Err(conflict_state("reboot", &s));
            }
            let status = if kind == "HARD" {
                ServerStatus::HardReboot
            } else {
                ServerStatus::Reboot
            };
            let task = if kind == "HARD" {
                "reboot_started_hard"
            } else {
                "reboot_started"
            };
            set_state(&c, &id, status, &s.vm_state, s.power_state, Some(task));
            spawn_stop(&c, &id, Some(None));
            Ok(accepted())
        }
        "resize" => {
            let o = arg_obj(action, arg)?;
            let fref = match o.get("flavorRef") {
                Some(Value::String(x)) => x.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => return Err(bad(format!("Invalid input for field/attribute resize. Value: {arg}. 'flavorRef' is a required property"))),
            };
            let f = c
                .store
                .read(|db| find_flavor(db, &r.ctx, &fref))
                .ok_or_else(|| bad("Invalid flavorRef provided."))?;
            if f.id == s.flavor_id {
                return Err(bad("When resizing, instances must change flavor!"));
            }
            if s.status != ServerStatus::Active && s.status != ServerStatus::Shutoff {
                return Err(conflict_state("resize", &s));
            }
            let was_active = s.status == ServerStatus::Active;
            c.store.write(|db| {
                // Nova's quota on the growth in cores and RAM, under the same lock.
                let old = db
                    .servers
                    .get(&id)
                    .and_then(|x| server_flavor(db, x))
                    .cloned();
                check_resize(db, &s.project_id, old.as_ref(), &f)?;
                if let Some(x) = db.servers.get_mut(&id) {
                    x.old_flavor_id = Some(x.flavor_id.clone());
                    x.old_flavor = old;
                    x.flavor_id = f.id.clone();
                    x.flavor = Some(f.clone());
                    x.status = ServerStatus::Resize;
                    x.task_state = Some("resize_prep".into());
                    x.updated = now();
                }
                Ok::<_, ApiError>(())
            })?;
            if was_active {
                spawn_stop(&c, &id, Some(Some(ServerStatus::VerifyResize)));
            } else {
                set_state(&c, &id, ServerStatus::VerifyResize, "resized", 4, None);
            }
            Ok(accepted())
        }
        "confirmResize" => {
            if s.status != ServerStatus::VerifyResize {
                return Err(conflict_state("confirmResize", &s));
            }
            let running = c.hv.is_running(&id);
            c.store.write(|db| {
                if let Some(x) = db.servers.get_mut(&id) {
                    x.old_flavor_id = None;
                    x.old_flavor = None;
                    x.status = if running {
                        ServerStatus::Active
                    } else {
                        ServerStatus::Shutoff
                    };
                    x.vm_state = if running {
                        "active".into()
                    } else {
                        "stopped".into()
                    };
                    x.task_state = None;
                    x.updated = now();
                }
            });
            Ok(versioned(&r, StatusCode::NO_CONTENT))
        }
        "revertResize" => {
            if s.status != ServerStatus::VerifyResize {
                return Err(conflict_state("revertResize", &s));
            }
            c.store.write(|db| {
                if let Some(x) = db.servers.get_mut(&id) {
                    if let Some(old) = x.old_flavor_id.take() {
                        x.flavor_id = old;
                        x.flavor = x.old_flavor.take();
                    }
                    x.status = ServerStatus::RevertResize;
                    x.task_state = Some("resize_reverting".into());
                }
            });
            spawn_stop(&c, &id, Some(None));
            Ok(accepted())
        }
        "addFloatingIp" => {
            let o = arg_obj(action, arg)?;
            let address = arg_str(action, o, "address")?;
            let fixed = o
                .get("fixed_address")
                .and_then(Value::as_str)
                .map(str::to_owned);
            c.store.write(|db| {
                let fip = db
                    .floating_ips
                    .all_mine(&r.ctx)
                    .find(|f| f.floating_ip_address == address)
                    .cloned();
                let fip =
                    fip.ok_or_else(|| ApiError::not_found(S, "floating IP not found".to_string()))?;
                let port = s
                    .ports
                    .iter()
                    .find(|p| {
                        db.ports.get(*p).is_some_and(|port| {
                            fixed
                                .as_ref()
                                .is_none_or(|fa| port.fixed_ips.iter().any(|f| &f.ip_address == fa))
                        })
                    })
                    .cloned();
                let port = port.ok_or_else(|| {
                    bad(if fixed.is_some() {
                        "Specified fixed address not assigned to instance"
                    } else {
                        "No nw_info cache associated with instance"
                    })
                })?;
                if fip.port_id.is_some() && fip.port_id.as_deref() != Some(port.as_str()) {
                    neutron::disassociate(db, &fip.id);
                }
                neutron::associate(db, &fip.id, &port, fixed.as_deref()).map_err(|e| {
                    match e.status {
                        StatusCode::NOT_FOUND => bad(e.message),
                        _ => ApiError { service: S, ..e },
                    }
                })
            })?;
            Ok(accepted())
        }
        "removeFloatingIp" => {
            let o = arg_obj(action, arg)?;
            let address = arg_str(action, o, "address")?;
            c.store.write(|db| {
                let fip = db
                    .floating_ips
                    .all_mine(&r.ctx)
                    .find(|f| f.floating_ip_address == address)
                    .cloned();
                let fip =
                    fip.ok_or_else(|| ApiError::not_found(S, "floating IP not found".to_string()))?;
                if !fip.port_id.as_ref().is_some_and(|p| s.ports.contains(p)) {
                    return Err(ApiError::conflict(
                        S,
                        format!("Floating IP {address} is not associated with instance {id}."),
                    ));
                }
                neutron::disassociate(db, &fip.id);
                Ok(())
            })?;
            Ok(accepted())
        }
        "addSecurityGroup" | "removeSecurityGroup" => {
            let o = arg_obj(action, arg)?;
            let name = arg_str(action, o, "name")?;
            let add = action == "addSecurityGroup";
            c.store.write(|db| {
                let sg = db
                    .security_groups
                    .all_mine(&r.ctx)
                    .find(|g| g.name == name || g.id == name)
                    .cloned();
                let sg = sg.ok_or_else(|| {
                    ApiError::not_found(
                        S,
                        format!(
                            "Security group {name} not found for project {}.",
                            r.ctx.project_id
                        ),
                    )
                })?;
                if s.ports.is_empty() {
                    return Err(bad(format!(
                        "Unable to {} security group {name}: the instance {id} has no ports",
                        if add { "add" } else { "remove" }
                    )));
                }
                let has = s.ports.iter().any(|p| {
                    db.ports
                        .get(p)
                        .is_some_and(|p| p.security_groups.contains(&sg.id))
                });
                if add && has {
                    return Err(bad(format!(
                        "Security group {name} is already associated with the instance {id}"
                    )));
                }
                if !add && !has {
                    return Err(bad(format!(
                        "Security group {name} not associated with the instance {id}"
                    )));
                }
                for p in &s.ports {
                    if let Some(port) = db.ports.get_mut(p) {
                        if add {
                            port.security_groups.push(sg.id.clone());
                        } else {
                            port.security_groups.retain(|g| g != &sg.id);
                        }
                    }
                }
                if let Some(x) = db.servers.get_mut(&id) {
                    if add {
                        x.security_groups.push(sg.name.clone());
                    } else {
                        x.security_groups.retain(|g| g != &sg.name);
                    }
                }
                Ok(())
            })?;
            Ok(accepted())
        }
        "os-getConsoleOutput" => {
            let o = arg_obj(action, arg)?;
            let length = match o.get("length") {
                None | Some(Value::Null) => None,
                Some(v) => match body::int_like(v) {
                    Some(n) if n >= -1 => usize::try_from(n).ok(),
                    _ => return Err(bad(format!("Invalid input for field/attribute length. Value: {v}. {v} is not valid under any of the given schemas"))),
                },
            };
            let output =
                c.hv.console_output(&id, length)
                    .map_err(|e| ApiError::internal(S, e.to_string()))?;
            Ok(versioned(&r, Json(w::ConsoleOutput { output })))
        }
        "changePassword" => {
            let o = arg_obj(action, arg)?;
            arg_str(action, o, "adminPass")?;
            Ok(accepted())
        }
        "pause" | "suspend" | "unpause" | "resume" => freeze_action(&c, &r, &s, action),
        "rescue" => rescue(&c, &r, &s, arg),
        "unrescue" => {
            if s.status != ServerStatus::Rescue {
                return Err(conflict_state("unrescue", &s));
            }
            set_state(
                &c,
                &id,
                ServerStatus::Rescue,
                &s.vm_state,
                s.power_state,
                Some("unrescuing"),
            );
            spawn_stop(&c, &id, Some(None));
            Ok(accepted())
        }
        "lock" | "unlock" => {
            let lock = action == "lock";
            let reason = if lock && r.mv >= (2, 73) {
                match arg {
                    Value::Null => None,
                    Value::Object(o) => match o.get("locked_reason") {
                        None | Some(Value::Null) => None,
                        Some(Value::String(x)) if x.chars().count() <= 255 => Some(x.clone()),
                        Some(v) => return Err(bad(format!("Invalid input for field/attribute locked_reason. Value: {v}. {v} is not of type 'string'"))),
                    },
                    v => return Err(bad(format!("Invalid input for field/attribute lock. Value: {v}. {v} is not of type 'object', 'null'"))),
                }
            } else {
                None
            };
            c.store.write(|db| {
                if let Some(x) = db.servers.get_mut(&id) {
                    x.locked = lock;
                    x.locked_reason = reason;
                    x.updated = now();
                }
            });
            Ok(accepted())
        }
        "createImage" => create_image(&c, &r, &s, arg),
        other => Err(bad(format!("There is no such action: {other}"))),
    };
    let recorded = match action.as_str() {
        "os-stop" => Some("stop"),
        "os-start" => Some("start"),
        "reboot" | "resize" | "confirmResize" | "revertResize" | "pause" | "unpause"
        | "suspend" | "resume" | "rescue" | "unrescue" | "lock" | "unlock" | "createImage"
        | "changePassword" => Some(action.as_str()),
        _ => None,
    };
    let mut resp = result?;
    if let Some(name) = recorded {
        let req_id = c.store.write(|db| record(db, &id, &r.ctx, name));
        if let Ok(h) = HeaderValue::from_str(&req_id) {
            resp.headers_mut().insert("x-openstack-request-id", h);
        }
    }
    Ok(resp)
}

/// `pause`/`suspend` freeze the VM's processes (SIGSTOP); `unpause`/`resume` thaw them. A VM
/// whose processes ended while frozen boots again.
fn freeze_action(c: &AppState, r: &Req, s: &Server, action: &str) -> ApiResult<Response> {
    let (from, to, vm, power, freeze) = match action {
        "pause" => (
            ServerStatus::Active,
            ServerStatus::Paused,
            "paused",
            3,
            true,
        ),
        "suspend" => (
            ServerStatus::Active,
            ServerStatus::Suspended,
            "suspended",
            7,
            true,
        ),
        "unpause" => (
            ServerStatus::Paused,
            ServerStatus::Active,
            "active",
            1,
            false,
        ),
        _ => (
            ServerStatus::Suspended,
            ServerStatus::Active,
            "active",
            1,
            false,
        ),
    };
    if s.status != from || s.task_state.is_some() {
        return Err(conflict_state(action, s));
    }
    match c.hv.freeze(&s.id, freeze) {
        Ok(()) => set_state(c, &s.id, to, vm, power, None),
        Err(crate::hypervisor::HvError::NotFound(_)) if !freeze => {
            set_state(
                c,
                &s.id,
                s.status,
                &s.vm_state,
                s.power_state,
                Some("powering-on"),
            );
            spawn_boot(c, &s.id, None);
        }
        Err(e) => {
            return Err(ApiError::conflict(
                S,
                format!("Cannot '{action}' instance {}: {e}", s.id),
            ))
        }
    }
    Ok(versioned(r, StatusCode::ACCEPTED))
}

/// `rescue`: the VM's processes stop and it boots again in the `RESCUE` state (the process
/// hypervisor boots the server's own root: a rescue image named with `rescue_image_ref` must
/// exist and be visible, but has nothing to boot); `unrescue` boots it back to `ACTIVE`.
fn rescue(c: &AppState, r: &Req, s: &Server, arg: &Value) -> ApiResult<Response> {
    let o = match arg {
        Value::Null => Map::new(),
        Value::Object(o) => o.clone(),
        v => return Err(bad(format!("Invalid input for field/attribute rescue. Value: {v}. {v} is not of type 'object', 'null'"))),
    };
    if let Some(img) = o.get("rescue_image_ref") {
        let img = img.as_str().ok_or_else(|| bad(format!("Invalid input for field/attribute rescue_image_ref. Value: {img}. {img} is not of type 'string'")))?;
        let found = c.store.read(|db| {
            db.images
                .get(img)
                .is_some_and(|i| crate::access::image_visible(i, &r.ctx))
        });
        if !found {
            return Err(bad(format!("Image {img} could not be found.")));
        }
    }
    if !matches!(
        s.status,
        ServerStatus::Active | ServerStatus::Shutoff | ServerStatus::Error
    ) || s.task_state.is_some()
    {
        return Err(conflict_state("rescue", s));
    }
    let running = c.hv.is_running(&s.id);
    set_state(
        c,
        &s.id,
        s.status,
        &s.vm_state,
        s.power_state,
        Some("rescuing"),
    );
    if running {
        spawn_stop(c, &s.id, Some(Some(ServerStatus::Rescue)));
    } else {
        spawn_boot(c, &s.id, Some(ServerStatus::Rescue));
    }
    let pass = o
        .get("adminPass")
        .and_then(Value::as_str)
        .map_or_else(keystone_like_password, str::to_owned);
    Ok(versioned(r, Json(json!({"adminPass": pass}))))
}

/// `createImage`: a Glance image whose data is the server's root disk (for a process VM, the image
/// it booted from, which it never writes; for a volume-booted one, its boot volume). The server is
/// in task state `image_snapshot` until the copy ends; the image goes `queued`, then `active`.
fn create_image(c: &Cloud, r: &Req, s: &Server, arg: &Value) -> ApiResult<Response> {
    let o = arg_obj("createImage", arg)?;
    let name = arg_str("createImage", o, "name")?;
    if name.trim().is_empty() || name.chars().count() > 255 {
        return Err(bad(format!("Invalid input for field/attribute name. Value: {name}. '{name}' does not match '^(?! )[a-zA-Z0-9. _-]+(?<! )$'")));
    }
    let mut properties: BTreeMap<String, Value> = BTreeMap::new();
    match o.get("metadata") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (k, v) in m {
                let Value::String(v) = v else {
                    return Err(bad(format!("Invalid input for field/attribute {k}. Value: {v}. {v} is not of type 'string'")));
                };
                properties.insert(k.clone(), Value::String(v.clone()));
            }
        }
        Some(v) => {
            return Err(bad(format!(
            "Invalid input for field/attribute metadata. Value: {v}. {v} is not of type 'object'"
        )))
        }
    }
    if !matches!(s.status, ServerStatus::Active | ServerStatus::Shutoff) || s.task_state.is_some() {
        return Err(conflict_state("createImage", s));
    }
    let base = s
        .image_id
        .as_deref()
        .filter(|i| !i.is_empty())
        .and_then(|i| c.store.read(|db| db.images.get(i).cloned()));
    properties.insert("image_type".into(), json!("snapshot"));
    properties.insert("instance_uuid".into(), json!(s.id));
    properties.insert("user_id".into(), json!(r.ctx.user_id));
    properties.insert(
        "base_image_ref".into(),
        json!(s.image_id.clone().unwrap_or_default()),
    );
    let mut img = crate::disks::queued_image(
        &s.project_id,
        &name,
        base.as_ref()
            .and_then(|b| b.disk_format.as_deref())
            .unwrap_or("raw"),
        base.as_ref()
            .and_then(|b| b.container_format.as_deref())
            .unwrap_or("bare"),
        "private",
        properties,
    );
    img.min_disk = base.as_ref().map_or(0, |b| b.min_disk);
    img.min_ram = base.as_ref().map_or(0, |b| b.min_ram);
    let image_id = img.id.clone();
    let sid = s.id.clone();
    let source = c.store.write(|db| {
        db.images.insert(image_id.clone(), img);
        if let Some(s) = db.servers.get_mut(&sid) {
            s.task_state = Some("image_snapshot".into());
            s.updated = now();
        }
        crate::disks::server_root_source(c, db, &sid)
    });
    crate::disks::fill_image(c, &image_id, source, move |db| {
        if let Some(s) = db.servers.get_mut(&sid) {
            if s.task_state.as_deref() == Some("image_snapshot") {
                s.task_state = None;
                s.updated = now();
            }
        }
    });
    if r.mv >= (2, 45) {
        return Ok(versioned(
            r,
            (StatusCode::ACCEPTED, Json(json!({"image_id": image_id}))),
        ));
    }
    let mut resp = versioned(r, StatusCode::ACCEPTED);
    if let Ok(h) = HeaderValue::from_str(&c.url(&format!("/image/v2/images/{image_id}"))) {
        resp.headers_mut().insert(header::LOCATION, h);
    }
    Ok(resp)
}
