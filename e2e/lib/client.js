// Client helpers: an event log with timed waits, Socket.IO and plain WebSocket clients.
// Every wait has a timeout; nothing here measures how long anything took.

import { after, afterEach, before } from 'node:test';
import { io } from 'socket.io-client';
import WebSocket from 'ws';

import { startServer } from './server.js';

export const DEFAULT_WAIT_MS = 5_000;

/** The two Socket.IO transport modes the issue asks for. */
export const MODES = [
  { name: 'default transports', opts: {} },
  { name: 'websocket only', opts: { transports: ['websocket'] } },
];

/**
 * Every event a client received, in arrival order. `waitFor` hands out the first
 * matching entry that no earlier `waitFor` took, waiting for it if none is there
 * yet, so an event that arrived before the call is not missed.
 */
export class EventLog {
  constructor(label) {
    this.label = label;
    this.entries = [];
    this.waiters = [];
  }

  push(event, data) {
    const entry = { event, data, taken: false };
    this.entries.push(entry);
    for (let i = 0; i < this.waiters.length; i += 1) {
      const w = this.waiters[i];
      if (w.event === event && safeMatch(w.predicate, data)) {
        entry.taken = true;
        this.waiters.splice(i, 1);
        clearTimeout(w.timer);
        w.resolve(data);
        break;
      }
    }
  }

  /** Resolves with the data of the first untaken matching event; rejects after `ms`. */
  waitFor(event, predicate = () => true, ms = DEFAULT_WAIT_MS) {
    for (const entry of this.entries) {
      if (!entry.taken && entry.event === event && safeMatch(predicate, entry.data)) {
        entry.taken = true;
        return Promise.resolve(entry.data);
      }
    }
    return new Promise((resolve, reject) => {
      const waiter = { event, predicate, resolve };
      waiter.timer = setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`${this.label}: no '${event}' matching ${describe(predicate)} within ${ms} ms; received: ${this.summary()}`));
      }, ms);
      this.waiters.push(waiter);
    });
  }

  /** Data of every recorded event of that name (taken or not) that matches. */
  all(event, predicate = () => true) {
    return this.entries.filter((e) => e.event === event && safeMatch(predicate, e.data)).map((e) => e.data);
  }

  summary(max = 15) {
    const tail = this.entries.slice(-max).map((e) => `${e.event} ${truncate(JSON.stringify(e.data))}`);
    return tail.length ? `\n  ${tail.join('\n  ')}` : '(nothing)';
  }
}

function safeMatch(predicate, data) {
  try {
    return Boolean(predicate(data));
  } catch {
    return false;
  }
}

function describe(predicate) {
  const src = String(predicate);
  return src.length > 120 ? `${src.slice(0, 117)}...` : src;
}

function truncate(s, n = 300) {
  if (s === undefined) return 'undefined';
  return s.length > n ? `${s.slice(0, n - 3)}...` : s;
}

// ---------------------------------------------------------------------------
// Socket.IO

const openSockets = new Set();
let socketCounter = 0;

/** Starts recording every event of a Socket.IO socket into `socket.log`. */
export function record(socket, label) {
  socketCounter += 1;
  const log = new EventLog(label || `socket#${socketCounter}`);
  socket.log = log;
  socket.onAny((event, ...args) => log.push(event, args[0]));
  socket.on('connect', () => log.push('connect', null));
  socket.on('disconnect', (reason) => log.push('disconnect', reason));
  socket.on('connect_error', (err) => log.push('connect_error', err));
  openSockets.add(socket);
  return socket;
}

/**
 * A new Socket.IO client (its own connection, no automatic reconnection) that
 * records its events. `auth` is merged with `{token}`; `mode` is one of MODES.
 */
export function connect(server, token, { mode = MODES[0], auth = {}, label, ...opts } = {}) {
  const fullAuth = token === undefined ? { ...auth } : { token, ...auth };
  const socket = io(server.url, {
    auth: fullAuth,
    forceNew: true,
    reconnection: false,
    ...mode.opts,
    ...opts,
  });
  return record(socket, label);
}

