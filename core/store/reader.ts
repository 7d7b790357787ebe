/**
 * What report code needs from the results store: run a read-only query. Both the read-only
 * Database session (`openReadOnly().run(sql => ...)`, whose `Sql` fits) and the store's
 * `ResultsReader` (server/resultsReader.ts: all/one/stream/close) satisfy it.
 */
export interface Reader {
  all(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  /**
   * The result's columns by name as Float64Arrays, NULL as NaN: for results too large to read as
   * row objects (a million scores). Optional: readers without it are read through all().
   */
  numericColumns?(sql: string, params?: unknown[]): Promise<Record<string, Float64Array>>;
}

/** `names` columns of a numeric query (NULL as NaN), through numericColumns when the reader has it. */
export async function readNumericColumns<K extends string>(r: Reader, sql: string, params: unknown[], names: readonly K[]): Promise<Record<K, Float64Array>> {
  if (r.numericColumns) {
    const cols = await r.numericColumns(sql, params);
    const missing = names.filter((n) => !cols[n]);
    if (missing.length) throw new Error(`query has no column ${missing.join(', ')}`);
    return cols as Record<K, Float64Array>;
  }
  const rows = await r.all(sql, params);
  const out = {} as Record<K, Float64Array>;
  for (const n of names) out[n] = Float64Array.from(rows, (row) => (row[n] === null || row[n] === undefined ? NaN : Number(row[n])));
  return out;
}

/**
 * Columns of a table as the file has them. The schema gains columns over time (provenance per
 * row, the `calls` table): queries check here first so they work on older and newer files alike.
 */
export async function tableColumns(r: Reader, table: string): Promise<Set<string>> {
  const rows = await r.all(`SELECT column_name FROM information_schema.columns WHERE table_name = ? AND table_schema = 'main'`, [table]);
  return new Set(rows.map((x) => String(x.column_name)));
}

/** `alias.column` when the column exists, else a typed NULL named like it. */
export function optionalColumn(cols: Set<string>, alias: string, column: string, type = 'VARCHAR'): string {
  return cols.has(column) ? `${alias}.${column}` : `NULL::${type}`;
}

export const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

export function placeholders(n: number): string {
  return Array.from({ length: n }, () => '?').join(', ');
}
