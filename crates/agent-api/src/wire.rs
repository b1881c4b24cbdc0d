//! Request and response bodies of the config service. Unknown fields are refused: this is
//! vitrina's own API, and a typo must not pass silently.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use vitrina_common::{DeploymentId, HostName, Secret};

/// Longest step or check script accepted, in bytes.
pub const MAX_SCRIPT_BYTES: usize = 1 << 20;
/// Most steps in one exec group and checks in one set.
pub const MAX_ITEMS: usize = 256;
/// Most hosts in one group or check set.
pub const MAX_HOSTS: usize = 1024;
/// Bytes of stdout and of stderr kept from a step (the end of the output).
pub const TAIL_BYTES: usize = 8 * 1024;
/// Largest structured result accepted, in bytes of JSON.
pub const MAX_STRUCTURED_BYTES: usize = 1 << 20;

/// The language of a script.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScriptType {
    Bash,
    Python,
}

impl ScriptType {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "bash" => Some(ScriptType::Bash),
            "python" => Some(ScriptType::Python),
            _ => None,
        }
    }
}

/// A step's `options` with VK's defaults; durations in milliseconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StepOptions {
    /// `K=V` entries added to the environment (values may be sensitive).
    pub environment_variables: Vec<Secret>,
    /// Codes that count as success; `-1` stands for "every other code is an error" (VK's
    /// default `[0, -1]`).
    pub exit_codes: Vec<i64>,
    /// Codes after which the step fails at once, without another attempt.
    pub halt_codes: Vec<i64>,
    /// Signal sent to the script's process group when `timeout` passes.
    pub stop_signal: i32,
    /// Then SIGKILL after this long.
    pub stop_timeout_ms: u64,
    pub cwd: String,
    pub user: String,
    pub group: String,
    pub timeout_ms: u64,
    /// How many times the script runs at most (at least once).
    pub attempts: u32,
    pub attempt_pause_ms: u64,
    pub pause_before_ms: u64,
    pub pause_after_ms: u64,
    /// Keep the result on the host's disk (the agent's `result/` folder).
    pub store_result: bool,
    /// A JSON file the script writes; its content becomes the structured result.
    pub structured_result_file: Option<String>,
    /// Run only while the deployment has no successful run of this step on the host.
    pub once: bool,
}

impl Default for StepOptions {
    fn default() -> Self {
        StepOptions {
            environment_variables: Vec::new(),
            exit_codes: vec![0, -1],
            halt_codes: vec![125],
            stop_signal: 15,
            stop_timeout_ms: 5_000,
            cwd: "/tmp".into(),
            user: "root".into(),
            group: "root".into(),
            timeout_ms: 60_000,
            attempts: 3,
            attempt_pause_ms: 5_000,
            pause_before_ms: 0,
            pause_after_ms: 0,
            store_result: true,
            structured_result_file: None,
            once: false,
        }
    }
}

impl StepOptions {
    /// Whether `code` counts as success.
    pub fn is_success(&self, code: i64) -> bool {
        code != -1 && self.exit_codes.contains(&code)
    }
    /// Whether `code` stops further attempts.
    pub fn is_halt(&self, code: i64) -> bool {
        self.halt_codes.contains(&code)
    }
}

/// One script of an exec group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub index: i64,
    #[serde(rename = "type")]
    pub kind: ScriptType,
    /// The script (may hold sensitive values interpolated by the manifest).
    pub content: Secret,
    #[serde(default)]
    pub options: StepOptions,
}

impl Step {
    /// The step's content hash (`hash` of `ivkcs_agent_exec`): SHA-256 over its type, content
    /// and options. A step whose hash is unchanged and that finished `ok` does not run again.
    pub fn hash(&self) -> String {
        let mut h = Sha256::new();
        // Serializing a struct of plain fields cannot fail; an empty hash would only make the
        // step run again, never skip it.
        let canonical = serde_json::to_vec(&(self.index, self.kind, &self.content, &self.options))
            .unwrap_or_default();
        h.update(b"vitrina-step-v1\0");
        h.update(&canonical);
        hex::encode(h.finalize())
    }
}

/// `PUT /config/v1/deployments/{uuid}/groups/{name}`: the steps of `ivkcs_agent_exec`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecGroupSpec {
    pub hosts: Vec<HostName>,
    pub steps: Vec<Step>,
}

/// A registered group: its revision grows with every `PUT`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecGroupView {
    pub name: String,
    pub revision: i64,
    pub hosts: Vec<HostName>,
    /// Step index → hash.
    pub hashes: BTreeMap<i64, String>,
}

