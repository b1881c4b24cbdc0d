//! Names of the environment variables vitrina reads or sets, in one place so the writer and
//! the reader cannot drift apart.

/// URL of the config service for `vitrina tf` (the `ivkcs` provider).
pub const CONFIG_SERVICE: &str = "VITRINA_CONFIG_SERVICE";
/// The engine's token for the config service.
pub const CONFIG_TOKEN: &str = "VITRINA_CONFIG_TOKEN";
/// Set by `localcloud` process VMs: the VM's own `/` on the machine. Scripts prefix paths with it.
pub const ROOT: &str = "VITRINA_ROOT";
/// The host name (as in the manifest's `hosts`) an agent runs for; set for every step.
pub const HOSTNAME: &str = "VITRINA_HOSTNAME";
/// The deployment (`instance_uuid`) an agent runs for; set for every step.
pub const DEPLOYMENT: &str = "VITRINA_DEPLOYMENT";
/// The agent's settings file (`/etc/vitrina-agent/agent.json` by default).
pub const AGENT_CONFIG: &str = "VITRINA_AGENT_CONFIG";
/// Where `vitrina serve` finds the `vitrina-agent` binary it hands to VMs.
pub const AGENT_BINARY: &str = "VITRINA_AGENT_BINARY";
/// The user's e-mail for the `email` variable of a manifest.
pub const EMAIL: &str = "VITRINA_EMAIL";
