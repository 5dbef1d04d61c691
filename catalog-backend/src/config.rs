//! The `catalog.*` configuration (spec 4.14), read once at start-up.

use std::path::Path;
use std::time::Duration;

use backstage_backend_common::config::read_duration;
use backstage_core_plugin_api::ConfigReader;
use serde_json::Value;

use crate::error::{CatalogError, Result};
use crate::model::LocationSpec;

/// What to do with entities no parent emits any more (`catalog.orphanStrategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OrphanStrategy {
    /// Delete them (Backstage's default since 3.0.0).
    #[default]
    Delete,
    /// Keep them, marked `backstage.io/orphan: "true"`.
    Keep,
}

/// What `POST /locations` does with a location that is already registered
/// (`catalog.defaultLocationConflictStrategy`, or the `onConflict` parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConflictStrategy {
    /// 409 (the default).
    #[default]
    Reject,
    /// Reuse it and refresh its Location entity.
    Refresh,
}

/// Which halves of the catalog run in this process (`catalog.mode`, our key), for
/// read/write splits over one shared PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CatalogMode {
    /// The REST API and the processing engine (the default).
    #[default]
    All,
    /// The REST API only; entities come from other replicas through the database. The same
    /// as `catalog.processingInterval: false`.
    Api,
    /// The processing engine only; no routes are mounted.
    Engine,
}

/// The parsed `catalog` block.
#[derive(Debug, Clone)]
pub struct CatalogConfig {
    /// `catalog.locations`, `file` targets made absolute.
    pub locations: Vec<LocationSpec>,
    /// `catalog.readonly`.
    pub readonly: bool,
    /// `catalog.processingInterval` as the `[P, 1.5P]` range a refresh is drawn from;
    /// `None` when processing is off.
    pub processing_interval: Option<(Duration, Duration)>,
    /// `catalog.orphanStrategy`.
    pub orphan_strategy: OrphanStrategy,
    /// `catalog.orphanProviderStrategy`.
    pub orphan_provider_strategy: OrphanStrategy,
    /// `catalog.defaultLocationConflictStrategy`.
    pub default_conflict_strategy: ConflictStrategy,
    /// `catalog.mode`.
    pub mode: CatalogMode,
    /// `catalog.tombstoneRetention` (our key): how long deletions stay in the change feed
    /// that replicas follow into their indexes (default 24 hours). A replica further behind
    /// than that reloads its index.
    pub tombstone_retention: Duration,
}

impl Default for CatalogConfig {
    fn default() -> Self {
        Self {
            locations: Vec::new(),
            readonly: false,
            processing_interval: Some((Duration::from_secs(100), Duration::from_secs(150))),
            orphan_strategy: OrphanStrategy::Delete,
            orphan_provider_strategy: OrphanStrategy::Delete,
            default_conflict_strategy: ConflictStrategy::Reject,
            mode: CatalogMode::All,
            tombstone_retention: Duration::from_secs(24 * 3600),
        }
    }
}

fn config_error(key: &str, error: impl std::fmt::Display) -> CatalogError {
    CatalogError::Config(format!("{key}: {error}"))
}

fn strategy(config: &ConfigReader, key: &str) -> Result<OrphanStrategy> {
    let full = format!("catalog.{key}");
    match config
        .optional_string(key)
        .map_err(|e| config_error(&full, e))?
        .as_deref()
    {
        None | Some("delete") => Ok(OrphanStrategy::Delete),
        Some("keep") => Ok(OrphanStrategy::Keep),
        Some(other) => Err(config_error(
            &full,
            format!("expected 'keep' or 'delete', got '{other}'"),
        )),
    }
}

