/**
 * One limiter per endpoint per worker process: every call to the endpoint acquires a permit
 * first and releases it with what happened.
 *
 * With an RPM and/or TPM limit (given, or learned from the endpoint's x-ratelimit-limit-* headers)
 * calls are PACED (core/rate/windowBudget.ts): evenly spaced, never more than the limit in any
 * sliding minute, ~98% of it in steady state. With no limit known, the number of calls in flight
 * follows AIMD (core/rate/adaptiveConcurrency.ts) from `initialConcurrency` up to `maxConcurrency`.
 *
 * A 429 holds every new acquire until its Retry-After (+ a little jitter) has passed. Holds are a
 * deadline, not a sum: 50 calls answered 429 for the same reason move it once, to the latest
 * Retry-After, and a 429 without Retry-After raises the back-off only if the call was acquired
 * after the last back-off started (calls already in flight report the same event).
 *
 * Limits are fleet-wide: setFleetSize(n) makes this process use 1/n of each (requests, tokens,
 * max concurrency).
 */
import { AimdWindow } from './adaptiveConcurrency.js';
import { systemClock } from './clock.js';
import { readRateLimitHeaders } from './headers.js';
import type { CallObservation, Clock, EndpointLimiter, EndpointLimits, LimiterSnapshot, Permit } from './types.js';
import { WindowBudget, type BudgetEntry } from './windowBudget.js';

export interface LimiterTuning {
  /** the provider's window (default 60 000 ms) */
  windowMs?: number;
  /** how much further back than the provider the limiter looks (default 1 000 ms); see windowBudget.ts */
  marginMs?: number;
  /** first back-off after a 429 without Retry-After (default 500 ms), doubling to backoffMaxMs (30 000) */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** jitter added to a hold: uniform in [0, min(jitterMaxMs, 10% of the hold)] (default 250 ms) */
  jitterMaxMs?: number;
  /** AIMD: grow while mean latency <= tolerance x floor + slack (defaults 1.5 and 20 ms) */
  latencyTolerance?: number;
  latencySlackMs?: number;
}

