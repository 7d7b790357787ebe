// flask-eval run EXPERIMENT.yaml as a user runs it: separate processes, the embedded dev server,
// the offline judge over HTTP, a real DuckDB file; the command killed mid-run and run again.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../core/paths.js';

const dir = mkdtempSync(path.join(tmpdir(), 'flask-exp-'));
const env = {
  ...process.env, FLASK_STATE_DIR: path.join(dir, 'state'), FLASK_TEMPORAL_PORT: String(7950 + (process.pid % 40)),
  // Slow enough that the kill lands mid-run.
  FLASK_OFFLINE_LATENCY_MS: '150',
};
const BIN = path.join(PROJECT_ROOT, 'bin', 'flask-eval.js');
const cli = (args: string[]) => {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: dir, encoding: 'utf8', timeout: 300_000, env });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};
after(() => cli(['server', 'stop']));

const LIMIT = 8;
const file = path.join(dir, 'exp.yaml');
writeFileSync(file, `name: trio
models:
  - published: gpt4
  - published: chatgpt
  - published: davinci_003
judges:
  - { model: judge-a, base-url: offline }
  - { model: judge-b, base-url: offline, profile: prometheus }
settings: { limit: ${LIMIT}, max-concurrency: 2, parallel-cells: 2 }
`);
const RUNS = ['gpt4', 'chatgpt', 'davinci_003'].flatMap((m) => [`trio-${m}-judge-a-flask`, `trio-${m}-judge-b-prometheus-flask`]);

test('run --dry-run lists every cell with the calls estimate counts for it, and calls nothing', () => {
  const r = cli(['run', file, '--dry-run']);
  assert.equal(r.code, 0, r.stderr);
  for (const id of RUNS) assert.match(r.stdout, new RegExp(`^${id} .* ${id.includes('prometheus') ? 3 * LIMIT : LIMIT} +n/a`, 'm'));
  // The same figure as `estimate review` per cell: flask's one call per instance, prometheus's one per skill.
  const one = cli(['estimate', 'review', '--model', 'gpt4', '--limit', String(LIMIT), '--judge-model', 'judge-b', '--judge-profile', 'prometheus', '--format', 'json']);
  assert.equal(JSON.parse(one.stdout).calls, 3 * LIMIT);
  assert.match(r.stdout, new RegExp(`total: ${3 * (LIMIT + 3 * LIMIT)} calls`));
});

test('a 3-model x 2-judge experiment runs as one workflow, survives a kill of its command, and its leaderboard equals each run\'s report', async () => {
  // First attempt: killed once a cell has ended and others are under way.
  const first = spawn(process.execPath, [BIN, 'run', file], { cwd: dir, env });
  let err = '';
  first.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  const started = await new Promise<boolean>((resolve) => {
    const timer = setInterval(() => { if (/Started experiment workflow flask-experiment-trio[^]*cells [1-5]\/6 ended/.test(err)) { clearInterval(timer); resolve(true); } }, 100);
    first.once('exit', () => { clearInterval(timer); resolve(false); });
  });
  assert.ok(started, err);
  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));

  // The same command again: attaches to the running experiment and finishes it.
  const again = cli(['run', file]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /Attached to running experiment workflow flask-experiment-trio/);
  assert.match(again.stderr, /Experiment trio: 6 of 6 cells finished/);
  const calls = [...again.stderr.matchAll(/; (\d+) calls, \d+ tokens/g)].map((m) => Number(m[1]));
  assert.equal(calls.length, 6);
  // The same durable workflow's counts, before and after the kill: every call needed was made
  // (a chunk in flight at the kill is sent again, and counted).
  assert.ok(calls.reduce((a, b) => a + b, 0) >= 3 * (LIMIT + 3 * LIMIT), calls.join(', '));
  assert.doesNotMatch(err, /Experiment trio: 6 of 6/, 'the kill landed after the end');

  // Every cell a run of its own, every instance reviewed once per judge (nothing judged twice).
  const q = cli(['query', "SELECT run_id, count(*)::INT AS n, count(DISTINCT idx)::INT AS d, count(*) FILTER (WHERE status = 'scored')::INT AS s FROM reviews GROUP BY run_id ORDER BY run_id", '--format', 'json']);
  assert.equal(q.code, 0, q.stderr);
  const rows = JSON.parse(q.stdout) as Array<{ run_id: string; n: number; d: number; s: number }>;
  assert.deepEqual(rows.map((r) => r.run_id), [...RUNS].sort());
  for (const r of rows) assert.deepEqual([r.n, r.d, r.s], [LIMIT, LIMIT, LIMIT], r.run_id);

  // A rerun of a finished experiment calls nothing.
  const third = cli(['run', file]);
  assert.equal(third.code, 0, third.stderr);
  assert.equal([...third.stderr.matchAll(/; 0 calls, 0 tokens/g)].length, 6, third.stderr);

  // The leaderboard's per-cell, per-skill means are the runs' own report figures.
  const lb = cli(['leaderboard', '--experiment', file, '--format', 'json']);
  assert.equal(lb.code, 0, lb.stderr);
  const boards = JSON.parse(lb.stdout) as Array<{ judge: string; evalSet: string; leaderboard: { rows: Array<{ run: string; skills: Record<string, { mean: number }> }> } }>;
  assert.deepEqual(boards.map((b) => b.judge), ['judge-a', 'judge-b-prometheus']);
  let compared = 0;
  for (const b of boards) {
    assert.equal(b.leaderboard.rows.length, 3);
    for (const row of b.leaderboard.rows) {
      const rep = cli(['report', row.run, '--format', 'json']);
      assert.equal(rep.code, 0, rep.stderr);
      for (const fig of JSON.parse(rep.stdout) as Array<{ key: string; avg: number | null }>) {
        if (fig.avg === null || !row.skills[fig.key]) continue;
        assert.ok(Math.abs(row.skills[fig.key]!.mean - fig.avg) < 1e-9, `${row.run} ${fig.key}: leaderboard ${row.skills[fig.key]!.mean}, report ${fig.avg}`);
        compared++;
      }
    }
  }
  assert.ok(compared >= 6 * 5, `${compared} figures compared`);
});
