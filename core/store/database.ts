import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DuckDBInstance, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import { ensureSchema } from './schema.js';

export type Row = Record<string, unknown>;

/** A connection as the rest of the code sees it: run SQL with positional parameters, read rows as plain JS. */
export class Sql {
  constructor(private readonly conn: DuckDBConnection) {}

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

const LOCK_ERROR = /Could not set lock on file|Conflicting lock/i;

export interface DatabaseOptions {
  readOnly?: boolean;
  /** How long to wait for another process to release the file lock. */
  lockTimeoutMs?: number;
  /** How long a write session gathers operations before opening the file (group commit). */
  gatherMs?: number;
  /** A session closes after this long even if more work queues, so readers in other processes get in. */
  maxSessionMs?: number;
  /** When another process waits for the file, it stays free this long between sessions. */
  yieldMs?: number;
}

interface Pending {
  fn: (sql: Sql) => Promise<unknown>;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

/**
 * The DuckDB results file, shared by several processes.
 *
 * DuckDB lets one process write a file, and no other process may even read it meanwhile. So
 * nobody keeps the file open: operations queue here and run in short sessions (open, run every
 * queued operation in its own transaction, close). Concurrent activities of one worker share a
 * session (group commit), and between sessions a report, a query or another worker process can
 * open the file. A caller's promise resolves only after its transaction committed, so an
 * activity never reports success for data that is not on disk.
 */
export class Database {
  private queue: Pending[] = [];
  private draining = false;
  private schemaReady = false;
  readonly file: string;

  constructor(file: string, private readonly opts: DatabaseOptions = {}) {
    this.file = path.resolve(file);
  }

  /** Run `fn` in its own transaction inside the next session. */
  run<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.queue.length > 0) {
        await sleep(this.someoneWaits() ? (this.opts.yieldMs ?? 150) : (this.opts.gatherMs ?? 25));
        const { instance, conn } = await this.open();
        const started = Date.now();
        try {
          const sql = new Sql(conn);
          if (!this.schemaReady && !this.opts.readOnly) {
            await ensureSchema(sql);
            this.schemaReady = true;
          }
          while (this.queue.length > 0 && Date.now() - started < (this.opts.maxSessionMs ?? 1000)) {
            const op = this.queue.shift()!;
            await this.runOne(sql, op);
          }
        } finally {
          conn.closeSync();
          instance.closeSync();
        }
      }
    } catch (e) {
      // Opening failed for good: fail everything queued rather than hang.
      for (const op of this.queue.splice(0)) op.reject(e);
    } finally {
      this.draining = false;
      if (this.queue.length > 0) void this.drain();
    }
  }

  private async runOne(sql: Sql, op: Pending): Promise<void> {
    if (this.opts.readOnly) {
      try {
        op.resolve(await op.fn(sql));
      } catch (e) {
        op.reject(e);
      }
      return;
    }
    await sql.exec('BEGIN TRANSACTION');
    try {
      const v = await op.fn(sql);
      await sql.exec('COMMIT');
      op.resolve(v);
    } catch (e) {
      await sql.exec('ROLLBACK').catch(() => undefined);
      op.reject(e);
    }
  }

  /**
   * A process that finds the file locked touches `<file>.waiting`; a writer that sees a fresh
   * one leaves the file free for a while before its next session. Without it, a busy worker
   * would keep the file nearly always open and a report could wait for many seconds.
   */
  private get waitingMarker(): string {
    return `${this.file}.waiting`;
  }

  private someoneWaits(): boolean {
    try {
      return Date.now() - statSync(this.waitingMarker).mtimeMs < 1000;
    } catch {
      return false;
    }
  }

  private announceWaiting(): void {
    try {
      writeFileSync(this.waitingMarker, String(process.pid));
    } catch {
      // A read-only directory: waiting still works, only less fairly.
    }
  }

  private async open(): Promise<{ instance: DuckDBInstance; conn: DuckDBConnection }> {
    if (!this.opts.readOnly) mkdirSync(path.dirname(this.file), { recursive: true });
    const deadline = Date.now() + (this.opts.lockTimeoutMs ?? 120_000);
    let wait = 20;
    for (;;) {
      try {
        const instance = await DuckDBInstance.create(this.file, this.opts.readOnly ? { access_mode: 'READ_ONLY' } : {});
        return { instance, conn: await instance.connect() };
      } catch (e) {
        const msg = (e as Error).message ?? '';
        if (!LOCK_ERROR.test(msg) || Date.now() > deadline) {
          if (LOCK_ERROR.test(msg)) throw new Error(`${this.file} stayed locked by another process for ${(this.opts.lockTimeoutMs ?? 120_000) / 1000}s: ${msg}`);
          throw e;
        }
        this.announceWaiting();
        await sleep(wait + Math.random() * wait);
        // Readers poll often: a writer's session leaves the file free only briefly.
        wait = Math.min(wait * 2, this.opts.readOnly ? 100 : 500);
      }
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
