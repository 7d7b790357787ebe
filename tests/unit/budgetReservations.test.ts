// --max-cost reservations (core/cost/budgetReservations.ts): a chunk is the longest head of the
// pending instances whose worst cases fit what is left; landing releases; nothing fits and nothing
// is held means stop, never a wait that no landing can end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BudgetReservations } from '../../core/cost/budgetReservations.js';

const worst = new Map<number, number[]>([
  [1, [0.5, 1]], // generate, review
  [2, [0.5, 1]],
  [3, [0, 1]], // already generated: only its review is left
  [4, [0.5, 3]],
]);

test('a chunk is the head of the pending instances that fits; the first that does not fit ends it', () => {
  const b = new BudgetReservations(4, 0.5, worst);
  assert.equal(b.worstOf(1), 1.5);
  assert.equal(b.worstOf(3, 1), 1);
  // room 3.5: instance 1 (1.5) and 2 (1.5) fit, 3 (1) would make 4 > 3.5
  assert.deepEqual(b.reserve([[1, 0], [2, 0], [3, 1], [4, 0]]), { n: 2, usd: 3 });
  assert.ok(Math.abs(b.room - 0.5) < 1e-9);
  assert.ok(b.holding);
  // nothing fits now: the caller waits for the chunk in flight
  assert.deepEqual(b.reserve([[3, 1]]), { n: 0, usd: 0 });
});

test('landing a step releases its worst cases and counts what it really cost; a wait ends on the release', () => {
  const b = new BudgetReservations(4, 0.5, worst);
  const chunk = b.reserve([[1, 0], [2, 0]]);
  const v = b.version;
  // generate landed: it really cost 0.3 for both (under the 1.0 reserved)
  b.spent(0.8);
  b.release(b.stepWorst([1, 2], 0));
  assert.notEqual(b.version, v, 'a waiting lane sees the release');
  assert.ok(Math.abs(b.room - (4 - 0.8 - 2)) < 1e-9);
  // review landed, the rest of the chunk's reservation released at its end
  b.spent(2.0);
  b.release(chunk.usd - 1);
  assert.equal(b.holding, false);
  assert.ok(Math.abs(b.room - 2) < 1e-9);
  // a spent figure that went backwards (an older landing answered late) is ignored
  b.spent(1.0);
  assert.equal(b.spentSoFar, 2.0);
});

test('with nothing held, an instance whose worst case is more than what is left does not fit: the run stops there', () => {
  const b = new BudgetReservations(3, 0.2, worst);
  assert.deepEqual(b.reserve([[4, 0]]), { n: 0, usd: 0 });
  assert.equal(b.holding, false);
  assert.equal(b.worstOf(4), 3.5);
  // over the budget already (a run resumed with the same --max-cost): nothing fits
  const over = new BudgetReservations(1, 1.2, worst);
  assert.deepEqual(over.reserve([[3, 1]]), { n: 0, usd: 0 });
});
