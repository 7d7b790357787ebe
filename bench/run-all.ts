/**
 * `npm run bench`: the project and the ideal baseline client (bench/baselineClient.ts) on the same
 * offline judge, one scenario after the other in one session (bench/scenarios.ts):
 *
 *   npm run bench -- [--quick] [--only NAME[,NAME...]] [--cold] [--flags auto|today|next] [--skip-baseline] [--skip-project] [--keep] [--limiter-baseline]
 *
 * The project's state server is started before each timed command (`flask-eval server start`, its
 * start-up printed apart), as a user does before a series of runs; --cold times the command
 * starting it itself (a fresh dev server included).
 *
 * --limiter-baseline: the baseline calls through core/rate's limiter (the scenario's RPM/TPM limit
 * given to it when the project gets one, else adaptive) with 64 in flight: the limiter measured on
 * its own, without the rest of the project.
 *
 * Per scenario it starts a fresh offline server in this process (127.0.0.1, random port) for each
 * side, runs the baseline in-process, then spawns the project's CLI (`node bin/flask-eval.js review
 * ...`) with a temp FLASK_STATE_DIR and its own Temporal port, timed from spawn to exit. It prints
 * reviews/s, the ratio to the baseline or to the limit, the 429 share (from the offline server's
 * onRequest events), the peak RSS of the project's process tree (/proc, every 200 ms) and the load
 * average. The judge's scores are SIMULATED: this measures the pipeline, not a model.
 */
import { execSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startOfflineServer, OFFLINE_MODEL_ID, type OfflineRequestEvent, type OfflineServer } from '../simulator/server.js';
import { PROJECT_ROOT } from '../core/paths.js';
import { runBaseline, type BaselineResult } from './baselineClient.js';
import { runProject, stopActiveRuns, type ProjectRunResult } from './projectRun.js';
import { SCENARIOS, type Scenario } from './scenarios.js';
import { writeSyntheticSet } from './syntheticSet.js';
import { createEndpointLimiter } from '../core/rate/index.js';

const { values: v } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    flags: { type: 'string', default: 'auto' },
    'skip-baseline': { type: 'boolean', default: false },
    'skip-project': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    'limiter-baseline': { type: 'boolean', default: false },
    cold: { type: 'boolean', default: false },
  },
});

const MiB = 1024 * 1024;
const fmt = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : '-');
const pct = (a: number, b: number) => (b > 0 ? `${((100 * a) / b).toFixed(1)}%` : '-');
const load = () => os.loadavg()[0]!;
const log = (s = '') => console.log(s);

/** What the offline server saw during one side's run. */
interface Traffic {
  requests: number;
  s429: number;
  s5xx: number;
  first: number;
  last: number;
  /** requests admitted (not 429) in the busiest sliding 60 s */
  busiestRequests60: number;
  /** tokens used (prompt + completion of 200s) in the busiest sliding 60 s */
  busiestTokens60: number;
  tokens: number;
}

function traffic(events: OfflineRequestEvent[]): Traffic {
  const admitted = events.filter((e) => e.status !== 429).sort((a, b) => a.at - b.at);
  let busiestRequests60 = 0;
  let busiestTokens60 = 0;
  let j = 0;
  let sum = 0;
  const tok = (e: OfflineRequestEvent) => (e.promptTokens ?? 0) + (e.completionTokens ?? 0);
  for (let i = 0; i < admitted.length; i++) {
    sum += tok(admitted[i]!);
    while (admitted[i]!.at - admitted[j]!.at >= 60_000) sum -= tok(admitted[j++]!);
    busiestRequests60 = Math.max(busiestRequests60, i - j + 1);
    busiestTokens60 = Math.max(busiestTokens60, sum);
  }
  const ats = events.map((e) => e.at);
  return {
    requests: events.length,
    s429: events.filter((e) => e.status === 429).length,
    s5xx: events.filter((e) => e.status >= 500).length,
    first: ats.length ? Math.min(...ats) : NaN,
    last: ats.length ? Math.max(...ats) : NaN,
    busiestRequests60,
    busiestTokens60,
    tokens: admitted.reduce((n, e) => n + tok(e), 0),
  };
}

interface Side {
  scored: number;
  failed: number;
  wallMs: number;
  /** reviews/s from start to end (spawn to exit for the project) */
  rate: number;
  /** reviews/s between the first request and the last request + one latency */
  activeRate: number;
  traffic: Traffic;
  loadBefore: number;
  loadAfter: number;
  startedAt: number;
}

