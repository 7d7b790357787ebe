/**
 * A chunk's heartbeats: when its calls start or end, coalesced, and every second while calls wait.
 * The server then knows which calls were in flight if the worker dies (they are recorded as lost
 * and sent again). Changes are sent at once after a quiet spell, else at most every
 * `coalesceMs`: the SDK sends at most one heartbeat a second anyway (the latest details), but
 * encodes the details at every call, and a chunk of 100 fast calls would otherwise serialise its
 * growing checkpoint hundreds of times.
 */
export class HeartbeatCoalescer {
  private pending: NodeJS.Timeout | undefined;
  private lastBeat = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly send: () => void,
    private readonly coalesceMs = 200,
    everyMs = 1000,
  ) {
    this.timer = setInterval(() => this.beatNow(), everyMs);
  }

  /** Something worth telling the server changed: heartbeat soon. */
  changed(): void {
    if (this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      this.beatNow();
    }, Math.max(0, this.lastBeat + this.coalesceMs - Date.now()));
  }

  stop(): void {
    clearInterval(this.timer);
    clearTimeout(this.pending);
  }

  private beatNow(): void {
    this.lastBeat = Date.now();
    this.send();
  }
}
