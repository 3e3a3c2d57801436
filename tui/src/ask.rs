//! The Ask pane's request line: `GET http://example.com/path -H 'x: y'` into a request.
//!
//! Grammar, curl-like: `[METHOD] URL [-H 'name: value']... [-g NAMESPACE/NAME] [--sni NAME]`.
//! Words are split on spaces; single quotes keep everything, double quotes keep all but `\`
//! escapes, and a backslash outside quotes keeps the next character.

use gwsim_engine::decision::{Request, Scheme};
use gwsim_engine::object::{Kind, ObjectKey};
use gwsim_sim::inputs::{UrlError, host_without_port, parse_url};

/// A request line that cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AskError {
    #[error("type a request: [METHOD] URL [-H 'name: value']... [-g NS/NAME]")]
    Empty,
    #[error("unclosed {0} quote")]
    UnclosedQuote(char),
    #[error(transparent)]
    Url(#[from] UrlError),
    #[error("{0} needs a value")]
    MissingValue(String),
    #[error("header {0:?} is not `name: value`")]
    Header(String),
    #[error("-g takes NAMESPACE/NAME, got {0:?}")]
    Gateway(String),
    #[error("unknown option {0}")]
    Option(String),
    #[error("one URL only; {0:?} is extra")]
    Extra(String),
    #[error("no URL: give http://host/path")]
    NoUrl,
    #[error("{0:?} is not a URL: give http://host/path")]
    NotUrl(String),
    #[error("{0:?} is not an HTTP method")]
    Method(String),
}

/// Reads a request line. `gateway` is set only when the line names one (`-g`).
pub fn parse_request_line(line: &str) -> Result<Request, AskError> {
    let words = split_words(line)?;
    if words.is_empty() {
        return Err(AskError::Empty);
    }
    let mut method: Option<String> = None;
    let mut url: Option<String> = None;
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut gateway: Option<ObjectKey> = None;
    let mut sni: Option<String> = None;
    let mut words = words.into_iter();
    while let Some(word) = words.next() {
        let mut value = |name: &str| {
            words
                .next()
                .ok_or_else(|| AskError::MissingValue(name.to_string()))
        };
        match word.as_str() {
            "-H" | "--header" => {
                let header = value(&word)?;
                let (name, value) = header
                    .split_once(':')
                    .filter(|(n, _)| !n.trim().is_empty())
                    .ok_or_else(|| AskError::Header(header.clone()))?;
                headers.push((name.trim().to_string(), value.trim().to_string()));
            }
            "-g" | "--gateway" => {
                let text = value(&word)?;
                match text.split_once('/') {
                    Some((ns, name)) if !ns.is_empty() && !name.is_empty() => {
                        gateway = Some(ObjectKey::new(Kind::Gateway, ns, name));
                    }
                    _ => return Err(AskError::Gateway(text)),
                }
            }
            "-X" | "--request" => method = Some(value(&word)?),
            "--sni" => sni = Some(value(&word)?),
            w if w.starts_with('-') && w.len() > 1 => return Err(AskError::Option(word)),
            w if w.contains("://") => {
                if url.is_some() {
                    return Err(AskError::Extra(word));
                }
                url = Some(word);
            }
            _ if url.is_none() && method.is_none() => {
                if !word.chars().all(|c| c.is_ascii_alphabetic()) {
                    return Err(AskError::Method(word));
                }
                method = Some(word);
            }
            _ if url.is_none() => return Err(AskError::NotUrl(word)),
            _ => return Err(AskError::Extra(word)),
        }
    }
    let url = url.ok_or(AskError::NoUrl)?;
    let mut request = parse_url(&url)?;
    if let Some(method) = method {
        request.method = method.to_ascii_uppercase();
    }
    for (name, value) in headers {
        // As with curl, a Host header replaces the URL's host.
        if name.eq_ignore_ascii_case("host") {
            request.host = value;
        } else {
            request.headers.push((name, value));
        }
    }
    request.gateway = gateway;
    if request.scheme == Scheme::Https {
        request.sni = Some(sni.unwrap_or_else(|| host_without_port(&request.host)));
    }
    Ok(request)
}

