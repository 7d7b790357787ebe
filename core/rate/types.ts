/**
 * The rate-control contract shared by the endpoint worker (activities/callChunk.ts) and the
 * limiter (core/rate/endpointLimiter.ts). One limiter per endpoint per worker process.
 */

export interface EndpointLimiter {
  /**
   * Waits for a concurrency slot and the RPM/TPM budget (and any Retry-After hold in force).
   * `estimatedTokens`: prompt estimate + max_tokens (0 = unknown). An aborted `signal` takes the
   * caller out of the queue and rejects with its reason (a cancelled activity must not leave a
   * waiter behind that would later hold a slot nobody releases).
   */
  acquire(estimatedTokens: number, signal?: AbortSignal): Promise<Permit>;
  snapshot(): LimiterSnapshot;
  /** Limits are fleet-wide: with n live workers on the endpoint, each uses 1/n of them. */
  setFleetSize(n: number): void;
}

export interface Permit {
  /** Exactly once per permit (later calls are ignored): what became of the call. */
  release(o: CallObservation): void;
}

export interface CallObservation {
  /** 'rate_limited' = HTTP 429; 'error' = anything else that failed (5xx, timeout, 400, ...). */
  outcome: 'ok' | 'rate_limited' | 'error';
  latencyMs: number;
  /** usage as the endpoint reported it (corrects the TPM budget charged at acquire) */
  promptTokens?: number;
  completionTokens?: number;
  /** a 429's Retry-After, in ms */
  retryAfterMs?: number;
  /** an 'error' that was the request timeout */
  timedOut?: boolean;
  /** response headers, lower-case names (x-ratelimit-* are read when present) */
  headers?: Record<string, string>;
}

export interface LimiterSnapshot {
  /** 'paced' when an RPM or TPM limit is in force (given, or learned from x-ratelimit-limit-*), else 'adaptive' */
  mode: 'paced' | 'adaptive';
  /** calls this process lets be in flight now (the AIMD window, or the max concurrency when paced) */
  concurrency: number;
  inFlight: number;
  /** acquires waiting */
  waiting: number;
  /** the request limit in force for THIS process, per minute (fleet limit x share); absent = none */
  rpm?: number;
  /** the token limit in force for THIS process, per minute; absent = none */
  tpm?: number;
  /** 1 / fleet size */
  share: number;
  fleetSize: number;
  /** releases with outcome 'rate_limited' (HTTP 429), since the limiter was created */
  rateLimited: number;
  /** releases of any outcome, since the limiter was created */
  calls: number;
  errors: number;
  /** calls acquired in the last 60 s, and the tokens they were charged (corrected by usage) */
  requestsLastMinute: number;
  tokensLastMinute: number;
  /** ms until a Retry-After / back-off hold ends (0 = none) */
  holdMs: number;
  /** EMA of reported usage / estimate (estimates are scaled by max(1, this)) */
  tokenEstimateRatio: number;
  /** adaptive mode: the lowest latency seen, the reference for "latency holds" */
  latencyFloorMs?: number;
  /** adaptive mode: the mean latency of the last full window */
  latencyMeanMs?: number;
}

export interface EndpointLimits {
  /** fleet-wide requests per minute */
  rpm?: number;
  /** fleet-wide tokens per minute (estimate at acquire, corrected by reported usage) */
  tpm?: number;
  /** fleet-wide cap on calls in flight; unset: adaptive, up to 256 */
  maxConcurrency?: number;
  /** adaptive mode: the starting window (default 1: a slow or serial server is never flooded before its latency is known) */
  initialConcurrency?: number;
  /** a call's timeout, queueing at the server included (--request-timeout); adaptive mode keeps the latency it causes under half of it */
  requestTimeoutMs?: number;
}

/** Time source; injectable so unit tests run on a fake clock. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
  /** uniform [0, 1): jitter */
  random(): number;
}