/// Status of a step, a host's group, or an agent, as VK names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Running,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Running => "running",
            Status::Failed => "failed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ok" => Some(Status::Ok),
            "running" => Some(Status::Running),
            "failed" => Some(Status::Failed),
            _ => None,
        }
    }
}

/// `POST /agent/v1/results`: what became of one step on the agent's host.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepReport {
    pub group: String,
    /// The group revision the step ran for.
    pub revision: i64,
    pub index: i64,
    pub hash: String,
    pub status: Status,
    /// The last attempt's exit code; `None` while running or when killed by a signal.
    pub exit_code: Option<i64>,
    pub attempt: u32,
    pub stdout_tail: String,
    pub stderr_tail: String,
    pub structured_result: Option<serde_json::Value>,
    /// Why it failed, in the agent's words (timeout, halt code, cwd missing …).
    pub message: Option<String>,
}

/// A stored step result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepResultView {
    pub host: HostName,
    pub group: String,
    pub revision: i64,
    pub index: i64,
    pub hash: String,
    pub status: Status,
    pub exit_code: Option<i64>,
    pub attempt: u32,
    pub stdout_tail: String,
    pub stderr_tail: String,
    pub structured_result: Option<serde_json::Value>,
    pub message: Option<String>,
    /// Unix time in milliseconds.
    pub updated_at: i64,
}

/// `GET …/groups/{name}/results`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupResultsView {
    pub name: String,
    pub revision: i64,
    pub hosts: Vec<HostGroupView>,
}

/// One host's progress through a group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostGroupView {
    pub host: HostName,
    /// `ok` when every step is done, `failed` when one failed in this revision, else `running`.
    pub status: Status,
    /// The results that count for the current steps, in index order.
    pub steps: Vec<StepResultView>,
}

/// `PUT …/hosts/{host}/agent`: the agent's token for `ivkcs_user_data`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentCredentials {
    pub deployment: DeploymentId,
    pub host: HostName,
    pub token: Secret,
    /// The config service's URL as VMs reach it, when it differs from the URL the engine uses
    /// (the built-in cloud's VMs reach the machine through their router, not at 127.0.0.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_url: Option<String>,
}

/// `GET …/hosts/{host}`: what the config service knows of a host's agent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostView {
    pub host: HostName,
    pub registered: bool,
    /// The agent's last reported status.
    pub status: Option<Status>,
    pub reason: Option<String>,
    /// Unix time in milliseconds.
    pub last_heartbeat: Option<i64>,
    /// Set when the host counts as failed, with the reason (auto-recovery replaces it).
    pub failed: Option<String>,
    /// How many times the host has been found failed; grows by one per failure, so a
    /// replacement triggered by it happens once.
    #[serde(default)]
    pub failure_epoch: i64,
}

/// One health check.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "snake_case")]
pub enum CheckKind {
    Port {
        host: String,
        port: u16,
    },
    Http {
        protocol: String,
        method: String,
        host: String,
        path: Option<String>,
        port: Option<u16>,
        http_codes: Vec<u16>,
        url: Option<String>,
    },
    Script {
        #[serde(rename = "type")]
        kind: ScriptType,
        script: Secret,
        #[serde(default)]
        options: StepOptions,
    },
}

impl CheckKind {
    /// The URL an `http_health` check requests: `url` wins over host, port and path.
    pub fn http_url(&self) -> Option<String> {
        let CheckKind::Http {
            protocol,
            host,
            path,
            port,
            url,
            ..
        } = self
        else {
            return None;
        };
        if let Some(url) = url.as_deref().filter(|u| !u.is_empty()) {
            return Some(url.to_owned());
        }
        let mut out = format!("{protocol}://{host}");
        if let Some(port) = port {
            out.push_str(&format!(":{port}"));
        }
        let path = path.as_deref().unwrap_or("");
        if !path.starts_with('/') {
            out.push('/');
        }
        out.push_str(path);
        Some(out)
    }
}

/// A check with its period.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    pub check: CheckKind,
    pub period_ms: u64,
}

/// `PUT …/checks/{name}`: the checks of `ivkcs_agent_check`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckSetSpec {
    pub hosts: Vec<HostName>,
    pub checks: Vec<Check>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckSetView {
    pub name: String,
    pub revision: i64,
    pub hosts: Vec<HostName>,
}

/// `POST /agent/v1/checks`: one check's outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckReport {
    pub set: String,
    pub revision: i64,
    pub index: u32,
    pub healthy: bool,
    pub message: String,
}

