//! `cache-bench`: the plugin-facing cache service under a 50/50 get/set load.
//!
//! 1,000 keys, 100-byte JSON values, `--concurrency` callers in flight for `--duration`
//! seconds (after `--warmup`), through `CacheManager::from_config(...).for_plugin("bench")`
//! exactly as a plugin uses it. Prints one JSON line: ops/s and p50/p99 latency in
//! microseconds. The same workload for Backstage's own `CacheManager` is
//! `cache/benches/node/bench.mjs`; see `cache/benches/README.md`.
//!
//! ```sh
//! cargo run --release -p backstage-benches --bin cache-bench -- --store memory --concurrency 64
//! cargo run --release -p backstage-benches --bin cache-bench -- \
//!     --store redis --connection redis://127.0.0.1:6379 --concurrency 64 --duration 10
//! cargo run --release -p backstage-benches --bin cache-bench -- --config app-config.yaml
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use backstage_backend_common::config::{ConfigReader, LoadConfigOptions, load_config};
use backstage_cache::{CacheClient, CacheManager, CacheService};
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

async fn worker(
    cache: CacheClient,
    keys: Arc<Vec<String>>,
    value: Arc<Value>,
    seed: u32,
    measure_from: Instant,
    measure_until: Instant,
) -> Outcome {
    let mut histogram = Histogram::new();
    let mut ops = 0;
    let mut state = seed | 1;
    loop {
        // xorshift32
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let key = &keys[state as usize % KEYS];
        let started = Instant::now();
        if started >= measure_until {
            break;
        }
        if state & 0x80000 != 0 {
            std::hint::black_box(cache.get(key).await);
        } else {
            cache.set(key, &value, None).await;
        }
        if started >= measure_from {
            let elapsed = started.elapsed();
            histogram.record(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX));
            ops += 1;
        }
        // A store that answers without waiting (memory) never returns `Pending`; give the
        // other callers their turn as a server's request tasks would.
        if ops % 256 == 255 {
            tokio::task::yield_now().await;
        }
    }
    Outcome { ops, histogram }
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
    let cache = manager.for_plugin("bench");
    let value: Arc<Value> = Arc::new(serde_json::from_str(VALUE)?);
    let keys: Arc<Vec<String>> = Arc::new((0..KEYS).map(|i| format!("bench-key-{i}")).collect());
    for key in keys.iter() {
        cache.set(key, &value, None).await;
    }
    if cache.get(&keys[0]).await.as_ref() != Some(&*value) {
        return Err(format!("the {} store does not answer", manager.store().name()).into());
    }

    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(args.warmup);
    let measure_until = measure_from + Duration::from_secs_f64(args.duration);
    let workers: Vec<_> = (0..args.concurrency)
        .map(|i| {
            let seed = 0x2545_f491_u32.wrapping_mul(u32::try_from(i).unwrap_or(0) + 1);
            tokio::spawn(worker(
                cache.clone(),
                keys.clone(),
                value.clone(),
                seed,
                measure_from,
                measure_until,
            ))
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

    #[allow(clippy::cast_precision_loss)]
    let ops_per_sec = ops as f64 / args.duration;
    #[allow(clippy::cast_precision_loss)]
    let micros = |ns: u64| (ns as f64 / 10.0).round() / 100.0;
    println!(
        "{}",
        json!({
            "tool": "backstage-rs",
            "store": manager.store().name(),
            "concurrency": args.concurrency,
            "duration_s": args.duration,
            "ops": ops,
            "ops_per_sec": ops_per_sec.round(),
            "p50_us": micros(histogram.quantile(0.5)),
            "p99_us": micros(histogram.quantile(0.99)),
        })
    );
    Ok(())
}
