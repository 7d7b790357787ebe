import { ApplicationFailure } from '@temporalio/activity';
import { setTimeout as sleep } from 'node:timers/promises';
import { ProviderError, type ChatProvider, type ChatResult } from '../core/provider/provider.js';
import type { EndpointLimiter } from '../core/rate/index.js';
import { isOfflineBaseUrl } from '../core/provider/endpoint.js';
import type { ChatRequest } from '../core/prompts/chat.js';
import { unansweredByCrash, type CallChunkInput, type CallOutcome, type CallRecord, type ChunkItem, type StepOutcome } from '../core/pipeline.js';
import { itemState, type Checkpoint, type ItemState } from './checkpoint.js';
import type { EndpointStats } from './endpointStats.js';
import { joinCallTexts, stepCallKey, stepRequest } from './stepRequests.js';
import { requestTokenBound, requestWorstUsd } from '../core/cost/tokens.js';
import { formatUsd } from '../core/cost/pricing.js';
import { cacheUse } from '../core/cache/callKey.js';

const DEFAULT_PARSE_ATTEMPTS = 3;

/** What one instance's calls need from their chunk. */
export interface ItemRun {
  input: CallChunkInput;
  provider: ChatProvider;
  limiter: EndpointLimiter;
  stats: EndpointStats;
  cp: Checkpoint;
  /** Tell the heartbeat something changed. */
  changed(): void;
  backoffMs(failures: number): number;
  requestTimeoutMs?: number;
  /** The chunk's cancellation: a cancelled chunk's request is abandoned, not left to keep a one-slot server busy. */
  signal?: AbortSignal;
}

/**
 * One instance through the chunk's step: its calls (several for a per-skill judge), each through
 * the limiter and the provider, its answers through the step's parser. Rate limits are waited
 * out (they spend no attempt); transient errors spend one of `maxAttempts`, with backoff; an
 * unparseable answer is asked again, up to the parse attempts; a refused key stops the run.
 */
export async function runItem(item: ChunkItem, run: ItemRun): Promise<StepOutcome> {
  const { input } = run;
  const st = itemState(run.cp, item.idx);
  const finish = (o: Pick<StepOutcome, 'status'> & Partial<StepOutcome>) => finishItem(run, item.idx, st, o);
  const asked = stepRequest(input.step, item, input.settings, input.shuffleSeed, input.prompts);
  if ('cannot' in asked) return finish({ status: 'failed', error: asked.cannot });
  const parseAttempts = input.settings.maxParseAttempts ?? DEFAULT_PARSE_ATTEMPTS;
  const many = asked.calls.length > 1;
  // --max-cost: the workflow reserved the first try of each call; a re-ask must fit what is left of that.
  const worstFrom = async (part: number) => {
    let usd = 0;
    for (const c of asked.calls.slice(part)) usd += await requestWorstUsd(input.endpoint.model, c.request, input.budgetPrice!);
    return usd;
  };
  const allowance = input.budgetPrice ? await worstFrom(0) : undefined;
  // Several calls (one per skill): the verbatim answers, each under its call's label.
  const allText = (last?: string) => (many ? joinCallTexts(asked, [...st.texts, ...(last !== undefined ? [last] : [])]) : last);

  for (;;) {
    const call = asked.calls[st.part]!;
    if (st.partAttempts >= parseAttempts) {
      return finish({
        status: 'failed', text: allText(st.lastText), numbering: asked.numbering, template: asked.template,
        error: `unparseable answer after ${st.partAttempts} attempt(s)${many ? ` (call ${st.part + 1} of ${asked.calls.length})` : ''}: ${st.lastReason ?? 'unknown'}`,
      });
    }
    if (st.errors >= input.maxAttempts) return finish({ status: 'failed', error: `gave up after ${st.errors} failed call(s): ${st.lastError}` });
    if (allowance !== undefined && st.partAttempts > 0) {
      const spent = (st.promptTokens * input.budgetPrice!.input + st.completionTokens * input.budgetPrice!.output) / 1_000_000;
      const need = await worstFrom(st.part);
      if (spent + need > allowance + 1e-12) {
        return finish({
          status: 'failed', text: allText(st.lastText), numbering: asked.numbering, template: asked.template,
          error: `unparseable answer (${st.lastReason ?? 'unknown'}), not asked again under --max-cost: another try could cost up to ${formatUsd(need)}, ` +
            `more than the ${formatUsd(Math.max(0, allowance - spent))} left of this instance's reservation; \`--retry-failed\` with a higher --max-cost asks it again`,
        });
      }
    }

    const answer = await callOnce(run, st, call.request);
    if (answer === 'rate_limited') continue; // the limiter holds new calls until the endpoint's Retry-After
    if (answer instanceof ProviderError) {
      if (answer.kind === 'bad_request') return finish({ status: 'failed', error: answer.message });
      st.errors++;
      st.lastError = answer.message;
      if (st.errors < input.maxAttempts) await sleep(run.backoffMs(st.errors));
      continue;
    }
    st.attempts++;
    st.partAttempts++;
    st.promptTokens += answer.promptTokens;
    st.completionTokens += answer.completionTokens;
    st.lastText = answer.text;
    st.servedModel = answer.model;
    st.simulated = answer.simulated;
    const parsed = call.parse(answer.text);
    if (!parsed.ok) {
      st.lastReason = parsed.reason;
      if (st.partAttempts < parseAttempts) run.stats.reasked++;
      continue;
    }
    st.values.push(parsed.value);
    st.texts.push(answer.text);
    if (cacheUse(input.cache, call.request.temperature).write) {
      (st.cacheEntries ??= []).push({
        key: stepCallKey(input, asked, st.part), text: answer.text, finishReason: answer.finishReason, promptTokens: answer.promptTokens,
        completionTokens: answer.completionTokens, servedModel: answer.model, simulated: answer.simulated,
      });
    }
    st.lastText = undefined;
    st.lastReason = undefined;
    if (st.part + 1 < asked.calls.length) {
      st.part++;
      st.partAttempts = 0;
      run.changed();
      continue;
    }
    return finish({
      status: 'done', text: many ? allText() : answer.text, finishReason: answer.finishReason, value: asked.combine(st.values),
      numbering: asked.numbering, template: asked.template, servedModel: answer.model, simulated: answer.simulated,
      ...(asked.samples ? { samples: asked.samples(st.values) } : {}),
    });
  }
}

