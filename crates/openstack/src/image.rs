//! Glance v2: images (list with filters, get, create, patch, delete, deactivate/reactivate) and
//! streamed data transfer: upload from a file and download to a file, both hashing MD5 and
//! SHA-512 on the way and checking them against what Glance recorded; downloads resume with
//! `Range` from a `.part` file.
//!
//! Memory stays bounded whatever the image size: data moves in chunks through small channels
//! between the network, one blocking thread that reads (or writes) the file, and two hashing
//! threads (MD5 and SHA-512 side by side, so a transfer costs the slower hash, not their sum).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use md5::{Digest, Md5};
use reqwest::header::{HeaderMap, CONTENT_LENGTH, CONTENT_TYPE, RANGE};
use reqwest::{Method, StatusCode};
use sha2::Sha512;

use crate::client::{Client, ServiceType};
use crate::compute::{exactly_one, gone_ok, seg};
use crate::error::{Error, Result};
use crate::wait::{wait_for, Poll, WaitOptions};
use crate::wire::image::{Image, ImageCreate, PatchOp, JSON_PATCH_MEDIA_TYPE};
use crate::Query;

const S: ServiceType = ServiceType::Image;
/// Chunks in flight between the network and the file thread.
const CHANNEL_DEPTH: usize = 8;

/// Called with the bytes done so far and the total when known.
pub type ProgressFn = Arc<dyn Fn(u64, Option<u64>) + Send + Sync>;

/// Options of an image transfer.
#[derive(Clone)]
pub struct TransferOptions {
    /// Bytes read from the file per chunk on upload.
    pub chunk_size: usize,
    /// Downloads: continue from `<dest>.part` with a `Range` request when it exists.
    pub resume: bool,
    /// Hash the data (MD5 and SHA-512) and compare with the image record (and `Content-MD5`)
    /// after the transfer. Off, nothing is hashed: the transfer costs only the copy.
    pub verify: bool,
    /// Progress callback.
    pub progress: Option<ProgressFn>,
}

impl Default for TransferOptions {
    fn default() -> Self {
        Self {
            chunk_size: 1024 * 1024,
            resume: true,
            verify: true,
            progress: None,
        }
    }
}

impl std::fmt::Debug for TransferOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransferOptions")
            .field("chunk_size", &self.chunk_size)
            .field("resume", &self.resume)
            .field("verify", &self.verify)
            .finish_non_exhaustive()
    }
}

/// What a transfer did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferReport {
    /// Size of the whole image data.
    pub size: u64,
    /// Bytes that went over the network in this call.
    pub transferred: u64,
    /// Downloads: the offset the `Range` request started at (0 for a whole download).
    pub resumed_from: u64,
    /// MD5 hex of the whole data (`None` when `verify` is off: nothing was hashed).
    pub md5: Option<String>,
    /// SHA-512 hex of the whole data (`None` when `verify` is off).
    pub sha512: Option<String>,
    /// Wall time of the transfer.
    pub elapsed: Duration,
}

/// The image service of a [`Client`].
#[derive(Debug, Clone)]
pub struct ImageService {
    client: Client,
    headers: HeaderMap,
}

impl Client {
    /// Glance.
    pub fn image(&self) -> ImageService {
        ImageService {
            client: self.clone(),
            headers: HeaderMap::new(),
        }
    }
}

impl ImageService {
    /// `GET /v2/images` with filters (`name`, `visibility`, `status`, `owner`, `tag`,
    /// `size_min`, `size_max`, `member_status`, `sort`, …), following `next` to the end.
    pub async fn list_images(&self, query: &Query) -> Result<Vec<Image>> {
        self.client
            .list_all(S, "images", query, "images", &self.headers)
            .await
    }

    /// `GET /v2/images/{id}`.
    pub async fn get_image(&self, id: &str) -> Result<Image> {
        self.client
            .get_json(S, &format!("images/{}", seg(id)), &[], &self.headers)
            .await
    }

