//! Limits that keep one tenant from hurting the others, and wire details, over real HTTP: each a
//! finding of the 2026-12 probe that now holds (L2, L5, L6, M3, I3, I4, I5, framework errors).

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::time::Duration;

use common::TestCloud;
use reqwest::Method;
use serde_json::{json, Value};

/// L5: the state and the client files are the owner's only.
#[tokio::test]
async fn state_and_credential_files_are_private() {
    let tc = TestCloud::start().await;
    // A change makes the background writer rewrite state.json.
    tc.network("n", "10.1.0.0/24").await;
    tc.cloud.flush().expect("flush");
    let dir = tc.dir.path();
    for f in ["state.json", "localcloud-credentials.json", "clouds.yaml"] {
        let mode = std::fs::metadata(dir.join(f)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{f} is {mode:o}");
    }
    let mode = std::fs::metadata(dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "the data folder is {mode:o}");
}

/// L2: only an admin force-deletes, and an attached volume deleted so leaves no attachment.
#[tokio::test]
async fn force_delete_is_admin_only_and_leaves_no_attachment() {
    let tc = TestCloud::start().await;
    let (net, _) = tc.network("n", "10.2.0.0/24").await;
    let server = tc.boot("vm", &net, None).await;
    tc.wait_status(&server, "ACTIVE").await;
    let (s, v) = tc
        .post(
            "/volume/v3/{project}/volumes",
            json!({"volume": {"size": 1, "name": "data"}}),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    let vol = v["volume"]["id"].as_str().unwrap().to_owned();
    let tcr = &tc;
    tc.wait_for("volume available", Duration::from_secs(20), || {
        let path = format!("/volume/v3/{{project}}/volumes/{vol}");
        async move {
            let (_, v) = tcr.call(Method::GET, &path, None).await;
            (v["volume"]["status"] == "available").then_some(())
        }
    })
    .await;
    let (s, v) = tc
        .post(
            &format!("/compute/v2.1/servers/{server}/os-volume_attachments"),
            json!({"volumeAttachment": {"volumeId": vol}}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let path = format!("/volume/v3/{{project}}/volumes/{vol}?force=true");
    let (s, v) = tc.call(Method::DELETE, &path, None).await;
    assert_eq!(s, 403, "a member force-deletes: {v}");
    let creds = tc.cloud.credentials();
    let admin = tc
        .password_token(&creds.admin.username, &creds.admin.password, "demo")
        .await;
    let (s, v) = tc.call_as(&admin, Method::DELETE, &path, None).await;
    assert_eq!(s, 202, "{v}");
    let atts = tc
        .get(&format!(
            "/compute/v2.1/servers/{server}/os-volume_attachments"
        ))
        .await;
    assert_eq!(atts["volumeAttachments"], json!([]));
}

/// L6: console output is read from the log's tail (at most 100 KiB), whatever its size.
#[tokio::test]
async fn console_output_comes_from_the_tail() {
    let tc = TestCloud::start().await;
    let (net, _) = tc.network("n", "10.3.0.0/24").await;
    // About 400 KB of numbered lines, then a marker.
    let script = "#!/bin/sh\nseq 0 19999 | sed 's/.*/line & xxxxxxxxxx/'\necho the-end\n";
    let server = tc.boot("loud", &net, Some(script)).await;
    tc.wait_status(&server, "ACTIVE").await;
    let out = tc
        .wait_for(
            "the script's last line",
            Duration::from_secs(90),
            || async {
                let (_, v) = tc.action(&server, json!({"os-getConsoleOutput": {}})).await;
                let out = v["output"].as_str().unwrap_or_default().to_owned();
                out.contains("the-end\n").then_some(out)
            },
        )
        .await;
    assert!(out.len() <= 100 * 1024, "{} bytes", out.len());
    assert!(out.contains("line 19999 xxxxxxxxxx\nthe-end\n"));
    assert!(
        out.starts_with("line "),
        "a whole first line: {:?}",
        out.get(..20)
    );
    let (_, last) = tc
        .action(&server, json!({"os-getConsoleOutput": {"length": 1}}))
        .await;
    assert_eq!(
        last["output"].as_str().map(|o| o.lines().count()),
        Some(1),
        "{last}"
    );
    assert!(!out.contains("line 0 "), "the head of the log is not read");
}

/// M3: another project's community images stay out of the default list and name lookups.
#[tokio::test]
async fn community_images_of_others_do_not_shadow_public_ones() {
    let tc = TestCloud::start().await;
    let creds = tc.cloud.credentials();
    let admin = tc
        .password_token(&creds.admin.username, &creds.admin.password, "admin")
        .await;
    let body = json!({"name": "vitrina-process-base", "visibility": "community", "disk_format": "raw", "container_format": "bare"});
    let (s, v) = tc
        .call_as(
            &admin,
            Method::POST,
            "/image/v2/images",
            Some(&body.to_string()),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let squat = v["id"].as_str().unwrap().to_owned();
    let found = tc.get("/image/v2/images?name=vitrina-process-base").await;
    let ids: Vec<&str> = found["images"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["id"].as_str())
        .collect();
    assert_eq!(ids.len(), 1, "{found}");
    assert_ne!(ids[0], squat);
    let community = tc.get("/image/v2/images?visibility=community").await;
    assert!(community["images"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["id"] == squat.as_str()));
    // The owner still lists its own community image.
    let (_, own) = tc
        .call_as(&admin, Method::GET, "/image/v2/images", None)
        .await;
    assert!(own["images"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["id"] == squat.as_str()));
}

/// I3, I5 and Glance's booleans.
#[tokio::test]
async fn one_uuid_spelling_no_nul_and_booleans_in_any_case() {
    let tc = TestCloud::start().await;
    let id = "6F9619FF-8B86-D011-B42D-00C04FC964FF";
    let (s, v) = tc
        .post(
            "/image/v2/images",
            json!({"id": id, "name": "upper", "protected": "True", "os_hidden": "FALSE"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["id"], id.to_ascii_lowercase());
    assert_eq!(v["protected"], true);
    for other in [
        id.to_ascii_lowercase(),
        format!("{{{id}}}"),
        format!("urn:uuid:{id}"),
        id.replace('-', ""),
    ] {
        let (s, v) = tc
            .post("/image/v2/images", json!({"id": other, "name": "again"}))
            .await;
        assert!(s == 409 || s == 400, "{other}: {s} {v}");
    }
    let (s, _) = tc
        .post(
            "/image/v2/images",
            json!({"name": "bad", "protected": "maybe"}),
        )
        .await;
    assert_eq!(s, 400);
    // The base image is protected too; an unprotected one is not listed.
    tc.post(
        "/image/v2/images",
        json!({"name": "plain", "protected": false}),
    )
    .await;
    let listed = tc
        .get("/image/v2/images?protected=TRUE&os_hidden=False")
        .await;
    let names: Vec<&str> = listed["images"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["name"].as_str())
        .collect();
    assert!(
        names.contains(&"upper") && !names.contains(&"plain"),
        "{names:?}"
    );

    let (s, v) = tc
        .post(
            "/networking/v2.0/networks",
            json!({"network": {"name": "a\u{0}b"}}),
        )
        .await;
    assert_eq!(s, 400, "{v}");
    assert!(v["NeutronError"].is_object());
    let image = tc.base_image().await;
    let flavor = tc.flavor("Basic-1-2-20").await;
    let (s, v) = tc
        .post("/compute/v2.1/servers", json!({"server": {"name": "vm\u{0}", "flavorRef": flavor, "imageRef": image, "networks": "none"}}))
        .await;
    assert_eq!(s, 400, "{v}");
    assert!(v["badRequest"].is_object(), "{v}");
}

/// I4: a Range this server does not read is ignored (200, the whole body), as RFC 9110 says.
#[tokio::test]
async fn range_headers_follow_rfc_9110() {
    let tc = TestCloud::start().await;
    let (s, v) = tc
        .post(
            "/image/v2/images",
            json!({"name": "r", "disk_format": "raw", "container_format": "bare"}),
        )
        .await;
    assert_eq!(s, 201);
    let id = v["id"].as_str().unwrap().to_owned();
    let data: Vec<u8> = (0..100u8).collect();
    let r = tc
        .http
        .put(tc.url(&format!("/image/v2/images/{id}/file")))
        .header("x-auth-token", &tc.token)
        .header("content-type", "application/octet-stream")
        .body(data.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let get = |ranges: Vec<&'static str>| {
        let mut req = tc
            .http
            .get(tc.url(&format!("/image/v2/images/{id}/file")))
            .header("x-auth-token", &tc.token);
        for r in ranges {
            req = req.header("range", r);
        }
        async move {
            let resp = req.send().await.unwrap();
            (resp.status().as_u16(), resp.bytes().await.unwrap().to_vec())
        }
    };
    for ignored in [
        "items=0-5",
        "bytes=0-1,2-3",
        "bytes= 1-2",
        "bytes=5-2",
        "bytes=x-",
    ] {
        let (s, body) = get(vec![ignored]).await;
        assert_eq!((s, body.len()), (200, 100), "{ignored}");
    }
    let (s, body) = get(vec!["bytes=0-1", "bytes=2-3"]).await;
    assert_eq!((s, body.len()), (200, 100), "two Range headers");
    let (s, body) = get(vec!["bytes=10-1234567890123456789012345678901234567890"]).await;
    assert_eq!((s, body.len()), (206, 90));
    let (s, body) = get(vec!["bytes=-1234567890123456789012345678901234567890"]).await;
    assert_eq!((s, body.len()), (206, 100));
    let (s, _) = get(vec!["bytes=100-"]).await;
    assert_eq!(s, 416);
    let (s, body) = get(vec!["bytes=98-"]).await;
    assert_eq!((s, body), (206, vec![98, 99]));
}

/// 413 and other errors the framework answers come in each service's own format.
#[tokio::test]
async fn framework_errors_use_each_services_format() {
    let tc = TestCloud::start().await;
    let big = format!(
        "{{\"network\": {{\"name\": \"{}\"}}}}",
        "x".repeat(3 * 1024 * 1024)
    );
    let (s, v) = tc
        .call(Method::POST, "/networking/v2.0/networks", Some(&big))
        .await;
    assert_eq!(s, 413);
    assert!(v["NeutronError"]["message"].is_string(), "{v}");
    let (s, v) = tc
        .call(Method::POST, "/compute/v2.1/os-keypairs", Some(&big))
        .await;
    assert_eq!(s, 413);
    assert!(
        v.as_object()
            .is_some_and(|o| o.values().any(|e| e["code"] == 413)),
        "{v}"
    );
    let (s, v) = tc
        .call(Method::DELETE, "/networking/v2.0/networks", None)
        .await;
    assert_eq!(s, 405);
    assert!(v["NeutronError"].is_object(), "{v}");
    let (s, v) = tc
        .call(Method::GET, "/compute/v2.1/servers?limit=-1", None)
        .await;
    assert_eq!(s, 400, "{v}");
    let v: Value = v;
    assert!(v.is_object());
}
