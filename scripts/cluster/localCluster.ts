// A cluster of its own (state folder, free ports) driven through scripts/cluster.sh, for the
// cluster tests (tests/integration/cluster.test.ts) and the scale bench (bench/fleet-scale.ts
// --cluster). Async throughout, so workers running in the caller's process keep polling while a
// fault is injected.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SCRIPT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'cluster.sh');

async function portsFree(base: number, count: number): Promise<boolean> {
  for (let p = base; p < base + count; p++) {
    const free = await new Promise<boolean>((resolve) => {
      const s = createServer().once('error', () => resolve(false)).listen(p, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (!free) return false;
  }
  return true;
}

async function freeBasePort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    // below 32768: Temporal keeps membership ports in a PostgreSQL smallint
    const base = 20_000 + Math.floor(Math.random() * 600) * 20;
    if (await portsFree(base, 12)) return base;
  }
  throw new Error('no block of 12 free loopback ports');
}

export class LocalCluster {
  static readonly script = SCRIPT;
  address = '';
  private constructor(readonly dir: string, readonly env: NodeJS.ProcessEnv) {}

  /** A new temporary state folder and a free block of ports; nothing runs until `up()`. */
  static async create(): Promise<LocalCluster> {
    const dir = mkdtempSync(path.join(tmpdir(), 'flask-cluster-'));
    const env = {
      ...process.env,
      FLASK_CLUSTER_DIR: dir,
      FLASK_CLUSTER_PORT: String(await freeBasePort()),
      ...(process.env.FLASK_CLUSTER_TEST_UI ? {} : { FLASK_CLUSTER_NO_UI: '1' }),
    };
    return new LocalCluster(dir, env);
  }

  async sh(...args: string[]): Promise<string> {
    try {
      const r = await run('bash', [SCRIPT, ...args], { env: this.env, maxBuffer: 16 << 20, timeout: 40 * 60_000 });
      return r.stdout + r.stderr;
    } catch (e) {
      const x = e as { stdout?: string; stderr?: string; code?: number };
      throw new Error(`scripts/cluster.sh ${args.join(' ')} failed (exit ${x.code}):\n${x.stdout ?? ''}${x.stderr ?? ''}`, { cause: e });
    }
  }

  async up(): Promise<string> {
    const out = await this.sh('up');
    this.address = /TEMPORAL_ADDRESS=(\S+)/.exec(await this.sh('env'))![1]!;
    return out;
  }

  /** Timed fault: returns seconds taken. */
  async fault(action: 'kill' | 'start' | 'restart', what: 'temporal' | 'postgres' | 'ui'): Promise<number> {
    const t0 = Date.now();
    await this.sh(action, what);
    return (Date.now() - t0) / 1000;
  }

  pid(what: 'temporal' | 'postgres'): number | undefined {
    const file = what === 'temporal' ? path.join(this.dir, 'temporal.pid') : path.join(this.dir, 'pg', 'postmaster.pid');
    if (!existsSync(file)) return undefined;
    return Number(readFileSync(file, 'utf8').split('\n')[0]);
  }

  async down(purge = true): Promise<void> {
    await this.sh('down', ...(purge ? ['--purge'] : []));
  }
}
