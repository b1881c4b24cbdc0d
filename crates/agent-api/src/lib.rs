//! The config service's contract, used from both sides: [`wire`] holds every request and
//! response body, [`client`] the typed HTTP clients — [`EngineClient`] for the `ivkcs` provider
//! (engine token) and [`AgentClient`] for `vitrina-agent` (a token bound to one deployment and
//! one host). `vitrina-server` implements the paths in [`paths`] with these same types.

pub mod client;
pub mod paths;
pub mod script_token;
pub mod services;
pub mod wire;

pub use client::{AgentClient, ClientError, EngineClient};
