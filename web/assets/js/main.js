// Entry point: shows the login or the chat, handles /invite/<code>, logout, and
// a session that ends (refresh refused) or changes in another tab.

import { api, describeError, onSessionEnded } from './api.js';
import { getSession, onSessionChange, setSession } from './auth.js';
import { joinByInvite, setNotice, start } from './chat.js';
import { h, replace } from './dom.js';
import { inviteCodeFromPath, navigateToRoom, route } from './router.js';
import { stopRealtime } from './socket.js';
import { resetStore, store } from './state.js';
import { renderAuth } from './views/auth-view.js';
import { renderShell } from './views/shell.js';

const root = document.getElementById('app');
const INVITE_KEY = 'rtchat.invite';

// Keep the code of /invite/<code> through a login or registration.
const inviteFromPath = inviteCodeFromPath();
if (inviteFromPath) sessionStorage.setItem(INVITE_KEY, inviteFromPath);

let booting = false;

async function boot() {
  if (booting) return;
  if (!window.io) {
    replace(root, h('p', { class: 'boot error', role: 'alert' }, 'The realtime library did not load. Reload the page.'));
    return;
  }
  if (!getSession()) {
    showLogin();
    return;
  }
  booting = true;
  replace(root, h('p', { class: 'boot' }, 'Loading your rooms…'));
  try {
    await start({ onSessionEnded: endSession });
  } catch (err) {
    booting = false;
    if (!getSession()) return; // the session ended meanwhile: the login is showing
    replace(
      root,
      h(
        'div',
        { class: 'auth' },
        h('p', { class: 'error', role: 'alert' }, `Could not load rtchat: ${describeError(err)}`),
        h('button', { type: 'button', class: 'primary', onClick: boot }, 'Try again'),
      ),
    );
    return;
  }
  booting = false;
  renderShell(root, { onLogout: logout });
  await joinPendingInvite();
  route();
}

function showLogin(message = '') {
  const code = sessionStorage.getItem(INVITE_KEY);
  const hint = code && !message ? 'Log in or create an account to join the room you were invited to.' : message;
  renderAuth(root, { onDone: boot, message: hint, mode: code ? 'register' : 'login' });
}

async function joinPendingInvite() {
  const code = sessionStorage.getItem(INVITE_KEY);
  if (!code) return;
  sessionStorage.removeItem(INVITE_KEY);
  try {
    const room = await joinByInvite(code);
    setNotice(`You joined ${room.name}.`);
    navigateToRoom(room.id);
  } catch (err) {
    setNotice(`This invite link did not work: ${describeError(err)}`);
    history.replaceState(null, '', '/');
  }
}

async function logout() {
  try {
    await api('POST', '/auth/logout');
  } catch {
    // Logged out locally anyway; the server ends the session when the token expires.
  }
  finish('You are logged out.');
}

function endSession(message) {
  finish(message || 'Your session has ended. Please log in again.');
}

function finish(message) {
  stopRealtime();
  resetStore();
  setSession(null);
  if (location.pathname !== '/' || location.hash) history.replaceState(null, '', '/');
  showLogin(message);
}

onSessionEnded(endSession);

// Another tab logged out (or in): follow it.
onSessionChange((session) => {
  if (!session && store.me) {
    stopRealtime();
    resetStore();
    showLogin('You logged out in another tab.');
  } else if (session && !store.me && !booting) {
    boot();
  }
});

boot();
