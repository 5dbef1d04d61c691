//! The crate's error type.
//!
//! [`Error`] covers configuration: reading values, loading files, environment overrides,
//! durations and the listen address. Where Backstage has a message for a failure, the
//! `Display` text reproduces Backstage's `Error.message` verbatim (the JavaScript class name,
//! such as `TypeError`, is not part of it; [`Error::backstage_name`] returns it), so those
//! messages start with a capital letter, unlike our own.
//!
//! The Backstage HTTP error kinds (`InputError`, `NotFoundError`, …, with their status codes and
//! JSON bodies) will be a separate public type of this crate, not variants of this enum: they
//! describe what a request handler answers, while this enum describes why the backend could not
//! read its configuration.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in this crate.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A key passed to a [`ConfigReader`](crate::config::ConfigReader) getter is not a valid
    /// dotted config key (Backstage throws a `TypeError`).
    #[error("Invalid config key '{key}'")]
    InvalidKey {
        /// The key as given.
        key: String,
    },

    /// A required value is absent (or explicitly `null`).
    #[error("Missing required config value at '{key}' in '{context}'")]
    Missing {
        /// The full key, prefixed with the path of the sub-reader the call was made on.
        key: String,
        /// The context (source name) of the reader the call was made on.
        context: String,
    },

    /// A value has the wrong type (Backstage throws a `TypeError`).
    #[error(
        "Invalid type in config for key '{key}' in '{context}', got {actual}, wanted {expected}"
    )]
    InvalidType {
        /// The full key of the offending value (`a.b`, `list[2]`).
        key: String,
        /// The context of the layer in which the bad value was found.
        context: String,
        /// What was found: `null`, `array`, `empty-string`, `string`, `number`, `boolean` or
        /// `object`.
        actual: &'static str,
        /// What was wanted: `string`, `number`, `boolean`, `object`, `string-array` or
        /// `object-array`.
        expected: &'static str,
    },

    /// A string could not be converted to the requested number or boolean.
    #[error("Unable to convert config value for key '{key}' in '{context}' to a {target}")]
    Conversion {
        /// The full key.
        key: String,
        /// The context of the reader the getter was called on (Backstage names that one, not
        /// the layer that holds the value).
        context: String,
        /// `number` or `boolean`.
        target: &'static str,
    },

    /// A config file to load does not exist (Backstage throws a `NotFoundError`).
    #[error("Config file \"{}\" does not exist", path.display())]
    FileNotFound {
        /// The absolute path of the file.
        path: PathBuf,
    },

    /// A config file exists but could not be read, parsed or transformed.
    #[error("Failed to read config file at \"{}\", {}", path.display(), FileDetail { node: node.as_deref(), problem })]
    File {
        /// The absolute path of the config file that was being loaded (for problems inside
        /// included files, still the top-level config file, as in Backstage).
        path: PathBuf,
        /// Where in the file's data the problem is, Backstage style: `.app.title`, `.list[0]`;
        /// the empty string for the root node. `None` for problems with the whole file
        /// (unreadable, invalid YAML, non-object root).
        node: Option<String>,
        /// What went wrong.
        problem: FileProblem,
    },

    /// A `--config` target looks like a URL; remote configuration is not supported.
    #[error(
        "Config argument \"{target}\" looks like a URL but remote configuration is not enabled. Enable it by passing the `remote` option"
    )]
    RemoteConfigNotEnabled {
        /// The target as given.
        target: String,
    },

    /// An `APP_CONFIG_*` variable name has a part that is not a valid key segment
    /// (Backstage throws a `TypeError`).
    #[error("Invalid env config key '{key}'")]
    InvalidEnvKey {
        /// The variable name without the `APP_CONFIG_` prefix.
        key: String,
    },

    /// Two `APP_CONFIG_*` variables set the same key (Backstage throws a `TypeError`).
    #[error("Refusing to override existing config at key '{key}'")]
    EnvOverride {
        /// The variable name without the `APP_CONFIG_` prefix.
        key: String,
    },

    /// An `APP_CONFIG_*` variable nests under a key that an earlier variable set to a
    /// non-object (Backstage throws a `TypeError`).
    #[error("Could not nest config for key '{key}' under existing value '{existing}'")]
    EnvNest {
        /// The variable name without the `APP_CONFIG_` prefix.
        key: String,
        /// The `_`-joined prefix of `key` that holds the non-object value.
        existing: String,
    },

    /// An `APP_CONFIG_*` variable holds JSON `null` (Backstage throws a `TypeError`).
    #[error(
        "Failed to parse JSON-serialized config value for key '{key}', Error: value may not be null"
    )]
    EnvNull {
        /// The variable name without the `APP_CONFIG_` prefix.
        key: String,
    },

    /// A duration string (ISO 8601 or `ms` style) could not be parsed (Backstage throws an
    /// `InputError`).
    #[error("Invalid duration '{value}' in config at '{key}', Error: {reason}")]
    InvalidDuration {
        /// The key that was read.
        key: String,
        /// The string found there, trimmed.
        value: String,
        /// Backstage's reason, e.g. `Negative durations are not allowed`.
        reason: String,
    },

    /// Reading the object form of a duration failed in the config reader (Backstage throws an
    /// `InputError` whose message embeds the reader error as `<Name>: <message>`).
    #[error("Failed to read duration from config, {}: {cause}", cause.backstage_name())]
    DurationRead {
        /// The reader error (its text is part of this message, so it is not a `source`).
        cause: Box<Error>,
    },

    /// The object form of a duration has none of the unit keys.
    #[error(
        "Failed to read duration from config{}, Error: Needs one or more of {UNITS_LIST}",
        AtKey(key.as_deref())
    )]
    DurationWithoutUnits {
        /// The key that was read, if any.
        key: Option<String>,
    },

    /// The object form of a duration has keys that are not units.
    #[error(
        "Failed to read duration from config{}, Error: Unknown {} {}; expected one or more of {UNITS_LIST}",
        AtKey(key.as_deref()),
        if unknown.len() == 1 { "property" } else { "properties" },
        QuotedList(unknown)
    )]
    DurationUnknownUnits {
        /// The key that was read, if any.
        key: Option<String>,
        /// The keys that are not units, in config order.
        unknown: Vec<String>,
    },

    /// A duration cannot be represented as a [`std::time::Duration`] (negative, not finite or
    /// too large).
    #[error("duration of {millis} ms cannot be converted to a std::time::Duration")]
    DurationOutOfRange {
        /// The duration in milliseconds (Backstage's `durationToMilliseconds`).
        millis: f64,
    },

    /// `backend.listen` is a string that is not `<port>` or `<host>:<port>`.
    #[error("Unable to parse listen address {value}, expected <port> or <host>:<port>")]
    InvalidListenAddress {
        /// The string as configured.
        value: String,
    },

    /// The listen port is not an integer from 0 to 65535 (Backstage only fails later, when the
    /// server cannot listen).
    #[error("invalid port {port} in '{key}', expected an integer from 0 to 65535")]
    InvalidListenPort {
        /// `backend.listen` or `backend.listen.port`.
        key: String,
        /// The port as read.
        port: f64,
    },

    /// A logging level in `backend.logger` (or the host's `LOG_LEVEL` override) is not one
    /// Backstage knows. For `backend.logger.overrides[<i>].level` the text is Backstage's.
    #[error(
        "Invalid config at {key}, '{level}' is not a valid logging level, must be one of {allowed}."
    )]
    InvalidLogLevel {
        /// `backend.logger.level`, `backend.logger.overrides[<i>].level` or `LOG_LEVEL`.
        key: String,
        /// The level as written.
        level: String,
        /// The accepted levels, quoted, as the message lists them.
        allowed: &'static str,
    },

    /// A `/regex/flags` matcher in `backend.logger.overrides` does not compile.
    #[error("Invalid config at {key}, invalid regular expression {pattern}: {reason}")]
    InvalidLogMatcher {
        /// `backend.logger.overrides[<i>].matchers.<field>`.
        key: String,
        /// The matcher as written.
        pattern: String,
        /// Why it does not compile.
        reason: String,
    },

    /// [`RootRouter::mount`](crate::http::RootRouter::mount) got a path that is empty or only
    /// slashes and white space.
    #[error("Root router path may not be empty")]
    RootRouterPathEmpty,

    /// [`RootRouter::mount`](crate::http::RootRouter::mount) got a path that is a prefix of a
    /// mounted one or the other way round (compared lower-cased, with one trailing slash).
    #[error("Path {path} conflicts with the existing path {existing}")]
    RootRouterPathConflict {
        /// The path being mounted.
        path: String,
        /// The mounted path it conflicts with.
        existing: String,
    },

    /// [`RootRouterOptions::index_path`](crate::http::RootRouterOptions::index_path) is
    /// `Some("")`.
    #[error("indexPath option may not be an empty string")]
    EmptyIndexPath,

    /// An entry of `backend.health.headers` has an empty name or a value that is not a
    /// non-empty string.
    #[error("Invalid header {part} in at backend.health.headers, must be a non-empty string")]
    InvalidHealthHeader {
        /// `backend.health.headers.<name>`.
        key: String,
        /// `name` or `value`.
        part: &'static str,
    },

    /// An HTTP setting in config (`backend.csp`, `backend.referrer.policy`, `backend.cors.*`,
    /// `backend.health.headers`) has a value HTTP or helmet does not accept; `message` is
    /// helmet's text where helmet has one.
    #[error("Invalid config at '{key}', {message}")]
    InvalidHttpConfig {
        /// The config key.
        key: String,
        /// What is wrong.
        message: String,
    },

    /// An auth policy's `allow` is neither `unauthenticated` nor `user-cookie`.
    #[error("Invalid auth policy")]
    InvalidAuthPolicy {
        /// The value given.
        allow: String,
    },

    /// An auth policy path is not a valid `path-to-regexp` route (message as `path-to-regexp`
    /// words it).
    #[error("{message}: {path}; visit https://git.new/pathToRegexpError for info")]
    InvalidAuthPolicyPath {
        /// The policy path.
        path: String,
        /// What is wrong, e.g. `Unexpected ( at index 5, expected end`.
        message: String,
    },

    /// An entry of `backend.auth.externalAccess` is invalid; the message is Backstage's.
    #[error("{message}")]
    ExternalAccessConfig {
        /// The key of the offending value (`backend.auth.externalAccess[0].options.token`).
        key: String,
        /// Backstage's message, e.g. `Illegal token, must be at least 8 characters length`.
        message: String,
    },

    /// [`PluginRouter::try_use_router`](crate::http::PluginRouter::try_use_router) could not
    /// merge a router (overlapping routes, or two custom fallbacks).
    #[error("cannot add routes to plugin '{plugin_id}': {message}")]
    RouteConflict {
        /// The plugin.
        plugin_id: String,
        /// axum's explanation.
        message: String,
    },

    /// The HTTP server could not listen on its address.
    #[error("Failed to listen on {address}, {source}")]
    Bind {
        /// `<host>:<port>` as configured (the host empty for all interfaces).
        address: String,
        /// The I/O error.
        source: io::Error,
    },

    /// The HTTP server could not be started or failed while running.
    #[error("HTTP server error: {message}")]
    Server {
        /// What went wrong.
        message: String,
    },

    /// [`logging::init`](crate::logging::init) found a global `tracing` subscriber already set.
    #[error("a global tracing subscriber is already set")]
    SubscriberAlreadySet,

    /// A `discovery.endpoints[].target` that is used for external URLs (a plain string target,
    /// or `target.external`) is an SRV URL (`http+srv://…`, `https+srv://…`).
    #[error("SRV resolver URLs cannot be used in the target for external endpoints")]
    SrvExternalTarget {
        /// `discovery.endpoints[<i>].target` or `discovery.endpoints[<i>].target.external`.
        key: String,
        /// The target as configured.
        target: String,
    },

    /// A `discovery.endpoints[].target.internal` is an SRV URL; Backstage resolves those with
    /// DNS SRV lookups, which [`HostDiscovery`](crate::discovery::HostDiscovery) does not support.
    #[error(
        "SRV resolver URLs are not supported, got '{target}' at '{key}'; use an http:// or https:// URL"
    )]
    SrvUnsupported {
        /// `discovery.endpoints[<i>].target.internal`.
        key: String,
        /// The target as configured.
        target: String,
    },

    /// A cron expression of a task schedule does not parse.
    #[error("invalid cron expression '{expression}'{}, {reason}", AtKey(key.as_deref()))]
    InvalidCron {
        /// The config key it was read from (`frequency.cron`), if any.
        key: Option<String>,
        /// The expression as given.
        expression: String,
        /// Why it does not parse.
        reason: String,
    },

    /// The `scope` of a task schedule in config is neither `global` nor `local`.
    #[error(
        "Only \"global\" or \"local\" are allowed for TaskScheduleDefinition.scope, but got: {scope}"
    )]
    InvalidTaskScope {
        /// The key that was read (`scope`, prefixed with the reader's path).
        key: String,
        /// The scope as configured.
        scope: String,
    },
}

