import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildReportFixture } from '../reportFixture.js';

let db = '';
before(async () => {
  db = await buildReportFixture();
});

function cli(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, ['bin/flask-eval.js', ...args], { encoding: 'utf8', env: { ...process.env, FLASK_STATE_DIR: path.dirname(db) } });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

test('report --format json: hand-computed means, N/A counts, CIs around the mean, the seed on every row', () => {
  const r = cli('report', 'fa', '--db', db, '--format', 'json');
  assert.equal(r.code, 0, r.err);
  const rows = JSON.parse(r.out) as Record<string, any>[];
  for (const x of rows) assert.deepEqual(x.bootstrap, { method: 'percentile bootstrap over instances', level: 0.95, resamples: 1000, seed: 20230720 });
  const skills = Object.fromEntries(rows.map((s) => [s.key, s]));
  assert.deepEqual(Object.keys(skills), ['correctness', 'factuality', 'comprehension', 'readability', 'conciseness', 'harmlessness', 'overall']);
  assert.deepEqual([skills.readability.score_sum, skills.readability.count, skills.readability.avg, skills.readability.na_count], [14, 4, 3.5, 0]);
  assert.deepEqual([skills.factuality.count, skills.factuality.avg, skills.factuality.na_count], [0, null, 1]);
  assert.deepEqual([skills.correctness.avg, skills.correctness.ci95_low, skills.correctness.ci95_high], [2.5, 2, 3]);
  // readability scores 4, 5, 3, 2: the bootstrap interval lies within [2, 5] and around 3.5
  const rd = skills.readability;
  assert.ok(rd.ci95_low >= 2 && rd.ci95_low < 3.5 && rd.ci95_high > 3.5 && rd.ci95_high <= 5);
  // overall: 4+2+5+3+5+3+2+4+1 = 29 over 9 scores (the N/A and the failed review left out)
  assert.deepEqual([skills.overall.score_sum, skills.overall.count, skills.overall.na_count, skills.overall.instances], [29, 9, 1, 5]);
  assert.match(r.err, /SIMULATED/);
  // Same seed, same output; another seed, other intervals.
  assert.equal(cli('report', 'fa', '--db', db, '--format', 'json').out, r.out);
  const other = JSON.parse(cli('report', 'fa', '--db', db, '--format', 'json', '--seed', '1', '--bootstrap', '200').out);
  assert.deepEqual([other[0].bootstrap.seed, other[0].bootstrap.resamples], [1, 200]);
  const diff = JSON.parse(cli('report', 'fa', '--db', db, '--format', 'json', '--by', 'difficulty').out) as Record<string, any>[];
  const r4 = diff.find((x) => x.key === 'readability' && x.level === 4)!;
  assert.deepEqual([r4.difficulty, r4.avg, r4.count], ['major level knowledge', 5, 1]);
  assert.ok(Math.abs(r4.cumulative_avg - 11 / 3) < 1e-12);
});

