// The flask-eval CLI as a user runs it: separate processes, real files, the embedded dev server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT, DATA_FILES, publishedAnswersFile } from '../../core/paths.js';
import { renderReviewPrompt } from '../../core/prompts/review.js';
import { prepareReview } from '../../core/inputs/prepare.js';
import { countChat, tokenCounter } from '../../core/cost/tokens.js';

const dir = mkdtempSync(path.join(tmpdir(), 'flask-cli-'));

function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'flask-eval.js'), ...args], {
    cwd: dir, encoding: 'utf8', timeout: 180_000,
    env: { ...process.env, FLASK_STATE_DIR: path.join(dir, 'state'), FLASK_TEMPORAL_PORT: String(7600 + (process.pid % 300)), ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('--version names the build that runs: compiled dist/, or the sources through tsx', () => {
  const compiled = cli(['--version']);
  assert.equal(compiled.code, 0);
  const sources = cli(['--version'], { FLASK_NO_BUILD: '1' });
  assert.match(sources.stdout, /^flask-eval \S+ \(from the TypeScript sources via tsx: npm run build for a faster start\)\n$/);
  assert.match(compiled.stdout, /^flask-eval \S+ \((compiled, dist\/|from the TypeScript sources via tsx.*)\)\n$/);
});

test('prompts prints the exact review messages as JSONL without calling a model', async () => {
  const r = cli(['prompts', '--model', 'gpt4', '--limit', '2']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 2);
  const p = prepareReview(DATA_FILES.evalSet, publishedAnswersFile('gpt4'), 'gpt4', 2);
  assert.deepEqual(lines[0].messages, renderReviewPrompt(p.instances[0]!, p.responses[0]!.text));
  assert.equal(lines[0].temperature, 0.2);
  assert.equal(lines[0].max_tokens, 1024);
  // The same BPE count as `estimate` (gpt-4-0613: cl100k_base, exact), not characters / 4.
  const counter = await tokenCounter('cl100k_base');
  assert.equal(lines[0].prompt_tokens, countChat(counter, lines[0].messages));
  assert.match(r.stderr, /2 prompts; \d+ prompt tokens \(cl100k_base, exact for gpt-4-0613\)/);
  const s = cli(['prompts', '--stage', 'skillset', '--limit', '1', '--seed', '3']);
  assert.equal(s.code, 0, s.stderr);
  assert.equal(JSON.parse(s.stdout).numbering.length, 12);
});

test('import-answers: a malformed file is rejected with file:line and nothing is stored', () => {
  const db = path.join(dir, 'import.duckdb');
  const good = path.join(dir, 'good.jsonl');
  writeFileSync(good, [{ question_id: 1, text: 'a' }, { question_id: 1, text: 'dup' }, { question_id: 99999, text: 'x' }, { question_id: 2, text: '' }].map((x) => JSON.stringify(x)).join('\n') + '\n');
  const dup = cli(['import-answers', good, '--model-id', 'mine', '--run', 'imp', '--db', db]);
  assert.equal(dup.code, 2);
  assert.match(dup.stderr, /good\.jsonl:2: field question_id: duplicate question_id 1 \(first on line 1\)/);
  assert.ok(!existsSync(db), 'a refused file stores nothing');
  const ok = cli(['import-answers', good, '--model-id', 'mine', '--run', 'imp', '--db', db, '--keep-first-duplicate']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stderr, /answers: 4 lines, 2 matched an instance/);
  assert.match(ok.stderr, /evaluation-set instances without an answer \(not in this run\): 1738 of 1740/);
  assert.match(ok.stderr, /answers for unknown ids \(ignored\): 1 \[99999\]/);
  assert.match(ok.stderr, /duplicate answer ids \(first kept\): 1 \[1\]/);
  assert.match(ok.stderr, /empty responses \(judged as they are\): 1 \[2\]/);

  const bad = path.join(dir, 'bad.jsonl');
  writeFileSync(bad, `${JSON.stringify({ question_id: 3, text: 'fine' })}\n{"question_id": 4, "text": oops}\n${JSON.stringify({ text: 'no id' })}\n`);
  const r = cli(['import-answers', bad, '--model-id', 'other', '--run', 'imp2', '--db', db]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, new RegExp(`${bad.replace(/[.]/g, '\\.')}:2: not valid JSON`));
  assert.match(r.stderr, /bad\.jsonl:3: field question_id/);
  assert.doesNotMatch(r.stderr, /at .*\.ts:\d+/, 'no stack trace for bad input');
  const q = cli(['query', "SELECT run_id, (SELECT count(*) FROM responses r WHERE r.run_id = runs.run_id)::INT AS n FROM runs ORDER BY run_id", '--db', db, '--format', 'json']);
  assert.equal(q.code, 0, q.stderr);
  assert.deepEqual(JSON.parse(q.stdout), [{ run_id: 'imp', n: 2 }]);
});

test('query is read-only, report names unknown runs, and a missing command argument is explained', () => {
  const db = path.join(dir, 'import.duckdb');
  const w = cli(['query', 'DELETE FROM runs', '--db', db]);
  assert.equal(w.code, 2);
  assert.match(w.stderr, /query only reads: DELETE statements are refused/);
  const rep = cli(['report', 'nope', '--db', db]);
  assert.equal(rep.code, 2);
  assert.match(rep.stderr, /no run named "nope"/);
  const none = cli(['report', 'x', '--db', path.join(dir, 'missing.duckdb')]);
  assert.match(none.stderr, /no results database at .*missing\.duckdb/);
  assert.ok(!existsSync(path.join(dir, 'missing.duckdb')));
  const rv = cli(['review']);
  assert.equal(rv.code, 2);
  assert.match(rv.stderr, /review needs --model NAME, --answers FILE/);
  assert.equal(cli(['frobnicate']).code, 2);
  const unknown = cli(['review', '--model', 'gpt5']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /no published answers for "gpt5"; the published models are: alpaca_13b, bard, chatgpt/);
});

test('review on the embedded defaults: starts the dev server, lands, reports; a rerun resumes', () => {
  const first = cli(['review', '--model', 'davinci_003', '--limit', '6', '--run', 'e2e']);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stderr, /Temporal: 127\.0\.0\.1:\d+, namespace default; UI at http:\/\/127\.0\.0\.1:\d+; results in /);
  assert.match(first.stderr, /Run "e2e" created: 6 instances, 6 responses/);
  assert.match(first.stderr, /6 scored, 0 failed of 6 instances\s+\[SIMULATED/);
  assert.ok(existsSync(path.join(dir, 'state', 'temporal.db')), 'the dev server persists to the state folder');
  const again = cli(['review', '--model', 'davinci_003', '--limit', '6', '--run', 'e2e']);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /Run "e2e" exists: resuming/);
  assert.match(again.stderr, /6 already landed/);
  const rep = cli(['report', 'e2e', '--format', 'json', '--by', 'skill']);
  assert.equal(rep.code, 0, rep.stderr);
  const rows = JSON.parse(rep.stdout) as { key: string; count: number }[];
  assert.ok(rows.length > 0 && rows.every((r) => r.count >= 0));
  assert.match(rep.stderr, /SIMULATED/);
  const other = cli(['review', '--model', 'gpt4', '--limit', '6', '--run', 'e2e']);
  assert.equal(other.code, 2);
  assert.match(other.stderr, /run "e2e" already exists with different answersSha256/);
});

test('cache: --cache on fills it, `cache` shows it, prune --dry-run counts and prune --run deletes (through the state server); the next run asks again', () => {
  const args = (run: string) => ['review', '--model', 'chatgpt', '--limit', '4', '--run', run, '--cache', 'on'];
  const a = cli(args('cached-a'));
  assert.equal(a.code, 0, a.stderr);
  const stats = cli(['cache']);
  assert.equal(stats.code, 0, stats.stderr);
  assert.match(stats.stdout, /offline:seed=\d+\s+flask-offline-judge\s+review\s+4\s/);
  const b = cli(args('cached-b'));
  assert.match(b.stderr, /4 calls served from the cache/);
  const dry = cli(['cache', 'prune', '--run', 'cached-a', '--dry-run']);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stderr, /Would delete 4 stored answers/);
  const del = cli(['cache', 'prune', '--run', 'cached-a', '--model', 'flask-offline-judge']);
  assert.match(del.stderr, /Deleted 4 stored answers/);
  const c = cli(args('cached-c'));
  assert.equal(c.code, 0, c.stderr);
  assert.doesNotMatch(c.stderr, /served from the cache/);
  assert.match(c.stderr, /4 scored, 0 failed of 4 instances/);
  const none = cli(['cache', 'prune']);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /cache prune needs a condition \(--older-than DAYS/);
  const all = cli(['cache', 'prune', '--older-than', '0']);
  assert.match(all.stderr, /Deleted 4 stored answers/);
  assert.match(cli(['cache']).stderr, /is empty/);
});

