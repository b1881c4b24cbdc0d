//! `ivkcs_ssh_keypair`: an RSA key pair made by `ssh-keygen` on this machine (the key is not
//! stored in the cloud).

use sha2::Digest as _;
use vitrina_engine::provider::{CreateRequest, ProviderError, ProviderSchema, Schema};
use vitrina_engine::Value;

use crate::vkcs::util::{c, number, o, string, vs};

pub(super) fn schemas(p: &mut ProviderSchema) {
    p.resources.insert(
        "ivkcs_ssh_keypair".into(),
        Schema::new()
            .attr(
                "bit_size",
                o(number()).default(Value::int(2048)).force_new(),
            )
            .attr("public_key", c(string()))
            .attr("private_key", c(string()).sensitive())
            .attr("id", c(string())),
    );
}

pub(super) async fn create_keypair(req: &CreateRequest) -> Result<Value, ProviderError> {
    let bits = req.config.get("bit_size").as_i64().unwrap_or(2048);
    if !(1024..=16384).contains(&bits) {
        return Err(ProviderError::new(format!(
            "`bit_size = {bits}`: use 1024 to 16384 bits"
        )));
    }
    let dir = tempfile::tempdir()
        .map_err(|e| ProviderError::with_source("cannot make a folder for ssh-keygen", e))?;
    let key = dir.path().join("key");
    let out = tokio::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "rsa", "-m", "PEM", "-N", "", "-C", "", "-b"])
        .arg(bits.to_string())
        .arg("-f")
        .arg(&key)
        .output()
        .await
        .map_err(|e| {
            ProviderError::with_source(
                "cannot run `ssh-keygen` (install openssh-client: `apt-get install openssh-client`)",
                e,
            )
        })?;
    if !out.status.success() {
        return Err(ProviderError::new(format!(
            "ssh-keygen failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let private = std::fs::read_to_string(&key)
        .map_err(|e| ProviderError::with_source("cannot read the key ssh-keygen wrote", e))?;
    let public = std::fs::read_to_string(key.with_extension("pub"))
        .map_err(|e| ProviderError::with_source("cannot read the public key", e))?;
    let public = public.trim().to_owned();
    let id = hex::encode(&sha2::Sha256::digest(public.as_bytes())[..16]);
    Ok(Value::map([
        ("bit_size", Value::int(bits)),
        ("public_key", vs(public)),
        ("private_key", vs(private)),
        ("id", vs(id)),
    ]))
}
