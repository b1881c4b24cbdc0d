//! The parallel graph walk: every node starts as soon as all its dependencies succeeded; a node
//! that fails (or is skipped) makes only its dependents skip, everything else goes on. How much
//! runs at once is bounded by the caller's semaphore around the expensive part of a node (the
//! provider call), so cheap nodes and nodes waiting for a state write hold no permit.

use std::future::Future;
use std::pin::Pin;

use tokio::task::JoinSet;

use crate::graph::{Graph, NodeId};

/// How each node of a walk ended.
#[derive(Debug)]
pub struct WalkOutcome<E> {
    pub succeeded: Vec<NodeId>,
    pub failed: Vec<(NodeId, E)>,
    /// Not run because a dependency failed or was skipped.
    pub skipped: Vec<NodeId>,
}

impl<E> WalkOutcome<E> {
    pub fn is_success(&self) -> bool {
        self.failed.is_empty() && self.skipped.is_empty()
    }
}

type NodeFuture<E> = Pin<Box<dyn Future<Output = Result<(), E>> + Send>>;

/// Walks `graph` (which must be acyclic; nodes in a cycle never become ready and end up
/// skipped), running `visit` for each node.
pub async fn walk<E, F>(graph: &Graph, visit: F) -> WalkOutcome<E>
where
    E: Send + 'static,
    F: Fn(NodeId) -> NodeFuture<E>,
{
    let n = graph.len();
    let mut remaining: Vec<usize> = (0..n).map(|i| graph.dependencies(i).len()).collect();
    let mut blocked = vec![false; n];
    let mut outcome = WalkOutcome {
        succeeded: Vec::new(),
        failed: Vec::new(),
        skipped: Vec::new(),
    };
    let mut running: JoinSet<(NodeId, Result<(), E>)> = JoinSet::new();
    let ready: Vec<NodeId> = remaining
        .iter()
        .enumerate()
        .filter(|(_, &r)| r == 0)
        .map(|(i, _)| i)
        .collect();
    for node in ready {
        let fut = visit(node);
        running.spawn(async move { (node, fut.await) });
    }
    while let Some(joined) = running.join_next().await {
        let (node, result) = match joined {
            Ok(r) => r,
            // A node task panicked: the panic is the bug; its dependents cannot know their
            // inputs, so they are skipped like after any failure. The node id is lost with the
            // panic, so we cannot attribute it; resume the panic to surface the bug.
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => continue,
        };
        match result {
            Ok(()) => {
                outcome.succeeded.push(node);
                for &d in graph.dependents(node) {
                    remaining[d] -= 1;
                    if remaining[d] == 0 && !blocked[d] {
                        let fut = visit(d);
                        running.spawn(async move { (d, fut.await) });
                    }
                }
            }
            Err(e) => {
                outcome.failed.push((node, e));
                for d in graph.transitive_dependents(node) {
                    blocked[d] = true;
                }
            }
        }
    }
    let done: std::collections::HashSet<NodeId> = outcome
        .succeeded
        .iter()
        .copied()
        .chain(outcome.failed.iter().map(|(n, _)| *n))
        .collect();
    outcome.skipped = (0..n).filter(|i| !done.contains(i)).collect();
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[tokio::test]
    async fn a_failure_skips_only_its_dependents() {
        // 0 <- 1 <- 2 ; 3 independent ; 4 depends on 3
        let mut g = Graph::with_nodes(5);
        g.add_edge(1, 0);
        g.add_edge(2, 1);
        g.add_edge(4, 3);
        let order = Arc::new(Mutex::new(Vec::new()));
        let o = order.clone();
        let outcome = walk(&g, move |node| {
            let o = o.clone();
            Box::pin(async move {
                o.lock().expect("lock").push(node);
                if node == 1 {
                    Err("boom")
                } else {
                    Ok(())
                }
            })
        })
        .await;
        assert_eq!(outcome.failed.len(), 1);
        assert_eq!(outcome.failed[0].0, 1);
        assert_eq!(outcome.skipped, vec![2]);
        let mut ok = outcome.succeeded.clone();
        ok.sort_unstable();
        assert_eq!(ok, vec![0, 3, 4]);
        let order = order.lock().expect("lock").clone();
        let pos = |n| order.iter().position(|&x| x == n).expect("ran");
        assert!(pos(3) < pos(4));
        assert!(pos(0) < pos(1));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn independent_nodes_run_concurrently() {
        let g = Graph::with_nodes(8);
        let gate = Arc::new(tokio::sync::Barrier::new(8));
        let outcome: WalkOutcome<()> = walk(&g, move |_| {
            let gate = gate.clone();
            Box::pin(async move {
                // Completes only if all eight run at the same time.
                gate.wait().await;
                Ok(())
            })
        })
        .await;
        assert_eq!(outcome.succeeded.len(), 8);
    }
}
