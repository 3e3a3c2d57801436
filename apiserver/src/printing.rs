//! Server-side printing: `meta.k8s.io/v1` `Table` responses, as kubectl asks for them.
//!
//! Gateway API kinds use their CRDs' `additionalPrinterColumns` (a JSONPath per column; as
//! kube-apiserver does for custom resources, only the first result is printed, and a string
//! column holding a list prints it as JSON). Core kinds use the columns kube-apiserver prints.

use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};

use crate::resources::{Cell, Column, Resource};

/// A Table of `objects` (full object JSON). `now` is the wall clock, for ages.
pub fn table(
    resource: &Resource,
    objects: &[Value],
    resource_version: u64,
    now: Timestamp,
) -> Value {
    let mut definitions = vec![json!({
        "name": "Name", "type": "string", "format": "name", "priority": 0,
        "description": "Name must be unique within a namespace.",
    })];
    for c in resource.columns {
        definitions.push(json!({
            "name": c.name, "type": c.type_, "format": "", "priority": c.priority,
            "description": c.name,
        }));
    }
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| row(resource.columns, o, now))
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version.to_string()},
        "columnDefinitions": definitions,
        "rows": rows,
    })
}

fn row(columns: &[Column], object: &Value, now: Timestamp) -> Value {
    let mut cells = vec![
        object
            .pointer("/metadata/name")
            .cloned()
            .unwrap_or(Value::Null),
    ];
    for c in columns {
        cells.push(match c.cell {
            Cell::Path(path) => path_cell(object, path),
            Cell::Age => age_cell(object, now),
            Cell::Computed(f) => f(object),
        });
    }
    json!({
        "cells": cells,
        "object": {
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": object.get("metadata").cloned().unwrap_or(json!({})),
        },
    })
}

fn age_cell(object: &Value, now: Timestamp) -> Value {
    let Some(created) = object
        .pointer("/metadata/creationTimestamp")
        .and_then(Value::as_str)
        .and_then(|t| t.parse::<Timestamp>().ok())
    else {
        return json!("<unknown>");
    };
    let seconds = now.as_second() - created.as_second();
    json!(human_duration(seconds))
}

/// kube-apiserver's `duration.HumanDuration`: `45s`, `3m20s`, `15m`, `5h10m`, `3d4h`, `2y10d`.
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    if seconds < 120 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let d = (hours / 24) % 365;
        return if d == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{d}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// The first result of a CRD printer-column JSONPath, printed as kube-apiserver does: a
/// string as is, anything else as JSON; no result is `null` (kubectl prints `<none>`).
fn path_cell(object: &Value, path: &str) -> Value {
    match eval_path(object, path).into_iter().next() {
        None | Some(Value::Null) => Value::Null,
        Some(Value::String(s)) => Value::String(s.clone()),
        Some(other) => Value::String(other.to_string()),
    }
}

/// The subset of JSONPath printer columns use: `.a.b`, `[*]`, `[N]` and
/// `[?(@.key=="value")]` filters.
pub fn eval_path<'a>(root: &'a Value, path: &str) -> Vec<&'a Value> {
    let mut current = vec![root];
    let mut rest = path;
    while !rest.is_empty() {
        let mut next = Vec::new();
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            let name = &after[..end];
            for v in &current {
                if let Some(found) = v.get(name) {
                    next.push(found);
                }
            }
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let Some(end) = after.find(']') else {
                return Vec::new();
            };
            let selector = &after[..end];
            rest = &after[end + 1..];
            for v in &current {
                let Some(items) = v.as_array() else { continue };
                if selector == "*" {
                    next.extend(items.iter());
                } else if let Ok(i) = selector.parse::<usize>() {
                    next.extend(items.get(i));
                } else if let Some((key, want)) = parse_filter(selector) {
                    next.extend(
                        items
                            .iter()
                            .filter(|item| item.get(key).and_then(Value::as_str) == Some(want)),
                    );
                }
            }
        } else {
            return Vec::new();
        }
        current = next;
    }
    current
}

/// `?(@.type=="Accepted")` → (`type`, `Accepted`).
fn parse_filter(selector: &str) -> Option<(&str, &str)> {
    let inner = selector.strip_prefix("?(@.")?.strip_suffix(')')?;
    let (key, value) = inner.split_once("==")?;
    Some((key, value.trim_matches('"')))
}

fn none_if_empty(parts: Vec<String>) -> Value {
    if parts.is_empty() {
        json!("<none>")
    } else {
        json!(parts.join(","))
    }
}

