// What the user can do (REST and realtime calls) and what the server tells us
// (realtime events), both applied to the store. Views call the exported actions
// and re-render on the store's topics.

import { api, describeError } from './api.js';
import { uuid } from './dom.js';
import { coveredByOffsets, isConnected, request, startRealtime } from './socket.js';
import { emit, membersOf, readersOf, seqTracker, store, timeline } from './state.js';

const PAGE_SIZE = 30;
// The server's message limit (limits.messages_max per messages_window_secs).
// Used only to estimate the wait when a send is refused, since the realtime
// refusal does not say how long to wait.
const SEND_WINDOW_MS = 10_000;
const TYPING_REFRESH_MS = 3_000; // the server forgets typing after 5 s without a refresh
const TYPING_IDLE_MS = 2_500;
const TYPING_SHOWN_MS = 6_000; // in case a "stopped typing" event is missed

let acceptedSends = []; // times of sends the server accepted, for the wait estimate

// ---------------------------------------------------------------------------
// Start

/** Loads the profile and rooms, then connects the realtime socket. */
export async function start({ onSessionEnded }) {
  store.me = await api('GET', '/auth/profile');
  store.presence.set(store.me.id, { online: true, lastSeen: null });
  await loadRooms();
  startRealtime({ handlers, onConnected, onSessionEnded });
}

function onConnected(again) {
  // Rooms past the server's offsets cap were not joined by the connect itself.
  for (const roomId of store.rooms.keys()) if (!coveredByOffsets(roomId)) joinRealtime(roomId);
  if (!again) return;
  // Missed while offline: messages come back through auth.offsets; room changes,
  // edits, deletions and presence do not, so those are fetched again.
  loadRooms()
    .then((added) => added.forEach((id) => joinRealtime(id)))
    .catch((err) => console.warn('rooms reload failed', err));
  if (store.activeRoomId) {
    loadLatest(store.activeRoomId).catch(() => {});
    loadRoomDetails(store.activeRoomId).catch(() => {});
  }
}

// ---------------------------------------------------------------------------
// Rooms

/** GET /rooms into the store; returns the ids of rooms that were not known. */
export async function loadRooms() {
  const { rooms } = await api('GET', '/rooms');
  const added = [];
  const listed = new Set();
  for (const r of rooms) {
    listed.add(r.id);
    const known = store.rooms.get(r.id);
    if (!known) added.push(r.id);
    const tracker = seqTracker(r.id, r.lastSeq);
    // A room whose messages are on screen fills gaps by sync; the others only
    // need counts, which this listing brings.
    if (store.timelines.get(r.id)?.loaded) {
      if (r.lastSeq > tracker.mark) scheduleSync(r.id);
    } else {
      tracker.raise(r.lastSeq);
    }
    const lastMessage = newer(known?.lastMessage, r.lastMessage);
    store.rooms.set(r.id, { ...known, ...r, lastMessage, unreadBaseline: r.lastSeq });
  }
  for (const id of [...store.rooms.keys()]) if (!listed.has(id)) forgetRoom(id);
  emit('rooms');
  return added;
}

function newer(a, b) {
  if (!a) return b || null;
  if (!b) return a;
  return b.seq >= a.seq ? b : a;
}

let roomsReloadTimer = null;
function scheduleRoomsReload() {
  clearTimeout(roomsReloadTimer);
  roomsReloadTimer = setTimeout(() => {
    loadRooms()
      .then((added) => added.forEach((id) => joinRealtime(id)))
      .catch(() => {});
  }, 300);
}

/** Drops a room the user is no longer in; `notice` explains why when it was open. */
function forgetRoom(roomId, notice) {
  const wasActive = store.activeRoomId === roomId;
  store.rooms.delete(roomId);
  store.timelines.delete(roomId);
  store.members.delete(roomId);
  store.readers.delete(roomId);
  store.seqs.delete(roomId);
  if (wasActive) {
    store.activeRoomId = null;
    store.editing = null;
    if (notice) setNotice(notice);
    emit('active');
  }
  emit('rooms');
}

