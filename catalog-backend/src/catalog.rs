//! [`Catalog`]: the assembled catalog (store, processing engine, in-memory index, providers
//! and REST API), usable inside a Backstage backend (see [`crate::plugin`]) or on its own in
//! any axum server.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use backstage_core_plugin_api::ConfigReader;
use backstage_database::DatabaseClient;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::api::{self, CatalogContext};
use crate::config::CatalogConfig;
use crate::engine::{CatalogEngine, EngineOptions};
use crate::error::{CatalogError, Result};
use crate::index::EntityIndex;
use crate::processing::{CatalogProcessor, CatalogRules, Orchestrator, OrchestratorOptions};
use crate::providers::{
    ConfigLocationProvider, EntityProvider, EntityProviderConnection, LOCATION_STORE_PROVIDER,
};
use crate::storage::{CatalogStore, EntityMutation};

/// How often a replica looks for final entities written by other replicas when nothing in
/// this process told it about a change.
const INDEX_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Changes read from the feed per query.
const FEED_PAGE: usize = 250;

/// Builds a [`Catalog`].
pub struct CatalogBuilder {
    root_config: ConfigReader,
    client: DatabaseClient,
    base_dir: Option<PathBuf>,
    processors: Vec<Arc<dyn CatalogProcessor>>,
    providers: Vec<Arc<dyn EntityProvider>>,
    location_types: Vec<String>,
    skip_migrations: bool,
    engine: EngineOptions,
}

impl std::fmt::Debug for CatalogBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatalogBuilder")
            .field("processors", &self.processors.len())
            .field("providers", &self.providers.len())
            .field("location_types", &self.location_types)
            .finish_non_exhaustive()
    }
}

impl CatalogBuilder {
    /// Resolve relative `file` locations of `catalog.locations` against `dir` instead of the
    /// working directory.
    #[must_use]
    pub fn base_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.base_dir = Some(dir.into());
        self
    }

    /// Adds a processor (runs after the built-in ones of the same priority).
    #[must_use]
    pub fn processor(mut self, processor: Arc<dyn CatalogProcessor>) -> Self {
        self.processors.push(processor);
        self
    }

    /// Adds an entity provider; it is connected when the catalog starts.
    #[must_use]
    pub fn entity_provider(mut self, provider: Arc<dyn EntityProvider>) -> Self {
        self.providers.push(provider);
        self
    }

    /// Allows `POST /locations` to register locations of this type too (the default is
    /// `url` only, plus `catalog.allowedLocationTypes`).
    #[must_use]
    pub fn allow_location_type(mut self, kind: impl Into<String>) -> Self {
        self.location_types.push(kind.into());
        self
    }

    /// How often orphans are deleted when `catalog.orphanStrategy` is `delete` (default
    /// 30 s, as Backstage's `catalog_orphan_cleanup` task).
    #[must_use]
    pub fn orphan_cleanup_interval(mut self, interval: Duration) -> Self {
        self.engine.orphan_cleanup_interval = interval;
        self
    }

    /// Don't run the catalog's migrations (the tables must exist).
    #[must_use]
    pub fn skip_migrations(mut self, skip: bool) -> Self {
        self.skip_migrations = skip;
        self
    }

    /// Opens the store (running migrations), reads the config and loads the index from the
    /// database. Nothing runs in the background until [`Catalog::start`].
    ///
    /// # Errors
    /// Config errors naming the key, database and migration errors.
    pub async fn build(self) -> Result<Catalog> {
        let base_dir = match self.base_dir {
            Some(dir) => dir,
            None => std::env::current_dir().map_err(|e| {
                CatalogError::Config(format!("cannot read the working directory: {e}"))
            })?,
        };
        let config = CatalogConfig::from_config(&self.root_config, &base_dir)?;
        let mut options = OrchestratorOptions::from_config(&self.root_config)?;
        // Per-location rules name `file` targets relative to the same base as the locations.
        options.rules = CatalogRules::from_config_with_base(&self.root_config, &base_dir)?;
        for kind in self.location_types {
            if !options.allowed_location_types.contains(&kind) {
                options.allowed_location_types.push(kind);
            }
        }
        let orchestrator = Arc::new(Orchestrator::new(options, self.processors, None));
        let store = Arc::new(if self.skip_migrations {
            CatalogStore::open_without_migrations(self.client)?
        } else {
            CatalogStore::open(self.client).await?
        });
        let index = Arc::new(EntityIndex::new());
        let mut providers = self.providers;
        providers.insert(
            0,
            Arc::new(ConfigLocationProvider::new(config.locations.clone())),
        );
        let context = CatalogContext {
            index,
            store,
            orchestrator,
            config: Arc::new(config),
        };
        let catalog = Catalog {
            context,
            engine_options: self.engine,
            providers,
            cancel: CancellationToken::new(),
            tasks: Mutex::new(Vec::new()),
            feed_seq: Arc::new(std::sync::atomic::AtomicI64::new(0)),
        };
        catalog.sync_index().await?;
        Ok(catalog)
    }
}

