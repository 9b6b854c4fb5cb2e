// Several lockstep nodes sharing PostgreSQL and Redis (issue 6): messaging,
// presence, typing, limits and calls across nodes; a node killed with -9
// during a stream of sends; Redis going away and coming back.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';

import {
  closeAll,
  connect,
  createChat,
  createPostgresDatabase,
  dropPostgresDatabase,
  emitAck,
  freePort,
  fullHistory,
  newUser,
  postgresStatus,
  sleep,
  startServer,
} from '../support/index.mjs';

const REDIS_URL = process.env.LOCKSTEP_TEST_REDIS_URL || 'redis://127.0.0.1:6379';
/** The server's node TTL (10 s) plus a sweep period and slack. */
const NODE_DEATH_BOUND_MS = 25_000;

async function redisStatus(url = REDIS_URL) {
  const { hostname, port } = new URL(url);
  const net = await import('node:net');
  return new Promise((done) => {
    const socket = net.connect(Number(port || 6379), hostname);
    const fail = (reason) => {
      socket.destroy();
      done({ ok: false, reason });
    };
    socket.setTimeout(2_000, () => fail('timeout'));
    socket.on('error', (error) => fail(error.message));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (data) => {
      socket.destroy();
      done(data.toString().startsWith('+PONG') ? { ok: true } : { ok: false, reason: data.toString() });
    });
  });
}

const required = process.env.LOCKSTEP_REQUIRE_POSTGRES === '1' || process.env.CI;
const [pg, redis] = await Promise.all([postgresStatus(), redisStatus()]);
const skip = !pg.available ? `PostgreSQL: ${pg.reason}` : !redis.ok ? `Redis: ${redis.reason}` : false;
if (skip && required) throw new Error(`the cluster tests need PostgreSQL and Redis in CI (${skip})`);
if (skip) console.error(`skipping cluster tests: ${skip}`);

/** Three nodes on one database and one Redis. */
async function startCluster(count, { redisUrl = REDIS_URL, args = [] } = {}) {
  const database = await createPostgresDatabase();
  const nodes = [];
  for (let i = 0; i < count; i += 1) {
    nodes.push(
      await startServer({
        database: 'postgres',
        databaseUrl: database.url,
        name: `node${i}`,
        args: ['--redis-url', redisUrl, ...args],
      }),
    );
  }
  return {
    nodes,
    async stop() {
      await Promise.all(nodes.map((node) => node.stop().catch(() => {})));
      await dropPostgresDatabase(database.name).catch(() => {});
    },
  };
}

/** A user who may connect to any node (tokens are valid cluster-wide). */
async function clusterUser(nodes, name) {
  const user = await newUser(nodes[0], name);
  user.on = async (node, options = {}) => (await connect(node, { profileid: user.profileid, token: user.token, label: `${name}@${node.port}`, ...options })).socket;
  return user;
}

