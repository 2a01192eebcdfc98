// Two people chatting in the web client: invite link, both directions, read
// state, typing, edit and delete, presence.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { eventually, Scene, useBrowser } from '../lib/browser.js';
import { roomWithPeople } from '../lib/scenes.js';
import { randomString, useServer } from '../lib/server.js';
import { composer, createRoomViaUi, member, message, registerViaUi, seeMessage, send, typingLine } from '../lib/ui.js';

const ctx = useServer();
const chrome = useBrowser();

test('invite link: one creates a private room, the other opens /invite/<code>, they chat both ways and see read state', async (t) => {
  const { server } = ctx;
  const scene = new Scene(chrome.browser, t.name);
  try {
    const { page: alicePage } = await scene.person('alice');
    await registerViaUi(alicePage, server, 'alice');
    const roomName = `Secret ${randomString(5)}`;
    const link = await createRoomViaUi(alicePage, roomName, { isPrivate: true });
    assert.match(link, new RegExp(`^${server.url}/invite/[A-Za-z0-9]{16}$`), 'the settings show the invite link of this server');
    await scene.shot(alicePage, 'alice created a private room: its invite link');
    await alicePage.getByRole('button', { name: 'Close' }).click();

    const { page: bobPage } = await scene.person('bob');
    const bob = await registerViaUi(bobPage, server, 'bob', link);
    await bobPage.locator('.chat-header h2', { hasText: roomName }).waitFor();
    assert.equal(new URL(bobPage.url()).pathname, '/', 'the invite address is replaced once used');
    await scene.shot(bobPage, 'bob joined through the invite link');

    // Alice sees the new member without reloading.
    await member(alicePage, bob.username).waitFor();

    await send(alicePage, 'Hello Bob!');
    await seeMessage(alicePage, 'Hello Bob!', { sent: true });
    await seeMessage(bobPage, 'Hello Bob!');
    await send(bobPage, 'Hi Alice, got your invite.');
    await seeMessage(bobPage, 'Hi Alice, got your invite.', { sent: true });
    await seeMessage(alicePage, 'Hi Alice, got your invite.');
    assert.equal(await composer(alicePage).inputValue(), '', 'Enter sent and cleared the composer');

    // Bob has Alice's message on screen: it is marked read, and Alice sees that.
    const status = message(alicePage, 'Hello Bob!').locator('.status');
    await eventually(async () => (await status.textContent()).includes(`Read by ${bob.username}`), {
      what: 'alice sees that bob read her message',
    });
    await scene.shot(alicePage, 'alice sees the reply and the read state');
    await scene.shot(bobPage, 'bob sees both messages');

    // Stored once each, in order.
    const token = await bobPage.evaluate(() => JSON.parse(localStorage.getItem('rtchat.session')).token);
    const history = await server.history(token, await roomId(bobPage));
    assert.deepEqual(history.map((m) => m.content), ['Hello Bob!', 'Hi Alice, got your invite.']);
    scene.assertNoErrors();
  } finally {
    await scene.close();
  }
});

test('typing: the other sees "<name> is typing…" while one types, and it goes away', async (t) => {
  const { server } = ctx;
  const scene = new Scene(chrome.browser, t.name);
  try {
    const { people } = await roomWithPeople(scene, server, ['alice', 'bob']);
    const [alice, bob] = people;
    await composer(alice.page).pressSequentially('I am writing someth', { delay: 30 });
    await eventually(async () => (await typingLine(bob.page).textContent()) === `${alice.user.username} is typing…`, {
      what: 'bob sees alice typing',
    });
    await scene.shot(bob.page, 'bob sees alice typing');
    assert.equal(await typingLine(alice.page).textContent(), '', 'nobody else is typing for alice');
    // Alice stops: after her pause the indicator clears (typing false, or the server's timeout).
    await eventually(async () => (await typingLine(bob.page).textContent()) === '', { what: 'typing indicator clears', ms: 8_000 });
    // Sending ends typing at once.
    await composer(alice.page).pressSequentially('and now I send', { delay: 20 });
    await eventually(async () => (await typingLine(bob.page).textContent()) !== '', { what: 'typing again' });
    await composer(alice.page).press('Enter');
    await seeMessage(bob.page, 'and now I send');
    await eventually(async () => (await typingLine(bob.page).textContent()) === '', { what: 'typing ends with the send', ms: 2_000 });
    scene.assertNoErrors();
  } finally {
    await scene.close();
  }
});

