// The container deployment without a Docker engine. The Dockerfile's steps are carried out in an
// empty folder (tests/helpers/dockerSteps.ts: COPY with .dockerignore, RUN with the same commands,
// WORKDIR, ENV, in order, both stages), then the flask-eval services of docker-compose.yml, as
// compose-go loads it (scripts/compose-check --json), are started from the image's folder the way
// compose starts them: ENTRYPOINT + command, in the foreground, with the service's environment
// (TEMPORAL_ADDRESS pointing at this test's Temporal dev server, the results bind mount at a
// folder of the test), and their healthchecks run as compose runs them. A short review with the
// offline judge goes through them: the cli service starts it (--detach), the worker judges it,
// the store lands it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { PROJECT_ROOT } from '../../core/paths.js';
import { startTemporal, sleep } from '../helpers/harness.js';
import { goAvailable, runComposeCheck } from '../helpers/composeCheck.js';
import { carryOut, dockerignore, hostPath, parseDockerfile, type Stage } from '../helpers/dockerSteps.js';
import { identityBase } from '../../core/rate/fleet.js';

const skip = goAvailable ? false : 'Go is not installed: the compose file is loaded by scripts/compose-check (go build)';
const RUN_ID = 'docker-steps';
const LIMIT = 6;

interface ComposeService {
  command?: string[] | null;
  environment?: Record<string, string | null>;
  healthcheck?: { test: string[]; timeout?: string };
  volumes?: Array<{ type: string; source: string; target: string }>;
  stop_grace_period?: string;
}

const dir = mkdtempSync(path.join(tmpdir(), 'flask-docker-steps-'));
const steps: string[] = [];
let image: Stage;
let build: Stage;
let env: TestWorkflowEnvironment | undefined;
let services: Record<string, ComposeService>;
const procs: ChildProcess[] = [];

/** What a node:20 image's environment gives a process: a Node on PATH, a home, a temp folder. */
function baseEnv(): Record<string, string> {
  const keep = ['PATH', 'HOME', 'LANG', 'TMPDIR'];
  return {
    ...Object.fromEntries(keep.filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]!])),
    // npm's cache of this test alone: the runtime stage's `npm cache clean --force` must not empty the
    // machine's. Prefilled with hard links to the machine's cached tarballs (never modified in place).
    npm_config_cache: path.join(dir, 'npm-cache'),
  };
}

function seconds(d: string | undefined, fallback: number): number {
  const m = /^(\d+)(ms|s|m)$/.exec(d ?? '');
  if (!m) return fallback;
  return Number(m[1]) * (m[2] === 'ms' ? 0.001 : m[2] === 'm' ? 60 : 1);
}

/** A service's container environment: the image's ENV, then the service's, with its bind mounts and Temporal mapped here. */
function serviceEnv(name: string): Record<string, string> {
  const s = services[name];
  const mounts = (s!.volumes ?? []).filter((v) => v.type === 'bind').map((v) => ({ target: v.target, here: mountFor(v.source) }));
  const out: Record<string, string> = { ...baseEnv(), ...image.env };
  for (const [k, raw] of Object.entries(s!.environment ?? {})) {
    let v = raw ?? '';
    if (k === 'TEMPORAL_ADDRESS') {
      assert.equal(v, 'temporal:7233', `${name}: TEMPORAL_ADDRESS names the temporal service`);
      v = env!.address;
    }
    for (const m of mounts) if (v === m.target || v.startsWith(`${m.target}/`)) v = m.here + v.slice(m.target.length);
    out[k] = v;
  }
  return out;
}

/** A bind mount's host folder, here: one folder per compose source, shared by the services that mount it. */
function mountFor(source: string): string {
  const here = path.join(dir, 'mounts', path.basename(source));
  mkdirSync(here, { recursive: true });
  return here;
}

/** `docker compose up` / `run --rm cli ARGS`: ENTRYPOINT + (run args | command | CMD), in WORKDIR. */
function start(name: string, args?: string[]): { child: ChildProcess; log: string[] } {
  const argv = [...image.entrypoint, ...(args ?? services[name]!.command ?? image.cmd)];
  const child = spawn(argv[0]!, argv.slice(1), { cwd: hostPath(image, '.'), env: serviceEnv(name), stdio: ['ignore', 'pipe', 'pipe'] });
  const log: string[] = [];
  const keep = (d: Buffer) => { log.push(d.toString()); if (process.env.DEBUG_DOCKER_STEPS) process.stderr.write(`[${name}] ${d}`); };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  procs.push(child);
  return { child, log };
}

