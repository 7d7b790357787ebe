import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildReportFixture, record, INSTANCES } from '../reportFixture.js';
import { Database } from '../../core/store/database.js';
import { createOrMatchRun } from '../../core/store/runs.js';
import { landInstances, landResponses } from '../../core/store/instances.js';

let db = '';
before(async () => {
  db = await buildReportFixture();
});

function cli(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, ['bin/flask-eval.js', ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

/**
 * An independent re-aggregation of a FLASK review file, written from FLASK's aggregate scripts'
 * rules (no project code): keys lower-cased, "logical x" -> x else the first word; "N/A" skipped;
 * every domain of a line receives all of its scores; difficulty from the line's difficulty_labeled.
 */
function aggregate(lines: Record<string, unknown>[]) {
  const key = (k: string) => (k.includes('logical') ? k.split(' ')[1] : k.split(' ')[0]);
  const skill = new Map<string, [number, number]>();
  const domain = new Map<string, [number, number]>();
  const level = new Map<string, [number, number]>();
  const add = (m: Map<string, [number, number]>, k: string, v: number) => {
    const c = m.get(k) ?? [0, 0];
    c[0] += v;
    c[1] += 1;
    m.set(k, c);
  };
  for (const l of lines) {
    for (const [k, v] of Object.entries(l.score as Record<string, number | string>)) {
      if (v === 'N/A') continue;
      add(skill, key(k)!, Number(v));
      for (const d of l.domain_labeled as string[]) add(domain, d, Number(v));
      if (l.difficulty_labeled !== -1) add(level, `${key(k)}|${l.difficulty_labeled}`, Number(v));
    }
  }
  return { skill, domain, level };
}

test('flask-review export: FLASK\'s review-file lines, and re-aggregated independently they equal report to 1e-9', () => {
  for (const run of ['fa', 'fb', 'fc']) {
    const exp = cli('export', run, '--db', db, '--format', 'flask-review');
    assert.equal(exp.code, 0, exp.err);
    const lines = exp.out.trim().split('\n').map((l) => JSON.parse(l));
    if (run === 'fa') {
      assert.match(exp.err, /1 failed and 0 not yet reviewed instance\(s\) left out/);
      assert.deepEqual(lines.map((l) => l.question_id), [1, 2, 4, 5, 6]);
      const l2 = lines[1];
      for (const k of ['idx', 'instruction', 'answer', 'task', 'skill', 'domain', 'difficulty', 'question_id', 'domain_labeled', 'difficulty_labeled', 'target_txt', 'review', 'score']) assert.ok(k in l2, k);
      assert.deepEqual(l2.score, { readability: 5, factuality: 'N/A' });
      assert.equal(l2.instruction, INSTANCES[1]!.instruction);
      assert.equal(l2.target_txt, 'answer 2 of fa\nsecond line');
      assert.match(l2.review, /^Feedback for 2\./);
      assert.deepEqual(lines[2].domain_labeled, ['-1']); // FLASK's marker for an unlabelled domain
      assert.deepEqual(lines[0].score, { readability: 4, 'logical correctness': 2 });
    }
    const agg = aggregate(lines);
    const rep = (by: string) => JSON.parse(cli('report', run, '--db', db, '--format', 'json', '--by', by).out) as Record<string, any>[];
    const skills = rep('skill').filter((x) => x.key !== 'overall').map((x) => ({ skill: x.key, sum: x.score_sum, n: x.count, mean: x.avg as number | null }));
    for (const s of skills) {
      const a = agg.skill.get(s.skill) ?? [0, 0];
      assert.ok(Math.abs(a[0] - s.sum) < 1e-9 && a[1] === s.n, `${run} ${s.skill}`);
      if (s.n) assert.ok(Math.abs(a[0] / a[1] - s.mean!) < 1e-9);
    }
    assert.equal(skills.filter((s) => s.n > 0).length, agg.skill.size);
    const domains = rep('domain').map((x) => ({ domain: x.key, n: x.count, mean: x.avg as number }));
    assert.equal(domains.length, [...agg.domain.keys()].filter((d) => d !== '-1').length);
    for (const d of domains) {
      const a = agg.domain.get(d.domain)!;
      assert.ok(a[1] === d.n && Math.abs(a[0] / a[1] - d.mean) < 1e-9, `${run} ${d.domain}`);
    }
    const diff = rep('difficulty').map((x) => ({ skill: x.key, difficulty: x.difficulty, n: x.count, mean: x.avg as number | null }));
    for (const d of diff) {
      const a = agg.level.get(`${d.skill}|${d.difficulty}`);
      if (!a) assert.equal(d.n, 0, `${run} ${d.skill} ${d.difficulty}`);
      else assert.ok(a[1] === d.n && Math.abs(a[0] / a[1] - d.mean!) < 1e-9, `${run} ${d.skill} ${d.difficulty}`);
    }
  }
});

test('export --format flask keeps the model_id each imported answer line carried', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'flask-answers-'));
  const answers = path.join(dir, 'mixed.jsonl');
  const text = [
    { question_id: 1, text: 'a1', model_id: 'gpt-3.5-turbo:20230327' },
    { question_id: 2, text: 'a2' },
  ].map((o) => JSON.stringify(o)).join('\n') + '\n';
  writeFileSync(answers, text);
  const file = path.join(dir, 'r.duckdb');
  const d = new Database(file);
  await d.run(async (sql) => {
    await createOrMatchRun(sql, { ...record('mixed'), answersPath: answers, answersSha256: createHash('sha256').update(text).digest('hex') });
    await landInstances(sql, 'mixed', INSTANCES.slice(0, 2));
    await landResponses(sql, 'mixed', [1, 2].map((idx) => ({ idx, modelId: 'chatgpt', text: `a${idx}`, source: 'imported' as const })));
  });
  await d.close(); // the file is handed to another process
  const out = cli('export', 'mixed', '--db', file, '--format', 'flask');
  assert.equal(out.code, 0, out.err);
  assert.deepEqual(out.out.trim().split('\n').map((l) => JSON.parse(l)), [
    { question_id: 1, text: 'a1', model_id: 'gpt-3.5-turbo:20230327' },
    { question_id: 2, text: 'a2', model_id: 'chatgpt' },
  ]);
  // The file changed since the run: the run's model id everywhere, and a note says why.
  writeFileSync(answers, text.replace('a2', 'changed'));
  const changed = cli('export', 'mixed', '--db', file, '--format', 'flask');
  assert.match(changed.err, /answers file changed/);
  assert.deepEqual(changed.out.trim().split('\n').map((l) => JSON.parse(l).model_id), ['chatgpt', 'chatgpt']);
  assert.ok(readFileSync(answers, 'utf8').includes('changed'));
});
