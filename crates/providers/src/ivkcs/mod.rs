//! The `ivkcs` provider (VK's iVK CS): agent scripts, health checks and host bootstrap through
//! the config service of `vitrina serve`, with VK's arguments (`../shared/spec/ivkcs.md`).
//!
//! | resource | does |
//! |---|---|
//! | `ivkcs_ssh_keypair` | an RSA key pair (`ssh-keygen`), never sent to the cloud |
//! | `ivkcs_user_data` | per-host cloud-config MIME: packages, CA certificates, SSH keys, `user_script`s, and the agent install with the host's token |
//! | `ivkcs_agent_init` (deprecated) | per-host bash script that installs the agent |
//! | `ivkcs_agent_exec` | registers an exec group; apply waits for every host's result |
//! | `ivkcs_agent_check` | registers health checks; apply waits for the first healthy report |
//! | `ivkcs_agent_status` (removed by VK, accepted) | the agent's status on one host |
//! | `ivkcs_s3` | a bucket and its key pair on the config service's S3-compatible store |
//! | `ivkcs_dns` | an A record `name.domain` on the config service's DNS server |
//! | `ivkcs_cert` | a certificate from the config service's local CA, written on the deployment's hosts by their agents, then the renewal hook run |
//! | `ivkcs_compute_instance_reboot` | reboots an instance (through the OpenStack cloud) and waits for `ACTIVE` |
//! | data `ivkcs_agent_script_result` | a step's `result` and `structured_result` |
//! | data `ivkcs_monitoring_user` | credentials and URL of the server's metrics intake (InfluxDB line protocol, as Telegraf sends) |
//!
//! It talks HTTP to the config service (`vitrina-agent-api`'s [`EngineClient`]) even when the
//! service runs in the same process: one tested path. The service and its token come from the
//! `provider "ivkcs"` block, else `VITRINA_CONFIG_SERVICE` / `VITRINA_CONFIG_TOKEN`.

mod cert;
mod exec;
mod keys;
mod reboot;
mod services;
mod user_data;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use vitrina_agent_api::wire::{Status, StepOptions};
use vitrina_agent_api::{ClientError, EngineClient};
use vitrina_common::{DeploymentId, HostName, Secret};
use vitrina_engine::provider::{
    ApplyError, AttrType, BoxFuture, ConfiguredProvider, CreateRequest, DeleteRequest, Provider,
    ProviderError, ProviderSchema, ReadDataRequest, ReadRequest, Schema, UpdateRequest,
};
use vitrina_engine::Value;

use crate::vkcs::util::{boolean, list_of_strings, number, o, s, string, vs};

/// The `ivkcs` provider as registered with the engine.
#[derive(Debug, Clone, Default)]
pub struct IvkcsProvider {
    explicit: Option<(String, Secret)>,
    /// The OpenStack cloud `ivkcs_compute_instance_reboot` uses; `None` reads this process's
    /// `OS_*` and clouds.yaml (`vitrina tf`).
    cloud: Option<vitrina_openstack::ConfigSource>,
}

impl IvkcsProvider {
    /// Reads `VITRINA_CONFIG_SERVICE` and `VITRINA_CONFIG_TOKEN` when configured.
    pub fn new() -> Self {
        IvkcsProvider {
            explicit: None,
            cloud: None,
        }
    }

    /// A fixed config service (servers and tests).
    pub fn with_service(url: impl Into<String>, token: Secret) -> Self {
        IvkcsProvider {
            explicit: Some((url.into(), token)),
            cloud: None,
        }
    }

    /// Everything given, nothing read from the process (servers): the config service and the
    /// OpenStack cloud of one run.
    pub fn for_run(
        url: impl Into<String>,
        token: Secret,
        cloud: vitrina_openstack::ConfigSource,
    ) -> Self {
        IvkcsProvider {
            explicit: Some((url.into(), token)),
            cloud: Some(cloud),
        }
    }
}

/// Every schema, built once.
pub fn provider_schema() -> &'static ProviderSchema {
    static SCHEMA: OnceLock<ProviderSchema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let mut p = ProviderSchema {
            provider: Schema::new()
                .attr(
                    "config_service",
                    o(string())
                        .describe("URL of the config service (default: `VITRINA_CONFIG_SERVICE`)"),
                )
                .attr(
                    "token",
                    o(string())
                        .sensitive()
                        .describe("the engine's token (default: `VITRINA_CONFIG_TOKEN`)"),
                ),
            ..ProviderSchema::default()
        };
        keys::schemas(&mut p);
        user_data::schemas(&mut p);
        exec::schemas(&mut p);
        reboot::schemas(&mut p);
        services::schemas(&mut p);
        cert::schemas(&mut p);
        p
    })
}

