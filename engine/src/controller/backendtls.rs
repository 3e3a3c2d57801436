//! BackendTLSPolicy (GEP-1897): which policy applies to which Service port, the CAs it names,
//! and its status (one `status.ancestors` entry per Gateway the targeted Service is used
//! through).
//!
//! Choices the spec leaves open, or gwsim makes:
//! - Only targetRefs to core Services are used; other kinds target nothing.
//! - Conflicts (`BackendTLSPolicySpec.targetRefs`): among policies naming the same Service and
//!   the same sectionName (or both none), the older creationTimestamp wins, then the first by
//!   `namespace/name`; a policy that loses any of its targets is Accepted False Conflicted and
//!   applies nowhere. A sectionName policy and a whole-Service policy do not conflict: the
//!   sectionName one applies to its port, the whole-Service one to the other ports.
//! - CA references (`validation.caCertificateRefs`): a core ConfigMap in the policy's
//!   namespace whose `ca.crt` holds PEM certificates that parse; the valid ones' certificates
//!   are trusted together. A missing ConfigMap, or one without a usable `ca.crt`, is
//!   ResolvedRefs False InvalidCACertificateRef; another group or kind InvalidKind. When no
//!   reference is valid the policy is Accepted False NoValidCACertificate and connections
//!   through it fail (the data plane answers 5xx; docs/behaviour.md).
//! - `wellKnownCACertificates: System` is supported (the platform's store, which in gwsim holds
//!   no CA); any other value is Accepted False Invalid, as the field's docs require.
//! - A policy's ancestors are the Gateways of this controller with an attached route (or a
//!   mirror filter) whose backend is a port the policy targets (conflicted or not), in key order.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use gateway_api::apis::standard::backendtlspolicies::{
    BackendTlsPolicy, BackendTlsPolicyStatus, BackendTlsPolicyStatusAncestors,
    BackendTlsPolicyStatusAncestorsAncestorRef, BackendTlsPolicyValidationSubjectAltNamesType,
};
use k8s_openapi::jiff::Timestamp;

use super::conditions::{ConditionType, Desired, Reason, materialize};
use crate::config::{
    BackendTarget, BackendTls, BackendTrust, Filter, GatewayConfig, SubjectAltName,
};
use crate::object::{GATEWAY_GROUP, Kind, ObjectKey, Snapshot};
use crate::x509::TrustAnchors;

/// The policy's own verdict, the same for every ancestor.
#[derive(Clone, Debug)]
struct Evaluated {
    key: ObjectKey,
    generation: i64,
    tls: Arc<BackendTls>,
    /// ResolvedRefs False: the reason and message.
    unresolved: Option<(Reason, String)>,
    /// Accepted False for a reason of the policy itself (not a conflict).
    not_accepted: Option<(Reason, String)>,
    /// The older policy it lost a target to.
    conflicted_with: Option<ObjectKey>,
    /// (Service name, sectionName) it targets, in its own namespace.
    targets: Vec<(String, Option<String>)>,
}

/// The BackendTLSPolicies of a snapshot, evaluated once per reconcile.
#[derive(Debug, Default)]
pub struct BackendTlsIndex {
    policies: Vec<Evaluated>,
    /// (namespace, Service, sectionName or `None` for the whole Service) -> the winner's index.
    winners: HashMap<(String, String, Option<String>), usize>,
}

impl BackendTlsIndex {
    pub fn build(snapshot: &Snapshot) -> BackendTlsIndex {
        let mut policies: Vec<&BackendTlsPolicy> = snapshot.backend_tls_policies().collect();
        // Precedence: older first, then namespace/name (key order already is namespace/name).
        policies.sort_by_key(|p| {
            p.metadata
                .creation_timestamp
                .as_ref()
                .map_or(i64::MAX, |t| t.0.as_second())
        });
        let mut index = BackendTlsIndex::default();
        for policy in policies {
            let mut evaluated = evaluate(policy, snapshot);
            let ns = evaluated.key.namespace.clone();
            for (service, section) in &evaluated.targets {
                let slot = (ns.clone(), service.clone(), section.clone());
                match index.winners.get(&slot) {
                    Some(&winner) if evaluated.conflicted_with.is_none() => {
                        evaluated.conflicted_with = Some(index.policies[winner].key.clone());
                    }
                    Some(_) => {}
                    None => {
                        index.winners.insert(slot, index.policies.len());
                    }
                }
            }
            index.policies.push(evaluated);
        }
        // A policy that lost one target applies nowhere: its other targets go to no one.
        let losers: Vec<usize> = (0..index.policies.len())
            .filter(|&i| index.policies[i].conflicted_with.is_some())
            .collect();
        index.winners.retain(|_, i| !losers.contains(i));
        index
    }

