//! TLS on the Gateway's HTTPS sockets: the ClientHello's SNI selects the listener as the
//! engine selects it (`RoutingTable::tls_listener`), and the listener's configuration is used
//! for the handshake: its certificate and, when the Gateway validates client certificates on
//! its port (GEP-91, `spec.tls.frontend`), a request for the client's certificate checked by
//! the engine's own chain verification (`x509::CertificateChain::verify`) against the CAs
//! the engine resolved. `AllowInsecureFallback` asks for a certificate but lets in a client
//! without a valid one.
//!
//! As the simulator's handshake (sim/src/tls.rs): a name no listener of the port serves, while
//! some usable HTTPS listener exists, closes the connection (the request is refused); when no
//! HTTPS listener of the port is usable, the handshake fails with an alert.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use gwsim_engine::RoutingTable;
use gwsim_engine::config::{ClientValidation, Protocol};
use gwsim_engine::object::ObjectKey;
use gwsim_engine::x509::CertificateChain;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{DistinguishedName, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::server::TlsStream;

use crate::plan::Certificates;

/// The handshake configuration of each HTTPS listener, by (Gateway, listener name), and the
/// ports whose HTTPS listeners are all unusable.
#[derive(Default)]
pub(crate) struct ListenerTls {
    configs: HashMap<(ObjectKey, String), Arc<ServerConfig>>,
    unusable_ports: HashSet<(ObjectKey, u16)>,
    /// Fails every handshake (no certificate): for ports nothing can serve.
    refusing: Option<Arc<ServerConfig>>,
}

/// How one handshake goes.
pub(crate) enum Choice {
    /// The listener's configuration.
    Serve(Arc<ServerConfig>),
    /// No listener serves the name: close the connection.
    Close,
    /// No listener of the port can serve TLS: fail the handshake with an alert.
    Fail(Arc<ServerConfig>),
}

impl ListenerTls {
    /// The configurations of the table's usable HTTPS listeners that have a certificate.
    pub(crate) fn new(table: &RoutingTable, certificates: &Certificates) -> ListenerTls {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut out = ListenerTls {
            refusing: server_config(&provider, Arc::new(NoCertificate), None),
            ..ListenerTls::default()
        };
        for gateway in table.gateways() {
            let mut ports: HashMap<u16, bool> = HashMap::new();
            for listener in &gateway.listeners {
                if listener.protocol != Protocol::Https {
                    continue;
                }
                *ports.entry(listener.port).or_default() |= listener.usable;
                let key = (gateway.key.clone(), listener.name.clone());
                let Some(certified) = certificates.get(&key) else {
                    continue;
                };
                let verifier = listener.client_validation.as_ref().map(|validation| {
                    Arc::new(EngineVerifier {
                        validation: validation.clone(),
                        provider: provider.clone(),
                    }) as Arc<dyn ClientCertVerifier>
                });
                let resolver = Arc::new(Fixed(certified.clone()));
                if let Some(config) = server_config(&provider, resolver, verifier) {
                    out.configs.insert(key, config);
                }
            }
            out.unusable_ports.extend(
                ports
                    .into_iter()
                    .filter(|(_, usable)| !usable)
                    .map(|(port, _)| (gateway.key.clone(), port)),
            );
        }
        out
    }

    /// The handshake for a ClientHello naming `sni` on `gateway`'s `port`.
    pub(crate) fn choose(
        &self,
        table: &RoutingTable,
        gateway: &ObjectKey,
        port: u16,
        sni: Option<&str>,
    ) -> Choice {
        let listener = sni.and_then(|sni| table.tls_listener(gateway, port, sni));
        if let Some(config) =
            listener.and_then(|l| self.configs.get(&(gateway.clone(), l.to_string())))
        {
            return Choice::Serve(config.clone());
        }
        match (
            &self.refusing,
            self.unusable_ports.contains(&(gateway.clone(), port)),
        ) {
            (Some(refusing), true) => Choice::Fail(refusing.clone()),
            _ => Choice::Close,
        }
    }
}

fn server_config(
    provider: &Arc<CryptoProvider>,
    resolver: Arc<dyn ResolvesServerCert>,
    verifier: Option<Arc<dyn ClientCertVerifier>>,
) -> Option<Arc<ServerConfig>> {
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .ok()?;
    let mut config = match verifier {
        Some(verifier) => builder.with_client_cert_verifier(verifier),
        None => builder.with_no_client_auth(),
    }
    .with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Some(Arc::new(config))
}

/// The TLS handshake on an accepted connection: the ClientHello read, the listener's
/// configuration chosen by its SNI. `None`: no TLS connection (refused, failed, or not within
/// `limit`). A failed handshake's connection is closed gently (its alert sent, what the client
/// sent read and dropped), so that the client reads the alert rather than a reset.
pub(crate) async fn accept<S>(
    stream: S,
    choose: impl FnOnce(Option<&str>) -> Choice,
    limit: Duration,
) -> Option<TlsStream<S>>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let acceptor =
        tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), stream);
    let start = tokio::time::timeout(limit, acceptor).await.ok()?.ok()?;
    let config = match choose(start.client_hello().server_name()) {
        Choice::Serve(config) | Choice::Fail(config) => config,
        Choice::Close => return None,
    };
    match tokio::time::timeout(limit, start.into_stream(config).into_fallible()).await {
        Ok(Ok(stream)) => Some(stream),
        Ok(Err((_, mut io))) => {
            let _ = io.shutdown().await;
            let mut sink = [0u8; 4096];
            let drain = async { while matches!(io.read(&mut sink).await, Ok(n) if n > 0) {} };
            let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
            None
        }
        Err(_) => None,
    }
}

