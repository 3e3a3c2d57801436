//! `gwsim audit`: what the installed controller wrote (statuses in a `kubectl get -o yaml`
//! dump) against what a conforming controller writes (gwsim standing in for the class).
//!
//! Compared, per object and per condition: type, status, reason and observedGeneration; per
//! listener, attachedRoutes and supportedKinds; per route parent, its entry of the class's
//! controller. Messages are free text and never compared. Where the spec lets an
//! implementation choose (a reason of its own, extra condition types, addresses, supported
//! features), the difference is listed as the implementation's choice, not as a finding.
//! Pure: statuses in, rows and findings out.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use crate::config::GatewayConfig;
use crate::controller::{Reconciliation, StatusUpdate};
use crate::object::{GATEWAY_GROUP, Kind, ObjectKey, Snapshot};

/// A status found in the input (written by the installed controller), kept apart from the
/// statuses gwsim writes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InstalledStatus {
    /// Where the document came from: `dump.yaml:12 (document 3)`.
    pub origin: String,
    /// `status` as the document has it.
    pub status: Value,
}

/// Condition reasons the Gateway API defines (`apis/v1` constants). A reason outside this set
/// is the implementation's own, which the spec allows ("Controllers may raise this condition
/// with other reasons").
const API_REASONS: &[&str] = &[
    "Accepted",
    "AddressNotAssigned",
    "AddressNotUsable",
    "Attached",
    "BackendNotFound",
    "ConfigurationChanged",
    "Conflicted",
    "HostnameConflict",
    "IncompatibleFilters",
    "Invalid",
    "InvalidCACertificateKind",
    "InvalidCACertificateRef",
    "InvalidCertificateRef",
    "InvalidClientCertificateRef",
    "InvalidKind",
    "InvalidParameters",
    "InvalidRouteKinds",
    "ListenerConflict",
    "ListenersNotReady",
    "ListenersNotResolved",
    "ListenersNotValid",
    "NoConflicts",
    "NoMatchingListenerHostname",
    "NoMatchingParent",
    "NoResources",
    "NoValidCACertificate",
    "NotAllowed",
    "NotAllowedByListeners",
    "NotReconciled",
    "OverlappingCertificates",
    "OverlappingHostnames",
    "ParentNotAccepted",
    "ParentNotProgrammed",
    "Pending",
    "PortUnavailable",
    "Programmed",
    "ProtocolConflict",
    "Ready",
    "RefNotPermitted",
    "ResolvedRefs",
    "Scheduled",
    "SupportedVersion",
    "TargetNotFound",
    "TooManyListeners",
    "Unsupported",
    "UnsupportedAddress",
    "UnsupportedProtocol",
    "UnsupportedValue",
    "UnsupportedVersion",
    "Waiting",
];

/// Condition types whose True is the abnormal state: leaving them out is not wrong.
const NEGATIVE_POLARITY: &[&str] = &["Conflicted", "OverlappingTLSConfig", "PartiallyInvalid"];

/// How one compared value came out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Verdict {
    Agree,
    /// A finding: the installed controller is wrong or behind.
    Finding,
    /// Differs where the spec lets the implementation choose.
    ImplementationChoice,
    /// Not compared (the installed controller has no entry and gwsim writes none either).
    NotCompared,
}

/// One line of the side-by-side comparison.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditRow {
    /// Where in the status: empty for the object's own conditions, `listener http`,
    /// `parent Gateway infra/eg section http`.
    pub scope: String,
    /// A condition type, `attachedRoutes` or `supportedKinds`.
    pub field: String,
    /// What the installed controller wrote (`True Accepted gen 2`), if anything.
    pub installed: Option<String>,
    /// What a conforming controller writes.
    pub conforming: Option<String>,
    pub verdict: Verdict,
    /// Why, in a few words, when the verdict is not `Agree`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub note: String,
}

/// One object's comparison.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ObjectAudit {
    pub object: ObjectKey,
    pub generation: i64,
    /// Where the installed status came from; `None` when the input has none for the object.
    pub installed_origin: Option<String>,
    pub rows: Vec<AuditRow>,
    /// Findings in plain words, one per problem.
    pub findings: Vec<String>,
    /// Differences the spec allows, in plain words.
    pub choices: Vec<String>,
}

