//! Backend start-up: 20 plugins and 50 modules on the stock services (embedded, so no socket),
//! from `Backend` creation to a started backend, and the stop that follows.
//!
//! `cargo bench -p backstage-core-app-api --bench backend`

use std::convert::Infallible;
use std::hint::black_box;

use axum::Router;
use axum::routing::get;
use backstage_backend_common::config::ConfigReader;
use backstage_core_app_api::{Backend, DefaultServices};
use backstage_core_plugin_api::{BoxError, ExtensionPoint, Module, Plugin, core_services};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;

trait Registry: Send + Sync {
    fn add(&self, name: &str);
}
struct Sink;
impl Registry for Sink {
    fn add(&self, name: &str) {
        black_box(name);
    }
}

const PLUGINS: usize = 20;
const MODULES: usize = 50;

fn extension_point(plugin: usize) -> ExtensionPoint<dyn Registry> {
    // Ids must be 'static; leak twenty short strings once per process.
    static IDS: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    let ids = IDS.get_or_init(|| {
        (0..PLUGINS)
            .map(|i| &*Box::leak(format!("plugin{i}.registry").into_boxed_str()))
            .collect()
    });
    ExtensionPoint::new(ids[plugin])
}

fn assemble(services: &DefaultServices) -> Backend {
    let backend = services.backend().expect("stock services");
    for p in 0..PLUGINS {
        backend
            .add(Plugin::new(format!("plugin{p}"), move |reg| {
                reg.register_extension_point(extension_point(p), std::sync::Arc::new(Sink));
                reg.register_init(
                    (
                        core_services::HTTP_ROUTER,
                        core_services::LOGGER,
                        core_services::ROOT_CONFIG,
                    ),
                    |(router, logger, config)| async move {
                        black_box(config.reader().optional_string("app.title")?);
                        router.use_router(Router::new().route("/ping", get(|| async { "pong" })));
                        logger.debug("started");
                        Ok::<_, BoxError>(())
                    },
                );
            }))
            .expect("add plugin");
    }
    for m in 0..MODULES {
        let p = m % PLUGINS;
        backend
            .add(Module::new(
                format!("plugin{p}"),
                format!("module{m}"),
                move |reg| {
                    reg.register_init(
                        (extension_point(p), core_services::LOGGER),
                        move |(ep, _)| async move {
                            ep.add("module");
                            Ok::<_, Infallible>(())
                        },
                    );
                },
            ))
            .expect("add module");
    }
    backend
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let config = ConfigReader::from_value(json!({
        "app": { "title": "bench" },
        "backend": { "baseUrl": "http://localhost:7007" },
    }));
    let services = DefaultServices::new().config(config).embedded();
    c.bench_function("start+stop, 20 plugins and 50 modules", |b| {
        b.to_async(&runtime).iter(|| async {
            let backend = assemble(&services);
            let result = backend.start().await.expect("start");
            assert_eq!(result.plugins.len(), PLUGINS);
            backend.stop().await.expect("stop");
        });
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
