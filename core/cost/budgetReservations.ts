/**
 * --max-cost that holds (issue #19): before a chunk is sent, each of its calls reserves its worst
 * case (the prompt as the model's BPE counts it + max_tokens, at the run's prices; worked out by
 * the store, activities/worstCase.ts); the reservation is released as each step lands, when its
 * real cost joins the spent figure. A chunk starts only if the spent cost plus every reservation
 * held stays within the budget, so the budget is never passed by more than what the provider
 * bills above those counts (its prompt count over BPE's; calls re-sent after a crash).
 *
 * Pure and deterministic: the batch workflow holds one per batch. It never livelocks: a chunk that
 * does not fit either waits for a reservation held by a chunk in flight (which will land and
 * release it), or, with nothing held, the run stops: the next instance could pass the budget.
 */
export class BudgetReservations {
  private reserved = 0;
  /** Bumped by every release: a lane waiting for room waits for this to change. */
  version = 0;

  constructor(
    private readonly maxUsd: number,
    private spentUsd: number,
    /** Worst case of each instance's steps (USD), by idx: [step k] (0 for steps it has done). */
    private readonly worst: ReadonlyMap<number, readonly number[]>,
  ) {}

  /** The run's landed cost, as the store answers it after a landing (it only grows). */
  spent(usd: number): void {
    this.spentUsd = Math.max(this.spentUsd, usd);
  }

  get spentSoFar(): number {
    return this.spentUsd;
  }

  /** Whether some chunk in flight holds a reservation (it will release it when it lands). */
  get holding(): boolean {
    return this.reserved > 1e-12;
  }

  /** Left of the budget after what landed and what is reserved. */
  get room(): number {
    return this.maxUsd - this.spentUsd - this.reserved;
  }

  /** The worst case of one instance's remaining steps. */
  worstOf(idx: number, fromStep = 0): number {
    return (this.worst.get(idx) ?? []).slice(fromStep).reduce((s, x) => s + x, 0);
  }

  /**
   * The longest head of `candidates` ([idx, first step]) whose worst cases fit the room, reserved
   * as one chunk; 0 when the first does not fit.
   */
  reserve(candidates: ReadonlyArray<readonly [number, number]>): { n: number; usd: number } {
    let usd = 0;
    let n = 0;
    for (const [idx, first] of candidates) {
      const w = this.worstOf(idx, first);
      if (usd + w > this.room + 1e-12) break;
      usd += w;
      n++;
    }
    this.reserved += usd;
    return { n, usd };
  }

  /** Part of a chunk's reservation is over (its step landed, or the chunk ended). */
  release(usd: number): void {
    if (usd <= 0) return;
    this.reserved = Math.max(0, this.reserved - usd);
    this.version++;
  }

  /** Step k's worst cases of these instances: what landing step k releases. */
  stepWorst(idxs: readonly number[], k: number): number {
    return idxs.reduce((s, idx) => s + (this.worst.get(idx)?.[k] ?? 0), 0);
  }
}
