//! Resource accounting: what a task group asks for, what a node offers, what its allocations
//! already use, and whether one more fits. Also the plan applier's re-check, [`allocs_fit`].

use std::collections::{BTreeMap, HashSet};

use drover_api::{
    AllocatedCpu, AllocatedMemory, AllocatedPortMapping, AllocatedResources,
    AllocatedSharedResources, AllocatedTaskResources, Allocation, NetworkResource, Node, Port,
    TaskGroup,
};

use crate::ports::PortPolicy;

/// Why allocations do not fit on a node.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FitError {
    #[error(
        "node {node} is not ready for allocations (status {status:?}, eligibility {eligibility:?}, drain {drain})"
    )]
    NodeNotReady {
        node: String,
        status: String,
        eligibility: String,
        drain: bool,
    },
    #[error("cpu exhausted: allocations need {needed} MHz but the node offers {available} MHz")]
    Cpu { needed: i64, available: i64 },
    #[error("memory exhausted: allocations need {needed} MB but the node offers {available} MB")]
    Memory { needed: i64, available: i64 },
    #[error("disk exhausted: allocations need {needed} MB but the node offers {available} MB")]
    Disk { needed: i64, available: i64 },
    #[error("reserved port collision {label}={port}: the node reserves this port for itself")]
    ReservedPort { label: String, port: u16 },
    #[error("port collision {label}={port}: another allocation on the node already uses it")]
    PortCollision { label: String, port: u16 },
    #[error("dynamic port selection failed: no {needed} free ports between {min} and {max}")]
    DynamicPortsExhausted { needed: usize, min: u16, max: u16 },
}

impl FitError {
    /// The key used in `AllocMetric.DimensionExhausted`, as Nomad names it.
    pub fn dimension(&self) -> String {
        match self {
            FitError::NodeNotReady { .. } => "node not ready".to_string(),
            FitError::Cpu { .. } => "cpu".to_string(),
            FitError::Memory { .. } => "memory".to_string(),
            FitError::Disk { .. } => "disk".to_string(),
            FitError::ReservedPort { label, port } | FitError::PortCollision { label, port } => {
                format!("network: reserved port collision {label}={port}")
            }
            FitError::DynamicPortsExhausted { .. } => {
                "network: dynamic port selection failed".to_string()
            }
        }
    }
}

/// What a node can give to allocations: its resources minus what it reserves for itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Capacity {
    pub(crate) cpu: i64,
    pub(crate) memory_mb: i64,
    /// Zero when the node does not report disk; disk is then not checked.
    pub(crate) disk_mb: i64,
    pub(crate) ports: PortPolicy,
}

impl Capacity {
    pub(crate) fn of(node: &Node) -> Self {
        let offered = &node.node_resources;
        let reserved = &node.reserved_resources;
        Capacity {
            cpu: offered.cpu.cpu_shares - reserved.cpu.cpu_shares,
            memory_mb: offered.memory.memory_mb - reserved.memory.memory_mb,
            disk_mb: if offered.disk.disk_mb > 0 {
                offered.disk.disk_mb - reserved.disk.disk_mb
            } else {
                0
            },
            ports: PortPolicy::of(node),
        }
    }
}

/// A static port a group asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StaticPort {
    pub(crate) label: String,
    pub(crate) value: u16,
    pub(crate) to: i32,
}

/// Everything one allocation of a group needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ask {
    /// Per task: name, CPU MHz, memory MB, memory max MB.
    tasks: Vec<(String, i64, i64, i64)>,
    pub(crate) cpu: i64,
    pub(crate) memory_mb: i64,
    pub(crate) disk_mb: i64,
    pub(crate) static_ports: Vec<StaticPort>,
    pub(crate) dynamic_ports: Vec<Port>,
    mbits: i32,
}

impl Ask {
    pub(crate) fn of(group: &TaskGroup) -> Self {
        let tasks: Vec<(String, i64, i64, i64)> = group
            .tasks
            .iter()
            .map(|task| {
                let memory_max = task
                    .resources
                    .as_ref()
                    .and_then(|r| r.memory_max_mb)
                    .map_or(0, i64::from);
                (
                    task.name.clone(),
                    task.cpu_mhz(),
                    task.memory_mb(),
                    memory_max,
                )
            })
            .collect();
        let networks = group
            .networks
            .iter()
            .filter(|n| n.mode.is_empty() || n.mode == "host");
        let mut static_ports = Vec::new();
        let mut dynamic_ports = Vec::new();
        let mut mbits = 0;
        for network in networks {
            mbits += network.mbits;
            for port in &network.reserved_ports {
                if let Ok(value) = u16::try_from(port.value) {
                    static_ports.push(StaticPort {
                        label: port.label.clone(),
                        value,
                        to: port.to,
                    });
                }
            }
            dynamic_ports.extend(network.dynamic_ports.iter().cloned());
        }
        Ask {
            cpu: tasks.iter().map(|t| t.1).sum(),
            memory_mb: tasks.iter().map(|t| t.2).sum(),
            disk_mb: group
                .ephemeral_disk
                .as_ref()
                .and_then(|d| d.size_mb)
                .map_or(0, i64::from),
            tasks,
            static_ports,
            dynamic_ports,
            mbits,
        }
    }

