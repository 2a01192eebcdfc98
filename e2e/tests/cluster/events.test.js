// Every room event crosses nodes: a client on one node sees what happens on
// another, over Socket.IO (default transports and websocket only) and /ws,
// directly and through nginx (deploy/nginx/rtchat-cluster.conf). Each event is
// made on one node and awaited on the others, so a node that kept its events to
// itself fails here.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { close, connect, connected, emitOk, eventually, WsClient } from '../../lib/client.js';
import { fromAddress, needNginx, useCluster } from '../../lib/cluster.js';
import { assertTimestamp } from '../../lib/fixtures.js';

const ctx = useCluster();
const WS_ONLY = { transports: ['websocket'] };

/** A Socket.IO client of `node` (a Server, or `{url}` of nginx) that joined `roomId`. */
async function sio(node, user, roomId, { label, ...opts } = {}) {
  const s = connect(node, user.token, { label: `${user.username}@${label || node.name}`, ...opts });
  await connected(s);
  await s.log.waitFor('welcome');
  if (roomId) await emitOk(s, 'join_room', { roomId });
  return s;
}

/** A /ws client of `node` that joined `roomId`. */
async function ws(node, user, roomId, { label, ...opts } = {}) {
  const w = await WsClient.open(node, { token: user.token, label: `${user.username}@${label || node.name}/ws`, ...opts });
  await w.log.waitFor('welcome');
  if (roomId) await w.requestOk('join_room', { roomId });
  return w;
}

test('messages, edits, deletions, reads, typing and presence cross nodes', async () => {
  const [n1, n2, n3] = ctx.cluster.nodes;
  // Each user registers on "their" node: tokens and accounts are shared.
  const ann = await n1.register('ann');
  const ben = await n2.register('ben');
  const cat = await n3.register('cat');
  const room = await n1.createRoom(ann.token, 'cross');
  const a = await sio(n1, ann, room.id);

  await n2.joinRoom(ben.token, room.id);
  const joinedBen = await a.log.waitFor('member_joined', (d) => d.user?.id === ben.id);
  assert.deepEqual({ roomId: joinedBen.roomId, role: joinedBen.role, username: joinedBen.user.username }, { roomId: room.id, role: 'member', username: ben.username });
  const b = await ws(n2, ben, room.id);
  await a.log.waitFor('user_status', (d) => d.userId === ben.id && d.status === 'online');
  await a.log.waitFor('user_status', (d) => d.userId === ben.id && d.status === 'joined' && d.roomId === room.id);

  await n3.joinRoom(cat.token, room.id);
  for (const s of [a, b]) await s.log.waitFor('member_joined', (d) => d.user?.id === cat.id && d.roomId === room.id);
  const c = await sio(n3, cat, room.id, WS_ONLY);
  for (const s of [a, b]) {
    await s.log.waitFor('user_status', (d) => d.userId === cat.id && d.status === 'online');
    await s.log.waitFor('user_status', (d) => d.userId === cat.id && d.status === 'joined');
  }

  // One message from each node; all three see the same seqs.
  const fromA = await emitOk(a, 'send_message', { roomId: room.id, content: 'from n1' });
  const fromB = await b.requestOk('send_message', { roomId: room.id, content: 'from n2' });
  const fromC = await emitOk(c, 'send_message', { roomId: room.id, content: 'from n3' });
  assert.deepEqual([fromA.seq, fromB.seq, fromC.seq], [1, 2, 3]);
  for (const s of [a, b, c]) {
    for (const m of [fromA, fromB, fromC]) {
      const got = await s.log.waitFor('receive_message', (d) => d.id === m.id);
      assert.deepEqual([got.seq, got.content, got.senderId], [m.seq, m.content, m.senderId], `${s.log.label}: ${JSON.stringify(got)}`);
    }
  }

  // Edit on n3, seen on n1 and n2.
  await emitOk(c, 'edit_message', { messageId: fromC.id, content: 'edited on n3' });
  for (const s of [a, b]) {
    const e = await s.log.waitFor('message_edited', (d) => d.id === fromC.id);
    assert.deepEqual([e.roomId, e.seq, e.content, e.isEdited], [room.id, 3, 'edited on n3', true]);
    assertTimestamp(e.editedAt, 'message_edited.editedAt');
  }

  // An admin on n1 deletes ben's message: seen on n2 and n3.
  await emitOk(a, 'delete_message', { messageId: fromB.id, roomId: room.id });
  for (const s of [b, c]) {
    const d = await s.log.waitFor('message_deleted', (x) => x.messageId === fromB.id);
    assert.deepEqual([d.roomId, d.seq], [room.id, 2]);
    assertTimestamp(d.deletedAt, 'message_deleted.deletedAt');
  }

  // A read on n2, seen on n1 and n3.
  await b.requestOk('mark_message_read', { messageId: fromC.id });
  for (const s of [a, c]) {
    const r = await s.log.waitFor('message_read', (d) => d.readBy === ben.id);
    assert.deepEqual([r.messageId, r.roomId, r.lastReadSeq], [fromC.id, room.id, 3]);
  }

  // Typing on n3 and on n2 (/ws), seen on the other nodes.
  await emitOk(c, 'typing', { roomId: room.id, isTyping: true });
  for (const s of [a, b]) {
    assert.deepEqual(await s.log.waitFor('typing', (d) => d.userId === cat.id), { userId: cat.id, roomId: room.id, isTyping: true });
  }
  await b.requestOk('typing', { roomId: room.id, isTyping: true });
  for (const s of [a, c]) await s.log.waitFor('typing', (d) => d.userId === ben.id && d.isTyping === true);

  // cat's only session (n3) ends: offline with lastSeen on n1 and n2.
  close(c);
  for (const s of [a, b]) {
    const off = await s.log.waitFor('user_status', (d) => d.userId === cat.id && d.status === 'offline');
    assertTimestamp(off.lastSeen, 'offline.lastSeen');
  }
});

