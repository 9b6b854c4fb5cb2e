// Issue 8, "Resource limits" and the database half of "Crash safety", end to
// end against the real binary:
//
// 1. a socket is in at most 100 chat rooms at once (LIMIT_EXCEEDED past it);
// 2. the contract's per-user rate limits on typing, reactions and read
//    receipts: RATE_LIMITED + `rate_limited`, nothing past the limit relayed;
// 3. new Socket.IO connections per client address per minute
//    (`--max-connections-per-minute`, TOO_MANY_CONNECTIONS);
// 4. a client that stops reading is dropped within a bound while a flood
//    goes on, the server's memory stays bounded, everyone else is served;
// 5. PostgreSQL refusing connections under a running server: sends fail
//    with STORAGE_UNAVAILABLE, `/ready` says 503, service resumes by itself,
//    and history holds exactly what was acknowledged.
//
// Every loop is bounded in count and time; all traffic is on 127.0.0.1.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';

import {
  DEFAULT_POSTGRES_URL,
  REPO_ROOT,
  assertErrorPayload,
  closeAll,
  cmid,
  connect,
  createChat,
  emitAck,
  fullHistory,
  joinChat,
  newUser,
  postgresStatus,
  recordAck,
  sendMessage,
  sendOk,
  sendPaced,
  sleep,
  startServer,
  waitDisconnect,
} from '../support/index.mjs';
import { answerHeartbeats, getJson, pollJson, scrape, scrapeUntil, value } from '../support/ops.mjs';

const T = { timeout: 120_000 };

// ---------------------------------------------------------------- the contract's numbers

const MANIFEST = JSON.parse(readFileSync(join(REPO_ROOT, 'contract', 'manifest.json'), 'utf8'));

/** `{ count, periodMs }` of a client event's contract rate limit. */
function contractRate(name) {
  const spec = MANIFEST.events.find((event) => event.name === name);
  assert.ok(spec, `the manifest has ${name}`);
  const rate = spec.limits?.rate;
  assert.ok(rate && rate.count > 0 && rate.periodSeconds > 0, `${name} has a rate limit in the manifest: ${JSON.stringify(spec.limits)}`);
  return { count: rate.count, periodMs: rate.periodSeconds * 1000 };
}

// ---------------------------------------------------------------- raw engine.io v4 client

/**
 * A raw engine.io v4 WebSocket (as in security-frames.test.mjs), answering
 * engine.io pings while it reads. `authenticate(profileid)` completes the
 * Socket.IO handshake and waits for `authenticated`.
 */
function rawSocket(server, { cookie, answerHeartbeats = false } = {}) {
  const url = `ws://127.0.0.1:${server.port}/socket.io/?EIO=4&transport=websocket`;
  const ws = new WebSocket(url, { headers: cookie ? { Cookie: cookie } : {} });
  const frames = [];
  const waiters = [];
  let bytes = 0;
  ws.on('message', (data, isBinary) => {
    const text = isBinary ? data : data.toString();
    bytes += data.length;
    if (text === '2') ws.send('3'); // engine.io ping
    if (answerHeartbeats && typeof text === 'string') {
      // The contract's application heartbeat: heartbeat -> heartbeat_response, ping -> pong.
      const heartbeat = /^42\["heartbeat",(\{.*\})\]$/.exec(text);
      if (heartbeat) {
        const { timestamp } = JSON.parse(heartbeat[1]);
        ws.send(`42${JSON.stringify(['heartbeat_response', { timestamp, clientTime: new Date().toISOString() }])}`);
      }
      const ping = /^42\["ping",(\d+)\]$/.exec(text);
      if (ping) ws.send(`42["pong",${ping[1]}]`);
    }
    frames.push(text);
    for (const waiter of [...waiters]) waiter();
  });
  let closedAt = null;
  const closed = new Promise((done) =>
    ws.on('close', (code) => {
      closedAt = Date.now();
      done(code);
    }),
  );
  ws.on('error', () => {});
  const opened = new Promise((done, fail) => {
    ws.once('message', (data) => (data.toString().startsWith('0') ? done() : fail(new Error(`no open packet: ${data}`))));
    ws.once('error', fail);
  });
  const raw = {
    ws,
    frames,
    closed,
    opened,
    get bytes() {
      return bytes;
    },
    get closedAt() {
      return closedAt;
    },
    /** Waits for a frame matching `match`, or null after `ms`. */
    async frame(match, ms = 3_000) {
      const deadline = Date.now() + ms;
      while (Date.now() < deadline) {
        const hit = frames.find((f) => typeof f === 'string' && match(f));
        if (hit) return hit;
        await Promise.race([new Promise((done) => waiters.push(done)), sleep(50)]);
      }
      return null;
    },
    async authenticate(profileid) {
      await opened;
      ws.send(`40${JSON.stringify({ profileid, timestamp: Date.now() })}`);
      const hit = await raw.frame((f) => f.startsWith('42["authenticated"'), 10_000);
      assert.ok(hit, `raw socket authenticated; frames: ${JSON.stringify(frames.slice(0, 5)).slice(0, 500)}`);
    },
  };
  return raw;
}

