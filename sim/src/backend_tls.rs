//! TLS between the Gateway and a backend (BackendTLSPolicy, GEP-1897), without I/O: which echo
//! pods serve TLS and with what certificate, and the handshake the Gateway makes to them.
//!
//! As upstream's echo image does, a pod serves HTTPS on port 8443 (or `HTTPS_PORT`) when its
//! container sets `TLS_SERVER_CERT` and `TLS_SERVER_PRIVKEY` to files; with `TLS_CLIENT_CACERTS`
//! it asks the client for a certificate signed by those CAs. The files are read from the
//! container's volume mounts: a Secret volume's data or a ConfigMap volume's data, under the
//! key the file name (or an `items` entry) says.
//!
//! The Gateway speaks TLS to a backend port a policy applies to, sending the policy's hostname
//! as SNI, and accepts the backend's certificate only when it chains to the policy's CAs at the
//! simulator's clock and carries the hostname (or, with subjectAltNames, one of those). A
//! failed handshake is a connection failure: 503, retried as one. Plain HTTP sent to the TLS
//! port is answered 400 by the echo, as Go's HTTP server answers it.

use std::sync::Arc;

use gwsim_engine::config::{BackendTls, BackendTrust, SubjectAltName};
use gwsim_engine::object::{Kind, Object, ObjectKey, Snapshot};
use gwsim_engine::x509::{CertificateChain, TrustAnchors};
use k8s_openapi::api::core::v1::{Container, Pod, Volume};

use crate::cluster::TlsReport;

/// The port upstream's echo serves HTTPS on unless `HTTPS_PORT` says otherwise.
pub const DEFAULT_HTTPS_PORT: u16 = 8443;

/// How an echo pod serves TLS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServingTls {
    pub port: u16,
    /// The pod's certificate chain, or why its files cannot be read (the echo then fails every
    /// handshake, as a server without a usable certificate does).
    pub chain: Result<CertificateChain, String>,
    /// `TLS_CLIENT_CACERTS`: the PEM CA bundle a client's certificate must chain to.
    pub client_cas: Option<Result<String, String>>,
}

/// The TLS serving settings of a pod, when its echo container is given a certificate.
pub fn serving_tls(pod: &Pod, snapshot: &Snapshot) -> Option<Arc<ServingTls>> {
    let spec = pod.spec.as_ref()?;
    let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
    let volumes = spec.volumes.as_deref().unwrap_or_default();
    spec.containers.iter().find_map(|container| {
        let env = |name: &str| {
            container
                .env
                .iter()
                .flatten()
                .find(|e| e.name == name)
                .and_then(|e| e.value.clone())
                .filter(|v| !v.is_empty())
        };
        let cert = env("TLS_SERVER_CERT")?;
        let key = env("TLS_SERVER_PRIVKEY")?;
        let port = env("HTTPS_PORT")
            .and_then(|p| p.parse().ok())
            .unwrap_or(DEFAULT_HTTPS_PORT);
        let read = |path: &str| read_file(container, volumes, namespace, path, snapshot);
        let chain = read(&key)
            .and_then(|k| gwsim_engine::x509::check_private_key(&k).map(|()| k))
            .map_err(|e| format!("TLS_SERVER_PRIVKEY {key}: {e}"))
            .and_then(|_| read(&cert))
            .and_then(|pem| {
                CertificateChain::from_pem(&pem).map_err(|e| format!("TLS_SERVER_CERT {cert}: {e}"))
            });
        let client_cas = env("TLS_CLIENT_CACERTS").map(|path| {
            read(&path)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .map_err(|e| format!("TLS_CLIENT_CACERTS {path}: {e}"))
        });
        Some(Arc::new(ServingTls {
            port,
            chain,
            client_cas,
        }))
    })
}

/// The bytes of a file a container sees at `path`, from the Secret or ConfigMap volume
/// mounted over it.
fn read_file(
    container: &Container,
    volumes: &[Volume],
    namespace: &str,
    path: &str,
    snapshot: &Snapshot,
) -> Result<Vec<u8>, String> {
    let (mount, relative) = container
        .volume_mounts
        .iter()
        .flatten()
        .filter_map(|m| {
            let base = m.mount_path.trim_end_matches('/');
            let rest = path.strip_prefix(base)?.strip_prefix('/')?;
            Some((m, rest))
        })
        .max_by_key(|(m, _)| m.mount_path.len())
        .ok_or_else(|| "no volume is mounted there".to_string())?;
    let volume = volumes
        .iter()
        .find(|v| v.name == mount.name)
        .ok_or_else(|| format!("volume {} is not defined", mount.name))?;
    // An `items` entry maps a key to the path it is written at; without items the key is the
    // file name.
    let key_for = |items: Option<&Vec<k8s_openapi::api::core::v1::KeyToPath>>| match items {
        Some(items) => items
            .iter()
            .find(|i| i.path == relative)
            .map(|i| i.key.clone()),
        None => Some(relative.to_string()),
    };
    if let Some(secret) = &volume.secret {
        let name = secret.secret_name.as_deref().unwrap_or_default();
        let key = key_for(secret.items.as_ref()).ok_or("no item of the volume writes it")?;
        let Some(Object::Secret(s)) = snapshot.get(&ObjectKey::new(Kind::Secret, namespace, name))
        else {
            return Err(format!("Secret {namespace}/{name} not found"));
        };
        return s
            .data
            .as_ref()
            .and_then(|d| d.get(&key))
            .map(|b| b.0.clone())
            .ok_or_else(|| format!("Secret {namespace}/{name} has no {key}"));
    }
    if let Some(map) = &volume.config_map {
        let name = map.name.as_str();
        let key = key_for(map.items.as_ref()).ok_or("no item of the volume writes it")?;
        let Some(Object::ConfigMap(m)) =
            snapshot.get(&ObjectKey::new(Kind::ConfigMap, namespace, name))
        else {
            return Err(format!("ConfigMap {namespace}/{name} not found"));
        };
        return m
            .data
            .as_ref()
            .and_then(|d| d.get(&key))
            .map(|s| s.as_bytes().to_vec())
            .ok_or_else(|| format!("ConfigMap {namespace}/{name} has no {key}"));
    }
    Err(format!(
        "volume {} is neither a Secret nor a ConfigMap",
        mount.name
    ))
}

