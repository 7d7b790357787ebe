import { copyFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { InputError } from '../../core/errors.js';
import { attachStateServer } from '../../server/attach.js';
import { openDb, strFlag } from '../flags.js';

export const SNAPSHOT_HELP = `flask-eval snapshot [--out FILE] [--db FILE]
  A consistent read-only copy of the results for other tools (DuckDB CLI, Python, pandas, polars),
  taken now: everything landed before this command is in it. Prints its path
  (<state>/snapshot.duckdb, replaced atomically as runs land, so open it read-only and reconnect to
  see newer rows); with --out, also copies it to FILE, which then never changes.`;

export async function snapshotCommand(argv: string[], log: (s: string) => void): Promise<void> {
  const { values: v, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { out: { type: 'string' }, db: { type: 'string' } } });
  if (positionals.length) throw new InputError(`snapshot takes no positional argument (got "${positionals.join(' ')}")\n\n${SNAPSHOT_HELP}`);
  const db = openDb(v);
  // The results file belongs to the state server: it builds the copy.
  const server = await attachStateServer({ log, dbFile: db.file });
  try {
    const { file } = await server.store.snapshot();
    const out = strFlag(v, 'out');
    if (!out) {
      process.stdout.write(`${file}\n`);
      return;
    }
    const dest = path.resolve(out);
    if (dest === path.resolve(db.file)) throw new InputError(`--out ${out} is the results file itself: give another path`);
    // Copied beside the destination, then renamed: a reader never sees half a file. The published
    // copy may be replaced meanwhile, but a rename leaves the inode we copy from intact.
    const tmp = `${dest}.tmp-${process.pid}`;
    try {
      copyFileSync(file, tmp);
      renameSync(tmp, dest);
    } catch (e) {
      rmSync(tmp, { force: true });
      throw new InputError(`cannot write ${dest}: ${(e as Error).message}`);
    }
    log(`snapshot of ${db.file} copied to ${dest}`);
    process.stdout.write(`${dest}\n`);
  } finally {
    await server.release();
  }
}
