//! Typed dependency declarations.
//!
//! A plugin, module, service factory or feature loader declares what it needs as a value: one
//! ref, or a tuple of refs (up to 12, nestable). The backend resolves every declared dependency
//! first and then hands the initialiser the matching tuple of typed handles:
//!
//! | declared | received |
//! |---|---|
//! | [`ServiceRef<T>`] | `Arc<T>` |
//! | [`MultitonRef<T>`] | `Vec<Arc<T>>` (installation order; empty when none installed) |
//! | [`ExtensionPoint<T>`] (modules only) | `Arc<T>` |
//! | [`Replaced<T>`] (`REF.replaced()`) | `Arc<T>`: the default implementation an installed factory for `REF` replaces, to decorate it |
//! | `(A, B, …)` | `(A::Output, B::Output, …)` |
//! | `()` | `()` |
//!
//! Plugin inits, factories and loaders accept only [`ServiceDeps`] (no extension points), so a
//! plugin depending on an extension point does not compile.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;

use crate::Error;
use crate::service_ref::{ExtensionPoint, MultitonRef, Replaced, ServiceInfo, ServiceRef};

/// A type-erased service or extension point value: an `Arc<Arc<T>>` behind `dyn Any`.
///
/// Only backend implementations (the registry) handle these; plugin code receives typed
/// `Arc<T>` handles.
pub type ErasedValue = Arc<dyn Any + Send + Sync>;

/// Wraps a typed handle into an [`ErasedValue`].
pub fn erase<T: ?Sized + Send + Sync + 'static>(value: Arc<T>) -> ErasedValue {
    Arc::new(value)
}

/// One declared dependency.
#[derive(Clone, Copy, Debug)]
pub enum Dependency {
    /// A service (singleton or multiton).
    Service(ServiceInfo),
    /// An extension point, by id.
    ExtensionPoint(&'static str),
    /// The default implementation of a service that an installed factory replaces (see
    /// [`ServiceRef::replaced`]).
    Replaced(ServiceInfo),
}

impl Dependency {
    /// The id of the service or extension point.
    pub fn id(&self) -> &'static str {
        match self {
            Dependency::Service(info) | Dependency::Replaced(info) => info.id,
            Dependency::ExtensionPoint(id) => id,
        }
    }

    /// `serviceRef{<id>}` or `extensionPoint{<id>}`, as Backstage names refs in messages.
    pub fn display_ref(&self) -> String {
        match self {
            Dependency::Service(info) => format!("serviceRef{{{}}}", info.id),
            Dependency::ExtensionPoint(id) => format!("extensionPoint{{{id}}}"),
            Dependency::Replaced(info) => {
                format!("serviceRef{{{}}} (the replaced default)", info.id)
            }
        }
    }
}

/// A resolved dependency value.
#[derive(Clone)]
pub enum Resolved {
    /// A singleton service or an extension point.
    One(ErasedValue),
    /// Every instance of a multiton service.
    Many(Vec<ErasedValue>),
}

/// The values a backend resolved for a declaration, keyed by id.
#[derive(Clone, Default)]
pub struct ResolvedDeps {
    values: HashMap<&'static str, Resolved>,
    replaced: HashMap<&'static str, Resolved>,
}

impl ResolvedDeps {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records the value for an id.
    pub fn insert(&mut self, id: &'static str, value: Resolved) {
        self.values.insert(id, value);
    }

    /// The value for an id, if resolved.
    pub fn get(&self, id: &str) -> Option<&Resolved> {
        self.values.get(id)
    }

    /// Records the replaced default implementation of a service.
    pub fn insert_replaced(&mut self, id: &'static str, value: Resolved) {
        self.replaced.insert(id, value);
    }

