//! Wire tests of the client against real Keystone and Glance (from `.venv-peers`, see
//! `scripts/peers.sh`) on 127.0.0.1: authentication in every supported way, the catalog, and a
//! 200 MB image uploaded (streamed), listed with filters, downloaded whole and resumed with
//! `Range`, checksums verified, and deleted.

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use md5::{Digest, Md5};
use sha2::Sha512;
use vitrina_openstack::config::{AuthMethod, DomainSpec, ScopeSpec, UserSpec};
use vitrina_openstack::wire::image::{ImageCreate, PatchOp};
use vitrina_openstack::{Client, Error, Secret, ServiceType, TransferOptions};

use common::Peers;

/// One Keystone + Glance for every test in this binary (they take ~30 s to prepare).
fn peers() -> &'static Peers {
    static PEERS: OnceLock<Result<Peers, String>> = OnceLock::new();
    let started = PEERS.get_or_init(|| {
        // Registration is async; run it on a runtime of its own outside the test's runtime.
        std::thread::spawn(|| -> Result<Peers, String> {
            let peers = Peers::start().map_err(|e| format!("{e:#}"))?;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime
                .block_on(async {
                    let client = Client::new(peers.admin_config())?;
                    peers.register_glance(&client).await
                })
                .map_err(|e| format!("registering Glance: {e:#}"))?;
            Ok(peers)
        })
        .join()
        .unwrap_or_else(|_| Err("the peers thread panicked".into()))
    });
    match started {
        Ok(peers) => peers,
        Err(message) => panic!("cannot start Keystone and Glance: {message}"),
    }
}

#[tokio::test]
async fn password_auth_by_project_name_and_by_id_reads_the_catalog() -> anyhow::Result<()> {
    let peers = peers();
    // By name, with the unversioned auth URL: version discovery answers 300 with the v3 link.
    let by_name = Client::new(peers.admin_config())?;
    let token = by_name.authenticate().await?;
    assert!(token.token.expose().starts_with("gAAAA"), "a fernet token");
    assert_eq!(token.identity_url, format!("{}/v3", peers.keystone_root));
    let project_id = token.project_id().expect("scoped to a project").to_owned();
    assert_eq!(
        token.body.project.as_ref().map(|p| p.name.as_str()),
        Some("admin")
    );
    let catalog = token.body.catalog.clone().unwrap_or_default();
    let types: Vec<&str> = catalog.iter().map(|e| e.service_type.as_str()).collect();
    assert!(
        types.contains(&"identity") && types.contains(&"image"),
        "{types:?}"
    );
    assert_eq!(
        by_name.endpoint(ServiceType::Image).await?,
        format!("{}/v2", peers.glance_root)
    );
    let missing = by_name.endpoint(ServiceType::Compute).await.unwrap_err();
    assert!(
        matches!(missing, Error::EndpointNotFound { .. }),
        "{missing}"
    );

    // By id, with the versioned URL and user domain by id.
    let mut config = peers.admin_config();
    config.auth_url = format!("{}/v3/", peers.keystone_root);
    config.auth = AuthMethod::Password {
        user: UserSpec::Name {
            name: "admin".into(),
            domain: DomainSpec::Id("default".into()),
        },
        password: Secret::new(common::ADMIN_PASSWORD),
        scope: ScopeSpec::ProjectId(project_id.clone()),
    };
    let by_id = Client::new(config)?;
    assert_eq!(by_id.token().await?.project_id(), Some(project_id.as_str()));
    assert!(by_id.image().list_images(&vec![]).await.is_ok());

    // A wrong password is an API error with Keystone's message and request id.
    let mut wrong = peers.admin_config();
    if let AuthMethod::Password { password, .. } = &mut wrong.auth {
        *password = Secret::new("nope");
    }
    let error = Client::new(wrong)?.authenticate().await.unwrap_err();
    assert_eq!(error.status(), Some(401), "{error}");
    assert!(
        error.request_id().is_some_and(|r| r.starts_with("req-")),
        "{error}"
    );
    assert!(!format!("{error:?}").contains("nope"));
    Ok(())
}