/// A step's or a script check's `options` block (VK's table 40).
pub(crate) fn options_schema() -> Schema {
    Schema::new()
        .attr("environment_variables", o(list_of_strings()))
        .attr("exit_codes", o(AttrType::list(number())))
        .attr("halt_codes", o(AttrType::list(number())))
        .attr("stop_signal", o(number()))
        .attr("stop_timeout", o(string()))
        .attr("cwd", o(string()))
        .attr("user", o(string()))
        .attr("group", o(string()))
        .attr("timeout", o(string()))
        .attr("attempts", o(number()))
        .attr("attempt_pause", o(string()))
        .attr("pause_before", o(string()))
        .attr("pause_after", o(string()))
        .attr("store_result", o(boolean()))
        .attr("structured_result_file", o(string()))
        .attr("once", o(boolean()))
}

fn duration_ms(v: &Value, name: &str, default: u64) -> Result<u64, ProviderError> {
    match s(v, name) {
        None => Ok(default),
        Some(text) => vitrina_engine::duration::parse_duration(&text)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .ok_or_else(|| {
                ProviderError::new(format!(
                    "`{name} = \"{text}\"` is not a duration (write `15s`, `1m`, `1h`)"
                ))
            }),
    }
}

fn ints(v: &Value, name: &str) -> Option<Vec<i64>> {
    v.get(name)
        .as_list()
        .map(|l| l.iter().filter_map(Value::as_i64).collect())
}

/// Reads an `options` block into VK's defaults.
pub(crate) fn step_options(v: &Value) -> Result<StepOptions, ProviderError> {
    let mut o = StepOptions::default();
    if v.is_null() {
        return Ok(o);
    }
    if let Some(list) = v.get("environment_variables").as_list() {
        o.environment_variables = list
            .iter()
            .filter_map(|x| x.as_str().map(Secret::new))
            .collect();
    }
    if let Some(codes) = ints(v, "exit_codes") {
        o.exit_codes = codes;
    }
    if let Some(codes) = ints(v, "halt_codes") {
        o.halt_codes = codes;
    }
    if let Some(sig) = v.get("stop_signal").as_i64() {
        o.stop_signal = i32::try_from(sig)
            .ok()
            .filter(|s| (1..=64).contains(s))
            .ok_or_else(|| {
                ProviderError::new(format!("`stop_signal = {sig}` is not a signal number"))
            })?;
    }
    o.stop_timeout_ms = duration_ms(v, "stop_timeout", o.stop_timeout_ms)?;
    o.timeout_ms = duration_ms(v, "timeout", o.timeout_ms)?;
    o.attempt_pause_ms = duration_ms(v, "attempt_pause", o.attempt_pause_ms)?;
    o.pause_before_ms = duration_ms(v, "pause_before", o.pause_before_ms)?;
    o.pause_after_ms = duration_ms(v, "pause_after", o.pause_after_ms)?;
    for (name, field) in [
        ("cwd", &mut o.cwd),
        ("user", &mut o.user),
        ("group", &mut o.group),
    ] {
        if let Some(x) = s(v, name) {
            *field = x;
        }
    }
    if let Some(n) = v.get("attempts").as_i64() {
        o.attempts = u32::try_from(n)
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| ProviderError::new(format!("`attempts = {n}` must be at least 1")))?;
    }
    if let Some(b) = v.get("store_result").as_bool() {
        o.store_result = b;
    }
    o.structured_result_file = s(v, "structured_result_file");
    if let Some(b) = v.get("once").as_bool() {
        o.once = b;
    }
    Ok(o)
}

/// A configured `ivkcs`.
#[derive(Clone)]
pub struct Ivkcs {
    client: Option<EngineClient>,
    cloud: Option<vitrina_openstack::ConfigSource>,
}

impl Ivkcs {
    pub(crate) fn client(&self) -> Result<&EngineClient, ProviderError> {
        self.client.as_ref().ok_or_else(|| {
            ProviderError::new(format!(
                "`ivkcs` needs the config service: set `{}` (URL) and `{}`, as `. DATA/demo.env` of `vitrina serve --demo` does, or `config_service` and `token` in `provider \"ivkcs\"`",
                vitrina_common::env::CONFIG_SERVICE,
                vitrina_common::env::CONFIG_TOKEN
            ))
        })
    }
}

