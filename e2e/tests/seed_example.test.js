// The seed README's "Test WebSocket Connection" example, verbatim: a client written
// against the seed (no ack callbacks) must work unchanged against rtchat.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { io } from 'socket.io-client';

import { connectReady, emitOk, record, useServer } from '../lib/client.js';
import { assertTimestamp } from '../lib/fixtures.js';

const ctx = useServer();

test('seed README "Test WebSocket Connection" example: a second member receives the message', async () => {
  const { server } = ctx;
  const alice = await server.register('alice');
  const bob = await server.register('bob');
  const room = await server.createRoom(alice.token, 'seed example');
  await server.joinRoom(bob.token, room.id);

  const bobSocket = await connectReady(server, bob);
  await emitOk(bobSocket, 'join_room', { roomId: room.id });

  const YOUR_JWT_TOKEN = alice.token;
  const ROOM_UUID = room.id;
  const url = server.url; // the README's 'http://localhost:8080'

  // ---- verbatim from ../shared/seed/README.md, placeholders filled in ----
  // Connect to Socket.IO
  const socket = io(url, {
    auth: { token: YOUR_JWT_TOKEN }
  });

  // Join a room
  socket.emit('join_room', { roomId: ROOM_UUID });

  // Send a message
  socket.emit('send_message', { 
    roomId: ROOM_UUID, 
    content: 'Hello, world!' 
  });
  // ---- end of the README's example ----
  record(socket, 'seed-client');

  const m = await bobSocket.log.waitFor('receive_message', (d) => d.roomId === room.id);
  const json = JSON.stringify(m);
  // The seed's receive_message fields ...
  assert.equal(typeof m.id, 'string', `id: ${json}`);
  assert.equal(m.roomId, room.id, `roomId: ${json}`);
  assert.equal(m.senderId, alice.id, `senderId: ${json}`);
  assert.equal(m.content, 'Hello, world!', `content: ${json}`);
  assertTimestamp(m.createdAt, 'createdAt');
  assertTimestamp(m.deliveredAt, 'deliveredAt');
  // ... plus rtchat's per-room sequence number.
  assert.equal(m.seq, 1, `seq of the room's first message: ${json}`);

  // A seed client has no ack: it sees its own message through receive_message.
  const own = await socket.log.waitFor('receive_message', (d) => d.id === m.id);
  assert.equal(own.content, 'Hello, world!');
  assert.equal((await socket.log.waitFor('welcome')).message, `Hello, User ${alice.id}`);
  assert.deepEqual(socket.log.all('error'), [], 'the seed client got no error event');

  // Stored exactly once.
  const history = await server.history(bob.token, room.id);
  assert.deepEqual(history.map((h) => h.id), [m.id]);
  socket.disconnect();
});

test('seed-style client: edit, delete, read and typing without acks reach the other member', async () => {
  const { server } = ctx;
  const alice = await server.register('alice');
  const bob = await server.register('bob');
  const room = await server.createRoom(alice.token, 'seed events');
  await server.joinRoom(bob.token, room.id);
  const bobSocket = await connectReady(server, bob);
  await emitOk(bobSocket, 'join_room', { roomId: room.id });

  const socket = record(io(server.url, { auth: { token: alice.token }, forceNew: true }), 'seed-client');
  socket.emit('join_room', { roomId: room.id });
  socket.emit('typing', { roomId: room.id, isTyping: true });
  socket.emit('send_message', { roomId: room.id, content: 'first' });

  const typing = await bobSocket.log.waitFor('typing', (d) => d.userId === alice.id && d.isTyping === true);
  assert.equal(typing.roomId, room.id);
  const m = await bobSocket.log.waitFor('receive_message', (d) => d.content === 'first');

  socket.emit('edit_message', { messageId: m.id, content: 'first, edited' });
  const edited = await bobSocket.log.waitFor('message_edited', (d) => d.id === m.id);
  assert.equal(edited.content, 'first, edited');
  assert.equal(edited.isEdited, true);

  bobSocket.emit('mark_message_read', { messageId: m.id });
  const read = await socket.log.waitFor('message_read', (d) => d.messageId === m.id);
  assert.equal(read.readBy, bob.id);

  socket.emit('delete_message', { messageId: m.id });
  const deleted = await bobSocket.log.waitFor('message_deleted', (d) => d.messageId === m.id);
  assert.equal(deleted.roomId, room.id);
  assert.deepEqual(socket.log.all('error'), [], 'no error event');
  socket.disconnect();
});
