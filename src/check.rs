//! `gwsim check`: objects, their conditions, rejections and ignored documents.

use std::collections::BTreeMap;
use std::fmt::Write;

use gwsim_engine::object::{Kind, Object};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

use crate::inputs::Inputs;

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

/// The table for people. Returns the text and whether everything is valid and Accepted.
pub fn render_table(inputs: &Inputs) -> (String, bool) {
    let mut rows = Vec::new();
    let mut all_accepted = inputs.rejected.is_empty();
    for object in inputs.snapshot.objects.values() {
        if !object.kind().has_gateway_status() && object.kind() != Kind::ReferenceGrant {
            continue;
        }
        let key = object.key();
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
            Object::HttpRoute(_) | Object::GrpcRoute(_) => {
                // Both route kinds share the parent status shape; read it generically.
                let value = object.to_value();
                let parents = value.pointer("/status/parents").and_then(|p| p.as_array());
                for parent in parents.into_iter().flatten() {
                    let field = |name: &str| {
                        parent
                            .pointer(&format!("/parentRef/{name}"))
                            .map(|v| v.to_string().trim_matches('"').to_string())
                    };
                    let controller = parent
                        .get("controllerName")
                        .and_then(|c| c.as_str())
                        .unwrap_or("");
                    rows.push(Row {
                        depth: 1,
                        label: parent_label(
                            field("kind").as_deref(),
                            field("namespace").as_deref(),
                            field("name").as_deref().unwrap_or(""),
                            field("sectionName").as_deref(),
                            field("port").as_deref(),
                            controller,
                        ),
                        condition: None,
                    });
                    let conditions: Vec<Condition> = parent
                        .get("conditions")
                        .and_then(|c| serde_json::from_value(c.clone()).ok())
                        .unwrap_or_default();
                    all_accepted &= push_conditions(&mut rows, 2, Some(&conditions));
                }
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
                let mut line = format!(
                    "{indent}{}{}  {:<7} {:<26} {generation}",
                    row.label,
                    " ".repeat(pad),
                    status,
                    reason
                );
                if is_problem(&row.label, status) && !message.is_empty() {
                    let _ = write!(line, "  {message}");
                }
                let _ = writeln!(out, "{}", line.trim_end());
            }
        }
    }

    let others = summarize_core(inputs);
    if !others.is_empty() {
        let _ = writeln!(out, "\nOther objects: {others}");
    }
    if !inputs.rejected.is_empty() {
        let _ = writeln!(out, "\nRejected ({}):", inputs.rejected.len());
        for (origin, rejection) in &inputs.rejected {
            let _ = writeln!(out, "  {origin}: {rejection}");
        }
    }
    if !inputs.ignored.is_empty() {
        let _ = writeln!(
            out,
            "\nIgnored, not a kind gwsim models ({}):",
            inputs.ignored.len()
        );
        for (origin, what) in &inputs.ignored {
            let _ = writeln!(out, "  {origin}: {what}");
        }
    }
    let nothing = inputs.snapshot.is_empty() && inputs.rejected.is_empty();
    let _ = writeln!(
        out,
        "\n{}",
        if nothing {
            "No objects in the input."
        } else if all_accepted {
            "All objects are valid and Accepted."
        } else {
            "Some objects are rejected or not Accepted."
        }
    );
    (out, all_accepted)
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
    if controller != gwsim_engine::controller::CONTROLLER_NAME {
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

fn summarize_core(inputs: &Inputs) -> String {
    let mut counts: BTreeMap<Kind, usize> = BTreeMap::new();
    for object in inputs.snapshot.objects.values() {
        if !object.kind().has_gateway_status() && object.kind() != Kind::ReferenceGrant {
            *counts.entry(object.kind()).or_default() += 1;
        }
    }
    counts
        .iter()
        .map(|(k, n)| format!("{n} {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every object with its full status, as one YAML stream or a JSON list.
pub fn render_objects(inputs: &Inputs, json: bool) -> anyhow::Result<String> {
    let values: Vec<serde_json::Value> = inputs
        .snapshot
        .objects
        .values()
        .map(Object::to_value)
        .collect();
    if json {
        let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": values});
        return Ok(serde_json::to_string_pretty(&list)? + "\n");
    }
    let mut out = String::new();
    for value in &values {
        out.push_str("---\n");
        out.push_str(&serde_saphyr::to_string(value)?);
    }
    Ok(out)
}
