//! TLS between the proxy and its echo backends (BackendTLSPolicy, GEP-1897) on real sockets:
//! the echo server of a pod that serves TLS (`TLS_SERVER_CERT`; the simulator's
//! `gwsim_sim::backend_tls`) accepts with the pod's certificate, and the proxy connects with a
//! rustls client whose verifier makes the simulator's checks (the policy's CAs, then its
//! hostname or subjectAltNames) at the wall clock.

use std::sync::Arc;

use gwsim_engine::config::{BackendClientCertificate, BackendTls};
use gwsim_engine::x509::TrustAnchors;
use gwsim_sim::backend_tls::ServingTls;
use gwsim_sim::cluster::TlsReport;
use rustls::client::danger::{ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{ClientConfig, DistinguishedName, ServerConfig};

use crate::tls::{presented_chain, refused};

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The echo server's TLS configuration for a pod serving `serving`; `h2` when it speaks HTTP/2
/// (the gRPC echo), HTTP/1.1 otherwise. `None` when its certificate or key cannot be used (its
/// handshakes then fail, as the simulator's do).
pub(crate) fn echo_server_config(serving: &ServingTls, h2: bool) -> Option<Arc<ServerConfig>> {
    let chain = serving.chain.as_ref().ok()?;
    let provider = provider();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .ok()?;
    let builder = match &serving.client_cas {
        None => builder.with_no_client_auth(),
        Some(cas) => {
            let anchors = cas
                .as_ref()
                .ok()
                .and_then(|pem| TrustAnchors::from_pem(pem.as_bytes()).ok());
            builder.with_client_cert_verifier(Arc::new(EchoClientVerifier { anchors, provider }))
        }
    };
    let mut config = builder
        .with_single_cert(chain.der().to_vec(), key_of(serving)?)
        .ok()?;
    config.alpn_protocols = vec![if h2 {
        b"h2".to_vec()
    } else {
        b"http/1.1".to_vec()
    }];
    Some(Arc::new(config))
}

fn key_of(serving: &ServingTls) -> Option<rustls::pki_types::PrivateKeyDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::PrivateKeyDer::from_pem_slice(&serving.key).ok()
}

/// The certificates as PEM, leaf first (what upstream's echo reports as peer certificates).
pub(crate) fn pem_of(der: &[u8]) -> String {
    use base64::Engine as _;
    let text = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in text.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// What the echo saw of an accepted session.
pub(crate) fn report(connection: &rustls::ServerConnection) -> TlsReport {
    TlsReport {
        server_name: connection.server_name().unwrap_or_default().to_string(),
        peer_certificates: connection
            .peer_certificates()
            .unwrap_or_default()
            .iter()
            .map(|c| pem_of(c.as_ref()))
            .collect(),
    }
}

/// The proxy's client configuration for a backend under `tls`: the policy's checks, the
/// Gateway's client certificate when it has one, `h2` for a gRPC call.
pub(crate) fn client_config(
    tls: &Arc<BackendTls>,
    client: Option<&BackendClientCertificate>,
    h2: bool,
) -> Result<(Arc<ClientConfig>, ServerName<'static>), String> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PolicyVerifier {
            tls: tls.clone(),
            provider,
        }));
    let mut config = match client {
        Some(c) => {
            use rustls::pki_types::pem::PemObject;
            let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(&c.key)
                .map_err(|e| format!("the Gateway's client key: {e:?}"))?;
            builder
                .with_client_auth_cert(c.chain.der().to_vec(), key)
                .map_err(|e| e.to_string())?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![if h2 {
        b"h2".to_vec()
    } else {
        b"http/1.1".to_vec()
    }];
    let name = ServerName::try_from(tls.hostname.clone()).map_err(|e| e.to_string())?;
    Ok((Arc::new(config), name))
}

/// The backend's certificate checked as the simulator checks it.
#[derive(Debug)]
struct PolicyVerifier {
    tls: Arc<BackendTls>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PolicyVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        presented_chain(end_entity, intermediates)
            .and_then(|chain| {
                gwsim_sim::backend_tls::verify_server(&self.tls, &chain, now.as_secs())
            })
            .map(|()| ServerCertVerified::assertion())
            .map_err(refused)
    }

    crate::tls::provider_signature_checks!();
}

/// `TLS_CLIENT_CACERTS`: a client must present a certificate those CAs issued.
#[derive(Debug)]
struct EchoClientVerifier {
    /// `None`: the bundle cannot be read, and no client gets in.
    anchors: Option<TrustAnchors>,
    provider: Arc<CryptoProvider>,
}

impl ClientCertVerifier for EchoClientVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let anchors = self
            .anchors
            .as_ref()
            .ok_or_else(|| refused("the echo's client CA bundle cannot be read".to_string()))?;
        presented_chain(end_entity, intermediates)
            .and_then(|chain| chain.verify(anchors, now.as_secs(), true))
            .map(|()| ClientCertVerified::assertion())
            .map_err(refused)
    }

    crate::tls::provider_signature_checks!();
}
