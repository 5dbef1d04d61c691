//! Every wiring problem of spec §2.11 is reported by `start()` before any init runs, all at
//! once, and a cycle never hangs.

// Test helpers outside `#[test]` functions panic on purpose, like the tests themselves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use backstage_core_app_api::{Backend, Error, WiringError, WiringProblemKind};
use backstage_core_plugin_api::services::metadata::PluginMetadataService;
use backstage_core_plugin_api::{
    BoxError, ExtensionPoint, FeatureLoader, Module, Plugin, ServiceFactory, ServiceRef,
    core_services,
};

trait Named: Send + Sync {
    fn name(&self) -> String;
}
struct Name(&'static str);
impl Named for Name {
    fn name(&self) -> String {
        self.0.to_owned()
    }
}

const ROOT_A: ServiceRef<dyn Named> = ServiceRef::root("test.rootA");
const ROOT_B: ServiceRef<dyn Named> = ServiceRef::root("test.rootB");
const PLUGIN_A: ServiceRef<dyn Named> = ServiceRef::plugin("test.pluginA");
const PLUGIN_B: ServiceRef<dyn Named> = ServiceRef::plugin("test.pluginB");
const UNPROVIDED: ServiceRef<dyn Named> = ServiceRef::plugin("test.unprovided");
const EP: ExtensionPoint<dyn Named> = ExtensionPoint::new("alpha.things");

fn named<D: backstage_core_plugin_api::ServiceDeps>(
    service: ServiceRef<dyn Named>,
    deps: D,
) -> ServiceFactory {
    ServiceFactory::new(service, deps, |_| async {
        Ok::<_, Infallible>(Arc::new(Name("x")) as Arc<dyn Named>)
    })
}

fn noop_plugin(id: &str) -> Plugin {
    Plugin::new(id, |reg| {
        reg.register_init((), |()| async { Ok::<_, Infallible>(()) })
    })
}

/// A plugin that records whether its init ran.
fn flag_plugin(id: &str, ran: Arc<AtomicBool>) -> Plugin {
    Plugin::new(id, move |reg| {
        let ran = ran.clone();
        reg.register_init((), move |()| async move {
            ran.store(true, Ordering::SeqCst);
            Ok::<_, Infallible>(())
        })
    })
}

async fn wiring_error(backend: &Backend) -> WiringError {
    let started = tokio::time::timeout(Duration::from_secs(10), backend.start())
        .await
        .expect("start() must never hang");
    match started {
        Err(Error::Wiring(e)) => e,
        other => panic!("expected a wiring error, got {other:?}"),
    }
}

fn messages(e: &WiringError) -> Vec<String> {
    e.problems().iter().map(|p| p.message.clone()).collect()
}

#[tokio::test]
async fn every_problem_is_reported_at_once_and_nothing_runs() {
    let backend = Backend::new(vec![]).unwrap();
    let ran = Arc::new(AtomicBool::new(false));
    backend.add(flag_plugin("good", ran.clone())).unwrap();
    backend
        .add(Plugin::new("needs", |reg| {
            reg.register_init(UNPROVIDED, |_| async { Ok::<_, Infallible>(()) })
        }))
        .unwrap();
    backend.add(named(ROOT_A, PLUGIN_A)).unwrap();
    backend.add(named(PLUGIN_A, ())).unwrap();
    backend.add(noop_plugin("1bad")).unwrap();
    backend.add(noop_plugin("dup")).unwrap();
    backend.add(noop_plugin("dup")).unwrap();
    let e = wiring_error(&backend).await;
    let kinds: Vec<_> = e.problems().iter().map(|p| p.kind).collect();
    assert!(kinds.contains(&WiringProblemKind::MissingDependency), "{e}");
    assert!(kinds.contains(&WiringProblemKind::ScopeMismatch), "{e}");
    assert!(kinds.contains(&WiringProblemKind::InvalidId), "{e}");
    assert!(kinds.contains(&WiringProblemKind::DuplicatePlugin), "{e}");
    let all = messages(&e);
    assert!(all.contains(&"Service or extension point dependencies of plugin 'needs' are missing for the following ref(s): serviceRef{test.unprovided}".to_owned()), "{all:?}");
    assert!(all.contains(&"Failed to instantiate 'root' scoped service 'test.rootA' because it depends on 'plugin' scoped service 'test.pluginA'.".to_owned()), "{all:?}");
    assert!(
        all.contains(&"Plugin 'dup' is already registered".to_owned()),
        "{all:?}"
    );
    assert!(
        all.iter().any(|m| m.starts_with("Invalid pluginId '1bad'")),
        "{all:?}"
    );
    assert!(
        !ran.load(Ordering::SeqCst),
        "no init may run when the wiring is wrong"
    );
    assert!(
        e.to_string().starts_with("Backend wiring is invalid ("),
        "{e}"
    );
}

#[tokio::test]
async fn duplicate_factories_and_framework_overrides() {
    let backend = Backend::new(vec![]).unwrap();
    backend.add(named(ROOT_A, ())).unwrap();
    backend.add(named(ROOT_A, ())).unwrap();
    backend
        .add(ServiceFactory::new(
            core_services::PLUGIN_METADATA,
            (),
            |()| async {
                struct M;
                impl PluginMetadataService for M {
                    fn plugin_id(&self) -> &str {
                        "x"
                    }
                }
                Ok::<_, Infallible>(Arc::new(M) as Arc<dyn PluginMetadataService>)
            },
        ))
        .unwrap();
    let e = wiring_error(&backend).await;
    assert_eq!(
        messages(&e),
        [
            "Duplicate service implementations provided for test.rootA",
            "The core.pluginMetadata service cannot be overridden",
        ]
    );

    let defaults = Backend::new(vec![named(ROOT_A, ()), named(ROOT_A, ())]).unwrap_err();
    assert_eq!(
        defaults.to_string(),
        "Backend wiring is invalid (1 problem); nothing was started:\n  Duplicate service implementations provided for test.rootA"
    );
}

#[tokio::test]
async fn an_added_factory_replaces_the_default_silently() {
    let backend = Backend::new(vec![named(ROOT_A, ())]).unwrap();
    backend
        .add(ServiceFactory::new(ROOT_A, (), |()| async {
            Ok::<_, Infallible>(Arc::new(Name("added")) as Arc<dyn Named>)
        }))
        .unwrap();
    backend.start().await.unwrap();
    assert_eq!(backend.service(ROOT_A).await.unwrap().name(), "added");
}

#[tokio::test]
async fn cycles_among_added_factories_are_detected_not_hung() {
    let backend = Backend::new(vec![]).unwrap();
    backend.add(named(ROOT_A, ROOT_B)).unwrap();
    backend.add(named(ROOT_B, ROOT_A)).unwrap();
    backend.add(named(PLUGIN_A, PLUGIN_A)).unwrap();
    backend
        .add(Plugin::new("user", |reg| {
            reg.register_init(PLUGIN_A, |_| async { Ok::<_, Infallible>(()) })
        }))
        .unwrap();
    let e = wiring_error(&backend).await;
    let cycle = e
        .problems()
        .iter()
        .find(|p| p.kind == WiringProblemKind::CircularDependency)
        .expect("a cycle problem");
    assert_eq!(
        cycle.message,
        "Circular dependencies detected:\n  'test.pluginA' -> 'test.pluginA'\n  'test.rootA' -> 'test.rootB' -> 'test.rootA'"
    );
}

fn default_self_cycle() -> ServiceFactory {
    named(SELF_DEFAULT, SELF_DEFAULT)
}
const SELF_DEFAULT: ServiceRef<dyn Named> =
    ServiceRef::plugin("test.selfDefault").with_default_factory(default_self_cycle);

#[tokio::test]
async fn cycles_through_default_factories_are_detected() {
    let backend = Backend::new(vec![]).unwrap();
    backend
        .add(Plugin::new("user", |reg| {
            reg.register_init(SELF_DEFAULT, |_| async { Ok::<_, Infallible>(()) })
        }))
        .unwrap();
    let e = wiring_error(&backend).await;
    assert_eq!(
        messages(&e),
        ["Circular dependencies detected:\n  'test.selfDefault' -> 'test.selfDefault'"]
    );
}

#[tokio::test]
async fn missing_dependencies_of_factories_are_found_through_the_graph() {
    let backend = Backend::new(vec![named(PLUGIN_A, (PLUGIN_B, UNPROVIDED))]).unwrap();
    backend.add(named(PLUGIN_B, ROOT_B)).unwrap();
    backend
        .add(Plugin::new("user", |reg| {
            reg.register_init(PLUGIN_A, |_| async { Ok::<_, Infallible>(()) })
        }))
        .unwrap();
    let e = wiring_error(&backend).await;
    assert_eq!(
        messages(&e),
        [
            "Failed to instantiate service 'test.pluginA' because the following dependent services are missing: 'test.unprovided'",
            "Failed to instantiate service 'test.pluginB' because the following dependent services are missing: 'test.rootB'",
        ]
    );
}

#[tokio::test]
async fn unused_factories_with_missing_dependencies_are_not_problems() {
    // Lazy and unused: Backstage never builds it, so it is not an error.
    let backend = Backend::new(vec![named(PLUGIN_A, UNPROVIDED)]).unwrap();
    backend.add(noop_plugin("p")).unwrap();
    backend.start().await.unwrap();
}

fn ep_plugin(id: &'static str) -> Plugin {
    Plugin::new(id, move |reg| {
        reg.register_extension_point(EP, Arc::new(Name(id)));
        reg.register_init((), |()| async { Ok::<_, Infallible>(()) })
    })
}

#[tokio::test]
async fn extension_point_rules() {
    let backend = Backend::new(vec![]).unwrap();
    backend.add(ep_plugin("alpha")).unwrap();
    backend.add(ep_plugin("beta")).unwrap(); // registers the same EP id again
    backend.add(noop_plugin("gamma")).unwrap();
    backend
        .add(Module::new("gamma", "intruder", |reg| {
            reg.register_init(EP, |_| async { Ok::<_, Infallible>(()) })
        }))
        .unwrap();
    const NOBODY: ExtensionPoint<dyn Named> = ExtensionPoint::new("gamma.nobody");
    backend
        .add(Module::new("gamma", "lonely", |reg| {
            reg.register_init(NOBODY, |_| async { Ok::<_, Infallible>(()) })
        }))
        .unwrap();
    backend
        .add(Module::new("gamma", "lonely", |reg| {
            reg.register_init((), |()| async { Ok::<_, Infallible>(()) })
        }))
        .unwrap();
    let e = wiring_error(&backend).await;
    assert_eq!(
        messages(&e),
        [
            "Module 'lonely' for plugin 'gamma' is already registered",
            "ExtensionPoint with ID 'alpha.things' is already registered",
            "Illegal dependency: Module 'intruder' for plugin 'gamma' attempted to depend on extension point 'alpha.things' for plugin 'alpha'. Extension points can only be used within their plugin's scope.",
            "Service or extension point dependencies of module 'lonely' for plugin 'gamma' are missing for the following ref(s): extensionPoint{gamma.nobody}",
        ]
    );
}

#[tokio::test]
async fn module_cycles_through_extension_points() {
    const EP1: ExtensionPoint<dyn Named> = ExtensionPoint::new("p.one");
    const EP2: ExtensionPoint<dyn Named> = ExtensionPoint::new("p.two");
    let backend = Backend::new(vec![]).unwrap();
    backend.add(noop_plugin("p")).unwrap();
    backend
        .add(Module::new("p", "a", |reg| {
            reg.register_extension_point(EP1, Arc::new(Name("a")));
            reg.register_init(EP2, |_| async { Ok::<_, Infallible>(()) })
        }))
        .unwrap();
    backend
        .add(Module::new("p", "b", |reg| {
            reg.register_extension_point(EP2, Arc::new(Name("b")));
            reg.register_init(EP1, |_| async { Ok::<_, Infallible>(()) })
        }))
        .unwrap();
    let e = wiring_error(&backend).await;
    assert_eq!(e.problems().len(), 1, "{e}");
    assert_eq!(e.problems()[0].kind, WiringProblemKind::CircularModules);
    assert!(
        e.problems()[0]
            .message
            .starts_with("Circular dependency detected for modules of plugin 'p', "),
        "{e}"
    );
}

#[tokio::test]
async fn registration_errors() {
    let backend = Backend::new(vec![]).unwrap();
    backend.add(Plugin::new("forgot", |_reg| {})).unwrap();
    backend
        .add(Plugin::new("twice", |reg| {
            reg.register_init((), |()| async { Ok::<_, Infallible>(()) });
            reg.register_init((), |()| async { Ok::<_, Infallible>(()) });
        }))
        .unwrap();
    backend.add(noop_plugin("p")).unwrap();
    backend.add(Module::new("p", "bad id", |_reg| {})).unwrap();
    let e = wiring_error(&backend).await;
    assert_eq!(
        messages(&e),
        [
            "Plugin 'forgot': registerInit was not called by register in forgot",
            "Plugin 'twice': registerInit must only be called once",
            "Invalid moduleId 'bad id' for plugin 'p', must match the pattern /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/i (letters, digits, and dashes only, starting with a letter)",
        ]
    );
}

#[tokio::test]
async fn modules_of_absent_plugins_are_skipped() {
    let backend = Backend::new(vec![]).unwrap();
    let ran = Arc::new(AtomicBool::new(false));
    let flag = ran.clone();
    backend
        .add(Module::new("absent", "m", move |reg| {
            let flag = flag.clone();
            reg.register_init(UNPROVIDED, move |_| async move {
                flag.store(true, Ordering::SeqCst);
                Ok::<_, Infallible>(())
            })
        }))
        .unwrap();
    let result = backend.start().await.unwrap();
    assert!(result.plugins.is_empty());
    assert!(!ran.load(Ordering::SeqCst));
}

#[tokio::test]
async fn feature_loaders() {
    let backend = Backend::new(vec![named(ROOT_A, ())]).unwrap();
    let ran = Arc::new(AtomicBool::new(false));
    let flag = ran.clone();
    backend
        .add(FeatureLoader::new(ROOT_A, move |root| {
            let flag = flag.clone();
            async move {
                assert_eq!(root.name(), "x");
                Ok::<_, BoxError>(vec![flag_plugin("loaded", flag).into()])
            }
        }))
        .unwrap();
    let result = backend.start().await.unwrap();
    assert_eq!(result.plugins[0].plugin_id, "loaded");
    assert!(ran.load(Ordering::SeqCst));

    let backend = Backend::new(vec![named(PLUGIN_A, ())]).unwrap();
    let loader = FeatureLoader::new(PLUGIN_A, |_| async { Ok::<_, BoxError>(vec![]) });
    let description = loader.description().to_owned();
    backend.add(loader).unwrap();
    let e = wiring_error(&backend).await;
    assert_eq!(
        messages(&e),
        [format!(
            "Feature loaders can only depend on root scoped services, but 'test.pluginA' is scoped to 'plugin'. Offending loader is {description}"
        )]
    );

    let backend = Backend::new(vec![]).unwrap();
    let loader = FeatureLoader::new((), |()| async { Err::<Vec<_>, BoxError>("boom".into()) });
    let description = loader.description().to_owned();
    backend.add(loader).unwrap();
    let err = backend.start().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("Feature loader {description} failed; caused by boom")
    );
}
