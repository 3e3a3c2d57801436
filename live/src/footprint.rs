//! What a scenario touches on a cluster, so that `--jobs N` runs at once only scenarios that
//! cannot see each other.
//!
//! A footprint is read from the scenario alone, before it runs: the objects its manifests,
//! apply and delete steps write; the parents its routes attach to (attaching changes the
//! parent's status and what its listeners route, so it counts as a write on the parent); the
//! Services, Secrets and ConfigMaps its objects refer to; the objects its status checks read;
//! the Gateways its requests go to. Two scenarios conflict when one writes what the other
//! reads or writes. Some scenarios can only run alone (`exclusive`): they write objects that
//! change how other objects resolve (Namespaces, ReferenceGrants, GatewayClasses, kinds gwsim
//! does not know), change the shared base, start without the base, check mirrored requests
//! (read from the echo pods' logs, which every scenario's requests go to), or send a request
//! without naming its Gateway.

use std::collections::BTreeSet;

use gwsim_engine::load::Document;
use gwsim_engine::object::ObjectKey;
use gwsim_sim::scenario::{Action, Base, Scenario};
use serde_json::Value;

/// A resource two scenarios can share: `Kind namespace/name`, or `Pods namespace` for the
/// pods of a namespace (a Deployment's pods can join any Service there that selects them).
pub type Resource = String;

/// What one scenario touches.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Footprint {
    /// Why the scenario must run alone, if it must.
    pub exclusive: Option<String>,
    pub writes: BTreeSet<Resource>,
    pub reads: BTreeSet<Resource>,
    /// The scenario starts from the conformance base.
    pub needs_base: bool,
    /// It writes or deletes one of the base's objects: the base must be created again after it.
    pub changes_base: bool,
}

impl Footprint {
    /// Whether the two can run at the same time.
    pub fn compatible(&self, other: &Footprint) -> bool {
        self.exclusive.is_none()
            && other.exclusive.is_none()
            && self.writes.is_disjoint(&other.writes)
            && self.writes.is_disjoint(&other.reads)
            && self.reads.is_disjoint(&other.writes)
    }
}

/// Kinds whose objects change how other objects resolve: writing one runs alone.
const GLOBAL_KINDS: [&str; 3] = ["Namespace", "ReferenceGrant", "GatewayClass"];
/// Kinds a footprint understands; any other kind written runs alone.
const KNOWN_KINDS: [&str; 18] = [
    "Namespace",
    "ReferenceGrant",
    "GatewayClass",
    "Gateway",
    "ListenerSet",
    "HTTPRoute",
    "GRPCRoute",
    "TLSRoute",
    "TCPRoute",
    "UDPRoute",
    "BackendTLSPolicy",
    "Service",
    "EndpointSlice",
    "Deployment",
    "Pod",
    "Secret",
    "ConfigMap",
    "ServiceAccount",
];

fn resource(kind: &str, namespace: &str, name: &str) -> Resource {
    format!("{kind} {namespace}/{name}")
}

fn key_resource(key: &ObjectKey) -> Resource {
    resource(key.kind.as_str(), &key.namespace, &key.name)
}

