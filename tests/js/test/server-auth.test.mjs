// Issue 3, "Auth": the handshake (cookie, Bearer, refresh token), every
// refusal with its code, the per-user socket limit, and session expiry.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  accessClaims,
  assertErrorPayload,
  assertIso,
  assertRecent,
  closeAll,
  connect,
  databases,
  decodeJwt,
  newUser,
  signJwt,
  sleep,
  startServer,
  uid,
  waitDisconnect,
} from '../support/index.mjs';

const T = { timeout: 60_000 };

/** Connects expecting `auth_error` with `code`, then the server's disconnect. */
async function expectRefused(server, options, code) {
  const { socket, inbox, authError } = await connect(server, { waitFor: 'auth_error', ...options });
  assertErrorPayload(authError, code, 'auth_error');
  assert.deepEqual(Object.keys(authError).sort(), ['error', 'message'], 'auth_error carries exactly error and message');
  const reason = await waitDisconnect(socket, 10_000);
  assert.equal(reason, 'io server disconnect', 'the server disconnects the refused socket');
  assert.equal(inbox.all('authenticated').length, 0, 'a refused socket is never authenticated');
  return authError;
}

for (const db of await databases()) {
  describe(`auth [${db.name}]`, { skip: db.skip }, () => {
    let server;
    before(async () => {
      server = await startServer({ database: db.name, name: 'auth' });
    });
    after(async () => {
      await server?.stop();
    });

    test('a valid accessToken cookie authenticates with every field of the contract', T, async () => {
      const profileid = uid('alice');
      const userId = uid('user');
      const token = await server.token({
        profileid,
        username: 'alice',
        userId,
        email: 'alice@example.test',
        displayname: 'Alice Liddell',
        avatar: 'https://cdn.example.test/alice.png',
        permissions: { admin: true, scopes: ['chat'] },
      });
      const { socket, authenticated: auth } = await connect(server, { profileid, token });
      try {
        assert.deepEqual(Object.keys(auth).sort(), ['contractVersion', 'profile', 'security', 'session', 'user']);
        assert.deepEqual(auth.user, {
          id: userId,
          username: 'alice',
          email: 'alice@example.test',
          permissions: { admin: true, scopes: ['chat'] },
        });
        assert.deepEqual(auth.profile, {
          profileid,
          username: 'alice',
          displayname: 'Alice Liddell',
          avatar: 'https://cdn.example.test/alice.png',
        });
        assert.deepEqual(Object.keys(auth.security).sort(), ['deviceFingerprint', 'deviceTrusted', 'riskScore']);
        assert.ok(Number.isInteger(auth.security.riskScore), `riskScore is an integer: ${auth.security.riskScore}`);
        assert.ok(auth.security.riskScore >= 0 && auth.security.riskScore <= 100, 'riskScore is within 0-100');
        assert.equal(typeof auth.security.deviceTrusted, 'boolean');
        assert.equal(auth.security.deviceTrusted, false, 'a first connection comes from an unknown device');
        assert.equal(typeof auth.security.deviceFingerprint, 'string');
        assert.ok(auth.security.deviceFingerprint.length > 0, 'deviceFingerprint is not empty');
        assert.deepEqual(Object.keys(auth.session).sort(), ['connectedAt', 'expiresAt']);
        assertRecent(assertIso(auth.session.connectedAt, 'session.connectedAt'), 'session.connectedAt', 30_000);
        const expiresAt = assertIso(auth.session.expiresAt, 'session.expiresAt');
        assert.ok(
          Math.abs(expiresAt - decodeJwt(token).exp * 1000) <= 1_000,
          `session.expiresAt (${auth.session.expiresAt}) is the token's exp`,
        );
        assert.ok(socket.connected, 'the authenticated socket stays connected');
      } finally {
        await closeAll(socket);
      }
    });

    test('claims the token lacks fall back as the contract decides (email "", permissions {}, displayname = username, avatar "")', T, async () => {
      const profileid = uid('plain');
      const token = await server.token({ profileid, username: 'plainuser' });
      const { socket, authenticated: auth } = await connect(server, { profileid, token });
      try {
        assert.deepEqual(auth.user, { id: profileid, username: 'plainuser', email: '', permissions: {} });
        assert.deepEqual(auth.profile, { profileid, username: 'plainuser', displayname: 'plainuser', avatar: '' });
      } finally {
        await closeAll(socket);
      }
    });

    test("a token with DESIGN.md's claims minted by another issuer (same secret) is accepted", T, async () => {
      const profileid = uid('ext');
      const token = signJwt(accessClaims(profileid, { username: 'external', sub: uid('sub'), displayname: 'Ext' }));
      const { socket, authenticated: auth } = await connect(server, { profileid, token });
      try {
        assert.equal(auth.profile.profileid, profileid);
        assert.equal(auth.profile.displayname, 'Ext');
        assert.equal(auth.user.id, decodeJwt(token).sub);
      } finally {
        await closeAll(socket);
      }
    });

    test('a second connection from the same client is a trusted device with the same fingerprint', T, async () => {
      const user = await newUser(server, 'device');
      const first = await user.connect();
      await closeAll(first.socket);
      const second = await user.connect();
      const other = await user.connect({ userAgent: 'some-other-browser/2.0' });
      try {
        assert.equal(first.authenticated.security.deviceTrusted, false, 'the first connection is from a new device');
        assert.equal(second.authenticated.security.deviceTrusted, true, 'the same client connecting again is trusted');
        assert.equal(
          second.authenticated.security.deviceFingerprint,
          first.authenticated.security.deviceFingerprint,
          'the same client has the same fingerprint',
        );
        assert.ok(
          second.authenticated.security.riskScore <= first.authenticated.security.riskScore,
          `a trusted device is not riskier (${second.authenticated.security.riskScore} vs ${first.authenticated.security.riskScore})`,
        );
        assert.notEqual(
          other.authenticated.security.deviceFingerprint,
          first.authenticated.security.deviceFingerprint,
          'another user agent is another device',
        );
        assert.equal(other.authenticated.security.deviceTrusted, false, 'another device is not trusted yet');
      } finally {
        await closeAll(second.socket, other.socket);
      }
    });

    test('a device trusted for one user is not trusted for another', T, async () => {
      const alice = await newUser(server, 'alice');
      const bob = await newUser(server, 'bob');
      const a1 = await alice.connect();
      const b1 = await bob.connect();
      try {
        assert.equal(b1.authenticated.security.deviceTrusted, false);
      } finally {
        await closeAll(a1.socket, b1.socket);
      }
    });

    test('the Authorization: Bearer header is accepted for non-browser clients', T, async () => {
      const profileid = uid('bearer');
      const token = await server.token({ profileid, username: 'bearer' });
      const { socket, authenticated } = await connect(server, { profileid, bearer: token });
      try {
        assert.equal(authenticated.profile.profileid, profileid);
      } finally {
        await closeAll(socket);
      }
    });

    test('no token at all -> auth_error AUTH_MISSING_TOKEN, then disconnect', T, async () => {
      await expectRefused(server, { profileid: uid('nobody') }, 'AUTH_MISSING_TOKEN');
    });

    test('a token with a forged signature -> auth_error AUTH_INVALID_TOKEN', T, async () => {
      const profileid = uid('forger');
      const forged = signJwt(accessClaims(profileid), { secret: 'not-the-server-secret-0123456789abcdef' });
      await expectRefused(server, { profileid, token: forged }, 'AUTH_INVALID_TOKEN');

      // A real token whose payload was edited (signature no longer matches).
      const real = await server.token({ profileid, username: 'forger' });
      const [header, , signature] = real.split('.');
      const edited = Buffer.from(JSON.stringify({ ...decodeJwt(real), permissions: { admin: true } })).toString('base64url');
      await expectRefused(server, { profileid, token: `${header}.${edited}.${signature}` }, 'AUTH_INVALID_TOKEN');
    });

    test('alg "none", garbage and a refresh token in the accessToken cookie -> AUTH_INVALID_TOKEN', T, async () => {
      const profileid = uid('odd');
      const none = signJwt(accessClaims(profileid), { header: { alg: 'none', typ: 'JWT' } });
      await expectRefused(server, { profileid, token: none }, 'AUTH_INVALID_TOKEN');
      await expectRefused(server, { profileid, token: 'not-a-jwt' }, 'AUTH_INVALID_TOKEN');
      const refresh = await server.token({ profileid, username: 'odd', refresh: true });
      await expectRefused(server, { profileid, token: refresh }, 'AUTH_INVALID_TOKEN');
    });

    test('an expired access token without a refresh token -> AUTH_TOKEN_EXPIRED', T, async () => {
      const profileid = uid('late');
      const expired = signJwt(accessClaims(profileid, { expiresIn: -3600 }));
      await expectRefused(server, { profileid, token: expired }, 'AUTH_TOKEN_EXPIRED');
    });

    test('an expired access token plus a valid refreshToken -> authenticated, then tokens_refreshed', T, async () => {
      const profileid = uid('refresh');
      const expired = signJwt(accessClaims(profileid, { username: 'refresher', expiresIn: -3600 }));
      const refreshToken = await server.token({ profileid, username: 'refresher', refresh: true, ttl: '7d' });
      const refreshExp = decodeJwt(refreshToken).exp * 1000;
      const { socket, inbox, authenticated } = await connect(server, { profileid, token: expired, refreshToken });
      try {
        assert.equal(authenticated.profile.profileid, profileid);
        const refreshed = await inbox.take('tokens_refreshed', { timeout: 5_000 });
        assert.deepEqual(Object.keys(refreshed).sort(), ['expiresAt', 'refreshed']);
        assert.equal(refreshed.refreshed, true);
        const expiresAt = assertIso(refreshed.expiresAt, 'tokens_refreshed.expiresAt');
        assert.ok(expiresAt > Date.now(), 'tokens_refreshed.expiresAt is in the future');
        assert.ok(Math.abs(expiresAt - refreshExp) <= 1_000, 'tokens_refreshed.expiresAt is the refresh token expiry');
        assert.ok(
          Math.abs(assertIso(authenticated.session.expiresAt) - refreshExp) <= 1_000,
          'session.expiresAt is the expiry of the token the session was authenticated with',
        );
        const [auth] = inbox.all('authenticated');
        const [tokens] = inbox.all('tokens_refreshed');
        assert.ok(auth.index < tokens.index, 'tokens_refreshed follows authenticated');
      } finally {
        await closeAll(socket);
      }
    });

    test('a valid access token with a refreshToken beside it -> no tokens_refreshed', T, async () => {
      const user = await newUser(server, 'fresh');
      const refreshToken = await server.token({ profileid: user.profileid, username: user.username, refresh: true });
      const { socket, inbox } = await user.connect({ refreshToken });
      try {
        await inbox.expectNone('tokens_refreshed', 1_000);
      } finally {
        await closeAll(socket);
      }
    });

    test('an expired access token with a forged or foreign refreshToken is refused', T, async () => {
      const profileid = uid('thief');
      const expired = signJwt(accessClaims(profileid, { expiresIn: -3600 }));
      const forgedRefresh = signJwt(accessClaims(profileid, { expiresIn: 86_400, typ: 'refresh' }), {
        secret: 'not-the-server-secret-0123456789abcdef',
      });
      const refused = await connect(server, { profileid, token: expired, refreshToken: forgedRefresh, waitFor: 'auth_error' });
      assert.ok(
        ['AUTH_TOKEN_EXPIRED', 'AUTH_INVALID_TOKEN'].includes(refused.authError.error),
        `forged refresh: ${JSON.stringify(refused.authError)}`,
      );
      await waitDisconnect(refused.socket);

      // A valid refresh token of somebody else must not authenticate this profile.
      const victim = uid('victim');
      const foreignRefresh = await server.token({ profileid: victim, username: 'victim', refresh: true });
      const foreign = await connect(server, { profileid, token: expired, refreshToken: foreignRefresh, waitFor: 'auth_error' });
      assert.ok(
        ['AUTH_PROFILE_MISMATCH', 'AUTH_TOKEN_EXPIRED', 'AUTH_INVALID_TOKEN'].includes(foreign.authError.error),
        `foreign refresh: ${JSON.stringify(foreign.authError)}`,
      );
      await waitDisconnect(foreign.socket);
    });

    test("handshake auth.profileid other than the token's -> AUTH_PROFILE_MISMATCH", T, async () => {
      const user = await newUser(server, 'mallory');
      await expectRefused(server, { profileid: uid('someone-else'), token: user.token }, 'AUTH_PROFILE_MISMATCH');
    });

    test('a missing or malformed handshake auth object -> AUTH_HANDSHAKE_INVALID', T, async () => {
      const user = await newUser(server, 'shaky');
      await expectRefused(server, { token: user.token, auth: null, label: 'no auth' }, 'AUTH_HANDSHAKE_INVALID');
      await expectRefused(server, { token: user.token, auth: {}, label: 'empty auth' }, 'AUTH_HANDSHAKE_INVALID');
      await expectRefused(
        server,
        { token: user.token, auth: { profileid: user.profileid }, label: 'no timestamp' },
        'AUTH_HANDSHAKE_INVALID',
      );
      await expectRefused(
        server,
        { token: user.token, auth: { profileid: user.profileid, timestamp: 'yesterday' }, label: 'string timestamp' },
        'AUTH_HANDSHAKE_INVALID',
      );
    });

    test('at most 10 sockets per user: the 11th gets TOO_MANY_CONNECTIONS, the first 10 stay connected', { timeout: 90_000 }, async () => {
      const user = await newUser(server, 'busy');
      const sockets = [];
      try {
        for (let i = 0; i < 10; i += 1) sockets.push(await user.socket({ label: `busy#${i + 1}` }));
        const eleventh = await connect(server, {
          profileid: user.profileid,
          token: user.token,
          waitFor: 'auth_error',
          label: 'busy#11',
        });
        assertErrorPayload(eleventh.authError, 'TOO_MANY_CONNECTIONS', 'auth_error of the 11th socket');
        assert.equal(await waitDisconnect(eleventh.socket), 'io server disconnect');

        await sleep(1_000);
        for (const [i, socket] of sockets.entries()) {
          assert.ok(socket.connected, `socket #${i + 1} is still connected`);
          assert.equal(socket.inbox.all('$disconnect').length, 0, `socket #${i + 1} was never disconnected`);
          assert.equal(socket.inbox.all('auth_error').length, 0, `socket #${i + 1} got no auth_error`);
        }

        // Another user is not affected by this user's limit.
        const other = await newUser(server, 'idle');
        const otherSocket = await other.socket();
        await closeAll(otherSocket);

        // A freed slot can be used again.
        await closeAll(sockets.pop());
        await sleep(300);
        sockets.push(await user.socket({ label: 'busy#again' }));
      } finally {
        await closeAll(sockets);
      }
    });

    test('a token that expires during the session -> auth_required, then disconnect', T, async () => {
      const profileid = uid('brief');
      const token = await server.token({ profileid, username: 'brief', ttl: '3s' });
      const expMs = decodeJwt(token).exp * 1000;
      const { socket, inbox, authenticated } = await connect(server, { profileid, token });
      try {
        assert.ok(Math.abs(assertIso(authenticated.session.expiresAt) - expMs) <= 1_000, 'session.expiresAt is the token expiry');
        const item = await inbox.takeItem('auth_required', { timeout: 10_000 });
        assert.ok(item.at >= expMs - 1_000, `auth_required came at expiry, not ${expMs - item.at} ms before it`);
        assert.deepEqual(item.args, [], 'auth_required carries no payload (listeners receive no argument)');
        assert.equal(await waitDisconnect(socket, 5_000), 'io server disconnect', 'the server disconnects after auth_required');
      } finally {
        await closeAll(socket);
      }
    });
  });
}
