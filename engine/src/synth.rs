//! Synthetic configurations for benchmarks and scale tests.
//!
//! Deterministic: the same [`SynthSpec`] always gives the same documents. The shape follows the
//! published control-plane benchmarks (many routes spread over a pool of hostnames, a few
//! Gateways), with rules that mix exact and prefix paths, headers, query parameters and
//! methods so that every precedence step has work to do.

use serde_json::{Value, json};

/// What to generate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SynthSpec {
    pub routes: usize,
    pub rules_per_route: usize,
    pub hostnames: usize,
    pub gateways: usize,
    /// Namespaces the routes and Services are spread over.
    pub namespaces: usize,
}

impl SynthSpec {
    /// The reconcile benchmark: 10,000 HTTPRoutes, 5 rules each, 2,000 hostnames,
    /// 3 Gateways.
    pub fn reconcile_benchmark() -> SynthSpec {
        SynthSpec {
            routes: 10_000,
            rules_per_route: 5,
            hostnames: 2_000,
            gateways: 3,
            namespaces: 10,
        }
    }

    /// Same shape with `routes` routes and a hostname pool scaled to one hostname per five routes.
    pub fn with_routes(routes: usize) -> SynthSpec {
        SynthSpec {
            routes,
            rules_per_route: 5,
            hostnames: (routes / 5).max(1),
            gateways: 3,
            namespaces: 10,
        }
    }

    /// The hostname of pool entry `i`.
    pub fn hostname(&self, i: usize) -> String {
        format!("h{}.svc{}.example.com", i, i % 17)
    }

    pub fn namespace(&self, i: usize) -> String {
        format!("synth-{}", i % self.namespaces.max(1))
    }

    pub fn gateway_name(&self, i: usize) -> String {
        format!("gw-{}", i % self.gateways.max(1))
    }

    /// Every document as loaded from a file named `synth`, in apply order.
    pub fn loaded_documents(&self) -> Vec<crate::load::Document> {
        self.documents()
            .into_iter()
            .enumerate()
            .map(|(i, value)| crate::load::Document {
                origin: crate::load::Origin::new("synth", i + 1, 1),
                value,
            })
            .collect()
    }

    /// Every document as `kubectl get -o yaml|json` prints it from a cluster where another
    /// controller runs: server-set metadata (`uid`, `resourceVersion`, `generation`,
    /// `creationTimestamp`, `managedFields`) and, on Gateway API kinds, the installed
    /// controller's status. The shape real dumps have, for input-speed measurements.
    pub fn dumped_documents(&self) -> Vec<Value> {
        self.documents()
            .into_iter()
            .enumerate()
            .map(|(i, doc)| dumped(doc, i))
            .collect()
    }

