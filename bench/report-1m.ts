/**
 * `report` over ~1M score rows, start-up included (issue #8's target: < 0.5 s wall on 2 cores).
 *
 *   npx tsx bench/report-1m.ts [--rows 1000000] [--runs 5] [--keep] [--skip-html]
 *
 * 1. Builds a results file in a temp FLASK_STATE_DIR with the store's own code (core/store/
 *    database.ts opens it and creates the real schema; createOrMatchRun writes the run row), then
 *    synthesises one review run in SQL: ceil(rows / 3) scored instances with 3 distinct skills each
 *    (one of the 220 triples of FLASK's 12 skills), 1-2 domains (2% unlabelled), a difficulty (2%
 *    unlabelled), one response and one review each, and 1% extra instances whose review failed
 *    (no scores). Scores 1-5 come from hash(idx, skill); 2% are N/A (NULL). The file is closed
 *    (checkpointed) before anything is timed.
 * 2. Times `node bin/flask-eval.js report RUN --by skill` as a user runs it (compiled dist/, no
 *    state server, FLASK_STATE_DIR set): each wall time, the median, the peak RSS (/usr/bin/time
 *    %M) and the load average; then --by domain, --by difficulty and --format html (not targets).
 * 3. The floor: a plain `node -e` that opens the same file read-only with @duckdb/node-api and
 *    runs the per-skill aggregate (the skill_summary view's SQL), spawned and timed the same way.
 *
 * A figure, not a test: it checks only that each command exits 0.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Database } from '../core/store/database.js';
import { createOrMatchRun } from '../core/store/runs.js';
import { judgeIdOf } from '../core/pipeline.js';
import { FLASK_DOMAIN_ORDER } from '../core/report/figures.js';
import { DIFFICULTY_LEVELS } from '../core/flask/difficulty.js';
import { PROJECT_ROOT } from '../core/paths.js';

const { values: v } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' }, runs: { type: 'string', default: '5' },
    keep: { type: 'boolean' }, 'skip-html': { type: 'boolean' },
  },
});
const ROWS = Number(v.rows);
const RUNS = Number(v.runs);
const RUN_ID = 'bench-report-1m';
const JUDGE_ID = judgeIdOf('bench', 'flask');
const BIN = path.join(PROJECT_ROOT, 'bin', 'flask-eval.js');
const log = (s: string) => process.stdout.write(`${s}\n`);
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');

/** bin/flask-eval.js runs dist/ only if .build-stamp is newer than every .ts of these folders (its own rule). */
function distIsFresh(): boolean {
  const stamp = path.join(PROJECT_ROOT, 'dist', '.build-stamp');
  if (!existsSync(stamp)) return false;
  const built = statSync(stamp).mtimeMs;
  const newest = (dir: string): number => readdirSync(dir, { withFileTypes: true }).reduce((m, e) => {
    const p = path.join(dir, e.name);
    return Math.max(m, e.isDirectory() ? newest(p) : e.name.endsWith('.ts') ? statSync(p).mtimeMs : 0);
  }, 0);
  return ['core', 'workflows', 'activities', 'worker', 'server', 'client', 'simulator'].every((d) => newest(path.join(PROJECT_ROOT, d)) <= built);
}

