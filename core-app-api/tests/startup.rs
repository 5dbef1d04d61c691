//! Init order, instance sharing, lazy creation, the start-up failure policy and shutdown
//! order (spec §1.6–1.8, §2.7–2.10).

// Test helpers outside `#[test]` functions panic on purpose, like the tests themselves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use backstage_backend_common::config::ConfigReader;
use backstage_core_app_api::{Backend, Error, StartupOutcome};
use backstage_core_plugin_api::services::lifecycle::hook;
use backstage_core_plugin_api::{
    BoxError, ExtensionPoint, Initialization, Module, MultitonRef, Plugin, ServiceFactory,
    ServiceRef, core_services,
};
use serde_json::json;

type Log = Arc<Mutex<Vec<String>>>;

fn push(log: &Log, entry: impl Into<String>) {
    log.lock().unwrap().push(entry.into());
}

fn entries(log: &Log) -> Vec<String> {
    log.lock().unwrap().clone()
}

fn config_factory(value: serde_json::Value) -> ServiceFactory {
    ServiceFactory::from_instance(
        core_services::ROOT_CONFIG,
        Arc::new(ConfigReader::from_value(value)),
    )
}

#[tokio::test]
async fn hooks_and_inits_run_in_backstage_order() {
    let log: Log = Arc::default();
    let backend = Backend::new(vec![]).unwrap();
    let l = log.clone();
    backend
        .add(Plugin::new("p", move |reg| {
            let l = l.clone();
            reg.register_init(
                (core_services::LIFECYCLE, core_services::ROOT_LIFECYCLE),
                move |(lifecycle, root)| async move {
                    push(&l, "plugin init");
                    let (a, b, c, d) = (l.clone(), l.clone(), l.clone(), l.clone());
                    lifecycle.add_startup_hook(hook(move || async move {
                        push(&a, "plugin startup");
                        Ok::<_, BoxError>(())
                    }))?;
                    lifecycle.add_shutdown_hook(hook(move || async move {
                        push(&b, "plugin shutdown");
                        Ok::<_, BoxError>(())
                    }))?;
                    root.add_startup_hook(hook(move || async move {
                        push(&c, "root startup");
                        Ok::<_, BoxError>(())
                    }))?;
                    root.add_before_shutdown_hook(hook(move || async move {
                        push(&d, "root before shutdown");
                        Ok::<_, BoxError>(())
                    }))?;
                    let e = l.clone();
                    root.add_shutdown_hook(hook(move || async move {
                        push(&e, "root shutdown");
                        Ok::<_, BoxError>(())
                    }))?;
                    Ok::<_, BoxError>(())
                },
            )
        }))
        .unwrap();
    let l = log.clone();
    backend
        .add(Module::new("p", "m", move |reg| {
            let l = l.clone();
            reg.register_init(core_services::PLUGIN_METADATA, move |metadata| async move {
                // Modules resolve services as their plugin.
                push(&l, format!("module init as {}", metadata.plugin_id()));
                Ok::<_, Infallible>(())
            })
        }))
        .unwrap();
    let result = backend.start().await.unwrap();
    assert_eq!(result.outcome, StartupOutcome::Success);
    assert_eq!(result.plugins[0].modules[0].module_id, "m");
    backend.stop().await.unwrap();
    backend.stop().await.unwrap(); // idempotent
    assert_eq!(
        entries(&log),
        [
            "module init as p",
            "plugin init",
            "plugin startup",
            "root startup",
            "root before shutdown",
            "plugin shutdown",
            "root shutdown",
        ]
    );
}

