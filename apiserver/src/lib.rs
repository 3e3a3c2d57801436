//! A Kubernetes API server in front of gwsim's simulated cluster, so that `kubectl` (and any
//! client-go or kube-rs client) works against gwsim.
//!
//! Modules: [`shared`] (the cluster shared by handlers and the data plane), [`resources`]
//! (what is served, discovery), [`server`] (paths and verbs), [`watch`], [`patch`],
//! [`managed`] (managedFields and server-side apply), [`paging`] (`limit` and `continue`),
//! [`printing`] (Table responses),
//! [`select`] (label and field selectors), [`error`] (Status responses), [`tls`].

pub mod core_schemas;
pub mod error;
pub mod managed;
pub mod openapi;
pub mod paging;
pub mod patch;
pub mod podlog;
pub mod printing;
pub mod resources;
pub mod select;
pub mod server;
pub mod shared;
pub mod tls;
pub mod watch;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

pub use shared::SharedCluster;

/// The largest request body accepted (kube-apiserver's limit is 3 MiB for most requests).
pub const DEFAULT_BODY_LIMIT: usize = 3 * 1024 * 1024;

/// Why the API server could not start or serve.
#[derive(Debug, thiserror::Error)]
pub enum ApiServerError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("TLS set-up failed: {0}")]
    Tls(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// How to serve.
#[derive(Clone, Debug)]
pub struct ApiConfig {
    /// TLS with a generated self-signed certificate and a bearer token (the default), or
    /// plain HTTP without authentication.
    pub tls: bool,
    pub body_limit: usize,
    /// Where the pods' logs are kept (`pods/{name}/log`); `None`: every log is empty.
    pub pod_logs: Option<Arc<dyn podlog::PodLogs>>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            tls: true,
            body_limit: DEFAULT_BODY_LIMIT,
            pod_logs: None,
        }
    }
}

/// A bound, ready server: its address and the kubeconfig that reaches it.
pub struct Bound {
    pub addr: SocketAddr,
    pub kubeconfig: String,
    listener: TcpListener,
    app: Arc<server::App>,
    tls: Option<Arc<rustls::ServerConfig>>,
}

/// Binds `addr` and prepares TLS and the token; [`Bound::serve`] then serves.
pub async fn bind(
    cluster: Arc<SharedCluster>,
    addr: SocketAddr,
    config: ApiConfig,
) -> Result<Bound, ApiServerError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ApiServerError::Bind { addr, source })?;
    let addr = listener.local_addr()?;
    let host = match addr.ip() {
        ip if ip.is_unspecified() => "127.0.0.1".to_string(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    let (tls, token, kubeconfig) = if config.tls {
        let cert = tls::self_signed(addr)?;
        let token = random_token();
        let server = format!("https://{host}:{}", addr.port());
        let kubeconfig = tls::kubeconfig(&server, Some(&cert.cert_pem), Some(&token));
        (Some(tls::server_config(&cert)?), Some(token), kubeconfig)
    } else {
        let server = format!("http://{host}:{}", addr.port());
        (None, None, tls::kubeconfig(&server, None, None))
    };
    let app = Arc::new(server::App {
        cluster,
        token,
        body_limit: config.body_limit,
        pod_logs: config.pod_logs,
    });
    Ok(Bound {
        addr,
        kubeconfig,
        listener,
        app,
        tls,
    })
}

fn random_token() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..32)
        .map(|_| format!("{:02x}", rng.random::<u8>()))
        .collect()
}

impl Bound {
    /// Serves until `shutdown` completes.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ApiServerError> {
        let router = server::router(self.app);
        match self.tls {
            None => {
                axum::serve(self.listener, router)
                    .with_graceful_shutdown(shutdown)
                    .await?;
                Ok(())
            }
            Some(config) => serve_tls(self.listener, router, config, shutdown).await,
        }
    }
}

async fn serve_tls(
    listener: TcpListener,
    router: axum::Router,
    config: Arc<rustls::ServerConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ApiServerError> {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::service::TowerToHyperService;
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => accepted?,
            () = &mut shutdown => return Ok(()),
        };
        let acceptor = acceptor.clone();
        let service = TowerToHyperService::new(router.clone());
        tokio::spawn(async move {
            let Ok(stream) = acceptor.accept(stream).await else {
                return;
            };
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            if let Err(e) = builder
                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!("connection ended: {e}");
            }
        });
    }
}

/// An in-process router over `cluster` (plain HTTP, no token): for tests and embedding.
pub fn router(cluster: Arc<SharedCluster>, body_limit: usize) -> axum::Router {
    router_with_logs(cluster, body_limit, None)
}

/// As [`router`], the pods' logs read from `pod_logs`.
pub fn router_with_logs(
    cluster: Arc<SharedCluster>,
    body_limit: usize,
    pod_logs: Option<Arc<dyn podlog::PodLogs>>,
) -> axum::Router {
    server::router(Arc::new(server::App {
        cluster,
        token: None,
        body_limit,
        pod_logs,
    }))
}
