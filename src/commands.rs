//! What each command does with its flags: load, ask the engine, print in the chosen format.

use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use gwsim_engine::connection::{Connection, ConnectionProtocol};
use gwsim_engine::controller::SUPPORTED_FEATURES;
use gwsim_engine::controller::mesh::{MESH_CONTROLLER_NAME, MESH_SUPPORTED_FEATURES};
use gwsim_engine::controller::{ControllerConfig, reconcile};
use gwsim_engine::decision::{Decision, Request, Scheme};
use gwsim_engine::diff::BehaviourDiff;
use gwsim_engine::object::{Kind, ObjectKey};
use gwsim_engine::table::{ListingEntry, MeshTable};
use gwsim_sim::inputs::LoadOptions;
use rand::SeedableRng;
use serde::Serialize;
use serde_json::Value;

use crate::inputs::{self, Inputs};
use crate::output::Screen;
use crate::suggest::did_you_mean;
use crate::{NamespaceArgs, Output, ReportOutput, audit, check};

/// `gwsim --version` and `gwsim version`: the package version and the commit (build.rs).
pub const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("GWSIM_COMMIT"),
    ")"
);

/// Inputs at least this large show a spinner while they load (on a terminal).
const LARGE_INPUT_BYTES: u64 = 4 << 20;

/// How a data command prints: the screen, the format and the namespace filter.
pub struct Print {
    pub screen: Screen,
    pub output: Output,
    namespace: Option<String>,
}

impl Print {
    pub fn new(mut screen: Screen, output: Output, namespaces: &NamespaceArgs) -> Print {
        if output == Output::Wide {
            screen.width = None;
        }
        Print {
            screen,
            output,
            namespace: namespaces.namespace.clone(),
        }
    }

    /// Whether `-n` lets this object be printed (cluster-scoped objects always are).
    pub fn shows(&self, key: &ObjectKey) -> bool {
        match &self.namespace {
            Some(ns) => key.namespace.is_empty() || key.namespace == *ns,
            None => true,
        }
    }

    /// Text for people, wrapped to the screen.
    fn text(&self, out: &mut dyn Write, text: &str) -> anyhow::Result<()> {
        out.write_all(self.screen.fit(text).as_bytes())?;
        Ok(())
    }

    /// `-o yaml` or `-o json` of a value.
    fn structured(&self, out: &mut dyn Write, value: &impl Serialize) -> anyhow::Result<()> {
        write_structured(out, self.output == Output::Json, value)
    }
}

fn write_structured(out: &mut dyn Write, json: bool, value: &impl Serialize) -> anyhow::Result<()> {
    if json {
        // Written as it is serialised, so output of any size costs no more memory than a
        // buffer (a closed pipe is noticed through the error's io kind).
        let mut buffered = std::io::BufWriter::with_capacity(1 << 16, out);
        serde_json::to_writer_pretty(&mut buffered, value)?;
        buffered.write_all(b"\n")?;
        buffered.flush()?;
    } else {
        let mut writer = YamlOut {
            out: std::io::BufWriter::with_capacity(1 << 16, out),
            failed: None,
        };
        let serialised = serde_saphyr::to_fmt_writer(&mut writer, value);
        // A write error stays an io::Error (a closed pipe ends quietly), not a
        // serialisation error.
        if let Some(e) = writer.failed {
            return Err(e.into());
        }
        serialised?;
        writer.out.flush()?;
    }
    Ok(())
}

/// YAML written as it is serialised, through a buffer: output of any size costs no more
/// memory than the buffer. The first write error is kept to be returned as itself.
struct YamlOut<W: Write> {
    out: std::io::BufWriter<W>,
    failed: Option<std::io::Error>,
}

impl<W: Write> std::fmt::Write for YamlOut<W> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        if self.failed.is_some() {
            return Err(std::fmt::Error);
        }
        self.out.write_all(s.as_bytes()).map_err(|e| {
            self.failed = Some(e);
            std::fmt::Error
        })
    }
}

/// `KIND/NAMESPACE/NAME`, or `KIND/NAME` for cluster-scoped objects: the form `--delete`
/// takes.
fn name_of(key: &ObjectKey) -> String {
    if key.namespace.is_empty() {
        format!("{}/{}", key.kind, key.name)
    } else {
        format!("{}/{}/{}", key.kind, key.namespace, key.name)
    }
}

