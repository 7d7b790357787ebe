import { spawn, type ChildProcess } from 'node:child_process';
import type { RescoreResult } from '../activities/rescoreReviews.js';
import type { CachePruneFilter } from '../core/store/callCache.js';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { InputError, RunStoppedError } from '../core/errors.js';
import { diskFullMessage } from '../core/diskSpace.js';
import { PROJECT_ROOT } from '../core/paths.js';
import { dbPath, stateDir as configuredStateDir, temporalConfig } from '../core/config.js';
import type { PrepareRunRequest, PrepareRunResult } from '../core/store/prepareRun.js';
import type { HumanLabelRow } from '../core/store/humanLabels.js';
import { keyFreeEnv } from './temporalDevServer.js';
import { assertResultsFile } from '../core/store/resultsFile.js';
import { openLease, postNdjson, requestJson, streamNdjson, type Lease } from './socketClient.js';
import { describeHolder, pidAlive, readServerInfo, serverJsonPath, serverLockPath, serverLogPath, socketPathFor, type FileHolder, type ServerInfo } from './serverInfo.js';

/** What GET /health answers. */
export interface StateServerHealth {
  pid: number;
  stateDir: string;
  dbFile: string;
  temporalAddress: string;
  namespace: string;
  uiUrl: string | null;
  version: string;
  embedded: boolean;
  devServerPid: number | null;
  devServerRestarts: number;
  temporalUp: boolean;
  storeReady: boolean;
  autoStarted: boolean;
  controlQueue: string;
  leases: number;
  /** Shutting down: not to be attached to (a new one is started once it is gone). */
  stopping: boolean;
  /** Another process holds the results file: the server waits for it before it can land anything. */
  fileHeldBy?: FileHolder | null;
}

type Row = Record<string, unknown>;

interface QueryOptions {
  /** The user's own SQL (flask-eval query): checked by the safe-query rules. */
  user?: boolean;
  /** The user query's time limit. */
  timeoutMs?: number;
  onColumns?: (columns: string[]) => void;
}

/** The store, as a command sees it: everything goes through the folder's daemon. */
export interface StoreClient {
  prepareRun(req: PrepareRunRequest): Promise<PrepareRunResult>;
  /** flask-eval import-labels: land checked rows (core/store/humanLabels.ts) */
  importLabels(body: { runId: string; source: { path: string; sha256: string }; rows: readonly HumanLabelRow[] }): Promise<{ landed: number; existing: number }>;
  query<T extends Row = Row>(sql: string, params?: unknown[], o?: QueryOptions): AsyncIterable<T>;
  /** flask-eval snapshot: the published read-only copy, refreshed now if anything landed since. */
  snapshot(): Promise<{ file: string }>;
  /** flask-eval rescore: re-parse a run's stored judge texts into `target` (activities/rescoreReviews.ts) */
  rescore(body: { source: string; target: string }): Promise<RescoreResult>;
  /** flask-eval cache prune: delete (or, dryRun, count) the call cache's answers the filter selects */
  pruneCache(body: { filter: CachePruneFilter; dryRun?: boolean }): Promise<{ answers: number; textChars: number }>;
}

export interface AttachedStateServer {
  temporalAddress: string;
  namespace: string;
  uiUrl?: string;
  dbFile: string;
  socket: string;
  store: StoreClient;
  /** Give the lease back. The daemon stays up (it stops itself later if auto-started and idle). */
  release(): Promise<void>;
}

