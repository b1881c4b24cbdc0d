//! `ivkcs_user_data` (cloud-config MIME per host) and the deprecated `ivkcs_agent_init` (a bash
//! script per host). Both install `vitrina-agent` with the host's own token: downloaded from the
//! config service, run by systemd where there is one (it comes back after soft and hard reboots,
//! like VK's `sower`), else by a supervisor loop in the VM's tree (a `localcloud` process VM),
//! started again on every boot.

use base64::Engine as _;
use sha2::Digest as _;
use vitrina_engine::provider::{AttrType, Nesting, ProviderError, ProviderSchema, Schema};
use vitrina_engine::Value;

use super::{client_err, deployment, host_names, Ivkcs};
use crate::vkcs::util::{blocks, boolean, c, list_of_strings, number, o, r, s, string, vs};

/// VK's `target_os` values; `freebsd132` gets no agent.
pub const TARGET_OS: &[&str] = &[
    "freebsd132",
    "debian114",
    "ubuntu2204",
    "redos73",
    "centos84",
    "altserver10",
    "astralinux17",
    "almalinux9",
];

pub(super) fn schemas(p: &mut ProviderSchema) {
    let packages = Schema::new()
        .attr("name", r(string()))
        .attr("version", r(string()));
    let user_script = Schema::new()
        .attr("name", o(string()))
        .attr("content_type", o(string()))
        .attr("content", o(string()));
    p.resources.insert(
        "ivkcs_user_data".into(),
        Schema::new()
            .attr("uuid", r(string()))
            .attr("hosts", r(list_of_strings()).force_new())
            .attr("target_os", r(string()))
            .attr("ssh_private_key", o(string()).sensitive())
            .attr("ssh_public_key", o(string()))
            .attr("ssh_authorized_keys", o(list_of_strings()))
            .attr("ca_certificates", o(list_of_strings()))
            .attr("agent_install", o(boolean()).default(Value::Bool(true)))
            .attr("agent_memory_limit", o(number()).default(Value::int(512)))
            .attr("token_file_path", o(string()).force_new())
            .attr(
                "token_rotate",
                o(boolean()).default(Value::Bool(false)).force_new(),
            )
            .attr("token_file_owner", o(string()).force_new())
            .attr("token_file_group", o(string()).force_new())
            .block("packages", Nesting::List, packages)
            .block("user_script", Nesting::List, user_script)
            .attr("user_data", c(list_of_strings()).sensitive())
            .attr("id", c(string())),
    );
    p.resources.insert(
        "ivkcs_agent_init".into(),
        Schema {
            description: "deprecated by VK: use `ivkcs_user_data`".into(),
            deprecated: Some("VK deprecated `ivkcs_agent_init`: install the agent with `ivkcs_user_data` (`agent_install = true`, its default)".into()),
            ..Schema::new()
                .attr("uuid", r(string()))
                .attr("hosts", r(list_of_strings()).force_new())
                .block(
                    "options",
                    Nesting::Single,
                    Schema::new().attr("memory_limit", o(number()).default(Value::int(256))),
                )
                .attr("agent", c(AttrType::map(string())).sensitive())
                .attr("id", c(string()))
        },
    );
}

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The bash script that installs and starts the agent for one host (idempotent: run on every
/// boot it only starts what is not running).
/// `token_file_path` with `token_rotate`, `token_file_owner` and `token_file_group`.
#[derive(Clone, Debug, Default)]
pub struct ScriptTokenArgs {
    pub path: String,
    pub rotate: bool,
    pub owner: Option<String>,
    pub group: Option<String>,
}

pub fn agent_script(
    server: &str,
    token: &str,
    memory_mb: i64,
    token_file: Option<&ScriptTokenArgs>,
) -> String {
    // The agent keeps the host's script token (not its own) in `token_file_path`.
    let extra = match token_file {
        Some(t) => {
            let mut a = format!("--script-token-file \"$ROOT\"{}", sh_quote(&t.path));
            if t.rotate {
                a.push_str(" --script-token-rotate");
            }
            if let Some(o) = t.owner.as_deref().filter(|o| !o.is_empty()) {
                a.push_str(&format!(" --script-token-owner {}", sh_quote(o)));
            }
            if let Some(g) = t.group.as_deref().filter(|g| !g.is_empty()) {
                a.push_str(&format!(" --script-token-group {}", sh_quote(g)));
            }
            a
        }
        None => String::new(),
    };
    format!(
        r#"#!/bin/bash
# Installs and starts vitrina-agent (written by ivkcs). In a localcloud process VM,
# $VITRINA_ROOT is the VM's own `/`.
set -eu
ROOT="${{VITRINA_ROOT:-}}"
SERVER={server}
ETC="$ROOT/etc/vitrina-agent"
STATE="$ROOT/var/lib/vitrina-agent"
BIN="$ROOT/usr/local/bin/vitrina-agent"
mkdir -p "$ETC" "$STATE" "$ROOT/usr/local/bin"
( umask 077
  cat > "$ETC/token" <<'VITRINA_TOKEN'
{token}
VITRINA_TOKEN
  printf 'Authorization: Bearer %s\n' "$(cat "$ETC/token")" > "$ETC/auth-header" )
EXTRA=({extra})
EXTRA_UNIT=""
for a in "${{EXTRA[@]}}"; do EXTRA_UNIT="$EXTRA_UNIT \"$a\""; done
if [ ! -x "$BIN" ]; then
  for attempt in $(seq 1 60); do
    if curl -fsS -H @"$ETC/auth-header" -o "$BIN.part" "$SERVER/agent/v1/download"; then
      chmod 755 "$BIN.part" && mv "$BIN.part" "$BIN" && break
    fi
    sleep 2
  done
fi
[ -x "$BIN" ] || {{ echo "vitrina-agent: cannot download the agent from $SERVER" >&2; exit 1; }}
if [ -z "$ROOT" ] && [ -d /run/systemd/system ]; then
  cat > /etc/systemd/system/vitrina-agent.service <<UNIT
[Unit]
Description=vitrina agent (scripts and health checks of the deployment)
After=network-online.target
Wants=network-online.target

[Service]
ExecStart=$BIN --server $SERVER --token-file $ETC/token --state-dir $STATE$EXTRA_UNIT
Restart=always
RestartSec=2
MemoryMax={memory_mb}M

[Install]
WantedBy=multi-user.target
UNIT
  systemctl daemon-reload
  systemctl enable --now vitrina-agent.service
else
  # No systemd (a localcloud process VM): a supervisor loop restarts the agent whenever it
  # dies. It stays in the VM's process group, so stopping the VM stops it. It empties the
  # agent's run folder once, at boot (as a real /run is), so an agent that finds its marker
  # there knows the one before it died in this boot and says so (the host is then failed).
  # Running, not a zombie left from before a reboot (`kill -0` succeeds on zombies).
  OLD="$(cat "$STATE/supervisor.pid" 2>/dev/null || true)"
  if [ -n "$OLD" ] && [ -r "/proc/$OLD/stat" ] && ! grep -q ') Z ' "/proc/$OLD/stat" \
     && grep -q 'vitrina-agent' "/proc/$OLD/cmdline" 2>/dev/null; then
    exit 0
  fi
  nohup bash -c 'rm -rf "$3/run"; while true; do "$0" --server "$1" --token-file "$2" --state-dir "$3" --run-dir "$3/run" "${{@:4}}" >>"$3/agent.log" 2>&1; sleep 2; done' \
    "$BIN" "$SERVER" "$ETC/token" "$STATE" "${{EXTRA[@]}}" >/dev/null 2>&1 </dev/null &
  echo $! > "$STATE/supervisor.pid"
fi
"#,
        server = sh_quote(server),
    )
}

struct Part {
    content_type: String,
    body: String,
}

fn mime(parts: &[Part]) -> String {
    let mut h = sha2::Sha256::new();
    for p in parts {
        h.update(p.body.as_bytes());
    }
    let boundary = format!("==vitrina{}==", hex::encode(&h.finalize()[..8]));
    let mut out =
        format!("Content-Type: multipart/mixed; boundary=\"{boundary}\"\nMIME-Version: 1.0\n\n");
    for p in parts {
        let b64 = base64::engine::general_purpose::STANDARD.encode(p.body.as_bytes());
        out.push_str(&format!(
            "--{boundary}\nContent-Type: {}; charset=\"utf-8\"\nMIME-Version: 1.0\nContent-Transfer-Encoding: base64\n\n",
            p.content_type
        ));
        for chunk in b64.as_bytes().chunks(76) {
            out.push_str(&String::from_utf8_lossy(chunk));
            out.push('\n');
        }
    }
    out.push_str(&format!("--{boundary}--\n"));
    out
}

fn strs(v: &Value, name: &str) -> Vec<String> {
    v.get(name)
        .as_list()
        .map(|l| {
            l.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn cloud_config(v: &Value) -> String {
    let mut cc = serde_json::Map::new();
    let keys = strs(v, "ssh_authorized_keys");
    if !keys.is_empty() {
        cc.insert("ssh_authorized_keys".into(), keys.into());
    }
    let cas = strs(v, "ca_certificates");
    if !cas.is_empty() {
        cc.insert("ca_certs".into(), serde_json::json!({ "trusted": cas }));
    }
    let packages: Vec<serde_json::Value> = blocks(v, "packages")
        .iter()
        .filter_map(|p| {
            let name = s(p, "name")?;
            Some(match s(p, "version") {
                Some(ver) => serde_json::json!([name, ver]),
                None => serde_json::json!(name),
            })
        })
        .collect();
    if !packages.is_empty() {
        cc.insert("packages".into(), packages.into());
    }
    if let (Some(private), Some(public)) = (s(v, "ssh_private_key"), s(v, "ssh_public_key")) {
        cc.insert(
            "ssh_keys".into(),
            serde_json::json!({ "rsa_private": private, "rsa_public": public }),
        );
    }
    // JSON is YAML: cloud-init reads it as the cloud-config it is.
    format!(
        "#cloud-config\n{}\n",
        serde_json::to_string_pretty(&serde_json::Value::Object(cc))
            .unwrap_or_else(|_| "{}".into())
    )
}

fn user_scripts(v: &Value) -> Result<Vec<Part>, ProviderError> {
    let mut scripts: Vec<(u8, String, Part)> = Vec::new();
    for b in blocks(v, "user_script") {
        let name = s(b, "name").unwrap_or_default();
        let ct = s(b, "content_type").unwrap_or_else(|| "text/x-shellscript-per-boot".into());
        let (rank, content_type) = match ct.as_str() {
            "text/x-shellscript-per-boot" => (0, ct.clone()),
            // cloud-init runs plain x-shellscript once per instance.
            "text/x-shellscript-per-instance" => (1, "text/x-shellscript".to_owned()),
            "text/x-shellscript-per-once" => (2, ct.clone()),
            other => {
                return Err(ProviderError::new(format!(
                    "user_script `{name}`: `content_type = \"{other}\"` must be text/x-shellscript-per-boot, -per-instance or -per-once"
                )))
            }
        };
        scripts.push((
            rank,
            name,
            Part {
                content_type,
                body: s(b, "content").unwrap_or_default(),
            },
        ));
    }
    scripts.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    Ok(scripts.into_iter().map(|(_, _, p)| p).collect())
}

pub(super) async fn create_user_data(p: &Ivkcs, v: &Value) -> Result<Value, ProviderError> {
    let d = deployment(v)?;
    let hosts = host_names(v, "hosts")?;
    let os = s(v, "target_os").unwrap_or_default();
    if !TARGET_OS.contains(&os.as_str()) {
        return Err(ProviderError::new(format!(
            "`target_os = \"{os}\"` is not one of {}",
            TARGET_OS.join(", ")
        )));
    }
    let install = v.get("agent_install").as_bool().unwrap_or(true) && os != "freebsd132";
    let memory = v.get("agent_memory_limit").as_i64().unwrap_or(512).max(16);
    let scripts = user_scripts(v)?;
    let token_args = s(v, "token_file_path")
        .filter(|p| !p.is_empty())
        .map(|path| ScriptTokenArgs {
            path,
            rotate: v.get("token_rotate").as_bool().unwrap_or(false),
            owner: s(v, "token_file_owner"),
            group: s(v, "token_file_group"),
        });
    let mut out = Vec::new();
    for h in &hosts {
        let mut parts = vec![Part {
            content_type: "text/cloud-config".into(),
            body: cloud_config(v),
        }];
        if install {
            let client = p.client()?;
            let creds = client
                .agent_credentials(&d, h)
                .await
                .map_err(|e| client_err("cannot get the agent's token", e))?;
            parts.push(Part {
                content_type: "text/x-shellscript-per-boot".into(),
                body: agent_script(
                    creds.agent_url.as_deref().unwrap_or(client.base_url()),
                    creds.token.expose(),
                    memory,
                    token_args.as_ref(),
                ),
            });
        }
        parts.extend(scripts.iter().map(|p| Part {
            content_type: p.content_type.clone(),
            body: p.body.clone(),
        }));
        out.push(vs(mime(&parts)));
    }
    let mut result = v.clone();
    result.set("user_data", Value::List(out));
    result.set("id", vs(format!("{d}")));
    result.set(
        "agent_install",
        Value::Bool(v.get("agent_install").as_bool().unwrap_or(true)),
    );
    result.set("agent_memory_limit", Value::int(memory));
    if result.get("token_rotate").is_null() {
        result.set("token_rotate", Value::Bool(false));
    }
    Ok(result)
}

pub(super) async fn create_agent_init(p: &Ivkcs, v: &Value) -> Result<Value, ProviderError> {
    let d = deployment(v)?;
    let hosts = host_names(v, "hosts")?;
    let memory = v
        .get("options")
        .get("memory_limit")
        .as_i64()
        .unwrap_or(256)
        .max(16);
    let client = p.client()?;
    let mut agent = std::collections::BTreeMap::new();
    for h in &hosts {
        let creds = client
            .agent_credentials(&d, h)
            .await
            .map_err(|e| client_err("cannot get the agent's token", e))?;
        agent.insert(
            h.to_string(),
            vs(agent_script(
                creds.agent_url.as_deref().unwrap_or(client.base_url()),
                creds.token.expose(),
                memory,
                None,
            )),
        );
    }
    let mut result = v.clone();
    result.set("agent", Value::Map(agent));
    result.set("id", vs(format!("{d}")));
    Ok(result)
}
