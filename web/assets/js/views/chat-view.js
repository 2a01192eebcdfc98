// The open room: header, message list (history loads as you scroll up, read
// markers follow what is on screen), who is typing, and the composer.

import { loadOlder, markRead, sendMessage, setComposerError, userTyped } from '../chat.js';
import { h, keepingFocus, replace } from '../dom.js';
import { emit, isAdmin, nameOf, on, store, timeline } from '../state.js';
import { navigateHome } from '../router.js';
import { confirmLeave, openSettings } from './dialogs.js';
import { keyOf, renderMessage, signatureOf } from './message-item.js';

export function mountChat(container) {
  const header = h('header', { class: 'chat-header' });
  const historyStatus = h('li', { class: 'history-status', 'aria-live': 'polite' });
  const list = h('ul', { class: 'messages', role: 'log', 'aria-label': 'Messages', tabindex: '0' }, historyStatus);
  const typingLine = h('div', { class: 'typing', 'aria-live': 'polite' });
  const composer = buildComposer();
  const empty = h('p', { class: 'no-room' }, 'Choose a room on the left, or create one.');
  // No inline style attributes: the server's Content-Security-Policy refuses them.
  const body = h('div', { class: 'chat-body', hidden: true }, header, list, typingLine, composer.el);

  replace(container, empty, body);

  /** key -> {el, sig} of the rendered messages. */
  let rendered = new Map();
  let shownRoom = null;

  // ---- read markers: the newest message of others visible on screen
  const visible = new Set();
  const observer = new IntersectionObserver(
    (entries) => {
      for (const e of entries) {
        if (e.isIntersecting) visible.add(e.target);
        else visible.delete(e.target);
      }
      scheduleRead();
    },
    { root: list, threshold: 0.5 },
  );
  let readTimer = null;
  function scheduleRead() {
    clearTimeout(readTimer);
    readTimer = setTimeout(() => markVisibleRead(), 300);
  }
  function markVisibleRead(roomId = store.activeRoomId) {
    clearTimeout(readTimer);
    if (!roomId || document.visibilityState !== 'visible') return;
    let newest = null;
    for (const el of visible) {
      if (!el.isConnected || el.dataset.own === '1' || !el.dataset.seq) continue;
      const seq = Number(el.dataset.seq);
      if (!newest || seq > newest.seq) newest = { seq, id: el.dataset.id };
    }
    if (newest) markRead(roomId, newest);
  }
  document.addEventListener('visibilitychange', scheduleRead);
  on('connection', () => store.connection.state === 'online' && scheduleRead());

  // ---- header, rebuilt only when what it shows changes
  let headerSig = '';
  function renderHeader() {
    const room = store.rooms.get(store.activeRoomId);
    if (!room) return;
    const admin = isAdmin(room.id);
    const sig = JSON.stringify([room.id, room.name, room.description, room.isPrivate, room.memberCount, admin, store.showMembers]);
    if (sig === headerSig) return;
    headerSig = sig;
    keepingFocus(header, () => replace(
      header,
      h('button', { type: 'button', class: 'back-to-rooms', 'aria-label': 'Back to rooms', onClick: navigateHome }, '←'),
      h('h2', { title: room.description || '' }, room.name),
      h('span', { class: 'tag' }, room.isPrivate ? 'Private' : 'Public'),
      h(
        'button',
        {
          type: 'button',
          class: 'toggle-members',
          'aria-expanded': String(Boolean(store.showMembers)),
          dataset: { focusKey: 'toggle-members' },
          onClick: () => {
            store.showMembers = !store.showMembers;
            emit('members-toggle');
            renderHeader();
          },
        },
        `Members (${room.memberCount ?? '…'})`,
      ),
      admin
        ? h('button', { type: 'button', onClick: () => openSettings(room.id) }, 'Room settings')
        : h('button', { type: 'button', class: 'danger', onClick: () => confirmLeave(room.id) }, 'Leave room'),
    ));
  }

  // ---- messages, rendered by key so an unchanged message keeps its element (and focus)
  function renderMessages({ older = false, own = false } = {}) {
    const roomId = store.activeRoomId;
    if (!roomId) return;
    const t = timeline(roomId);
    const switched = shownRoom !== roomId;
    if (switched) {
      // What was on screen of the room being left counts as read, even if the
      // switch came before the debounce.
      if (shownRoom && store.rooms.has(shownRoom)) markVisibleRead(shownRoom);
      for (const { el } of rendered.values()) el.remove();
      rendered = new Map();
      visible.clear();
      observer.disconnect();
      shownRoom = roomId;
    }
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
    const prevHeight = list.scrollHeight;
    const prevTop = list.scrollTop;

    const messages = t.list();
    const next = new Map();
    let cursor = historyStatus;
    for (const m of messages) {
      const key = keyOf(m);
      const sig = signatureOf(m, roomId);
      let entry = rendered.get(key);
      if (!entry || entry.sig !== sig) {
        const el = renderMessage(m, roomId);
        if (entry) {
          observer.unobserve(entry.el);
          visible.delete(entry.el);
          entry.el.replaceWith(el);
        }
        entry = { el, sig };
        if (m.seq && m.senderId !== store.me.id) observer.observe(el);
      }
      next.set(key, entry);
      if (cursor.nextSibling !== entry.el) cursor.after(entry.el);
      cursor = entry.el;
    }
    for (const [key, { el }] of rendered) {
      if (!next.has(key)) {
        observer.unobserve(el);
        visible.delete(el);
        el.remove();
      }
    }
    rendered = next;

    if (t.error) {
      replace(historyStatus, h('span', { role: 'alert' }, t.error), ' ', h('button', { type: 'button', onClick: () => loadOlder(roomId) }, 'Try again'));
    } else if (t.loading) {
      historyStatus.textContent = 'Loading messages…';
    } else if (t.loaded && !t.hasMore) {
      historyStatus.textContent = messages.length ? 'This is the beginning of the room.' : 'No messages yet. Say hello!';
    } else {
      historyStatus.textContent = '';
    }

    if (older) list.scrollTop = prevTop + (list.scrollHeight - prevHeight);
    else if (switched || atBottom || own) list.scrollTop = list.scrollHeight;
    // History that does not fill the list leaves nothing to scroll: load more now.
    if (t.loaded && t.hasMore && !t.loading && list.scrollHeight <= list.clientHeight + 10) loadOlder(roomId);
    scheduleRead();
  }

  list.addEventListener('scroll', () => {
    const roomId = store.activeRoomId;
    if (roomId && list.scrollTop < 120) loadOlder(roomId);
  });

  // ---- typing
  function renderTyping() {
    const roomId = store.activeRoomId;
    const ids = roomId ? [...(store.typing.get(roomId)?.keys() || [])] : [];
    const names = ids.map((id) => nameOf(id, roomId)).sort();
    let text = '';
    if (names.length === 1) text = `${names[0]} is typing…`;
    else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
    else if (names.length > 2) text = 'Several people are typing…';
    typingLine.textContent = text;
  }

  function renderAll() {
    const roomId = store.activeRoomId;
    empty.hidden = Boolean(roomId);
    body.hidden = !roomId;
    if (!roomId) {
      if (shownRoom && store.rooms.has(shownRoom)) markVisibleRead(shownRoom);
      shownRoom = null;
      return;
    }
    renderHeader();
    renderMessages();
    renderTyping();
    composer.render();
  }

  on('active', renderAll);
  on('rooms', () => store.activeRoomId && renderHeader());
  on('timeline', (roomId, opts) => roomId === store.activeRoomId && renderMessages(opts));
  on('members', (roomId) => roomId === store.activeRoomId && (renderHeader(), renderTyping()));
  on('typing', (roomId) => roomId === store.activeRoomId && renderTyping());
  on('composer', (roomId) => roomId === store.activeRoomId && composer.render());
  renderAll();
}

