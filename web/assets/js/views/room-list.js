// The sidebar: the user's rooms with unread counts and the last message, and
// the buttons to create a room or discover public ones.

import { h, keepingFocus, replace } from '../dom.js';
import { on, store } from '../state.js';
import { openCreateRoom, openDiscover } from './dialogs.js';
import { navigateToRoom } from '../router.js';

export function mountRoomList(sidebar) {
  const list = h('ul', { class: 'room-list' });
  replace(
    sidebar,
    h(
      'div',
      { class: 'sidebar-actions' },
      h('button', { type: 'button', class: 'primary', onClick: openCreateRoom }, 'New room'),
      h('button', { type: 'button', onClick: openDiscover }, 'Discover rooms'),
    ),
    list,
  );

  const render = () =>
    keepingFocus(list, () => {
      const rooms = [...store.rooms.values()].sort(byActivity);
      if (!rooms.length) {
        replace(list, h('li', { class: 'empty' }, 'No rooms yet. Create one, discover public rooms, or open an invite link.'));
        return;
      }
      replace(list, rooms.map(roomItem));
    });
  on('rooms', render);
  on('active', render);
  render();
}

/** Most recent activity first: the last message, else when the room was made. */
function byActivity(a, b) {
  const ta = a.lastMessage?.createdAt || a.createdAt || '';
  const tb = b.lastMessage?.createdAt || b.createdAt || '';
  return tb.localeCompare(ta);
}

function roomItem(room) {
  const active = room.id === store.activeRoomId;
  const unread = active ? 0 : room.unreadCount || 0;
  const last = room.lastMessage;
  let preview = 'No messages yet';
  if (last) {
    const who = last.senderId === store.me.id ? 'You' : last.sender?.username || 'Someone';
    preview = last.deletedAt ? `${who}: message deleted` : `${who}: ${last.content}`;
  }
  return h(
    'li',
    {},
    h(
      'button',
      {
        type: 'button',
        class: 'room-item',
        'aria-current': active ? 'true' : 'false',
        dataset: { roomId: room.id, focusKey: `room:${room.id}` },
        onClick: () => navigateToRoom(room.id),
      },
      h(
        'span',
        { class: 'name' },
        room.name,
        room.isPrivate ? h('span', { class: 'tag' }, ' private') : null,
      ),
      unread
        ? h('span', { class: 'unread', 'aria-label': `${unread} unread` }, unread > 99 ? '99+' : String(unread))
        : h('span'),
      h('span', { class: 'last' }, preview),
    ),
  );
}
