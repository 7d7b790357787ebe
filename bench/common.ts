/**
 * Shared pieces of the benchmark scripts (bench/*.ts). These print figures; they are not tests.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Client, Connection, type WorkflowExecutionDescription } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { Database } from '../core/store/database.js';
import { PROJECT_ROOT } from '../core/paths.js';
import { installQuietRuntime } from '../client/session.js';
import { runProgress, type RunHandle } from '../client/runs.js';
import { runStatusQuery } from '../workflows/index.js';
import type { Progress } from '../core/pipeline.js';
import { LocalCluster } from '../scripts/cluster/localCluster.js';

/** The official CLI's dev server, started by the SDK's testing package (as the integration tests do). */
export async function startTemporal(): Promise<TestWorkflowEnvironment> {
  installQuietRuntime();
  const cli = process.env.TEMPORAL_CLI ?? path.join(PROJECT_ROOT, '.flask-eval', 'bin', 'temporal');
  if (!existsSync(cli)) throw new Error(`no Temporal CLI at ${cli}: set TEMPORAL_CLI or run \`npm run install-temporal\``);
  return TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: cli }, ip: '127.0.0.1', log: { format: 'pretty', level: 'error' } },
  });
}

/** The Temporal service a bench runs against, and what it is (for the table's header). */
export interface BenchTemporal {
  address: string;
  client: Client;
  nativeConnection: NativeConnection;
  label: string;
  teardown(): Promise<void>;
}

/**
 * The dev server (default); with `cluster`, a production-shaped cluster of its own
 * (scripts/cluster.sh up in a temporary state folder on free ports: PostgreSQL + the real Temporal
 * server; `down --purge` at teardown); with `address`, a Temporal service already running there.
 */
export async function benchTemporal(o: { cluster?: boolean; address?: string } = {}): Promise<BenchTemporal> {
  if (!o.cluster && !o.address) {
    const env = await startTemporal();
    return { address: env.address, client: env.client, nativeConnection: env.nativeConnection, label: 'the Temporal dev server (temporal CLI, in-memory SQLite)', teardown: () => env.teardown() };
  }
  installQuietRuntime();
  let address = o.address ?? '';
  let label = `the Temporal service at ${address}`;
  let cluster: LocalCluster | undefined;
  if (o.cluster) {
    cluster = await LocalCluster.create();
    try {
      const up = await cluster.up();
      address = cluster.address;
      label = `a cluster of its own (scripts/cluster.sh: ${/versions: (.*)/.exec(up)?.[1] ?? 'versions not printed'})`;
    } catch (e) {
      await cluster.down().catch(() => undefined);
      throw e;
    }
  }
  const connection = await Connection.connect({ address });
  const nativeConnection = await NativeConnection.connect({ address });
  return {
    address, label, nativeConnection, client: new Client({ connection, namespace: 'default' }),
    async teardown() {
      await nativeConnection.close().catch(() => undefined);
      await connection.close().catch(() => undefined);
      await cluster?.down();
    },
  };
}