/// A client certificate the Gateway presents to backends (`Gateway.spec.tls.backend`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientCertificate {
    pub chain: CertificateChain,
    /// The certificate as PEM, as upstream's echo reports a peer certificate.
    pub pem: String,
}

/// How the Gateway's connection to one backend port turned out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Upstream {
    /// Plain HTTP to a plain port.
    Plain,
    /// A TLS session: what the backend saw of it.
    Tls(TlsReport),
    /// Plain HTTP to the pod's TLS port: the echo answers 400.
    PlainToTls,
    /// The handshake failed; the reason, for explanations.
    Failed(String),
}

/// The Gateway's connection to `port` of a pod serving `serving` (if it serves TLS), under the
/// policy `tls` (if one applies), at `now_unix` seconds.
pub fn connect(
    tls: Option<&BackendTls>,
    serving: Option<&ServingTls>,
    port: u16,
    client: Option<&ClientCertificate>,
    now_unix: u64,
) -> Upstream {
    let serving = serving.filter(|s| s.port == port);
    let (tls, serving) = match (tls, serving) {
        (None, None) => return Upstream::Plain,
        (None, Some(_)) => return Upstream::PlainToTls,
        (Some(_), None) => {
            return Upstream::Failed(format!("the backend does not speak TLS on port {port}"));
        }
        (Some(tls), Some(serving)) => (tls, serving),
    };
    let chain = match &serving.chain {
        Ok(chain) => chain,
        Err(why) => return Upstream::Failed(format!("the backend has no certificate: {why}")),
    };
    if let Err(why) = verify_server(tls, chain, now_unix) {
        return Upstream::Failed(why);
    }
    let mut peer_certificates = Vec::new();
    if let Some(cas) = &serving.client_cas {
        let client_ok = match (cas, client) {
            (Err(why), _) => Err(format!("the backend cannot validate clients: {why}")),
            (Ok(_), None) => Err("the backend requires a client certificate and the Gateway has none".to_string()),
            (Ok(pem), Some(client)) => TrustAnchors::from_pem(pem.as_bytes())
                .and_then(|anchors| client.chain.verify(&anchors, now_unix, true))
                .map_err(|e| format!("the backend refused the Gateway's client certificate: {e}")),
        };
        if let Err(why) = client_ok {
            return Upstream::Failed(why);
        }
    }
    if let Some(client) = client {
        peer_certificates.push(client.pem.clone());
    }
    Upstream::Tls(TlsReport {
        server_name: tls.hostname.clone(),
        peer_certificates,
    })
}

/// The Gateway's check of the backend's certificate: the chain to the policy's CAs, then the
/// names (`validation.hostname`, or one of `validation.subjectAltNames` when given).
fn verify_server(tls: &BackendTls, chain: &CertificateChain, now_unix: u64) -> Result<(), String> {
    let policy = tls.policy.namespaced_name();
    match &tls.trust {
        BackendTrust::Certificates(anchors) => chain
            .verify(anchors, now_unix, false)
            .map_err(|e| format!("the backend's certificate is refused ({e}; BackendTLSPolicy {policy})"))?,
        BackendTrust::System => {
            return Err(format!(
                "the backend's certificate does not chain to a well-known CA (gwsim's System store is empty; BackendTLSPolicy {policy})"
            ));
        }
        BackendTrust::None(why) => {
            return Err(format!("BackendTLSPolicy {policy} has no valid CA certificate: {why}"));
        }
    }
    if tls.subject_alt_names.is_empty() {
        return chain
            .valid_for_name(&tls.hostname)
            .map_err(|e| format!("{e} (BackendTLSPolicy {policy} hostname)"));
    }
    let dns = chain.dns_names();
    let uris = chain.uri_names();
    let matched = tls.subject_alt_names.iter().any(|want| match want {
        SubjectAltName::Hostname(h) => {
            dns.iter().any(|d| d.eq_ignore_ascii_case(h))
                || (!h.starts_with("*.") && chain.valid_for_name(h).is_ok())
        }
        SubjectAltName::Uri(u) => uris.iter().any(|got| got == u),
    });
    if matched {
        Ok(())
    } else {
        Err(format!(
            "the backend's certificate carries none of the subjectAltNames of BackendTLSPolicy {policy} (it has DNS {dns:?}, URI {uris:?})"
        ))
    }
}
