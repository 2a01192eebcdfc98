// Starts the real rtchat binary for a test file and talks to its REST API.
//
// Backend: E2E_DATABASE_URL (default: a fresh SQLite file under os.tmpdir()) and
// E2E_REDIS_URL (optional). E2E_RTCHAT_BIN overrides the binary path;
// E2E_SERVER_LOG=1 copies the server's output to stderr as it comes.

import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BINARY = process.env.E2E_RTCHAT_BIN || path.join(REPO_ROOT, 'target', 'debug', 'rtchat');

const START_DEADLINE_MS = 60_000;
const STOP_DEADLINE_MS = 10_000;
const REQUEST_TIMEOUT_MS = 15_000;

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
export function randomString(length) {
  const bytes = randomBytes(length);
  let out = '';
  for (const b of bytes) out += ALNUM[b % ALNUM.length];
  return out;
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** An error from the REST API that keeps the status and the envelope. */
export class ApiError extends Error {
  constructor(method, url, status, body) {
    super(`${method} ${url} -> ${status} ${typeof body === 'string' ? body : JSON.stringify(body)}`);
    this.status = status;
    this.body = body;
    this.code = body && typeof body === 'object' ? body.code : undefined;
  }
}

/**
 * Starts `target/debug/rtchat serve` on a free port and waits for `GET /health` to
 * answer 200. Options: `env` (extra variables, e.g. a higher message limit, or
 * the DATABASE_URL and JWT_SEC of an earlier server to restart it, or those a
 * cluster's nodes share: lib/cluster.js), `port`, `redis` (default: whether
 * E2E_REDIS_URL is set), `name` (prefixes the output echoed by E2E_SERVER_LOG=1,
 * so several nodes' lines can be told apart).
 */
export async function startServer(options = {}) {
  if (!existsSync(BINARY)) {
    throw new Error(`rtchat binary not found at ${BINARY}: build it first (cargo build)`);
  }
  // `port`: restart a server where an earlier one listened (clients reconnect to it).
  const port = options.port ?? (await freePort());
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'rtchat-e2e-'));
  // An explicit DATABASE_URL (a restart, or a cluster's shared database) wins, and
  // is what `server.databaseUrl` reports. stop() never drops a database.
  const databaseUrl = options.env?.DATABASE_URL || process.env.E2E_DATABASE_URL || `sqlite:${path.join(workDir, 'x.db')}`;
  const useRedis = options.redis ?? Boolean(process.env.E2E_REDIS_URL);
  const operatorToken = randomString(32);
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TMPDIR: process.env.TMPDIR,
    RTCHAT_ENV: 'test',
    PORT: String(port),
    RTCHAT_SERVER__HOST: '127.0.0.1',
    RTCHAT_SERVER__SHUTDOWN_GRACE_SECS: '2',
    DATABASE_URL: databaseUrl,
    JWT_SEC: randomString(40),
    RTCHAT_AUTH__BCRYPT_COST: '4',
    RTCHAT_OPERATOR__TOKEN: operatorToken,
    RTCHAT_LIMITS__API_MAX: '100000',
    RTCHAT_LIMITS__AUTH_IP_MAX: '100000',
    RTCHAT_LIMITS__CONNECTIONS_IP_MAX: '100000',
    RUST_LOG: process.env.E2E_RUST_LOG || 'warn',
    ...(useRedis
      ? {
          REDIS_URL: process.env.E2E_REDIS_URL || 'redis://127.0.0.1:6379',
          // Keeps this run's rate-limit counters apart from any other user of the Redis.
          RTCHAT_REDIS__KEY_PREFIX: `rtchat-e2e-${randomString(10)}`,
        }
      : {}),
    ...(options.env || {}),
  };
  for (const key of Object.keys(env)) if (env[key] === undefined) delete env[key];

  const logPath = path.join(workDir, 'server.log');
  const log = createWriteStream(logPath);
  const child = spawn(BINARY, ['serve'], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const echo = process.env.E2E_SERVER_LOG === '1';
  const prefix = options.name ? `[${options.name}] ` : '';
  for (const stream of [child.stdout, child.stderr]) {
    let lineStart = true; // a chunk may end mid-line: prefix only real line starts
    stream.on('data', (chunk) => {
      log.write(chunk);
      if (!echo) return;
      if (!prefix) return void process.stderr.write(chunk);
      const text = chunk.toString();
      process.stderr.write((lineStart ? prefix : '') + text.replace(/\n(?=.)/g, `\n${prefix}`));
      lineStart = text.endsWith('\n');
    });
  }
  let exited = null;
  const exitPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      resolve(exited);
    });
  });
  // If this test process ends without stopping the server, do not leave it behind.
  const killOnExit = () => {
    if (!exited) child.kill('SIGKILL');
  };
  process.on('exit', killOnExit);

  const baseUrl = `http://127.0.0.1:${port}`;
  const logTail = () => {
    try {
      return readFileSync(logPath, 'utf8').split('\n').slice(-40).join('\n');
    } catch {
      return '';
    }
  };

  const deadline = Date.now() + START_DEADLINE_MS;
  for (;;) {
    if (exited) {
      throw new Error(`rtchat exited during start (${JSON.stringify(exited)}); its output:\n${logTail()}`);
    }
    try {
      const res = await fetch(`${baseUrl}/health`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`rtchat did not answer GET /health with 200 within ${START_DEADLINE_MS} ms; its output:\n${logTail()}`);
    }
    await sleep(100);
  }

  const server = new Server({ baseUrl, port, child, operatorToken, databaseUrl, useRedis, workDir, logPath, logTail, name: options.name });
  server._exitPromise = exitPromise;
  server._isExited = () => exited;
  server._cleanup = () => {
    process.off('exit', killOnExit);
    log.end();
  };
  return server;
}

