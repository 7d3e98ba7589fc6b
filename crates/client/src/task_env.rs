//! The task environment: the `NOMAD_*` variables Nomad sets (identity, directories, resources,
//! ports, meta), merged over the host environment and under the task's own `env` block.

use std::collections::BTreeMap;

use drover_api::{Allocation, NetworkResource, Task};

use crate::alloc_dir::{AllocDir, TaskDir};

/// What the environment and interpolation know about the node.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeInfo {
    pub id: String,
    pub name: String,
    pub datacenter: String,
    pub region: String,
    pub class: String,
    pub pool: String,
    pub attributes: BTreeMap<String, String>,
    pub meta: BTreeMap<String, String>,
    /// IP given to ports that carry none of their own.
    pub network_ip: String,
}

/// Nomad's key sanitizing for env names: anything but ASCII letters, digits and `_` becomes `_`.
pub fn sanitize(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A port as the environment sees it.
struct EnvPort {
    label: String,
    ip: String,
    host_port: i32,
    to: i32,
}

/// The host address and port of the port labelled `label` (group ports first, then the
/// tasks'), for service registrations.
pub fn port_address(alloc: &Allocation, node: &NodeInfo, label: &str) -> Option<(String, i32)> {
    group_ports(alloc, node)
        .into_iter()
        .chain(
            task_ports(alloc, node)
                .into_iter()
                .flat_map(|(_, ports)| ports),
        )
        .find(|p| p.label == label)
        .map(|p| (p.ip, p.host_port))
}

/// The `NOMAD_*` variables of `task` in `alloc` (without host env or the task's `env`).
pub fn nomad_vars(
    alloc: &Allocation,
    task: &Task,
    alloc_dir: &AllocDir,
    task_dir: &TaskDir,
    node: &NodeInfo,
) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    let mut set = |k: String, v: String| {
        env.insert(k, v);
    };
    let job = alloc.job.as_ref();
    set("NOMAD_ALLOC_ID".into(), alloc.id.clone());
    set(
        "NOMAD_SHORT_ALLOC_ID".into(),
        alloc.id.chars().take(8).collect(),
    );
    set("NOMAD_ALLOC_NAME".into(), alloc.name.clone());
    set("NOMAD_ALLOC_INDEX".into(), alloc.index().to_string());
    set("NOMAD_TASK_NAME".into(), task.name.clone());
    set("NOMAD_GROUP_NAME".into(), alloc.task_group.clone());
    set("NOMAD_JOB_ID".into(), alloc.job_id.clone());
    set(
        "NOMAD_JOB_NAME".into(),
        job.map(|j| j.name.clone())
            .unwrap_or_else(|| alloc.job_id.clone()),
    );
    if let Some(parent) = job.map(|j| j.parent_id.clone()).filter(|p| !p.is_empty()) {
        set("NOMAD_JOB_PARENT_ID".into(), parent);
    }
    let namespace = if alloc.namespace.is_empty() {
        drover_api::DEFAULT_NAMESPACE
    } else {
        &alloc.namespace
    };
    set("NOMAD_NAMESPACE".into(), namespace.to_string());
    set(
        "NOMAD_REGION".into(),
        job.map(|j| j.region.clone())
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| node.region.clone()),
    );
    set("NOMAD_DC".into(), node.datacenter.clone());
    set("NOMAD_ALLOC_DIR".into(), path_text(&alloc_dir.shared()));
    set("NOMAD_TASK_DIR".into(), path_text(&task_dir.local));
    set("NOMAD_SECRETS_DIR".into(), path_text(&task_dir.secrets));

    let allocated = alloc
        .allocated_resources
        .as_ref()
        .and_then(|r| r.tasks.get(&task.name));
    let cpu = allocated
        .map(|r| r.cpu.cpu_shares)
        .filter(|c| *c > 0)
        .unwrap_or_else(|| task.cpu_mhz());
    let memory = allocated
        .map(|r| r.memory.memory_mb)
        .filter(|m| *m > 0)
        .unwrap_or_else(|| task.memory_mb());
    set("NOMAD_CPU_LIMIT".into(), cpu.to_string());
    set("NOMAD_MEMORY_LIMIT".into(), memory.to_string());
    let memory_max = allocated
        .map(|r| r.memory.memory_max_mb)
        .filter(|m| *m > 0)
        .or_else(|| {
            task.resources
                .as_ref()
                .and_then(|r| r.memory_max_mb)
                .map(i64::from)
                .filter(|m| *m > 0)
        });
    if let Some(max) = memory_max {
        set("NOMAD_MEMORY_MAX_LIMIT".into(), max.to_string());
    }
    // NOMAD_CPU_CORES lists the cores reserved for the task (a cpuset such as "0-1,3"). The
    // allocation names no reserved cores yet, so it is left out rather than guessed from the
    // count the task asked for.

    for port in group_ports(alloc, node) {
        let l = sanitize(&port.label);
        let inner = if port.to > 0 { port.to } else { port.host_port };
        let host_addr = format!("{}:{}", port.ip, port.host_port);
        set(format!("NOMAD_IP_{l}"), port.ip.clone());
        set(format!("NOMAD_HOST_IP_{l}"), port.ip.clone());
        set(format!("NOMAD_PORT_{l}"), inner.to_string());
        set(format!("NOMAD_ALLOC_PORT_{l}"), inner.to_string());
        set(format!("NOMAD_HOST_PORT_{l}"), port.host_port.to_string());
        set(format!("NOMAD_ADDR_{l}"), host_addr.clone());
        set(format!("NOMAD_HOST_ADDR_{l}"), host_addr);
    }
    for (task_name, ports) in task_ports(alloc, node) {
        let t = sanitize(&task_name);
        for port in ports {
            let l = sanitize(&port.label);
            set(
                format!("NOMAD_ADDR_{t}_{l}"),
                format!("{}:{}", port.ip, port.host_port),
            );
            set(format!("NOMAD_IP_{t}_{l}"), port.ip.clone());
            set(format!("NOMAD_PORT_{t}_{l}"), port.host_port.to_string());
        }
    }

    for (k, v) in merged_meta(alloc, task) {
        let key = sanitize(&k);
        set(
            format!("NOMAD_META_{}", key.to_ascii_uppercase()),
            v.clone(),
        );
        set(format!("NOMAD_META_{key}"), v);
    }
    env
}

