import type { DuckDBConnection } from '@duckdb/node-api';

/**
 * The DuckDB settings of every instance we open (the owner's, a direct read, a query sandbox):
 * it reads and writes its own files and nothing else (no COPY TO, read_text, ATTACH, INSTALL/LOAD),
 * locked so SQL cannot switch them back on.
 */
export const LOCKED_DOWN = {
  enable_external_access: 'false',
  lock_configuration: 'true',
  autoinstall_known_extensions: 'false',
  autoload_known_extensions: 'false',
} as const;

/**
 * The settings given when an instance is created. The two walls come after (lockDown): DuckDB
 * refuses a temp_directory or allowed_directories together with enable_external_access=false at
 * creation, and lock_configuration would refuse everything set after it.
 */
export function creationSettings(): Record<string, string> {
  const { enable_external_access: _e, lock_configuration: _l, ...rest } = LOCKED_DOWN;
  return { ...rest };
}

/**
 * External access off, then the configuration locked (in that order: the lock would refuse the
 * first), before any SQL but ours has run. `allowedDirectories` are the only folders besides the
 * instance's own files it may open.
 */
export async function lockDown(conn: DuckDBConnection, allowedDirectories: string[] = []): Promise<void> {
  if (allowedDirectories.length) await conn.run(`SET allowed_directories = [${allowedDirectories.map((d) => `'${d.replace(/'/g, "''")}'`).join(', ')}]`);
  await conn.run('SET enable_external_access = false');
  await conn.run('SET lock_configuration = true');
}

/** DuckDB's refusal to open a file another process holds (its lock is per process). */
export function isLockError(e: unknown): boolean {
  return /Could not set lock on file|Conflicting lock/i.test((e as Error)?.message ?? '');
}
