// Presence across tabs: online once for the first session, offline (with lastSeen)
// when the last one ends, and only to those who share a room.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { close, connectReady, emitOk, eventually, useServer } from '../lib/client.js';
import { assertTimestamp } from '../lib/fixtures.js';
import { sleep } from '../lib/server.js';

const ctx = useServer();

async function isOnline(token, roomId, userId) {
  const room = await ctx.server.room(token, roomId);
  const membership = room.memberships.find((m) => m.user?.id === userId);
  return membership?.user?.isOnline;
}

test('two tabs: online once, nothing when one closes, offline with lastSeen when the last closes', async () => {
  const { server } = ctx;
  const alice = await server.register('alice');
  const bob = await server.register('bob');
  const loner = await server.register('loner');
  const room = await server.createRoom(alice.token, 'presence');
  await server.joinRoom(bob.token, room.id);

  const a = await connectReady(server, alice);
  await emitOk(a, 'join_room', { roomId: room.id });
  const l = await connectReady(server, loner); // shares no room with bob

  const tab1 = await connectReady(server, bob, { label: 'bob-tab1' });
  const online = await a.log.waitFor('user_status', (d) => d.userId === bob.id && d.status === 'online');
  assert.deepEqual(online, { userId: bob.id, status: 'online' });
  await eventually(async () => (await isOnline(alice.token, room.id, bob.id)) === true, { what: 'REST shows bob online' });

  const tab2 = await connectReady(server, bob, { label: 'bob-tab2' });
  close(tab1);

  // Barrier: something bob does after both changes reaches alice, then a quiet moment.
  await emitOk(tab2, 'join_room', { roomId: room.id });
  await a.log.waitFor('user_status', (d) => d.userId === bob.id && d.status === 'joined');
  await sleep(1_000);
  assert.equal(a.log.all('user_status', (d) => d.userId === bob.id && d.status === 'online').length, 1, `one online: ${a.log.summary()}`);
  assert.deepEqual(a.log.all('user_status', (d) => d.userId === bob.id && d.status === 'offline'), [], 'no offline while a tab is open');
  assert.equal(await isOnline(alice.token, room.id, bob.id), true, 'REST still shows bob online');

  close(tab2);
  const offline = await a.log.waitFor('user_status', (d) => d.userId === bob.id && d.status === 'offline');
  assert.equal(offline.userId, bob.id);
  assertTimestamp(offline.lastSeen, 'offline.lastSeen');
  await eventually(async () => (await isOnline(alice.token, room.id, bob.id)) === false, { what: 'REST shows bob offline' });

  assert.deepEqual(l.log.all('user_status', (d) => d.userId === bob.id), [], 'a user sharing no room with bob hears nothing of him');
  assert.equal(a.log.all('user_status', (d) => d.userId === bob.id && d.status === 'offline').length, 1);
});

test('a session that joined no room still makes its user online for members who joined', async () => {
  const { server } = ctx;
  const alice = await server.register('alice');
  const carol = await server.register('carol');
  const room = await server.createRoom(alice.token, 'presence 2');
  await server.joinRoom(carol.token, room.id);
  const a = await connectReady(server, alice);
  await emitOk(a, 'join_room', { roomId: room.id });

  const c = await connectReady(server, carol);
  await a.log.waitFor('user_status', (d) => d.userId === carol.id && d.status === 'online');
  close(c);
  const offline = await a.log.waitFor('user_status', (d) => d.userId === carol.id && d.status === 'offline');
  assertTimestamp(offline.lastSeen, 'offline.lastSeen');
});
