// Starts the real rtchat binary for a browser test file (SQLite in a temp dir),
// restarts it on the same port and database, and calls its REST API to set up
// scenes. Shares ../../lib/server.js's helpers; the protocol suite's own server
// start stays there.
//
// RTCHAT_BIN (or E2E_RTCHAT_BIN) overrides target/debug/rtchat; E2E_WEB_DIR
// makes the server serve web/ from disk (RTCHAT_WEB_DIR) instead of the copy
// embedded at build time; E2E_SERVER_LOG=1 copies the server's output to stderr.

import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const BINARY = process.env.RTCHAT_BIN || process.env.E2E_RTCHAT_BIN || path.join(REPO_ROOT, 'target', 'debug', 'rtchat');
const WEB_DIR = process.env.E2E_WEB_DIR ? path.resolve(REPO_ROOT, process.env.E2E_WEB_DIR) : null;

const START_DEADLINE_MS = 60_000;
const STOP_DEADLINE_MS = 10_000;

// The protocol suite's small helpers (that module imports only Node's own).
export { ApiError, freePort, randomString, sleep } from '../../lib/server.js';
import { ApiError, freePort, randomString, sleep } from '../../lib/server.js';

/**
 * Starts `rtchat serve` on a free port with a fresh SQLite file, a random JWT
 * secret, bcrypt cost 4 and the per-address limits lifted (tests register many
 * users from one address). The message limit stays at its default (5 per 10 s)
 * unless `env` raises it.
 */
export async function startServer({ env: extra = {} } = {}) {
  if (!existsSync(BINARY)) throw new Error(`rtchat binary not found at ${BINARY}: build it first (cargo build)`);
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'rtchat-browser-'));
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TMPDIR: process.env.TMPDIR,
    RTCHAT_ENV: 'test',
    PORT: String(await freePort()),
    RTCHAT_SERVER__HOST: '127.0.0.1',
    RTCHAT_SERVER__SHUTDOWN_GRACE_SECS: '2',
    DATABASE_URL: `sqlite:${path.join(workDir, 'chat.db')}`,
    JWT_SEC: randomString(40),
    RTCHAT_AUTH__BCRYPT_COST: '4',
    RTCHAT_LIMITS__API_MAX: '100000',
    RTCHAT_LIMITS__AUTH_IP_MAX: '100000',
    RUST_LOG: process.env.E2E_RUST_LOG || 'warn',
    ...(WEB_DIR ? { RTCHAT_WEB_DIR: WEB_DIR } : {}),
    ...extra,
  };
  const server = new Server(env, workDir);
  await server.start();
  await server.checkWebClient();
  return server;
}

export class Server {
  constructor(env, workDir) {
    this.env = env;
    this.workDir = workDir;
    this.port = Number(env.PORT);
    this.url = `http://127.0.0.1:${this.port}`;
    this.logPath = path.join(workDir, 'server.log');
    this.log = createWriteStream(this.logPath, { flags: 'a' });
    this.child = null;
    this.exited = null;
    this.userCounter = 0;
  }

