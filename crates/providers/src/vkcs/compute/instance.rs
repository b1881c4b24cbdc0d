//! `vkcs_compute_instance`: planning (VK's CustomizeDiff), create, read, update, delete.

use super::*;

// --- plan customisation -------------------------------------------------------------------------

/// VK's CustomizeDiff and StateFuncs for instances.
pub(crate) fn plan_instance(
    req: &PlanRequest,
    planned: &mut Value,
    requires_replace: &mut Vec<Vec<PathStep>>,
) {
    // user_data: the state holds the SHA-1 hex of what was sent.
    if let Value::String(data) = req.config.get("user_data") {
        planned.set("user_data", vs(sha1_hex(data)));
    }
    // availability_zone: ForceNew through CustomizeDiff (the engine counts it only if it changes).
    if !req.prior.is_null() {
        requires_replace.push(attr_path("availability_zone"));
    }
    // An id and a name that name the same thing: setting one makes the other known only when it
    // is the same object as before.
    for (id, name) in [("flavor_id", "flavor_name"), ("image_id", "image_name")] {
        let (cid, cname) = (req.config.get(id), req.config.get(name));
        if !cid.is_null() && cname.is_null() {
            let same = !req.prior.is_null() && req.prior.get(id) == cid;
            planned.set(
                name,
                if same {
                    req.prior.get(name).clone()
                } else {
                    Value::Unknown
                },
            );
        } else if cid.is_null() && !cname.is_null() {
            let same = !req.prior.is_null() && req.prior.get(name) == cname;
            planned.set(
                id,
                if same {
                    req.prior.get(id).clone()
                } else {
                    Value::Unknown
                },
            );
        }
    }
    computed_blocks(req, planned, &["network"]);
    // boot_index: 0 when there is one block device, -1 otherwise (VK).
    if let Value::List(devices) = planned.get("block_device").clone() {
        let n = devices.len();
        let devices = devices
            .into_iter()
            .map(|mut d| {
                if d.get("boot_index").is_null() || d.get("boot_index").is_unknown() {
                    d.set("boot_index", Value::int(if n == 1 { 0 } else { -1 }));
                }
                d
            })
            .collect();
        planned.set("block_device", Value::List(devices));
    }
    if !req.prior.is_null() {
        if req.prior.get("metadata") != planned.get("metadata") {
            planned.set("all_metadata", Value::Unknown);
        }
        if req.prior.get("tags") != planned.get("tags") {
            planned.set("all_tags", Value::Unknown);
        }
        let sg_change = req.prior.get("security_groups") != planned.get("security_groups")
            || req.prior.get("security_group_ids") != planned.get("security_group_ids");
        if sg_change {
            if req.config.get("security_groups").is_null() {
                planned.set("security_groups", Value::Unknown);
            }
            if req.config.get("security_group_ids").is_null() {
                planned.set("security_group_ids", Value::Unknown);
            }
        }
    }
}

// --- instance -----------------------------------------------------------------------------------

