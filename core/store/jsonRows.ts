import type { Sql } from './database.js';

/** How a column travels: JSON and TIMESTAMP go as text and are cast on the way in. */
export type ColumnType = 'VARCHAR' | 'INTEGER' | 'DOUBLE' | 'BOOLEAN' | 'TIMESTAMP' | 'JSON';

/**
 * Rows go in as one JSON parameter per chunk: one statement per row is slow, and one huge JSON
 * value makes DuckDB's from_json slow down more than linearly.
 */
const CHUNK = 2000;

/** INSERT rows (objects keyed by column) into `table`, ignoring rows whose key is already there (tables with a key). */
export async function insertRows(
  sql: Sql,
  table: string,
  columns: Record<string, ColumnType>,
  rows: readonly Record<string, unknown>[],
  opts: { onConflict?: 'ignore' | 'none' } = {},
): Promise<void> {
  if (rows.length === 0) return;
  const names = Object.keys(columns);
  const spec = JSON.stringify(Object.fromEntries(names.map((c) => [c, wireType(columns[c]!)])));
  const select = names.map((c) => (columns[c] === 'JSON' || columns[c] === 'TIMESTAMP' ? `r."${c}"::${columns[c]}` : `r."${c}"`)).join(', ');
  const statement =
    `INSERT INTO ${table} (${names.join(', ')}) SELECT ${select} ` +
    `FROM (SELECT unnest(from_json(?::JSON, '[${spec}]'), recursive := true)) r` +
    (opts.onConflict === 'none' ? '' : ' ON CONFLICT DO NOTHING');
  for (let i = 0; i < rows.length; i += CHUNK) await sql.exec(statement, [JSON.stringify(rows.slice(i, i + CHUNK))]);
}

function wireType(t: ColumnType): string {
  return t === 'JSON' || t === 'TIMESTAMP' ? 'VARCHAR' : t;
}
