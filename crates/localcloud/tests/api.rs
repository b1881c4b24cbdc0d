//! localcloud over real HTTP: the OpenStack behaviours the spec fixes, bad input, cloud-init,
//! persistence across a restart.

mod common;

use std::time::Duration;

use common::TestCloud;
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn keystone_discovery_token_and_catalog() {
    let tc = TestCloud::start().await;
    let r = tc
        .http
        .get(format!("{}/identity", tc.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 300);
    let v: Value = tc
        .http
        .get(format!("{}/identity/v3", tc.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["version"]["id"], "v3.14");
    // Validate our own token and read the catalog.
    let resp = tc
        .http
        .get(format!("{}/identity/v3/auth/tokens", tc.base))
        .header("x-auth-token", &tc.token)
        .header("x-subject-token", &tc.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["token"]["project"]["name"], "demo");
    let catalog = body["token"]["catalog"].as_array().unwrap();
    let vol = catalog.iter().find(|e| e["type"] == "volumev3").unwrap();
    let url = vol["endpoints"][0]["url"].as_str().unwrap();
    assert_eq!(
        url,
        format!("{}/volume/v3/{}", tc.base, tc.project_id),
        "project id substituted"
    );
    // Wrong password → 401 in Keystone's format.
    let (s, v) = tc
        .post("/identity/v3/auth/tokens", json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "demo", "domain": {"id": "default"}, "password": "nope"}}}}}))
        .await;
    assert_eq!(s, 401);
    assert_eq!(v["error"]["code"], 401);
    // Token method re-scopes.
    let (s, _) = tc
        .post("/identity/v3/auth/tokens", json!({"auth": {"identity": {"methods": ["token"], "token": {"id": tc.token}}, "scope": {"project": {"id": tc.project_id}}}}))
        .await;
    assert_eq!(s, 201);
}

#[tokio::test]
async fn application_credentials_authenticate() {
    let tc = TestCloud::start().await;
    let (_, tok) = tc
        .call_as(&tc.token, Method::GET, "/identity/v3/auth/projects", None)
        .await;
    assert!(tok["projects"].as_array().is_some_and(|p| p.len() == 1));
    let creds = tc.cloud.credentials();
    let demo = &creds.projects["demo"];
    let resp = tc
        .http
        .post(format!("{}/identity/v3/auth/tokens", tc.base))
        .json(&json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": demo.username, "domain": {"name": "Default"}, "password": demo.password}}}}}))
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    let user_id = body["token"]["user"]["id"].as_str().unwrap().to_owned();
    let (s, ac) = tc
        .post(
            &format!("/identity/v3/users/{user_id}/application_credentials"),
            json!({"application_credential": {"name": "ci"}}),
        )
        .await;
    assert_eq!(s, 201, "{ac}");
    let (id, secret) = (
        ac["application_credential"]["id"].as_str().unwrap(),
        ac["application_credential"]["secret"].as_str().unwrap(),
    );
    let (s, v) = tc.post("/identity/v3/auth/tokens", json!({"auth": {"identity": {"methods": ["application_credential"], "application_credential": {"id": id, "secret": secret}}}})).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["token"]["project"]["id"], tc.project_id.as_str());
}

