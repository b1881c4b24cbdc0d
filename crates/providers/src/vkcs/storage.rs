//! Cinder and Glance: `vkcs_blockstorage_volume` and the data source `vkcs_images_image`.

use vitrina_engine::provider::{
    ApplyError, CreateRequest, DeleteRequest, ProviderError, ProviderSchema, Schema, UpdateRequest,
};
use vitrina_engine::Value;
use vitrina_openstack::wire::image::Image;
use vitrina_openstack::wire::volume::{Volume, VolumeCreate, VolumeUpdate};
use vitrina_openstack::Query;

use super::util::{
    b, boolean, c, i, map_of_strings, number, o, oc, os_err, r, s, set_of_strings, smap, string,
    u64_arg, vbool, vint, vmap, vs, vset, wait_opts, without_token, CREATE_TOKEN_KEY,
    THIRTY_MINUTES,
};
use super::{with, Vkcs};

/// Adds the volume resource and the image data source.
pub fn schemas(p: &mut ProviderSchema) {
    p.resources.insert(
        "vkcs_blockstorage_volume".into(),
        Schema::new()
            .attr("id", c(string()))
            .attr("region", oc(string()).force_new())
            .attr(
                "size",
                r(number()).describe("growing it extends the volume in place"),
            )
            .attr(
                "volume_type",
                r(string()).describe("a change retypes the volume (on-demand migration)"),
            )
            .attr("availability_zone", r(string()).force_new())
            .attr("name", o(string()))
            .attr("description", o(string()))
            .attr("metadata", o(map_of_strings()))
            .attr("snapshot_id", o(string()).force_new())
            .attr("source_vol_id", o(string()).force_new())
            .attr("image_id", o(string()).force_new())
            .attr("all_metadata", c(map_of_strings())),
    );
    p.data_sources.insert(
        "vkcs_images_image".into(),
        Schema::new()
            .attr("id", oc(string()))
            .attr("region", oc(string()))
            .attr("name", oc(string()))
            .attr("visibility", o(string()))
            .attr("member_status", o(string()))
            .attr("owner", oc(string()))
            .attr("size_min", o(number()))
            .attr("size_max", o(number()))
            .attr("tag", o(string()))
            .attr("most_recent", o(boolean()).default(false))
            .attr("properties", o(map_of_strings()))
            .attr("default", o(boolean()))
            .attr("container_format", c(string()))
            .attr("disk_format", c(string()))
            .attr("min_disk_gb", c(number()))
            .attr("min_ram_mb", c(number()))
            .attr("protected", c(boolean()))
            .attr("checksum", c(string()))
            .attr("size_bytes", c(number()))
            .attr("metadata", c(map_of_strings()))
            .attr("created_at", c(string()))
            .attr("updated_at", c(string()))
            .attr("file", c(string()))
            .attr("schema", c(string()))
            .attr("tags", c(set_of_strings())),
    );
}

// --- volume -------------------------------------------------------------------------------------

/// The `POST /volumes` body for a volume's configuration.
pub(crate) fn volume_request(c: &Value) -> Result<VolumeCreate, ProviderError> {
    let sources = ["snapshot_id", "source_vol_id", "image_id"]
        .iter()
        .filter(|k| s(c, k).is_some())
        .count();
    if sources > 1 {
        return Err(ProviderError::new(
            "only one of `snapshot_id`, `source_vol_id` and `image_id` can be set",
        ));
    }
    let metadata = smap(c, "metadata");
    Ok(VolumeCreate {
        size: u64_arg(c, "size")?,
        name: s(c, "name"),
        description: s(c, "description"),
        volume_type: s(c, "volume_type"),
        availability_zone: s(c, "availability_zone"),
        image_ref: s(c, "image_id"),
        snapshot_id: s(c, "snapshot_id"),
        source_volid: s(c, "source_vol_id"),
        metadata: if metadata.is_empty() {
            None
        } else {
            Some(metadata)
        },
        multiattach: None,
    })
}

