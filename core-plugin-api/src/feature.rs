//! Backend features and feature loaders (spec §2.1, §2.5).

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::sync::Arc;

use crate::BoxError;
use crate::deps::{Dependency, ResolvedDeps, ServiceDeps, declared};
use crate::factory::{BoxFuture, ServiceFactory};
use crate::plugin::{Module, Plugin};

/// Anything a backend accepts: a service factory, a plugin, a module or a feature loader.
///
/// Every kind converts with `into()`, so `backend.add(plugin)` works for each.
#[derive(Clone, Debug)]
pub enum Feature {
    /// A service factory (overrides the default for its ref).
    Service(ServiceFactory),
    /// A plugin.
    Plugin(Plugin),
    /// A module.
    Module(Module),
    /// A loader producing more features at start-up.
    Loader(FeatureLoader),
}

impl From<ServiceFactory> for Feature {
    fn from(value: ServiceFactory) -> Self {
        Feature::Service(value)
    }
}
impl From<Plugin> for Feature {
    fn from(value: Plugin) -> Self {
        Feature::Plugin(value)
    }
}
impl From<Module> for Feature {
    fn from(value: Module) -> Self {
        Feature::Module(value)
    }
}
impl From<FeatureLoader> for Feature {
    fn from(value: FeatureLoader) -> Self {
        Feature::Loader(value)
    }
}

type LoadFn =
    dyn Fn(ResolvedDeps) -> BoxFuture<'static, Result<Vec<Feature>, BoxError>> + Send + Sync;

/// A feature that produces more features when the backend starts, from root services
/// (spec §2.5): for instance plugins chosen by configuration.
///
/// ```
/// use std::convert::Infallible;
/// use backstage_core_plugin_api::{BoxError, Feature, FeatureLoader, Plugin, core_services};
///
/// let loader = FeatureLoader::new(core_services::ROOT_CONFIG, |config| async move {
///     let enabled = config.reader().optional_boolean("hello.enabled")?.unwrap_or(false);
///     let mut features: Vec<Feature> = Vec::new();
///     if enabled {
///         features.push(Plugin::new("hello", |reg| {
///             reg.register_init((), |()| async { Ok::<_, Infallible>(()) });
///         }).into());
///     }
///     Ok::<_, BoxError>(features)
/// });
/// assert!(loader.description().starts_with("created at '"));
/// ```
#[derive(Clone)]
pub struct FeatureLoader {
    description: String,
    deps: Vec<Dependency>,
    load: Arc<LoadFn>,
}

impl FeatureLoader {
    /// A loader with root-scoped `deps` (plugin-scoped ones are reported as a wiring problem).
    #[track_caller]
    pub fn new<D, F, Fut, E>(deps: D, loader: F) -> Self
    where
        D: ServiceDeps,
        F: Fn(D::Output) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<Feature>, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        let location = Location::caller();
        let description = format!(
            "created at '{}:{}:{}'",
            location.file(),
            location.line(),
            location.column()
        );
        let list = declared(&deps);
        let deps = Arc::new(deps);
        let loader = Arc::new(loader);
        Self {
            description,
            deps: list,
            load: Arc::new(move |resolved| {
                let deps = deps.clone();
                let loader = loader.clone();
                Box::pin(async move {
                    let handles = deps.extract(&resolved)?;
                    loader(handles).await.map_err(Into::into)
                })
            }),
        }
    }

    /// `created at '<file>:<line>:<column>'`, used in messages.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The declared dependencies.
    pub fn dependencies(&self) -> &[Dependency] {
        &self.deps
    }

    /// Runs the loader (backend implementations only).
    ///
    /// # Errors
    ///
    /// Whatever the loader returns.
    pub fn load(
        &self,
        resolved: ResolvedDeps,
    ) -> BoxFuture<'static, Result<Vec<Feature>, BoxError>> {
        (self.load)(resolved)
    }
}

impl fmt::Debug for FeatureLoader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FeatureLoader")
            .field("description", &self.description)
            .finish_non_exhaustive()
    }
}
