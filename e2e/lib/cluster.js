// Several `rtchat serve` nodes forming one chat, for tests/cluster/: they share one
// PostgreSQL database, one Redis (a key prefix of their own per cluster, so runs
// never see each other's events) and one JWT secret (a token from one node works
// on every node), with nginx in front (deploy/nginx/rtchat-cluster.conf, the file
// production uses, filled in here). Also a private redis-server that a test may
// stop and start (the machine's Redis on 6379 is never touched), and a proxy in
// front of it that makes one node's bus hear the others late.
//
// E2E_DATABASE_URL: a PostgreSQL database for every cluster of the run (.ci/cluster
// creates one); unset, each cluster creates a fresh one through psql
// (E2E_POSTGRES_URL_BASE, default postgres://postgres@127.0.0.1:5432) and drops it.
// E2E_REDIS_URL (default redis://127.0.0.1:6379), E2E_NGINX_BIN,
// E2E_REDIS_SERVER_BIN, and lib/server.js's E2E_SERVER_LOG / E2E_KEEP_TMP.

import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, before } from 'node:test';

import { closeAll, eventually } from './client.js';
import { freePort, randomString, REPO_ROOT, Server, sleep, startServer } from './server.js';

export const NGINX_TEMPLATE = path.join(REPO_ROOT, 'deploy', 'nginx', 'rtchat-cluster.conf');
/** Presence lease of the test nodes: a killed node's users go offline within 4 * 1.25 s. */
export const LEASE_SECS = 4;
export const NGINX_MISSING = 'nginx is not installed: apt-get install -y nginx (or set E2E_NGINX_BIN)';
const IN_CI = process.env.CI === 'true';
const PG_URL_BASE = process.env.E2E_POSTGRES_URL_BASE || 'postgres://postgres@127.0.0.1:5432';
const STOP_DEADLINE_MS = 10_000;

// ---------------------------------------------------------------------------
// Child processes other than rtchat (nginx, redis-server)

/**
 * Spawns a helper process with its output in `logPath`; killed with `exitSignal`
 * if the test process ends first. The output goes to the file itself, not a pipe:
 * nginx opens /dev/stdout for its access log, which fails on Node's socket pipes.
 */
function spawnLogged(bin, args, logPath, exitSignal) {
  const fd = openSync(logPath, 'a');
  const child = spawn(bin, args, { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  let exited = null;
  const exitPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      resolve(exited);
    });
  });
  // spawn failures (ENOENT...) arrive as 'error' events, with no 'exit'.
  child.on('error', (err) => {
    exited = { error: err.message };
  });
  const onExit = () => {
    if (!exited) child.kill(exitSignal);
  };
  process.on('exit', onExit);
  const tail = () => {
    try {
      return readFileSync(logPath, 'utf8').split('\n').slice(-30).join('\n');
    } catch {
      return '';
    }
  };
  /** Sends `signal`, then SIGKILL after a deadline; resolves once the process is gone. */
  const stop = async (signal = 'SIGTERM') => {
    if (!exited) {
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_DEADLINE_MS);
      await exitPromise;
      clearTimeout(timer);
    }
    process.off('exit', onExit);
  };
  return { child, stop, tail, isExited: () => exited };
}

/** The first `name` on PATH or in the sbin folders (nginx lives in /usr/sbin). */
function which(name) {
  for (const dir of [...(process.env.PATH || '').split(':'), '/usr/sbin', '/usr/local/sbin', '/sbin']) {
    const candidate = path.join(dir, name);
    if (dir && existsSync(candidate)) return candidate;
  }
  return null;
}

export function nginxBinary() {
  return process.env.E2E_NGINX_BIN || which('nginx');
}

