//! The crate's error type.

/// A boxed error, what plugin inits, factories and hooks return.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong at the plugin boundary.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A plugin id matches neither of Backstage's patterns.
    #[error(
        "Invalid pluginId '{id}', must match the pattern {pattern} (letters, digits, and dashes only, starting with a letter)"
    )]
    InvalidPluginId {
        /// The id as given.
        id: String,
        /// The pattern it must match.
        pattern: &'static str,
    },

    /// A module id matches neither of Backstage's patterns.
    #[error(
        "Invalid moduleId '{module_id}' for plugin '{plugin_id}', must match the pattern {pattern} (letters, digits, and dashes only, starting with a letter)"
    )]
    InvalidModuleId {
        /// The plugin the module extends.
        plugin_id: String,
        /// The module id as given.
        module_id: String,
        /// The pattern it must match.
        pattern: &'static str,
    },

    /// `register_init` was called twice.
    #[error("registerInit must only be called once")]
    InitRegisteredTwice,

    /// `register` returned without calling `register_init`.
    #[error("registerInit was not called by register in {feature}")]
    InitNotRegistered {
        /// `<pluginId>` or `<moduleId> module for <pluginId>`.
        feature: String,
    },

    /// An extension point was registered after `register_init`.
    #[error("registerExtensionPoint called after registerInit")]
    ExtensionPointAfterInit,

    /// A declared dependency was not handed to the initialiser (a backend bug).
    #[error("dependency '{id}' was declared but not resolved")]
    DependencyNotResolved {
        /// The service or extension point id.
        id: &'static str,
    },

    /// Two refs share an id but name different interfaces, or a singleton ref names a multiton.
    #[error(
        "dependency '{id}' has another type than the ref asking for it: two refs share this id with different interfaces (or singleton and multiton)"
    )]
    DependencyType {
        /// The service or extension point id.
        id: &'static str,
    },

    /// A lifecycle hook was added after its phase ran.
    #[error("{0}")]
    HookAfterPhase(&'static str),

    /// An error from `backstage-backend-common` (config, HTTP routing, auth).
    #[error(transparent)]
    Common(#[from] backstage_backend_common::Error),
}