export function storeClient(socket: string): StoreClient {
  return {
    prepareRun(req) {
      const { record, instances, responses, ...options } = req;
      function* lines(): Generator<unknown> {
        yield { record, options };
        let n = 0;
        let m = 0;
        for (const instance of instances) {
          n++;
          yield { instance };
        }
        for (const response of responses ?? []) {
          m++;
          yield { response };
        }
        // Without this line the state server stores nothing (a command that died mid-upload).
        yield { end: { instances: n, responses: m } };
      }
      return postNdjson<PrepareRunResult>(socket, '/runs', lines());
    },
    importLabels(body) {
      return requestJson(socket, 'POST', '/labels', body, 120_000);
    },
    snapshot() {
      // A big results file takes a while to copy.
      return requestJson(socket, 'POST', '/snapshot', {}, 600_000);
    },
    rescore(body) {
      return requestJson(socket, 'POST', '/rescore', body, 600_000);
    },
    pruneCache(body) {
      return requestJson(socket, 'POST', '/cache/prune', body, 600_000);
    },
    query<T extends Row = Row>(sql: string, params: unknown[] = [], o: QueryOptions = {}): AsyncIterable<T> {
      return (async function* () {
        let ended = false;
        for await (const line of streamNdjson(socket, '/query', { sql, params, user: o.user ?? false, timeoutMs: o.timeoutMs })) {
          const l = line as Row;
          if (Array.isArray(l.columns) && Object.keys(l).length === 1) {
            o.onColumns?.(l.columns as string[]);
            continue;
          }
          if ('$error' in l && Object.keys(l).length === 1) throw new InputError(`query failed: ${String(l.$error)}`);
          if ('$end' in l && Object.keys(l).length === 1) {
            ended = true;
            continue;
          }
          yield l as T;
        }
        if (!ended) throw new Error(`the state server's answer to a query ended early (did it stop? see ${path.join(path.dirname(socket), 'server.log')})`);
      })();
    },
  };
}

/** The daemon's health, if this folder's daemon is alive and answers; undefined otherwise. */
export async function probeStateServer(stateDir: string, timeoutMs = 2000): Promise<{ info: ServerInfo; health: StateServerHealth } | undefined> {
  const info = readServerInfo(stateDir);
  if (!info || !pidAlive(info.pid)) return undefined;
  try {
    const health = await requestJson<StateServerHealth>(info.socket, 'GET', '/health', undefined, timeoutMs);
    // Another folder's daemon is never used, even if a socket path was mixed up.
    if (path.resolve(health.stateDir) !== path.resolve(stateDir) || health.pid !== info.pid) return undefined;
    return { info, health };
  } catch {
    return undefined;
  }
}

/** The pid of a daemon of this folder that is alive (running, or still starting), if any. */
export function liveDaemonPid(stateDir: string): number | undefined {
  const info = readServerInfo(stateDir);
  if (info && pidAlive(info.pid)) return info.pid;
  try {
    const pid = Number(readFileSync(serverLockPath(stateDir), 'utf8').trim());
    if (pid && pidAlive(pid)) return pid;
  } catch {
    // no lock: nobody is starting
  }
  return undefined;
}

const FLASK_EVAL_BIN = path.join(PROJECT_ROOT, 'bin', 'flask-eval.js');

/**
 * Start the folder's daemon, detached: its own process group, stdio to <stateDir>/server.log,
 * so it never holds a parent's pipe (a CI step waiting for EOF would hang) and outlives the
 * command. Its environment has no API keys: it never calls a model.
 */
function spawnStateServer(stateDir: string, mode: '--auto' | '--foreground', dbFile?: string, extraEnv: Record<string, string> = {}): ChildProcess {
  mkdirSync(stateDir, { recursive: true });
  const fd = openSync(serverLogPath(stateDir), 'a');
  const child = spawn(process.execPath, [FLASK_EVAL_BIN, 'server', 'start', mode], {
    detached: true,
    stdio: ['ignore', fd, fd],
    // The results file the command asked for (--db or FLASK_DB) is the one the daemon owns.
    env: { ...keyFreeEnv(process.env), FLASK_STATE_DIR: stateDir, ...(dbFile ? { FLASK_DB: dbFile } : {}), ...extraEnv },
    cwd: PROJECT_ROOT,
  });
  closeSync(fd);
  child.unref();
  return child;
}

function logTail(stateDir: string, lines = 15): string {
  try {
    return readFileSync(serverLogPath(stateDir), 'utf8').trimEnd().split('\n').slice(-lines).map((l) => `  | ${l}`).join('\n');
  } catch {
    return '  (no log)';
  }
}

/**
 * The folder's state server, started if needed, and ready: answering on its socket with
 * Temporal up. Used by `attachStateServer` and `flask-eval server start`.
 */