impl Error {
    /// The name of the JavaScript error class Backstage throws in the same situation:
    /// `TypeError`, `NotFoundError`, `InputError` or `Error`.
    ///
    /// ```
    /// use backstage_backend_common::config::ConfigReader;
    ///
    /// let err = ConfigReader::from_value(serde_json::json!({})).string("bad key").unwrap_err();
    /// assert_eq!(err.backstage_name(), "TypeError");
    /// assert_eq!(err.to_string(), "Invalid config key 'bad key'");
    /// ```
    #[must_use]
    pub fn backstage_name(&self) -> &'static str {
        match self {
            Error::InvalidKey { .. }
            | Error::InvalidType { .. }
            | Error::InvalidEnvKey { .. }
            | Error::EnvOverride { .. }
            | Error::EnvNest { .. }
            | Error::EnvNull { .. } => "TypeError",
            Error::FileNotFound { .. } => "NotFoundError",
            Error::InvalidDuration { .. } | Error::DurationRead { .. } => "InputError",
            _ => "Error",
        }
    }

    /// The config key the error is about, when there is one (`backend.listen`, `a.list[0]`).
    #[must_use]
    pub fn key(&self) -> Option<&str> {
        match self {
            Error::InvalidKey { key }
            | Error::Missing { key, .. }
            | Error::InvalidType { key, .. }
            | Error::Conversion { key, .. }
            | Error::InvalidEnvKey { key }
            | Error::EnvOverride { key }
            | Error::EnvNest { key, .. }
            | Error::EnvNull { key }
            | Error::InvalidDuration { key, .. }
            | Error::InvalidListenPort { key, .. }
            | Error::InvalidLogLevel { key, .. }
            | Error::InvalidLogMatcher { key, .. } => Some(key),
            Error::DurationWithoutUnits { key } | Error::DurationUnknownUnits { key, .. } => {
                key.as_deref()
            }
            Error::DurationRead { cause } => cause.key(),
            Error::SrvExternalTarget { key, .. }
            | Error::SrvUnsupported { key, .. }
            | Error::InvalidTaskScope { key, .. } => Some(key),
            Error::InvalidCron { key, .. } => key.as_deref(),
            _ => None,
        }
    }
}