/// The whole audit, objects in key order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Audit {
    pub objects: Vec<ObjectAudit>,
    pub findings: usize,
    pub choices: usize,
}

impl Audit {
    /// Whether the installed controller and a conforming one agree.
    pub fn agrees(&self) -> bool {
        self.findings == 0
    }
}

/// Compares the installed statuses with gwsim's reconciliation of the same snapshot (gwsim
/// standing in for the classes). Objects neither side has a status for are left out.
pub fn audit(
    snapshot: &Snapshot,
    reconciliation: &Reconciliation,
    installed: &BTreeMap<ObjectKey, InstalledStatus>,
) -> Audit {
    let mut keys: BTreeSet<&ObjectKey> = installed.keys().collect();
    keys.extend(reconciliation.statuses.keys());
    let mut objects = Vec::new();
    for key in keys {
        let Some(object) = snapshot.get(key) else {
            continue;
        };
        let conforming = reconciliation.statuses.get(key).map(status_value);
        let installed_status = installed.get(key);
        let mut audit = ObjectAudit {
            object: key.clone(),
            generation: object.generation(),
            installed_origin: installed_status.map(|i| i.origin.clone()),
            rows: Vec::new(),
            findings: Vec::new(),
            choices: Vec::new(),
        };
        let Some(conforming) = conforming else {
            audit.choices.push(format!(
                "{key}: gwsim does not stand in for its class here: its status is not compared"
            ));
            objects.push(audit);
            continue;
        };
        let theirs = installed_status.map(|i| &i.status);
        let mut cx = Compare {
            audit: &mut audit,
            generation: object.generation(),
        };
        match key.kind {
            Kind::GatewayClass => {
                cx.conditions("", theirs, &conforming);
                cx.audit.choices.push(
                    "supportedFeatures: each implementation lists its own (not compared)".into(),
                );
            }
            Kind::Gateway | Kind::ListenerSet => {
                cx.conditions("", theirs, &conforming);
                cx.listeners(theirs, &conforming);
                if key.kind == Kind::Gateway {
                    cx.audit
                        .choices
                        .push("addresses: assigned by the implementation (not compared)".into());
                }
            }
            Kind::HttpRoute | Kind::GrpcRoute => {
                cx.parents(key, theirs, &conforming, &reconciliation.gateways);
            }
            _ => {}
        }
        if installed_status.is_none() {
            audit.findings.insert(
                0,
                format!("{key}: the installed controller wrote no status (is it running, and does it own this class?)"),
            );
        }
        objects.push(audit);
    }
    let findings = objects.iter().map(|o| o.findings.len()).sum();
    let choices = objects.iter().map(|o| o.choices.len()).sum();
    Audit {
        objects,
        findings,
        choices,
    }
}

fn status_value(update: &StatusUpdate) -> Value {
    let value = match update {
        StatusUpdate::GatewayClass(s) => serde_json::to_value(s),
        StatusUpdate::Gateway(s) => serde_json::to_value(s),
        StatusUpdate::ListenerSet(s) => serde_json::to_value(s),
        StatusUpdate::HttpRoute(s) => serde_json::to_value(s),
        StatusUpdate::GrpcRoute(s) => serde_json::to_value(s),
        StatusUpdate::TlsRoute(s) => serde_json::to_value(s),
        StatusUpdate::TcpRoute(s) => serde_json::to_value(s),
        StatusUpdate::UdpRoute(s) => serde_json::to_value(s),
        StatusUpdate::BackendTlsPolicy(s) => serde_json::to_value(s),
    };
    value.unwrap_or(Value::Null)
}

/// One condition as compared: status, reason, observedGeneration.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Cond {
    status: String,
    reason: String,
    observed: Option<i64>,
}

impl Cond {
    fn show(&self) -> String {
        match self.observed {
            Some(g) => format!("{} {} gen {g}", self.status, self.reason),
            None => format!("{} {}", self.status, self.reason),
        }
    }
}

