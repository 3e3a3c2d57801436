//! The simulated cluster: the store, the virtual clock and its event queue, the workload
//! controllers, the Gateway controller, the routing table and the network, behind the
//! [`Cluster`] trait.
//!
//! Every change schedules a workload sync and a reconcile at the current time; they run
//! before the change returns, so a scenario always sees a settled cluster. A server defers
//! them instead (`defer_controllers`) and runs them for a batch of changes
//! (`run_controllers`), as a controller's work queue does. Reconciling calls
//! the engine's controller on the whole snapshot, writes back the statuses that differ
//! through the status subresource, and rebuilds the routing table only when the data plane's
//! configuration changed. A reconcile is skipped when nothing the controller reads changed
//! since the last one (only pods, Deployments or EndpointSlices, which it does not read), so
//! the result is always that of a full reconcile.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use gwsim_engine::config::MeshService;
use gwsim_engine::config::{BackendClientCertificate, GatewayConfig};
use gwsim_engine::controller::mesh::MESH_SUPPORTED_FEATURES;
use gwsim_engine::controller::{
    AddressRange, ControllerConfig, Network as ControllerNetwork, reconcile,
};
use gwsim_engine::decision::{Decision, Forward, Outcome, Request, ServiceRef};
use gwsim_engine::load::Document;
use gwsim_engine::object::{Kind, Object, ObjectKey, Snapshot};
use gwsim_engine::table::{MeshDestination, MeshTable, RoutingTable, split_authority};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::cluster::{
    ApplyOutcome, ClientProtocol, Cluster, ClusterError, PresentedCertificate, RequestId, Response,
    SendError, WebSocketMessage, websocket_handshake,
};
use crate::network::{Network, is_connection_specific};
use crate::provision;
use crate::queue::EventQueue;
use crate::store::{Applied, ChangeKind, Store, StoreError};
use crate::time::SimTime;
use crate::tls::{self, TlsView};
use crate::workloads::Workloads;

/// Most reconcile passes per change: a pass after the controller's own status writes must
/// find nothing left to write.
const MAX_RECONCILE_PASSES: usize = 4;

/// RNG stream for the routing decisions (weighted backends, mirror percentages). Other
/// purposes get other streams, so adding one never changes these choices.
const ROUTING_STREAM: u64 = 1;

/// Work the simulator schedules on its own queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SimEvent {
    /// Deployments → pods, pods → ready, Services → EndpointSlices.
    SyncWorkloads,
    /// Run the Gateway controller.
    Reconcile,
}

/// Counters for benchmarks and the terminal UI.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SimStats {
    pub reconciles: u64,
    pub skipped_reconciles: u64,
    pub table_builds: u64,
    pub requests: u64,
}

/// A deterministic in-memory cluster with a Gateway controller and echo backends.
#[derive(Clone, Debug)]
pub struct SimCluster {
    now: SimTime,
    queue: EventQueue<SimEvent>,
    store: Store,
    workloads: Workloads,
    controller: ControllerConfig,
    gateways: Vec<GatewayConfig>,
    table: RoutingTable,
    /// The mesh's Services and routes, and their table (GAMMA).
    mesh_services: Vec<MeshService>,
    mesh: MeshTable,
    /// The client's namespace and destination of the last request, when it came from a pod.
    last_mesh: Option<(String, MeshDestination)>,
    /// The last request's decision, when a pod sent it to a pod's address (no table decides
    /// those).
    last_direct: Option<Decision>,
    network: Network,
    routing_rng: ChaCha8Rng,
    /// The routing RNG as it was before the last request, to explain it again exactly.
    rng_before_last: ChaCha8Rng,
    /// The store's resourceVersion after the last reconcile.
    reconciled_rv: u64,
    /// The store's resourceVersion the network was last built at.
    network_rv: u64,
    /// Changes leave the controllers to [`SimCluster::run_controllers`] (a server's work queue).
    deferred: bool,
    /// A change happened that the controllers have not run after (deferred mode).
    dirty: bool,
    stats: SimStats,
    /// The Secret whose certificate the client presents in the send under way.
    client_certificate: Option<ObjectKey>,
    /// What the Gateway presented in the last https request's handshake.
    last_server_certificate: Option<PresentedCertificate>,
}

impl SimCluster {
    /// An empty cluster (only the `default` namespace) at the start of time.
    pub fn new(seed: u64) -> SimCluster {
        SimCluster::starting_at(seed, SimTime::START)
    }

    /// An empty cluster whose clock starts at `now` (a server passes the wall clock).
    pub fn starting_at(seed: u64, now: SimTime) -> SimCluster {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(ROUTING_STREAM);
        SimCluster {
            now,
            queue: EventQueue::new(),
            store: Store::new(now),
            workloads: Workloads::new(),
            controller: ControllerConfig::default(),
            gateways: Vec::new(),
            table: RoutingTable::default(),
            mesh_services: Vec::new(),
            mesh: MeshTable::default(),
            last_mesh: None,
            last_direct: None,
            network: Network::new(),
            rng_before_last: rng.clone(),
            routing_rng: rng,
            reconciled_rv: 0,
            network_rv: 0,
            deferred: false,
            dirty: false,
            stats: SimStats::default(),
            client_certificate: None,
            last_server_certificate: None,
        }
    }

