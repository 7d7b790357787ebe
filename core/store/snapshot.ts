import { renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Database } from './database.js';

/**
 * The published read-only copy of the results: `<state>/snapshot.duckdb`, a complete DuckDB
 * database (tables and views) that any tool opens while runs land, and the only file user SQL
 * (`flask-eval query`) ever runs on.
 *
 * The owner builds it in `<state>/snapshot.build/` (the one folder its instance may write besides
 * its own files) with COPY FROM DATABASE inside one read transaction, so it is consistent at a
 * commit, and renames it into place: a reader holding the previous copy keeps reading it (its
 * inode), the next open sees the new one. The live file is never touched by anyone else.
 */

function snapshotPath(dbFile: string): string {
  return path.join(path.dirname(dbFile), 'snapshot.duckdb');
}

export function snapshotBuildDir(dbFile: string): string {
  return path.join(path.dirname(dbFile), 'snapshot.build');
}

/** Minimum time between two snapshots published on landing: FLASK_SNAPSHOT_INTERVAL_MS (10 s). */
function intervalMs(): number {
  const v = Number(process.env.FLASK_SNAPSHOT_INTERVAL_MS ?? 10_000);
  return Number.isFinite(v) && v >= 0 ? v : 10_000;
}

export class SnapshotPublisher {
  /** db.commits when the published copy was taken; -1: none published by this process. */
  private published = -1;
  private building?: Promise<void>;
  private builds = 0;
  private lastAt = 0;
  private lastMs = 0;
  private timer?: NodeJS.Timeout;
  readonly file: string;

  constructor(private readonly db: Database, private readonly log: (s: string) => void = () => undefined) {
    this.file = snapshotPath(db.file);
  }

  /** A snapshot holding every commit made before this call (built now if the published one is older). */
  async fresh(): Promise<string> {
    const target = this.db.commits;
    while (this.published < target) await this.build();
    return this.file;
  }

  /**
   * Publish on landing, at a bounded rate: at most once per FLASK_SNAPSHOT_INTERVAL_MS, and never
   * more than a fifth of the time (a big file takes seconds to copy).
   */
  start(): void {
    const tick = () => {
      const gap = Math.max(intervalMs(), this.lastMs * 5);
      if (this.published !== this.db.commits && Date.now() - this.lastAt >= gap) {
        void this.build().catch((e) => this.log(`snapshot ${this.file} failed: ${(e as Error).message}`));
      }
    };
    this.timer = setInterval(tick, 1000);
    this.timer.unref();
    tick();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.building?.catch(() => undefined);
  }

  /** One build at a time; a caller arriving during a build waits for it (and then checks again). */
  private build(): Promise<void> {
    this.building ??= this.buildOnce().finally(() => { this.building = undefined; });
    return this.building;
  }

  private async buildOnce(): Promise<void> {
    const t0 = Date.now();
    const at = this.db.commits;
    const tmp = path.join(snapshotBuildDir(this.db.file), `snapshot-${process.pid}-${++this.builds}.duckdb`);
    rmSync(tmp, { force: true });
    rmSync(`${tmp}.wal`, { force: true });
    try {
      await this.db.withConnection(async (conn) => {
        const name = String((await conn.runAndReadAll('SELECT current_database()')).getRows()[0]![0]);
        await conn.run(`ATTACH '${tmp.replace(/'/g, "''")}' AS flask_snapshot`);
        try {
          await conn.run(`COPY FROM DATABASE "${name.replace(/"/g, '""')}" TO flask_snapshot`);
        } finally {
          await conn.run('DETACH flask_snapshot');
        }
      });
      renameSync(tmp, this.file);
    } finally {
      rmSync(tmp, { force: true });
      rmSync(`${tmp}.wal`, { force: true });
    }
    this.published = Math.max(this.published, at);
    this.lastAt = Date.now();
    this.lastMs = this.lastAt - t0;
  }
}
