//! OSB conformance, row by row from `shared/spec/osb-checklist.md`: every route of the endpoint
//! table (§1.3) with its success and error codes, the error bodies (§1.2), and the behaviours
//! the public checkers expect (§1.12). A real server on 127.0.0.1 (store, product API, hoe
//! workers, the engine) deploys the probe package, whose manifests make only `random` and
//! `null` resources.

mod osb_common;

use std::time::Duration;

use osb_common::*;
use reqwest::Method;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(120);

fn iid() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn names_are_cli_friendly(catalog: &Value) {
    let ok = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    for s in catalog["services"].as_array().expect("services") {
        assert!(ok(s["name"].as_str().unwrap_or_default()), "{s}");
        for p in s["plans"].as_array().expect("plans") {
            assert!(ok(p["name"].as_str().unwrap_or_default()), "{p}");
        }
    }
}

/// §1.1, §1.3 row 1, §1.4, §1.12: version and auth before anything, 412/401, the catalog's
/// shape per version, JSON on every answer, the request identity echoed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn catalog_version_auth_and_shape() {
    let env = Env::start().await;
    env.upload(&probe_dir()).await;
    env.upload(&example("hello_web")).await;
    env.publish(PROBE_SERVICE, "1.0").await;
    let osb = env.osb_public();

    // 412: missing, empty, unsupported; checked before the body.
    for v in [None, Some(""), Some("2.12"), Some("3.0"), Some("two")] {
        let a = osb
            .with_version(v)
            .call(
                Method::PUT,
                &format!("/v2/service_instances/{}", iid()),
                Some(json!({})),
            )
            .await;
        assert_eq!(a.status, 412, "version {v:?}: {}", a.text);
        assert!(a.body.is_object(), "{}", a.text);
    }
    // 401: no or wrong credentials, before the body is read (and before the version).
    for v in [Some("2.17"), None] {
        let a = osb
            .with_password("wrong")
            .with_version(v)
            .call(
                Method::PUT,
                &format!("/v2/service_instances/{}", iid()),
                Some(json!({})),
            )
            .await;
        assert_eq!(a.status, 401, "{}", a.text);
        assert!(a.header("www-authenticate").is_some());
    }
    let a = reqwest::Client::new()
        .get(format!("{}/v2/catalog", env.server.url))
        .header("X-Broker-API-Version", "2.17")
        .send()
        .await
        .expect("request");
    assert_eq!(a.status().as_u16(), 401);

    // 200 for every accepted version, with the request identity echoed.
    for v in ["2.13", "2.14", "2.15", "2.16", "2.17"] {
        let a = osb
            .with_version(Some(v))
            .call_with(
                Method::GET,
                "/v2/catalog",
                None,
                &[("X-Broker-API-Request-Identity", "req-42")],
            )
            .await;
        assert_eq!(a.status, 200, "{v}: {}", a.text);
        assert_eq!(a.header("x-broker-api-request-identity"), Some("req-42"));
        assert!(a
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/json")));
        names_are_cli_friendly(&a.body);
        let plan_keys: Vec<Vec<String>> = a.body["services"][0]["plans"]
            .as_array()
            .expect("plans")
            .iter()
            .map(|p| p.as_object().expect("plan").keys().cloned().collect())
            .collect();
        for keys in &plan_keys {
            if v == "2.13" {
                // The Node checker's plan schema allows nothing else.
                for k in keys {
                    assert!(
                        [
                            "id",
                            "name",
                            "description",
                            "metadata",
                            "free",
                            "bindable",
                            "schemas"
                        ]
                        .contains(&k.as_str()),
                        "{v}: plan key {k}"
                    );
                }
            }
            assert_eq!(
                keys.contains(&"maintenance_info".to_owned()),
                v >= "2.15",
                "{v}: {keys:?}"
            );
        }
    }

    // The public namespace: only the published probe; names and display names.
    let catalog = osb.catalog().await;
    let services = catalog["services"].as_array().expect("services");
    assert_eq!(services.len(), 1, "{catalog}");
    let s = &services[0];
    assert_eq!(s["id"], PROBE_SERVICE);
    assert_eq!(s["name"], "osb-probe");
    assert_eq!(s["metadata"]["displayName"], "OSB Probe");
    assert_eq!(s["bindable"], true);
    assert_eq!(s["plan_updateable"], true);
    assert_eq!(s["instances_retrievable"], true);
    let plans = s["plans"].as_array().expect("plans");
    assert_eq!(plans.len(), 2);
    assert_eq!(plans[0]["maintenance_info"]["version"], "1.0.0");
    assert_eq!(plans[1]["free"], false);
    let create = &plans[0]["schemas"]["service_instance"]["create"]["parameters"];
    assert_eq!(create["$schema"], "http://json-schema.org/draft-04/schema#");
    assert_eq!(create["properties"]["size"]["maximum"], 10);
    assert!(plans[0]["schemas"]["service_instance"]
        .get("resource_usages")
        .is_none());
    assert_eq!(
        plans[1]["schemas"]["service_instance"]["create"]["parameters"]["properties"]["size"]
            ["maximum"],
        100
    );

    // The test namespace sees both services; hello_web's name and its plans.
    let test = env.osb_test().catalog().await;
    let names: Vec<&str> = test["services"]
        .as_array()
        .expect("services")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, ["osb-probe", "hello-web"], "{test}");
    names_are_cli_friendly(&test);
    // A publish shows within the catalog cache's recheck period (a quarter second).
    env.publish("2cfe21ad-f403-47a7-9c00-74e92d1ee7db", "1.0")
        .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let n = osb.catalog().await["services"].as_array().map(Vec::len);
        if n == Some(2) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the publish never showed: {n:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    env.stop().await;
}

