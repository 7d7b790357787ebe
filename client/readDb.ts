import { existsSync } from 'node:fs';
import { Database } from '../core/store/database.js';
import { InputError } from '../core/errors.js';
import { dbPath } from '../core/config.js';

/**
 * A read-only view of the results file for report/query. It opens between the workers'
 * write sessions (see Database), so it works while a run is still landing results.
 */
export function openReadOnly(file: string | undefined): Database {
  const f = file ?? dbPath();
  if (!existsSync(f)) throw new InputError(`no results database at ${f}: run a review first, or pass --db FILE (env FLASK_DB)`);
  return new Database(f, { readOnly: true, gatherMs: 0 });
}
