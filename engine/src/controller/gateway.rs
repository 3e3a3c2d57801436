//! Gateways and their listeners: protocols, allowed routes, conflicts, certificates,
//! addresses, and the Gateway status.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;

use gateway_api::apis::experimental::gateways::{
    Gateway, GatewayListeners, GatewayListenersAllowedRoutesNamespacesFrom,
    GatewayListenersAllowedRoutesNamespacesSelector, GatewayListenersTlsMode, GatewayStatus,
    GatewayStatusAddresses, GatewayStatusListeners, GatewayStatusListenersSupportedKinds,
};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use k8s_openapi::jiff::Timestamp;

use super::conditions::{ConditionType, Desired, Reason, materialize};
use super::frontend;
use super::listenerset::SetState;
use super::network::Network;
use super::refgrant::{GrantIndex, RefFrom, RefTo};
use crate::config::{
    BackendClientCertificate, ClientValidation, GatewayConfig, ListenerConfig, Protocol,
    RouteAttachment, RouteKind, TlsMode,
};
use crate::object::{GATEWAY_GROUP, Kind, ObjectKey, Snapshot};
use crate::x509::{self, CertificateChain};

/// Which namespaces a listener takes routes from (`allowedRoutes.namespaces`).
#[derive(Clone, Copy, Debug)]
pub enum AllowedNamespaces<'a> {
    Same,
    All,
    /// `from: Selector`; `None` when the selector is missing, which selects nothing.
    Selector(Option<&'a GatewayListenersAllowedRoutesNamespacesSelector>),
}

/// One listener, evaluated: one of the Gateway's own, or one a ListenerSet adds.
pub struct ListenerState<'a> {
    pub name: &'a str,
    /// The namespace `allowedRoutes.namespaces.from: Same` means: the Gateway's for its own
    /// listeners, the ListenerSet's for a ListenerSet's (GEP-1713).
    pub namespace: &'a str,
    /// The ListenerSet the listener comes from (an index into [`GatewayState::sets`]);
    /// `None` for the Gateway's own listeners.
    pub owner: Option<usize>,
    pub port: i32,
    pub protocol: Protocol,
    pub hostname: Option<&'a str>,
    pub allowed_namespaces: AllowedNamespaces<'a>,
    /// Route kinds the listener takes (its `supportedKinds`).
    pub kinds: Vec<RouteKind>,
    pub accepted: Desired,
    pub programmed: Desired,
    pub resolved_refs: Desired,
    pub conflicted: Desired,
    pub usable: bool,
    pub unusable_reason: Option<String>,
    /// Routes accepted on this listener (each route at most once).
    pub routes: Vec<RouteAttachment>,
    /// HTTPS: the certificate a handshake on this listener presents.
    pub certificate: Option<CertificateChain>,
    /// HTTPS: frontend client certificate validation (GEP-91).
    pub client_validation: Option<Arc<ClientValidation>>,
    /// TLS listeners: Terminate or Passthrough.
    pub tls_mode: Option<TlsMode>,
}

/// One Gateway of this controller, evaluated.
pub struct GatewayState<'a> {
    pub gateway: &'a Gateway,
    /// The controllerName of the Gateway's class: route status entries for it carry it.
    pub controller_name: &'a str,
    pub key: ObjectKey,
    pub namespace: &'a str,
    /// The Gateway's own listeners first (in `spec.listeners` order), then those of its
    /// ListenerSets, in listener precedence order.
    pub listeners: Vec<ListenerState<'a>>,
    /// The ListenerSets whose `parentRef` names this Gateway, in precedence order.
    pub sets: Vec<SetState<'a>>,
    pub accepted: Desired,
    pub programmed: Desired,
    /// `status.addresses` as (type, value).
    pub addresses: Vec<(String, String)>,
    requested: Vec<RequestedAddress>,
    /// `spec.tls.backend.clientCertificateRef`, when set: the certificate (`None`: a stand-in
    /// never read), or why it cannot be used (the Gateway's ResolvedRefs reason and message).
    pub backend_client: Option<Result<Option<BackendClientCertificate>, CertError>>,
}

/// A `spec.addresses` entry gwsim can serve.
#[derive(Clone, Debug)]
enum RequestedAddress {
    /// Type IPAddress with a value.
    Ip(String),
    Hostname(String),
    /// No value: gwsim assigns one (GatewayAddressEmpty).
    Any,
}

impl GatewayState<'_> {
    /// Whether the Gateway is Accepted.
    pub fn is_accepted(&self) -> bool {
        self.accepted.status
    }
}

