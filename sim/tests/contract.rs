//! Every key of the scenario format checks what it says: for each one, an expectation that
//! holds passes, and a deliberately wrong one fails with a diff that names the field and
//! shows the actual value.

use std::path::PathBuf;

use gwsim_sim::files::Source;
use gwsim_sim::runner::{RunOptions, run_scenarios};
use gwsim_sim::scenario::load_scenario;

/// A route on `same-namespace` exercising what the checks below need.
const MANIFESTS: &str = r#"
manifests:
- |
  apiVersion: gateway.networking.k8s.io/v1
  kind: HTTPRoute
  metadata:
    name: keys
    namespace: gateway-conformance-infra
  spec:
    parentRefs:
    - name: same-namespace
    - name: same-namespace-with-https-listener
      sectionName: https
    rules:
    - backendRefs:
      - {name: infra-backend-v1, port: 8080}
    - matches:
      - path: {type: PathPrefix, value: /headers}
      filters:
      - type: RequestHeaderModifier
        requestHeaderModifier:
          set: [{name: X-Req, value: q}]
      - type: ResponseHeaderModifier
        responseHeaderModifier:
          add: [{name: X-Resp, value: r}]
      backendRefs:
      - {name: infra-backend-v1, port: 8080}
    - matches:
      - path: {type: PathPrefix, value: /redirect}
      filters:
      - type: RequestRedirect
        requestRedirect: {scheme: https, hostname: example.org, statusCode: 301}
    - matches:
      - path: {type: PathPrefix, value: /backend-header}
      backendRefs:
      - name: infra-backend-v1
        port: 8080
        filters:
        - {type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: Backend, value: infra-backend-v1}]}}
      - name: infra-backend-v2
        port: 8080
        filters:
        - {type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: Backend, value: infra-backend-v2}]}}
    - matches:
      - path: {type: PathPrefix, value: /crossed-header}
      backendRefs:
      - name: infra-backend-v1
        port: 8080
        filters:
        - {type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: Backend, value: infra-backend-v2}]}}
    - matches:
      - path: {type: PathPrefix, value: /port-redirect}
      filters:
      - type: RequestRedirect
        requestRedirect: {port: 8080}
    - matches:
      - path: {type: PathPrefix, value: /rewrite}
      filters:
      - type: URLRewrite
        urlRewrite:
          hostname: rewritten.example
          path: {type: ReplaceFullPath, replaceFullPath: /rewritten}
      backendRefs:
      - {name: infra-backend-v1, port: 8080}
    - matches:
      - path: {type: PathPrefix, value: /mirror}
      filters:
      - type: RequestMirror
        requestMirror:
          backendRef: {name: infra-backend-v2, port: 8080}
      backendRefs:
      - {name: infra-backend-v1, port: 8080}
    - matches:
      - path: {type: PathPrefix, value: /percent}
      filters:
      - type: RequestMirror
        requestMirror:
          backendRef: {name: infra-backend-v2, port: 8080}
          percent: 50
      backendRefs:
      - {name: infra-backend-v1, port: 8080}
    - matches:
      - path: {type: PathPrefix, value: /h2c}
      backendRefs:
      - {name: infra-backend-v1, port: 8081}
    - matches:
      - path: {type: PathPrefix, value: /ws}
      backendRefs:
      - {name: infra-backend-v1, port: 8082}
    - matches:
      - path: {type: PathPrefix, value: /weighted}
      backendRefs:
      - {name: infra-backend-v1, port: 8080, weight: 70}
      - {name: infra-backend-v2, port: 8080, weight: 30}
"#;

const GW: &str = "gateway: gateway-conformance-infra/same-namespace";

struct Case {
    name: &'static str,
    /// The steps, as YAML list items.
    steps: String,
    /// Empty: the scenario must pass. Otherwise it must fail and its report contain each.
    fails_with: &'static [&'static str],
}

