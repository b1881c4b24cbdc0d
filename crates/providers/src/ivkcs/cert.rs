//! `ivkcs_cert`: a certificate for `domain` issued by the config service's local CA and written
//! on every host of the deployment by its agent, then the renewal hook run.
//!
//! The files go into the folder `path_cert` with certbot's names, since VK's hook is certbot's
//! deploy hook: `cert.pem`, `chain.pem` (the CA), `fullchain.pem` and `privkey.pem` (0600). The
//! hook at `renewal_hook_path` runs after them (when it exists) with certbot's
//! `RENEWED_LINEAGE` (= `path_cert`) and `RENEWED_DOMAINS`. The writing is an exec group named
//! `ivkcs_cert:DOMAIN` on the deployment's hosts (those with an agent token, i.e. after
//! `ivkcs_user_data`), so it has the agents' guarantees: a result per host, no second run of an
//! unchanged certificate. vitrina adds the computed `ca` (the CA certificate) and `serial`.

use std::time::Duration;

use vitrina_agent_api::wire::{ExecGroupSpec, ScriptType, Status, Step, StepOptions};
use vitrina_common::Secret;
use vitrina_engine::provider::{ApplyError, ProviderError, ProviderSchema, Schema};
use vitrina_engine::Value;

use super::exec::failure_message;
use super::{client_err, deployment, poll_until, Ivkcs};
use crate::vkcs::util::{c, o, r, s, string, vs};

/// `timeouts.create` when a manifest sets none.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10 * 60);

