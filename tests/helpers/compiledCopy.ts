// The compiled app in a folder of its own, as a host without the project's data/ holds it:
// dist/ (tsc of the build config), bin/, package.json and node_modules (a link), and no data/.
// Used by tests/integration/workerWithoutData.test.ts and the cluster drill (cluster.test.ts).
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../../core/paths.js';

const run = promisify(execFile);

/** Compiles this checkout into a new temporary folder (~25 s; async, so a cluster can start
 *  meanwhile) and returns the folder. */
export async function compiledCopyWithoutData(name: string): Promise<string> {
  const app = path.join(mkdtempSync(path.join(process.env.FLASK_TEST_TMP || tmpdir(), `flask-${name}-`)), 'app');
  mkdirSync(app, { recursive: true });
  const tsc = [path.join(PROJECT_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(PROJECT_ROOT, 'tsconfig.build.json'), '--outDir', path.join(app, 'dist')];
  try {
    await run(process.execPath, tsc, { maxBuffer: 16 << 20 });
  } catch (e) {
    const x = e as { stdout?: string; stderr?: string };
    throw new Error(`tsc failed:\n${x.stdout ?? ''}${x.stderr ?? ''}`, { cause: e });
  }
  writeFileSync(path.join(app, 'dist', '.build-stamp'), new Date().toISOString());
  cpSync(path.join(PROJECT_ROOT, 'bin'), path.join(app, 'bin'), { recursive: true });
  cpSync(path.join(PROJECT_ROOT, 'package.json'), path.join(app, 'package.json'));
  symlinkSync(path.join(PROJECT_ROOT, 'node_modules'), path.join(app, 'node_modules'), 'dir');
  return app;
}

/** The app's `flask-eval` entry point (bin/flask-eval.js, which runs its dist/). */
export function appCli(app: string): string {
  return path.join(app, 'bin', 'flask-eval.js');
}

/** The app's data/ folder and any results file under it (node_modules, a link into the checkout,
 *  not followed): [] for an app as a worker host has it. (dist/data/flask holds the two JSON files
 *  the code imports as modules, taxonomy and skill rubrics: compiled in, not the data folder.) */
export function dataOrResultsIn(app: string): string[] {
  const found = existsSync(path.join(app, 'data')) ? [path.join(app, 'data')] : [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const f = path.join(dir, e.name);
      if (e.isDirectory()) walk(f);
      else if (/\.duckdb/.test(e.name)) found.push(f);
    }
  };
  walk(app);
  return found;
}