#[tokio::test]
async fn token_and_application_credential_auth() -> anyhow::Result<()> {
    let peers = peers();
    let admin = Client::new(peers.admin_config())?;
    let token = admin.authenticate().await?;
    let project_id = token.project_id().unwrap_or_default().to_owned();

    // An existing token, rescoped to the same project.
    let mut config = peers.admin_config();
    config.auth = AuthMethod::Token {
        token: token.token.clone(),
        scope: ScopeSpec::ProjectId(project_id.clone()),
    };
    let by_token = Client::new(config)?;
    let second = by_token.authenticate().await?;
    // Keystone lists the methods of the whole chain, the token's and the original one, in
    // no fixed order (it keeps them in a set).
    assert!(
        second.body.methods.iter().any(|m| m == "token"),
        "{:?}",
        second.body.methods
    );
    assert_eq!(second.project_id(), Some(project_id.as_str()));

    // An application credential created by the admin for itself.
    let created: serde_json::Value = admin
        .request(
            ServiceType::Identity,
            reqwest::Method::POST,
            &format!("users/{}/application_credentials", token.user_id()),
            |r| {
                r.json(&serde_json::json!({"application_credential": {
                    "name": format!("vitrina-test-{}", std::process::id())}}))
            },
        )
        .await?
        .json()
        .await?;
    let credential = &created["application_credential"];
    let mut config = peers.admin_config();
    config.auth = AuthMethod::ApplicationCredential {
        id: credential["id"].as_str().map(str::to_owned),
        name: None,
        user: None,
        secret: Secret::new(credential["secret"].as_str().unwrap_or_default()),
    };
    let by_credential = Client::new(config)?;
    let third = by_credential.authenticate().await?;
    assert_eq!(
        third.body.methods,
        vec!["application_credential".to_owned()]
    );
    assert_eq!(third.project_id(), Some(project_id.as_str()));
    assert!(by_credential.image().list_images(&vec![]).await.is_ok());
    Ok(())
}

#[tokio::test]
async fn a_revoked_token_is_replaced_once_on_401() -> anyhow::Result<()> {
    let peers = peers();
    let client = Client::new(peers.admin_config())?;
    let first = client.authenticate().await?;
    // Revoke it behind the client's back with another session.
    let other = Client::new(peers.admin_config())?;
    let subject = first.token.expose().to_owned();
    other
        .request(
            ServiceType::Identity,
            reqwest::Method::DELETE,
            "auth/tokens",
            |r| r.header("x-subject-token", subject.clone()),
        )
        .await?;
    // Keystone itself rejects the revoked token with 401; the client authenticates again.
    let projects: serde_json::Value = client
        .request(
            ServiceType::Identity,
            reqwest::Method::GET,
            "projects",
            |r| r,
        )
        .await?
        .json()
        .await?;
    assert!(projects["projects"]
        .as_array()
        .is_some_and(|p| !p.is_empty()));
    let now = client.token().await?;
    assert_ne!(now.token.expose(), first.token.expose());
    Ok(())
}

