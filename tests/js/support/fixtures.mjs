// Users, chats, messages and the shared assertions of the end-to-end tests.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { connect, emitAck } from './client.mjs';
import { api, show } from './rest.mjs';
import { REPO_ROOT, rand, sleep, uid } from './server.mjs';

/** The contract's ErrorCode enum (contract/schemas/common.json). */
export const ERROR_CODES = JSON.parse(readFileSync(join(REPO_ROOT, 'contract', 'schemas', 'common.json'), 'utf8')).$defs
  .ErrorCode.enum;

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]00:00)$/;

/** Asserts an ISO 8601 UTC timestamp; returns it as epoch milliseconds. */
export function assertIso(value, label = 'timestamp') {
  assert.equal(typeof value, 'string', `${label} is a string (got ${JSON.stringify(value)})`);
  assert.match(value, ISO_UTC, `${label} is ISO 8601 UTC`);
  const ms = Date.parse(value);
  assert.ok(Number.isFinite(ms), `${label} parses as a date`);
  return ms;
}

/** Asserts that `ms` is within `slackMs` of now. */
export function assertRecent(ms, label = 'timestamp', slackMs = 60_000) {
  assert.ok(Math.abs(Date.now() - ms) <= slackMs, `${label} (${new Date(ms).toISOString()}) is close to now`);
}

/** Words that betray internal detail in a message meant for clients. */
const INTERNAL = /sqlx|sqlite|postgres|pg_|panick|backtrace|stack trace|\.rs:\d+|tokio|socketioxide|serde|constraint|SELECT |INSERT /i;

/** Asserts that a human-readable message leaks nothing internal. */
export function assertNoLeak(text, label = 'message') {
  if (typeof text !== 'string') return;
  assert.doesNotMatch(text, INTERNAL, `${label} leaks internal detail: ${JSON.stringify(text)}`);
}

/** Asserts `{ error: CODE, message }` with `CODE` one of the contract's codes. */
export function assertErrorPayload(payload, code, label = 'error payload') {
  assert.equal(typeof payload, 'object', `${label} is an object`);
  assert.ok(payload !== null, `${label} is not null`);
  assert.equal(payload.error, code, `${label}.error: ${JSON.stringify(payload)}`);
  assert.equal(typeof payload.message, 'string', `${label}.message is a string: ${JSON.stringify(payload)}`);
  assert.ok(payload.message.length > 0, `${label}.message is not empty`);
  assert.ok(ERROR_CODES.includes(payload.error), `${label}.error is a contract ErrorCode: ${payload.error}`);
  assertNoLeak(payload.message, `${label}.message`);
}

/** A failed ack: `{ success: false, code, error }`, echoing clientMessageId when given. */
export function assertAckFailure(ack, code, clientMessageId) {
  assert.equal(typeof ack, 'object', `ack is an object: ${JSON.stringify(ack)}`);
  assert.equal(ack.success, false, `ack.success is false: ${JSON.stringify(ack)}`);
  assert.equal(ack.code, code, `ack.code: ${JSON.stringify(ack)}`);
  assert.equal(typeof ack.error, 'string', `ack.error is a string: ${JSON.stringify(ack)}`);
  assert.equal(ack.serverMessageId, undefined, `a refused ack carries no serverMessageId: ${JSON.stringify(ack)}`);
  if (clientMessageId !== undefined) assert.equal(ack.clientMessageId, clientMessageId, 'ack echoes clientMessageId');
  assertNoLeak(ack.error, 'ack.error');
}

/** A REST error: the status and a `{ error: CODE, message }` body. */
export function assertRestError(response, status, label = 'response') {
  assert.equal(response.status, status, `${label}: expected ${status}, got ${show(response)}`);
  assert.ok(response.body && typeof response.body === 'object', `${label}: the body is JSON: ${show(response)}`);
  assert.equal(typeof response.body.error, 'string', `${label}: body.error is a string: ${show(response)}`);
  assert.match(response.body.error, /^[A-Z][A-Z0-9_]*$/, `${label}: body.error is a stable code: ${show(response)}`);
  assert.equal(typeof response.body.message, 'string', `${label}: body.message is a string: ${show(response)}`);
  assertNoLeak(response.body.message, `${label}: body.message`);
}

// ---------------------------------------------------------------- users

/**
 * A user with a fresh profile id and a token minted by `lockstep token`.
 * `user.connect(options)` opens an authenticated socket for them.
 */