    /// The one image named `name`.
    pub async fn find_image(&self, name: &str) -> Result<Image> {
        let found = self
            .list_images(&vec![("name".to_owned(), name.to_owned())])
            .await?;
        exactly_one("image", name, found.into_iter())
    }

    /// `POST /v2/images`: a `queued` record without data.
    pub async fn create_image(&self, image: &ImageCreate) -> Result<Image> {
        self.client
            .send_json(S, Method::POST, "images", image, &self.headers)
            .await
    }

    /// `PATCH /v2/images/{id}` with JSON-patch operations.
    pub async fn update_image(&self, id: &str, ops: &[PatchOp]) -> Result<Image> {
        let body = serde_json::to_vec(ops).map_err(|e| Error::Protocol(e.to_string()))?;
        let response = self
            .client
            .request(S, Method::PATCH, &format!("images/{}", seg(id)), |r| {
                r.headers(self.headers.clone())
                    .header(CONTENT_TYPE, JSON_PATCH_MEDIA_TYPE)
                    .body(body.clone())
            })
            .await?;
        let url = response.url().clone();
        crate::client::read_json(Method::PATCH, &url, response).await
    }

    /// `DELETE /v2/images/{id}`; `Ok(false)` when already gone.
    pub async fn delete_image(&self, id: &str) -> Result<bool> {
        gone_ok(
            self.client
                .send_no_content::<()>(
                    S,
                    Method::DELETE,
                    &format!("images/{}", seg(id)),
                    None,
                    &self.headers,
                )
                .await,
        )
    }

    /// `POST /v2/images/{id}/actions/deactivate`.
    pub async fn deactivate_image(&self, id: &str) -> Result<()> {
        self.client
            .send_no_content::<()>(
                S,
                Method::POST,
                &format!("images/{}/actions/deactivate", seg(id)),
                None,
                &self.headers,
            )
            .await
    }

    /// `POST /v2/images/{id}/actions/reactivate`.
    pub async fn reactivate_image(&self, id: &str) -> Result<()> {
        self.client
            .send_no_content::<()>(
                S,
                Method::POST,
                &format!("images/{}/actions/reactivate", seg(id)),
                None,
                &self.headers,
            )
            .await
    }

    /// Polls until the image's status is one of `targets`; `killed` fails.
    pub async fn wait_image(
        &self,
        id: &str,
        targets: &[&str],
        options: WaitOptions,
    ) -> Result<Image> {
        let what = format!("image `{id}` to become {}", targets.join(" or "));
        wait_for(&what, options, || async {
            let image = self.get_image(id).await?;
            if targets.contains(&image.status.as_str()) {
                Ok(Poll::Done(image))
            } else if image.status == "killed" || image.status == "deleted" {
                Err(Error::ResourceFailed {
                    what: format!("image `{id}`"),
                    status: image.status,
                    fault: None,
                })
            } else {
                Ok(Poll::Pending(image.status))
            }
        })
        .await
    }

    /// Creates an image record and uploads `path` into it; returns the active image.
    pub async fn create_image_from_file(
        &self,
        image: &ImageCreate,
        path: &Path,
        options: &TransferOptions,
    ) -> Result<(Image, TransferReport)> {
        let created = self.create_image(image).await?;
        let report = self.upload_file(&created.id, path, options).await?;
        let image = self.get_image(&created.id).await?;
        Ok((image, report))
    }