/** Resolves once the socket is connected; rejects on `connect_error` or after `ms`. */
export function connected(socket, ms = DEFAULT_WAIT_MS) {
  if (socket.connected) return Promise.resolve(socket);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${socket.log?.label}: not connected within ${ms} ms`));
    }, ms);
    const onConnect = () => {
      cleanup();
      resolve(socket);
    };
    const onError = (err) => {
      cleanup();
      reject(new Error(`${socket.log?.label}: connect_error: ${err?.message}`));
    };
    function cleanup() {
      clearTimeout(timer);
      socket.off('connect', onConnect);
      socket.off('connect_error', onError);
    }
    socket.on('connect', onConnect);
    socket.on('connect_error', onError);
  });
}

/** Connects, waits for the connection and for `welcome`. */
export async function connectReady(server, user, options = {}) {
  const socket = connect(server, user.token, { label: user.username, ...options });
  await connected(socket);
  await socket.log.waitFor('welcome');
  return socket;
}

/** Emits with an ack callback; resolves with the answer, rejects after `ms`. */
export async function emitAck(socket, event, data, ms = DEFAULT_WAIT_MS) {
  try {
    return await socket.timeout(ms).emitWithAck(event, data);
  } catch (err) {
    throw new Error(`${socket.log?.label}: no answer to '${event}' ${JSON.stringify(data)} within ${ms} ms (${err.message})`);
  }
}

/** Emits with an ack and expects `{status:"success", data}`; returns `data`. */
export async function emitOk(socket, event, data, ms = DEFAULT_WAIT_MS) {
  const answer = await emitAck(socket, event, data, ms);
  if (!answer || answer.status !== 'success') {
    throw new Error(`${socket.log?.label}: '${event}' ${JSON.stringify(data)} answered ${JSON.stringify(answer)}`);
  }
  return answer.data;
}

/** Closes one socket (client side) and forgets it. */
export function close(socket) {
  openSockets.delete(socket);
  socket.disconnect();
}

/** Closes every socket and plain WebSocket still open. */
export function closeAll() {
  for (const s of openSockets) {
    try {
      s.disconnect();
    } catch {
      // already gone
    }
  }
  openSockets.clear();
  for (const w of openWs) {
    try {
      w.terminate();
    } catch {
      // already gone
    }
  }
  openWs.clear();
}

// ---------------------------------------------------------------------------
// Plain WebSocket at /ws

const openWs = new Set();

/** A plain WebSocket client of `/ws` with JSON frames and numbered acks. */
export class WsClient {
  constructor(ws, label) {
    this.ws = ws;
    this.log = new EventLog(label);
    this.nextAck = 1;
    this.pendingAcks = new Map();
    this.closed = null;
    ws.on('error', (err) => this.log.push('ws_error', err.message));
    ws.on('message', (raw) => {
      let frame;
      try {
        frame = JSON.parse(raw.toString());
      } catch {
        this.log.push('invalid_frame', raw.toString());
        return;
      }
      if (frame && frame.ack !== undefined && frame.event === undefined) {
        const pending = this.pendingAcks.get(frame.ack);
        if (pending) {
          this.pendingAcks.delete(frame.ack);
          clearTimeout(pending.timer);
          pending.resolve(frame.data);
        } else {
          this.log.push('unexpected_ack', frame);
        }
        return;
      }
      this.log.push(frame.event, frame.data);
    });
    this.closedPromise = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closed = { code, reason: reason.toString() };
        openWs.delete(ws);
        for (const p of this.pendingAcks.values()) {
          clearTimeout(p.timer);
          p.reject(new Error(`${label}: connection closed (${code}) before an answer`));
        }
        this.pendingAcks.clear();
        resolve(this.closed);
      });
    });
  }

  /**
   * Opens `/ws`. Resolves with a WsClient once open; rejects with an error carrying
   * `status` and `body` when the upgrade is refused. `localAddress` (e.g.
   * 127.0.0.5): the source address, which picks the node behind a balancer that
   * hashes client addresses (lib/cluster.js).
   */
  static open(server, { token, header, label = 'ws', ms = DEFAULT_WAIT_MS, localAddress } = {}) {
    const wsUrl = `${server.url.replace(/^http/, 'ws')}/ws${token !== undefined ? `?token=${encodeURIComponent(token)}` : ''}`;
    const headers = header ? { Authorization: header } : {};
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(wsUrl, { headers, handshakeTimeout: ms, ...(localAddress ? { localAddress } : {}) });
      openWs.add(ws);
      const client = new WsClient(ws, label);
      ws.once('open', () => resolve(client));
      ws.once('unexpected-response', (req, res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => {
          body += c;
        });
        res.on('end', () => {
          let parsed = body;
          try {
            parsed = JSON.parse(body);
          } catch {
            // keep text
          }
          const err = new Error(`${label}: upgrade refused with HTTP ${res.statusCode}: ${body}`);
          err.status = res.statusCode;
          err.body = parsed;
          openWs.delete(ws);
          req.destroy();
          reject(err);
        });
      });
      ws.once('error', (err) => reject(err));
    });
  }

  /** Sends a frame without an ack. */
  send(event, data) {
    this.ws.send(JSON.stringify({ event, data }));
  }

  /** Sends a frame with an ack; resolves with the answer. */
  request(event, data, ms = DEFAULT_WAIT_MS) {
    const ack = this.nextAck;
    this.nextAck += 1;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pendingAcks.delete(ack);
        reject(new Error(`${this.log.label}: no answer to '${event}' (ack ${ack}) within ${ms} ms; received: ${this.log.summary()}`));
      }, ms);
      this.pendingAcks.set(ack, { resolve, reject, timer });
      this.ws.send(JSON.stringify({ event, data, ack }));
    });
  }

  /** `request` that expects `{status:"success", data}`; returns `data`. */
  async requestOk(event, data, ms = DEFAULT_WAIT_MS) {
    const answer = await this.request(event, data, ms);
    if (!answer || answer.status !== 'success') {
      throw new Error(`${this.log.label}: '${event}' ${JSON.stringify(data)} answered ${JSON.stringify(answer)}`);
    }
    return answer.data;
  }

  /** Resolves when the connection is closed; rejects after `ms`. */
  waitClosed(ms = DEFAULT_WAIT_MS) {
    return Promise.race([
      this.closedPromise,
      new Promise((_, reject) => {
        setTimeout(() => reject(new Error(`${this.log.label}: still open after ${ms} ms`)), ms).unref();
      }),
    ]);
  }

  close() {
    openWs.delete(this.ws);
    this.ws.close();
  }
}

// ---------------------------------------------------------------------------
// Per-file server fixture

/**
 * Starts one server for the test file (before) and stops it (after); closes every
 * client after each test. Returns a holder whose `server` is set once started.
 */
export function useServer(options = {}) {
  const holder = { server: null };
  before(async () => {
    holder.server = await startServer(options);
  });
  afterEach(() => closeAll());
  after(async () => {
    closeAll();
    if (holder.server) await holder.server.stop();
  });
  return holder;
}

/** Waits until `check()` returns a truthy value (polling), or throws after `ms`. */
export async function eventually(check, { ms = DEFAULT_WAIT_MS, every = 100, what = 'condition' } = {}) {
  const deadline = Date.now() + ms;
  // Both the last answer and the last failure: "last: fetch failed" alone hides
  // whether the check had been answering (and what) until then.
  let lastValue;
  let lastError;
  let failures = 0;
  for (;;) {
    try {
      lastValue = await check();
      if (lastValue) return lastValue;
    } catch (err) {
      lastError = err;
      failures += 1;
    }
    if (Date.now() > deadline) {
      const cause = lastError?.cause ? ` (${lastError.cause.code || lastError.cause.message})` : '';
      const errors = lastError ? `; ${failures} attempts failed, the last with: ${lastError.message}${cause}` : '';
      throw new Error(`${what} not met within ${ms} ms (last answer: ${JSON.stringify(lastValue)}${errors})`);
    }
    await new Promise((r) => setTimeout(r, every));
  }
}
