// The CLI against judges that fail or are slow, as a user runs it: separate processes, the
// embedded dev server, the offline server over HTTP. A bad or slow judge is when a user needs
// the tool to end, say why, and answer Ctrl-C.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../core/paths.js';
import { chooseDevServerPort } from '../../server/temporalDevServer.js';
import { pidAlive, readServerInfo } from '../../server/serverInfo.js';
import { startOfflineServer, type OfflineServer } from '../../simulator/server.js';
import { startNoBatchApiFront } from '../helpers/noBatchApiFront.js';

const CLI = path.join(PROJECT_ROOT, 'bin', 'flask-eval.js');
const dir = mkdtempSync(path.join(tmpdir(), 'flask-slow-'));
const stateDirs: string[] = [];
const children: ChildProcess[] = [];

async function freePortPair(): Promise<number> {
  for (;;) {
    try {
      return await chooseDevServerPort(20_000 + Math.floor(Math.random() * 11_000));
    } catch {
      // taken: try another
    }
  }
}

/** A state folder of its own (its own dev server port), stopped after the file's tests. */
async function stateEnv(name: string, judgeUrl: string): Promise<Record<string, string>> {
  const state = path.join(dir, name);
  stateDirs.push(state);
  return {
    FLASK_STATE_DIR: state, FLASK_TEMPORAL_PORT: String(await freePortPair()),
    OPENAI_BASE_URL: judgeUrl, OPENAI_API_KEY: 'sk-test', FLASK_JUDGE_MODEL: 'flask-offline-judge',
  };
}

after(() => {
  // A failed test may leave its command running: it would keep this file from ending.
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const s of stateDirs) spawnSync(process.execPath, [CLI, 'server', 'stop'], { env: { ...process.env, FLASK_STATE_DIR: s }, timeout: 30_000 });
  for (const s of stateDirs) {
    const info = readServerInfo(s);
    if (info && pidAlive(info.pid)) try { process.kill(info.pid, 'SIGKILL'); } catch { /* gone */ }
  }
});

interface Running {
  child: ChildProcess;
  out: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

function start(args: string[], env: Record<string, string>): Running {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: dir, env: { ...process.env, ...env } });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, at: Date.now() })));
  return { child, out: () => out, exited };
}

