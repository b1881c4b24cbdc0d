//! An S3-compatible object store: the buckets `ivkcs_s3` creates, one access key per bucket.
//!
//! A real subset of Amazon S3's REST API, path-style, below `BASE/s3` (so an S3 client's
//! endpoint URL is `http://HOST:PORT/cloud/s3` under `vitrina serve`): ListBuckets, HeadBucket,
//! ListObjects (v1 and v2, with `prefix`, `delimiter`, `max-keys`, `continuation-token`/
//! `start-after`/`marker`), PutObject, GetObject, HeadObject, DeleteObject, and
//! GetBucketLocation. Every request is signed with AWS Signature Version 4 ([`sigv4`]); payloads
//! are checked against `x-amz-content-sha256`, and `aws-chunked` bodies with an unsigned
//! trailer (what current AWS SDKs send by default) are decoded. Not supported, answered with
//! `NotImplemented`: multipart uploads, copies, ACLs and policies, versioning, presigned URLs,
//! signed streaming chunks. Objects are at most [`MAX_OBJECT`] bytes.
//!
//! Buckets and keys are created only through [`S3Store::ensure_bucket`] (the config service,
//! for `ivkcs_s3`); a key opens only its own bucket. Secrets are never stored: each is an
//! HMAC of its access key under `DATA/s3/master.key` (0600), recomputed when a request comes.

pub mod sigv4;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{OriginalUri, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use base64::Engine as _;
use hmac::Mac as _;
use sha2::{Digest, Sha256};

/// Largest object accepted in one PutObject.
pub const MAX_OBJECT: usize = 64 * 1024 * 1024;
/// Most keys in one listing page.
const MAX_KEYS: usize = 1000;

/// A bucket's key pair, handed to the deployment.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Credentials {
    pub access: String,
    pub secret: String,
}

impl std::fmt::Debug for S3Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Credentials")
            .field("access", &self.access)
            .field("secret", &"<redacted>")
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    #[error("bucket name `{0}` is not valid: 3 to 63 lower-case letters, digits, `-` and `.`, starting and ending with a letter or digit")]
    BadName(String),
    #[error("cannot use the object store folder {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

