//! Key pairs (generated with `ssh-keygen` when no public key is given).

use super::*;

pub(super) fn key_id(user: &str, name: &str) -> String {
    format!("{user}/{name}")
}

/// The MD5 fingerprint Nova shows for an OpenSSH public key (`aa:bb:…`).
pub fn fingerprint(public_key: &str) -> Option<String> {
    let mut parts = public_key.split_whitespace();
    let kind = parts.next()?;
    if !kind.starts_with("ssh-") && !kind.starts_with("ecdsa-") && !kind.starts_with("sk-") {
        return None;
    }
    let blob = base64::engine::general_purpose::STANDARD
        .decode(parts.next()?)
        .ok()?;
    // The blob starts with the key type as an SSH string.
    let len = u32::from_be_bytes(blob.get(..4)?.try_into().ok()?) as usize;
    if blob.get(4..4 + len)? != kind.as_bytes() {
        return None;
    }
    let d = md5::Md5::digest(&blob);
    Some(
        d.iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
    )
}

pub(super) fn keypair_view(k: &Keypair, mv: (u32, u32), private: Option<String>) -> w::Keypair {
    w::Keypair {
        name: k.name.clone(),
        public_key: k.public_key.clone(),
        fingerprint: k.fingerprint.clone(),
        private_key: private.map(Into::into),
        user_id: Some(k.user_id.clone()),
        key_type: (mv >= (2, 2)).then(|| k.key_type.clone()),
        created_at: None,
        id: None,
        deleted: None,
    }
}

pub(super) const KEYPAIR_SCHEMA: Schema = Schema {
    service: S,
    wrapper: Some("keypair"),
    fields: &[
        req("name", Ty::Str),
        opt("public_key", Ty::Str),
        opt("type", Ty::Str),
        opt("user_id", Ty::Str),
    ],
    additional: false,
    siblings: &[],
};

/// Generates an OpenSSH key pair with `ssh-keygen` (what Nova's API does when no public key is
/// given, before microversion 2.92).
pub(super) async fn generate_key(comment: &str) -> Result<(String, String), String> {
    let dir = tempfile_dir()?;
    let path = dir.join("id");
    let out = tokio::process::Command::new("ssh-keygen")
        .args([
            "-q", "-t", "rsa", "-b", "2048", "-N", "", "-C", comment, "-f",
        ])
        .arg(&path)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| format!("ssh-keygen cannot run ({e}); install openssh-client"))?;
    let result = if out.status.success() {
        let private = tokio::fs::read_to_string(&path)
            .await
            .map_err(|e| e.to_string());
        let public = tokio::fs::read_to_string(path.with_extension("pub"))
            .await
            .map_err(|e| e.to_string());
        match (private, public) {
            (Ok(a), Ok(b)) => Ok((a, b.trim().to_owned())),
            (Err(e), _) | (_, Err(e)) => Err(e),
        }
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let _ = tokio::fs::remove_dir_all(&dir).await;
    result
}

pub(super) fn tempfile_dir() -> Result<std::path::PathBuf, String> {
    let d = std::env::temp_dir().join(format!("localcloud-key-{}", new_id()));
    fs_err::create_dir_all(&d).map_err(|e| e.to_string())?;
    Ok(d)
}