/// Loads files, with a spinner on a terminal when they are large.
///
/// The inputs live until the process exits: each command prints and ends, and freeing every
/// object of a 10,000-route state one by one cost about a tenth of `gwsim check`'s time.
fn load(files: &[PathBuf], options: &LoadOptions) -> anyhow::Result<&'static Inputs> {
    let spinner = spinner_for_files(files);
    let loaded = inputs::load_with(files, options);
    if let Some(spinner) = spinner {
        spinner.finish_and_clear();
    }
    let inputs = loaded?;
    require_objects(&inputs, files)?;
    Ok(Box::leak(Box::new(inputs)))
}

/// A spinner on standard error, only when it is a terminal.
fn spinner(message: String) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new_spinner().with_message(message);
    if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
        bar.set_style(style);
    }
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    Some(bar)
}

/// `work` with a spinner on a terminal when `files` are large (`gwsim diff`'s states).
pub fn with_spinner<T>(files: &[&[PathBuf]], work: impl FnOnce() -> T) -> T {
    let all: Vec<PathBuf> = files.iter().flat_map(|f| f.iter().cloned()).collect();
    let spinner = spinner_for_files(&all);
    let result = work();
    if let Some(spinner) = spinner {
        spinner.finish_and_clear();
    }
    result
}

/// A bar of `len` steps on standard error, only when it is a terminal.
fn progress_bar(len: usize, what: &str) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(len as u64).with_message(what.to_string());
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({elapsed})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    Some(bar)
}

/// Scenarios run a few at a time to move a bar.
const BAR_CHUNK: usize = 8;

fn spinner_for_files(files: &[PathBuf]) -> Option<indicatif::ProgressBar> {
    let bytes: u64 = files.iter().map(|p| size_of_path(p)).sum();
    if bytes < LARGE_INPUT_BYTES {
        return None;
    }
    spinner(format!(
        "reading, admitting and reconciling {:.1} MB of input",
        bytes as f64 / 1e6
    ))
}

fn size_of_path(path: &Path) -> u64 {
    let Ok(meta) = std::fs::metadata(path) else {
        return 0;
    };
    if meta.is_file() {
        return meta.len();
    }
    if !meta.is_dir() {
        return 0;
    }
    std::fs::read_dir(path)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|e| size_of_path(&e.path()))
        .sum()
}

/// An input with no Kubernetes object at all is a mistake (a wrong folder, a scenario given
/// to `-f`): exit 2, saying what was found instead.
fn require_objects(inputs: &Inputs, files: &[PathBuf]) -> anyhow::Result<()> {
    let empty = inputs.snapshot.is_empty()
        && inputs.rejected.is_empty()
        && inputs.not_found.is_empty()
        && inputs.ignored.is_empty();
    if !empty {
        return Ok(());
    }
    let paths: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    if paths.is_empty() {
        anyhow::bail!(
            "no Kubernetes objects in the cluster (no Gateway API object, Namespace, Service or EndpointSlice it serves)"
        );
    }
    let mut message = format!("no Kubernetes objects in {}", paths.join(", "));
    match inputs.skipped.first() {
        Some((origin, reason)) => {
            let more = inputs.skipped.len() - 1;
            message.push_str(&format!("; skipped {origin}: {reason}"));
            if more > 0 {
                message.push_str(&format!(" (and {more} more)"));
            }
        }
        None => message.push_str(" (no .yaml, .yml or .json file, or only empty ones)"),
    }
    if files.iter().any(|p| looks_like_scenario(p)) {
        message.push_str(". This is a scenario; did you mean `gwsim run`?");
    } else {
        message.push_str(
            ". Give files or folders of manifests (YAML or JSON; folders are read recursively), or - for standard input",
        );
    }
    bail!(message)
}

/// Whether a path holds a Kubernetes manifest: a line `apiVersion:` and a line `kind:` at
/// the top level (or their JSON keys). Only used to add a hint to an error.
fn looks_like_manifest(path: &Path) -> bool {
    first_files(path).iter().any(|text| {
        let yaml = text.lines().any(|l| l.starts_with("apiVersion:"))
            && text.lines().any(|l| l.starts_with("kind:"));
        let json = text.contains("\"apiVersion\"") && text.contains("\"kind\"");
        yaml || json
    })
}

/// Whether a path holds a scenario: top-level `steps:`. Only used to add a hint.
fn looks_like_scenario(path: &Path) -> bool {
    first_files(path)
        .iter()
        .any(|text| text.lines().any(|l| l.starts_with("steps:")))
}