    /// Re-seeds the random source (for a cluster cloned from a prepared one).
    pub fn reseed(&mut self, seed: u64) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(ROUTING_STREAM);
        self.rng_before_last = rng.clone();
        self.routing_rng = rng;
    }

    pub fn now(&self) -> SimTime {
        self.now
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn snapshot(&self) -> &Snapshot {
        self.store.snapshot()
    }

    pub fn table(&self) -> &RoutingTable {
        &self.table
    }

    pub fn network(&self) -> &Network {
        &self.network
    }

    pub fn stats(&self) -> SimStats {
        self.stats
    }

    /// Decides a request without sending it, leaving the random source untouched (for
    /// explanations).
    pub fn decide(&self, request: &Request) -> Decision {
        let mut rng = self.routing_rng.clone();
        self.table.decide(request, &mut rng)
    }

    /// Applies documents and settles the cluster. Returns each document's outcome.
    pub fn apply_documents(&mut self, documents: &[Document]) -> Vec<ApplyOutcome> {
        let mut out = Vec::with_capacity(documents.len());
        for doc in documents {
            // gwsim's bound on replicas comes before admission, so nothing is half-applied.
            let result = match crate::workloads::check_replicas(&doc.value) {
                Some(refused) => Err(refused),
                None => match self.store.apply(&doc.value, self.now) {
                    Ok(applied) => Ok((applied.key, applied.action)),
                    Err(e) => Err(e.to_string()),
                },
            };
            out.push(ApplyOutcome {
                origin: doc.origin.clone(),
                result,
            });
        }
        self.changed();
        out
    }

    /// Applies one document and settles the cluster: the API server's create, update and patch.
    /// A refused document changes nothing and runs nothing.
    pub fn apply_value(&mut self, doc: &serde_json::Value) -> Result<Applied, StoreError> {
        let applied = self.store.apply(doc, self.now)?;
        self.changed();
        Ok(applied)
    }

    /// Writes an object as a controller would (no admission; its status kept) and settles the
    /// cluster: what a server uses to mark a namespace Terminating.
    pub fn put_object(&mut self, object: Object) -> Option<ChangeKind> {
        let change = self.store.put(object, self.now);
        self.changed();
        change
    }

    /// The object `doc` would become, admitted but not stored (server-side dry run).
    pub fn dry_run(&self, doc: &serde_json::Value) -> Result<Object, StoreError> {
        self.store.prepare(doc)
    }

    /// Keeps object bodies in the store's change log, at most `limit` entries (what a server's
    /// watches read).
    pub fn keep_history(&mut self, limit: usize) {
        self.store.keep_history(limit);
    }

    /// Moves the clock to `at` (never back), running what falls due: a server passes the wall
    /// clock here before every change, so timestamps are real.
    pub fn advance_to(&mut self, at: SimTime) {
        self.run_until(at.max(self.now));
    }

    /// From now on a change only stores: the controllers (workloads, the Gateway controller)
    /// and the network run when [`SimCluster::run_controllers`] is called, once for every
    /// change since the last call. What a server's work queue does; the simulator itself
    /// always settles before a change returns.
    pub fn defer_controllers(&mut self) {
        self.deferred = true;
    }

    /// Whether a change is waiting for the controllers (deferred mode).
    pub fn controllers_pending(&self) -> bool {
        self.dirty
    }

    /// Runs the controllers over every change since they last ran, and rebuilds the network.
    /// Returns whether anything was pending.
    pub fn run_controllers(&mut self) -> bool {
        if !self.dirty {
            return false;
        }
        self.dirty = false;
        self.queue.schedule(self.now, SimEvent::SyncWorkloads);
        self.queue.schedule(self.now, SimEvent::Reconcile);
        self.run_until(self.now);
        self.rebuild_network();
        true
    }

    /// Schedules the controllers after a change and runs them (unless deferred).
    fn changed(&mut self) {
        if self.deferred {
            self.dirty = true;
            return;
        }
        self.queue.schedule(self.now, SimEvent::SyncWorkloads);
        self.queue.schedule(self.now, SimEvent::Reconcile);
        self.run_until(self.now);
    }

    fn rebuild_network(&mut self) {
        if self.store.resource_version() != self.network_rv {
            self.network.rebuild(self.store.snapshot());
            self.network_rv = self.store.resource_version();
        }
    }

    /// Runs every event due up to `until`, moving the clock to each event's time.
    fn run_until(&mut self, until: SimTime) {
        while let Some((at, event)) = self.queue.pop_due(until) {
            self.now = self.now.max(at);
            match event {
                SimEvent::SyncWorkloads => {
                    self.workloads.sync(&mut self.store, self.now);
                }
                SimEvent::Reconcile => self.reconcile(),
            }
        }
        self.now = self.now.max(until);
        // Deferred: the network follows the controllers' runs, not every change.
        if !self.deferred {
            self.rebuild_network();
        }
    }

    /// Runs the Gateway controller until its statuses are written and stable.
    fn reconcile(&mut self) {
        // A compacted history may have lost relevant changes: then reconcile.
        let relevant = self
            .store
            .history_since(self.reconciled_rv)
            .map_or(true, |changes| {
                changes.iter().any(|c| controller_reads(c.key.kind, c.kind))
            });
        if !relevant && self.reconciled_rv != 0 {
            self.stats.skipped_reconciles += 1;
            self.reconciled_rv = self.store.resource_version();
            return;
        }
        let mut accepted = BTreeMap::new();
        for pass in 0..MAX_RECONCILE_PASSES {
            self.stats.reconciles += 1;
            let _span = tracing::debug_span!("reconcile", pass, rv = self.store.resource_version())
                .entered();
            let result = reconcile(
                self.store.snapshot(),
                &self.controller,
                self.now.timestamp(),
            );
            let mut wrote = false;
            for (key, status) in &result.statuses {
                // The controller only reports objects from the snapshot it was given.
                wrote |= self
                    .store
                    .write_status(key, status, self.now)
                    .unwrap_or(false);
            }
            if result.gateways != self.gateways {
                self.table = RoutingTable::build(&result.gateways).with_mesh(self.mesh.clone());
                self.gateways = result.gateways;
                self.stats.table_builds += 1;
            }
            if result.mesh != self.mesh_services {
                self.mesh = MeshTable::build(&result.mesh);
                // The table carries the mesh's along for data planes (`gwsim serve`).
                self.table.set_mesh(self.mesh.clone());
                self.mesh_services = result.mesh;
            }
            accepted = result.statuses;
            if !wrote {
                break;
            }
            if pass + 1 == MAX_RECONCILE_PASSES {
                tracing::warn!("controller statuses did not settle");
            }
        }
        // The generated objects follow the Gateways; their pods need the workload controller.
        if provision::sync(&mut self.store, &accepted, self.now) {
            self.queue.schedule(self.now, SimEvent::SyncWorkloads);
        }
        self.reconciled_rv = self.store.resource_version();
    }

    /// Whether a full reconcile of the current snapshot would write nothing: the check that
    /// skipping reconciles is never observable.
    pub fn is_settled(&self) -> bool {
        let result = reconcile(
            self.store.snapshot(),
            &self.controller,
            self.now.timestamp(),
        );
        result.gateways == self.gateways
            && result.statuses.iter().all(|(key, status)| {
                self.store
                    .get(key)
                    .is_some_and(|o| !o.clone().set_status(status))
            })
    }

    /// Deletes an object and settles the cluster.
    pub fn delete_object(&mut self, key: &ObjectKey) -> Result<Vec<ObjectKey>, StoreError> {
        let deleted = self.store.delete(key, self.now)?;
        self.changed();
        Ok(deleted)
    }

    /// Sends a request through the Gateway: routing decision, filters, delivery.
    pub fn send_request(
        &mut self,
        request: &Request,
        id: RequestId,
    ) -> Result<Response, SendError> {
        self.send_session(request, &[], id)
    }

    /// Sends a request in `protocol`. Every Gateway HTTP listener accepts HTTP/1.1 and, as a
    /// cleartext HTTP/2 connection preface, h2c; what reaches the backend depends on the
    /// backend, not on the client (see [`crate::network`]). A gRPC call is an h2c request
    /// (its one empty message is not modelled: nothing reads it); the client reads its status
    /// from the answer's trailers ([`Response::grpc_status`]).
    pub fn send_in(
        &mut self,
        request: &Request,
        protocol: ClientProtocol,
        messages: &[WebSocketMessage],
        id: RequestId,
    ) -> Result<Response, SendError> {
        match protocol {
            ClientProtocol::Http1 => self.send_request(request, id),
            ClientProtocol::H2c | ClientProtocol::H2 | ClientProtocol::Grpc => {
                refuse_connection_specific(request)?;
                self.send_request(request, id)
            }
            ClientProtocol::WebSocket => {
                self.send_session(&websocket_handshake(request), messages, id)
            }
        }
    }

    /// Decides and delivers; `messages` follow an accepted upgrade.
    fn send_session(
        &mut self,
        request: &Request,
        messages: &[WebSocketMessage],
        id: RequestId,
    ) -> Result<Response, SendError> {
        self.stats.requests += 1;
        self.last_server_certificate = None;
        let view = TlsView {
            table: &self.table,
            gateways: &self.gateways,
            snapshot: self.store.snapshot(),
            now: self.now,
        };
        if let Some(done) = tls::handshake(&view, request, self.client_certificate.as_ref())? {
            self.last_server_certificate = done.server_certificate;
        }
        self.rng_before_last.clone_from(&self.routing_rng);
        self.last_mesh = None;
        self.last_direct = None;
        let decision = self.table.decide_fast(request, &mut self.routing_rng);
        let client = backend_client(&self.gateways, &decision);
        if let Outcome::ConnectionRefused = decision.outcome {
            return Err(SendError::ConnectionRefused {
                gateway: gateway_name(request, &decision),
                port: request.port,
            });
        }
        Ok(deliver(
            &mut self.network,
            self.now,
            decision.outcome,
            messages,
            client,
            id,
        ))
    }

    /// Sends a request from the pod `client` through the mesh (see
    /// [`Cluster::send_from_pod`]): decided by the mesh's table, delivered as a Gateway's.
    pub fn send_from(
        &mut self,
        client: &ObjectKey,
        authority: &str,
        request: &Request,
        protocol: ClientProtocol,
        id: RequestId,
    ) -> Result<Response, SendError> {
        if client.kind != Kind::Pod || self.store.get(client).is_none() {
            return Err(SendError::Transport(format!(
                "no pod {} to send the request from",
                client.namespaced_name()
            )));
        }
        match protocol {
            ClientProtocol::Http1 => {}
            ClientProtocol::H2c | ClientProtocol::H2 | ClientProtocol::Grpc => {
                refuse_connection_specific(request)?
            }
            ClientProtocol::WebSocket => return Err(SendError::UnsupportedProtocol(protocol)),
        }
        self.stats.requests += 1;
        self.last_server_certificate = None;
        self.last_direct = None;
        if let Some(response) = self.send_to_address(client, authority, request, id)? {
            return Ok(response);
        }
        let to = self
            .mesh
            .resolve(authority, &client.namespace)
            .map_err(SendError::Transport)?;
        self.rng_before_last.clone_from(&self.routing_rng);
        let decision =
            self.mesh
                .decide_fast(&client.namespace, &to, request, &mut self.routing_rng);
        self.last_mesh = Some((client.namespace.clone(), to));
        if let Outcome::ConnectionRefused = decision.outcome {
            return Err(SendError::Transport(format!(
                "connection refused: {authority} from pod {}",
                client.namespaced_name()
            )));
        }
        Ok(deliver(
            &mut self.network,
            self.now,
            decision.outcome,
            &[],
            None,
            id,
        ))
    }

    /// A request from a pod to a pod's address (`authority` an IP with a port): delivered to
    /// that pod itself, past every Service and so every mesh route (GEP-1294: a request to a
    /// Service's backend, not its frontend). `None` when `authority` names no address.
    fn send_to_address(
        &mut self,
        client: &ObjectKey,
        authority: &str,
        request: &Request,
        id: RequestId,
    ) -> Result<Option<Response>, SendError> {
        let (host, port) = split_authority(authority).map_err(SendError::Transport)?;
        let ip = host.trim_start_matches('[').trim_end_matches(']');
        if ip.parse::<std::net::IpAddr>().is_err() {
            return Ok(None);
        }
        let Some(pod) = self.network.pod_at(ip) else {
            return Err(SendError::Transport(format!(
                "connection refused: no ready pod has address {ip}"
            )));
        };
        let backend = ServiceRef {
            namespace: pod.namespace.clone(),
            name: pod.name.clone(),
            port,
            app_protocol: None,
            tls: None,
        };
        self.last_mesh = None;
        let forward = Forward::unfiltered(backend, request.clone());
        let explanation = gwsim_engine::explain::Explanation {
            detailed: true,
            request: format!(
                "{} http://{}{} (port {port}) from pod {}",
                request.method,
                request.host,
                request.path,
                client.namespaced_name()
            ),
            gateway: Some(format!("pod {}/{} at {ip}", pod.namespace, pod.name)),
            outcome:
                "sent to the pod's address itself: no Service, so no mesh route applies (GEP-1294)"
                    .to_string(),
            ..Default::default()
        };
        self.last_direct = Some(Decision {
            outcome: Outcome::Forward(Box::new(forward.clone())),
            provenance: None,
            explanation,
        });
        Ok(Some(
            self.network
                .forward_to_address(forward, ip, port, id, self.now),
        ))
    }

    /// The full explanation of `request` as the last send decided it.
    pub fn explain_request(&self, request: &Request) -> String {
        self.decide_last(request).explanation.render_text()
    }

    /// The decision the last send made about `request` (same random draws), with its
    /// explanation.
    pub fn decide_last(&self, request: &Request) -> Decision {
        if let Some(direct) = &self.last_direct {
            return direct.clone();
        }
        let mut rng = self.rng_before_last.clone();
        let mut decision = match &self.last_mesh {
            Some((from, to)) => self.mesh.decide(from, to, request, &mut rng),
            None => self.table.decide(request, &mut rng),
        };
        if let Outcome::Forward(f) = &decision.outcome {
            let client = backend_client(&self.gateways, &decision);
            if self.network.endpoint_count(&f.backend) == 0 {
                decision.no_ready_endpoints();
            } else if let Some(why) = self.network.handshake_failure(&f.backend, client, self.now) {
                decision.backend_refused(&why);
            }
        }
        decision
    }

    /// Serves `network` from now on: the Gateway controller runs again over the whole store
    /// (addresses assigned before may move into the new network's pool).
    pub fn set_network(&mut self, network: ControllerNetwork) {
        if self.controller.network != network {
            self.controller.network = network;
            self.reconciled_rv = 0;
            self.changed();
        }
    }

    /// Moves the clock forward, running what falls due.
    pub fn advance_by(&mut self, by: Duration) {
        let until = self.now.after(by);
        self.run_until(until);
    }
}

