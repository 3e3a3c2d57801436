//! What the command line hands over: files into a reconciled cluster state, without a
//! simulator (each document admitted as the API server would, then one reconcile), and URLs
//! into requests. `gwsim check`, `routes` and `explain` and the terminal UI's `-f PATH` mode
//! and Ask pane read their input this way.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::PathBuf;

use gwsim_engine::admission::{AdmissionOptions, AdmitError, admit_owned};
use gwsim_engine::audit::InstalledStatus;
use gwsim_engine::controller::{ControllerConfig, Reconciliation, StandIn, standin};
use gwsim_engine::decision::{Request, Scheme};
use gwsim_engine::diff::{Applied, Settled, document_key, record};
use gwsim_engine::load::{self, Budgets, Document, LoadError, Origin, Warning};
use gwsim_engine::object::{Object, ObjectKey, Snapshot};
use gwsim_engine::{Rejection, RoutingTable};
use k8s_openapi::jiff::Timestamp;
use serde_json::Value;

use crate::files::{ReadError, read_sources_limited};

/// The time files are loaded at: objects without a creationTimestamp were created then, and
/// conditions that change are stamped with it. Fixed, so output is stable.
pub const EPOCH_SECONDS: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

/// [`EPOCH_SECONDS`] as a timestamp.
pub fn epoch() -> Timestamp {
    Timestamp::constant(EPOCH_SECONDS, 0)
}

/// How files are read into a state.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// `--gateway-class`: stand in only for these classes; empty: for every class.
    pub gateway_classes: Vec<String>,
    /// `--strict-namespaces`: refuse objects whose namespace the input has not created (before
    /// them, in apply order), as the API server does, instead of assuming the namespace.
    pub strict_namespaces: bool,
    /// `--gateway-api-version`: the Gateway API release whose admission rules apply.
    pub admission: AdmissionOptions,
    /// Input size and YAML budgets (`--max-input-size`).
    pub budgets: Budgets,
    /// Leave [`Inputs::table`] empty: for commands that read statuses only (`gwsim check`),
    /// to which building the routing table of every Gateway would add a tenth of the time.
    pub without_routing_table: bool,
    /// Objects read by the caller instead of from files (`--cluster`: a live cluster's
    /// state); the paths are then not read.
    pub documents: Option<Vec<Document>>,
}

/// Everything read from the command line's files.
#[derive(Clone, Debug)]
pub struct Inputs {
    /// Admitted objects with their statuses as gwsim, standing in for their classes'
    /// controllers, wrote them.
    pub snapshot: Snapshot,
    /// The reconcile that wrote those statuses (the data plane's view of every Gateway).
    pub reconciliation: Reconciliation,
    /// Documents the API server would refuse.
    pub rejected: Vec<(Origin, Rejection)>,
    /// With `--strict-namespaces`: documents refused because their namespace does not exist,
    /// with the API server's message (`namespaces "x" not found`).
    pub not_found: Vec<(Origin, String)>,
    /// Documents of kinds gwsim does not model: `apiVersion kind name`.
    pub ignored: Vec<(Origin, String)>,
    /// Documents that are not Kubernetes objects (Helm values, kustomizations, empty
    /// documents), with the reason.
    pub skipped: Vec<(Origin, String)>,
    /// Warnings about the input (duplicate keys, ...), each with file:line:column.
    pub warnings: Vec<Warning>,
    /// Statuses the input carried (written by the installed controller), by object; never
    /// mixed with gwsim's.
    pub installed: BTreeMap<ObjectKey, InstalledStatus>,
    /// Objects given by more than one document: the last one wins, as `kubectl apply` of
    /// the documents in order would leave it.
    pub replaced: Vec<Replaced>,
    /// Namespaces objects use that the input does not create: assumed to exist, without
    /// labels.
    pub assumed_namespaces: BTreeSet<String>,
    /// Which classes gwsim stands in for.
    pub stand_in: StandIn,
    /// The routing table of every Gateway (empty when loaded
    /// [`without_routing_table`](LoadOptions::without_routing_table)).
    pub table: RoutingTable,
}

/// An object given by two documents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replaced {
    pub key: ObjectKey,
    /// The document applied first.
    pub earlier: Origin,
    /// The document applied after it, which wins.
    pub later: Origin,
}

