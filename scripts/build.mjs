// npm run build (also run by `npm install` through "prepare"): compile the TypeScript to dist/
// so commands start from JavaScript instead of transpiling at every start, and bundle the
// workflow code once so the store does not run webpack at every start.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const started = Date.now();
const tsc = spawnSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root });
if (tsc.status !== 0) process.exit(tsc.status ?? 1);
const { bundleWorkflowCode } = await import('@temporalio/worker');
const { code } = await bundleWorkflowCode({
  workflowsPath: path.join(root, 'workflows', 'index.ts'),
  logger: { log() {}, trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error },
});
mkdirSync(path.join(root, 'dist'), { recursive: true });
writeFileSync(path.join(root, 'dist', 'workflow-bundle.js'), code);
// Written last: bin/flask-eval.js runs dist/ only when this stamp is newer than every source.
writeFileSync(path.join(root, 'dist', '.build-stamp'), new Date().toISOString());
console.log(`build: dist/ compiled and workflows bundled in ${((Date.now() - started) / 1000).toFixed(1)} s`);
