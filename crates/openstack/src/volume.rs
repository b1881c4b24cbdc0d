//! Cinder v3: volumes (blank, from an image, a snapshot or another volume), extend, retype,
//! volume types, snapshots, and waits on the attach/detach state machine.

use reqwest::header::HeaderMap;
use reqwest::Method;

use crate::client::{Client, ServiceType};
use crate::compute::{exactly_one, gone_ok, seg};
use crate::error::{Error, Result};
use crate::wait::{wait_for, Poll, WaitOptions};
use crate::wire::volume::{
    Snapshot, SnapshotCreate, SnapshotCreateRequest, SnapshotResponse, SnapshotUpdate,
    SnapshotUpdateRequest, Volume, VolumeAction, VolumeCreate, VolumeCreateRequest, VolumeResponse,
    VolumeType, VolumeTypeList, VolumeUpdate, VolumeUpdateRequest, VolumeUploadImage,
    VolumeUploadImageRequest, VolumeUploadImageResponse, VolumeUploadImageResult,
};
use crate::Query;

const S: ServiceType = ServiceType::BlockStorage;

/// The block-storage service of a [`Client`].
#[derive(Debug, Clone)]
pub struct BlockStorage {
    client: Client,
    headers: HeaderMap,
}

impl Client {
    /// Cinder.
    pub fn block_storage(&self) -> BlockStorage {
        BlockStorage {
            client: self.clone(),
            headers: HeaderMap::new(),
        }
    }
}

impl BlockStorage {
    /// `POST /volumes`; the volume starts in `creating` (see [`BlockStorage::wait_volume`]).
    pub async fn create_volume(&self, volume: &VolumeCreate) -> Result<Volume> {
        let body: VolumeResponse = self
            .client
            .send_json(
                S,
                Method::POST,
                "volumes",
                &VolumeCreateRequest {
                    volume: volume.clone(),
                },
                &self.headers,
            )
            .await?;
        Ok(body.volume)
    }

    /// `GET /volumes/{id}`.
    pub async fn get_volume(&self, id: &str) -> Result<Volume> {
        let body: VolumeResponse = self
            .client
            .get_json(S, &format!("volumes/{}", seg(id)), &[], &self.headers)
            .await?;
        Ok(body.volume)
    }

    /// `GET /volumes/detail` with filters, every page.
    pub async fn list_volumes(&self, query: &Query) -> Result<Vec<Volume>> {
        self.client
            .list_all(S, "volumes/detail", query, "volumes", &self.headers)
            .await
    }

    /// The one volume named `name`.
    pub async fn find_volume(&self, name: &str) -> Result<Volume> {
        let found = self
            .list_volumes(&vec![("name".to_owned(), name.to_owned())])
            .await?;
        exactly_one("volume", name, found.into_iter())
    }

    /// `PUT /volumes/{id}`.
    pub async fn update_volume(&self, id: &str, update: &VolumeUpdate) -> Result<Volume> {
        let body: VolumeResponse = self
            .client
            .send_json(
                S,
                Method::PUT,
                &format!("volumes/{}", seg(id)),
                &VolumeUpdateRequest {
                    volume: update.clone(),
                },
                &self.headers,
            )
            .await?;
        Ok(body.volume)
    }

    /// `DELETE /volumes/{id}`; `Ok(false)` when already gone.
    pub async fn delete_volume(&self, id: &str) -> Result<bool> {
        self.delete_volume_at(format!("volumes/{}", seg(id))).await
    }

    /// `DELETE /volumes/{id}?cascade=true`: the volume and its snapshots; `Ok(false)` when
    /// already gone.
    pub async fn delete_volume_cascade(&self, id: &str) -> Result<bool> {
        self.delete_volume_at(format!("volumes/{}?cascade=true", seg(id)))
            .await
    }

    async fn delete_volume_at(&self, path: String) -> Result<bool> {
        gone_ok(
            self.client
                .send_no_content::<()>(S, Method::DELETE, &path, None, &self.headers)
                .await,
        )
    }

    /// `POST /volumes/{id}/action`.
    pub async fn action(&self, id: &str, action: &VolumeAction) -> Result<()> {
        self.client
            .send_no_content(
                S,
                Method::POST,
                &format!("volumes/{}/action", seg(id)),
                Some(action),
                &self.headers,
            )
            .await
    }

    /// `os-volume_upload_image`: starts copying the volume into a new image and returns the
    /// answer with the new image's id. The image is `queued`/`saving` until the copy ends; wait
    /// for it by that id ([`crate::ImageService::wait_image`]), never by name.
    pub async fn upload_to_image(
        &self,
        id: &str,
        upload: &VolumeUploadImage,
    ) -> Result<VolumeUploadImageResult> {
        let body: VolumeUploadImageResponse = self
            .client
            .send_json(
                S,
                Method::POST,
                &format!("volumes/{}/action", seg(id)),
                &VolumeUploadImageRequest {
                    upload: upload.clone(),
                },
                &self.headers,
            )
            .await?;
        Ok(body.upload)
    }

    /// `os-extend` to `new_size` GiB.
    pub async fn extend_volume(&self, id: &str, new_size: u64) -> Result<()> {
        self.action(id, &VolumeAction::Extend { new_size }).await
    }

