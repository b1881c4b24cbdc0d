//! `ivkcs_agent_exec`, `ivkcs_agent_check`, `ivkcs_agent_status` and data
//! `ivkcs_agent_script_result`.

use std::time::Duration;

use sha2::Digest as _;
use vitrina_agent_api::wire::*;
use vitrina_common::{HostName, Secret};
use vitrina_engine::provider::{
    ApplyError, AttrType, Nesting, ProviderError, ProviderSchema, Schema,
};
use vitrina_engine::Value;

use super::{
    client_err, deployment, duration_ms, host_names, options_schema, poll_until, status_str,
    step_options, Ivkcs,
};
use crate::vkcs::util::{blocks, c, list_of_strings, number, o, r, s, string, vs};

/// `timeouts.create` when a manifest sets none.
const DEFAULT_EXEC_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// VK: the health-check timeout is 5 minutes and cannot be changed in Terraform.
const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// How much of a failed step's output goes into the error.
const ERROR_TAIL: usize = 2000;

pub(super) fn schemas(p: &mut ProviderSchema) {
    let step = Schema::new()
        .attr("index", r(number()))
        .attr("type", r(string()))
        .attr("content", r(string()).force_new())
        .block_force_new("options", Nesting::Single, options_schema());
    p.resources.insert(
        "ivkcs_agent_exec".into(),
        Schema::new()
            .attr("uuid", r(string()))
            .attr("name", r(string()))
            .attr("hosts", r(list_of_strings()))
            .block("step", Nesting::List, step)
            .attr("hash", c(string()))
            .attr("id", c(string())),
    );
    let port = Schema::new()
        .attr("host", r(string()))
        .attr("port", r(number()))
        .attr("period", r(string()));
    let http = Schema::new()
        .attr("protocol", r(string()))
        .attr("method", r(string()))
        .attr("host", r(string()))
        .attr("path", o(string()))
        .attr("port", o(number()))
        .attr("period", r(string()))
        .attr("http_codes", r(AttrType::list(number())))
        .attr("url", o(string()));
    let script = Schema::new()
        .attr("type", r(string()))
        .attr("script", r(string()))
        .attr("period", o(string()))
        .block("options", Nesting::Single, options_schema());
    p.resources.insert(
        "ivkcs_agent_check".into(),
        Schema::new()
            .attr("uuid", r(string()).force_new())
            .attr("hosts", r(list_of_strings()).force_new())
            .block_force_new("port_health", Nesting::List, port)
            .block_force_new("http_health", Nesting::List, http)
            .block_force_new("script_health", Nesting::List, script)
            .attr("hash", c(string()))
            .attr("id", c(string())),
    );
    p.resources.insert(
        "ivkcs_agent_status".into(),
        Schema {
            description: "removed by VK on 24.04.24; accepted for older packages".into(),
            deprecated: Some("VK removed `ivkcs_agent_status` on 24.04.24; vitrina still accepts it for older packages (its auto-recovery chain works), but VK Cloud will refuse it".into()),
            ..Schema::new()
                .attr("uuid", r(string()))
                .attr("host", r(string()))
                .attr("status", c(string()))
                .attr("id", c(string()))
        },
    );
    p.data_sources.insert(
        "ivkcs_agent_script_result".into(),
        Schema::new()
            .attr("uuid", r(string()))
            .attr("host", r(string()))
            .attr("group", r(string()))
            .attr("index", r(number()))
            .attr("result", c(string()))
            .attr("structured_result", c(AttrType::Dynamic))
            .attr("id", c(string())),
    );
}

fn exec_spec(v: &Value) -> Result<ExecGroupSpec, ProviderError> {
    let hosts = host_names(v, "hosts")?;
    let mut steps = Vec::new();
    for b in blocks(v, "step") {
        let index = b
            .get("index")
            .as_i64()
            .ok_or_else(|| ProviderError::new("`step.index` must be a whole number"))?;
        let kind_text = s(b, "type").unwrap_or_default();
        let kind = ScriptType::parse(&kind_text).ok_or_else(|| {
            ProviderError::new(format!(
                "step {index}: `type = \"{kind_text}\"` must be `bash` or `python`"
            ))
        })?;
        steps.push(Step {
            index,
            kind,
            content: Secret::new(b.get("content").as_str().unwrap_or_default()),
            options: step_options(b.get("options"))
                .map_err(|e| ProviderError::new(format!("step {index}: {}", e.message)))?,
        });
    }
    if steps.is_empty() {
        return Err(ProviderError::new(
            "`ivkcs_agent_exec` needs at least one `step`",
        ));
    }
    Ok(ExecGroupSpec { hosts, steps })
}

