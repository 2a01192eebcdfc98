// edit_message, delete_message, mark_message_read and the events the room gets.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { emitAck, emitOk, useServer } from '../lib/client.js';
import { assertTimestamp, roomWithMembers } from '../lib/fixtures.js';

const ctx = useServer();

/** admin creates the room; alice and bob are members; all joined. */
async function setup() {
  const { room, users, sockets } = await roomWithMembers(ctx.server, ['admin', 'alice', 'bob']);
  const [admin, alice, bob] = users;
  const [adminS, aliceS, bobS] = sockets;
  return { room, admin, alice, bob, adminS, aliceS, bobS };
}

test('edit_message: the sender edits; the room gets message_edited', async () => {
  const { room, alice, aliceS, bobS } = await setup();
  const m = await emitOk(aliceS, 'send_message', { roomId: room.id, content: 'tpyo' });
  await bobS.log.waitFor('receive_message', (d) => d.id === m.id);

  const answer = await emitOk(aliceS, 'edit_message', { messageId: m.id, content: 'typo' });
  assert.equal(answer.id, m.id);
  assert.equal(answer.content, 'typo');
  assert.equal(answer.isEdited, true);
  assertTimestamp(answer.editedAt, 'answer.editedAt');

  const ev = await bobS.log.waitFor('message_edited', (d) => d.id === m.id);
  const json = JSON.stringify(ev);
  assert.equal(ev.roomId, room.id, json);
  assert.equal(ev.seq, m.seq, json);
  assert.equal(ev.content, 'typo', json);
  assert.equal(ev.isEdited, true, json);
  assertTimestamp(ev.editedAt, 'message_edited.editedAt');
  assertTimestamp(ev.updatedAt, 'message_edited.updatedAt');
  await aliceS.log.waitFor('message_edited', (d) => d.id === m.id);

  const [stored] = await ctx.server.history(alice.token, room.id);
  assert.equal(stored.content, 'typo');
  assert.equal(stored.isEdited, true);
});

test('edit_message by anyone but the sender is ACCESS_DENIED (ack and error event)', async () => {
  const { room, alice, adminS, aliceS, bobS } = await setup();
  const m = await emitOk(aliceS, 'send_message', { roomId: room.id, content: 'mine' });

  const byBob = await emitAck(bobS, 'edit_message', { messageId: m.id, content: 'hijacked' });
  assert.equal(byBob.status, 'error', JSON.stringify(byBob));
  assert.equal(byBob.code, 'ACCESS_DENIED', JSON.stringify(byBob));

  const byAdmin = await emitAck(adminS, 'edit_message', { messageId: m.id, content: 'hijacked' });
  assert.equal(byAdmin.status, 'error', JSON.stringify(byAdmin));
  assert.equal(byAdmin.code, 'ACCESS_DENIED', 'even a room admin cannot edit another user’s message');

  bobS.emit('edit_message', { messageId: m.id, content: 'hijacked' });
  const err = await bobS.log.waitFor('error');
  assert.equal(err.code, 'ACCESS_DENIED', JSON.stringify(err));
  assert.ok(err.message);

  const [stored] = await ctx.server.history(alice.token, room.id);
  assert.equal(stored.content, 'mine');
  assert.deepEqual(aliceS.log.all('message_edited'), []);
});

test('delete_message: the sender or an admin deletes; others are refused; the room gets message_deleted', async () => {
  const { room, alice, aliceS, bobS, adminS } = await setup();
  const m1 = await emitOk(aliceS, 'send_message', { roomId: room.id, content: 'delete me' });
  const m2 = await emitOk(bobS, 'send_message', { roomId: room.id, content: 'admin deletes me' });

  const refused = await emitAck(bobS, 'delete_message', { messageId: m1.id });
  assert.equal(refused.status, 'error', JSON.stringify(refused));
  assert.equal(refused.code, 'ACCESS_DENIED', JSON.stringify(refused));

  const answer = await emitOk(aliceS, 'delete_message', { messageId: m1.id });
  assert.deepEqual({ messageId: answer.messageId, roomId: answer.roomId, seq: answer.seq }, { messageId: m1.id, roomId: room.id, seq: m1.seq });
  const ev = await bobS.log.waitFor('message_deleted', (d) => d.messageId === m1.id);
  assert.equal(ev.roomId, room.id, JSON.stringify(ev));
  assert.equal(ev.seq, m1.seq, JSON.stringify(ev));
  assertTimestamp(ev.deletedAt, 'message_deleted.deletedAt');

  await emitOk(adminS, 'delete_message', { messageId: m2.id });
  await aliceS.log.waitFor('message_deleted', (d) => d.messageId === m2.id);

  const history = await ctx.server.history(alice.token, room.id);
  assert.deepEqual(history.map((h) => h.seq), [m1.seq, m2.seq], 'soft delete keeps the seq');
  for (const h of history) {
    assert.equal(h.content, '');
    assertTimestamp(h.deletedAt, 'deletedAt in history');
  }
});

test('mark_message_read: the room gets message_read with the reader and read position', async () => {
  const { room, alice, bob, aliceS, bobS } = await setup();
  const m = await emitOk(aliceS, 'send_message', { roomId: room.id, content: 'read me' });
  await bobS.log.waitFor('receive_message', (d) => d.id === m.id);

  const answer = await emitOk(bobS, 'mark_message_read', { messageId: m.id });
  const expected = { messageId: m.id, roomId: room.id, readBy: bob.id, lastReadSeq: m.seq };
  assert.deepEqual(
    { messageId: answer.messageId, roomId: answer.roomId, readBy: answer.readBy, lastReadSeq: answer.lastReadSeq },
    expected,
  );
  assertTimestamp(answer.readAt, 'answer.readAt');

  const ev = await aliceS.log.waitFor('message_read', (d) => d.messageId === m.id);
  assert.deepEqual({ messageId: ev.messageId, roomId: ev.roomId, readBy: ev.readBy, lastReadSeq: ev.lastReadSeq }, expected);
  assertTimestamp(ev.readAt, 'message_read.readAt');

  const reads = await ctx.server.api('GET', `/rooms/${room.id}/reads`, { token: alice.token });
  const bobRead = reads.reads.find((r) => r.userId === bob.id);
  assert.equal(bobRead?.lastReadSeq, m.seq, JSON.stringify(reads));
});

test('events on unknown or foreign messages are refused', async () => {
  const { aliceS } = await setup();
  const other = await roomWithMembers(ctx.server, ['elsewhere']);
  const foreign = await emitOk(other.sockets[0], 'send_message', { roomId: other.room.id, content: 'not yours to see' });

  for (const event of ['edit_message', 'delete_message', 'mark_message_read']) {
    const answer = await emitAck(aliceS, event, { messageId: foreign.id, content: 'x' });
    assert.equal(answer.status, 'error', `${event}: ${JSON.stringify(answer)}`);
    assert.ok(['ACCESS_DENIED', 'RESOURCE_NOT_FOUND'].includes(answer.code), `${event}: ${JSON.stringify(answer)}`);
  }
  const bad = await emitAck(aliceS, 'edit_message', { messageId: 'nope', content: 'x' });
  assert.equal(bad.code, 'INVALID_REQUEST_PARAMETERS', JSON.stringify(bad));
});
