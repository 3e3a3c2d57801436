//! `gwsim serve --api`: the Kubernetes API in front of a simulated cluster.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use gwsim_apiserver::shared::{DEFAULT_HISTORY, DataPlaneState};
use gwsim_apiserver::{ApiConfig, DEFAULT_BODY_LIMIT, SharedCluster};
use gwsim_proxy::{Proxy, UserBackend};
use gwsim_sim::SimCluster;
use tokio::sync::watch;

/// How long connections in flight get to finish after Ctrl-C.
const DRAIN: Duration = Duration::from_secs(10);

/// The flags of `gwsim serve` the API uses.
pub struct ApiOptions {
    pub files: Vec<PathBuf>,
    /// `--api [ADDR]`: the API's address (default 127.0.0.1:6443).
    pub api: SocketAddr,
    /// `--bind ADDR`: allow a non-loopback address.
    pub bind: Option<IpAddr>,
    pub kubeconfig_out: Option<PathBuf>,
    pub insecure: bool,
    /// The data plane: listener port P is served on P + offset.
    pub port_offset: u16,
    /// `--backend NS/SERVICE=URL`.
    pub backends: Vec<String>,
    pub explain_header: bool,
    /// Written (JSON, the served listeners) each time the data plane binds its sockets.
    pub ready_file: Option<PathBuf>,
}

/// The default address of the API.
pub const DEFAULT_API_ADDR: &str = "127.0.0.1:6443";

/// The API's address: loopback unless `--bind` names the host to listen on.
fn listen_addr(options: &ApiOptions) -> anyhow::Result<SocketAddr> {
    let mut addr = options.api;
    if let Some(ip) = options.bind {
        addr.set_ip(ip);
    } else if !addr.ip().is_loopback() {
        bail!(
            "--api {addr}: not a loopback address; pass --bind {} to listen there",
            addr.ip()
        );
    }
    Ok(addr)
}