/// The protocol family used to decide whether listeners on one port conflict
/// (`Listeners` docs in gateway_types.go: HTTP listeners may share a port; HTTPS and TLS
/// listeners may share a port; nothing else may share a port with them).
fn protocol_family(protocol: &Protocol) -> Option<&'static str> {
    match protocol {
        Protocol::Http => Some("http"),
        Protocol::Https | Protocol::Tls => Some("tls"),
        Protocol::Tcp => Some("tcp"),
        Protocol::Udp => Some("udp"),
        // Implementation-specific protocols: gwsim does not know their transport.
        Protocol::Other(_) => None,
    }
}

/// What decides whether two listeners are distinct: port, protocol and hostname.
#[derive(Clone, Debug)]
pub struct ListenerSlot<'a> {
    pub port: i32,
    pub protocol: Protocol,
    pub hostname: Option<&'a str>,
}

impl<'a> ListenerSlot<'a> {
    pub fn of(listener: &'a GatewayListeners) -> Self {
        ListenerSlot {
            port: listener.port,
            protocol: Protocol::parse(&listener.protocol),
            hostname: listener.hostname.as_deref(),
        }
    }
}

/// Whether two listeners are not distinct (`Listeners` docs in gateway_types.go, GEP-1713):
/// on one port (UDP ports apart from the others), mixed protocol families, or TCP or UDP
/// sharing a port at all, conflict on protocol; within one family, the same hostname (or
/// none on both) conflicts on hostname. Protocols gwsim does not know never conflict.
pub fn slot_conflict(a: &ListenerSlot<'_>, b: &ListenerSlot<'_>) -> Option<Reason> {
    let (fa, fb) = (protocol_family(&a.protocol)?, protocol_family(&b.protocol)?);
    let udp = |s: &ListenerSlot<'_>| s.protocol == Protocol::Udp;
    if a.port != b.port || udp(a) != udp(b) {
        return None;
    }
    if fa != fb || matches!(fa, "tcp" | "udp") {
        return Some(Reason::ProtocolConflict);
    }
    (a.hostname == b.hostname).then_some(Reason::HostnameConflict)
}

/// The worst conflict of `slot` with any of `others`: a protocol conflict outweighs a
/// hostname conflict.
pub fn worst_conflict<'s>(
    slot: &ListenerSlot<'_>,
    others: impl IntoIterator<Item = &'s ListenerSlot<'s>>,
) -> Option<Reason> {
    let mut worst = None;
    for other in others {
        match slot_conflict(slot, other) {
            Some(Reason::ProtocolConflict) => return Some(Reason::ProtocolConflict),
            Some(reason) => worst = Some(reason),
            None => {}
        }
    }
    worst
}

/// The conflict reason of each listener of one list (by index): every party of a conflict
/// inside one Gateway (or one ListenerSet) is marked, no winner is picked.
pub fn conflicts(slots: &[ListenerSlot<'_>]) -> BTreeMap<usize, Reason> {
    let mut out = BTreeMap::new();
    for (i, slot) in slots.iter().enumerate() {
        let others = slots
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, o)| o);
        if let Some(reason) = worst_conflict(slot, others) {
            out.insert(i, reason);
        }
    }
    out
}

/// Route kinds a protocol takes when `allowedRoutes.kinds` does not restrict them.
fn protocol_kinds(protocol: &Protocol) -> &'static [RouteKind] {
    match protocol {
        Protocol::Http | Protocol::Https => &[RouteKind::Http, RouteKind::Grpc],
        Protocol::Tls => &[RouteKind::Tls],
        Protocol::Tcp => &[RouteKind::Tcp],
        Protocol::Udp => &[RouteKind::Udp],
        _ => &[],
    }
}

pub fn route_kind_name(kind: RouteKind) -> &'static str {
    match kind {
        RouteKind::Http => Kind::HttpRoute.as_str(),
        RouteKind::Grpc => Kind::GrpcRoute.as_str(),
        RouteKind::Tls => Kind::TlsRoute.as_str(),
        RouteKind::Tcp => Kind::TcpRoute.as_str(),
        RouteKind::Udp => Kind::UdpRoute.as_str(),
    }
}

/// The listener's supported kinds, and whether `allowedRoutes.kinds` named an invalid one.
fn supported_kinds(listener: &GatewayListeners, protocol: &Protocol) -> (Vec<RouteKind>, bool) {
    let defaults = protocol_kinds(protocol);
    let requested = listener
        .allowed_routes
        .as_ref()
        .and_then(|a| a.kinds.as_deref())
        .unwrap_or_default();
    // "When unspecified or empty, the kinds of Routes selected are determined using the
    // Listener protocol." (AllowedRoutes.kinds)
    if requested.is_empty() {
        return (defaults.to_vec(), false);
    }
    let mut kinds = Vec::new();
    let mut invalid = false;
    for k in requested {
        let group = k.group.as_deref().unwrap_or(GATEWAY_GROUP);
        let found = defaults
            .iter()
            .find(|d| group == GATEWAY_GROUP && route_kind_name(**d) == k.kind);
        match found {
            Some(d) if !kinds.contains(d) => kinds.push(*d),
            Some(_) => {}
            None => invalid = true,
        }
    }
    (kinds, invalid)
}

