//! Loading config files and environment overrides (Backstage's `loadConfig` with the default
//! sources of `ConfigSources.default`).

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use serde_json::Value;

use super::{ConfigLayer, env, js, transform, yaml};
use crate::error::FileProblem;
use crate::{Error, Result};

/// Where [`load_config`] reads from.
///
/// Libraries never read the process environment on their own: `env` starts empty, and the host
/// opts in with [`from_process_env`](Self::from_process_env) (or passes its own map).
///
/// `Debug` shows the names of the environment variables, never their values. The struct is
/// `#[non_exhaustive]` (options such as watching or remote sources may be added): start from
/// [`new`](Self::new) and use the setters or assign the fields.
///
/// ```
/// use backstage_backend_common::config::LoadConfigOptions;
///
/// let options = LoadConfigOptions::new("/srv/backstage")
///     .config_path("app-config.yaml")
///     .config_path("app-config.production.yaml")
///     .env([("APP_CONFIG_backend_listen_port".to_owned(), "8080".to_owned())].into());
/// assert_eq!(options.config_paths.len(), 2);
/// ```
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct LoadConfigOptions {
    /// The directory the default files are looked up in, and relative config paths resolve
    /// against (Backstage: the monorepo root). Made absolute against the current directory
    /// when relative.
    pub root: PathBuf,
    /// The files to load, lowest priority first (Backstage's `--config` arguments). Empty:
    /// the default files (see [`load_config`]).
    pub config_paths: Vec<PathBuf>,
    /// The environment: `${VAR}` substitution, `$env`, `BACKSTAGE_ENV` and the `APP_CONFIG_*`
    /// overrides all read this map, in its (sorted) order.
    pub env: BTreeMap<String, String>,
    /// With no config paths, whether a missing `app-config.yaml` is fine (Backstage's
    /// `allowMissingDefaultConfig`); by default it is an error.
    pub allow_missing_default_config: bool,
}

impl LoadConfigOptions {
    /// Options for loading the default files from `root`, with an empty environment.
    #[must_use]
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            ..Self::default()
        }
    }

    /// Adds a config file (relative paths resolve against [`root`](Self::root)); later files
    /// have higher priority. Once any is given, the default files and `BACKSTAGE_ENV` are
    /// ignored.
    #[must_use]
    pub fn config_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.config_paths.push(path.into());
        self
    }

    /// Replaces the environment.
    #[must_use]
    pub fn env(mut self, env: BTreeMap<String, String>) -> Self {
        self.env = env;
        self
    }

    /// Replaces the environment with the process environment (variables whose name or value
    /// is not valid UTF-8 are skipped). Hosts call this; libraries should not.
    #[must_use]
    pub fn from_process_env(mut self) -> Self {
        self.env = std::env::vars_os()
            .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
            .collect();
        self
    }

    /// Sets [`allow_missing_default_config`](Self::allow_missing_default_config).
    #[must_use]
    pub fn allow_missing_default_config(mut self, allow: bool) -> Self {
        self.allow_missing_default_config = allow;
        self
    }
}

impl fmt::Debug for LoadConfigOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadConfigOptions")
            .field("root", &self.root)
            .field("config_paths", &self.config_paths)
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .field(
                "allow_missing_default_config",
                &self.allow_missing_default_config,
            )
            .finish()
    }
}

/// Loads configuration the way Backstage's `loadConfig` does, lowest priority first.
///
/// 1. **Files.** The [`config_paths`](LoadConfigOptions::config_paths), in order; relative
///    ones resolve against the root. A path that parses as a URL with a host is
///    [`Error::RemoteConfigNotEnabled`]. With no config paths, these files in the root:
///    `app-config.yaml` (an error if missing, unless
///    [`allow_missing_default_config`](LoadConfigOptions::allow_missing_default_config)), then
///    for each comma-separated entry of `BACKSTAGE_ENV` (from the `env` map, trimmed)
///    `app-config.<env>.yaml`, then `app-config.local.yaml`, then each
///    `app-config.<env>.local.yaml` — each only if present.
/// 2. Each file is parsed as YAML and transformed: `${VAR}` substitution and the `$env`,
///    `$file` and `$include` directives, reading variables from `env`. An empty file (or one
///    holding only `null`) contributes no layer; the context of a file's layer is its base
///    name.
/// 3. **Environment.** One layer with context `env` from the `APP_CONFIG_*` variables, on
///    top.
///
/// Problems are reported in Backstage's order: a URL-like config path first, then the
/// `APP_CONFIG_*` variables, then the files in order.
///
/// # Errors
///
/// [`Error::RemoteConfigNotEnabled`], the `APP_CONFIG_*` errors ([`Error::InvalidEnvKey`],
/// [`Error::EnvOverride`], [`Error::EnvNest`], [`Error::EnvNull`]), [`Error::FileNotFound`],
/// and [`Error::File`] for unreadable files, invalid YAML, bad include directives and
/// non-object roots.
pub fn load_config(options: &LoadConfigOptions) -> Result<Vec<ConfigLayer>> {
    let root = absolute(&options.root);
    let files = config_files(options, &root)?;
    let env_layer = env::read_env_config(&options.env)?;
    let mut layers = Vec::with_capacity(files.len() + 1);
    for file in &files {
        if let Some(layer) = read_config_file(file, &options.env)? {
            layers.push(layer);
        }
    }
    layers.extend(env_layer);
    Ok(layers)
}

