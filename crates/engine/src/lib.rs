//! Terraform-language engine: configuration → graph → plan → apply/destroy, with the state
//! written after every resource operation; the provider interface; built-in `null`, `random`
//! and `time`.
//!
//! The four nouns stay apart: configuration (`config`), plan (`plan`), state (`state`) and
//! provider (`provider`) do not use one another; the orchestrator (`context`) joins them over
//! typed addresses (`addr`). The engine knows no cloud: providers are registered by the caller.

// Diagnostics are the error type of evaluation and planning; they are built on cold paths and
// carry spans and help text, so their size does not matter there.
#![allow(clippy::result_large_err)]

pub mod addr;
pub mod builtin;
pub mod cancel;
pub mod config;
pub mod context;
pub mod duration;
pub mod graph;
pub mod hooks;
pub mod plan;
pub mod provider;
pub mod schema_data;
pub mod state;
pub mod static_check;
pub mod value;
pub mod walk;

pub use addr::{InstanceAddr, InstanceKey, ResourceAddr, ResourceMode};
pub use cancel::Cancel;
pub use hooks::Hook;
pub use plan::{Action, Plan, ResourceChange};
pub use provider::{
    ApplyError, AttrType, Attribute, BoxFuture, ConfiguredProvider, CreateRequest, DeleteRequest,
    ErrorKind, Nesting, PlanRequest, PlanResponse, Provider, ProviderError, ProviderRegistry,
    ProviderSchema, ReadDataRequest, ReadRequest, Schema, UpdateRequest,
};
pub use state::State;
pub use value::{PathStep, Value};
