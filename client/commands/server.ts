import { parseArgs } from 'node:util';
import { stateDir } from '../../core/config.js';
import { ensureDevServer } from '../temporalServer.js';
import { startOfflineServer } from '../../offline/server.js';
import { intFlag, numFlag } from '../flags.js';

/** `flask-eval server`: the embedded Temporal dev server in the foreground (to browse the UI, or share it). */
export async function serverCommand(argv: string[], log: (s: string) => void): Promise<void> {
  parseArgs({ args: argv, options: {} });
  const server = await ensureDevServer({ stateDir: stateDir(), log });
  if (!server.owned) {
    log(`A Temporal server already listens at ${server.address} (UI ${server.uiUrl}).`);
    return;
  }
  log(`Temporal dev server at ${server.address}, UI at ${server.uiUrl}, state in ${stateDir()}. Ctrl-C stops it.`);
  await waitForSignal();
  await server.stop();
}

/** `flask-eval offline-judge`: the OpenAI-compatible offline server, for demos and tests against a real HTTP port. */
export async function offlineJudgeCommand(argv: string[], log: (s: string) => void): Promise<void> {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string' }, 'latency-ms': { type: 'string' }, rpm: { type: 'string' }, 'error-rate': { type: 'string' },
      'malformed-rate': { type: 'string' }, seed: { type: 'string' }, 'api-key': { type: 'string' },
    },
  });
  const s = await startOfflineServer({
    port: intFlag(v, 'port', 8808, 0), latencyMs: numFlag(v, 'latency-ms'), requestsPerMinute: numFlag(v, 'rpm'),
    serverErrorRate: numFlag(v, 'error-rate'), malformedRate: numFlag(v, 'malformed-rate'), seed: numFlag(v, 'seed'),
    apiKey: typeof v['api-key'] === 'string' ? v['api-key'] : undefined,
  });
  log(`offline OpenAI-compatible server at ${s.url} — its scores and labels are SIMULATED, not a real judge. Ctrl-C stops it.`);
  await waitForSignal();
  await s.close();
}

function waitForSignal(): Promise<void> {
  return new Promise((r) => {
    process.once('SIGINT', () => r());
    process.once('SIGTERM', () => r());
  });
}