/// The footprint of `scenario`; `base` is the set of the base's objects.
pub fn footprint(scenario: &Scenario, base: &BTreeSet<ObjectKey>) -> Footprint {
    let mut fp = Footprint {
        needs_base: scenario.base == Base::Conformance,
        ..Footprint::default()
    };
    if scenario.base == Base::None {
        fp.exclusive = Some("it starts without the base".into());
    }
    let base_resources: BTreeSet<Resource> = base.iter().map(key_resource).collect();
    for manifest in &scenario.manifests {
        for doc in &manifest.documents {
            add_document(&mut fp, doc, &base_resources);
        }
    }
    for step in &scenario.steps {
        match &step.action {
            Action::Apply { manifest, .. } => {
                for doc in &manifest.documents {
                    add_document(&mut fp, doc, &base_resources);
                }
            }
            Action::Delete { target } => {
                let written = resource(&target.kind, &target.namespace, &target.name);
                if GLOBAL_KINDS.contains(&target.kind.as_str()) {
                    exclusive(&mut fp, format!("it deletes a {}", target.kind));
                }
                if base_resources.contains(&written) {
                    fp.changes_base = true;
                    exclusive(&mut fp, "it changes the base".into());
                }
                fp.writes.insert(written);
            }
            Action::Status { checks } => {
                for check in checks {
                    let t = &check.target;
                    fp.reads.insert(resource(&t.kind, &t.namespace, &t.name));
                }
            }
            Action::Connect { connect, .. } => match &connect.connection.gateway {
                Some(key) => {
                    fp.reads
                        .insert(resource("Gateway", &key.namespace, &key.name));
                }
                None => exclusive(&mut fp, "a connection names no Gateway".into()),
            },
            Action::Request { request, expect } => {
                match &request.gateway {
                    Some((namespace, name)) => {
                        fp.reads.insert(resource("Gateway", namespace, name));
                    }
                    None => exclusive(&mut fp, "a request names no Gateway".into()),
                }
                if let Some((namespace, name)) = &request.client_certificate {
                    fp.reads.insert(resource("Secret", namespace, name));
                }
                if !expect.mirrored_to.is_empty() {
                    exclusive(
                        &mut fp,
                        "it checks mirrored requests in the echo pods' logs".into(),
                    );
                }
            }
            Action::FillEndpoints {
                namespace,
                endpoint_slice,
                ..
            } => {
                fp.writes
                    .insert(resource("EndpointSlice", namespace, endpoint_slice));
                fp.reads.insert(format!("Pods {namespace}"));
            }
            Action::Advance { .. } => {}
        }
    }
    fp
}

fn exclusive(fp: &mut Footprint, why: String) {
    if fp.exclusive.is_none() {
        fp.exclusive = Some(why);
    }
}

