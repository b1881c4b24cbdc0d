//! Health checks: `port_health` (a TCP connect), `http_health` (a request whose status is one
//! of `http_codes`), `script_health` (a script whose exit code counts as success), each every
//! `period`, reported to the config service.

use std::time::Duration;

use vitrina_agent_api::wire::{Check, CheckKind, CheckReport};
use vitrina_agent_api::AgentClient;

use crate::runner::{run_once, Context};

/// Runs one check once: (healthy, message).
pub async fn probe(check: &Check, ctx: &Context<'_>, http: &reqwest::Client) -> (bool, String) {
    match &check.check {
        CheckKind::Port { host, port } => {
            let target = format!("{host}:{port}");
            match tokio::time::timeout(
                Duration::from_secs(5),
                tokio::net::TcpStream::connect(&target),
            )
            .await
            {
                Ok(Ok(_)) => (true, format!("{target} accepts connections")),
                Ok(Err(e)) => (false, format!("{target}: {e}")),
                Err(_) => (false, format!("{target}: no answer within 5s")),
            }
        }
        CheckKind::Http {
            method, http_codes, ..
        } => {
            let Some(url) = check.check.http_url() else {
                return (false, "no URL".into());
            };
            let Ok(method) = reqwest::Method::from_bytes(method.as_bytes()) else {
                return (false, format!("`{method}` is not an HTTP method"));
            };
            match http.request(method, &url).send().await {
                Ok(r) if http_codes.contains(&r.status().as_u16()) => {
                    (true, format!("{url}: {}", r.status()))
                }
                Ok(r) => (
                    false,
                    format!("{url}: {} is not in {http_codes:?}", r.status()),
                ),
                Err(e) => (false, format!("{url}: {e}")),
            }
        }
        CheckKind::Script {
            kind,
            script,
            options,
        } => {
            let a = run_once(ctx, *kind, script, options, &|_| {}).await;
            match (a.start_error, a.timed_out, a.exit_code) {
                (Some(e), _, _) => (false, e),
                (None, true, _) => (false, "timed out".into()),
                (None, false, Some(code)) if options.is_success(code) => {
                    (true, format!("exit code {code}"))
                }
                (None, false, Some(code)) => (false, format!("exit code {code}")),
                (None, false, None) => (false, "killed by a signal".into()),
            }
        }
    }
}

/// One check of one set, as the agent runs it.
pub struct CheckTask {
    pub set: String,
    pub revision: i64,
    pub index: u32,
    pub check: Check,
    pub deployment: String,
    pub host: String,
    pub scripts_dir: std::path::PathBuf,
}

/// Runs a check forever, every `period`, reporting each outcome.
pub async fn run_forever(client: AgentClient, task: CheckTask) {
    let CheckTask {
        set,
        revision,
        index,
        check,
        deployment,
        host,
        scripts_dir,
    } = task;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap_or_default();
    let name = format!("check-{}-{index}", crate::agent::file_key(&set));
    let period = Duration::from_millis(check.period_ms.max(1000));
    loop {
        let ctx = Context {
            deployment: &deployment,
            host: &host,
            scripts_dir: &scripts_dir,
            name: &name,
        };
        let (healthy, message) = probe(&check, &ctx, &http).await;
        let report = CheckReport {
            set: set.clone(),
            revision,
            index,
            healthy,
            message,
        };
        if let Err(e) = client.report_check(&report).await {
            crate::log(format!("check {index} of `{set}`: cannot report: {e}"));
        }
        tokio::time::sleep(period).await;
    }
}
