// Bad input is refused before anything is stored or started: exit 2, a message naming the
// file/line/flag and the fix, no DuckDB file, no Temporal server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT, DATA_FILES } from '../../core/paths.js';
import { Database } from '../../core/store/database.js';
import { createOrMatchRun } from '../../core/store/runs.js';
import { landInstances } from '../../core/store/instances.js';
import { reviewCommand } from '../../client/commands/review.js';
import { evalCommand, inferCommand } from '../../client/commands/infer.js';
import { annotateCommand } from '../../client/commands/annotate.js';
import { importAnswersCommand } from '../../client/commands/importAnswers.js';
import { explainError } from '../../client/output/errorReport.js';
import { readKeyFile, runOptions } from '../../client/flags.js';

const dir = mkdtempSync(path.join(tmpdir(), 'flask-badinput-'));
const state = path.join(dir, 'state');
const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');
function file(name: string, lines: unknown[]): string {
  const f = path.join(dir, name);
  writeFileSync(f, lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + (lines.length ? '\n' : ''));
  return f;
}

function cli(args: string[], stateDir = state) {
  const r = spawnSync(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'flask-eval.js'), ...args], {
    cwd: dir, encoding: 'utf8', timeout: 120_000,
    env: { ...process.env, FLASK_STATE_DIR: stateDir, FLASK_TEMPORAL_PORT: String(7900 + (process.pid % 90)) },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Nothing was stored or started: no results file, no dev-server state. */
function assertNothingStored(db: string): void {
  assert.ok(!existsSync(db), `${db} was created`);
  assert.ok(!existsSync(path.join(state, 'temporal.db')), 'a Temporal dev server was started');
}

const empty = file('empty.jsonl', []);
const blank = file('blank.jsonl', ['', '   ', '']);
const answers = file('answers.jsonl', [{ question_id: 1, text: 'a' }, { question_id: 2, text: 'b' }]);
const dupAnswers = file('dup-answers.jsonl', [{ question_id: 1, text: 'a' }, { question_id: 2, text: 'b' }, { question_id: 1, text: 'again' }]);

test('CLI: empty files (eval set, answers, annotate input) exit 2 naming the file; nothing stored', () => {
  const db = path.join(dir, 'empty.duckdb');
  for (const args of [
    ['review', '--answers', empty, '--model-id', 'm'],
    ['review', '--answers', answers, '--model-id', 'm', '--eval-set', blank],
    ['annotate', blank],
    ['import-answers', empty, '--model-id', 'm'],
    ['eval', '--input', empty, '--model-name', 'm'],
  ]) {
    const r = cli([...args, '--db', db]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /(empty|blank)\.jsonl is empty \(no JSON lines\); nothing was started or stored/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
  assertNothingStored(db);
});

test('CLI: duplicate ids name both lines; --keep-first-duplicate keeps the first with a warning', () => {
  const db = path.join(dir, 'dup.duckdb');
  const r = cli(['review', '--answers', dupAnswers, '--model-id', 'm', '--db', db]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /dup-answers\.jsonl:3: field question_id: duplicate question_id 1 \(first on line 1\)/);
  assert.match(r.stderr, /pass --keep-first-duplicate/);
  const instr = file('dup-instr.jsonl', [{ instruction: 'a', idx: 7 }, { instruction: 'b', idx: 8 }, { instruction: 'c', idx: 7 }]);
  const a = cli(['annotate', instr, '--db', db]);
  assert.equal(a.code, 2, a.stderr);
  assert.match(a.stderr, /dup-instr\.jsonl:3: field idx: duplicate idx 7 \(first on line 1\)/);
  assertNothingStored(db);

  // Landing goes through a state server (and its dev server): in a state folder of its own, so the
  // other tests can still check that nothing was started.
  const keptState = path.join(dir, 'kept-state');
  const kept = cli(['import-answers', dupAnswers, '--model-id', 'm', '--run', 'kept', '--keep-first-duplicate', '--db', db], keptState);
  assert.equal(kept.code, 0, kept.stderr);
  assert.match(kept.stderr, /warning: 1 duplicate question_id value\(s\) in .*dup-answers\.jsonl: the first line of each is kept/);
  const q = cli(['query', "SELECT idx, text FROM responses WHERE run_id = 'kept' ORDER BY idx", '--db', db, '--format', 'json'], keptState);
  spawnSync(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'flask-eval.js'), 'server', 'stop'], { env: { ...process.env, FLASK_STATE_DIR: keptState } });
  assert.deepEqual(JSON.parse(q.stdout), [{ idx: 1, text: 'a' }, { idx: 2, text: 'b' }]);
});

test('CLI: run names must be non-empty, safe and at most 100 characters', () => {
  const db = path.join(dir, 'names.duckdb');
  for (const [name, message] of [
    ['', /--run: a run name must not be empty/],
    ['my run; rm -rf', /--run "my run; rm -rf": a run name starts with a letter or digit and holds only letters, digits/],
    ['x'.repeat(101), /--run: run name is 101 characters; at most 100/],
  ] as const) {
    const r = cli(['review', '--model', 'gpt4', '--run', name, '--db', db]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, message);
  }
  assertNothingStored(db);
});

test('CLI: malformed reference labels on annotate are listed by line; agreement without labels exits 2', async () => {
  const db = path.join(dir, 'labels.duckdb');
  const labelled = file('labelled.jsonl', [
    { instruction: 'q1', idx: 1, domain: ['Math'], skill: ['Factuality'], difficulty: 'major level knowledge' },
    { instruction: 'q2', idx: 2, domain: ['Cooking'] },
    { instruction: 'q3', idx: 3, skill: ['Readability', 'Mind Reading'], difficulty: 7 },
  ]);
  const r = cli(['annotate', labelled, '--db', db]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /3 malformed reference label\(s\) in .*labelled\.jsonl; nothing was started or stored/);
  assert.match(r.stderr, /labelled\.jsonl:2: field domain\[0\]: unknown domain "Cooking"/);
  assert.match(r.stderr, /labelled\.jsonl:3: field skill\[1\]: unknown skill "Mind Reading"/);
  assert.match(r.stderr, /labelled\.jsonl:3: field difficulty: unknown difficulty "7"/);
  assert.match(r.stderr, /--ignore-labels/);
  assertNothingStored(db);

  // An annotation run whose input carried no labels (landed directly, as annotate would).
  const store = new Database(db, { gatherMs: 0 });
  await store.run(async (sql) => {
    await createOrMatchRun(sql, {
      runId: 'plain', kind: 'annotate', simulated: true, datasetPath: null, datasetSha256: null, answersPath: null, answersSha256: null,
      modelId: null, modelEndpoint: null, modelSettings: null, judgeModel: 'j', judgeEndpoint: null, judgeSettings: null,
      promptTemplateSha256: null, projectVersion: 'test', summary: {},
    });
    await landInstances(sql, 'plain', [{ idx: 1, instruction: 'q', answer: '', task: '', skills: [], domains: [], unlabelledDomain: false, difficulty: null, extra: {} }]);
  });
  await store.close(); // handed to the CLI's process next
  const before = sha(db);
  const ag = cli(['agreement', 'plain', '--db', db]);
  assert.equal(ag.code, 2, ag.stderr);
  assert.match(ag.stderr, /run plain has no reference labels to compare against/);
  assert.doesNotMatch(ag.stdout, /0\.0%/);
  assert.equal(sha(db), before);
});

/** Run a command in this process and map its error as the CLI does. */
async function refused(run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
  } catch (e) {
    const r = explainError(e);
    assert.equal(r.code, 2, r.message);
    return r.message;
  }
  assert.fail('the command did not refuse its input');
}