/// Job meta, overridden by group meta, overridden by task meta.
pub fn merged_meta(alloc: &Allocation, task: &Task) -> BTreeMap<String, String> {
    let mut meta = BTreeMap::new();
    if let Some(job) = &alloc.job {
        meta.extend(job.meta.clone());
        if let Some(group) = job.group(&alloc.task_group) {
            meta.extend(group.meta.clone());
        }
    }
    meta.extend(task.meta.clone());
    meta
}

/// The group's ports: from the allocation's shared ports, else its shared networks, else the
/// group's static ports.
fn group_ports(alloc: &Allocation, node: &NodeInfo) -> Vec<EnvPort> {
    let ip_or = |ip: &str| {
        if ip.is_empty() {
            node.network_ip.clone()
        } else {
            ip.to_string()
        }
    };
    if let Some(shared) = alloc.allocated_resources.as_ref().map(|r| &r.shared) {
        if !shared.ports.is_empty() {
            return shared
                .ports
                .iter()
                .map(|p| EnvPort {
                    label: p.label.clone(),
                    ip: ip_or(&p.host_ip),
                    host_port: p.value,
                    to: p.to,
                })
                .collect();
        }
        if !shared.networks.is_empty() {
            return network_ports(&shared.networks, node);
        }
    }
    alloc
        .job
        .as_ref()
        .and_then(|j| j.group(&alloc.task_group))
        .map(|g| network_ports(&g.networks, node))
        .unwrap_or_default()
}

fn task_ports(alloc: &Allocation, node: &NodeInfo) -> Vec<(String, Vec<EnvPort>)> {
    alloc
        .allocated_resources
        .as_ref()
        .map(|r| {
            r.tasks
                .iter()
                .map(|(name, t)| (name.clone(), network_ports(&t.networks, node)))
                .collect()
        })
        .unwrap_or_default()
}

fn network_ports(networks: &[NetworkResource], node: &NodeInfo) -> Vec<EnvPort> {
    let mut out = Vec::new();
    for n in networks {
        let ip = if n.ip.is_empty() {
            node.network_ip.clone()
        } else {
            n.ip.clone()
        };
        for p in n.reserved_ports.iter().chain(&n.dynamic_ports) {
            if p.value > 0 {
                out.push(EnvPort {
                    label: p.label.clone(),
                    ip: ip.clone(),
                    host_port: p.value,
                    to: p.to,
                });
            }
        }
    }
    out
}

fn path_text(p: &std::path::Path) -> String {
    p.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use drover_api::{AllocatedPortMapping, AllocatedResources, Job, TaskGroup};

    pub(crate) fn sample_alloc() -> Allocation {
        let mut job = Job {
            id: "web".into(),
            name: "web".into(),
            region: "global".into(),
            ..Default::default()
        };
        job.meta.insert("owner".into(), "ops".into());
        job.task_groups.push(TaskGroup {
            name: "g".into(),
            ..Default::default()
        });
        Allocation {
            id: "0123456789abcdef".into(),
            name: "web.g[2]".into(),
            namespace: "default".into(),
            job_id: "web".into(),
            task_group: "g".into(),
            job: Some(job),
            allocated_resources: Some(AllocatedResources {
                shared: drover_api::AllocatedSharedResources {
                    ports: vec![AllocatedPortMapping {
                        label: "http".into(),
                        value: 23456,
                        to: 8080,
                        host_ip: String::new(),
                    }],
                    ..Default::default()
                },
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn sets_identity_dirs_ports_and_meta() {
        let alloc = sample_alloc();
        let mut task = Task {
            name: "server".into(),
            ..Default::default()
        };
        task.meta.insert("tier-name".into(), "front".into());
        let dir = AllocDir::new(std::path::Path::new("/data/alloc"), &alloc.id);
        let node = NodeInfo {
            datacenter: "dc1".into(),
            network_ip: "10.0.0.5".into(),
            ..Default::default()
        };
        let env = nomad_vars(&alloc, &task, &dir, &dir.task("server"), &node);
        assert_eq!(env["NOMAD_SHORT_ALLOC_ID"], "01234567");
        assert_eq!(env["NOMAD_ALLOC_INDEX"], "2");
        assert_eq!(env["NOMAD_DC"], "dc1");
        assert_eq!(
            env["NOMAD_TASK_DIR"],
            "/data/alloc/0123456789abcdef/server/local"
        );
        assert_eq!(env["NOMAD_ALLOC_DIR"], "/data/alloc/0123456789abcdef/alloc");
        assert_eq!(env["NOMAD_PORT_http"], "8080");
        assert_eq!(env["NOMAD_HOST_PORT_http"], "23456");
        assert_eq!(env["NOMAD_ADDR_http"], "10.0.0.5:23456");
        assert_eq!(env["NOMAD_CPU_LIMIT"], "100");
        assert!(!env.contains_key("NOMAD_CPU_CORES"));
        assert_eq!(env["NOMAD_META_owner"], "ops");
        assert_eq!(env["NOMAD_META_OWNER"], "ops");
        assert_eq!(env["NOMAD_META_tier_name"], "front");
        assert_eq!(env["NOMAD_META_TIER_NAME"], "front");
    }
}
