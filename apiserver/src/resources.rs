//! The resources gwsim serves: names, scope, verbs, short names, categories and printer
//! columns, and the discovery documents built from them.
//!
//! Names, short names and categories of the Gateway API kinds are those of the v1.6.1 CRDs;
//! core kinds use kube-apiserver's.

use gwsim_engine::object::Kind;
use serde_json::{Value, json};

/// How a printer column gets its cell.
#[derive(Clone, Copy, Debug)]
pub enum Cell {
    /// A CRD `additionalPrinterColumns` JSONPath (the subset the Gateway API CRDs use).
    Path(&'static str),
    /// `metadata.creationTimestamp` as an age (`5m`).
    Age,
    /// A column kube-apiserver computes for a core kind.
    Computed(fn(&Value) -> Value),
}

/// One column of server-side printing.
#[derive(Clone, Copy, Debug)]
pub struct Column {
    pub name: &'static str,
    pub type_: &'static str,
    /// 0: always shown; 1: only with `-o wide`.
    pub priority: i32,
    pub cell: Cell,
}

const fn col(name: &'static str, cell: Cell) -> Column {
    Column {
        name,
        type_: "string",
        priority: 0,
        cell,
    }
}

const AGE: Column = Column {
    name: "Age",
    type_: "date",
    priority: 0,
    cell: Cell::Age,
};

/// One served resource.
#[derive(Debug)]
pub struct Resource {
    pub kind: Kind,
    pub plural: &'static str,
    pub singular: &'static str,
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    /// Whether it has a `status` subresource.
    pub status: bool,
    /// Printer columns after `Name`.
    pub columns: &'static [Column],
}

pub const VERSION_V1: &str = "v1";

const GATEWAY_API: &[&str] = &["gateway-api"];

/// Every resource, in discovery order.
pub static RESOURCES: &[Resource] = &[
    Resource {
        kind: Kind::Namespace,
        plural: "namespaces",
        singular: "namespace",
        short_names: &["ns"],
        categories: &[],
        status: true,
        columns: &[col("Status", Cell::Path(".status.phase")), AGE],
    },
    Resource {
        kind: Kind::Service,
        plural: "services",
        singular: "service",
        short_names: &["svc"],
        categories: &["all"],
        status: true,
        columns: &[
            col("Type", Cell::Path(".spec.type")),
            col("Cluster-IP", Cell::Path(".spec.clusterIP")),
            col("External-IP", Cell::Computed(crate::printing::external_ips)),
            col("Port(s)", Cell::Computed(crate::printing::service_ports)),
            AGE,
            Column {
                name: "Selector",
                type_: "string",
                priority: 1,
                cell: Cell::Computed(crate::printing::service_selector),
            },
        ],
    },
    Resource {
        kind: Kind::Pod,
        plural: "pods",
        singular: "pod",
        short_names: &["po"],
        categories: &["all"],
        status: true,
        columns: &[
            col("Ready", Cell::Computed(crate::printing::pod_ready)),
            col("Status", Cell::Path(".status.phase")),
            Column {
                name: "Restarts",
                type_: "string",
                priority: 0,
                cell: Cell::Computed(crate::printing::pod_restarts),
            },
            AGE,
            Column {
                name: "IP",
                type_: "string",
                priority: 1,
                cell: Cell::Path(".status.podIP"),
            },
        ],
    },
    Resource {
        kind: Kind::Secret,
        plural: "secrets",
        singular: "secret",
        short_names: &[],
        categories: &[],
        status: false,
        columns: &[
            col("Type", Cell::Path(".type")),
            Column {
                name: "Data",
                type_: "string",
                priority: 0,
                cell: Cell::Computed(crate::printing::data_count),
            },
            AGE,
        ],
    },
    Resource {
        kind: Kind::ConfigMap,
        plural: "configmaps",
        singular: "configmap",
        short_names: &["cm"],
        categories: &[],
        status: false,
        columns: &[
            Column {
                name: "Data",
                type_: "string",
                priority: 0,
                cell: Cell::Computed(crate::printing::data_count),
            },
            AGE,
        ],
    },
    Resource {
        kind: Kind::Deployment,
        plural: "deployments",
        singular: "deployment",
        short_names: &["deploy"],
        categories: &["all"],
        status: true,
        columns: &[
            col("Ready", Cell::Computed(crate::printing::deployment_ready)),
            col(
                "Up-to-date",
                Cell::Computed(crate::printing::deployment_updated),
            ),
            col(
                "Available",
                Cell::Computed(crate::printing::deployment_available),
            ),
            AGE,
        ],
    },
    Resource {
        kind: Kind::EndpointSlice,
        plural: "endpointslices",
        singular: "endpointslice",
        short_names: &[],
        categories: &[],
        status: false,
        columns: &[
            col("AddressType", Cell::Path(".addressType")),
            col("Ports", Cell::Computed(crate::printing::slice_ports)),
            col(
                "Endpoints",
                Cell::Computed(crate::printing::slice_endpoints),
            ),
            AGE,
        ],
    },
    Resource {
        kind: Kind::GatewayClass,
        plural: "gatewayclasses",
        singular: "gatewayclass",
        short_names: &["gc"],
        categories: GATEWAY_API,
        status: true,
        columns: &[
            col("Controller", Cell::Path(".spec.controllerName")),
            col(
                "Accepted",
                Cell::Path(".status.conditions[?(@.type==\"Accepted\")].status"),
            ),
            AGE,
            Column {
                name: "Description",
                type_: "string",
                priority: 1,
                cell: Cell::Path(".spec.description"),
            },
        ],
    },
    Resource {
        kind: Kind::Gateway,
        plural: "gateways",
        singular: "gateway",
        short_names: &["gtw"],
        categories: GATEWAY_API,
        status: true,
        columns: &[
            col("Class", Cell::Path(".spec.gatewayClassName")),
            col("Address", Cell::Path(".status.addresses[*].value")),
            col(
                "Programmed",
                Cell::Path(".status.conditions[?(@.type==\"Programmed\")].status"),
            ),
            AGE,
        ],
    },
    Resource {
        kind: Kind::ListenerSet,
        plural: "listenersets",
        singular: "listenerset",
        short_names: &["lset"],
        categories: GATEWAY_API,
        status: true,
        columns: &[
            col(
                "Accepted",
                Cell::Path(".status.conditions[?(@.type==\"Accepted\")].status"),
            ),
            col(
                "Programmed",
                Cell::Path(".status.conditions[?(@.type==\"Programmed\")].status"),
            ),
            AGE,
        ],
    },
    Resource {
        kind: Kind::HttpRoute,
        plural: "httproutes",
        singular: "httproute",
        short_names: &[],
        categories: GATEWAY_API,
        status: true,
        columns: &[col("Hostnames", Cell::Path(".spec.hostnames")), AGE],
    },
    Resource {
        kind: Kind::GrpcRoute,
        plural: "grpcroutes",
        singular: "grpcroute",
        short_names: &[],
        categories: GATEWAY_API,
        status: true,
        columns: &[col("Hostnames", Cell::Path(".spec.hostnames")), AGE],
    },
    Resource {
        kind: Kind::TlsRoute,
        plural: "tlsroutes",
        singular: "tlsroute",
        short_names: &[],
        categories: GATEWAY_API,
        status: true,
        columns: &[col("Hostnames", Cell::Path(".spec.hostnames")), AGE],
    },
    Resource {
        kind: Kind::TcpRoute,
        plural: "tcproutes",
        singular: "tcproute",
        short_names: &[],
        categories: GATEWAY_API,
        status: true,
        columns: &[AGE],
    },
    Resource {
        kind: Kind::UdpRoute,
        plural: "udproutes",
        singular: "udproute",
        short_names: &[],
        categories: GATEWAY_API,
        status: true,
        columns: &[AGE],
    },
    Resource {
        kind: Kind::ReferenceGrant,
        plural: "referencegrants",
        singular: "referencegrant",
        short_names: &["refgrant"],
        categories: GATEWAY_API,
        status: false,
        columns: &[AGE],
    },
    Resource {
        kind: Kind::BackendTlsPolicy,
        plural: "backendtlspolicies",
        singular: "backendtlspolicy",
        short_names: &["btlspolicy"],
        categories: GATEWAY_API,
        status: true,
        columns: &[AGE],
    },
];

impl Resource {
    pub fn group(&self) -> &'static str {
        self.kind.group()
    }

