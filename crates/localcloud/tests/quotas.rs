//! Quotas over real HTTP. Nova: an admin sets `cores`; the server create past it gets Nova's 403
//! "Quota exceeded for cores…"; `limits` and `os-quota-sets/…/detail` show use and limits; a
//! member cannot change quotas. Cinder: 413 `overLimit` on every create path (blank, image,
//! snapshot, clone, snapshot, extend, a server's boot volume), the 9-exabyte volume of probe M2.
//! Neutron: 409 `OverQuota` for each resource, the ports of a server create, floating IPs past
//! the default 50. Concurrent creates never pass a quota.

mod common;

use common::TestCloud;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn cores_quota_is_enforced_and_reported() {
    let tc = TestCloud::start().await;
    let creds = tc.cloud.credentials();
    let admin = tc
        .password_token(&creds.admin.username, &creds.admin.password, "admin")
        .await;
    let p = tc.project_id.clone();
    let path = format!("/compute/v2.1/os-quota-sets/{p}");
    let (s, _) = tc
        .call(Method::PUT, &path, Some(r#"{"quota_set": {"cores": 4}}"#))
        .await;
    assert_eq!(s, 403, "a member sets quotas");
    let (s, v) = tc
        .call_as(
            &admin,
            Method::PUT,
            &path,
            Some(r#"{"quota_set": {"cores": 4}}"#),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["quota_set"]["cores"], 4);

    let image = tc.base_image().await;
    let flavor = tc.flavor("Basic-1-2-20").await;
    let vcpus = tc.get(&format!("/compute/v2.1/flavors/{flavor}")).await["flavor"]["vcpus"]
        .as_i64()
        .unwrap();
    let fits = 4 / vcpus;
    let tcr = &tc;
    let create = |name: String| {
        let body = json!({"server": {"name": name, "flavorRef": flavor, "imageRef": image, "networks": "none"}});
        async move { tcr.post("/compute/v2.1/servers", body).await }
    };
    for i in 0..fits {
        let (s, v) = create(format!("vm{i}")).await;
        assert_eq!(s, 202, "{v}");
    }
    let (s, v) = create("one-too-many".into()).await;
    assert_eq!(s, 403, "{v}");
    let msg = v["forbidden"]["message"].as_str().unwrap_or_default();
    assert!(
        msg.starts_with(&format!(
            "Quota exceeded for cores: Requested {vcpus}, but already used {} of 4 cores",
            fits * vcpus
        )),
        "{msg}"
    );
    let limits = tc.get("/compute/v2.1/limits").await;
    assert_eq!(limits["limits"]["absolute"]["maxTotalCores"], 4);
    assert_eq!(limits["limits"]["absolute"]["totalCoresUsed"], fits * vcpus);
    assert_eq!(limits["limits"]["absolute"]["totalInstancesUsed"], fits);
    let detail = tc.get(&format!("{path}/detail")).await;
    assert_eq!(detail["quota_set"]["cores"]["in_use"], fits * vcpus);
    assert_eq!(detail["quota_set"]["cores"]["limit"], 4);
    // Another project's quotas are not the member's to read.
    let (s, _) = tc
        .call(
            Method::GET,
            &format!("/compute/v2.1/os-quota-sets/{}", creds.admin.project_id),
            None,
        )
        .await;
    assert_eq!(s, 403);
}

/// Polls until volume `id` is `available`.
async fn wait_available(tc: &TestCloud, id: &str) {
    let path = format!("/volume/v3/{{project}}/volumes/{id}");
    tc.wait_for(
        "volume available",
        std::time::Duration::from_secs(30),
        || {
            let path = path.clone();
            async move {
                let v = tc.get(&path).await;
                (v["volume"]["status"] == "available").then_some(())
            }
        },
    )
    .await;
}

async fn admin_token(tc: &TestCloud) -> String {
    let creds = tc.cloud.credentials();
    tc.password_token(&creds.admin.username, &creds.admin.password, "admin")
        .await
}

/// The message of Cinder's 413 `overLimit` body.
fn over_limit(s: u16, v: &serde_json::Value) -> String {
    assert_eq!(s, 413, "{v}");
    assert_eq!(v["overLimit"]["code"], 413, "{v}");
    v["overLimit"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn cinder_quotas_are_enforced_on_every_create_path() {
    let tc = TestCloud::start().await;
    let admin = admin_token(&tc).await;
    let p = tc.project_id.clone();
    let path = format!("/volume/v3/{p}/os-quota-sets/{p}");
    let admin_path = format!(
        "/volume/v3/{}/os-quota-sets/{p}",
        tc.cloud.credentials().admin.project_id
    );
    // Cinder's defaults before anything is set.
    let v = tc.get(&path).await;
    assert_eq!(v["quota_set"]["volumes"], 10, "{v}");
    assert_eq!(v["quota_set"]["gigabytes"], 1000);
    assert_eq!(v["quota_set"]["snapshots"], 10);
    let set = r#"{"quota_set": {"volumes": 3, "gigabytes": 12, "snapshots": 1}}"#;
    let (s, _) = tc.call(Method::PUT, &path, Some(set)).await;
    assert_eq!(s, 403, "a member sets Cinder quotas");
    let (s, v) = tc
        .call_as(&admin, Method::PUT, &admin_path, Some(set))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["quota_set"]["gigabytes"], 12);

    let vols = "/volume/v3/{project}/volumes";
    let (s, v) = tc
        .post(vols, json!({"volume": {"size": 5, "name": "v1"}}))
        .await;
    assert_eq!(s, 202, "{v}");
    let v1 = v["volume"]["id"].as_str().unwrap().to_owned();
    let (s, v) = tc.post(vols, json!({"volume": {"size": 20}})).await;
    assert_eq!(
        over_limit(s, &v),
        "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed gigabytes quota. Requested 20G, quota is 12G and 5G has been consumed."
    );
    wait_available(&tc, &v1).await;
    // Extend past the quota.
    let (s, v) = tc
        .post(
            &format!("/volume/v3/{{project}}/volumes/{v1}/action"),
            json!({"os-extend": {"new_size": 100}}),
        )
        .await;
    assert!(
        over_limit(s, &v).contains("Requested 95G, quota is 12G and 5G"),
        "{v}"
    );
    // A snapshot counts in gigabytes and snapshots.
    let (s, v) = tc
        .post(
            "/volume/v3/{project}/snapshots",
            json!({"snapshot": {"volume_id": v1}}),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    let snap = v["snapshot"]["id"].as_str().unwrap().to_owned();
    tc.wait_for(
        "snapshot available",
        std::time::Duration::from_secs(30),
        || {
            let path = format!("/volume/v3/{{project}}/snapshots/{snap}");
            let tc = &tc;
            async move { (tc.get(&path).await["snapshot"]["status"] == "available").then_some(()) }
        },
    )
    .await;
    // From a snapshot and a clone: 10G consumed, 5 more do not fit in 12.
    for body in [
        json!({"volume": {"snapshot_id": snap}}),
        json!({"volume": {"source_volid": v1}}),
    ] {
        let (s, v) = tc.post(vols, body).await;
        assert!(
            over_limit(s, &v).contains("Requested 5G, quota is 12G and 10G has been consumed."),
            "{v}"
        );
    }
    // From an image.
    let image = tc.base_image().await;
    let (s, v) = tc
        .post(vols, json!({"volume": {"size": 3, "imageRef": image}}))
        .await;
    assert!(over_limit(s, &v).contains("Requested 3G"), "{v}");
    // A server's boot volume made from an image: Nova's 403, and nothing is left behind.
    let flavor = tc.flavor("Basic-1-2-20").await;
    let (s, v) = tc
        .post(
            "/compute/v2.1/servers",
            json!({"server": {"name": "bfv", "flavorRef": flavor, "networks": "none",
                "block_device_mapping_v2": [{"boot_index": 0, "uuid": image, "source_type": "image",
                    "destination_type": "volume", "volume_size": 5, "delete_on_termination": true}]}}),
        )
        .await;
    assert_eq!(s, 403, "{v}");
    assert!(
        v["forbidden"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("gigabytes quota"),
        "{v}"
    );
    let list = tc.get("/volume/v3/{project}/volumes").await;
    assert_eq!(list["volumes"].as_array().unwrap().len(), 1, "{list}");
    // More gigabytes: the second snapshot meets the snapshots quota, the fourth volume the volumes one.
    let (s, v) = tc
        .call_as(
            &admin,
            Method::PUT,
            &admin_path,
            Some(r#"{"quota_set": {"gigabytes": 1000}}"#),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = tc
        .post(
            "/volume/v3/{project}/snapshots",
            json!({"snapshot": {"volume_id": v1}}),
        )
        .await;
    assert_eq!(over_limit(s, &v), "SnapshotLimitExceeded: Maximum number of snapshots allowed (1) exceeded for quota 'snapshots'.");
    for body in [
        json!({"volume": {"snapshot_id": snap}}),
        json!({"volume": {"source_volid": v1}}),
    ] {
        let (s, v) = tc.post(vols, body).await;
        assert_eq!(s, 202, "{v}");
    }
    let (s, v) = tc.post(vols, json!({"volume": {"size": 1}})).await;
    assert_eq!(
        over_limit(s, &v),
        "VolumeLimitExceeded: Maximum number of volumes allowed (3) exceeded for quota 'volumes'."
    );
    // Usage and limits.
    let u = tc.get(&format!("{path}?usage=true")).await;
    assert_eq!(u["quota_set"]["volumes"]["in_use"], 3, "{u}");
    assert_eq!(u["quota_set"]["volumes"]["limit"], 3);
    assert_eq!(u["quota_set"]["gigabytes"]["in_use"], 20);
    assert_eq!(u["quota_set"]["snapshots"]["in_use"], 1);
    let l = tc.get("/volume/v3/{project}/limits").await;
    assert_eq!(l["limits"]["absolute"]["maxTotalVolumes"], 3, "{l}");
    assert_eq!(l["limits"]["absolute"]["maxTotalVolumeGigabytes"], 1000);
    assert_eq!(l["limits"]["absolute"]["maxTotalSnapshots"], 1);
    assert_eq!(l["limits"]["absolute"]["totalGigabytesUsed"], 20);
    // Another project's quotas are not the member's to read.
    let creds = tc.cloud.credentials();
    let (s, _) = tc
        .call(
            Method::GET,
            &format!("/volume/v3/{p}/os-quota-sets/{}", creds.admin.project_id),
            None,
        )
        .await;
    assert_eq!(s, 403);
}

/// Probe M2: a 9-exabyte volume, and an extend to 4 EiB, are refused by the default quota.
#[tokio::test]
async fn exabyte_volume_is_refused_by_quota() {
    let tc = TestCloud::start().await;
    let vols = "/volume/v3/{project}/volumes";
    let (s, v) = tc
        .post(vols, json!({"volume": {"size": 9223372036854775807i64}}))
        .await;
    assert_eq!(
        over_limit(s, &v),
        "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed gigabytes quota. Requested 9223372036854775807G, quota is 1000G and 0G has been consumed."
    );
    let (s, v) = tc.post(vols, json!({"volume": {"size": 1}})).await;
    assert_eq!(s, 202, "{v}");
    let id = v["volume"]["id"].as_str().unwrap().to_owned();
    wait_available(&tc, &id).await;
    let (s, v) = tc
        .post(
            &format!("/volume/v3/{{project}}/volumes/{id}/action"),
            json!({"os-extend": {"new_size": 4611686018427387904i64}}),
        )
        .await;
    over_limit(s, &v);
    assert_eq!(
        tc.get(&format!("/volume/v3/{{project}}/volumes/{id}"))
            .await["volume"]["size"],
        1
    );
}

/// Quota checks and the creates they guard are one store write: concurrent creates never pass
/// a quota.
/// Runs on several worker threads so the creates really race.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_stay_within_quotas() {
    let tc = TestCloud::start().await;
    let admin = admin_token(&tc).await;
    let p = tc.project_id.clone();
    let (s, v) = tc
        .call_as(
            &admin,
            Method::PUT,
            &format!(
                "/volume/v3/{}/os-quota-sets/{p}",
                tc.cloud.credentials().admin.project_id
            ),
            Some(r#"{"quota_set": {"volumes": 3}}"#),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let used = tc
        .get(&format!("/networking/v2.0/quotas/{p}/details"))
        .await["quota"]["network"]["used"]
        .as_i64()
        .unwrap();
    let (s, v) = tc
        .call_as(
            &admin,
            Method::PUT,
            &format!("/networking/v2.0/quotas/{p}"),
            Some(&json!({"quota": {"network": used + 3}}).to_string()),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let tcr = &tc;
    let vols = (0..16).map(|i| async move {
        tcr.post(
            "/volume/v3/{project}/volumes",
            json!({"volume": {"size": 1, "name": format!("c{i}")}}),
        )
        .await
        .0
    });
    let nets = (0..16).map(|i| async move {
        tcr.post(
            "/networking/v2.0/networks",
            json!({"network": {"name": format!("c{i}")}}),
        )
        .await
        .0
    });
    let (vs, ns) = tokio::join!(
        futures::future::join_all(vols),
        futures::future::join_all(nets)
    );
    assert_eq!(vs.iter().filter(|s| **s == 202).count(), 3, "{vs:?}");
    assert_eq!(vs.iter().filter(|s| **s == 413).count(), 13, "{vs:?}");
    assert_eq!(ns.iter().filter(|s| **s == 201).count(), 3, "{ns:?}");
    assert_eq!(ns.iter().filter(|s| **s == 409).count(), 13, "{ns:?}");
    let list = tc.get("/volume/v3/{project}/volumes").await;
    assert_eq!(list["volumes"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn neutron_quotas_are_enforced_on_every_create_path() {
    let tc = TestCloud::start().await;
    let admin = admin_token(&tc).await;
    let p = tc.project_id.clone();
    let qpath = format!("/networking/v2.0/quotas/{p}");
    let v = tc.get(&qpath).await;
    for (k, d) in [
        ("network", 100),
        ("subnet", 100),
        ("port", 500),
        ("router", 10),
        ("floatingip", 50),
        ("security_group", 10),
        ("security_group_rule", 100),
    ] {
        assert_eq!(v["quota"][k], d, "{v}");
    }
    let (net, _sub) = tc.network("q", "10.77.0.0/24").await;
    let ext = tc.get("/networking/v2.0/networks?name=ext-net").await["networks"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let sg = tc
        .get("/networking/v2.0/security-groups?name=default")
        .await["security_groups"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, _) = tc
        .call(Method::PUT, &qpath, Some(r#"{"quota": {"port": 1}}"#))
        .await;
    assert_eq!(s, 403, "a member sets Neutron quotas");
    let (s, _) = tc.call(Method::DELETE, &qpath, None).await;
    assert_eq!(s, 403, "a member resets Neutron quotas");
    // Each resource at its use: the next create gets Neutron's 409 OverQuota.
    let cases = [
        (
            "network",
            "/networking/v2.0/networks",
            json!({"network": {"name": "x"}}),
        ),
        (
            "subnet",
            "/networking/v2.0/subnets",
            json!({"subnet": {"network_id": net, "cidr": "10.77.1.0/24", "ip_version": 4}}),
        ),
        (
            "port",
            "/networking/v2.0/ports",
            json!({"port": {"network_id": net}}),
        ),
        (
            "router",
            "/networking/v2.0/routers",
            json!({"router": {"name": "r"}}),
        ),
        (
            "floatingip",
            "/networking/v2.0/floatingips",
            json!({"floatingip": {"floating_network_id": ext}}),
        ),
        (
            "security_group",
            "/networking/v2.0/security-groups",
            json!({"security_group": {"name": "g"}}),
        ),
        (
            "security_group_rule",
            "/networking/v2.0/security-group-rules",
            json!({"security_group_rule": {"security_group_id": sg, "direction": "ingress", "protocol": "tcp", "port_range_min": 22, "port_range_max": 22}}),
        ),
    ];
    for (res, path, body) in &cases {
        let d = tc.get(&format!("{qpath}/details")).await;
        let used = d["quota"][res]["used"].as_i64().unwrap();
        let (s, v) = tc
            .call_as(
                &admin,
                Method::PUT,
                &qpath,
                Some(&json!({"quota": {*res: used + 1}}).to_string()),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["quota"][res], used + 1);
        let (s, v) = tc.post(path, body.clone()).await;
        assert_eq!(s, 201, "{res}: {v}");
        let (s, v) = tc.post(path, body.clone()).await;
        assert_eq!(s, 409, "{res}: {v}");
        assert_eq!(
            v,
            json!({"NeutronError": {"type": "OverQuota", "message": format!("Quota exceeded for resources: ['{res}']."), "detail": ""}}),
        );
        let d = tc.get(&format!("{qpath}/details")).await;
        assert_eq!(d["quota"][res]["used"], used + 1, "{d}");
        assert_eq!(d["quota"][res]["limit"], used + 1, "{d}");
    }
    // The port a server create makes: Nova's answer, and no port or server left behind.
    let ports_before = tc.get("/networking/v2.0/ports").await["ports"]
        .as_array()
        .unwrap()
        .len();
    let image = tc.base_image().await;
    let flavor = tc.flavor("Basic-1-2-20").await;
    let (s, v) = tc
        .post("/compute/v2.1/servers", json!({"server": {"name": "nq", "flavorRef": flavor, "imageRef": image, "networks": [{"uuid": net}]}}))
        .await;
    assert_eq!(s, 403, "{v}");
    assert_eq!(
        v["forbidden"]["message"],
        "Maximum number of ports exceeded"
    );
    assert_eq!(
        tc.get("/networking/v2.0/ports").await["ports"]
            .as_array()
            .unwrap()
            .len(),
        ports_before
    );
    assert!(tc.get("/compute/v2.1/servers").await["servers"]
        .as_array()
        .unwrap()
        .is_empty());
    // DELETE puts the defaults back.
    let (s, _) = tc.call_as(&admin, Method::DELETE, &qpath, None).await;
    assert_eq!(s, 204);
    assert_eq!(tc.get(&qpath).await["quota"]["port"], 500);
}

/// Probe M2: floating IPs past Neutron's default quota of 50 get 409 `OverQuota`.
#[tokio::test]
async fn floating_ips_stop_at_the_default_quota() {
    let tc = TestCloud::start().await;
    let ext = tc.get("/networking/v2.0/networks?name=ext-net").await["networks"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = json!({"floatingip": {"floating_network_id": ext}});
    for i in 0..50 {
        let (s, v) = tc.post("/networking/v2.0/floatingips", body.clone()).await;
        assert_eq!(s, 201, "floating IP {i}: {v}");
    }
    let (s, v) = tc.post("/networking/v2.0/floatingips", body).await;
    assert_eq!(s, 409, "{v}");
    assert_eq!(v["NeutronError"]["type"], "OverQuota", "{v}");
    let d = tc
        .get(&format!(
            "/networking/v2.0/quotas/{}/details",
            tc.project_id
        ))
        .await;
    assert_eq!(
        d["quota"]["floatingip"],
        json!({"limit": 50, "used": 50, "reserved": 0})
    );
}
