//! The compute host as admins see it: `os-hosts`, `os-hypervisors` (the machine's CPUs, memory
//! and disk beside what the servers' flavors take), host aggregates, `os-migrations` (the
//! resizes, from the instance actions), and a server's diagnostics and NUMA topology.
//!
//! localcloud is one compute host, [`COMPUTE_HOST`], running every server.

use super::*;
use crate::model_extra::Aggregate;

/// The name of localcloud's one compute host (Nova's `host` of its compute service).
pub(crate) const COMPUTE_HOST: &str = "localcloud";
/// The hypervisor's UUID (microversion 2.53 and later), stable across restarts.
fn hypervisor_uuid() -> String {
    stable_uuid("localcloud-hypervisor")
}

pub(super) fn admin_only(r: &Req, rule: &str) -> ApiResult<()> {
    if r.ctx.is_admin() {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            S,
            format!("Policy doesn't allow os_compute_api:{rule} to be performed."),
        ))
    }
}

/// `GET /os-hosts`: the services of the host, as Nova lists them (deprecated in 2.43).
pub(super) async fn list_hosts(
    State(c): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    admin_only(&r, "os-hosts:list")?;
    let zone = c
        .store
        .read(|db| util::zones(db).first().cloned().unwrap_or_default());
    let hosts = json!([
        {"host_name": COMPUTE_HOST, "service": "conductor", "zone": "internal"},
        {"host_name": COMPUTE_HOST, "service": "scheduler", "zone": "internal"},
        {"host_name": COMPUTE_HOST, "service": "compute", "zone": zone},
    ]);
    Ok(versioned(&r, Json(json!({"hosts": hosts}))))
}

/// `GET /os-hosts/{host}`: the host's resources (total, used now, and the maximum).
pub(super) async fn show_host(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(host): Path<String>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    admin_only(&r, "os-hosts:show")?;
    if host != COMPUTE_HOST {
        return Err(ApiError::not_found(
            S,
            format!("Compute host {host} could not be found."),
        ));
    }
    let m = machine(&c);
    let used = c.store.read(used_by_servers);
    let row = |project: &str, cpu: u64, mem: u64, disk: u64| {
        json!({"resource": {"host": COMPUTE_HOST, "project": project, "cpu": cpu,
                            "memory_mb": mem, "disk_gb": disk}})
    };
    let list = vec![
        row("(total)", m.vcpus, m.memory_mb, m.disk_gb),
        row("(used_now)", used.vcpus, used.memory_mb, used.disk_gb),
        row("(used_max)", used.vcpus, used.memory_mb, used.disk_gb),
    ];
    Ok(versioned(&r, Json(json!({"host": list}))))
}

/// What the machine has.
struct Machine {
    vcpus: u64,
    memory_mb: u64,
    disk_gb: u64,
    free_disk_gb: u64,
}

fn machine(c: &Cloud) -> Machine {
    let vcpus = std::thread::available_parallelism()
        .map(|n| n.get() as u64)
        .unwrap_or(1);
    let memory_mb = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024);
    let (disk_gb, free_disk_gb) = match nix::sys::statvfs::statvfs(&c.cfg.data_dir) {
        Ok(st) => {
            let frag = st.fragment_size();
            let gib = 1u64 << 30;
            (
                st.blocks().saturating_mul(frag) / gib,
                st.blocks_available().saturating_mul(frag) / gib,
            )
        }
        Err(_) => (0, 0),
    };
    Machine {
        vcpus,
        memory_mb,
        disk_gb,
        free_disk_gb,
    }
}

struct Used {
    vcpus: u64,
    memory_mb: u64,
    disk_gb: u64,
    servers: u64,
}

fn used_by_servers(db: &Db) -> Used {
    let mut u = Used {
        vcpus: 0,
        memory_mb: 0,
        disk_gb: 0,
        servers: 0,
    };
    for s in db.servers.values() {
        u.servers += 1;
        if let Some(f) = server_flavor(db, s) {
            u.vcpus += u64::from(f.vcpus);
            u.memory_mb += f.ram;
            u.disk_gb += f.disk;
        }
    }
    u
}

