// The offline API docs page (/api/docs: web/api-docs.html, assets/js/api-docs.js):
// built from /api/v1/openapi.json with the server's own files only (every
// request the page makes is recorded, and any for another origin is refused as
// if offline), under the page's Content-Security-Policy without a violation;
// the document's title and version, every operation under its tag; an
// operation unfolding into its parameters and responses; the filter, "Expand
// all" (every operation's body rendered) and "Collapse all".

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { eventually, Scene, useBrowser, WAIT_MS } from '../lib/browser.js';
import { REPO_ROOT, useServer } from '../lib/server.js';

const ctx = useServer();
const chrome = useBrowser();

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

// useServer's check compares index.html and assets/ only: a binary built before
// api-docs.html last changed would serve an older page. (Checked in the tests:
// a top-level before() starts at once, while the server may still be starting.)
let docsChecked = null;
function checkDocsPage(server) {
  docsChecked ??= (async () => {
    const res = await fetch(`${server.url}/api/docs`);
    const served = Buffer.from(await res.arrayBuffer());
    assert.equal(res.status, 200, 'GET /api/docs');
    assert.ok(
      served.equals(readFileSync(path.join(REPO_ROOT, 'web', 'api-docs.html'))),
      '/api/docs is not this checkout\'s web/api-docs.html: rebuild the server (cargo build), or run with E2E_WEB_DIR=web',
    );
  })();
  return docsChecked;
}

async function openapi(server) {
  const res = await fetch(`${server.url}/api/v1/openapi.json`, { signal: AbortSignal.timeout(15_000) });
  assert.equal(res.status, 200, 'GET /api/v1/openapi.json');
  assert.match(res.headers.get('content-type') || '', /application\/json/);
  return res.json();
}

/** Every operation of the document: `{method, path, operation, shared}`. */
function operationsOf(spec) {
  const ops = [];
  for (const [p, item] of Object.entries(spec.paths || {})) {
    for (const [method, operation] of Object.entries(item)) {
      if (HTTP_METHODS.includes(method)) ops.push({ method, path: p, operation, shared: item.parameters || [] });
    }
  }
  return ops;
}

const key = (method, p) => `${method.toLowerCase()} ${p}`;

/** A local `$ref` followed to its target: `{value, name}`. */
function resolve(spec, node) {
  let name = null;
  for (let hops = 0; node && typeof node.$ref === 'string' && hops < 20; hops += 1) {
    name = node.$ref.split('/').pop();
    node = node.$ref
      .slice(2)
      .split('/')
      .reduce((target, part) => target?.[part.replace(/~1/g, '/').replace(/~0/g, '~')], spec);
  }
  return { value: node || {}, name };
}

/**
 * Opens /api/docs as a new person. Records every request the page makes, refuses
 * (as if offline) any that is not for the server's origin, and collects failed
 * loads, console lines about the Content Security Policy and the page's own
 * `securitypolicyviolation` events (window.cspViolations).
 */
async function openDocs(scene, server, label, options) {
  const { page, context } = await scene.person(label, options);
  const seen = { requests: [], foreign: [], failed: [], csp: [] };
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('data:') || new URL(url).origin === server.url) return route.continue();
    seen.foreign.push(url);
    return route.abort('internetdisconnected');
  });
  page.on('request', (req) => seen.requests.push(req.url()));
  page.on('requestfailed', (req) => seen.failed.push(`${req.url()}: ${req.failure()?.errorText}`));
  page.on('response', (res) => {
    if (res.status() >= 400) seen.failed.push(`${res.url()}: HTTP ${res.status()}`);
  });
  page.on('console', (msg) => {
    if (/Content[- ]Security[- ]Policy/i.test(msg.text())) seen.csp.push(`${msg.type()}: ${msg.text()}`);
  });
  await page.addInitScript(() => {
    window.cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) =>
      window.cspViolations.push(`${e.effectiveDirective}: ${e.blockedURI || e.sourceFile || 'inline'}`),
    );
  });
  const response = await page.goto(`${server.url}/api/docs`);
  await page.locator('#docs h1').waitFor({ timeout: WAIT_MS });
  return { page, context, seen, response };
}

