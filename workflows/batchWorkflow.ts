import { ActivityFailure, ApplicationFailure, condition, defineQuery, patched, proxyActivities, setHandler, sleep, workflowInfo } from '@temporalio/workflow';
import type { EndpointActivities, StoreActivities } from '../core/activityContracts.js';
import type { PromptSet } from '../core/flask/promptSet.js';
import { promptKindOf, type PromptKind } from '../core/flask/promptKind.js';
import { fleetChunking, fleetOf } from '../core/fleetChunking.js';
import { BudgetReservations } from '../core/cost/budgetReservations.js';
import {
  BATCH_PROGRESS_QUERY, BUDGET_REACHED, RUN_STOPPING_ERRORS, TERMINAL_BATCH_STATES, endpointOf, planJudges, roleOf, stepSettingsOf, type JudgeSpec, type BatchWorkflowInput, type CallChunkResult, type CallRecord, type ChunkItem, type ChunkStats, type Progress, type Step, type StepOutcome,
} from '../core/pipeline.js';
import type { EndpointRef } from '../core/provider/endpoint.js';

export const batchProgressQuery = defineQuery<Progress>(BATCH_PROGRESS_QUERY);

type Endpoint = ReturnType<typeof proxyActivities<EndpointActivities>>;

/** Chunks started between two counts of the endpoint fleet (one store activity each). */
const FLEET_REFRESH_CHUNKS = 16;

/** What every step of a batch workflow shares: its input, its activities, its judges, its live counts. */
interface BatchContext {
  input: BatchWorkflowInput;
  store: ReturnType<typeof proxyActivities<StoreActivities>>;
  /** Endpoint activities (chunks: heartbeated, long) and Batch API activities (short), one proxy per task queue. */
  chunkActs: Map<string, Endpoint>;
  batchActs: Map<string, Endpoint>;
  judges: JudgeSpec[];
  progress: Progress;
  /** Queues whose endpoint refused the Batch API: later chunks go direct without asking again. */
  noBatchApi: Map<string, string>;
  /** The texts each step's prompts are rendered from, read by the store once per batch (endpoint workers have no data/). */
  promptSets: Map<PromptKind, Promise<PromptSet>>;
  /** --max-cost: what the chunks in flight have reserved against the budget. */
  budget?: BudgetReservations;
}

/**
 * One batch of a run: the unfinished instances of ords [fromOrd, toOrd), cut into chunks. Each
 * chunk is loaded from the store, sent through the run's steps (one endpoint activity per step
 * and chunk), and each step's outcomes are landed by the store before the next step starts.
 * Several chunks are in flight, so one chunk's review overlaps another's generation, and the
 * endpoint's limiter (in the worker) decides how many calls really go out at once.
 */
export async function batchWorkflow(input: BatchWorkflowInput): Promise<Progress> {
  const store = proxyActivities<StoreActivities>({
    taskQueue: input.controlQueue,
    startToCloseTimeout: '5 minutes',
    // Store activities heartbeat (worker/storeWorker.ts): a dead state server's are retried on its replacement after 10 s.
    heartbeatTimeout: '10 seconds',
    // The store may be down for a while (restarting): landing waits for it, it does not fail.
    retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
  });
  const judges = planJudges(input);
  const work = await store.listWorkItems({
    runId: input.runId, steps: input.steps, fromOrd: input.fromOrd, toOrd: input.toOrd, judgeIds: judges.map((j) => j.id),
  });
  const progress: Progress = {
    total: input.toOrd - input.fromOrd, done: work.done, failed: work.failed, pending: work.pending.length,
    tokens: 0, calls: 0, rateLimited: 0, resent: 0, resumed: work.done + work.failed, cached: 0,
  };
  setHandler(batchProgressQuery, () => progress);
  const ctx: BatchContext = { input, store, chunkActs: new Map(), batchActs: new Map(), judges, progress, noBatchApi: new Map(), promptSets: new Map() };
  // patched: a budgeted batch started before reservations existed replays without asking for worst cases.
  if (input.maxCostUsd !== undefined && input.prices && work.pending.length > 0 && patched('budget-reservations')) {
    const w = await store.worstCaseCosts({ plan: input, pending: work.pending });
    ctx.budget = new BudgetReservations(input.maxCostUsd, w.spentUsd, new Map(work.pending.map(([idx], i) => [idx, w.worst[i] ?? []])));
    progress.costUsd = w.spentUsd;
  }
  await runChunksAcrossFleet(ctx, work.pending);
  return progress;
}

