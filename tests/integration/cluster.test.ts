// The production-shaped cluster (scripts/cluster.sh: PostgreSQL + the real Temporal server, on
// loopback) under faults. Skipped unless FLASK_CLUSTER_TESTS=1 or the cluster binaries are built
// (scripts/cluster.sh build), so the suite stays fast where they are not.
//
// 1. The script: `up` is idempotent, `status` answers, `down` stops everything it started.
// 2. A probe workflow (scripts/cluster/probeWorkflow.ts) started before the faults completes exactly
//    once while the Temporal server is SIGKILLed and restarted and PostgreSQL is restarted.
// 3. The full flask-eval scenario (README, "Scaling out"): a store process, three worker processes
//    started from a compiled copy of the app without data/ (tests/helpers/compiledCopy.ts), each in
//    an empty folder of its own, so they see neither the results file nor data/ (one SIGKILLed
//    mid-run, one started late), the store SIGKILLed and restarted, the Temporal server SIGKILLed and
//    restarted, PostgreSQL restarted; every instance lands exactly once.
// Throughput on the cluster is measured by `bench/fleet-scale.ts --cluster` (bench/README.md), not here.
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { PROJECT_ROOT } from '../../core/paths.js';
import { installQuietRuntime } from '../../client/session.js';
import { sleep, waitFor } from '../helpers/harness.js';
import { appCli, compiledCopyWithoutData, dataOrResultsIn } from '../helpers/compiledCopy.js';
import { LocalCluster } from '../../scripts/cluster/localCluster.js';

const run = promisify(execFile);
const SCRIPT = LocalCluster.script;
const FLASK = path.join(PROJECT_ROOT, 'bin', 'flask-eval.js');
const PROBE_WORKFLOWS = path.join(PROJECT_ROOT, 'scripts', 'cluster', 'probeWorkflow.ts');

/** Where scripts/cluster/versions.sh puts the pinned binaries. */
function clusterBinaries(): { server: string; sqlTool: string } {
  const r = spawnSync('bash', ['-c', `. "${PROJECT_ROOT}/scripts/cluster/versions.sh"; echo "$TEMPORAL_SERVER_BIN"; echo "$TEMPORAL_SQL_TOOL_BIN"`], { encoding: 'utf8' });
  const [server, sqlTool] = r.stdout.trim().split('\n');
  return { server: server!, sqlTool: sqlTool! };
}
const bins = clusterBinaries();
const built = existsSync(bins.server) && existsSync(bins.sqlTool);
const skip = process.env.FLASK_CLUSTER_TESTS === '1' || built
  ? false
  : 'cluster binaries not built (scripts/cluster.sh build) and FLASK_CLUSTER_TESTS is not 1';

// ------------------------------------------------------------------ harness

/** Running, not merely unreaped: here PID 1 reaps orphaned daemons lazily, so a stopped server can
 *  linger as a zombie that `kill -0` still finds. */
function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try { return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z'; } catch { return false; }
}

/** Client calls fail while the server is down; retry them until it is back (bounded). */
async function retrying<T>(what: string, f: () => Promise<T>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try { return await f(); } catch (e) {
      if (Date.now() > deadline) throw new Error(`${what}: ${(e as Error).message}`, { cause: e });
      await sleep(500);
    }
  }
}

// ------------------------------------------------------------------ the cluster, shared by the tests

let cluster: LocalCluster | undefined;
let upOutput = '';
let upSeconds = 0;
/** The workers' app: compiled while the cluster starts, awaited by the full scenario. */
let workerApp: Promise<string> | undefined;

before(async () => {
  if (skip) return;
  installQuietRuntime();
  workerApp = compiledCopyWithoutData('cluster-worker-app');
  workerApp.catch(() => undefined); // awaited (and reported) by the test that needs it
  cluster = await LocalCluster.create();
  const t0 = Date.now();
  upOutput = await cluster.up();
  upSeconds = (Date.now() - t0) / 1000;
});

after(async () => {
  await cluster?.down().catch(() => undefined);
});

