//! The address an agent advertises when it binds every interface: the IPv4 address of the
//! interface that carries the default route, as Nomad picks it, so that other agents (and
//! tasks' `NOMAD_IP_*`) get an address that reaches this machine.

use std::net::{IpAddr, Ipv4Addr};

use nix::ifaddrs::getifaddrs;
use nix::net::if_::InterfaceFlags;

/// The default-route interface's IPv4 address, else the first up non-loopback one, else
/// loopback.
pub fn default_ip() -> IpAddr {
    let route = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    let default_iface = default_route_interface(&route);
    let candidates: Vec<(String, Ipv4Addr)> = getifaddrs()
        .map(|addrs| {
            addrs
                .filter(|a| {
                    a.flags.contains(InterfaceFlags::IFF_UP)
                        && !a.flags.contains(InterfaceFlags::IFF_LOOPBACK)
                })
                .filter_map(|a| {
                    let ip = a.address?.as_sockaddr_in()?.ip();
                    Some((a.interface_name, ip))
                })
                .collect()
        })
        .unwrap_or_default();
    let chosen = default_iface
        .and_then(|iface| candidates.iter().find(|(name, _)| *name == iface))
        .or_else(|| candidates.first());
    IpAddr::V4(chosen.map(|(_, ip)| *ip).unwrap_or(Ipv4Addr::LOCALHOST))
}

/// The interface named by the default route in `/proc/net/route` (destination 00000000).
fn default_route_interface(route: &str) -> Option<String> {
    route.lines().skip(1).find_map(|line| {
        let mut fields = line.split_whitespace();
        let iface = fields.next()?;
        (fields.next()? == "00000000").then(|| iface.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_default_route_interface() {
        let route = "Iface\tDestination\tGateway\tFlags\n\
                     eth1\t0000A8C0\t00000000\t0001\n\
                     eth0\t00000000\t0100A8C0\t0003\n";
        assert_eq!(default_route_interface(route).as_deref(), Some("eth0"));
        assert_eq!(default_route_interface("Iface\tDestination\n"), None);
    }

    #[test]
    fn always_yields_an_address() {
        assert!(default_ip().is_ipv4());
    }
}
