// Catch-up across nodes (issue 23): two lockstep nodes on one PostgreSQL and
// one Redis. `seq` stays gapless when both nodes write one chat at once;
// `sync` works on any node; and a bounded chaos run (users sending while
// their sockets close and reopen at random, one node killed with -9 once,
// a sync after every reconnect) ends with every user holding every `seq`.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  closeAll,
  connect,
  createChat,
  createPostgresDatabase,
  dropPostgresDatabase,
  emitAck,
  newUser,
  postgresStatus,
  sleep,
  startServer,
} from '../support/index.mjs';

const REDIS_URL = process.env.LOCKSTEP_TEST_REDIS_URL || 'redis://127.0.0.1:6379';

async function redisReachable(url = REDIS_URL) {
  const { hostname, port } = new URL(url);
  const net = await import('node:net');
  return new Promise((done) => {
    const socket = net.connect(Number(port || 6379), hostname);
    const finish = (ok) => {
      socket.destroy();
      done(ok);
    };
    socket.setTimeout(2_000, () => finish(false));
    socket.on('error', () => finish(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (data) => finish(data.toString().startsWith('+PONG')));
  });
}

const required = process.env.LOCKSTEP_REQUIRE_POSTGRES === '1' || process.env.CI;
const [pg, redisOk] = await Promise.all([postgresStatus(), redisReachable()]);
const skip = !pg.available ? `PostgreSQL: ${pg.reason}` : !redisOk ? 'Redis unreachable' : false;
if (skip && required) throw new Error(`the cluster sync tests need PostgreSQL and Redis in CI (${skip})`);
if (skip) console.error(`skipping cluster sync tests: ${skip}`);

const range = (from, to) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Sends, waiting out rate limits and retrying (same clientMessageId) through disconnects. */
async function sendWithRetry(getSocket, chatid, clientMessageId, content) {
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const socket = getSocket();
    if (!socket?.connected) {
      await sleep(50);
      continue;
    }
    try {
      const ack = await emitAck(socket, 'send_message', { chatid, clientMessageId, messageType: 'text', content }, 3_000);
      if (ack.success) return ack;
      await sleep(ack.code === 'RATE_LIMITED' ? Math.ceil((ack.retryAfter ?? 0.2) * 1000) : 100);
    } catch {
      await sleep(50); // no ack (socket closed): retry, the server deduplicates
    }
  }
  throw new Error(`send ${clientMessageId} never acknowledged`);
}

