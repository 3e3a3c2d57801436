//! [`LiveCluster`]: the runner's `Cluster` over a real API server and real sockets.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gwsim_engine::decision::Request;
use gwsim_engine::load::Document;
use gwsim_engine::object::{Kind, ObjectKey};
use gwsim_proxy::wire::ClientIdentity;
use gwsim_sim::cluster::{
    ApplyOutcome, ClientProtocol, Cluster, ClusterError, Patience, PresentedCertificate, RequestId,
    Response, SendError, WebSocketMessage, class_controller, listed_features,
};
use gwsim_sim::echo::Receipt;
use gwsim_sim::store::ApplyAction;
use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};

use crate::connect::{ClusterOptions, connect};
use crate::kinds::api_resource;
use crate::{LiveError, api_message, is_not_found};

/// The label every object gwsim creates carries; its value names the run.
pub const RUN_LABEL: &str = "gwsim.dev/run";
/// The field manager of gwsim's server-side applies.
const FIELD_MANAGER: &str = "gwsim";
/// The kinds looked at in a namespace before gwsim first writes there.
const WRITTEN_KINDS: [Kind; 12] = [
    Kind::Gateway,
    Kind::ListenerSet,
    Kind::HttpRoute,
    Kind::GrpcRoute,
    Kind::ReferenceGrant,
    Kind::BackendTlsPolicy,
    Kind::Service,
    Kind::EndpointSlice,
    Kind::Deployment,
    Kind::Pod,
    Kind::Secret,
    Kind::ConfigMap,
];
/// Objects a real cluster puts in namespaces by itself: not a reason to refuse.
const FURNITURE: [(Kind, &str); 2] = [
    (Kind::ConfigMap, "kube-root-ca.crt"),
    (Kind::Service, "kubernetes"),
];
/// The longest `advance` waited in real time; longer ones are not run on a cluster.
pub const MAX_ADVANCE: Duration = Duration::from_secs(60);
/// How long after a request was sent its mirror copies may take to show in the mirror
/// backends' logs (at most `--timeout`): a backend whose log does not show the copy by then
/// did not receive it.
pub const MIRROR_GRACE: Duration = Duration::from_secs(2);

/// How a run on a real cluster behaves (the command line's flags).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunSettings {
    pub cluster: ClusterOptions,
    /// `--timeout`: how long a status is polled and a request step tried.
    pub timeout: Duration,
    /// `--port-offset`: the Gateway serves listener port P on P + offset (0 on a real
    /// cluster; `gwsim serve --api` serves on P + 10000 by default).
    pub port_offset: u16,
    /// `--served-listeners FILE`: the listeners file `gwsim serve --api --ready-file FILE`
    /// writes. Requests then go to the loopback address it names for the Gateway (with the
    /// listener port plus `port_offset`) instead of the Gateway's status address, which
    /// `gwsim serve --api` models but does not serve on.
    pub served_listeners: Option<std::path::PathBuf>,
    /// `--force`: write into namespaces that hold objects gwsim did not create.
    pub force: bool,
    /// `--keep`: leave the last scenario's objects in place.
    pub keep: bool,
    /// The value of [`RUN_LABEL`] on every object this run creates.
    pub run_id: String,
    /// `--echo-image`: the image of the base's echo Deployments (and of scenarios'
    /// Deployments that use the same image) instead of upstream's echo server.
    pub echo_image: Option<String>,
    /// `--jobs`: how many scenarios may run at once (each on its own connection), among
    /// those that touch disjoint objects.
    pub jobs: usize,
}

/// A real cluster the scenario runner drives.
pub struct LiveCluster {
    runtime: tokio::runtime::Runtime,
    client: Client,
    settings: RunSettings,
    /// What this run created, in order: removed in reverse by [`LiveCluster::clean_up`]. Its
    /// lock is held across each create, so that Ctrl-C's clean-up sees every object.
    created: Arc<Mutex<Created>>,
    /// Every connection's record (this one's and its workers'): Ctrl-C removes them all.
    records: Arc<Mutex<Vec<Arc<Mutex<Created>>>>>,
    /// Namespaces found free to write into.
    checked: BTreeSet<String>,
    controller: String,
    calls: AtomicU64,
    /// Objects applied or deleted since [`LiveCluster::take_touched`] was last called.
    touched: BTreeSet<ObjectKey>,
    /// The runner's request ids (which start at 0 in each scenario) → the ids sent on the
    /// wire, unique in the run and unlikely to repeat across runs, so that the echo servers'
    /// request logs (which outlive a scenario) never mix two requests.
    wire_ids: HashMap<RequestId, RequestId>,
    next_wire_id: u64,
    /// The controller's features, once a GatewayClass of it was Accepted (they are the
    /// controller's, the same for each of its classes).
    features: Arc<std::sync::OnceLock<BTreeSet<String>>>,
    /// The Services each answering pod belongs to, as last read (a weighted step checks
    /// thousands of answers from a handful of pods); forgotten at each write and scenario.
    pod_services: Mutex<HashMap<(String, String), Vec<String>>>,
    /// The certificate the Gateway presented in the last https request's handshake.
    last_server_certificate: Option<PresentedCertificate>,
    /// Requests carry [`crate::mirror::TAG_PARAM`] (the scenario checks mirrors).
    tag_requests: bool,
    /// When each request of the scenario was sent, by wire id.
    sent: HashMap<u64, Instant>,
    /// When the scenario's last request was sent.
    last_sent: Option<Instant>,
    scenario_started: Instant,
    /// What the mirror backends' logs showed, by (namespace, backend).
    mirror_logs: Mutex<HashMap<(Option<String>, String), SeenInLogs>>,
}

