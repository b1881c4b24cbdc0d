//! Images and disks by name: image from a disk (waited for by the new image's ID), download
//! (resumed, checked, never overwriting without `--force`), upload (streamed, checked, never
//! replacing an image of that name without `--force`), delete; disk delete.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use vitrina_openstack::image::ProgressFn;
use vitrina_openstack::wait::Poll;
use vitrina_openstack::wire::image::{Image, ImageCreate};
use vitrina_openstack::wire::volume::VolumeUploadImage;
use vitrina_openstack::TransferOptions;

use crate::error::{Error, Match, Result};
use crate::ops::{exactly_one, query, Ops};

/// An image made from a disk.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageCreated {
    pub id: String,
    pub name: String,
    pub disk: String,
    pub disk_id: String,
    pub size: Option<u64>,
    pub status: String,
}

/// A finished download.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DownloadReport {
    pub id: String,
    pub name: String,
    pub path: PathBuf,
    pub size: u64,
    /// Bytes already on disk from an interrupted download (`0`: a whole download).
    pub resumed_from: u64,
    pub transferred: u64,
    pub md5: Option<String>,
    pub sha512: Option<String>,
    pub seconds: f64,
}

/// A finished upload.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UploadReport {
    pub id: String,
    pub name: String,
    pub path: PathBuf,
    pub size: u64,
    pub md5: Option<String>,
    pub sha512: Option<String>,
    pub seconds: f64,
    /// Ids of the images of the same name that `--force` replaced.
    pub replaced: Vec<String>,
}

fn image_match(i: &Image) -> Match {
    Match {
        id: i.id.clone(),
        status: i.status.clone(),
    }
}

impl Ops {
    /// Every image named exactly `name`.
    pub(crate) async fn images_named(&self, name: &str) -> Result<Vec<Image>> {
        Ok(self
            .client
            .image()
            .list_images(&query(&[("name", name)]))
            .await
            .map_err(Error::cloud("listing images"))?
            .into_iter()
            .filter(|i| i.name.as_deref() == Some(name))
            .collect())
    }

    /// The one image named `name`.
    pub(crate) async fn find_image(&self, name: &str) -> Result<Image> {
        let found = self.images_named(name).await?;
        exactly_one("image", name, found, image_match, None)
    }

    /// Deletes the one disk named `name`; refuses one that is attached.
    pub async fn disk_delete(&self, name: &str) -> Result<String> {
        let v = self.find_disk(name).await?;
        if v.status == "in-use" || !v.attachments.is_empty() {
            return Err(Error::DiskNotAvailable {
                name: name.to_owned(),
                id: v.id,
                status: v.status,
            });
        }
        let storage = self.client.block_storage();
        storage
            .delete_volume(&v.id)
            .await
            .map_err(Error::cloud(format!("deleting disk `{name}`")))?;
        storage
            .wait_volume_deleted(&v.id, self.wait)
            .await
            .map_err(Error::cloud(format!("waiting for disk `{name}` to go")))?;
        self.reporter.step(&format!("deleted disk `{name}`"));
        Ok(v.id)
    }