/// The certificate the Gateway that decided presents to backends that ask for one
/// (`spec.tls.backend.clientCertificateRef`).
/// What the client gets for a decided request that was not refused.
fn deliver(
    network: &mut Network,
    now: SimTime,
    outcome: Outcome,
    messages: &[WebSocketMessage],
    client: Option<&BackendClientCertificate>,
    id: RequestId,
) -> Response {
    match outcome {
        Outcome::ConnectionRefused => Response::local(503, Vec::new()),
        Outcome::Respond {
            status, headers, ..
        } => Response::local(status, headers),
        Outcome::Redirect {
            status,
            location,
            mut headers,
        } => {
            headers.push(("Location".to_string(), location));
            Response::local(status, headers)
        }
        Outcome::Forward(forward) => network.forward_session(*forward, messages, client, id, now),
    }
}

fn backend_client<'g>(
    gateways: &'g [GatewayConfig],
    decision: &Decision,
) -> Option<&'g BackendClientCertificate> {
    let gateway = &decision.provenance.as_ref()?.gateway;
    gateways
        .iter()
        .find(|g| &g.key == gateway)?
        .backend_client_certificate
        .as_ref()
}

fn gateway_name(request: &Request, decision: &Decision) -> String {
    match (&request.gateway, &decision.provenance) {
        (Some(key), _) => key.namespaced_name(),
        (None, Some(p)) => p.gateway.namespaced_name(),
        (None, None) => decision
            .explanation
            .gateway
            .clone()
            .unwrap_or_else(|| "(none)".to_string()),
    }
}