trait Contributions: Send + Sync {
    fn add(&self, item: &str);
    fn all(&self) -> Vec<String>;
}
#[derive(Default)]
struct List(Mutex<Vec<String>>);
impl Contributions for List {
    fn add(&self, item: &str) {
        self.0.lock().unwrap().push(item.to_owned());
    }
    fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

#[tokio::test]
async fn modules_providing_an_extension_point_run_after_its_consumers() {
    const EP1: ExtensionPoint<dyn Contributions> = ExtensionPoint::new("p.one");
    const EP2: ExtensionPoint<dyn Contributions> = ExtensionPoint::new("p.two");
    let log: Log = Arc::default();
    let backend = Backend::new(vec![]).unwrap();
    let l = log.clone();
    backend
        .add(Plugin::new("p", move |reg| {
            let list = Arc::new(List::default());
            reg.register_extension_point(EP1, list.clone());
            let l = l.clone();
            reg.register_init((), move |()| async move {
                push(&l, format!("plugin sees {:?}", list.all()));
                Ok::<_, Infallible>(())
            })
        }))
        .unwrap();
    // Registered first, but must wait for the consumer of its extension point.
    let l = log.clone();
    backend
        .add(Module::new("p", "provider", move |reg| {
            let own = Arc::new(List::default());
            reg.register_extension_point(EP2, own.clone());
            let l = l.clone();
            reg.register_init(EP1, move |ep1| async move {
                push(&l, "provider");
                for item in own.all() {
                    ep1.add(&item);
                }
                ep1.add("provider");
                Ok::<_, Infallible>(())
            })
        }))
        .unwrap();
    let l = log.clone();
    backend
        .add(Module::new("p", "consumer", move |reg| {
            let l = l.clone();
            reg.register_init(EP2, move |ep2| async move {
                push(&l, "consumer");
                ep2.add("consumer");
                Ok::<_, Infallible>(())
            })
        }))
        .unwrap();
    backend.start().await.unwrap();
    assert_eq!(
        entries(&log),
        [
            "consumer",
            "provider",
            r#"plugin sees ["consumer", "provider"]"#
        ]
    );
}

trait Counter: Send + Sync {
    fn instance(&self) -> usize;
}
struct Instance(usize);
impl Counter for Instance {
    fn instance(&self) -> usize {
        self.0
    }
}

fn counting(service: ServiceRef<dyn Counter>, built: Arc<AtomicUsize>) -> ServiceFactory {
    ServiceFactory::new(service, (), move |()| {
        let n = built.fetch_add(1, Ordering::SeqCst) + 1;
        async move { Ok::<_, Infallible>(Arc::new(Instance(n)) as Arc<dyn Counter>) }
    })
}

#[tokio::test]
async fn one_instance_per_plugin_one_per_root_and_lazy_creation() {
    const PER_PLUGIN: ServiceRef<dyn Counter> = ServiceRef::plugin("test.perPlugin");
    const ROOT: ServiceRef<dyn Counter> = ServiceRef::root("test.root");
    const LAZY_ROOT: ServiceRef<dyn Counter> = ServiceRef::root("test.lazyRoot");
    const UNUSED_EAGER: ServiceRef<dyn Counter> = ServiceRef::root("test.eager");
    let (plugin_builds, root_builds, lazy_builds, eager_builds) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let backend = Backend::new(vec![
        counting(PER_PLUGIN, plugin_builds.clone()),
        counting(ROOT, root_builds.clone()),
        counting(LAZY_ROOT, lazy_builds.clone()).initialization(Initialization::Lazy),
        counting(UNUSED_EAGER, eager_builds.clone()),
    ])
    .unwrap();
    let seen: Arc<Mutex<Vec<(String, usize, usize)>>> = Arc::default();
    for plugin in ["a", "b"] {
        let s = seen.clone();
        backend
            .add(Plugin::new(plugin, move |reg| {
                let s = s.clone();
                reg.register_init((PER_PLUGIN, ROOT), move |(per, root)| async move {
                    s.lock().unwrap().push((
                        format!("plugin {plugin}"),
                        per.instance(),
                        root.instance(),
                    ));
                    Ok::<_, Infallible>(())
                })
            }))
            .unwrap();
        let s = seen.clone();
        backend
            .add(Module::new(plugin, "m", move |reg| {
                let s = s.clone();
                reg.register_init((PER_PLUGIN, ROOT), move |(per, root)| async move {
                    s.lock().unwrap().push((
                        format!("module {plugin}"),
                        per.instance(),
                        root.instance(),
                    ));
                    Ok::<_, Infallible>(())
                })
            }))
            .unwrap();
    }
    backend.start().await.unwrap();
    assert_eq!(plugin_builds.load(Ordering::SeqCst), 2, "one per plugin");
    assert_eq!(root_builds.load(Ordering::SeqCst), 1, "one per backend");
    assert_eq!(
        lazy_builds.load(Ordering::SeqCst),
        0,
        "lazy and unused: never built"
    );
    assert_eq!(
        eager_builds.load(Ordering::SeqCst),
        1,
        "eager root: built though unused"
    );
    let seen = seen.lock().unwrap().clone();
    for plugin in ["a", "b"] {
        let per_plugin = |who: String| seen.iter().find(|s| s.0 == who).unwrap().1;
        assert_eq!(
            per_plugin(format!("plugin {plugin}")),
            per_plugin(format!("module {plugin}")),
            "a plugin and its modules share the instance"
        );
    }
    assert!(seen.iter().all(|s| s.2 == 1));
    backend.service(LAZY_ROOT).await.unwrap();
    assert_eq!(lazy_builds.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn multitons_list_every_instance_in_order() {
    const NAMES: MultitonRef<dyn Counter> = MultitonRef::root("test.names");
    const NONE: MultitonRef<dyn Counter> = MultitonRef::root("test.none");
    let got: Arc<Mutex<Vec<usize>>> = Arc::default();
    let backend = Backend::new(vec![]).unwrap();
    for n in [7, 3] {
        backend
            .add(ServiceFactory::new(NAMES, (), move |()| async move {
                Ok::<_, Infallible>(Arc::new(Instance(n)) as Arc<dyn Counter>)
            }))
            .unwrap();
    }
    let g = got.clone();
    backend
        .add(Plugin::new("p", move |reg| {
            let g = g.clone();
            reg.register_init((NAMES, NONE), move |(names, none)| async move {
                assert!(none.is_empty());
                g.lock().unwrap().extend(names.iter().map(|n| n.instance()));
                Ok::<_, Infallible>(())
            })
        }))
        .unwrap();
    backend.start().await.unwrap();
    assert_eq!(*got.lock().unwrap(), [7, 3]);
}

#[tokio::test]
async fn root_contexts_are_created_once() {
    const SVC: ServiceRef<dyn Counter> = ServiceRef::plugin("test.withContext");
    let contexts = Arc::new(AtomicUsize::new(0));
    let c = contexts.clone();
    let backend = Backend::new(vec![ServiceFactory::with_root_context(
        SVC,
        (),
        move |()| {
            let n = c.fetch_add(1, Ordering::SeqCst);
            async move { Ok::<_, Infallible>(n + 100) }
        },
        (),
        |(), ctx: Arc<usize>| async move {
            Ok::<_, Infallible>(Arc::new(Instance(*ctx)) as Arc<dyn Counter>)
        },
    )])
    .unwrap();
    for plugin in ["a", "b", "c"] {
        backend
            .add(Plugin::new(plugin, |reg| {
                reg.register_init(SVC, |svc| async move {
                    assert_eq!(svc.instance(), 100);
                    Ok::<_, Infallible>(())
                })
            }))
            .unwrap();
    }
    backend.start().await.unwrap();
    assert_eq!(contexts.load(Ordering::SeqCst), 1);
}

fn failing_plugin(id: &'static str) -> Plugin {
    Plugin::new(id, |reg| {
        reg.register_init((), |()| async {
            Err::<(), BoxError>("init exploded".into())
        })
    })
}

#[tokio::test]
async fn a_failing_plugin_aborts_start_up_by_default() {
    let ready = Arc::new(AtomicUsize::new(0));
    let backend = Backend::new(vec![]).unwrap();
    backend.add(failing_plugin("bad")).unwrap();
    let r = ready.clone();
    backend
        .add(Plugin::new("good", move |reg| {
            let r = r.clone();
            reg.register_init(core_services::ROOT_LIFECYCLE, move |root| async move {
                root.add_startup_hook(hook(move || async move {
                    r.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, BoxError>(())
                }))?;
                Ok::<_, BoxError>(())
            })
        }))
        .unwrap();
    let err = backend.start().await.unwrap_err();
    let Error::Startup(startup) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        err.to_string(),
        "Backend startup failed due to the following errors:\n  Plugin 'bad' startup failed; caused by Error: init exploded"
    );
    assert_eq!(startup.result().outcome, StartupOutcome::Failure);
    assert_eq!(
        startup.result().plugins.len(),
        2,
        "other plugins still finish"
    );
    assert_eq!(
        ready.load(Ordering::SeqCst),
        0,
        "root startup hooks never run"
    );
    backend.stop().await.unwrap();
}

#[tokio::test]
async fn backend_startup_config_permits_failures() {
    let backend = Backend::new(vec![config_factory(json!({"backend": {"startup": {
        "plugins": {
            "bad": { "onPluginBootFailure": "continue" },
            "good": { "modules": { "flaky": { "onPluginModuleBootFailure": "continue" } } },
        },
    }}}))])
    .unwrap();
    backend.add(failing_plugin("bad")).unwrap();
    backend
        .add(Plugin::new("good", |reg| {
            reg.register_init((), |()| async { Ok::<_, Infallible>(()) })
        }))
        .unwrap();
    backend
        .add(Module::new("good", "flaky", |reg| {
            reg.register_init((), |()| async {
                Err::<(), BoxError>("module exploded".into())
            })
        }))
        .unwrap();
    let result = backend.start().await.unwrap();
    assert_eq!(result.outcome, StartupOutcome::Success);
    let bad = result
        .plugins
        .iter()
        .find(|p| p.plugin_id == "bad")
        .unwrap();
    let failure = bad.failure.as_ref().unwrap();
    assert!(failure.allowed);
    assert_eq!(failure.message, "init exploded");
    let good = result
        .plugins
        .iter()
        .find(|p| p.plugin_id == "good")
        .unwrap();
    assert!(
        good.failure.is_none(),
        "a module failure does not stop its plugin"
    );
    assert!(good.modules[0].failure.as_ref().unwrap().allowed);
}

#[tokio::test]
async fn a_module_failure_aborts_unless_permitted() {
    let backend = Backend::new(vec![]).unwrap();
    backend
        .add(Plugin::new("p", |reg| {
            reg.register_init((), |()| async { Ok::<_, Infallible>(()) })
        }))
        .unwrap();
    backend
        .add(Module::new("p", "m", |reg| {
            reg.register_init((), |()| async { Err::<(), BoxError>("nope".into()) })
        }))
        .unwrap();
    let err = backend.start().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "Backend startup failed due to the following errors:\n  Module 'm' for plugin 'p' startup failed; caused by Error: nope"
    );
}

#[tokio::test]
async fn panics_and_factory_errors_are_plugin_failures() {
    const BROKEN: ServiceRef<dyn Counter> = ServiceRef::plugin("test.broken");
    let backend = Backend::new(vec![ServiceFactory::new(BROKEN, (), |()| async {
        Err::<Arc<dyn Counter>, BoxError>("no connection".into())
    })])
    .unwrap();
    backend
        .add(Plugin::new("panicky", |reg| {
            reg.register_init((), |()| async {
                if true {
                    panic!("plugin init panicked");
                }
                Ok::<_, Infallible>(())
            })
        }))
        .unwrap();
    backend
        .add(Plugin::new("user", |reg| {
            reg.register_init(BROKEN, |_| async { Ok::<_, Infallible>(()) })
        }))
        .unwrap();
    let err = backend.start().await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("Plugin 'user' startup failed; caused by Error: Failed to instantiate service 'test.broken' for 'user' because the factory function threw an error, Error: no connection"),
        "{text}"
    );
    assert!(
        text.contains(
            "Plugin 'panicky' startup failed; caused by Error: init panicked: plugin init panicked"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn eager_root_factory_errors_reject_start_with_the_original_message() {
    const ROOT: ServiceRef<dyn Counter> = ServiceRef::root("test.rootBoom");
    let backend = Backend::new(vec![ServiceFactory::new(ROOT, (), |()| async {
        Err::<Arc<dyn Counter>, BoxError>("root-boom".into())
    })])
    .unwrap();
    let err = backend.start().await.unwrap_err();
    assert!(matches!(err, Error::Service(_)));
    assert_eq!(err.to_string(), "root-boom");
}

#[tokio::test]
async fn default_factories_of_refs_are_used_when_none_is_installed() {
    fn default_counter() -> ServiceFactory {
        ServiceFactory::new(WITH_DEFAULT, (), |()| async {
            Ok::<_, Infallible>(Arc::new(Instance(42)) as Arc<dyn Counter>)
        })
    }
    const WITH_DEFAULT: ServiceRef<dyn Counter> =
        ServiceRef::root("test.withDefault").with_default_factory(default_counter);
    let backend = Backend::new(vec![]).unwrap();
    backend.start().await.unwrap();
    assert_eq!(backend.service(WITH_DEFAULT).await.unwrap().instance(), 42);

    let backend = Backend::new(vec![]).unwrap();
    backend
        .add(ServiceFactory::new(WITH_DEFAULT, (), |()| async {
            Ok::<_, Infallible>(Arc::new(Instance(7)) as Arc<dyn Counter>)
        }))
        .unwrap();
    backend.start().await.unwrap();
    assert_eq!(backend.service(WITH_DEFAULT).await.unwrap().instance(), 7);
}

#[tokio::test]
async fn start_stop_state_machine() {
    let backend = Backend::new(vec![]).unwrap();
    backend.stop().await.unwrap(); // never started: nothing to do
    assert!(matches!(backend.start().await, Err(Error::AlreadyStopped)));

    let backend = Backend::new(vec![]).unwrap();
    backend.start().await.unwrap();
    assert!(matches!(backend.start().await, Err(Error::AlreadyStarted)));
    assert!(matches!(
        backend.add(Plugin::new("late", |_| {})),
        Err(Error::AddAfterStart)
    ));
    assert!(matches!(
        backend.service(core_services::LOGGER).await,
        Err(Error::NotRootScoped { .. })
    ));
    backend.stop().await.unwrap();
    assert!(matches!(backend.start().await, Err(Error::AlreadyStopped)));
}

#[tokio::test]
async fn a_factory_can_decorate_the_default_it_replaces() {
    const SVC: ServiceRef<dyn Counter> = ServiceRef::root("test.decorated");
    struct Plus(Arc<dyn Counter>, usize);
    impl Counter for Plus {
        fn instance(&self) -> usize {
            self.0.instance() + self.1
        }
    }
    let defaults = vec![ServiceFactory::new(SVC, (), |()| async {
        Ok::<_, Infallible>(Arc::new(Instance(1)) as Arc<dyn Counter>)
    })];
    let backend = Backend::new(defaults).unwrap();
    backend
        .add(ServiceFactory::new(SVC, SVC.replaced(), |inner| async move {
            Ok::<_, Infallible>(Arc::new(Plus(inner, 10)) as Arc<dyn Counter>)
        }))
        .unwrap();
    backend.start().await.unwrap();
    assert_eq!(backend.service(SVC).await.unwrap().instance(), 11);

    // Nothing to decorate: a wiring problem, not a hang or a self-cycle.
    const BARE: ServiceRef<dyn Counter> = ServiceRef::root("test.bare");
    let backend = Backend::new(vec![]).unwrap();
    backend
        .add(ServiceFactory::new(BARE, BARE.replaced(), |inner| async move {
            Ok::<_, Infallible>(Arc::new(Plus(inner, 1)) as Arc<dyn Counter>)
        }))
        .unwrap();
    let err = backend.start().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "Backend wiring is invalid (1 problem); nothing was started:\n  Failed to instantiate service 'test.bare' because the following dependent services are missing: 'test.bare (replaced default)'"
    );
}

#[tokio::test]
async fn decorating_a_ref_default_factory() {
    fn default_counter() -> ServiceFactory {
        ServiceFactory::new(WITH_DEFAULT, (), |()| async {
            Ok::<_, Infallible>(Arc::new(Instance(5)) as Arc<dyn Counter>)
        })
    }
    const WITH_DEFAULT: ServiceRef<dyn Counter> =
        ServiceRef::plugin("test.pluginDefault").with_default_factory(default_counter);
    struct Double(Arc<dyn Counter>);
    impl Counter for Double {
        fn instance(&self) -> usize {
            self.0.instance() * 2
        }
    }
    let backend = Backend::new(vec![]).unwrap();
    backend
        .add(ServiceFactory::new(
            WITH_DEFAULT,
            WITH_DEFAULT.replaced(),
            |inner| async move { Ok::<_, Infallible>(Arc::new(Double(inner)) as Arc<dyn Counter>) },
        ))
        .unwrap();
    backend
        .add(Plugin::new("p", |reg| {
            reg.register_init(WITH_DEFAULT, |svc| async move {
                assert_eq!(svc.instance(), 10);
                Ok::<_, Infallible>(())
            })
        }))
        .unwrap();
    let result = backend.start().await.unwrap();
    assert!(result.plugins[0].failure.is_none());
}