/** The resident set size of a process in bytes, from /proc. */
function rssBytes(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  assert.ok(match, `VmRSS in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

const MB = 1024 * 1024;

// ================================================================ 1. chats joined per socket

describe('chats joined per socket', () => {
  const MAX = 100;
  let server;
  before(async () => {
    server = await startServer({ name: 'limits-rooms' });
  });
  after(async () => {
    await server?.stop();
  });

  test(`a socket is in at most ${MAX} chat rooms; the next join is LIMIT_EXCEEDED until one is left`, T, async () => {
    const alice = await newUser(server, 'alice');
    const bob = await newUser(server, 'bob');
    const chats = [];
    for (let i = 0; i < MAX; i += 1) chats.push(await createChat(server, alice));
    // The 101st has bob in it, to see whether the socket really is in its room.
    const extra = await createChat(server, alice, { participants: [bob] });
    const { socket } = await alice.connect();
    const bobSocket = await bob.socket();
    try {
      for (const chatid of chats) socket.emit('join_chat', { chatid });
      const joined = await socket.inbox.takeN('chat_joined', MAX, { timeout: 30_000 });
      assert.deepEqual(new Set(joined.map((j) => j.chatid)), new Set(chats), `all ${MAX} joins answered with chat_joined`);
      assert.equal(socket.inbox.all('chat_error').length, 0, `no chat_error for the first ${MAX}:\n${socket.inbox.summary()}`);

      // The 101st.
      socket.emit('join_chat', { chatid: extra });
      const refusal = await socket.inbox.take('chat_error', { where: (e) => e.chatid === extra });
      assertErrorPayload(refusal, 'LIMIT_EXCEEDED', `chat_error for join number ${MAX + 1}`);
      // Not in the room: bob's typing there does not reach this socket.
      bobSocket.emit('typing_start', { chatid: extra });
      await socket.inbox.expectNone('user_typing', 800, (t) => t.chatid === extra, 'the refused join put the socket in no room');
      bobSocket.emit('typing_stop', { chatid: extra });

      // Joining a chat it is already in is fine at the limit (no new room).
      socket.emit('join_chat', { chatid: chats[0] });
      await socket.inbox.take('chat_joined', { where: (j) => j.chatid === chats[0], what: 'chat_joined for a re-join at the limit' });

      // The limit is per socket: the same user's second socket joins the 101st.
      const second = await alice.socket();
      await joinChat(second, extra);
      second.close();

      // Leave one; the 101st is then accepted (events of a socket run in order).
      socket.emit('leave_chat', { chatid: chats[0] });
      socket.emit('join_chat', { chatid: extra });
      await socket.inbox.take('chat_joined', { where: (j) => j.chatid === extra, what: `chat_joined for ${extra} after a leave` });
      await sleep(300); // bob's own typing_stop from above may still be in flight
      bobSocket.emit('typing_start', { chatid: extra });
      await socket.inbox.take('user_typing', { where: (t) => t.chatid === extra && t.profileid === bob.profileid, what: 'user_typing in the joined 101st room' });
      bobSocket.emit('typing_stop', { chatid: extra });

      // And the one it left is now the one over the limit.
      socket.emit('join_chat', { chatid: chats[0] });
      const again = await socket.inbox.take('chat_error', { where: (e) => e.chatid === chats[0] });
      assertErrorPayload(again, 'LIMIT_EXCEEDED', 'chat_error for re-joining the left chat at the limit');

      // Connected throughout, and still served.
      assert.ok(socket.connected, 'the socket stays connected');
      assert.equal(socket.inbox.all('$disconnect').length, 0, 'no disconnect');
      await sendOk(socket, chats[50], 'still here');
    } finally {
      await closeAll(socket, bobSocket);
    }
  });
});

// ================================================================ 2. rate limits

describe('rate limits on typing, reactions and read receipts (per user, from the contract)', () => {
  let server;
  let alice;
  let bob;
  let chatid;
  let aliceSocket;
  let bobSocket;
  before(async () => {
    server = await startServer({ name: 'limits-rate' });
    alice = await newUser(server, 'alice');
    bob = await newUser(server, 'bob');
    chatid = await createChat(server, alice, { participants: [bob] });
    aliceSocket = await alice.socket();
    bobSocket = await bob.socket();
    await joinChat(aliceSocket, chatid);
    await joinChat(bobSocket, chatid);
  });
  after(async () => {
    await closeAll(aliceSocket, bobSocket);
    await server?.stop();
  });

  /** Items of `socket`'s inbox that arrived after `mark` (an inbox length). */
  const since = (socket, mark, event, where = () => true) =>
    socket.inbox.items.slice(mark).filter((item) => item.event === event && where(item.data));

  /**
   * Emits `emits` ([socket, event, payload]) as fast as possible, then a
   * sentinel `join_chat` on every socket used: a socket's events run in
   * order, so its `chat_joined` means the burst was handled. Resolves with
   * the inbox marks and the time the burst took (an upper bound of the
   * server-side window, for the limiter's refill).
   */
  async function burst(emits, watchers) {
    const sockets = [...new Set(emits.map(([socket]) => socket))];
    const marks = new Map([...new Set([...sockets, ...watchers])].map((s) => [s, s.inbox.items.length]));
    const started = performance.now();
    for (const [socket, event, payload] of emits) socket.emit(event, payload);
    for (const socket of sockets) socket.emit('join_chat', { chatid });
    for (const socket of sockets) {
      await socket.inbox.take('chat_joined', { where: (j) => j.chatid === chatid, timeout: 15_000, what: 'the sentinel chat_joined after the burst' });
    }
    const elapsedMs = performance.now() - started;
    await sleep(300); // relays to the other user may land just after the sentinel
    return { marks, elapsedMs };
  }

  /** Most events a GCRA limiter of `rate` lets through in `elapsedMs` from a full budget. */
  const allowance = (rate, elapsedMs) => rate.count + Math.floor(elapsedMs / (rate.periodMs / rate.count)) + 1;

  /** The RATE_LIMITED refusals of a burst: chat_error + rate_limited, consistent. */
  function refusalsOf(socket, mark, event, rate) {
    const chatErrors = since(socket, mark, 'chat_error').map((item) => item.data);
    for (const error of chatErrors) {
      assertErrorPayload(error, 'RATE_LIMITED', `chat_error for a limited ${event}`);
      assert.equal(error.chatid, chatid, 'chat_error names the chat');
    }
    const limited = since(socket, mark, 'rate_limited', (r) => r?.event === event).map((item) => item.data);
    for (const payload of limited) {
      assert.equal(payload.error, 'rate_limited', `rate_limited.error: ${JSON.stringify(payload)}`);
      assert.equal(typeof payload.message, 'string');
      assert.equal(payload.event, event);
      assert.equal(typeof payload.retryAfter, 'number', `retryAfter is a number: ${JSON.stringify(payload)}`);
      assert.ok(payload.retryAfter > 0 && payload.retryAfter <= rate.periodMs / 1000, `0 < retryAfter <= the period: ${JSON.stringify(payload)}`);
    }
    return { chatErrors, limited };
  }

  test('typing_start and typing_stop: at most 5/s each, the rest RATE_LIMITED and not relayed', T, async () => {
    const start = contractRate('typing_start');
    const stop = contractRate('typing_stop');
    const PAIRS = 3 * start.count;
    const emits = [];
    for (let i = 0; i < PAIRS; i += 1) {
      emits.push([aliceSocket, 'typing_start', { chatid }]);
      emits.push([aliceSocket, 'typing_stop', { chatid }]);
    }
    const { marks, elapsedMs } = await burst(emits, [bobSocket]);
    const aMark = marks.get(aliceSocket);
    const bMark = marks.get(bobSocket);

    const startsLimited = refusalsOf(aliceSocket, aMark, 'typing_start', start).limited;
    const stopsLimited = refusalsOf(aliceSocket, aMark, 'typing_stop', stop).limited;
    const chatErrors = since(aliceSocket, aMark, 'chat_error').length;
    assert.equal(chatErrors, startsLimited.length + stopsLimited.length, 'every refusal is a chat_error and a rate_limited');
    const typed = since(bobSocket, bMark, 'user_typing', (t) => t.chatid === chatid && t.profileid === alice.profileid).length;
    const stopped = since(bobSocket, bMark, 'user_stopped_typing', (t) => t.chatid === chatid && t.profileid === alice.profileid).length;

    const acceptedStarts = PAIRS - startsLimited.length;
    assert.ok(acceptedStarts >= start.count, `at least ${start.count} typing_start pass (${acceptedStarts})`);
    assert.ok(acceptedStarts <= allowance(start, elapsedMs), `at most ${allowance(start, elapsedMs)} typing_start pass in ${elapsedMs.toFixed(0)} ms (${acceptedStarts})`);
    assert.equal(typed, acceptedStarts, 'bob gets exactly one user_typing per accepted typing_start, none for a refused one');
    const acceptedStops = PAIRS - stopsLimited.length;
    assert.ok(acceptedStops >= stop.count && acceptedStops <= allowance(stop, elapsedMs), `typing_stop passes within its own budget (${acceptedStops})`);
    assert.ok(stopped <= acceptedStops, `no user_stopped_typing for a refused typing_stop (${stopped} <= ${acceptedStops})`);
    assert.equal(since(aliceSocket, aMark, 'user_typing').length, 0, 'the typer never sees their own typing');

    // The budget refills: after a period one more passes.
    await sleep(start.periodMs + 100);
    const mark2 = bobSocket.inbox.items.length;
    aliceSocket.emit('typing_start', { chatid });
    await bobSocket.inbox.take('user_typing', { where: (t, item) => item.index >= mark2 && t.profileid === alice.profileid, what: 'user_typing after the refill' });
    aliceSocket.emit('typing_stop', { chatid });
    await sleep(stop.periodMs + 100);
  });

  test('the typing budget is per user: two sockets of one user share it', T, async () => {
    const rate = contractRate('typing_start');
    const other = await alice.socket();
    try {
      await joinChat(other, chatid);
      await sleep(rate.periodMs + 100);
      const emits = [];
      for (let i = 0; i < rate.count; i += 1) {
        emits.push([aliceSocket, 'typing_start', { chatid }]);
        emits.push([other, 'typing_start', { chatid }]);
      }
      const { marks, elapsedMs } = await burst(emits, [bobSocket]);
      const limited =
        refusalsOf(aliceSocket, marks.get(aliceSocket), 'typing_start', rate).limited.length +
        refusalsOf(other, marks.get(other), 'typing_start', rate).limited.length;
      const typed = since(bobSocket, marks.get(bobSocket), 'user_typing', (t) => t.profileid === alice.profileid).length;
      assert.equal(typed, emits.length - limited, 'relayed exactly the accepted ones');
      assert.ok(typed <= allowance(rate, elapsedMs), `one budget for both sockets: ${typed} relayed of ${emits.length} in ${elapsedMs.toFixed(0)} ms`);
      aliceSocket.emit('typing_stop', { chatid });
    } finally {
      await closeAll(other);
    }
    await sleep(rate.periodMs + 100);
  });

  test('react_to_message: at most 10/s, the rest RATE_LIMITED, not relayed and not stored', T, async () => {
    const rate = contractRate('react_to_message');
    const ack = await sendOk(aliceSocket, chatid, 'react to me');
    const messageid = ack.serverMessageId;
    const EMOJI = ['👍', '❤️', '😂', '😮', '😢', '🙏', '🎉', '🔥', '👏', '💯', '🚀', '👀', '✅', '🤔', '😎', '🙌', '🥳', '🤝', '💡', '⭐'];
    const N = Math.min(EMOJI.length, 2 * rate.count);
    const emojis = EMOJI.slice(0, N);
    const { marks, elapsedMs } = await burst(
      emojis.map((emoji) => [bobSocket, 'react_to_message', { chatid, messageid, emoji }]),
      [aliceSocket],
    );
    const { limited, chatErrors } = refusalsOf(bobSocket, marks.get(bobSocket), 'react_to_message', rate);
    assert.equal(chatErrors.length, limited.length, 'every refusal is a chat_error and a rate_limited');
    const relayed = since(aliceSocket, marks.get(aliceSocket), 'message_reaction_added', (r) => r.messageid === messageid && r.reaction?.profileid === bob.profileid).map(
      (item) => item.data.reaction.emoji,
    );
    const accepted = N - limited.length;
    assert.ok(accepted >= rate.count, `at least ${rate.count} reactions pass (${accepted})`);
    assert.ok(accepted <= allowance(rate, elapsedMs), `at most ${allowance(rate, elapsedMs)} pass in ${elapsedMs.toFixed(0)} ms (${accepted})`);
    assert.equal(relayed.length, accepted, `alice sees exactly the accepted reactions (${relayed.length} relayed, ${accepted} accepted)`);
    assert.equal(new Set(relayed).size, relayed.length, 'each relayed once');

    // The refused reactions were not stored: after the refill, adding them
    // again is new (relayed), while an accepted one repeated is not.
    await sleep(rate.periodMs + 100);
    const refused = emojis.filter((emoji) => !relayed.includes(emoji));
    assert.equal(refused.length, limited.length);
    // Within one budget: up to count - 1 refused ones, and one accepted one again.
    const retried = refused.slice(0, rate.count - 1);
    const { marks: marks2 } = await burst(
      [...retried, relayed[0]].map((emoji) => [bobSocket, 'react_to_message', { chatid, messageid, emoji }]),
      [aliceSocket],
    );
    assert.equal(since(bobSocket, marks2.get(bobSocket), 'chat_error').length, 0, 'the retry is within the budget');
    const relayed2 = since(aliceSocket, marks2.get(aliceSocket), 'message_reaction_added', (r) => r.messageid === messageid).map((item) => item.data.reaction.emoji);
    assert.deepEqual(relayed2.sort(), [...retried].sort(), 'the refused reactions are new now; the repeated accepted one is not relayed again');
    await sleep(rate.periodMs + 100);
  });

  test('mark_message_read: at most 20/s, the rest RATE_LIMITED, no message_read for them, not stored', T, async () => {
    const rate = contractRate('mark_message_read');
    const N = Math.ceil(1.5 * rate.count);
    const messageids = [];
    for (let i = 0; i < N; i += 1) messageids.push((await sendPaced(aliceSocket, chatid, `read me ${i}`)).serverMessageId);
    await sleep(rate.periodMs + 100);
    const { marks, elapsedMs } = await burst(
      messageids.map((messageid) => [bobSocket, 'mark_message_read', { chatid, messageid }]),
      [aliceSocket],
    );
    const { limited, chatErrors } = refusalsOf(bobSocket, marks.get(bobSocket), 'mark_message_read', rate);
    assert.equal(chatErrors.length, limited.length, 'every refusal is a chat_error and a rate_limited');
    const receipts = since(aliceSocket, marks.get(aliceSocket), 'message_read', (r) => r.readBy === bob.profileid).map((item) => item.data.messageid);
    const accepted = N - limited.length;
    assert.ok(accepted >= rate.count, `at least ${rate.count} receipts pass (${accepted})`);
    assert.ok(accepted <= allowance(rate, elapsedMs), `at most ${allowance(rate, elapsedMs)} pass in ${elapsedMs.toFixed(0)} ms (${accepted})`);
    assert.equal(receipts.length, accepted, `the sender gets exactly the accepted receipts (${receipts.length} of ${accepted})`);
    assert.equal(new Set(receipts).size, receipts.length, 'each once');

    // The refused ones were not stored: marking them again now is a first read.
    await sleep(rate.periodMs + 100);
    const refused = messageids.filter((id) => !receipts.includes(id)).slice(0, rate.count);
    const { marks: marks2 } = await burst(
      refused.map((messageid) => [bobSocket, 'mark_message_read', { chatid, messageid }]),
      [aliceSocket],
    );
    assert.equal(since(bobSocket, marks2.get(bobSocket), 'chat_error').length, 0, 'the retry is within the budget');
    const receipts2 = since(aliceSocket, marks2.get(aliceSocket), 'message_read', (r) => r.readBy === bob.profileid).map((item) => item.data.messageid);
    assert.deepEqual(receipts2.sort(), [...refused].sort(), 'a refused receipt was not stored');
  });
});

// ================================================================ 3. connections per address

describe('new connections per client address per minute', () => {
  test('--max-connections-per-minute 5: the 6th gets TOO_MANY_CONNECTIONS and is disconnected; the first 5 keep working', T, async () => {
    const LIMIT = 5;
    const server = await startServer({ name: 'limits-conn', args: ['--max-connections-per-minute', String(LIMIT)] });
    const sockets = [];
    try {
      const people = [];
      for (let i = 0; i <= LIMIT + 1; i += 1) people.push(await newUser(server, `u${i}`));
      const chatid = await createChat(server, people[0], { participants: people.slice(1) });
      const firstAt = Date.now();
      for (let i = 0; i < LIMIT; i += 1) sockets.push(await people[i].socket());
      const sixth = await connect(server, { profileid: people[LIMIT].profileid, token: people[LIMIT].token, waitFor: 'auth_error' });
      assert.ok(Date.now() - firstAt < 12_000, 'the 6th came within one refill interval (60 s / 5)');
      assertErrorPayload(sixth.authError, 'TOO_MANY_CONNECTIONS', 'auth_error of the 6th connection');
      assert.equal(await waitDisconnect(sixth.socket, 5_000), 'io server disconnect', 'the 6th is disconnected by the server');
      assert.equal(sixth.inbox.all('authenticated').length, 0, 'the 6th was never authenticated');

      // The first five are untouched and served.
      for (const [i, socket] of sockets.entries()) {
        assert.ok(socket.connected, `socket ${i + 1} still connected`);
        await sendOk(socket, chatid, `from ${i + 1}`);
      }
      const newMessages = sockets[0].inbox.all('new_message').length;
      assert.equal(newMessages, LIMIT - 1, 'the others\' messages reach the first socket');

      // Per minute, not forever: one slot refills every 60 s / LIMIT.
      await sleep(Math.max(0, firstAt + 60_000 / LIMIT + 1_000 - Date.now()));
      const refilled = await people[LIMIT + 1].connect();
      sockets.push(refilled.socket);
      const again = await connect(server, { profileid: people[LIMIT].profileid, token: people[LIMIT].token, waitFor: 'auth_error' });
      assertErrorPayload(again.authError, 'TOO_MANY_CONNECTIONS', 'the next one after the refill');
      await waitDisconnect(again.socket, 5_000);
      assert.match(server.output.join(''), /too many new connections from one address/, 'the refusal is logged');
      assert.doesNotMatch(server.output.join(''), new RegExp(people[LIMIT].token.split('.')[2].slice(0, 20)), 'no token in the logs');
    } finally {
      await closeAll(sockets);
      await server.stop();
    }
  });

  test('the limit is per address: behind --trust-proxy another X-Forwarded-For address has its own budget', T, async () => {
    const server = await startServer({ name: 'limits-conn-xff', args: ['--max-connections-per-minute', '2', '--trust-proxy'] });
    const sockets = [];
    try {
      const user = await newUser(server, 'proxied');
      const via = (address) => ({ headers: { 'X-Forwarded-For': address } });
      sockets.push(await user.socket(via('10.0.0.1')));
      sockets.push(await user.socket(via('10.0.0.1')));
      const third = await user.connect({ ...via('10.0.0.1'), waitFor: 'auth_error' });
      assertErrorPayload(third.authError, 'TOO_MANY_CONNECTIONS', 'the 3rd from 10.0.0.1');
      sockets.push(await user.socket(via('10.0.0.2')));
      // Entries left of the proxy's own are the client's word and are ignored.
      const spoofed = await user.connect({ ...via('10.0.0.99, 10.0.0.1'), waitFor: 'auth_error' });
      assertErrorPayload(spoofed.authError, 'TOO_MANY_CONNECTIONS', 'a spoofed leftmost address does not buy a new budget');
    } finally {
      await closeAll(sockets);
      await server.stop();
    }
  });

  test('LOCKSTEP_MAX_CONNECTIONS_PER_MINUTE sets it; the flag wins, and 0 means unlimited', T, async () => {
    const env = { LOCKSTEP_MAX_CONNECTIONS_PER_MINUTE: '3' };
    const limited = await startServer({ name: 'limits-conn-env', env });
    const sockets = [];
    try {
      const user = await newUser(limited, 'env');
      for (let i = 0; i < 3; i += 1) sockets.push(await user.socket());
      const fourth = await user.connect({ waitFor: 'auth_error' });
      assertErrorPayload(fourth.authError, 'TOO_MANY_CONNECTIONS', 'the 4th under LOCKSTEP_MAX_CONNECTIONS_PER_MINUTE=3');
    } finally {
      await closeAll(sockets.splice(0));
      await limited.stop();
    }
    const unlimited = await startServer({ name: 'limits-conn-off', env, args: ['--max-connections-per-minute', '0'] });
    try {
      const COUNT = 12;
      for (let i = 0; i < COUNT; i += 1) {
        const user = await newUser(unlimited, `free${i}`);
        sockets.push(await user.socket());
      }
      assert.equal(sockets.filter((s) => s.connected).length, COUNT, `${COUNT} connections with the limit off`);
    } finally {
      await closeAll(sockets);
      await unlimited.stop();
    }
  });
});

// ================================================================ 4. a slow consumer

describe('a client that stops reading', () => {
  const INTERVAL_S = 1;
  const MAX_MISSES = 2;
  /** Expected: dropped MAX_MISSES..MAX_MISSES+1 intervals after it went silent; this leaves room. */
  const DROP_BOUND_MS = 8_000;
  const RSS_GROWTH_BOUND = 50 * MB;
  const SENDERS = 10;
  const CONTENT_BYTES = 10_000;

  /**
   * A server with a fast heartbeat; user X on a raw WebSocket (answering
   * heartbeats and pings while it reads), a witness W and SENDERS flooding
   * users, all in one chat. Every normal client answers heartbeats.
   */
  async function scenario(name) {
    const server = await startServer({
      name,
      args: ['--heartbeat-interval', String(INTERVAL_S), '--heartbeat-max-misses', String(MAX_MISSES)],
    });
    const sockets = [];
    const x = await newUser(server, 'slow');
    const witness = await newUser(server, 'witness');
    const senders = [];
    for (let i = 0; i < SENDERS; i += 1) senders.push(await newUser(server, `flood${i}`));
    const chatid = await createChat(server, witness, { participants: [x, ...senders] });
    const w = await witness.socket();
    answerHeartbeats(w);
    sockets.push(w);
    const senderSockets = [];
    for (const sender of senders) {
      const socket = await sender.socket();
      answerHeartbeats(socket);
      senderSockets.push(socket);
    }
    sockets.push(...senderSockets);
    const slow = rawSocket(server, { cookie: `accessToken=${x.token}`, answerHeartbeats: true });
    await slow.authenticate(x.profileid);
    await w.inbox.take('user_status_changed', { where: (s) => s.profileid === x.profileid && s.isOnline === true, what: 'X online' });

    const pid = server.child.pid;
    const memory = { before: rssBytes(pid), max: 0, sampling: true };
    memory.max = memory.before;
    memory.done = (async () => {
      for (let i = 0; memory.sampling && i < 2_000; i += 1) {
        try {
          memory.max = Math.max(memory.max, rssBytes(pid));
        } catch {
          return; // the process is gone: the assertions say so
        }
        await sleep(100);
      }
    })();

    // The witness keeps talking, and must be answered promptly throughout.
    const witnessAcks = [];
    const talk = { on: true };
    talk.done = (async () => {
      for (let i = 0; talk.on && i < 400; i += 1) {
        const started = Date.now();
        const { ack } = await sendMessage(w, chatid, `witness ${i}`);
        witnessAcks.push({ ack, ms: Date.now() - started });
        await sleep(250);
      }
    })();

    /**
     * The flood: every sender sends its whole per-second budget at once,
     * once a second (the default 10 messages/s each), 10 KB a message.
     */
    const floodAcks = [];
    async function flood(perSender, deadlineMs = 45_000) {
      const deadline = Date.now() + deadlineMs;
      await Promise.all(
        senderSockets.map(async (socket, s) => {
          let sent = 0;
          for (let round = 0; sent < perSender && round < 3 * perSender && Date.now() < deadline; round += 1) {
            const roundStart = Date.now();
            const batch = [];
            for (let k = 0; k < 10 && sent + batch.length < perSender; k += 1) {
              const payload = { chatid, clientMessageId: cmid(), messageType: 'text', content: `${s}/${sent + k} `.padEnd(CONTENT_BYTES, 'x') };
              batch.push(emitAck(socket, 'send_message', payload, 20_000).then((ack) => ({ ack, payload })));
            }
            for (const { ack, payload } of await Promise.all(batch)) {
              if (ack.code === 'RATE_LIMITED') continue; // sent again next round, under a new id
              recordAck(socket, payload, ack);
              floodAcks.push(ack);
              sent += 1;
            }
            await sleep(Math.max(0, roundStart + 1_050 - Date.now()));
          }
        }),
      );
    }

    /** Waits for X's `user_status_changed` offline at W; resolves with its time or an Error. */
    const offline = (timeout = DROP_BOUND_MS) =>
      w.inbox
        .takeItem('user_status_changed', {
          where: (s) => s.profileid === x.profileid && s.isOnline === false,
          timeout,
          what: `X offline within ${timeout} ms`,
        })
        .then((item) => item.at, (error) => error);

    /** Everything but the drop itself: memory, the flood, the witness, the server. */
    async function assertEveryoneElseServed(expectedFlood) {
      talk.on = false;
      await talk.done;
      memory.sampling = false;
      await memory.done;
      assert.ok(
        memory.max - memory.before < RSS_GROWTH_BOUND,
        `RSS grew by ${((memory.max - memory.before) / MB).toFixed(1)} MB (bound ${RSS_GROWTH_BOUND / MB} MB)`,
      );
      assert.equal(floodAcks.length, expectedFlood, 'the whole flood was sent');
      assert.ok(floodAcks.every((ack) => ack.success === true), `every flood message stored: ${JSON.stringify(floodAcks.find((a) => !a.success))}`);
      assert.ok(witnessAcks.length >= 5, `the witness kept sending (${witnessAcks.length})`);
      for (const { ack, ms } of witnessAcks) {
        assert.equal(ack.success, true, `witness send ok: ${JSON.stringify(ack)}`);
        assert.ok(ms < 5_000, `witness ack within 5 s (took ${ms} ms)`);
      }
      const floodIds = new Set(floodAcks.map((ack) => ack.serverMessageId));
      let seen = 0;
      for (const deadline = Date.now() + 10_000; Date.now() < deadline; ) {
        seen = new Set(w.inbox.seen('new_message', (m) => floodIds.has(m.message?.messageid)).map((m) => m.message.messageid)).size;
        if (seen === floodIds.size) break;
        await sleep(100);
      }
      assert.equal(seen, floodIds.size, 'the witness, who reads, received every flood message');
      assert.ok(w.connected && w.inbox.all('$disconnect').length === 0, 'the witness stayed connected');
      assert.equal((await getJson(server, '/health')).status, 200, 'the server is fine');
      assert.ok(server.child, 'the server process is alive');
    }

    async function cleanup() {
      talk.on = false;
      memory.sampling = false;
      slow.ws.terminate();
      await closeAll(sockets);
      await server.stop();
    }

    const report = (label, droppedAfterMs) =>
      console.log(
        `${label}: dropped ${droppedAfterMs === null ? `not within ${DROP_BOUND_MS}` : `after ${droppedAfterMs}`} ms; flood ${floodAcks.length} messages ` +
          `(${((floodAcks.length * CONTENT_BYTES) / MB).toFixed(1)} MB to each recipient); server RSS ${(memory.before / MB).toFixed(1)} MB -> max ${(memory.max / MB).toFixed(1)} MB`,
      );

    return { server, x, w, slow, flood, floodAcks, offline, assertEveryoneElseServed, cleanup, report };
  }

  /** Disconnects counted by the server: by the heartbeat, and by the transport (the kernel's send timeout). */
  const drops = (m) => ({
    heartbeat: value(m, 'lockstep_heartbeat_disconnects_total'),
    transport: value(m, 'lockstep_disconnects_total', { reason: 'transport_error' }),
  });

  /**
   * Fails with what the server did meanwhile when X was not reported offline;
   * else checks the drop came within `bound` ms of `since` and was counted
   * (`by`: 'heartbeat', 'transport' or 'either'; whichever bound is hit first
   * wins when a client neither answers nor reads).
   */
  async function assertDropped(s, dropped, since, metricsBefore, { by = 'either', bound = DROP_BOUND_MS } = {}) {
    const before = drops(metricsBefore);
    if (dropped instanceof Error) {
      const now = drops(await scrape(s.server));
      throw new assert.AssertionError({
        message:
          `${dropped.message}\ndisconnects counted by the heartbeat ${before.heartbeat} -> ${now.heartbeat}, ` +
          `by the transport ${before.transport} -> ${now.transport}; flood acked ${s.floodAcks.length}; ` +
          `X's TCP connection closed: ${s.slow.closedAt !== null}`,
      });
    }
    const droppedAfterMs = dropped - since;
    assert.ok(droppedAfterMs <= bound, `dropped after ${droppedAfterMs} ms (bound ${bound} ms)`);
    const counted = (m) => {
      const now = drops(m);
      const heartbeat = now.heartbeat > before.heartbeat;
      const transport = now.transport > before.transport;
      return by === 'heartbeat' ? heartbeat : by === 'transport' ? transport : heartbeat || transport;
    };
    const metrics = await scrapeUntil(s.server, counted, { what: `the drop to be counted (by ${by})` });
    assert.ok(counted(metrics));
    return droppedAfterMs;
  }

  test('stops reading under a flood: dropped within a bound; memory bounded; everyone else served', T, async () => {
    const s = await scenario('limits-slow');
    try {
      const metricsBefore = await scrape(s.server);
      // X stops reading: from now on it answers neither engine.io pings nor heartbeats.
      s.slow.ws._socket.pause();
      const pausedAt = Date.now();
      const dropped = s.offline();
      const PER_SENDER = 50; // 500 messages, 5 MB for X
      await s.flood(PER_SENDER);
      const at = await dropped;
      s.report('slow consumer', at instanceof Error ? null : at - pausedAt);
      await assertDropped(s, at, pausedAt, metricsBefore);
      await s.assertEveryoneElseServed(SENDERS * PER_SENDER);
    } finally {
      await s.cleanup();
    }
  });

  test('keeps answering heartbeats but never reads: its buffers fill, and it is dropped within the bound', T, async () => {
    // X stops reading but keeps writing valid-looking `pong`s (echoing a time
    // the server's last heartbeat round is after), so the heartbeat alone
    // would keep it forever. The flood fills the kernel's socket buffers
    // between the server and X (~4 MB, about 390 of these messages on
    // loopback); behind them socketioxide's send queue, where neither a
    // disconnect packet nor engine.io's close gets through any more. The
    // server's data then sits untaken, and the send timeout (heartbeat
    // interval x misses = 2 s here) drops X, within the bound of the flood's
    // end.
    const s = await scenario('limits-slow-full');
    const blind = setInterval(() => s.slow.ws.send(`42["pong",${Date.now() - 1_500}]`), 300);
    try {
      const metricsBefore = await scrape(s.server);
      s.slow.ws._socket.pause();
      const dropped = s.offline(60_000);
      const PER_SENDER = 70;
      const floodStart = Date.now();
      await s.flood(PER_SENDER);
      const floodMs = Date.now() - floodStart;
      const at = await dropped;
      s.report(`reads nothing, answers heartbeats (${floodMs} ms flood)`, at instanceof Error ? null : at - floodStart);
      await assertDropped(s, at, floodStart, metricsBefore, { by: 'transport', bound: floodMs + DROP_BOUND_MS });
      assert.equal(
        drops(await scrape(s.server)).heartbeat,
        drops(metricsBefore).heartbeat,
        'the heartbeat did not drop it (its answers kept it alive): the send timeout did',
      );
      await s.assertEveryoneElseServed(SENDERS * PER_SENDER);
    } finally {
      clearInterval(blind);
      await s.cleanup();
    }
  });
});