describe('three nodes sharing PostgreSQL and Redis', { skip }, () => {
  let cluster;
  let nodes;
  before(async () => {
    cluster = await startCluster(3);
    nodes = cluster.nodes;
  });
  after(async () => cluster?.stop());

  test('messages, receipts, typing and presence reach sockets on every node', async () => {
    const [alice, bob, carol] = await Promise.all(['alice', 'bob', 'carol'].map((n) => clusterUser(nodes, n)));
    const chatid = await createChat(nodes[0], alice, { participants: [bob.profileid, carol.profileid] });
    const a = await alice.on(nodes[0]);
    const b = await bob.on(nodes[1]);
    const c = await carol.on(nodes[2]);
    try {
      // Presence: bob and carol came online after alice; she heard it from other nodes.
      for (const who of [bob, carol]) {
        await a.inbox.take('user_status_changed', { where: (p) => p.profileid === who.profileid && p.isOnline });
      }

      const ack = await emitAck(a, 'send_message', { chatid, clientMessageId: 'x-1', messageType: 'text', content: 'across nodes' });
      assert.equal(ack.success, true, JSON.stringify(ack));
      for (const socket of [b, c]) {
        const message = await socket.inbox.take('new_message', { where: (p) => p.message.messageid === ack.serverMessageId });
        assert.equal(message.message.content, 'across nodes');
      }
      const sent = await a.inbox.take('message_sent', { where: (p) => p.serverMessageId === ack.serverMessageId });
      assert.deepEqual([...sent.deliveredTo].sort(), [bob.profileid, carol.profileid].sort(), 'online on other nodes counts as delivered live');

      // Read receipt from node 1 reaches the sender on node 0.
      b.emit('mark_message_read', { chatid, messageid: ack.serverMessageId });
      const read = await a.inbox.take('message_read', { where: (p) => p.messageid === ack.serverMessageId });
      assert.equal(read.readBy, bob.profileid);

      // Typing in the chat room, across nodes, never to the typer.
      for (const socket of [a, b]) {
        socket.emit('join_chat', { chatid });
        await socket.inbox.take('chat_joined');
      }
      b.emit('typing_start', chatid);
      const typing = await a.inbox.take('user_typing');
      assert.equal(typing.profileid, bob.profileid);
      await b.inbox.expectNone('user_typing', 500);
    } finally {
      await closeAll(a, b, c);
    }
  });

  test('a user is online while any node holds a socket; the socket limit is cluster-wide', async () => {
    const [watcher, erin] = await Promise.all([clusterUser(nodes, 'watcher'), clusterUser(nodes, 'erin')]);
    await createChat(nodes[0], watcher, { participants: [erin.profileid] });
    const w = await watcher.on(nodes[0]);
    const sockets = [];
    try {
      for (let i = 0; i < 10; i += 1) sockets.push(await erin.on(nodes[i % 3]));
      await w.inbox.take('user_status_changed', { where: (p) => p.profileid === erin.profileid && p.isOnline });
      await w.inbox.expectNone('user_status_changed', 300, (p) => p.profileid === erin.profileid);

      const eleventh = await connect(nodes[2], { profileid: erin.profileid, token: erin.token, waitFor: 'none' });
      const refusal = await eleventh.inbox.take('auth_error');
      assert.equal(refusal.error, 'TOO_MANY_CONNECTIONS');

      // Closing all but the last (on node 1) keeps erin online.
      const last = sockets.pop();
      await closeAll(...sockets);
      await w.inbox.expectNone('user_status_changed', 1_000, (p) => p.profileid === erin.profileid && !p.isOnline);
      last.close();
      const gone = await w.inbox.take('user_status_changed', { where: (p) => p.profileid === erin.profileid && !p.isOnline });
      assert.equal(gone.isOnline, false);
    } finally {
      await closeAll(w, ...sockets);
    }
  });

  test('rate limits are counted across nodes', async () => {
    const frank = await clusterUser(nodes, 'frank');
    const chatid = await createChat(nodes[0], frank, { participants: [] });
    const one = await frank.on(nodes[0]);
    const two = await frank.on(nodes[1]);
    try {
      const sends = [];
      for (let i = 0; i < 8; i += 1) {
        for (const socket of [one, two]) {
          sends.push(emitAck(socket, 'send_message', { chatid, clientMessageId: `f-${i}-${socket.id}`, messageType: 'text', content: `${i}` }));
        }
      }
      const acks = await Promise.all(sends);
      const limited = acks.filter((ack) => ack.code === 'RATE_LIMITED');
      assert.ok(limited.length >= 6, `16 sends in a burst over two nodes: at most 10 pass (${acks.filter((a) => a.success).length} passed)`);
      assert.ok(limited.every((ack) => ack.retryAfter > 0));
    } finally {
      await closeAll(one, two);
    }
  });

  test('a call between users on different nodes, signaling included', async () => {
    const [gus, hana] = await Promise.all([clusterUser(nodes, 'gus'), clusterUser(nodes, 'hana')]);
    await createChat(nodes[0], gus, { chatType: 'direct', participants: [hana.profileid] });
    const g = await gus.on(nodes[0]);
    const h = await hana.on(nodes[2]);
    try {
      const ack = await emitAck(g, 'initiate_call', { targetId: hana.profileid, callType: 'video' });
      assert.equal(ack.success, true, JSON.stringify(ack));
      const incoming = await h.inbox.take('incoming_call');
      assert.equal(incoming.callId, ack.callId);

      // Busy across nodes.
      const again = await emitAck(g, 'initiate_call', { targetId: hana.profileid, callType: 'voice' });
      assert.equal(again.code, 'CALLER_BUSY');

      h.emit('answer_call', { callId: ack.callId, acceptsVideo: true });
      await g.inbox.take('call_answered');
      g.emit('webrtc_offer', { callId: ack.callId, targetId: hana.profileid, offer: { type: 'offer', sdp: 'v=0' } });
      for (let i = 0; i < 10; i += 1) {
        g.emit('webrtc_ice_candidate', { callId: ack.callId, targetId: hana.profileid, candidate: { candidate: `c${i}` } });
      }
      const offer = await h.inbox.take('webrtc_offer_received');
      assert.equal(offer.fromId, gus.profileid);
      const candidates = await h.inbox.takeN('webrtc_ice_candidate_received', 10);
      assert.deepEqual(candidates.map((c) => c.candidate.candidate), [...Array(10).keys()].map((i) => `c${i}`));
      h.emit('end_call', { callId: ack.callId });
      const ended = await g.inbox.take('call_ended');
      assert.equal(ended.reason, 'user_ended');
    } finally {
      await closeAll(g, h);
    }
  });

  // Last: it kills node 2.
  test('kill -9 of a node during a stream of sends: nothing acknowledged is lost, partners see its users go offline, its calls end', async () => {
    const [ivan, june, kim] = await Promise.all(['ivan', 'june', 'kim'].map((n) => clusterUser(nodes, n)));
    const chatid = await createChat(nodes[0], ivan, { participants: [june.profileid, kim.profileid] });
    const watcher = await june.on(nodes[0]);
    const caller = await kim.on(nodes[1]);
    const doomed = await ivan.on(nodes[2]);
    try {
      // ivan (on the node that dies) is in a call with kim (node 1).
      await createChat(nodes[0], kim, { chatType: 'direct', participants: [ivan.profileid] });
      const call = await emitAck(caller, 'initiate_call', { targetId: ivan.profileid, callType: 'voice' });
      assert.equal(call.success, true, JSON.stringify(call));
      await doomed.inbox.take('incoming_call');
      doomed.emit('answer_call', { callId: call.callId, acceptsVideo: false });
      await caller.inbox.take('call_answered');

      const acked = [];
      let stop = false;
      const stream = (async () => {
        for (let i = 0; !stop && i < 400; i += 1) {
          const clientMessageId = `k-${i}`;
          doomed.emit('send_message', { chatid, clientMessageId, messageType: 'text', content: `m${i}` }, (ack) => {
            if (ack?.success) acked.push(ack.serverMessageId);
          });
          await sleep(40);
        }
      })();
      await sleep(1_500);
      await nodes[2].kill9();
      stop = true;
      await stream;
      assert.ok(acked.length > 0, 'some sends were acknowledged before the kill');

      // Every acknowledged message is in history, read through a survivor.
      const history = await fullHistory(nodes[0], june.token, chatid, { limit: 100 });
      const stored = new Set(history.map((m) => m.messageid));
      const missing = acked.filter((id) => !stored.has(id));
      assert.deepEqual(missing, [], `${acked.length} acknowledged, all in history`);
      assert.equal(stored.size, history.length, 'no message twice');

      // Partners see the dead node's user go offline, and the call end, within the bound.
      const offline = await watcher.inbox.take('user_status_changed', {
        where: (p) => p.profileid === ivan.profileid && !p.isOnline,
        timeout: NODE_DEATH_BOUND_MS,
      });
      assert.equal(offline.isOnline, false);
      const ended = await caller.inbox.take('call_ended', { timeout: NODE_DEATH_BOUND_MS });
      assert.equal(ended.reason, 'participant_disconnected');

      // Survivors keep serving, across the two of them; ivan reconnects elsewhere.
      const back = await ivan.on(nodes[1]);
      const ack = await emitAck(back, 'send_message', { chatid, clientMessageId: 'after', messageType: 'text', content: 'still here' });
      assert.equal(ack.success, true);
      await watcher.inbox.take('new_message', { where: (p) => p.message.messageid === ack.serverMessageId });
      back.close();
    } finally {
      await closeAll(watcher, caller, doomed);
    }
  });
});

