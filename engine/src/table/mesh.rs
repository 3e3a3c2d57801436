//! The mesh's routing table (GAMMA): per Service port, the producer routes and each consumer
//! namespace's routes, compiled into the same per-listener index a Gateway listener uses, and
//! decided by the same code ([`super::decide_in`]: matching, precedence, filters, weights,
//! redirects, rewrites).
//!
//! A request from a pod names its destination as a client does, by DNS name (`NAME`,
//! `NAME.NAMESPACE`, `NAME.NAMESPACE.svc`, `NAME.NAMESPACE.svc.cluster.local`, resolved in the
//! client's namespace) and port: the routes are chosen by the Service the name resolves to,
//! never by the Host header (MeshClusterIPMatching). Requests from a namespace with consumer
//! routes on the port use those; others use the producer routes; with neither, the request
//! goes to the Service itself, as kube-proxy would send it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use std::fmt::Write as _;

use rand::RngCore;
use serde::Serialize;

use super::index::ListenerRoutes;
use super::listing::ListingEntry;
use super::matching::RequestView;
use super::{Origin, decide_in, describe_request, refused};
use crate::config::MeshService;
use crate::decision::{Decision, Forward, Outcome, Request, ServiceRef};
use crate::explain::Explanation;
use crate::object::ObjectKey;

/// The cluster's DNS domain.
const CLUSTER_DOMAIN: &str = "svc.cluster.local";

/// Routing state of the mesh: every Service and the routes on its ports.
#[derive(Clone, Debug, Default)]
pub struct MeshTable {
    compiled: Arc<MeshCompiled>,
}

#[derive(Debug, Default)]
struct MeshCompiled {
    services: Vec<CompiledService>,
    /// Positions in `services` by (namespace, name).
    index: HashMap<(String, String), usize>,
}

#[derive(Debug)]
struct CompiledService {
    key: ObjectKey,
    ports: Vec<CompiledPort>,
}

#[derive(Debug)]
struct CompiledPort {
    port: u16,
    app_protocol: Option<String>,
    /// `None`: no producer route.
    producer: Option<ListenerRoutes>,
    consumers: BTreeMap<String, ListenerRoutes>,
}

/// A request's destination in the mesh: the Service a client's DNS name resolved to, and the
/// port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeshDestination {
    /// Kind Service.
    pub service: ObjectKey,
    pub port: u16,
}

impl MeshTable {
    /// Compiles the table from the controller's mesh output.
    pub fn build(services: &[MeshService]) -> MeshTable {
        let mut compiled = MeshCompiled::default();
        for service in services {
            let ports = service
                .ports
                .iter()
                .map(|p| CompiledPort {
                    port: p.port,
                    app_protocol: p.app_protocol.clone(),
                    producer: (!p.producer.is_empty()).then(|| ListenerRoutes::build(&p.producer)),
                    consumers: p
                        .consumers
                        .iter()
                        .map(|(ns, routes)| (ns.clone(), ListenerRoutes::build(routes)))
                        .collect(),
                })
                .collect();
            compiled.index.insert(
                (service.key.namespace.clone(), service.key.name.clone()),
                compiled.services.len(),
            );
            compiled.services.push(CompiledService {
                key: service.key.clone(),
                ports,
            });
        }
        MeshTable {
            compiled: Arc::new(compiled),
        }
    }

    /// Resolves what a client in `from_namespace` names (a URL authority: DNS name with an
    /// optional `:port`, 80 when absent) to a Service port. Errors say why, as a client's
    /// resolver or connection would fail.
    pub fn resolve(
        &self,
        authority: &str,
        from_namespace: &str,
    ) -> Result<MeshDestination, String> {
        let (host, port) = split_authority(authority)?;
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let (name, namespace) = match host.split_once('.') {
            None => (host.as_str(), from_namespace),
            Some((name, rest)) => {
                let namespace = rest
                    .strip_suffix(CLUSTER_DOMAIN)
                    .and_then(|r| r.strip_suffix('.'))
                    .or_else(|| rest.strip_suffix(".svc"))
                    .unwrap_or(rest);
                if namespace.is_empty() || namespace.contains('.') {
                    return Err(format!(
                        "{host}: not a Service name (NAME, NAME.NAMESPACE, NAME.NAMESPACE.svc or NAME.NAMESPACE.{CLUSTER_DOMAIN}): the name does not resolve"
                    ));
                }
                (name, namespace)
            }
        };
        let Some(&at) = self
            .compiled
            .index
            .get(&(namespace.to_string(), name.to_string()))
        else {
            return Err(format!(
                "{host}: no Service {namespace}/{name}: the name does not resolve"
            ));
        };
        let service = &self.compiled.services[at];
        if !service.ports.iter().any(|p| p.port == port) {
            let ports: Vec<String> = service.ports.iter().map(|p| p.port.to_string()).collect();
            return Err(format!(
                "connection refused: Service {namespace}/{name} has no port {port} (ports: {})",
                if ports.is_empty() {
                    "none".to_string()
                } else {
                    ports.join(", ")
                }
            ));
        }
        Ok(MeshDestination {
            service: service.key.clone(),
            port,
        })
    }

