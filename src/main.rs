//! The `gwsim` command line. Thin: flags, files, printing; the work is in the engine and sim.

mod api;
mod audit;
mod check;
mod commands;
mod diff;
mod inputs;
mod live;
mod output;
mod serve;
mod suggest;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use gwsim_engine::admission::{AdmissionOptions, GatewayApiVersion};
use gwsim_engine::object::{Kind, ObjectKey};

use crate::output::ColorChoice;

// mimalloc rather than glibc's malloc: the data plane (`gwsim serve`) allocates and frees per
// request, and glibc's malloc took a tenth of its CPU time under load (docs/serve.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "gwsim",
    version = commands::LONG_VERSION,
    about = "A deterministic workbench for the Kubernetes Gateway API",
    long_about = "A deterministic workbench for the Kubernetes Gateway API: a complete Gateway \
controller and proxy in memory, against your resources and scripted requests.",
    after_help = "Examples:
  gwsim check -f manifests/            # refusals and status conditions
  gwsim routes -f manifests/ -n shop   # the routing table, namespace shop
  gwsim explain -f manifests/ http://www.shop.example/api
  gwsim conformance                    # the built-in conformance suite

`gwsim help COMMAND` or `gwsim COMMAND --help` for a command's flags and examples."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Largest input gwsim reads (one file or standard input, and all of them together):
    /// bytes, or a number with K, M or G. Default 512M.
    #[arg(long, global = true, value_name = "SIZE", value_parser = gwsim_sim::files::parse_size)]
    max_input_size: Option<u64>,
    /// Wrap text output to N columns (default: the terminal's width; 80 when standard output
    /// is not a terminal). `-o wide` never wraps.
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u16).range(20..=10000))]
    width: Option<u16>,
    /// Colour in text output: `auto` (on a terminal, unless NO_COLOR is set), `always`, `never`.
    #[arg(
        long,
        global = true,
        value_enum,
        value_name = "WHEN",
        default_value = "auto"
    )]
    color: ColorChoice,
}

/// `--gateway-api-version`, shared by every command that reads files.
#[derive(Clone, Copy, Debug, Default, clap::Args)]
struct ApiVersionArg {
    /// The Gateway API release whose CRDs (experimental channel) admission follows: v1.6
    /// (v1.6.1) or v1.5 (v1.5.1).
    #[arg(
        long = "gateway-api-version",
        value_name = "VERSION",
        default_value = "v1.6"
    )]
    gateway_api_version: GatewayApiVersion,
}

impl ApiVersionArg {
    fn options(self) -> AdmissionOptions {
        AdmissionOptions::new(self.gateway_api_version)
    }
}

/// `-o`: how a command that prints data prints it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Output {
    /// For people, wrapped to the width (`table` is the same).
    #[value(alias = "table")]
    Text,
    /// For people, one entry per line however long.
    Wide,
    /// Only names, one a line (KIND/NAMESPACE/NAME), for scripts and xargs.
    Name,
    Yaml,
    Json,
}

/// `-o` of commands that print a report (run, conformance, version).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ReportOutput {
    #[value(alias = "table")]
    Text,
    Yaml,
    Json,
}

/// What makes `gwsim diff` exit 1.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FailOn {
    /// Anything that differs, or a change the API server refuses.
    Changes,
    /// Only regressions: a request that went from success to an error, an object that lost
    /// Accepted or ResolvedRefs.
    Regressions,
}

/// Which classes gwsim stands in for, in commands that read files.
#[derive(Clone, Debug, Default, clap::Args)]
struct ClassArgs {
    /// Stand in only for the controller of this GatewayClass (repeat for more); objects of
    /// other classes are left as a cluster without their controller shows them. Default:
    /// every class of the input.
    #[arg(long = "gateway-class", value_name = "NAME")]
    gateway_classes: Vec<String>,
    /// Refuse objects whose Namespace the input does not create (before them), as the API
    /// server does; by default such namespaces are assumed to exist without labels.
    #[arg(long)]
    strict_namespaces: bool,
    #[command(flatten)]
    api: ApiVersionArg,
}

impl ClassArgs {
    fn options(&self, budgets: gwsim_engine::load::Budgets) -> gwsim_sim::inputs::LoadOptions {
        gwsim_sim::inputs::LoadOptions {
            gateway_classes: self.gateway_classes.clone(),
            strict_namespaces: self.strict_namespaces,
            admission: self.api.options(),
            budgets,
            without_routing_table: false,
            documents: None,
        }
    }
}