/** The run's rows, in SQL. `h(x, salt, n)` is a stable pseudo-random integer 0..n-1 from DuckDB's hash(). */
async function synthesise(file: string): Promise<{ instances: number; scoreRows: number }> {
  const scored = Math.ceil(ROWS / 3);
  const failed = Math.floor(scored / 100);
  const db = new Database(file);
  await db.run(async (sql) => {
    await createOrMatchRun(sql, {
      runId: RUN_ID, kind: 'review', simulated: true, datasetPath: 'bench/report-1m (synthetic)', datasetSha256: null,
      answersPath: null, answersSha256: null, modelId: 'bench-model', modelEndpoint: null, modelSettings: null,
      judgeModel: 'bench-judge', judgeEndpoint: 'offline (simulated)', judgeSettings: null, promptTemplateSha256: null,
      projectVersion: 'bench', summary: {},
    });
    const domains = `[${FLASK_DOMAIN_ORDER.map((d) => `'${d}'`).join(', ')}]`;
    const levels = `[${DIFFICULTY_LEVELS.map((d) => `'${d}'`).join(', ')}]`;
    await sql.exec(`CREATE TEMP MACRO h(x, salt, n) AS (hash(x, salt) % n)::BIGINT`);
    // All 220 triples of distinct skills, numbered 0..219.
    await sql.exec(`CREATE TEMP TABLE triples AS
      SELECT row_number() OVER (ORDER BY a.skill_order, b.skill_order, c.skill_order) - 1 AS t, [a.skill, b.skill, c.skill] AS skills
      FROM skill_catalog a JOIN skill_catalog b ON b.skill_order > a.skill_order JOIN skill_catalog c ON c.skill_order > b.skill_order`);
    await sql.exec(`CREATE TEMP TABLE ids AS SELECT i::INTEGER AS idx, i <= ${scored} AS scored FROM range(1, ${scored + failed + 1}) r(i)`);
    await sql.exec(`INSERT INTO instances (run_id, idx, ord, instruction, answer, task, skills, domains, difficulty)
      SELECT '${RUN_ID}', idx, idx - 1, 'Question ' || idx, 'reference ' || idx, 'bench', t.skills,
             CASE WHEN h(idx, 'd', 50) = 0 THEN []::VARCHAR[]
                  WHEN h(idx, 'd2', 3) = 0 THEN list_distinct([${domains}[1 + h(idx, 'd', 10)], ${domains}[1 + h(idx, 'e', 10)]])
                  ELSE [${domains}[1 + h(idx, 'd', 10)]] END,
             CASE WHEN h(idx, 'l', 50) = 0 THEN NULL ELSE ${levels}[1 + h(idx, 'l', 5)] END
      FROM ids JOIN triples t ON t.t = h(idx, 's', 220)`);
    await sql.exec(`INSERT INTO responses (run_id, idx, model_id, text, source, simulated)
      SELECT '${RUN_ID}', idx, 'bench-model', 'answer ' || idx, 'imported', true FROM ids`);
    await sql.exec(`INSERT INTO reviews (run_id, idx, status, judge_model, raw_text, error, attempts, simulated, judge_profile, judge_id)
      SELECT '${RUN_ID}', idx, CASE WHEN scored THEN 'scored' ELSE 'failed' END, 'bench-judge', 'feedback ' || idx,
             CASE WHEN scored THEN NULL ELSE 'no score dictionary found' END, 1, true, 'flask', '${JUDGE_ID}'
      FROM ids`);
    await sql.exec(`INSERT INTO review_scores (run_id, idx, skill, skill_key, score, judge_id)
      SELECT i.run_id, i.idx, u.skill, c.skill_key,
             CASE WHEN h(concat(i.idx, u.skill), 'na', 50) = 0 THEN NULL ELSE (1 + h(concat(i.idx, u.skill), 'v', 5))::DOUBLE END, '${JUDGE_ID}'
      FROM instances i JOIN ids USING (idx), unnest(i.skills) AS u(skill) JOIN skill_catalog c ON c.skill = u.skill
      WHERE i.run_id = '${RUN_ID}' AND ids.scored`);
  });
  const n = await db.read((sql) => sql.one<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM review_scores WHERE run_id = ?`, [RUN_ID]));
  await db.close();
  return { instances: scored + failed, scoreRows: Number(n?.n ?? 0) };
}

interface Timed { wallS: number; rssMiB: number; stdout: string }

/** Spawn as a user would (through /usr/bin/time for the peak RSS) and time spawn to exit. */
function timed(args: string[], env: NodeJS.ProcessEnv): Timed {
  const started = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, ...args], { env, cwd: PROJECT_ROOT, encoding: 'utf8', maxBuffer: 1 << 30 });
  const wallS = Number(process.hrtime.bigint() - started) / 1e9;
  const errLines = r.stderr.trimEnd().split('\n');
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}:\n${r.stderr.slice(-2000)}`);
  return { wallS, rssMiB: Number(errLines.at(-1)) / 1024, stdout: r.stdout };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

function series(name: string, args: string[], env: NodeJS.ProcessEnv, runs: number): Timed {
  const loadBefore = load();
  const all: Timed[] = [];
  for (let i = 0; i < runs; i++) all.push(timed(args, env));
  const walls = all.map((t) => t.wallS);
  log(`${name}: ${walls.map((w) => `${w.toFixed(3)} s`).join(', ')}; median ${median(walls)!.toFixed(3)} s; ` +
    `peak RSS ${Math.max(...all.map((t) => t.rssMiB)).toFixed(0)} MiB; load ${loadBefore} -> ${load()}`);
  return all[0]!;
}

// The floor: start node, open the file read-only, run the per-skill aggregate, print it.
const FLOOR = `
const { DuckDBInstance } = await import('@duckdb/node-api');
const db = await DuckDBInstance.create(process.env.FILE, { access_mode: 'READ_ONLY' });
const c = await db.connect();
const r = await c.runAndReadAll(\`SELECT s.skill_key, sum(s.score) AS score_sum, count(s.score) AS n, avg(s.score) AS avg, count(*) - count(s.score) AS na
  FROM review_scores s JOIN reviews v ON v.run_id = s.run_id AND v.idx = s.idx AND v.status = 'scored'
  JOIN instances i ON i.run_id = s.run_id AND i.idx = s.idx
  WHERE s.run_id = '${RUN_ID}' GROUP BY s.skill_key ORDER BY s.skill_key\`);
console.log(JSON.stringify(r.getRowObjectsJson()));
c.closeSync(); db.closeSync();`;

async function main(): Promise<void> {
  if (!distIsFresh()) {
    log('dist/ is older than the sources: npm run build');
    const b = spawnSync('npm', ['run', 'build'], { cwd: PROJECT_ROOT, stdio: 'inherit' });
    if (b.status !== 0 || !distIsFresh()) throw new Error('npm run build failed, or dist/ is still older than the sources');
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'flask-bench-report-1m-'));
  const file = path.join(dir, 'results.duckdb');
  try {
    const t0 = Date.now();
    const { instances, scoreRows } = await synthesise(file);
    log(`results file ${file}: ${instances.toLocaleString('en-US')} instances, ${scoreRows.toLocaleString('en-US')} review_scores rows, ` +
      `${(statSync(file).size / 2 ** 20).toFixed(1)} MiB, built in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    log(`node ${process.version}, ${(await import('node:os')).cpus().length} vCPU, load average ${load()}`);

    // No FLASK_DB and no state server: the CLI opens <FLASK_STATE_DIR>/results.duckdb read-only itself.
    const env: NodeJS.ProcessEnv = { ...process.env, FLASK_STATE_DIR: dir };
    delete env.FLASK_DB;
    delete env.FLASK_NO_BUILD;
    const fresh = timed(['-e', 'console.log(1)'], { ...env });
    log(`node -e start-up alone: ${fresh.wallS.toFixed(3)} s`);
    series('floor (node -e, @duckdb/node-api, per-skill aggregate)', ['--input-type=module', '-e', FLOOR], { ...env, FILE: file }, RUNS);
    const skill = series(`report ${RUN_ID} --by skill`, [BIN, 'report', RUN_ID, '--by', 'skill'], env, RUNS);
    log(skill.stdout.trimEnd());
    series(`report --by domain`, [BIN, 'report', RUN_ID, '--by', 'domain'], env, Math.min(RUNS, 3));
    series(`report --by difficulty`, [BIN, 'report', RUN_ID, '--by', 'difficulty'], env, Math.min(RUNS, 3));
    if (!v['skip-html']) {
      const out = path.join(dir, 'report.html');
      series(`report --format html (not a target)`, [BIN, 'report', RUN_ID, '--format', 'html', '--out', out], env, 1);
      log(`  ${out}: ${(statSync(out).size / 2 ** 20).toFixed(1)} MiB`);
    }
  } finally {
    if (v.keep) log(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

await main();
