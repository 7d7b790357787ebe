// Human labels: a labels file checked line by line (nothing stored until it is clean), landed with
// its provenance, and the judge's agreement with each annotator per skill in the reliability report.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { prepareReview } from '../../core/inputs/prepare.js';
import { DATA_FILES, publishedAnswersFile } from '../../core/paths.js';
import { landResults } from '../../core/store/landResults.js';
import { endpointRef } from '../../core/provider/endpoint.js';
import { judgeIdOf, type StepOutcome } from '../../core/pipeline.js';
import { landHumanLabels, readHumanLabels } from '../../core/store/humanLabels.js';
import { judgeReliability } from '../../core/report/judgeReliability.js';
import { krippendorffAlpha } from '../../core/stats/agreement.js';
import { InputError } from '../../core/errors.js';
import { DEFAULT_BOOTSTRAP } from '../../core/stats/bootstrap.js';
import { baseRun, landRun, tempDb } from '../helpers/harness.js';

const JUDGE = [5, 4, 3, 2, 4, 1];
const H1 = [5, 4, 2, 2, 5, 1];
const H2 = [4, 4, 3, 1, 4, 2];

test('import-labels: every problem by file:line, nothing stored from a bad file; judge-human agreement per skill equals the hand count', async () => {
  const db = tempDb('labels');
  const all = prepareReview(DATA_FILES.evalSet, publishedAnswersFile('gpt4'), 'gpt4', 300);
  const inst = all.instances.filter((i) => i.skills.includes('Readability')).slice(0, 6);
  assert.equal(inst.length, 6);
  await landRun(db, baseRun('hl'), inst, all.responses.filter((r) => inst.some((i) => i.idx === r.idx)));
  const ref = endpointRef('http://127.0.0.1:1/v1', 'gpt-4-0613', 'q');
  const outcome = (idx: number, score: number): StepOutcome => ({
    idx, status: 'done', value: { Readability: score }, text: 'x', attempts: 1, promptTokens: 10, completionTokens: 5, simulated: false,
    startedAt: '2026-01-01T00:00:00Z', finishedAt: '2026-01-01T00:00:01Z', calls: [],
  });
  await db.run((sql) => landResults(sql, 'hl', 'review', ref, inst.map((i, k) => outcome(i.idx, JUDGE[k]!)), { judgeId: judgeIdOf(ref.id, 'flask') }));

  const dir = mkdtempSync(path.join(tmpdir(), 'flask-labels-'));
  const skills = new Map(inst.map((i) => [i.idx, i.skills as string[]]));
  const notScored = ['Logical Robustness', 'Logical Correctness', 'Factuality', 'Harmlessness'].find((s) => !inst[0]!.skills.includes(s as never))!;
  const bad = path.join(dir, 'bad.jsonl');
  writeFileSync(bad, [
    JSON.stringify({ idx: inst[0]!.idx, annotator: 'h1', scores: { Readability: 5 } }),
    JSON.stringify({ idx: 999999, annotator: 'h1', scores: { Readability: 5 } }),
    JSON.stringify({ idx: inst[1]!.idx, annotator: 'h1', scores: { Readabilty: 4 } }),
    JSON.stringify({ idx: inst[1]!.idx, annotator: 'h1', scores: { [notScored]: 4 } }),
    JSON.stringify({ idx: inst[0]!.idx, annotator: 'h1', scores: { readability: 3 } }),
    JSON.stringify({ idx: inst[2]!.idx, annotator: 'h1', scores: { Readability: 6 } }),
    '{not json',
  ].join('\n') + '\n');
  assert.throws(() => readHumanLabels(bad, skills, 'hl'), (e: unknown) => {
    const m = (e as Error).message;
    return e instanceof InputError && /bad\.jsonl:2: run "hl" has no instance idx 999999/.test(m) && /bad\.jsonl:3: "Readabilty" is not a FLASK skill/.test(m)
      && new RegExp(`bad\\.jsonl:4: instance ${inst[1]!.idx} is not scored on ${notScored}`).test(m) && /bad\.jsonl:5: h1's Readability of instance \d+ is already on line 1/.test(m)
      && /bad\.jsonl:6:/.test(m) && /bad\.jsonl:7: not valid JSON/.test(m);
  });

  const good = path.join(dir, 'labels.jsonl');
  writeFileSync(good, inst.flatMap((i, k) => [
    JSON.stringify({ idx: i.idx, annotator: 'h1', scores: { Readability: H1[k] } }),
    JSON.stringify({ idx: i.idx, annotator: 'h2', scores: { readability: H2[k] } }),
  ]).join('\n') + '\n');
  const rows = readHumanLabels(good, skills, 'hl');
  assert.equal(rows.length, 12);
  assert.deepEqual(await db.run((sql) => landHumanLabels(sql, 'hl', rows, { path: good, sha256: 'abc' })), { landed: 12, existing: 0 });
  assert.deepEqual(await db.run((sql) => landHumanLabels(sql, 'hl', rows, { path: good, sha256: 'abc' })), { landed: 0, existing: 12 }, 'importing again stores nothing twice');
  const stored = await db.read((sql) => sql.one(`SELECT count(DISTINCT annotator)::INT AS a, min(source_line)::INT AS l, any_value(source_sha256) AS sha FROM human_labels WHERE run_id = 'hl'`));
  assert.deepEqual({ ...stored }, { a: 2, l: 1, sha: 'abc' });

  const rep = await db.read((sql) => judgeReliability(sql, 'hl', { ...DEFAULT_BOOTSTRAP, resamples: 200, level: 0.95 }));
  const h = rep.judges[0]!.skills.find((s) => s.skill === 'readability')!.human!;
  assert.equal(h.annotators, 2);
  // Judge vs h1: exact 4/6; vs h2: 3/6; every pair within one. Spearman (average ranks, Pearson; Python): 0.9404 and 0.8933.
  assert.deepEqual([h.judgeHuman.exact.count, h.judgeHuman.exact.n, h.judgeHuman.withinOne.count, h.judgeHuman.withinOne.n], [7, 12, 12, 12]);
  assert.ok(Math.abs(h.judgeHuman.spearman! - 0.9168314294303246) < 1e-12, String(h.judgeHuman.spearman));
  assert.ok(Math.abs(h.humanAlpha! - krippendorffAlpha(H1.map((x, k) => [x, H2[k]!]))!) < 1e-12);
  assert.ok(Math.abs(h.judgeHuman.alpha! - krippendorffAlpha(JUDGE.map((x, k) => [x, H1[k]!, H2[k]!]))!) < 1e-12);
  assert.ok(h.judgeHuman.alphaCi![0] <= h.judgeHuman.alpha! && h.judgeHuman.alpha! <= h.judgeHuman.alphaCi![1]);
  await db.close();
});
