//! Ranking: Nomad's bin-packing score (fuller nodes score higher) and its job anti-affinity
//! penalty (allocations of the same group on the node push it down), combined by averaging.

use crate::resources::{Ask, Capacity, Usage};

/// Nomad's bin-pack fit, normalized to 0..=1: `20 - (10^freeCpu + 10^freeMem)` over 18, where
/// the free fractions are measured after the placement.
pub(crate) fn binpack(capacity: &Capacity, usage: &Usage, ask: &Ask) -> f64 {
    let free = |used: i64, total: i64| {
        if total <= 0 {
            return 0.0;
        }
        (1.0 - used as f64 / total as f64).clamp(0.0, 1.0)
    };
    let free_cpu = free(usage.cpu + ask.cpu, capacity.cpu);
    let free_memory = free(usage.memory_mb + ask.memory_mb, capacity.memory_mb);
    let total = 10f64.powf(free_cpu) + 10f64.powf(free_memory);
    (20.0 - total).clamp(0.0, 18.0) / 18.0
}

/// The final score of a node holding `collisions` allocations of the same job and group, for a
/// group that wants `desired` allocations.
pub(crate) fn combined(binpack_score: f64, collisions: u32, desired: u32) -> f64 {
    if collisions == 0 {
        return binpack_score;
    }
    let penalty = -f64::from(collisions + 1) / f64::from(desired.max(1));
    (binpack_score + penalty) / 2.0
}

#[cfg(test)]
mod tests {
    use drover_api::{Node, TaskGroup};

    use super::*;

    fn capacity(cpu: i64, memory: i64) -> Capacity {
        let mut node = Node::default();
        node.node_resources.cpu.cpu_shares = cpu;
        node.node_resources.memory.memory_mb = memory;
        Capacity::of(&node)
    }

    #[test]
    fn fuller_nodes_score_higher() {
        let ask = Ask::of(&TaskGroup::default());
        let cap = capacity(1000, 1000);
        let empty = Usage::default();
        let half = Usage {
            cpu: 500,
            memory_mb: 500,
            ..Default::default()
        };
        assert!(binpack(&cap, &half, &ask) > binpack(&cap, &empty, &ask));
        let full = Usage {
            cpu: 1000,
            memory_mb: 1000,
            ..Default::default()
        };
        assert!((binpack(&cap, &full, &ask) - 1.0).abs() < 1e-9);
        assert!((binpack(&cap, &empty, &ask) - 0.0).abs() < 1e-9);
    }

    #[test]
    fn collisions_lower_the_score() {
        assert!((combined(0.5, 0, 3) - 0.5).abs() < 1e-9);
        assert!(combined(0.5, 1, 3) < 0.5);
        assert!(combined(0.5, 2, 3) < combined(0.5, 1, 3));
    }
}
