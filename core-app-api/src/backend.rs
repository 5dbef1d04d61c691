//! The backend: features in, start-up, shutdown (spec §2.6–2.10).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::Router;
use backstage_core_plugin_api::deps::{Dependency, Resolved, ResolvedDeps, downcast};
use backstage_core_plugin_api::services::metadata::InstalledPlugin;
use backstage_core_plugin_api::{
    BoxError, ExtensionPointProvider, Feature, FeatureLoader, IdStyle, Initialization,
    ModuleContext, Registration, ServiceFactory, ServiceRef, ServiceScope, check_module_id,
    check_plugin_id, core_services,
};
use tokio::sync::{OnceCell, watch};
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::error::{Error, ServiceError};
use crate::lifecycle::DEFAULT_SHUTDOWN_HOOK_TIMEOUT;
use crate::registry::{FRAMEWORK_IDS, Registry, describe, error_name};
use crate::startup::{
    BackendStartupError, ModuleStartupResult, PluginStartupResult, StartupFailure, StartupOutcome,
    StartupPolicy, StartupResult,
};
use crate::wiring::{self, WiringError, WiringProblem, WiringProblemKind};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Created,
    Starting,
    Started,
    Stopped,
}

struct Inner {
    defaults: Vec<ServiceFactory>,
    features: Mutex<Vec<Feature>>,
    phase: Mutex<Phase>,
    registry: Mutex<Option<Arc<Registry>>>,
    /// Flips to `true` when a start attempt finished (successfully or not).
    start_done: watch::Sender<bool>,
    stopped: OnceCell<()>,
}

/// A backend: a dependency-injection container plus the features installed into it.
///
/// Cheap to clone; clones are the same backend (so a signal handler can stop it). Build one
/// with [`create_backend`](crate::create_backend) (the stock services) or
/// [`Backend::new`] (only the factories you give), [`add`](Self::add) features, then
/// [`start`](Self::start) and later [`stop`](Self::stop).
#[derive(Clone)]
pub struct Backend {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("phase", &*lock(&self.inner.phase))
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Backstage's duplicate/override rules for one list of factories (spec §1.9).
fn install(
    factories: &mut HashMap<&'static str, Vec<ServiceFactory>>,
    replaced: &mut HashMap<&'static str, Vec<ServiceFactory>>,
    order: &mut Vec<&'static str>,
    explicit: &mut HashSet<&'static str>,
    factory: ServiceFactory,
    is_default: bool,
    problems: &mut Vec<WiringProblem>,
) {
    let info = factory.service();
    if FRAMEWORK_IDS.contains(&info.id) {
        problems.push(WiringProblem::new(
            WiringProblemKind::FrameworkOverride,
            format!("The {} service cannot be overridden", info.id),
        ));
        return;
    }
    if !order.contains(&info.id) {
        order.push(info.id);
    }
    let list = factories.entry(info.id).or_default();
    if info.multiton {
        if !is_default && !explicit.contains(info.id) {
            // The first explicit multiton factory replaces the defaults.
            let defaults = std::mem::take(list);
            if !defaults.is_empty() {
                replaced.insert(info.id, defaults);
            }
        }
        if !is_default {
            explicit.insert(info.id);
        }
        list.push(factory);
        return;
    }
    let duplicate = if is_default {
        !list.is_empty()
    } else {
        explicit.contains(info.id)
    };
    if duplicate {
        problems.push(WiringProblem::new(
            WiringProblemKind::DuplicateFactory,
            format!("Duplicate service implementations provided for {}", info.id),
        ));
        return;
    }
    if !is_default {
        explicit.insert(info.id);
    }
    let defaults = std::mem::take(list);
    if !defaults.is_empty() {
        replaced.insert(info.id, defaults);
    }
    list.push(factory);
}

impl Backend {
    /// A backend whose defaults are exactly `default_factories` (Backstage's
    /// `createSpecializedBackend`). Factories added later with [`add`](Self::add) replace
    /// defaults for the same service.
    ///
    /// # Errors
    ///
    /// [`Error::Wiring`] when the defaults hold two factories for one singleton service, or
    /// one for a service only the backend provides (`core.pluginMetadata`, the lifecycles).
    pub fn new(default_factories: Vec<ServiceFactory>) -> Result<Self, Error> {
        let mut problems = Vec::new();
        let mut factories = HashMap::new();
        let mut order = Vec::new();
        for factory in &default_factories {
            install(
                &mut factories,
                &mut HashMap::new(),
                &mut order,
                &mut HashSet::new(),
                factory.clone(),
                true,
                &mut problems,
            );
        }
        if !problems.is_empty() {
            return Err(WiringError::new(problems).into());
        }
        Ok(Self {
            inner: Arc::new(Inner {
                defaults: default_factories,
                features: Mutex::default(),
                phase: Mutex::new(Phase::Created),
                registry: Mutex::default(),
                start_done: watch::channel(false).0,
                stopped: OnceCell::new(),
            }),
        })
    }