    /// Every Service port of the mesh, in Service key order and then `spec.ports` order, with
    /// its appProtocol: what a data plane listens on.
    pub fn service_ports(&self) -> impl Iterator<Item = (&ObjectKey, u16, Option<&str>)> {
        self.compiled.services.iter().flat_map(|s| {
            s.ports
                .iter()
                .map(move |p| (&s.key, p.port, p.app_protocol.as_deref()))
        })
    }

    /// What happens to `request` sent to `to` by a client outside the mesh (no pod of the
    /// cluster: a data plane that cannot tell who sent it): no mesh route applies to it, the
    /// Service's own endpoints take it, as kube-proxy sends it.
    pub fn decide_outside(&self, to: &MeshDestination, request: &Request) -> Decision {
        let ex = Explanation {
            detailed: true,
            request: format!("{} from outside the mesh", describe_request(request)),
            ..Explanation::default()
        };
        let found = self
            .compiled
            .index
            .get(&(to.service.namespace.clone(), to.service.name.clone()))
            .map(|&i| &self.compiled.services[i])
            .and_then(|s| Some((s, s.ports.iter().find(|p| p.port == to.port)?)));
        match found {
            Some((service, port)) => {
                let mut decision = to_service_itself(service, port, request, ex);
                decision.explanation.outcome = format!(
                    "forwarded to Service {}:{} itself: the client is outside the mesh, so no mesh route applies",
                    service.key.namespaced_name(),
                    port.port
                );
                decision
            }
            None => refused(
                ex,
                format!(
                    "no Service {} with port {} in the mesh",
                    to.service.namespaced_name(),
                    to.port
                ),
            ),
        }
    }

    /// Decides what happens to `request` (its `port` is the destination's), sent by a pod in
    /// `from_namespace` to `to`, with the full explanation. `rng` as for Gateway decisions.
    pub fn decide(
        &self,
        from_namespace: &str,
        to: &MeshDestination,
        request: &Request,
        rng: &mut dyn RngCore,
    ) -> Decision {
        self.decide_with(from_namespace, to, request, rng, true)
    }

    /// [`MeshTable::decide`] without an explanation (same outcome and draws).
    pub fn decide_fast(
        &self,
        from_namespace: &str,
        to: &MeshDestination,
        request: &Request,
        rng: &mut dyn RngCore,
    ) -> Decision {
        self.decide_with(from_namespace, to, request, rng, false)
    }

    fn decide_with(
        &self,
        from_namespace: &str,
        to: &MeshDestination,
        request: &Request,
        rng: &mut dyn RngCore,
        detailed: bool,
    ) -> Decision {
        let mut ex = Explanation {
            detailed,
            ..Explanation::default()
        };
        if detailed {
            ex.request = format!(
                "{} from a pod in namespace {from_namespace}",
                describe_request(request)
            );
        }
        let found = self
            .compiled
            .index
            .get(&(to.service.namespace.clone(), to.service.name.clone()))
            .map(|&i| &self.compiled.services[i])
            .and_then(|s| Some((s, s.ports.iter().find(|p| p.port == to.port)?)));
        let Some((service, port)) = found else {
            return refused(
                ex,
                format!(
                    "no Service {} with port {} in the mesh",
                    to.service.namespaced_name(),
                    to.port
                ),
            );
        };
        if detailed {
            ex.gateway = Some(format!(
                "Service {} (mesh: the request's destination)",
                service.key.namespaced_name()
            ));
        }
        let (routes, audience) = match port.consumers.get(from_namespace) {
            Some(routes) => (
                Some(routes),
                format!("consumer routes of namespace {from_namespace}"),
            ),
            None => (port.producer.as_ref(), "producer routes".to_string()),
        };
        let label = format!("port {}, {audience}", port.port);
        let Some(routes) = routes else {
            return to_service_itself(service, port, request, ex);
        };
        if detailed {
            ex.listener = Some(label.clone());
            if port.consumers.contains_key(from_namespace) && port.producer.is_some() {
                ex.notes.push(format!(
                    "the client's namespace {from_namespace} has consumer routes for this port: the producer routes do not apply to it (GEP-1294)"
                ));
            }
        }
        let view = RequestView::new(request);
        let origin = Origin {
            parent: &service.key,
            listener: &label,
            port: port.port,
            noun: "Service",
        };
        decide_in(routes, request, &view, origin, ex, true, rng)
    }
}

