// docs/examples/flask-gate.yml, the documented GitHub Actions gate, run as written: every
// `npx flask-eval` step in a bash like Actions' (`bash -e`), with the job's env, the offline judge.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { PROJECT_ROOT, publishedAnswersFile } from '../../core/paths.js';

const workflow = parse(readFileSync(path.join(PROJECT_ROOT, 'docs', 'examples', 'flask-gate.yml'), 'utf8')) as {
  jobs: Record<string, { env: Record<string, string>; steps: Array<{ run?: string; uses?: string }> }>;
};
const job = workflow.jobs['flask-gate']!;
const steps = job.steps.map((s) => s.run).filter((r): r is string => !!r && r.startsWith('npx flask-eval'));
/** A dev-server port per checkout (each has its own state folder, so its own server). */
const portOf = (k: number) => String(7990 + 2 * (process.pid % 4) + k);
const dirs: string[] = [];

/** A checkout with the PR's answer files, and `npx flask-eval` resolving to this project's CLI. */
function checkout(candidate: (text: string, i: number) => string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'flask-gate-'));
  dirs.push(dir);
  mkdirSync(path.join(dir, 'eval'));
  const lines = readFileSync(publishedAnswersFile('gpt4'), 'utf8').trim().split('\n');
  writeFileSync(path.join(dir, 'eval', 'baseline.jsonl'), lines.join('\n') + '\n');
  writeFileSync(path.join(dir, 'eval', 'candidate.jsonl'), lines.map((l, i) => {
    const o = JSON.parse(l) as { question_id: number; text: string };
    return JSON.stringify({ ...o, text: candidate(o.text, i) });
  }).join('\n') + '\n');
  mkdirSync(path.join(dir, 'node_modules', '.bin'), { recursive: true });
  writeFileSync(path.join(dir, 'node_modules', '.bin', 'flask-eval'), `#!/bin/sh\nexec "${process.execPath}" "${path.join(PROJECT_ROOT, 'bin', 'flask-eval.js')}" "$@"\n`, { mode: 0o755 });
  return dir;
}

/** The steps in order, as Actions runs them: the first failing step ends the job with its status. */
function runJob(dir: string, port: string): { failedAt?: string; status: number } {
  for (const step of steps) {
    const env = { ...process.env, ...job.env, FLASK_TEMPORAL_PORT: port, OPENAI_API_KEY: '', OPENAI_BASE_URL: '' };
    const r = spawnSync('bash', ['-e', '-c', step.replace(/^npx flask-eval/, 'node_modules/.bin/flask-eval')], { cwd: dir, env, encoding: 'utf8', timeout: 300_000 });
    if (r.status !== 0) return { failedAt: step, status: r.status ?? -1 };
  }
  return { status: 0 };
}

after(() => {
  for (const dir of dirs) {
    if (existsSync(path.join(dir, job.env.FLASK_STATE_DIR!))) {
      spawnSync(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'flask-eval.js'), 'server', 'stop'], { cwd: dir, env: { ...process.env, ...job.env } });
    }
  }
});

test('the example gate has the three flask-eval steps it documents', () => {
  assert.equal(steps.length, 3);
  assert.match(steps[2]!, /compare gate-baseline gate-candidate --fail-if-worse 0\.3 .*--format markdown --junit flask-gate\.xml > flask-gate\.md/);
});

test('the GitHub Actions example passes an unchanged candidate and fails (exit 5) a degraded one, writing the PR comment and JUnit file', () => {
  const same = checkout((text) => text);
  const ok = runJob(same, portOf(0));
  assert.deepEqual(ok, { status: 0 });
  assert.match(readFileSync(path.join(same, 'flask-gate.md'), 'utf8'), /FLASK gate passed: gate-candidate vs gate-baseline/);
  assert.match(readFileSync(path.join(same, 'flask-gate.xml'), 'utf8'), /<testsuite[^>]* failures="0"/);

  // A planted regression: the candidate answers every other instruction with its first few words.
  const worse = checkout((text, i) => (i % 2 === 0 ? text.split(/\s+/).slice(0, 4).join(' ') : text));
  const bad = runJob(worse, portOf(1));
  assert.equal(bad.status, 5, `the gate step should fail with exit 5: ${JSON.stringify(bad)}`);
  assert.match(bad.failedAt!, /^npx flask-eval compare/);
  assert.match(readFileSync(path.join(worse, 'flask-gate.md'), 'utf8'), /FLASK gate failed: gate-candidate is worse than gate-baseline/);
  assert.match(readFileSync(path.join(worse, 'flask-gate.xml'), 'utf8'), /<failure/);
});