test('cluster.sh up starts PostgreSQL and the Temporal server on loopback, prints versions; a second up changes nothing', { skip }, async (t) => {
  const c = cluster!;
  t.diagnostic(`first up: ${upSeconds.toFixed(1)} s\n${upOutput.trim()}`);
  assert.match(upOutput, /versions: temporal-server \S+ \(go\.temporal\.io\/server v\d+\.\d+\.\d+\), postgresql \d+/);
  assert.match(upOutput, /schema: temporal \d+\.\d+, temporal_visibility \d+\.\d+/);
  assert.match(c.address, /^127\.0\.0\.1:\d+$/);
  const temporalPid = c.pid('temporal');
  const pgPid = c.pid('postgres');
  assert.ok(alive(temporalPid) && alive(pgPid), 'both processes run');

  const again = await c.sh('up');
  assert.doesNotMatch(again, /temporal-server started|postgresql started|namespace default created/, again);
  assert.equal(c.pid('temporal'), temporalPid);
  assert.equal(c.pid('postgres'), pgPid);
  assert.match(await c.sh('status'), /temporal: SERVING at 127\.0\.0\.1:\d+/);

  // Nothing listens beyond loopback: the frontend answers on 127.0.0.1 and the config binds only there.
  const config = readFileSync(path.join(c.dir, 'temporal', 'config.yaml'), 'utf8');
  assert.doesNotMatch(config, /0\.0\.0\.0/);
  assert.match(readFileSync(path.join(c.dir, 'pg', 'postgresql.conf'), 'utf8'), /listen_addresses = '127\.0\.0\.1'/);
});

test('a workflow started before the faults completes exactly once: Temporal SIGKILLed and restarted, PostgreSQL restarted', { skip }, async (t) => {
  const c = cluster!;
  const steps = 14;
  const taskQueue = `cluster-probe-${process.pid}`;
  const workflowId = `cluster-probe-${process.pid}-${Date.now()}`;
  const executions = new Map<number, number>();
  const landed = new Set<number>();

  const connection = await Connection.connect({ address: c.address });
  const client = new Client({ connection, namespace: 'default' });
  const worker = await Worker.create({
    connection: await NativeConnection.connect({ address: c.address }),
    namespace: 'default', taskQueue, workflowsPath: PROBE_WORKFLOWS,
    activities: {
      async land(step: number): Promise<number> {
        executions.set(step, (executions.get(step) ?? 0) + 1);
        landed.add(step); // idempotent by step, as the store's landing is by (run, idx, step)
        return step;
      },
    },
  });
  const running = worker.run();
  try {
    const handle = await client.workflow.start('clusterProbe', { args: [steps, 400], taskQueue, workflowId });
    await waitFor('3 steps before the first fault', async () => landed.size >= 3, 60_000);

    const killed = c.pid('temporal');
    const tKill = await c.fault('kill', 'temporal');
    assert.ok(!alive(killed), 'the Temporal server process is gone');
    const atKill = landed.size;
    await sleep(1500);
    const tStart = await c.fault('start', 'temporal');
    t.diagnostic(`temporal SIGKILLed at step ${atKill}/${steps} (${tKill.toFixed(1)} s), restarted healthy in ${tStart.toFixed(1)} s`);

    await waitFor('progress after the server restart', async () => landed.size >= atKill + 3, 120_000);
    const atPg = landed.size;
    const tPg = await c.fault('restart', 'postgres');
    t.diagnostic(`postgresql restarted at step ${atPg}/${steps} in ${tPg.toFixed(1)} s`);

    const result = await retrying('workflow result', () => handle.result(), 180_000);
    assert.deepEqual(result, Array.from({ length: steps }, (_, i) => i));
    assert.equal(landed.size, steps);
    const desc = await retrying('describe', () => handle.describe());
    assert.equal(desc.status.name, 'COMPLETED');
    // Exactly one execution of the workflow, in visibility too (PostgreSQL-backed).
    await waitFor('visibility to list the run', async () => {
      const runs: string[] = [];
      for await (const w of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) runs.push(`${w.runId}:${w.status.name}`);
      return runs.length === 1 && runs[0]!.endsWith(':COMPLETED');
    }, 30_000);
    const reexecuted = [...executions.values()].filter((n) => n > 1).length;
    t.diagnostic(`${steps} steps landed once each; activities executed ${[...executions.values()].reduce((a, b) => a + b, 0)} times (${reexecuted} steps re-executed after a fault)`);
  } finally {
    worker.shutdown();
    await running.catch(() => undefined);
    await connection.close();
  }
});

// ------------------------------------------------------------------ the full scenario (store role)

const fullSkip = skip;

interface Proc { name: string; child: ChildProcess; log: string[] }

/** Calls in flight per worker, and the run's --max-concurrency (the same value, as docs/scaling-out.md
 *  says): chunks of 6-10 instead of 96, so reviews land a few at a time and each fault hits the run
 *  where it is meant to (with the default 64, a chunk of 96 landed at once and the last fault came
 *  after the last review). */
