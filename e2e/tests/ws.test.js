// The plain WebSocket transport at /ws: the same events, answers and errors.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { emitOk, useServer, WsClient } from '../lib/client.js';
import { assertMessageShape, roomWithMembers } from '../lib/fixtures.js';

const ctx = useServer();

async function openWs(user, options = {}) {
  const client = await WsClient.open(ctx.server, { token: user.token, label: `ws:${user.username}`, ...options });
  const welcome = await client.log.waitFor('welcome');
  assert.equal(welcome.message, `Hello, User ${user.id}`);
  return client;
}

test('/ws?token=: welcome, join_room and send_message with acks, receive_message frames', async () => {
  const { server } = ctx;
  const { room, users } = await roomWithMembers(server, ['alice', 'bob'], { connect: false });
  const [alice, bob] = users;
  const a = await openWs(alice);
  const b = await openWs(bob);

  const joinedA = await a.requestOk('join_room', { roomId: room.id });
  assert.deepEqual({ roomId: joinedA.roomId, lastSeq: joinedA.lastSeq }, { roomId: room.id, lastSeq: 0 });
  await b.requestOk('join_room', { roomId: room.id });
  const status = await a.log.waitFor('user_status', (d) => d.userId === bob.id && d.status === 'joined');
  assert.equal(status.roomId, room.id);

  const sent = await a.requestOk('send_message', { roomId: room.id, content: 'over plain ws' });
  assertMessageShape(sent, { roomId: room.id, senderId: alice.id, content: 'over plain ws' });
  const atBob = await b.log.waitFor('receive_message', (d) => d.id === sent.id);
  assertMessageShape(atBob, { roomId: room.id, senderId: alice.id, content: 'over plain ws' });
  assert.equal(atBob.seq, 1);

  const reply = await b.requestOk('send_message', { roomId: room.id, content: 'and back' });
  const atAlice = await a.log.waitFor('receive_message', (d) => d.id === reply.id);
  assert.equal(atAlice.seq, 2);
  assert.deepEqual(a.log.all('unexpected_ack'), []);
});

test('/ws with an Authorization header', async () => {
  const user = await ctx.server.register('header');
  const c = await WsClient.open(ctx.server, { header: `Bearer ${user.token}`, label: 'ws:header' });
  const welcome = await c.log.waitFor('welcome');
  assert.equal(welcome.message, `Hello, User ${user.id}`);
});

test('/ws refuses a bad or missing token with HTTP 401 and the REST envelope', async () => {
  for (const options of [{ token: 'not.a.jwt' }, {}]) {
    const err = await WsClient.open(ctx.server, { ...options, label: 'ws:bad' }).then(
      () => null,
      (e) => e,
    );
    assert.ok(err, `the upgrade was refused (${JSON.stringify(options)})`);
    assert.equal(err.status, 401, `${err.message}`);
    assert.equal(err.body?.status, 'error', JSON.stringify(err.body));
    assert.ok(['INVALID_TOKEN', 'MISSING_AUTH_HEADER'].includes(err.body?.code), JSON.stringify(err.body));
  }
});

test('/ws errors: to the ack when one is asked, else the error event', async () => {
  const { server } = ctx;
  const { room } = await roomWithMembers(server, ['owner'], { connect: false });
  const stranger = await server.register('stranger');
  const s = await openWs(stranger);

  const answer = await s.request('send_message', { roomId: room.id, content: 'nope' });
  assert.deepEqual({ status: answer.status, code: answer.code }, { status: 'error', code: 'ACCESS_DENIED' });
  assert.ok(answer.message);

  s.send('send_message', { roomId: room.id, content: 'nope' });
  const err = await s.log.waitFor('error');
  assert.equal(err.code, 'ACCESS_DENIED', JSON.stringify(err));
  assert.ok(err.message);
});

test('/ws and Socket.IO clients share a room; sync works on /ws', async () => {
  const { server } = ctx;
  const { room, users, sockets } = await roomWithMembers(server, ['sio', 'plain']);
  const [sioUser, plainUser] = users;
  const [sio] = sockets;
  const w = await openWs(plainUser);
  await w.requestOk('join_room', { roomId: room.id });

  const fromSio = await emitOk(sio, 'send_message', { roomId: room.id, content: 'from socket.io' });
  await w.log.waitFor('receive_message', (d) => d.id === fromSio.id);
  const fromWs = await w.requestOk('send_message', { roomId: room.id, content: 'from ws' });
  const got = await sio.log.waitFor('receive_message', (d) => d.id === fromWs.id);
  assert.equal(got.senderId, plainUser.id);

  const before = w.log.all('receive_message').length;
  const synced = await w.requestOk('sync', { roomId: room.id, afterSeq: 0 });
  assert.deepEqual({ lastSeq: synced.lastSeq, replayed: synced.replayed }, { lastSeq: 2, replayed: 2 });
  assert.deepEqual(w.log.all('receive_message').slice(before).map((m) => m.seq), [1, 2], 'replayed in order before the answer');
  void sioUser;
});

test('/ws: a frame over 64 KiB closes the connection', async () => {
  const user = await ctx.server.register('big');
  const c = await openWs(user);
  c.send('typing', { roomId: '00000000-0000-0000-0000-000000000000', isTyping: true, pad: 'x'.repeat(70 * 1024) });
  const closed = await c.waitClosed();
  assert.ok(closed, 'closed');
});

test('Socket.IO clients see typing sent over /ws', async () => {
  const { server } = ctx;
  const { room, users, sockets } = await roomWithMembers(server, ['sio', 'plain']);
  const [, plainUser] = users;
  const [sio] = sockets;
  const w = await openWs(plainUser);
  await w.requestOk('join_room', { roomId: room.id });
  await w.requestOk('typing', { roomId: room.id, isTyping: true });
  const typing = await sio.log.waitFor('typing', (d) => d.userId === plainUser.id && d.isTyping === true);
  assert.equal(typing.roomId, room.id);
});
