use super::*;

const CLUSTER_YAML: &str = include_str!("../../../testdata/corpus/kubectl-dump/cluster.yaml");
const CLUSTER_JSON: &str = include_str!("../../../testdata/corpus/kubectl-dump/cluster.json");
const RAW_LIST: &str = include_str!("../../../testdata/corpus/kubectl-dump/httproutes-raw.yaml");
const DUPLICATES: &str = include_str!("../../../testdata/corpus/duplicate-keys.yaml");
const CHART: &str = include_str!("../../../testdata/corpus/helm-rendered/Chart.yaml");
const VALUES: &str = include_str!("../../../testdata/corpus/helm-rendered/values.yaml");
const KUSTOMIZATION: &str =
    include_str!("../../../testdata/corpus/helm-rendered/kustomization.yaml");
const RENDERED: &str =
    include_str!("../../../testdata/corpus/helm-rendered/templates/rendered.yaml");
const EXTRA_JSON: &str =
    include_str!("../../../testdata/corpus/helm-rendered/templates/extra-route.json");

fn loads(name: &str, text: &str) -> Loaded {
    load(name, text, &Budgets::default()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn kinds(loaded: &Loaded) -> Vec<String> {
    loaded
        .documents
        .iter()
        .map(|d| {
            format!(
                "{}/{}",
                d.value["kind"].as_str().unwrap_or("?"),
                d.value["metadata"]["name"].as_str().unwrap_or("?")
            )
        })
        .collect()
}

#[test]
fn splits_and_numbers_documents() {
    let text = "# leading comment\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: b\n";
    let docs = parse_documents("x.yaml", text).expect("parses");
    assert_eq!(docs.len(), 2);
    // Numbered from 1, located at the first content line (not the comment or the marker).
    assert_eq!(docs[0].origin.line, 2);
    assert_eq!(docs[0].origin.document, 1);
    assert_eq!(docs[0].origin.to_string(), "x.yaml:2 (document 1)");
    // The empty document between the two markers counts: documents are numbered as YAML
    // streams them.
    assert_eq!(docs[1].origin.line, 7);
    assert_eq!(docs[1].origin.document, 3);
    assert_eq!(docs[1].value["metadata"]["name"], "b");
}

#[test]
fn yaml_error_names_file_line_column_and_document() {
    let text = "apiVersion: v1\nkind: Namespace\n---\napiVersion: v1\nkind: [Namespace\n";
    let err = parse_documents("bad.yaml", text).expect_err("fails");
    match err {
        LoadError::Yaml {
            source_name,
            line,
            document,
            ..
        } => {
            assert_eq!(source_name, "bad.yaml");
            assert_eq!(document, 2);
            assert!(line >= 5, "{line}");
        }
        other => panic!("unexpected {other:?}"),
    }
    let err = parse_documents("bad.yaml", "a: b: c\n").expect_err("fails");
    assert_eq!(
        err.to_string(),
        "bad.yaml:1:5: document 1: mapping values are not allowed in this context"
    );
}

#[test]
fn expands_lists() {
    let text = "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Namespace, metadata: {name: a}}\n- {apiVersion: v1, kind: Namespace, metadata: {name: b}}\n";
    let docs = parse_documents("l.yaml", text).expect("parses");
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[1].origin.item, Some(1));
    assert_eq!(docs[1].origin.line, 5);
    assert_eq!(
        docs[1].origin.to_string(),
        "l.yaml:5 (document 1, items[1])"
    );
}

#[test]
fn refuses_documents_without_kind_in_strict_mode() {
    let err = parse_documents("k.yaml", "apiVersion: v1\nmetadata: {}\n").expect_err("fails");
    assert!(err.to_string().contains("kind is missing"), "{err}");
}

#[test]
fn kubectl_yaml_dump_loads_with_items_located() {
    let loaded = loads("cluster.yaml", CLUSTER_YAML);
    assert_eq!(
        kinds(&loaded),
        [
            "GatewayClass/eg",
            "Gateway/public",
            "HTTPRoute/storefront",
            "HTTPRoute/docs",
            "Service/storefront",
            "Service/cart"
        ]
    );
    assert!(loaded.skipped.is_empty() && loaded.warnings.is_empty());
    let lines: Vec<usize> = loaded.documents.iter().map(|d| d.origin.line).collect();
    for (doc, line) in loaded.documents.iter().zip(&lines) {
        let text_line = CLUSTER_YAML.lines().nth(line - 1).expect("line exists");
        assert!(
            text_line.starts_with("- apiVersion:"),
            "{}: {text_line}",
            doc.origin
        );
    }
    // Another controller's status and the server's fields are kept as written.
    let gateway = &loaded.documents[1].value;
    assert_eq!(gateway["metadata"]["generation"], 2);
    assert_eq!(gateway["status"]["listeners"][0]["attachedRoutes"], 2);
    assert_eq!(
        loaded.documents[2].value["status"]["parents"][0]["controllerName"],
        "gateway.envoyproxy.io/gatewayclass-controller"
    );
}

#[test]
fn kubectl_json_dump_reads_as_the_yaml_one() {
    let yaml = loads("cluster.yaml", CLUSTER_YAML);
    let json = loads("cluster.json", CLUSTER_JSON);
    let values = |l: &Loaded| {
        l.documents
            .iter()
            .map(|d| d.value.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(values(&json), values(&yaml));
    for doc in &json.documents {
        let text_line = CLUSTER_JSON.lines().nth(doc.origin.line - 1).expect("line");
        assert_eq!(text_line.trim(), "{", "{}", doc.origin);
        assert!(doc.origin.item.is_some());
    }
}

#[test]
fn typed_lists_give_items_their_kind() {
    let loaded = loads("raw.yaml", RAW_LIST);
    assert_eq!(kinds(&loaded), ["HTTPRoute/docs", "HTTPRoute/storefront"]);
    assert_eq!(
        loaded.documents[0].value["apiVersion"],
        "gateway.networking.k8s.io/v1"
    );
}

#[test]
fn helm_folder_files_are_skipped_with_reasons() {
    let chart = loads("chart/Chart.yaml", CHART);
    assert!(chart.documents.is_empty());
    assert_eq!(chart.skipped.len(), 1);
    assert!(
        chart.skipped[0]
            .1
            .contains("kind is missing: a Helm chart description (Chart.yaml)"),
        "{:?}",
        chart.skipped
    );

    let values = loads("chart/values.yaml", VALUES);
    assert!(values.documents.is_empty());
    assert!(
        values.skipped[0]
            .1
            .starts_with("apiVersion and kind are missing: Helm chart values"),
        "{:?}",
        values.skipped
    );

    let kustomization = loads("chart/kustomization.yaml", KUSTOMIZATION);
    assert!(kustomization.documents.is_empty());
    assert!(
        kustomization.skipped[0]
            .1
            .contains("kustomize Kustomization"),
        "{:?}",
        kustomization.skipped
    );

    let rendered = loads("chart/templates/rendered.yaml", RENDERED);
    assert_eq!(
        kinds(&rendered),
        [
            "Service/storefront",
            "Gateway/storefront",
            "HTTPRoute/storefront"
        ]
    );
    let empty: Vec<usize> = rendered.skipped.iter().map(|(o, _)| o.document).collect();
    assert_eq!(empty, [1, 3, 6], "{:?}", rendered.skipped);
    assert!(rendered.skipped.iter().all(|(_, r)| r == EMPTY_DOCUMENT));

    let extra = loads("chart/templates/extra-route.json", EXTRA_JSON);
    assert_eq!(kinds(&extra), ["HTTPRoute/storefront-api"]);
}

#[test]
fn other_documents_that_are_not_objects_are_skipped() {
    let loaded = loads(
        "misc.yaml",
        "- a\n- b\n---\njust text\n---\nname: x\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: ns1}\n",
    );
    assert_eq!(kinds(&loaded), ["Namespace/ns1"]);
    let reasons: Vec<&str> = loaded.skipped.iter().map(|(_, r)| r.as_str()).collect();
    assert!(
        reasons[0].starts_with("a sequence, not a Kubernetes object"),
        "{reasons:?}"
    );
    assert!(reasons[1].starts_with("a string, not"), "{reasons:?}");
    assert!(
        reasons[2].starts_with("apiVersion and kind are missing: a mapping"),
        "{reasons:?}"
    );
}

#[test]
fn duplicate_keys_keep_the_last_value_with_a_warning() {
    let loaded = loads("dup.yaml", DUPLICATES);
    let route = &loaded.documents[0].value;
    assert_eq!(route["spec"]["rules"][0]["backendRefs"][0]["port"], 9090);
    assert_eq!(route["spec"]["hostnames"][0], "checkout.example.com");
    let warnings: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [
            "dup.yaml:18:11: duplicate key \"port\": the last value is used (as kubectl does)",
            "dup.yaml:19:3: duplicate key \"hostnames\": the last value is used (as kubectl does)",
        ]
    );
    for w in &warnings {
        assert!(
            !w.contains("DuplicateKeyPolicy") && !w.contains("Options"),
            "{w}"
        );
    }
    // The strict reader (scenario manifests) refuses them.
    let err = parse_documents("dup.yaml", DUPLICATES).expect_err("strict");
    assert!(err.to_string().contains("duplicate key \"port\""), "{err}");
}

#[test]
fn duplicate_keys_in_json_are_located_too() {
    let text = "{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"Namespace\",\n  \"metadata\": {\"name\": \"a\", \"name\": \"b\"}\n}\n";
    let loaded = loads("dup.json", text);
    assert_eq!(loaded.documents[0].value["metadata"]["name"], "b");
    assert_eq!(loaded.warnings.len(), 1);
    assert_eq!(loaded.warnings[0].line, 4);
}

#[test]
fn json_streams_and_yaml_flow_style() {
    let text = "{\"apiVersion\": \"v1\", \"kind\": \"Namespace\", \"metadata\": {\"name\": \"a\"}}\n\n{\"apiVersion\": \"v1\", \"kind\": \"Namespace\",\n \"metadata\": {\"name\": \"b\"}}\n";
    let loaded = loads("two.json", text);
    assert_eq!(kinds(&loaded), ["Namespace/a", "Namespace/b"]);
    assert_eq!(loaded.documents[0].origin.document, 1);
    assert_eq!(loaded.documents[1].origin.line, 3);
    assert_eq!(loaded.documents[1].origin.document, 2);
    // `{` also starts YAML's flow style: not JSON, read as YAML.
    let flow = loads(
        "flow.yaml",
        "{apiVersion: v1, kind: Namespace, metadata: {name: c}}\n",
    );
    assert_eq!(kinds(&flow), ["Namespace/c"]);
    // A .json file that is not JSON is an error in JSON's terms.
    let err = load("bad.json", "{\"a\": }", &Budgets::default()).expect_err("bad");
    assert!(
        err.to_string()
            .starts_with("bad.json:1:7: document 1: expected value"),
        "{err}"
    );
}

#[test]
fn scalars_merges_and_aliases() {
    let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: &m {name: cm, namespace: x}\ndata:\n  <<: {a: \"1\", b: \"2\"}\n  b: \"3\"\n  port: \"8080\"\nother: *m\nflag: yes\ncount: 0x10\n";
    let loaded = loads("s.yaml", text);
    let v = &loaded.documents[0].value;
    assert_eq!(v["data"]["a"], "1");
    assert_eq!(v["data"]["b"], "3");
    assert_eq!(v["data"]["port"], "8080");
    assert_eq!(v["other"]["name"], "cm");
    assert_eq!(v["flag"], true);
    assert_eq!(v["count"], 16);
    assert!(loaded.warnings.is_empty());
}

#[test]
fn depth_budget_in_gwsims_words() {
    let deep = format!("a: {}{}\n", "[".repeat(150), "]".repeat(150));
    let err = load("deep.yaml", &deep, &Budgets::default()).expect_err("too deep");
    let text = err.to_string();
    assert!(text.starts_with("deep.yaml:1:"), "{text}");
    assert!(
        text.contains("nested more than 100 deep, gwsim's limit for one document"),
        "{text}"
    );
    assert!(!text.contains("recursion limit"), "{text}");
    let deep_json = format!("{}{}", "[".repeat(150), "]".repeat(150));
    let err = load("deep.json", &deep_json, &Budgets::default()).expect_err("too deep");
    assert!(
        err.to_string().contains("nested more than 100 deep"),
        "{err}"
    );
    // Within the budget: fine.
    let ok = format!("a: {}{}\n", "[".repeat(90), "]".repeat(90));
    assert!(load("ok.yaml", &ok, &Budgets::default()).is_ok());
}

#[test]
fn alias_expansion_budget_stops_a_billion_laughs() {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10 {
        let p = i - 1;
        text.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    let err = load("laughs.yaml", &text, &Budgets::default()).expect_err("bounded");
    let message = err.to_string();
    assert!(
        message.contains(
            "aliases (*name) copy more than 1,000,000 values, gwsim's limit for one input"
        ),
        "{message}"
    );
    assert!(!message.contains("budget breached"), "{message}");
}

#[test]
fn node_and_size_budgets() {
    let budgets = Budgets {
        max_nodes: 1000,
        ..Budgets::default()
    };
    let text = format!("items: [{}]\n", vec!["1"; 2000].join(", "));
    let err = load("many.yaml", &text, &budgets).expect_err("too many");
    assert!(
        err.to_string()
            .contains("more than 1,000 values, mappings and sequences"),
        "{err}"
    );
    let json = format!("[{}]", vec!["1"; 2000].join(", "));
    let err = load("many.json", &json, &budgets).expect_err("too many");
    assert!(err.to_string().contains("more than 1,000 values"), "{err}");
    let small = Budgets {
        max_input_bytes: 10,
        ..Budgets::default()
    };
    let err = load("big.yaml", "apiVersion: v1\n", &small).expect_err("too big");
    assert!(
        err.to_string()
            .contains("the input is 15 bytes, more than gwsim reads from one input (10 bytes)"),
        "{err}"
    );
}

/// A kubectl List of 2,500 routes (about 2.9 MB as kubectl writes it) loads with the default
/// budgets: the size that the YAML library's own default node budget refused.
#[test]
fn a_large_real_shaped_list_is_within_budget() {
    let spec = crate::synth::SynthSpec::with_routes(2_500);
    let list = spec.dumped_list();
    let text = serde_saphyr::to_string(&list).expect("serializes");
    assert!(text.len() > 2_500_000, "{}", text.len());
    let loaded = loads("dump.yaml", &text);
    assert_eq!(loaded.documents.len(), spec.documents().len());
    assert!(loaded.skipped.is_empty() && loaded.warnings.is_empty());
}

/// A whole-cluster dump of 100,000 objects in one List loads within the default budgets.
#[test]
fn a_dump_of_100000_objects_is_within_budget() {
    let mut text =
        String::from("apiVersion: v1\nkind: List\nmetadata:\n  resourceVersion: \"\"\nitems:\n");
    for i in 0..100_000 {
        text.push_str(&format!(
            "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: cm-{i}\n    namespace: ns-{}\n    uid: 00000000-0000-4000-8000-{i:012}\n    resourceVersion: \"{i}\"\n  data:\n    key: value-{i}\n",
            i % 100
        ));
    }
    let loaded = loads("cluster.yaml", &text);
    assert_eq!(loaded.documents.len(), 100_000);
    assert_eq!(loaded.documents[99_999].origin.item, Some(99_999));
}

/// Documents after the first are located at their first content line, not at the `---`
/// marker or the comments before it; an empty document at its marker. JSON values too.
#[test]
fn documents_are_located_at_their_first_content_line() {
    let text = "---\n# first\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n---\n\n# second\n\napiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n";
    let loaded = loads("x.yaml", text);
    let origins: Vec<String> = loaded
        .documents
        .iter()
        .map(|d| d.origin.to_string())
        .collect();
    assert_eq!(origins, ["x.yaml:3 (document 1)", "x.yaml:11 (document 3)"]);
    assert_eq!(loaded.skipped[0].0.to_string(), "x.yaml:6 (document 2)");
    let json = loads(
        "x.json",
        "\n\n{\"apiVersion\": \"v1\", \"kind\": \"Namespace\", \"metadata\": {\"name\": \"a\"}}\n",
    );
    assert_eq!(
        json.documents[0].origin.to_string(),
        "x.json:3 (document 1)"
    );
    let stream = loads(
        "s.json",
        "{\"apiVersion\": \"v1\", \"kind\": \"Namespace\", \"metadata\": {\"name\": \"a\"}}\n\n\n{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [\n\n{\"apiVersion\": \"v1\", \"kind\": \"Namespace\", \"metadata\": {\"name\": \"b\"}}]}\n",
    );
    let origins: Vec<String> = stream
        .documents
        .iter()
        .map(|d| d.origin.to_string())
        .collect();
    assert_eq!(
        origins,
        ["s.json:1 (document 1)", "s.json:6 (document 2, items[0])"]
    );
    // A duplicate key refused by the strict reader names its own document.
    let err = parse_documents(
        "d.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: b, name: c}\n",
    )
    .expect_err("duplicate");
    assert!(
        err.to_string()
            .starts_with("d.yaml:7:21: document 2: duplicate key"),
        "{err}"
    );
}

/// A stream of `n` Namespaces, each document starting with `---`.
fn namespaces(n: usize) -> String {
    (0..n)
        .map(|i| format!("---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns-{i}\n"))
        .collect()
}

#[test]
fn streams_are_cut_before_document_markers_only() {
    let text = "a: 1\n---\nb: |\n  ---\n  text\n--- # comment\nc: 3\n";
    assert_eq!(yaml::cut_points(text, 1), vec![(0, 1)]);
    // Cut at the `---` lines at column 0 (lines 2 and 6), never inside the block scalar: in
    // two pieces, at the first marker past the middle.
    assert_eq!(yaml::cut_points(text, 2), vec![(0, 1), (27, 6)]);
    assert_eq!(yaml::cut_points(text, 8), vec![(0, 1), (5, 2), (27, 6)]);
    // `----` and `---x` are not markers.
    assert_eq!(yaml::cut_points("a: 1\n----\n---x\n", 4), vec![(0, 1)]);
    // Directives apply to the document after them, and a bare carriage return is a line
    // break the cut's line count would miss: such streams are read whole.
    assert_eq!(
        yaml::cut_points("%YAML 1.2\n---\na: 1\n---\nb: 2\n", 4),
        vec![(0, 1)]
    );
    assert_eq!(
        yaml::cut_points("a: 1\r---\nb: 2\n---\nc: 3\n", 4),
        vec![(0, 1)]
    );
    assert_eq!(
        yaml::cut_points("a: 1\r\n---\r\nb: 2\r\n", 4),
        vec![(0, 1), (6, 2)]
    );
}

#[test]
fn a_stream_read_in_pieces_is_the_stream_read_whole() {
    let budgets = Budgets::default();
    let mut text = namespaces(40);
    // A duplicate key, a List with item lines, an empty document and a skipped one, late in
    // the stream: their lines and document numbers must not depend on the cut.
    text.push_str("---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: dup\n  name: dup2\n");
    text.push_str("---\n---\n- not an object\n");
    text.push_str("---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Namespace\n  metadata: {name: item}\n");
    let whole = load_in_pieces("x.yaml", &text, &budgets, 1).expect("loads");
    assert_eq!(whole.documents.len(), 42);
    assert_eq!(whole.warnings.len(), 1);
    assert_eq!(whole.warnings[0].line, 206);
    assert_eq!(whole.skipped.len(), 2);
    let last = whole.documents.last().expect("documents");
    assert_eq!((last.origin.document, last.origin.line), (44, 214));
    for pieces in [2, 3, 5, 16, 100] {
        let parts = load_in_pieces("x.yaml", &text, &budgets, pieces).expect("loads");
        assert_eq!(parts, whole, "{pieces} pieces");
    }
}

#[test]
fn an_error_in_a_later_piece_is_the_error_of_the_whole_stream() {
    let budgets = Budgets::default();
    let mut text = namespaces(30);
    text.push_str("---\napiVersion: v1\nkind: [Namespace\n");
    text.push_str(&namespaces(30));
    let whole = load_in_pieces("x.yaml", &text, &budgets, 1).expect_err("fails");
    assert!(
        whole.to_string().starts_with("x.yaml:153:"),
        "the line in the whole stream: {whole}"
    );
    for pieces in [2, 4, 7] {
        let parts = load_in_pieces("x.yaml", &text, &budgets, pieces).expect_err("fails");
        assert_eq!(parts, whole, "{pieces} pieces");
    }
}

#[test]
fn budgets_hold_for_the_pieces_together() {
    // Each piece is under the node budget; the stream is not, and says so where the whole
    // stream goes past it.
    let text = namespaces(40);
    let budgets = Budgets {
        max_nodes: 200,
        ..Budgets::default()
    };
    let whole = load_in_pieces("x.yaml", &text, &budgets, 1).expect_err("over budget");
    assert!(
        whole.to_string().contains("more than 200 values"),
        "{whole}"
    );
    for pieces in [2, 4] {
        assert_eq!(
            load_in_pieces("x.yaml", &text, &budgets, pieces).expect_err("over budget"),
            whole
        );
    }
    let anchors = "---\na: &x [1, 2, 3]\nb: *x\n".repeat(10);
    let budgets = Budgets {
        max_alias_nodes: 30,
        ..Budgets::default()
    };
    let whole = load_in_pieces("x.yaml", &anchors, &budgets, 1).expect_err("over budget");
    assert_eq!(
        load_in_pieces("x.yaml", &anchors, &budgets, 3).expect_err("over budget"),
        whole
    );
}

#[test]
fn every_corpus_file_reads_the_same_in_pieces() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata");
    let mut stack = vec![root];
    let mut files = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("testdata") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let name = path.display().to_string();
            let whole = load_in_pieces(&name, &text, &Budgets::default(), 1);
            for pieces in [2, 3, 8] {
                assert_eq!(
                    load_in_pieces(&name, &text, &Budgets::default(), pieces),
                    whole,
                    "{name} in {pieces} pieces"
                );
            }
            files += 1;
        }
    }
    assert!(files > 100, "only {files} files under testdata/");
}

/// Both readers on one text, in one piece: the fast path must give exactly what the full
/// parser gives (documents, lines, warnings, errors).
fn assert_readers_agree(name: &str, text: &str, budgets: &Budgets) {
    let full = load_with_reader(name, text, budgets, 1, YamlReader::Full);
    let fast = load_with_reader(name, text, budgets, 1, YamlReader::BlockFastPath);
    assert_eq!(fast, full, "{name}:\n{text}");
}

#[test]
fn every_corpus_file_reads_the_same_by_both_readers() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata");
    let mut stack = vec![root];
    let mut files = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("testdata") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            assert_readers_agree(&path.display().to_string(), &text, &Budgets::default());
            files += 1;
        }
    }
    assert!(files > 100, "only {files} files under testdata/");
}