#[derive(serde::Serialize, serde::Deserialize)]
struct BucketMeta {
    name: String,
    access: String,
    created: String,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct ObjectMeta {
    key: String,
    size: u64,
    etag: String,
    content_type: String,
    modified: String,
}

/// The object store in `DATA/s3/`.
pub struct S3Store {
    root: PathBuf,
    master: [u8; 32],
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> S3Error + '_ {
    move |source| S3Error::Io {
        path: path.to_owned(),
        source,
    }
}

/// S3's bucket naming rules (the subset that matters: no IP-like or `xn--` checks needed).
pub fn valid_bucket_name(name: &str) -> bool {
    let b = name.as_bytes();
    (3..=63).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'-' | b'.'))
        && b.first().is_some_and(u8::is_ascii_alphanumeric)
        && b.last().is_some_and(u8::is_ascii_alphanumeric)
        && !name.contains("..")
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(".tmp-{}", uuid::Uuid::new_v4().simple()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

fn now_rfc3339() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

impl S3Store {
    /// Opens (or creates) the store in `root`, with its master key.
    pub fn open(root: &Path) -> Result<Arc<S3Store>, S3Error> {
        std::fs::create_dir_all(root.join("buckets")).map_err(io_err(root))?;
        let key_path = root.join("master.key");
        let master = match std::fs::read(&key_path) {
            Ok(bytes) if bytes.len() == 32 => {
                let mut k = [0u8; 32];
                k.copy_from_slice(&bytes);
                k
            }
            _ => {
                let k: [u8; 32] = rand::random();
                use std::io::Write as _;
                use std::os::unix::fs::OpenOptionsExt as _;
                let tmp = root.join(format!(".key-{}", uuid::Uuid::new_v4().simple()));
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&tmp)
                    .map_err(io_err(&tmp))?;
                f.write_all(&k).map_err(io_err(&tmp))?;
                f.sync_all().map_err(io_err(&tmp))?;
                std::fs::rename(&tmp, &key_path).map_err(io_err(&key_path))?;
                k
            }
        };
        Ok(Arc::new(S3Store {
            root: root.to_owned(),
            master,
        }))
    }

    fn derive(&self, what: &str, input: &str) -> Vec<u8> {
        let mut mac = match hmac::Hmac::<Sha256>::new_from_slice(&self.master) {
            Ok(m) => m,
            Err(_) => return Vec::new(),
        };
        mac.update(what.as_bytes());
        mac.update(b"\0");
        mac.update(input.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    fn access_for(&self, bucket: &str) -> String {
        let h = self.derive("s3-access", bucket);
        format!("VKLC{}", hex::encode_upper(&h[..8]))
    }

    fn secret_for(&self, access: &str) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.derive("s3-secret", access))
    }

    fn bucket_dir(&self, bucket: &str) -> PathBuf {
        self.root.join("buckets").join(bucket)
    }

    /// Creates the bucket if it is missing and returns its key pair (the same every time).
    pub fn ensure_bucket(&self, name: &str) -> Result<S3Credentials, S3Error> {
        if !valid_bucket_name(name) {
            return Err(S3Error::BadName(name.to_owned()));
        }
        let dir = self.bucket_dir(name);
        let access = self.access_for(name);
        if !dir.join("bucket.json").is_file() {
            std::fs::create_dir_all(dir.join("objects")).map_err(io_err(&dir))?;
            let meta = BucketMeta {
                name: name.to_owned(),
                access: access.clone(),
                created: now_rfc3339(),
            };
            let bytes = serde_json::to_vec(&meta).unwrap_or_default();
            write_atomic(&dir.join("bucket.json"), &bytes).map_err(io_err(&dir))?;
        }
        Ok(S3Credentials {
            secret: self.secret_for(&access),
            access,
        })
    }

    /// Removes the bucket with its objects (nothing when it does not exist).
    pub fn delete_bucket(&self, name: &str) -> Result<(), S3Error> {
        if !valid_bucket_name(name) {
            return Err(S3Error::BadName(name.to_owned()));
        }
        let dir = self.bucket_dir(name);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(&dir)(e)),
        }
    }

    fn bucket_of_access(&self, access: &str) -> Option<String> {
        let rd = std::fs::read_dir(self.root.join("buckets")).ok()?;
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if valid_bucket_name(&name) && self.access_for(&name) == access {
                return e.path().join("bucket.json").is_file().then_some(name);
            }
        }
        None
    }

    fn object_path(&self, bucket: &str, key: &str) -> PathBuf {
        self.bucket_dir(bucket)
            .join("objects")
            .join(hex::encode(Sha256::digest(key.as_bytes())))
    }

    /// The router below `BASE/s3`.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/", any(handle))
            .route("/{*rest}", any(handle))
            .with_state(self.clone())
    }
}

// ---- the S3 REST surface ----

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

fn s3_error(status: StatusCode, code: &str, message: &str, resource: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{}</Message><Resource>{}</Resource><RequestId>{}</RequestId></Error>",
        xml_escape(message),
        xml_escape(resource),
        uuid::Uuid::new_v4().simple()
    );
    (status, [("content-type", "application/xml")], body).into_response()
}

fn xml(body: String) -> Response {
    (
        StatusCode::OK,
        [("content-type", "application/xml")],
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{body}"),
    )
        .into_response()
}

/// Decodes an `aws-chunked` body: `SIZE[;chunk-signature=…]\r\nDATA\r\n` … `0\r\n` trailers.
fn decode_aws_chunked(body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(body.len());
    let mut rest = body;
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let header = std::str::from_utf8(&rest[..line_end]).ok()?;
        let size_hex = header.split(';').next()?.trim();
        let size = usize::from_str_radix(size_hex, 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        let data = rest.get(..size)?;
        out.extend_from_slice(data);
        rest = rest.get(size..)?;
        rest = rest.strip_prefix(b"\r\n")?;
    }
}