/// `-f`: files, folders or `-`, repeatable, several after one `-f`.
#[derive(Clone, Debug, clap::Args)]
struct FileArgs {
    /// Files or folders of YAML or JSON (folders: every .yaml/.yml/.json file, recursively,
    /// in name order); `-` reads standard input. Repeat -f or give several paths after one.
    #[arg(
        short = 'f',
        long = "filename",
        value_name = "PATH",
        required_unless_present = "cluster",
        num_args = 1..
    )]
    files: Vec<PathBuf>,
    #[command(flatten)]
    cluster: ClusterArgs,
}

/// `--cluster`: the live state of a cluster as the input, instead of `-f`.
#[derive(Clone, Debug, Default, clap::Args)]
struct ClusterArgs {
    /// Read the live state of a cluster instead of files (Gateway API kinds, Namespaces,
    /// Services, EndpointSlices; Secrets by metadata and type, their data replaced by
    /// stand-ins that only say whether each value held PEM): lists, never a write.
    #[arg(long, conflicts_with = "files")]
    cluster: bool,
    /// With --cluster: the kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or the
    /// in-cluster configuration).
    #[arg(long, value_name = "FILE", requires = "cluster")]
    kubeconfig: Option<PathBuf>,
    /// With --cluster: the kubeconfig context (default: its current context).
    #[arg(long, value_name = "NAME", requires = "cluster")]
    context: Option<String>,
}

impl ClusterArgs {
    /// With `--cluster`, the cluster's objects become the input.
    fn read_cluster(&self, load: &mut gwsim_sim::inputs::LoadOptions) -> anyhow::Result<()> {
        if self.cluster {
            let options = gwsim_live::ClusterOptions {
                kubeconfig: self.kubeconfig.clone(),
                context: self.context.clone(),
            };
            load.documents = Some(gwsim_live::read_state(&options)?);
        }
        Ok(())
    }
}

