import { existsSync } from 'node:fs';
import path from 'node:path';
import type { DuckDBResult, DuckDBValue } from '@duckdb/node-api';
import { dbPath, stateDir } from '../core/config.js';
import { InputError } from '../core/errors.js';
import { openLockedReadOnly, runUserQuery } from '../core/store/safeQuery.js';
import { assertResultsFile } from '../core/store/resultsFile.js';
import { probeStateServer, storeClient } from './attach.js';

type Row = Record<string, unknown>;

interface StreamOptions {
  /** The user's own SQL (flask-eval query): one read-only statement under the safe-query rules. */
  user?: boolean;
  /** The user query's time limit. */
  timeoutMs?: number;
  onColumns?: (columns: string[]) => void;
}

/**
 * Read access to the results, for report / compare / query / export. Rows are plain JSON-able
 * objects (DuckDB's JSON conversion: BIGINT and DECIMAL as strings, lists as arrays).
 */
export interface ResultsReader {
  all<T extends Row = Row>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Numeric columns as Float64Arrays (NULL as NaN), read from DuckDB's vectors: no row objects. Direct reads only. */
  numericColumns?(sql: string, params?: unknown[]): Promise<Record<string, Float64Array>>;
  one<T extends Row = Row>(sql: string, params?: unknown[]): Promise<T | undefined>;
  /** Rows one at a time, in bounded memory. */
  stream(sql: string, params: unknown[], onRow: (row: Row) => void | Promise<void>, o?: StreamOptions): Promise<void>;
  /** Where the rows come from, for messages. */
  describe: string;
  close(): Promise<void>;
}

/**
 * Through this folder's state server when it is up and owns that file (it holds the file open,
 * so a direct open would fail), else a direct read-only open with external access disabled.
 */
export async function openReader(opts: { dbFile?: string; stateDir?: string; lockTimeoutMs?: number } = {}): Promise<ResultsReader> {
  const dbFile = path.resolve(opts.dbFile ?? dbPath());
  assertResultsFile(dbFile);
  const found = await probeStateServer(path.resolve(opts.stateDir ?? stateDir()), 2000);
  if (found && path.resolve(found.health.dbFile) === dbFile) return socketReader(found.info.socket, found.info.pid, dbFile);
  if (!existsSync(dbFile)) throw new InputError(`no results database at ${dbFile}: run a review first, or pass --db FILE (env FLASK_DB)`);
  return directReader(dbFile, opts.lockTimeoutMs ?? 30_000);
}

function socketReader(socket: string, pid: number, dbFile: string): ResultsReader {
  const store = storeClient(socket);
  const all = async <T extends Row>(sql: string, params: unknown[] = []): Promise<T[]> => {
    const rows: T[] = [];
    for await (const r of store.query<T>(sql, params)) rows.push(r);
    return rows;
  };
  return {
    all,
    async one(sql, params) {
      return (await all(sql, params))[0] as never;
    },
    async stream(sql, params, onRow, o = {}) {
      for await (const r of store.query(sql, params, o)) await onRow(r);
    },
    describe: `${dbFile} (through the state server, pid ${pid})`,
    async close() {},
  };
}

async function directReader(dbFile: string, lockTimeoutMs: number): Promise<ResultsReader> {
  // A writer (a state server of another folder using this file, an old worker) may hold the lock briefly.
  const reader = await openLockedReadOnly(dbFile, { lockTimeoutMs });
  const conn = reader.connection;
  const materialize = async (result: DuckDBResult): Promise<Row[]> => (await result.getRowObjectsJson()) as Row[];
  const all = async <T extends Row>(sql: string, params: unknown[] = []): Promise<T[]> =>
    (await materialize(await conn.run(sql, params as DuckDBValue[]))) as T[];
  return {
    all,
    async one(sql, params) {
      return (await all(sql, params))[0] as never;
    },
    async numericColumns(sql, params = []) {
      const result = await conn.run(sql, params as DuckDBValue[]);
      const rows = Number(result.rowCount);
      const cols = result.columnNames().map(() => new Float64Array(rows));
      let at = 0;
      for (let c = 0; c < result.chunkCount; c++) {
        const chunk = result.getChunk(c);
        const n = chunk.rowCount;
        cols.forEach((col, i) => {
          const v = chunk.getColumnVector(i);
          for (let r = 0; r < n; r++) {
            const x = v.getItem(r);
            col[at + r] = x === null ? NaN : Number(x);
          }
        });
        at += n;
      }
      return Object.fromEntries(result.columnNames().map((name, i) => [name, cols[i]!]));
    },
    async stream(sql, params, onRow, o = {}) {
      if (o.user) {
        let names: string[] = [];
        await runUserQuery(conn, sql, {
          columns: (n) => { names = n; o.onColumns?.(n); },
          rows: async (batch) => {
            for (const values of batch) await onRow(Object.fromEntries(names.map((k, i) => [k, values[i]])) as Row);
          },
        }, { params: params as never, timeoutMs: o.timeoutMs });
        return;
      }
      const result: DuckDBResult = await conn.stream(sql, params as DuckDBValue[]);
      o.onColumns?.(result.columnNames());
      for await (const chunk of result.yieldRowObjectJson()) {
        for (const row of chunk) await onRow(row as Row);
      }
    },
    describe: `${dbFile} (read-only, external access disabled)`,
    async close() {
      reader.close();
    },
  };
}