/// Admitted objects, not yet reconciled, and what was not admitted.
#[derive(Clone, Debug, Default)]
pub struct Loaded {
    pub snapshot: Snapshot,
    pub rejected: Vec<(Origin, Rejection)>,
    pub not_found: Vec<(Origin, String)>,
    pub ignored: Vec<(Origin, String)>,
    pub skipped: Vec<(Origin, String)>,
    pub warnings: Vec<Warning>,
    pub installed: BTreeMap<ObjectKey, InstalledStatus>,
    pub replaced: Vec<Replaced>,
}

/// Files that cannot be used at all: unreadable, or not YAML. (Refused documents are data,
/// in [`Inputs::rejected`].)
#[derive(Debug, thiserror::Error)]
pub enum InputsError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Parse(#[from] LoadError),
}

/// Every object of the files and folders, in order (skipped documents and warnings dropped;
/// [`read_inputs`] keeps them).
pub fn read_documents(paths: &[PathBuf]) -> Result<Vec<Document>, InputsError> {
    Ok(read_inputs(paths, &Budgets::default())?.documents)
}

/// Every document of the files and folders (`-`: standard input), in order, within `budgets`:
/// objects, documents skipped with the reason, and warnings.
pub fn read_inputs(paths: &[PathBuf], budgets: &Budgets) -> Result<load::Loaded, InputsError> {
    let mut out = load::Loaded::default();
    for source in read_sources_limited(paths, budgets.max_input_bytes)? {
        out.append(load::load(&source.name, &source.text, budgets)?);
    }
    Ok(out)
}

/// Reads and admits every document into one snapshot, as a series of `kubectl apply`: a later
/// document with the key of an earlier one updates it.
///
/// A document that carries a `status` (a `kubectl get -o yaml` dump) keeps it apart, as the
/// installed controller's: admission discards it, as the API server does on create. A
/// document's `metadata.generation` is kept when it creates the object (an exported object
/// keeps its generation, as it keeps its creationTimestamp), so the installed statuses'
/// observedGeneration compare with it.
pub fn load_snapshot(paths: &[PathBuf]) -> Result<Loaded, InputsError> {
    load_snapshot_with(paths, &LoadOptions::default())
}

/// [`load_snapshot`]; with `strict_namespaces`, a namespaced object whose Namespace neither
/// the input (earlier in apply order) nor every cluster has is refused.
pub fn load_snapshot_with(paths: &[PathBuf], options: &LoadOptions) -> Result<Loaded, InputsError> {
    let strict_namespaces = options.strict_namespaces;
    let mut loaded = Loaded::default();
    let mut seen: HashMap<ObjectKey, Origin> = HashMap::new();
    let (read, prepared) = match &options.documents {
        Some(documents) => (
            load::Loaded::default(),
            prepare(documents.clone(), &options.admission),
        ),
        None => read_and_prepare(paths, options)?,
    };
    loaded.skipped = read.skipped;
    loaded.warnings = read.warnings;
    let mut applied = Applied::default();
    for prepared in prepared {
        let Prepared {
            origin,
            key,
            status,
            generation,
            name,
            admission,
        } = prepared;
        if strict_namespaces
            && let Some(k) = &key
            && !k.namespace.is_empty()
            && !BUILTIN_NAMESPACES.contains(&k.namespace.as_str())
            && applied.snapshot.namespace(&k.namespace).is_none()
        {
            // The API server's NotFound for the namespace (kubectl: `Error from server
            // (NotFound): error when creating "FILE": namespaces "x" not found`).
            loaded
                .not_found
                .push((origin, format!("namespaces \"{}\" not found", k.namespace)));
            continue;
        }
        let existing = key.as_ref().and_then(|k| applied.snapshot.get(k));
        let existed = existing.is_some();
        let admitted = match admission {
            // Admitted on its own as a create: the first document of its key finds no
            // earlier object of that key (objects are stored under their documents' keys).
            Admission::Done(admitted) => admitted,
            Admission::Later(value) => admit_owned(value, existing, &options.admission),
        };
        let (rejected, ignored) = (applied.rejected.len(), applied.ignored.len());
        record(&mut applied, admitted, &origin, || name, epoch());
        let admitted = applied.rejected.len() == rejected && applied.ignored.len() == ignored;
        let Some(key) = key.filter(|_| admitted) else {
            continue;
        };
        if existed {
            if let Some(earlier) = seen.get(&key) {
                loaded.replaced.push(Replaced {
                    key: key.clone(),
                    earlier: earlier.clone(),
                    later: origin.clone(),
                });
            }
        } else if let (Some(generation), Some(object)) =
            (generation, applied.snapshot.objects.get_mut(&key))
        {
            object.meta_mut().generation = Some(generation);
        }
        if let Some(status) = status.filter(|_| key.kind.has_gateway_status()) {
            loaded.installed.insert(
                key.clone(),
                InstalledStatus {
                    origin: origin.to_string(),
                    status,
                },
            );
        }
        seen.insert(key, origin);
    }
    loaded.snapshot = applied.snapshot;
    loaded.rejected = applied.rejected;
    loaded.ignored = applied.ignored;
    Ok(loaded)
}

