// The proof in a real browser: two headless Chromium pages open the demo
// page the server serves at /demo, signed in as two users, exchange a
// message, and one video-calls the other through the UI. Both
// RTCPeerConnections must reach `connected` with the offer, answer and ICE
// candidates relayed by the server, and media must flow both ways
// (inbound-rtp bytes grow on each side); the page names both videos and
// says the call's state in words. Then the caller hangs up and the call is
// in both users' history. The page runs on @lockstep/client.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { browserSkip, describePage, launchBrowser, openDemo, rtpStats, waitFor } from '../support/browser.mjs';
import { api, createChat, show, sleep, startServer, users } from '../support/index.mjs';

const skip = browserSkip();

/** Where the call's screenshots go (not committed). */
const SHOTS = join(tmpdir(), `lockstep-demo-screenshots-${process.pid}`);

describe('two browsers call each other through /demo', { skip, timeout: 180_000 }, () => {
  let server;
  let browser;
  let alice;
  let bob;
  let chatid;
  let pageA;
  let pageB;

  before(async () => {
    server = await startServer({ name: 'browser-call' });
    [alice, bob] = await users(server, 'alice', 'bob');
    chatid = await createChat(server, alice, { chatType: 'direct', participants: [bob] });
    browser = await launchBrowser();
    pageA = await openDemo(browser, server, alice, { label: 'alice' });
    pageB = await openDemo(browser, server, bob, { label: 'bob' });
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await server?.stop();
  });

  /** Fails with both pages' logs. */
  async function context() {
    return `${await describePage(pageA)}\n${await describePage(pageB)}\n--- server\n${server.logs(40)}`;
  }

  test('the chat list comes from GET /api/chats and a message travels between the pages', async () => {
    for (const page of [pageA, pageB]) {
      await page.locator(`button[data-chatid="${chatid}"]`).click({ timeout: 10_000 });
      await waitFor(page, (id) => window.lockstepDemo.state.openChatId === id, { arg: chatid, what: 'the chat to open' });
    }
    const text = `hello from alice ${Date.now()}`;
    await pageA.fill('#message-text', text);
    await pageA.click('#send');
    // bob's page shows it through new_message, alice's too (every device of the sender).
    for (const page of [pageB, pageA]) {
      await page
        .locator('#messages li', { hasText: text })
        .waitFor({ timeout: 10_000 })
        .catch(async (error) => assert.fail(`${error.message}\n${await context()}`));
    }
    // Having heard from alice, bob's page knows whom the chat's call goes to.
    assert.equal(await pageB.inputValue('#call-target'), alice.profileid);
  });

  test('alice video-calls bob: both peer connections connect and media flows both ways', async () => {
    // The explicit target (the chat's header button calls the chat's other person).
    await pageA.click('#call-by-id summary');
    await pageA.fill('#call-target', bob.profileid);
    await pageA.click('#call-video');
    await pageA
      .locator('#call-status', { hasText: 'Calling ' })
      .waitFor({ timeout: 15_000 })
      .catch(async (error) => assert.fail(`alice's page does not say it is calling: ${error.message}\n${await context()}`));
    await pageB.locator('#incoming').waitFor({ state: 'visible', timeout: 15_000 }).catch(async (error) => {
      assert.fail(`bob's page never rang: ${error.message}\n${await context()}`);
    });
    assert.equal(await pageB.textContent('#incoming-text'), `${alice.displayname} is calling you (video call)`);
    await pageB.click('#answer');

    for (const page of [pageA, pageB]) {
      await waitFor(page, () => window.lockstepDemo.pc?.connectionState === 'connected', {
        timeout: 30_000,
        what: 'RTCPeerConnection.connectionState === "connected"',
      }).catch(async (error) => assert.fail(`${error.message}\n${await context()}`));
    }
    const callId = await pageA.evaluate(() => window.lockstepDemo.call.callId);
    assert.equal(await pageB.evaluate(() => window.lockstepDemo.call.callId), callId, 'both pages are in the same call');

    // Media flows: inbound-rtp bytes grow between two samples, on both sides.
    const first = [await rtpStats(pageA), await rtpStats(pageB)];
    await sleep(2_000);
    const second = [await rtpStats(pageA), await rtpStats(pageB)];
    for (const [i, who] of ['alice', 'bob'].entries()) {
      const detail = `${who}: ${JSON.stringify(first[i])} then ${JSON.stringify(second[i])}`;
      assert.equal(second[i].state, 'connected', detail);
      assert.ok(second[i].inbound.video > first[i].inbound.video, `${who} receives video: ${detail}`);
      assert.ok(second[i].inbound.audio > first[i].inbound.audio, `${who} receives audio: ${detail}`);
    }
    // The remote <video> actually plays frames, and both videos say whose they are.
    for (const page of [pageA, pageB]) {
      await waitFor(page, () => document.getElementById('remote-video').videoWidth > 0, {
        what: 'the remote video to show frames',
      });
    }
    assert.equal(await pageA.textContent('#remote-label'), bob.displayname);
    assert.equal(await pageB.textContent('#remote-label'), alice.displayname);
    assert.equal(await pageA.textContent('#local-label'), `You (${alice.displayname})`);
    // The call in plain words.
    assert.match(await pageA.textContent('#call-status'), new RegExp(`^In a video call with ${bob.displayname} · \\d+:\\d\\d$`));
    assert.match(await pageB.textContent('#call-status'), new RegExp(`^In a video call with ${alice.displayname} · `));
    // The call fits a phone: no sideways scrolling with both videos showing.
    await pageB.setViewportSize({ width: 390, height: 844 });
    await sleep(200);
    const fit = await pageB.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth }));
    mkdirSync(SHOTS, { recursive: true });
    await pageB.screenshot({ path: join(SHOTS, 'call-bob-390.png'), fullPage: true });
    await pageA.screenshot({ path: join(SHOTS, 'call-alice-1280.png'), fullPage: true });
    console.log(`call screenshots in ${SHOTS}`);
    assert.ok(fit.scroll <= fit.inner, `the call scrolls sideways at 390 px: ${JSON.stringify(fit)}`);
  });

  test('muting shows on the other page, and hanging up ends the call on both', async () => {
    await pageA.click('#mute');
    await pageB
      .locator('#peer-status', { hasText: `${alice.displayname} muted their microphone` })
      .waitFor({ timeout: 10_000 })
      .catch(async (error) => assert.fail(`${error.message}\n${await context()}`));

    const callId = await pageA.evaluate(() => window.lockstepDemo.call.callId);
    await pageA.click('#hang-up');
    for (const page of [pageA, pageB]) {
      await waitFor(page, () => window.lockstepDemo.call === null && window.lockstepDemo.state.lastCallEnd !== null, {
        what: 'the call to end',
      });
    }
    assert.match(await pageA.textContent('#call-status'), new RegExp(`^You hung up on ${bob.displayname}\\.$`));
    assert.match(await pageB.textContent('#call-status'), new RegExp(`^${alice.displayname} ended the call after \\d+:\\d\\d\\.$`));
    const ended = await pageB.evaluate(() => window.lockstepDemo.state.lastCallEnd);
    assert.equal(ended.callId, callId);
    assert.equal(ended.event, 'call_ended');
    assert.equal(ended.reason, 'user_ended');
    assert.ok(Number.isInteger(ended.duration) && ended.duration >= 2, `duration in seconds: ${JSON.stringify(ended)}`);

    // Both users' history has it, answered and ended.
    for (const user of [alice, bob]) {
      const response = await api(server, user.token, 'GET', '/api/calls');
      assert.equal(response.status, 200, show(response));
      const call = response.body.calls.find((c) => c.callId === callId);
      assert.ok(call, `${user.profileid}'s history lists the call: ${show(response)}`);
      assert.equal(call.status, 'ended');
      assert.equal(call.callType, 'video');
      assert.equal(call.callerId, alice.profileid);
      assert.equal(call.receiverId, bob.profileid);
      assert.ok(call.answeredAt && call.endedAt, show(response));
    }
  });

  test('the pages raised no errors', () => {
    const problems = [...pageA.problems, ...pageB.problems];
    assert.deepEqual(problems, [], problems.join('\n'));
  });
});
