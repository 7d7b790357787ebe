/**
 * Does adding workers add throughput? One run per fleet size: N reviews against the offline judge
 * with a fixed latency, each worker a `flask-eval worker` process of its own (--max-concurrency C),
 * the store role (workflows + DuckDB) in this process. Ideal = workers x C / latency; the table
 * says how close each fleet came.
 *
 *   npx tsx bench/fleet-scale.ts [--reviews 600] [--latency-ms 1000] [--concurrency 8] [--workers 1,2,4,8] [--chunk-size N] [--adaptive]
 *                                [--cluster | --temporal-address HOST:PORT] [--reviews-for 8=2000] [--trace]
 *
 * Temporal: the dev server by default; --cluster starts a cluster of its own (scripts/cluster.sh up
 * in a temporary state folder: PostgreSQL + the real Temporal server, deleted at the end);
 * --temporal-address uses one already running (namespace default).
 * --reviews-for W=N,...: N reviews for a fleet of W workers (e.g. more for 8, to amortise the start).
 * --trace: a line a second while a fleet runs: judge calls answered in that second, the endpoint
 * chunks the batch has running per worker and queued, the live workers Temporal lists, and how
 * busy the machine's CPUs were (all processes, not only the bench's).
 *
 * --adaptive: the workers get no --max-concurrency, so their limiter starts at 1 call and grows on
 * success; the run's --max-concurrency (C) still sizes the chunks.
 *
 * Run `npm run build` first: the workers start from dist/ (tsx would cost each one seconds of CPU).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadEvalSet, type EvalInstance } from '../core/flask/dataset.js';
import { DATA_FILES, PROJECT_ROOT } from '../core/paths.js';
import { createOrMatchRun } from '../core/store/runs.js';
import { landInstances, landResponses } from '../core/store/instances.js';
import { startStoreRole } from '../worker/storeWorker.js';
import { describeEndpointQueue } from '../worker/endpointWorker.js';
import { endpointRef } from '../core/provider/endpoint.js';
import { livePollerCount } from '../core/rate/fleet.js';
import { startOrAttach, type RunHandle } from '../client/runs.js';
import { runStatusQuery } from '../workflows/index.js';
import { defaultChunkSize } from '../client/flags.js';
import { startOfflineServer } from '../simulator/server.js';
import type { Database } from '../core/store/database.js';
import { benchTemporal, runBench, tempDb, type BenchTemporal } from './common.js';

const { values: v } = parseArgs({
  options: {
    reviews: { type: 'string', default: '600' }, 'latency-ms': { type: 'string', default: '1000' }, concurrency: { type: 'string', default: '8' },
    workers: { type: 'string', default: '1,2,4,8' }, 'chunk-size': { type: 'string' },
    // Workers without --max-concurrency: their limiter starts at 1 call and grows on success (core/rate).
    adaptive: { type: 'boolean', default: false },
    cluster: { type: 'boolean', default: false }, trace: { type: 'boolean', default: false }, 'temporal-address': { type: 'string' }, 'reviews-for': { type: 'string', default: '' },
  },
});
const N = Number(v.reviews);
const REVIEWS_FOR = new Map(v['reviews-for']!.split(',').filter(Boolean).map((kv) => kv.split('=').map(Number) as [number, number]));
const reviewsFor = (workers: number) => REVIEWS_FOR.get(workers) ?? N;
const LATENCY = Number(v['latency-ms']);
const C = Number(v.concurrency);
const FLEETS = v.workers!.split(',').map(Number);
const log = (s: string) => process.stdout.write(`${s}\n`);

/** `flask-eval worker --role judge` processes of the fleet, each ready when it polls. */
async function startFleet(n: number, env: NodeJS.ProcessEnv): Promise<ChildProcess[]> {
  return Promise.all(Array.from({ length: n }, () => new Promise<ChildProcess>((resolve, reject) => {
    const cap = v.adaptive ? [] : ['--max-concurrency', String(C)];
    const p = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'flask-eval.js'), 'worker', '--role', 'judge', ...cap], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const seen = (d: Buffer) => {
      out += d.toString();
      if (/worker ready/.test(out)) resolve(p);
    };
    p.stdout!.on('data', seen);
    p.stderr!.on('data', seen);
    p.once('exit', (code) => reject(new Error(`worker exited (${code}) before it was ready:\n${out}`)));
  })));
}