struct Parsed {
    bucket: Option<String>,
    key: Option<String>,
}

fn split_path(path_below_s3: &str) -> Option<Parsed> {
    let p = path_below_s3.trim_start_matches('/');
    if p.is_empty() {
        return Some(Parsed {
            bucket: None,
            key: None,
        });
    }
    let (b, k) = match p.split_once('/') {
        Some((b, k)) => (b, Some(k)),
        None => (p, None),
    };
    let bucket = sigv4::percent_decode(b)?;
    let key = match k {
        Some("") | None => None,
        Some(k) => Some(sigv4::percent_decode(k)?),
    };
    Some(Parsed {
        bucket: Some(bucket),
        key,
    })
}

async fn handle(
    State(store): State<Arc<S3Store>>,
    OriginalUri(original): OriginalUri,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let resource = original.path().to_owned();
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    // Authentication first: nothing is revealed to an unsigned caller.
    let Some(auth) = header("authorization") else {
        return s3_error(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "requests must be signed with AWS Signature Version 4",
            &resource,
        );
    };
    let auth = match sigv4::parse_authorization(auth) {
        Ok(a) => a,
        Err(sigv4::SigError::Malformed(m)) => {
            return s3_error(
                StatusCode::BAD_REQUEST,
                "AuthorizationHeaderMalformed",
                &m,
                &resource,
            )
        }
        Err(_) => {
            return s3_error(
                StatusCode::FORBIDDEN,
                "AccessDenied",
                "bad signature",
                &resource,
            )
        }
    };
    let Some(own_bucket) = store.bucket_of_access(&auth.access_key) else {
        return s3_error(
            StatusCode::FORBIDDEN,
            "InvalidAccessKeyId",
            "the access key does not exist",
            &resource,
        );
    };
    let secret = store.secret_for(&auth.access_key);
    let sig_req = sigv4::Request {
        method: parts.method.as_str(),
        raw_path: original.path(),
        raw_query: original.query().unwrap_or(""),
        headers: &headers,
    };
    match sigv4::verify(&sig_req, &auth, &secret, chrono::Utc::now().timestamp()) {
        Ok(()) => {}
        Err(sigv4::SigError::Skewed) => {
            return s3_error(
                StatusCode::FORBIDDEN,
                "RequestTimeTooSkewed",
                "the request time is too far from the server's",
                &resource,
            )
        }
        Err(sigv4::SigError::Malformed(m)) => {
            return s3_error(
                StatusCode::BAD_REQUEST,
                "AuthorizationHeaderMalformed",
                &m,
                &resource,
            )
        }
        Err(sigv4::SigError::Mismatch) => {
            return s3_error(
                StatusCode::FORBIDDEN,
                "SignatureDoesNotMatch",
                "the request signature does not match",
                &resource,
            )
        }
    }
    let Some(parsed) = split_path(parts.uri.path()) else {
        return s3_error(StatusCode::BAD_REQUEST, "InvalidURI", "bad path", &resource);
    };
    let query = sigv4::query_pairs(parts.uri.query().unwrap_or(""));
    let q = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let Some(bucket) = parsed.bucket else {
        if parts.method != Method::GET {
            return s3_error(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                "",
                &resource,
            );
        }
        return list_buckets(&store, &own_bucket, &auth.access_key);
    };
    if bucket != own_bucket {
        // A key opens its own bucket only; whether another exists is not revealed.
        return s3_error(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "this key does not open that bucket",
            &resource,
        );
    }
    let unsupported = [
        "uploads",
        "uploadId",
        "acl",
        "policy",
        "versioning",
        "tagging",
        "versions",
    ];
    if let Some((k, _)) = query
        .iter()
        .find(|(k, _)| unsupported.contains(&k.as_str()))
    {
        return s3_error(
            StatusCode::NOT_IMPLEMENTED,
            "NotImplemented",
            &format!("`{k}` is not supported by localcloud's object store"),
            &resource,
        );
    }
    match parsed.key {
        None => match parts.method {
            Method::HEAD => StatusCode::OK.into_response(),
            Method::GET if q("location").is_some() => xml(
                "<LocationConstraint xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"></LocationConstraint>".into(),
            ),
            Method::GET => list_objects(&store, &bucket, &q),
            _ => s3_error(
                StatusCode::NOT_IMPLEMENTED,
                "NotImplemented",
                "buckets are created and removed by `ivkcs_s3`",
                &resource,
            ),
        },
        Some(key) => {
            if key.len() > 1024 {
                return s3_error(StatusCode::BAD_REQUEST, "KeyTooLongError", "", &resource);
            }
            match parts.method {
                Method::PUT => {
                    if header("x-amz-copy-source").is_some() {
                        return s3_error(
                            StatusCode::NOT_IMPLEMENTED,
                            "NotImplemented",
                            "copies are not supported",
                            &resource,
                        );
                    }
                    put_object(&store, &bucket, &key, &parts.headers, body, &resource).await
                }
                Method::GET => get_object(&store, &bucket, &key, true, &resource),
                Method::HEAD => get_object(&store, &bucket, &key, false, &resource),
                Method::DELETE => {
                    let path = store.object_path(&bucket, &key);
                    let _ = std::fs::remove_file(path.with_extension("json"));
                    let _ = std::fs::remove_file(&path);
                    StatusCode::NO_CONTENT.into_response()
                }
                _ => s3_error(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", "", &resource),
            }
        }
    }
}

fn list_buckets(store: &S3Store, bucket: &str, access: &str) -> Response {
    let created = std::fs::read(store.bucket_dir(bucket).join("bucket.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<BucketMeta>(&b).ok())
        .map(|m| m.created)
        .unwrap_or_else(now_rfc3339);
    xml(format!(
        "<ListAllMyBucketsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Owner><ID>{}</ID><DisplayName>{}</DisplayName></Owner><Buckets><Bucket><Name>{}</Name><CreationDate>{}</CreationDate></Bucket></Buckets></ListAllMyBucketsResult>",
        xml_escape(access),
        xml_escape(access),
        xml_escape(bucket),
        created
    ))
}

fn objects(store: &S3Store, bucket: &str) -> Vec<ObjectMeta> {
    let mut out: Vec<ObjectMeta> = std::fs::read_dir(store.bucket_dir(bucket).join("objects"))
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
                .filter_map(|e| std::fs::read(e.path()).ok())
                .filter_map(|b| serde_json::from_slice::<ObjectMeta>(&b).ok())
                .collect()
        })
        .unwrap_or_default();
    out.sort_by(|a, b| a.key.cmp(&b.key));
    out
}

fn list_objects<'a>(
    store: &S3Store,
    bucket: &str,
    q: &dyn Fn(&str) -> Option<&'a str>,
) -> Response {
    let v2 = q("list-type") == Some("2");
    let prefix = q("prefix").unwrap_or("");
    let delimiter = q("delimiter").filter(|d| !d.is_empty());
    let max = q("max-keys")
        .and_then(|m| m.parse::<usize>().ok())
        .unwrap_or(MAX_KEYS)
        .min(MAX_KEYS);
    let after = if v2 {
        q("continuation-token").or(q("start-after")).unwrap_or("")
    } else {
        q("marker").unwrap_or("")
    };
    let mut contents = String::new();
    let mut prefixes: Vec<String> = Vec::new();
    let mut count = 0usize;
    let mut last = String::new();
    let mut truncated = false;
    for o in objects(store, bucket)
        .into_iter()
        .filter(|o| o.key.starts_with(prefix) && o.key.as_str() > after)
    {
        if let Some(d) = delimiter {
            if let Some(pos) = o.key[prefix.len()..].find(d) {
                let common = o.key[..prefix.len() + pos + d.len()].to_owned();
                if after.starts_with(&common) || prefixes.last() == Some(&common) {
                    continue;
                }
                if count == max {
                    truncated = true;
                    break;
                }
                count += 1;
                last = common.clone();
                prefixes.push(common);
                continue;
            }
        }
        if count == max {
            truncated = true;
            break;
        }
        count += 1;
        last = o.key.clone();
        contents.push_str(&format!(
            "<Contents><Key>{}</Key><LastModified>{}</LastModified><ETag>&quot;{}&quot;</ETag><Size>{}</Size><StorageClass>STANDARD</StorageClass></Contents>",
            xml_escape(&o.key),
            o.modified,
            o.etag,
            o.size
        ));
    }
    let common: String = prefixes
        .iter()
        .map(|p| {
            format!(
                "<CommonPrefixes><Prefix>{}</Prefix></CommonPrefixes>",
                xml_escape(p)
            )
        })
        .collect();
    let paging = match (v2, truncated) {
        (true, true) => format!(
            "<KeyCount>{count}</KeyCount><NextContinuationToken>{}</NextContinuationToken>",
            xml_escape(&last)
        ),
        (true, false) => format!("<KeyCount>{count}</KeyCount>"),
        (false, true) => format!("<NextMarker>{}</NextMarker>", xml_escape(&last)),
        (false, false) => String::new(),
    };
    let delim = delimiter
        .map(|d| format!("<Delimiter>{}</Delimiter>", xml_escape(d)))
        .unwrap_or_default();
    xml(format!(
        "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>{}</Name><Prefix>{}</Prefix>{delim}<MaxKeys>{max}</MaxKeys><IsTruncated>{truncated}</IsTruncated>{paging}{contents}{common}</ListBucketResult>",
        xml_escape(bucket),
        xml_escape(prefix)
    ))
}