/// `-n`/`-A`, as kubectl has them: which namespaces' objects are printed.
#[derive(Clone, Debug, Default, clap::Args)]
struct NamespaceArgs {
    /// Print only objects of this namespace (and cluster-scoped ones such as GatewayClass);
    /// the whole input is still read and reconciled.
    #[arg(short = 'n', long = "namespace", value_name = "NAMESPACE")]
    namespace: Option<String>,
    /// Print objects of every namespace (the default for files; as kubectl's -A).
    #[arg(short = 'A', long = "all-namespaces", conflicts_with = "namespace")]
    all_namespaces: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Validate and reconcile resources; print objects and their conditions.
    ///
    /// Exit 0 when everything is valid and Accepted, 1 when something is rejected or not
    /// Accepted or a finding is listed, 2 when input cannot be read.
    #[command(after_help = "Examples:
  gwsim check -f testdata/golden/inputs/shop.yaml
  gwsim check -f testdata/corpus/standin-istio -n apps -o yaml
  helm template . | gwsim check -f -")]
    Check {
        #[command(flatten)]
        files: FileArgs,
        /// `text` (a table) for people, `wide` unwrapped, `name` the objects' names, `yaml` or
        /// `json` every object with its full status.
        #[arg(short = 'o', long = "output", value_enum, default_value = "text")]
        output: Output,
        #[command(flatten)]
        namespaces: NamespaceArgs,
        #[command(flatten)]
        classes: ClassArgs,
    },
    /// Print the effective routing table, per Gateway and listener, in precedence order.
    ///
    /// Each entry is one match of one rule: hostname, match, backends with weights, and the
    /// route, rule and match it comes from. Exit 0, or 2 when input cannot be read.
    #[command(after_help = "Examples:
  gwsim routes -f testdata/golden/inputs/shop.yaml
  gwsim routes -f testdata/golden/inputs/shop.yaml --gateway edge -o wide
  gwsim routes -f testdata/corpus/standin-istio -n apps -o json
  gwsim routes -f testdata/golden/inputs/mesh.yaml --mesh")]
    Routes {
        #[command(flatten)]
        files: FileArgs,
        /// Only this Gateway: NAMESPACE/NAME, or NAME when one Gateway of the input has it.
        #[arg(long, value_name = "[NAMESPACE/]NAME")]
        gateway: Option<String>,
        /// The mesh's routes instead (GAMMA: routes attached to Services), per Service port:
        /// its producer routes and each namespace's consumer routes, as a conforming mesh would
        /// use them.
        #[arg(long, conflicts_with = "gateway")]
        mesh: bool,
        /// `text`, `wide` (unwrapped), `name` (the routes in the table), `yaml`, `json`.
        #[arg(short = 'o', long = "output", value_enum, default_value = "text")]
        output: Output,
        #[command(flatten)]
        namespaces: NamespaceArgs,
        #[command(flatten)]
        classes: ClassArgs,
    },
    /// Explain what happens to one request, and why.
    ///
    /// Which Gateway and listener took it, every candidate route entry in precedence order
    /// and why it lost, the filters that changed it, the backend that got it.
    #[command(after_help = "Examples:
  gwsim explain -f testdata/golden/inputs/shop.yaml http://www.shop.example/
  gwsim explain -f testdata/golden/inputs/shop.yaml \\
      -H 'x-canary: yes' http://www.shop.example/api
  gwsim explain -f manifests/ -X POST https://www.shop.example/api/checkout
  gwsim explain -f manifests/ tls://abc.example.com:443
  gwsim explain -f manifests/ tcp://:9000
  gwsim explain -f manifests/ --from shop http://cart.shop:8080/items")]
    Explain {
        /// Files or folders of YAML or JSON; `-` reads standard input. Repeat -f or give
        /// several paths after one; the URL is the last argument.
        #[arg(
            short = 'f',
            long = "filename",
            value_name = "PATH",
            required_unless_present = "cluster",
            num_args = 1..
        )]
        files: Vec<PathBuf>,
        #[command(flatten)]
        cluster: ClusterArgs,
        /// The Gateway that receives the request: NAMESPACE/NAME, or NAME when one Gateway of
        /// the input has it; required when there are several.
        #[arg(long, value_name = "[NAMESPACE/]NAME")]
        gateway: Option<String>,
        /// HTTP method.
        #[arg(
            short = 'X',
            long = "request",
            value_name = "METHOD",
            default_value = "GET"
        )]
        method: String,
        /// A request header, `name: value`; repeat for more.
        #[arg(short = 'H', long = "header", value_name = "'NAME: VALUE'")]
        headers: Vec<String>,
        /// TLS server name for https and tls (default: the URL's host).
        #[arg(long)]
        sni: Option<String>,
        /// Send the request through the mesh (GAMMA) from a pod in this namespace: the URL's
        /// host is a Service's DNS name as the pod would write it (`NAME`, `NAME.NAMESPACE`,
        /// ...), and the routes attached to that Service port decide.
        #[arg(long, value_name = "NAMESPACE", conflicts_with = "gateway")]
        from: Option<String>,
        /// Seed of the random source for weighted backends and mirror percentages.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// `text`, `wide` (unwrapped), `name` (the route that won), `yaml`, `json`.
        #[arg(short = 'o', long = "output", value_enum, default_value = "text")]
        output: Output,
        /// `http://host[:port]/path?query` (or https); or a connection: `tls://SNI:PORT`,
        /// `tcp://[HOST]:PORT`, `udp://[HOST]:PORT` (TLSRoute, TCPRoute, UDPRoute).
        url: Option<String>,
        #[command(flatten)]
        classes: ClassArgs,
    },
    /// Compare the statuses the installed controller wrote (a `kubectl get -o yaml` dump)
    /// with what a conforming controller writes, per object and condition.
    ///
    /// Exit 0 when they agree, 1 when not, 2 when input cannot be read.
    #[command(after_help = "Examples:
  kubectl get gatewayclasses,gateways,httproutes,grpcroutes,services \\
      -A -o yaml > dump.yaml
  gwsim audit -f dump.yaml
  gwsim audit -f testdata/corpus/standin-eg-dump -n shop
  gwsim audit -f testdata/corpus/standin-eg-agree -o json")]
    Audit {
        #[command(flatten)]
        files: FileArgs,
        /// `text`, `wide` (unwrapped), `name` (objects with findings), `yaml`, `json`.
        #[arg(short = 'o', long = "output", value_enum, default_value = "text")]
        output: Output,
        #[command(flatten)]
        namespaces: NamespaceArgs,
        #[command(flatten)]
        classes: ClassArgs,
    },
    /// Compare two states, or a state and a change: rejected documents, status changes,
    /// routing table changes, and every probe request whose outcome differs.
    ///
    /// Exit 0 when nothing changed, 1 when something did (see --fail-on), 2 on error.
    #[command(after_help = "Examples:
  gwsim diff --before testdata/golden/diff/base \\
      --change testdata/golden/diff/change-weight.yaml
  gwsim diff --before cluster/ --after new-cluster/ --fail-on regressions
  gwsim diff --before testdata/golden/diff/base \\
      --delete ReferenceGrant/payments/shop-to-checkout
  gwsim diff --cluster --context kind-gwsim --change my-route.yaml")]
    Diff {
        /// The state before: files or folders of YAML.
        #[arg(
            long,
            value_name = "PATH",
            required_unless_present = "cluster",
            num_args = 1..
        )]
        before: Vec<PathBuf>,
        /// The state before is the live state of a cluster (read as `check --cluster` reads
        /// it; nothing is written): the dry run of a change before `kubectl apply`.
        #[arg(long, conflicts_with = "before")]
        cluster: bool,
        /// With --cluster: the kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or the
        /// in-cluster configuration).
        #[arg(long, value_name = "FILE", requires = "cluster")]
        kubeconfig: Option<PathBuf>,
        /// With --cluster: the kubeconfig context (default: its current context).
        #[arg(long, value_name = "NAME", requires = "cluster")]
        context: Option<String>,
        /// The state after: files or folders of YAML.
        #[arg(long, value_name = "PATH", num_args = 1.., conflicts_with_all = ["change", "delete"])]
        after: Vec<PathBuf>,
        /// Documents applied on top of the before state, as `kubectl apply` would.
        #[arg(long, value_name = "PATH", num_args = 1..)]
        change: Vec<PathBuf>,
        /// Objects deleted from the before state (KIND/NAME when cluster-scoped); several
        /// after one flag, or repeat it. Deletions run before the change's documents.
        #[arg(long, value_name = "KIND/NAMESPACE/NAME", num_args = 1..)]
        delete: Vec<String>,
        /// A YAML list of requests of your own, sent through both states (keys of a
        /// scenario's `request` step: gateway, scheme, port, method, host, path, headers, sni).
        #[arg(long, value_name = "FILE")]
        requests: Option<PathBuf>,
        /// `text`, `wide` (unwrapped), `name` (objects whose status changed), `yaml`, `json`.
        #[arg(short = 'o', long = "output", value_enum, default_value = "text")]
        output: Output,
        /// `changes`: exit 1 when anything differs; `regressions`: only for regressions.
        #[arg(long, value_enum, default_value = "changes")]
        fail_on: FailOn,
        #[command(flatten)]
        classes: ClassArgs,
    },
    /// Run scenario files (see the scenario format in docs/scenarios.md).
    ///
    /// Exit 0 when every scenario passed or was skipped, 1 when one failed, 2 when a file
    /// cannot be read or parsed, or --filter selects no scenario.
    #[command(after_help = "Examples:
  gwsim run testdata/scenarios/
  gwsim run testdata/scenarios/ --filter weights --seed 7
  gwsim run testdata/scenarios/ -o json")]
    Run {
        /// Scenario files or folders.
        #[arg(value_name = "SCENARIO", required = true)]
        paths: Vec<PathBuf>,
        /// Overrides every scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Runs only scenarios whose name contains this (an error when none does).
        #[arg(long, value_name = "TEXT")]
        filter: Option<String>,
        #[arg(short = 'o', long = "output", value_enum, default_value = "text")]
        output: ReportOutput,
        /// Send the requests through real sockets to an in-process `gwsim serve` of each
        /// scenario's state (docs/serve.md).
        #[arg(long, conflicts_with = "target")]
        wire: bool,
        #[command(flatten)]
        target: live::TargetArgs,
    },
    /// Watch and question routing decisions in the terminal: a scenario step by step, or
    /// files (`-f`), reloaded when they change. Press ? for the keys.
    #[command(after_help = "Examples:
  gwsim tui testdata/scenarios/weights.yaml
  gwsim tui -f testdata/golden/inputs/shop.yaml")]
    Tui {
        /// A scenario file.
        #[arg(
            value_name = "SCENARIO",
            required_unless_present = "files",
            conflicts_with = "files"
        )]
        scenario: Option<PathBuf>,
        /// Files or folders of YAML (instead of a scenario); repeat -f or give several paths.
        #[arg(short = 'f', long = "filename", value_name = "PATH", num_args = 1..)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        classes: ClassArgs,
    },
    /// Run the conformance suite (one scenario per upstream test of the GATEWAY-HTTP,
    /// GATEWAY-GRPC, GATEWAY-TLS, GATEWAY-TCP, GATEWAY-UDP, MESH-HTTP and MESH-GRPC profiles, and
    /// of GRPCRoute's extended features and the other mesh tests) against the simulator.
    ///
    /// Exit 0 when nothing failed; 2 when --run, --skip, --features or --profile names nothing
    /// known.
    #[command(after_help = "Examples:
  gwsim conformance
  gwsim conformance --profile GATEWAY-GRPC
  gwsim conformance --profile MESH-HTTP,MESH-GRPC
  gwsim conformance --run HTTPRouteSimpleSameNamespace,HTTPRouteWeight
  gwsim conformance --features HTTPRouteQueryParamMatching --report r.yaml")]
    Conformance {
        /// Run only these tests (upstream ShortNames, comma-separated or repeated).
        #[arg(long, value_name = "NAME", value_delimiter = ',')]
        run: Vec<String>,
        /// Report these tests as skipped without running them.
        #[arg(long, value_name = "NAME", value_delimiter = ',')]
        skip: Vec<String>,
        /// Test only these features besides the core ones (default: every supported feature).
        #[arg(long, value_name = "FEATURE", value_delimiter = ',')]
        features: Option<Vec<String>>,
        /// Test and report only these conformance profiles (GATEWAY-HTTP, GATEWAY-GRPC,
        /// GATEWAY-TLS, GATEWAY-TCP, GATEWAY-UDP, MESH-HTTP, MESH-GRPC; comma-separated or repeated;
        /// default: every profile gwsim implements). Tests outside every profile run whatever is
        /// chosen.
        #[arg(long = "profile", value_name = "NAME", value_delimiter = ',')]
        profiles: Vec<String>,
        /// Run another folder of scenarios instead of the built-in suite.
        #[arg(long, value_name = "DIR")]
        suite: Option<PathBuf>,
        /// Write a report in the shape of upstream's ConformanceReport (YAML).
        #[arg(long, value_name = "FILE")]
        report: Option<PathBuf>,
        /// Write JUnit XML.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// Overrides every scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Send the requests through real sockets to an in-process `gwsim serve` of each
        /// scenario's state (docs/serve.md).
        #[arg(long, conflicts_with = "target")]
        wire: bool,
        #[command(flatten)]
        target: live::TargetArgs,
        /// With --target cluster: the GatewayClass of the implementation under test (default:
        /// the base's own `gateway-conformance`, created when the cluster has none).
        #[arg(long, value_name = "NAME")]
        gateway_class: Option<String>,
        /// `text`; `yaml` or `json`: the ConformanceReport on standard output.
        #[arg(short = 'o', long = "output", value_enum, default_value = "text")]
        output: ReportOutput,
    },
    /// Serve the files' Gateways on loopback: real HTTP, HTTPS and h2c, decided by the
    /// routing table, until Ctrl-C. Files are watched; each admitted change is swapped in.
    ///
    /// Each Gateway gets its own loopback address (127.x.y.z); listener port P is served on
    /// P + --port-offset. Services get in-process echo backends unless named by --backend.
    ///
    /// With --api, serves a Kubernetes API over a simulated cluster as well (kubectl
    /// apply/get/wait/delete; see docs/api.md): the files, if any, are applied first, and
    /// the data plane follows every change made through the API.
    #[command(after_help = "Examples:
  gwsim serve -f testdata/golden/inputs/shop.yaml --explain-header
  gwsim serve --api --kubeconfig-out gwsim.kubeconfig")]
    Serve {
        #[arg(short = 'f', long = "filename", value_name = "PATH", num_args = 1..)]
        files: Vec<PathBuf>,
        /// Listener port P is served on P + N; 0 binds the listener ports themselves.
        #[arg(long, default_value_t = gwsim_proxy::DEFAULT_PORT_OFFSET)]
        port_offset: u16,
        /// Send a Service's traffic to your own HTTP server: NAMESPACE/SERVICE=http://HOST:PORT.
        #[arg(long = "backend", value_name = "NS/SERVICE=URL")]
        backends: Vec<String>,
        /// Write the served listeners as JSON here once every socket accepts connections.
        #[arg(long, value_name = "FILE")]
        ready_file: Option<PathBuf>,
        /// Bind every socket on this address instead of each Gateway's loopback address.
        #[arg(long, value_name = "ADDR")]
        bind: Option<std::net::IpAddr>,
        /// Add an `x-gwsim-decision` response header naming the route, rule and match.
        #[arg(long)]
        explain_header: bool,
        /// Worker threads (1: a single-threaded runtime).
        #[arg(long, default_value_t = 1)]
        workers: usize,
        /// Serve the Kubernetes API at ADDR (default 127.0.0.1:6443).
        #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = api::DEFAULT_API_ADDR)]
        api: Option<std::net::SocketAddr>,
        /// With --api: write a kubeconfig for the API (with its CA and bearer token) to FILE.
        #[arg(long, value_name = "FILE", requires = "api")]
        kubeconfig_out: Option<PathBuf>,
        /// With --api: serve the API over plain HTTP without a token.
        #[arg(long, requires = "api")]
        api_insecure: bool,
    },
    /// Print gwsim's version, the Gateway API releases it models, and the commit it was
    /// built from.
    #[command(after_help = "Examples:
  gwsim version
  gwsim version -o json")]
    Version {
        #[arg(short = 'o', long = "output", value_enum, default_value = "text")]
        output: ReportOutput,
    },
    /// Print a shell completion script.
    #[command(after_help = "Examples:
  gwsim completion bash > ~/.local/share/bash-completion/completions/gwsim
  gwsim completion zsh > ~/.zfunc/_gwsim
  gwsim completion fish > ~/.config/fish/completions/gwsim.fish")]
    Completion {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), or write one page per command into a folder.
    #[command(after_help = "Examples:
  gwsim man | man -l -
  gwsim man --dir target/man")]
    Man {
        /// Write gwsim.1 and gwsim-COMMAND.1 here instead of printing gwsim.1.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = match parse_cli() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() { 2 } else { 0 });
        }
    };
    // The README test checks that every command line it quotes parses, without running it.
    if std::env::var_os("GWSIM_PARSE_ONLY").is_some() {
        return ExitCode::SUCCESS;
    }
    // `serve` says what it does with changes by default; the access log needs
    // RUST_LOG=gwsim::access=info.
    let default = match cli.command {
        Command::Serve { .. } => "error,gwsim::serve=info",
        _ => "error",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("GWSIM_LOG")
                .or_else(|_| tracing_subscriber::EnvFilter::try_from_env("RUST_LOG"))
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default)),
        )
        .with_writer(std::io::stderr)
        // Colour only on a terminal, and never with NO_COLOR set.
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .init();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        // A reader that stopped reading (`gwsim routes -o json | head -1`) is not an error.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            let _ = writeln!(std::io::stderr(), "gwsim: {}", error_text(&err));
            ExitCode::from(2)
        }
    }
}