/// Whether a change can affect the Gateway controller's output. It reads neither pods,
/// Deployments nor EndpointSlices (backends resolve to Services).
fn controller_reads(kind: Kind, change: ChangeKind) -> bool {
    let _ = change;
    !matches!(kind, Kind::Pod | Kind::Deployment | Kind::EndpointSlice)
}

impl Cluster for SimCluster {
    fn apply(&mut self, documents: &[Document]) -> Vec<ApplyOutcome> {
        self.apply_documents(documents)
    }

    fn declare_network(&mut self, ranges: &[AddressRange]) -> Result<(), ClusterError> {
        self.set_network(ControllerNetwork::Declared(ranges.to_vec()));
        Ok(())
    }

    fn delete(&mut self, key: &ObjectKey) -> Result<(), ClusterError> {
        self.delete_object(key)
            .map(|_| ())
            .map_err(|e| ClusterError::NotFound(e.to_string()))
    }

    fn get(&self, key: &ObjectKey) -> Option<serde_json::Value> {
        self.store.get(key).map(Object::to_value)
    }

    fn list(&self, kind: Kind) -> Vec<ObjectKey> {
        self.store.list(kind).map(Object::key).collect()
    }

    fn connect(
        &mut self,
        spec: &crate::connect::ConnectSpec,
    ) -> Result<crate::connect::ConnectionResult, SendError> {
        self.stats.requests += 1;
        self.rebuild_network();
        Ok(crate::connect::connect(
            &self.gateways,
            &self.network,
            self.store.snapshot(),
            self.now,
            spec,
            &mut self.routing_rng,
        ))
    }