export function setNotice(text) {
  store.notice = text;
  emit('notice');
}

/** Subscribes this connection to a room just joined (offsets cover the rest at the next connect). */
async function joinRealtime(roomId) {
  if (!isConnected()) return;
  try {
    const answer = await request('join_room', { roomId });
    if (answer.lastSeq > seqTracker(roomId).mark) scheduleSync(roomId);
  } catch (err) {
    console.warn('join_room failed', roomId, err);
  }
}

/** Creates a room; the creator is its admin. Returns the room. */
export async function createRoom({ name, description, isPrivate }) {
  const body = { name, isPrivate };
  if (description) body.description = description;
  const { room } = await api('POST', '/rooms', body);
  await loadRooms();
  await joinRealtime(room.id);
  return room;
}

export async function discoverRooms(search, page = 1) {
  const q = new URLSearchParams({ page: String(page), limit: '20' });
  if (search) q.set('search', search);
  return api('GET', `/rooms/public?${q}`);
}

export async function joinPublicRoom(roomId) {
  const { room } = await api('POST', `/rooms/${roomId}/join`, {});
  await loadRooms();
  await joinRealtime(room.id);
  return room;
}

/** The /invite/<code> route: POST /rooms/join {inviteCode}. */
export async function joinByInvite(inviteCode) {
  const { room } = await api('POST', '/rooms/join', { inviteCode });
  await loadRooms();
  await joinRealtime(room.id);
  return room;
}

export async function leaveRoom(roomId) {
  await api('DELETE', `/rooms/${roomId}/leave`);
  forgetRoom(roomId);
  emit('active');
}

// ---- admin

export async function updateRoom(roomId, fields) {
  const { room } = await api('PATCH', `/rooms/${roomId}`, fields);
  applyRoomFields(roomId, room);
  return room;
}

export async function getInviteCode(roomId) {
  return (await api('GET', `/rooms/${roomId}/invite`)).inviteCode;
}

export async function rotateInviteCode(roomId) {
  const code = (await api('POST', `/rooms/${roomId}/invite`)).inviteCode;
  const room = store.rooms.get(roomId);
  if (room) room.inviteCode = code;
  return code;
}

export async function setRole(roomId, userId, role) {
  await api('POST', `/rooms/${roomId}/members/${userId}/${role === 'admin' ? 'promote' : 'demote'}`);
  onMemberRole({ roomId, userId, role });
}

export async function kick(roomId, userId) {
  await api('DELETE', `/rooms/${roomId}/members/${userId}`);
  onMemberRemoved({ roomId, userId, reason: 'kicked' });
}

export async function ban(roomId, userId) {
  await api('POST', `/rooms/${roomId}/bans`, { userId });
  onMemberRemoved({ roomId, userId, reason: 'banned' });
}

export async function listBans(roomId) {
  return (await api('GET', `/rooms/${roomId}/bans`)).bans || [];
}

export async function unban(roomId, userId) {
  await api('DELETE', `/rooms/${roomId}/bans/${userId}`);
}

export async function deleteRoom(roomId) {
  await api('DELETE', `/rooms/${roomId}`);
  forgetRoom(roomId);
  emit('active');
}

// ---------------------------------------------------------------------------
// The open room

export async function openRoom(roomId) {
  if (!store.rooms.has(roomId)) return;
  if (store.activeRoomId !== roomId) stopTyping();
  store.activeRoomId = roomId;
  store.editing = null;
  emit('active');
  await Promise.all([
    loadLatest(roomId).catch((err) => setTimelineError(roomId, err)),
    loadRoomDetails(roomId).catch((err) => console.warn('room details failed', err)),
  ]);
}

export function closeRoom() {
  stopTyping();
  store.activeRoomId = null;
  store.editing = null;
  emit('active');
}

function setTimelineError(roomId, err) {
  const t = timeline(roomId);
  t.error = describeError(err);
  t.loading = false;
  emit('timeline', roomId);
}

