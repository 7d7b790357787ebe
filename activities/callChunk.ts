import { ApplicationFailure, Context } from '@temporalio/activity';
import type { EndpointRef } from '../core/provider/endpoint.js';
import { ProviderError, type ChatProvider } from '../core/provider/provider.js';
import type { EndpointLimiter } from '../core/rate/index.js';
import type { EndpointActivities } from '../core/activityContracts.js';
import type { CallChunkInput, CallChunkResult, CallOutcome, CallRecord, ChunkItem, StepOutcome } from '../core/pipeline.js';
import { estimatePromptTokens, stepRequest } from './stepRequests.js';
import { EndpointStats } from './endpointStats.js';
import { createBatchActivities } from './batchCalls.js';
import { setTimeout as sleep } from 'node:timers/promises';

export interface EndpointDeps {
  /** The endpoint this worker serves: activities for any other are refused. */
  endpoint: EndpointRef;
  provider: ChatProvider;
  limiter: EndpointLimiter;
  stats?: EndpointStats;
  /** A call's timeout (--request-timeout; the provider's default otherwise). */
  requestTimeoutMs?: number;
  /** Backoff after a transient error (ms, by failed-call count); tests shorten it. */
  backoffMs?: (failures: number) => number;
}

const DEFAULT_PARSE_ATTEMPTS = 3;
const HEARTBEAT_EVERY_MS = 1000;
/**
 * Changes are heartbeated at most this often. The SDK sends at most one heartbeat a second
 * anyway (the latest details), but encodes the details at every call: a chunk of 100 fast calls
 * would otherwise serialise its growing checkpoint hundreds of times.
 */
const HEARTBEAT_COALESCE_MS = 200;

/** Where one instance of a chunk stands: heartbeated, so a retried chunk carries on from it. */
interface ItemState {
  calls: CallRecord[];
  /** Call numbers sent and not yet answered: if the worker dies now, these are lost. */
  inFlight: number[];
  /** When the call in flight was sent (ms since the epoch): `status` shows the oldest call's age. */
  sentAt?: number;
  nextCallNo: number;
  errors: number;
  attempts: number;
  /** The call of a multi-call step (a per-skill judge) this instance is at, its answers so far, and its parse attempts. */
  part: number;
  partAttempts: number;
  values: unknown[];
  texts: string[];
  promptTokens: number;
  completionTokens: number;
  lastText?: string;
  lastReason?: string;
  lastError?: string;
  startedAt: string;
  /** The next call repeats one lost in a crash. */
  resend: boolean;
}

/**
 * A chunk's heartbeat. `status` (another process) reads its live counts from here (calls per
 * outcome, instances through, calls in flight and since when): the heartbeat is sent anyway and
 * never enters history, so the live view adds a model name and a timestamp per call in flight
 * to it, instead of a query or signal whose results would be separate payloads.
 */
export interface Checkpoint {
  /** the endpoint's model (for the live view) */
  model?: string;
  done: StepOutcome[];
  items: Record<number, ItemState>;
  lastError?: string;
}

/**
 * The endpoint worker's activity: every instance of a chunk through one step. It touches no
 * file: what it needs comes in its input, what it produced goes back to the workflow, which
 * has the store land it. Rate limits are waited out here (they spend no attempt); transient
 * errors spend one of `maxAttempts`; an unparseable answer is asked again (bounded). Progress is
 * heartbeated every second, so when a worker dies the retried chunk skips finished instances
 * and records the calls that were in flight as lost (they are sent again, and counted).
 */
