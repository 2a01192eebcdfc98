// The message limit (server default: 5 per 10 s per user) as a person meets it:
// the refusal shown next to the composer with its wait, the refused message
// marked "not sent" with a Retry that sends it once (same clientMsgId).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { eventually, Scene, useBrowser } from '../lib/browser.js';
import { roomWithPeople } from '../lib/scenes.js';
import { useServer } from '../lib/server.js';
import { message, seeMessage, send } from '../lib/ui.js';

const ctx = useServer(); // default message limit
const chrome = useBrowser();

test('rate limit: the 6th message within 10 s is refused next to the composer with its wait; Retry sends it once', async (t) => {
  const { server } = ctx;
  const scene = new Scene(chrome.browser, t.name);
  try {
    const { room, people } = await roomWithPeople(scene, server, ['alice', 'bob']);
    const [alice, bob] = people;
    for (let i = 1; i <= 6; i += 1) await send(alice.page, `burst ${i}`);

    const error = alice.page.locator('#composer-error');
    await eventually(async () => /too fast/i.test(await error.textContent()), { what: 'rate-limit message next to the composer' });
    const text = await error.textContent();
    const wait = Number(/Wait (\d+) s/.exec(text)?.[1]);
    assert.ok(wait >= 1 && wait <= 10, `the message says how long to wait: ${text}`);

    const refused = message(alice.page, 'burst 6');
    await eventually(async () => (await refused.getAttribute('class')).includes('failed'), { what: 'burst 6 marked not sent' });
    assert.match(await refused.textContent(), /Not sent: too many messages/);
    for (let i = 1; i <= 5; i += 1) await seeMessage(alice.page, `burst ${i}`, { sent: true });
    await scene.shot(alice.page, 'the sixth message is refused');
    for (let i = 1; i <= 5; i += 1) await seeMessage(bob.page, `burst ${i}`);
    assert.equal(await message(bob.page, 'burst 6').count(), 0, 'bob never got the refused message');

    // The countdown ends, the error goes; Retry now sends it.
    await eventually(async () => (await error.textContent()) === '', { what: 'the wait is over', ms: 12_000 });
    await refused.getByRole('button', { name: 'Retry' }).click();
    await seeMessage(alice.page, 'burst 6', { sent: true });
    await seeMessage(bob.page, 'burst 6');
    await scene.shot(alice.page, 'retried after the wait');

    const history = await server.history(alice.user.token, room.id);
    assert.deepEqual(history.map((m) => m.content), [1, 2, 3, 4, 5, 6].map((i) => `burst ${i}`), 'each stored once, in order');
    scene.assertNoErrors();
  } finally {
    await scene.close();
  }
});