    /// Adds a feature: a [`ServiceFactory`], [`Plugin`](backstage_core_plugin_api::Plugin),
    /// [`Module`](backstage_core_plugin_api::Module) or [`FeatureLoader`]. Nothing is checked
    /// until [`start`](Self::start), which reports every problem at once.
    ///
    /// # Errors
    ///
    /// [`Error::AddAfterStart`] once `start` was called.
    pub fn add(&self, feature: impl Into<Feature>) -> Result<(), Error> {
        if *lock(&self.inner.phase) != Phase::Created {
            return Err(Error::AddAfterStart);
        }
        lock(&self.inner.features).push(feature.into());
        Ok(())
    }

    /// Starts the backend (spec §2.7): checks the wiring, builds eager root services (the
    /// stock root HTTP router starts listening here), initialises every plugin (its modules
    /// first) concurrently, runs plugin startup hooks, then root startup hooks (readiness
    /// turns 200).
    ///
    /// # Errors
    ///
    /// - [`Error::Wiring`]: every wiring problem; nothing was initialised.
    /// - [`Error::Service`]: an eager root service failed to build.
    /// - [`Error::Startup`]: a plugin or module failed and `backend.startup` does not permit
    ///   it. Whatever started is still running: call [`stop`](Self::stop).
    /// - [`Error::AlreadyStarted`] / [`Error::AlreadyStopped`].
    pub async fn start(&self) -> Result<StartupResult, Error> {
        {
            let mut phase = lock(&self.inner.phase);
            match *phase {
                Phase::Created => *phase = Phase::Starting,
                Phase::Starting | Phase::Started => return Err(Error::AlreadyStarted),
                Phase::Stopped => return Err(Error::AlreadyStopped),
            }
        }
        let outcome = self.start_inner().await;
        {
            let mut phase = lock(&self.inner.phase);
            if *phase == Phase::Starting {
                *phase = Phase::Started;
            }
        }
        self.inner.start_done.send_replace(true);
        outcome
    }