fn volume_value(base: &Value, v: &Volume) -> Value {
    let mut changes = vec![
        ("id", vs(&v.id)),
        ("size", vint(v.size)),
        ("all_metadata", vmap(without_token(&v.metadata))),
    ];
    if let Some(t) = &v.volume_type {
        changes.push(("volume_type", vs(t)));
    }
    if let Some(az) = &v.availability_zone {
        changes.push(("availability_zone", vs(az)));
    }
    if let Some(n) = &v.name {
        if !(n.is_empty() && base.get("name").is_null()) {
            changes.push(("name", vs(n)));
        }
    }
    if let Some(d) = &v.description {
        if !(d.is_empty() && base.get("description").is_null()) {
            changes.push(("description", vs(d)));
        }
    }
    // `metadata` holds the keys the configuration manages; Cinder may add its own.
    if let Some(configured) = base.get("metadata").as_map() {
        let managed = configured
            .keys()
            .filter_map(|k| v.metadata.get(k).map(|x| (k.clone(), x.clone())));
        changes.push(("metadata", vmap(managed)));
    }
    with(base, changes)
}

pub(crate) async fn create_volume(vk: &Vkcs, req: &CreateRequest) -> Result<Value, ApplyError> {
    let mut body = volume_request(&req.config)?;
    let bs = vk.client.block_storage();
    // A create repeated after a crash finds the volume the first attempt made.
    let query: Query = body
        .name
        .iter()
        .map(|n| ("name".to_owned(), n.clone()))
        .collect();
    let earlier = bs
        .list_volumes(&query)
        .await
        .map_err(os_err("cannot look for a volume of an earlier attempt"))?
        .into_iter()
        .find(|v| {
            v.metadata.get(CREATE_TOKEN_KEY).map(String::as_str) == Some(req.token.as_str())
                && v.status != "deleting"
        });
    let created = match earlier {
        Some(v) => v,
        None => {
            body.metadata
                .get_or_insert_with(Default::default)
                .insert(CREATE_TOKEN_KEY.to_owned(), req.token.clone());
            bs.create_volume(&body)
                .await
                .map_err(os_err("cannot create the volume"))?
        }
    };
    let partial = volume_value(&super::compute::known(&req.planned), &created);
    match bs
        .wait_volume(
            &created.id,
            &["available"],
            wait_opts(req.timeout, THIRTY_MINUTES),
        )
        .await
    {
        Ok(v) => Ok(volume_value(&req.planned, &v)),
        Err(e) => Err(ApplyError {
            error: crate::vkcs::util::perr(
                format!("volume `{}` did not become available", created.id),
                e,
            ),
            partial: Some(partial),
        }),
    }
}

pub(crate) async fn read_volume(vk: &Vkcs, p: &Value) -> Result<Option<Value>, ProviderError> {
    let id = s(p, "id").unwrap_or_default();
    match vk.client.block_storage().get_volume(&id).await {
        Ok(v) if v.status == "deleting" => Ok(None),
        Ok(v) => Ok(Some(volume_value(p, &v))),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(crate::vkcs::util::perr(
            format!("cannot read volume `{id}`"),
            e,
        )),
    }
}

