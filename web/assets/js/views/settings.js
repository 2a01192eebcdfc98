// Room settings for admins: name, description, private toggle, the invite link
// (and a new one), bans, leaving and deleting the room.

import { describeError } from '../api.js';
import { deleteRoom, getInviteCode, listBans, rotateInviteCode, unban, updateRoom } from '../chat.js';
import { field, formatTime, h, openDialog, replace } from '../dom.js';
import { navigateHome } from '../router.js';
import { store } from '../state.js';
import { confirmDialog, confirmLeave } from './dialogs.js';

export function inviteLink(code) {
  return `${location.origin}/invite/${encodeURIComponent(code)}`;
}

export function openSettings(roomId) {
  const room = store.rooms.get(roomId);
  if (!room) return;

  // ---- name, description, private
  const name = field('Room name', { type: 'text', value: room.name, maxlength: 100 });
  const description = field('Description', { value: room.description || '', maxlength: 500, rows: 2 }, { tag: 'textarea' });
  const isPrivate = h('input', { type: 'checkbox', id: 'settings-private', checked: Boolean(room.isPrivate) });
  const formError = h('p', { class: 'error', role: 'alert' });
  const saved = h('span', { class: 'muted', role: 'status' });
  const save = h('button', { type: 'submit', class: 'primary' }, 'Save');
  const form = h(
    'form',
    { novalidate: true },
    name.nodes,
    description.nodes,
    h('label', { class: 'inline', for: 'settings-private' }, isPrivate, 'Private: joining needs the invite link'),
    formError,
    h('div', { class: 'row' }, save, saved),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    formError.textContent = '';
    saved.textContent = '';
    const fields = {};
    const newName = name.input.value.trim();
    if (!newName) {
      formError.textContent = 'The room needs a name.';
      return;
    }
    if (newName !== room.name) fields.name = newName;
    const newDescription = description.input.value.trim();
    if (newDescription !== (room.description || '')) fields.description = newDescription || null;
    if (isPrivate.checked !== Boolean(room.isPrivate)) fields.isPrivate = isPrivate.checked;
    if (!Object.keys(fields).length) {
      saved.textContent = 'Nothing changed.';
      return;
    }
    save.disabled = true;
    try {
      await updateRoom(roomId, fields);
      saved.textContent = 'Saved.';
      renderInvite();
    } catch (err) {
      formError.textContent = describeError(err);
    } finally {
      save.disabled = false;
    }
  });

  // ---- invite link
  const invite = h('section', { 'aria-labelledby': 'invite-title' });
  const inviteError = h('p', { class: 'error', role: 'alert' });
  async function renderInvite() {
    const current = store.rooms.get(roomId);
    if (!current?.isPrivate) {
      replace(invite, h('h3', { id: 'invite-title' }, 'Invite link'), h('p', { class: 'muted' }, 'This room is public: anyone can find it in “Discover rooms”.'));
      return;
    }
    replace(invite, h('h3', { id: 'invite-title' }, 'Invite link'), h('p', { class: 'muted' }, 'Loading…'));
    let code = current.inviteCode;
    try {
      code = await getInviteCode(roomId);
    } catch (err) {
      inviteError.textContent = describeError(err);
    }
    const link = h('input', { type: 'url', id: 'invite-link', readonly: true, value: code ? inviteLink(code) : '' });
    const copy = h('button', { type: 'button' }, 'Copy link');
    copy.addEventListener('click', async () => {
      link.select();
      try {
        await navigator.clipboard.writeText(link.value);
      } catch {
        document.execCommand?.('copy'); // plain http: no clipboard API
      }
      copy.textContent = 'Copied';
      setTimeout(() => (copy.textContent = 'Copy link'), 1500);
    });
    const rotate = h('button', { type: 'button' }, 'New link');
    rotate.addEventListener('click', async () => {
      if (!(await confirmDialog('Make a new invite link? The current one stops working.', 'New link'))) return;
      inviteError.textContent = '';
      try {
        const fresh = await rotateInviteCode(roomId);
        link.value = inviteLink(fresh);
      } catch (err) {
        inviteError.textContent = describeError(err);
      }
    });
    replace(
      invite,
      h('h3', { id: 'invite-title' }, 'Invite link'),
      h('label', { for: 'invite-link' }, 'Share this link to invite people'),
      link,
      h('div', { class: 'row' }, copy, rotate),
      inviteError,
    );
  }

  // ---- bans
  const bans = h('ul', { class: 'ban-list', 'aria-labelledby': 'bans-title' });
  const bansError = h('p', { class: 'error', role: 'alert' });
  async function renderBans() {
    bansError.textContent = '';
    try {
      const list = await listBans(roomId);
      if (!list.length) {
        replace(bans, h('li', { class: 'muted' }, 'Nobody is banned.'));
        return;
      }
      replace(
        bans,
        list.map((b) =>
          h(
            'li',
            {},
            h('span', {}, `${b.user.username} (since ${formatTime(b.createdAt)})`),
            h(
              'button',
              {
                type: 'button',
                'aria-label': `Unban ${b.user.username}`,
                onClick: async () => {
                  try {
                    await unban(roomId, b.user.id);
                    renderBans();
                  } catch (err) {
                    bansError.textContent = describeError(err);
                  }
                },
              },
              'Unban',
            ),
          ),
        ),
      );
    } catch (err) {
      bansError.textContent = describeError(err);
    }
  }

  // ---- leave, delete
  const dangerError = h('p', { class: 'error', role: 'alert' });
  const del = h('button', { type: 'button', class: 'danger' }, 'Delete room');
  del.addEventListener('click', async () => {
    if (!(await confirmDialog(`Delete ${room.name} with all its messages? This cannot be undone.`, 'Delete room'))) return;
    try {
      await deleteRoom(roomId);
      dialog.close();
      navigateHome();
    } catch (err) {
      dangerError.textContent = describeError(err);
    }
  });
  const leave = h('button', { type: 'button', onClick: () => { dialog.close(); confirmLeave(roomId); } }, 'Leave room');

  const dialog = h(
    'dialog',
    { 'aria-labelledby': 'settings-title' },
    h('h2', { id: 'settings-title' }, 'Room settings'),
    form,
    invite,
    h('section', {}, h('h3', { id: 'bans-title' }, 'Banned users'), bans, bansError),
    h('section', {}, h('h3', {}, 'Leave or delete'), h('div', { class: 'row' }, leave, del), dangerError),
    h('p', { class: 'muted' }, 'Promote, demote, kick and ban members from the members list.'),
    h('div', { class: 'dialog-actions' }, h('button', { type: 'button', onClick: () => dialog.close() }, 'Close')),
  );
  openDialog(dialog);
  renderInvite();
  renderBans();
}