/** The message box: Enter sends, Shift+Enter is a new line; errors (rate limit) show under it. */
function buildComposer() {
  const textarea = h('textarea', { id: 'composer-input', rows: 1, maxlength: 1000, placeholder: 'Write a message…', autocomplete: 'off' });
  const send = h('button', { type: 'submit', class: 'primary' }, 'Send');
  const error = h('p', { class: 'error', role: 'alert', id: 'composer-error' });
  const form = h('form', {}, h('label', { for: 'composer-input', class: 'visually-hidden' }, 'Message'), textarea, send);
  const el = h('div', { class: 'composer' }, form, error);
  let countdown = null;

  const submit = () => {
    const roomId = store.activeRoomId;
    if (!roomId) return;
    if (sendMessage(roomId, textarea.value)) {
      textarea.value = '';
      grow();
    }
    textarea.focus();
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    submit();
  });
  textarea.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  });
  textarea.addEventListener('input', () => {
    grow();
    if (store.activeRoomId && textarea.value.trim()) userTyped(store.activeRoomId);
  });
  function grow() {
    textarea.style.height = 'auto';
    textarea.style.height = `${Math.min(textarea.scrollHeight + 2, 160)}px`;
  }

  // The error of the open room; a rate limit counts down its wait, then clears.
  function render() {
    clearInterval(countdown);
    const roomId = store.activeRoomId;
    const err = roomId ? store.composerError.get(roomId) : null;
    if (!err) {
      error.textContent = '';
      return;
    }
    const paint = () => {
      if (!err.until) {
        error.textContent = err.message;
        return;
      }
      const left = Math.ceil((err.until - Date.now()) / 1000);
      if (left <= 0) {
        clearInterval(countdown);
        setComposerError(roomId, null);
        return;
      }
      error.textContent = `${err.message} Wait ${left} s before sending again (rate limit).`;
    };
    paint();
    if (err.until) countdown = setInterval(paint, 1000);
  }

  return { el, render };
}
