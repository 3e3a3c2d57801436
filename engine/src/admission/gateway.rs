//! Gateway: the schema of `spec` (validation.md section 3.2), its defaults (section 5) and its
//! CEL rules, written as Rust functions.
//!
//! Rule messages are the CRD's `message` texts, verbatim: they are what the API server writes.

use std::net::{Ipv4Addr, Ipv6Addr};

use serde_json::{Value, json};

use super::GatewayApiVersion;
use super::messages::{self, Finding};
use super::schema::{
    Node, Verdict, field, has, items, list, map_of, object, pattern, str_at, string,
};
use super::types::{
    GATEWAY_GROUP, HOSTNAME, group, hostname, kind, label_selector, namespace, object_name,
    port_number, section_name,
};

pattern! {
    /// ProtocolType: a bare token (`HTTP`, `HTTPS`, ...) or `domain/Name`.
    PROTOCOL = r"^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[A-Za-z0-9]+$"
}
pattern! {
    /// AddressType: `Hostname`, `IPAddress`, `NamedAddress` or `domain/path`.
    ADDRESS_TYPE = r"^Hostname|IPAddress|NamedAddress|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[A-Za-z0-9\/\-._~%!$&'()*+,;=:]+$"
}
pattern! {
    /// LabelValue: empty, or alphanumerics at both ends with `-_.` between.
    LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
}
pattern! {
    /// Label and annotation keys: optional DNS-subdomain prefix and `/`, then a name of up to
    /// 63 characters.
    QUALIFIED_KEY = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]$"
}

/// `Gateway.spec` in release `v`.
pub(crate) fn spec(v: GatewayApiVersion) -> Node {
    object(vec![
        field("addresses", addresses()),
        field(
            "allowedListeners",
            object(vec![
                field(
                    "namespaces",
                    object(vec![
                        field(
                            "from",
                            string().one_of(&["All", "Selector", "Same", "None"]),
                        )
                        .default(json!("None")),
                        field("selector", label_selector()),
                    ]),
                )
                .default(json!({"from": "None"})),
            ]),
        ),
        // Experimental channel: default Gateways (GEP-3793).
        field("defaultScope", string().one_of(&["All", "None"])),
        field("gatewayClassName", object_name()).required(),
        field("infrastructure", infrastructure(v)),
        field("listeners", listeners()).required(),
        field("tls", gateway_tls(v)),
    ])
}

/// The status the schema defaults on create: Accepted and Programmed, Unknown/Pending.
pub(crate) fn default_status() -> Value {
    json!({"conditions": [
        super::gatewayclass::pending_condition("Accepted"),
        super::gatewayclass::pending_condition("Programmed"),
    ]})
}

/// CEL `l.protocol in [...]`: an exact, case-sensitive comparison.
fn protocol_is(listener: &Value, names: &[&str]) -> bool {
    str_at(listener, "protocol").is_some_and(|p| names.contains(&p))
}

pub(crate) fn listeners() -> Node {
    list(listener())
        .min_items(1)
        .max_items(64)
        .map_keys(&["name"])
        // CEL (GatewaySpec.listeners), in the CRD's order; protocols compare exactly.
        .rule(
            "tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']",
            |ls| {
                Verdict::from(
                    items(ls)
                        .iter()
                        .all(|l| !protocol_is(l, &["HTTP", "TCP", "UDP"]) || !has(l, "tls")),
                )
            },
        )
        .rule("tls mode must be Terminate for protocol HTTPS", |ls| {
            Verdict::from(items(ls).iter().all(|l| {
                match (protocol_is(l, &["HTTPS"]), l.get("tls")) {
                    (true, Some(tls)) => matches!(str_at(tls, "mode"), Some("" | "Terminate")),
                    _ => true,
                }
            }))
        })
        .rule("tls mode must be set for protocol TLS", |ls| {
            Verdict::from(items(ls).iter().all(|l| {
                !protocol_is(l, &["TLS"])
                    || l.get("tls")
                        .and_then(|t| str_at(t, "mode"))
                        .is_some_and(|m| !m.is_empty())
            }))
        })
        .rule(
            "hostname must not be specified for protocols ['TCP', 'UDP']",
            |ls| {
                Verdict::from(items(ls).iter().all(|l| {
                    !protocol_is(l, &["TCP", "UDP"])
                        || str_at(l, "hostname").is_none_or(str::is_empty)
                }))
            },
        )
        .rule("Listener name must be unique within the Gateway", |ls| {
            let ls = items(ls);
            Verdict::from(ls.iter().all(|l1| {
                ls.iter()
                    .filter(|l2| l1.get("name") == l2.get("name"))
                    .count()
                    == 1
            }))
        })
        .rule(
            "Combination of port, protocol and hostname must be unique for each listener",
            |ls| {
                let ls = items(ls);
                // Two absent hostnames count as equal; an absent and a present one differ.
                let same = |a: &Value, b: &Value| {
                    a.get("port") == b.get("port")
                        && a.get("protocol") == b.get("protocol")
                        && a.get("hostname") == b.get("hostname")
                };
                Verdict::from(
                    ls.iter()
                        .all(|l1| ls.iter().filter(|l2| same(l1, l2)).count() == 1),
                )
            },
        )
}

