//! Reading sources from disk: files, folders of `.yaml`/`.yml`/`.json` files in name order,
//! and standard input (`-`), each bounded in size.

use std::io::Read;
use std::path::{Path, PathBuf};

use gwsim_engine::load::{DEFAULT_MAX_INPUT_BYTES, size};

/// One source: its name for messages (the path as given, `<stdin>` for `-`) and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    pub name: String,
    pub path: PathBuf,
    pub text: String,
}

/// A path that could not be read, and why, once (`x.yaml: No such file or directory`).
#[derive(Debug)]
pub struct ReadError {
    pub path: String,
    pub source: std::io::Error,
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, describe(&self.source))
    }
}

// No `source()`: the reason is already in the message, and printing the chain would repeat it.
impl std::error::Error for ReadError {}

/// An I/O error in the user's terms: the system's words without `(os error N)`.
fn describe(error: &std::io::Error) -> String {
    let text = error.to_string();
    match text.find(" (os error ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// The name standard input goes by in messages.
pub const STDIN_NAME: &str = "<stdin>";

/// Reads each path with the default size limit ([`DEFAULT_MAX_INPUT_BYTES`]).
pub fn read_sources(paths: &[PathBuf]) -> Result<Vec<Source>, ReadError> {
    read_sources_limited(paths, DEFAULT_MAX_INPUT_BYTES)
}

/// Reads each path: a file as is, a folder as its `.yaml`, `.yml` and `.json` files
/// (recursively), in name order, `-` as standard input. Paths are read in the order given. One
/// source, and all of them together, may hold at most `max_bytes`: more is an error, read no
/// further (`/dev/zero` stops there).
pub fn read_sources_limited(paths: &[PathBuf], max_bytes: u64) -> Result<Vec<Source>, ReadError> {
    let mut total = 0u64;
    let mut out = Vec::new();
    for path in source_paths(paths)? {
        let name = if is_stdin(&path) {
            STDIN_NAME.to_string()
        } else {
            path.display().to_string()
        };
        let error = |source| ReadError {
            path: name.clone(),
            source,
        };
        let left = max_bytes.saturating_sub(total);
        let text = if is_stdin(&path) {
            read_limited(std::io::stdin().lock(), left, max_bytes, total > 0)
        } else {
            std::fs::File::open(&path).and_then(|file| {
                // Sized from the start: grown by doubling, a large file's buffer was copied
                // and its pages touched several times (a fifth of `check`'s time on 76 MB).
                let size = file.metadata().map_or(0, |m| m.len()).min(left);
                let capacity = usize::try_from(size).unwrap_or(0);
                read_limited_into(
                    file,
                    Vec::with_capacity(capacity),
                    left,
                    max_bytes,
                    total > 0,
                )
            })
        }
        .map_err(error)?;
        total += text.len() as u64;
        out.push(Source { name, path, text });
    }
    Ok(out)
}

fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Reads at most `left` bytes of UTF-8 text; one byte more is an error naming the limit.
/// `shared`: earlier sources used part of the limit (said in the message).
pub fn read_limited(
    reader: impl Read,
    left: u64,
    max_bytes: u64,
    shared: bool,
) -> std::io::Result<String> {
    read_limited_into(reader, Vec::new(), left, max_bytes, shared)
}

/// [`read_limited`] into `bytes` (empty, with the capacity the input is expected to need).
fn read_limited_into(
    reader: impl Read,
    mut bytes: Vec<u8>,
    left: u64,
    max_bytes: u64,
    shared: bool,
) -> std::io::Result<String> {
    reader
        .take(left.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > left {
        let what = if shared {
            "the inputs together are"
        } else {
            "the input is"
        };
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "{what} larger than {}, gwsim's input size limit (--max-input-size changes it)",
                size(max_bytes)
            ),
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = valid.len() - valid.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1) + 1;
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("line {line}, column {column} holds a byte that is not UTF-8 text"),
        )
    })
}

/// `--max-input-size`: bytes, or a number with `K`, `M`, `G` (or `KiB`, `MiB`, `GiB`, powers
/// of 1024).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(digits);
    let scale: u64 = match unit.trim() {
        "" | "B" => 1,
        "K" | "KiB" | "k" => 1 << 10,
        "M" | "MiB" => 1 << 20,
        "G" | "GiB" => 1 << 30,
        other => {
            return Err(format!(
                "unknown unit {other:?} in {text:?}: write bytes, or a number with K, M or G"
            ));
        }
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size: write bytes, or a number with K, M or G"))?;
    n.checked_mul(scale)
        .filter(|&b| b > 0)
        .ok_or_else(|| format!("{text:?} is not a size between 1 byte and 16 EiB"))
}

