// kill -9 of one node mid-stream: its clients reconnect elsewhere (through nginx,
// which moves them to the next node, or by switching URL themselves) and recover
// with auth.offsets every acknowledged message (0 lost; a repeated seq is a
// duplicate the client drops); the dead node's users go offline for the others
// once its presence lease runs out; the node comes back and joins in again.
// Prints the reconnect times.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { io } from 'socket.io-client';

import { connect, connected, emitOk, eventually, record } from '../../lib/client.js';
import { fromAddress, LEASE_SECS, needNginx, useCluster } from '../../lib/cluster.js';
import { sleep } from '../../lib/server.js';

const ctx = useCluster();
const PER_SENDER = 250; // under the 600 events per user per minute
const SEND_EVERY_MS = 15;

/**
 * A client as an application keeps one: reconnecting by itself, with the seqs it
 * has (auth.offsets) at every (re)connect, dropping a seq it already has.
 */
function resilient(url, user, roomId, label, extra = {}) {
  const seqs = new Map([[roomId, 0]]);
  const socket = record(
    io(url, {
      forceNew: true,
      reconnectionDelay: 100,
      reconnectionDelayMax: 500,
      auth: (cb) => cb({ token: user.token, offsets: Object.fromEntries(seqs) }),
      ...extra,
    }),
    label,
  );
  const got = new Map(); // seq -> id, first copy
  socket.duplicates = 0;
  socket.got = got;
  socket.on('receive_message', (m) => {
    if (m.roomId !== roomId) return;
    if (got.has(m.seq)) {
      assert.equal(got.get(m.seq), m.id, `${label}: seq ${m.seq} came twice with different messages`);
      socket.duplicates += 1;
      return;
    }
    got.set(m.seq, m.id);
    if (m.seq > seqs.get(roomId)) seqs.set(roomId, m.seq);
  });
  return socket;
}

/**
 * Sends PER_SENDER messages while connected (for 60 s at most: a client that
 * never comes back must not hang the test); the ledger holds what the server
 * acknowledged.
 */
function sendLoad(socket, roomId, acked) {
  const deadline = Date.now() + 60_000;
  return (async () => {
    for (let sent = 0; sent < PER_SENDER && Date.now() < deadline; ) {
      if (socket.connected) {
        sent += 1;
        socket.timeout(5_000).emit('send_message', { roomId, content: `${socket.log.label} ${sent}` }, (err, answer) => {
          if (!err && answer?.status === 'success') acked.set(answer.data.seq, answer.data.id);
        });
      }
      await sleep(SEND_EVERY_MS);
    }
  })();
}