    /// Makes image `name` from the one disk named `disk` and waits for it by its ID. An
    /// attached disk is copied as it is (Cinder's `force`).
    pub async fn image_create_from_disk(&self, disk: &str, name: &str) -> Result<ImageCreated> {
        let v = self.find_disk(disk).await?;
        let existing = self.images_named(name).await?;
        if !existing.is_empty() {
            return Err(Error::ImageExists {
                name: name.to_owned(),
                matches: existing.iter().map(image_match).collect(),
                force_allowed: false,
            });
        }
        let in_use = v.status == "in-use";
        if !in_use && v.status != "available" {
            return Err(Error::DiskNotAvailable {
                name: disk.to_owned(),
                id: v.id,
                status: v.status,
            });
        }
        if in_use {
            self.reporter.step(&format!(
                "disk `{disk}` is attached: its image is what is written to it now"
            ));
        }
        let storage = self.client.block_storage();
        let started = storage
            .upload_to_image(
                &v.id,
                &VolumeUploadImage {
                    image_name: name.to_owned(),
                    force: in_use.then_some(true),
                    disk_format: Some("raw".into()),
                    container_format: Some("bare".into()),
                    ..Default::default()
                },
            )
            .await
            .map_err(Error::cloud(format!(
                "making image `{name}` from disk `{disk}`"
            )))?;
        // By ID: another image of the same name made meanwhile must not be mistaken for it.
        let image_id = started.image_id.clone();
        let glance = self.client.image();
        let image = self
            .wait_reporting(&format!("image `{name}` ({image_id})"), || {
                let glance = glance.clone();
                let id = image_id.clone();
                async move {
                    let i = glance.get_image(&id).await?;
                    match i.status.as_str() {
                        "active" => Ok(Poll::Done(i)),
                        "killed" | "deleted" | "deactivated" => {
                            Err(vitrina_openstack::Error::ResourceFailed {
                                what: format!("image `{id}`"),
                                status: i.status,
                                fault: None,
                            })
                        }
                        _ => Ok(Poll::Pending(i.status)),
                    }
                }
            })
            .await?;
        let back: &[&str] = if in_use { &["in-use"] } else { &["available"] };
        storage
            .wait_volume(&v.id, back, self.wait)
            .await
            .map_err(Error::cloud(format!(
                "waiting for disk `{disk}` after the copy"
            )))?;
        self.reporter.step(&format!(
            "image `{name}` ({image_id}) made from disk `{disk}`"
        ));
        Ok(ImageCreated {
            id: image.id,
            name: name.to_owned(),
            disk: disk.to_owned(),
            disk_id: v.id,
            size: image.size,
            status: image.status,
        })
    }