pub(super) async fn create_keypair(
    State(c): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let m = body::check(&KEYPAIR_SCHEMA, body::parse_json(S, &bytes)?)?;
    let name = get_str(&m, "name").unwrap_or_default();
    if name.is_empty()
        || name.len() > 255
        || !name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "-_ .@".contains(ch))
    {
        return Err(ApiError::bad_request(S, format!("Invalid input for field/attribute name. Value: {name}. '{name}' does not match '^[a-zA-Z0-9 _.@-]+$'")));
    }
    let user = owner(&r, get_str(&m, "user_id"), "create")?;
    let key_type = get_str(&m, "type").unwrap_or_else(|| "ssh".into());
    if key_type != "ssh" && key_type != "x509" {
        return Err(ApiError::bad_request(S, format!("Invalid input for field/attribute type. Value: {key_type}. '{key_type}' is not one of ['ssh', 'x509']")));
    }
    if c.store
        .read(|db| db.keypairs.contains_key(&key_id(&user, &name)))
    {
        return Err(ApiError::conflict(
            S,
            format!("Key pair '{name}' already exists."),
        ));
    }
    let (public, private) = match get_str(&m, "public_key") {
        Some(p) => (p.trim().to_owned(), None),
        None => {
            if r.mv >= (2, 92) {
                return Err(ApiError::bad_request(S, "Invalid input for field/attribute keypair. 'public_key' is a required property"));
            }
            let (private, public) = generate_key(&format!("Generated-by-Nova {name}"))
                .await
                .map_err(|e| {
                    ApiError::new(
                        S,
                        StatusCode::SERVICE_UNAVAILABLE,
                        format!("Key generation is not available: {e}"),
                    )
                })?;
            (public, Some(private))
        }
    };
    let fp = fingerprint(&public).ok_or_else(|| {
        ApiError::bad_request(S, "Keypair data is invalid: failed to generate fingerprint")
    })?;
    let k = Keypair {
        name: name.clone(),
        user_id: user.clone(),
        public_key: public,
        fingerprint: fp,
        key_type,
        created_at: now(),
    };
    let dup = c.store.write(|db| {
        let id = key_id(&user, &name);
        if db.keypairs.contains_key(&id) {
            return true;
        }
        db.keypairs.insert(id, k.clone());
        false
    });
    if dup {
        return Err(ApiError::conflict(
            S,
            format!("Key pair '{name}' already exists."),
        ));
    }
    let status = if r.mv >= (2, 2) {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let body = w::KeypairResponse {
        keypair: keypair_view(&k, r.mv, private),
    };
    Ok(versioned(&r, (status, Json(body))))
}

/// The user whose key pairs a request means: its own, or (from 2.10) the `user_id` an admin
/// names; anyone else naming another user gets Nova's policy 403.
fn owner(r: &Req, named: Option<String>, rule: &str) -> ApiResult<String> {
    match named {
        Some(u) if r.mv >= (2, 10) && u != r.ctx.user_id => {
            if !r.ctx.is_admin() {
                return Err(ApiError::forbidden(
                    S,
                    format!(
                        "Policy doesn't allow os_compute_api:os-keypairs:{rule} to be performed."
                    ),
                ));
            }
            Ok(u)
        }
        _ => Ok(r.ctx.user_id.clone()),
    }
}

fn user_query(query: &util::Query) -> Option<String> {
    util::q(query, "user_id").map(str::to_owned)
}

pub(super) async fn list_keypairs(
    State(c): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<util::Query>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let user = owner(&r, user_query(&query), "index")?;
    let keypairs = c.store.read(|db| {
        db.keypairs
            .values()
            .filter(|k| k.user_id == user)
            .map(|k| {
                let mut v = keypair_view(k, r.mv, None);
                v.user_id = None;
                w::KeypairResponse { keypair: v }
            })
            .collect()
    });
    Ok(versioned(
        &r,
        Json(w::KeypairList {
            keypairs,
            keypairs_links: None,
        }),
    ))
}

pub(super) fn keypair_not_found(name: &str) -> ApiError {
    ApiError::not_found(S, format!("Keypair {name} not found for user"))
}

pub(super) async fn show_keypair(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(query): Query<util::Query>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let user = owner(&r, user_query(&query), "show")?;
    let k = c
        .store
        .read(|db| db.keypairs.get(&key_id(&user, &name)).cloned())
        .ok_or_else(|| keypair_not_found(&name))?;
    let mut v = keypair_view(&k, r.mv, None);
    v.created_at = Some(k.created_at.clone());
    v.deleted = Some(false);
    v.id = Some(1);
    Ok(versioned(&r, Json(w::KeypairResponse { keypair: v })))
}

pub(super) async fn delete_keypair(
    State(c): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(query): Query<util::Query>,
) -> ApiResult<Response> {
    let r = req_ctx(&c, &headers)?;
    let user = owner(&r, user_query(&query), "delete")?;
    let removed = c
        .store
        .write(|db| db.keypairs.remove(&key_id(&user, &name)));
    removed.ok_or_else(|| keypair_not_found(&name))?;
    let status = if r.mv >= (2, 2) {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::ACCEPTED
    };
    Ok(versioned(&r, status))
}
