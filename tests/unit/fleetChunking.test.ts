import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fleetChunking } from '../../core/fleetChunking.js';

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
