//! `vkcs_compute_volume_attach` and `vkcs_compute_floatingip_associate`.

use super::*;

// --- volume attach ------------------------------------------------------------------------------

pub(crate) async fn create_volume_attach(
    vk: &Vkcs,
    req: &CreateRequest,
) -> Result<Value, ApplyError> {
    let c = &req.config;
    let instance = s(c, "instance_id").unwrap_or_default();
    let volume = s(c, "volume_id").unwrap_or_default();
    let att = vk
        .client
        .compute()
        .attach_volume(
            &instance,
            &VolumeAttachmentCreate {
                volume_id: volume.clone(),
                ..VolumeAttachmentCreate::default()
            },
        )
        .await
        .map_err(os_err(format!(
            "cannot attach volume `{volume}` to server `{instance}`"
        )))?;
    let out = with(
        &req.planned,
        [
            ("id", vs(format!("{instance}/{volume}"))),
            ("device", vs(att.device.clone().unwrap_or_default())),
        ],
    );
    if let Err(e) = vk
        .client
        .block_storage()
        .wait_volume(&volume, &["in-use"], wait_opts(req.timeout, TEN_MINUTES))
        .await
    {
        return Err(ApplyError {
            error: crate::vkcs::util::perr(format!("volume `{volume}` did not become in-use"), e),
            partial: Some(out),
        });
    }
    Ok(out)
}

pub(crate) async fn read_volume_attach(
    vk: &Vkcs,
    p: &Value,
) -> Result<Option<Value>, ProviderError> {
    let instance = s(p, "instance_id").unwrap_or_default();
    let volume = s(p, "volume_id").unwrap_or_default();
    match vk
        .client
        .compute()
        .get_volume_attachment(&instance, &volume)
        .await
    {
        Ok(att) => Ok(Some(with(
            p,
            [("device", vs(att.device.unwrap_or_default()))],
        ))),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(crate::vkcs::util::perr(
            format!("cannot read the attachment of volume `{volume}` to server `{instance}`"),
            e,
        )),
    }
}

pub(crate) async fn delete_volume_attach(
    vk: &Vkcs,
    req: &DeleteRequest,
) -> Result<(), ProviderError> {
    let p = &req.prior;
    let instance = s(p, "instance_id").unwrap_or_default();
    let volume = s(p, "volume_id").unwrap_or_default();
    let detached = vk
        .client
        .compute()
        .detach_volume(&instance, &volume)
        .await
        .map_err(os_err(format!(
            "cannot detach volume `{volume}` from server `{instance}`"
        )))?;
    if detached {
        match vk
            .client
            .block_storage()
            .wait_volume(&volume, &["available"], wait_opts(req.timeout, TEN_MINUTES))
            .await
        {
            Err(e) if !e.is_not_found() => {
                return Err(crate::vkcs::util::perr(
                    format!("volume `{volume}` did not become available"),
                    e,
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

// --- floating IP association through Nova -------------------------------------------------------

pub(crate) async fn create_fip_associate(
    vk: &Vkcs,
    req: &CreateRequest,
) -> Result<Value, ApplyError> {
    let c = &req.config;
    let fip = s(c, "floating_ip").unwrap_or_default();
    let instance = s(c, "instance_id").unwrap_or_default();
    let fixed = s(c, "fixed_ip");
    let compute = vk.client.compute();
    compute
        .add_floating_ip(&instance, &fip, fixed.as_deref())
        .await
        .map_err(os_err(format!(
            "cannot associate floating IP `{fip}` with server `{instance}`"
        )))?;
    let out = with(
        &req.planned,
        [(
            "id",
            vs(format!(
                "{fip}/{instance}/{}",
                fixed.clone().unwrap_or_default()
            )),
        )],
    );
    if b(c, "wait_until_associated") == Some(true) {
        let opts = wait_opts(req.timeout, TEN_MINUTES);
        let waited = vitrina_openstack::wait::wait_for(
            &format!("floating IP `{fip}` on server `{instance}`"),
            opts,
            || async {
                let server = compute.get_server(&instance).await?;
                Ok(if has_floating(&server, &fip) {
                    vitrina_openstack::Poll::Done(())
                } else {
                    vitrina_openstack::Poll::Pending("not associated".into())
                })
            },
        )
        .await;
        if let Err(e) = waited {
            return Err(ApplyError {
                error: crate::vkcs::util::perr("the floating IP association did not show up", e),
                partial: Some(out),
            });
        }
    }
    Ok(out)
}

fn has_floating(server: &Server, address: &str) -> bool {
    server
        .addresses
        .values()
        .flatten()
        .any(|a| a.addr == address && a.ip_type.as_deref() == Some("floating"))
}

pub(crate) async fn read_fip_associate(
    vk: &Vkcs,
    p: &Value,
) -> Result<Option<Value>, ProviderError> {
    let fip_addr = s(p, "floating_ip").unwrap_or_default();
    let instance = s(p, "instance_id").unwrap_or_default();
    let server = match vk.client.compute().get_server(&instance).await {
        Ok(sv) => sv,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => {
            return Err(crate::vkcs::util::perr(
                format!("cannot read server `{instance}`"),
                e,
            ))
        }
    };
    let net = vk.client.network();
    let fip = match net.find_floating_ip(&fip_addr).await {
        Ok(f) => f,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => {
            return Err(crate::vkcs::util::perr(
                format!("cannot find floating IP `{fip_addr}`"),
                e,
            ))
        }
    };
    let Some(port_id) = fip.port_id.filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let on_server = has_floating(&server, &fip_addr)
        || match net.get_port(&port_id).await {
            Ok(port) => port.device_id == instance,
            Err(e) if e.is_not_found() => false,
            Err(e) => {
                return Err(crate::vkcs::util::perr(
                    format!("cannot read port `{port_id}`"),
                    e,
                ))
            }
        };
    Ok(on_server.then(|| p.clone()))
}

pub(crate) async fn delete_fip_associate(
    vk: &Vkcs,
    req: &DeleteRequest,
) -> Result<(), ProviderError> {
    let p = &req.prior;
    let fip = s(p, "floating_ip").unwrap_or_default();
    let instance = s(p, "instance_id").unwrap_or_default();
    match vk
        .client
        .compute()
        .remove_floating_ip(&instance, &fip)
        .await
    {
        Ok(()) => Ok(()),
        // Gone, or no longer associated: nothing to undo.
        Err(e) if e.is_not_found() || e.is_conflict() || e.status() == Some(400) => Ok(()),
        Err(e) => Err(crate::vkcs::util::perr(
            format!("cannot disassociate floating IP `{fip}` from server `{instance}`"),
            e,
        )),
    }
}
