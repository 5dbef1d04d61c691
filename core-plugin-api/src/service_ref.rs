//! Typed service references (spec §1.1).

use std::fmt;
use std::marker::PhantomData;

use crate::factory::ServiceFactory;

/// How many instances of a service a backend holds (spec §1.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServiceScope {
    /// One instance per backend, shared by every plugin, module and root service.
    Root,
    /// One instance per plugin id, shared by the plugin and its modules.
    Plugin,
}

impl ServiceScope {
    /// `root` or `plugin`, as Backstage writes it in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceScope::Root => "root",
            ServiceScope::Plugin => "plugin",
        }
    }
}

impl fmt::Display for ServiceScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Produces the factory used when no factory for a ref was installed (spec §1.3).
pub type DefaultFactory = fn() -> ServiceFactory;

/// The untyped description of a service ref: what the registry compares and reports.
#[derive(Clone, Copy, Debug)]
pub struct ServiceInfo {
    /// Globally unique id, by convention `<pluginId>.<name>` (`core.<name>` for core services).
    pub id: &'static str,
    /// Root or plugin scope.
    pub scope: ServiceScope,
    /// Whether any number of factories may be installed (spec §1.4).
    pub multiton: bool,
    /// The factory used when none was installed.
    pub default_factory: Option<DefaultFactory>,
}

/// A typed handle for a singleton service whose interface is `T` (usually `dyn SomeTrait`).
///
/// Refs are `const`s; two refs with the same id are the same service. Declare one next to the
/// trait it names:
///
/// ```
/// use backstage_core_plugin_api::ServiceRef;
///
/// /// What the `todo` plugin offers to its modules and other services.
/// pub trait TodoStore: Send + Sync {
///     fn count(&self) -> usize;
/// }
///
/// pub const TODO_STORE: ServiceRef<dyn TodoStore> = ServiceRef::plugin("todo.store");
/// assert_eq!(TODO_STORE.to_string(), "serviceRef{todo.store}");
/// ```
pub struct ServiceRef<T: ?Sized + 'static> {
    info: ServiceInfo,
    _service: PhantomData<fn() -> Box<T>>,
}

/// A typed handle for a multiton service: any number of factories, dependents receive all
/// instances in installation order (spec §1.4).
pub struct MultitonRef<T: ?Sized + 'static> {
    info: ServiceInfo,
    _service: PhantomData<fn() -> Box<T>>,
}

macro_rules! ref_common {
    ($name:ident, $multiton:expr) => {
        impl<T: ?Sized + 'static> $name<T> {
            /// A root-scoped ref: one instance per backend.
            pub const fn root(id: &'static str) -> Self {
                Self::new(id, ServiceScope::Root)
            }

            /// A plugin-scoped ref: one instance per plugin.
            pub const fn plugin(id: &'static str) -> Self {
                Self::new(id, ServiceScope::Plugin)
            }

            /// A ref with the given scope.
            pub const fn new(id: &'static str, scope: ServiceScope) -> Self {
                Self {
                    info: ServiceInfo {
                        id,
                        scope,
                        multiton: $multiton,
                        default_factory: None,
                    },
                    _service: PhantomData,
                }
            }

            /// The same ref with a default factory, used only when no factory for this id was
            /// installed (an installed one always wins).
            pub const fn with_default_factory(mut self, factory: DefaultFactory) -> Self {
                self.info.default_factory = Some(factory);
                self
            }

            /// The ref's id.
            pub const fn id(&self) -> &'static str {
                self.info.id
            }

            /// The ref's scope.
            pub const fn scope(&self) -> ServiceScope {
                self.info.scope
            }

            /// The untyped description.
            pub const fn info(&self) -> ServiceInfo {
                self.info
            }
        }

        impl<T: ?Sized + 'static> Clone for $name<T> {
            fn clone(&self) -> Self {
                *self
            }
        }

        impl<T: ?Sized + 'static> Copy for $name<T> {}

        impl<T: ?Sized + 'static> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("id", &self.info.id)
                    .field("scope", &self.info.scope)
                    .field("multiton", &self.info.multiton)
                    .finish()
            }
        }

        impl<T: ?Sized + 'static> fmt::Display for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "serviceRef{{{}}}", self.info.id)
            }
        }
    };
}

