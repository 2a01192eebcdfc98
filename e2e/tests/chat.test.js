// Two users chatting over Socket.IO in both transport modes; answers and errors.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';

import { connectReady, emitAck, emitOk, MODES, useServer } from '../lib/client.js';
import { assertMessageShape, roomWithMembers } from '../lib/fixtures.js';

const ctx = useServer();

const VALIDATION_CODES = ['INVALID_REQUEST_PARAMETERS', 'MISSING_REQUIRED_FIELD'];

for (const mode of MODES) {
  describe(`chat (${mode.name})`, () => {
    test('two members chat both ways; acks carry the stored message', async () => {
      const { server } = ctx;
      const alice = await server.register('alice');
      const bob = await server.register('bob');
      const room = await server.createRoom(alice.token, 'chat');
      await server.joinRoom(bob.token, room.id);

      const a = await connectReady(server, alice, { mode });
      const joinedA = await emitOk(a, 'join_room', { roomId: room.id });
      assert.deepEqual({ roomId: joinedA.roomId, lastSeq: joinedA.lastSeq }, { roomId: room.id, lastSeq: 0 });

      const b = await connectReady(server, bob, { mode });
      const joinedB = await emitOk(b, 'join_room', { roomId: room.id });
      assert.equal(joinedB.lastSeq, 0);
      const status = await a.log.waitFor('user_status', (d) => d.userId === bob.id && d.status === 'joined');
      assert.equal(status.roomId, room.id);

      const sent = await emitOk(a, 'send_message', { roomId: room.id, content: 'hi bob' });
      assertMessageShape(sent, { roomId: room.id, senderId: alice.id, content: 'hi bob' });
      assert.equal(sent.seq, 1);
      const atBob = await b.log.waitFor('receive_message', (d) => d.id === sent.id);
      assertMessageShape(atBob, { roomId: room.id, senderId: alice.id, content: 'hi bob' });
      assert.equal(atBob.seq, 1);
      assert.equal(atBob.sender.id, alice.id);

      const reply = await emitOk(b, 'send_message', { roomId: room.id, content: '  hi alice  ' });
      assert.equal(reply.content, 'hi alice', 'content is trimmed');
      assert.equal(reply.seq, 2);
      const atAlice = await a.log.waitFor('receive_message', (d) => d.id === reply.id);
      assert.equal(atAlice.content, 'hi alice');
      assert.equal(atAlice.senderId, bob.id);

      // The sender's own session gets the room's receive_message too.
      await a.log.waitFor('receive_message', (d) => d.id === sent.id);
      await b.log.waitFor('receive_message', (d) => d.id === reply.id);
      assert.deepEqual(a.log.all('error'), []);
      assert.deepEqual(b.log.all('error'), []);

      const history = await server.history(alice.token, room.id);
      assert.deepEqual(history.map((m) => [m.seq, m.id]), [[1, sent.id], [2, reply.id]]);
    });

    test('a failure goes to the ack when one is passed, else to the error event', async () => {
      const { server } = ctx;
      const { room } = await roomWithMembers(server, ['owner'], { mode });
      const stranger = await server.register('stranger');
      const s = await connectReady(server, stranger, { mode });

      // No ack: the error event {message, code}.
      s.emit('send_message', { roomId: room.id, content: 'let me in' });
      const err = await s.log.waitFor('error');
      assert.equal(err.code, 'ACCESS_DENIED', JSON.stringify(err));
      assert.ok(typeof err.message === 'string' && err.message.length > 0, JSON.stringify(err));

      // With an ack: {status:"error", code, message}, and no error event.
      const answer = await emitAck(s, 'send_message', { roomId: room.id, content: 'let me in' });
      assert.equal(answer.status, 'error', JSON.stringify(answer));
      assert.equal(answer.code, 'ACCESS_DENIED', JSON.stringify(answer));
      assert.ok(typeof answer.message === 'string' && answer.message.length > 0);

      const join = await emitAck(s, 'join_room', { roomId: room.id });
      assert.equal(join.status, 'error');
      assert.equal(join.code, 'ACCESS_DENIED', JSON.stringify(join));
      assert.equal(s.log.all('error').length, 1, `exactly one error event: ${s.log.summary()}`);

      const history = await server.history((await server.register('x')).token, room.id).catch((e) => e);
      assert.ok(history instanceof Error && history.status === 403, 'a non-member cannot read the history');
    });

    test('invalid events are refused with validation codes and nothing is stored', async () => {
      const { server } = ctx;
      const { room, users, sockets } = await roomWithMembers(server, ['alice'], { mode });
      const [a] = sockets;

      const blank = await emitAck(a, 'send_message', { roomId: room.id, content: '   ' });
      assert.equal(blank.status, 'error', JSON.stringify(blank));
      assert.ok(VALIDATION_CODES.includes(blank.code), JSON.stringify(blank));

      const missing = await emitAck(a, 'send_message', { roomId: room.id });
      assert.equal(missing.status, 'error', JSON.stringify(missing));
      assert.ok(VALIDATION_CODES.includes(missing.code), JSON.stringify(missing));

      const tooLong = await emitAck(a, 'send_message', { roomId: room.id, content: 'x'.repeat(1001) });
      assert.equal(tooLong.status, 'error', JSON.stringify(tooLong));
      assert.ok(VALIDATION_CODES.includes(tooLong.code), JSON.stringify(tooLong));

      const badRoom = await emitAck(a, 'join_room', { roomId: 'not-a-uuid' });
      assert.equal(badRoom.status, 'error', JSON.stringify(badRoom));
      assert.equal(badRoom.code, 'INVALID_REQUEST_PARAMETERS', JSON.stringify(badRoom));

      const unknown = await emitAck(a, 'join_room', { roomId: randomUUID() });
      assert.equal(unknown.status, 'error', JSON.stringify(unknown));
      assert.ok(['RESOURCE_NOT_FOUND', 'ACCESS_DENIED'].includes(unknown.code), JSON.stringify(unknown));

      a.emit('send_message', { roomId: room.id, content: '' });
      const err = await a.log.waitFor('error');
      assert.ok(VALIDATION_CODES.includes(err.code), JSON.stringify(err));

      assert.deepEqual(await server.history(users[0].token, room.id), []);
    });

    test('messages sent over REST reach connected members', async () => {
      const { server } = ctx;
      const { room, users, sockets } = await roomWithMembers(server, ['alice', 'bob'], { mode });
      const m = await server.sendRest(users[0].token, room.id, 'from rest');
      const atBob = await sockets[1].log.waitFor('receive_message', (d) => d.id === m.id);
      assert.equal(atBob.content, 'from rest');
      assert.equal(atBob.seq, m.seq);
    });

    test('clientMsgId makes a send idempotent', async () => {
      const { server } = ctx;
      const { room, users, sockets } = await roomWithMembers(server, ['alice', 'bob'], { mode });
      const clientMsgId = randomUUID();
      const first = await emitOk(sockets[0], 'send_message', { roomId: room.id, content: 'once', clientMsgId });
      assert.equal(first.clientMsgId, clientMsgId);
      const again = await emitOk(sockets[0], 'send_message', { roomId: room.id, content: 'once', clientMsgId });
      assert.equal(again.id, first.id, 'a retry answers with the original message');
      assert.equal(again.seq, first.seq);
      const history = await server.history(users[1].token, room.id);
      assert.deepEqual(history.map((m) => m.id), [first.id], 'stored once');
    });

    test('leave_room stops the session receiving the room; join_room resumes it', async () => {
      const { server } = ctx;
      const { room, users, sockets } = await roomWithMembers(server, ['alice', 'bob'], { mode });
      const [a, b] = sockets;
      const left = await emitOk(b, 'leave_room', { roomId: room.id });
      assert.equal(left.roomId, room.id);

      const m1 = await emitOk(a, 'send_message', { roomId: room.id, content: 'while bob is away' });
      await a.log.waitFor('receive_message', (d) => d.id === m1.id); // the room has fanned m1 out
      const rejoined = await emitOk(b, 'join_room', { roomId: room.id });
      assert.equal(rejoined.lastSeq, m1.seq);
      const m2 = await emitOk(a, 'send_message', { roomId: room.id, content: 'welcome back' });
      await b.log.waitFor('receive_message', (d) => d.id === m2.id);
      assert.deepEqual(b.log.all('receive_message', (d) => d.id === m1.id), [], 'bob did not get the message sent while he had left');
      // Membership is unchanged: bob still reads the history.
      assert.equal((await server.history(users[1].token, room.id)).length, 2);
    });
  });
}