/// A document ready to apply: what the loop needs of it, and its admission.
struct Prepared {
    origin: Origin,
    key: Option<ObjectKey>,
    /// The status the document carried (the installed controller's), when not empty.
    status: Option<Value>,
    /// `metadata.generation`, when positive.
    generation: Option<i64>,
    name: String,
    admission: Admission,
}

enum Admission {
    /// Admitted as a create: the document is the first of its key in the input.
    Done(Result<Object, AdmitError>),
    /// A later document of a key already given: admitted in order, against the object the
    /// earlier ones left.
    Later(Value),
}

/// Reads the files and admits their documents as they are read ([`Admitter`]): a JSON List
/// item by item, so its items are never all held as values at once. The skipped documents
/// and warnings, and the admissions in document order.
fn read_and_prepare(
    paths: &[PathBuf],
    options: &LoadOptions,
) -> Result<(load::Loaded, Vec<Prepared>), InputsError> {
    let sources = read_sources_limited(paths, options.budgets.max_input_bytes)?;
    let streamed = std::thread::scope(|scope| {
        let mut admitter = Admitter::new(scope, &options.admission);
        let mut read = load::Loaded::default();
        for source in &sources {
            read.append(load::load_into(
                &source.name,
                &source.text,
                &options.budgets,
                &mut admitter,
            )?);
            if admitter.restarted {
                return Ok(None);
            }
        }
        Ok::<_, InputsError>(Some((read, admitter.finish())))
    })?;
    if let Some(streamed) = streamed {
        return Ok(streamed);
    }
    // A List that went wrong part way: every file again, read whole, then admitted.
    let mut read = load::Loaded::default();
    for source in &sources {
        read.append(load::load(&source.name, &source.text, &options.budgets)?);
    }
    let documents = std::mem::take(&mut read.documents);
    Ok((read, prepare(documents, &options.admission)))
}

/// A document waiting for admission: its key, and whether it is the first of its key.
type Pending = (Document, Option<ObjectKey>, bool);

/// Documents in a batch handed to an admission thread.
const BATCH: usize = 64;

/// Admits documents as the reader hands them over ([`load::ObjectSink`]), in batches on one
/// thread per core, started when the first batch is full (small inputs are admitted on the
/// caller's thread). Which document is the first of its key is decided in document order, as
/// they arrive.
struct Admitter<'scope, 'env> {
    scope: &'scope std::thread::Scope<'scope, 'env>,
    options: &'env AdmissionOptions,
    first_of_key: HashSet<ObjectKey>,
    batch: Vec<Pending>,
    /// Batches handed out so far.
    sent: usize,
    to_workers: Option<std::sync::mpsc::SyncSender<(usize, Vec<Pending>)>>,
    from_workers: Option<std::sync::mpsc::Receiver<(usize, Vec<Prepared>)>>,
    /// A stream went wrong part way: what was handed over is void.
    restarted: bool,
}

impl<'scope, 'env> Admitter<'scope, 'env> {
    fn new(
        scope: &'scope std::thread::Scope<'scope, 'env>,
        options: &'env AdmissionOptions,
    ) -> Self {
        Admitter {
            scope,
            options,
            first_of_key: HashSet::new(),
            batch: Vec::with_capacity(BATCH),
            sent: 0,
            to_workers: None,
            from_workers: None,
            restarted: false,
        }
    }

