//! Which addresses the data plane can serve: what decides whether a Gateway's static
//! `spec.addresses` entry is usable (GEP-1651: Programmed False AddressNotUsable otherwise)
//! and where the addresses it assigns come from.
//!
//! The network is [`Network::Open`] unless declared: every IP address is usable as written
//! (the simulator delivers by Gateway, not by address, so a user's own static address works),
//! and assigned addresses come from 198.18.0.0/15. A declared network
//! ([`Network::Declared`], a scenario's `network.addresses`) serves only its ranges: a static
//! IP address outside them, or a Hostname (the ranges name no hosts), is not usable, and
//! assigned addresses come from the ranges.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;

/// An address range in CIDR notation (`198.51.100.0/24`, `2001:db8::/64`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddressRange {
    first: IpAddr,
    prefix: u8,
}

/// The simulator's own range for assigned addresses: 198.18.0.0/15 (RFC 2544's benchmarking
/// range, never routed).
pub const SIMULATOR_POOL: AddressRange = AddressRange {
    first: IpAddr::V4(Ipv4Addr::new(198, 18, 0, 0)),
    prefix: 15,
};

/// At most this many addresses of one range are candidates for assignment.
const MAX_CANDIDATES: u64 = 1 << 32;

impl AddressRange {
    fn bits(&self) -> u8 {
        match self.first {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        }
    }

    fn to_u128(ip: IpAddr) -> u128 {
        match ip {
            IpAddr::V4(v4) => u128::from(u32::from(v4)),
            IpAddr::V6(v6) => u128::from(v6),
        }
    }

    /// Whether `ip` is in the range (an IPv4 address is never in an IPv6 range, nor back).
    pub fn contains(&self, ip: IpAddr) -> bool {
        if ip.is_ipv4() != self.first.is_ipv4() {
            return false;
        }
        let host_bits = u32::from(self.bits() - self.prefix);
        let shift = |v: u128| v.checked_shr(host_bits).unwrap_or(0);
        shift(Self::to_u128(ip)) == shift(Self::to_u128(self.first))
    }

    /// How many of its addresses assignment considers (the first 2^32 of a larger range).
    fn candidates(&self) -> u64 {
        let host_bits = u32::from(self.bits() - self.prefix);
        1u64.checked_shl(host_bits)
            .map_or(MAX_CANDIDATES, |n| n.min(MAX_CANDIDATES))
    }

    /// The `n`th address of the range (`n` below [`AddressRange::candidates`]).
    fn nth(&self, n: u64) -> IpAddr {
        let value = Self::to_u128(self.first) + u128::from(n);
        match self.first {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(value as u32)),
            IpAddr::V6(_) => IpAddr::V6(value.into()),
        }
    }
}

impl fmt::Display for AddressRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.first, self.prefix)
    }
}

impl FromStr for AddressRange {
    type Err = String;

    /// `ADDRESS/PREFIX`, or a bare address (a range of one). Bits past the prefix must be
    /// zero: `198.51.100.10/24` is refused rather than read as `198.51.100.0/24`.
    fn from_str(text: &str) -> Result<Self, String> {
        let (address, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let first: IpAddr = address
            .parse()
            .map_err(|_| format!("{text:?} is not an address range (ADDRESS/PREFIX)"))?;
        let bits = if first.is_ipv4() { 32 } else { 128 };
        let prefix =
            match prefix {
                None => bits,
                Some(p) => p.parse::<u8>().ok().filter(|p| *p <= bits).ok_or_else(|| {
                    format!("{text:?}: the prefix must be a number from 0 to {bits}")
                })?,
            };
        let range = AddressRange { first, prefix };
        let host_bits = u32::from(bits - prefix);
        let network = AddressRange::to_u128(first)
            .checked_shr(host_bits)
            .and_then(|v| v.checked_shl(host_bits))
            .unwrap_or(0);
        if network != AddressRange::to_u128(first) {
            let start = if first.is_ipv4() {
                IpAddr::V4(Ipv4Addr::from(network as u32))
            } else {
                IpAddr::V6(network.into())
            };
            return Err(format!(
                "{text:?}: the address has bits set past the prefix; the range is {start}/{prefix}"
            ));
        }
        Ok(range)
    }
}

/// The addresses the data plane can serve.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Network {
    /// Every address is usable; assigned addresses come from [`SIMULATOR_POOL`].
    #[default]
    Open,
    /// Only these ranges are served; assigned addresses come from them, in order.
    Declared(Vec<AddressRange>),
}

impl Network {
    /// Why a requested IP address cannot be used, if it cannot.
    pub fn refuses_ip(&self, ip: IpAddr) -> Option<String> {
        match self {
            Network::Open => None,
            Network::Declared(ranges) if ranges.iter().any(|r| r.contains(ip)) => None,
            Network::Declared(_) => Some(format!(
                "address {ip} is outside the network's addresses ({})",
                self.describe()
            )),
        }
    }

    /// Why a requested Hostname cannot be used, if it cannot.
    pub fn refuses_hostname(&self, name: &str) -> Option<String> {
        match self {
            Network::Open => None,
            Network::Declared(_) => Some(format!(
                "hostname {name} cannot be shown to resolve into the network's addresses ({}): the network declares address ranges, not names",
                self.describe()
            )),
        }
    }

    /// The ranges addresses are assigned from.
    pub fn pool(&self) -> &[AddressRange] {
        match self {
            Network::Open => std::slice::from_ref(&SIMULATOR_POOL),
            Network::Declared(ranges) => ranges,
        }
    }

