// Issue 20, "hostile input, round two": what a peer can make the server
// hold without signing in, or by not reading. Each test reproduces one
// attack of the issue against the real binary and measures what it costs
// (the server's RSS from /proc/<pid>/status, open connections, /health's
// answer time). Loopback only; counts are scaled to a small machine.
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import net from 'node:net';
import { describe, test } from 'node:test';
import WebSocket from 'ws';

import { closeAll, cmid, createChat, emitAck, newUser, sleep, startServer } from '../support/index.mjs';
import { scrape, value } from '../support/ops.mjs';

const T = { timeout: 90_000 };

/** The server process's resident memory, in MB. */
function rssMb(server) {
  const status = readFileSync(`/proc/${server.child.pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]);
  return kb / 1024;
}

/** The highest RSS seen while `work` runs, sampled every 100 ms. */
async function peakRssDuring(server, work) {
  let peak = rssMb(server);
  let running = true;
  const sampler = (async () => {
    while (running) {
      peak = Math.max(peak, rssMb(server));
      await sleep(100);
    }
  })();
  try {
    await work();
    peak = Math.max(peak, rssMb(server));
  } finally {
    running = false;
    await sampler;
  }
  return peak;
}

/** A raw engine.io WebSocket with no token; resolves once it is open. */
function anonymousWebSocket(server) {
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/socket.io/?EIO=4&transport=websocket`);
  ws.on('error', () => {});
  const closed = new Promise((done) => ws.on('close', () => done()));
  const opened = new Promise((done) => {
    ws.once('message', () => done(true));
    ws.once('close', () => done(false));
  });
  return { ws, opened, closed };
}

