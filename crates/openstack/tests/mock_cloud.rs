//! Request-level tests of the Nova, Neutron and Cinder calls against a small scripted HTTP
//! server on 127.0.0.1 (real Nova, Neutron and Cinder do not install on one machine; the
//! `localcloud` wire tests cover them end to end). Each test scripts the answers and checks the
//! exact requests the client sent.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use vitrina_openstack::config::{AuthMethod, CloudConfig, DomainSpec, ScopeSpec, UserSpec};
use vitrina_openstack::wire::compute::{
    BlockDeviceMapping, ServerCreate, ServerCreateRequest, ServerNetwork, ServerNetworks,
};
use vitrina_openstack::wire::NameRef;
use vitrina_openstack::{Client, Error, Secret, WaitOptions};

const PROJECT: &str = "p0123";

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A scripted answer: status, extra headers, body.
type Answer = (u16, Vec<(&'static str, String)>, Value);

#[derive(Default)]
struct State {
    seen: Vec<Seen>,
    /// (method, path) → answers in order; the last one repeats.
    script: Vec<((String, String), VecDeque<Answer>)>,
    tokens_issued: usize,
}

struct Mock {
    base: String,
    state: Arc<Mutex<State>>,
}

impl Mock {
    async fn start() -> Mock {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let (served_base, served_state) = (base.clone(), state.clone());
        tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                let (base, state) = (served_base.clone(), served_state.clone());
                tokio::spawn(async move {
                    let _ = serve_one(socket, &base, &state).await;
                });
            }
        });
        Mock { base, state }
    }

    fn on(&self, method: &str, path: &str, answers: Vec<Answer>) {
        self.state.lock().unwrap().script.push((
            (method.to_owned(), path.to_owned()),
            answers.into_iter().collect(),
        ));
    }

    fn seen(&self, method: &str, path_prefix: &str) -> Vec<Seen> {
        self.state
            .lock()
            .unwrap()
            .seen
            .iter()
            .filter(|s| s.method == method && s.path.starts_with(path_prefix))
            .cloned()
            .collect()
    }

    fn client(&self) -> Client {
        Client::new(CloudConfig {
            name: None,
            auth_url: format!("{}/identity/v3", self.base),
            auth: AuthMethod::Password {
                user: UserSpec::Name {
                    name: "u".into(),
                    domain: DomainSpec::Name("users".into()),
                },
                password: Secret::new("pw"),
                scope: ScopeSpec::ProjectId(PROJECT.into()),
            },
            region_name: Some("RegionOne".into()),
            interface: "public".into(),
            verify: true,
            cacert: None,
            endpoint_overrides: Default::default(),
        })
        .unwrap()
    }
}

fn ok(body: Value) -> Answer {
    (200, Vec::new(), body)
}

async fn serve_one(
    socket: tokio::net::TcpStream,
    base: &str,
    state: &Mutex<State>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(socket);
    let mut line = String::new();
    reader.read_line(&mut line).await?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let mut headers = Vec::new();
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).await?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((k, v)) = header.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).await?;
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let seen = Seen {
        method: method.clone(),
        path: path.clone(),
        headers,
        body,
    };
    let (status, extra, answer) = answer_for(&seen, base, state);
    state.lock().unwrap().seen.push(seen);
    let text = if answer.is_null() {
        String::new()
    } else {
        answer.to_string()
    };
    let mut head = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\nx-openstack-request-id: req-mock-{}\r\n",
        text.len(),
        state.lock().unwrap().seen.len()
    );
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut socket = reader.into_inner();
    socket.write_all(head.as_bytes()).await?;
    socket.write_all(text.as_bytes()).await?;
    socket.shutdown().await
}

