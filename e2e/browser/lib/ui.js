// What a person does in the web client, found the way a person (or a screen
// reader) finds it: by labels, roles and visible text.

import { eventually, WAIT_MS } from './browser.js';

/** Opens `url` and registers through the form; returns the details used. */
export async function registerViaUi(page, server, name, url = server.url) {
  const user = server.newUser(name);
  await page.goto(url);
  const createAccount = page.getByRole('button', { name: 'Create an account' });
  // An invite link opens the registration form directly.
  if (await createAccount.isVisible().catch(() => false)) await createAccount.click();
  await page.getByLabel('Username').fill(user.username);
  await page.getByLabel('Full name').fill(user.fullName);
  await page.getByLabel('Email').fill(user.email);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByText(`Signed in as ${user.username}`).waitFor({ timeout: WAIT_MS });
  await waitOnline(page);
  return user;
}

/** Logs in as a user registered over REST, with the tokens the client would have stored. */
export async function loginWithTokens(page, server, user, url = server.url) {
  await page.goto(`${server.url}/assets/style.css`); // same origin, no app running yet
  await page.evaluate((session) => localStorage.setItem('rtchat.session', JSON.stringify(session)), {
    token: user.token,
    refreshToken: user.refreshToken,
    user: user.user,
  });
  await page.goto(url);
  await page.getByText(`Signed in as ${user.username}`).waitFor({ timeout: WAIT_MS });
  await waitOnline(page);
}

/** Waits until the realtime socket is connected (no banner, and the socket says so). */
export async function waitOnline(page) {
  await eventually(() => page.evaluate(() => document.querySelector('.banner')?.hidden !== false), {
    what: `${page.label}: connection banner gone`,
  });
}

export function composer(page) {
  return page.getByRole('textbox', { name: 'Message', exact: true });
}

/** Types a message and presses Enter. */
export async function send(page, text) {
  const box = composer(page);
  await box.fill(text);
  await box.press('Enter');
}

export function message(page, text) {
  return page.locator('.messages li.msg', { hasText: text });
}

/** Waits until a message with this text is shown (and, with `sent`, acknowledged). */
export async function seeMessage(page, text, { sent = false } = {}) {
  const m = message(page, text).first();
  await m.waitFor({ timeout: WAIT_MS });
  if (sent) {
    await eventually(async () => !(await m.getAttribute('class')).includes('pending'), { what: `${page.label}: '${text}' acknowledged` });
  }
  return m;
}

export async function openRoom(page, name) {
  await page.locator('.room-item', { hasText: name }).first().click();
  await page.locator('.chat-header h2', { hasText: name }).waitFor({ timeout: WAIT_MS });
}

/** Creates a room through the dialog; for a private one returns the invite link shown in the settings. */
export async function createRoomViaUi(page, name, { isPrivate = false } = {}) {
  await page.getByRole('button', { name: 'New room' }).click();
  await page.getByLabel('Room name').fill(name);
  if (isPrivate) await page.getByLabel(/^Private/).check();
  await page.getByRole('button', { name: 'Create room' }).click();
  await page.locator('.chat-header h2', { hasText: name }).waitFor({ timeout: WAIT_MS });
  if (!isPrivate) return null;
  const link = page.getByLabel('Share this link to invite people');
  await eventually(async () => /\/invite\/\S+$/.test(await link.inputValue()), { what: 'invite link shown' });
  return link.inputValue();
}

/** The text of the "who is typing" line. */
export function typingLine(page) {
  return page.locator('.typing');
}

/** The members panel's entry of a user. */
export function member(page, username) {
  return page.locator('.member-list .member', { hasText: username });
}
