//! Configuration: loading `app-config.yaml` files and `APP_CONFIG_*` overrides, and reading
//! typed values from the layered result, with the behaviour and messages of Backstage's
//! `@backstage/config-loader` 1.11.3 and `@backstage/config` 1.3.9.
//!
//! ```
//! use backstage_backend_common::config::{ConfigReader, LoadConfigOptions, load_config};
//!
//! # let dir = tempfile::tempdir()?;
//! # let root = dir.path();
//! std::fs::write(root.join("app-config.yaml"), "app:\n  title: ${TITLE}\nbackend:\n  listen: { port: 7007 }\n")?;
//! std::fs::write(root.join("app-config.local.yaml"), "backend:\n  listen: { port: 8080 }\n")?;
//!
//! let options = LoadConfigOptions::new(root).env(
//!     [("TITLE", "Portal"), ("APP_CONFIG_backend_baseUrl", "http://localhost:8080")]
//!         .map(|(k, v)| (k.to_owned(), v.to_owned()))
//!         .into(),
//! );
//! let layers = load_config(&options)?;
//! let contexts: Vec<&str> = layers.iter().map(|l| l.context.as_str()).collect();
//! assert_eq!(contexts, ["app-config.yaml", "app-config.local.yaml", "env"]);
//!
//! let config = ConfigReader::from_layers(layers);
//! assert_eq!(config.string("app.title")?, "Portal");
//! assert_eq!(config.number("backend.listen.port")?, 8080.0);
//! assert_eq!(config.string("backend.baseUrl")?, "http://localhost:8080");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Pieces
//!
//! | Item | Backstage |
//! |---|---|
//! | [`load_config`], [`LoadConfigOptions`] | `loadConfig` / `ConfigSources.default` (files, then `APP_CONFIG_*`) |
//! | [`ConfigLayer`] | `AppConfig` (`{ data, context }`) |
//! | [`ConfigReader`] | `ConfigReader` (layered lookup, getters, merge) |
//! | [`read_duration`], [`HumanDuration`] | `readDurationFromConfig`, `HumanDuration`, `durationToMilliseconds` |
//! | [`ListenAddress`] | `backend.listen` parsing of `readHttpServerOptions` |
//! | [`secret_values`], [`mask_secrets`], [`is_secret_key`] | secrets by `@visibility secret` (we go by key name: no schemas yet) |
//!
//! ## Files
//!
//! Files are YAML (JSON is YAML too), one document each, read with YAML 1.2 core-schema rules
//! as Backstage reads them: only `true`/`false` are booleans (`yes` and `on` stay strings),
//! `012` is 12, `<<` is an ordinary key, duplicate keys are errors. Inside a file, every string value
//! may use `${VAR}` substitution (`$${VAR}` for a literal, `${VAR:-fallback}`); a variable that
//! is not set removes the whole value (from an array, the element: the array shrinks). An
//! object whose single key is `$env: NAME`, `$file: path` (the file's text) or
//! `$include: path.yaml#a.b` (parsed JSON or YAML, optionally a part of it) is replaced by
//! what it names. Paths are relative to the file that contains the directive, and values
//! inside an included file relative to that file. As in Backstage, an included value whose top
//! level is itself an include directive is kept as a literal object, and other `$`-keys are
//! ordinary data.
//!
//! Errors inside a file read `Failed to read config file at "<abs path>", error at <node>,
//! <detail>` with the node as Backstage writes it (`.app.title`, `.list[0]`).
//!
//! ## Differences from Backstage
//!
//! - **Variable order.** `APP_CONFIG_*` conflicts (`Refusing to override …`, `Could not nest
//!   …`) depend on the order the variables are visited in. Backstage visits them in process
//!   environment order; [`LoadConfigOptions::env`] is a `BTreeMap`, so we visit them in sorted
//!   order (`APP_CONFIG_a` before `APP_CONFIG_a_b`). A variable and a deeper one therefore
//!   always conflict the same way here: `APP_CONFIG_x=1` with `APP_CONFIG_x_y=2` is "Could not
//!   nest", never "Refusing to override".
//! - **Roots.** Relative config paths resolve against [`LoadConfigOptions::root`], not the
//!   working directory, and the root is given, not searched for (Backstage looks for the
//!   nearest `package.json` with `workspaces`). `BACKSTAGE_ENV` is read from the `env` map.
//! - **No watching and no remote sources.** Files are read once; a URL config path is the
//!   same error Backstage gives when remote config is not enabled.
//! - **Include cycles** (a file that includes itself, directly or through other files, in a
//!   way that would recurse forever) are an error naming the file; Backstage overflows its
//!   stack. Data nested deeper than 256 levels (files and includes together) is an error.
//! - **YAML** is parsed by `saphyr-parser` following the JavaScript `yaml` library's YAML 1.2
//!   core-schema rules (see [Files](#files)), not by that library. Known differences: `\ud83d\ude00`-style
//!   surrogate pairs in double-quoted strings are rejected, tab indentation is accepted, a
//!   `%YAML 1.1` directive does not switch to YAML 1.1 scalars, sequence and mapping keys are
//!   rejected (JavaScript turns them into strings), and nesting is limited to 256 levels.
//!   Parser messages (invalid YAML or JSON) are ours and name the file; Backstage's come from
//!   its parser without the file. We chose `saphyr-parser` over `yaml_serde` because
//!   `yaml_serde` follows libyaml's YAML 1.1 habits where Backstage does not (`017` and `08`
//!   stay strings, `0b101` and `-0x10` become numbers, U+0085 breaks lines, integers beyond
//!   128 bits fail, nesting stops at 128 levels).
//! - **JSON** (`APP_CONFIG_*` values and `$include`d `.json` files) is parsed by `serde_json`,
//!   which stops at 128 levels of nesting: a deeper `APP_CONFIG_*` value stays a raw string,
//!   a deeper included file is a parse error.
//! - **Unreadable config files** (a directory given as a config file, say) are reported as
//!   `Failed to read config file at "<path>", EISDIR: …`; Backstage gives Node's bare
//!   `EISDIR: …` without the file.
//! - **Object prototype names.** In JavaScript, `has('toString')` is true for every config and
//!   `APP_CONFIG_constructor=1` is refused, because plain objects inherit those properties. Here
//!   such keys are ordinary keys.
//! - **Numbers** are `f64`, as in JavaScript, but JSON values cannot hold `Infinity` or `NaN`.
//!   Where Backstage keeps a non-finite number (`.inf`, `.nan` or `1e400` in YAML, `1e400` in
//!   an `APP_CONFIG_*` value), the value is `null` here, which is what `JSON.stringify` prints
//!   for it, and which the reader treats as absent; in an included `.json` file it is a parse
//!   error.
//! - **Ports.** [`ListenAddress`] rejects ports outside 0–65535 or fractional ones when
//!   reading config; Backstage accepts them and fails when it listens.
//! - **Secrets.** `Debug` of [`ConfigReader`], [`ConfigLayer`] and [`LoadConfigOptions`] shows
//!   key names and contexts, never values.

mod duration;
mod env;
mod js;
mod layer;
mod listen;
mod loader;
mod reader;
mod secrets;
mod transform;
mod yaml;

#[cfg(test)]
mod tests;

pub use duration::{HumanDuration, read_duration};
pub use layer::ConfigLayer;
pub use listen::{DEFAULT_PORT, ListenAddress};
pub use loader::{LoadConfigOptions, load_config};
pub use reader::ConfigReader;
pub use secrets::{SECRET_MASK, is_secret_key, mask_secrets, secret_values};
