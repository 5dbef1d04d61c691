//! The stock service factories (Backstage's `createBackend()` defaults): config, loggers,
//! health, root and plugin HTTP routers, auth, discovery and the in-process scheduler.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use backstage_backend_common::auth::{
    AuthBarrier, AuthPolicyAllow, Credentials, TokenAuthenticator, TokenValidator,
};
use backstage_backend_common::config::{
    ConfigReader, ListenAddress, LoadConfigOptions, load_config,
};
use backstage_backend_common::discovery::HostDiscovery;
use backstage_backend_common::errors::ApiError;
use backstage_backend_common::http::{
    HealthCheck, HealthResponse, HealthState, LifecycleGate, PluginRouter, RootRouter,
    RootRouterOptions, ServerHandle, bind, server_shutdown_delay, spawn_server,
    startup_request_pause_timeout,
};
use backstage_backend_common::scheduler::{LocalScheduler, TaskDefinition, TaskDescriptor};
use backstage_core_plugin_api::services::auth::AuthService;
use backstage_core_plugin_api::services::config::RootConfigService;
use backstage_core_plugin_api::services::discovery::DiscoveryService;
use backstage_core_plugin_api::services::http::{
    HttpRouterService, RootHealthService, RootHttpRouterService,
};
use backstage_core_plugin_api::services::lifecycle::hook;
use backstage_core_plugin_api::services::logger::{LoggerService, RootLoggerService, SpanLogger};
use backstage_core_plugin_api::services::scheduler::SchedulerService;
use backstage_core_plugin_api::{BoxError, Error as BoundaryError, ServiceFactory, core_services};
use tokio_util::sync::CancellationToken;

use crate::Backend;
use crate::error::Error;

/// Where the stock root config service gets its configuration.
#[derive(Clone, Debug)]
pub enum ConfigSource {
    /// A reader the host built.
    Reader(ConfigReader),
    /// Load files and `APP_CONFIG_*` as `backstage_backend_common::config::load_config` does.
    Load(LoadConfigOptions),
}

/// Options for the stock services.
///
/// ```
/// use backstage_core_app_api::DefaultServices;
/// use backstage_backend_common::config::ConfigReader;
/// use serde_json::json;
///
/// let config = ConfigReader::from_value(json!({ "backend": { "baseUrl": "http://localhost:7007" } }));
/// let backend = DefaultServices::new().config(config).embedded().backend()?;
/// # Ok::<(), backstage_core_app_api::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct DefaultServices {
    config: ConfigSource,
    listen: bool,
    index_path: Option<String>,
}

impl Default for DefaultServices {
    fn default() -> Self {
        Self::new()
    }
}

impl DefaultServices {
    /// Defaults: config from `app-config.yaml` (+ `app-config.local.yaml`) in the current
    /// directory if present, plus `APP_CONFIG_*` and `${VAR}` from the process environment;
    /// the HTTP server listening on `backend.listen`.
    pub fn new() -> Self {
        let root = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        Self {
            config: ConfigSource::Load(
                LoadConfigOptions::new(root)
                    .from_process_env()
                    .allow_missing_default_config(true),
            ),
            listen: true,
            index_path: RootRouterOptions::default().index_path,
        }
    }

    /// Uses this configuration.
    pub fn config(mut self, config: ConfigReader) -> Self {
        self.config = ConfigSource::Reader(config);
        self
    }

    /// Loads configuration with these options (for instance `--config` files).
    pub fn load_config(mut self, options: LoadConfigOptions) -> Self {
        self.config = ConfigSource::Load(options);
        self
    }

    /// Does not listen: the host serves [`Backend::router`] itself.
    pub fn embedded(mut self) -> Self {
        self.listen = false;
        self
    }

    /// The root path whose handler serves requests outside `/api/` (default `/api/app`;
    /// `None` disables the fallback).
    pub fn index_path(mut self, index_path: Option<String>) -> Self {
        self.index_path = index_path;
        self
    }

