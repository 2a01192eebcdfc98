// The cross-origin drop-in proof: a seed-style front end served by this test
// from http://localhost:3000 (where the seed's front end ran, an origin rtchat
// allows by default) loads socket.io-client's browser bundle, connects to rtchat
// on its own port with default transports and auth:{token}, and chats with a
// person using rtchat's web client. Needs CORS on every route, the Socket.IO
// polling handshake included.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';

import { eventually, Scene, useBrowser } from '../lib/browser.js';
import { useServer } from '../lib/server.js';
import { loginWithTokens, openRoom, seeMessage, send } from '../lib/ui.js';

const SEED_PORT = 3000;
// The package's "exports" hide dist/, so the file is read by its path.
const BUNDLE = readFileSync(
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'node_modules', 'socket.io-client', 'dist', 'socket.io.min.js'),
);

// Written as the seed README's client: io(url, {auth: {token}}), no acks; the
// page's own text goes in with textContent.
const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>seed-style client</title>
<script src="/socket.io.min.js"></script></head>
<body>
<p id="status">connecting</p>
<ul id="log"></ul>
<form id="form"><label for="text">Text</label><input id="text"><button>Send</button></form>
<script>
  const params = new URLSearchParams(location.search);
  const server = params.get('server');
  const token = params.get('token');
  const roomId = params.get('room');
  window.events = [];
  const socket = io(server, { auth: { token } });
  window.seedSocket = socket;
  socket.onAny((event, data) => window.events.push({ event, data }));
  socket.on('connect', () => {
    document.getElementById('status').textContent = 'connected';
    socket.emit('join_room', { roomId });
  });
  socket.on('connect_error', (err) => {
    document.getElementById('status').textContent = 'connect_error: ' + err.message;
  });
  socket.on('receive_message', (m) => {
    const li = document.createElement('li');
    li.textContent = m.content;
    document.getElementById('log').append(li);
  });
  document.getElementById('form').addEventListener('submit', (event) => {
    event.preventDefault();
    socket.emit('send_message', { roomId, content: document.getElementById('text').value });
    document.getElementById('text').value = '';
  });
  window.restRooms = async () => {
    const res = await fetch(server + '/api/v1/rooms', { headers: { Authorization: 'Bearer ' + token } });
    return { status: res.status, body: await res.json() };
  };
</script>
</body></html>`;

let seedServer = null;
before(async () => {
  seedServer = http.createServer((req, res) => {
    if (req.url.startsWith('/socket.io.min.js')) {
      res.writeHead(200, { 'Content-Type': 'text/javascript' });
      res.end(BUNDLE);
    } else {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(PAGE);
    }
  });
  await new Promise((resolve, reject) => {
    seedServer.once('error', (err) =>
      reject(
        err.code === 'EADDRINUSE'
          ? new Error(`port ${SEED_PORT} is taken: this test serves the seed-style page from http://localhost:${SEED_PORT} (an origin rtchat allows by default); stop whatever listens there`)
          : err,
      ),
    );
    // No host: both 127.0.0.1 and ::1, whichever "localhost" is for Chromium.
    seedServer.listen(SEED_PORT, () => resolve());
  });
});
after(() => new Promise((resolve) => (seedServer ? seedServer.close(() => resolve()) : resolve())));

const ctx = useServer();
const chrome = useBrowser();

test('seed-style page on http://localhost:3000 connects cross-origin (default transports, auth:{token}) and chats with the web client', async (t) => {
  const { server } = ctx;
  const scene = new Scene(chrome.browser, t.name);
  try {
    const alice = await server.register('alice');
    const bob = await server.register('bob');
    const room = await server.createRoom(alice.token, 'Seed room');
    await server.joinRoom(bob.token, room.id);

    const { page: bobPage } = await scene.person('bob (web client)');
    await loginWithTokens(bobPage, server, bob);
    await openRoom(bobPage, room.name);

    const { page: seed } = await scene.person('alice (seed page)');
    const handshakes = [];
    seed.on('response', (res) => {
      if (res.url().includes('/socket.io/') && res.url().includes('transport=polling')) {
        handshakes.push({ url: res.url(), status: res.status(), allowOrigin: res.headers()['access-control-allow-origin'] });
      }
    });
    const query = new URLSearchParams({ server: server.url, token: alice.token, room: room.id });
    await seed.goto(`http://localhost:${SEED_PORT}/?${query}`);
    await eventually(async () => (await seed.locator('#status').textContent()) === 'connected', {
      what: `seed page connected (status: ${await seed.locator('#status').textContent().catch(() => '?')})`,
    });
    assert.ok(handshakes.length > 0, 'the connection started with HTTP long-polling');
    for (const h of handshakes) {
      assert.equal(h.allowOrigin, `http://localhost:${SEED_PORT}`, `polling answer readable by the page: ${JSON.stringify(h)}`);
    }
    // Default transports: polling first, then the upgrade to websocket succeeds too.
    await eventually(() => seed.evaluate(() => window.seedSocket.io.engine.transport.name === 'websocket'), {
      what: 'upgraded to websocket',
    });

    // REST from the other origin too (a preflighted request: Authorization header).
    const rooms = await seed.evaluate(() => window.restRooms());
    assert.equal(rooms.status, 200);
    assert.ok(rooms.body.data.rooms.some((r) => r.id === room.id), 'GET /rooms answered across origins');

    // Wait until the seed page has joined (its join_room answer arrives as user_status "joined").
    await eventually(() => seed.evaluate((id) => window.events.some((e) => e.event === 'user_status' && e.data.status === 'joined' && e.data.roomId === id), room.id), {
      what: 'seed page joined the room',
    });
    await seed.getByLabel('Text').fill('hello from the seed page');
    await seed.getByLabel('Text').press('Enter');
    await seeMessage(bobPage, 'hello from the seed page');

    await send(bobPage, 'hello back from rtchat web');
    await seed.locator('#log li', { hasText: 'hello back from rtchat web' }).waitFor();
    await scene.shot(seed, 'seed page');
    await scene.shot(bobPage, 'web client');
    const errors = await seed.evaluate(() => window.events.filter((e) => e.event === 'error'));
    assert.deepEqual(errors, [], 'no error events on the seed page');
    scene.assertNoErrors();
  } finally {
    await scene.close();
  }
});

test('a page from an origin that is not allowed cannot connect or call the API', async (t) => {
  const { server } = ctx;
  const scene = new Scene(chrome.browser, t.name);
  try {
    const alice = await server.register('alice');
    const room = await server.createRoom(alice.token, 'Closed to strangers');
    const { page } = await scene.person('stranger origin');
    const query = new URLSearchParams({ server: server.url, token: alice.token, room: room.id });
    // 127.0.0.1:3000 is another origin than localhost:3000, and not in the default list.
    await page.goto(`http://127.0.0.1:${SEED_PORT}/?${query}`);
    await eventually(async () => (await page.locator('#status').textContent()).startsWith('connect_error'), {
      what: 'connection refused for a foreign origin',
    });
    const rest = await page.evaluate(() => window.restRooms().then(() => 'answered', (err) => `failed: ${err.name}`));
    assert.equal(rest, 'failed: TypeError', 'the browser could not read the API answer');
    await scene.shot(page, 'refused');
  } finally {
    await scene.close();
  }
});