describe('sync across two nodes sharing PostgreSQL and Redis', { skip }, () => {
  let database;
  let nodes;
  before(async () => {
    database = await createPostgresDatabase();
    nodes = [];
    for (let i = 0; i < 2; i += 1) {
      nodes.push(await startServer({ database: 'postgres', databaseUrl: database.url, name: `sync-node${i}`, args: ['--redis-url', REDIS_URL] }));
    }
  });
  after(async () => {
    await Promise.all((nodes ?? []).map((node) => node.stop().catch(() => {})));
    if (database) await dropPostgresDatabase(database.name).catch(() => {});
  });

  test('both nodes writing one chat at once: seq 1..N without gaps; sync on either node returns them all', { timeout: 90_000 }, async () => {
    const people = [];
    for (const name of ['p0', 'p1', 'p2', 'p3']) people.push(await newUser(nodes[0], name));
    const chatid = await createChat(nodes[0], people[0], { participants: people.slice(1) });
    const sockets = [];
    for (const [i, person] of people.entries()) {
      sockets.push((await connect(nodes[i % 2], { profileid: person.profileid, token: person.token, label: `${person.username}@${i % 2}` })).socket);
    }
    try {
      const perSender = 15;
      const acks = (
        await Promise.all(
          sockets.map(async (socket, who) => {
            const mine = [];
            for (let i = 0; i < perSender; i += 1) mine.push(await sendWithRetry(() => socket, chatid, `n-${who}-${i}`, `${who}/${i}`));
            return mine;
          }),
        )
      ).flat();
      const total = sockets.length * perSender;
      assert.deepEqual(acks.map((a) => a.seq).sort((x, y) => x - y), range(1, total), 'every seq once across both nodes');
      for (const socket of sockets.slice(0, 2)) {
        const ack = await emitAck(socket, 'sync', { positions: [], limit: 500 });
        assert.equal(ack.success, true, JSON.stringify(ack));
        const chat = ack.chats.find((c) => c.chatid === chatid);
        assert.deepEqual(chat.messages.map((m) => m.seq), range(1, total), 'sync in seq order on this node');
      }
    } finally {
      await closeAll(...sockets);
    }
  });

  test('chaos: sockets close and reopen at random, a node is killed once; after syncing every user holds every seq', { timeout: 120_000 }, async () => {
    const names = ['u0', 'u1', 'u2', 'u3'];
    const people = [];
    for (const name of names) people.push(await newUser(nodes[0], name));
    const chatid = await createChat(nodes[0], people[0], { participants: people.slice(1) });
    const perSender = 20;
    const total = names.length * perSender;
    let killed = false;
    const alive = () => nodes.filter((node, i) => !(killed && i === 1));

    // Each client: what it holds by seq, where it came from, and its position.
    const clients = people.map((person, i) => ({
      person,
      index: i,
      socket: null,
      held: new Map(),
      live: 0,
      synced: 0,
      duplicates: { liveAfterSync: 0, syncAfterLive: 0 },
      source: new Map(),
    }));
    const position = (client) => {
      let seq = 0;
      while (client.held.has(seq + 1)) seq += 1;
      return seq;
    };
    const hold = (client, message, how) => {
      if (client.held.has(message.seq)) {
        const first = client.source.get(message.seq);
        if (first === 'sync' && how === 'live') client.duplicates.liveAfterSync += 1;
        if (first === 'live' && how === 'sync') client.duplicates.syncAfterLive += 1;
        assert.equal(client.held.get(message.seq), message.messageid, `seq ${message.seq} names one message`);
        return;
      }
      client.held.set(message.seq, message.messageid);
      client.source.set(message.seq, how);
    };
    const syncClient = async (client) => {
      for (let round = 0; round < 20; round += 1) {
        const socket = client.socket;
        if (!socket?.connected) return;
        let ack;
        try {
          ack = await emitAck(socket, 'sync', { positions: [{ chatid, seq: position(client) }], limit: 25 }, 3_000);
        } catch {
          return; // closed meanwhile: the next reconnect syncs again
        }
        assert.equal(ack.success, true, JSON.stringify(ack));
        const chat = (ack.chats ?? []).find((c) => c.chatid === chatid);
        if (!chat) return;
        for (const message of chat.messages) {
          client.synced += 1;
          hold(client, message, 'sync');
        }
        if (!chat.hasMore) return;
      }
    };
    const reconnect = async (client) => {
      const choices = alive();
      const node = choices[Math.floor(Math.random() * choices.length)];
      const { socket } = await connect(node, { profileid: client.person.profileid, token: client.person.token, label: `${client.person.username}@${node.port}` });
      socket.on('new_message', (payload) => {
        if (payload.message.chatid !== chatid) return;
        client.live += 1;
        hold(client, payload.message, 'live');
      });
      // One socket per client at a time (the churn and the watchdog may both reopen).
      const previous = client.socket;
      client.socket = socket;
      if (previous && previous !== socket) previous.close();
      await syncClient(client);
    };

    for (const client of clients) await reconnect(client);
    const churn = async (client) => {
      // Close and reopen at random while sending.
      for (let i = 0; i < 6; i += 1) {
        await sleep(200 + Math.random() * 600);
        client.socket?.close();
        await sleep(Math.random() * 300);
        for (let attempt = 0; ; attempt += 1) {
          try {
            await reconnect(client);
            break;
          } catch (error) {
            if (attempt > 20) throw error;
            await sleep(200);
          }
        }
      }
    };
    const send = async (client) => {
      const acks = [];
      for (let i = 0; i < perSender; i += 1) {
        acks.push(await sendWithRetry(() => client.socket, chatid, `chaos-${client.index}-${i}`, `${client.index}/${i}`));
        await sleep(Math.random() * 100);
      }
      return acks;
    };
    const killer = (async () => {
      await sleep(1_500);
      killed = true;
      await nodes[1].kill9();
      // Sockets on the dead node notice and reopen on the survivor.
      for (const client of clients) {
        if (client.socket && !client.socket.connected) await reconnect(client).catch(() => {});
      }
    })();
    const watchdog = (async () => {
      // Reopen any socket the node's death closed (the churn may be between rounds).
      const until = Date.now() + 60_000;
      while (Date.now() < until && !clients.every((c) => c.done)) {
        await sleep(300);
        for (const client of clients) {
          if (client.socket && !client.socket.connected && !client.reopening) {
            client.reopening = true;
            await reconnect(client).catch(() => {});
            client.reopening = false;
          }
        }
      }
    })();
    const results = await Promise.all(
      clients.map(async (client) => {
        const [acks] = await Promise.all([send(client), churn(client)]);
        client.done = true;
        return acks;
      }),
    );
    await killer;
    await watchdog;
    const acks = results.flat();
    assert.deepEqual(acks.map((a) => a.seq).sort((x, y) => x - y), range(1, total), 'acked seqs are 1..N once each');

    // Final catch-up on the survivor; then everyone holds everything.
    for (const client of clients) {
      if (!client.socket?.connected) await reconnect(client);
      await syncClient(client);
    }
    const bySeq = new Map(acks.map((a) => [a.seq, a.serverMessageId]));
    for (const client of clients) {
      assert.deepEqual([...client.held.keys()].sort((x, y) => x - y), range(1, total), `${client.person.username} holds every seq`);
      for (const [seq, messageid] of client.held) assert.equal(bySeq.get(seq), messageid);
    }
    const report = clients.map((c) => `${c.person.username}: live ${c.live}, synced ${c.synced}, live after sync ${c.duplicates.liveAfterSync}, sync after live ${c.duplicates.syncAfterLive}`);
    console.error(`chaos (${total} messages, node 1 killed once):\n  ${report.join('\n  ')}`);
    await closeAll(...clients.map((c) => c.socket));
    // The killed node comes back for the other tests' teardown.
    await nodes[1].restart().catch(() => {});
  });
});
