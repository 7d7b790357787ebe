/**
 * What a run cost: every HTTP attempt in `calls` (re-asks, retries and calls lost in a crash
 * included: they were billed; calls a dead worker possibly sent too: an upper bound) × the price table, per endpoint role and model (a judge, the
 * evaluated model). A model without a price costs `undefined` ("n/a"), never a guess.
 */
import type { Reader } from '../store/reader.js';
import { costOf, formatUsd, loadPriceTable, priceOf, type PriceTable } from './pricing.js';


interface CostLine {
  /** judge (review and annotation steps) or model (generate). */
  role: 'judge' | 'model';
  model: string;
  endpoint: string | null;
  /** Batch API lines (--batch), billed at the table's batch discount. */
  batch: boolean;
  /** A judge's calls: its judge id ("<endpoint id>:<profile>", reviews.judge_id); null for annotation steps and generations. */
  judgeId: string | null;
  calls: number;
  promptTokens: number;
  completionTokens: number;
  /** undefined: the model has no price in the table. */
  usd: number | undefined;
}

export interface RunCost {
  runId: string;
  lines: CostLine[];
  /** Sum of the priced lines. */
  pricedUsd: number;
  /** The whole run's cost, or undefined when some line with tokens has no price. */
  totalUsd: number | undefined;
  /** Models with tokens but no price. */
  unpriced: string[];
}

/** Prices of just some models, small enough for a workflow input: USD per 1M tokens. */
export type RunPrices = Record<string, { input: number; output: number }>;

/** The prices of `models` from `table` (models without one are left out). */
export function runPrices(models: readonly string[], table: PriceTable): RunPrices {
  const out: RunPrices = {};
  for (const m of models) {
    const p = priceOf(m, table);
    if (p) out[m] = { input: p.input, output: p.output };
  }
  return out;
}

async function tokensByModel(reader: Reader, runId: string) {
  const rows = await reader.all(
    `SELECT CASE WHEN step = 'generate' THEN 'model' ELSE 'judge' END AS role, model, endpoint, nullif(judge_id, '') AS judge_id,
            coalesce(via_batch, false) AS via_batch,
            (count(*) FILTER (outcome NOT IN ('lost', 'possibly_sent', 'cached')))::DOUBLE AS calls,
            coalesce(sum(prompt_tokens), 0)::DOUBLE AS prompt_tokens, coalesce(sum(completion_tokens), 0)::DOUBLE AS completion_tokens
     FROM calls WHERE run_id = ? GROUP BY ALL ORDER BY role, model, endpoint, judge_id, via_batch`,
    [runId],
  );
  return rows.map((r) => ({
    role: r.role as 'judge' | 'model', model: String(r.model ?? ''), endpoint: (r.endpoint as string | null) ?? null, judgeId: (r.judge_id as string | null) ?? null, batch: r.via_batch === true,
    calls: Number(r.calls), promptTokens: Number(r.prompt_tokens), completionTokens: Number(r.completion_tokens),
  }));
}

/**
 * The run's cost per role and model, from its calls. `prices`: the table to use (default
 * data/prices.json; a `--prices FILE` table from loadPriceTable), or a RunPrices subset.
 */
export async function runCost(reader: Reader, runId: string, prices: PriceTable | RunPrices = loadPriceTable()): Promise<RunCost> {
  const lines: CostLine[] = (await tokensByModel(reader, runId)).map((t) => ({ ...t, usd: priced(prices, t.model, t.promptTokens, t.completionTokens, t.batch) }));
  const unpriced = [...new Set(lines.filter((l) => l.usd === undefined && l.promptTokens + l.completionTokens > 0).map((l) => l.model))];
  const pricedUsd = lines.reduce((s, l) => s + (l.usd ?? 0), 0);
  return { runId, lines, pricedUsd, totalUsd: unpriced.length ? undefined : pricedUsd, unpriced };
}

/** A RunPrices subset (a budget's) carries no batch discount: batch lines count at full price there (the budget errs on the safe side). */
function priced(prices: PriceTable | RunPrices, model: string, prompt: number, completion: number, batch: boolean): number | undefined {
  if ('models' in prices && 'batchDiscount' in prices) return costOf(model, prompt, completion, { table: prices as PriceTable, batch });
  const p = Object.hasOwn(prices, model) ? (prices as RunPrices)[model] : undefined;
  return p ? (prompt * p.input + completion * p.output) / 1_000_000 : undefined;
}

/** "$1.23 (judge gpt-4o: $1.00, model m: $0.23)", or "n/a (no price for m; --prices FILE)". */
export function formatRunCost(c: RunCost): string {
  const parts = c.lines.filter((l) => l.calls > 0 || l.promptTokens > 0)
    .map((l) => `${l.role} ${l.model}${l.judgeId?.includes(':') ? ` (${l.judgeId.split(':').pop()})` : ''}${l.batch ? ' batch' : ''}: ${formatUsd(l.usd)}`);
  const head = c.totalUsd !== undefined ? formatUsd(c.totalUsd) : `n/a (no price for ${c.unpriced.join(', ')}; give one with --prices FILE)`;
  return parts.length > 1 ? `${head} (${parts.join(', ')})` : head;
}
