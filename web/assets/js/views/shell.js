// The logged-in frame: top bar, connection banner, notices, and the three
// panes (rooms, chat, members). On a phone one pane shows at a time.

import { h, replace } from '../dom.js';
import { reconnectNow } from '../socket.js';
import { emit, on, store } from '../state.js';
import { mountChat } from './chat-view.js';
import { mountMembers } from './members.js';
import { mountRoomList } from './room-list.js';

export function renderShell(root, { onLogout }) {
  const banner = h('div', { class: 'banner', role: 'status', 'aria-live': 'polite', hidden: true });
  const noticeText = h('span');
  const notice = h(
    'div',
    { class: 'notice', role: 'status', hidden: true },
    noticeText,
    h('button', { type: 'button', class: 'link', onClick: () => { store.notice = null; emit('notice'); } }, 'Dismiss'),
  );
  const sidebar = h('nav', { class: 'sidebar', 'aria-label': 'Rooms' });
  const chat = h('main', { class: 'chat' });
  const members = h('aside', { class: 'members', 'aria-label': 'Members' });
  const layout = h('div', { class: 'layout' }, sidebar, chat, members);
  const logout = h('button', { type: 'button', onClick: onLogout }, 'Log out');

  replace(
    root,
    h(
      'header',
      { class: 'topbar' },
      h('h1', { class: 'brand' }, 'rtchat'),
      h('span', { class: 'me', title: store.me.email }, `Signed in as ${store.me.username}`),
      logout,
    ),
    banner,
    notice,
    layout,
  );

  // Shown only once the socket had connected before, or when connecting fails:
  // a first "connecting" that succeeds at once should not flash a banner.
  let hadConnected = false;
  const renderBanner = () => {
    const { state, detail } = store.connection;
    if (state === 'online') hadConnected = true;
    const show = state === 'offline' || (state === 'connecting' && hadConnected);
    banner.hidden = !show;
    if (!show) return;
    replace(
      banner,
      h('span', {}, `${detail || 'Connection lost.'} Reconnecting…`),
      h('button', { type: 'button', onClick: reconnectNow }, 'Reconnect now'),
    );
  };
  const renderNotice = () => {
    notice.hidden = !store.notice;
    noticeText.textContent = store.notice || '';
  };
  const renderLayout = () => {
    layout.classList.toggle('show-chat', Boolean(store.activeRoomId));
    layout.classList.toggle('show-members', Boolean(store.activeRoomId && store.showMembers));
  };
  on('connection', renderBanner);
  on('notice', renderNotice);
  on('active', renderLayout);
  on('members-toggle', renderLayout);
  renderBanner();
  renderNotice();
  renderLayout();

  mountRoomList(sidebar);
  mountChat(chat);
  mountMembers(members);
}
