//! Cinder snapshots end to end: the `vitrina_openstack` client against a started localcloud over
//! loopback HTTP (snapshot, restore, boot from a snapshot, delete rules, restart, isolation).

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use common::TestCloud;
use reqwest::Method;
use serde_json::{json, Value};
use vitrina_openstack::wire::volume::{SnapshotCreate, SnapshotUpdate, VolumeAction, VolumeCreate};
use vitrina_openstack::{Client, CloudConfig, ConfigSource, WaitOptions};

const HAS_SNAPSHOTS: &str = "Invalid volume: Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer.";

/// A client for `cloud` (`localcloud` is the demo project, `localcloud-admin` the admin one)
/// from the clouds.yaml localcloud wrote into its data folder.
fn client(dir: &Path, cloud: &str) -> Client {
    let source = ConfigSource {
        env: [
            ("OS_CLOUD".to_owned(), cloud.to_owned()),
            (
                "OS_CLIENT_CONFIG_FILE".to_owned(),
                dir.join("clouds.yaml").display().to_string(),
            ),
        ]
        .into(),
        cwd: dir.to_path_buf(),
        home: None,
    };
    let config = CloudConfig::load_from(&source, None).expect("clouds.yaml");
    Client::new(config).expect("client")
}

fn quick() -> WaitOptions {
    WaitOptions {
        timeout: Duration::from_secs(20),
        initial_interval: Duration::from_millis(20),
        max_interval: Duration::from_millis(200),
    }
}