/// The text of a file, or of the first few YAML or JSON files of a folder (for hints only).
fn first_files(path: &Path) -> Vec<String> {
    const MAX_FILES: usize = 8;
    const MAX_BYTES: u64 = 1 << 20;
    let mut texts = Vec::new();
    let mut pending = vec![path.to_path_buf()];
    while let Some(p) = pending.pop() {
        if texts.len() >= MAX_FILES {
            break;
        }
        let Ok(meta) = std::fs::metadata(&p) else {
            continue;
        };
        if meta.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(&p)
                .into_iter()
                .flatten()
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            entries.sort();
            entries.reverse();
            pending.extend(entries);
        } else if meta.len() <= MAX_BYTES
            && (p == path
                || p.extension()
                    .is_some_and(|e| e == "yaml" || e == "yml" || e == "json"))
            && let Ok(text) = std::fs::read_to_string(&p)
        {
            texts.push(text);
        }
    }
    texts
}

/// `gwsim check`.
pub fn check(
    out: &mut dyn Write,
    print: &Print,
    files: &[PathBuf],
    options: &LoadOptions,
) -> anyhow::Result<u8> {
    // check prints statuses, never routes.
    let load_options = LoadOptions {
        without_routing_table: true,
        ..options.clone()
    };
    let inputs = load(files, &load_options)?;
    let shows = |key: &ObjectKey| print.shows(key);
    let (table, ok) = check::render_table(inputs, &shows, print.screen.color);
    match print.output {
        Output::Text | Output::Wide => {
            let version = options.admission.gateway_api_version;
            let mut text = format!(
                "Gateway API {} (experimental channel), --gateway-api-version {version}\n",
                version.release()
            );
            text.push_str(&check::header(inputs));
            text.push('\n');
            text.push_str(&table);
            print.text(out, &text)?;
        }
        Output::Name => {
            for object in inputs.snapshot.objects.values() {
                let key = object.key();
                if print.shows(&key) {
                    writeln!(out, "{}", name_of(&key))?;
                }
            }
        }
        Output::Yaml | Output::Json => {
            print.structured(out, &check::objects_list(inputs, &shows))?;
        }
    }
    Ok(if ok { 0 } else { 1 })
}

/// A Gateway named on the command line: `NAMESPACE/NAME`, or a bare `NAME` that one Gateway
/// of the input has.
fn resolve_gateway(inputs: &Inputs, text: &str) -> anyhow::Result<ObjectKey> {
    if text.contains('/') {
        return crate::parse_gateway(text);
    }
    let gateways: Vec<ObjectKey> = inputs
        .snapshot
        .of_kind(Kind::Gateway)
        .map(|o| o.key())
        .collect();
    let named: Vec<&ObjectKey> = gateways.iter().filter(|k| k.name == text).collect();
    match named.as_slice() {
        [only] => Ok((*only).clone()),
        [] => {
            let names: Vec<String> = gateways.iter().map(|k| k.name.clone()).collect();
            bail!(
                "--gateway {text}: no Gateway of that name in the input{}",
                did_you_mean(text, names.iter().map(String::as_str))
            )
        }
        several => {
            let names: Vec<String> = several.iter().map(|k| k.namespaced_name()).collect();
            bail!(
                "--gateway {text}: several Gateways have that name ({}); give NAMESPACE/NAME",
                names.join(", ")
            )
        }
    }
}

/// `gwsim routes`.
pub fn routes(
    out: &mut dyn Write,
    print: &Print,
    files: &[PathBuf],
    gateway: Option<&str>,
    options: &LoadOptions,
) -> anyhow::Result<u8> {
    let inputs = load(files, options)?;
    let gateway = gateway.map(|g| resolve_gateway(inputs, g)).transpose()?;
    let mut listing = inputs.table.listing();
    listing
        .gateways
        .retain(|g| print.shows(&g.gateway) && gateway.as_ref().is_none_or(|k| *k == g.gateway));
    if let Some(gateway) = &gateway
        && listing.gateways.is_empty()
    {
        bail!(
            "no Gateway {} of a class gwsim stands in for{}",
            gateway.namespaced_name(),
            if print.shows(gateway) {
                ""
            } else {
                " in the namespace given by -n"
            }
        );
    }
    let entries = listing
        .gateways
        .iter()
        .flat_map(|g| g.listeners.iter())
        .flat_map(|l| l.entries.iter());
    print_listing(
        out,
        print,
        inputs,
        &listing.render_text(),
        entries,
        &listing,
    )
}

