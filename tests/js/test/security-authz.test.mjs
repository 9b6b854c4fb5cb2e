// The authorisation matrix, driven from the contract manifest: every client
// event (legacy aliases included) x every kind of outsider is refused with
// the right code, and nothing is relayed to the victims or stored. A new
// client event in the manifest fails this test until it has a row below.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  assertErrorPayload,
  closeAll,
  connect,
  createChat,
  emitAck,
  fullHistory,
  newUser,
  signJwt,
  accessClaims,
  sleep,
  startServer,
} from '../support/index.mjs';
import { readManifest } from '../support/contract.mjs';

const manifest = readManifest();
const clientEvents = manifest.events.filter((e) => e.direction === 'client_to_server');
/** The event whose behaviour an event has (itself, or an alias's target). */
const behaviour = (event) => event.aliasOf ?? event.name;

/**
 * How each client event is refused for an outsider (a signed-in user who is
 * not a participant of the chat / not a party of the call), and the payload
 * that targets the victims. `via`: 'ack', 'chat_error' or 'error'.
 * Health answers (`pong`, `heartbeat_response`) touch no one's data: they
 * are in `notApplicable`.
 */
const outsider = {
  join_chat: { via: 'chat_error', code: 'NOT_PARTICIPANT', payload: (v) => v.chatid },
  leave_chat: { via: 'chat_error', code: 'NOT_PARTICIPANT', payload: (v) => ({ chatid: v.chatid }) },
  typing_start: { via: 'chat_error', code: 'NOT_PARTICIPANT', payload: (v) => v.chatid },
  typing_stop: { via: 'chat_error', code: 'NOT_PARTICIPANT', payload: (v) => ({ chatid: v.chatid }) },
  send_message: {
    via: 'ack',
    code: 'NOT_PARTICIPANT',
    payload: (v) => ({ chatid: v.chatid, clientMessageId: `intruder-${Date.now()}`, messageType: 'text', content: 'intrusion' }),
  },
  mark_message_read: { via: 'chat_error', code: 'NOT_PARTICIPANT', payload: (v) => ({ chatid: v.chatid, messageid: v.messageid }) },
  react_to_message: { via: 'chat_error', code: 'NOT_PARTICIPANT', payload: (v) => ({ chatid: v.chatid, messageid: v.messageid, emoji: '💥' }) },
  sync: { via: 'ack', code: 'NOT_PARTICIPANT', payload: (v) => ({ positions: [{ chatid: v.chatid, seq: 0 }] }) },
  initiate_call: { via: 'ack', code: 'NO_SHARED_CHAT', payload: (v) => ({ targetId: v.alice, callType: 'video' }) },
  answer_call: { via: 'error', code: 'NOT_CALL_PARTY', payload: (v) => ({ callId: v.callId, acceptsVideo: true }) },
  reject_call: { via: 'error', code: 'NOT_CALL_PARTY', payload: (v) => ({ callId: v.callId }) },
  end_call: { via: 'error', code: 'NOT_CALL_PARTY', payload: (v) => ({ callId: v.callId }) },
  call_cancelled: { via: 'error', code: 'NOT_CALL_PARTY', payload: (v) => ({ callId: v.callId }) },
  webrtc_offer: { via: 'error', code: 'NOT_CALL_PARTY', payload: (v) => ({ callId: v.callId, targetId: v.bob, offer: { type: 'offer', sdp: 'v=0' } }) },
  webrtc_answer: { via: 'error', code: 'NOT_CALL_PARTY', payload: (v) => ({ callId: v.callId, targetId: v.alice, answer: { type: 'answer', sdp: 'v=0' } }) },
  webrtc_ice_candidate: { via: 'error', code: 'NOT_CALL_PARTY', payload: (v) => ({ callId: v.callId, targetId: v.bob, candidate: { candidate: 'c' } }) },
  toggle_mute: { via: 'error', code: 'NOT_CALL_PARTY', payload: (v) => ({ callId: v.callId, muted: true }) },
  toggle_video: { via: 'error', code: 'NOT_CALL_PARTY', payload: (v) => ({ callId: v.callId, videoEnabled: false }) },
  toggle_screen_share: { via: 'error', code: 'NOT_CALL_PARTY', payload: (v) => ({ callId: v.callId, screenSharing: true }) },
};
const notApplicable = new Set(['pong', 'heartbeat_response']);

/** What victims must never receive from an outsider's events. */
const relayedToVictims = [
  'new_message', 'user_typing', 'user_stopped_typing', 'user_joined_chat', 'user_left', 'message_read',
  'message_reaction_added', 'incoming_call', 'call_answered', 'call_rejected', 'call_ended',
  'webrtc_offer_received', 'webrtc_answer_received', 'webrtc_ice_candidate_received',
  'participant_muted', 'participant_video_toggled', 'participant_screen_share_toggled',
];

test('every client event of the manifest has a row in the matrix', () => {
  const missing = clientEvents.map(behaviour).filter((name) => !outsider[name] && !notApplicable.has(name));
  assert.deepEqual([...new Set(missing)], [], 'add a row for each new client event');
});

