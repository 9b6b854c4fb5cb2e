// Issue 3, "Presence": user_status_changed (and the legacy user_online /
// user_offline unless turned off) to the user's chat partners when the first
// socket connects and when the last one disconnects.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { assertIso, assertRecent, closeAll, createChat, databases, sleep, startServer, users } from '../support/index.mjs';

const T = { timeout: 60_000 };

const about = (user) => (data) => data?.profileid === user.profileid;

/** Runs the first-socket / second-socket / last-socket sequence; returns what bob saw. */
async function presenceSequence(server, { legacy }) {
  const [alice, bob, eve] = await users(server, 'alice', 'bob', 'eve');
  // alice and bob share two chats: bob must still hear each change once.
  await createChat(server, alice, { participants: [bob] });
  await createChat(server, bob, { chatType: 'direct', participants: [alice] });
  const b = await bob.socket();
  const e = await eve.socket(); // shares no chat with alice
  const sockets = [b, e];
  try {
    const connectedAt = Date.now();
    const a1 = await alice.socket({ label: 'alice#1' });
    sockets.push(a1);
    const online = await b.inbox.take('user_status_changed', { where: about(alice) });
    assert.deepEqual(Object.keys(online).sort(), ['isOnline', 'lastSeen', 'profileid']);
    assert.equal(online.isOnline, true);
    const onlineAt = assertIso(online.lastSeen, 'lastSeen');
    assertRecent(onlineAt, 'lastSeen');
    assert.ok(onlineAt >= connectedAt - 2_000, 'lastSeen is the time of the change');
    if (legacy) {
      assert.deepEqual(await b.inbox.take('user_online', { where: about(alice) }), { profileid: alice.profileid });
    }

    // a second socket of the same user: nothing new
    const a2 = await alice.socket({ label: 'alice#2' });
    sockets.push(a2);
    await b.inbox.expectNone('user_status_changed', 1_500, about(alice), "alice's second socket");
    await b.inbox.expectNone('user_online', 0, about(alice), "alice's second socket");

    // closing one of two: still online
    await closeAll(a2);
    await b.inbox.expectNone('user_status_changed', 1_500, about(alice), "alice's first socket is still connected");
    await b.inbox.expectNone('user_offline', 0, about(alice));

    // closing the last one: offline
    const closedAt = Date.now();
    await closeAll(a1);
    const offline = await b.inbox.take('user_status_changed', { where: about(alice) });
    assert.equal(offline.isOnline, false);
    const offlineAt = assertIso(offline.lastSeen, 'lastSeen');
    assert.ok(offlineAt >= closedAt - 2_000, 'lastSeen is the time alice went offline');
    if (legacy) {
      assert.deepEqual(await b.inbox.take('user_offline', { where: about(alice) }), { profileid: alice.profileid });
    }

    await sleep(1_000);
    await b.inbox.expectNone('user_status_changed', 0, about(alice), 'exactly one event per change, although they share two chats');
    await b.inbox.expectNone('user_online', 0, about(alice));
    await b.inbox.expectNone('user_offline', 0, about(alice));
    for (const event of ['user_status_changed', 'user_online', 'user_offline']) {
      await e.inbox.expectNone(event, 0, about(alice), 'eve shares no chat with alice');
    }
    if (!legacy) {
      assert.equal(b.inbox.all('user_online').length + b.inbox.all('user_offline').length, 0, 'no legacy events at all');
    }
  } finally {
    await closeAll(sockets);
  }
}

for (const db of await databases()) {
  describe(`presence [${db.name}]`, { skip: db.skip }, () => {
    let server;
    before(async () => {
      server = await startServer({ database: db.name, name: 'presence' });
    });
    after(async () => {
      await server?.stop();
    });

    test('first socket -> isOnline true + user_online; second -> nothing; last gone -> isOnline false + user_offline', T, async () => {
      await presenceSequence(server, { legacy: true });
    });

    test('a partner connecting is announced to those already online; nothing is retroactive', T, async () => {
      const [alice, bob] = await users(server, 'alice', 'bob');
      await createChat(server, alice, { participants: [bob] });
      const a = await alice.socket();
      const b = await bob.socket();
      try {
        // alice came online before bob connected: bob learns nothing retroactively,
        // but alice now hears that bob came online.
        const heard = await a.inbox.take('user_status_changed', { where: about(bob) });
        assert.equal(heard.isOnline, true);
        await b.inbox.expectNone('user_status_changed', 1_000, about(alice));
      } finally {
        await closeAll(a, b);
      }
    });
  });

  describe(`presence with --legacy-events false [${db.name}]`, { skip: db.skip }, () => {
    let server;
    before(async () => {
      server = await startServer({ database: db.name, name: 'presence-nolegacy', args: ['--legacy-events', 'false'] });
    });
    after(async () => {
      await server?.stop();
    });

    test('user_status_changed only, no user_online / user_offline', T, async () => {
      await presenceSequence(server, { legacy: false });
    });
  });
}
