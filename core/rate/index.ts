export type { EndpointLimiter, Permit, CallObservation, LimiterSnapshot, EndpointLimits, Clock } from './types.js';
export { createEndpointLimiter, DEFAULT_MAX_CONCURRENCY, DEFAULT_INITIAL_CONCURRENCY, type LimiterTuning } from './endpointLimiter.js';
export { fleetSizeFromPollers, LIVE_POLLER_MS, type DescribeTaskQueueLike } from './fleet.js';
export { readRateLimitHeaders, parseResetDuration, formatResetDuration, headerRecord, type RateLimitHeaders } from './headers.js';
export { systemClock } from './clock.js';
export { WindowBudget } from './windowBudget.js';
export { AimdWindow } from './adaptiveConcurrency.js';
