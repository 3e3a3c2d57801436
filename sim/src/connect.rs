//! Connections to Gateway ports (`connect` steps): TLS, plain TCP and UDP datagrams. The
//! engine decides ([`gwsim_engine::connection`]), then the stream or datagram is delivered as
//! upstream's echo servers see it.
//!
//! What answers depends on what the pod runs, read from its containers as upstream's echo
//! image reads its environment: `TCP_ECHO_SERVER` is the TCP echo (a welcome line, then the
//! pod's report on `TEST`), `UDP_ECHO_SERVER` the UDP echo (a JSON report of the pod for each
//! datagram), a CoreDNS image a DNS server; anything else is the HTTP (or gRPC) echo, which
//! never greets a TCP client. A TLS or TCP connection needs the TCP echo (upstream's client
//! waits for its welcome line); a UDP probe needs the UDP echo; a DNS query (`dnsQuery`) needs
//! a DNS server, which answers every name (upstream's test accepts any answer). A datagram
//! nothing answers is lost: the client sees what it sees of a reset, nothing.
//!
//! Passthrough: the client's handshake reaches the backend pod, which completes it with its
//! own certificate (`TLS_SERVER_CERT`) on its TLS port and reports IS_TLS and the SNI; a pod
//! port without TLS cannot complete the client's handshake. Terminate: the Gateway completes
//! the handshake with the listener's certificate and sends the plain stream; the pod reports
//! no TLS and no SNI (a pod port that expects TLS cannot read it). The client checks the
//! certificate it is shown against the CA of `trust` at the virtual clock, for the SNI, as
//! upstream's TLS client does with its CA.

use gwsim_engine::config::{BackendTls, GatewayConfig, TlsMode};
use gwsim_engine::connection::{self, Connection, ConnectionOutcome, ConnectionProtocol};
use gwsim_engine::object::{Kind, Object, ObjectKey, Snapshot};
use gwsim_engine::x509::{CertificateChain, TrustAnchors};
use rand::RngCore;
use serde::Serialize;

use crate::backend_tls::Upstream;
use crate::cluster::PresentedCertificate;
use crate::network::Network;
use crate::time::SimTime;
use crate::tls::unix_seconds;

/// A connection a scenario opens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectSpec {
    pub connection: Connection,
    /// The ConfigMap (its `ca.crt`) the client trusts; `None`: the client checks nothing.
    pub trust: Option<ObjectKey>,
    /// UDP: the datagram is a DNS query (type A) for this name rather than the UDP echo's
    /// probe.
    pub dns_query: Option<String>,
    /// How many connections the step opens, each decided and delivered on its own.
    pub count: u32,
}

impl ConnectSpec {
    /// Why a real cluster (`--target cluster`) skips a step opening this connection.
    pub fn not_sent_reason(&self) -> &'static str {
        match self.connection.protocol {
            ConnectionProtocol::Tls => crate::scenario::CONNECT_NOT_SENT,
            ConnectionProtocol::Tcp | ConnectionProtocol::Udp => {
                crate::scenario::L4_CONNECT_NOT_SENT
            }
        }
    }
}

/// What the client of a connection learns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum ConnectionResult {
    /// Nothing answered: the Gateway (or the backend) closed or reset the connection, the
    /// client gave up on the handshake, or the datagram got no reply. The text says why.
    Reset(String),
    /// The echo backend's report.
    Echoed(ConnectionEcho),
}

/// What answered: upstream's TCP echo (its report, and the certificate the client was shown
/// over TLS), its UDP echo (the pod it names), or a DNS server (the pod that answered).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConnectionEcho {
    pub namespace: String,
    pub pod: String,
    /// IS_TLS: the backend completed a TLS handshake itself.
    pub tls: bool,
    /// The SNI the backend saw (only over TLS).
    pub sni: Option<String>,
    pub server_certificate: Option<PresentedCertificate>,
}