fn answer_for(seen: &Seen, base: &str, state: &Mutex<State>) -> Answer {
    let path_only = seen.path.split('?').next().unwrap_or_default();
    if seen.method == "GET" && path_only == "/identity/v3" {
        return ok(json!({"version": {"id": "v3.14", "status": "stable",
            "links": [{"rel": "self", "href": format!("{base}/identity/v3/")}]}}));
    }
    if seen.method == "POST" && path_only == "/identity/v3/auth/tokens" {
        let mut state = state.lock().unwrap();
        state.tokens_issued += 1;
        let token = format!("tok-{}", state.tokens_issued);
        let endpoint = |t: &str, url: String| {
            json!({"type": t, "id": t, "name": t,
            "endpoints": [{"id": "e", "interface": "public", "region_id": "RegionOne", "region": "RegionOne", "url": url}]})
        };
        return (
            201,
            vec![("x-subject-token", token)],
            json!({"token": {"methods": ["password"], "expires_at": "2099-01-01T00:00:00.000000Z",
            "issued_at": "2026-01-01T00:00:00.000000Z", "audit_ids": [],
            "user": {"id": "u1", "name": "u", "domain": {"id": "users", "name": "users"}, "password_expires_at": null},
            "project": {"id": PROJECT, "name": "demo", "domain": {"id": "users", "name": "users"}},
            "catalog": [
                endpoint("compute", format!("{base}/compute/v2.1")),
                endpoint("network", format!("{base}/network")),
                endpoint("volumev3", format!("{base}/volume/v3/%(project_id)s")),
                endpoint("image", format!("{base}/image")),
            ]}}),
        );
    }
    let mut state = state.lock().unwrap();
    let key = (seen.method.clone(), path_only.to_owned());
    match state.script.iter_mut().find(|(k, _)| *k == key) {
        Some((_, answers)) if answers.len() > 1 => {
            answers.pop_front().unwrap_or_else(|| ok(json!({})))
        }
        Some((_, answers)) => answers.front().cloned().unwrap_or_else(|| ok(json!({}))),
        None => (
            404,
            Vec::new(),
            json!({"itemNotFound": {"code": 404, "message": format!("no script for {} {}", seen.method, seen.path)}}),
        ),
    }
}

fn server(id: &str, status: &str) -> Value {
    json!({"id": id, "name": "vm", "status": status, "tenant_id": PROJECT, "user_id": "u1", "metadata": {},
        "hostId": "", "image": "", "flavor": {"id": "f1", "links": []}, "created": "", "updated": "",
        "addresses": {}, "accessIPv4": "", "accessIPv6": "", "links": [], "key_name": "kp",
        "OS-EXT-STS:power_state": 0, "OS-EXT-STS:task_state": null, "OS-EXT-STS:vm_state": "building",
        "config_drive": ""})
}

fn fast() -> WaitOptions {
    WaitOptions {
        timeout: std::time::Duration::from_secs(10),
        initial_interval: std::time::Duration::from_millis(5),
        max_interval: std::time::Duration::from_millis(20),
    }
}

