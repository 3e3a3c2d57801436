//! Every `gwsim` command line the README and docs/*.md quote, and every example in the
//! commands' `--help`, must parse with the real command-line definition: the binary is run
//! with `GWSIM_PARSE_ONLY=1`, which parses the arguments exactly as a run would and exits
//! without doing the work. Synopsis notation is expanded: `[optional]` parts are tried with
//! and without, each alternative of `(a | b)` and `v1.6|v1.5` is tried, `...` repetition is
//! dropped, and upper-case placeholders (`PATH`, `N`, `URL`, ...) get a sample value.

use std::path::Path;
use std::process::Command;

/// One quoted command line and where it is.
#[derive(Debug)]
struct Quoted {
    place: String,
    line: String,
}

/// Command lines in fenced code blocks that run gwsim (`gwsim ...`, `cargo run --release --
/// ...`), after a pipe too (`helm template . | gwsim check -f -`).
fn quoted_commands(file: &str, text: &str) -> Vec<Quoted> {
    let mut out = Vec::new();
    // Inside a fence of command lines (sh, bash, console, shell or no language), inside
    // another fence (`text`: output samples, `yaml`), or outside.
    let mut commands = false;
    let mut other = false;
    let mut continued = String::new();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if let Some(lang) = trimmed.strip_prefix("```") {
            if commands || other {
                (commands, other) = (false, false);
            } else if matches!(lang, "" | "sh" | "bash" | "console" | "shell") {
                commands = true;
            } else {
                other = true;
            }
            continue;
        }
        if !commands {
            continue;
        }
        // A line ending in `\` goes on on the next one.
        if let Some(head) = trimmed.strip_suffix('\\') {
            continued.push_str(head);
            continue;
        }
        let joined = std::mem::take(&mut continued) + trimmed;
        let trimmed = joined.as_str();
        for segment in split_pipeline(trimmed) {
            let segment = segment.trim();
            let command = segment
                .strip_prefix("cargo run --release -- ")
                .map(|rest| format!("gwsim {rest}"))
                .or_else(|| segment.starts_with("gwsim ").then(|| segment.to_string()));
            if let Some(line) = command {
                out.push(Quoted {
                    place: format!("{file}:{}", i + 1),
                    line,
                });
            }
        }
    }
    out
}

/// The parts of a shell line between `|`, `&&`, `;`, `&` and before a `#` comment or a
/// redirection, outside quotes. A `|` between two words without spaces (`v1.6|v1.5`) and
/// inside `( ... )` is synopsis notation, not a pipe.
fn split_pipeline(line: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut depth = 0usize;
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match quote {
            Some(q) => {
                if c == q {
                    quote = None;
                }
                current.push(c);
            }
            None => match c {
                '\'' | '"' => {
                    quote = Some(c);
                    current.push(c);
                }
                '(' => {
                    depth += 1;
                    current.push(c);
                }
                ')' => {
                    depth = depth.saturating_sub(1);
                    current.push(c);
                }
                '#' if current.ends_with(' ') || current.is_empty() => break,
                '>' if depth == 0 => break,
                '|' | '&' | ';' if depth == 0 && (i == 0 || chars[i - 1] == ' ') => {
                    parts.push(std::mem::take(&mut current));
                    while i + 1 < chars.len() && matches!(chars[i + 1], '|' | '&') {
                        i += 1;
                    }
                }
                _ => current.push(c),
            },
        }
        i += 1;
    }
    parts.push(current);
    parts
}

/// Shell words, quotes removed; `[`, `]`, `(`, `)` and a lone `|` outside quotes are words of
/// their own (synopsis notation).
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut quoted = false;
    let flush = |current: &mut String, quoted: &mut bool, out: &mut Vec<String>| {
        if !current.is_empty() || *quoted {
            out.push(std::mem::take(current));
        }
        *quoted = false;
    };
    for c in line.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => current.push(c),
            None => match c {
                '\'' | '"' => {
                    quote = Some(c);
                    quoted = true;
                }
                ' ' => flush(&mut current, &mut quoted, &mut out),
                '[' | ']' | '(' | ')' => {
                    flush(&mut current, &mut quoted, &mut out);
                    out.push(c.to_string());
                }
                _ => current.push(c),
            },
        }
    }
    flush(&mut current, &mut quoted, &mut out);
    out
}

/// A synopsis: words, optional parts and alternatives.
#[derive(Clone, Debug)]
enum Part {
    Word(String),
    Optional(Vec<Part>),
    Choice(Vec<Vec<Part>>),
}

