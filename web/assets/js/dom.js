// DOM helpers. Every piece of user text reaches the page as a text node or a
// property (textContent, value): nothing here ever parses HTML.

const PROPERTIES = new Set(['value', 'checked', 'disabled', 'hidden', 'textContent', 'selected', 'open']);

/**
 * h('button', {class: 'primary', onClick: fn}, 'Send'): an element with its
 * attributes, listeners (on*) and children (nodes, or strings as text nodes).
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2).toLowerCase(), value);
    else if (PROPERTIES.has(key)) el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

/** Replaces every child of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A labelled input: the label's `for` points at the input, so both screen readers and tests find it by name. */
let fieldCounter = 0;
export function field(labelText, inputProps = {}, { tag = 'input' } = {}) {
  fieldCounter += 1;
  const id = inputProps.id || `f${fieldCounter}`;
  const input = h(tag, { ...inputProps, id });
  const label = h('label', { for: id }, labelText);
  return { label, input, nodes: [label, input] };
}

/** A short local time ("14:05"), or the date too when not today. */
export function formatTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const now = new Date();
  const sameDay = d.toDateString() === now.toDateString();
  return sameDay
    ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
    : d.toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

/**
 * A random UUID for clientMsgId. crypto.randomUUID exists only in secure contexts
 * (https, localhost); a server reached over plain http elsewhere still gets one.
 */
export function uuid() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A message that disappears after a few seconds (for errors with no better place). */
export function toast(text, ms = 5000) {
  let box = document.querySelector('.toasts');
  if (!box) {
    box = h('div', { class: 'toasts', role: 'status', 'aria-live': 'polite' });
    document.body.append(box);
  }
  const item = h('div', { class: 'toast' }, text);
  box.append(item);
  setTimeout(() => item.remove(), ms);
}

/** Opens a <dialog> appended to the body; removes it once closed. */
export function openDialog(dialog) {
  document.body.append(dialog);
  dialog.addEventListener('close', () => dialog.remove());
  dialog.showModal();
  return dialog;
}

/**
 * Runs `render` (which rebuilds part of `container`) and gives the focus back
 * to the equivalent element if it was inside: re-rendering on every event must
 * not throw a keyboard user out of the list. Elements match by data-focus-key,
 * else by aria-label, else by text.
 */
export function keepingFocus(container, render) {
  const active = document.activeElement;
  const key = active && container.contains(active) && active !== container ? focusKey(active) : null;
  render();
  if (!key || container.contains(active)) return;
  for (const el of container.querySelectorAll('button, input, textarea, a[href], [tabindex]')) {
    if (focusKey(el) === key) {
      el.focus();
      return;
    }
  }
}

function focusKey(el) {
  return el.dataset.focusKey || el.getAttribute('aria-label') || `${el.tagName}:${el.textContent}`;
}
