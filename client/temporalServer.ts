import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { PROJECT_ROOT } from '../core/paths.js';
import { InputError } from '../core/errors.js';

/** Where scripts/install-temporal.sh puts the official CLI. */
export const INSTALLED_TEMPORAL_CLI = path.join(PROJECT_ROOT, '.flask-eval', 'bin', 'temporal');

/** An existing official Temporal CLI: $TEMPORAL_CLI, then the project's install, then PATH. */
export function findTemporalCli(env = process.env): string | undefined {
  if (env.TEMPORAL_CLI) {
    if (!existsSync(env.TEMPORAL_CLI)) throw new InputError(`TEMPORAL_CLI=${env.TEMPORAL_CLI} does not exist`);
    return env.TEMPORAL_CLI;
  }
  if (existsSync(INSTALLED_TEMPORAL_CLI)) return INSTALLED_TEMPORAL_CLI;
  const which = spawnSync('sh', ['-c', 'command -v temporal'], { encoding: 'utf8' });
  const found = which.stdout.trim();
  return which.status === 0 && found ? found : undefined;
}

const NO_CLI_HELP =
  'Run `npm run install-temporal` (needs Go), put `temporal` on PATH, set TEMPORAL_CLI=/path/to/temporal, ' +
  'or set TEMPORAL_ADDRESS to use an existing Temporal cluster.';

/** Find the CLI, or build it with scripts/install-temporal.sh when Go is there (first run on a fresh machine). */
export function ensureTemporalCli(log: (s: string) => void): string | undefined {
  const found = findTemporalCli();
  if (found) return found;
  if (spawnSync('sh', ['-c', 'command -v go']).status === 0) {
    log('No Temporal CLI found: building the official one (scripts/install-temporal.sh, once)...');
    const r = spawnSync('bash', [path.join(PROJECT_ROOT, 'scripts', 'install-temporal.sh')], { stdio: 'inherit' });
    if (r.status === 0 && existsSync(INSTALLED_TEMPORAL_CLI)) return INSTALLED_TEMPORAL_CLI;
  }
  return undefined;
}

/**
 * Last resort: the SDK downloads the dev server itself. That needs the internet (offline it
 * fails with a DNS error), which is why an installed binary is always tried first.
 */
async function sdkDownloadedServer(o: { stateDir: string; port: number; uiPort: number; log: (s: string) => void }): Promise<DevServer> {
  o.log('No Temporal CLI found and none could be built: trying the Temporal SDK\'s download of the dev server...');
  const { TestWorkflowEnvironment } = await import('@temporalio/testing');
  try {
    const env = await TestWorkflowEnvironment.createLocal({
      server: { dbFilename: path.join(o.stateDir, 'temporal.db'), ip: '127.0.0.1', port: o.port, uiPort: o.uiPort, ui: true },
    });
    return { address: `127.0.0.1:${o.port}`, uiUrl: `http://127.0.0.1:${o.uiPort}`, owned: true, stop: () => env.teardown() };
  } catch (e) {
    throw new InputError(`No Temporal CLI found, and the SDK could not download the dev server (${(e as Error).message}). ${NO_CLI_HELP}`);
  }
}

export interface DevServer {
  address: string;
  uiUrl: string;
  /** True when this process started it (and stops it on exit). */
  owned: boolean;
  stop(): Promise<void>;
}

export function portOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

/**
 * The embedded default: the official dev server (`temporal server start-dev`) persisting to a
 * file in the state folder, so a killed run resumes when the command is run again. If a server
 * already listens on the port (say, left over from a killed invocation) it is reused.
 */
export async function ensureDevServer(opts: { stateDir: string; port?: number; uiPort?: number; log: (s: string) => void }): Promise<DevServer> {
  const port = opts.port ?? Number(process.env.FLASK_TEMPORAL_PORT ?? 7233);
  const uiPort = opts.uiPort ?? port + 1000;
  const address = `127.0.0.1:${port}`;
  const uiUrl = `http://127.0.0.1:${uiPort}`;
  if (await portOpen(port)) return { address, uiUrl, owned: false, stop: async () => {} };

  mkdirSync(opts.stateDir, { recursive: true });
  const cli = ensureTemporalCli(opts.log);
  if (!cli) return sdkDownloadedServer({ stateDir: opts.stateDir, port, uiPort, log: opts.log });
  const logFile = openSync(path.join(opts.stateDir, 'temporal-server.log'), 'a');
  const child: ChildProcess = spawn(
    cli,
    ['server', 'start-dev', '--db-filename', path.join(opts.stateDir, 'temporal.db'), '--ip', '127.0.0.1',
      '--port', String(port), '--ui-port', String(uiPort), '--log-level', 'warn'],
    { stdio: ['ignore', logFile, logFile] },
  );
  let exited = false;
  child.once('exit', () => { exited = true; });
  const deadline = Date.now() + 60_000;
  while (!(await portOpen(port))) {
    if (exited || Date.now() > deadline) {
      throw new Error(`the Temporal dev server did not start; see ${path.join(opts.stateDir, 'temporal-server.log')}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const stop = async () => {
    if (exited) return;
    child.kill('SIGTERM');
    await new Promise<void>((r) => { if (exited) r(); else child.once('exit', () => r()); setTimeout(r, 10_000); });
  };
  process.once('exit', () => { if (!exited) child.kill('SIGTERM'); });
  return { address, uiUrl, owned: true, stop };
}