fn combined_hash(hashes: impl IntoIterator<Item = String>) -> String {
    let mut h = sha2::Sha256::new();
    for x in hashes {
        h.update(x.as_bytes());
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

/// Values of the steps' `environment_variables` (often secrets): hidden in error messages.
fn secret_values(spec: &ExecGroupSpec) -> Vec<String> {
    spec.steps
        .iter()
        .flat_map(|s| s.options.environment_variables.iter())
        .filter_map(|kv| kv.expose().split_once('=').map(|(_, v)| v.to_owned()))
        .filter(|v| v.len() >= 4)
        .collect()
}

fn redact(mut text: String, secrets: &[String]) -> String {
    for s in secrets {
        text = text.replace(s.as_str(), "<redacted>");
    }
    text
}

pub(super) fn failure_message(host: &HostName, r: &StepResultView) -> String {
    let mut m = format!(
        "step {} of `{}` failed on host `{host}`: {}",
        r.index,
        r.group,
        r.message.as_deref().unwrap_or("failed")
    );
    if let Some(code) = r.exit_code {
        m.push_str(&format!(" (exit code {code})"));
    }
    for (name, text) in [("stdout", &r.stdout_tail), ("stderr", &r.stderr_tail)] {
        let t = tail(text.trim_end(), ERROR_TAIL);
        if !t.is_empty() {
            m.push_str(&format!("\n--- {name} (last lines) ---\n{t}"));
        }
    }
    m
}

/// Registers the group and waits for every host's result.
pub(super) async fn apply_exec(
    p: &Ivkcs,
    v: &Value,
    timeout: Option<Duration>,
) -> Result<Value, ApplyError> {
    let client = p.client()?;
    let d = deployment(v)?;
    let name = s(v, "name").ok_or_else(|| ProviderError::new("`name` is required"))?;
    let spec = exec_spec(v)?;
    let view = client
        .put_group(&d, &name, &spec)
        .await
        .map_err(|e| client_err("cannot register the exec group", e))?;
    let mut out = v.clone();
    out.set("hash", vs(combined_hash(view.hashes.values().cloned())));
    out.set("id", vs(format!("{d}/{name}")));
    let timeout = timeout.unwrap_or(DEFAULT_EXEC_TIMEOUT);
    let secrets = secret_values(&spec);
    let waited = poll_until(timeout, Duration::from_millis(250), || async {
        let r = client
            .group_results(&d, &name)
            .await
            .map_err(|e| client_err("cannot read the results", e))?;
        for h in &r.hosts {
            if let Some(failed) = h.steps.iter().find(|s| s.status == Status::Failed) {
                return Err(ProviderError::new(redact(
                    failure_message(&h.host, failed),
                    &secrets,
                )));
            }
        }
        Ok(r.hosts.iter().all(|h| h.status == Status::Ok).then_some(()))
    })
    .await;
    match waited {
        Ok(()) => Ok(out),
        Err(e) => {
            let message = if e.message.starts_with("not done within") {
                let pending = match client.group_results(&d, &name).await {
                    Ok(r) => r
                        .hosts
                        .iter()
                        .filter(|h| h.status != Status::Ok)
                        .map(|h| h.host.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                    Err(_) => String::from("unknown"),
                };
                format!(
                    "exec group `{name}`: {} (hosts without a result: {pending})",
                    e.message
                )
            } else {
                e.message
            };
            // The group stays registered: the resource is tainted and the next apply replaces it.
            Err(ApplyError {
                error: ProviderError::new(message),
                partial: Some(out),
            })
        }
    }
}

pub(super) async fn delete_exec(p: &Ivkcs, prior: &Value) -> Result<(), ProviderError> {
    let client = p.client()?;
    let d = deployment(prior)?;
    let name = s(prior, "name").unwrap_or_default();
    match client.delete_group(&d, &name).await {
        Ok(()) => Ok(()),
        Err(e) if e.status().map(|s| s.as_u16()) == Some(404) => Ok(()),
        Err(e) => Err(client_err("cannot delete the exec group", e)),
    }
}

fn check_spec(v: &Value) -> Result<CheckSetSpec, ProviderError> {
    let hosts = host_names(v, "hosts")?;
    let mut checks = Vec::new();
    let port = |b: &Value, name: &str| -> Result<Option<u16>, ProviderError> {
        match b.get(name).as_i64() {
            None => Ok(None),
            Some(n) => u16::try_from(n)
                .ok()
                .filter(|p| *p > 0)
                .map(Some)
                .ok_or_else(|| ProviderError::new(format!("`{name} = {n}` is not a TCP port"))),
        }
    };
    for b in blocks(v, "port_health") {
        checks.push(Check {
            check: CheckKind::Port {
                host: s(b, "host").unwrap_or_default(),
                port: port(b, "port")?
                    .ok_or_else(|| ProviderError::new("`port_health.port` is required"))?,
            },
            period_ms: duration_ms(b, "period", 60_000)?,
        });
    }
    for b in blocks(v, "http_health") {
        let protocol = s(b, "protocol").unwrap_or_default();
        if !matches!(protocol.as_str(), "http" | "https") {
            return Err(ProviderError::new(format!(
                "`protocol = \"{protocol}\"` must be `http` or `https`"
            )));
        }
        let method = s(b, "method").unwrap_or_default();
        if !matches!(
            method.as_str(),
            "GET" | "POST" | "PUT" | "DELETE" | "OPTIONS"
        ) {
            return Err(ProviderError::new(format!(
                "`method = \"{method}\"` must be GET, POST, PUT, DELETE or OPTIONS"
            )));
        }
        let codes = b
            .get("http_codes")
            .as_list()
            .map(|l| {
                l.iter()
                    .filter_map(|x| x.as_i64().and_then(|n| u16::try_from(n).ok()))
                    .collect()
            })
            .unwrap_or_default();
        checks.push(Check {
            check: CheckKind::Http {
                protocol,
                method,
                host: s(b, "host").unwrap_or_default(),
                path: s(b, "path"),
                port: port(b, "port")?,
                http_codes: codes,
                url: s(b, "url"),
            },
            period_ms: duration_ms(b, "period", 60_000)?,
        });
    }
    for b in blocks(v, "script_health") {
        let kind_text = s(b, "type").unwrap_or_default();
        let kind = ScriptType::parse(&kind_text).ok_or_else(|| {
            ProviderError::new(format!(
                "`type = \"{kind_text}\"` must be `bash` or `python`"
            ))
        })?;
        checks.push(Check {
            check: CheckKind::Script {
                kind,
                script: Secret::new(b.get("script").as_str().unwrap_or_default()),
                options: step_options(b.get("options"))?,
            },
            period_ms: duration_ms(b, "period", 60_000)?,
        });
    }
    if checks.is_empty() {
        return Err(ProviderError::new(
            "`ivkcs_agent_check` needs a `port_health`, `http_health` or `script_health` block",
        ));
    }
    Ok(CheckSetSpec { hosts, checks })
}

/// Registers the checks (as set `name`) and waits for every host's first healthy report.
pub(super) async fn apply_check(
    p: &Ivkcs,
    v: &Value,
    name: &str,
    timeout: Option<Duration>,
) -> Result<Value, ApplyError> {
    let client = p.client()?;
    let d = deployment(v)?;
    let spec = check_spec(v)?;
    let name = if name.is_empty() { "checks" } else { name };
    let view = client
        .put_checks(&d, name, &spec)
        .await
        .map_err(|e| client_err("cannot register the checks", e))?;
    let mut out = v.clone();
    out.set("id", vs(name));
    let spec_json = serde_json::to_string(
        &spec
            .checks
            .iter()
            .map(|c| format!("{c:?}"))
            .collect::<Vec<_>>(),
    )
    .unwrap_or_default();
    out.set(
        "hash",
        vs(combined_hash([spec_json, view.revision.to_string()])),
    );
    let timeout = timeout.unwrap_or(DEFAULT_CHECK_TIMEOUT);
    let deadline = tokio::time::Instant::now() + timeout;
    let mut last: Option<CheckResultsView>;
    let waited: Result<(), ProviderError> = loop {
        let r = client
            .check_results(&d, name)
            .await
            .map_err(|e| client_err("cannot read the check results", e))?;
        let done = r.hosts.iter().all(|h| h.healthy);
        last = Some(r);
        if done {
            break Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            break Err(ProviderError::new(format!(
                "no healthy report within {}",
                vitrina_engine::duration::format_duration(timeout)
            )));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    match waited {
        Ok(()) => Ok(out),
        Err(e) => {
            let detail = last
                .take()
                .map(|r| {
                    r.hosts
                        .iter()
                        .filter(|h| !h.healthy)
                        .map(|h| {
                            let why = h
                                .checks
                                .iter()
                                .filter(|c| !c.healthy)
                                .map(|c| format!("check {}: {}", c.index, c.message))
                                .collect::<Vec<_>>()
                                .join("; ");
                            format!(
                                "{} ({})",
                                h.host,
                                if why.is_empty() {
                                    "no report yet".into()
                                } else {
                                    why
                                }
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            Err(ApplyError {
                error: ProviderError::new(format!(
                    "health checks: {}; unhealthy: {detail}",
                    e.message
                )),
                partial: Some(out),
            })
        }
    }
}

pub(super) async fn delete_check(p: &Ivkcs, prior: &Value) -> Result<(), ProviderError> {
    let client = p.client()?;
    let d = deployment(prior)?;
    let name = s(prior, "id").unwrap_or_default();
    match client.delete_checks(&d, &name).await {
        Ok(()) => Ok(()),
        Err(e) if e.status().map(|s| s.as_u16()) == Some(404) => Ok(()),
        Err(e) => Err(client_err("cannot delete the checks", e)),
    }
}

/// `ivkcs_agent_status`: `ok`, `running` or `failed` (failed also when the config service
/// counts the host as failed).
pub(super) async fn read_status(p: &Ivkcs, v: &Value) -> Result<Value, ProviderError> {
    let client = p.client()?;
    let d = deployment(v)?;
    let host_text = s(v, "host").unwrap_or_default();
    let host: HostName = host_text
        .parse()
        .map_err(|e: vitrina_common::IdError| ProviderError::new(format!("`host`: {e}")))?;
    let (status, epoch) = match client.host(&d, &host).await {
        Ok(h) if h.failed.is_some() => (Status::Failed, h.failure_epoch),
        Ok(h) => (h.status.unwrap_or(Status::Running), h.failure_epoch),
        Err(e) if e.status().map(|s| s.as_u16()) == Some(404) => (Status::Running, 0),
        Err(e) => return Err(client_err("cannot read the agent's status", e)),
    };
    let mut out = v.clone();
    out.set("status", status_str(status));
    // The id changes with each new failure of the host (and only then): passed through
    // `null_resource.triggers` into `replace_triggered_by`, it replaces the host's VM once.
    out.set("id", vs(format!("{d}/{host}/{epoch}")));
    Ok(out)
}

pub(super) async fn script_result(p: &Ivkcs, v: &Value) -> Result<Value, ProviderError> {
    let client = p.client()?;
    let d = deployment(v)?;
    let host_text = s(v, "host").unwrap_or_default();
    let host: HostName = host_text
        .parse()
        .map_err(|e: vitrina_common::IdError| ProviderError::new(format!("`host`: {e}")))?;
    let group = s(v, "group").unwrap_or_default();
    let index = v
        .get("index")
        .as_i64()
        .ok_or_else(|| ProviderError::new("`index` must be a whole number"))?;
    let r = client
        .step_result(&d, &host, &group, index)
        .await
        .map_err(|e| {
            client_err(
                &format!("no result of step {index} of `{group}` on `{host}`"),
                e,
            )
        })?;
    let mut out = v.clone();
    out.set("result", vs(r.stdout_tail));
    out.set(
        "structured_result",
        r.structured_result
            .as_ref()
            .map(Value::from_json)
            .unwrap_or(Value::Null),
    );
    out.set("id", vs(format!("{d}/{host}/{group}/{index}")));
    Ok(out)
}
