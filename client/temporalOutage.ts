import { isGrpcServiceError } from '@temporalio/client';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Riding out a Temporal outage (the dev server restarting, a cluster failing over): calls that
 * fail because Temporal cannot be reached are retried with backoff, and the user is told once
 * when it went away and once when it came back, instead of a stack trace.
 */

/** gRPC UNAVAILABLE (14), DEADLINE_EXCEEDED (4), or a transport error before any gRPC status. */
export function isTemporalUnreachable(e: unknown): boolean {
  for (let err = e as (Error & { code?: unknown; cause?: unknown }) | undefined, depth = 0; err && depth < 6; err = err.cause as typeof err, depth++) {
    if (isGrpcServiceError(err) && (err.code === 14 || err.code === 4)) return true;
    if (err.code === 14 || err.code === 4 || err.code === 'ECONNREFUSED' || err.code === 'ECONNRESET') return true;
    const msg = String(err.message ?? '');
    if (/UNAVAILABLE|DEADLINE_EXCEEDED|ECONNREFUSED|ECONNRESET|Connection refused|transport error|tcp connect error|Failed to connect|No connection established|connection (closed|reset)/i.test(msg)) return true;
  }
  return false;
}

function clock(d: Date): string {
  return d.toTimeString().slice(0, 8);
}

export interface OutageReporter {
  /** A call failed because Temporal is unreachable. Prints the first time only. */
  down(): void;
  /** A call succeeded. Prints "Temporal is back" if it was down. */
  up(): void;
  readonly isDown: boolean;
}

export function outageReporter(log: (s: string) => void): OutageReporter {
  let since: Date | undefined;
  return {
    down() {
      if (since) return;
      since = new Date();
      log(`Temporal unreachable since ${clock(since)}, retrying`);
    },
    up() {
      if (!since) return;
      log(`Temporal is back (unreachable for ${Math.round((Date.now() - since.getTime()) / 1000)}s)`);
      since = undefined;
    },
    get isDown() {
      return since !== undefined;
    },
  };
}


/**
 * Run `fn` until it succeeds or fails for another reason than an unreachable Temporal. Backoff
 * 0.5 s doubling to 5 s: a restarted dev server is noticed within seconds.
 */
export async function retryWhileUnreachable<T>(fn: () => Promise<T>, outage: OutageReporter, o: { maxDelayMs?: number; giveUpAfterMs?: number } = {}): Promise<T> {
  let delay = 500;
  const started = Date.now();
  for (;;) {
    try {
      const v = await fn();
      outage.up();
      return v;
    } catch (e) {
      if (!isTemporalUnreachable(e)) throw e;
      if (o.giveUpAfterMs !== undefined && Date.now() - started > o.giveUpAfterMs) throw e;
      outage.down();
      await sleep(delay);
      delay = Math.min(delay * 2, o.maxDelayMs ?? 5000);
    }
  }
}