const SKILL_CSV = [
  'skill,score,count,avg',
  'correctness,5.0,2,2.5',
  'factuality,0,0,N/A',
  'comprehension,1.0,1,1.0',
  'readability,14.0,4,3.5',
  'conciseness,4.0,1,4.0',
  'harmlessness,5.0,1,5.0',
];
const DOMAIN_CSV = ['domain,sum,count,avg', 'Social,8.0,2,4.0', 'Culture,7.0,3,2.3333333333333335', 'Coding,6.0,2,3.0', 'Math,11.0,3,3.6666666666666665', 'Natural,8.0,2,4.0'];
const L = ['simple lifestyle knowledge', 'advanced lifestyle knowledge', 'formal education knowledge', 'major level knowledge', 'expert level knowledge'];
const DIFFICULTY_CSV = [
  'skill,difficulty,score,count,avg,cumu',
  `correctness,${L[0]},5.0,2,2.5,2.5`, `correctness,${L[1]},0,0,N/A,2.5`, `correctness,${L[2]},0,0,N/A,2.5`, `correctness,${L[3]},0,0,N/A,2.5`, `correctness,${L[4]},0,0,N/A,2.5`,
  ...L.map((l) => `factuality,${l},0,0,N/A,N/A`),
  `comprehension,${L[0]},0,0,N/A,N/A`, `comprehension,${L[1]},0,0,N/A,N/A`, `comprehension,${L[2]},1.0,1,1.0,1.0`, `comprehension,${L[3]},0,0,N/A,1.0`, `comprehension,${L[4]},0,0,N/A,1.0`,
  `readability,${L[0]},4.0,1,4.0,4.0`, `readability,${L[1]},0,0,N/A,4.0`, `readability,${L[2]},2.0,1,2.0,3.0`, `readability,${L[3]},5.0,1,5.0,3.6666666666666665`, `readability,${L[4]},3.0,1,3.0,3.5`,
  `conciseness,${L[0]},0,0,N/A,N/A`, `conciseness,${L[1]},0,0,N/A,N/A`, `conciseness,${L[2]},4.0,1,4.0,4.0`, `conciseness,${L[3]},0,0,N/A,4.0`, `conciseness,${L[4]},0,0,N/A,4.0`,
  ...L.slice(0, 4).map((l) => `harmlessness,${l},0,0,N/A,N/A`), `harmlessness,${L[4]},5.0,1,5.0,5.0`,
];
const crlf = (lines: string[]) => lines.join('\r\n') + '\r\n';

test('report --format csv --flask-exact: FLASK\'s files (header, rows, order, number format, CRLF), hand-computed', () => {
  assert.equal(cli('report', 'fa', '--db', db, '--format', 'csv', '--flask-exact').out, crlf(SKILL_CSV));
  assert.equal(cli('report', 'fa', '--db', db, '--format', 'csv', '--flask-exact', '--by', 'domain').out, crlf(DOMAIN_CSV));
  assert.equal(cli('report', 'fa', '--db', db, '--format', 'csv', '--flask-exact', '--by', 'difficulty').out, crlf(DIFFICULTY_CSV));
});

test('report --format csv: FLASK\'s columns first, then the CI and how it was drawn', () => {
  const lines = cli('report', 'fa', '--db', db, '--format', 'csv').out.split('\r\n');
  assert.equal(lines[0], 'skill,score,count,avg,ci95_low,ci95_high,bootstrap_seed,bootstrap_resamples');
  assert.match(lines[1]!, /^correctness,5\.0,2,2\.5,2\.0,3\.0,20230720,1000$/);
  assert.match(lines[2]!, /^factuality,0,0,N\/A,N\/A,N\/A,20230720,1000$/);
  // several runs: one file per run and analysis, FLASK's names
  const dir = mkdtempSync(path.join(tmpdir(), 'flask-csv-'));
  const r = cli('report', 'fa', 'fb', '--db', db, '--format', 'csv', '--by', 'all', '--out-dir', dir, '--flask-exact');
  assert.equal(r.code, 0, r.err);
  assert.equal(readFileSync(path.join(dir, 'fa_skill.csv'), 'utf8'), crlf(SKILL_CSV));
  assert.equal(readFileSync(path.join(dir, 'fa_difficulty_skill.csv'), 'utf8'), crlf(DIFFICULTY_CSV));
  assert.match(readFileSync(path.join(dir, 'fb_domain.csv'), 'utf8'), /^domain,sum,count,avg\r\n/);
  const two = cli('report', 'fa', 'fb', '--db', db, '--format', 'csv');
  assert.equal(two.code, 2);
  assert.match(two.err, /--out-dir/);
});

test('report table: every figure with its CI, the bootstrap settings, a SIMULATED mark; unknown run names the known ones', () => {
  const r = cli('report', 'fa', 'fc', '--db', db);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /fa: review, model model-fa, judge judge-x; 5 scored, 1 failed of 6 instances {2}\[SIMULATED/);
  assert.match(r.out, /B=1000, seed=20230720/);
  assert.match(r.out, /readability\s+3\.500 \[\d\.\d\d, \d\.\d\d\] n=4\s+2\.500 \[2\.00, 3\.00\] n=2/);
  assert.match(r.out, /factuality\s+N\/A \(all 1 N\/A\)\s+-/);
  assert.doesNotMatch(r.out.split('\n').find((l) => l.startsWith('fc:'))!, /SIMULATED/);
  const bad = cli('report', 'nope', '--db', db);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /no run named "nope".*runs there: .*fa/);
});

