//! The metadata service at 169.254.169.254, as a VM sees it: localcloud listens on
//! `169.254.169.254:80` inside each server's network namespace (the address is on the
//! namespace's `lo`), so a server reaches only its own listener and sees only its own metadata,
//! and nothing listens on the machine. Paths: OpenStack's `/openstack/latest/meta_data.json`,
//! `/openstack/latest/user_data`, `/openstack/latest/network_data.json` (also under a dated
//! version and `/openstack/`), and the EC2-style `/latest/meta-data/…` and `/latest/user-data`.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine as _;
use serde_json::{json, Value};

use crate::model::State as Db;
use crate::store::Store;

pub const ADDRESS: &str = "169.254.169.254";

/// The hostname of a server name, as Nova sanitizes it.
fn hostname(name: &str) -> String {
    let h: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let h: String = h.trim_matches('-').chars().take(63).collect();
    if h.is_empty() {
        "instance".into()
    } else {
        h
    }
}

/// Binds `169.254.169.254:80` inside namespace `ns` (from a short-lived thread that enters it, so
/// no runtime thread changes namespace).
pub fn bind_in(ns: &str) -> std::io::Result<TcpListener> {
    let path = std::path::Path::new("/run/netns").join(ns);
    std::thread::spawn(move || -> std::io::Result<TcpListener> {
        let f = std::fs::File::open(&path)?;
        nix::sched::setns(&f, nix::sched::CloneFlags::CLONE_NEWNET)
            .map_err(std::io::Error::from)?;
        let l = TcpListener::bind((ADDRESS, 80))?;
        l.set_nonblocking(true)?;
        Ok(l)
    })
    .join()
    .map_err(|_| std::io::Error::other("the namespace thread panicked"))?
}

#[derive(Clone)]
struct Ctx {
    store: Arc<Store>,
    server: String,
}

/// Serves the metadata of `server` on `listener` until the task is aborted.
pub async fn serve(listener: TcpListener, store: Arc<Store>, server: String) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    let app = Router::new()
        .route("/openstack", get(versions))
        .route("/openstack/", get(versions))
        .route("/openstack/{version}/{file}", get(openstack))
        .route("/latest/user-data", get(ec2_user_data))
        .route("/latest/meta-data", get(ec2_index))
        .route("/latest/meta-data/", get(ec2_index))
        .route("/latest/meta-data/{*key}", get(ec2_key))
        .with_state(Ctx { store, server });
    let _ = axum::serve(listener, app).await;
}

async fn versions() -> &'static str {
    "2012-08-10\n2013-04-04\n2013-10-17\n2015-10-15\n2016-06-30\n2017-02-22\n2018-08-27\nlatest"
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "Not Found\n").into_response()
}

/// The server's fixed addresses (IPv4 and IPv6) with their network, subnet and port.
struct Nic {
    port_id: String,
    mac: String,
    network_id: String,
    ip: String,
    cidr: String,
    gateway: Option<String>,
    dns: Vec<String>,
    /// IPv6 subnets: the `ipv6_address_mode`.
    v6_mode: Option<String>,
}

fn nics(db: &Db, server: &crate::model::Server) -> Vec<Nic> {
    let mut out = Vec::new();
    for p in server.ports.iter().filter_map(|p| db.ports.get(p)) {
        for f in &p.fixed_ips {
            let Some(sub) = db.subnets.get(&f.subnet_id) else {
                continue;
            };
            out.push(Nic {
                port_id: p.id.clone(),
                mac: p.mac_address.clone(),
                network_id: p.network_id.clone(),
                ip: f.ip_address.clone(),
                cidr: sub.cidr.clone(),
                gateway: sub.gateway_ip.clone(),
                dns: sub.dns_nameservers.clone(),
                v6_mode: sub.ipv6_address_mode.clone(),
            });
        }
    }
    out
}

fn netmask(cidr: &str) -> String {
    let len: u32 = cidr
        .split_once('/')
        .and_then(|(_, l)| l.parse().ok())
        .unwrap_or(32)
        .min(32);
    std::net::Ipv4Addr::from(u32::MAX.checked_shl(32 - len).unwrap_or(0)).to_string()
}

fn meta_data(db: &Db, s: &crate::model::Server) -> Value {
    let keys: BTreeMap<String, String> = s
        .key_name
        .iter()
        .zip(s.public_keys.iter())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    json!({
        "uuid": s.id,
        "name": s.name,
        "hostname": hostname(&s.name),
        "project_id": s.project_id,
        "availability_zone": s.availability_zone,
        "launch_index": 0,
        "meta": s.metadata,
        "public_keys": keys,
        "keys": s.key_name.iter().zip(s.public_keys.iter()).map(|(k, v)| json!({"name": k, "type": "ssh", "data": v})).collect::<Vec<_>>(),
        "devices": [],
        "ip_addresses": nics(db, s).iter().map(|n| n.ip.clone()).collect::<Vec<_>>(),
    })
}

