//! Waiting for a resource to reach a state: poll with back-off until done, failed or timed out.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// How long and how often to poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitOptions {
    /// Give up after this long.
    pub timeout: Duration,
    /// First pause between polls.
    pub initial_interval: Duration,
    /// Longest pause between polls (the pause grows by half each time up to this).
    pub max_interval: Duration,
}

impl Default for WaitOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30 * 60),
            initial_interval: Duration::from_millis(250),
            max_interval: Duration::from_secs(5),
        }
    }
}

impl WaitOptions {
    /// Default intervals with another timeout.
    pub fn with_timeout(timeout: Duration) -> Self {
        Self {
            timeout,
            ..Self::default()
        }
    }
}

/// What one poll saw.
#[derive(Debug)]
pub enum Poll<T> {
    /// The goal is reached.
    Done(T),
    /// Not yet; the status seen (for the timeout message).
    Pending(String),
}

/// Polls `probe` until it returns [`Poll::Done`], returns an error, or `options.timeout` passes.
/// Retryable errors (transport, 5xx) are tolerated until the timeout.
pub async fn wait_for<T, F, Fut>(what: &str, options: WaitOptions, mut probe: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll<T>>>,
{
    let start = Instant::now();
    let mut interval = options.initial_interval;
    let mut last_status: String;
    loop {
        match probe().await {
            Ok(Poll::Done(value)) => return Ok(value),
            Ok(Poll::Pending(status)) => last_status = status,
            Err(error) if error.retryable() => last_status = format!("error: {error}"),
            Err(error) => return Err(error),
        }
        let waited = start.elapsed();
        if waited >= options.timeout {
            return Err(Error::Timeout {
                what: what.to_owned(),
                waited,
                last_status,
            });
        }
        let pause = interval.min(options.timeout.saturating_sub(waited));
        tokio::time::sleep(pause).await;
        interval = (interval + interval / 2).min(options.max_interval);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stops_when_done_and_times_out_with_last_status() {
        let mut n = 0;
        let value = wait_for("thing", WaitOptions::default(), || {
            n += 1;
            let seen = n;
            async move {
                Ok(if seen >= 3 {
                    Poll::Done(seen)
                } else {
                    Poll::Pending("BUILD".into())
                })
            }
        })
        .await
        .unwrap();
        assert_eq!(value, 3);

        let options = WaitOptions {
            timeout: Duration::from_millis(50),
            initial_interval: Duration::from_millis(10),
            max_interval: Duration::from_millis(20),
        };
        let error = wait_for::<(), _, _>("server `x` to become ACTIVE", options, || async {
            Ok(Poll::Pending("BUILD".into()))
        })
        .await
        .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("server `x` to become ACTIVE (last status `BUILD`)"),
            "{error}"
        );
    }
}
