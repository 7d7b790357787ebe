/**
 * Money: what a model's tokens cost, from a price table (data/prices.json, USD per 1M tokens,
 * each figure with the date and the listing it was confirmed against), overridable by a file
 * (--prices FILE). A model that is not in the table has no price: costOf answers undefined and
 * reports show "n/a" — a cost is never guessed from a similar name.
 */
import path from 'node:path';
import { z } from 'zod';
import { readJsonFile } from '../inputs/jsonl.js';
import { PROJECT_ROOT } from '../paths.js';

const DEFAULT_PRICES_FILE = path.join(PROJECT_ROOT, 'data', 'prices.json');

const Usd = z.number().finite().nonnegative();
const ModelPriceSchema = z.object({
  input: Usd,
  output: Usd,
  asOf: z.string().min(1, 'say when the price was confirmed (e.g. "2026-03")'),
  source: z.string().min(1, 'say where the price comes from'),
  note: z.string().optional(),
});
export type ModelPrice = z.output<typeof ModelPriceSchema>;

const DefaultTableSchema = z.object({
  currency: z.literal('USD'),
  per: z.literal(1_000_000),
  batchDiscount: z.number().min(0).max(1),
  batchDiscountSource: z.string(),
  models: z.record(z.string(), ModelPriceSchema),
});

/** An override file: the same shape, every part optional; a model entry replaces the default's whole entry. */
const OverrideSchema = z.object({
  currency: z.literal('USD').optional(),
  per: z.literal(1_000_000).optional(),
  batchDiscount: z.number().min(0).max(1).optional(),
  batchDiscountSource: z.string().optional(),
  models: z.record(z.string(), ModelPriceSchema.extend({ asOf: z.string().optional(), source: z.string().optional() })).default({}),
}).passthrough();

export interface PriceTable {
  batchDiscount: number;
  batchDiscountSource: string;
  models: Record<string, ModelPrice>;
  /** the files the table was read from, default first */
  files: string[];
  /** models priced by the --prices override file (the user's own price, e.g. for a local server) */
  overrideModels: string[];
}

/** The default table, with `overrideFile`'s entries on top (its entries without asOf/source are attributed to the file). */
export function loadPriceTable(overrideFile?: string, defaultFile: string = DEFAULT_PRICES_FILE): PriceTable {
  const base = readJsonFile(defaultFile, DefaultTableSchema);
  const table: PriceTable = { batchDiscount: base.batchDiscount, batchDiscountSource: base.batchDiscountSource, models: { ...base.models }, files: [defaultFile], overrideModels: [] };
  if (overrideFile) {
    const o = readJsonFile(overrideFile, OverrideSchema);
    if (o.batchDiscount !== undefined) {
      table.batchDiscount = o.batchDiscount;
      table.batchDiscountSource = o.batchDiscountSource ?? overrideFile;
    }
    for (const [model, p] of Object.entries(o.models)) {
      table.models[model] = { ...p, asOf: p.asOf ?? 'unstated', source: p.source ?? overrideFile };
      table.overrideModels.push(model);
    }
    table.files.push(overrideFile);
  }
  return table;
}

let defaultTable: PriceTable | undefined;
const defaults = (): PriceTable => (defaultTable ??= loadPriceTable());

/** The price of `model` by its exact name (as sent to the API), or undefined. */
export function priceOf(model: string, table: PriceTable = defaults()): ModelPrice | undefined {
  return Object.hasOwn(table.models, model) ? table.models[model] : undefined;
}

export interface CostOptions {
  /** billed through the Batch API: both rates times (1 - batchDiscount) */
  batch?: boolean;
  table?: PriceTable;
}

/** USD for the tokens, or undefined when the model has no price in the table. */
export function costOf(model: string, promptTokens: number, completionTokens: number, opts: CostOptions = {}): number | undefined {
  const table = opts.table ?? defaults();
  const p = priceOf(model, table);
  if (!p) return undefined;
  const full = (promptTokens * p.input + completionTokens * p.output) / 1_000_000;
  return opts.batch ? full * (1 - table.batchDiscount) : full;
}

/** "$12.34", "$0.0042" for small sums, "n/a" for an unknown price. */
export function formatUsd(usd: number | undefined): string {
  if (usd === undefined) return 'n/a';
  if (usd !== 0 && Math.abs(usd) < 0.01) return `$${usd.toPrecision(2)}`;
  return `$${usd.toFixed(2)}`;
}