/// A routes listing (a Gateway table's or the mesh's) as `-o` asks: the text, the routes of
/// its entries once each, or the whole listing with the input report.
fn print_listing<'e>(
    out: &mut dyn Write,
    print: &Print,
    inputs: &Inputs,
    text: &str,
    entries: impl Iterator<Item = &'e ListingEntry>,
    listing: &impl Serialize,
) -> anyhow::Result<u8> {
    match print.output {
        Output::Text | Output::Wide => {
            print.text(out, &format!("{}\n{text}", check::header(inputs)))?;
        }
        Output::Name => {
            let mut seen = BTreeSet::new();
            for entry in entries {
                if seen.insert(entry.route.clone()) {
                    writeln!(out, "{}", name_of(&entry.route))?;
                }
            }
        }
        Output::Yaml | Output::Json => {
            let value = with_report(serde_json::to_value(listing)?, inputs);
            print.structured(out, &value)?;
        }
    }
    Ok(0)
}

/// A structured output with the `gwsim` field that `check -o yaml` has: the stand-in, the
/// skipped, refused and ignored documents, warnings and findings (the text's first lines).
fn with_report(value: Value, inputs: &Inputs) -> Value {
    let mut map = serde_json::Map::new();
    map.insert("gwsim".to_string(), check::report(inputs));
    match value {
        Value::Object(fields) => map.extend(fields),
        other => {
            map.insert("data".to_string(), other);
        }
    }
    Value::Object(map)
}

/// `-f PATH... URL`: the files take every argument after `-f`, so a URL among them (the
/// last) is the request's.
pub fn split_url(
    mut files: Vec<PathBuf>,
    url: Option<String>,
) -> anyhow::Result<(Vec<PathBuf>, String)> {
    if let Some(url) = url {
        return Ok((files, url));
    }
    let is_url = |p: &PathBuf| {
        let text = p.to_string_lossy();
        ["http://", "https://", "tls://", "tcp://", "udp://"]
            .iter()
            .any(|scheme| text.starts_with(scheme))
    };
    match files.last() {
        Some(last) if is_url(last) => {
            let url = files.pop().map(|p| p.to_string_lossy().into_owned());
            if files.is_empty() {
                bail!("give the files with -f, then the URL");
            }
            Ok((files, url.unwrap_or_default()))
        }
        _ => bail!("give the request's URL (http://host/path) after the files"),
    }
}

/// The request of `gwsim explain`, as flags.
pub struct ExplainRequest {
    pub url: String,
    pub gateway: Option<String>,
    pub method: String,
    pub headers: Vec<String>,
    pub sni: Option<String>,
    /// The client pod's namespace, for a request through the mesh.
    pub from: Option<String>,
    pub seed: u64,
}

