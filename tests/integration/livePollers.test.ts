// Fleet shares and `status` count the workers polling now. On the embedded dev server (started
// as the state server starts it, with its 10 s long poll) an idle live worker keeps counting,
// and one that exited stops counting within the live window (20 s), not up to 70 s later.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { DevServerChild, ensureTemporalCli } from '../../server/temporalDevServer.js';
import { freeDevServerPort, waitFor } from '../helpers/harness.js';
import { describeEndpointQueue, startEndpointWorker } from '../../worker/endpointWorker.js';
import { identityBase, livePollerCount, livePollers, livePollerWindowFor } from '../../core/rate/fleet.js';
import { createStoreActivities } from '../../activities/storeActivities.js';
import { fleetOf } from '../../core/fleetChunking.js';
import { endpointRef } from '../../core/provider/endpoint.js';
import { OpenAIProvider } from '../../core/provider/openaiProvider.js';
import { tempDb } from '../helpers/harness.js';
import { installQuietRuntime } from '../../client/session.js';

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

/** A dev server started as the state server starts it (10 s long poll), and a client of it. */
async function devServer(): Promise<{ dev: DevServerChild; client: Client }> {
  installQuietRuntime();
  const cli = ensureTemporalCli(() => undefined);
  assert.ok(cli, 'the Temporal CLI is installed (npm run install-temporal)');
  const port = await freeDevServerPort();
  const dev = new DevServerChild({ cli, stateDir: mkdtempSync(path.join(tmpdir(), 'flask-pollers-')), port, uiPort: port + 1000, namespace: 'default', log: () => undefined });
  await dev.start();
  cleanups.push(() => dev.stop());
  const connection = await Connection.connect({ address: dev.address });
  cleanups.push(() => connection.close());
  return { dev, client: new Client({ connection, namespace: 'default' }) };
}

test('embedded dev server: an idle live worker keeps counting; one that exited stops counting within 20 s', async () => {
  const { dev, client } = await devServer();
  const native = await NativeConnection.connect({ address: dev.address });
  cleanups.push(() => native.close());

  const window = livePollerWindowFor(undefined); // no TEMPORAL_ADDRESS: the embedded server
  assert.equal(window, 20_000);
  const live = async (queue: string) => livePollerCount(await describeEndpointQueue(client.workflowService, 'default', queue), Date.now(), window);
  const start = async (queue: string) => {
    const w = await Worker.create({ connection: native, namespace: 'default', taskQueue: queue, activities: { noop: async () => undefined } });
    const running = w.run();
    return { stop: async () => { w.shutdown(); await running; } };
  };
  const stays = await start('stays');
  cleanups.push(() => stays.stop());
  const leaves = await start('leaves');
  await waitFor('both workers seen polling', async () => (await live('stays')) === 1 && (await live('leaves')) === 1, 15_000);

  await leaves.stop();
  const stoppedAt = Date.now();
  // Idle for longer than the live window: the running worker must still count at every look
  // (its long polls expire and are renewed every 10 s); the stopped one must drop out.
  let droppedAfter: number | undefined;
  while (Date.now() - stoppedAt < 30_000) {
    assert.equal(await live('stays'), 1, `the idle live worker stopped counting ${(Date.now() - stoppedAt) / 1000} s in`);
    if (droppedAfter === undefined && (await live('leaves')) === 0) droppedAfter = Date.now() - stoppedAt;
    await new Promise((r) => setTimeout(r, 1000));
  }
  assert.ok(droppedAfter !== undefined && droppedAfter <= window + 2_000, `the exited worker counted for ${droppedAfter ?? '>30000'} ms after it stopped`);
  // With Temporal's default window (70 s, a cluster) it would still count now.
  assert.equal(livePollerCount(await describeEndpointQueue(client.workflowService, 'default', 'leaves'), Date.now(), livePollerWindowFor('cluster:7233')), 1);
});

test('endpoint workers declare their --max-concurrency in their poller identity; the store reads the fleet a batch sizes its chunks for', async () => {
  const { dev, client } = await devServer();
  const endpoint = endpointRef('http://127.0.0.1:9/v1', 'some-judge', 'control');
  const provider = new OpenAIProvider({ apiKey: 'x', baseURL: endpoint.baseUrl });
  // One worker capped at 5 calls, one adaptive (it declares nothing).
  for (const limits of [{ maxConcurrency: 5 }, {}]) {
    // A connection each, as two worker processes have (one connection may not run two workers of a queue).
    const own = await NativeConnection.connect({ address: dev.address });
    cleanups.push(() => own.close());
    const w = await startEndpointWorker({ connection: own, namespace: 'default', endpoint, provider, limits });
    cleanups.push(() => w.shutdown());
  }
  const pollers = async () => livePollers(await describeEndpointQueue(client.workflowService, 'default', endpoint.queue));
  await waitFor('both workers polling', async () => (await pollers()).length === 2, 15_000);
  const seen = await pollers();
  assert.deepEqual(seen.map((p) => p.concurrency ?? null).sort(), [5, null]);
  assert.ok(seen.every((p) => /^\d+@/.test(identityBase(p.identity))), `pid@host identities: ${seen.map((p) => p.identity).join(', ')}`);
  // The store activity a batch asks, wired as the store role wires it (worker/storeWorker.ts).
  const store = createStoreActivities({ db: tempDb('fleet'), livePollers: async (queue) => livePollers(await describeEndpointQueue(client.workflowService, 'default', queue)) });
  const fleet = await store.liveFleet({ queues: [endpoint.queue, 'a-queue-nobody-polls'] });
  assert.deepEqual([...fleet.concurrencies].sort(), [5, null]);
  // The adaptive worker stands for the run's --max-concurrency (8 here): chunks are sized for 2 workers of (5 + 8) / 2.
  assert.deepEqual(fleetOf(fleet.concurrencies, 8), { workers: 2, concurrency: 7 });
});
