//! The built-in conformance base (`base: conformance`), kept as YAML under
//! `testdata/base/conformance.yaml` and embedded in the binary.

use std::sync::OnceLock;

use gwsim_engine::load::{Document, LoadError, parse_documents};

/// The base's YAML text.
pub const CONFORMANCE_BASE_YAML: &str = include_str!("../../testdata/base/conformance.yaml");

/// The name the base's documents carry in messages.
pub const CONFORMANCE_BASE_NAME: &str = "<conformance base>";

/// The mesh fixtures (`testdata/base/mesh.yaml`), part of the base after its own documents.
pub const MESH_BASE_YAML: &str = include_str!("../../testdata/base/mesh.yaml");

/// The name the mesh fixtures' documents carry in messages.
pub const MESH_BASE_NAME: &str = "<conformance base: mesh>";

/// The base's documents, parsed once.
pub fn conformance_base() -> Result<&'static [Document], LoadError> {
    static PARSED: OnceLock<Result<Vec<Document>, LoadError>> = OnceLock::new();
    PARSED
        .get_or_init(|| {
            let mut docs = parse_documents(CONFORMANCE_BASE_NAME, CONFORMANCE_BASE_YAML)?;
            docs.extend(parse_documents(MESH_BASE_NAME, MESH_BASE_YAML)?);
            Ok(docs)
        })
        .as_ref()
        .map(Vec::as_slice)
        .map_err(Clone::clone)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn find<'a>(docs: &'a [Document], kind: &str, name: &str) -> &'a serde_json::Value {
        &docs
            .iter()
            .find(|d| d.value["kind"] == kind && d.value["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("{kind} {name} in the base"))
            .value
    }

    #[test]
    fn base_has_the_contracts_fixtures() {
        let docs = conformance_base().expect("the embedded base parses");
        let class = find(docs, "GatewayClass", "gateway-conformance");
        assert_eq!(
            class["spec"]["controllerName"],
            "gateway.gwsim.dev/controller"
        );

        for (ns, role) in [
            ("gateway-conformance-infra", "infra"),
            ("gateway-conformance-app-backend", "backend"),
            ("gateway-conformance-web-backend", "backend"),
        ] {
            let labels = &find(docs, "Namespace", ns)["metadata"]["labels"];
            assert_eq!(labels["gateway-conformance"], role);
            assert_eq!(labels["kubernetes.io/metadata.name"], ns);
        }

        for (gw, from) in [
            ("same-namespace", "Same"),
            ("all-namespaces", "All"),
            ("backend-namespaces", "Selector"),
        ] {
            let g = find(docs, "Gateway", gw);
            assert_eq!(g["metadata"]["namespace"], "gateway-conformance-infra");
            assert_eq!(g["spec"]["gatewayClassName"], "gateway-conformance");
            let l = &g["spec"]["listeners"][0];
            assert_eq!(
                (
                    l["name"].as_str(),
                    l["protocol"].as_str(),
                    l["port"].as_u64()
                ),
                (Some("http"), Some("HTTP"), Some(80))
            );
            assert_eq!(l["allowedRoutes"]["namespaces"]["from"], from);
        }
        let sel = &find(docs, "Gateway", "backend-namespaces")["spec"]["listeners"][0]["allowedRoutes"]
            ["namespaces"]["selector"]["matchLabels"];
        assert_eq!(sel["gateway-conformance"], "backend");

        let https = find(docs, "Gateway", "same-namespace-with-https-listener");
        let listeners: Vec<(String, Option<String>)> = https["spec"]["listeners"]
            .as_array()
            .expect("listeners")
            .iter()
            .map(|l| {
                assert_eq!(l["port"], 443);
                assert_eq!(l["protocol"], "HTTPS");
                assert_eq!(
                    l["tls"]["certificateRefs"][0]["name"],
                    "tls-validity-checks-certificate"
                );
                (
                    l["name"].as_str().unwrap_or("").to_string(),
                    l["hostname"].as_str().map(String::from),
                )
            })
            .collect();
        assert_eq!(
            listeners,
            vec![
                ("https".into(), None),
                (
                    "https-with-hostname".into(),
                    Some("second-example.org".into())
                ),
                (
                    "https-with-wildcard-hostname".into(),
                    Some("*.wildcard.org".into())
                ),
                (
                    "https-with-hostname-matching-wildcard".into(),
                    Some("fourth-example.wildcard.org".into())
                ),
            ]
        );

        let backends: BTreeMap<&str, (&str, i64)> = [
            ("infra-backend-v1", ("gateway-conformance-infra", 2)),
            ("infra-backend-v2", ("gateway-conformance-infra", 2)),
            ("infra-backend-v3", ("gateway-conformance-infra", 1)),
            ("app-backend-v1", ("gateway-conformance-app-backend", 2)),
            ("app-backend-v2", ("gateway-conformance-app-backend", 2)),
            ("web-backend", ("gateway-conformance-web-backend", 2)),
        ]
        .into();
        for (name, (ns, replicas)) in &backends {
            let d = find(docs, "Deployment", name);
            assert_eq!(d["metadata"]["namespace"], *ns);
            assert_eq!(d["spec"]["replicas"], *replicas);
            let s = find(docs, "Service", name);
            assert_eq!(s["metadata"]["namespace"], *ns);
            assert_eq!(s["spec"]["selector"]["app"], *name);
            assert_eq!(s["spec"]["ports"][0]["port"], 8080);
            assert_eq!(s["spec"]["ports"][0]["targetPort"], 3000);
        }
        let v1_ports = &find(docs, "Service", "infra-backend-v1")["spec"]["ports"];
        assert_eq!(v1_ports[1]["port"], 8081);
        assert_eq!(v1_ports[1]["appProtocol"], "kubernetes.io/h2c");
        assert_eq!(v1_ports[2]["port"], 8082);
        assert_eq!(v1_ports[2]["appProtocol"], "kubernetes.io/ws");

        for (ns, name) in [
            (
                "gateway-conformance-infra",
                "tls-validity-checks-certificate",
            ),
            ("gateway-conformance-web-backend", "certificate"),
        ] {
            let s = find(docs, "Secret", name);
            assert_eq!(s["metadata"]["namespace"], ns);
            assert_eq!(s["type"], "kubernetes.io/tls");
            assert!(s["data"]["tls.crt"].is_string() && s["data"]["tls.key"].is_string());
        }
    }
}