pub fn serve(options: ApiOptions) -> anyhow::Result<u8> {
    let addr = listen_addr(&options)?;
    let backends = options
        .backends
        .iter()
        .map(|spec| UserBackend::parse(spec))
        .collect::<Result<Vec<_>, _>>()?;
    let echo_logs = gwsim_proxy::EchoLogs::default();
    let proxy_options = gwsim_proxy::Options {
        echo_logs: echo_logs.clone(),
        bind: options.bind,
        port_offset: options.port_offset,
        ephemeral_ports: false,
        backends,
        explain_header: options.explain_header,
        limits: gwsim_proxy::Limits::default(),
        exact_endpoints: false,
        stand_in_certificates: false,
    };
    let mut cluster = SimCluster::starting_at(0, gwsim_apiserver::shared::wall_clock());
    if !options.files.is_empty() {
        let documents = crate::inputs::read_documents(&options.files)?;
        let mut refused = Vec::new();
        for outcome in cluster.apply_documents(&documents) {
            if let Err(e) = outcome.result {
                refused.push(format!("{}: {e}", outcome.origin));
            }
        }
        if !refused.is_empty() {
            bail!("refused:\n{}", refused.join("\n"));
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async move {
        let shared = SharedCluster::new(cluster, DEFAULT_HISTORY);
        let (stop, stopped) = watch::channel(false);
        let data_plane = tokio::spawn(follow(
            shared.clone(),
            proxy_options,
            options.ready_file.clone(),
            stopped,
        ));
        let config = ApiConfig {
            tls: !options.insecure,
            body_limit: DEFAULT_BODY_LIMIT,
            pod_logs: Some(Arc::new(EchoPodLogs(echo_logs))),
        };
        let bound = gwsim_apiserver::bind(shared, addr, config).await?;
        if let Some(path) = &options.kubeconfig_out {
            write_private(path, &bound.kubeconfig)
                .with_context(|| format!("writing {}", path.display()))?;
        }
        tracing::info!(addr = %bound.addr, "serving the Kubernetes API");
        let scheme = if options.insecure { "http" } else { "https" };
        eprintln_line(&format!(
            "gwsim: Kubernetes API at {scheme}://{}",
            bound.addr
        ));
        bound
            .serve(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        let _ = stop.send(true);
        let _ = data_plane.await;
        anyhow::Ok(0)
    })
}

/// The data plane's echo pods' logs, as the API's `pods/{name}/log` reads them.
#[derive(Debug)]
struct EchoPodLogs(gwsim_proxy::EchoLogs);

impl gwsim_apiserver::podlog::PodLogs for EchoPodLogs {
    fn lines(
        &self,
        namespace: &str,
        pod: &str,
    ) -> Option<Vec<gwsim_apiserver::podlog::PodLogLine>> {
        let lines = self.0.lines(namespace, pod)?;
        Some(
            lines
                .into_iter()
                .map(|l| gwsim_apiserver::podlog::PodLogLine {
                    at: l.at,
                    text: l.text,
                })
                .collect(),
        )
    }
}

fn eprintln_line(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Writes the kubeconfig readable by its owner only: it holds the bearer token.
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(text.as_bytes())
}

/// The data plane behind the API: serves every Gateway listener of the state the
/// controllers publish, following each run (new routing table, echo servers for the
/// Services and EndpointSlices). Each change is swapped in without dropping a connection:
/// sockets of new listeners are bound and those of removed ones closed by the update.
async fn follow(
    shared: Arc<SharedCluster>,
    options: gwsim_proxy::Options,
    ready_file: Option<PathBuf>,
    mut stop: watch::Receiver<bool>,
) {
    let mut states = shared.data_plane();
    drop(shared);
    let mut proxy: Option<Proxy> = None;
    loop {
        let state = states.borrow_and_update().clone();
        proxy = serve_state(proxy, &state, &options, ready_file.as_deref()).await;
        tokio::select! {
            changed = states.changed() => if changed.is_err() { break },
            _ = stop.changed() => break,
        }
    }
    if let Some(proxy) = proxy {
        proxy.shutdown(DRAIN).await;
    }
}

async fn serve_state(
    current: Option<Proxy>,
    state: &DataPlaneState,
    options: &gwsim_proxy::Options,
    ready_file: Option<&std::path::Path>,
) -> Option<Proxy> {
    let Some(proxy) = current else {
        return match Proxy::start(&state.snapshot, state.table.clone(), options.clone()).await {
            Ok(proxy) => {
                let mesh = proxy.served_mesh().await;
                announce(&[], &Default::default(), &proxy.served(), &mesh, ready_file);
                Some(proxy)
            }
            Err(e) => {
                // Kept down until the next change (a port in use, say, may be freed by then).
                tracing::error!(target: "gwsim::serve", "data plane not serving: {e}");
                None
            }
        };
    };
    let before = proxy.served();
    let before_mesh = proxy.served_mesh().await;
    match proxy.update(&state.snapshot, state.table.clone()).await {
        Ok(notes) => {
            tracing::info!(target: "gwsim::serve", rv = state.resource_version, "data plane: new state in service");
            for note in notes {
                tracing::warn!(target: "gwsim::serve", "{note}");
            }
        }
        Err(e) => {
            tracing::error!(target: "gwsim::serve", "data plane: change not applied: {e}");
        }
    }
    let mesh = proxy.served_mesh().await;
    announce(&before, &before_mesh, &proxy.served(), &mesh, ready_file);
    Some(proxy)
}

/// Prints a line per listener (and mesh Service port) served now and not before, and
/// rewrites the ready file when what is served changed (it always names every listener, mesh
/// Service port and pod address).
fn announce(
    before: &[gwsim_proxy::ServedListener],
    before_mesh: &gwsim_proxy::ServedMesh,
    now: &[gwsim_proxy::ServedListener],
    now_mesh: &gwsim_proxy::ServedMesh,
    ready_file: Option<&std::path::Path>,
) {
    if before == now && before_mesh == now_mesh {
        return;
    }
    let mut stdout = std::io::stdout().lock();
    for served in now.iter().filter(|s| !before.contains(s)) {
        let _ = writeln!(stdout, "{}", served.line());
    }
    for service in now_mesh
        .services
        .iter()
        .filter(|s| !before_mesh.services.contains(s))
    {
        let _ = writeln!(stdout, "{}", service.line());
    }
    let _ = stdout.flush();
    drop(stdout);
    if let Some(path) = ready_file
        && let Err(e) = std::fs::write(path, gwsim_proxy::ready_json(now, now_mesh))
    {
        tracing::error!(target: "gwsim::serve", "cannot write {}: {e}", path.display());
    }
}