async fn put_object(
    store: &S3Store,
    bucket: &str,
    key: &str,
    headers: &HeaderMap,
    body: Body,
    resource: &str,
) -> Response {
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    let raw = match axum::body::to_bytes(body, MAX_OBJECT + 64 * 1024).await {
        Ok(b) => b,
        Err(_) => {
            return s3_error(
                StatusCode::BAD_REQUEST,
                "EntityTooLarge",
                &format!("objects are at most {MAX_OBJECT} bytes here"),
                resource,
            )
        }
    };
    let payload = h("x-amz-content-sha256").unwrap_or("UNSIGNED-PAYLOAD");
    let chunked =
        h("content-encoding").is_some_and(|e| e.split(',').any(|p| p.trim() == "aws-chunked"));
    let data: Vec<u8> = match payload {
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER" => match decode_aws_chunked(&raw) {
            Some(d) => d,
            None => {
                return s3_error(StatusCode::BAD_REQUEST, "IncompleteBody", "bad aws-chunked body", resource)
            }
        },
        p if p.starts_with("STREAMING-") => {
            return s3_error(
                StatusCode::NOT_IMPLEMENTED,
                "NotImplemented",
                "signed streaming payloads are not supported; sign the whole payload or send it unsigned",
                resource,
            )
        }
        "UNSIGNED-PAYLOAD" if !chunked => raw.to_vec(),
        hash if !chunked => {
            if !sigv4::constant_time_eq(
                hex::encode(Sha256::digest(&raw)).as_bytes(),
                hash.to_ascii_lowercase().as_bytes(),
            ) {
                return s3_error(
                    StatusCode::BAD_REQUEST,
                    "XAmzContentSHA256Mismatch",
                    "the payload does not match x-amz-content-sha256",
                    resource,
                );
            }
            raw.to_vec()
        }
        _ => match decode_aws_chunked(&raw) {
            Some(d) => d,
            None => {
                return s3_error(StatusCode::BAD_REQUEST, "IncompleteBody", "bad aws-chunked body", resource)
            }
        },
    };
    if data.len() > MAX_OBJECT {
        return s3_error(
            StatusCode::BAD_REQUEST,
            "EntityTooLarge",
            "object too large",
            resource,
        );
    }
    if let Some(md5) = h("content-md5") {
        let ours = base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(&data));
        if ours != md5.trim() {
            return s3_error(
                StatusCode::BAD_REQUEST,
                "BadDigest",
                "Content-MD5 does not match",
                resource,
            );
        }
    }
    let etag = hex::encode(md5::Md5::digest(&data));
    let meta = ObjectMeta {
        key: key.to_owned(),
        size: data.len() as u64,
        etag: etag.clone(),
        content_type: h("content-type")
            .unwrap_or("binary/octet-stream")
            .chars()
            .take(255)
            .collect(),
        modified: now_rfc3339(),
    };
    let path = store.object_path(bucket, key);
    let written = write_atomic(&path, &data).and_then(|()| {
        write_atomic(
            &path.with_extension("json"),
            &serde_json::to_vec(&meta).unwrap_or_default(),
        )
    });
    if let Err(e) = written {
        tracing::warn!(bucket, error = %e, "cannot store an object");
        return s3_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "cannot store the object",
            resource,
        );
    }
    let mut r = StatusCode::OK.into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{etag}\"")) {
        r.headers_mut().insert("etag", v);
    }
    r
}

