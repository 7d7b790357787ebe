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
import { describeEndpointQueue } from '../../worker/endpointWorker.js';
import { livePollerCount, livePollerWindowFor } from '../../core/rate/fleet.js';
import { installQuietRuntime } from '../../client/session.js';

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

test('embedded dev server: an idle live worker keeps counting; one that exited stops counting within 20 s', async () => {
  installQuietRuntime();
  const cli = ensureTemporalCli(() => undefined);
  assert.ok(cli, 'the Temporal CLI is installed (npm run install-temporal)');
  const port = await freeDevServerPort();
  const dev = new DevServerChild({ cli, stateDir: mkdtempSync(path.join(tmpdir(), 'flask-pollers-')), port, uiPort: port + 1000, namespace: 'default', log: () => undefined });
  await dev.start();
  cleanups.push(() => dev.stop());
  const connection = await Connection.connect({ address: dev.address });
  cleanups.push(() => connection.close());
  const client = new Client({ connection, namespace: 'default' });
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
