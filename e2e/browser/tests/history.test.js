// History in the web client: the newest page first, older pages as the list is
// scrolled up (REST `before` cursors), in seq order without repeats.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { eventually, Scene, useBrowser } from '../lib/browser.js';
import { randomString, useServer } from '../lib/server.js';
import { loginWithTokens, message, seeMessage } from '../lib/ui.js';

// 75 messages are set up over REST: past the default 5 per 10 s.
const ctx = useServer({ env: { RTCHAT_LIMITS__MESSAGES_MAX: '100000' } });
const chrome = useBrowser();

const COUNT = 75;
const line = (i) => `line ${String(i).padStart(3, '0')}`;

test('history: the newest messages first, older ones loaded by scrolling up, in order, each once', async (t) => {
  const { server } = ctx;
  const scene = new Scene(chrome.browser, t.name);
  try {
    const alice = await server.register('alice');
    const bob = await server.register('bob');
    const room = await server.createRoom(alice.token, `Long story ${randomString(4)}`);
    await server.joinRoom(bob.token, room.id);
    for (let i = 1; i <= COUNT; i += 1) await server.sendRest(alice.token, room.id, line(i));

    const { page } = await scene.person('bob', { viewport: { width: 1000, height: 700 } });
    await loginWithTokens(page, server, bob);
    const item = page.locator('.room-item', { hasText: room.name });
    assert.equal(await item.locator('.unread').textContent(), String(COUNT), 'all unread before opening');
    await item.click();
    await seeMessage(page, line(COUNT));
    assert.equal(await message(page, line(1)).count(), 0, 'the oldest are not loaded yet');
    const firstShown = await page.locator('.messages li.msg').count();
    assert.ok(firstShown < COUNT, `one page at first (${firstShown})`);
    await scene.shot(page, 'newest page');

    // One step up: an older page comes in above, and the reader keeps their
    // place (the message that was at the top is still in view).
    const list = page.locator('.messages');
    const top = await page.locator('.messages li.msg .text').first().textContent();
    await list.evaluate((el) => {
      el.scrollTop = 0;
    });
    await eventually(async () => (await page.locator('.messages li.msg').count()) > firstShown, { what: 'an older page loaded' });
    await eventually(
      async () => {
        const [box, view] = await Promise.all([message(page, top).boundingBox(), list.boundingBox()]);
        return box && view && box.y >= view.y - 1 && box.y < view.y + view.height;
      },
      { what: `'${top}' still in view after the older page loaded` },
    );
    await scene.shot(page, 'an older page above, place kept');

    await eventually(
      async () => {
        await list.evaluate((el) => {
          el.scrollTop = 0;
        });
        return (await message(page, line(1)).count()) === 1;
      },
      { what: 'scrolled back to the first message', every: 300 },
    );
    await page.getByText('This is the beginning of the room.').waitFor();
    await scene.shot(page, 'scrolled to the beginning');

    const texts = await page.locator('.messages li.msg .text').allTextContents();
    assert.deepEqual(texts, Array.from({ length: COUNT }, (_, i) => line(i + 1)), 'every message once, oldest first');
    scene.assertNoErrors();
  } finally {
    await scene.close();
  }
});
