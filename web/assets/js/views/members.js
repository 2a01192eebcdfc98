// Members of the open room with presence (REST at open, then user_status
// events) and, for admins, promote/demote, kick and ban.

import { describeError } from '../api.js';
import { ban, kick, setRole } from '../chat.js';
import { formatTime, h, keepingFocus, replace } from '../dom.js';
import { emit, isAdmin, on, store } from '../state.js';
import { confirmDialog } from './dialogs.js';

export function mountMembers(panel) {
  const title = h('h2', { id: 'members-title' }, 'Members');
  const close = h(
    'button',
    {
      type: 'button',
      class: 'link close-members',
      onClick: () => {
        store.showMembers = false;
        emit('members-toggle');
      },
    },
    'Close',
  );
  const error = h('p', { class: 'error', role: 'alert' });
  const list = h('ul', { class: 'member-list', 'aria-labelledby': 'members-title' });
  replace(panel, h('header', {}, title, close), error, list);

  const render = () => {
    const roomId = store.activeRoomId;
    if (!roomId) {
      title.textContent = 'Members';
      replace(list, h('li', { class: 'empty' }, 'Open a room to see who is in it.'));
      error.textContent = '';
      return;
    }
    const members = [...(store.members.get(roomId)?.values() || [])].sort(byPresenceThenName);
    title.textContent = `Members (${members.length})`;
    keepingFocus(list, () => replace(list, members.map((m) => memberItem(m, roomId, error))));
  };
  on('active', () => {
    error.textContent = '';
    render();
  });
  on('members', (roomId) => roomId === store.activeRoomId && render());
  on('presence', render);
  on('rooms', render); // my role may have changed
  render();
}

function online(userId) {
  return userId === store.me.id || Boolean(store.presence.get(userId)?.online);
}

function byPresenceThenName(a, b) {
  const d = Number(online(b.userId)) - Number(online(a.userId));
  return d || a.username.localeCompare(b.username);
}

function memberItem(m, roomId, error) {
  const isMe = m.userId === store.me.id;
  const isOnline = online(m.userId);
  const lastSeen = store.presence.get(m.userId)?.lastSeen;
  const presenceText = isOnline ? 'online' : lastSeen ? `offline, last seen ${formatTime(lastSeen)}` : 'offline';
  const li = h(
    'li',
    { class: 'member', dataset: { userId: m.userId, presence: isOnline ? 'online' : 'offline' } },
    h(
      'div',
      { class: 'who' },
      h('span', { class: `dot${isOnline ? ' online' : ''}`, 'aria-hidden': 'true' }),
      h('span', { class: 'name', title: m.fullName }, isMe ? `${m.username} (you)` : m.username),
      m.role === 'admin' ? h('span', { class: 'role' }, 'admin') : null,
    ),
    h('div', { class: 'presence' }, presenceText),
  );
  if (isAdmin(roomId) && !isMe) {
    const act = (label, fn, confirmText) =>
      h(
        'button',
        {
          type: 'button',
          'aria-label': `${label} ${m.username}`,
          class: confirmText ? 'danger' : '',
          onClick: async (event) => {
            if (confirmText && !(await confirmDialog(confirmText, label))) return;
            event.target.disabled = true;
            error.textContent = '';
            try {
              await fn();
            } catch (err) {
              error.textContent = describeError(err);
              event.target.disabled = false;
            }
          },
        },
        label,
      );
    li.append(
      h(
        'div',
        { class: 'admin-actions' },
        m.role === 'admin'
          ? act('Make member', () => setRole(roomId, m.userId, 'member'))
          : act('Make admin', () => setRole(roomId, m.userId, 'admin')),
        act('Kick', () => kick(roomId, m.userId), `Remove ${m.username} from the room? They can join again.`),
        act('Ban', () => ban(roomId, m.userId), `Ban ${m.username}? They cannot join again until unbanned.`),
      ),
    );
  }
  return li;
}