    /// The TLS settings for port `port_name` of Service `namespace/service`: the sectionName
    /// policy of that port, else the whole-Service policy.
    pub fn for_port(
        &self,
        namespace: &str,
        service: &str,
        port_name: Option<&str>,
    ) -> Option<Arc<BackendTls>> {
        let lookup = |section: Option<&str>| {
            self.winners.get(&(
                namespace.to_string(),
                service.to_string(),
                section.map(str::to_string),
            ))
        };
        port_name
            .filter(|n| !n.is_empty())
            .and_then(|n| lookup(Some(n)))
            .or_else(|| lookup(None))
            .map(|&i| Arc::clone(&self.policies[i].tls))
    }

    /// Every policy's status: ancestors for the Gateways (with their controllerNames) whose
    /// routes use a targeted port, other controllers' entries kept.
    pub fn statuses(
        &self,
        snapshot: &Snapshot,
        gateways: &[(GatewayConfig, String)],
        owned: &[&str],
        now: Timestamp,
    ) -> Vec<(ObjectKey, BackendTlsPolicyStatus)> {
        let used: Vec<BTreeSet<(String, String, u16)>> =
            gateways.iter().map(|(g, _)| used_ports(g)).collect();
        let mut out = Vec::new();
        let mut ordered: Vec<&Evaluated> = self.policies.iter().collect();
        ordered.sort_by(|a, b| a.key.cmp(&b.key));
        for policy in ordered {
            let Some(crate::object::Object::BackendTlsPolicy(stored)) = snapshot.get(&policy.key)
            else {
                continue;
            };
            let stored_ancestors = stored
                .status
                .as_ref()
                .map(|s| s.ancestors.as_slice())
                .unwrap_or_default();
            let mut ancestors: Vec<BackendTlsPolicyStatusAncestors> = stored_ancestors
                .iter()
                .filter(|a| !owned.contains(&a.controller_name.as_str()))
                .cloned()
                .collect();
            for ((gateway, controller), used) in gateways.iter().zip(&used) {
                if !policy_used(policy, snapshot, used) {
                    continue;
                }
                let previous = stored_ancestors
                    .iter()
                    .find(|a| {
                        a.controller_name == *controller
                            && a.ancestor_ref.name == gateway.key.name
                            && a.ancestor_ref.namespace.as_deref()
                                == Some(gateway.key.namespace.as_str())
                    })
                    .map(|a| a.conditions.as_slice())
                    .unwrap_or_default();
                ancestors.push(BackendTlsPolicyStatusAncestors {
                    ancestor_ref: BackendTlsPolicyStatusAncestorsAncestorRef {
                        group: Some(GATEWAY_GROUP.to_string()),
                        kind: Some("Gateway".to_string()),
                        name: gateway.key.name.clone(),
                        namespace: Some(gateway.key.namespace.clone()),
                        port: None,
                        section_name: None,
                    },
                    conditions: materialize(previous, conditions(policy), policy.generation, now),
                    controller_name: controller.clone(),
                });
            }
            out.push((policy.key.clone(), BackendTlsPolicyStatus { ancestors }));
        }
        out
    }
}