function side(scored: number, failed: number, wallMs: number, t: Traffic, latencyMs: number, startedAt: number, loadBefore: number): Side {
  const activeS = (t.last - t.first + latencyMs) / 1000;
  return { scored, failed, wallMs, rate: scored / (wallMs / 1000), activeRate: activeS > 0 ? scored / activeS : NaN, traffic: t, loadBefore, loadAfter: load(), startedAt };
}

async function withServer<T>(s: Scenario, run: (server: OfflineServer, events: OfflineRequestEvent[]) => Promise<T>): Promise<T> {
  const events: OfflineRequestEvent[] = [];
  const server = await startOfflineServer({ ...s.server, seed: 0, onRequest: (e) => events.push(e) });
  try {
    return await run(server, events);
  } finally {
    await server.close();
  }
}

function describeTraffic(t: Traffic, s: Scenario): string {
  const parts = [`${t.requests} requests, ${t.s429} x 429 (${pct(t.s429, t.requests)}), ${t.s5xx} x 5xx`];
  if (s.server.requestsPerMinute) parts.push(`busiest 60 s: ${t.busiestRequests60} admitted (limit ${s.server.requestsPerMinute})`);
  if (s.server.tokensPerMinute) parts.push(`busiest 60 s: ${t.busiestTokens60} tokens (limit ${s.server.tokensPerMinute})`);
  return parts.join('; ');
}

/** The rate the ratio is taken against, in reviews/s (baseline) or requests|tokens per s (limit). */
function ratioLine(s: Scenario, project: Side, baseline?: Side): string {
  if (s.ratioTo === 'baseline') {
    if (!baseline) return 'ratio     (no baseline run)';
    return `ratio     project / baseline = ${fmt(project.rate / baseline.rate, 2)} end to end, ${fmt(project.activeRate / baseline.activeRate, 2)} between first and last request`;
  }
  const t = project.traffic;
  const spanS = (t.last - t.first) / 1000 + (s.server.latencyMs ?? 0) / 1000;
  const wallS = project.wallMs / 1000;
  if (s.ratioTo === 'rpm') {
    const limit = s.server.requestsPerMinute! / 60;
    const admitted = t.requests - t.s429;
    return `ratio     to the limit (${s.server.requestsPerMinute}/min): requests admitted ${fmt(admitted / wallS / limit, 2)} end to end, ${fmt(admitted / spanS / limit, 2)} first to last request; reviews ${fmt(project.rate / limit, 2)}`;
  }
  const limit = s.server.tokensPerMinute! / 60;
  return `ratio     to the limit (${s.server.tokensPerMinute} tokens/min): tokens used ${fmt(t.tokens / wallS / limit, 2)} end to end, ${fmt(t.tokens / spanS / limit, 2)} first to last request`;
}

/** Peak RSS of the tree, then of each role's largest process (MiB). */
function rssCell(r: ProjectRunResult): string {
  const of = (role: string) => {
    const p = r.memory.perProcess.find((x) => x.role === role);
    return p ? fmt(p.rssBytes / MiB, 0) : '-';
  };
  return `${fmt(r.memory.peakTreeBytes / MiB, 0)} MiB (${of('command')} / ${of('state server')} / ${of('dev server')})`;
}

function detectFlags(): 'today' | 'next' {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'flask-bench-help-'));
  try {
    const r = spawnSync(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'flask-eval.js'), 'review', '--help'], {
      cwd: PROJECT_ROOT, env: { ...process.env, FLASK_STATE_DIR: dir }, encoding: 'utf8', timeout: 60_000,
    });
    return `${r.stdout}${r.stderr}`.includes('--judge-rpm') ? 'next' : 'today';
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Row { s: Scenario; n: number; baseline?: Side; project?: Side; projectRun?: ProjectRunResult; flags: string[] }

/** Would bin/flask-eval.js run the compiled dist/? (It falls back to tsx when a source is newer.) */
function distIsFresh(): boolean {
  const r = spawnSync(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'flask-eval.js'), '--version'], { cwd: PROJECT_ROOT, encoding: 'utf8', timeout: 60_000 });
  return r.stdout.includes('compiled');
}

