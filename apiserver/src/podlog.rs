//! `pods/{name}/log`: a pod's log as the kubelet serves it through the API server, read from
//! whoever keeps the pods' logs (`gwsim serve --api`: the data plane's echo servers).
//!
//! The query parameters are those of `PodLogOptions` that kubectl and kube-rs send: `container`,
//! `sinceSeconds` or `sinceTime`, `tailLines`, `limitBytes`, `timestamps` and `previous`.
//! `follow` is refused (the answer is the log as it is, never a stream).

use std::time::{Duration, SystemTime};

use k8s_openapi::jiff::Timestamp;
use serde_json::Value;

use crate::error::ApiError;
use crate::server::Query;

/// One line of a pod's log and when it was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodLogLine {
    pub at: SystemTime,
    pub text: String,
}

/// Where pods' logs are kept.
pub trait PodLogs: Send + Sync + std::fmt::Debug {
    /// The log of the pod's echo server, oldest line first; `None` when it never printed
    /// anything (its container has not started).
    fn lines(&self, namespace: &str, pod: &str) -> Option<Vec<PodLogLine>>;
}

/// What a log request asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct LogQuery {
    container: Option<String>,
    since: Option<SystemTime>,
    since_seconds: Option<u64>,
    tail_lines: Option<usize>,
    limit_bytes: Option<usize>,
    timestamps: bool,
    previous: bool,
}

fn flag(query: &Query, name: &str) -> Result<bool, ApiError> {
    match query.get(name).map(String::as_str) {
        None | Some("") | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(other) => Err(ApiError::BadRequest(format!(
            "{name}: Invalid value: {other:?}: must be true or false"
        ))),
    }
}

fn number(query: &Query, name: &str) -> Result<Option<i64>, ApiError> {
    match query.get(name).map(String::as_str) {
        None | Some("") => Ok(None),
        Some(text) => text.parse::<i64>().map(Some).map_err(|_| {
            ApiError::BadRequest(format!(
                "{name}: Invalid value: {text:?}: must be an integer"
            ))
        }),
    }
}

fn invalid(pod: &str, field: &str, value: impl std::fmt::Display, why: &str) -> ApiError {
    ApiError::BadRequest(format!(
        "PodLogOptions {pod:?} is invalid: {field}: Invalid value: {value}: {why}"
    ))
}

fn parse(query: &Query, pod: &str) -> Result<LogQuery, ApiError> {
    if flag(query, "follow")? {
        return Err(ApiError::BadRequest(
            "follow is not supported by gwsim serve --api: read the log without -f (--follow), \
             again as often as needed"
                .into(),
        ));
    }
    let since_seconds = match number(query, "sinceSeconds")? {
        Some(n) if n < 1 => return Err(invalid(pod, "sinceSeconds", n, "must be greater than 0")),
        n => n.map(|n| n.unsigned_abs()),
    };
    let since = match query.get("sinceTime").map(String::as_str) {
        None | Some("") => None,
        Some(text) => {
            let at: Timestamp = text.parse().map_err(|_| {
                ApiError::BadRequest(format!(
                    "sinceTime: Invalid value: {text:?}: not an RFC 3339 time"
                ))
            })?;
            Some(SystemTime::from(at))
        }
    };
    if since.is_some() && since_seconds.is_some() {
        return Err(ApiError::BadRequest(format!(
            "PodLogOptions {pod:?} is invalid: : Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified"
        )));
    }
    let tail_lines = match number(query, "tailLines")? {
        Some(n) if n < 0 => {
            return Err(invalid(
                pod,
                "tailLines",
                n,
                "must be greater than or equal to 0",
            ));
        }
        n => n.map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
    };
    let limit_bytes = match number(query, "limitBytes")? {
        Some(n) if n < 1 => return Err(invalid(pod, "limitBytes", n, "must be greater than 0")),
        n => n.map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
    };
    Ok(LogQuery {
        container: query.get("container").filter(|c| !c.is_empty()).cloned(),
        since,
        since_seconds,
        tail_lines,
        limit_bytes,
        timestamps: flag(query, "timestamps")?,
        previous: flag(query, "previous")?,
    })
}

/// The names of a pod's containers, in order.
fn containers(pod: &Value) -> Vec<String> {
    pod.pointer("/spec/containers")
        .and_then(|c| c.as_array())
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("name").and_then(|n| n.as_str()))
        .map(str::to_string)
        .collect()
}

