//! The example applications end to end on `vitrina serve --demo`: `vitrina tf apply` of the
//! grafana package's manifest adapted to localcloud (`examples/tf/grafana-localcloud`) in both
//! placements, and then an HTTP GET from here at the URL its outputs name (the external one
//! through its `ivkcs_dns` name and floating IP).

mod ivkcs_support;
use ivkcs_support::*;

const GRAFANA: &str = include_str!("../../../examples/tf/grafana-localcloud/main.tf");

/// The grafana manifest on localcloud's shared network (internal placement, backup to an
/// `ivkcs_s3` bucket): the step writes grafana.ini from the playbook's settings and starts the
/// stand-in, the check on /api/health turns healthy, and `grafana_url` answers: the login page
/// names Grafana and the admin user, /api/health says the database is ok, /api/user wants the
/// admin's password from the outputs.
#[test]
fn grafana_deploys_on_localcloud_and_answers_at_its_url() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let (serve, env) = serve(&data);
    let third = std::process::id() % 200 + 23;
    let net = ProjectNet::apply(
        &env,
        dir.path(),
        "grafana",
        &format!("127.80.{third}.0/24"),
        false,
    );
    let tf = dir.path().join("grafana");
    std::fs::create_dir_all(&tf).expect("tf dir");
    std::fs::write(tf.join("main.tf"), GRAFANA).expect("main.tf");
    let port = free_port();
    let vars: Vec<String> = vec![
        format!("ds-subnet={}", net.subnet),
        format!("grafana_port={port}"),
        "admin_user=grafana-owner".to_owned(),
        "backup_style=s3".to_owned(),
    ];
    let app_servers = AppServers(data.clone());
    let started = std::time::Instant::now();
    tf_must(&env, "apply", &tf, &vars, &[]);
    eprintln!("grafana apply to healthy: {:?}", started.elapsed());
    let outputs = tf_outputs(&env, &tf);
    let url = outputs["grafana_url"]["value"]
        .as_str()
        .expect("grafana_url")
        .to_owned();
    assert!(url.ends_with(&format!(":{port}")), "{url}");
    let password = outputs["admin_password"]["value"]
        .as_str()
        .expect("admin_password")
        .to_owned();
    assert!(
        outputs["s3_backup"]["value"]
            .as_str()
            .is_some_and(|b| b.ends_with("-grafana-backup")),
        "{outputs}"
    );

    let (status, body) = http_get(&format!("{url}/"), None);
    assert!(status.contains(" 200 "), "{status}");
    assert!(body.contains("<title>Grafana</title>"), "{body}");
    assert!(body.contains("<b>grafana-owner</b>"), "{body}");
    assert!(
        body.contains(&url),
        "the root URL reached grafana.ini: {body}"
    );
    let (status, body) = http_get(&format!("{url}/api/health"), None);
    assert!(status.contains(" 200 "), "{status}");
    let health: serde_json::Value = serde_json::from_str(&body).expect("health JSON");
    assert_eq!(health["database"], "ok", "{health}");
    let (status, _) = http_get(&format!("{url}/api/user"), None);
    assert!(status.contains(" 401 "), "{status}");
    let (status, _) = http_get(
        &format!("{url}/api/user"),
        Some(&format!("grafana-owner:not-{password}")),
    );
    assert!(status.contains(" 401 "), "{status}");
    let (status, body) = http_get(
        &format!("{url}/api/user"),
        Some(&format!("grafana-owner:{password}")),
    );
    assert!(status.contains(" 200 "), "{status}");
    let user: serde_json::Value = serde_json::from_str(&body).expect("user JSON");
    assert_eq!(user["login"], "grafana-owner", "{user}");
    let (status, body) = http_get(&format!("{url}/api/frontend/settings"), None);
    assert!(status.contains(" 200 "), "{status}");
    let settings: serde_json::Value = serde_json::from_str(&body).expect("settings JSON");
    assert_eq!(settings["backup"]["enabled"], true, "{settings}");

    app_servers.stop();
    tf_must(&env, "destroy", &tf, &vars, &[]);
    net.destroy(&env);
    drop(serve);
}

/// The external placement on an isolated network behind a router: a floating IP and an
/// `ivkcs_dns` name for it; `grafana_url` names that name, the server's DNS server answers it with
/// the floating IP (`dig`), and Grafana answers there.
#[test]
fn grafana_external_answers_at_its_dns_name_over_a_floating_ip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let (serve, env) = serve_with(&data, "5m", "auto");
    let net = ProjectNet::apply(&env, dir.path(), "grafana", "192.168.95.0/24", true);
    let tf = dir.path().join("grafana");
    std::fs::create_dir_all(&tf).expect("tf dir");
    std::fs::write(tf.join("main.tf"), GRAFANA).expect("main.tf");
    let vars: Vec<String> = vec![
        format!("ds-subnet={}", net.subnet),
        "grafana_port=3000".to_owned(),
        "grafana_placement=external".to_owned(),
        "backup_style=none".to_owned(),
    ];
    tf_must(&env, "apply", &tf, &vars, &[]);
    let outputs = tf_outputs(&env, &tf);
    let url = outputs["grafana_url"]["value"]
        .as_str()
        .expect("grafana_url")
        .to_owned();
    let fip = outputs["floating_ip"]["value"]
        .as_str()
        .expect("floating_ip")
        .to_owned();
    let name = url
        .strip_prefix("http://")
        .and_then(|r| r.strip_suffix(":3000"))
        .unwrap_or_else(|| panic!("{url}"))
        .to_owned();
    assert!(name.ends_with(".xaas.msk.vkcs.cloud"), "{url}");
    assert_eq!(outputs["s3_backup"]["value"], "n/a", "{outputs}");
    // The machine's DNS server (127.0.0.1) answers the name with the floating IP.
    let local = outputs["dns_servers"]["value"]
        .as_array()
        .expect("dns_servers")
        .iter()
        .filter_map(|s| s.as_str())
        .find(|s| s.starts_with("127.0.0.1:"))
        .expect("the machine's DNS server")
        .to_owned();
    let (server, port) = local.split_once(':').expect("host:port");
    let dig = std::process::Command::new("dig")
        .args([&format!("@{server}"), "-p", port, "+short", &name, "A"])
        .output()
        .expect("dig runs (apt-get install bind9-dnsutils)");
    assert_eq!(
        String::from_utf8_lossy(&dig.stdout).trim(),
        fip,
        "{}",
        String::from_utf8_lossy(&dig.stderr)
    );
    let (status, body) = http_get_when_up(&format!("http://{fip}:3000/"), None);
    assert!(status.contains(" 200 "), "{status}");
    assert!(body.contains("<title>Grafana</title>"), "{body}");
    assert!(
        body.contains(&url),
        "the root URL names the DNS name: {body}"
    );
    let (status, body) = http_get(&format!("http://{fip}:3000/api/health"), None);
    assert!(
        status.contains(" 200 ") && body.contains("\"ok\""),
        "{status} {body}"
    );

    tf_must(&env, "destroy", &tf, &vars, &[]);
    net.destroy(&env);
    drop(serve);
}