async function main(): Promise<void> {
  // A stale build makes the CLI run through tsx: its start-up would be measured, not the product's.
  if (!v['skip-project'] && !distIsFresh()) throw new Error('dist/ is older than the sources: run `npm run build` first (the CLI would run through tsx)');
  const only = v.only ? new Set(v.only.split(',').map((x) => x.trim())) : undefined;
  if (only) for (const n of only) if (!SCENARIOS.some((s) => s.name === n)) throw new Error(`--only: no scenario "${n}"; there are: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  const chosen = SCENARIOS.filter((s) => (only ? only.has(s.name) : !s.hook && !s.onlyWhenNamed));
  const gen = v.flags === 'auto' ? detectFlags() : v.flags;
  if (gen !== 'today' && gen !== 'next') throw new Error('--flags must be auto, today or next');

  let commit = '?';
  try { commit = execSync('git rev-parse --short HEAD', { cwd: PROJECT_ROOT, encoding: 'utf8' }).trim(); } catch { /* not a checkout */ }
  const cpus = os.cpus();
  log(`flask-eval bench ${new Date().toISOString()}  commit ${commit}  ${v.quick ? 'QUICK' : 'full'}  project flags: ${gen}  ${v.cold ? 'COLD (each command starts its state server)' : 'warm (state server started before each timed command)'}`);
  log(`machine: ${cpus.length} x ${cpus[0]?.model ?? '?'}, ${fmt(os.totalmem() / 1024 / MiB, 1)} GiB RAM, Node ${process.version}; load average ${os.loadavg().map((x) => fmt(x, 2)).join(' ')}`);
  log('The offline judge\'s scores are SIMULATED; figures measure the pipeline. Other processes share the machine: see the load averages.');

  const rows: Row[] = [];
  for (const s of chosen) {
    const n = v.quick ? s.quickReviews : s.reviews;
    const flags = s.project[gen];
    log('');
    log(`== ${s.name}: ${s.what} (${n} reviews)`);
    if (s.hook) {
      log(`  hook, not run: ${s.hook}`);
      continue;
    }
    const row: Row = { s, n, flags };
    rows.push(row);
    const latency = s.server.latencyMs ?? 0;

    if (!v['skip-baseline']) {
      const dir = mkdtempSync(path.join(os.tmpdir(), `flask-bench-base-${s.name}-`));
      try {
        const l0 = load();
        const t0 = Date.now();
        const given = !s.name.endsWith('-adaptive');
        const limiter = v['limiter-baseline']
          ? createEndpointLimiter({ ...(given && s.server.requestsPerMinute ? { rpm: s.server.requestsPerMinute } : {}), ...(given && s.server.tokensPerMinute ? { tpm: s.server.tokensPerMinute } : {}) })
          : undefined;
        const concurrency = limiter ? 64 : s.baseline.concurrency;
        const { r, events } = await withServer(s, async (server, events) => ({
          r: await runBaseline({ url: server.url, model: OFFLINE_MODEL_ID, reviews: n, concurrency, rpm: limiter ? undefined : s.baseline.rpm, dbFile: path.join(dir, 'baseline.duckdb'), limiter }) as BaselineResult,
          events,
        }));
        row.baseline = side(r.scored, r.failed, r.wallMs, traffic(events), latency, t0, l0!);
        const b = row.baseline;
        const how = limiter ? `${concurrency} in flight through core/rate (${JSON.stringify(limiter.snapshot().mode)}, ${limiter.snapshot().rpm ?? '-'} rpm, ${limiter.snapshot().tpm ?? '-'} tpm, final window ${limiter.snapshot().concurrency})` : `${concurrency} in flight${s.baseline.rpm ? `, paced at ${s.baseline.rpm}/min` : ''}`;
        log(`  baseline  ${b.scored} scored, ${b.failed} failed in ${fmt(b.wallMs / 1000)} s = ${fmt(b.rate, 2)} reviews/s (${fmt(b.activeRate, 2)}/s first to last request); ${how}`);
        if (limiter && s.ratioTo !== 'baseline') log(`  ${ratioLine(s, b).replace('ratio    ', 'baseline ratio')}`);
        log(`            ${describeTraffic(b.traffic, s)}; load ${fmt(b.loadBefore, 2)} -> ${fmt(b.loadAfter, 2)}`);
      } finally {
        if (!v.keep) rmSync(dir, { recursive: true, force: true });
      }
    }

    if (!v['skip-project']) {
      const stateDir = mkdtempSync(path.join(os.tmpdir(), `flask-bench-proj-${s.name}-`));
      try {
        const runId = `bench-${s.name}-${Date.now()}`;
        const l0 = load();
        const { r, events } = await withServer(s, async (server, events) => {
          const answers = s.dataset === 'synthetic' ? writeSyntheticSet(stateDir, n) : undefined;
          const what = answers ? ['--eval-set', answers.evalSet, '--answers', answers.answers, '--model-id', 'synthetic'] : ['--model', 'gpt4'];
          const args = ['review', ...what, '--limit', String(n), '--run', runId, '--judge-base-url', server.url, '--judge-api-key', 'x', '--judge-model', OFFLINE_MODEL_ID, ...flags];
          const r = await runProject({ args, stateDir, runId, timeoutMs: Math.min(3_600_000, 180_000 + n * 1500), warm: !v.cold });
          return { r, events };
        });
        row.projectRun = r;
        const t = traffic(events);
        const counts = 'error' in r.counts ? { scored: 0, failed: 0 } : r.counts;
        row.project = side(counts.scored, counts.failed, r.wallMs, t, latency, r.spawnedAt, l0!);
        const p = row.project;
        const top = r.memory.perProcess.slice(0, 3).map((x) => `${x.role} ${fmt(x.rssBytes / MiB, 0)}`).join(', ');
        if (r.serverStartMs !== undefined) log(`  project   state server started beforehand in ${fmt(r.serverStartMs / 1000)} s (not in the timing)`);
        log(`  project   flags [${flags.join(' ')}]; exit ${r.exitCode ?? r.signal}${r.timedOut ? ' (TIMED OUT, killed)' : ''}; ${'error' in r.counts ? `counts unreadable: ${r.counts.error}` : `${p.scored} scored, ${p.failed} failed`} in ${fmt(p.wallMs / 1000)} s = ${fmt(p.rate, 2)} reviews/s (${fmt(p.activeRate, 2)}/s first to last request)`);
        log(`            first request ${fmt((t.first - r.spawnedAt) / 1000)} s after spawn, last ${fmt((r.spawnedAt + r.wallMs - t.last) / 1000)} s before exit; ${describeTraffic(t, s)}`);
        log(`            peak RSS of the process tree ${fmt(r.memory.peakTreeBytes / MiB, 0)} MiB (largest: ${top} MiB; ${r.memory.samples} samples); load ${fmt(p.loadBefore, 2)} -> ${fmt(p.loadAfter, 2)}`);
        if (r.exitCode !== 0) for (const line of r.outputTail.slice(-8)) log(`            | ${line}`);
        log(`  ${ratioLine(s, p, row.baseline)}`);
      } finally {
        if (!v.keep) rmSync(stateDir, { recursive: true, force: true });
      }
    }
  }

  log('');
  log('| scenario | reviews | baseline reviews/s | project reviews/s | ratio (end to end) | ratio (first to last request) | project 429 share | project peak RSS: tree (command / state server / dev server) | load (1 min) |');
  log('|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const p = r.project;
    const b = r.baseline;
    let ratio = '-';
    let active = '-';
    const spanS = p ? (p.traffic.last - p.traffic.first + (r.s.server.latencyMs ?? 0)) / 1000 : NaN;
    if (p && r.s.ratioTo === 'baseline' && b) {
      ratio = `${fmt(p.rate / b.rate, 2)} of baseline`;
      active = `${fmt(p.activeRate / b.activeRate, 2)} of baseline`;
    }
    if (p && r.s.ratioTo === 'rpm') {
      const admitted = p.traffic.requests - p.traffic.s429;
      ratio = `${fmt(admitted / (p.wallMs / 1000) / (r.s.server.requestsPerMinute! / 60), 2)} of the RPM limit`;
      active = `${fmt(admitted / spanS / (r.s.server.requestsPerMinute! / 60), 2)} of the RPM limit`;
    }
    if (p && r.s.ratioTo === 'tpm') {
      ratio = `${fmt(p.traffic.tokens / (p.wallMs / 1000) / (r.s.server.tokensPerMinute! / 60), 2)} of the TPM limit`;
      active = `${fmt(p.traffic.tokens / spanS / (r.s.server.tokensPerMinute! / 60), 2)} of the TPM limit`;
    }
    log(`| ${r.s.name} | ${r.n} | ${b ? fmt(b.rate, 2) : '-'} | ${p ? fmt(p.rate, 2) : '-'} | ${ratio} | ${active} | ${p ? pct(p.traffic.s429, p.traffic.requests) : '-'} | ${r.projectRun ? rssCell(r.projectRun) : '-'} | ${p ? `${fmt(p.loadBefore, 2)}-${fmt(p.loadAfter, 2)}` : b ? `${fmt(b.loadBefore, 2)}-${fmt(b.loadAfter, 2)}` : '-'} |`);
  }
}

process.once('SIGINT', () => {
  console.error('\ninterrupted: stopping the project run in progress');
  stopActiveRuns();
  setTimeout(() => process.exit(130), 2000);
});

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
