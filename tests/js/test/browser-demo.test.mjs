// The demo as a person meets it, in headless Chromium: a development-mode
// server prints two links that sign in as Alice and Bob without a token;
// they share a chat, see each other come online, see each other typing,
// see their messages delivered and read, react, and the page fits a 390 px
// phone and a 1280 px screen without scrolling sideways (screenshots go to a
// temporary directory, named in the output). Outside development mode the
// shortcut does not exist, and a refused sign-in is said in words.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { browserSkip, describePage, launchBrowser, waitFor } from '../support/browser.mjs';
import { binaryPath, freePort, sleep, startServer, users } from '../support/index.mjs';
import { accessClaims, signJwt } from '../support/jwt.mjs';

const skip = browserSkip();

/** Where the screenshots go (not committed; printed so a person can look). */
const SHOTS = join(tmpdir(), `lockstep-demo-screenshots-${process.pid}`);

/**
 * `lockstep serve` in development mode: no `--jwt-secret` and no LOCKSTEP_*
 * settings, JSON logs. Resolves once the start-up line is out.
 */
async function startDevServer() {
  const dir = mkdtempSync(join(tmpdir(), 'lockstep-demo-dev-'));
  const port = await freePort();
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('LOCKSTEP_')));
  const child = spawn(
    binaryPath(),
    ['serve', '--bind', `127.0.0.1:${port}`, '--log-format', 'json', '--database-url', `sqlite://${join(dir, 'dev.db')}`],
    { cwd: dir, env: { ...env, RUST_LOG: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise((done) => child.on('exit', done));
  const server = {
    url: `http://127.0.0.1:${port}`,
    logs: (lines = 40) => output.split('\n').slice(-lines).join('\n'),
    startup: null,
    async stop() {
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + 30_000;
  while (!server.startup && Date.now() < deadline) {
    server.startup = output
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line))
      .find((entry) => entry.message === 'lockstep is listening');
    if (!server.startup) await sleep(100);
  }
  if (!server.startup) {
    await server.stop();
    throw new Error(`no start-up line from the development server:\n${output}`);
  }
  return server;
}

/** A page in a browser context of its own (cookies are per context), collecting its errors. */
async function newPage(browser, label, viewport = { width: 1280, height: 860 }) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  page.label = label;
  page.problems = [];
  page.consoleLines = [];
  page.on('pageerror', (error) => page.problems.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    const line = `${message.type()}: ${message.text()}`;
    page.consoleLines.push(line);
    if (message.type() === 'error') page.problems.push(line);
  });
  return page;
}

/** Fails unless the page fits its viewport's width, then saves a full-page screenshot. */
async function checkFits(page, width, name) {
  await page.setViewportSize({ width, height: 860 });
  await sleep(200);
  const { scrollWidth, innerWidth, wide, spilling } = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    // Panels whose content sticks out of them (a long chat preview, say).
    spilling: [...document.querySelectorAll('.card')]
      .filter((card) => card.offsetParent !== null && card.scrollWidth > card.clientWidth + 1)
      .map((card) => `${card.tagName.toLowerCase()}${card.id ? `#${card.id}` : ''}: ${card.scrollWidth} > ${card.clientWidth}`),
    // What sticks out, for the failure message.
    wide: [...document.querySelectorAll('body *')]
      .filter((node) => node.getBoundingClientRect().right > window.innerWidth + 0.5)
      .slice(0, 5)
      .map((node) => `${node.tagName.toLowerCase()}${node.id ? `#${node.id}` : ''}.${node.className}`),
  }));
  mkdirSync(SHOTS, { recursive: true });
  const path = join(SHOTS, `${name}-${width}.png`);
  await page.screenshot({ path, fullPage: true });
  assert.ok(scrollWidth <= innerWidth, `${name} at ${width} px scrolls sideways: scrollWidth ${scrollWidth} > ${innerWidth}; wide: ${wide.join(', ')} (screenshot ${path})`);
  assert.deepEqual(spilling, [], `${name} at ${width} px: content spills out of its panel (screenshot ${path})`);
  return path;
}

