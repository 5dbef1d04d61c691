//! `cache-bench`: the plugin-facing cache service under a 50/50 get/set load.
//!
//! 1,000 keys, 100-byte JSON values, `--concurrency` callers in flight for `--duration`
//! seconds (after `--warmup`), through `CacheManager::from_config(...).for_plugin("bench")`
//! exactly as a plugin uses it (an `Arc<dyn CacheService>`). Prints one JSON line: ops/s and
//! p50/p99 latency in microseconds (latency sampled on every 16th call of each caller; every
//! call counts for ops/s). Every `set` hands over the one prebuilt value (an `Arc`, as the Node
//! loop passes one object); `--fresh-values` builds a new copy per `set` instead. The same
//! workload for Backstage's own `CacheManager` is
//! `cache/benches/node/bench.mjs`; see `cache/benches/README.md`.
//!
//! ```sh
//! cargo run --release -p backstage-benches --bin cache-bench -- --store memory --concurrency 64
//! cargo run --release -p backstage-benches --bin cache-bench -- \
//!     --store redis --connection redis://127.0.0.1:6379 --concurrency 64 --duration 10
//! cargo run --release -p backstage-benches --bin cache-bench -- --config app-config.yaml
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use backstage_backend_common::config::{ConfigReader, LoadConfigOptions, load_config};
use backstage_cache::{CacheManager, CacheService};
use clap::Parser;
use serde_json::{Value, json};

/// The value every `set` writes: 100 bytes of JSON, the same as the Node loop's.
const VALUE: &str = r#"{"id":12345,"kind":"Component","name":"bench-entity","tags":["a","b","c"],"ok":true,"note":"xxxxxx"}"#;
/// Distinct keys.
const KEYS: usize = 1000;

#[derive(Debug, Parser)]
#[command(about = "Load the Backstage cache service with a 50/50 get/set workload")]
struct Args {
    /// `backend.cache.store`: memory, redis, valkey, memcache or infinispan.
    #[arg(long, default_value = "memory")]
    store: String,
    /// `backend.cache.connection` (a URL or a memcache server list).
    #[arg(long)]
    connection: Option<String>,
    /// An app-config file whose `backend.cache` is used instead of --store/--connection.
    #[arg(long)]
    config: Option<std::path::PathBuf>,
    /// Callers in flight.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Measured seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Unmeasured seconds before.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Runtime worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Give every `set` a newly built copy of the value (as a plugin that builds its value per
    /// call) instead of sharing one prebuilt value (as the Node loop passes one object).
    #[arg(long)]
    fresh_values: bool,
}

/// Log-linear latency histogram in nanoseconds: 64 sub-buckets per power of two (≤ 1.6 %
/// error), the same buckets as the Node loop.
struct Histogram {
    counts: Vec<u64>,
    total: u64,
}

impl Histogram {
    const SUB: u32 = 64;

    fn new() -> Self {
        Self {
            counts: vec![0; 64 * 64],
            total: 0,
        }
    }

    fn index(ns: u64) -> usize {
        let v = ns.clamp(1, u64::from(u32::MAX >> 1));
        let exp = 63 - v.leading_zeros();
        let index = if exp < 6 {
            v
        } else {
            u64::from(exp - 5) * u64::from(Self::SUB) + ((v >> (exp - 6)) - 64)
        };
        usize::try_from(index).unwrap_or(usize::MAX)
    }

    fn record(&mut self, ns: u64) {
        let index = Self::index(ns).min(self.counts.len() - 1);
        self.counts[index] += 1;
        self.total += 1;
    }

    fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
    }

    fn bucket_value(index: usize) -> u64 {
        let index = index as u64;
        if index < 64 {
            return index;
        }
        let exp = index / 64 + 5;
        let sub = index % 64;
        (64 + sub) << (exp - 6)
    }

    fn quantile(&self, q: f64) -> u64 {
        // Rounded up like the Node loop's Math.ceil.
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let target = (self.total as f64 * q).ceil() as u64;
        let mut seen = 0;
        for (i, &count) in self.counts.iter().enumerate() {
            seen += count;
            if count > 0 && seen >= target {
                return Self::bucket_value(i);
            }
        }
        0
    }
}

struct Outcome {
    ops: u64,
    histogram: Histogram,
}

/// Every this many calls of a caller, one is timed for the latency histogram. Reading the
/// clock costs about as much as a memory-store call, so timing each would measure the clock;
/// throughput counts every call.
const SAMPLE_EVERY: u32 = 16;

/// The phases of a run, set by the timekeeper thread.
const WARMING_UP: u8 = 0;
const MEASURING: u8 = 1;
const DONE: u8 = 2;

/// What one caller does.
struct Worker {
    cache: Arc<dyn CacheService>,
    keys: Arc<Vec<String>>,
    value: Arc<Value>,
    /// Hand each `set` a newly built copy of the value instead of the shared one.
    fresh_values: bool,
    seed: u32,
    phase: Arc<AtomicU8>,
}

