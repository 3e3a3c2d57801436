//! Frontend client certificate validation (GEP-91, `Gateway.spec.tls.frontend`): which CA
//! bundle each HTTPS port trusts, and what an invalid reference does to the listener.
//!
//! Choices (docs/behaviour.md): CA references may name a core ConfigMap or Secret holding
//! `ca.crt` (PEM, every certificate parsed as X.509); any other kind is
//! `InvalidCACertificateKind`. The first bad reference sets ResolvedRefs False; the listener is
//! Accepted False `NoValidCACertificate` only when no reference gives a usable CA, otherwise it
//! validates with the CAs that resolved. The configuration applies to the Gateway's own HTTPS
//! listeners; listeners a ListenerSet adds are not validated.

use std::sync::Arc;

use gateway_api::apis::experimental::gateways::{
    Gateway, GatewayTlsFrontendDefaultValidationMode, GatewayTlsFrontendPerPortTlsValidationMode,
};

use super::conditions::{ConditionType, Desired, Reason};
use super::refgrant::{GrantIndex, RefFrom, RefTo};
use crate::config::ClientValidation;
use crate::object::{GATEWAY_GROUP, Kind, Object, ObjectKey, Snapshot};
use crate::x509::TrustAnchors;

/// One `caCertificateRefs` entry, neutral of the default and per-port generated types.
struct CaRef<'a> {
    group: &'a str,
    kind: &'a str,
    name: &'a str,
    namespace: Option<&'a str>,
}

/// The validation a port's HTTPS listeners apply: its refs and whether it falls back.
struct PortValidation<'a> {
    refs: Vec<CaRef<'a>>,
    insecure_fallback: bool,
    /// `default` or `perPort[N]`, for messages.
    source: String,
}

/// What frontend validation does to one HTTPS listener.
pub struct ListenerValidation {
    /// The CAs that resolved; `None` when the port has no validation configured.
    pub validation: Option<Arc<ClientValidation>>,
    /// ResolvedRefs False: the first bad reference.
    pub unresolved: Option<(Reason, String)>,
    /// Accepted False NoValidCACertificate: validation is configured and no CA resolved.
    pub no_valid_ca: Option<Desired>,
}

fn for_port<'a>(gateway: &'a Gateway, port: i32) -> Option<PortValidation<'a>> {
    use GatewayTlsFrontendDefaultValidationMode as DefaultMode;
    use GatewayTlsFrontendPerPortTlsValidationMode as PortMode;
    let frontend = gateway.spec.tls.as_ref()?.frontend.as_ref()?;
    let per_port = frontend.per_port.as_deref().unwrap_or_default();
    // A port's own setting replaces the default whole, even when it configures no validation.
    let (refs, insecure_fallback, source) =
        match per_port.iter().enumerate().find(|(_, p)| p.port == port) {
            Some((i, setting)) => {
                let v = setting.tls.validation.as_ref()?;
                let refs: Vec<_> = (v.ca_certificate_refs.iter())
                    .map(|r| ca_ref(&r.group, &r.kind, &r.name, &r.namespace))
                    .collect();
                let insecure = matches!(v.mode, Some(PortMode::AllowInsecureFallback));
                (refs, insecure, format!("spec.tls.frontend.perPort[{i}]"))
            }
            None => {
                let v = frontend.default.validation.as_ref()?;
                let refs: Vec<_> = (v.ca_certificate_refs.iter())
                    .map(|r| ca_ref(&r.group, &r.kind, &r.name, &r.namespace))
                    .collect();
                let insecure = matches!(v.mode, Some(DefaultMode::AllowInsecureFallback));
                (refs, insecure, "spec.tls.frontend.default".to_string())
            }
        };
    Some(PortValidation {
        refs,
        insecure_fallback,
        source,
    })
}

/// A `caCertificateRefs` entry; the default's and a port's are distinct generated types.
fn ca_ref<'a>(
    group: &'a str,
    kind: &'a str,
    name: &'a str,
    namespace: &'a Option<String>,
) -> CaRef<'a> {
    CaRef {
        group,
        kind,
        name,
        namespace: namespace.as_deref(),
    }
}

/// Whether any validation of the Gateway (default or per port) is AllowInsecureFallback: the
/// Gateway then carries `InsecureFrontendValidationMode` True `ConfigurationChanged`.
pub fn insecure_mode(gateway: &Gateway) -> Option<Desired> {
    let frontend = gateway.spec.tls.as_ref()?.frontend.as_ref()?;
    let default = frontend.default.validation.as_ref().is_some_and(|v| {
        matches!(
            v.mode,
            Some(GatewayTlsFrontendDefaultValidationMode::AllowInsecureFallback)
        )
    });
    let per_port = frontend
        .per_port
        .as_deref()
        .unwrap_or_default()
        .iter()
        .any(|p| {
            p.tls.validation.as_ref().is_some_and(|v| {
                matches!(
                    v.mode,
                    Some(GatewayTlsFrontendPerPortTlsValidationMode::AllowInsecureFallback)
                )
            })
        });
    (default || per_port).then(|| {
        Desired::new(
            ConditionType::InsecureFrontendValidationMode,
            true,
            Reason::ConfigurationChanged,
            "frontend validation mode AllowInsecureFallback accepts clients without a valid certificate",
        )
    })
}