/** The newest page of history, merged with what is already shown. */
export async function loadLatest(roomId) {
  const t = timeline(roomId);
  t.loading = true;
  t.error = null;
  emit('timeline', roomId);
  const data = await api('GET', `/rooms/${roomId}/messages?page=1&limit=${PAGE_SIZE}`);
  const messages = data.messages || [];
  for (const m of messages) t.upsert(m);
  // The page is newest first: older ones exist while the oldest here is above 1.
  if (!t.loaded) t.hasMore = messages.length > 0 && messages[messages.length - 1].seq > 1;
  if (messages.length) seqTracker(roomId).raise(messages[0].seq);
  t.loaded = true;
  t.loading = false;
  emit('timeline', roomId);
  recountUnread(roomId);
}

/** Infinite scroll upwards: the page before the oldest message shown (cursor `before`). */
export async function loadOlder(roomId) {
  const t = timeline(roomId);
  const oldest = t.oldestSeq();
  if (t.loading || !t.hasMore || !oldest) return;
  t.loading = true;
  t.error = null;
  emit('timeline', roomId);
  try {
    const data = await api('GET', `/rooms/${roomId}/messages?before=${oldest}&limit=${PAGE_SIZE}`);
    for (const m of data.messages || []) t.upsert(m);
    t.hasMore = Boolean(data.pagination?.hasMore);
  } catch (err) {
    t.error = describeError(err);
  } finally {
    t.loading = false;
    emit('timeline', roomId, { older: true });
  }
}

/** Members with roles and presence, and read positions, from GET /rooms/:roomId. */
export async function loadRoomDetails(roomId) {
  const { room } = await api('GET', `/rooms/${roomId}`);
  applyRoomFields(roomId, room);
  const members = membersOf(roomId);
  const readers = readersOf(roomId);
  members.clear();
  for (const m of room.memberships || []) {
    members.set(m.user.id, { userId: m.user.id, username: m.user.username, fullName: m.user.fullName, role: m.role });
    readers.set(m.user.id, Math.max(readers.get(m.user.id) || 0, m.lastReadSeq || 0));
    if (m.user.id !== store.me?.id) store.presence.set(m.user.id, { online: Boolean(m.user.isOnline), lastSeen: m.user.lastSeen });
  }
  const summary = store.rooms.get(roomId);
  if (summary) summary.memberCount = members.size;
  emit('members', roomId);
  emit('timeline', roomId);
  emit('rooms');
}

function applyRoomFields(roomId, fields) {
  const room = store.rooms.get(roomId);
  if (!room) return;
  for (const key of ['name', 'description', 'isPrivate', 'inviteCode']) if (key in fields) room[key] = fields[key];
  if (fields.isPrivate === false) room.inviteCode = null;
  emit('rooms');
  if (store.activeRoomId === roomId) emit('active');
}

// ---------------------------------------------------------------------------
// Sending, with a pending state until the server acknowledges

/** Sends a message; false (and the reason next to the composer) when refused locally. */
export function sendMessage(roomId, text) {
  const content = text.trim();
  if (!content) return false;
  if ([...content].length > 1000) {
    setComposerError(roomId, { message: 'A message can be at most 1000 characters long.' });
    return false;
  }
  const me = store.me;
  const pending = {
    clientMsgId: uuid(),
    roomId,
    content,
    senderId: me.id,
    sender: { id: me.id, username: me.username, fullName: me.fullName },
    createdAt: new Date().toISOString(),
    localTime: Date.now(),
    status: 'pending',
    error: null,
  };
  timeline(roomId).addPending(pending);
  stopTyping({ tell: false }); // the server ends typing when the user sends
  emit('timeline', roomId, { own: true });
  deliver(pending);
  return true;
}

/** Sends again with the same clientMsgId: the server answers with the original if it had stored it. */
export function retrySend(roomId, clientMsgId) {
  const pending = timeline(roomId).pending(clientMsgId);
  if (!pending || pending.status === 'pending') return;
  pending.status = 'pending';
  pending.error = null;
  emit('timeline', roomId);
  deliver(pending);
}

