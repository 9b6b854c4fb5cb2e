// Issue 3, "Status": mark_message_read -> message_read to the sender (stored,
// once per reader), react_to_message -> message_reaction_added (stored), and
// their refusals.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  assertErrorPayload,
  assertIso,
  assertRecent,
  closeAll,
  createChat,
  databases,
  fullHistory,
  joinChat,
  sendOk,
  startServer,
  uid,
  users,
} from '../support/index.mjs';

const T = { timeout: 60_000 };

for (const db of await databases()) {
  describe(`message status [${db.name}]`, { skip: db.skip }, () => {
    let server;
    before(async () => {
      server = await startServer({ database: db.name, name: 'status' });
    });
    after(async () => {
      await server?.stop();
    });

    // Filled by the first test, checked again after a restart by the last one.
    const persisted = {};

    test('mark_message_read -> the sender gets message_read once; marking again -> nothing', T, async () => {
      const [alice, bob, carol] = await users(server, 'alice', 'bob', 'carol');
      const chatid = await createChat(server, alice, { participants: [bob, carol] });
      const a1 = await alice.socket();
      const a2 = await alice.socket();
      const b = await bob.socket();
      const c = await carol.socket();
      try {
        const ack = await sendOk(a1, chatid, 'read me');
        await b.inbox.take('new_message', { where: (d) => d.message.messageid === ack.serverMessageId });

        b.emit('mark_message_read', { messageid: ack.serverMessageId, chatid });
        for (const socket of [a1, a2]) {
          const read = await socket.inbox.take('message_read', { what: `message_read on ${socket === a1 ? 'the sending' : "the sender's other"} socket` });
          assert.equal(read.messageid, ack.serverMessageId);
          assert.equal(read.readBy, bob.profileid);
          assertRecent(assertIso(read.readAt, 'readAt'), 'readAt');
          if (read.clientMessageId !== undefined) assert.equal(read.clientMessageId, ack.clientMessageId);
          if (read.chatid !== undefined) assert.equal(read.chatid, chatid);
        }
        await b.inbox.expectNone('chat_error', 0);

        // idempotent: again from the same socket, and from another socket of bob
        b.emit('mark_message_read', { messageid: ack.serverMessageId, chatid });
        const b2 = await bob.socket();
        b2.emit('mark_message_read', { messageid: ack.serverMessageId, chatid });
        await a1.inbox.expectNone('message_read', 1_500, () => true, 'a second mark by the same reader');
        await b.inbox.expectNone('chat_error', 0, () => true, 'marking again is accepted');
        await closeAll(b2);

        // message_read goes to the sender only
        await c.inbox.expectNone('message_read', 0);
        await b.inbox.expectNone('message_read', 0);

        // a second reader is a new receipt
        c.emit('mark_message_read', { messageid: ack.serverMessageId, chatid });
        const byCarol = await a1.inbox.take('message_read');
        assert.equal(byCarol.readBy, carol.profileid);

        Object.assign(persisted, { alice, bob, chatid, messageid: ack.serverMessageId });
      } finally {
        await closeAll(a1, a2, b, c);
      }
    });

    test('marking one\'s own message is accepted and ignored', T, async () => {
      const [alice, bob] = await users(server, 'alice', 'bob');
      const chatid = await createChat(server, alice, { participants: [bob] });
      const a = await alice.socket();
      try {
        const ack = await sendOk(a, chatid, 'mine');
        a.emit('mark_message_read', { messageid: ack.serverMessageId, chatid });
        await a.inbox.expectNone('message_read', 1_000);
        await a.inbox.expectNone('chat_error', 0);
        await a.inbox.expectNone('error', 0);
      } finally {
        await closeAll(a);
      }
    });

    test('mark_message_read refusals: MESSAGE_NOT_FOUND, NOT_PARTICIPANT, VALIDATION_ERROR', T, async () => {
      const [alice, bob, eve] = await users(server, 'alice', 'bob', 'eve');
      const chatid = await createChat(server, alice, { participants: [bob] });
      const other = await createChat(server, alice, { participants: [bob] });
      const a = await alice.socket();
      const b = await bob.socket();
      const e = await eve.socket();
      try {
        const ack = await sendOk(a, chatid, 'hello');
        const elsewhere = await sendOk(a, other, 'elsewhere');

        b.emit('mark_message_read', { messageid: uid('no-such-message'), chatid });
        let error = await b.inbox.take('chat_error');
        assertErrorPayload(error, 'MESSAGE_NOT_FOUND', 'chat_error');
        assert.equal(error.chatid, chatid);

        b.emit('mark_message_read', { messageid: elsewhere.serverMessageId, chatid });
        error = await b.inbox.take('chat_error');
        assertErrorPayload(error, 'MESSAGE_NOT_FOUND', 'chat_error for a message of another chat');

        e.emit('mark_message_read', { messageid: ack.serverMessageId, chatid });
        error = await e.inbox.take('chat_error');
        assertErrorPayload(error, 'NOT_PARTICIPANT', 'chat_error');
        assert.equal(error.chatid, chatid);

        for (const payload of [{}, { messageid: ack.serverMessageId }, 'x', { messageid: '', chatid }]) {
          b.emit('mark_message_read', payload);
          error = await b.inbox.take('error', { what: `error for mark_message_read(${JSON.stringify(payload)})` });
          assertErrorPayload(error, 'VALIDATION_ERROR', 'error');
          assert.equal(error.event, 'mark_message_read');
        }
        await a.inbox.expectNone('message_read', 1_000, () => true, 'no refused mark reaches the sender');
        assert.ok(b.connected && e.connected);
      } finally {
        await closeAll(a, b, e);
      }
    });

    test('react_to_message -> participants get message_reaction_added; stored; repeating it broadcasts nothing', T, async () => {
      const [alice, bob, carol] = await users(server, 'alice', 'bob', 'carol');
      const chatid = await createChat(server, alice, { participants: [bob, carol] });
      const a = await alice.socket();
      const b = await bob.socket();
      const c = await carol.socket();
      try {
        for (const socket of [a, b, c]) await joinChat(socket, chatid);
        const ack = await sendOk(a, chatid, 'react to me');

        b.emit('react_to_message', { messageid: ack.serverMessageId, chatid, emoji: '👍' });
        for (const socket of [a, c]) {
          const added = await socket.inbox.take('message_reaction_added');
          assert.deepEqual(Object.keys(added).sort(), ['chatid', 'messageid', 'reaction']);
          assert.equal(added.messageid, ack.serverMessageId);
          assert.equal(added.chatid, chatid);
          assert.deepEqual(Object.keys(added.reaction).sort(), ['emoji', 'profileid', 'timestamp', 'username']);
          assert.equal(added.reaction.emoji, '👍');
          assert.equal(added.reaction.profileid, bob.profileid);
          assert.equal(added.reaction.username, bob.username);
          assertRecent(assertIso(added.reaction.timestamp, 'reaction.timestamp'), 'reaction.timestamp');
        }

        // the same reaction again: accepted, not broadcast again
        b.emit('react_to_message', { messageid: ack.serverMessageId, chatid, emoji: '👍' });
        await a.inbox.expectNone('message_reaction_added', 1_500, () => true, 'a repeated reaction');
        await b.inbox.expectNone('chat_error', 0);

        // another emoji, and another user's same emoji, are new reactions
        b.emit('react_to_message', { messageid: ack.serverMessageId, chatid, emoji: '🎉' });
        assert.equal((await a.inbox.take('message_reaction_added')).reaction.emoji, '🎉');
        c.emit('react_to_message', { messageid: ack.serverMessageId, chatid, emoji: '👍' });
        assert.equal((await a.inbox.take('message_reaction_added')).reaction.profileid, carol.profileid);

        const [stored] = (await fullHistory(server, alice.token, chatid)).filter((m) => m.messageid === ack.serverMessageId);
        const reactions = stored.reactions.map((r) => `${r.profileid} ${r.emoji}`).sort();
        assert.deepEqual(reactions, [`${bob.profileid} 👍`, `${bob.profileid} 🎉`, `${carol.profileid} 👍`].sort(), 'reactions are stored, once each');
        for (const reaction of stored.reactions) assertIso(reaction.timestamp, 'stored reaction timestamp');
      } finally {
        await closeAll(a, b, c);
      }
    });

    test('react_to_message refusals: MESSAGE_NOT_FOUND, NOT_PARTICIPANT, VALIDATION_ERROR', T, async () => {
      const [alice, bob, eve] = await users(server, 'alice', 'bob', 'eve');
      const chatid = await createChat(server, alice, { participants: [bob] });
      const a = await alice.socket();
      const b = await bob.socket();
      const e = await eve.socket();
      try {
        await joinChat(a, chatid);
        const ack = await sendOk(a, chatid, 'hello');

        b.emit('react_to_message', { messageid: uid('no-such-message'), chatid, emoji: '👍' });
        let error = await b.inbox.take('chat_error');
        assertErrorPayload(error, 'MESSAGE_NOT_FOUND', 'chat_error');
        assert.equal(error.chatid, chatid);

        e.emit('react_to_message', { messageid: ack.serverMessageId, chatid, emoji: '👍' });
        error = await e.inbox.take('chat_error');
        assertErrorPayload(error, 'NOT_PARTICIPANT', 'chat_error');

        for (const payload of [{ messageid: ack.serverMessageId, chatid, emoji: '' }, { messageid: ack.serverMessageId, chatid, emoji: 'x'.repeat(33) }, { messageid: ack.serverMessageId, chatid }, 7]) {
          b.emit('react_to_message', payload);
          error = await b.inbox.take('error', { what: `error for react_to_message(${JSON.stringify(payload)})` });
          assertErrorPayload(error, 'VALIDATION_ERROR', 'error');
          assert.equal(error.event, 'react_to_message');
        }
        await a.inbox.expectNone('message_reaction_added', 1_000, () => true, 'no refused reaction is broadcast');
        assert.ok(b.connected && e.connected);
      } finally {
        await closeAll(a, b, e);
      }
    });

    test('receipts are stored: after a restart, marking the same message read again sends nothing', T, async () => {
      assert.ok(persisted.messageid, 'the first test of this suite ran');
      await server.restart();
      const { alice, bob, chatid, messageid } = persisted;
      const a = await alice.socket();
      const b = await bob.socket();
      try {
        b.emit('mark_message_read', { messageid, chatid });
        await a.inbox.expectNone('message_read', 1_500, () => true, 'the read receipt survived the restart');
        await b.inbox.expectNone('chat_error', 0);
      } finally {
        await closeAll(a, b);
      }
    });
  });
}
