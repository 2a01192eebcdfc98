// Typing indicators: reach the other members, expire by themselves, end on send.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { connectReady, emitAck, emitOk, MODES, useServer } from '../lib/client.js';
import { roomWithMembers } from '../lib/fixtures.js';

const ctx = useServer();

for (const mode of MODES) {
  describe(`typing (${mode.name})`, () => {
    test('the other member sees typing, and it turns false by itself', async () => {
      const { room, users, sockets } = await roomWithMembers(ctx.server, ['alice', 'bob'], { mode });
      const [alice] = users;
      const [a, b] = sockets;
      const answer = await emitOk(a, 'typing', { roomId: room.id, isTyping: true });
      assert.deepEqual({ roomId: answer.roomId, isTyping: answer.isTyping }, { roomId: room.id, isTyping: true });

      const on = await b.log.waitFor('typing', (d) => d.userId === alice.id);
      assert.deepEqual({ userId: on.userId, roomId: on.roomId, isTyping: on.isTyping }, { userId: alice.id, roomId: room.id, isTyping: true });

      // No refresh: it expires after about 5 s.
      const off = await b.log.waitFor('typing', (d) => d.userId === alice.id, 8_000);
      assert.deepEqual({ userId: off.userId, roomId: off.roomId, isTyping: off.isTyping }, { userId: alice.id, roomId: room.id, isTyping: false });
      assert.deepEqual(a.log.all('typing', (d) => d.userId === alice.id), [], "the typist's own session is not told");
    });

    test('sending a message ends typing', async () => {
      const { room, users, sockets } = await roomWithMembers(ctx.server, ['alice', 'bob'], { mode });
      const [alice] = users;
      const [a, b] = sockets;
      await emitOk(a, 'typing', { roomId: room.id, isTyping: true });
      await b.log.waitFor('typing', (d) => d.userId === alice.id && d.isTyping === true);
      const m = await emitOk(a, 'send_message', { roomId: room.id, content: 'done typing' });
      await b.log.waitFor('receive_message', (d) => d.id === m.id);
      const off = await b.log.waitFor('typing', (d) => d.userId === alice.id, 3_000);
      assert.equal(off.isTyping, false, 'the next typing event after the send is false');
      assert.equal(off.roomId, room.id);
    });
  });
}

test('typing false is passed on, and a non-member cannot type in a room', async () => {
  const { room, users, sockets } = await roomWithMembers(ctx.server, ['alice', 'bob']);
  const [alice] = users;
  const [a, b] = sockets;
  await emitOk(a, 'typing', { roomId: room.id, isTyping: true });
  await b.log.waitFor('typing', (d) => d.userId === alice.id && d.isTyping === true);
  await emitOk(a, 'typing', { roomId: room.id, isTyping: false });
  const off = await b.log.waitFor('typing', (d) => d.userId === alice.id);
  assert.equal(off.isTyping, false);

  const stranger = await ctx.server.register('stranger');
  const s = await connectReady(ctx.server, stranger);
  const answer = await emitAck(s, 'typing', { roomId: room.id, isTyping: true });
  assert.equal(answer.status, 'error', JSON.stringify(answer));
  assert.equal(answer.code, 'ACCESS_DENIED', JSON.stringify(answer));
});

test('a member may type without having joined the room stream (docs: typing is for members)', async () => {
  const { room, users, sockets } = await roomWithMembers(ctx.server, ['alice', 'bob'], { connect: false });
  const [alice, bob] = users;
  const b = await connectReady(ctx.server, bob);
  await emitOk(b, 'join_room', { roomId: room.id });
  const a = await connectReady(ctx.server, alice); // a member, but no join_room
  const answer = await emitAck(a, 'typing', { roomId: room.id, isTyping: true });
  assert.equal(answer.status, 'success', JSON.stringify(answer));
  await b.log.waitFor('typing', (d) => d.userId === alice.id && d.isTyping === true);
});
