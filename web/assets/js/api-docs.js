// The API docs page (/api/docs): fetches /api/v1/openapi.json and renders it,
// grouped by tag, with schemas resolved to readable trees. Works offline: no
// CDN, nothing but this file, dom.js and the stylesheets. Every piece of text
// from the document reaches the page through dom.js (text nodes), never as HTML.

import { h, replace } from './dom.js';

const SPEC_URL = '/api/v1/openapi.json';
const METHODS = ['get', 'post', 'put', 'patch', 'delete', 'head', 'options'];
/** How deep a schema tree unfolds before it says "…" (the views nest ~4 deep). */
const MAX_DEPTH = 8;

const root = document.getElementById('docs');

async function main() {
  let spec;
  try {
    const response = await fetch(SPEC_URL, { headers: { accept: 'application/json' } });
    if (!response.ok) throw new Error(`${SPEC_URL} answered ${response.status}`);
    spec = await response.json();
  } catch (error) {
    replace(root, h('p', { class: 'error' }, `Could not load the API description: ${error.message}`));
    return;
  }
  replace(root, ...render(spec));
}

// ---- the page ----

function render(spec) {
  const info = spec.info || {};
  const groups = groupByTag(spec);
  const search = h('input', { type: 'search', placeholder: 'Filter by path, method or summary', 'aria-label': 'Filter operations' });
  const sections = groups.map(({ tag, description, operations }) =>
    h('section', { id: `tag-${tag}`, class: 'tag-section' },
      h('h2', {}, tag),
      description ? paragraph(description) : null,
      operations.map((op) => renderOperation(spec, op)),
    ));
  search.addEventListener('input', () => filter(sections, search.value));
  return [
    h('h1', {}, `${info.title || 'API'} `, h('span', { class: 'muted' }, info.version ? `v${info.version}` : '')),
    h('p', { class: 'muted' },
      `OpenAPI ${spec.openapi || '?'}`,
      info.license ? ` · license ${info.license.name}` : ''),
    ...(info.description || '').split(/\n\s*\n/).map(paragraph),
    h('ul', { class: 'docs-nav' }, groups.map(({ tag, operations }) =>
      h('li', {}, h('a', { href: `#tag-${tag}` }, `${tag} (${operations.length})`)))),
    h('div', { class: 'docs-toolbar' },
      search,
      h('button', { type: 'button', onClick: () => toggleAll(true) }, 'Expand all'),
      h('button', { type: 'button', onClick: () => toggleAll(false) }, 'Collapse all'),
    ),
    ...sections,
  ];
}

/** Tags in the document's order, then any other tag; untagged operations last. */
function groupByTag(spec) {
  const groups = new Map();
  for (const tag of spec.tags || []) groups.set(tag.name, { tag: tag.name, description: tag.description, operations: [] });
  for (const [path, item] of Object.entries(spec.paths || {})) {
    for (const method of METHODS) {
      const operation = item[method];
      if (!operation) continue;
      const tag = (operation.tags && operation.tags[0]) || 'other';
      if (!groups.has(tag)) groups.set(tag, { tag, description: '', operations: [] });
      groups.get(tag).operations.push({ path, method, operation, shared: item.parameters || [] });
    }
  }
  return [...groups.values()].filter((group) => group.operations.length > 0);
}

function filter(sections, text) {
  const needle = text.trim().toLowerCase();
  for (const section of sections) {
    let shown = 0;
    for (const op of section.querySelectorAll('details.op')) {
      const match = !needle || op.dataset.search.includes(needle);
      op.hidden = !match;
      if (match) shown += 1;
    }
    section.hidden = shown === 0;
  }
}

function toggleAll(open) {
  for (const op of root.querySelectorAll('details.op')) if (!op.hidden) op.open = open;
}

// ---- one operation ----

function renderOperation(spec, { path, method, operation, shared }) {
  const secured = (operation.security || spec.security || []).filter((req) => Object.keys(req).length > 0);
  const optional = (operation.security || []).some((req) => Object.keys(req).length === 0);
  const lock = secured.length
    ? h('span', { class: 'lock', title: 'Needs a token' },
      `${optional ? 'optional ' : ''}${secured.flatMap((req) => Object.keys(req)).join(' or ')} token`)
    : null;
  const details = h('details', {
    class: 'op',
    id: operation.operationId ? `op-${operation.operationId}` : null,
    dataset: { search: `${method} ${path} ${operation.summary || ''} ${operation.operationId || ''}`.toLowerCase() },
  });
  details.append(h('summary', {},
    h('span', { class: `method ${method}` }, method),
    h('code', { class: 'path' }, path),
    operation.summary ? h('span', { class: 'summary' }, operation.summary) : null,
    lock));
  // The body is built when first opened: the page stays light with every operation closed.
  details.addEventListener('toggle', () => {
    if (details.open && details.childElementCount === 1) details.append(operationBody(spec, operation, shared, secured));
  });
  return details;
}

