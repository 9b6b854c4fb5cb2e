// The message sequencer of @lockstep/client (client/src/messages.ts) on its
// own: whatever order and however often messages arrive, the application
// gets each once, in seq order per chat, and a gap asks for a catch-up.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';

import { REPO_ROOT } from '../support/contract.mjs';

const { MessageSequencer } = await import(pathToFileURL(join(REPO_ROOT, 'client', 'dist', 'messages.js')).href);

const message = (chatid, seq) => ({ chatid, seq, content: `${chatid}#${seq}` });

function sequencer(positions) {
  const delivered = [];
  let gaps = 0;
  const made = new MessageSequencer((m) => delivered.push(m.content), () => (gaps += 1), positions);
  return { made, delivered, gaps: () => gaps };
}

test('duplicates and reordering across sources: each message once, in seq order per chat', () => {
  const { made, delivered, gaps } = sequencer();
  // Live 1, 3 (ahead of a gap), the offline queue replaying 2-3, a sync page 1-4, live 4 again.
  for (const seq of [1, 3, 2, 3, 1, 2, 3, 4, 4]) made.accept(message('a', seq));
  made.accept(message('b', 2));
  made.accept(message('b', 1));
  assert.deepEqual(delivered, ['a#1', 'a#2', 'a#3', 'a#4', 'b#1', 'b#2']);
  assert.equal(made.position('a'), 4);
  assert.equal(made.position('b'), 2);
  assert.ok(gaps() >= 2, 'every early message asked for a catch-up');
  assert.equal(made.hasGaps(), false);
});

test('a gap holds what came after it until it is filled', () => {
  const { made, delivered } = sequencer({ a: 10 });
  made.accept(message('a', 13));
  made.accept(message('a', 12));
  assert.deepEqual(delivered, []);
  assert.equal(made.hasGaps(), true);
  assert.deepEqual(made.positions(), [{ chatid: 'a', seq: 10 }], 'sync starts from the position, not past the gap');
  made.accept(message('a', 9));
  made.accept(message('a', 11));
  assert.deepEqual(delivered, ['a#11', 'a#12', 'a#13']);
  assert.equal(made.hasGaps(), false);
});

test('payloads without a usable chatid or seq are ignored, not fatal', () => {
  const { made, delivered } = sequencer();
  for (const bad of [null, undefined, 'x', {}, { chatid: 'a', seq: '1' }, { chatid: 'a', seq: 0 }, { chatid: 'a', seq: 1.5 }, { chatid: 7, seq: 1 }]) made.accept(bad);
  made.accept(message('a', 1));
  assert.deepEqual(delivered, ['a#1']);
});