/// Shapes the fast path reads, and shapes it must leave to the full parser, each beside
/// ordinary documents.
const READER_CASES: &[&str] = &[
    "a: 1\nb: two\n",
    "---\na: 1\n---\nb: [1, 2]\n---\nc: 3\n",
    "# comment\n\n---  # marker comment\nk: v # trailing\nlist:\n- a\n-   b\n- - nested\n  - more\n",
    "items:\n- apiVersion: v1\n  kind: Namespace\n-\n  apiVersion: v1\n  kind: Namespace\n",
    "kind: List\nitems: []\n",
    "kind: List\nitems:\n  - a: 1\n    b: 2\n  - 3\n",
    "m:\n  \"f:metadata\":\n    'f:labels': {}\n  k:{\"type\":\"Ready\"}: {}\n  e: []\n",
    "s: \"esc \\\" \\\\ \\n \\t \\u00e9 \\x41 \\U0001F600 \\/ \\N \\_ \\L \\P\"\ns2: 'it''s'\n",
    "lit: |\n  line 1\n\n   indented\n  last\nstrip: |-\n  x\n\n\nkeep: |+\n  y\n\n\nnext: 1\n",
    "lit: | # comment\n  # not a comment\n  x\nafter: 2\n",
    "lit: |\n\n\n  after blanks\nz: 1\n",
    "lit: |\n    \n  less\n",
    "lit: |\n  x\n    \n",
    "lit: |2\n   x\n",
    "fold: >\n  a\n  b\n",
    "end: |\n  no final break",
    "keepend: |+\n  y\n\n",
    "n: ~\nn2: null\nb: yes\nb2: Off\ni: 0777\nh: 0x1F\nf: 1e3\nf2: .5\ninf: .inf\nt: 2026-01-01T00:00:00Z\ne:\nlast: -1\n",
    "dup: 1\ndup: 2\n",
    "base: &a {x: 1}\nuse: *a\n",
    "<<: {x: 1}\ny: 2\n",
    "t: !!str 80\n",
    "a: b: c\n",
    "a:\n  b: 1\n c: 2\n",
    "a: 1\n  b: 2\n",
    "a: plain\n  continued\n",
    "a: \"multi\n  line\"\n",
    "a: 'open\n",
    "- a\n- b\n",
    "- a\n  - b\n",
    "just a scalar\n",
    "---\n",
    "---\n---\n",
    "# only a comment\n",
    "",
    "\n\n",
    "a: 1\n...\n",
    "--- |\n  text\n",
    "--- {a: 1}\n",
    "? complex\n: key\n",
    "a:\tb\n",
    "\u{feff}a: 1\n",
    "a: 1\r\nb: 2\r\n---\r\nc: 3\r\n",
    "%YAML 1.2\n---\na: 1\n",
    "a: \"x\" y\n",
    "a: 'x':\n",
    "\"k\" : v\n",
    "-1: neg\n",
    "- -1\n- -x\n- - -\n",
    "a: -\n",
    "a: - b\n",
    "a: :b\n",
    "a: b:c\n",
    "a: b #c\nb: c#d\n",
    "a#b: 1\n",
    "a #b: 1\n",
    "k: @x\n",
    "k: `x\n",
    "k: ,x\n",
    "k: %x\n",
    "key with spaces: v\n",
    "k:\n- a\n- b\nj: 2\n",
    "k:\n  - a\n  j: 2\n",
    "k:\n-\n- a\n",
    "k: {}\nl: []\nm: { }\nn: [ ]\no: {}x\n",
    "  indented: root\n  second: key\n",
    "a:\n    deep: 1\n    deeper:\n        x: y\n",
    "x: \"\\q\"\n",
    "x: \"\\ud800\"\n",
    "x: \"\\x4\"\n",
    "x: 1_000\ny: 0b101\nz: +12\n",
    "x: 99999999999999999999999\n",
    "x: 1.7976931348623157e309\n",
    "x: 'a'  # c\n",
    "x: \"a\"#c\n",
    "x: |-\n  a\n- b\n",
    "- |\n  in a sequence\n- >\n  folded\n",
    "- |\n a\n",
    "k:\n- |\n  x\n",
    "k:\n- |\n x\n",
];