    /// The factories.
    pub fn factories(&self) -> Vec<ServiceFactory> {
        vec![
            root_config_factory(self.config.clone()),
            root_logger_factory(),
            logger_factory(),
            root_health_factory(),
            root_http_router_factory(self.listen, self.index_path.clone()),
            http_router_factory(),
            auth_factory(),
            discovery_factory(),
            scheduler_factory(),
        ]
    }

    /// A backend with these factories as defaults.
    ///
    /// # Errors
    ///
    /// Never in practice (the stock list has no duplicates); see [`Backend::new`].
    pub fn backend(&self) -> Result<Backend, Error> {
        Backend::new(self.factories())
    }
}

/// A backend with the stock services (Backstage's `createBackend()`): config from the current
/// directory and the environment, the server on `backend.listen`.
///
/// # Errors
///
/// See [`Backend::new`].
pub fn create_backend() -> Result<Backend, Error> {
    DefaultServices::new().backend()
}

fn root_config_factory(source: ConfigSource) -> ServiceFactory {
    ServiceFactory::new(core_services::ROOT_CONFIG, (), move |()| {
        let source = source.clone();
        async move {
            let reader = match source {
                ConfigSource::Reader(reader) => reader,
                ConfigSource::Load(options) => ConfigReader::from_layers(load_config(&options)?),
            };
            Ok::<_, BoxError>(Arc::new(reader) as Arc<dyn RootConfigService>)
        }
    })
}

fn root_logger_factory() -> ServiceFactory {
    ServiceFactory::new(core_services::ROOT_LOGGER, (), |()| async {
        Ok::<_, BoxError>(Arc::new(SpanLogger::root()) as Arc<dyn RootLoggerService>)
    })
}

fn logger_factory() -> ServiceFactory {
    ServiceFactory::new(
        core_services::LOGGER,
        (core_services::ROOT_LOGGER, core_services::PLUGIN_METADATA),
        |(root, metadata)| async move {
            let root: Arc<dyn LoggerService> = root;
            Ok::<_, BoxError>(
                Arc::new(SpanLogger::plugin(root.as_ref(), metadata.plugin_id()))
                    as Arc<dyn LoggerService>,
            )
        },
    )
}

/// The stock health service: `init` → `up` (root startup) → `down` (root before-shutdown).
struct DefaultHealth(HealthState);

impl RootHealthService for DefaultHealth {
    fn liveness(&self) -> HealthResponse {
        self.0.liveness()
    }
    fn readiness(&self) -> HealthResponse {
        self.0.readiness()
    }
}

fn root_health_factory() -> ServiceFactory {
    ServiceFactory::new(
        core_services::ROOT_HEALTH,
        core_services::ROOT_LIFECYCLE,
        |lifecycle| async move {
            let state = HealthState::new();
            let up = state.clone();
            lifecycle.add_startup_hook(hook(move || async move {
                up.set_up();
                Ok::<_, BoxError>(())
            }))?;
            let down = state.clone();
            lifecycle.add_before_shutdown_hook(hook(move || async move {
                down.set_down();
                Ok::<_, BoxError>(())
            }))?;
            Ok::<_, BoundaryError>(Arc::new(DefaultHealth(state)) as Arc<dyn RootHealthService>)
        },
    )
}

/// Adapts the health service (maybe a host's own) to what the root router asks.
struct HealthAdapter(Arc<dyn RootHealthService>);

impl HealthCheck for HealthAdapter {
    fn liveness(&self) -> HealthResponse {
        self.0.liveness()
    }
    fn readiness(&self) -> HealthResponse {
        self.0.readiness()
    }
}

/// The stock root HTTP router: a [`RootRouter`], and the server when listening.
pub struct DefaultRootHttpRouter {
    router: RootRouter,
    local_addr: Option<SocketAddr>,
}

impl RootHttpRouterService for DefaultRootHttpRouter {
    fn use_router(&self, path: &str, router: Router) -> Result<(), BoundaryError> {
        Ok(self.router.mount(path, router)?)
    }
    fn router(&self) -> Router {
        self.router.router()
    }
    fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }
}

