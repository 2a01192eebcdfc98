// Routes: "/" (rooms), "/#room/<id>" (an open room, kept across reloads) and
// "/invite/<code>" (the server serves the same page there; main.js joins).

import { closeRoom, openRoom } from './chat.js';
import { store } from './state.js';

/** The invite code of /invite/<code>, or null. */
export function inviteCodeFromPath(pathname = location.pathname) {
  const match = /^\/invite\/([^/?#]+)\/?$/.exec(pathname);
  return match ? decodeURIComponent(match[1]) : null;
}

export function roomIdFromHash(hash = location.hash) {
  const match = /^#room\/([0-9a-fA-F-]{36})$/.exec(hash);
  return match ? match[1].toLowerCase() : null;
}

export function navigateToRoom(roomId) {
  if (location.pathname !== '/') {
    // Leaving /invite/<code>: that address should not join again on reload.
    history.replaceState(null, '', `/#room/${roomId}`);
    route();
  } else if (roomIdFromHash() === roomId) {
    route();
  } else {
    location.hash = `room/${roomId}`; // hashchange routes
  }
}

export function navigateHome() {
  if (location.pathname !== '/' || location.hash) history.pushState(null, '', '/');
  route();
}

/** Opens the room the address names (if it is one of the user's rooms), else the room list. */
export function route() {
  const roomId = roomIdFromHash();
  if (roomId && store.rooms.has(roomId)) {
    if (store.activeRoomId !== roomId) openRoom(roomId);
  } else if (store.activeRoomId) {
    closeRoom();
  }
}

window.addEventListener('hashchange', () => {
  if (store.me) route();
});
window.addEventListener('popstate', () => {
  if (store.me) route();
});
