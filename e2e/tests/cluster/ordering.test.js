// Concurrent senders on different nodes: the database gives every message its
// room seq, and every receiver on every node sees the room's messages in one and
// the same gap-free seq order (a node relaying the bus in arrival order, or
// dropping what it heard late, fails here).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { connect, connected, emitOk, WsClient } from '../../lib/client.js';
import { fromAddress, useCluster } from '../../lib/cluster.js';

const ctx = useCluster();
const SENDERS = 3;
const PER_SENDER = 30;

/** Joins a Socket.IO or /ws client to the room; returns a uniform `{log, send}`. */
async function client(kind, node, user, roomId, opts = {}) {
  const label = `${user.username}@${node.name || 'nginx'}/${kind}`;
  if (kind === 'ws') {
    const w = await WsClient.open(node, { token: user.token, label });
    await w.log.waitFor('welcome');
    await w.requestOk('join_room', { roomId });
    return { log: w.log, send: (content) => w.requestOk('send_message', { roomId, content }, 15_000) };
  }
  const s = connect(node, user.token, { label, ...opts });
  await connected(s);
  await s.log.waitFor('welcome');
  await emitOk(s, 'join_room', { roomId });
  return { log: s.log, send: (content) => emitOk(s, 'send_message', { roomId, content }, 15_000) };
}

test(`${SENDERS} senders x ${PER_SENDER} messages on different nodes: one identical gap-free order everywhere`, async (t) => {
  const { cluster } = ctx;
  const [n1, n2, n3] = cluster.nodes;
  const names = ['s1', 's2', 's3', 'r1', 'r2', 'r3'];
  const users = [];
  for (const name of names) users.push(await n1.register(name));
  const room = await n1.createRoom(users[0].token, 'order');
  for (const u of users.slice(1)) await n2.joinRoom(u.token, room.id);

  // Senders: Socket.IO on n1, /ws on n2, and on n3 through nginx when there is one.
  let third = [n3, {}];
  if (cluster.nginx) third = [{ url: cluster.nginx.url }, fromAddress((await cluster.addressPerNode()).n3)];
  const senders = [
    await client('sio', n1, users[0], room.id),
    await client('ws', n2, users[1], room.id),
    await client('sio', third[0], users[2], room.id, third[1]),
  ];
  // Receivers: one on each node, on the other transport than that node's sender.
  const receivers = [
    await client('ws', n1, users[3], room.id),
    await client('sio', n2, users[4], room.id),
    await client('sio', n3, users[5], room.id, { transports: ['websocket'] }),
  ];

  // All at once: each sender pipelines its messages (no wait between sends).
  const t0 = Date.now();
  const acks = await Promise.all(
    senders.map((s, i) => Promise.all(Array.from({ length: PER_SENDER }, (_, k) => s.send(`s${i + 1} #${k}`)))),
  );
  t.diagnostic(`${SENDERS * PER_SENDER} messages acknowledged in ${Date.now() - t0} ms`);

  const total = SENDERS * PER_SENDER;
  const allAcked = acks.flat();
  assert.deepEqual(
    allAcked.map((m) => m.seq).sort((a, b) => a - b),
    Array.from({ length: total }, (_, i) => i + 1),
    'the acknowledged seqs are 1..N, each once',
  );
  // A sender's messages keep the order it sent them in.
  for (const [i, list] of acks.entries()) {
    const seqs = list.map((m) => m.seq);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), `sender s${i + 1}: seqs increase in send order`);
  }

  const bySeq = new Map(allAcked.map((m) => [m.seq, m.id]));
  const expected = Array.from({ length: total }, (_, i) => bySeq.get(i + 1));
  for (const c of [...senders, ...receivers]) {
    const got = [];
    for (let i = 0; i < total; i += 1) got.push(await c.log.waitFor('receive_message', (d) => d.roomId === room.id, 15_000));
    assert.deepEqual(got.map((m) => m.seq), Array.from({ length: total }, (_, i) => i + 1), `${c.log.label}: arrival order is seq order, no gap, no repeat`);
    assert.deepEqual(got.map((m) => m.id), expected, `${c.log.label}: the same message at each seq`);
  }

  // Nothing more: after a last message (a barrier behind anything late), each
  // client holds exactly total + 1 messages.
  const last = await senders[0].send('the end');
  assert.equal(last.seq, total + 1);
  for (const c of [...senders, ...receivers]) {
    await c.log.waitFor('receive_message', (d) => d.id === last.id, 10_000);
    assert.equal(c.log.all('receive_message').length, total + 1, `${c.log.label}: no repeated or extra message`);
  }

  const history = await n3.history(users[0].token, room.id);
  assert.deepEqual(history.map((m) => m.id), [...expected, last.id], 'the stored order is the delivered order');
});
