//! The Resources pane's data: GatewayClass, Gateway, listener, route and rule as a flat tree,
//! each node with a health worked out from its status conditions.
//!
//! Built once per timeline frame from the object snapshot (statuses as the controller wrote
//! them) and the routing table (which routes each listener took, and the rules in
//! precedence order with the listing's remarks), so drawing is a plain walk.

use std::collections::BTreeSet;

use gwsim_engine::object::{Kind, Object, ObjectKey, Snapshot};
use gwsim_engine::table::{ListenerListing, RoutingTable};
use serde_json::Value;

/// How a node is doing, from worst to best. The order is the "worst of" order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Health {
    /// Not accepted, not programmed, or refused: it does not serve.
    Bad,
    /// Serves, with something wrong (unresolved references, a shadowed rule).
    Warning,
    /// No status: another controller's object, or nothing reported yet.
    Unknown,
    Good,
}

/// One line under the selected node: a condition or a fact, with its own health.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Detail {
    pub text: String,
    pub health: Health,
}

/// One node of the tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeNode {
    /// Stable across frames (`Gateway ns/gw > listener http`), to keep the selection.
    pub id: String,
    pub depth: u16,
    pub label: String,
    pub health: Health,
    /// The condition that decides the health, in a few words (`Accepted=False NotAllowed`).
    pub reason: String,
    /// Every condition and fact, for the selected node.
    pub details: Vec<Detail>,
    /// The Gateway the node belongs to: the Ask pane sends there by default.
    pub gateway: Option<ObjectKey>,
}

/// The tree in display order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResourceTree {
    pub nodes: Vec<TreeNode>,
}

/// A status condition, as read from an object's JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Condition {
    type_: String,
    status: String,
    reason: String,
    message: String,
}

