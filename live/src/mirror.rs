//! Mirrored requests on a cluster, seen as upstream's suite sees them: in the logs of the
//! mirror backend's pods, where upstream's echo server prints a line for each request it
//! answers (`Echoing back request made to URI to client (ADDR)`).
//!
//! Upstream's suite tells its requests apart by their paths, unique per test. gwsim's
//! scenarios repeat paths (three tries per step on a cluster, `count:` runs of hundreds), so in
//! a scenario that checks mirrors each request carries its own query parameter
//! ([`TAG_PARAM`] = the request's wire id); what the client reports (the echo's path, a
//! `Location`) has it removed again. The pods are found as a real cluster finds them: the
//! Service's selector, or its EndpointSlices' endpoints when it has none.

use std::collections::{BTreeSet, HashSet};

use gwsim_sim::RequestId;
use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::{Api, DynamicObject, ListParams, LogParams};

use crate::kinds::api_resource;
use crate::{api_message, is_not_found};
use gwsim_engine::object::Kind;

/// The query parameter that names a request in the echo servers' logs.
pub const TAG_PARAM: &str = "gwsim-request";

/// `path` with the parameter naming request `wire` added at the end of its query (before any
/// fragment).
pub fn tag(path: &str, wire: RequestId) -> String {
    let (before, fragment) = match path.split_once('#') {
        Some((p, f)) => (p, Some(f)),
        None => (path, None),
    };
    let mut out = before.to_string();
    out.push(if before.contains('?') { '&' } else { '?' });
    out.push_str(&format!("{TAG_PARAM}={}", wire.0));
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

/// `text` (a path, a URL) without the parameter naming request `wire`.
pub fn untag(text: &str, wire: RequestId) -> String {
    let param = format!("{TAG_PARAM}={}", wire.0);
    let mut out = text.to_string();
    for (form, with) in [
        (format!("?{param}&"), "?"),
        (format!("&{param}"), ""),
        (format!("?{param}"), ""),
    ] {
        if let Some(at) = out.find(&form) {
            let end = at + form.len();
            // Only the whole parameter: `gwsim-request=12` is not `gwsim-request=123`.
            let next = out[end..].chars().next();
            if with.is_empty() && next.is_some_and(|c| c != '&' && c != '#') {
                continue;
            }
            out.replace_range(at..end, with);
            return out;
        }
    }
    out
}

/// The wire id a request target carries in [`TAG_PARAM`].
pub fn tagged_id(uri: &str) -> Option<u64> {
    let query = uri.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or(query);
    query
        .split('&')
        .filter_map(|p| p.strip_prefix(TAG_PARAM)?.strip_prefix('='))
        .find_map(|v| v.parse().ok())
}

/// The wire ids of the requests the pods of Service `backend` (in `namespace`, or in any
/// namespace) logged in the last `since_seconds`; also how many API calls it took.
pub async fn logged_ids(
    client: &Client,
    namespace: Option<&str>,
    backend: &str,
    since_seconds: i64,
) -> Result<(HashSet<u64>, u64), String> {
    let mut calls = 0;
    let namespaces: Vec<String> = match namespace {
        Some(ns) => vec![ns.to_string()],
        None => {
            calls += 1;
            let all: Api<DynamicObject> =
                Api::all_with(client.clone(), &api_resource(Kind::Service));
            let list = all
                .list(&ListParams::default().fields(&format!("metadata.name={backend}")))
                .await
                .map_err(|e| api_message(&e))?;
            let namespaces: BTreeSet<String> = list
                .items
                .iter()
                .filter(|s| s.metadata.name.as_deref() == Some(backend))
                .filter_map(|s| s.metadata.namespace.clone())
                .collect();
            namespaces.into_iter().collect()
        }
    };
    let mut ids = HashSet::new();
    for ns in namespaces {
        let (pods, pod_calls) = backend_pods(client, &ns, backend).await?;
        calls += pod_calls;
        let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
        for pod in pods {
            let name = pod.metadata.name.clone().unwrap_or_default();
            let params = LogParams {
                container: echo_container(&pod, backend),
                since_seconds: Some(since_seconds.max(1)),
                ..LogParams::default()
            };
            calls += 1;
            match api.logs(&name, &params).await {
                Ok(text) => ids.extend(
                    text.lines()
                        .filter_map(gwsim_proxy::podlog::echoed_uri)
                        .filter_map(tagged_id),
                ),
                // A pod gone or not started yet has logged nothing.
                Err(e) if is_not_found(&e) => {}
                Err(e) => {
                    tracing::debug!(target: "gwsim::live", "logs of pod {ns}/{name}: {}", api_message(&e));
                }
            }
        }
    }
    Ok((ids, calls))
}

/// The pods behind Service `namespace/backend` that may have run: those its selector
/// selects, or, for a Service without a selector, those its EndpointSlices name.
async fn backend_pods(
    client: &Client,
    namespace: &str,
    backend: &str,
) -> Result<(Vec<Pod>, u64), String> {
    let services: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), namespace, &api_resource(Kind::Service));
    let service = services
        .get_opt(backend)
        .await
        .map_err(|e| api_message(&e))?;
    let selector: Vec<String> = service
        .as_ref()
        .and_then(|s| s.data.pointer("/spec/selector"))
        .and_then(|s| s.as_object())
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some(format!("{k}={}", v.as_str()?)))
        .collect();
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let not_failed = |p: &Pod| p.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Failed");
    if !selector.is_empty() {
        let list = pods
            .list(&ListParams::default().labels(&selector.join(",")))
            .await
            .map_err(|e| api_message(&e))?;
        return Ok((list.items.into_iter().filter(not_failed).collect(), 2));
    }
    let slices: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        namespace,
        &api_resource(Kind::EndpointSlice),
    );
    let list = slices
        .list(&ListParams::default().labels(&format!("kubernetes.io/service-name={backend}")))
        .await
        .map_err(|e| api_message(&e))?;
    let names: BTreeSet<String> = list
        .items
        .iter()
        .filter_map(|s| s.data.get("endpoints")?.as_array())
        .flatten()
        .filter_map(|e| e.get("targetRef"))
        .filter(|r| r.get("kind").and_then(|k| k.as_str()) == Some("Pod"))
        .filter_map(|r| r.get("name")?.as_str().map(str::to_string))
        .collect();
    let mut calls = 2;
    let mut out = Vec::new();
    for name in names {
        calls += 1;
        if let Some(pod) = pods.get_opt(&name).await.map_err(|e| api_message(&e))?
            && not_failed(&pod)
        {
            out.push(pod);
        }
    }
    Ok((out, calls))
}