fn root_http_router_factory(listen: bool, index_path: Option<String>) -> ServiceFactory {
    ServiceFactory::new(
        core_services::ROOT_HTTP_ROUTER,
        (
            core_services::ROOT_CONFIG,
            core_services::ROOT_HEALTH,
            core_services::ROOT_LIFECYCLE,
        ),
        move |(config, health, lifecycle)| {
            let index_path = index_path.clone();
            async move {
                let config = config.reader();
                let router = RootRouter::new(
                    &config,
                    Arc::new(HealthAdapter(health)),
                    RootRouterOptions { index_path },
                )?;
                let mut local_addr = None;
                if listen {
                    let address = ListenAddress::from_config(&config)?;
                    let listener = bind(&address).await?;
                    let server = spawn_server(listener, router.router())?;
                    local_addr = Some(server.local_addr());
                    if let Some(delay) = server_shutdown_delay(&config)? {
                        lifecycle.add_before_shutdown_hook(hook(move || async move {
                            tokio::time::sleep(delay).await;
                            Ok::<_, BoxError>(())
                        }))?;
                    }
                    let server: Arc<Mutex<Option<ServerHandle>>> =
                        Arc::new(Mutex::new(Some(server)));
                    lifecycle.add_shutdown_hook(hook(move || async move {
                        let handle = server
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .take();
                        if let Some(handle) = handle {
                            handle.shutdown().await?;
                        }
                        Ok::<_, BoxError>(())
                    }))?;
                }
                Ok::<_, BoxError>(Arc::new(DefaultRootHttpRouter { router, local_addr })
                    as Arc<dyn RootHttpRouterService>)
            }
        },
    )
}

/// What every plugin's HTTP router shares.
struct HttpRouterContext {
    config: ConfigReader,
    pause_timeout: Duration,
}

/// Lets the credentials barrier use the plugin's auth service (the stock one, or a host's).
struct AuthServiceValidator(Arc<dyn AuthService>);

impl TokenValidator for AuthServiceValidator {
    fn authenticate_for_plugin(
        &self,
        token: &str,
        _plugin_id: Option<&str>,
    ) -> Result<Credentials, ApiError> {
        // The service instance is the plugin's own, so it knows the plugin.
        self.0.authenticate(token)
    }
}

/// The stock plugin HTTP router.
struct DefaultHttpRouter(PluginRouter);

impl HttpRouterService for DefaultHttpRouter {
    fn use_router(&self, router: Router) {
        self.0.use_router(router);
    }
    fn add_auth_policy(&self, path: &str, allow: AuthPolicyAllow) -> Result<(), BoundaryError> {
        Ok(self.0.add_auth_policy(path, allow)?)
    }
}

fn http_router_factory() -> ServiceFactory {
    ServiceFactory::with_root_context(
        core_services::HTTP_ROUTER,
        core_services::ROOT_CONFIG,
        |config| async move {
            let config = config.reader();
            let pause_timeout = startup_request_pause_timeout(&config)?;
            Ok::<_, BoxError>(HttpRouterContext {
                config,
                pause_timeout,
            })
        },
        (
            core_services::PLUGIN_METADATA,
            core_services::LIFECYCLE,
            core_services::ROOT_HTTP_ROUTER,
            core_services::AUTH,
        ),
        |(metadata, lifecycle, root, auth), ctx: Arc<HttpRouterContext>| async move {
            let plugin_id = metadata.plugin_id();
            let gate = LifecycleGate::new();
            let barrier =
                AuthBarrier::from_config(&ctx.config, Arc::new(AuthServiceValidator(auth)))?;
            let router = PluginRouter::new(plugin_id, gate.clone(), barrier, ctx.pause_timeout);
            root.use_router(&format!("/api/{plugin_id}"), router.router())?;
            let open = gate.clone();
            lifecycle.add_startup_hook(hook(move || async move {
                open.open();
                Ok::<_, BoxError>(())
            }))?;
            lifecycle.add_shutdown_hook(hook(move || async move {
                gate.close();
                Ok::<_, BoxError>(())
            }))?;
            Ok::<_, BoxError>(Arc::new(DefaultHttpRouter(router)) as Arc<dyn HttpRouterService>)
        },
    )
    .initialization(backstage_core_plugin_api::Initialization::Always)
}

