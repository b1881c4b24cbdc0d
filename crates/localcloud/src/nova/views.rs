//! Views: the JSON of servers, their addresses and volume attachments.

use super::*;

pub(super) fn server_not_found(id: &str) -> ApiError {
    ApiError::not_found(S, format!("Instance {id} could not be found."))
}

pub(super) fn server_links(c: &Cloud, id: &str) -> Vec<Link> {
    vec![
        Link {
            href: c.url(&format!("/compute/v2.1/servers/{id}")),
            rel: "self".into(),
            media_type: None,
        },
        Link {
            href: c.url(&format!("/compute/servers/{id}")),
            rel: "bookmark".into(),
            media_type: None,
        },
    ]
}

/// Addresses by network name, fixed then floating, in port order.
pub(super) fn addresses(db: &Db, s: &Server) -> BTreeMap<String, Vec<w::ServerAddress>> {
    let mut out: BTreeMap<String, Vec<w::ServerAddress>> = BTreeMap::new();
    for pid in &s.ports {
        let Some(p) = db.ports.get(pid) else { continue };
        let net = db
            .networks
            .get(&p.network_id)
            .map(|n| n.name.clone())
            .unwrap_or_else(|| p.network_id.clone());
        let entry = out.entry(net).or_default();
        for f in &p.fixed_ips {
            entry.push(w::ServerAddress {
                version: if f.ip_address.contains(':') { 6 } else { 4 },
                addr: f.ip_address.clone(),
                ip_type: Some("fixed".into()),
                mac_addr: Some(p.mac_address.clone()),
            });
        }
        for fip in db
            .floating_ips
            .values()
            .filter(|f| f.port_id.as_deref() == Some(pid.as_str()))
        {
            entry.push(w::ServerAddress {
                version: 4,
                addr: fip.floating_ip_address.clone(),
                ip_type: Some("floating".into()),
                mac_addr: Some(p.mac_address.clone()),
            });
        }
    }
    out
}

pub(super) fn server_sg_names(db: &Db, s: &Server) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for pid in &s.ports {
        if let Some(p) = db.ports.get(pid) {
            for g in &p.security_groups {
                if let Some(sg) = db.security_groups.get(g) {
                    if !names.contains(&sg.name) {
                        names.push(sg.name.clone());
                    }
                }
            }
        }
    }
    // While the server builds, its groups are shown as asked for (names or IDs), as Nova shows
    // them before the build has bound its ports.
    if s.ports.is_empty() || s.status == ServerStatus::Build {
        names = s.security_groups.clone();
    }
    names
}

pub(super) fn server_view(c: &Cloud, db: &Db, s: &Server, mv: (u32, u32)) -> w::Server {
    let flavor = server_flavor(db, s);
    let server_flavor = if mv >= (2, 47) {
        w::ServerFlavor {
            id: None,
            links: vec![],
            original_name: flavor.map(|f| f.name.clone()),
            vcpus: flavor.map(|f| f.vcpus),
            ram: flavor.map(|f| f.ram),
            disk: flavor.map(|f| f.disk),
            ephemeral: Some(0),
            swap: Some(0),
            extra_specs: flavor.map(|f| f.extra_specs.clone()),
        }
    } else {
        w::ServerFlavor {
            id: Some(s.flavor_id.clone()),
            links: vec![Link {
                href: c.url(&format!("/compute/flavors/{}", s.flavor_id)),
                rel: "bookmark".into(),
                media_type: None,
            }],
            ..Default::default()
        }
    };
    let image = match &s.image_id {
        Some(i) => w::ServerImage::Image {
            id: i.clone(),
            links: vec![Link {
                href: c.url(&format!("/compute/images/{i}")),
                rel: "bookmark".into(),
                media_type: None,
            }],
        },
        None => w::ServerImage::None(String::new()),
    };
    let sgs = server_sg_names(db, s);
    let addrs = addresses(db, s);
    let access = addrs
        .values()
        .flatten()
        .find(|a| a.ip_type.as_deref() == Some("fixed"))
        .map(|a| a.addr.clone())
        .unwrap_or_default();
    let _ = access;
    w::Server {
        id: s.id.clone(),
        name: s.name.clone(),
        status: s.status.to_string(),
        tenant_id: s.project_id.clone(),
        user_id: s.user_id.clone(),
        metadata: s.metadata.clone(),
        host_id: hex::encode(
            &sha2::Sha224::digest(format!("{}localcloud", s.project_id).as_bytes())[..],
        ),
        image,
        flavor: server_flavor,
        created: s.created.clone(),
        updated: s.updated.clone(),
        addresses: addrs,
        access_ipv4: String::new(),
        access_ipv6: String::new(),
        links: server_links(c, &s.id),
        key_name: s.key_name.clone(),
        disk_config: "MANUAL".into(),
        availability_zone: s.availability_zone.clone(),
        power_state: i32::try_from(s.power_state).unwrap_or(0),
        task_state: s.task_state.clone(),
        vm_state: s.vm_state.clone(),
        host: None,
        hypervisor_hostname: None,
        instance_name: None,
        launched_at: s.launched_at.clone(),
        terminated_at: None,
        volumes_attached: s
            .volumes
            .iter()
            .map(|v| w::AttachedVolume {
                id: v.volume_id.clone(),
                delete_on_termination: (mv >= (2, 3)).then_some(v.delete_on_termination),
            })
            .collect(),
        security_groups: if sgs.is_empty() {
            None
        } else {
            Some(sgs.into_iter().map(|name| NameRef { name }).collect())
        },
        progress: (s.status == ServerStatus::Build).then_some(0),
        config_drive: s.config_drive.clone(),
        fault: s.fault.as_ref().map(|f| w::ServerFault {
            code: u16::try_from(f.code).unwrap_or(500),
            message: f.message.clone(),
            created: f.created.clone(),
            details: None,
        }),
        tags: (mv >= (2, 26)).then(|| s.tags.clone()),
        description: (mv >= (2, 19)).then_some(None).flatten(),
        locked: (mv >= (2, 9)).then_some(s.locked),
    }
}

pub(super) fn server_json(c: &Cloud, db: &Db, s: &Server, mv: (u32, u32)) -> Value {
    let mut v = serde_json::to_value(server_view(c, db, s, mv)).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        if mv >= (2, 19) {
            o.insert("description".into(), Value::Null);
        }
        if mv >= (2, 16) {
            o.insert("host_status".into(), json!(s.host_status));
        }
        if mv >= (2, 73) {
            o.insert("locked_reason".into(), json!(s.locked_reason));
        }
    }
    v
}

pub(super) fn attachment_view(
    server_id: &str,
    v: &ServerVolume,
    mv: (u32, u32),
) -> w::VolumeAttachment {
    w::VolumeAttachment {
        id: v.volume_id.clone(),
        server_id: server_id.into(),
        volume_id: v.volume_id.clone(),
        device: Some(v.device.clone()),
        tag: None,
        delete_on_termination: (mv >= (2, 79)).then_some(v.delete_on_termination),
    }
}
