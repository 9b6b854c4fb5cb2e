// Issue 20, "hostile input, round two": what a peer can make the server
// hold without signing in, or by not reading. Each test reproduces one
// attack of the issue against the real binary and measures what it costs
// (the server's RSS from /proc/<pid>/status, open connections, /health's
// answer time). Loopback only; counts are scaled to a small machine.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { describe, test } from 'node:test';
import WebSocket from 'ws';

import { closeAll, createChat, joinChat, newUser, sleep, startServer } from '../support/index.mjs';

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