describe('authorisation matrix', () => {
  let server;
  let victims;
  let sockets;
  before(async () => {
    server = await startServer({ name: 'authz' });
    const [alice, bob, mallory] = await Promise.all(['alice', 'bob', 'mallory'].map((n) => newUser(server, n)));
    const chatid = await createChat(server, alice, { chatType: 'direct', participants: [bob.profileid] });
    const a = await alice.socket();
    const b = await bob.socket();
    for (const s of [a, b]) {
      s.emit('join_chat', chatid);
      await s.inbox.take('chat_joined');
    }
    const sent = await emitAck(a, 'send_message', { chatid, clientMessageId: 'victim-1', messageType: 'text', content: 'private' });
    assert.equal(sent.success, true);
    const call = await emitAck(a, 'initiate_call', { targetId: bob.profileid, callType: 'video' });
    assert.equal(call.success, true, JSON.stringify(call));
    await b.inbox.take('incoming_call');
    b.emit('answer_call', { callId: call.callId, acceptsVideo: true });
    await a.inbox.take('call_answered');
    await b.inbox.take('call_answered');
    const m = await mallory.socket();
    // The setup's own events (joins, the call) are not the outsiders'.
    for (const socket of [a, b]) socket.inbox.items.forEach((item) => { item.consumed = true; });
    victims = { chatid, messageid: sent.serverMessageId, callId: call.callId, alice: alice.profileid, bob: bob.profileid, aliceUser: alice, bobUser: bob, mallory };
    sockets = { a, b, m };
  });
  after(async () => {
    await closeAll(...Object.values(sockets ?? {}));
    await server?.stop();
  });

  for (const event of clientEvents) {
    const row = outsider[behaviour(event)];
    if (!row) continue;
    test(`${event.name}${event.aliasOf ? ` (alias of ${event.aliasOf})` : ''} from an outsider -> ${row.code}`, async () => {
      const { m } = sockets;
      const payload = row.payload(victims);
      if (row.via === 'ack') {
        const ack = await emitAck(m, event.name, payload);
        assert.equal(ack.success, false, JSON.stringify(ack));
        assert.equal(ack.code, row.code, JSON.stringify(ack));
      } else {
        m.emit(event.name, payload);
        const refusal = await m.inbox.take(row.via, { where: (p) => p.error === row.code });
        assertErrorPayload(refusal, row.code, `${event.name} refusal`);
      }
    });
  }

  test('outsiders relayed nothing to the victims and stored nothing', async () => {
    await sleep(300);
    for (const socket of [sockets.a, sockets.b]) {
      for (const event of relayedToVictims) {
        const leaked = socket.inbox.pending(event);
        assert.deepEqual(leaked.map((i) => i.data), [], `${event} reached a victim`);
      }
    }
    const history = await fullHistory(server, victims.aliceUser.token, victims.chatid);
    assert.deepEqual(history.map((msg) => msg.content), ['private']);
    assert.deepEqual(history[0].reactions, []);
  });

  test('a member without canSendMessages is refused with FORBIDDEN and nothing is stored', async () => {
    const [owner, reader] = await Promise.all([newUser(server, 'owner'), newUser(server, 'reader')]);
    const channel = await createChat(server, owner, { chatType: 'channel', chatName: 'news', participants: [reader.profileid] });
    const r = await reader.socket();
    try {
      const ack = await emitAck(r, 'send_message', { chatid: channel, clientMessageId: 'no', messageType: 'text', content: 'x' });
      assert.equal(ack.code, 'FORBIDDEN');
      assert.deepEqual(await fullHistory(server, owner.token, channel), []);
    } finally {
      r.close();
    }
  });

  for (const [kind, token, auth, code] of [
    ['no token', null, null, 'AUTH_MISSING_TOKEN'],
    ['an expired token', 'expired', null, 'AUTH_TOKEN_EXPIRED'],
    ['a forged signature', 'forged', null, 'AUTH_INVALID_TOKEN'],
    ['a mismatched profileid', 'valid', 'other', 'AUTH_PROFILE_MISMATCH'],
  ]) {
    test(`a socket with ${kind} is refused (${code}) and none of its events reaches anyone`, async () => {
      const victim = victims.aliceUser;
      const mintedFor = victims.mallory.profileid;
      const tokens = {
        expired: signJwt(accessClaims(mintedFor, { expiresIn: -3600 })),
        forged: signJwt(accessClaims(mintedFor), { secret: 'not-the-server-secret-0123456789' }),
        valid: victims.mallory.token,
      };
      const socket = (
        await connect(server, {
          profileid: auth === 'other' ? victim.profileid : mintedFor,
          token: token ? tokens[token] : undefined,
          waitFor: 'none',
        })
      ).socket;
      try {
        // Fire every event at once, before the verdict arrives.
        for (const event of clientEvents) {
          const row = outsider[behaviour(event)];
          if (row) socket.emit(event.name, row.payload(victims));
        }
        const refusal = await socket.inbox.take('auth_error');
        assert.equal(refusal.error, code);
        await sleep(300);
        for (const s of [sockets.a, sockets.b]) {
          for (const event of relayedToVictims) {
            assert.deepEqual(s.inbox.pending(event).map((i) => i.data), [], `${event} reached a victim`);
          }
        }
        const history = await fullHistory(server, victim.token, victims.chatid);
        assert.equal(history.length, 1, 'nothing stored');
      } finally {
        socket.close();
      }
    });
  }
});