    /// Hands the batch to the admission threads, starting them the first time.
    fn flush(&mut self) {
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        let sender = self.to_workers.get_or_insert_with(|| {
            let threads = std::thread::available_parallelism().map_or(1, usize::from);
            let (to_workers, batches) = std::sync::mpsc::sync_channel(threads * 2);
            let batches = std::sync::Arc::new(std::sync::Mutex::new(batches));
            let (results, from_workers) = std::sync::mpsc::channel();
            for _ in 0..threads {
                let batches = std::sync::Arc::clone(&batches);
                let results = results.clone();
                let options = self.options;
                self.scope.spawn(move || {
                    loop {
                        let next = batches.lock().map(|rx| rx.recv());
                        let Ok(Ok((index, batch))) = next else {
                            return;
                        };
                        let batch: Vec<Pending> = batch;
                        let prepared = batch
                            .into_iter()
                            .map(|pending| prepare_one(pending, options))
                            .collect::<Vec<_>>();
                        if results.send((index, prepared)).is_err() {
                            return;
                        }
                    }
                });
            }
            self.from_workers = Some(from_workers);
            to_workers
        });
        // The threads end only when the sender is dropped, so the send cannot fail.
        let _ = sender.send((self.sent, batch));
        self.sent += 1;
    }

    /// Every admission, in document order.
    fn finish(mut self) -> Vec<Prepared> {
        let Some(to_workers) = self.to_workers.take() else {
            let options = self.options;
            return self
                .batch
                .into_iter()
                .map(|pending| prepare_one(pending, options))
                .collect();
        };
        let last: Vec<Prepared> = std::mem::take(&mut self.batch)
            .into_iter()
            .map(|pending| prepare_one(pending, self.options))
            .collect();
        drop(to_workers);
        let mut batches: Vec<(usize, Vec<Prepared>)> = self
            .from_workers
            .take()
            .map(|rx| rx.iter().collect())
            .unwrap_or_default();
        batches.sort_unstable_by_key(|(index, _)| *index);
        let mut out = Vec::with_capacity(batches.len() * BATCH + last.len());
        for (_, batch) in batches {
            out.extend(batch);
        }
        out.extend(last);
        out
    }
}

impl load::ObjectSink for Admitter<'_, '_> {
    fn object(&mut self, document: Document) {
        if self.restarted {
            return;
        }
        let key = document_key(&document.value);
        let first = key
            .as_ref()
            .is_none_or(|k| self.first_of_key.insert(k.clone()));
        self.batch.push((document, key, first));
        if self.batch.len() == BATCH {
            self.flush();
        }
    }

    fn restart(&mut self) {
        self.restarted = true;
    }
}

/// What the loop needs of one document, and its admission (as a create when it is the first
/// of its key).
fn prepare_one((doc, key, first): Pending, options: &AdmissionOptions) -> Prepared {
    let status = doc
        .value
        .get("status")
        .filter(|s| s.as_object().is_some_and(|m| !m.is_empty()))
        .cloned();
    let generation = doc
        .value
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .filter(|g| *g > 0);
    let name = doc
        .value
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let admission = if first {
        Admission::Done(admit_owned(doc.value, None, options))
    } else {
        Admission::Later(doc.value)
    };
    Prepared {
        origin: doc.origin,
        key,
        status,
        generation,
        name,
        admission,
    }
}

/// Admits the first document of each key on every core (admission of one document depends
/// only on the object of its key, which the first document does not have), keeping later
/// documents of a key for the loop, in order. The answers are in document order.
fn prepare(documents: Vec<Document>, options: &AdmissionOptions) -> Vec<Prepared> {
    let mut first_of_key = HashSet::new();
    let documents: Vec<Pending> = documents
        .into_iter()
        .map(|doc| {
            let key = document_key(&doc.value);
            let first = key.as_ref().is_none_or(|k| first_of_key.insert(k.clone()));
            (doc, key, first)
        })
        .collect();
    let prepare_one = |pending: Pending| prepare_one(pending, options);
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    if threads < 2 || documents.len() < PARALLEL_MIN_DOCUMENTS {
        return documents.into_iter().map(prepare_one).collect();
    }
    let per_thread = documents.len().div_ceil(threads);
    let mut runs: Vec<Vec<_>> = Vec::with_capacity(threads);
    let mut rest = documents.into_iter();
    loop {
        let run: Vec<_> = rest.by_ref().take(per_thread).collect();
        if run.is_empty() {
            break;
        }
        runs.push(run);
    }
    std::thread::scope(|scope| {
        let mut runs = runs.into_iter();
        let first = runs.next().unwrap_or_default();
        let others: Vec<_> = runs
            .map(|run| scope.spawn(|| run.into_iter().map(prepare_one).collect::<Vec<_>>()))
            .collect();
        let mut out: Vec<Prepared> = first.into_iter().map(prepare_one).collect();
        for handle in others {
            out.extend(
                handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            );
        }
        out
    })
}