/// The text of `GET pods/{name}/log` for `pod` (the object) at `now`. The echo server runs in
/// the pod's first container: the others' logs are empty.
pub fn render(
    pod: &Value,
    query: &Query,
    logs: Option<&dyn PodLogs>,
    now: SystemTime,
) -> Result<String, ApiError> {
    let namespace = pod
        .pointer("/metadata/namespace")
        .and_then(|n| n.as_str())
        .unwrap_or_default();
    let name = pod
        .pointer("/metadata/name")
        .and_then(|n| n.as_str())
        .unwrap_or_default();
    let asked = parse(query, name)?;
    let names = containers(pod);
    let container = match (&asked.container, names.as_slice()) {
        (Some(c), _) if names.contains(c) => c.clone(),
        (Some(c), _) => {
            return Err(ApiError::BadRequest(format!(
                "container {c} is not valid for pod {name}"
            )));
        }
        (None, [only]) => only.clone(),
        (None, []) => {
            return Err(ApiError::BadRequest(format!(
                "pod {name} has no containers"
            )));
        }
        (None, many) => {
            return Err(ApiError::BadRequest(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                many.join(" ")
            )));
        }
    };
    if asked.previous {
        return Err(ApiError::BadRequest(format!(
            "previous terminated container \"{container}\" in pod \"{name}\" not found"
        )));
    }
    let lines = match (names.first() == Some(&container), logs) {
        (true, Some(logs)) => logs.lines(namespace, name).unwrap_or_default(),
        _ => Vec::new(),
    };
    // As the kubelet: the tail of the whole log first, then the lines since the time asked.
    let skip = asked
        .tail_lines
        .map_or(0, |tail| lines.len().saturating_sub(tail));
    let since = asked.since.or_else(|| {
        asked
            .since_seconds
            .and_then(|s| now.checked_sub(Duration::from_secs(s)))
    });
    let mut out = String::new();
    for line in &lines[skip..] {
        if since.is_some_and(|since| line.at < since) {
            continue;
        }
        if asked.timestamps {
            out.push_str(&rfc3339_nano(line.at));
            out.push(' ');
        }
        out.push_str(&line.text);
        out.push('\n');
    }
    if let Some(limit) = asked.limit_bytes
        && out.len() > limit
    {
        let mut cut = limit;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
    Ok(out)
}

/// As Go's `time.RFC3339Nano` in UTC (the kubelet's timestamps): fraction without trailing
/// zeros.
fn rfc3339_nano(at: SystemTime) -> String {
    Timestamp::try_from(at)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[derive(Debug)]
    struct Fixed(Vec<PodLogLine>);

    impl PodLogs for Fixed {
        fn lines(&self, namespace: &str, pod: &str) -> Option<Vec<PodLogLine>> {
            (namespace == "ns" && pod == "echo-1").then(|| self.0.clone())
        }
    }

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + seconds)
    }

    fn logs() -> Fixed {
        Fixed(
            (0..5)
                .map(|n| PodLogLine {
                    at: at(n * 10),
                    text: format!("line {n}"),
                })
                .collect(),
        )
    }

    fn pod(containers: &[&str]) -> Value {
        let containers: Vec<Value> = containers
            .iter()
            .map(|c| serde_json::json!({"name": c, "image": "echo"}))
            .collect();
        serde_json::json!({
            "metadata": {"name": "echo-1", "namespace": "ns"},
            "spec": {"containers": containers},
        })
    }

    fn query(pairs: &[(&str, &str)]) -> Query {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>()
    }

    fn read(pairs: &[(&str, &str)]) -> Result<String, ApiError> {
        render(&pod(&["echo"]), &query(pairs), Some(&logs()), at(45))
    }

    #[test]
    fn the_whole_log_and_its_parts() {
        assert_eq!(
            read(&[]).expect("a log"),
            "line 0\nline 1\nline 2\nline 3\nline 4\n"
        );
        assert_eq!(
            read(&[("tailLines", "2")]).expect("a log"),
            "line 3\nline 4\n"
        );
        assert_eq!(read(&[("tailLines", "0")]).expect("a log"), "");
        // 45 s after the first line: the lines of the last 20 s are at 30 and 40.
        assert_eq!(
            read(&[("sinceSeconds", "20")]).expect("a log"),
            "line 3\nline 4\n"
        );
        assert_eq!(
            read(&[("sinceTime", "2023-11-14T22:13:51Z")]).expect("a log"),
            "line 4\n"
        );
        assert_eq!(read(&[("limitBytes", "9")]).expect("a log"), "line 0\nli");
        assert_eq!(
            read(&[("timestamps", "true"), ("tailLines", "1")]).expect("a log"),
            "2023-11-14T22:14:00Z line 4\n"
        );
        assert_eq!(read(&[("container", "echo")]).expect("a log").len(), 35);
    }

    #[test]
    fn timestamps_carry_the_fraction_go_prints() {
        let at = SystemTime::UNIX_EPOCH + Duration::new(1_700_000_000, 120_000_000);
        assert_eq!(rfc3339_nano(at), "2023-11-14T22:13:20.12Z");
    }

    #[test]
    fn bad_requests_say_why() {
        let message = |pairs: &[(&str, &str)]| read(pairs).expect_err("refused").to_string();
        assert!(message(&[("follow", "true")]).contains("follow is not supported"));
        assert!(message(&[("sinceSeconds", "0")]).contains("must be greater than 0"));
        assert!(message(&[("tailLines", "-1")]).contains("greater than or equal to 0"));
        assert!(
            message(&[("sinceSeconds", "5"), ("sinceTime", "2023-11-14T22:13:40Z")])
                .contains("at most one of")
        );
        assert!(message(&[("sinceTime", "yesterday")]).contains("RFC 3339"));
        assert_eq!(
            message(&[("container", "other")]),
            "container other is not valid for pod echo-1"
        );
        assert!(message(&[("previous", "true")]).contains("previous terminated container"));
        let two = render(&pod(&["a", "b"]), &query(&[]), Some(&logs()), at(45))
            .expect_err("refused")
            .to_string();
        assert_eq!(
            two,
            "a container name must be specified for pod echo-1, choose one of: [a b]"
        );
    }

    #[test]
    fn only_the_first_container_runs_the_echo_server() {
        let second = render(
            &pod(&["echo", "sidecar"]),
            &query(&[("container", "sidecar")]),
            Some(&logs()),
            at(45),
        )
        .expect("a log");
        assert_eq!(second, "");
        // No logs kept at all: empty, as a container that printed nothing.
        assert_eq!(
            render(&pod(&["echo"]), &query(&[]), None, at(45)).expect("a log"),
            ""
        );
    }
}