fn conditions_of(status: Option<&Value>) -> Vec<(String, Cond)> {
    let items = status
        .and_then(|s| s.get("conditions"))
        .and_then(Value::as_array);
    items
        .into_iter()
        .flatten()
        .map(|c| {
            let text = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            (
                text("type"),
                Cond {
                    status: text("status"),
                    reason: text("reason"),
                    observed: c.get("observedGeneration").and_then(Value::as_i64),
                },
            )
        })
        .collect()
}

struct Compare<'a> {
    audit: &'a mut ObjectAudit,
    generation: i64,
}

impl Compare<'_> {
    fn where_(&self, scope: &str) -> String {
        if scope.is_empty() {
            self.audit.object.to_string()
        } else {
            format!("{} {scope}", self.audit.object)
        }
    }

    /// The conditions of one scope. `theirs` is `None` when the installed controller wrote
    /// nothing for the scope.
    fn conditions(&mut self, scope: &str, theirs: Option<&Value>, ours: &Value) {
        let theirs_list = conditions_of(theirs);
        let ours_list = conditions_of(Some(ours));
        let at = self.where_(scope);
        for (kind, want) in &ours_list {
            let got = theirs_list.iter().find(|(t, _)| t == kind).map(|(_, c)| c);
            let mut row = AuditRow {
                scope: scope.to_string(),
                field: kind.clone(),
                installed: got.map(Cond::show),
                conforming: Some(want.show()),
                verdict: Verdict::Agree,
                note: String::new(),
            };
            match got {
                // A negative-polarity condition left out reads as False ("abnormal-true"
                // conditions need not be written while they do not hold).
                None if NEGATIVE_POLARITY.contains(&kind.as_str()) && want.status == "False" => {
                    row.verdict = Verdict::ImplementationChoice;
                    row.note = "not written; reads as False".into();
                    if theirs.is_some() {
                        self.audit.choices.push(format!(
                            "{at}: condition {kind} is not written, which reads as False (a conforming controller may write False {})",
                            want.reason
                        ));
                    }
                }
                None => {
                    row.verdict = Verdict::Finding;
                    row.note = "missing".into();
                    if theirs.is_some() {
                        self.audit.findings.push(format!(
                            "{at}: condition {kind} is missing (a conforming controller writes {})",
                            want.show()
                        ));
                    }
                }
                Some(got) => self.condition(&at, kind, got, want, &mut row),
            }
            self.audit.rows.push(row);
        }
        for (kind, got) in &theirs_list {
            if ours_list.iter().any(|(t, _)| t == kind) {
                continue;
            }
            self.audit.rows.push(AuditRow {
                scope: scope.to_string(),
                field: kind.clone(),
                installed: Some(got.show()),
                conforming: None,
                verdict: Verdict::ImplementationChoice,
                note: "a condition type of the implementation's own".into(),
            });
            self.audit.choices.push(format!(
                "{at}: condition {kind} is the implementation's own (the spec allows extra condition types)"
            ));
        }
    }

    fn condition(&mut self, at: &str, kind: &str, got: &Cond, want: &Cond, row: &mut AuditRow) {
        let mut notes = Vec::new();
        let mut finding = false;
        if got.status != want.status {
            finding = true;
            notes.push(format!("status {} (should be {})", got.status, want.status));
            if kind == "Accepted" && got.status == "True" && self.is_route() {
                self.audit.findings.push(format!(
                    "{at}: marked Accepted but cannot receive traffic: a conforming controller writes Accepted {} {}",
                    want.status, want.reason
                ));
            } else {
                self.audit.findings.push(format!(
                    "{at}: {kind} is {} {} where a conforming controller writes {} {}",
                    got.status, got.reason, want.status, want.reason
                ));
            }
        } else if got.reason != want.reason {
            if API_REASONS.contains(&got.reason.as_str()) {
                finding = true;
                notes.push(format!("wrong reason (should be {})", want.reason));
                self.audit.findings.push(format!(
                    "{at}: {kind} {} has reason {} where the API's reason is {}",
                    got.status, got.reason, want.reason
                ));
            } else {
                notes.push("the implementation's own reason".into());
                row.verdict = Verdict::ImplementationChoice;
                self.audit.choices.push(format!(
                    "{at}: {kind} reason {} is the implementation's own (the API's is {}; the spec allows other reasons)",
                    got.reason, want.reason
                ));
            }
        }
        if let Some(observed) = got.observed
            && observed < self.generation
        {
            finding = true;
            notes.push(format!(
                "stale: observedGeneration {observed} < generation {}",
                self.generation
            ));
            self.audit.findings.push(format!(
                "{at}: {kind} is stale: observedGeneration {observed} is behind generation {}",
                self.generation
            ));
        } else if got.observed.is_none() {
            finding = true;
            notes.push("no observedGeneration".into());
            self.audit
                .findings
                .push(format!("{at}: {kind} has no observedGeneration"));
        }
        if finding {
            row.verdict = Verdict::Finding;
        }
        row.note = notes.join("; ");
    }

    fn is_route(&self) -> bool {
        matches!(self.audit.object.kind, Kind::HttpRoute | Kind::GrpcRoute)
    }

    /// Listener entries of a Gateway or ListenerSet, by name.
    fn listeners(&mut self, theirs: Option<&Value>, ours: &Value) {
        let entries = |v: Option<&Value>| -> Vec<Value> {
            v.and_then(|s| s.get("listeners"))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        };
        let theirs_list = entries(theirs);
        for listener in entries(Some(ours)) {
            let name = listener.get("name").and_then(Value::as_str).unwrap_or("");
            let scope = format!("listener {name}");
            let at = self.where_(&scope);
            let got = theirs_list
                .iter()
                .find(|l| l.get("name").and_then(Value::as_str) == Some(name));
            if got.is_none() && theirs.is_some() {
                self.audit
                    .findings
                    .push(format!("{at}: no status entry for the listener"));
            }
            let attached = |v: &Value| v.get("attachedRoutes").and_then(Value::as_i64);
            let (want, have) = (attached(&listener), got.and_then(attached));
            let agree = want == have;
            if !agree && got.is_some() {
                self.audit.findings.push(format!(
                    "{at}: attachedRoutes {} where a conforming controller counts {}",
                    show_opt(have),
                    show_opt(want)
                ));
            }
            self.audit.rows.push(AuditRow {
                scope: scope.clone(),
                field: "attachedRoutes".into(),
                installed: have.map(|n| n.to_string()),
                conforming: want.map(|n| n.to_string()),
                verdict: if agree {
                    Verdict::Agree
                } else {
                    Verdict::Finding
                },
                note: String::new(),
            });
            let (want, have) = (kinds(Some(&listener)), got.map(|g| kinds(Some(g))));
            let agree = have.as_ref() == Some(&want);
            if !agree && let Some(have) = &have {
                self.audit.findings.push(format!(
                    "{at}: supportedKinds [{}] where a conforming controller lists [{}]",
                    have.iter().cloned().collect::<Vec<_>>().join(", "),
                    want.iter().cloned().collect::<Vec<_>>().join(", ")
                ));
            }
            self.audit.rows.push(AuditRow {
                scope: scope.clone(),
                field: "supportedKinds".into(),
                installed: have.map(|k| k.into_iter().collect::<Vec<_>>().join(", ")),
                conforming: Some(want.into_iter().collect::<Vec<_>>().join(", ")),
                verdict: if agree {
                    Verdict::Agree
                } else {
                    Verdict::Finding
                },
                note: String::new(),
            });
            self.conditions(&scope, got, &listener);
        }
    }

    /// Route parent entries: ours matched to theirs by controllerName and parentRef.
    fn parents(
        &mut self,
        key: &ObjectKey,
        theirs: Option<&Value>,
        ours: &Value,
        gateways: &[GatewayConfig],
    ) {
        let entries = |v: Option<&Value>| -> Vec<Value> {
            v.and_then(|s| s.get("parents"))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        };
        let theirs_list = entries(theirs);
        let ours_list = entries(Some(ours));
        let mut matched = vec![false; theirs_list.len()];
        for parent in &ours_list {
            let controller = parent
                .get("controllerName")
                .and_then(Value::as_str)
                .unwrap_or("");
            let reference = parent_ref(parent.get("parentRef"), &key.namespace);
            let scope = format!("parent {}", describe_ref(&reference));
            let found = theirs_list.iter().enumerate().find(|(_, t)| {
                t.get("controllerName").and_then(Value::as_str) == Some(controller)
                    && parent_ref(t.get("parentRef"), &key.namespace) == reference
            });
            if let Some((i, _)) = found {
                matched[i] = true;
            } else if theirs.is_some() {
                self.audit.findings.push(format!(
                    "{}: no status entry of controller {controller} for this parent",
                    self.where_(&scope)
                ));
            }
            self.conditions(&scope, found.map(|(_, t)| t), parent);
            self.unreachable(&scope, found.map(|(_, t)| t), key, &reference, gateways);
        }
        let ours_controllers: BTreeSet<&str> = ours_list
            .iter()
            .filter_map(|p| p.get("controllerName").and_then(Value::as_str))
            .collect();
        for (i, t) in theirs_list.iter().enumerate() {
            if matched[i] {
                continue;
            }
            let controller = t
                .get("controllerName")
                .and_then(Value::as_str)
                .unwrap_or("");
            let reference = parent_ref(t.get("parentRef"), &key.namespace);
            let at = self.where_(&format!("parent {}", describe_ref(&reference)));
            if ours_controllers.contains(controller) {
                self.audit.findings.push(format!(
                    "{at}: an entry of controller {controller} for a parent the route does not name"
                ));
            } else {
                self.audit.choices.push(format!(
                    "{at}: an entry of controller {controller}, whose class gwsim does not stand in for (not compared)"
                ));
            }
        }
    }

    /// A parent the installed controller marks Accepted, that a conforming controller accepts
    /// too, but where the route has no listener that serves traffic.
    fn unreachable(
        &mut self,
        scope: &str,
        theirs: Option<&Value>,
        key: &ObjectKey,
        reference: &ParentRef,
        gateways: &[GatewayConfig],
    ) {
        let accepted = conditions_of(theirs)
            .into_iter()
            .any(|(t, c)| t == "Accepted" && c.status == "True");
        if !accepted || reference.group != GATEWAY_GROUP || reference.kind != "Gateway" {
            return;
        }
        let Some(gateway) = gateways
            .iter()
            .find(|g| g.key.namespace == reference.namespace && g.key.name == reference.name)
        else {
            return;
        };
        let on: Vec<_> = gateway
            .listeners
            .iter()
            .filter(|l| {
                l.routes.iter().any(|a| a.route.key == *key)
                    && reference.section_name.as_ref().is_none_or(|s| *s == l.name)
            })
            .collect();
        if !on.is_empty() && on.iter().all(|l| !l.usable) {
            self.audit.findings.push(format!(
                "{}: marked Accepted but cannot receive traffic: every listener it attaches to is not serving: {}",
                self.where_(scope),
                crate::config::unusable_listeners(&on)
            ));
        }
    }
}

