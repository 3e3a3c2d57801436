//! TLS connections to Gateway ports (`connect` steps): the engine's connection decision
//! ([`gwsim_engine::connection`]), then the stream delivered as upstream's TCP echo sees it.
//!
//! Passthrough: the client's handshake reaches the backend pod, which completes it with its
//! own certificate (`TLS_SERVER_CERT`) on its TLS port and reports IS_TLS and the SNI; a pod
//! port without TLS cannot complete the client's handshake. Terminate: the Gateway completes
//! the handshake with the listener's certificate and sends the plain stream; the pod reports
//! no TLS and no SNI (a pod port that expects TLS cannot read it). The client checks the
//! certificate it is shown against the CA of `trust` at the virtual clock, for the SNI, as
//! upstream's TLS client does with its CA.

use gwsim_engine::config::{GatewayConfig, TlsMode};
use gwsim_engine::connection::{self, Connection, ConnectionOutcome};
use gwsim_engine::object::{Kind, Object, ObjectKey, Snapshot};
use gwsim_engine::x509::{CertificateChain, TrustAnchors};
use rand::RngCore;
use serde::Serialize;

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
}

/// What the client of a connection learns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum ConnectionResult {
    /// Nothing answered: the Gateway (or the backend) closed or reset the connection, or the
    /// client gave up on the handshake. The text says why.
    Reset(String),
    /// The echo backend's report.
    Echoed(ConnectionEcho),
}

/// What upstream's TCP echo reports, and the certificate the client was shown.
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
    let pod_tls = pod.tls.as_ref().filter(|t| t.port == target_port);
    let sni = spec.connection.sni.clone();
    let (shown, tls, backend_sni): (CertificateChain, bool, Option<String>) = match forward.tls {
        TlsMode::Passthrough => match pod_tls.map(|t| &t.chain) {
            Some(Ok(chain)) => (chain.clone(), true, sni.clone()),
            Some(Err(why)) => {
                return ConnectionResult::Reset(format!(
                    "pod {}/{} cannot complete the handshake: {why}",
                    pod.namespace, pod.name
                ));
            }
            None => {
                return ConnectionResult::Reset(format!(
                    "pod {}/{} port {target_port} speaks plain TCP: the client's TLS handshake passed through to it fails",
                    pod.namespace, pod.name
                ));
            }
        },
        TlsMode::Terminate => {
            if pod_tls.is_some() {
                return ConnectionResult::Reset(format!(
                    "pod {}/{} port {target_port} expects TLS, and the Gateway sends the terminated stream in plain text",
                    pod.namespace, pod.name
                ));
            }
            let chain = decision.provenance.as_ref().and_then(|p| {
                gateways
                    .iter()
                    .find(|g| g.key == p.gateway)?
                    .listeners
                    .iter()
                    .find(|l| l.name == p.listener)?
                    .certificate
                    .clone()
            });
            let Some(chain) = chain else {
                return ConnectionResult::Reset(
                    "the Terminate listener has no certificate to complete the handshake with"
                        .to_string(),
                );
            };
            (chain, false, None)
        }
    };
    if let Some(trust) = &spec.trust
        && let Err(why) = check_server(&shown, trust, sni.as_deref(), snapshot, now)
    {
        return ConnectionResult::Reset(format!("the client refused the handshake: {why}"));
    }
    ConnectionResult::Echoed(ConnectionEcho {
        namespace: pod.namespace.clone(),
        pod: pod.name.clone(),
        tls,
        sni: backend_sni,
        server_certificate: Some(PresentedCertificate {
            dns_names: shown.dns_names(),
        }),
    })
}

/// The client's checks of the certificate it is shown: chains to the trusted CA at the
/// virtual clock, valid for the SNI.
fn check_server(
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
