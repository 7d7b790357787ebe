/**
 * Rate control per endpoint (design: "Rate control", /work/design.md). Wiring, per endpoint worker
 * process and endpoint:
 *
 *   const limiter = createEndpointLimiter({ rpm, tpm, maxConcurrency, initialConcurrency });
 *   // per call:
 *   const permit = await limiter.acquire(promptTokensEstimate + maxTokens, abortSignal);
 *   ...call...  permit.release({ outcome: 'ok' | 'rate_limited' | 'error', latencyMs, promptTokens,
 *                                completionTokens, retryAfterMs, headers: headerRecord(response.headers) });
 *   // a 429: release it as 'rate_limited' (with its Retry-After) and acquire again: the wait is in
 *   // acquire, and it spends no attempt.
 *   // every 10 s: limiter.setFleetSize(fleetSizeFromPollers(await describeTaskQueue(ACTIVITY)))
 *   // heartbeats / progress: limiter.snapshot()
 */
export type { EndpointLimiter, Permit, CallObservation, LimiterSnapshot, EndpointLimits, Clock } from './types.js';
export { createEndpointLimiter, DEFAULT_MAX_CONCURRENCY, DEFAULT_INITIAL_CONCURRENCY, DEFAULT_REQUEST_TIMEOUT_MS, type LimiterTuning } from './endpointLimiter.js';
export { fleetSizeFromPollers, LIVE_POLLER_MS, type DescribeTaskQueueLike } from './fleet.js';
export { readRateLimitHeaders, parseResetDuration, formatResetDuration, headerRecord, type RateLimitHeaders } from './headers.js';
export { systemClock } from './clock.js';
export { WindowBudget, type BudgetEntry } from './windowBudget.js';
export { AimdWindow, type AimdOptions } from './adaptiveConcurrency.js';
