//! HTTPRoute: every limit, pattern, enum, required field, list-type and CEL rule, each with a
//! rejected row and an accepted neighbour; and the exact defaulted output.

use serde_json::{Value, json};

use super::{Case, accept, bad, http_route, many, ok, run, with};

/// The route with rule 0 replaced by `rule` (no backends unless the rule has some).
fn rule(rule: Value) -> Value {
    with(http_route(), &[("/spec/rules", json!([rule]))])
}

/// The route whose rule 0 has one match `m`.
fn one_match(m: Value) -> Value {
    rule(json!({"matches": [m], "backendRefs": [{"name": "svc", "port": 80}]}))
}

/// The route whose rule 0 (no backends) has these filters.
fn filters(filters: Value) -> Value {
    rule(json!({"filters": filters}))
}

/// One filter of `type_` with its member set to `body`.
fn filter(type_: &str, member: &str, body: Value) -> Value {
    filters(json!([{ "type": type_, member: body }]))
}

const R0: &str = "spec.rules[0]";

#[test]
fn schema_limits_patterns_and_enums() {
    let hosts = |n| many(n, |i| json!(format!("h{i}.example.com")));
    let long_host = format!("{}.com", "a".repeat(250));
    let cases: Vec<Case> = vec![
        // spec.hostnames: max 16, Hostname pattern and length.
        bad(
            "17 hostnames",
            with(http_route(), &[("/spec/hostnames", hosts(17))]),
            "spec.hostnames",
            "Too many: 17: must have at most 16 items",
        ),
        ok(
            "16 hostnames",
            with(http_route(), &[("/spec/hostnames", hosts(16))]),
        ),
        bad(
            "uppercase hostname",
            with(
                http_route(),
                &[("/spec/hostnames", json!(["Foo.example.com"]))],
            ),
            "spec.hostnames[0]",
            "spec.hostnames[0] in body should match '^(\\*\\.)?[a-z0-9]",
        ),
        ok(
            "wildcard hostname",
            with(
                http_route(),
                &[("/spec/hostnames", json!(["*.example.com"]))],
            ),
        ),
        bad(
            "hostname too long",
            with(http_route(), &[("/spec/hostnames", json!([long_host]))]),
            "spec.hostnames[0]",
            "Too long: may not be more than 253 bytes",
        ),
        bad(
            "empty hostname",
            with(http_route(), &[("/spec/hostnames", json!([""]))]),
            "spec.hostnames[0]",
            "should be at least 1 chars long",
        ),
        // spec.parentRefs: max 32, name required, namespace/group/kind/port/sectionName.
        bad(
            "33 parentRefs",
            with(
                http_route(),
                &[(
                    "/spec/parentRefs",
                    many(33, |i| json!({"name": format!("gw{i}")})),
                )],
            ),
            "spec.parentRefs",
            "Too many: 33: must have at most 32 items",
        ),
        ok(
            "32 parentRefs",
            with(
                http_route(),
                &[(
                    "/spec/parentRefs",
                    many(32, |i| json!({"name": format!("gw{i}")})),
                )],
            ),
        ),
        bad(
            "parentRef without name",
            with(
                http_route(),
                &[("/spec/parentRefs", json!([{"kind": "Gateway"}]))],
            ),
            "spec.parentRefs[0].name",
            "Required value",
        ),
        bad(
            "parentRef bad namespace",
            with(
                http_route(),
                &[("/spec/parentRefs/0/namespace", json!("Bad_NS"))],
            ),
            "spec.parentRefs[0].namespace",
            "should match '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'",
        ),
        bad(
            "parentRef namespace too long",
            with(
                http_route(),
                &[("/spec/parentRefs/0/namespace", json!("a".repeat(64)))],
            ),
            "spec.parentRefs[0].namespace",
            "Too long: may not be more than 63 bytes",
        ),
        ok(
            "parentRef other namespace",
            with(
                http_route(),
                &[("/spec/parentRefs/0/namespace", json!("infra"))],
            ),
        ),
        bad(
            "parentRef bad group",
            with(http_route(), &[("/spec/parentRefs/0/group", json!("a/b"))]),
            "spec.parentRefs[0].group",
            "should match",
        ),
        ok(
            "parentRef core group",
            with(
                http_route(),
                &[
                    ("/spec/parentRefs/0/group", json!("")),
                    ("/spec/parentRefs/0/kind", json!("Service")),
                ],
            ),
        ),
        bad(
            "parentRef bad kind",
            with(http_route(), &[("/spec/parentRefs/0/kind", json!("*"))]),
            "spec.parentRefs[0].kind",
            "should match '^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$'",
        ),
        bad(
            "parentRef port too big",
            with(http_route(), &[("/spec/parentRefs/0/port", json!(65536))]),
            "spec.parentRefs[0].port",
            "Invalid value: 65536: spec.parentRefs[0].port in body should be less than or equal to 65535",
        ),
        bad(
            "parentRef port zero",
            with(http_route(), &[("/spec/parentRefs/0/port", json!(0))]),
            "spec.parentRefs[0].port",
            "should be greater than or equal to 1",
        ),
        ok(
            "parentRef port",
            with(http_route(), &[("/spec/parentRefs/0/port", json!(8080))]),
        ),
        bad(
            "parentRef bad sectionName",
            with(
                http_route(),
                &[("/spec/parentRefs/0/sectionName", json!("bad>"))],
            ),
            "spec.parentRefs[0].sectionName",
            "should match",
        ),
        ok(
            "parentRef sectionName",
            with(
                http_route(),
                &[("/spec/parentRefs/0/sectionName", json!("http"))],
            ),
        ),
        // spec.rules: 1-16, rule name pattern.
        bad(
            "no rules",
            with(http_route(), &[("/spec/rules", json!([]))]),
            "spec.rules",
            "Invalid value: 0: spec.rules in body should have at least 1 items",
        ),
        bad(
            "17 rules",
            with(http_route(), &[("/spec/rules", many(17, |_| json!({})))]),
            "spec.rules",
            "Too many: 17: must have at most 16 items",
        ),
        ok(
            "16 rules",
            with(http_route(), &[("/spec/rules", many(16, |_| json!({})))]),
        ),
        bad(
            "bad rule name",
            rule(json!({"name": "Rule_1"})),
            "spec.rules[0].name",
            "should match",
        ),
        ok("rule name", rule(json!({"name": "rule-1"}))),
        // matches: max 64; path, headers, queryParams, method.
        bad(
            "65 matches",
            rule(json!({"matches": many(65, |i| json!({"path": {"value": format!("/p{i}")}}))})),
            "spec.rules[0].matches",
            "Too many: 65: must have at most 64 items",
        ),
        ok(
            "64 matches",
            rule(json!({"matches": many(64, |i| json!({"path": {"value": format!("/p{i}")}}))})),
        ),
        bad(
            "path type enum",
            one_match(json!({"path": {"type": "Prefix", "value": "/"}})),
            "spec.rules[0].matches[0].path.type",
            "Unsupported value: \"Prefix\": supported values: \"Exact\", \"PathPrefix\", \"RegularExpression\"",
        ),
        ok(
            "regex path",
            one_match(json!({"path": {"type": "RegularExpression", "value": "/a.*"}})),
        ),
        bad(
            "path value too long",
            one_match(json!({"path": {"value": format!("/{}", "a".repeat(1024))}})),
            "spec.rules[0].matches[0].path.value",
            "Too long: may not be more than 1024 bytes",
        ),
        bad(
            "17 header matches",
            one_match(
                json!({"headers": many(17, |i| json!({"name": format!("h{i}"), "value": "v"}))}),
            ),
            "spec.rules[0].matches[0].headers",
            "Too many: 17",
        ),
        ok(
            "16 header matches",
            one_match(
                json!({"headers": many(16, |i| json!({"name": format!("h{i}"), "value": "v"}))}),
            ),
        ),
        bad(
            "header match without name",
            one_match(json!({"headers": [{"value": "v"}]})),
            "spec.rules[0].matches[0].headers[0].name",
            "Required value",
        ),
        bad(
            "header match without value",
            one_match(json!({"headers": [{"name": "a"}]})),
            "spec.rules[0].matches[0].headers[0].value",
            "Required value",
        ),
        bad(
            "header name with slash",
            one_match(json!({"headers": [{"name": "x/y", "value": "v"}]})),
            "spec.rules[0].matches[0].headers[0].name",
            "should match '^[A-Za-z0-9!#$%&'*+\\-.^_\\x60|~]+$'",
        ),
        bad(
            "header name too long",
            one_match(json!({"headers": [{"name": "h".repeat(257), "value": "v"}]})),
            "spec.rules[0].matches[0].headers[0].name",
            "Too long: may not be more than 256 bytes",
        ),
        bad(
            "header type enum",
            one_match(json!({"headers": [{"name": "a", "value": "v", "type": "Prefix"}]})),
            "spec.rules[0].matches[0].headers[0].type",
            "Unsupported value: \"Prefix\"",
        ),
        bad(
            "empty header value",
            one_match(json!({"headers": [{"name": "a", "value": ""}]})),
            "spec.rules[0].matches[0].headers[0].value",
            "should be at least 1 chars long",
        ),
        bad(
            "header value too long",
            one_match(json!({"headers": [{"name": "a", "value": "v".repeat(4097)}]})),
            "spec.rules[0].matches[0].headers[0].value",
            "Too long: may not be more than 4096 bytes",
        ),
        bad(
            "header value with CRLF (experimental)",
            one_match(json!({"headers": [{"name": "a", "value": "v\r\nx: y"}]})),
            "spec.rules[0].matches[0].headers[0].value",
            "should match '^[!-~]+([\\t ]?[!-~]+)*$'",
        ),
        ok(
            "header value with a space",
            one_match(json!({"headers": [{"name": "a", "value": "v w"}]})),
        ),
        bad(
            "duplicate header match",
            one_match(
                json!({"headers": [{"name": "a", "value": "1"}, {"name": "a", "value": "2"}]}),
            ),
            "spec.rules[0].matches[0].headers[1]",
            "Duplicate value: {\"name\":\"a\"}",
        ),
        ok(
            "header names differing in case",
            one_match(
                json!({"headers": [{"name": "a", "value": "1"}, {"name": "A", "value": "2"}]}),
            ),
        ),
        bad(
            "duplicate query match",
            one_match(
                json!({"queryParams": [{"name": "q", "value": "1"}, {"name": "q", "value": "2"}]}),
            ),
            "spec.rules[0].matches[0].queryParams[1]",
            "Duplicate value",
        ),
        ok(
            "two query matches",
            one_match(
                json!({"queryParams": [{"name": "q", "value": "1"}, {"name": "r", "value": "2"}]}),
            ),
        ),
        bad(
            "17 query matches",
            one_match(
                json!({"queryParams": many(17, |i| json!({"name": format!("q{i}"), "value": "v"}))}),
            ),
            "spec.rules[0].matches[0].queryParams",
            "Too many: 17",
        ),
        bad(
            "query value too long",
            one_match(json!({"queryParams": [{"name": "q", "value": "v".repeat(1025)}]})),
            "spec.rules[0].matches[0].queryParams[0].value",
            "Too long: may not be more than 1024 bytes",
        ),
        bad(
            "query name pattern",
            one_match(json!({"queryParams": [{"name": "q q", "value": "v"}]})),
            "spec.rules[0].matches[0].queryParams[0].name",
            "should match",
        ),
        bad(
            "query type enum",
            one_match(json!({"queryParams": [{"name": "q", "value": "v", "type": "Glob"}]})),
            "spec.rules[0].matches[0].queryParams[0].type",
            "Unsupported value",
        ),
        bad(
            "unknown method",
            one_match(json!({"method": "FETCH"})),
            "spec.rules[0].matches[0].method",
            "Unsupported value: \"FETCH\": supported values: \"GET\", \"HEAD\", \"POST\", \"PUT\", \"DELETE\", \"CONNECT\", \"OPTIONS\", \"TRACE\", \"PATCH\"",
        ),
        ok("method", one_match(json!({"method": "PATCH"}))),
        // filters: max 16, type required and enumerated.
        bad(
            "17 filters",
            filters(many(
                17,
                |i| json!({"type": "ExtensionRef", "extensionRef": {"group": "x.io", "kind": "F", "name": format!("f{i}")}}),
            )),
            "spec.rules[0].filters",
            "Too many: 17",
        ),
        ok(
            "16 filters",
            filters(many(
                16,
                |i| json!({"type": "ExtensionRef", "extensionRef": {"group": "x.io", "kind": "F", "name": format!("f{i}")}}),
            )),
        ),
        bad(
            "filter without type",
            filters(json!([{"requestHeaderModifier": {"set": [{"name": "a", "value": "b"}]}}])),
            "spec.rules[0].filters[0].type",
            "Required value",
        ),
        bad(
            "filter type enum",
            filters(json!([{"type": "RateLimit"}])),
            "spec.rules[0].filters[0].type",
            "Unsupported value: \"RateLimit\"",
        ),
        // header modifiers.
        bad(
            "17 set headers",
            filter(
                "RequestHeaderModifier",
                "requestHeaderModifier",
                json!({"set": many(17, |i| json!({"name": format!("h{i}"), "value": "v"}))}),
            ),
            "spec.rules[0].filters[0].requestHeaderModifier.set",
            "Too many: 17",
        ),
        bad(
            "duplicate add header",
            filter(
                "ResponseHeaderModifier",
                "responseHeaderModifier",
                json!({"add": [{"name": "a", "value": "1"}, {"name": "a", "value": "2"}]}),
            ),
            "spec.rules[0].filters[0].responseHeaderModifier.add[1]",
            "Duplicate value",
        ),
        bad(
            "duplicate remove header",
            filter(
                "RequestHeaderModifier",
                "requestHeaderModifier",
                json!({"remove": ["x-a", "x-a"]}),
            ),
            "spec.rules[0].filters[0].requestHeaderModifier.remove[1]",
            "Duplicate value: \"x-a\"",
        ),
        ok(
            "remove headers",
            filter(
                "RequestHeaderModifier",
                "requestHeaderModifier",
                json!({"remove": ["x-a", "x-b"]}),
            ),
        ),
        bad(
            "17 remove headers",
            filter(
                "RequestHeaderModifier",
                "requestHeaderModifier",
                json!({"remove": many(17, |i| json!(format!("x-{i}")))}),
            ),
            "spec.rules[0].filters[0].requestHeaderModifier.remove",
            "Too many: 17",
        ),
        bad(
            "modifier value with LF",
            filter(
                "RequestHeaderModifier",
                "requestHeaderModifier",
                json!({"set": [{"name": "a", "value": "x\ny"}]}),
            ),
            "spec.rules[0].filters[0].requestHeaderModifier.set[0].value",
            "should match",
        ),
        // requestRedirect.
        bad(
            "redirect scheme enum",
            filter(
                "RequestRedirect",
                "requestRedirect",
                json!({"scheme": "ftp"}),
            ),
            "spec.rules[0].filters[0].requestRedirect.scheme",
            "Unsupported value: \"ftp\": supported values: \"http\", \"https\"",
        ),
        ok(
            "redirect scheme",
            filter(
                "RequestRedirect",
                "requestRedirect",
                json!({"scheme": "https"}),
            ),
        ),
        bad(
            "redirect wildcard hostname",
            filter(
                "RequestRedirect",
                "requestRedirect",
                json!({"hostname": "*.example.com"}),
            ),
            "spec.rules[0].filters[0].requestRedirect.hostname",
            "should match",
        ),
        ok(
            "redirect hostname",
            filter(
                "RequestRedirect",
                "requestRedirect",
                json!({"hostname": "example.com"}),
            ),
        ),
        bad(
            "redirect port",
            filter("RequestRedirect", "requestRedirect", json!({"port": 70000})),
            "spec.rules[0].filters[0].requestRedirect.port",
            "less than or equal to 65535",
        ),
        bad(
            "redirect status code",
            filter(
                "RequestRedirect",
                "requestRedirect",
                json!({"statusCode": 304}),
            ),
            "spec.rules[0].filters[0].requestRedirect.statusCode",
            "Unsupported value: 304: supported values: \"301\", \"302\", \"303\", \"307\", \"308\"",
        ),
        ok(
            "redirect 308",
            filter(
                "RequestRedirect",
                "requestRedirect",
                json!({"statusCode": 308}),
            ),
        ),
        bad(
            "redirect path type",
            filter(
                "RequestRedirect",
                "requestRedirect",
                json!({"path": {"type": "Replace"}}),
            ),
            "spec.rules[0].filters[0].requestRedirect.path.type",
            "Unsupported value",
        ),
        bad(
            "redirect path without type",
            filter(
                "RequestRedirect",
                "requestRedirect",
                json!({"path": {"replaceFullPath": "/x"}}),
            ),
            "spec.rules[0].filters[0].requestRedirect.path.type",
            "Required value",
        ),
        bad(
            "replaceFullPath too long",
            filter(
                "RequestRedirect",
                "requestRedirect",
                json!({"path": {"type": "ReplaceFullPath", "replaceFullPath": "/".repeat(1025)}}),
            ),
            "spec.rules[0].filters[0].requestRedirect.path.replaceFullPath",
            "Too long",
        ),
        // urlRewrite.
        bad(
            "rewrite hostname",
            filter("URLRewrite", "urlRewrite", json!({"hostname": "Bad"})),
            "spec.rules[0].filters[0].urlRewrite.hostname",
            "should match",
        ),
        ok(
            "rewrite hostname",
            filter(
                "URLRewrite",
                "urlRewrite",
                json!({"hostname": "good.example"}),
            ),
        ),
        // requestMirror.
        bad(
            "mirror without backendRef",
            filter("RequestMirror", "requestMirror", json!({"percent": 10})),
            "spec.rules[0].filters[0].requestMirror.backendRef",
            "Required value",
        ),
        bad(
            "mirror percent",
            filter(
                "RequestMirror",
                "requestMirror",
                json!({"backendRef": {"name": "m", "port": 80}, "percent": 101}),
            ),
            "spec.rules[0].filters[0].requestMirror.percent",
            "less than or equal to 100",
        ),
        ok(
            "mirror percent",
            filter(
                "RequestMirror",
                "requestMirror",
                json!({"backendRef": {"name": "m", "port": 80}, "percent": 100}),
            ),
        ),
        bad(
            "mirror negative numerator",
            filter(
                "RequestMirror",
                "requestMirror",
                json!({"backendRef": {"name": "m", "port": 80}, "fraction": {"numerator": -1}}),
            ),
            "spec.rules[0].filters[0].requestMirror.fraction.numerator",
            "greater than or equal to 0",
        ),
        bad(
            "mirror zero denominator",
            filter(
                "RequestMirror",
                "requestMirror",
                json!({"backendRef": {"name": "m", "port": 80}, "fraction": {"numerator": 0, "denominator": 0}}),
            ),
            "spec.rules[0].filters[0].requestMirror.fraction.denominator",
            "greater than or equal to 1",
        ),
        bad(
            "mirror fraction without numerator",
            filter(
                "RequestMirror",
                "requestMirror",
                json!({"backendRef": {"name": "m", "port": 80}, "fraction": {"denominator": 10}}),
            ),
            "spec.rules[0].filters[0].requestMirror.fraction.numerator",
            "Required value",
        ),
        // extensionRef.
        bad(
            "extensionRef without kind",
            filter(
                "ExtensionRef",
                "extensionRef",
                json!({"group": "x.io", "name": "f"}),
            ),
            "spec.rules[0].filters[0].extensionRef.kind",
            "Required value",
        ),
        bad(
            "extensionRef without group",
            filter(
                "ExtensionRef",
                "extensionRef",
                json!({"kind": "F", "name": "f"}),
            ),
            "spec.rules[0].filters[0].extensionRef.group",
            "Required value",
        ),
        ok(
            "extensionRef",
            filter(
                "ExtensionRef",
                "extensionRef",
                json!({"group": "x.io", "kind": "F", "name": "f"}),
            ),
        ),
        // CORS.
        bad(
            "cors origin scheme",
            filter("CORS", "cors", json!({"allowOrigins": ["ftp://a.com"]})),
            "spec.rules[0].filters[0].cors.allowOrigins[0]",
            "should match",
        ),
        ok(
            "cors origins",
            filter(
                "CORS",
                "cors",
                json!({"allowOrigins": ["https://*.a.com", "http://b.com:8080"]}),
            ),
        ),
        bad(
            "cors duplicate origin",
            filter(
                "CORS",
                "cors",
                json!({"allowOrigins": ["https://a.com", "https://a.com"]}),
            ),
            "spec.rules[0].filters[0].cors.allowOrigins[1]",
            "Duplicate value: \"https://a.com\"",
        ),
        bad(
            "cors 65 origins",
            filter(
                "CORS",
                "cors",
                json!({"allowOrigins": many(65, |i| json!(format!("https://o{i}.com")))}),
            ),
            "spec.rules[0].filters[0].cors.allowOrigins",
            "Too many: 65: must have at most 64 items",
        ),
        bad(
            "cors method enum",
            filter("CORS", "cors", json!({"allowMethods": ["GET", "FETCH"]})),
            "spec.rules[0].filters[0].cors.allowMethods[1]",
            "Unsupported value: \"FETCH\"",
        ),
        bad(
            "cors 10 methods",
            filter(
                "CORS",
                "cors",
                json!({"allowMethods": ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "GET"]}),
            ),
            "spec.rules[0].filters[0].cors.allowMethods",
            "Too many: 10: must have at most 9 items",
        ),
        bad(
            "cors header pattern",
            filter("CORS", "cors", json!({"allowHeaders": ["x y"]})),
            "spec.rules[0].filters[0].cors.allowHeaders[0]",
            "should match",
        ),
        bad(
            "cors expose duplicate",
            filter("CORS", "cors", json!({"exposeHeaders": ["a", "a"]})),
            "spec.rules[0].filters[0].cors.exposeHeaders[1]",
            "Duplicate value",
        ),
        bad(
            "cors maxAge",
            filter("CORS", "cors", json!({"maxAge": 0})),
            "spec.rules[0].filters[0].cors.maxAge",
            "greater than or equal to 1",
        ),
        ok(
            "cors maxAge",
            filter(
                "CORS",
                "cors",
                json!({"maxAge": 1, "allowCredentials": true}),
            ),
        ),
        // externalAuth (experimental).
        bad(
            "externalAuth protocol enum",
            filter(
                "ExternalAuth",
                "externalAuth",
                json!({"protocol": "TCP", "backendRef": {"name": "a", "port": 9000}}),
            ),
            "spec.rules[0].filters[0].externalAuth.protocol",
            "Unsupported value",
        ),
        bad(
            "externalAuth without backendRef",
            filter(
                "ExternalAuth",
                "externalAuth",
                json!({"protocol": "HTTP", "http": {}}),
            ),
            "spec.rules[0].filters[0].externalAuth.backendRef",
            "Required value",
        ),
        bad(
            "externalAuth http path",
            filter(
                "ExternalAuth",
                "externalAuth",
                json!({"protocol": "HTTP", "backendRef": {"name": "a", "port": 9000}, "http": {"path": "/a b"}}),
            ),
            "spec.rules[0].filters[0].externalAuth.http.path",
            "should match",
        ),
        ok(
            "externalAuth",
            filter(
                "ExternalAuth",
                "externalAuth",
                json!({"protocol": "HTTP", "backendRef": {"name": "a", "port": 9000}, "http": {"path": "/auth"}}),
            ),
        ),
        // backendRefs: max 16, name, port, weight, group, kind.
        bad(
            "17 backends",
            rule(
                json!({"backendRefs": many(17, |i| json!({"name": format!("s{i}"), "port": 80}))}),
            ),
            "spec.rules[0].backendRefs",
            "Too many: 17",
        ),
        ok(
            "16 backends",
            rule(
                json!({"backendRefs": many(16, |i| json!({"name": format!("s{i}"), "port": 80}))}),
            ),
        ),
        bad(
            "backend without name",
            rule(json!({"backendRefs": [{"port": 80}]})),
            "spec.rules[0].backendRefs[0].name",
            "Required value",
        ),
        bad(
            "backend port",
            rule(json!({"backendRefs": [{"name": "s", "port": 65536}]})),
            "spec.rules[0].backendRefs[0].port",
            "less than or equal to 65535",
        ),
        bad(
            "backend weight",
            rule(json!({"backendRefs": [{"name": "s", "port": 80, "weight": 1_000_001}]})),
            "spec.rules[0].backendRefs[0].weight",
            "less than or equal to 1000000",
        ),
        bad(
            "backend negative weight",
            rule(json!({"backendRefs": [{"name": "s", "port": 80, "weight": -1}]})),
            "spec.rules[0].backendRefs[0].weight",
            "greater than or equal to 0",
        ),
        ok(
            "backend weight 0",
            rule(json!({"backendRefs": [{"name": "s", "port": 80, "weight": 0}]})),
        ),
        bad(
            "backend group *",
            rule(json!({"backendRefs": [{"name": "s", "port": 80, "group": "*"}]})),
            "spec.rules[0].backendRefs[0].group",
            "should match",
        ),
        bad(
            "backend kind *",
            rule(json!({"backendRefs": [{"name": "s", "port": 80, "kind": "*"}]})),
            "spec.rules[0].backendRefs[0].kind",
            "should match",
        ),
        bad(
            "backend name too long",
            rule(json!({"backendRefs": [{"name": "s".repeat(254), "port": 80}]})),
            "spec.rules[0].backendRefs[0].name",
            "Too long",
        ),
        // timeouts, retry, sessionPersistence.
        bad(
            "timeout unit",
            rule(json!({"timeouts": {"request": "1d"}})),
            "spec.rules[0].timeouts.request",
            "should match '^([0-9]{1,5}(h|m|s|ms)){1,4}$'",
        ),
        ok(
            "timeouts",
            rule(json!({"timeouts": {"request": "10s", "backendRequest": "500ms"}})),
        ),
        bad(
            "retry code low",
            rule(json!({"retry": {"codes": [399]}})),
            "spec.rules[0].retry.codes[0]",
            "greater than or equal to 400",
        ),
        bad(
            "retry code high",
            rule(json!({"retry": {"codes": [600]}})),
            "spec.rules[0].retry.codes[0]",
            "less than or equal to 599",
        ),
        bad(
            "retry duplicate code",
            rule(json!({"retry": {"codes": [503, 503]}})),
            "spec.rules[0].retry.codes[1]",
            "Duplicate value: 503",
        ),
        bad(
            "retry backoff",
            rule(json!({"retry": {"backoff": "1.5s"}})),
            "spec.rules[0].retry.backoff",
            "should match",
        ),
        ok(
            "retry",
            rule(json!({"retry": {"codes": [500, 503], "attempts": 2, "backoff": "100ms"}})),
        ),
        bad(
            "session type",
            rule(json!({"sessionPersistence": {"type": "Query"}})),
            "spec.rules[0].sessionPersistence.type",
            "Unsupported value",
        ),
        bad(
            "session name",
            rule(json!({"sessionPersistence": {"sessionName": "s".repeat(129)}})),
            "spec.rules[0].sessionPersistence.sessionName",
            "Too long: may not be more than 128 bytes",
        ),
        ok(
            "session",
            rule(json!({"sessionPersistence": {"sessionName": "s", "absoluteTimeout": "1h"}})),
        ),
        bad(
            "useDefaultGateways enum",
            with(http_route(), &[("/spec/useDefaultGateways", json!("Some"))]),
            "spec.useDefaultGateways",
            "Unsupported value",
        ),
        ok(
            "useDefaultGateways",
            with(http_route(), &[("/spec/useDefaultGateways", json!("All"))]),
        ),
        // types.
        bad(
            "port as string",
            rule(json!({"backendRefs": [{"name": "s", "port": "80"}]})),
            "spec.rules[0].backendRefs[0].port",
            "Invalid value: \"string\": spec.rules[0].backendRefs[0].port in body must be of type integer: \"string\"",
        ),
        bad(
            "port as float",
            rule(json!({"backendRefs": [{"name": "s", "port": 80.5}]})),
            "spec.rules[0].backendRefs[0].port",
            "must be of type integer: \"number\"",
        ),
        bad(
            "hostnames as string",
            with(http_route(), &[("/spec/hostnames", json!("a.com"))]),
            "spec.hostnames",
            "must be of type array: \"string\"",
        ),
        bad(
            "name as number",
            with(http_route(), &[("/spec/parentRefs/0/name", json!(5))]),
            "spec.parentRefs[0].name",
            "must be of type string: \"integer\"",
        ),
        bad(
            "allowCredentials as string",
            filter("CORS", "cors", json!({"allowCredentials": "yes"})),
            "spec.rules[0].filters[0].cors.allowCredentials",
            "must be of type boolean: \"string\"",
        ),
        bad(
            "rule as list",
            with(http_route(), &[("/spec/rules", json!([[1]]))]),
            "spec.rules[0]",
            "must be of type object: \"array\"",
        ),
        bad(
            "spec missing",
            json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "a"}}),
            "spec",
            "Required value",
        ),
        ok(
            "spec empty",
            json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "a"}, "spec": {}}),
        ),
    ];
    run(cases);
}

