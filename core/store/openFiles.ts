/**
 * Results files this process has open, so the CLI can close (and checkpoint) them on exit
 * without loading DuckDB itself when a command never opened one.
 */
const closers = new Set<() => Promise<void>>();

export function registerOpenFile(close: () => Promise<void>): () => void {
  closers.add(close);
  return () => closers.delete(close);
}

export async function closeOpenFiles(): Promise<void> {
  await Promise.all([...closers].map((c) => c()));
}
