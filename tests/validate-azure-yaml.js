#!/usr/bin/env node
// Validates azure.yaml against azd's published JSON schema (v1.0) without any network access.
// The schema is not part of this repository: CI finds it at ../shared/schemas/azure-yaml beside the checkout;
// ORLEANSSTREAM_SHARED_DIR overrides the shared folder. The schema's remote $refs are served from its ext/ folder.
// Usage: node tests/validate-azure-yaml.js [path/to/azure.yaml]
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const Ajv2019 = require('ajv/dist/2019').default;
const addFormats = require('ajv-formats').default;
const YAML = require('yaml');

const repoRoot = path.resolve(__dirname, '..');
const sharedDir = process.env.ORLEANSSTREAM_SHARED_DIR
  ? path.resolve(process.env.ORLEANSSTREAM_SHARED_DIR)
  : path.resolve(repoRoot, '..', 'shared');
const schemaDir = path.join(sharedDir, 'schemas', 'azure-yaml');
const schemaPath = path.join(schemaDir, 'azure.yaml.v1.json');
const yamlPath = path.resolve(process.argv[2] ?? path.join(repoRoot, 'azure.yaml'));
const ci = (process.env.CI ?? '').toLowerCase() === 'true';

if (!fs.existsSync(schemaPath)) {
  const message = `azd schema not found at ${schemaPath} (set ORLEANSSTREAM_SHARED_DIR to the folder holding schemas/)`;
  if (ci) {
    console.error(`FAIL: ${message}`);
    process.exit(1);
  }
  console.log(`NOT VALIDATED: ${message}`);
  process.exit(3);
}

const schema = JSON.parse(fs.readFileSync(schemaPath, 'utf8'));

function collectRefs(node, found) {
  if (Array.isArray(node)) { node.forEach((item) => collectRefs(item, found)); return found; }
  if (node === null || typeof node !== 'object') return found;
  for (const [key, value] of Object.entries(node)) {
    if (key === '$ref' && typeof value === 'string') { if (!value.startsWith('#')) found.add(value.split('#')[0]); }
    else collectRefs(value, found);
  }
  return found;
}

// Every remote $ref of the schema must have a local copy under ext/ named by the URL's last segment.
const remoteRefs = [...collectRefs(schema, new Set())].filter((ref) => /^https?:\/\//.test(ref));
const ajv = new Ajv2019({ strict: false, allErrors: true, validateSchema: true });
addFormats(ajv);
ajv.addMetaSchema(require('ajv/dist/refs/json-schema-draft-07.json'));
const stubbed = [];
for (const url of remoteRefs) {
  const local = path.join(schemaDir, 'ext', url.substring(url.lastIndexOf('/') + 1));
  if (!fs.existsSync(local)) {
    console.error(`FAIL: the schema refers to ${url} but ${local} does not exist`);
    process.exit(1);
  }
  const ext = JSON.parse(fs.readFileSync(local, 'utf8'));
  ext.$id = url;
  ajv.addSchema(ext);
  // An extension schema may point further to sibling files that are not published beside it. They describe
  // other hosts (AI Foundry) only; they are stubbed as permissive so the rest of the schema still applies.
  for (const ref of collectRefs(ext, new Set())) {
    const resolved = new URL(ref, url).href;
    const sibling = path.join(schemaDir, 'ext', resolved.substring(resolved.lastIndexOf('/') + 1));
    if (remoteRefs.includes(resolved) || stubbed.includes(resolved)) continue;
    if (fs.existsSync(sibling)) continue;
    ajv.addSchema({ $id: resolved }, resolved);
    stubbed.push(resolved);
  }
}

const document = YAML.parseDocument(fs.readFileSync(yamlPath, 'utf8'), { prettyErrors: true });
if (document.errors.length > 0) {
  for (const error of document.errors) console.error(`FAIL: ${yamlPath}: ${error.message}`);
  process.exit(1);
}

const validate = ajv.compile(schema);
if (!validate(document.toJS())) {
  for (const error of validate.errors) {
    console.error(`FAIL: ${yamlPath}${error.instancePath || '/'} ${error.message} ${JSON.stringify(error.params)}`);
  }
  process.exit(1);
}
console.log(`OK: ${path.relative(repoRoot, yamlPath)} is valid against ${schema.$id ?? schemaPath} (${remoteRefs.length} remote refs served from ext/, ${stubbed.length} unpublished sibling refs stubbed)`);
