//! `core.pluginMetadata` and `core.rootInstanceMetadata` (spec §3.8, §2.7 step 5).

/// Which plugin a plugin-scoped service instance belongs to. Provided by the backend; cannot
/// be overridden. Inside a module it names the module's plugin.
pub trait PluginMetadataService: Send + Sync {
    /// The plugin id.
    fn plugin_id(&self) -> &str;
}

/// An installed plugin and the modules that extend it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstalledPlugin {
    /// The plugin id.
    pub plugin_id: String,
    /// Ids of the modules installed for it, in installation order.
    pub module_ids: Vec<String>,
}

/// What this backend instance runs. Provided by the backend.
pub trait RootInstanceMetadataService: Send + Sync {
    /// Installed plugins, in installation order (modules of absent plugins are not listed).
    fn installed_plugins(&self) -> &[InstalledPlugin];
}