impl Condition {
    /// Conditions whose `True` is the bad news.
    const NEGATIVE: [&'static str; 3] = ["Conflicted", "PartiallyInvalid", "OverlappingTLSConfig"];
    /// Conditions that, when not met, mean the object does not serve at all.
    const ESSENTIAL: [&'static str; 3] = ["Accepted", "Programmed", "Conflicted"];

    fn health(&self) -> Health {
        let negative = Self::NEGATIVE.contains(&self.type_.as_str());
        let met = match (self.status.as_str(), negative) {
            ("True", false) | ("False", true) => true,
            ("True", true) | ("False", false) => false,
            // Unknown
            _ => return Health::Warning,
        };
        if met {
            Health::Good
        } else if Self::ESSENTIAL.contains(&self.type_.as_str()) {
            Health::Bad
        } else {
            Health::Warning
        }
    }

    fn short(&self) -> String {
        format!("{}={} {}", self.type_, self.status, self.reason)
    }

    fn detail(&self) -> Detail {
        let mut text = self.short();
        if !self.message.is_empty() {
            text.push_str(": ");
            text.push_str(&self.message);
        }
        Detail {
            text,
            health: self.health(),
        }
    }
}

fn read_conditions(value: Option<&Value>) -> Vec<Condition> {
    let field = |c: &Value, name: &str| {
        c.get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    value
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|c| Condition {
                    type_: field(c, "type"),
                    status: field(c, "status"),
                    reason: field(c, "reason"),
                    message: field(c, "message"),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Health, reason and detail lines of a set of conditions.
fn judge(conditions: &[Condition]) -> (Health, String, Vec<Detail>) {
    let mut details: Vec<Detail> = conditions.iter().map(Condition::detail).collect();
    // The worst first: the detail area may show only a few lines.
    details.sort_by_key(|d| d.health);
    let worst = conditions.iter().min_by_key(|c| c.health());
    match worst {
        None => (
            Health::Unknown,
            "no status".to_string(),
            vec![Detail {
                text: "no status: not reconciled by gwsim's controller".to_string(),
                health: Health::Unknown,
            }],
        ),
        Some(c) if c.health() != Health::Good => (c.health(), c.short(), details),
        Some(_) => (
            Health::Good,
            conditions
                .iter()
                .map(|c| c.type_.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            details,
        ),
    }
}

fn fact(text: impl Into<String>) -> Detail {
    Detail {
        text: text.into(),
        health: Health::Good,
    }
}

/// `name` when `key` is in `namespace`, else `namespace/name`: the tree is narrow.
fn short_name(key: &ObjectKey, namespace: &str) -> String {
    if key.namespace == namespace {
        key.name.clone()
    } else {
        key.namespaced_name()
    }
}

impl ResourceTree {
    /// The tree of a cluster state.
    pub fn build(snapshot: &Snapshot, table: &RoutingTable) -> ResourceTree {
        let mut builder = Builder {
            snapshot,
            table,
            listing: table.listing().gateways,
            nodes: Vec::new(),
            placed: BTreeSet::new(),
            ambiguous: BTreeSet::new(),
        };
        builder.build();
        ResourceTree {
            nodes: builder.nodes,
        }
    }

    /// Adds a section of problems found while loading (refused or ignored documents): each
    /// item is a label and the lines shown when it is selected, the first being its reason.
    pub fn add_section(&mut self, title: &str, health: Health, items: &[(String, Vec<String>)]) {
        if items.is_empty() {
            return;
        }
        self.nodes.push(TreeNode {
            id: title.to_string(),
            depth: 0,
            label: format!("{title} ({})", items.len()),
            health,
            reason: String::new(),
            details: Vec::new(),
            gateway: None,
        });
        for (i, (label, lines)) in items.iter().enumerate() {
            self.nodes.push(TreeNode {
                id: format!("{title} > {i}"),
                depth: 1,
                label: label.clone(),
                health,
                reason: lines.first().cloned().unwrap_or_default(),
                details: lines
                    .iter()
                    .map(|text| Detail {
                        text: text.clone(),
                        health,
                    })
                    .collect(),
                gateway: None,
            });
        }
    }

    /// The position of the node with this id.
    pub fn position(&self, id: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.id == id)
    }
}

struct Builder<'a> {
    snapshot: &'a Snapshot,
    table: &'a RoutingTable,
    listing: Vec<gwsim_engine::table::GatewayListing>,
    nodes: Vec<TreeNode>,
    /// Routes shown under some Gateway.
    placed: BTreeSet<ObjectKey>,
    /// Names of Gateways in more than one namespace: labelled `namespace/name`.
    ambiguous: BTreeSet<String>,
}

impl Builder<'_> {
    fn build(&mut self) {
        let classes: Vec<(ObjectKey, Value)> = self
            .snapshot
            .of_kind(Kind::GatewayClass)
            .map(|o| (o.key(), o.to_value()))
            .collect();
        let gateways: Vec<(ObjectKey, Value)> = self
            .snapshot
            .of_kind(Kind::Gateway)
            .map(|o| (o.key(), o.to_value()))
            .collect();
        let mut seen = BTreeSet::new();
        for (key, _) in &gateways {
            if !seen.insert(key.name.clone()) {
                self.ambiguous.insert(key.name.clone());
            }
        }
        let class_of = |gw: &Value| {
            gw.pointer("/spec/gatewayClassName")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        for (key, class) in &classes {
            let (health, reason, mut details) =
                judge(&read_conditions(class.pointer("/status/conditions")));
            if let Some(controller) = class
                .pointer("/spec/controllerName")
                .and_then(Value::as_str)
            {
                details.push(fact(format!("controllerName: {controller}")));
            }
            self.nodes.push(TreeNode {
                id: key.to_string(),
                depth: 0,
                label: key.to_string(),
                health,
                reason,
                details,
                gateway: None,
            });
            for (gw_key, gw) in gateways.iter().filter(|(_, g)| class_of(g) == key.name) {
                self.gateway(gw_key, gw, 1);
            }
        }
        let known: BTreeSet<&str> = classes.iter().map(|(k, _)| k.name.as_str()).collect();
        for (gw_key, gw) in &gateways {
            if !known.contains(class_of(gw).as_str()) {
                self.gateway(gw_key, gw, 0);
            }
        }
        self.unplaced_routes();
    }

    fn gateway(&mut self, key: &ObjectKey, gw: &Value, depth: u16) {
        let (health, reason, mut details) =
            judge(&read_conditions(gw.pointer("/status/conditions")));
        let addresses: Vec<&str> = gw
            .pointer("/status/addresses")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|a| a.get("value").and_then(Value::as_str))
            .collect();
        if !addresses.is_empty() {
            details.push(fact(format!("addresses: {}", addresses.join(", "))));
        }
        let class = gw
            .pointer("/spec/gatewayClassName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if depth == 0 {
            details.push(Detail {
                text: format!("GatewayClass {class} does not exist"),
                health: Health::Warning,
            });
        }
        details.push(fact(format!("namespace: {}", key.namespace)));
        let label = if self.ambiguous.contains(&key.name) {
            key.to_string()
        } else {
            format!("Gateway {}", key.name)
        };
        let id = key.to_string();
        self.nodes.push(TreeNode {
            id: id.clone(),
            depth,
            label,
            health,
            reason,
            details,
            gateway: Some(key.clone()),
        });

        let statuses: Vec<Value> = gw
            .pointer("/status/listeners")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let config = self.table.gateways().iter().find(|g| &g.key == key);
        let listing_pos = self.listing.iter().position(|g| &g.gateway == key);
        let mut attached: BTreeSet<ObjectKey> = BTreeSet::new();
        let listeners = gw
            .pointer("/spec/listeners")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for listener in &listeners {
            let name = listener
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let port = listener.get("port").and_then(Value::as_u64).unwrap_or(0);
            let protocol = listener
                .get("protocol")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let status = statuses
                .iter()
                .find(|s| s.get("name").and_then(Value::as_str) == Some(name));
            let (health, reason, mut details) =
                judge(&read_conditions(status.and_then(|s| s.get("conditions"))));
            let attached_routes = status
                .and_then(|s| s.get("attachedRoutes"))
                .and_then(Value::as_i64);
            let mut label = format!("listener {name} :{port} {protocol}");
            if let Some(host) = listener.get("hostname").and_then(Value::as_str) {
                label.push(' ');
                label.push_str(host);
            }
            if let Some(n) = attached_routes {
                details.push(fact(format!("attachedRoutes: {n}")));
            }
            let listener_id = format!("{id} > listener {name}");
            self.nodes.push(TreeNode {
                id: listener_id.clone(),
                depth: depth + 1,
                label,
                health,
                reason,
                details,
                gateway: Some(key.clone()),
            });

            let Some(config) = config.and_then(|c| c.listeners.iter().find(|l| l.name == name))
            else {
                continue;
            };
            let mut routes: Vec<(&ObjectKey, &Vec<String>)> = config
                .routes
                .iter()
                .map(|a| (&a.route.key, &a.hostnames))
                .collect();
            routes.sort();
            routes.dedup_by(|a, b| a.0 == b.0);
            let listing = listing_pos
                .and_then(|p| self.listing[p].listeners.iter().find(|l| l.name == name))
                .cloned();
            for (route_key, hostnames) in routes {
                attached.insert(route_key.clone());
                self.placed.insert(route_key.clone());
                self.route(
                    route_key,
                    key,
                    Some(name),
                    hostnames,
                    depth + 2,
                    &listener_id,
                    listing.as_ref(),
                );
            }
        }

        // Routes that name this Gateway but attached to none of its listeners.
        let mut refused: Vec<ObjectKey> = Vec::new();
        for kind in [Kind::HttpRoute, Kind::GrpcRoute] {
            for route in self.snapshot.of_kind(kind) {
                let route_key = route.key();
                if !attached.contains(&route_key) && parent_entry(route, key, None).is_some() {
                    refused.push(route_key);
                }
            }
        }
        for route_key in refused {
            self.placed.insert(route_key.clone());
            self.route(&route_key, key, None, &[], depth + 1, &id, None);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn route(
        &mut self,
        route_key: &ObjectKey,
        gateway: &ObjectKey,
        listener: Option<&str>,
        hostnames: &[String],
        depth: u16,
        parent_id: &str,
        listing: Option<&ListenerListing>,
    ) {
        let Some(route) = self.snapshot.get(route_key) else {
            return;
        };
        let entry = parent_entry(route, gateway, listener);
        let (health, reason, mut details) = judge(&read_conditions(
            entry.as_ref().and_then(|e| e.get("conditions")),
        ));
        let mut label = format!(
            "{} {}",
            route_key.kind,
            short_name(route_key, &gateway.namespace)
        );
        if listener.is_none() {
            label.push_str(" (not attached)");
        }
        if !hostnames.is_empty() {
            details.push(fact(format!("hostnames here: {}", hostnames.join(", "))));
        }
        let id = format!("{parent_id} > {route_key}");
        self.nodes.push(TreeNode {
            id: id.clone(),
            depth,
            label,
            health,
            reason,
            details,
            gateway: Some(gateway.clone()),
        });
        let Some(listing) = listing else {
            return;
        };
        let entries: Vec<_> = listing
            .entries
            .iter()
            .filter(|e| &e.route == route_key)
            .collect();
        let rules: BTreeSet<usize> = entries.iter().map(|e| e.rule_index).collect();
        for rule in rules {
            let of_rule: Vec<_> = entries.iter().filter(|e| e.rule_index == rule).collect();
            let Some(first) = of_rule.first() else {
                continue;
            };
            let mut label = format!("rule {rule}");
            if let Some(name) = &first.rule_name {
                label.push_str(&format!(" ({name})"));
            }
            label.push_str(&format!(": {}", first.description));
            if of_rule.len() > 1 {
                label.push_str(&format!(" +{}", of_rule.len() - 1));
            }
            let mut details = Vec::new();
            let mut health = Health::Good;
            let mut reason = String::new();
            for e in &of_rule {
                details.push(fact(format!(
                    "#{} [{}] {}",
                    e.position, e.hostname, e.description
                )));
            }
            let backends: Vec<String> = first
                .backends
                .iter()
                .map(|b| format!("{} (weight {})", b.target, b.weight))
                .collect();
            if !backends.is_empty() {
                details.push(fact(format!("backends: {}", backends.join(", "))));
            }
            if !first.filters.is_empty() {
                details.push(fact(format!("filters: {}", first.filters.join(", "))));
            }
            let mut flags: Vec<&String> = of_rule.iter().flat_map(|e| e.flags.iter()).collect();
            flags.sort();
            flags.dedup();
            for flag in flags {
                let flag_health = if flag.starts_with("rule invalid") {
                    Health::Bad
                } else if flag.starts_with("regular expression") {
                    Health::Good
                } else {
                    Health::Warning
                };
                if flag_health < health {
                    health = flag_health;
                    reason = flag.clone();
                }
                details.push(Detail {
                    text: flag.clone(),
                    health: flag_health,
                });
            }
            // Remarks first: the detail area may show only a few lines.
            details.sort_by_key(|d| d.health);
            if reason.is_empty() {
                reason = match backends.as_slice() {
                    [] => "no backends".to_string(),
                    [one] => format!("to {one}"),
                    many => format!("split over {} backends", many.len()),
                };
            }
            self.nodes.push(TreeNode {
                id: format!("{id} > rule {rule}"),
                depth: depth + 1,
                label,
                health,
                reason,
                details,
                gateway: Some(gateway.clone()),
            });
        }
    }

    /// Routes shown under no Gateway: they name none that gwsim's controller runs, or have
    /// no status yet.
    fn unplaced_routes(&mut self) {
        let routes: Vec<&Object> = [Kind::HttpRoute, Kind::GrpcRoute]
            .into_iter()
            .flat_map(|k| self.snapshot.of_kind(k))
            .filter(|r| !self.placed.contains(&r.key()))
            .collect();
        if routes.is_empty() {
            return;
        }
        let title = "routes under no Gateway";
        self.nodes.push(TreeNode {
            id: title.to_string(),
            depth: 0,
            label: format!("{title} ({})", routes.len()),
            health: Health::Warning,
            reason: "their parentRefs name no Gateway of gwsim's controller".to_string(),
            details: Vec::new(),
            gateway: None,
        });
        let mut nodes = Vec::new();
        for route in routes {
            let value = route.to_value();
            let mut conditions = Vec::new();
            let mut details = Vec::new();
            for parent in value
                .pointer("/status/parents")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let name = parent
                    .pointer("/parentRef/name")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                details.push(fact(format!("parent {name}:")));
                let of_parent = read_conditions(parent.get("conditions"));
                details.extend(of_parent.iter().map(Condition::detail));
                conditions.extend(of_parent);
            }
            let refs: Vec<String> = value
                .pointer("/spec/parentRefs")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|p| {
                    let name = p.get("name").and_then(Value::as_str).unwrap_or_default();
                    match p.get("namespace").and_then(Value::as_str) {
                        Some(ns) => format!("{ns}/{name}"),
                        None => name.to_string(),
                    }
                })
                .collect();
            let (health, reason, judged) = judge(&conditions);
            if details.is_empty() {
                details = judged;
            }
            details.push(fact(format!("parentRefs: {}", refs.join(", "))));
            let key = route.key();
            nodes.push(TreeNode {
                id: format!("{title} > {key}"),
                depth: 1,
                label: key.to_string(),
                health,
                reason,
                details,
                gateway: None,
            });
        }
        self.nodes.extend(nodes);
    }
}

/// The route's status entry for `gateway`: the one for `listener` when there is one, else
/// the first naming the Gateway.
fn parent_entry(route: &Object, gateway: &ObjectKey, listener: Option<&str>) -> Option<Value> {
    let value = route.to_value();
    let route_ns = route.key().namespace;
    let parents = value.pointer("/status/parents")?.as_array()?;
    let names_gateway = |p: &&Value| {
        let r = p.get("parentRef");
        let field = |f: &str| r.and_then(|r| r.get(f)).and_then(Value::as_str);
        field("kind").is_none_or(|k| k == "Gateway")
            && field("name") == Some(gateway.name.as_str())
            && field("namespace").unwrap_or(&route_ns) == gateway.namespace
    };
    let section = |p: &&Value| {
        p.pointer("/parentRef/sectionName")
            .and_then(Value::as_str)
            .map(String::from)
    };
    let candidates: Vec<&Value> = parents.iter().filter(names_gateway).collect();
    candidates
        .iter()
        .find(|p| listener.is_some() && section(p).as_deref() == listener)
        .or_else(|| candidates.first())
        .map(|p| (*p).clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn condition(type_: &str, status: &str) -> Condition {
        Condition {
            type_: type_.into(),
            status: status.into(),
            reason: "R".into(),
            message: String::new(),
        }
    }

    #[test]
    fn conditions_decide_health() {
        let cases = [
            (vec![], Health::Unknown),
            (vec![condition("Accepted", "True")], Health::Good),
            (
                vec![
                    condition("Accepted", "True"),
                    condition("ResolvedRefs", "False"),
                ],
                Health::Warning,
            ),
            (
                vec![
                    condition("Accepted", "False"),
                    condition("ResolvedRefs", "False"),
                ],
                Health::Bad,
            ),
            (vec![condition("Conflicted", "False")], Health::Good),
            (vec![condition("Conflicted", "True")], Health::Bad),
            (vec![condition("PartiallyInvalid", "True")], Health::Warning),
            (vec![condition("Programmed", "Unknown")], Health::Warning),
        ];
        for (conditions, expected) in cases {
            assert_eq!(judge(&conditions).0, expected, "{conditions:?}");
        }
        let (_, reason, _) = judge(&[
            condition("Accepted", "True"),
            condition("ResolvedRefs", "False"),
        ]);
        assert_eq!(reason, "ResolvedRefs=False R");
    }
}
