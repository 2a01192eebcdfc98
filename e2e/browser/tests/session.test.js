// Accounts in the web client: errors shown in the forms, staying logged in
// across a reload, a refused access token refreshed, logout ending the session.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { eventually, Scene, useBrowser } from '../lib/browser.js';
import { useServer } from '../lib/server.js';
import { createRoomViaUi, registerViaUi, seeMessage, send, waitOnline } from '../lib/ui.js';

const ctx = useServer();
const chrome = useBrowser();

const stored = (page) => page.evaluate(() => JSON.parse(localStorage.getItem('rtchat.session') || 'null'));

test('forms show the server\'s errors: a taken username, a wrong password', async (t) => {
  const { server } = ctx;
  const scene = new Scene(chrome.browser, t.name);
  try {
    const taken = await server.register('taken');
    const { page } = await scene.person('visitor');
    await page.goto(server.url);
    await page.getByRole('button', { name: 'Create an account' }).click();
    await page.getByLabel('Username').fill(taken.username);
    await page.getByLabel('Full name').fill('Someone Else');
    await page.getByLabel('Email').fill(`other_${taken.email}`);
    await page.getByLabel('Password').fill('secret-123');
    await page.getByRole('button', { name: 'Create account' }).click();
    const alert = page.getByRole('alert');
    await eventually(async () => /taken|exists|already/i.test(await alert.textContent()), { what: 'registration error shown in the form' });
    await scene.shot(page, 'username taken');

    await page.getByRole('button', { name: 'I already have an account' }).click();
    await page.getByLabel('Email').fill(taken.email);
    await page.getByLabel('Password').fill('not-the-password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await eventually(async () => (await alert.textContent()) === 'Invalid email or password', { what: 'login error shown in the form' });
    await scene.shot(page, 'wrong password');
    assert.equal(await stored(page), null, 'nothing stored');
  } finally {
    await scene.close();
  }
});

test('stays logged in across reloads, refreshes a refused access token, and logout ends the session', async (t) => {
  const { server } = ctx;
  const scene = new Scene(chrome.browser, t.name);
  try {
    const { page } = await scene.person('alice');
    const alice = await registerViaUi(page, server, 'alice');
    const roomName = 'Reload room';
    await createRoomViaUi(page, roomName);
    await send(page, 'still here after a reload');
    await seeMessage(page, 'still here after a reload', { sent: true });

    await page.reload();
    await page.getByText(`Signed in as ${alice.username}`).waitFor();
    await page.locator('.chat-header h2', { hasText: roomName }).waitFor(); // the open room is kept (#room/<id>)
    await seeMessage(page, 'still here after a reload');

    // An access token the server refuses (expired, or revoked): the client
    // refreshes it with the refresh token and carries on.
    const before = await stored(page);
    await page.evaluate(() => {
      const s = JSON.parse(localStorage.getItem('rtchat.session'));
      s.token = 'not-a-valid-token';
      localStorage.setItem('rtchat.session', JSON.stringify(s));
    });
    await page.reload();
    await page.getByText(`Signed in as ${alice.username}`).waitFor();
    await waitOnline(page);
    const after = await stored(page);
    assert.notEqual(after.token, 'not-a-valid-token', 'a new access token');
    assert.notEqual(after.refreshToken, before.refreshToken, 'the refresh token rotated');
    await send(page, 'sent with the refreshed token');
    await seeMessage(page, 'sent with the refreshed token', { sent: true });
    await scene.shot(page, 'after the refresh');

    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('button', { name: 'Log in' }).waitFor();
    assert.equal(await stored(page), null, 'tokens forgotten');
    const res = await fetch(`${server.url}/api/v1/auth/profile`, { headers: { Authorization: `Bearer ${after.token}` } });
    assert.equal(res.status, 401, 'the server revoked the logged-out session');
    await scene.shot(page, 'logged out');

    await page.getByLabel('Email').fill(alice.email);
    await page.getByLabel('Password').fill(alice.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByText(`Signed in as ${alice.username}`).waitFor();
    await page.locator('.room-item', { hasText: roomName }).waitFor();
    scene.assertNoErrors();
  } finally {
    await scene.close();
  }
});
