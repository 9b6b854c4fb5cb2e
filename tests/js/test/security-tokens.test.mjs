// Issue 20, items 4 and 5: a refresh token is not a credential on its own,
// it works only beside an expired, genuine access token of the same subject
// and profile; and `nbf` is checked, on the socket and on REST.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  accessClaims,
  api,
  assertErrorPayload,
  connect,
  nowSeconds,
  signJwt,
  startServer,
  uid,
  waitDisconnect,
} from '../support/index.mjs';

const T = { timeout: 30_000 };

/** POST /api/chats with the given cookies: a signed-in user gets 201. */
function createChatWithCookies(server, cookies) {
  return api(server, null, 'POST', '/api/chats', { chatType: 'group', chatName: 'probe', participants: [] }, {
    headers: { Cookie: cookies.join('; ') },
  });
}

describe('refresh tokens (issue 20, item 4)', () => {
  let server;
  before(async () => {
    server = await startServer({ name: 'tokens-refresh' });
  });
  after(async () => {
    await server?.stop();
  });

  const refreshOf = (profileid, extra = {}) => signJwt(accessClaims(profileid, { expiresIn: 7 * 86_400, typ: 'refresh', ...extra }));
  const expiredAccessOf = (profileid, extra = {}) => signJwt(accessClaims(profileid, { expiresIn: -3600, ...extra }));

  test('a refreshToken cookie alone signs in neither a socket nor REST', T, async () => {
    const profileid = uid('alone');
    const refused = await connect(server, { profileid, refreshToken: refreshOf(profileid), waitFor: 'auth_error' });
    assertErrorPayload(refused.authError, 'AUTH_MISSING_TOKEN', 'a refresh token alone');
    await waitDisconnect(refused.socket);
    const rest = await createChatWithCookies(server, [`refreshToken=${refreshOf(profileid)}`]);
    assert.equal(rest.status, 401, `REST with a refresh token alone: ${rest.status} ${rest.text}`);
    assert.equal(rest.body?.error, 'AUTH_MISSING_TOKEN');
  });

  test("A's expired access token with B's refresh token signs in as nobody", T, async () => {
    const a = uid('a');
    const b = uid('b');
    for (const profileid of [a, b]) {
      const refused = await connect(server, { profileid, token: expiredAccessOf(a), refreshToken: refreshOf(b), waitFor: 'auth_error' });
      assertErrorPayload(refused.authError, 'AUTH_INVALID_TOKEN', `handshake as ${profileid === a ? 'A' : 'B'}`);
      await waitDisconnect(refused.socket);
    }
    const rest = await createChatWithCookies(server, [`accessToken=${expiredAccessOf(a)}`, `refreshToken=${refreshOf(b)}`]);
    assert.equal(rest.status, 401, `REST with A's expired token and B's refresh token: ${rest.status} ${rest.text}`);
    assert.equal(rest.body?.error, 'AUTH_INVALID_TOKEN');
    // Same profile, another subject: still not a pair.
    const sameProfile = await connect(server, {
      profileid: a,
      token: expiredAccessOf(a),
      refreshToken: refreshOf(a, { sub: 'someone-else' }),
      waitFor: 'auth_error',
    });
    assertErrorPayload(sameProfile.authError, 'AUTH_INVALID_TOKEN', 'a refresh token of another subject');
    await waitDisconnect(sameProfile.socket);
  });

  test('an expired access token with a forged signature is not rescued by a valid refresh token', T, async () => {
    const profileid = uid('forged');
    const forgedExpired = signJwt(accessClaims(profileid, { expiresIn: -3600 }), { secret: 'not-the-server-secret-0123456789abcdef' });
    const refused = await connect(server, { profileid, token: forgedExpired, refreshToken: refreshOf(profileid), waitFor: 'auth_error' });
    assertErrorPayload(refused.authError, 'AUTH_INVALID_TOKEN', 'forged expired access token');
    await waitDisconnect(refused.socket);
  });

  test('the pair of the same subject and profile still works: tokens_refreshed on the socket, 201 on REST', T, async () => {
    const profileid = uid('pair');
    const { socket, inbox } = await connect(server, { profileid, token: expiredAccessOf(profileid), refreshToken: refreshOf(profileid) });
    try {
      const refreshed = await inbox.take('tokens_refreshed', { timeout: 5_000 });
      assert.equal(refreshed.refreshed, true);
    } finally {
      socket.close();
    }
    const rest = await createChatWithCookies(server, [`accessToken=${expiredAccessOf(profileid)}`, `refreshToken=${refreshOf(profileid)}`]);
    assert.equal(rest.status, 201, `REST with the pair: ${rest.status} ${rest.text}`);
  });
});

describe('nbf (issue 20, item 5)', () => {
  let server;
  before(async () => {
    server = await startServer({ name: 'tokens-nbf' });
  });
  after(async () => {
    await server?.stop();
  });

  test('a token valid only from tomorrow is refused on the socket and on REST; one past its nbf works', T, async () => {
    const profileid = uid('early');
    const tomorrow = signJwt(accessClaims(profileid, { expiresIn: 2 * 86_400, nbf: nowSeconds() + 86_400 }));
    const refused = await connect(server, { profileid, token: tomorrow, waitFor: 'auth_error' });
    assertErrorPayload(refused.authError, 'AUTH_INVALID_TOKEN', 'a token not valid yet');
    await waitDisconnect(refused.socket);
    const rest = await api(server, tomorrow, 'POST', '/api/chats', { chatType: 'group', chatName: 'early', participants: [] });
    assert.equal(rest.status, 401, `REST with a token not valid yet: ${rest.status} ${rest.text}`);
    assert.equal(rest.body?.error, 'AUTH_INVALID_TOKEN');

    // A refresh token cannot rescue it either.
    const refreshTomorrow = signJwt(accessClaims(profileid, { expiresIn: 7 * 86_400, typ: 'refresh', nbf: nowSeconds() + 86_400 }));
    const expired = signJwt(accessClaims(profileid, { expiresIn: -3600 }));
    const stillRefused = await connect(server, { profileid, token: expired, refreshToken: refreshTomorrow, waitFor: 'auth_error' });
    assertErrorPayload(stillRefused.authError, 'AUTH_INVALID_TOKEN', 'a refresh token not valid yet');
    await waitDisconnect(stillRefused.socket);

    const valid = signJwt(accessClaims(profileid, { expiresIn: 3600, nbf: nowSeconds() - 60 }));
    const { socket } = await connect(server, { profileid, token: valid });
    socket.close();
    const ok = await api(server, valid, 'POST', '/api/chats', { chatType: 'group', chatName: 'ok', participants: [] });
    assert.equal(ok.status, 201, `REST with a token past its nbf: ${ok.status} ${ok.text}`);
  });
});