async function exited(child: ChildProcess, timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null } | undefined> {
  if (child.exitCode !== null || child.signalCode !== null) return { code: child.exitCode, signal: child.signalCode };
  return Promise.race([
    new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal }))),
    sleep(timeoutMs).then(() => undefined),
  ]);
}

/** `docker compose run --rm cli ARGS`, to its end. */
async function runCli(args: string[], timeoutMs = 120_000): Promise<{ code: number | null; out: string }> {
  const { child, log } = start('cli', args);
  const end = await exited(child, timeoutMs);
  if (!end) child.kill('SIGKILL');
  return { code: end?.code ?? null, out: log.join('') };
}

/** One run of a service's healthcheck, as the engine runs it in the container (CMD / CMD-SHELL, its timeout). */
function healthcheck(name: string): { ok: boolean; out: string } {
  const hc = services[name]!.healthcheck;
  assert.ok(hc && hc.test.length > 1, `${name} has a healthcheck`);
  const [kind, ...rest] = hc.test;
  const argv = kind === 'CMD-SHELL' ? ['sh', '-c', rest.join(' ')] : rest;
  assert.ok(kind === 'CMD' || kind === 'CMD-SHELL', `${name}: healthcheck ${kind}`);
  const r = spawnSync(argv[0]!, argv.slice(1), { cwd: hostPath(image, '.'), env: serviceEnv(name), encoding: 'utf8', timeout: seconds(hc.timeout, 30) * 1000 });
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}`.trim() };
}

async function healthy(name: string, proc: { child: ChildProcess; log: string[] }, timeoutMs = 90_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = healthcheck(name);
    if (r.ok) return r.out;
    assert.equal(proc.child.exitCode, null, `${name} exited (${proc.child.exitCode}) instead of running in the foreground:\n${proc.log.join('')}`);
    if (Date.now() > deadline) throw new Error(`${name} not healthy in ${timeoutMs / 1000}s; last check: ${r.out}\n${proc.log.join('')}`);
    await sleep(1000);
  }
}

function filesUnder(root: string, skipDir: (name: string) => boolean = () => false): string[] {
  const out: string[] = [];
  for (const e of readdirSync(root, { withFileTypes: true })) {
    const f = path.join(root, e.name);
    if (e.isDirectory()) {
      if (!skipDir(e.name)) out.push(...filesUnder(f, skipDir));
    } else out.push(f);
  }
  return out;
}

/** The machine's npm cache, linked (tarballs) and copied (index) into this test's: no download when it has them. */
function prefillNpmCache(): void {
  const machine = path.join(process.env.HOME ?? '/root', '.npm', '_cacache');
  const mine = path.join(dir, 'npm-cache', '_cacache');
  mkdirSync(path.dirname(mine), { recursive: true });
  if (!existsSync(machine)) return;
  mkdirSync(mine, { recursive: true });
  spawnSync('cp', ['-al', path.join(machine, 'content-v2'), mine]);
  spawnSync('cp', ['-r', path.join(machine, 'index-v5'), mine]);
}

before(async () => {
  if (skip) return;
  const instructions = parseDockerfile(readFileSync(path.join(PROJECT_ROOT, 'Dockerfile'), 'utf8'));
  const ignore = dockerignore(readFileSync(path.join(PROJECT_ROOT, '.dockerignore'), 'utf8'));
  prefillNpmCache();
  const t0 = Date.now();
  const stages = await carryOut({ instructions, context: PROJECT_ROOT, ignore, dir: path.join(dir, 'stages'), baseEnv: baseEnv(), log: (s) => steps.push(`${((Date.now() - t0) / 1000).toFixed(1)}s ${s}`) });
  image = stages[stages.length - 1]!;
  build = stages[0]!;
  const loaded = runComposeCheck(['-f', path.join(PROJECT_ROOT, 'docker-compose.yml'), '--json']);
  assert.equal(loaded.status, 0, loaded.out);
  services = (JSON.parse(loaded.stdout) as { services: Record<string, ComposeService> }).services;
  env = await startTemporal();
});

after(async () => {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  await env?.teardown();
});

test('the build context leaves out builds, dependencies, state, results, keys and tests', { skip }, () => {
  const ignore = dockerignore(readFileSync(path.join(PROJECT_ROOT, '.dockerignore'), 'utf8'));
  for (const p of ['dist', 'dist/client/cli.js', 'node_modules', 'core/node_modules/x', '.flask-eval/results.duckdb', 'results/results.duckdb',
    'x.duckdb', 'sub/x.duckdb.wal', '.env', 'deploy/.env.prod', 'keys.env', 'keys/openai', 'tests/unit/a.test.ts', 'bench/run-all.ts', 'docs/scaling-out.md', '.git/HEAD']) {
    assert.ok(ignore(p), `.dockerignore lets ${p} into the build context`);
  }
  for (const p of ['package.json', 'package-lock.json', 'tsconfig.json', 'scripts/build.mjs', 'core/paths.ts', 'client/cli.ts', 'data/prices.json', 'bin/flask-eval.js', 'core/report/html/app.js']) {
    assert.ok(!ignore(p), `.dockerignore leaves out ${p}, which the build needs`);
  }
});

test('the Dockerfile\'s steps build: the build stage compiles dist/, the image has production dependencies and no sources', { skip }, (t) => {
  t.diagnostic(steps.join('\n'));
  for (const i of parseDockerfile(readFileSync(path.join(PROJECT_ROOT, 'Dockerfile'), 'utf8'))) {
    if (i.op === 'FROM') assert.equal(/^node:(\d+)/.exec(i.image)?.[1], process.versions.node.split('.')[0], `the host runs ${i.image}'s Node major`);
  }
  assert.ok(existsSync(hostPath(build, 'dist/.build-stamp')), 'npm ci ran prepare (scripts/build.mjs) in the build stage');
  const app = hostPath(image, '.');
  for (const f of ['dist/client/cli.js', 'dist/workflow-bundle.js', 'dist/.build-stamp', 'bin/flask-eval.js', 'data/prices.json', 'core/report/html/template.html', 'package.json']) {
    assert.ok(existsSync(path.join(app, f)), `the image has ${f}`);
  }
  assert.ok(existsSync(path.join(app, 'node_modules', '@temporalio', 'worker')), 'production dependencies installed');
  assert.ok(!existsSync(path.join(app, 'node_modules', 'typescript')), 'no devDependencies in the image');
  const sources = filesUnder(app, (n) => n === 'node_modules').filter((f) => /\.ts$/.test(f));
  assert.deepEqual(sources, [], 'no TypeScript sources in the image');
  assert.ok(!existsSync(path.join(app, 'tests')) && !existsSync(path.join(app, 'client')), 'no tests, no source folders');
  assert.ok(lstatSync(path.join(app, 'node_modules')).isDirectory(), 'node_modules is the image\'s own');
  const version = spawnSync(image.entrypoint[0]!, [...image.entrypoint.slice(1), '--version'], { cwd: app, env: { ...baseEnv(), ...image.env }, encoding: 'utf8' });
  assert.equal(version.status, 0, version.stderr);
  assert.match(version.stdout, /\(compiled, dist\/\)/, 'bin/flask-eval.js runs dist/ where there are no sources');
});

