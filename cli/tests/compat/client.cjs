#!/usr/bin/env node
// Drives Backstage's real npm client, @backstage/catalog-client (1.16.2), against a running
// `backstage serve` that has loaded the demo catalog (examples/catalog/all.yaml) from a static
// `file` config location. Run by cli/tests/catalog_client_compat.rs:
//
//   node cli/tests/compat/client.cjs <baseUrl> <fixturePort> <abs path of examples/catalog/all.yaml>
//
// <fixturePort> is a free loopback port the server config allows in backend.reading.allow; this
// script serves `url` location fixtures there. Every check prints `ok - <name>` or
// `not ok - <name>: <details>` (with the last HTTP exchanges of that check); the script exits 1
// when any check failed.
//
// What is checked comes from the spec (/work/shared/spec/catalog-backend.md §2, §3, §4.7 and §7,
// with the overrides of decisions.md) and from the client's own source
// (node_modules/@backstage/catalog-client/dist/CatalogClient.cjs.js). Expected entities are
// transcribed from examples/catalog/*.yaml into DEMO below; expectations are computed from DEMO.

'use strict';

const assert = require('node:assert');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const util = require('node:util');

const { CatalogClient, CATALOG_FILTER_EXISTS } = require('@backstage/catalog-client');

const [baseUrl, fixturePortText, demoLocationPath] = process.argv.slice(2);
if (!baseUrl || !fixturePortText || !demoLocationPath) {
  console.error('usage: node client.cjs <baseUrl> <fixturePort> <abs path of examples/catalog/all.yaml>');
  process.exit(2);
}
const fixturePort = Number(fixturePortText);
if (typeof fetch !== 'function') {
  console.error(`client.cjs needs Node.js 18 or newer (global fetch); this is ${process.version}`);
  process.exit(2);
}

// ---------------------------------------------------------------------------------------------
// The demo catalog, transcribed from examples/catalog/*.yaml (one line per document, same
// order as the files). Only the fields the checks below need.
// ---------------------------------------------------------------------------------------------

const g = (name, spec) => ({ kind: 'Group', name, spec });
const u = (name, memberOf) => ({ kind: 'User', name, spec: { memberOf } });

// examples/catalog/org.yaml
const ORG = [
  g('acme', { type: 'organization', children: ['commerce', 'infrastructure'] }),
  g('commerce', { type: 'business-unit', parent: 'acme', children: ['storefront-team', 'checkout-team'] }),
  g('infrastructure', { type: 'business-unit', parent: 'group:default/acme', children: ['platform-team', 'data-team'] }),
  g('storefront-team', { type: 'team', parent: 'commerce', children: [], members: ['carol', 'dave'] }),
  g('checkout-team', { type: 'team', parent: 'commerce', children: [], members: ['erin', 'user:default/frank'] }),
  g('platform-team', { type: 'team', parent: 'infrastructure', children: [], members: ['alice', 'bob'] }),
  g('data-team', { type: 'team', parent: 'infrastructure', children: [], members: ['grace', 'heidi'] }),
  u('alice', ['platform-team']),
  u('bob', ['platform-team']),
  u('carol', ['storefront-team']),
  u('dave', ['storefront-team']),
  u('erin', ['checkout-team', 'group:default/commerce']),
  u('frank', ['checkout-team']),
  u('grace', ['data-team']),
  u('heidi', ['data-team']),
];

// examples/catalog/domains.yaml
const DOMAINS = [
  { kind: 'Domain', name: 'retail', tags: ['customer-facing'], spec: { owner: 'commerce', type: 'product-area' } },
  { kind: 'Domain', name: 'payments', tags: ['customer-facing', 'pci'], spec: { owner: 'group:checkout-team', subdomainOf: 'retail' } },
];

// examples/catalog/systems.yaml
const SYSTEMS = [
  { kind: 'System', name: 'storefront', spec: { owner: 'storefront-team', domain: 'retail', type: 'product' } },
  { kind: 'System', name: 'orders', spec: { owner: 'platform-team', domain: 'domain:default/retail' } },
  { kind: 'System', name: 'checkout', spec: { owner: 'checkout-team', domain: 'payments', type: 'product' } },
  { kind: 'System', name: 'fraud-detection', spec: { owner: 'data-team', domain: 'payments' } },
];

// examples/catalog/components.yaml
const c = (name, title, tags, spec, labels) => ({ kind: 'Component', name, title, tags, labels, spec });
const COMPONENTS = [
  c('storefront-web', 'Storefront web app', ['typescript', 'react', 'website'],
    { type: 'website', lifecycle: 'production', owner: 'storefront-team', system: 'storefront', consumesApis: ['product-catalog-api', 'cart-api'] },
    { 'acme.example.com/tier': '1', 'acme.example.com/language': 'typescript' }),
  c('checkout-widget', 'Checkout widget', ['typescript', 'react'],
    { type: 'website', lifecycle: 'production', owner: 'checkout-team', system: 'checkout', subcomponentOf: 'storefront-web', consumesApis: ['api:default/cart-api'] }),
  c('product-catalog', 'Product catalog service', ['kotlin', 'spring'],
    { type: 'service', lifecycle: 'production', owner: 'storefront-team', system: 'storefront', providesApis: ['product-catalog-api'], dependsOn: ['resource:catalog-db', 'resource:product-images'] },
    { 'acme.example.com/tier': '1', 'acme.example.com/language': 'kotlin' }),
  c('cart-service', 'Cart service', ['typescript', 'graphql'],
    { type: 'service', lifecycle: 'production', owner: 'checkout-team', system: 'checkout', providesApis: ['cart-api'], dependsOn: ['resource:checkout-db'] }),
  c('checkout-service', 'Checkout service', ['go'],
    { type: 'service', lifecycle: 'production', owner: 'checkout-team', system: 'checkout', providesApis: ['order-events'], consumesApis: ['cart-api', 'payments-api'], dependsOn: ['component:cart-service', 'resource:checkout-db'] },
    { 'acme.example.com/tier': '1', 'acme.example.com/language': 'go' }),
  c('payments-service', 'Payments service', ['go', 'grpc', 'pci'],
    { type: 'service', lifecycle: 'production', owner: 'checkout-team', system: 'checkout', providesApis: ['payments-api'], dependsOn: ['resource:payments-db'] },
    { 'acme.example.com/tier': '1', 'acme.example.com/language': 'go' }),
  c('order-processor', 'Order processor', ['java'],
    { type: 'service', lifecycle: 'production', owner: 'platform-team', system: 'orders', consumesApis: ['order-events'], dependsOn: ['resource:orders-db', 'resource:order-events-queue'] }),
  c('fraud-scorer', 'Fraud scorer', ['python', 'machine-learning'],
    { type: 'service', lifecycle: 'experimental', owner: 'data-team', system: 'fraud-detection', consumesApis: ['order-events', 'payments-api'], dependsOn: ['resource:order-events-queue'] },
    { 'acme.example.com/language': 'python' }),
  c('design-system', 'ACME design system', ['typescript', 'react', 'library'],
    { type: 'library', lifecycle: 'production', owner: 'user:carol', system: 'storefront', dependencyOf: ['component:storefront-web', 'component:checkout-widget'] }),
  c('acme-logging', 'ACME logging', ['go', 'java', 'library'],
    { type: 'library', lifecycle: 'deprecated', owner: 'platform-team', dependencyOf: ['component:checkout-service', 'component:payments-service', 'component:order-processor'] }),
];

// examples/catalog/apis.yaml
const APIS = [
  { kind: 'API', name: 'product-catalog-api', tags: ['rest'], spec: { type: 'openapi', lifecycle: 'production', owner: 'storefront-team', system: 'storefront' } },
  { kind: 'API', name: 'cart-api', tags: ['graphql'], spec: { type: 'graphql', lifecycle: 'production', owner: 'checkout-team', system: 'checkout' } },
  { kind: 'API', name: 'payments-api', tags: ['grpc', 'pci'], spec: { type: 'grpc', lifecycle: 'production', owner: 'checkout-team', system: 'checkout' } },
  { kind: 'API', name: 'order-events', tags: ['kafka', 'events'], spec: { type: 'asyncapi', lifecycle: 'production', owner: 'checkout-team', system: 'orders' } },
];

// examples/catalog/resources.yaml
const r = (name, spec, tags) => ({ kind: 'Resource', name, tags, spec });
const RESOURCES = [
  r('catalog-db', { type: 'database', owner: 'storefront-team', system: 'storefront', dependsOn: ['resource:db-backups'] }),
  r('checkout-db', { type: 'database', owner: 'checkout-team', system: 'checkout', dependsOn: ['resource:db-backups'] }),
  r('payments-db', { type: 'database', owner: 'checkout-team', system: 'checkout', dependsOn: ['resource:db-backups'] }, ['pci']),
  r('orders-db', { type: 'database', owner: 'platform-team', system: 'orders', dependsOn: ['resource:db-backups'] }),
  r('product-images', { type: 's3-bucket', owner: 'storefront-team', system: 'storefront', dependencyOf: ['component:storefront-web'] }),
  r('db-backups', { type: 's3-bucket', owner: 'platform-team' }),
  r('order-events-queue', { type: 'queue', owner: 'platform-team', system: 'orders', dependencyOf: ['component:checkout-service'] }),
];

