// Nodes of a cluster started together on a new database (a first deployment, or
// every container of a compose file at once) all come up: the schema migrations
// must not race (each node migrates at start).

import assert from 'node:assert/strict';
import { after, test } from 'node:test';

import { createDatabase } from '../../lib/cluster.js';
import { randomString, startServer } from '../../lib/server.js';

const cleanups = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

test('three nodes started at once on an empty database all start', async () => {
  const db = createDatabase();
  cleanups.push(() => db.drop());
  const env = {
    DATABASE_URL: db.url,
    JWT_SEC: randomString(40),
    REDIS_URL: process.env.E2E_REDIS_URL || 'redis://127.0.0.1:6379',
    RTCHAT_REDIS__KEY_PREFIX: `rtchat-startup-${randomString(10)}`,
  };
  const outcomes = await Promise.allSettled(
    ['n1', 'n2', 'n3'].map((id) => startServer({ name: id, redis: false, env: { ...env, RTCHAT_CLUSTER__NODE_ID: id } })),
  );
  for (const o of outcomes) if (o.status === 'fulfilled') cleanups.push(() => o.value.stop());
  // The start error carries the node's output: keep its error lines.
  const failures = outcomes
    .filter((o) => o.status === 'rejected')
    .map((o) => o.reason.message.split('\n').filter((line) => /error|failed/i.test(line))[0]);
  assert.deepEqual(failures, [], 'every node started');

  // And they are one chat: a user registered on one logs in on another.
  const [a, b] = outcomes.map((o) => o.value);
  const user = await a.register('startup');
  await b.api('POST', '/auth/login', { body: { email: user.email, password: user.password } });
});
