//! The bytes of disks, and images made from them: Cinder's `os-volume_upload_image`
//! (`openstack image create --volume`) and Nova's `createImage` (`openstack server image create`).
//!
//! A volume's bytes live in `DATA/volumes/<id>` once written; until then a volume made from an
//! image holds that image's bytes, one cloned from a volume or snapshot holds its source's, and an
//! empty volume holds nothing. A process VM never writes its root disk, so its root disk is the
//! image it booted from (or its boot volume).

use std::path::PathBuf;

use md5::Digest as _;

use crate::model::{Image, ImageStatus, State as Db};
use crate::util::{new_id, now};
use crate::Cloud;

/// Where a volume's own bytes are kept once written.
pub fn volume_file(c: &Cloud, id: &str) -> PathBuf {
    c.cfg.data_dir.join("volumes").join(id)
}

/// The file holding a volume's bytes, `None` for an empty volume.
pub fn volume_source(c: &Cloud, db: &Db, id: &str) -> Option<PathBuf> {
    let mut id = id.to_owned();
    // Clones of clones: bounded, so a cycle in a hand-edited state cannot loop.
    for _ in 0..32 {
        let own = volume_file(c, &id);
        if own.is_file() {
            return Some(own);
        }
        let v = db.volumes.get(&id)?;
        if let Some(img) = &v.image_id {
            let p = crate::glance::data_path(c, img);
            return p.is_file().then_some(p);
        }
        id = match (&v.source_volid, &v.snapshot_id) {
            (Some(src), _) => src.clone(),
            (None, Some(snap)) => db.snapshots.get(snap)?.volume_id.clone(),
            (None, None) => return None,
        };
    }
    None
}

/// The file holding a server's root disk bytes, `None` when it has none.
pub fn server_root_source(c: &Cloud, db: &Db, server_id: &str) -> Option<PathBuf> {
    let s = db.servers.get(server_id)?;
    match s.image_id.as_deref().filter(|i| !i.is_empty()) {
        Some(img) => {
            let p = crate::glance::data_path(c, img);
            p.is_file().then_some(p)
        }
        None => {
            let root = s
                .volumes
                .iter()
                .find(|v| v.device == "/dev/vda")
                .or(s.volumes.first())?;
            volume_source(c, db, &root.volume_id)
        }
    }
}

/// A new `queued` image record, to be filled by [`fill_image`].
pub fn queued_image(
    owner: &str,
    name: &str,
    disk_format: &str,
    container_format: &str,
    visibility: &str,
    properties: std::collections::BTreeMap<String, serde_json::Value>,
) -> Image {
    let t = now();
    Image {
        id: new_id(),
        name: Some(name.to_owned()),
        owner: owner.to_owned(),
        status: ImageStatus::Queued,
        visibility: visibility.to_owned(),
        disk_format: Some(disk_format.to_owned()),
        container_format: Some(container_format.to_owned()),
        min_disk: 0,
        min_ram: 0,
        size: None,
        virtual_size: None,
        checksum: None,
        os_hash_algo: None,
        os_hash_value: None,
        protected: false,
        os_hidden: false,
        tags: vec![],
        properties,
        created_at: t.clone(),
        updated_at: t,
        members: vec![],
    }
}

/// Copies `source` (nothing for an empty disk) into image `image_id` in the background: the image
/// goes `saving`, then `active` with its size and checksums (or `killed` when the copy fails).
/// `done` runs under the state lock at the end either way (the volume goes back to its status,
/// the server leaves its task state).
pub fn fill_image(
    c: &Cloud,
    image_id: &str,
    source: Option<PathBuf>,
    done: impl FnOnce(&mut Db) + Send + 'static,
) {
    let store = c.store.clone();
    let dest = crate::glance::data_path(c, image_id);
    let tmp = crate::glance::data_path(c, &format!(".{image_id}.from-disk"));
    let id = image_id.to_owned();
    tokio::spawn(async move {
        store.write(|db| {
            if let Some(i) = db.images.get_mut(&id) {
                i.status = ImageStatus::Saving;
                i.updated_at = now();
            }
        });
        let copy = {
            let tmp = tmp.clone();
            tokio::task::spawn_blocking(move || copy_hashing(source, &tmp)).await
        };
        store.write(move |db| {
            let ok = match copy {
                Ok(Ok(x)) => Some(x),
                Ok(Err(e)) => {
                    tracing::warn!(image = %id, "copying disk bytes into the image failed: {e}");
                    None
                }
                Err(e) => {
                    tracing::warn!(image = %id, "copying disk bytes into the image failed: {e}");
                    None
                }
            };
            match (db.images.get_mut(&id), ok) {
                (Some(i), Some((size, md5, sha))) => match std::fs::rename(&tmp, &dest) {
                    Ok(()) => {
                        i.status = ImageStatus::Active;
                        i.size = Some(size);
                        i.virtual_size = Some(size);
                        i.checksum = Some(md5);
                        i.os_hash_algo = Some("sha512".into());
                        i.os_hash_value = Some(sha);
                        i.updated_at = now();
                    }
                    Err(e) => {
                        tracing::warn!(image = %id, "storing image data failed: {e}");
                        let _ = std::fs::remove_file(&tmp);
                        i.status = ImageStatus::Killed;
                    }
                },
                (Some(i), None) => {
                    let _ = std::fs::remove_file(&tmp);
                    i.status = ImageStatus::Killed;
                }
                // Deleted meanwhile: no orphan data (as L1 asks of uploads).
                (None, _) => {
                    let _ = std::fs::remove_file(&tmp);
                }
            }
            done(db);
        });
    });
}

/// Copies `source` to `tmp`, returning the size, MD5 and SHA-512 (hex).
fn copy_hashing(
    source: Option<PathBuf>,
    tmp: &std::path::Path,
) -> std::io::Result<(u64, String, String)> {
    use std::io::{Read as _, Write as _};
    if let Some(dir) = tmp.parent() {
        fs_err::create_dir_all(dir)?;
    }
    let mut out = fs_err::File::create(tmp)?;
    let mut md5 = md5::Md5::new();
    let mut sha = sha2::Sha512::new();
    let mut size = 0u64;
    if let Some(src) = source {
        let mut input = fs_err::File::open(src)?;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = input.read(&mut buf)?;
            if n == 0 {
                break;
            }
            let chunk = buf.get(..n).unwrap_or_default();
            md5.update(chunk);
            sha.update(chunk);
            out.write_all(chunk)?;
            size += n as u64;
        }
    }
    out.sync_all()?;
    Ok((
        size,
        hex::encode(md5.finalize()),
        hex::encode(sha.finalize()),
    ))
}
