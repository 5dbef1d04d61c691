// Cross-check harness for cache/tests/infinispan.rs: drives the `infinispan` npm client (the
// Hot Rod client Backstage's Infinispan cache store uses) against our Hot Rod test server and
// prints one line `RESULT <json>` with what it observed.
//
//   node hotrod.cjs '<json spec>'
//
// spec: { port, phase, options?, keys? } where phase is
//   "ops"   – PING, GET of a key written by the Rust client, PUT without and with lifespan,
//             expiry of a short lifespan, REMOVE of a present and a missing key, UTF-8 values;
//   "clear" – CLEAR;
//   "hash"  – the client's MurmurHash3 of each of spec.keys (no server needed);
//   "auth"  – connect with spec.options (authentication/ssl), PUT then GET one key, or report
//             the error.
'use strict';

const infinispan = require('infinispan');

const spec = JSON.parse(process.argv[2] || '{}');

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function done(result) {
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
}

// What Backstage's Infinispan store passes to the client (backend-defaults 0.18.0 with the
// config defaults): cache `cache`, protocol 2.9, text/plain keys and values, topology updates.
function clientOptions() {
  return Object.assign(
    {
      cacheName: 'cache',
      version: '2.9',
      dataFormat: { keyType: 'text/plain', valueType: 'text/plain' },
      topologyUpdates: true,
    },
    spec.options || {},
  );
}

async function connect() {
  return infinispan.client({ host: '127.0.0.1', port: spec.port }, clientOptions());
}

async function ops() {
  const client = await connect();
  const result = {};
  try {
    result.ping = (await client.ping()) === undefined ? 'ok' : 'ok';
    result.fromRust = (await client.get(spec.keys.fromRust)) ?? null;
    // As Backstage's store: key `<plugin>:<normalised key>`, value the Keyv envelope.
    await client.put(spec.keys.plain, spec.values.plain);
    await client.put(spec.keys.withTtl, spec.values.withTtl, { lifespan: '60000ms' });
    result.plain = (await client.get(spec.keys.plain)) ?? null;
    await client.put(spec.keys.short, spec.values.plain, { lifespan: '300ms' });
    result.shortBefore = (await client.get(spec.keys.short)) ?? null;
    await sleep(700);
    result.shortAfter = (await client.get(spec.keys.short)) ?? null;
    await client.put(spec.keys.doomed, spec.values.plain);
    result.removePresent = await client.remove(spec.keys.doomed);
    result.removeMissing = await client.remove(spec.keys.doomed);
    result.getRemoved = (await client.get(spec.keys.doomed)) ?? null;
    await client.put(spec.keys.unicode, spec.values.unicode);
    result.unicode = (await client.get(spec.keys.unicode)) ?? null;
  } finally {
    await client.disconnect();
  }
  return result;
}

async function clear() {
  const client = await connect();
  try {
    await client.clear();
    return { cleared: true, afterClear: (await client.get(spec.keys.fromRust)) ?? null };
  } finally {
    await client.disconnect();
  }
}

function hash() {
  const utils = require('infinispan/lib/utils');
  const mh3 = utils.murmurHash3();
  return {
    hashes: spec.keys.map((hex) => mh3.hash(Buffer.from(hex, 'hex')) | 0),
  };
}

async function auth() {
  let client;
  try {
    client = await connect();
    await client.put(spec.keys.key, spec.values.value);
    return { value: (await client.get(spec.keys.key)) ?? null };
  } catch (e) {
    return { error: String(e && e.message ? e.message : e) };
  } finally {
    if (client) await client.disconnect();
  }
}

async function main() {
  const phases = { ops, clear, hash, auth };
  const phase = phases[spec.phase];
  if (!phase) throw new Error(`unknown phase ${spec.phase}`);
  done(await phase());
}

// The npm client can leave timers and sockets behind after an error: exit explicitly.
const watchdog = setTimeout(() => {
  done({ error: 'timed out' });
  process.exit(3);
}, 20000);

main()
  .then(() => {
    clearTimeout(watchdog);
    process.exit(0);
  })
  .catch((e) => {
    clearTimeout(watchdog);
    done({ error: String(e && e.stack ? e.stack : e) });
    process.exit(1);
  });
