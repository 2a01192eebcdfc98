// Dialogs: confirm, create a room, discover public rooms, leave a room. Room
// settings (admins) are in settings.js. Each error shows in its own dialog.

import { describeError } from '../api.js';
import { createRoom, discoverRooms, joinPublicRoom, leaveRoom } from '../chat.js';
import { field, h, openDialog, toast } from '../dom.js';
import { navigateHome, navigateToRoom } from '../router.js';
import { store } from '../state.js';
import { openSettings } from './settings.js';

export { openSettings };

/** Resolves true when the user confirms (a <dialog>, not window.confirm, so it is styled and testable). */
export function confirmDialog(text, okLabel = 'OK') {
  return new Promise((resolve) => {
    const ok = h('button', { type: 'submit', class: 'primary danger', value: 'ok' }, okLabel);
    const dialog = h(
      'dialog',
      { 'aria-label': 'Confirm' },
      h('form', { method: 'dialog' }, h('p', {}, text), h('div', { class: 'dialog-actions' }, h('button', { type: 'submit', value: 'cancel' }, 'Cancel'), ok)),
    );
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'));
    openDialog(dialog);
    ok.focus();
  });
}

export function openCreateRoom() {
  const name = field('Room name', { type: 'text', required: true, maxlength: 100 });
  const description = field('Description (optional)', { maxlength: 500, rows: 2 }, { tag: 'textarea' });
  const isPrivate = h('input', { type: 'checkbox', id: 'new-room-private' });
  const error = h('p', { class: 'error', role: 'alert' });
  const create = h('button', { type: 'submit', class: 'primary' }, 'Create room');
  const form = h(
    'form',
    { novalidate: true },
    name.nodes,
    description.nodes,
    h('label', { class: 'inline', for: 'new-room-private' }, isPrivate, 'Private: only people with the invite link can join'),
    error,
    h('div', { class: 'dialog-actions' }, h('button', { type: 'button', onClick: () => dialog.close() }, 'Cancel'), create),
  );
  const dialog = h('dialog', { 'aria-labelledby': 'create-title' }, h('h2', { id: 'create-title' }, 'New room'), form);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.textContent = '';
    if (!name.input.value.trim()) {
      error.textContent = 'Give the room a name.';
      return;
    }
    create.disabled = true;
    try {
      const room = await createRoom({
        name: name.input.value.trim(),
        description: description.input.value.trim(),
        isPrivate: isPrivate.checked,
      });
      dialog.close();
      navigateToRoom(room.id);
      // A private room is reached by its invite link: show it right away.
      if (room.isPrivate) openSettings(room.id);
    } catch (err) {
      error.textContent = describeError(err);
      create.disabled = false;
    }
  });
  openDialog(dialog);
  name.input.focus();
}

export function openDiscover() {
  const search = field('Search public rooms', { type: 'search', maxlength: 100 });
  const list = h('ul', { class: 'public-list', 'aria-label': 'Public rooms' });
  const status = h('p', { class: 'muted', 'aria-live': 'polite' });
  const error = h('p', { class: 'error', role: 'alert' });
  const more = h('button', { type: 'button', hidden: true }, 'Show more');
  const form = h('form', { role: 'search' }, search.nodes, h('div', { class: 'row' }, h('button', { type: 'submit' }, 'Search')));
  const dialog = h(
    'dialog',
    { 'aria-labelledby': 'discover-title' },
    h('h2', { id: 'discover-title' }, 'Discover rooms'),
    form,
    status,
    list,
    more,
    error,
    h('div', { class: 'dialog-actions' }, h('button', { type: 'button', onClick: () => dialog.close() }, 'Close')),
  );
  let page = 1;

  async function load(reset) {
    if (reset) {
      page = 1;
      list.replaceChildren();
    }
    error.textContent = '';
    status.textContent = 'Loading…';
    try {
      const data = await discoverRooms(search.input.value.trim(), page);
      for (const room of data.rooms || []) list.append(publicRoom(room, dialog, error));
      const p = data.pagination || {};
      more.hidden = !(p.totalPages && page < p.totalPages);
      status.textContent = p.total === 0 ? 'No public rooms found.' : `${p.total ?? list.children.length} public rooms`;
    } catch (err) {
      status.textContent = '';
      error.textContent = describeError(err);
    }
  }
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    load(true);
  });
  more.addEventListener('click', () => {
    page += 1;
    load(false);
  });
  openDialog(dialog);
  search.input.focus();
  load(true);
}

function publicRoom(room, dialog, error) {
  const member = room.isMember || store.rooms.has(room.id);
  const button = h('button', { type: 'button', class: member ? '' : 'primary', 'aria-label': `${member ? 'Open' : 'Join'} ${room.name}` }, member ? 'Open' : 'Join');
  button.addEventListener('click', async () => {
    error.textContent = '';
    button.disabled = true;
    try {
      if (!store.rooms.has(room.id)) await joinPublicRoom(room.id);
      dialog.close();
      navigateToRoom(room.id);
    } catch (err) {
      error.textContent = describeError(err);
      button.disabled = false;
    }
  });
  return h(
    'li',
    {},
    h(
      'div',
      { class: 'info' },
      h('span', { class: 'name' }, room.name),
      h('span', { class: 'muted' }, `${room.memberCount} member${room.memberCount === 1 ? '' : 's'}${room.description ? ` · ${room.description}` : ''}`),
    ),
    button,
  );
}

export async function confirmLeave(roomId) {
  const room = store.rooms.get(roomId);
  if (!room) return;
  if (!(await confirmDialog(`Leave ${room.name}?`, 'Leave'))) return;
  try {
    await leaveRoom(roomId);
    navigateHome();
  } catch (err) {
    toast(describeError(err));
  }
}
