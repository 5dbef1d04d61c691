//! `backstage config print` and `backstage config check`: load `app-config.yaml` files and
//! `APP_CONFIG_*` overrides the way a Backstage backend does, then show or check the result.
//!
//! Config is loaded from the current directory and the process environment, as Backstage's
//! CLI does: with no `--config`, `app-config.yaml`, `app-config.<env>.yaml` for each entry of
//! `BACKSTAGE_ENV`, `app-config.local.yaml` and `app-config.<env>.local.yaml`; then the
//! `APP_CONFIG_*` variables on top.

use std::io::{self, Write};
use std::path::PathBuf;

use backstage_backend_common::Error;
use backstage_backend_common::config::{
    ConfigLayer, ConfigReader, ListenAddress, LoadConfigOptions, load_config, mask_secrets,
};
use clap::{Args, Subcommand, ValueEnum};

use crate::{Outcome, report_error};

/// Text appended to `backstage config --help`.
pub const AFTER_HELP: &str = "\
Sources (lowest priority first):
  With --config: those files, in order (relative paths from the current directory).
  Without: app-config.yaml (required), app-config.<env>.yaml for each comma-separated
  entry of BACKSTAGE_ENV, app-config.local.yaml, app-config.<env>.local.yaml, each from
  the current directory and only if present.
  Then APP_CONFIG_* environment variables (APP_CONFIG_backend_baseUrl=... sets
  backend.baseUrl; values are parsed as JSON when they can be).
  Inside files: ${VAR} substitution, $env, $file and $include directives.

Exit codes:
  0  config loads (and, for check, the backend keys parse)
  1  config does not load or a backend key is invalid (the message names file and key)
  2  usage error, or the output cannot be written";

/// Text appended to `backstage config print --help`.
pub const PRINT_AFTER_HELP: &str = "\
Secrets are masked as <secret>: the values of keys whose last segment, ignoring case,
'-' and '_', is or ends with 'password', 'secret', 'token', 'privatekey', 'apikey' or
'credentials' (clientSecret, private_key, GITHUB_TOKEN, api-key, ...), and every value
inside backend.auth.keys[]. Without config schemas this is a name-based guess: check the
output before sharing it.";

/// Options of `backstage config`.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// What to do with the config.
    #[command(subcommand)]
    pub command: ConfigCommand,
}

/// The `config` subcommands.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the final merged config, with secrets masked.
    #[command(after_help = PRINT_AFTER_HELP)]
    Print(PrintArgs),
    /// Check that the config loads and that the backend keys we understand parse
    /// (backend.listen, backend.baseUrl).
    Check(CheckArgs),
}

/// Config files to load instead of the defaults.
#[derive(Debug, Args)]
pub struct Sources {
    /// A config file to load instead of the defaults; repeatable, later files win.
    #[arg(long = "config", value_name = "FILE")]
    pub config: Vec<PathBuf>,
}

/// Options of `backstage config print`.
#[derive(Debug, Args)]
pub struct PrintArgs {
    /// Where the config comes from.
    #[command(flatten)]
    pub sources: Sources,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Yaml)]
    pub format: Format,
}

/// Options of `backstage config check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Where the config comes from.
    #[command(flatten)]
    pub sources: Sources,
}

/// Output formats of `backstage config print`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// YAML, like app-config.yaml.
    Yaml,
    /// Pretty-printed JSON.
    Json,
}

/// Runs `backstage config ...`.
pub fn run(args: &ConfigArgs) -> Outcome {
    match &args.command {
        ConfigCommand::Print(print) => run_print(print),
        ConfigCommand::Check(check) => run_check(check),
    }
}

fn load(sources: &Sources) -> Result<Vec<ConfigLayer>, Error> {
    let root = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let mut options = LoadConfigOptions::new(root).from_process_env();
    for path in &sources.config {
        options = options.config_path(path);
    }
    load_config(&options)
}

fn run_print(args: &PrintArgs) -> Outcome {
    let layers = match load(&args.sources) {
        Ok(layers) => layers,
        Err(err) => {
            report_error(err);
            return Outcome::Problems;
        }
    };
    let mut value = ConfigReader::from_layers(layers).value();
    mask_secrets(&mut value);
    let text = match args.format {
        Format::Json => serde_json::to_string_pretty(&value)
            .map(|s| s + "\n")
            .map_err(|e| e.to_string()),
        Format::Yaml => yaml_serde::to_string(&value).map_err(|e| e.to_string()),
    };
    match text {
        Ok(text) => {
            let mut stdout = io::stdout().lock();
            if stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
                .is_err()
            {
                return Outcome::Error;
            }
            Outcome::Success
        }
        Err(message) => {
            report_error(format_args!("cannot format the config: {message}"));
            Outcome::Error
        }
    }
}

fn run_check(args: &CheckArgs) -> Outcome {
    let layers = match load(&args.sources) {
        Ok(layers) => layers,
        Err(err) => {
            report_error(err);
            return Outcome::Problems;
        }
    };
    let names: Vec<String> = layers.iter().map(|l| l.context.clone()).collect();
    let problems = check_backend(&layers);
    for problem in &problems {
        report_error(problem);
    }
    if !problems.is_empty() {
        return Outcome::Problems;
    }
    let sources = if names.is_empty() {
        "no config sources".to_owned()
    } else {
        names.join(", ")
    };
    println!("config OK ({sources})");
    Outcome::Success
}

/// Checks the backend keys the project understands today; one message per problem.
pub fn check_backend(layers: &[ConfigLayer]) -> Vec<String> {
    let config = ConfigReader::from_layers(layers.to_vec());
    let mut problems = Vec::new();
    if let Err(err) = ListenAddress::from_config(&config) {
        problems.push(match err {
            Error::InvalidListenAddress { .. } | Error::InvalidListenPort { .. } => {
                format!(
                    "backend.listen in '{}': {err}",
                    defined_in(layers, "backend.listen")
                )
            }
            other => other.to_string(),
        });
    }
    match config.optional_string("backend.baseUrl") {
        Ok(Some(url)) => {
            if let Err(err) = url::Url::parse(&url) {
                problems.push(format!(
                    "backend.baseUrl in '{}' is not a valid URL: \"{url}\" ({err})",
                    defined_in(layers, "backend.baseUrl")
                ));
            }
        }
        Ok(None) => {}
        Err(err) => problems.push(err.to_string()),
    }
    problems
}

/// The context of the highest layer that defines the dotted `key`.
fn defined_in<'a>(layers: &'a [ConfigLayer], key: &str) -> &'a str {
    layers
        .iter()
        .rev()
        .find(|layer| {
            key.split('.')
                .try_fold(&layer.data, |value, part| value.get(part))
                .is_some()
        })
        .map_or("?", |layer| layer.context.as_str())
}
