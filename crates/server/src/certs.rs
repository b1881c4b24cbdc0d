//! `ivkcs_cert`: the installation's local CA and the certificates it issues for deployments.
//!
//! The CA is made on first use and kept in the store (its key sealed like every other secret).
//! A certificate lives 90 days; asking again for the same deployment and domain answers the same
//! one until less than a third of its life is left, then a new one (renewal). `ivkcs_cert`
//! writes it on the deployment's hosts through their agents. Paths and bodies:
//! `vitrina_agent_api::services::{IssuedCert, CaCert}`.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use rand::RngCore;
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SerialNumber,
};
use vitrina_agent_api::services::{CaCert, IssuedCert};
use vitrina_common::{DeploymentId, HostName, Secret};

use crate::app::ConfigService;
use crate::error::ServerError;
use crate::http::{EngineCaller, HttpState};
use crate::store::certs::{CaRow, CertRow};

/// How long the CA is valid.
const CA_LIFETIME: Duration = Duration::from_secs(10 * 365 * 86_400);
/// How long an issued certificate is valid.
pub const CERT_LIFETIME: Duration = Duration::from_secs(90 * 86_400);
/// Back-dating of `notBefore`, for machines whose clocks are a little behind.
const BACKDATE: Duration = Duration::from_secs(3_600);

const CA_PLACE: &str = "ivkcs_ca|local";

fn cert_place(deployment: &str, domain: &str) -> String {
    format!("ivkcs_cert|{deployment}|{domain}")
}

fn now_s() -> i64 {
    crate::store::now_ms() / 1000
}

/// Sets `notBefore` and `notAfter` from unix seconds.
fn set_validity(p: &mut CertificateParams, not_before: i64, not_after: i64) {
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    p.not_before = epoch + Duration::from_secs(u64::try_from(not_before).unwrap_or(0));
    p.not_after = epoch + Duration::from_secs(u64::try_from(not_after).unwrap_or(0));
}

fn cert_err(e: rcgen::Error) -> ServerError {
    ServerError::internal(format!("certificate: {e}"))
}

/// The CA's parameters: the same every time for the same validity, so the CA can sign again
/// after a restart from its stored key alone (the issuer name and key identifier come from here).
fn ca_params(not_before: i64, not_after: i64) -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "vitrina");
    dn.push(DnType::CommonName, "vitrina local CA");
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    set_validity(&mut p, not_before, not_after);
    p
}

fn random_serial() -> (SerialNumber, String) {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    // Positive, as RFC 5280 wants.
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01;
    (SerialNumber::from_slice(&bytes), hex::encode(bytes))
}

impl ConfigService {
    /// The CA's stored row, made on first use.
    async fn ca_row(&self) -> Result<CaRow, ServerError> {
        if let Some(ca) = self.store.ca().await? {
            return Ok(ca);
        }
        let not_before = now_s() - BACKDATE.as_secs() as i64;
        let not_after = not_before + CA_LIFETIME.as_secs() as i64;
        let key = KeyPair::generate().map_err(cert_err)?;
        let cert = ca_params(not_before, not_after)
            .self_signed(&key)
            .map_err(cert_err)?;
        let row = CaRow {
            cert_pem: cert.pem(),
            key_sealed: self.sealer.seal(CA_PLACE, key.serialize_pem().as_bytes())?,
            not_before,
            not_after,
        };
        let kept = self.store.ca_put_first(&row).await?;
        tracing::info!("made the local CA for ivkcs_cert");
        Ok(kept)
    }

    /// The CA as a signer: its key and a certificate object with its name and key identifier.
    async fn ca_signer(&self) -> Result<(CaRow, Certificate, KeyPair), ServerError> {
        let row = self.ca_row().await?;
        let pem = self.sealer.open(CA_PLACE, &row.key_sealed)?;
        let pem = String::from_utf8(pem).map_err(|_| ServerError::internal("CA key: not UTF-8"))?;
        let key = KeyPair::from_pem(&pem).map_err(cert_err)?;
        let cert = ca_params(row.not_before, row.not_after)
            .self_signed(&key)
            .map_err(cert_err)?;
        Ok((row, cert, key))
    }

    pub async fn ca_cert(&self) -> Result<CaCert, ServerError> {
        Ok(CaCert {
            cert: self.ca_row().await?.cert_pem,
        })
    }