fn api_error<T: std::fmt::Debug>(r: vitrina_openstack::Result<T>) -> (Option<u16>, String) {
    let e = r.expect_err("the API should refuse");
    (e.status(), e.api_message().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn snapshots_restore_boot_delete_rules_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let keep = dir.path().to_path_buf();
    let tc = TestCloud::start_in(dir).await;
    let demo = client(&keep, "localcloud");
    let bs = demo.block_storage();
    let image = tc.base_image().await;

    // A bootable source volume from the base image.
    let src = bs
        .create_volume(&VolumeCreate {
            size: Some(2),
            name: Some("src".into()),
            image_ref: Some(image.clone()),
            availability_zone: Some("MS1".into()),
            volume_type: Some("ceph-hdd".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let src = bs
        .wait_volume(&src.id, &["available"], quick())
        .await
        .unwrap();
    assert!(src.is_bootable());

    // Snapshot it.
    let snap = bs
        .create_snapshot(&SnapshotCreate {
            volume_id: src.id.clone(),
            name: Some("snap".into()),
            description: Some("before the upgrade".into()),
            metadata: Some(BTreeMap::from([("k".to_owned(), "v".to_owned())])),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(snap.status, "creating");
    assert_eq!(snap.size, 2);
    assert_eq!(snap.volume_id, src.id);
    let snap = bs.wait_snapshot(&snap.id, quick()).await.unwrap();
    assert_eq!(snap.status, "available");
    let got = bs.get_snapshot(&snap.id).await.unwrap();
    assert_eq!(got.name.as_deref(), Some("snap"));
    assert_eq!(got.metadata.get("k").map(String::as_str), Some("v"));
    assert_eq!(got.progress.as_deref(), Some("100%"));
    assert_eq!(got.project_id.as_deref(), Some(tc.project_id.as_str()));
    let by_volume = bs
        .list_snapshots(&vec![("volume_id".to_owned(), src.id.clone())])
        .await
        .unwrap();
    assert_eq!(by_volume.len(), 1);
    assert_eq!(by_volume[0].id, snap.id);
    let none = bs
        .list_snapshots(&vec![("name".to_owned(), "other".to_owned())])
        .await
        .unwrap();
    assert!(none.is_empty(), "{none:?}");
    let renamed = bs
        .update_snapshot(
            &snap.id,
            &SnapshotUpdate {
                name: Some("snap-1".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(renamed.name.as_deref(), Some("snap-1"));
    assert_eq!(renamed.description.as_deref(), Some("before the upgrade"));
    // The summary list and pagination.
    let v = tc.get("/volume/v3/{project}/snapshots?limit=5").await;
    assert_eq!(v["snapshots"][0]["name"], "snap-1");
    assert!(v["snapshots"][0]
        .get("os-extended-snapshot-attributes:progress")
        .is_none());

    // A clone of the source volume may not be smaller either (Cinder's text, double space and all).
    let (status, msg) = api_error(
        bs.create_volume(&VolumeCreate {
            size: Some(1),
            source_volid: Some(src.id.clone()),
            ..Default::default()
        })
        .await,
    );
    assert_eq!(status, Some(400));
    assert_eq!(msg, "Invalid input received: Volume size '1'GB cannot be smaller than original volume size  2GB. They must be >= original volume size.");

    // A volume from the snapshot: not smaller, inherits size, zone, bootable and image metadata.
    let (status, msg) = api_error(
        bs.create_volume(&VolumeCreate {
            size: Some(1),
            snapshot_id: Some(snap.id.clone()),
            ..Default::default()
        })
        .await,
    );
    assert_eq!(status, Some(400));
    assert_eq!(msg, "Invalid input received: Volume size '1'GB cannot be smaller than the snapshot size 2GB. They must be >= original snapshot size.");
    let (status, msg) = api_error(
        bs.create_volume(&VolumeCreate {
            snapshot_id: Some(snap.id.clone()),
            availability_zone: Some("GZ1".into()),
            ..Default::default()
        })
        .await,
    );
    assert_eq!(status, Some(400));
    assert_eq!(
        msg,
        "Invalid input received: Volume must be in the same availability zone as the snapshot"
    );
    let restored = bs
        .create_volume(&VolumeCreate {
            name: Some("restored".into()),
            snapshot_id: Some(snap.id.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    let restored = bs
        .wait_volume(&restored.id, &["available"], quick())
        .await
        .unwrap();
    assert_eq!(restored.size, 2);
    assert_eq!(restored.snapshot_id.as_deref(), Some(snap.id.as_str()));
    assert!(restored.is_bootable());
    assert_eq!(restored.availability_zone.as_deref(), Some("MS1"));
    assert_eq!(restored.volume_type.as_deref(), Some("ceph-hdd"));
    assert_eq!(
        restored
            .volume_image_metadata
            .as_ref()
            .and_then(|m| m.get("image_name"))
            .map(String::as_str),
        Some("vitrina-process-base")
    );

    // Paging: one volume per page, and the link leads to the other one.
    let first = tc.get("/volume/v3/{project}/volumes/detail?limit=1").await;
    assert_eq!(first["volumes"].as_array().map(Vec::len), Some(1));
    let next = first["volumes_links"][0]["href"].as_str().unwrap();
    assert!(next.contains("/volumes/detail?"), "{next}");
    let second = tc.get(next.strip_prefix(tc.base.as_str()).unwrap()).await;
    let ids = [&first["volumes"][0]["id"], &second["volumes"][0]["id"]];
    assert_ne!(ids[0], ids[1]);
    assert!(ids.contains(&&json!(src.id)) && ids.contains(&&json!(restored.id)));

    // The source volume cannot go while it has a snapshot.
    let (status, msg) = api_error(bs.delete_volume(&src.id).await);
    assert_eq!(status, Some(400));
    assert_eq!(msg, HAS_SNAPSHOTS);
    let (status, msg) = api_error(
        bs.create_snapshot(&SnapshotCreate {
            volume_id: "00000000-0000-4000-8000-000000000000".into(),
            ..Default::default()
        })
        .await,
    );
    assert_eq!(status, Some(404));
    assert_eq!(
        msg,
        "Volume 00000000-0000-4000-8000-000000000000 could not be found."
    );

    // Boot a server from the snapshot (Nova creates the boot volume from it).
    let (net, _) = tc.network("app", "10.40.0.0/24").await;
    let flavor = tc.flavor("Basic-1-2-20").await;
    let (s, v) = tc
        .post("/compute/v2.1/servers", json!({"server": {"name": "from-snap", "flavorRef": flavor, "imageRef": "", "networks": [{"uuid": net}],
            "block_device_mapping_v2": [{"boot_index": 0, "uuid": snap.id, "source_type": "snapshot", "destination_type": "volume", "delete_on_termination": true}]}}))
        .await;
    assert_eq!(s, 202, "{v}");
    let server_id = v["server"]["id"].as_str().unwrap().to_owned();
    let server = tc.wait_status(&server_id, "ACTIVE").await;
    let boot_vol = server["server"]["os-extended-volumes:volumes_attached"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let bv = bs.get_volume(&boot_vol).await.unwrap();
    assert_eq!(bv.status, "in-use");
    assert_eq!(bv.size, 2);
    assert_eq!(bv.snapshot_id.as_deref(), Some(snap.id.as_str()));
    assert!(bv.is_bootable());
    assert_eq!(bv.attachments[0].server_id, server_id);
    let (s, v) = tc
        .post("/compute/v2.1/servers", json!({"server": {"name": "bad", "flavorRef": flavor, "imageRef": "", "networks": [{"uuid": net}],
            "block_device_mapping_v2": [{"boot_index": 0, "uuid": "nope", "source_type": "snapshot", "destination_type": "volume"}]}}))
        .await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(
        v["badRequest"]["message"],
        "Block Device Mapping is Invalid: failed to get snapshot nope."
    );

    // An in-use volume needs `force` before 3.66; from 3.66 it does not, and `force: false` is
    // refused.
    let (status, msg) = api_error(
        bs.create_snapshot(&SnapshotCreate {
            volume_id: boot_vol.clone(),
            ..Default::default()
        })
        .await,
    );
    assert_eq!(status, Some(400));
    assert_eq!(
        msg,
        format!(
            "Invalid volume: Volume {boot_vol} status must be available, but current status is: in-use."
        )
    );
    let forced = bs
        .create_snapshot(&SnapshotCreate {
            volume_id: boot_vol.clone(),
            force: Some(true),
            ..Default::default()
        })
        .await
        .unwrap();
    let v366 = |body: Value| {
        tc.http
            .post(tc.url("/volume/v3/{project}/snapshots"))
            .header("x-auth-token", &tc.token)
            .header("openstack-api-version", "volume 3.66")
            .json(&body)
            .send()
    };
    let resp = v366(json!({"snapshot": {"volume_id": boot_vol, "force": false}}))
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["badRequest"]["message"], "Since microversion 3.66 the 'force' flag is invalid for this request.  For backward compatability, however, when the 'force' flag is passed with a value evaluating to True, it is silently ignored.");
    let resp = v366(json!({"snapshot": {"volume_id": boot_vol, "name": "no-force"}}))
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["snapshot"]["user_id"],
        demo.token().await.unwrap().user_id()
    );
    let no_force = body["snapshot"]["id"].as_str().unwrap().to_owned();
    bs.wait_snapshot(&forced.id, quick()).await.unwrap();
    bs.wait_snapshot(&no_force, quick()).await.unwrap();

    // Deleting the server keeps its delete_on_termination volume: it has snapshots.
    let (s, _) = tc
        .call(
            Method::DELETE,
            &format!("/compute/v2.1/servers/{server_id}"),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let bv = bs.get_volume(&boot_vol).await.unwrap();
    assert_eq!(bv.status, "available");
    assert!(bv.attachments.is_empty());
    // A cascading delete takes the volume and both of its snapshots.
    assert!(bs.delete_volume_cascade(&boot_vol).await.unwrap());
    for id in [&forced.id, &no_force] {
        let (status, msg) = api_error(bs.get_snapshot(id).await);
        assert_eq!(status, Some(404));
        assert_eq!(msg, format!("Snapshot {id} could not be found."));
    }
    bs.wait_volume_deleted(&boot_vol, quick()).await.unwrap();

    // Only available or in-use volumes can be snapshotted (admin resets its own volume's status).
    let admin = client(&keep, "localcloud-admin");
    let abs = admin.block_storage();
    let av = abs
        .create_volume(&VolumeCreate {
            size: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    abs.wait_volume(&av.id, &["available"], quick())
        .await
        .unwrap();
    for (status, want) in [
        ("error", "Invalid volume: The snapshot cannot be created when the volume is in error status.".to_owned()),
        ("maintenance", format!("Invalid volume: Volume {} status must be available, in-use, but current status is: maintenance.", av.id)),
    ] {
        abs.action(
            &av.id,
            &VolumeAction::ResetStatus {
                status: Some(status.into()),
                attach_status: None,
            },
        )
        .await
        .unwrap();
        let (code, msg) = api_error(
            abs.create_snapshot(&SnapshotCreate {
                volume_id: av.id.clone(),
                force: Some(true),
                ..Default::default()
            })
            .await,
        );
        assert_eq!(code, Some(400));
        assert_eq!(msg, want);
    }

    // The admin project reaches the demo project's snapshot by ID, as Cinder's admins do
    // (probe I1), and lists it only with `all_tenants` (tests/admin_surface.rs has the other
    // projects' view: nothing).
    assert_eq!(abs.get_snapshot(&snap.id).await.unwrap().id, snap.id);
    assert!(abs
        .list_snapshots(&Vec::new())
        .await
        .unwrap()
        .iter()
        .all(|s| s.id != snap.id));
    assert!(abs
        .list_snapshots(&vec![("all_tenants".to_owned(), "1".to_owned())])
        .await
        .unwrap()
        .iter()
        .any(|s| s.id == snap.id));
    assert_eq!(bs.get_snapshot(&snap.id).await.unwrap().status, "available");

    // Restart on the same data: the snapshot is still there.
    let dir = tc.stop();
    assert_eq!(dir.path(), keep.as_path());
    let tc2 = TestCloud::start_in(dir).await;
    let demo = client(&keep, "localcloud");
    let bs = demo.block_storage();
    let after = bs.get_snapshot(&snap.id).await.unwrap();
    assert_eq!(after.status, "available");
    assert_eq!(after.name.as_deref(), Some("snap-1"));
    assert_eq!(after.volume_id, src.id);

    // Delete the snapshot first, then the volume goes too.
    let (status, msg) = api_error(bs.delete_volume(&src.id).await);
    assert_eq!((status, msg.as_str()), (Some(400), HAS_SNAPSHOTS));
    assert!(bs.delete_snapshot(&snap.id).await.unwrap());
    bs.wait_snapshot_deleted(&snap.id, quick()).await.unwrap();
    assert!(!bs.delete_snapshot(&snap.id).await.unwrap(), "already gone");
    assert!(bs.delete_volume(&src.id).await.unwrap());
    bs.wait_volume_deleted(&src.id, quick()).await.unwrap();
    // The restored volume does not depend on the deleted snapshot.
    assert_eq!(
        bs.get_volume(&restored.id).await.unwrap().status,
        "available"
    );
    drop(tc2);
}

#[tokio::test]
async fn snapshot_bodies_are_checked() {
    let tc = TestCloud::start().await;
    let cases: &[(&str, u16, &str)] = &[
        (
            r#"{"snapshot": {"volume_id": 5}}"#,
            400,
            "is not of type 'string, null'",
        ),
        (
            r#"{"snapshot": {}}"#,
            400,
            "'volume_id' is a required property",
        ),
        (
            r#"{"snapshot": {"volume_id": "00000000-0000-4000-8000-000000000000", "colour": 1}}"#,
            400,
            "Additional properties are not allowed ('colour' was unexpected)",
        ),
        (
            r#"{"snapshot": {"volume_id": "00000000-0000-4000-8000-000000000000", "force": "maybe"}}"#,
            400,
            "Invalid input for field/attribute force",
        ),
        (
            r#"{"snapshot": {"volume_id": "00000000-0000-4000-8000-000000000000", "metadata": {"a": 1}}}"#,
            400,
            "is not of type 'string'",
        ),
        (
            r#"{"snapshot": {"volume_id": "abc"}}"#,
            400,
            "'abc' is not a 'uuid'",
        ),
        (
            r#"{"snapshot": {"volume_id": null}}"#,
            404,
            "Volume None could not be found.",
        ),
        ("{oops", 400, "Malformed request body"),
        ("[]", 400, "is not of type 'object'"),
    ];
    for (body, want, fragment) in cases {
        let (status, v) = tc
            .call(Method::POST, "/volume/v3/{project}/snapshots", Some(body))
            .await;
        assert_eq!(status, *want, "{body}: {v}");
        let key = if *want == 404 {
            "itemNotFound"
        } else {
            "badRequest"
        };
        let msg = v[key]["message"].as_str().unwrap_or_default();
        assert!(msg.contains(fragment), "{body}: want `{fragment}` in {v}");
    }
    let missing = "/volume/v3/{project}/snapshots/00000000-0000-4000-8000-000000000000";
    let (status, v) = tc
        .call(Method::PUT, missing, Some(r#"{"snapshot": {}}"#))
        .await;
    assert_eq!(status, 400, "{v}");
    assert!(v["badRequest"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("is not valid under any of the given schemas"));
    let (status, v) = tc
        .call(Method::PUT, missing, Some(r#"{"snapshot": {"name": "x"}}"#))
        .await;
    assert_eq!(status, 404, "{v}");
    let (status, _) = tc.call(Method::DELETE, missing, None).await;
    assert_eq!(status, 404);
    let (status, v) = tc
        .call(Method::GET, "/volume/v3/{project}/snapshots?limit=x", None)
        .await;
    assert_eq!(status, 400, "{v}");
}
