// Send-to-receive latency in one room: node latency.mjs <members> <messages> <ws|sio>
// One member sends (acked, one at a time), every member receives; the delay is
// measured in this process from emit to each receive_message.
import WebSocket from 'ws';
import { io } from 'socket.io-client';
import { api, base, percentile, register, sleep } from './common.mjs';

const [membersArg = '10', messagesArg = '500', transport = 'sio'] = process.argv.slice(2);
const members = Number(membersArg);
const total = Number(messagesArg);
const users = [];
for (let i = 0; i < members; i++) users.push(await register('lat', i));
const room = (await api('/api/v1/rooms', { name: 'latency' }, users[0].token)).room;
for (const user of users.slice(1)) await api(`/api/v1/rooms/${room.id}/join`, {}, user.token);

const sentAt = new Map();
const delays = [];
let received = 0;
const onMessage = (message) => {
  const at = sentAt.get(message.content);
  if (at !== undefined) delays.push(Number(process.hrtime.bigint() - at) / 1e6);
  received++;
};
const clients = await Promise.all(
  users.map(
    (user) =>
      new Promise((resolve) => {
        if (transport === 'ws') {
          const socket = new WebSocket(`${base.replace('http', 'ws')}/ws?token=${user.token}`);
          let acks = 0;
          const pending = new Map();
          socket.on('message', (raw) => {
            const frame = JSON.parse(raw);
            if (frame.ack !== undefined) pending.get(frame.ack)?.(frame.data);
            else if (frame.event === 'receive_message') onMessage(frame.data);
            else if (frame.event === 'welcome') {
              const call = (event, data) =>
                new Promise((done) => {
                  const ack = ++acks;
                  pending.set(ack, done);
                  socket.send(JSON.stringify({ event, data, ack }));
                });
              resolve({ call });
            }
          });
        } else {
          const socket = io(base, { auth: { token: user.token }, transports: ['websocket'] });
          socket.on('receive_message', onMessage);
          socket.once('welcome', () => resolve({ call: (event, data) => socket.emitWithAck(event, data) }));
        }
      }),
  ),
);
for (const client of clients) await client.call('join_room', { roomId: room.id });
const started = process.hrtime.bigint();
for (let i = 0; i < total; i++) {
  const content = `m${i}`;
  sentAt.set(content, process.hrtime.bigint());
  const answer = await clients[0].call('send_message', { roomId: room.id, content });
  if (answer.status !== 'success') throw new Error(JSON.stringify(answer));
}
const deadline = Date.now() + 10000;
while (received < total * members && Date.now() < deadline) await sleep(20);
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
delays.sort((a, b) => a - b);
console.log(
  JSON.stringify({
    transport,
    members,
    messages: total,
    deliveries: received,
    expected: total * members,
    sendsPerSecond: Math.round(total / seconds),
    p50ms: +percentile(delays, 50).toFixed(2),
    p99ms: +percentile(delays, 99).toFixed(2),
    maxms: +delays[delays.length - 1].toFixed(2),
  }),
);
process.exit(0);