/// A duration under `catalog.<key>`: not negative, and small enough for [`Duration`] (times
/// 1.5, as processing intervals are stretched).
fn duration_key(config: &ConfigReader, key: &str) -> Result<Duration> {
    let full = format!("catalog.{key}");
    let ms = read_duration(config, key)
        .map_err(|e| config_error(&full, e))?
        .as_millis();
    if !ms.is_finite() || ms < 0.0 {
        return Err(config_error(&full, "must be a duration of zero or more"));
    }
    Duration::try_from_secs_f64(ms / 1000.0)
        .ok()
        .filter(|d| d.checked_mul(2).is_some())
        .ok_or_else(|| config_error(&full, "is too long"))
}

impl CatalogConfig {
    /// Reads the `catalog` block of the root config (absent keys take Backstage's
    /// defaults). `file` location targets are resolved against `base_dir` (the working
    /// directory, as Backstage does).
    ///
    /// # Errors
    /// [`CatalogError::Config`] naming the key that is wrong.
    pub fn from_config(root: &ConfigReader, base_dir: &Path) -> Result<Self> {
        let mut out = Self::default();
        let Some(config) = root
            .optional_config("catalog")
            .map_err(|e| config_error("catalog", e))?
        else {
            return Ok(out);
        };
        for (i, location) in config
            .optional_config_array("locations")
            .map_err(|e| config_error("catalog.locations", e))?
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            let key = format!("catalog.locations[{i}]");
            let kind = location.string("type").map_err(|e| config_error(&key, e))?;
            let mut target = location
                .string("target")
                .map_err(|e| config_error(&key, e))?;
            if kind == "file" {
                target = crate::processing::absolute_path(base_dir, &target);
            }
            out.locations.push(LocationSpec::new(kind, target));
        }
        out.readonly = config
            .optional_boolean("readonly")
            .map_err(|e| config_error("catalog.readonly", e))?
            .unwrap_or(false);
        match config
            .optional("processingInterval")
            .map_err(|e| config_error("catalog.processingInterval", e))?
        {
            None => {}
            Some(Value::Bool(false)) => out.processing_interval = None,
            Some(_) => {
                let min = duration_key(&config, "processingInterval")?;
                if min < Duration::from_secs(1) {
                    return Err(config_error(
                        "catalog.processingInterval",
                        "must be at least 1 second (or false to turn processing off)",
                    ));
                }
                out.processing_interval = Some((min, min.mul_f64(1.5)));
            }
        }
        if config
            .optional("tombstoneRetention")
            .map_err(|e| config_error("catalog.tombstoneRetention", e))?
            .is_some()
        {
            out.tombstone_retention = duration_key(&config, "tombstoneRetention")?;
        }
        out.orphan_strategy = strategy(&config, "orphanStrategy")?;
        out.orphan_provider_strategy = strategy(&config, "orphanProviderStrategy")?;
        out.default_conflict_strategy = match config
            .optional_string("defaultLocationConflictStrategy")
            .map_err(|e| config_error("catalog.defaultLocationConflictStrategy", e))?
            .as_deref()
        {
            None | Some("reject") => ConflictStrategy::Reject,
            Some("refresh") => ConflictStrategy::Refresh,
            Some(other) => {
                return Err(config_error(
                    "catalog.defaultLocationConflictStrategy",
                    format!("expected 'reject' or 'refresh', got '{other}'"),
                ));
            }
        };
        out.mode = match config
            .optional_string("mode")
            .map_err(|e| config_error("catalog.mode", e))?
            .as_deref()
        {
            None | Some("all") => CatalogMode::All,
            Some("api") => CatalogMode::Api,
            Some("engine") => CatalogMode::Engine,
            Some(other) => {
                return Err(config_error(
                    "catalog.mode",
                    format!("expected 'all', 'api' or 'engine', got '{other}'"),
                ));
            }
        };
        if out.mode == CatalogMode::Api {
            out.processing_interval = None;
        }
        Ok(out)
    }

    /// Whether this process runs the processing engine.
    pub fn runs_engine(&self) -> bool {
        self.mode != CatalogMode::Api && self.processing_interval.is_some()
    }

    /// Whether this process serves the REST API.
    pub fn serves_api(&self) -> bool {
        self.mode != CatalogMode::Engine
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(value: Value) -> Result<CatalogConfig> {
        CatalogConfig::from_config(&ConfigReader::from_value(value), Path::new("/srv/app"))
    }

    #[test]
    fn defaults_match_backstage() {
        let config = read(json!({})).unwrap();
        assert!(config.locations.is_empty());
        assert_eq!(
            config.processing_interval,
            Some((Duration::from_secs(100), Duration::from_secs(150)))
        );
        assert_eq!(config.orphan_strategy, OrphanStrategy::Delete);
        assert_eq!(config.tombstone_retention, Duration::from_secs(86_400));
        assert!(config.runs_engine() && config.serves_api());
    }

    #[test]
    fn reads_every_key() {
        let config = read(json!({"catalog": {
            "locations": [
                {"type": "file", "target": "../catalog/./all.yaml"},
                {"type": "url", "target": "https://example.com/a.yaml"}
            ],
            "readonly": true,
            "processingInterval": {"seconds": 10},
            "orphanStrategy": "keep",
            "defaultLocationConflictStrategy": "refresh",
            "tombstoneRetention": {"hours": 2},
        }}))
        .unwrap();
        assert_eq!(config.tombstone_retention, Duration::from_secs(7200));
        assert_eq!(config.locations[0].target, "/srv/catalog/all.yaml");
        assert_eq!(config.locations[1].target, "https://example.com/a.yaml");
        assert!(config.readonly);
        assert_eq!(
            config.processing_interval,
            Some((Duration::from_secs(10), Duration::from_secs(15)))
        );
        assert_eq!(config.orphan_strategy, OrphanStrategy::Keep);
        assert_eq!(config.default_conflict_strategy, ConflictStrategy::Refresh);
    }

    #[test]
    fn processing_can_be_turned_off() {
        let config = read(json!({"catalog": {"processingInterval": false}})).unwrap();
        assert!(!config.runs_engine());
        let config = read(json!({"catalog": {"mode": "api"}})).unwrap();
        assert!(!config.runs_engine() && config.serves_api());
        let config = read(json!({"catalog": {"mode": "engine"}})).unwrap();
        assert!(config.runs_engine() && !config.serves_api());
    }

    #[test]
    fn bad_values_name_the_key() {
        let e = read(json!({"catalog": {"orphanStrategy": "sometimes"}})).unwrap_err();
        assert!(e.to_string().contains("catalog.orphanStrategy"), "{e}");
        let e = read(json!({"catalog": {"processingInterval": "soon"}})).unwrap_err();
        assert!(e.to_string().contains("catalog.processingInterval"), "{e}");
        let e = read(json!({"catalog": {"processingInterval": {"milliseconds": 10}}})).unwrap_err();
        assert!(e.to_string().contains("at least 1 second"), "{e}");
        let e = read(json!({"catalog": {"locations": [{"type": "url"}]}})).unwrap_err();
        assert!(e.to_string().contains("catalog.locations[0]"), "{e}");
        let e = read(json!({"catalog": {"mode": "both"}})).unwrap_err();
        assert!(e.to_string().contains("catalog.mode"), "{e}");
        // Durations too long for the clock are refused, not a panic.
        let e = read(json!({"catalog": {"processingInterval": {"years": 1e12}}})).unwrap_err();
        assert!(e.to_string().contains("too long"), "{e}");
        let e = read(json!({"catalog": {"tombstoneRetention": {"years": 1e300}}})).unwrap_err();
        assert!(e.to_string().contains("catalog.tombstoneRetention"), "{e}");
        let e = read(json!({"catalog": {"tombstoneRetention": "-5m"}})).unwrap_err();
        assert!(e.to_string().contains("catalog.tombstoneRetention"), "{e}");
    }
}