fn listener() -> Node {
    object(vec![
        field("allowedRoutes", allowed_routes()).default(json!({"namespaces": {"from": "Same"}})),
        field("hostname", hostname()),
        field("name", section_name()).required(),
        field("port", port_number()).required(),
        field(
            "protocol",
            string().min_len(1).max_len(255).pattern(&PROTOCOL),
        )
        .required(),
        field("tls", listener_tls()),
    ])
}

fn allowed_routes() -> Node {
    object(vec![
        field(
            "kinds",
            list(object(vec![
                field("group", group()).default(json!(GATEWAY_GROUP)),
                field("kind", kind()).required(),
            ]))
            .max_items(8),
        ),
        field(
            "namespaces",
            object(vec![
                field("from", string().one_of(&["All", "Selector", "Same"])).default(json!("Same")),
                field("selector", label_selector()),
            ]),
        )
        .default(json!({"from": "Same"})),
    ])
}

/// `SecretObjectReference`: group "" and kind Secret by default.
fn secret_ref() -> Node {
    object(vec![
        field("group", group()).default(json!("")),
        field("kind", kind()).default(json!("Secret")),
        field("name", object_name()).required(),
        field("namespace", namespace()),
    ])
}

fn listener_tls() -> Node {
    object(vec![
        field("certificateRefs", list(secret_ref()).max_items(64)),
        field("mode", string().one_of(&["Terminate", "Passthrough"])).default(json!("Terminate")),
        field("options", map_of(string().max_len(4096)).max_properties(16)),
    ])
    // CEL (ListenerTLSConfig): Terminate needs a certificate or an option. The rule reads
    // `size(self.certificateRefs) > 0 || size(self.options) > 0`; an absent field makes CEL
    // report "no such key" unless the other side of `||` is true.
    .rule(
        "certificateRefs or options must be specified when mode is Terminate",
        |tls| {
            if str_at(tls, "mode") != Some("Terminate") {
                return Verdict::Pass;
            }
            let size = |name: &str| -> Option<usize> {
                match tls.get(name)? {
                    Value::Array(a) => Some(a.len()),
                    Value::Object(o) => Some(o.len()),
                    _ => Some(0),
                }
            };
            match (size("certificateRefs"), size("options")) {
                (Some(c), _) if c > 0 => Verdict::Pass,
                (_, Some(o)) if o > 0 => Verdict::Pass,
                (None, _) => Verdict::NoSuchKey("certificateRefs"),
                (Some(_), None) => Verdict::NoSuchKey("options"),
                (Some(_), Some(_)) => Verdict::Fail,
            }
        },
    )
}

fn addresses() -> Node {
    list(address())
        .max_items(16)
        // CEL (GatewaySpec.addresses): IPAddress values unique.
        .rule("IPAddress values must be unique", |a| {
            unique_values_of_type(a, "IPAddress")
        })
        // CEL (GatewaySpec.addresses): Hostname values unique.
        .rule("Hostname values must be unique", |a| {
            unique_values_of_type(a, "Hostname")
        })
}

fn unique_values_of_type(addresses: &Value, type_: &str) -> Verdict {
    let all = items(addresses);
    Verdict::from(all.iter().all(|a1| {
        if str_at(a1, "type") != Some(type_) || !has(a1, "value") {
            return true;
        }
        all.iter()
            .filter(|a2| str_at(a2, "type") == Some(type_) && a2.get("value") == a1.get("value"))
            .count()
            == 1
    }))
}

fn address() -> Node {
    object(vec![
        field(
            "type",
            string().min_len(1).max_len(253).pattern(&ADDRESS_TYPE),
        )
        .default(json!("IPAddress")),
        field("value", string().max_len(253)),
    ])
    .check(ip_address_value)
    // CEL (GatewaySpecAddress): a Hostname address is empty or a (wildcard) hostname.
    .rule(
        r"Hostname value must be empty or contain only valid characters (matching ^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$)",
        |a| {
            if str_at(a, "type") != Some("Hostname") {
                return Verdict::Pass;
            }
            Verdict::from(str_at(a, "value").is_none_or(|v| HOSTNAME.is_match(v)))
        },
    )
}