/// What went wrong inside a config file: the part of [`Error::File`]'s message after
/// `error at <node>, `.
///
/// Messages reproduce Backstage's where Backstage has one; where the detail comes from a parser
/// (invalid YAML or JSON) the wording is ours, since it comes from a different parser.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum FileProblem {
    /// The file could not be read (other than "does not exist").
    #[error("{}", NodeIo { err: source, path })]
    Read {
        /// The file that was read.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },

    /// The file is not valid YAML, or holds more than one YAML document.
    #[error("invalid YAML: {message}")]
    Yaml {
        /// The parser's message.
        message: String,
    },

    /// After transforms, the file's root is not an object.
    #[error("expected object at config root")]
    RootNotObject,

    /// The data (with its includes) nests deeper than the loader allows.
    #[error("config nested more than {limit} levels deep")]
    TooDeep {
        /// The nesting limit.
        limit: usize,
    },

    /// An include directive (`$file`, `$env`, `$include`) has other keys beside it.
    #[error("include key {include_key} should not have adjacent keys")]
    IncludeAdjacentKeys {
        /// The directive found.
        include_key: &'static str,
    },

    /// An include directive's value is not a string.
    #[error("{include_key} include value is not a string")]
    IncludeNotString {
        /// The directive found.
        include_key: &'static str,
    },

    /// Substitution in an include directive's value referenced an unset variable.
    #[error("{include_key} substitution value was undefined")]
    IncludeUndefined {
        /// The directive found.
        include_key: &'static str,
    },

    /// The file named by `$file` does not exist.
    #[error(
        "failed to read file {target}, NotFoundError: failed to include \"{}\", file does not exist",
        resolved.display()
    )]
    FileNotFound {
        /// The path as written (after substitution).
        target: String,
        /// The absolute path.
        resolved: PathBuf,
    },

    /// The file named by `$file` could not be read.
    #[error("failed to read file {target}, Error: {}", NodeIo { err: source, path: resolved })]
    FileRead {
        /// The path as written (after substitution).
        target: String,
        /// The absolute path.
        resolved: PathBuf,
        /// The I/O error.
        source: io::Error,
    },

    /// The file named by `$include` does not exist.
    #[error("failed to include \"{}\", file does not exist", resolved.display())]
    IncludeNotFound {
        /// The absolute path.
        resolved: PathBuf,
    },

    /// The file named by `$include` could not be read.
    #[error("{}", NodeIo { err: source, path: resolved })]
    IncludeRead {
        /// The absolute path.
        resolved: PathBuf,
        /// The I/O error.
        source: io::Error,
    },

    /// The file named by `$include` has an extension other than `.json`, `.yaml` or `.yml`.
    #[error("no configuration parser available for included file {target}")]
    IncludeNoParser {
        /// The path as written, without the `#` part.
        target: String,
    },

    /// The file named by `$include` is not valid JSON or YAML.
    #[error("failed to parse included file {target}, {message}")]
    IncludeParse {
        /// The path as written, without the `#` part.
        target: String,
        /// `SyntaxError: …` (JSON) or `YAMLParseError: …` (YAML), with our parser's text.
        message: String,
    },

    /// A step of an `$include`'s `#a.b` path goes through a non-object.
    #[error("value at '{at}' in included file {target} is not an object")]
    IncludeNotObject {
        /// The path as written, without the `#` part.
        target: String,
        /// The dotted path up to the offending step.
        at: String,
    },

    /// An `$include` (directly or through other files) includes the value that contains it.
    /// Backstage recurses until the stack overflows.
    #[error("circular $include of \"{}{}{}\"", resolved.display(), if selector.is_empty() { "" } else { "#" }, selector)]
    IncludeCycle {
        /// The absolute path of the included file.
        resolved: PathBuf,
        /// The `#` part of the directive (empty for the whole file).
        selector: String,
    },
}