test('roles, settings, kicks, bans, leaving and deletion cross nodes', async () => {
  const [n1, n2, n3] = ctx.cluster.nodes;
  const ann = await n1.register('ann');
  const ben = await n2.register('ben');
  const cat = await n3.register('cat');
  const dan = await n3.register('dan');
  const room = await n1.createRoom(ann.token, 'admin');
  for (const [node, u] of [[n2, ben], [n3, cat], [n3, dan]]) await node.joinRoom(u.token, room.id);
  const a = await sio(n1, ann, room.id);
  const b = await sio(n2, ben, room.id);
  const c = await ws(n3, cat, room.id);

  // Promotion through n3's REST: seen on n1 and n2.
  await n3.api('POST', `/rooms/${room.id}/members/${ben.id}/promote`, { token: ann.token });
  for (const s of [a, b]) assert.deepEqual(await s.log.waitFor('member_role', (d) => d.userId === ben.id), { roomId: room.id, userId: ben.id, role: 'admin' });

  // Settings changed through n2: seen on n1 and n3.
  await n2.api('PATCH', `/rooms/${room.id}`, { token: ann.token, body: { name: 'renamed on n2', description: 'by ann' } });
  for (const s of [a, c]) {
    const u = await s.log.waitFor('room_updated', (d) => d.roomId === room.id);
    assert.deepEqual([u.name, u.description, u.isPrivate], ['renamed on n2', 'by ann', false]);
  }

  // Kick (n1), ban (n2), leave (n3): each seen on the nodes it was not made on.
  await n1.kick(ann.token, room.id, cat.id);
  assert.equal((await b.log.waitFor('member_removed', (d) => d.userId === cat.id)).reason, 'kicked');
  await n2.api('POST', `/rooms/${room.id}/bans`, { token: ann.token, body: { userId: dan.id } });
  for (const s of [a]) assert.equal((await s.log.waitFor('member_removed', (d) => d.userId === dan.id)).reason, 'banned');
  await n3.api('DELETE', `/rooms/${room.id}/leave`, { token: ben.token });
  assert.deepEqual(await a.log.waitFor('member_removed', (d) => d.userId === ben.id), { roomId: room.id, userId: ben.id, reason: 'left' });

  // Deletion through n2: seen on n1.
  await n3.joinRoom(ben.token, room.id);
  await emitOk(b, 'join_room', { roomId: room.id });
  await n2.api('DELETE', `/rooms/${room.id}`, { token: ann.token });
  for (const s of [a, b]) assert.deepEqual(await s.log.waitFor('room_deleted'), { roomId: room.id });
});