/** A results file in a fresh temp directory; `remove()` deletes the directory. */
export function tempDb(name: string): { db: Database; dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), `flask-bench-${name}-`));
  return { db: new Database(path.join(dir, 'results.duckdb')), dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Bytes of every file in `dir` (the DuckDB file plus a WAL if one is left). */
export function dirBytes(dir: string): { file: number; total: number } {
  let total = 0;
  let file = 0;
  for (const f of readdirSync(dir)) {
    const s = statSync(path.join(dir, f));
    if (!s.isFile()) continue;
    total += s.size;
    if (f.endsWith('.duckdb')) file = s.size;
  }
  return { file, total };
}

export function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(2)} MiB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GiB`;
}

export function fmtInt(n: number): string {
  return n.toLocaleString('en-US');
}

/** Peak RSS of this process (resourceUsage().maxRSS is in KiB on Linux). */
export function peakRssBytes(): number {
  return process.resourceUsage().maxRSS * 1024;
}

/**
 * Peak RSS (VmHWM) of this process's child processes named `name` (Linux /proc). The dev server
 * is a separate process started by the testing package, so its memory is not in maxRSS.
 */
export function childPeakRss(name: string): { pid: number; bytes: number }[] {
  const out: { pid: number; bytes: number }[] = [];
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return out;
  }
  for (const pid of pids) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const ppid = Number(/^PPid:\s+(\d+)/m.exec(status)?.[1]);
      const comm = /^Name:\s+(.+)$/m.exec(status)?.[1]?.trim();
      if (ppid !== process.pid || comm !== name) continue;
      const hwm = Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
      out.push({ pid: Number(pid), bytes: hwm * 1024 });
    } catch {
      // the process ended meanwhile
    }
  }
  return out;
}

/** A history's events as JSON (protobuf messages serialise bytes as base64): a rough size. */
export function historyJsonBytes(events: readonly unknown[]): number {
  return Buffer.byteLength(JSON.stringify(events));
}

interface PayloadLike {
  data?: Uint8Array | null;
  metadata?: Record<string, Uint8Array> | null;
}

/** Bytes of one payload as sent: data plus metadata keys and values. */
export function payloadBytes(p: PayloadLike): number {
  let n = p.data?.length ?? 0;
  for (const [k, v] of Object.entries(p.metadata ?? {})) n += k.length + (v?.length ?? 0);
  return n;
}

/** Every payload found anywhere in an event (inputs, results, failures' details, ...). */
export function eventPayloads(event: unknown): PayloadLike[] {
  const out: PayloadLike[] = [];
  const walk = (x: unknown, depth: number) => {
    if (x === null || typeof x !== 'object' || depth > 12 || x instanceof Uint8Array) return;
    if (Array.isArray(x)) {
      for (const y of x) walk(y, depth + 1);
      return;
    }
    const o = x as Record<string, unknown>;
    if (Array.isArray(o.payloads)) {
      for (const p of o.payloads) out.push(p as PayloadLike);
      return;
    }
    for (const v of Object.values(o)) walk(v, depth + 1);
  };
  walk(event, 0);
  return out;
}

export interface HistoryFigures {
  workflowId: string;
  runId: string;
  status: string;
  /** describe(): events in the history */
  historyLength: number;
  /** describe(): bytes as the server counts them (server >= 1.20) */
  serverHistoryBytes?: number;
  /** fetchHistory(): events' JSON size (rough) */
  jsonBytes?: number;
  events?: number;
  /** the largest payload of any event */
  maxPayloadBytes?: number;
  /** the WorkflowExecutionStarted event's input payloads */
  inputBytes?: number;
}

/** describe() an execution and, if asked, fetch its history for the JSON and payload sizes. */
export async function historyFigures(client: Client, workflowId: string, runId?: string, fetch = true): Promise<HistoryFigures> {
  const h = client.workflow.getHandle(workflowId, runId);
  const d: WorkflowExecutionDescription = await h.describe();
  const f: HistoryFigures = {
    workflowId, runId: d.runId, status: d.status.name, historyLength: d.historyLength,
    ...(d.historySize !== undefined ? { serverHistoryBytes: d.historySize } : {}),
  };
  if (!fetch) return f;
  const history = await client.workflow.getHandle(workflowId, d.runId).fetchHistory();
  const events = history.events ?? [];
  f.events = events.length;
  f.jsonBytes = historyJsonBytes(events);
  let max = 0;
  for (const e of events) for (const p of eventPayloads(e)) max = Math.max(max, payloadBytes(p));
  f.maxPayloadBytes = max;
  const started = events[0]?.workflowExecutionStartedEventAttributes;
  f.inputBytes = (started?.input?.payloads ?? []).reduce((s, p) => s + payloadBytes(p as PayloadLike), 0);
  return f;
}

export function describeHistory(label: string, f: HistoryFigures): string {
  const parts = [`${fmtInt(f.historyLength)} events`];
  if (f.serverHistoryBytes !== undefined) parts.push(`${fmtBytes(f.serverHistoryBytes)} (server's historySize)`);
  if (f.jsonBytes !== undefined) parts.push(`~${fmtBytes(f.jsonBytes)} as JSON`);
  if (f.maxPayloadBytes !== undefined) parts.push(`largest payload ${fmtBytes(f.maxPayloadBytes)}`);
  return `${label}: ${parts.join(', ')}  [run …${f.runId.slice(-8)} ${f.status}]`;
}

