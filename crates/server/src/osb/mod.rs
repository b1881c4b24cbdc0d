//! The Open Service Broker API (v2.17, accepting 2.13–2.17) at `/v2/…`, per
//! `shared/spec/osb-checklist.md`.
//!
//! [`http`] checks the version and the broker account (HTTP Basic) before anything else and
//! parses; [`broker`] holds the rules (idempotency, 409/422, asynchronous operations polled
//! from the deployment, tombstones); [`catalog`] turns the package room's catalog into OSB
//! offerings; [`params`] checks parameters with the `forms` room and carries answers over to
//! another plan or revision; `store::osb` keeps the records.

pub mod backend;
pub mod broker;
pub mod catalog;
pub mod http;
pub mod openapi;
pub mod params;
pub mod server_backend;
pub mod wire;

pub use backend::{Account, OsbBackend};
pub use broker::Broker;