/**
 * Cuts the pending instances into chunks as it goes and keeps enough in flight for the endpoint
 * fleet (core/fleetChunking.ts): chunk size and chunks in flight follow the live workers of the
 * run's endpoint queues, asked at the start and every FLEET_REFRESH_CHUNKS chunks. A run with a
 * budget sends a chunk only when its calls' worst cases fit what is left of it (a smaller chunk
 * when the whole one does not); with nothing left for the next instance, a lane waits for the
 * chunks in flight to land, and with none in flight the run stops. Deterministic: plain promises.
 */
async function runChunksAcrossFleet(ctx: BatchContext, pending: Array<[number, number]>): Promise<void> {
  const { input, judges, store, progress } = ctx;
  const queues = [...new Set([...judges.map((j) => j.endpoint.queue), ...(input.judge ? [input.judge.queue] : []), ...(input.model ? [input.model.queue] : [])])];
  const planFleet = async () => {
    // patched: a batch started before workers declared their concurrency replays with the worker count alone.
    if (!patched('fleet-concurrency')) return fleetChunking({ chunkSize: input.chunkSize, concurrency: input.concurrency, workers: await store.liveWorkers({ queues }) });
    return fleetChunking({ chunkSize: input.chunkSize, ...fleetOf((await store.liveFleet({ queues })).concurrencies, input.concurrency) });
  };
  let fleet = await planFleet();
  let cursor = 0;
  let active = 0;
  let sinceRefresh = 0;
  let refreshing = false;
  const lanes: Promise<void>[] = [];
  const more = () => cursor < pending.length && progress.stopped === undefined;
  const fill = () => {
    while (active < fleet.inFlight && more()) {
      active++;
      const lane = runLane();
      lane.catch(() => undefined); // awaited below; this only keeps a lane that fails early from counting as unhandled
      lanes.push(lane);
    }
  };
  async function runLane(): Promise<void> {
    try {
      // A lane over the (possibly lowered) limit ends; fill() starts lanes when it rises.
      while (more() && active <= fleet.inFlight) {
        const reserved = reserveNext(ctx, pending.slice(cursor, cursor + fleet.chunkSize));
        if (reserved === 'wait') {
          const seen = ctx.budget!.version;
          await condition(() => ctx.budget!.version !== seen || !more());
          continue;
        }
        if (reserved === 'stop') break;
        const chunk = pending.slice(cursor, cursor + reserved.n);
        cursor += chunk.length;
        await runChunk(ctx, chunk, reserved.usd);
        if (++sinceRefresh >= FLEET_REFRESH_CHUNKS && !refreshing) {
          sinceRefresh = 0;
          refreshing = true;
          fleet = await planFleet().finally(() => (refreshing = false));
        }
        fill();
      }
    } finally {
      active--;
    }
  }
  fill();
  for (let n = 0; n < lanes.length;) {
    const waiting = lanes.slice(n);
    n = lanes.length;
    await Promise.all(waiting);
  }
}

/**
 * How much of the next chunk the budget lets go (all of it without a budget), reserved; 'wait' for
 * a chunk in flight to land and release its reservation; 'stop' when nothing is in flight and the
 * next instance's worst case is more than is left (the run stops there: it could pass the budget).
 */