/// Adds what one document writes and reads.
fn add_document(fp: &mut Footprint, doc: &Document, base: &BTreeSet<Resource>) {
    let value = &doc.value;
    let kind = value.get("kind").and_then(Value::as_str).unwrap_or("");
    let name = value
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let cluster_scoped = matches!(kind, "Namespace" | "GatewayClass");
    let namespace = match cluster_scoped {
        true => "",
        false => value
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("default"),
    };
    if !KNOWN_KINDS.contains(&kind) {
        exclusive(
            fp,
            format!("it writes a {kind:?}, a kind --jobs does not know"),
        );
    } else if GLOBAL_KINDS.contains(&kind) {
        exclusive(fp, format!("it writes a {kind}"));
    }
    let written = resource(kind, namespace, name);
    if base.contains(&written) {
        fp.changes_base = true;
        exclusive(fp, "it changes the base".into());
    }
    fp.writes.insert(written);
    if matches!(kind, "Deployment" | "Pod") {
        fp.writes.insert(format!("Pods {namespace}"));
    }
    if kind == "EndpointSlice"
        && let Some(service) = value
            .pointer("/metadata/labels/kubernetes.io~1service-name")
            .and_then(Value::as_str)
    {
        fp.writes.insert(resource("Service", namespace, service));
    }
    let Some(spec) = value.get("spec") else {
        return;
    };
    // Parents: a route's parentRefs, a ListenerSet's parentRef.
    let parents = spec
        .get("parentRefs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .chain(spec.get("parentRef"));
    for parent in parents {
        let kind = parent
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("Gateway");
        fp.writes.insert(reference(parent, kind, namespace));
    }
    // Policies attach to their targets.
    for target in spec
        .get("targetRefs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let kind = target.get("kind").and_then(Value::as_str).unwrap_or("");
        fp.writes.insert(reference(target, kind, namespace));
    }
    let mut refs = Vec::new();
    collect_references(spec, &mut refs);
    for (field, reference_value) in refs {
        let default_kind = match field {
            "certificateRefs" => "Secret",
            "caCertificateRefs" => "ConfigMap",
            _ => "Service",
        };
        let kind = reference_value
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or(default_kind);
        let read = reference(reference_value, kind, namespace);
        if kind == "Service" {
            let ns = reference_value
                .get("namespace")
                .and_then(Value::as_str)
                .unwrap_or(namespace);
            fp.reads.insert(format!("Pods {ns}"));
        }
        fp.reads.insert(read);
    }
}

/// `Kind namespace/name` of a reference (its namespace defaults to the referrer's).
fn reference(value: &Value, kind: &str, namespace: &str) -> Resource {
    let name = value.get("name").and_then(Value::as_str).unwrap_or("");
    let ns = value
        .get("namespace")
        .and_then(Value::as_str)
        .unwrap_or(namespace);
    resource(kind, ns, name)
}

/// Every object reference under `value`: `backendRefs` items, `backendRef` (mirrors),
/// `certificateRefs` and `caCertificateRefs` items, wherever they are nested.
fn collect_references<'a>(value: &'a Value, out: &mut Vec<(&'static str, &'a Value)>) {
    match value {
        Value::Object(map) => {
            for (field, inner) in map {
                let list_field = match field.as_str() {
                    "backendRefs" => Some("backendRefs"),
                    "certificateRefs" => Some("certificateRefs"),
                    "caCertificateRefs" => Some("caCertificateRefs"),
                    _ => None,
                };
                match (list_field, inner) {
                    (Some(f), Value::Array(items)) => {
                        out.extend(items.iter().map(|item| (f, item)));
                    }
                    _ if field == "backendRef" && inner.is_object() => {
                        out.push(("backendRef", inner));
                    }
                    _ => collect_references(inner, out),
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                collect_references(item, out);
            }
        }
        _ => {}
    }
}

/// Which pending scenario to start next: the first, in suite order, that can run beside
/// `running`. An exclusive one waits until nothing runs; one that needs the base while it is
/// not in place runs alone too (it creates the base).
pub fn next_to_start(
    footprints: &[Footprint],
    pending: &[usize],
    running: &[usize],
    base_in_place: bool,
) -> Option<usize> {
    pending.iter().copied().find(|&i| {
        let fp = &footprints[i];
        let alone = fp.exclusive.is_some() || (fp.needs_base && !base_in_place);
        if alone {
            running.is_empty()
        } else {
            running.iter().all(|&r| fp.compatible(&footprints[r]))
        }
    })
}

/// Whether scenario `i` runs alone (see [`next_to_start`]).
pub fn runs_alone(fp: &Footprint, base_in_place: bool) -> bool {
    fp.exclusive.is_some() || (fp.needs_base && !base_in_place)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gwsim_engine::object::Kind;

    fn scenario(text: &str) -> Scenario {
        let source = gwsim_sim::files::Source {
            name: "t.yaml".into(),
            path: "t.yaml".into(),
            text: text.into(),
        };
        gwsim_sim::scenario::load_scenario(&source).expect("scenario parses")
    }

    fn base() -> BTreeSet<ObjectKey> {
        [
            ObjectKey::new(Kind::Gateway, "infra", "same-namespace"),
            ObjectKey::new(Kind::Service, "infra", "infra-backend-v1"),
            ObjectKey::new(Kind::Namespace, "", "infra"),
        ]
        .into_iter()
        .collect()
    }

    const ROUTE_A: &str = r#"
name: a
base: conformance
manifests:
  - |
    apiVersion: gateway.networking.k8s.io/v1
    kind: HTTPRoute
    metadata: {name: a, namespace: infra}
    spec:
      parentRefs: [{name: same-namespace}]
      rules: [{backendRefs: [{name: infra-backend-v1, port: 8080}]}]
steps:
  - request: {gateway: infra/same-namespace, path: /a}
    expect: {status: 200}
"#;

    const OWN_GATEWAY: &str = r#"
name: b
base: conformance
manifests:
  - |
    apiVersion: gateway.networking.k8s.io/v1
    kind: Gateway
    metadata: {name: mine, namespace: infra}
    spec:
      gatewayClassName: gateway-conformance
      listeners: [{name: http, port: 80, protocol: HTTP}]
steps:
  - status:
      - {kind: Gateway, namespace: infra, name: mine, conditions: [{type: Accepted, status: "True"}]}
"#;

    #[test]
    fn a_route_writes_its_parent_and_reads_its_backends() {
        let fp = footprint(&scenario(ROUTE_A), &base());
        assert_eq!(fp.exclusive, None);
        assert!(fp.writes.contains("HTTPRoute infra/a"));
        assert!(fp.writes.contains("Gateway infra/same-namespace"));
        assert!(fp.reads.contains("Service infra/infra-backend-v1"));
        assert!(fp.reads.contains("Pods infra"));
        assert!(fp.needs_base && !fp.changes_base);
    }

    #[test]
    fn scenarios_on_one_gateway_conflict_and_on_their_own_do_not() {
        let a = footprint(&scenario(ROUTE_A), &base());
        let a2 = footprint(
            &scenario(&ROUTE_A.replace("name: a,", "name: a2,")),
            &base(),
        );
        let b = footprint(&scenario(OWN_GATEWAY), &base());
        assert!(!a.compatible(&a2), "both attach to same-namespace");
        assert!(a.compatible(&b) && b.compatible(&a));
        let footprints = [a, a2, b];
        // a runs: a2 must wait, b may start.
        assert_eq!(next_to_start(&footprints, &[1, 2], &[0], true), Some(2));
        assert_eq!(next_to_start(&footprints, &[1], &[0, 2], true), None);
        assert_eq!(next_to_start(&footprints, &[1], &[2], true), Some(1));
    }

    #[test]
    fn what_changes_resolution_or_the_base_runs_alone() {
        let grant = ROUTE_A.replace(
            "manifests:\n",
            "manifests:\n  - |\n    apiVersion: gateway.networking.k8s.io/v1beta1\n    kind: ReferenceGrant\n    metadata: {name: g, namespace: infra}\n    spec: {from: [], to: []}\n",
        );
        let fp = footprint(&scenario(&grant), &base());
        assert_eq!(fp.exclusive.as_deref(), Some("it writes a ReferenceGrant"));
        let deletes_base = format!(
            "{ROUTE_A}  - delete: {{kind: Service, namespace: infra, name: infra-backend-v1}}\n"
        );
        let fp = footprint(&scenario(&deletes_base), &base());
        assert!(fp.changes_base);
        assert_eq!(fp.exclusive.as_deref(), Some("it changes the base"));
        let no_base = ROUTE_A.replace("base: conformance\n", "");
        let fp = footprint(&scenario(&no_base), &base());
        assert!(fp.exclusive.is_some() && !fp.needs_base);
        // An exclusive scenario waits for an empty cluster, and nothing starts beside it.
        let plain = footprint(&scenario(OWN_GATEWAY), &base());
        let footprints = [fp, plain];
        assert_eq!(next_to_start(&footprints, &[0], &[1], true), None);
        assert_eq!(next_to_start(&footprints, &[0], &[], true), Some(0));
        assert_eq!(next_to_start(&footprints, &[1], &[0], true), None);
        // The base missing: the next scenario that needs it runs alone (it creates it).
        assert!(runs_alone(&footprints[1], false));
        assert_eq!(next_to_start(&footprints, &[1], &[0], false), None);
    }

    #[test]
    fn mirrors_and_requests_without_a_gateway_run_alone() {
        let mirror = ROUTE_A.replace(
            "expect: {status: 200}",
            "expect: {status: 200, mirroredTo: [{backend: infra-backend-v2}]}",
        );
        let fp = footprint(&scenario(&mirror), &base());
        assert!(
            fp.exclusive
                .as_deref()
                .is_some_and(|w| w.contains("mirrored"))
        );
    }

    #[test]
    fn the_suite_has_scenarios_that_can_run_together() {
        let suite = gwsim_conformance::load_suite(None).expect("suite");
        let base_keys = crate::target::base_keys().expect("base");
        let footprints: Vec<Footprint> = suite.iter().map(|s| footprint(s, &base_keys)).collect();
        let alone = footprints.iter().filter(|f| f.exclusive.is_some()).count();
        let mut why: Vec<&str> = footprints
            .iter()
            .filter_map(|f| f.exclusive.as_deref())
            .collect();
        why.sort();
        why.dedup();
        assert!(
            alone < suite.len() / 2,
            "{alone} of {} run alone: {why:?}",
            suite.len()
        );
        let pairs = footprints
            .iter()
            .enumerate()
            .flat_map(|(i, a)| footprints[i + 1..].iter().map(move |b| (a, b)))
            .filter(|(a, b)| a.compatible(b))
            .count();
        assert!(pairs > 100, "{pairs} compatible pairs");
    }
}
