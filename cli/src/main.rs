//! The `backstage` command-line tool.
//!
//! One binary, one subcommand per task:
//!
//! | Command | What | Module |
//! |---|---|---|
//! | `backstage serve [--config FILE]...` | run a backend with the catalog; without config, the embedded default (SQLite, memory cache, demo catalog) | [`serve`] |
//! | `backstage validate PATH...` | validate catalog descriptor files (`catalog-info.yaml`) the way the catalog does, for CI | [`validate`] |
//! | `backstage config print\|check [--config FILE]...` | load `app-config.yaml` files and `APP_CONFIG_*` like a backend; print the merged config (secrets masked) or check it | [`config`] |
//!
//! Exit codes are shared by every command (see [`Outcome`]): `0` success, `1` the command
//! ran and found problems (invalid entities, config that does not load), `2` usage or I/O
//! errors.

mod config;
mod kinds;
mod serve;
mod validate;
mod walk;

/// jemalloc instead of the system allocator: glibc's malloc took a third of the catalog's
/// ingestion time and kept freed memory (docs/catalog.md, "Performance status").
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Command-line interface of the `backstage` binary.
#[derive(Debug, Parser)]
#[command(
    name = "backstage",
    version,
    about = "Backstage's backend tooling in Rust: validate software-catalog files, print and check app config.",
    long_about = "Backstage's backend tooling in Rust.\n\n\
        `backstage validate` checks catalog descriptor files (catalog-info.yaml) with the same \
        policies and kind validators the Backstage catalog runs, and reports every problem with \
        its file, line and column. `backstage config` prints or checks the app config \
        (app-config.yaml and APP_CONFIG_* variables).",
    after_help = "Exit codes: 0 success, 1 problems found (invalid entities, config that does not load), 2 usage or I/O error."
)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a backend with the software catalog (the embedded default without config).
    #[command(
        long_about = "Run a Backstage backend with the software catalog and its REST API at \
            /api/catalog. Without config it runs on an embedded default: SQLite in \
            ./backstage-data/, the memory cache, 127.0.0.1:7007 and the demo catalog.",
        after_help = serve::AFTER_HELP
    )]
    Serve(serve::ServeArgs),

    /// Validate catalog entity files (YAML) as the Backstage catalog would.
    #[command(
        long_about = "Validate catalog entity files (catalog-info.yaml) as the Backstage catalog \
            would: every document of every file is parsed (YAML 1.2, multi-document) and run \
            through the catalog's default policy chain and kind validators. Every problem is \
            reported, not only the first, with the line and column of the offending value.",
        after_help = validate::AFTER_HELP
    )]
    Validate(validate::ValidateArgs),

    /// Print or check the app config (app-config.yaml files and APP_CONFIG_* variables).
    #[command(
        long_about = "Load the app config the way a Backstage backend does, from the current \
            directory and the process environment, then print it (secrets masked) or check it.",
        after_help = config::AFTER_HELP
    )]
    Config(config::ConfigArgs),
}

/// How a command ended; converted into the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything is fine (exit code 0).
    Success,
    /// The command ran and found problems, e.g. invalid entities or config that does not
    /// load (exit code 1).
    Problems,
    /// Usage or I/O error: the command could not do all its work (exit code 2, as clap uses
    /// for usage errors).
    Error,
}

impl Outcome {
    /// The process exit code.
    #[must_use]
    pub fn exit_code(self) -> ExitCode {
        match self {
            Outcome::Success => ExitCode::SUCCESS,
            Outcome::Problems => ExitCode::from(1),
            Outcome::Error => ExitCode::from(2),
        }
    }
}

/// Prints an error for the user on stderr, prefixed with the program name.
pub fn report_error(message: impl std::fmt::Display) {
    eprintln!("backstage: error: {message}");
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Serve(args) => serve::run_serve(&args),
        Command::Validate(args) => validate::run(&args),
        Command::Config(args) => config::run(&args),
    };
    outcome.exit_code()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definitions_are_consistent() {
        Cli::command().debug_assert();
    }
}
