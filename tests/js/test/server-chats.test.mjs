// Issue 3, "Chats" (REST): create, list, add participants, history with
// cursor pagination; every refusal with its status and `{ error, message }`.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  accessClaims,
  addParticipant,
  api,
  assertMessageShape,
  assertRestError,
  closeAll,
  createChat,
  databases,
  getHistory,
  joinChat,
  newUser,
  sendPaced,
  show,
  signJwt,
  startServer,
  uid,
  users,
} from '../support/index.mjs';

const T = { timeout: 60_000 };

/** GET /api/chats answers a list; DESIGN.md says "the caller's chats" without naming a wrapper. */
function chatsOf(response) {
  assert.equal(response.status, 200, `GET /api/chats: ${show(response)}`);
  const list = Array.isArray(response.body) ? response.body : response.body?.chats;
  assert.ok(Array.isArray(list), `GET /api/chats answers an array (or { chats: [] }): ${show(response)}`);
  return list;
}

const PERMISSIONS = {
  owner: { canSendMessages: true, canAddMembers: true, canRemoveMembers: true, canEditSettings: true },
  admin: { canSendMessages: true, canAddMembers: true, canRemoveMembers: true, canEditSettings: true },
  moderator: { canSendMessages: true, canAddMembers: true, canRemoveMembers: true, canEditSettings: false },
  member: { canSendMessages: true, canAddMembers: false, canRemoveMembers: false, canEditSettings: false },
};

/** Joins the chat with a fresh socket of `user` and returns chat_joined. */
async function joinedAs(user, chatid) {
  const socket = await user.socket();
  try {
    return await joinChat(socket, chatid);
  } finally {
    await closeAll(socket);
  }
}

/** Tries to join and returns the chat_error. */
async function refusedJoin(user, chatid) {
  const socket = await user.socket();
  try {
    socket.emit('join_chat', { chatid });
    return await socket.inbox.take('chat_error');
  } finally {
    await closeAll(socket);
  }
}

