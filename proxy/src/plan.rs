//! What to bind: one socket per Gateway port, on the Gateway's own loopback address, and the
//! certificates of its HTTPS listeners.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use gwsim_engine::RoutingTable;
use gwsim_engine::config::{Protocol, TlsMode};
use gwsim_engine::connection::ConnectionProtocol;
use gwsim_engine::decision::Scheme;
use gwsim_engine::object::{ObjectKey, Snapshot};
use rustls::sign::CertifiedKey;
use serde::Serialize;

/// One listener as served: the line printed at start and written to the ready file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ServedListener {
    /// `namespace/name`.
    pub gateway: String,
    pub listener: String,
    pub protocol: String,
    /// Where to send requests: `http://127.x.y.z:PORT`.
    pub url: String,
}

impl ServedListener {
    /// `gateway infra/gw listener http (HTTP) at http://127.1.2.3:10080`
    pub fn line(&self) -> String {
        format!(
            "gateway {} listener {} ({}) at {}",
            self.gateway, self.listener, self.protocol, self.url
        )
    }
}

/// One socket: a Gateway port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Socket {
    pub gateway: ObjectKey,
    /// The Gateway port (what the engine sees), not the bound one.
    pub port: u16,
    pub scheme: Scheme,
    pub addr: SocketAddr,
    /// The listeners on this port, by name, with their protocol.
    pub listeners: Vec<(String, Protocol)>,
    /// `None`: HTTP or HTTPS requests; otherwise whole connections (TLS, TCP) or datagrams
    /// (UDP) decided by the engine's connection routing (`l4`).
    pub connection: Option<ConnectionProtocol>,
}

impl Socket {
    /// Whether `other` is served by this socket as it is bound: same Gateway port, scheme
    /// and address (a reload keeps such a socket and its connections).
    pub fn same_socket(&self, other: &Socket) -> bool {
        self.gateway == other.gateway
            && self.port == other.port
            && self.scheme == other.scheme
            && self.addr == other.addr
            && self.connection == other.connection
    }
}

/// A listener of a socket: name, protocol, usable.
pub(crate) type PlannedListener = (String, Protocol, bool);

/// The sockets of a state, in Gateway and port order.
pub fn sockets(
    table: &RoutingTable,
    bind: Option<IpAddr>,
    offset: u16,
    ephemeral: bool,
) -> Result<Vec<Socket>, crate::ProxyError> {
    let addresses = gateway_addresses(table.gateways().iter().map(|g| &g.key));
    let mut out = Vec::new();
    for gateway in table.gateways() {
        let mut by_port: BTreeMap<(u16, Option<ConnectionProtocol>), Vec<PlannedListener>> =
            BTreeMap::new();
        for l in &gateway.listeners {
            if let Some(family) = socket_family(&l.protocol) {
                by_port.entry((l.port, family)).or_default().push((
                    l.name.clone(),
                    l.protocol.clone(),
                    l.usable,
                ));
            }
        }
        crate::l4::one_stream_socket_per_port(&mut by_port);
        let ip = bind.unwrap_or(IpAddr::V4(addresses[&gateway.key]));
        for ((port, connection), listeners) in by_port {
            // A port takes HTTPS when a usable HTTPS listener is on it (a protocol conflict
            // leaves the others unusable).
            let https = listeners
                .iter()
                .any(|(_, p, usable)| *usable && *p == Protocol::Https)
                || listeners.iter().all(|(_, p, _)| *p == Protocol::Https);
            let bound = if ephemeral {
                0
            } else if offset == 0 {
                port
            } else {
                port.checked_add(offset)
                    .ok_or_else(|| crate::ProxyError::PortRange {
                        gateway: gateway.key.namespaced_name(),
                        listener: listeners[0].0.clone(),
                        port,
                        offset,
                    })?
            };
            out.push(Socket {
                gateway: gateway.key.clone(),
                port,
                scheme: if https { Scheme::Https } else { Scheme::Http },
                addr: SocketAddr::new(ip, bound),
                listeners: listeners.into_iter().map(|(n, p, _)| (n, p)).collect(),
                connection,
            });
        }
    }
    Ok(out)
}

/// Which kind of socket serves a listener protocol: `None` the HTTP one, `Some` the
/// connection kind; `Err` for protocols nothing serves.
fn socket_family(protocol: &Protocol) -> Option<Option<ConnectionProtocol>> {
    match protocol {
        Protocol::Http | Protocol::Https => Some(None),
        Protocol::Tls => Some(Some(ConnectionProtocol::Tls)),
        Protocol::Tcp => Some(Some(ConnectionProtocol::Tcp)),
        Protocol::Udp => Some(Some(ConnectionProtocol::Udp)),
        _ => None,
    }
}

/// The listeners of the sockets, as served, in socket order.
pub fn served(sockets: &[Socket], bound: &[SocketAddr]) -> Vec<ServedListener> {
    let mut out = Vec::new();
    for (socket, addr) in sockets.iter().zip(bound) {
        for (name, protocol) in &socket.listeners {
            out.push(ServedListener {
                gateway: socket.gateway.namespaced_name(),
                listener: name.clone(),
                protocol: protocol.as_str().to_string(),
                url: format!("{}://{addr}", crate::l4::url_scheme(socket, protocol)),
            });
        }
    }
    out
}