#[test]
fn the_fast_path_reads_as_the_full_parser_does() {
    for (i, case) in READER_CASES.iter().enumerate() {
        assert_readers_agree(&format!("case-{i}.yaml"), case, &Budgets::default());
        // Beside ordinary documents, before and after.
        let text = format!("---\nfirst: 1\n---\n{case}\n---\nlast: 2\n");
        assert_readers_agree(&format!("case-{i}-framed.yaml"), &text, &Budgets::default());
    }
}

#[test]
fn the_fast_path_keeps_the_budgets_of_the_full_parser() {
    let text = namespaces(40);
    for budgets in [
        Budgets {
            max_nodes: 200,
            ..Budgets::default()
        },
        Budgets {
            max_nodes: 12,
            ..Budgets::default()
        },
        Budgets {
            max_depth: 1,
            ..Budgets::default()
        },
        Budgets {
            max_depth: 2,
            ..Budgets::default()
        },
    ] {
        assert_readers_agree("budget.yaml", &text, &budgets);
        assert_readers_agree("budget.yaml", "a:\n  b:\n    c: {}\n", &budgets);
    }
}

/// Texts made by cutting and splicing pieces of block YAML at random: most are wrong in some
/// way, and the fast path must either read them as the full parser does or leave them to it.
#[test]
fn the_fast_path_agrees_on_spliced_texts() {
    use rand::{Rng, SeedableRng};
    let pieces: Vec<&str> = READER_CASES
        .iter()
        .flat_map(|c| c.split_inclusive('\n'))
        .chain(CLUSTER_YAML.split_inclusive('\n').take(200))
        .chain([
            "  ",
            "- ",
            ": ",
            "#",
            "'",
            "\"",
            "|",
            "|-",
            "{}",
            "[]",
            "---\n",
            "\n",
            "items:\n",
            "- apiVersion: v1\n",
            "  kind: Namespace\n",
            "    ",
            "-\n",
            "k: v\n",
        ])
        .collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(10);
    for round in 0..3000 {
        let mut text = String::new();
        for _ in 0..rng.random_range(1..12) {
            text.push_str(pieces[rng.random_range(0..pieces.len())]);
        }
        assert_readers_agree(&format!("spliced-{round}.yaml"), &text, &Budgets::default());
    }
}

