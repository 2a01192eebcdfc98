// The per-user message limit is one count for the whole cluster (Redis, the
// nodes' shared key prefix): sends spread over three nodes and both transports
// and REST are refused past the limit, where per-node counting would take it
// three times over.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { connect, connected, emitAck, emitOk, WsClient } from '../../lib/client.js';
import { useCluster } from '../../lib/cluster.js';
import { avoidWindowEdge } from '../../lib/fixtures.js';

const MAX = 5;
const WINDOW_SECS = 30;
const ctx = useCluster({
  nginx: false,
  env: { RTCHAT_LIMITS__MESSAGES_MAX: String(MAX), RTCHAT_LIMITS__MESSAGES_WINDOW_SECS: String(WINDOW_SECS) },
});

async function sio(node, user, roomId) {
  const s = connect(node, user.token, { label: `${user.username}@${node.name}` });
  await connected(s);
  await s.log.waitFor('welcome');
  await emitOk(s, 'join_room', { roomId });
  return s;
}

test(`${MAX} messages per ${WINDOW_SECS} s per user, counted across nodes and transports`, async () => {
  const [n1, n2, n3] = ctx.cluster.nodes;
  const spammer = await n1.register('spammer');
  const other = await n1.register('other');
  const room = await n1.createRoom(spammer.token, 'limits');
  await n2.joinRoom(other.token, room.id);
  const s1 = await sio(n1, spammer, room.id);
  const w2 = await WsClient.open(n2, { token: spammer.token, label: `${spammer.username}@n2/ws` });
  await w2.requestOk('join_room', { roomId: room.id });
  const s3 = await sio(n3, spammer, room.id);

  // Round robin over n1 (Socket.IO), n2 (/ws), n3 (Socket.IO) and n2's REST.
  const senders = [
    { where: 'n1 socket.io', send: (c) => emitAck(s1, 'send_message', { roomId: room.id, content: c }) },
    { where: 'n2 /ws', send: (c) => w2.request('send_message', { roomId: room.id, content: c }) },
    { where: 'n3 socket.io', send: (c) => emitAck(s3, 'send_message', { roomId: room.id, content: c }) },
    {
      where: 'n2 REST',
      send: async (c) => (await n2.request('POST', `/api/v1/rooms/${room.id}/messages`, { token: spammer.token, body: { content: c }, allowError: true })).body,
    },
  ];
  await avoidWindowEdge(WINDOW_SECS * 1_000, 3_000);
  const outcomes = [];
  for (let i = 0; i < 3 * MAX; i += 1) {
    const { where, send } = senders[i % senders.length];
    const answer = await send(`spam ${i}`);
    outcomes.push({ i, where, status: answer?.status, code: answer?.code, retryAfter: answer?.retryAfter });
  }
  const accepted = outcomes.filter((o) => o.status === 'success');
  const refused = outcomes.filter((o) => o.status === 'error');
  assert.deepEqual(accepted.map((o) => o.i), Array.from({ length: MAX }, (_, i) => i), `the first ${MAX} pass, wherever sent: ${JSON.stringify(outcomes)}`);
  assert.equal(refused.length, 3 * MAX - MAX, JSON.stringify(outcomes));
  for (const o of refused) {
    assert.equal(o.code, 'RATE_LIMIT_EXCEEDED', JSON.stringify(o));
    assert.ok(o.retryAfter > 0 && o.retryAfter <= WINDOW_SECS, `retryAfter in seconds: ${JSON.stringify(o)}`);
  }
  // Refused on every node, not only where the count happened to be kept.
  assert.deepEqual([...new Set(refused.map((o) => o.where))].sort(), senders.map((s) => s.where).sort());

  // Another user's budget is their own, on any node.
  const o3 = await sio(n3, other, room.id);
  for (const node of [n1, n2]) await node.sendRest(other.token, room.id, `other via ${node.name}`);
  await emitOk(o3, 'send_message', { roomId: room.id, content: 'other via n3' });

  const stored = await n3.history(spammer.token, room.id);
  assert.deepEqual(
    stored.filter((m) => m.senderId === spammer.id).map((m) => m.content),
    accepted.map((o) => `spam ${o.i}`),
    'refused sends are not stored',
  );
});
