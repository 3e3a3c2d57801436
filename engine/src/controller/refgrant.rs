//! ReferenceGrant index (Gateway API `ReferenceGrant`, GEP-709).
//!
//! A grant lives in the namespace of the referent. A reference from `(group, kind, namespace)`
//! to `(group, kind, namespace, name)` is permitted iff some grant in the referent's namespace
//! has a `from` entry equal to the referrer's group, kind and namespace and a `to` entry equal
//! to the referent's group and kind and, when `to.name` is set, name. The empty group is the
//! core group. Only grants present in the snapshot count, so deleting one revokes access.

use std::collections::HashMap;

use crate::object::Snapshot;

/// The referring side of a reference.
#[derive(Clone, Copy, Debug)]
pub struct RefFrom<'a> {
    pub group: &'a str,
    pub kind: &'a str,
    pub namespace: &'a str,
}

/// The referent.
#[derive(Clone, Copy, Debug)]
pub struct RefTo<'a> {
    pub group: &'a str,
    pub kind: &'a str,
    pub namespace: &'a str,
    pub name: &'a str,
}

/// One `to` entry: group, kind, optional name.
type GrantTo<'a> = (&'a str, &'a str, Option<&'a str>);

/// Grants indexed by (referent namespace, from group, from kind, from namespace).
#[derive(Debug, Default)]
pub struct GrantIndex<'a> {
    by_from: HashMap<(&'a str, &'a str, &'a str, &'a str), Vec<GrantTo<'a>>>,
    /// Every reference permitted: mesh routes need no ReferenceGrant (GEP-1294).
    waived: bool,
}

impl<'a> GrantIndex<'a> {
    pub fn build(snapshot: &'a Snapshot) -> Self {
        let mut by_from: HashMap<_, Vec<GrantTo<'a>>> = HashMap::new();
        for grant in snapshot.reference_grants() {
            let Some(namespace) = grant.metadata.namespace.as_deref() else {
                continue;
            };
            for from in &grant.spec.from {
                let entry = by_from
                    .entry((
                        namespace,
                        from.group.as_str(),
                        from.kind.as_str(),
                        from.namespace.as_str(),
                    ))
                    .or_default();
                for to in &grant.spec.to {
                    entry.push((to.group.as_str(), to.kind.as_str(), to.name.as_deref()));
                }
            }
        }
        GrantIndex {
            by_from,
            waived: false,
        }
    }

    /// An index that permits every reference (mesh routes, GEP-1294).
    pub fn waived() -> Self {
        GrantIndex {
            by_from: HashMap::new(),
            waived: true,
        }
    }

    /// Whether the reference is allowed. Same-namespace references always are.
    pub fn permits(&self, from: RefFrom<'_>, to: RefTo<'_>) -> bool {
        if self.waived || from.namespace == to.namespace {
            return true;
        }
        let Some(tos) = self
            .by_from
            .get(&(to.namespace, from.group, from.kind, from.namespace))
        else {
            return false;
        };
        tos.iter().any(|(group, kind, name)| {
            *group == to.group && *kind == to.kind && name.is_none_or(|n| n == to.name)
        })
    }
}