/**
 * Every execution of a workflow id (a continue-as-new chain), oldest first, from the visibility
 * store; the execution `current` (the handle's last run) is added if visibility lags.
 */
export async function executionsOf(client: Client, workflowId: string): Promise<string[]> {
  const runs: { runId: string; start: number }[] = [];
  for await (const w of client.workflow.list({ query: `WorkflowId = "${workflowId}"` })) runs.push({ runId: w.runId, start: w.startTime.getTime() });
  runs.sort((a, b) => a.start - b.start);
  return runs.map((r) => r.runId);
}

/**
 * Follow a run to its end: every `everyMs`, print its progress (client/runs.ts runProgress) and
 * sample the running batches' pending activities. Returns the final counts and the largest
 * number of activities pending at once in one batch, as sampled.
 */
export async function followWithTicks(
  client: Client,
  handle: RunHandle,
  everyMs: number,
  print: (line: string) => void,
  sampleEveryMs = Math.min(everyMs, 2000),
): Promise<{ final: Progress; maxPendingActivities: number; maxRunningBatches: number }> {
  const t0 = Date.now();
  let finished = false;
  const result = handle.result().finally(() => { finished = true; });
  let maxPendingActivities = 0;
  let maxRunningBatches = 0;
  let lastPrint = Date.now();
  while (!finished) {
    await Promise.race([result.catch(() => undefined), new Promise((r) => setTimeout(r, sampleEveryMs))]);
    if (finished) break;
    try {
      const status = await handle.query(runStatusQuery);
      maxRunningBatches = Math.max(maxRunningBatches, status.runningBatches.length);
      for (const id of status.runningBatches) {
        try {
          const d = await client.workflow.getHandle(id).describe();
          maxPendingActivities = Math.max(maxPendingActivities, d.raw.pendingActivities?.length ?? 0);
        } catch {
          // finished meanwhile
        }
      }
      if (Date.now() - lastPrint >= everyMs) {
        lastPrint = Date.now();
        const p = await runProgress(client, handle);
        const s = (Date.now() - t0) / 1000;
        const landed = p.done + p.failed - p.resumed;
        print(
          `  [${s.toFixed(0).padStart(4)} s] ${fmtInt(p.done + p.failed)}/${fmtInt(p.total)} (done ${fmtInt(p.done)}, failed ${fmtInt(p.failed)}), ` +
          `${(landed / s).toFixed(1)} inst/s, calls ${fmtInt(p.calls)}, running batches ${status.runningBatches.length}, rss ${fmtBytes(process.memoryUsage().rss)}`,
        );
      }
    } catch {
      // the first workflow task may not have run yet, or a continue-as-new is in progress
    }
  }
  return { final: await result, maxPendingActivities, maxRunningBatches };
}

/** Run `main`, always run `cleanup`, then exit (a stray handle must not keep the script alive). */
export function runBench(main: (cleanups: (() => Promise<void> | void)[]) => Promise<void>): void {
  const cleanups: (() => Promise<void> | void)[] = [];
  let code = 0;
  const cleanupAll = async () => {
    for (const c of cleanups.reverse()) {
      try {
        await c();
      } catch (e) {
        console.error('cleanup:', (e as Error).message);
      }
    }
  };
  process.once('SIGINT', () => {
    console.error('\ninterrupted: cleaning up');
    void cleanupAll().then(() => process.exit(130));
  });
  main(cleanups)
    .catch((e) => {
      console.error(e);
      code = 1;
    })
    .finally(async () => {
      await cleanupAll();
      process.exit(code);
    });
}
