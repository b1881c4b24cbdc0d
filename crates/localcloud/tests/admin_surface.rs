//! The admin surface tools expect (issue 9, point 6), over real HTTP: flavor create/delete,
//! extra specs and the access of private flavors; volume type create/set/delete and access;
//! availability zones of Nova and Cinder; Nova's, Cinder's and Neutron's extensions. Also probe
//! I1 (admins see across projects with `all_tenants`, as Nova, Cinder and Neutron let them, and
//! others are refused or ignored as there), Nova's quota on resize, and the devstack fixtures
//! (point 7).

mod common;

use common::TestCloud;
use reqwest::Method;
use serde_json::{json, Value};

async fn admin_token(tc: &TestCloud) -> String {
    let creds = tc.cloud.credentials();
    tc.password_token(&creds.admin.username, &creds.admin.password, "admin")
        .await
}

fn names(v: &Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn ids(v: &Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn flavors_are_made_shared_privately_given_specs_and_deleted() {
    let tc = TestCloud::start().await;
    let admin = admin_token(&tc).await;
    let body = r#"{"flavor": {"name": "priv.small", "ram": 256, "vcpus": 1, "disk": 1, "id": "p1", "os-flavor-access:is_public": false}}"#;
    let (s, v) = tc
        .call(Method::POST, "/compute/v2.1/flavors", Some(body))
        .await;
    assert_eq!(s, 403, "a member creates a flavor: {v}");
    assert!(v["forbidden"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("os-flavor-manage:create"));
    let (s, v) = tc
        .call_as(&admin, Method::POST, "/compute/v2.1/flavors", Some(body))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["flavor"]["id"], "p1");
    assert_eq!(v["flavor"]["os-flavor-access:is_public"], false);
    let (s, v) = tc
        .call_as(&admin, Method::POST, "/compute/v2.1/flavors", Some(body))
        .await;
    assert_eq!(s, 409, "a second flavor of that name: {v}");

    // The private flavor is the admin's until the demo project is given access.
    let (s, _) = tc.call(Method::GET, "/compute/v2.1/flavors/p1", None).await;
    assert_eq!(s, 404);
    assert!(
        !names(&tc.get("/compute/v2.1/flavors").await, "flavors").contains(&"priv.small".into())
    );
    let (s, v) = tc
        .call_as(
            &admin,
            Method::GET,
            "/compute/v2.1/flavors?is_public=false",
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(names(&v, "flavors"), vec!["priv.small".to_owned()]);
    let add = json!({"addTenantAccess": {"tenant": tc.project_id}}).to_string();
    let (s, v) = tc
        .call(Method::POST, "/compute/v2.1/flavors/p1/action", Some(&add))
        .await;
    assert_eq!(s, 403, "a member grants access: {v}");
    let (s, v) = tc
        .call_as(
            &admin,
            Method::POST,
            "/compute/v2.1/flavors/p1/action",
            Some(&add),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let tenants: Vec<&str> = v["flavor_access"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["tenant_id"].as_str())
        .collect();
    assert!(tenants.contains(&tc.project_id.as_str()), "{v}");
    let (s, _) = tc.call(Method::GET, "/compute/v2.1/flavors/p1", None).await;
    assert_eq!(s, 200, "the demo project was given the flavor");
    let (s, v) = tc
        .call_as(
            &admin,
            Method::GET,
            "/compute/v2.1/flavors/p1/os-flavor-access",
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(v["flavor_access"].as_array().map(Vec::len), Some(2), "{v}");

    // Extra specs.
    let (s, v) = tc
        .call_as(
            &admin,
            Method::POST,
            "/compute/v2.1/flavors/p1/os-extra_specs",
            Some(r#"{"extra_specs": {"hw:cpu_policy": "dedicated", "quota:disk_read_iops_sec": "100"}}"#),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let v = tc
        .get("/compute/v2.1/flavors/p1/os-extra_specs/hw:cpu_policy")
        .await;
    assert_eq!(v["hw:cpu_policy"], "dedicated");
    let (s, _) = tc
        .call_as(
            &admin,
            Method::DELETE,
            "/compute/v2.1/flavors/p1/os-extra_specs/hw:cpu_policy",
            None,
        )
        .await;
    assert_eq!(s, 200);
    let v = tc.get("/compute/v2.1/flavors/p1/os-extra_specs").await;
    assert_eq!(v["extra_specs"], json!({"quota:disk_read_iops_sec": "100"}));

    // Removing access hides it again; deleting it removes it.
    let remove = json!({"removeTenantAccess": {"tenant": tc.project_id}}).to_string();
    let (s, _) = tc
        .call_as(
            &admin,
            Method::POST,
            "/compute/v2.1/flavors/p1/action",
            Some(&remove),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = tc.call(Method::GET, "/compute/v2.1/flavors/p1", None).await;
    assert_eq!(s, 404);
    let (s, _) = tc
        .call(Method::DELETE, "/compute/v2.1/flavors/p1", None)
        .await;
    assert_eq!(s, 403, "a member deletes a flavor");
    let (s, _) = tc
        .call_as(&admin, Method::DELETE, "/compute/v2.1/flavors/p1", None)
        .await;
    assert_eq!(s, 202);
    let (s, _) = tc
        .call_as(&admin, Method::GET, "/compute/v2.1/flavors/p1", None)
        .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn a_server_keeps_its_flavor_after_the_flavor_is_deleted() {
    let tc = TestCloud::start().await;
    let admin = admin_token(&tc).await;
    let (s, v) = tc
        .call_as(
            &admin,
            Method::POST,
            "/compute/v2.1/flavors",
            Some(r#"{"flavor": {"name": "gone", "ram": 128, "vcpus": 3, "disk": 1}}"#),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let flavor = v["flavor"]["id"].as_str().unwrap().to_owned();
    let image = tc.base_image().await;
    let (s, v) = tc
        .post(
            "/compute/v2.1/servers",
            json!({"server": {"name": "keeps", "flavorRef": flavor, "imageRef": image, "networks": "none"}}),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    let server = v["server"]["id"].as_str().unwrap().to_owned();
    let (s, _) = tc
        .call_as(
            &admin,
            Method::DELETE,
            &format!("/compute/v2.1/flavors/{flavor}"),
            None,
        )
        .await;
    assert_eq!(s, 202);
    let (s, v) = tc
        .call_as(
            &tc.token,
            Method::GET,
            &format!("/compute/v2.1/servers/{server}"),
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(v["server"]["flavor"]["id"], flavor.as_str());
    let v = tc.get("/compute/v2.1/limits").await;
    assert_eq!(v["limits"]["absolute"]["totalCoresUsed"], 3, "{v}");
}

#[tokio::test]
async fn volume_types_are_made_shared_and_deleted_by_admins() {
    let tc = TestCloud::start().await;
    let admin = admin_token(&tc).await;
    let admin_project = tc.cloud.credentials().admin.project_id;
    let types = format!("/volume/v3/{admin_project}/types");
    let body = r#"{"volume_type": {"name": "gold", "description": "fast", "os-volume-type-access:is_public": false, "extra_specs": {"volume_backend_name": "gold"}}}"#;
    let (s, v) = tc
        .call(Method::POST, "/volume/v3/{project}/types", Some(body))
        .await;
    assert_eq!(s, 403, "a member creates a type: {v}");
    let (s, v) = tc.call_as(&admin, Method::POST, &types, Some(body)).await;
    assert_eq!(s, 200, "{v}");
    let id = v["volume_type"]["id"].as_str().unwrap().to_owned();
    assert_eq!(v["volume_type"]["is_public"], false);
    let (s, _) = tc.call_as(&admin, Method::POST, &types, Some(body)).await;
    assert_eq!(s, 409);

    // Private: the demo project neither lists nor uses it until given access.
    let v = tc.get("/volume/v3/{project}/types").await;
    assert!(!names(&v, "volume_types").contains(&"gold".into()));
    let (s, v) = tc
        .post(
            "/volume/v3/{project}/volumes",
            json!({"volume": {"size": 1, "volume_type": "gold"}}),
        )
        .await;
    assert_eq!(s, 404, "{v}");
    let add = json!({"addProjectAccess": {"project": tc.project_id}}).to_string();
    let (s, _) = tc
        .call_as(
            &admin,
            Method::POST,
            &format!("{types}/{id}/action"),
            Some(&add),
        )
        .await;
    assert_eq!(s, 202);
    let (s, v) = tc
        .call_as(
            &admin,
            Method::GET,
            &format!("{types}/{id}/os-volume-type-access"),
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        v["volume_type_access"][0]["project_id"],
        tc.project_id.as_str()
    );
    let v = tc.get("/volume/v3/{project}/types").await;
    assert!(names(&v, "volume_types").contains(&"gold".into()));
    let (s, v) = tc
        .post(
            "/volume/v3/{project}/volumes",
            json!({"volume": {"size": 1, "volume_type": "gold"}}),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    let vol = v["volume"]["id"].as_str().unwrap().to_owned();

    // set: extra specs, name and description; a renamed type keeps its volumes.
    let (s, _) = tc
        .call_as(
            &admin,
            Method::POST,
            &format!("{types}/{id}/extra_specs"),
            Some(r#"{"extra_specs": {"iops": "1000"}}"#),
        )
        .await;
    assert_eq!(s, 200);
    let (s, v) = tc
        .call_as(
            &admin,
            Method::PUT,
            &format!("{types}/{id}"),
            Some(r#"{"volume_type": {"name": "platinum", "description": "faster"}}"#),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["volume_type"]["name"], "platinum");
    let (s, v) = tc
        .call_as(&admin, Method::GET, &format!("{types}/{id}"), None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(v["volume_type"]["extra_specs"]["iops"], "1000");
    assert_eq!(v["volume_type"]["description"], "faster");
    let v = tc
        .get(&format!("/volume/v3/{{project}}/volumes/{vol}"))
        .await;
    assert_eq!(v["volume"]["volume_type"], "platinum");

    // A type in use is not deleted; once its volume is gone it is.
    tc.wait_for(
        "volume available",
        std::time::Duration::from_secs(20),
        || async {
            let (_, v) = tc
                .call(
                    Method::GET,
                    &format!("/volume/v3/{{project}}/volumes/{vol}"),
                    None,
                )
                .await;
            (v["volume"]["status"] == "available").then_some(())
        },
    )
    .await;
    let (s, _) = tc
        .call_as(&admin, Method::DELETE, &format!("{types}/{id}"), None)
        .await;
    assert_eq!(s, 400);
    let (s, _) = tc
        .call(
            Method::DELETE,
            &format!("/volume/v3/{{project}}/volumes/{vol}"),
            None,
        )
        .await;
    assert_eq!(s, 202);
    tc.wait_for(
        "volume deleted",
        std::time::Duration::from_secs(20),
        || async {
            let (s, _) = tc
                .call(
                    Method::GET,
                    &format!("/volume/v3/{{project}}/volumes/{vol}"),
                    None,
                )
                .await;
            (s == 404).then_some(())
        },
    )
    .await;
    let (s, _) = tc
        .call_as(&admin, Method::DELETE, &format!("{types}/{id}"), None)
        .await;
    assert_eq!(s, 202);
    let (s, _) = tc
        .call_as(&admin, Method::GET, &format!("{types}/{id}"), None)
        .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn zones_and_extensions_are_listed_as_the_services_list_them() {
    let tc = TestCloud::start().await;
    let v = tc.get("/compute/v2.1/os-availability-zone").await;
    let zones: Vec<&str> = v["availabilityZoneInfo"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|z| z["zoneName"].as_str())
        .collect();
    assert_eq!(zones, ["GZ1", "MS1", "ME1"]);
    let v = tc.get("/volume/v3/{project}/os-availability-zone").await;
    assert_eq!(v["availabilityZoneInfo"].as_array().map(Vec::len), Some(3));
    assert_eq!(v["availabilityZoneInfo"][0]["zoneState"]["available"], true);

    let aliases = |v: &Value| -> Vec<String> {
        v["extensions"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["alias"].as_str().map(str::to_owned))
            .collect()
    };
    let nova = aliases(&tc.get("/compute/v2.1/extensions").await);
    for a in [
        "os-flavor-manage",
        "os-flavor-access",
        "os-availability-zone",
        "os-quota-sets",
    ] {
        assert!(nova.contains(&a.to_owned()), "{a} in {nova:?}");
    }
    let cinder = aliases(&tc.get("/volume/v3/{project}/extensions").await);
    for a in [
        "os-types-manage",
        "os-volume-type-access",
        "os-availability-zone",
    ] {
        assert!(cinder.contains(&a.to_owned()), "{a} in {cinder:?}");
    }
    // Neutron lists what localcloud has, and nothing it lacks.
    let neutron = aliases(&tc.get("/networking/v2.0/extensions").await);
    for a in [
        "router",
        "external-net",
        "security-group",
        "quotas",
        "standard-attr-tag",
        "project-id",
        "qos",
        "trunk",
        "subnet_allocation",
    ] {
        assert!(neutron.contains(&a.to_owned()), "{a} in {neutron:?}");
    }
    for a in ["l3-ha", "agent", "default-subnetpools", "ndp-proxy"] {
        assert!(!neutron.contains(&a.to_owned()), "{a} in {neutron:?}");
    }
    let (s, _) = tc
        .call(Method::GET, "/networking/v2.0/extensions/router", None)
        .await;
    assert_eq!(s, 200);
}

/// Probe I1: an admin reaches another project's server, volume and network by ID and lists
/// them with `all_tenants`; Nova refuses `all_tenants` to others with its policy 403, Cinder
/// ignores it, and Neutron lists only what the member may see.
#[tokio::test]
async fn admins_see_across_projects_with_all_tenants() {
    let tc = TestCloud::start().await;
    let admin = admin_token(&tc).await;
    let admin_project = tc.cloud.credentials().admin.project_id;
    let image = tc.base_image().await;
    let flavor = tc.flavor("Basic-1-2-20").await;
    let (s, v) = tc
        .post(
            "/compute/v2.1/servers",
            json!({"server": {"name": "demo-vm", "flavorRef": flavor, "imageRef": image, "networks": "none"}}),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    let server = v["server"]["id"].as_str().unwrap().to_owned();
    let (s, v) = tc
        .post(
            "/volume/v3/{project}/volumes",
            json!({"volume": {"size": 1, "name": "demo-vol"}}),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    let volume = v["volume"]["id"].as_str().unwrap().to_owned();
    let (net, _) = tc.network("demo-net", "10.9.0.0/24").await;
    let (s, v) = tc
        .call_as(
            &admin,
            Method::POST,
            "/networking/v2.0/networks",
            Some(r#"{"network": {"name": "admin-only"}}"#),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let admin_net = v["network"]["id"].as_str().unwrap().to_owned();

    // By ID (the probe saw 404 here).
    for path in [
        format!("/compute/v2.1/servers/{server}"),
        format!("/volume/v3/{admin_project}/volumes/{volume}"),
        format!("/networking/v2.0/networks/{net}"),
    ] {
        let (s, v) = tc.call_as(&admin, Method::GET, &path, None).await;
        assert_eq!(s, 200, "admin GET {path}: {v}");
    }

    // Nova: only with all_tenants, narrowed by project_id; others get the policy 403.
    let (_, v) = tc
        .call_as(&admin, Method::GET, "/compute/v2.1/servers", None)
        .await;
    assert!(!ids(&v, "servers").contains(&server));
    let (s, v) = tc
        .call_as(
            &admin,
            Method::GET,
            "/compute/v2.1/servers/detail?all_tenants=1",
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert!(ids(&v, "servers").contains(&server), "{v}");
    let (_, v) = tc
        .call_as(
            &admin,
            Method::GET,
            &format!("/compute/v2.1/servers?all_tenants=True&project_id={admin_project}"),
            None,
        )
        .await;
    assert!(!ids(&v, "servers").contains(&server));
    let (s, v) = tc
        .call(Method::GET, "/compute/v2.1/servers?all_tenants=1", None)
        .await;
    assert_eq!(s, 403, "{v}");
    assert!(v["forbidden"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("get_all_tenants"));

    // Cinder: all_tenants for admins, ignored for others.
    let (_, v) = tc
        .call_as(
            &admin,
            Method::GET,
            &format!("/volume/v3/{admin_project}/volumes"),
            None,
        )
        .await;
    assert!(!ids(&v, "volumes").contains(&volume));
    let (_, v) = tc
        .call_as(
            &admin,
            Method::GET,
            &format!("/volume/v3/{admin_project}/volumes/detail?all_tenants=1"),
            None,
        )
        .await;
    assert!(ids(&v, "volumes").contains(&volume), "{v}");
    let (s, v) = tc
        .call_as(
            &admin,
            Method::POST,
            &format!("/volume/v3/{admin_project}/volumes"),
            Some(r#"{"volume": {"size": 1, "name": "admin-vol"}}"#),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    let admin_vol = v["volume"]["id"].as_str().unwrap().to_owned();
    let (s, v) = tc
        .call(
            Method::GET,
            "/volume/v3/{project}/volumes?all_tenants=1",
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert!(ids(&v, "volumes").contains(&volume));
    assert!(!ids(&v, "volumes").contains(&admin_vol), "{v}");

    // Neutron: admins list every project's networks; members their own and shared/external.
    let (_, v) = tc
        .call_as(&admin, Method::GET, "/networking/v2.0/networks", None)
        .await;
    assert!(ids(&v, "networks").contains(&net));
    let (_, v) = tc
        .call_as(
            &admin,
            Method::GET,
            &format!("/networking/v2.0/networks?project_id={}", tc.project_id),
            None,
        )
        .await;
    assert_eq!(ids(&v, "networks"), vec![net.clone()]);
    let v = tc.get("/networking/v2.0/networks?all_tenants=1").await;
    assert!(!ids(&v, "networks").contains(&admin_net), "{v}");
    let (s, _) = tc
        .call(
            Method::GET,
            &format!("/networking/v2.0/networks/{admin_net}"),
            None,
        )
        .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn a_resize_past_the_cores_quota_fails_with_novas_message() {
    let tc = TestCloud::start().await;
    let admin = admin_token(&tc).await;
    let (s, v) = tc
        .call_as(
            &admin,
            Method::PUT,
            &format!("/compute/v2.1/os-quota-sets/{}", tc.project_id),
            Some(r#"{"quota_set": {"cores": 2}}"#),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let image = tc.base_image().await;
    let small = tc.flavor("Basic-1-2-20").await;
    let (s, v) = tc
        .post(
            "/compute/v2.1/servers",
            json!({"server": {"name": "grows", "flavorRef": small, "imageRef": image, "networks": "none"}}),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    let server = v["server"]["id"].as_str().unwrap().to_owned();
    tc.wait_status(&server, "ACTIVE").await;
    let big = tc.flavor("Advanced-8-32-100").await;
    let (s, v) = tc
        .action(&server, json!({"resize": {"flavorRef": big}}))
        .await;
    assert_eq!(s, 403, "{v}");
    let msg = v["forbidden"]["message"].as_str().unwrap_or_default();
    assert!(
        msg.starts_with("Quota exceeded for cores: Requested 7, but already used 1 of 2 cores"),
        "{msg}"
    );
    let v = tc.get(&format!("/compute/v2.1/servers/{server}")).await;
    assert_eq!(
        v["server"]["status"], "ACTIVE",
        "a refused resize changes nothing"
    );
    // Growing by one core fits.
    let two = tc.flavor("Standard-2-4-40").await;
    let (s, v) = tc
        .action(&server, json!({"resize": {"flavorRef": two}}))
        .await;
    assert_eq!(s, 202, "{v}");
    tc.wait_status(&server, "VERIFY_RESIZE").await;
    let v = tc.get("/compute/v2.1/limits").await;
    assert_eq!(v["limits"]["absolute"]["totalCoresUsed"], 2);
}

#[tokio::test]
async fn devstack_fixtures_make_what_devstack_has() {
    let dir = tempfile::tempdir().expect("temp dir");
    let tc =
        TestCloud::start_with(dir, |c| c.fixtures = vitrina_localcloud::Fixtures::Devstack).await;
    let admin = admin_token(&tc).await;
    let v = tc.get("/compute/v2.1/flavors/detail").await;
    for (id, name) in [
        ("1", "m1.tiny"),
        ("2", "m1.small"),
        ("3", "m1.medium"),
        ("4", "m1.large"),
        ("5", "m1.xlarge"),
        ("42", "m1.nano"),
        ("c1", "cirros256"),
    ] {
        let f = v["flavors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .unwrap_or_else(|| panic!("flavor {name}"));
        assert_eq!(f["id"], id);
    }
    let v = tc
        .get(&format!(
            "/image/v2/images?name={}",
            vitrina_localcloud::DEVSTACK_IMAGE
        ))
        .await;
    assert_eq!(v["images"][0]["visibility"], "public", "{v}");
    let v = tc.get("/networking/v2.0/networks").await;
    let nets = names(&v, "networks");
    assert!(
        nets.contains(&"public".into()) && nets.contains(&"private".into()),
        "{nets:?}"
    );
    let public = v["networks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "public")
        .unwrap();
    assert_eq!(public["router:external"], true);
    let v = tc.get("/networking/v2.0/routers?name=router1").await;
    assert_eq!(
        v["routers"][0]["external_gateway_info"]["network_id"],
        public["id"]
    );
    let router = v["routers"][0]["id"].as_str().unwrap().to_owned();
    let v = tc
        .get(&format!(
            "/networking/v2.0/ports?device_id={router}&device_owner=network:router_interface"
        ))
        .await;
    assert_eq!(v["ports"][0]["fixed_ips"][0]["ip_address"], "10.0.0.1");
    let v = tc.get("/compute/v2.1/os-availability-zone").await;
    assert_eq!(v["availabilityZoneInfo"][0]["zoneName"], "nova");
    let (s, v) = tc
        .post(
            "/volume/v3/{project}/volumes",
            json!({"volume": {"size": 1}}),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(v["volume"]["volume_type"], "lvmdriver-1");
    assert_eq!(v["volume"]["availability_zone"], "nova");

    // The second tenant and devstack's clouds.
    let creds = tc.cloud.credentials();
    let alt = creds.projects.get("alt_demo").expect("alt_demo");
    let alt_token = tc
        .password_token(&alt.username, &alt.password, "alt_demo")
        .await;
    let (s, v) = tc
        .call_as(&alt_token, Method::GET, "/networking/v2.0/networks", None)
        .await;
    assert_eq!(s, 200);
    assert!(!names(&v, "networks").contains(&"private".into()), "{v}");
    let yaml = std::fs::read_to_string(tc.dir.path().join("clouds.yaml")).expect("clouds.yaml");
    for cloud in [
        "devstack:",
        "devstack-admin:",
        "devstack-alt:",
        "devstack-system-admin:",
    ] {
        assert!(
            yaml.contains(&format!("\n  {cloud}\n")),
            "{cloud} in {yaml}"
        );
    }
    drop(admin);

    // A restart keeps them once (no second `private`, the flavors admins deleted stay gone).
    let (s, _) = tc
        .call_as(
            &admin_token(&tc).await,
            Method::DELETE,
            "/compute/v2.1/flavors/5",
            None,
        )
        .await;
    assert_eq!(s, 202);
    let dir = tc.stop();
    let tc =
        TestCloud::start_with(dir, |c| c.fixtures = vitrina_localcloud::Fixtures::Devstack).await;
    let admin = admin_token(&tc).await;
    let (_, v) = tc
        .call_as(
            &admin,
            Method::GET,
            "/networking/v2.0/networks?name=private",
            None,
        )
        .await;
    assert_eq!(v["networks"].as_array().map(Vec::len), Some(1), "{v}");
    let (s, _) = tc
        .call_as(&admin, Method::GET, "/compute/v2.1/flavors/5", None)
        .await;
    assert_eq!(s, 404);
}
