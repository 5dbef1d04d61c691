//! Finding the files to validate: explicit files as given, directories walked recursively
//! (in parallel, one directory level at a time) for `*.yaml` and `*.yml` files.

use std::ffi::OsStr;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

/// Directory names never descended into, besides hidden ones.
pub const SKIPPED_DIRS: &[&str] = &["node_modules"];

/// The files found under the given paths, and the paths that could not be read.
#[derive(Debug, Default)]
pub struct Walk {
    /// Files to validate, sorted by path, without duplicates.
    pub files: Vec<PathBuf>,
    /// Paths that do not exist or could not be listed, in the order met.
    pub errors: Vec<WalkError>,
}

/// A path that could not be inspected or listed.
#[derive(Debug)]
pub struct WalkError {
    /// The path concerned.
    pub path: PathBuf,
    /// What went wrong.
    pub error: io::Error,
}

impl fmt::Display for WalkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot read {}: {}", self.path.display(), self.error)
    }
}

/// Expands `paths` into the files to validate.
///
/// - A path that is not a directory is taken as a file whatever its name or extension.
/// - A directory is walked recursively for files whose extension is `yaml` or `yml` (any
///   case). Hidden entries (names starting with `.`, e.g. `.git`, `.github`,
///   `.gitlab-ci.yml`) and `node_modules` directories are skipped. Symbolic links to files
///   are followed; symbolic links to directories are not (no cycles, no escaping the tree).
///   Paths given explicitly are never skipped, even when hidden.
///
/// The result is sorted by path and de-duplicated, so the output order does not depend on
/// the order of the arguments or on the file system.
#[must_use]
pub fn collect_files(paths: &[PathBuf]) -> Walk {
    let mut walk = Walk::default();
    let mut frontier = Vec::new();
    for path in paths {
        match fs::metadata(path) {
            Ok(meta) if meta.is_dir() => frontier.push(path.clone()),
            Ok(_) => walk.files.push(path.clone()),
            Err(error) => walk.errors.push(WalkError {
                path: path.clone(),
                error,
            }),
        }
    }
    while !frontier.is_empty() {
        let listings: Vec<Listing> = frontier.par_iter().map(|dir| list_dir(dir)).collect();
        frontier = Vec::new();
        for listing in listings {
            walk.files.extend(listing.files);
            walk.errors.extend(listing.errors);
            frontier.extend(listing.dirs);
        }
    }
    walk.files.sort();
    walk.files.dedup();
    walk
}

/// What one directory holds, as far as the walk is concerned.
#[derive(Debug, Default)]
struct Listing {
    files: Vec<PathBuf>,
    dirs: Vec<PathBuf>,
    errors: Vec<WalkError>,
}

fn list_dir(dir: &Path) -> Listing {
    let mut listing = Listing::default();
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) => {
            listing.errors.push(WalkError {
                path: dir.to_path_buf(),
                error,
            });
            return listing;
        }
    };
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(error) => {
                listing.errors.push(WalkError {
                    path: dir.to_path_buf(),
                    error,
                });
                continue;
            }
        };
        let name = entry.file_name();
        if is_hidden(&name) {
            continue;
        }
        let path = entry.path();
        let file_type = match entry.file_type() {
            Ok(file_type) => file_type,
            Err(error) => {
                listing.errors.push(WalkError { path, error });
                continue;
            }
        };
        if file_type.is_dir() {
            if !SKIPPED_DIRS
                .iter()
                .any(|skipped| name == OsStr::new(skipped))
            {
                listing.dirs.push(path);
            }
        } else if is_yaml_name(&name) {
            if file_type.is_symlink() {
                // Follow links to files only; a dangling link is reported.
                match fs::metadata(&path) {
                    Ok(meta) if meta.is_file() => listing.files.push(path),
                    Ok(_) => {}
                    Err(error) => listing.errors.push(WalkError { path, error }),
                }
            } else if file_type.is_file() {
                listing.files.push(path);
            }
        }
    }
    listing
}

/// Whether a directory entry is hidden (its name starts with `.`).
fn is_hidden(name: &OsStr) -> bool {
    name.as_encoded_bytes().first() == Some(&b'.')
}

/// Whether a file name ends in `.yaml` or `.yml`, in any case.
fn is_yaml_name(name: &OsStr) -> bool {
    Path::new(name)
        .extension()
        .and_then(OsStr::to_str)
        .is_some_and(|ext| ext.eq_ignore_ascii_case("yaml") || ext.eq_ignore_ascii_case("yml"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_names_are_recognised_in_any_case() {
        for name in ["a.yaml", "a.yml", "A.YAML", "catalog-info.Yml"] {
            assert!(is_yaml_name(OsStr::new(name)), "{name}");
        }
        for name in ["a.json", "yaml", "a.yaml.bak", "a."] {
            assert!(!is_yaml_name(OsStr::new(name)), "{name}");
        }
    }

    #[test]
    fn hidden_names_start_with_a_dot() {
        assert!(is_hidden(OsStr::new(".git")));
        assert!(is_hidden(OsStr::new(".gitlab-ci.yml")));
        assert!(!is_hidden(OsStr::new("catalog-info.yaml")));
    }
}
