// Rooms in the web client: discovering and joining public rooms, unread counts
// and last messages in the room list, admin settings (rename, private, invite
// link rotation, roles, kick, ban), and the phone-width layout.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { eventually, Scene, useBrowser } from '../lib/browser.js';
import { roomWithPeople } from '../lib/scenes.js';
import { ApiError, randomString, useServer } from '../lib/server.js';
import { composer, loginWithTokens, member, openRoom, seeMessage, send } from '../lib/ui.js';

const ctx = useServer();
const chrome = useBrowser();

test('discover and join a public room; the room list shows unread counts and the last message', async (t) => {
  const { server } = ctx;
  const scene = new Scene(chrome.browser, t.name);
  try {
    const alice = await server.register('alice');
    const bob = await server.register('bob');
    const publicName = `Open plaza ${randomString(5)}`;
    const plaza = await server.createRoom(alice.token, publicName);
    await server.sendRest(alice.token, plaza.id, 'welcome to the plaza');
    const other = await server.createRoom(bob.token, `Bob's corner ${randomString(4)}`);

    const { page } = await scene.person('bob');
    await loginWithTokens(page, server, bob);
    await page.getByRole('button', { name: 'Discover rooms' }).click();
    await page.getByLabel('Search public rooms').fill(publicName);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('button', { name: `Join ${publicName}` }).click();
    await page.locator('.chat-header h2', { hasText: publicName }).waitFor();
    await seeMessage(page, 'welcome to the plaza');
    await scene.shot(page, 'joined the public room');

    // Bob looks at his other room while Alice writes in the plaza.
    await openRoom(page, other.name);
    await server.sendRest(alice.token, plaza.id, 'first news');
    await server.sendRest(alice.token, plaza.id, 'second news');
    const plazaItem = page.locator('.room-item', { hasText: publicName });
    await eventually(async () => (await plazaItem.locator('.unread').textContent().catch(() => '')) === '2', { what: 'unread count 2' });
    assert.match(await plazaItem.locator('.last').textContent(), /second news/);
    await scene.shot(page, 'unread count in the list');

    // Opening it reads it: the badge goes, and stays gone after a reload (read position stored).
    await plazaItem.click();
    await seeMessage(page, 'second news');
    await openRoom(page, other.name);
    assert.equal(await plazaItem.locator('.unread').count(), 0, 'no badge once read');
    await page.reload();
    await page.locator('.room-item', { hasText: publicName }).waitFor();
    await eventually(async () => (await page.locator('.room-item', { hasText: publicName }).locator('.unread').count()) === 0, { what: 'still read after a reload' });
    scene.assertNoErrors();
  } finally {
    await scene.close();
  }
});

