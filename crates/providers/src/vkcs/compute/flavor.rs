//! The data source `vkcs_compute_flavor`.

use super::*;

pub(crate) async fn read_flavor(vk: &Vkcs, c: &Value) -> Result<Value, ProviderError> {
    let compute = vk.client.compute();
    let flavor = if let Some(id) = s(c, "flavor_id") {
        compute
            .get_flavor_with_extra_specs(&id)
            .await
            .map_err(os_err(format!("cannot read flavor `{id}`")))?
    } else {
        let mut q: Query = Vec::new();
        if let Some(v) = i(c, "min_ram") {
            q.push(("minRam".into(), v.to_string()));
        }
        if let Some(v) = i(c, "min_disk") {
            q.push(("minDisk".into(), v.to_string()));
        }
        match b(c, "is_public") {
            Some(true) => q.push(("is_public".into(), "true".into())),
            Some(false) => q.push(("is_public".into(), "false".into())),
            None => {}
        }
        let all = compute
            .list_flavors(&q)
            .await
            .map_err(os_err("cannot list flavors"))?;
        let want_specs = smap(c, "extra_specs");
        let mut found = Vec::new();
        for mut f in all {
            let eq_u = |attr: &str, actual: u64| {
                i(c, attr).is_none_or(|w| u64::try_from(w).ok() == Some(actual))
            };
            let matches = s(c, "name").is_none_or(|n| n == f.name)
                && eq_u("ram", f.ram)
                && eq_u("vcpus", u64::from(f.vcpus))
                && eq_u("disk", f.disk)
                && eq_u("swap", f.swap)
                && c.get("rx_tx_factor")
                    .as_f64()
                    .is_none_or(|w| (w - f.rxtx_factor).abs() < 1e-9);
            if !matches {
                continue;
            }
            if !want_specs.is_empty() {
                if f.extra_specs.is_none() {
                    f.extra_specs = Some(
                        compute
                            .flavor_extra_specs(&f.id)
                            .await
                            .map_err(os_err("cannot read flavor extra specs"))?,
                    );
                }
                let specs = f.extra_specs.clone().unwrap_or_default();
                if !want_specs.iter().all(|(k, v)| specs.get(k) == Some(v)) {
                    continue;
                }
            }
            found.push(f);
        }
        let minimum = i(c, "min_ram").is_some() || i(c, "min_disk").is_some();
        if found.len() > 1 && minimum {
            found.sort_by(|a, z| a.ram.cmp(&z.ram).then(a.disk.cmp(&z.disk)));
            found.truncate(1);
        }
        let mut flavor = match found.len() {
            0 => {
                return Err(ProviderError::new(
                    "your query returned no flavors; change the search criteria and try again",
                ))
            }
            1 => found.pop().ok_or_else(|| ProviderError::new("no flavor"))?,
            n => {
                return Err(ProviderError::new(format!(
                    "your query returned {n} flavors; make the search criteria more specific"
                )))
            }
        };
        if flavor.extra_specs.is_none() {
            flavor.extra_specs = Some(
                compute
                    .flavor_extra_specs(&flavor.id)
                    .await
                    .map_err(os_err("cannot read flavor extra specs"))?,
            );
        }
        flavor
    };
    Ok(Value::map([
        ("id", vs(&flavor.id)),
        ("flavor_id", vs(&flavor.id)),
        ("name", vs(&flavor.name)),
        ("ram", vint(flavor.ram)),
        ("vcpus", vint(flavor.vcpus)),
        ("disk", vint(flavor.disk)),
        ("swap", vint(flavor.swap)),
        ("rx_tx_factor", Value::float(flavor.rxtx_factor)),
        (
            "is_public",
            c.get("is_public").as_bool().map_or(Value::Null, vbool),
        ),
        (
            "min_ram",
            c.get("min_ram").as_i64().map_or(vint(0), Value::int),
        ),
        (
            "min_disk",
            c.get("min_disk").as_i64().map_or(vint(0), Value::int),
        ),
        ("extra_specs", vmap(flavor.extra_specs.unwrap_or_default())),
    ]))
}
