// The progress line never goes backwards: a batch whose status query failed reports fewer
// finished instances than were shown (seen as 864 -> 0 -> 984 -> 552); the line keeps the most.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { progressLine, progressPrinter } from '../../client/output/progressBar.js';
import { emptyProgress } from '../../core/pipeline.js';

test('the progress line shows the most finished instances seen, never fewer', () => {
  const written: string[] = [];
  const out = { isTTY: true, write: (s: string) => { written.push(s); return true; } } as unknown as NodeJS.WriteStream;
  const bar = progressPrinter('run', {}, out);
  for (const done of [864, 0, 984, 552, 1700]) bar.update({ ...emptyProgress(1700), done, pending: 1700 - done, calls: done });
  const shown = written.map((l) => Number(/ (\d+)\/1700 /.exec(l)?.[1]));
  assert.deepEqual(shown, [864, 864, 984, 984, 1700]);
});

test('the progress line (and `status`) says how many calls the cache answered and what a budgeted run has spent', () => {
  const p = { ...emptyProgress(1700), done: 40, pending: 1660, calls: 12, cached: 28, costUsd: 1.94 };
  const line = progressLine('run', p, 4);
  assert.match(line, / \| calls 12 \| 10\.0\/s \| from the cache 28 \| spent \$1\.94/);
  assert.doesNotMatch(progressLine('run', emptyProgress(10), 1), /from the cache|spent/);
});
