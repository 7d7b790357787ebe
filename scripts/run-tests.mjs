// npm test: makes sure the official Temporal CLI is there (integration tests run the real dev
// server), then runs every tests/*.test.ts with node's test runner, one file at a time.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const installed = path.join(root, '.flask-eval', 'bin', 'temporal');
const env = { ...process.env };
if (!env.TEMPORAL_CLI) {
  if (!existsSync(installed)) {
    const r = spawnSync('bash', [path.join(root, 'scripts', 'install-temporal.sh')], { stdio: 'inherit' });
    if (r.status !== 0) process.exit(r.status ?? 1);
  }
  env.TEMPORAL_CLI = installed;
}
// Tests never talk to a real model: make sure no key from the shell leaks into them.
for (const k of ['OPENAI_API_KEY', 'OPENAI_BASE_URL', 'FLASK_MODEL_API_KEY', 'FLASK_MODEL_BASE_URL', 'TEMPORAL_ADDRESS']) delete env[k];

const only = process.argv.slice(2);
const files = (only.length ? only : readdirSync(path.join(root, 'tests')).filter((f) => f.endsWith('.test.ts')).sort().map((f) => path.join('tests', f)));
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files], { stdio: 'inherit', env, cwd: root });
process.exit(r.status ?? 1);
