//! Bodies of the services the config service runs for `ivkcs` beyond scripts and checks:
//! S3 buckets (`ivkcs_s3`) and DNS records (`ivkcs_dns`).
//!
//! | method and path (engine token) | body → answer |
//! |---|---|
//! | `PUT /config/v1/s3/{name}` | — → [`S3Bucket`] (the same keys every time) |
//! | `DELETE /config/v1/s3/{name}` | → 204 (the bucket and its objects go) |
//! | `PUT /config/v1/dns/{fqdn}` | [`DnsRecordSpec`] → [`DnsRecord`] |
//! | `DELETE /config/v1/dns/{fqdn}` | → 204 |
//!
//! As on VK, neither names a deployment: they belong to the engine's token.

use serde::{Deserialize, Serialize};
use vitrina_common::Secret;

/// A bucket and the key pair that opens it (and nothing else).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Bucket {
    pub name: String,
    pub access: String,
    pub secret: Secret,
    /// The S3 endpoint URL (path-style) as the engine's machine reaches it.
    pub endpoint: String,
    /// The same endpoint as VMs reach it, when it differs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm_endpoint: Option<String>,
}

/// `PUT …/dns/{fqdn}`: one A record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsRecordSpec {
    pub ip: std::net::Ipv4Addr,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsRecord {
    /// Lower-case, without the trailing dot.
    pub fqdn: String,
    pub ip: std::net::Ipv4Addr,
    /// Where the DNS server answers (`IP:PORT`), for the machine and for VMs.
    pub servers: Vec<String>,
}

/// `GET /config/v1/monitoring-user`: credentials for the metrics intake (data
/// `ivkcs_monitoring_user`), the same every time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitoringUser {
    pub user_id: String,
    pub password: Secret,
    pub project_id: String,
    pub auth_url: String,
    pub namespace: String,
    /// The intake's write URL as VMs reach it (InfluxDB v1 `/write`, what Telegraf's
    /// `[[outputs.influxdb]]` and `[[outputs.http]]` with `data_format = "influx"` send).
    pub endpoint: String,
}

/// One latest point of a series field (`GET /config/v1/metrics`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricPoint {
    /// The `uuid` (or `deployment`) tag, empty when the point has none.
    pub deployment: String,
    /// The `host` tag (Telegraf adds the machine's host name).
    pub host: String,
    pub measurement: String,
    /// The other tags, `k=v` joined by `,`, sorted.
    pub tags: String,
    pub field: String,
    pub value: serde_json::Value,
    /// Nanoseconds since the epoch (the point's timestamp, or the arrival time).
    pub time_ns: i64,
}

/// `PUT /config/v1/deployments/{uuid}/certs/{domain}` (`ivkcs_cert`): a certificate for
/// `domain` issued by the config service's local CA. The same certificate comes back while it
/// has more than a third of its life left; then a new one is issued (renewal).
/// `DELETE` of the same path forgets it; `GET /config/v1/ca` answers the CA ([`CaCert`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuedCert {
    pub domain: String,
    /// Hex serial number.
    pub serial: String,
    /// The certificate (PEM).
    pub cert: String,
    /// The CA certificate that issued it (PEM).
    pub chain: String,
    /// The private key (PKCS#8 PEM).
    pub key: Secret,
    /// Unix seconds.
    pub not_before: i64,
    pub not_after: i64,
    /// The deployment's hosts (those with an agent), where `ivkcs_cert` writes the files.
    pub hosts: Vec<vitrina_common::HostName>,
}

/// `GET /config/v1/ca`: the local CA's certificate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaCert {
    pub cert: String,
}