test('every rate, limit and count flag must be > 0 (integers where they must be); checked before anything is read', async () => {
  const db = path.join(dir, 'flags.duckdb');
  const log = () => undefined;
  const base = ['--model', 'gpt4', '--db', db];
  const cases: [string[], RegExp][] = [
    [['--judge-rps', '0'], /--judge-rps must be greater than 0/],
    [['--judge-rpm', '0'], /--judge-rpm must be greater than 0/],
    [['--judge-tpm', '1.5'], /--judge-tpm must be a positive integer/],
    [['--judge-tpm', 'lots'], /--judge-tpm must be a number/],
    [['--max-concurrency', '0'], /--max-concurrency must be a positive integer/],
    [['--concurrency', '2.5'], /--concurrency must be a positive integer/],
    [['--judge-concurrency', '0'], /--judge-concurrency must be a positive integer/],
    [['--chunk-size', '0'], /--chunk-size must be a positive integer/],
    [['--batch-size', ''], /--batch-size must be a positive integer/],
    [['--max-attempts', '0'], /--max-attempts must be a positive integer/],
    [['--limit', '0'], /--limit must be a positive integer/],
    [['--limit', '1e400'], /--limit must be a positive integer/],
    [['--parse-attempts', '0'], /--parse-attempts must be a positive integer/],
    [['--judge-temperature', '5'], /--judge-temperature must be between 0 and 2/],
    [['--judge-max-tokens', '-5'], /--judge-max-tokens must be a positive integer|ambiguous/],
    [['--judge-rps', '1', '--judge-rpm', '60'], /give --judge-rpm or the deprecated --judge-rps, not both/],
    [['--judge-api-key-file', path.join(dir, 'no-such-key')], /--judge-api-key-file .*no-such-key: cannot read the key file \(ENOENT\)/],
    [['--judge-api-key-file', file('empty-key', [])], /the key file is empty/],
  ];
  for (const [flags, message] of cases) assert.match(await refused(() => reviewCommand([...base, ...flags], log)), message, flags.join(' '));
  // --limit on an existing run (review --run X): validated like any other.
  assert.match(await refused(() => reviewCommand(['--run', 'X', '--limit', '0', '--db', db], log)), /--limit must be a positive integer/);
  assert.match(await refused(() => evalCommand(['--model-name', 'm', '--model-rpm=-1e-9', '--db', db], log)), /--model-rpm must be greater than 0/);
  assert.match(await refused(() => inferCommand(['--model-name', 'm', '--model-tpm', '0', '--db', db], log)), /--model-tpm must be greater than 0/);
  assert.match(await refused(() => inferCommand(['--model-name', 'm', '--temperature', 'hot', '--db', db], log)), /--temperature must be a number/);
  assert.match(await refused(() => annotateCommand([DATA_FILES.hardSet, '--seed=-1', '--db', db], log)), /--seed must be an integer >= 0/);
  assert.match(await refused(() => importAnswersCommand([answers, '--model-id', 'm', '--run', 'bad name', '--db', db], log)), /a run name starts with a letter or digit/);
  assertNothingStored(db);
});