/// `gwsim explain`.
pub fn explain(
    out: &mut dyn Write,
    print: &Print,
    files: &[PathBuf],
    flags: &ExplainRequest,
    options: &LoadOptions,
) -> anyhow::Result<u8> {
    if let Some(connection) = parse_connection(&flags.url, flags.sni.as_deref())? {
        return explain_connection(out, print, files, flags, connection, options);
    }
    // The flags first: a bad URL is said before the files are read.
    let mut request = gwsim_sim::inputs::parse_url(&flags.url)?;
    let inputs = load(files, options)?;
    request.gateway = flags
        .gateway
        .as_deref()
        .map(|g| resolve_gateway(inputs, g))
        .transpose()?;
    request.method = flags.method.to_ascii_uppercase();
    for header in &flags.headers {
        let (name, value) = header
            .split_once(':')
            .with_context(|| format!("header {header:?} is not `name: value`"))?;
        request
            .headers
            .push((name.trim().to_string(), value.trim().to_string()));
    }
    if request.scheme == Scheme::Https {
        request.sni = Some(
            flags
                .sni
                .clone()
                .unwrap_or_else(|| gwsim_sim::inputs::host_without_port(&request.host)),
        );
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(flags.seed);
    let mut decision = match &flags.from {
        Some(namespace) => mesh_decision(inputs, namespace, &request, &mut rng)?,
        None => inputs.table.decide(&request, &mut rng),
    };
    check::note_endpoints(inputs, &mut decision);
    print_decision(
        out,
        print,
        inputs,
        &decision.explanation,
        &decision.provenance,
        &decision,
    )
}

/// An explained decision (a request's or a connection's) as `-o` asks: the explanation, the
/// route that took it, or the whole decision with the input report.
fn print_decision(
    out: &mut dyn Write,
    print: &Print,
    inputs: &Inputs,
    explanation: &gwsim_engine::explain::Explanation,
    provenance: &Option<gwsim_engine::decision::Provenance>,
    decision: &impl Serialize,
) -> anyhow::Result<u8> {
    match print.output {
        Output::Text | Output::Wide => {
            let text = format!("{}\n{}", check::header(inputs), explanation.render_text());
            print.text(out, &text)?;
        }
        Output::Name => {
            if let Some(p) = provenance {
                writeln!(out, "{}", name_of(&p.route))?;
            }
        }
        Output::Yaml | Output::Json => {
            let value = with_report(serde_json::to_value(decision)?, inputs);
            print.structured(out, &value)?;
        }
    }
    Ok(0)
}

/// The mesh's table over the inputs. The stand-in leaves Service parents to the installed
/// mesh; here gwsim acts as a conforming mesh would, over the same objects.
fn mesh_table(inputs: &Inputs) -> MeshTable {
    let config = ControllerConfig {
        mesh: Some(MESH_CONTROLLER_NAME.to_string()),
        ..ControllerConfig::stand_in(inputs.stand_in.clone())
    };
    let reconciled = reconcile(&inputs.snapshot, &config, gwsim_sim::inputs::epoch());
    MeshTable::build(&reconciled.mesh)
}

/// `gwsim routes --mesh`: the routes attached to Services, per port and audience.
pub fn mesh_routes(
    out: &mut dyn Write,
    print: &Print,
    files: &[PathBuf],
    options: &LoadOptions,
) -> anyhow::Result<u8> {
    let inputs = load(files, options)?;
    let mut listing = mesh_table(inputs).listing();
    listing.services.retain(|s| print.shows(&s.service));
    let entries = listing
        .services
        .iter()
        .flat_map(|s| s.ports.iter())
        .flat_map(|p| p.entries.iter());
    print_listing(
        out,
        print,
        inputs,
        &listing.render_text(),
        entries,
        &listing,
    )
}

/// A request from a pod in `namespace` through the mesh: the URL's host resolved as the pod's
/// resolver would, then the routes of that Service port (consumer routes of the namespace,
/// else producer routes, else the Service itself).
fn mesh_decision(
    inputs: &Inputs,
    namespace: &str,
    request: &Request,
    rng: &mut dyn rand::RngCore,
) -> anyhow::Result<Decision> {
    let mesh = mesh_table(inputs);
    let authority = format!(
        "{}:{}",
        gwsim_sim::inputs::host_without_port(&request.host),
        request.port
    );
    let to = mesh
        .resolve(&authority, namespace)
        .map_err(|why| anyhow::anyhow!("--from {namespace}: {why}"))?;
    Ok(mesh.decide(namespace, &to, request, rng))
}

/// `tls://SNI:PORT`, `tcp://[HOST]:PORT`, `udp://[HOST]:PORT`: a connection to a Gateway port
/// (`None`: the URL is a request's). The host of tcp and udp names nothing the Gateway reads.
fn parse_connection(url: &str, sni: Option<&str>) -> anyhow::Result<Option<Connection>> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Ok(None);
    };
    let protocol = match scheme.to_ascii_lowercase().as_str() {
        "tls" => ConnectionProtocol::Tls,
        "tcp" => ConnectionProtocol::Tcp,
        "udp" => ConnectionProtocol::Udp,
        _ => return Ok(None),
    };
    let authority = rest.trim_end_matches('/');
    let (host, port) = authority
        .rsplit_once(':')
        .with_context(|| format!("{url}: give the Gateway port, {scheme}://HOST:PORT"))?;
    let port: u16 = port
        .parse()
        .ok()
        .filter(|p| *p > 0)
        .with_context(|| format!("{url}: the port must be a number from 1 to 65535"))?;
    let sni = match protocol {
        ConnectionProtocol::Tls => sni
            .map(str::to_string)
            .or_else(|| (!host.is_empty()).then(|| host.to_ascii_lowercase())),
        ConnectionProtocol::Tcp | ConnectionProtocol::Udp => None,
    };
    Ok(Some(Connection {
        gateway: None,
        port,
        protocol,
        sni,
    }))
}