/** Resolves once `check()` is truthy; throws with `what` and `tail()` after `ms`. */
async function waitUntil(check, { ms, what, tail, isExited }) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (isExited?.()) throw new Error(`${what}: the process exited (${JSON.stringify(isExited())}); its output:\n${tail()}`);
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms; its output:\n${tail()}`);
    await sleep(100);
  }
}

// ---------------------------------------------------------------------------
// nginx

/** The production template with its two placeholders filled in. */
export function renderNginxConf({ listen, upstreams }) {
  const servers = upstreams.map((u) => `server ${u} max_fails=1 fail_timeout=2s;`).join('\n        ');
  const conf = readFileSync(NGINX_TEMPLATE, 'utf8')
    .replaceAll('${RTCHAT_LISTEN}', listen)
    .replaceAll('${RTCHAT_UPSTREAM_SERVERS}', servers);
  if (conf.includes('${RTCHAT_')) throw new Error(`${NGINX_TEMPLATE}: a placeholder was left unfilled`);
  return conf;
}

/**
 * nginx on a free port balancing `nodePorts` (127.0.0.1), unprivileged: `-p` a
 * temp dir holding the config, the pid file and the temp folders.
 */
export async function startNginx(nodePorts, { port } = {}) {
  const bin = nginxBinary();
  if (!bin) throw new Error(NGINX_MISSING);
  const listenPort = port ?? (await freePort());
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rtchat-nginx-'));
  // Started as root, nginx's workers run as nobody: they must reach the temp folders.
  chmodSync(dir, 0o755);
  const confPath = path.join(dir, 'nginx.conf');
  writeFileSync(confPath, renderNginxConf({ listen: `127.0.0.1:${listenPort}`, upstreams: nodePorts.map((p) => `127.0.0.1:${p}`) }));
  // -e: errors before the config is read go to stderr, not to a log file that needs root.
  const proc = spawnLogged(bin, ['-p', `${dir}/`, '-c', confPath, '-e', 'stderr', '-g', 'daemon off;'], path.join(dir, 'nginx.log'), 'SIGTERM');
  const url = `http://127.0.0.1:${listenPort}`;
  await waitUntil(async () => (await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) })).status === 200, {
    ms: 15_000,
    what: `nginx (${bin}) answering GET /health through ${url}`,
    ...proc,
  });
  return {
    url,
    port: listenPort,
    dir,
    confPath,
    tail: proc.tail,
    async stop() {
      await proc.stop('SIGTERM');
      if (process.env.E2E_KEEP_TMP !== '1') rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Socket.IO client options that make both transports connect from `address`
 * (127.0.0.2, ...): nginx hashes the client address, so the address picks the node.
 */
export function fromAddress(address) {
  return { agent: new http.Agent({ localAddress: address }) };
}

/** GET `url` from a source address; resolves with the parsed JSON body. */
export function getJsonFrom(url, localAddress) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { localAddress, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => {
        body += c;
      });
      res.on('end', () => {
        try {
          resolve(JSON.parse(body));
        } catch (err) {
          reject(new Error(`GET ${url} from ${localAddress}: ${res.statusCode} ${body} (${err.message})`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} from ${localAddress}: timed out`)));
    req.on('error', reject);
  });
}

// ---------------------------------------------------------------------------
// Private Redis

/** A redis-server of this test alone (no persistence), on a free port or `port` (a restart). */
export async function startRedis({ port } = {}) {
  const bin = process.env.E2E_REDIS_SERVER_BIN || which('redis-server');
  if (!bin) throw new Error('redis-server is not installed: apt-get install -y redis-server (or set E2E_REDIS_SERVER_BIN)');
  const redisPort = port ?? (await freePort());
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rtchat-redis-'));
  const args = ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no'];
  const proc = spawnLogged(bin, args, path.join(dir, 'redis.log'), 'SIGKILL');
  await waitUntil(() => redisPing(redisPort), { ms: 10_000, what: `redis-server on port ${redisPort}`, ...proc });
  const finish = async (signal) => {
    await proc.stop(signal);
    rmSync(dir, { recursive: true, force: true });
  };
  return {
    port: redisPort,
    url: `redis://127.0.0.1:${redisPort}`,
    /** A crash: the nodes' connections drop at once. */
    kill: () => finish('SIGKILL'),
    stop: () => finish('SIGTERM'),
  };
}

/** Whether a Redis answers PING on 127.0.0.1:`port`. */
function redisPing(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

/**
 * A TCP proxy to the Redis on 127.0.0.1:`redisPort` that holds what Redis sends
 * to subscriber connections (those that sent SUBSCRIBE or PSUBSCRIBE) for
 * `delayMs`, in order; every other connection (limits, leases, publishing) passes
 * at once. A node given this URL hears the other nodes' events late, so "at once"
 * promises can be checked without racing the test's own timing.
 */
export async function startSlowBusProxy(redisPort, delayMs) {
  const sockets = new Set();
  const server = net.createServer((client) => {
    const upstream = net.connect(redisPort, '127.0.0.1');
    let subscriber = false;
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
    }
    client.on('data', (chunk) => {
      if (/P?SUBSCRIBE/i.test(chunk.toString('latin1'))) subscriber = true;
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (subscriber) setTimeout(() => client.destroyed || client.write(chunk), delayMs);
      else client.write(chunk);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => setTimeout(() => client.destroy(), subscriber ? delayMs : 0));
  });
  const port = await freePort();
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

// ---------------------------------------------------------------------------
// Database

function psql(sql) {
  execFileSync('psql', [`${PG_URL_BASE}/postgres`, '-q', '-v', 'ON_ERROR_STOP=1', '-c', sql], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
}

/** E2E_DATABASE_URL, or a fresh PostgreSQL database dropped by `drop()`. */
function sharedDatabase() {
  const given = process.env.E2E_DATABASE_URL;
  if (given) {
    if (!given.startsWith('postgres')) throw new Error(`E2E_DATABASE_URL must be PostgreSQL for the cluster tests, got ${given}`);
    return { url: given, drop() {} };
  }
  return createDatabase();
}

/** A new, empty PostgreSQL database: `{url, drop()}`. */
export function createDatabase() {
  const name = `rtchat_cluster_${Date.now()}_${process.pid}_${randomString(6).toLowerCase()}`;
  try {
    psql(`CREATE DATABASE ${name}`);
  } catch (err) {
    throw new Error(`cannot create a PostgreSQL database through ${PG_URL_BASE} (is PostgreSQL running?): ${err.stderr || err.message}`);
  }
  return {
    url: `${PG_URL_BASE}/${name}`,
    drop() {
      try {
        psql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } catch {
        // a leftover test database is harmless
      }
    },
  };
}

// ---------------------------------------------------------------------------
// The cluster

/**
 * Starts `nodes` nodes (n1, n2, ...) and, with `nginx` (default) and nginx
 * installed, nginx in front. `env`: extra variables for every node (e.g. a message
 * limit); `redisUrl`: another Redis (a private one); `nodeEnv[i]`: variables of
 * node i alone (e.g. its own path to Redis). Without nginx, CI=true fails
 * here; elsewhere `cluster.nginx` is null and the tests needing it skip.
 */
export async function startCluster({ nodes = 3, env = {}, nginx = true, redisUrl, nodeEnv = [] } = {}) {
  const nginxBin = nginx ? nginxBinary() : null;
  if (nginx && !nginxBin && IN_CI) throw new Error(`${NGINX_MISSING}; CI=true: failing instead of skipping`);
  const db = sharedDatabase();
  const cluster = new Cluster({
    db,
    nodeEnv,
    env: {
      DATABASE_URL: db.url,
      REDIS_URL: redisUrl || process.env.E2E_REDIS_URL || 'redis://127.0.0.1:6379',
      RTCHAT_REDIS__KEY_PREFIX: `rtchat-cluster-${randomString(10)}`,
      JWT_SEC: randomString(40),
      RTCHAT_CLUSTER__LEASE_SECS: String(LEASE_SECS),
      // As behind the production balancer (deploy/nginx/rtchat-cluster.conf).
      RTCHAT_SERVER__TRUST_FORWARDED_FOR: 'true',
      RTCHAT_LIMITS__MESSAGES_MAX: '100000',
      ...env,
    },
  });
  try {
    // n1 alone first: it applies the migrations. Nodes starting together on a fresh
    // database race on them (one fails with a duplicate key in pg_type).
    const ports = new Set();
    while (ports.size < nodes) ports.add(await freePort());
    cluster.ports = [...ports];
    cluster.nodes[0] = await cluster.startNode(0);
    const rest = await Promise.allSettled(cluster.ports.slice(1).map((_, i) => cluster.startNode(i + 1)));
    for (const r of rest) if (r.status === 'fulfilled') cluster.nodes.push(r.value);
    const failed = rest.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    for (let i = 0; i < nodes; i += 1) await cluster.waitReceiving(i);
    if (nginxBin) {
      cluster.nginx = await startNginx(cluster.ports);
      // REST through the balancer, with lib/server.js's helpers (it only uses baseUrl).
      cluster.balancer = new Server({ baseUrl: cluster.nginx.url, port: cluster.nginx.port });
    }
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}

export class Cluster {
  constructor({ db, env, nodeEnv = [] }) {
    this.db = db;
    this.env = env;
    this.nodeEnv = nodeEnv;
    this.nodes = [];
    this.ports = [];
    this.nginx = null;
    this.balancer = null;
  }

  static nodeId(index) {
    return `n${index + 1}`;
  }

  /** Starts node `index` (0-based) on its port with the shared settings. */
  startNode(index) {
    const id = Cluster.nodeId(index);
    const env = { ...this.env, RTCHAT_CLUSTER__NODE_ID: id, ...(this.nodeEnv[index] || {}) };
    return startServer({ name: id, port: this.ports[index], redis: false, env });
  }

  /** `GET /health/ready` of node `index`: `{status, cluster: {node, bus}, ...}` (200 or 503). */
  async ready(index) {
    return (await this.nodes[index].request('GET', '/health/ready', { allowError: true })).body;
  }

  /** Waits until node `index` hears the other nodes (its bus subscription is up). */
  waitReceiving(index, ms = 15_000) {
    return eventually(async () => (await this.ready(index))?.cluster?.bus === 'receiving', {
      ms,
      what: `node ${Cluster.nodeId(index)} reporting cluster.bus "receiving"`,
    });
  }

  /** kill -9 of node `index`: no shutdown, its clients just lose the connection. */
  async kill(index) {
    await this.nodes[index].kill('SIGKILL');
  }

  /** Starts node `index` again (same id, port and settings) after a kill. */
  async restart(index) {
    const old = this.nodes[index];
    if (old) await old.stop();
    this.nodes[index] = await this.startNode(index);
    await this.waitReceiving(index);
    return this.nodes[index];
  }

  /**
   * Source addresses that nginx sends to each node: `{n1: '127.0.0.x', ...}`,
   * found by asking `/health/ready` through nginx from 127.0.0.2, 127.0.0.3, ...
   */
  async addressPerNode() {
    const found = {};
    for (let last = 2; last < 120 && Object.keys(found).length < this.nodes.length; last += 1) {
      const address = `127.0.0.${last}`;
      const node = (await getJsonFrom(`${this.nginx.url}/health/ready`, address)).cluster?.node;
      if (node && !found[node]) found[node] = address;
    }
    if (Object.keys(found).length < this.nodes.length) throw new Error(`nginx sent 127.0.0.2-119 to ${JSON.stringify(found)} only`);
    return found;
  }

  /** The node nginx sends `address` to now. */
  async nodeBehind(address) {
    return (await getJsonFrom(`${this.nginx.url}/health/ready`, address)).cluster?.node;
  }

  async stop() {
    closeAll();
    if (this.nginx) await this.nginx.stop();
    for (const node of this.nodes) if (node) await node.stop();
    this.db.drop();
  }
}

/**
 * Per-file fixture, as lib/client.js's useServer: a cluster before the tests,
 * every client closed after each test, the cluster stopped after the file.
 */
export function useCluster(options = {}) {
  const holder = { cluster: null };
  before(async () => {
    holder.cluster = await startCluster(options);
  });
  afterEach(() => closeAll());
  after(async () => {
    if (holder.cluster) await holder.cluster.stop();
  });
  return holder;
}

/** For a test going through nginx: false (and the test skipped, saying why) when it is missing. */
export function needNginx(t, cluster) {
  if (cluster.nginx) return true;
  t.skip(NGINX_MISSING);
  return false;
}
