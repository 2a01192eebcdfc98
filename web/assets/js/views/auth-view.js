// Log in and register. Errors from the server (validation, taken email, bad
// password, rate limit) are shown inside the form that caused them.

import { api, describeError } from '../api.js';
import { setSession } from '../auth.js';
import { field, h, replace } from '../dom.js';

/**
 * Renders the login (or register) form into `root`. `onDone()` runs once tokens
 * are stored. `message`: shown above the form (session ended, invite pending).
 */
export function renderAuth(root, { onDone, message = '', mode = 'login' }) {
  const error = h('p', { class: 'error', role: 'alert' });
  const form = mode === 'login' ? loginForm(error, onDone) : registerForm(error, onDone);
  const other = mode === 'login' ? 'register' : 'login';
  const switchButton = h(
    'button',
    { type: 'button', class: 'link', onClick: () => renderAuth(root, { onDone, message, mode: other }) },
    mode === 'login' ? 'Create an account' : 'I already have an account',
  );
  replace(
    root,
    h(
      'div',
      { class: 'auth-scroll' },
      h(
        'section',
        { class: 'auth', 'aria-labelledby': 'auth-title' },
        h('h1', { id: 'auth-title' }, mode === 'login' ? 'Log in to rtchat' : 'Create your rtchat account'),
        message ? h('p', { class: 'muted', role: 'status' }, message) : null,
        form,
        error,
        h('p', { class: 'switch' }, switchButton),
      ),
    ),
  );
  form.querySelector('input')?.focus();
}

function loginForm(error, onDone) {
  const email = field('Email', { type: 'email', name: 'email', autocomplete: 'username', required: true, maxlength: 100 });
  const password = field('Password', { type: 'password', name: 'password', autocomplete: 'current-password', required: true });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Log in');
  const form = h('form', { novalidate: true }, email.nodes, password.nodes, submit);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.textContent = '';
    if (!email.input.value.trim() || !password.input.value) {
      error.textContent = 'Enter your email and password.';
      return;
    }
    await submitting(submit, async () => {
      try {
        const data = await api('POST', '/auth/login', { email: email.input.value.trim(), password: password.input.value }, { auth: false });
        setSession({ token: data.token, refreshToken: data.refreshToken, user: data.user });
        onDone();
      } catch (err) {
        error.textContent = describeError(err);
      }
    });
  });
  return form;
}

function registerForm(error, onDone) {
  const username = field('Username', {
    type: 'text', name: 'username', autocomplete: 'username', required: true, minlength: 3, maxlength: 30,
    pattern: '[A-Za-z0-9_]+', 'aria-describedby': 'username-hint',
  });
  const hint = h('small', { id: 'username-hint', class: 'muted' }, '3 to 30 letters, digits or _');
  const fullName = field('Full name', { type: 'text', name: 'fullName', autocomplete: 'name', required: true, minlength: 2, maxlength: 100 });
  const email = field('Email', { type: 'email', name: 'email', autocomplete: 'email', required: true, maxlength: 100 });
  const password = field('Password', {
    type: 'password', name: 'password', autocomplete: 'new-password', required: true, minlength: 6, maxlength: 100,
  });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Create account');
  const form = h('form', { novalidate: true }, username.nodes, hint, fullName.nodes, email.nodes, password.nodes, submit);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.textContent = '';
    // The server validates too (and its message wins); these checks save a round trip.
    const u = username.input.value.trim();
    if (!/^[A-Za-z0-9_]{3,30}$/.test(u)) {
      error.textContent = 'Username must be 3 to 30 letters, digits or underscores.';
      return;
    }
    if (password.input.value.length < 6) {
      error.textContent = 'Password must be at least 6 characters long.';
      return;
    }
    await submitting(submit, async () => {
      try {
        const data = await api(
          'POST',
          '/auth/register',
          { username: u, fullName: fullName.input.value.trim(), email: email.input.value.trim(), password: password.input.value },
          { auth: false },
        );
        setSession({ token: data.token, refreshToken: data.refreshToken, user: data.user });
        onDone();
      } catch (err) {
        error.textContent = describeError(err);
      }
    });
  });
  return form;
}

async function submitting(button, fn) {
  button.disabled = true;
  try {
    await fn();
  } finally {
    button.disabled = false;
  }
}