/// The units of a duration, quoted and comma-separated, as in Backstage's messages.
const UNITS_LIST: &str =
    "'years', 'months', 'weeks', 'days', 'hours', 'minutes', 'seconds', 'milliseconds'";

/// `error at <node>, <problem>` or just `<problem>`.
struct FileDetail<'a> {
    node: Option<&'a str>,
    problem: &'a FileProblem,
}

impl fmt::Display for FileDetail<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.node {
            Some(node) => write!(f, "error at {node}, {}", self.problem),
            None => write!(f, "{}", self.problem),
        }
    }
}

/// ` at '<key>'` or nothing.
struct AtKey<'a>(Option<&'a str>);

impl fmt::Display for AtKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(key) => write!(f, " at '{key}'"),
            None => Ok(()),
        }
    }
}

/// `'a', 'b'`.
struct QuotedList<'a>(&'a [String]);

impl fmt::Display for QuotedList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, item) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "'{item}'")?;
        }
        Ok(())
    }
}

/// An I/O error worded like Node.js's `fs.readFile` errors (`EISDIR: illegal operation on a
/// directory, read`), which is what Backstage shows.
struct NodeIo<'a> {
    err: &'a io::Error,
    path: &'a PathBuf,
}

impl fmt::Display for NodeIo<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        match self.err.kind() {
            io::ErrorKind::IsADirectory => {
                f.write_str("EISDIR: illegal operation on a directory, read")
            }
            io::ErrorKind::PermissionDenied => {
                write!(f, "EACCES: permission denied, open '{path}'")
            }
            io::ErrorKind::NotADirectory => write!(f, "ENOTDIR: not a directory, open '{path}'"),
            _ => write!(f, "{}, open '{path}'", self.err),
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duration_messages_quote_units_like_backstage() {
        let err = Error::DurationUnknownUnits {
            key: Some("t".into()),
            unknown: vec!["a".into(), "b".into()],
        };
        assert_eq!(
            err.to_string(),
            "Failed to read duration from config at 't', Error: Unknown properties 'a', 'b'; \
             expected one or more of 'years', 'months', 'weeks', 'days', 'hours', 'minutes', \
             'seconds', 'milliseconds'"
        );
        let err = Error::DurationWithoutUnits { key: None };
        assert!(err.to_string().starts_with(
            "Failed to read duration from config, Error: Needs one or more of 'years'"
        ));
    }