test('edit and delete: the other sees the edit and the deletion; an admin deletes a member\'s message', async (t) => {
  const { server } = ctx;
  const scene = new Scene(chrome.browser, t.name);
  try {
    const { room, people } = await roomWithPeople(scene, server, ['alice', 'bob']);
    const [alice, bob] = people; // alice created the room: its admin
    await send(bob.page, 'Teh first draft');
    const own = await seeMessage(bob.page, 'Teh first draft', { sent: true });
    await seeMessage(alice.page, 'Teh first draft');

    await own.hover();
    await own.getByRole('button', { name: 'Edit message' }).click();
    const edit = bob.page.getByLabel('Edit message', { exact: true });
    await edit.fill('The first draft, fixed');
    // The message's element is rebuilt while bob edits it (here he is made an
    // admin; a read receipt arriving does the same): his draft stays.
    const box = await edit.elementHandle();
    await server.api('POST', `/rooms/${room.id}/members/${bob.user.id}/promote`, { token: alice.user.token });
    await eventually(async () => !(await box.evaluate((el) => el.isConnected)), { what: 'bob\'s message rebuilt while he edits' });
    assert.equal(await edit.inputValue(), 'The first draft, fixed', 'the draft survives the rebuild');
    await edit.press('Enter');
    const edited = await seeMessage(alice.page, 'The first draft, fixed');
    await eventually(async () => (await edited.textContent()).includes('(edited)'), { what: 'alice sees (edited)' });
    assert.equal(await message(alice.page, 'Teh first draft').count(), 0, 'the old text is gone');
    await scene.shot(alice.page, 'alice sees the edit');

    await send(bob.page, 'Something to take back');
    const second = await seeMessage(bob.page, 'Something to take back', { sent: true });
    await seeMessage(alice.page, 'Something to take back');
    await second.hover();
    await second.getByRole('button', { name: 'Delete message' }).click();
    await bob.page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
    await eventually(async () => (await message(alice.page, 'Something to take back').count()) === 0, { what: 'deleted text gone for alice' });
    await alice.page.locator('.msg.deleted', { hasText: 'This message was deleted' }).first().waitFor();
    await scene.shot(alice.page, 'alice sees the deletion');

    // Alice is the room's admin: she may delete Bob's message; Bob sees it go.
    const bobs = message(alice.page, 'The first draft, fixed');
    await bobs.hover();
    assert.equal(await bobs.getByRole('button', { name: 'Edit message' }).count(), 0, 'no editing of others\' messages');
    await bobs.getByRole('button', { name: 'Delete message' }).click();
    await alice.page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
    await eventually(async () => (await message(bob.page, 'The first draft, fixed').count()) === 0, { what: 'bob sees the admin deletion' });
    assert.equal(await bob.page.locator('.msg.deleted').count(), 2);
    await scene.shot(bob.page, 'bob sees both deletions');
    scene.assertNoErrors();
  } finally {
    await scene.close();
  }
});

test('presence: the other shows online, then offline once their browser closes', async (t) => {
  const { server } = ctx;
  const scene = new Scene(chrome.browser, t.name);
  try {
    const { people } = await roomWithPeople(scene, server, ['alice', 'bob']);
    const [alice, bob] = people;
    const bobEntry = member(alice.page, bob.user.username);
    await eventually(async () => (await bobEntry.getAttribute('data-presence')) === 'online', { what: 'bob online for alice' });
    assert.match(await bobEntry.textContent(), /online/);
    await scene.shot(alice.page, 'bob is online');
    await bob.context.close();
    await eventually(async () => (await bobEntry.getAttribute('data-presence')) === 'offline', { what: 'bob offline for alice' });
    assert.match(await bobEntry.textContent(), /offline/);
    await scene.shot(alice.page, 'bob went offline');
    scene.assertNoErrors();
  } finally {
    await scene.close();
  }
});

/** The room open in a page, from its address (/#room/<id>). */
async function roomId(page) {
  const match = /#room\/([0-9a-f-]{36})$/.exec(page.url());
  assert.ok(match, `a room is open: ${page.url()}`);
  return match[1];
}