/** The operations the page lists, in its order: method, path, tag section, anchor, summary, visibility. */
function listed(page) {
  return page.evaluate(() =>
    [...document.querySelectorAll('#docs details.op')].map((d) => ({
      method: d.querySelector(':scope > summary .method')?.textContent,
      path: d.querySelector(':scope > summary code.path')?.textContent,
      section: d.closest('section')?.id,
      id: d.id,
      summary: d.querySelector(':scope > summary .summary')?.textContent ?? null,
      visible: d.querySelector(':scope > summary').checkVisibility(),
      open: d.open,
    })),
  );
}

test('the docs page renders the whole OpenAPI document from the server alone, under its CSP', async (t) => {
  const { server } = ctx;
  const scene = new Scene(chrome.browser, t.name);
  try {
    await checkDocsPage(server);
    const spec = await openapi(server);
    const ops = operationsOf(spec);
    assert.ok(ops.length > 20, `the document lists ${ops.length} operations`);

    const { page, seen, response } = await openDocs(scene, server, 'reader');
    assert.equal(response.status(), 200);
    assert.match(response.headers()['content-type'], /^text\/html/);
    const policy = response.headers()['content-security-policy'] || '';
    assert.match(policy, /default-src 'self'/, 'the page is served with its Content-Security-Policy');
    assert.equal(await page.title(), 'rtchat API');

    // Title and version, the OpenAPI version and the licence, from the document.
    const h1 = page.locator('#docs h1');
    assert.equal((await h1.textContent()).trim(), `${spec.info.title} v${spec.info.version}`);
    assert.ok(spec.info.title && spec.info.version, 'the document has a title and a version');
    const meta = await page.locator('#docs > p.muted').first().textContent();
    assert.ok(meta.includes(`OpenAPI ${spec.openapi}`), `OpenAPI version shown: ${meta}`);
    if (spec.info.license) assert.ok(meta.includes(`license ${spec.info.license.name}`), `licence shown: ${meta}`);
    assert.equal(await page.locator('#docs .boot').count(), 0, 'the loading line is gone');
    assert.equal(await page.locator('#docs .error').count(), 0, 'no load error shown');

    // Every path and method of the document, once each, visible, under its tag.
    const shown = await listed(page);
    assert.deepEqual(
      shown.map((o) => key(o.method, o.path)).sort(),
      ops.map((o) => key(o.method, o.path)).sort(),
      'the page lists exactly the document\'s operations',
    );
    const byKey = new Map(shown.map((o) => [key(o.method, o.path), o]));
    for (const { method, path: p, operation } of ops) {
      const o = byKey.get(key(method, p));
      assert.ok(o.visible, `${key(method, p)} visible`);
      assert.equal(o.open, false, `${key(method, p)} starts closed`);
      assert.equal(o.section, `tag-${operation.tags?.[0] || 'other'}`, `${key(method, p)} under its tag`);
      if (operation.operationId) assert.equal(o.id, `op-${operation.operationId}`, `${key(method, p)} anchor`);
      if (operation.summary) assert.equal(o.summary, operation.summary, `${key(method, p)} summary`);
    }
    // The tag links with their counts.
    const counts = new Map();
    for (const { operation } of ops) {
      const tag = operation.tags?.[0] || 'other';
      counts.set(tag, (counts.get(tag) || 0) + 1);
    }
    const nav = await page.locator('#docs .docs-nav a').evaluateAll((links) => links.map((a) => [a.getAttribute('href'), a.textContent]));
    assert.deepEqual(
      nav.slice().sort(),
      [...counts].map(([tag, n]) => [`#tag-${tag}`, `${tag} (${n})`]).sort(),
      'one link per tag, with its count',
    );
    await scene.shot(page, 'loaded');

    // Offline: the page needed nothing but the server.
    assert.deepEqual(seen.foreign, [], 'no request for another origin (no CDN)');
    const network = seen.requests.filter((u) => !u.startsWith('data:'));
    for (const url of network) assert.equal(new URL(url).origin, server.url, `request to the server itself: ${url}`);
    const paths = new Set(network.map((u) => new URL(u).pathname));
    for (const needed of ['/api/docs', '/assets/js/api-docs.js', '/assets/js/dom.js', '/assets/api-docs.css', '/api/v1/openapi.json']) {
      assert.ok(paths.has(needed), `the page loaded ${needed} (got ${[...paths].join(', ')})`);
    }
    assert.deepEqual(seen.failed, [], 'every load succeeded');
    assert.deepEqual(seen.csp, [], 'no console line about the Content Security Policy');
    assert.deepEqual(await page.evaluate(() => window.cspViolations), [], 'no securitypolicyviolation event');
    scene.assertNoErrors();

    // The listeners above do hear a violation: a CDN image is refused by the policy.
    await page.evaluate(() => {
      const img = document.createElement('img');
      img.src = 'https://cdn.example.invalid/logo.png';
      document.body.append(img);
    });
    await eventually(() => page.evaluate(() => window.cspViolations.length > 0), { what: 'CSP refusal of a CDN image reported' });
    await eventually(() => seen.csp.length > 0, { what: 'CSP refusal logged to the console' });
    assert.deepEqual(seen.foreign, [], 'the refused image never reached the network');
  } finally {
    await scene.close();
  }
});

