//! BackendTLSPolicy (GEP-1897): `spec` schema and CEL rules, the same in v1 and v1alpha3 and in
//! releases v1.5.1 and v1.6.1 (the CRDs' schemas are identical). Messages are the CRD's.

use serde_json::Value;

use super::schema::{
    Node, Verdict, field, has, items, list, map_of, object, pattern, str_at, string,
};
use super::types::{
    group, hostname, kind, local_object_ref, object_name, precise_hostname, section_name,
};

pattern! {
    /// `AbsoluteURI`: a scheme, `//` and an authority, then path, query and fragment
    /// (RFC 3986, as the CRD writes it: unanchored at the end).
    ABSOLUTE_URI = r"^(([^:/?#]+):)(//([^/?#]*))([^?#]*)(\?([^#]*))?(#(.*))?"
}
pattern! {
    /// `WellKnownCACertificatesType`: `System` or an implementation's `domain/name`.
    WELL_KNOWN_CA = r"^(System|([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]))$"
}

/// `BackendTLSPolicy.spec`.
pub(crate) fn spec() -> Node {
    object(vec![
        // `options`: AnnotationKey to AnnotationValue, at most 16.
        field(
            "options",
            map_of(string().min_len(0).max_len(4096)).max_properties(16),
        ),
        field("targetRefs", target_refs()).required(),
        field("validation", validation()).required(),
    ])
}

/// Whether a targetRef has no sectionName (absent or empty, as the CEL rules read it).
fn no_section(r: &Value) -> bool {
    str_at(r, "sectionName").is_none_or(str::is_empty)
}

fn same_target(a: &Value, b: &Value) -> bool {
    a.get("group") == b.get("group")
        && a.get("kind") == b.get("kind")
        && a.get("name") == b.get("name")
}

/// `spec.targetRefs`: LocalPolicyTargetReferenceWithSectionName, 1 to 16, with the two CEL
/// rules that keep references to one target distinct.
fn target_refs() -> Node {
    list(object(vec![
        field("group", group()).required(),
        field("kind", kind()).required(),
        field("name", object_name()).required(),
        field("sectionName", section_name()),
    ]))
    .min_items(1)
    .max_items(16)
    .rule(
        "sectionName must be specified when targetRefs includes 2 or more references to the same target",
        |refs| {
            let refs = items(refs);
            Verdict::from(refs.iter().all(|p1| {
                refs.iter()
                    .all(|p2| !same_target(p1, p2) || no_section(p1) == no_section(p2))
            }))
        },
    )
    .rule(
        "sectionName must be unique when targetRefs includes 2 or more references to the same target",
        |refs| {
            let refs = items(refs);
            Verdict::from(refs.iter().all(|p1| {
                refs.iter()
                    .filter(|p2| {
                        same_target(p1, p2)
                            && ((no_section(p1) && no_section(p2))
                                || (has(p1, "sectionName")
                                    && has(p2, "sectionName")
                                    && p1.get("sectionName") == p2.get("sectionName")))
                    })
                    .count()
                    == 1
            }))
        },
    )
}

/// Whether `caCertificateRefs` holds at least one entry.
fn has_ca_refs(v: &Value) -> bool {
    !items(v.get("caCertificateRefs").unwrap_or(&Value::Null)).is_empty()
}

/// Whether `wellKnownCACertificates` is set and not empty.
fn has_well_known(v: &Value) -> bool {
    str_at(v, "wellKnownCACertificates").is_some_and(|s| !s.is_empty())
}

/// `spec.validation`: exactly one CA source, the hostname (SNI), and subjectAltNames.
fn validation() -> Node {
    object(vec![
        field("caCertificateRefs", list(local_object_ref()).max_items(8)),
        field("hostname", precise_hostname()).required(),
        field("subjectAltNames", list(subject_alt_name()).max_items(5)),
        field(
            "wellKnownCACertificates",
            string().min_len(1).max_len(253).pattern(&WELL_KNOWN_CA),
        ),
    ])
    .rule(
        "must not contain both CACertificateRefs and WellKnownCACertificates",
        |v| Verdict::from(!(has_ca_refs(v) && has_well_known(v))),
    )
    .rule(
        "must specify either CACertificateRefs or WellKnownCACertificates",
        |v| Verdict::from(has_ca_refs(v) || has_well_known(v)),
    )
}

/// `SubjectAltName`: a type and the one matching value.
fn subject_alt_name() -> Node {
    let set = |v: &Value, name: &str| str_at(v, name).is_some_and(|s| !s.is_empty());
    let is = |v: &Value, t: &str| str_at(v, "type") == Some(t);
    object(vec![
        field("hostname", hostname()),
        field("type", string().one_of(&["Hostname", "URI"])).required(),
        field(
            "uri",
            string().min_len(1).max_len(253).pattern(&ABSOLUTE_URI),
        ),
    ])
    .rule(
        "SubjectAltName element must contain Hostname, if Type is set to Hostname",
        move |v| Verdict::from(!is(v, "Hostname") || set(v, "hostname")),
    )
    .rule(
        "SubjectAltName element must not contain Hostname, if Type is not set to Hostname",
        move |v| Verdict::from(is(v, "Hostname") || !set(v, "hostname")),
    )
    .rule(
        "SubjectAltName element must contain URI, if Type is set to URI",
        move |v| Verdict::from(!is(v, "URI") || set(v, "uri")),
    )
    .rule(
        "SubjectAltName element must not contain URI, if Type is not set to URI",
        move |v| Verdict::from(is(v, "URI") || !set(v, "uri")),
    )
}