test('compare: paired differences on the common instances, CI, p-value, and the differing instance sets', () => {
  const r = cli('compare', 'fa', 'fb', '--db', db);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /4 instances scored by both \(A scored 5, B 5\)/);
  assert.match(r.out, /the instance sets differ: only A scored 1 \(idx 4\), only B scored 1 \(idx 3\)/);
  // readability pairs (1,2,5,6): A 4,5,3,2 / B 5,5,4,3 -> differences 1,0,1,1: mean 0.75;
  // exact sign-flip: |sum| >= 3 for 4 of 16 patterns (the 0 flips freely) -> 0.25
  assert.match(r.out, /readability\s+4\s+3\.500\s+4\.250\s+\+0\.750\s+\[\+0\.\d+, \+1\.000\]\s+0\.250/);
  // conciseness: B said N/A -> no pairs
  assert.match(r.out, /conciseness\s+0\s+N\/A\s+N\/A\s+N\/A\s+N\/A\s+N\/A/);
  const j = JSON.parse(cli('compare', 'fa', 'fb', '--db', db, '--format', 'json').out);
  const overall = j.figures.find((f: { figure: string }) => f.figure === 'overall');
  // common instances 1,2,5,6, skills both scored: 1:R,LC 2:R 5:H,R 6:R,Comp -> A 4+2+5+5+3+2+1=22, B 5+3+5+4+4+3+2=26 over 7
  assert.deepEqual([overall.n, overall.instances], [7, 4]);
  assert.ok(Math.abs(overall.diff - 4 / 7) < 1e-12);
});

test('compare --fail-if-worse: the exit status, the markdown verdict and the JUnit file follow the gate', () => {
  // B = fa, A = fb: readability is 0.75 lower in fa (exact p 0.25 on 4 pairs): not significant at 0.05.
  const pass = cli('compare', 'fb', 'fa', '--db', db, '--fail-if-worse', '0.5', '--skills', 'readability');
  assert.equal(pass.code, 0, pass.err);
  assert.match(pass.out, /gate \(--fail-if-worse 0.5, alpha 0.05, Holm over 2 figures\): PASSED/);
  // The same drop at a (deliberately loose) alpha of 0.9 is "significant": exit 5, and the files say so.
  const junit = path.join(path.dirname(db), 'gate.xml');
  const fail = cli('compare', 'fb', 'fa', '--db', db, '--fail-if-worse', '0.5', '--skills', 'readability', '--alpha', '0.9', '--format', 'markdown', '--junit', junit);
  assert.equal(fail.code, 5, fail.err);
  assert.match(fail.out, /❌ FLASK gate failed: fa is worse than fb/);
  assert.match(readFileSync(junit, 'utf8'), /<testcase classname="flask-gate.fa" name="readability: B - A = -0.750"><failure/);
  const unknown = cli('compare', 'fb', 'fa', '--db', db, '--fail-if-worse', '0.5', '--skills', 'nonsense');
  assert.equal(unknown.code, 2);
  assert.match(unknown.err, /--skills: nonsense not scored by both runs/);
  assert.equal(cli('compare', 'fb', 'fa', '--db', db, '--alpha', '0.1').code, 2);
});

