// Headless Chromium for the browser end-to-end tests: the Debian package
// `chromium` driven by playwright-core, with fake camera and microphone.
//
// Environment:
//   LOCKSTEP_CHROMIUM   the browser binary (default: /usr/bin/chromium)
//   CI                  when set, a missing browser fails the tests instead of skipping them
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';

export const CHROMIUM = process.env.LOCKSTEP_CHROMIUM || '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--no-sandbox',
  '--headless',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  // No network here but loopback: keep Chromium from calling home.
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Whether the browser tests run: `false`, or the reason they are skipped.
 * A missing browser skips them only outside CI; in CI it throws.
 */
export function browserSkip() {
  if (existsSync(CHROMIUM)) return false;
  const reason = `${CHROMIUM} is missing (apt-get install chromium, or set LOCKSTEP_CHROMIUM)`;
  if (process.env.CI) throw new Error(`CI is set but ${reason}`);
  console.log(`skipping the browser tests: ${reason}`);
  return `skipping: ${reason}`;
}

/** Launches headless Chromium. */
export async function launchBrowser() {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
}

/**
 * Opens `/demo` signed in as `user` ({ profileid, token }) in a context of
 * its own (cookies are per context: two users need two). Resolves with the
 * page once the socket is authenticated. `page.problems` collects uncaught
 * page errors and console errors, `page.consoleLines` everything logged.
 */
export async function openDemo(browser, server, user, { label = user.profileid } = {}) {
  const context = await browser.newContext();
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
  const query = new URLSearchParams({ token: user.token, profileid: user.profileid });
  const response = await page.goto(`${server.url}/demo?${query}`);
  assert.equal(response?.status(), 200, `GET /demo answered ${response?.status()}`);
  await waitFor(page, () => window.lockstepDemo?.state.authenticated === true, {
    what: 'the demo to sign in',
  });
  return page;
}

/**
 * Waits until `predicate` (run in the page) is truthy; on timeout fails
 * with the page's own log, so a failure says what the page saw.
 */
export async function waitFor(page, predicate, { arg, timeout = 20_000, what = 'a condition' } = {}) {
  try {
    return await page.waitForFunction(predicate, arg, { timeout, polling: 100 });
  } catch (error) {
    throw new assert.AssertionError({ message: `[${page.label}] timed out waiting for ${what}: ${error.message}\n${await describePage(page)}` });
  }
}

/** The page's log, console and errors, for failure messages. */
export async function describePage(page) {
  const log = await page
    .evaluate(() => window.lockstepDemo?.state.log.slice(-40).join('\n') ?? '(no lockstepDemo)')
    .catch((error) => `(cannot read the page: ${error.message})`);
  return [
    `--- ${page.label}: demo log`,
    log,
    `--- ${page.label}: console`,
    page.consoleLines.slice(-20).join('\n'),
    `--- ${page.label}: problems`,
    page.problems.join('\n') || '(none)',
  ].join('\n');
}

/**
 * Media statistics of the page's RTCPeerConnection:
 * `{ state, inbound: { audio, video }, outbound: { audio, video } }` in bytes.
 */
export function rtpStats(page) {
  return page.evaluate(async () => {
    const pc = window.lockstepDemo.pc;
    if (!pc) return null;
    const out = { state: pc.connectionState, inbound: { audio: 0, video: 0 }, outbound: { audio: 0, video: 0 } };
    const report = await pc.getStats();
    report.forEach((entry) => {
      if (entry.type === 'inbound-rtp') out.inbound[entry.kind] += entry.bytesReceived ?? 0;
      if (entry.type === 'outbound-rtp') out.outbound[entry.kind] += entry.bytesSent ?? 0;
    });
    return out;
  });
}