    /// Downloads the one image named `name` into `dir` as `NAME.FORMAT`; see the module docs.
    pub async fn image_download(
        &self,
        name: &str,
        dir: &Path,
        force: bool,
    ) -> Result<DownloadReport> {
        let image = self.find_image(name).await?;
        if image.status != "active" {
            return Err(Error::ImageNotActive {
                name: name.to_owned(),
                id: image.id,
                status: image.status,
            });
        }
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            action: "cannot create the folder",
            path: dir.to_owned(),
            source,
        })?;
        let path = dir.join(file_name(name, image.disk_format.as_deref()));
        if path.exists() && !force {
            return Err(Error::WouldOverwrite { path });
        }
        let part = vitrina_openstack::image::part_path(&path);
        if let Ok(meta) = std::fs::metadata(&part) {
            self.reporter.step(&format!(
                "resuming the download from byte {} (`{}`)",
                meta.len(),
                part.display()
            ));
        }
        let task = self
            .reporter
            .task(&format!("download `{name}`"), image.size);
        let progress_task = task.clone();
        let progress: ProgressFn = Arc::new(move |done, total| progress_task.progress(done, total));
        let options = TransferOptions {
            progress: Some(progress),
            ..Default::default()
        };
        let result = self
            .client
            .image()
            .download_to_file(&image.id, &path, &options)
            .await;
        task.finish();
        let report = result.map_err(Error::cloud(format!(
            "downloading image `{name}` to `{}` (run the command again to resume)",
            path.display()
        )))?;
        self.reporter.step(&format!(
            "downloaded `{name}` to `{}` ({} bytes, checksums match)",
            path.display(),
            report.size
        ));
        Ok(DownloadReport {
            id: image.id,
            name: name.to_owned(),
            path,
            size: report.size,
            resumed_from: report.resumed_from,
            transferred: report.transferred,
            md5: report.md5,
            sha512: report.sha512,
            seconds: report.elapsed.as_secs_f64(),
        })
    }

    /// Uploads `file` as image `name`; with `force`, images already named so are deleted once
    /// the new one is uploaded and checked (never before).
    pub async fn image_upload(&self, file: &Path, name: &str, force: bool) -> Result<UploadReport> {
        let meta = std::fs::metadata(file).map_err(|source| Error::Io {
            action: "cannot read",
            path: file.to_owned(),
            source,
        })?;
        if !meta.is_file() {
            return Err(Error::Io {
                action: "not a file:",
                path: file.to_owned(),
                source: std::io::Error::other("not a regular file"),
            });
        }
        let existing = self.images_named(name).await?;
        if !existing.is_empty() && !force {
            return Err(Error::ImageExists {
                name: name.to_owned(),
                matches: existing.iter().map(image_match).collect(),
                force_allowed: true,
            });
        }
        let glance = self.client.image();
        let created = glance
            .create_image(&ImageCreate {
                name: Some(name.to_owned()),
                disk_format: Some(disk_format_of(file).into()),
                container_format: Some("bare".into()),
                visibility: Some("private".into()),
                ..Default::default()
            })
            .await
            .map_err(Error::cloud(format!("creating image `{name}`")))?;
        let task = self
            .reporter
            .task(&format!("upload `{name}`"), Some(meta.len()));
        let progress_task = task.clone();
        let progress: ProgressFn = Arc::new(move |done, total| progress_task.progress(done, total));
        let options = TransferOptions {
            progress: Some(progress),
            ..Default::default()
        };
        let result = glance.upload_file(&created.id, file, &options).await;
        task.finish();
        let report = match result {
            Ok(r) => r,
            Err(e) => {
                // The half-made image is ours: remove it so the name stays free.
                let cleanup = glance.delete_image(&created.id).await;
                let cleaned = match cleanup {
                    Ok(_) => vec![format!("image `{name}` ({})", created.id)],
                    Err(_) => vec![],
                };
                let left = match glance.get_image(&created.id).await {
                    Ok(_) => vec![format!("image `{name}` ({})", created.id)],
                    Err(_) => vec![],
                };
                return Err(Error::RolledBack {
                    step: format!("uploading `{}`", file.display()),
                    source: Box::new(Error::Cloud {
                        what: format!("uploading image `{name}`"),
                        source: Box::new(e),
                    }),
                    cleaned,
                    left,
                });
            }
        };
        let mut replaced = Vec::new();
        if force {
            for old in existing {
                glance
                    .delete_image(&old.id)
                    .await
                    .map_err(Error::cloud(format!(
                        "deleting the old image `{name}` ({})",
                        old.id
                    )))?;
                self.reporter
                    .step(&format!("deleted the old image `{name}` ({})", old.id));
                replaced.push(old.id);
            }
        }
        self.reporter.step(&format!(
            "uploaded `{}` as image `{name}` ({}, {} bytes, checksums match)",
            file.display(),
            created.id,
            report.size
        ));
        Ok(UploadReport {
            id: created.id,
            name: name.to_owned(),
            path: file.to_owned(),
            size: report.size,
            md5: report.md5,
            sha512: report.sha512,
            seconds: report.elapsed.as_secs_f64(),
            replaced,
        })
    }

    /// Deletes the one image named `name`.
    pub async fn image_delete(&self, name: &str) -> Result<String> {
        let image = self.find_image(name).await?;
        self.client
            .image()
            .delete_image(&image.id)
            .await
            .map_err(Error::cloud(format!("deleting image `{name}`")))?;
        self.reporter
            .step(&format!("deleted image `{name}` ({})", image.id));
        Ok(image.id)
    }
}

/// `NAME.raw` (or `.qcow2`, …): the name made safe as a file name, with its format.
pub fn file_name(name: &str, disk_format: Option<&str>) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let safe = safe.trim_start_matches('.');
    let safe = if safe.is_empty() { "image" } else { safe };
    let ext = match disk_format {
        Some(f) if !f.is_empty() && f.chars().all(|c| c.is_ascii_alphanumeric()) => f,
        _ => "img",
    };
    format!("{safe}.{ext}")
}

/// Glance's `disk_format` from a file's extension (`raw` when unknown).
pub fn disk_format_of(file: &Path) -> &'static str {
    let ext = file
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("qcow2") => "qcow2",
        Some("vmdk") => "vmdk",
        Some("vdi") => "vdi",
        Some("vhd") => "vhd",
        Some("vhdx") => "vhdx",
        Some("iso") => "iso",
        _ => "raw",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_file_names_are_safe() {
        assert_eq!(file_name("base-image", Some("raw")), "base-image.raw");
        assert_eq!(file_name("../etc/passwd", Some("raw")), "_etc_passwd.raw");
        assert_eq!(file_name("a b", Some("qcow2")), "a_b.qcow2");
        assert_eq!(file_name("x", Some("../")), "x.img");
        assert_eq!(disk_format_of(Path::new("/i/base.raw")), "raw");
        assert_eq!(disk_format_of(Path::new("/i/base.QCOW2")), "qcow2");
    }
}