/// One listener's certificate, whatever the name.
#[derive(Debug)]
struct Fixed(Arc<CertifiedKey>);

impl ResolvesServerCert for Fixed {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

/// No certificate: every handshake fails.
#[derive(Debug)]
struct NoCertificate;

impl ResolvesServerCert for NoCertificate {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        None
    }
}

/// A chain a peer presented, as the engine's x509 code reads it.
pub(crate) fn presented_chain(
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
) -> Result<CertificateChain, String> {
    let mut chain = vec![end_entity.clone().into_owned()];
    chain.extend(intermediates.iter().map(|c| c.clone().into_owned()));
    CertificateChain::from_der(chain)
}

/// A peer's certificate refused, with why (the peer gets a bad-certificate alert).
pub(crate) fn refused(why: String) -> rustls::Error {
    rustls::Error::InvalidCertificate(rustls::CertificateError::Other(rustls::OtherError(
        Arc::new(std::io::Error::other(why)),
    )))
}

/// The handshake signature checks of a certificate verifier with a `provider` field: the
/// provider's own (every verifier here checks chains its own way, signatures as rustls does).
macro_rules! provider_signature_checks {
    () => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &rustls::pki_types::CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                message,
                cert,
                dss,
                &self.provider.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &rustls::pki_types::CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                message,
                cert,
                dss,
                &self.provider.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            self.provider
                .signature_verification_algorithms
                .supported_schemes()
        }
    };
}
pub(crate) use provider_signature_checks;

/// Client certificates checked as the engine checks them (GEP-91).
#[derive(Debug)]
struct EngineVerifier {
    validation: Arc<ClientValidation>,
    provider: Arc<CryptoProvider>,
}

impl ClientCertVerifier for EngineVerifier {
    fn client_auth_mandatory(&self) -> bool {
        !self.validation.insecure_fallback
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verdict = presented_chain(end_entity, intermediates)
            .and_then(|chain| chain.verify(&self.validation.anchors, now.as_secs(), true));
        match verdict {
            Ok(()) => Ok(ClientCertVerified::assertion()),
            Err(why) if self.validation.insecure_fallback => {
                tracing::debug!(target: "gwsim::serve", "client certificate let in (AllowInsecureFallback): {why}");
                Ok(ClientCertVerified::assertion())
            }
            Err(why) => Err(refused(why)),
        }
    }

    provider_signature_checks!();
}