function reserveNext(ctx: BatchContext, next: Array<[number, number]>): { n: number; usd: number } | 'wait' | 'stop' {
  const { budget, progress } = ctx;
  if (!budget) return { n: next.length, usd: 0 };
  const r = budget.reserve(next);
  if (r.n > 0) return r;
  if (budget.holding) return 'wait';
  progress.stopped = BUDGET_REACHED;
  progress.nextWorstUsd = budget.worstOf(next[0]![0], next[0]![1]);
  return 'stop';
}

/** The prompt texts of a step's kind (none for generate), read by the store once per batch. */
async function promptsFor(ctx: BatchContext, step: Step): Promise<{ prompts?: PromptSet }> {
  const kind = promptKindOf(step);
  if (!kind) return {};
  let set = ctx.promptSets.get(kind);
  if (!set) ctx.promptSets.set(kind, (set = ctx.store.promptSet({ kind })));
  return { prompts: await set };
}

/**
 * A chunk through the run's steps from each instance's first unfinished one; failed instances drop
 * out. `reservedUsd`: its budget reservation, released step by step as each lands.
 */
async function runChunk(ctx: BatchContext, chunk: Array<[number, number]>, reservedUsd = 0): Promise<void> {
  try {
    await runChunkSteps(ctx, chunk, (k) => {
      const freed = Math.min(reservedUsd, ctx.budget?.stepWorst(chunk.map(([idx]) => idx), k) ?? 0);
      reservedUsd -= freed;
      ctx.budget?.release(freed);
    });
  } finally {
    ctx.budget?.release(reservedUsd);
  }
}

async function runChunkSteps(ctx: BatchContext, chunk: Array<[number, number]>, landed: (step: number) => void): Promise<void> {
  const { input, progress } = ctx;
  const firstStep = new Map(chunk);
  let alive = await ctx.store.loadChunk({ runId: input.runId, idxs: chunk.map(([idx]) => idx) });
  const start = Math.min(...chunk.map(([, k]) => k));
  for (let k = start; k < input.steps.length && alive.length > 0; k++) {
    const step = input.steps[k]!;
    const todo = alive.filter((it) => (firstStep.get(it.idx) ?? 0) <= k);
    if (todo.length === 0) continue;
    const out = step === 'review' ? await reviewByEachJudge(ctx, todo) : await landStep(ctx, step, await callStepCached(ctx, step, todo));
    landed(k);
    progress.calls += out.stats.calls;
    progress.cached = (progress.cached ?? 0) + (out.stats.cached ?? 0);
    progress.tokens += out.stats.tokens;
    progress.rateLimited += out.stats.rateLimited;
    progress.resent += out.stats.lost;
    const byIdx = new Map(out.results.map((r) => [r.idx, r]));
    const failed = new Set(out.results.filter((r) => r.status === 'failed').map((r) => r.idx));
    progress.failed += failed.size;
    progress.pending -= failed.size;
    alive = alive.filter((it) => !failed.has(it.idx)).map((it) => feedForward(step, it, byIdx.get(it.idx)));
  }
  progress.done += alive.length;
  progress.pending -= alive.length;
}

/**
 * The review step: each judge of the panel reviews the chunk's instances it has not reviewed
 * yet (concurrently, each on its endpoint's queue), and lands them under its judge id. An
 * instance fails the step when one of its judges failed it.
 */
async function reviewByEachJudge(ctx: BatchContext, items: ChunkItem[]): Promise<CallChunkResult> {
  const outs = await Promise.all(ctx.judges.map(async (j) => {
    const todo = items.filter((it) => !(it.judged ?? []).includes(j.id));
    if (todo.length === 0) return undefined;
    return landStep(ctx, 'review', await callStepCached(ctx, 'review', todo, j), j);
  }));
  const stats = noStats();
  const failed = new Map<number, StepOutcome>();
  for (const o of outs) {
    if (!o) continue;
    addStats(stats, o.stats);
    for (const r of o.results) if (r.status === 'failed' && !failed.has(r.idx)) failed.set(r.idx, r);
  }
  // Instances no judge failed now go on as done (the review step is every run's last step).
  return { results: items.map((it) => failed.get(it.idx) ?? bareOutcome(it.idx, 'done')), stats };
}

