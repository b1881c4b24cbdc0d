//! Nova: flavors, servers and their actions, volume attachments, key pairs, availability zones.

use std::collections::BTreeMap;

use reqwest::header::HeaderMap;
use reqwest::Method;

use crate::client::{Client, ServiceType};
use crate::error::{Error, Result};
use crate::wait::{wait_for, Poll, WaitOptions};
use crate::wire::compute::{
    AvailabilityZone, AvailabilityZoneList, ConsoleOutput, CreatedServer, ExtraSpecs, Flavor,
    FlavorResponse, Keypair, KeypairCreate, KeypairCreateRequest, KeypairResponse, Metadata,
    Server, ServerAction, ServerCreateRequest, ServerCreateResponse, ServerResponse, ServerUpdate,
    ServerUpdateRequest, Tags, VolumeAttachment, VolumeAttachmentCreate, VolumeAttachmentList,
    VolumeAttachmentRequest, VolumeAttachmentResponse,
};
use crate::Query;

const S: ServiceType = ServiceType::Compute;

/// The compute service of a [`Client`].
#[derive(Debug, Clone)]
pub struct Compute {
    client: Client,
    headers: HeaderMap,
}

impl Client {
    /// Nova.
    pub fn compute(&self) -> Compute {
        Compute {
            client: self.clone(),
            headers: HeaderMap::new(),
        }
    }
}

impl Compute {
    // --- flavors ------------------------------------------------------------------------------

    /// `GET /flavors/detail` with filters (`minRam`, `minDisk`, `is_public`), every page.
    pub async fn list_flavors(&self, query: &Query) -> Result<Vec<Flavor>> {
        self.client
            .list_all(S, "flavors/detail", query, "flavors", &self.headers)
            .await
    }

    /// `GET /flavors/{id}`.
    pub async fn get_flavor(&self, id: &str) -> Result<Flavor> {
        let body: FlavorResponse = self
            .client
            .get_json(S, &format!("flavors/{}", seg(id)), &[], &self.headers)
            .await?;
        Ok(body.flavor)
    }

    /// `GET /flavors/{id}/os-extra_specs`.
    pub async fn flavor_extra_specs(&self, id: &str) -> Result<BTreeMap<String, String>> {
        let body: ExtraSpecs = self
            .client
            .get_json(
                S,
                &format!("flavors/{}/os-extra_specs", seg(id)),
                &[],
                &self.headers,
            )
            .await?;
        Ok(body.extra_specs)
    }

    /// A flavor with `extra_specs` filled in (from the flavor body when the microversion gives
    /// them, else from `os-extra_specs`).
    pub async fn get_flavor_with_extra_specs(&self, id: &str) -> Result<Flavor> {
        let mut flavor = self.get_flavor(id).await?;
        if flavor.extra_specs.is_none() {
            flavor.extra_specs = Some(self.flavor_extra_specs(&flavor.id).await?);
        }
        Ok(flavor)
    }

    /// The one flavor named `name`.
    pub async fn find_flavor(&self, name: &str) -> Result<Flavor> {
        let flavors = self.list_flavors(&Query::new()).await?;
        exactly_one(
            "flavor",
            name,
            flavors
                .into_iter()
                .filter(|f| f.name == name || f.id == name),
        )
    }

    // --- servers ------------------------------------------------------------------------------

    /// `POST /servers`; answers before the server is built (see [`Compute::wait_server`]).
    pub async fn create_server(&self, request: &ServerCreateRequest) -> Result<CreatedServer> {
        let body: ServerCreateResponse = self
            .client
            .send_json(S, Method::POST, "servers", request, &self.headers)
            .await?;
        Ok(body.server)
    }

    /// `GET /servers/{id}`.
    pub async fn get_server(&self, id: &str) -> Result<Server> {
        let body: ServerResponse = self
            .client
            .get_json(S, &format!("servers/{}", seg(id)), &[], &self.headers)
            .await?;
        Ok(body.server)
    }

    /// `GET /servers/detail` with filters (`name`, `status`, `tags`, …), every page.
    pub async fn list_servers(&self, query: &Query) -> Result<Vec<Server>> {
        self.client
            .list_all(S, "servers/detail", query, "servers", &self.headers)
            .await
    }