test('kill -9 of a node mid-stream: its clients reconnect elsewhere and lose no acknowledged message', async (t) => {
  const { cluster } = ctx;
  if (!needNginx(t, cluster)) return;
  const [n1, n2, n3] = cluster.nodes;
  const victim = 1; // n2
  const addr = (await cluster.addressPerNode()).n2;
  const names = ['alice', 'frank', 'bob', 'erin', 'dave', 'carol'];
  const users = {};
  for (const name of names) users[name] = await n1.register(`fo_${name}`);
  const room = await n1.createRoom(users.alice.token, 'failover');
  for (const name of names.slice(1)) await n1.joinRoom(users[name].token, room.id);
  const { alice, frank, bob, erin, dave, carol } = users;

  // carol (n3) watches presence; dave lives on n2 alone (no reconnection).
  const carolS = connect(n3, carol.token, { label: 'carol@n3' });
  await connected(carolS);
  await emitOk(carolS, 'join_room', { roomId: room.id });
  const daveS = connect(n2, dave.token, { label: 'dave@n2' });
  await connected(daveS);
  await emitOk(daveS, 'join_room', { roomId: room.id });

  // Senders: alice on n1 directly; frank through nginx from n2's address.
  const aliceS = resilient(n1.url, alice, room.id, 'alice@n1');
  const frankS = resilient(cluster.nginx.url, frank, room.id, 'frank@nginx', fromAddress(addr));
  // Receivers on n2: bob through nginx (moved by nginx), erin directly (switches URL to n3).
  const bobS = resilient(cluster.nginx.url, bob, room.id, 'bob@nginx', fromAddress(addr));
  const erinS = resilient(n2.url, erin, room.id, 'erin@n2');
  erinS.io.on('reconnect_attempt', () => {
    erinS.io.uri = n3.url; // the Manager opens its next connection there
  });
  const clients = [aliceS, frankS, bobS, erinS];
  await Promise.all(clients.map((s) => connected(s, 10_000)));
  assert.equal(await cluster.nodeBehind(addr), 'n2');
  // Everyone is in the room's stream (offsets joined it) before the load starts.
  const hello = await emitOk(aliceS, 'send_message', { roomId: room.id, content: 'hello' });
  for (const s of [frankS, bobS, erinS, carolS, daveS]) await s.log.waitFor('receive_message', (d) => d.id === hello.id);
  // dave's "online" reached carol; from now on, any status of his is news.
  await carolS.log.waitFor('user_status', (d) => d.userId === dave.id && d.status === 'joined');

  const acked = new Map([[hello.seq, hello.id]]);
  const load = [sendLoad(aliceS, room.id, acked), sendLoad(frankS, room.id, acked)];
  await eventually(() => acked.size >= 60, { ms: 10_000, what: '60 messages acknowledged before the kill' });

  const killedAt = Date.now();
  const reconnected = {};
  for (const s of [frankS, bobS, erinS]) s.once('connect', () => (reconnected[s.log.label] = Date.now() - killedAt));
  await cluster.kill(victim);
  const ackedBeforeKill = acked.size;

  await eventually(() => Object.keys(reconnected).length === 3, { ms: 15_000, what: `all of n2's clients reconnected (${JSON.stringify(reconnected)})` });
  t.diagnostic(`reconnect after kill -9 (ms from the kill to the new connection): ${JSON.stringify(reconnected)}`);
  assert.notEqual(await cluster.nodeBehind(addr), 'n2', 'nginx sends n2\'s address elsewhere');
  assert.equal(erinS.io.uri, n3.url);

  const offline = await carolS.log.waitFor('user_status', (d) => d.userId === dave.id && d.status === 'offline', LEASE_SECS * 1_250 + 5_000);
  const offlineAfter = Date.now() - killedAt;
  t.diagnostic(`dave (only on n2) shown offline ${offlineAfter} ms after the kill (lease ${LEASE_SECS} s)`);
  assert.ok(offlineAfter <= LEASE_SECS * 1_250 + 3_000, `offline within lease * 1.25 + 3 s: ${offlineAfter} ms`);
  assert.ok(offline.lastSeen, JSON.stringify(offline));

  await Promise.all(load);
  await sleep(500); // the last acks in flight
  assert.ok(acked.size > ackedBeforeKill + 50, `sending went on after the kill (${ackedBeforeKill} -> ${acked.size})`);

  // 0 lost: every acknowledged message is stored and reached every receiver.
  const stored = await n3.history(alice.token, room.id);
  const storedSeqs = stored.map((m) => m.seq);
  assert.deepEqual(storedSeqs, storedSeqs.map((_, i) => i + 1), 'stored seqs are gap-free');
  const storedById = new Map(stored.map((m) => [m.seq, m.id]));
  const lostInStore = [...acked].filter(([seq, id]) => storedById.get(seq) !== id);
  assert.deepEqual(lostInStore, [], 'acknowledged but not stored');
  for (const s of [aliceS, frankS, bobS, erinS]) {
    await eventually(() => stored.every((m) => s.got.get(m.seq) === m.id), {
      ms: 15_000,
      what: `${s.log.label} recovered every stored message (${s.got.size} of ${stored.length}; missing ${stored.filter((m) => !s.got.has(m.seq)).map((m) => m.seq).slice(0, 10)})`,
    });
  }
  t.diagnostic(
    `${acked.size} acknowledged, ${stored.length} stored; duplicates dropped: ${clients.map((s) => `${s.log.label} ${s.duplicates}`).join(', ')}`,
  );

  // Those who moved are online (they were away for a moment only, on a dead node).
  const view = await n1.room(carol.token, room.id);
  const online = Object.fromEntries(view.memberships.map((m) => [m.user.username, m.user.isOnline]));
  assert.deepEqual([online[bob.username], online[erin.username], online[dave.username]], [true, true, false], JSON.stringify(online));
  const lastBob = carolS.log.all('user_status', (d) => d.userId === bob.id && d.status !== 'joined').pop();
  assert.notEqual(lastBob?.status, 'offline', `carol's last word on bob: ${JSON.stringify(lastBob)}`);

  // n2 comes back (same id and port) and is part of the chat again.
  const back = await cluster.restart(victim);
  const daveAgain = connect(back, dave.token, { label: 'dave@n2-again' });
  await connected(daveAgain);
  await emitOk(daveAgain, 'join_room', { roomId: room.id });
  await carolS.log.waitFor('user_status', (d) => d.userId === dave.id && d.status === 'online');
  const after = await emitOk(aliceS, 'send_message', { roomId: room.id, content: 'n2 is back' });
  assert.equal((await daveAgain.log.waitFor('receive_message', (d) => d.id === after.id)).seq, stored.length + 1);
  for (const s of clients) s.close();
});
