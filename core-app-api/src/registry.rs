//! Service resolution (spec §1.5–1.8): one instance per root service, one per plugin for
//! plugin-scoped services, lazily, with failures cached.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};

use backstage_core_plugin_api::deps::{Dependency, ErasedValue, Resolved, ResolvedDeps, erase};
use backstage_core_plugin_api::services::lifecycle::{LifecycleService, RootLifecycleService};
use backstage_core_plugin_api::services::metadata::{
    InstalledPlugin, PluginMetadataService, RootInstanceMetadataService,
};
use backstage_core_plugin_api::{
    ApiError, BoxError, BoxFuture, ServiceFactory, ServiceInfo, ServiceScope, core_services,
};
use tokio::sync::OnceCell;

use crate::error::ServiceError;
use crate::lifecycle::LifecycleImpl;

type Cell = Arc<OnceCell<Result<ErasedValue, ServiceError>>>;
/// Service id, factory index, plugin id.
type PluginInstanceKey = (&'static str, usize, Arc<str>);

/// Ids the backend provides itself; factories for them are rejected.
pub(crate) const FRAMEWORK_IDS: [&str; 4] = [
    core_services::PLUGIN_METADATA.id(),
    core_services::LIFECYCLE.id(),
    core_services::ROOT_LIFECYCLE.id(),
    core_services::ROOT_INSTANCE_METADATA.id(),
];

struct PluginMetadata(String);
impl PluginMetadataService for PluginMetadata {
    fn plugin_id(&self) -> &str {
        &self.0
    }
}

struct InstanceMetadata(Vec<InstalledPlugin>);
impl RootInstanceMetadataService for InstanceMetadata {
    fn installed_plugins(&self) -> &[InstalledPlugin] {
        &self.0
    }
}

/// The name of an error, Backstage style (`NotFoundError`, or `Error`).
pub(crate) fn error_name(error: &(dyn std::error::Error + 'static)) -> String {
    match error.downcast_ref::<ApiError>() {
        Some(api) => api.name().to_owned(),
        None => "Error".to_owned(),
    }
}

/// `<Name>: <message>`, as Backstage's `stringifyError` writes a cause.
pub(crate) fn describe(error: &BoxError) -> String {
    format!("{}: {}", error_name(error.as_ref()), error)
}

/// Instances of replaced defaults are cached at indexes from here on.
const REPLACED_INDEX: usize = 1 << 20;

pub(crate) struct Registry {
    factories: RwLock<HashMap<&'static str, Vec<ServiceFactory>>>,
    /// Default factories an installed factory replaced, for `REF.replaced()` dependencies.
    replaced: RwLock<HashMap<&'static str, Vec<ServiceFactory>>>,
    defaults: Mutex<HashMap<&'static str, ServiceFactory>>,
    root_instances: Mutex<HashMap<(&'static str, usize), Cell>>,
    root_contexts: Mutex<HashMap<(&'static str, usize), Cell>>,
    plugin_instances: Mutex<HashMap<PluginInstanceKey, Cell>>,
    instantiated: Mutex<HashSet<&'static str>>,
    pub(crate) root_lifecycle: Arc<LifecycleImpl>,
    plugin_lifecycles: Mutex<HashMap<Arc<str>, Arc<LifecycleImpl>>>,
    instance_metadata: RwLock<Arc<InstanceMetadata>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Registry {
    pub(crate) fn new(
        factories: HashMap<&'static str, Vec<ServiceFactory>>,
        replaced: HashMap<&'static str, Vec<ServiceFactory>>,
    ) -> Self {
        Self {
            factories: RwLock::new(factories),
            replaced: RwLock::new(replaced),
            defaults: Mutex::default(),
            root_instances: Mutex::default(),
            root_contexts: Mutex::default(),
            plugin_instances: Mutex::default(),
            instantiated: Mutex::default(),
            root_lifecycle: Arc::new(LifecycleImpl::new(None)),
            plugin_lifecycles: Mutex::default(),
            instance_metadata: RwLock::new(Arc::new(InstanceMetadata(Vec::new()))),
        }
    }

    pub(crate) fn set_instance_metadata(&self, plugins: Vec<InstalledPlugin>) {
        *self
            .instance_metadata
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            Arc::new(InstanceMetadata(plugins));
    }

    /// Installs a factory added by a feature loader; `replace` drops earlier factories for
    /// the id (a singleton replacing a default).
    pub(crate) fn set_factory(&self, factory: ServiceFactory, replace: bool) -> Result<(), String> {
        let id = factory.service().id;
        if lock(&self.instantiated).contains(id) {
            return Err(format!(
                "Unable to set service factory with id {id}, service has already been instantiated"
            ));
        }
        let mut factories = self
            .factories
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let list = factories.entry(id).or_default();
        if replace {
            let previous = std::mem::take(list);
            if !previous.is_empty() {
                self.replaced
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .entry(id)
                    .or_insert(previous);
            }
        }
        list.push(factory);
        Ok(())
    }

    pub(crate) fn installed(&self) -> HashMap<&'static str, Vec<ServiceFactory>> {
        self.factories
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Installed factories for the id, else the ref's default factory (memoised), else none.
    pub(crate) fn factories_for(&self, info: &ServiceInfo) -> Vec<ServiceFactory> {
        if let Some(list) = self
            .factories
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(info.id)
            .filter(|l| !l.is_empty())
        {
            return list.clone();
        }
        match info.default_factory {
            Some(make) => {
                let mut defaults = lock(&self.defaults);
                vec![defaults.entry(info.id).or_insert_with(make).clone()]
            }
            None => Vec::new(),
        }
    }

    /// What `REF.replaced()` resolves to: the replaced factories, else the ref's default
    /// factory, else none.
    pub(crate) fn replaced_for(&self, info: &ServiceInfo) -> Vec<ServiceFactory> {
        if let Some(list) = self
            .replaced
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(info.id)
            .filter(|l| !l.is_empty())
        {
            return list.clone();
        }
        match info.default_factory {
            Some(make) => {
                let mut defaults = lock(&self.defaults);
                vec![defaults.entry(info.id).or_insert_with(make).clone()]
            }
            None => Vec::new(),
        }
    }

    pub(crate) fn plugin_lifecycle(&self, plugin_id: &str) -> Arc<LifecycleImpl> {
        lock(&self.plugin_lifecycles)
            .entry(Arc::from(plugin_id))
            .or_insert_with(|| Arc::new(LifecycleImpl::new(Some(plugin_id.to_owned()))))
            .clone()
    }

    pub(crate) fn plugin_lifecycles(&self) -> Vec<Arc<LifecycleImpl>> {
        lock(&self.plugin_lifecycles).values().cloned().collect()
    }

    fn framework(
        &self,
        id: &str,
        plugin: Option<&Arc<str>>,
    ) -> Option<Result<ErasedValue, ServiceError>> {
        let needs_plugin = || {
            ServiceError::new(format!(
                "Failed to instantiate service '{id}' because it is plugin scoped and was requested for 'root'"
            ))
        };
        if id == core_services::PLUGIN_METADATA.id() {
            return Some(plugin.ok_or_else(needs_plugin).map(|p| {
                let value: Arc<dyn PluginMetadataService> = Arc::new(PluginMetadata(p.to_string()));
                erase(value)
            }));
        }
        if id == core_services::LIFECYCLE.id() {
            return Some(plugin.ok_or_else(needs_plugin).map(|p| {
                let value: Arc<dyn LifecycleService> = self.plugin_lifecycle(p);
                erase(value)
            }));
        }
        if id == core_services::ROOT_LIFECYCLE.id() {
            let value: Arc<dyn RootLifecycleService> = self.root_lifecycle.clone();
            return Some(Ok(erase(value)));
        }
        if id == core_services::ROOT_INSTANCE_METADATA.id() {
            let metadata = self
                .instance_metadata
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone();
            let value: Arc<dyn RootInstanceMetadataService> = metadata;
            return Some(Ok(erase(value)));
        }
        None
    }

    /// Resolves a service for a plugin (`None`: as root).
    pub(crate) fn get(
        self: &Arc<Self>,
        info: ServiceInfo,
        plugin: Option<Arc<str>>,
    ) -> BoxFuture<'static, Result<Resolved, ServiceError>> {
        self.get_from(info, plugin, false)
    }

    /// Resolves the default implementation an installed factory replaced.
    pub(crate) fn get_replaced(
        self: &Arc<Self>,
        info: ServiceInfo,
        plugin: Option<Arc<str>>,
    ) -> BoxFuture<'static, Result<Resolved, ServiceError>> {
        self.get_from(info, plugin, true)
    }

    fn get_from(
        self: &Arc<Self>,
        info: ServiceInfo,
        plugin: Option<Arc<str>>,
        replaced: bool,
    ) -> BoxFuture<'static, Result<Resolved, ServiceError>> {
        let this = self.clone();
        Box::pin(async move {
            lock(&this.instantiated).insert(info.id);
            if !replaced && let Some(value) = this.framework(info.id, plugin.as_ref()) {
                return value.map(Resolved::One);
            }
            let (factories, offset) = if replaced {
                (this.replaced_for(&info), REPLACED_INDEX)
            } else {
                (this.factories_for(&info), 0)
            };
            if factories.is_empty() {
                if info.multiton {
                    return Ok(Resolved::Many(Vec::new()));
                }
                let who = plugin.as_deref().unwrap_or("root");
                return Err(ServiceError::new(format!(
                    "Service or extension point dependencies of '{who}' are missing for the following ref(s): serviceRef{{{}}}",
                    info.id
                )));
            }
            let mut values = Vec::with_capacity(factories.len());
            for (index, factory) in factories.into_iter().enumerate() {
                values.push(
                    this.instance(factory, offset + index, plugin.clone())
                        .await?,
                );
            }
            if info.multiton {
                Ok(Resolved::Many(values))
            } else {
                values
                    .into_iter()
                    .next()
                    .map(Resolved::One)
                    .ok_or_else(|| ServiceError::new(format!("no instance of '{}'", info.id)))
            }
        })
    }

    /// Resolves every service dependency (extension points are the initialiser's business).
    pub(crate) async fn resolve(
        self: &Arc<Self>,
        deps: &[Dependency],
        plugin: Option<Arc<str>>,
    ) -> Result<ResolvedDeps, ServiceError> {
        let mut resolved = ResolvedDeps::new();
        for dep in deps {
            match dep {
                Dependency::Service(info) => {
                    resolved.insert(info.id, self.get(*info, plugin.clone()).await?);
                }
                Dependency::Replaced(info) => {
                    resolved
                        .insert_replaced(info.id, self.get_replaced(*info, plugin.clone()).await?);
                }
                Dependency::ExtensionPoint(_) => {}
            }
        }
        Ok(resolved)
    }

    async fn instance(
        self: &Arc<Self>,
        factory: ServiceFactory,
        index: usize,
        plugin: Option<Arc<str>>,
    ) -> Result<ErasedValue, ServiceError> {
        let info = factory.service();
        match info.scope {
            ServiceScope::Root => {
                let cell = lock(&self.root_instances)
                    .entry((info.id, index))
                    .or_default()
                    .clone();
                let this = self.clone();
                cell.get_or_init(|| async move {
                    if let Some(dep) = factory.dependencies().iter().find_map(|d| match d {
                        Dependency::Service(s) if s.scope == ServiceScope::Plugin => Some(s.id),
                        _ => None,
                    }) {
                        return Err(ServiceError::new(format!(
                            "Failed to instantiate 'root' scoped service '{}' because it depends on 'plugin' scoped service '{dep}'.",
                            info.id
                        )));
                    }
                    let resolved = this.resolve(factory.dependencies(), None).await?;
                    // Root factory errors propagate unwrapped, as in Backstage.
                    factory
                        .create(resolved, None)
                        .await
                        .map_err(|e| ServiceError::new(e.to_string()))
                })
                .await
                .clone()
            }
            ServiceScope::Plugin => {
                let Some(plugin) = plugin else {
                    return Err(ServiceError::new(format!(
                        "Failed to instantiate 'root' scoped service because it depends on 'plugin' scoped service '{}'.",
                        info.id
                    )));
                };
                let context = match factory.root_context_dependencies() {
                    None => None,
                    Some(root_deps) => {
                        let cell = lock(&self.root_contexts)
                            .entry((info.id, index))
                            .or_default()
                            .clone();
                        let this = self.clone();
                        let factory = factory.clone();
                        let root_deps = root_deps.to_vec();
                        let context = cell
                            .get_or_init(|| async move {
                                let resolved = this.resolve(&root_deps, None).await?;
                                factory.create_root_context(resolved).await.map_err(|e| {
                                    ServiceError::new(format!(
                                        "Failed to instantiate service '{}' because createRootContext threw an error, {}",
                                        info.id,
                                        describe(&e)
                                    ))
                                })
                            })
                            .await
                            .clone();
                        Some(context)
                    }
                };
                let cell = lock(&self.plugin_instances)
                    .entry((info.id, index, plugin.clone()))
                    .or_default()
                    .clone();
                let this = self.clone();
                cell.get_or_init(|| async move {
                    let wrap = |cause: String| {
                        ServiceError::new(format!(
                            "Failed to instantiate service '{}' for '{plugin}' because the factory function threw an error, {cause}",
                            info.id
                        ))
                    };
                    let context = match context {
                        Some(Ok(ctx)) => Some(ctx),
                        Some(Err(e)) => return Err(wrap(format!("Error: {e}"))),
                        None => None,
                    };
                    let resolved = this
                        .resolve(factory.dependencies(), Some(plugin.clone()))
                        .await
                        .map_err(|e| wrap(format!("Error: {e}")))?;
                    factory
                        .create(resolved, context)
                        .await
                        .map_err(|e| wrap(describe(&e)))
                })
                .await
                .clone()
            }
        }
    }
}
