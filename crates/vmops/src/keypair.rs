//! The SSH key pair: the local public key's MD5 fingerprint (as Nova shows it) and the check
//! that the cloud's key pair of that name is this key.

use std::path::Path;

use base64::Engine as _;
use md5::{Digest, Md5};

use crate::error::{Error, Result};

/// A local OpenSSH public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    /// The line as found (`ssh-ed25519 AAAA… comment`), trimmed.
    pub line: String,
    /// `aa:bb:…`: MD5 of the key blob, as Nova's `fingerprint`.
    pub fingerprint: String,
}

/// Reads and checks a public key file.
pub fn read_public_key(path: &Path) -> Result<PublicKey> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        action: "cannot read the SSH public key",
        path: path.to_owned(),
        source,
    })?;
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .unwrap_or_default()
        .to_owned();
    let fingerprint = fingerprint(&line).ok_or_else(|| Error::PublicKey {
        path: path.to_owned(),
    })?;
    Ok(PublicKey { line, fingerprint })
}

/// Nova's MD5 fingerprint of an OpenSSH public key line, or `None` when it is not one.
pub fn fingerprint(line: &str) -> Option<String> {
    let mut parts = line.split_whitespace();
    let kind = parts.next()?;
    let blob = base64::engine::general_purpose::STANDARD
        .decode(parts.next()?)
        .ok()?;
    // The blob starts with the key type as an SSH string.
    let len = usize::try_from(u32::from_be_bytes(blob.get(..4)?.try_into().ok()?)).ok()?;
    if blob.get(4..4usize.checked_add(len)?)? != kind.as_bytes() {
        return None;
    }
    Some(
        Md5::digest(&blob)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_of_an_ed25519_key() {
        // `ssh-keygen -l -E md5` of this key prints MD5:3d:6b:…; the blob is type + 32 bytes.
        let mut blob = Vec::new();
        blob.extend_from_slice(&11u32.to_be_bytes());
        blob.extend_from_slice(b"ssh-ed25519");
        blob.extend_from_slice(&32u32.to_be_bytes());
        blob.extend_from_slice(&[7u8; 32]);
        let line = format!(
            "ssh-ed25519 {} me@host",
            base64::engine::general_purpose::STANDARD.encode(&blob)
        );
        let fp = fingerprint(&line).unwrap();
        assert_eq!(fp.len(), 47);
        assert_eq!(
            fp.replace(':', ""),
            Md5::digest(&blob)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        assert_eq!(fingerprint("ssh-rsa AAAA"), None);
        assert_eq!(fingerprint("not a key"), None);
    }
}
