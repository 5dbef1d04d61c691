//! Plugins, modules and their registration (spec §2.2–2.4).

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use crate::deps::{
    Dependencies, Dependency, ErasedValue, ResolvedDeps, ServiceDeps, declared, erase,
};
use crate::factory::BoxFuture;
use crate::service_ref::ExtensionPoint;
use crate::{BoxError, Error};

/// An init function after type erasure: resolves its handles and runs.
pub type InitFn = Box<dyn FnOnce(ResolvedDeps) -> BoxFuture<'static, Result<(), BoxError>> + Send>;

/// Produces a module's own value of an extension point (spec §2.2, factory form).
pub type ExtensionPointFactory = Arc<dyn Fn(&ModuleContext) -> ErasedValue + Send + Sync>;

/// How an extension point's value is provided.
#[derive(Clone)]
pub enum ExtensionPointProvider {
    /// One value shared by every consuming module.
    Shared(ErasedValue),
    /// A value per consuming module.
    PerModule(ExtensionPointFactory),
}

/// An extension point registered by a plugin or module.
#[derive(Clone)]
pub struct ExtensionPointRegistration {
    /// The extension point id.
    pub id: &'static str,
    /// Its value.
    pub provider: ExtensionPointProvider,
}

impl fmt::Debug for ExtensionPointRegistration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExtensionPointRegistration")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// What a plugin's or module's `register` produced (read by backend implementations).
pub struct Registration {
    /// The plugin id (the target plugin, for a module).
    pub plugin_id: String,
    /// The module id, for a module.
    pub module_id: Option<String>,
    /// Extension points registered, in order.
    pub extension_points: Vec<ExtensionPointRegistration>,
    /// The init's declared dependencies.
    pub deps: Vec<Dependency>,
    /// The init itself.
    pub init: InitFn,
}

impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("plugin_id", &self.plugin_id)
            .field("module_id", &self.module_id)
            .field("extension_points", &self.extension_points)
            .field(
                "deps",
                &self.deps.iter().map(Dependency::id).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// Receives a module id and the failure a plugin reports for it.
pub type FailureReporter = Arc<dyn Fn(&str, BoxError) + Send + Sync>;

/// Handed to an extension point factory: which module the value is for, and a way for the
/// plugin to mark that module as failed later (spec §2.2 `reportModuleStartupFailure`).
#[derive(Clone)]
pub struct ModuleContext {
    plugin_id: String,
    module_id: String,
    reporter: FailureReporter,
}

impl ModuleContext {
    /// A context (backend implementations only). `reporter` receives the module id and error.
    pub fn new(
        plugin_id: impl Into<String>,
        module_id: impl Into<String>,
        reporter: FailureReporter,
    ) -> Self {
        Self {
            plugin_id: plugin_id.into(),
            module_id: module_id.into(),
            reporter,
        }
    }

    /// The plugin id.
    pub fn plugin_id(&self) -> &str {
        &self.plugin_id
    }

    /// The consuming module's id.
    pub fn module_id(&self) -> &str {
        &self.module_id
    }

    /// Marks the module as failed; counts as a module start-up failure when reported before
    /// the plugin finishes starting, and is only logged afterwards.
    pub fn report_module_startup_failure(&self, error: impl Into<BoxError>) {
        (self.reporter)(&self.module_id, error.into());
    }
}

impl fmt::Debug for ModuleContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModuleContext")
            .field("plugin_id", &self.plugin_id)
            .field("module_id", &self.module_id)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct RegistrarState {
    extension_points: Vec<ExtensionPointRegistration>,
    init: Option<(Vec<Dependency>, InitFn)>,
    error: Option<Error>,
}

impl RegistrarState {
    fn fail(&mut self, error: Error) {
        if self.error.is_none() {
            self.error = Some(error);
        }
    }

    fn add_extension_point(&mut self, id: &'static str, provider: ExtensionPointProvider) {
        if self.init.is_some() {
            self.fail(Error::ExtensionPointAfterInit);
            return;
        }
        self.extension_points
            .push(ExtensionPointRegistration { id, provider });
    }

    fn set_init<D, F, Fut, E>(&mut self, deps: D, init: F)
    where
        D: Dependencies,
        F: FnOnce(D::Output) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        if self.init.is_some() {
            self.fail(Error::InitRegisteredTwice);
            return;
        }
        let list = declared(&deps);
        let run: InitFn = Box::new(move |resolved| {
            Box::pin(async move {
                let handles = deps.extract(&resolved)?;
                init(handles).await.map_err(Into::into)
            })
        });
        self.init = Some((list, run));
    }

    fn finish(
        self,
        plugin_id: &str,
        module_id: Option<&str>,
        feature: String,
    ) -> Result<Registration, Error> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let (deps, init) = self.init.ok_or(Error::InitNotRegistered { feature })?;
        Ok(Registration {
            plugin_id: plugin_id.to_owned(),
            module_id: module_id.map(str::to_owned),
            extension_points: self.extension_points,
            deps,
            init,
        })
    }
}

