import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  DuckDBInstance,
  JsonDuckDBValueConverter,
  StatementType,
  type DuckDBConnection,
  type DuckDBType,
  type DuckDBValue,
  type DuckDBValueConverter,
  type Json,
} from '@duckdb/node-api';
import { InputError } from '../errors.js';
import { creationSettings, isLockError, lockDown } from './lockedDown.js';

/**
 * SQL typed by a user (`flask-eval query`, the daemon's POST /query with user: true) runs here and
 * nowhere else. Four walls, each enough for most escapes, together for all we know of:
 *  1. the instance has external access disabled and its configuration locked (checked before every
 *     query): no file is read or written but the database itself, no INSTALL/LOAD/ATTACH, no SET;
 *  2. exactly one statement, and only a reading one (SELECT-like or EXPLAIN), judged by DuckDB's
 *     own parse of it, not by a regex;
 *  3. it runs in its own transaction, always rolled back: whatever the statement did or failed to do,
 *     the (daemon's long-lived) connection is left as it was (DuckDB sequences are not
 *     transactional: a nextval() moves one, harmlessly);
 *  4. a direct open is READ_ONLY; the state server runs user SQL on its own instance over the
 *     published snapshot (core/store/snapshot.ts), never on the instance that owns the results file:
 *     DuckDB exempts an instance's own files from (1), so `read_blob('<results.duckdb>')` there would
 *     open, and on close drop the process's lock on, the live file.
 * Every query has a time limit (interrupted, also when its client goes away), and an instance
 * opened with QueryLimits has a memory limit and a cap on its temp space.
 * Rows are streamed chunk by chunk (DuckDB's streaming result), never materialised.
 */

/** What one user query may use: memory, spilled temp space (its own folder), and time. */
export interface QueryLimits {
  memoryLimit: string;
  tempDirectory: string;
  maxTempSize: string;
}

const SIZE = /^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i;

function sizeEnv(name: string, fallback: string): string {
  const v = process.env[name]?.trim();
  if (!v) return fallback;
  if (!SIZE.test(v)) throw new InputError(`${name}=${v}: give a size such as 256MB or 2GB`);
  return v;
}

/** Limits of the user queries served for the results file in `dir`: FLASK_QUERY_MEMORY (256MB), FLASK_QUERY_TEMP (1GB). */
export function queryLimits(dir: string): QueryLimits {
  return {
    memoryLimit: sizeEnv('FLASK_QUERY_MEMORY', '256MB'),
    maxTempSize: sizeEnv('FLASK_QUERY_TEMP', '1GB'),
    tempDirectory: path.join(dir, 'query.tmp'),
  };
}

/** A query's time limit in ms: `--timeout SECONDS`, else FLASK_QUERY_TIMEOUT_S, else 120 s. */
export function queryTimeoutMs(flagSeconds?: string): number {
  const raw = flagSeconds ?? process.env.FLASK_QUERY_TIMEOUT_S ?? '120';
  const s = Number(raw);
  if (!(Number.isFinite(s) && s > 0)) throw new InputError(`${flagSeconds !== undefined ? '--timeout' : 'FLASK_QUERY_TIMEOUT_S'} must be a number of seconds > 0 (got "${raw}")`);
  return Math.round(s * 1000);
}

export interface LockedReader {
  readonly file: string;
  readonly connection: DuckDBConnection;
  close(): void;
}

/**
 * Open the results file READ_ONLY with external access disabled and the configuration locked.
 * While another process holds the file (a writer between sessions) it waits up to
 * `lockTimeoutMs`, touching `<file>.waiting` so a writer leaves the file free (see Database).
 */
export async function openLockedReadOnly(file: string, opts: { lockTimeoutMs?: number; limits?: QueryLimits } = {}): Promise<LockedReader> {
  const abs = path.resolve(file);
  try {
    statSync(abs);
  } catch {
    throw new InputError(`no results database at ${abs}: run a review first, or pass --db FILE (env FLASK_DB)`);
  }
  const timeout = opts.lockTimeoutMs ?? 30_000;
  const deadline = Date.now() + timeout;
  let wait = 20;
  for (;;) {
    try {
      const instance = await DuckDBInstance.create(abs, { access_mode: 'READ_ONLY', ...openingConfig(opts.limits) });
      const connection = await instance.connect();
      await lockDown(connection);
      return {
        file: abs,
        connection,
        close: () => {
          connection.closeSync();
          instance.closeSync();
        },
      };
    } catch (e) {
      const msg = (e as Error).message ?? '';
      if (!isLockError(e)) throw new InputError(`cannot open ${abs} read-only: ${msg}`);
      if (Date.now() > deadline) throw new InputError(`${abs} stayed locked by another process for ${timeout / 1000} s; try again, or stop the process that writes it`);
      try {
        writeFileSync(`${abs}.waiting`, String(process.pid));
      } catch {
        // A read-only folder: waiting still works, only less fairly.
      }
      await new Promise((r) => setTimeout(r, wait + Math.random() * wait));
      wait = Math.min(wait * 2, 100);
    }
  }
}

