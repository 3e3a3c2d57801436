//! `gwsim serve --api`: the Kubernetes API in front of a simulated cluster.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use anyhow::{Context, bail};
use gwsim_apiserver::{ApiConfig, DEFAULT_BODY_LIMIT, SharedCluster, shared::DEFAULT_HISTORY};
use gwsim_sim::SimCluster;

/// The flags of `gwsim serve` the API uses.
pub struct ApiOptions {
    pub files: Vec<PathBuf>,
    /// `--api [ADDR]`: the API's address (default 127.0.0.1:6443).
    pub api: SocketAddr,
    /// `--bind ADDR`: allow a non-loopback address.
    pub bind: Option<IpAddr>,
    pub kubeconfig_out: Option<PathBuf>,
    pub insecure: bool,
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
        let config = ApiConfig {
            tls: !options.insecure,
            body_limit: DEFAULT_BODY_LIMIT,
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
        anyhow::Ok(0)
    })
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