export async function ensureStateServer(o: { stateDir: string; mode: '--auto' | '--foreground'; log: (s: string) => void; timeoutMs?: number; dbFile?: string }): Promise<{ info: ServerInfo; health: StateServerHealth; started: boolean }> {
  assertResultsFile(path.resolve(o.dbFile ?? dbPath()));
  const timeoutMs = o.timeoutMs ?? Number(process.env.FLASK_SERVER_START_TIMEOUT_MS ?? 120_000);
  let deadline = Date.now() + timeoutMs;
  let child: ChildProcess | undefined;
  let childExit: string | undefined;
  let waitingSaid = false;
  let heldSaidAt = 0;
  for (;;) {
    const found = await probeStateServer(o.stateDir, 1000);
    const held = found?.health.fileHeldBy;
    if (held && !found.health.stopping) {
      // Not an error and not a timeout: the user closes the other program and the command goes on.
      if (Date.now() - heldSaidAt > 60_000) {
        o.log(`${found.health.dbFile} is held open by ${describeHolder(held)} since ${held.since.slice(11, 19)}: waiting for it to close. ` +
          `Close that connection; while runs land, other tools read ${path.join(path.dirname(found.health.dbFile), 'snapshot.duckdb')} (flask-eval snapshot) instead. Ctrl-C stops waiting.`);
        heldSaidAt = Date.now();
      }
      deadline = Date.now() + timeoutMs;
      await new Promise((r) => setTimeout(r, 500));
      continue;
    }
    if (found?.health.temporalUp && !found.health.stopping) return { ...found, started: child !== undefined };
    if (!found && liveDaemonPid(o.stateDir) === undefined) {
      if (childExit !== undefined) {
        // Exit 2: the results file cannot be used (its log says why, naming it): the user's error, not a crash.
        const unusable = childExit === 'exit code 2' ? /cannot open .*?: (.*)$/m.exec(logTail(o.stateDir, 40).split('\n').filter((l) => l.includes('cannot open ')).pop() ?? '') : null;
        if (unusable) throw new InputError(unusable[1]!);
        const full = diskFullMessage(o.stateDir);
        if (full) throw new RunStoppedError(`${full}: the state server could not start (its log: ${serverLogPath(o.stateDir)}). Free space and rerun the command; landed results are kept and the run resumes`);
        throw new Error(`the state server for ${o.stateDir} exited (${childExit}) before it was ready. Its log, ${serverLogPath(o.stateDir)}, ends with:\n${logTail(o.stateDir)}`);
      }
      if (!child) {
        // A record whose pid is dead is stale: a daemon that was killed.
        let port: number | null | undefined;
        if (existsSync(serverJsonPath(o.stateDir))) {
          const dead = readServerInfo(o.stateDir);
          port = dead?.port;
          // Left for the new server to overwrite: until then `status` reads that a server died, not that none ran.
          o.log(`The state server recorded in ${serverJsonPath(o.stateDir)} is gone (pid ${dead?.pid ?? '?'} not running): starting a new one.`);
        }
        // Its dev server comes back on the dead one's port: commands connected to it carry on.
        child = spawnStateServer(o.stateDir, o.mode, o.dbFile, port && !process.env.FLASK_TEMPORAL_PORT ? { FLASK_TEMPORAL_PORT: String(port) } : {});
        child.once('exit', (code, signal) => { childExit = signal ?? `exit code ${code}`; });
        o.log(`Starting the state server for ${o.stateDir} (pid ${child.pid}, log ${serverLogPath(o.stateDir)})...`);
      }
    } else if (found && !found.health.temporalUp && !waitingSaid) {
      waitingSaid = true;
      o.log(`Waiting for Temporal at ${found.health.temporalAddress} (state server pid ${found.info.pid})...`);
    }
    if (Date.now() > deadline) {
      throw new Error(`the state server for ${o.stateDir} was not ready within ${timeoutMs / 1000}s. Its log, ${serverLogPath(o.stateDir)}, ends with:\n${logTail(o.stateDir)}`);
    }
    await new Promise((r) => setTimeout(r, child && !found ? 100 : 250));
  }
}

/**
 * Attach this command to its state folder's daemon (starting it, detached, if absent) and hold a
 * lease while the command runs. Two commands of a folder share one daemon; neither stops it.
 */
