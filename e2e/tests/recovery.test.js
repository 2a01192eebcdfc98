// Recovery after a reconnect: auth offsets, and the sync event.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { close, connect, connected, connectReady, emitAck, emitOk, MODES, useServer } from '../lib/client.js';
import { roomWithMembers } from '../lib/fixtures.js';

const ctx = useServer();

/** Waits until `count` receive_message events of the room are logged; returns them in arrival order. */
async function collect(socket, roomId, count, ms = 10_000) {
  const got = [];
  for (let i = 0; i < count; i += 1) got.push(await socket.log.waitFor('receive_message', (d) => d.roomId === roomId, ms));
  return got;
}

for (const mode of MODES) {
  describe(`recovery (${mode.name})`, () => {
    test('reconnecting with auth offsets replays every missed message in seq order, then live ones', async () => {
      const { server } = ctx;
      const { room, users, sockets } = await roomWithMembers(server, ['alice', 'bob', 'carol'], { mode });
      const [alice, bob, carol] = users;
      const [a, b, c] = sockets;

      const first = await emitOk(a, 'send_message', { roomId: room.id, content: 'before the outage' });
      const seen = await b.log.waitFor('receive_message', (d) => d.id === first.id);
      const lastSeq = seen.seq;
      close(b);

      const missed = [];
      for (let i = 0; i < 3; i += 1) {
        missed.push(await emitOk(a, 'send_message', { roomId: room.id, content: `missed a${i}` }));
        missed.push(await emitOk(c, 'send_message', { roomId: room.id, content: `missed c${i}` }));
      }

      const back = connect(server, bob.token, { mode, auth: { offsets: { [room.id]: lastSeq } }, label: 'bob-back' });
      await connected(back);
      const replayed = await collect(back, room.id, missed.length);
      assert.deepEqual(
        replayed.map((m) => [m.seq, m.id]),
        missed.map((m) => [m.seq, m.id]),
        'every missed message, in seq order',
      );
      assert.deepEqual(replayed.map((m) => m.seq), Array.from({ length: missed.length }, (_, i) => lastSeq + 1 + i), 'no gap');

      // The session joined the room through its offsets: live messages follow.
      const live = await emitOk(c, 'send_message', { roomId: room.id, content: 'live again' });
      const got = await back.log.waitFor('receive_message', (d) => d.id === live.id);
      assert.equal(got.seq, lastSeq + missed.length + 1);
      assert.equal(back.log.all('receive_message', (d) => d.seq <= lastSeq).length, 0, 'nothing at or below the offset');
      void alice;
      void carol;
    });

    test('sync {roomId, afterSeq} replays to this session alone, in order, then answers', async () => {
      const { server } = ctx;
      const { room, sockets } = await roomWithMembers(server, ['alice', 'bob'], { mode });
      const [a, b] = sockets;
      const sent = [];
      for (let i = 1; i <= 4; i += 1) sent.push(await emitOk(a, 'send_message', { roomId: room.id, content: `s${i}` }));
      for (const m of sent) await b.log.waitFor('receive_message', (d) => d.id === m.id);
      const before = b.log.all('receive_message').length;

      const answer = await emitOk(b, 'sync', { roomId: room.id, afterSeq: 1 });
      assert.deepEqual(
        { roomId: answer.roomId, lastSeq: answer.lastSeq, replayed: answer.replayed },
        { roomId: room.id, lastSeq: 4, replayed: 3 },
      );
      // The replayed messages arrived before the answer.
      const after = b.log.all('receive_message').slice(before);
      assert.deepEqual(after.map((m) => m.seq), [2, 3, 4], 'the replay, in order, before the answer');
      assert.deepEqual(after.map((m) => m.id), sent.slice(1).map((m) => m.id));

      const empty = await emitOk(b, 'sync', { roomId: room.id, afterSeq: 4 });
      assert.equal(empty.replayed, 0);
      assert.equal(empty.lastSeq, 4);

      // Barrier for alice: her next own message arrives after anything the sync could have sent her.
      const barrier = await emitOk(a, 'send_message', { roomId: room.id, content: 'barrier' });
      await a.log.waitFor('receive_message', (d) => d.id === barrier.id);
      for (const m of sent) {
        assert.equal(a.log.all('receive_message', (d) => d.id === m.id).length, 1, 'the replay went to the syncing session alone');
      }
    });
  });
}

test('offsets for several rooms replay each room in order', async () => {
  const { server } = ctx;
  const alice = await server.register('alice');
  const bob = await server.register('bob');
  const r1 = await server.createRoom(alice.token, 'one');
  const r2 = await server.createRoom(alice.token, 'two');
  await server.joinRoom(bob.token, r1.id);
  await server.joinRoom(bob.token, r2.id);
  const s1 = [await server.sendRest(alice.token, r1.id, 'r1 a'), await server.sendRest(alice.token, r1.id, 'r1 b')];
  const s2 = [await server.sendRest(alice.token, r2.id, 'r2 a'), await server.sendRest(alice.token, r2.id, 'r2 b')];

  const b = connect(server, bob.token, { auth: { offsets: { [r1.id]: 0, [r2.id]: 1 } } });
  await connected(b);
  const got1 = await collect(b, r1.id, 2);
  const got2 = await collect(b, r2.id, 1);
  assert.deepEqual(got1.map((m) => m.id), s1.map((m) => m.id));
  assert.deepEqual(got2.map((m) => m.id), [s2[1].id]);
});

test('sync and offsets are for members only', async () => {
  const { server } = ctx;
  const { room, users } = await roomWithMembers(server, ['alice'], { connect: false });
  await server.sendRest(users[0].token, room.id, 'members only');
  const stranger = await server.register('stranger');
  const s = await connectReady(server, stranger);
  const answer = await emitAck(s, 'sync', { roomId: room.id, afterSeq: 0 });
  assert.equal(answer.status, 'error', JSON.stringify(answer));
  assert.equal(answer.code, 'ACCESS_DENIED', JSON.stringify(answer));

  // Offsets naming a foreign room give it nothing of that room.
  const o = connect(server, stranger.token, { auth: { offsets: { [room.id]: 0 } } });
  await connected(o).catch(() => {});
  // Whatever the server does with the foreign offset, an answered event afterwards
  // is a barrier behind any replay it could have sent.
  await emitAck(o, 'typing', { roomId: room.id, isTyping: false }).catch(() => {});
  assert.deepEqual(o.log.all('receive_message'), []);
});
