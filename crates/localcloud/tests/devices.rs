//! Device names as Nova gives them: an image-booted server's root disk is `/dev/vda`, so the first
//! volume attached to it (or mapped at create) is `/dev/vdb`; a volume-booted server's root volume
//! is `/dev/vda`.

mod common;

use std::time::Duration;

use common::TestCloud;
use reqwest::Method;
use serde_json::{json, Value};

async fn volume(tc: &TestCloud, name: &str, image: Option<&str>) -> String {
    let mut body = json!({"size": 1, "name": name});
    if let Some(i) = image {
        body["imageRef"] = json!(i);
    }
    let (s, v) = tc
        .post("/volume/v3/{project}/volumes", json!({ "volume": body }))
        .await;
    assert_eq!(s, 202, "{v}");
    let vol = v["volume"]["id"].as_str().expect("id").to_owned();
    let path = format!("/volume/v3/{{project}}/volumes/{vol}");
    tc.wait_for("volume available", Duration::from_secs(30), || {
        let path = path.clone();
        async move {
            let (_, v) = tc.call(Method::GET, &path, None).await;
            (v["volume"]["status"] == "available").then_some(())
        }
    })
    .await;
    vol
}

async fn attach(tc: &TestCloud, server: &str, vol: &str) -> Value {
    let (s, v) = tc
        .post(
            &format!("/compute/v2.1/servers/{server}/os-volume_attachments"),
            json!({"volumeAttachment": {"volumeId": vol}}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    v
}

#[tokio::test]
async fn volumes_on_an_image_booted_server_start_at_vdb() {
    let tc = TestCloud::start().await;
    let (net, _) = tc.network("n", "10.3.0.0/24").await;
    let image = tc.base_image().await;
    let flavor = tc.flavor("Basic-1-2-20").await;

    // Attached after boot.
    let server = tc.boot("vm", &net, None).await;
    tc.wait_status(&server, "ACTIVE").await;
    let first = volume(&tc, "first", None).await;
    let second = volume(&tc, "second", None).await;
    let v = attach(&tc, &server, &first).await;
    assert_eq!(v["volumeAttachment"]["device"], "/dev/vdb", "{v}");
    let v = attach(&tc, &server, &second).await;
    assert_eq!(v["volumeAttachment"]["device"], "/dev/vdc", "{v}");
    let vol = tc
        .get(&format!("/volume/v3/{{project}}/volumes/{first}"))
        .await;
    assert_eq!(
        vol["volume"]["attachments"][0]["device"], "/dev/vdb",
        "{vol}"
    );

    // Mapped at create next to an image.
    let data = volume(&tc, "data", None).await;
    let (s, v) = tc
        .post(
            "/compute/v2.1/servers",
            json!({"server": {"name": "vm2", "flavorRef": flavor, "imageRef": image, "networks": "none",
                   "block_device_mapping_v2": [
                       {"boot_index": 0, "uuid": image, "source_type": "image", "destination_type": "local"},
                       {"uuid": data, "source_type": "volume", "destination_type": "volume", "boot_index": -1}]}}),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    let vm2 = v["server"]["id"].as_str().expect("id").to_owned();
    tc.wait_status(&vm2, "ACTIVE").await;
    let atts = tc
        .get(&format!(
            "/compute/v2.1/servers/{vm2}/os-volume_attachments"
        ))
        .await;
    assert_eq!(atts["volumeAttachments"][0]["device"], "/dev/vdb", "{atts}");

    // Booted from a volume: the root volume is /dev/vda, the next one /dev/vdb.
    let root = volume(&tc, "root", Some(&image)).await;
    let (s, v) = tc
        .post(
            "/compute/v2.1/servers",
            json!({"server": {"name": "vm3", "flavorRef": flavor, "networks": "none",
                   "block_device_mapping_v2": [
                       {"boot_index": 0, "uuid": root, "source_type": "volume", "destination_type": "volume"}]}}),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    let vm3 = v["server"]["id"].as_str().expect("id").to_owned();
    tc.wait_status(&vm3, "ACTIVE").await;
    let atts = tc
        .get(&format!(
            "/compute/v2.1/servers/{vm3}/os-volume_attachments"
        ))
        .await;
    assert_eq!(atts["volumeAttachments"][0]["device"], "/dev/vda", "{atts}");
    let extra = volume(&tc, "extra", None).await;
    let v = attach(&tc, &vm3, &extra).await;
    assert_eq!(v["volumeAttachment"]["device"], "/dev/vdb", "{v}");
}
