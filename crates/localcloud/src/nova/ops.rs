//! Domain operations of servers: lookup, boot and stop in the hypervisor, state changes, resume.

use super::*;

pub(super) fn get_server(c: &Cloud, ctx: &Ctx, id: &str) -> ApiResult<Server> {
    c.store
        .read(|db| db.servers.mine(ctx, id).cloned())
        .ok_or_else(|| server_not_found(id))
}

pub(super) fn keystone_like_password() -> String {
    let b: [u8; 9] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

pub(super) fn boot_spec(db: &Db, s: &Server) -> BootSpec {
    let ipv4 = s
        .ports
        .iter()
        .filter_map(|p| db.ports.get(p))
        .flat_map(|p| p.fixed_ips.iter().map(|f| f.ip_address.clone()))
        // IPv4 only (`VITRINA_IPV4`); IPv6 fixed IPs are on the VM's interfaces.
        .filter(|a| !a.contains(':'))
        .collect();
    BootSpec {
        id: s.id.clone(),
        name: s.name.clone(),
        hostname: hostname(&s.name),
        project_id: s.project_id.clone(),
        availability_zone: s.availability_zone.clone(),
        ipv4,
        user_data: s
            .user_data
            .as_ref()
            .and_then(|u| base64::engine::general_purpose::STANDARD.decode(u).ok()),
        metadata: s.metadata.clone(),
        public_keys: s.public_keys.clone(),
        netns: None,
        loopback_ipv4: None,
        disks: Vec::new(),
        dns: s
            .ports
            .iter()
            .filter_map(|p| db.ports.get(p))
            .flat_map(|p| p.fixed_ips.iter())
            .filter_map(|f| db.subnets.get(&f.subnet_id))
            .flat_map(|sub| sub.dns_nameservers.iter().cloned())
            .collect(),
    }
}

/// A hostname from a server name, as Nova sanitizes it.
pub fn hostname(name: &str) -> String {
    let h: String = name
        .chars()
        .map(|ch| {
            if ch.is_ascii_alphanumeric() || ch == '-' {
                ch.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let h = h.trim_matches('-');
    let h: String = h.chars().take(63).collect();
    if h.is_empty() {
        "instance".into()
    } else {
        h
    }
}

/// Boots a server in the background; it ends ACTIVE (or `final_status`) or ERROR with a fault.
pub(super) fn spawn_boot(c: &Cloud, id: &str, final_status: Option<ServerStatus>) {
    let hv = c.hv.clone();
    let store = c.store.clone();
    let net = c.net.clone();
    let id = id.to_owned();
    let default_resolvers = c
        .vm_resolvers
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    // The volumes attached now, with where their bytes are.
    let disks: Vec<crate::hypervisor::Disk> = c.store.read(|db| {
        let Some(s) = db.servers.get(&id) else {
            return Vec::new();
        };
        s.volumes
            .iter()
            .filter_map(|v| {
                let vol = db.volumes.get(&v.volume_id)?;
                Some(crate::hypervisor::Disk {
                    device: v.device.clone(),
                    file: crate::disks::volume_file(c, &v.volume_id),
                    source: crate::disks::volume_source(c, db, &v.volume_id),
                    size_gib: u64::try_from(vol.size).unwrap_or(0),
                })
            })
            .collect()
    });
    tokio::spawn(async move {
        let spec = store.read(|db| db.servers.get(&id).map(|s| boot_spec(db, s)));
        let Some(mut spec) = spec else { return };
        spec.disks = disks;
        if spec.dns.is_empty() {
            spec.dns = default_resolvers;
        }
        // The data plane makes the server's namespace and ports before its processes start.
        let shared = matches!(net.mode(), crate::NetworkMode::Shared { .. });
        let result = match net.plug_server(&id).await {
            Ok(ns) => {
                spec.netns = ns;
                if shared {
                    spec.loopback_ipv4 = Some(crate::dataplane::loopback_address(&id));
                }
                // Preparing the root is file work: off the async workers, so boots overlap.
                let (hv, boot) = (hv.clone(), spec.clone());
                tokio::task::spawn_blocking(move || hv.boot(&boot))
                    .await
                    .unwrap_or_else(|e| {
                        Err(crate::hypervisor::HvError::Spawn {
                            id: id.clone(),
                            source: std::io::Error::other(e.to_string()),
                        })
                    })
            }
            Err(e) => Err(e.into()),
        };
        store.write(|db| {
            let Some(s) = db.servers.get_mut(&id) else {
                return;
            };
            let t = now();
            match &result {
                Ok(()) => {
                    if shared {
                        s.metadata
                            .insert("localcloud:network_mode".into(), "shared".into());
                        if let Some(lo) = &spec.loopback_ipv4 {
                            s.metadata
                                .insert("localcloud:loopback_ipv4".into(), lo.clone());
                        }
                    }
                    s.status = final_status.unwrap_or(ServerStatus::Active);
                    s.vm_state = match final_status {
                        Some(ServerStatus::VerifyResize) => "resized".into(),
                        Some(ServerStatus::Rescue) => "rescued".into(),
                        _ => "active".into(),
                    };
                    s.power_state = 1;
                    s.task_state = None;
                    s.fault = None;
                    if s.launched_at.is_none() {
                        s.launched_at = Some(util::now_micro());
                    }
                }
                Err(e) => {
                    s.status = ServerStatus::Error;
                    s.vm_state = "error".into();
                    s.power_state = 0;
                    s.task_state = None;
                    let mut msg = e.to_string();
                    let mut src = std::error::Error::source(e);
                    while let Some(cause) = src {
                        msg.push_str(&format!(": {cause}"));
                        src = cause.source();
                    }
                    s.fault = Some(Fault {
                        code: 500,
                        message: msg,
                        created: t.clone(),
                    });
                }
            }
            s.updated = t;
        });
    });
}

/// After a restart: adopt servers whose processes still run; boot those that should run.
pub async fn resume(c: &Cloud) {
    let store = c.store.clone();
    c.hv.set_exit_listener(std::sync::Arc::new(move |id: &str| {
        store.write(|db| {
            if let Some(s) = db.servers.get_mut(id) {
                if s.status == ServerStatus::Active && s.task_state.is_none() {
                    s.status = ServerStatus::Shutoff;
                    s.vm_state = "stopped".into();
                    s.power_state = 4;
                    s.updated = now();
                }
            }
        });
    }));
    let list: Vec<(String, ServerStatus)> = c.store.read(|db| {
        db.servers
            .values()
            .map(|s| (s.id.clone(), s.status))
            .collect()
    });
    for (id, status) in list {
        use ServerStatus as St;
        match status {
            St::Active
            | St::Build
            | St::Reboot
            | St::HardReboot
            | St::VerifyResize
            | St::Resize
            | St::Paused
            | St::Suspended
            | St::Rescue => {
                if c.hv.adopt(&id) {
                    if matches!(status, St::Build | St::Reboot | St::HardReboot) {
                        c.store.write(|db| {
                            if let Some(s) = db.servers.get_mut(&id) {
                                s.status = ServerStatus::Active;
                                s.task_state = None;
                            }
                        });
                    }
                } else {
                    let fin = match status {
                        St::VerifyResize | St::Resize => Some(St::VerifyResize),
                        St::Rescue => Some(St::Rescue),
                        _ => None,
                    };
                    spawn_boot(c, &id, fin);
                }
            }
            _ => {}
        }
    }
}

pub(super) fn set_state(
    c: &Cloud,
    id: &str,
    status: ServerStatus,
    vm: &str,
    power: i64,
    task: Option<&str>,
) {
    c.store.write(|db| {
        if let Some(s) = db.servers.get_mut(id) {
            s.status = status;
            s.vm_state = vm.into();
            s.power_state = power;
            s.task_state = task.map(str::to_owned);
            s.updated = now();
        }
    });
}

/// Stops the server's processes, then sets the state (and optionally boots again).
pub(super) fn spawn_stop(c: &AppState, id: &str, then_boot: Option<Option<ServerStatus>>) {
    let c2 = c.clone();
    let id = id.to_owned();
    tokio::spawn(async move {
        let _ = c2.hv.stop(&id).await;
        match then_boot {
            None => set_state(&c2, &id, ServerStatus::Shutoff, "stopped", 4, None),
            Some(fin) => spawn_boot(&c2, &id, fin),
        }
    });
}
