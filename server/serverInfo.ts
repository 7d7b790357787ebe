import { createHash } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { z } from 'zod';

/**
 * What a state folder's daemon records about itself in <stateDir>/server.json, so that commands
 * of this folder find it, and `flask-eval server status` can say whether it still lives.
 */
const ServerInfoSchema = z.object({
  pid: z.number().int().positive(),
  stateDir: z.string(),
  /** host:port of Temporal: the embedded dev server's, or TEMPORAL_ADDRESS. */
  temporalAddress: z.string(),
  namespace: z.string(),
  /** Embedded dev server ports; null with TEMPORAL_ADDRESS. */
  port: z.number().int().nullable(),
  uiPort: z.number().int().nullable(),
  uiUrl: z.string().nullable(),
  socket: z.string(),
  dbFile: z.string(),
  controlQueue: z.string(),
  startedAt: z.string(),
  /** Spawned by a command (stops itself when idle) rather than by `flask-eval server start`. */
  autoStarted: z.boolean(),
});
export type ServerInfo = z.output<typeof ServerInfoSchema>;

export function serverJsonPath(stateDir: string): string {
  return path.join(stateDir, 'server.json');
}

export function serverLogPath(stateDir: string): string {
  return path.join(stateDir, 'server.log');
}

/** Held (O_EXCL) by the one daemon of a folder from its first instant, before server.json exists. */
export function serverLockPath(stateDir: string): string {
  return path.join(stateDir, 'server.lock');
}

/**
 * <stateDir>/server.sock, unless that path is too long for a unix socket (108 bytes on Linux):
 * then a name in the temp folder derived from the state folder, so it is still one per folder.
 */
export function socketPathFor(stateDir: string): string {
  const preferred = path.join(stateDir, 'server.sock');
  if (Buffer.byteLength(preferred) < 100) return preferred;
  const digest = createHash('sha256').update(stateDir).digest('hex').slice(0, 16);
  return path.join(tmpdir(), `flask-eval-${digest}.sock`);
}

export function readServerInfo(stateDir: string): ServerInfo | undefined {
  let text: string;
  try {
    text = readFileSync(serverJsonPath(stateDir), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const parsed = ServerInfoSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined; // half-written by a daemon killed mid-write: treated as absent
  }
}

/** Written to a temporary name and renamed, so a reader never sees half a file. */
export function writeServerInfo(info: ServerInfo): void {
  const file = serverJsonPath(info.stateDir);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(info, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

export function removeServerInfo(stateDir: string, pid = process.pid): void {
  const info = readServerInfo(stateDir);
  // Never remove the record of another daemon (one that replaced us after we were presumed dead).
  if (!info || info.pid === pid) rmSync(serverJsonPath(stateDir), { force: true });
}

/** Signal 0 tests existence; EPERM means it exists but belongs to someone else. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A zombie (exited, not yet reaped by its parent) still answers signal 0.
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true; // no /proc (macOS): trust the signal
  }
}

/** A process holding the results file open (a DuckDB CLI, a notebook): the state server waits for it. */
export interface FileHolder {
  pid: number | null;
  /** Its command line, when this machine shows it (/proc). */
  command: string | null;
  since: string;
}

export function describeHolder(h: FileHolder): string {
  return h.pid ? `process ${h.pid}${h.command ? ` (${h.command})` : ''}` : 'another process';
}
