/**
 * What an endpoint worker has seen lately, for the progress line of the command that runs it
 * (in-process) and for heartbeats (remote workers): calls, 429s, the last error.
 *
 * Counted per call, not per landed chunk: with a slow endpoint a chunk lands only when its
 * slowest instance is through, so the run's own counts stand still for minutes while calls are
 * answered. These live in the worker's memory only (nothing more goes through Temporal).
 */
export class EndpointStats {
  calls = 0;
  ok = 0;
  rateLimited = 0;
  errors = 0;
  /** calls sent (answered or not) */
  started = 0;
  /** answers that did not parse and were asked again */
  reasked = 0;
  /** instances this worker took through their step (scored or failed), landed or not */
  instancesThrough = 0;
  /** sum of the latencies of answered calls, ms */
  private latencySumMs = 0;
  private readonly inFlight = new Map<number, number>();
  private nextCall = 0;
  lastError?: { message: string; at: number };
  /** Consecutive failed calls (any non-ok outcome but 429): a sustained failure shows up here. */
  failingStreak = 0;
  private readonly recent: number[] = [];

  /** A call is sent; the function returned says it ended (answered or not). */
  begin(now = Date.now()): () => void {
    const id = this.nextCall++;
    this.started++;
    this.inFlight.set(id, now);
    return () => void this.inFlight.delete(id);
  }

  /** Calls sent and not yet ended, and how long the oldest of them has been waiting. */
  inFlightNow(now = Date.now()): { count: number; oldestMs: number } {
    let oldest = now;
    for (const t of this.inFlight.values()) oldest = Math.min(oldest, t);
    return { count: this.inFlight.size, oldestMs: now - oldest };
  }

  /** Mean latency of answered calls, ms (undefined before the first answer). */
  meanLatencyMs(): number | undefined {
    return this.ok > 0 ? this.latencySumMs / this.ok : undefined;
  }

  record(outcome: 'ok' | 'rate_limited' | 'error', error?: string, now = Date.now(), latencyMs?: number): void {
    this.calls++;
    if (latencyMs !== undefined && outcome === 'ok') this.latencySumMs += latencyMs;
    if (outcome === 'ok') {
      this.ok++;
      this.failingStreak = 0;
      this.recent.push(now);
      if (this.recent.length > 4096) this.recent.splice(0, 2048);
    } else if (outcome === 'rate_limited') {
      this.rateLimited++;
    } else {
      this.errors++;
      this.failingStreak++;
      this.lastError = { message: error ?? 'error', at: now };
    }
  }

  /** Successful calls per second over the last `windowMs`. */
  rate(windowMs = 10_000, now = Date.now()): number {
    const from = now - windowMs;
    let n = 0;
    for (let i = this.recent.length - 1; i >= 0 && this.recent[i]! >= from; i--) n++;
    return n / (windowMs / 1000);
  }
}