const WORKER_CONCURRENCY = 4;

async function sigkill(p: Proc): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  const gone = new Promise((r) => p.child.once('exit', r));
  p.child.kill('SIGKILL');
  await gone;
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const f = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(f)); else out.push(f);
  }
  return out;
}

/** flask-eval's processes on the cluster, as the README places them: one store with the state folder,
 *  workers started from `workerCli` (the compiled app without data/), each in an empty folder of its
 *  own (no results file, no data/, no dataset path to agree on), the CLI talking to the store; the
 *  judge is the offline server of this test process, over HTTP. */
class Fleet {
  readonly stateDir = mkdtempSync(path.join(tmpdir(), 'flask-cluster-store-'));
  readonly workerDirs: string[] = [];
  readonly procs: Proc[] = [];
  readonly env: NodeJS.ProcessEnv;
  readonly storeEnv: NodeJS.ProcessEnv;
  readonly endpoint: string[];

  constructor(address: string, judgeUrl: string, readonly runId: string, readonly workerCli: string) {
    // No key, base URL or state folder from the shell: every process gets exactly what its role needs.
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/API_KEY|BASE_URL|^FLASK_|^TEMPORAL_/.test(k)));
    this.env = { ...base, TEMPORAL_ADDRESS: address, FLASK_TASK_QUEUE: `flask-${runId}` };
    this.storeEnv = { ...this.env, FLASK_STATE_DIR: this.stateDir };
    this.endpoint = ['--judge-base-url', judgeUrl, '--judge-api-key', 'x', '--judge-model', 'flask-offline-judge'];
  }

  private spawn(name: string, cli: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Proc {
    const child = spawn(process.execPath, [cli, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const log: string[] = [];
    const keep = (d: Buffer) => { log.push(d.toString()); if (log.length > 200) log.shift(); if (process.env.DEBUG_CLUSTER) process.stderr.write(`[${name}] ${d}`); };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    const p = { name, child, log };
    this.procs.push(p);
    return p;
  }

  /** In the foreground (as systemd or a container runs it): the process is the store itself, so
   *  SIGKILL hits the store (`server start` alone hands over to a detached daemon and exits). */
  startStore(name = 'store'): Proc {
    return this.spawn(name, FLASK, ['server', 'start', '--foreground'], this.stateDir, this.storeEnv);
  }

  startWorker(name: string, concurrency = WORKER_CONCURRENCY): Proc {
    const dir = mkdtempSync(path.join(tmpdir(), `flask-cluster-${name}-`));
    this.workerDirs.push(dir);
    return this.spawn(name, this.workerCli, ['worker', ...this.endpoint, '--judge-concurrency', String(concurrency)], dir, this.env);
  }

  async review(limit: number): Promise<void> {
    await run(process.execPath, [FLASK, 'review', '--model', 'gpt4', '--limit', String(limit), '--run', this.runId, '--max-concurrency', String(WORKER_CONCURRENCY), '--detach', ...this.endpoint],
      { cwd: this.stateDir, env: this.storeEnv, timeout: 300_000 });
  }

  /** Rows through `flask-eval query` (the store's socket while it runs, the file when it does not). */
  async query<T>(sql: string): Promise<T[] | undefined> {
    try {
      const r = await run(process.execPath, [FLASK, 'query', '--format', 'json', sql], { cwd: this.stateDir, env: this.storeEnv, timeout: 60_000 });
      return JSON.parse(r.stdout) as T[];
    } catch {
      return undefined; // the store is restarting: ask again
    }
  }

  async landed(): Promise<{ n: number; distinct: number }> {
    const rows = await this.query<{ n: number; distinct: number }>(
      `SELECT count(*)::INT AS n, count(DISTINCT idx)::INT AS distinct FROM reviews WHERE run_id = '${this.runId}'`);
    return rows?.[0] ?? { n: -1, distinct: -1 };
  }

  until(n: number, timeoutMs = 300_000): Promise<void> {
    return waitFor(`${n} reviews landed`, async () => (await this.landed()).n >= n, timeoutMs);
  }

  /** HTTP attempts by outcome (the `calls` table), for the closing note. */
  async callsByOutcome(): Promise<string> {
    const rows = await this.query<{ outcome: string; n: number }>(
      `SELECT outcome, count(*)::INT AS n FROM calls WHERE run_id = '${this.runId}' GROUP BY outcome ORDER BY outcome`);
    return rows ? rows.map((r) => `${r.outcome} ${r.n}`).join(', ') : 'calls table not readable';
  }

  async stop(): Promise<void> {
    for (const p of this.procs) await sigkill(p);
    if (process.env.DEBUG_CLUSTER) for (const p of this.procs) process.stderr.write(`--- ${p.name}\n${p.log.join('')}\n`);
  }
}

test('full scenario: 300 instances, 3 workers from an app without data/ in their own folders (one SIGKILLed, one late), store, Temporal and PostgreSQL faults; each instance lands exactly once', { skip: fullSkip }, async (t: TestContext) => {
  const c = cluster!;
  const app = await workerApp!;
  assert.deepEqual(dataOrResultsIn(app), [], 'the workers\' app has no data/ and no results file');
  const { startOfflineServer } = await import('../../simulator/server.js');
  const judge = await startOfflineServer({ seed: 11, latencyMs: 1000 });
  const limit = 300;
  const fleet = new Fleet(c.address, judge.url, `cluster-${process.pid}`, appCli(app));
  try {
    fleet.startStore();
    const w1 = fleet.startWorker('worker-1');
    fleet.startWorker('worker-2');
    const t0 = Date.now();
    await fleet.review(limit);

    await fleet.until(40);
    await sigkill(w1);
    assert.equal(w1.child.signalCode, 'SIGKILL', 'worker-1 was running when it was killed');
    t.diagnostic(`worker-1 SIGKILLed at ${(await fleet.landed()).n}/${limit}`);
    await fleet.until(80);
    fleet.startWorker('worker-3');
    t.diagnostic(`worker-3 started late at ${(await fleet.landed()).n}/${limit}`);

    await fleet.until(120);
    const atStore = (await fleet.landed()).n;
    const store = fleet.procs.find((p) => p.name === 'store')!;
    await sigkill(store);
    assert.equal(store.child.signalCode, 'SIGKILL', `the store was running when it was killed:\n${store.log.join('')}`);
    await sleep(3000);
    fleet.startStore('store-2');
    t.diagnostic(`store SIGKILLed at ${atStore}/${limit}, restarted after 3 s`);

    await fleet.until(170);
    const atTemporal = (await fleet.landed()).n;
    await c.fault('kill', 'temporal');
    await sleep(1500);
    const tStart = await c.fault('start', 'temporal');
    t.diagnostic(`temporal SIGKILLed at ${atTemporal}/${limit}, healthy again in ${tStart.toFixed(1)} s`);

    await fleet.until(220);
    const atPg = (await fleet.landed()).n;
    const tPg = await c.fault('restart', 'postgres');
    t.diagnostic(`postgresql restarted at ${atPg}/${limit} in ${tPg.toFixed(1)} s`);

    await fleet.until(limit, 600_000);
    const final = await fleet.landed();
    t.diagnostic(`all ${limit} landed in ${((Date.now() - t0) / 1000).toFixed(1)} s; calls: ${await fleet.callsByOutcome()}`);
    assert.deepEqual(final, { n: limit, distinct: limit }, 'every instance landed exactly once');

    // The worker hosts never saw (or made) a results file or data/, and never missed them.
    assert.deepEqual(dataOrResultsIn(app), [], 'the workers\' app still has no data/ and no results file');
    for (const dir of fleet.workerDirs) {
      assert.deepEqual(filesUnder(dir).filter((f) => /\.duckdb|(^|\/)data\//.test(path.relative(dir, f))), [], `a worker folder holds a DuckDB file or data/: ${dir}`);
    }
    for (const w of fleet.procs.filter((p) => p.name.startsWith('worker'))) {
      assert.doesNotMatch(w.log.join(''), /ENOENT|cannot render/, `${w.name}:\n${w.log.join('')}`);
    }
    assert.ok(filesUnder(fleet.stateDir).some((f) => /\.duckdb$/.test(f)), 'the store folder holds the results file');
  } finally {
    await fleet.stop();
    await judge.close();
  }
});

test('cluster.sh down stops everything it started', { skip }, async () => {
  const c = cluster!;
  const temporalPid = c.pid('temporal');
  const pgPid = c.pid('postgres');
  await c.down(false);
  assert.ok(!alive(temporalPid), 'temporal-server stopped');
  assert.ok(!alive(pgPid), 'postgres stopped');
  const status = spawnSync('bash', [SCRIPT, 'status'], { env: c.env, encoding: 'utf8' });
  assert.notEqual(status.status, 0);
  assert.match(status.stdout, /postgresql: stopped/);
  assert.match(status.stdout, /temporal: stopped/);
});