async function deliver(pending) {
  const { roomId, clientMsgId, content } = pending;
  try {
    const message = await request('send_message', { roomId, content, clientMsgId }, { buffer: true });
    acceptedSends.push(Date.now());
    onReceiveMessage(message);
    const err = store.composerError.get(roomId);
    if (err?.code === 'RATE_LIMIT_EXCEEDED') setComposerError(roomId, null);
  } catch (err) {
    const still = timeline(roomId).pending(clientMsgId);
    if (!still) return; // its receive_message arrived meanwhile: it was stored
    still.status = 'failed';
    still.error = err.code === 'RATE_LIMIT_EXCEEDED' ? 'Not sent: too many messages' : `Not sent: ${err.message}`;
    if (err.code === 'RATE_LIMIT_EXCEEDED') {
      const waitSecs = err.retryAfter || estimateWait();
      setComposerError(roomId, {
        code: err.code,
        message: 'You are sending messages too fast.',
        until: Date.now() + waitSecs * 1000,
      });
    } else if (err.code !== 'TIMEOUT' && err.code !== 'OFFLINE') {
      setComposerError(roomId, { code: err.code, message: err.message });
    }
    emit('timeline', roomId);
  }
}

/** Seconds until the oldest accepted send leaves the limit's window. */
function estimateWait() {
  const now = Date.now();
  acceptedSends = acceptedSends.filter((t) => now - t < SEND_WINDOW_MS);
  if (!acceptedSends.length) return Math.ceil(SEND_WINDOW_MS / 1000);
  return Math.max(1, Math.ceil((acceptedSends[0] + SEND_WINDOW_MS - now) / 1000));
}

export function setComposerError(roomId, error) {
  if (error) store.composerError.set(roomId, error);
  else store.composerError.delete(roomId);
  emit('composer', roomId);
}

export async function editMessage(roomId, messageId, content) {
  const text = content.trim();
  if (!text) throw new Error('A message cannot be empty.');
  const message = await request('edit_message', { messageId, roomId, content: text });
  onMessageEdited(message);
}

export async function deleteMessage(roomId, messageId) {
  const answer = await request('delete_message', { messageId, roomId });
  onMessageDeleted({ messageId: answer.messageId, roomId: answer.roomId, seq: answer.seq, deletedAt: new Date().toISOString() });
}

export function startEditing(roomId, id) {
  store.editing = id ? { roomId, id } : null;
  emit('timeline', roomId);
}

// ---------------------------------------------------------------------------
// Read positions

/** Marks the room read up to `message` (the newest one seen on screen). */
export function markRead(roomId, message) {
  const room = store.rooms.get(roomId);
  if (!room || !message?.seq || !message.id || message.seq <= (room.lastReadSeq || 0)) return;
  if (!isConnected()) return; // checked again when the connection is back
  room.lastReadSeq = message.seq;
  readersOf(roomId).set(store.me.id, message.seq);
  recountUnread(roomId);
  request('mark_message_read', { messageId: message.id, roomId }).catch((err) => {
    console.warn('mark_message_read failed', err);
    room.lastReadSeq = Math.min(room.lastReadSeq, message.seq - 1);
  });
}

/** Unread = others' live messages above my read position, counted from what is loaded when that is enough. */
function recountUnread(roomId) {
  const room = store.rooms.get(roomId);
  if (!room) return;
  const readSeq = room.lastReadSeq || 0;
  const t = store.timelines.get(roomId);
  const oldest = t?.oldestSeq();
  if (t?.loaded && (oldest === null || oldest <= readSeq + 1)) {
    let n = 0;
    for (const m of t.items.values()) {
      if (m.seq > readSeq && m.senderId !== store.me.id && !m.deletedAt) n += 1;
    }
    room.unreadCount = n;
  } else if (readSeq >= seqTracker(roomId).mark) {
    room.unreadCount = 0;
  } else {
    scheduleRoomsReload();
  }
  emit('rooms');
}

// ---------------------------------------------------------------------------
// Typing, sent with a debounce: true at the first keystroke (and every few
// seconds while it goes on), false after a pause