fn hypervisor_json(c: &Cloud, db: &Db, mv: (u32, u32), detail: bool) -> Value {
    let id = if mv >= (2, 53) {
        json!(hypervisor_uuid())
    } else {
        json!(1)
    };
    let mut o = json!({"id": id, "hypervisor_hostname": COMPUTE_HOST, "state": "up",
                       "status": "enabled"});
    if detail {
        let m = machine(c);
        let used = used_by_servers(db);
        let service_id = if mv >= (2, 53) {
            json!(stable_uuid("localcloud-compute-service"))
        } else {
            json!(1)
        };
        let cpu_info = json!({"arch": std::env::consts::ARCH, "vendor": "", "model": "",
                              "topology": {"cells": 1, "sockets": 1, "cores": m.vcpus, "threads": 1},
                              "features": []});
        let extra = json!({
            "hypervisor_type": c.hv.name(),
            "hypervisor_version": 1,
            "host_ip": "127.0.0.1",
            "service": {"host": COMPUTE_HOST, "id": service_id, "disabled_reason": null},
            "vcpus": m.vcpus,
            "vcpus_used": used.vcpus,
            "memory_mb": m.memory_mb,
            "memory_mb_used": used.memory_mb,
            "free_ram_mb": i128::from(m.memory_mb) - i128::from(used.memory_mb),
            "local_gb": m.disk_gb,
            "local_gb_used": used.disk_gb,
            "free_disk_gb": i128::from(m.disk_gb) - i128::from(used.disk_gb),
            "disk_available_least": m.free_disk_gb,
            "running_vms": used.servers,
            "current_workload": 0,
            "cpu_info": if mv >= (2, 28) { cpu_info } else { json!(cpu_info.to_string()) },
        });
        if let (Some(o), Some(e)) = (o.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
    }
    o
}

fn find_hypervisor(id: &str) -> ApiResult<()> {
    if id == "1" || id == hypervisor_uuid() || id == COMPUTE_HOST {
        Ok(())
    } else {
        Err(ApiError::not_found(
            S,
            format!("Hypervisor with ID {id} could not be found."),
        ))
    }
}

#[derive(serde::Deserialize)]
pub(super) struct HypervisorQuery {
    hypervisor_hostname_pattern: Option<String>,
}

fn hypervisor_list(
    c: &Cloud,
    headers: &HeaderMap,
    q: &HypervisorQuery,
    detail: bool,
) -> ApiResult<Response> {
    let r = req_ctx(c, headers)?;
    admin_only(&r, "os-hypervisors:list")?;
    let matches = q
        .hypervisor_hostname_pattern
        .as_deref()
        .is_none_or(|p| COMPUTE_HOST.contains(p));
    let list: Vec<Value> = if matches {
        vec![c.store.read(|db| hypervisor_json(c, db, r.mv, detail))]
    } else {
        vec![]
    };
    Ok(versioned(&r, Json(json!({"hypervisors": list}))))
}

pub(super) async fn list_hypervisors(
    State(c): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HypervisorQuery>,
) -> ApiResult<Response> {
    hypervisor_list(&c, &headers, &q, false)
}

pub(super) async fn list_hypervisors_detail(
    State(c): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HypervisorQuery>,
) -> ApiResult<Response> {
    hypervisor_list(&c, &headers, &q, true)
}

pub(super) async fn show_hypervisor(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    admin_only(&r, "os-hypervisors:show")?;
    find_hypervisor(&id)?;
    let h = c.store.read(|db| hypervisor_json(&c, db, r.mv, true));
    Ok(versioned(&r, Json(json!({"hypervisor": h}))))
}

/// `GET /os-hypervisors/{id}/uptime`: the machine's, in `uptime`'s words.
pub(super) async fn hypervisor_uptime(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    admin_only(&r, "os-hypervisors:uptime")?;
    find_hypervisor(&id)?;
    let secs = std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|t| {
            t.split_whitespace()
                .next()
                .and_then(|s| s.parse::<f64>().ok())
        })
        .unwrap_or(0.0) as u64;
    let load: Vec<String> = std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .map(str::to_owned)
        .collect();
    let (days, hours, mins) = (secs / 86400, (secs % 86400) / 3600, (secs % 3600) / 60);
    let up = if days > 0 {
        format!("{days} days, {hours}:{mins:02}")
    } else {
        format!("{hours}:{mins:02}")
    };
    let uptime = format!(
        " {} up {up},  0 users,  load average: {}",
        chrono::Utc::now().format("%H:%M:%S"),
        load.join(", ")
    );
    let h = json!({"id": if r.mv >= (2, 53) { json!(hypervisor_uuid()) } else { json!(1) },
                   "hypervisor_hostname": COMPUTE_HOST, "state": "up", "status": "enabled",
                   "uptime": uptime});
    Ok(versioned(&r, Json(json!({"hypervisor": h}))))
}