export function createEndpointActivities(deps: EndpointDeps): EndpointActivities {
  const stats = deps.stats ?? new EndpointStats();
  // 0.5 s, 1 s, 2 s, ... (the openai SDK's own schedule, which it does not run here): an instance
  // waiting on a long backoff holds up its whole chunk's landing.
  const backoffMs = deps.backoffMs ?? ((n: number) => Math.min(30_000, 500 * 2 ** (n - 1)) * (0.8 + Math.random() * 0.4));

  return {
    ...createBatchActivities({ endpoint: deps.endpoint, provider: deps.provider }),
    async callChunk(input: CallChunkInput): Promise<CallChunkResult> {
      if (input.endpoint.id !== deps.endpoint.id) {
        throw ApplicationFailure.nonRetryable(
          `this worker serves ${deps.endpoint.model} at ${deps.endpoint.baseUrl}, but run ${input.runId} is bound to ` +
            `${input.endpoint.model} at ${input.endpoint.baseUrl}: start a worker for that endpoint`,
          'EndpointMismatch',
        );
      }
      const ctx = currentContext();
      const carried = ctx?.info.heartbeatDetails as Checkpoint | undefined;
      const cp: Checkpoint = { model: input.endpoint.model, done: carried?.done ?? [], items: carried?.items ?? {} };
      let lost = 0;
      // Calls in flight when the last worker died: paid for, answer lost. Record them; the next
      // call of that instance is marked as a re-send.
      for (const st of Object.values(cp.items)) {
        for (const callNo of st.inFlight) {
          st.calls.push({ callNo, outcome: 'lost', promptTokens: 0, completionTokens: 0, latencyMs: 0, resent: false, startedAt: st.startedAt });
          st.resend = true;
          lost++;
        }
        st.inFlight = [];
      }
      const doneIdx = new Set(cp.done.map((o) => o.idx));
      // Heartbeat when calls start or end (coalesced: at once after a quiet spell, else at most
      // every HEARTBEAT_COALESCE_MS; the SDK then sends at most one a second), and every second
      // while calls wait: the server knows which calls were in flight if this worker dies.
      let pending: NodeJS.Timeout | undefined;
      let lastBeat = 0;
      const beatNow = () => {
        lastBeat = Date.now();
        ctx?.heartbeat(cp);
      };
      const changed = () => {
        if (pending || !ctx) return;
        pending = setTimeout(() => {
          pending = undefined;
          beatNow();
        }, Math.max(0, lastBeat + HEARTBEAT_COALESCE_MS - Date.now()));
      };
      const beat = setInterval(beatNow, HEARTBEAT_EVERY_MS);
      if (lost > 0) changed();
      let calls = 0, rateLimited = 0, errors = 0;
      try {
        await Promise.all(
          input.items.filter((it) => !doneIdx.has(it.idx)).map(async (item) => {
            const outcome = await runItem(item);
            cp.done.push(outcome);
            changed();
          }),
        );
      } finally {
        clearInterval(beat);
        clearTimeout(pending);
      }
      const byIdx = new Map(cp.done.map((o) => [o.idx, o]));
      const results = input.items.map((it) => byIdx.get(it.idx)!).filter(Boolean);
      let tokens = 0;
      for (const r of results) {
        tokens += r.promptTokens + r.completionTokens;
        for (const c of r.calls) {
          if (c.outcome === 'lost') continue;
          calls++;
          if (c.outcome === 'rate_limited') rateLimited++;
          else if (c.outcome !== 'ok') errors++;
        }
      }
      return { results, stats: { calls, rateLimited, errors, tokens, lost } };

      async function runItem(item: ChunkItem): Promise<StepOutcome> {
        const st: ItemState = (cp.items[item.idx] ??= {
          calls: [], inFlight: [], nextCallNo: 1, errors: 0, attempts: 0, part: 0, partAttempts: 0, values: [], texts: [],
          promptTokens: 0, completionTokens: 0, startedAt: new Date().toISOString(), resend: false,
        });
        // A checkpoint heartbeated before multi-call steps existed: one call, its attempts so far.
        st.values ??= [];
        st.texts ??= [];
        st.part ??= 0;
        st.partAttempts ??= st.attempts;
        const finish = (o: Pick<StepOutcome, 'status'> & Partial<StepOutcome>): StepOutcome => {
          delete cp.items[item.idx];
          stats.instancesThrough++;
          return {
            idx: item.idx, attempts: st.attempts, promptTokens: st.promptTokens, completionTokens: st.completionTokens,
            simulated: false, startedAt: st.startedAt, finishedAt: new Date().toISOString(), calls: st.calls, ...o,
          };
        };
        const asked = stepRequest(input.step, item, input.settings, input.shuffleSeed);
        if ('cannot' in asked) return finish({ status: 'failed', error: asked.cannot });
        const parseAttempts = input.settings.maxParseAttempts ?? DEFAULT_PARSE_ATTEMPTS;
        const many = asked.calls.length > 1;
        // Several calls (one per skill): the verbatim answers, each under its call's label.
        const allText = (last?: string) =>
          many ? [...st.texts, ...(last !== undefined ? [last] : [])].map((t, i) => `[${asked.calls[i]?.label ?? i + 1}]\n${t}`).join('\n\n') : last;

        for (;;) {
          const call = asked.calls[st.part];
          const estimate = estimatePromptTokens(call.request) + call.request.maxTokens;
          if (st.partAttempts >= parseAttempts) {
            return finish({
              status: 'failed', text: allText(st.lastText), numbering: asked.numbering, template: asked.template,
              error: `unparseable answer after ${st.partAttempts} attempt(s)${many ? ` (call ${st.part + 1} of ${asked.calls.length})` : ''}: ${st.lastReason ?? 'unknown'}`,
            });
          }
          if (st.errors >= input.maxAttempts) {
            return finish({ status: 'failed', error: `gave up after ${st.errors} failed call(s): ${st.lastError}` });
          }
          const permit = await deps.limiter.acquire(estimate);
          const callNo = st.nextCallNo++;
          st.inFlight.push(callNo);
          st.sentAt = Date.now();
          changed();
          const startedAt = new Date().toISOString();
          const t0 = Date.now();
          const record = (outcome: CallOutcome, extra: Partial<CallRecord> = {}): CallRecord => {
            const c: CallRecord = {
              callNo, outcome, promptTokens: 0, completionTokens: 0, latencyMs: Date.now() - t0, resent: st.resend, startedAt, ...extra,
            };
            st.resend = false;
            st.calls.push(c);
            st.inFlight = st.inFlight.filter((n) => n !== callNo);
            delete st.sentAt;
            return c;
          };
          try {
            // Cancelled chunk (run terminated, worker stopping): the request is abandoned, not left
            // to keep a one-slot server busy.
            const ended = stats.begin(t0);
            const res = await deps.provider.complete(input.endpoint.model, call.request, {
              ...(deps.requestTimeoutMs ? { timeoutMs: deps.requestTimeoutMs } : {}), ...(ctx ? { signal: ctx.cancellationSignal } : {}),
            }).finally(ended);
            permit.release({
              outcome: 'ok', latencyMs: Date.now() - t0, promptTokens: res.promptTokens, completionTokens: res.completionTokens, headers: res.rateHeaders,
            });
            stats.record('ok', undefined, Date.now(), Date.now() - t0);
            record('ok', { httpStatus: 200, promptTokens: res.promptTokens, completionTokens: res.completionTokens });
            // A lost call asked the same thing: its cost is best estimated by this one's.
            for (const c of st.calls) if (c.outcome === 'lost' && c.promptTokens === 0) Object.assign(c, { promptTokens: res.promptTokens, completionTokens: res.completionTokens });
            st.attempts++;
            st.partAttempts++;
            st.promptTokens += res.promptTokens;
            st.completionTokens += res.completionTokens;
            st.lastText = res.text;
            const parsed = call.parse(res.text);
            if (parsed.ok) {
              st.values.push(parsed.value);
              st.texts.push(res.text);
              st.lastText = undefined;
              st.lastReason = undefined;
              if (st.part + 1 < asked.calls.length) {
                st.part++;
                st.partAttempts = 0;
                changed();
                continue;
              }
              return finish({
                status: 'done', text: many ? allText() : res.text, finishReason: res.finishReason, value: asked.combine(st.values),
                numbering: asked.numbering, template: asked.template, servedModel: res.model, simulated: res.simulated,
                ...(asked.samples ? { samples: asked.samples(st.values) } : {}),
              });
            }
            st.lastReason = parsed.reason;
            if (st.partAttempts < parseAttempts) stats.reasked++;
          } catch (e) {
            const pe = e instanceof ProviderError ? e : new ProviderError('connection', (e as Error)?.message ?? String(e));
            const latencyMs = Date.now() - t0;
            if (pe.kind === 'rate_limit') {
              permit.release({ outcome: 'rate_limited', latencyMs, retryAfterMs: pe.retryAfterMs, headers: pe.rateHeaders });
              stats.record('rate_limited');
              record('rate_limited', { httpStatus: 429 });
              continue; // the limiter holds new calls until the endpoint's Retry-After
            }
            permit.release({ outcome: 'error', latencyMs, headers: pe.rateHeaders, timedOut: pe.kind === 'timeout' });
            stats.record('error', pe.message);
            cp.lastError = pe.message;
            record(outcomeOf(pe.kind), pe.status !== undefined ? { httpStatus: pe.status } : {});
            if (pe.kind === 'auth' || pe.kind === 'not_found') {
              throw ApplicationFailure.nonRetryable(pe.message, `ProviderError.${pe.kind}`);
            }
            if (pe.kind === 'bad_request') return finish({ status: 'failed', error: pe.message });
            st.errors++;
            st.lastError = pe.message;
            if (st.errors < input.maxAttempts) await sleep(backoffMs(st.errors));
          }
        }
      }
    },
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

function currentContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined; // called outside an activity (unit tests)
  }
}