/// §1.3 rows 2–6, §1.5–1.9, §1.11–1.12 for instances.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_provision_fetch_update_deprovision() {
    let env = Env::start().await;
    env.upload(&probe_dir()).await;
    env.publish(PROBE_SERVICE, "1.0").await;
    let osb = env.osb_public();
    let id = iid();
    let path = format!("/v2/service_instances/{id}");
    let good = probe_provision(PROBE_SMALL, json!({"size": 3}), &env.project);

    // 400: malformed body, missing or empty required fields, unknown ids, bad parameters.
    let a = osb
        .call_with(
            Method::PUT,
            &format!("{path}?accepts_incomplete=true"),
            None,
            &[],
        )
        .await;
    assert_eq!(a.status, 400, "no body: {}", a.text);
    let raw = osb
        .http
        .put(format!("{}{path}?accepts_incomplete=true", osb.base))
        .basic_auth(&osb.user, Some(&osb.password))
        .header("X-Broker-API-Version", "2.17")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("request");
    assert_eq!(raw.status().as_u16(), 400);
    for (field, value) in [
        ("service_id", json!("")),
        ("plan_id", json!("")),
        ("organization_guid", json!("")),
        ("space_guid", json!("")),
        ("service_id", Value::Null),
        ("service_id", json!("no-such-service")),
        ("plan_id", json!("no-such-plan")),
        ("parameters", json!({"size": 11})),
        ("parameters", json!({"size": "three"})),
        ("parameters", json!({"nope": 1})),
        ("parameters", json!({"greeting": "NOT lower"})),
        ("parameters", json!([1])),
    ] {
        let mut body = good.clone();
        body[field] = value.clone();
        let a = osb
            .put(&format!("{path}?accepts_incomplete=true"), body)
            .await;
        assert_eq!(a.status, 400, "{field}={value}: {}", a.text);
        assert!(
            a.body["description"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "{}",
            a.text
        );
    }
    // Every reason is listed.
    let mut body = good.clone();
    body["parameters"] = json!({"size": 0, "zone": "z9"});
    let a = osb
        .put(&format!("{path}?accepts_incomplete=true"), body)
        .await;
    let d = a.body["description"].as_str().unwrap_or_default();
    assert!(d.contains("`size`") && d.contains("`zone`"), "{d}");

    // 422 AsyncRequired without accepts_incomplete (or =false); nothing is created.
    for q in ["", "?accepts_incomplete=false"] {
        let a = osb.put(&format!("{path}{q}"), good.clone()).await;
        assert_eq!(a.status, 422, "{q}: {}", a.text);
        assert_eq!(a.body["error"], "AsyncRequired");
    }
    assert_eq!(osb.get(&path).await.status, 404);
    assert_eq!(osb.get(&format!("{path}/last_operation")).await.status, 404);
    // 422 MaintenanceInfoConflict; `{}` counts as absent.
    let mut body = good.clone();
    body["maintenance_info"] = json!({"version": "9.9.9"});
    let a = osb
        .put(&format!("{path}?accepts_incomplete=true"), body)
        .await;
    assert_eq!(a.status, 422, "{}", a.text);
    assert_eq!(a.body["error"], "MaintenanceInfoConflict");

    // 202 with an operation; the same PUT again while running: 202 and the same operation.
    let mut body = good.clone();
    body["maintenance_info"] = json!({});
    body["previous_values"] = json!({});
    let first = osb
        .put(&format!("{path}?accepts_incomplete=true"), body.clone())
        .await;
    assert_eq!(first.status, 202, "{}", first.text);
    let op = first.body["operation"]
        .as_str()
        .expect("operation")
        .to_owned();
    assert!(first
        .body
        .as_object()
        .expect("object")
        .keys()
        .all(|k| k == "operation" || k == "dashboard_url"));
    let again = osb
        .put(&format!("{path}?accepts_incomplete=true"), body.clone())
        .await;
    match again.status {
        202 => assert_eq!(again.body["operation"], op.as_str()),
        200 => assert_eq!(again.body, json!({})),
        other => panic!("re-sent PUT: {other} {}", again.text),
    }
    // A different PUT on the same id: 409.
    let mut other = good.clone();
    other["parameters"] = json!({"size": 4});
    assert_eq!(
        osb.put(&format!("{path}?accepts_incomplete=true"), other.clone())
            .await
            .status,
        409
    );
    // Unknown `operation` values fall back to the latest; the literal kinds too.
    for q in [
        "",
        "?operation=provision",
        "?operation=whatever",
        &format!("?operation={op}"),
    ] {
        let a = osb.get(&format!("{path}/last_operation{q}")).await;
        assert_eq!(a.status, 200, "{q}: {}", a.text);
        assert!(a.body["description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()));
    }
    osb.wait_ok(&id, WAIT).await;
    let a = osb.get(&format!("{path}/last_operation")).await;
    assert_eq!(
        a.body
            .as_object()
            .expect("object")
            .keys()
            .collect::<Vec<_>>(),
        ["state", "description"],
        "{}",
        a.text
    );
    // Done: the identical PUT gives 200 {}, a different one 409.
    let a = osb
        .put(&format!("{path}?accepts_incomplete=true"), body)
        .await;
    assert_eq!((a.status, &a.body), (200, &json!({})), "{}", a.text);
    assert_eq!(
        osb.put(&format!("{path}?accepts_incomplete=true"), other)
            .await
            .status,
        409
    );

    // Fetch: 200 with the answers (defaults filled), 404 for an unknown id.
    let a = osb.get(&path).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["service_id"], PROBE_SERVICE);
    assert_eq!(a.body["plan_id"], PROBE_SMALL);
    assert_eq!(
        a.body["parameters"],
        json!({"greeting": "hello", "size": 3, "zone": "z1"})
    );
    assert_eq!(a.body["maintenance_info"]["version"], "1.0.0");
    assert_eq!(
        osb.get(&format!("/v2/service_instances/{}", iid()))
            .await
            .status,
        404
    );

    // Update: 400 without service_id; 404 unknown; 422 AsyncRequired; 200 when nothing changes.
    let a = osb
        .patch(
            &format!("{path}?accepts_incomplete=true"),
            json!({"parameters": {"size": 4}}),
        )
        .await;
    assert_eq!(a.status, 400, "{}", a.text);
    let a = osb
        .patch(
            &format!("/v2/service_instances/{}?accepts_incomplete=true", iid()),
            json!({"service_id": PROBE_SERVICE}),
        )
        .await;
    assert_eq!(a.status, 404, "{}", a.text);
    let a = osb
        .patch(
            &path,
            json!({"service_id": PROBE_SERVICE, "parameters": {"size": 4}}),
        )
        .await;
    assert_eq!(
        (a.status, a.body["error"].as_str()),
        (422, Some("AsyncRequired")),
        "{}",
        a.text
    );
    let a = osb
        .patch(
            &format!("{path}?accepts_incomplete=true"),
            json!({"service_id": PROBE_SERVICE, "parameters": {"size": 3}, "previous_values": {"plan_id": PROBE_SMALL}, "maintenance_info": {}}),
        )
        .await;
    assert_eq!((a.status, &a.body), (200, &json!({})), "{}", a.text);
    // 400: an invalid value, a create-only option; 422 for a wrong maintenance version.
    for params in [json!({"size": 50}), json!({"zone": "z2"})] {
        let a = osb
            .patch(
                &format!("{path}?accepts_incomplete=true"),
                json!({"service_id": PROBE_SERVICE, "parameters": params}),
            )
            .await;
        assert_eq!(a.status, 400, "{params}: {}", a.text);
    }
    let a = osb
        .patch(
            &format!("{path}?accepts_incomplete=true"),
            json!({"service_id": PROBE_SERVICE, "maintenance_info": {"version": "0.1.0"}}),
        )
        .await;
    assert_eq!(a.body["error"], "MaintenanceInfoConflict", "{}", a.text);
    // A plan change with new parameters: 202, then fetch shows it; a re-sent PATCH while it
    // runs gets 202 with the same operation.
    let change = json!({"service_id": PROBE_SERVICE, "plan_id": PROBE_LARGE, "parameters": {"size": 40},
                        "previous_values": {"plan_id": PROBE_SMALL}});
    let a = osb
        .patch(&format!("{path}?accepts_incomplete=true"), change.clone())
        .await;
    assert_eq!(a.status, 202, "{}", a.text);
    let op = a.body["operation"].as_str().expect("operation").to_owned();
    let again = osb
        .patch(&format!("{path}?accepts_incomplete=true"), change)
        .await;
    match again.status {
        202 => assert_eq!(again.body["operation"], op.as_str()),
        // It finished meanwhile: nothing left to change.
        200 => {}
        other => panic!("re-sent PATCH: {other} {}", again.text),
    }
    // While it runs, fetch says ConcurrencyError; afterwards it shows the new plan.
    let f = osb.get(&path).await;
    assert!(
        f.status == 200 || (f.status == 422 && f.body["error"] == "ConcurrencyError"),
        "{}",
        f.text
    );
    osb.wait_ok(&id, WAIT).await;
    let a = osb.get(&path).await;
    assert_eq!(a.body["plan_id"], PROBE_LARGE, "{}", a.text);
    assert_eq!(a.body["parameters"]["size"], 40);

    // Deprovision: 400 without (or with empty) service_id / plan_id; 422 AsyncRequired.
    for q in [
        "",
        "?service_id=",
        &format!("?service_id={PROBE_SERVICE}"),
        &format!("?plan_id={PROBE_LARGE}"),
        &format!("?service_id={PROBE_SERVICE}&plan_id=&accepts_incomplete=true"),
    ] {
        assert_eq!(osb.delete(&format!("{path}{q}")).await.status, 400, "{q}");
    }
    let q = format!("service_id={PROBE_SERVICE}&plan_id={PROBE_LARGE}");
    let a = osb.delete(&format!("{path}?{q}")).await;
    assert_eq!(
        (a.status, a.body["error"].as_str()),
        (422, Some("AsyncRequired"))
    );
    // 410 for an unknown instance.
    let a = osb
        .delete(&format!(
            "/v2/service_instances/{}?{q}&accepts_incomplete=true",
            iid()
        ))
        .await;
    assert_eq!((a.status, &a.body), (410, &json!({})), "{}", a.text);
    // 202, re-sent: 202 with the same operation (or 410 once it finished).
    let a = osb
        .delete(&format!("{path}?{q}&accepts_incomplete=true"))
        .await;
    assert_eq!(a.status, 202, "{}", a.text);
    let op = a.body["operation"].as_str().expect("operation").to_owned();
    let again = osb
        .delete(&format!("{path}?{q}&accepts_incomplete=true"))
        .await;
    match again.status {
        202 => assert_eq!(again.body["operation"], op.as_str()),
        410 => {}
        other => panic!("re-sent DELETE: {other} {}", again.text),
    }
    osb.wait_ok(&id, WAIT).await;
    // The tombstone: last_operation keeps saying succeeded; DELETE 410; GET 404.
    let a = osb
        .get(&format!("{path}/last_operation?operation=deprovision"))
        .await;
    assert_eq!(
        (a.status, a.body["state"].as_str()),
        (200, Some("succeeded"))
    );
    let a = osb
        .delete(&format!("{path}?{q}&accepts_incomplete=true"))
        .await;
    assert_eq!((a.status, &a.body), (410, &json!({})));
    assert_eq!(osb.get(&path).await.status, 404);
    env.stop().await;
}

/// §1.3 rows 7–10, §1.10, §1.12: synchronous bind and unbind with the Node checker's codes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bindings_bind_fetch_unbind() {
    let env = Env::start().await;
    env.upload(&probe_dir()).await;
    env.publish(PROBE_SERVICE, "1.0").await;
    let osb = env.osb_public();
    let id = iid();
    let path = format!("/v2/service_instances/{id}");
    let a = osb
        .put(
            &format!("{path}?accepts_incomplete=true"),
            probe_provision(PROBE_SMALL, json!({"greeting": "hi there"}), &env.project),
        )
        .await;
    assert_eq!(a.status, 202, "{}", a.text);
    // Binding while provisioning: 422 ConcurrencyError (or the instance was already ready).
    let bid = iid();
    let bpath = format!("{path}/service_bindings/{bid}");
    let bind = json!({"service_id": PROBE_SERVICE, "plan_id": PROBE_SMALL, "bind_resource": {}});
    let early = osb.put(&bpath, bind.clone()).await;
    if early.status != 201 {
        assert_eq!(early.status, 422, "{}", early.text);
        assert_eq!(early.body["error"], "ConcurrencyError");
        assert_eq!(osb.get(&bpath).await.status, 404);
    }
    osb.wait_ok(&id, WAIT).await;

    // 400: missing or empty ids; 404: unknown instance.
    for body in [
        json!({"plan_id": PROBE_SMALL}),
        json!({"service_id": PROBE_SERVICE, "plan_id": ""}),
        json!({"service_id": "", "plan_id": PROBE_SMALL}),
    ] {
        let a = osb
            .put(&format!("{path}/service_bindings/{}", iid()), body.clone())
            .await;
        assert_eq!(a.status, 400, "{body}: {}", a.text);
    }
    let a = osb
        .put(
            &format!("/v2/service_instances/{}/service_bindings/{}", iid(), iid()),
            bind.clone(),
        )
        .await;
    assert_eq!(a.status, 404, "{}", a.text);

    // 201 with the deployment's outputs (sensitive ones included), without accepts_incomplete.
    let a = if early.status == 201 {
        early
    } else {
        osb.put(&bpath, bind.clone()).await
    };
    assert_eq!(a.status, 201, "{}", a.text);
    let creds = &a.body["credentials"];
    assert_eq!(creds["greeting"], "hi there");
    assert!(
        creds["url"]
            .as_str()
            .is_some_and(|u| u.contains(&id) || u.starts_with("http://")),
        "{creds}"
    );
    let password = creds["password"].as_str().expect("password").to_owned();
    assert_eq!(password.len(), 16);
    for k in a.body.as_object().expect("object").keys() {
        assert!(
            [
                "credentials",
                "syslog_drain_url",
                "route_service_url",
                "volume_mounts"
            ]
            .contains(&k.as_str()),
            "bind key {k}"
        );
    }
    // Again identical: 200 with the same credentials; different: 409.
    let a = osb.put(&bpath, bind.clone()).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["credentials"]["password"], password.as_str());
    let a = osb
        .put(
            &bpath,
            json!({"service_id": PROBE_SERVICE, "plan_id": PROBE_SMALL, "app_guid": "another-app"}),
        )
        .await;
    assert_eq!(a.status, 409, "{}", a.text);
    // Fetch: 200 with credentials; unknown binding 404; last_operation succeeded.
    let a = osb.get(&bpath).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["credentials"]["password"], password.as_str());
    assert_eq!(
        osb.get(&format!("{path}/service_bindings/{}", iid()))
            .await
            .status,
        404
    );
    let a = osb.get(&format!("{bpath}/last_operation")).await;
    assert_eq!(
        (a.status, a.body["state"].as_str()),
        (200, Some("succeeded"))
    );
    assert_eq!(
        osb.get(&format!("{path}/service_bindings/{}/last_operation", iid()))
            .await
            .status,
        404
    );

    // Unbind: 400 without the query; 200 {} exactly; 410 after; fetch 404; last_operation 200.
    assert_eq!(osb.delete(&bpath).await.status, 400);
    assert_eq!(
        osb.delete(&format!("{bpath}?service_id={PROBE_SERVICE}"))
            .await
            .status,
        400
    );
    let q = format!("service_id={PROBE_SERVICE}&plan_id={PROBE_SMALL}");
    let a = osb.delete(&format!("{bpath}?{q}")).await;
    assert_eq!((a.status, &a.body), (200, &json!({})), "{}", a.text);
    let a = osb.delete(&format!("{bpath}?{q}")).await;
    assert_eq!((a.status, &a.body), (410, &json!({})), "{}", a.text);
    assert_eq!(osb.get(&bpath).await.status, 404);
    let a = osb.get(&format!("{bpath}/last_operation")).await;
    assert_eq!(
        (a.status, a.body["state"].as_str()),
        (200, Some("succeeded"))
    );

    // Deprovisioning with a binding left: the binding goes with the instance.
    let b2 = format!("{path}/service_bindings/{}", iid());
    assert_eq!(osb.put(&b2, bind.clone()).await.status, 201);
    let a = osb
        .delete(&format!("{path}?{q}&accepts_incomplete=true"))
        .await;
    assert_eq!(a.status, 202, "{}", a.text);
    osb.wait_ok(&id, WAIT).await;
    assert_eq!(osb.get(&b2).await.status, 404);
    assert_eq!(osb.delete(&format!("{b2}?{q}")).await.status, 410);
    env.stop().await;
}

