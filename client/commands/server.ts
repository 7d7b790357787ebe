import { parseArgs } from 'node:util';
import path from 'node:path';
import { dbPath, stateDir } from '../../core/config.js';
import { InputError } from '../../core/errors.js';
import { serveOffline } from '../../simulator/serve.js';
import { DEFAULT_IDLE_MS, runDaemon } from '../../server/daemon.js';
import { AlreadyRunning } from '../../server/stateLock.js';
import { ensureStateServer, probeStateServer, type StateServerHealth } from '../../server/attach.js';
import { requestJson } from '../../server/socketClient.js';
import { pidAlive, readServerInfo, removeServerInfo, serverJsonPath, serverLogPath } from '../../server/serverInfo.js';

export const SERVER_HELP = `flask-eval server [start [--foreground]|stop|status|check]   the state folder's server (FLASK_STATE_DIR, default ./.flask-eval)
  One per state folder: the embedded Temporal dev server (unless TEMPORAL_ADDRESS is set), the
  only process that opens the results file, and the workflow worker. Commands start it on demand
  (it then stops itself after 30 s without commands or running runs); \`server start\` keeps it up
  until \`server stop\`. Recorded in <state>/server.json, log in <state>/server.log.
  start    start it in the background (or pin a running one) and print where it is
  start --foreground   run it in this process instead, until SIGTERM/SIGINT or \`server stop\`
           (a container's command, systemd): logs to stderr, never stops when idle; a clean stop
           exits 0, exit 1 if this folder's server already runs elsewhere
  stop     stop it (runs in flight pause, and resume when a command starts it again)
  status   print server.json and its health; exit 1 if the recorded server is dead
  check    exit 0 if it answers on its socket with Temporal up and its store role polling, else 1
           (a container healthcheck); one line`;

/** `flask-eval server start|stop|status|check` (and, internally, the daemon itself: `start --auto|--foreground`). */
export async function serverCommand(argv: string[], log: (s: string) => void): Promise<void> {
  const { values: v, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: { auto: { type: 'boolean', default: false }, foreground: { type: 'boolean', default: false } },
  });
  const action = positionals[0] ?? 'status';
  const dir = stateDir();
  switch (action) {
    case 'start':
      if (v.auto || v.foreground) return daemonMain(dir, v.auto === true, log);
      return startCommand(dir, log);
    case 'stop':
      return stopCommand(dir, log);
    case 'status':
      return statusCommand(dir);
    case 'check':
      return checkCommand(dir, log);
    default:
      throw new InputError(`unknown server action "${action}"\n\n${SERVER_HELP}`);
  }
}

async function daemonMain(dir: string, auto: boolean, log: (s: string) => void): Promise<void> {
  const idleMs = Number(process.env.FLASK_SERVER_IDLE_MS ?? DEFAULT_IDLE_MS);
  try {
    await runDaemon({ stateDir: dir, dbFile: dbPath(), autoStarted: auto, idleMs });
  } catch (e) {
    if (e instanceof AlreadyRunning) {
      // Spawned by a command that lost a race: the other one serves. Run by hand or by a container: say so.
      if (!auto) throw new ServerDown(`${e.message} (${dir}): stop it first (\`flask-eval server stop\`), or give this one another FLASK_STATE_DIR`);
      log(`state server: ${e.message}; nothing to do`);
      return;
    }
    throw e;
  }
}

function describe(h: StateServerHealth): string {
  return [
    `state server pid ${h.pid} for ${h.stateDir}`,
    `  Temporal   ${h.temporalAddress} (namespace ${h.namespace})${h.embedded ? `, embedded dev server pid ${h.devServerPid ?? 'none'}${h.devServerRestarts ? `, restarted ${h.devServerRestarts}x` : ''}` : ''}${h.temporalUp ? '' : ' - NOT ANSWERING'}`,
    ...(h.uiUrl ? [`  UI         ${h.uiUrl}`] : []),
    `  results    ${h.dbFile}`,
    `  worker     control queue ${h.controlQueue}${h.storeReady ? '' : ' (not polling yet)'}`,
    `  leases     ${h.leases} command(s) attached; ${h.autoStarted ? 'auto-started: stops after 30 s idle' : 'kept up until `flask-eval server stop`'}`,
  ].join('\n');
}