impl Provider for IvkcsProvider {
    fn schema(&self) -> ProviderSchema {
        provider_schema().clone()
    }

    fn configure(
        &self,
        block: Value,
    ) -> BoxFuture<'_, Result<Arc<dyn ConfiguredProvider>, ProviderError>> {
        Box::pin(async move {
            let (url, token) = match (
                s(&block, "config_service"),
                s(&block, "token"),
                &self.explicit,
            ) {
                (Some(u), Some(t), _) => (Some(u), Some(Secret::new(t))),
                (u, t, Some((eu, et))) => (
                    u.or(Some(eu.clone())),
                    t.map(Secret::new).or(Some(et.clone())),
                ),
                (u, t, None) => (
                    u.or_else(|| std::env::var(vitrina_common::env::CONFIG_SERVICE).ok()),
                    t.map(Secret::new).or_else(|| {
                        std::env::var(vitrina_common::env::CONFIG_TOKEN)
                            .ok()
                            .map(Secret::new)
                    }),
                ),
            };
            let client = match (url, token) {
                (Some(url), Some(token)) if !url.is_empty() => Some(
                    EngineClient::new(&url, token)
                        .map_err(|e| ProviderError::with_source(e.to_string(), e))?,
                ),
                _ => None,
            };
            let p: Arc<dyn ConfiguredProvider> = Arc::new(Ivkcs {
                client,
                cloud: self.cloud.clone(),
            });
            Ok(p)
        })
    }
}

pub(crate) fn client_err(what: &str, e: ClientError) -> ProviderError {
    let kind = match &e {
        ClientError::Status {
            status, message, ..
        } => vitrina_engine::ErrorKind::from_http_status(status.as_u16(), Some(message)),
        ClientError::Transport { .. } | ClientError::Decode { .. } => {
            vitrina_engine::ErrorKind::Transient
        }
        ClientError::BadUrl(_) => vitrina_engine::ErrorKind::Invalid,
    };
    ProviderError::with_source(format!("{what}: {e}"), e).with_kind(kind)
}

pub(crate) fn deployment(v: &Value) -> Result<DeploymentId, ProviderError> {
    let text = s(v, "uuid").ok_or_else(|| ProviderError::new("`uuid` is required"))?;
    text.parse()
        .map_err(|e: vitrina_common::IdError| ProviderError::new(format!("`uuid`: {e}")))
}

pub(crate) fn host_names(v: &Value, name: &str) -> Result<Vec<HostName>, ProviderError> {
    let list = v
        .get(name)
        .as_list()
        .ok_or_else(|| ProviderError::new(format!("`{name}` is required")))?;
    list.iter()
        .map(|x| {
            x.as_str()
                .unwrap_or_default()
                .parse()
                .map_err(|e: vitrina_common::IdError| ProviderError::new(format!("`{name}`: {e}")))
        })
        .collect()
}

fn unknown_type(kind: &str, t: &str) -> ProviderError {
    ProviderError::new(format!("`ivkcs` has no {kind} `{t}`"))
}

