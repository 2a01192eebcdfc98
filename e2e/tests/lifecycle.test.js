// Room deletion and server shutdown as the connected clients see them.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { closeAll, connectReady, emitAck, emitOk, MODES, useServer } from '../lib/client.js';
import { roomWithMembers } from '../lib/fixtures.js';
import { startServer } from '../lib/server.js';

const ctx = useServer();

test('deleting a room sends room_deleted to its members and ends their access', async () => {
  const { server } = ctx;
  const { room, users, sockets } = await roomWithMembers(server, ['admin', 'bob']);
  const [admin] = users;
  const [, bobS] = sockets;
  await server.api('DELETE', `/rooms/${room.id}`, { token: admin.token });
  const ev = await bobS.log.waitFor('room_deleted', (d) => d.roomId === room.id);
  assert.equal(ev.roomId, room.id);
  const answer = await emitAck(bobS, 'send_message', { roomId: room.id, content: 'anyone?' });
  assert.equal(answer.status, 'error', JSON.stringify(answer));
  assert.ok(['RESOURCE_NOT_FOUND', 'ACCESS_DENIED'].includes(answer.code), JSON.stringify(answer));
});

// Polling alone too: its sessions are socketioxide's, closed by its io.close().
const SHUTDOWN_MODES = [...MODES, { name: 'polling only', opts: { transports: ['polling'] } }];

for (const mode of SHUTDOWN_MODES) {
  test(`on SIGTERM every session gets server_shutdown {message, reconnect:true}, then its transport closes (${mode.name})`, async () => {
    const server = await startServer();
    try {
      const user = await server.register('leaving');
      const room = await server.createRoom(user.token, 'shutdown');
      const s = await connectReady(server, user, { mode });
      await emitOk(s, 'join_room', { roomId: room.id });
      const stopping = server.stop();
      const ev = await s.log.waitFor('server_shutdown');
      assert.equal(ev.reconnect, true, JSON.stringify(ev));
      assert.ok(typeof ev.message === 'string' && ev.message.length > 0, JSON.stringify(ev));
      // socket.io-client reconnects on its own from a transport that closed
      // ('transport close'; a long-poll answered after the close may end in
      // 'transport error'), never after a Socket.IO DISCONNECT ('io server
      // disconnect').
      const reason = await s.log.waitFor('disconnect');
      const expected = mode.opts.transports?.[0] === 'websocket' ? ['transport close'] : ['transport close', 'transport error'];
      assert.ok(expected.includes(reason), `disconnect reason: ${reason}`);
      await stopping;
      const exit = server._isExited();
      assert.equal(exit?.code, 0, `the server exits cleanly: ${JSON.stringify(exit)}`);
    } finally {
      closeAll();
      await server.stop();
    }
  });
}
