import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSummary } from '../../client/execute.js';

const p = { total: 5, done: 4, failed: 1, pending: 0, tokens: 100, calls: 6, rateLimited: 0, resent: 0, resumed: 0 };

test('the end-of-run summary names what a finished instance is for the run kind', () => {
  assert.match(runSummary(p, undefined, 'review'), /^Finished: 4 scored, 1 failed of 5 instances; 6 calls, 100 tokens\.$/);
  assert.match(runSummary(p, undefined, 'eval'), /^Finished: 4 scored, /);
  assert.match(runSummary(p, undefined, 'infer'), /^Finished: 4 answered, 1 failed of 5 instances/);
  assert.match(runSummary(p, undefined, 'annotate'), /^Finished: 4 labelled, 1 failed of 5 instances/);
});