    /// The pool's ranges, comma-separated.
    pub fn describe(&self) -> String {
        let ranges: Vec<String> = self.pool().iter().map(ToString::to_string).collect();
        ranges.join(", ")
    }

    /// The first assignable address at or after position `start` of the pool (its ranges one
    /// after another), wrapping around, that `taken` does not refuse. IPv4 addresses ending
    /// in .0 or .255 and the first address of an IPv6 range are never assigned.
    pub fn assign(&self, start: u64, taken: impl Fn(IpAddr) -> bool) -> Option<IpAddr> {
        let pool = self.pool();
        let total: u64 = pool.iter().map(AddressRange::candidates).sum();
        if total == 0 {
            return None;
        }
        (0..total)
            .map(|step| {
                let mut n = (start % total + step) % total;
                let range = pool
                    .iter()
                    .find(|r| {
                        let fits = n < r.candidates();
                        if !fits {
                            n -= r.candidates();
                        }
                        fits
                    })
                    .unwrap_or(&pool[0]);
                (range, n)
            })
            .map(|(range, n)| (range.nth(n), n))
            .find(|(ip, n)| {
                let reserved = match ip {
                    IpAddr::V4(v4) => matches!(v4.octets()[3], 0 | 255),
                    IpAddr::V6(_) => *n == 0,
                };
                !reserved && !taken(*ip)
            })
            .map(|(ip, _)| ip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(text: &str) -> AddressRange {
        text.parse().expect("a range")
    }

    #[test]
    fn ranges_parse_print_and_contain() {
        assert_eq!(range("198.51.100.0/24").to_string(), "198.51.100.0/24");
        assert_eq!(range("198.51.100.10").to_string(), "198.51.100.10/32");
        assert_eq!(range("2001:db8::/64").to_string(), "2001:db8::/64");
        assert_eq!(range("0.0.0.0/0").to_string(), "0.0.0.0/0");
        let r = range("198.51.100.0/24");
        assert!(r.contains("198.51.100.10".parse().unwrap()));
        assert!(r.contains("198.51.100.255".parse().unwrap()));
        assert!(!r.contains("198.51.101.0".parse().unwrap()));
        assert!(!r.contains("203.0.113.10".parse().unwrap()));
        assert!(!r.contains("::ffff:198.51.100.10".parse().unwrap()));
        assert!(range("0.0.0.0/0").contains("203.0.113.10".parse().unwrap()));
        assert!(range("::/0").contains("2001:db8::1".parse().unwrap()));
        assert!(!range("::/0").contains("10.0.0.1".parse().unwrap()));
    }

    #[test]
    fn bad_ranges_say_why() {
        for (text, why) in [
            ("198.51.100.10/24", "the range is 198.51.100.0/24"),
            ("198.51.100.0/33", "from 0 to 32"),
            ("2001:db8::1/64", "the range is 2001:db8::/64"),
            ("nonsense", "is not an address range"),
            ("10.0.0.0/x", "from 0 to 32"),
        ] {
            let err = text.parse::<AddressRange>().unwrap_err();
            assert!(err.contains(why), "{text}: {err}");
        }
    }

    #[test]
    fn open_and_declared_networks_decide_usability() {
        let open = Network::Open;
        assert_eq!(open.refuses_ip("203.0.113.10".parse().unwrap()), None);
        assert_eq!(open.refuses_hostname("gw.example.com"), None);
        let declared = Network::Declared(vec![range("198.51.100.0/24"), range("2001:db8::/64")]);
        assert_eq!(declared.refuses_ip("198.51.100.10".parse().unwrap()), None);
        assert_eq!(declared.refuses_ip("2001:db8::7".parse().unwrap()), None);
        assert_eq!(
            declared
                .refuses_ip("203.0.113.10".parse().unwrap())
                .as_deref(),
            Some(
                "address 203.0.113.10 is outside the network's addresses (198.51.100.0/24, 2001:db8::/64)"
            )
        );
        assert!(declared.refuses_hostname("gw.example.com").is_some());
    }

    #[test]
    fn assignment_probes_past_taken_and_reserved_addresses() {
        let net = Network::Declared(vec![range("192.0.2.254/31"), range("198.51.100.0/30")]);
        // Positions: .254 .255 | .0 .1 .2 .3; .255 and .0 are never assigned.
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(net.assign(0, |_| false), Some(ip("192.0.2.254")));
        assert_eq!(net.assign(1, |_| false), Some(ip("198.51.100.1")));
        assert_eq!(
            net.assign(1, |a| a == ip("198.51.100.1")),
            Some(ip("198.51.100.2"))
        );
        // Wraps around to the first range.
        assert_eq!(net.assign(5, |_| false), Some(ip("198.51.100.3")));
        assert_eq!(
            net.assign(5, |a| a == ip("198.51.100.3")),
            Some(ip("192.0.2.254"))
        );
        // Everything taken: nothing.
        assert_eq!(net.assign(3, |_| true), None);
        // The open network draws from 198.18.0.0/15, as gwsim always has.
        assert_eq!(Network::Open.assign(1, |_| false), Some(ip("198.18.0.1")));
        assert_eq!(
            Network::Open.assign((1 << 17) - 1, |_| false),
            Some(ip("198.18.0.1")),
            "198.19.255.255 ends in .255 and wraps"
        );
        let v6 = Network::Declared(vec![range("2001:db8::/126")]);
        assert_eq!(v6.assign(0, |_| false), Some(ip("2001:db8::1")));
    }
}