    /// The resources block of an allocation given its host ports (`dynamic` in the order of
    /// `dynamic_ports`).
    pub(crate) fn allocated(&self, dynamic: &[u16], host_ip: &str) -> AllocatedResources {
        let tasks = self
            .tasks
            .iter()
            .map(|(name, cpu, memory, memory_max)| {
                let resources = AllocatedTaskResources {
                    cpu: AllocatedCpu { cpu_shares: *cpu },
                    memory: AllocatedMemory {
                        memory_mb: *memory,
                        memory_max_mb: *memory_max,
                    },
                    networks: Vec::new(),
                };
                (name.clone(), resources)
            })
            .collect::<BTreeMap<_, _>>();
        let mut ports = Vec::with_capacity(self.static_ports.len() + dynamic.len());
        let mut reserved_ports = Vec::with_capacity(self.static_ports.len());
        for port in &self.static_ports {
            ports.push(AllocatedPortMapping {
                label: port.label.clone(),
                value: i32::from(port.value),
                to: port.to,
                host_ip: host_ip.to_string(),
            });
            reserved_ports.push(Port {
                label: port.label.clone(),
                value: i32::from(port.value),
                to: port.to,
                host_network: "default".to_string(),
            });
        }
        let mut dynamic_ports = Vec::with_capacity(dynamic.len());
        for (asked, &value) in self.dynamic_ports.iter().zip(dynamic) {
            ports.push(AllocatedPortMapping {
                label: asked.label.clone(),
                value: i32::from(value),
                to: asked.to,
                host_ip: host_ip.to_string(),
            });
            dynamic_ports.push(Port {
                label: asked.label.clone(),
                value: i32::from(value),
                to: asked.to,
                host_network: "default".to_string(),
            });
        }
        let networks = if ports.is_empty() && self.mbits == 0 {
            Vec::new()
        } else {
            vec![NetworkResource {
                mode: "host".to_string(),
                ip: host_ip.to_string(),
                mbits: self.mbits,
                reserved_ports,
                dynamic_ports,
                ..Default::default()
            }]
        };
        AllocatedResources {
            tasks,
            shared: AllocatedSharedResources {
                disk_mb: self.disk_mb,
                networks,
                ports,
            },
        }
    }
}

/// CPU, memory and disk an existing allocation holds.
fn alloc_cost(alloc: &Allocation) -> (i64, i64, i64) {
    if let Some(resources) = &alloc.allocated_resources {
        let cpu = resources.tasks.values().map(|t| t.cpu.cpu_shares).sum();
        let memory = resources.tasks.values().map(|t| t.memory.memory_mb).sum();
        return (cpu, memory, resources.shared.disk_mb);
    }
    match alloc
        .job
        .as_ref()
        .and_then(|job| job.group(&alloc.task_group))
    {
        Some(group) => {
            let ask = Ask::of(group);
            (ask.cpu, ask.memory_mb, ask.disk_mb)
        }
        None => (0, 0, 0),
    }
}

/// Host ports an existing allocation holds, with their labels, each port once.
pub(crate) fn alloc_ports(alloc: &Allocation) -> Vec<(u16, &str)> {
    fn add<'a>(found: &mut Vec<(u16, &'a str)>, value: i32, label: &'a str) {
        if let Ok(port) = u16::try_from(value)
            && port != 0
            && !found.iter().any(|(p, _)| *p == port)
        {
            found.push((port, label));
        }
    }
    let mut found: Vec<(u16, &str)> = Vec::new();
    match &alloc.allocated_resources {
        Some(resources) => {
            for mapping in &resources.shared.ports {
                add(&mut found, mapping.value, &mapping.label);
            }
            let task_networks = resources.tasks.values().flat_map(|t| t.networks.iter());
            for network in resources.shared.networks.iter().chain(task_networks) {
                for port in network.reserved_ports.iter().chain(&network.dynamic_ports) {
                    add(&mut found, port.value, &port.label);
                }
            }
        }
        None => {
            let group = alloc
                .job
                .as_ref()
                .and_then(|job| job.group(&alloc.task_group));
            for network in group.map(|g| g.networks.as_slice()).unwrap_or_default() {
                for port in &network.reserved_ports {
                    add(&mut found, port.value, &port.label);
                }
            }
        }
    }
    found
}