/// The requests a backend's pods logged, as last read.
#[derive(Debug, Default)]
struct SeenInLogs {
    ids: HashSet<u64>,
    /// When the last read started: every copy that reached the pods before is in `ids`.
    read_from: Option<Instant>,
}

impl LiveCluster {
    /// Connects to the cluster `settings` name. Ctrl-C from then on removes what the run
    /// created (unless `--keep`) and exits 130.
    pub fn connect(settings: RunSettings) -> Result<LiveCluster, LiveError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let client = runtime.block_on(connect(&settings.cluster))?;
        let created = Arc::new(Mutex::new(Created::default()));
        let cluster = LiveCluster {
            runtime,
            client,
            settings,
            records: Arc::new(Mutex::new(vec![created.clone()])),
            created,
            checked: BTreeSet::new(),
            controller: String::new(),
            calls: AtomicU64::new(0),
            touched: BTreeSet::new(),
            wire_ids: HashMap::new(),
            last_server_certificate: None,
            next_wire_id: first_wire_id(),
            features: Arc::new(std::sync::OnceLock::new()),
            tag_requests: false,
            sent: HashMap::new(),
            last_sent: None,
            scenario_started: Instant::now(),
            mirror_logs: Mutex::new(HashMap::new()),
            pod_services: Mutex::new(HashMap::new()),
        };
        if !cluster.settings.keep {
            cluster.clean_up_on_ctrl_c();
        }
        Ok(cluster)
    }

    /// Another connection to the same cluster for `--jobs`, number `index` (from 1): its own
    /// runtime, client and record of what it creates (which this connection's Ctrl-C
    /// handler removes too), the same controller and features, and request ids of its own.
    pub fn worker(&self, index: usize) -> Result<LiveCluster, LiveError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let client = runtime.block_on(connect(&self.settings.cluster))?;
        let created = Arc::new(Mutex::new(Created::default()));
        if let Ok(mut records) = self.records.lock() {
            records.push(created.clone());
        }
        Ok(LiveCluster {
            runtime,
            client,
            settings: self.settings.clone(),
            records: self.records.clone(),
            created,
            checked: BTreeSet::new(),
            controller: self.controller.clone(),
            calls: AtomicU64::new(0),
            touched: BTreeSet::new(),
            wire_ids: HashMap::new(),
            last_server_certificate: None,
            // Far apart: ids count up by one per request from a start in microseconds.
            next_wire_id: first_wire_id().wrapping_add((index as u64) << 56),
            features: self.features.clone(),
            tag_requests: false,
            sent: HashMap::new(),
            last_sent: None,
            scenario_started: Instant::now(),
            mirror_logs: Mutex::new(HashMap::new()),
            pod_services: Mutex::new(HashMap::new()),
        })
    }

    /// The controller under test: the runner's checks and feature lookup use its name.
    pub fn set_controller(&mut self, controller_name: impl Into<String>) {
        self.controller = controller_name.into();
    }

    /// The controller's features, if an Accepted GatewayClass of it has been seen.
    pub fn known_features(&self) -> Option<&BTreeSet<String>> {
        self.features.get()
    }

    /// API calls made so far.
    pub fn api_calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// The run's settings.
    pub fn settings(&self) -> &RunSettings {
        &self.settings
    }

    fn api(&self, kind: Kind, namespace: &str) -> Api<DynamicObject> {
        let resource = api_resource(kind);
        if kind.namespaced() && !namespace.is_empty() {
            Api::namespaced_with(self.client.clone(), namespace, &resource)
        } else {
            Api::all_with(self.client.clone(), &resource)
        }
    }

    fn block_on<F: Future>(&self, call: F) -> F::Output {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.runtime.block_on(call)
    }

    /// The object, or `Ok(None)` when the API server says it does not exist.
    pub fn fetch(&self, key: &ObjectKey) -> Result<Option<serde_json::Value>, String> {
        let api = self.api(key.kind, &key.namespace);
        let found = self
            .block_on(api.get_opt(&key.name))
            .map_err(|e| api_message(&e))?;
        Ok(found.map(|o| without_managed_fields(to_json(key.kind, &o))))
    }

    /// Refuses a namespace that holds objects gwsim did not create in this run (unless
    /// `--force`); a namespace that does not exist holds nothing.
    fn check_namespace(&mut self, namespace: &str) -> Result<(), String> {
        if self.settings.force || self.checked.contains(namespace) {
            return Ok(());
        }
        let key = ObjectKey::new(Kind::Namespace, "", namespace);
        if let Some(ns) = self.fetch(&key)?
            && !self.ours(&ns)
        {
            let mut foreign = Vec::new();
            for kind in WRITTEN_KINDS {
                let api = self.api(kind, namespace);
                let list = self
                    .block_on(api.list(&ListParams::default()))
                    .map_err(|e| api_message(&e))?;
                for item in list.items {
                    let value = to_json(kind, &item);
                    let name = item.metadata.name.clone().unwrap_or_default();
                    let owned = item
                        .metadata
                        .owner_references
                        .as_ref()
                        .is_some_and(|o| !o.is_empty());
                    let furniture = FURNITURE.contains(&(kind, name.as_str()));
                    if !owned && !furniture && !self.ours(&value) {
                        foreign.push(format!("{kind} {namespace}/{name}"));
                    }
                }
            }
            if !foreign.is_empty() {
                let more = match foreign.len() {
                    n if n > 3 => format!(" and {} more", n - 3),
                    _ => String::new(),
                };
                foreign.truncate(3);
                return Err(LiveError::NotOurs(format!(
                    "namespace {namespace} holds objects this run did not create: {}{more}",
                    foreign.join(", ")
                ))
                .to_string());
            }
        }
        self.checked.insert(namespace.to_string());
        Ok(())
    }

    /// Whether this run created `object` (it carries the run's label).
    fn ours(&self, object: &serde_json::Value) -> bool {
        object
            .pointer("/metadata/labels")
            .and_then(|l| l.get(RUN_LABEL))
            .and_then(|v| v.as_str())
            == Some(self.settings.run_id.as_str())
    }

    fn apply_one(&mut self, document: &Document) -> Result<(ObjectKey, ApplyAction), String> {
        let value = &document.value;
        let api_version = value
            .get("apiVersion")
            .and_then(|v| v.as_str())
            .unwrap_or("");
        let kind_name = value.get("kind").and_then(|v| v.as_str()).unwrap_or("");
        let kind = Kind::from_type(api_version, kind_name).ok_or_else(|| {
            format!("no matches for kind \"{kind_name}\" in version \"{api_version}\"")
        })?;
        let name = value
            .pointer("/metadata/name")
            .and_then(|v| v.as_str())
            .filter(|n| !n.is_empty())
            .ok_or_else(|| "resource name may not be empty".to_string())?;
        let namespace = value
            .pointer("/metadata/namespace")
            .and_then(|v| v.as_str())
            .unwrap_or("default");
        let key = ObjectKey::new(kind, namespace, name);
        if kind.namespaced() {
            self.check_namespace(namespace)?;
        }
        let existing = self.fetch(&key)?;
        if let Some(existing) = &existing
            && !self.settings.force
            && !self.ours(existing)
        {
            return Err(LiveError::NotOurs(format!(
                "{kind} {} exists and this run did not create it",
                key.namespaced_name()
            ))
            .to_string());
        }
        self.touched.insert(key.clone());
        let mut object = value.clone();
        label(&mut object, kind, namespace, &self.settings.run_id);
        let api = self.api(kind, &key.namespace);
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let mut created = self
            .created
            .lock()
            .map_err(|_| "the run's record of what it created is lost".to_string())?;
        if created.interrupted {
            return Err("interrupted (Ctrl-C)".into());
        }
        let applied = self
            .block_on(api.patch(name, &params, &Patch::Apply(&object)))
            .map_err(|e| api_message(&e))?;
        if existing.is_none() {
            created.keys.push(key.clone());
        }
        drop(created);
        let action = match existing {
            None => ApplyAction::Created,
            Some(before)
                if before
                    .pointer("/metadata/resourceVersion")
                    .and_then(|v| v.as_str())
                    == applied.metadata.resource_version.as_deref() =>
            {
                ApplyAction::Unchanged
            }
            Some(_) => ApplyAction::Configured,
        };
        Ok((key, action))
    }

    /// Deletes what this run created, newest first, and waits (up to `--timeout`) until its
    /// namespaces are gone, so that the next scenario can create them again.
    pub fn clean_up(&mut self) -> Result<(), LiveError> {
        self.clean_up_since(0)
    }

    /// How many objects this run has created so far: a mark for [`LiveCluster::clean_up_since`].
    pub fn mark(&self) -> usize {
        self.created.lock().map(|c| c.keys.len()).unwrap_or(0)
    }

    /// Deletes what this run created after `mark`, newest first, and waits (up to
    /// `--timeout`, polling with backoff from 10 ms) until the namespaces among them are gone.
    pub fn clean_up_since(&mut self, mark: usize) -> Result<(), LiveError> {
        // Kept in the record until deleted, for Ctrl-C's clean-up.
        let created: Vec<ObjectKey> = match self.created.lock() {
            Ok(created) if mark < created.keys.len() => created.keys[mark..].to_vec(),
            _ => Vec::new(),
        };
        let client = self.client.clone();
        self.calls
            .fetch_add(created.len() as u64, Ordering::Relaxed);
        self.runtime
            .block_on(delete_all(&client, &created))
            .map_err(LiveError::Api)?;
        if let Ok(mut record) = self.created.lock() {
            record.keys.truncate(mark);
        }
        let namespaces: Vec<&ObjectKey> = created
            .iter()
            .filter(|k| k.kind == Kind::Namespace)
            .collect();
        if mark == 0 {
            self.checked.clear();
        }
        let mut pause = Duration::from_millis(10);
        let mut waited = Duration::ZERO;
        for key in namespaces {
            self.checked.remove(&key.name);
            while self.fetch(key).map_err(LiveError::Api)?.is_some() {
                if waited >= self.settings.timeout {
                    return Err(LiveError::Api(format!(
                        "namespace {} still exists {} s after it was deleted",
                        key.name,
                        waited.as_secs()
                    )));
                }
                std::thread::sleep(pause);
                waited += pause;
                pause = (pause * 2).min(Duration::from_millis(100));
            }
        }
        Ok(())
    }

    fn forget_pod_services(&self) {
        if let Ok(mut known) = self.pod_services.lock() {
            known.clear();
        }
    }

    /// The objects applied or deleted since the last call.
    pub fn take_touched(&mut self) -> BTreeSet<ObjectKey> {
        std::mem::take(&mut self.touched)
    }

    /// Starts a scenario: the runner's request ids start again at 0. `checks_mirrors`: each
    /// request carries its wire id in its query, for the mirror backends' logs.
    pub fn begin_scenario(&mut self, checks_mirrors: bool) {
        self.forget_pod_services();
        self.wire_ids.clear();
        self.sent.clear();
        self.last_sent = None;
        self.tag_requests = checks_mirrors;
        self.scenario_started = Instant::now();
        if let Ok(mut logs) = self.mirror_logs.lock() {
            logs.clear();
        }
    }

    /// The id sent on the wire for the runner's `id` (a new one at each send).
    fn wire_id(&mut self, id: RequestId) -> RequestId {
        let wire = RequestId(self.next_wire_id);
        self.next_wire_id += 1;
        self.wire_ids.insert(id, wire);
        let now = Instant::now();
        self.sent.insert(wire.0, now);
        self.last_sent = Some(now);
        wire
    }

    /// The certificate and key of the `kubernetes.io/tls` Secret `key`, read from the cluster.
    fn client_identity(&self, key: &ObjectKey) -> Result<ClientIdentity, SendError> {
        let name = key.namespaced_name();
        let api: Api<Secret> = Api::namespaced(self.client.clone(), &key.namespace);
        let secret = self
            .block_on(api.get_opt(&key.name))
            .map_err(|e| {
                SendError::Transport(format!(
                    "request.clientCertificate {name}: {}",
                    api_message(&e)
                ))
            })?
            .ok_or_else(|| {
                SendError::Transport(format!(
                    "request.clientCertificate {name}: Secret not found"
                ))
            })?;
        let data = secret.data.unwrap_or_default();
        let value = |k: &str| data.get(k).map(|b| b.0.as_slice());
        ClientIdentity::from_pem(&name, value("tls.crt"), value("tls.key"))
    }

    /// Whether a pod of Service `backend` logged request `wire`: the backend's pods' logs
    /// read (again, with backoff from 10 ms) until they show it, or until they were read
    /// [`MIRROR_GRACE`] (at most `--timeout`) after the scenario's last request was sent.
    fn logged(&self, namespace: Option<&str>, backend: &str, wire: RequestId) -> Receipt {
        if !self.sent.contains_key(&wire.0) {
            return Receipt::NotReceived;
        }
        // Counted from the scenario's last request, not this one's: one read after it
        // answers for every request before (a `count:` run's share is read once).
        let last_sent = self.last_sent.unwrap_or_else(Instant::now);
        let deadline = last_sent + MIRROR_GRACE.min(self.settings.timeout);
        let key = (namespace.map(str::to_string), backend.to_string());
        let mut pause = Duration::from_millis(10);
        loop {
            if let Ok(logs) = self.mirror_logs.lock()
                && let Some(seen) = logs.get(&key)
            {
                if seen.ids.contains(&wire.0) {
                    return Receipt::Received;
                }
                if seen.read_from.is_some_and(|read| read >= deadline) {
                    return Receipt::NotReceived;
                }
            }
            let now = Instant::now();
            if now < deadline
                && self
                    .mirror_logs
                    .lock()
                    .ok()
                    .and_then(|logs| logs.get(&key).and_then(|s| s.read_from))
                    .is_some_and(|read| now.duration_since(read) < pause)
            {
                std::thread::sleep(pause.min(deadline - now));
                pause = (pause * 2).min(Duration::from_millis(250));
                continue;
            }
            // The whole scenario's requests, and a second for the log's time resolution.
            let since = i64::try_from(now.duration_since(self.scenario_started).as_secs())
                .unwrap_or(i64::MAX / 2)
                + 2;
            let read = self.runtime.block_on(crate::mirror::logged_ids(
                &self.client,
                namespace,
                backend,
                since,
            ));
            match read {
                Ok((ids, calls)) => {
                    self.calls.fetch_add(calls, Ordering::Relaxed);
                    if let Ok(mut logs) = self.mirror_logs.lock() {
                        let seen = logs.entry(key.clone()).or_default();
                        seen.ids.extend(ids);
                        seen.read_from = Some(now);
                    }
                }
                Err(e) => {
                    tracing::warn!(target: "gwsim::live", "reading the logs of {backend}'s pods: {e}");
                    if now >= deadline {
                        return Receipt::NotReceived;
                    }
                    std::thread::sleep(pause.min(deadline - now));
                    pause = (pause * 2).min(Duration::from_millis(250));
                }
            }
        }
    }

    /// A thread that waits for Ctrl-C, deletes what the run created so far and exits 130.
    fn clean_up_on_ctrl_c(&self) {
        let records = self.records.clone();
        let client = self.client.clone();
        let (listening, ready) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("gwsim-ctrl-c".into())
            .spawn(move || {
                let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                runtime.block_on(async {
                    // The handler is installed at the signal future's first poll: only then
                    // may the run start writing.
                    let mut signal = std::pin::pin!(tokio::signal::ctrl_c());
                    let early = tokio::select! {
                        biased;
                        got = &mut signal => Some(got),
                        () = std::future::ready(()) => None,
                    };
                    let _ = listening.send(());
                    let got = match early {
                        Some(got) => got,
                        None => signal.await,
                    };
                    if got.is_err() {
                        return;
                    }
                    // Waits for a create in flight, and lets no other start.
                    let records = records.lock().map(|r| r.clone()).unwrap_or_default();
                    let mut keys = Vec::new();
                    for created in records {
                        if let Ok(mut record) = created.lock() {
                            record.interrupted = true;
                            keys.extend(record.keys.iter().cloned());
                        }
                    }
                    tracing::warn!(target: "gwsim::live", "Ctrl-C: deleting the {} objects this run created", keys.len());
                    if let Err(e) = delete_all(&client, &keys).await {
                        tracing::error!(target: "gwsim::live", "{e}");
                    }
                    std::process::exit(130);
                });
            });
        match spawned {
            Ok(_) => {
                if ready.recv_timeout(Duration::from_secs(5)).is_err() {
                    tracing::warn!(target: "gwsim::live", "Ctrl-C may not clean up: no handler");
                }
            }
            Err(e) => tracing::warn!(target: "gwsim::live", "Ctrl-C will not clean up: {e}"),
        }
    }

    /// Where the Gateway serves `port`: its first status address (or the address the
    /// served-listeners file names), port plus the offset.
    fn socket(&self, gateway: &ObjectKey, port: u16) -> Result<SocketAddr, SendError> {
        if let Some(path) = &self.settings.served_listeners {
            let served = port.checked_add(self.settings.port_offset).ok_or_else(|| {
                SendError::Transport(format!(
                    "port {port} + --port-offset {} is past 65535",
                    self.settings.port_offset
                ))
            })?;
            return served_socket(path, gateway, port, served);
        }
        let object = self
            .fetch(gateway)
            .map_err(SendError::Transport)?
            .ok_or_else(|| {
                SendError::Transport(format!("Gateway {} not found", gateway.namespaced_name()))
            })?;
        let address = object
            .pointer("/status/addresses/0/value")
            .and_then(|v| v.as_str())
            .ok_or_else(|| {
                SendError::Transport(format!(
                    "Gateway {} has no address in status.addresses yet",
                    gateway.namespaced_name()
                ))
            })?;
        let served = port.checked_add(self.settings.port_offset).ok_or_else(|| {
            SendError::Transport(format!(
                "port {port} + --port-offset {} is past 65535",
                self.settings.port_offset
            ))
        })?;
        let host = address.to_string();
        let found = self
            .runtime
            .block_on(tokio::net::lookup_host((host.as_str(), served)))
            .map_err(|e| SendError::Transport(format!("cannot resolve {host}: {e}")))?
            .next();
        found.ok_or_else(|| SendError::Transport(format!("{host} resolves to no address")))
    }
}