/// The address item's `oneOf`: an `IPAddress` value must be an IPv4 or IPv6 address.
fn ip_address_value(address: &Value, path: &str, out: &mut Vec<Finding>) {
    if str_at(address, "type") != Some("IPAddress") {
        return;
    }
    let Some(value) = str_at(address, "value") else {
        return;
    };
    if value.parse::<Ipv4Addr>().is_ok() || value.parse::<Ipv6Addr>().is_ok() {
        return;
    }
    let value_path = super::schema::child_path(path, "value");
    out.push(messages::bad_format(&value_path, value, "ipv4"));
    out.push(messages::bad_format(&value_path, value, "ipv6"));
}

fn all_keys(map: &Value, ok: fn(&str) -> bool) -> Verdict {
    Verdict::from(map.as_object().is_none_or(|m| m.keys().all(|k| ok(k))))
}

fn key_prefix_short(key: &str) -> bool {
    key.split('/').next().unwrap_or("").chars().count() < 253
}

fn infrastructure(v: GatewayApiVersion) -> Node {
    // v1.6.0 raised the annotation limit from 8 to 16.
    let max_annotations = match v {
        GatewayApiVersion::V1_5 => 8,
        GatewayApiVersion::V1_6 => 16,
    };
    object(vec![
        field(
            "annotations",
            map_of(string().max_len(4096))
                .max_properties(max_annotations)
                // CEL (GatewayInfrastructure.annotations): key format and prefix length.
                .rule(
                    "Annotation keys must be in the form of an optional DNS subdomain prefix followed by a required name segment of up to 63 characters.",
                    |m| all_keys(m, |k| QUALIFIED_KEY.is_match(k)),
                )
                .rule(
                    "If specified, the annotation key's prefix must be a DNS subdomain not longer than 253 characters in total.",
                    |m| all_keys(m, key_prefix_short),
                ),
        ),
        field(
            "labels",
            map_of(string().max_len(63).pattern(&LABEL_VALUE))
                .max_properties(8)
                // CEL (GatewayInfrastructure.labels): key format and prefix length.
                .rule(
                    "Label keys must be in the form of an optional DNS subdomain prefix followed by a required name segment of up to 63 characters.",
                    |m| all_keys(m, |k| QUALIFIED_KEY.is_match(k)),
                )
                .rule(
                    "If specified, the label key's prefix must be a DNS subdomain not longer than 253 characters in total.",
                    |m| all_keys(m, key_prefix_short),
                ),
        ),
        field(
            "parametersRef",
            object(vec![
                field("group", group()).required(),
                field("kind", kind()).required(),
                field("name", string().min_len(1).max_len(253)).required(),
            ]),
        ),
    ])
}

/// `FrontendTLSValidation` inside a `TLSConfig`.
fn tls_config(v: GatewayApiVersion) -> Node {
    // v1.6.0 raised the CA reference limit from 8 to 16.
    let max_ca_refs = match v {
        GatewayApiVersion::V1_5 => 8,
        GatewayApiVersion::V1_6 => 16,
    };
    object(vec![field(
        "validation",
        object(vec![
            field(
                "caCertificateRefs",
                list(object(vec![
                    field("group", group()).required(),
                    field("kind", kind()).required(),
                    field("name", object_name()).required(),
                    field("namespace", namespace()),
                ]))
                .min_items(1)
                .max_items(max_ca_refs),
            )
            .required(),
            field(
                "mode",
                string().one_of(&["AllowValidOnly", "AllowInsecureFallback"]),
            )
            .default(json!("AllowValidOnly")),
        ]),
    )])
}

fn gateway_tls(v: GatewayApiVersion) -> Node {
    object(vec![
        field(
            "backend",
            object(vec![field("clientCertificateRef", secret_ref())]),
        ),
        field(
            "frontend",
            object(vec![
                field("default", tls_config(v)).required(),
                field(
                    "perPort",
                    list(object(vec![
                        field("port", port_number()).required(),
                        field("tls", tls_config(v)).required(),
                    ]))
                    .max_items(64)
                    .map_keys(&["port"])
                    // CEL (FrontendTLSConfig.perPort): one entry per port.
                    .rule(
                        "Port for TLS configuration must be unique within the Gateway",
                        |pp| {
                            let pp = items(pp);
                            Verdict::from(pp.iter().all(|a| {
                                pp.iter().filter(|b| a.get("port") == b.get("port")).count() == 1
                            }))
                        },
                    ),
                ),
            ]),
        ),
    ])
}
