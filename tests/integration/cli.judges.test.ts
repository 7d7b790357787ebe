// Panels, profiles and budgets as a user runs them: the CLI in separate processes, the embedded
// dev server, the offline judge (SIMULATED).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../core/paths.js';

const dir = mkdtempSync(path.join(tmpdir(), 'flask-cli-judges-'));

function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'flask-eval.js'), ...args], {
    cwd: dir, encoding: 'utf8', timeout: 240_000,
    env: { ...process.env, FLASK_STATE_DIR: path.join(dir, 'state'), FLASK_TEMPORAL_PORT: String(7300 + (process.pid % 250)), ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('review with a two-judge panel (flask + prometheus profiles), then judge-agreement; --max-cost needs a price and stops at it', () => {
  const db = path.join(dir, 'panel.duckdb');
  const r = cli(['review', '--model', 'gpt4', '--limit', '6', '--run', 'p', '--db', db,
    '--judge', 'model=flask-offline-judge,base-url=offline', '--judge', 'model=flask-offline-judge,base-url=offline,profile=prometheus', '--judge-seed', '7']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /judge 1: .*profile flask/);
  assert.match(r.stderr, /judge 2: .*profile prometheus/);
  assert.match(r.stderr, /Finished: 6 scored, 0 failed of 6 instances; 24 calls, \d+ tokens; cost n\/a \(no price for flask-offline-judge; give one with --prices FILE\) \(judge flask-offline-judge \(flask\): n\/a, judge flask-offline-judge \(prometheus\): n\/a\)\./);
  const q = cli(['query', `SELECT judge_profile, count(*)::INT AS n FROM reviews WHERE run_id = 'p' GROUP BY ALL ORDER BY 1`, '--db', db, '--format', 'json']);
  assert.equal(q.code, 0, q.stderr);
  assert.deepEqual(JSON.parse(q.stdout), [{ judge_profile: 'flask', n: 6 }, { judge_profile: 'prometheus', n: 6 }]);
  // Every setting sent is recorded per judge: the profile's own (prometheus's top_p 0.9) and the seed.
  const js = cli(['query', `SELECT judges::VARCHAR AS j FROM runs WHERE run_id = 'p'`, '--db', db, '--format', 'json']);
  assert.equal(js.code, 0, js.stderr);
  const recorded = JSON.parse(JSON.parse(js.stdout)[0].j) as Array<{ profile: string; settings: Record<string, unknown> }>;
  assert.deepEqual(recorded.map((x) => [x.profile, x.settings.temperature, x.settings.topP, x.settings.seed, x.settings.maxTokens]),
    [['flask', 0.2, undefined, 7, 1024], ['prometheus', 1, 0.9, 7, 1024]]);
  const a = cli(['judge-agreement', 'p', '--db', db]);
  assert.equal(a.code, 0, a.stderr);
  assert.match(a.stdout, /^J1 = flask-offline-judge \(flask\).*\nJ2 = flask-offline-judge \(prometheus\)/, 'judges numbered as given');
  // The run's table is per judge; the header counts per judge; --pooled adds the pooled column and says what it is.
  assert.match(r.stdout, /^skill\s+p@J1\s+p@J2\s*$/m);
  const rep = cli(['report', 'p', '--db', db, '--pooled']);
  assert.equal(rep.code, 0, rep.stderr);
  assert.match(rep.stdout, /^p: review, .*panel of 2 judges; 6 instances/m);
  assert.match(rep.stdout, /^ {2}J1 = flask-offline-judge \(flask\) \[.*\]: 6 scored, 0 failed of 6 instances$/m);
  assert.match(rep.stdout, /^skill\s+p@J1\s+p@J2\s+p@pooled\s*$/m);
  assert.match(rep.stdout, /^pooled = per instance and skill, the mean of the judges' non-N\/A scores/m);
  const one = cli(['report', 'p@J2', '--db', db, '--format', 'json']);
  assert.equal(one.code, 0, one.stderr);
  assert.ok(JSON.parse(one.stdout).every((x: { judge_profile: string; column: string }) => x.judge_profile === 'prometheus' && x.column === 'p@J2'));
  assert.match(a.stdout, /^overall\s+1[0-8]\s+/m);
  assert.match(a.stderr, /SIMULATED/);
  const j = cli(['judge-agreement', 'p', '--db', db, '--format', 'json']);
  const parsed = JSON.parse(j.stdout);
  assert.equal(parsed.judges.length, 2);
  assert.ok(parsed.overall.items > 0);

  // A key on the command line is refused: keys come from the environment.
  const k = cli(['review', '--model', 'gpt4', '--limit', '2', '--run', 'k', '--db', db, '--judge', 'model=gpt-4o,key=sk-x']);
  assert.equal(k.code, 2);
  assert.match(k.stderr, /key-env=VAR/);

  // --max-cost: the offline judge has no price until one is given.
  const noPrice = cli(['review', '--model', 'gpt4', '--limit', '12', '--run', 'b', '--db', db, '--max-cost', '5']);
  assert.equal(noPrice.code, 2);
  assert.match(noPrice.stderr, /--max-cost needs a price for flask-offline-judge/);
  const prices = path.join(dir, 'prices.json');
  writeFileSync(prices, JSON.stringify({ models: { 'flask-offline-judge': { input: 1000, output: 1000 } } }));
  const b = cli(['review', '--model', 'gpt4', '--limit', '12', '--run', 'b', '--db', db, '--max-cost', '3', '--prices', prices, '--chunk-size', '2', '--concurrency', '2']);
  assert.equal(b.code, 3, b.stderr); // the run stopped (at its budget)
  assert.match(b.stderr, /Stopped \(budget reached\): \d+ scored/);
  assert.match(b.stderr, /To continue, run the same command with a higher --max-cost/);
  // The same budget again: it never passed it, and the next instance still does not fit what is left: stopped, nothing sent.
  const again = cli(['review', '--model', 'gpt4', '--limit', '12', '--run', 'b', '--db', db, '--max-cost', '3', '--prices', prices]);
  assert.equal(again.code, 3, again.stderr);
  assert.match(again.stderr, /Stopped \(budget reached\): (\d+) scored, 0 failed of 12 instances \(\1 were already landed\); 0 calls, 0 tokens/);
  assert.match(again.stderr, /having spent \$\d+\.\d\d; the next instance could cost up to \$\d+\.\d\d \(its prompts \+ max_tokens\), more than the \$\d+\.\d\d left; \d+ instances not started/);
  const done = cli(['review', '--model', 'gpt4', '--limit', '12', '--run', 'b', '--db', db, '--max-cost', '1000', '--prices', prices]);
  assert.equal(done.code, 0, done.stderr);
  assert.match(done.stderr, /Finished: 12 scored, 0 failed of 12 instances \(\d+ were already landed\).*; cost \$\d+\.\d\d\./);
});

test('review --batch: lines through the offline Batch API, every line a call, the cost at the batch discount', () => {
  const db = path.join(dir, 'batch.duckdb');
  const prices = path.join(dir, 'prices-batch.json');
  writeFileSync(prices, JSON.stringify({ models: { 'flask-offline-judge': { input: 1000, output: 1000 } } }));
  const r = cli(['review', '--model', 'gpt4', '--limit', '4', '--run', 'bt', '--db', db, '--batch', '--batch-poll-seconds', '0.3', '--prices', prices]);
  assert.equal(r.code, 0, r.stderr);
  const m = r.stderr.match(/Finished: 4 scored, 0 failed of 4 instances; 4 calls, (\d+) tokens; cost \$(\d+\.\d\d)\./);
  assert.ok(m, r.stderr);
  const q = cli(['query', `SELECT count(*)::INT AS n, count(*) FILTER (via_batch)::INT AS b, sum(prompt_tokens + completion_tokens)::INT AS t FROM calls WHERE run_id = 'bt'`, '--db', db, '--format', 'json']);
  const [row] = JSON.parse(q.stdout);
  assert.deepEqual({ n: row.n, b: row.b }, { n: 4, b: 4 });
  // $1,000 per 1M tokens, half price through the Batch API.
  assert.ok(Math.abs(Number(m![2]) - (row.t * 1000) / 1e6 / 2) < 0.006, `${m![2]} vs ${(row.t * 1000) / 1e6 / 2}`);
});

test('--judge-samples 2 with a noisy SIMULATED judge, import-labels through the state server, judge-report with human agreement', () => {
  const db = path.join(dir, 'samples.duckdb');
  const env = { FLASK_OFFLINE_JUDGE_BIAS: JSON.stringify({ sampleSd: 0.8 }) };
  const r = cli(['review', '--model', 'gpt4', '--limit', '8', '--run', 's', '--db', db, '--judge-samples', '2'], env);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /16 calls/);
  assert.match(r.stdout, /judge's own variance: within-instance SD/);
  const q = cli(['query', `SELECT idx, skills FROM instances WHERE run_id = 's' ORDER BY idx LIMIT 4`, '--db', db, '--format', 'json'], env);
  assert.equal(q.code, 0, q.stderr);
  const inst = JSON.parse(q.stdout) as Array<{ idx: number; skills: string[] }>;
  const labels = path.join(dir, 'labels.jsonl');
  writeFileSync(labels, inst.flatMap((i, k) => ['a1', 'a2'].map((a, m) => JSON.stringify({ idx: i.idx, annotator: a, scores: { [i.skills[0]!]: 1 + ((k + m) % 5) } }))).join('\n') + '\n');
  const bad = path.join(dir, 'labels-bad.jsonl');
  writeFileSync(bad, JSON.stringify({ idx: inst[0]!.idx, annotator: 'a1', scores: { Nonsense: 3 } }) + '\n');
  const b = cli(['import-labels', bad, '--run', 's', '--db', db], env);
  assert.equal(b.code, 2);
  assert.match(b.stderr, /labels-bad\.jsonl:1: "Nonsense" is not a FLASK skill/);
  const l = cli(['import-labels', labels, '--run', 's', '--db', db], env);
  assert.equal(l.code, 0, l.stderr);
  assert.match(l.stderr, /8 labels by 2 annotator\(s\) on 4 instances of "s": 8 stored, 0 already stored/);
  const j = cli(['judge-report', 's', '--db', db, '--bootstrap', '200'], env);
  assert.equal(j.code, 0, j.stderr);
  assert.match(j.stdout, /samples per instance K=2; reviews 8; failed 0\.0% \(0\/8\)/);
  assert.match(j.stdout, /against human labels \(import-labels\)/);
  assert.match(j.stdout, /length probe/);
  assert.match(j.stdout, /self-preference: judge family flask-offline, evaluated model family openai/);
  assert.match(j.stderr, /SIMULATED/);
});
