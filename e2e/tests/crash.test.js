// kill -9 of the server under load, then a restart on the same port and database:
// every acknowledged message is there (the sender's ledger against the database),
// and a member whose client reconnects by itself with `auth.offsets` recovers
// every stored message, each seq once.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';

import { io } from 'socket.io-client';

import { eventually } from '../lib/client.js';
import { randomString, sleep, startServer } from '../lib/server.js';

const servers = [];
after(async () => {
  for (const server of servers.reverse()) await server.stop();
});

/** A client as an application would keep one: reconnecting, with its offsets. */
function resilientClient(url, token, lastSeq) {
  return io(url, {
    forceNew: true,
    reconnectionDelay: 100,
    reconnectionDelayMax: 500,
    // Called at every (re)connect: the seqs this client has seen so far.
    auth: (cb) => cb({ token, offsets: Object.fromEntries(lastSeq) }),
  });
}

test('kill -9 mid-load loses no acknowledged message and members recover every one', async () => {
  const secret = randomString(40);
  const env = { JWT_SEC: secret, RTCHAT_LIMITS__MESSAGES_MAX: '100000' };
  const first = await startServer({ env });
  servers.push(first);
  const alice = await first.register('crash_alice');
  const bob = await first.register('crash_bob');
  const room = await first.createRoom(alice.token, 'crash');
  await first.joinRoom(bob.token, room.id);

  const bobSeqs = new Map([[room.id, 0]]);
  const received = new Set();
  const bobSocket = resilientClient(first.url, bob.token, bobSeqs);
  bobSocket.on('receive_message', (m) => {
    received.add(m.seq);
    if (m.seq > (bobSeqs.get(m.roomId) ?? 0)) bobSeqs.set(m.roomId, m.seq);
  });
  bobSocket.on('connect', () => bobSocket.emit('join_room', { roomId: room.id }));
  const aliceSocket = resilientClient(first.url, alice.token, new Map());
  await Promise.all([bobSocket, aliceSocket].map((s) => new Promise((resolve) => s.once('connect', resolve))));
  await new Promise((resolve) => aliceSocket.emit('join_room', { roomId: room.id }, resolve));

  // The sender's ledger: what the server acknowledged.
  const acked = new Set();
  let sent = 0;
  const sending = (async () => {
    while (sent < 400) {
      if (aliceSocket.connected) {
        sent += 1;
        aliceSocket.timeout(5_000).emit('send_message', { roomId: room.id, content: `load ${sent}` }, (err, answer) => {
          if (!err && answer?.status === 'success') acked.add(answer.data.id);
        });
      }
      await sleep(5);
    }
  })();

  await eventually(() => acked.size >= 50, { what: '50 messages acknowledged before the crash' });
  first.child.kill('SIGKILL');
  await first._exitPromise;
  const ackedBeforeCrash = acked.size;

  const second = await startServer({ port: first.port, env: { ...env, DATABASE_URL: first.databaseUrl } });
  servers.push(second);
  await sending;
  await eventually(() => aliceSocket.connected && bobSocket.connected, { ms: 15_000, what: 'both clients reconnected' });
  await sleep(500); // the last acks in flight

  const stored = await second.history(alice.token, room.id);
  const storedIds = new Set(stored.map((m) => m.id));
  const lost = [...acked].filter((id) => !storedIds.has(id));
  assert.deepEqual(lost, [], `acknowledged but not stored (${acked.size} acked, ${ackedBeforeCrash} before the crash)`);
  assert.ok(acked.size > ackedBeforeCrash, 'sending went on after the restart');

  const seqs = stored.map((m) => m.seq).sort((a, b) => a - b);
  assert.deepEqual(seqs, seqs.map((_, i) => i + 1), 'stored seqs are gap-free');
  await eventually(() => received.size === seqs.length, {
    ms: 10_000,
    what: `bob recovered every stored message (${received.size} of ${seqs.length})`,
  });
  aliceSocket.close();
  bobSocket.close();
});