test('an API key is used for calls but lands nowhere: not in DuckDB, Temporal state, history or output', async () => {
  const { startOfflineServer } = await import('../../simulator/server.js');
  const secret = 'sk-test-SECRET-4f1c9e2a';
  // The server refuses any other key, so a scored run proves the key was really sent.
  const server = await startOfflineServer({ apiKey: secret });
  const state = path.join(dir, 'secret-state');
  const env = { FLASK_STATE_DIR: state, OPENAI_API_KEY: secret, OPENAI_BASE_URL: server.url, FLASK_JUDGE_MODEL: 'flask-offline-judge', FLASK_TEMPORAL_PORT: String(7300 + (process.pid % 200)) };
  try {
    const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'flask-eval.js'), 'review', '--model', 'gpt4', '--limit', '4', '--run', 'keyed'], {
        cwd: dir, env: { ...process.env, ...env },
      });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      child.on('exit', (code) => resolve({ code, out }));
    });
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /4 scored, 0 failed of 4 instances/);
    // The endpoint is the offline server reached by URL with a key: it says it is simulated.
    assert.match(r.out, /SIMULATED/, 'the endpoint said it is simulated, key or not');
    assert.ok(!r.out.includes(secret), 'not in the CLI output');
    for (const f of readdirSync(state)) {
      const p = path.join(state, f);
      if (statSync(p).isFile()) assert.ok(!readFileSync(p).includes(secret), `the key is in ${f}`);
    }
    assert.ok(existsSync(path.join(state, 'temporal.db')) && existsSync(path.join(state, 'results.duckdb')));
  } finally {
    await server.close();
  }
});

