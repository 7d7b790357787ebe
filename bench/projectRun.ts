/**
 * One run of the project as a user runs it: `node bin/flask-eval.js review ...` spawned with a
 * fresh state folder (FLASK_STATE_DIR) and its own Temporal port, timed from spawn to exit, its
 * process tree's memory sampled, and its counts read from its DuckDB file afterwards.
 *
 * Warm (the default of bench/run-all.ts): the state server is started first with `flask-eval
 * server start`, as a user does before a series of runs, and its start-up is reported apart.
 * Cold: the command starts the state server itself (and the embedded dev server), timed with it.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import http from 'node:http';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { PROJECT_ROOT } from '../core/paths.js';
import { TreeSampler, sameProcess, type TreePeak } from './processTree.js';

export interface ProjectRunOptions {
  args: string[];
  stateDir: string;
  runId: string;
  /** kill the run (its process group) after this long */
  timeoutMs: number;
  /** start the state server before the timed command (see above) */
  warm?: boolean;
  onLine?: (line: string) => void;
}

export interface ProjectRunResult {
  /** epoch ms when the timed command was spawned */
  spawnedAt: number;
  wallMs: number;
  /** warm runs: how long `flask-eval server start` took (not in wallMs) */
  serverStartMs?: number;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  memory: TreePeak;
  counts: { scored: number; failed: number; calls?: number } | { error: string };
  outputTail: string[];
}

const MARKER_VAR = 'FLASK_BENCH_TAG';

/** Process groups of runs in progress, for stopActiveRuns() on Ctrl-C. */
const active = new Set<number>();

/** SIGTERM the process group of every run still going (they were started detached). */
export function stopActiveRuns(): void {
  for (const pgid of active) try { process.kill(-pgid, 'SIGTERM'); } catch { /* gone */ }
}

function listen(port: number): Promise<net.Server | undefined> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(undefined));
    s.listen(port, '127.0.0.1', () => resolve(s));
  });
}

/** A free port p with p + 1000 free too (the dev server's UI). */
export async function freeTemporalPort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const a = await listen(0);
    if (!a) continue;
    const p = (a.address() as net.AddressInfo).port;
    const b = p + 1000 < 65536 ? await listen(p + 1000) : undefined;
    await new Promise((r) => a.close(r));
    if (b) {
      await new Promise((r) => b.close(r));
      return p;
    }
  }
  throw new Error('no free port pair for the dev server');
}

/** The environment of a project run: no keys from the shell, a fresh state folder, its own ports. */
function runEnv(stateDir: string, port: number, tag: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['OPENAI_API_KEY', 'OPENAI_BASE_URL', 'FLASK_MODEL_API_KEY', 'FLASK_MODEL_BASE_URL', 'TEMPORAL_ADDRESS', 'FLASK_DB']) delete env[k];
  env.FLASK_STATE_DIR = stateDir;
  env.FLASK_TEMPORAL_PORT = String(port);
  env[MARKER_VAR] = tag;
  if (!env.TEMPORAL_CLI && existsSync('/opt/temporal-cli/temporal')) env.TEMPORAL_CLI = '/opt/temporal-cli/temporal';
  return env;
}

/** Ask a state-server daemon (new design: <stateDir>/server.json + server.sock) to stop, if one runs. */
async function stopDaemon(stateDir: string): Promise<void> {
  const sock = path.join(stateDir, 'server.sock');
  if (!existsSync(sock)) return;
  await new Promise<void>((resolve) => {
    const req = http.request({ socketPath: sock, path: '/stop', method: 'POST', timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', () => resolve());
    req.on('timeout', () => { req.destroy(); resolve(); });
    req.end();
  });
  let pid: number | undefined;
  try {
    pid = Number(JSON.parse(readFileSync(path.join(stateDir, 'server.json'), 'utf8')).pid);
  } catch {
    return;
  }
  for (let i = 0; i < 100 && pid && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function readCounts(stateDir: string, runId: string): Promise<ProjectRunResult['counts']> {
  const file = path.join(stateDir, 'results.duckdb');
  if (!existsSync(file)) return { error: `no ${file}` };
  let lastError = '';
  for (let i = 0; i < 20; i++) {
    try {
      const db = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY' });
      const conn = await db.connect();
      try {
        const rows = (await conn.runAndReadAll('SELECT status, count(*)::INTEGER AS n FROM reviews WHERE run_id = $1 GROUP BY status', [runId])).getRowObjects();
        const get = (s: string) => Number(rows.find((r) => r.status === s)?.n ?? 0);
        let calls: number | undefined;
        try {
          const c = (await conn.runAndReadAll('SELECT count(*)::INTEGER AS n FROM calls WHERE run_id = $1', [runId])).getRowObjects();
          calls = Number(c[0]?.n ?? 0);
        } catch {
          // today's schema has no calls table
        }
        return { scored: get('scored'), failed: get('failed'), ...(calls !== undefined ? { calls } : {}) };
      } finally {
        conn.closeSync();
        db.closeSync();
      }
    } catch (e) {
      lastError = (e as Error).message;
      await new Promise((r) => setTimeout(r, 500)); // still locked by a process that is stopping
    }
  }
  return { error: lastError };
}

/** `flask-eval server start` in the run's state folder; resolves with its wall time. */
async function startStateServer(env: NodeJS.ProcessEnv): Promise<number> {
  const t0 = Date.now();
  const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'flask-eval.js'), 'server', 'start'], { cwd: PROJECT_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`flask-eval server start exited ${code}:\n${out}`);
  return Date.now() - t0;
}

export async function runProject(o: ProjectRunOptions): Promise<ProjectRunResult> {
  const port = await freeTemporalPort();
  const tag = `${MARKER_VAR}=${path.basename(o.stateDir)}`;
  const env = runEnv(o.stateDir, port, path.basename(o.stateDir));
  const serverStartMs = o.warm ? await startStateServer(env) : undefined;
  const t0 = Date.now();
  const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'flask-eval.js'), ...o.args], {
    cwd: PROJECT_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
  });
  active.add(child.pid!);
  const sampler = new TreeSampler(child.pid!, tag);
  sampler.start();
  const tail: string[] = [];
  const onData = (d: Buffer) => {
    for (const line of d.toString().split(/\r|\n/)) {
      if (!line.trim()) continue;
      tail.push(line);
      if (tail.length > 20) tail.shift();
      o.onLine?.(line);
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try { process.kill(-child.pid!, 'SIGTERM'); } catch { /* gone */ }
    setTimeout(() => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } }, 10_000).unref();
  }, o.timeoutMs);
  const [exitCode, signal] = await new Promise<[number | null, string | null]>((resolve) => child.once('exit', (c, s) => resolve([c, s])));
  const wallMs = Date.now() - t0;
  active.delete(child.pid!);
  clearTimeout(timer);
  await stopDaemon(o.stateDir);
  const memory = sampler.stop();
  // Whatever this run started and left behind (a dev server, a daemon): stop it by its pid.
  const left = () => memory.pids.filter((p) => p.pid !== process.pid && sameProcess(p));
  for (const p of left()) try { process.kill(p.pid, 'SIGTERM'); } catch { /* gone */ }
  for (let i = 0; i < 50 && left().length > 0; i++) await new Promise((r) => setTimeout(r, 100));
  const counts = await readCounts(o.stateDir, o.runId);
  return { spawnedAt: t0, wallMs, ...(serverStartMs !== undefined ? { serverStartMs } : {}), exitCode, signal, timedOut, memory, counts, outputTail: tail };
}
