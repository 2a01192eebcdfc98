// A Room actor killed mid-stream by the operator endpoint: no acknowledged message is
// lost, duplicated or reordered. The sender retries a failed send with the same
// clientMsgId; the receiver fills any gap it notices with `sync`.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';

import { connect, connected, emitAck, emitOk, useServer } from '../lib/client.js';
import { roomWithMembers } from '../lib/fixtures.js';
import { sleep } from '../lib/server.js';

// This file sends many messages from one user: lift the message limit for its server.
const ctx = useServer({ env: { RTCHAT_LIMITS__MESSAGES_MAX: '100000' } });

// Sends go out in batches of concurrent sends, so kills meet messages in flight.
const BATCHES = 10;
const PER_BATCH = 5;
const KILL_DURING_BATCH = 4; // fired right after the batch's sends, not awaited
const KILL_AFTER_BATCH = 7; // between two batches, awaited

/** Sends until acknowledged, retrying with the same clientMsgId. */
async function sendReliably(socket, roomId, content, clientMsgId, log, deadlineMs = 30_000) {
  const deadline = Date.now() + deadlineMs;
  let attempts = 0;
  let last;
  while (Date.now() < deadline) {
    attempts += 1;
    try {
      const answer = await emitAck(socket, 'send_message', { roomId, content, clientMsgId }, 5_000);
      if (answer?.status === 'success') return { message: answer.data, attempts };
      last = JSON.stringify(answer);
    } catch (err) {
      last = err.message;
    }
    log.push(`retry ${content}: ${last}`);
    await sleep(100);
  }
  throw new Error(`'${content}' not acknowledged within ${deadlineMs} ms after ${attempts} attempts; last: ${last}`);
}

/** A receiver's view of a room: seq -> message, filled by live events and sync. */
class RoomView {
  constructor(socket, roomId, log) {
    this.socket = socket;
    this.roomId = roomId;
    this.bySeq = new Map();
    this.contiguous = 0;
    this.syncing = false;
    this.syncs = 0;
    this.conflicts = [];
    this.log = log;
    socket.on('receive_message', (m) => this.apply(m));
  }

  apply(m) {
    if (!m || m.roomId !== this.roomId) return;
    const had = this.bySeq.get(m.seq);
    if (had) {
      if (had.id !== m.id) this.conflicts.push({ seq: m.seq, had: had.id, got: m.id });
      return; // a replay overlapping what we have
    }
    this.bySeq.set(m.seq, m);
    while (this.bySeq.has(this.contiguous + 1)) this.contiguous += 1;
    this.fillGaps();
  }

  maxSeq() {
    let max = 0;
    for (const seq of this.bySeq.keys()) max = Math.max(max, seq);
    return max;
  }

  /** A seq above a missing one is a gap: ask for everything after the contiguous prefix. */
  fillGaps() {
    if (this.syncing || this.maxSeq() <= this.contiguous) return;
    this.syncing = true;
    this.syncs += 1;
    const afterSeq = this.contiguous;
    this.log.push(`gap after ${afterSeq} (max ${this.maxSeq()}): sync`);
    emitAck(this.socket, 'sync', { roomId: this.roomId, afterSeq }, 5_000)
      .then((answer) => {
        if (answer?.status !== 'success') this.log.push(`sync answered ${JSON.stringify(answer)}`);
      })
      .catch((err) => this.log.push(`sync failed: ${err.message}`))
      .finally(() => {
        this.syncing = false;
        this.fillGaps();
      });
  }
}