    /// `PUT /servers/{id}`.
    pub async fn update_server(&self, id: &str, update: &ServerUpdate) -> Result<Server> {
        let body: ServerResponse = self
            .client
            .send_json(
                S,
                Method::PUT,
                &format!("servers/{}", seg(id)),
                &ServerUpdateRequest {
                    server: update.clone(),
                },
                &self.headers,
            )
            .await?;
        Ok(body.server)
    }

    /// `DELETE /servers/{id}`; `Ok(false)` when it was already gone (404).
    pub async fn delete_server(&self, id: &str) -> Result<bool> {
        gone_ok(
            self.client
                .send_no_content::<()>(
                    S,
                    Method::DELETE,
                    &format!("servers/{}", seg(id)),
                    None,
                    &self.headers,
                )
                .await,
        )
    }

    /// `POST /servers/{id}/action`.
    pub async fn action(&self, id: &str, action: &ServerAction) -> Result<()> {
        self.client
            .send_no_content(
                S,
                Method::POST,
                &format!("servers/{}/action", seg(id)),
                Some(action),
                &self.headers,
            )
            .await
    }

    /// `os-stop`.
    pub async fn stop_server(&self, id: &str) -> Result<()> {
        self.action(id, &ServerAction::Stop(())).await
    }

    /// `os-start`.
    pub async fn start_server(&self, id: &str) -> Result<()> {
        self.action(id, &ServerAction::Start(())).await
    }

    /// `reboot` (`hard`: `HARD`, else `SOFT`).
    pub async fn reboot_server(&self, id: &str, hard: bool) -> Result<()> {
        let reboot_type = if hard { "HARD" } else { "SOFT" }.to_owned();
        self.action(id, &ServerAction::Reboot { reboot_type }).await
    }

    /// `resize` to `flavor_id`, wait for `VERIFY_RESIZE`, then `confirmResize` and wait for the
    /// previous power state (`ACTIVE` or `SHUTOFF`).
    pub async fn resize_server(
        &self,
        id: &str,
        flavor_id: &str,
        options: WaitOptions,
    ) -> Result<Server> {
        let before = self.get_server(id).await?;
        self.action(
            id,
            &ServerAction::Resize {
                flavor_ref: flavor_id.to_owned(),
                disk_config: None,
            },
        )
        .await?;
        self.wait_server(id, &["VERIFY_RESIZE"], options).await?;
        self.action(id, &ServerAction::ConfirmResize(())).await?;
        let target = if before.status == "SHUTOFF" {
            "SHUTOFF"
        } else {
            "ACTIVE"
        };
        self.wait_server(id, &[target], options).await
    }

    /// `addFloatingIp` (Nova's proxy to Neutron).
    pub async fn add_floating_ip(
        &self,
        id: &str,
        address: &str,
        fixed_address: Option<&str>,
    ) -> Result<()> {
        self.action(
            id,
            &ServerAction::AddFloatingIp {
                address: address.to_owned(),
                fixed_address: fixed_address.map(str::to_owned),
            },
        )
        .await
    }

    /// `removeFloatingIp`.
    pub async fn remove_floating_ip(&self, id: &str, address: &str) -> Result<()> {
        self.action(
            id,
            &ServerAction::RemoveFloatingIp {
                address: address.to_owned(),
            },
        )
        .await
    }

    /// `addSecurityGroup` (by name).
    pub async fn add_security_group(&self, id: &str, name: &str) -> Result<()> {
        self.action(
            id,
            &ServerAction::AddSecurityGroup {
                name: name.to_owned(),
            },
        )
        .await
    }

    /// `removeSecurityGroup` (by name).
    pub async fn remove_security_group(&self, id: &str, name: &str) -> Result<()> {
        self.action(
            id,
            &ServerAction::RemoveSecurityGroup {
                name: name.to_owned(),
            },
        )
        .await
    }

