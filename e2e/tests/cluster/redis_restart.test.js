// Redis (the cluster's bus) goes away mid-run and comes back: meanwhile each node
// still serves its own sessions and says "degraded" on /health/ready; once the
// bus reconnects, cross-node delivery resumes and what was sent during the outage
// reaches the other node's subscribers (read back from the database).
// A private redis-server of this file (its own port and key prefix): the
// machine's shared Redis is never stopped.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { closeAll, connect, connected, emitOk, eventually, WsClient } from '../../lib/client.js';
import { startCluster, startRedis } from '../../lib/cluster.js';

let redis = null;
let cluster = null;
before(async () => {
  redis = await startRedis();
  cluster = await startCluster({ nodes: 2, nginx: false, redisUrl: redis.url });
});
after(async () => {
  closeAll();
  if (cluster) await cluster.stop();
  if (redis) await redis.stop();
});

const CATCH_UP_MS = 10_000;

async function sio(node, user, roomId) {
  const s = connect(node, user.token, { label: `${user.username}@${node.name}` });
  await connected(s);
  await s.log.waitFor('welcome');
  await emitOk(s, 'join_room', { roomId });
  return s;
}

async function joinAll(c, roomIds) {
  for (const roomId of roomIds) {
    if (c instanceof WsClient) await c.requestOk('join_room', { roomId });
    else await emitOk(c, 'join_room', { roomId });
  }
}

test('Redis stopped and restarted: local delivery goes on, health says degraded, the other node catches up', async (t) => {
  const [n1, n2] = cluster.nodes;
  const names = ['alice', 'carol', 'bob', 'dave'];
  const u = {};
  for (const name of names) u[name] = await n1.register(`rr_${name}`);
  // Two rooms: during the outage only n1 sends in x, only n2 in y. (A node that
  // sends in a room reads the seqs it missed from the database then, so a room
  // where both sent would partly catch up without the bus.)
  const x = await n1.createRoom(u.alice.token, 'outage x');
  const y = await n1.createRoom(u.alice.token, 'outage y');
  for (const name of names.slice(1)) for (const room of [x, y]) await n1.joinRoom(u[name].token, room.id);
  // alice and carol on n1, bob and dave on n2 (dave on /ws).
  const alice = await sio(n1, u.alice, x.id);
  const carol = await sio(n1, u.carol, x.id);
  const bob = await sio(n2, u.bob, x.id);
  const dave = await WsClient.open(n2, { token: u.dave.token, label: 'dave@n2/ws' });
  await dave.requestOk('join_room', { roomId: x.id });
  const everyone = [alice, carol, bob, dave];
  for (const c of everyone) await joinAll(c, [y.id]);

  const firstX = await emitOk(alice, 'send_message', { roomId: x.id, content: 'x before' });
  const firstY = await dave.requestOk('send_message', { roomId: y.id, content: 'y before' });
  for (const c of everyone) for (const m of [firstX, firstY]) await c.log.waitFor('receive_message', (d) => d.id === m.id);

  await redis.kill();
  const outageAt = Date.now();
  for (const i of [0, 1]) {
    await eventually(async () => {
      const r = await cluster.ready(i);
      return r.status === 'degraded' && r.cluster?.bus === 'not receiving' && r;
    }, { ms: 10_000, what: `n${i + 1} /health/ready: degraded, bus not receiving` });
  }
  t.diagnostic(`both nodes report degraded ${Date.now() - outageAt} ms after the kill`);
  const { status } = await n1.request('GET', '/health/ready', { allowError: true });
  assert.equal(status, 200, 'degraded is still ready: the node serves its own sessions');

  // During the outage each node serves its own sessions.
  const duringX = [];
  const duringY = [];
  const sendsFrom = Date.now();
  for (let i = 0; i < 3; i += 1) {
    duringX.push(await emitOk(alice, 'send_message', { roomId: x.id, content: `x during ${i}` }));
    duringY.push(await dave.requestOk('send_message', { roomId: y.id, content: `y during ${i}` }));
  }
  t.diagnostic(`6 sends during the outage answered in ${Date.now() - sendsFrom} ms`);
  for (const m of duringX) await carol.log.waitFor('receive_message', (d) => d.id === m.id);
  for (const m of duringY) await bob.log.waitFor('receive_message', (d) => d.id === m.id);

  redis = await startRedis({ port: redis.port });
  const restartedAt = Date.now();
  t.diagnostic(`Redis was away for ${restartedAt - outageAt} ms`);
  for (const i of [0, 1]) {
    let answer;
    await eventually(async () => {
      answer = await cluster.ready(i);
      return answer.status === 'ok' && answer.cluster?.bus === 'receiving';
    }, { ms: 15_000, what: `n${i + 1} /health/ready back to ok, bus receiving` }).catch((err) => {
      const node = cluster.nodes[i];
      throw new Error(`${err.message}\nlast readiness: ${JSON.stringify(answer)}\nn${i + 1} exited: ${JSON.stringify(node._isExited?.() ?? null)}; its log:\n${node.logTail?.()}`);
    });
  }
  t.diagnostic(`both buses receiving ${Date.now() - restartedAt} ms after the restart`);

  // Nobody sends now: the outage's messages must come to the other node by themselves.
  for (const m of duringX) for (const c of [bob, dave]) await c.log.waitFor('receive_message', (d) => d.id === m.id, CATCH_UP_MS);
  for (const m of duringY) for (const c of [alice, carol]) await c.log.waitFor('receive_message', (d) => d.id === m.id, CATCH_UP_MS);
  t.diagnostic(`the outage's messages crossed ${Date.now() - restartedAt} ms after the restart`);

  // Live traffic crosses again, both ways.
  const liveX = await emitOk(carol, 'send_message', { roomId: x.id, content: 'x after' });
  const liveY = await emitOk(bob, 'send_message', { roomId: y.id, content: 'y after' });
  for (const c of everyone) for (const m of [liveX, liveY]) await c.log.waitFor('receive_message', (d) => d.id === m.id);

  // Every client ends with both whole rooms, in seq order, each seq once.
  for (const room of [x, y]) {
    const stored = (await n2.history(u.alice.token, room.id)).map((m) => m.seq);
    assert.deepEqual(stored, [1, 2, 3, 4, 5]);
    for (const c of everyone) {
      const order = c.log.all('receive_message', (d) => d.roomId === room.id).map((m) => m.seq);
      assert.deepEqual(order, stored, `${c.log.label}: room ${room === x ? 'x' : 'y'} in seq order, each once`);
    }
  }
});
