//! `catalog-bench`: generate a synthetic catalog, wait until a catalog backend shows all of
//! it, and load its REST API. Driven by `benches/catalog/run.sh`.
//!
//! ```sh
//! catalog-bench generate --dir /tmp/cat --entities 10000     # files + a root Location
//! catalog-bench wait --url http://127.0.0.1:7007 --count 10000 --timeout 120
//! catalog-bench load --url 'http://127.0.0.1:7007/api/catalog/entities?filter=kind=component' \
//!     --concurrency 8 --duration 10
//! ```
//!
//! `wait` prints `{"seconds": …, "count": …}`; `load` prints
//! `{"requests": …, "rps": …, "p50_us": …, "p99_us": …, "errors": …, "bytes_per_response": …}`.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

#[derive(Debug, Parser)]
#[command(about = "Generate a synthetic catalog and load a catalog backend's REST API")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write N entities with realistic relations into files, plus `all.yaml` (a Location
    /// listing them).
    Generate {
        /// Output directory.
        #[arg(long)]
        dir: PathBuf,
        /// Number of entities (the root Location and file Locations come on top).
        #[arg(long)]
        entities: usize,
        /// Entities per file.
        #[arg(long, default_value_t = 100)]
        per_file: usize,
    },
    /// Poll until the catalog reports at least `count` entities.
    Wait {
        /// Backend base URL.
        #[arg(long)]
        url: String,
        /// Entities to wait for.
        #[arg(long)]
        count: u64,
        /// Seconds before giving up.
        #[arg(long, default_value_t = 600.0)]
        timeout: f64,
    },
    /// GET one URL from `concurrency` callers for `duration` seconds.
    Load {
        /// Full URL.
        #[arg(long)]
        url: String,
        /// Callers in flight.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Measured seconds.
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
        /// Unmeasured seconds before.
        #[arg(long, default_value_t = 1.0)]
        warmup: f64,
    },
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match args.command {
        Command::Generate {
            dir,
            entities,
            per_file,
        } => generate(&dir, entities, per_file.max(1)),
        Command::Wait {
            url,
            count,
            timeout,
        } => runtime.block_on(wait(&url, count, timeout)),
        Command::Load {
            url,
            concurrency,
            duration,
            warmup,
        } => runtime.block_on(load(&url, concurrency.max(1), duration, warmup)),
    }
}

// ---- generate --------------------------------------------------------------------------------

/// Share of each kind, in per-mille: groups 2 %, users 10 %, domains 0.5 %, systems 2 %,
/// APIs 15 %, resources 10.5 %, components the rest (60 %).
fn plan(n: usize) -> [(&'static str, usize); 7] {
    let share = |permille: usize| (n * permille / 1000).max(1);
    let groups = share(20);
    let users = share(100);
    let domains = share(5);
    let systems = share(20);
    let apis = share(150);
    let resources = share(105);
    let used = groups + users + domains + systems + apis + resources;
    let components = n.saturating_sub(used).max(1);
    [
        ("Group", groups),
        ("User", users),
        ("Domain", domains),
        ("System", systems),
        ("API", apis),
        ("Resource", resources),
        ("Component", components),
    ]
}

fn entity(kind: &str, i: usize, counts: &[(&str, usize); 7]) -> Value {
    let count = |k: &str| {
        counts
            .iter()
            .find(|(name, _)| *name == k)
            .map_or(1, |(_, c)| *c)
    };
    let pick = |k: &str, salt: usize| (i.wrapping_mul(2_654_435_761).wrapping_add(salt)) % count(k);
    let group = |salt| format!("group:default/group-{}", pick("Group", salt));
    let tags = json!([
        "bench",
        format!("tier-{}", i % 3),
        if i.is_multiple_of(2) { "java" } else { "go" }
    ]);
    let metadata = |name: String| {
        json!({
            "name": name,
            "title": format!("{kind} number {i}"),
            "description": format!("A synthetic {kind} for the catalog benchmark, number {i}."),
            "tags": tags,
            "annotations": {"backstage.io/techdocs-ref": "dir:.", "github.com/project-slug": format!("acme/{}-{i}", kind.to_lowercase())},
            "links": [{"url": format!("https://example.com/{}/{i}", kind.to_lowercase()), "title": "Dashboard"}],
        })
    };
    match kind {
        "Group" => {
            let mut group = json!({
                "apiVersion": "backstage.io/v1alpha1", "kind": "Group",
                "metadata": metadata(format!("group-{i}")),
                "spec": {
                    "type": "team",
                    "profile": {"displayName": format!("Team {i}"), "email": format!("team-{i}@example.com")},
                    "children": [],
                },
            });
            if i > 0 {
                group["spec"]["parent"] = json!(format!("group-{}", (i - 1) / 4));
            }
            group
        }
        "User" => json!({
            "apiVersion": "backstage.io/v1alpha1", "kind": "User",
            "metadata": metadata(format!("user-{i}")),
            "spec": {
                "profile": {"displayName": format!("User {i}"), "email": format!("user-{i}@example.com")},
                "memberOf": [group(1)],
            },
        }),
        "Domain" => json!({
            "apiVersion": "backstage.io/v1alpha1", "kind": "Domain",
            "metadata": metadata(format!("domain-{i}")),
            "spec": {"owner": group(2)},
        }),
        "System" => json!({
            "apiVersion": "backstage.io/v1alpha1", "kind": "System",
            "metadata": metadata(format!("system-{i}")),
            "spec": {"owner": group(3), "domain": format!("domain-{}", pick("Domain", 4))},
        }),
        "API" => json!({
            "apiVersion": "backstage.io/v1alpha1", "kind": "API",
            "metadata": metadata(format!("api-{i}")),
            "spec": {
                "type": (["openapi", "grpc", "graphql", "asyncapi"][i % 4]),
                "lifecycle": (["production", "experimental", "deprecated"][i % 3]),
                "owner": group(5),
                "system": format!("system-{}", pick("System", 6)),
                "definition": format!("openapi: 3.0.0\ninfo:\n  title: api-{i}\n  version: 1.0.0\npaths: {{}}\n"),
            },
        }),
        "Resource" => json!({
            "apiVersion": "backstage.io/v1alpha1", "kind": "Resource",
            "metadata": metadata(format!("resource-{i}")),
            "spec": {
                "type": (["database", "s3-bucket", "queue"][i % 3]),
                "owner": group(7),
                "system": format!("system-{}", pick("System", 8)),
            },
        }),
        _ => json!({
            "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
            "metadata": metadata(format!("component-{i}")),
            "spec": {
                "type": (["service", "website", "library"][i % 3]),
                "lifecycle": (["production", "experimental"][i % 2]),
                "owner": group(9),
                "system": format!("system-{}", pick("System", 10)),
                "providesApis": [format!("api-{}", pick("API", 11))],
                "consumesApis": [format!("api-{}", pick("API", 12)), format!("api-{}", pick("API", 13))],
                "dependsOn": [format!("resource:resource-{}", pick("Resource", 14))],
            },
        }),
    }
}

fn generate(dir: &std::path::Path, n: usize, per_file: usize) -> Result<(), BoxError> {
    std::fs::create_dir_all(dir)?;
    let counts = plan(n);
    let mut all: Vec<Value> = Vec::with_capacity(n);
    for (kind, count) in counts {
        for i in 0..count {
            all.push(entity(kind, i, &counts));
        }
    }
    let mut targets = Vec::new();
    for (f, chunk) in all.chunks(per_file).enumerate() {
        let name = format!("entities-{f:05}.yaml");
        let mut text = String::new();
        for doc in chunk {
            // JSON is YAML: one document per entity.
            let _ = writeln!(text, "---\n{doc}");
        }
        std::fs::write(dir.join(&name), text)?;
        targets.push(format!("./{name}"));
    }
    let root = json!({
        "apiVersion": "backstage.io/v1alpha1", "kind": "Location",
        "metadata": {"name": "bench-root"},
        "spec": {"targets": targets},
    });
    std::fs::write(dir.join("all.yaml"), root.to_string())?;
    let summary: serde_json::Map<String, Value> = counts
        .iter()
        .map(|(k, c)| ((*k).to_owned(), json!(c)))
        .collect();
    println!(
        "{}",
        json!({"entities": all.len(), "files": targets.len(), "kinds": summary})
    );
    Ok(())
}

// ---- wait ------------------------------------------------------------------------------------

async fn get(
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Empty<Bytes>>,
    url: &str,
) -> Result<(u16, Bytes), BoxError> {
    let uri: hyper::Uri = url.parse()?;
    let response = client.get(uri).await?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

/// GETs `url` and reads the whole body without keeping it (the load loop measures the
/// server, not the client's copying); the status and the body's length.
async fn get_drain(
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Empty<Bytes>>,
    url: &str,
) -> Result<(u16, usize), BoxError> {
    let uri: hyper::Uri = url.parse()?;
    let response = client.get(uri).await?;
    let status = response.status().as_u16();
    let mut body = response.into_body();
    let mut length = 0;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            length += data.len();
        }
    }
    Ok((status, length))
}