fn network_data(db: &Db, s: &crate::model::Server) -> Value {
    let nics = nics(db, s);
    let mut links = Vec::new();
    let mut networks = Vec::new();
    let mut services = Vec::new();
    for (i, n) in nics.iter().enumerate() {
        let link = format!("tap{}", super::plan::short(&n.port_id));
        if !links.iter().any(|l: &Value| l["id"] == link.as_str()) {
            links.push(json!({"id": link, "type": "ovs", "vif_id": n.port_id, "ethernet_mac_address": n.mac, "mtu": 1500}));
        }
        let routes: Vec<Value> = n
            .gateway
            .iter()
            .map(|g| json!({"network": "0.0.0.0", "netmask": "0.0.0.0", "gateway": g}))
            .collect();
        let (kind, mask, routes) = if n.ip.contains(':') {
            super::ipv6::network_data_entry(&n.cidr, n.gateway.as_deref(), n.v6_mode.as_deref())
        } else {
            ("ipv4".to_owned(), netmask(&n.cidr), routes)
        };
        networks.push(json!({"id": format!("network{i}"), "type": kind, "link": link, "ip_address": n.ip,
            "netmask": mask, "routes": routes, "network_id": n.network_id,
            "services": n.dns.iter().map(|d| json!({"type": "dns", "address": d})).collect::<Vec<_>>()}));
        for d in &n.dns {
            let v = json!({"type": "dns", "address": d});
            if !services.contains(&v) {
                services.push(v);
            }
        }
    }
    json!({"links": links, "networks": networks, "services": services})
}

fn user_data(s: &crate::model::Server) -> Option<Vec<u8>> {
    s.user_data
        .as_ref()
        .and_then(|u| base64::engine::general_purpose::STANDARD.decode(u).ok())
}

fn server(c: &Ctx) -> Option<(crate::model::Server, Db)> {
    c.store.read(|db| {
        db.servers.get(&c.server).map(|s| {
            // Only what the views need: the server's ports and subnets.
            let mut part = Db::default();
            for p in s.ports.iter().filter_map(|p| db.ports.get(p)) {
                for f in &p.fixed_ips {
                    if let Some(sub) = db.subnets.get(&f.subnet_id) {
                        part.subnets.insert(sub.id.clone(), sub.clone());
                    }
                }
                part.ports.insert(p.id.clone(), p.clone());
            }
            (s.clone(), part)
        })
    })
}

fn json_response(v: &Value) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_string(v).unwrap_or_default(),
    )
        .into_response()
}

async fn openstack(
    State(c): State<Ctx>,
    Path((_version, file)): Path<(String, String)>,
) -> Response {
    let Some((s, db)) = server(&c) else {
        return not_found();
    };
    match file.as_str() {
        "meta_data.json" => json_response(&meta_data(&db, &s)),
        "network_data.json" => json_response(&network_data(&db, &s)),
        "vendor_data.json" | "vendor_data2.json" => json_response(&json!({})),
        "user_data" => match user_data(&s) {
            Some(u) => u.into_response(),
            None => not_found(),
        },
        _ => not_found(),
    }
}

async fn ec2_user_data(State(c): State<Ctx>) -> Response {
    match server(&c).and_then(|(s, _)| user_data(&s)) {
        Some(u) => u.into_response(),
        None => not_found(),
    }
}

fn ec2_values(db: &Db, s: &crate::model::Server) -> BTreeMap<&'static str, String> {
    let nics = nics(db, s);
    let ip = nics
        .iter()
        .find(|n| !n.ip.contains(':'))
        .map(|n| n.ip.clone())
        .unwrap_or_default();
    let host = hostname(&s.name);
    BTreeMap::from([
        ("ami-id", s.image_id.clone().unwrap_or_default()),
        ("ami-launch-index", "0".into()),
        ("hostname", host.clone()),
        ("instance-id", s.id.clone()),
        ("instance-type", s.flavor_id.clone()),
        ("local-hostname", host),
        ("local-ipv4", ip),
        ("placement/availability-zone", s.availability_zone.clone()),
        (
            "mac",
            nics.first().map(|n| n.mac.clone()).unwrap_or_default(),
        ),
    ])
}

async fn ec2_index(State(c): State<Ctx>) -> Response {
    let Some((s, db)) = server(&c) else {
        return not_found();
    };
    let mut keys: Vec<String> = ec2_values(&db, &s)
        .keys()
        .map(|k| match k.split_once('/') {
            Some((dir, _)) => format!("{dir}/"),
            None => (*k).to_owned(),
        })
        .collect();
    if !s.public_keys.is_empty() {
        keys.push("public-keys/".into());
    }
    keys.dedup();
    keys.join("\n").into_response()
}

async fn ec2_key(State(c): State<Ctx>, Path(key): Path<String>) -> Response {
    let Some((s, db)) = server(&c) else {
        return not_found();
    };
    let key = key.trim_end_matches('/');
    if key == "placement" {
        return "availability-zone".into_response();
    }
    if key == "public-keys" {
        let names: Vec<String> = s
            .key_name
            .iter()
            .enumerate()
            .map(|(i, k)| format!("{i}={k}"))
            .collect();
        return names.join("\n").into_response();
    }
    if let Some(rest) = key.strip_prefix("public-keys/") {
        let mut parts = rest.split('/');
        let idx: Option<usize> = parts.next().and_then(|i| i.parse().ok());
        return match (idx.and_then(|i| s.public_keys.get(i)), parts.next()) {
            (Some(_), None) => "openssh-key".into_response(),
            (Some(k), Some("openssh-key")) => format!("{k}\n").into_response(),
            _ => not_found(),
        };
    }
    match ec2_values(&db, &s).get(key) {
        Some(v) => v.clone().into_response(),
        None => not_found(),
    }
}