    /// `PUT /v2/images/{id}/file`, streaming `path` with its length; then (with
    /// `options.verify`) checks Glance's `checksum` and `os_hash_value` against ours.
    pub async fn upload_file(
        &self,
        id: &str,
        path: &Path,
        options: &TransferOptions,
    ) -> Result<TransferReport> {
        let started = Instant::now();
        let file = std::fs::File::open(path).map_err(|source| Error::Io {
            action: "cannot open",
            path: path.to_owned(),
            source,
        })?;
        let size = file
            .metadata()
            .map_err(|source| Error::Io {
                action: "cannot read the size of",
                path: path.to_owned(),
                source,
            })?
            .len();
        let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(CHANNEL_DEPTH);
        let chunk_size = options.chunk_size.max(4096);
        let progress = options.progress.clone();
        let owned_path = path.to_owned();
        let hash = options.verify;
        let reader = tokio::task::spawn_blocking(move || {
            read_and_hash(file, &owned_path, chunk_size, size, &tx, progress, hash)
        });
        let body = reqwest::Body::wrap_stream(futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        }));
        let sent = self
            .client
            .request_once(S, Method::PUT, &format!("images/{}/file", seg(id)), |r| {
                r.headers(self.headers.clone())
                    .header(CONTENT_TYPE, "application/octet-stream")
                    .header(CONTENT_LENGTH, size)
                    .body(body)
            })
            .await;
        let hashed = reader
            .await
            .map_err(|e| Error::Protocol(format!("the file reader stopped: {e}")))?;
        // A read error explains a failed request better than the request error does.
        let (digests, read) = match (hashed, sent) {
            (Err(e), _) => return Err(e),
            (Ok(_), Err(e)) => return Err(e),
            (Ok(h), Ok(_)) => h,
        };
        if read != size {
            return Err(Error::Protocol(format!(
                "`{}` changed size during the upload ({size} → {read} bytes)",
                path.display()
            )));
        }
        if let Some((md5, sha512)) = &digests {
            let image = self.get_image(id).await?;
            verify(id, &image, md5, sha512)?;
        }
        let (md5, sha512) = digests.unzip();
        Ok(TransferReport {
            size,
            transferred: size,
            resumed_from: 0,
            md5,
            sha512,
            elapsed: started.elapsed(),
        })
    }

    /// `GET /v2/images/{id}/file` into `dest`, through `<dest>.part`. With `options.resume`
    /// an existing `.part` is hashed and the rest is fetched with `Range: bytes=N-`. With
    /// `options.verify` MD5 and SHA-512 are checked before `.part` is renamed to `dest`; on a
    /// mismatch `.part` is removed.
    pub async fn download_to_file(
        &self,
        id: &str,
        dest: &Path,
        options: &TransferOptions,
    ) -> Result<TransferReport> {
        let started = Instant::now();
        let image = self.get_image(id).await?;
        let part = part_path(dest);
        let mut offset = if options.resume {
            match std::fs::metadata(&part) {
                Ok(meta) => meta.len(),
                Err(_) => 0,
            }
        } else {
            0
        };
        if let Some(size) = image.size {
            if offset > size {
                offset = 0;
            }
        }
        let complete_already = offset > 0 && image.size == Some(offset);
        let path = format!("images/{}/file", seg(id));
        let mut response = None;
        if !complete_already {
            let range = offset;
            let sent = self
                .client
                .request(S, Method::GET, &path, |r| {
                    let r = r
                        .headers(self.headers.clone())
                        .header("accept", "application/octet-stream");
                    if range > 0 {
                        r.header(RANGE, format!("bytes={range}-"))
                    } else {
                        r
                    }
                })
                .await;
            match sent {
                Ok(r) => response = Some(r),
                Err(e) if e.status() == Some(416) && offset > 0 => {
                    // The part file may already be whole; verification decides.
                }
                Err(e) => return Err(e),
            }
        }
        let mut content_md5 = None;
        if let Some(r) = &response {
            match r.status() {
                StatusCode::NO_CONTENT => {
                    return Err(Error::Protocol(format!(
                        "image `{id}` has no data (status `{}`)",
                        image.status
                    )))
                }
                StatusCode::PARTIAL_CONTENT => {
                    let range = r
                        .headers()
                        .get("content-range")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    if !range.starts_with(&format!("bytes {offset}-")) {
                        return Err(Error::Protocol(format!(
                            "asked for bytes from {offset} of image `{id}`, got `Content-Range: {range}`"
                        )));
                    }
                }
                _ => {
                    // A whole answer: start over even if we asked for a range.
                    offset = 0;
                    content_md5 = r
                        .headers()
                        .get("content-md5")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                }
            }
        }
        let total = image.size;
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(CHANNEL_DEPTH);
        let writer_part = part.clone();
        let progress = options.progress.clone();
        let verify_data = options.verify;
        let writer = tokio::task::spawn_blocking(move || {
            write_and_hash(&writer_part, offset, rx, total, progress, verify_data)
        });
        let mut transferred = 0u64;
        let mut network_error = None;
        if let Some(mut r) = response {
            let url = r.url().clone();
            loop {
                match r.chunk().await {
                    Ok(Some(chunk)) => {
                        transferred = transferred.saturating_add(chunk.len() as u64);
                        if tx.send(chunk).await.is_err() {
                            break; // the writer failed; its error is reported below
                        }
                    }
                    Ok(None) => break,
                    Err(source) => {
                        network_error = Some(crate::client::transport("GET", &url, source));
                        break;
                    }
                }
            }
        }
        drop(tx);
        let (digests, size) = writer
            .await
            .map_err(|e| Error::Protocol(format!("the file writer stopped: {e}")))??;
        if let Some(e) = network_error {
            // `.part` keeps what arrived; the next call resumes from there.
            return Err(e);
        }
        if let Some((md5, sha512)) = &digests {
            let checked = verify(id, &image, md5, sha512).and_then(|()| match &content_md5 {
                Some(header) if !header.eq_ignore_ascii_case(md5) => Err(Error::Checksum {
                    image_id: id.to_owned(),
                    algorithm: "MD5 (Content-MD5)",
                    expected: header.clone(),
                    actual: md5.clone(),
                }),
                _ => Ok(()),
            });
            if let Err(e) = checked {
                let _ = std::fs::remove_file(&part);
                return Err(e);
            }
        }
        if let Some(expected) = image.size {
            if expected != size {
                return Err(Error::Protocol(format!(
                    "image `{id}` has {expected} bytes, received {size}"
                )));
            }
        }
        std::fs::rename(&part, dest).map_err(|source| Error::Io {
            action: "cannot move the download to",
            path: dest.to_owned(),
            source,
        })?;
        let (md5, sha512) = digests.unzip();
        Ok(TransferReport {
            size,
            transferred,
            resumed_from: offset,
            md5,
            sha512,
            elapsed: started.elapsed(),
        })
    }
}