/// `gwsim explain` for a connection: the listener and route that take it, every other
/// attached route and why it lost, the backend.
fn explain_connection(
    out: &mut dyn Write,
    print: &Print,
    files: &[PathBuf],
    flags: &ExplainRequest,
    mut connection: Connection,
    options: &LoadOptions,
) -> anyhow::Result<u8> {
    let inputs = load(files, options)?;
    connection.gateway = flags
        .gateway
        .as_deref()
        .map(|g| resolve_gateway(inputs, g))
        .transpose()?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(flags.seed);
    let decision = gwsim_engine::connection::decide(inputs.table.gateways(), &connection, &mut rng);
    print_decision(
        out,
        print,
        inputs,
        &decision.explanation,
        &decision.provenance,
        &decision,
    )
}

/// `gwsim diff`'s output.
pub fn print_diff(
    out: &mut dyn Write,
    print: &Print,
    result: &BehaviourDiff,
) -> anyhow::Result<()> {
    match print.output {
        Output::Text | Output::Wide => print.text(out, &result.render_text(print.screen.color)),
        Output::Name => {
            for change in &result.status_changes {
                writeln!(out, "{}", name_of(&change.object))?;
            }
            Ok(())
        }
        Output::Yaml | Output::Json => print.structured(out, result),
    }
}

/// `gwsim audit`.
pub fn audit(
    out: &mut dyn Write,
    print: &Print,
    files: &[PathBuf],
    options: &LoadOptions,
) -> anyhow::Result<u8> {
    let inputs = load(files, options)?;
    let mut result =
        gwsim_engine::audit::audit(&inputs.snapshot, &inputs.reconciliation, &inputs.installed);
    result.objects.retain(|o| print.shows(&o.object));
    result.findings = result.objects.iter().map(|o| o.findings.len()).sum();
    result.choices = result.objects.iter().map(|o| o.choices.len()).sum();
    match print.output {
        Output::Text | Output::Wide => {
            let text = format!("{}\n{}", check::header(inputs), audit::render_text(&result));
            print.text(out, &text)?;
        }
        Output::Name => {
            for o in result.objects.iter().filter(|o| !o.findings.is_empty()) {
                writeln!(out, "{}", name_of(&o.object))?;
            }
        }
        Output::Yaml | Output::Json => {
            print.structured(out, &audit::to_json(inputs, &result))?;
        }
    }
    Ok(u8::from(!result.agrees()))
}

/// Scenarios from paths, with a hint when the paths hold manifests instead: `instead` is
/// the command that reads them (`gwsim check -f`).
fn load_scenarios(
    paths: &[PathBuf],
    instead: &str,
) -> anyhow::Result<Vec<gwsim_sim::scenario::Scenario>> {
    match gwsim_sim::scenario::load_paths(paths) {
        Ok(scenarios) => Ok(scenarios),
        Err(err) => match paths.iter().find(|p| looks_like_manifest(p)) {
            Some(p) => bail!(
                "{err}; this is a manifest, not a scenario; did you mean `-f`? (`{instead} {}`)",
                p.display()
            ),
            None => Err(err.into()),
        },
    }
}

/// `gwsim tui SCENARIO`: the scenario is read before the terminal is taken, so a file that
/// is not one gets the same plain error and hint as `gwsim run`.
pub fn check_scenario_path(path: &Path) -> anyhow::Result<()> {
    load_scenarios(&[path.to_path_buf()], "gwsim tui -f").map(|_| ())
}

/// `gwsim run`.
pub fn run_scenarios(
    out: &mut dyn Write,
    screen: Screen,
    paths: &[PathBuf],
    seed: Option<u64>,
    filter: Option<String>,
    output: ReportOutput,
    wire: bool,
) -> anyhow::Result<u8> {
    let scenarios = load_scenarios(paths, "gwsim check -f")?;
    if let Some(filter) = &filter
        && !scenarios.iter().any(|s| s.name.contains(filter.as_str()))
    {
        bail!(
            "--filter {filter:?} selects none of the {} scenarios{}",
            scenarios.len(),
            did_you_mean(filter, scenarios.iter().map(|s| s.name.as_str()))
        );
    }
    let options = gwsim_sim::runner::RunOptions { seed, filter };
    if wire {
        // `gwsim run --wire`: the scenarios through real sockets (docs/serve.md).
        let report = gwsim_proxy::wire::run_paths_wire(paths, &options);
        return print_run_report(out, output, report, |r| {
            (r.render_text(), r.render_json(), r.exit_code())
        });
    }
    let report = run_with_bar(&scenarios, &options, screen);
    print_run_report(out, output, report, |r| {
        (r.render_text(), r.render_json(), r.exit_code())
    })
}