fn parse_parts(words: &[String], i: &mut usize, close: Option<&str>) -> Vec<Vec<Part>> {
    let mut alternatives = vec![Vec::new()];
    while *i < words.len() {
        let w = words[*i].as_str();
        *i += 1;
        match w {
            "[" => {
                let inner = parse_parts(words, i, Some("]"));
                let seq = inner.into_iter().next().unwrap_or_default();
                if let Some(a) = alternatives.last_mut() {
                    a.push(Part::Optional(seq));
                }
            }
            "(" => {
                let inner = parse_parts(words, i, Some(")"));
                if let Some(a) = alternatives.last_mut() {
                    a.push(Part::Choice(inner));
                }
            }
            "|" => alternatives.push(Vec::new()),
            _ if Some(w) == close => return alternatives,
            _ => {
                if let Some(a) = alternatives.last_mut() {
                    a.push(Part::Word(w.to_string()));
                }
            }
        }
    }
    alternatives
}

/// A sample value for a placeholder that must parse as a number or an address; other
/// words (paths, names: any text parses) as written, without `...` or a trailing `,`.
fn sample(word: &str) -> Vec<String> {
    let word = word.trim_end_matches("...").trim_end_matches(',');
    let value = match word {
        "" => return Vec::new(),
        "N" => "1",
        "SIZE" => "1M",
        "ADDR" => "127.0.0.1:6443",
        "URL" => "http://example.com/",
        _ => word,
    };
    vec![value.to_string()]
}

/// Ways to write a synopsis out: everything optional in, everything optional out, and each
/// alternative of each choice (and of `a|b` inside a word).
fn expand(parts: &[Part], optional_in: bool, choice: usize) -> Vec<String> {
    let mut out = Vec::new();
    for part in parts {
        match part {
            Part::Word(w) => {
                let pieces: Vec<&str> = w.split('|').collect();
                let pick = if w.starts_with("http") || pieces.len() == 1 {
                    w.as_str()
                } else {
                    pieces[choice.min(pieces.len() - 1)]
                };
                out.extend(sample(pick));
            }
            Part::Optional(inner) => {
                if optional_in {
                    out.extend(expand(inner, optional_in, choice));
                }
            }
            Part::Choice(alternatives) => {
                let alt = &alternatives[choice.min(alternatives.len() - 1)];
                out.extend(expand(alt, optional_in, choice));
            }
        }
    }
    out
}

/// The argument lists a quoted line stands for.
fn variants(line: &str) -> Vec<Vec<String>> {
    let words = words(line);
    let mut i = 0;
    let parts = parse_parts(&words, &mut i, None)
        .into_iter()
        .next()
        .unwrap_or_default();
    let mut out: Vec<Vec<String>> = Vec::new();
    for choice in 0..3 {
        for optional_in in [true, false] {
            let args = expand(&parts, optional_in, choice);
            if !out.contains(&args) {
                out.push(args);
            }
        }
    }
    out.into_iter()
        .map(|mut args| {
            // Drop the program name.
            args.remove(0);
            args
        })
        .collect()
}

