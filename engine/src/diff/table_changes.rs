//! Routing table changes, per affected listener: entries added, removed, changed (same route,
//! rule, match and hostname; other match, backends, filters or remarks), moved (their order
//! relative to the other entries changed), and entries that became (or stopped being)
//! shadowed by an earlier one.

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde::Serialize;

use crate::object::ObjectKey;
use crate::table::{ListenerListing, ListingEntry, RoutingTable};

use super::scope::{ListenerId, ListenerScope};

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ListenerTableChange {
    pub gateway: ObjectKey,
    pub listener: String,
    /// The listener's shape in each state (`None`: no such listener).
    pub before: Option<ListenerShape>,
    pub after: Option<ListenerShape>,
    /// In the after state's order.
    pub added: Vec<ListingEntry>,
    /// In the before state's order.
    pub removed: Vec<ListingEntry>,
    /// In the after state's order.
    pub changed: Vec<EntryChange>,
    /// In the after state's order.
    pub moved: Vec<EntryMove>,
    /// Entries (old or new) that are now shadowed, or no longer are; in the after state's
    /// order, then the before state's.
    pub shadowed: Vec<Shadowing>,
}

/// A listener as the table has it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ListenerShape {
    pub protocol: String,
    pub port: u16,
    pub hostname: Option<String>,
    pub usable: bool,
    pub unusable_reason: Option<String>,
}

impl ListenerShape {
    fn of(l: &ListenerListing) -> ListenerShape {
        ListenerShape {
            protocol: l.protocol.clone(),
            port: l.port,
            hostname: l.hostname.clone(),
            usable: l.usable,
            unusable_reason: l.unusable_reason.clone(),
        }
    }

    /// `HTTP :80, any hostname` (`, not usable: HostnameConflict`).
    pub fn describe(&self) -> String {
        let mut out = format!(
            "{} :{}, {}",
            self.protocol,
            self.port,
            self.hostname.as_deref().unwrap_or("any hostname")
        );
        if !self.usable {
            out.push_str(", not usable: ");
            out.push_str(self.unusable_reason.as_deref().unwrap_or("not programmed"));
        }
        out
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EntryChange {
    pub before: ListingEntry,
    pub after: ListingEntry,
}

/// An entry whose place relative to the other entries of both states changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EntryMove {
    /// `HTTPRoute ns/name rule 0 match 0`.
    pub entry: String,
    pub hostname: String,
    pub from: usize,
    pub to: usize,
}

/// An entry that an earlier entry shadows (it can never win), or no longer shadows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Shadowing {
    pub entry: String,
    pub hostname: String,
    /// Position in the state it is described in (after when `now`, before otherwise).
    pub position: usize,
    /// The shadowing entry.
    pub by: String,
    pub by_position: usize,
    /// True: shadowed now and not before (or by another entry); false: no longer shadowed.
    pub now: bool,
}

/// The rule an entry comes from: its name when it has one (names survive rules being
/// inserted or reordered), else its index.
fn rule_key(e: &ListingEntry) -> String {
    match &e.rule_name {
        Some(name) => format!("name {name}"),
        None => format!("index {}", e.rule_index),
    }
}

/// What makes an entry behave as it does, without its position (and the shadow remark, which
/// names positions; shadowing is compared on its own).
fn content(e: &ListingEntry) -> String {
    let flags: Vec<&str> = e
        .flags
        .iter()
        .filter(|f| !f.starts_with("shadowed by "))
        .map(String::as_str)
        .collect();
    format!(
        "{}|{:?}|{:?}|{:?}",
        e.description, e.backends, e.filters, flags
    )
}

/// Pairs the entries of the two states, in passes from the strictest key to the loosest,
/// each pass taking only entries no earlier pass paired: the same rule (by name or index) and
/// content; the same named rule; the same content (a rule renumbered by an insertion); the
/// same rule index. Always within one route, hostname and match index. Returns the before
/// index paired with each after entry.
fn pair_entries(old: &[ListingEntry], new: &[ListingEntry]) -> Vec<Option<usize>> {
    type Key = fn(&ListingEntry) -> Option<String>;
    let passes: [Key; 4] = [
        |e| Some(format!("{}|{}", rule_key(e), content(e))),
        |e| e.rule_name.as_ref().map(|n| format!("name {n}")),
        |e| Some(content(e)),
        |e| Some(format!("index {}", e.rule_index)),
    ];
    let mut paired_new: Vec<Option<usize>> = vec![None; new.len()];
    let mut paired_old = vec![false; old.len()];
    for key in passes {
        let full = |e: &ListingEntry| {
            key(e).map(|k| (e.route.clone(), e.hostname.clone(), e.match_index, k))
        };
        let mut waiting: HashMap<_, VecDeque<usize>> = HashMap::new();
        for (i, e) in old.iter().enumerate() {
            if !paired_old[i]
                && let Some(k) = full(e)
            {
                waiting.entry(k).or_default().push_back(i);
            }
        }
        for (j, e) in new.iter().enumerate() {
            if paired_new[j].is_some() {
                continue;
            }
            if let Some(i) = full(e).and_then(|k| waiting.get_mut(&k)?.pop_front()) {
                paired_new[j] = Some(i);
                paired_old[i] = true;
            }
        }
    }
    paired_new
}

