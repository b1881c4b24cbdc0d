//! `ivkcs_s3` (a bucket and its key pair on the config service's object store) and `ivkcs_dns`
//! (an A record on its DNS server). On `vitrina serve` both are `localcloud`'s: the store is
//! S3-compatible (path-style, SigV4) and the DNS server answers VMs at the machine's ext-net
//! address. vitrina adds the computed `endpoint` (and `vm_endpoint`) to `ivkcs_s3`: VK's store
//! has one fixed URL, a local one has not.

use vitrina_agent_api::services::DnsRecordSpec;
use vitrina_engine::provider::{ProviderError, ProviderSchema, Schema};
use vitrina_engine::Value;

use super::{client_err, Ivkcs};
use crate::vkcs::util::{c, list_of_strings, r, s, string, vs};

pub(super) fn schemas(p: &mut ProviderSchema) {
    p.resources.insert(
        "ivkcs_s3".into(),
        Schema::new()
            .attr("name", r(string()).force_new())
            .attr("access", c(string()))
            .attr("secret", c(string()).sensitive())
            .attr("endpoint", c(string()))
            .attr("vm_endpoint", c(string()))
            .attr("id", c(string())),
    );
    p.resources.insert(
        "ivkcs_dns".into(),
        Schema::new()
            .attr("name", r(string()).force_new())
            .attr("domain", r(string()).force_new())
            .attr("ip", r(string()))
            .attr("fqdn", c(string()))
            .attr("servers", c(list_of_strings()))
            .attr("id", c(string())),
    );
    p.data_sources.insert(
        "ivkcs_monitoring_user".into(),
        Schema::new()
            .attr("user_id", c(string()))
            .attr("password", c(string()).sensitive())
            .attr("project_id", c(string()))
            .attr("auth_url", c(string()))
            .attr("namespace", c(string()))
            .attr("endpoint", c(string()))
            .attr("id", c(string())),
    );
}

/// Data `ivkcs_monitoring_user`: the metrics intake's credentials. `endpoint` is the intake's
/// InfluxDB-protocol write URL (VK's is `monitoring.mcs.mail.ru:443` for its own plugin).
pub(super) async fn monitoring_user(p: &Ivkcs, v: &Value) -> Result<Value, ProviderError> {
    let u = p
        .client()?
        .monitoring_user()
        .await
        .map_err(|e| client_err("cannot get the monitoring user", e))?;
    let mut out = v.clone();
    out.set("id", vs(&u.user_id));
    out.set("user_id", vs(&u.user_id));
    out.set("password", vs(u.password.expose()));
    out.set("project_id", vs(&u.project_id));
    out.set("auth_url", vs(&u.auth_url));
    out.set("namespace", vs(&u.namespace));
    out.set("endpoint", vs(&u.endpoint));
    Ok(out)
}

fn required(v: &Value, name: &str) -> Result<String, ProviderError> {
    s(v, name)
        .filter(|x| !x.is_empty())
        .ok_or_else(|| ProviderError::new(format!("`{name}` is required")))
}

pub(super) async fn apply_s3(p: &Ivkcs, v: &Value) -> Result<Value, ProviderError> {
    let name = required(v, "name")?;
    let bucket = p
        .client()?
        .put_s3(&name)
        .await
        .map_err(|e| client_err(&format!("cannot create bucket `{name}`"), e))?;
    let mut out = v.clone();
    out.set("id", vs(&bucket.name));
    out.set("access", vs(&bucket.access));
    out.set("secret", vs(bucket.secret.expose()));
    out.set("endpoint", vs(&bucket.endpoint));
    out.set(
        "vm_endpoint",
        vs(bucket.vm_endpoint.as_deref().unwrap_or(&bucket.endpoint)),
    );
    Ok(out)
}

pub(super) async fn delete_s3(p: &Ivkcs, prior: &Value) -> Result<(), ProviderError> {
    let name = required(prior, "name")?;
    p.client()?
        .delete_s3(&name)
        .await
        .map_err(|e| client_err(&format!("cannot remove bucket `{name}`"), e))
}

fn fqdn(v: &Value) -> Result<String, ProviderError> {
    let name = required(v, "name")?;
    let domain = required(v, "domain")?;
    Ok(format!(
        "{}.{}",
        name.trim_end_matches('.'),
        domain.trim_matches('.')
    ))
}

pub(super) async fn apply_dns(p: &Ivkcs, v: &Value) -> Result<Value, ProviderError> {
    let fqdn = fqdn(v)?;
    let ip_text = required(v, "ip")?;
    let ip: std::net::Ipv4Addr = ip_text
        .parse()
        .map_err(|_| ProviderError::new(format!("`ip = \"{ip_text}\"` is not an IPv4 address")))?;
    let record = p
        .client()?
        .put_dns(&fqdn, &DnsRecordSpec { ip })
        .await
        .map_err(|e| client_err(&format!("cannot set the A record of `{fqdn}`"), e))?;
    let mut out = v.clone();
    out.set("id", vs(&record.fqdn));
    out.set("fqdn", vs(&record.fqdn));
    out.set(
        "servers",
        Value::List(record.servers.iter().map(vs).collect()),
    );
    Ok(out)
}

pub(super) async fn delete_dns(p: &Ivkcs, prior: &Value) -> Result<(), ProviderError> {
    let fqdn = fqdn(prior)?;
    p.client()?
        .delete_dns(&fqdn)
        .await
        .map_err(|e| client_err(&format!("cannot remove the A record of `{fqdn}`"), e))
}