#[tokio::test]
async fn bad_input_gets_openstack_400_bodies() {
    let tc = TestCloud::start().await;
    let cases: &[(&str, &str, &str, &str)] = &[
        // (path, body, error key, message fragment)
        (
            "/compute/v2.1/servers",
            "{not json",
            "badRequest",
            "Malformed request body",
        ),
        (
            "/compute/v2.1/servers",
            r#"{"server": {"name": "a", "flavorRef": "x", "networks": "none", "colour": "red"}}"#,
            "badRequest",
            "Additional properties are not allowed ('colour' was unexpected)",
        ),
        (
            "/compute/v2.1/servers",
            r#"{"server": {"flavorRef": "x", "networks": "none"}}"#,
            "badRequest",
            "'name' is a required property",
        ),
        (
            "/compute/v2.1/servers",
            r#"{"server": {"name": 5, "flavorRef": "x", "networks": "none"}}"#,
            "badRequest",
            "is not of type 'string'",
        ),
        (
            "/compute/v2.1/servers",
            r#"[1, 2]"#,
            "badRequest",
            "is not of type 'object'",
        ),
        (
            "/compute/v2.1/os-keypairs",
            r#"{"keypair": {"name": "k", "public_key": "garbage"}}"#,
            "badRequest",
            "Keypair data is invalid",
        ),
        (
            "/networking/v2.0/networks",
            "{oops",
            "NeutronError",
            "Malformed request body",
        ),
        (
            "/networking/v2.0/networks",
            r#"{"network": {"name": "n", "bogus": 1}}"#,
            "NeutronError",
            "Unrecognized attribute(s) 'bogus'",
        ),
        (
            "/networking/v2.0/subnets",
            r#"{"subnet": {"cidr": "10.0.0.0/24", "ip_version": 4}}"#,
            "NeutronError",
            "Required attribute 'network_id' not specified",
        ),
        (
            "/networking/v2.0/networks",
            r#"{"network": {"admin_state_up": "maybe"}}"#,
            "NeutronError",
            "Invalid input for admin_state_up",
        ),
        (
            "/volume/v3/{project}/volumes",
            "nope",
            "badRequest",
            "Malformed request body",
        ),
        (
            "/volume/v3/{project}/volumes",
            r#"{"volume": {"size": 1, "flavour": 2}}"#,
            "badRequest",
            "Additional properties are not allowed",
        ),
        (
            "/volume/v3/{project}/volumes",
            r#"{"volume": {"size": "big"}}"#,
            "badRequest",
            "is not of type 'integer'",
        ),
        (
            "/volume/v3/{project}/snapshots",
            r#"{"snapshot": {"volume_id": ["x"], "force": 2}}"#,
            "badRequest",
            "is not of type 'string, null'",
        ),
        (
            "/volume/v3/{project}/snapshots",
            r#"{"snapshot": {"volume_id": "00000000-0000-4000-8000-000000000000", "force": {}}}"#,
            "badRequest",
            "is not of type 'boolean'",
        ),
        (
            "/identity/v3/auth/tokens",
            r#"{"auth": {}}"#,
            "error",
            "'identity' is a required property",
        ),
        (
            "/identity/v3/auth/tokens",
            r#"{"auth": {"identity": {"methods": "password"}}}"#,
            "error",
            "is not of type 'array'",
        ),
        (
            "/image/v2/images",
            r#"{"name": "x", "min_disk": "ten"}"#,
            "",
            "is not of type 'integer'",
        ),
        (
            "/image/v2/images",
            r#"{"name": "x", "disk_format": "floppy"}"#,
            "",
            "Invalid disk format",
        ),
    ];
    for (path, body, key, fragment) in cases {
        let (status, text, json) = raw(&tc, Method::POST, path, body).await;
        assert_eq!(status, 400, "{path} {body}: {text}");
        if key.is_empty() {
            assert!(text.contains(fragment), "{path} {body}: {text}");
        } else {
            let msg = json[*key]["message"].as_str().unwrap_or_default();
            assert!(
                msg.contains(fragment),
                "{path} {body}: want `{fragment}` in {text}"
            );
        }
    }
}

async fn raw(tc: &TestCloud, method: Method, path: &str, body: &str) -> (u16, String, Value) {
    let resp = tc
        .http
        .request(method, tc.url(path))
        .header("x-auth-token", &tc.token)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, text, json)
}

#[tokio::test]
async fn random_bodies_never_give_500() {
    let tc = TestCloud::start().await;
    let paths = [
        "/compute/v2.1/servers",
        "/compute/v2.1/os-keypairs",
        "/networking/v2.0/networks",
        "/networking/v2.0/subnets",
        "/networking/v2.0/ports",
        "/networking/v2.0/security-group-rules",
        "/networking/v2.0/floatingips",
        "/networking/v2.0/routers",
        "/volume/v3/{project}/volumes",
        "/volume/v3/{project}/snapshots",
        "/image/v2/images",
        "/identity/v3/auth/tokens",
    ];
    let bodies = [
        "", "null", "1", "\"s\"", "[]", "{}", "{\"server\": null}", "{\"network\": []}", "{\"subnet\": {\"network_id\": 1, \"ip_version\": \"x\"}}",
        "{\"port\": {\"network_id\": \"nope\", \"fixed_ips\": [1]}}", "{\"security_group_rule\": {\"security_group_id\": \"x\", \"direction\": \"up\", \"port_range_min\": -5}}",
        "{\"floatingip\": {\"floating_network_id\": {}}}", "{\"router\": {\"external_gateway_info\": 7}}", "{\"volume\": {\"size\": -1}}",
        "{\"volume\": {\"size\": 99999999999999999999}}", "{\"auth\": {\"identity\": {\"methods\": [\"password\"], \"password\": 1}}}",
        "{\"server\": {\"name\": \"x\", \"flavorRef\": [], \"networks\": [{}], \"block_device_mapping_v2\": [{\"source_type\": 3}]}}",
        "{\"name\": \"\\u0000\", \"tags\": [1]}", "\u{feff}{}", "{\"a\":{\"b\":{\"c\":{\"d\":[[[[[]]]]]}}}}",
    ];
    for path in paths {
        for body in bodies {
            let (status, text, _) = raw(&tc, Method::POST, path, body).await;
            assert!(status < 500, "{path} {body:?} → {status}: {text}");
        }
    }
}