async function landReviewRun(db: Database, runId: string, instances: EvalInstance[], answers: Map<number, string>): Promise<void> {
  await db.run(async (sql) => {
    await createOrMatchRun(sql, {
      runId, kind: 'review', simulated: true, datasetPath: null, datasetSha256: null, answersPath: null, answersSha256: null,
      modelId: 'gpt4', modelEndpoint: null, modelSettings: null, judgeModel: 'flask-offline-judge', judgeEndpoint: 'offline',
      judgeSettings: { temperature: 0.2, maxTokens: 1024, maxParseAttempts: 3 }, promptTemplateSha256: null, projectVersion: 'bench', summary: {},
    });
    await landInstances(sql, runId, instances);
    await landResponses(sql, runId, instances.map((i) => ({ idx: i.idx, modelId: 'gpt4', text: answers.get(i.idx) ?? 'an answer', source: 'imported' as const })));
  });
}

/** --trace: each second, what the fleet is doing (see the header). Stops when `done` resolves. */
async function traceFleet(env: BenchTemporal, handle: RunHandle, judgeQueue: string, calls: () => number, done: Promise<unknown>): Promise<void> {
  let finished = false;
  void done.finally(() => (finished = true));
  const t0 = Date.now();
  let lastCalls = calls();
  const cpuTimes = () => cpus().reduce((a, c) => ({ idle: a.idle + c.times.idle, total: a.total + Object.values(c.times).reduce((x, y) => x + y, 0) }), { idle: 0, total: 0 });
  let lastCpu = cpuTimes();
  while (!finished) {
    await new Promise((r) => setTimeout(r, 1000));
    try {
      const perWorker = new Map<string, number>();
      let queued = 0;
      for (const id of (await handle.query(runStatusQuery)).runningBatches) {
        for (const a of (await env.client.workflow.getHandle(id).describe()).raw.pendingActivities ?? []) {
          if (!/^call/i.test(a.activityType?.name ?? '')) continue;
          if (a.state === 2 && a.lastWorkerIdentity) perWorker.set(a.lastWorkerIdentity, (perWorker.get(a.lastWorkerIdentity) ?? 0) + 1);
          else queued++;
        }
      }
      const live = livePollerCount(await describeEndpointQueue(env.client.workflowService, 'default', judgeQueue));
      const now = calls();
      const cpu = cpuTimes();
      const busy = 1 - (cpu.idle - lastCpu.idle) / Math.max(1, cpu.total - lastCpu.total);
      log(`  [${((Date.now() - t0) / 1000).toFixed(0).padStart(3)} s] calls ${String(now - lastCalls).padStart(3)}/s, chunks running per worker [${[...perWorker.values()].sort().join(' ')}], queued ${queued}, live workers ${live}, CPU ${(100 * busy).toFixed(0)}% busy`);
      lastCalls = now;
      lastCpu = cpu;
    } catch {
      // the batch is starting or ending
    }
  }
}

/** --trace, at the end of a fleet's run: where its first batch spent the start and the end (from its history). */
async function traceBatchEnds(env: BenchTemporal, handle: RunHandle, t0: number): Promise<void> {
  const history = await env.client.workflow.getHandle(`${handle.workflowId}-batch-0`).fetchHistory();
  const at = (e: { eventTime?: { seconds?: unknown; nanos?: number | null } | null }) => Number(String(e.eventTime?.seconds ?? 0)) * 1000 + Math.floor((e.eventTime?.nanos ?? 0) / 1e6);
  const types = new Map<string, string>();
  const firsts = new Map<string, number>();
  let lastCallDone = 0;
  let end = 0;
  for (const e of history.events ?? []) {
    const id = String(e.eventId);
    if (e.activityTaskScheduledEventAttributes) types.set(id, e.activityTaskScheduledEventAttributes.activityType?.name ?? '?');
    const started = e.activityTaskStartedEventAttributes;
    if (started) {
      const type = types.get(String(started.scheduledEventId)) ?? '?';
      if (!firsts.has(type)) firsts.set(type, at(e) - t0);
    }
    const completed = e.activityTaskCompletedEventAttributes;
    if (completed && /^call/i.test(types.get(String(completed.scheduledEventId)) ?? '')) lastCallDone = at(e);
    end = at(e);
  }
  log(`  batch-0: first start of each activity after the run started: ${[...firsts].map(([k, ms]) => `${k} ${(ms / 1000).toFixed(1)} s`).join(', ')}; ` +
    `last call chunk done ${((end - lastCallDone) / 1000).toFixed(1)} s before the batch's last event`);
}

