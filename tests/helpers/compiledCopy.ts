// The compiled app in a folder of its own, as a host without the project's data/ holds it:
// dist/ (tsc of the build config), bin/, package.json and node_modules (a link), and no data/.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../core/paths.js';

/** Compiles this checkout into a new temporary folder (~25 s) and returns the folder. */
export function compiledCopyWithoutData(name: string): string {
  const app = path.join(mkdtempSync(path.join(process.env.FLASK_TEST_TMP || tmpdir(), `flask-${name}-`)), 'app');
  mkdirSync(app, { recursive: true });
  const tsc = spawnSync(process.execPath, [path.join(PROJECT_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(PROJECT_ROOT, 'tsconfig.build.json'), '--outDir', path.join(app, 'dist')], { encoding: 'utf8' });
  if (tsc.status !== 0) throw new Error(`tsc failed:\n${tsc.stdout}${tsc.stderr}`);
  writeFileSync(path.join(app, 'dist', '.build-stamp'), new Date().toISOString());
  cpSync(path.join(PROJECT_ROOT, 'bin'), path.join(app, 'bin'), { recursive: true });
  cpSync(path.join(PROJECT_ROOT, 'package.json'), path.join(app, 'package.json'));
  symlinkSync(path.join(PROJECT_ROOT, 'node_modules'), path.join(app, 'node_modules'), 'dir');
  if (existsSync(path.join(app, 'data'))) throw new Error(`${app}/data exists`);
  return app;
}
