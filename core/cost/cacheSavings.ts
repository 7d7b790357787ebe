import type { Reader } from '../store/reader.js';
import { costOf, loadPriceTable, type PriceTable } from './pricing.js';

/**
 * What a run's calls answered from the call cache would have cost: the tokens the original calls
 * used (call_cache) × the price table. Models without a price count as undefined (n/a), never a guess.
 */
export async function cacheSavings(reader: Reader, runId: string, table: PriceTable = loadPriceTable()): Promise<number | undefined> {
  const rows = await reader.all(
    `SELECT c.model, coalesce(sum(k.prompt_tokens), 0)::DOUBLE AS prompt_tokens, coalesce(sum(k.completion_tokens), 0)::DOUBLE AS completion_tokens
     FROM calls c JOIN call_cache k ON k.key = c.cache_key WHERE c.run_id = ? AND c.outcome = 'cached' GROUP BY c.model`,
    [runId],
  );
  let usd = 0;
  for (const r of rows) {
    const line = costOf(String(r.model), Number(r.prompt_tokens), Number(r.completion_tokens), { table });
    if (line === undefined) return undefined;
    usd += line;
  }
  return usd;
}