test('run options from flags: per-role limits, aliases, the deprecated rps mapped to rpm with a note', () => {
  const notes: string[] = [];
  const o = runOptions({ 'judge-rps': '2', 'model-rpm': '30', 'model-tpm': '90000', concurrency: '4', 'judge-concurrency': '16', 'chunk-size': '10', 'change-judge': true }, (s) => notes.push(s));
  assert.deepEqual(o.judgeLimits, { rpm: 120, maxConcurrency: 16, requestTimeoutMs: 120_000 });
  assert.deepEqual(o.modelLimits, { rpm: 30, tpm: 90000, maxConcurrency: 4, requestTimeoutMs: 120_000 });
  assert.equal(o.chunkSize, 10);
  assert.equal(o.changeJudge, true);
  assert.equal(o.batchSize, 1000);
  assert.equal(o.maxAttempts, 8);
  assert.deepEqual(notes, ['--judge-rps is deprecated: read as --judge-rpm 120']);
  const d = runOptions({}, () => undefined);
  assert.deepEqual([d.judgeLimits, d.modelLimits, d.chunkSize, d.changeJudge, d.limit], [{ requestTimeoutMs: 120_000 }, { requestTimeoutMs: 120_000 }, 96, false, undefined]);
  assert.equal(runOptions({ 'max-concurrency': '8' }).chunkSize, 12);
  assert.equal(runOptions({ 'judge-concurrency': '200' }).chunkSize, 96);
  assert.deepEqual(runOptions({ 'max-concurrency': '3' }).judgeLimits, { maxConcurrency: 3, requestTimeoutMs: 120_000 });
  // --request-timeout for every endpoint, --ROLE-request-timeout for one (seconds).
  const t = runOptions({ 'request-timeout': '300', 'model-request-timeout': '30' });
  assert.deepEqual([t.judgeLimits.requestTimeoutMs, t.modelLimits.requestTimeoutMs], [300_000, 30_000]);
});

test('key files: trimmed; other users able to read it get a warning', () => {
  const f = file('judge.key', ['  sk-test-123  ']);
  chmodSync(f, 0o600);
  const warnings: string[] = [];
  assert.equal(readKeyFile(f, 'judge-api-key-file', (s) => warnings.push(s)), 'sk-test-123');
  assert.equal(warnings.length, 0);
  chmodSync(f, 0o644);
  readKeyFile(f, 'judge-api-key-file', (s) => warnings.push(s));
  assert.match(warnings[0]!, /readable by every user of this machine: chmod 600/);
});

test('CLI: bytes that are not UTF-8 are refused with file:line, never replaced in silence; nothing stored', () => {
  const db = path.join(dir, 'latin1.duckdb');
  const f = path.join(dir, 'latin1-answers.jsonl');
  writeFileSync(f, Buffer.concat([
    Buffer.from('{"question_id": 1, "text": "a"}\n{"question_id": 2, "text": "caf\u00e9 ok"}\n'),
    Buffer.from('{"question_id": 3, "text": "caf'), Buffer.from([0xe9]), Buffer.from(' latin-1"}\n'),
  ]));
  const r = cli(['review', '--answers', f, '--model-id', 'm', '--db', db]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /latin1-answers\.jsonl:3: not valid UTF-8/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  assertNothingStored(db);
});
