//! The core service traits and their refs (spec §3).

pub mod auth;
pub mod config;
pub mod discovery;
pub mod http;
pub mod lifecycle;
pub mod logger;
pub mod metadata;
pub mod scheduler;

pub mod core_services {
    //! Refs of the core services, Backstage's `coreServices`.
    //!
    //! | ref | id | scope | provided by |
    //! |---|---|---|---|
    //! | [`ROOT_CONFIG`] | `core.rootConfig` | root | default factory |
    //! | [`ROOT_LOGGER`] | `core.rootLogger` | root | default factory |
    //! | [`LOGGER`] | `core.logger` | plugin | default factory |
    //! | [`ROOT_LIFECYCLE`] | `core.rootLifecycle` | root | the backend (cannot be overridden) |
    //! | [`LIFECYCLE`] | `core.lifecycle` | plugin | the backend (cannot be overridden) |
    //! | [`ROOT_HEALTH`] | `core.rootHealth` | root | default factory |
    //! | [`ROOT_HTTP_ROUTER`] | `core.rootHttpRouter` | root | default factory |
    //! | [`HTTP_ROUTER`] | `core.httpRouter` | plugin | default factory (initialised for every plugin) |
    //! | [`PLUGIN_METADATA`] | `core.pluginMetadata` | plugin | the backend (cannot be overridden) |
    //! | [`ROOT_INSTANCE_METADATA`] | `core.rootInstanceMetadata` | root | the backend |
    //! | [`DISCOVERY`] | `core.discovery` | plugin | default factory |
    //! | [`AUTH`] | `core.auth` | plugin | default factory |
    //! | [`SCHEDULER`] | `core.scheduler` | plugin | default factory (in-process) |
    //! | `core.database` ([`DATABASE_SERVICE_ID`]) | | plugin | the `backstage-database` crate |
    //! | `core.cache` ([`CACHE_SERVICE_ID`]) | | plugin | the `backstage-cache` crate |

    use crate::service_ref::ServiceRef;

    use super::auth::AuthService;
    use super::config::RootConfigService;
    use super::discovery::DiscoveryService;
    use super::http::{HttpRouterService, RootHealthService, RootHttpRouterService};
    use super::lifecycle::{LifecycleService, RootLifecycleService};
    use super::logger::{LoggerService, RootLoggerService};
    use super::metadata::{PluginMetadataService, RootInstanceMetadataService};
    use super::scheduler::SchedulerService;

    /// The merged configuration.
    pub const ROOT_CONFIG: ServiceRef<dyn RootConfigService> = ServiceRef::root("core.rootConfig");
    /// The process logger.
    pub const ROOT_LOGGER: ServiceRef<dyn RootLoggerService> = ServiceRef::root("core.rootLogger");
    /// The plugin's logger (`plugin = <id>`).
    pub const LOGGER: ServiceRef<dyn LoggerService> = ServiceRef::plugin("core.logger");
    /// Backend-wide hooks.
    pub const ROOT_LIFECYCLE: ServiceRef<dyn RootLifecycleService> =
        ServiceRef::root("core.rootLifecycle");
    /// The plugin's hooks.
    pub const LIFECYCLE: ServiceRef<dyn LifecycleService> = ServiceRef::plugin("core.lifecycle");
    /// Liveness and readiness.
    pub const ROOT_HEALTH: ServiceRef<dyn RootHealthService> = ServiceRef::root("core.rootHealth");
    /// The top-level router (and HTTP server).
    pub const ROOT_HTTP_ROUTER: ServiceRef<dyn RootHttpRouterService> =
        ServiceRef::root("core.rootHttpRouter");
    /// The plugin's router at `/api/<pluginId>`.
    pub const HTTP_ROUTER: ServiceRef<dyn HttpRouterService> =
        ServiceRef::plugin("core.httpRouter");
    /// The plugin's id.
    pub const PLUGIN_METADATA: ServiceRef<dyn PluginMetadataService> =
        ServiceRef::plugin("core.pluginMetadata");
    /// Installed plugins and modules.
    pub const ROOT_INSTANCE_METADATA: ServiceRef<dyn RootInstanceMetadataService> =
        ServiceRef::root("core.rootInstanceMetadata");
    /// Plugin base URLs.
    pub const DISCOVERY: ServiceRef<dyn DiscoveryService> = ServiceRef::plugin("core.discovery");
    /// Token validation.
    pub const AUTH: ServiceRef<dyn AuthService> = ServiceRef::plugin("core.auth");
    /// Recurring tasks.
    pub const SCHEDULER: ServiceRef<dyn SchedulerService> = ServiceRef::plugin("core.scheduler");

    /// Id of the database service; its ref and trait live in `backstage-database`.
    pub const DATABASE_SERVICE_ID: &str = "core.database";
    /// Id of the cache service; its ref and trait live in `backstage-cache`.
    pub const CACHE_SERVICE_ID: &str = "core.cache";
}
