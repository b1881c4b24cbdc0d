//! HTTP handler of server create: request parsing (block devices, networks) and the create.

use super::*;

pub(super) const CREATE_SCHEMA: Schema = Schema {
    service: S,
    wrapper: Some("server"),
    fields: &[
        req("name", Ty::Str),
        req("flavorRef", Ty::Any),
        opt("imageRef", Ty::Str),
        opt("key_name", Ty::Str),
        opt("user_data", Ty::OptStr),
        opt("availability_zone", Ty::Str),
        opt("networks", Ty::Any),
        opt("security_groups", Ty::Arr),
        opt("block_device_mapping_v2", Ty::Arr),
        opt("block_device_mapping", Ty::Arr),
        opt("metadata", Ty::Obj),
        opt("config_drive", Ty::Any),
        opt("adminPass", Ty::Str),
        opt("accessIPv4", Ty::Str),
        opt("accessIPv6", Ty::Str),
        opt("personality", Ty::Arr),
        opt("min_count", Ty::IntLike),
        opt("max_count", Ty::IntLike),
        opt("return_reservation_id", Ty::BoolLike),
        opt("description", Ty::OptStr),
        opt("tags", Ty::Arr),
        opt("trusted_image_certificates", Ty::Any),
        opt("host", Ty::Str),
        opt("hypervisor_hostname", Ty::Str),
        opt("hostname", Ty::Str),
        opt("OS-DCF:diskConfig", Ty::Str),
    ],
    additional: false,
    siblings: &["os:scheduler_hints", "OS-SCH-HNT:scheduler_hints"],
};

pub(super) struct Bdm {
    pub(super) source_type: String,
    pub(super) destination_type: String,
    pub(super) uuid: Option<String>,
    pub(super) boot_index: Option<i64>,
    pub(super) volume_size: Option<i64>,
    pub(super) delete_on_termination: bool,
    pub(super) volume_type: Option<String>,
}

pub(super) fn parse_bdms(v: Option<&Value>) -> ApiResult<Vec<Bdm>> {
    let Some(v) = v else { return Ok(vec![]) };
    let arr = v.as_array().ok_or_else(|| {
        bad("Invalid input for field/attribute block_device_mapping_v2: not an array")
    })?;
    let allowed = [
        "source_type",
        "destination_type",
        "uuid",
        "boot_index",
        "volume_size",
        "delete_on_termination",
        "volume_type",
        "device_name",
        "guest_format",
        "disk_bus",
        "device_type",
        "tag",
        "no_device",
        "volume_id",
        "snapshot_id",
        "image_id",
        "connection_info",
        "encrypted",
        "encryption_secret_uuid",
        "encryption_format",
        "encryption_options",
    ];
    arr.iter()
        .map(|b| {
            let o = b.as_object().ok_or_else(|| bad(format!("Invalid input for field/attribute block_device_mapping_v2. Value: {b}. {b} is not of type 'object'")))?;
            for k in o.keys() {
                if !allowed.contains(&k.as_str()) {
                    return Err(bad(format!("Invalid input for field/attribute block_device_mapping_v2. Value: {b}. Additional properties are not allowed ('{k}' was unexpected)")));
                }
            }
            let source_type = o.get("source_type").and_then(Value::as_str).ok_or_else(|| bad(format!("Invalid input for field/attribute block_device_mapping_v2. Value: {b}. 'source_type' is a required property")))?.to_owned();
            if !["image", "volume", "snapshot", "blank"].contains(&source_type.as_str()) {
                return Err(bad(format!("Invalid input for field/attribute source_type. Value: {source_type}. '{source_type}' is not one of ['volume', 'image', 'snapshot', 'blank']")));
            }
            let destination_type = o.get("destination_type").and_then(Value::as_str).unwrap_or(if source_type == "volume" { "volume" } else { "local" }).to_owned();
            let boot_index = match o.get("boot_index") {
                None | Some(Value::Null) => None,
                Some(v) => Some(body::int_like(v).ok_or_else(|| bad(format!("Invalid input for field/attribute boot_index. Value: {v}. {v} is not of type 'integer', 'string'")))?),
            };
            let volume_size = match o.get("volume_size") {
                None | Some(Value::Null) => None,
                Some(v) => Some(body::int_like(v).ok_or_else(|| bad(format!("Invalid input for field/attribute volume_size. Value: {v}. {v} is not of type 'integer', 'string'")))?),
            };
            Ok(Bdm {
                uuid: o.get("uuid").and_then(Value::as_str).map(str::to_owned),
                source_type,
                destination_type,
                boot_index,
                volume_size,
                delete_on_termination: o.get("delete_on_termination").and_then(body::bool_like).unwrap_or(false),
                volume_type: o.get("volume_type").and_then(Value::as_str).map(str::to_owned),
            })
        })
        .collect()
}