#[test]
fn generated_states_read_the_same_by_both_readers() {
    let spec = crate::synth::SynthSpec::with_routes(200);
    let mut text = String::new();
    for doc in spec.documents() {
        text.push_str("---\n");
        text.push_str(&serde_saphyr::to_string(&doc).expect("serializes"));
    }
    assert_readers_agree("synth.yaml", &text, &Budgets::default());
    let list = serde_saphyr::to_string(&spec.dumped_list()).expect("serializes");
    assert_readers_agree("synth-list.yaml", &list, &Budgets::default());
    // The fast path did read them (the full parser would give the same result, slower).
    let parsed = yaml::parse("synth.yaml", &text, &Budgets::default()).expect("parses");
    assert_eq!(parsed.fast_documents, spec.documents().len());
    let parsed = yaml::parse("synth-list.yaml", &list, &Budgets::default()).expect("parses");
    assert_eq!(parsed.fast_documents, 1);
    let parsed = yaml::parse("cluster.yaml", CLUSTER_YAML, &Budgets::default()).expect("parses");
    assert_eq!(
        parsed.fast_documents,
        parsed.documents.len(),
        "kubectl's own output"
    );
}

/// Cases the fast path must read itself (not hand to the full parser): the shapes kubectl and
/// the generators write.
#[test]
fn the_fast_path_reads_the_usual_shapes_itself() {
    for (i, case) in READER_CASES.iter().enumerate().take(11) {
        if i == 1 {
            continue; // its second document is a flow sequence of plain scalars: read too
        }
        let parsed = yaml::parse("x.yaml", case, &Budgets::default()).expect("parses");
        assert_eq!(
            parsed.fast_documents,
            parsed.documents.len(),
            "case {i}:\n{case}"
        );
    }
    let flow = "metadata: {name: route1, namespace: team1}\nspec:\n  parentRefs: [{name: gw1, namespace: infra}]\n  rules:\n  - matches: [{path: {type: PathPrefix, value: /r1/p0}}]\n    backendRefs: [{name: svc1, port: 80}]\n";
    let parsed = yaml::parse("flow.yaml", flow, &Budgets::default()).expect("parses");
    assert_eq!(parsed.fast_documents, 1, "flow collections on one line");
    assert_readers_agree("flow.yaml", flow, &Budgets::default());
}

