//! X.509 certificates as Secrets and ConfigMaps hold them: PEM parsed with rustls-pki-types,
//! certificates read and chains verified with rustls-webpki (ring's algorithms). Pure: the
//! time a chain is checked at is the caller's (the simulator's virtual clock).

use std::fmt;
use std::sync::Arc;

use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, TrustAnchor, UnixTime};
use webpki::{EndEntityCert, KeyUsage};

/// The PEM block `gwsim check --cluster` keeps in place of a Secret's data it never reads
/// (live/src/state.rs): accepted as a certificate or key nobody can inspect.
const REDACTED_BEGIN: &[u8] = b"-----BEGIN REDACTED-----";

/// Signature algorithms a chain may use: every one ring verifies.
static ALGORITHMS: &[&dyn rustls_pki_types::SignatureVerificationAlgorithm] = &[
    webpki::ring::ECDSA_P256_SHA256,
    webpki::ring::ECDSA_P256_SHA384,
    webpki::ring::ECDSA_P384_SHA256,
    webpki::ring::ECDSA_P384_SHA384,
    webpki::ring::ED25519,
    webpki::ring::RSA_PKCS1_2048_8192_SHA256,
    webpki::ring::RSA_PKCS1_2048_8192_SHA384,
    webpki::ring::RSA_PKCS1_2048_8192_SHA512,
    webpki::ring::RSA_PKCS1_3072_8192_SHA384,
    webpki::ring::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
    webpki::ring::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
    webpki::ring::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
];

/// A certificate chain read from PEM: the end entity first, then what follows it.
#[derive(Clone, PartialEq, Eq)]
pub struct CertificateChain {
    chain: Arc<[CertificateDer<'static>]>,
}

impl fmt::Debug for CertificateChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateChain")
            .field("certificates", &self.chain.len())
            .field("dns_names", &self.dns_names())
            .finish()
    }
}

/// Whether a PEM value is the stand-in `gwsim check --cluster` writes for data it did not read.
pub fn is_redacted(pem: &[u8]) -> bool {
    pem.windows(REDACTED_BEGIN.len())
        .any(|w| w == REDACTED_BEGIN)
}

impl CertificateChain {
    /// Every `CERTIFICATE` block of `pem`, each parsed as X.509. Errors say which block and
    /// why, in the user's terms.
    pub fn from_pem(pem: &[u8]) -> Result<CertificateChain, String> {
        let mut chain = Vec::new();
        for (n, item) in CertificateDer::pem_slice_iter(pem).enumerate() {
            let der = item.map_err(|e| format!("not valid PEM ({})", pem_reason(&e)))?;
            if let Err(e) = EndEntityCert::try_from(&der) {
                return Err(format!(
                    "certificate {} is not a valid X.509 certificate ({})",
                    n + 1,
                    webpki_reason(&e)
                ));
            }
            chain.push(der);
        }
        if chain.is_empty() {
            return Err("holds no PEM CERTIFICATE block".to_string());
        }
        Ok(CertificateChain {
            chain: chain.into(),
        })
    }

    /// A chain as a TLS peer sent it (DER, end entity first), each certificate parsed.
    pub fn from_der(chain: Vec<CertificateDer<'static>>) -> Result<CertificateChain, String> {
        if chain.is_empty() {
            return Err("no certificate".to_string());
        }
        for (n, der) in chain.iter().enumerate() {
            EndEntityCert::try_from(der).map_err(|e| {
                format!(
                    "certificate {} is not a valid X.509 certificate ({})",
                    n + 1,
                    webpki_reason(&e)
                )
            })?;
        }
        Ok(CertificateChain {
            chain: chain.into(),
        })
    }

    /// The end-entity certificate (the first).
    fn leaf(&self) -> EndEntityCert<'_> {
        EndEntityCert::try_from(&self.chain[0]).expect("parsed when the chain was read")
    }

    /// The dNSName entries of the first certificate's subjectAltName, as written (a bare `*`
    /// and `*.org` included, though webpki would never match them).
    pub fn dns_names(&self) -> Vec<String> {
        san_entries(self.chain[0].as_ref(), DNS_NAME_TAG)
    }

    /// The uniformResourceIdentifier entries of the first certificate's subjectAltName.
    pub fn uri_names(&self) -> Vec<String> {
        san_entries(self.chain[0].as_ref(), URI_TAG)
    }

    /// The certificates in DER, end entity first.
    pub fn der(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }

    /// Whether the first certificate is valid for `name` (a DNS name or an IP address), by
    /// RFC 6125 rules as webpki applies them (one wildcard label, subjectAltName only).
    pub fn valid_for_name(&self, name: &str) -> Result<(), String> {
        let server_name = ServerName::try_from(name.to_string())
            .map_err(|_| format!("{name:?} is not a DNS name or an IP address"))?;
        self.leaf()
            .verify_is_valid_for_subject_name(&server_name)
            .map_err(|e| {
                format!(
                    "the certificate is not valid for {name}: {}",
                    webpki_reason(&e)
                )
            })
    }

    /// Verifies the chain up to one of `anchors` at `now_unix` (seconds), for a client's
    /// certificate (`client`) or a server's.
    pub fn verify(
        &self,
        anchors: &TrustAnchors,
        now_unix: u64,
        client: bool,
    ) -> Result<(), String> {
        let usage = if client {
            KeyUsage::client_auth()
        } else {
            KeyUsage::server_auth()
        };
        self.leaf()
            .verify_for_usage(
                ALGORITHMS,
                &anchors.anchors,
                &self.chain[1..],
                UnixTime::since_unix_epoch(std::time::Duration::from_secs(now_unix)),
                usage,
                None,
                None,
            )
            .map(|_| ())
            .map_err(|e| webpki_reason(&e))
    }
}

