import { parseArgs } from 'node:util';
import { stateDir } from '../../core/config.js';
import { ensureDevServer } from '../temporalServer.js';
import { serveOffline } from '../../offline/serve.js';

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

/** `flask-eval offline-judge`: the offline OpenAI-compatible server (SIMULATED scores), see offline/serve.ts. */
export async function offlineJudgeCommand(argv: string[]): Promise<void> {
  await serveOffline(argv); // it closes the server itself on SIGINT / SIGTERM
  await waitForSignal();
  await new Promise((r) => setTimeout(r, 100));
}

function waitForSignal(): Promise<void> {
  return new Promise((r) => {
    process.once('SIGINT', () => r());
    process.once('SIGTERM', () => r());
  });
}