/// Accepted and ResolvedRefs of one policy.
fn conditions(policy: &Evaluated) -> Vec<Desired> {
    let accepted = if let Some(winner) = &policy.conflicted_with {
        Desired::fail(
            ConditionType::Accepted,
            Reason::Conflicted,
            format!(
                "BackendTLSPolicy {} targets the same Service (and sectionName) and takes precedence",
                winner.namespaced_name()
            ),
        )
    } else if let Some((reason, message)) = &policy.not_accepted {
        Desired::fail(ConditionType::Accepted, *reason, message.clone())
    } else {
        Desired::ok(ConditionType::Accepted, "Policy accepted")
    };
    let resolved = match &policy.unresolved {
        Some((reason, message)) => {
            Desired::fail(ConditionType::ResolvedRefs, *reason, message.clone())
        }
        None => Desired::ok(ConditionType::ResolvedRefs, "All references resolved"),
    };
    vec![accepted, resolved]
}

/// Whether a Gateway's routes use a Service port the policy targets.
fn policy_used(
    policy: &Evaluated,
    snapshot: &Snapshot,
    used: &BTreeSet<(String, String, u16)>,
) -> bool {
    let ns = policy.key.namespace.as_str();
    policy.targets.iter().any(|(service, section)| {
        let ports: Vec<u16> = match section {
            None => used
                .iter()
                .filter(|(n, s, _)| n == ns && s == service)
                .map(|(_, _, p)| *p)
                .collect(),
            Some(section) => snapshot
                .service(ns, service)
                .and_then(|s| s.spec.as_ref())
                .and_then(|s| s.ports.as_deref())
                .unwrap_or_default()
                .iter()
                .filter(|p| p.name.as_deref() == Some(section.as_str()))
                .filter_map(|p| u16::try_from(p.port).ok())
                .collect(),
        };
        ports
            .iter()
            .any(|p| used.contains(&(ns.to_string(), service.clone(), *p)))
    })
}

/// Every Service port a Gateway's attached routes send to (backends and mirrors).
fn used_ports(gateway: &GatewayConfig) -> BTreeSet<(String, String, u16)> {
    let mut out = BTreeSet::new();
    let mut add = |target: &BackendTarget| {
        if let BackendTarget::Service {
            namespace,
            name,
            port,
            ..
        } = target
        {
            out.insert((namespace.clone(), name.clone(), *port));
        }
    };
    for listener in &gateway.listeners {
        for attachment in &listener.routes {
            for rule in &attachment.route.rules {
                let backend_filters = rule.backends.iter().flat_map(|b| &b.filters);
                for filter in rule.filters.iter().chain(backend_filters) {
                    if let Filter::RequestMirror(m) = filter {
                        add(&m.backend);
                    }
                }
                for backend in &rule.backends {
                    add(&backend.target);
                }
            }
        }
    }
    out
}

/// A policy on its own: its targets, CAs and names.
fn evaluate(policy: &BackendTlsPolicy, snapshot: &Snapshot) -> Evaluated {
    let ns = policy.metadata.namespace.clone().unwrap_or_default();
    let key = ObjectKey::new(
        Kind::BackendTlsPolicy,
        ns.clone(),
        policy.metadata.name.clone().unwrap_or_default(),
    );
    let validation = &policy.spec.validation;
    let targets = policy
        .spec
        .target_refs
        .iter()
        .filter(|t| t.group.is_empty() && t.kind == "Service")
        .map(|t| {
            let section = t.section_name.clone().filter(|s| !s.is_empty());
            (t.name.clone(), section)
        })
        .collect();
    let subject_alt_names = validation
        .subject_alt_names
        .iter()
        .flatten()
        .filter_map(|san| match san.r#type {
            BackendTlsPolicyValidationSubjectAltNamesType::Hostname => {
                san.hostname.clone().map(SubjectAltName::Hostname)
            }
            BackendTlsPolicyValidationSubjectAltNamesType::Uri => {
                san.uri.clone().map(SubjectAltName::Uri)
            }
        })
        .collect();
    let trust = resolve_trust(&ns, validation, snapshot);
    Evaluated {
        key: key.clone(),
        generation: policy.metadata.generation.unwrap_or(0),
        tls: Arc::new(BackendTls {
            policy: key,
            hostname: validation.hostname.clone(),
            subject_alt_names,
            trust: trust.trust,
            ca_digest: trust.digest,
        }),
        unresolved: trust.unresolved,
        not_accepted: trust.not_accepted,
        conflicted_with: None,
        targets,
    }
}