let userCounter = 0;

export class Server {
  constructor(fields) {
    Object.assign(this, fields);
    this.url = fields.baseUrl;
  }

  /** SIGTERM, then SIGKILL after a deadline. Removes the SQLite work dir. */
  async stop() {
    if (!this._isExited()) {
      this.child.kill('SIGTERM');
      let timer;
      const deadline = new Promise((resolve) => {
        timer = setTimeout(() => resolve('timeout'), STOP_DEADLINE_MS);
      });
      const outcome = await Promise.race([this._exitPromise, deadline]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        this.child.kill('SIGKILL');
        await this._exitPromise;
      }
    }
    this._cleanup();
    if (process.env.E2E_KEEP_TMP !== '1') rmSync(this.workDir, { recursive: true, force: true });
  }

  /** kill -9 (a crash: no shutdown, no goodbye to clients); resolves once it exited. */
  async kill(signal = 'SIGKILL') {
    if (!this._isExited()) this.child.kill(signal);
    return this._exitPromise;
  }

  /**
   * One REST call. Returns `{status, body, headers}`; throws ApiError on a non-2xx
   * answer unless `allowError` is set.
   */
  async request(method, urlPath, { token, body, allowError = false, headers = {} } = {}) {
    const url = `${this.baseUrl}${urlPath}`;
    const h = { ...headers };
    if (token) h.Authorization = `Bearer ${token}`;
    if (body !== undefined) h['Content-Type'] = 'application/json';
    const res = await fetch(url, {
      method,
      headers: h,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await res.text();
    let parsed = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: keep the text
    }
    if (!allowError && (res.status < 200 || res.status >= 300)) {
      throw new ApiError(method, urlPath, res.status, parsed);
    }
    return { status: res.status, body: parsed, headers: res.headers };
  }

  /** `data` of a successful envelope. */
  async api(method, urlPath, opts = {}) {
    const { body } = await this.request(method, `/api/v1${urlPath}`, opts);
    if (!body || body.status !== 'success') {
      throw new Error(`${method} ${urlPath}: not a success envelope: ${JSON.stringify(body)}`);
    }
    return body.data;
  }

  /** Registers a fresh user: `{id, username, email, token, refreshToken, user}`. */
  async register(name = 'user') {
    userCounter += 1;
    const prefix = String(name).replace(/[^A-Za-z0-9_]/g, '').slice(0, 12) || 'user';
    const username = `${prefix}_${userCounter}_${randomString(8)}`.slice(0, 30);
    const email = `${username.toLowerCase()}@e2e.example.com`;
    const password = `pw-${randomString(12)}`;
    const data = await this.api('POST', '/auth/register', {
      body: { username, email, password, fullName: `E2E ${prefix}` },
    });
    if (!data.token || !data.user?.id) throw new Error(`register answered no token or user id: ${JSON.stringify(data)}`);
    return {
      id: data.user.id,
      username,
      email,
      password,
      token: data.token,
      refreshToken: data.refreshToken,
      user: data.user,
    };
  }

  /** Creates a room; the creator is its admin. Returns the room. */
  async createRoom(token, name = 'room', isPrivate = false) {
    const data = await this.api('POST', '/rooms', { token, body: { name: `${name} ${randomString(6)}`, isPrivate } });
    return data.room;
  }

  /** Joins a room over REST (becomes a member). Returns the room. */
  async joinRoom(token, roomId, inviteCode) {
    const body = inviteCode ? { inviteCode } : {};
    const data = await this.api('POST', `/rooms/${roomId}/join`, { token, body });
    return data.room;
  }

  /** Sends a message over REST. Returns the message. */
  async sendRest(token, roomId, content, clientMsgId) {
    const body = { content };
    if (clientMsgId !== undefined) body.clientMsgId = clientMsgId;
    const data = await this.api('POST', `/rooms/${roomId}/messages`, { token, body });
    return data.message;
  }

  /** Kick: `DELETE /api/v1/rooms/:roomId/members/:userId` by an admin. */
  async kick(adminToken, roomId, userId) {
    return this.api('DELETE', `/rooms/${roomId}/members/${userId}`, { token: adminToken });
  }

  /** The whole history of a room, oldest first, through the `after` cursor. */
  async history(token, roomId) {
    const all = [];
    let after = 0;
    for (let page = 0; page < 1000; page += 1) {
      const data = await this.api('GET', `/rooms/${roomId}/messages?after=${after}&limit=100`, { token });
      const messages = data.messages || [];
      all.push(...messages);
      if (messages.length === 0) break;
      const last = messages[messages.length - 1].seq;
      if (!(last > after)) throw new Error(`history: cursor did not move forward (after=${after}, last=${last})`);
      after = last;
      if (data.pagination && data.pagination.hasMore === false) break;
    }
    return all;
  }

  /** `GET /api/v1/rooms/:roomId` (members only). */
  async room(token, roomId) {
    return (await this.api('GET', `/rooms/${roomId}`, { token })).room;
  }

  /**
   * Operator tool: makes the room's actor fail; its supervisor restarts it.
   * `POST /health/supervisor/rooms/:roomId/kill` with the operator token.
   */
  async killRoomActor(roomId, { token = this.operatorToken, allowError = false } = {}) {
    return this.request('POST', `/health/supervisor/rooms/${roomId}/kill`, { token, allowError });
  }

  /** A unique id for a client message. */
  static clientMsgId() {
    return randomUUID();
  }
}