/// GeneralName choices (RFC 5280 §4.2.1.6), context-specific and primitive.
const DNS_NAME_TAG: u8 = 0x82;
const URI_TAG: u8 = 0x86;
/// The DER of OID 2.5.29.17, subjectAltName.
const SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11];

/// One DER element: its tag, its contents, and what follows it.
fn der_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let len = rest[..count]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[count..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// Every element of a DER sequence's contents.
fn der_children(mut contents: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    while let Some((tag, value, rest)) = der_element(contents) {
        out.push((tag, value));
        contents = rest;
    }
    out
}

/// The subjectAltName entries of one GeneralName choice, read from a certificate's DER
/// (Certificate → tbsCertificate → [3] extensions → subjectAltName). The certificate was
/// parsed by webpki first; this only walks to the extension webpki filters.
fn san_entries(certificate: &[u8], choice: u8) -> Vec<String> {
    let names = || -> Option<Vec<String>> {
        let (_, cert, _) = der_element(certificate)?;
        let (_, tbs, _) = der_element(cert)?;
        let (_, explicit) = der_children(tbs).into_iter().find(|(t, _)| *t == 0xa3)?;
        let (_, extensions, _) = der_element(explicit)?;
        for (_, extension) in der_children(extensions) {
            let parts = der_children(extension);
            if parts.first() != Some(&(0x06, SUBJECT_ALT_NAME)) {
                continue;
            }
            let (_, value) = parts.iter().find(|(t, _)| *t == 0x04)?;
            let (_, general_names, _) = der_element(value)?;
            return Some(
                der_children(general_names)
                    .into_iter()
                    .filter(|(t, _)| *t == choice)
                    .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
                    .collect(),
            );
        }
        Some(Vec::new())
    };
    names().unwrap_or_default()
}

/// CA certificates trusted to issue certificates (a CA bundle from `ca.crt`).
#[derive(Clone, Debug, Default)]
pub struct TrustAnchors {
    anchors: Vec<TrustAnchor<'static>>,
}

impl PartialEq for TrustAnchors {
    fn eq(&self, other: &TrustAnchors) -> bool {
        self.anchors.len() == other.anchors.len()
            && self.anchors.iter().zip(&other.anchors).all(|(a, b)| {
                a.subject.as_ref() == b.subject.as_ref()
                    && a.subject_public_key_info.as_ref() == b.subject_public_key_info.as_ref()
            })
    }
}

impl TrustAnchors {
    /// Every certificate of a PEM bundle as a trust anchor.
    pub fn from_pem(pem: &[u8]) -> Result<TrustAnchors, String> {
        let chain = CertificateChain::from_pem(pem)?;
        let mut anchors = Vec::new();
        for (n, der) in chain.der().iter().enumerate() {
            let anchor = webpki::anchor_from_trusted_cert(der).map_err(|e| {
                format!(
                    "certificate {} cannot be a trust anchor ({})",
                    n + 1,
                    webpki_reason(&e)
                )
            })?;
            anchors.push(anchor.to_owned());
        }
        Ok(TrustAnchors { anchors })
    }

    /// Adds another bundle's anchors.
    pub fn extend(&mut self, other: TrustAnchors) {
        self.anchors.extend(other.anchors);
    }

    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }
}

/// Checks that `pem` holds a private key (PKCS#8, PKCS#1 or SEC1) that parses.
pub fn check_private_key(pem: &[u8]) -> Result<(), String> {
    if is_redacted(pem) {
        return Ok(());
    }
    PrivateKeyDer::from_pem_slice(pem)
        .map(|_| ())
        .map_err(|e| match e {
            pem::Error::NoItemsFound => "holds no PEM PRIVATE KEY block".to_string(),
            other => format!("not a valid PEM private key ({})", pem_reason(&other)),
        })
}

fn pem_reason(e: &pem::Error) -> String {
    match e {
        pem::Error::MissingSectionEnd { .. } => "a BEGIN line has no END line".to_string(),
        pem::Error::IllegalSectionStart { .. } => "a BEGIN line is malformed".to_string(),
        pem::Error::Base64Decode(_) => "a block is not valid base64".to_string(),
        pem::Error::NoItemsFound => "no PEM block".to_string(),
        other => format!("{other:?}"),
    }
}