const DEFAULT_MAX_CONCURRENCY = 256;
const DEFAULT_INITIAL_CONCURRENCY = 1;
/** A call's timeout when none is given (--request-timeout). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 120_000;

interface Waiter {
  estimate: number;
  resolve(p: Permit): void;
}

function positive(name: string, v: number | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!Number.isFinite(v) || v <= 0) throw new RangeError(`${name} must be a number > 0 (got ${v})`);
  return v;
}

export function createEndpointLimiter(limits: EndpointLimits = {}, clock: Clock = systemClock, tuning: LimiterTuning = {}): EndpointLimiter {
  const givenRpm = positive('rpm', limits.rpm);
  const givenTpm = positive('tpm', limits.tpm);
  const maxConcurrency = Math.floor(positive('maxConcurrency', limits.maxConcurrency) ?? DEFAULT_MAX_CONCURRENCY);
  const initial = Math.floor(positive('initialConcurrency', limits.initialConcurrency) ?? DEFAULT_INITIAL_CONCURRENCY);
  const windowMs = tuning.windowMs ?? 60_000;
  const marginMs = tuning.marginMs ?? 1_000;
  const backoffBaseMs = tuning.backoffBaseMs ?? 500;
  const backoffMaxMs = tuning.backoffMaxMs ?? 30_000;
  const jitterMaxMs = tuning.jitterMaxMs ?? 250;

  let fleetSize = 1;
  let share = 1;
  let learnedRpm: number | undefined;
  let learnedTpm: number | undefined;
  let rpmBudget: WindowBudget | undefined;
  let tpmBudget: WindowBudget | undefined;
  const userPaced = givenRpm !== undefined || givenTpm !== undefined;
  const aimd = new AimdWindow({
    initial, max: maxConcurrency, latencyTolerance: tuning.latencyTolerance, latencySlackMs: tuning.latencySlackMs,
    ...(limits.requestTimeoutMs ? { latencyCeilingMs: limits.requestTimeoutMs / 2 } : {}),
  });
  // For the snapshot only (what was sent in the last minute): no pacing, no limit.
  const recentRequests = new WindowBudget(Number.MAX_SAFE_INTEGER, windowMs, 0);
  const recentTokens = new WindowBudget(Number.MAX_SAFE_INTEGER, windowMs, 0);

  const waiters: Waiter[] = [];
  let inFlight = 0;
  let holdUntil = 0;
  let backoffLevel = 0;
  let holdEpoch = 0;
  let tokenRatio = 1;
  let lastCharge = 0;
  let calls = 0;
  let rateLimited = 0;
  let errors = 0;
  let wakeAt: number | undefined;
  let pumping = false;

  const fleetRpm = (): number | undefined => (givenRpm !== undefined && learnedRpm !== undefined ? Math.min(givenRpm, learnedRpm) : givenRpm ?? learnedRpm);
  const fleetTpm = (): number | undefined => (givenTpm !== undefined && learnedTpm !== undefined ? Math.min(givenTpm, learnedTpm) : givenTpm ?? learnedTpm);
  const maxShare = (): number => Math.max(1, Math.ceil(maxConcurrency * share));
  const concurrencyLimit = (): number => (userPaced ? maxShare() : Math.min(aimd.limit, maxShare()));

  function applyLimits(): void {
    const r = fleetRpm();
    const t = fleetTpm();
    if (r !== undefined) {
      if (rpmBudget) rpmBudget.setLimit(r * share);
      else rpmBudget = new WindowBudget(r * share, windowMs, marginMs);
    }
    if (t !== undefined) {
      if (tpmBudget) tpmBudget.setLimit(t * share);
      else tpmBudget = new WindowBudget(t * share, windowMs, marginMs);
    }
    aimd.setMax(maxShare());
  }
  applyLimits();

  const jitter = (holdMs: number): number => clock.random() * Math.min(jitterMaxMs, holdMs * 0.1);
  const holdFor = (now: number, ms: number): void => {
    holdUntil = Math.max(holdUntil, now + ms + jitter(ms));
  };
  // Reserve at least the estimate (an endpoint admits on prompt + max_tokens); pace by the usage expected.
  const chargeFor = (estimate: number): number => Math.max(0, estimate) * Math.max(1, tokenRatio);
  const expectedFor = (estimate: number): number => Math.max(0, estimate) * tokenRatio;

  function scheduleWake(at: number, now: number): void {
    if (wakeAt !== undefined && wakeAt <= at) return;
    wakeAt = at;
    void clock.sleep(Math.ceil(at - now)).then(() => {
      if (wakeAt === at) wakeAt = undefined;
      pump();
    });
  }

  function pump(): void {
    if (pumping) return;
    pumping = true;
    try {
      while (waiters.length > 0) {
        const now = clock.now();
        if (inFlight >= concurrencyLimit()) {
          aimd.noteSaturated();
          return; // a release pumps again
        }
        const w = waiters[0];
        const charge = chargeFor(w!.estimate);
        let at = Math.max(now, holdUntil);
        if (rpmBudget) at = Math.max(at, rpmBudget.readyAt(now, 1));
        if (tpmBudget) at = Math.max(at, tpmBudget.readyAt(now, charge));
        if (at > now) {
          scheduleWake(at, now);
          return;
        }
        waiters.shift();
        w!.resolve(grant(now, w!.estimate, charge));
      }
    } finally {
      pumping = false;
    }
  }

  function grant(now: number, estimate: number, charge: number): Permit {
    inFlight++;
    lastCharge = charge;
    rpmBudget?.take(now, 1);
    const tpmEntry: BudgetEntry | undefined = tpmBudget?.take(now, charge, expectedFor(estimate));
    const tpmOwner = tpmBudget;
    recentRequests.take(now, 1);
    const recentEntry = recentTokens.take(now, charge);
    if (inFlight >= concurrencyLimit()) aimd.noteSaturated();
    const epoch = aimd.epoch;
    const myHoldEpoch = holdEpoch;
    let released = false;
    return {
      release(o: CallObservation): void {
        if (released) return;
        released = true;
        inFlight--;
        calls++;
        const t = clock.now();
        const reported = o.promptTokens !== undefined || o.completionTokens !== undefined ? (o.promptTokens ?? 0) + (o.completionTokens ?? 0) : undefined;
        if (reported !== undefined) {
          if (o.outcome === 'ok' && estimate > 0) tokenRatio = 0.8 * tokenRatio + 0.2 * (reported / estimate);
          if (tpmEntry && tpmOwner === tpmBudget) tpmBudget!.correct(tpmEntry, reported, t);
          recentTokens.correct(recentEntry, reported, t);
        }
        if (o.outcome === 'ok') {
          aimd.onSuccess(o.latencyMs);
          backoffLevel = 0;
        } else if (o.outcome === 'rate_limited') {
          rateLimited++;
          if (!userPaced) aimd.onRateLimited(epoch);
          if (o.retryAfterMs !== undefined && Number.isFinite(o.retryAfterMs) && o.retryAfterMs >= 0) {
            holdFor(t, o.retryAfterMs);
          } else if (myHoldEpoch === holdEpoch) {
            // the first 429 of this back-off epoch raises it; the others were already in flight
            backoffLevel++;
            holdEpoch++;
            holdFor(t, Math.min(backoffMaxMs, backoffBaseMs * 2 ** (backoffLevel - 1)));
          }
        } else {
          errors++;
          if (o.timedOut && !userPaced) aimd.onTimeout(epoch);
        }
        observeHeaders(o.headers, t);
        pump();
      },
    };
  }

  function observeHeaders(headers: Record<string, string> | undefined, now: number): void {
    if (!headers) return;
    const h = readRateLimitHeaders(headers);
    if (h.limitRequests !== undefined && h.limitRequests > 0 && h.limitRequests !== learnedRpm) {
      const first = rpmBudget === undefined;
      learnedRpm = h.limitRequests;
      applyLimits();
      // requests already counted by the provider in its current window (our share of them)
      if (first && h.remainingRequests !== undefined) rpmBudget!.seed(now, Math.max(0, h.limitRequests - h.remainingRequests) * share);
    }
    if (h.limitTokens !== undefined && h.limitTokens > 0 && h.limitTokens !== learnedTpm) {
      const first = tpmBudget === undefined;
      learnedTpm = h.limitTokens;
      applyLimits();
      if (first && h.remainingTokens !== undefined) tpmBudget!.seed(now, Math.max(0, h.limitTokens - h.remainingTokens) * share);
    }
    // Pace before the 429: nothing left until the reset -> hold until then.
    if (h.remainingRequests !== undefined && h.remainingRequests < 1 && h.resetRequestsMs !== undefined) holdFor(now, h.resetRequestsMs);
    if (h.remainingTokens !== undefined && h.remainingTokens < Math.max(1, lastCharge) && h.resetTokensMs !== undefined) holdFor(now, h.resetTokensMs);
  }

  return {
    acquire(estimatedTokens: number, signal?: AbortSignal): Promise<Permit> {
      const estimate = Number.isFinite(estimatedTokens) && estimatedTokens > 0 ? estimatedTokens : 0;
      return new Promise<Permit>((resolve, reject) => {
        if (signal?.aborted) {
          reject(signal.reason);
          return;
        }
        const onAbort = (): void => {
          const i = waiters.indexOf(w);
          if (i >= 0) waiters.splice(i, 1);
          reject(signal!.reason);
          pump(); // the head may have changed
        };
        const w: Waiter = {
          estimate,
          resolve: (p) => {
            signal?.removeEventListener('abort', onAbort);
            resolve(p);
          },
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        waiters.push(w);
        pump();
      });
    },

    setFleetSize(n: number): void {
      const size = Number.isFinite(n) ? Math.max(1, Math.floor(n)) : 1;
      if (size === fleetSize) return;
      fleetSize = size;
      share = 1 / size;
      applyLimits();
      pump();
    },

    snapshot(): LimiterSnapshot {
      const now = clock.now();
      const r = fleetRpm();
      const t = fleetTpm();
      return {
        mode: r !== undefined || t !== undefined ? 'paced' : 'adaptive',
        concurrency: concurrencyLimit(),
        inFlight,
        waiting: waiters.length,
        ...(r !== undefined ? { rpm: r * share } : {}),
        ...(t !== undefined ? { tpm: t * share } : {}),
        share,
        fleetSize,
        rateLimited,
        calls,
        errors,
        requestsLastMinute: recentRequests.used(now),
        tokensLastMinute: Math.round(recentTokens.used(now)),
        holdMs: Math.max(0, holdUntil - now),
        tokenEstimateRatio: tokenRatio,
        ...(aimd.latencyFloorMs !== undefined ? { latencyFloorMs: aimd.latencyFloorMs } : {}),
        ...(aimd.meanLatencyMs !== undefined ? { latencyMeanMs: aimd.meanLatencyMs } : {}),
      };
    },
  };
}
