//! The URL paths of the config service, relative to its base URL.
//!
//! Engine side (`Authorization: Bearer <engine token>`), under `/config/v1/deployments/{uuid}`:
//!
//! | method and path | body → answer |
//! |---|---|
//! | `PUT  …/hosts/{host}/agent` | — → [`AgentCredentials`](crate::wire::AgentCredentials) (the same token every time) |
//! | `GET  …/hosts/{host}` | → [`HostView`](crate::wire::HostView) |
//! | `PUT  …/groups/{name}` | [`ExecGroupSpec`](crate::wire::ExecGroupSpec) → [`ExecGroupView`](crate::wire::ExecGroupView) |
//! | `GET  …/groups/{name}/results` | → [`GroupResultsView`](crate::wire::GroupResultsView) |
//! | `DELETE …/groups/{name}` | → 204 |
//! | `GET  …/hosts/{host}/groups/{name}/steps/{index}` | → [`StepResultView`](crate::wire::StepResultView) |
//! | `PUT  …/checks/{name}` | [`CheckSetSpec`](crate::wire::CheckSetSpec) → [`CheckSetView`](crate::wire::CheckSetView) |
//! | `GET  …/checks/{name}/results` | → [`CheckResultsView`](crate::wire::CheckResultsView) |
//! | `DELETE …/checks/{name}` | → 204 |
//!
//! Agent side (`Authorization: Bearer <agent token>`), under `/agent/v1`:
//! `POST register`, `POST heartbeat`, `GET work?known=N&wait_ms=M` (long-poll), `POST results`,
//! `POST checks`, `GET download` (the agent binary).

/// Prefix of the engine's paths.
pub const ENGINE_PREFIX: &str = "/config/v1";
/// Prefix of the agent's paths.
pub const AGENT_PREFIX: &str = "/agent/v1";
/// Longest long-poll the server grants, in milliseconds.
pub const MAX_WAIT_MS: u64 = 60_000;