pub(super) async fn hypervisor_statistics(
    State(c): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    admin_only(&r, "os-hypervisors:statistics")?;
    let h = c.store.read(|db| hypervisor_json(&c, db, (2, 1), true));
    let mut stats = json!({"count": 1});
    for k in [
        "vcpus",
        "vcpus_used",
        "memory_mb",
        "memory_mb_used",
        "free_ram_mb",
        "local_gb",
        "local_gb_used",
        "free_disk_gb",
        "disk_available_least",
        "running_vms",
        "current_workload",
    ] {
        stats[k] = h.get(k).cloned().unwrap_or(json!(0));
    }
    Ok(versioned(&r, Json(json!({"hypervisor_statistics": stats}))))
}

// Aggregates.

fn aggregate_json(a: &Aggregate) -> Value {
    let mut meta = a.metadata.clone();
    if let Some(z) = &a.availability_zone {
        meta.insert("availability_zone".into(), z.clone());
    }
    json!({"id": a.id, "uuid": a.uuid, "name": a.name, "availability_zone": a.availability_zone,
           "hosts": a.hosts, "metadata": meta, "created_at": a.created_at,
           "updated_at": a.updated_at, "deleted": false, "deleted_at": null})
}

fn aggregate_not_found(id: &str) -> ApiError {
    ApiError::not_found(S, format!("Aggregate {id} could not be found."))
}

fn find_aggregate<'a>(db: &'a Db, id: &str) -> Option<&'a Aggregate> {
    db.extra
        .aggregates
        .values()
        .find(|a| a.id.to_string() == id || a.uuid == id)
}

fn aggregate_key(db: &Db, id: &str) -> ApiResult<String> {
    find_aggregate(db, id)
        .map(|a| a.id.to_string())
        .ok_or_else(|| aggregate_not_found(id))
}

/// A name or zone as Nova's schema takes them: 1 to 255 characters, not only blanks.
fn agg_name(field: &str, v: &Value) -> ApiResult<String> {
    match v {
        Value::String(s)
            if !s.trim().is_empty() && s.chars().count() <= 255 && !s.contains('\0') =>
        {
            Ok(s.clone())
        }
        _ => Err(bad(format!(
            "Invalid input for field/attribute {field}. Value: {v}. {v} is not valid"
        ))),
    }
}

fn agg_body<'a>(v: &'a Value, key: &str) -> ApiResult<&'a Map<String, Value>> {
    v.get(key).and_then(Value::as_object).ok_or_else(|| {
        bad(format!(
            "Invalid input for field/attribute {key}. '{key}' is a required property"
        ))
    })
}

/// Nova refuses a zone change while the aggregate's hosts are in another zone's aggregate;
/// with one host, that is any other aggregate with hosts and a different zone.
fn zone_conflict(db: &Db, key: &str, hosts: &[String], zone: Option<&str>) -> bool {
    let Some(zone) = zone else { return false };
    db.extra.aggregates.iter().any(|(k, other)| {
        k != key
            && other
                .availability_zone
                .as_deref()
                .is_some_and(|z| z != zone)
            && other.hosts.iter().any(|h| hosts.contains(h))
    })
}

pub(super) async fn list_aggregates(
    State(c): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    admin_only(&r, "os-aggregates:index")?;
    let list: Vec<Value> = c.store.read(|db| {
        let mut v: Vec<&Aggregate> = db.extra.aggregates.values().collect();
        v.sort_by_key(|a| a.id);
        v.into_iter().map(aggregate_json).collect()
    });
    Ok(versioned(&r, Json(json!({"aggregates": list}))))
}

