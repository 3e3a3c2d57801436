//! The `gwsim` command line. Thin: flags, files, printing; the work is in the engine and sim.

mod api;
mod audit;
mod check;
mod diff;
mod inputs;
mod serve;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use gwsim_engine::admission::{AdmissionOptions, GatewayApiVersion};
use gwsim_engine::decision::{Request, Scheme};
use gwsim_engine::object::{Kind, ObjectKey};
use rand::SeedableRng;

#[derive(Parser)]
#[command(
    name = "gwsim",
    version,
    about = "A deterministic workbench for the Kubernetes Gateway API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Largest input gwsim reads (one file or standard input, and all of them together):
    /// bytes, or a number with K, M or G. Default 512M.
    #[arg(long, global = true, value_name = "SIZE", value_parser = gwsim_sim::files::parse_size)]
    max_input_size: Option<u64>,
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

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum CheckFormat {
    Table,
    Yaml,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum TextOrJson {
    Text,
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
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Validate and reconcile resources; print objects and their conditions.
    ///
    /// Exit 0 when everything is valid and Accepted, 1 when something is rejected or not
    /// Accepted, 2 when input cannot be read.
    Check {
        /// Files or folders of YAML or JSON (folders: every .yaml/.yml/.json file, in name
        /// order); `-` reads standard input.
        #[arg(short = 'f', long = "filename", required = true, num_args = 1..)]
        files: Vec<PathBuf>,
        /// `table` for people; `yaml` or `json` for every object with its full status.
        #[arg(short = 'o', long = "output", value_enum, default_value = "table")]
        output: CheckFormat,
        #[command(flatten)]
        classes: ClassArgs,
    },
    /// Print the effective routing table, per Gateway and listener, in precedence order.
    Routes {
        #[arg(short = 'f', long = "filename", required = true, num_args = 1..)]
        files: Vec<PathBuf>,
        /// Only this Gateway (NAMESPACE/NAME).
        #[arg(long)]
        gateway: Option<String>,
        #[arg(short = 'o', long = "output", value_enum, default_value = "text")]
        output: TextOrJson,
        #[command(flatten)]
        classes: ClassArgs,
    },
    /// Explain what happens to one request, and why.
    Explain {
        #[arg(short = 'f', long = "filename", required = true, num_args = 1)]
        files: Vec<PathBuf>,
        /// The Gateway that receives the request (NAMESPACE/NAME); required when there are several.
        #[arg(long)]
        gateway: Option<String>,
        /// HTTP method.
        #[arg(short = 'X', long = "request", default_value = "GET")]
        method: String,
        /// A request header, `name: value`; repeat for more.
        #[arg(short = 'H', long = "header")]
        headers: Vec<String>,
        /// TLS server name for https (default: the URL's host).
        #[arg(long)]
        sni: Option<String>,
        /// Seed of the random source for weighted backends and mirror percentages.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[arg(short = 'o', long = "output", value_enum, default_value = "text")]
        output: TextOrJson,
        /// `http://host[:port]/path?query` (or https).
        url: String,
        #[command(flatten)]
        classes: ClassArgs,
    },
    /// Compare the statuses the installed controller wrote (a `kubectl get -o yaml` dump)
    /// with what a conforming controller writes, per object and condition.
    ///
    /// Exit 0 when they agree, 1 when not, 2 when input cannot be read.
    Audit {
        /// Files or folders of YAML: a dump with statuses.
        #[arg(short = 'f', long = "filename", required = true, num_args = 1..)]
        files: Vec<PathBuf>,
        #[arg(short = 'o', long = "output", value_enum, default_value = "text")]
        output: TextOrJson,
        #[command(flatten)]
        classes: ClassArgs,
    },
    /// Compare two states, or a state and a change: rejected documents, status changes,
    /// routing table changes, and every probe request whose outcome differs.
    ///
    /// Exit 0 when nothing changed, 1 when something did (see --fail-on), 2 on error.
    Diff {
        /// The state before: files or folders of YAML.
        #[arg(long, required = true, num_args = 1..)]
        before: Vec<PathBuf>,
        /// The state after: files or folders of YAML.
        #[arg(long, num_args = 1.., conflicts_with_all = ["change", "delete"])]
        after: Vec<PathBuf>,
        /// Documents applied on top of the before state, as `kubectl apply` would.
        #[arg(long, num_args = 1..)]
        change: Vec<PathBuf>,
        /// An object deleted from the before state (KIND/NAME when cluster-scoped); repeat for
        /// more. Deletions run before the change's documents.
        #[arg(long, value_name = "KIND/NAMESPACE/NAME")]
        delete: Vec<String>,
        /// A YAML list of requests of your own, sent through both states (keys of a
        /// scenario's `request` step: gateway, scheme, port, method, host, path, headers, sni).
        #[arg(long, value_name = "FILE")]
        requests: Option<PathBuf>,
        #[arg(short = 'o', long = "output", value_enum, default_value = "text")]
        output: TextOrJson,
        /// `changes`: exit 1 when anything differs; `regressions`: only for regressions.
        #[arg(long, value_enum, default_value = "changes")]
        fail_on: FailOn,
        #[command(flatten)]
        classes: ClassArgs,
    },
    /// Run scenario files (see the scenario format in docs/scenarios.md).
    ///
    /// Exit 0 when every scenario passed or was skipped, 1 when one failed, 2 when a file
    /// cannot be read or parsed.
    Run {
        /// Scenario files or folders.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Overrides every scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Runs only scenarios whose name contains this.
        #[arg(long)]
        filter: Option<String>,
        #[arg(short = 'o', long = "output", value_enum, default_value = "text")]
        output: TextOrJson,
    },
    /// Watch and question routing decisions in the terminal: a scenario step by step, or
    /// files (`-f`), reloaded when they change. Press ? for the keys.
    Tui {
        /// A scenario file.
        #[arg(required_unless_present = "files", conflicts_with = "files")]
        scenario: Option<PathBuf>,
        /// Files or folders of YAML (instead of a scenario).
        #[arg(short = 'f', long = "filename", num_args = 1..)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        classes: ClassArgs,
    },
    /// Run the conformance suite (one scenario per upstream GATEWAY-HTTP test) against the
    /// simulator. Exit 0 when nothing failed.
    Conformance {
        /// Run only these tests (upstream ShortNames, comma-separated or repeated).
        #[arg(long, value_delimiter = ',')]
        run: Vec<String>,
        /// Report these tests as skipped without running them.
        #[arg(long, value_delimiter = ',')]
        skip: Vec<String>,
        /// Test only these features besides the core ones (default: every supported feature).
        #[arg(long, value_delimiter = ',')]
        features: Option<Vec<String>>,
        /// Run another folder of scenarios instead of the built-in suite.
        #[arg(long)]
        suite: Option<PathBuf>,
        /// Write a report in the shape of upstream's ConformanceReport (YAML).
        #[arg(long)]
        report: Option<PathBuf>,
        /// Write JUnit XML.
        #[arg(long)]
        junit: Option<PathBuf>,
        /// Overrides every scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
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
    Serve {
        #[arg(short = 'f', long = "filename", num_args = 1..)]
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
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
        Err(err) => {
            let _ = writeln!(std::io::stderr(), "gwsim: {}", error_text(&err));
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    let mut stdout = std::io::stdout().lock();
    let mut budgets = gwsim_engine::load::Budgets::default();
    if let Some(max) = cli.max_input_size {
        budgets.max_input_bytes = max;
    }
    match cli.command {
        Command::Check {
            files,
            output,
            classes,
        } => {
            let inputs = inputs::load_with(&files, &classes.options(budgets))?;
            let (table, ok) = check::render_table(&inputs);
            match output {
                CheckFormat::Table => {
                    let version = classes.api.gateway_api_version;
                    writeln!(
                        stdout,
                        "Gateway API {} (experimental channel), --gateway-api-version {version}",
                        version.release()
                    )?;
                    stdout.write_all(check::header(&inputs).as_bytes())?;
                    stdout.write_all(b"\n")?;
                    stdout.write_all(table.as_bytes())?
                }
                CheckFormat::Yaml => {
                    stdout.write_all(check::render_objects(&inputs, false)?.as_bytes())?
                }
                CheckFormat::Json => {
                    stdout.write_all(check::render_objects(&inputs, true)?.as_bytes())?
                }
            }
            Ok(if ok { 0 } else { 1 })
        }
        Command::Routes {
            files,
            gateway,
            output,
            classes,
        } => {
            let inputs = inputs::load_with(&files, &classes.options(budgets))?;
            let gateway = gateway.as_deref().map(parse_gateway).transpose()?;
            let mut listing = inputs.table.listing();
            if let Some(gateway) = &gateway {
                listing.gateways.retain(|g| &g.gateway == gateway);
                if listing.gateways.is_empty() {
                    bail!(
                        "no Gateway {} of a class gwsim stands in for",
                        gateway.namespaced_name()
                    );
                }
            }
            match output {
                TextOrJson::Text => {
                    stdout.write_all(check::header(&inputs).as_bytes())?;
                    stdout.write_all(b"\n")?;
                    stdout.write_all(listing.render_text().as_bytes())?
                }
                TextOrJson::Json => {
                    serde_json::to_writer_pretty(&mut stdout, &listing)?;
                    stdout.write_all(b"\n")?;
                }
            }
            Ok(0)
        }
        Command::Explain {
            files,
            gateway,
            method,
            headers,
            sni,
            seed,
            output,
            url,
            classes,
        } => {
            let inputs = inputs::load_with(&files, &classes.options(budgets))?;
            let mut request = parse_url(&url)?;
            request.gateway = gateway.as_deref().map(parse_gateway).transpose()?;
            request.method = method.to_ascii_uppercase();
            for header in &headers {
                let (name, value) = header
                    .split_once(':')
                    .with_context(|| format!("header {header:?} is not `name: value`"))?;
                request
                    .headers
                    .push((name.trim().to_string(), value.trim().to_string()));
            }
            if request.scheme == Scheme::Https {
                request.sni = Some(
                    sni.unwrap_or_else(|| gwsim_sim::inputs::host_without_port(&request.host)),
                );
            }
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let mut decision = inputs.table.decide(&request, &mut rng);
            check::note_endpoints(&inputs, &mut decision);
            match output {
                TextOrJson::Text => {
                    stdout.write_all(check::header(&inputs).as_bytes())?;
                    stdout.write_all(b"\n")?;
                    stdout.write_all(decision.explanation.render_text().as_bytes())?
                }
                TextOrJson::Json => {
                    serde_json::to_writer_pretty(&mut stdout, &decision)?;
                    stdout.write_all(b"\n")?;
                }
            }
            Ok(0)
        }
        Command::Diff {
            before,
            after,
            change,
            delete,
            requests,
            output,
            fail_on,
            classes,
        } => {
            let args = diff::DiffArgs {
                admission: classes.api.options(),
                budgets,
                before,
                after,
                change,
                delete,
                requests,
                gateway_classes: classes.gateway_classes,
            };
            let result = diff::run(&args)?;
            match output {
                TextOrJson::Text => {
                    let color = std::io::stdout().is_terminal()
                        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
                    stdout.write_all(result.render_text(color).as_bytes())?
                }
                TextOrJson::Json => {
                    serde_json::to_writer_pretty(&mut stdout, &result)?;
                    stdout.write_all(b"\n")?;
                }
            }
            let failed = match fail_on {
                FailOn::Changes => result.has_changes(),
                FailOn::Regressions => result.has_regressions(),
            };
            Ok(u8::from(failed))
        }
        Command::Audit {
            files,
            output,
            classes,
        } => {
            let inputs = inputs::load_with(&files, &classes.options(budgets))?;
            let audit = gwsim_engine::audit::audit(
                &inputs.snapshot,
                &inputs.reconciliation,
                &inputs.installed,
            );
            match output {
                TextOrJson::Text => {
                    stdout.write_all(check::header(&inputs).as_bytes())?;
                    stdout.write_all(b"\n")?;
                    stdout.write_all(audit::render_text(&audit).as_bytes())?
                }
                TextOrJson::Json => {
                    serde_json::to_writer_pretty(&mut stdout, &audit::to_json(&inputs, &audit))?;
                    stdout.write_all(b"\n")?;
                }
            }
            Ok(u8::from(!audit.agrees()))
        }
        Command::Run {
            paths,
            seed,
            filter,
            output,
        } => {
            let options = gwsim_sim::runner::RunOptions { seed, filter };
            match gwsim_sim::runner::run_paths(&paths, &options) {
                Ok(report) => {
                    let text = match output {
                        TextOrJson::Text => report.render_text(),
                        TextOrJson::Json => report.render_json(),
                    };
                    stdout.write_all(text.as_bytes())?;
                    Ok(exit_byte(report.exit_code()))
                }
                Err(err) => {
                    let _ = writeln!(std::io::stderr(), "gwsim: {err}");
                    Ok(exit_byte(err.exit_code()))
                }
            }
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
                Some(path) => gwsim_tui::run_scenario(&path)?,
                None => gwsim_tui::run_files_with(&files, &classes.options(budgets))?,
            }
            Ok(0)
        }
        Command::Conformance {
            run,
            skip,
            features,
            suite,
            report,
            junit,
            seed,
        } => {
            let scenarios = match gwsim_conformance::load_suite(suite.as_ref()) {
                Ok(s) => s,
                Err(err) => {
                    let _ = writeln!(std::io::stderr(), "gwsim: {err}");
                    return Ok(2);
                }
            };
            let options = gwsim_conformance::Options {
                run,
                skip,
                features,
                seed,
            };
            let results = match gwsim_conformance::run(&scenarios, &options) {
                Ok(r) => r,
                Err(err) => {
                    let _ = writeln!(std::io::stderr(), "gwsim: {err}");
                    return Ok(exit_byte(err.exit_code()));
                }
            };
            stdout.write_all(results.render_text().as_bytes())?;
            if let Some(path) = report {
                let yaml = serde_saphyr::to_string(&results.conformance_report(&report_date()))?;
                std::fs::write(&path, yaml)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            if let Some(path) = junit {
                std::fs::write(&path, results.render_junit())
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            Ok(exit_byte(results.exit_code()))
        }
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

pub(crate) fn parse_gateway(text: &str) -> anyhow::Result<ObjectKey> {
    match text.split_once('/') {
        Some((ns, name)) if !ns.is_empty() && !name.is_empty() => {
            Ok(ObjectKey::new(Kind::Gateway, ns, name))
        }
        _ => bail!("--gateway takes NAMESPACE/NAME, got {text:?}"),
    }
}

/// `http://host[:port]/path?query` into a request (the shared parser the terminal UI uses too).
fn parse_url(url: &str) -> anyhow::Result<Request> {
    Ok(gwsim_sim::inputs::parse_url(url)?)
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
        assert!(parse_url("ftp://x/").is_err());
        assert!(parse_url("http://x:99999/").is_err());
        // The shared parser: IPv6 literals, no fragment in the host, one port only.
        let r = parse_url("http://[::1]/#x").expect("parses");
        assert_eq!((r.host.as_str(), r.path.as_str()), ("[::1]", "/"));
        assert!(parse_url("http://host:80:80/").is_err());
    }
}