fn allowed_namespaces(listener: &GatewayListeners) -> AllowedNamespaces<'_> {
    let namespaces = listener
        .allowed_routes
        .as_ref()
        .and_then(|a| a.namespaces.as_ref());
    match namespaces.and_then(|n| n.from.as_ref()) {
        // Default `Same` (AllowedRoutes.namespaces.from).
        None | Some(GatewayListenersAllowedRoutesNamespacesFrom::Same) => AllowedNamespaces::Same,
        Some(GatewayListenersAllowedRoutesNamespacesFrom::All) => AllowedNamespaces::All,
        Some(GatewayListenersAllowedRoutesNamespacesFrom::Selector) => {
            AllowedNamespaces::Selector(namespaces.and_then(|n| n.selector.as_ref()))
        }
    }
}

/// A certificate problem: the ResolvedRefs reason and a message.
type CertError = (Reason, String);

/// The certificate a `kubernetes.io/tls` Secret holds, read as X.509: `tls.crt` a PEM chain
/// whose every certificate parses, `tls.key` a PEM private key that parses. (Whether the key
/// belongs to the certificate is not checked.) `Ok(None)`: the stand-ins `check --cluster`
/// keeps instead of data it never read, accepted unread.
fn secret_certificate(secret: &Secret) -> Result<Option<CertificateChain>, String> {
    if secret.type_.as_deref() != Some("kubernetes.io/tls") {
        return Err(format!(
            "type is {}, not kubernetes.io/tls",
            secret.type_.as_deref().unwrap_or("Opaque")
        ));
    }
    let value = |key: &str| -> Option<Vec<u8>> {
        secret
            .data
            .as_ref()
            .and_then(|d| d.get(key))
            .map(|b| b.0.clone())
            .or_else(|| {
                secret
                    .string_data
                    .as_ref()
                    .and_then(|d| d.get(key))
                    .map(|s| s.as_bytes().to_vec())
            })
            .filter(|v| !v.is_empty())
    };
    let cert = value("tls.crt").ok_or("no tls.crt")?;
    let key = value("tls.key").ok_or("no tls.key")?;
    x509::check_private_key(&key).map_err(|e| format!("tls.key {e}"))?;
    if x509::is_redacted(&cert) {
        return Ok(None);
    }
    CertificateChain::from_pem(&cert)
        .map(Some)
        .map_err(|e| format!("tls.crt {e}"))
}

/// Checks an HTTPS listener's `tls.certificateRefs`; the first bad reference decides.
/// Returns the first reference's certificate (what a handshake presents).
fn check_certificates(
    listener: &GatewayListeners,
    referrer: ListenerHome<'_>,
    snapshot: &Snapshot,
    grants: &GrantIndex<'_>,
) -> Result<Option<CertificateChain>, CertError> {
    let gateway_namespace = referrer.namespace;
    let refs = listener
        .tls
        .as_ref()
        .and_then(|t| t.certificate_refs.as_deref())
        .unwrap_or_default();
    // HTTPS (or TLS Terminate) without `tls` or without certificates passes the schema, but
    // "tls is required if the Protocol field is HTTPS" (Listener.tls) and a Terminate listener
    // needs a certificate to terminate with: gwsim reports it as a bad certificate ref.
    if refs.is_empty() {
        return Err((
            Reason::InvalidCertificateRef,
            format!("{} listener has no tls.certificateRefs", listener.protocol),
        ));
    }
    let mut first = None;
    for (i, r) in refs.iter().enumerate() {
        let group = r.group.as_deref().unwrap_or("");
        let kind = r.kind.as_deref().unwrap_or("Secret");
        let namespace = r.namespace.as_deref().unwrap_or(gateway_namespace);
        // A ListenerSet's references are its own: grants to its Gateway do not extend to it
        // (GEP-1713, ListenerSetReferenceGrant).
        let from = RefFrom {
            group: GATEWAY_GROUP,
            kind: referrer.kind.as_str(),
            namespace: gateway_namespace,
        };
        let to = RefTo {
            group,
            kind,
            namespace,
            name: &r.name,
        };
        // RefNotPermitted must be used when the reference is not allowed, whatever else is
        // wrong with it (ListenerReasonInvalidCertificateRef docs).
        if !grants.permits(from, to) {
            return Err((
                Reason::RefNotPermitted,
                format!(
                    "certificateRef {namespace}/{} is in another namespace and no ReferenceGrant allows it",
                    r.name
                ),
            ));
        }
        if !(group.is_empty() && kind == "Secret") {
            return Err((
                Reason::InvalidCertificateRef,
                format!("certificateRef {group}/{kind} is not a core Secret"),
            ));
        }
        match snapshot.secret(namespace, &r.name) {
            None => {
                return Err((
                    Reason::InvalidCertificateRef,
                    format!("Secret {namespace}/{} not found", r.name),
                ));
            }
            Some(secret) => match secret_certificate(secret) {
                Ok(chain) => {
                    if i == 0 {
                        first = chain;
                    }
                }
                Err(problem) => {
                    return Err((
                        Reason::InvalidCertificateRef,
                        format!("Secret {namespace}/{}: {problem}", r.name),
                    ));
                }
            },
        }
    }
    Ok(first)
}