/// The stock auth service: static external-access tokens, checked against the plugin's
/// access restrictions.
struct DefaultAuth {
    authenticator: Arc<TokenAuthenticator>,
    plugin_id: String,
}

impl AuthService for DefaultAuth {
    fn authenticate(&self, token: &str) -> Result<Credentials, ApiError> {
        self.authenticator
            .authenticate_for_plugin(token, Some(&self.plugin_id))
    }
}

fn auth_factory() -> ServiceFactory {
    ServiceFactory::with_root_context(
        core_services::AUTH,
        core_services::ROOT_CONFIG,
        |config| async move { Ok::<_, BoxError>(TokenAuthenticator::from_config(&config.reader())?) },
        core_services::PLUGIN_METADATA,
        |metadata, authenticator: Arc<TokenAuthenticator>| async move {
            Ok::<_, BoxError>(Arc::new(DefaultAuth {
                authenticator,
                plugin_id: metadata.plugin_id().to_owned(),
            }) as Arc<dyn AuthService>)
        },
    )
}

/// The stock discovery service: `HostDiscovery` from config.
struct DefaultDiscovery(Arc<HostDiscovery>);

#[async_trait]
impl DiscoveryService for DefaultDiscovery {
    async fn base_url(&self, plugin_id: &str) -> Result<String, ApiError> {
        self.0
            .base_url(plugin_id)
            .map_err(|e| ApiError::internal(e.to_string()))
    }
    async fn external_base_url(&self, plugin_id: &str) -> Result<String, ApiError> {
        self.0
            .external_base_url(plugin_id)
            .map_err(|e| ApiError::internal(e.to_string()))
    }
}

fn discovery_factory() -> ServiceFactory {
    ServiceFactory::with_root_context(
        core_services::DISCOVERY,
        core_services::ROOT_CONFIG,
        |config| async move { Ok::<_, BoxError>(HostDiscovery::from_config(&config.reader())?) },
        (),
        |(), discovery: Arc<HostDiscovery>| async move {
            Ok::<_, BoxError>(Arc::new(DefaultDiscovery(discovery)) as Arc<dyn DiscoveryService>)
        },
    )
}

/// The stock scheduler: in-process, one per plugin, stopped at root shutdown.
struct DefaultScheduler(LocalScheduler);

#[async_trait]
impl SchedulerService for DefaultScheduler {
    async fn schedule_task(&self, task: TaskDefinition) -> Result<(), ApiError> {
        self.0.schedule_task(task)
    }
    async fn trigger_task(&self, id: &str) -> Result<(), ApiError> {
        self.0.trigger_task(id)
    }
    async fn cancel_task(&self, id: &str) -> Result<(), ApiError> {
        self.0.cancel_task(id)
    }
    async fn scheduled_tasks(&self) -> Result<Vec<TaskDescriptor>, ApiError> {
        Ok(self.0.scheduled_tasks())
    }
}

fn scheduler_factory() -> ServiceFactory {
    ServiceFactory::with_root_context(
        core_services::SCHEDULER,
        core_services::ROOT_LIFECYCLE,
        |lifecycle| async move {
            let shutdown = CancellationToken::new();
            let token = shutdown.clone();
            lifecycle.add_shutdown_hook(hook(move || async move {
                token.cancel();
                Ok::<_, BoxError>(())
            }))?;
            Ok::<_, BoxError>(shutdown)
        },
        (core_services::PLUGIN_METADATA, core_services::HTTP_ROUTER),
        |(metadata, router), shutdown: Arc<CancellationToken>| async move {
            let scheduler = LocalScheduler::new(metadata.plugin_id(), shutdown.child_token());
            router.use_router(scheduler.router());
            Ok::<_, BoxError>(Arc::new(DefaultScheduler(scheduler)) as Arc<dyn SchedulerService>)
        },
    )
}
