// Debian's Chromium driven by playwright-core: one browser per test file, one
// context per simulated person, screenshots under output/<test name>/, and
// every page's uncaught errors collected so a test can insist there were none.

import assert from 'node:assert/strict';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const OUTPUT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'output');
export const WAIT_MS = 10_000;

/** Launches Chromium before the file's tests and closes it after; returns a holder with `.browser`. */
export function useBrowser() {
  const holder = { browser: null };
  before(async () => {
    holder.browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  });
  after(async () => {
    await holder.browser?.close();
  });
  return holder;
}

/**
 * A test's scene: people (browser contexts) it opens, closed at the end, and
 * numbered screenshots in output/<test name>/.
 */
export class Scene {
  constructor(browser, testName) {
    this.browser = browser;
    this.dir = path.join(OUTPUT, slug(testName));
    rmSync(this.dir, { recursive: true, force: true });
    mkdirSync(this.dir, { recursive: true });
    this.contexts = [];
    this.shots = 0;
    this.errors = [];
  }

  /** A new person: its own context (own localStorage) and page. */
  async person(label, { viewport = { width: 1280, height: 800 } } = {}) {
    const context = await this.browser.newContext({ viewport });
    this.contexts.push(context);
    const page = await context.newPage();
    page.label = label;
    page.on('pageerror', (err) => this.errors.push(`${label}: page error: ${err.message}`));
    page.on('console', (msg) => {
      // A refused connection while the server is down is expected; anything else is a bug.
      if (msg.type() === 'error' && !/ERR_CONNECTION_REFUSED|Failed to load resource/.test(msg.text())) {
        this.errors.push(`${label}: console error: ${msg.text()}`);
      }
    });
    return { context, page };
  }

  async shot(page, label) {
    this.shots += 1;
    const file = path.join(this.dir, `${String(this.shots).padStart(2, '0')}-${slug(label)}.png`);
    await page.screenshot({ path: file, fullPage: false }).catch(() => {});
    return file;
  }

  /** Asserts no page threw and nothing logged an error (CSP refusals included). */
  assertNoErrors() {
    assert.deepEqual(this.errors, [], 'no page errors');
  }

  async close() {
    for (const c of this.contexts) await c.close().catch(() => {});
    this.contexts = [];
  }
}

function slug(text) {
  return String(text).toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 80) || 'test';
}

/** Polls `check` until it returns a truthy value; throws with `what` and the last value after `ms`. */
export async function eventually(check, { ms = WAIT_MS, every = 100, what = 'condition' } = {}) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await check();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`${what}: not within ${ms} ms (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    }
    await new Promise((r) => setTimeout(r, every));
  }
}

/**
 * Records the engine.io packets a page sends and receives, over both transports
 * (HTTP long-polling bodies, split at their \x1e separators, and websocket
 * frames), as raw text: proof of what travelled on the wire, e.g. the offsets of
 * a reconnect ("40{...}"), a replay ("42[...]"), a refusal ("44{...}").
 */
export function recordSocketTraffic(page) {
  const traffic = { sent: [], received: [] };
  const packets = (body) => String(body || '').split('\x1e');
  page.on('request', (req) => {
    if (req.url().includes('/socket.io/') && req.method() === 'POST') traffic.sent.push(...packets(req.postData()));
  });
  page.on('response', async (res) => {
    if (!res.url().includes('/socket.io/') || res.request().method() !== 'GET') return;
    try {
      traffic.received.push(...packets(await res.text()));
    } catch {
      // the page went away
    }
  });
  page.on('websocket', (ws) => {
    if (!ws.url().includes('/socket.io/')) return;
    ws.on('framesent', (f) => traffic.sent.push(String(f.payload)));
    ws.on('framereceived', (f) => traffic.received.push(String(f.payload)));
  });
  return traffic;
}
