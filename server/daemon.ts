import { chmodSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type http from 'node:http';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { Database } from '../core/store/database.js';
import { projectVersion, temporalConfig } from '../core/config.js';
import type { DevServerChild } from './temporalDevServer.js';
import { prepareEmbeddedTemporal } from './embeddedTemporal.js';
import { acquireStateLock, releaseStateLock } from './stateLock.js';
import { keepStoreRole, stopWhenIdle, watchTemporal, type DaemonState } from './daemonLoops.js';
import { closeLeases, createStateHttpServer, interruptQueries, removeStaleUploads } from './httpApi.js';
import { SnapshotPublisher, snapshotBuildDir } from '../core/store/snapshot.js';
import { assertResultsFile } from '../core/store/resultsFile.js';
import { describeHolder, pidAlive, removeServerInfo, socketPathFor, writeServerInfo, type ServerInfo } from './serverInfo.js';
import { dataConverter } from '../core/temporal/compressionCodec.js';


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
  acquireStateLock(o.stateDir);
  const cfg = temporalConfig();
  const socket = socketPathFor(o.stateDir);
  let devServer: DevServerChild | undefined;
  let server: http.Server | undefined;
  let stopRequested: () => void = () => undefined;
  const state: DaemonState = {
    halting: false,
    stopped: new Promise<void>((r) => { stopRequested = r; }),
    temporalUp: false,
    storeReady: false,
    leaseCount: 0,
    lastLeaseAt: Date.now(),
    autoStarted: o.autoStarted,
  };
  let clientConnection: Connection | undefined;
  let snapshot: SnapshotPublisher | undefined;

  try {
    // A killed owner's half-built snapshot is garbage: we hold the lock, nobody else builds here.
    rmSync(snapshotBuildDir(o.dbFile), { recursive: true, force: true });
    // The owner of the file lives long: without a limit DuckDB keeps up to 80% of RAM as its cache.
    const db = new Database(o.dbFile, {
      memoryLimit: stateServerMemoryLimit(), snapshotBuildDir: snapshotBuildDir(o.dbFile),
      onLocked: (pid) => {
        if (state.fileHeldBy?.pid === (pid ?? null)) return;
        state.fileHeldBy = { pid: pid ?? null, command: pid ? commandLineOf(pid) : null, since: new Date().toISOString() };
        log(`${o.dbFile} is held open by ${describeHolder(state.fileHeldBy)}: waiting for it to close (other tools read snapshot.duckdb instead)`);
      },
    });
    snapshot = new SnapshotPublisher(db, log);
    for (const f of removeStaleUploads(path.dirname(o.dbFile), pidAlive)) log(`removed ${f}: an upload a killed state server had not landed`);
    if (!cfg.address) devServer = await prepareEmbeddedTemporal(o.stateDir, cfg.namespace, log);
    const address = cfg.address ?? devServer!.address;

    const info: ServerInfo = {
      pid: process.pid, stateDir: o.stateDir, temporalAddress: address, namespace: cfg.namespace,
      port: devServer?.port ?? null, uiPort: devServer?.uiPort ?? null,
      uiUrl: devServer?.uiUrl ?? null, socket, dbFile: o.dbFile, controlQueue: cfg.taskQueue,
      startedAt: new Date().toISOString(), autoStarted: o.autoStarted,
    };
    const requestStop = (why: string) => {
      if (!state.halting) log(`stopping: ${why}`);
      state.halting = true;
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
        devServerRestarts: devServer?.restarts ?? 0, temporalUp: state.temporalUp, storeReady: state.storeReady,
        autoStarted: state.autoStarted, controlQueue: cfg.taskQueue, stopping: state.halting, fileHeldBy: state.fileHeldBy ?? null,
      }),
      onLeases: (n) => { state.leaseCount = n; state.lastLeaseAt = Date.now(); },
      onStop: () => requestStop('POST /stop'),
      onPin: () => {
        if (state.halting) return; // too late: the caller sees `stopping` and starts a new one
        if (state.autoStarted) log('pinned by `flask-eval server start`: no longer stops when idle');
        state.autoStarted = false;
        info.autoStarted = false;
        writeServerInfo(info);
      },
    });
    await listenOnSocket(server, socket);
    writeServerInfo(info);
    process.once('SIGTERM', () => requestStop('SIGTERM'));
    process.once('SIGINT', () => requestStop('SIGINT'));
    log(`serving ${socket}; results ${o.dbFile}; Temporal ${address}${devServer ? ` (embedded, UI ${devServer.uiUrl})` : ''}; ${o.autoStarted ? `auto-started (stops after ${o.idleMs / 1000}s idle)` : 'started explicitly (runs until `flask-eval server stop`)'}`);

    // Opened now, so a process holding the file is named at once (and waited for), not at the first landing.
    void db.ready().then(
      () => {
        if (state.fileHeldBy) log(`${o.dbFile} is free again: opened`);
        state.fileHeldBy = undefined;
      },
      (e: Error) => log(`cannot open ${o.dbFile}: ${e.message}`),
    );
    snapshot.start();
    const startedAt = Date.now();
    if (devServer) {
      await devServer.start();
      log(`Temporal dev server up (pid ${devServer.pid}) in ${Date.now() - startedAt} ms`);
    }
    clientConnection = Connection.lazy({ address });
    const client = new Client({ connection: clientConnection, namespace: cfg.namespace, dataConverter });
    const monitor = watchTemporal(state, clientConnection, address, log);
    const storeLoop = keepStoreRole(state, { address, namespace: cfg.namespace, controlQueue: cfg.taskQueue, db, startedAt }, log);
    const idle = stopWhenIdle(state, { client, connection: clientConnection, controlQueue: cfg.taskQueue, idleMs: o.idleMs, requestStop }, log);

    await state.stopped;
    state.halting = true;
    closeLeases(server);
    interruptQueries();
    await snapshot.stop();
    await Promise.all([storeLoop, monitor, idle]).catch((e: Error) => log(`stopping: ${e.message}`));
    await clientConnection.close().catch(() => undefined);
    await devServer?.stop();
    log('stopped');
  } finally {
    await devServer?.stop().catch(() => undefined);
    if (server) await new Promise<void>((r) => server!.close(() => r()));
    rmSync(socket, { force: true });
    removeServerInfo(o.stateDir);
    releaseStateLock(o.stateDir);
  }
}

/** A process's command line from /proc (Linux), or null. */
function commandLineOf(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').replace(/\s+/g, ' ').trim().slice(0, 120) || null;
  } catch {
    return null;
  }
}

/** Listens on the folder's unix socket, created 0600 from the start (a dead daemon's socket file is removed first: we hold the lock). */
async function listenOnSocket(server: http.Server, socket: string): Promise<void> {
  rmSync(socket, { force: true });
  // umask, not a chmod after a window in which others could connect.
  const umask = process.umask(0o077);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socket, () => resolve());
    });
  } finally {
    process.umask(umask);
  }
  chmodSync(socket, 0o600);
}