pub(super) async fn create_aggregate(
    State(c): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    admin_only(&r, "os-aggregates:create")?;
    let v = body::parse_json(S, &bytes)?;
    let m = agg_body(&v, "aggregate")?;
    let name = agg_name("name", m.get("name").unwrap_or(&Value::Null))?;
    let zone = match m.get("availability_zone") {
        None | Some(Value::Null) => None,
        Some(z) => Some(agg_name("availability_zone", z)?),
    };
    let a = c.store.write(|db| {
        if db.extra.aggregates.values().any(|a| a.name == name) {
            return Err(ApiError::conflict(
                S,
                format!("Aggregate {name} already exists."),
            ));
        }
        db.extra.next_aggregate_id = db.extra.next_aggregate_id.max(0) + 1;
        let a = Aggregate {
            id: db.extra.next_aggregate_id,
            uuid: new_id(),
            name: name.clone(),
            availability_zone: zone.clone(),
            hosts: vec![],
            metadata: BTreeMap::new(),
            created_at: util::now_micro(),
            updated_at: None,
        };
        db.extra.aggregates.insert(a.id.to_string(), a.clone());
        Ok(a)
    })?;
    let mut out = aggregate_json(&a);
    if let Some(o) = out.as_object_mut() {
        // Nova's create answer has neither hosts nor metadata.
        o.remove("hosts");
        o.remove("metadata");
    }
    Ok(versioned(&r, Json(json!({"aggregate": out}))))
}

pub(super) async fn show_aggregate(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    admin_only(&r, "os-aggregates:show")?;
    let a = c
        .store
        .read(|db| find_aggregate(db, &id).map(aggregate_json))
        .ok_or_else(|| aggregate_not_found(&id))?;
    Ok(versioned(&r, Json(json!({"aggregate": a}))))
}

pub(super) async fn update_aggregate(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    admin_only(&r, "os-aggregates:update")?;
    let v = body::parse_json(S, &bytes)?;
    let m = agg_body(&v, "aggregate")?;
    let name = match m.get("name") {
        None => None,
        Some(n) => Some(agg_name("name", n)?),
    };
    let zone = match m.get("availability_zone") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(z) => Some(Some(agg_name("availability_zone", z)?)),
    };
    if name.is_none() && zone.is_none() {
        return Err(bad(
            "Invalid input for field/attribute aggregate. Value: {}. {} does not have enough properties",
        ));
    }
    let a = c.store.write(|db| {
        let key = aggregate_key(db, &id)?;
        if let Some(n) = &name {
            if db
                .extra
                .aggregates
                .iter()
                .any(|(k, a)| k != &key && &a.name == n)
            {
                return Err(ApiError::conflict(
                    S,
                    format!("Aggregate {n} already exists."),
                ));
            }
        }
        let hosts = db
            .extra
            .aggregates
            .get(&key)
            .map(|a| a.hosts.clone())
            .unwrap_or_default();
        if let Some(z) = &zone {
            if zone_conflict(db, &key, &hosts, z.as_deref()) {
                return Err(bad(format!("Cannot update aggregate {id}. Reason: One or more hosts already in availability zone(s).")));
            }
        }
        let a = db
            .extra
            .aggregates
            .get_mut(&key)
            .ok_or_else(|| aggregate_not_found(&id))?;
        if let Some(n) = name {
            a.name = n;
        }
        if let Some(z) = zone {
            a.availability_zone = z;
        }
        a.updated_at = Some(util::now_micro());
        Ok(aggregate_json(a))
    })?;
    Ok(versioned(&r, Json(json!({"aggregate": a}))))
}

pub(super) async fn delete_aggregate(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    admin_only(&r, "os-aggregates:delete")?;
    c.store.write(|db| {
        let key = aggregate_key(db, &id)?;
        if db
            .extra
            .aggregates
            .get(&key)
            .is_some_and(|a| !a.hosts.is_empty())
        {
            return Err(bad(format!(
                "Cannot remove aggregate {id}. Reason: Host aggregate is not empty."
            )));
        }
        db.extra.aggregates.remove(&key);
        Ok(())
    })?;
    Ok(versioned(&r, StatusCode::OK))
}

