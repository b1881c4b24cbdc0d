//! `vkcs_compute_keypair`.

use super::*;

pub(crate) async fn create_keypair(vk: &Vkcs, req: &CreateRequest) -> Result<Value, ApplyError> {
    let c = &req.config;
    let name = s(c, "name").unwrap_or_default();
    let kp = vk
        .client
        .compute()
        .create_keypair(&KeypairCreate {
            name: name.clone(),
            public_key: s(c, "public_key"),
            key_type: None,
        })
        .await
        .map_err(os_err(format!("cannot create key pair `{name}`")))?;
    Ok(with(
        &req.planned,
        [
            ("id", vs(&kp.name)),
            ("name", vs(&kp.name)),
            ("public_key", vs(&kp.public_key)),
            ("fingerprint", vs(&kp.fingerprint)),
            (
                "private_key",
                vs(kp
                    .private_key
                    .as_ref()
                    .map(|k| k.expose().to_owned())
                    .unwrap_or_default()),
            ),
        ],
    ))
}

pub(crate) async fn read_keypair(vk: &Vkcs, p: &Value) -> Result<Option<Value>, ProviderError> {
    let name = s(p, "id").or_else(|| s(p, "name")).unwrap_or_default();
    match vk.client.compute().get_keypair(&name).await {
        Ok(kp) => Ok(Some(with(
            p,
            [
                ("name", vs(&kp.name)),
                ("public_key", vs(&kp.public_key)),
                ("fingerprint", vs(&kp.fingerprint)),
            ],
        ))),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(crate::vkcs::util::perr(
            format!("cannot read key pair `{name}`"),
            e,
        )),
    }
}

pub(crate) async fn delete_keypair(vk: &Vkcs, req: &DeleteRequest) -> Result<(), ProviderError> {
    let name = s(&req.prior, "id").unwrap_or_default();
    vk.client
        .compute()
        .delete_keypair(&name)
        .await
        .map(drop)
        .map_err(os_err(format!("cannot delete key pair `{name}`")))
}
