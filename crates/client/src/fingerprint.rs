//! What the node tells servers about itself: attributes in Nomad's names (`kernel.name`,
//! `cpu.arch`, `memory.totalbytes`, …), resources, and drivers.

use std::collections::BTreeMap;

use drover_api::{Node, NodeCpuResources, NodeDiskResources, NodeMemoryResources, NodeResources};
use drover_drivers::Driver;

use crate::ClientConfig;

/// The Nomad version whose API drover speaks, reported as `nomad.version` so that jobspec
/// constraints on it behave as on a Nomad node (`drover.version` carries drover's own).
pub const NOMAD_API_VERSION: &str = "1.9.0";

/// Fallback CPU speed per core when `/proc/cpuinfo` tells none (as Nomad does).
const DEFAULT_MHZ: u64 = 1000;

/// Host facts read once at start.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostFacts {
    pub hostname: String,
    pub kernel_version: String,
    pub arch: String,
    pub cores: u32,
    pub mhz: u64,
    pub memory_bytes: u64,
    pub disk_free_mb: i64,
}

impl HostFacts {
    pub fn gather(data_dir: &std::path::Path) -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cores = std::thread::available_parallelism()
            .map(|n| n.get() as u32)
            .unwrap_or(1);
        let uname = nix::sys::utsname::uname().ok();
        let text = |f: fn(&nix::sys::utsname::UtsName) -> &std::ffi::OsStr| {
            uname
                .as_ref()
                .map(|u| f(u).to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        HostFacts {
            hostname: text(|u| u.nodename()),
            kernel_version: text(|u| u.release()),
            arch: go_arch(&text(|u| u.machine())),
            cores,
            mhz: cpu_mhz(&cpuinfo).unwrap_or(DEFAULT_MHZ),
            memory_bytes: mem_total_bytes(
                &std::fs::read_to_string("/proc/meminfo").unwrap_or_default(),
            )
            .unwrap_or(0),
            disk_free_mb: disk_free_mb(data_dir),
        }
    }

    /// Total compute in MHz: cores × speed.
    pub fn total_compute(&self) -> u64 {
        u64::from(self.cores) * self.mhz
    }
}

/// Maps `uname -m` to Go's architecture names, as Nomad reports them.
pub fn go_arch(machine: &str) -> String {
    match machine {
        "x86_64" => "amd64",
        "aarch64" | "arm64" => "arm64",
        "i386" | "i686" => "386",
        m if m.starts_with("armv") => "arm",
        other => other,
    }
    .to_string()
}

/// The highest `cpu MHz` in `/proc/cpuinfo`, rounded.
pub fn cpu_mhz(cpuinfo: &str) -> Option<u64> {
    cpuinfo
        .lines()
        .filter(|l| l.starts_with("cpu MHz"))
        .filter_map(|l| l.split(':').nth(1)?.trim().parse::<f64>().ok())
        .map(|mhz| mhz.round() as u64)
        .filter(|mhz| *mhz > 0)
        .max()
}

/// `MemTotal` from `/proc/meminfo`, in bytes.
pub fn mem_total_bytes(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn disk_free_mb(dir: &std::path::Path) -> i64 {
    let probe = dir
        .ancestors()
        .find(|p| p.exists())
        .unwrap_or(std::path::Path::new("/"));
    nix::sys::statvfs::statvfs(probe)
        .map(|s| (s.blocks_available().saturating_mul(s.fragment_size()) / (1024 * 1024)) as i64)
        .unwrap_or(0)
}

/// The node as registered: identity, attributes, resources and drivers.
pub fn build_node(
    config: &ClientConfig,
    facts: &HostFacts,
    node_id: &str,
    secret_id: &str,
    drivers: &[std::sync::Arc<dyn Driver>],
) -> Node {
    let mut attributes = BTreeMap::new();
    let mut set = |k: &str, v: String| {
        attributes.insert(k.to_string(), v);
    };
    set("kernel.name", std::env::consts::OS.to_string());
    set("kernel.version", facts.kernel_version.clone());
    set("os.name", os_name());
    set("cpu.arch", facts.arch.clone());
    set("cpu.numcores", facts.cores.to_string());
    set("cpu.frequency", facts.mhz.to_string());
    set("cpu.totalcompute", facts.total_compute().to_string());
    set("memory.totalbytes", facts.memory_bytes.to_string());
    set("unique.hostname", facts.hostname.clone());
    set("unique.network.ip-address", config.network_ip.clone());
    set("nomad.version", NOMAD_API_VERSION.to_string());
    set("drover.version", drover_api::VERSION.to_string());
    let now = drover_api::time::rfc3339(drover_api::time::now_unix_nano());
    let mut driver_infos = BTreeMap::new();
    for driver in drivers {
        let mut info = driver.fingerprint();
        info.update_time = now.clone();
        if info.detected {
            attributes.extend(info.attributes.clone());
        }
        driver_infos.insert(driver.name().to_string(), info);
    }
    let node_name = if config.node_name.is_empty() {
        facts.hostname.clone()
    } else {
        config.node_name.clone()
    };
    Node {
        id: node_id.to_string(),
        secret_id: secret_id.to_string(),
        datacenter: config.datacenter.clone(),
        name: node_name,
        http_addr: config.http_addr.clone(),
        attributes,
        node_resources: NodeResources {
            cpu: NodeCpuResources {
                cpu_shares: facts.total_compute() as i64,
                total_cpu_cores: facts.cores,
            },
            memory: NodeMemoryResources {
                memory_mb: (facts.memory_bytes / (1024 * 1024)) as i64,
            },
            disk: NodeDiskResources {
                disk_mb: facts.disk_free_mb,
            },
            min_dynamic_port: config.min_dynamic_port,
            max_dynamic_port: config.max_dynamic_port,
        },
        meta: config.meta.clone(),
        node_class: config.node_class.clone(),
        node_pool: config.node_pool.clone(),
        scheduling_eligibility: drover_api::NODE_ELIGIBLE.to_string(),
        status: drover_api::NODE_STATUS_READY.to_string(),
        drivers: driver_infos,
        ..Default::default()
    }
}

/// `ID` from `/etc/os-release` (e.g. `debian`), else the kernel name.
fn os_name() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("ID="))
                .map(|v| v.trim_matches('"').to_string())
        })
        .unwrap_or_else(|| std::env::consts::OS.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files() {
        assert_eq!(
            cpu_mhz("cpu MHz\t\t: 2399.998\ncpu MHz : 3000.4\n"),
            Some(3000)
        );
        assert_eq!(cpu_mhz("processor : 0\n"), None);
        assert_eq!(
            mem_total_bytes("MemTotal:       16384 kB\nMemFree: 1 kB\n"),
            Some(16384 * 1024)
        );
        assert_eq!(go_arch("x86_64"), "amd64");
        assert_eq!(go_arch("aarch64"), "arm64");
    }

    #[test]
    fn node_carries_attributes_resources_and_drivers() {
        let config = ClientConfig {
            node_name: "n1".into(),
            raw_exec_enabled: true,
            ..Default::default()
        };
        let facts = HostFacts {
            cores: 2,
            mhz: 1500,
            memory_bytes: 2048 * 1024 * 1024,
            ..Default::default()
        };
        let drivers: Vec<std::sync::Arc<dyn Driver>> = vec![std::sync::Arc::new(
            drover_drivers::RawExecDriver::new(true),
        )];
        let node = build_node(&config, &facts, "id", "secret", &drivers);
        assert_eq!(node.attributes["cpu.totalcompute"], "3000");
        assert_eq!(node.attributes["driver.raw_exec"], "1");
        assert_eq!(node.attributes["kernel.name"], "linux");
        assert_eq!(node.attributes["nomad.version"], "1.9.0");
        assert_eq!(node.attributes["drover.version"], drover_api::VERSION);
        assert_eq!(node.node_resources.cpu.cpu_shares, 3000);
        assert_eq!(node.node_resources.memory.memory_mb, 2048);
        assert!(node.drivers["raw_exec"].healthy);
        assert_eq!(node.status, "ready");
    }
}