/// What the allocations on one node hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Usage {
    pub(crate) cpu: i64,
    pub(crate) memory_mb: i64,
    pub(crate) disk_mb: i64,
    pub(crate) ports: HashSet<u16>,
}

impl Usage {
    /// Counts `alloc` in; returns the first of its ports that was already held.
    pub(crate) fn add<'a>(&mut self, alloc: &'a Allocation) -> Option<(u16, &'a str)> {
        let (cpu, memory, disk) = alloc_cost(alloc);
        self.cpu += cpu;
        self.memory_mb += memory;
        self.disk_mb += disk;
        let mut collision = None;
        for (port, label) in alloc_ports(alloc) {
            if !self.ports.insert(port) && collision.is_none() {
                collision = Some((port, label));
            }
        }
        collision
    }

    /// Counts `alloc` out again.
    pub(crate) fn remove(&mut self, alloc: &Allocation) {
        let (cpu, memory, disk) = alloc_cost(alloc);
        self.cpu -= cpu;
        self.memory_mb -= memory;
        self.disk_mb -= disk;
        for (port, _) in alloc_ports(alloc) {
            self.ports.remove(&port);
        }
    }

    /// Checks CPU, memory and disk totals against the node's capacity.
    fn check_totals(&self, capacity: &Capacity) -> Result<(), FitError> {
        if self.cpu > capacity.cpu {
            return Err(FitError::Cpu {
                needed: self.cpu,
                available: capacity.cpu,
            });
        }
        if self.memory_mb > capacity.memory_mb {
            return Err(FitError::Memory {
                needed: self.memory_mb,
                available: capacity.memory_mb,
            });
        }
        if capacity.disk_mb > 0 && self.disk_mb > capacity.disk_mb {
            return Err(FitError::Disk {
                needed: self.disk_mb,
                available: capacity.disk_mb,
            });
        }
        Ok(())
    }

    /// Whether one more allocation asking `ask` fits next to what is already held.
    pub(crate) fn fits(&self, capacity: &Capacity, ask: &Ask) -> Result<(), FitError> {
        let after = Usage {
            cpu: self.cpu + ask.cpu,
            memory_mb: self.memory_mb + ask.memory_mb,
            disk_mb: self.disk_mb + ask.disk_mb,
            ports: HashSet::new(),
        };
        after.check_totals(capacity)?;
        for port in &ask.static_ports {
            if capacity.ports.reserved.contains(port.value) {
                return Err(FitError::ReservedPort {
                    label: port.label.clone(),
                    port: port.value,
                });
            }
            if self.ports.contains(&port.value) {
                return Err(FitError::PortCollision {
                    label: port.label.clone(),
                    port: port.value,
                });
            }
        }
        if !ask.dynamic_ports.is_empty() {
            let mut held = self.ports.clone();
            held.extend(ask.static_ports.iter().map(|p| p.value));
            let needed = ask.dynamic_ports.len();
            if (capacity.ports.free_dynamic(&held) as usize) < needed {
                return Err(FitError::DynamicPortsExhausted {
                    needed,
                    min: capacity.ports.min_dynamic,
                    max: capacity.ports.max_dynamic,
                });
            }
        }
        Ok(())
    }
}

/// The plan applier's re-check: whether `proposed` (every allocation meant to be on `node` once
/// a plan applies) fits there. Terminal allocations in `proposed` are ignored. Checks that the
/// node is ready, CPU, memory and disk totals, ports reserved by the node, and ports used twice.
pub fn allocs_fit(node: &Node, proposed: &[&Allocation]) -> Result<(), FitError> {
    if !node.ready() {
        return Err(FitError::NodeNotReady {
            node: node.id.clone(),
            status: node.status.clone(),
            eligibility: node.scheduling_eligibility.clone(),
            drain: node.drain,
        });
    }
    let capacity = Capacity::of(node);
    let mut usage = Usage::default();
    for alloc in proposed.iter().filter(|a| !a.terminal()) {
        for (port, label) in alloc_ports(alloc) {
            if capacity.ports.reserved.contains(port) {
                return Err(FitError::ReservedPort {
                    label: label.to_string(),
                    port,
                });
            }
        }
        if let Some((port, label)) = usage.add(alloc) {
            return Err(FitError::PortCollision {
                label: label.to_string(),
                port,
            });
        }
    }
    usage.check_totals(&capacity)
}

#[cfg(test)]
mod tests {
    use drover_api::{EphemeralDisk, Resources, Task};

    use super::*;

