//! Does a request satisfy one `matches` entry? Gateway API `HTTPRouteMatch`: path, method,
//! headers and query parameters must all hold (AND).

use std::borrow::Cow;

use crate::config::{PathMatch, RouteMatch, ValueMatch};
use crate::decision::Request;

/// The largest compiled form of one regular expression (the regex crate's `size_limit`): a
/// bound on the memory and compile time any route can cost; 8 MiB, RE2's default budget (a
/// Unicode `\w{100}` fits, `\w{300}` does not). Documented in docs/limits.md.
pub const REGEX_SIZE_LIMIT: usize = 8 << 20;

/// The lazy DFA cache of one regular expression (the regex crate's `dfa_size_limit`): past
/// it the search falls back to slower engines, never to more memory.
pub const REGEX_DFA_SIZE_LIMIT: usize = 2 << 20;

/// Compiles a route's regular expression (RE2 syntax as the `regex` crate reads it) to match
/// whole values: validated as written first, then anchored as `^(?:...)$`. Anchoring an
/// invalid pattern can make a valid one with another meaning (`/x)|(?:.*` becomes "anything"),
/// so the order matters. The error is one line, for a condition message.
pub(crate) fn compile_whole_match(pattern: &str) -> Result<regex::Regex, String> {
    let build = |text: &str| {
        regex::RegexBuilder::new(text)
            .size_limit(REGEX_SIZE_LIMIT)
            .dfa_size_limit(REGEX_DFA_SIZE_LIMIT)
            .build()
    };
    let refuse = |e: regex::Error| {
        let why = match e {
            regex::Error::CompiledTooBig(limit) => format!(
                "compiled, it is larger than {limit} bytes, gwsim's limit for a regular expression (docs/limits.md)"
            ),
            regex::Error::Syntax(text) => syntax_error_line(&text),
            other => other.to_string(),
        };
        format!("invalid regular expression {pattern:?}: {why}")
    };
    build(pattern).map_err(refuse)?;
    // Valid as written, yet not once anchored: only a verbose-mode comment that runs to the
    // end of the pattern does that (it swallows the closing `)$`).
    build(&format!("^(?:{pattern})$")).map_err(|_| {
        format!(
            "invalid regular expression {pattern:?}: gwsim cannot anchor it (a comment that runs to its end); end it with a newline"
        )
    })
}

/// A compiled route regular expression as the user wrote it, without the `^(?:...)$` that
/// [`compile_whole_match`] wraps it in.
pub fn regex_as_written(re: &regex::Regex) -> &str {
    let text = re.as_str();
    text.strip_prefix("^(?:")
        .and_then(|t| t.strip_suffix(")$"))
        .unwrap_or(text)
}