pub(super) fn schemas(p: &mut ProviderSchema) {
    p.resources.insert(
        "ivkcs_cert".into(),
        Schema::new()
            .attr("uuid", r(string()).force_new())
            .attr("domain", r(string()).force_new())
            .attr("path_cert", r(string()))
            .attr("renewal_hook_path", r(string()))
            .attr("cert_files_owner", o(string()))
            .attr("cert_files_group", o(string()))
            .attr("cert", c(string()))
            .attr("key", c(string()).sensitive())
            .attr("ca", c(string()))
            .attr("serial", c(string()))
            .attr("id", c(string())),
    );
}

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The bash step that writes the files and runs the hook (`$VITRINA_ROOT` is a process VM's `/`,
/// empty on a real VM).
fn write_script(
    dir: &str,
    hook: &str,
    domain: &str,
    owner: Option<&str>,
    group: Option<&str>,
    (cert, chain, key): (&str, &str, &str),
) -> String {
    let mut out = String::from("#!/bin/bash\nset -eu\n");
    out.push_str(&format!(
        "DIR=\"${{VITRINA_ROOT:-}}\"{}\nHOOK=\"${{VITRINA_ROOT:-}}\"{}\n",
        sh_quote(dir),
        sh_quote(hook)
    ));
    out.push_str("mkdir -p \"$DIR\"\numask 077\n");
    let fullchain = format!("{}\n{}", cert.trim_end(), chain);
    for (name, body, mode) in [
        ("cert.pem", cert, "644"),
        ("chain.pem", chain, "644"),
        ("fullchain.pem", fullchain.as_str(), "644"),
        ("privkey.pem", key, "600"),
    ] {
        out.push_str(&format!(
            "cat > \"$DIR/.{name}.new\" <<'VITRINA_PEM'\n{}\nVITRINA_PEM\nchmod {mode} \"$DIR/.{name}.new\"\n",
            body.trim_end()
        ));
        if let Some(o) = owner.filter(|o| !o.is_empty()) {
            out.push_str(&format!("chown {} \"$DIR/.{name}.new\"\n", sh_quote(o)));
        }
        if let Some(g) = group.filter(|g| !g.is_empty()) {
            out.push_str(&format!("chgrp {} \"$DIR/.{name}.new\"\n", sh_quote(g)));
        }
        out.push_str(&format!("mv -f \"$DIR/.{name}.new\" \"$DIR/{name}\"\n"));
    }
    out.push_str(&format!(
        "if [ -e \"$HOOK\" ]; then\n  export RENEWED_LINEAGE=\"$DIR\" RENEWED_DOMAINS={}\n  if [ -x \"$HOOK\" ]; then \"$HOOK\"; else bash \"$HOOK\"; fi\nfi\n",
        sh_quote(domain)
    ));
    out
}

fn group_name(domain: &str) -> String {
    format!("ivkcs_cert:{domain}")
}

fn required(v: &Value, name: &str) -> Result<String, ProviderError> {
    s(v, name)
        .filter(|x| !x.is_empty())
        .ok_or_else(|| ProviderError::new(format!("`{name}` is required")))
}

/// Issues (or renews) the certificate, writes it on the hosts and waits for each host's result.
pub(super) async fn apply_cert(
    p: &Ivkcs,
    v: &Value,
    timeout: Option<Duration>,
) -> Result<Value, ApplyError> {
    let client = p.client()?;
    let d = deployment(v)?;
    let domain = required(v, "domain")?;
    let dir = required(v, "path_cert")?;
    let hook = required(v, "renewal_hook_path")?;
    let issued = client
        .put_cert(&d, &domain)
        .await
        .map_err(|e| client_err(&format!("cannot issue a certificate for `{domain}`"), e))?;
    if issued.hosts.is_empty() {
        return Err(ProviderError::new(format!(
            "deployment `{d}` has no host with an agent yet: `ivkcs_cert` writes the certificate on the hosts of `ivkcs_user_data` (add `depends_on`)"
        ))
        .into());
    }
    let step = Step {
        index: 1,
        kind: ScriptType::Bash,
        content: Secret::new(write_script(
            &dir,
            &hook,
            &issued.domain,
            s(v, "cert_files_owner").as_deref(),
            s(v, "cert_files_group").as_deref(),
            (&issued.cert, &issued.chain, issued.key.expose()),
        )),
        options: StepOptions {
            attempts: 2,
            attempt_pause_ms: 1_000,
            ..StepOptions::default()
        },
    };
    let name = group_name(&issued.domain);
    let spec = ExecGroupSpec {
        hosts: issued.hosts.clone(),
        steps: vec![step],
    };
    client
        .put_group(&d, &name, &spec)
        .await
        .map_err(|e| client_err("cannot register the certificate's exec group", e))?;
    let mut out = v.clone();
    out.set("id", vs(format!("{d}/{}", issued.domain)));
    out.set("cert", vs(&issued.cert));
    out.set("key", vs(issued.key.expose()));
    out.set("ca", vs(&issued.chain));
    out.set("serial", vs(&issued.serial));
    let key = issued.key.expose().to_owned();
    let waited = poll_until(
        timeout.unwrap_or(DEFAULT_TIMEOUT),
        Duration::from_millis(250),
        || async {
            let r = client
                .group_results(&d, &name)
                .await
                .map_err(|e| client_err("cannot read the results", e))?;
            for h in &r.hosts {
                if let Some(failed) = h.steps.iter().find(|s| s.status == Status::Failed) {
                    return Err(ProviderError::new(
                        failure_message(&h.host, failed).replace(&key, "<redacted>"),
                    ));
                }
            }
            Ok(r.hosts.iter().all(|h| h.status == Status::Ok).then_some(()))
        },
    )
    .await;
    match waited {
        Ok(()) => Ok(out),
        Err(e) => Err(ApplyError {
            error: ProviderError::new(format!(
                "certificate for `{}`: {}",
                issued.domain, e.message
            )),
            partial: Some(out),
        }),
    }
}

pub(super) async fn delete_cert(p: &Ivkcs, prior: &Value) -> Result<(), ProviderError> {
    let client = p.client()?;
    let d = deployment(prior)?;
    let domain = required(prior, "domain")?;
    match client.delete_group(&d, &group_name(&domain)).await {
        Ok(()) => {}
        Err(e) if e.status().map(|s| s.as_u16()) == Some(404) => {}
        Err(e) => return Err(client_err("cannot delete the certificate's exec group", e)),
    }
    client
        .delete_cert(&d, &domain)
        .await
        .map_err(|e| client_err(&format!("cannot forget the certificate of `{domain}`"), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_writes_certbots_files_and_quotes_paths() {
        let script = write_script(
            "/etc/ssl/it's",
            "/opt/hook.sh",
            "a.example",
            Some("www"),
            None,
            ("CERT", "CHAIN", "KEY"),
        );
        for f in ["cert.pem", "chain.pem", "fullchain.pem", "privkey.pem"] {
            assert!(script.contains(&format!("\"$DIR/{f}\"")), "{f}");
        }
        assert!(script.contains("'/etc/ssl/it'\\''s'"));
        assert!(script.contains("chown 'www'"));
        assert!(!script.contains("chgrp"));
        assert!(script.contains("RENEWED_DOMAINS='a.example'"));
    }
}