/// The files to load, absolute, lowest priority first.
fn config_files(options: &LoadConfigOptions, root: &Path) -> Result<Vec<PathBuf>> {
    if !options.config_paths.is_empty() {
        return options
            .config_paths
            .iter()
            .map(|path| {
                if let Some(target) = path.to_str()
                    && url::Url::parse(target)
                        .is_ok_and(|url| url.host_str().is_some_and(|h| !h.is_empty()))
                {
                    return Err(Error::RemoteConfigNotEnabled {
                        target: target.to_owned(),
                    });
                }
                Ok(resolve_path(root, path))
            })
            .collect();
    }
    let envs: Vec<&str> = options
        .env
        .get("BACKSTAGE_ENV")
        .map(|value| {
            value
                .split(',')
                .map(js::trim)
                .filter(|e| !e.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let mut files = Vec::new();
    let default = resolve_path(root, Path::new("app-config.yaml"));
    if !options.allow_missing_default_config || default.exists() {
        files.push(default);
    }
    let mut push_if_exists = |name: String| {
        let path = resolve_path(root, Path::new(&name));
        if path.exists() {
            files.push(path);
        }
    };
    for env in &envs {
        push_if_exists(format!("app-config.{env}.yaml"));
    }
    push_if_exists("app-config.local.yaml".to_owned());
    for env in &envs {
        push_if_exists(format!("app-config.{env}.local.yaml"));
    }
    Ok(files)
}

/// Reads, parses and transforms one config file; `None` for an empty file.
fn read_config_file(path: &Path, env: &BTreeMap<String, String>) -> Result<Option<ConfigLayer>> {
    let file_error = |problem| Error::File {
        path: path.to_owned(),
        node: None,
        problem,
    };
    let text = match read_text(path) {
        Ok(text) => text,
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            return Err(Error::FileNotFound {
                path: path.to_owned(),
            });
        }
        Err(source) => {
            return Err(file_error(FileProblem::Read {
                path: path.to_owned(),
                source,
            }));
        }
    };
    let data = yaml::parse(&text).map_err(|message| file_error(FileProblem::Yaml { message }))?;
    if data.is_null() {
        return Ok(None);
    }
    let data = transform::transform_file(data, path, env)?;
    let context = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(Some(ConfigLayer::new(Value::Object(data), context)))
}

/// A file's text; invalid UTF-8 is replaced, as Node.js does when reading `utf8`.
pub(crate) fn read_text(path: &Path) -> io::Result<String> {
    let bytes = fs::read(path)?;
    Ok(match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(err) => String::from_utf8_lossy(err.as_bytes()).into_owned(),
    })
}

/// `path` made absolute against the current directory, normalized.
fn absolute(path: &Path) -> PathBuf {
    match std::env::current_dir() {
        Ok(cwd) => resolve_path(&cwd, path),
        Err(_) => normalize(path),
    }
}

/// Node's `path.resolve(base, path)`: `path` if absolute, else `base` joined with it, with `.`
/// and `..` resolved lexically (symbolic links are not followed).
pub(crate) fn resolve_path(base: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        normalize(path)
    } else {
        normalize(&base.join(path))
    }
}

fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if out.file_name().is_some() {
                    out.pop();
                } else if !out.has_root() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_lexically_like_node() {
        let base = Path::new("/srv/app");
        assert_eq!(
            resolve_path(base, Path::new("a.yaml")),
            Path::new("/srv/app/a.yaml")
        );
        assert_eq!(
            resolve_path(base, Path::new("../b/./c.yaml")),
            Path::new("/srv/b/c.yaml")
        );
        assert_eq!(
            resolve_path(base, Path::new("/etc/x.yaml")),
            Path::new("/etc/x.yaml")
        );
        assert_eq!(resolve_path(base, Path::new("../../../x")), Path::new("/x"));
        assert_eq!(resolve_path(base, Path::new("d/")), Path::new("/srv/app/d"));
    }

    #[test]
    fn url_like_config_paths_need_remote_support() {
        let options =
            LoadConfigOptions::new("/").config_path("https://example.com/app-config.yaml");
        assert_eq!(
            load_config(&options).unwrap_err().to_string(),
            "Config argument \"https://example.com/app-config.yaml\" looks like a URL but remote \
             configuration is not enabled. Enable it by passing the `remote` option"
        );
    }

    #[test]
    fn debug_hides_environment_values() {
        let options = LoadConfigOptions::new("/")
            .env([("SECRET_TOKEN".to_owned(), "hunter2".to_owned())].into());
        let debug = format!("{options:?}");
        assert!(debug.contains("SECRET_TOKEN"), "{debug}");
        assert!(!debug.contains("hunter2"), "{debug}");
    }

    #[test]
    fn options_start_with_an_empty_environment() {
        let options = LoadConfigOptions::new(".");
        assert!(options.env.is_empty());
        assert!(!options.allow_missing_default_config);
        assert!(
            options
                .allow_missing_default_config(true)
                .allow_missing_default_config
        );
    }
}