test('the store, a worker and the cli run as compose runs them: healthchecks pass only when each does its job, a review lands through them, SIGTERM stops them cleanly', { skip, timeout: 600_000 }, async (t) => {
  assert.deepEqual(services.store!.command?.slice(0, 2), ['server', 'start']);

  // Before anything runs, neither healthcheck passes.
  const storeDown = healthcheck('store');
  assert.ok(!storeDown.ok, 'the store healthcheck passes with no store');
  assert.match(storeDown.out, /no state server answers/);
  const workerDown = healthcheck('worker');
  assert.ok(!workerDown.ok, 'the worker healthcheck passes with no worker');
  assert.match(workerDown.out, /no worker of this host .* polls flask-eval-ep-/);

  const store = start('store');
  t.diagnostic(`store healthy: ${await healthy('store', store)}`);
  await sleep(1500);
  assert.equal(store.child.exitCode, null, 'the store stays in the foreground');

  const worker = start('worker');
  t.diagnostic(`worker healthy: ${await healthy('worker', worker)}`);

  const review = await runCli(['review', '--model', 'gpt4', '--limit', String(LIMIT), '--run', RUN_ID, '--detach']);
  assert.equal(review.code, 0, review.out);
  assert.match(review.out, /Started workflow/);

  const sql = `SELECT count(*)::INT AS n, count(DISTINCT idx)::INT AS d, (count(*) FILTER (WHERE status = 'scored'))::INT AS scored FROM reviews WHERE run_id = '${RUN_ID}'`;
  let landed: { n: number; d: number; scored: number } | undefined;
  const deadline = Date.now() + 180_000;
  for (;;) {
    const q = await runCli(['query', '--format', 'json', sql], 60_000);
    assert.equal(q.code, 0, q.out);
    landed = (JSON.parse(q.out.slice(q.out.indexOf('['))) as Array<typeof landed>)[0];
    if (landed!.n >= LIMIT) break;
    assert.ok(Date.now() < deadline, `only ${landed!.n}/${LIMIT} reviews landed in 180 s\n--- store\n${store.log.join('')}\n--- worker\n${worker.log.join('')}`);
    await sleep(1000);
  }
  assert.deepEqual(landed, { n: LIMIT, d: LIMIT, scored: LIMIT }, 'every instance landed once, scored');

  // Who judged: every endpoint activity was started by the worker service (Temporal records the identity).
  const judgedBy = new Set<string>();
  for await (const w of env!.client.workflow.list()) {
    const history = await env!.client.workflow.getHandle(w.workflowId, w.runId).fetchHistory();
    const queueOf = new Map<string, string>();
    for (const e of history.events ?? []) {
      if (e.activityTaskScheduledEventAttributes) queueOf.set(String(e.eventId), e.activityTaskScheduledEventAttributes.taskQueue?.name ?? '');
      const started = e.activityTaskStartedEventAttributes;
      if (started && queueOf.get(String(started.scheduledEventId))?.includes('-ep-')) judgedBy.add(started.identity ?? '');
    }
  }
  // A worker's identity is pid@host, plus the concurrency it declares (core/rate/fleet.ts): the compose file gives it 8.
  assert.deepEqual([...judgedBy].map(identityBase), [`${worker.child.pid}@${hostname()}`], 'the worker service judged every chunk');
  assert.deepEqual([...judgedBy].map((i) => /c=(\d+)$/.exec(i)?.[1]), ['8'], 'it declares the compose file\'s --max-concurrency');

  // Results on the store's bind mount only; the worker's folder has none.
  const results = mountFor(services.store!.volumes!.find((v) => v.target === '/results')!.source);
  assert.ok(existsSync(path.join(results, 'results.duckdb')), 'results.duckdb is on the bind mount');
  assert.deepEqual(filesUnder(hostPath(image, '.'), (n) => n === 'node_modules').filter((f) => /\.duckdb/.test(f)), [], 'a DuckDB file in the image folder');

  // docker stop: SIGTERM, then SIGKILL after the grace period.
  store.child.kill('SIGTERM');
  const storeEnd = await exited(store.child, seconds(services.store!.stop_grace_period, 10) * 1000);
  assert.deepEqual(storeEnd, { code: 0, signal: null }, `the store stops cleanly on SIGTERM:\n${store.log.join('')}`);
  assert.match(store.log.join(''), /stopping: SIGTERM[\s\S]*stopped/);
  assert.ok(!existsSync(path.join(results, 'server.sock')), 'its socket is removed');
  assert.ok(!healthcheck('store').ok, 'the store healthcheck fails once it stopped');

  worker.child.kill('SIGTERM');
  const workerEnd = await exited(worker.child, seconds(services.worker!.stop_grace_period, 10) * 1000);
  assert.deepEqual(workerEnd, { code: 0, signal: null }, `the worker stops cleanly on SIGTERM:\n${worker.log.join('')}`);
});
