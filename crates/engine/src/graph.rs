//! A directed graph of dependencies with cycle detection (Tarjan's strongly connected components)
//! and a dependency-first order. Nodes are plain indices; the caller keeps what they stand for.
//!
//! An edge `a → b` means "`a` depends on `b`": `b` must be done before `a` starts.

/// Index of a node in a [`Graph`].
pub type NodeId = usize;

/// A dependency graph over `n` nodes.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    /// `deps[a]` lists the nodes `a` depends on (deduplicated, in insertion order).
    deps: Vec<Vec<NodeId>>,
    /// `dependents[b]` lists the nodes that depend on `b`.
    dependents: Vec<Vec<NodeId>>,
}

impl Graph {
    pub fn with_nodes(n: usize) -> Self {
        Graph {
            deps: vec![Vec::new(); n],
            dependents: vec![Vec::new(); n],
        }
    }

    /// Adds a node and returns its id.
    pub fn add_node(&mut self) -> NodeId {
        self.deps.push(Vec::new());
        self.dependents.push(Vec::new());
        self.deps.len() - 1
    }

    pub fn len(&self) -> usize {
        self.deps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.deps.is_empty()
    }

    /// Records that `from` depends on `to`. Self-edges are kept (they are cycles); duplicates are
    /// ignored. Ids out of range are ignored.
    pub fn add_edge(&mut self, from: NodeId, to: NodeId) {
        if from >= self.deps.len() || to >= self.deps.len() {
            return;
        }
        if !self.deps[from].contains(&to) {
            self.deps[from].push(to);
            self.dependents[to].push(from);
        }
    }

    pub fn dependencies(&self, node: NodeId) -> &[NodeId] {
        self.deps.get(node).map_or(&[], Vec::as_slice)
    }

    pub fn dependents(&self, node: NodeId) -> &[NodeId] {
        self.dependents.get(node).map_or(&[], Vec::as_slice)
    }

    /// Every cycle, as the nodes of each strongly connected component with more than one node
    /// (or one node with an edge to itself). Each cycle is listed in an order that follows its
    /// edges where possible; cycles are ordered by their smallest node.
    pub fn cycles(&self) -> Vec<Vec<NodeId>> {
        let mut out: Vec<Vec<NodeId>> = tarjan(&self.deps)
            .into_iter()
            .filter(|scc| scc.len() > 1 || scc.first().is_some_and(|&n| self.deps[n].contains(&n)))
            .map(|scc| self.order_cycle(scc))
            .collect();
        out.sort_by_key(|c| c.iter().copied().min());
        out
    }

    /// Orders the nodes of one strongly connected component along a path of its edges, starting
    /// from its smallest node.
    fn order_cycle(&self, mut scc: Vec<NodeId>) -> Vec<NodeId> {
        scc.sort_unstable();
        let Some(&start) = scc.first() else {
            return scc;
        };
        let in_scc: std::collections::HashSet<NodeId> = scc.iter().copied().collect();
        let mut on_path: std::collections::HashSet<NodeId> = std::collections::HashSet::new();
        on_path.insert(start);
        let mut path = vec![start];
        let mut current = start;
        while let Some(n) = self.deps[current]
            .iter()
            .copied()
            .filter(|n| in_scc.contains(n) && !on_path.contains(n))
            .min()
        {
            on_path.insert(n);
            path.push(n);
            current = n;
        }
        for n in scc {
            if !on_path.contains(&n) {
                path.push(n);
            }
        }
        path
    }

    /// A dependency-first order of all nodes (dependencies before dependents), or the cycles if
    /// there are any. Ties are broken by node id, so the order is deterministic.
    pub fn topological_order(&self) -> Result<Vec<NodeId>, Vec<Vec<NodeId>>> {
        let n = self.deps.len();
        let mut remaining: Vec<usize> = self.deps.iter().map(Vec::len).collect();
        let mut ready: std::collections::BinaryHeap<std::cmp::Reverse<NodeId>> = (0..n)
            .filter(|&i| remaining[i] == 0)
            .map(std::cmp::Reverse)
            .collect();
        let mut order = Vec::with_capacity(n);
        while let Some(std::cmp::Reverse(node)) = ready.pop() {
            order.push(node);
            for &d in &self.dependents[node] {
                remaining[d] -= 1;
                if remaining[d] == 0 {
                    ready.push(std::cmp::Reverse(d));
                }
            }
        }
        if order.len() == n {
            Ok(order)
        } else {
            Err(self.cycles())
        }
    }