pub(super) enum NetReq {
    Auto,
    None,
    List(Vec<(Option<String>, Option<String>, Option<String>)>),
}

pub(super) fn parse_networks(v: Option<&Value>, mv: (u32, u32)) -> ApiResult<NetReq> {
    match v {
        None => {
            if mv >= (2, 37) {
                return Err(bad("Invalid input for field/attribute server. Value: {}. 'networks' is a required property"));
            }
            Ok(NetReq::Auto)
        }
        Some(Value::String(s)) if s == "auto" => Ok(NetReq::Auto),
        Some(Value::String(s)) if s == "none" => Ok(NetReq::None),
        Some(Value::Array(a)) => {
            let mut out = Vec::new();
            for n in a {
                let o = n.as_object().ok_or_else(|| bad(format!("Invalid input for field/attribute networks. Value: {n}. {n} is not of type 'object'")))?;
                for k in o.keys() {
                    if !["uuid", "port", "fixed_ip", "tag"].contains(&k.as_str()) {
                        return Err(bad(format!("Invalid input for field/attribute networks. Value: {n}. Additional properties are not allowed ('{k}' was unexpected)")));
                    }
                }
                let s = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_owned);
                if s("uuid").is_none() && s("port").is_none() {
                    return Err(bad("Bad networks format: network uuid is not in proper format (None)"));
                }
                out.push((s("uuid"), s("port"), s("fixed_ip")));
            }
            Ok(NetReq::List(out))
        }
        Some(other) => Err(bad(format!("Invalid input for field/attribute networks. Value: {other}. {other} is not valid under any of the given schemas"))),
    }
}