/// §1.8: a DELETE while provisioning stops the creation and starts the deletion; last_operation
/// then reports the delete, and the deployment is gone. Orphan mitigation (repeated DELETEs)
/// is safe.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn delete_during_provisioning_and_orphan_mitigation() {
    let env = Env::start().await;
    env.upload(&probe_dir()).await;
    env.publish(PROBE_SERVICE, "1.0").await;
    let osb = env.osb_public();
    let id = iid();
    let path = format!("/v2/service_instances/{id}");
    let a = osb
        .put(
            &format!("{path}?accepts_incomplete=true"),
            probe_provision(PROBE_SMALL, json!({}), &env.project),
        )
        .await;
    assert_eq!(a.status, 202, "{}", a.text);
    let q = format!("service_id={PROBE_SERVICE}&plan_id={PROBE_SMALL}&accepts_incomplete=true");
    let d = osb.delete(&format!("{path}?{q}")).await;
    assert_eq!(d.status, 202, "{}", d.text);
    let op = d.body["operation"].as_str().expect("operation").to_owned();
    assert!(op.starts_with("deprovision"), "{op}");
    // Repeated DELETEs (orphan mitigation) answer 202 or 410, never an error.
    for _ in 0..3 {
        let a = osb.delete(&format!("{path}?{q}")).await;
        assert!(a.status == 202 || a.status == 410, "{}", a.text);
    }
    osb.wait_ok(&id, WAIT).await;
    let a = osb.get(&format!("{path}/last_operation")).await;
    assert!(
        a.body["description"]
            .as_str()
            .unwrap_or_default()
            .contains("deprovisioned"),
        "{}",
        a.text
    );
    assert_eq!(osb.get(&path).await.status, 404);
    // The same id may be provisioned again afterwards.
    let a = osb
        .put(
            &format!("{path}?accepts_incomplete=true"),
            probe_provision(PROBE_SMALL, json!({}), &env.project),
        )
        .await;
    assert_eq!(a.status, 202, "{}", a.text);
    osb.wait_ok(&id, WAIT).await;
    env.stop().await;
}