    /// `os-getConsoleOutput` (`length`: last N lines; `None` for all).
    pub async fn console_output(&self, id: &str, length: Option<i64>) -> Result<String> {
        let body: ConsoleOutput = self
            .client
            .send_json(
                S,
                Method::POST,
                &format!("servers/{}/action", seg(id)),
                &ServerAction::GetConsoleOutput { length },
                &self.headers,
            )
            .await?;
        Ok(body.output)
    }

    /// `POST /servers/{id}/metadata`: sets (merges) keys; returns all metadata.
    pub async fn set_metadata(
        &self,
        id: &str,
        metadata: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>> {
        let body: Metadata = self
            .client
            .send_json(
                S,
                Method::POST,
                &format!("servers/{}/metadata", seg(id)),
                &Metadata {
                    metadata: metadata.clone(),
                },
                &self.headers,
            )
            .await?;
        Ok(body.metadata)
    }

    /// `DELETE /servers/{id}/metadata/{key}`.
    pub async fn delete_metadata(&self, id: &str, key: &str) -> Result<()> {
        self.client
            .send_no_content::<()>(
                S,
                Method::DELETE,
                &format!("servers/{}/metadata/{}", seg(id), seg(key)),
                None,
                &self.headers,
            )
            .await
    }

    /// `PUT /servers/{id}/tags` (microversion 2.26).
    pub async fn set_tags(&self, id: &str, tags: &[String]) -> Result<Vec<String>> {
        let body: Tags = self
            .client
            .send_json(
                S,
                Method::PUT,
                &format!("servers/{}/tags", seg(id)),
                &Tags {
                    tags: tags.to_vec(),
                },
                &self.headers,
            )
            .await?;
        Ok(body.tags)
    }

    /// Polls until the server's status is one of `targets`; `ERROR` fails with the fault.
    pub async fn wait_server(
        &self,
        id: &str,
        targets: &[&str],
        options: WaitOptions,
    ) -> Result<Server> {
        let what = format!("server `{id}` to become {}", targets.join(" or "));
        wait_for(&what, options, || async {
            let server = self.get_server(id).await?;
            if targets.contains(&server.status.as_str()) {
                return Ok(Poll::Done(server));
            }
            if server.status == "ERROR" {
                return Err(Error::ResourceFailed {
                    what: format!("server `{id}`"),
                    status: server.status,
                    fault: server.fault.map(|f| f.message),
                });
            }
            Ok(Poll::Pending(server.status))
        })
        .await
    }

    /// Polls until the server is gone (404, `DELETED` or `SOFT_DELETED`).
    pub async fn wait_server_deleted(&self, id: &str, options: WaitOptions) -> Result<()> {
        let what = format!("server `{id}` to be deleted");
        wait_for(&what, options, || async {
            match self.get_server(id).await {
                Err(e) if e.is_not_found() => Ok(Poll::Done(())),
                Err(e) => Err(e),
                Ok(s) if s.status == "DELETED" || s.status == "SOFT_DELETED" => Ok(Poll::Done(())),
                Ok(s) if s.status == "ERROR" => Err(Error::ResourceFailed {
                    what: format!("server `{id}` (while deleting)"),
                    status: s.status,
                    fault: s.fault.map(|f| f.message),
                }),
                Ok(s) => Ok(Poll::Pending(s.status)),
            }
        })
        .await
    }

    // --- volume attachments -------------------------------------------------------------------

    /// `POST /servers/{id}/os-volume_attachments`.
    pub async fn attach_volume(
        &self,
        server_id: &str,
        attachment: &VolumeAttachmentCreate,
    ) -> Result<VolumeAttachment> {
        let body: VolumeAttachmentResponse = self
            .client
            .send_json(
                S,
                Method::POST,
                &format!("servers/{}/os-volume_attachments", seg(server_id)),
                &VolumeAttachmentRequest {
                    volume_attachment: attachment.clone(),
                },
                &self.headers,
            )
            .await?;
        Ok(body.volume_attachment)
    }

    /// `GET /servers/{id}/os-volume_attachments/{volume_id}`.
    pub async fn get_volume_attachment(
        &self,
        server_id: &str,
        volume_id: &str,
    ) -> Result<VolumeAttachment> {
        let body: VolumeAttachmentResponse = self
            .client
            .get_json(
                S,
                &format!(
                    "servers/{}/os-volume_attachments/{}",
                    seg(server_id),
                    seg(volume_id)
                ),
                &[],
                &self.headers,
            )
            .await?;
        Ok(body.volume_attachment)
    }

    /// `GET /servers/{id}/os-volume_attachments`.
    pub async fn list_volume_attachments(&self, server_id: &str) -> Result<Vec<VolumeAttachment>> {
        let body: VolumeAttachmentList = self
            .client
            .get_json(
                S,
                &format!("servers/{}/os-volume_attachments", seg(server_id)),
                &[],
                &self.headers,
            )
            .await?;
        Ok(body.volume_attachments)
    }

    /// `DELETE /servers/{id}/os-volume_attachments/{volume_id}`; `Ok(false)` if not attached.
    pub async fn detach_volume(&self, server_id: &str, volume_id: &str) -> Result<bool> {
        gone_ok(
            self.client
                .send_no_content::<()>(
                    S,
                    Method::DELETE,
                    &format!(
                        "servers/{}/os-volume_attachments/{}",
                        seg(server_id),
                        seg(volume_id)
                    ),
                    None,
                    &self.headers,
                )
                .await,
        )
    }

    // --- key pairs ----------------------------------------------------------------------------

    /// `POST /os-keypairs` (import with `public_key`, or generate without).
    pub async fn create_keypair(&self, keypair: &KeypairCreate) -> Result<Keypair> {
        let body: KeypairResponse = self
            .client
            .send_json(
                S,
                Method::POST,
                "os-keypairs",
                &KeypairCreateRequest {
                    keypair: keypair.clone(),
                },
                &self.headers,
            )
            .await?;
        Ok(body.keypair)
    }

    /// `GET /os-keypairs/{name}`.
    pub async fn get_keypair(&self, name: &str) -> Result<Keypair> {
        let body: KeypairResponse = self
            .client
            .get_json(S, &format!("os-keypairs/{}", seg(name)), &[], &self.headers)
            .await?;
        Ok(body.keypair)
    }

    /// `GET /os-keypairs`, every page.
    pub async fn list_keypairs(&self) -> Result<Vec<Keypair>> {
        let wrapped: Vec<KeypairResponse> = self
            .client
            .list_all(S, "os-keypairs", &[], "keypairs", &self.headers)
            .await?;
        Ok(wrapped.into_iter().map(|k| k.keypair).collect())
    }

    /// `DELETE /os-keypairs/{name}`; `Ok(false)` when already gone.
    pub async fn delete_keypair(&self, name: &str) -> Result<bool> {
        gone_ok(
            self.client
                .send_no_content::<()>(
                    S,
                    Method::DELETE,
                    &format!("os-keypairs/{}", seg(name)),
                    None,
                    &self.headers,
                )
                .await,
        )
    }

    /// `GET /os-availability-zone`.
    pub async fn availability_zones(&self) -> Result<Vec<AvailabilityZone>> {
        let body: AvailabilityZoneList = self
            .client
            .get_json(S, "os-availability-zone", &[], &self.headers)
            .await?;
        Ok(body.availability_zone_info)
    }
}

/// Percent-encodes one path segment.
pub(crate) fn seg(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(byte))
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// Maps a 404 to `Ok(false)`.
pub(crate) fn gone_ok(result: Result<()>) -> Result<bool> {
    match result {
        Ok(()) => Ok(true),
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(e),
    }
}

/// Exactly one match by name.
pub(crate) fn exactly_one<T>(
    kind: &'static str,
    name: &str,
    mut items: impl Iterator<Item = T>,
) -> Result<T> {
    let first = items.next();
    let rest = items.count();
    match first {
        Some(item) if rest == 0 => Ok(item),
        Some(_) => Err(Error::Ambiguous {
            kind,
            name: name.to_owned(),
            count: rest + 1,
        }),
        None => Err(Error::NameNotFound {
            kind,
            name: name.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_escaped() {
        assert_eq!(seg("a b/c"), "a%20b%2Fc");
        assert_eq!(seg("Basic-1-2-20"), "Basic-1-2-20");
    }
}