/** One step of a chunk on its endpoint: a chunk activity, or (--batch, judge steps) the Batch API. */
/**
 * A step through the call cache first: the store answers the instances it has every answer of
 * (one activity for the chunk), the endpoint the rest. --cache off / refresh: nothing is looked up.
 */
async function callStepCached(ctx: BatchContext, step: Step, items: ChunkItem[], judge?: JudgeSpec): Promise<CallChunkResult> {
  const { input } = ctx;
  const endpoint = endpointOf(input, step, judge);
  const settings = stepSettingsOf(input, step, judge);
  // patched: a batch started before the cache existed replays without the lookup it never made.
  if (input.cache === 'off' || input.cache === 'refresh' || !endpoint || !settings || !patched('call-cache')) return callStep(ctx, step, items, judge);
  const hit = await ctx.store.answerFromCache({
    runId: input.runId, step, endpoint, settings, maxAttempts: input.maxAttempts, shuffleSeed: input.shuffleSeed, items, ...(input.cache ? { cache: input.cache } : {}),
  });
  if (hit.results.length === 0) return callStep(ctx, step, items, judge);
  const served = new Set(hit.results.map((r) => r.idx));
  const rest = items.filter((it) => !served.has(it.idx));
  const out = rest.length > 0 ? await callStep(ctx, step, rest, judge) : undefined;
  const stats = { ...noStats(), ...hit.stats };
  if (out) addStats(stats, out.stats);
  return { results: [...hit.results, ...(out?.results ?? [])], stats, ...(out?.batchFallback !== undefined ? { batchFallback: out.batchFallback } : {}) };
}

async function callStep(ctx: BatchContext, step: Step, items: ChunkItem[], judge?: JudgeSpec, direct = false): Promise<CallChunkResult> {
  const { input } = ctx;
  const role = roleOf(step);
  if (input.batch && role === 'judge' && !direct) return batchStep(ctx, step, items, judge);
  const endpoint = endpointOf(input, step, judge);
  if (!endpoint) throw ApplicationFailure.nonRetryable(`run ${input.runId} has no ${role} endpoint for step ${step}`, 'RunPlanError');
  try {
    return await proxyFor(ctx.chunkActs, endpoint.queue, () => endpointOptions(endpoint.queue, input.heartbeatTimeoutMs)).callChunk({
      runId: input.runId, step, endpoint, settings: stepSettingsOf(input, step, judge)!, maxAttempts: input.maxAttempts, shuffleSeed: input.shuffleSeed, items, ...(await promptsFor(ctx, step)),
      ...(input.cache ? { cache: input.cache } : {}),
      ...(ctx.budget && input.prices?.[endpoint.model] ? { budgetPrice: input.prices[endpoint.model] } : {}),
    });
  } catch (err) {
    const cause = applicationCause(err);
    if (cause?.type && RUN_STOPPING_ERRORS.includes(cause.type)) throw err;
    // The chunk's activity itself gave up (not one instance's error, which comes back as an
    // outcome): record every instance of it as failed with the reason, and move on.
    const reason = cause?.message ?? (err instanceof Error ? err.message : String(err));
    return { results: items.map((it) => bareOutcome(it.idx, 'failed', { error: reason })), stats: noStats() };
  }
}

/**
 * --batch: the chunk's judge requests as one Batch API batch — submit (its id is in this
 * workflow's history from then on), poll between durable timers, collect. Lines that failed,
 * expired or did not parse are asked directly (at most `maxFallback` instances a chunk; the
 * rest fail with the line's reason), their batch lines recorded as calls before the direct ones.
 * An endpoint without the Batch API (a local server) is asked directly, and that is said:
 * in the progress the command prints, on the run and on each call (batch_fallback).
 */