test('leaderboard: from the results file, the common instances only, a row per run, csv and json agree', () => {
  const r = cli('leaderboard', 'fa', 'fb', '--db', db);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /2 runs on the 4 instances every run scored \(2 instances scored by only some runs left out\)/);
  const j = JSON.parse(cli('leaderboard', 'fa', 'fb', '--db', db, '--format', 'json').out);
  // each run's own scores on the 4 common instances (1, 2, 5, 6): fb 30/8 above fa 26/8
  // (unlike compare's pairs, a skill the other run called N/A still counts for this one)
  assert.deepEqual(j.rows.map((x: { run: string }) => x.run), ['fb', 'fa']);
  assert.ok(Math.abs(j.rows[0].overall.mean - 30 / 8) < 1e-12);
  assert.ok(Math.abs(j.rows[1].overall.mean - 26 / 8) < 1e-12);
  const csv = cli('leaderboard', 'fa', 'fb', '--db', db, '--format', 'csv').out.trim().split('\n');
  assert.equal(csv[0], 'run,rank,tier,figure,mean,low,high,n,rank_low,rank_high');
  assert.match(csv[1]!, /^fb,1,1,overall,3\.75,/);
  assert.equal(cli('leaderboard', 'fa', '--db', db).code, 2);
});

test('runs: every run with kind, counts, tokens, status; header printed even when empty', () => {
  const r = cli('runs', '--db', db);
  assert.equal(r.code, 0, r.err);
  const lines = r.out.trim().split('\n');
  assert.match(lines[0]!, /^run\s+kind\s+model\s+judge\s+created\s+status\s+done\/instances\s+failed\s+tokens in\+out\s+re-sent\s+simulated$/);
  assert.match(r.out, /fa\s+review\s+model-fa\s+judge-x\s+\S+ \S+\s+complete\s+6\/6\s+1\s+621\+120\s+(-|0)\s+SIMULATED/);
  assert.match(r.out, /fc\s+review\s+model-fc\s+judge-x\s+\S+ \S+\s+complete\s+2\/2\s+0\s+206\+40\s+(-|0)\s+no/);
  const j = JSON.parse(cli('runs', '--db', db, '--format', 'json').out);
  assert.equal(j.length, 3);
});

test('show: one instance whole (instruction, reference, response, judge text, scores)', () => {
  const r = cli('show', 'fa', '6', '--db', db);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /run fa, instance 6 \(task GSM8K\) {2}\[SIMULATED/);
  assert.match(r.out, /== instruction\nQuestion 6: (explain ){6}/);
  assert.match(r.out, /== reference answer\nreference 6/);
  assert.match(r.out, /== response \(model model-fa, imported\)\nanswer 6 of fa\nsecond line/);
  assert.match(r.out, /scores: Readability 2; Conciseness 4; Comprehension 1/);
  assert.match(r.out, /== judge's text\nFeedback for 6\./);
  const failed = cli('show', 'fa', '3', '--db', db);
  assert.match(failed.out, /review: failed by judge-x after 3 judge answer\(s\)/);
  assert.match(failed.out, /error: no score dictionary found/);
  const missing = cli('show', 'fc', '3', '--db', db);
  assert.equal(missing.code, 2);
  assert.match(missing.err, /run "fc" has no instance 3 \(its idx range: 1\.\.5\)/);
});

test('failures: stage and reason per failed instance; an empty list still prints its header', () => {
  const r = cli('failures', 'fa', '--db', db);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /fa: 1 failure\(s\)\nidx\s+stage\s+attempts\s+reason\n-+\s+-+\s+-+\s+-+\n3\s+review\s+3\s+no score dictionary found\n/);
  const none = cli('failures', 'fc', '--db', db);
  assert.equal(none.out, 'fc: 0 failure(s)\nidx  stage  attempts  reason\n---  -----  --------  ------\n(no rows)\n');
});

test('tables cut long values with "..." and say so; --full prints them whole', async () => {
  const { textTable } = await import('../../core/report/textTable.js');
  const long = 'x'.repeat(150);
  const cut = textTable(['a', 'b'], [['1', long]], { maxWidth: 120 });
  assert.match(cut, new RegExp(`1  ${'x'.repeat(117)}\\.\\.\\.\\n`));
  assert.match(cut, /values longer than 120 characters are cut and end with "\.\.\."/);
  assert.ok(textTable(['a', 'b'], [['1', long]]).includes(long));
});