/// The regex crate writes a syntax error over several lines (the pattern, a caret line, then
/// `error: ...`): the `error:` line alone, with the position.
fn syntax_error_line(text: &str) -> String {
    text.lines()
        .rev()
        .find_map(|line| line.trim().strip_prefix("error: "))
        .map(str::to_string)
        .unwrap_or_else(|| text.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// A request taken apart once for matching.
pub(crate) struct RequestView<'a> {
    pub(crate) request: &'a Request,
    /// Normalised Host (no port, lower case).
    pub(crate) host: Cow<'a, str>,
    /// The path without the query.
    pub(crate) path: &'a str,
    /// Query parameters in order, as sent (not percent-decoded).
    pub(crate) query: Vec<(&'a str, &'a str)>,
}

impl<'a> RequestView<'a> {
    pub(crate) fn new(request: &'a Request) -> RequestView<'a> {
        let (path, query) = split_path(&request.path);
        RequestView {
            request,
            host: super::hostname::normalize_host(&request.host),
            path,
            query: parse_query(query),
        }
    }

    /// The first value of a query parameter; repeated names are undefined in the spec, and the
    /// first value is the recommended reading.
    fn query_param(&self, name: &str) -> Option<&'a str> {
        self.query.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }
}

/// `/a/b?x=1` into (`/a/b`, `x=1`). An empty path reads as `/`.
pub(crate) fn split_path(raw: &str) -> (&str, &str) {
    let (path, query) = match raw.split_once('?') {
        Some((p, q)) => (p, q),
        None => (raw, ""),
    };
    (if path.is_empty() { "/" } else { path }, query)
}

fn parse_query(query: &str) -> Vec<(&str, &str)> {
    if query.is_empty() {
        return Vec::new();
    }
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .collect()
}

/// A PathPrefix value as compared: without a trailing `/`, so the root prefix is empty.
pub(crate) fn prefix_key(prefix: &str) -> &str {
    prefix.trim_end_matches('/')
}

/// Gateway API `PathMatchPathPrefix`: "compared element by element", so `/abc` matches `/abc`,
/// `/abc/` and `/abc/def` but not `/abcd`; a trailing `/` in the value is ignored.
pub(crate) fn prefix_matches(prefix: &str, path: &str) -> bool {
    let prefix = prefix_key(prefix);
    match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

/// Whether a path match holds. Exact is whole and case-sensitive; regular expressions are
/// anchored to the whole path (implementation-specific).
pub(crate) fn path_matches(matcher: &PathMatch, path: &str) -> bool {
    match matcher {
        PathMatch::Exact(p) => p == path,
        PathMatch::Prefix(p) => prefix_matches(p, path),
        PathMatch::RegularExpression(re) => whole_match(re, path),
    }
}

fn whole_match(re: &regex::Regex, value: &str) -> bool {
    re.find(value)
        .is_some_and(|m| m.start() == 0 && m.end() == value.len())
}

fn value_matches(matcher: &ValueMatch, value: &str) -> bool {
    match matcher {
        ValueMatch::Exact(v) => v == value,
        ValueMatch::RegularExpression(re) => whole_match(re, value),
    }
}

/// The first part of a match that a request fails, by index into the match's lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MatchMiss {
    Path,
    Method,
    HeaderMissing(usize),
    HeaderDiffers(usize),
    QueryMissing(usize),
    QueryDiffers(usize),
}

/// Checks method, headers and query parameters (the path has been checked, or is checked by
/// [`check_match`]), in that order.
pub(crate) fn check_rest(m: &RouteMatch, view: &RequestView<'_>) -> Result<(), MatchMiss> {
    if let Some(method) = &m.method
        && !method.eq_ignore_ascii_case(&view.request.method)
    {
        return Err(MatchMiss::Method);
    }
    for (i, h) in m.headers.iter().enumerate() {
        // Header names are case-insensitive (Gateway API `HTTPHeaderMatch.name`).
        match view.request.header(&h.name) {
            None => return Err(MatchMiss::HeaderMissing(i)),
            Some(v) if !value_matches(&h.value, v) => return Err(MatchMiss::HeaderDiffers(i)),
            Some(_) => {}
        }
    }
    for (i, q) in m.query_params.iter().enumerate() {
        match view.query_param(&q.name) {
            None => return Err(MatchMiss::QueryMissing(i)),
            Some(v) if !value_matches(&q.value, v) => return Err(MatchMiss::QueryDiffers(i)),
            Some(_) => {}
        }
    }
    Ok(())
}

/// Checks every part of a match.
pub(crate) fn check_match(m: &RouteMatch, view: &RequestView<'_>) -> Result<(), MatchMiss> {
    if !path_matches(&m.path, view.path) {
        return Err(MatchMiss::Path);
    }
    check_rest(m, view)
}

/// Says in words why a match failed: `path /v2 does not match /v1`, `header version missing`.
pub(crate) fn describe_miss(m: &RouteMatch, miss: MatchMiss, view: &RequestView<'_>) -> String {
    match miss {
        MatchMiss::Path => {
            let (kind, value) = describe_path(&m.path);
            format!("path: {kind} {value} does not match {}", view.path)
        }
        MatchMiss::Method => format!(
            "method: {} wanted, request is {}",
            m.method.as_deref().unwrap_or(""),
            view.request.method
        ),
        MatchMiss::HeaderMissing(i) => match m.headers.get(i) {
            Some(h) => format!("header `{}` missing", h.name),
            None => "header missing".to_string(),
        },
        MatchMiss::HeaderDiffers(i) => match m.headers.get(i) {
            Some(h) => format!(
                "header `{}` differs: {} wanted, request has {:?}",
                h.name,
                describe_value(&h.value),
                view.request.header(&h.name).unwrap_or("")
            ),
            None => "header differs".to_string(),
        },
        MatchMiss::QueryMissing(i) => match m.query_params.get(i) {
            Some(q) => format!("query param `{}` missing", q.name),
            None => "query param missing".to_string(),
        },
        MatchMiss::QueryDiffers(i) => match m.query_params.get(i) {
            Some(q) => format!(
                "query param `{}` differs: {} wanted, request has {:?}",
                q.name,
                describe_value(&q.value),
                view.query_param(&q.name).unwrap_or("")
            ),
            None => "query param differs".to_string(),
        },
    }
}

fn describe_path(p: &PathMatch) -> (&'static str, &str) {
    match p {
        PathMatch::Exact(v) => ("Exact", v),
        PathMatch::Prefix(v) => ("PathPrefix", v),
        PathMatch::RegularExpression(re) => ("RegularExpression", regex_as_written(re)),
    }
}

fn describe_value(v: &ValueMatch) -> String {
    match v {
        ValueMatch::Exact(s) => format!("{s:?}"),
        ValueMatch::RegularExpression(re) => format!("~/{}/", regex_as_written(re)),
    }
}

/// One line for a match: `PathPrefix /v2, method GET, header version=two, query animal=whale`.
pub(crate) fn describe_match(m: &RouteMatch) -> String {
    let (kind, value) = describe_path(&m.path);
    let mut out = format!("{kind} {value}");
    if let Some(method) = &m.method {
        out.push_str(", method ");
        out.push_str(method);
    }
    for h in &m.headers {
        out.push_str(", header ");
        out.push_str(&h.name);
        push_value(&mut out, &h.value);
    }
    for q in &m.query_params {
        out.push_str(", query ");
        out.push_str(&q.name);
        push_value(&mut out, &q.value);
    }
    out
}

fn push_value(out: &mut String, v: &ValueMatch) {
    match v {
        ValueMatch::Exact(s) => {
            out.push('=');
            out.push_str(s);
        }
        ValueMatch::RegularExpression(re) => {
            out.push_str("=~");
            out.push_str(regex_as_written(re));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_is_segment_wise() {
        let cases = [
            ("/abc", "/abc", true),
            ("/abc", "/abc/", true),
            ("/abc", "/abc/def", true),
            ("/abc", "/abcd", false),
            ("/abc/", "/abc", true),
            ("/abc/", "/abc/def", true),
            ("/abc/", "/abcd", false),
            ("/", "/", true),
            ("/", "/anything/at/all", true),
            ("/v2", "/v2example", false),
            ("/v2", "/foo/v2/example", false),
            ("/Abc", "/abc", false),
            ("/match/prefix", "/match/prefix/one/any", true),
        ];
        for (prefix, path, expected) in cases {
            assert_eq!(prefix_matches(prefix, path), expected, "{prefix} vs {path}");
        }
    }

    #[test]
    fn exact_is_whole_and_case_sensitive() {
        let exact = PathMatch::Exact("/one".to_string());
        let cases = [
            ("/one", true),
            ("/one/", false),
            ("/One", false),
            ("/one/example", false),
            ("/", false),
        ];
        for (path, expected) in cases {
            assert_eq!(path_matches(&exact, path), expected, "{path}");
        }
    }

    #[test]
    fn regex_is_anchored() {
        let re = PathMatch::RegularExpression(std::sync::Arc::new(
            regex::Regex::new("/v[0-9]+/.*").expect("valid regex"),
        ));
        assert!(path_matches(&re, "/v12/users"));
        assert!(!path_matches(&re, "/api/v12/users"));
    }

    #[test]
    fn regexes_are_validated_as_written_then_anchored() {
        let re = compile_whole_match("/v[0-9]+/.*").expect("valid");
        assert!(re.is_match("/v1/x") && !re.is_match("/a/v1/x"));
        // Issue 10, finding 9: valid only once wrapped, where it means "anything".
        assert_eq!(
            compile_whole_match("/x)|(?:.*").expect_err("invalid as written"),
            "invalid regular expression \"/x)|(?:.*\": unopened group"
        );
        assert_eq!(
            compile_whole_match("/(").expect_err("invalid"),
            "invalid regular expression \"/(\": unclosed group"
        );
        let err = compile_whole_match("(?x)/a#").expect_err("cannot anchor");
        assert!(err.contains("cannot anchor"), "{err}");
        assert!(compile_whole_match("(?x)/a#c\n").is_ok());
        // Size: a bound, with gwsim's wording.
        let err = compile_whole_match("\\w{1000}\\w{1000}").expect_err("too big");
        assert!(
            err.ends_with(
                "larger than 8388608 bytes, gwsim's limit for a regular expression (docs/limits.md)"
            ),
            "{err}"
        );
        assert!(compile_whole_match("/api/v[0-9]+/users/[a-z0-9-]{1,64}").is_ok());
        assert!(
            compile_whole_match("\\w{100}").is_ok(),
            "a usual size compiles"
        );
    }

    #[test]
    fn split_path_and_query() {
        assert_eq!(split_path("/a/b?x=1&y=2"), ("/a/b", "x=1&y=2"));
        assert_eq!(split_path("?x=1"), ("/", "x=1"));
        assert_eq!(split_path("/a"), ("/a", ""));
        assert_eq!(
            parse_query("animal=whale&animal=dolphin&flag"),
            vec![("animal", "whale"), ("animal", "dolphin"), ("flag", "")]
        );
    }
}