/// Collects what [`load_into`] hands over.
#[derive(Default)]
struct Collect {
    documents: Vec<Document>,
    restarts: usize,
}

impl ObjectSink for Collect {
    fn object(&mut self, document: Document) {
        self.documents.push(document);
    }

    fn restart(&mut self) {
        self.documents.clear();
        self.restarts += 1;
    }
}

/// [`load_into`] hands over exactly the documents [`load`] returns, with the same skipped
/// documents, warnings and errors. Returns the sink.
fn assert_streams_as_loaded(name: &str, text: &str, budgets: &Budgets) -> Collect {
    let loaded = load(name, text, budgets);
    let mut sink = Collect::default();
    let streamed = load_into(name, text, budgets, &mut sink);
    match loaded {
        Ok(loaded) => {
            let streamed = streamed.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(sink.documents, loaded.documents, "{name}");
            assert_eq!(streamed.skipped, loaded.skipped, "{name}");
            assert_eq!(streamed.warnings, loaded.warnings, "{name}");
            assert!(streamed.documents.is_empty());
        }
        Err(e) => assert_eq!(streamed.expect_err("fails too"), e, "{name}"),
    }
    sink
}

fn kubectl_json(value: &serde_json::Value) -> String {
    use serde::Serialize;
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    value.serialize(&mut serializer).expect("serializes");
    String::from_utf8(out).expect("UTF-8")
}