/// Reads one CA reference: the anchors of its `ca.crt`, or the listener's ResolvedRefs reason.
fn resolve(
    r: &CaRef<'_>,
    gateway_namespace: &str,
    snapshot: &Snapshot,
    grants: &GrantIndex<'_>,
) -> Result<TrustAnchors, (Reason, String)> {
    let namespace = r.namespace.unwrap_or(gateway_namespace);
    let what = format!("caCertificateRef {namespace}/{}", r.name);
    let from = RefFrom {
        group: GATEWAY_GROUP,
        kind: "Gateway",
        namespace: gateway_namespace,
    };
    let to = RefTo {
        group: r.group,
        kind: r.kind,
        namespace,
        name: r.name,
    };
    if !grants.permits(from, to) {
        return Err((
            Reason::RefNotPermitted,
            format!("{what} is in another namespace and no ReferenceGrant allows it"),
        ));
    }
    let data: Option<Vec<u8>> = match (r.group, r.kind) {
        ("", "ConfigMap") => {
            match snapshot.get(&ObjectKey::new(Kind::ConfigMap, namespace, r.name)) {
                Some(Object::ConfigMap(c)) => c
                    .data
                    .as_ref()
                    .and_then(|d| d.get("ca.crt"))
                    .map(|s| s.as_bytes().to_vec())
                    .or_else(|| {
                        c.binary_data
                            .as_ref()
                            .and_then(|d| d.get("ca.crt"))
                            .map(|b| b.0.clone())
                    }),
                _ => {
                    return Err((
                        Reason::InvalidCACertificateRef,
                        format!("{what}: ConfigMap not found"),
                    ));
                }
            }
        }
        ("", "Secret") => match snapshot.secret(namespace, r.name) {
            Some(s) => s
                .data
                .as_ref()
                .and_then(|d| d.get("ca.crt"))
                .map(|b| b.0.clone())
                .or_else(|| {
                    s.string_data
                        .as_ref()
                        .and_then(|d| d.get("ca.crt"))
                        .map(|v| v.as_bytes().to_vec())
                }),
            None => {
                return Err((
                    Reason::InvalidCACertificateRef,
                    format!("{what}: Secret not found"),
                ));
            }
        },
        (group, kind) => {
            return Err((
                Reason::InvalidCACertificateKind,
                format!(
                    "{what}: {kind} of group {group:?} cannot hold CA certificates (core ConfigMap or Secret)"
                ),
            ));
        }
    };
    let Some(pem) = data.filter(|d| !d.is_empty()) else {
        return Err((
            Reason::InvalidCACertificateRef,
            format!("{what}: no ca.crt key"),
        ));
    };
    TrustAnchors::from_pem(&pem).map_err(|e| {
        (
            Reason::InvalidCACertificateRef,
            format!("{what}: ca.crt {e}"),
        )
    })
}

/// Frontend validation of the Gateway's HTTPS listener on `port`.
pub fn for_listener(
    gateway: &Gateway,
    port: i32,
    snapshot: &Snapshot,
    grants: &GrantIndex<'_>,
) -> ListenerValidation {
    let Some(config) = for_port(gateway, port) else {
        return ListenerValidation {
            validation: None,
            unresolved: None,
            no_valid_ca: None,
        };
    };
    let namespace = gateway.metadata.namespace.as_deref().unwrap_or_default();
    let mut anchors = TrustAnchors::default();
    let mut unresolved = None;
    for r in &config.refs {
        match resolve(r, namespace, snapshot, grants) {
            Ok(found) => anchors.extend(found),
            Err(problem) => {
                unresolved.get_or_insert(problem);
            }
        }
    }
    if anchors.is_empty() {
        return ListenerValidation {
            validation: None,
            unresolved,
            no_valid_ca: Some(Desired::fail(
                ConditionType::Accepted,
                Reason::NoValidCACertificate,
                format!("{}: no CA certificate reference is usable", config.source),
            )),
        };
    }
    ListenerValidation {
        validation: Some(Arc::new(ClientValidation {
            anchors,
            insecure_fallback: config.insecure_fallback,
        })),
        unresolved,
        no_valid_ca: None,
    }
}