/// A loopback address per Gateway, from a hash of its namespace and name (stable when other
/// Gateways come and go): `127.a.b.c` with `a` in 1..=254, so never `127.0.0.x`. Collisions
/// move to the next free address in key order.
pub fn gateway_addresses<'a>(
    keys: impl Iterator<Item = &'a ObjectKey>,
) -> BTreeMap<ObjectKey, Ipv4Addr> {
    let mut taken = BTreeSet::new();
    let mut out = BTreeMap::new();
    let mut keys: Vec<&ObjectKey> = keys.collect();
    keys.sort();
    for key in keys {
        let mut h = fnv1a(key.namespaced_name().as_bytes());
        let addr = loop {
            let a = 1 + (h % 254) as u8;
            let b = ((h >> 8) & 0xff) as u8;
            let c = 1 + ((h >> 16) % 254) as u8;
            let addr = Ipv4Addr::new(127, a, b, c);
            if taken.insert(addr) {
                break addr;
            }
            h = h.wrapping_add(1 << 24).rotate_left(7);
        };
        out.insert(key.clone(), addr);
    }
    out
}

pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Certificates by Gateway and listener name.
pub type Certificates = HashMap<(ObjectKey, String), Arc<CertifiedKey>>;

/// The certificate of every HTTPS and TLS Terminate listener of a Gateway whose first `tls.certificateRefs`
/// Secret holds a PEM certificate chain and key. Problems are returned as messages (the
/// handshake for that listener then fails), never an error.
///
/// With `stand_in`, a Secret that holds no usable certificate and key (the conformance base's
/// placeholders) is served with the stand-in instead, so the listener still terminates TLS.
pub fn certificates(
    snapshot: &Snapshot,
    table: &RoutingTable,
    stand_in: Option<&Arc<CertifiedKey>>,
) -> (Certificates, Vec<String>) {
    let mut out = Certificates::new();
    let mut problems = Vec::new();
    for gateway in snapshot.gateways() {
        let ns = gateway.metadata.namespace.as_deref().unwrap_or_default();
        let name = gateway.metadata.name.as_deref().unwrap_or_default();
        let Some(config) = table
            .gateways()
            .iter()
            .find(|g| g.key.namespace == ns && g.key.name == name)
        else {
            continue;
        };
        for listener in &gateway.spec.listeners {
            // The table's listener (of this name) says what it does with TLS.
            let terminates = config.listeners.iter().any(|l| {
                l.name == listener.name
                    && (l.protocol == Protocol::Https
                        || (l.protocol == Protocol::Tls && l.tls_mode == Some(TlsMode::Terminate)))
            });
            if !terminates {
                continue;
            }
            let Some(cert_ref) = listener
                .tls
                .as_ref()
                .and_then(|t| t.certificate_refs.as_deref())
                .and_then(|refs| refs.first())
            else {
                continue;
            };
            let secret_ns = cert_ref.namespace.as_deref().unwrap_or(ns);
            let what = format!(
                "listener {} of Gateway {ns}/{name}: Secret {secret_ns}/{}",
                listener.name, cert_ref.name
            );
            let Some(secret) = snapshot.secret(secret_ns, &cert_ref.name) else {
                continue; // The controller reports the missing Secret.
            };
            let data = |key: &str| {
                secret
                    .data
                    .as_ref()
                    .and_then(|d| d.get(key))
                    .map(|b| b.0.clone())
            };
            match certified_key(data("tls.crt"), data("tls.key")) {
                Ok(key) => {
                    out.insert((config.key.clone(), listener.name.clone()), Arc::new(key));
                }
                Err(why) => match stand_in {
                    Some(key) => {
                        out.insert((config.key.clone(), listener.name.clone()), key.clone());
                    }
                    None => problems.push(format!("{what}: {why}; TLS handshakes for it fail")),
                },
            }
        }
    }
    (out, problems)
}

/// A self-signed certificate for `gwsim.invalid`, for listeners whose Secret holds none
/// ([`crate::Options::stand_in_certificates`]).
pub fn stand_in_certificate() -> Result<CertifiedKey, String> {
    let generated = rcgen::generate_simple_self_signed(vec!["gwsim.invalid".to_string()])
        .map_err(|e| format!("cannot make a stand-in certificate: {e}"))?;
    certified_key(
        Some(generated.cert.pem().into_bytes()),
        Some(generated.signing_key.serialize_pem().into_bytes()),
    )
}

fn certified_key(cert: Option<Vec<u8>>, key: Option<Vec<u8>>) -> Result<CertifiedKey, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let cert = cert.ok_or("no tls.crt")?;
    let key = key.ok_or("no tls.key")?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert)
        .collect::<Result<_, _>>()
        .map_err(|_| "tls.crt is not a PEM certificate".to_string())?;
    if chain.is_empty() {
        return Err("tls.crt holds no certificate".into());
    }
    let key = PrivateKeyDer::from_pem_slice(&key)
        .map_err(|_| "tls.key is not a PEM private key".to_string())?;
    let signing = rustls::crypto::ring::sign::any_supported_type(&key)
        .map_err(|e| format!("tls.key: {e}"))?;
    Ok(CertifiedKey::new(chain, signing))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gwsim_engine::object::Kind;

    #[test]
    fn gateway_addresses_are_stable_distinct_and_not_127_0_0() {
        let keys: Vec<ObjectKey> = (0..500)
            .map(|i| ObjectKey::new(Kind::Gateway, "ns", format!("gw-{i}")))
            .collect();
        let all = gateway_addresses(keys.iter());
        let distinct: BTreeSet<_> = all.values().collect();
        assert_eq!(distinct.len(), 500);
        assert!(
            all.values()
                .all(|a| a.octets()[0] == 127 && a.octets()[1] != 0)
        );
        // One Gateway's address does not depend on the others.
        let alone = gateway_addresses(keys[7..8].iter());
        assert_eq!(alone[&keys[7]], all[&keys[7]]);
    }
}