#[test]
fn a_json_list_is_handed_over_item_by_item_as_loaded() {
    let budgets = Budgets::default();
    let list = crate::synth::SynthSpec::with_routes(50).dumped_list();
    let text = kubectl_json(&list);
    let sink = assert_streams_as_loaded("synth.json", &text, &budgets);
    assert_eq!(sink.restarts, 0);
    assert!(sink.documents.len() > 50);
    assert!(matches!(
        json::stream_list("synth.json", &text, &budgets, &mut Collect::default()),
        json::Streamed::Done(_)
    ));
    // `kind` after `items` (kubectl sorts the keys), a typed list whose items lack their
    // kind, items that are not objects, a BOM and white space around.
    let cases = [
        r#"{"apiVersion": "v1", "items": [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}, 3, "x", {"kind": "Service"}], "kind": "List", "metadata": {}}"#,
        "\u{feff}\n  {\"apiVersion\": \"gateway.networking.k8s.io/v1\", \"items\": [\n{\"metadata\": {\"name\": \"r\", \"namespace\": \"n\"}, \"spec\": {}},\n  {\"kind\": \"Gateway\", \"metadata\": {\"name\": \"g\"}}\n], \"kind\": \"HTTPRouteList\"}\n\n",
        r#"{"kind": "List", "items": []}"#,
        r#"{"kind": "HTTPRouteList", "spec": {}, "items": [{"metadata": {}}]}"#,
        r#"{"kind": "Thing", "items": [{"apiVersion": "v1", "kind": "Namespace"}]}"#,
        r#"{"kind": "List", "items": [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a", "name": "b"}}]}"#,
        r#"{"kind": "List", "kind": "List", "items": []}"#,
        r#"{"kind": "List", "items": [{"apiVersion": "v1", "kind": "Namespace"}, {"apiVersion": "#,
        r#"{"kind": "List", "items": [{"apiVersion": "v1", "kind": "Namespace"}]} {"kind": "List", "items": []}"#,
        r#"{"kind": "List", "items": [{"apiVersion": "v1", "kind": "Namespace"}], "x": [1, 2,]}"#,
        r#"{"kind": "List", "items": [{apiVersion: v1, kind: Namespace}]}"#,
        r#"{"kind": "L\u0069st", "items": [{"apiVersion": "v1", "kind": "Namespace"}]}"#,
        r#"[{"kind": "List", "items": []}]"#,
    ];
    for (i, case) in cases.iter().enumerate() {
        for name in [format!("case-{i}.json"), format!("case-{i}.yaml")] {
            assert_streams_as_loaded(&name, case, &budgets);
        }
    }
    // Budgets are the full reader's: its error, at its place.
    let small = Budgets {
        max_nodes: 40,
        ..Budgets::default()
    };
    let sink = assert_streams_as_loaded("synth.json", &text, &small);
    assert_eq!(sink.restarts, 1, "the stream went past the budget part way");
    let shallow = Budgets {
        max_depth: 3,
        ..Budgets::default()
    };
    assert_streams_as_loaded("synth.json", &text, &shallow);
}

