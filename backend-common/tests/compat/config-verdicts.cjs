'use strict';
// Differential-test oracle for backend-common/tests/config_differential.rs.
//
//   node config-verdicts.cjs <corpus.json>
//
// The corpus is a JSON array of cases. The Rust test has already written each case's files
// into `dir`. A case is
//   { id, dir, targets: [absolute path, ...] | null, env: [[name, value], ...],
//     allowMissingDefaultConfig: bool, queries: [query, ...] }
// and a query is
//   { path: [{ op: "getConfig" | "getOptionalConfig" }, key]
//          | { op: "getConfigArray" | "getOptionalConfigArray", key, index }, ...],
//     op: <ConfigReader method> | "keys" | "has" | "readDuration", key?: string }
// (`key` absent means "call without a key", e.g. `getOptional()`).
//
// For every case this runs `loadConfig` from @backstage/config-loader (or, when
// `allowMissingDefaultConfig` is set, `ConfigSources.default`, because `loadConfig` does not
// take that option), with `process.env` replaced by exactly the case's env (set in the given
// order; the Rust side passes it in sorted order), then `ConfigReader.fromConfigs` from
// @backstage/config, and prints one JSON result per case:
//   { layers: [{ context, data }] | null, error?: message, queries: [result, ...] }
// where a query result is { value } | { absent: true } | { error: message } |
// { outOfRange: length } (a path's array has no element at the index), and a reader result
// is { config: { keys, value } } (value = reader.getOptional()) or { configs: [...] }.
//
// JSON cannot hold every JavaScript value that YAML can produce (non-finite numbers, strings
// with lone surrogates, ...); `encode` tags them.

const fs = require('node:fs');
const { loadConfig, ConfigSources } = require('@backstage/config-loader');
const { ConfigReader, readDurationFromConfig } = require('@backstage/config');

// Values nested deeper than this are sent as their JSON text (`{ $deep: text }`), so that the
// output stays within serde_json's parsing depth limit; the Rust side does the same.
const MAX_DEPTH = 64;

function encode(v, depth = 0) {
  if (v === undefined) return { $undefined: true };
  if (v === null) return null;
  if (typeof v === 'number') {
    if (Number.isFinite(v)) return v;
    return { $nonFinite: String(v) };
  }
  if (typeof v === 'string') return v.isWellFormed() ? v : { $illFormedString: v.toWellFormed() };
  if (typeof v === 'boolean') return v;
  if (typeof v === 'function') return { $function: v.name || '' };
  if (typeof v === 'bigint') return { $bigint: String(v) };
  if (typeof v === 'object' && depth >= MAX_DEPTH) return { $deep: JSON.stringify(v) };
  if (Array.isArray(v)) return v.map((x) => encode(x, depth + 1));
  if (typeof v === 'object') {
    const out = {};
    for (const [k, x] of Object.entries(v)) out[k] = encode(x, depth + 1);
    return out;
  }
  return { $other: String(v) };
}

function describeReader(r) {
  return { keys: r.keys(), value: encode(r.getOptional()) };
}

function runQuery(reader, q) {
  let r = reader;
  for (const step of q.path ?? []) {
    if (step.op === 'getConfig' || step.op === 'getOptionalConfig') {
      r = r[step.op](step.key);
    } else if (step.op === 'getConfigArray' || step.op === 'getOptionalConfigArray') {
      const list = r[step.op](step.key);
      if (list === undefined) return { absent: true };
      if (step.index >= list.length) {
        return { outOfRange: list.length };
      }
      r = list[step.index];
    } else {
      return { harnessError: `unknown path op ${step.op}` };
    }
    if (r === undefined) return { absent: true };
  }
  const args = q.key === undefined || q.key === null ? [] : [q.key];
  if (q.op === 'readDuration') {
    return { value: encode(readDurationFromConfig(r, args.length ? { key: q.key } : undefined)) };
  }
  if (typeof r[q.op] !== 'function') return { harnessError: `unknown op ${q.op}` };
  const result = r[q.op](...args);
  if (q.op === 'getConfig' || q.op === 'getOptionalConfig') {
    return result === undefined ? { absent: true } : { config: describeReader(result) };
  }
  if (q.op === 'getConfigArray' || q.op === 'getOptionalConfigArray') {
    return result === undefined ? { absent: true } : { configs: result.map(describeReader) };
  }
  return result === undefined ? { absent: true } : { value: encode(result) };
}

async function load(c) {
  if (c.allowMissingDefaultConfig) {
    const source = ConfigSources.default({
      rootDir: c.dir,
      allowMissingDefaultConfig: true,
      watch: false,
      argv: (c.targets ?? []).flatMap((t) => ['--config', t]),
    });
    const controller = new AbortController();
    for await (const { configs } of source.readConfigData({ signal: controller.signal })) {
      controller.abort();
      return configs;
    }
    throw new Error('harness: no config data');
  }
  const { appConfigs } = await loadConfig({
    configRoot: c.dir,
    configTargets: (c.targets ?? []).map((p) => ({ path: p })),
  });
  return appConfigs;
}

function replaceEnv(pairs) {
  for (const k of Object.keys(process.env)) delete process.env[k];
  for (const [k, v] of pairs) process.env[k] = v;
}

async function runCase(c) {
  const out = { id: c.id };
  replaceEnv(c.env ?? []);
  let configs;
  try {
    configs = await load(c);
  } catch (e) {
    out.error = e && e.message !== undefined ? String(e.message) : String(e);
    out.errorName = e && e.name;
    out.queries = [];
    return out;
  }
  out.layers = configs.map((l) => ({ context: l.context, data: encode(l.data) }));
  const reader = ConfigReader.fromConfigs(configs);
  out.queries = (c.queries ?? []).map((q) => {
    try {
      return runQuery(reader, q);
    } catch (e) {
      if (!(e instanceof Error)) return { harnessError: `non-error thrown: ${String(e)}` };
      return { error: e.message, errorName: e.name };
    }
  });
  return out;
}

async function main() {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node config-verdicts.cjs <corpus.json>');
    process.exit(2);
  }
  const cases = JSON.parse(fs.readFileSync(file, 'utf8'));
  const savedEnv = Object.entries(process.env);
  const results = [];
  try {
    for (const c of cases) {
      try {
        results.push(await runCase(c));
      } catch (e) {
        results.push({ id: c.id, harnessError: String(e && e.stack ? e.stack : e) });
      }
    }
  } finally {
    replaceEnv(savedEnv);
  }
  process.stdout.write(JSON.stringify(results));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
