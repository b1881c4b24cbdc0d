//! Choosing an endpoint from a Keystone catalog: by service type (with the usual aliases),
//! interface and region, with `%(project_id)s` / `$(project_id)s` substituted.

use crate::error::{Error, Result};
use crate::wire::identity::CatalogEntry;

/// Canonical service type for a name or alias (`volumev3`, `block_storage` → `block-storage`).
pub fn canonical_service_type(name: &str) -> &str {
    match name {
        "volume" | "volumev2" | "volumev3" | "block_storage" | "block-storage" => "block-storage",
        "image" => "image",
        "compute" => "compute",
        "network" => "network",
        "identity" => "identity",
        other => other,
    }
}

/// Catalog types that serve a canonical service type, most preferred first.
pub fn catalog_types(service_type: &str) -> &[&str] {
    match canonical_service_type(service_type) {
        "block-storage" => &["block-storage", "volumev3", "volumev2", "volume"],
        "image" => &["image"],
        "compute" => &["compute"],
        "network" => &["network"],
        "identity" => &["identity"],
        _ => &[],
    }
}

/// Finds the endpoint URL for `service_type` with `interface`, in `region` when given.
pub fn endpoint_url(
    catalog: &[CatalogEntry],
    service_type: &str,
    interface: &str,
    region: Option<&str>,
    project_id: Option<&str>,
) -> Result<String> {
    let types: Vec<&str> = match catalog_types(service_type) {
        [] => vec![service_type],
        known => known.to_vec(),
    };
    for wanted in types {
        for entry in catalog.iter().filter(|e| e.service_type == wanted) {
            let found = entry.endpoints.iter().find(|endpoint| {
                endpoint.interface.trim_end_matches("URL") == interface
                    && region.is_none_or(|r| {
                        endpoint.region_id.as_deref() == Some(r)
                            || endpoint.region.as_deref() == Some(r)
                    })
            });
            if let Some(endpoint) = found {
                return Ok(substitute_project(&endpoint.url, project_id));
            }
        }
    }
    Err(Error::EndpointNotFound {
        service_type: canonical_service_type(service_type).to_owned(),
        interface: interface.to_owned(),
        region: region.map(str::to_owned),
    })
}

/// Replaces `%(project_id)s`, `$(project_id)s`, `%(tenant_id)s` and `$(tenant_id)s`.
pub fn substitute_project(url: &str, project_id: Option<&str>) -> String {
    let Some(project_id) = project_id else {
        return url.to_owned();
    };
    let mut out = url.to_owned();
    for pattern in [
        "%(project_id)s",
        "$(project_id)s",
        "%(tenant_id)s",
        "$(tenant_id)s",
    ] {
        out = out.replace(pattern, project_id);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::identity::CatalogEndpoint;

    fn entry(service_type: &str, endpoints: &[(&str, &str, &str)]) -> CatalogEntry {
        CatalogEntry {
            service_type: service_type.into(),
            name: String::new(),
            id: String::new(),
            endpoints: endpoints
                .iter()
                .map(|(interface, region, url)| CatalogEndpoint {
                    id: String::new(),
                    interface: (*interface).into(),
                    region_id: Some((*region).into()),
                    region: Some((*region).into()),
                    url: (*url).into(),
                })
                .collect(),
        }
    }

    #[test]
    fn picks_by_type_alias_interface_region_and_substitutes_project() {
        let catalog = vec![
            entry(
                "volumev3",
                &[
                    ("internal", "RegionOne", "http://int/v3/%(project_id)s"),
                    ("public", "RegionTwo", "http://two/v3/%(project_id)s"),
                    ("public", "RegionOne", "http://one/v3/$(project_id)s"),
                ],
            ),
            entry("image", &[("public", "RegionOne", "http://img")]),
        ];
        assert_eq!(
            endpoint_url(
                &catalog,
                "block-storage",
                "public",
                Some("RegionOne"),
                Some("p1")
            )
            .unwrap(),
            "http://one/v3/p1"
        );
        assert_eq!(
            endpoint_url(&catalog, "volumev3", "internal", None, Some("p1")).unwrap(),
            "http://int/v3/p1"
        );
        let error =
            endpoint_url(&catalog, "compute", "public", Some("RegionOne"), None).unwrap_err();
        assert_eq!(
            error.to_string(),
            "no `public` endpoint for service type `compute` in region `RegionOne` in the catalog"
        );
    }
}
