//! Workloads: the parts of kube-controller-manager and the kubelet the simulator needs.
//!
//! - Deployments get pods named `<deployment>-<template hash>-<pod hash>`, both hashes
//!   deterministic (FNV-1a of the pod template, and of the template hash with a counter),
//!   written in the API server's safe alphabet. A changed template replaces the pods at once
//!   (no rolling update); a changed `replicas` adds or removes pods.
//! - Every pod becomes Ready immediately, with an IP from 10.244.0.0/16 handed out in order
//!   (and an IPv6 one from fd00:10:244::/64); the order wraps round past the last of the
//!   65,024 addresses and skips addresses in use.
//! - Work is bounded ([`crate::limits`]): a Deployment asking for more replicas than gwsim's
//!   limit is refused when applied ([`check_replicas`]); past the limit of pods in the
//!   cluster, a Deployment gets no more pods and a `ReplicaFailure` condition saying why.
//!   Readiness is immediate so that a scenario never waits for pods; real clusters need a wait.
//! - Services with a selector get one EndpointSlice listing their ready pods (headless
//!   Services too); selector-less Services keep the EndpointSlices given by hand.
//!
//! Everything is written through [`Store::put`], so resourceVersions move as on a real cluster.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, Ipv6Addr};

use gwsim_engine::object::{Kind, Object, ObjectKey};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentCondition, DeploymentStatus};
use k8s_openapi::api::core::v1::{ObjectReference, Pod, PodCondition, PodIP, PodStatus, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::limits::{MAX_PODS, MAX_REPLICAS_PER_DEPLOYMENT};
use crate::store::Store;
use crate::time::SimTime;

/// Label naming the Service an EndpointSlice belongs to.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// Label marking EndpointSlices the simulated endpoint controller owns.
pub const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";
/// Value of [`MANAGED_BY_LABEL`] on the slices this module writes.
pub const ENDPOINT_CONTROLLER: &str = "endpointslice-controller.k8s.io";
/// Label carrying the pod template hash.
pub const TEMPLATE_HASH_LABEL: &str = "pod-template-hash";

/// 64-bit FNV-1a: a stable hash, the same on every platform and run.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// `len` characters of `hash` in the API server's alphabet for generated names (no vowels,
/// no characters that look alike).
pub fn name_suffix(mut hash: u64, len: usize) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut out = String::with_capacity(len);
    for _ in 0..len {
        out.push(ALPHABET[(hash % ALPHABET.len() as u64) as usize] as char);
        hash /= ALPHABET.len() as u64;
    }
    out
}

/// Pod addresses in 10.244.0.0/16: every /24 but its `.0` and `.255`, 256 × 254.
pub const POD_ADDRESSES: u32 = 256 * 254;

/// The `n`th pod address (`n` below [`POD_ADDRESSES`]): `10.244.{n / 254}.{n % 254 + 1}`, and
/// `fd00:10:244::{n + 1}` for the IPv6 one.
pub fn pod_address(n: u32) -> (Ipv4Addr, Ipv6Addr) {
    let n = n % POD_ADDRESSES;
    let v4 = Ipv4Addr::new(10, 244, (n / 254) as u8, (n % 254 + 1) as u8);
    let v6 = Ipv6Addr::new(0xfd00, 0x10, 0x244, 0, 0, 0, 0, (n + 1) as u16);
    (v4, v6)
}

/// Refuses a Deployment document whose `spec.replicas` is negative (as the API server does)
/// or past gwsim's limit, in the API server's words. `None` for anything else.
pub fn check_replicas(doc: &serde_json::Value) -> Option<String> {
    if doc.get("kind").and_then(|k| k.as_str()) != Some("Deployment") {
        return None;
    }
    let replicas = doc.pointer("/spec/replicas")?.as_i64()?;
    let detail = if replicas < 0 {
        "must be greater than or equal to 0".to_string()
    } else if replicas > i64::from(MAX_REPLICAS_PER_DEPLOYMENT) {
        format!(
            "must be less than or equal to {MAX_REPLICAS_PER_DEPLOYMENT}, gwsim's limit of replicas per Deployment (docs/limits.md)"
        )
    } else {
        return None;
    };
    let name = doc
        .pointer("/metadata/name")
        .and_then(|n| n.as_str())
        .unwrap_or("");
    Some(format!(
        "Deployment.apps {name:?} is invalid: spec.replicas: Invalid value: {replicas}: {detail}"
    ))
}