export async function attachStateServer(o: { log: (s: string) => void; stateDir?: string; dbFile?: string; timeoutMs?: number }): Promise<AttachedStateServer> {
  const stateDir = path.resolve(o.stateDir ?? configuredStateDir());
  const dbFile = path.resolve(o.dbFile ?? dbPath());
  // An auto-started daemon may decide it is idle between our health check and our lease:
  // then its socket is gone and we start over (a new daemon).
  for (let attempt = 1; ; attempt++) {
    const { info, health } = await ensureStateServer({ stateDir, mode: '--auto', log: o.log, timeoutMs: o.timeoutMs, dbFile });
    if (path.resolve(health.dbFile) !== dbFile && info.autoStarted && health.leases === 0 && attempt < 3) {
      // An idle, auto-started server of another results file: nobody uses it, so it makes way.
      o.log(`The idle state server of ${stateDir} serves ${health.dbFile}; stopping it to serve ${dbFile}.`);
      await requestJson(info.socket ?? socketPathFor(stateDir), 'POST', '/stop').catch(() => undefined);
      for (let i = 0; i < 100 && liveDaemonPid(stateDir) !== undefined; i++) await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    checkSameSettings(stateDir, dbFile, info, health);
    const socket = info.socket ?? socketPathFor(stateDir);
    let lease;
    try {
      lease = await openLease(socket);
    } catch (e) {
      if (attempt >= 3) throw e;
      await new Promise((r) => setTimeout(r, 500));
      continue;
    }
    const held: HeldLease = { lease, released: false };
    superviseLease(held, info.pid, { stateDir, dbFile, log: o.log, timeoutMs: o.timeoutMs });
    return {
      temporalAddress: health.temporalAddress,
      namespace: health.namespace,
      uiUrl: health.uiUrl ?? undefined,
      dbFile: health.dbFile,
      socket,
      store: storeClient(socket),
      release: () => {
        held.released = true;
        return held.lease.release();
      },
    };
  }
}

/** The lease a command holds now (a replacement server's, after a death), and whether it gave it back. */
interface HeldLease {
  lease: Lease;
  released: boolean;
}

/**
 * A state server that dies under a command is noticed when its lease closes (at once, not when
 * the next query times out): the command says so once, starts a replacement (on the same Temporal
 * port, so its connections and the run carry on) or attaches to one another command started,
 * takes a lease on it and keeps watching. A server stopped on purpose (`server stop`) is not
 * replaced.
 */
function superviseLease(held: HeldLease, pid: number, o: { stateDir: string; dbFile: string; log: (s: string) => void; timeoutMs?: number }): void {
  void held.lease.lost.then(async ({ stopped }) => {
    if (held.released) return;
    if (stopped) {
      o.log(`The state server (pid ${pid}) was stopped (\`flask-eval server stop\`): this command's run pauses; rerun the command to resume it.`);
      return;
    }
    const since = Date.now();
    o.log(`The state server (pid ${pid}) went away at ${new Date().toTimeString().slice(0, 8)}; starting or attaching to a replacement...`);
    for (let wait = 1000; !held.released; wait = Math.min(wait * 2, 15_000)) {
      try {
        const { info } = await ensureStateServer({ stateDir: o.stateDir, mode: '--auto', log: o.log, timeoutMs: o.timeoutMs, dbFile: o.dbFile });
        const next = await openLease(info.socket ?? socketPathFor(o.stateDir));
        if (held.released) return void (await next.release());
        held.lease = next;
        o.log(`State server back (pid ${info.pid}) after ${((Date.now() - since) / 1000).toFixed(1)} s; following the run.`);
        superviseLease(held, info.pid, o);
        return;
      } catch (e) {
        o.log(`No replacement state server yet (${(e as Error).message.split('\n')[0]}); retrying in ${wait / 1000} s.`);
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  });
}

/** A command's settings must be the daemon's: never another results file or Temporal silently. */
function checkSameSettings(stateDir: string, dbFile: string, info: ServerInfo, health: StateServerHealth): void {
  const cfg = temporalConfig();
  if (path.resolve(health.dbFile) !== dbFile) {
    throw new InputError(
      `the state server of ${stateDir} (pid ${info.pid}) serves the results file ${health.dbFile}, not ${dbFile}. ` +
        'Use the same FLASK_DB (or --db) as the server, or stop it first: `flask-eval server stop`.',
    );
  }
  if (cfg.address && cfg.address !== health.temporalAddress) {
    throw new InputError(
      `the state server of ${stateDir} (pid ${info.pid}) uses Temporal at ${health.temporalAddress}, but TEMPORAL_ADDRESS=${cfg.address}. ` +
        'Use the same address, another FLASK_STATE_DIR, or stop it first: `flask-eval server stop`.',
    );
  }
  if (health.namespace !== cfg.namespace) {
    throw new InputError(`the state server of ${stateDir} uses namespace ${health.namespace}, but TEMPORAL_NAMESPACE is ${cfg.namespace}: stop it first (\`flask-eval server stop\`).`);
  }
}