describe('a node stopped with SIGTERM', { skip }, () => {
  let cluster;
  before(async () => {
    cluster = await startCluster(2);
  });
  after(async () => cluster?.stop());

  // Closing the sockets only starts their disconnect handlers; each one
  // removes the user from Redis and tells their partners. A node that
  // closed its store before they finished left some users "online" for
  // good: their Redis entries were gone, so the sweeper had nothing to
  // announce either.
  test('partners on another node see every user of the stopped node go offline, and its calls end, at once', { timeout: 90_000 }, async () => {
    const [nodeA, nodeB] = cluster.nodes;
    const USERS = 150;
    const BOUND_MS = 5_000; // well under the node TTL (10 s): not the sweeper's doing
    const watcher = await clusterUser(cluster.nodes, 'watcher');
    const leaving = await Promise.all(Array.from({ length: USERS }, (_, i) => clusterUser(cluster.nodes, `leaving${i}`)));
    await createChat(nodeA, watcher, { participants: leaving.map((u) => u.profileid) });
    const w = await watcher.on(nodeA);
    const sockets = [];
    try {
      for (const user of leaving) sockets.push(await user.on(nodeB));
      for (const user of leaving) {
        await w.inbox.take('user_status_changed', { where: (p) => p.profileid === user.profileid && p.isOnline });
      }
      // The watcher is in a call with the first of them.
      await createChat(nodeA, watcher, { chatType: 'direct', participants: [leaving[0].profileid] });
      const call = await emitAck(w, 'initiate_call', { targetId: leaving[0].profileid, callType: 'voice' });
      assert.equal(call.success, true, JSON.stringify(call));
      await sockets[0].inbox.take('incoming_call');
      sockets[0].emit('answer_call', { callId: call.callId, acceptsVideo: false });
      await w.inbox.take('call_answered');

      const outcome = await nodeB.signal('SIGTERM');
      assert.equal(outcome.code, 0, `exit code (signal ${outcome.signal}):\n${nodeB.logs()}`);
      const deadline = Date.now() + BOUND_MS;
      const missed = [];
      for (const user of leaving) {
        try {
          await w.inbox.take('user_status_changed', {
            where: (p) => p.profileid === user.profileid && !p.isOnline,
            timeout: Math.max(1, deadline - Date.now()),
          });
        } catch {
          missed.push(user.profileid);
        }
      }
      assert.deepEqual(missed, [], `${missed.length} of ${USERS} users not announced offline within ${BOUND_MS} ms of the stop:\n${nodeB.logs(20)}`);
      const ended = await w.inbox.take('call_ended', { where: (p) => p.callId === call.callId, timeout: Math.max(1, deadline - Date.now()) });
      assert.equal(ended.reason, 'participant_disconnected');
      assert.doesNotMatch(nodeB.logs(400), /storage unavailable/, 'disconnect handlers ran against a closed store');
    } finally {
      await closeAll(w, ...sockets);
    }
  });
});

