// REST client for /api/v1 (same origin). Unwraps the envelope
// {status:"success",data} / {status:"error",code,message}; on a 401 it refreshes
// the access token once and repeats the request.

import { getSession, refreshTokens, SessionEnded } from './auth.js';

export class ApiError extends Error {
  constructor({ status, code, message, retryAfter = null }) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

let sessionEndedHandler = () => {};
/** What to do when the refresh token is refused too (main.js shows the login). */
export function onSessionEnded(fn) {
  sessionEndedHandler = fn;
}

export async function api(method, path, body, { auth = true, retried = false } = {}) {
  const session = getSession();
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (auth && session?.token) headers.Authorization = `Bearer ${session.token}`;
  let res;
  try {
    res = await fetch(`/api/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError({ status: 0, code: 'NETWORK', message: 'Cannot reach the server. Check your connection and try again.' });
  }
  const envelope = await res.json().catch(() => null);

  if (res.status === 401 && auth && !retried && session?.refreshToken) {
    try {
      await refreshTokens(session.token);
    } catch (err) {
      if (err instanceof SessionEnded) sessionEndedHandler(err.message);
      throw new ApiError({ status: 401, code: 'INVALID_TOKEN', message: err.message });
    }
    return api(method, path, body, { auth, retried: true });
  }

  if (!res.ok || envelope?.status !== 'success') {
    const retryAfter = Number(res.headers.get('Retry-After')) || null;
    throw new ApiError({
      status: res.status,
      code: envelope?.code || 'UNEXPECTED_ERROR',
      message: envelope?.message || `Request failed (HTTP ${res.status})`,
      retryAfter,
    });
  }
  return envelope.data;
}

/** Text for an error shown to the user: the server's message, with the wait for a rate limit. */
export function describeError(err) {
  if (err?.code === 'RATE_LIMIT_EXCEEDED' && err.retryAfter) {
    return `${err.message} (wait ${err.retryAfter} s)`;
  }
  return err?.message || String(err);
}