export async function newUser(server, name = 'user', tokenOptions = {}) {
  const profileid = uid(name);
  const username = tokenOptions.username || `${name}_${rand(3)}`;
  const token = await server.token({ profileid, username, ...tokenOptions });
  const user = {
    profileid,
    username,
    token,
    displayname: tokenOptions.displayname ?? username,
    avatar: tokenOptions.avatar ?? '',
    async connect(options = {}) {
      const result = await connect(server, { profileid, token, label: `${name}`, ...options });
      result.socket.lockstep = { server, user };
      return result;
    },
    /** Connects and returns only the socket. */
    async socket(options = {}) {
      return (await user.connect(options)).socket;
    },
  };
  return user;
}

/** Several users at once: `const [alice, bob] = await users(server, 'alice', 'bob')`. */
export function users(server, ...names) {
  return Promise.all(names.map((name) => newUser(server, name)));
}

// ---------------------------------------------------------------- chats

/** POST /api/chats as `owner`; asserts 201 and returns the chatid. */
export async function createChat(server, owner, { chatType = 'group', chatName, participants = [] } = {}) {
  const body = {
    chatType,
    participants: participants.map((p) => (typeof p === 'string' ? p : p.profileid)),
  };
  if (chatName !== undefined) body.chatName = chatName;
  else if (chatType !== 'direct') body.chatName = `chat ${rand(3)}`;
  const response = await api(server, owner.token, 'POST', '/api/chats', body);
  assert.equal(response.status, 201, `POST /api/chats: ${show(response)}`);
  assert.equal(typeof response.body?.chatid, 'string', `POST /api/chats answers a chatid: ${show(response)}`);
  return response.body.chatid;
}

/** POST /api/chats/{chatid}/participants as `actor`; returns the response. */
export function addParticipant(server, actor, chatid, member, role) {
  const body = { profileid: typeof member === 'string' ? member : member.profileid };
  if (role !== undefined) body.role = role;
  return api(server, actor.token, 'POST', `/api/chats/${encodeURIComponent(chatid)}/participants`, body);
}

/** Joins a chat's room and returns the `chat_joined` payload. */
export async function joinChat(socket, chatid, { form = 'object', timeout } = {}) {
  socket.emit('join_chat', form === 'string' ? chatid : { chatid });
  return socket.inbox.take('chat_joined', {
    timeout,
    where: (data) => data?.chatid === chatid,
    what: `\`chat_joined\` for ${chatid}`,
  });
}

// ---------------------------------------------------------------- messages

/** A fresh clientMessageId. */
export const cmid = () => `c-${rand(8)}`;

/**
 * Emits send_message and waits for the ack; records successful acks on the
 * server for assertAckedInHistory. Resolves with `{ ack, clientMessageId, payload }`.
 */
export async function sendMessage(socket, chatid, content, extra = {}, { timeout = 15_000 } = {}) {
  const payload = { chatid, clientMessageId: cmid(), messageType: 'text', content, ...extra };
  const ack = await emitAck(socket, 'send_message', payload, timeout);
  recordAck(socket, payload, ack);
  return { ack, clientMessageId: payload.clientMessageId, payload };
}

/** Records a successful ack for the history checks. */
export function recordAck(socket, payload, ack) {
  const context = socket.lockstep;
  if (ack?.success === true && context) {
    context.server.acked.push({
      chatid: payload.chatid,
      clientMessageId: payload.clientMessageId,
      serverMessageId: ack.serverMessageId,
      token: context.user.token,
    });
  }
}

/** Sends and asserts success; returns the ack. */
export async function sendOk(socket, chatid, content, extra = {}) {
  const { ack, clientMessageId } = await sendMessage(socket, chatid, content, extra);
  assert.equal(ack.success, true, `send_message succeeded: ${JSON.stringify(ack)}`);
  assert.equal(ack.clientMessageId, clientMessageId);
  return ack;
}

/**
 * Sends and asserts success, waiting out RATE_LIMITED refusals (retrying
 * with the same clientMessageId), for tests that send many messages but are
 * not about the rate limit.
 */
export async function sendPaced(socket, chatid, content, extra = {}) {
  const payload = { chatid, clientMessageId: cmid(), messageType: 'text', content, ...extra };
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const ack = await emitAck(socket, 'send_message', payload, 15_000);
    if (ack?.code === 'RATE_LIMITED') {
      await sleep(Math.max(50, Math.ceil((ack.retryAfter ?? 0.2) * 1000)));
      continue;
    }
    recordAck(socket, payload, ack);
    assert.equal(ack.success, true, `send_message succeeded: ${JSON.stringify(ack)}`);
    return ack;
  }
  throw new Error('send_message stayed rate limited for 50 attempts');
}

