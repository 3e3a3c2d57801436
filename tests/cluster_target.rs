//! `--target cluster` against `gwsim serve --api` (the built binary, on loopback): the example
//! scenarios and the whole conformance suite go through kube-rs (server-side apply, get, list,
//! delete) and real sockets to the served data plane, and must end as they end in memory,
//! apart from the cases listed below with the reason.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Scenarios of testdata/scenarios/ that do not run on a cluster, with the words of the reason
/// `gwsim run --target cluster` gives.
const EXAMPLES_NOT_ON_CLUSTER: &[(&str, &str)] = &[(
    "listenerset-tlsroute",
    "TLS connection steps are not sent to a cluster yet",
)];

/// Scenarios that run on the cluster but end otherwise than in memory, and why. The test
/// checks that they do fail, so that a fix is noticed and the entry removed.
const EXAMPLES_DIFFERENT: &[(&str, &str)] = &[(
    "validation",
    "expectError quotes the simulator's wording `HTTPRoute \"broken\" is invalid`; an API \
     server (gwsim serve --api too) names the resource `HTTPRoute.gateway.networking.k8s.io`",
)];

/// Conformance tests that do not run on a cluster (reported skipped with the reason).
const SUITE_NOT_ON_CLUSTER: &[&str] = &[
    // It declares network.addresses, which a real cluster's network is not gwsim's to declare.
    "GatewayStaticAddresses",
    // TLS connection steps are not sent to a cluster yet.
    "BackendTLSPolicyTLSRouteTerminate",
    "TLSRouteHostnameIntersection",
    "TLSRouteInvalidBackendRefNonexistent",
    "TLSRouteInvalidBackendRefUnknownKind",
    "TLSRouteInvalidNoMatchingListener",
    "TLSRouteInvalidNoMatchingListenerHostname",
    "TLSRouteInvalidReferenceGrant",
    "TLSRouteMixedTerminationSameNamespace",
    "TLSRouteSimpleSameNamespace",
    "TLSRouteTerminateSimpleSameNamespace",
    // TCP and UDP connection steps are not sent to a cluster yet.
    "TCPRouteInvalidBackendRefNonexistent",
    "TCPRouteInvalidCrossNamespaceBackendRef",
    "TCPRouteInvalidNonTCPListener",
    "TCPRouteMultipleRoutesAttachment",
    "TCPRouteParentRefAttachAll",
    "TCPRouteParentRefPortAndSectionName",
    "TCPRouteReferenceGrant",
    "TCPRouteWeightedRouting",
    "UDPRoute",
    "UDPRouteInvalidBackendRefNonexistent",
    "UDPRouteInvalidCrossNamespaceBackendRef",
    "UDPRouteMultipleRoutesAttachment",
    "UDPRouteNotAllowedByListeners",
    "UDPRouteParentRefAttachAllListeners",
    "UDPRouteParentRefPortAndSectionName",
    "UDPRouteReferenceGrant",
    "UDPRouteWeightedRouting",
    // Requests from a pod through the mesh are not sent over the wire yet.
    "MeshBasic",
    "MeshConsumerRoute",
    "MeshFrontend",
    "MeshFrontendHostname",
    "MeshGRPCRouteRequestHeaderModifier",
    "MeshGRPCRouteWeight",
    "MeshHTTPRoute303Redirect",
    "MeshHTTPRoute307Redirect",
    "MeshHTTPRoute308Redirect",
    "MeshHTTPRouteBackendRequestHeaderModifier",
    "MeshHTTPRouteMatching",
    "MeshHTTPRouteNamedRule",
    "MeshHTTPRouteQueryParamMatching",
    "MeshHTTPRouteRedirectHostAndStatus",
    "MeshHTTPRouteRedirectPath",
    "MeshHTTPRouteRedirectPort",
    "MeshHTTPRouteRequestHeaderModifier",
    "MeshHTTPRouteRewritePath",
    "MeshHTTPRouteSchemeRedirect",
    "MeshHTTPRouteSimpleSameNamespace",
    "MeshHTTPRouteWeight",
    "MeshPorts",
    "MeshTrafficSplit",
];

/// Conformance tests that run on the cluster but fail there, and why.
const SUITE_DIFFERENT: &[(&str, &str)] = &[];

