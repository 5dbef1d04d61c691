//! A backend with the example `todo` plugin (`examples/src/todo.rs`): a service dependency,
//! routes, a startup hook, a scheduled task and a module.
//!
//! ```sh
//! cargo run -p backstage-examples --example plugin
//! curl localhost:7007/api/todo/health
//! curl -H 'Authorization: Bearer example-token-0123456789' localhost:7007/api/todo/todos
//! curl -X POST -H 'Authorization: Bearer example-token-0123456789' \
//!      -H 'Content-Type: application/json' -d '{"title":"write docs"}' localhost:7007/api/todo/todos
//! ```
//!
//! Stop it with Ctrl-C: shutdown hooks run and the server drains.

use backstage_backend_common::config::ConfigReader;
use backstage_backend_common::logging::{self, Format, LoggerConfig};
use backstage_core_app_api::{DefaultServices, run};
use backstage_examples::todo;
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // An app-config.yaml would say the same; see `DefaultServices::load_config`.
    let config = ConfigReader::from_value(json!({
        "backend": {
            "baseUrl": "http://localhost:7007",
            "listen": "127.0.0.1:7007",
            "auth": { "externalAccess": [{
                "type": "static",
                "options": { "token": "example-token-0123456789", "subject": "curl" },
            }] },
        },
    }));
    // The host, not the library, installs the log subscriber.
    logging::init(
        LoggerConfig::from_config(&config)?.with_format(Format::Pretty),
        backstage_backend_common::config::secret_values(&config),
    )?;
    let backend = DefaultServices::new().config(config).backend()?;
    backend.add(todo::plugin())?;
    backend.add(todo::seed_module(&["try the example", "read the docs"]))?;
    run(backend).await?;
    Ok(())
}