async function startCommand(dir: string, log: (s: string) => void): Promise<void> {
  const t0 = Date.now();
  const first = await ensureStateServer({ stateDir: dir, mode: '--foreground', log });
  const { info } = first;
  let { health: h, started } = first;
  if (!started && h.autoStarted) {
    h = await requestJson<StateServerHealth>(info.socket, 'POST', '/pin');
    if (h.stopping) {
      // It was stopping on idle just now: wait for it to go, then start one that stays.
      while (pidAlive(info.pid)) await new Promise((r) => setTimeout(r, 100));
      ({ health: h, started } = await ensureStateServer({ stateDir: dir, mode: '--foreground', log }));
    }
  }
  process.stdout.write(`${describe(h)}\n`);
  log(started ? `Started in ${((Date.now() - t0) / 1000).toFixed(1)} s. Stop it with \`flask-eval server stop\`.` : 'Already running. Stop it with `flask-eval server stop`.');
}

async function stopCommand(dir: string, log: (s: string) => void): Promise<void> {
  const info = readServerInfo(dir);
  if (!info) {
    log(`no state server recorded for ${dir}`);
    return;
  }
  if (!pidAlive(info.pid)) {
    removeServerInfo(dir, info.pid);
    log(`the state server recorded for ${dir} (pid ${info.pid}) was not running; removed its stale ${path.basename(serverJsonPath(dir))}`);
    return;
  }
  try {
    await requestJson(info.socket, 'POST', '/stop', undefined, 5000);
  } catch {
    log(`pid ${info.pid} does not answer on ${info.socket}: sending SIGTERM`);
    process.kill(info.pid, 'SIGTERM');
  }
  const deadline = Date.now() + 30_000;
  while (pidAlive(info.pid)) {
    if (Date.now() > deadline) {
      log(`pid ${info.pid} did not stop within 30 s: SIGKILL (its dev server is stopped by the next start)`);
      process.kill(info.pid, 'SIGKILL');
      removeServerInfo(dir, info.pid);
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  log(`state server for ${dir} (pid ${info.pid}) stopped`);
}

async function statusCommand(dir: string): Promise<void> {
  const info = readServerInfo(dir);
  if (!info) throw new ServerDown(`no state server recorded for ${dir} (no ${serverJsonPath(dir)}); commands start one when they need it, or run \`flask-eval server start\``);
  process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
  if (!pidAlive(info.pid)) {
    throw new ServerDown(`the state server recorded for ${dir} (pid ${info.pid}) is not running: it was killed or crashed (see ${serverLogPath(dir)}). The next command replaces it, or run \`flask-eval server start\`.`);
  }
  const found = await probeStateServer(dir, 3000);
  if (!found) throw new ServerDown(`pid ${info.pid} is alive but does not answer on ${info.socket} (see ${serverLogPath(dir)})`);
  process.stdout.write(`${describe(found.health)}\n`);
  if (!found.health.temporalUp) throw new ServerDown(`Temporal at ${found.health.temporalAddress} does not answer${found.health.embedded ? ' (the dev server is being restarted)' : ''}`);
}

/** `server check`: ready to serve, i.e. what a container healthcheck needs to know. */
async function checkCommand(dir: string, log: (s: string) => void): Promise<void> {
  const found = await probeStateServer(dir, 3000);
  if (!found) throw new ServerDown(`no state server answers for ${dir} (see ${serverLogPath(dir)} or the container's log)`);
  const h = found.health;
  if (h.stopping) throw new ServerDown(`the state server (pid ${h.pid}) is stopping`);
  if (!h.temporalUp) throw new ServerDown(`the state server (pid ${h.pid}) answers, but Temporal at ${h.temporalAddress} does not`);
  if (!h.storeReady) throw new ServerDown(`the state server (pid ${h.pid}) answers, but its store role does not poll ${h.controlQueue} yet`);
  log(`ok: state server pid ${h.pid}, Temporal ${h.temporalAddress} up, store role polling ${h.controlQueue}, results ${h.dbFile}`);
}

/** Not the user's input: exit status 1, message without a stack trace. */
class ServerDown extends Error {
  readonly exitStatus = 1;
  constructor(message: string) {
    super(message);
    this.name = 'ServerDown';
  }
}

/** `flask-eval offline-judge`: the offline OpenAI-compatible server (SIMULATED scores), see simulator/serve.ts. */
export async function offlineJudgeCommand(argv: string[]): Promise<void> {
  await serveOffline(argv); // it closes the server itself on SIGINT / SIGTERM
  await new Promise<void>((r) => {
    process.once('SIGINT', () => r());
    process.once('SIGTERM', () => r());
  });
  await new Promise((r) => setTimeout(r, 100));
}
