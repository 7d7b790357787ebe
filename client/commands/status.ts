import { parseArgs } from 'node:util';
import { InputError } from '../../core/errors.js';
import { temporalConfig, stateDir } from '../../core/config.js';
import { Client, Connection } from '@temporalio/client';
import { runProgress, type RunHandle } from '../runs.js';
import { runWorkflowId } from '../../workflows/types.js';
import { portOpen } from '../temporalServer.js';

/** `flask-eval status RUN`: the run's progress from its workflow (done, failed, pending, tokens). */
export async function statusCommand(argv: string[], log: (s: string) => void): Promise<void> {
  const { positionals } = parseArgs({ args: argv, allowPositionals: true, options: {} });
  if (positionals.length !== 1) throw new InputError('status takes one run name');
  const cfg = temporalConfig();
  const address = cfg.address ?? `127.0.0.1:${process.env.FLASK_TEMPORAL_PORT ?? 7233}`;
  if (!cfg.address && !(await portOpen(Number(address.split(':')[1])))) {
    throw new InputError(`no Temporal server at ${address} (embedded runs stop it when they end; state in ${stateDir()}). Use \`flask-eval report\` for landed results.`);
  }
  const connection = await Connection.connect({ address });
  try {
    const client = new Client({ connection, namespace: cfg.namespace });
    const handle: RunHandle = client.workflow.getHandle(runWorkflowId(positionals[0]));
    const d = await handle.describe();
    log(`${handle.workflowId}: ${d.status.name}, history ${d.historyLength} events`);
    if (d.status.name === 'RUNNING') log(JSON.stringify(await runProgress(client, handle)));
    else if (d.status.name === 'COMPLETED') log(JSON.stringify(await handle.result()));
  } finally {
    await connection.close();
  }
}