const sha1 = text => crypto.createHash('sha1').update(text).digest('hex');
// Spec §4.3: the Location entity of a location {type, target} is `generated-<sha1("type:target")>`.
const generatedLocationName = (type, target) => `generated-${sha1(`${type}:${target}`)}`;
const DEMO_LOCATION_REF = `file:${demoLocationPath}`;
const DEMO_DIR = path.dirname(demoLocationPath);

// examples/catalog/all.yaml is the Location `acme-demo`; the config location that points at
// it becomes the Location entity generated-<sha1("file:<path>")> (spec §4.3).
const LOCATIONS = [
  { kind: 'Location', name: generatedLocationName('file', demoLocationPath), spec: {} },
  { kind: 'Location', name: 'acme-demo', spec: {} },
];

const DEMO = [...ORG, ...DOMAINS, ...SYSTEMS, ...COMPONENTS, ...APIS, ...RESOURCES, ...LOCATIONS];
const DEMO_COUNT = DEMO.length; // 44
const namesOf = kind => DEMO.filter(e => e.kind === kind).map(e => e.name).sort();

// ---------------------------------------------------------------------------------------------
// Relations by the classic per-kind rules (spec §4.7), computed from DEMO.
// ---------------------------------------------------------------------------------------------

/** Canonical ref of a relation target (spec conventions: lower-cased, namespace filled in). */
function targetRef(text, defaultKind, defaultNamespace = 'default') {
  let kind = defaultKind;
  let rest = text;
  const colon = text.indexOf(':');
  if (colon >= 0) {
    kind = text.slice(0, colon);
    rest = text.slice(colon + 1);
  }
  let namespace = defaultNamespace;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    namespace = rest.slice(0, slash);
    rest = rest.slice(slash + 1);
  }
  if (!kind) throw new Error(`relation target ${text} needs a kind`);
  return `${kind}:${namespace}/${rest}`.toLowerCase();
}

const refOf = e => `${e.kind}:default/${e.name}`.toLowerCase();

// [kinds, spec field, default target kind, forward type, reverse type] — spec §4.7.
const RULES = [
  [['Component'], 'owner', 'Group', 'ownedBy', 'ownerOf'],
  [['Component'], 'subcomponentOf', 'Component', 'partOf', 'hasPart'],
  [['Component'], 'providesApis', 'API', 'providesApi', 'apiProvidedBy'],
  [['Component'], 'consumesApis', 'API', 'consumesApi', 'apiConsumedBy'],
  [['Component', 'Resource'], 'dependsOn', undefined, 'dependsOn', 'dependencyOf'],
  [['Component', 'Resource'], 'dependencyOf', undefined, 'dependencyOf', 'dependsOn'],
  [['Component', 'API', 'Resource'], 'system', 'System', 'partOf', 'hasPart'],
  [['API', 'Resource', 'System', 'Domain'], 'owner', 'Group', 'ownedBy', 'ownerOf'],
  [['User'], 'memberOf', 'Group', 'memberOf', 'hasMember'],
  [['Group'], 'parent', 'Group', 'childOf', 'parentOf'],
  [['Group'], 'children', 'Group', 'parentOf', 'childOf'],
  [['Group'], 'members', 'User', 'hasMember', 'memberOf'],
  [['System'], 'domain', 'Domain', 'partOf', 'hasPart'],
  [['Domain'], 'subdomainOf', 'Domain', 'partOf', 'hasPart'],
];

/** Map canonical ref → sorted list of "type targetRef" strings, for every entity in `entities`. */
function expectedRelations(entities) {
  const out = new Map(entities.map(e => [refOf(e), new Set()]));
  const add = (source, type, target) => {
    if (!out.has(source)) out.set(source, new Set());
    out.get(source).add(`${type} ${target}`);
  };
  for (const e of entities) {
    for (const [kinds, field, defaultKind, forward, reverse] of RULES) {
      if (!kinds.includes(e.kind) || e.spec[field] === undefined) continue;
      for (const value of [e.spec[field]].flat()) {
        const target = targetRef(value, defaultKind);
        add(refOf(e), forward, target);
        add(target, reverse, refOf(e));
      }
    }
  }
  return new Map([...out].map(([ref, set]) => [ref, [...set].sort()]));
}

const relationStrings = entity => [...new Set((entity.relations ?? []).map(r => `${r.type} ${r.targetRef}`))].sort();

// ---------------------------------------------------------------------------------------------
// HTTP tracing, checks and assertions.
// ---------------------------------------------------------------------------------------------

const trace = [];

/** The fetch given to the client: records every exchange so failures can show them. */
async function tracedFetch(input, init = {}) {
  const entry = { method: init.method ?? 'GET', url: String(input), body: init.body };
  trace.push(entry);
  let res;
  try {
    res = await fetch(input, { ...init, signal: init.signal ?? AbortSignal.timeout(30_000) });
  } catch (e) {
    entry.error = String(e?.cause ?? e);
    throw e;
  }
  entry.status = res.status;
  entry.headers = Object.fromEntries(res.headers.entries());
  try {
    entry.response = await res.clone().text();
  } catch (e) {
    entry.response = `<body unreadable: ${e}>`;
  }
  return res;
}

const client = new CatalogClient({
  discoveryApi: { getBaseUrl: async () => `${baseUrl}/api/catalog` },
  fetchApi: { fetch: tracedFetch },
});

const truncate = (s, n = 700) => (s === undefined ? '' : s.length > n ? `${s.slice(0, n)}… (${s.length} chars)` : s);
const j = v => (v === undefined ? 'undefined' : truncate(JSON.stringify(v), 1500));

function formatExchange(x) {
  const lines = [`> ${x.method} ${decodeURIComponent(x.url.replace(baseUrl, ''))}`];
  if (x.body !== undefined) lines.push(`> body: ${truncate(String(x.body))}`);
  if (x.error) {
    lines.push(`< network error: ${x.error}`);
  } else {
    const h = x.headers ?? {};
    const extra = ['content-type', 'link'].filter(k => h[k]).map(k => `${k}: ${h[k]}`).join('; ');
    lines.push(`< ${x.status}${extra ? ` (${extra})` : ''} ${truncate(x.response)}`);
  }
  return lines.join('\n');
}

const results = [];

async function check(name, fn) {
  const start = trace.length;
  try {
    await fn();
    results.push({ name, ok: true });
    console.log(`ok - ${name}`);
  } catch (e) {
    results.push({ name, ok: false });
    const exchanges = trace.slice(start).slice(-3).map(formatExchange).join('\n');
    console.log(`not ok - ${name}: ${describeError(e)}`);
    if (exchanges) console.log(exchanges.replace(/^/gm, '    '));
  }
}

function describeError(e) {
  if (e?.name === 'ResponseError') {
    return `unexpected ${e.message}: ${e.cause?.name}: ${e.cause?.message}`;
  }
  return e instanceof Error ? e.message : String(e);
}

function eq(actual, expected, what) {
  if (!util.isDeepStrictEqual(actual, expected)) {
    throw new Error(`${what}: expected ${j(expected)}, got ${j(actual)}`);
  }
}

function ok(condition, what) {
  if (!condition) throw new Error(what);
}

/** Awaits a call that must fail with a ResponseError of this status and error name. */
async function rejects(promise, status, errorName, what) {
  let value;
  try {
    value = await promise;
  } catch (e) {
    if (e?.name !== 'ResponseError') throw new Error(`${what}: expected a ResponseError, got ${describeError(e)}`);
    eq(e.statusCode, status, `${what}: status`);
    if (errorName) eq(e.cause?.name, errorName, `${what}: error name in the JSON error body`);
    return e;
  }
  throw new Error(`${what}: expected an HTTP ${status} error, got success ${j(value)}`);
}

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

/** Runs `fn` until it stops throwing (processing and stitching are asynchronous). */
async function eventually(fn, timeoutMs = 30_000, intervalMs = 250) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() >= deadline) {
        throw new Error(`still failing after ${timeoutMs / 1000} s: ${describeError(e)}`);
      }
    }
    await sleep(intervalMs);
  }
}

const sortedNames = items => items.map(e => e.metadata.name).sort();
const names = items => items.map(e => e.metadata.name);
// Spec decisions.md: sort and facet order is the byte order of the lower-cased UTF-8 value.
const byLower = (a, b) => Buffer.compare(Buffer.from(a.toLowerCase()), Buffer.from(b.toLowerCase()));
const ascending = list => [...list].sort(byLower);

