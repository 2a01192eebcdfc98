// The server dies mid-conversation and comes back on the same port and
// database: the page shows a reconnect banner, and after reconnecting it has
// what was sent meanwhile (recovered with auth.offsets), each message once.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { eventually, recordSocketTraffic, Scene, useBrowser } from '../lib/browser.js';
import { roomWithPeople } from '../lib/scenes.js';
import { useServer } from '../lib/server.js';
import { message, seeMessage, send, waitOnline } from '../lib/ui.js';

const ctx = useServer();
const chrome = useBrowser();

test('server restart: banner while it is down; messages sent meanwhile arrive after the reconnect, once', async (t) => {
  const { server } = ctx;
  const scene = new Scene(chrome.browser, t.name);
  try {
    const { room, people } = await roomWithPeople(scene, server, ['alice', 'bob']);
    const [alice, bob] = people;
    await send(alice.page, 'before the restart');
    const before = await seeMessage(bob.page, 'before the restart');
    const beforeSeq = Number(await before.getAttribute('data-seq'));
    const traffic = recordSocketTraffic(alice.page);

    await server.kill();
    const banner = alice.page.locator('.banner');
    await banner.waitFor({ state: 'visible' });
    assert.match(await banner.textContent(), /Reconnecting/);
    await scene.shot(alice.page, 'banner while the server is down');

    // Alice writes while the server is down: pending until it is back.
    await send(alice.page, 'written during the outage');
    assert.match(await message(alice.page, 'written during the outage').getAttribute('class'), /pending|failed/);

    // Alice's network stays off until Bob's message is stored, so it can only
    // reach her by recovery, not live.
    await alice.context.setOffline(true);
    await server.start();
    const missed = await server.sendRest(bob.user.token, room.id, 'sent while alice was away');
    await alice.context.setOffline(false);

    await seeMessage(alice.page, 'sent while alice was away');
    await waitOnline(alice.page);
    await seeMessage(alice.page, 'written during the outage', { sent: true });
    await seeMessage(bob.page, 'written during the outage');
    await scene.shot(alice.page, 'after the reconnect');

    // It came back through the socket (the reconnect's auth.offsets, or sync),
    // not only through the history the page reloads.
    const connects = traffic.sent.filter((p) => p.includes('"offsets"'));
    assert.ok(
      connects.some((p) => p.includes(`"${room.id}":${beforeSeq}`) || p.includes(`"${room.id}":${beforeSeq + 1}`)),
      `the reconnect carried offsets {roomId: lastSeq}: ${connects.join(' | ').slice(0, 500)}`,
    );
    assert.ok(
      traffic.received.some((p) => p.includes('receive_message') && p.includes('sent while alice was away')),
      'the missed message was replayed over the socket',
    );

    // Live again both ways.
    await send(bob.page, 'live after the restart');
    await seeMessage(alice.page, 'live after the restart');

    for (const text of ['before the restart', 'sent while alice was away', 'written during the outage', 'live after the restart']) {
      assert.equal(await message(alice.page, text).count(), 1, `'${text}' shown once`);
    }
    // In seq order on screen.
    const seqs = await alice.page.locator('.messages li.msg').evaluateAll((els) => els.map((el) => Number(el.dataset.seq)));
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'messages in seq order');
    assert.ok(seqs.includes(missed.seq));
    const history = await server.history(bob.user.token, room.id);
    assert.equal(history.filter((m) => m.content === 'written during the outage').length, 1, 'the pending message was stored once');
    await eventually(async () => (await banner.isHidden()), { what: 'banner gone' });
    scene.assertNoErrors();
  } finally {
    await scene.close();
  }
});
