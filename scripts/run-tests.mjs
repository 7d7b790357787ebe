// npm test: runs tests/unit (no Temporal needed) and tests/integration (the real Temporal dev
// server: the official CLI is installed first if missing) with node's test runner, one file at a
// time. `npm run test:unit` / `npm run test:integration` run one of the two.
//
// Tests start state servers (detached daemons with their dev servers). They all live under one
// temporary root (TMPDIR for the tests), and whatever of them is still running when the tests
// end, pass or fail or Ctrl-C, is stopped here: nothing outlives `npm test`.
//   node scripts/run-tests.mjs [unit | integration | tests/unit/x.test.ts ...]
//   node scripts/run-tests.mjs --cleanup DIR     stop every process started under DIR (CI's trap)
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Processes that belong to a test root: their command line or environment names it (the dev
 * server's --db-filename, a daemon's FLASK_STATE_DIR / TMPDIR).
 */
function processesUnder(dir) {
  const pids = [];
  let entries;
  try {
    entries = readdirSync('/proc');
  } catch {
    return pids;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${e}/cmdline`, 'utf8');
      const environ = readFileSync(`/proc/${e}/environ`, 'utf8');
      if (cmdline.includes(dir) || environ.split('\0').some((kv) => /^(FLASK_STATE_DIR|TMPDIR)=/.test(kv) && kv.includes(dir))) pids.push(Number(e));
    } catch {
      // gone, or not ours
    }
  }
  return pids;
}

export function stopEverythingUnder(dir) {
  const pids = processesUnder(dir);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  if (pids.length) process.stderr.write(`run-tests: stopped ${pids.length} leftover process(es) of ${dir}\n`);
  return pids.length;
}

if (process.argv[2] === '--cleanup') {
  const dir = process.argv[3];
  if (!dir || dir.length < 8) {
    process.stderr.write('usage: run-tests.mjs --cleanup DIR\n');
    process.exit(2);
  }
  stopEverythingUnder(path.resolve(dir));
  process.exit(0);
}

const args = process.argv.slice(2);
const suites = args.filter((a) => a === 'unit' || a === 'integration');
const only = args.filter((a) => !suites.includes(a));
const testsIn = (suite) => readdirSync(path.join(root, 'tests', suite)).filter((f) => f.endsWith('.test.ts')).sort().map((f) => path.join('tests', suite, f));
const files = only.length ? only : (suites.length ? suites : ['unit', 'integration']).flatMap(testsIn);
const needsTemporal = files.some((f) => !f.startsWith(path.join('tests', 'unit') + path.sep));

const installed = path.join(root, '.flask-eval', 'bin', 'temporal');
const env = { ...process.env };
if (!env.TEMPORAL_CLI && needsTemporal) {
  if (!existsSync(installed)) {
    const r = spawnSync('bash', [path.join(root, 'scripts', 'install-temporal.sh')], { stdio: 'inherit' });
    if (r.status !== 0) process.exit(r.status ?? 1);
  }
  env.TEMPORAL_CLI = installed;
}
// Tests never talk to a real model: make sure no key from the shell leaks into them.
for (const k of ['OPENAI_API_KEY', 'OPENAI_BASE_URL', 'FLASK_MODEL_API_KEY', 'FLASK_MODEL_BASE_URL', 'TEMPORAL_ADDRESS', 'FLASK_STATE_DIR', 'FLASK_DB', 'FLASK_TEMPORAL_PORT']) delete env[k];

// An empty FLASK_TEST_TMP counts as unset: path.resolve('') is the working directory, which the
// cleanup below would then remove whole (it happened: the checkout went with it).
const given = process.env.FLASK_TEST_TMP || undefined;
const ownRoot = !given;
const testRoot = path.resolve(given ?? mkdtempSync(path.join(tmpdir(), 'flask-eval-tests-')));
if (testRoot === root || root.startsWith(testRoot + path.sep) || testRoot === path.parse(testRoot).root) {
  process.stderr.write(`run-tests: FLASK_TEST_TMP=${testRoot} would hold the project itself; give a temporary folder\n`);
  process.exit(2);
}
// The cluster tests run PostgreSQL as the postgres user, which must be able to traverse the root.
chmodSync(testRoot, 0o711);
env.TMPDIR = testRoot;
env.FLASK_TEST_TMP = testRoot;

const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files], { stdio: 'inherit', env, cwd: root });

let cleaned = false;
function cleanup() {
  if (cleaned) return;
  cleaned = true;
  stopEverythingUnder(testRoot);
  if (ownRoot) rmSync(testRoot, { recursive: true, force: true });
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    child.kill(sig);
    setTimeout(() => { cleanup(); process.exit(130); }, 3000).unref();
  });
}
child.on('exit', (code, signal) => {
  cleanup();
  process.exit(code ?? (signal ? 1 : 0));
});
