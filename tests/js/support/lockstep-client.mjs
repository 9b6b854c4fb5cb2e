// @lockstep/client as the tests use it: client/dist, straight from the
// working tree (client-package.test.mjs checks that dist/ is what the
// sources build, and that the packed tarball installs and works on its own).
//
// client/dist imports `socket.io-client` by its bare name, which Node would
// look up in client/node_modules (absent: the repository installs its
// JavaScript dependencies in tests/js). A module resolution hook resolves
// the bare imports of client/dist from tests/js instead, as an application
// that installs the package would from its own node_modules.
import { register } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { JS_DIR, REPO_ROOT } from './server.mjs';

export const CLIENT_DIST = join(REPO_ROOT, 'client', 'dist');

register('./lockstep-client-hooks.mjs', import.meta.url, {
  data: { clientUrl: pathToFileURL(CLIENT_DIST).href + '/', testsUrl: pathToFileURL(join(JS_DIR, 'package.json')).href },
});

const client = await import(pathToFileURL(join(CLIENT_DIST, 'index.js')).href);

export const { createClient, CONTRACT_VERSION, EVENTS } = client;

/**
 * A client of `user` on `server` (Bearer token, WebSocket transport) that
 * records what it reports: `client.seen.statuses`, `.violations`,
 * `.messages`, and `.outgoing` (every event it emitted, with its arguments).
 */
export function clientOf(server, user, options = {}) {
  const client = createClient({
    url: server.url,
    profileid: user.profileid,
    token: user.token,
    ...options,
    io: { transports: ['websocket'], ...options.io },
  });
  const seen = { statuses: [], violations: [], messages: [], outgoing: [] };
  client.onStatus((status) => seen.statuses.push(status));
  client.onViolation((violation) => seen.violations.push(violation));
  client.onMessage((message) => seen.messages.push(message));
  client.socket.onAnyOutgoing((event, ...args) => seen.outgoing.push({ event, args }));
  client.seen = seen;
  return client;
}

/** Polls `check` until it returns a truthy value; fails with `what` after `timeoutMs`. */
export async function eventually(check, { timeoutMs = 10_000, what = 'condition', everyMs = 20 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((done) => setTimeout(done, everyMs));
  }
}

/** Resolves when the client's status is `state` (now or later). */
export function statusOf(client, state, timeoutMs = 10_000) {
  return eventually(() => client.status.state === state && client.status, { timeoutMs, what: `status ${state} (now ${JSON.stringify(client.status)})` });
}