    /// Every node that depends on `node`, directly or not.
    pub fn transitive_dependents(&self, node: NodeId) -> Vec<NodeId> {
        let mut seen = vec![false; self.deps.len()];
        let mut stack = vec![node];
        let mut out = Vec::new();
        while let Some(n) = stack.pop() {
            for &d in self.dependents(n) {
                if !seen[d] {
                    seen[d] = true;
                    out.push(d);
                    stack.push(d);
                }
            }
        }
        out.sort_unstable();
        out
    }
}

/// Tarjan's strongly connected components, iterative (no recursion depth limit on big graphs).
fn tarjan(edges: &[Vec<NodeId>]) -> Vec<Vec<NodeId>> {
    const UNVISITED: usize = usize::MAX;
    let n = edges.len();
    let mut index = vec![UNVISITED; n];
    let mut lowlink = vec![0usize; n];
    let mut on_stack = vec![false; n];
    let mut stack: Vec<NodeId> = Vec::new();
    let mut next_index = 0usize;
    let mut out = Vec::new();
    // Call stack of (node, position in its edge list).
    let mut calls: Vec<(NodeId, usize)> = Vec::new();

    for root in 0..n {
        if index[root] != UNVISITED {
            continue;
        }
        calls.push((root, 0));
        index[root] = next_index;
        lowlink[root] = next_index;
        next_index += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut pos)) = calls.last_mut() {
            if let Some(&w) = edges[v].get(*pos) {
                *pos += 1;
                if index[w] == UNVISITED {
                    index[w] = next_index;
                    lowlink[w] = next_index;
                    next_index += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    calls.push((w, 0));
                } else if on_stack[w] {
                    lowlink[v] = lowlink[v].min(index[w]);
                }
            } else {
                calls.pop();
                if let Some(&(parent, _)) = calls.last() {
                    lowlink[parent] = lowlink[parent].min(lowlink[v]);
                }
                if lowlink[v] == index[v] {
                    let mut scc = Vec::new();
                    while let Some(w) = stack.pop() {
                        on_stack[w] = false;
                        scc.push(w);
                        if w == v {
                            break;
                        }
                    }
                    out.push(scc);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_dependencies_first() {
        let mut g = Graph::with_nodes(4);
        g.add_edge(0, 1);
        g.add_edge(1, 2);
        g.add_edge(3, 2);
        let order = g.topological_order().expect("acyclic");
        let pos = |n| order.iter().position(|&x| x == n).expect("present");
        assert!(pos(2) < pos(1));
        assert!(pos(1) < pos(0));
        assert!(pos(2) < pos(3));
    }

    #[test]
    fn reports_each_cycle_along_its_edges() {
        let mut g = Graph::with_nodes(6);
        g.add_edge(0, 1);
        g.add_edge(1, 2);
        g.add_edge(2, 0);
        g.add_edge(3, 4);
        g.add_edge(5, 5);
        assert_eq!(g.cycles(), vec![vec![0, 1, 2], vec![5]]);
        assert_eq!(g.topological_order(), Err(vec![vec![0, 1, 2], vec![5]]));
    }

    #[test]
    fn big_chain_does_not_overflow_the_stack() {
        let n = 200_000;
        let mut g = Graph::with_nodes(n);
        for i in 1..n {
            g.add_edge(i, i - 1);
        }
        g.add_edge(0, n - 1);
        let cycles = g.cycles();
        assert_eq!(cycles.len(), 1);
        assert_eq!(cycles[0].len(), n);
    }

    #[test]
    fn transitive_dependents_follow_reverse_edges() {
        let mut g = Graph::with_nodes(4);
        g.add_edge(1, 0);
        g.add_edge(2, 1);
        g.add_edge(3, 2);
        assert_eq!(g.transitive_dependents(1), vec![2, 3]);
    }
}