/// Counters of the workload controllers, kept between syncs so names and IPs are not reused
/// while free ones are left.
#[derive(Clone, Debug)]
pub struct Workloads {
    next_pod: u64,
    next_ip: u32,
    /// Pods the controllers keep in the cluster ([`MAX_PODS`]; smaller in tests).
    max_pods: usize,
}

impl Default for Workloads {
    fn default() -> Workloads {
        Workloads {
            next_pod: 0,
            next_ip: 0,
            max_pods: MAX_PODS,
        }
    }
}

impl Workloads {
    pub fn new() -> Workloads {
        Workloads::default()
    }

    /// Brings pods, Deployment statuses and managed EndpointSlices in line with the store.
    /// Returns whether anything was written.
    pub fn sync(&mut self, store: &mut Store, now: SimTime) -> bool {
        let before = store.resource_version();
        self.sync_deployments(store, now);
        self.start_pods(store, now);
        sync_endpoint_slices(store, now);
        store.resource_version() != before
    }

    fn sync_deployments(&mut self, store: &mut Store, now: SimTime) {
        let deployments: Vec<Deployment> = store
            .list(Kind::Deployment)
            .filter_map(|o| match o {
                Object::Deployment(d) => Some(d.as_ref().clone()),
                _ => None,
            })
            .collect();
        let mut owners: BTreeMap<(String, String), String> = BTreeMap::new();
        for deployment in &deployments {
            let ns = deployment.metadata.namespace.clone().unwrap_or_default();
            let name = deployment.metadata.name.clone().unwrap_or_default();
            let uid = deployment.metadata.uid.clone().unwrap_or_default();
            owners.insert((ns.clone(), name.clone()), uid.clone());
            let spec = deployment.spec.clone().unwrap_or_default();
            let template = spec.template;
            let template_json = serde_json::to_string(&template).unwrap_or_default();
            let template_hash = name_suffix(fnv1a(template_json.as_bytes()), 10);
            let replicas = usize::try_from(spec.replicas.unwrap_or(1)).unwrap_or(0);

            let owned: Vec<Pod> = owned_pods(store, &ns, &name, &uid);
            let (current, stale): (Vec<Pod>, Vec<Pod>) = owned
                .into_iter()
                .partition(|p| label(&p.metadata, TEMPLATE_HASH_LABEL) == Some(&template_hash));
            let mut delete: Vec<String> = stale.iter().map(pod_name).collect();
            delete.extend(current.iter().skip(replicas).map(pod_name));
            for pod in delete {
                // The pod was listed a moment ago, so it exists.
                let _ = store.delete(&ObjectKey::new(Kind::Pod, &ns, pod), now);
            }
            let mut running = current.len().min(replicas);
            let mut pods_in_cluster = store.list(Kind::Pod).count();
            while running < replicas && pods_in_cluster < self.max_pods {
                let pod = self.new_pod(deployment, &template, &template_hash, store);
                store.put(Object::Pod(Box::new(pod)), now);
                running += 1;
                pods_in_cluster += 1;
            }

            let ready = i32::try_from(running).unwrap_or(i32::MAX);
            let failure = (running < replicas).then(|| {
                let message = format!(
                    "pods {name:?} is forbidden: the cluster has {pods_in_cluster} pods, gwsim's limit of pods (docs/limits.md)"
                );
                let since = deployment
                    .status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .and_then(|c| c.iter().find(|c| c.type_ == "ReplicaFailure"))
                    .and_then(|c| c.last_transition_time.clone())
                    .unwrap_or_else(|| now.meta_time());
                vec![DeploymentCondition {
                    type_: "ReplicaFailure".into(),
                    status: "True".into(),
                    reason: Some("FailedCreate".into()),
                    message: Some(message),
                    last_transition_time: Some(since.clone()),
                    last_update_time: Some(since),
                }]
            });
            let mut updated = deployment.clone();
            updated.status = Some(DeploymentStatus {
                observed_generation: deployment.metadata.generation,
                replicas: Some(ready),
                ready_replicas: Some(ready),
                available_replicas: Some(ready),
                updated_replicas: Some(ready),
                conditions: failure,
                ..DeploymentStatus::default()
            });
            store.put(Object::Deployment(Box::new(updated)), now);
        }

        // Pods whose Deployment is gone are garbage-collected.
        let orphans: Vec<ObjectKey> = store
            .list(Kind::Pod)
            .filter_map(|o| match o {
                Object::Pod(p) => {
                    let owner = deployment_owner(&p.metadata)?;
                    let ns = p.metadata.namespace.clone().unwrap_or_default();
                    match owners.get(&(ns.clone(), owner.name.clone())) {
                        Some(uid) if *uid == owner.uid => None,
                        _ => Some(ObjectKey::new(Kind::Pod, ns, pod_name(p))),
                    }
                }
                _ => None,
            })
            .collect();
        for key in orphans {
            let _ = store.delete(&key, now);
        }
    }