// No browser needed: these run wherever the binary does.
describe('the development-mode shortcut exists only in development mode', { timeout: 60_000 }, () => {
  let server;
  let production;

  before(async () => {
    server = await startDevServer();
    production = await startServer({ name: 'demo-production' });
  });

  after(async () => {
    await server?.stop();
    await production?.stop();
  });

  test('the start-up line prints a link per demo user, and the links redirect with a token in the fragment', async () => {
    const links = server.startup.demo_links?.split(' ');
    assert.deepEqual(links, [`${server.url}/demo?as=alice`, `${server.url}/demo?as=bob`], JSON.stringify(server.startup));
    assert.equal(server.startup.mode, 'development');

    const response = await fetch(links[0], { redirect: 'manual' });
    assert.equal(response.status, 303);
    const location = response.headers.get('location');
    assert.match(location, /^\/demo#as=alice&profileid=alice&token=[\w-]+\.[\w-]+\.[\w-]+$/);
    assert.equal(response.headers.get('cache-control'), 'no-store');
    // Only the demo users.
    assert.equal((await fetch(`${server.url}/demo?as=mallory`, { redirect: 'manual' })).status, 404);

    // Each link's token is Alice's or Bob's, and they share one direct chat (again after a second visit).
    const chats = [];
    for (const link of [...links, links[0]]) {
      const fragment = new URLSearchParams((await fetch(link, { redirect: 'manual' })).headers.get('location').split('#')[1]);
      const listed = await fetch(`${server.url}/api/chats`, { headers: { Authorization: `Bearer ${fragment.get('token')}` } });
      assert.equal(listed.status, 200, fragment.get('as'));
      const body = await listed.json();
      assert.equal(body.chats.length, 1, JSON.stringify(body));
      assert.equal(body.chats[0].chatType, 'direct');
      assert.equal(body.chats[0].participantCount, 2);
      chats.push(body.chats[0].chatid);
    }
    assert.equal(new Set(chats).size, 1, `one shared chat: ${chats}`);
  });

  test('with --jwt-secret, ?as= is 404 and no link is printed', async () => {
    for (const name of ['alice', 'bob', 'mallory']) {
      const response = await fetch(`${production.url}/demo?as=${name}`, { redirect: 'manual' });
      assert.equal(response.status, 404, name);
      assert.equal(response.headers.get('location'), null);
    }
    assert.equal((await fetch(`${production.url}/demo`)).status, 200, 'the page itself is served');
    assert.doesNotMatch(production.logs(), /demo_links|\?as=/);
  });
});

describe('development mode: the two printed links sign in as Alice and Bob, who chat', { skip, timeout: 180_000 }, () => {
  let server;
  let browser;
  let alice;
  let bob;
  const shots = [];

  before(async () => {
    server = await startDevServer();
    browser = await launchBrowser();
  });

  after(async () => {
    if (shots.length) console.log(`demo screenshots:\n${shots.join('\n')}`);
    await browser?.close().catch(() => {});
    await server?.stop();
  });

  async function context() {
    const pages = await Promise.all([alice, bob].filter(Boolean).map(describePage));
    return `${pages.join('\n')}\n--- server\n${server.logs()}`;
  }

  /** Waits for a locator, failing with both pages' logs. */
  async function see(page, selector, options = {}) {
    await page
      .locator(selector, options.hasText ? { hasText: options.hasText } : {})
      .first()
      .waitFor({ state: options.state ?? 'visible', timeout: options.timeout ?? 15_000 })
      .catch(async (error) => assert.fail(`[${page.label}] ${selector} ${options.hasText ?? ''}: ${error.message}\n${await context()}`));
  }

  test('Alice and Bob sign in from the links, share a named chat, and see each other come online', async () => {
    alice = await newPage(browser, 'alice');
    await alice.goto(server.startup.demo_links.split(' ')[0]);
    await waitFor(alice, () => window.lockstepDemo?.state.authenticated === true, { what: 'Alice to sign in' });
    assert.equal(await alice.evaluate(() => location.hash), '', 'the token left the address bar');
    await waitFor(alice, () => window.lockstepDemo.state.openChatId !== null, { what: 'the shared chat to open' });
    assert.equal(await alice.textContent('#me'), 'Alice');
    // Titled with Bob's name before Bob has connected or written: the page
    // asks GET /api/chats/{chatid} who is in each chat and what they are called.
    await see(alice, '#chat-title', { hasText: 'Bob' });
    await see(alice, `#chats .chat-name`, { hasText: 'Bob' });

    bob = await newPage(browser, 'bob');
    await bob.goto(server.startup.demo_links.split(' ')[1]);
    await waitFor(bob, () => window.lockstepDemo?.state.authenticated === true, { what: 'Bob to sign in' });
    await waitFor(bob, () => window.lockstepDemo.state.openChatId !== null, { what: 'the shared chat to open' });
    const chatid = await alice.evaluate(() => window.lockstepDemo.state.openChatId);
    assert.equal(await bob.evaluate(() => window.lockstepDemo.state.openChatId), chatid, 'one chat, shared');

    // Bob came online: Alice's chat is titled with his name and shows a green dot.
    await see(alice, '#chat-title', { hasText: 'Bob' });
    await see(alice, '#chat-avatar .dot[data-presence="online"]');
    await see(alice, '#chat-presence', { hasText: 'online' });
    await see(alice, `#chats button[data-chatid="${chatid}"] .chat-name`, { hasText: 'Bob' });
    assert.equal(await alice.textContent('#chat-title'), 'Bob', 'the display name, not the profile id "bob"');
    // And Bob, who came second, learns of Alice from her hello back.
    await see(bob, '#chat-title', { hasText: 'Alice' });
    await see(bob, '#chat-avatar .dot[data-presence="online"]');
  });

  test('Bob sees Alice typing, her message arrives with her name, and her ticks go sent, delivered, read', async () => {
    await alice.click('#message-text');
    await alice.keyboard.type('Hi Bob', { delay: 30 });
    await see(bob, '#typing', { hasText: 'Alice is typing…' });
    await see(bob, '#chats .chat-preview.typing', { hasText: 'Alice is typing…' });

    const text = `Hi Bob, this is Alice at ${Date.now()}`;
    await alice.fill('#message-text', text);
    await alice.click('#send');
    await see(bob, '#messages li.message', { hasText: text });
    const received = bob.locator('#messages li.message', { hasText: text });
    assert.equal(await received.locator('.sender').textContent(), 'Alice');
    // Typing stopped with the send.
    await waitFor(bob, () => document.getElementById('typing').textContent === '', { what: 'the typing indicator to clear' });

    // Bob's page shows the chat, visible: delivered, then read, on Alice's side.
    const mine = alice.locator('#messages li.message.mine', { hasText: text });
    await mine.locator('.ticks[data-status="read"]').waitFor({ timeout: 15_000 }).catch(async (error) => assert.fail(`${error.message}\n${await context()}`));
    assert.match(await mine.locator('.ticks').getAttribute('title'), /read by Bob/);
    assert.equal(await mine.locator('.ticks').textContent(), '✓✓');
  });

  test('a reply and a reaction travel back; the chat stays titled by names', async () => {
    const reply = `Hello Alice! (${Date.now()})`;
    await bob.fill('#message-text', reply);
    await bob.press('#message-text', 'Enter');
    await see(alice, '#messages li.message', { hasText: reply });
    assert.equal(await alice.locator('#messages li.message', { hasText: reply }).locator('.sender').textContent(), 'Bob');

    // Bob reacts to Alice's message; both see the reaction.
    const aliceMessage = bob.locator('#messages li.message:not(.mine)').last();
    await aliceMessage.locator('button[data-react="👍"]').click();
    for (const page of [alice, bob]) await see(page, '#messages .reaction[data-emoji="👍"]', { hasText: '👍 1' });
    assert.equal(await alice.locator('#messages .reaction[data-emoji="👍"]').getAttribute('title'), 'Bob');
  });

  test('the page fits 390 px and 1280 px without scrolling sideways', async () => {
    for (const width of [390, 1280]) {
      shots.push(await checkFits(alice, width, 'chat-alice'));
      shots.push(await checkFits(bob, width, 'chat-bob'));
    }
  });

  test('Bob leaves: Alice sees him go offline', async () => {
    await bob.context().close();
    bob = null;
    await see(alice, '#chat-avatar .dot[data-presence="offline"]');
    await see(alice, '#chat-presence', { hasText: 'offline' });
  });

  test('a refused token from a demo link offers the link again, which signs in', async () => {
    // As after a restart of the development server (a new secret): the tab's token is refused.
    const again = await newPage(browser, 'alice-again', { width: 390, height: 760 });
    await again.goto(`${server.url}/demo#as=alice&profileid=alice&token=${signJwt(accessClaims('alice'), { secret: 'an-old-development-secret-0123456789' })}`);
    await see(again, '#auth-status', { hasText: 'Cannot sign in: the server does not accept this token' });
    assert.equal(await again.evaluate(() => location.hash), '');
    await again.click('#auth-again');
    await waitFor(again, () => window.lockstepDemo?.state.authenticated === true, { what: 'the link to sign in again' });
    assert.equal(await again.textContent('#me'), 'Alice');
    assert.deepEqual(again.problems, []);
    await again.context().close();
  });

  test('the pages raised no errors', () => {
    const problems = [...(alice?.problems ?? [])];
    assert.deepEqual(problems, [], problems.join('\n'));
  });
});

describe('outside development mode, in the browser', { skip, timeout: 120_000 }, () => {
  let server;
  let browser;

  before(async () => {
    server = await startServer({ name: 'demo-production' });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await server?.stop();
  });

  test('a refused sign-in is said in words: an expired token, a token of another server', async () => {
    const [carol] = await users(server, 'carol');
    const cases = [
      { token: signJwt(accessClaims(carol.profileid, { expiresIn: -3600 })), words: /your token expired/ },
      { token: signJwt(accessClaims(carol.profileid), { secret: 'another-server-secret-0123456789abcdef' }), words: /does not accept this token/ },
    ];
    for (const { token, words } of cases) {
      const page = await newPage(browser, 'carol', { width: 390, height: 760 });
      await page.goto(`${server.url}/demo?${new URLSearchParams({ token, profileid: carol.profileid })}`);
      await page
        .locator('#auth-status', { hasText: words })
        .waitFor({ timeout: 15_000 })
        .catch(async (error) => assert.fail(`${error.message}\n${await describePage(page)}`));
      assert.equal(await page.getAttribute('#auth-status', 'data-kind'), 'error');
      assert.match(await page.textContent('#auth-status'), /^Cannot sign in: /);
      assert.equal(await page.textContent('#connection-text'), 'signed out');
      assert.equal(await page.isVisible('#signed-in'), false);
      await checkFits(page, 390, 'sign-in-error');
      await page.context().close();
    }
  });
});