#[tokio::test]
async fn server_boot_from_volume_create_wait_and_error_fault() {
    let mock = Mock::start().await;
    mock.on("POST", "/compute/v2.1/servers", vec![(202, Vec::new(),
        json!({"server": {"id": "s1", "links": [], "OS-DCF:diskConfig": "MANUAL", "adminPass": "generated"}}))]);
    mock.on(
        "GET",
        "/compute/v2.1/servers/s1",
        vec![
            ok(json!({"server": server("s1", "BUILD")})),
            ok(json!({"server": server("s1", "BUILD")})),
            ok(json!({"server": server("s1", "ACTIVE")})),
        ],
    );
    let mut failed = server("s2", "ERROR");
    failed["fault"] = json!({"code": 500, "message": "No valid host was found.", "created": ""});
    mock.on(
        "GET",
        "/compute/v2.1/servers/s2",
        vec![ok(json!({"server": failed}))],
    );
    let compute = mock.client().compute();
    let request = ServerCreateRequest {
        server: ServerCreate {
            name: "vm".into(),
            flavor_ref: "f1".into(),
            image_ref: Some(String::new()),
            key_name: Some("kp".into()),
            security_groups: Some(vec![NameRef { name: "sg".into() }]),
            networks: Some(ServerNetworks::List(vec![ServerNetwork {
                port: Some("port1".into()),
                ..Default::default()
            }])),
            availability_zone: Some("GZ1".into()),
            user_data: Some("IyEvYmluL3NoCg==".into()),
            block_device_mapping_v2: Some(vec![BlockDeviceMapping {
                boot_index: Some(0),
                uuid: Some("vol1".into()),
                source_type: "volume".into(),
                destination_type: Some("volume".into()),
                delete_on_termination: Some(false),
                ..Default::default()
            }]),
            ..Default::default()
        },
        scheduler_hints: None,
    };
    let created = compute.create_server(&request).await.unwrap();
    assert_eq!(created.id, "s1");
    assert_eq!(format!("{:?}", created.admin_pass), "Some(<redacted>)");
    let sent = &mock.seen("POST", "/compute/v2.1/servers")[0];
    assert_eq!(sent.header("x-auth-token"), Some("tok-1"));
    assert_eq!(
        sent.body,
        json!({"server": {"name": "vm", "flavorRef": "f1", "imageRef": "", "key_name": "kp",
        "security_groups": [{"name": "sg"}], "networks": [{"port": "port1"}], "availability_zone": "GZ1",
        "user_data": "IyEvYmluL3NoCg==",
        "block_device_mapping_v2": [{"boot_index": 0, "uuid": "vol1", "source_type": "volume",
            "destination_type": "volume", "delete_on_termination": false}]}})
    );
    let active = compute
        .wait_server("s1", &["ACTIVE"], fast())
        .await
        .unwrap();
    assert_eq!(active.status, "ACTIVE");
    assert_eq!(mock.seen("GET", "/compute/v2.1/servers/s1").len(), 3);
    let error = compute
        .wait_server("s2", &["ACTIVE"], fast())
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "server `s2` went to status `ERROR`: No valid host was found."
    );
}

#[tokio::test]
async fn listings_follow_next_links_and_deletes_tolerate_404() {
    let mock = Mock::start().await;
    let base = mock.base.clone();
    mock.on("GET", "/compute/v2.1/servers/detail", vec![
        ok(json!({"servers": [server("a", "ACTIVE")],
            "servers_links": [{"rel": "next", "href": format!("{base}/compute/v2.1/servers/detail?marker=a")}]})),
        ok(json!({"servers": [server("b", "ACTIVE")]})),
    ]);
    mock.on(
        "DELETE",
        "/compute/v2.1/servers/gone",
        vec![(
            404,
            Vec::new(),
            json!({"itemNotFound": {"code": 404, "message": "Instance gone could not be found."}}),
        )],
    );
    let compute = mock.client().compute();
    let servers = compute
        .list_servers(&vec![("name".into(), "vm".into())])
        .await
        .unwrap();
    assert_eq!(
        servers.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        vec!["a", "b"]
    );
    let pages = mock.seen("GET", "/compute/v2.1/servers/detail");
    assert_eq!(pages[0].path, "/compute/v2.1/servers/detail?name=vm");
    assert_eq!(pages[1].path, "/compute/v2.1/servers/detail?marker=a");
    assert!(!compute.delete_server("gone").await.unwrap());
}