    fn send(&mut self, request: &Request, id: RequestId) -> Result<Response, SendError> {
        self.send_request(request, id)
    }

    fn send_over(
        &mut self,
        request: &Request,
        protocol: ClientProtocol,
        messages: &[WebSocketMessage],
        id: RequestId,
    ) -> Result<Response, SendError> {
        self.send_in(request, protocol, messages, id)
    }

    fn send_with_certificate(
        &mut self,
        request: &Request,
        protocol: ClientProtocol,
        messages: &[WebSocketMessage],
        id: RequestId,
        client_certificate: Option<&ObjectKey>,
    ) -> Result<Response, SendError> {
        self.client_certificate = client_certificate.cloned();
        let sent = self.send_in(request, protocol, messages, id);
        self.client_certificate = None;
        sent
    }

    fn last_server_certificate(&self) -> Option<PresentedCertificate> {
        self.last_server_certificate.clone()
    }

    fn send_from_pod(
        &mut self,
        client: &ObjectKey,
        authority: &str,
        request: &Request,
        protocol: ClientProtocol,
        id: RequestId,
    ) -> Result<Response, SendError> {
        self.send_from(client, authority, request, protocol, id)
    }

    fn received(&self, namespace: Option<&str>, backend: &str, id: RequestId) -> bool {
        self.network.received(namespace, backend, id)
    }

