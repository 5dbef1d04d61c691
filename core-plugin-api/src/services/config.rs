//! `core.rootConfig` (spec §3.1).

use backstage_backend_common::config::ConfigReader;

/// The backend's merged configuration.
///
/// The stock implementation is a fixed snapshot (no reloading yet). A [`ConfigReader`] is
/// itself a `RootConfigService`, so a host can install a reader it built:
/// `ServiceFactory::from_instance(ROOT_CONFIG, Arc::new(reader))`.
pub trait RootConfigService: Send + Sync {
    /// The current configuration. Cheap: readers share their data.
    fn reader(&self) -> ConfigReader;
}

impl RootConfigService for ConfigReader {
    fn reader(&self) -> ConfigReader {
        self.clone()
    }
}
