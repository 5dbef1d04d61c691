#!/usr/bin/env node
// Differential-test oracle for catalog-model/tests/differential.rs.
//
// Reads a JSON array of cases from the file named by argv[2] (or from stdin), computes the
// verdict of the real npm package @backstage/catalog-model (pinned in package.json) for each
// case, and writes a JSON array of results (same order) to stdout.
//
// Case shapes (field `t` selects the type):
//   {t: "entity", doc}                     -> {stage: "policy"|"kind"|"unknown-kind"|"valid", message?, output?}
//   {t: "kindCheck", validator, doc}       -> true | false | {error}
//     (or docRef: the index of an earlier case whose `doc` to use, to keep the corpus small)
//   {t: "validatorFn", fn, value}          -> true | false
//   {t: "parseRef", input, context?}       -> {kind, namespace, name} | {error}
//   {t: "stringifyRef", input}             -> string | {error}
//   {t: "parseLocationRef", input}         -> {type, target} | {error}
//   {t: "stringifyLocationRef", input}     -> string | {error}
//   {t: "groupParent", parent, doc}        -> {output} | {error}
// A case the harness itself cannot handle yields {harnessError}.
'use strict';

const fs = require('fs');
const model = require('@backstage/catalog-model');
const alpha = require('@backstage/catalog-model/alpha');

const {
  EntityPolicies,
  SchemaValidEntityPolicy,
  DefaultNamespaceEntityPolicy,
  NoForeignRootFieldsEntityPolicy,
  FieldFormatEntityPolicy,
  GroupDefaultParentEntityPolicy,
  KubernetesValidatorFunctions,
  CommonValidatorFunctions,
  makeValidator,
  parseEntityRef,
  stringifyEntityRef,
  parseLocationRef,
  stringifyLocationRef,
} = model;

// The catalog's default policy chain (plugin-catalog-backend, without overrides).
const policy = EntityPolicies.allOf([
  new SchemaValidEntityPolicy(),
  new DefaultNamespaceEntityPolicy(),
  new NoForeignRootFieldsEntityPolicy(),
  new FieldFormatEntityPolicy(),
]);

// The catalog's BuiltinKindsEntityProcessor order.
const classicKinds = [
  model.apiEntityV1alpha1Validator,
  model.componentEntityV1alpha1Validator,
  model.resourceEntityV1alpha1Validator,
  model.groupEntityV1alpha1Validator,
  model.locationEntityV1alpha1Validator,
  model.userEntityV1alpha1Validator,
  model.systemEntityV1alpha1Validator,
  model.domainEntityV1alpha1Validator,
];

const kindValidators = {
  api: model.apiEntityV1alpha1Validator,
  component: model.componentEntityV1alpha1Validator,
  resource: model.resourceEntityV1alpha1Validator,
  group: model.groupEntityV1alpha1Validator,
  location: model.locationEntityV1alpha1Validator,
  user: model.userEntityV1alpha1Validator,
  system: model.systemEntityV1alpha1Validator,
  domain: model.domainEntityV1alpha1Validator,
  mcpServerApi: alpha.mcpServerApiEntityValidator,
  aiResource: alpha.aiResourceEntityV1alpha1Validator,
  skillAiResource: alpha.skillAiResourceEntityV1alpha1Validator,
  ruleAiResource: alpha.ruleAiResourceEntityV1alpha1Validator,
  pluginAiResource: alpha.pluginAiResourceEntityV1alpha1Validator,
  marketplaceAiResource: alpha.marketplaceAiResourceEntityV1alpha1Validator,
};