runBench(async (cleanups) => {
  const tmp = tempDb('fleet');
  cleanups.push(() => tmp.remove());
  if (v.cluster && v['temporal-address']) throw new Error('--cluster starts a cluster of its own: give it or --temporal-address, not both');
  const env = await benchTemporal({ cluster: v.cluster, ...(v['temporal-address'] ? { address: v['temporal-address'] } : {}) });
  cleanups.push(() => env.teardown());
  const server = await startOfflineServer({ seed: 5, latencyMs: LATENCY });
  cleanups.push(() => server.close());
  const base = loadEvalSet(DATA_FILES.evalSet);
  const answers = new Map<number, string>();
  log(`Temporal: ${env.label}`);
  log(`fleet-scale: ${FLEETS.map((w) => `${reviewsFor(w)}`).join('/')} reviews, judge latency ${LATENCY} ms, ${v.adaptive ? `adaptive workers (run --max-concurrency ${C})` : `--max-concurrency ${C} per worker`}, fleets ${FLEETS.join('/')}, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  log('| workers | reviews | seconds | reviews/s | ideal/s | of ideal | reviews landed (distinct) | load (1 min) before / after |');
  log('|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const W of FLEETS) {
    const instances = Array.from({ length: reviewsFor(W) }, (_, k) => ({ ...base[k % base.length]!, idx: k + 1 }));
    const queue = `bench-fleet-${process.pid}-${W}`;
    const judge = endpointRef(server.url, 'flask-offline-judge', queue);
    const store = await startStoreRole({ connection: env.nativeConnection, namespace: 'default', controlQueue: queue, db: tmp.db });
    const workers = await startFleet(W, {
      ...process.env, TEMPORAL_ADDRESS: env.address, FLASK_TASK_QUEUE: queue, OPENAI_BASE_URL: server.url, OPENAI_API_KEY: 'bench-key', FLASK_JUDGE_MODEL: 'flask-offline-judge',
    });
    const stopFleet = async () => {
      await Promise.all(workers.filter((p) => p.exitCode === null).map((p) => new Promise((r) => { p.once('exit', r); p.kill('SIGTERM'); })));
      await store.shutdown();
    };
    cleanups.push(stopFleet);
    // Every worker polls before the run starts (the batch counts them once at its start).
    for (let i = 0; livePollerCount(await describeEndpointQueue(env.client.workflowService, 'default', judge.queue)) < W; i++) {
      if (i > 1200) throw new Error(`only ${livePollerCount(await describeEndpointQueue(env.client.workflowService, 'default', judge.queue))} of ${W} workers poll ${judge.queue}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const runId = `fleet-${W}`;
    await landReviewRun(tmp.db, runId, instances, answers);
    const loadBefore = loadavg()[0]!;
    const t0 = Date.now();
    const { handle } = await startOrAttach(env.client, {
      runId, steps: ['review'], controlQueue: queue, judge, judgeSettings: { temperature: 0.2, maxTokens: 1024, maxParseAttempts: 3 },
      chunkSize: v['chunk-size'] ? Number(v['chunk-size']) : defaultChunkSize(C), concurrency: C, batchSize: 1000, maxAttempts: 8, shuffleSeed: 0,
    });
    const done = handle.result();
    if (v.trace) void traceFleet(env, handle, judge.queue, () => server.stats().requests, done);
    const result = await done;
    if (v.trace) await traceBatchEnds(env, handle, t0);
    const s = (Date.now() - t0) / 1000;
    const [row] = await tmp.db.read((sql) => sql.all(`SELECT count(*)::INT AS n, count(DISTINCT idx)::INT AS d FROM reviews WHERE run_id = '${runId}'`));
    const rate = result.done / s;
    const ideal = (W * C * 1000) / LATENCY;
    log(`| ${W} | ${instances.length} | ${s.toFixed(1)} | ${rate.toFixed(1)} | ${ideal.toFixed(0)} | ${(rate / ideal).toFixed(2)} | ${row!.n} (${row!.d}) | ${loadBefore.toFixed(1)} / ${loadavg()[0]!.toFixed(1)} |`);
    await stopFleet();
    cleanups.pop();
  }
});