/// Splits a line into words, shell-like.
fn split_words(line: &str) -> Result<Vec<String>, AskError> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                if let Some(w) = word.take() {
                    words.push(w);
                }
            }
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => return Err(AskError::UnclosedQuote('\'')),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c) => w.push(c),
                            None => return Err(AskError::UnclosedQuote('"')),
                        },
                        Some(c) => w.push(c),
                        None => return Err(AskError::UnclosedQuote('"')),
                    }
                }
            }
            '\\' => {
                let w = word.get_or_insert_with(String::new);
                if let Some(c) = chars.next() {
                    w.push(c);
                }
            }
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    if let Some(w) = word {
        words.push(w);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(name: &str, value: &str) -> (String, String) {
        (name.to_string(), value.to_string())
    }

    #[test]
    fn reads_request_lines() {
        struct Case {
            line: &'static str,
            method: &'static str,
            host: &'static str,
            path: &'static str,
            port: u16,
            headers: Vec<(String, String)>,
            gateway: Option<&'static str>,
        }
        let cases = [
            Case {
                line: "GET http://example.com/path -H 'x: y'",
                method: "GET",
                host: "example.com",
                path: "/path",
                port: 80,
                headers: vec![header("x", "y")],
                gateway: None,
            },
            Case {
                line: "http://example.com",
                method: "GET",
                host: "example.com",
                path: "/",
                port: 80,
                headers: vec![],
                gateway: None,
            },
            Case {
                line: r#"post http://a.example:8080/v2?q=1 -H "x-a: one two" -H x-b:\ 2 -g ns/gw"#,
                method: "POST",
                host: "a.example:8080",
                path: "/v2?q=1",
                port: 8080,
                headers: vec![header("x-a", "one two"), header("x-b", "2")],
                gateway: Some("ns/gw"),
            },
            Case {
                line: "  http://ip.example/  -H 'Host: named.example'  -X delete ",
                method: "DELETE",
                host: "named.example",
                path: "/",
                port: 80,
                headers: vec![],
                gateway: None,
            },
        ];
        for case in cases {
            let r = parse_request_line(case.line).expect(case.line);
            assert_eq!(r.method, case.method, "{}", case.line);
            assert_eq!(r.host, case.host, "{}", case.line);
            assert_eq!(r.path, case.path, "{}", case.line);
            assert_eq!(r.port, case.port, "{}", case.line);
            assert_eq!(r.headers, case.headers, "{}", case.line);
            assert_eq!(
                r.gateway
                    .as_ref()
                    .map(ObjectKey::namespaced_name)
                    .as_deref(),
                case.gateway,
                "{}",
                case.line
            );
        }
    }

    #[test]
    fn https_sends_the_host_as_server_name() {
        let r = parse_request_line("https://secure.example:8443/").expect("parses");
        assert_eq!(r.sni.as_deref(), Some("secure.example"));
        let r = parse_request_line("https://a.example/ --sni b.example").expect("parses");
        assert_eq!(r.sni.as_deref(), Some("b.example"));
    }

    #[test]
    fn says_what_is_wrong() {
        let cases: [(&str, AskError); 10] = [
            ("", AskError::Empty),
            ("   ", AskError::Empty),
            ("GET", AskError::NoUrl),
            ("GET http://a/ -H 'x: y", AskError::UnclosedQuote('\'')),
            ("GET http://a/ -H", AskError::MissingValue("-H".into())),
            (
                "GET http://a/ -H nocolon",
                AskError::Header("nocolon".into()),
            ),
            ("GET http://a/ -g gw", AskError::Gateway("gw".into())),
            (
                "GET http://a/ --verbose",
                AskError::Option("--verbose".into()),
            ),
            (
                "GET http://a/ http://b/",
                AskError::Extra("http://b/".into()),
            ),
            ("G/T http://a/", AskError::Method("G/T".into())),
        ];
        for (line, expected) in cases {
            assert_eq!(parse_request_line(line), Err(expected), "{line:?}");
        }
        assert_eq!(
            parse_request_line("GET example.com/"),
            Err(AskError::NotUrl("example.com/".into()))
        );
        assert_eq!(
            parse_request_line("GET http://a/ b"),
            Err(AskError::Extra("b".into()))
        );
        assert_eq!(
            parse_request_line("ftp://a/"),
            Err(AskError::Url(UrlError::Scheme("ftp://a/".into())))
        );
        // Issue 10, finding 11: two ports were accepted; now the shared URL parser refuses.
        assert!(matches!(
            parse_request_line("GET http://host:80:80/"),
            Err(AskError::Url(UrlError::Invalid { .. }))
        ));
    }

    #[test]
    fn ipv6_literals_and_fragments_read_as_a_client_sends_them() {
        let r = parse_request_line("GET http://[::1]:8080/a?x=1#section").expect("parses");
        assert_eq!(
            (r.host.as_str(), r.port, r.path.as_str()),
            ("[::1]:8080", 8080, "/a?x=1")
        );
        let r = parse_request_line("http://[::1]/").expect("parses");
        assert_eq!((r.host.as_str(), r.port), ("[::1]", 80));
    }
}
