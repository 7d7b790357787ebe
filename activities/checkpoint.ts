import { unansweredByCrash, type CacheEntry, type CallRecord, type ChunkStats, type StepOutcome } from '../core/pipeline.js';

/** Where one instance of a chunk stands: heartbeated, so a retried chunk carries on from it. */
export interface ItemState {
  calls: CallRecord[];
  /** Call numbers sent and not yet answered: if the worker dies now, these are lost. */
  inFlight: number[];
  /** When the call in flight was sent (ms since the epoch): `status` shows the oldest call's age. */
  sentAt?: number;
  nextCallNo: number;
  errors: number;
  attempts: number;
  /** The call of a multi-call step (a per-skill judge) this instance is at, its answers so far, and its parse attempts. */
  part: number;
  partAttempts: number;
  values: unknown[];
  texts: string[];
  promptTokens: number;
  completionTokens: number;
  lastText?: string;
  lastReason?: string;
  lastError?: string;
  startedAt: string;
  /** The next call repeats one lost in a crash. */
  resend: boolean;
  /** Who answered last (the model the endpoint named, its simulated header): provenance for a failed instance too. */
  servedModel?: string;
  simulated?: boolean;
  /** Parsed answers to store in the call cache when the instance lands (--cache). */
  cacheEntries?: CacheEntry[];
}

/**
 * A chunk's heartbeat. `status` (another process) reads its live counts from here (calls per
 * outcome, instances through, calls in flight and since when): the heartbeat is sent anyway and
 * never enters history, so the live view adds a model name and a timestamp per call in flight
 * to it, instead of a query or signal whose results would be separate payloads.
 */
export interface Checkpoint {
  /** the endpoint's model (for the live view) */
  model?: string;
  done: StepOutcome[];
  items: Record<number, ItemState>;
  lastError?: string;
}

/**
 * The checkpoint a retried chunk starts from (empty on a first attempt). What the dead attempt
 * paid for and lost is recorded, so its repeats are counted and never hidden:
 *  - calls in flight at its last heartbeat were sent and their answers lost: `lost`;
 *  - on a retry, every other unfinished instance may have been sent after that heartbeat (which
 *    reaches the server at most once a second): one `possibly_sent` call each, an upper bound
 *    (an instance that made two calls in that last second is counted once).
 * The next call of each such instance is marked as a re-send.
 */
export function resumeCheckpoint(
  carried: Checkpoint | undefined,
  model: string,
  chunk: { idxs: readonly number[]; retry: boolean } = { idxs: [], retry: false },
): { cp: Checkpoint; lost: number } {
  const cp: Checkpoint = { model, done: carried?.done ?? [], items: carried?.items ?? {} };
  let lost = 0;
  const inFlightAtCrash = new Set<number>();
  for (const [idx, st] of Object.entries(cp.items)) {
    for (const callNo of st.inFlight) {
      st.calls.push({ callNo, outcome: 'lost', promptTokens: 0, completionTokens: 0, latencyMs: 0, resent: false, startedAt: st.startedAt });
      st.resend = true;
      inFlightAtCrash.add(Number(idx));
      lost++;
    }
    st.inFlight = [];
  }
  if (chunk.retry) {
    const done = new Set(cp.done.map((o) => o.idx));
    for (const idx of chunk.idxs) {
      if (done.has(idx) || inFlightAtCrash.has(idx)) continue;
      const st = itemState(cp, idx);
      st.calls.push({ callNo: st.nextCallNo++, outcome: 'possibly_sent', promptTokens: 0, completionTokens: 0, latencyMs: 0, resent: false, startedAt: st.startedAt });
      st.resend = true;
      lost++;
    }
  }
  return { cp, lost };
}

/** An instance's state, new or as a checkpoint heartbeated before multi-call steps existed left it. */
export function itemState(cp: Checkpoint, idx: number): ItemState {
  const st: ItemState = (cp.items[idx] ??= {
    calls: [], inFlight: [], nextCallNo: 1, errors: 0, attempts: 0, part: 0, partAttempts: 0, values: [], texts: [],
    promptTokens: 0, completionTokens: 0, startedAt: new Date().toISOString(), resend: false,
  });
  st.values ??= [];
  st.texts ??= [];
  st.part ??= 0;
  st.partAttempts ??= st.attempts;
  return st;
}

/** What the chunk's calls came to: calls by outcome and tokens (calls lost or possibly sent by a dead worker are counted apart). */
export function chunkStats(results: readonly StepOutcome[], lost: number): ChunkStats {
  let calls = 0, rateLimited = 0, errors = 0, tokens = 0;
  for (const r of results) {
    tokens += r.promptTokens + r.completionTokens;
    for (const c of r.calls) {
      if (unansweredByCrash(c.outcome)) continue;
      calls++;
      if (c.outcome === 'rate_limited') rateLimited++;
      else if (c.outcome !== 'ok') errors++;
    }
  }
  return { calls, rateLimited, errors, tokens, lost };
}