const typingOut = { roomId: null, active: false, lastSent: 0, idleTimer: null };

export function userTyped(roomId) {
  if (!isConnected()) return;
  if (typingOut.active && typingOut.roomId !== roomId) stopTyping();
  const now = Date.now();
  if (!typingOut.active || now - typingOut.lastSent > TYPING_REFRESH_MS) {
    typingOut.lastSent = now;
    request('typing', { roomId, isTyping: true }).catch(() => {});
  }
  typingOut.active = true;
  typingOut.roomId = roomId;
  clearTimeout(typingOut.idleTimer);
  typingOut.idleTimer = setTimeout(() => stopTyping(), TYPING_IDLE_MS);
}

export function stopTyping({ tell = true } = {}) {
  clearTimeout(typingOut.idleTimer);
  if (!typingOut.active) return;
  typingOut.active = false;
  if (tell && isConnected()) request('typing', { roomId: typingOut.roomId, isTyping: false }).catch(() => {});
}

function setTyping(roomId, userId, isTyping) {
  let map = store.typing.get(roomId);
  if (!map) {
    map = new Map();
    store.typing.set(roomId, map);
  }
  clearTimeout(map.get(userId));
  if (isTyping) {
    map.set(
      userId,
      setTimeout(() => {
        map.delete(userId);
        emit('typing', roomId);
      }, TYPING_SHOWN_MS),
    );
  } else {
    map.delete(userId);
  }
  emit('typing', roomId);
}

// ---------------------------------------------------------------------------
// Realtime events

const syncTimers = new Map();
/** Asks the server to replay a room after the last seq without a gap. */
function scheduleSync(roomId) {
  if (syncTimers.has(roomId)) return;
  syncTimers.set(
    roomId,
    setTimeout(() => {
      syncTimers.delete(roomId);
      const tracker = store.seqs.get(roomId);
      if (!tracker || !isConnected()) return;
      request('sync', { roomId, afterSeq: tracker.mark }).catch((err) => console.warn('sync failed', err));
    }, 1000),
  );
}

function onReceiveMessage(m) {
  if (!m?.roomId || !m.id) return;
  const tracker = seqTracker(m.roomId);
  const fresh = tracker.add(m.seq); // false: a replay of one already here
  timeline(m.roomId).upsert(m);
  const room = store.rooms.get(m.roomId);
  if (room) {
    room.lastMessage = newer(room.lastMessage, m);
    room.lastSeq = Math.max(room.lastSeq || 0, m.seq);
    const counted = m.seq <= (room.unreadBaseline || 0); // already in the listing's unreadCount
    if (fresh && !counted && m.senderId !== store.me.id && !m.deletedAt && m.seq > (room.lastReadSeq || 0)) {
      room.unreadCount = (room.unreadCount || 0) + 1;
    }
  } else {
    scheduleRoomsReload(); // a room joined elsewhere (another tab)
  }
  if (store.typing.get(m.roomId)?.has(m.senderId)) setTyping(m.roomId, m.senderId, false);
  if (tracker.hasGap()) scheduleSync(m.roomId);
  emit('timeline', m.roomId, { own: m.senderId === store.me.id });
  emit('rooms');
}

function onMessageEdited(d) {
  const fields = { content: d.content, isEdited: true, editedAt: d.editedAt, updatedAt: d.updatedAt };
  timeline(d.roomId).patch(d.id, fields);
  const room = store.rooms.get(d.roomId);
  if (room?.lastMessage?.id === d.id) room.lastMessage = { ...room.lastMessage, ...fields };
  emit('timeline', d.roomId);
  emit('rooms');
}

function onMessageDeleted(d) {
  const fields = { content: '', deletedAt: d.deletedAt || new Date().toISOString() };
  timeline(d.roomId).patch(d.messageId, fields);
  const room = store.rooms.get(d.roomId);
  if (room?.lastMessage?.id === d.messageId) room.lastMessage = { ...room.lastMessage, ...fields };
  if (store.editing?.id === d.messageId) store.editing = null;
  emit('timeline', d.roomId);
  emit('rooms');
}

