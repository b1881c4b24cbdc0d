//! The `ivkcs` provider's resource types and data sources, declared as data
//! ([`vitrina_hcl::schema`]) from `shared/spec/ivkcs.md` (VK's documentation): the provider
//! itself is not implemented yet, but manifests that use it are checked against these schemas
//! by `vitrina package validate`.

use vitrina_hcl::schema::{AttrSpec, BodySpec, Nesting, ProviderSpec};
use vitrina_hcl::Type;

fn req(t: Type) -> AttrSpec {
    AttrSpec::required(t)
}
fn opt(t: Type) -> AttrSpec {
    AttrSpec::optional(t)
}
fn out(t: Type) -> AttrSpec {
    AttrSpec::computed(t)
}
fn strings() -> Type {
    Type::list(Type::String)
}
fn numbers() -> Type {
    Type::list(Type::Number)
}
/// Every resource and data source has a computed `id`.
fn body() -> BodySpec {
    BodySpec::new().attr("id", out(Type::String))
}

/// `options { … }` of an `ivkcs_agent_exec` step.
fn step_options() -> BodySpec {
    BodySpec::new()
        .attr("environment_variables", opt(strings()))
        .attr("exit_codes", opt(numbers()))
        .attr("halt_codes", opt(numbers()))
        .attr("stop_signal", opt(Type::Number))
        .attr("stop_timeout", opt(Type::String))
        .attr("cwd", opt(Type::String))
        .attr("user", opt(Type::String))
        .attr("group", opt(Type::String))
        .attr("timeout", opt(Type::String))
        .attr("attempts", opt(Type::Number))
        .attr("attempt_pause", opt(Type::String))
        .attr("pause_before", opt(Type::String))
        .attr("pause_after", opt(Type::String))
        .attr("store_result", opt(Type::Bool))
        .attr("structured_result_file", opt(Type::String))
        .attr("once", opt(Type::Bool))
}