/// `<dest>.part`.
pub fn part_path(dest: &Path) -> PathBuf {
    let mut name = dest.as_os_str().to_owned();
    name.push(".part");
    PathBuf::from(name)
}

fn verify(id: &str, image: &Image, md5: &str, sha512: &str) -> Result<()> {
    if let Some(expected) = &image.checksum {
        if !expected.eq_ignore_ascii_case(md5) {
            return Err(Error::Checksum {
                image_id: id.to_owned(),
                algorithm: "MD5",
                expected: expected.clone(),
                actual: md5.to_owned(),
            });
        }
    }
    if image.os_hash_algo.as_deref() == Some("sha512") {
        if let Some(expected) = &image.os_hash_value {
            if !expected.eq_ignore_ascii_case(sha512) {
                return Err(Error::Checksum {
                    image_id: id.to_owned(),
                    algorithm: "SHA-512",
                    expected: expected.clone(),
                    actual: sha512.to_owned(),
                });
            }
        }
    }
    Ok(())
}

/// (md5, sha512) in lower-case hex.
type Digests = (String, String);

/// Reads the file in chunks, hashes them (when `hash`) and sends them on; returns the digests
/// and the bytes read.
fn read_and_hash(
    mut file: std::fs::File,
    path: &Path,
    chunk_size: usize,
    size: u64,
    tx: &tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
    progress: Option<ProgressFn>,
    hash: bool,
) -> Result<(Option<Digests>, u64)> {
    use std::io::Read;
    let hashes = StreamHashes::start_if(hash, Lanes::One)?;
    let mut done = 0u64;
    loop {
        let mut buf = vec![0u8; chunk_size];
        let mut filled = 0;
        while filled < chunk_size {
            match file.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    let _ =
                        tx.blocking_send(Err(std::io::Error::new(source.kind(), "read failed")));
                    return Err(Error::Io {
                        action: "cannot read",
                        path: path.to_owned(),
                        source,
                    });
                }
            }
        }
        if filled == 0 {
            break;
        }
        buf.truncate(filled);
        let chunk = Bytes::from(buf);
        if let Some(hashes) = &hashes {
            hashes.update(&chunk);
        }
        done = done.saturating_add(filled as u64);
        if tx.blocking_send(Ok(chunk)).is_err() {
            // The request ended early; its error is the one to report.
            break;
        }
        if let Some(progress) = &progress {
            progress(done, Some(size));
        }
    }
    Ok((hashes.map(StreamHashes::finish).transpose()?, done))
}

