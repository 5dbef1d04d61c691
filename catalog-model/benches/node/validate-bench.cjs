#!/usr/bin/env node
// Benchmark of Backstage's own @backstage/catalog-model, for comparison with the Rust
// criterion bench (`cargo bench -p backstage-catalog-model --bench model`).
//
// It validates the same typical Component (../data/typical-component.json) through the same
// pipeline the catalog runs: the default policy chain, then the kind validators in the
// catalog's order (the first that recognises the entity decides). Each iteration works on a
// fresh deep copy; the copies are made outside the timed region (as criterion's iter_batched
// does on the Rust side), and the cost of structuredClone is also measured and reported.
// It also times parseEntityRef on the same refs as the Rust `entity_ref/parse` bench.
//
// Usage:
//   node catalog-model/benches/node/validate-bench.cjs [MODULE_DIR]
// MODULE_DIR (or env BACKSTAGE_CATALOG_MODEL) is either the package folder itself or a
// node_modules folder containing @backstage/catalog-model; the default is
// catalog-model/tests/compat/node_modules. BENCH_SECONDS (default 5) sets each timed phase.

'use strict';

const fs = require('node:fs');
const path = require('node:path');

const here = __dirname;
const defaultModules = path.resolve(here, '../../tests/compat/node_modules');

function loadCatalogModel() {
  const given = process.argv[2] || process.env.BACKSTAGE_CATALOG_MODEL;
  const candidates = [];
  if (given) {
    const dir = path.resolve(given);
    candidates.push(dir, path.join(dir, '@backstage/catalog-model'));
  } else {
    candidates.push(path.join(defaultModules, '@backstage/catalog-model'));
  }
  for (const dir of candidates) {
    if (fs.existsSync(path.join(dir, 'package.json'))) {
      // eslint-disable-next-line import/no-dynamic-require
      return { mod: require(dir), version: require(path.join(dir, 'package.json')).version, dir };
    }
  }
  try {
    // Last resort: NODE_PATH or a node_modules up the tree.
    const dir = path.dirname(require.resolve('@backstage/catalog-model/package.json'));
    return { mod: require(dir), version: require(path.join(dir, 'package.json')).version, dir };
  } catch {
    console.error(
      `@backstage/catalog-model not found (tried ${candidates.join(', ')} and NODE_PATH).\n` +
        'Install it: (cd catalog-model/tests/compat && npm ci), or\n' +
        '  npm install --prefix /tmp/bsnode @backstage/catalog-model@1.10.1 and pass /tmp/bsnode/node_modules',
    );
    process.exit(2);
  }
}

const { mod: cm, version, dir } = loadCatalogModel();
const seconds = Number(process.env.BENCH_SECONDS || 5);
const entity = JSON.parse(
  fs.readFileSync(path.join(here, '../data/typical-component.json'), 'utf8'),
);

// Same list as REFS in benches/model.rs, parsed with default kind Group.
const REFS = [
  'component:default/my-svc',
  'team-a',
  'api:ns1/petstore-api',
  'component:platform-engineering-shared-services/customer-identity-and-access-management-gateway-v2',
];

// The catalog's pipeline (DefaultCatalogProcessingOrchestrator + BuiltinKindsEntityProcessor).
const policy = cm.EntityPolicies.allOf([
  new cm.SchemaValidEntityPolicy(),
  new cm.DefaultNamespaceEntityPolicy(),
  new cm.NoForeignRootFieldsEntityPolicy(),
  new cm.FieldFormatEntityPolicy(),
]);
const kindValidators = [
  cm.apiEntityV1alpha1Validator,
  cm.componentEntityV1alpha1Validator,
  cm.resourceEntityV1alpha1Validator,
  cm.groupEntityV1alpha1Validator,
  cm.locationEntityV1alpha1Validator,
  cm.userEntityV1alpha1Validator,
  cm.systemEntityV1alpha1Validator,
  cm.domainEntityV1alpha1Validator,
];

async function validate(e) {
  const out = await policy.enforce(e);
  if (!out) throw new Error('policy chain returned no result');
  for (const v of kindValidators) {
    if (await v.check(out)) return out;
  }
  throw new Error('no kind validator recognised the entity');
}

const now = () => process.hrtime.bigint();
const BATCH = 1000;

// Validates pre-made deep copies in batches; only the validation is timed.
async function timeValidation(durationNs) {
  let ns = 0n;
  let count = 0;
  let sink = 0;
  while (ns < durationNs) {
    const copies = new Array(BATCH);
    for (let i = 0; i < BATCH; i++) copies[i] = structuredClone(entity);
    const t0 = now();
    for (let i = 0; i < BATCH; i++) sink += (await validate(copies[i])).metadata.name.length;
    ns += now() - t0;
    count += BATCH;
  }
  return { ns, count, sink };
}

// structuredClone alone, and clone + validate inline (the other way to exclude the clone).
function timeClone(durationNs) {
  const start = now();
  let count = 0;
  let sink = 0;
  while (now() - start < durationNs) {
    for (let i = 0; i < BATCH; i++) sink += structuredClone(entity).spec.type.length;
    count += BATCH;
  }
  return { ns: now() - start, count, sink };
}

async function timeCloneAndValidate(durationNs) {
  const start = now();
  let count = 0;
  let sink = 0;
  while (now() - start < durationNs) {
    for (let i = 0; i < BATCH; i++) sink += (await validate(structuredClone(entity))).kind.length;
    count += BATCH;
  }
  return { ns: now() - start, count, sink };
}

function timeRefParse(durationNs) {
  const context = { defaultKind: 'Group' };
  const start = now();
  let count = 0;
  let sink = 0;
  while (now() - start < durationNs) {
    for (let i = 0; i < BATCH; i++) {
      for (const r of REFS) sink += cm.parseEntityRef(r, context).name.length;
    }
    count += BATCH * REFS.length;
  }
  return { ns: now() - start, count, sink };
}

const perOp = ({ ns, count }) => Number(ns) / count;
const round = (x, digits = 1) => Number(x.toFixed(digits));

async function main() {
  // Sanity: the entity must be valid and recognised as a Component.
  const checked = await validate(structuredClone(entity));
  if (checked.kind !== 'Component' || checked.metadata.namespace !== 'payments') {
    throw new Error('typical component did not validate as expected');
  }

  const d = BigInt(Math.round(seconds * 1e9));
  const warm = BigInt(Math.round(Math.min(seconds, 2) * 1e9));

  // Warm up every path (JIT, Ajv compilation) before measuring.
  await timeValidation(warm);
  timeClone(warm / 2n);
  timeRefParse(warm / 2n);

  const validation = await timeValidation(d);
  const clone = timeClone(d / 2n);
  const inline = await timeCloneAndValidate(d / 2n);
  const refs = timeRefParse(d / 2n);

  const nsPerEntity = perOp(validation);
  const cloneNs = perOp(clone);
  const inlineNs = perOp(inline);
  const result = {
    entitiesPerSecond: Math.round(1e9 / nsPerEntity),
    nsPerEntity: round(nsPerEntity),
    node: process.version,
    catalogModel: version,
    seconds,
    structuredCloneNsPerEntity: round(cloneNs),
    inlineCloneAndValidateNsPerEntity: round(inlineNs),
    inlineMinusCloneNsPerEntity: round(inlineNs - cloneNs),
    parseEntityRefNsPerRef: round(perOp(refs)),
    refsPerSecond: Math.round(1e9 / perOp(refs)),
    moduleDir: dir,
  };
  console.log(JSON.stringify(result));
}

main().catch(e => {
  console.error(e);
  process.exit(1);
});