/** Expected facet list: `value` → count, sorted ascending (decisions.md). */
function facetOf(values) {
  const counts = new Map();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return ascending([...counts.keys()]).map(value => ({ value, count: counts.get(value) }));
}

// ---------------------------------------------------------------------------------------------
// The `url` location fixtures, served here on the port the server may read from.
// ---------------------------------------------------------------------------------------------

const fixtureBase = `http://127.0.0.1:${fixturePort}`;
const URL_TARGET = `${fixtureBase}/compat/catalog-info.yaml`;
const URL_TARGET_V2 = `${fixtureBase}/compat/v2.yaml`;
let urlServiceDescription = 'First version.';
const fixtureHits = [];

const fixtureFiles = {
  '/compat/catalog-info.yaml': () => `apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: compat-url-service
  description: ${JSON.stringify(urlServiceDescription)}
spec:
  type: service
  lifecycle: experimental
  owner: group:default/platform-team
  system: orders
  providesApis: [compat-url-api]
---
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: compat-url-api
spec:
  type: openapi
  lifecycle: experimental
  owner: platform-team
  definition: "openapi: 3.0.3"
`,
  '/compat/v2.yaml': () => `apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: compat-url-service-v2
spec:
  type: service
  lifecycle: experimental
  owner: platform-team
`,
};

function startFixtureServer() {
  const server = http.createServer((req, res) => {
    const pathname = new URL(req.url, fixtureBase).pathname;
    fixtureHits.push(`${req.method} ${pathname}`);
    const file = fixtureFiles[pathname];
    if (!file) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/yaml' });
    res.end(req.method === 'HEAD' ? undefined : file());
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(fixturePort, '127.0.0.1', () => resolve(server));
  });
}

const FILE_TARGET = fs.realpathSync(path.join(__dirname, 'fixtures', 'file-location.yaml'));

// ---------------------------------------------------------------------------------------------
// The checks.
// ---------------------------------------------------------------------------------------------

