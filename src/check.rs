//! `gwsim check`: objects, their conditions, rejections and ignored documents.

use std::collections::BTreeMap;
use std::fmt::Write;

use gwsim_engine::decision::{Decision, Outcome};
use gwsim_engine::object::{GATEWAY_GROUP, Kind, Object, ObjectKey};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::{Value, json};

use crate::inputs::Inputs;

/// The first lines of `check`, `routes`, `explain` and `audit`: which classes gwsim stands
/// in for, and what about the input the reader should know (warnings, skipped and ignored
/// documents, objects given twice, namespaces assumed).
pub fn header(inputs: &Inputs) -> String {
    let mut out = String::new();
    for line in inputs.stand_in.describe() {
        let _ = writeln!(out, "{line}");
    }
    for warning in &inputs.warnings {
        let _ = writeln!(out, "warning: {warning}");
    }
    if !inputs.skipped.is_empty() {
        let _ = writeln!(
            out,
            "skipped {} document{}, not Kubernetes objects:",
            inputs.skipped.len(),
            plural(inputs.skipped.len())
        );
        for (origin, reason) in &inputs.skipped {
            let _ = writeln!(out, "  {origin}: {reason}");
        }
    }
    let ignored = ignored_by_kind(inputs);
    if !ignored.is_empty() {
        let kinds: Vec<String> = ignored
            .iter()
            .map(|((api_version, kind), n)| format!("{n} {kind} ({api_version})"))
            .collect();
        let _ = writeln!(
            out,
            "ignored, kinds gwsim does not model: {}",
            kinds.join(", ")
        );
    }
    for r in &inputs.replaced {
        let _ = writeln!(
            out,
            "{} is given twice: {} is applied after {} and wins",
            r.key, r.later, r.earlier
        );
    }
    if !inputs.assumed_namespaces.is_empty() {
        let names: Vec<&str> = inputs
            .assumed_namespaces
            .iter()
            .map(String::as_str)
            .collect();
        let _ = writeln!(
            out,
            "namespaces used but not created by the input, assumed to exist without labels: {}",
            names.join(", ")
        );
    }
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Ignored documents counted per (apiVersion, kind).
fn ignored_by_kind(inputs: &Inputs) -> BTreeMap<(String, String), usize> {
    let mut out = BTreeMap::new();
    for (_, what) in &inputs.ignored {
        let mut parts = what.split_whitespace();
        let api_version = parts.next().unwrap_or("").to_string();
        let kind = parts.next().unwrap_or("").to_string();
        *out.entry((api_version, kind)).or_default() += 1;
    }
    out
}

/// For `explain` on files: a request forwarded to a Service whose EndpointSlices in the input
/// have no ready endpoint is answered 503; a Service the input has no EndpointSlice for is
/// assumed to have endpoints, and the explanation says so.
pub fn note_endpoints(inputs: &Inputs, decision: &mut Decision) {
    let Outcome::Forward(forward) = &decision.outcome else {
        return;
    };
    let backend = forward.backend.clone();
    let has_slices = inputs.snapshot.of_kind(Kind::EndpointSlice).any(|o| {
        o.meta().namespace.as_deref() == Some(backend.namespace.as_str())
            && o.meta()
                .labels
                .as_ref()
                .and_then(|l| l.get(gwsim_sim::workloads::SERVICE_NAME_LABEL))
                == Some(&backend.name)
    });
    if !has_slices {
        decision.explanation.notes.push(format!(
            "the input has no EndpointSlice for Service {}/{}: gwsim assumes it has ready endpoints",
            backend.namespace, backend.name
        ));
        return;
    }
    let mut network = gwsim_sim::network::Network::new();
    network.rebuild(&inputs.snapshot);
    if network.endpoint_count(&backend) == 0 {
        decision.no_ready_endpoints();
    }
}

/// A route's parentRefs as (group, kind, namespace, name) and its status parents as
/// (parent namespace/name, conditions): HTTPRoute and GRPCRoute share the field names.
macro_rules! route_parts {
    ($route:expr, $namespace:expr) => {{
        let route = $route;
        let refs: Vec<(&str, &str, &str, &str)> = route
            .spec
            .parent_refs
            .iter()
            .flatten()
            .map(|p| {
                (
                    p.group.as_deref().unwrap_or(GATEWAY_GROUP),
                    p.kind.as_deref().unwrap_or("Gateway"),
                    p.namespace.as_deref().unwrap_or($namespace),
                    p.name.as_str(),
                )
            })
            .collect();
        let parents: Vec<(String, &[Condition])> = route
            .status
            .iter()
            .flat_map(|s| s.parents.iter())
            .map(|p| {
                let ns = p.parent_ref.namespace.as_deref().unwrap_or($namespace);
                (
                    format!("{ns}/{}", p.parent_ref.name),
                    p.conditions.as_slice(),
                )
            })
            .collect();
        (refs, parents)
    }};
}

/// What is wrong with the input besides conditions, in plain words with the fix: routes
/// whose parentRefs name nothing present (or that have none), unresolved references, and
/// namespace selectors that cannot match a namespace the input does not create.
fn findings(inputs: &Inputs, shows: &dyn Fn(&ObjectKey) -> bool) -> Vec<String> {
    let mut out = Vec::new();
    for object in inputs.snapshot.objects.values() {
        let key = object.key();
        if !shows(&key) {
            continue;
        }
        let (refs, parents) = match object {
            Object::HttpRoute(r) => route_parts!(r.as_ref(), key.namespace.as_str()),
            Object::GrpcRoute(r) => route_parts!(r.as_ref(), key.namespace.as_str()),
            Object::TlsRoute(r) => route_parts!(r.as_ref(), key.namespace.as_str()),
            Object::TcpRoute(r) => route_parts!(r.as_ref(), key.namespace.as_str()),
            Object::UdpRoute(r) => route_parts!(r.as_ref(), key.namespace.as_str()),
            _ => continue,
        };
        if refs.is_empty() {
            out.push(format!(
                "{key} has no parentRefs: it attaches to no Gateway and serves nothing. Add a parentRef naming the Gateway it belongs to."
            ));
        }
        for (i, (group, kind, namespace, name)) in refs.into_iter().enumerate() {
            let kind = match (group, kind) {
                (GATEWAY_GROUP, "Gateway") => Kind::Gateway,
                (GATEWAY_GROUP, "ListenerSet") => Kind::ListenerSet,
                _ => continue,
            };
            let target = ObjectKey::new(kind, namespace, name);
            if inputs.snapshot.get(&target).is_none() {
                out.push(format!(
                    "{key}: spec.parentRefs[{i}] names {target}, which is not in the input: the route attaches nowhere there. Fix the name or namespace, or add the {kind}."
                ));
            }
        }
        for (gateway, conditions) in parents {
            for c in conditions {
                if c.type_ == "ResolvedRefs" && c.status == "False" {
                    // What the data plane does with traffic for the invalid reference.
                    let effect = match key.kind {
                        Kind::TlsRoute | Kind::TcpRoute => {
                            "Connections that would use the reference are rejected"
                        }
                        Kind::UdpRoute => "Datagrams that would use the reference are dropped",
                        _ => "Requests for the rules that use the reference are answered 500",
                    };
                    out.push(format!(
                        "{key} on {gateway}: ResolvedRefs False {}: {}. {effect}; fix the backendRef, create what it names, or add the ReferenceGrant that allows it.",
                        c.reason, c.message
                    ));
                }
                if c.type_ == "Accepted"
                    && c.reason == "NotAllowedByListeners"
                    && inputs.assumed_namespaces.contains(&key.namespace)
                {
                    out.push(format!(
                        "{key} on {gateway}: namespace {} is not in the input, so gwsim assumed it has no labels; a listener that selects namespaces by label cannot match it. Add the Namespace with its labels if it has them.",
                        key.namespace
                    ));
                }
            }
        }
    }
    out
}

/// One line of the table: indentation, a label, and the condition columns.
struct Row {
    depth: usize,
    label: String,
    condition: Option<(String, String, String, String)>,
}

/// Rows for an object with conditions and per-listener entries (a Gateway or a ListenerSet):
/// its conditions, then each listener with its shape, attachedRoutes and conditions. Evaluates
/// to whether every `Accepted` among them is True.
macro_rules! push_listeners {
    ($rows:expr, $object:expr) => {{
        let status = $object.status.as_ref();
        let conds = status.and_then(|s| s.conditions.as_ref());
        let mut accepted = push_conditions($rows, 1, conds.map(Vec::as_slice));
        for listener in status.iter().flat_map(|s| s.listeners.iter().flatten()) {
            let spec = $object
                .spec
                .listeners
                .iter()
                .find(|l| l.name == listener.name);
            let shape = spec
                .map(|l| {
                    let host = l.hostname.as_deref().unwrap_or("*");
                    format!(" ({} {}:{})", l.protocol, host, l.port)
                })
                .unwrap_or_default();
            $rows.push(Row {
                depth: 1,
                label: format!(
                    "listener {}{}  attachedRoutes {}",
                    listener.name, shape, listener.attached_routes
                ),
                condition: None,
            });
            accepted &= push_conditions($rows, 2, Some(&listener.conditions));
        }
        accepted
    }};
}

/// Rows for a route's status parents (HTTPRoute and GRPCRoute share the shape in two
/// generated types): each parent with its conditions. Evaluates to whether every `Accepted`
/// among them is True.
macro_rules! push_route_parents {
    ($rows:expr, $route:expr) => {{
        let parents = $route.status.as_ref().map_or(&[][..], |s| s.parents.as_slice());
        if parents.is_empty() {
            $rows.push(Row {
                depth: 1,
                label: "(no parent status: no parentRef names a Gateway of a class gwsim stands in for)".into(),
                condition: None,
            });
        }
        let mut accepted = true;
        for parent in parents {
            let r = &parent.parent_ref;
            $rows.push(Row {
                depth: 1,
                label: parent_label(
                    r.kind.as_deref(),
                    r.namespace.as_deref(),
                    &r.name,
                    r.section_name.as_deref(),
                    r.port.map(|p| p.to_string()).as_deref(),
                    &parent.controller_name,
                ),
                condition: None,
            });
            accepted &= push_conditions($rows, 2, Some(&parent.conditions));
        }
        accepted
    }};
}

/// Rows for a BackendTLSPolicy's `status.ancestors`: each Gateway with its conditions.
/// Whether every `Accepted` among them is True.
fn push_policy_ancestors(rows: &mut Vec<Row>, object: &Object) -> bool {
    let Object::BackendTlsPolicy(policy) = object else {
        return true;
    };
    let ancestors = policy
        .status
        .as_ref()
        .map_or(&[][..], |s| s.ancestors.as_slice());
    if ancestors.is_empty() {
        rows.push(Row {
            depth: 1,
            label: "(no ancestor status: no route of a Gateway gwsim stands in for sends to a targeted Service port)".into(),
            condition: None,
        });
    }
    let mut accepted = true;
    for ancestor in ancestors {
        let r = &ancestor.ancestor_ref;
        let label = parent_label(
            r.kind.as_deref(),
            r.namespace.as_deref(),
            &r.name,
            r.section_name.as_deref(),
            r.port.map(|p| p.to_string()).as_deref(),
            &ancestor.controller_name,
        );
        rows.push(Row {
            depth: 1,
            label: label.replacen("parent ", "ancestor ", 1),
            condition: None,
        });
        accepted &= push_conditions(rows, 2, Some(&ancestor.conditions));
    }
    accepted
}

/// The table for people, of the objects `shows` lets through (`-n`), with condition
/// statuses coloured when `color`. Returns the text and whether every object shown is valid
/// and Accepted.
pub fn render_table(
    inputs: &Inputs,
    shows: &dyn Fn(&ObjectKey) -> bool,
    color: bool,
) -> (String, bool) {
    let mut rows = Vec::new();
    let mut all_accepted = inputs.rejected.is_empty() && inputs.not_found.is_empty();
    for object in inputs.snapshot.objects.values() {
        if !object.kind().has_gateway_status() && object.kind() != Kind::ReferenceGrant {
            continue;
        }
        let key = object.key();
        if !shows(&key) {
            continue;
        }
        let mut head = format!("{} {}", key.kind, key.namespaced_name());
        if let Object::Gateway(gw) = object {
            let addresses: Vec<&str> = gw
                .status
                .iter()
                .flat_map(|s| s.addresses.iter().flatten())
                .map(|a| a.value.as_str())
                .collect();
            if !addresses.is_empty() {
                let _ = write!(head, "  address {}", addresses.join(","));
            }
        }
        rows.push(Row {
            depth: 0,
            label: head,
            condition: None,
        });
        match object {
            Object::GatewayClass(gc) => {
                let conds = gc.status.as_ref().and_then(|s| s.conditions.as_ref());
                all_accepted &= push_conditions(&mut rows, 1, conds.map(Vec::as_slice));
            }
            // Gateways and ListenerSets share the listener status shape in two generated types.
            Object::Gateway(gw) => all_accepted &= push_listeners!(&mut rows, gw),
            Object::ListenerSet(set) => all_accepted &= push_listeners!(&mut rows, set),
            Object::HttpRoute(route) => all_accepted &= push_route_parents!(&mut rows, route),
            Object::GrpcRoute(route) => all_accepted &= push_route_parents!(&mut rows, route),
            Object::TlsRoute(route) => all_accepted &= push_route_parents!(&mut rows, route),
            Object::TcpRoute(route) => all_accepted &= push_route_parents!(&mut rows, route),
            Object::UdpRoute(route) => all_accepted &= push_route_parents!(&mut rows, route),
            Object::BackendTlsPolicy(_) => {
                all_accepted &= push_policy_ancestors(&mut rows, object);
            }
            _ => {}
        }
    }

    let mut out = String::new();
    let width = rows
        .iter()
        .filter(|r| r.condition.is_some())
        .map(|r| r.depth * 2 + r.label.len())
        .max()
        .unwrap_or(0);
    for row in &rows {
        let indent = "  ".repeat(row.depth);
        match &row.condition {
            None => {
                let _ = writeln!(out, "{indent}{}", row.label);
            }
            Some((status, reason, generation, message)) => {
                let pad = width.saturating_sub(row.depth * 2 + row.label.len());
                let problem = is_problem(&row.label, status);
                let status_text = format!("{status:<7}");
                let status_text = match (color, problem) {
                    (false, _) => status_text,
                    (true, true) => format!("\x1b[31m{status_text}\x1b[0m"),
                    (true, false) => format!("\x1b[32m{status_text}\x1b[0m"),
                };
                let mut line = format!(
                    "{indent}{}{}  {status_text} {:<26} {generation}",
                    row.label,
                    " ".repeat(pad),
                    reason
                );
                if problem && !message.is_empty() {
                    let _ = write!(line, "  {message}");
                }
                let _ = writeln!(out, "{}", line.trim_end());
            }
        }
    }

    let others = summarize_core(inputs, shows);
    if !others.is_empty() {
        let _ = writeln!(out, "\nOther objects: {others}");
    }
    if !inputs.rejected.is_empty() {
        let _ = writeln!(out, "\nRejected ({}):", inputs.rejected.len());
        for (origin, rejection) in &inputs.rejected {
            let _ = writeln!(out, "  {origin}: {rejection}");
        }
    }
    if !inputs.not_found.is_empty() {
        let _ = writeln!(
            out,
            "\nRefused, namespace not found (--strict-namespaces) ({}):",
            inputs.not_found.len()
        );
        for (origin, message) in &inputs.not_found {
            let _ = writeln!(out, "  {origin}: {message}");
        }
    }
    let findings = findings(inputs, shows);
    if !findings.is_empty() {
        let _ = writeln!(out, "\nFindings ({}):", findings.len());
        for f in &findings {
            let _ = writeln!(out, "  {f}");
        }
    }
    let nothing =
        inputs.snapshot.is_empty() && inputs.rejected.is_empty() && inputs.not_found.is_empty();
    let ok = all_accepted && findings.is_empty();
    let _ = writeln!(
        out,
        "\n{}",
        if nothing {
            "No objects in the input."
        } else if ok {
            "All objects are valid and Accepted."
        } else if all_accepted {
            "Every object is valid and Accepted, but there are findings (above)."
        } else {
            "Some objects are rejected or not Accepted."
        }
    );
    (out, ok)
}

/// Whether a condition reports a problem: `Conflicted` (and the other negative-polarity
/// conditions) when True, every other condition when not True.
fn is_problem(condition_type: &str, status: &str) -> bool {
    match condition_type {
        "Conflicted" | "OverlappingTLSConfig" | "PartiallyInvalid" => status == "True",
        _ => status != "True",
    }
}

fn parent_label(
    kind: Option<&str>,
    namespace: Option<&str>,
    name: &str,
    section: Option<&str>,
    port: Option<&str>,
    controller: &str,
) -> String {
    let mut label = format!(
        "parent {} {}/{}",
        kind.unwrap_or("Gateway"),
        namespace.unwrap_or(""),
        name
    );
    if let Some(section) = section {
        let _ = write!(label, " section {section}");
    }
    if let Some(port) = port {
        let _ = write!(label, " port {port}");
    }
    if !controller.is_empty() {
        let _ = write!(label, " (controller {controller})");
    }
    label
}

/// Adds one row per condition; returns false when an `Accepted` condition is not True.
fn push_conditions(rows: &mut Vec<Row>, depth: usize, conditions: Option<&[Condition]>) -> bool {
    let mut accepted = true;
    let conditions = conditions.unwrap_or(&[]);
    if conditions.is_empty() {
        rows.push(Row {
            depth,
            label: "(no conditions: not reconciled by gwsim)".into(),
            condition: None,
        });
        return false;
    }
    for c in conditions {
        if c.type_ == "Accepted" && c.status != "True" {
            accepted = false;
        }
        rows.push(Row {
            depth,
            label: c.type_.clone(),
            condition: Some((
                c.status.clone(),
                c.reason.clone(),
                format!("gen {}", c.observed_generation.unwrap_or(0)),
                c.message.clone(),
            )),
        });
    }
    accepted
}

fn summarize_core(inputs: &Inputs, shows: &dyn Fn(&ObjectKey) -> bool) -> String {
    let mut counts: BTreeMap<Kind, usize> = BTreeMap::new();
    for object in inputs.snapshot.objects.values() {
        if !object.kind().has_gateway_status()
            && object.kind() != Kind::ReferenceGrant
            && shows(&object.key())
        {
            *counts.entry(object.kind()).or_default() += 1;
        }
    }
    counts
        .iter()
        .map(|(k, n)| format!("{n} {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every object `shows` lets through with its full status, as a `kind: List`, with a
/// `gwsim` field that carries what scripts need besides the objects: the stand-in, refused,
/// skipped and ignored documents with their reasons, warnings, objects given twice,
/// namespaces assumed, and findings.
///
/// Serialised as `{"apiVersion": "v1", "kind": "List", "items": [...], "gwsim": {...}}`
/// would be, each item converted to JSON only as it is written: the list is never one value
/// tree, so `-o json|yaml` of a large state costs memory for one object at a time.
pub fn objects_list<'a>(
    inputs: &'a Inputs,
    shows: &'a dyn Fn(&ObjectKey) -> bool,
) -> ObjectsList<'a> {
    ObjectsList { inputs, shows }
}

/// What [`objects_list`] returns: serialises to the List.
pub struct ObjectsList<'a> {
    inputs: &'a Inputs,
    shows: &'a dyn Fn(&ObjectKey) -> bool,
}

impl Serialize for ObjectsList<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let items: Vec<&Object> = self
            .inputs
            .snapshot
            .objects
            .values()
            .filter(|o| (self.shows)(&o.key()))
            .collect();
        let mut map = serializer.serialize_map(Some(4))?;
        map.serialize_entry("apiVersion", "v1")?;
        map.serialize_entry("kind", "List")?;
        map.serialize_entry("items", &Items(&items))?;
        map.serialize_entry("gwsim", &report_for(self.inputs, self.shows))?;
        map.end()
    }
}