for (const db of await databases()) {
  describe(`chats REST [${db.name}]`, { skip: db.skip }, () => {
    let server;
    before(async () => {
      server = await startServer({ database: db.name, name: 'chats' });
    });
    after(async () => {
      await server?.stop();
    });

    test('POST /api/chats -> 201 with a chatid; the caller is added as owner; duplicates are ignored', T, async () => {
      const [alice, bob, carol] = await users(server, 'alice', 'bob', 'carol');
      const response = await api(server, alice.token, 'POST', '/api/chats', {
        chatType: 'group',
        chatName: 'Tea party',
        participants: [bob.profileid, carol.profileid, bob.profileid],
      });
      assert.equal(response.status, 201, show(response));
      const { chatid } = response.body;
      assert.equal(typeof chatid, 'string');
      assert.ok(chatid.length > 0);

      const owner = await joinedAs(alice, chatid);
      assert.equal(owner.role, 'owner', 'the caller is the owner');
      assert.deepEqual(owner.permissions, PERMISSIONS.owner);
      assert.equal(owner.chatInfo.chatName, 'Tea party');
      assert.equal(owner.chatInfo.chatType, 'group');
      assert.equal(owner.chatInfo.participantCount, 3, 'alice (added) + bob (once) + carol');
      const member = await joinedAs(bob, chatid);
      assert.equal(member.role, 'member');
      assert.deepEqual(member.permissions, PERMISSIONS.member);
    });

    test('GET /api/chats/{chatid} -> the chat with its participants, their roles and the names their tokens gave', T, async () => {
      const alice = await newUser(server, 'alice', { displayname: 'Alice Liddell' });
      const [bob, carol] = await users(server, 'bob', 'carol');
      // Names are known once a member has connected (the handshake stores the profile).
      for (const user of [alice, bob]) {
        const { socket } = await user.connect();
        await closeAll(socket);
      }
      const chatid = await createChat(server, alice, { chatType: 'direct', participants: [bob] });
      const response = await api(server, bob.token, 'GET', `/api/chats/${chatid}`);
      assert.equal(response.status, 200, show(response));
      const chat = response.body;
      assert.equal(chat.chatid, chatid);
      assert.equal(chat.chatType, 'direct');
      assert.equal(chat.role, 'member', "role and permissions are the caller's");
      assert.deepEqual(chat.permissions, PERMISSIONS.member);
      assert.equal(chat.participantCount, 2);
      const byId = new Map(chat.participants.map((p) => [p.profileid, p]));
      assert.deepEqual(byId.get(alice.profileid), {
        profileid: alice.profileid,
        role: 'owner',
        username: alice.username,
        displayname: 'Alice Liddell',
      });
      assert.equal(byId.get(bob.profileid).role, 'member');
      assert.equal(byId.get(bob.profileid).username, bob.username);

      for (const [response, status, code, label] of [
        [await api(server, carol.token, 'GET', `/api/chats/${chatid}`), 403, 'NOT_PARTICIPANT', 'not a participant'],
        [await api(server, alice.token, 'GET', `/api/chats/${uid('nochat')}`), 404, 'CHAT_NOT_FOUND', 'an unknown chat'],
        [await api(server, alice.token, 'GET', `/api/chats/${chatid}?x=1`), 400, 'VALIDATION_ERROR', 'a query parameter'],
      ]) {
        assertRestError(response, status, label);
        assert.equal(response.body.error, code, `${label}: ${show(response)}`);
      }
      assertRestError(await api(server, undefined, 'GET', `/api/chats/${chatid}`), 401, 'no token');
    });

    test('listing the caller among the participants is fine', T, async () => {
      const [alice, bob] = await users(server, 'alice', 'bob');
      const chatid = await createChat(server, alice, { participants: [alice, bob, alice] });
      const joined = await joinedAs(alice, chatid);
      assert.equal(joined.role, 'owner');
      assert.equal(joined.chatInfo.participantCount, 2);
    });

    test('a direct chat needs exactly one other participant', T, async () => {
      const [alice, bob, carol] = await users(server, 'alice', 'bob', 'carol');
      const chatid = await createChat(server, alice, { chatType: 'direct', participants: [bob] });
      const joined = await joinedAs(bob, chatid);
      assert.equal(joined.chatInfo.chatType, 'direct');
      assert.equal(joined.chatInfo.participantCount, 2);

      const dupes = await createChat(server, carol, { chatType: 'direct', participants: [bob, bob, carol] });
      assert.equal((await joinedAs(carol, dupes)).chatInfo.participantCount, 2, 'duplicates and the caller do not count');

      for (const participants of [[], [alice], [bob, carol]]) {
        const response = await api(server, alice.token, 'POST', '/api/chats', {
          chatType: 'direct',
          participants: participants.map((p) => p.profileid),
        });
        assertRestError(response, 400, `direct chat with [${participants.map((p) => p.username)}]`);
      }
    });

    test('invalid bodies -> 400 with { error, message }', T, async () => {
      const alice = await newUser(server, 'alice');
      assertRestError(await api(server, alice.token, 'POST', '/api/chats', undefined, { raw: '{"chatType": "group",' }), 400, 'malformed JSON');
      assertRestError(await api(server, alice.token, 'POST', '/api/chats', undefined, { raw: '[1,2,3]' }), 400, 'a JSON array');
      assertRestError(
        await api(server, alice.token, 'POST', '/api/chats', { chatType: 'secret', participants: [] }),
        400,
        'unknown chatType',
      );
      assertRestError(
        await api(server, alice.token, 'POST', '/api/chats', { chatType: 'group', participants: 'bob' }),
        400,
        'participants not an array',
      );
      assertRestError(
        await api(server, alice.token, 'POST', '/api/chats', { chatType: 'group', participants: [''] }),
        400,
        'an empty profile id',
      );
    });

    test('GET /api/chats lists only the caller\'s chats (Bearer and cookie)', T, async () => {
      const [alice, bob, carol, dave] = await users(server, 'alice', 'bob', 'carol', 'dave');
      const x = await createChat(server, alice, { chatName: 'X', participants: [bob] });
      const y = await createChat(server, carol, { chatName: 'Y', participants: [dave] });

      const mine = chatsOf(await api(server, alice.token, 'GET', '/api/chats'));
      assert.deepEqual(mine.map((chat) => chat.chatid), [x], 'alice sees exactly X');
      assert.equal(mine[0].chatName, 'X');
      assert.equal(mine[0].chatType, 'group');

      const bobs = chatsOf(await api(server, bob.token, 'GET', '/api/chats', undefined, { cookie: true }));
      assert.deepEqual(bobs.map((chat) => chat.chatid), [x], 'bob (cookie auth) sees exactly X');
      const carols = chatsOf(await api(server, carol.token, 'GET', '/api/chats'));
      assert.deepEqual(carols.map((chat) => chat.chatid), [y], 'carol sees exactly Y');
      const nobody = chatsOf(await api(server, (await newUser(server, 'lonely')).token, 'GET', '/api/chats'));
      assert.deepEqual(nobody, [], 'a user without chats sees none');
    });

    test('unauthenticated, forged and expired credentials -> 401 on every route', T, async () => {
      const [alice, bob] = await users(server, 'alice', 'bob');
      const chatid = await createChat(server, alice, { participants: [bob] });
      const forged = signJwt(accessClaims(alice.profileid), { secret: 'not-the-server-secret-0123456789abcdef' });
      const expired = signJwt(accessClaims(alice.profileid, { expiresIn: -3600 }));
      const routes = [
        ['POST', '/api/chats', { chatType: 'group', chatName: 'n', participants: [bob.profileid] }],
        ['GET', '/api/chats'],
        ['POST', `/api/chats/${chatid}/participants`, { profileid: uid('x') }],
        ['GET', `/api/chats/${chatid}/messages`],
      ];
      for (const [method, path, body] of routes) {
        for (const [label, token] of [
          ['no token', undefined],
          ['forged token', forged],
          ['expired token', expired],
          ['garbage token', 'garbage'],
        ]) {
          assertRestError(await api(server, token, method, path, body), 401, `${method} ${path} with ${label}`);
        }
      }
    });

    test('POST participants: owner, admin and moderator may add; member and outsider -> 403; unknown chat -> 404', T, async () => {
      const [alice, bob, carol, dave, erin, frank, grace, outsider] = await users(
        server,
        'alice',
        'bob',
        'carol',
        'dave',
        'erin',
        'frank',
        'grace',
        'outsider',
      );
      const chatid = await createChat(server, alice, { participants: [bob] });

      // owner adds carol as admin
      let response = await addParticipant(server, alice, chatid, carol, 'admin');
      assert.ok(response.status >= 200 && response.status < 300, `owner adds: ${show(response)}`);
      let joined = await joinedAs(carol, chatid);
      assert.equal(joined.role, 'admin');
      assert.deepEqual(joined.permissions, PERMISSIONS.admin);
      assert.equal(joined.chatInfo.participantCount, 3);

      // admin adds dave as moderator
      response = await addParticipant(server, carol, chatid, dave, 'moderator');
      assert.ok(response.status >= 200 && response.status < 300, `admin adds: ${show(response)}`);
      joined = await joinedAs(dave, chatid);
      assert.equal(joined.role, 'moderator');
      assert.deepEqual(joined.permissions, PERMISSIONS.moderator);

      // moderator adds erin without a role: member
      response = await addParticipant(server, dave, chatid, erin);
      assert.ok(response.status >= 200 && response.status < 300, `moderator adds: ${show(response)}`);
      joined = await joinedAs(erin, chatid);
      assert.equal(joined.role, 'member', 'the default role is member');
      assert.deepEqual(joined.permissions, PERMISSIONS.member);

      // member (no canAddMembers) and outsider are refused, and nothing changes
      assertRestError(await addParticipant(server, bob, chatid, frank), 403, 'member adds');
      assertRestError(await addParticipant(server, outsider, chatid, grace), 403, 'outsider adds');
      assert.equal((await refusedJoin(frank, chatid)).error, 'NOT_PARTICIPANT', 'frank was not added');
      assert.equal((await refusedJoin(grace, chatid)).error, 'NOT_PARTICIPANT', 'grace was not added');
      assert.equal((await joinedAs(alice, chatid)).chatInfo.participantCount, 5);

      assertRestError(await addParticipant(server, alice, uid('no-such-chat'), frank), 404, 'unknown chat');
      assertRestError(await addParticipant(server, alice, chatid, frank, 'emperor'), 400, 'unknown role');
      assertRestError(
        await api(server, alice.token, 'POST', `/api/chats/${chatid}/participants`, undefined, { raw: '{"profileid":' }),
        400,
        'malformed JSON',
      );
    });

    test('GET messages: newest first, before/limit pagination with nextBefore, contract message shape', T, async () => {
      const [alice, bob] = await users(server, 'alice', 'bob');
      const chatid = await createChat(server, alice, { participants: [bob] });
      const socket = await alice.socket();
      const acks = [];
      try {
        for (let i = 1; i <= 5; i += 1) acks.push(await sendPaced(socket, chatid, `m${i}`));
      } finally {
        await closeAll(socket);
      }

      const all = await getHistory(server, bob.token, chatid);
      assert.equal(all.status, 200, show(all));
      assert.deepEqual(all.body.messages.map((m) => m.content), ['m5', 'm4', 'm3', 'm2', 'm1'], 'newest first');
      for (const [i, message] of all.body.messages.entries()) {
        const ack = acks[4 - i];
        assertMessageShape(message, { chatid, senderid: alice.profileid, messageType: 'text', messageid: ack.serverMessageId });
        assert.equal(message.clientMessageId, ack.clientMessageId);
      }
      assert.ok(all.body.nextBefore === undefined || all.body.nextBefore === null, `no nextBefore after the last page: ${show(all)}`);

      const page1 = await getHistory(server, bob.token, chatid, { limit: 2 });
      assert.equal(page1.status, 200, show(page1));
      assert.deepEqual(page1.body.messages.map((m) => m.content), ['m5', 'm4']);
      assert.equal(typeof page1.body.nextBefore, 'string', `page 1 has nextBefore: ${show(page1)}`);
      const page2 = await getHistory(server, bob.token, chatid, { limit: 2, before: page1.body.nextBefore });
      assert.deepEqual(page2.body.messages.map((m) => m.content), ['m3', 'm2']);
      assert.equal(typeof page2.body.nextBefore, 'string', `page 2 has nextBefore: ${show(page2)}`);
      const page3 = await getHistory(server, bob.token, chatid, { limit: 2, before: page2.body.nextBefore });
      assert.deepEqual(page3.body.messages.map((m) => m.content), ['m1']);
      assert.ok(
        page3.body.nextBefore === undefined || page3.body.nextBefore === null,
        `no nextBefore on the last page: ${show(page3)}`,
      );

      // `before` is a message id: everything older than it.
      const older = await getHistory(server, bob.token, chatid, { before: acks[2].serverMessageId });
      assert.deepEqual(older.body.messages.map((m) => m.content), ['m2', 'm1']);
    });

    test('GET messages: non-participant -> 403, unknown chat -> 403/404, unauthenticated -> 401, bad limit -> 400', T, async () => {
      const [alice, bob, eve] = await users(server, 'alice', 'bob', 'eve');
      const chatid = await createChat(server, alice, { participants: [bob] });
      assertRestError(await getHistory(server, eve.token, chatid), 403, 'non-participant');
      const unknown = await getHistory(server, eve.token, uid('no-such-chat'));
      assert.ok([403, 404].includes(unknown.status), `unknown chat: ${show(unknown)}`);
      assertRestError(unknown, unknown.status, 'unknown chat');
      assertRestError(await getHistory(server, undefined, chatid), 401, 'no token');
      assertRestError(await getHistory(server, alice.token, chatid, { limit: 'many' }), 400, 'limit=many');
    });
  });
}
