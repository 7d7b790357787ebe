import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { budgetStopMessage, runSummary } from '../../client/execute.js';
import { describeSummary, planReview } from '../../core/inputs/prepare.js';
import { DATA_FILES } from '../../core/paths.js';

const p = { total: 5, done: 4, failed: 1, pending: 0, tokens: 100, calls: 6, rateLimited: 0, resent: 0, resumed: 0 };

test('the end-of-run summary names what a finished instance is for the run kind', () => {
  assert.match(runSummary(p, undefined, 'review'), /^Finished: 4 scored, 1 failed of 5 instances; 6 calls, 100 tokens\.$/);
  assert.match(runSummary(p, undefined, 'eval'), /^Finished: 4 scored, /);
  assert.match(runSummary(p, undefined, 'infer'), /^Finished: 4 answered, 1 failed of 5 instances/);
  assert.match(runSummary(p, undefined, 'annotate'), /^Finished: 4 labelled, 1 failed of 5 instances/);
});

test('the run summary counts instances without an answer over the evaluation set, not the run, and says so', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'flask-summary-'));
  const answers = path.join(dir, 'answers.jsonl');
  // Answers for the first 5 evaluation-set instances only; the run takes 3 of them.
  const idxs = readFileSync(DATA_FILES.evalSet, 'utf8').split('\n').filter(Boolean).slice(0, 5).map((l) => (JSON.parse(l) as { idx: number }).idx);
  writeFileSync(answers, idxs.map((idx) => JSON.stringify({ question_id: idx, text: 'an answer' })).join('\n') + '\n');
  const plan = planReview(DATA_FILES.evalSet, answers, 'mine', 3);
  const lines = describeSummary(plan.summary);
  assert.ok(lines.includes('instances: 3'), lines.join('\n'));
  const total = readFileSync(DATA_FILES.evalSet, 'utf8').split('\n').filter(Boolean).length;
  const missing = lines.find((l) => l.includes('without an answer'));
  assert.ok(missing?.startsWith(`evaluation-set instances without an answer (not in this run; --limit 3 takes the first answered ones): ${total - 5} of ${total} [`), missing);
});

test('a run stopped by --max-cost says what it spent and how far past the budget that is', () => {
  assert.match(budgetStopMessage(2, 15.19, 1400), /^The run stopped at its budget \(--max-cost \$2\.00\) having spent \$15\.19, \$13\.19 \(660%\) over it: the endpoint billed more tokens than the reservations counted \(its own tokenizer\), or chunks sent before the budget was reached landed after it; 1400 instances not started\. /);
  assert.match(budgetStopMessage(2, 1.94, 1662, 0.1), /having spent \$1\.94; the next instance could cost up to \$0\.10 \(its prompts \+ max_tokens\), more than the \$0\.06 left; 1662 instances not started\. /);
  assert.match(budgetStopMessage(2, 2, 10), /having spent \$2\.00; 10 instances not started/);
  assert.match(budgetStopMessage(2, undefined, 10), /having spent n\/a; 10 instances/);
});
