// Issue 4, "Voice and video calls", through the real binary with
// socket.io-client: the call lifecycle (initiate, answer, reject, cancel,
// miss, end, a party's socket going away), the WebRTC signaling relay (only
// between the parties, only to the named target, in order), the in-call
// controls, every refusal of initiate_call, the legacy call events, and the
// call history over REST.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  api,
  assertErrorPayload,
  assertIso,
  assertNoLeak,
  assertRecent,
  assertRestError,
  closeAll,
  createChat,
  databases,
  emitAck,
  newUser,
  show,
  sleep,
  startServer,
  uid,
  users,
} from '../support/index.mjs';

const T = { timeout: 60_000 };

/** Every call-related event the server emits. */
const CALL_EVENTS = [
  'incoming_call',
  'call_answered',
  'call_ended',
  'call_rejected',
  'call_missed',
  'webrtc_offer_received',
  'webrtc_answer_received',
  'webrtc_ice_candidate_received',
  'participant_muted',
  'participant_video_toggled',
  'participant_screen_share_toggled',
];

const OFFER = { type: 'offer', sdp: 'v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n' };
const ANSWER = { type: 'answer', sdp: 'v=0\r\no=- 1234567890 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n' };
const candidate = (i) => ({
  candidate: `candidate:${i} 1 udp 2122260223 192.0.2.1 ${50_000 + i} typ host generation 0`,
  sdpMid: '0',
  sdpMLineIndex: 0,
  usernameFragment: 'abcd',
});

/**
 * alice (the caller, `callerSockets` sockets) and bob (the callee,
 * `calleeSockets` sockets) share a direct chat; carol, a third user, shares a
 * group chat with both and is connected, so anything misrouted could reach
 * her.
 */
async function cast(server, { callerSockets = 2, calleeSockets = 2 } = {}) {
  const alice = await newUser(server, 'alice', { displayname: 'Alice A.', avatar: 'https://example.com/alice.png' });
  const [bob, carol] = await users(server, 'bob', 'carol');
  const chatid = await createChat(server, alice, { chatType: 'direct', participants: [bob] });
  const groupid = await createChat(server, carol, { participants: [alice, bob] });
  const a = [];
  const b = [];
  for (let i = 0; i < callerSockets; i += 1) a.push(await alice.socket({ label: `alice#${i + 1}` }));
  for (let i = 0; i < calleeSockets; i += 1) b.push(await bob.socket({ label: `bob#${i + 1}` }));
  const c = await carol.socket({ label: 'carol (third user)' });
  return { alice, bob, carol, chatid, groupid, a, b, c, all: [...a, ...b, c] };
}

/** Waits `ms`, then asserts that none of `sockets` has an unconsumed event of `events`. */
async function expectSilence(sockets, { events = CALL_EVENTS, ms = 400, why = '' } = {}) {
  await sleep(ms);
  for (const socket of sockets) for (const event of events) await socket.inbox.expectNone(event, 0, () => true, why);
}

/** The `error` event a refused call event produces on `socket`. */
async function refusedWith(socket, event, code) {
  const error = await socket.inbox.take('error', { where: (e) => e?.event === event, what: `\`error\` for ${event}` });
  assertErrorPayload(error, code, `error for ${event}`);
  return error;
}

/** A refused initiate_call ack: `{ success: false, code, error }` and nothing else of a call. */
function assertRefusedAck(ack, code) {
  assert.equal(ack?.success, false, `refused: ${JSON.stringify(ack)}`);
  assert.equal(ack.code, code, `ack.code: ${JSON.stringify(ack)}`);
  assert.equal(typeof ack.error, 'string', `ack.error: ${JSON.stringify(ack)}`);
  assertNoLeak(ack.error, 'ack.error');
  for (const key of ['callId', 'callerId', 'receiverId', 'callType', 'timestamp']) {
    assert.equal(ack[key], undefined, `a refused ack has no ${key}: ${JSON.stringify(ack)}`);
  }
}

/**
 * `from` calls `to`; asserts the ack and that every socket in `ringing` gets
 * `incoming_call`. Resolves with `{ ack, callId, incoming }`.
 */
async function ring(r, { from = r.a[0], to = r.bob, ringing = r.b, event = 'initiate_call', callType = 'video', chatid = r.chatid, callId } = {}) {
  const payload = { targetId: to.profileid, callType };
  if (chatid !== null) payload.chatid = chatid;
  if (callId !== undefined) payload.callId = callId;
  const ack = await emitAck(from, event, payload);
  assert.equal(ack?.success, true, `${event} succeeded: ${JSON.stringify(ack)}`);
  let incoming;
  for (const socket of ringing) {
    incoming = await socket.inbox.take('incoming_call', { where: (d) => d.callId === ack.callId });
  }
  return { ack, callId: ack.callId, incoming };
}

/** bob's socket `by` answers; every socket of both parties gets `call_answered`. */
async function answer(r, callId, { by = r.b[0], event = 'answer_call', acceptsVideo = true } = {}) {
  by.emit(event, { callId, acceptsVideo });
  let answered;
  for (const socket of [...r.a, ...r.b]) {
    answered = await socket.inbox.take('call_answered', { where: (d) => d.callId === callId });
  }
  return answered;
}

/** Rings and answers; resolves with the callId. */
async function liveCall(r, options = {}) {
  const { callId } = await ring(r, options);
  await answer(r, callId);
  return callId;
}

/** Takes `event` for `callId` on every socket; returns the payloads. */
async function takeAll(sockets, event, callId) {
  const out = [];
  for (const socket of sockets) out.push(await socket.inbox.take(event, { where: (d) => d?.callId === callId }));
  return out;
}

/** GET /api/calls as `user`; returns the list. */
async function history(server, user) {
  const response = await api(server, user.token, 'GET', '/api/calls');
  assert.equal(response.status, 200, `GET /api/calls: ${show(response)}`);
  assert.ok(Array.isArray(response.body?.calls), `GET /api/calls has calls[]: ${show(response)}`);
  return response.body.calls;
}

