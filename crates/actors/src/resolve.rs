//! Name resolution for fetchers: fixed overrides (like curl's `--resolve`) and the
//! optional refusal of private addresses.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// The error a fetch fails with when its host resolves only to refused addresses.
#[derive(Debug)]
pub(crate) struct DeniedAddress(pub String);

impl fmt::Display for DeniedAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} resolves to a loopback, private, link-local or unspecified address",
            self.0
        )
    }
}

impl std::error::Error for DeniedAddress {}

/// Resolves names with the system resolver, after the overrides, keeping only allowed
/// addresses.
#[derive(Debug, Clone)]
pub(crate) struct Resolver {
    pub overrides: Arc<HashMap<String, SocketAddr>>,
    pub deny_private: bool,
}

impl Resolve for Resolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_ascii_lowercase();
        let overridden = self.overrides.get(&host).copied();
        let deny_private = self.deny_private;
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = match overridden {
                Some(addr) => vec![addr],
                None => tokio::net::lookup_host((host.as_str(), 0)).await?.collect(),
            };
            let allowed: Vec<SocketAddr> = addrs
                .into_iter()
                .filter(|addr| !deny_private || !is_denied(addr.ip()))
                .collect();
            if allowed.is_empty() && deny_private {
                return Err(
                    Box::new(DeniedAddress(host)) as Box<dyn std::error::Error + Send + Sync>
                );
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

impl Resolver {
    /// Whether a host name resolves to a refused address (any of its addresses): the
    /// check for requests sent through a proxy, which resolves names itself. A name that
    /// does not resolve is left to the proxy.
    pub async fn denied(&self, host: &str) -> Option<DeniedAddress> {
        let host = host.to_ascii_lowercase();
        let addrs: Vec<SocketAddr> = match self.overrides.get(&host) {
            Some(addr) => vec![*addr],
            None => tokio::net::lookup_host((host.as_str(), 0))
                .await
                .ok()?
                .collect(),
        };
        addrs
            .iter()
            .any(|addr| is_denied(addr.ip()))
            .then_some(DeniedAddress(host))
    }
}

/// Loopback, private, link-local, unspecified, broadcast, shared (CGNAT) and unique-local
/// addresses: where a crawler fed untrusted URLs must not go.
pub(crate) fn is_denied(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| is_denied(IpAddr::V4(v4)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denied_addresses() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.1.1",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fc00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_denied(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert!(!is_denied(ip.parse().unwrap()), "{ip}");
        }
    }
}