/// Who a listener belongs to: the kind that refers to its certificates (Gateway or
/// ListenerSet) and the namespace of that object.
#[derive(Clone, Copy, Debug)]
pub struct ListenerHome<'a> {
    pub kind: Kind,
    pub namespace: &'a str,
}

/// Evaluates one listener: acceptance (port, conflict, protocol, TLS mode), certificates and
/// route kinds. Programmed is set later by [`set_programmed`], once the parent is decided.
/// A conflict outweighs an unsupported protocol: a listener that is not distinct is reported
/// as conflicted whatever its protocol.
pub fn evaluate_listener<'a>(
    l: &'a GatewayListeners,
    home: ListenerHome<'a>,
    owner: Option<usize>,
    conflict: Option<Reason>,
    snapshot: &Snapshot,
    grants: &GrantIndex<'_>,
) -> ListenerState<'a> {
    let protocol = Protocol::parse(&l.protocol);
    let (kinds, invalid_kinds) = supported_kinds(l, &protocol);

    let tls_mode = listener_tls_mode(l, &protocol);
    let accepted = if !(1..=65535).contains(&l.port) {
        Desired::fail(
            ConditionType::Accepted,
            Reason::PortUnavailable,
            format!("port {} is out of range", l.port),
        )
    } else if let Some(reason) = conflict {
        Desired::fail(
            ConditionType::Accepted,
            reason,
            "listener conflicts with another listener on the same port",
        )
    } else if !matches!(
        protocol,
        Protocol::Http | Protocol::Https | Protocol::Tls | Protocol::Tcp | Protocol::Udp
    ) {
        Desired::fail(
            ConditionType::Accepted,
            Reason::UnsupportedProtocol,
            format!("gwsim does not support protocol {}", l.protocol),
        )
    } else if protocol == Protocol::Https && tls_mode == Some(TlsMode::Passthrough) {
        Desired::fail(
            ConditionType::Accepted,
            Reason::UnsupportedValue,
            "HTTPS listeners terminate TLS; Passthrough is not supported",
        )
    } else {
        Desired::ok(ConditionType::Accepted, "Listener accepted")
    };

    let conflicted = match conflict {
        Some(reason) => Desired::new(
            ConditionType::Conflicted,
            true,
            reason,
            match reason {
                Reason::HostnameConflict => "another listener on this port has the same hostname",
                _ => "another listener on this port has an incompatible protocol",
            },
        ),
        None => Desired::ok(ConditionType::Conflicted, "No conflicts"),
    };

    // A Passthrough listener never presents a certificate of its own: the backend's reaches
    // the client.
    let terminates = protocol == Protocol::Https
        || (protocol == Protocol::Tls && tls_mode == Some(TlsMode::Terminate));
    let certs = if terminates {
        check_certificates(l, home, snapshot, grants)
    } else {
        Ok(None)
    };
    // Certificate problems take precedence over InvalidRouteKinds on ResolvedRefs: they are
    // what keeps the listener from serving.
    let resolved_refs = match &certs {
        Err((reason, message)) => {
            Desired::fail(ConditionType::ResolvedRefs, *reason, message.clone())
        }
        Ok(_) if invalid_kinds => Desired::fail(
            ConditionType::ResolvedRefs,
            Reason::InvalidRouteKinds,
            "allowedRoutes.kinds names kinds this listener cannot serve",
        ),
        Ok(_) => Desired::ok(ConditionType::ResolvedRefs, "References resolved"),
    };
    let is_tls = protocol == Protocol::Tls;
    let unusable_reason = if !accepted.status {
        Some(accepted.reason.as_str().to_string())
    } else {
        certs.as_ref().err().map(|(r, _)| r.as_str().to_string())
    };
    ListenerState {
        name: &l.name,
        namespace: home.namespace,
        owner,
        port: l.port,
        protocol,
        hostname: l.hostname.as_deref(),
        allowed_namespaces: allowed_namespaces(l),
        kinds,
        programmed: Desired::ok(ConditionType::Programmed, ""),
        accepted,
        resolved_refs,
        conflicted,
        usable: unusable_reason.is_none(),
        unusable_reason,
        routes: Vec::new(),
        certificate: certs.ok().flatten(),
        client_validation: None,
        tls_mode: if is_tls { tls_mode } else { None },
    }
}

