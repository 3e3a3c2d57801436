//! `gwsim serve`: the files' Gateways on real sockets until Ctrl-C.

use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use gwsim_proxy::{Options, Proxy, UserBackend};

/// How often the files are checked for changes.
const WATCH_EVERY: Duration = Duration::from_millis(500);
/// How long connections in flight get to finish after Ctrl-C.
const DRAIN: Duration = Duration::from_secs(10);

pub struct ServeArgs {
    pub files: Vec<PathBuf>,
    pub port_offset: u16,
    pub backends: Vec<String>,
    pub ready_file: Option<PathBuf>,
    pub bind: Option<IpAddr>,
    pub explain_header: bool,
    pub workers: usize,
}

pub fn serve(args: ServeArgs) -> anyhow::Result<u8> {
    let backends = args
        .backends
        .iter()
        .map(|spec| UserBackend::parse(spec))
        .collect::<Result<Vec<_>, _>>()?;
    // gwsim serves every Gateway and, as the mesh, every Service's routes.
    let inputs = gwsim_sim::inputs::load_served(&args.files)?;
    for (origin, rejection) in &inputs.rejected {
        tracing::warn!(target: "gwsim::serve", "not served, the API server would refuse it: {origin}: {rejection}");
    }
    if inputs.table.gateways().is_empty() && inputs.table.mesh().service_ports().next().is_none() {
        bail!("no Gateway and no Service in the input: nothing to serve");
    }
    let mut runtime = if args.workers <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(args.workers);
        b
    };
    let runtime = runtime
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async move {
        let options = Options {
            bind: args.bind,
            port_offset: args.port_offset,
            ephemeral_ports: false,
            backends,
            explain_header: args.explain_header,
            exact_endpoints: false,
            stand_in_certificates: false,
            limits: gwsim_proxy::Limits::default(),
            echo_logs: gwsim_proxy::EchoLogs::default(),
        };
        let proxy = Arc::new(Proxy::start(&inputs.snapshot, inputs.table, options).await?);
        let mut stdout = std::io::stdout().lock();
        let mesh = proxy.served_mesh().await;
        for served in proxy.served() {
            writeln!(stdout, "{}", served.line())?;
        }
        for service in &mesh.services {
            writeln!(stdout, "{}", service.line())?;
        }
        stdout.flush()?;
        drop(stdout);
        if let Some(path) = &args.ready_file {
            std::fs::write(path, gwsim_proxy::ready_json(&proxy.served(), &mesh))
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        let watcher = tokio::spawn(gwsim_proxy::watch_files(
            proxy.clone(),
            args.files.clone(),
            WATCH_EVERY,
        ));
        tokio::signal::ctrl_c()
            .await
            .context("waiting for Ctrl-C")?;
        watcher.abort();
        let _ = watcher.await;
        tracing::info!(target: "gwsim::serve", "Ctrl-C: draining connections");
        match Arc::try_unwrap(proxy) {
            Ok(proxy) => proxy.shutdown(DRAIN).await,
            Err(_) => bail!("the proxy is still in use at shutdown"),
        }
        Ok(0)
    })
}
