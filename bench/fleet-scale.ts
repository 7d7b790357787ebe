/**
 * Does adding workers add throughput? One run per fleet size: N reviews against the offline judge
 * with a fixed latency, each worker a `flask-eval worker` process of its own (--max-concurrency C),
 * the store role (workflows + DuckDB) in this process. Ideal = workers x C / latency; the table
 * says how close each fleet came.
 *
 *   npx tsx bench/fleet-scale.ts [--reviews 600] [--latency-ms 1000] [--concurrency 8] [--workers 1,2,4,8] [--chunk-size N] [--adaptive]
 *
 * --adaptive: the workers get no --max-concurrency, so their limiter starts at 1 call and grows on
 * success; the run's --max-concurrency (C) still sizes the chunks.
 *
 * Run `npm run build` first: the workers start from dist/ (tsx would cost each one seconds of CPU).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
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
import { startOrAttach } from '../client/runs.js';
import { defaultChunkSize } from '../client/flags.js';
import { startOfflineServer } from '../simulator/server.js';
import type { Database } from '../core/store/database.js';
import { runBench, startTemporal, tempDb } from './common.js';

const { values: v } = parseArgs({
  options: {
    reviews: { type: 'string', default: '600' }, 'latency-ms': { type: 'string', default: '1000' }, concurrency: { type: 'string', default: '8' },
    workers: { type: 'string', default: '1,2,4,8' }, 'chunk-size': { type: 'string' },
    // Workers without --max-concurrency: their limiter starts at 1 call and grows on success (core/rate).
    adaptive: { type: 'boolean', default: false },
  },
});
const N = Number(v.reviews);
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

runBench(async (cleanups) => {
  const tmp = tempDb('fleet');
  cleanups.push(() => tmp.remove());
  const env = await startTemporal();
  cleanups.push(() => env.teardown());
  const server = await startOfflineServer({ seed: 5, latencyMs: LATENCY });
  cleanups.push(() => server.close());
  const base = loadEvalSet(DATA_FILES.evalSet);
  const instances = Array.from({ length: N }, (_, k) => ({ ...base[k % base.length]!, idx: k + 1 }));
  const answers = new Map<number, string>();
  log(`fleet-scale: ${N} reviews, judge latency ${LATENCY} ms, ${v.adaptive ? `adaptive workers (run --max-concurrency ${C})` : `--max-concurrency ${C} per worker`}, fleets ${FLEETS.join('/')}, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  log('| workers | seconds | reviews/s | ideal/s | of ideal | reviews landed (distinct) | load (1 min) after |');
  log('|---:|---:|---:|---:|---:|---:|---:|');
  for (const W of FLEETS) {
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
    const t0 = Date.now();
    const { handle } = await startOrAttach(env.client, {
      runId, steps: ['review'], controlQueue: queue, judge, judgeSettings: { temperature: 0.2, maxTokens: 1024, maxParseAttempts: 3 },
      chunkSize: v['chunk-size'] ? Number(v['chunk-size']) : defaultChunkSize(C), concurrency: C, batchSize: 1000, maxAttempts: 8, shuffleSeed: 0,
    });
    const result = await handle.result();
    const s = (Date.now() - t0) / 1000;
    const [row] = await tmp.db.read((sql) => sql.all(`SELECT count(*)::INT AS n, count(DISTINCT idx)::INT AS d FROM reviews WHERE run_id = '${runId}'`));
    const rate = result.done / s;
    const ideal = (W * C * 1000) / LATENCY;
    log(`| ${W} | ${s.toFixed(1)} | ${rate.toFixed(1)} | ${ideal.toFixed(0)} | ${(rate / ideal).toFixed(2)} | ${row!.n} (${row!.d}) | ${loadavg()[0]!.toFixed(1)} |`);
    await stopFleet();
    cleanups.pop();
  }
});
