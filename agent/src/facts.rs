//! What the agent tells about its machine: hostname, operating system, kernel, uptime and
//! addresses, read from `/proc`, `/etc/os-release` and the interfaces' list.

use agent_link::Facts;

fn first_line(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok()?.lines().next().map(|l| l.trim().to_string())
}

/// `PRETTY_NAME` of os-release, unquoted.
fn os_name(text: &str) -> Option<String> {
    text.lines()
        .find_map(|line| line.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim().trim_matches('"').trim_matches('\'').to_string())
        .filter(|v| !v.is_empty())
}

pub fn gather() -> Facts {
    let hostname = hostname();
    let os = ["/etc/os-release", "/usr/lib/os-release"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok().as_deref().and_then(os_name))
        .unwrap_or_else(|| std::env::consts::OS.to_string());
    let kernel = first_line("/proc/sys/kernel/osrelease").unwrap_or_default();
    let uptime_s = first_line("/proc/uptime")
        .and_then(|l| l.split_whitespace().next().and_then(|s| s.parse::<f64>().ok()))
        .map_or(0, |s| s as u64);
    let mut addresses: Vec<String> = nix::ifaddrs::getifaddrs()
        .map(|list| {
            list.filter(|i| !i.flags.contains(nix::net::if_::InterfaceFlags::IFF_LOOPBACK))
                .filter_map(|i| {
                    let address = i.address?;
                    if let Some(v4) = address.as_sockaddr_in() {
                        Some(format!("{} ({})", v4.ip(), i.interface_name))
                    } else {
                        address.as_sockaddr_in6().map(|v6| format!("{} ({})", v6.ip(), i.interface_name))
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    addresses.sort();
    addresses.dedup();
    Facts { hostname, os, kernel, uptime_s, addresses }
}

/// The machine's hostname (also the name in its Kerberos `host/` principal).
pub fn hostname() -> String {
    nix::unistd::gethostname().ok().and_then(|h| h.into_string().ok()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_release_names_the_system() {
        assert_eq!(
            os_name("NAME=x\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n").as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
        assert_eq!(os_name("NAME=x\n"), None);
    }

    #[test]
    fn this_machine_has_a_kernel_and_an_uptime() {
        let facts = gather();
        assert!(!facts.kernel.is_empty());
        assert!(facts.uptime_s > 0);
    }
}