test('every flag the README mentions appears in some command\'s --help', () => {
  const readme = readFileSync(path.join(PROJECT_ROOT, 'README.md'), 'utf8');
  const help = cli(['help', '--all']);
  assert.equal(help.code, 0, help.stderr);
  // --scale is docker compose's (`docker compose up --scale worker=4`), not ours.
  const notOurs = new Set(['--scale']);
  const inHelp = new Set(help.stdout.match(/--[a-z][a-z0-9-]*/g));
  const missing = [...new Set(readme.match(/--[a-z][a-z0-9-]*/g))].filter((f) => !inHelp.has(f) && !notOurs.has(f));
  assert.deepEqual(missing, [], `README flags missing from --help: ${missing.join(' ')}`);
  assert.ok(inHelp.has('--judge-api-key-file') && inHelp.has('--keep-first-duplicate'));
  // The exit statuses are documented, and every run command warns about keys on the command line.
  assert.match(help.stdout, /Exit status:\n\s+0 +every instance[\s\S]*\n\s+4 +the run finished but some instances failed/);
  for (const cmd of ['review', 'infer', 'eval', 'annotate']) {
    const h = cli([cmd, '--help']).stdout;
    assert.match(h, /visible to other\s+users of this\s+machine in `ps`/, cmd);
    assert.match(h, /--judge-rpm N/, cmd);
  }
});

