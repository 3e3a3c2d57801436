//! The bodies of gwsim's fuzz targets (fuzz/fuzz_targets/ calls them). Each takes arbitrary bytes and must not panic, hang or
//! disagree with itself; cargo-fuzz (fuzz/, nightly) and the stable replay test
//! (tests/replay.rs: the seed corpus from testdata/ plus seeded random inputs) call the same
//! functions.
//!
//! - [`load_admit`]: bytes → YAML documents → admission → reconcile → routing table;
//! - [`scenario`]: bytes → a scenario file's checked model;
//! - [`decide`]: bytes → a structured configuration (Gateway, HTTPRoutes, Services) →
//!   admission → reconcile → table → decisions on requests drawn from the same bytes: the same
//!   request twice gives the same decision, and `decide_fast` agrees with `decide`.

use std::path::PathBuf;

use arbitrary::{Result, Unstructured};
use gwsim_engine::decision::Request;
use gwsim_engine::diff::{ChangeSet, Settled, apply_change};
use gwsim_engine::load::{Budgets, YamlReader, load_in_pieces, load_with_reader, parse_documents};
use gwsim_engine::object::Snapshot;
use gwsim_sim::files::Source;
use k8s_openapi::jiff::Timestamp;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

/// Inputs longer than this are cut: the targets look for logic errors, not for the speed of
/// reading a large file (that has its own budgets and benchmarks).
pub const MAX_INPUT: usize = 64 * 1024;

fn now() -> Timestamp {
    Timestamp::constant(1_767_225_600, 0)
}

/// Bytes as YAML resources, through everything `gwsim check` does. A stream read in pieces
/// on several threads (as large inputs are) must give exactly what reading it whole gives,
/// and the block-style fast path exactly what the full parser gives: the same documents,
/// lines, warnings and errors.
pub fn load_admit(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(&data[..data.len().min(MAX_INPUT)]) else {
        return;
    };
    let budgets = Budgets::default();
    let whole = load_in_pieces("fuzz.yaml", text, &budgets, 1);
    assert_eq!(
        load_with_reader("fuzz.yaml", text, &budgets, 1, YamlReader::Full),
        whole,
        "the fast path against the full parser"
    );
    for pieces in [2, 3, 7] {
        assert_eq!(
            load_in_pieces("fuzz.yaml", text, &budgets, pieces),
            whole,
            "read in {pieces} pieces"
        );
    }
    let Ok(documents) = parse_documents("fuzz.yaml", text) else {
        return;
    };
    let change = ChangeSet {
        documents,
        deletions: Vec::new(),
    };
    let applied = apply_change(Snapshot::new(), &change, now());
    let settled = Settled::new(applied.snapshot, now());
    let table = settled.table();
    let listing = table.listing();
    let _ = listing.render_text();
}

/// Bytes as a scenario file. Sources that name other files are skipped: reading files is not
/// what this target is about, and `{file: /dev/zero}` would make it so.
pub fn scenario(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(&data[..data.len().min(MAX_INPUT)]) else {
        return;
    };
    if text.contains("file") {
        return;
    }
    let source = Source {
        name: "fuzz.yaml".to_string(),
        path: PathBuf::from("/nonexistent/fuzz.yaml"),
        text: text.to_string(),
    };
    let _ = gwsim_sim::scenario::load_scenario(&source);
}

const HOSTNAMES: [&str; 7] = [
    "example.com",
    "*.example.com",
    "a.example.com",
    "*.a.example.com",
    "b.a.example.com",
    "other.org",
    "*.com",
];
const PATHS: [&str; 9] = [
    "/", "/a", "/a/", "/a/b", "/ab", "//", "/a//b", "/a/b/c", "/x",
];
const REGEXES: [&str; 6] = ["/a.*", "/[ab]+", "/x)|(?:.*", "(", ".*", "/a/(b|c)/?"];
const METHODS: [&str; 3] = ["GET", "POST", "PATCH"];

fn pick<'a>(u: &mut Unstructured<'_>, from: &[&'a str]) -> Result<&'a str> {
    u.choose(from).copied()
}

/// One HTTPRoute match as the API writes it.
fn route_match(u: &mut Unstructured<'_>) -> Result<Value> {
    let mut m = serde_json::Map::new();
    match u.int_in_range(0..=3u8)? {
        0 => {}
        1 => {
            m.insert(
                "path".into(),
                json!({"type": "Exact", "value": pick(u, &PATHS)?}),
            );
        }
        2 => {
            m.insert(
                "path".into(),
                json!({"type": "PathPrefix", "value": pick(u, &PATHS)?}),
            );
        }
        _ => {
            m.insert(
                "path".into(),
                json!({"type": "RegularExpression", "value": pick(u, &REGEXES)?}),
            );
        }
    }
    if u.ratio(1, 3)? {
        m.insert("method".into(), json!(pick(u, &METHODS)?));
    }
    if u.ratio(1, 3)? {
        let kind = if u.ratio(1, 4)? {
            "RegularExpression"
        } else {
            "Exact"
        };
        let value = if kind == "Exact" {
            pick(u, &["1", "2"])?
        } else {
            pick(u, &REGEXES)?
        };
        m.insert(
            "headers".into(),
            json!([{"type": kind, "name": "v", "value": value}]),
        );
    }
    if u.ratio(1, 4)? {
        m.insert(
            "queryParams".into(),
            json!([{"type": "Exact", "name": "q", "value": "1"}]),
        );
    }
    Ok(Value::Object(m))
}

fn http_route(u: &mut Unstructured<'_>, index: usize) -> Result<Value> {
    let mut rules = Vec::new();
    for _ in 0..u.int_in_range(1..=3u8)? {
        let matches: Vec<Value> = (0..u.int_in_range(0..=3u8)?)
            .map(|_| route_match(u))
            .collect::<Result<_>>()?;
        let backends: Vec<Value> = (0..u.int_in_range(0..=2u8)?)
            .map(|_| {
                Ok(json!({
                    "name": pick(u, &["svc-a", "svc-b", "missing"])?,
                    "port": 8080,
                    "weight": u.int_in_range(0..=3u8)?,
                }))
            })
            .collect::<Result<_>>()?;
        let mut rule = json!({"backendRefs": backends});
        if !matches.is_empty() {
            rule["matches"] = Value::Array(matches);
        }
        rules.push(rule);
    }
    let hostnames: Vec<&str> = (0..u.int_in_range(0..=2u8)?)
        .map(|_| pick(u, &HOSTNAMES))
        .collect::<Result<_>>()?;
    let mut parent = json!({"name": "gw"});
    if u.ratio(1, 4)? {
        parent["sectionName"] = json!(pick(u, &["l0", "l1", "nope"])?);
    }
    Ok(json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {
            "name": format!("route-{index}"),
            "namespace": "default",
            // Ties in age are common, so the name tie-break is exercised.
            "creationTimestamp": format!("2026-01-01T00:00:0{}Z", u.int_in_range(0..=2u8)?),
        },
        "spec": {"parentRefs": [parent], "hostnames": hostnames, "rules": rules},
    }))
}

