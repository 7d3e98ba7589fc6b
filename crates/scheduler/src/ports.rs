//! Host ports: the node's reserved port list (`"22,80,8000-8100"`), the dynamic port range, and
//! the choice of free dynamic ports for a new allocation.

use std::collections::HashSet;

use drover_api::Node;

use crate::rng::SeededRng;

/// Lowest dynamic port when the node does not report a range.
pub const DEFAULT_MIN_DYNAMIC_PORT: u16 = 20000;
/// Highest dynamic port when the node does not report a range.
pub const DEFAULT_MAX_DYNAMIC_PORT: u16 = 32000;

/// Random attempts before falling back to a scan of the whole range.
const RANDOM_PICK_ATTEMPTS: usize = 20;

/// Ports a node keeps for itself, as inclusive ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ReservedPorts {
    ranges: Vec<(u16, u16)>,
}

impl ReservedPorts {
    /// Parses a comma-separated list of ports and `low-high` ranges. Entries that are not valid
    /// ports are skipped: the node's own agent validates its configuration.
    pub(crate) fn parse(spec: &str) -> Self {
        let ranges = spec
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .filter_map(|entry| match entry.split_once('-') {
                Some((low, high)) => {
                    let low = low.trim().parse::<u16>().ok()?;
                    let high = high.trim().parse::<u16>().ok()?;
                    (low <= high).then_some((low, high))
                }
                None => entry.parse::<u16>().ok().map(|port| (port, port)),
            })
            .collect();
        ReservedPorts { ranges }
    }

    pub(crate) fn contains(&self, port: u16) -> bool {
        self.ranges
            .iter()
            .any(|&(low, high)| (low..=high).contains(&port))
    }

    /// How many reserved ports fall inside `low..=high`.
    fn count_within(&self, low: u16, high: u16) -> u32 {
        let mut seen = HashSet::new();
        for &(a, b) in &self.ranges {
            for port in a.max(low)..=b.min(high) {
                seen.insert(port);
            }
        }
        u32::try_from(seen.len()).unwrap_or(u32::MAX)
    }
}

/// What a node offers in host ports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PortPolicy {
    pub(crate) reserved: ReservedPorts,
    pub(crate) min_dynamic: u16,
    pub(crate) max_dynamic: u16,
    /// Reserved ports inside the dynamic range, counted once.
    reserved_in_dynamic: u32,
}

impl PortPolicy {
    pub(crate) fn of(node: &Node) -> Self {
        let reserved = ReservedPorts::parse(&node.reserved_resources.networks.reserved_host_ports);
        let resources = &node.node_resources;
        let (mut min_dynamic, mut max_dynamic) = (
            u16::try_from(resources.min_dynamic_port).unwrap_or(0),
            u16::try_from(resources.max_dynamic_port).unwrap_or(0),
        );
        if min_dynamic == 0 {
            min_dynamic = DEFAULT_MIN_DYNAMIC_PORT;
        }
        if max_dynamic == 0 {
            max_dynamic = DEFAULT_MAX_DYNAMIC_PORT;
        }
        let reserved_in_dynamic = reserved.count_within(min_dynamic, max_dynamic);
        PortPolicy {
            reserved,
            min_dynamic,
            max_dynamic,
            reserved_in_dynamic,
        }
    }

    /// Dynamic ports still free given the ports in `used`.
    pub(crate) fn free_dynamic(&self, used: &HashSet<u16>) -> u32 {
        if self.max_dynamic < self.min_dynamic {
            return 0;
        }
        let size = u32::from(self.max_dynamic - self.min_dynamic) + 1;
        let used_in_range = used
            .iter()
            .filter(|&&p| {
                (self.min_dynamic..=self.max_dynamic).contains(&p) && !self.reserved.contains(p)
            })
            .count();
        size.saturating_sub(self.reserved_in_dynamic)
            .saturating_sub(u32::try_from(used_in_range).unwrap_or(u32::MAX))
    }

    /// Picks `count` distinct free dynamic ports, none in `used` or `also_taken`. Tries random
    /// ports first, then scans from a random offset. None when the range has too few left.
    pub(crate) fn pick_dynamic(
        &self,
        count: usize,
        used: &HashSet<u16>,
        also_taken: &[u16],
        rng: &mut SeededRng,
    ) -> Option<Vec<u16>> {
        if self.max_dynamic < self.min_dynamic {
            return (count == 0).then(Vec::new);
        }
        let mut picked: Vec<u16> = Vec::with_capacity(count);
        let free = |port: u16, picked: &[u16]| {
            !used.contains(&port)
                && !self.reserved.contains(port)
                && !also_taken.contains(&port)
                && !picked.contains(&port)
        };
        let (low, high) = (u32::from(self.min_dynamic), u32::from(self.max_dynamic));
        'next_port: while picked.len() < count {
            for _ in 0..RANDOM_PICK_ATTEMPTS {
                let port = u16::try_from(rng.between(low, high)).unwrap_or(self.min_dynamic);
                if free(port, &picked) {
                    picked.push(port);
                    continue 'next_port;
                }
            }
            let span = high - low + 1;
            let start = rng.between(0, span - 1);
            let found = (0..span)
                .filter_map(|step| u16::try_from(low + (start + step) % span).ok())
                .find(|&port| free(port, &picked))?;
            picked.push(found);
        }
        Some(picked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_reserved_ports_and_ranges() {
        let reserved = ReservedPorts::parse("22, 80,8000-8100,bogus,9-1,70000");
        assert!(reserved.contains(22));
        assert!(reserved.contains(80));
        assert!(reserved.contains(8000));
        assert!(reserved.contains(8050));
        assert!(reserved.contains(8100));
        assert!(!reserved.contains(8101));
        assert!(!reserved.contains(5));
        assert!(ReservedPorts::parse("").ranges.is_empty());
    }

    #[test]
    fn dynamic_range_defaults_and_reserved_count() {
        let mut node = Node::default();
        let policy = PortPolicy::of(&node);
        assert_eq!((policy.min_dynamic, policy.max_dynamic), (20000, 32000));
        node.node_resources.min_dynamic_port = 30000;
        node.node_resources.max_dynamic_port = 30009;
        node.reserved_resources.networks.reserved_host_ports = "30000-30001,30001,1".into();
        let policy = PortPolicy::of(&node);
        assert_eq!(policy.free_dynamic(&HashSet::new()), 8);
        assert_eq!(policy.free_dynamic(&HashSet::from([30005, 30000, 1])), 7);
    }

    #[test]
    fn picks_distinct_free_ports_until_exhausted() {
        let mut node = Node::default();
        node.node_resources.min_dynamic_port = 40000;
        node.node_resources.max_dynamic_port = 40004;
        node.reserved_resources.networks.reserved_host_ports = "40000".into();
        let policy = PortPolicy::of(&node);
        let used = HashSet::from([40001]);
        let mut rng = SeededRng::new(3);
        let mut ports = policy
            .pick_dynamic(2, &used, &[40002], &mut rng)
            .unwrap_or_default();
        ports.sort_unstable();
        assert_eq!(ports, vec![40003, 40004]);
        assert!(policy.pick_dynamic(3, &used, &[40002], &mut rng).is_none());
    }
}