async fn wait(base: &str, count: u64, timeout: f64) -> Result<(), BoxError> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let url = format!(
        "{}/api/catalog/entities/by-query?limit=0",
        base.trim_end_matches('/')
    );
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(timeout);
    loop {
        if let Ok((200, body)) = get(&client, &url).await {
            let value: Value = serde_json::from_slice(&body)?;
            let total = value["totalItems"].as_u64().unwrap_or(0);
            if total >= count {
                println!(
                    "{}",
                    json!({"seconds": start.elapsed().as_secs_f64(), "count": total})
                );
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            return Err(format!("fewer than {count} entities after {timeout} s").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---- load ------------------------------------------------------------------------------------

async fn load(url: &str, concurrency: usize, duration: f64, warmup: f64) -> Result<(), BoxError> {
    let client = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(concurrency)
        .build_http::<Empty<Bytes>>();
    let (status, body) = get(&client, url).await?;
    if status != 200 {
        return Err(format!(
            "{url} answered {status}: {}",
            String::from_utf8_lossy(&body)
        )
        .into());
    }
    let bytes_per_response = body.len();
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let client = client.clone();
        let url = url.to_owned();
        let measuring = measuring.clone();
        let stop = stop.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies: Vec<u32> = Vec::with_capacity(1 << 16);
            let mut errors = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                let ok = matches!(get_drain(&client, &url).await, Ok((200, _)));
                if measuring.load(Ordering::Relaxed) {
                    if ok {
                        let us = u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX);
                        latencies.push(us);
                    } else {
                        errors += 1;
                    }
                }
            }
            (latencies, errors)
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(warmup)).await;
    measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(duration)).await;
    measuring.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    let mut errors = 0;
    for worker in workers {
        let (latencies, e) = worker.await?;
        all.extend(latencies);
        errors += e;
    }
    all.sort_unstable();
    let percentile = |p: f64| -> u32 {
        if all.is_empty() {
            return 0;
        }
        let rank = ((all.len() as f64) * p).ceil() as usize;
        all[rank.saturating_sub(1).min(all.len() - 1)]
    };
    println!(
        "{}",
        json!({
            "requests": all.len(),
            "rps": all.len() as f64 / elapsed,
            "p50_us": percentile(0.50),
            "p99_us": percentile(0.99),
            "errors": errors,
            "bytes_per_response": bytes_per_response,
        })
    );
    Ok(())
}
