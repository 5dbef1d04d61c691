//! `FileReaderProcessor`: reads `file` locations (absolute paths and globs).

use std::path::{Component, Path, PathBuf};

use async_trait::async_trait;
use globset::{GlobBuilder, GlobMatcher};

use super::error::{ProcessorError, ProcessorResult};
use super::parse::emit_entity_yaml;
use super::processor::{CatalogProcessor, ProcessorContext};
use super::rules::normalize_path;
use crate::model::LocationSpec;

/// Most files one `file` location may match.
const MAX_MATCHES: usize = 10_000;
/// Most directory entries a glob walk may look at.
const MAX_VISITED: usize = 200_000;

/// Reads `file` locations: the target is a path or a glob (`*`, `**`, `?`, `[…]`, `{a,b}`;
/// `*` does not match `/`, and dot files are matched only by patterns that spell the dot).
/// Each matching file is read once, parsed as YAML (one entity per document) and emitted,
/// with the refresh key `file:<path>`. No match is `NotFoundError: file <target> does not
/// exist` unless the location is optional; a read failure is `Error: file <target> could
/// not be read, …`.
///
/// Relative targets are resolved against the working directory (Backstage resolves
/// `./`-relative targets of Location entities against the entity's own file before this).
#[derive(Debug, Clone, Copy, Default)]
pub struct FileReaderProcessor;

impl FileReaderProcessor {
    /// The processor.
    pub fn new() -> Self {
        Self
    }
}

fn has_glob_chars(s: &str) -> bool {
    s.contains(['*', '?', '[', '{'])
}

/// Every file matching `target`, sorted.
///
/// # Errors
/// An invalid glob, or an I/O error other than "not found" on a plain path.
pub(crate) fn find_files(target: &str) -> std::io::Result<Vec<PathBuf>> {
    let absolute = if Path::new(target).is_absolute() {
        PathBuf::from(target)
    } else {
        std::env::current_dir()?.join(target)
    };
    if !has_glob_chars(target) {
        let path = PathBuf::from(normalize_path(&absolute));
        return match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => Ok(vec![path]),
            Ok(_) => Ok(Vec::new()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(e),
        };
    }
    let pattern = normalize_path(&absolute);
    let matcher = GlobBuilder::new(&pattern)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?
        .compile_matcher();
    // The walk starts at the longest prefix without glob characters.
    let mut base = PathBuf::new();
    let mut rest: Vec<String> = Vec::new();
    for component in Path::new(&pattern).components() {
        let text = component.as_os_str().to_string_lossy().into_owned();
        if rest.is_empty() && !has_glob_chars(&text) {
            base.push(component);
        } else if !matches!(component, Component::RootDir) {
            rest.push(text);
        }
    }
    let mut walker = Walker {
        matcher,
        rest,
        out: Vec::new(),
        visited: 0,
    };
    walker.walk(&base, 0)?;
    let mut out = walker.out;
    out.sort();
    Ok(out)
}

struct Walker {
    matcher: GlobMatcher,
    /// The pattern's components after the walk's base.
    rest: Vec<String>,
    out: Vec<PathBuf>,
    visited: usize,
}

impl Walker {
    /// Visits `dir`, whose entries are matched against `rest[depth]` (or, past a `**`, any
    /// depth).
    fn walk(&mut self, dir: &Path, depth: usize) -> std::io::Result<()> {
        let recursive = self.rest[..depth.min(self.rest.len())]
            .iter()
            .any(|c| c == "**")
            || self.rest.get(depth).is_some_and(|c| c == "**");
        if !recursive && depth >= self.rest.len() {
            return Ok(());
        }
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
                ) =>
            {
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        // The component this depth is matched against (for the dot-file rule).
        let component = if recursive {
            self.rest.last().cloned().unwrap_or_default()
        } else {
            self.rest[depth].clone()
        };
        for entry in entries {
            let entry = entry?;
            self.visited += 1;
            if self.visited > MAX_VISITED || self.out.len() >= MAX_MATCHES {
                return Ok(());
            }
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') && !component.starts_with('.') {
                continue;
            }
            let path = entry.path();
            let file_type = entry.file_type()?;
            // Symbolic links are followed at fixed depths, never under `**` (no loops).
            let (is_dir, is_file) = if file_type.is_symlink() {
                if recursive {
                    (false, std::fs::metadata(&path).is_ok_and(|m| m.is_file()))
                } else {
                    let m = std::fs::metadata(&path);
                    (
                        m.as_ref().is_ok_and(|m| m.is_dir()),
                        m.is_ok_and(|m| m.is_file()),
                    )
                }
            } else {
                (file_type.is_dir(), file_type.is_file())
            };
            if is_file && self.matcher.is_match(&path) {
                self.out.push(path);
            } else if is_dir {
                self.walk(&path, depth + 1)?;
            }
        }
        Ok(())
    }
}