/// What a plugin's `register` function receives.
pub struct PluginRegistrar {
    state: RegistrarState,
}

impl PluginRegistrar {
    /// Registers an extension point whose one value is shared by every consuming module.
    /// Must come before [`register_init`](Self::register_init).
    pub fn register_extension_point<T: ?Sized + Send + Sync + 'static>(
        &mut self,
        extension_point: ExtensionPoint<T>,
        value: Arc<T>,
    ) {
        self.state.add_extension_point(
            extension_point.id(),
            ExtensionPointProvider::Shared(erase(value)),
        );
    }

    /// Registers an extension point whose value is made per consuming module.
    pub fn register_extension_point_factory<T, F>(
        &mut self,
        extension_point: ExtensionPoint<T>,
        factory: F,
    ) where
        T: ?Sized + Send + Sync + 'static,
        F: Fn(&ModuleContext) -> Arc<T> + Send + Sync + 'static,
    {
        self.state.add_extension_point(
            extension_point.id(),
            ExtensionPointProvider::PerModule(Arc::new(move |ctx| erase(factory(ctx)))),
        );
    }

    /// Registers the plugin's init: it runs once, after the plugin's modules, with `deps`
    /// resolved for this plugin. Exactly one call is required.
    pub fn register_init<D, F, Fut, E>(&mut self, deps: D, init: F)
    where
        D: ServiceDeps,
        F: FnOnce(D::Output) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        self.state.set_init(deps, init);
    }
}

/// What a module's `register` function receives: the plugin's registration points, plus
/// extension points among the init's dependencies.
pub struct ModuleRegistrar {
    state: RegistrarState,
}

impl ModuleRegistrar {
    /// Registers an extension point for the *other modules* of the same plugin.
    pub fn register_extension_point<T: ?Sized + Send + Sync + 'static>(
        &mut self,
        extension_point: ExtensionPoint<T>,
        value: Arc<T>,
    ) {
        self.state.add_extension_point(
            extension_point.id(),
            ExtensionPointProvider::Shared(erase(value)),
        );
    }

    /// Registers the module's init; `deps` may include the plugin's extension points.
    pub fn register_init<D, F, Fut, E>(&mut self, deps: D, init: F)
    where
        D: Dependencies,
        F: FnOnce(D::Output) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        self.state.set_init(deps, init);
    }
}

type PluginRegister = Arc<dyn Fn(&mut PluginRegistrar) + Send + Sync>;
type ModuleRegister = Arc<dyn Fn(&mut ModuleRegistrar) + Send + Sync>;

/// A backend plugin: an id and a `register` function (spec §2.2).
///
/// ```
/// use std::convert::Infallible;
/// use backstage_core_plugin_api::{Plugin, core_services};
///
/// let plugin = Plugin::new("hello", |reg| {
///     reg.register_init(core_services::LOGGER, |logger| async move {
///         logger.info("hello plugin started");
///         Ok::<_, Infallible>(())
///     });
/// });
/// let registration = plugin.registration()?;
/// assert_eq!(registration.plugin_id, "hello");
/// assert_eq!(registration.deps[0].id(), "core.logger");
/// # Ok::<(), backstage_core_plugin_api::Error>(())
/// ```
#[derive(Clone)]
pub struct Plugin {
    id: String,
    register: PluginRegister,
}

impl Plugin {
    /// A plugin. The id is checked when the backend starts (every problem is reported
    /// together); [`check_plugin_id`](crate::check_plugin_id) checks it now.
    pub fn new(
        id: impl Into<String>,
        register: impl Fn(&mut PluginRegistrar) + Send + Sync + 'static,
    ) -> Self {
        Self {
            id: id.into(),
            register: Arc::new(register),
        }
    }