impl ConfiguredProvider for Ivkcs {
    fn create(&self, req: CreateRequest) -> BoxFuture<'_, Result<Value, ApplyError>> {
        Box::pin(async move {
            match req.type_name.as_str() {
                "ivkcs_ssh_keypair" => keys::create_keypair(&req).await.map_err(ApplyError::from),
                "ivkcs_user_data" => user_data::create_user_data(self, &req.config)
                    .await
                    .map_err(ApplyError::from),
                "ivkcs_agent_init" => user_data::create_agent_init(self, &req.config)
                    .await
                    .map_err(ApplyError::from),
                "ivkcs_agent_exec" => exec::apply_exec(self, &req.config, req.timeout).await,
                "ivkcs_agent_check" => {
                    exec::apply_check(self, &req.config, &req.token, req.timeout).await
                }
                "ivkcs_agent_status" => exec::read_status(self, &req.config)
                    .await
                    .map_err(ApplyError::from),
                "ivkcs_compute_instance_reboot" => {
                    reboot::reboot(self.cloud.as_ref(), &req.config, req.timeout)
                        .await
                        .map_err(ApplyError::from)
                }
                "ivkcs_s3" => services::apply_s3(self, &req.config)
                    .await
                    .map_err(ApplyError::from),
                "ivkcs_dns" => services::apply_dns(self, &req.config)
                    .await
                    .map_err(ApplyError::from),
                "ivkcs_cert" => cert::apply_cert(self, &req.config, req.timeout).await,
                t => Err(unknown_type("resource", t).into()),
            }
        })
    }

    fn read(&self, req: ReadRequest) -> BoxFuture<'_, Result<Option<Value>, ProviderError>> {
        Box::pin(async move {
            match req.type_name.as_str() {
                "ivkcs_agent_status" => exec::read_status(self, &req.prior).await.map(Some),
                _ => Ok(Some(req.prior)),
            }
        })
    }

    fn update(&self, req: UpdateRequest) -> BoxFuture<'_, Result<Value, ApplyError>> {
        Box::pin(async move {
            match req.type_name.as_str() {
                "ivkcs_agent_exec" => exec::apply_exec(self, &req.config, req.timeout).await,
                "ivkcs_agent_check" => {
                    let name = s(&req.prior, "id").unwrap_or_default();
                    exec::apply_check(self, &req.config, &name, req.timeout).await
                }
                "ivkcs_user_data" => user_data::create_user_data(self, &req.config)
                    .await
                    .map_err(ApplyError::from),
                "ivkcs_agent_init" => user_data::create_agent_init(self, &req.config)
                    .await
                    .map_err(ApplyError::from),
                "ivkcs_agent_status" => exec::read_status(self, &req.config)
                    .await
                    .map_err(ApplyError::from),
                "ivkcs_s3" => services::apply_s3(self, &req.config)
                    .await
                    .map_err(ApplyError::from),
                "ivkcs_dns" => services::apply_dns(self, &req.config)
                    .await
                    .map_err(ApplyError::from),
                "ivkcs_cert" => cert::apply_cert(self, &req.config, req.timeout).await,
                // `instance` changed: reboot the new one.
                "ivkcs_compute_instance_reboot" => {
                    reboot::reboot(self.cloud.as_ref(), &req.config, req.timeout)
                        .await
                        .map_err(ApplyError::from)
                }
                _ => {
                    let mut v = req.planned.clone();
                    if let Value::Map(m) = &mut v {
                        for (k, x) in m.iter_mut() {
                            if x.is_unknown() {
                                *x = req.prior.get(k).clone();
                            }
                        }
                    }
                    Ok(v)
                }
            }
        })
    }

    fn delete(&self, req: DeleteRequest) -> BoxFuture<'_, Result<(), ApplyError>> {
        Box::pin(async move {
            match req.type_name.as_str() {
                "ivkcs_agent_exec" => exec::delete_exec(self, &req.prior)
                    .await
                    .map_err(ApplyError::from),
                "ivkcs_agent_check" => exec::delete_check(self, &req.prior)
                    .await
                    .map_err(ApplyError::from),
                "ivkcs_s3" => services::delete_s3(self, &req.prior)
                    .await
                    .map_err(ApplyError::from),
                "ivkcs_dns" => services::delete_dns(self, &req.prior)
                    .await
                    .map_err(ApplyError::from),
                "ivkcs_cert" => cert::delete_cert(self, &req.prior)
                    .await
                    .map_err(ApplyError::from),
                _ => Ok(()),
            }
        })
    }

    fn read_data(&self, req: ReadDataRequest) -> BoxFuture<'_, Result<Value, ProviderError>> {
        Box::pin(async move {
            match req.type_name.as_str() {
                "ivkcs_agent_script_result" => exec::script_result(self, &req.config).await,
                "ivkcs_monitoring_user" => services::monitoring_user(self, &req.config).await,
                t => Err(unknown_type("data source", t)),
            }
        })
    }
}

/// Polls until `done` says so or `timeout` passes, every `every`.
pub(crate) async fn poll_until<T, F, Fut>(
    timeout: Duration,
    every: Duration,
    mut step: F,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>, ProviderError>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(t) = step().await? {
            return Ok(t);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ProviderError::new(format!(
                "not done within {}",
                vitrina_engine::duration::format_duration(timeout)
            )));
        }
        tokio::time::sleep(every).await;
    }
}

pub(crate) fn status_str(s: Status) -> Value {
    vs(s.as_str())
}