    /// `os-retype` with `migration_policy: on-demand`.
    pub async fn retype_volume(&self, id: &str, new_type: &str) -> Result<()> {
        self.action(
            id,
            &VolumeAction::Retype {
                new_type: new_type.to_owned(),
                migration_policy: Some("on-demand".into()),
            },
        )
        .await
    }

    /// `GET /types`.
    pub async fn list_volume_types(&self) -> Result<Vec<VolumeType>> {
        let body: VolumeTypeList = self.client.get_json(S, "types", &[], &self.headers).await?;
        Ok(body.volume_types)
    }

    /// `POST /snapshots`.
    pub async fn create_snapshot(&self, snapshot: &SnapshotCreate) -> Result<Snapshot> {
        let body: SnapshotResponse = self
            .client
            .send_json(
                S,
                Method::POST,
                "snapshots",
                &SnapshotCreateRequest {
                    snapshot: snapshot.clone(),
                },
                &self.headers,
            )
            .await?;
        Ok(body.snapshot)
    }

    /// `GET /snapshots/{id}`.
    pub async fn get_snapshot(&self, id: &str) -> Result<Snapshot> {
        let body: SnapshotResponse = self
            .client
            .get_json(S, &format!("snapshots/{}", seg(id)), &[], &self.headers)
            .await?;
        Ok(body.snapshot)
    }

    /// `GET /snapshots/detail`, every page.
    pub async fn list_snapshots(&self, query: &Query) -> Result<Vec<Snapshot>> {
        self.client
            .list_all(S, "snapshots/detail", query, "snapshots", &self.headers)
            .await
    }

    /// `PUT /snapshots/{id}` (name, description).
    pub async fn update_snapshot(&self, id: &str, update: &SnapshotUpdate) -> Result<Snapshot> {
        let body: SnapshotResponse = self
            .client
            .send_json(
                S,
                Method::PUT,
                &format!("snapshots/{}", seg(id)),
                &SnapshotUpdateRequest {
                    snapshot: update.clone(),
                },
                &self.headers,
            )
            .await?;
        Ok(body.snapshot)
    }

    /// `DELETE /snapshots/{id}`; `Ok(false)` when already gone.
    pub async fn delete_snapshot(&self, id: &str) -> Result<bool> {
        gone_ok(
            self.client
                .send_no_content::<()>(
                    S,
                    Method::DELETE,
                    &format!("snapshots/{}", seg(id)),
                    None,
                    &self.headers,
                )
                .await,
        )
    }

    /// Polls until the volume's status is one of `targets` (`available`, `in-use`); any
    /// `error*` status fails.
    pub async fn wait_volume(
        &self,
        id: &str,
        targets: &[&str],
        options: WaitOptions,
    ) -> Result<Volume> {
        let what = format!("volume `{id}` to become {}", targets.join(" or "));
        wait_for(&what, options, || async {
            let volume = self.get_volume(id).await?;
            if targets.contains(&volume.status.as_str()) {
                Ok(Poll::Done(volume))
            } else if volume.status.starts_with("error") {
                Err(Error::ResourceFailed {
                    what: format!("volume `{id}`"),
                    status: volume.status,
                    fault: None,
                })
            } else {
                Ok(Poll::Pending(volume.status))
            }
        })
        .await
    }

    /// Polls until the volume is gone (404).
    pub async fn wait_volume_deleted(&self, id: &str, options: WaitOptions) -> Result<()> {
        let what = format!("volume `{id}` to be deleted");
        wait_for(&what, options, || async {
            match self.get_volume(id).await {
                Err(e) if e.is_not_found() => Ok(Poll::Done(())),
                Err(e) => Err(e),
                Ok(v) if v.status == "error_deleting" => Err(Error::ResourceFailed {
                    what: format!("volume `{id}`"),
                    status: v.status,
                    fault: None,
                }),
                Ok(v) => Ok(Poll::Pending(v.status)),
            }
        })
        .await
    }

    /// Polls until the snapshot's status is `available`; any `error*` status fails.
    pub async fn wait_snapshot(&self, id: &str, options: WaitOptions) -> Result<Snapshot> {
        let what = format!("snapshot `{id}` to become available");
        wait_for(&what, options, || async {
            let snapshot = self.get_snapshot(id).await?;
            if snapshot.status == "available" {
                Ok(Poll::Done(snapshot))
            } else if snapshot.status.starts_with("error") {
                Err(Error::ResourceFailed {
                    what: format!("snapshot `{id}`"),
                    status: snapshot.status,
                    fault: None,
                })
            } else {
                Ok(Poll::Pending(snapshot.status))
            }
        })
        .await
    }

    /// Polls until the snapshot is gone (404).
    pub async fn wait_snapshot_deleted(&self, id: &str, options: WaitOptions) -> Result<()> {
        let what = format!("snapshot `{id}` to be deleted");
        wait_for(&what, options, || async {
            match self.get_snapshot(id).await {
                Err(e) if e.is_not_found() => Ok(Poll::Done(())),
                Err(e) => Err(e),
                Ok(s) if s.status == "error_deleting" => Err(Error::ResourceFailed {
                    what: format!("snapshot `{id}`"),
                    status: s.status,
                    fault: None,
                }),
                Ok(s) => Ok(Poll::Pending(s.status)),
            }
        })
        .await
    }
}
