//! Reading YAML sources from disk: files, and folders of `.yaml`/`.yml` files in name order.

use std::path::{Path, PathBuf};

/// One YAML source: its name for messages (the path as given) and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    pub name: String,
    pub path: PathBuf,
    pub text: String,
}

/// A path that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct ReadError {
    pub path: String,
    #[source]
    pub source: std::io::Error,
}

/// Reads each path: a file as is, a folder as its `.yaml` and `.yml` files (recursively), in
/// name order. Paths are read in the order given.
pub fn read_sources(paths: &[PathBuf]) -> Result<Vec<Source>, ReadError> {
    source_paths(paths)?
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).map_err(|source| ReadError {
                path: path.display().to_string(),
                source,
            })?;
            Ok(Source {
                name: path.display().to_string(),
                path,
                text,
            })
        })
        .collect()
}

/// The files [`read_sources`] reads, in the order it reads them (for watching them change).
pub fn source_paths(paths: &[PathBuf]) -> Result<Vec<PathBuf>, ReadError> {
    let mut out = Vec::new();
    for path in paths {
        list_into(path, &mut out)?;
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
                        Some("yaml") | Some("yml")
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