    #[test]
    fn file_errors_name_the_node_when_known() {
        let err = Error::File {
            path: PathBuf::from("/x/app-config.yaml"),
            node: Some(".a[0]".into()),
            problem: FileProblem::IncludeNotString {
                include_key: "$file",
            },
        };
        assert_eq!(
            err.to_string(),
            "Failed to read config file at \"/x/app-config.yaml\", error at .a[0], $file include value is not a string"
        );
        let err = Error::File {
            path: PathBuf::from("/x/app-config.yaml"),
            node: None,
            problem: FileProblem::RootNotObject,
        };
        assert_eq!(
            err.to_string(),
            "Failed to read config file at \"/x/app-config.yaml\", expected object at config root"
        );
    }

    #[test]
    fn directory_read_errors_are_worded_like_node() {
        let err = FileProblem::Read {
            path: PathBuf::from("/x"),
            source: io::Error::from(io::ErrorKind::IsADirectory),
        };
        assert_eq!(
            err.to_string(),
            "EISDIR: illegal operation on a directory, read"
        );
    }

    #[test]
    fn backstage_names_follow_the_thrown_class() {
        assert_eq!(
            Error::EnvNull { key: "a".into() }.backstage_name(),
            "TypeError"
        );
        assert_eq!(
            Error::FileNotFound {
                path: PathBuf::from("/a")
            }
            .backstage_name(),
            "NotFoundError"
        );
        assert_eq!(
            Error::Missing {
                key: "a".into(),
                context: "c".into()
            }
            .backstage_name(),
            "Error"
        );
    }

    #[test]
    fn errors_are_send_sync_static() {
        fn assert_bounds<T: Send + Sync + 'static>() {}
        assert_bounds::<Error>();
    }
}