  /** Spawns the process (same port, database and secret every time) and waits for /health. */
  async start() {
    const child = spawn(BINARY, ['serve'], { cwd: REPO_ROOT, env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.exited = null;
    for (const stream of [child.stdout, child.stderr]) {
      stream.on('data', (chunk) => {
        this.log.write(chunk);
        if (process.env.E2E_SERVER_LOG === '1') process.stderr.write(chunk);
      });
    }
    this.exitPromise = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        this.exited = { code, signal };
        resolve(this.exited);
      });
    });
    const killOnExit = () => child.exitCode === null && child.kill('SIGKILL');
    process.once('exit', killOnExit);

    const deadline = Date.now() + START_DEADLINE_MS;
    for (;;) {
      if (this.exited) throw new Error(`rtchat exited during start (${JSON.stringify(this.exited)}):\n${this.logTail()}`);
      try {
        const res = await fetch(`${this.url}/health`, { signal: AbortSignal.timeout(2_000) });
        await res.arrayBuffer();
        if (res.status === 200) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`rtchat did not answer GET /health within ${START_DEADLINE_MS} ms:\n${this.logTail()}`);
      }
      await sleep(100);
    }
  }

  /**
   * The pages the browser loads must be this checkout's web/: a binary built
   * before the client last changed embeds an older copy. Every file is compared.
   */
  async checkWebClient() {
    const webRoot = path.join(REPO_ROOT, 'web');
    const stale = [];
    for (const file of listFiles(webRoot)) {
      const rel = path.relative(webRoot, file).split(path.sep).join('/');
      const pages = { 'index.html': '/', 'api-docs.html': '/api/docs' };
      const urlPath = pages[rel] ?? `/${rel}`;
      if (!(rel in pages) && !rel.startsWith('assets/')) continue; // served: the two pages and assets/ only
      const res = await fetch(`${this.url}${urlPath}`);
      const served = Buffer.from(await res.arrayBuffer());
      if (res.status !== 200 || !served.equals(readFileSync(file))) stale.push(`${urlPath} (HTTP ${res.status})`);
    }
    if (stale.length) {
      await this.stop();
      throw new Error(
        `${BINARY} does not serve this checkout's web/: ${stale.slice(0, 5).join(', ')}${stale.length > 5 ? ', ...' : ''} differ. ` +
          'Rebuild the server (cargo build: web/ is embedded at build time), or run with E2E_WEB_DIR=web to serve it from disk.',
      );
    }
  }

  logTail() {
    try {
      return readFileSync(this.logPath, 'utf8').split('\n').slice(-40).join('\n');
    } catch {
      return '';
    }
  }

  /** Kills the process at once (no graceful shutdown: clients see the connection drop). */
  async kill() {
    if (this.child && !this.exited) {
      this.child.kill('SIGKILL');
      await this.exitPromise;
    }
  }

  /** Starts it again on the same port and SQLite file. */
  async restart() {
    await this.kill();
    await this.start();
  }

  /** SIGTERM, then SIGKILL after a deadline; removes the temp dir. */
  async stop() {
    if (this.child && !this.exited) {
      this.child.kill('SIGTERM');
      let timer;
      const outcome = await Promise.race([
        this.exitPromise,
        new Promise((resolve) => {
          timer = setTimeout(() => resolve('timeout'), STOP_DEADLINE_MS);
        }),
      ]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        this.child.kill('SIGKILL');
        await this.exitPromise;
      }
    }
    this.log.end();
    if (process.env.E2E_KEEP_TMP !== '1') rmSync(this.workDir, { recursive: true, force: true });
  }

  /** `data` of a successful envelope; throws ApiError otherwise. */
  async api(method, urlPath, { token, body } = {}) {
    const headers = {};
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(`${this.url}/api/v1${urlPath}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    let parsed = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // keep the text
    }
    if (!res.ok || parsed?.status !== 'success') throw new ApiError(method, urlPath, res.status, parsed);
    return parsed.data;
  }

  /** A fresh user's details (not registered): `{username, email, password, fullName}`. */
  newUser(name = 'user') {
    this.userCounter += 1;
    const prefix = String(name).replace(/[^A-Za-z0-9_]/g, '').slice(0, 10) || 'user';
    const username = `${prefix}_${this.userCounter}_${randomString(5)}`.slice(0, 30);
    return { username, email: `${username.toLowerCase()}@browser.example.com`, password: `pw-${randomString(10)}`, fullName: `Browser ${prefix}` };
  }

  /** Registers over REST: `{id, username, email, password, token, refreshToken, user}`. */
  async register(name = 'user') {
    const details = this.newUser(name);
    const data = await this.api('POST', '/auth/register', { body: details });
    return { ...details, id: data.user.id, token: data.token, refreshToken: data.refreshToken, user: data.user };
  }

  async createRoom(token, name, { isPrivate = false } = {}) {
    return (await this.api('POST', '/rooms', { token, body: { name, isPrivate } })).room;
  }

  async joinRoom(token, roomId, inviteCode) {
    return (await this.api('POST', `/rooms/${roomId}/join`, { token, body: inviteCode ? { inviteCode } : {} })).room;
  }

  async sendRest(token, roomId, content, clientMsgId) {
    const body = { content };
    if (clientMsgId) body.clientMsgId = clientMsgId;
    return (await this.api('POST', `/rooms/${roomId}/messages`, { token, body })).message;
  }

  async history(token, roomId) {
    return (await this.api('GET', `/rooms/${roomId}/messages?after=0&limit=100`, { token })).messages;
  }
}

function listFiles(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(full));
    else out.push(full);
  }
  return out;
}

/** Starts one server for the test file (before) and stops it (after); returns a holder with `.server`. */
export function useServer(options = {}) {
  const holder = { server: null };
  before(async () => {
    holder.server = await startServer(options);
  });
  after(async () => {
    await holder.server?.stop();
  });
  return holder;
}
