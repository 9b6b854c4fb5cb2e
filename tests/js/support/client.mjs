// Socket.IO clients for the end-to-end tests: the official socket.io-client,
// WebSocket transport only, with an Inbox that records every event from the
// moment the socket is created, so no test races its own listener.
import { AssertionError } from 'node:assert';
import { inspect } from 'node:util';

import { io } from 'socket.io-client';

import { sleep } from './server.mjs';

export const DEFAULT_TIMEOUT_MS = 10_000;
export const USER_AGENT = 'lockstep-e2e/1.0 (node socket.io-client)';

function brief(value) {
  return inspect(value, { depth: 3, breakLength: Infinity, maxStringLength: 120, maxArrayLength: 8 });
}

/**
 * Every event a socket received, in order. `take` consumes the first
 * unconsumed match (waiting for it if needed); `expectNone` asserts that no
 * unconsumed match arrives. Reserved events are recorded as `$connect`,
 * `$connect_error` and `$disconnect`.
 */
export class Inbox {
  constructor(socket, label = '') {
    this.label = label;
    this.items = [];
    this.waiters = [];
    socket.onAny((event, ...args) => this.push(event, args));
    socket.on('connect', () => this.push('$connect', []));
    socket.on('connect_error', (error) => this.push('$connect_error', [error]));
    socket.on('disconnect', (reason, description) => this.push('$disconnect', [reason, description]));
  }

  push(event, args) {
    const item = { event, data: args[0], args, at: Date.now(), index: this.items.length, consumed: false };
    this.items.push(item);
    for (const waiter of [...this.waiters]) {
      if (!item.consumed && waiter.matches(item)) {
        item.consumed = waiter.consume;
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.done(item);
      }
    }
  }

  /** Items of `event` seen so far (consumed or not) that satisfy `where`. */
  all(event, where = () => true) {
    return this.items.filter((item) => item.event === event && where(item.data, item));
  }

  /** Payloads of `event` seen so far that satisfy `where`. */
  seen(event, where = () => true) {
    return this.all(event, where).map((item) => item.data);
  }

  /** Unconsumed items of `event` that satisfy `where`. */
  pending(event, where = () => true) {
    return this.items.filter((item) => !item.consumed && item.event === event && where(item.data, item));
  }

  /** What arrived, for failure messages. */
  summary(limit = 40) {
    const lines = this.items.slice(-limit).map(
      (item) => `  #${item.index} ${item.consumed ? '(taken) ' : ''}${item.event} ${brief(item.args.length > 1 ? item.args : item.data)}`,
    );
    return lines.length ? lines.join('\n') : '  (nothing)';
  }

  /**
   * Resolves with the first unconsumed item satisfying `matches` (already
   * received or still to come), marking it consumed when `consume`.
   */
  waitItem(matches, { timeout = DEFAULT_TIMEOUT_MS, consume = true, what = 'matching event' } = {}) {
    const found = this.items.find((item) => !item.consumed && matches(item));
    if (found) {
      found.consumed = consume;
      return Promise.resolve(found);
    }
    return new Promise((done, fail) => {
      const waiter = {
        matches,
        consume,
        done: (item) => {
          clearTimeout(timer);
          done(item);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        fail(
          new AssertionError({
            message:
              `${this.label ? `[${this.label}] ` : ''}no ${what} within ${timeout} ms; ` +
              `the socket received:\n${this.summary()}`,
          }),
        );
      }, timeout);
      this.waiters.push(waiter);
    });
  }

  /** Resolves with the first unconsumed item of `event` matching `where`, consuming it. */
  takeItem(event, { timeout = DEFAULT_TIMEOUT_MS, where = () => true, consume = true, what } = {}) {
    return this.waitItem((item) => item.event === event && where(item.data, item), {
      timeout,
      consume,
      what: what || `\`${event}\``,
    });
  }

  /** Like takeItem, resolving with the payload (first argument). */
  async take(event, options) {
    return (await this.takeItem(event, options)).data;
  }

  /** Takes `count` matching events, in arrival order. */
  async takeN(event, count, options = {}) {
    const out = [];
    for (let i = 0; i < count; i += 1) {
      out.push(await this.take(event, { ...options, what: `${i + 1}. of ${count} \`${event}\`` }));
    }
    return out;
  }

  /** Waits `ms`, then asserts no unconsumed `event` matching `where` arrived (or was pending). */
  async expectNone(event, ms = 1_000, where = () => true, message = '') {
    await sleep(ms);
    const unexpected = this.pending(event, where);
    if (unexpected.length) {
      throw new AssertionError({
        message:
          `${this.label ? `[${this.label}] ` : ''}expected no \`${event}\`${message ? ` (${message})` : ''}, ` +
          `got ${unexpected.length}: ${brief(unexpected.map((item) => item.data))}\nthe socket received:\n${this.summary()}`,
      });
    }
  }
}

