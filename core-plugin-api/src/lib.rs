//! # backstage-core-plugin-api
//!
//! The plugin boundary of a Rust Backstage backend: what a plugin author depends on. It is
//! the Rust counterpart of `@backstage/backend-plugin-api`.
//!
//! - [`ServiceRef`] / [`MultitonRef`]: typed handles for services (`dyn Trait`), root- or
//!   plugin-scoped; [`ServiceFactory`]: the recipe for one, with typed dependencies.
//! - [`Plugin`], [`Module`], [`ExtensionPoint`], [`FeatureLoader`]: the features a backend
//!   is assembled from ([`Feature`]).
//! - [`core_services`]: the refs of the core services, with their traits in [`services`].
//!
//! Dependencies are declared as values (a ref or a tuple of refs) and arrive as typed
//! `Arc<dyn Trait>` handles, never strings or downcasts (see [`deps`]).
//!
//! ```
//! use std::sync::Arc;
//! use axum::{Router, routing::get};
//! use backstage_core_plugin_api::{BoxError, ExtensionPoint, Module, Plugin, core_services};
//! use backstage_core_plugin_api::services::lifecycle::hook;
//!
//! /// The extension point the `greeting` plugin offers its modules.
//! pub trait Greetings: Send + Sync {
//!     fn add(&self, greeting: &str);
//! }
//! #[derive(Default)]
//! struct GreetingList(std::sync::Mutex<Vec<String>>);
//! impl Greetings for GreetingList {
//!     fn add(&self, greeting: &str) {
//!         self.0.lock().unwrap_or_else(|e| e.into_inner()).push(greeting.to_owned());
//!     }
//! }
//! pub const GREETINGS: ExtensionPoint<dyn Greetings> = ExtensionPoint::new("greeting.greetings");
//!
//! let plugin = Plugin::new("greeting", |reg| {
//!     let list = Arc::new(GreetingList::default());
//!     reg.register_extension_point(GREETINGS, list.clone());
//!     let deps = (core_services::HTTP_ROUTER, core_services::LIFECYCLE, core_services::LOGGER);
//!     reg.register_init(deps, move |(router, lifecycle, logger)| async move {
//!         // Modules ran before this init: their greetings are in the list.
//!         let all = list.0.lock().unwrap_or_else(|e| e.into_inner()).join(", ");
//!         router.use_router(Router::new().route("/", get(move || async move { all })));
//!         lifecycle.add_startup_hook(hook(move || async move {
//!             logger.info("greeting plugin is serving");
//!             Ok::<_, BoxError>(())
//!         }))?;
//!         Ok::<_, BoxError>(())
//!     });
//! });
//!
//! let module = Module::new("greeting", "french", |reg| {
//!     reg.register_init(GREETINGS, |greetings| async move {
//!         greetings.add("bonjour");
//!         Ok::<_, BoxError>(())
//!     });
//! });
//! // `backstage_core_app_api::Backend` runs them: `backend.add(plugin); backend.add(module);`
//! assert_eq!(plugin.registration()?.deps.len(), 3);
//! assert_eq!(module.registration()?.deps[0].display_ref(), "extensionPoint{greeting.greetings}");
//! # Ok::<(), backstage_core_plugin_api::Error>(())
//! ```
//!
//! The crate re-exports what plugin code needs from `backstage-backend-common`
//! ([`ApiError`] for handlers, [`ConfigReader`], [`Credentials`]), so a plugin depends on this
//! crate alone.

pub mod deps;
mod error;
mod factory;
mod feature;
mod ids;
mod plugin;
mod service_ref;
pub mod services;

/// `backstage-backend-common`, for config, errors, logging and HTTP helpers.
pub use backstage_backend_common as common;
pub use backstage_backend_common::ApiError;
pub use backstage_backend_common::auth::{AuthPolicyAllow, Credentials};
pub use backstage_backend_common::config::ConfigReader;

pub use deps::{Dependencies, ServiceDeps};
pub use error::{BoxError, Error};
pub use factory::{BoxFuture, Initialization, ServiceFactory};
pub use feature::{Feature, FeatureLoader};
pub use ids::{IdStyle, check_module_id, check_plugin_id};
pub use plugin::{
    ExtensionPointFactory, ExtensionPointProvider, ExtensionPointRegistration, FailureReporter,
    InitFn, Module, ModuleContext, ModuleRegistrar, Plugin, PluginRegistrar, Registration,
};
pub use service_ref::{
    DefaultFactory, ExtensionPoint, MultitonRef, Replaced, ServiceInfo, ServiceRef, ServiceRefLike,
    ServiceScope,
};
pub use services::core_services;
