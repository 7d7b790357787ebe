import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { followRun, type RunHandle } from '../../client/runs.js';
import type { Progress } from '../../core/pipeline.js';
import { attachStateServer, probeStateServer, type AttachedStateServer } from '../../server/attach.js';
import { requestJson } from '../../server/socketClient.js';
import { pidAlive, readServerInfo, serverJsonPath, type ServerInfo } from '../../server/serverInfo.js';
import { chooseDevServerPort, keyFreeEnv } from '../../server/temporalDevServer.js';
import { outageReporter, retryWhileUnreachable } from '../../client/temporalOutage.js';
import { openReader } from '../../server/resultsReader.js';
import { Database } from '../../core/store/database.js';
import { PROJECT_ROOT } from '../../core/paths.js';
import { sleep, waitFor } from '../helpers/harness.js';

// The state server on the real dev server: each scenario has its own state folder and ports.

const CLI = path.join(PROJECT_ROOT, 'bin', 'flask-eval.js');
const quiet = () => undefined;

function tempState(name: string): string {
  return mkdtempSync(path.join(tmpdir(), `flask-state-${name}-`));
}

/**
 * A free port P whose UI port P+1000 is free too, below the ephemeral range (an outgoing
 * connection could take an ephemeral port between this choice and the daemon's start).
 */
async function freePortPair(): Promise<number> {
  for (;;) {
    const p = 20_000 + Math.floor(Math.random() * 11_000);
    try {
      return await chooseDevServerPort(p);
    } catch {
      // taken: try another
    }
  }
}

