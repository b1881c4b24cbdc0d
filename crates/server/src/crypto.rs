//! Secrets at rest: XChaCha20-Poly1305 with a 32-byte key in `DATA/secret.key` (mode 0600).
//! Each sealed value is bound to its place (table, deployment, name) as associated data, so a
//! sealed column copied into another row does not open.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("cannot read or create the key file {path}")]
    KeyFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the key file {0} does not hold 32 bytes")]
    BadKey(PathBuf),
    #[error("a sealed value does not open (wrong key, or moved from another row)")]
    Open,
    #[error("sealing failed")]
    Seal,
}

/// Seals and opens values.
#[derive(Clone)]
pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

impl Sealer {
    /// Reads `path`, or creates it with a fresh random key (0600).
    pub fn from_key_file(path: &Path) -> Result<Self, CryptoError> {
        let key = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = vec![0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut key);
                vitrina_common::fs::write_atomic(path, &key, Some(0o600)).map_err(|source| {
                    CryptoError::KeyFile {
                        path: path.to_owned(),
                        source,
                    }
                })?;
                key
            }
            Err(source) => {
                return Err(CryptoError::KeyFile {
                    path: path.to_owned(),
                    source,
                })
            }
        };
        let cipher = XChaCha20Poly1305::new_from_slice(&key)
            .map_err(|_| CryptoError::BadKey(path.to_owned()))?;
        Ok(Sealer { cipher })
    }

    /// `base64(nonce ‖ ciphertext)`.
    pub fn seal(&self, place: &str, plain: &[u8]) -> Result<String, CryptoError> {
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ct = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: place.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Seal)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(base64::engine::general_purpose::STANDARD.encode(out))
    }

    pub fn open(&self, place: &str, sealed: &str) -> Result<Vec<u8>, CryptoError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(sealed)
            .map_err(|_| CryptoError::Open)?;
        if bytes.len() < 24 {
            return Err(CryptoError::Open);
        }
        let (nonce, ct) = bytes.split_at(24);
        self.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: place.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Open)
    }

    pub fn seal_json<T: serde::Serialize>(
        &self,
        place: &str,
        value: &T,
    ) -> Result<String, CryptoError> {
        let bytes = serde_json::to_vec(value).map_err(|_| CryptoError::Seal)?;
        self.seal(place, &bytes)
    }

    pub fn open_json<T: serde::de::DeserializeOwned>(
        &self,
        place: &str,
        sealed: &str,
    ) -> Result<T, CryptoError> {
        let bytes = self.open(place, sealed)?;
        serde_json::from_slice(&bytes).map_err(|_| CryptoError::Open)
    }
}

/// SHA-256 of a token, hex: what the store keeps to find a token's owner.
pub fn token_hash(token: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

/// A new random token with a readable prefix (`vte_` engine, `vta_` agent).
pub fn new_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_opens_and_binds_to_the_place() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = dir.path().join("secret.key");
        let s = Sealer::from_key_file(&key).expect("new key");
        let sealed = s.seal("a", b"hunter2").expect("seal");
        assert!(!sealed.contains("hunter2"));
        assert_eq!(s.open("a", &sealed).expect("open"), b"hunter2");
        assert!(s.open("b", &sealed).is_err(), "moved to another place");
        let again = Sealer::from_key_file(&key).expect("same key");
        assert_eq!(again.open("a", &sealed).expect("reopen"), b"hunter2");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&key).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