pub fn external_ips(o: &Value) -> Value {
    let mut ips: Vec<String> = o
        .pointer("/spec/externalIPs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    for ingress in o
        .pointer("/status/loadBalancer/ingress")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(ip) = ingress.get("ip").and_then(Value::as_str) {
            ips.push(ip.to_string());
        }
    }
    none_if_empty(ips)
}

pub fn service_ports(o: &Value) -> Value {
    let ports: Vec<String> = o
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|p| {
            let port = p.get("port").and_then(Value::as_i64).unwrap_or(0);
            let proto = p.get("protocol").and_then(Value::as_str).unwrap_or("TCP");
            match p.get("nodePort").and_then(Value::as_i64) {
                Some(node) => format!("{port}:{node}/{proto}"),
                None => format!("{port}/{proto}"),
            }
        })
        .collect();
    none_if_empty(ports)
}

pub fn service_selector(o: &Value) -> Value {
    let parts: Vec<String> = o
        .pointer("/spec/selector")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect();
    none_if_empty(parts)
}

pub fn pod_ready(o: &Value) -> Value {
    let containers = o
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let ready = o
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|c| c.get("ready").and_then(Value::as_bool) == Some(true))
        .count();
    json!(format!("{ready}/{containers}"))
}

pub fn pod_restarts(o: &Value) -> Value {
    let restarts: i64 = o
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("restartCount").and_then(Value::as_i64))
        .sum();
    json!(restarts)
}

pub fn data_count(o: &Value) -> Value {
    let count = ["data", "binaryData", "stringData"]
        .iter()
        .filter_map(|k| o.get(*k).and_then(Value::as_object))
        .map(serde_json::Map::len)
        .sum::<usize>();
    json!(count)
}

fn int_at(o: &Value, pointer: &str) -> i64 {
    o.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

pub fn deployment_ready(o: &Value) -> Value {
    let wanted = o
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    json!(format!("{}/{wanted}", int_at(o, "/status/readyReplicas")))
}

pub fn deployment_updated(o: &Value) -> Value {
    json!(int_at(o, "/status/updatedReplicas"))
}

pub fn deployment_available(o: &Value) -> Value {
    json!(int_at(o, "/status/availableReplicas"))
}

pub fn slice_ports(o: &Value) -> Value {
    let ports: Vec<String> = o
        .get("ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| p.get("port").and_then(Value::as_i64).map(|p| p.to_string()))
        .collect();
    none_if_empty(ports)
}

pub fn slice_endpoints(o: &Value) -> Value {
    let addresses: Vec<String> = o
        .get("endpoints")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|e| {
            e.get("addresses")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|a| a.as_str().map(str::to_string))
        })
        .collect();
    if addresses.len() > 3 {
        let more = addresses.len() - 3;
        return json!(format!("{} + {more} more...", addresses[..3].join(",")));
    }
    none_if_empty(addresses)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations_match_kube() {
        let cases = [
            (-5, "<invalid>"),
            (0, "0s"),
            (119, "119s"),
            (200, "3m20s"),
            (600, "10m"),
            (3 * 3600 + 600, "3h10m"),
            (30 * 3600, "30h"),
            (3 * 86400 + 4 * 3600, "3d4h"),
            (40 * 86400, "40d"),
            (3 * 365 * 86400 + 10 * 86400, "3y10d"),
        ];
        for (secs, want) in cases {
            assert_eq!(human_duration(secs), want, "{secs}");
        }
    }

    #[test]
    fn printer_paths() {
        let gw = json!({"status": {
            "addresses": [{"value": "198.18.0.1"}, {"value": "198.18.0.2"}],
            "conditions": [
                {"type": "Accepted", "status": "True"},
                {"type": "Programmed", "status": "False"},
            ]}, "spec": {"hostnames": ["a.example", "b.example"]}});
        assert_eq!(
            path_cell(&gw, ".status.addresses[*].value"),
            json!("198.18.0.1")
        );
        assert_eq!(
            path_cell(&gw, ".status.conditions[?(@.type==\"Programmed\")].status"),
            json!("False")
        );
        assert_eq!(
            path_cell(&gw, ".spec.hostnames"),
            json!("[\"a.example\",\"b.example\"]")
        );
        assert_eq!(path_cell(&gw, ".spec.gatewayClassName"), Value::Null);
        assert_eq!(
            path_cell(&gw, ".status.conditions[?(@.type==\"Nope\")].status"),
            Value::Null
        );
    }
}
