// Handshake: welcome on connect, token sources, refusal of bad tokens.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { connect, connected, MODES, useServer } from '../lib/client.js';

const ctx = useServer();

/** Resolves with the connect_error; fails if the socket connects instead. */
function refused(socket, ms = 5_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`neither connect nor connect_error within ${ms} ms`)), ms);
    socket.on('connect_error', (err) => {
      clearTimeout(timer);
      resolve(err);
    });
    socket.on('connect', () => {
      clearTimeout(timer);
      reject(new Error('the server accepted the connection'));
    });
  });
}

for (const mode of MODES) {
  describe(`handshake (${mode.name})`, () => {
    test('welcome carries "Hello, User <userId>"', async () => {
      const user = await ctx.server.register('welcome');
      const socket = connect(ctx.server, user.token, { mode });
      await connected(socket);
      const welcome = await socket.log.waitFor('welcome');
      assert.equal(welcome.message, `Hello, User ${user.id}`);
      if (mode.opts.transports) assert.equal(socket.io.engine.transport.name, 'websocket');
    });

    test('a missing token gets connect_error', async () => {
      const socket = connect(ctx.server, undefined, { mode });
      const err = await refused(socket);
      assert.ok(err.message && err.message.length > 0, 'connect_error has a message');
      assert.deepEqual(socket.log.all('welcome'), []);
    });

    test('a bad token gets connect_error', async () => {
      const socket = connect(ctx.server, 'not.a.jwt', { mode });
      const err = await refused(socket);
      assert.ok(err.message && err.message.length > 0, 'connect_error has a message');
    });
  });
}

test('a token signed with another key gets connect_error', async () => {
  // header {"alg":"HS256","typ":"JWT"}, a plausible payload, a signature from another key
  const forged =
    'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.' +
    Buffer.from(JSON.stringify({ userId: '0190f5c2-0000-7000-8000-000000000000', username: 'x', exp: 4102444800 })).toString('base64url') +
    '.c2lnbmF0dXJlLWZyb20tYW5vdGhlci1rZXktYWJjZGVmZ2hpams';
  const socket = connect(ctx.server, forged);
  await refused(socket);
});

test('a token revoked by logout gets connect_error', async () => {
  const user = await ctx.server.register('revoked');
  await ctx.server.api('POST', '/auth/logout', { token: user.token });
  const socket = connect(ctx.server, user.token);
  await refused(socket);
});

test('the token may come from ?token= or an Authorization header', async () => {
  const user = await ctx.server.register('sources');
  const viaQuery = connect(ctx.server, undefined, { query: { token: user.token } });
  await connected(viaQuery);
  assert.equal((await viaQuery.log.waitFor('welcome')).message, `Hello, User ${user.id}`);

  const viaHeader = connect(ctx.server, undefined, { extraHeaders: { Authorization: `Bearer ${user.token}` } });
  await connected(viaHeader);
  assert.equal((await viaHeader.log.waitFor('welcome')).message, `Hello, User ${user.id}`);
});