    async fn start_inner(&self) -> Result<StartupResult, Error> {
        let begin_at = SystemTime::now();
        let features = std::mem::take(&mut *lock(&self.inner.features));
        let mut problems = Vec::new();
        let mut factories = HashMap::new();
        let mut order = Vec::new();
        let mut explicit = HashSet::new();
        let mut replaced = HashMap::new();
        for factory in &self.inner.defaults {
            install(
                &mut factories,
                &mut replaced,
                &mut order,
                &mut explicit,
                factory.clone(),
                true,
                &mut problems,
            );
        }
        let mut plugins = Vec::new();
        let mut modules = Vec::new();
        let mut loaders = Vec::new();
        for feature in features {
            match feature {
                Feature::Service(f) => install(
                    &mut factories,
                    &mut replaced,
                    &mut order,
                    &mut explicit,
                    f,
                    false,
                    &mut problems,
                ),
                Feature::Plugin(p) => plugins.push(p),
                Feature::Module(m) => modules.push(m),
                Feature::Loader(l) => loaders.push(l),
            }
        }
        let registry = Arc::new(Registry::new(factories, replaced));
        *lock(&self.inner.registry) = Some(registry.clone());
        if !problems.is_empty() {
            return Err(WiringError::new(problems).into());
        }

        // Feature loaders, depth-first.
        let mut loader_factories: HashMap<&'static str, String> = HashMap::new();
        let mut queue: std::collections::VecDeque<FeatureLoader> = loaders.into();
        while let Some(loader) = queue.pop_front() {
            let mut loader_problems = Vec::new();
            for dep in loader.dependencies() {
                if let Dependency::Service(info) = dep
                    && info.scope == ServiceScope::Plugin
                {
                    loader_problems.push(WiringProblem::new(
                        WiringProblemKind::ScopeMismatch,
                        format!(
                            "Feature loaders can only depend on root scoped services, but '{}' is scoped to 'plugin'. Offending loader is {}",
                            info.id,
                            loader.description()
                        ),
                    ));
                }
            }
            if !loader_problems.is_empty() {
                return Err(WiringError::new(loader_problems).into());
            }
            let resolved = registry.resolve(loader.dependencies(), None).await?;
            let produced = loader
                .load(resolved)
                .await
                .map_err(|source| Error::Loader {
                    description: loader.description().to_owned(),
                    source,
                })?;
            let mut nested = Vec::new();
            for feature in produced {
                match feature {
                    Feature::Plugin(p) => plugins.push(p),
                    Feature::Module(m) => modules.push(m),
                    Feature::Loader(l) => nested.push(l),
                    Feature::Service(f) => {
                        let info = f.service();
                        if FRAMEWORK_IDS.contains(&info.id) {
                            problems.push(WiringProblem::new(
                                WiringProblemKind::FrameworkOverride,
                                format!("The {} service cannot be overridden", info.id),
                            ));
                            continue;
                        }
                        if !info.multiton {
                            if explicit.contains(info.id) {
                                continue; // explicitly added wins
                            }
                            if let Some(other) = loader_factories.get(info.id) {
                                problems.push(WiringProblem::new(
                                    WiringProblemKind::DuplicateFactory,
                                    format!(
                                        "Duplicate service implementations provided for {} by both feature loader {other} and feature loader {}",
                                        info.id,
                                        loader.description()
                                    ),
                                ));
                                continue;
                            }
                            loader_factories.insert(info.id, loader.description().to_owned());
                        }
                        if !order.contains(&info.id) {
                            order.push(info.id);
                        }
                        if let Err(message) = registry.set_factory(f, !info.multiton) {
                            problems.push(WiringProblem::new(
                                WiringProblemKind::DuplicateFactory,
                                message,
                            ));
                        }
                    }
                }
            }
            for l in nested.into_iter().rev() {
                queue.push_front(l);
            }
        }

        // Registrations.
        let mut registrations: Vec<Registration> = Vec::new();
        let mut plugin_ids: HashSet<String> = HashSet::new();
        let mut duplicate_plugins: HashSet<String> = HashSet::new();
        for plugin in &plugins {
            match check_plugin_id(plugin.id()) {
                Err(e) => {
                    problems.push(WiringProblem::new(
                        WiringProblemKind::InvalidId,
                        e.to_string(),
                    ));
                    continue;
                }
                Ok(IdStyle::Legacy) => tracing::warn!(
                    "The pluginId '{}' is deprecated: plugin ids should use dashes, not underscores",
                    plugin.id()
                ),
                Ok(IdStyle::Preferred) => {}
            }
            if !plugin_ids.insert(plugin.id().to_owned()) {
                if duplicate_plugins.insert(plugin.id().to_owned()) {
                    problems.push(WiringProblem::new(
                        WiringProblemKind::DuplicatePlugin,
                        format!("Plugin '{}' is already registered", plugin.id()),
                    ));
                }
                continue;
            }
            match plugin.registration() {
                Ok(r) => registrations.push(r),
                Err(e) => problems.push(WiringProblem::new(
                    WiringProblemKind::Registration,
                    format!("Plugin '{}': {e}", plugin.id()),
                )),
            }
        }
        let mut module_registrations: Vec<Registration> = Vec::new();
        let mut module_ids: HashSet<(String, String)> = HashSet::new();
        for module in &modules {
            if !plugin_ids.contains(module.plugin_id()) {
                tracing::warn!(
                    "Module '{}' for plugin '{}' is skipped: plugin '{}' is not installed in this backend",
                    module.module_id(),
                    module.plugin_id(),
                    module.plugin_id()
                );
                continue;
            }
            match check_module_id(module.plugin_id(), module.module_id()) {
                Err(e) => {
                    problems.push(WiringProblem::new(
                        WiringProblemKind::InvalidId,
                        e.to_string(),
                    ));
                    continue;
                }
                Ok(IdStyle::Legacy) => tracing::warn!(
                    "The moduleId '{}' for plugin '{}' is deprecated: module ids should use dashes, not underscores",
                    module.module_id(),
                    module.plugin_id()
                ),
                Ok(IdStyle::Preferred) => {}
            }
            if !module_ids.insert((module.plugin_id().to_owned(), module.module_id().to_owned())) {
                problems.push(WiringProblem::new(
                    WiringProblemKind::DuplicateModule,
                    format!(
                        "Module '{}' for plugin '{}' is already registered",
                        module.module_id(),
                        module.plugin_id()
                    ),
                ));
                continue;
            }
            match module.registration() {
                Ok(r) => module_registrations.push(r),
                Err(e) => problems.push(WiringProblem::new(
                    WiringProblemKind::Registration,
                    format!(
                        "Module '{}' for plugin '{}': {e}",
                        module.module_id(),
                        module.plugin_id()
                    ),
                )),
            }
        }
        registry.set_instance_metadata(
            registrations
                .iter()
                .map(|p| InstalledPlugin {
                    plugin_id: p.plugin_id.clone(),
                    module_ids: module_registrations
                        .iter()
                        .filter(|m| m.plugin_id == p.plugin_id)
                        .filter_map(|m| m.module_id.clone())
                        .collect(),
                })
                .collect(),
        );

        let report = wiring::check(&registry, &order, &registrations, &module_registrations);
        problems.extend(report.problems);
        if !problems.is_empty() {
            return Err(WiringError::new(problems).into());
        }

        // Eager root services, in installation order.
        let installed = registry.installed();
        for id in &order {
            for factory in installed.get(id).into_iter().flatten() {
                let info = factory.service();
                if info.scope == ServiceScope::Root
                    && factory.initialization_mode() == Initialization::Always
                {
                    registry.get(info, None).await?;
                }
            }
        }

        // Policies from config.
        let (policy, hook_timeout) = match root_config(&registry).await? {
            Some(config) => {
                let policy = StartupPolicy::from_config(&config).map_err(config_error)?;
                let timeout = match config
                    .optional("backend.lifecycle.shutdownHookTimeout")
                    .map_err(config_error)?
                {
                    Some(_) => backstage_backend_common::config::read_duration(
                        &config,
                        "backend.lifecycle.shutdownHookTimeout",
                    )
                    .and_then(|d| d.to_std())
                    .map_err(config_error)?,
                    None => DEFAULT_SHUTDOWN_HOOK_TIMEOUT,
                };
                (policy, timeout)
            }
            None => (StartupPolicy::default(), DEFAULT_SHUTDOWN_HOOK_TIMEOUT),
        };
        registry
            .root_lifecycle
            .set_shutdown_hook_timeout(hook_timeout);

        let mut sorted: Vec<&str> = registrations.iter().map(|r| r.plugin_id.as_str()).collect();
        sorted.sort_unstable();
        tracing::info!(
            "Plugin initialization started: {}",
            sorted
                .iter()
                .map(|p| format!("'{p}'"))
                .collect::<Vec<_>>()
                .join(", ")
        );

        // Eager plugin-scoped factories.
        let eager_plugin: Vec<_> = order
            .iter()
            .flat_map(|id| installed.get(id).into_iter().flatten())
            .filter(|f| {
                f.service().scope == ServiceScope::Plugin
                    && f.initialization_mode() == Initialization::Always
            })
            .map(ServiceFactory::service)
            .collect();

        let policy = Arc::new(policy);
        let extension_points: Arc<HashMap<&'static str, ExtensionPointProvider>> = Arc::new(
            registrations
                .iter()
                .chain(&module_registrations)
                .flat_map(|r| r.extension_points.iter())
                .map(|ep| (ep.id, ep.provider.clone()))
                .collect(),
        );
        let mut module_waves = report.module_waves;
        // Regroup modules by plugin, keeping the wave indexes valid.
        let mut indexed: Vec<Option<Registration>> =
            module_registrations.into_iter().map(Some).collect();
        let mut waves_by_plugin: HashMap<String, Vec<Vec<Registration>>> = HashMap::new();
        for (plugin_id, waves) in module_waves.drain() {
            let waves = waves
                .into_iter()
                .map(|wave| {
                    wave.into_iter()
                        .filter_map(|i| indexed.get_mut(i).and_then(Option::take))
                        .collect()
                })
                .collect();
            waves_by_plugin.insert(plugin_id, waves);
        }