fn get_object(
    store: &S3Store,
    bucket: &str,
    key: &str,
    with_body: bool,
    resource: &str,
) -> Response {
    let path = store.object_path(bucket, key);
    let meta = std::fs::read(path.with_extension("json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<ObjectMeta>(&b).ok())
        .filter(|m| m.key == key);
    let Some(meta) = meta else {
        return s3_error(
            StatusCode::NOT_FOUND,
            "NoSuchKey",
            "the key does not exist",
            resource,
        );
    };
    let body = if with_body {
        match std::fs::read(&path) {
            Ok(b) => Body::from(b),
            Err(_) => {
                return s3_error(
                    StatusCode::NOT_FOUND,
                    "NoSuchKey",
                    "the key does not exist",
                    resource,
                )
            }
        }
    } else {
        Body::empty()
    };
    let modified = chrono::DateTime::parse_from_rfc3339(&meta.modified)
        .map(|d| d.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
        .unwrap_or_default();
    let mut r = Response::new(body);
    let hs = r.headers_mut();
    for (name, value) in [
        ("etag", format!("\"{}\"", meta.etag)),
        ("content-length", meta.size.to_string()),
        ("content-type", meta.content_type.clone()),
        ("last-modified", modified),
        ("accept-ranges", "bytes".to_owned()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            hs.insert(name, v);
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_follow_s3() {
        assert!(valid_bucket_name(
            "kafka-0b9a8d6e-1f2a-4c3b-9d8e-7f6a5b4c3d2e"
        ));
        assert!(!valid_bucket_name("ab"));
        assert!(!valid_bucket_name("Upper"));
        assert!(!valid_bucket_name("-start"));
        assert!(!valid_bucket_name("a..b"));
        assert!(!valid_bucket_name("a/b"));
    }

    #[test]
    fn aws_chunked_bodies_decode() {
        let body = b"5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n";
        assert_eq!(
            decode_aws_chunked(body).as_deref(),
            Some(&b"hello world"[..])
        );
        assert_eq!(decode_aws_chunked(b"5\r\nhel"), None);
    }

    #[test]
    fn keys_are_stable_per_bucket_and_secrets_are_not_stored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = S3Store::open(dir.path()).expect("open");
        let a = s.ensure_bucket("bucket-one").expect("create");
        assert_eq!(s.ensure_bucket("bucket-one").expect("again"), a);
        let b = s.ensure_bucket("bucket-two").expect("create");
        assert_ne!(a.access, b.access);
        assert_eq!(s.bucket_of_access(&a.access).as_deref(), Some("bucket-one"));
        let reopened = S3Store::open(dir.path()).expect("reopen");
        assert_eq!(reopened.ensure_bucket("bucket-one").expect("same"), a);
        // No file holds the secret.
        let mut stack = vec![dir.path().to_owned()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).expect("dir").flatten() {
                if e.path().is_dir() {
                    stack.push(e.path());
                } else {
                    let bytes = std::fs::read(e.path()).expect("file");
                    assert!(!String::from_utf8_lossy(&bytes).contains(&a.secret));
                }
            }
        }
        s.delete_bucket("bucket-one").expect("delete");
        assert_eq!(s.bucket_of_access(&a.access), None);
    }
}
