//! `ivkcs_compute_instance_reboot`: reboots a `vkcs_compute_instance` during the deployment and
//! waits until it is `ACTIVE` again. The cloud is found as `vkcs` finds it without a provider
//! block (`OS_CLOUD` + clouds.yaml, or `OS_*`), or, in a server, the run's own cloud.

use std::time::Duration;

use vitrina_engine::provider::{ProviderError, ProviderSchema, Schema};
use vitrina_engine::Value;

use crate::vkcs::util::{c, r, s, string, vs, wait_opts};

pub(super) fn schemas(p: &mut ProviderSchema) {
    p.resources.insert(
        "ivkcs_compute_instance_reboot".into(),
        Schema::new()
            .attr("instance", r(string()))
            .attr("id", c(string())),
    );
}

pub(super) async fn reboot(
    cloud: Option<&vitrina_openstack::ConfigSource>,
    v: &Value,
    timeout: Option<Duration>,
) -> Result<Value, ProviderError> {
    let id = s(v, "instance").ok_or_else(|| ProviderError::new("`instance` is required"))?;
    let client = match cloud {
        Some(source) => vitrina_openstack::CloudConfig::load_from(source, None)
            .and_then(vitrina_openstack::Client::new),
        None => vitrina_openstack::Client::from_env(None),
    };
    let client = client.map_err(|e| {
        crate::vkcs::util::perr(
            "`ivkcs_compute_instance_reboot` needs the OpenStack cloud: set `OS_CLOUD` with a clouds.yaml, or the `OS_*` variables",
            e,
        )
    })?;
    let compute = client.compute();
    compute
        .reboot_server(&id, false)
        .await
        .map_err(|e| crate::vkcs::util::perr(format!("cannot reboot instance `{id}`"), e))?;
    compute
        .wait_server(
            &id,
            &["ACTIVE"],
            wait_opts(timeout, Duration::from_secs(600)),
        )
        .await
        .map_err(|e| crate::vkcs::util::perr(format!("instance `{id}` did not come back"), e))?;
    let mut out = v.clone();
    out.set("id", vs(id));
    Ok(out)
}
