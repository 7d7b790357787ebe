/**
 * What an endpoint worker has seen lately, for the progress line of the command that runs it
 * (in-process) and for heartbeats (remote workers): calls, 429s, the last error.
 */
export class EndpointStats {
  calls = 0;
  ok = 0;
  rateLimited = 0;
  errors = 0;
  lastError?: { message: string; at: number };
  /** Consecutive failed calls (any non-ok outcome but 429): a sustained failure shows up here. */
  failingStreak = 0;
  private readonly recent: number[] = [];

  record(outcome: 'ok' | 'rate_limited' | 'error', error?: string, now = Date.now()): void {
    this.calls++;
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
    for (let i = this.recent.length - 1; i >= 0 && this.recent[i] >= from; i--) n++;
    return n / (windowMs / 1000);
  }
}