    fn one<T: ?Sized + Send + Sync + 'static>(&self, id: &'static str) -> Result<Arc<T>, Error> {
        match self.values.get(id) {
            Some(Resolved::One(value)) => downcast(id, value),
            Some(Resolved::Many(_)) => Err(Error::DependencyType { id }),
            None => Err(Error::DependencyNotResolved { id }),
        }
    }

    fn many<T: ?Sized + Send + Sync + 'static>(
        &self,
        id: &'static str,
    ) -> Result<Vec<Arc<T>>, Error> {
        match self.values.get(id) {
            Some(Resolved::Many(values)) => values.iter().map(|v| downcast(id, v)).collect(),
            Some(Resolved::One(_)) => Err(Error::DependencyType { id }),
            None => Err(Error::DependencyNotResolved { id }),
        }
    }
}

/// Recovers a typed handle from an [`ErasedValue`] made by [`erase`].
pub fn downcast<T: ?Sized + Send + Sync + 'static>(
    id: &'static str,
    value: &ErasedValue,
) -> Result<Arc<T>, Error> {
    value
        .downcast_ref::<Arc<T>>()
        .cloned()
        .ok_or(Error::DependencyType { id })
}

/// A declaration of dependencies; see the [module docs](self).
pub trait Dependencies: Send + Sync + 'static {
    /// The typed handles the initialiser receives.
    type Output: Send + 'static;
    /// Appends the declared dependencies.
    fn declare(&self, out: &mut Vec<Dependency>);
    /// Picks the typed handles out of the resolved values.
    ///
    /// # Errors
    ///
    /// When a value is missing or has another type (two refs with one id but different
    /// interfaces).
    fn extract(&self, resolved: &ResolvedDeps) -> Result<Self::Output, Error>;
}

/// Dependencies made of services only: what plugin inits, service factories and feature
/// loaders may declare.
pub trait ServiceDeps: Dependencies {}

/// The list of declared dependencies of a declaration.
pub fn declared<D: Dependencies>(deps: &D) -> Vec<Dependency> {
    let mut out = Vec::new();
    deps.declare(&mut out);
    out
}

impl<T: ?Sized + Send + Sync + 'static> Dependencies for ServiceRef<T> {
    type Output = Arc<T>;
    fn declare(&self, out: &mut Vec<Dependency>) {
        out.push(Dependency::Service(self.info()));
    }
    fn extract(&self, resolved: &ResolvedDeps) -> Result<Arc<T>, Error> {
        resolved.one(self.id())
    }
}
impl<T: ?Sized + Send + Sync + 'static> ServiceDeps for ServiceRef<T> {}

impl<T: ?Sized + Send + Sync + 'static> Dependencies for MultitonRef<T> {
    type Output = Vec<Arc<T>>;
    fn declare(&self, out: &mut Vec<Dependency>) {
        out.push(Dependency::Service(self.info()));
    }
    fn extract(&self, resolved: &ResolvedDeps) -> Result<Vec<Arc<T>>, Error> {
        resolved.many(self.id())
    }
}
impl<T: ?Sized + Send + Sync + 'static> ServiceDeps for MultitonRef<T> {}

impl<T: ?Sized + Send + Sync + 'static> Dependencies for ExtensionPoint<T> {
    type Output = Arc<T>;
    fn declare(&self, out: &mut Vec<Dependency>) {
        out.push(Dependency::ExtensionPoint(self.id()));
    }
    fn extract(&self, resolved: &ResolvedDeps) -> Result<Arc<T>, Error> {
        resolved.one(self.id())
    }
}

impl<T: ?Sized + Send + Sync + 'static> Dependencies for Replaced<T> {
    type Output = Arc<T>;
    fn declare(&self, out: &mut Vec<Dependency>) {
        out.push(Dependency::Replaced(self.service().info()));
    }
    fn extract(&self, resolved: &ResolvedDeps) -> Result<Arc<T>, Error> {
        let id = self.service().id();
        match resolved.replaced.get(id) {
            Some(Resolved::One(value)) => downcast(id, value),
            Some(Resolved::Many(_)) => Err(Error::DependencyType { id }),
            None => Err(Error::DependencyNotResolved { id }),
        }
    }
}
impl<T: ?Sized + Send + Sync + 'static> ServiceDeps for Replaced<T> {}

impl Dependencies for () {
    type Output = ();
    fn declare(&self, _out: &mut Vec<Dependency>) {}
    fn extract(&self, _resolved: &ResolvedDeps) -> Result<(), Error> {
        Ok(())
    }
}
impl ServiceDeps for () {}

