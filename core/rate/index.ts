/**
 * Rate control per endpoint (README, "Rate control"). Wiring, per endpoint worker
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
export type { EndpointLimiter, Permit, CallObservation, EndpointLimits, Clock } from './types.js';
export { createEndpointLimiter, DEFAULT_REQUEST_TIMEOUT_MS, type LimiterTuning } from './endpointLimiter.js';
export { fleetSizeFromPollers } from './fleet.js';
export { readRateLimitHeaders, parseResetDuration, formatResetDuration, headerRecord } from './headers.js';
export { systemClock } from './clock.js';
