//! What a change can affect: the listeners whose configuration differs between the two
//! states, and within each the route hostnames whose routes differ. Everything else routes
//! the same in both states (a decision reads only its listener's entries of the hostnames
//! that cover the request's host), so it is neither listed nor probed.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use crate::config::{GatewayConfig, ListenerConfig, RouteAttachment};
use crate::object::ObjectKey;

/// A listener of a Gateway.
pub(super) type ListenerId = (ObjectKey, String);

/// The affected part of one listener.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct ListenerScope {
    /// The listener itself changed (added, removed, port, protocol, hostname, usability):
    /// every hostname is affected.
    pub(super) whole: bool,
    /// Route hostnames (`*`: routes that serve any host of the listener) whose entries differ.
    pub(super) hostnames: BTreeSet<String>,
}

impl ListenerScope {
    /// The hostnames whose table entries to list: `None` for all of them.
    pub(super) fn listed_hostnames(&self) -> Option<&BTreeSet<String>> {
        (!self.whole).then_some(&self.hostnames)
    }
}

/// The route hostname an attachment's entries serve, as the listing names it.
pub(super) const ANY_HOST: &str = "*";

/// Affected listeners, by Gateway key and listener name.
pub(super) fn affected(
    before: &[GatewayConfig],
    after: &[GatewayConfig],
) -> BTreeMap<ListenerId, ListenerScope> {
    let mut out = BTreeMap::new();
    let by_key = |gws: &[GatewayConfig]| -> BTreeMap<ObjectKey, usize> {
        gws.iter()
            .enumerate()
            .map(|(i, g)| (g.key.clone(), i))
            .collect()
    };
    let (a, b) = (by_key(before), by_key(after));
    let mut keys: Vec<&ObjectKey> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        let old = a.get(key).map(|&i| &before[i]);
        let new = b.get(key).map(|&i| &after[i]);
        let mut names: Vec<&str> = old
            .iter()
            .chain(new.iter())
            .flat_map(|g| g.listeners.iter().map(|l| l.name.as_str()))
            .collect();
        names.sort_unstable();
        names.dedup();
        for name in names {
            let old_listener = old.and_then(|g| g.listeners.iter().find(|l| l.name == name));
            let new_listener = new.and_then(|g| g.listeners.iter().find(|l| l.name == name));
            let scope = compare_listener(old_listener, new_listener);
            if scope.whole || !scope.hostnames.is_empty() {
                out.insert((key.clone(), name.to_string()), scope);
            }
        }
    }
    out
}

fn compare_listener(old: Option<&ListenerConfig>, new: Option<&ListenerConfig>) -> ListenerScope {
    let (Some(old), Some(new)) = (old, new) else {
        return ListenerScope {
            whole: true,
            hostnames: BTreeSet::new(),
        };
    };
    let shape = |l: &ListenerConfig| (l.port, l.protocol.clone(), l.hostname.clone(), l.usable);
    if shape(old) != shape(new) {
        return ListenerScope {
            whole: true,
            hostnames: BTreeSet::new(),
        };
    }
    let (a, b) = (by_route(&old.routes), by_route(&new.routes));
    let mut hostnames = BTreeSet::new();
    // Both lists are sorted by route: walk them together.
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let order = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) => x.route.key.cmp(&y.route.key),
            (Some(_), None) => Ordering::Less,
            _ => Ordering::Greater,
        };
        match order {
            Ordering::Less => {
                add_hostnames(&mut hostnames, &a[i..=i]);
                i += 1;
            }
            Ordering::Greater => {
                add_hostnames(&mut hostnames, &b[j..=j]);
                j += 1;
            }
            Ordering::Equal => {
                if !same_attachment(a[i], b[j]) {
                    add_hostnames(&mut hostnames, &[a[i], b[j]]);
                }
                i += 1;
                j += 1;
            }
        }
    }
    ListenerScope {
        whole: false,
        hostnames,
    }
}

/// A listener's attachments sorted by route. (The controller attaches a route once per
/// listener, merging the hostnames of parentRefs that select the same listener.)
fn by_route(routes: &[RouteAttachment]) -> Vec<&RouteAttachment> {
    let mut out: Vec<&RouteAttachment> = routes.iter().collect();
    out.sort_by(|x, y| x.route.key.cmp(&y.route.key));
    out
}

fn same_attachment(x: &RouteAttachment, y: &RouteAttachment) -> bool {
    x.hostnames == y.hostnames && (std::sync::Arc::ptr_eq(&x.route, &y.route) || x.route == y.route)
}

fn add_hostnames(out: &mut BTreeSet<String>, list: &[&RouteAttachment]) {
    for attachment in list {
        if attachment.hostnames.is_empty() {
            out.insert(ANY_HOST.to_string());
        }
        for h in &attachment.hostnames {
            out.insert(h.to_ascii_lowercase());
        }
    }
}