#[tokio::test]
async fn cloud_config_writes_files_runs_commands_and_console_is_readable() {
    let tc = TestCloud::start().await;
    let (net, _) = tc.network("app", "10.20.0.0/24").await;
    let ud = "#cloud-config\nbootcmd:\n  - echo bootcmd-ran\nwrite_files:\n  - path: /etc/app/config.ini\n    content: |\n      [app]\n      port = 8080\n    permissions: '0600'\nruncmd:\n  - echo \"runcmd-ran on $VITRINA_HOSTNAME ip $VITRINA_IPV4\"\n  - [sh, -c, 'cat etc/app/config.ini > ran.txt']\n";
    let id = tc.boot("web-1", &net, Some(ud)).await;
    let server = tc.wait_status(&id, "ACTIVE").await;
    let addr = server["server"]["addresses"]["app"][0]["addr"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(addr, "10.20.0.2", "first address of the pool");
    let root = tc.dir.path().join("instances").join(&id);
    tc.wait_for("boot-finished", Duration::from_secs(20), || {
        let p = root.join("var/lib/cloud/instance/boot-finished");
        async move { p.exists().then_some(()) }
    })
    .await;
    let written = std::fs::read_to_string(root.join("etc/app/config.ini")).unwrap();
    assert_eq!(written, "[app]\nport = 8080\n");
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        std::fs::metadata(root.join("etc/app/config.ini"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::read_to_string(root.join("ran.txt")).unwrap(),
        written,
        "runcmd ran after write_files"
    );
    let (s, out) = tc
        .action(&id, json!({"os-getConsoleOutput": {"length": null}}))
        .await;
    assert_eq!(s, 200);
    let console = out["output"].as_str().unwrap();
    assert!(console.contains("bootcmd-ran"), "{console}");
    assert!(
        console.contains("runcmd-ran on web-1 ip 10.20.0.2"),
        "{console}"
    );
    let (_, tail) = tc
        .action(&id, json!({"os-getConsoleOutput": {"length": 1}}))
        .await;
    assert_eq!(tail["output"].as_str().unwrap().lines().count(), 1);

    // Stop → SHUTOFF (processes gone), start → ACTIVE; runcmd does not run twice, bootcmd does.
    let (s, _) = tc.action(&id, json!({"os-stop": null})).await;
    assert_eq!(s, 202);
    tc.wait_status(&id, "SHUTOFF").await;
    let (s, v) = tc.action(&id, json!({"os-stop": null})).await;
    assert_eq!(s, 409, "{v}");
    let (s, _) = tc.action(&id, json!({"os-start": null})).await;
    assert_eq!(s, 202);
    tc.wait_status(&id, "ACTIVE").await;
    let console = tc
        .wait_for("second boot", Duration::from_secs(30), || async {
            let (_, out) = tc.action(&id, json!({"os-getConsoleOutput": {}})).await;
            let c = out["output"].as_str().unwrap_or_default().to_owned();
            if std::env::var_os("LC_DEBUG").is_some() {
                let st = tc.get(&format!("/compute/v2.1/servers/{id}")).await["server"]["status"]
                    .clone();
                eprintln!(
                    "DEBUG {st} {:?}",
                    c.lines().rev().take(3).collect::<Vec<_>>()
                );
            }
            if c.matches("Cloud-init v. localcloud finished").count() > 2 {
                panic!("booted more than twice: {c}");
            }
            (c.matches("Cloud-init v. localcloud finished").count() == 2).then_some(c)
        })
        .await;
    assert_eq!(console.matches("bootcmd-ran").count(), 2);
    assert_eq!(console.matches("runcmd-ran").count(), 1);

    // Delete twice: 204 then 404; the instance folder goes away.
    let (s, _) = tc
        .call(Method::DELETE, &format!("/compute/v2.1/servers/{id}"), None)
        .await;
    assert_eq!(s, 204);
    let (s, v) = tc
        .call(Method::DELETE, &format!("/compute/v2.1/servers/{id}"), None)
        .await;
    assert_eq!(s, 404);
    assert!(v["itemNotFound"]["message"].as_str().is_some());
    tc.wait_for("instance folder removed", Duration::from_secs(20), || {
        let root = root.clone();
        async move { (!root.exists()).then_some(()) }
    })
    .await;
}

#[tokio::test]
async fn ipam_pools_gateway_and_duplicates() {
    let tc = TestCloud::start().await;
    let (s, n) = tc
        .post(
            "/networking/v2.0/networks",
            json!({"network": {"name": "n"}}),
        )
        .await;
    assert_eq!(s, 201);
    let net = n["network"]["id"].as_str().unwrap();
    let (s, sub) = tc
        .post("/networking/v2.0/subnets", json!({"subnet": {"network_id": net, "cidr": "192.168.5.0/29", "ip_version": 4, "enable_dhcp": false, "allocation_pools": [{"start": "192.168.5.2", "end": "192.168.5.3"}]}}))
        .await;
    assert_eq!(s, 201, "{sub}");
    assert_eq!(sub["subnet"]["gateway_ip"], "192.168.5.1");
    let (s, v) = tc
        .post(
            "/networking/v2.0/subnets",
            json!({"subnet": {"network_id": net, "cidr": "192.168.5.0/28", "ip_version": 4}}),
        )
        .await;
    assert_eq!(s, 400, "overlap: {v}");
    let mut addrs = vec![];
    for _ in 0..2 {
        let (s, p) = tc
            .post(
                "/networking/v2.0/ports",
                json!({"port": {"network_id": net}}),
            )
            .await;
        assert_eq!(s, 201, "{p}");
        addrs.push(
            p["port"]["fixed_ips"][0]["ip_address"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(addrs, ["192.168.5.2", "192.168.5.3"]);
    let (s, v) = tc
        .post(
            "/networking/v2.0/ports",
            json!({"port": {"network_id": net}}),
        )
        .await;
    assert_eq!(s, 409);
    assert_eq!(v["NeutronError"]["type"], "IpAddressGenerationFailure");
    let (s, v) = tc
        .post(
            "/networking/v2.0/ports",
            json!({"port": {"network_id": net, "fixed_ips": [{"ip_address": "192.168.5.2"}]}}),
        )
        .await;
    assert_eq!(s, 409);
    assert_eq!(v["NeutronError"]["type"], "IpAddressAlreadyAllocated");
    // Default security group with Neutron's default rules.
    let sgs = tc
        .get("/networking/v2.0/security-groups?name=default")
        .await;
    let rules = sgs["security_groups"][0]["security_group_rules"]
        .as_array()
        .unwrap();
    assert_eq!(
        rules.iter().filter(|r| r["direction"] == "egress").count(),
        2
    );
    // Networks list shows the external networks; the SDN header filters them.
    let nets = tc
        .call(
            Method::GET,
            "/networking/v2.0/networks?router:external=true",
            None,
        )
        .await
        .1;
    let names: Vec<&str> = nets["networks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["name"].as_str())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    let resp = tc
        .http
        .get(tc.url("/networking/v2.0/networks?router:external=true"))
        .header("x-auth-token", &tc.token)
        .header("X-SDN", "sprut")
        .send()
        .await
        .unwrap();
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["networks"][0]["name"], "internet");
    assert_eq!(
        tc.get("/networking/v2.0/available-sdn").await,
        json!(["neutron", "sprut"])
    );
    // Pagination.
    let page = tc.get("/networking/v2.0/ports?limit=1").await;
    assert_eq!(page["ports"].as_array().unwrap().len(), 1);
    assert!(page["ports_links"][0]["href"]
        .as_str()
        .unwrap()
        .starts_with(&tc.base));
}

#[tokio::test]
async fn projects_are_isolated() {
    let tc = TestCloud::start().await;
    let (net, _) = tc.network("private", "10.1.0.0/24").await;
    // A second tenant made by the admin (admins themselves reach every project: probe I1,
    // tests/admin_surface.rs).
    let admin = tc.cloud.credentials().admin;
    let admin = tc
        .password_token(&admin.username, &admin.password, "admin")
        .await;
    let (s, p) = tc
        .call_as(
            &admin,
            Method::POST,
            "/identity/v3/projects",
            Some(r#"{"project": {"name": "other"}}"#),
        )
        .await;
    assert_eq!(s, 201, "{p}");
    let pid = p["project"]["id"].as_str().unwrap().to_owned();
    let body =
        json!({"user": {"name": "other", "password": "other-secret", "default_project_id": pid}});
    let (s, u) = tc
        .call_as(
            &admin,
            Method::POST,
            "/identity/v3/users",
            Some(&body.to_string()),
        )
        .await;
    assert_eq!(s, 201, "{u}");
    let uid = u["user"]["id"].as_str().unwrap().to_owned();
    let (_, roles) = tc
        .call_as(&admin, Method::GET, "/identity/v3/roles?name=member", None)
        .await;
    let rid = roles["roles"][0]["id"].as_str().unwrap().to_owned();
    let (s, _) = tc
        .call_as(
            &admin,
            Method::PUT,
            &format!("/identity/v3/projects/{pid}/users/{uid}/roles/{rid}"),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let other = tc.password_token("other", "other-secret", "other").await;
    let (s, v) = tc
        .call_as(
            &other,
            Method::GET,
            &format!("/networking/v2.0/networks/{net}"),
            None,
        )
        .await;
    assert_eq!(s, 404, "{v}");
    let (s, _) = tc
        .call_as(
            &other,
            Method::DELETE,
            &format!("/networking/v2.0/networks/{net}"),
            None,
        )
        .await;
    assert_eq!(s, 404);
    let (s, _) = tc
        .call_as(
            &other,
            Method::GET,
            &format!("/volume/v3/{}/volumes", tc.project_id),
            None,
        )
        .await;
    assert_eq!(s, 404, "cinder URL of another project");
    let (s, _) = tc
        .call_as("not-a-token", Method::GET, "/compute/v2.1/servers", None)
        .await;
    assert_eq!(s, 401);
}

#[tokio::test]
async fn volumes_from_images_follow_cinder_rules() {
    let tc = TestCloud::start().await;
    let image = tc.base_image().await;
    // min_disk of the base image is 1 GB; a PATCH raises it.
    let resp = tc
        .http
        .patch(tc.url(&format!("/image/v2/images/{image}")))
        .header("x-auth-token", &tc.token)
        .header(
            "content-type",
            "application/openstack-images-v2.1-json-patch",
        )
        .body(r#"[{"op":"replace","path":"/min_disk","value":5}]"#)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        403,
        "the demo project does not own the public image"
    );
    let (s, v) = tc.post("/volume/v3/{project}/volumes", json!({"volume": {"size": 1, "imageRef": image, "volume_type": "ceph-hdd", "availability_zone": "MS1"}})).await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(v["volume"]["status"], "creating");
    let id = v["volume"]["id"].as_str().unwrap().to_owned();
    let vol = tc
        .wait_for("available", Duration::from_secs(10), || async {
            let (_, v) = tc
                .call(
                    Method::GET,
                    &format!("/volume/v3/{{project}}/volumes/{id}"),
                    None,
                )
                .await;
            (v["volume"]["status"] == "available").then_some(v)
        })
        .await;
    assert_eq!(vol["volume"]["bootable"], "true");
    assert_eq!(
        vol["volume"]["volume_image_metadata"]["image_name"],
        "vitrina-process-base"
    );
    // Upload a 3 GiB-virtual qcow2 header image: a 2 GB volume is too small.
    let (s, img) = tc
        .call(
            Method::POST,
            "/image/v2/images",
            Some(r#"{"name": "big", "disk_format": "qcow2", "container_format": "bare"}"#),
        )
        .await;
    assert_eq!(s, 201, "{img}");
    let big = img["id"].as_str().unwrap();
    let mut data = vec![0u8; 4096];
    data[..4].copy_from_slice(b"QFI\xfb");
    data[24..32].copy_from_slice(&(3u64 << 30).to_be_bytes());
    let resp = tc
        .http
        .put(tc.url(&format!("/image/v2/images/{big}/file")))
        .header("x-auth-token", &tc.token)
        .header("content-type", "application/octet-stream")
        .body(data)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let (s, v) = tc
        .post(
            "/volume/v3/{project}/volumes",
            json!({"volume": {"size": 2, "imageRef": big}}),
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(v["badRequest"]["message"], "Invalid input received: Image virtual size is 3GB and doesn't fit in a volume of size 2GB.");
    // Extend and retype.
    let (s, _) = tc
        .post(
            &format!("/volume/v3/{{project}}/volumes/{id}/action"),
            json!({"os-extend": {"new_size": 1}}),
        )
        .await;
    assert_eq!(s, 400);
    let (s, _) = tc
        .post(
            &format!("/volume/v3/{{project}}/volumes/{id}/action"),
            json!({"os-extend": {"new_size": 3}}),
        )
        .await;
    assert_eq!(s, 202);
    tc.wait_for("extended", Duration::from_secs(10), || async {
        let (_, v) = tc
            .call(
                Method::GET,
                &format!("/volume/v3/{{project}}/volumes/{id}"),
                None,
            )
            .await;
        (v["volume"]["status"] == "available" && v["volume"]["size"] == 3).then_some(())
    })
    .await;
    let (s, _) = tc
        .post(
            &format!("/volume/v3/{{project}}/volumes/{id}/action"),
            json!({"os-retype": {"new_type": "high-iops", "migration_policy": "on-demand"}}),
        )
        .await;
    assert_eq!(s, 202);
}

#[tokio::test]
async fn glance_upload_checksums_range_and_statuses() {
    let tc = TestCloud::start().await;
    let (s, img) = tc.call(Method::POST, "/image/v2/images", Some(r#"{"name": "data", "disk_format": "raw", "container_format": "bare", "os_distro": "test"}"#)).await;
    assert_eq!(s, 201);
    assert_eq!(img["status"], "queued");
    assert_eq!(img["os_distro"], "test");
    let id = img["id"].as_str().unwrap();
    let resp = tc
        .http
        .get(tc.url(&format!("/image/v2/images/{id}/file")))
        .header("x-auth-token", &tc.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204, "queued image has no data");
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let resp = tc
        .http
        .put(tc.url(&format!("/image/v2/images/{id}/file")))
        .header("x-auth-token", &tc.token)
        .body(data.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let v = tc.get(&format!("/image/v2/images/{id}")).await;
    assert_eq!(v["status"], "active");
    use md5::Digest as _;
    assert_eq!(v["checksum"], hex::encode(md5::Md5::digest(&data)));
    assert_eq!(v["os_hash_value"], hex::encode(sha2::Sha512::digest(&data)));
    let resp = tc
        .http
        .put(tc.url(&format!("/image/v2/images/{id}/file")))
        .header("x-auth-token", &tc.token)
        .body(data.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 409, "re-upload to an active image");
    let resp = tc
        .http
        .get(tc.url(&format!("/image/v2/images/{id}/file")))
        .header("x-auth-token", &tc.token)
        .header("range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 206);
    assert_eq!(resp.headers()["content-range"], "bytes 100-199/300000");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), &data[100..200]);
    // A qcow2 declaration with raw data is refused, and the image stays queued.
    let (_, q) = tc
        .call(
            Method::POST,
            "/image/v2/images",
            Some(r#"{"name": "q", "disk_format": "qcow2", "container_format": "bare"}"#),
        )
        .await;
    let qid = q["id"].as_str().unwrap();
    let resp = tc
        .http
        .put(tc.url(&format!("/image/v2/images/{qid}/file")))
        .header("x-auth-token", &tc.token)
        .body(vec![1u8; 1000])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    assert_eq!(
        tc.get(&format!("/image/v2/images/{qid}")).await["status"],
        "queued"
    );
    // Deactivate: download forbidden for non-admins.
    let (s, _) = tc
        .call(
            Method::POST,
            &format!("/image/v2/images/{id}/actions/deactivate"),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let resp = tc
        .http
        .get(tc.url(&format!("/image/v2/images/{id}/file")))
        .header("x-auth-token", &tc.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let (s, _) = tc
        .call(
            Method::POST,
            &format!("/image/v2/images/{id}/actions/reactivate"),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (s, _) = tc
        .call(Method::DELETE, &format!("/image/v2/images/{id}"), None)
        .await;
    assert_eq!(s, 204);
    let (s, _) = tc
        .call(Method::GET, &format!("/image/v2/images/{id}"), None)
        .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn boot_from_volume_floating_ip_and_restart_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let keep = dir.path().to_path_buf();
    let tc = TestCloud::start_in(dir).await;
    let (net, sub) = tc.network("app", "10.30.0.0/24").await;
    let image = tc.base_image().await;
    let flavor = tc.flavor("Standard-2-4-40").await;
    // Image → new volume through block_device_mapping_v2, deleted with the server.
    let (s, v) = tc
        .post("/compute/v2.1/servers", json!({"server": {"name": "vm", "flavorRef": flavor, "imageRef": "", "networks": [{"uuid": net}],
            "block_device_mapping_v2": [{"boot_index": 0, "uuid": image, "source_type": "image", "destination_type": "volume", "volume_size": 2, "delete_on_termination": true}]}}))
        .await;
    assert_eq!(s, 202, "{v}");
    let id = v["server"]["id"].as_str().unwrap().to_owned();
    let server = tc.wait_status(&id, "ACTIVE").await;
    assert_eq!(server["server"]["image"], "");
    let vol = server["server"]["os-extended-volumes:volumes_attached"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, v) = tc
        .call(
            Method::GET,
            &format!("/volume/v3/{{project}}/volumes/{vol}"),
            None,
        )
        .await;
    assert_eq!(v["volume"]["status"], "in-use");
    assert_eq!(v["volume"]["attachments"][0]["server_id"], id.as_str());
    // Floating IP needs a router between the subnet and ext-net.
    let ext = tc.get("/networking/v2.0/networks?name=ext-net").await["networks"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, fip) = tc
        .post(
            "/networking/v2.0/floatingips",
            json!({"floatingip": {"floating_network_id": ext}}),
        )
        .await;
    assert_eq!(s, 201);
    let addr = fip["floatingip"]["floating_ip_address"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, v) = tc
        .action(&id, json!({"addFloatingIp": {"address": addr}}))
        .await;
    assert_eq!(s, 400, "no router yet: {v}");
    let (_, r) = tc
        .post(
            "/networking/v2.0/routers",
            json!({"router": {"name": "r", "external_gateway_info": {"network_id": ext}}}),
        )
        .await;
    let router = r["router"]["id"].as_str().unwrap().to_owned();
    let (s, _) = tc
        .call(
            Method::PUT,
            &format!("/networking/v2.0/routers/{router}/add_router_interface"),
            Some(&json!({"subnet_id": sub}).to_string()),
        )
        .await;
    assert_eq!(s, 200);
    let (s, v) = tc
        .action(&id, json!({"addFloatingIp": {"address": addr}}))
        .await;
    assert_eq!(s, 202, "{v}");
    let server = tc.get(&format!("/compute/v2.1/servers/{id}")).await;
    let addrs = server["server"]["addresses"]["app"].as_array().unwrap();
    assert!(
        addrs
            .iter()
            .any(|a| a["addr"] == addr.as_str() && a["OS-EXT-IPS:type"] == "floating"),
        "{addrs:?}"
    );
    // Resize + confirm.
    let f2 = tc.flavor("Standard-4-16-50").await;
    let (s, _) = tc.action(&id, json!({"resize": {"flavorRef": f2}})).await;
    assert_eq!(s, 202);
    tc.wait_status(&id, "VERIFY_RESIZE").await;
    let (s, _) = tc.action(&id, json!({"confirmResize": null})).await;
    assert_eq!(s, 204);
    tc.wait_status(&id, "ACTIVE").await;

    // Restart on the same data: everything is still there.
    let token = tc.token.clone();
    let dir = tc.stop();
    assert_eq!(dir.path(), keep.as_path());
    let tc2 = TestCloud::start_in(dir).await;
    let (s, server) = tc2
        .call_as(
            &token,
            Method::GET,
            &format!("/compute/v2.1/servers/{id}"),
            None,
        )
        .await;
    assert_eq!(s, 200, "old tokens survive a restart");
    assert_eq!(server["server"]["status"], "ACTIVE");
    assert_eq!(server["server"]["flavor"]["id"], f2.as_str());
    let fips = tc2.get("/networking/v2.0/floatingips").await;
    assert_eq!(fips["floatingips"][0]["floating_ip_address"], addr.as_str());
    let (s, _) = tc2
        .call(Method::DELETE, &format!("/compute/v2.1/servers/{id}"), None)
        .await;
    assert_eq!(s, 204);
    let (s, _) = tc2
        .call(
            Method::GET,
            &format!("/volume/v3/{{project}}/volumes/{vol}"),
            None,
        )
        .await;
    assert_eq!(s, 404, "delete_on_termination removed the volume");
}
