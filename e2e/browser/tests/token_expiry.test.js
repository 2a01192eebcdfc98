// Access tokens that expire while the page is open (1 s lifetime here, plus the
// server's 5 s leeway): the server ends the socket's session ("Token has
// expired"), the reconnect is refused with connect_error saying so, and the
// client refreshes the token and connects again, without a new login.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { eventually, recordSocketTraffic, Scene, useBrowser } from '../lib/browser.js';
import { roomWithPeople } from '../lib/scenes.js';
import { sleep, useServer } from '../lib/server.js';
import { seeMessage, send, waitOnline } from '../lib/ui.js';

const ctx = useServer({ env: { RTCHAT_AUTH__ACCESS_TOKEN_TTL_SECS: '1' } });
const chrome = useBrowser();

test('an access token that expired is refreshed when the socket reconnects', async (t) => {
  const { server } = ctx;
  const scene = new Scene(chrome.browser, t.name);
  try {
    const { people } = await roomWithPeople(scene, server, ['alice', 'bob']);
    const [alice, bob] = people;
    const first = await alice.page.evaluate(() => JSON.parse(localStorage.getItem('rtchat.session')).token);
    const traffic = recordSocketTraffic(alice.page);
    await sleep(7_000); // past expiry and leeway
    const expired = await fetch(`${server.url}/api/v1/auth/profile`, { headers: { Authorization: `Bearer ${first}` } });
    assert.equal(expired.status, 401, 'the first token has expired');

    await server.restart(); // and every socket reconnects once more
    await waitOnline(alice.page);
    await eventually(async () => (await alice.page.evaluate(() => JSON.parse(localStorage.getItem('rtchat.session')).token)) !== first, {
      what: 'a new access token stored',
    });
    assert.ok(
      traffic.received.some((p) => p.startsWith('44') && /Token has expired/.test(p)),
      `a reconnect was refused with connect_error "Token has expired": ${traffic.received.join(' | ').slice(0, 600)}`,
    );
    assert.equal(await alice.page.getByRole('button', { name: 'Log out' }).count(), 1, 'still logged in');
    await send(alice.page, 'after the refresh');
    await seeMessage(alice.page, 'after the refresh', { sent: true });
    await waitOnline(bob.page);
    await seeMessage(bob.page, 'after the refresh');
    await scene.shot(alice.page, 'reconnected with a refreshed token');
    scene.assertNoErrors();
  } finally {
    await scene.close();
  }
});