#[tokio::test]
async fn neutron_sends_x_sdn_and_null_port_and_reports_neutron_errors() {
    let mock = Mock::start().await;
    mock.on(
        "GET",
        "/network/v2.0/available-sdn",
        vec![ok(json!(["NEUTRON", "Sprut"]))],
    );
    let fip = json!({"id": "f1", "floating_ip_address": "203.0.113.5", "floating_network_id": "ext",
        "port_id": null, "fixed_ip_address": null, "router_id": null, "status": "DOWN"});
    mock.on(
        "PUT",
        "/network/v2.0/floatingips/f1",
        vec![ok(json!({"floatingip": fip}))],
    );
    mock.on("POST", "/network/v2.0/ports", vec![(404, Vec::new(),
        json!({"NeutronError": {"type": "NetworkNotFound", "message": "Network n9 could not be found.", "detail": ""}}))]);
    let network = mock.client().network().with_sdn("sprut").unwrap();
    assert_eq!(
        network.available_sdn().await.unwrap(),
        vec!["neutron", "sprut"]
    );
    assert_eq!(
        mock.seen("GET", "/network/v2.0/available-sdn")[0].header("x-sdn"),
        Some("sprut")
    );
    network.disassociate_floating_ip("f1").await.unwrap();
    assert_eq!(
        mock.seen("PUT", "/network/v2.0/floatingips/f1")[0].body,
        json!({"floatingip": {"port_id": null}})
    );
    let error = network
        .create_port(&vitrina_openstack::wire::network::PortCreate {
            network_id: Some("n9".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(error.is_not_found());
    assert_eq!(error.api_message(), Some("Network n9 could not be found."));
    assert!(error
        .request_id()
        .is_some_and(|r| r.starts_with("req-mock-")));
}

#[tokio::test]
async fn cinder_endpoint_has_the_project_and_actions_match_the_api() {
    let mock = Mock::start().await;
    let volume = |status: &str| {
        json!({"volume": {"id": "v1", "status": status, "size": 10, "bootable": "false",
        "attachments": [], "metadata": {}, "name": null}})
    };
    mock.on(
        "POST",
        &format!("/volume/v3/{PROJECT}/volumes/v1/action"),
        vec![(202, Vec::new(), Value::Null)],
    );
    mock.on(
        "GET",
        &format!("/volume/v3/{PROJECT}/volumes/v1"),
        vec![ok(volume("extending")), ok(volume("error_extending"))],
    );
    let cinder = mock.client().block_storage();
    cinder.extend_volume("v1", 20).await.unwrap();
    cinder.retype_volume("v1", "ceph-hdd").await.unwrap();
    let actions = mock.seen("POST", &format!("/volume/v3/{PROJECT}/volumes/v1/action"));
    assert_eq!(actions[0].body, json!({"os-extend": {"new_size": 20}}));
    assert_eq!(
        actions[1].body,
        json!({"os-retype": {"new_type": "ceph-hdd", "migration_policy": "on-demand"}})
    );
    let error = cinder
        .wait_volume("v1", &["available"], fast())
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::ResourceFailed { ref status, .. } if status == "error_extending"),
        "{error}"
    );
}

#[tokio::test]
async fn a_401_triggers_one_new_token_and_one_retry() {
    let mock = Mock::start().await;
    mock.on("GET", "/compute/v2.1/flavors/f1", vec![
        (401, Vec::new(), json!({"error": {"code": 401, "message": "The request you have made requires authentication.", "title": "Unauthorized"}})),
        ok(json!({"flavor": {"id": "f1", "name": "Standard-2-4-40", "ram": 4096, "vcpus": 2, "disk": 40, "swap": "",
            "os-flavor-access:is_public": true, "links": []}})),
    ]);
    mock.on(
        "GET",
        "/compute/v2.1/flavors/f1/os-extra_specs",
        vec![ok(json!({"extra_specs": {"gpu": "1"}}))],
    );
    let client = mock.client();
    let flavor = client
        .compute()
        .get_flavor_with_extra_specs("f1")
        .await
        .unwrap();
    assert_eq!(flavor.extra_specs.unwrap()["gpu"], "1");
    let tries = mock.seen("GET", "/compute/v2.1/flavors/f1");
    assert_eq!(tries[0].header("x-auth-token"), Some("tok-1"));
    assert_eq!(tries[1].header("x-auth-token"), Some("tok-2"));
    assert_eq!(mock.state.lock().unwrap().tokens_issued, 2);
}
