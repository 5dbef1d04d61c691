//! Service factories (spec §1.2).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::BoxError;
use crate::deps::{Dependency, ErasedValue, ResolvedDeps, ServiceDeps, declared, downcast, erase};
use crate::service_ref::{ServiceInfo, ServiceRefLike, ServiceScope};

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// When an instance is built (spec §1.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Initialization {
    /// Root: eagerly during start-up. Plugin: for every installed plugin before its modules.
    Always,
    /// On first use only.
    Lazy,
}

type CreateFn = dyn Fn(ResolvedDeps, Option<ErasedValue>) -> BoxFuture<'static, Result<ErasedValue, BoxError>>
    + Send
    + Sync;
type ContextFn =
    dyn Fn(ResolvedDeps) -> BoxFuture<'static, Result<ErasedValue, BoxError>> + Send + Sync;

struct Inner {
    service: ServiceInfo,
    deps: Vec<Dependency>,
    root_context: Option<(Vec<Dependency>, Box<ContextFn>)>,
    create: Box<CreateFn>,
}

/// The recipe for one service ref's implementation, with its declared dependencies.
///
/// For a root-scoped ref the function runs once per backend; for a plugin-scoped ref once per
/// plugin that uses it. Dependencies arrive as typed handles (see [`crate::deps`]).
///
/// ```
/// use std::sync::Arc;
/// use backstage_core_plugin_api::{ServiceFactory, ServiceRef, core_services};
///
/// pub trait Greeter: Send + Sync {
///     fn greet(&self) -> String;
/// }
/// struct PluginGreeter(String);
/// impl Greeter for PluginGreeter {
///     fn greet(&self) -> String {
///         format!("hello from {}", self.0)
///     }
/// }
/// pub const GREETER: ServiceRef<dyn Greeter> = ServiceRef::plugin("example.greeter");
///
/// let factory = ServiceFactory::new(GREETER, core_services::PLUGIN_METADATA, |metadata| async move {
///     Ok::<_, std::convert::Infallible>(
///         Arc::new(PluginGreeter(metadata.plugin_id().to_owned())) as Arc<dyn Greeter>
///     )
/// });
/// assert_eq!(factory.service().id, "example.greeter");
/// assert_eq!(factory.dependencies()[0].id(), "core.pluginMetadata");
/// ```
#[derive(Clone)]
pub struct ServiceFactory {
    inner: Arc<Inner>,
    initialization: Initialization,
}