for (const db of await databases()) {
  describe(`calls [${db.name}]`, { skip: db.skip }, () => {
    let server;
    before(async () => {
      server = await startServer({ database: db.name, name: 'calls' });
    });
    after(async () => {
      await server?.stop();
    });

    // ------------------------------------------------------------ lifecycle

    test('initiate_call -> ack with the call, incoming_call on every socket of the receiver and nowhere else', T, async () => {
      const r = await cast(server);
      try {
        const ack = await emitAck(r.a[0], 'initiate_call', { targetId: r.bob.profileid, callType: 'video', chatid: r.chatid });
        assert.deepEqual(Object.keys(ack).sort(), ['callId', 'callType', 'callerId', 'receiverId', 'success', 'timestamp']);
        assert.equal(ack.success, true);
        assert.equal(typeof ack.callId, 'string');
        assert.ok(ack.callId.length > 0);
        assert.equal(ack.callerId, r.alice.profileid);
        assert.equal(ack.receiverId, r.bob.profileid);
        assert.equal(ack.callType, 'video');
        assertRecent(assertIso(ack.timestamp, 'ack.timestamp'), 'ack.timestamp');

        for (const socket of r.b) {
          const incoming = await socket.inbox.take('incoming_call');
          assert.deepEqual(incoming, {
            callId: ack.callId,
            callerId: r.alice.profileid,
            callerName: 'Alice A.',
            callerAvatar: 'https://example.com/alice.png',
            callType: 'video',
            chatid: r.chatid,
            timestamp: ack.timestamp,
          });
        }
        await expectSilence([...r.a, ...r.b, r.c], { why: 'only the receiver rings' });
      } finally {
        await closeAll(r.all);
      }
    });

    test('without a chatid any shared chat will do; a voice call; a client-chosen callId is used', T, async () => {
      const r = await cast(server, { callerSockets: 1, calleeSockets: 1 });
      try {
        const callId = uid('call');
        const { ack, incoming } = await ring(r, { chatid: null, callType: 'voice', callId });
        assert.equal(ack.callId, callId, 'the client-chosen callId is used');
        assert.equal(ack.callType, 'voice');
        assert.equal(incoming.callType, 'voice');
        assert.ok([r.chatid, r.groupid].includes(incoming.chatid), `a chat both are in: ${incoming.chatid}`);
        assert.equal(incoming.callerName, 'Alice A.');
        // While that id is live, another call that asks for it gets an id of its own.
        const dave = await newUser(server, 'dave');
        await createChat(server, r.carol, { chatType: 'direct', participants: [dave] });
        const d = await dave.socket();
        try {
          const other = await ring(r, { from: r.c, to: dave, ringing: [d], chatid: null, callId });
          assert.notEqual(other.callId, callId, 'a live call id is never given to a second call');
          r.c.emit('call_cancelled', { callId: other.callId });
          await takeAll([r.c, d], 'call_ended', other.callId);
        } finally {
          await closeAll(d);
        }
        r.a[0].emit('call_cancelled', { callId });
        await takeAll([...r.a, ...r.b], 'call_ended', callId);
      } finally {
        await closeAll(r.all);
      }
    });

    test('answer_call -> call_answered on every socket of both parties; a second answer and the caller are refused', T, async () => {
      const r = await cast(server);
      try {
        const { callId } = await ring(r);
        r.b[1].emit('answer_call', { callId, acceptsVideo: true });
        for (const socket of [...r.a, ...r.b]) {
          const answered = await socket.inbox.take('call_answered');
          assert.deepEqual(Object.keys(answered).sort(), ['acceptedVideo', 'answeredBy', 'callId', 'timestamp']);
          assert.equal(answered.callId, callId);
          assert.equal(answered.answeredBy, r.bob.profileid);
          assert.equal(answered.acceptedVideo, true);
          assertRecent(assertIso(answered.timestamp, 'call_answered.timestamp'), 'call_answered.timestamp');
        }
        // bob's first device rang too; it cannot answer as well.
        r.b[0].emit('answer_call', { callId, acceptsVideo: true });
        await refusedWith(r.b[0], 'answer_call', 'INVALID_CALL_STATE');
        // Only the callee answers.
        r.a[0].emit('answer_call', { callId, acceptsVideo: true });
        await refusedWith(r.a[0], 'answer_call', 'NOT_CALL_PARTY');
        // A stranger cannot answer.
        r.c.emit('answer_call', { callId, acceptsVideo: true });
        await refusedWith(r.c, 'answer_call', 'NOT_CALL_PARTY');
        await expectSilence(r.all, { why: 'refused answers change nothing' });
      } finally {
        await closeAll(r.all);
      }
    });

    test('answering a video call without video -> acceptedVideo false', T, async () => {
      const r = await cast(server, { callerSockets: 1, calleeSockets: 1 });
      try {
        const { callId } = await ring(r);
        const answered = await answer(r, callId, { acceptsVideo: false });
        assert.equal(answered.acceptedVideo, false);
      } finally {
        await closeAll(r.all);
      }
    });

    test('reject_call -> call_rejected to every socket of both; then the call is gone', T, async () => {
      const r = await cast(server);
      try {
        const { callId } = await ring(r);
        // Only the callee rejects.
        r.a[0].emit('reject_call', { callId });
        await refusedWith(r.a[0], 'reject_call', 'NOT_CALL_PARTY');
        r.c.emit('reject_call', { callId });
        await refusedWith(r.c, 'reject_call', 'NOT_CALL_PARTY');

        r.b[0].emit('reject_call', { callId, reason: 'busy' });
        for (const rejected of await takeAll([...r.a, ...r.b], 'call_rejected', callId)) {
          assert.deepEqual(Object.keys(rejected).sort(), ['callId', 'rejectedBy', 'timestamp']);
          assert.equal(rejected.rejectedBy, r.bob.profileid);
          assertIso(rejected.timestamp);
        }
        await expectSilence(r.all, { why: 'a rejection is one call_rejected, no call_ended' });
        r.b[1].emit('answer_call', { callId, acceptsVideo: true });
        await refusedWith(r.b[1], 'answer_call', 'CALL_NOT_FOUND');
      } finally {
        await closeAll(r.all);
      }
    });

    test('call_cancelled -> call_ended with reason cancelled on every socket of both (ringing stops)', T, async () => {
      const r = await cast(server);
      try {
        const { callId } = await ring(r);
        // Only the caller cancels.
        r.b[0].emit('call_cancelled', { callId });
        await refusedWith(r.b[0], 'call_cancelled', 'NOT_CALL_PARTY');

        r.a[0].emit('call_cancelled', { callId });
        for (const ended of await takeAll([...r.a, ...r.b], 'call_ended', callId)) {
          assert.equal(ended.reason, 'cancelled');
          assert.equal(ended.endedBy, r.alice.profileid);
          assert.equal(ended.duration, undefined, 'a call never answered has no duration');
          assertIso(ended.timestamp);
        }
        await expectSilence(r.all);
        r.b[0].emit('answer_call', { callId, acceptsVideo: true });
        await refusedWith(r.b[0], 'answer_call', 'CALL_NOT_FOUND');
      } finally {
        await closeAll(r.all);
      }
    });

    test('an answered call cannot be rejected or cancelled, only ended', T, async () => {
      const r = await cast(server, { callerSockets: 1, calleeSockets: 1 });
      try {
        const callId = await liveCall(r);
        r.b[0].emit('reject_call', { callId });
        await refusedWith(r.b[0], 'reject_call', 'INVALID_CALL_STATE');
        r.a[0].emit('call_cancelled', { callId });
        await refusedWith(r.a[0], 'call_cancelled', 'INVALID_CALL_STATE');
        await expectSilence(r.all);
      } finally {
        await closeAll(r.all);
      }
    });

    test('end_call on a ringing call: by the caller it is a cancel, by the callee a rejection', T, async () => {
      const r = await cast(server, { callerSockets: 1, calleeSockets: 1 });
      try {
        const first = await ring(r);
        r.a[0].emit('end_call', { callId: first.callId });
        for (const ended of await takeAll([r.a[0], r.b[0]], 'call_ended', first.callId)) {
          assert.equal(ended.reason, 'cancelled');
          assert.equal(ended.duration, undefined);
        }
        const second = await ring(r);
        r.b[0].emit('end_call', { callId: second.callId });
        for (const rejected of await takeAll([r.a[0], r.b[0]], 'call_rejected', second.callId)) {
          assert.equal(rejected.rejectedBy, r.bob.profileid);
        }
        await expectSilence(r.all);
      } finally {
        await closeAll(r.all);
      }
    });

    test('end_call -> call_ended to every socket of both, with the duration in seconds', T, async () => {
      const r = await cast(server);
      try {
        const callId = await liveCall(r);
        await sleep(1_200);
        r.c.emit('end_call', { callId });
        await refusedWith(r.c, 'end_call', 'NOT_CALL_PARTY');

        r.b[0].emit('end_call', { callId, reason: 'user_ended' });
        for (const ended of await takeAll([...r.a, ...r.b], 'call_ended', callId)) {
          assert.deepEqual(Object.keys(ended).sort(), ['callId', 'duration', 'endedBy', 'reason', 'timestamp']);
          assert.equal(ended.endedBy, r.bob.profileid);
          assert.equal(ended.reason, 'user_ended');
          assert.ok(Number.isInteger(ended.duration), `duration is whole seconds: ${ended.duration}`);
          assert.ok(ended.duration >= 1 && ended.duration <= 5, `duration ~1 s: ${ended.duration}`);
          assertRecent(assertIso(ended.timestamp));
        }
        await expectSilence(r.all, { why: 'a call ends once' });
        r.a[0].emit('end_call', { callId });
        await refusedWith(r.a[0], 'end_call', 'CALL_NOT_FOUND');
      } finally {
        await closeAll(r.all);
      }
    });

    test('end_call with reason network_issue keeps it; any other reason becomes user_ended', T, async () => {
      const r = await cast(server, { callerSockets: 1, calleeSockets: 1 });
      try {
        let callId = await liveCall(r);
        r.a[0].emit('end_call', { callId, reason: 'network_issue' });
        for (const ended of await takeAll([r.a[0], r.b[0]], 'call_ended', callId)) {
          assert.equal(ended.reason, 'network_issue');
          assert.equal(ended.endedBy, r.alice.profileid);
          assert.ok(Number.isInteger(ended.duration));
        }
        callId = await liveCall(r);
        r.a[0].emit('end_call', { callId, reason: 'my cat walked on the keyboard' });
        for (const ended of await takeAll([r.a[0], r.b[0]], 'call_ended', callId)) assert.equal(ended.reason, 'user_ended');
      } finally {
        await closeAll(r.all);
      }
    });

    // ------------------------------------------------------------ disconnects

    test("the callee's answering socket disconnects -> call_ended participant_disconnected to the rest of both", T, async () => {
      const r = await cast(server);
      try {
        const callId = await liveCall(r);
        await closeAll(r.b[0]);
        for (const ended of await takeAll([...r.a, r.b[1]], 'call_ended', callId)) {
          assert.equal(ended.reason, 'participant_disconnected');
          assert.equal(ended.endedBy, r.bob.profileid);
          assert.ok(Number.isInteger(ended.duration), 'the call was answered: it has a duration');
        }
        await expectSilence([...r.a, r.b[1], r.c]);
      } finally {
        await closeAll(r.all);
      }
    });

    test("the caller's socket in the call disconnects -> the callee gets call_ended participant_disconnected", T, async () => {
      const r = await cast(server);
      try {
        const callId = await liveCall(r);
        await closeAll(r.a[0]);
        for (const ended of await takeAll([r.a[1], ...r.b], 'call_ended', callId)) {
          assert.equal(ended.reason, 'participant_disconnected');
          assert.equal(ended.endedBy, r.alice.profileid);
        }
      } finally {
        await closeAll(r.all);
      }
    });

    test('a socket of a party that is not in the call may come and go: the call goes on', T, async () => {
      const r = await cast(server);
      try {
        const callId = await liveCall(r);
        await closeAll(r.b[1], r.a[1]);
        await expectSilence([r.a[0], r.b[0]], { ms: 600, why: 'other devices leaving do not end the call' });
        r.a[0].emit('webrtc_offer', { callId, targetId: r.bob.profileid, offer: OFFER });
        assert.equal((await r.b[0].inbox.take('webrtc_offer_received')).callId, callId);
      } finally {
        await closeAll(r.all);
      }
    });

    test('the caller disconnects while it rings -> ringing stops on every socket of the callee', T, async () => {
      const r = await cast(server);
      try {
        const { callId } = await ring(r);
        await closeAll(r.a[0]);
        for (const ended of await takeAll([r.a[1], ...r.b], 'call_ended', callId)) {
          assert.equal(ended.reason, 'participant_disconnected');
          assert.equal(ended.duration, undefined);
        }
      } finally {
        await closeAll(r.all);
      }
    });

    test('one of the ringing devices disconnects: the call still rings on the others', T, async () => {
      const r = await cast(server);
      try {
        const { callId } = await ring(r);
        await closeAll(r.b[1]);
        await expectSilence([...r.a, r.b[0]], { ms: 600 });
        await answer({ ...r, b: [r.b[0]] }, callId);
      } finally {
        await closeAll(r.all);
      }
    });

    // ------------------------------------------------------------ signaling

    test('offer, answer and ICE candidates are relayed with fromId, only to the socket in the call', T, async () => {
      const r = await cast(server);
      try {
        const callId = await liveCall(r); // answered on bob#1
        r.a[0].emit('webrtc_offer', { callId, targetId: r.bob.profileid, offer: OFFER });
        assert.deepEqual(await r.b[0].inbox.take('webrtc_offer_received'), { callId, fromId: r.alice.profileid, offer: OFFER });

        r.b[0].emit('webrtc_answer', { callId, targetId: r.alice.profileid, answer: ANSWER });
        assert.deepEqual(await r.a[0].inbox.take('webrtc_answer_received'), { callId, fromId: r.bob.profileid, answer: ANSWER });

        r.a[0].emit('webrtc_ice_candidate', { callId, targetId: r.bob.profileid, candidate: candidate(1) });
        assert.deepEqual(await r.b[0].inbox.take('webrtc_ice_candidate_received'), {
          callId,
          fromId: r.alice.profileid,
          candidate: candidate(1),
        });
        // The end-of-candidates marker as a browser's toJSON() writes it. A
        // null member arrives absent, which RTCIceCandidateInit reads the same
        // (null is its default).
        const end = { candidate: '', sdpMid: null, sdpMLineIndex: null, usernameFragment: null };
        r.b[0].emit('webrtc_ice_candidate', { callId, targetId: r.alice.profileid, candidate: end });
        assert.deepEqual(await r.a[0].inbox.take('webrtc_ice_candidate_received'), {
          callId,
          fromId: r.bob.profileid,
          candidate: { candidate: '' },
        });

        await expectSilence([...r.a, ...r.b, r.c], {
          why: "the parties' other devices and the third user receive no signaling",
        });
      } finally {
        await closeAll(r.all);
      }
    });

    test('signaling to anyone but the other party is refused with INVALID_TARGET and never relayed', T, async () => {
      const r = await cast(server);
      try {
        const callId = await liveCall(r);
        r.a[0].emit('webrtc_offer', { callId, targetId: r.carol.profileid, offer: OFFER });
        await refusedWith(r.a[0], 'webrtc_offer', 'INVALID_TARGET');
        r.a[0].emit('webrtc_ice_candidate', { callId, targetId: r.alice.profileid, candidate: candidate(1) });
        await refusedWith(r.a[0], 'webrtc_ice_candidate', 'INVALID_TARGET');
        r.b[0].emit('webrtc_answer', { callId, targetId: r.carol.profileid, answer: ANSWER });
        await refusedWith(r.b[0], 'webrtc_answer', 'INVALID_TARGET');
        r.b[0].emit('webrtc_answer', { callId, targetId: 'nobody-at-all', answer: ANSWER });
        await refusedWith(r.b[0], 'webrtc_answer', 'INVALID_TARGET');
        await expectSilence(r.all, { why: 'refused signaling is never relayed' });
      } finally {
        await closeAll(r.all);
      }
    });

    test('a third user cannot signal into a call (NOT_CALL_PARTY); unknown and ended calls are CALL_NOT_FOUND', T, async () => {
      const r = await cast(server);
      try {
        const callId = await liveCall(r);
        r.c.emit('webrtc_offer', { callId, targetId: r.bob.profileid, offer: OFFER });
        await refusedWith(r.c, 'webrtc_offer', 'NOT_CALL_PARTY');
        r.c.emit('webrtc_ice_candidate', { callId, targetId: r.alice.profileid, candidate: candidate(1) });
        await refusedWith(r.c, 'webrtc_ice_candidate', 'NOT_CALL_PARTY');
        r.c.emit('webrtc_answer', { callId, targetId: r.alice.profileid, answer: ANSWER });
        await refusedWith(r.c, 'webrtc_answer', 'NOT_CALL_PARTY');

        r.a[0].emit('webrtc_offer', { callId: 'no-such-call', targetId: r.bob.profileid, offer: OFFER });
        await refusedWith(r.a[0], 'webrtc_offer', 'CALL_NOT_FOUND');

        r.a[0].emit('end_call', { callId });
        await takeAll([...r.a, ...r.b], 'call_ended', callId);
        r.a[0].emit('webrtc_ice_candidate', { callId, targetId: r.bob.profileid, candidate: candidate(2) });
        await refusedWith(r.a[0], 'webrtc_ice_candidate', 'CALL_NOT_FOUND');
        r.b[0].emit('webrtc_answer', { callId, targetId: r.alice.profileid, answer: ANSWER });
        await refusedWith(r.b[0], 'webrtc_answer', 'CALL_NOT_FOUND');
        await expectSilence(r.all, { why: 'nothing is relayed into or out of a call by strangers or after it ended' });
      } finally {
        await closeAll(r.all);
      }
    });

    test('signaling that does not match the contract is refused with VALIDATION_ERROR', T, async () => {
      const r = await cast(server, { callerSockets: 1, calleeSockets: 1 });
      try {
        const callId = await liveCall(r);
        r.a[0].emit('webrtc_offer', { callId, targetId: r.bob.profileid, offer: { type: 'bogus', sdp: 'x' } });
        await refusedWith(r.a[0], 'webrtc_offer', 'VALIDATION_ERROR');
        r.a[0].emit('webrtc_ice_candidate', { callId, targetId: r.bob.profileid });
        await refusedWith(r.a[0], 'webrtc_ice_candidate', 'VALIDATION_ERROR');
        await expectSilence(r.all);
      } finally {
        await closeAll(r.all);
      }
    });

    test('ICE candidates never overtake the offer: offer + 20 candidates sent back-to-back arrive in order', T, async () => {
      const r = await cast(server, { callerSockets: 1, calleeSockets: 2 });
      try {
        const callId = await liveCall(r);
        const target = r.bob.profileid;
        r.a[0].emit('webrtc_offer', { callId, targetId: target, offer: OFFER });
        for (let i = 0; i < 20; i += 1) r.a[0].emit('webrtc_ice_candidate', { callId, targetId: target, candidate: candidate(i) });
        await r.b[0].inbox.takeN('webrtc_ice_candidate_received', 20);
        const relayed = r.b[0].inbox.items.filter((item) => item.event.startsWith('webrtc_'));
        assert.deepEqual(
          relayed.map((item) => (item.event === 'webrtc_offer_received' ? 'offer' : item.data.candidate.candidate.split(' ')[0])),
          ['offer', ...Array.from({ length: 20 }, (_, i) => `candidate:${i}`)],
          'the offer first, then every candidate in the order sent',
        );
        await expectSilence([r.a[0], r.b[1], r.c]);
      } finally {
        await closeAll(r.all);
      }
    });

    // ------------------------------------------------------------ controls

    test('toggle_mute / toggle_video / toggle_screen_share -> participant_* to the other party only', T, async () => {
      const r = await cast(server);
      try {
        const callId = await liveCall(r);
        r.a[0].emit('toggle_mute', { callId, muted: true });
        for (const socket of r.b) {
          const muted = await socket.inbox.take('participant_muted');
          assert.deepEqual(Object.keys(muted).sort(), ['callId', 'muted', 'profileid', 'timestamp']);
          assert.equal(muted.callId, callId);
          assert.equal(muted.profileid, r.alice.profileid);
          assert.equal(muted.muted, true);
          assertRecent(assertIso(muted.timestamp));
        }
        r.b[0].emit('toggle_video', { callId, videoEnabled: false });
        for (const socket of r.a) {
          const toggled = await socket.inbox.take('participant_video_toggled');
          assert.equal(toggled.profileid, r.bob.profileid);
          assert.equal(toggled.videoEnabled, false);
          assertIso(toggled.timestamp);
        }
        r.a[1].emit('toggle_screen_share', { callId, screenSharing: true });
        for (const socket of r.b) {
          const shared = await socket.inbox.take('participant_screen_share_toggled');
          assert.equal(shared.profileid, r.alice.profileid);
          assert.equal(shared.screenSharing, true);
          assertIso(shared.timestamp);
        }
        await expectSilence(r.all, { why: 'a toggle reaches only the other party, never the toggler nor a third user' });
      } finally {
        await closeAll(r.all);
      }
    });

    test('controls are refused to non-parties (NOT_CALL_PARTY) and for unknown calls (CALL_NOT_FOUND)', T, async () => {
      const r = await cast(server, { callerSockets: 1, calleeSockets: 1 });
      try {
        const callId = await liveCall(r);
        r.c.emit('toggle_mute', { callId, muted: true });
        await refusedWith(r.c, 'toggle_mute', 'NOT_CALL_PARTY');
        r.c.emit('toggle_video', { callId, videoEnabled: true });
        await refusedWith(r.c, 'toggle_video', 'NOT_CALL_PARTY');
        r.c.emit('toggle_screen_share', { callId, screenSharing: true });
        await refusedWith(r.c, 'toggle_screen_share', 'NOT_CALL_PARTY');
        r.a[0].emit('toggle_mute', { callId: 'no-such-call', muted: true });
        await refusedWith(r.a[0], 'toggle_mute', 'CALL_NOT_FOUND');
        await expectSilence(r.all);
      } finally {
        await closeAll(r.all);
      }
    });

    // ------------------------------------------------------------ refusals of initiate_call

    test('initiate_call is refused without a shared chat: NO_SHARED_CHAT', T, async () => {
      const r = await cast(server, { callerSockets: 1, calleeSockets: 1 });
      const dave = await newUser(server, 'dave');
      const d = await dave.socket();
      try {
        assertRefusedAck(await emitAck(r.a[0], 'initiate_call', { targetId: dave.profileid, callType: 'video' }), 'NO_SHARED_CHAT');
        // A named chat the receiver is not in does not count, even when another chat is shared.
        const aliceAndCarol = await createChat(server, r.alice, { participants: [r.carol] });
        assertRefusedAck(
          await emitAck(r.a[0], 'initiate_call', { targetId: r.bob.profileid, callType: 'video', chatid: aliceAndCarol }),
          'NO_SHARED_CHAT',
        );
        assertRefusedAck(
          await emitAck(r.a[0], 'initiate_call', { targetId: r.bob.profileid, callType: 'voice', chatid: 'no-such-chat' }),
          'NO_SHARED_CHAT',
        );
        // Nor a chat the caller is not in.
        const bobAndDave = await createChat(server, r.bob, { participants: [dave] });
        assertRefusedAck(
          await emitAck(r.a[0], 'initiate_call', { targetId: dave.profileid, callType: 'voice', chatid: bobAndDave }),
          'NO_SHARED_CHAT',
        );
        await expectSilence([...r.all, d], { why: 'a refused call rings nowhere' });
      } finally {
        await closeAll(r.all, d);
      }
    });

    test('initiate_call is refused when the receiver is offline: RECEIVER_OFFLINE', T, async () => {
      const r = await cast(server, { callerSockets: 1, calleeSockets: 0 });
      try {
        assertRefusedAck(
          await emitAck(r.a[0], 'initiate_call', { targetId: r.bob.profileid, callType: 'video', chatid: r.chatid }),
          'RECEIVER_OFFLINE',
        );
        // Offline again after having been online.
        const b = await r.bob.socket();
        await closeAll(b);
        await sleep(200);
        assertRefusedAck(
          await emitAck(r.a[0], 'initiate_call', { targetId: r.bob.profileid, callType: 'video', chatid: r.chatid }),
          'RECEIVER_OFFLINE',
        );
        await expectSilence(r.all);
      } finally {
        await closeAll(r.all);
      }
    });

    test('initiate_call is refused when either party is in a call: CALLER_BUSY / RECEIVER_BUSY', T, async () => {
      const r = await cast(server, { callerSockets: 2, calleeSockets: 1 });
      const [dave, erin] = await users(server, 'dave', 'erin');
      await createChat(server, dave, { participants: [r.alice, r.bob, r.carol, erin] });
      const d = await dave.socket();
      const e = await erin.socket();
      try {
        // alice rings bob (not answered yet): both are busy already.
        const { callId } = await ring(r);
        const call = (from, to) => emitAck(from, 'initiate_call', { targetId: to.profileid, callType: 'voice' });
        assertRefusedAck(await call(r.a[1], r.carol), 'CALLER_BUSY'); // from alice's other device too
        assertRefusedAck(await call(r.b[0], r.carol), 'CALLER_BUSY'); // the callee of a ringing call
        assertRefusedAck(await call(r.c, r.bob), 'RECEIVER_BUSY');
        assertRefusedAck(await call(r.c, r.alice), 'RECEIVER_BUSY');
        // Answered: still busy.
        await answer(r, callId);
        assertRefusedAck(await call(d, r.alice), 'RECEIVER_BUSY');
        assertRefusedAck(await call(r.a[0], r.carol), 'CALLER_BUSY');
        // Others may call each other meanwhile.
        const other = await emitAck(d, 'initiate_call', { targetId: erin.profileid, callType: 'voice' });
        assert.equal(other.success, true, JSON.stringify(other));
        await e.inbox.take('incoming_call');
        await expectSilence([...r.all, d], { why: 'refused calls ring nowhere' });
        // Once the call ended, alice and bob may be called again.
        r.a[0].emit('end_call', { callId });
        await takeAll([...r.a, ...r.b], 'call_ended', callId);
        await ring(r, { from: r.c, to: r.alice, ringing: r.a, chatid: r.groupid });
      } finally {
        await closeAll(r.all, d, e);
      }
    });

    test('initiate_call to yourself is refused: INVALID_TARGET', T, async () => {
      const r = await cast(server, { callerSockets: 2, calleeSockets: 0 });
      try {
        assertRefusedAck(
          await emitAck(r.a[0], 'initiate_call', { targetId: r.alice.profileid, callType: 'video', chatid: r.chatid }),
          'INVALID_TARGET',
        );
        await expectSilence(r.all);
      } finally {
        await closeAll(r.all);
      }
    });

    test('initiate_call that does not match the contract is refused: VALIDATION_ERROR', T, async () => {
      const r = await cast(server, { callerSockets: 1, calleeSockets: 1 });
      try {
        assertRefusedAck(await emitAck(r.a[0], 'initiate_call', { targetId: r.bob.profileid, callType: 'hologram' }), 'VALIDATION_ERROR');
        assertRefusedAck(await emitAck(r.a[0], 'initiate_call', { callType: 'video' }), 'VALIDATION_ERROR');
        await expectSilence(r.all);
      } finally {
        await closeAll(r.all);
      }
    });

    test('the 6th call initiation in a minute is refused: RATE_LIMITED with retryAfter (call_offer counts too)', T, async () => {
      const r = await cast(server, { callerSockets: 1, calleeSockets: 1 });
      try {
        for (let i = 0; i < 5; i += 1) {
          const { callId } = await ring(r, { event: i < 3 ? 'initiate_call' : 'call_offer' });
          r.a[0].emit('call_cancelled', { callId });
          await takeAll([r.a[0], r.b[0]], 'call_ended', callId);
        }
        for (const event of ['initiate_call', 'call_offer']) {
          const ack = await emitAck(r.a[0], event, { targetId: r.bob.profileid, callType: 'video', chatid: r.chatid });
          assert.equal(ack.success, false, JSON.stringify(ack));
          assert.equal(ack.code, 'RATE_LIMITED', JSON.stringify(ack));
          assert.equal(typeof ack.retryAfter, 'number', `retryAfter: ${JSON.stringify(ack)}`);
          assert.ok(ack.retryAfter > 0 && ack.retryAfter <= 60, `retryAfter within the minute: ${ack.retryAfter}`);
          assert.equal(ack.callId, undefined);
          const limited = await r.a[0].inbox.take('rate_limited');
          assert.equal(limited.error, 'rate_limited');
          assert.equal(typeof limited.retryAfter, 'number');
        }
        await expectSilence(r.all, { why: 'a rate-limited call rings nowhere' });
        // Another user is not limited by alice's calls.
        const { callId } = await ring(r, { from: r.c, to: r.bob, chatid: r.groupid });
        assert.ok(callId);
      } finally {
        await closeAll(r.all);
      }
    });

    // ------------------------------------------------------------ legacy aliases

    test('call_offer behaves like initiate_call', T, async () => {
      const r = await cast(server);
      try {
        const { ack, incoming } = await ring(r, { event: 'call_offer' });
        assert.deepEqual(Object.keys(ack).sort(), ['callId', 'callType', 'callerId', 'receiverId', 'success', 'timestamp']);
        assert.equal(incoming.callerId, r.alice.profileid);
        assertRefusedAck(
          await emitAck(r.c, 'call_offer', { targetId: r.bob.profileid, callType: 'voice' }),
          'RECEIVER_BUSY',
        );
        await expectSilence(r.all);
      } finally {
        await closeAll(r.all);
      }
    });

    test('call_answer behaves like answer_call', T, async () => {
      const r = await cast(server);
      try {
        const { callId } = await ring(r);
        const answered = await answer(r, callId, { event: 'call_answer' });
        assert.equal(answered.answeredBy, r.bob.profileid);
        r.b[1].emit('call_answer', { callId, acceptsVideo: true });
        await refusedWith(r.b[1], 'call_answer', 'INVALID_CALL_STATE');
      } finally {
        await closeAll(r.all);
      }
    });

    // `call_rejected` is what the seed's migration table tells clients of
    // `decline_call` / `call_reject` to emit (and also the server's event).
    for (const alias of ['decline_call', 'call_reject', 'call_rejected']) {
      test(`${alias} behaves like reject_call`, T, async () => {
        const r = await cast(server);
        try {
          const { callId } = await ring(r);
          r.a[0].emit(alias, { callId });
          await refusedWith(r.a[0], alias, 'NOT_CALL_PARTY');
          r.b[1].emit(alias, { callId, reason: 'busy' });
          for (const rejected of await takeAll([...r.a, ...r.b], 'call_rejected', callId)) {
            assert.equal(rejected.rejectedBy, r.bob.profileid);
          }
          await expectSilence(r.all);
        } finally {
          await closeAll(r.all);
        }
      });
    }

    test('call_end behaves like end_call', T, async () => {
      const r = await cast(server);
      try {
        const callId = await liveCall(r);
        await sleep(1_100);
        r.a[0].emit('call_end', { callId });
        for (const ended of await takeAll([...r.a, ...r.b], 'call_ended', callId)) {
          assert.equal(ended.reason, 'user_ended');
          assert.equal(ended.endedBy, r.alice.profileid);
          assert.ok(Number.isInteger(ended.duration) && ended.duration >= 1, `duration: ${ended.duration}`);
        }
        // Ringing, by the caller: a cancel.
        const { callId: ringing } = await ring(r);
        r.a[0].emit('call_end', { callId: ringing });
        for (const ended of await takeAll([...r.a, ...r.b], 'call_ended', ringing)) assert.equal(ended.reason, 'cancelled');
        r.c.emit('call_end', { callId: ringing });
        await refusedWith(r.c, 'call_end', 'CALL_NOT_FOUND');
      } finally {
        await closeAll(r.all);
      }
    });

    test('cancel_call behaves like call_cancelled', T, async () => {
      const r = await cast(server);
      try {
        const { callId } = await ring(r);
        r.b[0].emit('cancel_call', { callId });
        await refusedWith(r.b[0], 'cancel_call', 'NOT_CALL_PARTY');
        r.a[0].emit('cancel_call', { callId });
        for (const ended of await takeAll([...r.a, ...r.b], 'call_ended', callId)) {
          assert.equal(ended.reason, 'cancelled');
          assert.equal(ended.endedBy, r.alice.profileid);
        }
        await expectSilence(r.all);
      } finally {
        await closeAll(r.all);
      }
    });

    test('ice_candidate behaves like webrtc_ice_candidate: relayed in order to the target only, refused otherwise', T, async () => {
      const r = await cast(server);
      try {
        const callId = await liveCall(r);
        r.a[0].emit('webrtc_offer', { callId, targetId: r.bob.profileid, offer: OFFER });
        for (let i = 0; i < 5; i += 1) r.a[0].emit('ice_candidate', { callId, targetId: r.bob.profileid, candidate: candidate(i) });
        await r.b[0].inbox.take('webrtc_offer_received');
        const relayed = await r.b[0].inbox.takeN('webrtc_ice_candidate_received', 5);
        assert.deepEqual(
          relayed,
          Array.from({ length: 5 }, (_, i) => ({ callId, fromId: r.alice.profileid, candidate: candidate(i) })),
        );
        r.a[0].emit('ice_candidate', { callId, targetId: r.carol.profileid, candidate: candidate(9) });
        await refusedWith(r.a[0], 'ice_candidate', 'INVALID_TARGET');
        r.c.emit('ice_candidate', { callId, targetId: r.bob.profileid, candidate: candidate(9) });
        await refusedWith(r.c, 'ice_candidate', 'NOT_CALL_PARTY');
        r.c.emit('ice_candidate', { callId: 'no-such-call', targetId: r.bob.profileid, candidate: candidate(9) });
        await refusedWith(r.c, 'ice_candidate', 'CALL_NOT_FOUND');
        await expectSilence(r.all);
      } finally {
        await closeAll(r.all);
      }
    });

    // ------------------------------------------------------------ history

    test(
      'a client-chosen callId used twice does not overwrite the first call in the history',
      T,
      async () => {
        const r = await cast(server, { callerSockets: 1, calleeSockets: 1 });
        try {
          const callId = uid('call');
          const first = await ring(r, { callId });
          r.b[0].emit('reject_call', { callId: first.callId });
          await takeAll([r.a[0], r.b[0]], 'call_rejected', first.callId);
          const second = await ring(r, { callId });
          r.a[0].emit('call_cancelled', { callId: second.callId });
          await takeAll([r.a[0], r.b[0]], 'call_ended', second.callId);

          const calls = await history(server, r.alice);
          assert.equal(calls.length, 2, `both calls are in the history: ${JSON.stringify(calls)}`);
          assert.deepEqual(calls.map((c) => c.status), ['cancelled', 'rejected'], JSON.stringify(calls));
        } finally {
          await closeAll(r.all);
        }
      },
    );

    test('GET /api/calls lists the calls with status, parties, type, timestamps and duration', T, async () => {
      const r = await cast(server, { callerSockets: 1, calleeSockets: 1 });
      try {
        // ended (answered, ~1 s)
        const ended = await liveCall(r);
        let live = (await history(server, r.alice)).find((c) => c.callId === ended);
        assert.equal(live?.status, 'active', `an answered call is active: ${JSON.stringify(live)}`);
        assertIso(live.answeredAt, 'answeredAt');
        await sleep(1_100);
        r.b[0].emit('end_call', { callId: ended });
        await takeAll([r.a[0], r.b[0]], 'call_ended', ended);
        // rejected
        const { callId: rejected } = await ring(r, { callType: 'voice' });
        r.b[0].emit('reject_call', { callId: rejected });
        await takeAll([r.a[0], r.b[0]], 'call_rejected', rejected);
        // cancelled
        const { callId: cancelled } = await ring(r);
        r.a[0].emit('call_cancelled', { callId: cancelled });
        await takeAll([r.a[0], r.b[0]], 'call_ended', cancelled);
        // still ringing
        const { callId: ringing } = await ring(r, { callType: 'voice' });
        live = (await history(server, r.bob)).find((c) => c.callId === ringing);
        assert.equal(live?.status, 'ringing', `a call that rings: ${JSON.stringify(live)}`);

        for (const user of [r.alice, r.bob]) {
          const calls = await history(server, user);
          const byId = new Map(calls.map((c) => [c.callId, c]));
          for (const id of [ended, rejected, cancelled, ringing]) assert.ok(byId.has(id), `${user.profileid} sees ${id}: ${JSON.stringify(calls)}`);
          for (const call of calls) {
            assert.equal(call.callerId, r.alice.profileid);
            assert.equal(call.receiverId, r.bob.profileid);
            assertIso(call.rungAt, 'rungAt');
          }
          // Newest first.
          const order = calls.map((c) => c.callId).filter((id) => [ended, rejected, cancelled, ringing].includes(id));
          assert.deepEqual(order, [ringing, cancelled, rejected, ended], 'newest first');

          const e = byId.get(ended);
          assert.equal(e.status, 'ended');
          assert.equal(e.callType, 'video');
          assert.equal(e.chatid, r.chatid);
          assert.equal(e.endReason, 'user_ended');
          assert.equal(e.endedBy, r.bob.profileid);
          const rung = assertIso(e.rungAt, 'rungAt');
          const answeredAt = assertIso(e.answeredAt, 'answeredAt');
          const endedAt = assertIso(e.endedAt, 'endedAt');
          assert.ok(rung <= answeredAt && answeredAt <= endedAt, `rung <= answered <= ended: ${JSON.stringify(e)}`);
          assert.ok(Number.isInteger(e.duration) && e.duration >= 1, `duration: ${JSON.stringify(e)}`);

          const j = byId.get(rejected);
          assert.equal(j.status, 'rejected');
          assert.equal(j.callType, 'voice');
          assert.equal(j.endReason, 'rejected');
          assert.equal(j.endedBy, r.bob.profileid);
          assert.equal(j.answeredAt, undefined);
          assert.equal(j.duration, undefined);
          assertIso(j.endedAt, 'endedAt');

          const c = byId.get(cancelled);
          assert.equal(c.status, 'cancelled');
          assert.equal(c.endReason, 'cancelled');
          assert.equal(c.endedBy, r.alice.profileid);
          assert.equal(c.duration, undefined);

          const g = byId.get(ringing);
          assert.equal(g.status, 'ringing');
          assert.equal(g.endedAt, undefined);
        }
        // Nobody else sees them.
        const carols = await history(server, r.carol);
        assert.deepEqual(
          carols.filter((c) => [ended, rejected, cancelled, ringing].includes(c.callId)),
          [],
          'a third user does not see the calls of others',
        );
        assertRestError(await api(server, null, 'GET', '/api/calls'), 401, 'GET /api/calls without a token');
      } finally {
        await closeAll(r.all);
      }
    });
  });

  describe(`unanswered calls are missed [${db.name}]`, { skip: db.skip }, () => {
    let server;
    before(async () => {
      server = await startServer({ database: db.name, name: 'calls-missed', args: ['--call-ring-timeout', '2'] });
    });
    after(async () => {
      await server?.stop();
    });

    test('no answer within --call-ring-timeout -> call_missed on every socket of both, recorded as missed', T, async () => {
      const r = await cast(server);
      try {
        const started = Date.now();
        const { callId } = await ring(r);
        for (const missed of await takeAll([...r.a, ...r.b], 'call_missed', callId)) {
          assert.deepEqual(Object.keys(missed).sort(), ['callId', 'callerId', 'timestamp']);
          assert.equal(missed.callerId, r.alice.profileid);
          assertIso(missed.timestamp);
        }
        const waited = Date.now() - started;
        assert.ok(waited >= 1_500 && waited < 8_000, `missed after the 2 s ring timeout (${waited} ms)`);
        await expectSilence(r.all, { why: 'a missed call is one call_missed, no call_ended' });
        r.b[0].emit('answer_call', { callId, acceptsVideo: true });
        await refusedWith(r.b[0], 'answer_call', 'CALL_NOT_FOUND');

        const record = (await history(server, r.bob)).find((c) => c.callId === callId);
        assert.equal(record?.status, 'missed', JSON.stringify(record));
        assert.equal(record.endReason, 'timeout');
        assert.equal(record.endedBy, 'system');
        assert.equal(record.duration, undefined);

        // Both are free again.
        await ring(r);
      } finally {
        await closeAll(r.all);
      }
    });

    test("a call that reuses an ended call's id rings for its own full timeout", T, async () => {
      const r = await cast(server, { callerSockets: 1, calleeSockets: 1 });
      try {
        const callId = uid('call');
        await ring(r, { callId });
        r.a[0].emit('call_cancelled', { callId });
        await takeAll([r.a[0], r.b[0]], 'call_ended', callId);
        // The first call's ring timer fires during the second call's ringing.
        await sleep(1_000);
        const started = Date.now();
        const second = await ring(r, { callId });
        await r.a[0].inbox.take('call_missed', { where: (d) => d.callId === second.callId });
        const waited = Date.now() - started;
        assert.ok(waited >= 1_500, `the second call rang its own 2 s, not what was left of the first's (${waited} ms)`);
      } finally {
        await closeAll(r.all);
      }
    });

    test('an answered call is not missed by the ring timeout', T, async () => {
      const r = await cast(server, { callerSockets: 1, calleeSockets: 1 });
      try {
        const callId = await liveCall(r);
        await expectSilence(r.all, { ms: 3_000, why: 'the ring timeout does not touch an answered call' });
        r.a[0].emit('webrtc_offer', { callId, targetId: r.bob.profileid, offer: OFFER });
        await r.b[0].inbox.take('webrtc_offer_received');
      } finally {
        await closeAll(r.all);
      }
    });
  });
}
