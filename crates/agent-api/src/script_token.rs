//! The script token of `ivkcs_user_data`'s `token_file_path` / `token_rotate`: a token bound to
//! one deployment and one host, kept fresh in a file by the agent for the vendor's own scripts.
//! It is not the agent's token: it opens only [`AUTH_KEY_PATH`], as VK's
//! `GET …/infra-api/v1-public/auth/key` does for scripts that run without the agent.
//!
//! | method and path | token | answer |
//! |---|---|---|
//! | `POST /agent/v1/script-token` | the agent's | [`ScriptToken`]: the current one, made on first call, rotated when `rotate` is set and it is older than the server's period |
//! | `GET /agent/v1/auth/key` | a script token (current, or previous within the grace period) | [`AuthKey`] |
//!
//! On rotation the previous token stays valid for the grace period (so a script that read the
//! file just before keeps working), then it is refused; only one previous token is kept, so the
//! next rotation ends it too.

use serde::{Deserialize, Serialize};
use vitrina_common::Secret;

/// The path vendor scripts call with the script token.
pub const AUTH_KEY_PATH: &str = "/agent/v1/auth/key";

/// `POST /agent/v1/script-token` body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptTokenRequest {
    /// Rotate when the current token is older than the period (`token_rotate = true`).
    pub rotate: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptToken {
    pub token: Secret,
    /// When this token was made (unix ms).
    pub issued_at: i64,
    /// How often the agent should ask again (a fraction of the rotation period).
    pub check_every_ms: u64,
}

/// `GET /agent/v1/auth/key` (VK's shape).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthKey {
    /// The deployment.
    pub instance_uuid: String,
    pub host: String,
    /// The current script token.
    pub key: Secret,
    /// The previous one while its grace period lasts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secondary_key: Option<Secret>,
}