/** Run the CLI with this state folder. */
function cli(stateDir: string, args: string[], extraEnv: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    env: { ...process.env, FLASK_STATE_DIR: stateDir, ...extraEnv }, encoding: 'utf8', timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function health(info: ServerInfo): Promise<Record<string, unknown>> {
  return requestJson(info.socket, 'GET', '/health');
}

/** Whatever a scenario leaves running is stopped (daemon and its dev server share a process group). */
function killDaemon(stateDir: string): void {
  const info = readServerInfo(stateDir);
  if (info && pidAlive(info.pid)) {
    try { process.kill(-info.pid, 'SIGKILL'); } catch { /* gone */ }
    try { process.kill(info.pid, 'SIGKILL'); } catch { /* gone */ }
  }
}

function withEnv(vars: Record<string, string | undefined>): () => void {
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(vars)) {
    saved[k] = process.env[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  return () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
}

describe('one state folder, one shared state server', () => {
  const stateDir = tempState('shared');
  let restoreEnv: () => void;
  let a: AttachedStateServer;
  let b: AttachedStateServer;
  let info: ServerInfo;

  before(async () => {
    // A key in the command's environment must not reach the daemon nor its dev server child.
    restoreEnv = withEnv({ FLASK_STATE_DIR: stateDir, FLASK_TEMPORAL_PORT: String(await freePortPair()), OPENAI_API_KEY: 'sk-test-must-not-leak', GITHUB_TOKEN: 'ghp-must-not-leak',
      // A restart that takes a while: long enough for calls to fail and be retried.
      FLASK_DEV_SERVER_RESTART_DELAY_MS: '4000' });
  });
  after(() => {
    killDaemon(stateDir);
    restoreEnv();
  });

  test('two commands starting at once share one daemon; the first to release does not stop it', async () => {
    // At the same instant, in a folder without a server: both may spawn one, one daemon wins.
    const t0 = Date.now();
    [a, b] = await Promise.all([attachStateServer({ log: quiet }), attachStateServer({ log: quiet })]);
    const startMs = Date.now() - t0;
    info = readServerInfo(stateDir)!;
    assert.ok(info, 'server.json written');
    assert.equal(a.socket, b.socket);
    assert.equal(a.temporalAddress, `127.0.0.1:${process.env.FLASK_TEMPORAL_PORT}`);
    assert.equal(info.stateDir, stateDir);
    assert.equal(info.dbFile, path.join(stateDir, 'results.duckdb'));
    assert.equal(info.autoStarted, true);
    assert.equal((await health(info)).leases, 2);
    await a.release();
    await waitFor('lease count 1', async () => (await health(info)).leases === 1, 5000);
    assert.ok(pidAlive(info.pid), 'daemon still alive after the first release');
    const h = await health(info);
    assert.equal(h.temporalUp, true);
    process.stderr.write(`state server ready (spawn to Temporal up) in ${startMs} ms\n`);
  });

  test('the dev server child and the daemon have no API keys in their environment', async () => {
    const h = await health(info);
    const childPid = h.devServerPid as number;
    assert.ok(childPid > 0);
    for (const pid of [childPid, info.pid]) {
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      assert.ok(!environ.some((kv) => kv.startsWith('OPENAI_API_KEY=')), `pid ${pid} has OPENAI_API_KEY`);
      assert.ok(!environ.some((kv) => kv.includes('must-not-leak')), `pid ${pid} has a secret`);
      assert.ok(environ.some((kv) => kv.startsWith('PATH=')), 'the rest of the environment is kept');
    }
    assert.deepEqual(Object.keys(keyFreeEnv({ OPENAI_API_KEY: 'x', FLASK_MODEL_API_KEY: 'x', HF_TOKEN: 'x', MY_SECRET_THING: 'x', HOME: '/h' })), ['HOME']);
  });

  test('with TEMPORAL_ADDRESS another folder gets a store-only daemon: no dev server, its own control queue', async () => {
    const other = tempState('external');
    const restore = withEnv({ FLASK_STATE_DIR: other, TEMPORAL_ADDRESS: a.temporalAddress, FLASK_TASK_QUEUE: `ext-${Date.now()}`, FLASK_TEMPORAL_PORT: undefined });
    try {
      const ext = await attachStateServer({ log: quiet });
      const extInfo = readServerInfo(other)!;
      assert.notEqual(extInfo.pid, info.pid);
      assert.equal(ext.temporalAddress, a.temporalAddress);
      assert.equal(extInfo.port, null);
      const h = await health(extInfo);
      assert.equal(h.embedded, false);
      assert.equal(h.devServerPid, null);
      assert.equal(h.controlQueue, process.env.FLASK_TASK_QUEUE);
      await waitFor('store role polling', async () => (await health(extInfo)).storeReady === true, 60_000);
      await ext.release();
      const r = cli(other, ['server', 'stop']);
      assert.equal(r.status, 0, r.stderr);
      await waitFor('store-only daemon gone', async () => !pidAlive(extInfo.pid), 15_000);
      assert.equal((await health(info)).temporalUp, true, 'the embedded server of the first folder is untouched');
    } finally {
      killDaemon(other);
      restore();
    }
  });

  test('queries and run preparation go through the socket; openReader uses it while the daemon is up', async () => {
    const rows: Record<string, unknown>[] = [];
    for await (const r of b.store.query('SELECT 42 AS answer, ? AS echo', ['x'])) rows.push(r);
    assert.deepEqual(rows, [{ answer: 42, echo: 'x' }]);
    await assert.rejects(async () => { for await (const _ of b.store.query("COPY (SELECT 1) TO '/tmp/x.csv'", [], { user: true })) void _; }, /only SELECT|COPY statements are refused|disabled by configuration/);
    const reader = await openReader();
    try {
      assert.match(reader.describe, /through the state server/);
      assert.deepEqual(await reader.one('SELECT count(*)::INT AS n FROM runs'), { n: 0 });
    } finally {
      await reader.close();
    }
  });

  test('dev server SIGKILLed: the daemon restarts it, /health answers, a client reconnects', async () => {
    const h0 = await health(info);
    const connection = await Connection.connect({ address: b.temporalAddress });
    const client = new Client({ connection, namespace: b.namespace });
    // A workflow no worker serves: it must still be there after the restart (state in temporal.db).
    const wf = await client.workflow.start('noSuchWorkflow', { taskQueue: 'nobody-polls-this', workflowId: `survives-${Date.now()}`, args: [] });
    process.kill(h0.devServerPid as number, 'SIGKILL');
    // Calls while it is down fail fast (1 s deadline) and are retried; the user is told once.
    const log: string[] = [];
    const d = await retryWhileUnreachable(
      () => connection.withDeadline(Date.now() + 1000, () => wf.describe()),
      outageReporter((s) => log.push(s)),
      { giveUpAfterMs: 60_000 },
    );
    assert.match(log[0] ?? '', /^Temporal unreachable since \d\d:\d\d:\d\d, retrying$/);
    assert.match(log.at(-1) ?? '', /^Temporal is back/);
    assert.equal(log.length, 2, log.join('\n'));
    await waitFor('dev server restarted', async () => {
      const h = await health(info);
      return (h.devServerRestarts as number) >= 1 && h.temporalUp === true && h.devServerPid !== h0.devServerPid;
    }, 60_000);
    assert.equal(d.status.name, 'RUNNING');
    await waitFor('store role polling again', async () => (await health(info)).storeReady === true, 30_000);
    assert.match(readFileSync(path.join(stateDir, 'server.log'), 'utf8'), /exited \(SIGKILL\).*restarting/);
    await wf.terminate('test done');
    await connection.close();
  });

  test('followRun rides out a dev server outage: says so once, carries on, returns the final counts', async () => {
    const h0 = await health(info);
    // The worker's native side would print every failed poll during the outage.
    try {
      Runtime.install({ logger: new DefaultLogger('ERROR'), telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' } } } });
    } catch {
      // installed already by an earlier test of this process
    }
    const nativeConnection = await NativeConnection.connect({ address: b.temporalAddress });
    const taskQueue = `steady-${Date.now()}`;
    const worker = await Worker.create({
      connection: nativeConnection, namespace: b.namespace, taskQueue,
      workflowsPath: fileURLToPath(new URL('../fixtures/steadyRunWorkflow.ts', import.meta.url)),
    });
    const running = worker.run();
    const connection = await Connection.connect({ address: b.temporalAddress });
    const client = new Client({ connection, namespace: b.namespace });
    try {
      const handle = (await client.workflow.start('steadyRun', { taskQueue, workflowId: taskQueue, args: [{ total: 12, stepMs: 250 }] })) as unknown as RunHandle;
      const log: string[] = [];
      const seen: Progress[] = [];
      const following = followRun(client, handle, (p) => seen.push(p), { everyMs: 200, log: (s) => log.push(s) });
      await waitFor('some progress', async () => (seen.at(-1)?.done ?? 0) >= 3, 30_000);
      process.kill(h0.devServerPid as number, 'SIGKILL');
      const final = await following;
      assert.equal(final.done, 12);
      assert.equal(log.filter((l) => /^Temporal unreachable since \d\d:\d\d:\d\d, retrying$/.test(l)).length, 1, log.join('\n'));
      assert.equal(log.filter((l) => /^Temporal is back/.test(l)).length, 1, log.join('\n'));
      assert.ok(log.indexOf(log.find((l) => l.startsWith('Temporal unreachable'))!) < log.indexOf(log.find((l) => l.startsWith('Temporal is back'))!));
      assert.equal(worker.getState(), 'RUNNING', 'the worker survived the outage');
    } finally {
      worker.shutdown();
      await running.catch(() => undefined);
      await nativeConnection.close();
      await connection.close();
    }
  });

  test('status of a run nobody serves says so at once instead of timing out', async () => {
    const connection = await Connection.connect({ address: b.temporalAddress });
    const client = new Client({ connection, namespace: b.namespace });
    const runId = `orphan-${Date.now()}`;
    const queues = { control: `nobody-control-${runId}`, judge: `nobody-judge-${runId}`, model: `nobody-model-${runId}` };
    const wf = await client.workflow.start('runWorkflow', {
      taskQueue: queues.control, workflowId: `flask-run-${runId}`,
      args: [{ runId, steps: ['review'], queues, concurrency: 1, batchSize: 10, maxAttempts: 1 }],
    });
    try {
      const t0 = Date.now();
      const r = cli(stateDir, ['status', runId]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, /RUNNING/);
      assert.match(r.stderr, new RegExp(`No worker polls the run's control queue`));
      assert.match(r.stderr, new RegExp(`No worker polls judge queue ${queues.judge}.*model queue ${queues.model}`));
      assert.ok(Date.now() - t0 < 20_000, `status took ${Date.now() - t0} ms`);
    } finally {
      await wf.terminate('test done');
      await connection.close();
    }
  });

  test('status of an unknown run: a clear message and exit 2', () => {
    const r = cli(stateDir, ['status', 'no-such-run']);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /no run "no-such-run"/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  });

  test('`server status` prints server.json and health; `server stop` stops it and removes server.json', async () => {
    const st = cli(stateDir, ['server', 'status']);
    assert.equal(st.status, 0, st.stderr);
    assert.match(st.stdout, new RegExp(`"pid": ${info.pid}`));
    assert.match(st.stdout, /leases\s+1 command/);
    const devPid = (await health(info)).devServerPid as number;
    const r = cli(stateDir, ['server', 'stop']);
    assert.equal(r.status, 0, r.stderr);
    await waitFor('daemon gone', async () => !pidAlive(info.pid), 10_000);
    assert.ok(!existsSync(serverJsonPath(stateDir)), 'server.json removed');
    assert.ok(!existsSync(info.socket), 'socket removed');
    await waitFor('dev server gone', async () => !pidAlive(devPid), 10_000);
    await b.release(); // the daemon is gone: releasing is harmless
  });
});

describe('stale records, idle stop, foreign ports', () => {
  test('a SIGKILLed daemon: `server status` says so (exit 1), the next attach replaces it and its orphaned dev server; an auto-started daemon stops once no lease and no run remain', async () => {
    const stateDir = tempState('stale');
    const restore = withEnv({ FLASK_STATE_DIR: stateDir, FLASK_TEMPORAL_PORT: String(await freePortPair()), FLASK_SERVER_IDLE_MS: '2000' });
    try {
      // A daemon SIGKILLed: its server.json stays, its dev server child is orphaned.
      const first = await attachStateServer({ log: quiet });
      const killed = readServerInfo(stateDir)!;
      const orphan = (await health(killed)).devServerPid as number;
      // Released first: a command holding a lease replaces a server that dies under it (attach.ts).
      await first.release();
      process.kill(killed.pid, 'SIGKILL');
      await waitFor('daemon dead', async () => !pidAlive(killed.pid), 10_000);
      assert.ok(pidAlive(orphan), 'its dev server outlived it');
      const dead = killed.pid;
      const st = cli(stateDir, ['server', 'status']);
      assert.equal(st.status, 1);
      assert.match(st.stderr, new RegExp(`pid ${dead}\\) is not running`));
      assert.doesNotMatch(st.stderr, /\n\s+at /, 'no stack trace');

      const attached = await attachStateServer({ log: quiet });
      const info = readServerInfo(stateDir)!;
      assert.notEqual(info.pid, dead);
      assert.ok(pidAlive(info.pid));
      assert.equal(attached.temporalAddress, `127.0.0.1:${process.env.FLASK_TEMPORAL_PORT}`, 'same port: the orphan was this folder\'s');
      assert.ok(!pidAlive(orphan), 'the orphaned dev server of this folder was stopped');
      assert.match(readFileSync(path.join(stateDir, 'server.log'), 'utf8'), new RegExp(`orphaned dev server of this folder \\(pid ${orphan}`));

      // Held lease: no idle stop even well past the idle time.
      await sleep(4000);
      assert.ok(pidAlive(info.pid), 'a leased daemon stays up');
      // A run still running keeps it up without any lease (a start delay keeps the workflow
      // Running without any worker executing it).
      const connection = await Connection.connect({ address: attached.temporalAddress });
      const client = new Client({ connection, namespace: attached.namespace });
      const run = await client.workflow.start('runWorkflow', {
        taskQueue: info.controlQueue, workflowId: `flask-run-idle-${Date.now()}`, args: [{}], startDelay: '1 hour',
      });
      await attached.release();
      await waitFor('daemon notices the running run', async () => /run\(s\) still running: staying up/.test(readFileSync(path.join(stateDir, 'server.log'), 'utf8')), 20_000);
      assert.ok(pidAlive(info.pid), 'a daemon with a running run stays up');
      await run.terminate('test done');
      await connection.close();
      await waitFor('idle daemon stopped', async () => !pidAlive(info.pid), 30_000);
      assert.ok(!existsSync(serverJsonPath(stateDir)), 'server.json removed on idle stop');
      assert.match(readFileSync(path.join(stateDir, 'server.log'), 'utf8'), /stopping: idle/);
    } finally {
      killDaemon(stateDir);
      restore();
    }
  });

  test('a port taken by a foreign listener is never reused: clear error naming the port and server.log', async () => {
    const stateDir = tempState('foreign');
    const port = await freePortPair();
    const foreign = net.createServer((s) => s.destroy());
    await new Promise<void>((r) => foreign.listen(port, '127.0.0.1', () => r()));
    const restore = withEnv({ FLASK_STATE_DIR: stateDir, FLASK_TEMPORAL_PORT: String(port) });
    try {
      await assert.rejects(attachStateServer({ log: quiet, timeoutMs: 60_000 }), (e: Error) => {
        assert.match(e.message, new RegExp(`port ${port} on 127.0.0.1 is taken by another process`));
        assert.match(e.message, /server\.log/);
        return true;
      });
      assert.equal(readServerInfo(stateDir), undefined, 'no server recorded');
      assert.equal(await probeStateServer(stateDir), undefined);
      // Without FLASK_TEMPORAL_PORT the choice avoids it.
      assert.notEqual(await chooseDevServerPort(), port);
    } finally {
      killDaemon(stateDir);
      restore();
      foreign.close();
    }
  });
});

describe('openReader without a state server', () => {
  test('a direct read-only open that refuses COPY TO and reading other files', async () => {
    const stateDir = tempState('reader');
    const dbFile = path.join(stateDir, 'results.duckdb');
    const db = new Database(dbFile);
    await db.run((sql) => sql.exec('SELECT 1')); // creates the file and its schema
    await db.close();
    const reader = await openReader({ dbFile, stateDir });
    const before = statSync(dbFile); // the writer has closed it: the reader could open it
    try {
      assert.match(reader.describe, /read-only, external access disabled/);
      assert.deepEqual(await reader.all('SELECT count(*)::INT AS n FROM runs'), [{ n: 0 }]);
      const streamed: unknown[] = [];
      let columns: string[] = [];
      await reader.stream('SELECT range AS i FROM range(3)', [], (r) => { streamed.push(r); }, { onColumns: (c) => { columns = c; } });
      assert.deepEqual(columns, ['i']);
      assert.equal(streamed.length, 3);
      await assert.rejects(reader.all(`COPY (SELECT 1) TO '${dbFile}'`), /disabled by configuration|read-only|Permission/i);
      await assert.rejects(reader.all(`COPY (SELECT 1) TO '${path.join(stateDir, 'out.csv')}'`), /disabled by configuration|Permission/i);
      await assert.rejects(reader.all("SELECT * FROM read_text('/etc/passwd')"), /disabled by configuration|Permission/i);
      await assert.rejects(reader.all('SET enable_external_access = true'), /locked/i);
      await assert.rejects(reader.stream('SELECT 1; SELECT 2', [], () => undefined, { user: true }), /exactly one (SQL )?statement/);
      assert.ok(!existsSync(path.join(stateDir, 'out.csv')));
    } finally {
      await reader.close();
    }
    const afterStat = statSync(dbFile);
    assert.equal(afterStat.size, before.size);
    assert.equal(afterStat.mtimeMs, before.mtimeMs, 'the results file is untouched');
  });
});