    fn receipt(
        &self,
        namespace: Option<&str>,
        backend: &str,
        id: RequestId,
    ) -> crate::echo::Receipt {
        self.network.receipt(namespace, backend, id)
    }

    fn advance(&mut self, by: Duration) {
        self.advance_by(by);
    }

    fn controller_name(&self) -> &str {
        &self.controller.controller_name
    }

    fn explain_last(&self, request: &Request) -> Option<String> {
        Some(self.explain_request(request))
    }

    fn supported_features(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for object in self.store.list(Kind::GatewayClass) {
            let Object::GatewayClass(class) = object else {
                continue;
            };
            if class.spec.controller_name != self.controller.controller_name {
                continue;
            }
            let features = class
                .status
                .as_ref()
                .and_then(|s| s.supported_features.as_ref());
            for f in features.into_iter().flatten() {
                out.insert(f.name.clone());
            }
        }
        // The mesh's features (upstream reads them from its XMesh; gwsim's mesh has none).
        if self.controller.mesh.is_some() {
            out.extend(MESH_SUPPORTED_FEATURES.iter().map(|f| f.to_string()));
        }
        out
    }
}

/// An HTTP/2 request cannot carry a connection-specific header (RFC 9113 §8.2.2): the client
/// refuses to send it, as HTTP/2 client libraries do.
fn refuse_connection_specific(request: &Request) -> Result<(), SendError> {
    match request
        .headers
        .iter()
        .find(|(n, v)| is_connection_specific(n, v))
    {
        Some((name, _)) => Err(SendError::ProtocolError(format!(
            "an HTTP/2 request must not carry the connection-specific header {name} (RFC 9113 §8.2.2)"
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gwsim_engine::load::parse_documents;
    use k8s_openapi::api::core::v1::Pod;

    const SETUP: &str = "
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: gwsim}
spec: {controllerName: gateway.gwsim.dev/controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  gatewayClassName: gwsim
  listeners: [{name: http, protocol: HTTP, port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  selector: {app: web}
  ports: [{port: 8080, targetPort: 3000}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: echo, image: echo}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: default}
spec:
  parentRefs: [{name: gw}]
  rules: [{backendRefs: [{name: web, port: 8080}]}]
";

    fn docs(text: &str) -> Vec<Document> {
        parse_documents("t.yaml", text).expect("parses")
    }

    fn cluster() -> SimCluster {
        let mut c = SimCluster::new(0);
        let refused: Vec<_> = c
            .apply_documents(&docs(SETUP))
            .into_iter()
            .filter(|o| o.result.is_err())
            .collect();
        assert!(refused.is_empty(), "{refused:?}");
        c
    }

    fn get() -> Request {
        let mut r = Request::get("example.com", "/");
        r.gateway = Some(ObjectKey::new(Kind::Gateway, "default", "gw"));
        r
    }

    #[test]
    fn serves_requests_once_settled() {
        let mut c = cluster();
        assert!(c.is_settled());
        let r = c.send_request(&get(), RequestId(1)).expect("sent");
        assert_eq!(r.status, 200);
        let echo = r.echo.expect("echoed");
        assert!(echo.pod.starts_with("web-"));
        assert_eq!(echo.namespace, "default");
        assert!(c.explain_request(&get()).contains("outcome: forwarded"));
        let mut refused = get();
        refused.port = 81;
        assert!(matches!(
            c.send_request(&refused, RequestId(2)),
            Err(SendError::ConnectionRefused { port: 81, .. })
        ));
    }

    /// Labels and annotations of an object, as `k=v` lines, sorted.
    fn metadata_of(c: &SimCluster, kind: Kind, name: &str) -> Option<(Vec<String>, Vec<String>)> {
        let o = c.store().get(&ObjectKey::new(kind, "default", name))?;
        let lines = |m: &Option<std::collections::BTreeMap<String, String>>| {
            m.iter()
                .flatten()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
        };
        Some((lines(&o.meta().labels), lines(&o.meta().annotations)))
    }

    fn gateway_pods(c: &SimCluster) -> Vec<Pod> {
        c.store()
            .list(Kind::Pod)
            .filter_map(|o| match o {
                Object::Pod(p)
                    if p.metadata
                        .name
                        .as_deref()
                        .is_some_and(|n| n.starts_with("gw-gwsim-")) =>
                {
                    Some(p.as_ref().clone())
                }
                _ => None,
            })
            .collect()
    }

    /// Provisioning (GatewayInfrastructurePropagation): an accepted Gateway gets a Deployment,
    /// its pod and a Service, owned by it and labelled; they follow spec.infrastructure and
    /// the Gateway's addresses, and go with the Gateway.
    #[test]
    fn accepted_gateways_get_generated_objects_that_follow_them() {
        let mut c = cluster();
        let (labels, annotations) =
            metadata_of(&c, Kind::Deployment, "gw-gwsim").expect("a Deployment");
        assert_eq!(
            labels,
            [
                "app.kubernetes.io/managed-by=gwsim",
                "gateway.networking.k8s.io/gateway-name=gw"
            ]
        );
        assert!(annotations.is_empty());
        let service = c
            .get(&ObjectKey::new(Kind::Service, "default", "gw-gwsim"))
            .expect("a Service");
        assert_eq!(service["spec"]["type"], "LoadBalancer");
        assert_eq!(service["spec"]["ports"][0]["port"], 80);
        assert_eq!(service["metadata"]["ownerReferences"][0]["kind"], "Gateway");
        let gateway = c
            .get(&ObjectKey::new(Kind::Gateway, "default", "gw"))
            .expect("gw");
        assert_eq!(
            service["metadata"]["ownerReferences"][0]["uid"],
            gateway["metadata"]["uid"]
        );
        assert_eq!(
            service["status"]["loadBalancer"]["ingress"][0]["ip"],
            gateway["status"]["addresses"][0]["value"]
        );
        let pods = gateway_pods(&c);
        assert_eq!(pods.len(), 1);
        assert!(crate::workloads::pod_ready(&pods[0]));

        // New infrastructure metadata reaches every generated object, the pod included.
        let changed = SETUP.replace(
            "  gatewayClassName: gwsim\n",
            "  gatewayClassName: gwsim\n  infrastructure: {labels: {team: a}, annotations: {note: b}}\n",
        );
        assert_ne!(changed, SETUP);
        c.apply_documents(&docs(&changed));
        for kind in [Kind::Deployment, Kind::Service] {
            let (labels, annotations) = metadata_of(&c, kind, "gw-gwsim").expect("still there");
            assert!(
                labels.contains(&"team=a".to_string()),
                "{kind:?} {labels:?}"
            );
            assert_eq!(annotations, ["note=b"], "{kind:?}");
        }
        let pods = gateway_pods(&c);
        assert_eq!(pods.len(), 1, "the old pod is replaced");
        assert_eq!(
            pods[0]
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("team"))
                .map(String::as_str),
            Some("a")
        );
        assert_eq!(
            pods[0]
                .metadata
                .annotations
                .as_ref()
                .and_then(|l| l.get("note"))
                .map(String::as_str),
            Some("b")
        );
        assert!(c.is_settled());

        // Not accepted (a parametersRef gwsim cannot resolve): nothing generated.
        let unaccepted = SETUP.replace(
            "  gatewayClassName: gwsim\n",
            "  gatewayClassName: gwsim\n  infrastructure: {parametersRef: {group: example.com, kind: P, name: p}}\n",
        );
        c.apply_documents(&docs(&unaccepted));
        assert!(metadata_of(&c, Kind::Deployment, "gw-gwsim").is_none());
        assert!(metadata_of(&c, Kind::Service, "gw-gwsim").is_none());
        assert!(gateway_pods(&c).is_empty());
        c.apply_documents(&docs(SETUP));
        assert_eq!(gateway_pods(&c).len(), 1);

        // Deleted with the Gateway; the user's own objects stay.
        c.delete_object(&ObjectKey::new(Kind::Gateway, "default", "gw"))
            .expect("deleted");
        assert!(metadata_of(&c, Kind::Deployment, "gw-gwsim").is_none());
        assert!(metadata_of(&c, Kind::Service, "gw-gwsim").is_none());
        assert!(gateway_pods(&c).is_empty());
        assert!(metadata_of(&c, Kind::Deployment, "web").is_some());
        assert!(metadata_of(&c, Kind::Service, "web").is_some());
    }

    /// An object of the generated name that the user made is left alone.
    #[test]
    fn a_users_object_of_the_generated_name_is_not_taken_over() {
        let mut c = SimCluster::new(0);
        let own = "apiVersion: v1\nkind: Service\nmetadata: {name: gw-gwsim, namespace: default, labels: {mine: \"yes\"}}\nspec:\n  selector: {app: mine}\n  ports: [{port: 9090}]\n---\n";
        let out = c.apply_documents(&docs(&(own.to_string() + SETUP)));
        assert!(out.iter().all(|o| o.result.is_ok()));
        let (labels, _) = metadata_of(&c, Kind::Service, "gw-gwsim").expect("the user's");
        assert_eq!(labels, ["mine=yes"]);
        assert!(metadata_of(&c, Kind::Deployment, "gw-gwsim").is_some());
        c.delete_object(&ObjectKey::new(Kind::Gateway, "default", "gw"))
            .expect("deleted");
        assert!(
            metadata_of(&c, Kind::Service, "gw-gwsim").is_some(),
            "not ours to delete"
        );
    }

    #[test]
    fn time_moves_only_when_advanced() {
        let mut c = cluster();
        assert_eq!(c.now(), SimTime::START);
        c.send_request(&get(), RequestId(1)).expect("sent");
        assert_eq!(c.now(), SimTime::START, "requests take no scenario time");
        c.advance_by(Duration::from_millis(1500));
        assert_eq!(c.now().as_millis(), 1500);
        c.apply_documents(&docs(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: later, namespace: default}\n",
        ));
        let created = c
            .store()
            .get(&ObjectKey::new(Kind::ConfigMap, "default", "later"))
            .and_then(|o| o.meta().creation_timestamp.clone())
            .expect("stamped");
        assert_eq!(created.0.to_string(), "2026-01-01T00:00:01Z");
    }

    #[test]
    fn reconciles_only_what_the_controller_reads() {
        let mut c = cluster();
        let before = c.stats();
        // Scaling changes pods, the Deployment and EndpointSlices only.
        c.apply_documents(&docs(&SETUP.replace("replicas: 2", "replicas: 3")));
        let after = c.stats();
        assert_eq!(after.reconciles, before.reconciles);
        assert_eq!(after.skipped_reconciles, before.skipped_reconciles + 1);
        assert!(c.is_settled());
        assert_eq!(c.network().pods().len(), 3);

        // A ConfigMap is read by nobody's data plane: reconciled, but the table is kept.
        let builds = c.stats().table_builds;
        c.apply_documents(&docs(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: default}\n",
        ));
        assert!(c.stats().reconciles > after.reconciles);
        assert_eq!(c.stats().table_builds, builds);

        // A route change rebuilds it.
        c.apply_documents(&docs(
            &SETUP.replace("rules: [{", "hostnames: [a.example]\n  rules: [{"),
        ));
        assert_eq!(c.stats().table_builds, builds + 1);
        assert!(c.is_settled());
    }

    #[test]
    fn deferred_controllers_run_once_for_every_change_since_the_last_run() {
        let mut c = cluster();
        c.defer_controllers();
        let before = c.stats();
        assert!(!c.run_controllers(), "nothing pending");
        for host in ["a.example", "b.example", "c.example"] {
            c.apply_documents(&docs(
                &SETUP
                    .replace("replicas: 2", "replicas: 3")
                    .replace("rules: [{", &format!("hostnames: [{host}]\n  rules: [{{")),
            ));
        }
        // Stored, but neither reconciled nor synced: the pods are still two.
        assert!(c.controllers_pending());
        assert_eq!(c.stats().reconciles, before.reconciles);
        assert_eq!(c.network().pods().len(), 2);
        assert!(!c.is_settled());
        assert!(c.run_controllers());
        assert!(!c.controllers_pending());
        assert!(c.is_settled());
        assert_eq!(c.network().pods().len(), 3);
        assert_eq!(c.stats().table_builds, before.table_builds + 1);
        assert!(
            c.stats().reconciles - before.reconciles <= 2,
            "one reconcile and its check"
        );
    }

    #[test]
    fn deleting_takes_effect_at_once() {
        let mut c = cluster();
        c.delete_object(&ObjectKey::new(Kind::Deployment, "default", "web"))
            .expect("exists");
        assert_eq!(c.network().pods().len(), 0);
        let r = c.send_request(&get(), RequestId(1)).expect("sent");
        assert_eq!(r.status, 503);
        assert!(
            c.delete_object(&ObjectKey::new(Kind::Deployment, "default", "web"))
                .is_err()
        );
    }

    #[test]
    fn decide_leaves_the_random_source_alone() {
        let c = cluster();
        let a = c.decide(&get());
        let b = c.decide(&get());
        assert_eq!(a, b);
    }

    #[test]
    fn clients_speak_h2c_and_websocket_to_the_gateway() {
        let mut c = cluster();
        // h2c to the Gateway; the backend port has no appProtocol, so it gets HTTP/1.1.
        let r = c
            .send_over(&get(), ClientProtocol::H2c, &[], RequestId(1))
            .expect("sent");
        assert_eq!(r.status, 200);
        assert_eq!(r.echo.map(|e| e.proto), Some("HTTP/1.1".to_string()));
        let mut bad = get();
        bad.headers.push(("Connection".into(), "close".into()));
        assert!(matches!(
            c.send_over(&bad, ClientProtocol::H2c, &[], RequestId(2)),
            Err(SendError::ProtocolError(m)) if m.contains("Connection")
        ));

        let messages = [WebSocketMessage::Binary(vec![7; 3])];
        let mut ws = get();
        ws.path = "/ws".into();
        let r = c
            .send_over(&ws, ClientProtocol::WebSocket, &messages, RequestId(3))
            .expect("sent");
        assert_eq!((r.status, r.messages.as_slice()), (101, &messages[..]));
        // The client wrote the handshake; the backend logged it.
        assert!(c.network().received(Some("default"), "web", RequestId(3)));
        // Over plain HTTP/1.1 the same request is not a handshake.
        let r = c.send_request(&ws, RequestId(4)).expect("sent");
        assert_eq!((r.status, r.messages.len()), (400, 0));
    }
}