/// A broker account sees only its namespace, and only its own instances.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_broker_account_sees_only_its_namespace() {
    let env = Env::start().await;
    env.upload(&probe_dir()).await; // test namespace only
    let public = env.osb_public();
    let test = env.osb_test();
    assert_eq!(public.catalog().await, json!({"services": []}));
    assert_eq!(test.catalog().await["services"][0]["id"], PROBE_SERVICE);
    // The public account cannot provision a service of the test namespace.
    let id = iid();
    let path = format!("/v2/service_instances/{id}");
    let body = probe_provision(PROBE_SMALL, json!({}), &env.project);
    let a = public
        .put(&format!("{path}?accepts_incomplete=true"), body.clone())
        .await;
    assert_eq!(a.status, 400, "{}", a.text);
    // The test account can; the public one cannot see or touch the instance.
    let a = test
        .put(&format!("{path}?accepts_incomplete=true"), body.clone())
        .await;
    assert_eq!(a.status, 202, "{}", a.text);
    test.wait_ok(&id, WAIT).await;
    env.publish(PROBE_SERVICE, "1.0").await;
    assert_eq!(public.get(&path).await.status, 404);
    assert_eq!(
        public.get(&format!("{path}/last_operation")).await.status,
        404
    );
    let q = format!("service_id={PROBE_SERVICE}&plan_id={PROBE_SMALL}&accepts_incomplete=true");
    assert_eq!(public.delete(&format!("{path}?{q}")).await.status, 410);
    assert_eq!(
        public
            .put(
                &format!("{path}/service_bindings/{}", iid()),
                json!({"service_id": PROBE_SERVICE, "plan_id": PROBE_SMALL})
            )
            .await
            .status,
        404
    );
    // Provisioning the same id from the other account is a conflict.
    let a = public
        .put(&format!("{path}?accepts_incomplete=true"), body)
        .await;
    assert_eq!(a.status, 409, "{}", a.text);
    assert_eq!(test.get(&path).await.status, 200);
    let a = test.delete(&format!("{path}?{q}")).await;
    assert_eq!(a.status, 202, "{}", a.text);
    test.wait_ok(&id, WAIT).await;
    env.stop().await;
}
