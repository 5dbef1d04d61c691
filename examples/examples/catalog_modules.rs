//! A backend with the catalog plugin and two modules that extend it through its extension
//! points: a processor (`TierLabelProcessor`) and an entity provider (`HrTeamsProvider`),
//! from `examples/src/catalog_extensions.rs`.
//!
//! ```sh
//! cargo run -p backstage-examples --example catalog_modules
//! curl 'localhost:7007/api/catalog/entities?filter=kind=group&fields=metadata.name'
//! curl 'localhost:7007/api/catalog/entity-facets?facet=metadata.labels.acme.example.com/tier-from-lifecycle'
//! ```

use backstage_backend_common::config::ConfigReader;
use backstage_catalog_backend::catalog_plugin;
use backstage_core_app_api::{DefaultServices, run};
use backstage_examples::catalog_extensions::{HrTeamsProvider, processor_module, provider_module};
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = ConfigReader::from_value(json!({
        "backend": {
            "baseUrl": "http://127.0.0.1:7007",
            "listen": {"host": "127.0.0.1", "port": 7007},
            "auth": {"dangerouslyDisableDefaultAuthPolicy": true},
            "database": {"client": "better-sqlite3", "connection": ":memory:"},
        },
        "catalog": {
            "locations": [{"type": "file", "target": "examples/catalog/all.yaml"}],
            "rules": [{"allow": ["Component", "System", "API", "Resource", "Location", "Domain", "Group", "User"]}],
        },
    }));
    let backend = DefaultServices::new().config(config).backend()?;
    for factory in backstage_database::service_factories() {
        backend.add(factory)?;
    }
    backend.add(catalog_plugin())?;
    backend.add(processor_module())?;
    backend.add(provider_module(HrTeamsProvider::new(&[
        ("hr-finance", "Finance"),
        ("hr-legal", "Legal"),
    ])))?;
    run(backend).await?;
    Ok(())
}