/// The `POST /servers` body for an instance's configuration, with ids already resolved.
pub(crate) fn server_request(
    c: &Value,
    flavor_id: String,
    image_id: Option<String>,
    networks: Option<ServerNetworks>,
) -> Result<ServerCreateRequest, ProviderError> {
    let devices = blocks(c, "block_device");
    let n = devices.len();
    let mut bdm = Vec::with_capacity(n);
    for d in devices {
        let boot_index = match i(d, "boot_index") {
            Some(x) => x,
            None if n == 1 => 0,
            None => -1,
        };
        bdm.push(BlockDeviceMapping {
            boot_index: Some(boot_index),
            uuid: s(d, "uuid"),
            source_type: s(d, "source_type").unwrap_or_default(),
            destination_type: s(d, "destination_type"),
            volume_size: u64_arg(d, "volume_size")?,
            volume_type: s(d, "volume_type"),
            delete_on_termination: Some(b(d, "delete_on_termination").unwrap_or(false)),
            guest_format: s(d, "guest_format"),
            device_type: s(d, "device_type"),
            disk_bus: s(d, "disk_bus"),
            ..BlockDeviceMapping::default()
        });
    }
    // Booting from a volume: Nova wants an empty imageRef.
    let boots_from_volume = bdm
        .iter()
        .any(|d| d.boot_index == Some(0) && d.destination_type.as_deref() == Some("volume"));
    let image_ref = if boots_from_volume {
        Some(String::new())
    } else {
        image_id.or_else(|| {
            bdm.iter()
                .find(|d| d.boot_index == Some(0) && d.source_type == "image")
                .and_then(|d| d.uuid.clone())
        })
    };
    let mut groups: Vec<String> = strs(c, "security_groups");
    groups.extend(strs(c, "security_group_ids"));
    let user_data = match c.get("user_data").as_str() {
        Some(data) => {
            let encoded = base64::engine::general_purpose::STANDARD.encode(data.as_bytes());
            if encoded.len() > MAX_USER_DATA {
                return Err(ProviderError::new(format!(
                    "`user_data` is {} bytes once base64-encoded; Nova accepts at most {MAX_USER_DATA}",
                    encoded.len()
                )));
            }
            Some(encoded)
        }
        None => None,
    };
    let metadata = smap(c, "metadata");
    let personality: Vec<Personality> = blocks(c, "personality")
        .iter()
        .filter_map(|p| {
            Some(Personality {
                path: s(p, "file")?,
                contents: base64::engine::general_purpose::STANDARD
                    .encode(s(p, "content")?.as_bytes()),
            })
        })
        .collect();
    let hints = blocks(c, "scheduler_hints")
        .first()
        .and_then(|h| s(h, "group"))
        .map(|g| BTreeMap::from([("group".to_owned(), serde_json::Value::String(g))]));
    Ok(ServerCreateRequest {
        server: ServerCreate {
            name: s(c, "name").unwrap_or_default(),
            flavor_ref: flavor_id,
            image_ref,
            key_name: s(c, "key_pair"),
            security_groups: if groups.is_empty() {
                None
            } else {
                Some(groups.into_iter().map(|name| NameRef { name }).collect())
            },
            networks,
            availability_zone: s(c, "availability_zone"),
            metadata: if metadata.is_empty() {
                None
            } else {
                Some(metadata)
            },
            user_data,
            config_drive: b(c, "config_drive"),
            admin_pass: s(c, "admin_pass").map(Secret::new),
            block_device_mapping_v2: if bdm.is_empty() { None } else { Some(bdm) },
            personality: if personality.is_empty() {
                None
            } else {
                Some(personality)
            },
            ..ServerCreate::default()
        },
        scheduler_hints: hints,
    })
}

async fn resolve_flavor(vk: &Vkcs, c: &Value) -> Result<String, ProviderError> {
    if let Some(id) = s(c, "flavor_id") {
        return Ok(id);
    }
    let name = s(c, "flavor_name")
        .ok_or_else(|| ProviderError::new("set `flavor_id` or `flavor_name`"))?;
    let flavor = vk
        .client
        .compute()
        .find_flavor(&name)
        .await
        .map_err(os_err(format!("cannot find flavor `{name}`")))?;
    Ok(flavor.id)
}

async fn resolve_image(vk: &Vkcs, c: &Value) -> Result<Option<String>, ProviderError> {
    if let Some(id) = s(c, "image_id") {
        return Ok(Some(id));
    }
    let Some(name) = s(c, "image_name") else {
        return Ok(None);
    };
    let image = vk
        .client
        .image()
        .find_image(&name)
        .await
        .map_err(os_err(format!("cannot find image `{name}`")))?;
    Ok(Some(image.id))
}

async fn resolve_networks(vk: &Vkcs, c: &Value) -> Result<Option<ServerNetworks>, ProviderError> {
    if let Some(mode) = s(c, "network_mode") {
        return Ok(Some(ServerNetworks::Mode(mode)));
    }
    let mut out = Vec::new();
    for n in blocks(c, "network") {
        let mut uuid = s(n, "uuid");
        let port = s(n, "port");
        if uuid.is_none() && port.is_none() {
            if let Some(name) = s(n, "name") {
                let net = vk
                    .client
                    .network()
                    .find_network(&name)
                    .await
                    .map_err(os_err(format!("cannot find network `{name}`")))?;
                uuid = Some(net.id);
            }
        }
        out.push(ServerNetwork {
            uuid: if port.is_some() { None } else { uuid },
            port,
            fixed_ip: s(n, "fixed_ip_v4"),
            tag: None,
        });
    }
    Ok(if out.is_empty() {
        None
    } else {
        Some(ServerNetworks::List(out))
    })
}