        let mut tasks = JoinSet::new();
        for registration in registrations {
            let plugin_id: Arc<str> = Arc::from(registration.plugin_id.as_str());
            let waves = waves_by_plugin
                .remove(&registration.plugin_id)
                .unwrap_or_default();
            let ctx = PluginStart {
                registry: registry.clone(),
                policy: policy.clone(),
                extension_points: extension_points.clone(),
                eager: eager_plugin.clone(),
            };
            let span = tracing::info_span!("plugin", plugin = %plugin_id);
            tasks.spawn(ctx.run(plugin_id, registration, waves).instrument(span));
        }
        let mut results = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(result) => results.push(result),
                Err(join) => tracing::error!("A plugin start-up task panicked: {join}"),
            }
        }
        let failed = results.iter().any(|p| {
            p.failure.as_ref().is_some_and(|f| !f.allowed)
                || p.modules
                    .iter()
                    .any(|m| m.failure.as_ref().is_some_and(|f| !f.allowed))
        });
        let mut done: Vec<String> = results
            .iter()
            .filter(|p| p.failure.is_none())
            .map(|p| format!("'{}'", p.plugin_id))
            .collect();
        done.sort();
        tracing::info!(
            "Plugin initialization complete, newly initialized: {}",
            done.join(", ")
        );
        let result = StartupResult {
            begin_at,
            result_at: SystemTime::now(),
            outcome: if failed {
                StartupOutcome::Failure
            } else {
                StartupOutcome::Success
            },
            plugins: results,
        };
        if failed {
            return Err(BackendStartupError::new(result).into());
        }
        registry.root_lifecycle.startup().await;
        Ok(result)
    }

    /// Stops the backend (spec §2.10): root before-shutdown hooks (readiness turns 503),
    /// every plugin's shutdown hooks (plugins in parallel), then root shutdown hooks (the
    /// server closes). Waits for a start in progress first; shuts down whatever a failed
    /// start brought up. Idempotent; does nothing if `start` was never called.
    ///
    /// # Errors
    ///
    /// None today; hook failures are logged. The `Result` leaves room for reporting.
    pub async fn stop(&self) -> Result<(), Error> {
        {
            let mut phase = lock(&self.inner.phase);
            if *phase == Phase::Created {
                *phase = Phase::Stopped;
                return Ok(());
            }
        }
        let mut done = self.inner.start_done.subscribe();
        // An error only means the sender is gone, which cannot happen while `self` lives.
        let _ = done.wait_for(|d| *d).await;
        self.inner
            .stopped
            .get_or_init(|| async {
                *lock(&self.inner.phase) = Phase::Stopped;
                let registry = lock(&self.inner.registry).clone();
                if let Some(registry) = registry {
                    registry.root_lifecycle.before_shutdown().await;
                    let mut set = JoinSet::new();
                    for lifecycle in registry.plugin_lifecycles() {
                        set.spawn(async move { lifecycle.shutdown().await });
                    }
                    while set.join_next().await.is_some() {}
                    registry.root_lifecycle.shutdown().await;
                }
            })
            .await;
        Ok(())
    }

    /// A root-scoped service of this backend, for hosts and tests (for instance the config,
    /// or the root HTTP router). Builds it if needed.
    ///
    /// # Errors
    ///
    /// [`Error::NotRootScoped`] for a plugin-scoped ref; [`Error::Service`] when it cannot be
    /// built; [`Error::Wiring`] before `start` was called.
    pub async fn service<T: ?Sized + Send + Sync + 'static>(
        &self,
        service: ServiceRef<T>,
    ) -> Result<Arc<T>, Error> {
        if service.scope() != ServiceScope::Root {
            return Err(Error::NotRootScoped { id: service.id() });
        }
        let registry = lock(&self.inner.registry).clone().ok_or_else(|| {
            Error::Service(ServiceError::new(
                "the backend has not been started; services exist after start()",
            ))
        })?;
        match registry.get(service.info(), None).await? {
            Resolved::One(value) => Ok(downcast::<T>(service.id(), &value)
                .map_err(|e| ServiceError::new(e.to_string()))?),
            Resolved::Many(_) => Err(ServiceError::new("a multiton has no single instance").into()),
        }
    }

    /// The whole backend as one axum router, from the root HTTP router service: mount it in
    /// a host application (`host.merge(router)` or `nest_service`) or serve it.
    ///
    /// # Errors
    ///
    /// As [`service`](Self::service).
    pub async fn router(&self) -> Result<Router, Error> {
        Ok(self
            .service(core_services::ROOT_HTTP_ROUTER)
            .await?
            .router())
    }

    /// The address the stock root HTTP router listens on.
    ///
    /// # Errors
    ///
    /// [`Error::NotListening`] in embedded mode; as [`service`](Self::service) otherwise.
    pub async fn local_addr(&self) -> Result<std::net::SocketAddr, Error> {
        self.service(core_services::ROOT_HTTP_ROUTER)
            .await?
            .local_addr()
            .ok_or(Error::NotListening)
    }
}