/// A run's report as `output` asks (`render` gives its text, its JSON and its exit code), or
/// the run's error on standard error.
fn print_run_report<R>(
    out: &mut dyn Write,
    output: ReportOutput,
    report: Result<R, gwsim_sim::runner::RunError>,
    render: impl Fn(&R) -> (String, String, i32),
) -> anyhow::Result<u8> {
    let report = match report {
        Ok(report) => report,
        Err(err) => {
            let _ = writeln!(std::io::stderr(), "gwsim: {err}");
            return Ok(crate::exit_byte(err.exit_code()));
        }
    };
    let (text, json, exit) = render(&report);
    match output {
        ReportOutput::Text => out.write_all(text.as_bytes())?,
        ReportOutput::Json => out.write_all(json.as_bytes())?,
        ReportOutput::Yaml => {
            let value: Value = serde_json::from_str(&json)?;
            write_structured(out, false, &value)?;
        }
    }
    Ok(crate::exit_byte(exit))
}

/// The scenarios run, with a bar on a terminal when there are many (a few at a time; the
/// results are the same as in one run: each scenario runs alone on its own cluster).
fn run_with_bar(
    scenarios: &[gwsim_sim::scenario::Scenario],
    options: &gwsim_sim::runner::RunOptions,
    screen: Screen,
) -> Result<gwsim_sim::runner::RunReport, gwsim_sim::runner::RunError> {
    let bar = (scenarios.len() > 20 && screen.terminal)
        .then(|| progress_bar(scenarios.len(), "scenarios"))
        .flatten();
    let Some(bar) = bar else {
        return gwsim_sim::runner::run_scenarios(scenarios, options);
    };
    let mut results = Vec::with_capacity(scenarios.len());
    for chunk in scenarios.chunks(BAR_CHUNK) {
        results.extend(gwsim_sim::runner::run_scenarios(chunk, options)?.scenarios);
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    Ok(gwsim_sim::runner::RunReport::new(results))
}

/// The suite run, with a bar on a terminal (a few tests at a time, same results).
fn conformance_with_bar(
    scenarios: &[gwsim_sim::scenario::Scenario],
    options: &gwsim_conformance::Options,
    screen: Screen,
    target: &dyn gwsim_conformance::Target,
) -> Result<gwsim_conformance::SuiteReport, gwsim_sim::runner::RunError> {
    let bar = screen
        .terminal
        .then(|| progress_bar(scenarios.len(), "conformance tests"))
        .flatten();
    let Some(bar) = bar else {
        return gwsim_conformance::run_on(scenarios, options, target);
    };
    let mut report = gwsim_conformance::SuiteReport::default();
    for chunk in scenarios.chunks(BAR_CHUNK) {
        let part = gwsim_conformance::run_on(chunk, options, target)?;
        report.results.extend(part.results);
        report.tested_features = part.tested_features;
        report.profiles = part.profiles;
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    Ok(report)
}

/// Where `gwsim conformance` writes its reports.
pub struct ReportFiles {
    pub report: Option<PathBuf>,
    pub junit: Option<PathBuf>,
}

/// Every name in `wanted` must name a test of the suite (its upstream ShortName or scenario
/// name); a selection that names nothing would run nothing without saying so.
fn check_test_names(
    flag: &str,
    wanted: &[String],
    scenarios: &[gwsim_sim::scenario::Scenario],
) -> anyhow::Result<()> {
    let names: BTreeSet<&str> = scenarios
        .iter()
        .flat_map(|s| [Some(s.name.as_str()), s.upstream.as_deref()])
        .flatten()
        .collect();
    for name in wanted {
        if !names.contains(name.as_str()) {
            bail!(
                "{flag} {name}: no test of the suite has that name{} (test names are upstream ShortNames, as `gwsim conformance` lists them)",
                did_you_mean(name, names.iter().copied())
            );
        }
    }
    Ok(())
}

/// Every `--features` name must be a feature gwsim supports or a test of the suite needs.
fn check_feature_names(
    wanted: &[String],
    scenarios: &[gwsim_sim::scenario::Scenario],
) -> anyhow::Result<()> {
    let mut known: BTreeSet<&str> = SUPPORTED_FEATURES
        .iter()
        .chain(MESH_SUPPORTED_FEATURES)
        .copied()
        .collect();
    known.extend(
        scenarios
            .iter()
            .flat_map(|s| s.features.iter().map(String::as_str)),
    );
    for feature in wanted {
        if !known.contains(feature.as_str()) {
            bail!(
                "--features {feature}: not a feature of the suite{}",
                did_you_mean(feature, known.iter().copied())
            );
        }
    }
    Ok(())
}

/// `gwsim conformance`.
pub fn conformance(
    out: &mut dyn Write,
    screen: Screen,
    suite: Option<&PathBuf>,
    options: &gwsim_conformance::Options,
    files: &ReportFiles,
    output: ReportOutput,
    on: SuiteTarget<'_>,
) -> anyhow::Result<u8> {
    let SuiteTarget {
        target,
        implementation,
    } = on;
    let scenarios = gwsim_conformance::load_suite(suite)?;
    check_test_names("--run", &options.run, &scenarios)?;
    check_test_names("--skip", &options.skip, &scenarios)?;
    check_feature_names(options.features.as_deref().unwrap_or(&[]), &scenarios)?;
    let results = match conformance_with_bar(&scenarios, options, screen, target) {
        Ok(r) => r,
        Err(err) => {
            let _ = writeln!(std::io::stderr(), "gwsim: {err}");
            return Ok(crate::exit_byte(err.exit_code()));
        }
    };
    let mut report = results.conformance_report(&crate::report_date());
    if let Some(controller) = implementation {
        report.implementation =
            gwsim_conformance::report::Implementation::from_controller_name(controller);
    }
    match output {
        ReportOutput::Text => out.write_all(results.render_text().as_bytes())?,
        ReportOutput::Yaml => write_structured(out, false, &report)?,
        ReportOutput::Json => write_structured(out, true, &report)?,
    }
    if let Some(path) = &files.report {
        let yaml = serde_saphyr::to_string(&report)?;
        std::fs::write(path, yaml).with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &files.junit {
        std::fs::write(path, results.render_junit())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(crate::exit_byte(results.exit_code()))
}

/// Where `gwsim conformance` runs the suite, and the implementation its report names.
pub struct SuiteTarget<'a> {
    pub target: &'a dyn gwsim_conformance::Target,
    /// `Some(controllerName)`: a cluster's implementation (`--target cluster`); `None`: gwsim.
    pub implementation: Option<&'a str>,
}

/// `gwsim version`.
pub fn version(out: &mut dyn Write, output: ReportOutput) -> anyhow::Result<u8> {
    use gwsim_engine::admission::GatewayApiVersion;
    let releases: Vec<&str> = GatewayApiVersion::ALL
        .iter()
        .rev()
        .map(|v| v.release())
        .collect();
    let default = GatewayApiVersion::default().release();
    let value = serde_json::json!({
        "gwsim": env!("CARGO_PKG_VERSION"),
        "commit": env!("GWSIM_COMMIT"),
        "gatewayAPI": {
            "versions": releases,
            "default": default,
            "channel": "experimental",
        },
        "supportedFeatures": SUPPORTED_FEATURES.len() + MESH_SUPPORTED_FEATURES.len(),
    });
    match output {
        ReportOutput::Text => {
            writeln!(out, "gwsim {}", env!("CARGO_PKG_VERSION"))?;
            writeln!(out, "commit: {}", env!("GWSIM_COMMIT"))?;
            writeln!(
                out,
                "Gateway API: {} (experimental channel); --gateway-api-version selects {}",
                releases.join(", "),
                GatewayApiVersion::ALL
                    .iter()
                    .rev()
                    .map(|v| if v.release() == default {
                        format!("{v} (default)")
                    } else {
                        v.to_string()
                    })
                    .collect::<Vec<_>>()
                    .join(" or ")
            )?;
            writeln!(
                out,
                "conformance: {} profiles, {} supported features",
                gwsim_conformance::profile::PROFILES
                    .iter()
                    .map(|p| p.name)
                    .collect::<Vec<_>>()
                    .join(", "),
                SUPPORTED_FEATURES.len() + MESH_SUPPORTED_FEATURES.len()
            )?;
        }
        ReportOutput::Yaml => write_structured(out, false, &value)?,
        ReportOutput::Json => write_structured(out, true, &value)?,
    }
    Ok(0)
}

/// `gwsim man`: the page of `gwsim` on standard output, or every command's page in `dir`.
pub fn man(out: &mut dyn Write, command: clap::Command, dir: Option<&Path>) -> anyhow::Result<u8> {
    match dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            clap_mangen::generate_to(command, dir)
                .with_context(|| format!("writing man pages into {}", dir.display()))?;
            writeln!(out, "wrote man pages into {}", dir.display())?;
        }
        None => clap_mangen::Man::new(command).render(out)?,
    }
    Ok(0)
}