    fn group() -> TaskGroup {
        let task = |name: &str, cpu: i32, memory: i32| Task {
            name: name.into(),
            resources: Some(Resources {
                cpu: Some(cpu),
                memory_mb: Some(memory),
                ..Default::default()
            }),
            ..Default::default()
        };
        let port = |label: &str, value: i32, to: i32| Port {
            label: label.into(),
            value,
            to,
            ..Default::default()
        };
        TaskGroup {
            tasks: vec![task("a", 100, 64), task("b", 250, 128)],
            ephemeral_disk: Some(EphemeralDisk {
                size_mb: Some(150),
                ..Default::default()
            }),
            networks: vec![NetworkResource {
                reserved_ports: vec![port("http", 8080, 80)],
                dynamic_ports: vec![port("admin", 0, 0)],
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn node(cpu: i64, memory: i64, disk: i64) -> Node {
        let mut node = Node::default();
        node.node_resources.cpu.cpu_shares = cpu;
        node.node_resources.memory.memory_mb = memory;
        node.node_resources.disk.disk_mb = disk;
        node
    }

    #[test]
    fn ask_sums_tasks_and_collects_ports() {
        let ask = Ask::of(&group());
        assert_eq!((ask.cpu, ask.memory_mb, ask.disk_mb), (350, 192, 150));
        assert_eq!(ask.static_ports[0].value, 8080);
        assert_eq!(ask.dynamic_ports[0].label, "admin");
        let allocated = ask.allocated(&[21000], "10.1.2.3");
        assert_eq!(allocated.tasks["b"].cpu.cpu_shares, 250);
        let ports: Vec<(&str, i32, i32)> = allocated
            .shared
            .ports
            .iter()
            .map(|p| (p.label.as_str(), p.value, p.to))
            .collect();
        assert_eq!(ports, vec![("http", 8080, 80), ("admin", 21000, 0)]);
        assert!(
            allocated
                .shared
                .ports
                .iter()
                .all(|p| p.host_ip == "10.1.2.3")
        );
        assert_eq!(allocated.shared.networks[0].ip, "10.1.2.3");
        assert_eq!(allocated.shared.networks[0].dynamic_ports[0].value, 21000);
        let alloc = Allocation {
            allocated_resources: Some(allocated),
            ..Default::default()
        };
        let held: Vec<u16> = alloc_ports(&alloc).into_iter().map(|(p, _)| p).collect();
        assert_eq!(held, vec![8080, 21000]);
    }

    #[test]
    fn usage_fit_names_the_exhausted_dimension() {
        let ask = Ask::of(&group());
        let capacity = Capacity::of(&node(400, 1000, 100));
        let usage = Usage::default();
        let err = usage.fits(&capacity, &ask).err();
        assert_eq!(
            err.as_ref().map(FitError::dimension).as_deref(),
            Some("disk")
        );
        let capacity = Capacity::of(&node(300, 1000, 0));
        let err = usage.fits(&capacity, &ask).err();
        assert_eq!(
            err,
            Some(FitError::Cpu {
                needed: 350,
                available: 300
            })
        );
        let capacity = Capacity::of(&node(4000, 4000, 0));
        assert_eq!(usage.fits(&capacity, &ask), Ok(()));
        let busy = Usage {
            ports: HashSet::from([8080]),
            ..Default::default()
        };
        let err = busy.fits(&capacity, &ask).err();
        assert_eq!(
            err.as_ref().map(FitError::dimension).as_deref(),
            Some("network: reserved port collision http=8080")
        );
    }

    #[test]
    fn usage_add_and_remove_round_trip() {
        let ask = Ask::of(&group());
        let alloc = Allocation {
            allocated_resources: Some(ask.allocated(&[20001], "")),
            ..Default::default()
        };
        let mut usage = Usage::default();
        assert_eq!(usage.add(&alloc), None);
        assert_eq!((usage.cpu, usage.memory_mb, usage.disk_mb), (350, 192, 150));
        assert_eq!(usage.add(&alloc), Some((8080, "http")));
        usage.remove(&alloc);
        usage.remove(&alloc);
        assert_eq!(usage, Usage::default());
    }

    #[test]
    fn allocations_without_resources_are_costed_from_their_job() {
        let job = drover_api::Job {
            task_groups: vec![TaskGroup {
                name: "g".into(),
                ..group()
            }],
            ..Default::default()
        };
        let alloc = Allocation {
            job: Some(job),
            task_group: "g".into(),
            ..Default::default()
        };
        let mut usage = Usage::default();
        usage.add(&alloc);
        assert_eq!((usage.cpu, usage.memory_mb), (350, 192));
        assert!(usage.ports.contains(&8080));
    }
}