/// The List's items, each as [`Object::to_value`] gives it, made when written.
struct Items<'a>(&'a [&'a Object]);

impl Serialize for Items<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for object in self.0 {
            seq.serialize_element(&object.to_value())?;
        }
        seq.end()
    }
}

/// The `gwsim` field of `-o yaml|json`.
pub fn report(inputs: &Inputs) -> Value {
    report_for(inputs, &|_| true)
}

/// [`report`] with the findings of the objects `shows` lets through (`-n`).
fn report_for(inputs: &Inputs, shows: &dyn Fn(&ObjectKey) -> bool) -> Value {
    let origin_list = |items: &[(gwsim_engine::load::Origin, String)], key: &str| -> Vec<Value> {
        items
            .iter()
            .map(|(origin, text)| json!({"origin": origin.to_string(), key: text}))
            .collect()
    };
    json!({
        "standIn": inputs.stand_in,
        "rejected": inputs.rejected.iter().map(|(origin, r)| json!({
            "origin": origin.to_string(),
            "message": r.to_string(),
            "causes": r.causes,
        })).collect::<Vec<_>>(),
        "notFound": origin_list(&inputs.not_found, "message"),
        "skipped": origin_list(&inputs.skipped, "reason"),
        "ignored": origin_list(&inputs.ignored, "object"),
        "warnings": inputs.warnings,
        "replaced": inputs.replaced.iter().map(|r| json!({
            "object": r.key,
            "earlier": r.earlier.to_string(),
            "wins": r.later.to_string(),
        })).collect::<Vec<_>>(),
        "assumedNamespaces": inputs.assumed_namespaces,
        "findings": findings(inputs, shows),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The List as one value, as `check -o json|yaml` built it before items were converted
    /// as they are written.
    fn whole_list(inputs: &Inputs, shows: &dyn Fn(&ObjectKey) -> bool) -> Value {
        let items: Vec<Value> = inputs
            .snapshot
            .objects
            .values()
            .filter(|o| shows(&o.key()))
            .map(Object::to_value)
            .collect();
        json!({
            "apiVersion": "v1",
            "kind": "List",
            "items": items,
            "gwsim": report_for(inputs, shows),
        })
    }

    #[test]
    fn the_streamed_list_serialises_as_the_whole_value() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let files = [
            root.join("testdata/golden/inputs/shop.yaml"),
            root.join("testdata/golden/inputs/invalid.yaml"),
        ];
        let inputs = crate::inputs::load_with(&files, &Default::default()).expect("inputs load");
        let everything = |_: &ObjectKey| true;
        let shop_only = |key: &ObjectKey| key.namespace.is_empty() || key.namespace == "shop";
        let nothing = |_: &ObjectKey| false;
        let shows: [&dyn Fn(&ObjectKey) -> bool; 3] = [&everything, &shop_only, &nothing];
        for shows in shows {
            let whole = whole_list(&inputs, shows);
            let streamed = objects_list(&inputs, shows);
            let json = serde_json::to_string_pretty(&streamed).expect("json");
            assert_eq!(json, serde_json::to_string_pretty(&whole).expect("json"));
            let yaml = serde_saphyr::to_string(&streamed).expect("yaml");
            assert_eq!(yaml, serde_saphyr::to_string(&whole).expect("yaml"));
        }
        // The comparison can fail: a list without its report differs.
        let mut cut = whole_list(&inputs, &everything);
        cut.as_object_mut().map(|m| m.remove("gwsim"));
        let streamed = serde_json::to_string_pretty(&objects_list(&inputs, &everything));
        assert_ne!(streamed.ok(), serde_json::to_string_pretty(&cut).ok());
    }
}
