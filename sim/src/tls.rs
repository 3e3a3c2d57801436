//! The TLS handshake of an https request, modelled as far as the Gateway's decisions go: the
//! listener the SNI selects (the choice the routing table makes), the certificate it presents,
//! and frontend client certificate validation (GEP-91) with real X.509 path building at the
//! simulator's clock. Ciphers, versions and key exchange are not modelled.

use gwsim_engine::config::{GatewayConfig, Protocol, unusable_listeners};
use gwsim_engine::decision::{Request, Scheme};
use gwsim_engine::object::ObjectKey;
use gwsim_engine::table::RoutingTable;
use gwsim_engine::x509::{self, CertificateChain};
use gwsim_engine::{Kind, Snapshot};

use crate::cluster::{PresentedCertificate, SendError};
use crate::time::{EPOCH_UNIX_SECONDS, SimTime};

/// What a handshake that succeeded established.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Handshake {
    /// The certificate the Gateway presented; `None` when its Secret was a stand-in whose
    /// bytes were never read.
    pub server_certificate: Option<PresentedCertificate>,
}

/// The parts of the cluster a handshake reads.
pub struct TlsView<'a> {
    pub table: &'a RoutingTable,
    pub gateways: &'a [GatewayConfig],
    pub snapshot: &'a Snapshot,
    pub now: SimTime,
}

/// Runs the handshake `request` starts, the client presenting `client_certificate` (a
/// `kubernetes.io/tls` Secret). `Ok(None)`: not https, or no listener of the port serves the
/// name while some usable one exists (the routing decision then answers, as before).
pub fn handshake(
    view: &TlsView<'_>,
    request: &Request,
    client_certificate: Option<&ObjectKey>,
) -> Result<Option<Handshake>, SendError> {
    if request.scheme != Scheme::Https {
        return Ok(None);
    }
    // The client reads its certificate before it connects.
    let presented = client_certificate
        .map(|key| client_chain(view.snapshot, key).map(|chain| (key, chain)))
        .transpose()?;
    let only = match view.gateways {
        [only] => Some(&only.key),
        _ => None,
    };
    let Some(gateway_key) = request.gateway.as_ref().or(only) else {
        return Ok(None);
    };
    let Some(gateway) = view.gateways.iter().find(|g| &g.key == gateway_key) else {
        return Ok(None);
    };
    let sni = request.sni.clone().unwrap_or_else(|| request.host.clone());
    let Some(name) = view.table.tls_listener(gateway_key, request.port, &sni) else {
        let on_port: Vec<_> = gateway
            .listeners
            .iter()
            .filter(|l| l.port == request.port && l.protocol == Protocol::Https)
            .collect();
        if !on_port.is_empty() && on_port.iter().all(|l| !l.usable) {
            return Err(SendError::HandshakeFailed(format!(
                "no HTTPS listener on port {} can serve TLS: {}",
                request.port,
                unusable_listeners(&on_port)
            )));
        }
        return Ok(None);
    };
    let Some(listener) = gateway
        .listeners
        .iter()
        .find(|l| l.name == name && l.port == request.port && l.usable)
    else {
        return Ok(None);
    };
    let server_certificate = listener.certificate.as_ref().map(|c| PresentedCertificate {
        dns_names: c.dns_names(),
    });
    if let Some(validation) = &listener.client_validation {
        let verdict = match &presented {
            None => Err("the client presented no certificate".to_string()),
            Some((key, chain)) => chain
                .verify(&validation.anchors, unix_seconds(view.now), true)
                .map_err(|why| {
                    format!(
                        "the client certificate {} is refused: {why}",
                        key.namespaced_name()
                    )
                }),
        };
        if let Err(why) = verdict
            && !validation.insecure_fallback
        {
            return Err(SendError::HandshakeFailed(format!(
                "listener {} requires a client certificate its CAs issued (spec.tls.frontend); {why}",
                listener.name
            )));
        }
    }
    Ok(Some(Handshake { server_certificate }))
}

/// The certificate chain of the client's Secret; a Secret that is missing or holds no
/// certificate and key is a mistake in the scenario, not a refusal by the Gateway.
fn client_chain(snapshot: &Snapshot, key: &ObjectKey) -> Result<CertificateChain, SendError> {
    let name = key.namespaced_name();
    let bad =
        |why: String| SendError::Transport(format!("request.clientCertificate {name}: {why}"));
    let secret = snapshot
        .secret(&key.namespace, &key.name)
        .ok_or_else(|| bad("Secret not found".to_string()))?;
    let value = |k: &str| {
        secret
            .data
            .as_ref()
            .and_then(|d| d.get(k))
            .map(|b| b.0.clone())
            .unwrap_or_default()
    };
    x509::check_private_key(&value("tls.key")).map_err(|e| bad(format!("tls.key {e}")))?;
    CertificateChain::from_pem(&value("tls.crt")).map_err(|e| bad(format!("tls.crt {e}")))
}

/// The simulator's clock as Unix seconds.
pub(crate) fn unix_seconds(now: SimTime) -> u64 {
    u64::try_from(EPOCH_UNIX_SECONDS).unwrap_or(0) + now.as_millis() / 1000
}

/// The Secret key a scenario's `request.clientCertificate` names.
pub fn secret_key(namespace: &str, name: &str) -> ObjectKey {
    ObjectKey::new(Kind::Secret, namespace, name)
}
