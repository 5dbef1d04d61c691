//! A plugin as a plugin author writes it: the `todo` plugin.
//!
//! - a **service dependency**: [`TODO_STORE`], a root-scoped service with a default factory
//!   (an in-memory store), which a backend may replace with its own factory;
//! - **routes** under `/api/todo`: `GET /todos`, `POST /todos`, `GET /todos/{id}`, with
//!   Backstage's error bodies via [`ApiError`], and an unauthenticated `GET /health`;
//! - a **startup hook** that logs once the plugin serves, and a scheduled task;
//! - an **extension point**, [`TODO_SEEDS`], and a module ([`seed_module`]) that uses it.
//!
//! The router is also available on its own ([`router`]), for an axum application that wants
//! the plugin's routes without a backend (see `examples/embed_router.rs`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Extension, Json, Router};
use backstage_backend_common::auth::Principal;
use backstage_core_plugin_api::services::lifecycle::hook;
use backstage_core_plugin_api::services::scheduler::{
    TaskDefinition, TaskFrequency, TaskSchedule, TaskScope,
};
use backstage_core_plugin_api::{
    ApiError, AuthPolicyAllow, BoxError, Credentials, ExtensionPoint, Module, Plugin,
    ServiceFactory, ServiceRef, core_services,
};
use serde::{Deserialize, Serialize};

/// A todo item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Todo {
    /// Assigned by the store.
    pub id: u64,
    /// What to do.
    pub title: String,
    /// Who created it (`user:…` or `external:…`), when known.
    #[serde(rename = "createdBy", skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
}

/// Where todos live. A backend can install another implementation (a database, say) with
/// `ServiceFactory::new(TODO_STORE, …)`.
pub trait TodoStore: Send + Sync {
    /// Every todo, oldest first.
    fn list(&self) -> Vec<Todo>;
    /// Adds one.
    fn add(&self, title: &str, created_by: Option<String>) -> Todo;
    /// One by id.
    fn get(&self, id: u64) -> Option<Todo>;
}

/// The default store: memory.
#[derive(Default)]
pub struct MemoryTodoStore {
    next: AtomicU64,
    items: Mutex<Vec<Todo>>,
}

impl TodoStore for MemoryTodoStore {
    fn list(&self) -> Vec<Todo> {
        self.items
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
    fn add(&self, title: &str, created_by: Option<String>) -> Todo {
        let todo = Todo {
            id: self.next.fetch_add(1, Ordering::SeqCst) + 1,
            title: title.to_owned(),
            created_by,
        };
        self.items
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(todo.clone());
        todo
    }
    fn get(&self, id: u64) -> Option<Todo> {
        self.list().into_iter().find(|t| t.id == id)
    }
}

fn memory_store_factory() -> ServiceFactory {
    ServiceFactory::new(TODO_STORE, (), |()| async {
        Ok::<_, BoxError>(Arc::new(MemoryTodoStore::default()) as Arc<dyn TodoStore>)
    })
}

/// The store service: root-scoped (one per backend), in memory unless a backend installs
/// another factory.
pub const TODO_STORE: ServiceRef<dyn TodoStore> =
    ServiceRef::root("todo.store").with_default_factory(memory_store_factory);

/// What modules can contribute: todos to start with.
pub trait TodoSeeds: Send + Sync {
    /// Adds a todo to create at start-up.
    fn add(&self, title: &str);
}

#[derive(Default)]
struct SeedList(Mutex<Vec<String>>);

impl TodoSeeds for SeedList {
    fn add(&self, title: &str) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(title.to_owned());
    }
}

/// The plugin's extension point for seed todos.
pub const TODO_SEEDS: ExtensionPoint<dyn TodoSeeds> = ExtensionPoint::new("todo.seeds");

#[derive(Deserialize)]
struct NewTodo {
    title: String,
}

/// The plugin's routes, usable without a backend: hand it a store.
pub fn router(store: Arc<dyn TodoStore>) -> Router {
    Router::new()
        .route(
            "/health",
            get(|| async { Json(serde_json::json!({ "status": "ok" })) }),
        )
        .route("/todos", get(list).post(create))
        .route("/todos/{id}", get(one))
        .with_state(store)
}

async fn list(State(store): State<Arc<dyn TodoStore>>) -> Json<Vec<Todo>> {
    Json(store.list())
}

async fn create(
    State(store): State<Arc<dyn TodoStore>>,
    // The backend's credentials barrier sets this; the standalone router has none.
    credentials: Option<Extension<Credentials>>,
    Json(new): Json<NewTodo>,
) -> Result<(StatusCode, Json<Todo>), ApiError> {
    let title = new.title.trim();
    if title.is_empty() {
        return Err(ApiError::input("title must not be empty"));
    }
    let created_by = credentials.and_then(|Extension(c)| match c.principal {
        Principal::User { user_entity_ref } => Some(user_entity_ref),
        Principal::Service { subject, .. } => Some(subject),
        Principal::None => None,
    });
    Ok((StatusCode::CREATED, Json(store.add(title, created_by))))
}

async fn one(
    State(store): State<Arc<dyn TodoStore>>,
    Path(id): Path<String>,
) -> Result<Json<Todo>, ApiError> {
    let id: u64 = id
        .parse()
        .map_err(|_| ApiError::input(format!("invalid todo id '{id}', expected a number")))?;
    store
        .get(id)
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no todo with id {id}")))
}

/// The `todo` plugin.
pub fn plugin() -> Plugin {
    Plugin::new("todo", |reg| {
        let seeds = Arc::new(SeedList::default());
        reg.register_extension_point(TODO_SEEDS, seeds.clone());
        let deps = (
            TODO_STORE,
            core_services::HTTP_ROUTER,
            core_services::LIFECYCLE,
            core_services::LOGGER,
            core_services::SCHEDULER,
        );
        reg.register_init(
            deps,
            move |(store, http, lifecycle, logger, scheduler)| async move {
                // Modules ran before this init: their seeds are in.
                let seeded =
                    std::mem::take(&mut *seeds.0.lock().unwrap_or_else(PoisonError::into_inner));
                for title in &seeded {
                    store.add(title, None);
                }
                http.use_router(router(store.clone()));
                http.add_auth_policy("/health", AuthPolicyAllow::Unauthenticated)?;

                let counting = store.clone();
                let task_logger = logger.clone();
                scheduler
                    .schedule_task(TaskDefinition::new(
                        "todo-count",
                        TaskSchedule {
                            frequency: TaskFrequency::Every(Duration::from_secs(60)),
                            timeout: Duration::from_secs(5),
                            initial_delay: None,
                            scope: TaskScope::Local,
                        },
                        move |_cancel| {
                            let count = counting.list().len();
                            let logger = task_logger.clone();
                            async move {
                                logger.info(&format!("{count} todos"));
                                Ok(())
                            }
                        },
                    ))
                    .await?;

                lifecycle.add_startup_hook(hook(move || async move {
                    logger.info(&format!(
                        "todo plugin serving, seeded {} todos",
                        seeded.len()
                    ));
                    Ok::<_, BoxError>(())
                }))?;
                Ok::<_, BoxError>(())
            },
        );
    })
}

/// A module of the `todo` plugin that contributes seed todos through [`TODO_SEEDS`].
pub fn seed_module(titles: &'static [&'static str]) -> Module {
    Module::new("todo", "seeds", move |reg| {
        reg.register_init(TODO_SEEDS, move |seeds| async move {
            for title in titles {
                seeds.add(title);
            }
            Ok::<_, BoxError>(())
        });
    })
}