    /// [`Self::dumped_documents`] as one `kind: List` document, as `kubectl get -o yaml|json`
    /// writes several kinds at once.
    pub fn dumped_list(&self) -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "List",
            "items": self.dumped_documents(),
            "metadata": {"resourceVersion": ""}
        })
    }

    /// Every document, in apply order: namespaces, class, Gateways, Services, routes.
    pub fn documents(&self) -> Vec<Value> {
        let mut docs = Vec::with_capacity(self.routes + self.namespaces + self.gateways + 16);
        for n in 0..self.namespaces.max(1) {
            docs.push(json!({
                "apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": self.namespace(n), "labels": {"synth": "yes"}}
            }));
        }
        docs.push(json!({
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
            "metadata": {"name": "synth"},
            "spec": {"controllerName": crate::controller::CONTROLLER_NAME}
        }));
        for g in 0..self.gateways.max(1) {
            docs.push(json!({
                "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
                "metadata": {"name": self.gateway_name(g), "namespace": "synth-0"},
                "spec": {
                    "gatewayClassName": "synth",
                    "listeners": [
                        {"name": "http", "port": 80, "protocol": "HTTP",
                         "allowedRoutes": {"namespaces": {"from": "All"}}},
                        {"name": "wild", "port": 8080, "protocol": "HTTP",
                         "hostname": "*.example.com",
                         "allowedRoutes": {"namespaces": {"from": "Selector",
                             "selector": {"matchLabels": {"synth": "yes"}}}}}
                    ]
                }
            }));
        }
        for n in 0..self.namespaces.max(1) {
            for s in 0..4 {
                docs.push(json!({
                    "apiVersion": "v1", "kind": "Service",
                    "metadata": {"name": format!("backend-{s}"), "namespace": self.namespace(n)},
                    "spec": {"selector": {"app": format!("backend-{s}")},
                             "ports": [{"name": "http", "port": 8080, "targetPort": 3000}]}
                }));
            }
        }
        for r in 0..self.routes {
            docs.push(self.route(r));
        }
        docs
    }

    /// Route `r`: one or two hostnames from the pool, attached to one Gateway (both listeners),
    /// with `rules_per_route` rules of varied shapes.
    pub fn route(&self, r: usize) -> Value {
        let pool = self.hostnames.max(1);
        let mut hostnames = vec![self.hostname(r % pool)];
        if r.is_multiple_of(7) {
            hostnames.push(self.hostname((r / 7 + 1) % pool));
        }
        let rules: Vec<Value> = (0..self.rules_per_route).map(|i| self.rule(r, i)).collect();
        json!({
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": format!("route-{r}"), "namespace": self.namespace(r)},
            "spec": {
                "parentRefs": [{"name": self.gateway_name(r), "namespace": "synth-0"}],
                "hostnames": hostnames,
                "rules": rules
            }
        })
    }

    fn rule(&self, r: usize, i: usize) -> Value {
        let base = format!("/r{r}/s{i}");
        let backend = |s: usize, w: u32| json!({"name": format!("backend-{}", s % 4), "port": 8080, "weight": w});
        match i % 5 {
            0 => json!({"matches": [{"path": {"type": "Exact", "value": base}}],
                        "backendRefs": [backend(i, 1)]}),
            1 => json!({"matches": [{"path": {"type": "PathPrefix", "value": base}}],
                        "backendRefs": [backend(i, 70), backend(i + 1, 30)]}),
            2 => json!({"matches": [{"path": {"type": "PathPrefix", "value": format!("/r{r}")},
                                     "headers": [{"name": "x-version", "value": format!("v{i}")}]}],
                        "backendRefs": [backend(i, 1)]}),
            3 => json!({"matches": [{"path": {"type": "PathPrefix", "value": format!("/r{r}")},
                                     "method": "POST",
                                     "queryParams": [{"name": "q", "value": format!("{i}")}]}],
                        "filters": [{"type": "RequestHeaderModifier",
                                     "requestHeaderModifier": {"set": [{"name": "x-synth", "value": "1"}]}}],
                        "backendRefs": [backend(i, 1)]}),
            _ => {
                json!({"matches": [{"path": {"type": "PathPrefix", "value": format!("{base}/deep")}}],
                        "filters": [{"type": "URLRewrite",
                                     "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}}}],
                        "backendRefs": [backend(i, 1)]})
            }
        }
    }
}

/// The controller name of the installed controller in [`SynthSpec::dumped_documents`].
pub const OTHER_CONTROLLER: &str = "example.net/gateway-controller";

/// `doc` with the server-set fields and an installed controller's status.
fn dumped(mut doc: Value, i: usize) -> Value {
    let kind = doc["kind"].as_str().unwrap_or("").to_string();
    let api_version = doc["apiVersion"].as_str().unwrap_or("").to_string();
    let timestamp = "2026-01-01T00:00:00Z";
    let meta = &mut doc["metadata"];
    meta["uid"] = json!(format!("00000000-0000-4000-8000-{i:012}"));
    meta["resourceVersion"] = json!(format!("{}", 1000 + i));
    meta["creationTimestamp"] = json!(timestamp);
    let gateway_api = api_version.starts_with("gateway.networking.k8s.io/");
    if gateway_api {
        meta["generation"] = json!(1);
    }
    meta["managedFields"] = json!([{
        "apiVersion": api_version,
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:metadata": {"f:labels": {}}, "f:spec": {}},
        "manager": "kubectl-client-side-apply",
        "operation": "Update",
        "time": timestamp
    }]);
    let accepted = |reason: &str| {
        json!([
            {"type": "Accepted", "status": "True", "reason": reason, "message": "",
             "observedGeneration": 1, "lastTransitionTime": timestamp},
            {"type": "ResolvedRefs", "status": "True", "reason": "ResolvedRefs", "message": "",
             "observedGeneration": 1, "lastTransitionTime": timestamp}
        ])
    };
    match kind.as_str() {
        "HTTPRoute" => {
            let parents: Vec<Value> = doc["spec"]["parentRefs"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|parent| {
                    json!({
                        "parentRef": parent,
                        "controllerName": OTHER_CONTROLLER,
                        "conditions": accepted("Accepted")
                    })
                })
                .collect();
            doc["status"] = json!({ "parents": parents });
        }
        "Gateway" => {
            doc["status"] = json!({
                "addresses": [{"type": "IPAddress", "value": format!("203.0.113.{}", i % 250)}],
                "conditions": [
                    {"type": "Accepted", "status": "True", "reason": "Accepted", "message": "",
                     "observedGeneration": 1, "lastTransitionTime": timestamp},
                    {"type": "Programmed", "status": "True", "reason": "Programmed",
                     "message": "", "observedGeneration": 1, "lastTransitionTime": timestamp}
                ]
            });
        }
        "Namespace" => {
            doc["spec"] = json!({"finalizers": ["kubernetes"]});
            doc["status"] = json!({"phase": "Active"});
        }
        _ => {}
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_sized() {
        let spec = SynthSpec::with_routes(50);
        let a = spec.documents();
        let b = spec.documents();
        assert_eq!(a, b);
        let routes = a.iter().filter(|d| d["kind"] == "HTTPRoute").count();
        assert_eq!(routes, 50);
    }
}
