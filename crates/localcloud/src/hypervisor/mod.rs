//! The hypervisor interface: what Nova asks of a back-end. The first back-end is
//! [`ProcessHypervisor`]: a VM is a process tree in its own folder.

mod process;
pub mod rootfs;

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::BoxFuture;

pub use process::{instance_init, kill_instances, ProcessHypervisor};

/// What a back-end needs to boot a server.
#[derive(Debug, Clone)]
pub struct BootSpec {
    pub id: String,
    pub name: String,
    pub hostname: String,
    pub project_id: String,
    pub availability_zone: String,
    /// Fixed IPv4 addresses, first is the access address.
    pub ipv4: Vec<String>,
    /// Decoded user data.
    pub user_data: Option<Vec<u8>>,
    pub metadata: BTreeMap<String, String>,
    pub public_keys: Vec<String>,
    /// The network namespace to run in (isolated networking), made by the data plane.
    pub netns: Option<String>,
    /// The server's own loopback address in the shared-network mode.
    pub loopback_ipv4: Option<String>,
    /// DNS servers of the server's subnets (written to the VM's `etc/resolv.conf`).
    pub dns: Vec<String>,
    /// Volumes attached when it boots (a contained VM sees each as its device file).
    pub disks: Vec<Disk>,
}

/// A volume attached to a server.
#[derive(Debug, Clone)]
pub struct Disk {
    /// `/dev/vdb`, …
    pub device: String,
    /// Where the volume's own bytes are kept (`DATA/volumes/<id>`).
    pub file: std::path::PathBuf,
    /// The bytes it starts from when it has none of its own yet (an image, a source volume).
    pub source: Option<std::path::PathBuf>,
    pub size_gib: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum HvError {
    #[error("instance `{0}` is not known to the hypervisor")]
    NotFound(String),
    #[error("cannot prepare the instance folder `{path}`")]
    Prepare {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("user_data refused")]
    UserData(#[from] crate::cloudinit::UserDataError),
    #[error(transparent)]
    Network(#[from] crate::dataplane::NetError),
    #[error("cannot signal the processes of instance `{id}`")]
    Signal {
        id: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the processes of instance `{id}`")]
    Spawn {
        id: String,
        #[source]
        source: std::io::Error,
    },
}

/// Called with an instance id when its processes ended without a stop being asked.
pub type ExitListener = Arc<dyn Fn(&str) + Send + Sync>;

/// A hypervisor back-end.
pub trait Hypervisor: Send + Sync {
    /// The back-end's name (`process`).
    fn name(&self) -> &'static str;
    /// Boots (or powers on) an instance: prepares its folder on first boot and starts it.
    /// Must be called inside a tokio runtime.
    fn boot(&self, spec: &BootSpec) -> Result<(), HvError>;
    /// Powers the instance off: a graceful signal, then a kill after a grace period.
    fn stop(&self, id: &str) -> BoxFuture<'static, Result<(), HvError>>;
    /// Stops the instance and removes everything it had.
    fn destroy(&self, id: &str) -> BoxFuture<'static, Result<(), HvError>>;
    /// Freezes (`true`: every process of the instance stopped, as a paused or suspended VM's
    /// vCPUs) or thaws it. Fails when the instance does not run.
    fn freeze(&self, id: &str, frozen: bool) -> Result<(), HvError>;
    /// Whether the instance's processes run.
    fn is_running(&self, id: &str) -> bool;
    /// After a restart of localcloud: takes over an instance still running from before; false when
    /// it is not running.
    fn adopt(&self, id: &str) -> bool;
    /// The last `lines` lines of the console (all when `None`).
    fn console_output(&self, id: &str, lines: Option<usize>) -> Result<String, HvError>;
    /// Registers the callback for instances whose processes ended by themselves.
    fn set_exit_listener(&self, listener: ExitListener);
}