async function batchStep(ctx: BatchContext, step: Step, items: ChunkItem[], judge?: JudgeSpec): Promise<CallChunkResult> {
  const { input } = ctx;
  const endpoint = endpointOf(input, step, judge)!;
  const refused = ctx.noBatchApi.get(endpoint.queue);
  if (refused !== undefined) return directForBatch(ctx, step, items, judge, refused);
  const b = proxyFor(ctx.batchActs, endpoint.queue, () => ({
    taskQueue: endpoint.queue, startToCloseTimeout: '5 minutes', retry: { initialInterval: '1 second', maximumInterval: '1 minute', maximumAttempts: 30 },
  }));
  const key = `${workflowInfo().workflowId}/${step}/${judge?.id ?? roleOf(step)}/${hashIdxs(items.map((it) => it.idx))}`;
  const base = { runId: input.runId, step, endpoint, settings: stepSettingsOf(input, step, judge)!, shuffleSeed: input.shuffleSeed, items, key, ...(await promptsFor(ctx, step)), ...(input.cache ? { cache: input.cache } : {}) };
  let submitted: { batchId: string };
  try {
    submitted = await b.submitBatch(base);
  } catch (err) {
    const cause = applicationCause(err);
    if (cause?.type !== 'BatchUnsupported') throw err;
    const reason = `${endpoint.baseUrl} has no Batch API (${cause.message}): judge requests sent directly, at the full price`;
    ctx.noBatchApi.set(endpoint.queue, reason);
    ctx.progress.batchFallback ??= reason;
    return directForBatch(ctx, step, items, judge, reason);
  }
  await waitForBatch(b, endpoint, submitted.batchId, input.batch!.pollMs);
  const got = await b.collectBatch({ ...base, batchId: submitted.batchId });
  const stats: ChunkStats = { calls: got.linesOk + got.linesFailed, rateLimited: 0, errors: got.linesFailed, tokens: 0, lost: 0 };
  for (const r of got.results) stats.tokens += r.promptTokens + r.completionTokens;
  const fallback = new Map(got.fallback.map((f) => [f.idx, f]));
  const again = items.filter((it) => fallback.has(it.idx));
  const bound = input.batch!.maxFallback ?? again.length;
  const direct = again.length > 0 && bound > 0 ? await callStep(ctx, step, again.slice(0, bound), judge, true) : undefined;
  const results: StepOutcome[] = [...got.results];
  for (const r of direct?.results ?? []) {
    const prior = fallback.get(r.idx)!.calls;
    stats.tokens += prior.reduce((s, c) => s + c.promptTokens + c.completionTokens, 0);
    results.push({ ...r, calls: [...prior, ...r.calls.map((c) => ({ ...c, callNo: c.callNo + prior.length }))] });
  }
  if (direct) addStats(stats, direct.stats);
  for (const it of again.slice(bound)) {
    const f = fallback.get(it.idx)!;
    results.push(bareOutcome(it.idx, 'failed', { error: `${f.reason} (no direct call left: --batch fallback bound ${bound})`, calls: f.calls }));
  }
  return { results, stats };
}

/** Poll less often as the batch runs on (x1.5 up to 10 minutes): a 24-hour batch stays a short history. */
async function waitForBatch(b: Endpoint, endpoint: EndpointRef, batchId: string, pollMs: number): Promise<void> {
  let wait = pollMs;
  for (;;) {
    await sleep(wait);
    wait = Math.min(Math.round(wait * 1.5), Math.max(pollMs, 600_000));
    const state = await b.pollBatch({ endpoint, batchId });
    if (TERMINAL_BATCH_STATES.includes(state.status)) return;
  }
}

