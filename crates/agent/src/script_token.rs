//! `token_file_path` / `token_rotate` of `ivkcs_user_data`: the agent asks the config service for
//! its host's script token and keeps it in a file for the vendor's own scripts, asking again
//! every `check_every_ms` (a quarter of the server's rotation period) so a rotated token reaches
//! the file long before the previous one stops opening.

use std::path::PathBuf;
use std::time::Duration;

use vitrina_agent_api::AgentClient;

use crate::log;

/// Where the token goes and who may read it.
#[derive(Clone, Debug, Default)]
pub struct TokenFile {
    pub path: PathBuf,
    pub rotate: bool,
    pub owner: Option<String>,
    pub group: Option<String>,
}

impl TokenFile {
    /// Writes `token` (0600, then owner and group) unless the file already holds it.
    fn write(&self, token: &str) -> Result<bool, String> {
        let line = format!("{token}\n");
        if std::fs::read_to_string(&self.path).ok().as_deref() == Some(line.as_str()) {
            return Ok(false);
        }
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let uid = match self.owner.as_deref().filter(|o| !o.is_empty()) {
            Some(o) => Some(
                nix::unistd::User::from_name(o)
                    .ok()
                    .flatten()
                    .ok_or_else(|| format!("no user `{o}` for the token file"))?
                    .uid
                    .as_raw(),
            ),
            None => None,
        };
        let gid = match self.group.as_deref().filter(|g| !g.is_empty()) {
            Some(g) => Some(
                nix::unistd::Group::from_name(g)
                    .ok()
                    .flatten()
                    .ok_or_else(|| format!("no group `{g}` for the token file"))?
                    .gid
                    .as_raw(),
            ),
            None => None,
        };
        // Written beside, owned, then renamed: a reader sees the old token or the new one.
        let tmp = self.path.with_extension("vitrina-new");
        vitrina_common::fs::write_atomic(&tmp, line.as_bytes(), Some(0o600))
            .map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
        if uid.is_some() || gid.is_some() {
            std::os::unix::fs::chown(&tmp, uid, gid)
                .map_err(|e| format!("cannot give {} its owner: {e}", tmp.display()))?;
        }
        std::fs::rename(&tmp, &self.path)
            .map_err(|e| format!("cannot write {}: {e}", self.path.display()))?;
        Ok(true)
    }
}

/// Keeps the file fresh until the agent stops.
pub async fn keep_fresh(client: AgentClient, file: TokenFile) {
    loop {
        let wait = match client.script_token(file.rotate).await {
            Ok(t) => {
                match file.write(t.token.expose()) {
                    Ok(true) => log(format!("wrote the script token to {}", file.path.display())),
                    Ok(false) => {}
                    Err(e) => log(format!("script token: {e}")),
                }
                let every = Duration::from_millis(t.check_every_ms.max(200));
                // Without rotation it only has to be there; look again now and then in case
                // the file was removed.
                if file.rotate {
                    every
                } else {
                    every.max(Duration::from_secs(60))
                }
            }
            Err(e) => {
                log(format!("cannot get the script token yet: {e}"));
                Duration::from_secs(2)
            }
        };
        tokio::time::sleep(wait).await;
    }
}