function operationBody(spec, operation, shared, secured) {
  const body = h('div', { class: 'op-body' });
  if (operation.description) body.append(...operation.description.split(/\n\s*\n/).map(paragraph));
  if (secured.length) {
    const schemes = spec.components?.securitySchemes || {};
    body.append(h('h3', {}, 'Authorization'), h('ul', {}, secured.flatMap((req) => Object.keys(req)).map((name) => {
      const scheme = schemes[name] || {};
      const how = scheme.type === 'http' ? `Authorization: ${capitalize(scheme.scheme || '')} <token>` : scheme.type || '';
      return h('li', {}, h('code', {}, how), ` (${name})`, scheme.description ? [' — ', inline(scheme.description)] : '');
    })));
  }
  const parameters = [...shared, ...(operation.parameters || [])].map((p) => resolve(spec, p).value);
  if (parameters.length) body.append(h('h3', {}, 'Parameters'), parameterTable(spec, parameters));
  if (operation.requestBody) {
    const request = resolve(spec, operation.requestBody).value;
    body.append(h('h3', {}, `Request body${request.required ? '' : ' (optional)'}`));
    if (request.description) body.append(paragraph(request.description));
    body.append(...contentBlocks(spec, request.content));
  }
  body.append(h('h3', {}, 'Responses'));
  for (const [status, ref] of Object.entries(operation.responses || {})) {
    const { value: response, name } = resolve(spec, ref);
    const kind = status.startsWith('2') || status.startsWith('3') ? 'ok' : 'fail';
    const block = h('div', { class: `response ${kind}` },
      h('div', {}, h('span', { class: 'status-code' }, status), inline(response.description),
        name ? h('span', { class: 'ref' }, ` (${name})`) : null));
    const headers = Object.entries(response.headers || {});
    if (headers.length) {
      block.append(h('ul', {}, headers.map(([header, value]) =>
        h('li', {}, 'Header ', h('code', {}, header), value.description ? [' — ', inline(value.description)] : ''))));
    }
    block.append(...contentBlocks(spec, response.content));
    body.append(block);
  }
  return body;
}

function parameterTable(spec, parameters) {
  return h('table', { class: 'params' },
    h('thead', {}, h('tr', {}, ['name', 'in', 'type', 'description'].map((t) => h('th', {}, t)))),
    h('tbody', {}, parameters.map((p) => {
      const schema = p.schema ? resolve(spec, p.schema).value : {};
      return h('tr', {},
        h('td', {}, h('code', {}, p.name), p.required ? h('span', { class: 'schema' }, h('span', { class: 'flag required' }, 'required')) : null),
        h('td', {}, p.in),
        h('td', {}, h('span', { class: 'type' }, typeLabel(spec, schema)), constraints(schema)),
        h('td', {}, inline(p.description || schema.description)));
    })));
}

/** Each media type of a request or response: its type, its schema tree, its examples. */
function contentBlocks(spec, content) {
  return Object.entries(content || {}).map(([type, media]) => {
    const block = h('div', {}, h('div', { class: 'ctype' }, type));
    if (media.schema) block.append(schemaTree(spec, media.schema));
    const examples = [];
    if (media.example !== undefined) examples.push(['example', media.example]);
    for (const [name, example] of Object.entries(media.examples || {})) {
      const value = resolve(spec, example).value;
      if (value.value !== undefined) examples.push([value.summary || name, value.value]);
    }
    if (examples.length) {
      block.append(h('details', { class: 'examples' }, h('summary', {}, `Example${examples.length > 1 ? 's' : ''}`),
        examples.map(([name, value]) => [h('div', { class: 'muted' }, name), h('pre', {}, JSON.stringify(value, null, 2))])));
    }
    return block;
  });
}

// ---- schemas ----

