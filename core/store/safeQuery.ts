// STUB (another helper): replaced at merge by the safe-query implementation (issue 7 item 6).
// Here: exactly one statement, and it must be a SELECT, run in a read-only transaction.
import { StatementType, type DuckDBConnection, type DuckDBResult, type DuckDBValue } from '@duckdb/node-api';
import { InputError } from '../errors.js';

/** Run a user's SQL on `conn` as a streaming result; refuses anything but one read-only SELECT. */
export async function runUserQuery(conn: DuckDBConnection, sql: string, params: unknown[] = []): Promise<DuckDBResult> {
  const statements = await conn.extractStatements(sql);
  if (statements.count !== 1) throw new InputError(`a query is exactly one SQL statement (got ${statements.count})`);
  const prepared = await statements.prepare(0);
  if (prepared.statementType !== StatementType.SELECT) throw new InputError('only SELECT queries are allowed (use `flask-eval export` to write files)');
  if (params.length) prepared.bind(params as DuckDBValue[]);
  return prepared.stream();
}