/** GET /health from another loopback address (not the attacker's), timed. */
async function timedHealth(server) {
  const started = Date.now();
  const status = await new Promise((done) => {
    const socket = net.connect({ host: '127.0.0.1', port: server.port, localAddress: '127.0.0.2' });
    let answer = '';
    const timer = setTimeout(() => {
      socket.destroy();
      done(0);
    }, 5_000);
    socket.on('connect', () => socket.write('GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
    socket.on('data', (chunk) => {
      answer += chunk;
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      done(Number(/^HTTP\/1\.1 (\d+)/.exec(answer)?.[1] ?? 0));
    });
  });
  return { status, ms: Date.now() - started };
}

describe('anonymous binary attachments (issue 20, item 1)', () => {
  test('50 connections that announce attachments and flood them, never CONNECTing, add < 100 MB', T, async () => {
    const server = await startServer({ name: 'exhaust-attachments' });
    const sockets = [];
    try {
      await sleep(500);
      const before = rssMb(server);
      const FLOODS = 50;
      const FRAMES = 90;
      const frame = Buffer.alloc(100 * 1024, 7);
      const peak = await peakRssDuring(server, async () => {
        for (let i = 0; i < FLOODS; i += 1) sockets.push(anonymousWebSocket(server));
        await Promise.all(sockets.map((s) => s.opened));
        await Promise.all(
          sockets.map(async ({ ws }) => {
            // A binary event header announcing 1000 attachments, then 9 MB of them.
            ws.send('451000-["send_message",{"_placeholder":true,"num":0}]');
            for (let f = 0; f < FRAMES && ws.readyState === WebSocket.OPEN; f += 1) {
              ws.send(frame);
              // Let the kernel take it, so the server (not this process) holds the bytes.
              if (ws.bufferedAmount > 1024 * 1024) await sleep(5);
            }
          }),
        );
        await sleep(1_500);
      });
      const growth = peak - before;
      assert.ok(growth < 100, `RSS grew by ${growth.toFixed(0)} MB (from ${before.toFixed(0)} to ${peak.toFixed(0)} MB)`);
      const health = await timedHealth(server);
      assert.equal(health.status, 200, 'the server still answers');
    } finally {
      for (const { ws } of sockets) ws.terminate();
      await server.stop();
    }
  });
});

describe('slowloris and connection floods (issue 20, item 2)', () => {
  test('request heads trickled one line every 2 s are closed within 30 s; /health answers in < 2.5 s throughout (never stuck behind them)', T, async () => {
    const server = await startServer({ name: 'exhaust-slowloris', args: ['--max-connections-per-address', '100'] });
    const SLOW = 150;
    const conns = [];
    try {
      const closedAt = new Array(SLOW).fill(0);
      const startedAt = Date.now();
      for (let i = 0; i < SLOW; i += 1) {
        const socket = net.connect({ host: '127.0.0.1', port: server.port });
        socket.on('error', () => {});
        socket.on('close', () => {
          closedAt[i] = Date.now();
        });
        socket.on('connect', () => socket.write('GET /health HTTP/1.1\r\nHost: x\r\n'));
        conns.push(socket);
      }
      const trickle = setInterval(() => {
        for (const socket of conns) if (!socket.destroyed) socket.write(`X-Slow-${Date.now()}: 1\r\n`);
      }, 2_000);
      const healthTimes = [];
      try {
        while (Date.now() - startedAt < 28_000 && closedAt.some((at) => at === 0)) {
          const health = await timedHealth(server);
          assert.equal(health.status, 200, '/health answers while the slow heads are open');
          healthTimes.push(health.ms);
          await sleep(1_000);
        }
      } finally {
        clearInterval(trickle);
      }
      const open = closedAt.filter((at) => at === 0).length;
      assert.ok(open <= SLOW / 10, `${open} of ${SLOW} slow connections are still open after ${(Date.now() - startedAt) / 1000} s`);
      // Past the per-address cap (100) the rest were closed at once.
      assert.ok(closedAt.filter((at) => at && at - startedAt < 3_000).length >= SLOW - 100, 'connections past the per-address cap are closed at accept');
      // What this guards against is /health stuck behind the slow heads until
      // the 10 s header-read timeout; 2.5 s leaves a busy shared 2-core host
      // room (1,031 ms seen under a parallel build) and still catches that.
      assert.ok(Math.max(...healthTimes) < 2_500, `/health took at most ${Math.max(...healthTimes)} ms`);
    } finally {
      for (const socket of conns) socket.destroy();
      await server.stop();
    }
  });

  test('raw WebSockets from one address count against --max-connections-per-address; others still get in', T, async () => {
    const server = await startServer({ name: 'exhaust-ws-flood', args: ['--max-connections-per-address', '50'] });
    const sockets = [];
    try {
      for (let i = 0; i < 120; i += 1) sockets.push(anonymousWebSocket(server));
      const opened = await Promise.all(sockets.map((s) => s.opened));
      const count = opened.filter(Boolean).length;
      assert.ok(count <= 50, `${count} raw WebSockets opened from one address with a cap of 50`);
      assert.ok(count >= 40, `${count}: the cap, not something else, refused them`);
      const health = await timedHealth(server);
      assert.equal(health.status, 200, 'another address is still served');
    } finally {
      for (const { ws } of sockets) ws.terminate();
      await server.stop();
    }
  });
});

describe('new connections of every kind per address (issue 20, item 2)', () => {
  test('raw WebSockets and polling sessions that never CONNECT count against twice --max-connections-per-minute', T, async () => {
    const server = await startServer({ name: 'exhaust-opens', args: ['--max-connections-per-minute', '5'] });
    const sockets = [];
    try {
      for (let i = 0; i < 8; i += 1) sockets.push(anonymousWebSocket(server));
      const opened = (await Promise.all(sockets.map((s) => s.opened))).filter(Boolean).length;
      assert.equal(opened, 8, 'within the budget (2 × 5) raw WebSockets open');
      const polls = [];
      for (let i = 0; i < 4; i += 1) {
        polls.push(await fetch(`${server.url}/socket.io/?EIO=4&transport=polling`));
      }
      const statuses = polls.map((r) => r.status);
      assert.deepEqual(statuses, [200, 200, 429, 429], 'polling sessions share the budget; past it 429');
      const body = await polls[3].json();
      assert.equal(body.error, 'TOO_MANY_CONNECTIONS');
      const late = anonymousWebSocket(server);
      sockets.push(late);
      assert.equal(await late.opened, false, 'a WebSocket past the budget is refused too');
    } finally {
      for (const { ws } of sockets) ws.terminate();
      await server.stop();
    }
  });
});

/** A raw engine.io WebSocket signed in as `user`, answering engine.io pings while it reads. */
async function signedInWebSocket(server, user) {
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/socket.io/?EIO=4&transport=websocket`, {
    headers: { Cookie: `accessToken=${user.token}` },
  });
  ws.on('error', () => {});
  let closedAt = 0;
  ws.on('close', () => {
    closedAt = Date.now();
  });
  const authenticated = new Promise((done, fail) => {
    ws.on('message', (data) => {
      const text = data.toString();
      if (text === '2') ws.send('3');
      if (text.startsWith('0')) ws.send(`40${JSON.stringify({ profileid: user.profileid, timestamp: Date.now() })}`);
      if (text.startsWith('42["authenticated"')) done();
    });
    ws.once('close', () => fail(new Error('closed before authenticated')));
  });
  await authenticated;
  return {
    ws,
    get closedAt() {
      return closedAt;
    },
  };
}

describe('clients that stop reading (issue 20, item 3)', () => {
  test('30 paused sockets under a flood are dropped by the send-buffer cap; memory stays bounded through the drop', T, async () => {
    const PAUSED = 30;
    const SENDERS = 5;
    const BATCH = 20;
    const CONTENT_BYTES = 5_000;
    // Half the default send-buffer cap (2 MB): 30 paused sockets may then
    // hold 30 MB by design. With the default, what the cap allows (60 MB)
    // plus the flood took RSS up 88 to 99 MB, at the bound below, leaving
    // it no room to catch a spike at the drops; with 1 MB, 53 to 57 MB.
    const server = await startServer({ name: 'exhaust-slow', args: ['--message-rate', '100', '--max-send-buffer-bytes', '1048576'] });
    const sockets = [];
    const paused = [];
    try {
      const readers = [];
      for (let i = 0; i < PAUSED; i += 1) readers.push(await newUser(server, `paused${i}`));
      const senders = [];
      for (let i = 0; i < SENDERS; i += 1) senders.push(await newUser(server, `flood${i}`));
      const chatid = await createChat(server, senders[0], { participants: [...senders.slice(1), ...readers] });
      for (const sender of senders) sockets.push(await sender.socket());
      for (const reader of readers) paused.push(await signedInWebSocket(server, reader));
      const metricsBefore = await scrape(server);
      await sleep(300);
      const before = rssMb(server);
      for (const { ws } of paused) ws._socket.pause();
      const pausedAt = Date.now();
      let acked = 0;
      // A paused client does not see the server close its connection (the
      // FIN waits behind the unsent data): count the drops on the server.
      let dropped = 0;
      const countDrops = async () => {
        const metrics = await scrape(server);
        dropped = value(metrics, 'lockstep_slow_consumer_drops_total') - value(metricsBefore, 'lockstep_slow_consumer_drops_total');
        return dropped;
      };
      const peak = await peakRssDuring(server, async () => {
        // Each paused socket is sent every message, up to 15 MB each: more
        // than the kernel's socket buffers take (a few MB), so the server's
        // queue fills. The senders read, and are sent no more at once than
        // a busy client can take (BATCH × SENDERS messages in flight).
        await Promise.all(
          sockets.map(async (socket, s) => {
            for (let round = 0; round < 150 && dropped < PAUSED && Date.now() - pausedAt < 40_000; round += 1) {
              const batch = [];
              for (let k = 0; k < BATCH; k += 1) {
                const payload = { chatid, clientMessageId: cmid(), messageType: 'text', content: `${s}/${round}/${k} `.padEnd(CONTENT_BYTES, 'x') };
                batch.push(emitAck(socket, 'send_message', payload, 30_000));
              }
              acked += (await Promise.all(batch)).filter((ack) => ack.success).length;
              if (s === 0) await countDrops();
            }
          }),
        );
        // The drops, and a few seconds after them: releasing the dropped
        // sockets' buffers must not cost a spike.
        await countDrops();
        await sleep(3_000);
      });
      const growth = peak - before;
      console.log(`# ${acked} messages acked; ${dropped}/${PAUSED} paused sockets dropped after ${Date.now() - pausedAt} ms; RSS ${before.toFixed(0)} -> peak ${peak.toFixed(0)} MB`);
      assert.equal(dropped, PAUSED, 'every paused socket was dropped by the send-buffer cap (lockstep_slow_consumer_drops_total)');
      assert.ok(growth < 100, `RSS grew by ${growth.toFixed(0)} MB through the flood and the drops`);
      assert.equal(server.output.join('').match(/slow consumer dropped/g)?.length, PAUSED, 'each drop is logged');
      assert.ok(sockets.every((s) => s.connected), 'the senders, who read, stay connected');
      assert.equal((await timedHealth(server)).status, 200);
    } finally {
      for (const { ws } of paused) ws.terminate();
      await closeAll(sockets);
      await server.stop();
    }
  });
});

