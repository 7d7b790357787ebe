// STUB (lead): replaced by the rate helper's module at merge.
export { createEndpointLimiter, type EndpointLimiter, type Permit, type CallObservation, type LimiterSnapshot, type RateLimits as EndpointLimits } from './limiter.js';