    fn new_pod(
        &mut self,
        deployment: &Deployment,
        template: &k8s_openapi::api::core::v1::PodTemplateSpec,
        template_hash: &str,
        store: &Store,
    ) -> Pod {
        let ns = deployment.metadata.namespace.clone().unwrap_or_default();
        let deploy_name = deployment.metadata.name.clone().unwrap_or_default();
        let name = loop {
            let seed = format!("{template_hash}/{}", self.next_pod);
            self.next_pod += 1;
            let candidate = format!(
                "{deploy_name}-{template_hash}-{}",
                name_suffix(fnv1a(seed.as_bytes()), 5)
            );
            if store
                .get(&ObjectKey::new(Kind::Pod, &ns, &candidate))
                .is_none()
            {
                break candidate;
            }
        };
        let template_meta = template.metadata.clone().unwrap_or_default();
        let mut labels = template_meta.labels.unwrap_or_default();
        labels.insert(TEMPLATE_HASH_LABEL.into(), template_hash.to_string());
        Pod {
            metadata: ObjectMeta {
                name: Some(name),
                namespace: Some(ns),
                labels: Some(labels),
                annotations: template_meta.annotations,
                owner_references: Some(vec![OwnerReference {
                    api_version: "apps/v1".into(),
                    kind: "Deployment".into(),
                    name: deploy_name,
                    uid: deployment.metadata.uid.clone().unwrap_or_default(),
                    controller: Some(true),
                    block_owner_deletion: Some(true),
                }]),
                ..ObjectMeta::default()
            },
            spec: template.spec.clone(),
            status: None,
        }
    }

    /// The kubelet: every pod without an IP gets one and becomes Ready.
    fn start_pods(&mut self, store: &mut Store, now: SimTime) {
        let pending: Vec<Pod> = store
            .list(Kind::Pod)
            .filter_map(|o| match o {
                Object::Pod(p) if pod_ip(p).is_none() => Some(p.as_ref().clone()),
                _ => None,
            })
            .collect();
        if pending.is_empty() {
            return;
        }
        let mut in_use: BTreeSet<String> = store
            .list(Kind::Pod)
            .filter_map(|o| match o {
                Object::Pod(p) => pod_ip(p).map(String::from),
                _ => None,
            })
            .collect();
        for mut pod in pending {
            // The next free address in order; every address taken leaves the pod pending.
            let Some((v4, v6)) = (0..POD_ADDRESSES).find_map(|_| {
                let address = pod_address(self.next_ip % POD_ADDRESSES);
                self.next_ip = (self.next_ip + 1) % POD_ADDRESSES;
                (!in_use.contains(&address.0.to_string())).then_some(address)
            }) else {
                return;
            };
            let ip = v4.to_string();
            in_use.insert(ip.clone());
            // Dual-stack, as conformance clusters often are: an IPv6 address from fd00:10:244::/64.
            let ip6 = v6.to_string();
            let condition = |type_: &str| PodCondition {
                type_: type_.into(),
                status: "True".into(),
                last_transition_time: Some(now.meta_time()),
                ..PodCondition::default()
            };
            pod.status = Some(PodStatus {
                phase: Some("Running".into()),
                pod_ip: Some(ip.clone()),
                pod_ips: Some(vec![PodIP { ip }, PodIP { ip: ip6 }]),
                start_time: Some(now.meta_time()),
                conditions: Some(vec![
                    condition("PodScheduled"),
                    condition("Initialized"),
                    condition("ContainersReady"),
                    condition("Ready"),
                ]),
                ..PodStatus::default()
            });
            store.put(Object::Pod(Box::new(pod)), now);
        }
    }
}