describe('logs (issue 20, items 6 and 7)', () => {
  test('a refusal flood from one client grows the log by < 2 MB: one line per second and a summary with the count', T, async () => {
    const server = await startServer({ name: 'exhaust-log-flood' });
    let raw;
    try {
      const user = await newUser(server, 'flooder');
      raw = await signedInWebSocket(server, user);
      const metricsBefore = await scrape(server);
      await sleep(300);
      const logBefore = statSync(server.logFile).size;
      const started = Date.now();
      // Refused events (VALIDATION_ERROR, and past the per-socket queue,
      // the queue's own refusal) as fast as this process can send them.
      while (Date.now() - started < 3_000) {
        for (let i = 0; i < 500; i += 1) raw.ws.send('42["join_chat",{"chatid":""}]');
        await new Promise((done) => setImmediate(done));
        if (raw.ws.bufferedAmount > 4 * 1024 * 1024) await sleep(10);
      }
      // Until the server worked through its backlog, then the last interval's summary.
      let refusals = -1;
      for (let settled = false; !settled && Date.now() - started < 40_000; ) {
        await sleep(500);
        const now = value(await scrape(server), 'lockstep_refusals_total') - value(metricsBefore, 'lockstep_refusals_total');
        settled = now === refusals;
        refusals = now;
      }
      await sleep(2_000);
      const grown = statSync(server.logFile).size - logBefore;
      const output = readFileSync(server.logFile, 'utf8').slice(logBefore);
      console.log(`# ${refusals} refusals; the log grew by ${(grown / 1024).toFixed(0)} KB`);
      assert.ok(refusals >= 20_000, `the flood was refused ${refusals} times (at ~200 bytes a line, unthrottled that is > 4 MB)`);
      assert.ok(grown < 2 * 1024 * 1024, `the log grew by ${grown} bytes`);
      const summaries = [...output.matchAll(/refusals not logged.*?count=(\d+)/g)].map((m) => Number(m[1]));
      assert.ok(summaries.length >= 3, `the suppressed refusals are summarised once a second (${summaries.length} summaries)`);
      const logged = (output.match(/ refused /g) || []).length;
      const summarised = summaries.reduce((a, b) => a + b, 0);
      // The log was read after the metric, so it may have seen a few more.
      assert.ok(logged + summarised >= refusals, `logged ${logged} + summarised ${summarised} account for all ${refusals} refusals`);
    } finally {
      raw?.ws.terminate();
      await server.stop();
    }
  });

  for (const wireDebug of [false, true]) {
    test(`with RUST_LOG=debug message content reaches the log ${wireDebug ? 'only with --wire-debug' : 'never by default'}`, T, async () => {
      const server = await startServer({
        name: `exhaust-log-content-${wireDebug}`,
        env: { RUST_LOG: 'debug' },
        args: wireDebug ? ['--wire-debug'] : [],
      });
      const sockets = [];
      try {
        const alice = await newUser(server, 'alice');
        const bob = await newUser(server, 'bob');
        const chatid = await createChat(server, alice, { participants: [bob] });
        sockets.push(await alice.socket(), await bob.socket());
        const marker = `secret-content-${Date.now()}`;
        const ack = await emitAck(sockets[0], 'send_message', { chatid, clientMessageId: cmid(), messageType: 'text', content: marker });
        assert.equal(ack.success, true);
        await sockets[1].inbox.take('new_message', { timeout: 5_000 });
        await sleep(500);
        const log = readFileSync(server.logFile, 'utf8');
        if (wireDebug) assert.ok(log.includes(marker), '--wire-debug logs the packets (so the default case would see a leak)');
        else assert.ok(!log.includes(marker), 'message content is not in the debug log');
      } finally {
        await closeAll(sockets);
        await server.stop();
      }
    });
  }
});
