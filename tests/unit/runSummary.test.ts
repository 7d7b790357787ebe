import { test } from 'node:test';
import assert from 'node:assert/strict';
import { budgetStopMessage, runSummary } from '../../client/execute.js';

const p = { total: 5, done: 4, failed: 1, pending: 0, tokens: 100, calls: 6, rateLimited: 0, resent: 0, resumed: 0 };

test('the end-of-run summary names what a finished instance is for the run kind', () => {
  assert.match(runSummary(p, undefined, 'review'), /^Finished: 4 scored, 1 failed of 5 instances; 6 calls, 100 tokens\.$/);
  assert.match(runSummary(p, undefined, 'eval'), /^Finished: 4 scored, /);
  assert.match(runSummary(p, undefined, 'infer'), /^Finished: 4 answered, 1 failed of 5 instances/);
  assert.match(runSummary(p, undefined, 'annotate'), /^Finished: 4 labelled, 1 failed of 5 instances/);
});

test('a run stopped by --max-cost says what it spent and how far past the budget that is', () => {
  assert.match(budgetStopMessage(2, 15.19, 1400), /^The run stopped at its budget \(--max-cost \$2\.00\) having spent \$15\.19, \$13\.19 \(660%\) over it: the chunks in flight when it was reached landed too; 1400 instances not started\. /);
  assert.match(budgetStopMessage(2, 2, 10), /having spent \$2\.00; 10 instances not started/);
  assert.match(budgetStopMessage(2, undefined, 10), /having spent n\/a; 10 instances/);
});