/// The socket the served-listeners file (a JSON list of `{gateway, listener, protocol, url}`)
/// names for `gateway` on `served` (the listener `port` plus the offset). The file is read at
/// each request: the data plane rewrites it whenever it binds again.
fn served_socket(
    path: &std::path::Path,
    gateway: &ObjectKey,
    port: u16,
    served: u16,
) -> Result<SocketAddr, SendError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| SendError::Transport(format!("{}: {e}", path.display())))?;
    let listeners: Vec<serde_json::Value> = serde_json::from_str(&text).map_err(|e| {
        SendError::Transport(format!(
            "{}: not a served-listeners file: {e}",
            path.display()
        ))
    })?;
    let name = gateway.namespaced_name();
    listeners
        .iter()
        .filter(|l| l.get("gateway").and_then(|g| g.as_str()) == Some(name.as_str()))
        .filter_map(|l| l.get("url").and_then(|u| u.as_str()))
        .filter_map(|url| {
            url.split_once("://")
                .map(|(_, rest)| rest.trim_end_matches('/'))
        })
        .filter_map(|authority| authority.parse::<SocketAddr>().ok())
        .find(|addr| addr.port() == served)
        .ok_or(SendError::ConnectionRefused {
            gateway: name,
            port,
        })
}

impl Drop for LiveCluster {
    fn drop(&mut self) {
        if !self.settings.keep
            && let Err(e) = self.clean_up()
        {
            tracing::error!(target: "gwsim::live", "cleaning up: {e}");
        }
    }
}

