//! The services `ivkcs` resources ask the config service for beyond scripts and checks: S3
//! buckets on `localcloud`'s object store (`ivkcs_s3`) and A records on its DNS server
//! (`ivkcs_dns`). As on VK, neither resource names a deployment (`ivkcs_s3` has only `name`,
//! `ivkcs_dns` `name`, `domain` and `ip`): they belong to the engine's token, the owner recorded
//! for each name ([`ENGINE_OWNER`]). Paths and bodies: `vitrina_agent_api::services`.

use std::net::Ipv4Addr;
use std::sync::{Arc, OnceLock};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::put;
use axum::{Json, Router};
use vitrina_agent_api::services::{DnsRecord, DnsRecordSpec, S3Bucket};
use vitrina_common::Secret;
use vitrina_localcloud::dns::DnsZone;
use vitrina_localcloud::s3::S3Store;

use crate::app::ConfigService;
use crate::error::ServerError;
use crate::http::{EngineCaller, HttpState};
use crate::json_errors::JsonBody;
use crate::store::Owned;

/// What runs beside the config service (set once, when `localcloud` opens).
#[derive(Default)]
pub struct Services {
    s3: OnceLock<S3Service>,
    dns: OnceLock<DnsService>,
    /// The server's URL as VMs reach it (the machine's when they share its network).
    vm_base: OnceLock<String>,
    /// Script tokens' rotation (`crate::script_tokens`).
    token_rotation: OnceLock<crate::script_tokens::TokenRotation>,
}

struct S3Service {
    store: Arc<S3Store>,
    endpoint: String,
    vm_endpoint: Option<String>,
}

struct DnsService {
    zone: Arc<DnsZone>,
    servers: Vec<String>,
}

impl Services {
    /// The object store and its endpoint URLs (the machine's, and the VMs' when different).
    pub fn set_s3(&self, store: Arc<S3Store>, endpoint: String, vm_endpoint: Option<String>) {
        let _ = self.s3.set(S3Service {
            store,
            endpoint,
            vm_endpoint,
        });
    }

    /// The DNS records and the addresses their server answers on.
    pub fn set_dns(&self, zone: Arc<DnsZone>, servers: Vec<String>) {
        let _ = self.dns.set(DnsService { zone, servers });
    }

    /// The server's URL as VMs reach it (set once at start).
    pub fn set_vm_base_url(&self, url: String) {
        let _ = self.vm_base.set(url);
    }

    pub fn vm_base_url(&self) -> String {
        self.vm_base.get().cloned().unwrap_or_default()
    }

    /// Script tokens' rotation period and grace (set once at start).
    pub fn set_token_rotation(&self, r: crate::script_tokens::TokenRotation) {
        let _ = self.token_rotation.set(r);
    }

    pub fn token_rotation(&self) -> crate::script_tokens::TokenRotation {
        self.token_rotation.get().copied().unwrap_or_default()
    }

    /// The DNS server's addresses, once it runs.
    pub fn dns_servers(&self) -> Vec<String> {
        self.dns
            .get()
            .map(|d| d.servers.clone())
            .unwrap_or_default()
    }
}

/// The owner recorded for names the engine's token creates (tenants come with the marketplace).
pub const ENGINE_OWNER: &str = "engine";

fn unavailable(what: &str) -> ServerError {
    ServerError::Unavailable(format!(
        "this server runs no {what} (start `vitrina serve` with the built-in cloud)"
    ))
}

impl ConfigService {
    pub async fn put_s3(&self, name: &str) -> Result<S3Bucket, ServerError> {
        let s3 = self
            .services
            .s3
            .get()
            .ok_or_else(|| unavailable("object store"))?;
        if !vitrina_localcloud::s3::valid_bucket_name(name) {
            return Err(ServerError::Invalid(format!(
                "bucket name `{name}`: 3 to 63 lower-case letters, digits, `-` and `.`, starting and ending with a letter or digit"
            )));
        }
        let ds = ENGINE_OWNER.to_owned();
        let owner = self.store.claim(Owned::Bucket, name, &ds, None).await?;
        if owner != ds {
            return Err(ServerError::Conflict(format!(
                "bucket `{name}` belongs to another owner"
            )));
        }
        let creds = s3
            .store
            .ensure_bucket(name)
            .map_err(|e| ServerError::internal(e.to_string()))?;
        tracing::info!(bucket = %name, "bucket ready");
        Ok(S3Bucket {
            name: name.to_owned(),
            access: creds.access,
            secret: Secret::new(creds.secret),
            endpoint: s3.endpoint.clone(),
            vm_endpoint: s3.vm_endpoint.clone(),
        })
    }

