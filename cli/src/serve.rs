//! `backstage serve`: a backend with the software catalog.
//!
//! With `--config` files (or an `app-config.yaml` in the working directory) the backend uses
//! what they name, with Backstage's keys. With neither, it runs on the embedded default:
//! SQLite files in `./backstage-data/`, the memory cache, `127.0.0.1:7007`, no auth
//! required (loopback only), and the demo catalog (`examples/catalog/`) loaded.

use std::path::{Path, PathBuf};

use backstage_backend_common::config::{
    ConfigLayer, ConfigReader, LoadConfigOptions, load_config, secret_values,
};
use backstage_backend_common::logging::{self, Format, LoggerConfig};
use backstage_core_app_api::{DefaultServices, run};
use backstage_core_plugin_api::Feature;
use clap::Args;
use serde_json::{Value, json};

use crate::{Outcome, report_error};

/// Text appended to `backstage serve --help`.
pub const AFTER_HELP: &str = "\
Config:
  With --config: those files, in order (later files win), plus APP_CONFIG_* variables.
  Without, if ./app-config.yaml exists: the default files, as `backstage config` loads them.
  Otherwise the embedded default: SQLite in ./backstage-data/, the memory cache,
  http://127.0.0.1:7007, no auth on loopback, and the demo catalog (examples/catalog/).

Try:
  curl http://127.0.0.1:7007/api/catalog/entities?filter=kind=component";

/// Options of `backstage serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Config files (app-config.yaml), lowest priority first.
    #[arg(long = "config", value_name = "FILE")]
    pub config: Vec<PathBuf>,
}

/// The demo catalog, compiled in so an installed binary can serve it too.
const DEMO_FILES: [(&str, &str); 7] = [
    ("all.yaml", include_str!("../../examples/catalog/all.yaml")),
    ("org.yaml", include_str!("../../examples/catalog/org.yaml")),
    (
        "domains.yaml",
        include_str!("../../examples/catalog/domains.yaml"),
    ),
    (
        "systems.yaml",
        include_str!("../../examples/catalog/systems.yaml"),
    ),
    (
        "components.yaml",
        include_str!("../../examples/catalog/components.yaml"),
    ),
    (
        "apis.yaml",
        include_str!("../../examples/catalog/apis.yaml"),
    ),
    (
        "resources.yaml",
        include_str!("../../examples/catalog/resources.yaml"),
    ),
];

/// Where the demo catalog is read from: the repository's `examples/catalog/` when run from a
/// checkout, else a copy written to `<data>/demo-catalog/`.
fn demo_catalog(cwd: &Path, data_dir: &Path) -> std::io::Result<PathBuf> {
    let in_repo = cwd.join("examples/catalog/all.yaml");
    if in_repo.is_file() {
        return Ok(in_repo);
    }
    let dir = data_dir.join("demo-catalog");
    std::fs::create_dir_all(&dir)?;
    for (name, text) in DEMO_FILES {
        std::fs::write(dir.join(name), text)?;
    }
    Ok(dir.join("all.yaml"))
}

/// The embedded default config.
pub fn default_config(data_dir: &Path, demo: &Path) -> Value {
    json!({
        "backend": {
            "baseUrl": "http://127.0.0.1:7007",
            "listen": {"host": "127.0.0.1", "port": 7007},
            "database": {
                "client": "better-sqlite3",
                "connection": {"directory": data_dir.to_string_lossy()},
            },
            "cache": {"store": "memory"},
            "auth": {"dangerouslyDisableDefaultAuthPolicy": true},
        },
        "catalog": {
            "rules": [{"allow": [
                "Component", "System", "API", "Resource", "Location", "Domain", "Group", "User",
                "Template",
            ]}],
            "locations": [{"type": "file", "target": demo.to_string_lossy()}],
            "processingInterval": {"seconds": 100},
        },
    })
}

/// Threads of the runtime's blocking pool.
const BLOCKING_THREADS: usize = 8;

/// Runs `backstage serve`.
pub fn run_serve(args: &ServeArgs) -> Outcome {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        // Blocking work here is short (reading catalog files, resolving host names); a few
        // threads keep up with it. Tokio's default of 512 let ingestion start a thread, with
        // its own stack and allocator cache, per file location read at once.
        .max_blocking_threads(BLOCKING_THREADS)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            report_error(format!("cannot start the async runtime: {e}"));
            return Outcome::Error;
        }
    };
    match runtime.block_on(serve(args)) {
        Ok(()) => Outcome::Success,
        Err(message) => {
            report_error(message);
            Outcome::Problems
        }
    }
}

async fn serve(args: &ServeArgs) -> Result<(), String> {
    let cwd =
        std::env::current_dir().map_err(|e| format!("cannot read the working directory: {e}"))?;
    let env: std::collections::BTreeMap<String, String> = std::env::vars().collect();
    let embedded = args.config.is_empty() && !cwd.join("app-config.yaml").is_file();
    let layers = if embedded {
        let data_dir = cwd.join("backstage-data");
        std::fs::create_dir_all(&data_dir)
            .map_err(|e| format!("cannot create {}: {e}", data_dir.display()))?;
        let demo = demo_catalog(&cwd, &data_dir)
            .map_err(|e| format!("cannot write the demo catalog: {e}"))?;
        let mut layers = vec![ConfigLayer::new(
            default_config(&data_dir, &demo),
            "embedded default config",
        )];
        // APP_CONFIG_* still apply on top of the embedded default.
        let mut options = LoadConfigOptions::new(&cwd).allow_missing_default_config(true);
        options.env = env.clone();
        let overrides = load_config(&options).map_err(|e| e.to_string())?;
        layers.extend(overrides);
        eprintln!(
            "backstage: no config given: running the embedded default (SQLite in {}, the memory cache, \
             http://127.0.0.1:7007, no auth on loopback, demo catalog from {})",
            data_dir.display(),
            demo.display()
        );
        layers
    } else {
        let mut options = LoadConfigOptions::new(&cwd);
        options.env = env;
        for path in &args.config {
            options = options.config_path(path.clone());
        }
        load_config(&options).map_err(|e| e.to_string())?
    };
    let config = ConfigReader::from_layers(layers);
    let logger_config = LoggerConfig::from_config(&config).map_err(|e| e.to_string())?;
    logging::init(
        logger_config.with_format(Format::Pretty),
        secret_values(&config),
    )
    .map_err(|e| e.to_string())?;
    let backend = DefaultServices::new()
        .config(config)
        .backend()
        .map_err(|e| e.to_string())?;
    let mut features: Vec<Feature> = backstage_database::service_factories()
        .into_iter()
        .map(Feature::from)
        .collect();
    features.push(backstage_cache::cache_service_factory().into());
    features.push(backstage_catalog_backend::catalog_plugin().into());
    for feature in features {
        backend.add(feature).map_err(|e| e.to_string())?;
    }
    run(backend).await.map_err(|e| e.to_string())
}
