import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { InputError } from '../errors.js';

/** DuckDB's file layout: three 4 KiB headers, then blocks of 256 KiB; "DUCK" at byte 8 of the first. */
const HEADERS = 3 * 4096;
const BLOCK = 256 * 1024;
const MAGIC = 'DUCK';

/**
 * Refuse a results file that is not a whole DuckDB database (another program's file, a copy cut
 * short, a file of zeros) before anything opens or writes it: DuckDB would otherwise answer from
 * what it can read, or fail at the first write with a stack trace. A file that does not exist yet
 * is fine (it is created). Throws InputError (exit 2) naming the file.
 */
export function assertResultsFile(file: string): void {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    return;
  }
  const fix = 'Move it away (a fresh results file is created) or point --db / FLASK_DB at the right file';
  if (size === 0) throw new InputError(`${file} is empty (0 bytes), not a DuckDB results file. ${fix}.`);
  const head = Buffer.alloc(12);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, head, 0, 12, 0);
  } finally {
    closeSync(fd);
  }
  if (head.subarray(8, 12).toString('latin1') !== MAGIC) {
    throw new InputError(`${file} is not a DuckDB database (no DuckDB header): not a results file of flask-eval. ${fix}.`);
  }
  if (size < HEADERS || (size - HEADERS) % BLOCK !== 0) {
    throw new InputError(`${file} is cut short or damaged (${size} bytes is not a whole number of DuckDB blocks): a truncated copy? ${fix}; a backup restores its runs.`);
  }
}