/// Deletes `keys` newest first; objects already gone are fine. An object in a namespace that
/// is deleted too goes with its namespace, so it is not deleted on its own.
async fn delete_all(client: &Client, keys: &[ObjectKey]) -> Result<(), String> {
    let namespaces: BTreeSet<&str> = keys
        .iter()
        .filter(|k| k.kind == Kind::Namespace)
        .map(|k| k.name.as_str())
        .collect();
    let mut failures = Vec::new();
    for key in keys.iter().rev() {
        if namespaces.contains(key.namespace.as_str()) {
            continue;
        }
        let resource = api_resource(key.kind);
        let api: Api<DynamicObject> = if key.kind.namespaced() {
            Api::namespaced_with(client.clone(), &key.namespace, &resource)
        } else {
            Api::all_with(client.clone(), &resource)
        };
        match api.delete(&key.name, &DeleteParams::background()).await {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => failures.push(format!("{key}: {}", api_message(&e))),
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!("could not delete {}", failures.join("; ")))
    }
}

/// The first request id of a run: the microseconds since the Unix epoch, so that the ids of
/// two runs against the same echo servers do not meet (a run would have to send more
/// requests than microseconds pass before the next starts).
fn first_wire_id() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX / 2))
        .unwrap_or(1)
}

/// `path` with the value of each `uuid` query parameter made unique to this try
/// (`U-RUN-ID`). The echo's `/retry/` simulator counts attempts per uuid; upstream draws a
/// fresh uuid for every probe, so the tries a cluster needs (three passes in a row) each
/// start from zero attempts, as the one try in memory does.
fn fresh_uuid(path: &str, run_id: &str, id: RequestId) -> String {
    let Some((before, query)) = path.split_once('?') else {
        return path.to_string();
    };
    let (query, fragment) = match query.split_once('#') {
        Some((q, f)) => (q, Some(f)),
        None => (query, None),
    };
    let mut changed = false;
    let params: Vec<String> = query
        .split('&')
        .map(|param| match param.split_once('=') {
            Some(("uuid", value)) if !value.is_empty() => {
                changed = true;
                format!("uuid={value}-{run_id}-{}", id.0)
            }
            _ => param.to_string(),
        })
        .collect();
    if !changed {
        return path.to_string();
    }
    let mut out = format!("{before}?{}", params.join("&"));
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

/// A gRPC request: its path names the method, so it carries no tag.
fn is_grpc(request: &Request) -> bool {
    request.headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("content-type") && v.trim().starts_with("application/grpc")
    })
}