/// Below this many documents admission runs on one thread.
const PARALLEL_MIN_DOCUMENTS: usize = 256;

/// Namespaces every cluster has: never reported as assumed.
const BUILTIN_NAMESPACES: [&str; 4] = ["default", "kube-node-lease", "kube-public", "kube-system"];

/// Namespaces that objects of the snapshot use and no Namespace object creates.
pub fn assumed_namespaces(snapshot: &Snapshot) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut last: Option<&str> = None;
    for key in snapshot.objects.keys() {
        let ns = key.namespace.as_str();
        if ns.is_empty() || last == Some(ns) || BUILTIN_NAMESPACES.contains(&ns) {
            continue;
        }
        last = Some(ns);
        if snapshot.namespace(ns).is_none() {
            out.insert(ns.to_string());
        }
    }
    out
}

/// Reads, admits and reconciles, gwsim standing in for every class.
pub fn load(paths: &[PathBuf]) -> Result<Inputs, InputsError> {
    load_with(paths, &LoadOptions::default())
}

/// Reads, admits and reconciles, gwsim standing in for the classes `options` selects.
pub fn load_with(paths: &[PathBuf], options: &LoadOptions) -> Result<Inputs, InputsError> {
    load_configured(paths, options, false)
}

/// As [`load`], gwsim also acting as the mesh (GAMMA: routes with Service parentRefs), whose
/// statuses it then writes: what `gwsim serve` serves, every Gateway and the mesh.
pub fn load_served(paths: &[PathBuf]) -> Result<Inputs, InputsError> {
    load_configured(paths, &LoadOptions::default(), true)
}

fn load_configured(
    paths: &[PathBuf],
    options: &LoadOptions,
    mesh: bool,
) -> Result<Inputs, InputsError> {
    let loaded = load_snapshot_with(paths, options)?;
    let stand_in = standin::plan(&loaded.snapshot, &options.gateway_classes);
    let mut config = ControllerConfig::stand_in(stand_in.clone());
    if mesh {
        config.mesh = Some(gwsim_engine::controller::mesh::MESH_CONTROLLER_NAME.to_string());
    }
    let assumed_namespaces = assumed_namespaces(&loaded.snapshot);
    let settled = Settled::with_config(loaded.snapshot, &config, epoch());
    let table = if options.without_routing_table {
        RoutingTable::default()
    } else {
        settled.table()
    };
    Ok(Inputs {
        snapshot: settled.snapshot,
        reconciliation: settled.reconciliation,
        rejected: loaded.rejected,
        not_found: loaded.not_found,
        ignored: loaded.ignored,
        skipped: loaded.skipped,
        warnings: loaded.warnings,
        installed: loaded.installed,
        replaced: loaded.replaced,
        assumed_namespaces,
        stand_in,
        table,
    })
}

/// A URL that cannot be turned into a request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("the URL must start with http:// or https://, got {0:?}")]
    Scheme(String),
    #[error("the URL has no host: {0:?}")]
    NoHost(String),
    #[error("bad port in {0:?}")]
    Port(String),
    #[error("{url:?} is not a URL: {reason}")]
    Invalid { url: String, reason: String },
}