fn case(name: &'static str, steps: impl Into<String>, fails_with: &'static [&'static str]) -> Case {
    Case {
        name,
        steps: steps.into(),
        fails_with,
    }
}

fn request(extra: &str, expect: &str) -> String {
    format!("- request: {{{GW}{extra}}}\n  expect: {expect}\n")
}

/// A Service `frontend` and a Service `frontend-canary` (each with its own pods), a route
/// `/canary` to the canary, and a request to it expecting `backend`.
fn canary_steps(backend: &str) -> String {
    let mut docs = String::new();
    for name in ["frontend", "frontend-canary"] {
        docs.push_str(&format!(
            "    apiVersion: v1\n    kind: Service\n    metadata: {{name: {name}, namespace: gateway-conformance-infra}}\n    spec:\n      selector: {{app: {name}}}\n      ports: [{{port: 8080, targetPort: 3000}}]\n    ---\n    apiVersion: apps/v1\n    kind: Deployment\n    metadata: {{name: {name}, namespace: gateway-conformance-infra}}\n    spec:\n      replicas: 1\n      selector: {{matchLabels: {{app: {name}}}}}\n      template:\n        metadata: {{labels: {{app: {name}}}}}\n        spec: {{containers: [{{name: echo, image: echo}}]}}\n    ---\n"
        ));
    }
    docs.push_str(
        "    apiVersion: gateway.networking.k8s.io/v1\n    kind: HTTPRoute\n    metadata: {name: canary, namespace: gateway-conformance-infra}\n    spec:\n      parentRefs: [{name: same-namespace}]\n      rules:\n      - matches: [{path: {type: PathPrefix, value: /canary}}]\n        backendRefs: [{name: frontend-canary, port: 8080}]\n",
    );
    format!("- apply: |\n{docs}")
        + &request(
            ", path: /canary",
            &format!("{{status: 200, backend: {backend}}}"),
        )
}

/// The echo service of the gRPC echo backends.
const GRPC_SERVICE: &str = "gateway_api_conformance.echo_basic.grpcecho.GrpcEcho";

/// A GRPCRoute on `same-namespace` (Echo to grpc-infra-backend-v1, EchoThree to
/// grpc-infra-backend-v2, service `other.Svc` to the HTTP echo infra-backend-v1), then a call of
/// `method` with authority a.example and metadata `Version: one`, expecting `expect`.
fn grpc_steps(method: &str, extra: &str, expect: &str) -> String {
    format!(
        "- apply: |\n    apiVersion: gateway.networking.k8s.io/v1\n    kind: GRPCRoute\n    metadata: {{name: calls, namespace: gateway-conformance-infra}}\n    spec:\n      parentRefs: [{{name: same-namespace}}]\n      rules:\n      - matches: [{{method: {{service: {GRPC_SERVICE}, method: Echo}}}}]\n        backendRefs: [{{name: grpc-infra-backend-v1, port: 8080}}]\n      - matches: [{{method: {{service: {GRPC_SERVICE}, method: EchoThree}}}}]\n        backendRefs: [{{name: grpc-infra-backend-v2, port: 8080}}]\n      - matches: [{{method: {{service: other.Svc}}}}]\n        backendRefs: [{{name: infra-backend-v1, port: 8080}}]\n\
         - request: {{{GW}, grpc: {{service: {GRPC_SERVICE}, method: {method}}}, host: a.example, headers: {{Version: one}}{extra}}}\n  expect: {expect}\n"
    )
}

/// A Gateway `infra` whose spec.infrastructure has label a=b, annotation n=v and `extra`.
fn infra_gateway(extra: &str) -> String {
    format!(
        "- apply: |\n    apiVersion: gateway.networking.k8s.io/v1\n    kind: Gateway\n    metadata: {{name: infra, namespace: gateway-conformance-infra}}\n    spec:\n      gatewayClassName: gateway-conformance\n      infrastructure:\n        labels: {{a: b}}\n        annotations: {{n: v}}\n{extra}      listeners: [{{name: http, port: 80, protocol: HTTP}}]\n"
    )
}

const INFRA: &str =
    "  - kind: Gateway\n    name: infra\n    namespace: gateway-conformance-infra\n";

/// A Gateway `static` asking for the static address 10.9.8.7.
fn static_gateway() -> String {
    "- apply: |\n    apiVersion: gateway.networking.k8s.io/v1\n    kind: Gateway\n    metadata: {name: static, namespace: gateway-conformance-infra}\n    spec:\n      gatewayClassName: gateway-conformance\n      addresses: [{value: 10.9.8.7}]\n      listeners: [{name: http, port: 80, protocol: HTTP}]\n".to_string()
}

const STATIC: &str =
    "  - kind: Gateway\n    name: static\n    namespace: gateway-conformance-infra\n";

fn status_step(body: &str) -> String {
    format!("- status:\n{body}")
}

const ROUTE: &str =
    "  - kind: HTTPRoute\n    name: keys\n    namespace: gateway-conformance-infra\n";
const GATEWAY: &str =
    "  - kind: Gateway\n    name: same-namespace\n    namespace: gateway-conformance-infra\n";

/// The mesh's client pod of version v1 in `namespace`.
fn mesh_from(namespace: &str) -> String {
    format!("{{namespace: {namespace}, labels: {{app: echo, version: v1}}}}")
}

const MESH_NS: &str = "gateway-conformance-mesh";

/// A route in `namespace` on Service `parent` (of the mesh namespace; port `port`, none when
/// empty) setting response header X-Mesh: yes and sending to echo-v1, then a request from an
/// echo-v1 pod of `from` to `host` (with `extra` request keys) expecting `expect`.
fn mesh_steps(
    namespace: &str,
    parent: &str,
    port: &str,
    from: &str,
    host: &str,
    extra: &str,
    expect: &str,
) -> String {
    let port = if port.is_empty() {
        String::new()
    } else {
        format!(", port: {port}")
    };
    format!(
        "- apply: |\n    apiVersion: gateway.networking.k8s.io/v1\n    kind: HTTPRoute\n    metadata: {{name: mesh, namespace: {namespace}}}\n    spec:\n      parentRefs: [{{group: \"\", kind: Service, name: {parent}, namespace: {MESH_NS}{port}}}]\n      rules:\n      - filters: [{{type: ResponseHeaderModifier, responseHeaderModifier: {{set: [{{name: X-Mesh, value: \"yes\"}}]}}}}]\n        backendRefs: [{{name: echo-v1, namespace: {MESH_NS}, port: 8080}}]\n\
         - request: {{from: {}, host: \"{host}\"{extra}}}\n  expect: {expect}\n",
        mesh_from(from)
    )
}

fn cases() -> Vec<Case> {
    vec![
        // expect.status
        case("status", request("", "{status: 200}"), &[]),
        case("status-wrong", request("", "{status: 404}"), &["-status: 404", "+status: 200"]),
        case("status-list", request("", "{status: [404, 200]}"), &[]),
        case("status-list-wrong", request("", "{status: [404, 500]}"), &["-status: one of 404, 500"]),
        // expect.backend and expect.namespace
        case("backend", request("", "{backend: infra-backend-v1}"), &[]),
        case(
            "backend-wrong",
            request("", "{backend: infra-backend-v2}"),
            &["-backend: infra-backend-v2", "+backend: infra-backend-v1 (pod infra-backend-v1-"],
        ),
        // The Service is identified exactly (the pod is one of its endpoints), never by prefix.
        case(
            "backend-is-not-a-prefix",
            request("", "{backend: infra-backend}"),
            &["-backend: infra-backend", "+backend: infra-backend-v1 (pod infra-backend-v1-"],
        ),
        case("backend-not-a-prefix", request("", "{backend: infra-backend-v}"), &["-backend: infra-backend-v"]),
        case("backend-canary", canary_steps("frontend-canary"), &[]),
        case(
            "backend-canary-is-not-the-service",
            canary_steps("frontend"),
            &["-backend: frontend", "+backend: frontend-canary (pod frontend-canary-"],
        ),
        case("namespace", request("", "{namespace: gateway-conformance-infra}"), &[]),
        case(
            "namespace-wrong",
            request("", "{namespace: gateway-conformance-web-backend}"),
            &["+namespace: gateway-conformance-infra"],
        ),
        // expect.request
        case(
            "request-fields",
            request(", method: PUT, host: \"a.example:8080\", path: \"/x?y=1\"", "{request: {method: PUT, host: \"a.example:8080\", path: \"/x?y=1\"}}"),
            &[],
        ),
        case(
            "request-fields-wrong",
            request(", path: \"/x?y=1\"", "{request: {method: POST, host: a.example, path: /x}}"),
            &["-request.method: POST", "+request.method: GET", "-request.path: /x", "+request.path: /x?y=1", "-request.host: a.example"],
        ),
        case("request-headers", request(", path: /headers", "{request: {headers: {x-req: q}}}"), &[]),
        case(
            "request-headers-joined",
            request(", headers: [[X-Multi, a], [x-multi, b]]", "{request: {headers: {X-MULTI: \"a,b\"}}}"),
            &[],
        ),
        case(
            "request-headers-joined-wrong",
            request(", headers: [[X-Multi, a], [x-multi, b]]", "{request: {headers: {X-Multi: \"a, b\"}}}"),
            &["-request.headers.X-Multi: a, b", "+request.headers.X-Multi: a,b"],
        ),
        case(
            "request-absent-headers",
            request(", path: /headers", "{request: {absentHeaders: [X-Nope]}}"),
            &[],
        ),
        case(
            "request-absent-headers-wrong",
            request(", path: /headers", "{request: {absentHeaders: [x-req]}}"),
            &["-request.headers.x-req: (absent)", "+request.headers.x-req: q"],
        ),
        case(
            "request-needs-a-backend",
            request(", path: /redirect", "{request: {path: /redirect}}"),
            &["+request.path: (answered by the gateway, no backend)"],
        ),
        // Implicit checks (format 1.1): a 2xx from a backend received the request as sent,
        // unless expect.request says otherwise.
        case("implicit-as-sent", request(", host: a.example, path: \"/headers?q=1\"", "{status: 200}"), &[]),
        case(
            "implicit-path-and-host",
            request(", host: a.example, path: /rewrite", "{status: 200}"),
            &[
                "-request.path (as sent): /rewrite",
                "+request.path (as sent): /rewritten",
                "-request.host (as sent): a.example",
                "+request.host (as sent): rewritten.example",
            ],
        ),
        case(
            "implicit-host-still-checked",
            request(", host: a.example, path: /rewrite", "{status: 200, request: {path: /rewritten}}"),
            &["+request.host (as sent): rewritten.example"],
        ),
        case(
            "implicit-stated",
            request(", host: a.example, path: /rewrite", "{status: 200, request: {path: /rewritten, host: rewritten.example}}"),
            &[],
        ),
        // On a 3xx, the Location's scheme and path default to the request's, its port to none.
        case(
            "implicit-redirect-scheme",
            request(", host: a.example, path: /redirect", "{status: 301}"),
            &["-redirect.scheme (as sent): http", "+redirect.scheme (as sent): https"],
        ),
        case(
            "implicit-redirect-port",
            request(", host: a.example, path: /port-redirect", "{status: 302, redirect: {host: a.example}}"),
            &["-redirect.port (default): absent or the scheme's well-known port", "+redirect.port (default): 8080"],
        ),
        case(
            "implicit-redirect-stated",
            request(", host: a.example, path: /port-redirect/x", "{status: 302, redirect: {port: 8080}}"),
            &[],
        ),
        // gwsim additions: headerValues, ignoreWhitespace, forwarded, request.backendHeader
        case("header-values", request(", path: /headers", "{headerValues: {x-resp: [s, r]}}"), &[]),
        case(
            "header-values-wrong",
            request(", path: /headers", "{headerValues: {x-resp: [s, t]}}"),
            &["-headerValues.x-resp: one of s | t", "+headerValues.x-resp: r"],
        ),
        case(
            "ignore-whitespace",
            request(", headers: {X-Echo-Set-Header: \"A:1 2\"}", "{headers: {a: \"12\"}, headerValues: {a: [\"x\", \" 1 2 \"]}, ignoreWhitespace: true}"),
            &[],
        ),
        case(
            "whitespace-counts-by-default",
            request(", headers: {X-Echo-Set-Header: \"A:1 2\"}", "{headers: {a: \"12\"}}"),
            &["-headers.a: 12", "+headers.a: 1 2"],
        ),
        case("forwarded", request("", "{forwarded: true}"), &[]),
        case(
            "not-forwarded",
            request(", path: /redirect", "{status: 301, redirect: {scheme: https}, forwarded: false}"),
            &[],
        ),
        case(
            "not-forwarded-wrong",
            request("", "{forwarded: false}"),
            &["-forwarded: not forwarded: the Gateway answered itself", "+forwarded: forwarded: a backend answered"],
        ),
        case(
            "forwarded-wrong",
            request(", path: /redirect", "{redirect: {scheme: https}, forwarded: true}"),
            &["+forwarded: not forwarded: the Gateway answered itself"],
        ),
        case("backend-header", request(", path: /backend-header, count: 20", "{request: {backendHeader: Backend}}"), &[]),
        case(
            "backend-header-crossed",
            request(", path: /crossed-header", "{request: {backendHeader: Backend}}"),
            &["+request.headers.Backend: infra-backend-v2 (pod infra-backend-v1-"],
        ),
        case(
            "backend-header-absent",
            request("", "{request: {backendHeader: Backend}}"),
            &["+request.headers.Backend: (absent)"],
        ),
        case(
            "backend-header-repeated",
            request(", headers: [[Backend, infra-backend-v1], [Backend, infra-backend-v1]]", "{request: {backendHeader: Backend}}"),
            &["+request.headers.Backend: 2 values: infra-backend-v1,infra-backend-v1"],
        ),
        // expect.headers and expect.absentHeaders (response)
        case("headers", request(", path: /headers", "{headers: {x-resp: r, content-type: application/json}}"), &[]),
        case("headers-wrong", request(", path: /headers", "{headers: {X-Resp: s}}"), &["-headers.X-Resp: s", "+headers.X-Resp: r"]),
        case(
            "headers-from-echo",
            request(", headers: {X-Echo-Set-Header: \"A:1,A:2\"}", "{headers: {a: \"1,2\"}}"),
            &[],
        ),
        case("absent-headers", request(", path: /headers", "{absentHeaders: [X-Other]}"), &[]),
        case("absent-headers-wrong", request(", path: /headers", "{absentHeaders: [X-RESP]}"), &["+headers.X-RESP: r"]),
        // expect.redirect
        case(
            "redirect",
            request(", host: a.example, path: \"/redirect/x?q=1\"", "{status: 301, redirect: {scheme: https, host: example.org, port: 443, path: /redirect/x}}"),
            &[],
        ),
        case(
            "redirect-wrong",
            request(", path: /redirect", "{redirect: {scheme: http, host: example.com, port: 8443, path: /other}}"),
            &["-redirect.scheme: http", "+redirect.scheme: https", "+redirect.host: example.org", "+redirect.port: 443 (none in Location)", "+redirect.path: /redirect"],
        ),
        case("redirect-missing", request("", "{redirect: {path: /}}"), &["+redirect.path: (no Location header)"]),
        // expect.mirroredTo
        case(
            "mirrored-to",
            request(", path: /mirror", "{mirroredTo: [{backend: infra-backend-v2, namespace: gateway-conformance-infra}, {backend: infra-backend-v2}]}"),
            &[],
        ),
        case(
            "mirrored-to-wrong",
            request(", path: /mirror", "{mirroredTo: [{backend: infra-backend-v3}]}"),
            &["-mirroredTo.infra-backend-v3: received a copy", "+mirroredTo.infra-backend-v3: received nothing"],
        ),
        // gwsim addition: share and tolerance of a percentage mirror
        case(
            "mirrored-share",
            request(", path: /percent, count: 400", "{mirroredTo: [{backend: infra-backend-v2, share: 0.5, tolerance: 0.1}]}"),
            &[],
        ),
        case(
            "mirrored-share-wrong",
            request(", path: /percent, count: 400", "{mirroredTo: [{backend: infra-backend-v2, share: 0.9}]}"),
            &["mirrored share over 400 requests is off", "-mirroredTo.infra-backend-v2: 0.900 of requests ± 0.05", "of 400)"],
        ),
        case(
            "mirrored-every-request-wrong",
            request(", path: /percent, count: 20", "{mirroredTo: [{backend: infra-backend-v2}]}"),
            &["+mirroredTo.infra-backend-v2: received nothing"],
        ),
        // count, distribution and tolerance
        case(
            "distribution",
            request(", path: /weighted, count: 400", "{status: 200, distribution: {infra-backend-v1: 0.7, infra-backend-v2: 0.3}, tolerance: 0.08}"),
            &[],
        ),
        case(
            "distribution-wrong",
            request(", path: /weighted, count: 400", "{distribution: {infra-backend-v1: 0.5, infra-backend-v2: 0.5}}"),
            &["distribution over 400 requests is off", "-distribution.infra-backend-v1: 0.500 ± 0.05", "of 400)"],
        ),
        case(
            "distribution-missing-backend",
            request(", path: /weighted, count: 100", "{distribution: {infra-backend-v1: 1}, tolerance: 0.5}"),
            &["-distribution.infra-backend-v2: 0 (not in the expected distribution)"],
        ),
        case(
            "distribution-zero-tolerance",
            request(", path: /weighted, count: 400", "{distribution: {infra-backend-v1: 0.7, infra-backend-v2: 0.3}, tolerance: 0}"),
            &["distribution over 400 requests is off"],
        ),
        case(
            "distribution-unserved",
            request(", path: /redirect, count: 10", "{redirect: {scheme: https}, distribution: {infra-backend-v1: 1}}"),
            &["+distribution.(no backend): 10 of 10 responses came from no backend"],
        ),
        case(
            "count-checks-every-response",
            request(", path: /weighted, count: 50", "{backend: infra-backend-v1}"),
            &["of 50 does not match expect (backend)", "+backend: infra-backend-v2"],
        ),
        // request defaults and refusals
        case("default-port-and-host", request(", scheme: http", "{status: 200, request: {host: 198.19.0.0}}"), &["-request.host: 198.19.0.0", "+request.host: 198.1"]),
        case(
            "connection-refused",
            request(", port: 8080", "{status: 200}"),
            &["connection refused: Gateway gateway-conformance-infra/same-namespace has no listener on port 8080", "routing explanation:"],
        ),
        case(
            "only-gateway-required",
            "- request: {path: /}\n  expect: {status: 200}\n".to_string(),
            &["several Gateways (gateway-conformance-infra/all-namespaces"],
        ),
        case(
            "unknown-gateway",
            "- request: {gateway: gateway-conformance-infra/nope}\n  expect: {status: 200}\n".to_string(),
            &["Gateway gateway-conformance-infra/nope not found"],
        ),
        case(
            "https-and-sni",
            "- request: {gateway: gateway-conformance-infra/same-namespace-with-https-listener, scheme: https, host: second-example.org, sni: second-example.org}\n  expect: {status: 404}\n- request: {gateway: gateway-conformance-infra/same-namespace-with-https-listener, scheme: https, host: anything.example}\n  expect: {status: 200, backend: infra-backend-v1}\n".to_string(),
            &[],
        ),
        // status checks
        case(
            "status-route",
            status_step(&format!("{ROUTE}    parents:\n    - parentRef: {{name: same-namespace, namespace: gateway-conformance-infra}}\n      controllerName: gateway.gwsim.dev/controller\n      conditions: [{{type: Accepted, status: \"True\", reason: Accepted}}, {{type: ResolvedRefs}}]\n    - parentRef: {{name: same-namespace-with-https-listener, sectionName: https}}\n      conditions: [{{type: Accepted, status: \"True\"}}]\n    acceptedParents: 2\n")),
            &[],
        ),
        case(
            "status-route-wrong-condition",
            status_step(&format!("{ROUTE}    parents:\n    - parentRef: {{name: same-namespace}}\n      conditions: [{{type: Accepted, status: \"False\", reason: NotAllowedByListeners}}, {{type: Unheard}}]\n")),
            &["-  parents[same-namespace].conditions[Accepted]: status=False reason=NotAllowedByListeners", "+  parents[same-namespace].conditions[Accepted]: status=True reason=Accepted", "+  parents[same-namespace].conditions[Unheard]: (missing)"],
        ),
        case(
            "status-route-wrong-parent",
            status_step(&format!("{ROUTE}    parents:\n    - parentRef: {{name: same-namespace, sectionName: https}}\n")),
            &["+  parents[same-namespace/https]: (no entry; entries: "],
        ),
        case(
            "status-route-wrong-controller",
            status_step(&format!("{ROUTE}    parents:\n    - parentRef: {{name: same-namespace}}\n      controllerName: example.com/other\n")),
            &["+  parents[same-namespace].controllerName: gateway.gwsim.dev/controller"],
        ),
        case("status-accepted-parents-wrong", status_step(&format!("{ROUTE}    acceptedParents: 1\n")), &["+  acceptedParents: 2"]),
        case(
            "status-gateway",
            status_step(&format!("{GATEWAY}    conditions: [{{type: Programmed, status: \"True\"}}, {{type: Accepted, reason: Accepted}}]\n    addresses: true\n    listeners:\n    - name: http\n      attachedRoutes: 1\n      supportedKinds: [HTTPRoute]\n      conditions: [{{type: ResolvedRefs, status: \"True\"}}]\n    listenerCount: 1\n")),
            &[],
        ),
        case(
            "status-gateway-wrong",
            status_step(&format!("{GATEWAY}    conditions: [{{type: Programmed, status: \"False\"}}]\n    addresses: false\n    listeners:\n    - name: http\n      attachedRoutes: 3\n      supportedKinds: [TLSRoute]\n    - name: missing\n    listenerCount: 2\n")),
            &["+  conditions[Programmed]: status=True", "+  addresses: non-empty", "+  listeners[http].attachedRoutes: 1", "-  listeners[http].supportedKinds: [TLSRoute]", "+  listeners[missing]: (no entry; listeners: http)", "+  listenerCount: 1"],
        ),
        case(
            "status-supported-kinds-empty",
            status_step(&format!("{GATEWAY}    listeners: [{{name: http, supportedKinds: []}}]\n")),
            &["-  listeners[http].supportedKinds: [] (none)", "+  listeners[http].supportedKinds: [HTTPRoute"],
        ),
        case(
            "status-gateway-class",
            "- status:\n  - kind: GatewayClass\n    name: gateway-conformance\n    conditions: [{type: Accepted, status: \"True\"}]\n".to_string(),
            &[],
        ),
        case(
            "status-missing-object",
            "- status:\n  - kind: GatewayClass\n    name: nope\n".to_string(),
            &["+  object: not found"],
        ),
        // gwsim additions: request.protocol and messages, expect.request.proto and messages
        case(
            "request-proto-h2c",
            request(", path: /h2c, protocol: h2c", "{status: 200, request: {proto: HTTP/2.0}}"),
            &[],
        ),
        case(
            "request-proto-h2c-wrong",
            request(", path: /h2c, protocol: h2c", "{request: {proto: HTTP/1.1}}"),
            &["-request.proto: HTTP/1.1", "+request.proto: HTTP/2.0", "(request.proto)"],
        ),
        // The client's protocol is not the backend's: port 8080 has no appProtocol.
        case(
            "request-proto-follows-the-backend",
            request(", protocol: h2c", "{request: {proto: HTTP/2.0}}"),
            &["-request.proto: HTTP/2.0", "+request.proto: HTTP/1.1"],
        ),
        case(
            "messages",
            request(
                ", path: /ws, protocol: websocket, messages: [{text: hi}, {binary: AQID}]",
                "{status: 101, messages: [{text: hi}, {binary: AQID}]}",
            ),
            &[],
        ),
        case(
            "messages-wrong",
            request(
                ", path: /ws, protocol: websocket, messages: [{text: hi}, {binary: AQID}]",
                "{messages: [{text: ho}, {binary: AQIE}, {text: more}]}",
            ),
            &[
                "(messages[0], messages[1], messages[2])",
                "-messages[0]: text \"ho\"",
                "+messages[0]: text \"hi\"",
                "-messages[1]: binary AQIE (3 bytes)",
                "+messages[1]: binary AQID (3 bytes)",
                "-messages[2]: text \"more\"",
                "+messages[2]: (absent)",
            ],
        ),
        case(
            "messages-upgrade-refused",
            request(
                ", path: /ws-not, protocol: websocket, messages: [{text: hi}]",
                "{messages: [{text: hi}]}",
            ),
            &["-upgrade: accepted (101 Switching Protocols)", "+upgrade: refused: the Gateway answered 200"],
        ),
        case(
            "websocket-has-no-echo-report",
            request(", path: /ws, protocol: websocket", "{status: 101, request: {proto: HTTP/1.1}}"),
            &["+request.proto: (a WebSocket session: the backend sends no echo report)"],
        ),
        // apply, expectError, delete, advance
        case(
            "apply-refused",
            "- apply: |\n    apiVersion: v1\n    kind: ConfigMap\n    metadata: {name: c, namespace: nowhere}\n".to_string(),
            &["refused: ", "namespaces \\\"nowhere\\\" not found"],
        ),
        case(
            "expect-error",
            "- apply: |\n    apiVersion: v1\n    kind: ConfigMap\n    metadata: {name: c, namespace: nowhere}\n  expectError: not found\n".to_string(),
            &[],
        ),
        case(
            "expect-error-empty-text",
            "- apply: |\n    apiVersion: v1\n    kind: ConfigMap\n    metadata: {name: c, namespace: nowhere}\n  expectError: \"\"\n".to_string(),
            &[],
        ),
        case(
            "expect-error-wrong-text",
            "- apply: |\n    apiVersion: v1\n    kind: ConfigMap\n    metadata: {name: c, namespace: nowhere}\n  expectError: Forbidden\n".to_string(),
            &["no refusal contains \\\"Forbidden\\\"", "+refusal: "],
        ),
        case(
            "expect-error-nothing-refused",
            "- apply: |\n    apiVersion: v1\n    kind: ConfigMap\n    metadata: {name: c}\n  expectError: invalid\n".to_string(),
            &["expected a refusal, but every document was accepted", "+refusal: (no document was refused)"],
        ),
        case(
            "delete",
            "- delete: {kind: HTTPRoute, name: keys, namespace: gateway-conformance-infra}\n".to_string() + &request("", "{status: 404}"),
            &[],
        ),
        case(
            "delete-missing",
            "- delete: {kind: HTTPRoute, name: nope, namespace: gateway-conformance-infra}\n".to_string(),
            &["httproutes.gateway.networking.k8s.io \\\"nope\\\" not found"],
        ),
        // gwsim addition: addressList (status.addresses exactly)
        case("address-list", static_gateway() + &status_step(&format!("{STATIC}    addressList: [{{type: IPAddress, value: 10.9.8.7}}]\n")), &[]),
        case("address-list-type-defaults", static_gateway() + &status_step(&format!("{STATIC}    addressList: [{{value: 10.9.8.7}}]\n")), &[]),
        case(
            "address-list-wrong",
            static_gateway() + &status_step(&format!("{STATIC}    addressList: [{{value: 10.9.8.6}}, {{type: Hostname, value: 10.9.8.7}}]\n")),
            &["-  addressList: IPAddress 10.9.8.6, Hostname 10.9.8.7", "+  addressList: IPAddress 10.9.8.7"],
        ),
        case(
            "address-list-empty",
            static_gateway() + &status_step(&format!("{STATIC}    addressList: []\n")),
            &["-  addressList: (none)", "+  addressList: IPAddress 10.9.8.7"],
        ),
        // gwsim addition: infrastructure (objects generated for a Gateway)
        case(
            "infrastructure-none",
            infra_gateway("        parametersRef: {group: example.com, kind: Params, name: p}\n") + &status_step(&format!("{INFRA}    infrastructure: {{labels: {{a: b}}}}\n")),
            &["+  infrastructure: (none: nothing generated for this Gateway)"],
        ),
        case("infrastructure", infra_gateway("") + &status_step(&format!("{INFRA}    infrastructure: {{labels: {{a: b}}, annotations: {{n: v}}}}\n")), &[]),
        case(
            "infrastructure-wrong",
            infra_gateway("") + &status_step(&format!("{INFRA}    infrastructure: {{labels: {{a: c}}, annotations: {{m: v}}}}\n")),
            &["-  infrastructure.Pod/infra-gateway-conformance-", ".labels.a: c", "+  infrastructure.Service/infra-gateway-conformance.annotations.m: (absent)"],
        ),
        // gwsim addition: request.clientCertificate names a Secret the client reads first
        case(
            "client-certificate",
            "- request: {gateway: gateway-conformance-infra/same-namespace-with-https-listener, scheme: https, host: a.example, clientCertificate: {name: c, namespace: gateway-conformance-infra}}\n  expect: {status: 200}\n".to_string(),
            &["request.clientCertificate gateway-conformance-infra/c: Secret not found"],
        ),
        // gwsim addition: gRPC calls (request.grpc, expect.grpcStatus, expect.grpc)
        case(
            "grpc",
            grpc_steps(
                "Echo",
                "",
                &format!("{{grpcStatus: OK, status: 200, backend: grpc-infra-backend-v1, namespace: gateway-conformance-infra, grpc: {{method: /{GRPC_SERVICE}/Echo, authority: a.example, headers: {{version: one, content-type: application/grpc}}, absentHeaders: [te, x]}}}}"),
            ),
            &[],
        ),
        case(
            "grpc-status-wrong",
            grpc_steps("Echo", "", "{grpcStatus: UNIMPLEMENTED}"),
            &["-grpcStatus: UNIMPLEMENTED (12)", "+grpcStatus: OK (0)"],
        ),
        // No rule matches: the Gateway's 404 reads UNIMPLEMENTED.
        case("grpc-unrouted", grpc_steps("EchoTwo", "", "{grpcStatus: Unimplemented, status: 404}"), &[]),
        case(
            "grpc-unrouted-is-not-ok",
            grpc_steps("EchoTwo", "", "{grpcStatus: OK}"),
            &["-grpcStatus: OK (0)", "+grpcStatus: UNIMPLEMENTED (12): HTTP status 404 instead of a gRPC answer"],
        ),
        // The backend's own UNIMPLEMENTED, with its message; no report comes back.
        case(
            "grpc-backend-unimplemented",
            grpc_steps("EchoThree", "", "{grpcStatus: OK, backend: grpc-infra-backend-v2}"),
            &["+grpcStatus: UNIMPLEMENTED (12): method EchoThree not implemented", "+backend: (answered by the gateway, no backend)"],
        ),
        case(
            "grpc-backend-wrong",
            grpc_steps("Echo", "", "{backend: grpc-infra-backend-v2}"),
            &["-backend: grpc-infra-backend-v2", "+backend: grpc-infra-backend-v1 (pod grpc-infra-backend-v1-"],
        ),
        case(
            "grpc-report-wrong",
            grpc_steps("Echo", "", &format!("{{grpc: {{method: /{GRPC_SERVICE}/EchoTwo, authority: b.example, headers: {{version: two}}, absentHeaders: [version]}}}}")),
            &[
                "-grpc.method: /gateway_api_conformance.echo_basic.grpcecho.GrpcEcho/EchoTwo",
                "+grpc.authority: a.example",
                "+grpc.headers.version: one",
            ],
        ),
        // An HTTP echo's JSON answer is no gRPC answer: UNKNOWN.
        case(
            "grpc-to-an-http-echo",
            "- request: {gateway: gateway-conformance-infra/same-namespace, grpc: {service: other.Svc, method: M}}\n  expect: {grpcStatus: UNKNOWN, status: 200}\n".to_string(),
            &[],
        ),
        case(
            "grpc-distribution",
            grpc_steps("Echo", ", count: 20", "{distribution: {grpc-infra-backend-v1: 1}}"),
            &[],
        ),
        case(
            "grpc-distribution-wrong",
            grpc_steps("Echo", ", count: 20", "{distribution: {grpc-infra-backend-v2: 1}}"),
            &["+distribution.grpc-infra-backend-v1: 1.000 (20 of 20)"],
        ),
        // Requests from a pod through the mesh (request.from).
        case(
            "mesh-no-route",
            format!("- request: {{from: {}, host: echo}}\n  expect: {{status: 200, namespace: {MESH_NS}}}\n", mesh_from(MESH_NS)),
            &[],
        ),
        case(
            "mesh-route",
            mesh_steps(MESH_NS, "echo", "80", MESH_NS, "echo", "", "{status: 200, backend: echo-v1, headers: {X-Mesh: \"yes\"}}"),
            &[],
        ),
        case(
            "mesh-backend-wrong",
            mesh_steps(MESH_NS, "echo", "80", MESH_NS, "echo", "", "{backend: echo-v2}"),
            &["-backend: echo-v2", "+backend: echo, echo-v1 (pod echo-v1-", "listener: port 80, producer routes"],
        ),
        case(
            "mesh-consumer-route-from-elsewhere",
            mesh_steps("gateway-conformance-mesh-consumer", "echo", "", MESH_NS, "echo", "", "{headers: {X-Mesh: \"yes\"}}"),
            &["-headers.X-Mesh: yes", "forwarded to Service gateway-conformance-mesh/echo:80 itself"],
        ),
        case(
            "mesh-consumer-route-at-home",
            mesh_steps("gateway-conformance-mesh-consumer", "echo", "", "gateway-conformance-mesh-consumer", "echo.gateway-conformance-mesh", "", "{headers: {X-Mesh: \"yes\"}, backend: echo-v1}"),
            &[],
        ),
        case(
            "mesh-other-port",
            mesh_steps(MESH_NS, "echo", "80", MESH_NS, "echo:8080", "", "{headers: {X-Mesh: \"yes\"}}"),
            &["-headers.X-Mesh: yes"],
        ),
        case(
            "mesh-host-header-is-not-the-destination",
            mesh_steps(MESH_NS, "echo-v2", "", MESH_NS, "echo-v1", ", headers: {Host: echo-v2}", "{headers: {X-Mesh: \"yes\"}}"),
            &["-headers.X-Mesh: yes", " request.host (as sent): echo-v2", "gateway: Service gateway-conformance-mesh/echo-v1 (mesh"],
        ),
        case(
            "mesh-no-pod",
            "- request: {from: {namespace: gateway-conformance-mesh, labels: {app: nothing}}, host: echo}\n  expect: {status: 200}\n".to_string(),
            &["request.from: no pod, looking for the first pod of gateway-conformance-mesh with app=nothing"],
        ),
        case(
            "mesh-to-a-pod-bypasses-routes",
            mesh_steps(MESH_NS, "echo-v2", "", MESH_NS, "unused", "", "{status: 200}").replace(
                "host: \"unused\"",
                "toPod: {namespace: gateway-conformance-mesh, labels: {app: echo, version: v2}, port: 8080}",
            ).replace("{status: 200}", "{backend: echo-v2, headers: {X-Mesh: \"yes\"}}"),
            &["-headers.X-Mesh: yes", "no Service, so no mesh route applies (GEP-1294)"],
        ),
        case(
            "mesh-to-a-missing-pod",
            format!("- request: {{from: {}, toPod: {{namespace: {MESH_NS}, labels: {{app: nothing}}, port: 8080}}}}\n  expect: {{status: 200}}\n", mesh_from(MESH_NS)),
            &["request.toPod: no pod, looking for the first pod of gateway-conformance-mesh with app=nothing"],
        ),
        case(
            "mesh-pod-by-name-missing",
            "- request: {from: {namespace: gateway-conformance-mesh, name: echo-v1}, host: echo}\n  expect: {status: 200}\n".to_string(),
            &["request.from: no pod gateway-conformance-mesh/echo-v1"],
        ),
        case(
            "mesh-unknown-service",
            format!("- request: {{from: {}, host: nothing}}\n  expect: {{status: 200}}\n", mesh_from(MESH_NS)),
            &["no Service gateway-conformance-mesh/nothing: the name does not resolve"],
        ),
        case(
            "mesh-unknown-port",
            format!("- request: {{from: {}, host: \"echo:9999\"}}\n  expect: {{status: 200}}\n", mesh_from(MESH_NS)),
            &["Service gateway-conformance-mesh/echo has no port 9999 (ports: 80, 8080, 7070)"],
        ),
        case(
            "mesh-not-a-service-name",
            format!("- request: {{from: {}, host: www.example.com}}\n  expect: {{status: 200}}\n", mesh_from(MESH_NS)),
            &["www.example.com: not a Service name"],
        ),
        case("advance", "- advance: 1m\n".to_string() + &request("", "{status: 200}"), &[]),
        case(
            "first-failure-stops",
            "- advance: 1s\n".to_string() + &request("", "{status: 500}") + "- advance: 1s\n- advance: 2s\n",
            &["step 2 (line", "steps 3 to 4 not run"],
        ),
    ]
}

fn scenario_text(c: &Case) -> String {
    format!(
        "name: {}\nfeatures: [Gateway, HTTPRoute]\nbase: conformance\n{MANIFESTS}steps:\n{}",
        c.name, c.steps
    )
}

fn run(text: &str, name: &str) -> (bool, String) {
    let source = Source {
        name: format!("{name}.yaml"),
        path: PathBuf::from(format!("{name}.yaml")),
        text: text.to_string(),
    };
    let scenario = load_scenario(&source).unwrap_or_else(|e| panic!("{name}: {e}\n{text}"));
    let report = run_scenarios(&[scenario], &RunOptions::default()).expect("runs");
    let text = format!("{}\n{}", report.render_text(), report.render_json());
    (report.summary.passed == 1, text)
}

#[test]
fn every_key_checks_what_it_says() {
    let mut problems = Vec::new();
    for c in cases() {
        let (passed, report) = run(&scenario_text(&c), c.name);
        if c.fails_with.is_empty() {
            if !passed {
                problems.push(format!("{}: should pass:\n{report}", c.name));
            }
            continue;
        }
        if passed {
            problems.push(format!("{}: should fail", c.name));
            continue;
        }
        for needle in c.fails_with {
            if !report.contains(needle) {
                problems.push(format!("{}: report lacks {needle:?}:\n{report}", c.name));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn manifests_refused_fail_the_scenario() {
    let text = "name: bad-manifest\nmanifests:\n- |\n  apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: c, namespace: nowhere}\n";
    let (passed, report) = run(text, "bad-manifest");
    assert!(!passed);
    assert!(report.contains("\"label\": \"manifests\""), "{report}");
    assert!(report.contains("a manifest was refused"), "{report}");
}

#[test]
fn unsupported_features_skip_and_name_the_feature() {
    // Features gwsim does not claim: the scenario is skipped, naming them (sorted).
    let text = "name: needs-more\nbase: conformance\nfeatures: [HTTPRoute, UnclaimedFeatureB, UnclaimedFeatureA]\nsteps:\n- advance: 1s\n";
    let source = Source {
        name: "s.yaml".into(),
        path: PathBuf::from("s.yaml"),
        text: text.into(),
    };
    let scenario = load_scenario(&source).expect("loads");
    let report = run_scenarios(&[scenario], &RunOptions::default()).expect("runs");
    assert_eq!(report.summary.skipped, 1);
    assert_eq!(report.exit_code(), 0, "skipped is not a failure");
    let text = report.render_text();
    assert!(
        text.contains(
            "skipped  needs-more (unsupported features: UnclaimedFeatureA, UnclaimedFeatureB)"
        ),
        "{text}"
    );
    assert!(text.ends_with("0 passed, 0 failed, 1 skipped\n"), "{text}");

    // Without a GatewayClass of this controller, nothing is supported.
    let text = "name: no-class\nfeatures: [HTTPRoute]\n";
    let (passed, report) = run(text, "no-class");
    assert!(!passed);
    assert!(
        report.contains("\"missing_features\": [\n        \"HTTPRoute\""),
        "{report}"
    );
}

#[test]
fn without_a_base_there_is_no_gateway() {
    let text = "name: empty\nsteps:\n- request: {path: /}\n  expect: {status: 404}\n";
    let (passed, report) = run(text, "empty");
    assert!(!passed);
    assert!(
        report.contains("no Gateway to send the request to"),
        "{report}"
    );
}

#[test]
fn exit_codes_and_summary_line() {
    let dir = std::env::temp_dir().join(format!("gwsim-contract-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let good = dir.join("a-good.yaml");
    let bad = dir.join("b-bad.yaml");
    std::fs::write(&good, "name: good\nsteps:\n- advance: 1s\n").expect("write");
    std::fs::write(
        &bad,
        "name: bad\nsteps:\n- delete: {kind: ConfigMap, name: x}\n",
    )
    .expect("write");
    let options = RunOptions::default();

    let report = gwsim_sim::run_paths(std::slice::from_ref(&good), &options).expect("loads");
    assert_eq!(report.exit_code(), 0);
    let report = gwsim_sim::run_paths(std::slice::from_ref(&dir), &options).expect("loads");
    assert_eq!(report.exit_code(), 1);
    let text = report.render_text();
    assert!(text.starts_with("ok       good\nFAILED   bad ("), "{text}");
    assert!(text.ends_with("1 passed, 1 failed, 0 skipped\n"), "{text}");

    let filtered = gwsim_sim::run_paths(
        std::slice::from_ref(&dir),
        &RunOptions {
            filter: Some("goo".into()),
            ..RunOptions::default()
        },
    )
    .expect("loads");
    assert_eq!(
        filtered.render_text(),
        "ok       good\n1 passed, 0 failed, 0 skipped\n"
    );

    std::fs::write(&bad, "name: bad\nsteps:\n- advance: 1s\n  typo: 1\n").expect("write");
    let err = gwsim_sim::run_paths(std::slice::from_ref(&dir), &options).expect_err("parse error");
    assert_eq!(err.exit_code(), 2);
    let message = err.to_string();
    assert!(
        message.contains("b-bad.yaml:4:3: unknown field `typo`"),
        "{message}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `fillEndpoints` (gwsim addition) writes the selected pods' addresses of the slice's family
/// into a hand-made slice; before it, the selector-less Service has no endpoints (503).
#[test]
fn fill_endpoints_feeds_a_selectorless_service() {
    let manifests = r#"
manifests:
- |
  apiVersion: v1
  kind: Service
  metadata: {name: manual, namespace: gateway-conformance-infra}
  spec:
    ports: [{name: http, port: 8080, targetPort: 3000}]
- |
  apiVersion: discovery.k8s.io/v1
  kind: EndpointSlice
  metadata:
    name: manual-v6
    namespace: gateway-conformance-infra
    labels: {kubernetes.io/service-name: manual}
  addressType: IPv6
  ports: [{name: http, port: 3000}]
  endpoints: []
- |
  apiVersion: gateway.networking.k8s.io/v1
  kind: HTTPRoute
  metadata: {name: manual, namespace: gateway-conformance-infra}
  spec:
    parentRefs: [{name: same-namespace}]
    rules: [{backendRefs: [{name: manual, port: 8080}]}]
"#;
    let ask = |status: u16| {
        format!(
            "- request: {{gateway: gateway-conformance-infra/same-namespace, path: /}}\n  expect: {{status: {status}}}\n"
        )
    };
    let fill = |slice: &str, app: &str| {
        format!(
            "- fillEndpoints: {{namespace: gateway-conformance-infra, endpointSlice: {slice}, podSelector: {{app: {app}}}}}\n"
        )
    };
    let base = "name: fill\nbase: conformance\n";
    let text = format!(
        "{base}{manifests}steps:\n{}{}{}",
        ask(503),
        fill("manual-v6", "infra-backend-v2"),
        "- request: {gateway: gateway-conformance-infra/same-namespace, path: /}\n  expect: {status: 200, backend: infra-backend-v2}\n"
    );
    let (passed, report) = run(&text, "fill");
    assert!(passed, "{report}");

    // A slice that does not exist, and a selector that picks nothing, fail the step.
    let missing = format!(
        "{base}{manifests}steps:\n{}",
        fill("nope", "infra-backend-v2")
    );
    let (passed, report) = run(&missing, "fill-missing");
    assert!(!passed);
    assert!(
        report.contains("EndpointSlice gateway-conformance-infra/nope does not exist"),
        "{report}"
    );
    let nobody = format!("{base}{manifests}steps:\n{}", fill("manual-v6", "nobody"));
    let (passed, report) = run(&nobody, "fill-nobody");
    assert!(!passed);
    assert!(report.contains("no ready pod"), "{report}");
}

/// `network.addresses` (gwsim addition) decides which static addresses are usable: the
/// conformance scenario passes with it, and fails without it (the unusable address is then
/// usable, so the Gateway is programmed where it must not be) or with a network that leaves
/// out the usable address.
#[test]
fn the_declared_network_decides_static_addresses() {
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../testdata/conformance/gateway-static-addresses.yaml"),
    )
    .expect("the scenario");
    let claimed = text.replace(
        "features: [Gateway, GatewayStaticAddresses]",
        "features: [Gateway]",
    );
    let (passed, report) = run(&claimed, "static");
    assert!(passed, "{report}");
    let open = claimed.replace("network:\n  addresses: [198.51.100.0/24]\n", "");
    assert_ne!(open, claimed);
    let (passed, report) = run(&open, "open");
    assert!(!passed);
    assert!(
        report.contains("+  conditions[Programmed]: status=True reason=Programmed"),
        "{report}"
    );
    let elsewhere = claimed.replace("[198.51.100.0/24]", "[192.0.2.0/24]");
    let (passed, report) = run(&elsewhere, "elsewhere");
    assert!(!passed);
    assert!(report.contains("AddressNotUsable"), "{report}");
    assert!(report.contains("step 5"), "{report}");

    for (bad, why) in [
        (
            "[198.51.100.10/24]",
            "network.addresses: \"198.51.100.10/24\": the address has bits set past the prefix; the range is 198.51.100.0/24",
        ),
        ("[]", "network.addresses: lists no address range"),
        ("[example.com]", "\"example.com\" is not an address range"),
    ] {
        let source = Source {
            name: "bad.yaml".into(),
            path: PathBuf::from("bad.yaml"),
            text: claimed.replace("[198.51.100.0/24]", bad),
        };
        let err = load_scenario(&source).expect_err(bad).to_string();
        assert!(err.contains(why), "{bad}: {err}");
        assert!(err.starts_with("bad.yaml:"), "{err}");
    }
}

/// The GatewayInfrastructure scenario passes because gwsim generates labelled objects, and
/// fails when the Gateway's spec.infrastructure lacks a label or annotation it checks.
#[test]
fn generated_objects_carry_the_infrastructure_metadata() {
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../testdata/conformance/gateway-infrastructure.yaml"),
    )
    .expect("the scenario");
    let (passed, report) = run(&text, "infrastructure");
    assert!(passed, "{report}");
    let no_label = text.replacen(
        "          gwsim-infra-label: infra-label-value\n",
        "          other: value\n",
        1,
    );
    assert_ne!(no_label, text);
    let (passed, report) = run(&no_label, "no-label");
    assert!(!passed);
    assert!(
        report.contains("+  infrastructure.Pod/infrastructure-metadata-gateway-conformance-"),
        "{report}"
    );
    assert!(
        report.contains(".labels.gwsim-infra-label: (absent)"),
        "{report}"
    );
    let no_annotation = text.replacen(
        "          gwsim-infra-annotation: infra-annotation-value\n",
        "",
        1,
    );
    assert_ne!(no_annotation, text);
    let (passed, report) = run(&no_annotation, "no-annotation");
    assert!(!passed);
    assert!(report.contains("+  infrastructure.Service/infrastructure-metadata-gateway-conformance.annotations.gwsim-infra-annotation: (absent)"), "{report}");
}