/// The files [`read_sources`] reads, in the order it reads them (for watching them change).
/// `-` (standard input) is listed as itself.
pub fn source_paths(paths: &[PathBuf]) -> Result<Vec<PathBuf>, ReadError> {
    let mut out = Vec::new();
    for path in paths {
        if is_stdin(path) {
            out.push(path.clone());
        } else {
            list_into(path, &mut out)?;
        }
    }
    Ok(out)
}

fn list_into(path: &Path, out: &mut Vec<PathBuf>) -> Result<(), ReadError> {
    let err = |source| ReadError {
        path: path.display().to_string(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(err)?;
    if meta.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(err)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.is_dir()
                    || matches!(
                        p.extension().and_then(|e| e.to_str()),
                        Some("yaml") | Some("yml") | Some("json")
                    )
            })
            .collect();
        entries.sort();
        for entry in entries {
            list_into(&entry, out)?;
        }
    } else {
        out.push(path.to_path_buf());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus(path: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../testdata/corpus")
            .join(path)
    }

    #[test]
    fn folders_include_json_files_in_name_order() {
        let sources = read_sources(&[corpus("helm-rendered")]).expect("reads");
        let names: Vec<String> = sources
            .iter()
            .map(|s| {
                s.path
                    .strip_prefix(corpus("helm-rendered"))
                    .expect("inside")
                    .display()
                    .to_string()
            })
            .collect();
        assert_eq!(
            names,
            [
                "Chart.yaml",
                "kustomization.yaml",
                "templates/extra-route.json",
                "templates/rendered.yaml",
                "values.yaml"
            ]
        );
    }

    #[test]
    fn size_limit_stops_reading() {
        // An endless reader stands for /dev/zero: reading stops one byte past the limit.
        let endless = std::io::repeat(0);
        let err = read_limited(endless, 1024, 1024, false).expect_err("bounded");
        assert_eq!(
            err.to_string(),
            "the input is larger than 1 KiB, gwsim's input size limit (--max-input-size changes it)"
        );
        let ok = read_limited(std::io::Cursor::new(b"a: b\n".to_vec()), 5, 5, false);
        assert_eq!(ok.expect("fits").as_str(), "a: b\n");
    }

    #[test]
    fn dev_zero_is_refused_with_the_limit() {
        let zero = PathBuf::from("/dev/zero");
        if !zero.exists() {
            return;
        }
        let err = read_sources_limited(&[zero], 1 << 20).expect_err("bounded");
        assert_eq!(
            err.to_string(),
            "/dev/zero: the input is larger than 1 MiB, gwsim's input size limit (--max-input-size changes it)"
        );
    }

    #[test]
    fn errors_say_the_reason_once() {
        let err = read_sources(&[PathBuf::from("no/such/file.yaml")]).expect_err("missing");
        assert_eq!(
            err.to_string(),
            "no/such/file.yaml: No such file or directory"
        );
        assert!(std::error::Error::source(&err).is_none());
        let bad = read_limited(
            std::io::Cursor::new(b"a: b\nc: \xff\n".to_vec()),
            100,
            100,
            false,
        )
        .expect_err("not UTF-8");
        assert_eq!(
            bad.to_string(),
            "line 2, column 4 holds a byte that is not UTF-8 text"
        );
    }

    #[test]
    fn stdin_reads_as_a_source() {
        // The reader behind `-f -`, fed the corpus file as standard input would be.
        let text = std::fs::read_to_string(corpus("stdin/route.yaml")).expect("corpus");
        let read = read_limited(
            std::io::Cursor::new(text.clone().into_bytes()),
            1 << 20,
            1 << 20,
            false,
        )
        .expect("reads");
        let loaded =
            gwsim_engine::load::load(STDIN_NAME, &read, &Default::default()).expect("loads");
        assert_eq!(loaded.documents.len(), 1);
        assert_eq!(
            loaded.documents[0].origin.to_string(),
            "<stdin>:2 (document 1)"
        );
        assert_eq!(
            source_paths(&[PathBuf::from("-")]).expect("lists"),
            [PathBuf::from("-")]
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert!(parse_size("0").is_err());
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("99999999999G").is_err());
    }
}