/// `http://host[:port]/path?query` (or https) into a GET to the only Gateway, read by the
/// `http` crate's URI parser (RFC 3986): IPv6 literals in brackets, user information and a
/// fragment (never sent) are understood; anything else malformed is refused. The Host header
/// keeps an explicit port; the request goes to that port, or the scheme's default.
pub fn parse_url(url: &str) -> Result<Request, UrlError> {
    // The fragment is the client's alone: it is not part of the request (RFC 9110 §7.1).
    let sent = url.split_once('#').map_or(url, |(before, _)| before);
    let uri: http::Uri = sent
        .parse()
        .map_err(|e: http::uri::InvalidUri| UrlError::Invalid {
            url: url.to_string(),
            reason: e.to_string(),
        })?;
    let scheme = match uri.scheme_str() {
        Some(s) if s.eq_ignore_ascii_case("http") => Scheme::Http,
        Some(s) if s.eq_ignore_ascii_case("https") => Scheme::Https,
        _ => return Err(UrlError::Scheme(url.to_string())),
    };
    let authority = uri
        .authority()
        .filter(|a| !a.host().is_empty())
        .ok_or_else(|| UrlError::NoHost(url.to_string()))?;
    let host = authority.host();
    // What follows the host: nothing, or `:` and a port from 1 to 65535 (`http` lets an
    // empty or out-of-range port through).
    let host_and_port = authority
        .as_str()
        .rsplit_once('@')
        .map_or(authority.as_str(), |(_, after)| after);
    let written_port = host_and_port.get(host.len()..).unwrap_or("");
    let (host_header, port) = match written_port.strip_prefix(':') {
        None if written_port.is_empty() => (host.to_string(), scheme.default_port()),
        Some(digits) => match digits.parse::<u16>() {
            Ok(port) if port > 0 && digits.bytes().all(|b| b.is_ascii_digit()) => {
                (format!("{host}:{port}"), port)
            }
            _ => return Err(UrlError::Port(url.to_string())),
        },
        None => return Err(UrlError::Port(url.to_string())),
    };
    let path = match uri.query() {
        Some(query) => format!("{}?{query}", uri.path()),
        None => uri.path().to_string(),
    };
    let mut request = Request::get(&host_header, &path);
    request.scheme = scheme;
    request.port = port;
    Ok(request)
}