/** Creation settings plus a user query's limits (its own temp folder, capped). */
function openingConfig(limits?: QueryLimits): Record<string, string> {
  const rest = creationSettings();
  if (!limits) return rest;
  mkdirSync(limits.tempDirectory, { recursive: true });
  return { ...rest, memory_limit: limits.memoryLimit, temp_directory: limits.tempDirectory, max_temp_directory_size: limits.maxTempSize };
}

/** The abort reason of a query interrupted because the state server stops. */
export const QUERY_SERVER_STOPPING = 'state server stopping';

/** Receives a user query's result as it streams. */
export interface UserQuerySink {
  /** Called once, before any row (also for an empty result). */
  columns(names: string[], types: string[]): void | Promise<void>;
  /**
   * One DuckDB chunk of rows (up to 2,048), each a list of JSON-friendly values in column order.
   * Return a promise to apply backpressure; return false to stop reading (the rest of the result
   * is not computed).
   */
  rows(batch: Json[][]): void | boolean | Promise<void | boolean>;
}

export interface UserQueryOptions {
  /** Positional parameters ($1, ?), for the daemon's callers. */
  params?: DuckDBValue[];
  /**
   * Deliver at most this many rows; the rest is counted, not converted (the table printer shows
   * the first N and says how many more there are).
   */
  deliverAtMost?: number;
  /** Interrupt the statement after this long (InputError naming the limit). */
  timeoutMs?: number;
  /** Aborted when the query's client went away: the statement is interrupted. */
  signal?: AbortSignal;
  /** The instance's limits, named in a memory or temp-space error. */
  limits?: QueryLimits;
}

export interface UserQueryResult {
  /** Rows handed to the sink. */
  delivered: number;
  /** Rows the statement produced (delivered + counted only); undefined when the sink stopped early. */
  total: number | undefined;
}

/** Statement types that cannot change anything (DuckDB rewrites PRAGMA table_info, DESCRIBE, SHOW, SUMMARIZE to SELECT). */
const READING: ReadonlySet<StatementType> = new Set([StatementType.SELECT, StatementType.EXPLAIN]);

function statementName(t: StatementType): string {
  const name = StatementType[t] ?? String(t);
  return ({ VARIABLE_SET: 'SET', COPY_DATABASE: 'COPY DATABASE', CREATE_FUNC: 'CREATE FUNCTION', MERGE_INTO: 'MERGE INTO', UPDATE_EXTENSIONS: 'UPDATE EXTENSIONS', EXTENSION: 'INSTALL' } as Record<string, string>)[name] ?? name;
}

/** The first non-blank words of a statement, for error messages. */
function opening(sql: string): string {
  const s = sql.trim().replace(/\s+/g, ' ');
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/**
 * Refuse to run user SQL on an instance that could reach the file system or be reconfigured:
 * a daemon or a reader opened without LOCKED_DOWN is a bug, not a user error.
 */
async function assertLocked(conn: DuckDBConnection): Promise<void> {
  const r = await conn.runAndReadAll(
    `SELECT current_setting('enable_external_access')::BOOLEAN AS ext, current_setting('lock_configuration')::BOOLEAN AS locked`,
  );
  const [ext, locked] = r.getRows()[0] as [boolean, boolean];
  if (ext !== false || locked !== true) {
    throw new Error('refusing to run user SQL: the DuckDB instance must be opened with enable_external_access=false and lock_configuration=true (see LOCKED_DOWN / openLockedReadOnly)');
  }
}

/**
 * JSON-friendly values: DuckDB's JSON conversion, except that integers too large for a JS number
 * but within its safe range (BIGINT counts, sums) come out as numbers, not strings.
 */
const jsonValue: DuckDBValueConverter<Json> = (value, type, self) => {
  if (value === null) return null;
  if (typeof value === 'bigint') {
    return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(value) : value.toString();
  }
  return JsonDuckDBValueConverter(value, type, self);
};
/**
 * EXPLAIN ANALYZE runs the statement it explains: that statement must be a read too (the
 * rollback would undo a DELETE, but a read has nothing to undo).
 */
async function assertExplainsARead(conn: DuckDBConnection, sql: string): Promise<void> {
  const m = /^(?:\s|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)*EXPLAIN\b\s*(?:\([^)]*\)\s*)?(?:ANALY[SZ]E\b)?/i.exec(sql);
  if (!m) throw new InputError('query: write EXPLAIN at the start of the statement');
  let type: StatementType | undefined;
  try {
    const inner = await conn.extractStatements(sql.slice(m[0].length));
    if (inner.count === 1) {
      const p = await inner.prepare(0);
      type = p.statementType;
      p.destroySync();
    }
  } catch (e) {
    throw new InputError(`query: ${(e as Error).message}`);
  }
  if (type !== StatementType.SELECT) {
    throw new InputError(`query only reads: EXPLAIN of a ${type === undefined ? 'non-' : `${statementName(type)} `}statement is refused; EXPLAIN a SELECT`);
  }
}