impl Worker {
    async fn run(self) -> Outcome {
        let mut histogram = Histogram::new();
        let mut ops = 0;
        let mut calls: u32 = 0;
        let mut state = self.seed | 1;
        loop {
            let phase = self.phase.load(Ordering::Relaxed);
            if phase == DONE {
                break;
            }
            // xorshift32
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let key = &self.keys[state as usize % KEYS];
            calls = calls.wrapping_add(1);
            let started = calls.is_multiple_of(SAMPLE_EVERY).then(Instant::now);
            if state & 0x80000 != 0 {
                std::hint::black_box(self.cache.get(key).await);
            } else if self.fresh_values {
                let value = Arc::new(Value::clone(&self.value));
                self.cache.set(key, value, None).await;
            } else {
                self.cache.set(key, self.value.clone(), None).await;
            }
            if phase == MEASURING {
                ops += 1;
                if let Some(started) = started {
                    let elapsed = started.elapsed();
                    histogram.record(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX));
                }
            }
            // A store that answers without waiting (memory) never returns `Pending`; give the
            // other callers their turn as a server's request tasks would.
            if calls.is_multiple_of(256) {
                tokio::task::yield_now().await;
            }
        }
        Outcome { ops, histogram }
    }
}

fn manager(args: &Args) -> Result<CacheManager, Box<dyn std::error::Error>> {
    let config = match &args.config {
        Some(path) => {
            let root = path.parent().map_or_else(
                || std::path::PathBuf::from("."),
                std::path::Path::to_path_buf,
            );
            let options = LoadConfigOptions::new(root).config_path(path.clone());
            ConfigReader::from_layers(load_config(&options)?)
        }
        None => {
            let mut cache = json!({ "store": args.store });
            if let Some(connection) = &args.connection {
                cache["connection"] = json!(connection);
            }
            ConfigReader::from_value(json!({ "backend": { "cache": cache } }))
        }
    };
    Ok(CacheManager::from_config(&config)?)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    if let Some(threads) = args.threads {
        runtime.worker_threads(threads);
    }
    let runtime = runtime.build()?;
    runtime.block_on(run(args))
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let manager = manager(&args)?;
    // As a plugin receives it (`CACHE`).
    let cache: Arc<dyn CacheService> = Arc::new(manager.for_plugin("bench"));
    let value: Arc<Value> = Arc::new(serde_json::from_str(VALUE)?);
    let keys: Arc<Vec<String>> = Arc::new((0..KEYS).map(|i| format!("bench-key-{i}")).collect());
    for key in keys.iter() {
        cache.set(key, value.clone(), None).await;
    }
    if cache.get(&keys[0]).await.as_deref() != Some(&*value) {
        return Err(format!("the {} store does not answer", manager.store().name()).into());
    }

    // The phases are switched by a thread of its own, so callers only read a flag.
    let phase = Arc::new(AtomicU8::new(WARMING_UP));
    let timekeeper = {
        let phase = phase.clone();
        let warmup = Duration::from_secs_f64(args.warmup);
        let duration = Duration::from_secs_f64(args.duration);
        std::thread::spawn(move || {
            std::thread::sleep(warmup);
            let from = Instant::now();
            phase.store(MEASURING, Ordering::Relaxed);
            std::thread::sleep(duration);
            phase.store(DONE, Ordering::Relaxed);
            from.elapsed()
        })
    };
    let workers: Vec<_> = (0..args.concurrency)
        .map(|i| {
            let seed = 0x2545_f491_u32.wrapping_mul(u32::try_from(i).unwrap_or(0) + 1);
            tokio::spawn(
                Worker {
                    cache: cache.clone(),
                    keys: keys.clone(),
                    value: value.clone(),
                    fresh_values: args.fresh_values,
                    seed,
                    phase: phase.clone(),
                }
                .run(),
            )
        })
        .collect();
    let mut ops = 0;
    let mut histogram = Histogram::new();
    for worker in workers {
        let outcome = worker.await?;
        ops += outcome.ops;
        histogram.merge(&outcome.histogram);
    }
    manager.close().await;
    let measured = timekeeper
        .join()
        .map_err(|_| "the timekeeper thread panicked")?;

    #[allow(clippy::cast_precision_loss)]
    let ops_per_sec = ops as f64 / measured.as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let micros = |ns: u64| (ns as f64 / 10.0).round() / 100.0;
    println!(
        "{}",
        json!({
            "tool": "backstage-rs",
            "store": manager.store().name(),
            "concurrency": args.concurrency,
            "duration_s": (measured.as_secs_f64() * 1000.0).round() / 1000.0,
            "ops": ops,
            "ops_per_sec": ops_per_sec.round(),
            "p50_us": micros(histogram.quantile(0.5)),
            "p99_us": micros(histogram.quantile(0.99)),
        })
    );
    Ok(())
}