pub(super) fn compare(
    before: &RoutingTable,
    after: &RoutingTable,
    scopes: &BTreeMap<ListenerId, ListenerScope>,
) -> Vec<ListenerTableChange> {
    let mut out = Vec::new();
    for ((gateway, listener), scope) in scopes {
        let hostnames = scope.listed_hostnames();
        let old = before.listener_listing(gateway, listener, hostnames);
        let new = after.listener_listing(gateway, listener, hostnames);
        let change = compare_listener(gateway, listener, old.as_ref(), new.as_ref());
        let shape_changed = change.before != change.after;
        if shape_changed
            || !change.added.is_empty()
            || !change.removed.is_empty()
            || !change.changed.is_empty()
            || !change.moved.is_empty()
            || !change.shadowed.is_empty()
        {
            out.push(change);
        }
    }
    out
}

fn compare_listener(
    gateway: &ObjectKey,
    listener: &str,
    old: Option<&ListenerListing>,
    new: Option<&ListenerListing>,
) -> ListenerTableChange {
    let none: &[ListingEntry] = &[];
    let old_entries = old.map(|l| l.entries.as_slice()).unwrap_or(none);
    let new_entries = new.map(|l| l.entries.as_slice()).unwrap_or(none);
    let pairs = pair_entries(old_entries, new_entries);

    let mut added = Vec::new();
    let mut changed = Vec::new();
    // Paired entries in the after order, with their index in the before list.
    let mut common: Vec<(usize, usize)> = Vec::new();
    let mut was_paired = vec![false; old_entries.len()];
    for (j, e) in new_entries.iter().enumerate() {
        match pairs[j] {
            None => added.push(e.clone()),
            Some(i) => {
                common.push((i, j));
                was_paired[i] = true;
                let before = &old_entries[i];
                if content(before) != content(e) || before.label() != e.label() {
                    changed.push(EntryChange {
                        before: before.clone(),
                        after: e.clone(),
                    });
                }
            }
        }
    }
    let removed: Vec<ListingEntry> = old_entries
        .iter()
        .zip(&was_paired)
        .filter(|(_, paired)| !**paired)
        .map(|(e, _)| e.clone())
        .collect();

    let kept = longest_increasing(&common.iter().map(|(i, _)| *i).collect::<Vec<_>>());
    let moved = common
        .iter()
        .enumerate()
        .filter(|(k, _)| !kept[*k])
        .map(|(_, &(i, j))| EntryMove {
            entry: new_entries[j].label(),
            hostname: new_entries[j].hostname.clone(),
            from: old_entries[i].position,
            to: new_entries[j].position,
        })
        .collect();

    let shadowed = compare_shadowing(old_entries, new_entries, &pairs);
    ListenerTableChange {
        gateway: gateway.clone(),
        listener: listener.to_string(),
        before: old.map(ListenerShape::of),
        after: new.map(ListenerShape::of),
        added,
        removed,
        changed,
        moved,
        shadowed,
    }
}

/// The entry at `position` of a listing (positions are of the whole listener; the listing
/// may hold only some hostnames, but a shadowing entry always has the same hostname).
fn at_position(entries: &[ListingEntry], position: usize) -> Option<&ListingEntry> {
    entries
        .binary_search_by_key(&position, |e| e.position)
        .ok()
        .map(|i| &entries[i])
}

fn compare_shadowing(
    old_entries: &[ListingEntry],
    new_entries: &[ListingEntry],
    pairs: &[Option<usize>],
) -> Vec<Shadowing> {
    let shadower = |entries: &[ListingEntry], e: &ListingEntry| {
        e.shadowed_by
            .and_then(|p| at_position(entries, p))
            .map(|by| (by.label(), by.position))
    };
    let mut out = Vec::new();
    for (e, pair) in new_entries.iter().zip(pairs) {
        let now = shadower(new_entries, e);
        let was = pair.and_then(|i| shadower(old_entries, &old_entries[i]));
        if let Some((by, by_position)) = &now
            && was.as_ref().map(|(label, _)| label) != Some(by)
        {
            out.push(Shadowing {
                entry: e.label(),
                hostname: e.hostname.clone(),
                position: e.position,
                by: by.clone(),
                by_position: *by_position,
                now: true,
            });
        }
        if now.is_none()
            && let Some((by, by_position)) = was
            && let Some(i) = *pair
        {
            out.push(Shadowing {
                entry: e.label(),
                hostname: e.hostname.clone(),
                position: old_entries[i].position,
                by,
                by_position,
                now: false,
            });
        }
    }
    out
}

/// Marks a longest strictly increasing subsequence of `values` (patience sorting): the
/// common entries that kept their relative order; the others moved.
fn longest_increasing(values: &[usize]) -> Vec<bool> {
    // tails[k]: index in `values` of the smallest tail of an increasing run of length k+1.
    let mut tails: Vec<usize> = Vec::new();
    let mut previous: Vec<Option<usize>> = vec![None; values.len()];
    for (i, &v) in values.iter().enumerate() {
        let k = tails.partition_point(|&t| values[t] < v);
        previous[i] = k.checked_sub(1).map(|p| tails[p]);
        if k == tails.len() {
            tails.push(i);
        } else {
            tails[k] = i;
        }
    }
    let mut kept = vec![false; values.len()];
    let mut cursor = tails.last().copied();
    while let Some(i) = cursor {
        kept[i] = true;
        cursor = previous[i];
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::longest_increasing;

    #[test]
    fn longest_increasing_keeps_the_ordered_majority() {
        let cases: [(&[usize], &[bool]); 5] = [
            (&[], &[]),
            (&[0, 1, 2], &[true, true, true]),
            (&[2, 0, 1], &[false, true, true]),
            (&[0, 3, 1, 2], &[true, false, true, true]),
            (&[1, 0], &[false, true]),
        ];
        for (values, expected) in cases {
            assert_eq!(longest_increasing(values), expected, "{values:?}");
        }
    }
}