macro_rules! tuple_deps {
    ($($name:ident),+) => {
        impl<$($name: Dependencies),+> Dependencies for ($($name,)+) {
            type Output = ($($name::Output,)+);
            #[allow(non_snake_case)]
            fn declare(&self, out: &mut Vec<Dependency>) {
                let ($($name,)+) = self;
                $($name.declare(out);)+
            }
            #[allow(non_snake_case)]
            fn extract(&self, resolved: &ResolvedDeps) -> Result<Self::Output, Error> {
                let ($($name,)+) = self;
                Ok(($($name.extract(resolved)?,)+))
            }
        }
        impl<$($name: ServiceDeps),+> ServiceDeps for ($($name,)+) {}
    };
}

tuple_deps!(A);
tuple_deps!(A, B);
tuple_deps!(A, B, C);
tuple_deps!(A, B, C, D);
tuple_deps!(A, B, C, D, E);
tuple_deps!(A, B, C, D, E, F);
tuple_deps!(A, B, C, D, E, F, G);
tuple_deps!(A, B, C, D, E, F, G, H);
tuple_deps!(A, B, C, D, E, F, G, H, I);
tuple_deps!(A, B, C, D, E, F, G, H, I, J);
tuple_deps!(A, B, C, D, E, F, G, H, I, J, K);
tuple_deps!(A, B, C, D, E, F, G, H, I, J, K, L);

#[cfg(test)]
mod tests {
    use super::*;

    trait Greeter: Send + Sync {
        fn greet(&self) -> String;
    }
    struct En;
    impl Greeter for En {
        fn greet(&self) -> String {
            "hello".into()
        }
    }
    trait Other: Send + Sync {}

    const GREETER: ServiceRef<dyn Greeter> = ServiceRef::root("test.greeter");
    const GREETERS: MultitonRef<dyn Greeter> = MultitonRef::plugin("test.greeters");
    const SAME_ID_OTHER_TYPE: ServiceRef<dyn Other> = ServiceRef::root("test.greeter");
    const EP: ExtensionPoint<dyn Greeter> = ExtensionPoint::new("test.ep");

    fn resolved() -> ResolvedDeps {
        let mut r = ResolvedDeps::new();
        let g: Arc<dyn Greeter> = Arc::new(En);
        r.insert("test.greeter", Resolved::One(erase(g.clone())));
        r.insert(
            "test.greeters",
            Resolved::Many(vec![erase(g.clone()), erase(g.clone())]),
        );
        r.insert("test.ep", Resolved::One(erase(g)));
        r
    }

    #[test]
    fn tuples_declare_in_order_and_extract_typed_handles() {
        let deps = (GREETER, (GREETERS, EP));
        let ids: Vec<_> = declared(&deps).iter().map(|d| d.id()).collect();
        assert_eq!(ids, ["test.greeter", "test.greeters", "test.ep"]);
        let (one, (many, ep)) = deps.extract(&resolved()).unwrap();
        assert_eq!(one.greet(), "hello");
        assert_eq!(many.len(), 2);
        assert_eq!(ep.greet(), "hello");
    }

    #[test]
    fn type_mismatch_and_absence_are_errors_not_panics() {
        let err = SAME_ID_OTHER_TYPE.extract(&resolved()).err().unwrap();
        assert!(err.to_string().contains("test.greeter"), "{err}");
        let err = GREETER.extract(&ResolvedDeps::new()).err().unwrap();
        assert!(matches!(err, Error::DependencyNotResolved { .. }));
        // A multiton value asked for as a singleton.
        let mut r = ResolvedDeps::new();
        r.insert("test.greeter", Resolved::Many(vec![]));
        assert!(GREETER.extract(&r).is_err());
    }

    #[test]
    fn display_refs_match_backstage() {
        assert_eq!(
            Dependency::Service(GREETER.info()).display_ref(),
            "serviceRef{test.greeter}"
        );
        assert_eq!(
            Dependency::ExtensionPoint("x.y").display_ref(),
            "extensionPoint{x.y}"
        );
    }
}