test('through nginx: clients from addresses hashed to different nodes chat over polling, upgraded websockets and /ws', async (t) => {
  const { cluster } = ctx;
  if (!needNginx(t, cluster)) return;
  const lb = { url: cluster.nginx.url, name: 'nginx' };
  const addr = await cluster.addressPerNode(); // {n1: '127.0.0.x', ...}
  const [n1] = cluster.nodes;
  const users = [];
  for (const name of ['poll', 'upgrade', 'plain']) users.push(await cluster.balancer.register(name));
  const room = await cluster.balancer.createRoom(users[0].token, 'lb');
  for (const u of users.slice(1)) await cluster.balancer.joinRoom(u.token, room.id);

  // Polling only: every request of the session must reach the node that made it
  // (sticky upstream), or the node answers "Session ID unknown" and it drops.
  const poll = await sio(lb, users[0], room.id, { transports: ['polling'], label: `nginx->n1`, ...fromAddress(addr.n1) });
  // Default transports: polling first, then the websocket upgrade (needs the
  // Upgrade/Connection headers passed through).
  const up = await sio(lb, users[1], room.id, { label: `nginx->n2`, ...fromAddress(addr.n2) });
  const plain = await ws(lb, users[2], room.id, { label: 'nginx->n3', localAddress: addr.n3 });
  const direct = await sio(n1, await joined(cluster, room), room.id);
  await eventually(() => up.io.engine.transport.name === 'websocket', { what: 'the default-transport client upgraded to websocket through nginx' });
  assert.equal(poll.io.engine.transport.name, 'polling');

  const sent = [];
  for (let i = 0; i < 5; i += 1) {
    sent.push(await emitOk(poll, 'send_message', { roomId: room.id, content: `poll ${i}` }));
    sent.push(await emitOk(up, 'send_message', { roomId: room.id, content: `upgrade ${i}` }));
    sent.push(await plain.requestOk('send_message', { roomId: room.id, content: `plain ${i}` }));
  }
  for (const s of [poll, up, plain, direct]) {
    const got = [];
    for (const m of sent) got.push((await s.log.waitFor('receive_message', (d) => d.id === m.id, 10_000)).seq);
    assert.deepEqual(got, sent.map((m) => m.seq), `${s.log.label}: every message, same seqs`);
  }
  for (const s of [poll, up]) assert.deepEqual(s.log.all('disconnect'), [], `${s.log.label} stayed connected`);

  // The nodes behind: still one per address (the hash is stable).
  assert.deepEqual([await cluster.nodeBehind(addr.n1), await cluster.nodeBehind(addr.n2), await cluster.nodeBehind(addr.n3)], ['n1', 'n2', 'n3']);

  // The web client served through nginx: its Origin is nginx's, and the node
  // accepts it only if nginx passed the Host header with its port.
  const { status, headers } = await cluster.balancer.request('GET', '/api/v1/rooms', {
    token: users[0].token,
    headers: { Origin: cluster.nginx.url },
    allowError: true,
  });
  assert.equal(status, 200, 'a same-origin page behind nginx is allowed');
  assert.equal(headers.get('access-control-allow-origin'), cluster.nginx.url);
  // nginx's request id (32 hex digits, sent as X-Request-Id) is the node's too:
  // one id ties nginx's log line to the node's. A node's own would be a UUID.
  assert.match(headers.get('x-request-id') ?? '', /^[0-9a-f]{32}$/, 'the request id nginx made');
});

/** A fresh member of `room` (registered on n1). */
async function joined(cluster, room) {
  const u = await cluster.nodes[0].register('direct');
  await cluster.nodes[0].joinRoom(u.token, room.id);
  return u;
}