    pub fn namespaced(&self) -> bool {
        self.kind.namespaced()
    }

    /// `httproutes.gateway.networking.k8s.io`, `services`: how error messages name it.
    pub fn qualified_plural(&self) -> String {
        match self.group() {
            "" => self.plural.to_string(),
            g => format!("{}.{g}", self.plural),
        }
    }

    /// `apiVersion` of objects and lists.
    pub fn api_version(&self) -> &'static str {
        self.kind.api_version()
    }

    pub fn verbs(&self) -> &'static [&'static str] {
        &[
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ]
    }
}

/// The resource at `group`/`version` named `plural`.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static Resource> {
    RESOURCES
        .iter()
        .find(|r| r.group() == group && r.plural == plural && serves(r.kind, version))
}

/// Whether `kind` is served at `version`, as the v1.6 experimental-channel CRDs serve it.
pub fn serves(kind: Kind, version: &str) -> bool {
    match version {
        VERSION_V1 => true,
        // v1beta1 Gateway API kinds share the v1 schema (conversion strategy None).
        "v1beta1" => matches!(
            kind,
            Kind::GatewayClass | Kind::Gateway | Kind::HttpRoute | Kind::ReferenceGrant
        ),
        // BackendTLSPolicy's and TLSRoute's deprecated v1alpha3 share the v1 schema too.
        "v1alpha3" => matches!(kind, Kind::BackendTlsPolicy | Kind::TlsRoute),
        // The deprecated v1alpha2 of TLSRoute, TCPRoute and UDPRoute has a schema of its own,
        // which admission applies ([`admitted_as`]).
        "v1alpha2" => matches!(kind, Kind::TlsRoute | Kind::TcpRoute | Kind::UdpRoute),
        _ => false,
    }
}

