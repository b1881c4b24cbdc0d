//! The example applications end to end on `vitrina serve --demo`: `vitrina tf apply` of the
//! grafana package's manifest adapted to localcloud (`examples/tf/grafana-localcloud`), and then
//! an HTTP GET from here at the URL its outputs name.

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
