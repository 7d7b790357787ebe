import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';

export type Row = Record<string, unknown>;

/** A connection as the rest of the code sees it: run SQL with positional parameters, read rows as plain JS. */
export class Sql {
  constructor(readonly conn: DuckDBConnection) {}

  async exec(sql: string, params: unknown[] = []): Promise<void> {
    await this.conn.run(sql, params as DuckDBValue[]);
  }

  async all<T extends Row = Row>(sql: string, params: unknown[] = []): Promise<T[]> {
    const reader = await this.conn.runAndReadAll(sql, params as DuckDBValue[]);
    return reader.getRowObjectsJson() as T[];
  }

  async one<T extends Row = Row>(sql: string, params: unknown[] = []): Promise<T | undefined> {
    return (await this.all<T>(sql, params))[0];
  }
}