function onMessageRead(d) {
  const readers = readersOf(d.roomId);
  readers.set(d.readBy, Math.max(readers.get(d.readBy) || 0, d.lastReadSeq || 0));
  if (d.readBy === store.me?.id) {
    const room = store.rooms.get(d.roomId);
    if (room) room.lastReadSeq = Math.max(room.lastReadSeq || 0, d.lastReadSeq || 0);
    recountUnread(d.roomId); // read in another tab
  }
  emit('timeline', d.roomId);
}

function onUserStatus(d) {
  if (!d.userId) return;
  if (d.status === 'online' || d.status === 'joined') {
    // "joined": the user's session subscribed to the room, so the user is connected.
    store.presence.set(d.userId, { online: true, lastSeen: null });
  } else if (d.status === 'offline') {
    store.presence.set(d.userId, { online: false, lastSeen: d.lastSeen || new Date().toISOString() });
    for (const roomId of store.typing.keys()) if (store.typing.get(roomId).has(d.userId)) setTyping(roomId, d.userId, false);
  }
  emit('presence', d.userId);
}

function onMemberJoined(d) {
  if (d.user?.id === store.me?.id) {
    if (!store.rooms.has(d.roomId)) scheduleRoomsReload();
    return;
  }
  const members = membersOf(d.roomId);
  const isNew = !members.has(d.user.id);
  members.set(d.user.id, { userId: d.user.id, username: d.user.username, fullName: d.user.fullName, role: d.role });
  const room = store.rooms.get(d.roomId);
  if (room && isNew) room.memberCount = (room.memberCount || 0) + 1;
  emit('members', d.roomId);
  emit('rooms');
}

function onMemberRemoved(d) {
  if (d.userId === store.me?.id) {
    if (!store.rooms.has(d.roomId)) return;
    const name = store.rooms.get(d.roomId)?.name || 'a room';
    const why = { kicked: `You were removed from ${name}.`, banned: `You were banned from ${name}.` }[d.reason];
    forgetRoom(d.roomId, why);
    if (why && store.activeRoomId !== d.roomId) setNotice(why);
    return;
  }
  const members = membersOf(d.roomId);
  if (members.delete(d.userId)) {
    const room = store.rooms.get(d.roomId);
    if (room) room.memberCount = Math.max(0, (room.memberCount || 1) - 1);
  }
  emit('members', d.roomId);
  emit('rooms');
}

function onMemberRole(d) {
  const member = store.members.get(d.roomId)?.get(d.userId);
  if (member) member.role = d.role;
  if (d.userId === store.me?.id) {
    const room = store.rooms.get(d.roomId);
    if (room) room.role = d.role;
    if (store.activeRoomId === d.roomId) emit('active');
  }
  emit('members', d.roomId);
  emit('rooms');
}

function onRoomUpdated(d) {
  applyRoomFields(d.roomId, { name: d.name, description: d.description, isPrivate: d.isPrivate });
}

function onRoomDeleted(d) {
  const name = store.rooms.get(d.roomId)?.name;
  if (name) forgetRoom(d.roomId, `The room ${name} was deleted.`);
}

function onError(d) {
  // Failures of events sent without an ack (e.g. recovery of a room left meanwhile).
  console.warn('server error event', d);
  if (d.code === 'ACCESS_DENIED' || d.code === 'RESOURCE_NOT_FOUND') scheduleRoomsReload();
}

const handlers = {
  receive_message: onReceiveMessage,
  message_edited: onMessageEdited,
  message_deleted: onMessageDeleted,
  message_read: onMessageRead,
  typing: (d) => d.userId !== store.me?.id && setTyping(d.roomId, d.userId, Boolean(d.isTyping)),
  user_status: onUserStatus,
  member_joined: onMemberJoined,
  member_removed: onMemberRemoved,
  member_role: onMemberRole,
  room_updated: onRoomUpdated,
  room_deleted: onRoomDeleted,
  error: onError,
};
