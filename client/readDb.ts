import { existsSync } from 'node:fs';
import { InputError } from '../core/errors.js';
import { dbPath } from '../core/config.js';
import { openReader, type ResultsReader } from '../server/resultsReader.js';

/** A read-only handle on the results: `run(fn)` opens a reader for `fn` and closes it after. */
export interface ReadOnlyResults {
  file: string;
  run<T>(fn: (sql: ResultsReader) => Promise<T>): Promise<T>;
}

/**
 * Read the results: through this folder's state server when it is up (it owns the file, so
 * reads work while a run lands), else by opening the file read-only, with DuckDB's access to
 * any other file switched off.
 */
export function openReadOnly(file: string | undefined): ReadOnlyResults {
  const f = file ?? dbPath();
  if (!existsSync(f)) throw new InputError(`no results database at ${f}: run a review first, or pass --db FILE (env FLASK_DB)`);
  return {
    file: f,
    async run(fn) {
      const reader = await openReader({ dbFile: f });
      try {
        return await fn(reader);
      } finally {
        await reader.close();
      }
    },
  };
}
