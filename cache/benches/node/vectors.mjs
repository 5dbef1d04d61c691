// Prints what Backstage's own CacheManager stores, byte for byte: for each store, the
// physical key and the raw stored value of a few entries (read back with the servers' own
// clients). cache/tests/byte_compat.rs holds the output as test vectors.
//
//   node vectors.mjs redis://127.0.0.1:6379 127.0.0.1:51211,127.0.0.1:51212
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { CacheManager } = require('@backstage/backend-defaults/cache');
const { ConfigReader } = require('@backstage/config');
const { createClient } = require('@keyv/redis');
const memjs = require('memjs');

const [redisUrl, memcacheServers] = process.argv.slice(2);
const plugin = 'compat';
const entries = [
  ['hello', { x: 1, 10: 'ten', 2: [true, null], s: ':a', f: 1.5, big: 1e21, tiny: 1.5e-7 }],
  ['', null],
  ['k'.repeat(147), 'at the base64 limit'],
  ['k'.repeat(148), 'hashed'],
  ['ключ/日本/🎉', ['::', ':x', 'é\n"\\\u0001']],
  ['n', -0],
];

async function viaBackstage(cache, store, connection, extra = {}) {
  const manager = CacheManager.fromConfig(
    new ConfigReader({ backend: { cache: { store, connection, ...extra } } }),
  );
  const client = manager.forPlugin(plugin);
  for (const [key, value] of entries) await client.set(key, value);
  return client;
}

async function main() {
  const out = {};
  // redis, without and with a namespace.
  const redis = createClient({ url: redisUrl });
  await redis.connect();
  for (const [name, extra, prefix] of [
    ['redis', {}, `${plugin}:`],
    ['redis_namespaced', { redis: { client: { namespace: 'bs', keyPrefixSeparator: '|' } } }, `bs|${plugin}|`],
  ]) {
    await viaBackstage(null, 'redis', redisUrl, extra);
    const keys = (await redis.keys(`${prefix}*`)).sort();
    out[name] = [];
    for (const key of keys) out[name].push([key, await redis.get(key)]);
  }
  await redis.quit();
  // memcache over two servers: which server holds each key.
  await viaBackstage(null, 'memcache', memcacheServers);
  const servers = memcacheServers.split(',');
  const { normalize } = await import('./normalize.mjs');
  out.memcache = [];
  for (const [key] of entries) {
    const physical = `${plugin}:${plugin}:${normalize(key)}`;
    for (let i = 0; i < servers.length; i++) {
      const client = memjs.Client.create(servers[i]);
      const { value } = await client.get(physical);
      client.close();
      if (value) out.memcache.push([physical, i, value.toString()]);
    }
  }
  console.log(JSON.stringify(out, null, 1));
  process.exit(0);
}

main().catch(e => {
  console.error(e);
  process.exit(1);
});
