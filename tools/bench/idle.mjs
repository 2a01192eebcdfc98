// RSS per idle authenticated session: node idle.mjs <serverPid> <sessions> <ws|sio>
import WebSocket from 'ws';
import { io } from 'socket.io-client';
import { base, register, rssKiB, sleep } from './common.mjs';

const [pid, count = '1000', transport = 'ws'] = process.argv.slice(2);
const total = Number(count);
const user = await register('idle', 0);
await sleep(500);
const before = rssKiB(pid);
const sockets = [];
const open = () =>
  new Promise((resolve, reject) => {
    if (transport === 'ws') {
      const socket = new WebSocket(`${base.replace('http', 'ws')}/ws?token=${user.token}`);
      socket.once('message', () => resolve(socket));
      socket.once('error', reject);
    } else {
      const socket = io(base, { auth: { token: user.token }, transports: ['websocket'], reconnection: false });
      socket.once('welcome', () => resolve(socket));
      socket.once('connect_error', reject);
    }
  });
for (let i = 0; i < total; i += 100) {
  sockets.push(...(await Promise.all(Array.from({ length: Math.min(100, total - i) }, open))));
}
await sleep(2000);
const after = rssKiB(pid);
const perSession = ((after - before) * 1024) / total;
console.log(JSON.stringify({ transport, sessions: total, rssBeforeKiB: before, rssAfterKiB: after, bytesPerSession: Math.round(perSession) }));
for (const socket of sockets) (transport === 'ws' ? socket.terminate() : socket.disconnect());
process.exit(0);