test('room actor killed mid-stream: every acked message reaches the receiver once, in seq order, without gaps', async (t) => {
  const { server } = ctx;
  const { room, users } = await roomWithMembers(server, ['sender', 'receiver'], { connect: false });
  const [sender, receiver] = users;
  const notes = [];

  // Both clients reconnect by themselves if the server drops them; the receiver then
  // comes back with its offsets, as clients are meant to.
  const r = connect(server, receiver.token, { reconnection: true, reconnectionDelay: 200, label: 'receiver' });
  const view = new RoomView(r, room.id, notes);
  r.on('disconnect', (reason) => {
    notes.push(`receiver disconnected: ${reason}`);
    r.auth = { token: receiver.token, offsets: { [room.id]: view.contiguous } };
  });
  await connected(r);
  await emitOk(r, 'join_room', { roomId: room.id });

  const s = connect(server, sender.token, { reconnection: true, reconnectionDelay: 200, label: 'sender' });
  s.on('disconnect', (reason) => notes.push(`sender disconnected: ${reason}`));
  await connected(s);
  await emitOk(s, 'join_room', { roomId: room.id });

  const acked = [];
  const kills = [];
  for (let b = 1; b <= BATCHES; b += 1) {
    const batch = [];
    for (let j = 1; j <= PER_BATCH; j += 1) {
      const content = `b${b}m${j}`;
      batch.push(
        sendReliably(s, room.id, content, randomUUID(), notes).then(({ message, attempts }) => {
          if (attempts > 1) notes.push(`${content} needed ${attempts} attempts`);
          return message;
        }),
      );
    }
    if (b === KILL_DURING_BATCH) kills.push(server.killRoomActor(room.id, { allowError: true }));
    acked.push(...(await Promise.all(batch)));
    if (b === KILL_AFTER_BATCH) kills.push(await server.killRoomActor(room.id, { allowError: true }));
  }
  // One more after the stream: a loss at the tail becomes a gap the receiver can see.
  const { message: sentinel } = await sendReliably(s, room.id, 'sentinel', randomUUID(), notes);
  acked.push(sentinel);

  const killResults = await Promise.all(kills);
  for (const k of killResults) {
    assert.ok(k.status >= 200 && k.status < 300, `the operator kill answered ${k.status} ${JSON.stringify(k.body)}`);
  }

  // Acks: one message per send, distinct and gap-free seqs; the sentinel is last.
  const ackedSeqs = acked.map((m) => m.seq).sort((x, y) => x - y);
  assert.deepEqual(ackedSeqs, Array.from({ length: acked.length }, (_, i) => i + 1), `acked seqs: ${ackedSeqs}`);
  assert.equal(new Set(acked.map((m) => m.id)).size, acked.length, 'distinct acked messages');
  assert.equal(sentinel.seq, acked.length, 'the sentinel, sent last, has the highest seq');

  // The receiver's view ends up holding every acked message.
  const target = sentinel.seq;
  const deadline = Date.now() + 15_000;
  while (view.contiguous < target && Date.now() < deadline) await sleep(100);
  // What happened, for the record (the supervisor view is not part of the protocol).
  const tree = await server.request('GET', '/health/supervisor', { token: server.operatorToken, allowError: true });
  t.diagnostic(`kills answered: ${killResults.map((k) => `${k.status} ${JSON.stringify(k.body)}`).join('; ')}`);
  t.diagnostic(`room restarts per /health/supervisor: ${tree.body?.tree?.roomSupervisor?.restartsTotal ?? `(${tree.status})`}`);
  t.diagnostic(`receiver syncs: ${view.syncs}`);
  for (const note of notes) t.diagnostic(note);
  assert.ok(
    view.contiguous >= target,
    `receiver's contiguous prefix reached ${view.contiguous} of ${target} (seqs held: ${[...view.bySeq.keys()].sort((x, y) => x - y)})`,
  );
  assert.deepEqual(view.conflicts, [], 'no two messages with one seq');
  for (const m of acked) {
    const got = view.bySeq.get(m.seq);
    assert.equal(got?.id, m.id, `seq ${m.seq}: the acked message ${m.id}, got ${got?.id}`);
    assert.equal(got.content, m.content);
  }
  assert.equal(view.maxSeq(), target, 'nothing beyond the acked messages');

  // REST history: each acked message exactly once, gap-free.
  const history = await server.history(receiver.token, room.id);
  assert.deepEqual(history.map((m) => m.seq), Array.from({ length: target }, (_, i) => i + 1), 'history is gap-free');
  for (const m of acked) {
    assert.equal(history.filter((h) => h.clientMsgId === m.clientMsgId).length, 1, `clientMsgId of ${m.content} stored once`);
    assert.equal(history.filter((h) => h.id === m.id).length, 1, `${m.content} stored once`);
  }
  assert.equal(history.length, acked.length, 'no message stored beyond the acked ones');
});

test('the kill endpoint needs the operator token', async () => {
  const { server } = ctx;
  const { room, sockets } = await roomWithMembers(server, ['alice']);
  await emitOk(sockets[0], 'send_message', { roomId: room.id, content: 'live room' });
  const none = await server.request('POST', `/health/supervisor/rooms/${room.id}/kill`, { allowError: true });
  assert.ok(none.status === 401 || none.status === 403, `no token: ${none.status}`);
  const wrong = await server.killRoomActor(room.id, { token: 'not-the-operator-token', allowError: true });
  assert.ok(wrong.status === 401 || wrong.status === 403, `wrong token: ${wrong.status}`);
  const user = await server.killRoomActor(room.id, { token: (await server.register('u')).token, allowError: true });
  assert.ok(user.status === 401 || user.status === 403, `a user's token: ${user.status}`);

  // The room still works (nothing was killed).
  const m = await emitOk(sockets[0], 'send_message', { roomId: room.id, content: 'still here' });
  assert.equal(m.seq, 2);
});

test('after a kill the room keeps serving joined sessions', async () => {
  const { server } = ctx;
  const { room, sockets } = await roomWithMembers(server, ['alice', 'bob']);
  const [a, b] = sockets;
  const m1 = await emitOk(a, 'send_message', { roomId: room.id, content: 'before' });
  await b.log.waitFor('receive_message', (d) => d.id === m1.id);
  const kill = await server.killRoomActor(room.id);
  assert.ok(kill.status >= 200 && kill.status < 300);

  // Sends may fail while the actor restarts; a retry with the same clientMsgId is safe.
  const notes = [];
  const { message: m2 } = await sendReliably(a, room.id, 'after', randomUUID(), notes);
  assert.equal(m2.seq, 2);
  const got = await b.log.waitFor('receive_message', (d) => d.id === m2.id, 10_000);
  assert.equal(got.seq, 2);
  const answer = await emitAck(b, 'sync', { roomId: room.id, afterSeq: 0 });
  assert.equal(answer.status, 'success', JSON.stringify(answer));
  assert.equal(answer.data.lastSeq, 2);
});