/// The software catalog: storage, processing engine, in-memory index, entity providers and
/// the REST API.
///
/// ```no_run
/// # async fn demo(client: backstage_database::DatabaseClient) -> backstage_catalog_backend::Result<()> {
/// use backstage_catalog_backend::Catalog;
/// use backstage_core_plugin_api::ConfigReader;
/// use serde_json::json;
///
/// let config = ConfigReader::from_value(json!({
///     "catalog": {"locations": [{"type": "file", "target": "catalog-info.yaml"}]}
/// }));
/// let catalog = Catalog::builder(&config, client).build().await?;
/// catalog.start().await?;
/// let app = axum::Router::<()>::new().nest("/api/catalog", catalog.router());
/// # let _ = app;
/// catalog.stop().await;
/// # Ok(())
/// # }
/// ```
pub struct Catalog {
    context: CatalogContext,
    engine_options: EngineOptions,
    providers: Vec<Arc<dyn EntityProvider>>,
    cancel: CancellationToken,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    feed_seq: Arc<std::sync::atomic::AtomicI64>,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog")
            .field("config", &self.context.config)
            .field("entities", &self.context.index.len())
            .finish_non_exhaustive()
    }
}

impl Catalog {
    /// A builder for a catalog configured from the root config (`catalog.*`) on `client`
    /// (the catalog plugin's database).
    pub fn builder(root_config: &ConfigReader, client: DatabaseClient) -> CatalogBuilder {
        CatalogBuilder {
            root_config: root_config.clone(),
            client,
            base_dir: None,
            processors: Vec::new(),
            providers: Vec::new(),
            location_types: Vec::new(),
            skip_migrations: false,
            engine: EngineOptions::default(),
        }
    }

    /// The REST API, to be mounted at `/api/catalog` (or nested anywhere in a host router).
    pub fn router(&self) -> axum::Router {
        api::router(self.context.clone())
    }

    /// The in-memory index of final entities.
    pub fn index(&self) -> &Arc<EntityIndex> {
        &self.context.index
    }

    /// The storage.
    pub fn store(&self) -> &Arc<CatalogStore> {
        &self.context.store
    }

    /// The parsed `catalog` config.
    pub fn config(&self) -> &CatalogConfig {
        &self.context.config
    }