pub(crate) async fn update_volume(vk: &Vkcs, req: &UpdateRequest) -> Result<Value, ApplyError> {
    let c = &req.config;
    let prior = &req.prior;
    let id = s(prior, "id").unwrap_or_default();
    let bs = vk.client.block_storage();
    let opts = wait_opts(req.timeout, THIRTY_MINUTES);
    let changed = |n: &str| prior.get(n) != req.planned.get(n);
    let fail = |what: String, e: vitrina_openstack::Error| ApplyError {
        error: crate::vkcs::util::perr(what, e),
        partial: Some(prior.clone()),
    };
    if changed("name") || changed("description") || changed("metadata") {
        // Cinder replaces the whole metadata: keep what the configuration does not manage
        // (including the create token).
        let current = bs
            .get_volume(&id)
            .await
            .map_err(|e| fail(format!("cannot read volume `{id}`"), e))?;
        let mut metadata = current.metadata;
        for k in smap(prior, "metadata").keys() {
            metadata.remove(k);
        }
        metadata.extend(smap(c, "metadata"));
        let update = VolumeUpdate {
            name: Some(s(c, "name").unwrap_or_default()),
            description: Some(s(c, "description").unwrap_or_default()),
            metadata: Some(metadata),
        };
        bs.update_volume(&id, &update)
            .await
            .map_err(|e| fail(format!("cannot update volume `{id}`"), e))?;
    }
    if changed("size") {
        let old = i(prior, "size").unwrap_or(0);
        let new = i(c, "size").unwrap_or(0);
        if new < old {
            return Err(ProviderError::new(format!(
                "volume `{id}` cannot shrink from {old} GiB to {new} GiB; Cinder only extends volumes"
            ))
            .into());
        }
        let new =
            u64::try_from(new).map_err(|_| ProviderError::new("`size` must not be negative"))?;
        let status = bs
            .get_volume(&id)
            .await
            .map_err(|e| fail(format!("cannot read volume `{id}`"), e))?
            .status;
        bs.extend_volume(&id, new)
            .await
            .map_err(|e| fail(format!("cannot extend volume `{id}` to {new} GiB"), e))?;
        let target = if status == "in-use" {
            "in-use"
        } else {
            "available"
        };
        bs.wait_volume(&id, &[target], opts)
            .await
            .map_err(|e| fail(format!("volume `{id}` did not finish extending"), e))?;
    }
    if changed("volume_type") {
        let t = s(c, "volume_type").unwrap_or_default();
        bs.retype_volume(&id, &t)
            .await
            .map_err(|e| fail(format!("cannot retype volume `{id}` to `{t}`"), e))?;
        bs.wait_volume(&id, &["available", "in-use"], opts)
            .await
            .map_err(|e| fail(format!("volume `{id}` did not finish retyping"), e))?;
    }
    let v = bs
        .get_volume(&id)
        .await
        .map_err(|e| fail(format!("cannot read volume `{id}`"), e))?;
    Ok(volume_value(&req.planned, &v))
}

pub(crate) async fn delete_volume(vk: &Vkcs, req: &DeleteRequest) -> Result<(), ProviderError> {
    let id = s(&req.prior, "id").unwrap_or_default();
    let bs = vk.client.block_storage();
    let opts = wait_opts(req.timeout, THIRTY_MINUTES);
    // A volume whose server is going away is detached by Nova a moment later: wait for that.
    let current = match bs.get_volume(&id).await {
        Ok(v) => v,
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => {
            return Err(crate::vkcs::util::perr(
                format!("cannot read volume `{id}`"),
                e,
            ))
        }
    };
    if matches!(
        current.status.as_str(),
        "in-use" | "attaching" | "detaching" | "reserved" | "creating" | "downloading"
    ) {
        match bs.wait_volume(&id, &["available"], opts).await {
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => {
                return Err(crate::vkcs::util::perr(
                    format!("volume `{id}` is still in use"),
                    e,
                ))
            }
            Ok(_) => {}
        }
    }
    super::util::retry_conflict(opts.timeout, || bs.delete_volume(&id))
        .await
        .map_err(os_err(format!("cannot delete volume `{id}`")))?;
    bs.wait_volume_deleted(&id, opts)
        .await
        .map_err(os_err(format!("volume `{id}` was not deleted")))
}

// --- image data source --------------------------------------------------------------------------