/// A Gateway with one to three HTTP listeners, Services and routes, all from `u`.
fn configuration(u: &mut Unstructured<'_>) -> Result<Vec<Value>> {
    let mut docs = vec![
        json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
               "metadata": {"name": "gwsim"},
               "spec": {"controllerName": "gateway.gwsim.dev/controller"}}),
    ];
    let mut listeners = Vec::new();
    for i in 0..u.int_in_range(1..=3u8)? {
        let mut l = json!({"name": format!("l{i}"), "protocol": "HTTP",
                           "port": if u.ratio(1, 3)? { 8080 } else { 80 }});
        if u.ratio(1, 2)? {
            l["hostname"] = json!(pick(u, &HOSTNAMES)?);
        }
        listeners.push(l);
    }
    docs.push(
        json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
                     "metadata": {"name": "gw", "namespace": "default"},
                     "spec": {"gatewayClassName": "gwsim", "listeners": listeners}}),
    );
    for name in ["svc-a", "svc-b"] {
        docs.push(json!({"apiVersion": "v1", "kind": "Service",
                         "metadata": {"name": name, "namespace": "default"},
                         "spec": {"ports": [{"port": 8080}]}}));
    }
    for i in 0..u.int_in_range(0..=6u8)? {
        docs.push(http_route(u, usize::from(i))?);
    }
    Ok(docs)
}

fn request(u: &mut Unstructured<'_>) -> Result<Request> {
    let host = pick(u, &HOSTNAMES)?.replace('*', pick(u, &["x", "x.y"])?);
    let host = if u.ratio(1, 5)? {
        format!("{host}:8080")
    } else {
        host
    };
    let mut path = pick(u, &PATHS)?.to_string();
    path.push_str(pick(u, &["", "/", "x", "/c", "?q=1", "?q=2&q=1"])?);
    let mut request = Request::get(&host, &path);
    request.method = pick(u, &METHODS)?.to_string();
    request.port = if u.ratio(1, 3)? { 8080 } else { 80 };
    if u.ratio(1, 2)? {
        request
            .headers
            .push(("V".into(), pick(u, &["1", "2", "/a"])?.into()));
    }
    Ok(request)
}

/// A structured configuration and requests from `data`: decisions are deterministic and the
/// fast path agrees with the explained one.
pub fn decide(data: &[u8]) {
    forwarded_requests(data);
}

/// [`decide`], returning how many of the requests were forwarded to a backend (so a test can
/// tell that the generated configurations route, and the checks are not vacuous).
pub fn forwarded_requests(data: &[u8]) -> usize {
    let mut u = Unstructured::new(&data[..data.len().min(MAX_INPUT)]);
    let Ok(docs) = configuration(&mut u) else {
        return 0;
    };
    let mut forwarded = 0;
    let text = serde_json::to_string(&Value::Array(docs.clone())).unwrap_or_default();
    let documents = match parse_documents("fuzz.json", &text) {
        Ok(documents) => documents,
        // A JSON array is not a document; each object is, so parse them one by one.
        Err(_) => docs
            .iter()
            .filter_map(|d| parse_documents("fuzz.json", &d.to_string()).ok())
            .flatten()
            .collect(),
    };
    let change = ChangeSet {
        documents,
        deletions: Vec::new(),
    };
    let table = Settled::new(
        apply_change(Snapshot::new(), &change, now()).snapshot,
        now(),
    )
    .table();
    let again = Settled::new(
        apply_change(Snapshot::new(), &change, now()).snapshot,
        now(),
    )
    .table();
    while let Ok(request) = request(&mut u) {
        let seed = u.arbitrary::<u64>().unwrap_or(0);
        let explained = table.decide(&request, &mut ChaCha8Rng::seed_from_u64(seed));
        let repeated = again.decide(&request, &mut ChaCha8Rng::seed_from_u64(seed));
        assert_eq!(explained, repeated, "the same request twice: {request:?}");
        let fast = table.decide_fast(&request, &mut ChaCha8Rng::seed_from_u64(seed));
        assert_eq!(
            (&fast.outcome, &fast.provenance),
            (&explained.outcome, &explained.provenance),
            "decide_fast and decide disagree on {request:?}"
        );
        if matches!(explained.outcome, gwsim_engine::Outcome::Forward(_)) {
            forwarded += 1;
        }
        if u.is_empty() {
            break;
        }
    }
    forwarded
}