    /// The plugin id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Runs `register` and returns what it registered.
    ///
    /// # Errors
    ///
    /// `registerInit` missing or called twice, or an extension point registered after it.
    pub fn registration(&self) -> Result<Registration, Error> {
        let mut registrar = PluginRegistrar {
            state: RegistrarState::default(),
        };
        (self.register)(&mut registrar);
        registrar.state.finish(&self.id, None, self.id.clone())
    }
}

impl fmt::Debug for Plugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plugin")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A module: extends exactly one plugin (spec §2.3).
#[derive(Clone)]
pub struct Module {
    plugin_id: String,
    module_id: String,
    register: ModuleRegister,
}

impl Module {
    /// A module for `plugin_id`. A module whose plugin is not installed in the backend never
    /// runs (as in Backstage); the backend logs a warning.
    pub fn new(
        plugin_id: impl Into<String>,
        module_id: impl Into<String>,
        register: impl Fn(&mut ModuleRegistrar) + Send + Sync + 'static,
    ) -> Self {
        Self {
            plugin_id: plugin_id.into(),
            module_id: module_id.into(),
            register: Arc::new(register),
        }
    }

    /// The target plugin id.
    pub fn plugin_id(&self) -> &str {
        &self.plugin_id
    }

    /// The module id.
    pub fn module_id(&self) -> &str {
        &self.module_id
    }

    /// Runs `register` and returns what it registered.
    ///
    /// # Errors
    ///
    /// `registerInit` missing or called twice, or an extension point registered after it.
    pub fn registration(&self) -> Result<Registration, Error> {
        let mut registrar = ModuleRegistrar {
            state: RegistrarState::default(),
        };
        (self.register)(&mut registrar);
        registrar.state.finish(
            &self.plugin_id,
            Some(&self.module_id),
            format!("{} module for {}", self.module_id, self.plugin_id),
        )
    }
}

impl fmt::Debug for Module {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Module")
            .field("plugin_id", &self.plugin_id)
            .field("module_id", &self.module_id)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    trait Things: Send + Sync {}
    struct T;
    impl Things for T {}
    const EP: ExtensionPoint<dyn Things> = ExtensionPoint::new("p.things");

    #[test]
    fn registration_errors_use_backstage_messages() {
        let missing = Plugin::new("p", |_reg| {});
        assert_eq!(
            missing.registration().unwrap_err().to_string(),
            "registerInit was not called by register in p"
        );
        let twice = Plugin::new("p", |reg| {
            reg.register_init((), |()| async { Ok::<_, Infallible>(()) });
            reg.register_init((), |()| async { Ok::<_, Infallible>(()) });
        });
        assert_eq!(
            twice.registration().unwrap_err().to_string(),
            "registerInit must only be called once"
        );
        let late = Plugin::new("p", |reg| {
            reg.register_init((), |()| async { Ok::<_, Infallible>(()) });
            reg.register_extension_point(EP, Arc::new(T));
        });
        assert_eq!(
            late.registration().unwrap_err().to_string(),
            "registerExtensionPoint called after registerInit"
        );
        let module = Module::new("p", "m", |_reg| {});
        assert_eq!(
            module.registration().unwrap_err().to_string(),
            "registerInit was not called by register in m module for p"
        );
    }

    #[tokio::test]
    async fn module_init_receives_extension_points() {
        let module = Module::new("p", "m", |reg| {
            reg.register_init(EP, |_things| async { Ok::<_, Infallible>(()) });
        });
        let registration = module.registration().unwrap();
        assert_eq!(
            registration.deps[0].display_ref(),
            "extensionPoint{p.things}"
        );
        let mut resolved = ResolvedDeps::new();
        let value: Arc<dyn Things> = Arc::new(T);
        resolved.insert("p.things", crate::deps::Resolved::One(erase(value)));
        (registration.init)(resolved).await.unwrap();
    }

    #[test]
    fn plugins_register_extension_points_before_init() {
        let plugin = Plugin::new("p", |reg| {
            reg.register_extension_point(EP, Arc::new(T));
            reg.register_extension_point_factory(EP, |_ctx| Arc::new(T) as Arc<dyn Things>);
            reg.register_init((), |()| async { Ok::<_, Infallible>(()) });
        });
        let registration = plugin.registration().unwrap();
        assert_eq!(registration.extension_points.len(), 2);
        assert!(registration.module_id.is_none());
    }
}
