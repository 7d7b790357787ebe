import { ActivityFailure, ApplicationFailure, defineQuery, patched, proxyActivities, setHandler, sleep, workflowInfo } from '@temporalio/workflow';
import type { EndpointActivities, StoreActivities } from '../core/activityContracts.js';
import {
  BATCH_PROGRESS_QUERY, BUDGET_REACHED, RUN_STOPPING_ERRORS, TERMINAL_BATCH_STATES, planJudges, roleOf, type JudgeSpec, type BatchWorkflowInput, type CallChunkResult, type ChunkItem, type Progress, type Step, type StepOutcome,
} from '../core/pipeline.js';

export const batchProgressQuery = defineQuery<Progress>(BATCH_PROGRESS_QUERY);

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
  const endpoints = {
    judge: input.judge ? proxyActivities<EndpointActivities>(endpointOptions(input.judge.queue, input.heartbeatTimeoutMs)) : undefined,
    model: input.model ? proxyActivities<EndpointActivities>(endpointOptions(input.model.queue, input.heartbeatTimeoutMs)) : undefined,
  };

  const judges = planJudges(input);
  const byQueue = new Map<string, ReturnType<typeof proxyActivities<EndpointActivities>>>();
  const judgeActs = (j: JudgeSpec) => {
    let act = byQueue.get(j.endpoint.queue);
    if (!act) byQueue.set(j.endpoint.queue, (act = proxyActivities<EndpointActivities>(endpointOptions(j.endpoint.queue, input.heartbeatTimeoutMs))));
    return act;
  };
  const work = await store.listWorkItems({
    runId: input.runId, steps: input.steps, fromOrd: input.fromOrd, toOrd: input.toOrd, judgeIds: judges.map((j) => j.id),
  });
  const progress: Progress = {
    total: input.toOrd - input.fromOrd, done: work.done, failed: work.failed, pending: work.pending.length,
    tokens: 0, calls: 0, rateLimited: 0, resent: 0, resumed: work.done + work.failed, cached: 0,
  };
  setHandler(batchProgressQuery, () => progress);

  const batchActs = new Map<string, ReturnType<typeof proxyActivities<EndpointActivities>>>();
  /**
   * --batch: the chunk's judge requests as one Batch API batch — submit (its id is in this
   * workflow's history from then on), poll between durable timers, collect. Lines that failed,
   * expired or did not parse are asked directly (at most `maxFallback` instances a chunk; the
   * rest fail with the line's reason), their batch lines recorded as calls before the direct ones.
   */
  async function batchStep(step: Step, items: ChunkItem[], judge?: JudgeSpec): Promise<CallChunkResult> {
    const role = roleOf(step);
    const target = targetOf(step, judge);
    const endpoint = target.endpoint!;
    const settings = target.settings!;
    let b = batchActs.get(endpoint.queue);
    if (!b) {
      b = proxyActivities<EndpointActivities>({
        taskQueue: endpoint.queue, startToCloseTimeout: '5 minutes', retry: { initialInterval: '1 second', maximumInterval: '1 minute', maximumAttempts: 30 },
      });
      batchActs.set(endpoint.queue, b);
    }
    const key = `${workflowInfo().workflowId}/${step}/${judge?.id ?? role}/${hashIdxs(items.map((it) => it.idx))}`;
    const base = { runId: input.runId, step, endpoint, settings, shuffleSeed: input.shuffleSeed, items, key };
    let submitted: { batchId: string };
    try {
      submitted = await b.submitBatch(base);
    } catch (err) {
      const cause = err instanceof ActivityFailure && err.cause instanceof ApplicationFailure ? err.cause : undefined;
      if (cause?.type !== 'BatchUnsupported') throw err;
      // The endpoint has no Batch API (a local server): this chunk is asked directly.
      return callStep(step, items, judge, true);
    }
    // Poll less often as the batch runs on (×1.5 up to 10 minutes): a 24-hour batch stays a short history.
    let wait = input.batch!.pollMs;
    for (;;) {
      await sleep(wait);
      wait = Math.min(Math.round(wait * 1.5), Math.max(input.batch!.pollMs, 600_000));
      const state = await b.pollBatch({ endpoint, batchId: submitted.batchId });
      if (TERMINAL_BATCH_STATES.includes(state.status)) break;
    }
    const got = await b.collectBatch({ ...base, batchId: submitted.batchId });
    const stats = { calls: got.linesOk + got.linesFailed, rateLimited: 0, errors: got.linesFailed, tokens: 0, lost: 0 };
    for (const r of got.results) stats.tokens += r.promptTokens + r.completionTokens;
    const fallback = new Map(got.fallback.map((f) => [f.idx, f]));
    const again = items.filter((it) => fallback.has(it.idx));
    const bound = input.batch!.maxFallback ?? again.length;
    const direct = again.length > 0 && bound > 0 ? await callStep(step, again.slice(0, bound), judge, true) : undefined;
    const results: StepOutcome[] = [...got.results];
    for (const r of direct?.results ?? []) {
      const prior = fallback.get(r.idx)!.calls;
      const priorTokens = prior.reduce((s, c) => s + c.promptTokens + c.completionTokens, 0);
      stats.tokens += priorTokens;
      results.push({ ...r, calls: [...prior, ...r.calls.map((c) => ({ ...c, callNo: c.callNo + prior.length }))] });
    }
    if (direct) for (const k of Object.keys(stats) as Array<keyof typeof stats>) stats[k] += direct.stats[k];
    const now = new Date().toISOString();
    for (const it of again.slice(bound)) {
      const f = fallback.get(it.idx)!;
      results.push({ idx: it.idx, status: 'failed', error: `${f.reason} (no direct call left: --batch fallback bound ${bound})`, attempts: 0,
        promptTokens: 0, completionTokens: 0, simulated: false, startedAt: now, finishedAt: now, calls: f.calls });
    }
    return { results, stats };
  }

  /** The endpoint a step calls and the settings it is asked with (a panel judge's own). */
  function targetOf(step: Step, judge?: JudgeSpec) {
    const role = roleOf(step);
    const endpoint = judge ? judge.endpoint : input[role];
    const settings = judge
      ? { ...judge.settings, judgeProfile: judge.profile }
      : role === 'judge' ? { ...input.judgeSettings!, ...(input.judgeProfile ? { judgeProfile: input.judgeProfile } : {}) } : input.modelSettings;
    return { endpoint, settings };
  }

  /**
   * A step through the call cache first: the store answers the instances it has every answer of
   * (one activity for the chunk), the endpoint the rest. --cache off / refresh: nothing is looked up.
   */
  async function callStepCached(step: Step, items: ChunkItem[], judge?: JudgeSpec): Promise<CallChunkResult> {
    const { endpoint, settings } = targetOf(step, judge);
    // patched: a batch started before the cache existed replays without the lookup it never made.
    if (input.cache === 'off' || input.cache === 'refresh' || !endpoint || !settings || !patched('call-cache')) return callStep(step, items, judge);
    const hit = await store.answerFromCache({
      runId: input.runId, step, endpoint, settings, maxAttempts: input.maxAttempts, shuffleSeed: input.shuffleSeed, items, ...(input.cache ? { cache: input.cache } : {}),
    });
    if (hit.results.length === 0) return callStep(step, items, judge);
    const served = new Set(hit.results.map((r) => r.idx));
    const rest = items.filter((it) => !served.has(it.idx));
    const out = rest.length > 0 ? await callStep(step, rest, judge) : undefined;
    const stats = { ...hit.stats };
    for (const k of Object.keys(out?.stats ?? {}) as Array<keyof typeof stats>) stats[k] = (stats[k] ?? 0) + (out!.stats[k] ?? 0);
    return { results: [...hit.results, ...(out?.results ?? [])], stats };
  }

  async function callStep(step: Step, items: ChunkItem[], judge?: JudgeSpec, direct = false): Promise<CallChunkResult> {
    const role = roleOf(step);
    if (input.batch && role === 'judge' && !direct) return batchStep(step, items, judge);
    const act = judge ? judgeActs(judge) : endpoints[role];
    const { endpoint, settings } = targetOf(step, judge);
    if (!endpoint || !act) throw ApplicationFailure.nonRetryable(`run ${input.runId} has no ${role} endpoint for step ${step}`, 'RunPlanError');
    try {
      return await act.callChunk({
        runId: input.runId, step, endpoint, settings: settings!, maxAttempts: input.maxAttempts, shuffleSeed: input.shuffleSeed, items,
        ...(input.cache ? { cache: input.cache } : {}),
      });
    } catch (err) {
      const cause = err instanceof ActivityFailure && err.cause instanceof ApplicationFailure ? err.cause : undefined;
      if (cause?.type && RUN_STOPPING_ERRORS.includes(cause.type)) throw err;
      // The chunk's activity itself gave up (not one instance's error, which comes back as an
      // outcome): record every instance of it as failed with the reason, and move on.
      const reason = cause?.message ?? (err instanceof Error ? err.message : String(err));
      const now = new Date().toISOString();
      return {
        results: items.map((it) => ({
          idx: it.idx, status: 'failed', error: reason, attempts: 0, promptTokens: 0, completionTokens: 0, simulated: false,
          startedAt: now, finishedAt: now, calls: [],
        })),
        stats: { calls: 0, rateLimited: 0, errors: 0, tokens: 0, lost: 0 },
      };
    }
  }

  /** Land one step's outcomes; a run with a budget learns its landed cost. */
  async function landStep(step: Step, items: ChunkItem[], out: CallChunkResult, judge?: JudgeSpec): Promise<CallChunkResult> {
    const landed = await store.landResults({
      runId: input.runId, step, endpoint: judge ? judge.endpoint : input[roleOf(step)]!, results: out.results,
      ...(judge ? { judgeProfile: judge.profile, judgeId: judge.id } : {}),
      ...(input.maxCostUsd !== undefined && input.prices ? { prices: input.prices } : {}),
      ...(input.cache ? { cache: input.cache } : {}),
    });
    if (landed.runCostUsd !== undefined) {
      progress.costUsd = Math.max(progress.costUsd ?? 0, landed.runCostUsd);
      if (input.maxCostUsd !== undefined && landed.runCostUsd >= input.maxCostUsd) progress.stopped = BUDGET_REACHED;
    }
    return out;
  }

  /**
   * The review step: each judge of the panel reviews the chunk's instances it has not reviewed
   * yet (concurrently, each on its endpoint's queue), and lands them under its judge id. An
   * instance fails the step when one of its judges failed it.
   */
  async function reviewByEachJudge(items: ChunkItem[]): Promise<CallChunkResult> {
    const outs = await Promise.all(judges.map(async (j) => {
      const todo = items.filter((it) => !(it.judged ?? []).includes(j.id));
      if (todo.length === 0) return undefined;
      return landStep('review', todo, await callStepCached('review', todo, j), j);
    }));
    const stats = { calls: 0, cached: 0, rateLimited: 0, errors: 0, tokens: 0, lost: 0 };
    const failed = new Map<number, StepOutcome>();
    for (const o of outs) {
      if (!o) continue;
      for (const k of Object.keys(stats) as Array<keyof typeof stats>) stats[k] += o.stats[k] ?? 0;
      for (const r of o.results) if (r.status === 'failed' && !failed.has(r.idx)) failed.set(r.idx, r);
    }
    const now = new Date().toISOString();
    // Instances no judge failed now go on as done (the review step is every run's last step).
    return {
      results: items.map((it) => failed.get(it.idx) ?? {
        idx: it.idx, status: 'done', attempts: 0, promptTokens: 0, completionTokens: 0, simulated: false, startedAt: now, finishedAt: now, calls: [],
      }),
      stats,
    };
  }

  async function runChunk(chunk: Array<[number, number]>): Promise<void> {
    const firstStep = new Map(chunk);
    let alive = await store.loadChunk({ runId: input.runId, idxs: chunk.map(([idx]) => idx) });
    const start = Math.min(...chunk.map(([, k]) => k));
    for (let k = start; k < input.steps.length && alive.length > 0; k++) {
      const step = input.steps[k];
      const todo = alive.filter((it) => (firstStep.get(it.idx) ?? 0) <= k);
      if (todo.length === 0) continue;
      const out = step === 'review' ? await reviewByEachJudge(todo) : await landStep(step!, todo, await callStepCached(step!, todo));
      progress.calls += out.stats.calls;
      progress.cached = (progress.cached ?? 0) + (out.stats.cached ?? 0);
      progress.tokens += out.stats.tokens;
      progress.rateLimited += out.stats.rateLimited;
      progress.resent += out.stats.lost;
      const byIdx = new Map(out.results.map((r) => [r.idx, r]));
      const failed = new Set(out.results.filter((r) => r.status === 'failed').map((r) => r.idx));
      progress.failed += failed.size;
      progress.pending -= failed.size;
      alive = alive.filter((it) => !failed.has(it.idx)).map((it) => feedForward(step!, it, byIdx.get(it.idx)));
    }
    progress.done += alive.length;
    progress.pending -= alive.length;
  }

  const chunks: Array<Array<[number, number]>> = [];
  for (let i = 0; i < work.pending.length; i += input.chunkSize) chunks.push(work.pending.slice(i, i + input.chunkSize));
  // Enough chunks in flight to keep `concurrency` instances at the endpoint, plus two: one
  // landing and one loading, so the endpoint's calls do not wait on the store between chunks.
  const inFlight = Math.ceil(input.concurrency / input.chunkSize) + 2;
  // A run with a budget stops starting chunks once its landed cost reaches it (chunks in
  // flight finish and land: their calls are paid for).
  await pool(chunks, inFlight, runChunk, () => progress.stopped !== undefined);
  return progress;
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

/** Run `fn` over `items` with at most `limit` in flight (deterministic: plain promises). */
async function pool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>, stop: () => boolean = () => false): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length && !stop()) await fn(items[next++]!);
  });
  await Promise.all(lanes);
}