async function waitForOutput(r: Running, pattern: RegExp, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(r.out())) {
    if (Date.now() > deadline || r.child.exitCode !== null) throw new Error(`no ${pattern} in the output:\n${r.out()}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

/** Bounded so that a hang fails the test instead of stalling the suite. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<T>((_, rej) => setTimeout(() => rej(new Error(`${what} took over ${ms / 1000} s`)), ms).unref())]);
}

test('a run whose every instance failed exits 4 within seconds of its last call, and says there is nothing to score', async () => {
  let lastCall = 0;
  const server: OfflineServer = await startOfflineServer({ malformedRate: 1, onRequest: (e) => (lastCall = Math.max(lastCall, e.at)) });
  try {
    const env = await stateEnv('allfail', server.url);
    const r = start(['review', '--model', 'gpt4', '--limit', '3', '--run', 'allfail', '--parse-attempts', '1'], env);
    const end = await within(r.exited, 180_000, 'the all-failed review');
    assert.equal(end.code, 4, r.out());
    assert.match(r.out(), /Finished: 0 scored, 3 failed of 3 instances/);
    assert.match(r.out(), /allfail: nothing to score: no instance was scored \(3 failed of 3\); flask-eval failures allfail lists why/);
    // A generous bound: before the fix the command never ended (the bootstrap of no scores looped).
    assert.ok(end.at - lastCall < 20_000, `exited ${(end.at - lastCall) / 1000} s after the last call`);

    const rep = start(['report', 'allfail'], env);
    const repEnd = await within(rep.exited, 60_000, 'report of the all-failed run');
    assert.equal(repEnd.code, 0, rep.out());
    assert.match(rep.out(), /nothing to score/);
  } finally {
    await server.close();
  }
});

test('Ctrl-C while a run waits on a slow judge: the command says how to resume and exits 130 at once', async () => {
  const server = await startOfflineServer({ latencyMs: 60_000 });
  try {
    const env = await stateEnv('sigint', server.url);
    const r = start(['review', '--model', 'gpt4', '--limit', '2', '--run', 'slow'], env);
    await waitForOutput(r, /Started workflow flask-run-slow/);
    await new Promise((res) => setTimeout(res, 1000));
    const sent = Date.now();
    r.child.kill('SIGINT');
    const end = await within(r.exited, 10_000, 'exit after SIGINT');
    assert.equal(end.code, 130, r.out());
    assert.match(r.out(), /Interrupted\. The run stays in Temporal \(flask-run-slow\); run the same command again to resume it\./);
    assert.ok(end.at - sent < 5000, `exited ${(end.at - sent) / 1000} s after SIGINT`);
  } finally {
    await server.close();
  }
});

test('Ctrl-C while the command waits for its state server to start: it ends at once (the SDK no longer swallows SIGINT)', async () => {
  const server = await startOfflineServer({});
  try {
    const env = await stateEnv('sigint-start', server.url);
    const r = start(['review', '--model', 'gpt4', '--limit', '2', '--run', 'early'], env);
    await waitForOutput(r, /Starting the state server/);
    const sent = Date.now();
    r.child.kill('SIGINT');
    const end = await within(r.exited, 10_000, 'exit after SIGINT');
    assert.ok(end.signal === 'SIGINT' || end.code === 130, `ended with ${end.code ?? end.signal}:\n${r.out()}`);
    assert.ok(end.at - sent < 5000, `exited ${(end.at - sent) / 1000} s after SIGINT`);
    assert.doesNotMatch(r.out(), /Started workflow/);
  } finally {
    await server.close();
  }
});

test('a one-at-a-time judge: progress moves per call before any chunk lands, 1 call in flight, no timeout', async () => {
  const server = await startOfflineServer({ serial: true, latencyMs: 15_000 });
  try {
    const env = await stateEnv('serial', server.url);
    // 15 s a call with a 40 s timeout: 3 calls in flight at once would time out. Slow enough for
    // two `status` processes to start on a loaded machine before the chunk lands.
    const r = start(['review', '--model', 'gpt4', '--limit', '3', '--run', 'serial', '--request-timeout', '40'], env);
    // `status` from another process sees the same per-call counts (from the chunk's heartbeat).
    await waitForOutput(r, /serial \[.* 0\/3 done.*[1-2] answered/);
    // Not spawnSync: the offline server lives in this process and must keep answering meanwhile.
    const st = start(['status', 'serial', '--json'], env);
    const line = start(['status', 'serial'], env);
    assert.equal((await within(st.exited, 60_000, 'status --json')).code, 0, st.out());
    const json = JSON.parse(st.out().split('\n').find((l) => l.startsWith('{'))!);
    assert.equal(json.done, 0, 'nothing landed yet');
    assert.equal(json.endpoints.length, 1);
    assert.equal(json.endpoints[0].model, 'flask-offline-judge');
    assert.ok(json.endpoints[0].answered >= 1 && json.endpoints[0].instancesThrough >= 1, st.out());
    assert.doesNotMatch(st.out(), /No worker polls/, 'the command serves the judge queue');
    await within(line.exited, 60_000, 'status');
    assert.match(line.out(), /^serial \[.*\] \d\/3 .*\| flask-offline-judge: calls \d started, \d answered, 0 failed, 0 re-asked; \d instances through/m);
    const end = await within(r.exited, 180_000, 'the serial review');
    assert.equal(end.code, 0, r.out());
    assert.match(r.out(), /Finished: 3 scored, 0 failed of 3 instances/);
    const lines = r.out().split('\n').filter((l) => l.startsWith('serial ['));
    // Before the chunk landed (0/3 done), the line already counted answered calls.
    assert.ok(lines.some((l) => / 0\/3 done/.test(l) && /calls [1-3] started, [1-2] answered, 0 failed, 0 re-asked; [1-2] instances through; 1 in flight \(oldest \d+s\), latency 1[5-9]s \(adaptive, 1 allowed in flight\); ETA ~\d+s/.test(l)),
      `no per-call progress before the chunk landed:\n${lines.join('\n')}`);
    assert.equal(server.stats().peakWaiting, 0, 'never more than one call at the server');
    assert.equal(server.stats().abandoned, 0, 'no call timed out');
  } finally {
    await server.close();
  }
});

test('--detach says what the run needs and how to follow it, not "Results:" before anything ran', async () => {
  const server = await startOfflineServer({ serial: true, latencyMs: 60_000 });
  try {
    const env = await stateEnv('detach', server.url);
    const r = start(['review', '--model', 'gpt4', '--limit', '2', '--run', 'detached', '--detach'], env);
    const end = await within(r.exited, 120_000, 'review --detach');
    assert.equal(end.code, 0, r.out());
    assert.match(r.out(), /Detached: run "detached" goes on in Temporal once a worker serves its endpoints .*flask-eval status detached/);
    assert.doesNotMatch(r.out(), /Results: /);
    // The command's worker is gone: within the embedded server's live window (20 s) `status` says no
    // worker serves the run (it counted the exited worker for up to 70 s before).
    const exitedAt = Date.now();
    let warned = '';
    while (!warned && Date.now() - exitedAt < 40_000) {
      const st = start(['status', 'detached'], env);
      await within(st.exited, 60_000, 'status of the detached run');
      if (/No worker polls judge queue flask-eval-ep-/.test(st.out())) warned = st.out();
      else await new Promise((res) => setTimeout(res, 2000));
    }
    assert.ok(warned, 'status warned that no worker serves the detached run');
    assert.ok(Date.now() - exitedAt < 40_000);
  } finally {
    await server.close();
  }
});

test('--batch against a local server without the Batch API: the command says so, and the run records it', async () => {
  const server = await startOfflineServer({ seed: 5 });
  const front = await startNoBatchApiFront(server);
  try {
    const env = await stateEnv('nobatch', front.url);
    const r = start(['review', '--model', 'gpt4', '--limit', '2', '--run', 'nobatch', '--batch', '--batch-poll-seconds', '1'], env);
    const end = await within(r.exited, 180_000, 'review --batch against a server without the Batch API');
    assert.equal(end.code, 0, r.out());
    assert.match(r.out(), new RegExp(`--batch: ${front.url.replace(/[.]/g, '\\.')} has no Batch API \\(.*\\): judge requests sent directly, at the full price\\. Recorded on the run`));
    assert.equal(r.out().match(/--batch: /g)?.length, 1, 'said once');
    const q = start(['query', "SELECT batch_fallback IS NOT NULL AS recorded FROM runs WHERE run_id = 'nobatch'", '--format', 'json'], env);
    assert.equal((await within(q.exited, 60_000, 'query')).code, 0, q.out());
    assert.match(q.out(), /"recorded":\s*true/);
  } finally {
    await front.close();
    await server.close();
  }
});