/// Opens one connection: decided by the engine, delivered to a pod by the network.
pub(crate) fn connect(
    gateways: &[GatewayConfig],
    network: &Network,
    snapshot: &Snapshot,
    now: SimTime,
    spec: &ConnectSpec,
    rng: &mut dyn RngCore,
) -> ConnectionResult {
    let decision = connection::decide(gateways, &spec.connection, rng);
    let forward = match decision.outcome {
        ConnectionOutcome::Reset => {
            return ConnectionResult::Reset(decision.explanation.outcome);
        }
        ConnectionOutcome::Forward(f) => f,
    };
    let Some((pod, target_port)) = network.connection_endpoint(&forward.backend, rng) else {
        return ConnectionResult::Reset(format!(
            "Service {}/{} port {} has no ready endpoint",
            forward.backend.namespace, forward.backend.name, forward.backend.port
        ));
    };
    let server = server_of(snapshot, &pod.namespace, &pod.name);
    let answered = |tls: bool, sni: Option<String>, shown: Option<&CertificateChain>| {
        ConnectionResult::Echoed(ConnectionEcho {
            namespace: pod.namespace.clone(),
            pod: pod.name.clone(),
            tls,
            sni,
            server_certificate: shown.map(|c| PresentedCertificate {
                dns_names: c.dns_names(),
            }),
        })
    };
    let who = format!("pod {}/{} port {target_port}", pod.namespace, pod.name);
    match (spec.connection.protocol, forward.tls) {
        (ConnectionProtocol::Udp, _) => match (&spec.dns_query, server) {
            (None, Server::UdpEcho) | (Some(_), Server::Dns) => answered(false, None, None),
            (Some(name), other) => ConnectionResult::Reset(format!(
                "the DNS query for {name} got no DNS answer: {who} runs {}",
                other.describe()
            )),
            (None, other) => ConnectionResult::Reset(format!(
                "the UDP echo probe got no reply: {who} runs {}",
                other.describe()
            )),
        },
        _ if server != Server::TcpEcho => ConnectionResult::Reset(format!(
            "no welcome line: {who} runs {}, not the TCP echo",
            server.describe()
        )),
        (_, None) if pod.tls.as_ref().is_some_and(|t| t.port == target_port) => {
            ConnectionResult::Reset(format!(
                "{who} expects TLS, and the client speaks plain TCP"
            ))
        }
        (_, None) => answered(false, None, None),
        (_, Some(mode)) => {
            let hop = Hop {
                gateways,
                provenance: &decision.provenance,
                pod,
                target_port,
                backend_tls: forward.backend_tls.as_deref(),
                now,
            };
            let (shown, tls, backend_sni) = match tls_handshake(&hop, mode, spec) {
                Ok(done) => done,
                Err(why) => return ConnectionResult::Reset(why),
            };
            if let Some(trust) = &spec.trust
                && let Err(why) =
                    check_server(&shown, trust, spec.connection.sni.as_deref(), snapshot, now)
            {
                return ConnectionResult::Reset(format!("the client refused the handshake: {why}"));
            }
            answered(tls, backend_sni, Some(&shown))
        }
    }
}

/// The hop from the Gateway to the pod a connection is delivered to.
struct Hop<'a> {
    gateways: &'a [GatewayConfig],
    provenance: &'a Option<gwsim_engine::decision::Provenance>,
    pod: &'a crate::echo::EchoPod,
    target_port: u16,
    /// The BackendTLSPolicy of the backend port, under Terminate.
    backend_tls: Option<&'a BackendTls>,
    now: SimTime,
}

/// Who completes the client's TLS handshake, and what the backend then sees: under
/// Passthrough the pod, on its TLS port, with its own certificate (it sees TLS and the SNI);
/// under Terminate the Gateway, with the listener's certificate (the pod sees plain TCP, or,
/// when a BackendTLSPolicy applies to its port, the Gateway's own TLS with the policy's SNI).
fn tls_handshake(
    hop: &Hop<'_>,
    mode: TlsMode,
    spec: &ConnectSpec,
) -> Result<(CertificateChain, bool, Option<String>), String> {
    let (pod, target_port) = (hop.pod, hop.target_port);
    let pod_tls = pod.tls.as_ref().filter(|t| t.port == target_port);
    let who = format!("pod {}/{}", pod.namespace, pod.name);
    match mode {
        TlsMode::Passthrough => match pod_tls.map(|t| &t.chain) {
            Some(Ok(chain)) => Ok((chain.clone(), true, spec.connection.sni.clone())),
            Some(Err(why)) => Err(format!("{who} cannot complete the handshake: {why}")),
            None => Err(format!(
                "{who} port {target_port} speaks plain TCP: the client's TLS handshake passed through to it fails"
            )),
        },
        TlsMode::Terminate => {
            let chain = listener_certificate(hop.gateways, hop.provenance).ok_or_else(|| {
                "the Terminate listener has no certificate to complete the handshake with"
                    .to_string()
            })?;
            let Some(policy) = hop.backend_tls else {
                if pod_tls.is_some() {
                    return Err(format!(
                        "{who} port {target_port} expects TLS, and the Gateway sends the terminated stream in plain text"
                    ));
                }
                return Ok((chain, false, None));
            };
            let client = hop.provenance.as_ref().and_then(|p| {
                let gateway = hop.gateways.iter().find(|g| g.key == p.gateway)?;
                gateway.backend_client_certificate.as_ref()
            });
            let now = unix_seconds(hop.now);
            match crate::backend_tls::connect(
                Some(policy),
                pod.tls.as_deref(),
                target_port,
                client,
                now,
            ) {
                Upstream::Tls(report) => Ok((chain, true, Some(report.server_name))),
                Upstream::Failed(why) => Err(format!(
                    "the Gateway's TLS to {who} port {target_port} failed: {why}"
                )),
                Upstream::Plain | Upstream::PlainToTls => Err(format!(
                    "the Gateway's TLS to {who} port {target_port} was not made"
                )),
            }
        }
    }
}

