// A chunk's heartbeats: a burst of changes is coalesced (the SDK encodes the whole checkpoint
// at every heartbeat call), a change after a quiet spell is sent at once, and the periodic beat
// keeps going while calls wait; stop() ends both.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { HeartbeatCoalescer } from '../../activities/heartbeats.js';

test('heartbeats: 100 changes in a burst make at most 2 beats; a change after a quiet spell goes at once; the periodic beat runs until stop', async () => {
  const beats: number[] = [];
  const h = new HeartbeatCoalescer(() => beats.push(Date.now()), 200, 300);
  for (let i = 0; i < 100; i++) h.changed();
  await sleep(120);
  assert.equal(beats.length, 1, 'the first change goes out at once (nothing was sent before)');
  for (let i = 0; i < 100; i++) h.changed();
  await sleep(150);
  assert.equal(beats.length, 2, 'the next burst waits for the coalescing window, then one beat');
  assert.ok(beats[1]! - beats[0]! >= 190, `beats ${beats[1]! - beats[0]!} ms apart`);
  await sleep(400);
  assert.ok(beats.length >= 3, 'the periodic beat keeps going while nothing changes');
  h.stop();
  const n = beats.length;
  await sleep(400);
  assert.equal(beats.length, n, 'stop() ends every beat');
});
