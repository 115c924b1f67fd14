#!/usr/bin/env node
// Validates azure.yaml against azd's published JSON schema (v1.0).
// The schema is not part of this repository. It is read from ../shared/schemas/azure-yaml beside the checkout
// (ORLEANSSTREAM_SHARED_DIR overrides the shared folder); when that is absent it is downloaded from azd's published
// URL (the schema's $id), with the extension schemas it refers to, into tests/node_modules/.cache/azd-schema.
// ORLEANSSTREAM_AZD_SCHEMA_BASE replaces the download host and path prefix and ORLEANSSTREAM_AZD_SCHEMA_CACHE the
// download folder (tests serve the files locally).
// Neither found nor downloadable: exit 1 naming both places.
// Usage: node tests/validate-azure-yaml.js [path/to/azure.yaml]
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const Ajv2019 = require('ajv/dist/2019').default;
const addFormats = require('ajv-formats').default;
const YAML = require('yaml');

const SchemaUrl = 'https://raw.githubusercontent.com/Azure/azure-dev/main/schemas/v1.0/azure.yaml.json';
const PublishedPrefix = 'https://raw.githubusercontent.com/Azure/azure-dev/main/';

const repoRoot = path.resolve(__dirname, '..');
const sharedDir = process.env.ORLEANSSTREAM_SHARED_DIR
  ? path.resolve(process.env.ORLEANSSTREAM_SHARED_DIR)
  : path.resolve(repoRoot, '..', 'shared');
const yamlPath = path.resolve(process.argv[2] ?? path.join(repoRoot, 'azure.yaml'));

function collectRefs(node, found) {
  if (Array.isArray(node)) { node.forEach((item) => collectRefs(item, found)); return found; }
  if (node === null || typeof node !== 'object') return found;
  for (const [key, value] of Object.entries(node)) {
    if (key === '$ref' && typeof value === 'string') { if (!value.startsWith('#')) found.add(value.split('#')[0]); }
    else collectRefs(value, found);
  }
  return found;
}

const remoteRefsOf = (schema) => [...collectRefs(schema, new Set())].filter((ref) => /^https?:\/\//.test(ref));
const extPath = (dir, url) => path.join(dir, 'ext', url.substring(url.lastIndexOf('/') + 1));

async function download(url) {
  const base = process.env.ORLEANSSTREAM_AZD_SCHEMA_BASE;
  const from = base && url.startsWith(PublishedPrefix) ? base.replace(/\/?$/, '/') + url.substring(PublishedPrefix.length) : url;
  const response = await fetch(from, { signal: AbortSignal.timeout(30_000) });
  if (!response.ok) throw new Error(`GET ${from}: HTTP ${response.status}`);
  return response.text();
}

// The schema folder beside the checkout, else a downloaded copy laid out the same way (azure.yaml.v1.json, ext/).
async function schemaFolder() {
  const shared = path.join(sharedDir, 'schemas', 'azure-yaml');
  if (fs.existsSync(path.join(shared, 'azure.yaml.v1.json'))) return shared;
  const cache = process.env.ORLEANSSTREAM_AZD_SCHEMA_CACHE
    ? path.resolve(process.env.ORLEANSSTREAM_AZD_SCHEMA_CACHE)
    : path.join(repoRoot, 'tests', 'node_modules', '.cache', 'azd-schema');
  try {
    const text = await download(SchemaUrl);
    fs.mkdirSync(path.join(cache, 'ext'), { recursive: true });
    for (const url of remoteRefsOf(JSON.parse(text))) fs.writeFileSync(extPath(cache, url), await download(url));
    fs.writeFileSync(path.join(cache, 'azure.yaml.v1.json'), text);
    return cache;
  } catch (error) {
    console.error(`FAIL: azd's schema is neither at ${path.join(shared, 'azure.yaml.v1.json')} (set ORLEANSSTREAM_SHARED_DIR to the folder holding schemas/) nor downloadable from ${SchemaUrl}: ${error.message}${error.cause ? ` (${error.cause.message ?? error.cause})` : ''}`);
    process.exit(1);
  }
}

async function main() {
  const schemaDir = await schemaFolder();
  const schemaPath = path.join(schemaDir, 'azure.yaml.v1.json');
  const schema = JSON.parse(fs.readFileSync(schemaPath, 'utf8'));

  // Every remote $ref of the schema must have a local copy under ext/ named by the URL's last segment.
  const remoteRefs = remoteRefsOf(schema);
  const ajv = new Ajv2019({ strict: false, allErrors: true, validateSchema: true });
  addFormats(ajv);
  ajv.addMetaSchema(require('ajv/dist/refs/json-schema-draft-07.json'));
  const stubbed = [];
  for (const url of remoteRefs) {
    const local = extPath(schemaDir, url);
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
}

main().catch((error) => { console.error(`FAIL: ${error.stack ?? error}`); process.exit(1); });