/**
 * One HTTP call, recorded whatever its outcome (in the instance's calls, the limiter and the
 * endpoint's live counts). Returns the answer, 'rate_limited', or the error that spends an
 * attempt; throws (non-retryable) when the key is refused or the model is unknown.
 */
async function callOnce(run: ItemRun, st: ItemState, request: ChatRequest): Promise<ChatResult | 'rate_limited' | ProviderError> {
  const permit = await run.limiter.acquire(await requestTokenBound(run.input.endpoint.model, request));
  const callNo = st.nextCallNo++;
  st.inFlight.push(callNo);
  st.sentAt = Date.now();
  run.changed();
  const startedAt = new Date().toISOString();
  const t0 = Date.now();
  const record = (outcome: CallOutcome, extra: Partial<CallRecord> = {}) => {
    st.calls.push({ callNo, outcome, promptTokens: 0, completionTokens: 0, latencyMs: Date.now() - t0, resent: st.resend, startedAt, ...extra });
    st.resend = false;
    st.inFlight = st.inFlight.filter((n) => n !== callNo);
    delete st.sentAt;
  };
  try {
    const ended = run.stats.begin(t0);
    const res = await run.provider.complete(run.input.endpoint.model, request, {
      ...(run.requestTimeoutMs ? { timeoutMs: run.requestTimeoutMs } : {}), ...(run.signal ? { signal: run.signal } : {}),
    }).finally(ended);
    permit.release({ outcome: 'ok', latencyMs: Date.now() - t0, promptTokens: res.promptTokens, completionTokens: res.completionTokens, headers: res.rateHeaders });
    run.stats.record('ok', undefined, Date.now(), Date.now() - t0);
    record('ok', { httpStatus: 200, promptTokens: res.promptTokens, completionTokens: res.completionTokens });
    // A lost (or possibly sent) call asked the same thing: its cost is best estimated by this one's.
    for (const c of st.calls) if (unansweredByCrash(c.outcome) && c.promptTokens === 0) Object.assign(c, { promptTokens: res.promptTokens, completionTokens: res.completionTokens });
    return res;
  } catch (e) {
    const pe = e instanceof ProviderError ? e : new ProviderError('connection', (e as Error)?.message ?? String(e));
    const latencyMs = Date.now() - t0;
    if (pe.kind === 'rate_limit') {
      permit.release({ outcome: 'rate_limited', latencyMs, retryAfterMs: pe.retryAfterMs, headers: pe.rateHeaders });
      run.stats.record('rate_limited');
      record('rate_limited', { httpStatus: 429 });
      return 'rate_limited';
    }
    permit.release({ outcome: 'error', latencyMs, headers: pe.rateHeaders, timedOut: pe.kind === 'timeout' });
    run.stats.record('error', pe.message);
    run.cp.lastError = pe.message;
    record(outcomeOf(pe.kind), pe.status !== undefined ? { httpStatus: pe.status } : {});
    if (pe.kind === 'auth' || pe.kind === 'not_found') throw ApplicationFailure.nonRetryable(pe.message, `ProviderError.${pe.kind}`);
    return pe;
  }
}

/** The instance's outcome, its state dropped from the checkpoint. */
function finishItem(run: ItemRun, idx: number, st: ItemState, o: Pick<StepOutcome, 'status'> & Partial<StepOutcome>): StepOutcome {
  delete run.cp.items[idx];
  run.stats.instancesThrough++;
  // A failed instance keeps who answered it (an unparseable answer is still the served model's); with no
  // answer at all, the in-process offline server is simulated by its address alone.
  return {
    idx, attempts: st.attempts, promptTokens: st.promptTokens, completionTokens: st.completionTokens,
    ...(st.servedModel !== undefined ? { servedModel: st.servedModel } : {}),
    simulated: st.simulated ?? isOfflineBaseUrl(run.input.endpoint.baseUrl), startedAt: st.startedAt, finishedAt: new Date().toISOString(), calls: st.calls,
    ...(st.cacheEntries?.length ? { cacheEntries: st.cacheEntries } : {}), ...o,
  };
}

function outcomeOf(kind: ProviderError['kind']): CallOutcome {
  switch (kind) {
    case 'rate_limit': return 'rate_limited';
    case 'timeout': return 'timeout';
    case 'connection': return 'connection';
    case 'server': return 'server_error';
    default: return 'bad_request';
  }
}