/// The `ivkcs` schemas as data.
#[allow(clippy::too_many_lines)]
pub fn ivkcs_schema() -> ProviderSpec {
    let mut p = ProviderSpec::default();
    let mut r = |name: &str, b: BodySpec| {
        p.resources.insert(name.to_owned(), b);
    };
    r(
        "ivkcs_ssh_keypair",
        body()
            .attr("bit_size", opt(Type::Number))
            .attr("public_key", out(Type::String))
            .attr("private_key", out(Type::String)),
    );
    r(
        "ivkcs_user_data",
        body()
            .attr("uuid", req(Type::String))
            .attr("hosts", req(strings()))
            .attr("target_os", req(Type::String))
            .attr("ssh_private_key", opt(Type::String))
            .attr("ssh_public_key", opt(Type::String))
            .attr("ssh_authorized_keys", opt(strings()))
            .attr("ca_certificates", opt(strings()))
            .attr("agent_install", opt(Type::Bool))
            .attr("agent_memory_limit", opt(Type::Number))
            .attr("token_file_path", opt(Type::String))
            .attr("token_rotate", opt(Type::Bool))
            .attr("token_file_owner", opt(Type::String))
            .attr("token_file_group", opt(Type::String))
            .attr("user_data", out(strings()))
            .block(
                "packages",
                Nesting::List,
                BodySpec::new()
                    .attr("name", req(Type::String))
                    .attr("version", req(Type::String)),
            )
            .block(
                "user_script",
                Nesting::List,
                BodySpec::new()
                    .attr("name", opt(Type::String))
                    .attr("content_type", opt(Type::String))
                    .attr("content", opt(Type::String)),
            ),
    );
    r(
        "ivkcs_agent_init",
        body()
            .attr("uuid", req(Type::String))
            .attr("hosts", req(strings()))
            .attr("agent", out(strings()))
            .block(
                "options",
                Nesting::Single,
                BodySpec::new().attr("memory_limit", opt(Type::Number)),
            ),
    );
    r(
        "ivkcs_agent_exec",
        body()
            .attr("uuid", req(Type::String))
            .attr("name", req(Type::String))
            .attr("hosts", req(strings()))
            .block_items(
                "step",
                Nesting::List,
                1,
                None,
                BodySpec::new()
                    .attr("index", req(Type::Number))
                    .attr("type", req(Type::String))
                    .attr("content", req(Type::String))
                    .attr("hash", out(Type::String))
                    .block("options", Nesting::Single, step_options()),
            ),
    );
    // `script_health.options` is documented without its shape: accepted as an argument or a
    // block of anything.
    let script_options = BodySpec::new()
        .attr("timeout", opt(Type::String))
        .attr("cwd", opt(Type::String))
        .attr("user", opt(Type::String))
        .attr("group", opt(Type::String))
        .attr("environment_variables", opt(strings()));
    r(
        "ivkcs_agent_check",
        body()
            .attr("uuid", req(Type::String))
            .attr("hosts", req(strings()))
            .attr("hash", out(Type::String))
            .block(
                "port_health",
                Nesting::List,
                BodySpec::new()
                    .attr("host", req(Type::String))
                    .attr("port", req(Type::Number))
                    .attr("period", req(Type::String)),
            )
            .block(
                "http_health",
                Nesting::List,
                BodySpec::new()
                    .attr("protocol", req(Type::String))
                    .attr("method", req(Type::String))
                    .attr("host", req(Type::String))
                    .attr("path", opt(Type::String))
                    .attr("port", opt(Type::Number))
                    .attr("period", req(Type::String))
                    .attr("http_codes", req(numbers()))
                    .attr("url", opt(Type::String)),
            )
            .block(
                "script_health",
                Nesting::List,
                BodySpec::new()
                    .attr("type", req(Type::String))
                    .attr("script", req(Type::String))
                    .attr("options", opt(Type::Dynamic))
                    .block("options", Nesting::Single, script_options),
            ),
    );
    r(
        "ivkcs_s3",
        body()
            .attr("name", req(Type::String))
            .attr("access", out(Type::String))
            .attr("secret", out(Type::String)),
    );
    r(
        "ivkcs_dns",
        body()
            .attr("name", req(Type::String))
            .attr("domain", req(Type::String))
            .attr("ip", req(Type::String)),
    );
    r(
        "ivkcs_compute_instance_reboot",
        body().attr("instance", req(Type::String)),
    );
    r(
        "ivkcs_cert",
        body()
            .attr("uuid", req(Type::String))
            .attr("domain", req(Type::String))
            .attr("path_cert", req(Type::String))
            .attr("renewal_hook_path", req(Type::String))
            .attr("cert_files_owner", opt(Type::String))
            .attr("cert_files_group", opt(Type::String))
            .attr("cert", out(Type::String))
            .attr("key", out(Type::String))
            .block(
                "timeouts",
                Nesting::Single,
                BodySpec::new()
                    .attr("create", opt(Type::String))
                    .attr("update", opt(Type::String))
                    .attr("delete", opt(Type::String)),
            ),
    );
    r(
        "ivkcs_agent_status",
        body()
            .attr("uuid", opt(Type::String))
            .attr("host", opt(Type::String))
            .attr("status", out(Type::String)),
    );
    p.data_sources.insert(
        "ivkcs_agent_script_result".to_owned(),
        body()
            .attr("uuid", req(Type::String))
            .attr("host", req(Type::String))
            .attr("group", req(Type::String))
            .attr("index", req(Type::Number))
            .attr("result", out(Type::String))
            .attr("structured_result", out(Type::String)),
    );
    p.data_sources.insert(
        "ivkcs_monitoring_user".to_owned(),
        body()
            .attr("user_id", out(Type::String))
            .attr("password", out(Type::String))
            .attr("project_id", out(Type::String))
            .attr("auth_url", out(Type::String))
            .attr("namespace", out(Type::String))
            .attr("endpoint", out(Type::String)),
    );
    p
}