/// The `apiVersion` a body sent at `version` is admitted as: the version itself where its
/// schema differs from v1's (v1alpha2), else the kind's v1 `apiVersion`.
pub fn admitted_as(resource: &Resource, version: &str) -> String {
    match version {
        "v1alpha2" if serves(resource.kind, version) => {
            format!("{}/{version}", resource.group())
        }
        _ => resource.api_version().to_string(),
    }
}

pub fn for_kind(kind: Kind) -> &'static Resource {
    RESOURCES
        .iter()
        .find(|r| r.kind == kind)
        .expect("every kind is served")
}

/// The groups other than core, in discovery order, with their served versions (preferred first).
pub fn groups() -> Vec<(&'static str, Vec<&'static str>)> {
    let mut out: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
    for r in RESOURCES {
        let g = r.group();
        if g.is_empty() || out.iter().any(|(x, _)| *x == g) {
            continue;
        }
        let versions = if g == gwsim_engine::object::GATEWAY_GROUP {
            vec![VERSION_V1, "v1beta1", "v1alpha3", "v1alpha2"]
        } else {
            vec![VERSION_V1]
        };
        out.push((g, versions));
    }
    out
}

fn in_group_version<'a>(
    group: &'a str,
    version: &'a str,
) -> impl Iterator<Item = &'static Resource> + 'a {
    RESOURCES
        .iter()
        .filter(move |r| r.group() == group && find(group, version, r.plural).is_some())
}

fn group_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    }
}

/// `/api`.
pub fn api_versions() -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}]
    })
}

/// `/apis`.
pub fn api_group_list() -> Value {
    let groups: Vec<Value> = groups()
        .into_iter()
        .map(|(g, versions)| {
            let versions: Vec<Value> = versions
                .iter()
                .map(|v| json!({"groupVersion": group_version(g, v), "version": v}))
                .collect();
            json!({
                "name": g,
                "versions": versions,
                "preferredVersion": versions[0],
            })
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/GROUP/VERSION` and `/api/v1`, or `None` when not served.
pub fn api_resource_list(group: &str, version: &str) -> Option<Value> {
    let mut resources = Vec::new();
    for r in in_group_version(group, version) {
        let mut entry = json!({
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced(),
            "kind": r.kind.as_str(),
            "verbs": r.verbs(),
        });
        if !r.short_names.is_empty() {
            entry["shortNames"] = json!(r.short_names);
        }
        if !r.categories.is_empty() {
            entry["categories"] = json!(r.categories);
        }
        resources.push(entry);
        if r.status {
            resources.push(json!({
                "name": format!("{}/status", r.plural),
                "singularName": "",
                "namespaced": r.namespaced(),
                "kind": r.kind.as_str(),
                "verbs": ["get", "patch", "update"],
            }));
        }
        if r.kind == Kind::Pod {
            resources.push(json!({
                "name": "pods/log",
                "singularName": "",
                "namespaced": true,
                "kind": "Pod",
                "verbs": ["get"],
            }));
        }
    }
    if resources.is_empty() {
        return None;
    }
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version(group, version),
        "resources": resources,
    }))
}

/// The aggregated discovery document (`apidiscovery.k8s.io/v2` `APIGroupDiscoveryList`) of
/// the core group (`legacy`) or of every named group.
pub fn aggregated(legacy: bool) -> Value {
    let groups: Vec<(&str, Vec<&str>)> = if legacy {
        vec![("", vec![VERSION_V1])]
    } else {
        groups()
    };
    let items: Vec<Value> = groups
        .into_iter()
        .map(|(g, versions)| {
            let versions: Vec<Value> = versions
                .iter()
                .map(|v| {
                    let resources: Vec<Value> = in_group_version(g, v)
                        .map(|r| {
                            let gvk = json!({"group": g, "version": v, "kind": r.kind.as_str()});
                            let mut entry = json!({
                                "resource": r.plural,
                                "responseKind": gvk,
                                "scope": if r.namespaced() { "Namespaced" } else { "Cluster" },
                                "singularResource": r.singular,
                                "verbs": r.verbs(),
                            });
                            if !r.short_names.is_empty() {
                                entry["shortNames"] = json!(r.short_names);
                            }
                            if !r.categories.is_empty() {
                                entry["categories"] = json!(r.categories);
                            }
                            if r.status {
                                entry["subresources"] = json!([{
                                    "subresource": "status",
                                    "responseKind": gvk,
                                    "verbs": ["get", "patch", "update"],
                                }]);
                            }
                            entry
                        })
                        .collect();
                    json!({"version": v, "resources": resources, "freshness": "Current"})
                })
                .collect();
            let mut meta = json!({});
            if !g.is_empty() {
                meta["name"] = json!(g);
            }
            json!({"metadata": meta, "versions": versions})
        })
        .collect();
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    })
}