/// The mesh's routes for people (`gwsim routes --mesh`): per Service port with routes, the
/// producer routes and each consumer namespace's, every entry in precedence order.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MeshListing {
    pub services: Vec<MeshServiceListing>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MeshServiceListing {
    pub service: ObjectKey,
    pub ports: Vec<MeshRoutesListing>,
}

/// One set of routes of a Service port: the producer routes, or one namespace's consumer
/// routes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MeshRoutesListing {
    pub port: u16,
    /// `None`: the producer routes; `Some(ns)`: the consumer routes of clients in `ns`.
    pub consumer_namespace: Option<String>,
    pub entries: Vec<ListingEntry>,
}

impl MeshTable {
    /// Every Service port with routes, in key and port order.
    pub fn listing(&self) -> MeshListing {
        let services = self
            .compiled
            .services
            .iter()
            .map(|s| MeshServiceListing {
                service: s.key.clone(),
                ports: s
                    .ports
                    .iter()
                    .flat_map(|p| {
                        let producer = p.producer.iter().map(|r| (None, r));
                        let consumers = p.consumers.iter().map(|(ns, r)| (Some(ns.clone()), r));
                        producer
                            .chain(consumers)
                            .map(|(ns, routes)| MeshRoutesListing {
                                port: p.port,
                                consumer_namespace: ns,
                                entries: super::listing::list_routes(routes, |_| true),
                            })
                    })
                    .collect(),
            })
            .filter(|s| !s.ports.is_empty())
            .collect();
        MeshListing { services }
    }
}

impl MeshListing {
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        if self.services.is_empty() {
            out.push_str("no route is attached to a Service\n");
        }
        for s in &self.services {
            let _ = writeln!(out, "Service {}", s.service.namespaced_name());
            for p in &s.ports {
                let _ = match &p.consumer_namespace {
                    None => writeln!(out, "  port {}, producer routes", p.port),
                    Some(ns) => writeln!(
                        out,
                        "  port {}, consumer routes of namespace {ns} (for its clients only)",
                        p.port
                    ),
                };
                let _ = super::listing::write_entries(&mut out, &p.entries);
            }
        }
        out
    }
}

/// A URL authority's host and port (80, http's, when none is given).
pub fn split_authority(authority: &str) -> Result<(&str, u16), String> {
    match authority.rsplit_once(':') {
        Some((h, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
            let port: u16 = p
                .parse()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| format!("{authority}: port {p} is not a port number"))?;
            Ok((h, port))
        }
        _ => Ok((authority, 80)),
    }
}

/// No route applies: the request goes to the Service's own endpoints, unchanged.
fn to_service_itself(
    service: &CompiledService,
    port: &CompiledPort,
    request: &Request,
    mut ex: Explanation,
) -> Decision {
    let backend = ServiceRef {
        namespace: service.key.namespace.clone(),
        name: service.key.name.clone(),
        port: port.port,
        app_protocol: port.app_protocol.clone(),
        tls: None,
    };
    if ex.detailed {
        ex.listener = Some(format!("port {}", port.port));
        ex.outcome = format!(
            "forwarded to Service {}:{} itself: no mesh route applies to this port",
            service.key.namespaced_name(),
            port.port
        );
    }
    Decision {
        outcome: Outcome::Forward(Box::new(Forward::unfiltered(backend, request.clone()))),
        provenance: None,
        explanation: ex,
    }
}

#[cfg(test)]
#[path = "mesh_tests.rs"]
mod tests;
