//! Cancelling a run. A [`Cancel`] is shared by whoever may stop a run (a server worker that lost
//! its lease, a shutdown) and the run itself, which looks at it at safe points only: before a
//! node of the walk starts and before each provider operation is sent. An operation already
//! sent is never abandoned half-way: its result is recorded in the state first, so a cancelled
//! run leaves a state the next run can continue from.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A cancellation flag shared between a run and its owner. Cloning shares the flag.
#[derive(Clone, Debug, Default)]
pub struct Cancel {
    flag: Arc<AtomicBool>,
    notify: Arc<tokio::sync::Notify>,
}

impl Cancel {
    pub fn new() -> Self {
        Cancel::default()
    }

    /// Asks the run to stop at its next safe point.
    pub fn cancel(&self) {
        self.flag.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Resolves once [`Self::cancel`] was called.
    pub async fn cancelled(&self) {
        loop {
            let notified = self.notify.notified();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn cancelled_resolves_for_clones() {
        let c = Cancel::new();
        let c2 = c.clone();
        let waiter = tokio::spawn(async move { c2.cancelled().await });
        assert!(!c.is_cancelled());
        c.cancel();
        waiter.await.expect("join");
        assert!(c.is_cancelled());
    }
}