fn show_opt(n: Option<i64>) -> String {
    n.map_or_else(|| "(none)".to_string(), |n| n.to_string())
}

/// `supportedKinds` as a set of `group/kind` (group omitted for the Gateway API group).
fn kinds(listener: Option<&Value>) -> BTreeSet<String> {
    listener
        .and_then(|l| l.get("supportedKinds"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|k| {
            let kind = k.get("kind").and_then(Value::as_str).unwrap_or("");
            match k.get("group").and_then(Value::as_str) {
                None | Some(GATEWAY_GROUP) => kind.to_string(),
                Some(group) => format!("{group}/{kind}"),
            }
        })
        .collect()
}

/// A parentRef with the API's defaults applied, for matching entries.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ParentRef {
    group: String,
    kind: String,
    namespace: String,
    name: String,
    section_name: Option<String>,
    port: Option<i64>,
}

fn parent_ref(value: Option<&Value>, route_namespace: &str) -> ParentRef {
    let text = |k: &str| {
        value
            .and_then(|v| v.get(k))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    ParentRef {
        group: text("group").unwrap_or_else(|| GATEWAY_GROUP.to_string()),
        kind: text("kind").unwrap_or_else(|| "Gateway".to_string()),
        namespace: text("namespace").unwrap_or_else(|| route_namespace.to_string()),
        name: text("name").unwrap_or_default(),
        section_name: text("sectionName"),
        port: value.and_then(|v| v.get("port")).and_then(Value::as_i64),
    }
}

fn describe_ref(r: &ParentRef) -> String {
    let mut out = format!("{} {}/{}", r.kind, r.namespace, r.name);
    if let Some(s) = &r.section_name {
        out.push_str(&format!(" section {s}"));
    }
    if let Some(p) = r.port {
        out.push_str(&format!(" port {p}"));
    }
    out
}

/// The audit for people: per object, a side-by-side table, then findings and the
/// implementation's choices; last, a summary line.
pub fn render_text(audit: &Audit) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for object in &audit.objects {
        let origin = object.installed_origin.as_deref().map_or_else(
            || "no installed status".to_string(),
            |o| format!("installed status from {o}"),
        );
        let _ = writeln!(
            out,
            "{} (generation {}; {origin})",
            object.object, object.generation
        );
        if !object.rows.is_empty() {
            let label = |r: &AuditRow| {
                if r.scope.is_empty() {
                    format!("  {}", r.field)
                } else {
                    format!("  {} {}", r.scope, r.field)
                }
            };
            let width = object
                .rows
                .iter()
                .map(|r| label(r).len())
                .max()
                .unwrap_or(0);
            let installed_width = object
                .rows
                .iter()
                .map(|r| r.installed.as_deref().unwrap_or("-").len())
                .max()
                .unwrap_or(0)
                .max("installed".len());
            let conforming_width = object
                .rows
                .iter()
                .map(|r| r.conforming.as_deref().unwrap_or("-").len())
                .max()
                .unwrap_or(0)
                .max("conforming".len());
            let head = format!(
                "{:width$}  {:installed_width$}  {:conforming_width$}",
                "", "installed", "conforming"
            );
            let _ = writeln!(out, "{}", head.trim_end());
            for row in &object.rows {
                let mark = match row.verdict {
                    Verdict::Agree => "",
                    Verdict::Finding => "✗ ",
                    Verdict::ImplementationChoice => "~ ",
                    Verdict::NotCompared => "",
                };
                let line = format!(
                    "{:width$}  {:installed_width$}  {:conforming_width$}  {mark}{}",
                    label(row),
                    row.installed.as_deref().unwrap_or("-"),
                    row.conforming.as_deref().unwrap_or("-"),
                    row.note
                );
                let _ = writeln!(out, "{}", line.trim_end());
            }
        }
        for f in &object.findings {
            let _ = writeln!(out, "  ✗ {f}");
        }
        for c in &object.choices {
            let _ = writeln!(out, "  ~ {c}");
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "{} finding{}; {} difference{} the spec leaves to the implementation.",
        audit.findings,
        if audit.findings == 1 { "" } else { "s" },
        audit.choices,
        if audit.choices == 1 { "" } else { "s" },
    );
    let _ = writeln!(
        out,
        "{}",
        if audit.agrees() {
            "The installed controller agrees with a conforming controller."
        } else {
            "The installed controller disagrees with a conforming controller."
        }
    );
    out
}

#[cfg(test)]
mod tests {
    use k8s_openapi::jiff::Timestamp;

    use super::*;
    use crate::admission::admit;
    use crate::controller::{ControllerConfig, reconcile, standin};

    const STATE: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: eg
  listeners: [{name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: shop}
spec:
  parentRefs: [{name: gw, namespace: infra}]
  rules: [{backendRefs: [{name: missing, port: 80}]}]
"#;

    /// The state reconciled by the stand-in, and gwsim's own statuses as "installed".
    fn setup() -> (
        Snapshot,
        Reconciliation,
        BTreeMap<ObjectKey, InstalledStatus>,
    ) {
        let mut s = Snapshot::new();
        for doc in STATE.split("\n---\n").filter(|d| !d.trim().is_empty()) {
            let value: Value = serde_saphyr::from_str(doc).expect("YAML");
            s.insert(admit(&value, None).expect("admitted"));
        }
        let config = ControllerConfig::stand_in(standin::plan(&s, &[]));
        let now = Timestamp::from_second(1_700_000_000).expect("time");
        let r = reconcile(&s, &config, now);
        let installed = r
            .statuses
            .iter()
            .map(|(k, st)| {
                (
                    k.clone(),
                    InstalledStatus {
                        origin: "dump.yaml".into(),
                        status: status_value(st),
                    },
                )
            })
            .collect();
        (s, r, installed)
    }

    fn route_condition<'a>(
        installed: &'a mut BTreeMap<ObjectKey, InstalledStatus>,
        kind: &str,
    ) -> &'a mut Value {
        let key = ObjectKey::new(Kind::HttpRoute, "shop", "web");
        let conditions = installed
            .get_mut(&key)
            .and_then(|i| i.status.pointer_mut("/parents/0/conditions"))
            .and_then(Value::as_array_mut)
            .expect("route conditions");
        conditions
            .iter_mut()
            .find(|c| c["type"] == kind)
            .expect("condition")
    }

    #[test]
    fn identical_statuses_agree() {
        let (s, r, installed) = setup();
        let audit = audit(&s, &r, &installed);
        assert!(audit.agrees(), "{}", render_text(&audit));
    }

    #[test]
    fn a_stale_condition_is_a_finding() {
        let (mut s, r, mut installed) = setup();
        // The object moved on to generation 2; the installed controller still says 1.
        let key = ObjectKey::new(Kind::HttpRoute, "shop", "web");
        if let Some(o) = s.objects.get_mut(&key) {
            o.meta_mut().generation = Some(2);
        }
        let _ = &mut installed;
        let audit = audit(&s, &r, &installed);
        assert!(!audit.agrees());
        let text = render_text(&audit);
        assert!(
            text.contains("is stale: observedGeneration 1 is behind generation 2"),
            "{text}"
        );
    }

    #[test]
    fn resolved_refs_true_for_a_missing_backend_is_a_finding() {
        let (s, r, mut installed) = setup();
        let c = route_condition(&mut installed, "ResolvedRefs");
        c["status"] = "True".into();
        c["reason"] = "ResolvedRefs".into();
        let audit = audit(&s, &r, &installed);
        assert_eq!(audit.findings, 1, "{}", render_text(&audit));
    }

    #[test]
    fn an_api_reason_that_differs_is_wrong_and_an_own_reason_is_a_choice() {
        let (s, r, mut installed) = setup();
        route_condition(&mut installed, "ResolvedRefs")["reason"] = "InvalidKind".into();
        let wrong = audit(&s, &r, &installed);
        assert_eq!(wrong.findings, 1, "{}", render_text(&wrong));

        route_condition(&mut installed, "ResolvedRefs")["reason"] = "ServiceMissing".into();
        let own = audit(&s, &r, &installed);
        assert!(own.agrees(), "{}", render_text(&own));
        assert!(render_text(&own).contains("the implementation's own"));
    }

    #[test]
    fn a_missing_condition_is_a_finding_but_a_missing_conflicted_false_is_not() {
        let (s, r, mut installed) = setup();
        let gateway = ObjectKey::new(Kind::Gateway, "infra", "gw");
        let listener_conditions = installed
            .get_mut(&gateway)
            .and_then(|i| i.status.pointer_mut("/listeners/0/conditions"))
            .and_then(Value::as_array_mut)
            .expect("listener conditions");
        listener_conditions.retain(|c| c["type"] != "Conflicted");
        assert!(audit(&s, &r, &installed).agrees());

        let listener_conditions = installed
            .get_mut(&gateway)
            .and_then(|i| i.status.pointer_mut("/listeners/0/conditions"))
            .and_then(Value::as_array_mut)
            .expect("listener conditions");
        listener_conditions.retain(|c| c["type"] != "ResolvedRefs");
        assert_eq!(audit(&s, &r, &installed).findings, 1);
    }

    #[test]
    fn attached_routes_that_differ_are_a_finding() {
        let (s, r, mut installed) = setup();
        let gateway = ObjectKey::new(Kind::Gateway, "infra", "gw");
        if let Some(v) = installed
            .get_mut(&gateway)
            .and_then(|i| i.status.pointer_mut("/listeners/0/attachedRoutes"))
        {
            *v = 3.into();
        }
        let audit = audit(&s, &r, &installed);
        assert_eq!(audit.findings, 1, "{}", render_text(&audit));
    }
}
