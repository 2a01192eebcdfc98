// Scenes set up over REST (fast), then opened in the browser as each person.

import { randomString } from './server.js';
import { loginWithTokens, openRoom } from './ui.js';

/**
 * Registers `names` over REST; the first creates a room that the others join;
 * each logs in in their own browser context with the room open.
 * Returns `{room, people: [{user, page, context}]}`.
 */
export async function roomWithPeople(scene, server, names, { isPrivate = false, viewport } = {}) {
  const users = [];
  for (const name of names) users.push(await server.register(name));
  const room = await server.createRoom(users[0].token, `Room ${randomString(6)}`, { isPrivate });
  for (const u of users.slice(1)) await server.joinRoom(u.token, room.id, room.inviteCode);
  const people = [];
  for (const user of users) {
    const { page, context } = await scene.person(names[people.length], { viewport });
    await loginWithTokens(page, server, user);
    await openRoom(page, room.name);
    people.push({ user, page, context });
  }
  return { room, people };
}