/// Why the arguments do not parse, or `None` when they do.
fn parse_error(args: &[String]) -> Option<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_gwsim"))
        .args(args)
        .env("GWSIM_PARSE_ONLY", "1")
        .output()
        .expect("the gwsim binary runs");
    // --help and --version print and exit 0; everything else exits 0 only when it parsed.
    (!out.status.success()).then(|| String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Every variant of every quoted line that does not parse, with its place.
fn failures(quoted: &[Quoted]) -> Vec<String> {
    let mut failed = Vec::new();
    for q in quoted {
        for args in variants(&q.line) {
            if let Some(err) = parse_error(&args) {
                failed.push(format!(
                    "{}: `{}` as `gwsim {}` does not parse:\n{err}",
                    q.place,
                    q.line,
                    args.join(" ")
                ));
            }
        }
    }
    failed
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn documented_commands() -> Vec<Quoted> {
    let mut files = vec![repo().join("README.md")];
    let mut docs: Vec<_> = std::fs::read_dir(repo().join("docs"))
        .expect("docs/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    let mut quoted = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("readable");
        let name = file
            .strip_prefix(repo())
            .unwrap_or(&file)
            .display()
            .to_string();
        quoted.extend(quoted_commands(&name, &text));
    }
    quoted
}

#[test]
fn every_documented_command_line_parses() {
    let quoted = documented_commands();
    // The README alone quotes more than twenty: finding fewer means the extraction broke.
    assert!(
        quoted.len() >= 20,
        "only {} command lines found: {quoted:#?}",
        quoted.len()
    );
    let failed = failures(&quoted);
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

/// The examples of every command's `--help` are command lines too.
#[test]
fn every_help_example_parses() {
    let subcommands = [
        "check",
        "routes",
        "explain",
        "audit",
        "diff",
        "run",
        "tui",
        "conformance",
        "serve",
        "version",
        "completion",
        "man",
    ];
    let mut quoted = Vec::new();
    for sub in subcommands {
        // At 80 columns: an example wider than that would be broken by the wrapping.
        let out = Command::new(env!("CARGO_BIN_EXE_gwsim"))
            .args([sub, "--help"])
            .env("COLUMNS", "80")
            .output()
            .expect("the gwsim binary runs");
        let help = String::from_utf8_lossy(&out.stdout).into_owned();
        let examples = help
            .split_once("Examples:")
            .map(|(_, e)| e.to_string())
            .unwrap_or_default();
        let fenced = format!("```\n{examples}\n```");
        let q = quoted_commands(&format!("gwsim {sub} --help"), &fenced);
        let found = q.len();
        quoted.extend(q);
        assert!(
            found >= 2,
            "gwsim {sub} --help has {found} examples: {help}"
        );
    }
    let mut failed = failures(&quoted);
    // Examples on the repository's own test data run for real, from the repository's root:
    // they must not fail to read their input (exit 2).
    let mut ran = 0;
    for q in &quoted {
        let args: Vec<String> = words(&q.line).into_iter().skip(1).collect();
        if !runs_cheaply(&args) {
            continue;
        }
        ran += 1;
        let out = Command::new(env!("CARGO_BIN_EXE_gwsim"))
            .args(&args)
            .current_dir(repo())
            .stdin(std::process::Stdio::null())
            .output()
            .expect("the gwsim binary runs");
        if !matches!(out.status.code(), Some(0 | 1)) {
            failed.push(format!(
                "{}: `{}` exits {:?}: {}",
                q.place,
                q.line,
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(ran >= 10, "only {ran} examples ran");
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

/// Whether an example can run in the test: a command that reads files and prints, every
/// file it names in the repository's test data, nothing written to disk.
fn runs_cheaply(args: &[String]) -> bool {
    let reads = [
        "check",
        "routes",
        "explain",
        "audit",
        "diff",
        "run",
        "conformance",
        "version",
    ];
    if !args.first().is_some_and(|c| reads.contains(&c.as_str())) {
        return false;
    }
    if args
        .iter()
        .any(|a| ["--report", "--junit", "-"].contains(&a.as_str()))
    {
        return false;
    }
    let path_flags = [
        "-f",
        "--filename",
        "--before",
        "--after",
        "--change",
        "--requests",
    ];
    let mut paths: Vec<&String> = args
        .windows(2)
        .filter(|w| path_flags.contains(&w[0].as_str()))
        .map(|w| &w[1])
        .collect();
    if args[0] == "run" {
        paths.extend(args.get(1));
    }
    paths
        .iter()
        .all(|p| p.starts_with("testdata/") && repo().join(p).exists())
}

/// The check can fail: lines that do not parse are reported, with their place.
#[test]
fn a_line_that_does_not_parse_is_reported() {
    let text = "```sh\ngwsim explain -f a.yaml --no-such-flag http://x/\ngwsim routes -f a.yaml\ngwsim conformance --run (A | B) --seed notanumber\n```\n";
    let quoted = quoted_commands("bad.md", text);
    assert_eq!(quoted.len(), 3);
    let failed = failures(&quoted);
    assert!(
        failed.iter().any(|f| f.starts_with("bad.md:2:")),
        "{failed:?}"
    );
    assert!(
        failed.iter().any(|f| f.starts_with("bad.md:4:")),
        "{failed:?}"
    );
    assert!(
        !failed.iter().any(|f| f.starts_with("bad.md:3:")),
        "{failed:?}"
    );
}

#[test]
fn synopsis_notation_expands() {
    let v = variants(
        "gwsim diff --before PATH... (--after PATH... | --delete KIND/NS/NAME...) [--seed N]",
    );
    assert!(v.contains(&vec![
        "diff".to_string(),
        "--before".into(),
        "PATH".into(),
        "--after".into(),
        "PATH".into(),
        "--seed".into(),
        "1".into()
    ]));
    assert!(v.iter().any(|a| a.contains(&"--delete".to_string())));
    let v = variants("gwsim check -f x --gateway-api-version v1.6|v1.5 -H 'a: b'");
    assert!(v.iter().any(|a| a.contains(&"v1.5".to_string())));
    assert!(v.iter().all(|a| a.contains(&"a: b".to_string())));
    assert_eq!(
        quoted_commands("x", "```\nhelm template . | gwsim check -f - # c\n```")[0].line,
        "gwsim check -f -"
    );
}
