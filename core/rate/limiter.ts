// STUB (lead): replaced by the rate helper's limiter at merge.
export interface RateLimits { rpm?: number; tpm?: number; maxConcurrency?: number; initialConcurrency?: number }
export interface CallObservation {
  outcome: 'ok' | 'rate_limited' | 'error';
  latencyMs: number;
  promptTokens?: number;
  completionTokens?: number;
  retryAfterMs?: number;
  headers?: Record<string, string>;
}
export interface Permit { release(o: CallObservation): void }
export interface LimiterSnapshot { concurrency: number; inFlight: number; rpm?: number; tpm?: number; share: number; calls: number; rateLimited: number }
export interface EndpointLimiter {
  acquire(estimatedTokens: number): Promise<Permit>;
  snapshot(): LimiterSnapshot;
  setFleetSize(n: number): void;
}

export function createEndpointLimiter(limits: RateLimits = {}): EndpointLimiter {
  let inFlight = 0;
  let holdUntil = 0;
  let calls = 0;
  let rateLimited = 0;
  const max = limits.maxConcurrency ?? 64;
  const waiters: Array<() => void> = [];
  const wake = () => { while (inFlight < max && waiters.length) { inFlight++; waiters.shift()!(); } };
  return {
    async acquire() {
      const wait = holdUntil - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait + Math.random() * 250));
      if (inFlight < max) inFlight++;
      else await new Promise<void>((r) => waiters.push(r));
      return {
        release(o) {
          calls++;
          if (o.outcome === 'rate_limited') { rateLimited++; holdUntil = Math.max(holdUntil, Date.now() + (o.retryAfterMs ?? 1000)); }
          inFlight--;
          wake();
        },
      };
    },
    snapshot: () => ({ concurrency: max, inFlight, share: 1, calls, rateLimited, rpm: limits.rpm, tpm: limits.tpm }),
    setFleetSize() {},
  };
}