pub(super) async fn create_server(
    State(c): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let m = body::check(&CREATE_SCHEMA, body::parse_json(S, &bytes)?)?;
    let group = hinted_group(&c, &r.ctx, &bytes)?;
    let mut no_host = false;
    let name = get_str(&m, "name").unwrap_or_default();
    if name.trim().is_empty() || name.len() > 255 {
        return Err(bad(format!("Invalid input for field/attribute name. Value: {name}. '{name}' does not match '^(?! )[a-zA-Z0-9. _-]*(?<! )$'")));
    }
    let flavor_ref = match m.get("flavorRef") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(v) => return Err(bad(format!("Invalid input for field/attribute flavorRef. Value: {v}. {v} is not of type 'string', 'integer'"))),
        None => String::new(),
    };
    let (flavor, zones) = c
        .store
        .read(|db| (find_flavor(db, &r.ctx, &flavor_ref), util::zones(db)));
    let flavor = flavor.ok_or_else(|| bad("Invalid flavorRef provided."))?;
    let user_data = match get_str(&m, "user_data") {
        None => None,
        Some(ud) => {
            if ud.len() > MAX_USER_DATA {
                return Err(bad(format!(
                    "Invalid input for field/attribute user_data. Value: {}…. is too long",
                    &ud.chars().take(20).collect::<String>()
                )));
            }
            let clean: String = ud.chars().filter(|ch| !ch.is_whitespace()).collect();
            base64::engine::general_purpose::STANDARD.decode(&clean).map_err(|_| bad(format!("Invalid input for field/attribute user_data. Value: {}. '{}' is not a 'base64'", ud.chars().take(40).collect::<String>(), ud.chars().take(40).collect::<String>())))?;
            Some(clean)
        }
    };
    let az = get_str(&m, "availability_zone")
        .or_else(|| zones.first().cloned())
        .unwrap_or_default();
    let az = az.split(':').next().unwrap_or("").to_owned();
    if !zones.contains(&az) {
        return Err(bad(
            "The requested availability zone is not available".to_string()
        ));
    }
    let metadata = get_str_map(&m, "metadata", S)?;
    let bdms = parse_bdms(m.get("block_device_mapping_v2"))?;
    let nets = parse_networks(m.get("networks"), r.mv)?;
    let sg_names: Vec<String> = match m.get("security_groups") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|g| g.get("name").and_then(Value::as_str).map(str::to_owned).ok_or_else(|| bad(format!("Invalid input for field/attribute security_groups. Value: {g}. 'name' is a required property"))))
            .collect::<ApiResult<_>>()?,
        _ => vec!["default".into()],
    };
    let key_name = get_str(&m, "key_name");
    let image_ref = get_str(&m, "imageRef").filter(|s| !s.is_empty());
    let count = crate::util::get_int(&m, "min_count").unwrap_or(1);
    if count != 1 || crate::util::get_int(&m, "max_count").unwrap_or(1) != 1 {
        return Err(bad(
            "localcloud creates one server per request: min_count and max_count must be 1",
        ));
    }
    let server_id = new_id();
    let ctx = r.ctx.clone();
    let tags = util::get_str_list(&m, "tags");
    let config_drive = match m.get("config_drive") {
        Some(v) if body::bool_like(v) == Some(true) => "True".to_owned(),
        _ => String::new(),
    };

    let fault = c.cfg.faults.server_create;
    if fault == Some(crate::ServerCreateFault::Reject) {
        return Err(ApiError::internal(
            S,
            "server create refused by the fault injection `Faults::server_create = Reject`",
        ));
    }
    let created = c.store.write(|db| -> ApiResult<Server> {
        // Nova's quotas on instances, cores and RAM, under the same lock as the insert.
        check_server(db, &ctx.project_id, &flavor)?;
        // Key pair.
        let mut public_keys = vec![];
        if let Some(k) = &key_name {
            let kp = db.keypairs.get(&key_id(&ctx.user_id, k)).ok_or_else(|| bad("Invalid key_name provided.".to_string()))?;
            public_keys.push(kp.public_key.clone());
        }
        // Boot source.
        let boot_bdm = bdms.iter().find(|b| b.boot_index == Some(0)).or_else(|| if bdms.len() == 1 && image_ref.is_none() { bdms.first() } else { None });
        let mut image_id = None;
        if let Some(iid) = &image_ref {
            let img = db.images.get(iid).filter(|i| crate::access::image_visible(i, &ctx)).ok_or_else(|| bad(format!("Image {iid} could not be found.")))?;
            if img.status != ImageStatus::Active {
                return Err(bad(format!("Image {iid} is not active.")));
            }
            let boots_from_volume = boot_bdm.is_some_and(|b| b.destination_type == "volume");
            if !boots_from_volume {
                let disk_bytes = flavor.disk << 30;
                if img.min_disk > 0 && u64::try_from(img.min_disk).unwrap_or(0) > flavor.disk {
                    return Err(bad("Flavor's disk is too small for requested image. Flavor disk is {disk_bytes} bytes, image is {img_bytes} bytes.".replace("{disk_bytes}", &disk_bytes.to_string()).replace("{img_bytes}", &(u64::try_from(img.min_disk).unwrap_or(0) << 30).to_string())));
                }
                if img.size.is_some_and(|s| s > disk_bytes) {
                    return Err(bad(format!("Flavor's disk is too small for requested image. Flavor disk is {disk_bytes} bytes, image is {} bytes.", img.size.unwrap_or(0))));
                }
                if u64::try_from(img.min_ram).unwrap_or(0) > flavor.ram {
                    return Err(bad("Flavor's memory is too small for requested image."));
                }
                image_id = Some(iid.clone());
            }
        }
        // Check volumes before creating anything.
        for b in &bdms {
            if b.source_type == "volume" {
                let vid = b.uuid.clone().ok_or_else(|| bad("Block Device Mapping is Invalid: volume source needs a uuid."))?;
                let v = db.volumes.mine(&ctx, &vid).ok_or_else(|| bad(format!("Block Device Mapping is Invalid: failed to get volume {vid}.")))?;
                if v.status != VolumeStatus::Available {
                    return Err(bad(format!("Invalid volume: volume '{vid}' status must be 'available'. Currently in '{}'", v.status)));
                }
            }
            if b.source_type == "image" && b.destination_type == "volume" && b.volume_size.unwrap_or(0) < 1 {
                return Err(bad("Images with destination_type 'volume' need to have a non-zero size specified"));
            }
            if b.source_type == "snapshot" {
                let sid = b.uuid.clone().unwrap_or_default();
                if db.snapshots.mine(&ctx, &sid).is_none() {
                    return Err(bad(format!("Block Device Mapping is Invalid: failed to get snapshot {sid}.")));
                }
                if b.destination_type != "volume" {
                    return Err(bad("Block Device Mapping is Invalid: localcloud boots snapshots only as volumes (destination_type 'volume')."));
                }
            }
        }
        if image_id.is_none() && !bdms.iter().any(|b| b.boot_index == Some(0) || bdms.len() == 1) {
            return Err(bad("Block Device Mapping is Invalid: Boot sequence for the instance and image/block device mapping combination is not valid."));
        }
        // Security groups by name (or id) in the project.
        neutron::ensure_default_sg(db, &ctx.project_id);
        let mut sg_ids = Vec::new();
        for n in &sg_names {
            let g = db.security_groups.all_mine(&ctx).find(|g| g.name == *n || g.id == *n).ok_or_else(|| bad(format!("Security group {n} not found for project {}.", ctx.project_id)))?;
            sg_ids.push(g.id.clone());
        }
        // Networks → ports (undone on any later failure).
        let mut created_ports: Vec<String> = Vec::new();
        let mut user_ports: Vec<String> = Vec::new();
        let undo_ports = |db: &mut Db, created: &[String], user: &[String]| {
            for p in created {
                neutron::remove_port(db, p);
            }
            for p in user {
                if let Some(port) = db.ports.get_mut(p) {
                    port.device_id.clear();
                    port.device_owner.clear();
                    port.status = NetStatus::Down;
                }
            }
        };
        let plan: Vec<(Option<String>, Option<String>, Option<String>)> = match nets {
            NetReq::None => vec![],
            NetReq::List(l) => l,
            NetReq::Auto => {
                let own: Vec<String> = db.networks.all_mine(&ctx).filter(|n| !n.external).map(|n| n.id.clone()).collect();
                match own.len() {
                    0 => vec![],
                    1 => vec![(own.first().cloned(), None, None)],
                    _ => return Err(ApiError::conflict(S, "Multiple possible networks found, use a Network ID to be more specific.")),
                }
            }
        };
        for (net, port, fixed) in plan {
            let result = if let Some(pid) = port {
                match db.ports.mine_mut(&ctx, &pid) {
                    None => Err(ApiError::not_found(S, format!("Port id {pid} could not be found."))),
                    Some(p) if !p.device_id.is_empty() => Err(ApiError::conflict(S, format!("Port {pid} is still in use."))),
                    Some(p) => {
                        p.device_id = server_id.clone();
                        p.device_owner = format!("compute:{az}");
                        p.status = NetStatus::Active;
                        user_ports.push(pid.clone());
                        Ok(())
                    }
                }
            } else {
                let nid = net.unwrap_or_default();
                let visible = db.networks.get(&nid).is_some_and(|n| (ctx.reaches(n) || n.shared) && !n.external);
                if !visible {
                    Err(bad(format!("Network {nid} could not be found.")))
                } else {
                    let fixed = fixed.map(|f| vec![(None, Some(f))]);
                    neutron::new_port(db, &ctx.project_id, &nid, fixed, &server_id, &format!("compute:{az}"), Some(sg_ids.clone()), "")
                        .map(|p| created_ports.push(p.id))
                        .map_err(|e| {
                            // Nova's answer when Neutron's port quota refuses the port.
                            if e.kind == "OverQuota" {
                                ApiError::forbidden(S, "Maximum number of ports exceeded")
                            } else {
                                ApiError { service: S, ..e }
                            }
                        })
                }
            };
            if let Err(e) = result {
                undo_ports(db, &created_ports, &user_ports);
                return Err(e);
            }
        }
        // Volumes: existing ones attach, image/blank/snapshot ones are created.
        let mut volumes: Vec<ServerVolume> = Vec::new();
        let mut made_volumes: Vec<String> = Vec::new();
        // An image-booted server's root disk is `/dev/vda`, though no volume holds it.
        let mut letter = if image_id.is_some() { b'b' } else { b'a' };
        for b in &bdms {
            if b.destination_type != "volume" {
                continue;
            }
            let vid = match b.source_type.as_str() {
                "volume" => b.uuid.clone().unwrap_or_default(),
                "image" | "blank" | "snapshot" => {
                    let from_snapshot = b.source_type == "snapshot";
                    let p = NewVolume {
                        // From a snapshot: its size unless the mapping gives one (0 counts as
                        // none, as in Nova).
                        size: if from_snapshot { b.volume_size.filter(|s| *s != 0) } else { b.volume_size },
                        name: Some(String::new()),
                        description: None,
                        volume_type: b.volume_type.clone(),
                        // Nova passes no zone for a snapshot (cross_az_attach): the volume stays
                        // in the snapshot's zone.
                        availability_zone: if from_snapshot { None } else { Some(az.clone()) },
                        image_id: if b.source_type == "image" { b.uuid.clone() } else { None },
                        source_volid: None,
                        snapshot_id: if from_snapshot { b.uuid.clone() } else { None },
                        metadata: BTreeMap::new(),
                    };
                    match cinder::new_volume(db, S, &ctx, p, VolumeStatus::InUse) {
                        Ok(v) => {
                            made_volumes.push(v.id.clone());
                            v.id
                        }
                        Err(e) => {
                            undo_ports(db, &created_ports, &user_ports);
                            for v in &made_volumes {
                                db.volumes.remove(v);
                            }
                            return Err(e);
                        }
                    }
                }
                _ => continue,
            };
            let device = format!("/dev/vd{}", char::from(letter));
            letter = letter.saturating_add(1);
            let att_id = new_id();
            if let Some(v) = db.volumes.get_mut(&vid) {
                v.status = VolumeStatus::InUse;
                v.attachments = vec![VolumeAttachment { id: att_id.clone(), server_id: server_id.clone(), device: device.clone(), attached_at: util::now_micro() }];
            }
            volumes.push(ServerVolume { volume_id: vid, attachment_id: att_id, device, delete_on_termination: b.delete_on_termination });
        }
        let t = now();
        let mut ports = user_ports.clone();
        ports.extend(created_ports.iter().cloned());
        let s = Server {
            id: server_id.clone(),
            project_id: ctx.project_id.clone(),
            user_id: ctx.user_id.clone(),
            name: name.clone(),
            status: ServerStatus::Build,
            task_state: Some("spawning".into()),
            vm_state: "building".into(),
            power_state: 0,
            flavor_id: flavor.id.clone(),
            flavor: Some(flavor.clone()),
            old_flavor: None,
            locked: false,
            locked_reason: None,
            old_flavor_id: None,
            image_id,
            key_name: key_name.clone(),
            security_groups: sg_names.clone(),
            metadata: metadata.clone(),
            availability_zone: az.clone(),
            user_data: user_data.clone(),
            config_drive: config_drive.clone(),
            ports,
            nova_ports: created_ports,
            volumes,
            fault: None,
            tags: tags.clone(),
            created: t.clone(),
            updated: t,
            launched_at: None,
            host_status: "UP".into(),
            public_keys,
        };
        db.servers.insert(s.id.clone(), s.clone());
        record(db, &s.id, &ctx, "create");
        if let Some(g) = &group {
            if !join_group(db, g, &s.id) {
                no_host = true;
            }
        }
        Ok(s)
    })?;
    if fault == Some(crate::ServerCreateFault::NoValidHost) || no_host {
        // The scheduler found no host: the server goes to ERROR without booting.
        c.store.write(|db| {
            if let Some(s) = db.servers.get_mut(&created.id) {
                s.status = ServerStatus::Error;
                s.vm_state = "error".into();
                s.task_state = None;
                s.fault = Some(Fault {
                    code: 500,
                    message: "No valid host was found. ".into(),
                    created: now(),
                });
            }
        });
    } else {
        spawn_boot(&c, &created.id, None);
    }
    let body = w::ServerCreateResponse {
        server: w::CreatedServer {
            id: created.id.clone(),
            links: server_links(&c, &created.id),
            disk_config: Some("MANUAL".into()),
            security_groups: Some(
                created
                    .security_groups
                    .iter()
                    .map(|n| NameRef { name: n.clone() })
                    .collect(),
            ),
            admin_pass: Some(keystone_like_password().into()),
        },
    };
    let mut resp = versioned(&r, (StatusCode::ACCEPTED, Json(body)));
    if let Ok(h) = HeaderValue::from_str(&c.url(&format!("/compute/v2.1/servers/{}", created.id))) {
        resp.headers_mut().insert(header::LOCATION, h);
    }
    Ok(resp)
}
