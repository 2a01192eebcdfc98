// Events emitted right after io(...), before the connect event, are not lost
// (the seed registered its handlers after an await and dropped them).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { connect, emitAck, MODES, useServer } from '../lib/client.js';
import { roomWithMembers } from '../lib/fixtures.js';

const ctx = useServer();

for (const mode of MODES) {
  describe(`early events (${mode.name})`, () => {
    test('join_room then send_message with acks, emitted before connect', async () => {
      const { room, users, sockets } = await roomWithMembers(ctx.server, ['bob', 'alice']);
      const [, alice] = users;
      const [bobS, aliceFirst] = sockets;
      aliceFirst.disconnect();

      const s = connect(ctx.server, alice.token, { mode });
      assert.equal(s.connected, false, 'emitting before the connection is up');
      const joinP = emitAck(s, 'join_room', { roomId: room.id });
      const sendP = emitAck(s, 'send_message', { roomId: room.id, content: 'early bird' });
      const typingP = emitAck(s, 'typing', { roomId: room.id, isTyping: false });

      const joined = await joinP;
      assert.equal(joined.status, 'success', JSON.stringify(joined));
      assert.equal(joined.data.roomId, room.id);
      const sent = await sendP;
      assert.equal(sent.status, 'success', JSON.stringify(sent));
      assert.equal(sent.data.content, 'early bird');
      assert.equal((await typingP).status, 'success');

      await bobS.log.waitFor('receive_message', (d) => d.id === sent.data.id);
      await s.log.waitFor('receive_message', (d) => d.id === sent.data.id);
      await s.log.waitFor('welcome');
    });

    test('without acks, the early send still reaches the room', async () => {
      const { room, users, sockets } = await roomWithMembers(ctx.server, ['bob', 'alice']);
      const [, alice] = users;
      const [bobS] = sockets;
      const s = connect(ctx.server, alice.token, { mode });
      s.emit('join_room', { roomId: room.id });
      s.emit('send_message', { roomId: room.id, content: 'early, no ack' });
      const m = await bobS.log.waitFor('receive_message', (d) => d.content === 'early, no ack');
      assert.equal(m.senderId, alice.id);
      await s.log.waitFor('receive_message', (d) => d.id === m.id);
      assert.deepEqual(s.log.all('error'), []);
    });
  });
}
