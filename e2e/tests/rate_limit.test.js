// Message rate limit: 5 per 10 s per user, shared between REST and realtime.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { close, connectReady, emitAck, emitOk, useServer } from '../lib/client.js';
import { avoidWindowEdge, roomWithMembers } from '../lib/fixtures.js';

const ctx = useServer();

test('the 6th send_message within 10 s is RATE_LIMIT_EXCEEDED and not stored', async () => {
  const { room, users, sockets } = await roomWithMembers(ctx.server, ['alice', 'bob']);
  const [a, b] = sockets;
  await avoidWindowEdge();
  const sent = [];
  for (let i = 1; i <= 5; i += 1) sent.push(await emitOk(a, 'send_message', { roomId: room.id, content: `burst ${i}` }));
  const sixth = await emitAck(a, 'send_message', { roomId: room.id, content: 'burst 6' });
  assert.equal(sixth.status, 'error', JSON.stringify(sixth));
  assert.equal(sixth.code, 'RATE_LIMIT_EXCEEDED', JSON.stringify(sixth));

  // Not stored, not broadcast.
  const history = await ctx.server.history(users[1].token, room.id);
  assert.deepEqual(history.map((m) => m.content), ['burst 1', 'burst 2', 'burst 3', 'burst 4', 'burst 5']);
  assert.deepEqual(history.map((m) => m.seq), [1, 2, 3, 4, 5], 'a refused send takes no seq');
  const page = await ctx.server.api('GET', `/rooms/${room.id}/messages`, { token: users[0].token });
  assert.equal(page.pagination.total, 5, JSON.stringify(page.pagination));
  assert.deepEqual(page.messages.map((m) => m.content), ['burst 5', 'burst 4', 'burst 3', 'burst 2', 'burst 1'], 'newest first');
  for (const m of sent) await b.log.waitFor('receive_message', (d) => d.id === m.id);
  assert.deepEqual(b.log.all('receive_message', (d) => d.content === 'burst 6'), []);

  // Another user is not limited by alice's sends.
  const fromBob = await emitOk(b, 'send_message', { roomId: room.id, content: 'bob is fine' });
  assert.equal(fromBob.seq, 6);
});

test('without an ack, the 6th send gets the error event RATE_LIMIT_EXCEEDED', async () => {
  const { room, users, sockets } = await roomWithMembers(ctx.server, ['alice']);
  const [a] = sockets;
  await avoidWindowEdge();
  for (let i = 1; i <= 5; i += 1) await emitOk(a, 'send_message', { roomId: room.id, content: `m${i}` });
  a.emit('send_message', { roomId: room.id, content: 'm6' });
  const err = await a.log.waitFor('error');
  assert.equal(err.code, 'RATE_LIMIT_EXCEEDED', JSON.stringify(err));
  assert.equal((await ctx.server.history(users[0].token, room.id)).length, 5);
});

test('the limit is shared with REST and survives a reconnect', async () => {
  const { server } = ctx;
  const { room, users, sockets } = await roomWithMembers(server, ['alice']);
  const [alice] = users;
  await avoidWindowEdge();
  for (let i = 1; i <= 3; i += 1) await server.sendRest(alice.token, room.id, `rest ${i}`);
  await emitOk(sockets[0], 'send_message', { roomId: room.id, content: 'socket 4' });
  close(sockets[0]);

  const again = await connectReady(server, alice);
  await emitOk(again, 'send_message', { roomId: room.id, content: 'socket 5' });
  const sixth = await emitAck(again, 'send_message', { roomId: room.id, content: 'socket 6' });
  assert.equal(sixth.code, 'RATE_LIMIT_EXCEEDED', JSON.stringify(sixth));

  const rest = await server.request('POST', `/api/v1/rooms/${room.id}/messages`, {
    token: alice.token,
    body: { content: 'rest 7' },
    allowError: true,
  });
  assert.equal(rest.status, 429, JSON.stringify(rest.body));
  assert.equal(rest.body.code, 'RATE_LIMIT_EXCEEDED');
  assert.equal((await server.history(alice.token, room.id)).length, 5);
});
