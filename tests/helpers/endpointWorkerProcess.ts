// An endpoint worker in a process of its own (so a test can SIGKILL it): argv = Temporal
// address, endpoint base URL, model, queue base. Prints "ready" once it polls.
import { NativeConnection } from '@temporalio/worker';
import { startEndpointWorker } from '../../worker/endpointWorker.js';
import { OpenAIProvider } from '../../core/provider/openaiProvider.js';
import { endpointRef } from '../../core/provider/endpoint.js';
import { installQuietRuntime } from '../../client/session.js';

const [address, url, model, queueBase] = process.argv.slice(2);
installQuietRuntime();
const connection = await NativeConnection.connect({ address });
await startEndpointWorker({
  connection, namespace: 'default', endpoint: endpointRef(url!, model!, queueBase!), provider: new OpenAIProvider({ apiKey: 'test-key', baseURL: url }),
  limits: { maxConcurrency: 4 }, backoffMs: (n) => 100 * n,
});
process.stdout.write('ready\n');