#[tokio::test]
async fn image_lifecycle_with_200_mb_of_data() -> anyhow::Result<()> {
    const SIZE: u64 = 200 * 1024 * 1024;
    let peers = peers();
    let client = Client::new(peers.admin_config())?;
    let glance = client.image();
    let dir = tempfile::tempdir()?;
    let source = dir.path().join("source.raw");
    common::write_pattern_file(&source, SIZE, 0x5eed)?;
    let (md5, sha512) = hashes(&source)?;
    let tag = format!("vitrina-{}", std::process::id());

    // Create with custom properties and tags, then stream the file in.
    let mut properties = std::collections::BTreeMap::new();
    properties.insert("os_distro".to_owned(), "ubuntu".to_owned());
    properties.insert("sid".to_owned(), "xaas".to_owned());
    let create = ImageCreate {
        name: Some(format!("{tag}-big")),
        disk_format: Some("raw".into()),
        container_format: Some("bare".into()),
        visibility: Some("private".into()),
        min_disk: Some(1),
        tags: Some(vec![tag.clone()]),
        properties,
        ..Default::default()
    };
    let progress_seen = Arc::new(AtomicU64::new(0));
    let seen = progress_seen.clone();
    let options = TransferOptions {
        progress: Some(Arc::new(move |done, _| seen.store(done, Ordering::Relaxed))),
        ..Default::default()
    };
    let (image, report) = glance
        .create_image_from_file(&create, &source, &options)
        .await?;
    assert_eq!(image.status, "active");
    assert_eq!(image.size, Some(SIZE));
    assert_eq!(image.checksum.as_deref(), Some(md5.as_str()));
    assert_eq!(image.os_hash_algo.as_deref(), Some("sha512"));
    assert_eq!(image.os_hash_value.as_deref(), Some(sha512.as_str()));
    assert_eq!(image.property("os_distro").as_deref(), Some("ubuntu"));
    assert_eq!(
        (report.md5.as_deref(), report.sha512.as_deref()),
        (Some(md5.as_str()), Some(sha512.as_str()))
    );
    assert_eq!(progress_seen.load(Ordering::Relaxed), SIZE);

    // Re-uploading into an active image is Glance's 409, with its message.
    let conflict = glance
        .upload_file(&image.id, &source, &TransferOptions::default())
        .await
        .unwrap_err();
    assert!(conflict.is_conflict(), "{conflict}");

    // Two small images so that listing pages (limit=1 follows `next`).
    let mut small_ids = Vec::new();
    for n in 0..2 {
        let small = dir.path().join(format!("small-{n}"));
        common::write_pattern_file(&small, 4096, n + 1)?;
        let create = ImageCreate {
            name: Some(format!("{tag}-small-{n}")),
            disk_format: Some("raw".into()),
            container_format: Some("bare".into()),
            tags: Some(vec![tag.clone(), "small".into()]),
            ..Default::default()
        };
        let (img, _) = glance
            .create_image_from_file(&create, &small, &TransferOptions::default())
            .await?;
        small_ids.push(img.id);
    }
    let q = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let paged = glance
        .list_images(&q(&[("tag", &tag), ("limit", "1")]))
        .await?;
    assert_eq!(paged.len(), 3, "every page followed");
    let small = glance
        .list_images(&q(&[("tag", "small"), ("tag", &tag)]))
        .await?;
    assert_eq!(small.len(), 2);
    let by_name = glance
        .list_images(&q(&[("name", &format!("{tag}-big")), ("status", "active")]))
        .await?;
    assert_eq!(
        by_name.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(),
        vec![image.id.as_str()]
    );
    let by_size = glance
        .list_images(&q(&[("tag", &tag), ("size_min", "1048576")]))
        .await?;
    assert_eq!(by_size.len(), 1);
    assert_eq!(glance.find_image(&format!("{tag}-big")).await?.id, image.id);

    // Whole download.
    let whole = dir.path().join("whole.raw");
    let report = glance
        .download_to_file(&image.id, &whole, &TransferOptions::default())
        .await?;
    assert_eq!(
        (report.size, report.resumed_from, report.transferred),
        (SIZE, 0, SIZE)
    );
    assert_eq!(hashes(&whole)?, (md5.clone(), sha512.clone()));
    assert!(!vitrina_openstack::image::part_path(&whole).exists());

    // Resumed download: an interrupted earlier attempt left 70 MB in `.part`.
    let resumed = dir.path().join("resumed.raw");
    let kept = 70 * 1024 * 1024;
    copy_prefix(
        &source,
        &vitrina_openstack::image::part_path(&resumed),
        kept,
    )?;
    let report = glance
        .download_to_file(&image.id, &resumed, &TransferOptions::default())
        .await?;
    assert_eq!(report.resumed_from, kept);
    assert_eq!(report.transferred, SIZE - kept);
    assert_eq!(
        (report.md5.as_deref(), report.sha512.as_deref()),
        (Some(md5.as_str()), Some(sha512.as_str()))
    );
    assert_eq!(hashes(&resumed)?, (md5.clone(), sha512.clone()));

    // Unverified and resumed: nothing is hashed, the bytes are still the image's.
    let unverified = dir.path().join("unverified.raw");
    copy_prefix(
        &source,
        &vitrina_openstack::image::part_path(&unverified),
        kept,
    )?;
    let options = TransferOptions {
        verify: false,
        ..Default::default()
    };
    let report = glance
        .download_to_file(&image.id, &unverified, &options)
        .await?;
    assert_eq!(
        (report.resumed_from, report.md5, report.sha512),
        (kept, None, None)
    );
    assert_eq!(hashes(&unverified)?, (md5.clone(), sha512.clone()));

    // A corrupt `.part` prefix is caught by the checksums and thrown away.
    let corrupt = dir.path().join("corrupt.raw");
    let part = vitrina_openstack::image::part_path(&corrupt);
    std::fs::write(&part, vec![0u8; 1024 * 1024])?;
    let error = glance
        .download_to_file(&image.id, &corrupt, &TransferOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::Checksum {
                algorithm: "MD5",
                ..
            }
        ),
        "{error}"
    );
    assert!(!part.exists() && !corrupt.exists());

    // Patch, deactivate, reactivate.
    let patched = glance
        .update_image(
            &image.id,
            &[
                PatchOp::replace("min_disk", 20),
                PatchOp::add("hw_qemu_guest_agent", "yes"),
            ],
        )
        .await?;
    assert_eq!(patched.min_disk, 20);
    assert_eq!(
        patched.property("hw_qemu_guest_agent").as_deref(),
        Some("yes")
    );
    glance.deactivate_image(&image.id).await?;
    assert_eq!(glance.get_image(&image.id).await?.status, "deactivated");
    glance.reactivate_image(&image.id).await?;
    assert_eq!(glance.get_image(&image.id).await?.status, "active");

    // Delete; a second delete and a read are 404s carrying Glance's request id.
    assert!(glance.delete_image(&image.id).await?);
    assert!(!glance.delete_image(&image.id).await?);
    let gone = glance.get_image(&image.id).await.unwrap_err();
    assert!(gone.is_not_found(), "{gone}");
    assert!(gone.request_id().is_some(), "{gone:?}");
    for id in small_ids {
        assert!(glance.delete_image(&id).await?);
    }
    assert!(glance.list_images(&q(&[("tag", &tag)])).await?.is_empty());
    Ok(())
}

fn hashes(path: &Path) -> std::io::Result<(String, String)> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut md5 = Md5::new();
    let mut sha = Sha512::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        md5.update(&buf[..n]);
        sha.update(&buf[..n]);
    }
    Ok((hex::encode(md5.finalize()), hex::encode(sha.finalize())))
}

fn copy_prefix(from: &Path, to: &Path, len: u64) -> std::io::Result<()> {
    use std::io::Read;
    let mut reader = std::fs::File::open(from)?.take(len);
    let mut writer = std::fs::File::create(to)?;
    std::io::copy(&mut reader, &mut writer)?;
    Ok(())
}