#[test]
fn every_corpus_file_streams_as_it_loads() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata");
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("testdata") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(text) = std::fs::read_to_string(&path) {
                assert_streams_as_loaded(&path.display().to_string(), &text, &Budgets::default());
            }
        }
    }
}

/// A large List's items parsed on several threads give what one thread gives, and every
/// malformed List goes to the full reader, which says what is wrong.
#[test]
fn a_large_json_list_parses_in_parallel_as_in_one_thread() {
    let budgets = Budgets::default();
    let list = crate::synth::SynthSpec::with_routes(120).dumped_list();
    let text = kubectl_json(&list);
    let items = list["items"].as_array().expect("items").len();
    assert!(items >= 2 * json::PARALLEL_MIN_ITEMS, "{items} items");
    let mut one = Collect::default();
    let mut four = Collect::default();
    let one_done = json::stream_list_on("synth.json", &text, &budgets, &mut one, 1);
    let four_done = json::stream_list_on("synth.json", &text, &budgets, &mut four, 4);
    assert!(matches!(one_done, json::Streamed::Done(_)));
    assert!(matches!(four_done, json::Streamed::Done(_)));
    assert_eq!(one.documents, four.documents);
    assert_eq!(four.documents.len(), items);
    assert_streams_as_loaded("synth.json", &text, &budgets);

    let item = r#"{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}}"#;
    let many = |sep: &str| vec![item; 80].join(sep);
    let cases = [
        format!(r#"{{"kind": "List", "items": [{}]}}"#, many(",\n  ")),
        format!(r#"{{"kind": "List", "items": [{},]}}"#, many(", ")),
        format!(r#"{{"kind": "List", "items": [{}, , {item}]}}"#, many(", ")),
        format!(r#"{{"kind": "List", "items": [{} x, {item}]}}"#, many(", ")),
        format!(
            r#"{{"kind": "List", "items": [{}, {item} {item}]}}"#,
            many(", ")
        ),
        format!(
            r#"{{"kind": "List", "items": [{}, {{"kind": "Namespace", "kind": "Namespace"}}]}}"#,
            many(", ")
        ),
        format!(
            r#"{{"kind": "List", "metadata": {{"a": 1,}}, "items": [{}]}}"#,
            many(", ")
        ),
        format!(
            r#"{{"kind": "List", "items": [{}, {{"a": [1, 2}}]}}"#,
            many(", ")
        ),
    ];
    for (i, case) in cases.iter().enumerate() {
        let name = format!("parallel-{i}.json");
        let mut one = Collect::default();
        let mut four = Collect::default();
        let one_done = json::stream_list_on(&name, case, &budgets, &mut one, 1);
        let four_done = json::stream_list_on(&name, case, &budgets, &mut four, 4);
        assert_eq!(
            matches!(one_done, json::Streamed::Done(_)),
            matches!(four_done, json::Streamed::Done(_)),
            "{name}"
        );
        assert_streams_as_loaded(&name, case, &budgets);
    }
    // A budget passed in a later round: the full reader's error.
    let small = Budgets {
        max_nodes: 80 * 5,
        ..Budgets::default()
    };
    assert_streams_as_loaded("budget.json", &cases[0], &small);
    let mut four = Collect::default();
    assert!(matches!(
        json::stream_list_on("budget.json", &cases[0], &small, &mut four, 4),
        json::Streamed::Failed
    ));
}

/// A block-style YAML List read item by item ([`block_list`]) with `workers` threads: whether
/// it was, and what it handed over.
fn stream_yaml_list(name: &str, text: &str, budgets: &Budgets, workers: usize) -> (bool, Collect) {
    let mut sink = Collect::default();
    let done = matches!(
        block_list::stream_list(name, text, budgets, &mut sink, workers),
        json::Streamed::Done(_)
    );
    (done, sink)
}

/// `kubectl get -o yaml` output is read item by item, on one thread or several, and gives
/// exactly what the full parser gives; every shape the cut or the fast path does not take is
/// left to the whole-document readers, which give their own results and errors.
#[test]
fn a_yaml_list_is_read_item_by_item_as_the_full_parser_reads_it() {
    let budgets = Budgets::default();
    let list = crate::synth::SynthSpec::with_routes(120).dumped_list();
    let text = serde_saphyr::to_string(&list).expect("serializes");
    let items = list["items"].as_array().expect("items").len();
    assert!(items >= 2 * 64, "{items} items");
    let (one_done, one) = stream_yaml_list("synth.yaml", &text, &budgets, 1);
    let (four_done, four) = stream_yaml_list("synth.yaml", &text, &budgets, 4);
    assert!(
        one_done && four_done,
        "kubectl's shape is read item by item"
    );
    assert_eq!(one.documents, four.documents);
    assert_eq!(four.documents.len(), items);
    let full = load_with_reader("synth.yaml", &text, &budgets, 1, YamlReader::Full).expect("reads");
    assert_eq!(four.documents, full.documents);
    assert_readers_agree("synth.yaml", &text, &budgets);
    assert_streams_as_loaded("synth.yaml", &text, &budgets);

    let ns =
        |n: usize| format!("- apiVersion: v1\n  kind: Namespace\n  metadata:\n    name: n{n}\n");
    let many: String = (0..70).map(ns).collect();
    let cases: Vec<(String, bool)> = vec![
        // Read item by item: kubectl's shape, entries indented under `items:`, a `---`
        // first, comments and blank lines between items, an entry whose node starts on the
        // next line, literal blocks (kept trailing lines too) at an item's end, scalars as
        // items, a typed list, `kind` before `items`, no line break at the end.
        (format!("apiVersion: v1\nitems:\n{many}kind: List\nmetadata:\n  resourceVersion: \"\"\n"), true),
        (format!("apiVersion: v1\nitems:\n{}kind: List\n", many.lines().map(|l| format!("  {l}\n")).collect::<String>()), true),
        (format!("---\n# dump\napiVersion: v1\nitems:\n\n# first\n{many}\n# end\nkind: List\n"), true),
        (format!("kind: List\nitems:\n-\n  apiVersion: v1\n  kind: ConfigMap\n  data:\n    a: |+\n      x\n\n\n{many}"), true),
        (format!("kind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  data:\n    a: |-\n      x\n\n    b: |\n      y\n{many}- 3\n- x\n- {{kind: Service}}\n"), true),
        ("apiVersion: gateway.networking.k8s.io/v1\nitems:\n- metadata:\n    name: r\n    namespace: n\n  spec: {}\nkind: HTTPRouteList\n".to_string(), true),
        (format!("kind: List\nitems:\n{}", many.trim_end()), true),
        // A key of the last item after it, then a root key.
        (format!("kind: List\nitems:\n{many}  x: 1\nkind2: 1\n"), true),
        // Left to the whole-document readers: a second document, a directive, an anchor
        // in the root, a duplicate key in an item or in the root, a tab, a folded scalar,
        // an item indented wrongly, not a List, a mapping in place of the sequence,
        // `items: []`, a root that is not at column 0, a carriage return, a typed list
        // with `spec`.
        (format!("kind: List\nitems:\n{many}---\nkind: List\nitems: []\n"), false),
        (format!("%YAML 1.1\n---\nkind: List\nitems:\n{many}"), false),
        (format!("kind: &k List\nitems:\n{many}"), false),
        (format!("kind: List\nitems:\n{many}- kind: Namespace\n  kind: Namespace\n"), false),
        (format!("kind: List\nkind: List\nitems:\n{many}"), false),
        (format!("kind: List\nitems:\n{many}- kind: Namespace\n  metadata:\n\tname: x\n"), false),
        (format!("kind: List\nitems:\n{many}- kind: Namespace\n  metadata: >\n    x\n"), false),
        (format!("kind: List\nitems:\n{many}- kind: Namespace\n    apiVersion: v1\n"), false),
        (format!("kind: Thing\nitems:\n{many}"), false),
        ("kind: List\nitems:\n  a: 1\n".to_string(), false),
        ("kind: List\nitems: []\n".to_string(), false),
        (format!("  kind: List\n  items:\n{many}"), false),
        (format!("kind: List\r\nitems:\n{many}"), false),
        (format!("kind: HTTPRouteList\nspec: {{}}\nitems:\n{many}"), false),
        (format!("kind: List\nitems:\n{many} x: 1\nkind2: 1\n"), false),
    ];
    for (i, (case, item_by_item)) in cases.iter().enumerate() {
        let name = format!("yaml-list-{i}.yaml");
        let (one_done, one) = stream_yaml_list(&name, case, &budgets, 1);
        let (four_done, four) = stream_yaml_list(&name, case, &budgets, 4);
        assert_eq!(one_done, *item_by_item, "{name}:\n{case}");
        assert_eq!(four_done, *item_by_item, "{name}:\n{case}");
        if *item_by_item {
            assert_eq!(one.documents, four.documents, "{name}");
            let full = load_with_reader(&name, case, &budgets, 1, YamlReader::Full).expect("reads");
            assert_eq!(four.documents, full.documents, "{name}:\n{case}");
        }
        assert_readers_agree(&name, case, &budgets);
        assert_streams_as_loaded(&name, case, &budgets);
    }
    // Budgets are the full reader's: its error, at its place, also when the items pass the
    // node budget only together, in a later round.
    for small in [
        Budgets {
            max_nodes: 300,
            ..Budgets::default()
        },
        Budgets {
            max_depth: 3,
            ..Budgets::default()
        },
        Budgets {
            max_depth: 4,
            ..Budgets::default()
        },
    ] {
        assert!(!stream_yaml_list("budget.yaml", &text, &small, 4).0);
        assert_readers_agree("budget.yaml", &text, &small);
        assert_streams_as_loaded("budget.yaml", &text, &small);
        assert!(load("budget.yaml", &text, &small).is_err());
    }
}