function typeName(t: DuckDBType): string {
  return t.toString();
}

/**
 * Run one user statement read-only and stream its rows into `sink`. Throws InputError (the
 * user's to fix, printed without a stack) for several statements, a writing statement, or any
 * DuckDB error (syntax, unknown table, permission).
 *
 * The statement runs in its own transaction on `conn`: give each concurrent query its own
 * connection (`instance.connect()`), never the connection writes go through. The instance must
 * have LOCKED_DOWN (checked; a daemon opens its one instance with it, which its own writes,
 * schema and checkpoints do not need to relax).
 */
export async function runUserQuery(conn: DuckDBConnection, sql: string, sink: UserQuerySink, opts: UserQueryOptions = {}): Promise<UserQueryResult> {
  await assertLocked(conn);
  let extracted;
  try {
    extracted = await conn.extractStatements(sql);
  } catch (e) {
    // The bindings fail without a message when the text holds no statement at all.
    if (/Error in native callback/.test((e as Error).message)) throw new InputError('query runs exactly one statement; got 0 (the SQL holds only comments or semicolons)');
    throw new InputError(`query: ${(e as Error).message}`);
  }
  if (extracted.count !== 1) {
    throw new InputError(`query runs exactly one statement; got ${extracted.count}${extracted.count > 1 ? ' (remove the other statements, or run them one by one)' : ''}`);
  }
  let stoppedBy: 'time' | 'client' | undefined;
  const interrupt = (why: 'time' | 'client') => {
    stoppedBy ??= why;
    conn.interrupt();
  };
  const timer = opts.timeoutMs ? setTimeout(() => interrupt('time'), opts.timeoutMs) : undefined;
  const onAbort = () => interrupt('client');
  opts.signal?.addEventListener('abort', onAbort);
  /** A DuckDB error as the user's to fix: which limit stopped the query, and how to raise it. */
  const userError = (e: unknown): InputError => {
    const msg = (e as Error).message ?? String(e);
    if (stoppedBy === 'time') return new InputError(`query stopped after ${opts.timeoutMs! / 1000} s, its time limit (raise it with --timeout SECONDS or FLASK_QUERY_TIMEOUT_S)`);
    if (stoppedBy === 'client') return new InputError(`query cancelled: ${opts.signal?.reason === QUERY_SERVER_STOPPING ? 'the state server is stopping' : 'its client went away'}`);
    if (/Out of Memory/i.test(msg) && opts.limits) return new InputError(`query: ${msg.split('\n')[0]} (a query may use ${opts.limits.memoryLimit}: FLASK_QUERY_MEMORY)`);
    if (/max_temp_directory_size|temp(orary)? directory/i.test(msg) && opts.limits) return new InputError(`query: ${msg.split('\n')[0]} (a query may spill ${opts.limits.maxTempSize}: FLASK_QUERY_TEMP)`);
    return new InputError(`query: ${msg}`);
  };
  await conn.run('BEGIN TRANSACTION');
  try {
    let prepared;
    try {
      prepared = await extracted.prepare(0);
    } catch (e) {
      throw new InputError(`query: ${(e as Error).message}`);
    }
    try {
      if (!READING.has(prepared.statementType)) {
        throw new InputError(
          `query only reads: ${statementName(prepared.statementType)} statements are refused ("${opening(sql)}"). ` +
            `query runs SELECT (and EXPLAIN, DESCRIBE, SHOW, SUMMARIZE, PRAGMA table_info); writing files is \`flask-eval export\`'s job`,
        );
      }
      if (prepared.statementType === StatementType.EXPLAIN) await assertExplainsARead(conn, sql);
      if (opts.params?.length) prepared.bind(opts.params);
      let result;
      try {
        result = await prepared.stream();
      } catch (e) {
        throw userError(e);
      }
      await sink.columns(result.deduplicatedColumnNames(), result.columnTypes().map(typeName));
      const cap = opts.deliverAtMost ?? Infinity;
      let delivered = 0;
      let total = 0;
      for (;;) {
        let chunk;
        try {
          chunk = await result.fetchChunk();
        } catch (e) {
          throw userError(e);
        }
        if (stoppedBy) throw userError(new Error('interrupted'));
        if (!chunk || chunk.rowCount === 0) break;
        const n = chunk.rowCount;
        total += n;
        if (delivered >= cap) continue;
        const take = Math.min(n, cap - delivered);
        const batch: Json[][] = new Array(take);
        for (let i = 0; i < take; i++) batch[i] = chunk.convertRowValues(i, jsonValue) as Json[];
        delivered += take;
        if ((await sink.rows(batch)) === false) return { delivered, total: undefined };
      }
      return { delivered, total };
    } finally {
      prepared.destroySync();
    }
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
    // Always rolled back, also after an error or an early stop: the connection is left clean.
    await conn.run('ROLLBACK').catch(() => undefined);
  }
}
