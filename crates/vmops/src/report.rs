//! How operations tell the caller what they do, and ask it to choose. The library never prints:
//! the CLI implements these with progress bars on a terminal and plain lines elsewhere.

use std::sync::Arc;

/// One long task: a wait or a transfer.
pub trait Task: Send + Sync {
    /// Bytes (or steps) done so far, and the total when known.
    fn progress(&self, done: u64, total: Option<u64>);
    /// The resource's current status while waiting (`creating`, `BUILD`, …).
    fn status(&self, status: &str);
    /// The task ended (well or not).
    fn finish(&self);
}

/// Receives what an operation does.
pub trait Reporter: Send + Sync {
    /// One finished step or fact worth a line (`created volume gpu-disk (10 GB)`).
    fn step(&self, message: &str);
    /// A long task starts; `total` in bytes for transfers, `None` for waits.
    fn task(&self, label: &str, total: Option<u64>) -> Arc<dyn Task>;
}

/// Asks a person to pick one of several options.
pub trait Chooser: Send + Sync {
    /// `Ok(Some(index))`: picked; `Ok(None)`: declined. `Err(())`: nobody can be asked (not a
    /// terminal).
    #[allow(clippy::result_unit_err)]
    fn choose(&self, prompt: &str, options: &[String]) -> Result<Option<usize>, ()>;
}

/// Reports nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

struct SilentTask;

impl Task for SilentTask {
    fn progress(&self, _: u64, _: Option<u64>) {}
    fn status(&self, _: &str) {}
    fn finish(&self) {}
}

impl Reporter for Silent {
    fn step(&self, _: &str) {}
    fn task(&self, _: &str, _: Option<u64>) -> Arc<dyn Task> {
        Arc::new(SilentTask)
    }
}

/// Never asks: for scripts and tests (every choice is refused as "not on a terminal").
#[derive(Debug, Default, Clone, Copy)]
pub struct NoTerminal;

impl Chooser for NoTerminal {
    fn choose(&self, _: &str, _: &[String]) -> Result<Option<usize>, ()> {
        Err(())
    }
}
