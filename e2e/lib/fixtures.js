// Scenario builders shared by the test files.

import assert from 'node:assert/strict';

import { connectReady, emitOk, MODES } from './client.js';
import { sleep } from './server.js';

/**
 * Registers `names.length` users; the first creates a room (its admin), the others
 * join it over REST. With `connect` (default) each gets a socket that has joined the
 * room's realtime stream. Returns `{room, users, sockets}` in the order of `names`.
 */
export async function roomWithMembers(server, names, { mode = MODES[0], isPrivate = false, connect = true } = {}) {
  const users = [];
  for (const name of names) users.push(await server.register(name));
  const room = await server.createRoom(users[0].token, `room of ${names[0]}`, isPrivate);
  for (const u of users.slice(1)) await server.joinRoom(u.token, room.id, room.inviteCode);
  const sockets = [];
  if (connect) {
    for (const u of users) {
      const socket = await connectReady(server, u, { mode });
      const joined = await emitOk(socket, 'join_room', { roomId: room.id });
      assert.equal(joined.roomId, room.id, `join_room answer names the room: ${JSON.stringify(joined)}`);
      sockets.push(socket);
    }
  }
  return { room, users, sockets };
}

/**
 * Message limits are fixed windows; if the server aligns them to the clock, a burst
 * that straddles a window edge would be split. Starts bursts away from 10 s edges.
 */
export async function avoidWindowEdge(windowMs = 10_000, margin = 2_000) {
  const into = Date.now() % windowMs;
  if (into > windowMs - margin) await sleep(windowMs - into + 200);
}

/** Asserts a value is an ISO-like timestamp that parses. */
export function assertTimestamp(value, what) {
  assert.ok(typeof value === 'string' && value.length > 0, `${what} is a timestamp string, got ${JSON.stringify(value)}`);
  assert.ok(!Number.isNaN(Date.parse(value)), `${what} parses as a date: ${value}`);
}

/** Asserts the fields of a message as docs/realtime.md lists them. */
export function assertMessageShape(m, { roomId, senderId, content } = {}) {
  const json = JSON.stringify(m);
  assert.ok(m && typeof m === 'object', `message is an object: ${json}`);
  assert.equal(typeof m.id, 'string', `message.id: ${json}`);
  assert.ok(Number.isInteger(m.seq) && m.seq >= 1, `message.seq is an integer >= 1: ${json}`);
  if (roomId !== undefined) assert.equal(m.roomId, roomId, `message.roomId: ${json}`);
  if (senderId !== undefined) assert.equal(m.senderId, senderId, `message.senderId: ${json}`);
  if (content !== undefined) assert.equal(m.content, content, `message.content: ${json}`);
  for (const key of ['clientMsgId', 'messageType', 'isEdited', 'editedAt', 'deletedAt', 'deliveredAt', 'readAt', 'createdAt', 'updatedAt', 'sender']) {
    assert.ok(key in m, `message has '${key}': ${json}`);
  }
  assertTimestamp(m.createdAt, 'message.createdAt');
  assertTimestamp(m.deliveredAt, 'message.deliveredAt');
  assert.equal(m.messageType, 'text', `message.messageType: ${json}`);
  assert.equal(m.isEdited, false, `message.isEdited: ${json}`);
  assert.ok(m.sender && m.sender.id === m.senderId && typeof m.sender.username === 'string', `message.sender: ${json}`);
}