/// `example.com:8080` -> `example.com`, `[::1]:8443` -> `[::1]`: the TLS server name a client
/// sends for a Host.
pub fn host_without_port(host: &str) -> String {
    match host.rsplit_once(':') {
        Some((h, port))
            if port.chars().all(|c| c.is_ascii_digit())
                && (!h.contains(':') || h.ends_with(']')) =>
        {
            h.to_string()
        }
        _ => host.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gwsim_engine::object::Kind;

    fn write(dir: &std::path::Path, name: &str, text: &str) -> PathBuf {
        std::fs::create_dir_all(dir).expect("temp dir");
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        path
    }

    const DUMPED_GATEWAY: &str = r#"apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: gw
  namespace: infra
  generation: 4
  uid: 6b1d2e4f-3a5c-4e7b-8d9f-0a1b2c3d4e5f
  resourceVersion: "20417"
  creationTimestamp: "2025-11-03T09:13:02Z"
  managedFields:
  - {apiVersion: gateway.networking.k8s.io/v1, fieldsType: FieldsV1, fieldsV1: {f:spec: {}}, manager: kubectl, operation: Update, time: "2025-11-03T09:13:02Z"}
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: "{}"
spec:
  gatewayClassName: istio
  listeners: [{name: http, port: 80, protocol: HTTP}]
status:
  conditions:
  - {type: Accepted, status: "True", reason: Accepted, message: ok, observedGeneration: 3, lastTransitionTime: "2025-11-03T09:13:10Z"}
"#;

    #[test]
    fn a_dump_keeps_its_generation_and_its_status_apart() {
        let dir = std::env::temp_dir().join(format!("gwsim-inputs-{}", std::process::id()));
        let path = write(&dir, "dump.yaml", DUMPED_GATEWAY);
        let inputs = load(&[path]).expect("loads");
        let key = ObjectKey::new(Kind::Gateway, "infra", "gw");
        let object = inputs.snapshot.get(&key).expect("admitted");
        assert_eq!(object.generation(), 4);
        let installed = &inputs.installed[&key];
        assert_eq!(
            installed.status["conditions"][0]["observedGeneration"],
            serde_json::json!(3)
        );
        // gwsim's own status (stand-in for the implicit istio class) is the object's.
        let value = object.to_value();
        assert_eq!(value["status"]["conditions"][0]["observedGeneration"], 4);
        assert_eq!(value["status"]["conditions"][0]["status"], "True");
        assert_eq!(
            inputs.assumed_namespaces.iter().collect::<Vec<_>>(),
            ["infra"]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_second_document_wins_and_is_reported() {
        let dir = std::env::temp_dir().join(format!("gwsim-inputs-twice-{}", std::process::id()));
        let a = write(&dir, "a.yaml", DUMPED_GATEWAY);
        let b = write(
            &dir,
            "b.yaml",
            &DUMPED_GATEWAY.replace("port: 80", "port: 8080"),
        );
        let inputs = load(&[a, b]).expect("loads");
        assert_eq!(inputs.replaced.len(), 1);
        assert!(inputs.replaced[0].later.source.ends_with("b.yaml"));
        let key = ObjectKey::new(Kind::Gateway, "infra", "gw");
        // The spec changed: the generation moves on from the dump's.
        assert_eq!(inputs.snapshot.get(&key).expect("admitted").generation(), 5);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn strict_namespaces_refuse_objects_of_missing_namespaces() {
        let dir = std::env::temp_dir().join(format!("gwsim-inputs-strict-{}", std::process::id()));
        let path = write(&dir, "dump.yaml", DUMPED_GATEWAY);
        let options = LoadOptions {
            strict_namespaces: true,
            ..LoadOptions::default()
        };
        let inputs = load_with(std::slice::from_ref(&path), &options).expect("loads");
        assert!(inputs.snapshot.is_empty());
        assert_eq!(inputs.not_found.len(), 1);
        assert_eq!(inputs.not_found[0].1, "namespaces \"infra\" not found");
        let lenient = load(&[path]).expect("loads");
        assert!(lenient.not_found.is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn parses_urls() {
        let r = parse_url("http://example.com/a/b?x=1").expect("parses");
        assert_eq!(
            (r.host.as_str(), r.path.as_str(), r.port),
            ("example.com", "/a/b?x=1", 80)
        );
        let r = parse_url("https://foo.example.com:8443").expect("parses");
        assert_eq!(
            (r.scheme, r.port, r.path.as_str()),
            (Scheme::Https, 8443, "/")
        );
        assert_eq!(r.host, "foo.example.com:8443");
        assert_eq!(parse_url("http://x?q=1").expect("parses").path, "/?q=1");
        assert!(matches!(parse_url("ftp://x/"), Err(UrlError::Scheme(_))));
        assert!(parse_url("http:///a").is_err());
        assert!(matches!(
            parse_url("http://x:99999/"),
            Err(UrlError::Port(_))
        ));
        assert_eq!(host_without_port("a.example:8443"), "a.example");
        assert_eq!(host_without_port("a.example"), "a.example");
        assert_eq!(host_without_port("[::1]:8443"), "[::1]");
        assert_eq!(host_without_port("[::1]"), "[::1]");
    }

    /// Issue 10, finding 11: the hand-written parser refused IPv6 literals as a bad port, took
    /// a fragment into the host, and accepted two ports.
    #[test]
    fn urls_are_parsed_as_rfc_3986_says() {
        let r = parse_url("http://[::1]/").expect("an IPv6 literal");
        assert_eq!(
            (r.host.as_str(), r.port, r.path.as_str()),
            ("[::1]", 80, "/")
        );
        let r = parse_url("https://[fd00::1]:8443/a").expect("an IPv6 literal and a port");
        assert_eq!(
            (r.host.as_str(), r.port, r.path.as_str()),
            ("[fd00::1]:8443", 8443, "/a")
        );
        // A fragment never leaves the client.
        let r = parse_url("http://example.com#top").expect("a fragment");
        assert_eq!((r.host.as_str(), r.path.as_str()), ("example.com", "/"));
        let r = parse_url("http://example.com/a?x=1#top").expect("a fragment");
        assert_eq!(
            (r.host.as_str(), r.path.as_str()),
            ("example.com", "/a?x=1")
        );
        // User information is not part of the Host.
        let r = parse_url("http://user:secret@example.com:8080/").expect("userinfo");
        assert_eq!((r.host.as_str(), r.port), ("example.com:8080", 8080));
        for bad in [
            "http://host:80:80/",
            "http://exa mple.com/",
            "http://[::1/",
            "http://:80/",
            "http://",
            "example.com/path",
            "http://x:99999/",
            "http://x:/",
        ] {
            let err = parse_url(bad).expect_err(bad).to_string();
            assert!(err.contains(&format!("{bad:?}")), "{bad}: {err}");
        }
        assert_eq!(
            parse_url("http://host:80:80/")
                .expect_err("two ports")
                .to_string(),
            "\"http://host:80:80/\" is not a URL: invalid authority"
        );
    }
}
