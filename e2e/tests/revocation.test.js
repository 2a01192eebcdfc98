// Logout and a password change end the open Socket.IO connections of the logins
// they revoke, on both transport modes, before the REST answer; other logins stay.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { MODES, connectReady, emitAck, emitOk, useServer } from '../lib/client.js';

const ctx = useServer();

/** A second login (another device) of a registered user. */
async function secondLogin(server, user) {
  const data = await server.api('POST', '/auth/login', { body: { email: user.email, password: user.password } });
  return { ...user, token: data.token };
}

function ended(socket) {
  return Promise.all([
    socket.log.waitFor('error', (e) => e.code === 'INVALID_TOKEN'),
    socket.log.waitFor('disconnect'),
  ]);
}

for (const mode of MODES) {
  test(`logout disconnects that login's sockets (${mode.name})`, async () => {
    const { server } = ctx;
    const phone = await server.register('phone');
    const laptop = await secondLogin(server, phone);
    const room = await server.createRoom(phone.token, 'revocation');
    const onPhone = await connectReady(server, phone, { mode });
    const onLaptop = await connectReady(server, laptop, { mode });
    await emitOk(onPhone, 'join_room', { roomId: room.id });
    await emitOk(onLaptop, 'join_room', { roomId: room.id });

    await server.api('POST', '/auth/logout', { token: phone.token });
    const [error] = await ended(onPhone);
    assert.deepEqual(error, { message: 'Token has been revoked', code: 'INVALID_TOKEN' });

    const sent = await emitOk(onLaptop, 'send_message', { roomId: room.id, content: 'still here' });
    assert.equal(sent.content, 'still here');
    assert.equal(onLaptop.connected, true, 'the other login keeps its socket');
  });

  test(`a password change disconnects the other logins' sockets (${mode.name})`, async () => {
    const { server } = ctx;
    const user = await server.register('changer');
    const other = await secondLogin(server, user);
    const mine = await connectReady(server, user, { mode });
    const theirs = await connectReady(server, other, { mode });

    await server.api('PATCH', '/auth/profile', {
      token: user.token,
      body: { password: 'brand-new-pass', currentPassword: user.password },
    });
    await ended(theirs);
    const answer = await emitAck(mine, 'join_room', { roomId: '00000000-0000-4000-8000-000000000000' });
    assert.equal(answer.code, 'RESOURCE_NOT_FOUND', `the changer's socket is still served: ${JSON.stringify(answer)}`);
  });
}