    pub async fn delete_s3(&self, name: &str) -> Result<(), ServerError> {
        let s3 = self
            .services
            .s3
            .get()
            .ok_or_else(|| unavailable("object store"))?;
        let ds = ENGINE_OWNER.to_owned();
        match self.store.owner(Owned::Bucket, name).await? {
            None => return Ok(()),
            Some(o) if o != ds => return Err(ServerError::NotFound(format!("bucket `{name}`"))),
            Some(_) => {}
        }
        s3.store
            .delete_bucket(name)
            .map_err(|e| ServerError::internal(e.to_string()))?;
        self.store.release(Owned::Bucket, name, &ds).await?;
        Ok(())
    }

    pub async fn put_dns(&self, fqdn: &str, ip: Ipv4Addr) -> Result<DnsRecord, ServerError> {
        let dns = self
            .services
            .dns
            .get()
            .ok_or_else(|| unavailable("DNS server"))?;
        let name = vitrina_localcloud::dns::normalize(fqdn)
            .map_err(|e| ServerError::Invalid(e.to_string()))?;
        let ds = ENGINE_OWNER.to_owned();
        let owner = self
            .store
            .claim(Owned::DnsName, &name, &ds, Some(&ip.to_string()))
            .await?;
        if owner != ds {
            return Err(ServerError::Conflict(format!(
                "`{name}` belongs to another owner"
            )));
        }
        dns.zone
            .set(&name, ip)
            .map_err(|e| ServerError::internal(e.to_string()))?;
        Ok(DnsRecord {
            fqdn: name,
            ip,
            servers: dns.servers.clone(),
        })
    }

    pub async fn delete_dns(&self, fqdn: &str) -> Result<(), ServerError> {
        let dns = self
            .services
            .dns
            .get()
            .ok_or_else(|| unavailable("DNS server"))?;
        let name = vitrina_localcloud::dns::normalize(fqdn)
            .map_err(|e| ServerError::Invalid(e.to_string()))?;
        let ds = ENGINE_OWNER.to_owned();
        match self.store.owner(Owned::DnsName, &name).await? {
            None => return Ok(()),
            Some(o) if o != ds => return Err(ServerError::NotFound(format!("DNS name `{name}`"))),
            Some(_) => {}
        }
        dns.zone
            .remove(&name)
            .map_err(|e| ServerError::internal(e.to_string()))?;
        self.store.release(Owned::DnsName, &name, &ds).await?;
        Ok(())
    }
}

async fn put_s3(
    State(s): State<HttpState>,
    _c: EngineCaller,
    Path(name): Path<String>,
) -> Result<Json<S3Bucket>, ServerError> {
    Ok(Json(s.service.put_s3(&name).await?))
}

async fn delete_s3(
    State(s): State<HttpState>,
    _c: EngineCaller,
    Path(name): Path<String>,
) -> Result<StatusCode, ServerError> {
    s.service.delete_s3(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn put_dns(
    State(s): State<HttpState>,
    _c: EngineCaller,
    Path(fqdn): Path<String>,
    JsonBody(spec): JsonBody<DnsRecordSpec>,
) -> Result<Json<DnsRecord>, ServerError> {
    Ok(Json(s.service.put_dns(&fqdn, spec.ip).await?))
}

async fn delete_dns(
    State(s): State<HttpState>,
    _c: EngineCaller,
    Path(fqdn): Path<String>,
) -> Result<StatusCode, ServerError> {
    s.service.delete_dns(&fqdn).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The routes of these services (engine token).
pub fn routes(state: HttpState) -> Router {
    Router::new()
        .route("/config/v1/s3/{name}", put(put_s3).delete(delete_s3))
        .route("/config/v1/dns/{fqdn}", put(put_dns).delete(delete_dns))
        .with_state(state)
}