#[async_trait]
impl CatalogProcessor for FileReaderProcessor {
    fn name(&self) -> &str {
        "FileReaderProcessor"
    }

    async fn read_location(
        &self,
        location: &LocationSpec,
        optional: bool,
        ctx: &mut ProcessorContext<'_>,
    ) -> ProcessorResult<bool> {
        if location.kind != "file" {
            return Ok(false);
        }
        let target = location.target.clone();
        // Globbing and reading block: do it off the async threads, each file read once.
        let read = tokio::task::spawn_blocking(
            move || -> std::io::Result<Vec<(PathBuf, std::io::Result<Vec<u8>>)>> {
                let files = find_files(&target)?;
                Ok(files
                    .into_iter()
                    .map(|path| {
                        let data = std::fs::read(&path);
                        (path, data)
                    })
                    .collect())
            },
        )
        .await;
        let files = match read {
            Ok(Ok(files)) => files,
            Ok(Err(e)) => {
                ctx.emit().error(
                    location,
                    ProcessorError::general(format!(
                        "{} {} could not be read, Error: {e}",
                        location.kind, location.target
                    )),
                );
                return Ok(true);
            }
            Err(e) => {
                ctx.emit().error(
                    location,
                    ProcessorError::general(format!(
                        "{} {} could not be read, Error: {e}",
                        location.kind, location.target
                    )),
                );
                return Ok(true);
            }
        };
        if files.is_empty() {
            if !optional {
                ctx.emit().error(
                    location,
                    ProcessorError::not_found(format!(
                        "{} {} does not exist",
                        location.kind, location.target
                    )),
                );
            }
            return Ok(true);
        }
        for (path, data) in files {
            let path = path.to_string_lossy().into_owned();
            match data {
                Ok(data) => {
                    let at = LocationSpec::new("file", path.clone());
                    emit_entity_yaml(ctx.emit(), &data, &at);
                    ctx.emit().refresh(format!("file:{path}"));
                }
                Err(e) => ctx.emit().error(
                    location,
                    ProcessorError::general(format!(
                        "{} {} could not be read, Error: {e}",
                        location.kind, location.target
                    )),
                ),
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "kind: X\n").unwrap();
    }

    #[test]
    fn globs_match_like_node_glob() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for p in [
            "a.yaml",
            "b.yml",
            "sub/c.yaml",
            "sub/deep/d.yaml",
            ".hidden.yaml",
            "sub/.e.yaml",
            ".dot/f.yaml",
        ] {
            touch(&root.join(p));
        }
        let names = |pattern: &str| -> Vec<String> {
            find_files(&format!("{}/{pattern}", root.display()))
                .unwrap()
                .iter()
                .map(|p| p.strip_prefix(root).unwrap().to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(names("*.yaml"), ["a.yaml"]);
        assert_eq!(names("*.{yaml,yml}"), ["a.yaml", "b.yml"]);
        assert_eq!(names("*/*.yaml"), ["sub/c.yaml"]);
        assert_eq!(
            names("**/*.yaml"),
            ["a.yaml", "sub/c.yaml", "sub/deep/d.yaml"]
        );
        assert_eq!(names(".*.yaml"), [".hidden.yaml"]);
        assert_eq!(names("sub/./c.yaml"), ["sub/c.yaml"]);
        assert_eq!(names("sub/../a.yaml"), ["a.yaml"]);
        assert!(names("nothing/*.yaml").is_empty());
        assert!(names("missing.yaml").is_empty());
        assert_eq!(
            names("sub"),
            Vec::<String>::new(),
            "directories are not files"
        );
    }
}
