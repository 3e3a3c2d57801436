//! `--target cluster` on run and conformance: gwsim against a real cluster (the live/ crate).

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use gwsim_live::{ClusterOptions, LiveTarget, RunSettings};

use crate::ReportOutput;

/// Scenarios run at once on a cluster unless `--jobs` says otherwise (upstream's suite runs
/// its parallel tests at once too).
const DEFAULT_JOBS: u16 = 4;

/// Where scenarios run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// In memory (the default).
    #[default]
    Simulator,
    /// The cluster of --kubeconfig and --context (kubectl's defaults otherwise).
    Cluster,
}

/// The flags of `--target cluster`.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct TargetArgs {
    /// `simulator` (in memory) or `cluster`: the Kubernetes cluster of --kubeconfig and
    /// --context, with the Gateway implementation installed there (docs/kind.md).
    #[arg(long, value_enum, default_value = "simulator")]
    pub target: Target,
    /// With --target cluster: the kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or
    /// the in-cluster configuration).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// With --target cluster: the kubeconfig context (default: its current context).
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// With --target cluster: how long a status is polled, and a request step tried, before
    /// it fails (seconds; default 30, at most 3600).
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: Option<u64>,
    /// With --target cluster: the Gateway serves listener port P on P + N (default 0, as a
    /// real cluster; `gwsim serve --api` serves on P + 10000 unless told otherwise).
    #[arg(long, value_name = "N")]
    pub port_offset: Option<u16>,
    /// With --target cluster: send requests to the addresses this listeners file names (the
    /// one `gwsim serve --api --ready-file FILE` writes) instead of the Gateways' status
    /// addresses, which `gwsim serve --api` models but does not serve on.
    #[arg(long, value_name = "FILE")]
    pub served_listeners: Option<PathBuf>,
    /// With --target cluster: write into namespaces that hold objects gwsim did not create.
    #[arg(long)]
    pub force: bool,
    /// With --target cluster: leave the last scenario's objects in the cluster.
    #[arg(long)]
    pub keep: bool,
    /// With --target cluster: the container image of the echo backends the base (and any
    /// scenario Deployment using the same image) creates, instead of upstream's
    /// `gateway-api/conformance/echo-basic` (a mirror, or a local build loaded into kind).
    #[arg(long, value_name = "IMAGE")]
    pub echo_image: Option<String>,
    /// With --target cluster: run up to N scenarios at once, each on its own connection,
    /// among scenarios that touch disjoint objects (docs/kind.md says which run alone);
    /// default 4 (1 with --keep), at most 16.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=16))]
    pub jobs: Option<u16>,
}

impl TargetArgs {
    /// Whether the run goes to a cluster; a cluster flag without `--target cluster` is an
    /// error, not ignored.
    pub fn on_cluster(&self) -> anyhow::Result<bool> {
        if self.target == Target::Cluster {
            return Ok(true);
        }
        let given = [
            ("--kubeconfig", self.kubeconfig.is_some()),
            ("--context", self.context.is_some()),
            ("--timeout", self.timeout.is_some()),
            ("--port-offset", self.port_offset.is_some()),
            ("--served-listeners", self.served_listeners.is_some()),
            ("--force", self.force),
            ("--keep", self.keep),
            ("--echo-image", self.echo_image.is_some()),
            ("--jobs", self.jobs.is_some()),
        ];
        if let Some((flag, _)) = given.iter().find(|(_, set)| *set) {
            bail!("{flag} applies to --target cluster only");
        }
        Ok(false)
    }

    /// Flags that cannot go together on a cluster.
    fn check_combination(&self) -> anyhow::Result<()> {
        if self.keep && self.jobs.is_some_and(|n| n > 1) {
            bail!(
                "--keep leaves the last scenario's objects in place; with --jobs above 1 scenarios end in any order: use --jobs 1 with --keep"
            );
        }
        Ok(())
    }

    fn settings(&self) -> RunSettings {
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        RunSettings {
            cluster: ClusterOptions {
                kubeconfig: self.kubeconfig.clone(),
                context: self.context.clone(),
            },
            timeout: self
                .timeout
                .map(Duration::from_secs)
                .unwrap_or(gwsim_live::DEFAULT_TIMEOUT),
            port_offset: self.port_offset.unwrap_or(0),
            served_listeners: self.served_listeners.clone(),
            force: self.force,
            keep: self.keep,
            run_id: format!("gwsim-{started}-{}", std::process::id()),
            echo_image: self.echo_image.clone(),
            jobs: usize::from(self.jobs.unwrap_or(match self.keep {
                true => 1,
                false => DEFAULT_JOBS,
            })),
        }
    }
}

/// `gwsim run --target cluster SCENARIO...`.
pub fn run(
    out: &mut dyn Write,
    paths: &[PathBuf],
    seed: Option<u64>,
    filter: Option<String>,
    output: ReportOutput,
    args: &TargetArgs,
) -> anyhow::Result<u8> {
    let scenarios = gwsim_sim::scenario::load_paths(paths)?;
    if let Some(filter) = &filter
        && !scenarios.iter().any(|s| s.name.contains(filter.as_str()))
    {
        bail!(
            "--filter {filter:?} selects none of the {} scenarios",
            scenarios.len()
        );
    }
    args.check_combination()?;
    let options = gwsim_sim::runner::RunOptions { seed, filter };
    let target = LiveTarget::new(args.settings(), None)?;
    let report = gwsim_live::run_scenarios_live(&scenarios, &options, &target);
    target.finish().context("cleaning up")?;
    match output {
        ReportOutput::Text => out.write_all(report.render_text().as_bytes())?,
        ReportOutput::Json => out.write_all(report.render_json().as_bytes())?,
        ReportOutput::Yaml => out.write_all(serde_saphyr::to_string(&report)?.as_bytes())?,
    }
    Ok(crate::exit_byte(report.exit_code()))
}

/// The conformance target of `--target cluster`, with the implementation named from the
/// GatewayClass's `controllerName`.
pub fn conformance_target(
    args: &TargetArgs,
    gateway_class: Option<&str>,
) -> anyhow::Result<LiveTarget> {
    args.check_combination()?;
    Ok(LiveTarget::new(args.settings(), gateway_class)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_flags_need_the_cluster_target() {
        let args = TargetArgs {
            keep: true,
            ..TargetArgs::default()
        };
        let err = args
            .on_cluster()
            .expect_err("--keep without --target cluster");
        assert_eq!(err.to_string(), "--keep applies to --target cluster only");
        let cluster = TargetArgs {
            target: Target::Cluster,
            keep: true,
            ..TargetArgs::default()
        };
        assert!(cluster.on_cluster().expect("valid"));
        let both = TargetArgs {
            jobs: Some(2),
            ..cluster
        };
        let err = both.check_combination().expect_err("--keep with --jobs 2");
        assert!(err.to_string().starts_with("--keep leaves"), "{err}");
    }
}