/// Writes chunks to the part file from `offset`; when `hash`, hashes the kept prefix and then
/// the new chunks. Returns the digests and the bytes in the file.
fn write_and_hash(
    part: &Path,
    offset: u64,
    mut rx: tokio::sync::mpsc::Receiver<Bytes>,
    total: Option<u64>,
    progress: Option<ProgressFn>,
    hash: bool,
) -> Result<(Option<Digests>, u64)> {
    use std::io::{Read, Seek, SeekFrom, Write};
    let io = |action: &'static str| {
        let path = part.to_owned();
        move |source| Error::Io {
            action,
            path,
            source,
        }
    };
    let hashes = StreamHashes::start_if(hash, Lanes::Two)?;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(part)
        .map_err(io("cannot open"))?;
    // Hash the prefix we keep, then cut anything after it.
    let mut kept = 0u64;
    if let Some(hashes) = hashes.as_ref().filter(|_| offset > 0) {
        let mut reader = (&mut file).take(offset);
        loop {
            let mut buf = vec![0u8; 1024 * 1024];
            let n = reader.read(&mut buf).map_err(io("cannot read"))?;
            if n == 0 {
                break;
            }
            buf.truncate(n);
            hashes.update(&Bytes::from(buf));
            kept = kept.saturating_add(n as u64);
        }
    } else if offset > 0 {
        // Unverified: keep the prefix as it is, up to `offset`.
        let len = file
            .metadata()
            .map_err(io("cannot read the size of"))?
            .len();
        kept = len.min(offset);
    }
    file.set_len(kept).map_err(io("cannot truncate"))?;
    file.seek(SeekFrom::Start(kept))
        .map_err(io("cannot seek in"))?;
    let mut writer = std::io::BufWriter::with_capacity(1024 * 1024, file);
    let mut done = kept;
    while let Some(chunk) = rx.blocking_recv() {
        if let Some(hashes) = &hashes {
            hashes.update(&chunk);
        }
        writer.write_all(&chunk).map_err(io("cannot write"))?;
        done = done.saturating_add(chunk.len() as u64);
        if let Some(progress) = &progress {
            progress(done, total);
        }
    }
    // No fsync: the checksums, not durability, decide whether the data is good, and a `.part`
    // cut short by a crash is verified the same way when resumed.
    writer.flush().map_err(io("cannot write"))?;
    Ok((hashes.map(StreamHashes::finish).transpose()?, done))
}

/// How the hashing of a transfer is spread over threads.
#[derive(Clone, Copy)]
enum Lanes {
    /// One thread computes both digests, leaving the other cores to the peer. Uploads use it:
    /// on one host the server hashes too, and its hashing is what bounds the upload.
    One,
    /// MD5 and SHA-512 on a thread each: a download then costs the slower hash, not their sum.
    Two,
}

/// MD5 and SHA-512 of a stream of chunks, computed off the I/O thread. Chunks are shared
/// (`Bytes` clones) and each thread's queue is bounded, so memory stays bounded too.
struct StreamHashes {
    threads: Vec<HashThread>,
}

