// Shared by the quick benchmarks: REST helpers and server RSS.
import { readFileSync } from 'node:fs';

export const base = process.env.RTCHAT_URL ?? 'http://127.0.0.1:18090';

export async function api(path, body, token) {
  const response = await fetch(base + path, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await response.json();
  if (json.status !== 'success') throw new Error(`${path}: ${JSON.stringify(json)}`);
  return json.data;
}

export async function register(prefix, n) {
  const tag = `${prefix}${n}_${Date.now() % 1e6}`;
  const data = await api('/api/v1/auth/register', { username: tag, email: `${tag}@bench.local`, password: 'password123', fullName: 'Bench User' });
  return { id: data.user.id, token: data.token };
}

/** Resident set size of a process, in KiB (from /proc). */
export function rssKiB(pid) {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  return Number(line.split(/\s+/)[1]);
}

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