/** A --batch chunk asked directly because its endpoint has no Batch API: every call says why. */
async function directForBatch(ctx: BatchContext, step: Step, items: ChunkItem[], judge: JudgeSpec | undefined, reason: string): Promise<CallChunkResult> {
  const out = await callStep(ctx, step, items, judge, true);
  const mark = (calls: CallRecord[]) => calls.map((c) => ({ ...c, batchFallback: reason }));
  return { ...out, results: out.results.map((r) => ({ ...r, calls: mark(r.calls) })), batchFallback: reason };
}

/** Land one step's outcomes; a run with a budget learns its landed cost. */
async function landStep(ctx: BatchContext, step: Step, out: CallChunkResult, judge?: JudgeSpec): Promise<CallChunkResult> {
  const { input, progress } = ctx;
  const landed = await ctx.store.landResults({
    runId: input.runId, step, endpoint: endpointOf(input, step, judge)!, results: out.results,
    ...(judge ? { judgeProfile: judge.profile, judgeId: judge.id } : {}),
    ...(input.maxCostUsd !== undefined && input.prices ? { prices: input.prices } : {}),
    ...(out.batchFallback !== undefined ? { batchFallback: out.batchFallback } : {}),
    ...(input.cache ? { cache: input.cache } : {}),
  });
  if (landed.runCostUsd !== undefined) {
    progress.costUsd = Math.max(progress.costUsd ?? 0, landed.runCostUsd);
    ctx.budget?.spent(landed.runCostUsd);
    if (input.maxCostUsd !== undefined && landed.runCostUsd >= input.maxCostUsd) progress.stopped = BUDGET_REACHED;
  }
  return out;
}

/** An outcome with no call behind it in this step (a chunk that gave up, a line with no direct call left, a panel's merged "done"). */
function bareOutcome(idx: number, status: StepOutcome['status'], more: Partial<StepOutcome> = {}): StepOutcome {
  const now = new Date().toISOString();
  return { idx, status, attempts: 0, promptTokens: 0, completionTokens: 0, simulated: false, startedAt: now, finishedAt: now, calls: [], ...more };
}

const noStats = (): ChunkStats => ({ calls: 0, cached: 0, rateLimited: 0, errors: 0, tokens: 0, lost: 0 });

function addStats(into: ChunkStats, add: ChunkStats): void {
  for (const k of Object.keys(into) as Array<keyof ChunkStats>) into[k] = (into[k] ?? 0) + (add[k] ?? 0);
}

function applicationCause(err: unknown): ApplicationFailure | undefined {
  return err instanceof ActivityFailure && err.cause instanceof ApplicationFailure ? err.cause : undefined;
}

function proxyFor(cache: Map<string, Endpoint>, queue: string, options: () => Parameters<typeof proxyActivities>[0]): Endpoint {
  let act = cache.get(queue);
  if (!act) cache.set(queue, (act = proxyActivities<EndpointActivities>(options())));
  return act;
}

/** A short deterministic name for a chunk's instances (FNV-1a 32; no Node crypto in workflows). */
function hashIdxs(idxs: number[]): string {
  let h = 0x811c9dc5;
  const text = idxs.join(',');
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return `${idxs.length}-${h.toString(16).padStart(8, '0')}`;
}

/** What a finished step hands to the next one. */
function feedForward(step: Step, item: ChunkItem, outcome: StepOutcome | undefined): ChunkItem {
  if (!outcome || outcome.status !== 'done') return item;
  if (step === 'generate') return { ...item, response: outcome.text ?? '' };
  if (step === 'domain') return { ...item, domains: outcome.value as string[] };
  return item;
}

function endpointOptions(taskQueue: string, heartbeatTimeoutMs = 15_000) {
  return {
    taskQueue,
    // A chunk waits out rate limits inside the activity, which can take long; liveness comes
    // from heartbeats (every second), so a dead worker is noticed after heartbeatTimeout.
    startToCloseTimeout: '6 hours',
    heartbeatTimeout: heartbeatTimeoutMs,
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 20 },
  } as const;
}