ref_common!(ServiceRef, false);
ref_common!(MultitonRef, true);

impl<T: ?Sized + 'static> ServiceRef<T> {
    /// A dependency on the default implementation of this service that an installed factory
    /// replaces: the backend's stock factory, or else the ref's default factory. A factory for
    /// this ref can declare it to decorate the default instead of re-implementing it:
    ///
    /// ```
    /// use std::sync::Arc;
    /// use backstage_core_plugin_api::{ServiceFactory, ServiceRef};
    ///
    /// pub trait Greeter: Send + Sync {
    ///     fn greet(&self) -> String;
    /// }
    /// pub const GREETER: ServiceRef<dyn Greeter> = ServiceRef::root("example.greeter");
    ///
    /// struct Loud(Arc<dyn Greeter>);
    /// impl Greeter for Loud {
    ///     fn greet(&self) -> String {
    ///         self.0.greet().to_uppercase()
    ///     }
    /// }
    /// let decorating = ServiceFactory::new(GREETER, GREETER.replaced(), |inner| async move {
    ///     Ok::<_, std::convert::Infallible>(Arc::new(Loud(inner)) as Arc<dyn Greeter>)
    /// });
    /// assert_eq!(decorating.dependencies()[0].display_ref(), "serviceRef{example.greeter} (the replaced default)");
    /// ```
    pub const fn replaced(self) -> Replaced<T> {
        Replaced(self)
    }
}

/// A dependency on the default implementation a factory replaces; see [`ServiceRef::replaced`].
pub struct Replaced<T: ?Sized + 'static>(ServiceRef<T>);

impl<T: ?Sized + 'static> Replaced<T> {
    /// The service whose default is meant.
    pub const fn service(&self) -> ServiceRef<T> {
        self.0
    }
}

impl<T: ?Sized + 'static> Clone for Replaced<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: ?Sized + 'static> Copy for Replaced<T> {}

impl<T: ?Sized + 'static> fmt::Debug for Replaced<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Replaced").field(&self.0).finish()
    }
}

/// Implemented by [`ServiceRef`] and [`MultitonRef`]: what a [`ServiceFactory`] can implement.
pub trait ServiceRefLike: Copy + Send + Sync + 'static {
    /// The service interface, usually `dyn SomeTrait`.
    type Service: ?Sized + Send + Sync + 'static;
    /// The untyped description.
    fn service_info(&self) -> ServiceInfo;
}

impl<T: ?Sized + Send + Sync + 'static> ServiceRefLike for ServiceRef<T> {
    type Service = T;
    fn service_info(&self) -> ServiceInfo {
        self.info
    }
}

impl<T: ?Sized + Send + Sync + 'static> ServiceRefLike for MultitonRef<T> {
    type Service = T;
    fn service_info(&self) -> ServiceInfo {
        self.info
    }
}

/// A typed handle through which a plugin (or module) exposes an API of type `T` to the modules
/// of the same plugin (spec §2.4). By convention the id is `<pluginId>.<camelName>`.
///
/// ```
/// use backstage_core_plugin_api::ExtensionPoint;
///
/// pub trait ProviderRegistry: Send + Sync {
///     fn add(&self, name: &str);
/// }
/// pub const PROVIDERS: ExtensionPoint<dyn ProviderRegistry> = ExtensionPoint::new("todo.providers");
/// assert_eq!(PROVIDERS.to_string(), "extensionPoint{todo.providers}");
/// ```
pub struct ExtensionPoint<T: ?Sized + 'static> {
    id: &'static str,
    _value: PhantomData<fn() -> Box<T>>,
}

impl<T: ?Sized + 'static> ExtensionPoint<T> {
    /// An extension point with this id.
    pub const fn new(id: &'static str) -> Self {
        Self {
            id,
            _value: PhantomData,
        }
    }

    /// The id.
    pub const fn id(&self) -> &'static str {
        self.id
    }
}

impl<T: ?Sized + 'static> Clone for ExtensionPoint<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: ?Sized + 'static> Copy for ExtensionPoint<T> {}

impl<T: ?Sized + 'static> fmt::Debug for ExtensionPoint<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExtensionPoint")
            .field("id", &self.id)
            .finish()
    }
}

impl<T: ?Sized + 'static> fmt::Display for ExtensionPoint<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "extensionPoint{{{}}}", self.id)
    }
}