const tagValidator = makeValidator().isValidTag;
const validatorFns = {
  'k8s.isValidApiVersion': KubernetesValidatorFunctions.isValidApiVersion,
  'k8s.isValidKind': KubernetesValidatorFunctions.isValidKind,
  'k8s.isValidObjectName': KubernetesValidatorFunctions.isValidObjectName,
  'k8s.isValidNamespace': KubernetesValidatorFunctions.isValidNamespace,
  'k8s.isValidLabelKey': KubernetesValidatorFunctions.isValidLabelKey,
  'k8s.isValidLabelValue': KubernetesValidatorFunctions.isValidLabelValue,
  'k8s.isValidAnnotationKey': KubernetesValidatorFunctions.isValidAnnotationKey,
  'k8s.isValidAnnotationValue': KubernetesValidatorFunctions.isValidAnnotationValue,
  'common.isValidDnsLabel': CommonValidatorFunctions.isValidDnsLabel,
  'common.isValidDnsSubdomain': CommonValidatorFunctions.isValidDnsSubdomain,
  'common.isValidUrl': CommonValidatorFunctions.isValidUrl,
  'common.isNonEmptyString': CommonValidatorFunctions.isNonEmptyString,
  'common.isValidString': CommonValidatorFunctions.isValidString,
  'common.isValidTag': CommonValidatorFunctions.isValidTag,
  'makeValidator.isValidTag': tagValidator,
};

function message(e) {
  return e && typeof e === 'object' && 'message' in e ? String(e.message) : String(e);
}

async function entityVerdict(doc) {
  let output;
  try {
    output = await policy.enforce(doc);
  } catch (e) {
    return { stage: 'policy', message: message(e) };
  }
  for (const v of classicKinds) {
    let ok;
    try {
      ok = await v.check(output);
    } catch (e) {
      return { stage: 'kind', message: message(e) };
    }
    if (ok) {
      return { stage: 'valid', output: JSON.stringify(output) };
    }
  }
  return { stage: 'unknown-kind' };
}

async function verdict(c, cases) {
  switch (c.t) {
    case 'entity':
      return entityVerdict(c.doc);
    case 'kindCheck': {
      const v = kindValidators[c.validator];
      if (!v) return { harnessError: `no kind validator ${c.validator}` };
      try {
        const doc = c.docRef === undefined ? c.doc : cases[c.docRef].doc;
        return (await v.check(doc)) === true;
      } catch (e) {
        return { error: message(e) };
      }
    }
    case 'validatorFn': {
      const f = validatorFns[c.fn];
      if (!f) return { harnessError: `no validator function ${c.fn}` };
      return f(c.value) === true;
    }
    case 'parseRef':
      try {
        const r = c.context === undefined ? parseEntityRef(c.input) : parseEntityRef(c.input, c.context);
        return { kind: r.kind, namespace: r.namespace, name: r.name };
      } catch (e) {
        return { error: message(e) };
      }
    case 'stringifyRef':
      try {
        return stringifyEntityRef(c.input);
      } catch (e) {
        return { error: message(e) };
      }
    case 'parseLocationRef':
      try {
        const r = parseLocationRef(c.input);
        return { type: r.type, target: r.target };
      } catch (e) {
        return { error: message(e) };
      }
    case 'stringifyLocationRef':
      try {
        return stringifyLocationRef(c.input);
      } catch (e) {
        return { error: message(e) };
      }
    case 'groupParent': {
      let p;
      try {
        p = new GroupDefaultParentEntityPolicy(c.parent);
      } catch (e) {
        return { error: message(e) };
      }
      try {
        const out = await p.enforce(c.doc);
        return { output: JSON.stringify(out) };
      } catch (e) {
        return { error: message(e) };
      }
    }
    default:
      return { harnessError: `unknown case type ${c.t}` };
  }
}

async function main() {
  const text = process.argv[2] ? fs.readFileSync(process.argv[2], 'utf8') : fs.readFileSync(0, 'utf8');
  const cases = JSON.parse(text);
  const results = [];
  for (const c of cases) {
    try {
      results.push(await verdict(c, cases));
    } catch (e) {
      results.push({ harnessError: message(e) });
    }
  }
  process.stdout.write(JSON.stringify(results));
}

main().catch(e => {
  process.stderr.write(`verdicts.cjs: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
