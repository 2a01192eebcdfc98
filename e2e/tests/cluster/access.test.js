// Ending access on one node ends it on every node: a kick, ban or leave made
// through node 1 stops delivery to the user's sessions on nodes 2 and 3 before the
// room's next message, and a logout through node 1 closes that login's sockets on
// nodes 2 and 3 (not the user's other login). What they send right after node 1
// answered: revocation_race.test.js.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { connect, connected, emitAck, emitOk, WsClient } from '../../lib/client.js';
import { useCluster } from '../../lib/cluster.js';
import { sleep } from '../../lib/server.js';

const ctx = useCluster({ nginx: false });

async function sio(node, user, roomId, label = user.username) {
  const s = connect(node, user.token, { label: `${label}@${node.name}` });
  await connected(s);
  await s.log.waitFor('welcome');
  if (roomId) await emitOk(s, 'join_room', { roomId });
  return s;
}

async function ws(node, user, roomId, label = user.username) {
  const w = await WsClient.open(node, { token: user.token, label: `${label}@${node.name}/ws` });
  await w.log.waitFor('welcome');
  if (roomId) await w.requestOk('join_room', { roomId });
  return w;
}

const REMOVALS = {
  kick: (node, { admin, room, bob }) => node.kick(admin.token, room.id, bob.id),
  ban: (node, { admin, room, bob }) => node.api('POST', `/rooms/${room.id}/bans`, { token: admin.token, body: { userId: bob.id } }),
  leave: (node, { room, bob }) => node.api('DELETE', `/rooms/${room.id}/leave`, { token: bob.token }),
};

for (const [how, remove] of Object.entries(REMOVALS)) {
  test(`${how} through node 1 stops delivery to the user's sessions on nodes 2 and 3`, async () => {
    const [n1, n2, n3] = ctx.cluster.nodes;
    const admin = await n1.register('admin');
    const bob = await n2.register('bob');
    const carol = await n2.register('carol');
    const dave = await n3.register('dave');
    const room = await n1.createRoom(admin.token, how);
    for (const u of [bob, carol, dave]) await n1.joinRoom(u.token, room.id);
    const adminS = await sio(n3, admin, room.id);
    const bobOn2 = await sio(n2, bob, room.id);
    const bobOn3 = await ws(n3, bob, room.id);
    const carolOn2 = await sio(n2, carol, room.id); // same node as bob's socket: the barrier there
    const daveOn3 = await sio(n3, dave, room.id);

    const before = await emitOk(adminS, 'send_message', { roomId: room.id, content: 'before' });
    for (const c of [bobOn2, bobOn3]) await c.log.waitFor('receive_message', (d) => d.id === before.id);

    await remove(n1, { admin, room, bob });
    const reason = { kick: 'kicked', ban: 'banned', leave: 'left' }[how];
    for (const c of [carolOn2, daveOn3]) {
      assert.equal((await c.log.waitFor('member_removed', (d) => d.userId === bob.id)).reason, reason);
    }

    // Sent after the REST answer, from a third node's session: the members on
    // bob's nodes get it, bob's sessions must not.
    const after = await emitOk(adminS, 'send_message', { roomId: room.id, content: `after the ${how}` });
    await carolOn2.log.waitFor('receive_message', (d) => d.id === after.id);
    await daveOn3.log.waitFor('receive_message', (d) => d.id === after.id);
    const refused = await emitAck(bobOn2, 'send_message', { roomId: room.id, content: 'still here?' });
    assert.equal(refused.code, 'ACCESS_DENIED', `bob's send on n2: ${JSON.stringify(refused)}`);
    const refusedWs = await bobOn3.request('typing', { roomId: room.id, isTyping: true });
    assert.equal(refusedWs.code, 'ACCESS_DENIED', `bob's typing on n3: ${JSON.stringify(refusedWs)}`);
    await sleep(300);
    for (const c of [bobOn2, bobOn3]) {
      assert.deepEqual(c.log.all('receive_message', (d) => d.id === after.id), [], `${c.log.label} got a message sent after the ${how}`);
    }
    const stored = await n2.history(admin.token, room.id);
    assert.deepEqual(stored.map((m) => m.content), ['before', `after the ${how}`]);
  });
}

test('logout through node 1 ends that login on nodes 2 and 3, not the user\'s other login', async () => {
  const [n1, n2, n3] = ctx.cluster.nodes;
  const bob = await n1.register('bob');
  const alice = await n1.register('alice');
  const room = await n1.createRoom(alice.token, 'logout');
  await n1.joinRoom(bob.token, room.id);
  const other = await n3.api('POST', '/auth/login', { body: { email: bob.email, password: bob.password } });
  const bobOther = { ...bob, token: other.token };

  const aliceS = await sio(n1, alice, room.id);
  const s2 = await sio(n2, bob, room.id, 'bob-login1');
  const w3 = await ws(n3, bob, room.id, 'bob-login1');
  const keep = await sio(n2, bobOther, room.id, 'bob-login2');

  await n1.api('POST', '/auth/logout', { token: bob.token });
  const err2 = await s2.log.waitFor('error', (d) => d.code === 'INVALID_TOKEN');
  assert.equal(typeof err2.message, 'string');
  await s2.log.waitFor('disconnect');
  assert.equal((await w3.log.waitFor('error', (d) => d.code === 'INVALID_TOKEN')).code, 'INVALID_TOKEN');
  await w3.waitClosed();

  // The token is dead on every node; the other login lives on.
  const { status, body } = await n3.request('GET', '/api/v1/auth/profile', { token: bob.token, allowError: true });
  assert.deepEqual([status, body?.code], [401, 'INVALID_TOKEN']);
  const still = await emitOk(keep, 'send_message', { roomId: room.id, content: 'other login' });
  await aliceS.log.waitFor('receive_message', (d) => d.id === still.id);
  assert.equal(keep.connected, true);
});
