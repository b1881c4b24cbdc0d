//! Per-resource events, for progress output and logs. Libraries report, never print: the CLI
//! implements [`Hook`] and prints.

use std::time::Duration;

use crate::addr::InstanceAddr;
use crate::plan::Action;

/// Receives per-instance events during refresh and apply. Every method has an empty default.
/// Calls come from several tasks at once.
pub trait Hook: Send + Sync {
    /// Before a provider operation starts.
    fn pre_apply(&self, _addr: &InstanceAddr, _action: Action) {}

    /// While an operation runs, about every ten seconds ("still creating… 10s").
    fn still_applying(&self, _addr: &InstanceAddr, _action: Action, _elapsed: Duration) {}

    /// Right after the provider answered, before the state is written. `id` is the object's
    /// `id` attribute when known; `error` is set when the operation failed.
    fn post_apply(
        &self,
        _addr: &InstanceAddr,
        _action: Action,
        _id: Option<&str>,
        _elapsed: Duration,
        _error: Option<&str>,
    ) {
    }

    /// After the state holding the result is on disk.
    fn persisted(&self, _addr: &InstanceAddr, _action: Action) {}

    /// Before an instance is refreshed.
    fn pre_refresh(&self, _addr: &InstanceAddr) {}
}

/// A hook that does nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoHook;

impl Hook for NoHook {}

/// Several hooks as one.
#[derive(Default)]
pub struct Hooks(pub Vec<std::sync::Arc<dyn Hook>>);

impl Hook for Hooks {
    fn pre_apply(&self, addr: &InstanceAddr, action: Action) {
        self.0.iter().for_each(|h| h.pre_apply(addr, action));
    }
    fn still_applying(&self, addr: &InstanceAddr, action: Action, elapsed: Duration) {
        self.0
            .iter()
            .for_each(|h| h.still_applying(addr, action, elapsed));
    }
    fn post_apply(
        &self,
        addr: &InstanceAddr,
        action: Action,
        id: Option<&str>,
        elapsed: Duration,
        error: Option<&str>,
    ) {
        self.0
            .iter()
            .for_each(|h| h.post_apply(addr, action, id, elapsed, error));
    }
    fn persisted(&self, addr: &InstanceAddr, action: Action) {
        self.0.iter().for_each(|h| h.persisted(addr, action));
    }
    fn pre_refresh(&self, addr: &InstanceAddr) {
        self.0.iter().for_each(|h| h.pre_refresh(addr));
    }
}