test('admin settings: rename, make private, new invite link, promote and demote, kick, ban', async (t) => {
  const { server } = ctx;
  const scene = new Scene(chrome.browser, t.name);
  try {
    const { room, people } = await roomWithPeople(scene, server, ['alice', 'bob', 'carol']);
    const [alice, bob, carol] = people;

    // Rename and make private; the others see the new name live.
    await alice.page.getByRole('button', { name: 'Room settings' }).click();
    const dialog = alice.page.getByRole('dialog');
    const newName = `Renamed ${randomString(4)}`;
    await dialog.getByLabel('Room name').fill(newName);
    await dialog.getByLabel(/^Private/).check();
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.getByText('Saved.').waitFor();
    await bob.page.locator('.chat-header h2', { hasText: newName }).waitFor();
    await bob.page.locator('.chat-header .tag', { hasText: 'Private' }).waitFor();

    // The invite link, and a new one that replaces it.
    const link = dialog.getByLabel('Share this link to invite people');
    await eventually(async () => /\/invite\/\S{16}$/.test(await link.inputValue()), { what: 'invite link shown' });
    const firstLink = await link.inputValue();
    await dialog.getByRole('button', { name: 'New link' }).click();
    await alice.page.getByRole('dialog', { name: 'Confirm' }).getByRole('button', { name: 'New link' }).click();
    await eventually(async () => (await link.inputValue()) !== firstLink, { what: 'a new invite link' });
    const secondLink = await link.inputValue();
    await scene.shot(alice.page, 'settings with the new invite link');
    const dave = await server.register('dave');
    const oldCode = firstLink.split('/').pop();
    await assert.rejects(server.api('POST', '/rooms/join', { token: dave.token, body: { inviteCode: oldCode } }), ApiError, 'the old code stopped working');
    await server.api('POST', '/rooms/join', { token: dave.token, body: { inviteCode: secondLink.split('/').pop() } });
    await member(alice.page, dave.username).waitFor();
    await dialog.getByRole('button', { name: 'Close' }).last().click();

    // Promote Bob: his page offers the room settings; demote: it does not.
    await alice.page.getByRole('button', { name: `Make admin ${bob.user.username}` }).click();
    await bob.page.getByRole('button', { name: 'Room settings' }).waitFor();
    await eventually(async () => /admin/.test(await member(carol.page, bob.user.username).textContent()), { what: 'carol sees bob is admin' });
    await alice.page.getByRole('button', { name: `Make member ${bob.user.username}` }).click();
    await bob.page.getByRole('button', { name: 'Leave room' }).waitFor();

    // Kick Carol: she is told, and the room leaves her list.
    await alice.page.getByRole('button', { name: `Kick ${carol.user.username}` }).click();
    await alice.page.getByRole('dialog', { name: 'Confirm' }).getByRole('button', { name: 'Kick' }).click();
    await carol.page.getByText(`You were removed from ${newName}.`).waitFor();
    await eventually(async () => (await carol.page.locator('.room-item', { hasText: newName }).count()) === 0, { what: 'room gone for carol' });
    await scene.shot(carol.page, 'carol was kicked');
    await eventually(async () => (await member(alice.page, carol.user.username).count()) === 0, { what: 'carol gone from the members' });

    // Ban Bob: told, and he cannot come back even with the invite code.
    await alice.page.getByRole('button', { name: `Ban ${bob.user.username}` }).click();
    await alice.page.getByRole('dialog', { name: 'Confirm' }).getByRole('button', { name: 'Ban' }).click();
    await bob.page.getByText(`You were banned from ${newName}.`).waitFor();
    await assert.rejects(server.joinRoom(bob.user.token, room.id, secondLink.split('/').pop()), ApiError, 'a banned user cannot rejoin');
    await alice.page.getByRole('button', { name: 'Room settings' }).click();
    await alice.page.getByRole('dialog').getByText(bob.user.username).waitFor(); // in the ban list
    await scene.shot(alice.page, 'ban list');
    scene.assertNoErrors();
  } finally {
    await scene.close();
  }
});

test('phone width (360 px): the room list, then the chat with its composer, then back', async (t) => {
  const { server } = ctx;
  const scene = new Scene(chrome.browser, t.name);
  try {
    const alice = await server.register('alice');
    const room = await server.createRoom(alice.token, `Pocket ${randomString(4)}`);
    const { page } = await scene.person('alice', { viewport: { width: 360, height: 740 } });
    await loginWithTokens(page, server, alice);
    await scene.shot(page, 'room list');
    assert.equal(await page.locator('.chat').isVisible(), false, 'one pane at a time: the list');
    await page.locator('.room-item', { hasText: room.name }).click();
    await page.locator('.chat-header h2', { hasText: room.name }).waitFor();
    assert.equal(await page.locator('.sidebar').isVisible(), false, 'then the chat alone');
    const box = await composer(page).boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= 360 && box.y + box.height <= 740, `composer inside the screen: ${JSON.stringify(box)}`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.equal(overflow, 0, 'no sideways scrolling');
    await send(page, 'typed on a phone');
    await seeMessage(page, 'typed on a phone', { sent: true });
    await page.getByRole('button', { name: 'Members (1)' }).click();
    await page.locator('.members').getByText(`${alice.username} (you)`).waitFor();
    await scene.shot(page, 'members drawer');
    await page.locator('.members').getByRole('button', { name: 'Close' }).click();
    await scene.shot(page, 'chat');
    await page.getByRole('button', { name: 'Back to rooms' }).click();
    await page.locator('.room-item', { hasText: room.name }).waitFor();
    assert.equal(await page.locator('.chat').isVisible(), false, 'back to the list');
    scene.assertNoErrors();
  } finally {
    await scene.close();
  }
});