/// The container whose log to read: the only one, else the one named after the backend (as
/// upstream's echo Deployments name it), else the first.
fn echo_container(pod: &Pod, backend: &str) -> Option<String> {
    let containers = &pod.spec.as_ref()?.containers;
    if containers.len() <= 1 {
        return None;
    }
    containers
        .iter()
        .find(|c| c.name == backend)
        .or(containers.first())
        .map(|c| c.name.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_goes_into_the_query_and_comes_out_again() {
        let id = RequestId(1234);
        for path in ["/mirror", "/a?b=1", "/a?", "/a?b=1#frag", "/a#frag"] {
            let tagged = tag(path, id);
            assert_eq!(tagged_id(&tagged), Some(1234), "{tagged}");
            assert_eq!(untag(&tagged, id), path, "{tagged}");
        }
        assert_eq!(tag("/mirror", id), "/mirror?gwsim-request=1234");
        assert_eq!(tag("/a?b=1", id), "/a?b=1&gwsim-request=1234");
        // In a redirect's URL, with the parameter first.
        assert_eq!(
            untag("http://x/y?gwsim-request=1234&b=1", id),
            "http://x/y?b=1"
        );
        // Another request's tag stays.
        assert_eq!(
            untag("/a?gwsim-request=12345", id),
            "/a?gwsim-request=12345"
        );
        assert_eq!(tagged_id("/a?b=gwsim-request=5"), None);
        assert_eq!(tagged_id("/a"), None);
    }

    #[test]
    fn echo_lines_name_their_requests() {
        let line =
            "Echoing back request made to /mirror?gwsim-request=77 to client (10.244.0.5:40000)";
        let uri = gwsim_proxy::podlog::echoed_uri(line).expect("an echo line");
        assert_eq!(tagged_id(uri), Some(77));
    }
}