/// `POST /os-aggregates/{id}/action`: `add_host`, `remove_host`, `set_metadata`.
pub(super) async fn aggregate_action(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let v = body::parse_json(S, &bytes)?;
    let obj = v
        .as_object()
        .filter(|o| o.len() == 1)
        .ok_or_else(|| bad("Malformed request body: an action body holds exactly one action"))?;
    let Some((action, arg)) = obj.iter().next() else {
        return Err(bad("Malformed request body"));
    };
    let a = match action.as_str() {
        "add_host" | "remove_host" => {
            admin_only(&r, &format!("os-aggregates:{action}"))?;
            let o = arg_obj(action, arg)?;
            let host = arg_str(action, o, "host")?;
            let add = action == "add_host";
            c.store.write(|db| {
                let key = aggregate_key(db, &id)?;
                if host != COMPUTE_HOST {
                    return Err(ApiError::not_found(
                        S,
                        format!("Compute host {host} could not be found."),
                    ));
                }
                let zone = db
                    .extra
                    .aggregates
                    .get(&key)
                    .and_then(|a| a.availability_zone.clone());
                if add && zone_conflict(db, &key, std::slice::from_ref(&host), zone.as_deref())
                {
                    return Err(ApiError::conflict(S, format!("Cannot add host to aggregate {id}. Reason: One or more hosts already in availability zone(s).")));
                }
                let a = db
                    .extra
                    .aggregates
                    .get_mut(&key)
                    .ok_or_else(|| aggregate_not_found(&id))?;
                let has = a.hosts.contains(&host);
                if add && has {
                    return Err(ApiError::conflict(
                        S,
                        format!("Aggregate {id} already has host {host}."),
                    ));
                }
                if !add && !has {
                    return Err(ApiError::not_found(
                        S,
                        format!("Cannot remove host {host} in aggregate {id}"),
                    ));
                }
                if add {
                    a.hosts.push(host.clone());
                } else {
                    a.hosts.retain(|h| h != &host);
                }
                a.updated_at = Some(util::now_micro());
                Ok(aggregate_json(a))
            })?
        }
        "set_metadata" => {
            admin_only(&r, "os-aggregates:set_metadata")?;
            let o = arg_obj(action, arg)?;
            let meta = o.get("metadata").and_then(Value::as_object).ok_or_else(|| {
                bad("Invalid input for field/attribute set_metadata. 'metadata' is a required property")
            })?;
            let mut changes: Vec<(String, Option<String>)> = Vec::new();
            for (k, v) in meta {
                if k.is_empty() || k.chars().count() > 255 {
                    return Err(bad(format!(
                        "Invalid input for field/attribute metadata. Value: {k}. is not valid"
                    )));
                }
                match v {
                    Value::Null => changes.push((k.clone(), None)),
                    Value::String(s) if s.chars().count() <= 255 => {
                        changes.push((k.clone(), Some(s.clone())))
                    }
                    other => {
                        return Err(bad(format!(
                        "Invalid input for field/attribute {k}. Value: {other}. {other} is not of type 'string', 'null'"
                    )))
                    }
                }
            }
            c.store.write(|db| {
                let key = aggregate_key(db, &id)?;
                let a = db
                    .extra
                    .aggregates
                    .get_mut(&key)
                    .ok_or_else(|| aggregate_not_found(&id))?;
                for (k, v) in changes {
                    if k == "availability_zone" {
                        a.availability_zone = v;
                        continue;
                    }
                    match v {
                        Some(v) => {
                            a.metadata.insert(k, v);
                        }
                        None => {
                            a.metadata.remove(&k);
                        }
                    }
                }
                a.updated_at = Some(util::now_micro());
                Ok::<_, ApiError>(aggregate_json(a))
            })?
        }
        other => return Err(bad(format!("There is no such action: {other}"))),
    };
    Ok(versioned(&r, Json(json!({"aggregate": a}))))
}

// Migrations: the resizes, from the servers' instance actions.

#[derive(serde::Deserialize)]
pub(super) struct MigrationQuery {
    limit: Option<String>,
    instance_uuid: Option<String>,
    migration_type: Option<String>,
    status: Option<String>,
}