pub(crate) async fn create_instance(vk: &Vkcs, req: &CreateRequest) -> Result<Value, ApplyError> {
    let c = &req.config;
    let flavor_id = resolve_flavor(vk, c).await?;
    let image_id = resolve_image(vk, c).await?;
    let networks = resolve_networks(vk, c).await?;
    let compute = vk.client.compute();
    let name = s(c, "name").unwrap_or_default();
    // A create repeated after a crash finds the server the first attempt made.
    let found = find_server_by_token(vk, &name, &req.token)
        .await
        .map_err(os_err(format!(
            "cannot look for server `{name}` of an earlier attempt"
        )))?;
    let server_id = match found {
        Some(id) => id,
        None => {
            let mut body = server_request(c, flavor_id, image_id, networks)?;
            body.server
                .metadata
                .get_or_insert_with(BTreeMap::new)
                .insert(CREATE_TOKEN_KEY.to_owned(), req.token.clone());
            compute
                .create_server(&body)
                .await
                .map_err(os_err("cannot create the server"))?
                .id
        }
    };
    let partial = with(&known(&req.planned), [("id", vs(&server_id))]);
    let fail = |what: &str, e: vitrina_openstack::Error| ApplyError {
        error: crate::vkcs::util::perr(format!("server `{server_id}` {what}"), e),
        partial: Some(partial.clone()),
    };
    let opts = wait_opts(req.timeout, THIRTY_MINUTES);
    let built = compute
        .wait_server(&server_id, &["ACTIVE", "SHUTOFF"], opts)
        .await
        .map_err(|e| fail("did not become ACTIVE", e))?;
    let created = built;
    if s(c, "power_state").as_deref() == Some("shutoff") && created.status != "SHUTOFF" {
        compute
            .stop_server(&created.id)
            .await
            .map_err(|e| fail("could not be stopped", e))?;
        compute
            .wait_server(&created.id, &["SHUTOFF"], opts)
            .await
            .map_err(|e| fail("did not stop", e))?;
    }
    let server = compute
        .get_server(&created.id)
        .await
        .map_err(|e| fail("could not be read", e))?;
    instance_value(vk, &partial, &server)
        .await
        .map_err(|error| ApplyError {
            error,
            partial: Some(partial),
        })
}

/// The server named `name` that carries `token` in its metadata, if an earlier attempt made one.
async fn find_server_by_token(
    vk: &Vkcs,
    name: &str,
    token: &str,
) -> Result<Option<String>, vitrina_openstack::Error> {
    let pattern = format!("^{}$", regex_escape(name));
    let servers = vk
        .client
        .compute()
        .list_servers(&vec![("name".to_owned(), pattern)])
        .await?;
    Ok(servers
        .into_iter()
        .find(|sv| {
            sv.name == name
                && sv.metadata.get(CREATE_TOKEN_KEY).map(String::as_str) == Some(token)
                && !matches!(sv.status.as_str(), "DELETED" | "SOFT_DELETED")
        })
        .map(|sv| sv.id))
}