/// What a run created, and whether Ctrl-C stopped it.
#[derive(Debug, Default)]
struct Created {
    keys: Vec<ObjectKey>,
    interrupted: bool,
}

/// The values of the `uuid` query parameters of `path`, in order.
fn uuid_values(path: &str) -> impl Iterator<Item = &str> {
    let query = path.split_once('?').map_or("", |(_, q)| q);
    let query = query.split_once('#').map_or(query, |(q, _)| q);
    query
        .split('&')
        .filter_map(|param| param.strip_prefix("uuid="))
        .filter(|value| !value.is_empty())
}

/// The object as the runner reads it: `apiVersion` and `kind` always set.
fn to_json(kind: Kind, object: &DynamicObject) -> serde_json::Value {
    let mut value = serde_json::to_value(object).unwrap_or(serde_json::Value::Null);
    if let Some(map) = value.as_object_mut() {
        map.insert("apiVersion".into(), kind.api_version().into());
        map.insert("kind".into(), kind.as_str().into());
    }
    value
}

fn without_managed_fields(mut value: serde_json::Value) -> serde_json::Value {
    if let Some(meta) = value.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        meta.remove("managedFields");
    }
    value
}

/// Sets the run label (and the namespace of a namespaced object).
fn label(object: &mut serde_json::Value, kind: Kind, namespace: &str, run_id: &str) {
    let Some(map) = object.as_object_mut() else {
        return;
    };
    let meta = map
        .entry("metadata")
        .or_insert_with(|| serde_json::json!({}));
    let Some(meta) = meta.as_object_mut() else {
        return;
    };
    if kind.namespaced() {
        meta.insert("namespace".into(), namespace.into());
    }
    let labels = meta
        .entry("labels")
        .or_insert_with(|| serde_json::json!({}));
    if let Some(labels) = labels.as_object_mut() {
        labels.insert(RUN_LABEL.into(), run_id.into());
    }
}

