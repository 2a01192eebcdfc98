// One message of the list: author, time, text, its state (sending, not sent,
// sent, read) and what the user may do with it (retry, edit, delete).

import { describeError } from '../api.js';
import { deleteMessage, editMessage, retrySend, startEditing } from '../chat.js';
import { formatTime, h } from '../dom.js';
import { isAdmin, nameOf, readersOf, store } from '../state.js';
import { confirmDialog } from './dialogs.js';

/** A stable key: unsent messages by clientMsgId, stored ones by id. */
export function keyOf(m) {
  return m.id || `pending:${m.clientMsgId}`;
}

/** Everything that changes how a message looks; the element is rebuilt only when it changes. */
export function signatureOf(m, roomId) {
  const editing = store.editing?.roomId === roomId && store.editing.id === m.id;
  return JSON.stringify([m.id, m.seq, m.content, m.isEdited, m.deletedAt, m.status, m.error, readLabel(m, roomId), editing, isAdmin(roomId)]);
}

/** Who has read an own message: others whose read position reached its seq. */
function readLabel(m, roomId) {
  if (!m.seq || m.senderId !== store.me.id || m.deletedAt) return '';
  const names = [];
  for (const [userId, seq] of readersOf(roomId)) {
    if (userId !== store.me.id && seq >= m.seq) names.push(nameOf(userId, roomId));
  }
  if (!names.length) return '';
  names.sort();
  return names.length <= 2 ? `Read by ${names.join(' and ')}` : `Read by ${names.length} people`;
}

export function renderMessage(m, roomId) {
  const own = m.senderId === store.me.id;
  const deleted = Boolean(m.deletedAt);
  const classes = ['msg', own ? 'own' : 'other'];
  if (deleted) classes.push('deleted');
  if (m.status) classes.push(m.status);
  const editing = !deleted && store.editing?.roomId === roomId && store.editing.id === m.id;

  const li = h('li', {
    class: classes.join(' '),
    dataset: { key: keyOf(m), ...(m.id ? { id: m.id } : {}), ...(m.seq ? { seq: String(m.seq) } : {}), own: own ? '1' : '0' },
  });
  li.append(
    h(
      'div',
      { class: 'meta' },
      h('span', { class: 'author' }, own ? 'You' : m.sender?.username || nameOf(m.senderId, roomId)),
      h('time', { datetime: m.createdAt }, formatTime(m.createdAt)),
      m.isEdited && !deleted ? h('span', { class: 'edited' }, '(edited)') : null,
    ),
  );
  if (editing) li.append(editForm(m, roomId));
  else li.append(h('p', { class: 'text' }, deleted ? 'This message was deleted' : m.content));

  // One footer row: what the user may do, then the delivery/read state.
  const foot = h('div', { class: 'foot' });
  if (!editing && m.id && !deleted) {
    if (own) {
      foot.append(h('button', { type: 'button', class: 'link action', 'aria-label': 'Edit message', onClick: () => startEditing(roomId, m.id) }, 'Edit'));
    }
    if (own || isAdmin(roomId)) {
      foot.append(h('button', { type: 'button', class: 'link action danger', 'aria-label': 'Delete message', onClick: () => remove(m, roomId, li) }, 'Delete'));
    }
  }
  const status = statusLine(m, roomId, own);
  if (status) foot.append(status);
  if (foot.childNodes.length) li.append(foot);
  return li;
}

function statusLine(m, roomId, own) {
  if (m.status === 'pending') return h('span', { class: 'status' }, 'Sending…');
  if (m.status === 'failed') {
    return h(
      'span',
      { class: 'status', role: 'alert' },
      h('span', {}, m.error || 'Not sent'),
      h('button', { type: 'button', onClick: () => retrySend(roomId, m.clientMsgId) }, 'Retry'),
    );
  }
  if (!own || m.deletedAt) return null;
  const read = readLabel(m, roomId);
  return h('span', { class: `status${read ? ' read' : ''}` }, read || 'Sent');
}

function editForm(m, roomId) {
  const inputId = `edit-${m.id}`;
  // The draft lives in the store: the message's element is rebuilt when its
  // look changes (someone reads it meanwhile), and the form with it.
  const input = h('input', { type: 'text', id: inputId, value: store.editing?.draft ?? m.content, maxlength: 1000 });
  input.addEventListener('input', () => {
    if (store.editing?.roomId === roomId && store.editing.id === m.id) store.editing.draft = input.value;
  });
  const error = h('p', { class: 'error', role: 'alert' });
  const save = h('button', { type: 'submit', class: 'primary' }, 'Save');
  const form = h(
    'form',
    { class: 'edit-form' },
    h('label', { for: inputId, class: 'visually-hidden' }, 'Edit message'),
    input,
    save,
    h('button', { type: 'button', onClick: () => startEditing(roomId, null) }, 'Cancel'),
    error,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (input.value.trim() === m.content) {
      startEditing(roomId, null);
      return;
    }
    save.disabled = true;
    try {
      await editMessage(roomId, m.id, input.value);
      startEditing(roomId, null);
    } catch (err) {
      error.textContent = describeError(err);
      save.disabled = false;
    }
  });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') startEditing(roomId, null);
  });
  // Focus once the form is in the page.
  queueMicrotask(() => {
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
  });
  return form;
}

async function remove(m, roomId, li) {
  const ok = await confirmDialog('Delete this message for everyone?', 'Delete');
  if (!ok) return;
  try {
    await deleteMessage(roomId, m.id);
  } catch (err) {
    li.append(h('p', { class: 'error', role: 'alert' }, describeError(err)));
  }
}