/// The latest outcome of one check on one host.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckResultView {
    pub index: u32,
    pub healthy: bool,
    pub message: String,
    pub updated_at: i64,
    /// When it was last healthy (unix ms).
    pub last_healthy_at: Option<i64>,
}

/// `GET …/checks/{name}/results`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckResultsView {
    pub name: String,
    pub revision: i64,
    pub hosts: Vec<HostCheckView>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostCheckView {
    pub host: HostName,
    /// Every check of the set has reported healthy in its latest result of this revision.
    pub healthy: bool,
    pub checks: Vec<CheckResultView>,
}

/// `POST /agent/v1/register`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    pub version: String,
    /// The machine's own host name (for the operator; the token decides the host).
    pub hostname: String,
    /// Set when the agent before this one, in the same boot of the machine, ended without being
    /// asked to stop (killed or crashed) and its supervisor started this one: what the agent
    /// knows of it. The config service marks the host failed until a clean start (a reboot or
    /// a replaced VM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unexpected_restart: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterResponse {
    pub deployment: DeploymentId,
    pub host: HostName,
    /// How often to send a heartbeat.
    pub heartbeat_ms: u64,
}

/// `POST /agent/v1/heartbeat`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Heartbeat {
    pub status: Status,
    pub reason: Option<String>,
}

/// `GET /agent/v1/work`: everything meant for this host. `revision` grows with any change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Work {
    pub revision: i64,
    /// In the order they were first registered.
    pub groups: Vec<WorkGroup>,
    pub checks: Vec<WorkCheckSet>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkGroup {
    pub name: String,
    pub revision: i64,
    pub steps: Vec<WorkStep>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkStep {
    pub step: Step,
    pub hash: String,
    /// The config service already holds a result that makes this step done (`ok` with this
    /// hash, or any `ok` for a `once` step). The agent trusts its own journal for ordinary
    /// steps (a replaced host runs them again) and this flag for `once` steps.
    pub done: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkCheckSet {
    pub name: String,
    pub revision: i64,
    pub checks: Vec<Check>,
}

/// An error body: `{"error": "…"}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
}

/// Keeps the last `max` bytes of `text`, cut at a character boundary.
pub fn tail(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text[start..].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_changes_with_content_and_options_only() {
        let step = Step {
            index: 1,
            kind: ScriptType::Bash,
            content: Secret::new("echo hi"),
            options: StepOptions::default(),
        };
        let same = step.clone();
        assert_eq!(step.hash(), same.hash());
        let mut other = step.clone();
        other.content = Secret::new("echo ho");
        assert_ne!(step.hash(), other.hash());
        let mut opts = step.clone();
        opts.options.timeout_ms = 1;
        assert_ne!(step.hash(), opts.hash());
        assert_eq!(step.hash().len(), 64);
    }

    #[test]
    fn defaults_are_vks() {
        let o: StepOptions = serde_json::from_str("{}").expect("empty options");
        assert_eq!(o.exit_codes, vec![0, -1]);
        assert_eq!(o.halt_codes, vec![125]);
        assert_eq!(
            (o.stop_signal, o.stop_timeout_ms, o.timeout_ms),
            (15, 5000, 60000)
        );
        assert_eq!((o.attempts, o.attempt_pause_ms), (3, 5000));
        assert!(o.store_result && !o.once);
        assert!(o.is_success(0) && !o.is_success(-1) && !o.is_success(1));
        assert!(serde_json::from_str::<StepOptions>(r#"{"timout_ms":1}"#).is_err());
    }

    #[test]
    fn http_url_prefers_url() {
        let mut k = CheckKind::Http {
            protocol: "http".into(),
            method: "GET".into(),
            host: "10.0.0.5".into(),
            path: Some("healthz".into()),
            port: Some(8080),
            http_codes: vec![200],
            url: None,
        };
        assert_eq!(
            k.http_url().as_deref(),
            Some("http://10.0.0.5:8080/healthz")
        );
        if let CheckKind::Http { url, .. } = &mut k {
            *url = Some("https://x.example/ok".into());
        }
        assert_eq!(k.http_url().as_deref(), Some("https://x.example/ok"));
    }

    #[test]
    fn tail_cuts_at_a_char_boundary() {
        assert_eq!(tail("abc", 10), "abc");
        assert_eq!(tail("abcdef", 3), "def");
        assert_eq!(tail("aжb", 2), "b");
    }
}