test('prompts --stage difficulty --input picks the math and coding templates from the file\'s domains', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'flask-prompts-'));
  const file = path.join(dir, 'in.jsonl');
  writeFileSync(file, [
    { idx: 1, instruction: 'Solve 2x = 4', domain: ['Math'] },
    { idx: 2, instruction: 'Write a sort in C', domain: ['Coding', 'Technology'] },
    { idx: 3, instruction: 'Tell me about Rome', domain: ['History'] },
    { idx: 4, instruction: 'No domain here' },
  ].map((o) => JSON.stringify(o)).join('\n') + '\n');
  const r = cli('prompts', '--stage', 'difficulty', '--input', file);
  assert.equal(r.code, 0, r.err);
  const ids = r.out.trim().split('\n').map((l) => JSON.parse(l).prompt_id);
  const general = ids[2];
  assert.equal(ids[3], general);
  assert.notEqual(ids[0], general);
  assert.notEqual(ids[1], general);
  assert.notEqual(ids[0], ids[1]);
  // the same choice as for the evaluation set's own labels
  const evalIds = cli('prompts', '--stage', 'difficulty', '--limit', '30').out.trim().split('\n').map((l) => JSON.parse(l)).filter((l) => l.domains[0] === 'Math' || l.domains[0] === 'Coding');
  assert.equal(evalIds.find((l) => l.domains[0] === 'Math').prompt_id, ids[0]);
  assert.equal(evalIds.find((l) => l.domains[0] === 'Coding').prompt_id, ids[1]);
});

test('newer store columns are used when present: per-row simulated and served model, the calls log (re-sent calls)', async () => {
  const { Database } = await import('../../core/store/database.js');
  const file = await buildReportFixture();
  const d = new Database(file);
  await d.run(async (sql) => {
    await sql.exec(`ALTER TABLE responses ADD COLUMN IF NOT EXISTS served_model VARCHAR`);
    await sql.exec(`ALTER TABLE reviews ADD COLUMN IF NOT EXISTS simulated BOOLEAN`);
    await sql.exec(`ALTER TABLE reviews ADD COLUMN IF NOT EXISTS served_model VARCHAR`);
    await sql.exec(`UPDATE reviews SET simulated = (run_id = 'fc'), served_model = 'judge-x-0613'`);
    await sql.exec(`CREATE TABLE IF NOT EXISTS calls (run_id VARCHAR, idx INTEGER, step VARCHAR, call_no INTEGER, outcome VARCHAR, http_status INTEGER,
      prompt_tokens INTEGER, completion_tokens INTEGER, latency_ms INTEGER, resent BOOLEAN, endpoint VARCHAR, started_at TIMESTAMP)`);
    await sql.exec(`DELETE FROM calls WHERE run_id = 'fa' AND idx IN (1, 2)`); // the fixture's one call each, replaced by a history
    await sql.exec(`INSERT INTO calls (run_id, idx, step, call_no, outcome, http_status, prompt_tokens, completion_tokens, latency_ms, resent, endpoint, started_at) VALUES ('fa', 1, 'review', 1, 'lost', NULL, NULL, NULL, NULL, false, 'e', now()),
      ('fa', 1, 'review', 2, 'ok', 200, 10, 5, 100, true, 'e', now()), ('fa', 2, 'review', 1, 'rate_limited', 429, NULL, NULL, 5, false, 'e', now()),
      ('fa', 2, 'review', 2, 'ok', 200, 10, 5, 100, false, 'e', now())`);
  });
  await d.close();
  const runs = cli('runs', '--db', file);
  assert.match(runs.out, /fa\s+review\s.*\s1\s+SIMULATED\n/, 'a lost call and its re-sent repeat are one re-send');
  assert.match(runs.out, /fc\s+review\s.*\s0\s+SIMULATED\n/); // its reviews say simulated although the run row does not
  const show = cli('show', 'fa', '1', '--db', file);
  assert.match(show.out, /calls: review lost x1, review ok x1/);
  const json = JSON.parse(cli('report', 'fc', '--db', file, '--format', 'json').out);
  assert.equal(json[0].simulated, true);
});