test('an operation unfolds into its parameters and responses; filter, expand all, collapse all', async (t) => {
  const { server } = ctx;
  const scene = new Scene(chrome.browser, t.name);
  try {
    await checkDocsPage(server);
    const spec = await openapi(server);
    const ops = operationsOf(spec);
    const { page, seen } = await openDocs(scene, server, 'reader');

    // An operation with path parameters, a body and a token (PATCH /rooms/{roomId}-like), else any with parameters.
    const params = (op) => [...op.shared, ...(op.operation.parameters || [])].map((p) => resolve(spec, p).value);
    const chosen =
      ops.find((op) => params(op).some((p) => p.in === 'path') && op.operation.requestBody && op.operation.security?.length) ||
      ops.find((op) => params(op).length > 0);
    assert.ok(chosen, 'the document has an operation with parameters');
    const { operation } = chosen;
    const op = page.locator(`details.op[id="op-${operation.operationId}"]`);
    const body = op.locator('.op-body');
    assert.equal(await body.count(), 0, 'the body is built only when opened');

    await op.locator(':scope > summary').click();
    await body.waitFor({ state: 'visible', timeout: WAIT_MS });
    assert.equal(await op.evaluate((d) => d.open), true);
    const headings = await body.locator('h3').allTextContents();
    assert.ok(headings.includes('Parameters'), `headings: ${headings}`);
    assert.ok(headings.includes('Responses'), `headings: ${headings}`);
    if (operation.requestBody) assert.ok(headings.some((h) => h.startsWith('Request body')), `headings: ${headings}`);
    if (operation.security?.some((req) => Object.keys(req).length)) assert.ok(headings.includes('Authorization'), `headings: ${headings}`);
    const rows = await body.locator('table.params tbody tr').evaluateAll((trs) =>
      trs.map((tr) => ({ name: tr.cells[0].querySelector('code')?.textContent, in: tr.cells[1].textContent })),
    );
    assert.deepEqual(rows, params(chosen).map((p) => ({ name: p.name, in: p.in })), 'one row per parameter, name and place');
    const responses = await body.locator('.response').evaluateAll((blocks) =>
      blocks.map((b) => ({ status: b.querySelector('.status-code')?.textContent, text: b.textContent })),
    );
    assert.deepEqual(responses.map((r) => r.status), Object.keys(operation.responses), 'every documented status');
    for (const [i, [status, ref]] of Object.entries(operation.responses).entries()) {
      const { value, name } = resolve(spec, ref);
      if (value.description) assert.ok(responses[i].text.includes(value.description.split('`')[0]), `${status}: its description`);
      if (name) assert.ok(responses[i].text.includes(`(${name})`), `${status}: names ${name}`);
    }
    // Its summary at the top, below the sticky bar.
    await op.evaluate((d) => window.scrollTo(0, d.getBoundingClientRect().top + window.scrollY - 50));
    await scene.shot(page, `${chosen.method} ${chosen.path} open`);

    // Its examples (a nested <details>) open onto JSON.
    const examples = body.locator('details.examples').first();
    if (await examples.count()) {
      const pre = examples.locator('pre').first();
      assert.equal(await pre.isVisible(), false, 'examples start closed');
      await examples.locator(':scope > summary').click();
      await pre.waitFor({ state: 'visible', timeout: WAIT_MS });
      const json = await pre.textContent();
      assert.doesNotThrow(() => JSON.parse(json), `an example is JSON: ${json}`);
    }

    await op.locator(':scope > summary').click();
    await body.waitFor({ state: 'hidden', timeout: WAIT_MS });
    assert.equal(await op.evaluate((d) => d.open), false, 'closed again');

    // The filter: by method, path, summary or operation id; a tag with no match disappears.
    const search = page.getByRole('searchbox', { name: 'Filter operations' });
    const matching = (needle) =>
      ops
        .filter(({ method, path: p, operation: o }) =>
          `${method} ${p} ${o.summary || ''} ${o.operationId || ''}`.toLowerCase().includes(needle))
        .map(({ method, path: p }) => key(method, p))
        .sort();
    const visible = async () => (await listed(page)).filter((o) => o.visible).map((o) => key(o.method, o.path)).sort();
    const needle = 'messages';
    const expected = matching(needle);
    assert.ok(expected.length > 0 && expected.length < ops.length, `"${needle}" matches some operations (${expected.length})`);
    await search.fill(needle);
    await eventually(async () => JSON.stringify(await visible()) === JSON.stringify(expected), { what: `only the "${needle}" operations shown` });
    const hiddenSections = await page.locator('#docs section.tag-section').evaluateAll((s) => s.filter((x) => x.hidden).map((x) => x.id));
    const withMatch = new Set(
      ops.filter((o) => expected.includes(key(o.method, o.path))).map((o) => `tag-${o.operation.tags?.[0] || 'other'}`),
    );
    const allSections = await page.locator('#docs section.tag-section').evaluateAll((s) => s.map((x) => x.id));
    assert.deepEqual(hiddenSections.sort(), allSections.filter((id) => !withMatch.has(id)).sort(), 'tags with no match hidden');
    await scene.shot(page, 'filtered');
    await search.fill('no-such-operation-anywhere');
    await eventually(async () => (await visible()).length === 0, { what: 'nothing shown for a needle matching nothing' });
    await search.fill('');
    await eventually(async () => (await visible()).length === ops.length, { what: 'every operation back' });

    // Expand all: every operation's body is built (its schemas rendered) with every status.
    await page.getByRole('button', { name: 'Expand all' }).click();
    await eventually(() => page.evaluate(() => [...document.querySelectorAll('details.op')].every((d) => d.open && d.querySelector('.op-body'))), {
      what: 'every operation open with its body',
    });
    const statuses = await page.evaluate(() =>
      Object.fromEntries(
        [...document.querySelectorAll('details.op')].map((d) => [
          `${d.querySelector('.method').textContent} ${d.querySelector('code.path').textContent}`,
          [...d.querySelectorAll('.op-body .response .status-code')].map((s) => s.textContent),
        ]),
      ),
    );
    for (const { method, path: p, operation: o } of ops) {
      assert.deepEqual(statuses[key(method, p)], Object.keys(o.responses || {}), `${key(method, p)}: its statuses`);
    }
    await scene.shot(page, 'expanded');
    await page.getByRole('button', { name: 'Collapse all' }).click();
    await eventually(async () => (await listed(page)).every((o) => !o.open), { what: 'every operation closed' });

    // A tag link scrolls to its section.
    const firstTag = (await page.locator('#docs .docs-nav a').first().getAttribute('href')).slice(1);
    await page.locator('#docs .docs-nav a').first().click();
    await eventually(() => page.evaluate(() => location.hash), { what: 'hash set' });
    assert.equal(await page.evaluate(() => location.hash), `#${firstTag}`);
    await scene.shot(page, 'collapsed');

    assert.deepEqual(seen.foreign, [], 'no request for another origin');
    assert.deepEqual(seen.failed, [], 'every load succeeded');
    assert.deepEqual(seen.csp, [], 'no console line about the Content Security Policy');
    assert.deepEqual(await page.evaluate(() => window.cspViolations), [], 'no securitypolicyviolation event');
    scene.assertNoErrors();
  } finally {
    await scene.close();
  }
});