/// `--timeout` of every run: generous, since nothing is expected to fail and waits adapt
/// (a passing check costs no more for it), and the machine may be busy.
const TIMEOUT: &str = "20";

/// The examples and the suite run one after the other: the suite's request-heavy tests (the
/// percentage mirror sends 4,500 requests) slow every API call, and the example `precedence`
/// needs its two routes created within one second (their creation times tie, so names decide).
static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn gwsim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gwsim"))
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `gwsim serve --api` on a free loopback port, its data plane on listener port + `offset`.
struct Server {
    child: Child,
    kubeconfig: PathBuf,
    served: PathBuf,
    offset: u16,
}

impl Server {
    /// How the library reaches the server.
    fn options(&self) -> gwsim_live::ClusterOptions {
        gwsim_live::ClusterOptions {
            kubeconfig: Some(self.kubeconfig.clone()),
            context: None,
        }
    }

    fn start(name: &str, offset: u16) -> Server {
        Server::start_with(name, offset, &[])
    }

    /// A server whose cluster starts with the objects of `files` (`gwsim serve -f`).
    fn start_with(name: &str, offset: u16, files: &[&str]) -> Server {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cluster-target-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a temporary folder");
        let kubeconfig = dir.join("kubeconfig");
        let served = dir.join("served.json");
        let child = gwsim()
            .args(["serve", "--api", "127.0.0.1:0", "--port-offset"])
            .arg(offset.to_string())
            .arg("--kubeconfig-out")
            .arg(&kubeconfig)
            .arg("--ready-file")
            .arg(&served)
            .args(files.iter().flat_map(|f| ["-f", f]))
            .current_dir(root())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("gwsim serve --api starts");
        let server = Server {
            child,
            kubeconfig,
            served,
            offset,
        };
        let started = Instant::now();
        while !server.kubeconfig.exists() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "gwsim serve --api wrote no kubeconfig in 30 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    /// `gwsim ARGS... --target cluster --kubeconfig K --port-offset N -o json`: its report and
    /// its text on standard error.
    fn run(&self, args: &[&str]) -> (Value, String) {
        self.run_waiting(args, TIMEOUT)
    }

    /// As [`Server::run`] with `--timeout SECONDS`.
    fn run_waiting(&self, args: &[&str], timeout: &str) -> (Value, String) {
        let output = gwsim()
            .current_dir(root())
            .args(args)
            .args(["--target", "cluster", "--kubeconfig"])
            .arg(&self.kubeconfig)
            .arg("--served-listeners")
            .arg(&self.served)
            .args([
                "--port-offset",
                &self.offset.to_string(),
                "--timeout",
                timeout,
            ])
            .args(["-o", "json"])
            .output()
            .expect("gwsim runs");
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        let report = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {stderr}"));
        (report, stderr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn in_memory(args: &[&str]) -> Value {
    let output = gwsim()
        .current_dir(root())
        .args(args)
        .args(["-o", "json"])
        .output()
        .expect("gwsim runs");
    serde_json::from_slice(&output.stdout).expect("a JSON report")
}

/// Scenario name → `passed`, `failed` or `skipped`.
fn results(scenarios: &Value) -> BTreeMap<String, String> {
    scenarios
        .as_array()
        .expect("a list of scenarios")
        .iter()
        .map(|s| {
            (
                s["name"].as_str().expect("a name").to_string(),
                s["result"].as_str().expect("a result").to_string(),
            )
        })
        .collect()
}

#[test]
fn the_example_scenarios_end_as_in_memory() {
    let _alone = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let server = Server::start("examples", 3000);
    let started = Instant::now();
    let (cluster, stderr) = server.run(&["run", "testdata/scenarios"]);
    let took = started.elapsed();
    let memory = in_memory(&["run", "testdata/scenarios"]);
    let mut expected = results(&memory["scenarios"]);
    for (name, reason) in EXAMPLES_NOT_ON_CLUSTER {
        let skipped = cluster["notOnCluster"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["name"] == *name)
            .unwrap_or_else(|| panic!("{name} should not run on a cluster: {cluster:#}"));
        assert!(
            skipped["reason"]
                .as_str()
                .is_some_and(|r| r.contains(reason)),
            "{skipped}"
        );
        expected.remove(*name);
    }
    for (name, why) in EXAMPLES_DIFFERENT {
        assert_eq!(
            expected.get(*name).map(String::as_str),
            Some("passed"),
            "{name}"
        );
        eprintln!("expected to differ on the cluster: {name}: {why}");
        expected.insert(name.to_string(), "failed".into());
    }
    let got = results(&cluster["ran"]["scenarios"]);
    assert_eq!(got, expected, "{cluster:#}\n{stderr}");
    let calls = cluster["apiCalls"]
        .as_array()
        .expect("API calls per scenario");
    let total: u64 = calls.iter().map(|c| c[1].as_u64().unwrap_or(0)).sum();
    eprintln!(
        "figures: {} example scenarios on the cluster in {:.1} s, {} API calls ({:.0} per scenario)",
        got.len(),
        took.as_secs_f64(),
        total,
        total as f64 / got.len().max(1) as f64
    );
}

/// Test name → outcome in a ConformanceReport (`failed`, `skipped`, or absent = passed).
fn suite_outcomes(report: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for profile in report["profiles"].as_array().into_iter().flatten() {
        for level in ["core", "extended"] {
            for (list, outcome) in [("failedTests", "failed"), ("skippedTests", "skipped")] {
                for name in profile[level][list].as_array().into_iter().flatten() {
                    out.insert(name.as_str().unwrap_or("").to_string(), outcome.to_string());
                }
            }
        }
    }
    out
}

/// Test name → `passed`, `failed` or `skipped`, from a JUnit file: every test once, though a
/// Gateway-only test is a case of each profile's suite and a test outside the profiles is in
/// no ConformanceReport entry.
fn junit_outcomes(path: &Path) -> BTreeMap<String, String> {
    let xml = std::fs::read_to_string(path).expect("the JUnit file");
    let mut out = BTreeMap::new();
    for case in xml.split("<testcase name=\"").skip(1) {
        let name = case.split('"').next().unwrap_or("").to_string();
        let head = case.split("</testcase>").next().unwrap_or("");
        let outcome = if head.contains("<failure") {
            "failed"
        } else if head.contains("<skipped") {
            "skipped"
        } else {
            "passed"
        };
        out.insert(name, outcome.to_string());
    }
    out
}

/// The upstream names of the suite's tests (the `upstream:` of testdata/conformance/).
fn suite_tests() -> Vec<String> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(root().join("testdata/conformance")).expect("the suite") {
        let path = entry.expect("an entry").path();
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        names.extend(
            text.lines()
                .filter_map(|l| l.strip_prefix("upstream: "))
                .map(|n| n.trim().to_string()),
        );
    }
    names.sort();
    names
}

/// Servers the suite is split over (each its own cluster, so that their waits overlap).
const SUITE_SHARDS: usize = 3;
/// Scenarios each shard runs at once (`--jobs`), among those that touch disjoint objects.
const SUITE_JOBS: &str = "2";

#[test]
fn the_conformance_suite_ends_as_in_memory() {
    let _alone = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let tests = suite_tests();
    let started = Instant::now();
    let shards: Vec<(Value, String, BTreeMap<String, String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..SUITE_SHARDS)
            .map(|shard| {
                let mine: Vec<&str> = tests
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| i % SUITE_SHARDS == shard)
                    .map(|(_, n)| n.as_str())
                    .collect();
                scope.spawn(move || {
                    let offset = 5000 + 10000 * shard as u16;
                    let server = Server::start(&format!("suite-{shard}"), offset);
                    let run = mine.join(",");
                    let junit = std::env::temp_dir()
                        .join(format!("gwsim-suite-{}-{shard}.xml", std::process::id()));
                    let junit_arg = junit.display().to_string();
                    let (report, stderr) = server.run(&[
                        "conformance",
                        "--run",
                        &run,
                        "--junit",
                        &junit_arg,
                        "--jobs",
                        SUITE_JOBS,
                    ]);
                    let outcomes = junit_outcomes(&junit);
                    let _ = std::fs::remove_file(&junit);
                    (report, stderr, outcomes)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a shard ran"))
            .collect()
    });
    let took = started.elapsed();
    let junit = std::env::temp_dir().join(format!("gwsim-suite-{}.xml", std::process::id()));
    let memory = in_memory(&["conformance", "--junit", &junit.display().to_string()]);
    let mut expected = junit_outcomes(&junit);
    let _ = std::fs::remove_file(&junit);
    assert_eq!(expected.len(), tests.len());
    // The report's failed and skipped tests are the JUnit file's.
    for (name, outcome) in suite_outcomes(&memory) {
        assert_eq!(expected.get(&name), Some(&outcome), "{name}");
    }
    for name in SUITE_NOT_ON_CLUSTER {
        expected.insert(name.to_string(), "skipped".into());
    }
    for (name, why) in SUITE_DIFFERENT {
        assert_eq!(
            expected.get(*name).map(String::as_str),
            Some("passed"),
            "{name} passes in memory"
        );
        eprintln!("expected to differ on the cluster: {name}: {why}");
        expected.insert(name.to_string(), "failed".into());
    }
    let mut got = BTreeMap::new();
    for (cluster, stderr, outcomes) in &shards {
        assert_eq!(
            cluster["implementation"]["organization"], "gateway.gwsim.dev",
            "named from the GatewayClass's controllerName: {stderr}"
        );
        got.extend(outcomes.clone());
    }
    // Every test ran on some shard (a test left out would look passed).
    assert_eq!(got.len(), tests.len());
    let stderr: Vec<&str> = shards.iter().map(|(_, e, _)| e.as_str()).collect();
    assert_eq!(got, expected, "{}", stderr.join("\n"));
    eprintln!(
        "figures: the conformance suite on the cluster in {:.1} s ({SUITE_SHARDS} servers at once, --jobs {SUITE_JOBS} on each)",
        took.as_secs_f64()
    );
}

/// `gwsim run --target cluster` with the flags the server needs, and extra ones.
fn run_weights(server: &Server, extra: &[&str]) -> std::process::Output {
    gwsim()
        .current_dir(root())
        .args([
            "run",
            "testdata/scenarios",
            "--filter",
            "weights",
            "--target",
            "cluster",
        ])
        .arg("--kubeconfig")
        .arg(&server.kubeconfig)
        .arg("--served-listeners")
        .arg(&server.served)
        .args([
            "--port-offset",
            &server.offset.to_string(),
            "--timeout",
            TIMEOUT,
        ])
        .args(extra)
        .output()
        .expect("gwsim runs")
}

#[test]
fn a_run_labels_what_it_creates_and_refuses_what_it_did_not() {
    let server = Server::start("safety", 7000);
    let kept = run_weights(&server, &["--keep"]);
    assert!(
        kept.status.success(),
        "{}",
        String::from_utf8_lossy(&kept.stdout)
    );

    // What the kept run created carries its label; Secrets come with stand-ins for their
    // data (whether each value held PEM), never the data.
    let state = gwsim_live::read_state(&gwsim_live::ClusterOptions {
        kubeconfig: Some(server.kubeconfig.clone()),
        context: None,
    })
    .expect("the live state");
    let mut labelled = 0;
    for doc in &state {
        let value = &doc.value;
        if value["kind"] == "Secret" {
            // "", "REDACTED", "-----BEGIN REDACTED-----\n", base64-encoded.
            let stand_ins = ["", "UkVEQUNURUQ=", "LS0tLS1CRUdJTiBSRURBQ1RFRC0tLS0tCg=="];
            for data in value["data"]
                .as_object()
                .into_iter()
                .flat_map(|d| d.values())
            {
                assert!(stand_ins.contains(&data.as_str().unwrap_or("?")), "{value}");
            }
        }
        // The base's objects and the scenario's (the server's own namespaces, such as
        // `default`, are not gwsim's).
        let name = value["metadata"]["name"].as_str().unwrap_or("");
        let namespace = value["metadata"]["namespace"].as_str().unwrap_or(name);
        let created_by_gwsim = namespace.starts_with("gateway-conformance")
            && matches!(
                value["kind"].as_str(),
                Some("Gateway" | "HTTPRoute" | "Namespace" | "Secret" | "GatewayClass")
            );
        if created_by_gwsim {
            let run = value["metadata"]["labels"][gwsim_live::RUN_LABEL].as_str();
            assert!(run.is_some_and(|r| r.starts_with("gwsim-")), "{value}");
            labelled += 1;
        }
    }
    assert!(labelled >= 10, "{labelled} labelled objects");
    // Without --echo-image, the echo Deployments run upstream's echo server.
    let images = deployment_images(&server);
    assert!(!images.is_empty());
    assert!(
        images
            .iter()
            .all(|i| i.contains("gateway-api/conformance/echo-basic")),
        "{images:?}"
    );

    // Another run refuses to write over them...
    let refused = run_weights(&server, &[]);
    let text = String::from_utf8_lossy(&refused.stdout);
    assert_eq!(refused.status.code(), Some(1), "{text}");
    assert!(
        text.contains("this run did not create it (pass --force to write there anyway)"),
        "{text}"
    );
    // ...unless told to.
    let forced = run_weights(&server, &["--force"]);
    assert!(
        forced.status.success(),
        "{}",
        String::from_utf8_lossy(&forced.stdout)
    );
}

/// Route entries as `routes -o json` prints them, without their order among equals (the
/// cluster's creation times are the wall clock's, a file's are not).
fn route_entries(routes: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for gateway in routes["gateways"].as_array().expect("gateways") {
        for listener in gateway["listeners"].as_array().expect("listeners") {
            for entry in listener["entries"].as_array().expect("entries") {
                out.push(format!(
                    "{} {} {} rule {} match {} {} {} -> {}",
                    gateway["gateway"]["name"],
                    listener["name"],
                    entry["route"]["name"],
                    entry["rule_index"],
                    entry["match_index"],
                    entry["hostname"],
                    entry["description"],
                    entry["backends"]
                ));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn read_only_commands_take_the_live_state_as_input() {
    let file = "testdata/golden/inputs/shop.yaml";
    let server = Server::start_with("read-only", 4000, &[file]);
    let from_cluster = |command: &str| {
        let output = gwsim()
            .current_dir(root())
            .args([command, "--cluster", "--kubeconfig"])
            .arg(&server.kubeconfig)
            .args(["-o", "json"])
            .output()
            .expect("gwsim runs");
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        let value: Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|e| panic!("{command} --cluster: not JSON ({e}): {stderr}"));
        (value, output.status.code())
    };
    let from_file = |command: &str| {
        let output = gwsim()
            .current_dir(root())
            .args([command, "-f", file, "-o", "json"])
            .output()
            .expect("gwsim runs");
        let value: Value = serde_json::from_slice(&output.stdout).expect("JSON");
        (value, output.status.code())
    };
    // The controller writes statuses in the background: the state settles within seconds.
    let started = Instant::now();
    let (routes, code) = loop {
        let got = from_cluster("routes");
        if route_entries(&got.0) == route_entries(&from_file("routes").0)
            || started.elapsed() > Duration::from_secs(20)
        {
            break got;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let (expected, expected_code) = from_file("routes");
    assert!(!route_entries(&expected).is_empty());
    assert_eq!(route_entries(&routes), route_entries(&expected));
    assert_eq!(code, expected_code);
    assert_eq!(
        routes["gwsim"]["findings"], expected["gwsim"]["findings"],
        "the same findings from the cluster as from the file"
    );
    // check sees the same objects, besides the Namespaces and EndpointSlices the cluster
    // made (a file's Deployments get pods and EndpointSlices there) and the Services it
    // generated for the Gateways (docs/behaviour.md, Provisioning).
    let (checked, _) = from_cluster("check");
    let names = |v: &Value| -> Vec<String> {
        let mut names: Vec<String> = v["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter(|o| o["kind"] != "Namespace" && o["kind"] != "EndpointSlice")
            .filter(|o| o["metadata"]["labels"]["app.kubernetes.io/managed-by"] != "gwsim")
            .map(|o| {
                format!(
                    "{} {} {}",
                    o["kind"], o["metadata"]["namespace"], o["metadata"]["name"]
                )
            })
            .collect();
        names.sort();
        names
    };
    assert_eq!(names(&checked), names(&from_file("check").0));
    // explain decides a request on the live state as on the file.
    let explain = |input: &[&str]| {
        let output = gwsim()
            .current_dir(root())
            .arg("explain")
            .args(input)
            .args(["-o", "name", "http://www.shop.example/catalog/shoes"])
            .output()
            .expect("gwsim runs");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let kubeconfig = server.kubeconfig.to_string_lossy().into_owned();
    let winner = explain(&["--cluster", "--kubeconfig", &kubeconfig]);
    assert!(!winner.trim().is_empty());
    assert_eq!(winner, explain(&["-f", file]));
    // audit compares the statuses gwsim serve's controller wrote with its own: they agree.
    let (audit, code) = from_cluster("audit");
    assert_eq!(audit["agrees"], Value::Bool(true), "{audit:#}");
    assert_eq!(code, Some(0));
}

#[test]
fn cluster_and_files_do_not_mix() {
    let output = gwsim()
        .args(["check", "--cluster", "-f", "x.yaml"])
        .output()
        .expect("gwsim runs");
    assert_eq!(output.status.code(), Some(2));
    let output = gwsim()
        .args(["check", "--kubeconfig", "k"])
        .output()
        .expect("gwsim runs");
    assert_eq!(
        output.status.code(),
        Some(2),
        "--kubeconfig needs --cluster"
    );
}

/// Every object of the live state, with its resourceVersion: equal before and after a
/// command proves the command wrote nothing.
fn live_state(server: &Server) -> Vec<String> {
    let state = gwsim_live::read_state(&server.options()).expect("the live state");
    state
        .iter()
        .map(|d| {
            format!(
                "{} {}/{} rv={} uid={}",
                d.value["kind"],
                d.value["metadata"]["namespace"],
                d.value["metadata"]["name"],
                d.value["metadata"]["resourceVersion"],
                d.value["metadata"]["uid"]
            )
        })
        .collect()
}

/// The live state once the server's controller has written every status (two reads in a
/// row agree).
fn settled_state(server: &Server) -> Vec<String> {
    let started = Instant::now();
    let mut last = live_state(server);
    loop {
        std::thread::sleep(Duration::from_millis(50));
        let now = live_state(server);
        if now == last {
            return now;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the server's state never settled"
        );
        last = now;
    }
}

/// `gwsim diff ... -o json` with `args`: the report and the exit code.
fn diff_json(args: &[&str]) -> (Value, Option<i32>) {
    let output = gwsim()
        .current_dir(root())
        .arg("diff")
        .args(args)
        .args(["-o", "json"])
        .output()
        .expect("gwsim runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("diff {args:?}: not JSON ({e}): {stderr}"));
    (value, output.status.code())
}

#[test]
fn diff_cluster_is_the_dry_run_of_a_change_and_writes_nothing() {
    let base = "testdata/golden/diff/base";
    let server = Server::start_with("diff", 9000, &[base]);
    let kubeconfig = server.kubeconfig.to_string_lossy().into_owned();
    let before = settled_state(&server);
    // Exit 1: something changes; 0: nothing does.
    for (change, code) in [
        (
            &["--change", "testdata/golden/diff/change-weight.yaml"][..],
            1,
        ),
        (
            &["--delete", "ReferenceGrant/payments/shop-to-checkout"][..],
            1,
        ),
        (&["--change", "testdata/golden/diff/noop.yaml"][..], 0),
    ] {
        let (live, live_code) =
            diff_json(&[&["--cluster", "--kubeconfig", &kubeconfig][..], change].concat());
        let (files, files_code) = diff_json(&[&["--before", base][..], change].concat());
        assert_eq!(live_code, Some(code), "{change:?}: {live:#}");
        assert_eq!(files_code, Some(code), "{change:?}: {files:#}");
        assert_eq!(live, files, "{change:?}");
    }
    assert_eq!(
        live_state(&server),
        before,
        "diff --cluster wrote to the cluster"
    );
}

/// The images of the labelled Deployments' containers.
fn deployment_images(server: &Server) -> Vec<String> {
    let labelled = gwsim_live::labelled(&server.options()).expect("the labelled objects");
    labelled
        .iter()
        .filter(|o| o["kind"] == "Deployment")
        .flat_map(|o| {
            o["spec"]["template"]["spec"]["containers"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .map(|c| c["image"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn echo_image_names_the_image_of_the_base_deployments() {
    let server = Server::start("echo-image", 11000);
    let image = "registry.example/echo:test";
    let kept = run_weights(&server, &["--keep", "--echo-image", image]);
    assert!(
        kept.status.success(),
        "{}",
        String::from_utf8_lossy(&kept.stdout)
    );
    let images = deployment_images(&server);
    assert!(images.len() >= 6, "{images:?}");
    assert!(images.iter().all(|i| i == image), "{images:?}");
}

#[test]
fn ctrl_c_removes_everything_the_run_created() {
    let server = Server::start("ctrl-c", 12000);
    let child = gwsim()
        .current_dir(root())
        .args(["conformance", "--target", "cluster", "--kubeconfig"])
        .arg(&server.kubeconfig)
        .arg("--served-listeners")
        .arg(&server.served)
        .args([
            "--port-offset",
            "12000",
            "--timeout",
            TIMEOUT,
            "--jobs",
            "2",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("gwsim runs");
    // Interrupted in the middle of the suite, once a scenario has written an object of its
    // own: then the base's connection and a worker's have both created objects.
    let base: Vec<(String, String)> = gwsim_sim::base::conformance_base()
        .expect("the base")
        .iter()
        .map(|d| {
            let name = &d.value["metadata"]["name"];
            (d.value["kind"].to_string(), name.to_string())
        })
        .collect();
    let started = Instant::now();
    let labelled = || gwsim_live::labelled(&server.options()).expect("labelled objects");
    // Pods and EndpointSlices are the cluster's, made for the base's Deployments too.
    let own = |o: &Value| {
        !matches!(o["kind"].as_str(), Some("Pod" | "EndpointSlice"))
            && !base.contains(&(o["kind"].to_string(), o["metadata"]["name"].to_string()))
    };
    while !labelled().iter().any(own) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no scenario wrote an object in 60 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success());
    let output = child.wait_with_output().expect("gwsim ends");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    // Namespaces go in the background (as kube-apiserver's do): wait for them.
    let deleted = Instant::now();
    loop {
        let left = labelled();
        if left.is_empty() {
            break;
        }
        let names: Vec<String> = left
            .iter()
            .map(|o| format!("{} {}", o["kind"], o["metadata"]["name"]))
            .collect();
        assert!(
            deleted.elapsed() < Duration::from_secs(10),
            "left after Ctrl-C: {names:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A route that mirrors only `/mirror`: `/plain` goes to infra-backend-v1 alone.
const MIRROR_ONLY_SOME: &str = r#"name: mirror-checks-can-fail
description: mirroredTo holds only when the mirror backend's pods logged the request.
base: conformance
manifests:
  - |
    apiVersion: gateway.networking.k8s.io/v1
    kind: HTTPRoute
    metadata:
      name: mirror-some
      namespace: gateway-conformance-infra
    spec:
      parentRefs:
        - name: same-namespace
      rules:
        - matches:
            - path: {type: PathPrefix, value: /mirror}
          filters:
            - type: RequestMirror
              requestMirror:
                backendRef: {name: infra-backend-v2, port: 8080}
          backendRefs:
            - {name: infra-backend-v1, port: 8080}
        - matches:
            - path: {type: PathPrefix, value: /plain}
          backendRefs:
            - {name: infra-backend-v1, port: 8080}
steps:
  - name: the mirrored path reaches v2
    request: {gateway: gateway-conformance-infra/same-namespace, path: /mirror}
    expect:
      status: 200
      backend: infra-backend-v1
      mirroredTo: [{backend: infra-backend-v2, namespace: gateway-conformance-infra}]
  - name: the plain path does not, though the step says it does
    request: {gateway: gateway-conformance-infra/same-namespace, path: /plain}
    expect:
      status: 200
      backend: infra-backend-v1
      mirroredTo: [{backend: infra-backend-v2, namespace: gateway-conformance-infra}]
"#;

#[test]
fn a_mirror_check_fails_when_the_mirror_did_not_get_the_request() {
    let server = Server::start("mirror-negative", 9000);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cluster-target-mirror-negative");
    let file = dir.join("mirror-checks-can-fail.yaml");
    std::fs::write(&file, MIRROR_ONLY_SOME).expect("the scenario written");
    let file = file.to_string_lossy().into_owned();
    // A check meant to fail waits out the whole timeout: a short one.
    let (cluster, stderr) = server.run_waiting(&["run", &file], "5");
    let memory = in_memory(&["run", &file]);
    for (report, at) in [(&cluster["ran"], "cluster"), (&memory, "memory")] {
        let scenario = &report["scenarios"][0];
        assert_eq!(scenario["result"], "failed", "{at}: {report:#}\n{stderr}");
        // The first step's copy was found; the second's was not there to find.
        assert_eq!(scenario["step"], 2, "{at}: {scenario:#}");
        let diff = scenario["diff"].as_str().unwrap_or("");
        assert!(
            diff.contains(
                "+mirroredTo.gateway-conformance-infra/infra-backend-v2: received nothing"
            ),
            "{at}: {scenario:#}"
        );
    }
}