impl StreamHashes {
    /// The hashing threads when `hash`, else `None`.
    fn start_if(hash: bool, lanes: Lanes) -> Result<Option<StreamHashes>> {
        if !hash {
            return Ok(None);
        }
        let threads = match lanes {
            Lanes::One => vec![HashThread::spawn("md5+sha512", true, true)?],
            Lanes::Two => vec![
                HashThread::spawn("md5", true, false)?,
                HashThread::spawn("sha512", false, true)?,
            ],
        };
        Ok(Some(StreamHashes { threads }))
    }

    fn update(&self, chunk: &Bytes) {
        for thread in &self.threads {
            // A send fails only if the thread is gone; `finish` reports that.
            let _ = thread.tx.send(chunk.clone());
        }
    }

    fn finish(self) -> Result<Digests> {
        let (mut md5, mut sha512) = (None, None);
        for thread in self.threads {
            drop(thread.tx);
            let (m, s) = thread
                .handle
                .join()
                .map_err(|_| Error::Protocol("an image hashing thread stopped".into()))?;
            md5 = md5.or(m);
            sha512 = sha512.or(s);
        }
        md5.zip(sha512)
            .ok_or_else(|| Error::Protocol("an image digest was not computed".into()))
    }
}

struct HashThread {
    tx: std::sync::mpsc::SyncSender<Bytes>,
    handle: std::thread::JoinHandle<(Option<String>, Option<String>)>,
}

impl HashThread {
    fn spawn(name: &str, md5: bool, sha512: bool) -> Result<HashThread> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Bytes>(CHANNEL_DEPTH);
        let handle = std::thread::Builder::new()
            .name(format!("image-{name}"))
            .spawn(move || {
                let mut md5 = md5.then(Md5::new);
                let mut sha512 = sha512.then(Sha512::new);
                for chunk in rx {
                    if let Some(d) = &mut md5 {
                        d.update(&chunk);
                    }
                    if let Some(d) = &mut sha512 {
                        d.update(&chunk);
                    }
                }
                (
                    md5.map(|d| hex::encode(d.finalize())),
                    sha512.map(|d| hex::encode(d.finalize())),
                )
            })
            .map_err(|e| Error::Protocol(format!("cannot start the {name} thread: {e}")))?;
        Ok(HashThread { tx, handle })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_path_appends_suffix() {
        assert_eq!(
            part_path(Path::new("/tmp/a.img")),
            PathBuf::from("/tmp/a.img.part")
        );
    }

    #[test]
    fn stream_hashes_equal_one_pass_digests() {
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        for lanes in [Lanes::One, Lanes::Two] {
            let hashes = StreamHashes::start_if(true, lanes).unwrap().unwrap();
            for piece in data.chunks(65_537) {
                hashes.update(&Bytes::copy_from_slice(piece));
            }
            let (md5, sha512) = hashes.finish().unwrap();
            assert_eq!(md5, hex::encode(Md5::digest(&data)));
            assert_eq!(sha512, hex::encode(Sha512::digest(&data)));
        }
        assert!(StreamHashes::start_if(false, Lanes::Two).unwrap().is_none());
    }

    #[tokio::test]
    async fn writer_hashes_kept_prefix_and_new_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let part = dir.path().join("x.part");
        std::fs::write(&part, b"hello wXXXX").unwrap();
        let (tx, rx) = tokio::sync::mpsc::channel(2);
        let writer_part = part.clone();
        let writer = tokio::task::spawn_blocking(move || {
            write_and_hash(&writer_part, 7, rx, None, None, true)
        });
        tx.send(Bytes::from_static(b"orld")).await.unwrap();
        drop(tx);
        let (digests, size) = writer.await.unwrap().unwrap();
        let (md5, sha512) = digests.unwrap();
        assert_eq!(std::fs::read(&part).unwrap(), b"hello world");
        assert_eq!(size, 11);
        assert_eq!(md5, hex::encode(Md5::digest(b"hello world")));
        assert_eq!(sha512, hex::encode(Sha512::digest(b"hello world")));
    }
}