#[test]
fn cel_rules_on_parent_refs_and_rules() {
    let parents = |refs: Value| with(http_route(), &[("/spec/parentRefs", refs)]);
    let cases: Vec<Case> = vec![
        bad(
            "same parent, one sectionName",
            parents(json!([{"name": "gw"}, {"name": "gw", "sectionName": "a"}])),
            "spec.parentRefs",
            "Invalid value: \"array\": sectionName or port must be specified when parentRefs includes 2 or more references to the same parent",
        ),
        ok(
            "same parent, two sectionNames",
            parents(
                json!([{"name": "gw", "sectionName": "a"}, {"name": "gw", "sectionName": "b"}]),
            ),
        ),
        bad(
            "same parent, same sectionName",
            parents(
                json!([{"name": "gw", "sectionName": "a"}, {"name": "gw", "sectionName": "a"}]),
            ),
            "spec.parentRefs",
            "sectionName or port must be unique when parentRefs includes 2 or more references to the same parent",
        ),
        bad(
            "same parent, same port (experimental)",
            parents(json!([{"name": "gw", "port": 80}, {"name": "gw", "port": 80}])),
            "spec.parentRefs",
            "sectionName or port must be unique when parentRefs includes 2 or more references to the same parent",
        ),
        ok(
            "same parent, two ports (experimental)",
            parents(json!([{"name": "gw", "port": 80}, {"name": "gw", "port": 443}])),
        ),
        bad(
            "same parent, one port",
            parents(json!([{"name": "gw", "port": 80}, {"name": "gw"}])),
            "spec.parentRefs",
            "sectionName or port must be specified when parentRefs includes 2 or more references to the same parent",
        ),
        bad(
            "empty and absent namespace are equal",
            parents(json!([{"name": "gw"}, {"name": "gw", "namespace": ""}])),
            "spec.parentRefs",
            "sectionName or port must be unique when parentRefs includes 2 or more references to the same parent",
        ),
        ok(
            "different namespaces",
            parents(json!([{"name": "gw"}, {"name": "gw", "namespace": "other"}])),
        ),
        ok(
            "different parents",
            parents(json!([{"name": "gw"}, {"name": "gw2"}])),
        ),
        bad(
            "duplicate rule names (experimental)",
            with(
                http_route(),
                &[("/spec/rules", json!([{"name": "a"}, {"name": "a"}]))],
            ),
            "spec.rules",
            "Invalid value: \"array\": Rule name must be unique within the route",
        ),
        ok(
            "distinct rule names",
            with(
                http_route(),
                &[("/spec/rules", json!([{"name": "a"}, {"name": "b"}, {}, {}]))],
            ),
        ),
        bad(
            "129 matches in all",
            with(
                http_route(),
                &[(
                    "/spec/rules",
                    many(
                        3,
                        |r| json!({"matches": many(43, |i| json!({"path": {"value": format!("/r{r}/{i}")}}))}),
                    ),
                )],
            ),
            "spec.rules",
            "Invalid value: \"array\": While 16 rules and 64 matches per rule are allowed, the total number of matches across all rules in a route must be less than 128",
        ),
        ok(
            "128 matches in all",
            with(
                http_route(),
                &[(
                    "/spec/rules",
                    many(
                        2,
                        |r| json!({"matches": many(64, |i| json!({"path": {"value": format!("/r{r}/{i}")}}))}),
                    ),
                )],
            ),
        ),
        bad(
            "redirect with backends",
            rule(
                json!({"filters": [{"type": "RequestRedirect", "requestRedirect": {"scheme": "https"}}], "backendRefs": [{"name": "s", "port": 80}]}),
            ),
            R0,
            "Invalid value: \"object\": RequestRedirect filter must not be used together with backendRefs",
        ),
        ok(
            "redirect without backends",
            rule(
                json!({"filters": [{"type": "RequestRedirect", "requestRedirect": {"scheme": "https"}}]}),
            ),
        ),
        ok(
            "redirect with empty backends",
            rule(
                json!({"filters": [{"type": "RequestRedirect", "requestRedirect": {"scheme": "https"}}], "backendRefs": []}),
            ),
        ),
        bad(
            "redirect prefix with two matches",
            rule(
                json!({"matches": [{"path": {"value": "/a"}}, {"path": {"value": "/b"}}], "filters": [{"type": "RequestRedirect", "requestRedirect": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/c"}}}]}),
            ),
            R0,
            "Invalid value: \"object\": When using RequestRedirect filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified",
        ),
        bad(
            "redirect prefix with exact match",
            rule(
                json!({"matches": [{"path": {"type": "Exact", "value": "/a"}}], "filters": [{"type": "RequestRedirect", "requestRedirect": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/c"}}}]}),
            ),
            R0,
            "Invalid value: \"object\": When using RequestRedirect filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified",
        ),
        ok(
            "redirect prefix with one prefix match",
            rule(
                json!({"matches": [{"path": {"value": "/a"}}], "filters": [{"type": "RequestRedirect", "requestRedirect": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/c"}}}]}),
            ),
        ),
        ok(
            "redirect prefix with the default match",
            rule(
                json!({"filters": [{"type": "RequestRedirect", "requestRedirect": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/c"}}}]}),
            ),
        ),
        bad(
            "rewrite prefix with two matches",
            rule(
                json!({"matches": [{"path": {"value": "/a"}}, {"path": {"value": "/b"}}], "filters": [{"type": "URLRewrite", "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/c"}}}]}),
            ),
            R0,
            "Invalid value: \"object\": When using URLRewrite filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified",
        ),
        ok(
            "rewrite full path with two matches",
            rule(
                json!({"matches": [{"path": {"value": "/a"}}, {"path": {"value": "/b"}}], "filters": [{"type": "URLRewrite", "urlRewrite": {"path": {"type": "ReplaceFullPath", "replaceFullPath": "/c"}}}]}),
            ),
        ),
        bad(
            "backend redirect prefix with exact match",
            rule(
                json!({"matches": [{"path": {"type": "Exact", "value": "/a"}}], "backendRefs": [{"name": "s", "port": 80, "filters": [{"type": "RequestRedirect", "requestRedirect": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/c"}}}]}]}),
            ),
            R0,
            "Invalid value: \"object\": Within backendRefs, when using RequestRedirect filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified",
        ),
        bad(
            "backend rewrite prefix with exact match",
            rule(
                json!({"matches": [{"path": {"type": "Exact", "value": "/a"}}], "backendRefs": [{"name": "s", "port": 80, "filters": [{"type": "URLRewrite", "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/c"}}}]}]}),
            ),
            R0,
            "Invalid value: \"object\": Within backendRefs, When using URLRewrite filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified",
        ),
        ok(
            "backend rewrite prefix with prefix match",
            rule(
                json!({"matches": [{"path": {"value": "/a"}}], "backendRefs": [{"name": "s", "port": 80, "filters": [{"type": "URLRewrite", "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/c"}}}]}]}),
            ),
        ),
        bad(
            "service backend without port",
            rule(json!({"backendRefs": [{"name": "s"}]})),
            "spec.rules[0].backendRefs[0]",
            "Invalid value: \"object\": Must have port for Service reference",
        ),
        ok(
            "non-service backend without port",
            rule(json!({"backendRefs": [{"name": "s", "group": "x.io", "kind": "Backend"}]})),
        ),
        bad(
            "mirror service without port",
            filter(
                "RequestMirror",
                "requestMirror",
                json!({"backendRef": {"name": "m"}}),
            ),
            "spec.rules[0].filters[0].requestMirror.backendRef",
            "Must have port for Service reference",
        ),
        bad(
            "externalAuth service without port",
            filter(
                "ExternalAuth",
                "externalAuth",
                json!({"protocol": "GRPC", "grpc": {}, "backendRef": {"name": "a"}}),
            ),
            "spec.rules[0].filters[0].externalAuth.backendRef",
            "Must have port for Service reference",
        ),
        bad(
            "timeouts backend longer",
            rule(json!({"timeouts": {"request": "1s", "backendRequest": "2s"}})),
            "spec.rules[0].timeouts",
            "backendRequest timeout cannot be longer than request timeout",
        ),
        ok(
            "timeouts equal",
            rule(json!({"timeouts": {"request": "1s", "backendRequest": "1000ms"}})),
        ),
        ok(
            "timeouts request disabled",
            rule(json!({"timeouts": {"request": "0s", "backendRequest": "1h"}})),
        ),
        bad(
            "permanent cookie without absoluteTimeout",
            rule(json!({"sessionPersistence": {"cookieConfig": {"lifetimeType": "Permanent"}}})),
            "spec.rules[0].sessionPersistence",
            "AbsoluteTimeout must be specified when cookie lifetimeType is Permanent",
        ),
        ok(
            "permanent cookie with absoluteTimeout",
            rule(
                json!({"sessionPersistence": {"absoluteTimeout": "1h", "cookieConfig": {"lifetimeType": "Permanent"}}}),
            ),
        ),
    ];
    run(cases);
}

#[test]
fn cel_rules_on_filters() {
    let redirect = json!({"type": "RequestRedirect", "requestRedirect": {"scheme": "https"}});
    let rewrite = json!({"type": "URLRewrite", "urlRewrite": {"hostname": "a.example"}});
    let cors = json!({"type": "CORS", "cors": {"allowOrigins": ["*"]}});
    let req_headers =
        json!({"type": "RequestHeaderModifier", "requestHeaderModifier": {"remove": ["a"]}});
    let resp_headers =
        json!({"type": "ResponseHeaderModifier", "responseHeaderModifier": {"remove": ["a"]}});
    let mirror = json!({"type": "RequestMirror", "requestMirror": {"backendRef": {"name": "m", "port": 80}}});
    let ext = json!({"type": "ExtensionRef", "extensionRef": {"group": "x.io", "kind": "F", "name": "f"}});
    let fpath = "spec.rules[0].filters";
    let mut cases: Vec<Case> = vec![
        bad(
            "redirect and rewrite",
            filters(json!([redirect, rewrite])),
            fpath,
            "Invalid value: \"array\": May specify either httpRouteFilterRequestRedirect or httpRouteFilterRequestRewrite, but not both",
        ),
        bad(
            "two redirects",
            filters(json!([redirect, redirect])),
            fpath,
            "RequestRedirect filter cannot be repeated",
        ),
        bad(
            "two rewrites",
            filters(json!([rewrite, rewrite])),
            fpath,
            "URLRewrite filter cannot be repeated",
        ),
        bad(
            "two cors",
            filters(json!([cors, cors])),
            fpath,
            "CORS filter cannot be repeated",
        ),
        bad(
            "two request header modifiers",
            filters(json!([req_headers, req_headers])),
            fpath,
            "RequestHeaderModifier filter cannot be repeated",
        ),
        bad(
            "two response header modifiers",
            filters(json!([resp_headers, resp_headers])),
            fpath,
            "ResponseHeaderModifier filter cannot be repeated",
        ),
        ok(
            "two mirrors and two extension refs",
            filters(json!([mirror, mirror, ext, ext])),
        ),
        ok(
            "one of each",
            filters(json!([
                rewrite,
                cors,
                req_headers,
                resp_headers,
                mirror,
                ext
            ])),
        ),
        bad(
            "backend filters repeated",
            rule(
                json!({"backendRefs": [{"name": "s", "port": 80, "filters": [req_headers, req_headers]}]}),
            ),
            "spec.rules[0].backendRefs[0].filters",
            "RequestHeaderModifier filter cannot be repeated",
        ),
        // CORS wildcards stand alone.
        bad(
            "origin wildcard with others",
            filter(
                "CORS",
                "cors",
                json!({"allowOrigins": ["*", "https://a.com"]}),
            ),
            "spec.rules[0].filters[0].cors.allowOrigins",
            "AllowOrigins cannot contain '*' alongside other origins",
        ),
        bad(
            "method wildcard with others",
            filter("CORS", "cors", json!({"allowMethods": ["*", "GET"]})),
            "spec.rules[0].filters[0].cors.allowMethods",
            "AllowMethods cannot contain '*' alongside other methods",
        ),
        bad(
            "header wildcard with others",
            filter("CORS", "cors", json!({"allowHeaders": ["*", "x-a"]})),
            "spec.rules[0].filters[0].cors.allowHeaders",
            "AllowHeaders cannot contain '*' alongside other methods",
        ),
        ok(
            "wildcards alone",
            filter(
                "CORS",
                "cors",
                json!({"allowOrigins": ["*"], "allowMethods": ["*"], "allowHeaders": ["*"]}),
            ),
        ),
        // Mirror.
        bad(
            "mirror percent and fraction",
            filter(
                "RequestMirror",
                "requestMirror",
                json!({"backendRef": {"name": "m", "port": 80}, "percent": 5, "fraction": {"numerator": 1}}),
            ),
            "spec.rules[0].filters[0].requestMirror",
            "Only one of percent or fraction may be specified in HTTPRequestMirrorFilter",
        ),
        bad(
            "mirror fraction above one",
            filter(
                "RequestMirror",
                "requestMirror",
                json!({"backendRef": {"name": "m", "port": 80}, "fraction": {"numerator": 101}}),
            ),
            "spec.rules[0].filters[0].requestMirror.fraction",
            "numerator must be less than or equal to denominator",
        ),
        ok(
            "mirror fraction",
            filter(
                "RequestMirror",
                "requestMirror",
                json!({"backendRef": {"name": "m", "port": 80}, "fraction": {"numerator": 1, "denominator": 2}}),
            ),
        ),
        // Path modifiers.
        bad(
            "full path type without value",
            filter(
                "URLRewrite",
                "urlRewrite",
                json!({"path": {"type": "ReplaceFullPath"}}),
            ),
            "spec.rules[0].filters[0].urlRewrite.path",
            "replaceFullPath must be specified when type is set to 'ReplaceFullPath'",
        ),
        bad(
            "full path value with prefix type",
            filter(
                "URLRewrite",
                "urlRewrite",
                json!({"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/a", "replaceFullPath": "/b"}}),
            ),
            "spec.rules[0].filters[0].urlRewrite.path",
            "type must be 'ReplaceFullPath' when replaceFullPath is set",
        ),
        bad(
            "prefix type without value",
            filter(
                "RequestRedirect",
                "requestRedirect",
                json!({"path": {"type": "ReplacePrefixMatch"}}),
            ),
            "spec.rules[0].filters[0].requestRedirect.path",
            "replacePrefixMatch must be specified when type is set to 'ReplacePrefixMatch'",
        ),
        bad(
            "prefix value with full type",
            filter(
                "RequestRedirect",
                "requestRedirect",
                json!({"path": {"type": "ReplaceFullPath", "replaceFullPath": "/a", "replacePrefixMatch": "/b"}}),
            ),
            "spec.rules[0].filters[0].requestRedirect.path",
            "type must be 'ReplacePrefixMatch' when replacePrefixMatch is set",
        ),
        ok(
            "prefix path modifier",
            filter(
                "RequestRedirect",
                "requestRedirect",
                json!({"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": ""}}),
            ),
        ),
        // ExternalAuth protocol coupling (experimental).
        bad(
            "grpc protocol without grpc",
            filter(
                "ExternalAuth",
                "externalAuth",
                json!({"protocol": "GRPC", "backendRef": {"name": "a", "port": 1}}),
            ),
            "spec.rules[0].filters[0].externalAuth",
            "grpc must be specified when protocol is set to 'GRPC'",
        ),
        bad(
            "grpc config with http protocol",
            filter(
                "ExternalAuth",
                "externalAuth",
                json!({"protocol": "HTTP", "http": {}, "grpc": {}, "backendRef": {"name": "a", "port": 1}}),
            ),
            "spec.rules[0].filters[0].externalAuth",
            "protocol must be 'GRPC' when grpc is set",
        ),
        bad(
            "http protocol without http",
            filter(
                "ExternalAuth",
                "externalAuth",
                json!({"protocol": "HTTP", "backendRef": {"name": "a", "port": 1}}),
            ),
            "spec.rules[0].filters[0].externalAuth",
            "http must be specified when protocol is set to 'HTTP'",
        ),
        bad(
            "http config with grpc protocol",
            filter(
                "ExternalAuth",
                "externalAuth",
                json!({"protocol": "GRPC", "grpc": {}, "http": {}, "backendRef": {"name": "a", "port": 1}}),
            ),
            "spec.rules[0].filters[0].externalAuth",
            "protocol must be 'HTTP' when http is set",
        ),
        ok(
            "grpc external auth",
            filter(
                "ExternalAuth",
                "externalAuth",
                json!({"protocol": "GRPC", "grpc": {"allowedHeaders": ["a"]}, "backendRef": {"name": "a", "port": 1}}),
            ),
        ),
    ];
    // The filter union, both directions for every member.
    let members = [
        ("cors", "CORS", json!({})),
        ("requestHeaderModifier", "RequestHeaderModifier", json!({})),
        (
            "responseHeaderModifier",
            "ResponseHeaderModifier",
            json!({}),
        ),
        (
            "requestMirror",
            "RequestMirror",
            json!({"backendRef": {"name": "m", "port": 80}}),
        ),
        ("requestRedirect", "RequestRedirect", json!({})),
        ("urlRewrite", "URLRewrite", json!({})),
        (
            "externalAuth",
            "ExternalAuth",
            json!({"protocol": "HTTP", "http": {}, "backendRef": {"name": "a", "port": 1}}),
        ),
        (
            "extensionRef",
            "ExtensionRef",
            json!({"group": "x.io", "kind": "F", "name": "f"}),
        ),
    ];
    for (member, type_, body) in &members {
        cases.push(bad(
            &format!("{type_} without {member}"),
            filters(json!([{"type": type_}])),
            "spec.rules[0].filters[0]",
            &format!("filter.{member} must be specified for {type_} filter.type"),
        ));
        let other = if *type_ == "CORS" {
            "ExtensionRef"
        } else {
            "CORS"
        };
        let (other_member, other_body) = members
            .iter()
            .find(|(_, t, _)| *t == other)
            .map(|(m, _, b)| (*m, b.clone()))
            .expect("member exists");
        cases.push(bad(
            &format!("{member} with type {other}"),
            filters(json!([{"type": other, other_member: other_body, (*member): body}])),
            "spec.rules[0].filters[0]",
            &format!("filter.{member} must be nil if the filter.type is not {type_}"),
        ));
        cases.push(ok(
            &format!("{type_} with {member}"),
            filters(json!([{"type": type_, (*member): body}])),
        ));
    }
    run(cases);
}

#[test]
fn cel_rules_on_path_matches() {
    let p = "spec.rules[0].matches[0].path";
    let path = |t: &str, v: &str| one_match(json!({"path": {"type": t, "value": v}}));
    let mut cases = vec![
        bad(
            "relative exact path",
            path("Exact", "api"),
            p,
            "Invalid value: \"object\": value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']",
        ),
        bad(
            "relative prefix path",
            path("PathPrefix", "api"),
            p,
            "value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']",
        ),
        bad(
            "invalid characters",
            path("PathPrefix", "/a b"),
            p,
            "must only contain valid characters (matching ^(?:",
        ),
        bad(
            "bad escape",
            path("Exact", "/a%zz"),
            p,
            "must only contain valid characters (matching ^(?:",
        ),
        ok("escape", path("Exact", "/a%20b")),
        ok("relative regex path", path("RegularExpression", "api.*//")),
        ok("plain prefix", path("PathPrefix", "/api/v1")),
    ];
    for needle in ["//", "/./", "/../", "%2f", "%2F", "#"] {
        cases.push(bad(
            &format!("path containing {needle}"),
            path("PathPrefix", &format!("/a{needle}b")),
            p,
            &format!("must not contain '{needle}' when type one of ['Exact', 'PathPrefix']"),
        ));
    }
    for suffix in ["/..", "/."] {
        cases.push(bad(
            &format!("path ending in {suffix}"),
            path("Exact", &format!("/a{suffix}")),
            p,
            &format!("must not end with '{suffix}' when type one of ['Exact', 'PathPrefix']"),
        ));
    }
    cases.push(ok("dots inside a segment", path("Exact", "/a..b/.c")));
    run(cases);
}

#[test]
fn defaults_are_applied_exactly() {
    let doc = with(
        http_route(),
        &[(
            "/spec/rules",
            json!([
                {"matches": [{"headers": [{"name": "x", "value": "1"}], "queryParams": [{"name": "q", "value": "1"}]}],
                 "filters": [
                    {"type": "RequestMirror", "requestMirror": {"backendRef": {"name": "m", "port": 80}, "fraction": {"numerator": 5}}},
                    {"type": "CORS", "cors": {"allowOrigins": ["*"]}}
                 ],
                 "backendRefs": [{"name": "s", "port": 80}]},
                {"filters": [{"type": "RequestRedirect", "requestRedirect": {"scheme": "https"}}]},
                {"matches": [{"path": {"type": "Exact"}}, {"path": {"value": "/v"}}, {"method": "GET"}]},
                {"matches": []}
            ]),
        )],
    );
    let spec = accept(&doc).to_value()["spec"].clone();
    let expected = json!({
        "parentRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "gw"}],
        "rules": [
            {
                "backendRefs": [{"group": "", "kind": "Service", "name": "s", "port": 80, "weight": 1}],
                "filters": [
                    {"requestMirror": {"backendRef": {"group": "", "kind": "Service", "name": "m", "port": 80}, "fraction": {"denominator": 100, "numerator": 5}}, "type": "RequestMirror"},
                    {"cors": {"allowOrigins": ["*"], "maxAge": 5}, "type": "CORS"}
                ],
                "matches": [{
                    "headers": [{"name": "x", "type": "Exact", "value": "1"}],
                    "path": {"type": "PathPrefix", "value": "/"},
                    "queryParams": [{"name": "q", "type": "Exact", "value": "1"}]
                }]
            },
            {
                "filters": [{"requestRedirect": {"scheme": "https", "statusCode": 302}, "type": "RequestRedirect"}],
                "matches": [{"path": {"type": "PathPrefix", "value": "/"}}]
            },
            {
                "matches": [
                    {"path": {"type": "Exact", "value": "/"}},
                    {"path": {"type": "PathPrefix", "value": "/v"}},
                    {"method": "GET", "path": {"type": "PathPrefix", "value": "/"}}
                ]
            },
            {"matches": []}
        ]
    });
    assert_eq!(spec, expected);

    // No rules at all: one catch-all rule with no backends.
    let doc = with(http_route(), &[]);
    let mut doc = doc;
    doc["spec"].as_object_mut().expect("spec").remove("rules");
    let spec = accept(&doc).to_value()["spec"].clone();
    assert_eq!(
        spec["rules"],
        json!([{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}]}])
    );

    // Experimental session persistence defaults.
    let spec =
        accept(&rule(json!({"sessionPersistence": {"cookieConfig": {}}}))).to_value()["spec"]
            .clone();
    assert_eq!(
        spec["rules"][0]["sessionPersistence"],
        json!({"cookieConfig": {"lifetimeType": "Session"}, "type": "Cookie"})
    );
}