fn config_error(e: backstage_backend_common::Error) -> Error {
    Error::Service(ServiceError::new(e.to_string()))
}

async fn root_config(
    registry: &Arc<Registry>,
) -> Result<Option<backstage_backend_common::config::ConfigReader>, Error> {
    let info = core_services::ROOT_CONFIG.info();
    if registry.factories_for(&info).is_empty() {
        return Ok(None);
    }
    let Resolved::One(value) = registry.get(info, None).await? else {
        return Ok(None);
    };
    let config = downcast::<dyn backstage_core_plugin_api::services::config::RootConfigService>(
        info.id, &value,
    )
    .map_err(|e| ServiceError::new(e.to_string()))?;
    Ok(Some(config.reader()))
}

/// Everything one plugin's start-up task needs.
struct PluginStart {
    registry: Arc<Registry>,
    policy: Arc<StartupPolicy>,
    extension_points: Arc<HashMap<&'static str, ExtensionPointProvider>>,
    eager: Vec<backstage_core_plugin_api::ServiceInfo>,
}

fn failure(error: &(dyn std::error::Error + 'static), allowed: bool) -> StartupFailure {
    StartupFailure {
        name: error_name(error),
        message: error.to_string(),
        allowed,
    }
}

/// Runs an init in its own task, so a panic becomes an error of that plugin or module.
async fn run_contained(
    init: backstage_core_plugin_api::BoxFuture<'static, Result<(), BoxError>>,
) -> Result<(), BoxError> {
    let span = tracing::Span::current();
    match tokio::spawn(init.instrument(span)).await {
        Ok(outcome) => outcome,
        Err(join) if join.is_panic() => {
            let payload = join.into_panic();
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic payload".to_owned());
            Err(format!("init panicked: {message}").into())
        }
        Err(join) => Err(format!("init was cancelled: {join}").into()),
    }
}

type Reports = Arc<Mutex<(bool, Vec<(String, String)>)>>;

impl PluginStart {
    async fn resolve(
        &self,
        deps: &[Dependency],
        module_id: Option<&str>,
        plugin_id: &Arc<str>,
        reports: &Reports,
    ) -> Result<ResolvedDeps, ServiceError> {
        let mut resolved = self.registry.resolve(deps, Some(plugin_id.clone())).await?;
        for dep in deps {
            let Dependency::ExtensionPoint(id) = dep else {
                continue;
            };
            let value = match self.extension_points.get(id) {
                Some(ExtensionPointProvider::Shared(value)) => value.clone(),
                Some(ExtensionPointProvider::PerModule(factory)) => {
                    let reports = reports.clone();
                    let plugin = plugin_id.to_string();
                    let reporter: backstage_core_plugin_api::FailureReporter = Arc::new(
                        move |module: &str, error: BoxError| {
                            let mut guard = lock(&reports);
                            if guard.0 {
                                tracing::error!(
                                    "Plugin '{plugin}' reported failure for module '{module}' after startup: {error}"
                                );
                            } else {
                                guard.1.push((module.to_owned(), describe(&error)));
                            }
                        },
                    );
                    factory(&ModuleContext::new(
                        plugin_id.to_string(),
                        module_id.unwrap_or_default().to_owned(),
                        reporter,
                    ))
                }
                None => {
                    return Err(ServiceError::new(format!(
                        "Service or extension point dependencies are missing for the following ref(s): extensionPoint{{{id}}}"
                    )));
                }
            };
            resolved.insert(id, Resolved::One(value));
        }
        Ok(resolved)
    }

    async fn run(
        self,
        plugin_id: Arc<str>,
        registration: Registration,
        waves: Vec<Vec<Registration>>,
    ) -> PluginStartupResult {
        let this = Arc::new(self);
        let plugin_allowed = this.policy.plugin_allowed(&plugin_id);
        let reports: Reports = Arc::default();
        let mut modules = Vec::new();
        let plugin_failed = |error: &(dyn std::error::Error + 'static), modules| {
            if plugin_allowed {
                tracing::error!(error = %error, "Plugin '{plugin_id}' threw an error during startup, but boot failure is permitted for this plugin so startup will continue.");
            } else {
                tracing::error!(error = %error, "Plugin '{plugin_id}' threw an error during startup.");
            }
            PluginStartupResult {
                plugin_id: plugin_id.to_string(),
                result_at: SystemTime::now(),
                failure: Some(failure(error, plugin_allowed)),
                modules,
            }
        };

        // 1. Eager plugin-scoped services.
        for info in &this.eager {
            if let Err(e) = this.registry.get(*info, Some(plugin_id.clone())).await {
                return plugin_failed(&e, modules);
            }
        }

        // 2. Modules, wave by wave.
        for wave in waves {
            let mut set = JoinSet::new();
            for module in wave {
                let this = this.clone();
                let plugin_id = plugin_id.clone();
                let reports = reports.clone();
                let span = tracing::Span::current();
                set.spawn(
                    async move {
                        let Registration {
                            module_id,
                            deps,
                            init,
                            ..
                        } = module;
                        let module_id = module_id.unwrap_or_default();
                        let outcome: Result<(), BoxError> = async {
                            let resolved = this
                                .resolve(&deps, Some(&module_id), &plugin_id, &reports)
                                .await?;
                            run_contained(init(resolved)).await
                        }
                        .await;
                        (module_id, outcome)
                    }
                    .instrument(span),
                );
            }
            while let Some(joined) = set.join_next().await {
                let (module_id, outcome) = match joined {
                    Ok(pair) => pair,
                    Err(join) => (
                        "<unknown>".to_owned(),
                        Err(format!("module init panicked: {join}").into()),
                    ),
                };
                let allowed = this.policy.module_allowed(&plugin_id, &module_id);
                let failure = outcome.err().map(|error| {
                    if allowed {
                        tracing::error!(error = %error, "Module {module_id} in Plugin '{plugin_id}' threw an error during startup, but boot failure is permitted for this plugin module so startup will continue.");
                    } else {
                        tracing::error!(error = %error, "Module {module_id} in Plugin '{plugin_id}' threw an error during startup.");
                    }
                    failure(error.as_ref(), allowed)
                });
                modules.push(ModuleStartupResult {
                    module_id,
                    result_at: SystemTime::now(),
                    failure,
                });
            }
        }

        // 3. The plugin's init.
        let Registration { deps, init, .. } = registration;
        let outcome: Result<(), BoxError> = async {
            let resolved = this.resolve(&deps, None, &plugin_id, &reports).await?;
            run_contained(init(resolved)).await
        }
        .await;
        // Failures the plugin reported for its modules.
        {
            let mut guard = lock(&reports);
            guard.0 = true;
            for (module_id, message) in guard.1.drain(..) {
                let allowed = this.policy.module_allowed(&plugin_id, &module_id);
                let f = StartupFailure {
                    name: "Error".into(),
                    message,
                    allowed,
                };
                match modules.iter_mut().find(|m| m.module_id == module_id) {
                    Some(m) if m.failure.is_none() => m.failure = Some(f),
                    Some(_) => {}
                    None => modules.push(ModuleStartupResult {
                        module_id,
                        result_at: SystemTime::now(),
                        failure: Some(f),
                    }),
                }
            }
        }
        if let Err(error) = outcome {
            return plugin_failed(error.as_ref(), modules);
        }

        // 4. The plugin's startup hooks.
        this.registry.plugin_lifecycle(&plugin_id).startup().await;
        PluginStartupResult {
            plugin_id: plugin_id.to_string(),
            result_at: SystemTime::now(),
            failure: None,
            modules,
        }
    }
}
