//! HTTP handlers of port interfaces (`os-interface`): ports attached to and detached from a
//! server while it runs. The data plane adds the port's interface to the server's namespace (its
//! MAC, fixed IPs and security groups) or removes it before the call answers.

use super::*;

pub(super) const INTERFACE_SCHEMA: Schema = Schema {
    service: S,
    wrapper: Some("interfaceAttachment"),
    fields: &[
        opt("port_id", Ty::Str),
        opt("net_id", Ty::Str),
        opt("fixed_ips", Ty::Arr),
        opt("tag", Ty::Str),
    ],
    additional: false,
    siblings: &[],
};

fn interface_view(db: &Db, port_id: &str) -> Value {
    let Some(p) = db.ports.get(port_id) else {
        return json!({"port_id": port_id});
    };
    json!({
        "port_id": p.id,
        "net_id": p.network_id,
        "mac_addr": p.mac_address,
        "port_state": if p.status == NetStatus::Active { "ACTIVE" } else { "DOWN" },
        "fixed_ips": p.fixed_ips.iter().map(|f| json!({"subnet_id": f.subnet_id, "ip_address": f.ip_address})).collect::<Vec<_>>(),
    })
}

fn interface_not_found(id: &str, port: &str) -> ApiError {
    ApiError::not_found(
        S,
        format!("Network interface {port} for instance {id} could not be found."),
    )
}

pub(super) async fn list_interfaces(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let s = get_server(&c, &r.ctx, &id)?;
    let list: Vec<Value> = c
        .store
        .read(|db| s.ports.iter().map(|p| interface_view(db, p)).collect());
    Ok(versioned(&r, Json(json!({"interfaceAttachments": list}))))
}

pub(super) async fn show_interface(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((id, port)): Path<(String, String)>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let s = get_server(&c, &r.ctx, &id)?;
    if !s.ports.contains(&port) {
        return Err(interface_not_found(&id, &port));
    }
    let v = c.store.read(|db| interface_view(db, &port));
    Ok(versioned(&r, Json(json!({"interfaceAttachment": v}))))
}

/// Whether a server may have ports attached or detached now.
fn check_state(s: &Server, action: &str) -> ApiResult<()> {
    match s.status {
        ServerStatus::Active | ServerStatus::Shutoff => Ok(()),
        _ => Err(conflict_state(action, s)),
    }
}

pub(super) async fn attach_interface(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let m = body::check(&INTERFACE_SCHEMA, body::parse_json(S, &bytes)?)?;
    let port_id = get_str(&m, "port_id");
    let net_id = get_str(&m, "net_id");
    if port_id.is_some() && net_id.is_some() {
        return Err(bad("Must not input both network_id and port_id"));
    }
    let fixed: Option<Vec<(Option<String>, Option<String>)>> =
        m.get("fixed_ips").and_then(Value::as_array).map(|a| {
            a.iter()
                .map(|f| {
                    (
                        None,
                        f.get("ip_address")
                            .and_then(Value::as_str)
                            .map(str::to_owned),
                    )
                })
                .collect()
        });
    if fixed.is_some() && net_id.is_none() {
        return Err(bad("fixed_ips needs net_id"));
    }
    let pid = c.store.write(|db| {
        let s = db
            .servers
            .mine(&r.ctx, &id)
            .cloned()
            .ok_or_else(|| server_not_found(&id))?;
        check_state(&s, "attach_interface")?;
        let owner = format!("compute:{}", s.availability_zone);
        let (pid, created) = match (port_id, net_id) {
            (Some(pid), _) => {
                let p = db.ports.mine_mut(&r.ctx, &pid).ok_or_else(|| {
                    ApiError::not_found(S, format!("Port {pid} could not be found."))
                })?;
                if !p.device_id.is_empty() {
                    return Err(ApiError::conflict(
                        S,
                        format!("Port {pid} is still in use."),
                    ));
                }
                p.device_id = id.clone();
                p.device_owner = owner;
                p.status = NetStatus::Active;
                (pid, false)
            }
            (None, net) => {
                let nid = match net {
                    Some(n) => n,
                    None => {
                        let own: Vec<String> = db
                            .networks
                            .all_mine(&r.ctx)
                            .filter(|n| !n.external)
                            .map(|n| n.id.clone())
                            .collect();
                        match own.as_slice() {
                            [one] => one.clone(),
                            _ => return Err(bad("Must input network_id or port_id")),
                        }
                    }
                };
                let visible = db
                    .networks
                    .get(&nid)
                    .is_some_and(|n| (r.ctx.reaches(n) || n.shared) && !n.external);
                if !visible {
                    return Err(ApiError::not_found(
                        S,
                        format!("Network {nid} could not be found."),
                    ));
                }
                // The server's security groups, as Nova gives a port it makes.
                neutron::ensure_default_sg(db, &s.project_id);
                let sgs: Vec<String> = s
                    .security_groups
                    .iter()
                    .filter_map(|n| {
                        db.security_groups
                            .values()
                            .find(|g| g.project_id == s.project_id && (g.name == *n || g.id == *n))
                            .map(|g| g.id.clone())
                    })
                    .collect();
                let sgs = (!sgs.is_empty()).then_some(sgs);
                let p = neutron::new_port(db, &s.project_id, &nid, fixed, &id, &owner, sgs, "")
                    .map_err(|e| {
                        if e.kind == "OverQuota" {
                            ApiError::forbidden(S, "Maximum number of ports exceeded")
                        } else {
                            ApiError { service: S, ..e }
                        }
                    })?;
                (p.id, true)
            }
        };
        if let Some(s) = db.servers.get_mut(&id) {
            s.ports.push(pid.clone());
            if created {
                s.nova_ports.push(pid.clone());
            }
            s.updated = now();
        }
        record(db, &id, &r.ctx, "attach_interface");
        Ok(pid)
    })?;
    // The interface is in the server's namespace when the call answers.
    c.net.sync().await;
    let v = c.store.read(|db| interface_view(db, &pid));
    Ok(versioned(&r, Json(json!({"interfaceAttachment": v}))))
}

pub(super) async fn detach_interface(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path((id, port)): Path<(String, String)>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    c.store.write(|db| {
        let s = db
            .servers
            .mine(&r.ctx, &id)
            .cloned()
            .ok_or_else(|| server_not_found(&id))?;
        check_state(&s, "detach_interface")?;
        if !s.ports.contains(&port) {
            return Err(interface_not_found(&id, &port));
        }
        if s.nova_ports.contains(&port) {
            neutron::remove_port(db, &port);
        } else if let Some(p) = db.ports.get_mut(&port) {
            p.device_id.clear();
            p.device_owner.clear();
            p.status = NetStatus::Down;
        }
        if let Some(s) = db.servers.get_mut(&id) {
            s.ports.retain(|p| *p != port);
            s.nova_ports.retain(|p| *p != port);
            s.updated = now();
        }
        record(db, &id, &r.ctx, "detach_interface");
        Ok(())
    })?;
    c.net.sync().await;
    Ok(versioned(&r, StatusCode::ACCEPTED))
}