// ================================================================ 5. database unavailable

const pg = await postgresStatus();
if (!pg.available) console.log(`skipping PostgreSQL: ${pg.reason}`);

describe('the database refuses connections under a running server (PostgreSQL)', { skip: pg.available ? false : `skipping PostgreSQL: ${pg.reason}` }, () => {
  /** Runs `sql` as the admin of the test cluster. */
  async function admin(sql) {
    const { Client } = (await import('pg')).default;
    const client = new Client({ connectionString: process.env.LOCKSTEP_TEST_POSTGRES_URL || DEFAULT_POSTGRES_URL, connectionTimeoutMillis: 5_000 });
    await client.connect();
    try {
      return await client.query(sql);
    } finally {
      await client.end().catch(() => {});
    }
  }

  test(
    'sends fail with STORAGE_UNAVAILABLE, /ready is 503, service resumes by itself, history holds exactly the acked',
    T,
    async () => {
      const server = await startServer({ name: 'limits-db', database: 'postgres' });
      const name = new URL(server.databaseUrl).pathname.slice(1);
      assert.match(name, /^lockstep_e2e_[0-9a-f]+$/, 'only a test database is touched');
      const sockets = [];
      const outcomes = []; // { phase, clientMessageId, ack | error }
      async function send(socket, chatid, phase, text) {
        try {
          const { ack, clientMessageId } = await sendMessage(socket, chatid, text, {}, { timeout: 15_000 });
          outcomes.push({ phase, clientMessageId, ack });
          return ack;
        } catch (error) {
          outcomes.push({ phase, error: String(error) });
          return { success: false, code: `no ack: ${error.message}` };
        }
      }
      try {
        const alice = await newUser(server, 'alice');
        const bob = await newUser(server, 'bob');
        const chatid = await createChat(server, alice, { participants: [bob] });
        const a = await alice.socket();
        const b = await bob.socket();
        sockets.push(a, b);

        // Up.
        for (let i = 0; i < 3; i += 1) assert.equal((await send(a, chatid, 'up', `up ${i}`)).success, true, 'sends work while the database is up');
        assert.equal((await getJson(server, '/ready')).status, 200);

        // Down: no new connections, and the existing ones are killed.
        await admin(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
        await admin(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${name}' AND pid <> pg_backend_pid()`);
        const downStarted = Date.now();
        let refusedInARow = 0;
        let firstRefusal = null;
        for (let i = 0; i < 30 && refusedInARow < 4 && Date.now() - downStarted < 30_000; i += 1) {
          const ack = await send(a, chatid, 'down', `down ${i}`);
          if (ack.success === true) {
            assert.equal(firstRefusal, null, 'no send succeeds after one was refused while the database refuses connections');
          } else {
            assert.equal(ack.code, 'STORAGE_UNAVAILABLE', `a send while the database is down: ${JSON.stringify(ack)}`);
            assert.equal(typeof ack.error, 'string');
            assert.doesNotMatch(ack.error, /postgres|sqlx|lockstep_e2e/i, 'the refusal leaks nothing internal');
            firstRefusal ??= Date.now() - downStarted;
            refusedInARow += 1;
          }
          await sleep(150);
        }
        assert.ok(refusedInARow >= 4, `sends are refused with STORAGE_UNAVAILABLE once the database is down: ${JSON.stringify(outcomes.filter((o) => o.phase === 'down'))}`);
        const ready = await pollJson(server, '/ready', (r) => r.status !== 200, { timeout: 15_000, what: '/ready to report the database down' });
        assert.equal(ready.status, 503, ready.text);
        assert.ok(ready.body?.down?.includes('database'), `/ready names the database: ${ready.text}`);
        assert.equal((await getJson(server, '/health')).status, 200, 'the process itself is alive');

        // Back: nobody restarts anything.
        await admin(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
        const upAgain = Date.now();
        let recovered = false;
        for (let i = 0; i < 60 && Date.now() - upAgain < 30_000; i += 1) {
          const ack = await send(a, chatid, 'recovering', `recovering ${i}`);
          if (ack.success === true) {
            recovered = true;
            break;
          }
          assert.equal(ack.code, 'STORAGE_UNAVAILABLE', `a send while the database comes back: ${JSON.stringify(ack)}`);
          await sleep(500);
        }
        assert.ok(recovered, `sends succeed again within 30 s of the database returning: ${JSON.stringify(outcomes.slice(-3))}`);
        const recoveredAfterMs = Date.now() - upAgain;
        await pollJson(server, '/ready', (r) => r.status === 200, { timeout: Math.max(1_000, 30_000 - recoveredAfterMs), what: '/ready to be 200 again' });
        for (let i = 0; i < 3; i += 1) assert.equal((await send(a, chatid, 'up again', `up again ${i}`)).success, true, 'sends keep working');
        console.log(`database outage: first refusal after ${firstRefusal} ms, recovered ${recoveredAfterMs} ms after the database returned`);

        // Every acked message is there exactly once; nothing refused is.
        const history = await fullHistory(server, alice.token, chatid);
        const byClientId = new Map();
        for (const message of history) byClientId.set(message.clientMessageId, (byClientId.get(message.clientMessageId) ?? 0) + 1);
        const messageIds = new Map();
        for (const message of history) messageIds.set(message.messageid, (messageIds.get(message.messageid) ?? 0) + 1);
        for (const outcome of outcomes) {
          assert.ok(!outcome.error, `every send got an ack: ${outcome.error}`);
          if (outcome.ack.success) {
            assert.equal(messageIds.get(outcome.ack.serverMessageId) ?? 0, 1, `acked ${outcome.clientMessageId} (${outcome.phase}) is in history exactly once`);
          } else {
            assert.equal(byClientId.get(outcome.clientMessageId) ?? 0, 0, `refused ${outcome.clientMessageId} (${outcome.phase}) is not in history`);
          }
        }
        // Bob was told about exactly the stored ones.
        const stored = new Set(outcomes.filter((o) => o.ack?.success).map((o) => o.ack.serverMessageId));
        const deadline = Date.now() + 5_000;
        while (b.inbox.all('new_message').length < stored.size && Date.now() < deadline) await sleep(100);
        const told = b.inbox.seen('new_message').map((m) => m.message.messageid);
        assert.deepEqual(new Set(told), stored, 'the other participant received exactly the stored messages');
        assert.equal(told.length, stored.size, 'each once');
      } finally {
        await admin(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`).catch((error) => console.error(`could not re-allow connections to ${name}: ${error.message}`));
        await closeAll(sockets);
        await server.stop();
      }
    },
  );
});