    /// The deployment's certificate for `domain`: the stored one while it has more than a third
    /// of its life left, else a new one.
    pub async fn put_cert(
        &self,
        d: &DeploymentId,
        domain: &str,
    ) -> Result<IssuedCert, ServerError> {
        let domain = vitrina_localcloud::dns::normalize(domain)
            .map_err(|e| ServerError::Invalid(format!("`domain`: {e}")))?;
        let ds = d.to_string();
        let place = cert_place(&ds, &domain);
        let (ca, ca_cert, ca_key) = self.ca_signer().await?;
        let now = now_s();
        let row = match self.store.cert(&ds, &domain).await? {
            Some(c) if (c.not_after - now) * 3 > (c.not_after - c.not_before) => c,
            _ => {
                let mut p = CertificateParams::new(vec![domain.clone()]).map_err(cert_err)?;
                let mut dn = DistinguishedName::new();
                dn.push(DnType::CommonName, domain.as_str());
                p.distinguished_name = dn;
                let (serial, serial_hex) = random_serial();
                p.serial_number = Some(serial);
                let not_before = now - BACKDATE.as_secs() as i64;
                let not_after = (now + CERT_LIFETIME.as_secs() as i64).min(ca.not_after);
                set_validity(&mut p, not_before, not_after);
                p.is_ca = IsCa::ExplicitNoCa;
                p.key_usages = vec![
                    KeyUsagePurpose::DigitalSignature,
                    KeyUsagePurpose::KeyEncipherment,
                ];
                p.extended_key_usages = vec![
                    ExtendedKeyUsagePurpose::ServerAuth,
                    ExtendedKeyUsagePurpose::ClientAuth,
                ];
                p.use_authority_key_identifier_extension = true;
                let key = KeyPair::generate().map_err(cert_err)?;
                let cert = p.signed_by(&key, &ca_cert, &ca_key).map_err(cert_err)?;
                let row = CertRow {
                    serial: serial_hex,
                    cert_pem: cert.pem(),
                    key_sealed: self.sealer.seal(&place, key.serialize_pem().as_bytes())?,
                    not_before,
                    not_after,
                };
                self.store.cert_put(&ds, &domain, &row).await?;
                tracing::info!(deployment = %ds, domain = %domain, serial = %row.serial, "issued a certificate");
                row
            }
        };
        let key = String::from_utf8(self.sealer.open(&place, &row.key_sealed)?)
            .map_err(|_| ServerError::internal("certificate key: not UTF-8"))?;
        let hosts = self
            .store
            .hoe_agent_hosts(&ds)
            .await?
            .into_iter()
            .filter_map(|h| h.parse::<HostName>().ok())
            .collect();
        Ok(IssuedCert {
            domain,
            serial: row.serial,
            cert: row.cert_pem,
            chain: ca.cert_pem,
            key: Secret::new(key),
            not_before: row.not_before,
            not_after: row.not_after,
            hosts,
        })
    }

    pub async fn delete_cert(&self, d: &DeploymentId, domain: &str) -> Result<(), ServerError> {
        let domain = vitrina_localcloud::dns::normalize(domain)
            .map_err(|e| ServerError::Invalid(format!("`domain`: {e}")))?;
        self.store.cert_delete(&d.to_string(), &domain).await?;
        Ok(())
    }
}

fn deployment(s: &str) -> Result<DeploymentId, ServerError> {
    s.parse()
        .map_err(|e: vitrina_common::IdError| ServerError::Invalid(e.to_string()))
}

async fn put_cert(
    State(s): State<HttpState>,
    _c: EngineCaller,
    Path((d, domain)): Path<(String, String)>,
) -> Result<Json<IssuedCert>, ServerError> {
    Ok(Json(s.service.put_cert(&deployment(&d)?, &domain).await?))
}

async fn delete_cert(
    State(s): State<HttpState>,
    _c: EngineCaller,
    Path((d, domain)): Path<(String, String)>,
) -> Result<StatusCode, ServerError> {
    s.service.delete_cert(&deployment(&d)?, &domain).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn get_ca(State(s): State<HttpState>, _c: EngineCaller) -> Result<Json<CaCert>, ServerError> {
    Ok(Json(s.service.ca_cert().await?))
}

/// The routes of the CA (engine token).
pub fn routes(state: HttpState) -> Router {
    Router::new()
        .route(
            "/config/v1/deployments/{d}/certs/{domain}",
            put(put_cert).delete(delete_cert),
        )
        .route("/config/v1/ca", get(get_ca))
        .with_state(state)
}