/// The command line, with help wrapped at 80 columns when it goes to no terminal and
/// `COLUMNS` does not say otherwise (clap's own default there is 100).
fn parse_cli() -> Result<Cli, clap::Error> {
    let mut command = Cli::command();
    if !std::io::stdout().is_terminal() && std::env::var_os("COLUMNS").is_none() {
        command = command.term_width(80);
    }
    let matches = command.try_get_matches()?;
    Cli::from_arg_matches(&matches)
}

/// Whether writing failed because the reading end of the pipe was closed.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    let broken = Some(std::io::ErrorKind::BrokenPipe);
    err.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().map(|e| e.kind()) == broken
            || cause
                .downcast_ref::<serde_json::Error>()
                .and_then(serde_json::Error::io_error_kind)
                == broken
    })
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    let mut budgets = gwsim_engine::load::Budgets::default();
    if let Some(max) = cli.max_input_size {
        budgets.max_input_bytes = max;
    }
    let screen = output::Screen::detect(cli.width.map(usize::from), cli.color);
    let mut stdout = std::io::stdout().lock();
    match cli.command {
        Command::Check {
            files,
            output,
            namespaces,
            classes,
        } => {
            let mut load = classes.options(budgets);
            files.cluster.read_cluster(&mut load)?;
            let print = commands::Print::new(screen, output, &namespaces);
            commands::check(&mut stdout, &print, &files.files, &load)
        }
        Command::Routes {
            files,
            gateway,
            mesh,
            output,
            namespaces,
            classes,
        } => {
            let mut load = classes.options(budgets);
            files.cluster.read_cluster(&mut load)?;
            let print = commands::Print::new(screen, output, &namespaces);
            if mesh {
                commands::mesh_routes(&mut stdout, &print, &files.files, &load)
            } else {
                commands::routes(&mut stdout, &print, &files.files, gateway.as_deref(), &load)
            }
        }
        Command::Explain {
            files,
            cluster,
            gateway,
            method,
            headers,
            sni,
            from,
            seed,
            output,
            url,
            classes,
        } => {
            let (files, url) = commands::split_url(files, url)?;
            let request = commands::ExplainRequest {
                url,
                gateway,
                method,
                headers,
                sni,
                from,
                seed,
            };
            let mut load = classes.options(budgets);
            cluster.read_cluster(&mut load)?;
            let print = commands::Print::new(screen, output, &NamespaceArgs::default());
            commands::explain(&mut stdout, &print, &files, &request, &load)
        }
        Command::Diff {
            before,
            cluster,
            kubeconfig,
            context,
            after,
            change,
            delete,
            requests,
            output,
            fail_on,
            classes,
        } => {
            let before_documents = match cluster {
                true => Some(gwsim_live::read_state(&gwsim_live::ClusterOptions {
                    kubeconfig,
                    context,
                })?),
                false => None,
            };
            let args = diff::DiffArgs {
                admission: classes.api.options(),
                budgets,
                before,
                before_documents,
                after,
                change,
                delete,
                requests,
                gateway_classes: classes.gateway_classes,
            };
            let states = [&args.before[..], &args.after[..], &args.change[..]];
            let result = commands::with_spinner(&states, || diff::run(&args))?;
            let print = commands::Print::new(screen, output, &NamespaceArgs::default());
            commands::print_diff(&mut stdout, &print, &result)?;
            let failed = match fail_on {
                FailOn::Changes => result.has_changes(),
                FailOn::Regressions => result.has_regressions(),
            };
            Ok(u8::from(failed))
        }
        Command::Audit {
            files,
            output,
            namespaces,
            classes,
        } => {
            let mut load = classes.options(budgets);
            files.cluster.read_cluster(&mut load)?;
            let print = commands::Print::new(screen, output, &namespaces);
            commands::audit(&mut stdout, &print, &files.files, &load)
        }
        Command::Run {
            paths,
            seed,
            filter,
            output,
            wire,
            target,
        } => {
            if target.on_cluster()? {
                return live::run(&mut stdout, &paths, seed, filter, output, &target);
            }
            commands::run_scenarios(&mut stdout, screen, &paths, seed, filter, output, wire)
        }
        Command::Serve {
            files,
            port_offset,
            backends,
            ready_file,
            bind,
            explain_header,
            workers,
            api,
            kubeconfig_out,
            api_insecure,
        } => {
            drop(stdout);
            if let Some(api) = api {
                return api::serve(api::ApiOptions {
                    files,
                    api,
                    bind,
                    kubeconfig_out,
                    insecure: api_insecure,
                    port_offset,
                    backends,
                    explain_header,
                    ready_file,
                });
            }
            if files.is_empty() {
                bail!("gwsim serve: nothing to serve; give -f PATH (the data plane) or --api");
            }
            serve::serve(serve::ServeArgs {
                files,
                port_offset,
                backends,
                ready_file,
                bind,
                explain_header,
                workers,
            })
        }
        Command::Tui {
            scenario,
            files,
            classes,
        } => {
            match scenario {
                Some(path) => {
                    commands::check_scenario_path(&path)?;
                    gwsim_tui::run_scenario(&path)?
                }
                None => gwsim_tui::run_files_with(&files, &classes.options(budgets))?,
            }
            Ok(0)
        }
        Command::Conformance {
            run,
            skip,
            features,
            profiles,
            suite,
            report,
            junit,
            seed,
            wire,
            target,
            gateway_class,
            output,
        } => {
            let options = gwsim_conformance::Options {
                run,
                skip,
                features,
                seed,
                profiles: gwsim_conformance::profile::select(&profiles)
                    .map_err(|e| anyhow::anyhow!(e))?,
            };
            let files = commands::ReportFiles { report, junit };
            if !target.on_cluster()? {
                if gateway_class.is_some() {
                    bail!("--gateway-class applies to --target cluster only");
                }
                let on: &dyn gwsim_conformance::Target = if wire {
                    &gwsim_proxy::wire::WireTarget
                } else {
                    &gwsim_conformance::Simulator
                };
                let run = commands::conformance(
                    &mut stdout,
                    screen,
                    suite.as_ref(),
                    &options,
                    &files,
                    output,
                    commands::SuiteTarget {
                        target: on,
                        implementation: None,
                    },
                );
                return run;
            }
            let cluster = live::conformance_target(&target, gateway_class.as_deref())?;
            let controller = cluster.controller_name();
            let code = commands::conformance(
                &mut stdout,
                screen,
                suite.as_ref(),
                &options,
                &files,
                output,
                commands::SuiteTarget {
                    target: &cluster,
                    implementation: Some(&controller),
                },
            )?;
            cluster.finish()?;
            Ok(code)
        }
        Command::Version { output } => commands::version(&mut stdout, output),
        Command::Completion { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "gwsim", &mut stdout);
            Ok(0)
        }
        Command::Man { dir } => commands::man(&mut stdout, Cli::command(), dir.as_deref()),
    }
}

