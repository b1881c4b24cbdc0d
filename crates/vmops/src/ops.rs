//! [`Ops`]: the client, the settings and the caller's reporter and chooser, with the helpers
//! every operation shares (exactly-one lookups by name, waits that report their status).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use vitrina_openstack::wait::{wait_for, Poll, WaitOptions};
use vitrina_openstack::Client;

use crate::error::{Error, Match, Result};
use crate::report::{Chooser, Reporter};
use crate::settings::Settings;

/// Everyday VM operations on one cloud project.
#[derive(Clone)]
pub struct Ops {
    pub(crate) client: Client,
    pub(crate) settings: Settings,
    pub(crate) reporter: Arc<dyn Reporter>,
    pub(crate) chooser: Arc<dyn Chooser>,
    pub(crate) wait: WaitOptions,
}

impl std::fmt::Debug for Ops {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ops")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Ops {
    pub fn new(
        client: Client,
        settings: Settings,
        reporter: Arc<dyn Reporter>,
        chooser: Arc<dyn Chooser>,
    ) -> Ops {
        Ops {
            client,
            settings,
            reporter,
            chooser,
            wait: WaitOptions {
                timeout: Duration::from_secs(30 * 60),
                initial_interval: Duration::from_millis(100),
                max_interval: Duration::from_secs(3),
            },
        }
    }

    /// How long waits for the cloud may take (default 30 minutes).
    pub fn with_wait_timeout(mut self, timeout: Duration) -> Ops {
        self.wait.timeout = timeout;
        self
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Polls `probe` with a progress task labelled `label` that shows each status seen.
    pub(crate) async fn wait_reporting<T, F, Fut>(&self, label: &str, mut probe: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = vitrina_openstack::Result<Poll<T>>>,
    {
        let task = self.reporter.task(label, None);
        let result = wait_for(label, self.wait, || {
            let fut = probe();
            let task = task.clone();
            async move {
                let r = fut.await;
                if let Ok(Poll::Pending(status)) = &r {
                    task.status(status);
                }
                r
            }
        })
        .await;
        task.finish();
        result.map_err(Error::cloud(format!("waiting for {label}")))
    }

    /// Asks the chooser; refuses when nobody can be asked.
    pub(crate) fn choose(
        &self,
        what: &'static str,
        flag: &'static str,
        options: &[String],
    ) -> Result<usize> {
        match self.chooser.choose(what, options) {
            Ok(Some(i)) if i < options.len() => Ok(i),
            Ok(_) => Err(Error::NotChosen),
            Err(()) => Err(Error::NeedsTerminal { what, flag }),
        }
    }
}

/// Exactly one of `items` (already filtered by name); the error lists every match.
pub(crate) fn exactly_one<T>(
    kind: &'static str,
    name: &str,
    items: Vec<T>,
    describe: impl Fn(&T) -> Match,
    hint: Option<String>,
) -> Result<T> {
    if items.len() > 1 {
        return Err(Error::Ambiguous {
            kind,
            name: name.to_owned(),
            matches: items.iter().map(describe).collect(),
        });
    }
    items.into_iter().next().ok_or(Error::NotFound {
        kind,
        name: name.to_owned(),
        hint,
    })
}

/// `(name, value)` query pairs.
pub(crate) fn query(pairs: &[(&str, &str)]) -> vitrina_openstack::Query {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}
