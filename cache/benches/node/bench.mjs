// Load loop driving Backstage's own CacheManager with the workload of the Rust
// `cache-bench` tool: 50/50 get/set over 1,000 keys, 100-byte JSON values,
// `--concurrency` callers in flight for `--duration` seconds. Prints one JSON
// line: ops/s and p50/p99 latency in microseconds.
//
//   node bench.mjs --store memory --concurrency 64 --duration 10
//   node bench.mjs --store redis --connection redis://127.0.0.1:6379 --concurrency 64
//   node bench.mjs --store valkey --connection redis://127.0.0.1:56479 --concurrency 1
//   node bench.mjs --store memcache --connection 127.0.0.1:51211
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';

const require = createRequire(import.meta.url);
const { CacheManager } = require('@backstage/backend-defaults/cache');
const { ConfigReader } = require('@backstage/config');

function args() {
  const out = { store: 'memory', connection: '', concurrency: 64, duration: 10, warmup: 1 };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i].replace(/^--/, '');
    const value = argv[i + 1];
    if (!(name in out) || value === undefined) {
      throw new Error(`unknown or incomplete argument ${argv[i]}`);
    }
    out[name] = typeof out[name] === 'number' ? Number(value) : value;
  }
  return out;
}

// The same 100-byte value as cache-bench (JSON.stringify(VALUE).length === 100).
export const VALUE = {
  id: 12345,
  kind: 'Component',
  name: 'bench-entity',
  tags: ['a', 'b', 'c'],
  ok: true,
  note: 'xxxxxx',
};

// Log-linear latency histogram (nanoseconds): 64 sub-buckets per power of two.
class Histogram {
  constructor() {
    this.counts = new Float64Array(64 * 64);
    this.total = 0;
  }
  record(ns) {
    const v = Math.max(1, Math.floor(ns));
    const exp = 31 - Math.clz32(Math.min(v, 0x7fffffff));
    const sub = exp < 6 ? v : Math.floor(v / 2 ** (exp - 6)) - 64;
    const index = exp < 6 ? v : (exp - 5) * 64 + sub;
    this.counts[Math.min(index, this.counts.length - 1)] += 1;
    this.total += 1;
  }
  bucketValue(index) {
    if (index < 64) return index;
    const exp = Math.floor(index / 64) + 5;
    const sub = index % 64;
    return (64 + sub) * 2 ** (exp - 6);
  }
  quantile(q) {
    const target = Math.ceil(this.total * q);
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i];
      if (seen >= target && this.counts[i] > 0) return this.bucketValue(i);
    }
    return 0;
  }
}

async function main() {
  const opts = args();
  const KEYS = Array.from({ length: 1000 }, (_, i) => `bench-key-${i}`);
  const cache = {
    backend: { cache: { store: opts.store } },
  };
  if (opts.connection) cache.backend.cache.connection = opts.connection;
  const manager = CacheManager.fromConfig(new ConfigReader(cache));
  const client = manager.forPlugin('bench');
  if (JSON.stringify(VALUE).length !== 100) throw new Error('value is not 100 bytes');

  // Fill every key once so gets hit.
  for (const key of KEYS) await client.set(key, VALUE);

  // Phases are driven by the clock, not timers: with the memory store every
  // await resolves as a microtask, so a timer callback would never run.
  let ops = 0;
  const histogram = new Histogram();
  let seed = 0x2545f491;
  const next = () => {
    // xorshift32
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return seed >>> 0;
  };
  const t0 = performance.now();
  const measureFrom = t0 + opts.warmup * 1000;
  const measureUntil = measureFrom + opts.duration * 1000;

  async function worker() {
    for (;;) {
      const r = next();
      const key = KEYS[r % 1000];
      const start = performance.now();
      if (start >= measureUntil) return;
      if (r & 0x80000) {
        await client.get(key);
      } else {
        await client.set(key, VALUE);
      }
      if (start >= measureFrom) {
        histogram.record((performance.now() - start) * 1e6);
        ops += 1;
      }
    }
  }

  await Promise.all(Array.from({ length: opts.concurrency }, () => worker()));
  const elapsed = opts.duration;
  console.log(
    JSON.stringify({
      tool: 'backstage-node',
      store: opts.store,
      concurrency: opts.concurrency,
      duration_s: Number(elapsed.toFixed(3)),
      ops: ops,
      ops_per_sec: Math.round(ops / elapsed),
      p50_us: Number((histogram.quantile(0.5) / 1000).toFixed(2)),
      p99_us: Number((histogram.quantile(0.99) / 1000).toFixed(2)),
    }),
  );
  process.exit(0);
}

main().catch(e => {
  console.error(e);
  process.exit(1);
});