/// `tls.mode` of a listener that has `tls`: Terminate by default (ListenerTLSConfig.mode).
/// The CRD requires a mode on TLS listeners, so the default only fills HTTPS ones.
fn listener_tls_mode(l: &GatewayListeners, protocol: &Protocol) -> Option<TlsMode> {
    if !matches!(protocol, Protocol::Https | Protocol::Tls) {
        return None;
    }
    Some(match l.tls.as_ref().and_then(|t| t.mode.as_ref()) {
        Some(GatewayListenersTlsMode::Passthrough) => TlsMode::Passthrough,
        Some(GatewayListenersTlsMode::Terminate) | None => TlsMode::Terminate,
    })
}

/// Applies the Gateway's frontend client certificate validation (GEP-91) to one of its own
/// HTTPS listeners: the CAs it validates with, and what bad CA references do to its
/// conditions. A certificate problem keeps precedence on ResolvedRefs.
fn apply_frontend(
    l: &mut ListenerState<'_>,
    gateway: &Gateway,
    snapshot: &Snapshot,
    grants: &GrantIndex<'_>,
) {
    if l.protocol != Protocol::Https {
        return;
    }
    let v = frontend::for_listener(gateway, l.port, snapshot, grants);
    if let Some((reason, message)) = v.unresolved
        && (l.resolved_refs.status || l.resolved_refs.reason == Reason::InvalidRouteKinds)
    {
        l.resolved_refs = Desired::fail(ConditionType::ResolvedRefs, reason, message);
    }
    if let Some(refused) = v.no_valid_ca {
        if l.accepted.status {
            l.accepted = refused;
        }
        l.usable = false;
        l.unusable_reason
            .get_or_insert_with(|| Reason::NoValidCACertificate.as_str().to_string());
    }
    l.client_validation = v.validation;
}

/// Sets a listener's Programmed condition once its parent is decided; `parent_problem` says
/// why the parent (the Gateway, or the ListenerSet) cannot serve, if it cannot.
pub fn set_programmed(l: &mut ListenerState<'_>, parent_problem: Option<&str>) {
    if let Some(problem) = parent_problem
        && l.usable
    {
        l.usable = false;
        l.unusable_reason = Some(problem.to_string());
    }
    l.programmed = if l.usable {
        Desired::ok(ConditionType::Programmed, "Listener programmed")
    } else if l.conflicted.status {
        // The conflict reason, as the ListenerSet conformance tests expect on Programmed.
        Desired::fail(
            ConditionType::Programmed,
            l.conflicted.reason,
            "listener is conflicted",
        )
    } else {
        Desired::fail(
            ConditionType::Programmed,
            Reason::Invalid,
            format!(
                "listener cannot serve: {}",
                l.unusable_reason.as_deref().unwrap_or_default()
            ),
        )
    };
}

