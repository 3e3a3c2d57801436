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

use gwsim_engine::config::{BackendClientCertificate, BackendTls, BackendTrust, SubjectAltName};
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
    /// The private key (PEM) that goes with `chain`; empty when it cannot be read.
    pub key: Vec<u8>,
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
        // The HTTP echo reads TLS_SERVER_PRIVKEY; upstream's TCP echo manifests spell it
        // TLS_SERVER_PRIV_KEY.
        let key = env("TLS_SERVER_PRIVKEY").or_else(|| env("TLS_SERVER_PRIV_KEY"))?;
        let port = env("HTTPS_PORT")
            .and_then(|p| p.parse().ok())
            .unwrap_or(DEFAULT_HTTPS_PORT);
        let read = |path: &str| read_file(container, volumes, namespace, path, snapshot);
        let key_pem = read(&key)
            .and_then(|k| gwsim_engine::x509::check_private_key(&k).map(|()| k))
            .map_err(|e| format!("TLS_SERVER_PRIVKEY {key}: {e}"));
        let chain = key_pem.clone().and_then(|_| read(&cert)).and_then(|pem| {
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
            key: key_pem.unwrap_or_default(),
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
    client: Option<&BackendClientCertificate>,
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
            (Ok(_), None) => Err(
                "the backend requires a client certificate and the Gateway has none".to_string(),
            ),
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
pub fn verify_server(
    tls: &BackendTls,
    chain: &CertificateChain,
    now_unix: u64,
) -> Result<(), String> {
    let policy = tls.policy.namespaced_name();
    match &tls.trust {
        BackendTrust::Certificates(anchors) => {
            chain.verify(anchors, now_unix, false).map_err(|e| {
                format!("the backend's certificate is refused ({e}; BackendTLSPolicy {policy})")
            })?
        }
        BackendTrust::System => {
            return Err(format!(
                "the backend's certificate does not chain to a well-known CA (gwsim's System store is empty; BackendTLSPolicy {policy})"
            ));
        }
        BackendTrust::None(why) => {
            return Err(format!(
                "BackendTLSPolicy {policy} has no valid CA certificate: {why}"
            ));
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

#[cfg(test)]
mod tests {
    use super::*;
    use gwsim_engine::object::ObjectKey;

    struct Pki {
        ca: String,
        other_ca: String,
        issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    }

    fn ca(name: &str) -> (String, rcgen::Issuer<'static, rcgen::KeyPair>) {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = params.self_signed(&key).expect("self-signed");
        (cert.pem(), rcgen::Issuer::new(params, key))
    }

    fn pki() -> Pki {
        let (backend_ca, issuer) = ca("backend CA");
        let (other_ca, _) = ca("other CA");
        Pki {
            ca: backend_ca,
            other_ca,
            issuer,
        }
    }

    /// A certificate for `names` (DNS names, or URIs when they contain `://`), valid 2025-2030.
    fn leaf(pki: &Pki, names: &[&str], client: bool) -> CertificateChain {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params.subject_alt_names = names
            .iter()
            .map(|n| {
                if n.contains("://") {
                    rcgen::SanType::URI(rcgen::string::Ia5String::try_from(*n).expect("uri"))
                } else {
                    rcgen::SanType::DnsName(rcgen::string::Ia5String::try_from(*n).expect("dns"))
                }
            })
            .collect();
        params.extended_key_usages = vec![if client {
            rcgen::ExtendedKeyUsagePurpose::ClientAuth
        } else {
            rcgen::ExtendedKeyUsagePurpose::ServerAuth
        }];
        params.not_before = rcgen::date_time_ymd(2025, 1, 1);
        params.not_after = rcgen::date_time_ymd(2030, 1, 1);
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &pki.issuer).expect("signed");
        CertificateChain::from_pem(cert.pem().as_bytes()).expect("chain")
    }

    fn policy(pki_pem: &str, hostname: &str, sans: Vec<SubjectAltName>) -> BackendTls {
        BackendTls {
            policy: ObjectKey::new(Kind::BackendTlsPolicy, "ns", "p"),
            hostname: hostname.to_string(),
            subject_alt_names: sans,
            trust: BackendTrust::Certificates(
                TrustAnchors::from_pem(pki_pem.as_bytes()).expect("anchors"),
            ),
            ca_digest: 0,
        }
    }

    fn serving(chain: CertificateChain) -> ServingTls {
        ServingTls {
            port: DEFAULT_HTTPS_PORT,
            chain: Ok(chain),
            key: Vec::new(),
            client_cas: None,
        }
    }

    /// 2026-01-01, the simulator's epoch.
    const NOW: u64 = 1_767_225_600;

    fn failed(u: &Upstream) -> bool {
        matches!(u, Upstream::Failed(_))
    }

    #[test]
    fn the_handshake_checks_ca_hostname_and_time() {
        let pki = pki();
        let pod = serving(leaf(&pki, &["abc.example.com"], false));
        let good = policy(&pki.ca, "abc.example.com", Vec::new());
        assert_eq!(
            connect(Some(&good), Some(&pod), 8443, None, NOW),
            Upstream::Tls(TlsReport {
                server_name: "abc.example.com".into(),
                peer_certificates: Vec::new()
            })
        );
        // Wrong CA, wrong hostname, a certificate not valid yet or expired: refused.
        assert!(failed(&connect(
            Some(&policy(&pki.other_ca, "abc.example.com", Vec::new())),
            Some(&pod),
            8443,
            None,
            NOW
        )));
        assert!(failed(&connect(
            Some(&policy(&pki.ca, "def.example.com", Vec::new())),
            Some(&pod),
            8443,
            None,
            NOW
        )));
        assert!(failed(&connect(
            Some(&good),
            Some(&pod),
            8443,
            None,
            NOW - 400 * 86_400
        )));
        assert!(failed(&connect(
            Some(&good),
            Some(&pod),
            8443,
            None,
            NOW + 5 * 365 * 86_400
        )));
        // No usable CA, or System (empty in gwsim): refused.
        let none = BackendTls {
            trust: BackendTrust::None("ConfigMap not found".into()),
            ..good.clone()
        };
        assert!(failed(&connect(Some(&none), Some(&pod), 8443, None, NOW)));
        let system = BackendTls {
            trust: BackendTrust::System,
            ..good.clone()
        };
        assert!(failed(&connect(Some(&system), Some(&pod), 8443, None, NOW)));
        // Ports: TLS to a plain port fails; plain to the TLS port is the echo's 400.
        assert!(failed(&connect(Some(&good), Some(&pod), 3000, None, NOW)));
        assert!(failed(&connect(Some(&good), None, 8443, None, NOW)));
        assert_eq!(
            connect(None, Some(&pod), 8443, None, NOW),
            Upstream::PlainToTls
        );
        assert_eq!(connect(None, Some(&pod), 3000, None, NOW), Upstream::Plain);
    }

    #[test]
    fn subject_alt_names_replace_the_hostname_for_authentication() {
        let pki = pki();
        let pod = serving(leaf(
            &pki,
            &["abc.example.com", "spiffe://abc.example.com/id"],
            false,
        ));
        let with = |sans: Vec<SubjectAltName>, hostname: &str| {
            connect(
                Some(&policy(&pki.ca, hostname, sans)),
                Some(&pod),
                8443,
                None,
                NOW,
            )
        };
        let uri = |u: &str| SubjectAltName::Uri(u.into());
        let dns = |h: &str| SubjectAltName::Hostname(h.into());
        // The hostname is the SNI only: a mismatching one passes when a SAN matches.
        assert!(!failed(&with(
            vec![uri("spiffe://abc.example.com/id")],
            "x.example.com"
        )));
        assert!(!failed(&with(
            vec![dns("abc.example.com")],
            "x.example.com"
        )));
        assert!(!failed(&with(
            vec![uri("spiffe://no/such"), dns("abc.example.com")],
            "a.b"
        )));
        // A matching hostname does not help when no SAN matches.
        assert!(failed(&with(
            vec![dns("def.example.com")],
            "abc.example.com"
        )));
        assert!(failed(&with(
            vec![uri("spiffe://abc.example.com/other")],
            "abc.example.com"
        )));
        match with(vec![dns("abc.example.com")], "sni.example.com") {
            Upstream::Tls(report) => assert_eq!(report.server_name, "sni.example.com"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_backend_asking_for_a_client_certificate_gets_the_gateways() {
        let pki = pki();
        let pod = ServingTls {
            client_cas: Some(Ok(pki.ca.clone())),
            ..serving(leaf(&pki, &["abc.example.com"], false))
        };
        let good = policy(&pki.ca, "abc.example.com", Vec::new());
        assert!(failed(&connect(Some(&good), Some(&pod), 8443, None, NOW)));
        let chain = leaf(&pki, &[], true);
        let client = BackendClientCertificate {
            chain: chain.clone(),
            pem: "PEM".into(),
            key: Vec::new(),
        };
        match connect(Some(&good), Some(&pod), 8443, Some(&client), NOW) {
            Upstream::Tls(report) => assert_eq!(report.peer_certificates, ["PEM"]),
            other => panic!("{other:?}"),
        }
        let (_, stranger) = ca("stranger");
        let foreign = Pki {
            ca: String::new(),
            other_ca: String::new(),
            issuer: stranger,
        };
        let client = BackendClientCertificate {
            chain: leaf(&foreign, &[], true),
            pem: "PEM".into(),
            key: Vec::new(),
        };
        assert!(failed(&connect(
            Some(&good),
            Some(&pod),
            8443,
            Some(&client),
            NOW
        )));
    }
}