impl ServiceFactory {
    /// A factory for `service` that receives `deps` as typed handles.
    ///
    /// Default [`Initialization`]: `Always` for root-scoped refs, `Lazy` for plugin-scoped ones.
    pub fn new<R, D, F, Fut, E>(service: R, deps: D, factory: F) -> Self
    where
        R: ServiceRefLike,
        D: ServiceDeps,
        F: Fn(D::Output) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Arc<R::Service>, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        let info = service.service_info();
        let dep_list = declared(&deps);
        let factory = Arc::new(factory);
        let deps = Arc::new(deps);
        let create: Box<CreateFn> = Box::new(move |resolved, _ctx| {
            let factory = factory.clone();
            let deps = deps.clone();
            Box::pin(async move {
                let handles = deps.extract(&resolved)?;
                let value = factory(handles).await.map_err(Into::into)?;
                Ok(erase(value))
            })
        });
        Self::build(info, dep_list, None, create)
    }

    /// A factory that hands out one existing instance (for either scope).
    pub fn from_instance<R: ServiceRefLike>(service: R, instance: Arc<R::Service>) -> Self {
        let value = erase(instance);
        let create: Box<CreateFn> = Box::new(move |_resolved, _ctx| {
            let value = value.clone();
            Box::pin(async move { Ok(value) })
        });
        Self::build(service.service_info(), Vec::new(), None, create)
    }

    /// A plugin-scoped factory with a root context: `create_root_context` runs once per
    /// backend with `root_deps` (root-scoped services only); its result is shared by every
    /// plugin's `factory` call (spec §1.2 `createRootContext`).
    ///
    /// Giving a root-scoped ref, or plugin-scoped `root_deps`, is reported as a wiring problem
    /// when the backend starts.
    pub fn with_root_context<R, RD, C, CF, CFut, D, F, Fut, E>(
        service: R,
        root_deps: RD,
        create_root_context: CF,
        deps: D,
        factory: F,
    ) -> Self
    where
        R: ServiceRefLike,
        RD: ServiceDeps,
        C: Send + Sync + 'static,
        CF: Fn(RD::Output) -> CFut + Send + Sync + 'static,
        CFut: Future<Output = Result<C, E>> + Send + 'static,
        D: ServiceDeps,
        F: Fn(D::Output, Arc<C>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Arc<R::Service>, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        let info = service.service_info();
        let root_dep_list = declared(&root_deps);
        let root_deps = Arc::new(root_deps);
        let create_root_context = Arc::new(create_root_context);
        let context: Box<ContextFn> = Box::new(move |resolved| {
            let root_deps = root_deps.clone();
            let create_root_context = create_root_context.clone();
            Box::pin(async move {
                let handles = root_deps.extract(&resolved)?;
                let ctx = create_root_context(handles).await.map_err(Into::into)?;
                Ok(erase(Arc::new(ctx)))
            })
        });
        let dep_list = declared(&deps);
        let deps = Arc::new(deps);
        let factory = Arc::new(factory);
        let create: Box<CreateFn> = Box::new(move |resolved, ctx| {
            let deps = deps.clone();
            let factory = factory.clone();
            Box::pin(async move {
                let ctx = ctx.ok_or("the root context was not created")?;
                let ctx: Arc<C> = downcast(info.id, &ctx)?;
                let handles = deps.extract(&resolved)?;
                let value = factory(handles, ctx).await.map_err(Into::into)?;
                Ok(erase(value))
            })
        });
        Self::build(info, dep_list, Some((root_dep_list, context)), create)
    }

    fn build(
        service: ServiceInfo,
        deps: Vec<Dependency>,
        root_context: Option<(Vec<Dependency>, Box<ContextFn>)>,
        create: Box<CreateFn>,
    ) -> Self {
        let initialization = match service.scope {
            ServiceScope::Root => Initialization::Always,
            ServiceScope::Plugin => Initialization::Lazy,
        };
        Self {
            inner: Arc::new(Inner {
                service,
                deps,
                root_context,
                create,
            }),
            initialization,
        }
    }

    /// The same factory with another [`Initialization`].
    pub fn initialization(mut self, initialization: Initialization) -> Self {
        self.initialization = initialization;
        self
    }

    /// The service this factory implements.
    pub fn service(&self) -> ServiceInfo {
        self.inner.service
    }

    /// The declared dependencies of the factory function.
    pub fn dependencies(&self) -> &[Dependency] {
        &self.inner.deps
    }

    /// When instances are built.
    pub fn initialization_mode(&self) -> Initialization {
        self.initialization
    }

    /// The declared dependencies of the root context, if the factory has one.
    pub fn root_context_dependencies(&self) -> Option<&[Dependency]> {
        self.inner
            .root_context
            .as_ref()
            .map(|(deps, _)| deps.as_slice())
    }

    /// Builds the root context (backend implementations only).
    ///
    /// # Errors
    ///
    /// Whatever the context function returns; an error when the factory has no root context.
    pub fn create_root_context(
        &self,
        resolved: ResolvedDeps,
    ) -> BoxFuture<'static, Result<ErasedValue, BoxError>> {
        match &self.inner.root_context {
            Some((_, f)) => f(resolved),
            None => Box::pin(async { Err("this factory has no root context".into()) }),
        }
    }

    /// Builds an instance (backend implementations only).
    ///
    /// # Errors
    ///
    /// Whatever the factory function returns.
    pub fn create(
        &self,
        resolved: ResolvedDeps,
        root_context: Option<ErasedValue>,
    ) -> BoxFuture<'static, Result<ErasedValue, BoxError>> {
        (self.inner.create)(resolved, root_context)
    }

    /// Whether two values are the same factory (clones of one another).
    pub fn ptr_eq(&self, other: &ServiceFactory) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl fmt::Debug for ServiceFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceFactory")
            .field("service", &self.inner.service.id)
            .field("scope", &self.inner.service.scope)
            .field(
                "deps",
                &self
                    .inner
                    .deps
                    .iter()
                    .map(Dependency::id)
                    .collect::<Vec<_>>(),
            )
            .field("initialization", &self.initialization)
            .finish()
    }
}
