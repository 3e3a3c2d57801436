//! A client for the cluster: the kubeconfig (`--kubeconfig`, `KUBECONFIG`, `~/.kube/config`)
//! or the in-cluster configuration, and its context (`--context`).

use std::path::PathBuf;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use crate::LiveError;

/// Which cluster, as kubectl's `--kubeconfig` and `--context` say it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterOptions {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
}

/// A client for the cluster `options` name (kube-rs's `Config::infer` when neither is given).
pub async fn connect(options: &ClusterOptions) -> Result<Client, LiveError> {
    let kube_options = KubeConfigOptions {
        context: options.context.clone(),
        ..KubeConfigOptions::default()
    };
    let config = match (&options.kubeconfig, &options.context) {
        (Some(path), _) => {
            let kubeconfig = Kubeconfig::read_from(path)
                .map_err(|e| LiveError::Config(format!("{}: {e}", path.display())))?;
            Config::from_custom_kubeconfig(kubeconfig, &kube_options)
                .await
                .map_err(|e| LiveError::Config(e.to_string()))?
        }
        (None, Some(_)) => Config::from_kubeconfig(&kube_options)
            .await
            .map_err(|e| LiveError::Config(e.to_string()))?,
        (None, None) => Config::infer()
            .await
            .map_err(|e| LiveError::Config(e.to_string()))?,
    };
    Client::try_from(config).map_err(|e| LiveError::Config(e.to_string()))
}