/** GET /api/chats/{chatid}/messages; returns the response. */
export function getHistory(server, token, chatid, { before, limit } = {}) {
  const query = new URLSearchParams();
  if (before !== undefined) query.set('before', before);
  if (limit !== undefined) query.set('limit', String(limit));
  const qs = query.toString();
  return api(server, token, 'GET', `/api/chats/${encodeURIComponent(chatid)}/messages${qs ? `?${qs}` : ''}`);
}

/** The whole history of a chat, newest first, following `nextBefore`. */
export async function fullHistory(server, token, chatid, { limit = 50 } = {}) {
  const messages = [];
  let before;
  for (let page = 0; page < 200; page += 1) {
    const response = await getHistory(server, token, chatid, { before, limit });
    assert.equal(response.status, 200, `history of ${chatid}: ${show(response)}`);
    assert.ok(Array.isArray(response.body?.messages), `history has messages[]: ${show(response)}`);
    messages.push(...response.body.messages);
    const next = response.body.nextBefore;
    if (next === undefined || next === null || response.body.messages.length === 0) return messages;
    assert.notEqual(next, before, 'nextBefore moves');
    before = next;
  }
  throw new Error(`history of ${chatid} did not end after 200 pages`);
}

/**
 * Every `send_message` ack with `success: true` recorded on this server names
 * a message that is in its chat's history exactly once.
 */
export async function assertAckedInHistory(server) {
  const byChat = new Map();
  for (const entry of server.acked) {
    if (!byChat.has(entry.chatid)) byChat.set(entry.chatid, []);
    byChat.get(entry.chatid).push(entry);
  }
  for (const [chatid, entries] of byChat) {
    const messages = await fullHistory(server, entries[0].token, chatid);
    const counts = new Map();
    for (const message of messages) counts.set(message.messageid, (counts.get(message.messageid) ?? 0) + 1);
    for (const entry of entries) {
      assert.equal(
        counts.get(entry.serverMessageId) ?? 0,
        1,
        `acked message ${entry.serverMessageId} (clientMessageId ${entry.clientMessageId}) is in the history of ${chatid} exactly once`,
      );
    }
  }
}

/** Asserts the shape of a contract `Message` (new_message.message, history entries). */
export function assertMessageShape(message, expected = {}) {
  assert.equal(typeof message, 'object');
  for (const key of ['messageid', 'chatid', 'senderid', 'messageType', 'content']) {
    assert.equal(typeof message[key], 'string', `message.${key} is a string: ${JSON.stringify(message)}`);
  }
  assert.ok(Array.isArray(message.attachments), 'message.attachments is an array');
  assert.ok(Array.isArray(message.mentions), 'message.mentions is an array');
  assert.ok(Array.isArray(message.reactions), 'message.reactions is an array');
  assertIso(message.timestamp, 'message.timestamp');
  assert.ok(['sent', 'delivered', 'read'].includes(message.messageStatus), `message.messageStatus: ${message.messageStatus}`);
  for (const [key, value] of Object.entries(expected)) {
    assert.deepEqual(message[key], value, `message.${key}`);
  }
}

/** A string of exactly `bytes` UTF-8 bytes made of 3-byte characters (plus ASCII padding). */
export function utf8OfBytes(bytes, char = '€') {
  const width = Buffer.byteLength(char);
  const text = char.repeat(Math.floor(bytes / width)) + 'x'.repeat(bytes % width);
  assert.equal(Buffer.byteLength(text), bytes);
  return text;
}

/**
 * Streams sends from `sockets` (round robin, one every `everyMs`, without
 * awaiting acks) until `stop()` is called. Returns { payloads, results,
 * stop, settled } where results[i] is the ack, or an Error when none came.
 */
export function streamSends(sockets, chatid, { everyMs = 5, prefix = 'm' } = {}) {
  const payloads = [];
  const results = [];
  const pending = [];
  let running = true;
  let i = 0;
  const loop = (async () => {
    while (running) {
      const socket = sockets[i % sockets.length];
      const payload = { chatid, clientMessageId: cmid(), messageType: 'text', content: `${prefix}${i}` };
      const index = payloads.push(payload) - 1;
      pending.push(
        emitAck(socket, 'send_message', payload, 8_000).then(
          (ack) => {
            results[index] = ack;
          },
          (error) => {
            results[index] = error;
          },
        ),
      );
      i += 1;
      await sleep(everyMs);
    }
  })();
  return {
    payloads,
    results,
    stop: () => {
      running = false;
      return loop;
    },
    settled: async () => {
      await loop;
      await Promise.all(pending);
    },
  };
}
