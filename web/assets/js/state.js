// Client state in one place, and change notifications by topic. Views read the
// store and re-render the part a topic names; only chat.js and realtime.js write.

export const store = {
  me: null, // {id, username, fullName, email}
  rooms: new Map(), // roomId -> room summary (GET /rooms) kept up to date by events
  activeRoomId: null,
  timelines: new Map(), // roomId -> Timeline
  members: new Map(), // roomId -> Map(userId -> {userId, username, fullName, role})
  readers: new Map(), // roomId -> Map(userId -> lastReadSeq)
  presence: new Map(), // userId -> {online, lastSeen}
  typing: new Map(), // roomId -> Map(userId -> timer)
  seqs: new Map(), // roomId -> SeqTracker
  connection: { state: 'idle', detail: '' }, // idle | connecting | online | offline
  composerError: new Map(), // roomId -> text
  editing: null, // {roomId, id} of the message being edited
  showMembers: false,
  notice: null, // text shown above the layout (kicked, room deleted, invite result)
};

const listeners = new Map();

/** Subscribes to a topic; returns the unsubscribe function. */
export function on(topic, fn) {
  if (!listeners.has(topic)) listeners.set(topic, new Set());
  listeners.get(topic).add(fn);
  return () => listeners.get(topic)?.delete(fn);
}

/** Notifies a topic's subscribers (rooms, active, timeline, members, typing, presence, connection, composer, notice). */
export function emit(topic, ...args) {
  for (const fn of [...(listeners.get(topic) || [])]) {
    try {
      fn(...args);
    } catch (err) {
      console.error(`listener of ${topic} failed`, err);
    }
  }
}

/** Forgets everything (logout), listeners included: the views that had them are gone. */
export function resetStore() {
  listeners.clear();
  for (const t of store.typing.values()) for (const timer of t.values()) clearTimeout(timer);
  Object.assign(store, {
    me: null,
    rooms: new Map(),
    activeRoomId: null,
    timelines: new Map(),
    members: new Map(),
    readers: new Map(),
    presence: new Map(),
    typing: new Map(),
    seqs: new Map(),
    connection: { state: 'idle', detail: '' },
    composerError: new Map(),
    editing: null,
    showMembers: false,
    notice: null,
  });
}

/**
 * Which seqs of a room this client has. `mark` is the highest seq up to which
 * nothing is missing: it is what reconnect recovery asks for (auth.offsets), so a
 * live message that overtakes a replay never makes the client skip the replay.
 * `add` answers false for a seq seen before (replays overlap live events).
 */
export class SeqTracker {
  constructor(mark = 0) {
    this.mark = mark;
    this.ahead = new Set();
  }

  add(seq) {
    if (!Number.isInteger(seq) || seq <= this.mark || this.ahead.has(seq)) return false;
    this.ahead.add(seq);
    while (this.ahead.has(this.mark + 1)) {
      this.mark += 1;
      this.ahead.delete(this.mark);
    }
    return true;
  }

  /** Moves the mark up to a seq known from REST (its messages come with history, not events). */
  raise(seq) {
    if (seq <= this.mark) return;
    this.mark = seq;
    for (const s of this.ahead) if (s <= seq) this.ahead.delete(s);
    while (this.ahead.has(this.mark + 1)) {
      this.mark += 1;
      this.ahead.delete(this.mark);
    }
  }

  hasGap() {
    return this.ahead.size > 0;
  }
}

export function seqTracker(roomId, mark = 0) {
  let t = store.seqs.get(roomId);
  if (!t) {
    t = new SeqTracker(mark);
    store.seqs.set(roomId, t);
  }
  return t;
}

/**
 * A room's messages: stored ones by id, and this client's unsent ones by
 * 'pending:' + clientMsgId until the server's copy (ack, receive_message or
 * history) replaces them.
 */
export class Timeline {
  constructor() {
    this.items = new Map();
    this.hasMore = true;
    this.loading = false;
    this.loaded = false;
    this.error = null;
  }

  /** Adds or updates a stored message; an older copy never overwrites a newer one. */
  upsert(message) {
    const current = this.items.get(message.id);
    if (current && current.updatedAt && message.updatedAt && current.updatedAt > message.updatedAt) return current;
    const merged = current ? { ...current, ...message } : { ...message };
    this.items.set(message.id, merged);
    if (message.clientMsgId) this.items.delete(`pending:${message.clientMsgId}`);
    return merged;
  }

  patch(id, fields) {
    const current = this.items.get(id);
    if (current) this.items.set(id, { ...current, ...fields });
    return Boolean(current);
  }

  addPending(pending) {
    this.items.set(`pending:${pending.clientMsgId}`, pending);
  }

  pending(clientMsgId) {
    return this.items.get(`pending:${clientMsgId}`);
  }

  /** Stored messages by seq, then unsent ones in the order they were written. */
  list() {
    return [...this.items.values()].sort((a, b) => {
      const sa = a.seq ?? Infinity;
      const sb = b.seq ?? Infinity;
      if (sa !== sb) return sa - sb;
      return (a.localTime || 0) - (b.localTime || 0);
    });
  }

  oldestSeq() {
    let oldest = null;
    for (const m of this.items.values()) if (m.seq && (oldest === null || m.seq < oldest)) oldest = m.seq;
    return oldest;
  }
}

/** The value of `key` in `map`, made with `make` the first time it is asked for. */
function entry(map, key, make) {
  if (!map.has(key)) map.set(key, make());
  return map.get(key);
}

export function timeline(roomId) {
  return entry(store.timelines, roomId, () => new Timeline());
}

export function membersOf(roomId) {
  return entry(store.members, roomId, () => new Map());
}

export function readersOf(roomId) {
  return entry(store.readers, roomId, () => new Map());
}

/** The display name of a user: from the room's members, else from a message, else "Someone". */
export function nameOf(userId, roomId) {
  if (store.me && userId === store.me.id) return store.me.username;
  const member = roomId ? store.members.get(roomId)?.get(userId) : null;
  if (member) return member.username;
  for (const members of store.members.values()) {
    const m = members.get(userId);
    if (m) return m.username;
  }
  const t = roomId ? store.timelines.get(roomId) : null;
  if (t) for (const msg of t.items.values()) if (msg.senderId === userId && msg.sender) return msg.sender.username;
  return 'Someone';
}

export function isAdmin(roomId) {
  return store.rooms.get(roomId)?.role === 'admin';
}