/// What a policy's CA settings come to.
struct Trust {
    trust: BackendTrust,
    digest: u64,
    unresolved: Option<(Reason, String)>,
    not_accepted: Option<(Reason, String)>,
}

fn resolve_trust(
    ns: &str,
    validation: &gateway_api::apis::standard::backendtlspolicies::BackendTlsPolicyValidation,
    snapshot: &Snapshot,
) -> Trust {
    if let Some(well_known) = validation
        .well_known_ca_certificates
        .as_deref()
        .filter(|w| !w.is_empty())
    {
        if well_known == "System" {
            return Trust {
                trust: BackendTrust::System,
                digest: 0,
                unresolved: None,
                not_accepted: None,
            };
        }
        let why = format!("wellKnownCACertificates {well_known} is not supported");
        return Trust {
            trust: BackendTrust::None(why.clone()),
            digest: 0,
            unresolved: None,
            not_accepted: Some((Reason::Invalid, why)),
        };
    }
    let mut anchors = TrustAnchors::default();
    let mut digest = FNV_OFFSET;
    let mut problems: Vec<(Reason, String)> = Vec::new();
    for r in validation.ca_certificate_refs.iter().flatten() {
        match ca_bundle(ns, &r.group, &r.kind, &r.name, snapshot) {
            Ok((bundle, pem)) => {
                anchors.extend(bundle);
                digest = fnv1a(digest, pem.as_bytes());
            }
            Err(problem) => problems.push(problem),
        }
    }
    // InvalidKind is named first when any reference has a bad kind: it says most about the fix.
    problems.sort_by_key(|(reason, _)| *reason != Reason::InvalidKind);
    let unresolved = problems.first().map(|(reason, _)| {
        let messages: Vec<&str> = problems.iter().map(|(_, m)| m.as_str()).collect();
        (*reason, messages.join("; "))
    });
    if anchors.is_empty() {
        let why = unresolved
            .as_ref()
            .map_or_else(|| "no CA certificate".to_string(), |(_, m)| m.clone());
        return Trust {
            trust: BackendTrust::None(why.clone()),
            digest,
            unresolved,
            not_accepted: Some((
                Reason::NoValidCACertificate,
                format!("no valid CA certificate: {why}"),
            )),
        };
    }
    Trust {
        trust: BackendTrust::Certificates(anchors),
        digest,
        unresolved,
        not_accepted: None,
    }
}

/// One `caCertificateRefs` entry: the ConfigMap's `ca.crt` as trust anchors, and its text.
fn ca_bundle(
    ns: &str,
    group: &str,
    kind: &str,
    name: &str,
    snapshot: &Snapshot,
) -> Result<(TrustAnchors, String), (Reason, String)> {
    if !(group.is_empty() && kind == "ConfigMap") {
        let shown = if group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{group}")
        };
        return Err((
            Reason::InvalidKind,
            format!("caCertificateRef {shown} {name}: only core ConfigMaps are supported"),
        ));
    }
    let invalid = |why: String| {
        Err((
            Reason::InvalidCACertificateRef,
            format!("caCertificateRef ConfigMap {ns}/{name}: {why}"),
        ))
    };
    let Some(crate::object::Object::ConfigMap(map)) =
        snapshot.get(&ObjectKey::new(Kind::ConfigMap, ns, name))
    else {
        return invalid("not found".to_string());
    };
    let Some(pem) = map
        .data
        .as_ref()
        .and_then(|d| d.get("ca.crt"))
        .filter(|p| !p.trim().is_empty())
    else {
        return invalid("has no ca.crt".to_string());
    };
    match TrustAnchors::from_pem(pem.as_bytes()) {
        Ok(anchors) => Ok((anchors, pem.clone())),
        Err(why) => invalid(format!("ca.crt {why}")),
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests;
