import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fleetChunking, fleetOf } from '../../core/fleetChunking.js';
import { identityBase, livePollers, workerIdentity } from '../../core/rate/fleet.js';

test('one worker: chunks as given, enough in flight for its concurrency plus landing and loading (unchanged)', () => {
  assert.deepEqual(fleetChunking({ chunkSize: 12, concurrency: 8, workers: 1 }), { chunkSize: 12, inFlight: 3 });
  assert.deepEqual(fleetChunking({ chunkSize: 96, concurrency: 64, workers: 0 }), { chunkSize: 96, inFlight: 3 });
});

test('several workers: every worker gets chunks for its concurrency plus a queued one and a landing one', () => {
  for (const workers of [2, 4, 8]) {
    const f = fleetChunking({ chunkSize: 96, concurrency: 8, workers });
    assert.equal(f.chunkSize, 12, 'a chunk holds at most 1.5 x one worker\'s concurrency');
    // The case: 4 workers of 8 got 3 chunks of 96 between them.
    assert.ok(f.inFlight >= workers * 2 + workers, `${workers} workers: ${f.inFlight} chunks in flight`);
    assert.ok(f.inFlight * f.chunkSize >= workers * 8, 'instances in flight cover every worker\'s concurrency');
  }
  assert.deepEqual(fleetChunking({ chunkSize: 12, concurrency: 8, workers: 4 }), { chunkSize: 12, inFlight: 12 });
  assert.deepEqual(fleetChunking({ chunkSize: 4, concurrency: 8, workers: 2 }), { chunkSize: 4, inFlight: 8 });
});

test('the fleet from the workers\' declared concurrencies: undeclared ones stand for the run\'s, none seen is one worker', () => {
  assert.deepEqual(fleetOf([], 8), { workers: 1, concurrency: 8 });
  assert.deepEqual(fleetOf([16, 16], 8), { workers: 2, concurrency: 16 });
  assert.deepEqual(fleetOf([4, null, null], 8), { workers: 3, concurrency: 7 });
  // Workers that run 16 calls each, a run that says 8: chunks sized for 16 (before, for 8, and half of each worker idled).
  assert.deepEqual(fleetChunking({ chunkSize: 96, ...fleetOf([16, 16, 16, 16], 8) }), { chunkSize: 24, inFlight: 12 });
});

test('a worker identity carries its concurrency; the pid@host part stays what `worker --check` matches', () => {
  assert.equal(workerIdentity('123@h'), '123@h');
  assert.equal(workerIdentity('123@h', 8), '123@h c=8');
  assert.equal(identityBase('123@h c=8'), '123@h');
  const now = Date.now();
  const at = { seconds: Math.floor(now / 1000) };
  const old = { seconds: Math.floor(now / 1000) - 600 };
  const seen = livePollers({ pollers: [{ identity: '1@a c=8', lastAccessTime: at }, { identity: '2@b', lastAccessTime: at }, { identity: '3@c c=4', lastAccessTime: old }, { lastAccessTime: at }] }, now);
  assert.deepEqual(seen.map((p) => p.concurrency ?? null), [8, null, null]);
});