test('errors a user can act on: causes of a failed run, refused connections, unknown runs; exit codes', async () => {
  const { explainError } = await import('../../client/output/errorReport.js');
  const { exitCodeForProgress } = await import('../../client/output/exitCodes.js');
  const { WorkflowFailedError } = await import('@temporalio/client');
  const { ActivityFailure, ApplicationFailure, ChildWorkflowFailure, RetryState, TerminatedFailure, WorkflowNotFoundError } = await import('@temporalio/common');
  const { InputError, RunStoppedError } = await import('../../core/errors.js');
  const provider = ApplicationFailure.create({ message: '401 Incorrect API key provided: sk-wr***ng', type: 'ProviderError.auth', nonRetryable: true });
  const activity = new ActivityFailure('Activity task failed', 'callChunk', '3', RetryState.NON_RETRYABLE_FAILURE, 'worker-1', provider);
  const child = new ChildWorkflowFailure('default', { workflowId: 'batch-1', runId: 'r' }, 'batchWorkflow', RetryState.NON_RETRYABLE_FAILURE, activity);
  const failed = explainError(new WorkflowFailedError('Workflow execution failed', child, RetryState.NON_RETRYABLE_FAILURE));
  assert.equal(failed.code, 3);
  assert.match(failed.message, /^error: the run stopped: 401 Incorrect API key provided: sk-wr\*\*\*ng\n {2}check the key: --judge-api-key-file/);
  assert.doesNotMatch(failed.message, /\n\s+at /);
  const term = explainError(new WorkflowFailedError('Workflow execution failed', new TerminatedFailure('Terminated'), RetryState.NON_RETRYABLE_FAILURE));
  assert.equal(term.code, 3);
  assert.match(term.message, /terminated/);
  const notFound = explainError(new WorkflowNotFoundError('not found', 'flask-run-nope', undefined));
  assert.equal(notFound.code, 2);
  assert.match(notFound.message, /no run workflow flask-run-nope in Temporal/);
  const refused = explainError(new Error('Failed to connect before the deadline'), { TEMPORAL_ADDRESS: '127.0.0.1:7999' });
  assert.equal(refused.code, 3);
  assert.match(refused.message, /cannot reach Temporal at 127\.0\.0\.1:7999 \(connection refused\): start the Temporal server at 127\.0\.0\.1:7999, or unset TEMPORAL_ADDRESS/);
  const embedded = explainError(new Error('14 UNAVAILABLE: No connection established. Last error: connect ECONNREFUSED 127.0.0.1:7611'), {});
  assert.match(embedded.message, /cannot reach Temporal at 127\.0\.0\.1:7611 .*flask-eval server/);
  const endpoint = Object.assign(new Error('Connection error.'), { name: 'APIConnectionError', cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }) });
  assert.match(explainError(endpoint).message, /the endpoint does not answer/);
  assert.deepEqual(explainError(new InputError('bad file')), { code: 2, message: 'error: bad file' });
  assert.deepEqual(explainError(new RunStoppedError('judge refused the key')), { code: 3, message: 'error: judge refused the key' });
  const bug = explainError(new TypeError('x is undefined'));
  assert.equal(bug.code, 1);
  assert.match(bug.message, /TypeError: x is undefined\n\s+at /, 'an unexpected error keeps its stack');
  assert.equal(exitCodeForProgress({ total: 3, done: 3, failed: 0 }), 0);
  assert.equal(exitCodeForProgress({ total: 3, done: 2, failed: 1 }), 4);
  assert.equal(exitCodeForProgress({ total: 3, done: 2, failed: 0 }), 4, 'an instance that did not end scored is not success');
});