/** Follows a local `$ref` (any component kind); answers the target and its name. */
function resolve(spec, node, hops = 0) {
  if (!node || typeof node !== 'object' || typeof node.$ref !== 'string') return { value: node || {}, name: null };
  if (hops > 20 || !node.$ref.startsWith('#/')) return { value: {}, name: node.$ref };
  let target = spec;
  for (const part of node.$ref.slice(2).split('/')) {
    target = target?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  const name = node.$ref.split('/').pop();
  const deeper = resolve(spec, target, hops + 1);
  return { value: deeper.value, name: deeper.name || name };
}

function schemaTree(spec, schema) {
  return h('ul', { class: 'schema root' }, schemaItem(spec, null, schema, true, 0, new Set()));
}

/** One line of the tree (name, type, flags, description) and its children. */
function schemaItem(spec, name, node, required, depth, seen) {
  const { value: schema, name: refName } = resolve(spec, node);
  const nullable = isNullable(schema);
  const line = h('li', {},
    name !== null ? h('span', { class: 'name' }, name) : null,
    name !== null ? ': ' : null,
    h('span', { class: 'type' }, typeLabel(spec, node)),
    name !== null && required ? h('span', { class: 'flag required' }, 'required') : null,
    nullable ? h('span', { class: 'flag' }, 'nullable') : null,
    constraints(schema),
    schema.description ? h('span', { class: 'desc' }, ' — ', inline(schema.description)) : null);
  if (refName && seen.has(refName)) {
    line.append(h('span', { class: 'ref' }, ' (see above)'));
    return line;
  }
  if (depth >= MAX_DEPTH) return line;
  const inner = refName ? new Set([...seen, refName]) : seen;
  const children = childItems(spec, schema, depth, inner);
  if (children.length) line.append(h('ul', { class: 'schema' }, children));
  return line;
}

function childItems(spec, schema, depth, seen) {
  const items = [];
  // allOf: one object made of all its parts (serde's flatten).
  if (Array.isArray(schema.allOf)) {
    for (const part of schema.allOf) items.push(...childItems(spec, resolve(spec, part).value, depth, seen));
  }
  for (const [key, list] of [['oneOf', 'one of'], ['anyOf', 'any of']]) {
    const variants = (schema[key] || []).filter((v) => resolve(spec, v).value.type !== 'null');
    if (variants.length > 1 || (variants.length === 1 && !isObjectLike(resolve(spec, variants[0]).value))) {
      variants.forEach((variant, i) => {
        const title = resolve(spec, variant).value.title || `${list} #${i + 1}`;
        items.push(schemaItem(spec, `(${title})`, variant, false, depth + 1, seen));
      });
    } else if (variants.length === 1) {
      items.push(...childItems(spec, resolve(spec, variants[0]).value, depth, seen));
    }
  }
  const required = new Set(schema.required || []);
  for (const [key, property] of Object.entries(schema.properties || {})) {
    items.push(schemaItem(spec, key, property, required.has(key), depth + 1, seen));
  }
  if (schema.items) items.push(schemaItem(spec, '[]', schema.items, false, depth + 1, seen));
  if (schema.additionalProperties && typeof schema.additionalProperties === 'object') {
    items.push(schemaItem(spec, '{key}', schema.additionalProperties, false, depth + 1, seen));
  }
  return items;
}

function isObjectLike(schema) {
  return Boolean(schema.properties || schema.allOf || schema.oneOf || schema.anyOf || schema.items);
}

function isNullable(schema) {
  if (schema.nullable) return true;
  if (Array.isArray(schema.type) && schema.type.includes('null')) return true;
  return ['oneOf', 'anyOf'].some((key) => (schema[key] || []).some((v) => v && v.type === 'null'));
}

/** `string (date-time)`, `array of RoomView`, `"ok" | "degraded"`, `RoomView`… */
function typeLabel(spec, node) {
  const { value: schema, name } = resolve(spec, node);
  if (name) return name;
  if (Array.isArray(schema.enum)) return schema.enum.map((v) => JSON.stringify(v)).join(' | ');
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  let types = Array.isArray(schema.type) ? schema.type.filter((t) => t !== 'null') : schema.type ? [schema.type] : [];
  if (!types.length) {
    const variants = [...(schema.oneOf || []), ...(schema.anyOf || [])].filter((v) => v && v.type !== 'null');
    if (variants.length) return variants.map((v) => typeLabel(spec, v)).join(' | ');
    if (schema.allOf) return schema.allOf.length === 1 ? typeLabel(spec, schema.allOf[0]) : 'object';
    types = schema.properties ? ['object'] : ['any'];
  }
  return types.map((type) => {
    if (type === 'array') return `array of ${schema.items ? typeLabel(spec, schema.items) : 'any'}`;
    return schema.format ? `${type} (${schema.format})` : type;
  }).join(' | ');
}

/** Bounds, patterns, defaults and examples, as small flags. */
function constraints(schema) {
  const flags = [];
  const add = (label, value) => { if (value !== undefined && value !== null) flags.push(`${label} ${typeof value === 'string' ? value : JSON.stringify(value)}`); };
  add('min', schema.minimum);
  add('max', schema.maximum);
  add('min length', schema.minLength);
  add('max length', schema.maxLength);
  add('pattern', schema.pattern);
  add('default', schema.default);
  add('e.g.', schema.example ?? (Array.isArray(schema.examples) ? schema.examples[0] : undefined));
  return flags.map((flag) => h('span', { class: 'flag' }, flag));
}

// ---- text ----

/** Text where `backticked` runs become <code>: text nodes only. */
function inline(text) {
  return String(text ?? '').split('`').map((part, i) => (i % 2 === 1 ? h('code', {}, part) : part));
}

function paragraph(text) {
  return h('p', {}, inline(text));
}

function capitalize(word) {
  return word ? word[0].toUpperCase() + word.slice(1) : word;
}

main();