    /// Connects the entity providers and starts the processing engine (unless processing is
    /// off) and the index sync.
    ///
    /// # Errors
    /// A provider whose `connect` fails, and database errors.
    pub async fn start(&self) -> Result<()> {
        let config = &self.context.config;
        let mut tasks = Vec::new();
        if config.runs_engine() {
            let (min, max) = config
                .processing_interval
                .unwrap_or((Duration::from_secs(100), Duration::from_secs(150)));
            let engine = CatalogEngine::new(
                self.context.store.clone(),
                self.context.orchestrator.clone(),
                EngineOptions {
                    processing_interval: (min, max),
                    orphan_strategy: config.orphan_strategy,
                    tombstone_retention: config.tombstone_retention,
                    ..self.engine_options.clone()
                },
            );
            tasks.push(engine.spawn(self.cancel.clone()));
        }
        let names: Vec<String> = self.providers.iter().map(|p| p.name().to_owned()).collect();
        for provider in &self.providers {
            let connection = EntityProviderConnection::new(
                provider.name().to_owned(),
                self.context.store.clone(),
            );
            provider.connect(connection).await?;
        }
        // The registered locations (Backstage's `DefaultLocationStore`): one full mutation.
        let registered: Vec<_> = self
            .context
            .store
            .list_locations()
            .await?
            .iter()
            .map(crate::api::locations::location_row_entity)
            .collect();
        self.context
            .store
            .apply_mutation(
                LOCATION_STORE_PROVIDER,
                EntityMutation::Full {
                    entities: registered,
                },
            )
            .await?;
        let mut names = names;
        names.push(LOCATION_STORE_PROVIDER.to_owned());
        if config.orphan_provider_strategy == crate::config::OrphanStrategy::Delete {
            for stale in self.context.store.provider_keys().await? {
                if !names.contains(&stale) {
                    tracing::info!(provider = %stale, "emptying the bucket of a provider that is no longer installed");
                    self.context
                        .store
                        .apply_mutation(
                            &stale,
                            EntityMutation::Full {
                                entities: Vec::new(),
                            },
                        )
                        .await?;
                }
            }
        }
        tasks.push(self.spawn_index_sync());
        self.tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(tasks);
        Ok(())
    }

    /// Stops the background work and waits for it.
    pub async fn stop(&self) {
        self.cancel.cancel();
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(PoisonError::into_inner));
        for task in tasks {
            let _ = task.await;
        }
    }

    /// Reads every change of the final-entity feed since the last one seen into the index.
    ///
    /// # Errors
    /// Database errors.
    pub async fn sync_index(&self) -> Result<usize> {
        sync_once(&self.context.store, &self.context.index, &self.feed_seq).await
    }

    fn spawn_index_sync(&self) -> JoinHandle<()> {
        let store = self.context.store.clone();
        let index = self.context.index.clone();
        let seq = self.feed_seq.clone();
        let mut feed = store.subscribe_feed();
        let cancel = self.cancel.clone();
        tokio::spawn(async move {
            loop {
                match sync_once(&store, &index, &seq).await {
                    Ok(n) if n > 0 => continue,
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "catalog index sync failed; retrying"),
                }
                tokio::select! {
                    () = cancel.cancelled() => return,
                    _ = feed.changed() => {}
                    () = tokio::time::sleep(INDEX_POLL_INTERVAL) => {}
                }
            }
        })
    }
}

async fn sync_once(
    store: &CatalogStore,
    index: &EntityIndex,
    seq: &std::sync::atomic::AtomicI64,
) -> Result<usize> {
    use std::sync::atomic::Ordering;
    let mut total = 0;
    loop {
        let after = seq.load(Ordering::Acquire);
        let started = std::time::Instant::now();
        let changes = store.changes_since(after, FEED_PAGE).await?;
        // Read after the page: a floor above `after` means deletions this replica has not
        // seen were pruned (it fell behind by more than `catalog.tombstoneRetention`), and
        // only a reload from scratch drops the entities they deleted.
        if after > 0 && store.feed_floor().await? > after {
            tracing::warn!(
                after,
                "the catalog change feed was pruned past this replica's position; reloading the index"
            );
            // Everything up to the feed's current position is in the pages read below (they
            // run until a short page), so following resumes from there even when the newest
            // rows were pruned tombstones, which no page returns.
            let start = store.current_seq().await?;
            let fresh = EntityIndex::new();
            let position = std::sync::atomic::AtomicI64::new(0);
            // From position 0 there is no floor to check, so this does not recurse again.
            total += Box::pin(sync_once(store, &fresh, &position)).await?;
            index.replace(fresh);
            seq.store(
                position.load(Ordering::Acquire).max(start),
                Ordering::Release,
            );
            continue;
        }
        let read_ms = crate::storage::duration_ms(started.elapsed());
        let Some(last) = changes.last() else {
            return Ok(total);
        };
        let last_seq = last.seq;
        index.apply(&changes);
        tracing::debug!(
            count = changes.len(),
            read_ms,
            total_ms = crate::storage::duration_ms(started.elapsed()),
            "applied feed changes to the index"
        );
        seq.store(last_seq, Ordering::Release);
        total += changes.len();
        if changes.len() < FEED_PAGE {
            return Ok(total);
        }
    }
}
