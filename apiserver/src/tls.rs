//! TLS: a self-signed certificate for the loopback names, and a kubeconfig that trusts it.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::ApiServerError;

/// A generated certificate and its key, PEM-encoded.
pub struct SelfSigned {
    pub cert_pem: String,
    pub key_pem: String,
}

/// A certificate for `localhost`, `127.0.0.1`, `::1` and the bound address.
pub fn self_signed(addr: SocketAddr) -> Result<SelfSigned, ApiServerError> {
    let mut names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    let ip = addr.ip().to_string();
    if !names.contains(&ip) && !addr.ip().is_unspecified() {
        names.push(ip);
    }
    let certified = rcgen::generate_simple_self_signed(names)
        .map_err(|e| ApiServerError::Tls(e.to_string()))?;
    Ok(SelfSigned {
        cert_pem: certified.cert.pem(),
        key_pem: certified.signing_key.serialize_pem(),
    })
}

/// A rustls server configuration (ring provider) for the certificate.
pub fn server_config(cert: &SelfSigned) -> Result<Arc<rustls::ServerConfig>, ApiServerError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = vec![
        CertificateDer::from_pem_slice(cert.cert_pem.as_bytes())
            .map_err(|e| ApiServerError::Tls(e.to_string()))?,
    ];
    let key = PrivateKeyDer::from_pem_slice(cert.key_pem.as_bytes())
        .map_err(|e| ApiServerError::Tls(e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ApiServerError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| ApiServerError::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A kubeconfig for the server at `server` (`https://127.0.0.1:6443`), trusting `ca_pem`
/// when given, authenticating with `token` when given.
pub fn kubeconfig(server: &str, ca_pem: Option<&str>, token: Option<&str>) -> String {
    use base64::Engine;
    let mut cluster = format!("    server: {server}\n");
    if let Some(ca) = ca_pem {
        let encoded = base64::engine::general_purpose::STANDARD.encode(ca);
        cluster.push_str(&format!("    certificate-authority-data: {encoded}\n"));
    }
    let user = match token {
        Some(t) => format!("  user:\n    token: {t}\n"),
        None => "  user: {}\n".to_string(),
    };
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: gwsim\n  cluster:\n{cluster}users:\n- name: gwsim\n{user}contexts:\n- name: gwsim\n  context:\n    cluster: gwsim\n    user: gwsim\ncurrent-context: gwsim\n"
    )
}
