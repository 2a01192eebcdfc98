// The login session: access and refresh tokens in localStorage (so a reload stays
// logged in), and refreshing them. Refresh tokens work once and presenting a used
// one revokes the whole session, so tabs must never refresh with the same token
// twice: refreshes are serialized (Web Locks across tabs, one promise per tab),
// and a tab first checks whether another tab already stored newer tokens.

const KEY = 'rtchat.session';

let current = load();
const listeners = new Set();

function load() {
  try {
    const s = JSON.parse(localStorage.getItem(KEY) || 'null');
    return s && s.token && s.refreshToken && s.user ? s : null;
  } catch {
    return null;
  }
}

/** `{token, refreshToken, user}` or null. */
export function getSession() {
  return current;
}

export function setSession(session) {
  current = session;
  if (session) localStorage.setItem(KEY, JSON.stringify(session));
  else localStorage.removeItem(KEY);
  for (const fn of listeners) fn(current);
}

/** Called with the new session (or null) whenever it changes, here or in another tab. */
export function onSessionChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

// Another tab logged in, out, or refreshed: take its tokens.
window.addEventListener('storage', (event) => {
  if (event.key !== KEY) return;
  current = load();
  for (const fn of listeners) fn(current);
});

/** The session is over (refresh refused): the user must log in again. */
export class SessionEnded extends Error {}

let refreshing = null;

/**
 * Gets a new access token. `failedToken` is the one the server refused: if the
 * stored token differs, another tab refreshed meanwhile and that one is used.
 * Rejects with SessionEnded when the server refuses the refresh token; with
 * another error (network) the session is kept.
 */
export function refreshTokens(failedToken) {
  if (!refreshing) {
    const run = () => doRefresh(failedToken);
    const locked = navigator.locks ? navigator.locks.request('rtchat-refresh', run) : run();
    refreshing = locked.finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

async function doRefresh(failedToken) {
  const stored = load();
  if (!stored) throw new SessionEnded('You are logged out.');
  if (failedToken && stored.token !== failedToken) {
    current = stored;
    return stored;
  }
  const res = await fetch('/api/v1/auth/refresh', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ refreshToken: stored.refreshToken }),
  });
  const body = await res.json().catch(() => null);
  if (res.ok && body?.status === 'success') {
    const next = { ...stored, token: body.data.token, refreshToken: body.data.refreshToken };
    setSession(next);
    return next;
  }
  if (res.status === 400 || res.status === 401 || res.status === 403) {
    throw new SessionEnded(body?.message || 'Your session has ended.');
  }
  throw new Error(body?.message || `Refresh failed (HTTP ${res.status})`);
}