describe('Redis going away and coming back', { skip }, () => {
  let redisProcess;
  let port;
  let cluster;

  async function startRedis() {
    redisProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    for (let i = 0; i < 50; i += 1) {
      if ((await redisStatus(`redis://127.0.0.1:${port}`)).ok) return;
      await sleep(100);
    }
    throw new Error('a private redis-server did not start');
  }

  async function stopRedis() {
    const exited = new Promise((done) => redisProcess.once('exit', done));
    redisProcess.kill('SIGKILL');
    await exited;
  }

  before(async () => {
    port = await freePort();
    await startRedis();
    cluster = await startCluster(1, { redisUrl: `redis://127.0.0.1:${port}` });
  });
  after(async () => {
    await cluster?.stop();
    redisProcess?.kill('SIGKILL');
  });

  test('the node reports not-ready and refuses work with SERVICE_UNAVAILABLE, then recovers by itself', async () => {
    const [node] = cluster.nodes;
    const lena = await clusterUser(cluster.nodes, 'lena');
    const chatid = await createChat(node, lena, { participants: [] });
    const socket = await lena.on(node);
    try {
      const send = (id) => emitAck(socket, 'send_message', { chatid, clientMessageId: id, messageType: 'text', content: id });
      assert.equal((await send('before')).success, true);
      assert.equal((await fetch(`${node.url}/ready`)).status, 200);

      await stopRedis();
      const refused = await send('during');
      assert.equal(refused.success, false);
      assert.equal(refused.code, 'SERVICE_UNAVAILABLE', JSON.stringify(refused));
      const ready = await fetch(`${node.url}/ready`);
      assert.equal(ready.status, 503);
      assert.match(JSON.stringify(await ready.json()), /redis/i);
      const history = await fullHistory(node, lena.token, chatid);
      assert.ok(!history.some((m) => m.clientMessageId === 'during'), 'nothing refused was stored');

      await startRedis();
      let recovered = false;
      for (let i = 0; i < 60 && !recovered; i += 1) {
        await sleep(500);
        recovered = (await fetch(`${node.url}/ready`)).status === 200 && (await send(`after-${i}`)).success === true;
      }
      assert.ok(recovered, 'ready and serving again after Redis came back');
    } finally {
      socket.close();
    }
  });
});