/// The certificate of the Terminate listener that took the connection.
fn listener_certificate(
    gateways: &[GatewayConfig],
    provenance: &Option<gwsim_engine::decision::Provenance>,
) -> Option<CertificateChain> {
    let p = provenance.as_ref()?;
    gateways
        .iter()
        .find(|g| g.key == p.gateway)?
        .listeners
        .iter()
        .find(|l| l.name == p.listener)?
        .certificate
        .clone()
}

/// What a pod runs, as far as connections go (the wire's echo backends start the same).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Server {
    /// Upstream's echo in TCP mode (`TCP_ECHO_SERVER`).
    TcpEcho,
    /// Upstream's echo in UDP mode (`UDP_ECHO_SERVER`).
    UdpEcho,
    /// A CoreDNS container (upstream's `coredns` backend).
    Dns,
    /// Upstream's echo in HTTP or gRPC mode.
    RequestEcho,
}

impl Server {
    pub fn describe(self) -> &'static str {
        match self {
            Server::TcpEcho => "the TCP echo",
            Server::UdpEcho => "the UDP echo",
            Server::Dns => "a DNS server",
            Server::RequestEcho => "the HTTP echo",
        }
    }
}

/// Environment variables that switch upstream's echo image into its TCP and UDP modes.
pub const TCP_ECHO_ENV: &str = "TCP_ECHO_SERVER";
pub const UDP_ECHO_ENV: &str = "UDP_ECHO_SERVER";

/// What the pod's containers run: the echo modes by their environment (set to anything but
/// empty), a DNS server by the CoreDNS image.
pub fn server_of(snapshot: &Snapshot, namespace: &str, name: &str) -> Server {
    let Some(Object::Pod(pod)) = snapshot.get(&ObjectKey::new(Kind::Pod, namespace, name)) else {
        return Server::RequestEcho;
    };
    let containers = pod.spec.iter().flat_map(|s| s.containers.iter());
    let set = |env: &str| {
        pod.spec
            .iter()
            .flat_map(|s| s.containers.iter())
            .flat_map(|c| c.env.iter().flatten())
            .any(|e| e.name == env && e.value.as_deref().is_some_and(|v| !v.is_empty()))
    };
    if set(UDP_ECHO_ENV) {
        Server::UdpEcho
    } else if set(TCP_ECHO_ENV) {
        Server::TcpEcho
    } else if containers
        .filter_map(|c| c.image.as_deref())
        .any(|image| image.contains("coredns/coredns"))
    {
        Server::Dns
    } else {
        Server::RequestEcho
    }
}

/// The client's checks of the certificate it is shown: chains to the trusted CA at the
/// virtual clock, valid for the SNI. The wire client makes the same checks.
pub fn check_server(
    chain: &CertificateChain,
    trust: &ObjectKey,
    sni: Option<&str>,
    snapshot: &Snapshot,
    now: SimTime,
) -> Result<(), String> {
    let Some(Object::ConfigMap(map)) = snapshot.get(trust) else {
        return Err(format!("ConfigMap {} not found", trust.namespaced_name()));
    };
    let pem = map
        .data
        .as_ref()
        .and_then(|d| d.get("ca.crt"))
        .ok_or_else(|| format!("ConfigMap {} has no ca.crt", trust.namespaced_name()))?;
    let anchors = TrustAnchors::from_pem(pem.as_bytes())?;
    chain.verify(&anchors, unix_seconds(now), false)?;
    match sni {
        Some(name) => chain.valid_for_name(name),
        None => Ok(()),
    }
}

/// The ConfigMap a `trust` names.
pub fn trust_key(namespace: &str, name: &str) -> ObjectKey {
    ObjectKey::new(Kind::ConfigMap, namespace, name)
}