/**
 * Opens a Socket.IO connection the way the contract says a client does:
 * WebSocket transport, handshake `auth: { profileid, timestamp }`, the
 * access token in the `accessToken` cookie (and `refreshToken` beside it).
 *
 * @param {object} server   a started server (support/server.mjs)
 * @param {object} options
 * @param {string} [options.profileid]      handshake auth profileid
 * @param {string} [options.token]          accessToken cookie
 * @param {string} [options.refreshToken]   refreshToken cookie
 * @param {string} [options.bearer]         Authorization: Bearer header instead of the cookie
 * @param {object|null} [options.auth]      the whole handshake auth object (null: send none)
 * @param {object} [options.headers]        extra handshake headers
 * @param {string} [options.userAgent]
 * @param {'authenticated'|'auth_error'|'connect'|'none'} [options.waitFor]
 * @param {string} [options.label]          shown in failure messages
 * @returns {Promise<{socket, inbox, authenticated?, authError?}>}
 */
export async function connect(server, options = {}) {
  const {
    profileid,
    token,
    refreshToken,
    bearer,
    headers = {},
    userAgent = USER_AGENT,
    waitFor = 'authenticated',
    timeoutMs = DEFAULT_TIMEOUT_MS,
    label = profileid || 'socket',
  } = options;
  const auth = 'auth' in options ? options.auth : { profileid, timestamp: Date.now() };
  const cookies = [];
  if (token) cookies.push(`accessToken=${token}`);
  if (refreshToken) cookies.push(`refreshToken=${refreshToken}`);
  const extraHeaders = { 'User-Agent': userAgent, ...headers };
  if (cookies.length) extraHeaders.Cookie = cookies.join('; ');
  if (bearer) extraHeaders.Authorization = `Bearer ${bearer}`;

  const socket = io(server.url, {
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    timeout: timeoutMs,
    ...(auth === null ? {} : { auth }),
    extraHeaders,
  });
  const inbox = new Inbox(socket, label);
  socket.inbox = inbox;
  server.sockets?.add(socket);
  socket.on('disconnect', () => server.sockets?.delete(socket));

  if (waitFor === 'none') return { socket, inbox };
  if (waitFor === 'connect') {
    await inbox.takeItem('$connect', { timeout: timeoutMs, consume: false });
    return { socket, inbox };
  }

  // Wait for the verdict; fail fast on the other outcomes.
  const outcomes = ['authenticated', 'auth_error', '$connect_error', '$disconnect'];
  const verdict = await inbox
    .waitItem((item) => outcomes.includes(item.event), {
      timeout: timeoutMs,
      consume: false,
      what: 'authentication verdict (`authenticated`, `auth_error`, connect_error or disconnect)',
    })
    .catch((error) => {
      socket.close();
      throw error;
    });

  if (waitFor === 'authenticated') {
    if (verdict.event !== 'authenticated') {
      socket.close();
      const detail =
        verdict.event === '$connect_error' ? `connect_error: ${verdict.data?.message}` : `${verdict.event} ${brief(verdict.data)}`;
      const error = new AssertionError({ message: `[${label}] expected \`authenticated\`, got ${detail}; received:\n${inbox.summary()}` });
      error.authError = verdict.event === 'auth_error' ? verdict.data : undefined;
      throw error;
    }
    verdict.consumed = true;
    return { socket, inbox, authenticated: verdict.data };
  }
  if (waitFor === 'auth_error') {
    if (verdict.event !== 'auth_error') {
      socket.close();
      const detail =
        verdict.event === '$connect_error' ? `connect_error: ${verdict.data?.message}` : `${verdict.event} ${brief(verdict.data)}`;
      throw new AssertionError({ message: `[${label}] expected \`auth_error\`, got ${detail}; received:\n${inbox.summary()}` });
    }
    verdict.consumed = true;
    return { socket, inbox, authError: verdict.data };
  }
  throw new Error(`unknown waitFor ${waitFor}`);
}

/** Waits for the next unconsumed `event` on a socket (connect() sockets only). */
export function once(socket, event, timeoutMs = DEFAULT_TIMEOUT_MS, where) {
  return socket.inbox.take(event, { timeout: timeoutMs, where });
}

/** Asserts that `event` does not arrive (nor is pending) within `ms`. */
export function expectNoEvent(socket, event, ms = 1_000, where) {
  return socket.inbox.expectNone(event, ms, where);
}

/** Waits until the socket is disconnected; resolves with the reason. */
export async function waitDisconnect(socket, timeoutMs = DEFAULT_TIMEOUT_MS) {
  const item = await socket.inbox.takeItem('$disconnect', { timeout: timeoutMs, consume: false });
  return item.data;
}

/** Emits with an ack and waits for it (`socket.timeout(ms).emitWithAck`). */
export function emitAck(socket, event, payload, timeoutMs = DEFAULT_TIMEOUT_MS) {
  return socket.timeout(timeoutMs).emitWithAck(event, payload);
}

/** Closes sockets and waits until each reports its disconnect. */
export async function closeAll(...sockets) {
  await Promise.all(
    sockets.flat().map(async (socket) => {
      if (!socket) return;
      if (socket.connected) {
        const gone = socket.inbox ? socket.inbox.takeItem('$disconnect', { timeout: 5_000, consume: false }).catch(() => {}) : null;
        socket.close();
        await gone;
      } else {
        socket.close();
      }
    }),
  );
}
