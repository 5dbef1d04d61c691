//! The `bookmarks` plugin (`examples/src/bookmarks.rs`): its own migrations and queries, the
//! same code on SQLite and PostgreSQL. Pick the engine with a config file:
//!
//! ```sh
//! cargo run -p backstage-examples --example bookmarks -- examples/config/bookmarks-sqlite.yaml
//! cargo run -p backstage-examples --example bookmarks -- examples/config/bookmarks-postgres.yaml
//! curl -X POST -H 'Content-Type: application/json' \
//!      -d '{"url":"https://backstage.io","title":"Backstage"}' localhost:7007/api/bookmarks/bookmarks
//! curl localhost:7007/api/bookmarks/bookmarks
//! ```

use std::path::PathBuf;

use backstage_backend_common::config::{LoadConfigOptions, secret_values};
use backstage_backend_common::logging::{self, Format, LoggerConfig};
use backstage_core_app_api::{DefaultServices, run};
use backstage_examples::bookmarks;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config_file = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "examples/config/bookmarks-sqlite.yaml".to_owned());
    let root = std::env::current_dir()?;
    let options = LoadConfigOptions::new(&root)
        .config_path(PathBuf::from(&config_file))
        .from_process_env();
    let services = DefaultServices::new().load_config(options.clone());
    let config = backstage_backend_common::config::ConfigReader::from_layers(
        backstage_backend_common::config::load_config(&options)?,
    );
    logging::init(
        LoggerConfig::from_config(&config)?.with_format(Format::Pretty),
        secret_values(&config),
    )?;
    let backend = services.backend()?;
    // The database service, and the scheduler that coordinates through it.
    for factory in backstage_database::service_factories() {
        backend.add(factory)?;
    }
    backend.add(bookmarks::plugin())?;
    run(backend).await?;
    Ok(())
}