pub(crate) async fn read_image(vk: &Vkcs, c: &Value) -> Result<Value, ProviderError> {
    let images = vk.client.image();
    let image = if let Some(id) = s(c, "id") {
        images
            .get_image(&id)
            .await
            .map_err(os_err(format!("cannot read image `{id}`")))?
    } else {
        let mut q: Query = vec![("status".into(), "active".into())];
        for k in ["name", "visibility", "owner", "tag", "member_status"] {
            if let Some(v) = s(c, k) {
                q.push((k.into(), v));
            }
        }
        for k in ["size_min", "size_max"] {
            if let Some(v) = i(c, k) {
                q.push((k.into(), v.to_string()));
            }
        }
        let mut found = images
            .list_images(&q)
            .await
            .map_err(os_err("cannot list images"))?;
        let props = smap(c, "properties");
        found.retain(|img| {
            props.iter().all(|(k, v)| {
                img.properties.get(k).map(property_string).as_deref() == Some(v.as_str())
            })
        });
        if b(c, "default") == Some(true) {
            found.retain(|img| {
                let sid = img.properties.get("sid").map(property_string);
                let kind = img.properties.get("image_type").map(property_string);
                matches!(sid.as_deref(), None | Some("ml")) && kind.as_deref() != Some("snapshot")
            });
        }
        if found.len() > 1 && b(c, "most_recent") == Some(true) {
            found.sort_by(|a, z| z.created_at.cmp(&a.created_at));
            found.truncate(1);
        }
        match found.len() {
            0 => return Err(ProviderError::new("your query returned no images; change the search criteria and try again")),
            1 => found.pop().ok_or_else(|| ProviderError::new("no image"))?,
            n => {
                return Err(ProviderError::new(format!(
                    "your query returned {n} images; make the search criteria more specific or set `most_recent = true`"
                )))
            }
        }
    };
    Ok(image_value(c, &image))
}

fn property_string(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn image_value(c: &Value, img: &Image) -> Value {
    Value::map([
        ("id", vs(&img.id)),
        ("name", vs(img.name.clone().unwrap_or_default())),
        ("owner", vs(img.owner.clone().unwrap_or_default())),
        (
            "container_format",
            vs(img.container_format.clone().unwrap_or_default()),
        ),
        (
            "disk_format",
            vs(img.disk_format.clone().unwrap_or_default()),
        ),
        ("min_disk_gb", vint(img.min_disk)),
        ("min_ram_mb", vint(img.min_ram)),
        ("protected", vbool(img.protected)),
        ("checksum", vs(img.checksum.clone().unwrap_or_default())),
        ("size_bytes", vint(img.size.unwrap_or(0))),
        (
            "metadata",
            vmap(
                img.properties
                    .iter()
                    .map(|(k, v)| (k.clone(), property_string(v))),
            ),
        ),
        ("created_at", vs(&img.created_at)),
        ("updated_at", vs(&img.updated_at)),
        ("file", vs(&img.file)),
        ("schema", vs(&img.schema)),
        ("tags", vset(img.tags.clone())),
        ("most_recent", vbool(b(c, "most_recent").unwrap_or(false))),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_from_image_request() {
        let c = Value::map([
            ("size", Value::int(10)),
            ("volume_type", vs("ceph-ssd")),
            ("availability_zone", vs("GZ1")),
            ("image_id", vs("img")),
            ("name", vs("boot")),
        ]);
        let json = serde_json::to_value(volume_request(&c).unwrap()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"size": 10, "volume_type": "ceph-ssd", "availability_zone": "GZ1", "imageRef": "img", "name": "boot"})
        );
        let both = Value::map([
            ("image_id", vs("a")),
            ("snapshot_id", vs("b")),
            ("size", Value::int(1)),
        ]);
        assert!(volume_request(&both).is_err());
    }

    #[test]
    fn volume_metadata_keeps_only_managed_keys() {
        let v: Volume = serde_json::from_value(serde_json::json!({
            "id": "v", "status": "available", "size": 10, "volume_type": "ceph-ssd", "availability_zone": "GZ1",
            "metadata": {"a": "1", "readonly": "False"}
        }))
        .unwrap();
        let base = Value::map([("metadata", vmap([("a", "1")])), ("name", Value::Null)]);
        let out = volume_value(&base, &v);
        assert_eq!(out.get("metadata"), &vmap([("a", "1")]));
        assert_eq!(
            out.get("all_metadata"),
            &vmap([("a", "1"), ("readonly", "False")])
        );
        assert!(out.get("name").is_null());
    }
}