/// Evaluates a Gateway of one of our classes: listeners and acceptance. Addresses are
/// assigned later, across all Gateways, by [`assign_addresses`].
pub fn evaluate<'a>(
    gateway: &'a Gateway,
    controller_name: &'a str,
    assume_parameters: bool,
    snapshot: &Snapshot,
    grants: &GrantIndex<'_>,
) -> GatewayState<'a> {
    let namespace = gateway.metadata.namespace.as_deref().unwrap_or_default();
    let key = ObjectKey::new(
        Kind::Gateway,
        namespace,
        gateway.metadata.name.clone().unwrap_or_default(),
    );
    let spec_listeners = &gateway.spec.listeners;
    let slots: Vec<ListenerSlot<'_>> = spec_listeners.iter().map(ListenerSlot::of).collect();
    let conflicts = conflicts(&slots);
    let home = ListenerHome {
        kind: Kind::Gateway,
        namespace,
    };
    let mut listeners: Vec<ListenerState<'a>> = spec_listeners
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let mut state =
                evaluate_listener(l, home, None, conflicts.get(&i).copied(), snapshot, grants);
            apply_frontend(&mut state, gateway, snapshot, grants);
            state
        })
        .collect();

    // Requested addresses: type defaults to IPAddress (GatewaySpecAddress.type).
    let mut requested = Vec::new();
    let mut unsupported_address = None;
    for a in gateway.spec.addresses.as_deref().unwrap_or_default() {
        let value = a.value.as_deref().filter(|v| !v.is_empty());
        // An entry without a value asks gwsim to pick one (GatewayAddressEmpty): an IP.
        match (a.r#type.as_deref().unwrap_or("IPAddress"), value) {
            ("IPAddress" | "Hostname", None) => requested.push(RequestedAddress::Any),
            ("IPAddress", Some(v)) => requested.push(RequestedAddress::Ip(v.to_string())),
            ("Hostname", Some(v)) => requested.push(RequestedAddress::Hostname(v.to_string())),
            (other, _) => {
                unsupported_address.get_or_insert_with(|| other.to_string());
            }
        }
    }

    let valid_listeners = listeners.iter().filter(|l| l.accepted.status).count();
    let accepted = if let Some(p) = gateway
        .spec
        .infrastructure
        .as_ref()
        .and_then(|i| i.parameters_ref.as_ref())
        .filter(|_| !assume_parameters)
    {
        Desired::fail(
            ConditionType::Accepted,
            Reason::InvalidParameters,
            format!(
                "gwsim resolves no infrastructure parameters; cannot use {}/{} {}",
                p.group, p.kind, p.name
            ),
        )
    } else if let Some(t) = unsupported_address {
        Desired::fail(
            ConditionType::Accepted,
            Reason::UnsupportedAddress,
            format!("address type {t} is not supported"),
        )
    } else if valid_listeners == 0 {
        Desired::fail(
            ConditionType::Accepted,
            Reason::ListenersNotValid,
            "no listener is valid",
        )
    } else if valid_listeners < listeners.len() {
        Desired::new(
            ConditionType::Accepted,
            true,
            Reason::ListenersNotValid,
            "some listeners are not valid",
        )
    } else {
        Desired::ok(ConditionType::Accepted, "Gateway accepted")
    };

    let not_accepted =
        (!accepted.status).then(|| format!("Gateway not accepted: {}", accepted.reason.as_str()));
    for l in &mut listeners {
        set_programmed(l, not_accepted.as_deref());
    }

    let backend_client = backend_client_certificate(gateway, namespace, snapshot, grants);
    GatewayState {
        gateway,
        controller_name,
        backend_client,
        key,
        namespace,
        listeners,
        sets: Vec::new(),
        programmed: Desired::ok(ConditionType::Programmed, ""),
        accepted,
        addresses: Vec::new(),
        requested,
    }
}