/// Rewrites the managed EndpointSlice of every Service with a selector, and removes managed
/// slices whose Service is gone or lost its selector.
fn sync_endpoint_slices(store: &mut Store, now: SimTime) {
    let mut wanted: BTreeMap<ObjectKey, EndpointSlice> = BTreeMap::new();
    for object in store.list(Kind::Service) {
        let Object::Service(service) = object else {
            continue;
        };
        if let Some(slice) = managed_slice(store, service) {
            let key = ObjectKey::new(
                Kind::EndpointSlice,
                slice.metadata.namespace.clone().unwrap_or_default(),
                slice.metadata.name.clone().unwrap_or_default(),
            );
            wanted.insert(key, slice);
        }
    }
    let stale: Vec<ObjectKey> = store
        .list(Kind::EndpointSlice)
        .filter(|o| {
            label(o.meta(), MANAGED_BY_LABEL) == Some(&ENDPOINT_CONTROLLER.to_string())
                && !wanted.contains_key(&o.key())
        })
        .map(|o| o.key())
        .collect();
    for key in stale {
        let _ = store.delete(&key, now);
    }
    for (_, slice) in wanted {
        store.put(Object::EndpointSlice(Box::new(slice)), now);
    }
}

/// The EndpointSlice the endpoint controller keeps for a Service with a selector.
fn managed_slice(store: &Store, service: &Service) -> Option<EndpointSlice> {
    let spec = service.spec.as_ref()?;
    if spec.type_.as_deref() == Some("ExternalName") {
        return None;
    }
    let selector = spec.selector.as_ref().filter(|s| !s.is_empty())?;
    let ns = service.metadata.namespace.clone().unwrap_or_default();
    let name = service.metadata.name.clone().unwrap_or_default();
    let pods: Vec<&Pod> = store
        .list(Kind::Pod)
        .filter_map(|o| match o {
            Object::Pod(p) => Some(p.as_ref()),
            _ => None,
        })
        .filter(|p| p.metadata.namespace.as_deref() == Some(ns.as_str()))
        .filter(|p| {
            let labels = p.metadata.labels.as_ref();
            selector
                .iter()
                .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
        })
        .filter(|p| pod_ready(p) && pod_ip(p).is_some())
        .collect();

    let ports = spec.ports.as_deref().unwrap_or_default();
    let slice_ports: Vec<EndpointPort> = ports
        .iter()
        .filter_map(|port| {
            let target = match &port.target_port {
                None => port.port,
                Some(IntOrString::Int(n)) => *n,
                // A named target port resolves through the pods' container ports; with no pod
                // to read it from, the port is left out (as the endpoint controller does).
                Some(IntOrString::String(port_name)) => {
                    pods.iter().find_map(|p| container_port(p, port_name))?
                }
            };
            Some(EndpointPort {
                name: Some(port.name.clone().unwrap_or_default()),
                port: Some(target),
                protocol: Some(port.protocol.clone().unwrap_or_else(|| "TCP".into())),
                app_protocol: port.app_protocol.clone(),
            })
        })
        .collect();
    let endpoints: Vec<Endpoint> = pods
        .iter()
        .map(|p| Endpoint {
            addresses: vec![pod_ip(p).unwrap_or_default().to_string()],
            conditions: Some(EndpointConditions {
                ready: Some(true),
                serving: Some(true),
                terminating: Some(false),
            }),
            target_ref: Some(ObjectReference {
                kind: Some("Pod".into()),
                name: p.metadata.name.clone(),
                namespace: p.metadata.namespace.clone(),
                uid: p.metadata.uid.clone(),
                ..ObjectReference::default()
            }),
            ..Endpoint::default()
        })
        .collect();
    let labels = [
        (SERVICE_NAME_LABEL.to_string(), name.clone()),
        (
            MANAGED_BY_LABEL.to_string(),
            ENDPOINT_CONTROLLER.to_string(),
        ),
    ];
    Some(EndpointSlice {
        metadata: ObjectMeta {
            name: Some(format!("{name}-{}", name_suffix(fnv1a(name.as_bytes()), 5))),
            namespace: Some(ns),
            labels: Some(labels.into()),
            owner_references: Some(vec![OwnerReference {
                api_version: "v1".into(),
                kind: "Service".into(),
                name,
                uid: service.metadata.uid.clone().unwrap_or_default(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..ObjectMeta::default()
        },
        address_type: "IPv4".into(),
        endpoints,
        ports: Some(slice_ports),
    })
}

fn label<'a>(meta: &'a ObjectMeta, name: &str) -> Option<&'a String> {
    meta.labels.as_ref()?.get(name)
}

fn pod_name(pod: &Pod) -> String {
    pod.metadata.name.clone().unwrap_or_default()
}

/// The pod's IP, once the kubelet gave it one.
pub fn pod_ip(pod: &Pod) -> Option<&str> {
    pod.status.as_ref()?.pod_ip.as_deref()
}

/// Whether the pod's `Ready` condition is True.
pub fn pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn container_port(pod: &Pod, port_name: &str) -> Option<i32> {
    pod.spec
        .as_ref()?
        .containers
        .iter()
        .flat_map(|c| c.ports.iter().flatten())
        .find(|p| p.name.as_deref() == Some(port_name))
        .map(|p| p.container_port)
}

fn deployment_owner(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .as_ref()?
        .iter()
        .find(|o| o.kind == "Deployment" && o.controller == Some(true))
}

fn owned_pods(store: &Store, ns: &str, deployment: &str, uid: &str) -> Vec<Pod> {
    store
        .list(Kind::Pod)
        .filter_map(|o| match o {
            Object::Pod(p) => Some(p.as_ref()),
            _ => None,
        })
        .filter(|p| p.metadata.namespace.as_deref() == Some(ns))
        .filter(|p| {
            deployment_owner(&p.metadata).is_some_and(|o| o.name == deployment && o.uid == uid)
        })
        .cloned()
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::DeploymentSpec;
    use k8s_openapi::api::core::v1::{
        Container, ContainerPort, Namespace, PodSpec, PodTemplateSpec, ServicePort, ServiceSpec,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

    fn meta(ns: &str, name: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.into()),
            namespace: Some(ns.into()),
            ..ObjectMeta::default()
        }
    }

    pub(crate) fn deployment(ns: &str, name: &str, replicas: i32, image: &str) -> Object {
        let labels: BTreeMap<String, String> = [("app".to_string(), name.to_string())].into();
        Object::Deployment(Box::new(Deployment {
            metadata: meta(ns, name),
            spec: Some(DeploymentSpec {
                replicas: Some(replicas),
                selector: LabelSelector {
                    match_labels: Some(labels.clone()),
                    ..LabelSelector::default()
                },
                template: PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some(labels),
                        ..ObjectMeta::default()
                    }),
                    spec: Some(PodSpec {
                        containers: vec![Container {
                            name: "echo".into(),
                            image: Some(image.into()),
                            ports: Some(vec![ContainerPort {
                                name: Some("http".into()),
                                container_port: 3000,
                                ..ContainerPort::default()
                            }]),
                            ..Container::default()
                        }],
                        ..PodSpec::default()
                    }),
                },
                ..DeploymentSpec::default()
            }),
            status: None,
        }))
    }

    pub(crate) fn service(ns: &str, name: &str, selector: Option<&str>, headless: bool) -> Object {
        Object::Service(Box::new(Service {
            metadata: meta(ns, name),
            spec: Some(ServiceSpec {
                selector: selector.map(|s| [("app".to_string(), s.to_string())].into()),
                cluster_ip: headless.then(|| "None".to_string()),
                ports: Some(vec![
                    ServicePort {
                        name: Some("first".into()),
                        port: 8080,
                        target_port: Some(IntOrString::Int(3000)),
                        ..ServicePort::default()
                    },
                    ServicePort {
                        name: Some("named".into()),
                        port: 8081,
                        target_port: Some(IntOrString::String("http".into())),
                        ..ServicePort::default()
                    },
                ]),
                ..ServiceSpec::default()
            }),
            status: None,
        }))
    }

    fn pods(store: &Store, ns: &str) -> Vec<(String, String)> {
        store
            .list(Kind::Pod)
            .filter_map(|o| match o {
                Object::Pod(p) if p.metadata.namespace.as_deref() == Some(ns) => {
                    Some((pod_name(p), pod_ip(p).unwrap_or("").to_string()))
                }
                _ => None,
            })
            .collect()
    }

    fn slice(store: &Store, ns: &str, service: &str) -> Option<EndpointSlice> {
        store.list(Kind::EndpointSlice).find_map(|o| match o {
            Object::EndpointSlice(s)
                if s.metadata.namespace.as_deref() == Some(ns)
                    && label(&s.metadata, SERVICE_NAME_LABEL) == Some(&service.to_string()) =>
            {
                Some(s.as_ref().clone())
            }
            _ => None,
        })
    }

    fn setup() -> (Store, Workloads) {
        let mut store = Store::new(SimTime::START);
        store.put(
            Object::Namespace(Box::new(Namespace {
                metadata: ObjectMeta {
                    name: Some("apps".into()),
                    ..ObjectMeta::default()
                },
                ..Namespace::default()
            })),
            SimTime::START,
        );
        (store, Workloads::new())
    }

    #[test]
    fn names_are_deterministic_and_shaped_like_the_api_servers() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        let suffix = name_suffix(fnv1a(b"x"), 10);
        assert_eq!(suffix.len(), 10);
        assert!(
            suffix
                .chars()
                .all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c))
        );

        let run = || {
            let (mut store, mut w) = setup();
            store.put(deployment("apps", "web", 2, "echo:1"), SimTime::START);
            w.sync(&mut store, SimTime::START);
            pods(&store, "apps")
        };
        let first = run();
        assert_eq!(first, run());
        assert_eq!(first.len(), 2);
        for (name, ip) in &first {
            let parts: Vec<&str> = name.split('-').collect();
            assert_eq!(parts.len(), 3, "{name}");
            assert_eq!(parts[0], "web");
            assert_eq!(parts[1].len(), 10);
            assert_eq!(parts[2].len(), 5);
            assert!(ip.starts_with("10.244.0."), "{ip}");
        }
    }

    #[test]
    fn replicas_and_template_changes_move_pods() {
        let (mut store, mut w) = setup();
        store.put(deployment("apps", "web", 2, "echo:1"), SimTime::START);
        assert!(w.sync(&mut store, SimTime::START));
        let first = pods(&store, "apps");
        // A second sync with nothing new writes nothing.
        assert!(!w.sync(&mut store, SimTime::START));

        store.put(deployment("apps", "web", 3, "echo:1"), SimTime::START);
        w.sync(&mut store, SimTime::START);
        let scaled = pods(&store, "apps");
        assert_eq!(scaled.len(), 3);
        assert!(
            first.iter().all(|p| scaled.contains(p)),
            "existing pods are kept"
        );

        store.put(deployment("apps", "web", 1, "echo:2"), SimTime::START);
        w.sync(&mut store, SimTime::START);
        let replaced = pods(&store, "apps");
        assert_eq!(replaced.len(), 1);
        assert!(!scaled.contains(&replaced[0]), "new template, new pod");
        let d = store
            .get(&ObjectKey::new(Kind::Deployment, "apps", "web"))
            .expect("deployment");
        match d {
            Object::Deployment(d) => {
                let status = d.status.as_ref().expect("status");
                assert_eq!(status.ready_replicas, Some(1));
                assert_eq!(status.observed_generation, Some(3));
            }
            _ => unreachable!(),
        }

        store
            .delete(
                &ObjectKey::new(Kind::Deployment, "apps", "web"),
                SimTime::START,
            )
            .expect("exists");
        w.sync(&mut store, SimTime::START);
        assert!(
            pods(&store, "apps").is_empty(),
            "pods are garbage-collected"
        );
    }

    #[test]
    fn services_with_selectors_get_endpoint_slices() {
        let (mut store, mut w) = setup();
        store.put(deployment("apps", "web", 2, "echo:1"), SimTime::START);
        store.put(service("apps", "web", Some("web"), false), SimTime::START);
        store.put(
            service("apps", "web-headless", Some("web"), true),
            SimTime::START,
        );
        store.put(service("apps", "manual", None, false), SimTime::START);
        w.sync(&mut store, SimTime::START);

        let ips: Vec<String> = pods(&store, "apps").into_iter().map(|(_, ip)| ip).collect();
        for name in ["web", "web-headless"] {
            let s = slice(&store, "apps", name).expect("managed slice");
            let got: Vec<String> = s.endpoints.iter().map(|e| e.addresses[0].clone()).collect();
            assert_eq!(got, ips, "{name}");
            let ports: Vec<(Option<String>, Option<i32>)> = s
                .ports
                .expect("ports")
                .into_iter()
                .map(|p| (p.name, p.port))
                .collect();
            assert_eq!(
                ports,
                vec![
                    (Some("first".into()), Some(3000)),
                    (Some("named".into()), Some(3000))
                ]
            );
        }
        assert!(
            slice(&store, "apps", "manual").is_none(),
            "no selector, no managed slice"
        );

        // Scaling to zero leaves an empty slice; deleting the Service removes it.
        store.put(deployment("apps", "web", 0, "echo:1"), SimTime::START);
        w.sync(&mut store, SimTime::START);
        assert!(
            slice(&store, "apps", "web")
                .expect("kept")
                .endpoints
                .is_empty()
        );
        store
            .delete(
                &ObjectKey::new(Kind::Service, "apps", "web"),
                SimTime::START,
            )
            .expect("exists");
        w.sync(&mut store, SimTime::START);
        assert!(slice(&store, "apps", "web").is_none());
    }

    #[test]
    fn hand_made_pods_are_started() {
        let (mut store, mut w) = setup();
        let pod = Pod {
            metadata: meta("apps", "solo"),
            ..Pod::default()
        };
        store.put(Object::Pod(Box::new(pod)), SimTime::START);
        w.sync(&mut store, SimTime::START);
        match store.get(&ObjectKey::new(Kind::Pod, "apps", "solo")) {
            Some(Object::Pod(p)) => {
                assert!(pod_ready(p));
                assert_eq!(pod_ip(p), Some("10.244.0.1"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    fn all_ips(store: &Store) -> Vec<(String, Vec<String>)> {
        store
            .list(Kind::Pod)
            .filter_map(|o| match o {
                Object::Pod(p) => {
                    let status = p.status.as_ref()?;
                    let ips = status.pod_ips.as_ref()?.iter().map(|i| i.ip.clone());
                    Some((pod_name(p), ips.collect()))
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn pod_addresses_stay_valid_and_unique_past_65024_pods() {
        // Issue 10, finding 5: `10.244.{n/254}.{..}` passed 255 in the third octet. The
        // counter never reuses addresses, so a long run of deletes and creates gets there too.
        let (mut store, mut w) = setup();
        w.next_ip = 65_020;
        store.put(deployment("apps", "web", 10, "echo:1"), SimTime::START);
        w.sync(&mut store, SimTime::START);
        let ips = all_ips(&store);
        assert_eq!(ips.len(), 10);
        let mut seen = std::collections::BTreeSet::new();
        for (name, ips) in &ips {
            let v4: std::net::Ipv4Addr =
                ips[0].parse().unwrap_or_else(|_| panic!("{name}: {ips:?}"));
            let v6: std::net::Ipv6Addr =
                ips[1].parse().unwrap_or_else(|_| panic!("{name}: {ips:?}"));
            let [a, b, _, d] = v4.octets();
            assert_eq!((a, b), (10, 244), "{v4}");
            assert!((1..=254).contains(&d), "{v4}");
            assert!(v6.segments()[..4] == [0xfd00, 0x10, 0x244, 0], "{v6}");
            assert!(seen.insert(v4), "{v4} given twice");
            assert!(seen.len() <= 10);
        }
    }

    #[test]
    fn pod_address_wrap_skips_addresses_in_use() {
        let (mut store, mut w) = setup();
        store.put(deployment("apps", "web", 3, "echo:1"), SimTime::START);
        w.sync(&mut store, SimTime::START);
        // The counter comes round to the start while those three pods still hold .1 to .3.
        w.next_ip = POD_ADDRESSES;
        store.put(deployment("apps", "api", 2, "echo:1"), SimTime::START);
        w.sync(&mut store, SimTime::START);
        let mut v4: Vec<String> = all_ips(&store)
            .into_iter()
            .map(|(_, ips)| ips[0].clone())
            .collect();
        v4.sort();
        assert_eq!(
            v4,
            [
                "10.244.0.1",
                "10.244.0.2",
                "10.244.0.3",
                "10.244.0.4",
                "10.244.0.5"
            ]
        );
        for n in [0, 253, 254, 65_023] {
            let (v4, v6) = pod_address(n);
            assert_eq!(
                (v4.to_string(), v6.to_string()),
                match n {
                    0 => ("10.244.0.1".into(), "fd00:10:244::1".into()),
                    253 => ("10.244.0.254".into(), "fd00:10:244::fe".into()),
                    254 => ("10.244.1.1".into(), "fd00:10:244::ff".into()),
                    _ => (
                        "10.244.255.254".to_string(),
                        "fd00:10:244::fe00".to_string()
                    ),
                },
                "{n}"
            );
        }
    }

    #[test]
    fn replicas_past_the_limit_are_refused_when_applied() {
        let doc = |replicas: i64| {
            serde_json::json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web", "namespace": "apps"},
                "spec": {"replicas": replicas},
            })
        };
        assert_eq!(
            check_replicas(&doc(2_147_483_647)).as_deref(),
            Some(
                "Deployment.apps \"web\" is invalid: spec.replicas: Invalid value: 2147483647: \
                 must be less than or equal to 10000, gwsim's limit of replicas per Deployment \
                 (docs/limits.md)"
            )
        );
        assert_eq!(
            check_replicas(&doc(-1)).as_deref(),
            Some(
                "Deployment.apps \"web\" is invalid: spec.replicas: Invalid value: -1: \
                 must be greater than or equal to 0"
            )
        );
        assert_eq!(check_replicas(&doc(10_000)), None);
        assert_eq!(
            check_replicas(&serde_json::json!({"kind": "Service"})),
            None
        );

        // Through the simulator: refused, nothing applied, no hang.
        let mut sim = crate::sim::SimCluster::new(0);
        let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 2147483647\n  selector: {matchLabels: {app: web}}\n  template: {metadata: {labels: {app: web}}}\n";
        let docs = gwsim_engine::load::parse_documents("d.yaml", text).expect("loads");
        let outcome = sim.apply_documents(&docs);
        let err = outcome[0].result.as_ref().expect_err("refused");
        assert!(
            err.contains("gwsim's limit of replicas per Deployment"),
            "{err}"
        );
    }

    #[test]
    fn pods_past_the_cluster_limit_are_not_created_and_the_deployment_says_why() {
        let (mut store, mut w) = setup();
        w.max_pods = 3;
        store.put(deployment("apps", "web", 2, "echo:1"), SimTime::START);
        store.put(deployment("apps", "api", 2, "echo:1"), SimTime::START);
        w.sync(&mut store, SimTime::START);
        assert_eq!(pods(&store, "apps").len(), 3);
        let status = |name: &str| match store.get(&ObjectKey::new(Kind::Deployment, "apps", name)) {
            Some(Object::Deployment(d)) => d.status.clone().expect("status"),
            other => panic!("{other:?}"),
        };
        // `api` sorts first, so `web` is the one short of a pod.
        let api = status("api");
        assert_eq!(api.ready_replicas, Some(2));
        assert!(api.conditions.is_none_or(|c| c.is_empty()));
        let web = status("web");
        assert_eq!(web.ready_replicas, Some(1));
        let failure = &web.conditions.expect("conditions")[0];
        assert_eq!(
            (
                failure.type_.as_str(),
                failure.status.as_str(),
                failure.reason.as_deref()
            ),
            ("ReplicaFailure", "True", Some("FailedCreate"))
        );
        assert_eq!(
            failure.message.as_deref(),
            Some(
                "pods \"web\" is forbidden: the cluster has 3 pods, gwsim's limit of pods (docs/limits.md)"
            )
        );
    }
}
