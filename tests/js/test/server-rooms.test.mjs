// Issue 3, "Chats" (rooms): join_chat in both forms, chat_joined with role,
// permissions and chatInfo, user_joined_chat / user_left to the others,
// chat_error for unknown chats and non-participants, and bad payloads
// refused with `error` VALIDATION_ERROR while the socket stays connected.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  addParticipant,
  assertErrorPayload,
  assertIso,
  assertRecent,
  closeAll,
  createChat,
  databases,
  joinChat,
  sendOk,
  startServer,
  uid,
  users,
} from '../support/index.mjs';

const T = { timeout: 60_000 };

for (const db of await databases()) {
  describe(`chat rooms [${db.name}]`, { skip: db.skip }, () => {
    let server;
    before(async () => {
      server = await startServer({ database: db.name, name: 'rooms' });
    });
    after(async () => {
      await server?.stop();
    });

    test('join_chat {chatid} -> chat_joined with role, permissions and chatInfo', T, async () => {
      const [alice, bob, carol] = await users(server, 'alice', 'bob', 'carol');
      const chatid = await createChat(server, alice, { chatName: 'Garden', participants: [bob, carol] });
      const socket = await alice.socket();
      try {
        const joined = await joinChat(socket, chatid);
        assert.deepEqual(joined, {
          chatid,
          role: 'owner',
          permissions: { canSendMessages: true, canAddMembers: true, canRemoveMembers: true, canEditSettings: true },
          chatInfo: { chatName: 'Garden', chatType: 'group', participantCount: 3, settings: joined.chatInfo.settings },
        });
        assert.equal(typeof joined.chatInfo.settings, 'object');
        assert.ok(joined.chatInfo.settings !== null && !Array.isArray(joined.chatInfo.settings), 'settings is an object');
      } finally {
        await closeAll(socket);
      }
    });

    test('join_chat with the bare chatid string works the same; the others in the room get user_joined_chat', T, async () => {
      const [alice, bob, carol] = await users(server, 'alice', 'bob', 'carol');
      const chatid = await createChat(server, alice, { participants: [bob, carol] });
      const a = await alice.socket();
      const b = await bob.socket();
      const c = await carol.socket(); // connected but not in the room
      try {
        await joinChat(a, chatid);
        const joined = await joinChat(b, chatid, { form: 'string' });
        assert.equal(joined.chatid, chatid);
        assert.equal(joined.role, 'member');
        assert.deepEqual(joined.permissions, {
          canSendMessages: true,
          canAddMembers: false,
          canRemoveMembers: false,
          canEditSettings: false,
        });
        assert.equal(joined.chatInfo.participantCount, 3);

        const seen = await a.inbox.take('user_joined_chat', { where: (d) => d.profileid === bob.profileid });
        assert.deepEqual(Object.keys(seen).sort(), ['chatid', 'isOnline', 'joinedAt', 'profileid', 'role', 'username']);
        assert.equal(seen.chatid, chatid);
        assert.equal(seen.username, bob.username);
        assert.equal(seen.role, 'member');
        assert.equal(seen.isOnline, true);
        assertRecent(assertIso(seen.joinedAt, 'joinedAt'), 'joinedAt');

        await b.inbox.expectNone('user_joined_chat', 500, (d) => d.profileid === bob.profileid, 'the joiner is not told about itself');
        await c.inbox.expectNone('user_joined_chat', 0, () => true, 'a socket outside the room gets no room events');
      } finally {
        await closeAll(a, b, c);
      }
    });

    test('role permissions: moderator, and a channel member cannot send', T, async () => {
      const [alice, bob, mod] = await users(server, 'alice', 'bob', 'mod');
      const channel = await createChat(server, alice, { chatType: 'channel', chatName: 'News', participants: [bob] });
      const r = await addParticipant(server, alice, channel, mod, 'moderator');
      assert.ok(r.status >= 200 && r.status < 300, `add moderator: ${r.status} ${r.text}`);
      const b = await bob.socket();
      const m = await mod.socket();
      try {
        const member = await joinChat(b, channel);
        assert.equal(member.role, 'member');
        assert.equal(member.chatInfo.chatType, 'channel');
        assert.deepEqual(member.permissions, {
          canSendMessages: false,
          canAddMembers: false,
          canRemoveMembers: false,
          canEditSettings: false,
        });
        const moderator = await joinChat(m, channel);
        assert.equal(moderator.role, 'moderator');
        assert.deepEqual(moderator.permissions, {
          canSendMessages: false,
          canAddMembers: true,
          canRemoveMembers: true,
          canEditSettings: false,
        }, 'in a channel only owner and admin send');
      } finally {
        await closeAll(b, m);
      }
    });

    test('join_chat of an unknown chat -> chat_error CHAT_NOT_FOUND', T, async () => {
      const [alice] = await users(server, 'alice');
      const socket = await alice.socket();
      try {
        const chatid = uid('no-such-chat');
        socket.emit('join_chat', { chatid });
        const error = await socket.inbox.take('chat_error');
        assertErrorPayload(error, 'CHAT_NOT_FOUND', 'chat_error');
        assert.equal(error.chatid, chatid);
        await socket.inbox.expectNone('chat_joined', 300);
        assert.ok(socket.connected);
      } finally {
        await closeAll(socket);
      }
    });

    test('join_chat by a non-participant -> chat_error NOT_PARTICIPANT, and the room hears nothing', T, async () => {
      const [alice, bob, eve] = await users(server, 'alice', 'bob', 'eve');
      const chatid = await createChat(server, alice, { participants: [bob] });
      const a = await alice.socket();
      const e = await eve.socket();
      try {
        await joinChat(a, chatid);
        e.emit('join_chat', chatid);
        const error = await e.inbox.take('chat_error');
        assertErrorPayload(error, 'NOT_PARTICIPANT', 'chat_error');
        assert.equal(error.chatid, chatid);
        await e.inbox.expectNone('chat_joined', 300);
        await a.inbox.expectNone('user_joined_chat', 300, (d) => d.profileid === eve.profileid);

        // eve is not in the room: room events (typing) do not reach her
        a.emit('typing_start', { chatid });
        await e.inbox.expectNone('user_typing', 800);
      } finally {
        await closeAll(a, e);
      }
    });

    test('leave_chat (both forms) -> the others get user_left; room events stop, messages do not', T, async () => {
      const [alice, bob, carol] = await users(server, 'alice', 'bob', 'carol');
      const chatid = await createChat(server, alice, { participants: [bob, carol] });
      const a = await alice.socket();
      const b = await bob.socket();
      const c = await carol.socket();
      try {
        await joinChat(a, chatid);
        await joinChat(b, chatid);
        await joinChat(c, chatid);

        b.emit('leave_chat', { chatid });
        for (const socket of [a, c]) {
          const left = await socket.inbox.take('user_left', { where: (d) => d.profileid === bob.profileid });
          assert.deepEqual(left, { chatid, profileid: bob.profileid, username: bob.username });
        }
        await b.inbox.expectNone('chat_error', 300, () => true, 'leaving is silent');

        c.emit('leave_chat', chatid);
        const left = await a.inbox.take('user_left', { where: (d) => d.profileid === carol.profileid });
        assert.equal(left.chatid, chatid);
        await b.inbox.expectNone('user_left', 300, () => true, 'bob left the room before carol did');

        // bob no longer gets room events (typing) ...
        a.emit('typing_start', { chatid });
        await b.inbox.expectNone('user_typing', 1_000);
        // ... but leaving the room does not remove him from the chat: messages still reach every socket.
        const ack = await sendOk(a, chatid, 'still here?');
        const message = await b.inbox.take('new_message', { where: (d) => d.message.messageid === ack.serverMessageId });
        assert.equal(message.message.content, 'still here?');
        // and he can join again
        const again = await joinChat(b, chatid);
        assert.equal(again.role, 'member');
      } finally {
        await closeAll(a, b, c);
      }
    });

    test('leave_chat of an unknown chat -> chat_error CHAT_NOT_FOUND; of a foreign chat -> NOT_PARTICIPANT', T, async () => {
      const [alice, bob, eve] = await users(server, 'alice', 'bob', 'eve');
      const chatid = await createChat(server, alice, { participants: [bob] });
      const e = await eve.socket();
      try {
        e.emit('leave_chat', { chatid: uid('no-such-chat') });
        assertErrorPayload(await e.inbox.take('chat_error'), 'CHAT_NOT_FOUND', 'chat_error');
        e.emit('leave_chat', { chatid });
        const error = await e.inbox.take('chat_error');
        assertErrorPayload(error, 'NOT_PARTICIPANT', 'chat_error');
        assert.equal(error.chatid, chatid);
      } finally {
        await closeAll(e);
      }
    });

    test('invalid join_chat payloads -> error VALIDATION_ERROR; the socket stays connected and can join', T, async () => {
      const [alice, bob] = await users(server, 'alice', 'bob');
      const chatid = await createChat(server, alice, { participants: [bob] });
      const socket = await alice.socket();
      try {
        const invalid = [{}, 42, { chatid: '' }, { chatid: 7 }, { chatid, extra: true }, 'x'.repeat(129), null, ['a']];
        for (const payload of invalid) {
          socket.emit('join_chat', payload);
          const error = await socket.inbox.take('error', { what: `\`error\` for join_chat(${JSON.stringify(payload)})` });
          assertErrorPayload(error, 'VALIDATION_ERROR', `error for join_chat(${JSON.stringify(payload)})`);
          assert.equal(error.event, 'join_chat', 'error.event names the refused event');
        }
        socket.emit('leave_chat', 12);
        const error = await socket.inbox.take('error');
        assertErrorPayload(error, 'VALIDATION_ERROR', 'error for leave_chat(12)');
        assert.equal(error.event, 'leave_chat');

        await socket.inbox.expectNone('chat_joined', 300);
        assert.ok(socket.connected, 'bad input does not disconnect');
        const joined = await joinChat(socket, chatid);
        assert.equal(joined.role, 'owner', 'the socket still works');
      } finally {
        await closeAll(socket);
      }
    });

    test('an unknown event name -> error UNKNOWN_EVENT; the socket stays connected', T, async () => {
      const [alice] = await users(server, 'alice');
      const socket = await alice.socket();
      try {
        socket.emit('definitely_not_an_event', { chatid: 'x' });
        const error = await socket.inbox.take('error');
        assertErrorPayload(error, 'UNKNOWN_EVENT', 'error');
        assert.equal(error.event, 'definitely_not_an_event');
        assert.ok(socket.connected);
      } finally {
        await closeAll(socket);
      }
    });
  });
}
