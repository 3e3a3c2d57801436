//! backendRef resolution: kind, ReferenceGrant, Service, port, appProtocol.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::Service;

use super::backendtls::BackendTlsIndex;
use super::conditions::Reason;
use super::refgrant::{GrantIndex, RefFrom, RefTo};
use crate::config::BackendTarget;
use crate::object::Snapshot;

/// A backendRef (route rule, mirror filter) with API defaults applied: group `""`, kind
/// `Service`.
#[derive(Clone, Copy, Debug)]
pub struct BackendRefView<'r> {
    pub group: &'r str,
    pub kind: &'r str,
    pub name: &'r str,
    pub namespace: Option<&'r str>,
    pub port: Option<i32>,
}

/// Builds a [`BackendRefView`] from any generated backendRef struct: they all share the
/// field names `group`, `kind`, `name`, `namespace`, `port`.
macro_rules! backend_ref_view {
    ($r:expr) => {
        $crate::controller::backends::BackendRefView {
            group: $r.group.as_deref().unwrap_or(""),
            kind: $r.kind.as_deref().unwrap_or("Service"),
            name: &$r.name,
            namespace: $r.namespace.as_deref(),
            port: $r.port,
        }
    };
}
pub(crate) use backend_ref_view;

/// Service ports' appProtocols gwsim's proxy can speak to (HTTPBackendRef docs: unsupported
/// ones give ResolvedRefs False UnsupportedProtocol).
const SUPPORTED_APP_PROTOCOLS: &[&str] =
    &["kubernetes.io/h2c", "kubernetes.io/ws", "http", "https"];

/// Services by (namespace, name), and the BackendTLSPolicies that apply to their ports, built
/// once per reconcile.
pub struct ServiceIndex<'a> {
    by_name: HashMap<(&'a str, &'a str), &'a Service>,
    pub tls: BackendTlsIndex,
}

impl<'a> ServiceIndex<'a> {
    pub fn build(snapshot: &'a Snapshot) -> Self {
        let by_name = snapshot
            .of_kind(crate::object::Kind::Service)
            .filter_map(|o| match o {
                crate::object::Object::Service(s) => Some(s.as_ref()),
                _ => None,
            })
            .filter_map(|s| {
                Some((
                    (
                        s.metadata.namespace.as_deref()?,
                        s.metadata.name.as_deref()?,
                    ),
                    s,
                ))
            })
            .collect();
        ServiceIndex {
            by_name,
            tls: BackendTlsIndex::build(snapshot),
        }
    }

    fn get(&self, namespace: &str, name: &str) -> Option<&'a Service> {
        self.by_name.get(&(namespace, name)).copied()
    }
}

/// Why a backendRef cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unresolved {
    pub reason: Reason,
    pub message: String,
}

/// Resolves a backendRef of a route in `from.namespace`. Invalid references become
/// [`BackendTarget::Invalid`] (their share of traffic answers 500) and are returned as
/// [`Unresolved`] too, for the route's ResolvedRefs condition.
pub fn resolve(
    services: &ServiceIndex<'_>,
    grants: &GrantIndex<'_>,
    from: RefFrom<'_>,
    r: BackendRefView<'_>,
) -> (BackendTarget, Option<Unresolved>) {
    let namespace = r.namespace.unwrap_or(from.namespace);
    // Built only when needed: most references resolve.
    let reference = || {
        if r.group.is_empty() {
            format!("{} {namespace}/{}", r.kind, r.name)
        } else {
            format!("{}.{} {namespace}/{}", r.kind, r.group, r.name)
        }
    };
    let invalid = |reason: Reason, message: String| {
        (
            BackendTarget::Invalid {
                reason: reason.as_str().to_string(),
                reference: reference(),
                message: message.clone(),
            },
            Some(Unresolved { reason, message }),
        )
    };
    // Core Services only (BackendObjectReference: group "" and kind Service are Core).
    if !(r.group.is_empty() && r.kind == "Service") {
        return invalid(
            Reason::InvalidKind,
            format!("backendRef kind {} is not supported", reference()),
        );
    }
    let to = RefTo {
        group: "",
        kind: "Service",
        namespace,
        name: r.name,
    };
    if !grants.permits(from, to) {
        return invalid(
            Reason::RefNotPermitted,
            format!(
                "{} is in another namespace and no ReferenceGrant allows it",
                reference()
            ),
        );
    }
    let Some(service) = services.get(namespace, r.name) else {
        return invalid(
            Reason::BackendNotFound,
            format!("{} not found", reference()),
        );
    };
    let spec = service.spec.as_ref();
    // "ExternalName Services SHOULD NOT be supported" (BackendRef docs): treated as absent.
    if spec.and_then(|s| s.type_.as_deref()) == Some("ExternalName") {
        return invalid(
            Reason::BackendNotFound,
            format!(
                "{} is an ExternalName Service, which gwsim does not support",
                reference()
            ),
        );
    }
    // A Service reference needs a port (CEL); a port the Service does not expose cannot be
    // reached, which gwsim reports as BackendNotFound (the backend as referenced is missing).
    let Some(port) = r.port else {
        return invalid(
            Reason::BackendNotFound,
            format!("{} is referenced without a port", reference()),
        );
    };
    let Some(service_port) = spec
        .and_then(|s| s.ports.as_deref())
        .unwrap_or_default()
        .iter()
        .find(|p| p.port == port)
    else {
        return invalid(
            Reason::BackendNotFound,
            format!("{} has no port {port}", reference()),
        );
    };
    let Ok(port) = u16::try_from(port) else {
        return invalid(
            Reason::BackendNotFound,
            format!("port {port} is out of range"),
        );
    };
    let app_protocol = service_port.app_protocol.clone();
    let tls = services
        .tls
        .for_port(namespace, r.name, service_port.name.as_deref());
    if let Some(p) = &app_protocol
        && !SUPPORTED_APP_PROTOCOLS.contains(&p.as_str())
    {
        return invalid(
            Reason::UnsupportedProtocol,
            format!(
                "{} port {port} has appProtocol {p}, which gwsim cannot speak",
                reference()
            ),
        );
    }
    (
        BackendTarget::Service {
            namespace: namespace.to_string(),
            name: r.name.to_string(),
            port,
            app_protocol,
            tls,
        },
        None,
    )
}
