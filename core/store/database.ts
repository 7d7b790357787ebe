import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { ensureSchema } from './schema.js';
import { registerOpenFile } from './openFiles.js';
import { creationSettings, isLockError, lockDown } from './lockedDown.js';

export { Sql } from './sql.js';
import { Sql } from './sql.js';
import { setTimeout as sleep } from 'node:timers/promises';

export interface DatabaseOptions {
  readOnly?: boolean;
  /** How long a write waits for others to join its transaction (group commit). */
  gatherMs?: number;
  /** DuckDB's memory_limit (e.g. '512MB'); DuckDB's own default is 80% of RAM. */
  memoryLimit?: string;
  /** The one folder the instance may write besides its own files: where snapshots are built (core/store/snapshot.ts). */
  snapshotBuildDir?: string;
  /**
   * The owner waits while another process (a DuckDB CLI, a notebook) holds the file, instead of
   * failing: called at each try with the holder's pid (when DuckDB names it), until it is free.
   */
  onLocked?: (holderPid: number | undefined) => void;
}

interface Pending {
  fn: (sql: Sql) => Promise<unknown>;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

/**
 * The DuckDB results file, owned by this process.
 *
 * DuckDB lets one process open a file for writing, and no other process may even read it
 * meanwhile; so exactly one process (the store) opens it, keeps it open, and everyone else goes
 * through that process. Writes queue here and land in group commits: every write queued while
 * the previous commit ran goes into the next transaction, so N concurrent landings cost one
 * commit. If a group fails, its writes are retried one by one so one bad write cannot sink the
 * others. A caller's promise resolves only after its transaction committed. Reads use a second
 * connection and see committed data.
 */
export class Database {
  private queue: Pending[] = [];
  private draining = false;
  private opened?: Promise<{ instance: DuckDBInstance; write: DuckDBConnection; read: DuckDBConnection }>;
  readonly file: string;
  /** Transactions committed since the file was opened: a snapshot taken at N is current while this is N. */
  commits = 0;

  constructor(file: string, private readonly opts: DatabaseOptions = {}) {
    this.file = path.resolve(file);
  }

  /** Run `fn` in a write transaction (shared with other queued writes). */
  run<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
    if (this.opts.readOnly) return this.read(fn);
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      void this.drain();
    });
  }

  /** Run `fn` on the read connection (no transaction of its own). */
  async read<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
    const { read } = await this.open();
    return fn(new Sql(read));
  }

  /**
   * `fn` on a connection of its own, closed afterwards: a streamed query holds its connection
   * until it is read to the end, so concurrent readers (the daemon's /query) each need one.
   */
  async withConnection<T>(fn: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
    const conn = await (await this.open()).instance.connect();
    try {
      return await fn(conn);
    } finally {
      conn.closeSync();
    }
  }

  private unregister?: () => void;
  private closing = false;

  /** Opens the file now (the owner does at start, to say at once if another process holds it). */
  async ready(): Promise<void> {
    await this.open();
  }

  async close(): Promise<void> {
    this.closing = true;
    this.unregister?.();
    this.unregister = undefined;
    if (!this.opened) return;
    while (this.draining || this.queue.length > 0) await sleep(5);
    const o = await this.opened.catch(() => undefined);
    this.opened = undefined;
    if (!o) return;
    o.write.closeSync();
    o.read.closeSync();
    o.instance.closeSync();
  }

  private open() {
    // The CLI closes (checkpoints) every open results file before it exits.
    this.unregister ??= registerOpenFile(() => this.close());
    this.opened ??= this.openOnce();
    return this.opened;
  }

  private async openOnce() {
    if (!this.opts.readOnly) mkdirSync(path.dirname(this.file), { recursive: true });
    for (let wait = 250; ; wait = Math.min(wait * 2, 2000)) {
      try {
        return await this.openNow();
      } catch (e) {
        const cause = (e as Error).cause;
        if (!this.opts.onLocked || !isLockError(cause) || this.closing) {
          this.opened = undefined; // the next use tries again
          throw e;
        }
        this.opts.onLocked(Number((cause as Error).message.match(/PID (\d+)/)?.[1]) || undefined);
        await sleep(wait);
      }
    }
  }

  private async openNow() {
    let instance: DuckDBInstance;
    try {
      // Loaded when a file is first opened: DuckDB's native module costs ~0.2 s of a command's start.
      const { DuckDBInstance } = await import('@duckdb/node-api');
      instance = await DuckDBInstance.create(this.file, {
        ...(this.opts.readOnly ? { access_mode: 'READ_ONLY' } : {}), ...creationSettings(), ...(this.opts.memoryLimit ? { memory_limit: this.opts.memoryLimit } : {}),
      });
    } catch (e) {
      const msg = (e as Error).message ?? '';
      if (isLockError(e)) {
        throw new Error(
          `${this.file} is open in another process (${msg.match(/PID \d+/)?.[0] ?? 'another process'}). One process owns the results ` +
            'file: go through it (flask-eval server), or stop it first.',
          { cause: e },
        );
      }
      throw e;
    }
    const write = await instance.connect();
    if (this.opts.snapshotBuildDir) mkdirSync(this.opts.snapshotBuildDir, { recursive: true });
    await lockDown(write, this.opts.snapshotBuildDir ? [`${this.opts.snapshotBuildDir}${path.sep}`] : []);
    if (!this.opts.readOnly) {
      await ensureSchema(new Sql(write));
      // Schema changes must not stay in the WAL: a read-only open replays it and DuckDB cannot
      // replay ALTER TABLE there. Checkpointing also keeps the file readable after a crash.
      await write.run('CHECKPOINT');
    }
    const read = await instance.connect();
    return { instance, write, read };
  }

  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      const { write } = await this.open();
      const sql = new Sql(write);
      while (this.queue.length > 0) {
        if (this.opts.gatherMs) await sleep(this.opts.gatherMs);
        const group = this.queue.splice(0);
        if (group.length === 1 || !(await this.runGroup(sql, group))) {
          for (const op of group) await this.runOne(sql, op);
        }
      }
    } catch (e) {
      for (const op of this.queue.splice(0)) op.reject(e);
    } finally {
      this.draining = false;
      if (this.queue.length > 0) void this.drain();
    }
  }

  /** All of `group` in one transaction; false (and nothing committed) if any of them failed. */
  private async runGroup(sql: Sql, group: Pending[]): Promise<boolean> {
    const values: unknown[] = [];
    await sql.exec('BEGIN TRANSACTION');
    try {
      for (const op of group) values.push(await op.fn(sql));
      await sql.exec('COMMIT');
      this.commits++;
    } catch {
      await sql.exec('ROLLBACK').catch(() => undefined);
      return false;
    }
    group.forEach((op, i) => op.resolve(values[i]));
    return true;
  }

  private async runOne(sql: Sql, op: Pending): Promise<void> {
    await sql.exec('BEGIN TRANSACTION');
    try {
      const v = await op.fn(sql);
      await sql.exec('COMMIT');
      this.commits++;
      op.resolve(v);
    } catch (e) {
      await sql.exec('ROLLBACK').catch(() => undefined);
      op.reject(e);
    }
  }
}