/// FNV-1a, 64 bit: a stable hash of our own (std's hasher is not guaranteed stable).
fn fnv1a(text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// Gives every accepted Gateway its addresses and its Programmed condition. `states` must be
/// in key order: static addresses are claimed first, in that order (a later Gateway asking
/// for a claimed address gets AddressNotUsable, as does one the network does not serve); then
/// each Gateway without a value gets the address its `namespace/name` hashes to in the
/// network's pool, probing upward past addresses in use ([`Network::assign`]).
pub fn assign_addresses(states: &mut [GatewayState<'_>], network: &Network) {
    let mut used: BTreeSet<String> = BTreeSet::new();
    let mut unusable: Vec<Option<String>> = vec![None; states.len()];
    for (i, state) in states.iter_mut().enumerate() {
        if !state.is_accepted() {
            continue;
        }
        for r in &state.requested {
            match r {
                RequestedAddress::Ip(v) => {
                    match v.parse::<IpAddr>().map(|ip| (ip, network.refuses_ip(ip))) {
                        Ok((_, Some(why))) => {
                            unusable[i].get_or_insert(why);
                        }
                        // Used as written; the canonical form detects duplicates.
                        Ok((ip, None)) if used.insert(ip.to_string()) => {
                            state.addresses.push(("IPAddress".into(), v.clone()));
                        }
                        Ok(_) => {
                            unusable[i]
                                .get_or_insert_with(|| format!("address {v} is already in use"));
                        }
                        Err(_) => {
                            unusable[i].get_or_insert_with(|| format!("{v} is not an IP address"));
                        }
                    }
                }
                RequestedAddress::Hostname(v) => {
                    if let Some(why) = network.refuses_hostname(v) {
                        unusable[i].get_or_insert(why);
                    } else if used.insert(v.clone()) {
                        state.addresses.push(("Hostname".into(), v.clone()));
                    } else {
                        unusable[i].get_or_insert_with(|| format!("address {v} is already in use"));
                    }
                }
                RequestedAddress::Any => {}
            }
        }
    }
    for (i, state) in states.iter_mut().enumerate() {
        if !state.is_accepted() {
            state.programmed = Desired::fail(
                ConditionType::Programmed,
                Reason::Invalid,
                "Gateway is not accepted",
            );
            continue;
        }
        let wants_pool = state.requested.is_empty()
            || state
                .requested
                .iter()
                .any(|r| matches!(r, RequestedAddress::Any));
        if wants_pool {
            let start = fnv1a(&state.key.namespaced_name());
            match network.assign(start, |ip| used.contains(&ip.to_string())) {
                Some(ip) => {
                    used.insert(ip.to_string());
                    state.addresses.push(("IPAddress".into(), ip.to_string()));
                }
                None => {
                    state.programmed = Desired::fail(
                        ConditionType::Programmed,
                        Reason::AddressNotAssigned,
                        format!("no free address in {}", network.describe()),
                    );
                    continue;
                }
            }
        }
        state.programmed = match unusable[i].take() {
            Some(message) => {
                Desired::fail(ConditionType::Programmed, Reason::AddressNotUsable, message)
            }
            None if state.addresses.is_empty() => Desired::fail(
                ConditionType::Programmed,
                Reason::AddressNotAssigned,
                "no address assigned",
            ),
            None => Desired::ok(ConditionType::Programmed, "Gateway programmed"),
        };
    }
}

/// The Gateway's status. Listener conditions are in the order Accepted, Programmed,
/// ResolvedRefs, Conflicted; Gateway conditions Accepted, Programmed.
pub fn status(state: &GatewayState<'_>, now: Timestamp) -> GatewayStatus {
    let gateway = state.gateway;
    let generation = gateway.metadata.generation.unwrap_or(0);
    let stored = gateway.status.as_ref();
    let stored_conditions = stored
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    let stored_listeners = stored
        .and_then(|s| s.listeners.as_deref())
        .unwrap_or_default();
    let listeners = state
        .listeners
        .iter()
        .filter(|l| l.owner.is_none())
        .map(|l| {
            listener_status!(
                l,
                stored_listeners,
                generation,
                now,
                GatewayStatusListeners,
                GatewayStatusListenersSupportedKinds
            )
        })
        .collect();
    GatewayStatus {
        addresses: Some(
            state
                .addresses
                .iter()
                .map(|(t, v)| GatewayStatusAddresses {
                    r#type: Some(t.clone()),
                    value: v.clone(),
                })
                .collect(),
        ),
        // ListenerSets the Gateway accepted (GatewayStatus.attachedListenerSets).
        attached_listener_sets: Some(
            i32::try_from(state.sets.iter().filter(|s| s.accepted.status).count())
                .unwrap_or(i32::MAX),
        ),
        conditions: Some(materialize(
            stored_conditions,
            [state.accepted.clone(), state.programmed.clone()]
                .into_iter()
                .chain(backend_client_condition(state))
                .chain(frontend::insecure_mode(gateway))
                .collect(),
            generation,
            now,
        )),
        listeners: Some(listeners),
    }
}

/// One listener's status entry, neutral of the Gateway and ListenerSet status types.
pub struct ListenerEntry {
    pub attached_routes: i32,
    pub conditions: Vec<Condition>,
    pub name: String,
    /// Kind names; the group is always the Gateway API group.
    pub kinds: Vec<String>,
}

/// A listener's status entry. Conditions in the order Accepted, Programmed, ResolvedRefs,
/// Conflicted.
/// One `status.listeners` entry of a Gateway or a ListenerSet (their generated types differ
/// but share a shape): the listener's entry with the conditions stored under its name.
macro_rules! listener_status {
    ($listener:expr, $stored:expr, $generation:expr, $now:expr, $entry:ident, $kinds:ident) => {{
        let stored = $stored
            .iter()
            .find(|s| s.name == $listener.name)
            .map(|s| s.conditions.as_slice())
            .unwrap_or_default();
        let entry = listener_entry($listener, stored, $generation, $now);
        $entry {
            attached_routes: entry.attached_routes,
            conditions: entry.conditions,
            name: entry.name,
            supported_kinds: Some(
                entry
                    .kinds
                    .into_iter()
                    .map(|kind| $kinds {
                        group: Some(GATEWAY_GROUP.to_string()),
                        kind,
                    })
                    .collect(),
            ),
        }
    }};
}
pub(crate) use listener_status;

pub fn listener_entry(
    l: &ListenerState<'_>,
    stored: &[Condition],
    generation: i64,
    now: Timestamp,
) -> ListenerEntry {
    ListenerEntry {
        attached_routes: i32::try_from(l.routes.len()).unwrap_or(i32::MAX),
        conditions: materialize(
            stored,
            vec![
                l.accepted.clone(),
                l.programmed.clone(),
                l.resolved_refs.clone(),
                l.conflicted.clone(),
            ],
            generation,
            now,
        ),
        name: l.name.to_string(),
        kinds: l
            .kinds
            .iter()
            .map(|k| route_kind_name(*k).to_string())
            .collect(),
    }
}

/// The data plane's view of the Gateway. Consumes the attachments.
pub fn into_config(state: GatewayState<'_>) -> GatewayConfig {
    let set_keys: Vec<ObjectKey> = state.sets.iter().map(|s| s.key.clone()).collect();
    GatewayConfig {
        key: state.key,
        addresses: state.addresses.into_iter().map(|(_, v)| v).collect(),
        listeners: state
            .listeners
            .into_iter()
            .map(|l| ListenerConfig {
                name: l.name.to_string(),
                port: u16::try_from(l.port).unwrap_or(0),
                protocol: l.protocol,
                hostname: l.hostname.map(str::to_string),
                usable: l.usable,
                unusable_reason: l.unusable_reason,
                routes: l.routes,
                listener_set: l.owner.and_then(|i| set_keys.get(i).cloned()),
                certificate: l.certificate,
                client_validation: l.client_validation,
                tls_mode: l.tls_mode,
            })
            .collect(),
        backend_client_certificate: state.backend_client.and_then(Result::ok).flatten(),
    }
}

/// The Gateway's ResolvedRefs condition, written when it references a backend client
/// certificate (the only reference of the Gateway outside its listeners gwsim resolves).
fn backend_client_condition(state: &GatewayState<'_>) -> Option<Desired> {
    Some(match state.backend_client.as_ref()? {
        Ok(_) => Desired::ok(ConditionType::ResolvedRefs, "References resolved"),
        Err((reason, message)) => {
            Desired::fail(ConditionType::ResolvedRefs, *reason, message.clone())
        }
    })
}

/// `spec.tls.backend.clientCertificateRef` (GatewayBackendClientCertificate): a core Secret of
/// type `kubernetes.io/tls` with a certificate and key that parse, in the Gateway's namespace
/// or one a ReferenceGrant from Gateways opens. A wrong group or kind, a missing or malformed
/// Secret is InvalidClientCertificateRef; a namespace without a grant RefNotPermitted. The
/// Gateway stays Accepted either way.
fn backend_client_certificate(
    gateway: &Gateway,
    namespace: &str,
    snapshot: &Snapshot,
    grants: &GrantIndex<'_>,
) -> Option<Result<Option<BackendClientCertificate>, CertError>> {
    let r = gateway
        .spec
        .tls
        .as_ref()?
        .backend
        .as_ref()?
        .client_certificate_ref
        .as_ref()?;
    let group = r.group.as_deref().unwrap_or("");
    let kind = r.kind.as_deref().unwrap_or("Secret");
    let target_ns = r.namespace.as_deref().unwrap_or(namespace);
    let invalid = |why: String| {
        Some(Err((
            Reason::InvalidClientCertificateRef,
            format!("clientCertificateRef {target_ns}/{}: {why}", r.name),
        )))
    };
    if !(group.is_empty() && kind == "Secret") {
        let shown = if group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{group}")
        };
        return invalid(format!("{shown} is not a core Secret"));
    }
    let from = RefFrom {
        group: GATEWAY_GROUP,
        kind: "Gateway",
        namespace,
    };
    let to = RefTo {
        group: "",
        kind: "Secret",
        namespace: target_ns,
        name: &r.name,
    };
    if !grants.permits(from, to) {
        return Some(Err((
            Reason::RefNotPermitted,
            format!(
                "clientCertificateRef Secret {target_ns}/{} is in another namespace and no ReferenceGrant allows it",
                r.name
            ),
        )));
    }
    let Some(secret) = snapshot.secret(target_ns, &r.name) else {
        return invalid("Secret not found".to_string());
    };
    match secret_certificate(secret) {
        Err(why) => invalid(why),
        Ok(None) => Some(Ok(None)),
        Ok(Some(chain)) => {
            let pem = secret
                .data
                .as_ref()
                .and_then(|d| d.get("tls.crt"))
                .map(|b| String::from_utf8_lossy(&b.0).into_owned())
                .or_else(|| secret.string_data.as_ref()?.get("tls.crt").cloned())
                .unwrap_or_default();
            let key = secret
                .data
                .as_ref()
                .and_then(|d| d.get("tls.key"))
                .map(|b| b.0.clone())
                .or_else(|| {
                    Some(
                        secret
                            .string_data
                            .as_ref()?
                            .get("tls.key")?
                            .clone()
                            .into_bytes(),
                    )
                })
                .unwrap_or_default();
            Some(Ok(Some(BackendClientCertificate { chain, pem, key })))
        }
    }
}