/// An error and its causes on one line, `: ` between them. A cause whose text the message
/// before it already ends with is not repeated: several error types write their source into
/// their own message (`path: No such file or directory (os error 2)`) and report it as their
/// source too.
fn error_text(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let cause = cause.to_string();
        if text.ends_with(&cause) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&cause);
    }
    text
}

/// `gwsim run --wire`: the scenarios through real sockets.
fn exit_byte(code: i32) -> u8 {
    u8::try_from(code).unwrap_or(1)
}

/// Today's date for the conformance report, or the date of `SOURCE_DATE_EPOCH` (seconds) for
/// reproducible reports.
fn report_date() -> String {
    let seconds = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse::<i64>().ok());
    let now = match seconds.and_then(|s| k8s_openapi::jiff::Timestamp::from_second(s).ok()) {
        Some(t) => t,
        None => k8s_openapi::jiff::Timestamp::now(),
    };
    now.strftime("%Y-%m-%d").to_string()
}

/// `NAMESPACE/NAME` as a Gateway key.
pub(crate) fn parse_gateway(text: &str) -> anyhow::Result<ObjectKey> {
    match text.split_once('/') {
        Some((ns, name)) if !ns.is_empty() && !name.is_empty() => {
            Ok(ObjectKey::new(Kind::Gateway, ns, name))
        }
        _ => bail!("--gateway takes NAMESPACE/NAME, got {text:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_print_each_cause_once() {
        /// As `gwsim_sim::files::ReadError`: the source in the message and as the source.
        #[derive(Debug)]
        struct Reading {
            path: String,
            source: std::io::Error,
        }
        impl std::fmt::Display for Reading {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}: {}", self.path, self.source)
            }
        }
        impl std::error::Error for Reading {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.source)
            }
        }
        let missing = || std::io::Error::from(std::io::ErrorKind::NotFound);
        let err = anyhow::Error::new(Reading {
            path: "x.yaml".into(),
            source: missing(),
        });
        assert_eq!(error_text(&err), format!("x.yaml: {}", missing()));
        // A cause the message does not already carry is kept.
        let err = anyhow::Error::new(missing()).context("reading x.yaml");
        assert_eq!(error_text(&err), format!("reading x.yaml: {}", missing()));
    }

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_urls() {
        use gwsim_engine::decision::Scheme;
        let parse_url = gwsim_sim::inputs::parse_url;
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
        assert!(parse_url("ftp://x/").is_err());
        assert!(parse_url("http://x:99999/").is_err());
        // The shared parser: IPv6 literals, no fragment in the host, one port only.
        let r = parse_url("http://[::1]/#x").expect("parses");
        assert_eq!((r.host.as_str(), r.path.as_str()), ("[::1]", "/"));
        assert!(parse_url("http://host:80:80/").is_err());
    }
}