impl Cluster for LiveCluster {
    fn apply(&mut self, documents: &[Document]) -> Vec<ApplyOutcome> {
        self.forget_pod_services();
        documents
            .iter()
            .map(|d| ApplyOutcome {
                origin: d.origin.clone(),
                result: self.apply_one(d),
            })
            .collect()
    }

    fn delete(&mut self, key: &ObjectKey) -> Result<(), ClusterError> {
        self.forget_pod_services();
        self.touched.insert(key.clone());
        let api = self.api(key.kind, &key.namespace);
        match self.block_on(api.delete(&key.name, &DeleteParams::background())) {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) => Err(ClusterError::NotFound(api_message(&e))),
            Err(e) => Err(ClusterError::Api(api_message(&e))),
        }
    }

    fn services_of_pod(&self, namespace: &str, pod: &str) -> Vec<String> {
        let key = (namespace.to_string(), pod.to_string());
        if let Some(known) = self
            .pod_services
            .lock()
            .ok()
            .and_then(|m| m.get(&key).cloned())
        {
            return known;
        }
        let services = gwsim_sim::checks::services_of_pod(self, namespace, pod);
        // An empty answer may be a slice not yet written: asked again next time.
        if !services.is_empty()
            && let Ok(mut known) = self.pod_services.lock()
        {
            known.insert(key, services.clone());
        }
        services
    }

    fn get(&self, key: &ObjectKey) -> Option<serde_json::Value> {
        match self.fetch(key) {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(target: "gwsim::live", "get {key}: {e}");
                None
            }
        }
    }

    fn list(&self, kind: Kind) -> Vec<ObjectKey> {
        let api = self.api(kind, "");
        let items = match self.block_on(api.list(&ListParams::default())) {
            Ok(list) => list.items,
            Err(e) => {
                tracing::warn!(target: "gwsim::live", "list {kind}: {}", api_message(&e));
                Vec::new()
            }
        };
        let mut keys: Vec<ObjectKey> = items
            .iter()
            .map(|o| {
                ObjectKey::new(
                    kind,
                    o.metadata.namespace.clone().unwrap_or_default(),
                    o.metadata.name.clone().unwrap_or_default(),
                )
            })
            .collect();
        keys.sort();
        keys
    }

    fn send(&mut self, request: &Request, id: RequestId) -> Result<Response, SendError> {
        self.send_over(request, ClientProtocol::Http1, &[], id)
    }

    fn send_over(
        &mut self,
        request: &Request,
        protocol: ClientProtocol,
        messages: &[WebSocketMessage],
        id: RequestId,
    ) -> Result<Response, SendError> {
        self.send_with_certificate(request, protocol, messages, id, None)
    }

    /// The client's certificate and key are read from the Secret on the cluster (the client
    /// reads them before it connects).
    fn send_with_certificate(
        &mut self,
        request: &Request,
        protocol: ClientProtocol,
        messages: &[WebSocketMessage],
        id: RequestId,
        client_certificate: Option<&ObjectKey>,
    ) -> Result<Response, SendError> {
        let identity = match client_certificate {
            None => None,
            Some(key) => Some(self.client_identity(key)?),
        };
        let gateway = request
            .gateway
            .clone()
            .ok_or_else(|| SendError::Transport("the request names no Gateway".into()))?;
        let addr = self.socket(&gateway, request.port)?;
        let name = gateway.namespaced_name();
        let wire = self.wire_id(id);
        let mut fresh = request.clone();
        fresh.path = fresh_uuid(&request.path, &self.settings.run_id, wire);
        let tagged = self.tag_requests && !is_grpc(request);
        if tagged {
            fresh.path = crate::mirror::tag(&fresh.path, wire);
        }
        self.last_server_certificate = None;
        let (mut response, presented) =
            self.runtime.block_on(gwsim_proxy::wire::send_presenting(
                addr,
                &name,
                &fresh,
                protocol,
                messages,
                wire,
                identity.as_ref(),
            ))?;
        self.last_server_certificate = presented;
        // The tag is this client's doing: what comes back names the request as sent.
        if tagged {
            if let Some(echo) = &mut response.echo {
                echo.path = crate::mirror::untag(&echo.path, wire);
            }
            for (name, value) in &mut response.headers {
                if name.eq_ignore_ascii_case("location") {
                    *value = crate::mirror::untag(value, wire);
                }
            }
        }
        // The echo reports the path it received; the uuid made fresh for this try is this
        // client's doing, so the report names the uuid the scenario sent.
        if fresh.path != request.path
            && let Some(echo) = &mut response.echo
        {
            for (made, given) in uuid_values(&fresh.path).zip(uuid_values(&request.path)) {
                echo.path = echo.path.replace(made, given);
            }
        }
        Ok(response)
    }

    fn last_server_certificate(&self) -> Option<PresentedCertificate> {
        self.last_server_certificate.clone()
    }

    fn received(&self, namespace: Option<&str>, backend: &str, id: RequestId) -> bool {
        self.receipt(namespace, backend, id) == Receipt::Received
    }

    /// Read in the logs of the backend's pods, as upstream's suite reads them; a request
    /// sent in a scenario that does not check mirrors carries no tag and is never found.
    fn receipt(&self, namespace: Option<&str>, backend: &str, id: RequestId) -> Receipt {
        match self.wire_ids.get(&id) {
            Some(wire) if self.tag_requests => self.logged(namespace, backend, *wire),
            _ => Receipt::NotReceived,
        }
    }

    fn advance(&mut self, by: Duration) {
        std::thread::sleep(by.min(MAX_ADVANCE));
    }

    fn controller_name(&self) -> &str {
        &self.controller
    }

    fn patience(&self) -> Patience {
        Patience {
            timeout: self.settings.timeout,
            request_streak: 3,
            // Adaptive: a server already consistent is asked again within milliseconds; one
            // that is not yet is asked less and less often (10 ms doubling to 1 s).
            first_pause: Duration::from_millis(10),
            max_pause: Duration::from_secs(1),
        }
    }

    fn pause(&mut self, by: Duration) {
        std::thread::sleep(by);
    }

    /// The features of the controller's GatewayClasses, once the controller has written
    /// them: a class just created has no status yet, so this waits (with backoff, up to
    /// `--timeout`) until one of them has an Accepted condition.
    fn supported_features(&self) -> BTreeSet<String> {
        if let Some(known) = self.features.get() {
            return known.clone();
        }
        let mut pause = Duration::from_millis(10);
        let mut waited = Duration::ZERO;
        loop {
            let mut accepted = false;
            let mut features = BTreeSet::new();
            for key in self.list(Kind::GatewayClass) {
                let Some(class) = self.get(&key) else {
                    continue;
                };
                if class_controller(&class) != Some(self.controller.as_str()) {
                    continue;
                }
                let conditions = class
                    .pointer("/status/conditions")
                    .and_then(|c| c.as_array());
                accepted |= conditions.into_iter().flatten().any(|c| {
                    c.get("type").and_then(|t| t.as_str()) == Some("Accepted")
                        && c.get("status").and_then(|s| s.as_str()) == Some("True")
                });
                features.extend(listed_features(&class));
            }
            if accepted {
                return self.features.get_or_init(|| features).clone();
            }
            if waited >= self.settings.timeout {
                return features;
            }
            std::thread::sleep(pause);
            waited += pause;
            pause = (pause * 2).min(Duration::from_secs(1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_served_listeners_file_names_the_socket() {
        let dir = std::env::temp_dir().join(format!("gwsim-live-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a folder");
        let path = dir.join("served.json");
        std::fs::write(
            &path,
            r#"[{"gateway": "infra/web", "listener": "http", "protocol": "HTTP", "url": "http://127.1.2.3:3080"},
                {"gateway": "infra/web", "listener": "https", "protocol": "HTTPS", "url": "https://127.1.2.3:3443"}]"#,
        )
        .expect("written");
        let web = ObjectKey::new(Kind::Gateway, "infra", "web");
        let found = served_socket(&path, &web, 443, 3443).expect("served");
        assert_eq!(
            found,
            "127.1.2.3:3443".parse::<SocketAddr>().expect("an address")
        );
        // Nothing on that port, or not that Gateway: refused, as a Gateway without the
        // listener refuses.
        assert!(matches!(
            served_socket(&path, &web, 8080, 11080),
            Err(SendError::ConnectionRefused { port: 8080, .. })
        ));
        let other = ObjectKey::new(Kind::Gateway, "infra", "other");
        assert!(served_socket(&path, &other, 80, 3080).is_err());
        std::fs::write(&path, "not json").expect("written");
        assert!(matches!(
            served_socket(&path, &web, 80, 3080),
            Err(SendError::Transport(m)) if m.contains("not a served-listeners file")
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn each_try_gets_its_own_uuid() {
        let path = "/retry/a?responseCode=500&uuid=abc&succeedAfter=2";
        assert_eq!(
            fresh_uuid(path, "gwsim-1-2", RequestId(7)),
            "/retry/a?responseCode=500&uuid=abc-gwsim-1-2-7&succeedAfter=2"
        );
        assert_ne!(
            fresh_uuid(path, "gwsim-1-2", RequestId(7)),
            fresh_uuid(path, "gwsim-1-2", RequestId(8))
        );
        // Nothing else changes: no query, no uuid, a parameter that only ends in uuid.
        assert_eq!(fresh_uuid("/a", "r", RequestId(1)), "/a");
        assert_eq!(
            fresh_uuid("/a?x=1&myuuid=2", "r", RequestId(1)),
            "/a?x=1&myuuid=2"
        );
    }

    #[test]
    fn labels_name_the_run_and_the_namespace() {
        let mut object = serde_json::json!({"kind": "HTTPRoute", "metadata": {"name": "r"}});
        label(&mut object, Kind::HttpRoute, "default", "run-1");
        assert_eq!(object["metadata"]["namespace"], "default");
        assert_eq!(object["metadata"]["labels"][RUN_LABEL], "run-1");
        let mut class = serde_json::json!({"metadata": {"name": "c", "labels": {"a": "b"}}});
        label(&mut class, Kind::GatewayClass, "default", "run-1");
        assert!(class["metadata"].get("namespace").is_none());
        assert_eq!(class["metadata"]["labels"]["a"], "b");
    }
}
