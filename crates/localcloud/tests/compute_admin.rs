//! Nova's server actions and admin views python-openstackclient's functional tests use, over real
//! HTTP: pause/suspend stop the VM's processes (SIGSTOP) and unpause/resume run them again,
//! rescue/unrescue, lock, the instance actions recorded for each (kept after delete), server
//! groups (a hard anti-affinity group takes one server on the one host), aggregates with the
//! host, hypervisors, migrations, quota classes and metadata by key.

mod common;

use std::time::Duration;

use common::TestCloud;
use reqwest::Method;
use serde_json::{json, Value};

async fn admin_token(tc: &TestCloud) -> String {
    let creds = tc.cloud.credentials();
    tc.password_token(&creds.admin.username, &creds.admin.password, "admin")
        .await
}

async fn call_mv(
    tc: &TestCloud,
    token: &str,
    mv: &str,
    m: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = tc
        .http
        .request(m, tc.url(path))
        .header("x-auth-token", token)
        .header("openstack-api-version", format!("compute {mv}"));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.expect("body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// The state letter of the VM's leader process (`T` when stopped by a signal).
fn leader_state(tc: &TestCloud, server: &str) -> char {
    let pid_file = tc
        .dir
        .path()
        .join("instances")
        .join(server)
        .join("var/lib/cloud/pid");
    let pid = std::fs::read_to_string(&pid_file)
        .expect("the VM's pid file")
        .trim()
        .to_owned();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the VM runs");
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next())
        .expect("state")
}

async fn wait_leader(tc: &TestCloud, server: &str, stopped: bool) {
    tc.wait_for(
        &format!("the VM's leader stopped={stopped}"),
        Duration::from_secs(20),
        || async move { ((leader_state(tc, server) == 'T') == stopped).then_some(()) },
    )
    .await;
}

fn actions(v: &Value) -> Vec<String> {
    v["instanceActions"]
        .as_array()
        .expect("instanceActions")
        .iter()
        .map(|a| a["action"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_and_suspend_stop_the_vm_and_every_action_is_recorded() {
    let tc = TestCloud::start().await;
    let (net, _) = tc.network("acts", "10.78.0.0/24").await;
    let id = tc.boot("acts", &net, None).await;
    tc.wait_status(&id, "ACTIVE").await;
    assert_ne!(leader_state(&tc, &id), 'T');

    let (s, v) = tc.action(&id, json!({"pause": null})).await;
    assert_eq!(s, 202, "{v}");
    let v = tc.wait_status(&id, "PAUSED").await;
    assert_eq!(v["server"]["OS-EXT-STS:vm_state"], "paused");
    wait_leader(&tc, &id, true).await;
    // Nova's 409 for an action the state does not allow.
    let (s, _) = tc.action(&id, json!({"suspend": null})).await;
    assert_eq!(s, 409);
    let (s, _) = tc.action(&id, json!({"unpause": null})).await;
    assert_eq!(s, 202);
    tc.wait_status(&id, "ACTIVE").await;
    wait_leader(&tc, &id, false).await;

    let (s, _) = tc.action(&id, json!({"suspend": null})).await;
    assert_eq!(s, 202);
    tc.wait_status(&id, "SUSPENDED").await;
    wait_leader(&tc, &id, true).await;
    let (s, _) = tc.action(&id, json!({"resume": null})).await;
    assert_eq!(s, 202);
    tc.wait_status(&id, "ACTIVE").await;
    wait_leader(&tc, &id, false).await;

    // Rescue restarts the VM in RESCUE; a rescue image must exist.
    let (s, _) = tc
        .action(
            &id,
            json!({"rescue": {"rescue_image_ref": "no-such-image"}}),
        )
        .await;
    assert_eq!(s, 400);
    let (s, v) = tc.action(&id, json!({"rescue": null})).await;
    assert_eq!(s, 200, "{v}");
    assert!(v["adminPass"].is_string(), "{v}");
    let v = tc.wait_status(&id, "RESCUE").await;
    assert_eq!(v["server"]["OS-EXT-STS:vm_state"], "rescued");
    let (s, _) = tc.action(&id, json!({"unrescue": null})).await;
    assert_eq!(s, 202);
    tc.wait_status(&id, "ACTIVE").await;

    // Metadata by key.
    let (s, _) = tc
        .call(
            Method::PUT,
            &format!("/compute/v2.1/servers/{id}/metadata/a"),
            Some(r#"{"meta": {"a": "b"}}"#),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = tc
        .call(
            Method::DELETE,
            &format!("/compute/v2.1/servers/{id}/metadata/a"),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (s, _) = tc
        .call(
            Method::DELETE,
            &format!("/compute/v2.1/servers/{id}/metadata/a"),
            None,
        )
        .await;
    assert_eq!(s, 404);

    // A locked server refuses its member's actions and delete; an admin's pass.
    let (s, _) = tc.action(&id, json!({"lock": null})).await;
    assert_eq!(s, 202);
    let v = tc.get(&format!("/compute/v2.1/servers/{id}")).await;
    assert_eq!(v["server"]["locked"], Value::Null, "2.1 has no `locked`");
    let (_, v) = call_mv(
        &tc,
        &tc.token,
        "2.9",
        Method::GET,
        &format!("/compute/v2.1/servers/{id}"),
        None,
    )
    .await;
    assert_eq!(v["server"]["locked"], true, "{v}");
    let (s, v) = tc.action(&id, json!({"os-stop": null})).await;
    assert_eq!(s, 409, "{v}");
    let (s, _) = tc
        .call(Method::DELETE, &format!("/compute/v2.1/servers/{id}"), None)
        .await;
    assert_eq!(s, 409);
    let (s, _) = tc.action(&id, json!({"unlock": null})).await;
    assert_eq!(s, 202);

    let token = tc.token.clone();
    let (s, v) = call_mv(
        &tc,
        &token,
        "2.21",
        Method::GET,
        &format!("/compute/v2.1/servers/{id}/os-instance-actions"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    // Newest first.
    assert_eq!(
        actions(&v),
        vec![
            "unlock", "lock", "unrescue", "rescue", "resume", "suspend", "unpause", "pause",
            "create"
        ],
        "{v}"
    );
    let req = v["instanceActions"][8]["request_id"]
        .as_str()
        .expect("request id")
        .to_owned();
    let (s, v) = call_mv(
        &tc,
        &token,
        "2.21",
        Method::GET,
        &format!("/compute/v2.1/servers/{id}/os-instance-actions/{req}"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["instanceAction"]["action"], "create");
    assert_eq!(
        v["instanceAction"]["events"][0]["event"],
        "compute__do_build_and_run_instance"
    );

    // The actions outlive the server (2.21), not before.
    let (s, _) = tc
        .call(Method::DELETE, &format!("/compute/v2.1/servers/{id}"), None)
        .await;
    assert_eq!(s, 204);
    let (s, v) = call_mv(
        &tc,
        &token,
        "2.21",
        Method::GET,
        &format!("/compute/v2.1/servers/{id}/os-instance-actions"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(actions(&v).first().map(String::as_str), Some("delete"));
    let (s, _) = call_mv(
        &tc,
        &token,
        "2.20",
        Method::GET,
        &format!("/compute/v2.1/servers/{id}/os-instance-actions"),
        None,
    )
    .await;
    assert_eq!(s, 404);
    drop(tc);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anti_affinity_groups_take_one_server_on_the_one_host() {
    let tc = TestCloud::start().await;
    let (net, _) = tc.network("groups", "10.79.0.0/24").await;
    let token = tc.token.clone();
    let (s, v) = call_mv(
        &tc,
        &token,
        "2.64",
        Method::POST,
        "/compute/v2.1/os-server-groups",
        Some(json!({"server_group": {"name": "apart", "policy": "anti-affinity"}})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["server_group"]["policy"], "anti-affinity");
    let group = v["server_group"]["id"].as_str().expect("id").to_owned();
    let (_, v) = call_mv(
        &tc,
        &token,
        "2.1",
        Method::GET,
        &format!("/compute/v2.1/os-server-groups/{group}"),
        None,
    )
    .await;
    assert_eq!(v["server_group"]["policies"], json!(["anti-affinity"]));

    let image = tc.base_image().await;
    let flavor = tc.flavor("Basic-1-2-20").await;
    let mut ids = Vec::new();
    for name in ["one", "two"] {
        let (s, v) = tc
            .post(
                "/compute/v2.1/servers",
                json!({"server": {"name": name, "flavorRef": flavor, "imageRef": image,
                                  "networks": [{"uuid": net}]},
                       "os:scheduler_hints": {"group": group}}),
            )
            .await;
        assert_eq!(s, 202, "{v}");
        ids.push(v["server"]["id"].as_str().expect("id").to_owned());
    }
    tc.wait_status(&ids[0], "ACTIVE").await;
    let v = tc.wait_status(&ids[1], "ERROR").await;
    assert!(
        v["server"]["fault"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("No valid host")),
        "{v}"
    );
    let v = tc
        .get(&format!("/compute/v2.1/os-server-groups/{group}"))
        .await;
    assert_eq!(v["server_group"]["members"], json!(ids), "{v}");
    // A group the caller cannot see is refused.
    let (s, _) = tc
        .post(
            "/compute/v2.1/servers",
            json!({"server": {"name": "x", "flavorRef": flavor, "imageRef": image,
                              "networks": [{"uuid": net}]},
                   "os:scheduler_hints": {"group": "no-such-group"}}),
        )
        .await;
    assert_eq!(s, 400);
    for id in &ids {
        let (s, _) = tc
            .call(Method::DELETE, &format!("/compute/v2.1/servers/{id}"), None)
            .await;
        assert_eq!(s, 204);
    }
    let v = tc
        .get(&format!("/compute/v2.1/os-server-groups/{group}"))
        .await;
    assert_eq!(v["server_group"]["members"], json!([]), "{v}");
    let (s, _) = tc
        .call(
            Method::DELETE,
            &format!("/compute/v2.1/os-server-groups/{group}"),
            None,
        )
        .await;
    assert_eq!(s, 204);
    drop(tc);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_see_the_host_its_hypervisor_aggregates_and_quota_class() {
    let tc = TestCloud::start().await;
    let admin = admin_token(&tc).await;
    let demo = tc.token.clone();

    let (s, _) = call_mv(
        &tc,
        &demo,
        "2.1",
        Method::GET,
        "/compute/v2.1/os-hosts",
        None,
    )
    .await;
    assert_eq!(s, 403);
    let (s, v) = call_mv(
        &tc,
        &admin,
        "2.1",
        Method::GET,
        "/compute/v2.1/os-hosts",
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let host = v["hosts"][0]["host_name"]
        .as_str()
        .expect("host")
        .to_owned();

    let (s, v) = call_mv(
        &tc,
        &admin,
        "2.1",
        Method::GET,
        "/compute/v2.1/os-hypervisors/detail",
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let h = &v["hypervisors"][0];
    assert_eq!(h["id"], 1);
    assert_eq!(h["hypervisor_hostname"], host.as_str());
    assert!(h["vcpus"].as_u64().is_some_and(|n| n >= 1), "{v}");
    assert!(h["memory_mb"].as_u64().is_some_and(|n| n > 0), "{v}");
    let (s, v) = call_mv(
        &tc,
        &admin,
        "2.53",
        Method::GET,
        "/compute/v2.1/os-hypervisors",
        None,
    )
    .await;
    assert_eq!(s, 200);
    let uuid = v["hypervisors"][0]["id"].as_str().expect("uuid").to_owned();
    let (s, v) = call_mv(
        &tc,
        &admin,
        "2.53",
        Method::GET,
        &format!("/compute/v2.1/os-hypervisors/{uuid}/uptime"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert!(
        v["hypervisor"]["uptime"]
            .as_str()
            .is_some_and(|u| u.contains(" up ") && u.contains("load average")),
        "{v}"
    );

    let (s, v) = call_mv(
        &tc,
        &admin,
        "2.1",
        Method::POST,
        "/compute/v2.1/os-aggregates",
        Some(json!({"aggregate": {"name": "agg", "availability_zone": "nova"}})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let agg = v["aggregate"]["id"].as_i64().expect("integer id");
    let (s, _) = call_mv(
        &tc,
        &admin,
        "2.1",
        Method::POST,
        "/compute/v2.1/os-aggregates",
        Some(json!({"aggregate": {"name": "agg"}})),
    )
    .await;
    assert_eq!(s, 409);
    let (s, v) = call_mv(
        &tc,
        &admin,
        "2.1",
        Method::POST,
        &format!("/compute/v2.1/os-aggregates/{agg}/action"),
        Some(json!({"add_host": {"host": host}})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["aggregate"]["hosts"], json!([host]));
    let (s, _) = call_mv(
        &tc,
        &admin,
        "2.1",
        Method::POST,
        &format!("/compute/v2.1/os-aggregates/{agg}/action"),
        Some(json!({"add_host": {"host": "elsewhere"}})),
    )
    .await;
    assert_eq!(s, 404);
    let (s, v) = call_mv(
        &tc,
        &admin,
        "2.1",
        Method::POST,
        &format!("/compute/v2.1/os-aggregates/{agg}/action"),
        Some(json!({"set_metadata": {"metadata": {"a": "b"}}})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["aggregate"]["metadata"]["a"], "b");
    // Not while it has a host.
    let (s, _) = call_mv(
        &tc,
        &admin,
        "2.1",
        Method::DELETE,
        &format!("/compute/v2.1/os-aggregates/{agg}"),
        None,
    )
    .await;
    assert_eq!(s, 400);
    let (s, _) = call_mv(
        &tc,
        &admin,
        "2.1",
        Method::POST,
        &format!("/compute/v2.1/os-aggregates/{agg}/action"),
        Some(json!({"remove_host": {"host": host}})),
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = call_mv(
        &tc,
        &admin,
        "2.1",
        Method::DELETE,
        &format!("/compute/v2.1/os-aggregates/{agg}"),
        None,
    )
    .await;
    assert_eq!(s, 200);

    let (s, v) = call_mv(
        &tc,
        &admin,
        "2.1",
        Method::GET,
        "/compute/v2.1/os-migrations",
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["migrations"], json!([]));

    // The default quota class: a project without limits of its own gets them.
    let (s, _) = call_mv(
        &tc,
        &demo,
        "2.1",
        Method::PUT,
        "/compute/v2.1/os-quota-class-sets/default",
        Some(json!({"quota_class_set": {"cores": 3}})),
    )
    .await;
    assert_eq!(s, 403);
    let (s, v) = call_mv(
        &tc,
        &admin,
        "2.1",
        Method::PUT,
        "/compute/v2.1/os-quota-class-sets/default",
        Some(json!({"quota_class_set": {"cores": 3, "key_pairs": 33}})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let (_, v) = call_mv(
        &tc,
        &demo,
        "2.1",
        Method::GET,
        &format!("/compute/v2.1/os-quota-sets/{}", tc.project_id),
        None,
    )
    .await;
    assert_eq!(v["quota_set"]["cores"], 3, "{v}");
    assert_eq!(v["quota_set"]["key_pairs"], 33, "{v}");
    let (_, v) = call_mv(
        &tc,
        &demo,
        "2.1",
        Method::GET,
        &format!("/compute/v2.1/os-quota-sets/{}/defaults", tc.project_id),
        None,
    )
    .await;
    assert_eq!(v["quota_set"]["cores"], 3, "{v}");
    drop(tc);
}
