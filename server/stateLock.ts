import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { RunStoppedError } from '../core/errors.js';
import { diskFullMessage } from '../core/diskSpace.js';
import { pidAlive, serverLockPath } from './serverInfo.js';

export class AlreadyRunning extends Error {
  constructor(readonly pid: number) {
    super(`a state server (pid ${pid}) already runs for this folder`);
  }
}

/**
 * The one daemon of a state folder, from its first instant: <stateDir>/server.lock created with
 * O_EXCL holds our pid. A lock whose pid is dead is stale and taken over.
 */
export function acquireStateLock(stateDir: string): void {
  const file = serverLockPath(stateDir);
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      try {
        writeSync(fd, String(process.pid));
      } catch (e) {
        // A full disk: no empty lock file left behind (it would read as a stale lock of pid 0).
        closeSync(fd);
        rmSync(file, { force: true });
        const full = diskFullMessage(file, e);
        throw full ? new RunStoppedError(`${full}: cannot write ${file}. Free space and rerun; landed results are kept`) : e;
      }
      closeSync(fd);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = Number(readFileSync(file, 'utf8').trim() || 0);
    if (holder && holder !== process.pid && pidAlive(holder)) {
      throw new AlreadyRunning(holder);
    }
    rmSync(file, { force: true });
  }
  throw new Error(`could not take ${file}`);
}

/** Removes the lock only if it is still ours (a successor may have taken over a lock it found stale). */
export function releaseStateLock(stateDir: string): void {
  try {
    if (Number(readFileSync(serverLockPath(stateDir), 'utf8').trim()) === process.pid) rmSync(serverLockPath(stateDir), { force: true });
  } catch {
    // already gone
  }
}