async function main() {
  const fixtureServer = await startFixtureServer();
  const expectedRels = expectedRelations(DEMO);

  // ---- the demo catalog is loaded (the Rust test only waited for the 10 components) ----

  await check('getEntities: the whole demo catalog (44 entities) is loaded', () =>
    eventually(async () => {
      const { items } = await client.getEntities();
      eq(items.map(e => `${e.kind}:${e.metadata.name}`).sort(), DEMO.map(e => `${e.kind}:${e.name}`).sort(), 'kind:name of every entity');
    }, 60_000));

  await check('relations of every demo entity follow the classic rules (spec §4.7), both ways', () =>
    eventually(async () => {
      const { items } = await client.getEntities({ fields: ['kind', 'metadata.name', 'metadata.namespace', 'relations'] });
      const wrong = [];
      for (const e of items) {
        const ref = `${e.kind}:${e.metadata.namespace}/${e.metadata.name}`.toLowerCase();
        const expected = expectedRels.get(ref) ?? [];
        if (!util.isDeepStrictEqual(relationStrings(e), expected)) {
          wrong.push(`${ref}: expected ${j(expected)}, got ${j(relationStrings(e))}`);
        }
      }
      ok(items.length === DEMO_COUNT && wrong.length === 0, `${items.length} entities; wrong relations:\n      ${wrong.slice(0, 6).join('\n      ')}`);
    }, 60_000));

  await check('no demo entity carries processing errors in status.items', async () => {
    const { items } = await client.getEntities({ fields: ['kind', 'metadata.name', 'status'] });
    const withErrors = items.filter(e => (e.status?.items ?? []).length > 0);
    eq(withErrors.map(e => ({ ref: `${e.kind}:${e.metadata.name}`, status: e.status })), [], 'entities with status items');
  });

  // ---- getEntityByRef ----

  await check('getEntityByRef: short ref, full entity shape', async () => {
    const e = await client.getEntityByRef('component:storefront-web');
    ok(e, 'entity missing');
    const model = COMPONENTS[0];
    eq(e.apiVersion, 'backstage.io/v1alpha1', 'apiVersion');
    eq(e.kind, 'Component', 'kind');
    eq(e.metadata.name, 'storefront-web', 'metadata.name');
    eq(e.metadata.namespace, 'default', 'metadata.namespace (defaulted by policy)');
    ok(typeof e.metadata.uid === 'string' && e.metadata.uid.length > 0, `metadata.uid: ${j(e.metadata.uid)}`);
    ok(typeof e.metadata.etag === 'string' && e.metadata.etag.length > 0, `metadata.etag: ${j(e.metadata.etag)}`);
    eq(e.metadata.title, model.title, 'metadata.title');
    eq(e.metadata.description, 'The customer-facing web shop.', 'metadata.description');
    eq(e.metadata.tags, model.tags, 'metadata.tags');
    eq(e.metadata.labels, model.labels, 'metadata.labels');
    eq(e.metadata.links, [
      { url: 'https://shop.acme.example.com', title: 'Production', icon: 'web' },
      { url: 'https://grafana.acme.example.com/d/storefront-web', title: 'Dashboard', icon: 'dashboard', type: 'dashboard' },
    ], 'metadata.links');
    const a = e.metadata.annotations ?? {};
    eq(a['github.com/project-slug'], 'acme/storefront-web', 'annotation github.com/project-slug');
    eq(a['backstage.io/techdocs-ref'], 'dir:.', 'annotation backstage.io/techdocs-ref');
    // Spec §4.4 (emit) and §4.5: the file the entity came from, and the registered location.
    eq(a['backstage.io/managed-by-location'], `file:${path.join(DEMO_DIR, 'components.yaml')}`, 'annotation backstage.io/managed-by-location');
    eq(a['backstage.io/managed-by-origin-location'], DEMO_LOCATION_REF, 'annotation backstage.io/managed-by-origin-location');
    const sortArrays = o => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Array.isArray(v) ? [...v].sort() : v]));
    eq(sortArrays(e.spec), sortArrays(model.spec), 'spec');
    ok(Array.isArray(e.relations), 'relations is an array');
  });

  await check('getEntityByRef: full ref, and kind/namespace/name matched case-insensitively', async () => {
    const group = await client.getEntityByRef('group:default/acme');
    eq(group?.kind, 'Group', 'group:default/acme kind');
    eq(group?.spec?.profile?.displayName, 'ACME Corp', 'spec.profile.displayName');
    const mixed = await client.getEntityByRef('Component:Default/Storefront-Web');
    eq(mixed?.metadata?.name, 'storefront-web', 'Component:Default/Storefront-Web');
    const compound = await client.getEntityByRef({ kind: 'api', namespace: 'default', name: 'cart-api' });
    eq(compound?.spec?.type, 'graphql', 'compound ref {kind: api, name: cart-api} spec.type');
  });

  await check('getEntityByRef: a missing entity is undefined (404)', async () => {
    eq(await client.getEntityByRef('component:default/does-not-exist'), undefined, 'missing component');
    eq(await client.getEntityByRef('user:other-namespace/alice'), undefined, 'alice in another namespace');
  });

  await check('a 404 carries the standard JSON error envelope (spec §1.3)', async () => {
    const e = await rejects(client.getEntityAncestors({ entityRef: 'component:default/does-not-exist' }), 404, 'NotFoundError', 'ancestry of a missing entity');
    eq(e.body?.response?.statusCode, 404, 'response.statusCode');
    eq(e.body?.request?.method, 'GET', 'request.method');
    ok(typeof e.body?.request?.url === 'string' && e.body.request.url.includes('/entities/by-name/component/default/does-not-exist/ancestry'), `request.url: ${j(e.body?.request?.url)}`);
    ok(typeof e.body?.error?.message === 'string' && e.body.error.message.length > 0, 'error.message');
  });

  // ---- relations, spot checks written out by hand (spec §4.7 applied to the YAML) ----

  await check('relations: storefront-web has its own relations and those others emitted about it', async () => {
    const e = await client.getEntityByRef('component:default/storefront-web');
    eq(relationStrings(e), [
      'consumesApi api:default/cart-api', // spec.consumesApis
      'consumesApi api:default/product-catalog-api',
      'dependsOn component:default/design-system', // design-system spec.dependencyOf
      'dependsOn resource:default/product-images', // product-images spec.dependencyOf
      'hasPart component:default/checkout-widget', // checkout-widget spec.subcomponentOf
      'ownedBy group:default/storefront-team', // spec.owner
      'partOf system:default/storefront', // spec.system
    ], 'relations');
  });

  await check('relations: the owner group has ownerOf back to what it owns', async () => {
    const e = await client.getEntityByRef('group:default/storefront-team');
    eq(relationStrings(e), [
      'childOf group:default/commerce',
      'hasMember user:default/carol',
      'hasMember user:default/dave',
      'ownerOf api:default/product-catalog-api',
      'ownerOf component:default/product-catalog',
      'ownerOf component:default/storefront-web',
      'ownerOf resource:default/catalog-db',
      'ownerOf resource:default/product-images',
      'ownerOf system:default/storefront',
    ], 'relations');
    ok(e.relations.every(r => typeof r.type === 'string' && typeof r.targetRef === 'string'), 'each relation is {type, targetRef}');
  });

  // ---- getEntities ----

  await check('getEntities: filter object', async () => {
    const { items } = await client.getEntities({ filter: { kind: 'Component' } });
    eq(sortedNames(items), namesOf('Component'), 'components');
    ok(items.every(e => e.kind === 'Component'), 'every item is a Component');
  });

  await check('getEntities: filter array (sets OR-ed)', async () => {
    const { items } = await client.getEntities({ filter: [{ kind: 'API' }, { kind: 'Resource' }] });
    eq(sortedNames(items), [...namesOf('API'), ...namesOf('Resource')].sort(), 'APIs and resources');
  });

  await check('getEntities: filter value list (any of) AND-ed with kind', async () => {
    const { items } = await client.getEntities({ filter: { kind: 'Component', 'spec.type': ['website', 'library'] } });
    eq(sortedNames(items), COMPONENTS.filter(e => ['website', 'library'].includes(e.spec.type)).map(e => e.name).sort(), 'websites and libraries');
  });

  await check('getEntities: CATALOG_FILTER_EXISTS on a label key with dots', async () => {
    const { items } = await client.getEntities({ filter: { kind: 'Component', 'metadata.labels.acme.example.com/tier': CATALOG_FILTER_EXISTS } });
    eq(sortedNames(items), COMPONENTS.filter(e => e.labels?.['acme.example.com/tier']).map(e => e.name).sort(), 'tier-labelled components');
  });

  await check('getEntities: CATALOG_FILTER_EXISTS on a synthetic array key (metadata.tags.go)', async () => {
    const { items } = await client.getEntities({ filter: { 'metadata.tags.go': CATALOG_FILTER_EXISTS } });
    eq(sortedNames(items), DEMO.filter(e => e.tags?.includes('go')).map(e => e.name).sort(), 'entities tagged go');
  });

  await check('getEntities: array membership (metadata.tags=pci) across kinds', async () => {
    const { items } = await client.getEntities({ filter: { 'metadata.tags': 'pci' } });
    eq(items.map(e => `${e.kind}:${e.metadata.name}`).sort(), DEMO.filter(e => e.tags?.includes('pci')).map(e => `${e.kind}:${e.name}`).sort(), 'pci entities');
  });

  await check('getEntities: keys and values match case-insensitively', async () => {
    const { items } = await client.getEntities({ filter: { KIND: 'component', 'Spec.Lifecycle': 'EXPERIMENTAL' } });
    eq(sortedNames(items), ['fraud-scorer'], 'experimental components');
  });

  await check('getEntities: relations.<type> filters', async () => {
    const owned = await client.getEntities({ filter: { kind: 'Component', 'relations.ownedBy': 'group:default/checkout-team' } });
    eq(sortedNames(owned.items), COMPONENTS.filter(e => e.spec.owner === 'checkout-team').map(e => e.name).sort(), 'components owned by checkout-team');
    const members = await client.getEntities({ filter: { kind: 'User', 'relations.memberOf': 'group:default/commerce' } });
    eq(sortedNames(members.items), ['erin'], 'users that are members of commerce');
    const owners = await client.getEntities({ filter: { 'relations.ownerOf': 'component:default/design-system' } });
    eq(owners.items.map(e => `${e.kind}:${e.metadata.name}`), ['User:carol'], 'owner of design-system');
  });

  await check('getEntities: a filter that matches nothing gives []', async () => {
    eq((await client.getEntities({ filter: { kind: 'Template' } })).items, [], 'templates');
  });

  await check('getEntities: fields projection', async () => {
    const { items } = await client.getEntities({ filter: { kind: 'Domain' }, fields: ['kind', 'metadata.name'] });
    eq(items.map(e => e).sort((a, b) => a.metadata.name.localeCompare(b.metadata.name)),
      [{ kind: 'Domain', metadata: { name: 'payments' } }, { kind: 'Domain', metadata: { name: 'retail' } }], 'projected domains');
    const slug = await client.getEntities({ filter: { kind: 'Component', 'metadata.name': 'storefront-web' }, fields: ['metadata.annotations.github.com/project-slug', 'spec.owner'] });
    eq(slug.items, [{ metadata: { annotations: { 'github.com/project-slug': 'acme/storefront-web' } }, spec: { owner: 'storefront-team' } }], 'annotation key with dots, and a spec leaf');
  });

  await check('getEntities: order asc and desc', async () => {
    const systems = namesOf('System');
    const asc = await client.getEntities({ filter: { kind: 'System' }, order: { field: 'metadata.name', order: 'asc' } });
    eq(names(asc.items), ascending(systems), 'asc');
    const desc = await client.getEntities({ filter: { kind: 'System' }, order: [{ field: 'metadata.name', order: 'desc' }] });
    eq(names(desc.items), ascending(systems).reverse(), 'desc');
  });

  await check('getEntities: unpaginated order excludes entities lacking the sort key (spec §2.5)', async () => {
    const { items } = await client.getEntities({ filter: { kind: 'System' }, order: { field: 'spec.type', order: 'asc' } });
    eq(sortedNames(items), SYSTEMS.filter(e => e.spec.type).map(e => e.name).sort(), 'systems with a spec.type');
  });

  await check('getEntities: paginated, several order fields, nulls last (spec §2.5)', async () => {
    const { items } = await client.getEntities({
      filter: { kind: 'System' },
      order: [{ field: 'spec.type', order: 'asc' }, { field: 'metadata.name', order: 'desc' }],
      limit: 10,
    });
    // product: storefront, checkout (name desc); then the two without spec.type, name desc.
    eq(names(items), ['storefront', 'checkout', 'orders', 'fraud-detection'], 'order');
  });

  await check('getEntities: paginated default order is by entity ref', async () => {
    const { items } = await client.getEntities({ filter: { kind: 'Domain' }, limit: 5 });
    eq(names(items), ['payments', 'retail'], 'domains');
  });

  await check('getEntities: offset/limit pages, and the Link header cursor for `after`', async () => {
    const all = ascending(namesOf('Component'));
    const order = { field: 'metadata.name', order: 'asc' };
    const filter = { kind: 'Component' };
    const p1 = await client.getEntities({ filter, order, limit: 4 });
    eq(names(p1.items), all.slice(0, 4), 'page 1 (limit 4)');
    const link = trace[trace.length - 1].headers?.link;
    ok(link && /rel="next"/.test(link), `page 1 must carry a Link rel="next" header (spec §3.1), got ${j(link)}`);
    const p2 = await client.getEntities({ filter, order, limit: 4, offset: 4 });
    eq(names(p2.items), all.slice(4, 8), 'page 2 (offset 4)');
    const p3 = await client.getEntities({ filter, order, offset: 8 });
    eq(names(p3.items), all.slice(8), 'offset 8, no limit');
    const lastLink = trace[trace.length - 1].headers?.link;
    ok(!lastLink, `the last page has no Link header, got ${j(lastLink)}`);
    const after = new URL(link.match(/<([^>]*)>/)[1], 'http://x').searchParams.get('after');
    ok(after, `Link header without after=: ${link}`);
    const viaAfter = await client.getEntities({ filter, order, after });
    eq(names(viaAfter.items), all.slice(4, 8), 'page from the Link header cursor');
  });

  // ---- getEntitiesByRefs ----

  const refs = ['component:default/storefront-web', 'api:default/cart-api', 'component:default/nope', 'group:default/acme', 'api:default/cart-api'];

  await check('getEntitiesByRefs: order kept, missing refs undefined, duplicates kept', async () => {
    const { items } = await client.getEntitiesByRefs({ entityRefs: refs });
    eq(items.map(e => (e ? `${e.kind}:${e.metadata.name}` : e)), ['Component:storefront-web', 'API:cart-api', undefined, 'Group:acme', 'API:cart-api'], 'items');
  });

  await check('getEntitiesByRefs: fields', async () => {
    const { items } = await client.getEntitiesByRefs({ entityRefs: refs.slice(0, 3), fields: ['metadata.name', 'spec.type'] });
    eq(items, [{ metadata: { name: 'storefront-web' }, spec: { type: 'website' } }, { metadata: { name: 'cart-api' }, spec: { type: 'graphql' } }, undefined], 'items');
  });

  await check('getEntitiesByRefs: filter (query string) drops non-matching entities', async () => {
    const { items } = await client.getEntitiesByRefs({ entityRefs: refs, filter: { kind: 'API' } });
    eq(items.map(e => e?.metadata.name), [undefined, 'cart-api', undefined, undefined, 'cart-api'], 'items');
  });

  await check('getEntitiesByRefs: query predicate (body), AND-ed with filter', async () => {
    const q = await client.getEntitiesByRefs({ entityRefs: refs, query: { kind: { $in: ['component', 'group'] } } });
    eq(q.items.map(e => e?.metadata.name), ['storefront-web', undefined, undefined, 'acme', undefined], 'query only');
    const both = await client.getEntitiesByRefs({ entityRefs: refs, query: { kind: { $in: ['component', 'group'] } }, filter: { 'spec.type': 'organization' } });
    eq(both.items.map(e => e?.metadata.name), [undefined, undefined, undefined, 'acme', undefined], 'query AND filter');
  });

  await check('getEntitiesByRefs: refs are matched exactly as canonical refs (spec §3.4)', async () => {
    const { items } = await client.getEntitiesByRefs({ entityRefs: ['Component:default/storefront-web', 'component:storefront-web'] });
    eq(items, [undefined, undefined], 'non-canonical refs');
  });

  // ---- queryEntities ----

  await check('queryEntities: cursor paging forward through every page, then back with prevCursor', async () => {
    const all = ascending(namesOf('Component'));
    const request = { filter: { kind: 'Component' }, orderFields: { field: 'metadata.name', order: 'asc' }, limit: 3 };
    const pages = [];
    let page = await client.queryEntities(request);
    eq(page.totalItems, all.length, 'totalItems of page 1');
    eq(page.pageInfo.prevCursor, undefined, 'no prevCursor on page 1');
    pages.push(page);
    while (page.pageInfo.nextCursor) {
      ok(pages.length < 10, 'too many pages');
      const before = trace.length;
      page = await client.queryEntities({ cursor: page.pageInfo.nextCursor, limit: 3 });
      // Spec §3.3 and §8.3: a filtered query's cursor carries the predicate under `query`,
      // so the client sends continuation pages to POST /entities/by-query.
      eq(trace.slice(before).map(x => x.method), ['POST'], 'method of the continuation request');
      eq(page.totalItems, all.length, `totalItems of page ${pages.length + 1}`);
      ok(page.pageInfo.prevCursor, `page ${pages.length + 1} has a prevCursor`);
      pages.push(page);
    }
    eq(pages.map(p => names(p.items)), [all.slice(0, 3), all.slice(3, 6), all.slice(6, 9), all.slice(9)], 'pages');
    // Backwards from the last page.
    let back = pages[pages.length - 1];
    for (let i = pages.length - 2; i >= 0; i--) {
      back = await client.queryEntities({ cursor: back.pageInfo.prevCursor, limit: 3 });
      eq(names(back.items), names(pages[i].items), `page ${i + 1} reached backwards`);
      ok(back.pageInfo.nextCursor, `page ${i + 1} reached backwards has a nextCursor`);
      if (i > 0) ok(back.pageInfo.prevCursor, `page ${i + 1} reached backwards has a prevCursor`);
    }
    eq(back.pageInfo.prevCursor, undefined, 'page 1 reached backwards has no prevCursor');
    const again = await client.queryEntities({ cursor: back.pageInfo.nextCursor, limit: 3 });
    eq(names(again.items), names(pages[1].items), 'page 2 from the nextCursor of page 1 reached backwards');
  });

  await check('queryEntities: order desc', async () => {
    const page = await client.queryEntities({ filter: { kind: 'Resource' }, orderFields: [{ field: 'metadata.name', order: 'desc' }] });
    eq(names(page.items), ascending(namesOf('Resource')).reverse(), 'resources desc');
    eq(page.totalItems, namesOf('Resource').length, 'totalItems');
    eq(page.pageInfo, {}, 'pageInfo (single page)');
  });

  await check('queryEntities: offset on the initial request', async () => {
    const page = await client.queryEntities({ filter: { kind: 'Component' }, orderFields: { field: 'metadata.name', order: 'asc' }, offset: 8 });
    eq(names(page.items), ascending(namesOf('Component')).slice(8), 'items');
    eq(page.totalItems, 10, 'totalItems ignores offset');
  });

  await check('queryEntities: fields projection', async () => {
    const page = await client.queryEntities({ filter: { kind: 'Domain' }, orderFields: { field: 'metadata.name', order: 'asc' }, fields: ['metadata.name', 'spec.owner'] });
    eq(page.items, [{ metadata: { name: 'payments' }, spec: { owner: 'group:checkout-team' } }, { metadata: { name: 'retail' }, spec: { owner: 'commerce' } }], 'items');
  });

  await check('queryEntities: fullTextFilter on given fields (case-insensitive substring)', async () => {
    const page = await client.queryEntities({ filter: { kind: 'Component' }, fullTextFilter: { term: ' SERVICE ', fields: ['metadata.name'] }, orderFields: { field: 'metadata.name', order: 'asc' } });
    eq(names(page.items), ascending(COMPONENTS.filter(e => e.name.includes('service')).map(e => e.name)), 'names containing "service"');
    eq(page.totalItems, page.items.length, 'totalItems counts only matches');
    const titles = await client.queryEntities({ filter: { kind: 'Component' }, fullTextFilter: { term: 'checkout', fields: ['metadata.title'] }, orderFields: { field: 'metadata.name', order: 'asc' } });
    eq(names(titles.items), ascending(COMPONENTS.filter(e => e.title.toLowerCase().includes('checkout')).map(e => e.name)), 'titles containing "checkout"');
  });

  await check('queryEntities: fullTextFilter without fields searches the sort field', async () => {
    const page = await client.queryEntities({ filter: { kind: 'User' }, fullTextFilter: { term: 'a' }, orderFields: { field: 'metadata.name', order: 'asc' } });
    eq(names(page.items), ascending(namesOf('User').filter(n => n.includes('a'))), 'users whose name contains "a"');
  });

  await check('queryEntities: the owner-picker search of catalog-react (spec §7)', async () => {
    const page = await client.queryEntities({
      filter: { kind: ['User', 'Group'] },
      fullTextFilter: { term: 'Chec', fields: ['metadata.name', 'kind', 'spec.profile.displayname', 'metadata.title'] },
      orderFields: [{ field: 'metadata.name', order: 'asc' }],
      limit: 20,
    });
    eq(page.items.map(e => `${e.kind}:${e.metadata.name}`), ['Group:checkout-team'], 'items');
  });

  await check('queryEntities: limit 0 returns only the count', async () => {
    const page = await client.queryEntities({ filter: { kind: 'User' }, limit: 0 });
    eq(page.items, [], 'items');
    eq(page.totalItems, namesOf('User').length, 'totalItems');
    eq(page.pageInfo, {}, 'pageInfo');
    const owned = await client.queryEntities({ filter: { 'relations.ownedBy': 'group:default/platform-team' }, limit: 0 });
    eq(owned.totalItems, DEMO.filter(e => e.spec.owner && targetRef(e.spec.owner, 'Group') === 'group:default/platform-team').length, 'count of entities owned by platform-team');
  });

  await check("queryEntities: totalItems 'exclude' gives 0 (spec §9 #18)", async () => {
    const page = await client.queryEntities({ filter: { kind: 'User' }, totalItems: 'exclude', orderFields: { field: 'metadata.name', order: 'asc' } });
    eq(page.totalItems, 0, 'totalItems');
    eq(names(page.items), ascending(namesOf('User')), 'items (default limit 200)');
  });

  await check('queryEntities: unfiltered paging over the whole catalog', async () => {
    const seen = [];
    let page = await client.queryEntities({ limit: 20 });
    eq(page.totalItems, DEMO_COUNT, 'totalItems');
    seen.push(...page.items);
    while (page.pageInfo.nextCursor) {
      ok(seen.length <= DEMO_COUNT, 'more items than entities');
      page = await client.queryEntities({ cursor: page.pageInfo.nextCursor });
      seen.push(...page.items);
    }
    eq(seen.map(e => e.metadata.uid).length, new Set(seen.map(e => e.metadata.uid)).size, 'no entity twice');
    eq(seen.map(e => `${e.kind}:${e.metadata.name}`).sort(), DEMO.map(e => `${e.kind}:${e.name}`).sort(), 'every entity once');
  });

  await check('queryEntities: predicate `query` is POSTed ($all, $not, kind/type)', async () => {
    const before = trace.length;
    const page = await client.queryEntities({
      query: { $all: [{ kind: 'component' }, { 'spec.type': 'service' }, { $not: { 'spec.lifecycle': 'experimental' } }] },
      orderFields: { field: 'metadata.name', order: 'asc' },
    });
    eq(trace.slice(before).map(x => `${x.method} ${new URL(x.url).pathname}`), ['POST /api/catalog/entities/by-query'], 'requests');
    eq(names(page.items), ascending(COMPONENTS.filter(e => e.spec.type === 'service' && e.spec.lifecycle !== 'experimental').map(e => e.name)), 'items');
    eq(page.totalItems, page.items.length, 'totalItems');
  });

  await check('queryEntities: predicate operators $in, $exists, $hasPrefix, $any, relations $contains', async () => {
    const run = async query => names((await client.queryEntities({ query, orderFields: { field: 'metadata.name', order: 'asc' } })).items);
    eq(await run({ kind: { $in: ['Domain', 'system'] } }), ascending([...namesOf('Domain'), ...namesOf('System')]), '$in');
    eq(await run({ kind: 'system', 'spec.type': { $exists: false } }), ascending(SYSTEMS.filter(e => !e.spec.type).map(e => e.name)), '$exists false');
    eq(await run({ 'metadata.name': { $hasPrefix: 'CHECK' } }), ascending(DEMO.filter(e => e.name.startsWith('check')).map(e => e.name)), '$hasPrefix');
    eq(await run({ $any: [{ kind: 'domain' }, { 'metadata.tags': { $contains: 'kafka' } }] }), ascending(['retail', 'payments', 'order-events']), '$any with $contains');
    eq(await run({ kind: 'component', relations: { $contains: { type: 'ownedBy', targetRef: 'group:default/platform-team' } } }),
      ascending(COMPONENTS.filter(e => e.spec.owner === 'platform-team').map(e => e.name)), 'relations $contains');
  });

  await check('queryEntities: predicate AND-ed with filter, fields, and cursor paging over POST', async () => {
    const first = await client.queryEntities({ query: { kind: 'api' }, filter: { 'spec.lifecycle': 'production' }, orderFields: { field: 'metadata.name', order: 'asc' }, limit: 3, fields: ['metadata.name'] });
    eq(first.totalItems, 4, 'totalItems');
    ok(first.pageInfo.nextCursor, 'nextCursor');
    const before = trace.length;
    const second = await client.queryEntities({ cursor: first.pageInfo.nextCursor, fields: ['metadata.name'] });
    eq(trace.slice(before).map(x => x.method), ['POST'], 'method of the continuation request');
    eq([...first.items, ...second.items], ascending(namesOf('API')).map(name => ({ metadata: { name } })), 'items over both pages');
    eq(second.pageInfo.nextCursor, undefined, 'no nextCursor on the last page');
  });

  await check('queryEntities: a malformed cursor is a 400 InputError', async () => {
    await rejects(client.queryEntities({ cursor: 'not-a-cursor' }), 400, 'InputError', 'bad cursor');
  });

  // ---- streamEntities ----

  await check('streamEntities: pages of pageSize, every matching entity once', async () => {
    const pages = [];
    for await (const page of client.streamEntities({ filter: { kind: 'Resource' }, orderFields: { field: 'metadata.name', order: 'asc' }, pageSize: 2 })) {
      pages.push(names(page));
      ok(pages.length < 10, 'too many pages');
    }
    const all = ascending(namesOf('Resource'));
    eq(pages, [all.slice(0, 2), all.slice(2, 4), all.slice(4, 6), all.slice(6)], 'pages');
  });

  await check('streamEntities: default page size streams the whole catalog', async () => {
    const items = [];
    for await (const page of client.streamEntities()) items.push(...page);
    eq(items.map(e => `${e.kind}:${e.metadata.name}`).sort(), DEMO.map(e => `${e.kind}:${e.name}`).sort(), 'entities');
  });

  // ---- getEntityAncestors ----

  await check('getEntityAncestors: entity → acme-demo Location → the config location', async () => {
    const res = await client.getEntityAncestors({ entityRef: 'component:storefront-web' });
    eq(res.rootEntityRef, 'component:default/storefront-web', 'rootEntityRef');
    const generated = `location:default/${generatedLocationName('file', demoLocationPath)}`;
    eq(res.items.map(i => [`${i.entity.kind}:${i.entity.metadata.namespace}/${i.entity.metadata.name}`.toLowerCase(), i.parentEntityRefs]), [
      ['component:default/storefront-web', ['location:default/acme-demo']],
      ['location:default/acme-demo', [generated]],
      [generated, []],
    ], 'items');
    const spec = res.items[2].entity.spec ?? {};
    eq([spec.type, spec.target], ['file', demoLocationPath], 'config Location entity spec.type and spec.target');
  });

  // ---- getEntityFacets ----

  await check('getEntityFacets: kind', async () => {
    const res = await client.getEntityFacets({ facets: ['kind'] });
    eq(res, { facets: { kind: facetOf(DEMO.map(e => e.kind)) } }, 'facets');
  });

  await check('getEntityFacets: spec.type and spec.lifecycle with a filter', async () => {
    const res = await client.getEntityFacets({ facets: ['spec.type', 'spec.lifecycle'], filter: { kind: 'Component' } });
    eq(res.facets, {
      'spec.type': facetOf(COMPONENTS.map(e => e.spec.type)),
      'spec.lifecycle': facetOf(COMPONENTS.map(e => e.spec.lifecycle)),
    }, 'facets');
  });

  await check('getEntityFacets: metadata.tags (per array element)', async () => {
    const res = await client.getEntityFacets({ facets: ['metadata.tags'], filter: { kind: 'Component' } });
    eq(res.facets['metadata.tags'], facetOf(COMPONENTS.flatMap(e => e.tags)), 'tags of components');
  });

  await check('getEntityFacets: relations.ownedBy (owner picker)', async () => {
    const res = await client.getEntityFacets({ facets: ['relations.ownedBy'], filter: [{ kind: 'Component' }, { kind: 'API' }] });
    eq(res.facets['relations.ownedBy'], facetOf([...COMPONENTS, ...APIS].map(e => targetRef(e.spec.owner, 'Group'))), 'owners');
  });

  await check('getEntityFacets: metadata.namespace, unknown facet, request spelling echoed', async () => {
    const res = await client.getEntityFacets({ facets: ['metadata.namespace', 'spec.nope', 'Kind'], filter: { kind: 'domain' } });
    eq(res.facets, { 'metadata.namespace': [{ value: 'default', count: 2 }], 'spec.nope': [], Kind: [{ value: 'Domain', count: 2 }] }, 'facets');
  });

  await check('getEntityFacets: predicate `query` (POST), AND-ed with filter', async () => {
    const before = trace.length;
    const res = await client.getEntityFacets({ facets: ['spec.owner'], query: { kind: 'resource' }, filter: { 'spec.type': 'database' } });
    eq(trace.slice(before).map(x => `${x.method} ${new URL(x.url).pathname}`), ['POST /api/catalog/entity-facets'], 'requests');
    eq(res.facets['spec.owner'], facetOf(RESOURCES.filter(e => e.spec.type === 'database').map(e => e.spec.owner)), 'owners of databases');
    const tags = await client.getEntityFacets({ facets: ['metadata.tags'], query: { $all: [{ $not: { kind: 'component' } }, { 'metadata.tags': { $exists: true } }] } });
    eq(tags.facets['metadata.tags'], facetOf(DEMO.filter(e => e.kind !== 'Component').flatMap(e => e.tags ?? [])), 'tags of non-components');
  });

  // ---- validateEntity / analyzeLocation ----

  await check('validateEntity: a valid entity', async () => {
    const res = await client.validateEntity({
      apiVersion: 'backstage.io/v1alpha1',
      kind: 'Component',
      metadata: { name: 'compat-valid' },
      spec: { type: 'service', lifecycle: 'production', owner: 'group:default/platform-team' },
    }, `url:${fixtureBase}/compat/validate.yaml`);
    eq(res, { valid: true }, 'result');
  });

  await check('validateEntity: invalid entities and location refs give {valid: false, errors}', async () => {
    const cases = [
      ['no metadata.name', { apiVersion: 'backstage.io/v1alpha1', kind: 'Component', metadata: {}, spec: { type: 'service', lifecycle: 'production', owner: 'x' } }, `url:${fixtureBase}/x.yaml`],
      ['Component without spec.type', { apiVersion: 'backstage.io/v1alpha1', kind: 'Component', metadata: { name: 'compat-bad' }, spec: { lifecycle: 'production', owner: 'x' } }, `url:${fixtureBase}/x.yaml`],
      ['bad name', { apiVersion: 'backstage.io/v1alpha1', kind: 'Component', metadata: { name: 'not a valid name!' }, spec: { type: 'service', lifecycle: 'production', owner: 'x' } }, `url:${fixtureBase}/x.yaml`],
      ['location ref that is not url:', { apiVersion: 'backstage.io/v1alpha1', kind: 'Component', metadata: { name: 'compat-ok' }, spec: { type: 'service', lifecycle: 'production', owner: 'x' } }, 'not-a-location-ref'],
    ];
    for (const [what, entity, location] of cases) {
      const res = await client.validateEntity(entity, location);
      eq(res.valid, false, `${what}: valid`);
      ok(Array.isArray(res.errors) && res.errors.length > 0, `${what}: errors must be a non-empty array, got ${j(res.errors)}`);
      ok(res.errors.every(e => typeof e.name === 'string' && typeof e.message === 'string'), `${what}: each error is a serialized error {name, message}, got ${j(res.errors)}`);
    }
  });

  await check('analyzeLocation: proposes a Component for a repository URL', async () => {
    const res = await client.analyzeLocation({ location: { type: 'url', target: 'https://github.com/acme/new-repo' } });
    eq(res.existingEntityFiles, [], 'existingEntityFiles');
    eq(res.generateEntities.length, 1, 'one proposal');
    const { entity, fields } = res.generateEntities[0];
    eq(entity.apiVersion, 'backstage.io/v1alpha1', 'apiVersion');
    eq(entity.kind, 'Component', 'kind');
    eq(entity.metadata.name, 'new-repo', 'metadata.name');
    eq(entity.metadata.annotations?.['github.com/project-slug'], 'acme/new-repo', 'github.com/project-slug annotation');
    eq(entity.spec, { type: 'other', lifecycle: 'unknown' }, 'spec');
    ok(Array.isArray(fields), 'fields is an array');
  });

  await check('analyzeLocation: a target that is not a URL is a 400', async () => {
    await rejects(client.analyzeLocation({ location: { type: 'url', target: 'not a url' } }), 400, 'InputError', 'analyze');
  });

  // ---- refreshEntity ----

  await check('refreshEntity: a demo entity (200), a missing one (404)', async () => {
    await client.refreshEntity('component:default/storefront-web');
    await rejects(client.refreshEntity('component:default/does-not-exist'), 404, 'NotFoundError', 'refresh of a missing entity');
  });

  // ---- locations ----

  const urlEntityRef = `location:default/${generatedLocationName('url', URL_TARGET)}`;
  const fileEntityRef = `location:default/${generatedLocationName('file', FILE_TARGET)}`;
  let urlLocation;
  let fileLocation;

  await check('addLocation dryRun: processes in memory, stores nothing', async () => {
    const res = await client.addLocation({ type: 'url', target: URL_TARGET, dryRun: true });
    eq(res.exists, false, 'exists');
    eq(res.location, { type: 'url', target: URL_TARGET, id: `url:${URL_TARGET}`, entityRef: urlEntityRef }, 'location');
    const refsOut = (res.entities ?? []).map(e => `${e.kind}:${e.metadata.namespace ?? 'default'}/${e.metadata.name}`.toLowerCase()).sort();
    ok(refsOut.includes('component:default/compat-url-service') && refsOut.includes('api:default/compat-url-api'),
      `entities must include the component and API of the file, got ${j(refsOut)}`);
    ok(fixtureHits.includes('GET /compat/catalog-info.yaml'), `the server must have read the URL, fixture hits: ${j(fixtureHits)}`);
    eq(await client.getEntityByRef('component:default/compat-url-service'), undefined, 'entity after dry run');
    eq(await client.getLocationByRef(`url:${URL_TARGET}`), undefined, 'location after dry run');
  });

  await check('addLocation: registers a url location (201)', async () => {
    const res = await client.addLocation({ target: URL_TARGET }); // type defaults to 'url' in the client
    urlLocation = res.location;
    ok(typeof res.location.id === 'string' && /^[0-9a-f-]{36}$/i.test(res.location.id), `location.id must be a UUID, got ${j(res.location.id)}`);
    eq({ ...res.location, id: undefined }, { id: undefined, type: 'url', target: URL_TARGET, entityRef: urlEntityRef }, 'location');
    eq(res.exists, undefined, 'exists (spec §9 #16: never reported on a real registration)');
    eq(res.entities, [], 'entities');
  });

  await check('addLocation: its entities appear, annotated with the location (spec §4.5)', () =>
    eventually(async () => {
      const e = await client.getEntityByRef('component:default/compat-url-service');
      ok(e, 'compat-url-service not there yet');
      const a = e.metadata.annotations ?? {};
      eq(a['backstage.io/managed-by-location'], `url:${URL_TARGET}`, 'managed-by-location');
      eq(a['backstage.io/managed-by-origin-location'], `url:${URL_TARGET}`, 'managed-by-origin-location');
      eq(a['backstage.io/view-url'], URL_TARGET, 'view-url');
      // Backstage's AnnotateLocationEntityProcessor derives edit-url and source-location from
      // the SCM integration of the URL; 127.0.0.1 has none, so neither is set.
      eq(a['backstage.io/edit-url'], undefined, 'edit-url (no SCM integration)');
      eq(a['backstage.io/source-location'], undefined, 'source-location (no SCM integration)');
      eq(e.metadata.description, urlServiceDescription, 'description');
      ok(await client.getEntityByRef('api:default/compat-url-api'), 'compat-url-api missing');
      ok(await client.getEntityByRef(urlEntityRef), `${urlEntityRef} missing`);
    }));

  await check('addLocation: relations of new entities reach the demo catalog', () =>
    eventually(async () => {
      const group = await client.getEntityByRef('group:default/platform-team');
      ok(relationStrings(group).includes('ownerOf component:default/compat-url-service'), `platform-team relations: ${j(relationStrings(group))}`);
      const api = await client.getEntityByRef('api:default/compat-url-api');
      eq(relationStrings(api), ['apiProvidedBy component:default/compat-url-service', 'ownedBy group:default/platform-team'], 'compat-url-api relations');
      const system = await client.getEntityByRef('system:default/orders');
      ok(relationStrings(system).includes('hasPart component:default/compat-url-service'), `orders relations: ${j(relationStrings(system))}`);
    }));

  await check("addLocation: the same location again with onConflict 'reject' is a 409", async () => {
    await rejects(client.addLocation({ type: 'url', target: URL_TARGET, onConflict: 'reject' }), 409, 'ConflictError', 'onConflict reject');
    await rejects(client.addLocation({ type: 'url', target: URL_TARGET }), 409, 'ConflictError', 'default onConflict');
  });

  await check("addLocation: onConflict 'refresh' reuses the location (201)", async () => {
    const res = await client.addLocation({ type: 'url', target: URL_TARGET, onConflict: 'refresh' });
    eq(res.location, urlLocation, 'location');
  });

  await check('addLocation: a dry run of a registered location reports exists', async () => {
    const res = await client.addLocation({ type: 'url', target: URL_TARGET, dryRun: true });
    eq(res.exists, true, 'exists');
  });

  await check('addLocation: a type not in catalog.allowedLocationTypes is a 400', async () => {
    await rejects(client.addLocation({ type: 'gitlab-discovery', target: 'https://gitlab.example.com/x' }), 400, 'InputError', 'disallowed type');
  });

  await check('addLocation: registers a file location', async () => {
    const res = await client.addLocation({ type: 'file', target: FILE_TARGET });
    fileLocation = res.location;
    eq({ ...res.location, id: undefined }, { id: undefined, type: 'file', target: FILE_TARGET, entityRef: fileEntityRef }, 'location');
    await eventually(async () => {
      ok(await client.getEntityByRef('component:default/compat-file-component'), 'compat-file-component not there yet');
      const bucket = await client.getEntityByRef('resource:default/compat-file-bucket');
      eq(relationStrings(bucket), ['dependencyOf component:default/compat-file-component', 'ownedBy group:default/data-team'], 'compat-file-bucket relations');
    });
  });

  await check('getLocations: the registered locations, not the static config ones', async () => {
    const { items } = await client.getLocations();
    const byId = (a, b) => (a.id < b.id ? -1 : 1);
    eq([...items].sort(byId), [urlLocation, fileLocation].sort(byId), 'items');
  });

  await check('getLocationById: found, unknown id, non-UUID id', async () => {
    eq(await client.getLocationById(urlLocation.id), urlLocation, 'by id');
    eq(await client.getLocationById('00000000-0000-4000-8000-000000000000'), undefined, 'unknown id');
    eq(await client.getLocationById('not-a-uuid'), undefined, 'non-UUID id (decisions.md: 404)');
  });

  await check('getLocationByRef', async () => {
    eq(await client.getLocationByRef(`url:${URL_TARGET}`), urlLocation, 'url location');
    eq(await client.getLocationByRef(`file:${FILE_TARGET}`), fileLocation, 'file location');
    eq(await client.getLocationByRef(DEMO_LOCATION_REF), undefined, 'static config location');
  });

  await check('getLocationByEntity: registered origin, static origin (404), missing entity (404)', async () => {
    eq(await client.getLocationByEntity('component:default/compat-url-service'), urlLocation, 'url entity');
    eq(await client.getLocationByEntity({ kind: 'resource', namespace: 'default', name: 'compat-file-bucket' }), fileLocation, 'file entity');
    eq(await client.getLocationByEntity('component:default/storefront-web'), undefined, 'entity of the static config location');
    eq(await client.getLocationByEntity('component:default/does-not-exist'), undefined, 'missing entity');
  });

  await check('queryLocations: all, ordered by id, with totalItems', async () => {
    const res = await client.queryLocations();
    eq(res.items, [urlLocation, fileLocation].sort((a, b) => (a.id < b.id ? -1 : 1)), 'items');
    eq(res.totalItems, 2, 'totalItems');
    eq(res.pageInfo, {}, 'pageInfo');
  });

  await check('queryLocations: predicates on type, target, entityRef, id', async () => {
    const q = async query => (await client.queryLocations({ query })).items;
    eq(await q({ type: 'url' }), [urlLocation], 'type');
    eq(await q({ type: 'FILE' }), [fileLocation], 'type, case-insensitive');
    eq(await q({ target: { $hasPrefix: `${fixtureBase}/compat/` } }), [urlLocation], 'target $hasPrefix');
    eq(await q({ entityRef: fileEntityRef }), [fileLocation], 'entityRef');
    eq(await q({ id: { $in: [fileLocation.id] } }), [fileLocation], 'id $in');
    eq(await q({ $not: { type: 'url' } }), [fileLocation], '$not');
    eq(await q({ $any: [] }), [], '$any: [] matches nothing');
  });

  await check('queryLocations: an unknown predicate key is a 400', async () => {
    await rejects(client.queryLocations({ query: { kind: 'url' } }), 400, 'InputError', 'unknown key');
  });

  await check('queryLocations: cursor paging with limit 1', async () => {
    const expected = [urlLocation, fileLocation].sort((a, b) => (a.id < b.id ? -1 : 1));
    const first = await client.queryLocations({ limit: 1 });
    eq(first.items, expected.slice(0, 1), 'page 1');
    eq(first.totalItems, 2, 'totalItems');
    ok(first.pageInfo.nextCursor, 'nextCursor on page 1');
    const second = await client.queryLocations({ cursor: first.pageInfo.nextCursor });
    eq(second.items, expected.slice(1), 'page 2');
    eq(second.pageInfo.nextCursor, undefined, 'no nextCursor on page 2');
  });

  await check('streamLocations: default and limit-1 pages', async () => {
    const expected = [urlLocation, fileLocation].sort((a, b) => (a.id < b.id ? -1 : 1));
    const pages = [];
    for await (const page of client.streamLocations()) pages.push(page);
    eq(pages, [expected], 'one page');
    const small = [];
    for await (const page of client.streamLocations({ limit: 1 })) small.push(page);
    eq(small, expected.map(l => [l]), 'pages of one');
    const filtered = [];
    for await (const page of client.streamLocations({ query: { type: 'file' } })) filtered.push(page);
    eq(filtered, [[fileLocation]], 'filtered');
  });

  await check('getEntityAncestors: an entity of a registered location', async () => {
    const res = await client.getEntityAncestors({ entityRef: 'component:default/compat-url-service' });
    eq(res.items.map(i => [`${i.entity.kind}:default/${i.entity.metadata.name}`.toLowerCase(), i.parentEntityRefs]), [
      ['component:default/compat-url-service', [urlEntityRef]],
      [urlEntityRef, []],
    ], 'items');
  });

  await check('refreshEntity: re-reads the location, the changed file shows up', async () => {
    const before = await client.getEntityByRef('component:default/compat-url-service');
    ok(before, 'compat-url-service missing');
    urlServiceDescription = 'Second version, after refreshEntity.';
    await client.refreshEntity('component:default/compat-url-service');
    await eventually(async () => {
      const e = await client.getEntityByRef('component:default/compat-url-service');
      eq(e?.metadata.description, urlServiceDescription, 'description');
      // Spec §4.1 and §4.8: the uid is the processing row's and stays; the etag follows the JSON.
      eq(e.metadata.uid, before.metadata.uid, 'uid');
      ok(e.metadata.etag !== before.metadata.etag, `etag must change with the entity, still ${e.metadata.etag}`);
    });
  });

  await check('removeEntityByUid: the entity goes, its location emits it again with a new uid', async () => {
    const before = await client.getEntityByRef('resource:default/compat-file-bucket');
    ok(before, 'compat-file-bucket missing');
    await client.removeEntityByUid(before.metadata.uid);
    await eventually(async () => {
      const after = await client.getEntityByRef('resource:default/compat-file-bucket');
      ok(after, 'compat-file-bucket not back yet');
      ok(after.metadata.uid !== before.metadata.uid, `uid unchanged (${after.metadata.uid}): the entity was not deleted`);
    });
  });

  await check('removeEntityByUid: an unknown uid is a 204', async () => {
    await client.removeEntityByUid('00000000-0000-4000-8000-000000000000');
  });

  await check('updateLocation: conflicts (409) and unknown ids (404)', async () => {
    await rejects(client.updateLocation(urlLocation.id, { type: 'file', target: FILE_TARGET }), 409, 'ConflictError', 'same type and target as the file location');
    await rejects(client.updateLocation('00000000-0000-4000-8000-000000000000', { type: 'url', target: URL_TARGET_V2 }), 404, 'NotFoundError', 'unknown id');
  });

  await check('updateLocation: new target, same id and entityRef (spec §3.16)', async () => {
    const res = await client.updateLocation(urlLocation.id, { type: 'url', target: URL_TARGET_V2 });
    eq(res, { ...urlLocation, target: URL_TARGET_V2 }, 'response');
    eq(await client.getLocationById(urlLocation.id), { ...urlLocation, target: URL_TARGET_V2 }, 'getLocationById');
    await eventually(async () => {
      const v2 = await client.getEntityByRef('component:default/compat-url-service-v2');
      ok(v2, 'compat-url-service-v2 not there yet');
      eq(v2.metadata.annotations?.['backstage.io/managed-by-location'], `url:${URL_TARGET_V2}`, 'v2 managed-by-location');
    });
    // The old file's entities are no longer emitted: orphaned, then removed by orphan cleanup.
    await eventually(async () => {
      const old = await client.getEntityByRef('component:default/compat-url-service');
      ok(old === undefined || old.metadata.annotations?.['backstage.io/orphan'] === 'true',
        `compat-url-service must be gone or orphaned, annotations: ${j(old?.metadata.annotations)}`);
    });
  });

  await check('removeLocationById: the location and its entities go', async () => {
    await client.removeLocationById(urlLocation.id);
    eq(await client.getLocationById(urlLocation.id), undefined, 'getLocationById after removal');
    await eventually(async () => {
      eq(await client.getEntityByRef('component:default/compat-url-service-v2'), undefined, 'compat-url-service-v2');
      eq(await client.getEntityByRef(urlEntityRef), undefined, 'the Location entity');
    });
    await client.removeLocationById(fileLocation.id);
    await eventually(async () => {
      eq(await client.getEntityByRef('component:default/compat-file-component'), undefined, 'compat-file-component');
      eq(await client.getEntityByRef('resource:default/compat-file-bucket'), undefined, 'compat-file-bucket');
      const group = await client.getEntityByRef('group:default/data-team');
      eq(relationStrings(group), expectedRels.get('group:default/data-team'), 'data-team relations back to the demo ones');
    });
    eq((await client.getLocations()).items, [], 'getLocations after removals');
  });

  await check('removeLocationById: an unknown id is a 404', async () => {
    await rejects(client.removeLocationById('00000000-0000-4000-8000-000000000000'), 404, 'NotFoundError', 'unknown id');
  });

  // ---- the OpenAPI document ----

  await check('GET /openapi.json: the document Backstage serves (openapi-merge with the mount point)', async () => {
    const { merge, isErrorResult } = require('openapi-merge');
    const bundled = path.join(__dirname, '../../../catalog-backend/src/api/openapi.json');
    const spec = JSON.parse(fs.readFileSync(bundled, 'utf8'));
    // What @backstage/backend-openapi-utils 0.7.2 (stub.ts) does for GET <mount>/openapi.json.
    const merged = merge([{ oas: spec, pathModification: { prepend: '/api/catalog' } }]);
    ok(!isErrorResult(merged), `openapi-merge failed: ${j(merged)}`);
    const response = await tracedFetch(`${baseUrl}/api/catalog/openapi.json`);
    eq(response.status, 200, 'status');
    // Express sends `res.json(output)`: keys whose value is undefined are dropped.
    eq(await response.json(), JSON.parse(JSON.stringify(merged.output)), 'document');
  });

  await check('the demo catalog is intact at the end (orphans cleaned up)', () =>
    eventually(async () => {
      const { items } = await client.getEntities({ fields: ['kind', 'metadata.name'] });
      eq(items.map(e => `${e.kind}:${e.metadata.name}`).sort(), DEMO.map(e => `${e.kind}:${e.name}`).sort(), 'entities');
    }, 90_000, 1000));

  fixtureServer.close();
  const failed = results.filter(r => !r.ok);
  console.log(`\n${results.length - failed.length} of ${results.length} checks passed${failed.length ? `; failed:\n${failed.map(f => `  - ${f.name}`).join('\n')}` : ''}`);
  process.exit(failed.length ? 1 : 0);
}

main().catch(e => {
  console.error('client.cjs crashed:', e);
  process.exit(1);
});
