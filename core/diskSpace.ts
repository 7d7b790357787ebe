import { statfsSync } from 'node:fs';
import path from 'node:path';

/** Below this much free space a failure to write is taken to be the disk being full. */
const NEARLY_FULL = 1024 * 1024;

/** Free bytes (for this user) on the file system holding `p` (or its nearest existing parent); undefined if unknown. */
function freeBytes(p: string): number | undefined {
  for (let dir = path.resolve(p); ; dir = path.dirname(dir)) {
    try {
      const s = statfsSync(dir);
      return s.bavail * s.bsize;
    } catch {
      if (dir === path.dirname(dir)) return undefined;
    }
  }
}

function formatBytes(n: number): string {
  return n >= 1 << 30 ? `${(n / (1 << 30)).toFixed(1)} GiB` : n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${Math.round(n / 1024)} KiB`;
}

/** "the disk holding P is full (N free)" when it is nearly full or `e` says so; undefined otherwise. */
export function diskFullMessage(p: string, e?: unknown): string | undefined {
  const free = freeBytes(p);
  const said = e !== undefined && /ENOSPC|No space left on device|disk is full|database or disk is full|not enough space/i.test(`${(e as NodeJS.ErrnoException)?.code ?? ''} ${(e as Error)?.message ?? e}`);
  if (!said && (free === undefined || free >= NEARLY_FULL)) return undefined;
  return `the disk holding ${p} is full (${free === undefined ? 'free space unknown' : `${formatBytes(free)} free`})`;
}