/// webpki's error in words a user knows.
fn webpki_reason(e: &webpki::Error) -> String {
    use webpki::Error as E;
    match e {
        E::CertExpired { .. } => "the certificate has expired".to_string(),
        E::CertNotValidYet { .. } => "the certificate is not valid yet".to_string(),
        E::UnknownIssuer => "not issued by a trusted CA".to_string(),
        E::CertNotValidForName(_) => "no subjectAltName matches".to_string(),
        E::InvalidSignatureForPublicKey => "its signature does not verify".to_string(),
        E::RequiredEkuNotFoundContext(_) => {
            "its extended key usage does not allow this use".to_string()
        }
        E::CaUsedAsEndEntity => "a CA certificate is used as an end entity".to_string(),
        E::BadDer | E::BadDerTime | E::TrailingData(_) => "malformed DER".to_string(),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u64 = 86_400;

    fn ca(name: &str) -> (rcgen::Certificate, rcgen::Issuer<'static, rcgen::KeyPair>) {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = params.self_signed(&key).expect("self-signed");
        (cert, rcgen::Issuer::new(params, key))
    }

    fn leaf(
        names: &[&str],
        issuer: &rcgen::Issuer<'static, rcgen::KeyPair>,
        client: bool,
    ) -> (rcgen::Certificate, rcgen::KeyPair) {
        let mut params =
            rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .expect("params");
        params.extended_key_usages = vec![if client {
            rcgen::ExtendedKeyUsagePurpose::ClientAuth
        } else {
            rcgen::ExtendedKeyUsagePurpose::ServerAuth
        }];
        params.not_before = rcgen::date_time_ymd(2025, 1, 1);
        params.not_after = rcgen::date_time_ymd(2030, 1, 1);
        let key = rcgen::KeyPair::generate().expect("key");
        (params.signed_by(&key, issuer).expect("signed"), key)
    }

    /// 2026-01-01, the simulator's epoch.
    const NOW: u64 = 1_767_225_600;

    #[test]
    fn chains_verify_against_their_ca_only() {
        let (ca_a, issuer_a) = ca("A");
        let (ca_b, _) = ca("B");
        let (client, key) = leaf(&["client.example"], &issuer_a, true);
        let chain = CertificateChain::from_pem(client.pem().as_bytes()).expect("chain");
        let a = TrustAnchors::from_pem(ca_a.pem().as_bytes()).expect("anchors");
        let b = TrustAnchors::from_pem(ca_b.pem().as_bytes()).expect("anchors");
        assert_eq!(chain.verify(&a, NOW, true), Ok(()));
        assert_eq!(
            chain.verify(&b, NOW, true),
            Err("not issued by a trusted CA".to_string())
        );
        // Time matters: before notBefore and after notAfter.
        assert_eq!(
            chain.verify(&a, NOW - 400 * DAY, true),
            Err("the certificate is not valid yet".to_string())
        );
        assert_eq!(
            chain.verify(&a, NOW + 5 * 365 * DAY, true),
            Err("the certificate has expired".to_string())
        );
        // A client certificate is not a server certificate.
        assert!(chain.verify(&a, NOW, false).is_err());
        assert_eq!(check_private_key(key.serialize_pem().as_bytes()), Ok(()));
    }

    #[test]
    fn names_are_read_and_matched() {
        let (_, issuer) = ca("A");
        let (server, _) = leaf(&["*.example.com", "a.test"], &issuer, false);
        let chain = CertificateChain::from_pem(server.pem().as_bytes()).expect("chain");
        assert_eq!(chain.dns_names(), ["*.example.com", "a.test"]);
        assert!(chain.uri_names().is_empty());
        // Names webpki would not match are still read as written.
        let (odd, _) = leaf(&["*", "*.org"], &issuer, false);
        let odd = CertificateChain::from_pem(odd.pem().as_bytes()).expect("chain");
        assert_eq!(odd.dns_names(), ["*", "*.org"]);
        assert_eq!(chain.valid_for_name("x.example.com"), Ok(()));
        assert!(chain.valid_for_name("x.y.example.com").is_err());
        assert!(chain.valid_for_name("b.test").is_err());
    }

    #[test]
    fn bad_pem_is_named() {
        assert_eq!(
            CertificateChain::from_pem(b"hello").err().as_deref(),
            Some("holds no PEM CERTIFICATE block")
        );
        let garbage = b"-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n";
        assert_eq!(
            CertificateChain::from_pem(garbage).err().as_deref(),
            Some("certificate 1 is not a valid X.509 certificate (malformed DER)")
        );
        assert_eq!(
            check_private_key(b"-----BEGIN CERTIFICATE-----\naGk=\n-----END CERTIFICATE-----\n")
                .err()
                .as_deref(),
            Some("holds no PEM PRIVATE KEY block")
        );
        assert!(is_redacted(b"-----BEGIN REDACTED-----\n"));
        assert_eq!(check_private_key(b"-----BEGIN REDACTED-----\n"), Ok(()));
    }
}