pub(super) async fn list_migrations(
    State(c): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<MigrationQuery>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    admin_only(&r, "os-migrations:index")?;
    let limit = match &q.limit {
        None => None,
        Some(l) => Some(l.parse::<usize>().map_err(|_| {
            bad(format!(
                "Invalid input for query parameters limit. Value: {l}. '{l}' does not match '^[0-9]*$'"
            ))
        })?),
    };
    let mut list: Vec<Value> = c.store.read(|db| {
        let mut out = Vec::new();
        let mut n = 0i64;
        for (sid, actions) in &db.extra.instance_actions {
            let server = db.servers.get(sid);
            for (i, a) in actions.iter().enumerate() {
                if a.action != "resize" {
                    continue;
                }
                n += 1;
                let after = actions.get(i + 1..).unwrap_or_default();
                let end = after
                    .iter()
                    .find(|x| x.action == "confirmResize" || x.action == "revertResize");
                let status = match end.map(|x| x.action.as_str()) {
                    Some("confirmResize") => "confirmed",
                    Some(_) => "reverted",
                    None => match server.map(|s| s.status) {
                        Some(ServerStatus::Resize) => "migrating",
                        Some(ServerStatus::VerifyResize) => "finished",
                        _ => "confirmed",
                    },
                };
                out.push(json!({
                    "id": n, "uuid": stable_uuid(&a.request_id), "instance_uuid": sid,
                    "migration_type": "resize", "status": status,
                    "source_compute": COMPUTE_HOST, "dest_compute": COMPUTE_HOST,
                    "source_node": COMPUTE_HOST, "dest_node": COMPUTE_HOST,
                    "dest_host": "127.0.0.1", "source_region": c.cfg.region,
                    "dest_region": c.cfg.region,
                    "old_instance_type_id": null, "new_instance_type_id": null,
                    "created_at": a.start_time,
                    "updated_at": end.map_or(a.updated_at.clone(), |x| x.start_time.clone()),
                    "project_id": a.project_id, "user_id": a.user_id,
                }));
            }
        }
        out
    });
    list.retain(|m| {
        q.instance_uuid
            .as_deref()
            .is_none_or(|i| m["instance_uuid"] == i)
            && q.migration_type
                .as_deref()
                .is_none_or(|t| m["migration_type"] == t)
            && q.status.as_deref().is_none_or(|s| m["status"] == s)
    });
    // Newest first, as Nova lists them.
    list.reverse();
    if let Some(l) = limit {
        list.truncate(l);
    }
    Ok(versioned(&r, Json(json!({"migrations": list}))))
}

// A server's diagnostics and topology.

pub(super) async fn server_diagnostics(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    admin_only(&r, "os-server-diagnostics")?;
    let s = get_server(&c, &r.ctx, &id)?;
    let flavor = c.store.read(|db| server_flavor(db, &s).cloned());
    let running = c.hv.is_running(&id);
    let state = match s.status {
        ServerStatus::Paused | ServerStatus::Suspended => "paused",
        _ if running => "running",
        _ => "shutdown",
    };
    let uptime = s
        .launched_at
        .as_deref()
        .and_then(|l| chrono::NaiveDateTime::parse_from_str(l, "%Y-%m-%dT%H:%M:%S%.f").ok())
        .map_or(0, |t| {
            (chrono::Utc::now().naive_utc() - t).num_seconds().max(0)
        });
    let ram = flavor.as_ref().map_or(0, |f| f.ram);
    let body = if r.mv >= (2, 48) {
        json!({
            "state": state, "driver": c.hv.name(), "hypervisor": c.hv.name(),
            "hypervisor_os": std::env::consts::OS, "uptime": uptime,
            "config_drive": !s.config_drive.is_empty(),
            "num_cpus": flavor.as_ref().map_or(0, |f| f.vcpus),
            "num_nics": s.ports.len(), "num_disks": s.volumes.len(),
            "cpu_details": [], "nic_details": [], "disk_details": [],
            "memory_details": {"maximum": ram, "used": 0},
        })
    } else {
        json!({"driver": c.hv.name(), "state": state, "uptime": uptime, "memory": ram})
    };
    Ok(versioned(&r, Json(body)))
}

/// `GET /servers/{id}/topology` (2.78): a process VM has no NUMA topology, as a Nova server
/// without NUMA placement has none.
pub(super) async fn server_topology(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    if r.mv < (2, 78) {
        return Err(ApiError::not_found(S, "The resource could not be found."));
    }
    get_server(&c, &r.ctx, &id)?;
    Ok(versioned(
        &r,
        Json(json!({"nodes": [], "pagesize_kb": null})),
    ))
}