/// Escapes a server name for Nova's regular-expression `name` filter.
fn regex_escape(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for ch in name.chars() {
        if "\\.^$*+?()[]{}|".contains(ch) {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

pub(crate) async fn read_instance(vk: &Vkcs, p: &Value) -> Result<Option<Value>, ProviderError> {
    let id = s(p, "id").unwrap_or_default();
    let server = match vk.client.compute().get_server(&id).await {
        Ok(sv) => sv,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => {
            return Err(crate::vkcs::util::perr(
                format!("cannot read server `{id}`"),
                e,
            ))
        }
    };
    if matches!(server.status.as_str(), "DELETED" | "SOFT_DELETED") {
        return Ok(None);
    }
    instance_value(vk, p, &server).await.map(Some)
}

/// The instance's state from the server, its ports and flavor; arguments the API does not report
/// (user_data, block_device, admin_pass, …) are kept from `base`.
async fn instance_value(vk: &Vkcs, base: &Value, server: &Server) -> Result<Value, ProviderError> {
    let net = vk.client.network();
    let q: Query = vec![("device_id".into(), server.id.clone())];
    let ports = net.list_ports(&q).await.map_err(os_err(format!(
        "cannot list the ports of server `{}`",
        server.id
    )))?;
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    for port in &ports {
        if !names.contains_key(&port.network_id) {
            let name = match net.get_network(&port.network_id).await {
                Ok(n) => n.name,
                Err(e) if e.is_not_found() => String::new(),
                Err(e) => {
                    return Err(crate::vkcs::util::perr(
                        format!("cannot read network `{}`", port.network_id),
                        e,
                    ))
                }
            };
            names.insert(port.network_id.clone(), name);
        }
    }
    let networks = match_networks(base.get("network").as_list().unwrap_or(&[]), &ports, &names);
    let access_entry = networks
        .iter()
        .find(|n| n.get("access_network").as_bool() == Some(true))
        .or_else(|| networks.first());
    let access_ip_v4 = if server.access_ipv4.is_empty() {
        access_entry
            .and_then(|n| n.get("fixed_ip_v4").as_str())
            .unwrap_or_default()
            .to_owned()
    } else {
        server.access_ipv4.clone()
    };

    let compute = vk.client.compute();
    let (flavor_id, flavor_name) = match (&server.flavor.id, &server.flavor.original_name) {
        (Some(id), _) => {
            let name = match compute.get_flavor(id).await {
                Ok(f) => f.name,
                Err(e) if e.is_not_found() => base
                    .get("flavor_name")
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                Err(e) => {
                    return Err(crate::vkcs::util::perr(
                        format!("cannot read flavor `{id}`"),
                        e,
                    ))
                }
            };
            (id.clone(), name)
        }
        (None, Some(name)) => {
            let id = compute
                .find_flavor(name)
                .await
                .map(|f| f.id)
                .unwrap_or_default();
            (id, name.clone())
        }
        (None, None) => (String::new(), String::new()),
    };
    // A configuration may name the flavor in `flavor_id` (Nova takes a name as `flavorRef`):
    // while the server still runs that flavor, the state keeps the name, so the next plan is
    // empty instead of an update to the same flavor.
    let flavor_id = match base.get("flavor_id").as_str() {
        Some(prior) if !flavor_name.is_empty() && prior == flavor_name => prior.to_owned(),
        _ => flavor_id,
    };
    let (image_id, image_name) = match server.image.id() {
        Some(id) => {
            let name = match (base.get("image_id").as_str(), base.get("image_name")) {
                (Some(prior), Value::String(n)) if prior == id => n.clone(),
                _ => match vk.client.image().get_image(id).await {
                    Ok(img) => img.name.unwrap_or_default(),
                    Err(_) => String::new(),
                },
            };
            (id.to_owned(), name)
        }
        // Booted from a volume: Nova reports no image; keep what the configuration said.
        None => (
            base.get("image_id").as_str().unwrap_or_default().to_owned(),
            base.get("image_name")
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        ),
    };
    let mut sg_names: Vec<String> = server
        .security_groups
        .iter()
        .flatten()
        .map(|g| g.name.clone())
        .collect();
    sg_names.sort();
    sg_names.dedup();
    let sg_ids: BTreeSet<String> = ports
        .iter()
        .flat_map(|p| p.security_groups.iter().cloned())
        .collect();
    let power_state = match server.status.as_str() {
        "ACTIVE" => vs("active"),
        "SHUTOFF" => vs("shutoff"),
        "SHELVED_OFFLOADED" => vs("shelved_offloaded"),
        _ => base.get("power_state").clone(),
    };
    let all_tags = match &server.tags {
        Some(t) => vset(t.clone()),
        None => vset(crate::vkcs::util::strs(base, "tags")),
    };
    let server_metadata = without_token(&server.metadata);
    let metadata = vmap(server_metadata.clone());
    // `metadata` is what the configuration manages: without the keys the cloud itself adds
    // (localcloud's `localcloud:*`), which stay visible in `all_metadata`.
    let managed: BTreeMap<String, String> = server_metadata
        .iter()
        .filter(|(k, _)| !k.starts_with(CLOUD_METADATA_PREFIX))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut out = with(
        &known(base),
        [
            ("id", vs(&server.id)),
            ("name", vs(&server.name)),
            ("flavor_id", vs(flavor_id)),
            ("flavor_name", vs(flavor_name)),
            ("image_id", vs(image_id)),
            ("image_name", vs(image_name)),
            ("availability_zone", vs(&server.availability_zone)),
            (
                "key_pair",
                vopt(server.key_name.clone().filter(|k| !k.is_empty())),
            ),
            ("security_groups", vset(sg_names)),
            ("network", Value::List(networks.clone())),
            ("access_ip_v4", vs(access_ip_v4)),
            ("access_ip_v6", vs(&server.access_ipv6)),
            ("all_metadata", metadata.clone()),
            ("power_state", power_state),
            ("all_tags", all_tags),
        ],
    );
    // Security group ids come from the server's ports (Nova reports only names).
    if !ports.is_empty() {
        out.set("security_group_ids", vset(sg_ids));
    } else if out.get("security_group_ids").is_null() {
        out.set("security_group_ids", Value::List(Vec::new()));
    }
    // `metadata` is what the configuration manages: the server's metadata, or null when both are
    // empty (so an unset argument plans no change).
    if !(base.get("metadata").is_null() && managed.is_empty()) {
        out.set("metadata", vmap(managed));
    }
    if out.get("password_data").is_null() {
        out.set("password_data", vs(""));
    }
    Ok(out)
}

/// Rebuilds `network[]` from the server's ports, in the configured order: each entry is matched to
/// a port by port id, else network id, else network name; unmatched ports follow (when nothing
/// was configured they are all listed).
pub(crate) fn match_networks(
    configured: &[Value],
    ports: &[Port],
    names: &BTreeMap<String, String>,
) -> Vec<Value> {
    let mut used = vec![false; ports.len()];
    let entry = |port: &Port, prior: Option<&Value>| {
        let ipv4 = port
            .fixed_ips
            .iter()
            .filter_map(|f| f.ip_address.clone())
            .find(|a| !a.contains(':'))
            .unwrap_or_default();
        Value::map([
            ("uuid", vs(&port.network_id)),
            (
                "name",
                vs(names.get(&port.network_id).cloned().unwrap_or_default()),
            ),
            ("port", vs(&port.id)),
            ("fixed_ip_v4", vs(ipv4)),
            ("mac", vs(&port.mac_address)),
            (
                "access_network",
                vbool(
                    prior
                        .and_then(|p| p.get("access_network").as_bool())
                        .unwrap_or(false),
                ),
            ),
        ])
    };
    let mut out = Vec::new();
    for want in configured {
        let pick = |pred: &dyn Fn(&Port) -> bool, used: &[bool]| {
            ports
                .iter()
                .enumerate()
                .find(|(k, p)| !used.get(*k).copied().unwrap_or(true) && pred(p))
                .map(|(k, _)| k)
        };
        let by_port = s(want, "port");
        let by_uuid = s(want, "uuid");
        let by_name = s(want, "name");
        let fixed = s(want, "fixed_ip_v4");
        let k = if let Some(pid) = &by_port {
            pick(&|p: &Port| &p.id == pid, &used)
        } else if let Some(uuid) = &by_uuid {
            pick(
                &|p: &Port| {
                    &p.network_id == uuid
                        && fixed.as_ref().is_none_or(|f| {
                            p.fixed_ips.iter().any(|x| x.ip_address.as_ref() == Some(f))
                        })
                },
                &used,
            )
        } else if let Some(name) = &by_name {
            pick(&|p: &Port| names.get(&p.network_id) == Some(name), &used)
        } else {
            pick(&|_: &Port| true, &used)
        };
        if let Some(k) = k {
            if let (Some(u), Some(port)) = (used.get_mut(k), ports.get(k)) {
                *u = true;
                out.push(entry(port, Some(want)));
            }
        }
    }
    if configured.is_empty() {
        for (k, port) in ports.iter().enumerate() {
            if !used.get(k).copied().unwrap_or(true) {
                out.push(entry(port, None));
            }
        }
    }
    out
}

pub(crate) async fn update_instance(vk: &Vkcs, req: &UpdateRequest) -> Result<Value, ApplyError> {
    let c = &req.config;
    let id = s(&req.prior, "id").unwrap_or_default();
    let compute = vk.client.compute();
    let prior = &req.prior;
    let planned = &req.planned;
    let partial = Some(prior.clone());
    let fail = |what: String, e: vitrina_openstack::Error| ApplyError {
        error: crate::vkcs::util::perr(what, e),
        partial: partial.clone(),
    };
    let opts = wait_opts(req.timeout, THIRTY_MINUTES);
    let changed = |n: &str| prior.get(n) != planned.get(n);

    if changed("name") {
        let update = ServerUpdate {
            name: s(c, "name"),
            ..ServerUpdate::default()
        };
        compute
            .update_server(&id, &update)
            .await
            .map_err(|e| fail(format!("cannot rename server `{id}`"), e))?;
    }
    let flavor_changed = (!c.get("flavor_id").is_null() && changed("flavor_id"))
        || (!c.get("flavor_name").is_null() && changed("flavor_name"));
    if flavor_changed {
        let flavor = resolve_flavor(vk, c).await?;
        compute
            .resize_server(&id, &flavor, opts)
            .await
            .map_err(|e| {
                fail(
                    format!("cannot resize server `{id}` to flavor `{flavor}`"),
                    e,
                )
            })?;
    }
    for (attr, label) in [
        ("security_groups", "security group"),
        ("security_group_ids", "security group"),
    ] {
        if c.get(attr).is_null() || !changed(attr) {
            continue;
        }
        let before: BTreeSet<String> = strs(prior, attr).into_iter().collect();
        let after: BTreeSet<String> = strs(c, attr).into_iter().collect();
        for g in after.difference(&before) {
            compute
                .add_security_group(&id, g)
                .await
                .map_err(|e| fail(format!("cannot add {label} `{g}` to server `{id}`"), e))?;
        }
        for g in before.difference(&after) {
            match compute.remove_security_group(&id, g).await {
                Err(e) if !e.is_not_found() => {
                    return Err(fail(
                        format!("cannot remove {label} `{g}` from server `{id}`"),
                        e,
                    ))
                }
                _ => {}
            }
        }
    }
    if changed("metadata") {
        let before = smap(prior, "metadata");
        let after = smap(c, "metadata");
        if !after.is_empty() {
            compute
                .set_metadata(&id, &after)
                .await
                .map_err(|e| fail(format!("cannot set metadata of server `{id}`"), e))?;
        }
        for k in before.keys().filter(|k| !after.contains_key(*k)) {
            match compute.delete_metadata(&id, k).await {
                Err(e) if !e.is_not_found() => {
                    return Err(fail(
                        format!("cannot delete metadata `{k}` of server `{id}`"),
                        e,
                    ))
                }
                _ => {}
            }
        }
    }
    if changed("admin_pass") {
        if let Some(pass) = s(c, "admin_pass") {
            compute
                .action(
                    &id,
                    &ServerAction::ChangePassword {
                        admin_pass: Secret::new(pass),
                    },
                )
                .await
                .map_err(|e| fail(format!("cannot change the password of server `{id}`"), e))?;
        }
    }
    if changed("power_state") {
        match s(c, "power_state").as_deref().unwrap_or("active") {
            "shutoff" => {
                compute
                    .stop_server(&id)
                    .await
                    .map_err(|e| fail(format!("cannot stop server `{id}`"), e))?;
                compute
                    .wait_server(&id, &["SHUTOFF"], opts)
                    .await
                    .map_err(|e| fail(format!("server `{id}` did not stop"), e))?;
            }
            "shelved_offloaded" => {
                compute
                    .action(&id, &ServerAction::Shelve(()))
                    .await
                    .map_err(|e| fail(format!("cannot shelve server `{id}`"), e))?;
                compute
                    .wait_server(&id, &["SHELVED_OFFLOADED"], opts)
                    .await
                    .map_err(|e| fail(format!("server `{id}` was not shelved"), e))?;
            }
            _ => {
                let current = compute
                    .get_server(&id)
                    .await
                    .map_err(|e| fail(format!("cannot read server `{id}`"), e))?;
                let action = if current.status.starts_with("SHELVED") {
                    ServerAction::Unshelve(())
                } else {
                    ServerAction::Start(())
                };
                compute
                    .action(&id, &action)
                    .await
                    .map_err(|e| fail(format!("cannot start server `{id}`"), e))?;
                compute
                    .wait_server(&id, &["ACTIVE"], opts)
                    .await
                    .map_err(|e| fail(format!("server `{id}` did not start"), e))?;
            }
        }
    }
    let server = compute
        .get_server(&id)
        .await
        .map_err(|e| fail(format!("cannot read server `{id}`"), e))?;
    instance_value(vk, planned, &server)
        .await
        .map_err(|error| ApplyError { error, partial })
}

pub(crate) async fn delete_instance(vk: &Vkcs, req: &DeleteRequest) -> Result<(), ProviderError> {
    let p = &req.prior;
    let id = s(p, "id").unwrap_or_default();
    let compute = vk.client.compute();
    let opts = wait_opts(req.timeout, THIRTY_MINUTES);
    if b(p, "stop_before_destroy") == Some(true) {
        match compute.stop_server(&id).await {
            Ok(()) => {
                compute
                    .wait_server(&id, &["SHUTOFF"], opts)
                    .await
                    .map_err(os_err(format!(
                        "server `{id}` did not stop before deletion"
                    )))?;
            }
            Err(e) if e.is_not_found() => return Ok(()),
            // Already stopped (409): go on with the deletion.
            Err(e) if e.is_conflict() => {}
            Err(e) => {
                return Err(crate::vkcs::util::perr(
                    format!("cannot stop server `{id}`"),
                    e,
                ))
            }
        }
    }
    compute
        .delete_server(&id)
        .await
        .map_err(os_err(format!("cannot delete server `{id}`")))?;
    // VK's provider sends the delete twice; a second answer of 404 is fine.
    let _ = compute.delete_server(&id).await;
    compute
        .wait_server_deleted(&id, opts)
        .await
        .map_err(os_err(format!("server `{id}` was not deleted")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance_cfg(entries: &[(&str, Value)]) -> Value {
        let schema = instance_schema();
        let mut m: BTreeMap<String, Value> = schema
            .attributes
            .keys()
            .map(|k| (k.clone(), Value::Null))
            .collect();
        for k in schema.blocks.keys() {
            m.insert(k.clone(), Value::List(Vec::new()));
        }
        for (k, v) in entries {
            m.insert((*k).to_owned(), v.clone());
        }
        Value::Map(m)
    }

    #[test]
    fn boot_from_volume_request_has_empty_image_and_base64_user_data() {
        let c = instance_cfg(&[
            ("name", vs("vm")),
            ("user_data", vs("#!/bin/sh\necho hi\n")),
            ("key_pair", vs("kp")),
            ("security_group_ids", crate::vkcs::util::vlist(["sg-1"])),
            ("availability_zone", vs("GZ1")),
            ("metadata", Value::map([("sid", vs("xaas"))])),
            (
                "block_device",
                Value::List(vec![Value::map([
                    ("source_type", vs("volume")),
                    ("uuid", vs("vol-1")),
                    ("destination_type", vs("volume")),
                    ("boot_index", Value::Null),
                    ("delete_on_termination", vbool(false)),
                ])]),
            ),
        ]);
        let networks = Some(ServerNetworks::List(vec![ServerNetwork {
            port: Some("port-1".into()),
            ..ServerNetwork::default()
        }]));
        let req = server_request(&c, "flavor-1".into(), None, networks).unwrap();
        let json = serde_json::to_value(&req).unwrap();
        let server = &json["server"];
        assert_eq!(server["imageRef"], "");
        assert_eq!(server["flavorRef"], "flavor-1");
        assert_eq!(server["key_name"], "kp");
        assert_eq!(server["availability_zone"], "GZ1");
        assert_eq!(
            server["security_groups"],
            serde_json::json!([{"name": "sg-1"}])
        );
        assert_eq!(server["networks"], serde_json::json!([{"port": "port-1"}]));
        assert_eq!(
            server["user_data"],
            base64::engine::general_purpose::STANDARD.encode("#!/bin/sh\necho hi\n")
        );
        let bdm = &server["block_device_mapping_v2"][0];
        assert_eq!(bdm["boot_index"], 0);
        assert_eq!(bdm["source_type"], "volume");
        assert_eq!(bdm["delete_on_termination"], false);
    }

    #[test]
    fn server_names_are_escaped_for_novas_regex_filter() {
        assert_eq!(regex_escape("vm-1"), "vm-1");
        assert_eq!(regex_escape("a.b(c)"), "a\\.b\\(c\\)");
    }

    #[test]
    fn oversized_user_data_is_refused() {
        let c = instance_cfg(&[("name", vs("vm")), ("user_data", vs("x".repeat(60_000)))]);
        let err = server_request(&c, "f".into(), Some("img".into()), None).unwrap_err();
        assert!(err.message.contains("65535"), "{err}");
    }

    fn plan(prior: Value, config: Value) -> (Value, Vec<Vec<PathStep>>) {
        let req = PlanRequest {
            type_name: "vkcs_compute_instance".into(),
            prior,
            proposed: config.clone(),
            config,
        };
        let mut planned = req.proposed.clone();
        let mut rr = Vec::new();
        plan_instance(&req, &mut planned, &mut rr);
        (planned, rr)
    }

    #[test]
    fn user_data_is_planned_as_its_sha1_and_az_forces_replacement() {
        let cfg = instance_cfg(&[
            ("name", vs("vm")),
            ("user_data", vs("hello")),
            ("availability_zone", vs("MS1")),
        ]);
        let (planned, rr) = plan(Value::Null, cfg.clone());
        assert_eq!(
            planned.get("user_data"),
            &vs("aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d")
        );
        assert!(rr.is_empty());
        let prior = with(
            &planned,
            [("availability_zone", vs("GZ1")), ("id", vs("x"))],
        );
        let (_, rr) = plan(prior, cfg);
        assert_eq!(rr, vec![attr_path("availability_zone")]);
    }

    #[test]
    fn flavor_name_change_makes_flavor_id_unknown() {
        let prior = instance_cfg(&[
            ("name", vs("vm")),
            ("flavor_name", vs("Basic-1-2-20")),
            ("flavor_id", vs("f1")),
        ]);
        let (same, _) = plan(
            prior.clone(),
            instance_cfg(&[("name", vs("vm")), ("flavor_name", vs("Basic-1-2-20"))]),
        );
        assert_eq!(same.get("flavor_id"), &vs("f1"));
        let (other, _) = plan(
            prior,
            instance_cfg(&[("name", vs("vm")), ("flavor_name", vs("Standard-2-4-40"))]),
        );
        assert!(other.get("flavor_id").is_unknown());
    }

    #[test]
    fn schema_follows_vk_force_new_flags() {
        let s = instance_schema();
        for f in [
            "image_id",
            "image_name",
            "key_pair",
            "user_data",
            "config_drive",
            "network_mode",
            "region",
        ] {
            assert!(s.attributes[f].force_new, "{f} must force replacement");
        }
        for f in [
            "name",
            "flavor_id",
            "flavor_name",
            "metadata",
            "security_group_ids",
            "availability_zone",
            "admin_pass",
        ] {
            assert!(!s.attributes[f].force_new, "{f} is updated in place");
        }
        assert!(s.attributes["admin_pass"].sensitive);
        assert!(s.blocks["network"].force_new && s.blocks["block_device"].force_new);
    }

    fn port(id: &str, net: &str, ip: &str) -> Port {
        serde_json::from_value(serde_json::json!({
            "id": id, "network_id": net, "mac_address": "fa:16:3e:00:00:01",
            "fixed_ips": [{"subnet_id": "s", "ip_address": ip}]
        }))
        .unwrap()
    }

    #[test]
    fn networks_follow_the_configured_order() {
        let ports = vec![port("p2", "n2", "10.0.2.5"), port("p1", "n1", "10.0.1.5")];
        let names = BTreeMap::from([
            ("n1".to_owned(), "one".to_owned()),
            ("n2".to_owned(), "two".to_owned()),
        ]);
        let configured = vec![
            Value::map([("port", vs("p1"))]),
            Value::map([("uuid", vs("n2")), ("access_network", vbool(true))]),
        ];
        let out = match_networks(&configured, &ports, &names);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].get("port"), &vs("p1"));
        assert_eq!(out[0].get("name"), &vs("one"));
        assert_eq!(out[1].get("fixed_ip_v4"), &vs("10.0.2.5"));
        assert_eq!(out[1].get("access_network"), &vbool(true));
        let all = match_networks(&[], &ports, &names);
        assert_eq!(all.len(), 2);
    }
}
