// The realtime connection (Socket.IO v4, same origin, default transports).
// Reconnects by itself; every (re)connect sends the current token and, in
// auth.offsets, the last seq this client has of each of its rooms, so the server
// joins those rooms again and replays what was missed.

import { getSession, refreshTokens, SessionEnded } from './auth.js';
import { emit, store } from './state.js';

export const ACK_TIMEOUT_MS = 10_000;
const SERVER_EVENTS = [
  'receive_message',
  'message_edited',
  'message_deleted',
  'message_read',
  'typing',
  'user_status',
  'member_joined',
  'member_removed',
  'member_role',
  'room_updated',
  'room_deleted',
  'server_shutdown',
  'error',
];

let socket = null;
let everConnected = false;
let refreshAttempts = 0;
let retryTimer = null;

/** An error answer to a realtime event: `code` is the server's (or TIMEOUT / OFFLINE). */
export class RealtimeError extends Error {
  constructor(code, message, retryAfter = null) {
    super(message);
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

function setConnection(state, detail = '') {
  store.connection = { state, detail };
  emit('connection', store.connection);
}

// The server recovers at most this many rooms from one connect's offsets
// (MAX_OFFSETS in src/realtime/socketio.rs); the others are joined by event.
export const MAX_OFFSETS = 100;
let offsetRooms = new Set();

/** `{roomId: lastSeq}` for the user's rooms (most recently active first): where each replay starts. */
function offsets() {
  const rooms = [...store.rooms.values()]
    .sort((a, b) => (b.lastMessage?.createdAt || b.createdAt || '').localeCompare(a.lastMessage?.createdAt || a.createdAt || ''))
    .slice(0, MAX_OFFSETS);
  const out = {};
  for (const room of rooms) out[room.id] = store.seqs.get(room.id)?.mark ?? 0;
  offsetRooms = new Set(Object.keys(out));
  return out;
}

/** Whether the last connect's offsets named this room (the server then joined it). */
export function coveredByOffsets(roomId) {
  return offsetRooms.has(roomId);
}

/**
 * Connects. `handlers` maps server event names to functions; `onConnected(again)`
 * runs on every connect (again: true after a reconnect); `onSessionEnded(message)`
 * when the server refuses the token and the refresh token too.
 */
export function startRealtime({ handlers, onConnected, onSessionEnded }) {
  stopRealtime();
  everConnected = false;
  refreshAttempts = 0;
  setConnection('connecting');
  // `auth` as a function: socket.io-client calls it before every connection
  // attempt, so each reconnect carries the newest token and offsets.
  socket = window.io({
    auth: (cb) => cb({ token: getSession()?.token, offsets: offsets() }),
    reconnectionDelay: 500,
    reconnectionDelayMax: 4000,
  });
  const current = socket;

  current.on('connect', () => {
    refreshAttempts = 0;
    setConnection('online');
    const again = everConnected;
    everConnected = true;
    onConnected(again);
  });

  let restarting = false; // server_shutdown came first: say so rather than "closed"
  current.on('disconnect', (reason) => {
    const detail = restarting
      ? 'The server is restarting.'
      : reason === 'io server disconnect'
        ? 'The server closed the connection.'
        : 'Connection lost.';
    restarting = false;
    setConnection('offline', detail);
    // After the server itself disconnects us (lagging) socket.io does not
    // reconnect on its own; a client-side disconnect (logout) is final. A
    // shutdown only closes the transport: socket.io reconnects by itself.
    if (reason === 'io server disconnect') scheduleConnect(current, 1000);
  });

  current.on('connect_error', async (err) => {
    const message = err?.message || 'connection failed';
    // active: a transport failure (server down); the manager retries by itself.
    if (current.active) {
      setConnection('offline', 'Cannot reach the server.');
      return;
    }
    // Refused by the server. Not about the token (e.g. too many open
    // connections): wait and try again.
    setConnection('offline', message);
    if (!/token|authori[sz]ation|session/i.test(message)) {
      scheduleConnect(current, 10_000);
      return;
    }
    // The token (expired, revoked): refresh it, then connect again.
    if (refreshAttempts >= 2) {
      onSessionEnded(`Your session has ended (${message}). Please log in again.`);
      return;
    }
    refreshAttempts += 1;
    try {
      await refreshTokens(getSession()?.token);
    } catch (e) {
      if (e instanceof SessionEnded) {
        onSessionEnded(e.message);
        return;
      }
      // Network trouble while refreshing: try again a little later.
    }
    scheduleConnect(current, 500);
  });

  for (const name of SERVER_EVENTS) {
    const handler = handlers[name];
    if (handler) current.on(name, (data) => handler(data || {}));
  }
  current.on('server_shutdown', () => {
    restarting = true;
  });
}

function scheduleConnect(which, ms) {
  clearTimeout(retryTimer);
  retryTimer = setTimeout(() => {
    if (socket === which && !which.connected) which.connect();
  }, ms + Math.random() * 500);
}

/** Reconnects now (the banner's button), skipping the backoff wait. */
export function reconnectNow() {
  if (!socket || socket.connected) return;
  socket.disconnect();
  socket.connect();
  setConnection('connecting');
}

export function stopRealtime() {
  clearTimeout(retryTimer);
  if (socket) {
    socket.removeAllListeners();
    socket.disconnect();
    socket = null;
  }
  setConnection('idle');
}

export function isConnected() {
  return Boolean(socket?.connected);
}

/**
 * Emits with an ack; resolves with the answer's data, rejects with RealtimeError.
 * `buffer`: when offline, let socket.io send it after reconnecting (sends: they
 * carry a clientMsgId, so a late duplicate is harmless); otherwise refuse at once.
 */
export async function request(event, data, { timeout = ACK_TIMEOUT_MS, buffer = false } = {}) {
  if (!socket || (!buffer && !socket.connected)) {
    throw new RealtimeError('OFFLINE', 'You are offline: try again once reconnected.');
  }
  let answer;
  try {
    answer = await socket.timeout(timeout).emitWithAck(event, data);
  } catch {
    throw new RealtimeError('TIMEOUT', socket?.connected ? 'The server did not answer in time.' : 'You are offline.');
  }
  if (answer?.status === 'success') return answer.data;
  // retryAfter: not sent by the server today (see report); kept for when it is.
  throw new RealtimeError(
    answer?.code || 'UNEXPECTED_ERROR',
    answer?.message || 'The server refused the request.',
    answer?.retryAfter ?? answer?.retryAfterSecs ?? null,
  );
}
