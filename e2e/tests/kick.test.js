// A member kicked over REST stops receiving the room at once and can no longer send.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { emitAck, emitOk, useServer } from '../lib/client.js';
import { roomWithMembers } from '../lib/fixtures.js';
import { sleep } from '../lib/server.js';

const ctx = useServer();

test('a kicked user stops receiving the room at once and is refused on send', async () => {
  const { server } = ctx;
  const { room, users, sockets } = await roomWithMembers(server, ['admin', 'bob', 'carol']);
  const [admin, bob] = users;
  const [adminS, bobS, carolS] = sockets;

  const before = await emitOk(adminS, 'send_message', { roomId: room.id, content: 'before the kick' });
  await bobS.log.waitFor('receive_message', (d) => d.id === before.id);

  await server.kick(admin.token, room.id, bob.id);

  const removed = await carolS.log.waitFor('member_removed', (d) => d.userId === bob.id);
  assert.deepEqual({ roomId: removed.roomId, userId: removed.userId, reason: removed.reason }, { roomId: room.id, userId: bob.id, reason: 'kicked' });

  // Right after the REST answer: bob must not get this one.
  const after = await emitOk(adminS, 'send_message', { roomId: room.id, content: 'after the kick' });
  await carolS.log.waitFor('receive_message', (d) => d.id === after.id);
  // Bob's send is answered after anything the room had queued for him.
  const refused = await emitAck(bobS, 'send_message', { roomId: room.id, content: 'am I still here?' });
  assert.equal(refused.status, 'error', JSON.stringify(refused));
  assert.equal(refused.code, 'ACCESS_DENIED', JSON.stringify(refused));
  await sleep(300);
  assert.deepEqual(bobS.log.all('receive_message', (d) => d.id === after.id), [], 'the kicked user did not receive the message sent after the kick');

  bobS.emit('send_message', { roomId: room.id, content: 'no ack' });
  const err = await bobS.log.waitFor('error');
  assert.equal(err.code, 'ACCESS_DENIED', JSON.stringify(err));

  for (const event of ['join_room', 'sync', 'typing']) {
    const answer = await emitAck(bobS, event, { roomId: room.id, afterSeq: 0, isTyping: true });
    assert.equal(answer.status, 'error', `${event}: ${JSON.stringify(answer)}`);
    assert.equal(answer.code, 'ACCESS_DENIED', `${event}: ${JSON.stringify(answer)}`);
  }

  const history = await server.history(admin.token, room.id);
  assert.deepEqual(history.map((m) => m.content), ['before the kick', 'after the kick']);
  assert.deepEqual(bobS.log.all('receive_message', (d) => d.id !== before.id), []);
});

test('a kicked user may rejoin over REST and then receives the room again', async () => {
  const { server } = ctx;
  const { room, users, sockets } = await roomWithMembers(server, ['admin', 'bob']);
  const [admin, bob] = users;
  const [adminS, bobS] = sockets;
  await server.kick(admin.token, room.id, bob.id);
  const denied = await emitAck(bobS, 'join_room', { roomId: room.id });
  assert.equal(denied.code, 'ACCESS_DENIED', JSON.stringify(denied));

  await server.joinRoom(bob.token, room.id);
  await emitOk(bobS, 'join_room', { roomId: room.id });
  const m = await emitOk(adminS, 'send_message', { roomId: room.id, content: 'welcome back' });
  await bobS.log.waitFor('receive_message', (d) => d.id === m.id);
});
